//! What templates see: plain serialisable views of the model, with every URL, date text and
//! HTML fragment computed once here rather than in template logic. Optional text is an empty
//! string rather than null so templates can print it without a check.

use serde::Serialize;
use time::macros::format_description;

use super::markdown;
use crate::images::{Images, PublishedImage, placeholder_class};
use crate::model::{Drop, ImageRef, Money, Product, Site, Sku, Timestamp};
use crate::output::media_type;
use crate::rfc3339;

/// `site` in every template.
#[derive(Debug, Serialize)]
pub(crate) struct SiteContext {
    pub(crate) title: String,
    pub(crate) description: String,
    /// Absolute, ends with `/`.
    pub(crate) base_url: String,
    pub(crate) locale: String,
    pub(crate) currency: &'static str,
    /// Empty when the site has no inventory API.
    pub(crate) inventory_api: String,
    pub(crate) telemetry_url: String,
}

/// `page` in every template: where this page lives.
#[derive(Debug, Serialize)]
pub(crate) struct PageContext {
    /// Root-relative URL of the page (`/aero-runner-2/`); empty for pages without one.
    pub(crate) url: String,
    /// Absolute URL for `rel=canonical` and `og:url`; empty when the page has none (404).
    pub(crate) canonical_url: String,
    /// Drafts are built only for previews and must not be indexed.
    pub(crate) noindex: bool,
}

impl PageContext {
    pub(crate) fn for_drop(drop: &DropContext) -> Self {
        PageContext { url: drop.url.clone(), canonical_url: drop.canonical_url.clone(), noindex: drop.draft }
    }

    pub(crate) fn index(site: &Site) -> Self {
        PageContext { url: "/".to_owned(), canonical_url: site.config.base_url.to_string(), noindex: false }
    }

    /// A page of an index archive, at root-relative `url`.
    pub(crate) fn archive(site: &Site, url: &str) -> Self {
        PageContext {
            url: url.to_owned(),
            canonical_url: absolute(&site.config.base_url, url),
            noindex: false,
        }
    }

    pub(crate) fn not_found() -> Self {
        PageContext { url: String::new(), canonical_url: String::new(), noindex: true }
    }
}

/// `drop` on a drop page, and each entry of `drops` on the index.
#[derive(Debug, Serialize)]
pub(crate) struct DropContext {
    pub(crate) slug: String,
    pub(crate) file: String,
    pub(crate) url: String,
    pub(crate) canonical_url: String,
    pub(crate) title: String,
    pub(crate) summary: String,
    /// RFC 3339, as written (offset kept), for `<time datetime>` and `data-starts-at`.
    pub(crate) starts_at: String,
    /// For people, in the offset the drop was written in, e.g. `5 Feb 2027, 10:00 UTC+01:00`.
    pub(crate) starts_at_display: String,
    pub(crate) ends_at: String,
    pub(crate) ends_at_display: String,
    pub(crate) hero: ImageContext,
    /// Sanitised HTML.
    pub(crate) description_html: String,
    pub(crate) products: Vec<ProductContext>,
    /// The lowest price of the drop's products, displayed (`$30.00`); empty without products.
    pub(crate) price_from: String,
    /// Whether every product costs `price_from`, so a card says "$30.00", not "From $30.00".
    pub(crate) one_price: bool,
    pub(crate) stream: Option<StreamContext>,
    pub(crate) tags: Vec<String>,
    pub(crate) draft: bool,
    /// schema.org `Product` data as JSON, safe to place inside `<script>`.
    pub(crate) json_ld: String,
}

/// One image as `<picture>` markup needs it.
#[derive(Debug, Serialize)]
pub(crate) struct ImageContext {
    /// The fallback (JPEG, or PNG with transparency) at its wide size, for `<img src>`.
    pub(crate) url: String,
    /// Every width of the fallback (a narrow and a wide one), for `<img srcset>`.
    pub(crate) srcset: String,
    /// AVIF and WebP, in the configured order, for `<source>` elements.
    pub(crate) sources: Vec<SourceContext>,
    /// Of the largest variant, for `width` and `height`: the aspect ratio, so nothing shifts.
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) alt: String,
    /// `ph-rrggbb`, the class that paints the average colour until the image loads; empty for
    /// transparent images.
    pub(crate) placeholder_class: String,
    /// The variant social networks should show (the wide fallback, about 1200 wide), absolute.
    pub(crate) og: OgImageContext,
}

