//! The deploy plan: manifest + deploy record + now → what to upload, in which order, and what
//! to delete. Pure; `execute` carries it out.
//!
//! - Every file of the manifest whose object the record does not claim with the same bytes
//!   and headers is uploaded; the rest are skipped.
//! - Uploads go in phases (immutable assets, then data, then pages), each in the manifest's
//!   `upload_order`: no page is uploaded before every asset it refers to is in the bucket.
//! - An object no build publishes any more is deleted after the pages that referred to it
//!   were replaced: a content-hashed (immutable) one only after its grace period, since
//!   pages cached before still refer to it; a stable one (a removed page) in this deploy.
//! - `_headers` is Netlify's and Cloudflare Pages' configuration; S3 does not read it, so it
//!   is not uploaded (a stale one is deleted like any removed file).

use std::collections::BTreeSet;

use serde::Serialize;
use time::OffsetDateTime;

use super::record::{Deployed, PendingDeletion, Record};
use crate::manifest::UploadManifest;
use crate::model::CacheClass;
use crate::rfc3339;

/// Files of the upload root that object storage does not read, and are not uploaded.
pub(crate) const NOT_UPLOADED: &[&str] = &[crate::manifest::headers::PATH];

/// Why a file is uploaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Reason {
    /// The bucket has no object for it.
    New,
    /// Its bytes changed.
    Changed,
    /// Same bytes, new headers: object stores keep headers with the object.
    Headers,
}

/// One object to upload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct Upload {
    pub(crate) path: String,
    pub(crate) reason: Reason,
    /// 0 immutable, 1 data, 2 pages: a phase starts only after the previous one is complete.
    pub(crate) phase: u8,
    #[serde(skip)]
    pub(crate) want: Deployed,
}

/// One object to delete in this deploy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct Deletion {
    pub(crate) path: String,
    /// The end of its grace period; absent for a stable file, deleted when it is removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) delete_after: Option<String>,
}

/// A removed object kept for its grace period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct Waiting {
    pub(crate) path: String,
    pub(crate) delete_after: String,
}

/// What a deploy does, in order: `uploads`, then `deletions`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct Plan {
    pub(crate) uploads: Vec<Upload>,
    pub(crate) deletions: Vec<Deletion>,
    /// Removed in this deploy, deleted by a later one.
    pub(crate) scheduled: Vec<Waiting>,
    /// Removed earlier, still in their grace period.
    pub(crate) waiting: Vec<Waiting>,
    pub(crate) unchanged: usize,
    /// Paths of the manifest that are not uploaded ([`NOT_UPLOADED`]).
    pub(crate) not_uploaded: Vec<String>,
    /// The record to start from: the one read, with this deploy's removals moved out of
    /// `objects` (a record must not claim what is about to be deleted).
    #[serde(skip)]
    pub(crate) start: Record,
}

impl Plan {
    /// Nothing to upload or delete, and no removal to remember.
    pub(crate) fn is_empty(&self) -> bool {
        self.uploads.is_empty() && self.deletions.is_empty() && self.scheduled.is_empty()
    }
}

/// Why there is no plan.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PlanError {
    /// The prefix holds another site's deploy.
    #[error("it holds the deploy of `{deployed}`, and this manifest is for `{manifest}`")]
    OtherSite { deployed: String, manifest: String },
    /// `files` and `upload_order` disagree.
    #[error("{0}")]
    Inconsistent(String),
}

/// Plans the deploy of `manifest` over what `record` says the bucket holds, at `now`;
/// content-hashed files removed now are kept `grace_days`.
pub(crate) fn plan(
    manifest: &UploadManifest,
    record: &Record,
    now: OffsetDateTime,
    grace_days: u32,
) -> Result<Plan, PlanError> {
    if let Some(deployed) = &record.base_url
        && *deployed != manifest.build.base_url
    {
        return Err(PlanError::OtherSite {
            deployed: deployed.clone(),
            manifest: manifest.build.base_url.clone(),
        });
    }
    let order = checked_order(manifest)?;

    let (uploads, unchanged, not_uploaded) = uploads(manifest, record, order);

    let published =
        |path: &String| manifest.files.contains_key(path) && !NOT_UPLOADED.contains(&path.as_str());
    let mut start = record.clone();
    start.base_url = Some(manifest.build.base_url.clone());
    // A path published again is uploaded again: it is no longer waiting to be deleted.
    start.pending_deletions.retain(|path, _| !published(path));
    let (mut deletions, mut scheduled) = (Vec::new(), Vec::new());
    for (path, have) in &record.objects {
        if published(path) {
            continue;
        }
        start.objects.remove(path);
        if have.cache_class == CacheClass::Immutable {
            let delete_after = rfc3339::format(now + time::Duration::days(i64::from(grace_days)));
            if grace_days == 0 {
                deletions.push(Deletion { path: path.clone(), delete_after: Some(delete_after.clone()) });
            } else {
                scheduled.push(Waiting { path: path.clone(), delete_after: delete_after.clone() });
            }
            start
                .pending_deletions
                .insert(path.clone(), PendingDeletion { delete_after, sha256: have.sha256.clone() });
        } else {
            deletions.push(Deletion { path: path.clone(), delete_after: None });
            // Recorded as due now, so a deploy killed before deleting it deletes it next time.
            start.pending_deletions.insert(
                path.clone(),
                PendingDeletion { delete_after: rfc3339::format(now), sha256: have.sha256.clone() },
            );
        }
    }
    let (due, waiting) = due_deletions(record, &published, now);
    deletions.extend(due);
    deletions.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Plan { uploads, deletions, scheduled, waiting, unchanged, not_uploaded, start })
}

