//! The shapes of `dropgen.yaml` and `drop.yaml` as written, before any validation.
//!
//! Every value keeps its position (`Spanned`) so validation can point at it. Values whose
//! rules are ours to explain (prices, times, URLs, limits) are read as their exact text
//! ([`ScalarText`]) and checked in `validate`, which gives better messages than a serde type
//! error and never rounds a price through a float. Unknown keys are rejected here.
//!
//! The JSON Schemas editors use are derived from these types (`crate::schema`), so a key
//! exists in a schema exactly when it is a field here.

use std::collections::BTreeSet;
use std::fmt;

use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use serde_saphyr::Spanned;

use crate::diagnostic::Location;
use crate::model::{Delivery, ImageSettings};
use crate::schema::{
    CheckoutUrl, ChromaName, CurrencyCode, Filled, FormatName, Header, HeaderOrEmpty, Markdown, Money, Text,
    Time, Url, Whole, default_formats, sku_pattern, slug_pattern,
};
use crate::validate::config::{
    AVIF_SPEED_RANGE, GRACE_DAYS_RANGE, IMAGE_WIDTH_RANGE, MAX_IMAGE_WIDTHS, MEGAPIXELS_RANGE, QUALITY_RANGE,
};
use crate::validate::drop::{LIMIT_PER_CUSTOMER_RANGE, STOCK_RANGE};

/// A value with its position in the file.
pub(crate) type S<T> = Spanned<T>;

// Each field's doc comment is also its description in the JSON Schema (`crate::schema`), where
// a marketer reads it on hover: it says what the key means to them, and `{CONSTANT}` stands for
// a constant's value there. `with` names the value's shape in the schema, since `S<…>` only
// adds a position: `Option<…>` when the key may be left out or empty, without it when
// `validate` requires the key. Ranges, patterns and defaults name the constants `validate`
// checks with.

/// Site configuration of dropgen: `dropgen.yaml` at the root of the site. Each drop lives in
/// `drops/<slug>/drop.yaml`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    /// Absolute address the site is served from, the root of its host (`http://` only for
    /// localhost previews). Used for canonical links, Open Graph, the sitemap and purge lists.
    #[schemars(with = "Url", example = "https://drops.example.com")]
    pub(crate) base_url: Option<S<String>>,
    /// Site name; defaults to the host of `base_url`.
    #[schemars(with = "Option<Text>")]
    pub(crate) title: Option<S<String>>,
    /// Meta description of the index page.
    #[schemars(with = "Option<Text>")]
    pub(crate) description: Option<S<String>>,
    /// Theme name. `themes/<name>/` in the site overrides the built-in default theme file by
    /// file.
    #[schemars(with = "Option<Filled>", example = &"default")]
    pub(crate) theme: Option<S<String>>,
    /// ISO 4217 code of product prices. Default `USD`.
    #[schemars(with = "Option<CurrencyCode>")]
    pub(crate) currency: Option<S<String>>,
    /// BCP 47 language tag for `<html lang>`. Default `en`.
    #[schemars(
        with = "Option<String>",
        pattern(r"^\s*[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*\s*$"),
        extend("patternErrorMessage" = "a BCP 47 tag such as `en`, `en-US` or `ja-JP`"),
        example = &"en",
        example = "en-US",
        example = "ja-JP"
    )]
    pub(crate) locale: Option<S<String>>,
    /// Absolute URL of the live inventory API (docs/inventory-api.md), written into each page
    /// for the hydration script. Without it pages show no live stock.
    #[schemars(with = "Option<Url>", example = "https://inventory.example.com/v1")]
    pub(crate) inventory_api: Option<S<String>>,
    /// Checkout link of every drop's products: a link template with the placeholders `{sku}`
    /// and `{drop}`. Every drop needs one, from `dropgen.yaml` or its own.
    #[schemars(with = "Option<CheckoutUrl>")]
    pub(crate) checkout_url: Option<S<String>>,
    /// How images are published: responsive widths, formats and encoder settings.
    #[schemars(with = "Option<RawImageSettings>")]
    pub(crate) images: Option<S<RawImageSettings>>,
    /// Where the hydration script beacons inventory errors; nothing is sent when unset.
    #[schemars(with = "Option<Url>")]
    pub(crate) telemetry_url: Option<S<String>>,
    /// Cache headers per cache class; anything not given keeps its default.
    #[schemars(with = "Option<RawHeaders>")]
    pub(crate) headers: Option<S<RawHeaders>>,
    /// CDN purge request settings.
    #[schemars(with = "Option<RawPurge>")]
    pub(crate) purge: Option<S<RawPurge>>,
}

