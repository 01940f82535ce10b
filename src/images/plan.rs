//! The pure half of the image stage: which sources, which sizes, which formats, and what every
//! variant is called. Nothing here reads a file or a pixel, so the arithmetic is tested alone.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};

use crate::diagnostic::Location;
use crate::model::{CacheTag, ImageFacts, ImageFormat, ImageSettings, Site, SitePath};

use super::encode::{self, Encoding, OutputFormat};

/// Every distinct source image of the site (by content) and the variants to make of it.
#[derive(Debug, Default)]
pub(crate) struct ImagePlan {
    /// In order of first reference, so everything derived from the plan is deterministic.
    pub(crate) sources: Vec<SourcePlan>,
    /// Which source each referenced path is; two paths with the same bytes share one.
    pub(crate) by_path: BTreeMap<SitePath, usize>,
}

/// One distinct source image.
#[derive(Debug)]
pub(crate) struct SourcePlan {
    /// The first path that refers to it: read for the pixels, and its stem names the variants.
    pub(crate) path: SitePath,
    pub(crate) stem: String,
    pub(crate) facts: ImageFacts,
    /// Every place it is referenced, for errors found while decoding.
    pub(crate) uses: Vec<ImageUse>,
    /// Drops that show it, for cache tags.
    pub(crate) tags: BTreeSet<CacheTag>,
    /// Output sizes of the modern formats, narrowest first.
    pub(crate) sizes: Vec<Size>,
    /// The few of them the JPEG or PNG fallback is made at (see [`fallback_sizes`]).
    pub(crate) fallback_sizes: Vec<Size>,
    /// The encodings to make, the fallback last. Whether the fallback is JPEG or PNG depends
    /// on the pixels (real transparency), so it is settled when they are read.
    pub(crate) encodings: Vec<Encoding>,
}

/// A reference to an image from a drop file.
#[derive(Clone, Debug)]
pub(crate) struct ImageUse {
    pub(crate) location: Location,
    pub(crate) field: String,
}

/// Pixel dimensions of one variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Size {
    pub(crate) width: u32,
    pub(crate) height: u32,
}

impl SourcePlan {
    /// The source's displayed pixel count, what decoding it costs in memory.
    pub(crate) fn pixels(&self) -> u64 {
        u64::from(self.facts.width) * u64::from(self.facts.height)
    }

    /// The sizes one of its encodings is made at, narrowest first.
    pub(crate) fn sizes_of(&self, encoding: &Encoding) -> &[Size] {
        match encoding {
            Encoding::Fallback { .. } => &self.fallback_sizes,
            _ => &self.sizes,
        }
    }

    /// Every variant to make: `(index into encodings, size)`, in encoding order.
    pub(crate) fn slots(&self) -> impl Iterator<Item = (usize, Size)> + '_ {
        self.encodings
            .iter()
            .enumerate()
            .flat_map(|(index, encoding)| self.sizes_of(encoding).iter().map(move |&size| (index, size)))
    }
}

/// One of `count` parts of a build's image work (`dropgen build --shard INDEX/COUNT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Shard {
    /// 1 to `count`.
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// Reads `K/N` with 1 ≤ K ≤ N.
    pub(crate) fn parse(text: &str) -> Result<Shard, String> {
        let bad = || format!("`{text}` is not a shard: give `K/N` with 1 <= K <= N, such as `1/4`");
        let (index, count) = text.split_once('/').ok_or_else(bad)?;
        let (index, count) = (
            index.trim().parse::<u32>().map_err(|_| bad())?,
            count.trim().parse::<u32>().map_err(|_| bad())?,
        );
        if index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// Whether the source with this content hash (hex SHA-256) falls to this shard. By
    /// content, not by position, so adding a drop moves no other source to another shard.
    pub(crate) fn owns(self, sha256: &str) -> bool {
        let prefix = sha256.get(..16).and_then(|hex| u64::from_str_radix(hex, 16).ok()).unwrap_or(0);
        prefix % u64::from(self.count) == u64::from(self.index - 1)
    }
}

