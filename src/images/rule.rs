//! The AVIF rule: the settings each variant is encoded with, decided from the pixels about to
//! be encoded. Pure: pixels in, a choice out. Chosen on bench/images.sh's `dev2` corpus and
//! checked on `dev`; the speed step was found on a third corpus of wallpaper artwork and
//! checked on both (docs/benchmarks.md).
//!
//! - **Chroma** (`images.avif_chroma: auto`): 4:2:0 stores colour at a quarter of the
//!   resolution. Where colour changes slowly (skies, gradients, soft photographs) nobody can
//!   tell, and it saves bytes. Where colour changes within two pixels (artwork, saturated
//!   detail, text, logos) it bleeds, and on `dev2` 4:4:4 gave up to 24 % less error for the
//!   same bytes there. So the rule measures how much colour a 2 × 2 average would lose, as the
//!   encoder's 4:2:0 does, and subsamples only where that loss is small.
//! - **Quality**: libaom at speed 6 under-spends on dark, smooth areas: dark wallpapers were
//!   the images furthest behind sharp on both corpora (up to 2.3× its error at the same bytes).
//!   The quality is raised with the share of dark pixels, up to [`MAX_DARK_BOOST`].
//! - **Detail**: where fine texture fills the picture (foliage, fur, gravel, starfields), one
//!   quality step is what AV1 wipes it out at: on `dev`, the most detailed photograph lost
//!   27 % more structure (DSSIM) between quality 44 and 43 while flatter images lost under
//!   5 %. Variants whose mean 4 × 4 luma deviation is above [`DETAILED`] get
//!   [`DETAIL_BOOST`] more quality; everything else can take the lower default.
//! - **Size**: quality follows the variant's pixels, [`SIZE_STEPS_PER_HALVING`] steps per
//!   halving, the configured quality at [`SIZE_REFERENCE_PIXELS`]. A page's bytes are its
//!   widest variants: on `dev2` one quality step at 1600 px costs about ten times the bytes
//!   of a step at 400 px, and lowers the error (DSSIM) by about as much. The narrow variants are
//!   shown at their own size in cards and on small screens, where every artefact shows; the
//!   wide ones are chosen by high-density screens, whose pixels are half the size (the
//!   "compressive images" trade; imgix's client libraries, likewise, ask for quality 75 at
//!   1× and 50 at 2×). So narrow variants get more quality, cheaply, and wide ones less,
//!   within [`MAX_SIZE_BOOST`] and [`MAX_SIZE_CUT`]. Against sharp on `dev2`, this took the
//!   AVIF bytes from 1.07× to 0.98× at 0.98× the error (was 0.97×); on `dev`, which checked
//!   it, from 0.86× to 0.77× at 0.99× (was 0.98×). Where most variants are narrow it spends bytes for quality: on the product
//!   corpus, 1.11× the bytes at 0.82× the error (docs/benchmarks.md).
//! - **Speed**: a variant of at most [`SMALL_VARIANT_PIXELS`] (a phone's picture) is encoded
//!   one libaom speed step slower. Encoding time grows with pixels, so the slower step costs
//!   little there, and narrow variants are where AV1 at speed 6 fell furthest behind sharp's
//!   speed 5: on a third corpus of wallpaper artwork nothing was tuned on, speed 5 at 400 px
//!   lowered the mean DSSIM of all variants by 4 %, where speed 5 everywhere cost 3.5× the
//!   time. Measured, the step costs 3–10 % more AVIF time at widths 400–1600, and 9–26 % at
//!   the default widths 320–1920, whose 640-px variants are small too (docs/benchmarks.md).

use super::avif::{Subsampling, Tuning};
use super::resize::Pixels;

/// Names the rule and its thresholds in every AVIF's fingerprint: a change here must give
/// new names, because it changes the bytes.
pub(crate) const RULE: &str = "avif-rule-4 420:rms<=1.5,edges<=0.3%@12 max(dark:+8*share(y<24), detail:+2@std4x4>6) \
     size:+3*log2(500000px/px)[-4,+8],none<40000px q<=99 speed-1@<=300000px";