/// `headers:` in `dropgen.yaml`: the headers of each cache class.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHeaders {
    /// Headers of the `immutable` cache class: content-hashed files (images, fingerprinted
    /// CSS and JS).
    #[schemars(with = "Option<RawClassHeaders>")]
    pub(crate) immutable: Option<S<RawClassHeaders>>,
    /// Headers of the `data` cache class: stable URLs that are not pages (sitemap,
    /// robots.txt, unhashed theme files).
    #[schemars(with = "Option<RawClassHeaders>")]
    pub(crate) data: Option<S<RawClassHeaders>>,
    /// Headers of the `document` cache class: HTML pages.
    #[schemars(with = "Option<RawClassHeaders>")]
    pub(crate) document: Option<S<RawClassHeaders>>,
}

/// One cache class's headers.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawClassHeaders {
    /// `Cache-Control`, for browsers.
    #[schemars(with = "Option<Header>", example = "public, max-age=300")]
    pub(crate) cache_control: Option<S<String>>,
    /// `CDN-Cache-Control`, for the CDN; empty to send none.
    #[schemars(with = "Option<HeaderOrEmpty>", example = "public, max-age=3600, stale-while-revalidate=60")]
    pub(crate) cdn_cache_control: Option<S<String>>,
}

/// `purge:` in `dropgen.yaml`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPurge {
    /// URLs per Cloudflare purge request.
    #[schemars(
        with = "Option<Whole>",
        range(min = *Delivery::CLOUDFLARE_BATCH_RANGE.start(), max = *Delivery::CLOUDFLARE_BATCH_RANGE.end()),
        extend("default" = Delivery::default().cloudflare_batch_size)
    )]
    pub(crate) cloudflare_batch_size: Option<S<ScalarText>>,
    /// Days a removed content-hashed file stays before it may be deleted (cached pages still
    /// refer to it).
    #[schemars(
        with = "Option<Whole>",
        range(min = *GRACE_DAYS_RANGE.start(), max = *GRACE_DAYS_RANGE.end()),
        extend("default" = Delivery::default().removed_asset_grace_days)
    )]
    pub(crate) removed_asset_grace_days: Option<S<ScalarText>>,
}

/// `images:` in `dropgen.yaml`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawImageSettings {
    /// Output widths in pixels, {IMAGE_WIDTH_RANGE} each, at most {MAX_IMAGE_WIDTHS}. A source
    /// is never upscaled.
    #[schemars(
        with = "Option<Vec<Whole>>",
        length(min = 1, max = MAX_IMAGE_WIDTHS),
        inner(range(min = *IMAGE_WIDTH_RANGE.start(), max = *IMAGE_WIDTH_RANGE.end())),
        extend("default" = ImageSettings::default().widths)
    )]
    pub(crate) widths: Option<S<Vec<S<ScalarText>>>>,
    /// Modern formats, in the order browsers should prefer them. JPEG (PNG for transparent
    /// images) is always made as the fallback.
    #[schemars(with = "Option<BTreeSet<FormatName>>", extend("default" = default_formats()))]
    pub(crate) formats: Option<S<Vec<S<String>>>>,
    /// Encoder quality per format, {QUALITY_RANGE}.
    #[schemars(with = "Option<RawQuality>")]
    pub(crate) quality: Option<S<RawQuality>>,
    /// Larger sources are refused before they are decoded.
    #[schemars(
        with = "Option<Whole>",
        range(min = *MEGAPIXELS_RANGE.start(), max = *MEGAPIXELS_RANGE.end()),
        extend("default" = ImageSettings::default().max_megapixels)
    )]
    pub(crate) max_megapixels: Option<S<ScalarText>>,
    /// libaom speed: lower is slower and a little smaller.
    #[schemars(
        with = "Option<Whole>",
        range(min = *AVIF_SPEED_RANGE.start(), max = *AVIF_SPEED_RANGE.end()),
        extend("default" = ImageSettings::default().avif_speed)
    )]
    pub(crate) avif_speed: Option<S<ScalarText>>,
    /// AVIF chroma subsampling: `auto` (the default) chooses per image from its pixels;
    /// `"4:2:0"` is smaller, `"4:4:4"` keeps colour edges sharp. Quote the latter two.
    #[schemars(with = "Option<ChromaName>")]
    pub(crate) avif_chroma: Option<S<ScalarText>>,
}

