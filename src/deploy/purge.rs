//! What a deploy must purge at the CDN: the URLs and cache tags of the stable files it
//! uploaded or deleted. Pure.
//!
//! Computed from the plan, not from the build's `changes.json`: the deploy's baseline is
//! what the bucket held, so a first deploy (or one after a preview, or from a fresh CI
//! machine) purges exactly what changed there. Content-hashed files never need a purge: a
//! change gives them a new URL. A precompressed sibling is served at its original's URLs,
//! so its change purges those. New stable URLs are purged too: the CDN may hold a 404.

use std::collections::BTreeSet;

use super::plan::Plan;
use super::record::{Record, Unpurged};
use crate::manifest::{UploadManifest, urls_of};
use crate::model::CacheClass;

/// The tag every file carries; purging it would purge the whole site.
const SITE_TAG: &str = "_site";

/// The URLs and tags the deploy of `plan` (made over `record`) must purge.
pub(crate) fn purge_list(plan: &Plan, manifest: &UploadManifest, record: &Record) -> Unpurged {
    let base = manifest.build.base_url.trim_end_matches('/');
    let mut urls = BTreeSet::new();
    let mut tags = BTreeSet::new();
    let mut add = |path: &str, surrogate_key: &str| {
        let original = original_of(path, manifest, record);
        urls.extend(urls_of(original).into_iter().map(|url| format!("{base}{url}")));
        tags.extend(surrogate_key.split_whitespace().filter(|tag| *tag != SITE_TAG).map(str::to_owned));
    };
    for upload in &plan.uploads {
        if upload.want.cache_class != CacheClass::Immutable {
            add(&upload.path, &upload.want.surrogate_key);
        }
    }
    for deletion in &plan.deletions {
        // A deleted stable file; content-hashed ones are never referred to by a live page.
        if deletion.delete_after.is_none() {
            let tags = record.objects.get(&deletion.path).map_or("", |have| have.surrogate_key.as_str());
            add(&deletion.path, tags);
        }
    }
    Unpurged { urls: urls.into_iter().collect(), tags: tags.into_iter().collect() }
}

/// The file whose URLs `path` answers: its original when it is a precompressed sibling (by
/// the manifest, or, when removed, by the record's `Content-Encoding`).
fn original_of<'a>(path: &'a str, manifest: &'a UploadManifest, record: &Record) -> &'a str {
    if let Some(original) = manifest.files.get(path).and_then(|entry| entry.variant_of.as_deref()) {
        return original;
    }
    let encoded = record.objects.get(path).is_some_and(|have| have.content_encoding.is_some());
    match (encoded, path.strip_suffix(".br").or_else(|| path.strip_suffix(".gz"))) {
        (true, Some(original)) => original,
        _ => path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::plan::{Deletion, Reason, Upload};
    use crate::deploy::record::Deployed;
    use crate::manifest::{BuildInfo, SCHEMA};

    fn want(class: CacheClass, tags: &str, encoding: Option<&str>) -> Deployed {
        Deployed {
            size: 1,
            sha256: "0".repeat(64),
            content_md5: String::new(),
            content_type: "text/html".into(),
            cache_control: "x".into(),
            cdn_cache_control: None,
            content_encoding: encoding.map(str::to_owned),
            cache_class: class,
            surrogate_key: tags.into(),
        }
    }

    fn upload(path: &str, class: CacheClass, tags: &str) -> Upload {
        Upload {
            path: path.into(),
            reason: Reason::Changed,
            phase: class.upload_phase(),
            want: want(class, tags, None),
        }
    }

    #[test]
    fn stable_changes_purge_their_urls_and_tags_and_hashed_ones_nothing() {
        let manifest = UploadManifest {
            schema: SCHEMA.into(),
            build: BuildInfo {
                id: "0".into(),
                base_url: "https://shop.test/".into(),
                dropgen_version: "0".into(),
                source_date_epoch: None,
                reference_time: None,
                next_transition_at: None,
                transitions: Vec::new(),
            },
            files: Default::default(),
            upload_order: Vec::new(),
            prewarm: Vec::new(),
        };
        let mut record = Record::default();
        record.objects.insert("gone/index.html".into(), want(CacheClass::Document, "_site gone", None));
        record
            .objects
            .insert("gone/index.html.br".into(), want(CacheClass::Document, "_site gone", Some("br")));
        let plan = Plan {
            uploads: vec![
                upload("_img/a-1.avif", CacheClass::Immutable, "_site spring"),
                upload("spring/index.html", CacheClass::Document, "_site spring"),
                upload("sitemap.xml", CacheClass::Data, "_site"),
            ],
            deletions: vec![
                Deletion { path: "gone/index.html".into(), delete_after: None },
                Deletion { path: "gone/index.html.br".into(), delete_after: None },
                Deletion { path: "_img/old.avif".into(), delete_after: Some("2026-01-01T00:00:00Z".into()) },
            ],
            scheduled: Vec::new(),
            waiting: Vec::new(),
            unchanged: 0,
            not_uploaded: Vec::new(),
            start: Record::default(),
        };
        let list = purge_list(&plan, &manifest, &record);
        assert_eq!(
            list.urls,
            [
                "https://shop.test/gone/",
                "https://shop.test/gone/index.html",
                "https://shop.test/sitemap.xml",
                "https://shop.test/spring/",
                "https://shop.test/spring/index.html",
            ]
        );
        assert_eq!(list.tags, ["gone", "spring"], "never `_site`, which is every file");
    }
}