/// A 2 × 2 block whose colour deviates from its mean by more than this (RMS over its four
/// pixels and both chroma planes, 8-bit units) is a colour edge 4:2:0 would blur.
const EDGE_LEVEL: f64 = 12.0;
/// Subsample only when the colour lost over the whole image is at most this (RMS, 8-bit
/// units)…
const MAX_LOSS_RMS: f64 = 1.5;
/// …and at most this share of blocks are colour edges (text and line art are few pixels of
/// an image, but exactly what shows).
const MAX_EDGE_SHARE: f64 = 0.003;
/// Pixels darker than this luma (8-bit sRGB, BT.601 weights) count as dark.
const DARK_LUMA: f64 = 24.0;
/// The quality added to an all-dark image; a partly dark one gets its share of it.
pub(crate) const MAX_DARK_BOOST: u8 = 8;

/// A variant is detailed when the luma of its 4 × 4 blocks deviates from the block's mean by
/// more than this on average (standard deviation, 8-bit units): a photograph of grass or fur
/// is 10–20, a soft landscape 1–4, a gradient under 1.
const DETAILED: f64 = 6.0;
/// The quality added to a detailed variant.
pub(crate) const DETAIL_BOOST: u8 = 2;

/// Variants up to this many pixels are encoded one speed step slower ([`speed`]): 640 × 427
/// and anything narrower at the usual aspect ratios. With libaom 3.14, speed 5 takes four
/// times the time of speed 6: at 800 px it gave 3 % fewer bytes for 4 % less error on `dev2`,
/// but made the whole build 20 % slower.
pub(crate) const SMALL_VARIANT_PIXELS: u64 = 300_000;

/// A variant of this many pixels (about 940 × 530) is encoded at the configured quality;
/// smaller ones get more, larger ones less ([`size_offset`]).
pub(crate) const SIZE_REFERENCE_PIXELS: f64 = 500_000.0;
/// Quality steps per halving (or doubling) of a variant's pixels: a 400-px-wide variant gets
/// about 7 more than the reference, a 1600-px one 4 fewer.
pub(crate) const SIZE_STEPS_PER_HALVING: f64 = 3.0;
/// At most this much quality is added for a small variant…
pub(crate) const MAX_SIZE_BOOST: i16 = 8;
/// …and at most this much taken from a large one, so that a wide hero keeps its detail.
pub(crate) const MAX_SIZE_CUT: i16 = 4;
/// Variants of fewer pixels (200 × 200) get no size boost. There the AVIF container's fixed
/// bytes make AVIF and WebP a close race that a boost loses: on a site of 96-px thumbnails,
/// every boosted AVIF was 1.18–1.89× its WebP, so each was encoded again without the boost
/// (see [`quality_without_size_boost`]) and lost anyway, which doubled the AVIF time.
pub(crate) const MIN_BOOSTED_PIXELS: u64 = 40_000;

/// The quality a variant with these pixels is encoded at, given the configured one: the
/// configured quality plus the content boost ([`quality_boost`]) and, under `tune=iq`, the
/// size offset ([`size_offset`]), from 1 to 99. 100 (lossless) stays lossless, and nothing
/// else becomes lossless by its boosts. The size steps were measured under `tune=iq`; with
/// the bundled libaom 3.11 (`tune=ssim`, 19 steps higher) they cost `dev2` 9 more sources'
/// AVIFs and made a 1600-px variant visibly worse, so it has none.
pub(crate) fn quality(configured: u8, pixels: &Pixels, tuning: Tuning) -> u8 {
    let size = if tuning == Tuning::ImageQuality { size_offset(pixels) } else { 0 };
    with_offset(configured, pixels, size)
}

/// [`quality`] without the size boost of a narrow variant (its cut, for a wide one, stays):
/// what an AVIF that lost to its WebP by the boost is encoded again at.
pub(crate) fn quality_without_size_boost(configured: u8, pixels: &Pixels, tuning: Tuning) -> u8 {
    let size = if tuning == Tuning::ImageQuality { size_offset(pixels).min(0) } else { 0 };
    with_offset(configured, pixels, size)
}