/// `images.quality:` in `dropgen.yaml`, one encoder quality per output format.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawQuality {
    /// AVIF quality of a 0.5-megapixel variant, on libaom 3.14's tune=iq scale (translated for
    /// older libaoms): narrower variants get more, wider ones less, and dark and detailed
    /// pictures more.
    #[schemars(
        with = "Option<Whole>",
        range(min = *QUALITY_RANGE.start(), max = *QUALITY_RANGE.end()),
        extend("default" = ImageSettings::default().quality.avif)
    )]
    pub(crate) avif: Option<S<ScalarText>>,
    /// WebP quality, lossy.
    #[schemars(
        with = "Option<Whole>",
        range(min = *QUALITY_RANGE.start(), max = *QUALITY_RANGE.end()),
        extend("default" = ImageSettings::default().quality.webp)
    )]
    pub(crate) webp: Option<S<ScalarText>>,
    /// JPEG quality, the fallback (mozjpeg).
    #[schemars(
        with = "Option<Whole>",
        range(min = *QUALITY_RANGE.start(), max = *QUALITY_RANGE.end()),
        extend("default" = ImageSettings::default().quality.jpeg)
    )]
    pub(crate) jpeg: Option<S<ScalarText>>,
}

/// One product drop of a dropgen site: `drops/<slug>/drop.yaml`, with its images beside it.
/// The folder name is the slug and the page is served at `/<slug>/`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDrop {
    /// Overrides the folder name as the page's slug (its URL): lower-case letters, digits and
    /// dashes, at most {Slug::MAX_LEN} characters.
    #[schemars(
        with = "Option<Text>",
        pattern(slug_pattern()),
        extend("patternErrorMessage" = "lower-case letters, digits and dashes, not starting or ending with a dash"),
        example = "spring-sneakers"
    )]
    pub(crate) slug: Option<S<String>>,
    /// The drop's name, the page's only `<h1>`.
    #[schemars(with = "Filled")]
    pub(crate) title: Option<S<String>>,
    /// Plain text for the meta description and link previews; a warning above
    /// {SUMMARY_SOFT_LIMIT} characters.
    #[schemars(with = "Filled")]
    pub(crate) summary: Option<S<String>>,
    /// When the drop opens: RFC 3339 with a time zone offset.
    #[schemars(with = "Time")]
    pub(crate) starts_at: Option<S<String>>,
    /// When the drop closes, after `starts_at`; without it the drop runs until stock is gone:
    /// RFC 3339 with a time zone offset.
    #[schemars(with = "Option<Time>")]
    pub(crate) ends_at: Option<S<String>>,
    /// The drop's main image, also its `og:image`.
    #[schemars(with = "RawImage")]
    pub(crate) hero: Option<S<RawImage>>,
    /// The story of the drop: markdown. Raw HTML is sanitised; images in it are removed (use
    /// `hero` and `images`).
    #[schemars(with = "Option<Markdown>")]
    pub(crate) description: Option<S<String>>,
    /// One or more products.
    #[schemars(with = "Vec<RawProduct>", length(min = 1))]
    pub(crate) products: Option<S<Vec<S<RawProduct>>>>,
    /// Overrides the site's `checkout_url` for this drop: a link template with the
    /// placeholders `{sku}` and `{drop}`. Every drop needs one, from `dropgen.yaml` or its own.
    #[schemars(with = "Option<CheckoutUrl>")]
    pub(crate) checkout_url: Option<S<String>>,
    /// A live stream shown on the page.
    #[schemars(with = "Option<RawStream>")]
    pub(crate) stream: Option<S<RawStream>>,
    /// Short labels.
    #[schemars(with = "Option<BTreeSet<Filled>>", example = ["new", "limited"])]
    pub(crate) tags: Option<S<Vec<S<String>>>>,
    /// `true` to leave the drop out of `dropgen build` unless `--drafts` is given; `dropgen serve`
    /// shows it, marked as a draft. Its problems are warnings until it is published.
    #[schemars(with = "Option<bool>", extend("default" = false))]
    pub(crate) draft: Option<S<bool>>,
}

/// An image: the file, relative to the drop folder, and what it shows.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawImage {
    /// The image file, relative to the drop folder: JPEG, PNG or WebP. It may not leave the
    /// site folder.
    #[schemars(with = "Filled", example = "hero.jpg")]
    pub(crate) src: Option<S<String>>,
    /// What the image shows, for people using screen readers and when it cannot load.
    #[schemars(with = "Filled")]
    pub(crate) alt: Option<S<String>>,
}

