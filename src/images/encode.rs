//! Encoders: AVIF (libavif over libaom), lossy WebP (libwebp), and the JPEG or PNG fallback
//! (the `image` crate). Each takes 8-bit sRGB pixels and returns the file's bytes; all of
//! them are deterministic and single-threaded, because parallelism comes from encoding many
//! variants at once.

use std::ffi::CStr;
use std::sync::OnceLock;

use image::ExtendedColorType;
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use libavif_sys as avif;

use crate::model::{AvifChroma, ImageSettings};

use super::resize::Pixels;

/// Bumped whenever decoding, colour handling or resizing changes the pixels handed to the
/// encoders, so cached variants made the old way are not reused.
pub(crate) const PIPELINE_VERSION: &str = "pipeline-1 lanczos3-linear-light icc-to-srgb";

/// The Rust crates whose code decides variant bytes (decoders, colour, resize, JPEG and PNG
/// encoders; libwebp and libaom report their own versions at run time). Part of every
/// variant's name: a new version may change bytes, and an immutable URL must never change
/// content. A test fails when Cargo.lock and this list disagree.
pub(crate) const PIXEL_CRATES: &str = "fast_image_resize 6.1.0, fdeflate 0.3.7, flate2 1.1.11, \
     image 0.25.10, image-webp 0.2.4, miniz_oxide 0.8.9, miniz_oxide 0.9.1, moxcms 0.8.1, \
     png 0.18.1, zune-jpeg 0.5.15";

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
        }
    }

    pub(crate) fn webp(settings: &ImageSettings) -> Encoding {
        Encoding::Webp { quality: settings.quality.webp, method: WEBP_METHOD }
    }

    pub(crate) fn fallback(settings: &ImageSettings) -> Encoding {
        Encoding::Fallback { jpeg_quality: settings.quality.jpeg }
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
            (Encoding::Avif { quality, speed, chroma }, _) => {
                format!(
                    "avif q{quality} s{speed} {} {AVIF_DEPTH}-bit qm dq3 {}",
                    chroma.name(),
                    avif_version()
                )
            }
            (Encoding::Webp { quality, method }, _) => {
                format!("webp q{quality} m{method} {}", webp_version())
            }
            (Encoding::Fallback { jpeg_quality }, OutputFormat::Jpeg) => format!("jpeg q{jpeg_quality}"),
            (Encoding::Fallback { .. }, _) => "png best adaptive".to_owned(),
        };
        format!("{settings} {PIPELINE_VERSION} {PIXEL_CRATES}")
    }

    /// Encodes `pixels` (8-bit sRGB, RGB or RGBA).
    pub(crate) fn encode(&self, pixels: &Pixels) -> Result<Vec<u8>, String> {
        match self {
            Encoding::Avif { quality, speed, chroma } => encode_avif(pixels, *quality, *speed, *chroma),
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

fn encode_jpeg(pixels: &Pixels, quality: u8) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let color = if pixels.has_alpha() { ExtendedColorType::Rgba8 } else { ExtendedColorType::Rgb8 };
    let rgb;
    let (data, color) = if pixels.has_alpha() {
        // An opaque image that came with an alpha channel: JPEG has no place for it.
        rgb = pixels.data.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect::<Vec<u8>>();
        (rgb.as_slice(), ExtendedColorType::Rgb8)
    } else {
        (pixels.data.as_slice(), color)
    };
    JpegEncoder::new_with_quality(&mut out, quality)
        .encode(data, pixels.width, pixels.height, color)
        .map_err(|err| format!("JPEG encoding failed: {err}"))?;
    Ok(out)
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

/// Owns a libavif object and frees it however the encode ends.
struct Owned<T> {
    ptr: *mut T,
    free: unsafe extern "C" fn(*mut T),
}

impl<T> Drop for Owned<T> {
    fn drop(&mut self) {
        if !self.ptr.is_null() {
            // SAFETY: `ptr` came from the matching libavif constructor and is freed once.
            unsafe { (self.free)(self.ptr) }
        }
    }
}

/// libaom options beyond libavif's defaults, chosen by bench/images.sh on two corpora: quantisation
/// matrices save about 5 % of bytes at equal DSSIM; all-intra perceptual delta-q (mode 3) saves
/// another 2–4 % at speed 6. Both change the output, so they are part of the variants' names.
const AVIF_CODEC_OPTIONS: [(&std::ffi::CStr, &std::ffi::CStr); 2] =
    [(c"enable-qm", c"1"), (c"deltaq-mode", c"3")];

/// Bits per sample of the AVIF's YUV planes. 10 bits for 8-bit sources: the RGB → YUV
/// conversion loses less, and bench/images.sh measured 4–6 % lower DSSIM at equal bytes and
/// speed on both corpora. Every AVIF decoder reads it (the AV1 Main profile).
const AVIF_DEPTH: u32 = 10;

fn encode_avif(pixels: &Pixels, quality: u8, speed: u8, chroma: AvifChroma) -> Result<Vec<u8>, String> {
    let yuv_format = match chroma {
        AvifChroma::Yuv420 => avif::AVIF_PIXEL_FORMAT_YUV420,
        AvifChroma::Yuv444 => avif::AVIF_PIXEL_FORMAT_YUV444,
    };
    let expected = pixels.width as usize * pixels.height as usize * pixels.channels();
    if pixels.data.len() != expected || pixels.width == 0 || pixels.height == 0 {
        return Err("AVIF encoding failed: the pixel buffer does not match its size".to_owned());
    }
    // SAFETY: every pointer handed to libavif is either created by libavif (and freed by
    // `Owned`) or borrows `pixels.data`, whose length was checked against width × height ×
    // channels above and which outlives the calls; libavif does not keep it afterwards.
    unsafe {
        let image = Owned {
            ptr: avif::avifImageCreate(pixels.width, pixels.height, AVIF_DEPTH, yuv_format),
            free: avif::avifImageDestroy,
        };
        if image.ptr.is_null() {
            return Err("AVIF encoding failed: out of memory".to_owned());
        }
        (*image.ptr).yuvRange = avif::AVIF_RANGE_FULL;
        (*image.ptr).colorPrimaries = avif::AVIF_COLOR_PRIMARIES_BT709 as _;
        (*image.ptr).transferCharacteristics = avif::AVIF_TRANSFER_CHARACTERISTICS_SRGB as _;
        (*image.ptr).matrixCoefficients = avif::AVIF_MATRIX_COEFFICIENTS_BT601 as _;

        let mut rgb = avif::avifRGBImage::default();
        avif::avifRGBImageSetDefaults(&mut rgb, image.ptr);
        rgb.depth = 8;
        rgb.format = if pixels.has_alpha() { avif::AVIF_RGB_FORMAT_RGBA } else { avif::AVIF_RGB_FORMAT_RGB };
        rgb.ignoreAlpha = i32::from(pixels.opaque());
        rgb.pixels = pixels.data.as_ptr().cast_mut();
        rgb.rowBytes = pixels.width * pixels.channels() as u32;
        check(avif::avifImageRGBToYUV(image.ptr, &rgb), "converting to YUV")?;

        let encoder = Owned { ptr: avif::avifEncoderCreate(), free: avif::avifEncoderDestroy };
        if encoder.ptr.is_null() {
            return Err("AVIF encoding failed: out of memory".to_owned());
        }
        (*encoder.ptr).codecChoice = avif::AVIF_CODEC_CHOICE_AOM;
        (*encoder.ptr).maxThreads = 1;
        (*encoder.ptr).speed = i32::from(speed);
        (*encoder.ptr).quality = i32::from(quality);
        (*encoder.ptr).qualityAlpha = i32::from(quality);
        for (key, value) in AVIF_CODEC_OPTIONS {
            check(
                avif::avifEncoderSetCodecSpecificOption(encoder.ptr, key.as_ptr(), value.as_ptr()),
                "setting an encoder option",
            )?;
        }

        let mut output = avif::avifRWData::default();
        let result = avif::avifEncoderWrite(encoder.ptr, image.ptr, &mut output);
        let bytes = if result == avif::AVIF_RESULT_OK && !output.data.is_null() {
            Ok(std::slice::from_raw_parts(output.data, output.size).to_vec())
        } else {
            Err(result)
        };
        avif::avifRWDataFree(&mut output);
        bytes.map_err(|result| avif_error(result, "encoding"))
    }
}

fn check(result: avif::avifResult, doing: &str) -> Result<(), String> {
    if result == avif::AVIF_RESULT_OK { Ok(()) } else { Err(avif_error(result, doing)) }
}

fn avif_error(result: avif::avifResult, doing: &str) -> String {
    // SAFETY: avifResultToString returns a static, NUL-terminated string for any value.
    let message = unsafe { CStr::from_ptr(avif::avifResultToString(result)) };
    format!("AVIF encoding failed while {doing}: {}", message.to_string_lossy())
}

/// `libavif 1.0.4 aom:v3.11.0`, asked of the linked libraries once.
pub(crate) fn avif_version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        let mut codecs = [0 as std::ffi::c_char; 256];
        // SAFETY: avifVersion returns a static string; avifCodecVersions writes at most 256
        // bytes including the NUL, as its header documents.
        unsafe {
            avif::avifCodecVersions(codecs.as_mut_ptr());
            let library = CStr::from_ptr(avif::avifVersion()).to_string_lossy();
            let codecs = CStr::from_ptr(codecs.as_ptr()).to_string_lossy();
            format!("libavif {library} {codecs}")
        }
    })
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
        let lock = include_str!("../../Cargo.lock");
        let locked: Vec<String> = lock
            .split("[[package]]")
            .filter_map(|package| {
                let field = |key: &str| {
                    package
                        .lines()
                        .find_map(|line| line.strip_prefix(key)?.strip_prefix(" = \"")?.strip_suffix('"'))
                };
                Some(format!("{} {}", field("name")?, field("version")?))
            })
            .collect();
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
        let avif = Encoding::avif(&settings).encode(&opaque).unwrap();
        assert_eq!(&avif[4..12], b"ftypavif");
        // `pixi`: 4 bytes of version and flags, the channel count, then bits per channel.
        let pixi = avif.windows(4).position(|w| w == b"pixi").expect("AVIF without pixi") + 4;
        assert_eq!(&avif[pixi + 4..pixi + 8], [3, 10, 10, 10], "AVIF planes are not 10-bit");
        let webp = Encoding::webp(&settings).encode(&opaque).unwrap();
        assert_eq!((&webp[..4], &webp[8..12]), (&b"RIFF"[..], &b"WEBP"[..]));
        let jpeg = Encoding::fallback(&settings).encode(&opaque).unwrap();
        assert_eq!(image::guess_format(&jpeg).unwrap(), image::ImageFormat::Jpeg);
        let decoded = image::load_from_memory(&jpeg).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (64, 48));
    }

    #[test]
    fn transparency_survives_every_format() {
        let settings = ImageSettings::default();
        let translucent = gradient(32, 32, Some(100));
        let png = Encoding::fallback(&settings).encode(&translucent).unwrap();
        let decoded = image::load_from_memory(&png).unwrap().to_rgba8();
        assert_eq!(decoded.get_pixel(5, 5)[3], 100);
        let webp = Encoding::webp(&settings).encode(&translucent).unwrap();
        let decoded = image::load_from_memory(&webp).unwrap().to_rgba8();
        assert!(decoded.pixels().all(|p| p[3].abs_diff(100) <= 2), "WebP lost the alpha channel");
        let avif = Encoding::avif(&settings).encode(&translucent).unwrap();
        assert!(avif.windows(4).any(|w| w == b"auxC"), "AVIF has no alpha auxiliary image");
    }

    #[test]
    fn encoding_is_deterministic() {
        let settings = ImageSettings::default();
        let pixels = gradient(40, 30, None);
        for encoding in [Encoding::avif(&settings), Encoding::webp(&settings), Encoding::fallback(&settings)]
        {
            assert_eq!(encoding.encode(&pixels).unwrap(), encoding.encode(&pixels).unwrap());
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
}
