//! Stage 2, VALIDATE: raw YAML values → the [`Site`] model, collecting every problem.
//!
//! Pure: reads nothing from disk (file facts were gathered by `load`). Each check names the
//! field path, points at the value, and says how to fix it. Validation carries on after a
//! problem so one run reports all of them; a [`Site`] is only returned when there is no error.

use std::collections::{BTreeMap, BTreeSet};
use std::num::NonZeroU32;

use serde_saphyr::Spanned;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::diagnostic::{Diagnostic, Diagnostics, Kind, Location};
use crate::load::raw::{self, RawConfig, RawDrop, RawImage, RawProduct, ScalarText};
use crate::load::{FileFact, LoadedDrop, LoadedSite, theme::DEFAULT_THEME};
use crate::model::{
    CheckoutTemplate, Currency, Drop, ImageFormat, ImageRef, ImageSettings, Money, Product, Quality, Site,
    SiteConfig, SitePath, Sku, Slug, Stream, Timestamp,
};

/// Summaries longer than this are cut off by search engines and link previews.
pub(crate) const SUMMARY_SOFT_LIMIT: usize = 160;
/// Accepted range of `images.widths` entries, in pixels.
pub(crate) const IMAGE_WIDTH_RANGE: std::ops::RangeInclusive<u32> = 16..=8192;
/// Accepted range of `images.quality` values.
pub(crate) const QUALITY_RANGE: std::ops::RangeInclusive<u32> = 1..=100;
/// At most this many widths: each one multiplies encoding time.
pub(crate) const MAX_IMAGE_WIDTHS: usize = 12;

/// Validates everything that was loaded. Drafts are always validated (a draft with a duplicate
/// SKU would break the day it goes live) but only kept when `include_drafts` is set.
pub(crate) fn site(loaded: &LoadedSite, include_drafts: bool) -> (Option<Site>, Diagnostics) {
    let mut diagnostics = loaded.diagnostics.clone();
    let config = loaded.config.as_ref().and_then(|config| {
        let mut check = Checker::new(crate::load::CONFIG_FILE, loaded, &mut diagnostics);
        check.config(config)
    });

    let mut drops = Vec::new();
    for loaded_drop in &loaded.drops {
        let Some(raw) = &loaded_drop.raw else { continue };
        let mut check = Checker::new(&loaded_drop.file, loaded, &mut diagnostics);
        if let Some(drop) = check.drop(loaded_drop, raw, config.as_ref()) {
            drops.push((drop, raw));
        }
    }
    check_unique(&drops, loaded, &mut diagnostics);

    let (Some(config), false) = (config, diagnostics.has_errors()) else {
        return (None, diagnostics);
    };
    let mut drops: Vec<Drop> =
        drops.into_iter().map(|(drop, _)| drop).filter(|drop| include_drafts || !drop.draft).collect();
    // Newest first; the slug breaks ties so the order never depends on the file system.
    drops.sort_by(|a, b| b.starts_at.cmp(&a.starts_at).then_with(|| a.slug.cmp(&b.slug)));
    (Some(Site { config, drops }), diagnostics)
}

/// Slugs and SKUs must be unique across the whole site: a SKU names stock in the inventory
/// API, and a slug names a page.
fn check_unique(drops: &[(Drop, &Spanned<RawDrop>)], loaded: &LoadedSite, diagnostics: &mut Diagnostics) {
    let mut slugs: BTreeMap<&str, &str> = BTreeMap::new();
    let mut skus: BTreeMap<&str, &str> = BTreeMap::new();
    for (drop, raw) in drops {
        let text = loaded.sources.get(&drop.file).map(String::as_str).unwrap_or_default();
        if let Some(first) = slugs.insert(drop.slug.as_str(), &drop.file) {
            let at = raw.value.slug.as_ref().map_or_else(
                || Location::file(&drop.file),
                |slug| raw::location(&drop.file, text, &slug.referenced),
            );
            diagnostics.push(
                Diagnostic::error(
                    Kind::Duplicate,
                    at,
                    format!("slug `{}` is already used by `{first}`", drop.slug.as_str()),
                )
                .field("slug")
                .help("every drop needs its own page URL: change `slug` or rename the folder"),
            );
        }
        let raw_products = raw.value.products.iter().flat_map(|products| products.value.iter());
        for (index, (product, raw_product)) in drop.products.iter().zip(raw_products).enumerate() {
            if let Some(first) = skus.insert(product.sku.as_str(), &drop.file) {
                let at = raw_product.value.sku.as_ref().map_or_else(
                    || Location::file(&drop.file),
                    |sku| raw::location(&drop.file, text, &sku.referenced),
                );
                let where_ = if first == drop.file {
                    "earlier in this file".to_owned()
                } else {
                    format!("in `{first}`")
                };
                diagnostics.push(
                    Diagnostic::error(
                        Kind::Duplicate,
                        at,
                        format!("SKU `{}` is already used {where_}", product.sku.as_str()),
                    )
                    .field(format!("products[{index}].sku"))
                    .help("SKUs identify stock in the inventory API and must be unique across the site"),
                );
            }
        }
    }
}

