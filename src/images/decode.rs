//! From a source file's bytes to pixels every variant is resized from: decoded once, turned
//! upright by its EXIF orientation, converted from its ICC profile to sRGB, and stored in
//! linear light (16 bits per channel) so downscaling averages light, not gamma-encoded
//! numbers. The placeholder colour comes from the same pixels.
//!
//! Decoders fill in what a file cut short lacks (the JPEG decoder pads the missing rows with
//! grey), so the file's structure is checked first: a JPEG must reach its end-of-image marker,
//! a PNG its `IEND` chunk, a WebP the length its header gives. CMYK JPEGs (print files) are
//! refused rather than guessed at. A colour profile that cannot be used leaves the pixels as
//! sRGB, as browsers show them, and says so in [`Analysis::colour_warning`].

use std::io::Cursor;
use std::sync::OnceLock;

use fast_image_resize::images::Image;
use fast_image_resize::{PixelComponentMapper, PixelType, create_srgb_mapper};
use image::{DynamicImage, ImageDecoder, ImageReader, Limits};
use moxcms::{ColorProfile, DataColorSpace, Layout, TransformOptions};
use serde::{Deserialize, Serialize};

/// A decoded source in linear light.
pub(crate) struct Decoded {
    /// `U16x3`, or `U16x4` when the image has real transparency.
    pub(crate) linear: Image<'static>,
    pub(crate) width: u32,
    pub(crate) height: u32,
}

impl Decoded {
    pub(crate) fn has_alpha(&self) -> bool {
        self.linear.pixel_type() == PixelType::U16x4
    }
}

/// What a build needs to know about a source's pixels besides its variants; cached, so a warm
/// build knows it without decoding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Analysis {
    /// No pixel is even partly transparent (so the fallback is a JPEG).
    pub(crate) opaque: bool,
    /// The average colour, as sRGB, shown until the image loads; none for transparent images,
    /// whose background must stay visible.
    pub(crate) placeholder: Option<[u8; 3]>,
    /// Why the embedded colour profile was not used, when there is one that was not: the
    /// pixels were taken as sRGB. Kept with the analysis so a warm build warns too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) colour_warning: Option<String>,
}

/// Why a source cannot be decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum DecodeError {
    /// A JPEG in CMYK (or YCCK): print colours, which dropgen does not convert.
    Cmyk,
    /// Anything else, said for the user.
    Broken(String),
}

impl From<String> for DecodeError {
    fn from(reason: String) -> Self {
        DecodeError::Broken(reason)
    }
}

/// The sRGB ↔ linear tables, built once.
pub(crate) fn srgb_mapper() -> &'static PixelComponentMapper {
    static MAPPER: OnceLock<PixelComponentMapper> = OnceLock::new();
    MAPPER.get_or_init(create_srgb_mapper)
}

/// Decodes a source image; `max_pixels` guards against files whose header lied to the probe.
pub(crate) fn decode(bytes: &[u8], max_pixels: u64) -> Result<(Decoded, Analysis), DecodeError> {
    check_structure(bytes)?;
    let mut reader =
        ImageReader::new(Cursor::new(bytes)).with_guessed_format().map_err(|err| err.to_string())?;
    let mut limits = Limits::default();
    limits.max_alloc = Some((max_pixels * 8).max(512 << 20));
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(|err| err.to_string())?;
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    // A broken profile is no reason to refuse a photo: browsers show it as sRGB too.
    let icc = decoder.icc_profile().map_err(|err| format!("it cannot be read: {err}"));
    let mut image = DynamicImage::from_decoder(decoder).map_err(|err| err.to_string())?;
    image.apply_orientation(orientation);
    let (width, height) = (image.width(), image.height());
    if u64::from(width) * u64::from(height) > max_pixels {
        return Err(format!("it decodes to {width}×{height} pixels, over the limit").into());
    }

    let grey = !image.color().has_color();
    let (mut data, opaque) = eight_bit(image);
    let layout = if opaque { Layout::Rgb } else { Layout::Rgba };
    let colour_warning = match icc {
        Ok(None) => None,
        Ok(Some(icc)) => to_srgb(&mut data, &icc, layout, grey).err(),
        Err(reason) => Some(reason),
    };
    let (u8_type, u16_type) =
        if opaque { (PixelType::U8x3, PixelType::U16x3) } else { (PixelType::U8x4, PixelType::U16x4) };
    let encoded = Image::from_vec_u8(width, height, data, u8_type).map_err(|err| err.to_string())?;
    let mut linear = Image::new(width, height, u16_type);
    srgb_mapper().forward_map(&encoded, &mut linear).map_err(|err| err.to_string())?;
    drop(encoded);
    let placeholder = opaque.then(|| average_colour(&linear));
    Ok((Decoded { linear, width, height }, Analysis { opaque, placeholder, colour_warning }))
}