fn with_offset(configured: u8, pixels: &Pixels, size: i16) -> u8 {
    if configured >= 100 {
        return 100;
    }
    let quality = i16::from(configured) + i16::from(quality_boost(pixels)) + size;
    quality.clamp(1, 99) as u8
}

/// The quality added for a variant of these pixels (negative: taken away), from
/// [`SIZE_STEPS_PER_HALVING`] and [`SIZE_REFERENCE_PIXELS`], within [`MAX_SIZE_BOOST`] and
/// [`MAX_SIZE_CUT`]; none below [`MIN_BOOSTED_PIXELS`].
pub(crate) fn size_offset(pixels: &Pixels) -> i16 {
    let area = u64::from(pixels.width) * u64::from(pixels.height);
    if area < MIN_BOOSTED_PIXELS {
        return 0;
    }
    let steps = (SIZE_STEPS_PER_HALVING * (SIZE_REFERENCE_PIXELS / area as f64).log2()).round();
    (steps as i16).clamp(-MAX_SIZE_CUT, MAX_SIZE_BOOST)
}

/// libaom's speed for these pixels, given the configured one: one step slower for a small
/// variant (never below 0).
pub(crate) fn speed(configured: u8, pixels: &Pixels) -> u8 {
    let small = u64::from(pixels.width) * u64::from(pixels.height) <= SMALL_VARIANT_PIXELS;
    if small { configured.saturating_sub(1) } else { configured }
}

/// The quality to add for these pixels: the larger of the dark boost and the detail boost.
/// Not their sum: a dark, detailed photograph needs one of them, and both together spent 12 %
/// more bytes than sharp on `dev2`'s darkest detailed ones for less error than needed.
pub(crate) fn quality_boost(pixels: &Pixels) -> u8 {
    let detail = if detail(pixels) > DETAILED { DETAIL_BOOST } else { 0 };
    dark_boost(pixels).max(detail)
}

/// Mean standard deviation of luma over the 4 × 4 blocks whose pixels are all seen (alpha at
/// least half); 0 for an image with no such block.
pub(crate) fn detail(pixels: &Pixels) -> f64 {
    let (width, height) = (pixels.width as usize, pixels.height as usize);
    let channels = pixels.channels();
    let luma_at = |x: usize, y: usize| -> Option<f64> {
        let pixel = pixels.data.get((y * width + x) * channels..(y * width + x + 1) * channels)?;
        (channels == 3 || pixel[3] >= 128).then(|| luma(pixel))
    };
    let (mut total, mut blocks) = (0.0, 0usize);
    for y in (0..height.saturating_sub(3)).step_by(4) {
        'block: for x in (0..width.saturating_sub(3)).step_by(4) {
            let (mut sum, mut squares) = (0.0, 0.0);
            for (dx, dy) in (0..4).flat_map(|dy| (0..4).map(move |dx| (dx, dy))) {
                let Some(value) = luma_at(x + dx, y + dy) else { continue 'block };
                sum += value;
                squares += value * value;
            }
            let mean = sum / 16.0;
            total += (squares / 16.0 - mean * mean).max(0.0).sqrt();
            blocks += 1;
        }
    }
    if blocks == 0 { 0.0 } else { total / blocks as f64 }
}

/// BT.601 luma of an 8-bit sRGB pixel.
fn luma(pixel: &[u8]) -> f64 {
    0.299 * f64::from(pixel[0]) + 0.587 * f64::from(pixel[1]) + 0.114 * f64::from(pixel[2])
}

