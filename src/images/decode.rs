//! From a source file's bytes to pixels every variant is resized from: decoded once, turned
//! upright by its EXIF orientation, converted from its ICC profile to sRGB, and stored in
//! linear light (16 bits per channel) so downscaling averages light, not gamma-encoded
//! numbers. The placeholder colour comes from the same pixels.

use std::io::Cursor;
use std::sync::OnceLock;

use fast_image_resize::images::Image;
use fast_image_resize::{PixelComponentMapper, PixelType, create_srgb_mapper};
use image::{DynamicImage, ImageDecoder, ImageReader, Limits};
use moxcms::{ColorProfile, Layout, TransformOptions};
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Analysis {
    /// No pixel is even partly transparent (so the fallback is a JPEG).
    pub(crate) opaque: bool,
    /// The average colour, as sRGB, shown until the image loads; none for transparent images,
    /// whose background must stay visible.
    pub(crate) placeholder: Option<[u8; 3]>,
}

/// The sRGB ↔ linear tables, built once.
pub(crate) fn srgb_mapper() -> &'static PixelComponentMapper {
    static MAPPER: OnceLock<PixelComponentMapper> = OnceLock::new();
    MAPPER.get_or_init(create_srgb_mapper)
}

/// Decodes a source image; `max_pixels` guards against files whose header lied to the probe.
pub(crate) fn decode(bytes: &[u8], max_pixels: u64) -> Result<(Decoded, Analysis), String> {
    let mut reader =
        ImageReader::new(Cursor::new(bytes)).with_guessed_format().map_err(|err| err.to_string())?;
    let mut limits = Limits::default();
    limits.max_alloc = Some((max_pixels * 8).max(512 << 20));
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(|err| err.to_string())?;
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    // A broken profile is no reason to refuse a photo: browsers show it as sRGB too.
    let icc = decoder.icc_profile().ok().flatten();
    let mut image = DynamicImage::from_decoder(decoder).map_err(|err| err.to_string())?;
    image.apply_orientation(orientation);
    let (width, height) = (image.width(), image.height());
    if u64::from(width) * u64::from(height) > max_pixels {
        return Err(format!("it decodes to {width}×{height} pixels, over the limit"));
    }

    let (mut data, opaque) = eight_bit(image);
    let layout = if opaque { Layout::Rgb } else { Layout::Rgba };
    if let Some(icc) = icc {
        to_srgb(&mut data, &icc, layout);
    }
    let (u8_type, u16_type) =
        if opaque { (PixelType::U8x3, PixelType::U16x3) } else { (PixelType::U8x4, PixelType::U16x4) };
    let encoded = Image::from_vec_u8(width, height, data, u8_type).map_err(|err| err.to_string())?;
    let mut linear = Image::new(width, height, u16_type);
    srgb_mapper().forward_map(&encoded, &mut linear).map_err(|err| err.to_string())?;
    drop(encoded);
    let placeholder = opaque.then(|| average_colour(&linear));
    Ok((Decoded { linear, width, height }, Analysis { opaque, placeholder }))
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

/// Converts pixels from their embedded profile to sRGB in place. Profiles that cannot be read
/// or converted (CMYK, grey, broken) leave the pixels as they are.
fn to_srgb(data: &mut [u8], icc: &[u8], layout: Layout) {
    let Ok(profile) = ColorProfile::new_from_slice(icc) else { return };
    let srgb = ColorProfile::new_srgb();
    let Ok(transform) = profile.create_transform_8bit(layout, &srgb, layout, TransformOptions::default())
    else {
        return;
    };
    let source = data.to_vec();
    if transform.transform(&source, data).is_err() {
        data.copy_from_slice(&source);
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
        let error = decode(&encode(image.into(), ImageFormat::Png), 9_999).err().unwrap();
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
        for cut in [bytes.len() / 2, 40, 2, 0] {
            // Some truncations still decode (JPEG pads missing data); none may panic.
            let _ = decode(&bytes[..cut], 1_000_000);
        }
        assert!(decode(&bytes[..2], 1_000_000).is_err());
    }
}
