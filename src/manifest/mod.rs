//! Stage: MANIFEST — what CDN upload pipelines need, beside the upload root.
//!
//! * `manifest.json` ([`UploadManifest`]): every file of `public/` with its size, hashes,
//!   headers, URLs, cache tags and upload phase; a function of this build only.
//! * `changes.json` and the purge files ([`changes`]): this manifest against the previous
//!   one: what to upload, re-tag, delete and purge.
//! * `public/_headers` ([`headers`]): the same headers as Netlify / Cloudflare Pages rules.
//!
//! Everything here is pure except `read_previous`, which reads the previous manifest.

pub(crate) mod changes;
pub(crate) mod headers;
pub(crate) mod purge;

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;

use crate::error::Error;
use crate::images::Images;
use crate::model::{CacheClass, CacheTag, Delivery, Site};
use crate::output::Output;
use crate::rfc3339;

/// Beside the upload root: the manifest, the comparison with the previous build, and the
/// purge list (plain and as CDN requests).
pub(crate) const MANIFEST_FILE: &str = "manifest.json";
pub(crate) const CHANGES_FILE: &str = "changes.json";
pub(crate) const PURGE_FILE: &str = "purge.txt";
pub(crate) const PURGE_DIR: &str = "purge";

/// The schema identifier; bumped on any incompatible change.
pub(crate) const SCHEMA: &str = "dropgen.upload-manifest/1";

/// `<out>/manifest.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct UploadManifest {
    pub schema: String,
    pub build: BuildInfo,
    /// Every file of the upload root, by path relative to it.
    pub files: BTreeMap<String, FileEntry>,
    /// Every path in the order to upload: immutable assets, then data, then pages, so no
    /// page is ever published before the files it refers to.
    pub upload_order: Vec<String>,
    /// Absolute URLs an edge should fetch right after upload: drop pages, their hero images,
    /// then the index.
    pub prewarm: Vec<String>,
}

impl UploadManifest {
    /// Size and SHA-256 of every file that has a precompressed sibling.
    pub(crate) fn compressed_originals(&self) -> impl Iterator<Item = (u64, &str)> {
        let originals = self.files.values().filter_map(|entry| entry.variant_of.as_deref());
        originals
            .filter_map(|path| self.files.get(path))
            .map(|original| (original.size, original.sha256.as_str()))
    }
}

/// Facts about the build as a whole.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct BuildInfo {
    /// Derived from the content of every file and its headers: equal ids, equal uploads.
    pub id: String,
    pub base_url: String,
    pub dropgen_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_date_epoch: Option<i64>,
    /// The moment `next_transition_at` is measured from (`--now` or `SOURCE_DATE_EPOCH`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_time: Option<String>,
    /// The earliest `starts_at`/`ends_at` after `reference_time`: when CI should rebuild or
    /// purge next. Absent without a reference time, or when no drop changes phase again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_transition_at: Option<String>,
    /// Every moment a drop changes phase, in time order.
    pub transitions: Vec<Transition>,
}

/// A drop changing phase.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Transition {
    pub at: String,
    pub drop: String,
    /// `live` (at `starts_at`) or `ended` (at `ends_at`).
    pub phase: String,
}

/// One file of the upload root.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FileEntry {
    pub size: u64,
    /// Lower-case hex SHA-256 of the bytes.
    pub sha256: String,
    /// Base64 MD5 of the bytes, as S3's `Content-MD5` takes it.
    pub content_md5: String,
    pub content_type: String,
    pub cache_control: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cdn_cache_control: Option<String>,
    /// `immutable`, `data` or `document`.
    pub cache_class: CacheClass,
    /// `br` or `gzip` for a precompressed sibling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_encoding: Option<String>,
    /// The file this one is a precompressed copy of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant_of: Option<String>,
    /// Root-relative URLs the file answers (`/x/` and `/x/index.html`); empty for
    /// precompressed siblings, which answer their original's URLs.
    pub urls: Vec<String>,
    /// `_site` on every file, `_theme` on the theme's, `_index` on the index page, and a
    /// drop's slug on its page and images.
    pub cache_tags: Vec<CacheTag>,
    /// Subresource Integrity of scripts and stylesheets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integrity: Option<String>,
    /// 0 immutable, 1 data, 2 document: upload a phase only after the previous one.
    pub upload_phase: u8,
}

