//! Rules for `drops/<slug>/drop.yaml`: the drop, its products and its images.

use std::num::NonZeroU32;

use serde_saphyr::Spanned;
use time::UtcOffset;
use time::macros::datetime;

use super::local_time;
use super::{Checker, closest, optional};
use crate::diagnostic::{Diagnostic, Kind, Location};
use crate::load::raw::{RawDrop, RawImage, RawProduct, RawStream, ScalarText};
use crate::load::{FileFact, LoadedDrop};
use crate::model::{
    CheckoutTemplate, Currency, Drop, ImageFacts, ImageRef, ImageSettings, Money, Product, SiteConfig,
    SitePath, Sku, Slug, Stream, Timestamp,
};
use crate::rfc3339;

/// Summaries longer than this are cut off by search engines and link previews.
pub(crate) const SUMMARY_SOFT_LIMIT: usize = 160;
/// Accepted range of a product's `limit_per_customer`.
pub(crate) const LIMIT_PER_CUSTOMER_RANGE: std::ops::RangeInclusive<u32> = 1..=1_000_000;
/// Accepted range of a product's `stock`: the units the inventory service starts it with.
pub(crate) const STOCK_RANGE: std::ops::RangeInclusive<u32> = 0..=100_000_000;

impl Checker<'_> {
    /// One drop file: each group of fields has its own rules below, and every problem of
    /// every group is reported before the drop is given up.
    pub(super) fn drop(
        &mut self,
        loaded_drop: &LoadedDrop,
        drop: &Spanned<RawDrop>,
        config: Option<&SiteConfig>,
    ) -> Option<Drop> {
        let raw = &drop.value;
        let folder = &loaded_drop.folder;
        let slug = self.slug(raw, folder.file_name());
        let (title, summary) = self.drop_texts(drop);
        let (starts_at, ends_at) = self.schedule(drop);
        let hero = self
            .required(
                &raw.hero,
                drop,
                "hero",
                "add `hero:` with `src:` (an image in the drop folder) and `alt:` (what the image shows)",
            )
            .and_then(|hero| self.image(hero, folder, "hero"));
        let checkout = self.drop_checkout(drop, config);
        let slug_text = slug.as_ref().map_or(folder.file_name(), Slug::as_str);
        let currency = config.map(|config| config.currency);
        let products = self.products(drop, folder, currency, checkout.as_ref(), slug_text);
        let stream = raw.stream.as_ref().map(|stream| self.stream(stream));
        let tags = self.tags(raw.tags.as_ref());
        if let Some(settings) = config.map(|config| &config.images)
            && !self.images_fit(hero.as_ref(), products.as_deref(), settings)
        {
            return None;
        }

        Some(Drop {
            slug: slug?,
            file: self.file.to_owned(),
            title: title?,
            summary: summary?,
            starts_at: starts_at?,
            ends_at: optional(ends_at)?,
            hero: hero?,
            description: self.markdown(&raw.description, "description"),
            products: products?,
            stream: optional(stream)?,
            tags: tags?,
            draft: raw.draft.as_ref().is_some_and(|draft| draft.value),
        })
    }

    /// `slug:`, else the folder name, which becomes the page URL; never an archive's.
    fn slug(&mut self, raw: &RawDrop, folder_name: &str) -> Option<Slug> {
        let slug = self.written_slug(raw, folder_name)?;
        if slug.as_str() == crate::model::ARCHIVE_FOLDER {
            let message = format!(
                "the slug `{}` is the folder of the index's archives (/{}/ended/, …)",
                slug.as_str(),
                slug.as_str()
            );
            let help = format!("name the drop itself: e.g. `slug: {}-drop`", slug.as_str());
            match &raw.slug {
                Some(written) => self.error(Kind::InvalidValue, written, "slug", message, help),
                None => self.diagnostics.push(
                    Diagnostic::error(Kind::InvalidValue, Location::file(self.file), message)
                        .help(format!("{help}, or rename the folder")),
                ),
            }
            return None;
        }
        Some(slug)
    }

    /// The slug as written (`slug:`, else the folder name), if it is one.
    fn written_slug(&mut self, raw: &RawDrop, folder_name: &str) -> Option<Slug> {
        let Some(slug) = &raw.slug else {
            return Slug::parse(folder_name).or_else(|| {
                let diagnostic = Diagnostic::error(Kind::InvalidValue, Location::file(self.file), format!("folder name `{folder_name}` is not a valid slug"))
                    .help(format!("the folder name becomes the page URL: rename it to `{}` (lower-case letters, digits, dashes), or set `slug:`", slugify(folder_name)));
                self.diagnostics.push(diagnostic);
                None
            });
        };
        Slug::parse(slug.value.trim()).or_else(|| {
            self.error(
                Kind::InvalidValue,
                slug,
                "slug",
                format!("`{}` is not a valid slug", slug.value),
                format!("use lower-case letters, digits and dashes, e.g. `{}`", slugify(&slug.value)),
            );
            None
        })
    }

    /// `title` and `summary`, which also feed link previews.
    fn drop_texts(&mut self, drop: &Spanned<RawDrop>) -> (Option<String>, Option<String>) {
        let raw = &drop.value;
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
        (title, summary)
    }

    /// `starts_at` and `ends_at`: the end, when given, after the start.
    fn schedule(&mut self, drop: &Spanned<RawDrop>) -> (Option<Timestamp>, Option<Option<Timestamp>>) {
        let raw = &drop.value;
        // The offset the marketer writes times in, from whichever time reads.
        let offset = [&raw.starts_at, &raw.ends_at]
            .into_iter()
            .flatten()
            .find_map(|value| rfc3339::parse(value.value.trim()).ok())
            .map_or(UtcOffset::UTC, |time| time.offset());
        let starts_at = self
            .required(
                &raw.starts_at,
                drop,
                "starts_at",
                "add `starts_at: 2026-11-20T15:00:00Z` (RFC 3339, with a time zone offset)",
            )
            .and_then(|value| self.timestamp(value, "starts_at", offset));
        let ends_at = raw.ends_at.as_ref().map(|value| self.timestamp(value, "ends_at", offset));
        if let (Some(start), Some(Some(end)), Some(value)) = (starts_at, ends_at, &raw.ends_at)
            && end <= start
        {
            self.error(
                Kind::InvalidValue,
                value,
                "ends_at",
                format!(
                    "`ends_at` ({}) is not after `starts_at` ({})",
                    rfc3339::format(end.0),
                    rfc3339::format(start.0)
                ),
                "set the end after the start, or remove `ends_at` for a drop that runs until stock is gone",
            );
        }
        (starts_at, ends_at)
    }

    /// The drop's `checkout_url`, else the site's; one of them must be set.
    fn drop_checkout(
        &mut self,
        drop: &Spanned<RawDrop>,
        config: Option<&SiteConfig>,
    ) -> Option<CheckoutTemplate> {
        let raw = &drop.value;
        if let Some(value) = &raw.checkout_url {
            return self.checkout_template(value, "checkout_url");
        }
        let config = config?;
        if config.checkout_url.is_none() {
            let diagnostic = Diagnostic::error(Kind::MissingField, self.at(drop), "no checkout URL for this drop's buy links")
                .field("checkout_url")
                .help("set `checkout_url: https://shop.example.com/checkout?sku={sku}&drop={drop}` in dropgen.yaml (for every drop) or in this file");
            self.diagnostics.push(diagnostic);
        }
        config.checkout_url.clone()
    }

    /// `products`: at least one, each checked alone (SKUs across the site are checked by
    /// `check_unique`).
    fn products(
        &mut self,
        drop: &Spanned<RawDrop>,
        folder: &SitePath,
        currency: Option<Currency>,
        checkout: Option<&CheckoutTemplate>,
        slug: &str,
    ) -> Option<Vec<Product>> {
        let products = self.required(
            &drop.value.products,
            drop,
            "products",
            "add `products:` with at least one product (`sku`, `name`, `price`)",
        )?;
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
        let checked: Vec<Option<Product>> = products
            .value
            .iter()
            .enumerate()
            .map(|(index, product)| self.product(product, index, folder, currency, checkout, slug))
            .collect();
        checked.into_iter().collect()
    }

    /// `stream`: an embed URL, and an optional link for when the player cannot load.
    fn stream(&mut self, stream: &Spanned<RawStream>) -> Option<Stream> {
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
    }

    /// Every image of the drop within the pixel budget; see [`Checker::image_size`].
    fn images_fit(
        &mut self,
        hero: Option<&ImageRef>,
        products: Option<&[Product]>,
        settings: &ImageSettings,
    ) -> bool {
        let mut images: Vec<(String, &ImageRef)> =
            hero.iter().map(|hero| ("hero.src".to_owned(), *hero)).collect();
        for (index, product) in products.into_iter().flatten().enumerate() {
            for (i, image) in product.images.iter().enumerate() {
                images.push((format!("products[{index}].images[{i}].src"), image));
            }
        }
        let mut fits = true;
        for (field, image) in images {
            fits &= self.image_size(image, &field, settings);
        }
        fits
    }

    /// Source images must fit the pixel budget (a decompression bomb is refused before it is
    /// decoded); one narrower than the smallest configured width is only worth a warning.
    fn image_size(&mut self, image: &ImageRef, field: &str, settings: &ImageSettings) -> bool {
        let (width, height) = (u64::from(image.facts.width), u64::from(image.facts.height));
        if width * height > u64::from(settings.max_megapixels) * 1_000_000 {
            let diagnostic = Diagnostic::error(
                Kind::Image,
                image.location.clone(),
                format!("`{}` is {width}×{height} pixels, over the limit of {} megapixels", image.source, settings.max_megapixels),
            )
            .field(field)
            .help("export a smaller image (a few thousand pixels wide is plenty), or raise `images.max_megapixels` in dropgen.yaml");
            self.diagnostics.push(diagnostic);
            return false;
        }
        let smallest = settings.widths.first().copied().unwrap_or_default();
        if image.facts.width < smallest {
            let diagnostic = Diagnostic::warning(
                Kind::Image,
                image.location.clone(),
                format!(
                    "`{}` is only {width} pixels wide, less than the smallest configured width ({smallest})",
                    image.source
                ),
            )
            .field(field)
            .help("it is used as it is and will look soft on large screens; export it wider if you can");
            self.diagnostics.push(diagnostic);
        }
        true
    }

    /// Markdown text. Images in it are removed when rendering (they would bypass the image
    /// pipeline and the page's Content-Security-Policy), so say so.
    fn markdown(&mut self, value: &Option<Spanned<String>>, field: &str) -> String {
        let Some(value) = value else { return String::new() };
        let lower = value.value.to_lowercase();
        if lower.contains("![") || lower.contains("<img") {
            self.warning(value, field, "images in markdown are not shown", "put images in `hero` or a product's `images`, where they get alt text checks and responsive sizes");
        }
        value.value.trim().to_owned()
    }

    /// A time with its offset. `offset` is the drop's own (from its other time, if that one
    /// reads), for examples in the marketer's time zone.
    pub(super) fn timestamp(
        &mut self,
        value: &Spanned<String>,
        field: &str,
        offset: UtcOffset,
    ) -> Option<Timestamp> {
        let text = value.value.trim();
        if let Ok(time) = rfc3339::parse(text) {
            return Some(Timestamp(time));
        }
        let readings = local_time::readings(text, offset);
        let year_first = text
            .as_bytes()
            .get(..5)
            .is_some_and(|head| head[..4].iter().all(u8::is_ascii_digit) && head[4] == b'-');
        let help = match &readings[..] {
            [reading] if year_first => format!("add the time zone offset: `{reading}`"),
            [reading] => {
                format!("write it year-month-day, with the time in 24 hours and the offset: `{reading}`")
            }
            [reading, other, ..] => format!(
                "write it year-month-day, with the time in 24 hours and the offset: `{reading}`, or `{other}` if the day comes first"
            ),
            [] => {
                let example = rfc3339::format(datetime!(2026-11-20 15:00).assume_offset(offset));
                format!("write it year-month-day, with the time in 24 hours and the offset, e.g. `{example}`")
            }
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

    pub(super) fn image(
        &mut self,
        image: &Spanned<RawImage>,
        folder: &SitePath,
        field: &str,
    ) -> Option<ImageRef> {
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
        let facts = self.image_facts(&path, src, &src_field)?;
        Some(ImageRef { source: path, alt: alt?, facts, location: self.at(src), field: src_field })
    }

    /// What `load` found at an image's path, or an error saying why it cannot be used.
    fn image_facts(&mut self, path: &SitePath, src: &Spanned<String>, src_field: &str) -> Option<ImageFacts> {
        match self.loaded.files.get(path) {
            Some(FileFact::Image(facts)) => Some(facts.clone()),
            Some(FileFact::Missing { siblings }) => {
                let images: Vec<&str> =
                    siblings.iter().map(String::as_str).filter(|name| is_image_name(name)).collect();
                let help = match closest(path.file_name(), images.iter().copied()) {
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
                self.error(Kind::MissingFile, src, src_field, format!("image `{path}` does not exist"), help);
                None
            }
            Some(FileFact::NotAFile { reason }) | Some(FileFact::Unreadable { reason }) => {
                self.error(
                    Kind::MissingFile,
                    src,
                    src_field,
                    format!("cannot use `{path}`: {reason}"),
                    "point `src` at a readable image file inside the site folder",
                );
                None
            }
            Some(FileFact::Unsupported { detected }) => {
                let what = detected.as_deref().map_or_else(
                    || "not an image format dropgen reads".to_owned(),
                    |d| format!("a {d} file, which dropgen does not read"),
                );
                self.error(
                    Kind::Image,
                    src,
                    src_field,
                    format!("`{path}` is {what}"),
                    "use a JPEG, PNG or WebP source image",
                );
                None
            }
            Some(FileFact::Corrupt { reason }) => {
                self.error(
                    Kind::Image,
                    src,
                    src_field,
                    format!("`{path}` is damaged: {reason}"),
                    "export the image again from the original",
                );
                None
            }
            None => None,
        }
    }

    pub(super) fn product(
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
        let sku = self.sku(raw, product, &field("sku"));
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
        {
            self.check_reduced(price, compare, value, &field("compare_at_price"));
        }
        let images: Vec<Option<ImageRef>> = raw
            .images
            .iter()
            .flat_map(|images| images.value.iter())
            .enumerate()
            .map(|(i, image)| self.image(image, folder, &format!("products[{index}].images[{i}]")))
            .collect();
        let limit_per_customer = raw.limit_per_customer.as_ref().map(|value| {
            self.integer_in(value, &field("limit_per_customer"), LIMIT_PER_CUSTOMER_RANGE)
                .and_then(NonZeroU32::new)
        });
        let stock = raw.stock.as_ref().map(|value| self.integer_in(value, &field("stock"), STOCK_RANGE));
        let options = self.options(raw.options.as_ref(), &field("options"));

        let sku = sku?;
        Some(Product {
            checkout_url: checkout?.expand(sku.as_str(), slug),
            sku,
            name: name?,
            price: price?,
            compare_at_price: optional(compare_at_price)?,
            images: images.into_iter().collect::<Option<Vec<_>>>()?,
            description: self.markdown(&raw.description, &field("description")),
            limit_per_customer: optional(limit_per_customer)?,
            stock: optional(stock)?,
            options: options?,
        })
    }

    fn sku(&mut self, raw: &RawProduct, product: &Spanned<RawProduct>, field: &str) -> Option<Sku> {
        let value = self.required(
            &raw.sku,
            product,
            field,
            "add `sku:`, the product's stock-keeping unit (letters, digits, `.`, `_`, `-`)",
        )?;
        let sku = Sku::parse(value.value.trim());
        if sku.is_none() {
            self.error(
                Kind::InvalidValue,
                value,
                field,
                format!("`{}` is not a valid SKU", value.value),
                "use only letters, digits, `.`, `_` and `-` (at most 64 characters)",
            );
        }
        sku
    }

    /// A compare-at price is the old, higher one.
    fn check_reduced(&mut self, price: Money, compare: Money, value: &Spanned<ScalarText>, field: &str) {
        if compare.minor_units() > price.minor_units() {
            return;
        }
        self.error(
            Kind::InvalidValue,
            value,
            field,
            format!(
                "`compare_at_price` ({}) is not more than `price` ({})",
                compare.display(),
                price.display()
            ),
            "the compare-at price is the old, higher price; remove it if the product is not reduced",
        );
    }

    pub(super) fn money(
        &mut self,
        value: &Spanned<ScalarText>,
        field: &str,
        currency: Currency,
    ) -> Option<Money> {
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
                    crate::model::money::MoneyError::NotANumber(text) => not_a_number_help(text),
                    _ => "write the amount as a plain number, e.g. `79.50`".to_owned(),
                };
                self.error(Kind::InvalidValue, value, field, format!("price {err}"), help);
                None
            }
        }
    }

    pub(super) fn options(
        &mut self,
        options: Option<&Spanned<Vec<Spanned<String>>>>,
        field: &str,
    ) -> Option<Vec<String>> {
        self.names(options, field, "option", "remove it or give it a name, e.g. `US 9`")
    }

    pub(super) fn tags(&mut self, tags: Option<&Spanned<Vec<Spanned<String>>>>) -> Option<Vec<String>> {
        self.names(tags, "tags", "tag", "remove it or give it a name")
    }

    /// A list of names (a product's options, a drop's tags): trimmed, none empty, none given
    /// twice. A name given twice is an error at the second that says where the first is.
    fn names(
        &mut self,
        list: Option<&Spanned<Vec<Spanned<String>>>>,
        field: &str,
        what: &str,
        empty_help: &str,
    ) -> Option<Vec<String>> {
        let mut names: Vec<(String, Location)> = Vec::new();
        let mut ok = true;
        for (index, name) in list.iter().flat_map(|list| list.value.iter()).enumerate() {
            let text = name.value.trim();
            let item = format!("{field}[{index}]");
            if text.is_empty() {
                self.error(Kind::InvalidValue, name, &item, format!("the {what} is empty"), empty_help);
                ok = false;
            } else if let Some((_, first)) = names.iter().find(|(seen, _)| seen == text) {
                let message = format!("{what} `{text}` is listed twice");
                let help = format!("list each {what} once; {}", super::first_at(first));
                self.error(Kind::Duplicate, name, &item, message, help);
                ok = false;
            } else {
                names.push((text.to_owned(), self.at(name)));
            }
        }
        ok.then(|| names.into_iter().map(|(name, _)| name).collect())
    }
}