/// The closest candidate to `word`, if one is close enough to be a likely typo.
pub(crate) fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word_lower = word.to_lowercase();
    candidates
        .into_iter()
        .map(|candidate| (strsim::damerau_levenshtein(&word_lower, &candidate.to_lowercase()), candidate))
        .filter(|(distance, candidate)| *distance <= (candidate.chars().count() / 3).max(1))
        .min()
        .map(|(_, candidate)| candidate)
}

/// Checks the values of one file, recording problems with their positions.
struct Checker<'a> {
    file: &'a str,
    text: &'a str,
    loaded: &'a LoadedSite,
    diagnostics: &'a mut Diagnostics,
}

impl<'a> Checker<'a> {
    fn new(file: &'a str, loaded: &'a LoadedSite, diagnostics: &'a mut Diagnostics) -> Self {
        let text = loaded.sources.get(file).map(String::as_str).unwrap_or_default();
        Checker { file, text, loaded, diagnostics }
    }

    fn at<T>(&self, value: &Spanned<T>) -> Location {
        raw::location(self.file, self.text, &value.referenced)
    }

    fn error<T>(
        &mut self,
        kind: Kind,
        value: &Spanned<T>,
        field: &str,
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        let diagnostic = Diagnostic::error(kind, self.at(value), message).field(field).help(help);
        self.diagnostics.push(diagnostic);
    }

    fn warning<T>(
        &mut self,
        value: &Spanned<T>,
        field: &str,
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        let diagnostic =
            Diagnostic::warning(Kind::InvalidValue, self.at(value), message).field(field).help(help);
        self.diagnostics.push(diagnostic);
    }

