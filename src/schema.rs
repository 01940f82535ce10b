//! JSON Schemas (draft 2020-12) of `dropgen.yaml` and `drop.yaml`, for editors.
//!
//! yaml-language-server (VS Code, Zed, Neovim, Helix) and JetBrains read them to offer keys,
//! values and their documentation as a marketer types, and to flag mistakes before
//! `dropgen check` does. They are built here from the same constants `validate` checks with
//! (ranges, formats, slug and SKU rules, currencies), and `schema/tests.rs` proves the two
//! agree: every file dropgen accepts validates, and every rejection a schema can express
//! (unknown keys, types, enums, patterns, ranges, required fields) is a rejection here too.
//!
//! What a schema cannot say stays in `validate` alone: whether an image exists, the decimals a
//! currency allows, `ends_at` after `starts_at`, a URL that parses, unique SKUs across drops.
//!
//! Values follow what dropgen reads, not only what it documents: every text field also takes a
//! number or `true`/`false` (YAML reads `name: 1984` as a number, and dropgen as the text
//! `1984`), and every optional key may be left empty (YAML's null), which means "not set".

use serde_json::{Map, Value, json};

use crate::load::{CONFIG_FILE, DROP_FILE};
use crate::model::{AvifChroma, CacheClass, Currency, Delivery, ImageFormat, ImageSettings, Sku, Slug};
use crate::validate::config::{
    AVIF_SPEED_RANGE, GRACE_DAYS_RANGE, IMAGE_WIDTH_RANGE, MAX_IMAGE_WIDTHS, MEGAPIXELS_RANGE, QUALITY_RANGE,
};
use crate::validate::drop::{LIMIT_PER_CUSTOMER_RANGE, STOCK_RANGE, SUMMARY_SOFT_LIMIT};

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
        match self {
            Which::Site => site(),
            Which::Drop => drop(),
        }
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