/// The files to upload, in phases and then in `upload_order`; how many are deployed as they
/// are; and the files never uploaded (`_headers`).
fn uploads(
    manifest: &UploadManifest,
    record: &Record,
    order: &[String],
) -> (Vec<Upload>, usize, Vec<String>) {
    let mut uploads = Vec::new();
    let mut unchanged = 0;
    let mut not_uploaded = Vec::new();
    for path in order {
        let Some(entry) = manifest.files.get(path) else { continue };
        if NOT_UPLOADED.contains(&path.as_str()) {
            not_uploaded.push(path.clone());
            continue;
        }
        let want = Deployed::of(entry);
        let reason = match record.objects.get(path) {
            None => Reason::New,
            Some(have) if have.sha256 != want.sha256 || have.size != want.size => Reason::Changed,
            Some(have) if *have != want => Reason::Headers,
            Some(_) => {
                unchanged += 1;
                continue;
            }
        };
        uploads.push(Upload { path: path.clone(), reason, phase: entry.upload_phase, want });
    }
    // Phases in order, each in `upload_order` (a stable sort): pages last, whatever order
    // the manifest lists them in.
    uploads.sort_by_key(|upload| upload.phase);
    (uploads, unchanged, not_uploaded)
}

/// Deletions waiting in the record: due at `now`, or still waiting. A path published again is
/// neither.
fn due_deletions(
    record: &Record,
    published: &dyn Fn(&String) -> bool,
    now: OffsetDateTime,
) -> (Vec<Deletion>, Vec<Waiting>) {
    let mut deletions = Vec::new();
    let mut waiting = Vec::new();
    for (path, pending) in &record.pending_deletions {
        if published(path) {
            continue;
        }
        // An unreadable time keeps the object: deleting early is the one mistake not undone.
        match rfc3339::parse(&pending.delete_after) {
            Ok(after) if after <= now => deletions
                .push(Deletion { path: path.clone(), delete_after: Some(pending.delete_after.clone()) }),
            _ => waiting.push(Waiting { path: path.clone(), delete_after: pending.delete_after.clone() }),
        }
    }
    (deletions, waiting)
}

/// `upload_order`, checked to list every file of `files` once and nothing else.
fn checked_order(manifest: &UploadManifest) -> Result<&[String], PlanError> {
    let mut seen = BTreeSet::new();
    for path in &manifest.upload_order {
        if !manifest.files.contains_key(path) {
            return Err(PlanError::Inconsistent(format!(
                "`upload_order` lists `{path}`, which `files` does not"
            )));
        }
        if !seen.insert(path) {
            return Err(PlanError::Inconsistent(format!("`upload_order` lists `{path}` twice")));
        }
    }
    if let Some(path) = manifest.files.keys().find(|path| !seen.contains(path)) {
        return Err(PlanError::Inconsistent(format!(
            "`files` has `{path}`, which `upload_order` does not list"
        )));
    }
    Ok(&manifest.upload_order)
}

/// When the next removed object may be deleted, for the summary: when to deploy again.
pub(crate) fn next_deletion(plan: &Plan) -> Option<&str> {
    plan.scheduled.iter().chain(&plan.waiting).map(|waiting| waiting.delete_after.as_str()).min()
}

/// Uploads grouped into batches, each within one phase and at most `limit(claimed)` long,
/// where `claimed` is how many objects the record claims when the batch starts: a record
/// is written before each batch, so batches grow with the record to keep those writes a
/// small share of the traffic.
pub(crate) fn batches(uploads: &[Upload], claimed: usize, limit: impl Fn(usize) -> usize) -> Vec<&[Upload]> {
    let mut batches = Vec::new();
    let mut rest = uploads;
    let mut claimed = claimed;
    while let Some(first) = rest.first() {
        let same_phase = rest.iter().take_while(|upload| upload.phase == first.phase).count();
        let len = same_phase.min(limit(claimed).max(1));
        let (batch, tail) = rest.split_at(len);
        batches.push(batch);
        claimed += len;
        rest = tail;
    }
    batches
}

#[cfg(test)]
mod tests;
