//! AVIF through libavif over libaom, and what the linked libaom can do.
//!
//! Two libaoms can be linked (chosen when dropgen is compiled, see `scripts/setup-libaom.sh`):
//! a system libaom ≥ 3.12, which has `tune=iq`, the all-intra tuning for still images that
//! sharp uses, or the libaom 3.11 that libaom-sys bundles, which has not. They are asked at
//! run time, once, and [`Tuning`] says which way AVIF is encoded. `images.quality.avif` means
//! the same visual quality under both: libaom's quality with `tune=iq`, translated for 3.11.

use std::ffi::CStr;
use std::sync::OnceLock;

use libavif_sys as avif;

use super::resize::Pixels;

/// Bits per sample of the AVIF's YUV planes. 10 bits for 8-bit sources: the RGB → YUV
/// conversion loses less, and bench/images.sh measured 4–6 % lower DSSIM at equal bytes and
/// speed on both corpora. Every AVIF decoder reads it (the AV1 Main profile).
pub(crate) const AVIF_DEPTH: u32 = 10;

/// How the AVIF stores colour: at a quarter of the resolution of brightness, or at full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Subsampling {
    Yuv420,
    Yuv444,
}

/// How libaom is tuned, which follows from the linked version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tuning {
    /// libaom ≥ 3.12: `tune=iq`, perceptual tuning for images (quantisation matrices and
    /// delta-q included).
    ImageQuality,
    /// Older libaom: libavif's default `tune=ssim`, plus quantisation matrices (about 5 %
    /// fewer bytes at equal DSSIM) and all-intra perceptual delta-q (2–4 % more).
    Ssim,
}

impl Tuning {
    fn options(self) -> &'static [(&'static CStr, &'static CStr)] {
        match self {
            Tuning::ImageQuality => &[(c"tune", c"iq")],
            Tuning::Ssim => &[(c"enable-qm", c"1"), (c"deltaq-mode", c"3")],
        }
    }

    /// For names and cache keys: the options that change the bytes.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Tuning::ImageQuality => "tune=iq",
            Tuning::Ssim => "tune=ssim qm dq3",
        }
    }

    /// libaom's quality for `images.quality.avif`, which is on the `tune=iq` scale. Without
    /// it, the same quality number gives visibly worse images (`tune=ssim` spends fewer
    /// bytes per step), so it is raised by [`SSIM_QUALITY_OFFSET`]: the smallest offset
    /// measured to leave no variant visibly worse than sharp's on either corpus.
    pub(crate) fn libaom_quality(self, quality: u8) -> u8 {
        match self {
            Tuning::ImageQuality => quality,
            Tuning::Ssim => quality.saturating_add(SSIM_QUALITY_OFFSET).min(100),
        }
    }
}

/// How much higher libaom's quality is set under `tune=ssim` for at least the visual quality
/// that `tune=iq` gives at the default: libaom quality 60 under 3.11 was measured to leave no
/// variant visibly worse than sharp's on `dev` or `dev2` (0.99× and 0.87× its DSSIM), and 59
/// (the default 42 + 17) left two of `dev`'s darkest wallpaper visibly worse. +13 left five
/// `dev2` variants visibly worse (docs/benchmarks.md). The bytes it costs are what the setup
/// step saves.
const SSIM_QUALITY_OFFSET: u8 = 18;

/// The linked libavif and libaom.
#[derive(Debug)]
pub(crate) struct Encoder {
    /// `libavif 1.0.4 aom [enc/dec]:v3.12.1`, as the libraries report it.
    pub(crate) version: String,
    pub(crate) tuning: Tuning,
}

impl Encoder {
    /// The libaom version alone, `3.12.1`, if it could be read.
    pub(crate) fn libaom_version(&self) -> Option<&str> {
        let after = self.version.split("aom").nth(1)?;
        let start = after.find('v')? + 1;
        let version = after[start..].split([' ', ',']).next()?;
        (!version.is_empty()).then_some(version)
    }
}