/// A product of the drop.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawProduct {
    /// Stock-keeping unit: letters, digits, `.`, `_`, `-`, at most {Sku::MAX_LEN} characters,
    /// unique across the whole site (drafts included). The inventory API knows stock by it.
    #[schemars(
        with = "Text",
        pattern(sku_pattern()),
        extend("patternErrorMessage" = "letters, digits, `.`, `_` and `-` only"),
        example = "SNEAKER-42"
    )]
    pub(crate) sku: Option<S<String>>,
    /// Product name, as shown on the page.
    #[schemars(with = "Filled")]
    pub(crate) name: Option<S<String>>,
    /// The price, written exactly as it is charged: `79.5` is $79.50. At most as many
    /// decimals as the currency has (USD 2, JPY 0).
    #[schemars(with = "Money")]
    pub(crate) price: Option<S<ScalarText>>,
    /// The old price, shown struck through; must be more than `price`.
    #[schemars(with = "Option<Money>")]
    pub(crate) compare_at_price: Option<S<ScalarText>>,
    /// Overrides the site's `currency` for this product.
    #[schemars(with = "Option<CurrencyCode>")]
    pub(crate) currency: Option<S<String>>,
    /// More pictures of the product.
    #[schemars(with = "Option<Vec<RawImage>>")]
    pub(crate) images: Option<S<Vec<S<RawImage>>>>,
    /// About the product: markdown, sanitised.
    #[schemars(with = "Option<Markdown>")]
    pub(crate) description: Option<S<String>>,
    /// How many one customer may buy; shown on the page.
    #[schemars(
        with = "Option<Whole>",
        range(min = *LIMIT_PER_CUSTOMER_RANGE.start(), max = *LIMIT_PER_CUSTOMER_RANGE.end())
    )]
    pub(crate) limit_per_customer: Option<S<ScalarText>>,
    /// Units to sell: the inventory service starts the SKU with them (`inventory.json` beside
    /// `public/`). Without it the stock is set by the operator.
    #[schemars(with = "Option<Whole>", range(min = *STOCK_RANGE.start(), max = *STOCK_RANGE.end()))]
    pub(crate) stock: Option<S<ScalarText>>,
    /// Option names (e.g. sizes), shown on the page and chosen at checkout.
    #[schemars(with = "Option<BTreeSet<Filled>>", example = ["S", "M", "L"])]
    pub(crate) options: Option<S<Vec<S<String>>>>,
}

/// `stream:` of a drop: a live video embed and where to go when it cannot load.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStream {
    /// The player's embed address (https only).
    #[schemars(with = "Url", example = "https://player.example.com/embed/launch")]
    pub(crate) embed_url: Option<S<String>>,
    /// Where to watch when the player cannot load.
    #[schemars(with = "Option<Url>")]
    pub(crate) fallback_url: Option<S<String>>,
}

/// A scalar exactly as written in the file (`79.50` stays `79.50`), whether YAML would read it
/// as a number or a string. Sequences and mappings are rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ScalarText(pub(crate) String);

impl<'de> Deserialize<'de> for ScalarText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;

        impl Visitor<'_> for TextVisitor {
            type Value = ScalarText;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number or a string")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_owned()))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }

            fn visit_bool<E: de::Error>(self, v: bool) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
        }

        // `deserialize_str` hands over the scalar's source text; `deserialize_any` would turn
        // `79.50` into the float 79.5 first.
        deserializer.deserialize_str(TextVisitor)
    }
}

/// Converts a YAML position into a diagnostic [`Location`] in `file`. The span is cut at the
/// end of its first line: a caret under a whole nested mapping helps nobody.
pub(crate) fn location(file: &str, text: &str, at: &serde_saphyr::Location) -> Location {
    let line = usize::try_from(at.line()).unwrap_or(1).max(1);
    let column = usize::try_from(at.column()).unwrap_or(1).max(1);
    let span = at.span();
    let start = match span.byte_offset() {
        Some(start) => usize::try_from(start).ok(),
        // Some parser errors carry only line and column: find the byte offset from those.
        None => offset_of(text, line, column),
    };
    let len = span.byte_len().and_then(|len| usize::try_from(len).ok()).unwrap_or(0);
    let span = start.filter(|start| text.is_char_boundary(*start)).map(|start| {
        let line_end = text[start..].find(['\n', '\r']).map_or(text.len(), |i| start + i);
        let end = start.saturating_add(len).min(line_end);
        // Point at one character at least, so the caret is visible.
        let end = if end > start {
            end
        } else {
            text[start..line_end].chars().next().map_or(start, |c| start + c.len_utf8())
        };
        start..end
    });
    Location { file: file.to_owned(), line, column, span }
}

/// The byte offset of a 1-based line and character column, if it is inside `text`.
fn offset_of(text: &str, line: usize, column: usize) -> Option<usize> {
    let line_start =
        if line == 1 { 0 } else { text.match_indices('\n').nth(line - 2).map(|(i, _)| i + 1)? };
    let rest = &text[line_start..];
    let line_text = &rest[..rest.find('\n').unwrap_or(rest.len())];
    match line_text.char_indices().nth(column - 1) {
        Some((offset, _)) => Some(line_start + offset),
        None => Some(line_start + line_text.len()),
    }
}
