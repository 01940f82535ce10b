//! Encoders: AVIF (libavif over libaom), lossy WebP (libwebp), and the JPEG or PNG fallback
//! (the `image` crate). Each takes 8-bit sRGB pixels and returns the file's bytes; all of
//! them are deterministic and single-threaded, because parallelism comes from encoding many
//! variants at once.

use image::ExtendedColorType;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};

use crate::model::{AvifChroma, ImageFormat, ImageSettings};

use super::avif::{self, Subsampling};
use super::resize::Pixels;
use super::rule;

/// Bumped whenever decoding, colour handling or resizing changes the pixels handed to the
/// encoders, so cached variants made the old way are not reused.
pub(crate) const PIPELINE_VERSION: &str = "pipeline-2 lanczos3-linear-light icc-to-srgb grey-icc";

/// The Rust crates whose code decides variant bytes (decoders, colour, resize, JPEG and PNG
/// encoders; libwebp and libaom report their own versions at run time). Part of every
/// variant's name: a new version may change bytes, and an immutable URL must never change
/// content. A test fails when Cargo.lock and this list disagree.
pub(crate) const PIXEL_CRATES: &str = "fast_image_resize 6.1.0, fdeflate 0.3.7, flate2 1.1.11, \
     image 0.25.10, image-webp 0.2.4, miniz_oxide 0.8.9, miniz_oxide 0.9.1, moxcms 0.8.1, \
     png 0.18.1, zune-jpeg 0.5.15";

/// The mozjpeg build the JPEG fallback is made with (the `mozjpeg-sys` crate bundles it); a
/// test keeps it equal to Cargo.lock.
const MOZJPEG_VERSION: &str = "mozjpeg-sys 2.2.3";

/// A file format dropgen writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum OutputFormat {
    Avif,
    Webp,
    Jpeg,
    Png,
}

impl OutputFormat {
    pub(crate) fn extension(self) -> &'static str {
        match self {
            OutputFormat::Avif => "avif",
            OutputFormat::Webp => "webp",
            OutputFormat::Jpeg => "jpg",
            OutputFormat::Png => "png",
        }
    }

    /// The fallback every browser reads: PNG keeps transparency, JPEG is smaller otherwise.
    pub(crate) fn fallback(opaque: bool) -> OutputFormat {
        if opaque { OutputFormat::Jpeg } else { OutputFormat::Png }
    }
}

/// One encoder with its settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Encoding {
    Avif {
        quality: u8,
        speed: u8,
        chroma: AvifChroma,
        /// The WebP quality of the same source's WebPs, when it has them: an AVIF no smaller
        /// than its width's WebP loses the source's whole AVIF set, so one that loses only by
        /// its size boost is encoded again without it ([`Encoding::encode`]). Its bytes then
        /// depend on the WebP's, and so does its name.
        rival_webp: Option<u8>,
    },
    Webp {
        quality: u8,
        method: u8,
    },
    /// JPEG at this quality, or lossless PNG for images with transparency.
    Fallback {
        jpeg_quality: u8,
    },
}

/// libwebp's `method`: 4 is its default and sharp's; higher is slower for a few percent.
const WEBP_METHOD: u8 = 4;

impl Encoding {
    pub(crate) fn avif(settings: &ImageSettings) -> Encoding {
        Encoding::Avif {
            quality: settings.quality.avif,
            speed: settings.avif_speed,
            chroma: settings.avif_chroma,
            rival_webp: settings.formats.contains(&ImageFormat::Webp).then_some(settings.quality.webp),
        }
    }

    pub(crate) fn webp(settings: &ImageSettings) -> Encoding {
        Encoding::Webp { quality: settings.quality.webp, method: WEBP_METHOD }
    }

    pub(crate) fn fallback(settings: &ImageSettings) -> Encoding {
        Encoding::Fallback { jpeg_quality: settings.quality.jpeg }
    }

    pub(crate) fn is_avif(&self) -> bool {
        matches!(self, Encoding::Avif { .. })
    }