#[derive(Debug, Serialize)]
pub(crate) struct SourceContext {
    #[serde(rename = "type")]
    pub(crate) mime: &'static str,
    pub(crate) srcset: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct OgImageContext {
    pub(crate) url: String,
    #[serde(rename = "type")]
    pub(crate) mime: &'static str,
    pub(crate) width: u32,
    pub(crate) height: u32,
}

fn image_context(base_url: &url::Url, image: &ImageRef, published: Option<&PublishedImage>) -> ImageContext {
    let Some(published) = published else {
        // Only when the image stage failed, and then the build fails too.
        return ImageContext {
            url: String::new(),
            srcset: String::new(),
            sources: Vec::new(),
            width: image.facts.width,
            height: image.facts.height,
            alt: image.alt.clone(),
            placeholder_class: String::new(),
            og: OgImageContext { url: String::new(), mime: "", width: 0, height: 0 },
        };
    };
    let srcset = |format| {
        published.of_format(format).map(|v| format!("{} {}w", v.url, v.width)).collect::<Vec<_>>().join(", ")
    };
    let fallback_format = published.fallback_format();
    // The image stage makes the fallback narrow and wide (`plan::fallback_sizes`): the wide one
    // is for browsers without `srcset` and for social previews.
    let wide = published.of_format(fallback_format).last();
    ImageContext {
        url: wide.map(|v| v.url.clone()).unwrap_or_default(),
        srcset: srcset(fallback_format),
        sources: published
            .formats()
            .into_iter()
            .filter(|&format| format != fallback_format)
            .map(|format| SourceContext { mime: media_type(format.extension()), srcset: srcset(format) })
            .collect(),
        width: published.width,
        height: published.height,
        alt: image.alt.clone(),
        placeholder_class: published.placeholder.map(placeholder_class).unwrap_or_default(),
        og: match wide {
            Some(v) => OgImageContext {
                url: absolute(base_url, &v.url),
                mime: media_type(v.format.extension()),
                width: v.width,
                height: v.height,
            },
            None => OgImageContext { url: String::new(), mime: "", width: 0, height: 0 },
        },
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct ProductContext {
    pub(crate) sku: String,
    /// The product's element id, for links to it: see [`element_id`].
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) price: MoneyContext,
    pub(crate) compare_at_price: Option<MoneyContext>,
    pub(crate) images: Vec<ImageContext>,
    pub(crate) description_html: String,
    pub(crate) limit_per_customer: Option<u32>,
    pub(crate) options: Vec<String>,
    pub(crate) checkout_url: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct MoneyContext {
    /// Plain decimal with the currency's digits, e.g. `79.50`.
    pub(crate) amount: String,
    /// For people, e.g. `$79.50`.
    pub(crate) display: String,
    pub(crate) currency: &'static str,
    pub(crate) minor_units: i64,
}

#[derive(Debug, Serialize)]
pub(crate) struct StreamContext {
    pub(crate) embed_url: String,
    pub(crate) fallback_url: String,
}

pub(crate) fn site(site: &Site) -> SiteContext {
    let config = &site.config;
    SiteContext {
        title: config.title.clone(),
        description: config.description.clone(),
        base_url: config.base_url.to_string(),
        locale: config.locale.clone(),
        currency: config.currency.code(),
        inventory_api: config.inventory_api.clone().unwrap_or_default(),
        telemetry_url: config.telemetry_url.clone().unwrap_or_default(),
    }
}

pub(crate) fn drop(site: &Site, drop: &Drop, images: &Images, markdown: &markdown::Memo) -> DropContext {
    let base_url = &site.config.base_url;
    let url = format!("/{}/", drop.slug.as_str());
    let canonical_url = absolute(base_url, &url);
    let image = |image: &ImageRef| image_context(base_url, image, images.get(&image.source));
    let products: Vec<ProductContext> = drop
        .products
        .iter()
        .map(|product| ProductContext {
            sku: product.sku.as_str().to_owned(),
            id: element_id(&product.sku),
            name: product.name.clone(),
            price: money(product.price),
            compare_at_price: product.compare_at_price.map(money),
            images: product.images.iter().map(image).collect(),
            description_html: markdown.to_html(&product.description),
            limit_per_customer: product.limit_per_customer.map(|limit| limit.get()),
            options: product.options.clone(),
            checkout_url: product.checkout_url.clone(),
        })
        .collect();
    let hero = image(&drop.hero);
    let json_ld = json_ld(drop, &canonical_url, &hero, &products);
    let lowest = drop.products.iter().map(|product| product.price).min_by_key(|price| price.minor_units());
    let one_price = drop.products.windows(2).all(|pair| pair[0].price == pair[1].price);
    DropContext {
        slug: drop.slug.as_str().to_owned(),
        file: drop.file.clone(),
        url,
        canonical_url,
        title: drop.title.clone(),
        summary: drop.summary.clone(),
        starts_at: rfc3339::format(drop.starts_at.0),
        starts_at_display: display_time(drop.starts_at),
        ends_at: drop.ends_at.map(|ends_at| rfc3339::format(ends_at.0)).unwrap_or_default(),
        ends_at_display: drop.ends_at.map(display_time).unwrap_or_default(),
        hero,
        description_html: markdown.to_html(&drop.description),
        products,
        price_from: lowest.map(Money::display).unwrap_or_default(),
        one_price,
        stream: drop.stream.as_ref().map(|stream| StreamContext {
            embed_url: stream.embed_url.clone(),
            fallback_url: stream.fallback_url.clone().unwrap_or_default(),
        }),
        tags: drop.tags.clone(),
        draft: drop.draft,
        json_ld,
    }
}

/// Absolute URLs for the sitemap: the index, its archive pages (root-relative `archives`) and
/// every published (non-draft) drop.
pub(crate) fn sitemap_urls<'a>(
    site: &Site,
    drops: &[DropContext],
    archives: impl Iterator<Item = &'a str>,
) -> Vec<String> {
    let mut urls = vec![site.config.base_url.to_string()];
    urls.extend(archives.map(|url| absolute(&site.config.base_url, url)));
    urls.extend(drops.iter().filter(|drop| !drop.draft).map(|drop| drop.canonical_url.clone()));
    urls
}

/// A product's element id: `product-<sku>`. Never the SKU alone, which may be any name the
/// page itself uses (`main`, the skip link's target); the prefix keeps it apart from every
/// id the theme writes, and SKUs are unique, so ids are too.
pub(crate) fn element_id(sku: &Sku) -> String {
    format!("product-{}", sku.as_str())
}

fn money(money: Money) -> MoneyContext {
    MoneyContext {
        amount: money.amount(),
        display: money.display(),
        currency: money.currency().code(),
        minor_units: money.minor_units(),
    }
}

fn absolute(base_url: &url::Url, root_relative: &str) -> String {
    base_url.join(root_relative.trim_start_matches('/')).map(|url| url.to_string()).unwrap_or_default()
}

/// `20 Nov 2026, 15:00 UTC` or `5 Feb 2027, 10:00 UTC+01:00`: the time as the marketer wrote it.
/// Visitors' local times are the hydration script's job.
fn display_time(time: Timestamp) -> String {
    let date_time = time
        .0
        .format(format_description!("[day padding:none] [month repr:short] [year], [hour]:[minute]"))
        .unwrap_or_default();
    let offset = time.0.offset();
    if offset.is_utc() {
        format!("{date_time} UTC")
    } else {
        let offset_text = offset
            .format(format_description!("[offset_hour sign:mandatory]:[offset_minute]"))
            .unwrap_or_default();
        format!("{date_time} UTC{offset_text}")
    }
}

/// schema.org `Product` with an `Offer` per product. Deliberately no `availability`: stock is
/// live data, and a cached page claiming "InStock" for a sold-out drop misleads search results.
fn json_ld(drop: &Drop, canonical_url: &str, hero: &ImageContext, products: &[ProductContext]) -> String {
    let items: Vec<serde_json::Value> = drop
        .products
        .iter()
        .zip(products)
        .map(|(product, context): (&Product, &ProductContext)| {
            let images: Vec<&str> = if context.images.is_empty() {
                vec![hero.og.url.as_str()]
            } else {
                context.images.iter().map(|image| image.og.url.as_str()).collect()
            };
            let mut offer = serde_json::json!({
                "@type": "Offer",
                "price": product.price.amount(),
                "priceCurrency": product.price.currency().code(),
                "url": format!("{canonical_url}#{}", context.id),
                "validFrom": rfc3339::format(drop.starts_at.0),
            });
            if let Some(ends_at) = drop.ends_at {
                offer["priceValidUntil"] = serde_json::Value::String(ends_at.0.date().to_string());
            }
            serde_json::json!({
                "@context": "https://schema.org",
                "@type": "Product",
                "name": product.name,
                "sku": product.sku.as_str(),
                "description": drop.summary,
                "image": images,
                "url": canonical_url,
                "offers": offer,
            })
        })
        .collect();
    script_json(&items)
}

/// JSON safe to place inside `<script>`: `</script>` or `<!--` in a string would end the
/// element, so `<`, `>` and `&` are escaped. They only occur inside JSON strings, where the
/// `\u` escapes mean the same thing.
pub(crate) fn script_json(value: &impl Serialize) -> String {
    let json = serde_json::to_string(value).expect("template values always serialise");
    json.replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026")
}
