//! The deploy record: what a prefix of a bucket holds, kept in the bucket itself
//! (`<prefix>/.dropgen/deploy.json`), so a deploy from a fresh CI machine compares against
//! what is really deployed, not against a local output folder.
//!
//! Its one rule: **it never claims an object that is not in the bucket as described.** An
//! object enters `objects` only after its upload finished; an object leaves `objects` (for
//! `in_flight` or `pending_deletions`) in a record written before it is overwritten or
//! deleted. A deploy killed at any point therefore leaves a record that is true, if
//! incomplete, and the next deploy finishes the work. Pure, apart from nothing: reading and
//! writing it is `execute`'s.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::manifest::FileEntry;
use crate::model::CacheClass;

/// The record's schema identifier; bumped on any incompatible change.
pub(crate) const SCHEMA: &str = "dropgen.deploy-record/1";
/// The record's key below the deploy prefix.
pub(crate) const KEY: &str = ".dropgen/deploy.json";

/// `<prefix>/.dropgen/deploy.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Record {
    pub(crate) schema: String,
    /// The site deployed here (the manifest's `base_url`); a manifest of another site is
    /// refused, so two sites never share (and delete each other's files in) one prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) base_url: Option<String>,
    /// The build of the last deploy that finished; absent until one has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) build_id: Option<String>,
    /// When that deploy finished (`--now`, else the clock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) deployed_at: Option<String>,
    /// Every object that is in the bucket, complete, with these bytes and headers, by its
    /// path below the prefix.
    pub(crate) objects: BTreeMap<String, Deployed>,
    /// Objects being uploaded when this record was written: perhaps in the bucket, perhaps
    /// not, perhaps still the older object. The next deploy looks at each (one HEAD request)
    /// and keeps those that are complete, so nothing complete is uploaded twice.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) in_flight: BTreeMap<String, Deployed>,
    /// Objects no build publishes any more, deleted once `delete_after` has passed: pages
    /// cached before they were removed may still refer to content-hashed files.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) pending_deletions: BTreeMap<String, PendingDeletion>,
    /// What a deploy with `--purge` changed but has not purged yet (it failed, or was
    /// killed): the next deploy with `--purge` purges it too, so no change stays stale at
    /// the CDN because the deploy that made it did not finish purging.
    #[serde(default, skip_serializing_if = "Unpurged::is_empty")]
    pub(crate) unpurged: Unpurged,
}

/// Absolute URLs and cache tags still to purge.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Unpurged {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) tags: Vec<String>,
}

impl Unpurged {
    pub(crate) fn is_empty(&self) -> bool {
        self.urls.is_empty() && self.tags.is_empty()
    }

    /// Both lists, each sorted and without duplicates.
    pub(crate) fn union(&self, other: &Unpurged) -> Unpurged {
        let merge = |a: &[String], b: &[String]| {
            let set: std::collections::BTreeSet<&String> = a.iter().chain(b).collect();
            set.into_iter().cloned().collect()
        };
        Unpurged { urls: merge(&self.urls, &other.urls), tags: merge(&self.tags, &other.tags) }
    }
}

impl Default for Record {
    fn default() -> Self {
        Record {
            schema: SCHEMA.to_owned(),
            base_url: None,
            build_id: None,
            deployed_at: None,
            objects: BTreeMap::new(),
            in_flight: BTreeMap::new(),
            pending_deletions: BTreeMap::new(),
            unpurged: Unpurged::default(),
        }
    }
}

/// One object as deployed: its bytes (size and hashes) and every header it was stored with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Deployed {
    pub(crate) size: u64,
    pub(crate) sha256: String,
    /// Base64 MD5, as in the manifest; S3's ETag of a single PUT is its hex form.
    pub(crate) content_md5: String,
    pub(crate) content_type: String,
    pub(crate) cache_control: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) cdn_cache_control: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) content_encoding: Option<String>,
    pub(crate) cache_class: CacheClass,
    /// The cache tags, space-separated: the `x-amz-meta-surrogate-key` the object carries.
    pub(crate) surrogate_key: String,
}

impl Deployed {
    /// What the object of a manifest entry must be.
    pub(crate) fn of(entry: &FileEntry) -> Deployed {
        let tags: Vec<String> = entry.cache_tags.iter().map(|tag| tag.name().into_owned()).collect();
        Deployed {
            size: entry.size,
            sha256: entry.sha256.clone(),
            content_md5: entry.content_md5.clone(),
            content_type: entry.content_type.clone(),
            cache_control: entry.cache_control.clone(),
            cdn_cache_control: entry.cdn_cache_control.clone(),
            content_encoding: entry.content_encoding.clone(),
            cache_class: entry.cache_class,
            surrogate_key: tags.join(" "),
        }
    }

    /// The hex MD5 a single-request upload's ETag is, when the manifest's value decodes.
    pub(crate) fn md5_hex(&self) -> Option<String> {
        let bytes = base64::engine::general_purpose::STANDARD.decode(&self.content_md5).ok()?;
        (bytes.len() == 16).then(|| crate::output::hex(&bytes))
    }
}

/// A removed object waiting for its grace period to end.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PendingDeletion {
    /// RFC 3339, UTC; the object is deleted by the first deploy at or after this moment.
    pub(crate) delete_after: String,
    pub(crate) sha256: String,
}

/// What a HEAD request says about an object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Head {
    pub(crate) size: u64,
    pub(crate) etag: Option<String>,
    pub(crate) content_type: Option<String>,
    pub(crate) cache_control: Option<String>,
    pub(crate) content_encoding: Option<String>,
    /// User metadata (`x-amz-meta-*`), by the name after the prefix.
    pub(crate) metadata: BTreeMap<String, String>,
}