/// What a file cut short is missing.
const CUT_SHORT: &str =
    "the file is cut short (an upload or copy was interrupted?), so part of the picture is missing";

/// Refuses files cut short, which decoders would otherwise complete with made-up pixels, and
/// CMYK JPEGs. Files of other formats are left to their decoder.
fn check_structure(bytes: &[u8]) -> Result<(), DecodeError> {
    if bytes.starts_with(&[0xFF, 0xD8]) {
        let jpeg = jpeg_layout(bytes)
            .ok_or_else(|| format!("{CUT_SHORT}: it ends before the JPEG end-of-image marker"))?;
        if jpeg.components == Some(4) {
            return Err(DecodeError::Cmyk);
        }
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        if !png_is_complete(bytes) {
            return Err(format!("{CUT_SHORT}: it ends before the PNG's last chunk (`IEND`)").into());
        }
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        let riff_length = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
        if (bytes.len() as u64) < u64::from(riff_length) + 8 {
            return Err(format!("{CUT_SHORT}: it is shorter than its WebP header says").into());
        }
    }
    Ok(())
}

/// What the marker segments of a whole JPEG say.
#[derive(Debug, PartialEq, Eq)]
struct JpegLayout {
    /// Colour components in the frame header: 1 grey, 3 YCbCr or RGB, 4 CMYK or YCCK.
    components: Option<u8>,
}

/// Walks a JPEG's marker segments, and the entropy-coded data after each start of scan, to its
/// end-of-image marker; `None` when the file ends first. Segments are skipped by their length,
/// so an EXIF thumbnail's own markers are never mistaken for the photo's; bytes between
/// segments are skipped as decoders skip them. Anything after the end-of-image marker (some
/// cameras append data) is ignored.
fn jpeg_layout(bytes: &[u8]) -> Option<JpegLayout> {
    let mut components = None;
    let mut at = 2;
    while at + 1 < bytes.len() {
        if bytes[at] != 0xFF {
            at += 1;
            continue;
        }
        let marker = bytes[at + 1];
        match marker {
            // A fill byte before a marker.
            0xFF => at += 1,
            0xD9 => return Some(JpegLayout { components }),
            // Markers without a length: TEM, restart markers, and a stray stuffed zero.
            0x00 | 0x01 | 0xD0..=0xD7 => at += 2,
            _ => {
                let length = usize::from(u16::from_be_bytes([*bytes.get(at + 2)?, *bytes.get(at + 3)?]));
                let segment = bytes.get(at + 2..at + 2 + length)?;
                // Start of frame (not DHT, JPG or DAC): precision, height, width, components.
                if matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
                    components = segment.get(7).copied().or(components);
                }
                at += 2 + length;
                if marker == 0xDA {
                    // Entropy-coded data runs to the next marker that is not a stuffed zero or a
                    // restart marker.
                    loop {
                        at += bytes.get(at..)?.iter().position(|&byte| byte == 0xFF)?;
                        match *bytes.get(at + 1)? {
                            0x00 | 0xD0..=0xD7 => at += 2,
                            0xFF => at += 1,
                            _ => break,
                        }
                    }
                }
            }
        }
    }
    None
}