    /// The format this encoding produces for an image that is (or is not) fully opaque.
    pub(crate) fn format(&self, opaque: bool) -> OutputFormat {
        match self {
            Encoding::Avif { .. } => OutputFormat::Avif,
            Encoding::Webp { .. } => OutputFormat::Webp,
            Encoding::Fallback { .. } => OutputFormat::fallback(opaque),
        }
    }

    /// Everything that decides the bytes besides the pixels: format, settings, encoder version.
    pub(crate) fn fingerprint(&self, format: OutputFormat) -> String {
        let settings = match (self, format) {
            (Encoding::Avif { quality, speed, chroma, rival_webp }, _) => {
                let encoder = avif::encoder();
                let rival = match rival_webp {
                    Some(webp_quality) => {
                        format!(
                            " unboosted-if-not-below webp q{webp_quality} m{WEBP_METHOD} {}",
                            webp_version()
                        )
                    }
                    None => String::new(),
                };
                format!(
                    "avif q{} alpha+{} s{speed} chroma {} {} {}-bit {} {}{rival}",
                    encoder.libaom_quality(*quality),
                    avif::ALPHA_BOOST,
                    chroma.name(),
                    rule::RULE,
                    avif::AVIF_DEPTH,
                    encoder.tuning.name(),
                    encoder.version
                )
            }
            (Encoding::Webp { quality, method }, _) => {
                format!("webp q{quality} m{method} {}", webp_version())
            }
            (Encoding::Fallback { jpeg_quality }, OutputFormat::Jpeg) => {
                format!("jpeg q{jpeg_quality} mozjpeg {MOZJPEG_VERSION}")
            }
            (Encoding::Fallback { .. }, _) => "png best adaptive".to_owned(),
        };
        format!("{settings} {PIPELINE_VERSION} {PIXEL_CRATES}")
    }

    /// Encodes `pixels` (8-bit sRGB, RGB or RGBA). `rival` is the size of the WebP of the same
    /// width, when one was made: an AVIF that is no smaller only because the rule raised the
    /// quality of its narrow width ([`rule::size_offset`]) is encoded again without that
    /// boost, so that the boost never costs a source its AVIFs. Other formats ignore it.
    pub(crate) fn encode(&self, pixels: &Pixels, rival: Option<usize>) -> Result<Vec<u8>, String> {
        match self {
            Encoding::Avif { quality, speed, chroma, rival_webp } => {
                let encoder = avif::encoder();
                let chroma = match chroma {
                    AvifChroma::Auto => rule::choose(pixels),
                    AvifChroma::Yuv420 => Subsampling::Yuv420,
                    AvifChroma::Yuv444 => Subsampling::Yuv444,
                };
                let speed = rule::speed(*speed, pixels);
                let encode_at = |quality| {
                    avif::encode(pixels, encoder.libaom_quality(quality), speed, chroma, encoder.tuning)
                };
                let boosted = rule::quality(*quality, pixels, encoder.tuning);
                let bytes = encode_at(boosted)?;
                // Only a lost AVIF pays for the second pass over its pixels (the content boost).
                let lost = rival.filter(|_| rival_webp.is_some()).is_some_and(|rival| bytes.len() >= rival);
                if !lost {
                    return Ok(bytes);
                }
                let unboosted = rule::quality_without_size_boost(*quality, pixels, encoder.tuning);
                if unboosted < boosted { encode_at(unboosted) } else { Ok(bytes) }
            }
            Encoding::Webp { quality, method } => encode_webp(pixels, *quality, *method),
            Encoding::Fallback { jpeg_quality } if pixels.opaque() => encode_jpeg(pixels, *jpeg_quality),
            Encoding::Fallback { .. } => encode_png(pixels),
        }
    }
}

fn encode_webp(pixels: &Pixels, quality: u8, method: u8) -> Result<Vec<u8>, String> {
    let encoder = if pixels.has_alpha() {
        webp::Encoder::from_rgba(&pixels.data, pixels.width, pixels.height)
    } else {
        webp::Encoder::from_rgb(&pixels.data, pixels.width, pixels.height)
    };
    let mut config =
        webp::WebPConfig::new().map_err(|()| "libwebp rejected its default settings".to_owned())?;
    config.quality = f32::from(quality);
    config.method = i32::from(method);
    let encoded = encoder.encode_advanced(&config).map_err(|err| format!("WebP encoding failed: {err:?}"))?;
    Ok(encoded.to_vec())
}