/// When the build happens, for phase transitions and grace periods. Never the wall clock,
/// so the manifest depends only on inputs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct BuildTime {
    pub source_date_epoch: Option<i64>,
    /// `--now`, else `SOURCE_DATE_EPOCH`.
    pub reference: Option<OffsetDateTime>,
}

/// Describes every file of `output`.
pub(crate) fn build(site: &Site, output: &Output, images: &Images, time: BuildTime) -> UploadManifest {
    let delivery = &site.config.delivery;
    let mut files = BTreeMap::new();
    for (path, artifact) in output.iter() {
        let headers = delivery.headers(artifact.class);
        files.insert(
            path.clone(),
            FileEntry {
                size: artifact.digest.size,
                sha256: artifact.digest.sha256.clone(),
                content_md5: artifact.digest.md5_base64.clone(),
                content_type: artifact.content_type.to_owned(),
                cache_control: headers.cache_control.clone(),
                cdn_cache_control: headers.cdn_cache_control.clone(),
                cache_class: artifact.class,
                content_encoding: artifact.encoding.map(str::to_owned),
                variant_of: artifact.variant_of.clone(),
                urls: if artifact.variant_of.is_some() { Vec::new() } else { urls_of(path) },
                cache_tags: artifact.tags.iter().cloned().collect(),
                integrity: artifact.integrity.clone(),
                upload_phase: artifact.class.upload_phase(),
            },
        );
    }
    let mut upload_order: Vec<(u8, &String)> =
        files.iter().map(|(path, entry)| (entry.upload_phase, path)).collect();
    upload_order.sort();
    let upload_order = upload_order.into_iter().map(|(_, path)| path.clone()).collect();

    let transitions = transitions(site);
    let reference_time = time.reference.map(rfc3339::format);
    let next_transition_at = time.reference.and_then(|now| {
        transitions.iter().find(|t| rfc3339::parse(&t.at).is_ok_and(|at| at > now)).map(|t| t.at.clone())
    });
    let id = build_id(&files);
    UploadManifest {
        schema: SCHEMA.to_owned(),
        build: BuildInfo {
            id,
            base_url: site.config.base_url.to_string(),
            dropgen_version: env!("CARGO_PKG_VERSION").to_owned(),
            source_date_epoch: time.source_date_epoch,
            reference_time,
            next_transition_at,
            transitions,
        },
        files,
        upload_order,
        prewarm: prewarm(site, images),
    }
}

/// `x/index.html` answers `/x/` and `/x/index.html`; `_headers` is platform configuration
/// and answers none; every other file its own path.
pub(crate) fn urls_of(path: &str) -> Vec<String> {
    if path == headers::PATH {
        return Vec::new();
    }
    match path.strip_suffix("index.html") {
        Some(dir) if dir.is_empty() || dir.ends_with('/') => vec![format!("/{dir}"), format!("/{path}")],
        _ => vec![format!("/{path}")],
    }
}

fn transitions(site: &Site) -> Vec<Transition> {
    let mut transitions: Vec<(OffsetDateTime, Transition)> = Vec::new();
    for drop in &site.drops {
        let mut push = |at: OffsetDateTime, phase: &str| {
            transitions.push((
                at,
                Transition {
                    // In UTC whatever offset the drop was written in, so the list reads (and
                    // sorts) as one clock.
                    at: rfc3339::format(at.to_offset(time::UtcOffset::UTC)),
                    drop: drop.slug.as_str().to_owned(),
                    phase: phase.to_owned(),
                },
            ));
        };
        push(drop.starts_at.0, "live");
        if let Some(ends_at) = drop.ends_at {
            push(ends_at.0, "ended");
        }
    }
    transitions.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.drop.cmp(&b.1.drop)));
    transitions.into_iter().map(|(_, transition)| transition).collect()
}