/// The schema of `dropgen.yaml`.
pub(crate) fn site() -> Value {
    let defaults = ImageSettings::default();
    let quality = |name: &str, default: u8, what: &str| {
        integer(QUALITY_RANGE, &format!("{name} quality, {what}."), default)
    };
    let class_headers = |class: CacheClass| {
        nullable(object(
            &format!("Headers of the `{}` cache class.", class.name()),
            &[],
            [
                ("cache_control", header("`Cache-Control`, for browsers.", true, "public, max-age=300")),
                (
                    "cdn_cache_control",
                    header(
                        "`CDN-Cache-Control`, for the CDN; empty to send none.",
                        false,
                        "public, max-age=3600, stale-while-revalidate=60",
                    ),
                ),
            ],
        ))
    };
    let mut schema = object(
        "Site configuration of dropgen: `dropgen.yaml` at the root of the site. Each drop lives in `drops/<slug>/drop.yaml`.",
        &["base_url"],
        [
            (
                "base_url",
                with_examples(
                    url(
                        "Absolute address the site is served from, the root of its host (`http://` only for localhost previews). Used for canonical links, Open Graph, the sitemap and purge lists.",
                    ),
                    &["https://drops.example.com"],
                ),
            ),
            ("title", nullable(text("Site name; defaults to the host of `base_url`.", false))),
            ("description", nullable(text("Meta description of the index page.", false))),
            (
                "theme",
                nullable(with_examples(
                    text(
                        "Theme name. `themes/<name>/` in the site overrides the built-in default theme file by file.",
                        true,
                    ),
                    &["default"],
                )),
            ),
            ("currency", nullable(currency("ISO 4217 code of product prices. Default `USD`."))),
            (
                "locale",
                nullable(with_examples(
                    json!({
                        "description": "BCP 47 language tag for `<html lang>`. Default `en`.",
                        "type": "string",
                        "pattern": r"^\s*[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*\s*$",
                        "patternErrorMessage": "a BCP 47 tag such as `en`, `en-US` or `ja-JP`",
                    }),
                    &["en", "en-US", "ja-JP"],
                )),
            ),
            (
                "inventory_api",
                nullable(with_examples(
                    url(
                        "Absolute URL of the live inventory API (docs/inventory-api.md), written into each page for the hydration script. Without it pages show no live stock.",
                    ),
                    &["https://inventory.example.com/v1"],
                )),
            ),
            ("checkout_url", nullable(checkout_url("Checkout link of every drop's products"))),
            (
                "images",
                nullable(object(
                    "How images are published: responsive widths, formats and encoder settings.",
                    &[],
                    [
                        (
                            "widths",
                            nullable(json!({
                                "description": format!("Output widths in pixels, {}–{} each, at most {MAX_IMAGE_WIDTHS}. A source is never upscaled.", IMAGE_WIDTH_RANGE.start(), IMAGE_WIDTH_RANGE.end()),
                                "type": "array",
                                "minItems": 1,
                                "maxItems": MAX_IMAGE_WIDTHS,
                                "items": integer_item(IMAGE_WIDTH_RANGE, "A width in pixels."),
                                "default": defaults.widths,
                            })),
                        ),
                        (
                            "formats",
                            nullable(json!({
                                "description": "Modern formats, in the order browsers should prefer them. JPEG (PNG for transparent images) is always made as the fallback.",
                                "type": "array",
                                "uniqueItems": true,
                                "items": image_format(),
                                "default": defaults.formats.iter().map(|f| f.name()).collect::<Vec<_>>(),
                            })),
                        ),
                        (
                            "quality",
                            nullable(object(
                                "Encoder quality per format, 1–100.",
                                &[],
                                [
                                    (
                                        "avif",
                                        quality(
                                            "AVIF",
                                            defaults.quality.avif,
                                            "on libaom's tune=iq scale, raised per image for dark and detailed pictures",
                                        ),
                                    ),
                                    ("webp", quality("WebP", defaults.quality.webp, "lossy")),
                                    (
                                        "jpeg",
                                        quality("JPEG", defaults.quality.jpeg, "the fallback (mozjpeg)"),
                                    ),
                                ],
                            )),
                        ),
                        (
                            "max_megapixels",
                            integer(
                                MEGAPIXELS_RANGE,
                                "Larger sources are refused before they are decoded.",
                                defaults.max_megapixels,
                            ),
                        ),
                        (
                            "avif_speed",
                            integer(
                                AVIF_SPEED_RANGE,
                                "libaom speed: lower is slower and a little smaller.",
                                defaults.avif_speed,
                            ),
                        ),
                        ("avif_chroma", avif_chroma()),
                    ],
                )),
            ),
            (
                "telemetry_url",
                nullable(url(
                    "Where the hydration script beacons inventory errors; nothing is sent when unset.",
                )),
            ),
            (
                "headers",
                nullable(object(
                    "Cache headers per cache class; anything not given keeps its default.",
                    &[],
                    [
                        ("immutable", class_headers(CacheClass::Immutable)),
                        ("data", class_headers(CacheClass::Data)),
                        ("document", class_headers(CacheClass::Document)),
                    ],
                )),
            ),
            (
                "purge",
                nullable(object(
                    "CDN purge request settings.",
                    &[],
                    [
                        (
                            "cloudflare_batch_size",
                            integer(
                                Delivery::CLOUDFLARE_BATCH_RANGE,
                                "URLs per Cloudflare purge request.",
                                Delivery::default().cloudflare_batch_size,
                            ),
                        ),
                        (
                            "removed_asset_grace_days",
                            integer(
                                GRACE_DAYS_RANGE,
                                "Days a removed content-hashed file stays before it may be deleted (cached pages still refer to it).",
                                Delivery::default().removed_asset_grace_days,
                            ),
                        ),
                    ],
                )),
            ),
        ],
    );
    head(&mut schema, Which::Site, &format!("dropgen site ({CONFIG_FILE})"));
    schema
}