/// mozjpeg (libjpeg-turbo with trellis quantisation and progressive scans): about a tenth
/// smaller than a baseline encoder at the same quality, and decoded by every browser.
fn encode_jpeg(pixels: &Pixels, quality: u8) -> Result<Vec<u8>, String> {
    let rgb;
    let data = if pixels.has_alpha() {
        // An opaque image that came with an alpha channel: JPEG has no place for it.
        rgb = pixels.data.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect::<Vec<u8>>();
        rgb.as_slice()
    } else {
        pixels.data.as_slice()
    };
    // libjpeg reports errors by unwinding (mozjpeg's documented contract), so they are caught
    // here and become this variant's error.
    let encoded = std::panic::catch_unwind(|| -> std::io::Result<Vec<u8>> {
        let mut compress = mozjpeg::Compress::new(mozjpeg::ColorSpace::JCS_RGB);
        compress.set_size(pixels.width as usize, pixels.height as usize);
        compress.set_quality(f32::from(quality));
        let mut started = compress.start_compress(Vec::new())?;
        started.write_scanlines(data)?;
        started.finish()
    });
    match encoded {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(err)) => Err(format!("JPEG encoding failed: {err}")),
        Err(_) => Err("JPEG encoding failed inside libjpeg".to_owned()),
    }
}

fn encode_png(pixels: &Pixels) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let color = if pixels.has_alpha() { ExtendedColorType::Rgba8 } else { ExtendedColorType::Rgb8 };
    use image::ImageEncoder as _;
    PngEncoder::new_with_quality(&mut out, CompressionType::Best, FilterType::Adaptive)
        .write_image(&pixels.data, pixels.width, pixels.height, color)
        .map_err(|err| format!("PNG encoding failed: {err}"))?;
    Ok(out)
}