/// Whether a PNG's chunks run whole to its `IEND` chunk.
fn png_is_complete(bytes: &[u8]) -> bool {
    let mut at: usize = 8;
    while let Some(header) = bytes.get(at..at + 8) {
        let length = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        // Length, type, data, CRC.
        let Some(end) = at.checked_add(12).and_then(|end| end.checked_add(length)) else { return false };
        if end > bytes.len() {
            return false;
        }
        if &header[4..8] == b"IEND" {
            return true;
        }
        at = end;
    }
    false
}

/// 8-bit RGB, or RGBA when some pixel is not fully opaque; and whether the image is opaque.
fn eight_bit(image: DynamicImage) -> (Vec<u8>, bool) {
    if !image.color().has_alpha() {
        return (image.into_rgb8().into_raw(), true);
    }
    let rgba = image.into_rgba8().into_raw();
    if rgba.chunks_exact(4).all(|pixel| pixel[3] == u8::MAX) {
        // Design tools often export opaque pictures with an alpha channel; drop it, so the
        // fallback is a JPEG and the encoders skip an empty plane.
        (rgba.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect(), true)
    } else {
        (rgba, false)
    }
}

/// Converts pixels from their embedded profile to sRGB in place. A profile that cannot be read
/// or applied to these pixels (a CMYK or grey profile on colour pixels, a broken one) leaves
/// them as they are, taken as sRGB; the error says why, for a warning. `grey`: the file's
/// pixels are grey (expanded to RGB here), which a grey profile describes one channel of.
fn to_srgb(data: &mut [u8], icc: &[u8], layout: Layout, grey: bool) -> Result<(), String> {
    let profile =
        ColorProfile::new_from_slice(icc).map_err(|err| format!("it is not a valid ICC profile: {err}"))?;
    let srgb = ColorProfile::new_srgb();
    // A grey profile describes one channel: the grey pixels (expanded to RGB on decoding) are
    // taken back to it, with their alpha.
    let grey_source: Option<(Layout, Vec<u8>)> =
        (grey && profile.color_space == DataColorSpace::Gray).then(|| {
            if layout.channels() == 4 {
                (Layout::GrayAlpha, data.chunks_exact(4).flat_map(|pixel| [pixel[0], pixel[3]]).collect())
            } else {
                (Layout::Gray, data.chunks_exact(3).map(|pixel| pixel[0]).collect())
            }
        });
    let source_layout = grey_source.as_ref().map_or(layout, |(grey_layout, _)| *grey_layout);
    let transform = profile
        .create_transform_8bit(source_layout, &srgb, layout, TransformOptions::default())
        .map_err(|err| format!("it cannot be applied to {} pixels: {err}", colour_model(layout)))?;
    // One copy of the pixels: the source of the transform, and what is put back if it fails.
    let original = data.to_vec();
    let source = grey_source.as_ref().map_or(original.as_slice(), |(_, grey)| grey.as_slice());
    transform.transform(source, data).map_err(|err| {
        data.copy_from_slice(&original);
        format!("converting with it failed: {err}")
    })
}

fn colour_model(layout: Layout) -> &'static str {
    match layout {
        Layout::Rgba => "RGBA",
        _ => "RGB",
    }
}