fn prewarm(site: &Site, images: &Images) -> Vec<String> {
    let base = &site.config.base_url;
    let absolute =
        |path: &str| base.join(path.trim_start_matches('/')).map(|url| url.to_string()).unwrap_or_default();
    let mut urls: Vec<String> =
        site.drops.iter().map(|drop| absolute(&format!("{}/", drop.slug.as_str()))).collect();
    for drop in &site.drops {
        // Every width of the format nearly every browser picks (the first `<source>`): which
        // width a visitor needs depends on their screen.
        let Some(hero) = images.get(&drop.hero.source) else { continue };
        let Some(&preferred) = hero.formats().first() else { continue };
        for variant in hero.of_format(preferred) {
            let url = absolute(&variant.url);
            if !urls.contains(&url) {
                urls.push(url);
            }
        }
    }
    urls.push(absolute(""));
    urls
}

/// A short hash over every file's path, bytes and headers.
fn build_id(files: &BTreeMap<String, FileEntry>) -> String {
    let canonical = serde_json::to_vec(files).expect("file entries always serialise");
    let digest = Sha256::digest(&canonical);
    crate::output::hex(&digest[..8])
}

/// Cache classes and tags are their names in every file dropgen writes or reads.
impl Serialize for CacheClass {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for CacheClass {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        CacheClass::parse(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("`{name}` is not a cache class")))
    }
}

impl Serialize for CacheTag {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.name())
    }
}

impl<'de> Deserialize<'de> for CacheTag {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        CacheTag::parse(&name).ok_or_else(|| serde::de::Error::custom(format!("`{name}` is not a cache tag")))
    }
}

/// Pretty JSON with keys sorted at every level and a trailing newline: the stable form of
/// every JSON file dropgen writes.
pub(crate) fn to_stable_json<T: Serialize>(value: &T) -> Vec<u8> {
    fn sorted(value: serde_json::Value) -> serde_json::Value {
        match value {
            serde_json::Value::Object(map) => {
                let entries: BTreeMap<String, serde_json::Value> =
                    map.into_iter().map(|(k, v)| (k, sorted(v))).collect();
                serde_json::Value::Object(entries.into_iter().collect())
            }
            serde_json::Value::Array(items) => {
                serde_json::Value::Array(items.into_iter().map(sorted).collect())
            }
            other => other,
        }
    }
    let value = sorted(serde_json::to_value(value).expect("manifest types always serialise"));
    let mut bytes = serde_json::to_vec_pretty(&value).expect("JSON values always serialise");
    bytes.push(b'\n');
    bytes
}

/// Files beside `public/`: their paths under `<out>` and their bytes.
pub(crate) type Beside = Vec<(String, Vec<u8>)>;

/// The manifest a build compares with: the one it is told to (`--previous-manifest`), else
/// the one in `<out>` now.
#[derive(Debug, Default)]
pub(crate) struct Previous {
    compared: Option<UploadManifest>,
}

impl Previous {
    /// Reads `explicit`, which must exist and be a manifest, if given; else
    /// `<out>/manifest.json`, if there is one.
    pub(crate) fn read(out: &Path, explicit: Option<&Path>) -> Result<Previous, Error> {
        let compared = match explicit {
            Some(path) => read_previous(path, true)?,
            None => read_previous(&out.join(MANIFEST_FILE), false)?,
        };
        Ok(Previous { compared })
    }

    /// The manifest to compare with, if any.
    fn compared(&self) -> Option<&UploadManifest> {
        self.compared.as_ref()
    }
}

