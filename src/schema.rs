//! JSON Schemas (draft 2020-12) of `dropgen.yaml` and `drop.yaml`, for editors.
//!
//! yaml-language-server (VS Code, Zed, Neovim, Helix) and JetBrains read them to offer keys,
//! values and their documentation as a marketer types, and to flag mistakes before
//! `dropgen check` does. They are derived with `schemars` from the types dropgen reads the
//! files into (`load::raw`), as cargo derives its manifest's schema (`cargo-util-schemas`):
//! the keys are the `Raw*` fields, the descriptions their doc comments, and ranges, patterns
//! and defaults are attributes there that name the constants `validate` checks with.
//! `schema/tests.rs` proves the schemas and `validate` agree: every file dropgen accepts
//! validates, and every rejection a schema can express (unknown keys, types, enums, patterns,
//! ranges, required fields) is a rejection here too.
//!
//! What a schema cannot say stays in `validate` alone: whether an image exists, the decimals a
//! currency allows, `ends_at` after `starts_at`, a URL that parses, unique SKUs across drops.
//!
//! Values follow what dropgen reads, not only what it documents: every text field also takes a
//! number or `true`/`false` (YAML reads `name: 1984` as a number, and dropgen as the text
//! `1984`), and every optional key may be left empty (YAML's null), which means "not set". The
//! shapes below ([`Text`], [`Whole`], …) say so; each `Raw*` field names its shape with
//! `#[schemars(with = "…")]`, since a field's real type, `Spanned<…>`, is only its position.
//! [`finish`] adds what no attribute can: titles, quoted whole numbers, and numbers in words.

use std::borrow::Cow;

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde_json::{Map, Value, json};

use crate::load::raw::{RawConfig, RawDrop};
use crate::load::{CONFIG_FILE, DROP_FILE};
use crate::model::{AvifChroma, Currency, ImageFormat, ImageSettings, Sku, Slug};
use crate::validate::config::{IMAGE_WIDTH_RANGE, MAX_IMAGE_WIDTHS, QUALITY_RANGE};
use crate::validate::drop::SUMMARY_SOFT_LIMIT;

/// The folder of a site that `dropgen init` writes the schemas into, and that the first line
/// of a scaffolded YAML file points at, so editors find them without a network.
pub(crate) const SITE_DIR: &str = "schemas";

/// Which file a schema describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Which {
    /// `dropgen.yaml`.
    Site,
    /// `drops/<slug>/drop.yaml`.
    Drop,
}

impl Which {
    #[cfg(test)]
    pub(crate) const ALL: [Which; 2] = [Which::Site, Which::Drop];

    /// The schema's file name, in `docs/` and in a site's [`SITE_DIR`].
    pub(crate) fn file_name(self) -> &'static str {
        match self {
            Which::Site => "dropgen.schema.json",
            Which::Drop => "drop.schema.json",
        }
    }

    /// The schema, as JSON.
    pub(crate) fn schema(self) -> Value {
        let (mut schema, title) = match self {
            Which::Site => (derive::<RawConfig>(), format!("dropgen site ({CONFIG_FILE})")),
            Which::Drop => (derive::<RawDrop>(), format!("dropgen drop (drops/<slug>/{DROP_FILE})")),
        };
        finish(&mut schema);
        schema["$id"] = json!(format!(
            "https://dropgen.dev/schemas/{}",
            self.file_name().replace(".schema.json", "-1.json")
        ));
        schema["title"] = json!(title);
        schema
    }

    /// The schema as its file holds it: pretty-printed, with a trailing newline.
    pub(crate) fn text(self) -> String {
        let mut text = serde_json::to_string_pretty(&self.schema()).expect("a JSON value always serialises");
        text.push('\n');
        text
    }
}

/// The first line of a scaffolded YAML file: tells yaml-language-server which schema to use.
/// `to_root` is the path from the file's folder to the site root (`.` or `../..`).
pub(crate) fn modeline(which: Which, to_root: &str) -> String {
    format!("# yaml-language-server: $schema={to_root}/{SITE_DIR}/{}", which.file_name())
}

/// `T`'s schema as the derive gives it, every subschema inline: a property's documentation
/// then sits beside its type, where yaml-language-server's hover and completion look, rather
/// than behind a `$ref` under `anyOf` with `null`.
fn derive<T: JsonSchema>() -> Value {
    let generator = SchemaSettings::draft2020_12().with(|s| s.inline_subschemas = true).into_generator();
    generator.into_root_schema_for::<T>().to_value()
}