/// The schema of `drops/<slug>/drop.yaml`.
pub(crate) fn drop() -> Value {
    let image = |what: &str| {
        object(
            what,
            &["src", "alt"],
            [
                (
                    "src",
                    with_examples(
                        text(
                            "The image file, relative to the drop folder: JPEG, PNG or WebP. It may not leave the site folder.",
                            true,
                        ),
                        &["hero.jpg"],
                    ),
                ),
                (
                    "alt",
                    text(
                        "What the image shows, for people using screen readers and when it cannot load.",
                        true,
                    ),
                ),
            ],
        )
    };
    let product = object(
        "A product of the drop.",
        &["sku", "name", "price"],
        [
            (
                "sku",
                with_examples(
                    json!({
                        "description": format!("Stock-keeping unit: letters, digits, `.`, `_`, `-`, at most {} characters, unique across the whole site (drafts included). The inventory API knows stock by it.", Sku::MAX_LEN),
                        "type": ["string", "number", "boolean"],
                        "pattern": format!(r"^\s*[A-Za-z0-9._-]{{1,{}}}\s*$", Sku::MAX_LEN),
                        "patternErrorMessage": "letters, digits, `.`, `_` and `-` only",
                    }),
                    &["SNEAKER-42"],
                ),
            ),
            ("name", text("Product name, as shown on the page.", true)),
            (
                "price",
                money(
                    "The price, written exactly as it is charged: `79.5` is $79.50. At most as many decimals as the currency has (USD 2, JPY 0).",
                ),
            ),
            (
                "compare_at_price",
                nullable(money("The old price, shown struck through; must be more than `price`.")),
            ),
            ("currency", nullable(currency("Overrides the site's `currency` for this product."))),
            (
                "images",
                nullable(json!({
                    "description": "More pictures of the product.",
                    "type": "array",
                    "items": image("A product image."),
                })),
            ),
            ("description", nullable(markdown("About the product: markdown, sanitised."))),
            (
                "limit_per_customer",
                nullable(integer_item(
                    LIMIT_PER_CUSTOMER_RANGE,
                    "How many one customer may buy; shown on the page.",
                )),
            ),
            (
                "stock",
                nullable(integer_item(
                    STOCK_RANGE,
                    "Units to sell: the inventory service starts the SKU with them (`inventory.json` beside `public/`). Without it the stock is set by the operator.",
                )),
            ),
            (
                "options",
                nullable(names(
                    "Option names (e.g. sizes), shown on the page and chosen at checkout.",
                    &["S", "M", "L"],
                )),
            ),
        ],
    );
    let mut schema = object(
        "One product drop of a dropgen site: `drops/<slug>/drop.yaml`, with its images beside it. The folder name is the slug and the page is served at `/<slug>/`.",
        &["title", "summary", "starts_at", "hero", "products"],
        [
            ("title", text("The drop's name, the page's only `<h1>`.", true)),
            (
                "summary",
                text(
                    &format!(
                        "Plain text for the meta description and link previews; a warning above {SUMMARY_SOFT_LIMIT} characters."
                    ),
                    true,
                ),
            ),
            ("starts_at", time("When the drop opens")),
            (
                "ends_at",
                nullable(time(
                    "When the drop closes, after `starts_at`; without it the drop runs until stock is gone",
                )),
            ),
            ("hero", image("The drop's main image, also its `og:image`.")),
            (
                "description",
                nullable(markdown(
                    "The story of the drop: markdown. Raw HTML is sanitised; images in it are removed (use `hero` and `images`).",
                )),
            ),
            (
                "products",
                json!({
                    "description": "One or more products.",
                    "type": "array",
                    "minItems": 1,
                    "items": product,
                }),
            ),
            ("checkout_url", nullable(checkout_url("Overrides the site's `checkout_url` for this drop"))),
            (
                "stream",
                nullable(object(
                    "A live stream shown on the page.",
                    &["embed_url"],
                    [
                        (
                            "embed_url",
                            with_examples(
                                url("The player's embed address (https only)."),
                                &["https://player.example.com/embed/launch"],
                            ),
                        ),
                        ("fallback_url", nullable(url("Where to watch when the player cannot load."))),
                    ],
                )),
            ),
            ("tags", nullable(names("Short labels.", &["new", "limited"]))),
            (
                "draft",
                nullable(json!({
                    "description": "`true` to skip the drop unless `--drafts` is given. Drafts are still checked.",
                    "type": "boolean",
                    "default": false,
                })),
            ),
            (
                "slug",
                nullable(with_examples(
                    json!({
                        "description": format!("Overrides the folder name as the page's slug (its URL): lower-case letters, digits and dashes, at most {} characters.", Slug::MAX_LEN),
                        "type": ["string", "number", "boolean"],
                        "pattern": format!(r"^\s*(?=[a-z0-9-]{{1,{}}}\s*$)[a-z0-9]([a-z0-9-]*[a-z0-9])?\s*$", Slug::MAX_LEN),
                        "patternErrorMessage": "lower-case letters, digits and dashes, not starting or ending with a dash",
                    }),
                    &["spring-sneakers"],
                )),
            ),
        ],
    );
    head(&mut schema, Which::Drop, &format!("dropgen drop (drops/<slug>/{DROP_FILE})"));
    schema
}