impl ImagePlan {
    /// Only the sources that fall to `shard`.
    pub(crate) fn shard(self, shard: Shard) -> ImagePlan {
        let mut index_of = Vec::with_capacity(self.sources.len());
        let mut sources = Vec::new();
        for source in self.sources {
            if shard.owns(&source.facts.sha256) {
                index_of.push(Some(sources.len()));
                sources.push(source);
            } else {
                index_of.push(None);
            }
        }
        let by_path = self
            .by_path
            .into_iter()
            .filter_map(|(path, index)| Some((path, index_of.get(index).copied().flatten()?)))
            .collect();
        ImagePlan { sources, by_path }
    }
}

/// Plans every image the site's drops refer to (heroes and product images).
pub(crate) fn plan(site: &Site) -> ImagePlan {
    let settings = &site.config.images;
    let mut plan = ImagePlan::default();
    let mut by_hash: BTreeMap<&str, usize> = BTreeMap::new();
    for drop in &site.drops {
        let images = std::iter::once(&drop.hero).chain(drop.products.iter().flat_map(|p| p.images.iter()));
        for image in images {
            let index = *by_hash.entry(image.facts.sha256.as_str()).or_insert_with(|| {
                let sizes = sizes(image.facts.width, image.facts.height, &settings.widths);
                plan.sources.push(SourcePlan {
                    path: image.source.clone(),
                    stem: url_safe_stem(image.source.stem()),
                    facts: image.facts.clone(),
                    uses: Vec::new(),
                    tags: BTreeSet::from([CacheTag::Site]),
                    fallback_sizes: fallback_sizes(&sizes),
                    sizes,
                    encodings: encodings(settings),
                });
                plan.sources.len() - 1
            });
            let source = &mut plan.sources[index];
            source.uses.push(ImageUse { location: image.location.clone(), field: image.field.clone() });
            source.tags.insert(CacheTag::Drop(drop.slug.clone()));
            plan.by_path.insert(image.source.clone(), index);
        }
    }
    plan
}

/// The tallest variant: WebP cannot encode an edge longer than this.
pub(crate) const MAX_HEIGHT: u32 = 16_383;

/// The configured widths narrower than the source, plus the source's own width capped at the
/// widest configured one: never upscaled, and the full resolution is always on offer. Very
/// tall sources are capped at the width that keeps them [`MAX_HEIGHT`] high.
pub(crate) fn sizes(source_width: u32, source_height: u32, widths: &[u32]) -> Vec<Size> {
    let widest = widths.iter().copied().max().unwrap_or(source_width);
    let fits_height = u64::from(source_width) * u64::from(MAX_HEIGHT) / u64::from(source_height.max(1));
    let fits_height = u32::try_from(fits_height).unwrap_or(u32::MAX).max(1);
    let top = source_width.min(widest).min(fits_height);
    let mut chosen: Vec<u32> = widths.iter().copied().filter(|&w| w < top).collect();
    chosen.push(top);
    chosen.sort_unstable();
    chosen.dedup();
    chosen
        .into_iter()
        .map(|width| Size { width, height: scaled_height(source_width, source_height, width) })
        .collect()
}

/// The fallback's width for social previews (`og:image`) and for browsers without `srcset`:
/// the narrowest size at least this wide is made, else the widest.
pub(crate) const FALLBACK_WIDE: u32 = 1200;

/// The sizes of the JPEG or PNG fallback: the narrowest size and a wide one (see
/// [`FALLBACK_WIDE`]). Only browsers that read neither AVIF nor WebP fetch it, a few percent
/// of traffic, and at every width it was most of the output's bytes (lossless PNG above all),
/// so two widths serve them: a small screen and everything else.
pub(crate) fn fallback_sizes(sizes: &[Size]) -> Vec<Size> {
    let wide = sizes.iter().find(|size| size.width >= FALLBACK_WIDE).or(sizes.last());
    let mut chosen: Vec<Size> = sizes.first().into_iter().chain(wide).copied().collect();
    chosen.dedup();
    chosen
}

