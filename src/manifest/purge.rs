//! Ready-to-send purge requests for the main CDNs, each within the vendor's documented
//! limits. dropgen never calls a CDN itself; the pipeline sends these files as they are.

use std::collections::BTreeSet;

use serde_json::json;

use super::changes::Changes;
use super::{UploadManifest, to_stable_json};
use crate::model::Delivery;

/// Surrogate keys per Fastly batch purge request.
pub const FASTLY_MAX_KEYS: usize = 256;
/// Paths per CloudFront invalidation batch.
pub const CLOUDFRONT_MAX_PATHS: usize = 3000;

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
    files.push(("tags.txt".to_owned(), lines(tags.iter().map(String::as_str))));
    for (index, batch) in changes.purge.chunks(delivery.cloudflare_batch_size.max(1)).enumerate() {
        files.push((format!("cloudflare-{:03}.json", index + 1), to_stable_json(&json!({ "files": batch }))));
    }
    let tags: Vec<&String> = tags.iter().collect();
    for (index, batch) in tags.chunks(FASTLY_MAX_KEYS).enumerate() {
        files.push((
            format!("fastly-{:03}.json", index + 1),
            to_stable_json(&json!({ "surrogate_keys": batch })),
        ));
    }
    for (index, batch) in paths.chunks(CLOUDFRONT_MAX_PATHS).enumerate() {
        let request = json!({
            "CallerReference": format!("dropgen-{}-{:03}", manifest.build.id, index + 1),
            "Paths": { "Quantity": batch.len(), "Items": batch },
        });
        files.push((format!("cloudfront-{:03}.json", index + 1), to_stable_json(&request)));
    }
    files
}

/// The cache tags of the purged stable files, so a tag-based CDN can purge those instead
/// of URLs. Empty when nothing is purged.
fn purged_tags(changes: &Changes, manifest: &UploadManifest) -> BTreeSet<String> {
    let purged: BTreeSet<&str> = changes.purge.iter().map(String::as_str).collect();
    let base = manifest.build.base_url.trim_end_matches('/');
    let mut tags = BTreeSet::new();
    for entry in manifest.files.values() {
        if entry.urls.iter().any(|url| purged.contains(format!("{base}{url}").as_str())) {
            tags.extend(entry.cache_tags.iter().filter(|tag| *tag != "site").cloned());
        }
    }
    tags
}

fn lines<'a>(items: impl Iterator<Item = &'a str>) -> Vec<u8> {
    items.flat_map(|item| [item, "\n"]).collect::<String>().into_bytes()
}