/// [`MAX_DARK_BOOST`] times the share of dark pixels, rounded. Transparent pixels (alpha below
/// half) are left out: their colour is not seen.
fn dark_boost(pixels: &Pixels) -> u8 {
    let channels = pixels.channels();
    let (mut seen, mut dark) = (0usize, 0usize);
    for pixel in pixels.data.chunks_exact(channels) {
        if channels == 4 && pixel[3] < 128 {
            continue;
        }
        seen += 1;
        dark += usize::from(luma(pixel) < DARK_LUMA);
    }
    if seen == 0 {
        return 0;
    }
    // At most MAX_DARK_BOOST, so the conversion cannot truncate.
    (f64::from(MAX_DARK_BOOST) * dark as f64 / seen as f64).round() as u8
}

/// How much colour detail 4:2:0 would remove.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct ChromaLoss {
    /// RMS difference between each pixel's chroma and its 2 × 2 block's mean, over both
    /// planes, in 8-bit units.
    pub(crate) rms: f64,
    /// Share of 2 × 2 blocks whose RMS deviation is above [`EDGE_LEVEL`].
    pub(crate) edge_share: f64,
}

/// The subsampling for these pixels.
pub(crate) fn choose(pixels: &Pixels) -> Subsampling {
    let loss = measure(pixels);
    if loss.rms <= MAX_LOSS_RMS && loss.edge_share <= MAX_EDGE_SHARE {
        Subsampling::Yuv420
    } else {
        Subsampling::Yuv444
    }
}