/// The height that keeps the aspect ratio at `width`, rounded to the nearest pixel, at least 1.
fn scaled_height(source_width: u32, source_height: u32, width: u32) -> u32 {
    if width == source_width {
        return source_height;
    }
    let exact = u64::from(source_height) * u64::from(width);
    let rounded = (exact + u64::from(source_width) / 2) / u64::from(source_width);
    u32::try_from(rounded.max(1)).unwrap_or(u32::MAX)
}

/// The configured modern formats, then the fallback.
fn encodings(settings: &ImageSettings) -> Vec<Encoding> {
    let mut list: Vec<Encoding> = settings
        .formats
        .iter()
        .map(|format| match format {
            ImageFormat::Avif => Encoding::avif(settings),
            ImageFormat::Webp => Encoding::webp(settings),
        })
        .collect();
    list.push(Encoding::fallback(settings));
    list
}

/// What a variant is called: `_img/<stem>-<hash>-<width>.<ext>`. The hash covers the source's
/// bytes, the format, its settings and the encoder's version, so any change that can change
/// the bytes gives a new URL, while widths of one source share a recognisable name.
pub(crate) fn variant_path(
    source: &SourcePlan,
    format: OutputFormat,
    encoding: &Encoding,
    width: u32,
) -> String {
    let hash = &name_hash(&source.facts.sha256, format, encoding)[..10];
    format!("{}/{}-{hash}-{width}.{}", super::IMAGE_DIR, source.stem, format.extension())
}

fn name_hash(source_sha256: &str, format: OutputFormat, encoding: &Encoding) -> String {
    let mut hasher = Sha256::new();
    hasher.update(source_sha256.as_bytes());
    hasher.update(b"\0");
    hasher.update(encoding.fingerprint(format).as_bytes());
    crate::output::hex(&hasher.finalize())
}

/// The cache key of one variant: everything that decides its bytes.
pub(crate) fn cache_key(
    source_sha256: &str,
    format: OutputFormat,
    encoding: &Encoding,
    size: Size,
) -> String {
    let mut hasher = Sha256::new();
    hasher.update(source_sha256.as_bytes());
    hasher.update(b"\0");
    hasher.update(encoding.fingerprint(format).as_bytes());
    hasher.update(format!("\0{}x{}\0{}", size.width, size.height, encode::PIPELINE_VERSION).as_bytes());
    crate::output::hex(&hasher.finalize())
}