impl Head {
    /// Whether the object is `want`, complete: the same size and MD5 (the ETag of a
    /// single-request upload), and every header. An ETag that is not a plain MD5 (a
    /// multipart upload, SSE-KMS) proves nothing, and the object is uploaded again.
    pub(crate) fn is(&self, want: &Deployed) -> bool {
        let etag = self.etag.as_deref().map(|etag| etag.trim_matches('"').to_ascii_lowercase());
        let meta = |name: &str| self.metadata.get(name).map(String::as_str);
        self.size == want.size
            && etag.is_some()
            && etag == want.md5_hex()
            && self.content_type.as_deref() == Some(want.content_type.as_str())
            && self.cache_control.as_deref() == Some(want.cache_control.as_str())
            && self.content_encoding.as_deref() == want.content_encoding.as_deref()
            && meta(CDN_CACHE_CONTROL) == want.cdn_cache_control.as_deref()
            && meta(SURROGATE_KEY) == Some(want.surrogate_key.as_str())
    }
}

/// The metadata names objects carry beside the standard headers (as `x-amz-meta-…`), the
/// same as `tests/s3/upload_check.py` uses.
pub(crate) const SURROGATE_KEY: &str = "surrogate-key";
pub(crate) const CDN_CACHE_CONTROL: &str = "cdn-cache-control";

impl Record {
    /// Parses a record read from the bucket.
    pub(crate) fn parse(bytes: &[u8]) -> Result<Record, String> {
        let record: Record =
            serde_json::from_slice(bytes).map_err(|err| format!("it is not a deploy record: {err}"))?;
        if record.schema != SCHEMA {
            return Err(format!("its schema is `{}`, this dropgen reads `{SCHEMA}`", record.schema));
        }
        Ok(record)
    }

    /// The stable JSON form written to the bucket.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        crate::manifest::to_stable_json(self)
    }

    /// The record once what was in flight when a deploy stopped is known: each object whose
    /// HEAD shows it complete is claimed; the others are forgotten (and uploaded again).
    /// `heads` has an answer for every path in `in_flight` (`None`: no such object).
    pub(crate) fn settle(mut self, heads: &BTreeMap<String, Option<Head>>) -> Record {
        for (path, want) in std::mem::take(&mut self.in_flight) {
            if heads.get(&path).and_then(Option::as_ref).is_some_and(|head| head.is(&want)) {
                self.objects.insert(path, want);
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn deployed(sha: char) -> Deployed {
        Deployed {
            size: 3,
            sha256: sha.to_string().repeat(64),
            // MD5 of "abc".
            content_md5: "kAFQmDzST7DWlj99KOF/cg==".to_owned(),
            content_type: "text/css".to_owned(),
            cache_control: "public, max-age=31536000, immutable".to_owned(),
            cdn_cache_control: None,
            content_encoding: None,
            cache_class: CacheClass::Immutable,
            surrogate_key: "_site _theme".to_owned(),
        }
    }

    fn head_of(want: &Deployed) -> Head {
        Head {
            size: want.size,
            etag: Some("\"900150983cd24fb0d6963f7d28e17f72\"".to_owned()),
            content_type: Some(want.content_type.clone()),
            cache_control: Some(want.cache_control.clone()),
            content_encoding: want.content_encoding.clone(),
            metadata: BTreeMap::from([(SURROGATE_KEY.to_owned(), want.surrogate_key.clone())]),
        }
    }

    #[test]
    fn a_record_round_trips_and_refuses_other_schemas() {
        let mut record = Record::default();
        record.objects.insert("a.css".into(), deployed('a'));
        record.pending_deletions.insert(
            "old.css".into(),
            PendingDeletion { delete_after: "2026-12-01T00:00:00Z".into(), sha256: "b".repeat(64) },
        );
        assert_eq!(Record::parse(&record.to_bytes()).unwrap(), record);
        let other = String::from_utf8(record.to_bytes()).unwrap().replace(SCHEMA, "dropgen.deploy-record/9");
        assert!(Record::parse(other.as_bytes()).unwrap_err().contains("dropgen.deploy-record/9"));
        assert!(Record::parse(b"[]").unwrap_err().contains("not a deploy record"));
    }

    #[test]
    fn settling_claims_only_complete_objects_in_flight() {
        let want = deployed('a');
        let mut record = Record::default();
        for path in ["done.css", "missing.css", "old.css", "headers.css"] {
            record.in_flight.insert(path.into(), want.clone());
        }
        let mut wrong_headers = head_of(&want);
        wrong_headers.cache_control = Some("no-cache".into());
        let mut old_bytes = head_of(&want);
        old_bytes.etag = Some("\"00000000000000000000000000000000\"".into());
        let heads = BTreeMap::from([
            ("done.css".to_owned(), Some(head_of(&want))),
            ("missing.css".to_owned(), None),
            ("old.css".to_owned(), Some(old_bytes)),
            ("headers.css".to_owned(), Some(wrong_headers)),
        ]);
        let settled = record.settle(&heads);
        assert!(settled.in_flight.is_empty());
        assert_eq!(settled.objects.keys().collect::<Vec<_>>(), ["done.css"]);
    }

    #[test]
    fn an_etag_that_is_not_the_md5_proves_nothing() {
        let want = deployed('a');
        let mut multipart = head_of(&want);
        multipart.etag = Some("\"900150983cd24fb0d6963f7d28e17f72-2\"".into());
        assert!(!multipart.is(&want));
        let mut none = head_of(&want);
        none.etag = None;
        assert!(!none.is(&want));
        assert!(head_of(&want).is(&want));
    }
}