/// What `<out>/public/` holds by the manifest beside it: upload-root path → (SHA-256, size),
/// read before the build makes anything, for the write stage to keep such a file rather than
/// write it again when the new one has the same hash and size. Only those two fields are
/// read, so the map is small beside the whole manifest, which is read again (as [`Previous`])
/// only once the new one is made. A manifest that is missing or unreadable keeps nothing.
pub(crate) fn in_place_files(out: &Path) -> BTreeMap<String, (String, u64)> {
    #[derive(Deserialize)]
    struct Listing {
        schema: String,
        files: BTreeMap<String, Listed>,
    }
    #[derive(Deserialize)]
    struct Listed {
        sha256: String,
        size: u64,
    }
    let Ok(text) = std::fs::read(out.join(MANIFEST_FILE)) else { return BTreeMap::new() };
    match serde_json::from_slice::<Listing>(&text) {
        Ok(listing) if listing.schema == SCHEMA => {
            listing.files.into_iter().map(|(path, entry)| (path, (entry.sha256, entry.size))).collect()
        }
        _ => BTreeMap::new(),
    }
}

/// The files beside `public/` in `out`, in the order to write them, and what changed since the
/// previous build: the manifest `--previous-manifest` names, else `<out>/manifest.json` as it
/// is before this build is written. The manifest comes last, so it never describes files that
/// were not written.
pub(crate) fn beside(
    upload: &UploadManifest,
    previous: &Previous,
    delivery: &Delivery,
    time: BuildTime,
) -> (Beside, changes::Changes) {
    let previous = previous.compared();
    let changes = changes::compare(previous, upload, delivery, time);
    let mut files: Beside = vec![
        (CHANGES_FILE.to_owned(), to_stable_json(&changes)),
        (PURGE_FILE.to_owned(), purge::lines(changes.purge.iter().map(String::as_str))),
    ];
    for (name, bytes) in purge::files(&changes, upload, previous, delivery) {
        files.push((format!("{PURGE_DIR}/{name}"), bytes));
    }
    files.push((MANIFEST_FILE.to_owned(), to_stable_json(upload)));
    (files, changes)
}

/// Reads the manifest of an earlier build. A missing default file means there is none (a
/// first build); a file named explicitly must exist, and any file that exists must be a
/// manifest: silently treating a typo as a first build would purge every page mid-drop and
/// forget every hashed file to delete.
pub(crate) fn read_previous(path: &Path, explicit: bool) -> Result<Option<UploadManifest>, Error> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound && !explicit => return Ok(None),
        Err(err) => return Err(Error::io(path, err)),
    };
    parse_previous(path, &text).map(Some)
}

/// Parses the text of an earlier build's manifest read from `path`, which errors name.
pub(crate) fn parse_previous(path: &Path, text: &str) -> Result<UploadManifest, Error> {
    let manifest: UploadManifest = serde_json::from_str(text)
        .map_err(|err| Error::PreviousManifest { path: path.to_path_buf(), reason: format!("{err}") })?;
    if manifest.schema != SCHEMA {
        return Err(Error::PreviousManifest {
            path: path.to_path_buf(),
            reason: format!("its schema is `{}`, this dropgen reads `{SCHEMA}`", manifest.schema),
        });
    }
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_files_answer_their_folder_url() {
        assert_eq!(urls_of("index.html"), ["/", "/index.html"]);
        assert_eq!(urls_of("drop/index.html"), ["/drop/", "/drop/index.html"]);
        assert_eq!(urls_of("404.html"), ["/404.html"]);
        assert_eq!(urls_of("notindex.html"), ["/notindex.html"]);
    }

    #[test]
    fn stable_json_sorts_keys_and_ends_with_a_newline() {
        let value = serde_json::json!({"b": 1, "a": {"d": [{"z": 1, "y": 2}], "c": null}});
        let text = String::from_utf8(to_stable_json(&value)).unwrap();
        assert_eq!(
            text,
            "{\n  \"a\": {\n    \"c\": null,\n    \"d\": [\n      {\n        \"y\": 2,\n        \"z\": 1\n      }\n    ]\n  },\n  \"b\": 1\n}\n"
        );
    }
}