impl Encoder {
    /// One line for the build summary: which libaom, and whether AVIF is tuned for images.
    pub(crate) fn describe(&self) -> String {
        let libaom = self.libaom_version().map_or_else(|| self.version.clone(), |v| format!("libaom {v}"));
        match self.tuning {
            Tuning::ImageQuality => format!("{libaom}, tuned for images (tune=iq)"),
            Tuning::Ssim => format!(
                "{libaom}, not tuned for images (tune=iq needs libaom 3.12 or newer: \
                 scripts/setup-libaom.sh sets it up, for about 15 % smaller AVIFs)"
            ),
        }
    }
}

/// The subsampling an AVIF file was encoded with, read from its `av1C` box.
pub(crate) fn subsampling_of(file: &[u8]) -> Option<Subsampling> {
    let at = file.windows(4).position(|window| window == b"av1C")?;
    // av1C: marker and version, profile and level, then tier, bit depth, monochrome,
    // subsampling x and y.
    let flags = *file.get(at + 4 + 2)?;
    let (x, y) = (flags & 0b1000 != 0, flags & 0b0100 != 0);
    match (x, y) {
        (true, true) => Some(Subsampling::Yuv420),
        (false, false) => Some(Subsampling::Yuv444),
        _ => None,
    }
}

/// The linked encoder, asked once: its version, and whether it takes `tune=iq` (tried on a
/// tiny image, so a libaom built without it is never trusted on its version number alone).
pub(crate) fn encoder() -> &'static Encoder {
    static ENCODER: OnceLock<Encoder> = OnceLock::new();
    ENCODER.get_or_init(|| {
        let probe = Pixels::new(16, 16, false, vec![128; 16 * 16 * 3]);
        let tuning = match encode(&probe, 50, 9, Subsampling::Yuv444, Tuning::ImageQuality) {
            Ok(_) => Tuning::ImageQuality,
            Err(_) => Tuning::Ssim,
        };
        Encoder { version: version(), tuning }
    })
}

/// The quality transparency is encoded at, for colour at `quality`: [`ALPHA_BOOST`] higher,
/// short of lossless (which would need the alpha plane encoded without `tune`), unless the
/// colour itself is lossless.
fn alpha_quality(quality: u8) -> u8 {
    if quality >= 100 { 100 } else { quality.saturating_add(ALPHA_BOOST).min(99) }
}

/// How much higher than colour the alpha plane's quality is. An error in alpha shows wherever
/// the image meets the page, as a halo or a ragged edge, so it costs more than the same error
/// in colour: on `dev`'s nine transparent wallpapers, alpha at the colour's quality left a
/// mostly transparent one at 3.5× sharp's DSSIM (visibly worse at 400 px); +4 gave 2.4× and
/// none visibly worse; +8 gave 2.1× for 10 % more bytes on those nine (`dev` as a whole
/// stayed at 0.8× sharp's bytes).
pub(crate) const ALPHA_BOOST: u8 = 8;