/// `libwebp 1.3.1`.
pub(crate) fn webp_version() -> String {
    // SAFETY: a plain query without arguments.
    let packed = unsafe { libwebp_sys::WebPGetEncoderVersion() };
    format!("libwebp {}.{}.{}", (packed >> 16) & 0xff, (packed >> 8) & 0xff, packed & 0xff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixel_crates_match_cargo_lock() {
        let locked = crate::locked_crates();
        assert!(locked.iter().any(|l| l == MOZJPEG_VERSION), "Cargo.lock has no {MOZJPEG_VERSION}");
        let listed: Vec<&str> = PIXEL_CRATES.split(", ").collect();
        for crate_version in &listed {
            assert!(
                locked.iter().any(|l| l == crate_version),
                "Cargo.lock has no {crate_version}: update PIXEL_CRATES"
            );
        }
        for name in [
            "fast_image_resize",
            "fdeflate",
            "flate2",
            "image",
            "image-webp",
            "miniz_oxide",
            "moxcms",
            "png",
            "zune-jpeg",
        ] {
            for entry in locked.iter().filter(|l| l.split(' ').next() == Some(name)) {
                assert!(listed.contains(&entry.as_str()), "Cargo.lock has {entry}: add it to PIXEL_CRATES");
            }
        }
    }

    fn gradient(width: u32, height: u32, alpha: Option<u8>) -> Pixels {
        let mut data = Vec::new();
        for y in 0..height {
            for x in 0..width {
                data.extend([(x * 255 / width) as u8, (y * 255 / height) as u8, 128]);
                if let Some(a) = alpha {
                    data.push(a);
                }
            }
        }
        Pixels::new(width, height, alpha.is_some(), data)
    }

    #[test]
    fn every_encoder_writes_its_format() {
        let settings = ImageSettings::default();
        let opaque = gradient(64, 48, None);
        let avif = Encoding::avif(&settings).encode(&opaque, None).unwrap();
        assert_eq!(&avif[4..12], b"ftypavif");
        // `pixi`: 4 bytes of version and flags, the channel count, then bits per channel.
        let pixi = avif.windows(4).position(|w| w == b"pixi").expect("AVIF without pixi") + 4;
        assert_eq!(&avif[pixi + 4..pixi + 8], [3, 10, 10, 10], "AVIF planes are not 10-bit");
        let webp = Encoding::webp(&settings).encode(&opaque, None).unwrap();
        assert_eq!((&webp[..4], &webp[8..12]), (&b"RIFF"[..], &b"WEBP"[..]));
        let jpeg = Encoding::fallback(&settings).encode(&opaque, None).unwrap();
        assert_eq!(image::guess_format(&jpeg).unwrap(), image::ImageFormat::Jpeg);
        let decoded = image::load_from_memory(&jpeg).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (64, 48));
    }

    #[test]
    fn transparency_survives_every_format() {
        let settings = ImageSettings::default();
        let translucent = gradient(32, 32, Some(100));
        let png = Encoding::fallback(&settings).encode(&translucent, None).unwrap();
        let decoded = image::load_from_memory(&png).unwrap().to_rgba8();
        assert_eq!(decoded.get_pixel(5, 5)[3], 100);
        let webp = Encoding::webp(&settings).encode(&translucent, None).unwrap();
        let decoded = image::load_from_memory(&webp).unwrap().to_rgba8();
        assert!(decoded.pixels().all(|p| p[3].abs_diff(100) <= 2), "WebP lost the alpha channel");
        let avif = Encoding::avif(&settings).encode(&translucent, None).unwrap();
        assert!(avif.windows(4).any(|w| w == b"auxC"), "AVIF has no alpha auxiliary image");
    }

    #[test]
    fn encoding_is_deterministic() {
        let settings = ImageSettings::default();
        let pixels = gradient(40, 30, None);
        for encoding in [Encoding::avif(&settings), Encoding::webp(&settings), Encoding::fallback(&settings)]
        {
            assert_eq!(encoding.encode(&pixels, None).unwrap(), encoding.encode(&pixels, None).unwrap());
        }
    }

    #[test]
    fn fingerprints_name_the_encoder_versions() {
        let settings = ImageSettings::default();
        assert!(Encoding::avif(&settings).fingerprint(OutputFormat::Avif).contains("aom"));
        assert!(Encoding::webp(&settings).fingerprint(OutputFormat::Webp).contains("libwebp 1."));
        let fallback = Encoding::fallback(&settings);
        assert_ne!(fallback.fingerprint(OutputFormat::Jpeg), fallback.fingerprint(OutputFormat::Png));
    }

    #[test]
    fn an_avif_that_loses_to_its_webp_by_its_size_boost_is_encoded_again_without_it() {
        let settings = ImageSettings::default();
        let narrow = gradient(240, 180, None);
        let avif = Encoding::avif(&settings);
        let boosted = avif.encode(&narrow, None).unwrap();
        let encoder = avif::encoder();
        let unboosted_quality =
            rule::quality_without_size_boost(settings.quality.avif, &narrow, encoder.tuning);
        let unboosted = avif::encode(
            &narrow,
            encoder.libaom_quality(unboosted_quality),
            rule::speed(settings.avif_speed, &narrow),
            rule::choose(&narrow),
            encoder.tuning,
        )
        .unwrap();
        assert_eq!(avif.encode(&narrow, Some(boosted.len())).unwrap(), unboosted, "no smaller than its WebP");
        assert_eq!(avif.encode(&narrow, Some(boosted.len() + 1)).unwrap(), boosted, "smaller: kept as it is");
        if encoder.tuning == avif::Tuning::ImageQuality {
            assert!(unboosted.len() < boosted.len(), "{} against {}", unboosted.len(), boosted.len());
        }
        // Without WebPs there is nothing to lose against, and the name says which WebP it was.
        let alone = Encoding::avif(&ImageSettings { formats: vec![ImageFormat::Avif], ..settings.clone() });
        assert_eq!(alone.encode(&narrow, Some(boosted.len())).unwrap(), boosted);
        let sharper_webp = ImageSettings {
            quality: crate::model::Quality { webp: 90, ..settings.quality },
            ..settings.clone()
        };
        let names = [&settings, &sharper_webp].map(|s| Encoding::avif(s).fingerprint(OutputFormat::Avif));
        assert_ne!(names[0], names[1]);
        assert_ne!(alone.fingerprint(OutputFormat::Avif), names[0]);
    }
}
