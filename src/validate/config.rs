//! Rules for `dropgen.yaml`.

use std::collections::BTreeSet;

use serde_saphyr::Spanned;

use super::{Checker, closest};
use crate::diagnostic::{Diagnostic, Kind, Location};
use crate::load::raw::{self, RawConfig, RawHeaders, RawPurge, ScalarText};
use crate::load::theme::DEFAULT_THEME;
use crate::model::{
    AvifChroma, CacheClass, CheckoutTemplate, Currency, Delivery, ImageFormat, ImageSettings, Quality,
    SiteConfig,
};

/// Accepted range of `images.widths` entries, in pixels.
pub(crate) const IMAGE_WIDTH_RANGE: std::ops::RangeInclusive<u32> = 16..=8192;
/// Accepted range of `images.quality` values.
pub(crate) const QUALITY_RANGE: std::ops::RangeInclusive<u32> = 1..=100;
/// At most this many widths: each one multiplies encoding time.
pub(crate) const MAX_IMAGE_WIDTHS: usize = 12;
/// Accepted range of `images.max_megapixels`.
pub(crate) const MEGAPIXELS_RANGE: std::ops::RangeInclusive<u32> = 1..=1000;
/// Accepted range of `images.avif_speed` (libaom's speed presets).
pub(crate) const AVIF_SPEED_RANGE: std::ops::RangeInclusive<u32> = 0..=10;
/// Accepted range of `purge.removed_asset_grace_days`.
pub(crate) const GRACE_DAYS_RANGE: std::ops::RangeInclusive<u32> = 0..=365;