/// `$schema`, `$id` and `title` first, as readers expect them.
fn head(schema: &mut Value, which: Which, title: &str) {
    let Value::Object(body) = schema else { return };
    let mut map = Map::new();
    map.insert("$schema".into(), json!("https://json-schema.org/draft/2020-12/schema"));
    map.insert(
        "$id".into(),
        json!(format!(
            "https://dropgen.dev/schemas/{}",
            which.file_name().replace(".schema.json", "-1.json")
        )),
    );
    map.insert("title".into(), json!(title));
    map.append(body);
    *schema = Value::Object(map);
}

/// A mapping with exactly these keys; unknown keys are errors, as in dropgen.
/// Each property is titled with its key, which is what an editor's hover shows as its heading.
fn object<const N: usize>(description: &str, required: &[&str], properties: [(&str, Value); N]) -> Value {
    let properties: Map<String, Value> = properties
        .into_iter()
        .map(|(key, mut value)| {
            if value.get("title").is_none() {
                value["title"] = json!(key);
            }
            (key.to_owned(), value)
        })
        .collect();
    let mut schema = json!({
        "description": description,
        "type": "object",
        "additionalProperties": false,
        "properties": properties,
    });
    if !required.is_empty() {
        schema["required"] = json!(required);
    }
    schema
}

/// An optional key may be left empty: YAML's null, which dropgen reads as "not set".
fn nullable(mut schema: Value) -> Value {
    if let Some(Value::Array(values)) = schema.get_mut("enum") {
        values.push(Value::Null);
    }
    if let Some(types) = schema.get_mut("type") {
        match types {
            Value::String(one) => *types = json!([one.clone(), "null"]),
            Value::Array(list) => list.push(json!("null")),
            _ => {}
        }
    } else if let Some(Value::Array(choices)) = schema.get_mut("anyOf") {
        choices.push(json!({ "type": "null" }));
    }
    schema
}

fn with_examples(mut schema: Value, examples: &[&str]) -> Value {
    schema["examples"] = json!(examples);
    schema
}

/// Text: any scalar, since dropgen reads `1984` as the text `1984`. `required` text must not
/// be blank (dropgen trims it first).
fn text(description: &str, required: bool) -> Value {
    let mut schema = json!({ "description": description, "type": ["string", "number", "boolean"] });
    if required {
        schema["pattern"] = json!(r"\S");
        schema["patternErrorMessage"] = json!("must not be empty");
    }
    schema
}

fn markdown(description: &str) -> Value {
    json!({ "description": description, "type": ["string", "number", "boolean"], "examples": ["Tell the story of the drop.\n\n- *Limited* to 300 pairs\n"] })
}

/// A list of names, each non-blank; a name given twice is an error.
fn names(description: &str, examples: &[&str]) -> Value {
    json!({
        "description": description,
        "type": "array",
        "uniqueItems": true,
        "items": { "type": ["string", "number", "boolean"], "pattern": r"\S", "patternErrorMessage": "must not be empty" },
        "examples": [examples],
    })
}

/// An absolute web address. Whether it parses, and https, are checked by dropgen.
fn url(description: &str) -> Value {
    json!({
        "description": description,
        "type": "string",
        "pattern": r"^\s*[Hh][Tt][Tt][Pp][Ss]?:",
        "patternErrorMessage": "an absolute address such as `https://example.com/`",
    })
}

