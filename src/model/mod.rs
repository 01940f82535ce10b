//! The validated site: types that can only hold values `validate` has accepted.
//!
//! Nothing here is deserialised; `load::raw` holds the shapes as written and `validate`
//! turns them into these.

pub(crate) mod delivery;
pub(crate) mod image;
pub(crate) mod money;
pub(crate) mod site_path;

use std::num::NonZeroU32;

pub(crate) use delivery::{CacheClass, CacheTag, ClassHeaders, Delivery};
pub(crate) use image::{ImageFacts, SourceFormat};
pub(crate) use money::{Currency, Money};
pub(crate) use site_path::SitePath;
use time::OffsetDateTime;

use crate::diagnostic::Location;

/// The folder of the index's archives (`/drops/ended/`, `/drops/ended/2/`, …): no drop may
/// have this slug.
pub(crate) const ARCHIVE_FOLDER: &str = "drops";

/// A whole site, ready to render: configuration plus the drops to build, ordered by start
/// time (newest first) and slug.
#[derive(Clone, Debug)]
pub(crate) struct Site {
    pub config: SiteConfig,
    pub drops: Vec<Drop>,
    /// Drafts checked but left out (without `--drafts`).
    pub skipped_drafts: usize,
}

/// `dropgen.yaml`, validated.
#[derive(Clone, Debug)]
pub(crate) struct SiteConfig {
    /// Absolute URL of the site's root, always ending in `/`.
    pub base_url: url::Url,
    pub title: String,
    pub description: String,
    pub currency: Currency,
    /// A BCP 47 language tag for `<html lang>`.
    pub locale: String,
    /// Absolute URL of the inventory API, without a trailing `/`.
    pub inventory_api: Option<String>,
    pub checkout_url: Option<CheckoutTemplate>,
    pub images: ImageSettings,
    pub telemetry_url: Option<String>,
    pub delivery: Delivery,
}

/// A checkout URL with `{sku}` and `{drop}` placeholders, checked to form an absolute URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CheckoutTemplate(String);

impl CheckoutTemplate {
    /// The placeholders a checkout URL may contain.
    pub(crate) const PLACEHOLDERS: [&'static str; 2] = ["{sku}", "{drop}"];

    pub(crate) fn new_unchecked(template: String) -> Self {
        CheckoutTemplate(template)
    }

    /// The checkout URL of one product. SKUs and slugs only hold URL-safe characters, so
    /// they are inserted as they are.
    pub(crate) fn expand(&self, sku: &str, drop: &str) -> String {
        self.0.replace("{sku}", sku).replace("{drop}", drop)
    }
}

/// `images:` of `dropgen.yaml`: what the image stage produces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ImageSettings {
    /// Target widths in pixels, ascending, without duplicates.
    pub widths: Vec<u32>,
    /// Modern formats to produce besides the JPEG/PNG fallback, in preference order.
    pub formats: Vec<ImageFormat>,
    pub quality: Quality,
    /// Sources with more pixels than this many million are refused before decoding.
    pub max_megapixels: u32,
    /// libaom's speed, 0 (slowest, smallest) to 10.
    pub avif_speed: u8,
    pub avif_chroma: AvifChroma,
}

/// How AVIF stores colour: chosen per image from its pixels (`auto`), always at a quarter of
/// the resolution of brightness (4:2:0, smaller), or always at full resolution (4:4:4,
/// sharper colour edges).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum AvifChroma {
    Auto,
    Yuv420,
    Yuv444,
}

impl AvifChroma {
    pub(crate) const ALL: [AvifChroma; 3] = [AvifChroma::Auto, AvifChroma::Yuv420, AvifChroma::Yuv444];

    pub(crate) fn name(self) -> &'static str {
        match self {
            AvifChroma::Auto => "auto",
            AvifChroma::Yuv420 => "4:2:0",
            AvifChroma::Yuv444 => "4:4:4",
        }
    }
}

/// Modern output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum ImageFormat {
    Avif,
    Webp,
}

impl ImageFormat {
    pub(crate) const ALL: [ImageFormat; 2] = [ImageFormat::Avif, ImageFormat::Webp];

    pub(crate) fn name(self) -> &'static str {
        match self {
            ImageFormat::Avif => "avif",
            ImageFormat::Webp => "webp",
        }
    }
}

/// Encoder quality per format, each 1–100.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Quality {
    pub avif: u8,
    pub webp: u8,
    pub jpeg: u8,
}