impl Checker<'_> {
    pub(super) fn config(&mut self, config: &Spanned<RawConfig>) -> Option<SiteConfig> {
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
        if Self::optional_text(&raw.description).is_empty() {
            let at = raw.description.as_ref().map_or_else(|| self.at(config), |value| self.at(value));
            let diagnostic = Diagnostic::warning(
                Kind::MissingField,
                at,
                "no `description`: the index has no meta description, so search results and link previews make one up",
            )
            .field("description")
            .help("add `description: …`, one or two sentences about the shop (at most 160 characters)");
            self.diagnostics.push(diagnostic);
        }
        // The theme itself was loaded by name in `load`; here the name is only checked.
        let theme_found = match &raw.theme {
            Some(theme) => self.theme(theme),
            None => Some(()),
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
        let delivery = self.delivery(raw.headers.as_ref(), raw.purge.as_ref());

        let base_url = base_url?;
        let title = if title.is_empty() { base_url.host_str().unwrap_or("Drops").to_owned() } else { title };
        theme_found?;
        Some(SiteConfig {
            base_url,
            title,
            description: Self::optional_text(&raw.description),
            currency: currency?,
            locale: locale?,
            inventory_api,
            checkout_url,
            images: images?,
            telemetry_url,
            delivery: delivery?,
        })
    }

    /// `headers:` and `purge:`: anything not given keeps its default.
    fn delivery(
        &mut self,
        headers: Option<&Spanned<RawHeaders>>,
        purge: Option<&Spanned<RawPurge>>,
    ) -> Option<Delivery> {
        let mut delivery = Delivery::default();
        let mut ok = true;
        if let Some(headers) = headers {
            let raw = &headers.value;
            for (class, given) in [
                (CacheClass::Immutable, &raw.immutable),
                (CacheClass::Data, &raw.data),
                (CacheClass::Document, &raw.document),
            ] {
                let Some(given) = given else { continue };
                let slot = delivery.headers.get_mut(&class).expect("every class has default headers");
                let field = format!("headers.{}", class.name());
                if let Some(value) = &given.value.cache_control {
                    match self.header_value(value, &format!("{field}.cache_control")) {
                        Some(text) if !text.is_empty() => slot.cache_control = text,
                        Some(_) => {
                            self.error(
                                Kind::InvalidValue,
                                value,
                                &format!("{field}.cache_control"),
                                "`cache_control` is empty",
                                "give a Cache-Control value such as `public, max-age=300`",
                            );
                            ok = false;
                        }
                        None => ok = false,
                    }
                }
                if let Some(value) = &given.value.cdn_cache_control {
                    match self.header_value(value, &format!("{field}.cdn_cache_control")) {
                        Some(text) => slot.cdn_cache_control = (!text.is_empty()).then_some(text),
                        None => ok = false,
                    }
                }
            }
        }
        if let Some(purge) = purge {
            if let Some(value) = &purge.value.cloudflare_batch_size {
                match self.integer_in(value, "purge.cloudflare_batch_size", Delivery::CLOUDFLARE_BATCH_RANGE)
                {
                    Some(size) => delivery.cloudflare_batch_size = size as usize,
                    None => ok = false,
                }
            }
            if let Some(value) = &purge.value.removed_asset_grace_days {
                match self.integer_in(value, "purge.removed_asset_grace_days", GRACE_DAYS_RANGE) {
                    Some(days) => delivery.removed_asset_grace_days = days,
                    None => ok = false,
                }
            }
        }
        ok.then_some(delivery)
    }

    /// A header value: printable ASCII on one line, so it cannot smuggle in another header.
    fn header_value(&mut self, value: &Spanned<String>, field: &str) -> Option<String> {
        let text = value.value.trim();
        if text.chars().all(|c| c == ' ' || c.is_ascii_graphic()) {
            Some(text.to_owned())
        } else {
            self.error(
                Kind::InvalidValue,
                value,
                field,
                "the header value contains a line break or a non-ASCII character",
                "write the value on one line in plain ASCII, e.g. `public, max-age=300`",
            );
            None
        }
    }

    pub(super) fn base_url(&mut self, value: &Spanned<String>) -> Option<url::Url> {
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
        if url.path() != "/" {
            // Pages refer to their assets as `/_assets/…`; under a sub-path those would miss.
            self.error(
                Kind::InvalidValue,
                value,
                "base_url",
                format!("`{text}` has a path; dropgen sites are served from the root of their host"),
                format!(
                    "use `{}://{}/` (a host of its own, e.g. `drops.example.com`)",
                    url.scheme(),
                    url.host_str().unwrap_or("example.com")
                ),
            );
            return None;
        }
        url.set_path("/");
        Some(url)
    }

    /// An absolute `https` URL, or `http` on a loopback host for local previews.
    pub(super) fn parse_web_url(
        &mut self,
        value: &Spanned<String>,
        field: &str,
        https_only: bool,
    ) -> Option<url::Url> {
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

    /// The URL as the parser normalised it, so stray tabs or newlines (which browsers strip
    /// but a `data-` attribute would keep) never reach a page.
    pub(super) fn absolute_url(
        &mut self,
        value: &Spanned<String>,
        field: &str,
        https_only: bool,
    ) -> Option<String> {
        self.parse_web_url(value, field, https_only).map(|url| url.to_string())
    }

    /// `Some` when the theme named exists.
    pub(super) fn theme(&mut self, value: &Spanned<String>) -> Option<()> {
        let name = value.value.trim();
        let theme = &self.loaded.theme;
        if name == DEFAULT_THEME || theme.found_in_site {
            return Some(());
        }
        let mut known: Vec<&str> = theme.available.iter().map(String::as_str).collect();
        known.push(DEFAULT_THEME);
        let help = match closest(name, known.iter().copied()) {
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

    pub(super) fn currency(&mut self, value: &Spanned<String>, field: &str) -> Option<Currency> {
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

    pub(super) fn checkout_template(
        &mut self,
        value: &Spanned<String>,
        field: &str,
    ) -> Option<CheckoutTemplate> {
        let text = value.value.trim();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            let after = &rest[open..];
            let placeholder = after.find('}').map_or(after, |close| &after[..=close]);
            if !CheckoutTemplate::PLACEHOLDERS.contains(&placeholder) {
                let help = match closest(placeholder, CheckoutTemplate::PLACEHOLDERS) {
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

    /// `images:`: each setting has its own rules below; a missing one takes its default.
    pub(super) fn image_settings(
        &mut self,
        images: &Spanned<raw::RawImageSettings>,
    ) -> Option<ImageSettings> {
        let raw = &images.value;
        let defaults = ImageSettings::default();
        let widths = self.image_widths(raw.widths.as_ref(), &defaults.widths);
        let formats = self.image_formats(raw.formats.as_ref(), &defaults.formats);
        let quality = self.image_quality(raw.quality.as_ref(), defaults.quality);
        let max_megapixels = self.setting_in(
            raw.max_megapixels.as_ref(),
            "images.max_megapixels",
            MEGAPIXELS_RANGE,
            defaults.max_megapixels,
        );
        let avif_speed = self.setting_in(
            raw.avif_speed.as_ref(),
            "images.avif_speed",
            AVIF_SPEED_RANGE,
            u32::from(defaults.avif_speed),
        );
        let avif_chroma = self.avif_chroma(raw.avif_chroma.as_ref(), defaults.avif_chroma);
        Some(ImageSettings {
            widths: widths?,
            formats: formats?,
            quality: quality?,
            max_megapixels: max_megapixels?,
            avif_speed: u8::try_from(avif_speed?).unwrap_or(10),
            avif_chroma: avif_chroma?,
        })
    }

    /// `images.widths`: 1 to [`MAX_IMAGE_WIDTHS`] widths in [`IMAGE_WIDTH_RANGE`], sorted,
    /// without duplicates.
    fn image_widths(
        &mut self,
        widths: Option<&Spanned<Vec<Spanned<ScalarText>>>>,
        default: &[u32],
    ) -> Option<Vec<u32>> {
        let Some(widths) = widths else { return Some(default.to_vec()) };
        let mut ok = true;
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
        let mut values = BTreeSet::new();
        for (index, width) in widths.value.iter().enumerate() {
            match self.integer_in(width, &format!("images.widths[{index}]"), IMAGE_WIDTH_RANGE) {
                Some(width) => {
                    values.insert(width);
                }
                None => ok = false,
            }
        }
        ok.then(|| values.into_iter().collect())
    }

    /// `images.formats`: known formats, each once, in preference order.
    fn image_formats(
        &mut self,
        formats: Option<&Spanned<Vec<Spanned<String>>>>,
        default: &[ImageFormat],
    ) -> Option<Vec<ImageFormat>> {
        let Some(formats) = formats else { return Some(default.to_vec()) };
        let mut ok = true;
        let mut seen: Vec<(ImageFormat, Location)> = Vec::new();
        for (index, format) in formats.value.iter().enumerate() {
            let field = format!("images.formats[{index}]");
            let name = format.value.trim().to_lowercase();
            let Some(known) = ImageFormat::ALL.into_iter().find(|f| f.name() == name) else {
                let help = match closest(&name, ImageFormat::ALL.iter().map(|f| f.name())) {
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
                continue;
            };
            if let Some((_, first)) = seen.iter().find(|(seen, _)| *seen == known) {
                let help = format!("list each format once; {}", super::first_at(first));
                self.error(Kind::Duplicate, format, &field, format!("`{name}` is listed twice"), help);
                ok = false;
            } else {
                seen.push((known, self.at(format)));
            }
        }
        ok.then(|| seen.into_iter().map(|(format, _)| format).collect())
    }

    /// `images.quality`: each format's quality in [`QUALITY_RANGE`].
    fn image_quality(
        &mut self,
        quality: Option<&Spanned<raw::RawQuality>>,
        default: Quality,
    ) -> Option<Quality> {
        let Some(raw) = quality.map(|quality| &quality.value) else { return Some(default) };
        let mut setting = |value: &Option<Spanned<ScalarText>>, name: &str, default: u8| {
            let value = self.setting_in(
                value.as_ref(),
                &format!("images.quality.{name}"),
                QUALITY_RANGE,
                u32::from(default),
            );
            value.map(|value| u8::try_from(value).unwrap_or(100))
        };
        let avif = setting(&raw.avif, "avif", default.avif);
        let webp = setting(&raw.webp, "webp", default.webp);
        let jpeg = setting(&raw.jpeg, "jpeg", default.jpeg);
        Some(Quality { avif: avif?, webp: webp?, jpeg: jpeg? })
    }

    /// A whole-number setting in `range`, or `default` when absent.
    fn setting_in(
        &mut self,
        value: Option<&Spanned<ScalarText>>,
        field: &str,
        range: std::ops::RangeInclusive<u32>,
        default: u32,
    ) -> Option<u32> {
        match value {
            Some(value) => self.integer_in(value, field, range),
            None => Some(default),
        }
    }

    /// `images.avif_chroma`: `4:2:0` or `4:4:4` (with or without the colons).
    fn avif_chroma(
        &mut self,
        value: Option<&Spanned<ScalarText>>,
        default: AvifChroma,
    ) -> Option<AvifChroma> {
        let Some(value) = value else { return Some(default) };
        let text = value.value.0.trim();
        let chroma = AvifChroma::ALL
            .into_iter()
            .find(|chroma| chroma.name() == text || chroma.name().replace(':', "") == text);
        if chroma.is_none() {
            self.error(
                Kind::InvalidValue,
                value,
                "images.avif_chroma",
                format!("`{text}` is not a chroma subsampling dropgen knows"),
                "use `auto` (chosen per image from its pixels, the default), `\"4:2:0\"` (smaller files) or `\"4:4:4\"` (sharper colour edges), in quotes",
            );
        }
        chroma
    }

    pub(super) fn integer_in(
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
