//! Ready-to-send purge requests for the main CDNs, each within the vendor's documented
//! limits. dropgen never calls a CDN itself; the pipeline sends these files as they are.

use std::collections::BTreeSet;

use serde_json::json;

use super::changes::Changes;
use super::{UploadManifest, to_stable_json};
use crate::model::{CacheTag, Delivery};

/// Surrogate keys per Fastly batch purge request.
pub(crate) const FASTLY_MAX_KEYS: usize = 256;
/// Paths per CloudFront invalidation batch.
pub(crate) const CLOUDFRONT_MAX_PATHS: usize = 3000;

/// The files of `<out>/purge/`, by name.
pub(crate) fn files(
    changes: &Changes,
    manifest: &UploadManifest,
    previous: Option<&UploadManifest>,
    delivery: &Delivery,
) -> Vec<(String, Vec<u8>)> {
    let base = manifest.build.base_url.trim_end_matches('/');
    let paths: Vec<&str> = changes.purge.iter().map(|url| url.strip_prefix(base).unwrap_or(url)).collect();
    let mut tags = purged_tags(changes, manifest);
    if let Some(previous) = previous {
        // Removed pages are only in the previous manifest; their tags still name cached copies.
        tags.extend(purged_tags(changes, previous));
    }

    let mut files = Vec::new();
    files.push(("paths.txt".to_owned(), lines(paths.iter().copied())));
    let tags: Vec<std::borrow::Cow<'_, str>> = tags.iter().map(CacheTag::name).collect();
    files.push(("tags.txt".to_owned(), lines(tags.iter().map(|tag| tag.as_ref()))));
    for (index, batch) in changes.purge.chunks(delivery.cloudflare_batch_size.max(1)).enumerate() {
        files.push((format!("cloudflare-{:03}.json", index + 1), to_stable_json(&json!({ "files": batch }))));
    }
    for (index, batch) in tags.chunks(FASTLY_MAX_KEYS).enumerate() {
        files.push((
            format!("fastly-{:03}.json", index + 1),
            to_stable_json(&json!({ "surrogate_keys": batch })),
        ));
    }
    // CloudFront ignores a request whose CallerReference it has seen, so the reference names
    // the transition (previous → this build, at this time), not just this build: a rollback
    // to an earlier build is a new transition and is invalidated again.
    let previous = changes.previous_build_id.as_deref().unwrap_or("none");
    let at: String = manifest
        .build
        .reference_time
        .as_deref()
        .unwrap_or("0")
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    for (index, batch) in paths.chunks(CLOUDFRONT_MAX_PATHS).enumerate() {
        let request = json!({
            "CallerReference": format!("dropgen-{previous}-{}-{at}-{:03}", manifest.build.id, index + 1),
            "Paths": { "Quantity": batch.len(), "Items": batch },
        });
        files.push((format!("cloudfront-{:03}.json", index + 1), to_stable_json(&request)));
    }
    files
}

/// The cache tags of the purged stable files, so a tag-based CDN can purge those instead
/// of URLs; never [`CacheTag::Site`], which would purge every file. Empty when nothing is
/// purged.
fn purged_tags(changes: &Changes, manifest: &UploadManifest) -> BTreeSet<CacheTag> {
    let purged: BTreeSet<&str> = changes.purge.iter().map(String::as_str).collect();
    let base = manifest.build.base_url.trim_end_matches('/');
    let mut tags = BTreeSet::new();
    for entry in manifest.files.values() {
        if entry.urls.iter().any(|url| purged.contains(format!("{base}{url}").as_str())) {
            tags.extend(entry.cache_tags.iter().filter(|tag| **tag != CacheTag::Site).cloned());
        }
    }
    tags
}

/// One item per line, each ending in a newline.
pub(crate) fn lines<'a>(items: impl Iterator<Item = &'a str>) -> Vec<u8> {
    items.flat_map(|item| [item, "\n"]).collect::<String>().into_bytes()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::manifest::{BuildInfo, FileEntry, SCHEMA};

    fn page(slug: &str) -> FileEntry {
        FileEntry {
            size: 1,
            sha256: "0".repeat(64),
            content_md5: "A".repeat(22) + "==",
            content_type: "text/html; charset=utf-8".into(),
            cache_control: "no-cache".into(),
            cdn_cache_control: None,
            cache_class: crate::model::CacheClass::Document,
            content_encoding: None,
            variant_of: None,
            urls: vec![format!("/{slug}/"), format!("/{slug}/index.html")],
            cache_tags: vec![CacheTag::Drop(crate::model::Slug::parse(slug).unwrap()), CacheTag::Site],
            integrity: None,
            upload_phase: 2,
        }
    }

    /// 2,000 changed drops: 4,000 URLs and 2,000 tags, split within every vendor's limit.
    #[test]
    fn batches_stay_within_vendor_limits() {
        let slugs: Vec<String> = (0..2000).map(|i| format!("drop-{i:04}")).collect();
        let files: BTreeMap<String, FileEntry> =
            slugs.iter().map(|s| (format!("{s}/index.html"), page(s))).collect();
        let manifest = UploadManifest {
            schema: SCHEMA.into(),
            build: BuildInfo {
                id: "0123456789abcdef".into(),
                base_url: "https://x.test/".into(),
                dropgen_version: "0".into(),
                source_date_epoch: None,
                reference_time: None,
                next_transition_at: None,
                transitions: Vec::new(),
            },
            files: files.clone(),
            upload_order: files.keys().cloned().collect(),
            prewarm: Vec::new(),
        };
        let changes =
            crate::manifest::changes::compare(None, &manifest, &Delivery::default(), Default::default());
        assert_eq!(changes.purge.len(), 4000);
        let out = super::files(&changes, &manifest, None, &Delivery::default());
        let count = |prefix: &str| out.iter().filter(|(name, _)| name.starts_with(prefix)).count();
        assert_eq!(count("cloudflare-"), 4000_usize.div_ceil(30));
        assert_eq!(count("fastly-"), 2000_usize.div_ceil(FASTLY_MAX_KEYS));
        assert_eq!(count("cloudfront-"), 2);
        for (name, bytes) in &out {
            if name.ends_with(".json") {
                let json: serde_json::Value = serde_json::from_slice(bytes).unwrap();
                let size = json["files"]
                    .as_array()
                    .or(json["surrogate_keys"].as_array())
                    .or(json["Paths"]["Items"].as_array())
                    .unwrap()
                    .len();
                let limit = if name.starts_with("cloudflare") {
                    30
                } else if name.starts_with("fastly") {
                    FASTLY_MAX_KEYS
                } else {
                    CLOUDFRONT_MAX_PATHS
                };
                assert!(size <= limit && size > 0, "{name}: {size}");
            }
        }
        let first = serde_json::from_slice::<serde_json::Value>(
            &out.iter().find(|(n, _)| n == "cloudfront-002.json").unwrap().1,
        )
        .unwrap();
        assert_eq!(first["CallerReference"], "dropgen-none-0123456789abcdef-0-002");
        assert_eq!(first["Paths"]["Quantity"].as_u64(), Some(1000));
    }
}