/// The mean colour in linear light, converted back to sRGB, from at most ~65 000 samples.
fn average_colour(linear: &Image<'_>) -> [u8; 3] {
    const PIXEL_BYTES: usize = 6;
    let buffer = linear.buffer();
    let pixels = buffer.len() / PIXEL_BYTES;
    let step = (pixels / 65_536).max(1);
    let mut sums = [0u64; 3];
    let mut count = 0u64;
    for pixel in buffer.chunks_exact(PIXEL_BYTES).step_by(step) {
        for (sum, value) in sums.iter_mut().zip(pixel.chunks_exact(2)) {
            *sum += u64::from(u16::from_ne_bytes([value[0], value[1]]));
        }
        count += 1;
    }
    let mut mean = Image::new(1, 1, PixelType::U16x3);
    for (bytes, sum) in mean.buffer_mut().chunks_exact_mut(2).zip(sums) {
        let value = u16::try_from(sum / count.max(1)).unwrap_or(u16::MAX);
        bytes.copy_from_slice(&value.to_ne_bytes());
    }
    let mut srgb = Image::new(1, 1, PixelType::U8x3);
    match srgb_mapper().backward_map(&mean, &mut srgb) {
        Ok(()) => [srgb.buffer()[0], srgb.buffer()[1], srgb.buffer()[2]],
        Err(_) => [128, 128, 128],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};

    fn encode(image: DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut bytes = Vec::new();
        image.write_to(&mut Cursor::new(&mut bytes), format).unwrap();
        bytes
    }

    #[test]
    fn opaque_images_with_an_alpha_channel_count_as_opaque() {
        let rgba = RgbaImage::from_pixel(4, 3, Rgba([10, 20, 30, 255]));
        let (decoded, analysis) = decode(&encode(rgba.into(), ImageFormat::Png), 1_000).unwrap();
        assert!(analysis.opaque && !decoded.has_alpha());
        assert_eq!(analysis.placeholder, Some([10, 20, 30]));
    }

    #[test]
    fn transparency_is_kept_and_has_no_placeholder() {
        let mut rgba = RgbaImage::from_pixel(4, 4, Rgba([200, 0, 0, 255]));
        rgba.put_pixel(0, 0, Rgba([0, 0, 0, 0]));
        let (decoded, analysis) = decode(&encode(rgba.into(), ImageFormat::Png), 1_000).unwrap();
        assert!(!analysis.opaque && decoded.has_alpha());
        assert_eq!(analysis.placeholder, None);
    }

    #[test]
    fn the_placeholder_averages_light_not_numbers() {
        // Half black, half white: the mean light is 50 %, which sRGB encodes as 188, not 128.
        let image =
            RgbImage::from_fn(2, 1, |x, _| if x == 0 { Rgb([0, 0, 0]) } else { Rgb([255, 255, 255]) });
        let (_, analysis) = decode(&encode(image.into(), ImageFormat::Png), 1_000).unwrap();
        let [r, g, b] = analysis.placeholder.unwrap();
        assert!((186..=190).contains(&r) && r == g && g == b, "got {r}");
    }

    #[test]
    fn the_pixel_limit_holds_even_when_the_probe_was_fooled() {
        let image = RgbImage::new(100, 100);
        let error = broken(decode(&encode(image.into(), ImageFormat::Png), 9_999));
        assert!(error.contains("over the limit"), "{error}");
    }

    /// A 40×20 JPEG in four solid quadrants (red, green / blue, white) carrying an EXIF
    /// orientation, as cameras store photos taken sideways.
    fn quadrants_with_orientation(orientation: u16) -> Vec<u8> {
        use image::ImageEncoder as _;
        let image = RgbImage::from_fn(40, 20, |x, y| match (x < 20, y < 10) {
            (true, true) => Rgb([255, 0, 0]),
            (false, true) => Rgb([0, 255, 0]),
            (true, false) => Rgb([0, 0, 255]),
            (false, false) => Rgb([255, 255, 255]),
        });
        // Little-endian TIFF with one IFD entry: Orientation (0x0112), SHORT, count 1.
        let mut exif = b"II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0".to_vec();
        exif.extend(orientation.to_le_bytes());
        exif.extend([0, 0, 0, 0, 0, 0]);
        let mut bytes = Vec::new();
        let mut encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 95);
        encoder.set_exif_metadata(exif).unwrap();
        encoder.write_image(image.as_raw(), 40, 20, image::ExtendedColorType::Rgb8).unwrap();
        bytes
    }

    fn colour_name(pixel: &[u8]) -> &'static str {
        match (pixel[0] > 128, pixel[1] > 128, pixel[2] > 128) {
            (true, false, false) => "red",
            (false, true, false) => "green",
            (false, false, true) => "blue",
            (true, true, true) => "white",
            _ => "unclear",
        }
    }

    #[test]
    fn every_exif_orientation_is_turned_upright() {
        // Displayed top-left and top-right quadrant for orientations 1–8 (EXIF 2.32, 4.6.4).
        let expected = [
            (1, "red", "green"),
            (2, "green", "red"),
            (3, "white", "blue"),
            (4, "blue", "white"),
            (5, "red", "blue"),
            (6, "blue", "red"),
            (7, "white", "green"),
            (8, "green", "white"),
        ];
        for (orientation, top_left, top_right) in expected {
            let (decoded, _) = decode(&quadrants_with_orientation(orientation), 1_000_000).unwrap();
            let swapped = orientation >= 5;
            assert_eq!(
                (decoded.width, decoded.height),
                if swapped { (20, 40) } else { (40, 20) },
                "orientation {orientation}"
            );
            let pixels = crate::images::resize::resize(&decoded, decoded.width, decoded.height).unwrap();
            let at = |x: u32, y: u32| &pixels.data[((y * decoded.width + x) * 3) as usize..][..3];
            let (right, bottom) = (decoded.width - 3, 2);
            assert_eq!(
                (colour_name(at(2, bottom)), colour_name(at(right, bottom))),
                (top_left, top_right),
                "orientation {orientation}"
            );
        }
    }

    #[test]
    fn colour_profiles_are_converted_to_srgb() {
        use image::ImageEncoder as _;
        // An sRGB orange, expressed in Display P3 and tagged with that profile, must come back
        // as the same orange; shown untagged it would be visibly duller.
        let srgb_orange = [230u8, 120, 40];
        let p3 = ColorProfile::new_display_p3();
        let to_p3 = ColorProfile::new_srgb()
            .create_transform_8bit(Layout::Rgb, &p3, Layout::Rgb, TransformOptions::default())
            .unwrap();
        let mut p3_orange = [0u8; 3];
        to_p3.transform(&srgb_orange, &mut p3_orange).unwrap();
        assert_ne!(p3_orange, srgb_orange);
        let image = RgbImage::from_pixel(8, 8, Rgb(p3_orange));
        let mut bytes = Vec::new();
        let mut encoder = image::codecs::png::PngEncoder::new(&mut bytes);
        encoder.set_icc_profile(p3.encode().unwrap()).unwrap();
        encoder.write_image(image.as_raw(), 8, 8, image::ExtendedColorType::Rgb8).unwrap();
        let (_, analysis) = decode(&bytes, 1_000).unwrap();
        let got = analysis.placeholder.unwrap();
        for (got, want) in got.iter().zip(srgb_orange) {
            assert!(got.abs_diff(want) <= 2, "got {got:?}, want {srgb_orange:?}");
        }
    }

    #[test]
    fn truncated_files_are_errors_not_panics() {
        let bytes = encode(RgbImage::from_pixel(64, 64, Rgb([1, 2, 3])).into(), ImageFormat::Jpeg);
        for cut in [bytes.len() - 1, bytes.len() / 2, 40, 2, 0] {
            assert!(decode(&bytes[..cut], 1_000_000).is_err(), "cut at {cut}");
        }
    }

    fn broken(result: Result<(Decoded, Analysis), DecodeError>) -> String {
        match result {
            Err(DecodeError::Broken(reason)) => reason,
            Err(DecodeError::Cmyk) => panic!("refused as CMYK"),
            Ok(_) => panic!("decoded"),
        }
    }

    /// A real photo (600 px wide, 25 KB) from the image fixtures.
    fn photo_jpeg() -> Vec<u8> {
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/images/drops/gallery/photo.jpg"))
            .unwrap()
    }

    #[test]
    fn a_jpeg_cut_short_is_an_error_not_grey_padding() {
        let bytes = photo_jpeg();
        let half = &bytes[..bytes.len() / 2];
        // What the decoder alone makes of it: the missing rows padded, no error (#15).
        assert!(image::load_from_memory(half).is_ok(), "the decoder now refuses cut files itself");
        for cut in [half.len(), bytes.len() - 2, bytes.len() - 1] {
            let reason = broken(decode(&bytes[..cut], 1_000_000));
            assert!(reason.contains("cut short") && reason.contains("end-of-image"), "{reason}");
        }
        assert!(decode(&bytes, 1_000_000).is_ok());
    }

    #[test]
    fn data_after_the_end_of_a_jpeg_or_png_is_ignored() {
        // Some cameras append a trailer (or a second picture) after the end-of-image marker.
        let mut jpeg = photo_jpeg();
        jpeg.extend(b"\xFF\xD8trailer");
        assert!(decode(&jpeg, 1_000_000).is_ok());
        let mut png = encode(RgbImage::new(4, 4).into(), ImageFormat::Png);
        png.extend(b"trailer");
        assert!(decode(&png, 1_000_000).is_ok());
    }

    #[test]
    fn an_end_marker_inside_the_exif_block_does_not_hide_a_cut() {
        // EXIF (with a thumbnail) may hold any bytes, FF D9 among them: segments are skipped by
        // their length, so only the photo's own end-of-image marker counts.
        use image::ImageEncoder as _;
        let image = RgbImage::from_fn(48, 32, |x, y| Rgb([(x * 5) as u8, (y * 7) as u8, 90]));
        let mut exif = b"II*\0\x08\0\0\0\0\0\0\0\0\0".to_vec();
        exif.extend(b"\xFF\xD9\xFF\xD9");
        let mut bytes = Vec::new();
        let mut encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 90);
        encoder.set_exif_metadata(exif).unwrap();
        encoder.write_image(image.as_raw(), 48, 32, image::ExtendedColorType::Rgb8).unwrap();
        assert!(decode(&bytes, 1_000_000).is_ok());
        let reason = broken(decode(&bytes[..bytes.len() - 100], 1_000_000));
        assert!(reason.contains("cut short"), "{reason}");
    }

    #[test]
    fn a_png_cut_short_is_an_error() {
        let image = RgbImage::from_fn(32, 32, |x, y| Rgb([(x * 8) as u8, (y * 8) as u8, 7]));
        let bytes = encode(image.into(), ImageFormat::Png);
        // Without `IEND` only, every pixel is there; still cut short.
        let without_end = &bytes[..bytes.len() - 12];
        for cut in [without_end.len(), bytes.len() - 1, bytes.len() / 2] {
            let reason = broken(decode(&bytes[..cut], 1_000_000));
            assert!(reason.contains("cut short"), "cut at {cut}: {reason}");
        }
    }

    #[test]
    fn a_webp_cut_short_is_an_error() {
        let image = RgbImage::from_fn(32, 32, |x, y| Rgb([(x * 8) as u8, (y * 8) as u8, 7]));
        let bytes = encode(image.into(), ImageFormat::WebP);
        assert!(decode(&bytes, 1_000_000).is_ok());
        let reason = broken(decode(&bytes[..bytes.len() - 1], 1_000_000));
        assert!(reason.contains("cut short"), "{reason}");
    }

    /// An 8×8 CMYK JPEG, as print workflows export them (Adobe marker, inverted values).
    pub(crate) fn cmyk_jpeg() -> Vec<u8> {
        let mut compress = mozjpeg::Compress::new(mozjpeg::ColorSpace::JCS_CMYK);
        compress.set_size(8, 8);
        let mut started = compress.start_compress(Vec::new()).unwrap();
        started.write_scanlines(&[10, 200, 30, 0].repeat(64)).unwrap();
        started.finish().unwrap()
    }

    #[test]
    fn cmyk_jpegs_are_refused() {
        let bytes = cmyk_jpeg();
        assert_eq!(jpeg_layout(&bytes), Some(JpegLayout { components: Some(4) }));
        assert_eq!(decode(&bytes, 1_000).err(), Some(DecodeError::Cmyk));
        let grey = encode(image::GrayImage::new(8, 8).into(), ImageFormat::Jpeg);
        assert_eq!(jpeg_layout(&grey), Some(JpegLayout { components: Some(1) }));
        assert!(decode(&grey, 1_000).is_ok());
    }

    fn png_with_profile(colour: [u8; 3], icc: Vec<u8>) -> Vec<u8> {
        use image::ImageEncoder as _;
        let image = RgbImage::from_pixel(8, 8, Rgb(colour));
        let mut bytes = Vec::new();
        let mut encoder = image::codecs::png::PngEncoder::new(&mut bytes);
        encoder.set_icc_profile(icc).unwrap();
        encoder.write_image(image.as_raw(), 8, 8, image::ExtendedColorType::Rgb8).unwrap();
        bytes
    }

    #[test]
    fn an_unusable_colour_profile_is_a_warning_and_the_pixels_stay_srgb() {
        let colour = [230, 120, 40];
        for (icc, expected) in [
            (b"not a profile at all".repeat(10), "not a valid ICC profile"),
            // A grey profile on colour pixels.
            (ColorProfile::new_gray_with_gamma(2.2).encode().unwrap(), "cannot be applied to RGB pixels"),
        ] {
            let (_, analysis) = decode(&png_with_profile(colour, icc), 1_000).unwrap();
            let warning = analysis.colour_warning.expect("a warning");
            assert!(warning.contains(expected), "{warning}");
            assert_eq!(analysis.placeholder, Some(colour), "the pixels were changed");
        }
        let (_, analysis) =
            decode(&png_with_profile(colour, ColorProfile::new_srgb().encode().unwrap()), 1_000).unwrap();
        assert_eq!(analysis.colour_warning, None);
    }

    #[test]
    fn a_grey_profile_on_grey_pixels_is_used() {
        use image::ImageEncoder as _;
        // Linear light: grey 100 of 255 is sRGB 168.
        let grey = ColorProfile::new_gray_with_gamma(1.0).encode().unwrap();
        let mut bytes = Vec::new();
        let mut encoder = image::codecs::png::PngEncoder::new(&mut bytes);
        encoder.set_icc_profile(grey).unwrap();
        encoder.write_image(&[100u8; 64], 8, 8, image::ExtendedColorType::L8).unwrap();
        let (_, analysis) = decode(&bytes, 1_000).unwrap();
        assert_eq!(analysis.colour_warning, None);
        let [r, g, b] = analysis.placeholder.unwrap();
        assert!(r == g && g == b && (166..=170).contains(&r), "got {r} {g} {b}");
        // With transparency, grey and alpha.
        let mut pixels = [100u8, 255].repeat(64);
        pixels[1] = 0;
        let mut bytes = Vec::new();
        let mut encoder = image::codecs::png::PngEncoder::new(&mut bytes);
        encoder.set_icc_profile(ColorProfile::new_gray_with_gamma(1.0).encode().unwrap()).unwrap();
        encoder.write_image(&pixels, 8, 8, image::ExtendedColorType::La8).unwrap();
        let (decoded, analysis) = decode(&bytes, 1_000).unwrap();
        assert!(decoded.has_alpha() && !analysis.opaque);
        assert_eq!(analysis.colour_warning, None);
    }
}