/// The constants a doc comment states as `{NAME}`, filled in for the editor.
fn constants() -> [(&'static str, String); 6] {
    let range = |range: std::ops::RangeInclusive<u32>| format!("{}–{}", range.start(), range.end());
    [
        ("{IMAGE_WIDTH_RANGE}", range(IMAGE_WIDTH_RANGE)),
        ("{QUALITY_RANGE}", range(QUALITY_RANGE)),
        ("{MAX_IMAGE_WIDTHS}", MAX_IMAGE_WIDTHS.to_string()),
        ("{Sku::MAX_LEN}", Sku::MAX_LEN.to_string()),
        ("{Slug::MAX_LEN}", Slug::MAX_LEN.to_string()),
        ("{SUMMARY_SOFT_LIMIT}", SUMMARY_SOFT_LIMIT.to_string()),
    ]
}

/// What the derive cannot say, applied to every subschema: a doc comment's lines joined into
/// one paragraph with its `{CONSTANT}`s filled in; each property titled with its key (an
/// editor's hover heading); and a whole number also accepted quoted, since dropgen reads its
/// text (`"640"`), with its range stated in words.
fn finish(schema: &mut Value) {
    let Value::Object(map) = schema else { return };
    if let Some(Value::String(description)) = map.get_mut("description") {
        let mut text = description.split('\n').map(str::trim).collect::<Vec<_>>().join(" ");
        for (name, value) in constants() {
            text = text.replace(name, &value);
        }
        *description = text;
    }
    if let Some(Value::Object(properties)) = map.get_mut("properties") {
        for (key, property) in properties.iter_mut() {
            finish(property);
            if property.get("title").is_none() {
                property["title"] = json!(key);
            }
        }
    }
    if let Some(items) = map.get_mut("items") {
        finish(items);
    }
    also_quoted(map);
}

/// `{"type": "integer", "minimum": 1, "maximum": 100}` (with `"null"` when optional) becomes
/// a choice of that number or its text, and the description ends with the range.
fn also_quoted(map: &mut Map<String, Value>) {
    let types: Vec<Value> = match map.get("type") {
        Some(Value::Array(types)) => types.clone(),
        Some(one) => vec![one.clone()],
        None => return,
    };
    if !types.contains(&json!("integer")) {
        return;
    }
    map.remove("type");
    let mut number = json!({ "type": "integer" });
    for key in ["minimum", "maximum"] {
        if let Some(bound) = map.remove(key) {
            number[key] = bound;
        }
    }
    if let (Some(min), Some(max)) = (number.get("minimum"), number.get("maximum")) {
        let range = format!("A whole number from {min} to {max}.");
        let description = match map.get("description").and_then(Value::as_str) {
            Some(text) => format!("{text} {range}"),
            None => range,
        };
        map.insert("description".into(), json!(description));
    }
    let mut choices = vec![number, json!({ "type": "string", "pattern": r"^\s*\+?[0-9]+\s*$" })];
    if types.contains(&json!("null")) {
        choices.push(json!({ "type": "null" }));
    }
    map.insert("anyOf".into(), Value::Array(choices));
}

/// Declares the shapes a `Raw*` field names with `#[schemars(with = "…")]`: types that are
/// never made, only described.
macro_rules! shapes {
    ($($(#[$doc:meta])* $name:ident => $schema:expr;)*) => {$(
        $(#[$doc])*
        pub(crate) enum $name {}

        impl JsonSchema for $name {
            fn inline_schema() -> bool {
                true
            }

            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                $schema
            }
        }
    )*};
}

shapes! {
    /// Text: any scalar, since dropgen reads `1984` as the text `1984`.
    Text => json_schema!({ "type": ["string", "number", "boolean"] });
    /// Text that must not be blank (dropgen trims it first).
    Filled => json_schema!({
        "type": ["string", "number", "boolean"],
        "pattern": r"\S",
        "patternErrorMessage": "must not be empty",
    });
    /// Markdown text.
    Markdown => json_schema!({
        "type": ["string", "number", "boolean"],
        "examples": ["Tell the story of the drop.\n\n- *Limited* to 300 pairs\n"],
    });
    /// A whole number; `finish` also accepts it quoted.
    Whole => json_schema!({ "type": "integer" });
    /// An absolute web address. Whether it parses, and https, are checked by dropgen.
    Url => json_schema!({
        "type": "string",
        "pattern": r"^\s*[Hh][Tt][Tt][Pp][Ss]?:",
        "patternErrorMessage": "an absolute address such as `https://example.com/`",
    });
    /// A checkout link template.
    CheckoutUrl => json_schema!({
        "type": "string",
        "pattern": r"^\s*[Hh][Tt][Tt][Pp][Ss]?:[^{]*(\{(sku|drop)\}[^{]*)*$",
        "patternErrorMessage": "an absolute address; the only placeholders are `{sku}` and `{drop}`",
        "examples": ["https://shop.example.com/checkout?sku={sku}&drop={drop}"],
    });
    /// RFC 3339 with an offset. The pattern checks the shape and each field's range; dropgen
    /// also rejects days a month does not have.
    Time => json_schema!({
        "type": "string",
        "pattern": r"^\s*[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])\s*$",
        "patternErrorMessage": "a date and time with a time zone, e.g. `2026-11-20T15:00:00Z` or `2026-11-20T16:00:00+01:00`",
        "examples": ["2026-11-20T15:00:00Z", "2027-02-05T10:00:00+01:00"],
    });
    /// A price: a plain number, or the same in quotes. The decimals a currency allows are
    /// checked by dropgen, which never reads a price through a float.
    Money => json_schema!({
        "type": ["number", "string"],
        "minimum": 0,
        "pattern": r"^\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)\s*$",
        "patternErrorMessage": "a plain number without a currency sign, e.g. `79.50`",
        "examples": ["79.5", "120"],
    });
    /// Every code dropgen accepts: ISO 4217 currencies with minor units.
    CurrencyCode => json_schema!({ "type": "string", "enum": currencies(), "examples": ["USD", "EUR", "JPY"] });
    /// `avif` or `webp`, in any case.
    FormatName => image_format();
    /// `auto`, `4:2:0` or `4:4:4`; dropgen also reads the last two without colons.
    ChromaName => json_schema!({ "enum": chromas(), "default": ImageSettings::default().avif_chroma.name() });
    /// A header value: printable ASCII on one line, so it cannot smuggle in another header.
    Header => header(r"^\s*[ -~]*[!-~][ -~]*\s*$");
    /// A header value that may be empty: then the header is not sent.
    HeaderOrEmpty => header(r"^\s*[ -~]*\s*$");
}

fn header(pattern: &str) -> Schema {
    json_schema!({
        "type": ["string", "number", "boolean"],
        "pattern": pattern,
        "patternErrorMessage": "one line of plain ASCII",
    })
}

/// The pattern of a SKU, [`Sku::parse`] as a regular expression.
pub(crate) fn sku_pattern() -> String {
    format!(r"^\s*[A-Za-z0-9._-]{{1,{}}}\s*$", Sku::MAX_LEN)
}

/// The pattern of a slug, [`Slug::parse`] as a regular expression.
pub(crate) fn slug_pattern() -> String {
    format!(r"^\s*(?=[a-z0-9-]{{1,{}}}\s*$)[a-z0-9]([a-z0-9-]*[a-z0-9])?\s*$", Slug::MAX_LEN)
}

/// `images.formats`' default, by name.
pub(crate) fn default_formats() -> Vec<&'static str> {
    ImageSettings::default().formats.iter().map(|f| f.name()).collect()
}

/// Every code [`Currency::parse`] accepts.
fn currencies() -> Vec<String> {
    let letters = b'A'..=b'Z';
    let mut codes = Vec::new();
    for a in letters.clone() {
        for b in letters.clone() {
            for c in letters.clone() {
                let code = String::from_utf8(vec![a, b, c]).expect("ASCII letters");
                if Currency::parse(&code).is_ok() {
                    codes.push(code);
                }
            }
        }
    }
    codes
}

fn image_format() -> Schema {
    let names: Vec<&str> = ImageFormat::ALL.iter().map(|f| f.name()).collect();
    let any_case = names.iter().map(|name| any_case(name)).collect::<Vec<_>>().join("|");
    json_schema!({
        "anyOf": [
            { "enum": names },
            { "type": "string", "pattern": format!(r"^\s*({any_case})\s*$") },
        ],
    })
}

fn any_case(word: &str) -> String {
    word.chars()
        .map(|c| {
            if c.is_ascii_alphabetic() {
                format!("[{}{}]", c.to_ascii_uppercase(), c.to_ascii_lowercase())
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Each chroma's name, and `420`/`444` as text and as numbers.
fn chromas() -> Vec<Value> {
    let mut values: Vec<Value> = AvifChroma::ALL.iter().map(|c| json!(c.name())).collect();
    for chroma in AvifChroma::ALL {
        let bare = chroma.name().replace(':', "");
        if bare != chroma.name() {
            values.push(json!(bare));
            if let Ok(number) = bare.parse::<u32>() {
                values.push(json!(number));
            }
        }
    }
    values
}

#[cfg(test)]
mod tests;