/// The source's file stem in lower case with everything but ASCII letters and digits turned
/// into single dashes, at most 60 characters; `image` when nothing is left.
pub(crate) fn url_safe_stem(stem: &str) -> String {
    crate::model::slugify(stem, 60).unwrap_or_else(|| "image".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_split_sources_by_content_each_to_exactly_one() {
        assert_eq!(Shard::parse("2/3"), Ok(Shard { index: 2, count: 3 }));
        for bad in ["0/3", "4/3", "3", "/3", "x/y", "1/0"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
        let hashes: Vec<String> = (0..300u32)
            .map(|n| format!("{:016x}{}", u64::from(n).wrapping_mul(0x9e37_79b9_7f4a_7c15), "0".repeat(48)))
            .collect();
        let shards: Vec<Shard> = (1..=3).map(|index| Shard { index, count: 3 }).collect();
        for hash in &hashes {
            assert_eq!(shards.iter().filter(|shard| shard.owns(hash)).count(), 1, "{hash}");
        }
        let first = hashes.iter().filter(|hash| shards[0].owns(hash)).count();
        assert!((70..=130).contains(&first), "an uneven split: {first} of 300");
    }

    fn widths(sizes: &[Size]) -> Vec<u32> {
        sizes.iter().map(|s| s.width).collect()
    }

    #[test]
    fn wide_sources_get_every_configured_width() {
        let sizes = sizes(4000, 3000, &[320, 640, 960, 1280, 1920]);
        assert_eq!(widths(&sizes), [320, 640, 960, 1280, 1920]);
        assert_eq!(sizes[0], Size { width: 320, height: 240 });
        assert_eq!(sizes[4], Size { width: 1920, height: 1440 });
    }

    #[test]
    fn sources_are_never_upscaled_and_their_own_width_is_offered() {
        assert_eq!(widths(&sizes(1000, 500, &[320, 640, 960, 1280, 1920])), [320, 640, 960, 1000]);
        assert_eq!(widths(&sizes(960, 500, &[320, 640, 960, 1280])), [320, 640, 960]);
        // Narrower than every configured width: the source size only.
        assert_eq!(sizes(200, 100, &[320, 640]), [Size { width: 200, height: 100 }]);
    }

    #[test]
    fn heights_round_to_the_nearest_pixel_and_never_reach_zero() {
        assert_eq!(sizes(3, 2, &[2])[0], Size { width: 2, height: 1 });
        assert_eq!(sizes(1000, 333, &[500])[0], Size { width: 500, height: 167 });
        assert_eq!(sizes(5000, 1, &[320])[0], Size { width: 320, height: 1 });
        assert_eq!(sizes(u32::MAX, u32::MAX, &[1])[0], Size { width: 1, height: 1 });
    }

    #[test]
    fn very_tall_sources_are_narrowed_to_an_encodable_height() {
        let sizes = sizes(1200, 20_000, &[320, 640, 960, 1280]);
        assert_eq!(widths(&sizes), [320, 640, 960, 982]);
        assert!(sizes.iter().all(|size| size.height <= MAX_HEIGHT), "{sizes:?}");
        assert_eq!(sizes.last().unwrap().height, 16_367);
        let needle = super::sizes(1, 100_000, &[320]);
        assert_eq!(needle, [Size { width: 1, height: 100_000 }], "one pixel wide is as narrow as it gets");
    }

    #[test]
    fn the_fallback_is_made_narrow_and_wide_enough_for_social_previews() {
        assert_eq!(widths(&fallback_sizes(&sizes(4000, 3000, &[320, 640, 960, 1280, 1920]))), [320, 1280]);
        assert_eq!(widths(&fallback_sizes(&sizes(4000, 3000, &[400, 800, 1200, 1600]))), [400, 1200]);
        // A source narrower than FALLBACK_WIDE: its own width is the wide one.
        assert_eq!(widths(&fallback_sizes(&sizes(1000, 800, &[320, 640, 960, 1280]))), [320, 1000]);
        assert_eq!(widths(&fallback_sizes(&sizes(200, 100, &[320, 640]))), [200]);
        assert_eq!(fallback_sizes(&[]), []);
    }

    #[test]
    fn unordered_or_duplicated_widths_give_ordered_unique_sizes() {
        assert_eq!(widths(&sizes(5000, 5000, &[960, 320, 960])), [320, 960]);
    }

    #[test]
    fn stems_become_url_safe() {
        assert_eq!(url_safe_stem("Hero Shot (final)"), "hero-shot-final");
        assert_eq!(url_safe_stem("ÄÖ"), "image");
        assert_eq!(url_safe_stem("blue_herd.detail"), "blue-herd-detail");
        assert_eq!(url_safe_stem(&format!("{}_x", "a".repeat(59))), "a".repeat(59));
    }

    #[test]
    fn names_change_with_bytes_and_settings_but_not_with_width() {
        let settings = ImageSettings::default();
        let webp = Encoding::webp(&settings);
        let sha = "ab".repeat(32);
        let a = name_hash(&sha, OutputFormat::Webp, &webp);
        assert_eq!(a, name_hash(&sha, OutputFormat::Webp, &webp));
        assert_ne!(a, name_hash(&"cd".repeat(32), OutputFormat::Webp, &webp));
        let sharper = Encoding::webp(&ImageSettings {
            quality: crate::model::Quality { webp: 90, ..settings.quality },
            ..settings.clone()
        });
        assert_ne!(a, name_hash(&sha, OutputFormat::Webp, &sharper));
        let small = Size { width: 320, height: 200 };
        let large = Size { width: 640, height: 400 };
        assert_ne!(
            cache_key(&sha, OutputFormat::Webp, &webp, small),
            cache_key(&sha, OutputFormat::Webp, &webp, large)
        );
    }
}