fn checkout_url(what: &str) -> Value {
    with_examples(
        json!({
            "description": format!("{what}: a link template with the placeholders `{{sku}}` and `{{drop}}`. Every drop needs one, from `dropgen.yaml` or its own."),
            "type": "string",
            "pattern": r"^\s*[Hh][Tt][Tt][Pp][Ss]?:[^{]*(\{(sku|drop)\}[^{]*)*$",
            "patternErrorMessage": "an absolute address; the only placeholders are `{sku}` and `{drop}`",
        }),
        &["https://shop.example.com/checkout?sku={sku}&drop={drop}"],
    )
}

/// RFC 3339 with an offset. The pattern checks the shape and each field's range; dropgen
/// also rejects days a month does not have.
fn time(what: &str) -> Value {
    with_examples(
        json!({
            "description": format!("{what}: RFC 3339 with a time zone offset."),
            "type": "string",
            "pattern": r"^\s*[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])\s*$",
            "patternErrorMessage": "a date and time with a time zone, e.g. `2026-11-20T15:00:00Z` or `2026-11-20T16:00:00+01:00`",
        }),
        &["2026-11-20T15:00:00Z", "2027-02-05T10:00:00+01:00"],
    )
}

/// A price: a plain number, or the same in quotes. The decimals a currency allows are
/// checked by dropgen, which never reads a price through a float.
fn money(description: &str) -> Value {
    with_examples(
        json!({
            "description": description,
            "type": ["number", "string"],
            "minimum": 0,
            "pattern": r"^\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)\s*$",
            "patternErrorMessage": "a plain number without a currency sign, e.g. `79.50`",
        }),
        &["79.5", "120"],
    )
}

/// Every code dropgen accepts: ISO 4217 currencies with minor units.
fn currency(description: &str) -> Value {
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
    json!({ "description": description, "type": "string", "enum": codes, "examples": ["USD", "EUR", "JPY"] })
}

/// A whole number in `range` with its default.
fn integer(range: std::ops::RangeInclusive<u32>, description: &str, default: impl Into<Value>) -> Value {
    let mut schema = integer_item(range, description);
    schema["default"] = default.into();
    nullable(schema)
}

/// dropgen reads the number's text, so a quoted number works too; its range is then checked by
/// dropgen only.
fn integer_item(range: std::ops::RangeInclusive<u32>, description: &str) -> Value {
    json!({
        "description": format!("{description} A whole number from {} to {}.", range.start(), range.end()),
        "anyOf": [
            { "type": "integer", "minimum": range.start(), "maximum": range.end() },
            { "type": "string", "pattern": r"^\s*\+?[0-9]+\s*$" },
        ],
    })
}

/// `avif` or `webp`, in any case.
fn image_format() -> Value {
    let names: Vec<&str> = ImageFormat::ALL.iter().map(|f| f.name()).collect();
    let any_case = names.iter().map(|name| any_case(name)).collect::<Vec<_>>().join("|");
    json!({
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

/// `auto`, `4:2:0` or `4:4:4`; dropgen also reads the last two without colons.
fn avif_chroma() -> Value {
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
    values.push(Value::Null);
    json!({
        "description": "AVIF chroma subsampling: `auto` (the default) chooses per image from its pixels; `\"4:2:0\"` is smaller, `\"4:4:4\"` keeps colour edges sharp. Quote the latter two.",
        "enum": values,
        "default": "auto",
    })
}

/// A header value: printable ASCII on one line, so it cannot smuggle in another header.
fn header(description: &str, non_empty: bool, example: &str) -> Value {
    let pattern = if non_empty { r"^\s*[ -~]*[!-~][ -~]*\s*$" } else { r"^\s*[ -~]*\s*$" };
    nullable(json!({
        "description": description,
        "type": ["string", "number", "boolean"],
        "pattern": pattern,
        "patternErrorMessage": "one line of plain ASCII",
        "examples": [example],
    }))
}

#[cfg(test)]
mod tests;
