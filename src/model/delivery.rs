//! How files are delivered: cache classes and tags, their headers, and purge settings.

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::Slug;

/// How a file may be cached, which decides its headers and upload order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum CacheClass {
    /// Content-hashed names (images, fingerprinted CSS and JS): cached forever, uploaded first.
    Immutable,
    /// Stable URLs that are not pages (sitemap, robots.txt, unhashed theme files, `_headers`).
    Data,
    /// HTML pages: short-lived in browsers, purged at the CDN when they change, uploaded last.
    Document,
}

impl CacheClass {
    /// In upload order.
    pub(crate) const ALL: [CacheClass; 3] = [CacheClass::Immutable, CacheClass::Data, CacheClass::Document];

    pub(crate) fn name(self) -> &'static str {
        match self {
            CacheClass::Immutable => "immutable",
            CacheClass::Data => "data",
            CacheClass::Document => "document",
        }
    }

    /// The class [`CacheClass::name`] names.
    pub(crate) fn parse(name: &str) -> Option<CacheClass> {
        CacheClass::ALL.into_iter().find(|class| class.name() == name)
    }

    /// Position in the upload order: assets before the data and pages that refer to them.
    pub(crate) fn upload_phase(self) -> u8 {
        match self {
            CacheClass::Immutable => 0,
            CacheClass::Data => 1,
            CacheClass::Document => 2,
        }
    }
}

/// A group of files a CDN can purge at once (Fastly surrogate keys, Cloudflare cache tags).
///
/// A drop's tag is its slug; the site's own tags start with `_`, which no slug can, so the
/// two kinds never share a name (a drop slugged `site` or `theme` once did).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum CacheTag {
    /// Every file of the site.
    Site,
    /// The theme's static files.
    Theme,
    /// The index page.
    Index,
    /// A drop's page and the images it shows.
    Drop(Slug),
}

impl CacheTag {
    /// The tag as CDNs and the manifest see it.
    pub(crate) fn name(&self) -> Cow<'_, str> {
        match self {
            CacheTag::Site => Cow::Borrowed("_site"),
            CacheTag::Theme => Cow::Borrowed("_theme"),
            CacheTag::Index => Cow::Borrowed("_index"),
            CacheTag::Drop(slug) => Cow::Borrowed(slug.as_str()),
        }
    }

    /// The tag [`CacheTag::name`] names.
    pub(crate) fn parse(name: &str) -> Option<CacheTag> {
        match name {
            "_site" => Some(CacheTag::Site),
            "_theme" => Some(CacheTag::Theme),
            "_index" => Some(CacheTag::Index),
            _ => Slug::parse(name).map(CacheTag::Drop),
        }
    }
}

/// Tags sort by name, the order the manifest lists them in.
impl Ord for CacheTag {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.name().cmp(&other.name())
    }
}

impl PartialOrd for CacheTag {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Headers of one cache class.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ClassHeaders {
    /// `Cache-Control`, for browsers (and CDNs that ignore `CDN-Cache-Control`).
    pub cache_control: String,
    /// `CDN-Cache-Control` (RFC 9213), for the edge only; `None` to send none.
    pub cdn_cache_control: Option<String>,
}

/// `headers:` and `purge:` of `dropgen.yaml`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Delivery {
    pub headers: BTreeMap<CacheClass, ClassHeaders>,
    /// URLs per Cloudflare purge request.
    pub cloudflare_batch_size: usize,
    /// Days a removed content-hashed file must stay online, because pages cached before the
    /// change still refer to it.
    pub removed_asset_grace_days: u32,
}

impl Delivery {
    pub(crate) const CLOUDFLARE_BATCH_RANGE: std::ops::RangeInclusive<u32> = 1..=500;

    pub(crate) fn headers(&self, class: CacheClass) -> &ClassHeaders {
        &self.headers[&class]
    }
}

impl Default for Delivery {
    fn default() -> Self {
        // Pages revalidate in the browser on every visit but stay at the edge, served stale
        // while revalidating and when the origin fails: a crowd hits the CDN, not the origin,
        // and a changed page is purged explicitly.
        let edge = "public, max-age=3600, stale-while-revalidate=60, stale-if-error=86400";
        let headers = BTreeMap::from([
            (
                CacheClass::Immutable,
                ClassHeaders {
                    cache_control: "public, max-age=31536000, immutable".to_owned(),
                    cdn_cache_control: None,
                },
            ),
            (
                CacheClass::Data,
                ClassHeaders {
                    cache_control: "public, max-age=300".to_owned(),
                    cdn_cache_control: Some(edge.to_owned()),
                },
            ),
            (
                CacheClass::Document,
                ClassHeaders {
                    cache_control: "public, max-age=0, must-revalidate".to_owned(),
                    cdn_cache_control: Some(edge.to_owned()),
                },
            ),
        ]);
        // Cloudflare's purge-by-URL API takes 30 URLs per call on most plans.
        Delivery { headers, cloudflare_batch_size: 30, removed_asset_grace_days: 7 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_tags_and_classes_read_back_what_they_print() {
        let slug = |text: &str| CacheTag::Drop(Slug::parse(text).unwrap());
        for tag in [CacheTag::Site, CacheTag::Theme, CacheTag::Index, slug("site"), slug("theme")] {
            assert_eq!(CacheTag::parse(&tag.name()), Some(tag));
        }
        assert_ne!(slug("site").name(), CacheTag::Site.name());
        assert_eq!(CacheTag::parse("_other"), None);
        for class in CacheClass::ALL {
            assert_eq!(CacheClass::parse(class.name()), Some(class));
        }
    }
}
