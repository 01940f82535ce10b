//! AVIF through libavif over libaom, and what the linked libaom can do.
//!
//! Three kinds of libaom can be linked (chosen when dropgen is compiled, see
//! `scripts/setup-libaom.sh`): a system libaom ≥ 3.14, which the defaults are calibrated on; a
//! system libaom 3.12 or 3.13, which has `tune=iq` (the all-intra tuning for still images that
//! sharp uses) in its first form; or the libaom 3.11 that libaom-sys bundles, which has no
//! `tune=iq` at all. They are asked at run time, once. `images.quality.avif` means the same
//! visual quality under all three: it is libaom 3.14's quality with `tune=iq`, and
//! [`Encoder::libaom_quality`] translates it for the others.

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
}

/// How much higher libaom's quality is set under libaom 3.12 and 3.13, for at least the
/// visual quality libaom ≥ 3.14 gives at the same `images.quality.avif`: their `tune=iq`
/// spends fewer bytes per quality step. On `dev2`, 3.14 at the default 41 gave 0.97× sharp's
/// DSSIM; 3.12 at 44 gave 0.93× (and 1.08× at 42, so 43 would fall just short).
const IQ_3_12_QUALITY_OFFSET: u8 = 3;

/// The same under `tune=ssim` (libaom 3.11 and older), which spends fewer bytes per step still:
/// libaom quality 60 at the default, where it was measured to leave no variant visibly worse
/// than sharp's on `dev` or `dev2` (0.98× and 0.86× its DSSIM); 59 left two of `dev`'s darkest
/// wallpaper visibly worse (docs/benchmarks.md). The bytes it costs are what the setup step
/// saves.
const SSIM_QUALITY_OFFSET: u8 = 19;

/// The linked libavif and libaom.
#[derive(Debug)]
pub(crate) struct Encoder {
    /// `libavif 1.0.4 aom [enc/dec]:v3.14.1`, as the libraries report it.
    pub(crate) version: String,
    pub(crate) tuning: Tuning,
    /// No AVIF this encoder writes is smaller: the bytes of its container around the AV1
    /// data, measured on a 16 × 16 image. The boxes have fixed-size fields, so other images
    /// do not have smaller containers (a test checks sizes from 1 × 1 to 640 × 480). A WebP of
    /// at most this many bytes cannot be beaten by an AVIF, so that AVIF need not be encoded.
    pub(crate) smallest_file: usize,
}

impl Encoder {
    /// The libaom version alone, `3.14.1`, if it could be read.
    pub(crate) fn libaom_version(&self) -> Option<&str> {
        let after = self.version.split("aom").nth(1)?;
        let start = after.find('v')? + 1;
        let version = after[start..].split([' ', ',']).next()?;
        (!version.is_empty()).then_some(version)
    }

    /// The linked libaom's major and minor version, if it could be read.
    fn major_minor(&self) -> Option<(u32, u32)> {
        let mut parts = self.libaom_version()?.split('.').map(|part| part.parse::<u32>().ok());
        Some((parts.next()??, parts.next()??))
    }

    /// How much higher than `images.quality.avif` libaom's own quality is set with this
    /// libaom, so that the setting means the same visual quality under every one.
    pub(crate) fn quality_offset(&self) -> u8 {
        match self.tuning {
            Tuning::Ssim => SSIM_QUALITY_OFFSET,
            // A version that cannot be read is taken as the older scale: more bytes, never
            // less quality.
            Tuning::ImageQuality if self.major_minor().is_some_and(|version| version >= (3, 14)) => 0,
            Tuning::ImageQuality => IQ_3_12_QUALITY_OFFSET,
        }
    }

    /// libaom's quality for `images.quality.avif` (after the rule's boosts). Lossless (100)
    /// stays lossless.
    pub(crate) fn libaom_quality(&self, quality: u8) -> u8 {
        if quality >= 100 { 100 } else { quality.saturating_add(self.quality_offset()).min(100) }
    }

    /// One line for the build summary: which libaom, and whether AVIF is tuned for images.
    pub(crate) fn describe(&self) -> String {
        let libaom = self.libaom_version().map_or_else(|| self.version.clone(), |v| format!("libaom {v}"));
        match self.tuning {
            Tuning::ImageQuality if self.quality_offset() == 0 => {
                format!("{libaom}, tuned for images (tune=iq)")
            }
            Tuning::ImageQuality => format!(
                "{libaom}, tuned for images (tune=iq); libaom 3.14, which the defaults are calibrated \
                 on, encodes about 15 % faster: scripts/setup-libaom.sh sets it up where it can"
            ),
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
        let smallest_file = [Subsampling::Yuv444, Subsampling::Yuv420]
            .into_iter()
            .filter_map(|chroma| encode(&probe, 50, 9, chroma, tuning).ok())
            .filter_map(|file| container_bytes(&file))
            .min()
            .unwrap_or(0);
        Encoder { version: version(), tuning, smallest_file }
    })
}