/// Encodes 8-bit sRGB `pixels` at libaom quality `quality` (0–100) and `speed` (0–10).
pub(crate) fn encode(
    pixels: &Pixels,
    quality: u8,
    speed: u8,
    chroma: Subsampling,
    tuning: Tuning,
) -> Result<Vec<u8>, String> {
    let yuv_format = match chroma {
        Subsampling::Yuv420 => avif::AVIF_PIXEL_FORMAT_YUV420,
        Subsampling::Yuv444 => avif::AVIF_PIXEL_FORMAT_YUV444,
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
        (*encoder.ptr).qualityAlpha = i32::from(alpha_quality(quality));
        // Lossless has nothing to tune, and libaom refuses `tune=iq` for it.
        let options = if quality >= 100 { &[][..] } else { tuning.options() };
        for (key, value) in options {
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

fn check(result: avif::avifResult, doing: &str) -> Result<(), String> {
    if result == avif::AVIF_RESULT_OK { Ok(()) } else { Err(avif_error(result, doing)) }
}

fn avif_error(result: avif::avifResult, doing: &str) -> String {
    // SAFETY: avifResultToString returns a static, NUL-terminated string for any value.
    let message = unsafe { CStr::from_ptr(avif::avifResultToString(result)) };
    format!("AVIF encoding failed while {doing}: {}", message.to_string_lossy())
}

fn version() -> String {
    let mut codecs = [0 as std::ffi::c_char; 256];
    // SAFETY: avifVersion returns a static string; avifCodecVersions writes at most 256
    // bytes including the NUL, as its header documents.
    unsafe {
        avif::avifCodecVersions(codecs.as_mut_ptr());
        let library = CStr::from_ptr(avif::avifVersion()).to_string_lossy();
        let codecs = CStr::from_ptr(codecs.as_ptr()).to_string_lossy();
        format!("libavif {library} {codecs}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_linked_libaom_is_tuned_for_images_exactly_when_it_is_3_12_or_newer() {
        let encoder = encoder();
        let version = encoder.libaom_version().expect("no libaom version in the report");
        let mut parts = version.split('.').map(|part| part.parse::<u32>().unwrap_or(0));
        let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
        let new_enough = (major, minor) >= (3, 12);
        assert_eq!(encoder.tuning == Tuning::ImageQuality, new_enough, "{}", encoder.version);
    }

    #[test]
    fn quality_keeps_its_meaning_without_tune_iq() {
        assert_eq!(Tuning::ImageQuality.libaom_quality(50), 50);
        assert_eq!(Tuning::Ssim.libaom_quality(50), 50 + SSIM_QUALITY_OFFSET);
        assert_eq!(Tuning::Ssim.libaom_quality(100), 100);
    }

    #[test]
    fn versions_are_read_from_libavifs_report() {
        let encoder = |version: &str| Encoder { version: version.to_owned(), tuning: Tuning::Ssim };
        assert_eq!(encoder("libavif 1.0.4 aom [enc/dec]:v3.12.1").libaom_version(), Some("3.12.1"));
        assert_eq!(encoder("libavif 1.0.4 aom [enc/dec]:v3.11.0, dav1d").libaom_version(), Some("3.11.0"));
        assert_eq!(encoder("libavif 1.0.4").libaom_version(), None);
    }

    #[test]
    fn both_tunings_encode_and_the_subsampling_is_read_back() {
        let pixels = Pixels::new(8, 8, false, (0..8 * 8 * 3).map(|i| (i * 7 % 256) as u8).collect());
        for tuning in [encoder().tuning, Tuning::Ssim] {
            for chroma in [Subsampling::Yuv420, Subsampling::Yuv444] {
                let avif = encode(&pixels, 50, 9, chroma, tuning).unwrap();
                assert_eq!(&avif[4..12], b"ftypavif");
                assert_eq!(subsampling_of(&avif), Some(chroma));
            }
        }
        assert_eq!(subsampling_of(b"not an avif"), None);
    }

    #[test]
    fn lossless_and_transparent_images_encode_under_both_tunings() {
        let opaque = Pixels::new(8, 8, false, (0..8 * 8 * 3).map(|i| (i * 7 % 256) as u8).collect());
        let transparent = Pixels::new(8, 8, true, (0..8 * 8 * 4).map(|i| (i * 5 % 256) as u8).collect());
        for tuning in [encoder().tuning, Tuning::Ssim] {
            for quality in [0, 43, 99, 100] {
                for pixels in [&opaque, &transparent] {
                    let avif = encode(pixels, quality, 9, Subsampling::Yuv444, tuning)
                        .unwrap_or_else(|err| panic!("{tuning:?} q{quality}: {err}"));
                    assert_eq!(&avif[4..12], b"ftypavif");
                }
            }
        }
    }

    #[test]
    fn transparency_gets_more_quality_than_colour_short_of_lossless() {
        assert_eq!(alpha_quality(43), 43 + ALPHA_BOOST);
        assert_eq!(alpha_quality(95), 99);
        assert_eq!(alpha_quality(100), 100);
    }

    #[test]
    fn the_summary_says_whether_avif_is_tuned_for_images() {
        let encoder = |tuning| Encoder { version: "libavif 1.0.4 aom [enc/dec]:v3.12.1".to_owned(), tuning };
        assert_eq!(encoder(Tuning::ImageQuality).describe(), "libaom 3.12.1, tuned for images (tune=iq)");
        assert!(encoder(Tuning::Ssim).describe().contains("not tuned for images"));
    }
}