    /// A required field: reports it missing (at its parent) when absent.
    fn required<'v, T, P>(
        &mut self,
        value: &'v Option<Spanned<T>>,
        parent: &Spanned<P>,
        field: &str,
        help: &str,
    ) -> Option<&'v Spanned<T>> {
        if value.is_none() {
            let name = field.rsplit('.').next().unwrap_or(field);
            let diagnostic = Diagnostic::error(
                Kind::MissingField,
                self.at(parent),
                format!("missing required field `{name}`"),
            )
            .field(field)
            .help(help.to_owned());
            self.diagnostics.push(diagnostic);
        }
        value.as_ref()
    }

    /// A required piece of text, trimmed; empty text counts as missing.
    fn required_text<P>(
        &mut self,
        value: &Option<Spanned<String>>,
        parent: &Spanned<P>,
        field: &str,
        help: &str,
    ) -> Option<String> {
        let value = self.required(value, parent, field, help)?;
        let text = value.value.trim();
        if text.is_empty() {
            self.error(Kind::MissingField, value, field, format!("`{field}` is empty"), help.to_owned());
            return None;
        }
        Some(text.to_owned())
    }

    fn optional_text(value: &Option<Spanned<String>>) -> String {
        value.as_ref().map(|v| v.value.trim().to_owned()).unwrap_or_default()
    }

    // ---- dropgen.yaml -------------------------------------------------------------------

    fn config(&mut self, config: &Spanned<RawConfig>) -> Option<SiteConfig> {
        let raw = &config.value;
        let base_url = self
            .required(
                &raw.base_url,
                config,
                "base_url",
                "add `base_url: https://drops.example.com`, the address the site is served from",
            )
            .and_then(|value| self.base_url(value));
        let title = Self::optional_text(&raw.title);
        let theme = match &raw.theme {
            Some(theme) => self.theme(theme),
            None => Some(DEFAULT_THEME.to_owned()),
        };
        let currency = match &raw.currency {
            Some(currency) => self.currency(currency, "currency"),
            None => Currency::parse("USD").ok(),
        };
        let locale = match &raw.locale {
            Some(locale) if is_language_tag(locale.value.trim()) => Some(locale.value.trim().to_owned()),
            Some(locale) => {
                self.error(
                    Kind::InvalidValue,
                    locale,
                    "locale",
                    format!("`{}` is not a language tag", locale.value),
                    "use a BCP 47 tag such as `en`, `en-US` or `ja-JP`",
                );
                None
            }
            None => Some("en".to_owned()),
        };
        let inventory_api =
            raw.inventory_api.as_ref().and_then(|value| self.absolute_url(value, "inventory_api", false));
        let inventory_api = inventory_api.map(|url| url.trim_end_matches('/').to_owned());
        let checkout_url =
            raw.checkout_url.as_ref().and_then(|value| self.checkout_template(value, "checkout_url"));
        let images = match &raw.images {
            Some(images) => self.image_settings(images),
            None => Some(ImageSettings::default()),
        };
        let telemetry_url =
            raw.telemetry_url.as_ref().and_then(|value| self.absolute_url(value, "telemetry_url", false));

        let base_url = base_url?;
        let title = if title.is_empty() { base_url.host_str().unwrap_or("Drops").to_owned() } else { title };
        Some(SiteConfig {
            base_url,
            title,
            description: Self::optional_text(&raw.description),
            theme: theme?,
            currency: currency?,
            locale: locale?,
            inventory_api,
            checkout_url,
            images: images?,
            telemetry_url,
        })
    }

    fn base_url(&mut self, value: &Spanned<String>) -> Option<url::Url> {
        let text = value.value.trim();
        let mut url = self.parse_web_url(value, "base_url", false)?;
        if url.query().is_some() || url.fragment().is_some() {
            self.error(
                Kind::InvalidValue,
                value,
                "base_url",
                format!("`{text}` has a query or fragment"),
                "use the bare address of the site, e.g. `https://drops.example.com/`",
            );
            return None;
        }
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        Some(url)
    }

    /// An absolute `https` URL, or `http` on a loopback host for local previews.
    fn parse_web_url(&mut self, value: &Spanned<String>, field: &str, https_only: bool) -> Option<url::Url> {
        let text = value.value.trim();
        let url = match url::Url::parse(text) {
            Ok(url) if url.has_host() && matches!(url.scheme(), "https" | "http") => url,
            _ => {
                self.error(
                    Kind::InvalidValue,
                    value,
                    field,
                    format!("`{text}` is not an absolute web address"),
                    format!(
                        "write the full address, e.g. `https://example.com/{}`",
                        if field == "base_url" { "" } else { "path" }
                    ),
                );
                return None;
            }
        };
        if !url.username().is_empty() || url.password().is_some() {
            self.error(
                Kind::InvalidValue,
                value,
                field,
                "the address contains a user name or password",
                "remove the credentials: pages are public",
            );
            return None;
        }
        let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"))
            || url.host_str().is_some_and(|h| h.ends_with(".localhost"));
        if url.scheme() == "http" && (https_only || !loopback) {
            let help = if https_only {
                "use the `https://` address".to_owned()
            } else {
                "use `https://`; plain `http://` is only accepted for localhost previews".to_owned()
            };
            self.error(Kind::InvalidValue, value, field, format!("`{text}` is not served over https"), help);
            return None;
        }
        Some(url)
    }

    fn absolute_url(&mut self, value: &Spanned<String>, field: &str, https_only: bool) -> Option<String> {
        self.parse_web_url(value, field, https_only).map(|_| value.value.trim().to_owned())
    }

    fn theme(&mut self, value: &Spanned<String>) -> Option<String> {
        let name = value.value.trim();
        let theme = &self.loaded.theme;
        if name == DEFAULT_THEME || theme.found_in_site {
            return Some(name.to_owned());
        }
        let mut known: Vec<&str> = theme.available.iter().map(String::as_str).collect();
        known.push(DEFAULT_THEME);
        let help = match suggest(name, known.iter().copied()) {
            Some(suggestion) => format!("did you mean `{suggestion}`?"),
            None => format!("create `themes/{name}/`, or use `theme: {DEFAULT_THEME}`"),
        };
        self.error(
            Kind::InvalidValue,
            value,
            "theme",
            format!("theme `{name}` not found in `themes/`"),
            help,
        );
        None
    }

    fn currency(&mut self, value: &Spanned<String>, field: &str) -> Option<Currency> {
        let code = value.value.trim();
        match Currency::parse(code) {
            Ok(currency) => Some(currency),
            Err(err) => {
                let upper = code.to_uppercase();
                let help = if upper != code && Currency::parse(&upper).is_ok() {
                    format!("currency codes are upper case: `{upper}`")
                } else {
                    "use a three-letter ISO 4217 code such as `USD`, `EUR`, `GBP` or `JPY`".to_owned()
                };
                self.error(Kind::InvalidValue, value, field, err.to_string(), help);
                None
            }
        }
    }

    fn checkout_template(&mut self, value: &Spanned<String>, field: &str) -> Option<CheckoutTemplate> {
        let text = value.value.trim();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            let after = &rest[open..];
            let placeholder = after.find('}').map_or(after, |close| &after[..=close]);
            if !CheckoutTemplate::PLACEHOLDERS.contains(&placeholder) {
                let help = match suggest(placeholder, CheckoutTemplate::PLACEHOLDERS) {
                    Some(suggestion) => format!("did you mean `{suggestion}`?"),
                    None => "the placeholders are `{sku}` and `{drop}`".to_owned(),
                };
                self.error(
                    Kind::InvalidValue,
                    value,
                    field,
                    format!("unknown placeholder `{placeholder}` in the checkout URL"),
                    help,
                );
                return None;
            }
            rest = &after[placeholder.len()..];
        }
        let sample = CheckoutTemplate::new_unchecked(text.to_owned()).expand("SKU-1", "drop-1");
        let sample_value = Spanned { value: sample, referenced: value.referenced, defined: value.defined };
        self.parse_web_url(&sample_value, field, false)?;
        if !text.contains("{sku}") {
            self.warning(
                value,
                field,
                "the checkout URL has no `{sku}` placeholder, so every product links to the same checkout",
                "add `{sku}` where the checkout expects the product, e.g. `?sku={sku}`",
            );
        }
        Some(CheckoutTemplate::new_unchecked(text.to_owned()))
    }

    fn image_settings(&mut self, images: &Spanned<raw::RawImageSettings>) -> Option<ImageSettings> {
        let raw = &images.value;
        let defaults = ImageSettings::default();
        let mut ok = true;
        let widths = match &raw.widths {
            None => defaults.widths.clone(),
            Some(widths) => {
                let mut values = BTreeSet::new();
                if widths.value.is_empty() || widths.value.len() > MAX_IMAGE_WIDTHS {
                    self.error(
                        Kind::InvalidValue,
                        widths,
                        "images.widths",
                        format!("give between 1 and {MAX_IMAGE_WIDTHS} widths"),
                        "for example `widths: [320, 640, 960, 1280, 1920]`",
                    );
                    ok = false;
                }
                for (index, width) in widths.value.iter().enumerate() {
                    let field = format!("images.widths[{index}]");
                    match self.integer_in(width, &field, IMAGE_WIDTH_RANGE) {
                        Some(w) => {
                            values.insert(w);
                        }
                        None => ok = false,
                    }
                }
                values.into_iter().collect()
            }
        };
        let formats = match &raw.formats {
            None => defaults.formats.clone(),
            Some(formats) => {
                let mut seen = Vec::new();
                for (index, format) in formats.value.iter().enumerate() {
                    let field = format!("images.formats[{index}]");
                    let name = format.value.trim().to_lowercase();
                    match ImageFormat::ALL.iter().find(|f| f.name() == name) {
                        Some(f) if seen.contains(f) => {
                            self.error(
                                Kind::Duplicate,
                                format,
                                &field,
                                format!("`{name}` is listed twice"),
                                "list each format once",
                            );
                            ok = false;
                        }
                        Some(f) => seen.push(*f),
                        None => {
                            let help = match suggest(&name, ImageFormat::ALL.iter().map(|f| f.name())) {
                                Some(s) => format!("did you mean `{s}`? JPEG (or PNG for transparent images) is always produced as the fallback"),
                                None => "the formats are `avif` and `webp`; JPEG (or PNG for transparent images) is always produced as the fallback".to_owned(),
                            };
                            self.error(
                                Kind::InvalidValue,
                                format,
                                &field,
                                format!("unknown image format `{}`", format.value),
                                help,
                            );
                            ok = false;
                        }
                    }
                }
                seen
            }
        };
        let mut quality = defaults.quality;
        if let Some(raw_quality) = &raw.quality {
            let q = &raw_quality.value;
            for (value, slot, name) in [
                (&q.avif, &mut quality.avif, "avif"),
                (&q.webp, &mut quality.webp, "webp"),
                (&q.jpeg, &mut quality.jpeg, "jpeg"),
            ] {
                if let Some(value) = value {
                    match self.integer_in(value, &format!("images.quality.{name}"), QUALITY_RANGE) {
                        Some(v) => *slot = u8::try_from(v).unwrap_or(100),
                        None => ok = false,
                    }
                }
            }
        }
        ok.then_some(ImageSettings { widths, formats, quality: Quality { ..quality } })
    }

    fn integer_in(
        &mut self,
        value: &Spanned<ScalarText>,
        field: &str,
        range: std::ops::RangeInclusive<u32>,
    ) -> Option<u32> {
        let text = value.value.0.trim();
        match text.parse::<u32>() {
            Ok(n) if range.contains(&n) => Some(n),
            _ => {
                let (low, high) = (range.start(), range.end());
                self.error(
                    Kind::InvalidValue,
                    value,
                    field,
                    format!("`{text}` is not a whole number from {low} to {high}"),
                    format!("use a whole number between {low} and {high}"),
                );
                None
            }
        }
    }

    // ---- drop.yaml ----------------------------------------------------------------------

    fn drop(
        &mut self,
        loaded_drop: &LoadedDrop,
        drop: &Spanned<RawDrop>,
        config: Option<&SiteConfig>,
    ) -> Option<Drop> {
        let raw = &drop.value;
        let folder_name = loaded_drop.folder.file_name().to_owned();
        let slug = match &raw.slug {
            Some(slug) => Slug::parse(slug.value.trim()).or_else(|| {
                self.error(Kind::InvalidValue, slug, "slug", format!("`{}` is not a valid slug", slug.value), format!("use lower-case letters, digits and dashes, e.g. `{}`", slugify(&slug.value)));
                None
            }),
            None => Slug::parse(&folder_name).or_else(|| {
                let diagnostic = Diagnostic::error(Kind::InvalidValue, Location::file(self.file), format!("folder name `{folder_name}` is not a valid slug"))
                    .help(format!("the folder name becomes the page URL: rename it to `{}` (lower-case letters, digits, dashes), or set `slug:`", slugify(&folder_name)));
                self.diagnostics.push(diagnostic);
                None
            }),
        };
        let title = self.required_text(
            &raw.title,
            drop,
            "title",
            "add `title: …`, the drop's name as shown on the page",
        );
        let summary = self.required_text(
            &raw.summary,
            drop,
            "summary",
            "add `summary: …`, one or two plain sentences used in link previews",
        );
        if let (Some(summary), Some(value)) = (&summary, &raw.summary) {
            let length = summary.chars().count();
            if length > SUMMARY_SOFT_LIMIT {
                self.warning(value, "summary", format!("the summary is {length} characters long"), format!("search results and link previews cut summaries at about {SUMMARY_SOFT_LIMIT} characters; shorten it"));
            }
        }
        let starts_at = self
            .required(
                &raw.starts_at,
                drop,
                "starts_at",
                "add `starts_at: 2026-11-20T15:00:00Z` (RFC 3339, with a time zone offset)",
            )
            .and_then(|value| self.timestamp(value, "starts_at"));
        let ends_at = raw.ends_at.as_ref().map(|value| self.timestamp(value, "ends_at"));
        if let (Some(start), Some(Some(end)), Some(value)) = (starts_at, ends_at, &raw.ends_at)
            && end <= start
        {
            self.error(
                Kind::InvalidValue,
                value,
                "ends_at",
                "`ends_at` is not after `starts_at`",
                "set the end after the start, or remove `ends_at` for a drop that runs until stock is gone",
            );
        }
        let hero = self
            .required(
                &raw.hero,
                drop,
                "hero",
                "add `hero:` with `src:` (an image in the drop folder) and `alt:` (what the image shows)",
            )
            .and_then(|hero| self.image(hero, &loaded_drop.folder, "hero"));
        let checkout = match &raw.checkout_url {
            Some(value) => self.checkout_template(value, "checkout_url"),
            None => config.and_then(|config| config.checkout_url.clone()),
        };
        if raw.checkout_url.is_none() && config.is_some_and(|config| config.checkout_url.is_none()) {
            let diagnostic = Diagnostic::error(Kind::MissingField, self.at(drop), "no checkout URL for this drop's buy links")
                .field("checkout_url")
                .help("set `checkout_url: https://shop.example.com/checkout?sku={sku}&drop={drop}` in dropgen.yaml (for every drop) or in this file");
            self.diagnostics.push(diagnostic);
        }
        let products = self
            .required(
                &raw.products,
                drop,
                "products",
                "add `products:` with at least one product (`sku`, `name`, `price`)",
            )
            .and_then(|products| {
                if products.value.is_empty() {
                    self.error(
                        Kind::MissingField,
                        products,
                        "products",
                        "a drop needs at least one product",
                        "add a product with `sku`, `name` and `price`",
                    );
                    return None;
                }
                let currency = config.map(|config| config.currency);
                let slug = slug.as_ref().map_or(folder_name.as_str(), Slug::as_str);
                let checked: Vec<Option<Product>> = products
                    .value
                    .iter()
                    .enumerate()
                    .map(|(index, product)| {
                        self.product(product, index, &loaded_drop.folder, currency, checkout.as_ref(), slug)
                    })
                    .collect();
                checked.into_iter().collect::<Option<Vec<_>>>()
            });
        let stream = raw.stream.as_ref().map(|stream| {
            let embed_url = self
                .required(
                    &stream.value.embed_url,
                    stream,
                    "stream.embed_url",
                    "add `embed_url: https://…`, the player's embed address",
                )
                .and_then(|value| self.absolute_url(value, "stream.embed_url", true));
            let fallback_url = stream
                .value
                .fallback_url
                .as_ref()
                .map(|value| self.absolute_url(value, "stream.fallback_url", false));
            Some(Stream {
                embed_url: embed_url?,
                fallback_url: fallback_url.unwrap_or(Some(String::new())).filter(|u| !u.is_empty()),
            })
        });
        let tags = self.tags(raw.tags.as_ref());

        Some(Drop {
            slug: slug?,
            file: self.file.to_owned(),
            title: title?,
            summary: summary?,
            starts_at: starts_at?,
            ends_at: optional(ends_at)?,
            hero: hero?,
            description: Self::optional_text(&raw.description),
            products: products?,
            stream: optional(stream)?,
            tags: tags?,
            draft: raw.draft.as_ref().is_some_and(|draft| draft.value),
        })
    }

    fn timestamp(&mut self, value: &Spanned<String>, field: &str) -> Option<Timestamp> {
        let text = value.value.trim();
        match OffsetDateTime::parse(text, &Rfc3339) {
            Ok(time) => Some(Timestamp(time)),
            Err(_) => {
                let help = if text.len() >= 10
                    && !text.contains(['Z', 'z', '+'])
                    && text[10..].matches('-').count() == 0
                {
                    "add a time zone offset: `2026-11-20T15:00:00Z` (UTC) or `2026-11-20T10:00:00-05:00`"
                } else {
                    "write it as RFC 3339, e.g. `2026-11-20T15:00:00Z` or `2026-11-20T16:00:00+01:00`"
                };
                self.error(
                    Kind::InvalidValue,
                    value,
                    field,
                    format!("`{text}` is not a date and time with a time zone"),
                    help,
                );
                None
            }
        }
    }

    fn image(&mut self, image: &Spanned<RawImage>, folder: &SitePath, field: &str) -> Option<ImageRef> {
        let raw = &image.value;
        let alt = self.required_text(
            &raw.alt,
            image,
            &format!("{field}.alt"),
            "add `alt:` describing what the image shows, for people using screen readers",
        );
        let src = self.required(
            &raw.src,
            image,
            &format!("{field}.src"),
            "add `src:`, the image file's name in the drop folder",
        )?;
        let src_field = format!("{field}.src");
        let path = match SitePath::resolve(folder, &src.value) {
            Ok(path) => path,
            Err(err) => {
                self.error(Kind::MissingFile, src, &src_field, err.to_string(), "give a path relative to the drop folder, e.g. `hero.jpg`; images must be inside the site folder");
                return None;
            }
        };
        let facts = match self.loaded.files.get(&path) {
            Some(FileFact::Image(facts)) => facts.clone(),
            Some(FileFact::Missing { siblings }) => {
                let images: Vec<&str> =
                    siblings.iter().map(String::as_str).filter(|name| is_image_name(name)).collect();
                let help = match suggest(path.file_name(), images.iter().copied()) {
                    Some(suggestion) => format!("did you mean `{suggestion}`?"),
                    None if images.is_empty() => format!(
                        "add the image to `{}/`",
                        path.parent().map(|p| p.to_string()).unwrap_or_default()
                    ),
                    None => format!(
                        "images in that folder: {}",
                        images.iter().take(8).map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
                    ),
                };
                self.error(
                    Kind::MissingFile,
                    src,
                    &src_field,
                    format!("image `{path}` does not exist"),
                    help,
                );
                return None;
            }
            Some(FileFact::NotAFile { reason }) | Some(FileFact::Unreadable { reason }) => {
                self.error(
                    Kind::MissingFile,
                    src,
                    &src_field,
                    format!("cannot use `{path}`: {reason}"),
                    "point `src` at a readable image file inside the site folder",
                );
                return None;
            }
            Some(FileFact::Unsupported { detected }) => {
                let what = detected.as_deref().map_or_else(
                    || "not an image format dropgen reads".to_owned(),
                    |d| format!("a {d} file, which dropgen does not read"),
                );
                self.error(
                    Kind::Image,
                    src,
                    &src_field,
                    format!("`{path}` is {what}"),
                    "use a JPEG, PNG or WebP source image",
                );
                return None;
            }
            Some(FileFact::Corrupt { reason }) => {
                self.error(
                    Kind::Image,
                    src,
                    &src_field,
                    format!("`{path}` is damaged: {reason}"),
                    "export the image again from the original",
                );
                return None;
            }
            None => return None,
        };
        Some(ImageRef { source: path, alt: alt?, facts, location: self.at(src) })
    }

    fn product(
        &mut self,
        product: &Spanned<RawProduct>,
        index: usize,
        folder: &SitePath,
        site_currency: Option<Currency>,
        checkout: Option<&CheckoutTemplate>,
        slug: &str,
    ) -> Option<Product> {
        let raw = &product.value;
        let field = |name: &str| format!("products[{index}].{name}");
        let sku = self
            .required(
                &raw.sku,
                product,
                &field("sku"),
                "add `sku:`, the product's stock-keeping unit (letters, digits, `.`, `_`, `-`)",
            )
            .and_then(|value| {
                let sku = Sku::parse(value.value.trim());
                if sku.is_none() {
                    self.error(
                        Kind::InvalidValue,
                        value,
                        &field("sku"),
                        format!("`{}` is not a valid SKU", value.value),
                        "use only letters, digits, `.`, `_` and `-` (at most 64 characters)",
                    );
                }
                sku
            });
        let name = self.required_text(
            &raw.name,
            product,
            &field("name"),
            "add `name:`, the product name shown on the page",
        );
        let currency = match &raw.currency {
            Some(value) => self.currency(value, &field("currency")),
            None => site_currency,
        };
        let price = self
            .required(&raw.price, product, &field("price"), "add `price:`, e.g. `price: 79.50`")
            .and_then(|value| currency.and_then(|currency| self.money(value, &field("price"), currency)));
        let compare_at_price = raw.compare_at_price.as_ref().map(|value| {
            currency.and_then(|currency| self.money(value, &field("compare_at_price"), currency))
        });
        if let (Some(price), Some(Some(compare)), Some(value)) =
            (price, compare_at_price, &raw.compare_at_price)
            && compare.minor_units() <= price.minor_units()
        {
            self.error(
                Kind::InvalidValue,
                value,
                &field("compare_at_price"),
                format!(
                    "`compare_at_price` ({}) is not more than `price` ({})",
                    compare.display(),
                    price.display()
                ),
                "the compare-at price is the old, higher price; remove it if the product is not reduced",
            );
        }
        let images: Vec<Option<ImageRef>> = raw
            .images
            .iter()
            .flat_map(|images| images.value.iter())
            .enumerate()
            .map(|(i, image)| self.image(image, folder, &format!("products[{index}].images[{i}]")))
            .collect();
        let limit_per_customer = raw.limit_per_customer.as_ref().map(|value| {
            self.integer_in(value, &field("limit_per_customer"), 1..=1_000_000).and_then(NonZeroU32::new)
        });
        let options = self.options(raw.options.as_ref(), &field("options"));

        let sku = sku?;
        Some(Product {
            checkout_url: checkout?.expand(sku.as_str(), slug),
            sku,
            name: name?,
            price: price?,
            compare_at_price: optional(compare_at_price)?,
            images: images.into_iter().collect::<Option<Vec<_>>>()?,
            description: Self::optional_text(&raw.description),
            limit_per_customer: optional(limit_per_customer)?,
            options: options?,
        })
    }

    fn money(&mut self, value: &Spanned<ScalarText>, field: &str, currency: Currency) -> Option<Money> {
        match Money::parse(&value.value.0, currency) {
            Ok(money) => Some(money),
            Err(err) => {
                let help = match &err {
                    crate::model::money::MoneyError::TooManyDecimals { allowed: 0, .. } => {
                        format!("{} has no minor unit: give a whole number", currency.code())
                    }
                    crate::model::money::MoneyError::TooManyDecimals { allowed, .. } => {
                        format!("round the price to at most {allowed} decimal places")
                    }
                    _ => {
                        "write the amount as a plain number without a currency sign, e.g. `79.50`".to_owned()
                    }
                };
                self.error(Kind::InvalidValue, value, field, format!("price {err}"), help);
                None
            }
        }
    }

    fn options(
        &mut self,
        options: Option<&Spanned<Vec<Spanned<String>>>>,
        field: &str,
    ) -> Option<Vec<String>> {
        let mut values: Vec<String> = Vec::new();
        let mut ok = true;
        for (index, option) in options.iter().flat_map(|o| o.value.iter()).enumerate() {
            let text = option.value.trim();
            let item = format!("{field}[{index}]");
            if text.is_empty() {
                self.error(
                    Kind::InvalidValue,
                    option,
                    &item,
                    "the option is empty",
                    "remove it or give it a name, e.g. `US 9`",
                );
                ok = false;
            } else if values.iter().any(|v| v == text) {
                self.error(
                    Kind::Duplicate,
                    option,
                    &item,
                    format!("option `{text}` is listed twice"),
                    "list each option once",
                );
                ok = false;
            } else {
                values.push(text.to_owned());
            }
        }
        ok.then_some(values)
    }

    fn tags(&mut self, tags: Option<&Spanned<Vec<Spanned<String>>>>) -> Option<Vec<String>> {
        let mut values: Vec<String> = Vec::new();
        let mut ok = true;
        for (index, tag) in tags.iter().flat_map(|t| t.value.iter()).enumerate() {
            let text = tag.value.trim();
            let field = format!("tags[{index}]");
            if text.is_empty() {
                self.error(
                    Kind::InvalidValue,
                    tag,
                    &field,
                    "the tag is empty",
                    "remove it or give it a name",
                );
                ok = false;
            } else if !values.iter().any(|v| v == text) {
                values.push(text.to_owned());
            }
        }
        ok.then_some(values)
    }
}

/// An optional field after checking: absent (`None`) is fine, present but invalid
/// (`Some(None)`) fails the whole value.
fn optional<T>(checked: Option<Option<T>>) -> Option<Option<T>> {
    match checked {
        None => Some(None),
        Some(value) => value.map(Some),
    }
}

fn is_image_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [".jpg", ".jpeg", ".png", ".webp", ".avif", ".gif", ".heic", ".tif", ".tiff"]
        .iter()
        .any(|ext| lower.ends_with(ext))
}

/// A rough BCP 47 check: language, then subtags of 1–8 letters or digits.
fn is_language_tag(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let language_ok = parts
        .next()
        .is_some_and(|lang| (2..=3).contains(&lang.len()) && lang.chars().all(|c| c.is_ascii_alphabetic()));
    language_ok
        && parts.all(|part| (1..=8).contains(&part.len()) && part.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// A slug suggestion for a folder or value that is not one.
fn slugify(text: &str) -> String {
    let mut slug = String::new();
    for c in text.trim().chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-').to_owned();
    if slug.is_empty() { "my-drop".to_owned() } else { slug }
}

#[cfg(test)]
mod tests;