fn is_image_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [".jpg", ".jpeg", ".png", ".webp", ".avif", ".gif", ".heic", ".tif", ".tiff"]
        .iter()
        .any(|ext| lower.ends_with(ext))
}

/// A slug suggestion for a folder or value that is not one.
fn slugify(text: &str) -> String {
    crate::model::slugify(text, Slug::MAX_LEN).unwrap_or_else(|| "my-drop".to_owned())
}

/// How to write a price that is not a plain number, in the words of the mistake made.
fn not_a_number_help(text: &str) -> String {
    let text = text.trim();
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    let (whole, decimals) = text.split_once('.').unwrap_or((text, ""));
    let groups: Vec<&str> = whole.split(',').collect();
    let thousands = groups.len() > 1
        && (1..=3).contains(&groups[0].len())
        && groups.iter().all(|group| digits(group))
        && groups[1..].iter().all(|group| group.len() == 3)
        && (decimals.is_empty() || digits(decimals));
    if thousands {
        let plain = text.replace(',', "");
        return format!("remove the thousands separator: `{plain}`");
    }
    if let Some((units, cents)) = text.split_once(',')
        && digits(units)
        && digits(cents)
        && cents.len() <= 2
    {
        return format!("write the decimals after a dot: `{units}.{cents}`");
    }
    "write the amount as a plain number without a currency sign or separators, e.g. `79.50`".to_owned()
}