/// The bytes of an AVIF file outside its AV1 data: every top-level box but the payload of
/// `mdat`. `None` if the file is not a sequence of whole boxes with one `mdat`.
fn container_bytes(file: &[u8]) -> Option<usize> {
    let (mut at, mut payload) = (0, None);
    while at < file.len() {
        let size = u32::from_be_bytes(file.get(at..at + 4)?.try_into().ok()?) as usize;
        let kind = file.get(at + 4..at + 8)?;
        // Sizes 0 (to the end) and 1 (64-bit) are legal but not what libavif writes here.
        if size < 8 || at + size > file.len() {
            return None;
        }
        if kind == b"mdat" {
            payload = Some(size - 8);
        }
        at += size;
    }
    Some(file.len() - payload?)
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
    fn quality_keeps_its_meaning_under_every_libaom() {
        let encoder =
            |version: &str, tuning| Encoder { version: version.to_owned(), tuning, smallest_file: 0 };
        let newest = encoder("libavif 1.0.4 aom [enc/dec]:v3.14.1", Tuning::ImageQuality);
        let later = encoder("libavif 1.0.4 aom [enc/dec]:v4.0.0", Tuning::ImageQuality);
        let first_iq = encoder("libavif 1.0.4 aom [enc/dec]:v3.12.1", Tuning::ImageQuality);
        let unreadable = encoder("libavif 1.0.4", Tuning::ImageQuality);
        let bundled = encoder("libavif 1.0.4 aom [enc/dec]:v3.11.0", Tuning::Ssim);
        assert_eq!(newest.libaom_quality(50), 50);
        assert_eq!(later.libaom_quality(50), 50);
        assert_eq!(first_iq.libaom_quality(50), 50 + IQ_3_12_QUALITY_OFFSET);
        assert_eq!(unreadable.libaom_quality(50), 50 + IQ_3_12_QUALITY_OFFSET);
        assert_eq!(bundled.libaom_quality(50), 50 + SSIM_QUALITY_OFFSET);
        for encoder in [&newest, &first_iq, &bundled] {
            assert_eq!(encoder.libaom_quality(100), 100, "lossless stays lossless");
            assert!((0..100).all(|q| encoder.libaom_quality(q) <= encoder.libaom_quality(q + 1)));
        }
    }

    #[test]
    fn versions_are_read_from_libavifs_report() {
        let encoder =
            |version: &str| Encoder { version: version.to_owned(), tuning: Tuning::Ssim, smallest_file: 0 };
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
    fn no_avif_is_smaller_than_the_smallest_container() {
        let smallest = encoder().smallest_file;
        // ftyp, meta (item, location, properties) and the mdat header: a few hundred bytes.
        assert!((200..600).contains(&smallest), "{smallest}");
        let flat = |width, height, channels| {
            Pixels::new(width, height, channels == 4, vec![200; (width * height) as usize * channels])
        };
        for pixels in [flat(1, 1, 3), flat(2, 2, 3), flat(16, 16, 4), flat(97, 13, 3), flat(640, 480, 3)] {
            for chroma in [Subsampling::Yuv420, Subsampling::Yuv444] {
                for quality in [0, 42, 100] {
                    let file = encode(&pixels, quality, 9, chroma, encoder().tuning).unwrap();
                    assert!(
                        file.len() >= smallest,
                        "{}x{} {chroma:?} q{quality}: {}",
                        pixels.width,
                        pixels.height,
                        file.len()
                    );
                    assert!(container_bytes(&file).unwrap() >= smallest);
                }
            }
        }
        assert_eq!(container_bytes(b"not boxes"), None);
        assert_eq!(container_bytes(&[0, 0, 0, 8, b'f', b't', b'y', b'p']), None, "no mdat");
    }

    #[test]
    fn transparency_gets_more_quality_than_colour_short_of_lossless() {
        assert_eq!(alpha_quality(43), 43 + ALPHA_BOOST);
        assert_eq!(alpha_quality(95), 99);
        assert_eq!(alpha_quality(100), 100);
    }

    #[test]
    fn the_summary_says_whether_avif_is_tuned_for_images() {
        let encoder =
            |version: &str, tuning| Encoder { version: version.to_owned(), tuning, smallest_file: 0 };
        let newest = encoder("libavif 1.0.4 aom [enc/dec]:v3.14.1", Tuning::ImageQuality);
        assert_eq!(newest.describe(), "libaom 3.14.1, tuned for images (tune=iq)");
        let first_iq = encoder("libavif 1.0.4 aom [enc/dec]:v3.12.1", Tuning::ImageQuality);
        assert!(first_iq.describe().starts_with("libaom 3.12.1, tuned for images (tune=iq); libaom 3.14"));
        let bundled = encoder("libavif 1.0.4 aom [enc/dec]:v3.11.0", Tuning::Ssim);
        assert!(bundled.describe().contains("not tuned for images"));
    }
}
