//! This build against the previous one: what an upload pipeline must upload, update, delete
//! and purge. Pure.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{BuildTime, FileEntry, UploadManifest};
use crate::model::{CacheClass, CacheTag, Delivery};
use crate::rfc3339;

/// `<out>/changes.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Changes {
    pub schema: String,
    pub build_id: String,
    /// `None` when there was no previous manifest: then every stable URL is purged, since
    /// nothing says what the CDN holds.
    pub previous_build_id: Option<String>,
    /// New paths: upload.
    pub added: Vec<String>,
    /// Paths whose bytes changed: upload.
    pub changed: Vec<String>,
    /// Same bytes, different headers or tags: upload again (object stores keep headers with
    /// the object).
    pub metadata_changed: Vec<String>,
    /// Paths gone from this build.
    pub removed: Vec<Removal>,
    pub unchanged: usize,
    /// Absolute URLs to purge at the CDN (the content of `purge.txt`).
    pub purge: Vec<String>,
}

/// A file of the previous build that this one no longer has.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Removal {
    pub path: String,
    pub cache_class: CacheClass,
    /// Content-hashed files stay online for the grace period, because pages cached before
    /// this build still refer to them. Absent for stable files (delete now) and when the
    /// build has no reference time (then keep them `grace_days` after upload).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_after: Option<String>,
    pub grace_days: u32,
}

pub(crate) const SCHEMA: &str = "dropgen.upload-changes/1";

/// Compares `current` with `previous`.
pub(crate) fn compare(
    previous: Option<&UploadManifest>,
    current: &UploadManifest,
    delivery: &Delivery,
    time: BuildTime,
) -> Changes {
    let empty = BTreeMap::new();
    let old_files = previous.map_or(&empty, |manifest| &manifest.files);
    let (mut added, mut changed, mut metadata_changed, mut unchanged) =
        (Vec::new(), Vec::new(), Vec::new(), 0);
    for (path, entry) in &current.files {
        match old_files.get(path) {
            None => added.push(path.clone()),
            Some(old) if old.sha256 != entry.sha256 => changed.push(path.clone()),
            Some(old) if metadata(old) != metadata(entry) => metadata_changed.push(path.clone()),
            Some(_) => unchanged += 1,
        }
    }
    let removed: Vec<Removal> = old_files
        .iter()
        .filter(|(path, _)| !current.files.contains_key(*path))
        .map(|(path, old)| {
            let immutable = old.cache_class == CacheClass::Immutable;
            let grace_days = if immutable { delivery.removed_asset_grace_days } else { 0 };
            let delete_after = match (immutable, time.reference) {
                (true, Some(now)) => Some(rfc3339::format(now + time::Duration::days(i64::from(grace_days))))
                    .filter(|text| !text.is_empty()),
                _ => None,
            };
            Removal { path: path.clone(), cache_class: old.cache_class, delete_after, grace_days }
        })
        .collect();

    let purge = purge_urls(previous, current, &added, &changed, &metadata_changed, &removed);
    Changes {
        schema: SCHEMA.to_owned(),
        build_id: current.build.id.clone(),
        previous_build_id: previous.map(|manifest| manifest.build.id.clone()),
        added,
        changed,
        metadata_changed,
        removed,
        unchanged,
        purge,
    }
}

/// What an object store keeps with an object besides its bytes.
fn metadata(entry: &FileEntry) -> (&str, &str, Option<&str>, Option<&str>, &[CacheTag]) {
    (
        &entry.content_type,
        &entry.cache_control,
        entry.cdn_cache_control.as_deref(),
        entry.content_encoding.as_deref(),
        &entry.cache_tags,
    )
}

/// Absolute URLs of stable files that are new, whose bytes or headers changed, or that were
/// removed.
/// Content-hashed files never need a purge: a change gives them a new URL. A precompressed
/// sibling is served at its original's URLs, so its change purges those.
fn purge_urls(
    previous: Option<&UploadManifest>,
    current: &UploadManifest,
    added: &[String],
    changed: &[String],
    metadata_changed: &[String],
    removed: &[Removal],
) -> Vec<String> {
    let base = &current.build.base_url;
    let stable = |entry: &FileEntry| entry.cache_class != CacheClass::Immutable;
    let mut paths: BTreeSet<String> = BTreeSet::new();
    let mut urls_of = |files: &BTreeMap<String, FileEntry>, path: &String| {
        let Some(entry) = files.get(path) else { return };
        if !stable(entry) {
            return;
        }
        let owner = entry.variant_of.as_ref().and_then(|original| files.get(original)).unwrap_or(entry);
        paths.extend(owner.urls.iter().cloned());
    };
    match previous {
        Some(previous) => {
            // New stable URLs too: the CDN may hold a cached 404 for them.
            for path in added.iter().chain(changed).chain(metadata_changed) {
                urls_of(&current.files, path);
            }
            for removal in removed {
                urls_of(&previous.files, &removal.path);
            }
        }
        None => {
            for path in current.files.keys() {
                urls_of(&current.files, path);
            }
        }
    }
    let base = base.trim_end_matches('/');
    paths.into_iter().map(|url| format!("{base}{url}")).collect()
}
