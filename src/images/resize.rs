//! Downscaling: Lanczos3 (SIMD, `fast_image_resize`) on linear-light pixels, alpha
//! premultiplied, then back to 8-bit sRGB for the encoders.

use fast_image_resize::images::Image;
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};

use super::decode::{Decoded, srgb_mapper};

/// 8-bit sRGB pixels, RGB or (when some pixel is transparent) RGBA, rows top to bottom.
#[derive(Debug)]
pub(crate) struct Pixels {
    pub(crate) width: u32,
    pub(crate) height: u32,
    alpha: bool,
    pub(crate) data: Vec<u8>,
}

impl Pixels {
    pub(crate) fn new(width: u32, height: u32, alpha: bool, data: Vec<u8>) -> Pixels {
        Pixels { width, height, alpha, data }
    }

    pub(crate) fn has_alpha(&self) -> bool {
        self.alpha
    }

    pub(crate) fn opaque(&self) -> bool {
        !self.alpha
    }

    pub(crate) fn channels(&self) -> usize {
        if self.alpha { 4 } else { 3 }
    }
}

/// The source at `width` × `height`, in 8-bit sRGB. The source's own size is converted
/// without resampling.
pub(crate) fn resize(source: &Decoded, width: u32, height: u32) -> Result<Pixels, String> {
    let (u16_type, u8_type) = if source.has_alpha() {
        (PixelType::U16x4, PixelType::U8x4)
    } else {
        (PixelType::U16x3, PixelType::U8x3)
    };
    let mut encoded = Image::new(width, height, u8_type);
    if (width, height) == (source.width, source.height) {
        srgb_mapper().backward_map(&source.linear, &mut encoded).map_err(|err| err.to_string())?;
    } else {
        let mut resized = Image::new(width, height, u16_type);
        let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3));
        Resizer::new().resize(&source.linear, &mut resized, &options).map_err(|err| err.to_string())?;
        srgb_mapper().backward_map(&resized, &mut encoded).map_err(|err| err.to_string())?;
    }
    Ok(Pixels::new(width, height, source.has_alpha(), encoded.into_vec()))
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use image::{DynamicImage, ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};

    use super::*;
    use crate::images::decode::decode;

    fn decoded(image: DynamicImage) -> Decoded {
        let mut bytes = Vec::new();
        image.write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png).unwrap();
        decode(&bytes, 1_000_000).unwrap().0
    }

    #[test]
    fn downscaling_averages_light() {
        // Fine black and white stripes look mid-grey: 50 % light, sRGB 188 (a naive average
        // of the numbers gives 128, visibly too dark).
        let stripes = RgbImage::from_fn(64, 64, |x, _| if x % 2 == 0 { Rgb([0; 3]) } else { Rgb([255; 3]) });
        let small = resize(&decoded(stripes.into()), 8, 8).unwrap();
        let centre = small.data[(4 * 8 + 4) * 3];
        assert!((180..=196).contains(&centre), "got {centre}");
    }

    #[test]
    fn transparent_pixels_do_not_bleed_their_colour() {
        // Invisible red beside opaque blue must not turn the edge purple.
        let image =
            RgbaImage::from_fn(
                64,
                64,
                |x, _| if x < 32 { Rgba([255, 0, 0, 0]) } else { Rgba([0, 0, 255, 255]) },
            );
        let small = resize(&decoded(image.into()), 8, 8).unwrap();
        assert!(small.has_alpha());
        let edge = &small.data[(4 * 8 + 4) * 4..][..4];
        assert!(edge[0] < 16 && edge[2] > 200, "edge pixel {edge:?}");
    }

    #[test]
    fn the_source_size_round_trips_exactly() {
        let image = RgbImage::from_fn(16, 16, |x, y| Rgb([(x * 16) as u8, (y * 16) as u8, 7]));
        let same = resize(&decoded(image.clone().into()), 16, 16).unwrap();
        assert_eq!(same.data, image.into_raw());
    }
}
