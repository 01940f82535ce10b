//! The shapes of `dropgen.yaml` and `drop.yaml` as written, before any validation.
//!
//! Every value keeps its position (`Spanned`) so validation can point at it. Values whose
//! rules are ours to explain (prices, times, URLs, limits) are read as their exact text
//! ([`ScalarText`]) and checked in `validate`, which gives better messages than a serde type
//! error and never rounds a price through a float. Unknown keys are rejected here.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use serde_saphyr::Spanned;

use crate::diagnostic::Location;

/// A value with its position in the file.
pub(crate) type S<T> = Spanned<T>;

/// `dropgen.yaml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    pub(crate) base_url: Option<S<String>>,
    pub(crate) title: Option<S<String>>,
    pub(crate) description: Option<S<String>>,
    pub(crate) theme: Option<S<String>>,
    pub(crate) currency: Option<S<String>>,
    pub(crate) locale: Option<S<String>>,
    pub(crate) inventory_api: Option<S<String>>,
    pub(crate) checkout_url: Option<S<String>>,
    pub(crate) images: Option<S<RawImageSettings>>,
    pub(crate) telemetry_url: Option<S<String>>,
    pub(crate) headers: Option<S<RawHeaders>>,
    pub(crate) purge: Option<S<RawPurge>>,
}

/// `headers:` in `dropgen.yaml`: the headers of each cache class.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHeaders {
    pub(crate) immutable: Option<S<RawClassHeaders>>,
    pub(crate) data: Option<S<RawClassHeaders>>,
    pub(crate) document: Option<S<RawClassHeaders>>,
}

/// One cache class's headers.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawClassHeaders {
    pub(crate) cache_control: Option<S<String>>,
    pub(crate) cdn_cache_control: Option<S<String>>,
}

/// `purge:` in `dropgen.yaml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPurge {
    pub(crate) cloudflare_batch_size: Option<S<ScalarText>>,
    pub(crate) removed_asset_grace_days: Option<S<ScalarText>>,
}

/// `images:` in `dropgen.yaml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawImageSettings {
    pub(crate) widths: Option<S<Vec<S<ScalarText>>>>,
    pub(crate) formats: Option<S<Vec<S<String>>>>,
    pub(crate) quality: Option<S<RawQuality>>,
    pub(crate) max_megapixels: Option<S<ScalarText>>,
    pub(crate) avif_speed: Option<S<ScalarText>>,
    pub(crate) avif_chroma: Option<S<ScalarText>>,
}

/// `images.quality:` in `dropgen.yaml`, one encoder quality per output format.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawQuality {
    pub(crate) avif: Option<S<ScalarText>>,
    pub(crate) webp: Option<S<ScalarText>>,
    pub(crate) jpeg: Option<S<ScalarText>>,
}

/// `drops/<slug>/drop.yaml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDrop {
    pub(crate) slug: Option<S<String>>,
    pub(crate) title: Option<S<String>>,
    pub(crate) summary: Option<S<String>>,
    pub(crate) starts_at: Option<S<String>>,
    pub(crate) ends_at: Option<S<String>>,
    pub(crate) hero: Option<S<RawImage>>,
    pub(crate) description: Option<S<String>>,
    pub(crate) products: Option<S<Vec<S<RawProduct>>>>,
    pub(crate) checkout_url: Option<S<String>>,
    pub(crate) stream: Option<S<RawStream>>,
    pub(crate) tags: Option<S<Vec<S<String>>>>,
    pub(crate) draft: Option<S<bool>>,
}

/// An image reference: `src` relative to the drop folder, and its alternative text.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawImage {
    pub(crate) src: Option<S<String>>,
    pub(crate) alt: Option<S<String>>,
}

/// One entry of `products:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawProduct {
    pub(crate) sku: Option<S<String>>,
    pub(crate) name: Option<S<String>>,
    pub(crate) price: Option<S<ScalarText>>,
    pub(crate) compare_at_price: Option<S<ScalarText>>,
    pub(crate) currency: Option<S<String>>,
    pub(crate) images: Option<S<Vec<S<RawImage>>>>,
    pub(crate) description: Option<S<String>>,
    pub(crate) limit_per_customer: Option<S<ScalarText>>,
    pub(crate) stock: Option<S<ScalarText>>,
    pub(crate) options: Option<S<Vec<S<String>>>>,
}

/// `stream:` of a drop: a live video embed and where to go when it cannot load.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStream {
    pub(crate) embed_url: Option<S<String>>,
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