/// Measures the chroma (BT.601 full range, as the AVIFs are written) lost by averaging each
/// 2 × 2 block. An odd last row or column has no block and is left out, and so is a block
/// with a mostly transparent pixel, whose colour is not seen.
pub(crate) fn measure(pixels: &Pixels) -> ChromaLoss {
    let (width, height) = (pixels.width as usize, pixels.height as usize);
    let channels = pixels.channels();
    let sample = |x: usize, y: usize, c: usize| pixels.data.get((y * width + x) * channels + c).copied();
    let chroma = |x: usize, y: usize| -> (f64, f64) {
        let [r, g, b] = [0, 1, 2].map(|c| f64::from(sample(x, y, c).unwrap_or(0)));
        (-0.168_736 * r - 0.331_264 * g + 0.5 * b, 0.5 * r - 0.418_688 * g - 0.081_312 * b)
    };
    let seen = |x: usize, y: usize| channels == 3 || sample(x, y, 3).is_some_and(|a| a >= 128);
    let (mut squares, mut blocks, mut edges) = (0.0, 0usize, 0usize);
    for y in (0..height.saturating_sub(1)).step_by(2) {
        for x in (0..width.saturating_sub(1)).step_by(2) {
            if !(seen(x, y) && seen(x + 1, y) && seen(x, y + 1) && seen(x + 1, y + 1)) {
                continue;
            }
            let block = [chroma(x, y), chroma(x + 1, y), chroma(x, y + 1), chroma(x + 1, y + 1)];
            let (mean_cb, mean_cr) =
                block.iter().fold((0.0, 0.0), |(cb, cr), &(b, r)| (cb + b / 4.0, cr + r / 4.0));
            let block_squares: f64 =
                block.iter().map(|&(cb, cr)| (cb - mean_cb).powi(2) + (cr - mean_cr).powi(2)).sum();
            squares += block_squares;
            blocks += 1;
            if (block_squares / 4.0).sqrt() > EDGE_LEVEL {
                edges += 1;
            }
        }
    }
    if blocks == 0 {
        return ChromaLoss { rms: 0.0, edge_share: 0.0 };
    }
    ChromaLoss { rms: (squares / (4 * blocks) as f64).sqrt(), edge_share: edges as f64 / blocks as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(width: u32, height: u32, pixel: impl Fn(u32, u32) -> [u8; 3]) -> Pixels {
        let data = (0..height).flat_map(|y| (0..width).map(move |x| (x, y))).flat_map(|(x, y)| pixel(x, y));
        Pixels::new(width, height, false, data.collect())
    }

    #[test]
    fn smooth_colour_is_subsampled() {
        // A photograph-like gradient with brightness detail but slowly changing colour.
        let photo = image(64, 64, |x, y| {
            let grain = ((x * 7 + y * 13) % 5) as u8 * 6;
            [100 + (x as u8) + grain, 80 + (y as u8) + grain, 60 + grain]
        });
        assert_eq!(choose(&photo), Subsampling::Yuv420, "{:?}", measure(&photo));
    }

    #[test]
    fn grey_detail_is_subsampled_whatever_its_contrast() {
        let checker = image(32, 32, |x, y| if (x + y) % 2 == 0 { [0; 3] } else { [255; 3] });
        let loss = measure(&checker);
        assert!(loss.rms < 0.01, "{loss:?}");
        assert_eq!(choose(&checker), Subsampling::Yuv420);
    }

    #[test]
    fn red_text_on_white_keeps_full_colour() {
        // One-pixel red strokes every eight columns: few pixels, but all of them edges.
        let text = image(64, 64, |x, _| if x % 8 == 3 { [220, 0, 0] } else { [255; 3] });
        let loss = measure(&text);
        assert!(loss.edge_share > MAX_EDGE_SHARE, "{loss:?}");
        assert_eq!(choose(&text), Subsampling::Yuv444);
    }

    #[test]
    fn saturated_texture_keeps_full_colour() {
        // Red and blue alternating in 2-pixel stripes: colour detail a 2 × 2 average destroys.
        let texture = image(64, 64, |x, _| if x % 4 < 2 { [200, 30, 30] } else { [30, 30, 200] });
        assert!(measure(&texture).rms < 0.01, "aligned 2-pixel stripes survive 2 × 2 blocks");
        let offset = image(64, 64, |x, _| if (x + 1) % 4 < 2 { [200, 30, 30] } else { [30, 30, 200] });
        assert_eq!(choose(&offset), Subsampling::Yuv444, "{:?}", measure(&offset));
    }

    #[test]
    fn odd_sizes_tiny_and_transparent_images_are_measured_without_panicking() {
        assert_eq!(measure(&image(1, 1, |_, _| [9, 9, 9])), ChromaLoss { rms: 0.0, edge_share: 0.0 });
        let odd = image(3, 5, |x, y| [(x * 80) as u8, (y * 50) as u8, 0]);
        assert!(measure(&odd).rms > 0.0);
        let opaque =
            Pixels::new(2, 2, true, vec![255, 0, 0, 255, 0, 0, 255, 255, 255, 0, 0, 255, 0, 0, 255, 255]);
        assert_eq!(choose(&opaque), Subsampling::Yuv444);
        // Hidden colour does not count: the same block, nearly transparent.
        let hidden =
            Pixels::new(2, 2, true, vec![255, 0, 0, 10, 0, 0, 255, 10, 255, 0, 0, 10, 0, 0, 255, 10]);
        assert_eq!(choose(&hidden), Subsampling::Yuv420);
        assert_eq!(quality_boost(&hidden), 0);
        assert_eq!(quality_boost(&Pixels::new(0, 0, false, Vec::new())), 0);
    }

    #[test]
    fn fine_texture_gets_more_quality_and_smooth_pictures_do_not() {
        // Grass-like noise: every pixel differs from its neighbours by tens of levels.
        let grass = image(64, 64, |x, y| {
            let noise = ((x * 73 + y * 151) % 61) as u8;
            [60 + noise, 110 + noise, 40 + noise / 2]
        });
        assert!(detail(&grass) > DETAILED, "{}", detail(&grass));
        assert_eq!(quality_boost(&grass), DETAIL_BOOST);
        // A gradient with a little grain: structure, but not texture.
        let sky = image(64, 64, |x, y| [90 + (y as u8), 140 + (y as u8) / 2, 200 + ((x + y) % 3) as u8]);
        assert!(detail(&sky) < DETAILED, "{}", detail(&sky));
        assert_eq!(quality_boost(&sky), 0);
        // Texture under transparent pixels is not seen; an image smaller than a block has none.
        let hidden = Pixels::new(4, 4, true, (0..16).flat_map(|i| [(i * 97 % 256) as u8, 0, 0, 0]).collect());
        assert_eq!(detail(&hidden), 0.0);
        assert_eq!(detail(&image(3, 3, |x, _| [(x * 120) as u8; 3])), 0.0);
    }

    #[test]
    fn small_variants_are_encoded_one_speed_step_slower() {
        let phone = image(640, 427, |_, _| [0; 3]);
        assert_eq!(speed(6, &phone), 5);
        assert_eq!(speed(0, &phone), 0, "no speed below 0");
        let desktop = image(640, 480, |_, _| [0; 3]);
        assert_eq!(speed(6, &desktop), 6);
    }

    #[test]
    fn narrow_variants_get_more_quality_and_wide_ones_less() {
        let flat = |width, height| image(width, height, |_, _| [120, 140, 160]);
        assert_eq!(size_offset(&flat(1000, 500)), 0, "the reference size gets the configured quality");
        // A 1600-px variant has four halvings more than a 400-px one.
        assert_eq!(size_offset(&flat(400, 225)), 7);
        assert_eq!(size_offset(&flat(800, 450)), 1);
        assert_eq!(size_offset(&flat(1200, 675)), -2);
        assert_eq!(size_offset(&flat(1600, 900)), -4);
        assert_eq!(size_offset(&flat(4000, 3000)), -MAX_SIZE_CUT);
        assert_eq!(size_offset(&flat(250, 160)), MAX_SIZE_BOOST);
        assert_eq!(size_offset(&flat(96, 96)), 0, "thumbnails get no boost");
        assert_eq!(size_offset(&flat(199, 200)), 0);
        assert_eq!(size_offset(&Pixels::new(0, 0, false, Vec::new())), 0, "no pixels, no panic");
        // From thumbnails up, larger variants never get more quality than smaller ones.
        let offsets: Vec<i16> = (5..=40).map(|w| size_offset(&flat(w * 60, w * 40))).collect();
        assert!(offsets.windows(2).all(|pair| pair[0] >= pair[1]), "{offsets:?}");
    }

    #[test]
    fn the_quality_stays_within_1_to_99_and_lossless_stays_lossless() {
        let iq = Tuning::ImageQuality;
        let small_night = image(320, 180, |_, _| [3, 3, 3]);
        assert_eq!(quality(41, &small_night, iq), 41 + MAX_DARK_BOOST + MAX_SIZE_BOOST as u8);
        assert_eq!(quality(95, &small_night, iq), 99, "boosts never make a lossy quality lossless");
        assert_eq!(quality(100, &small_night, iq), 100);
        let wide_day = image(2400, 1600, |_, _| [120, 140, 160]);
        assert_eq!(quality(41, &wide_day, iq), 41 - MAX_SIZE_CUT as u8);
        assert_eq!(quality(2, &wide_day, iq), 1);
    }

    #[test]
    fn the_size_boost_can_be_left_out_and_libaom_3_11_has_no_size_offset() {
        let small = image(400, 225, |_, _| [120, 140, 160]);
        let wide = image(1600, 900, |_, _| [120, 140, 160]);
        assert_eq!(quality(41, &small, Tuning::ImageQuality), 48);
        assert_eq!(quality_without_size_boost(41, &small, Tuning::ImageQuality), 41);
        assert_eq!(quality_without_size_boost(41, &wide, Tuning::ImageQuality), 37, "the cut stays");
        for pixels in [&small, &wide] {
            assert_eq!(quality(41, pixels, Tuning::Ssim), 41);
            assert_eq!(quality_without_size_boost(41, pixels, Tuning::Ssim), 41);
        }
    }

    #[test]
    fn darker_images_get_more_quality() {
        let night = image(32, 32, |x, y| [(x % 3) as u8, (y % 5) as u8, 12]);
        assert_eq!(quality_boost(&night), MAX_DARK_BOOST);
        let half = image(32, 32, |x, _| if x < 16 { [5, 5, 5] } else { [200, 180, 160] });
        assert_eq!(quality_boost(&half), MAX_DARK_BOOST / 2);
        let day = image(32, 32, |_, _| [120, 140, 160]);
        assert_eq!(quality_boost(&day), 0);
    }
}