impl Default for ImageSettings {
    fn default() -> Self {
        ImageSettings {
            widths: vec![320, 640, 960, 1280, 1920],
            formats: vec![ImageFormat::Avif, ImageFormat::Webp],
            // AVIF 41 on libaom 3.14's tune=iq scale for a 0.5-megapixel variant, more for
            // narrower ones and less for wider ones, raised for dark and for detailed pictures,
            // and a speed step slower when small (images::rule); WebP 80. AVIF against sharp,
            // each tool against its own resize: 0.98x bytes, 0.98x DSSIM on `dev2`, where it
            // was calibrated; 0.77x, 0.99x on `dev` (docs/benchmarks.md).
            quality: Quality { avif: 41, webp: 80, jpeg: 82 },
            // A 24-megapixel camera photo fits with room to spare; a 20000×20000 bomb does not.
            max_megapixels: 100,
            // Chosen by measurement against sharp (docs/benchmarks.md).
            avif_speed: 6,
            avif_chroma: AvifChroma::Auto,
        }
    }
}

/// A drop's slug: `[a-z0-9-]+`, the last part of its page URL.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Slug(String);

impl Slug {
    /// The longest slug, in bytes.
    pub(crate) const MAX_LEN: usize = 100;

    pub(crate) fn parse(text: &str) -> Option<Slug> {
        let valid = !text.is_empty()
            && text.len() <= Slug::MAX_LEN
            && text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !text.starts_with('-')
            && !text.ends_with('-');
        valid.then(|| Slug(text.to_owned()))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// The one slug algorithm, for slug suggestions and image file names: `text` in lower case,
/// every run of characters other than ASCII letters and digits one dash, no dash at either
/// end, at most `max_chars` long. `None` when nothing is left.
pub(crate) fn slugify(text: &str, max_chars: usize) -> Option<String> {
    let mut slug = String::new();
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug: String = slug.trim_end_matches('-').chars().take(max_chars).collect();
    let slug = slug.trim_end_matches('-');
    (!slug.is_empty()).then(|| slug.to_owned())
}

/// A product's stock-keeping unit: `[A-Za-z0-9._-]+`, unique across the site.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Sku(String);

impl Sku {
    /// The longest SKU, in bytes.
    pub(crate) const MAX_LEN: usize = 64;

    pub(crate) fn parse(text: &str) -> Option<Sku> {
        let valid = !text.is_empty()
            && text.len() <= Sku::MAX_LEN
            && text.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        valid.then(|| Sku(text.to_owned()))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// A moment as the marketer wrote it: the instant plus the UTC offset, which is kept for
/// display ("10:00 +01:00" reads better to the author than the UTC equivalent).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Timestamp(pub OffsetDateTime);

/// One drop, validated.
#[derive(Clone, Debug)]
pub(crate) struct Drop {
    pub slug: Slug,
    /// `drops/<folder>/drop.yaml`, for messages.
    pub file: String,
    pub title: String,
    pub summary: String,
    pub starts_at: Timestamp,
    pub ends_at: Option<Timestamp>,
    pub hero: ImageRef,
    /// Markdown source.
    pub description: String,
    pub products: Vec<Product>,
    pub stream: Option<Stream>,
    pub tags: Vec<String>,
    pub draft: bool,
}

/// One product of a drop.
#[derive(Clone, Debug)]
pub(crate) struct Product {
    pub sku: Sku,
    pub name: String,
    pub price: Money,
    pub compare_at_price: Option<Money>,
    pub images: Vec<ImageRef>,
    /// Markdown source.
    pub description: String,
    pub limit_per_customer: Option<NonZeroU32>,
    /// Units the inventory service starts the SKU with (`inventory.json`); `None` leaves
    /// the stock to the operator.
    pub stock: Option<u32>,
    pub options: Vec<String>,
    /// The product's checkout URL, placeholders filled in.
    pub checkout_url: String,
}

/// A live-stream embed and the link shown when it cannot load.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Stream {
    pub embed_url: String,
    pub fallback_url: Option<String>,
}

/// A reference from a drop to a source image that exists and can be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ImageRef {
    pub source: SitePath,
    pub alt: String,
    pub facts: ImageFacts,
    /// Where the reference is written, for errors found later (e.g. while encoding).
    pub location: Location,
    /// The field holding the path, e.g. `products[0].images[1].src`.
    pub field: String,
}
