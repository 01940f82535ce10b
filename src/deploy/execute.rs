//! Carries out a [`Plan`]: the only part of `deploy` that changes the bucket.
//!
//! The order keeps the record true at every moment (see [`super::record`]):
//!
//! 1. for each batch of uploads (one phase at a time): write the record with the batch in
//!    `in_flight` (and out of `objects`), then upload the batch, a few objects at once;
//! 2. write the record with the last batch claimed and the removals out of `objects`;
//!    delete what is due;
//! 3. write the record with the build id, last.
//!
//! A deploy killed anywhere leaves a record that claims only complete objects; the next one
//! settles `in_flight` by HEAD requests and uploads the rest.

use std::collections::BTreeMap;
use std::path::Path;

use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;

use super::error::DeployError;
use super::plan::{Plan, Upload, batches};
use super::record::{Head, Record, Unpurged};
use crate::manifest::UploadManifest;
use crate::progress::Progress;
use crate::rfc3339;

/// Where a deploy goes: the bucket, or a fake in tests.
pub(super) trait Target {
    /// `s3://bucket/prefix`, for messages.
    fn name(&self) -> String;
    /// The record's bytes; `None` when there is none (a first deploy).
    fn read_record(&self) -> Result<Option<Vec<u8>>, DeployError>;
    /// Replaces the record in one request.
    fn write_record(&self, bytes: Vec<u8>) -> Result<(), DeployError>;
    /// What a HEAD request says of each path (`None`: no such object).
    fn heads(&self, paths: &[String]) -> Result<BTreeMap<String, Option<Head>>, DeployError>;
    /// Uploads every file of `batch` from `public`, with its headers, a few at once; one
    /// result per upload, in order.
    fn upload(
        &self,
        batch: &[Upload],
        public: &Path,
        progress: &dyn Progress,
    ) -> Vec<Result<(), DeployError>>;
    /// Deletes the objects at `paths` (one that is not there is not an error).
    fn delete(&self, paths: &[String]) -> Result<(), DeployError>;
}

/// How many uploads go between two record writes, for a record that claims `claimed`
/// objects: a quarter of it, so record writes stay a small share of the bytes sent (about
/// 30 writes for a first deploy of 20,000 files), and the HEADs after a kill stay few.
fn batch_limit(claimed: usize) -> usize {
    (claimed / 4).clamp(16, 2048)
}

/// Executes `plan`, made from the record `read` (as read, before settling) for `manifest`;
/// the last record written says `unpurged`, when given. Returns that record.
#[allow(clippy::too_many_arguments)]
pub(super) fn execute(
    plan: &Plan,
    read: &Record,
    manifest: &UploadManifest,
    target: &dyn Target,
    public: &Path,
    now: OffsetDateTime,
    unpurged: Option<&Unpurged>,
    progress: &dyn Progress,
) -> Result<Record, DeployError> {
    let mut record = plan.start.clone();
    if !plan.uploads.is_empty() {
        progress.start("deploy", plan.uploads.len() as u64);
    }
    for batch in batches(&plan.uploads, record.objects.len(), batch_limit) {
        for upload in batch {
            // A changed object is not claimed while it is overwritten.
            record.objects.remove(&upload.path);
            record.in_flight.insert(upload.path.clone(), upload.want.clone());
        }
        target.write_record(record.to_bytes())?;
        let results = target.upload(batch, public, progress);
        let mut failed = None;
        for (upload, result) in batch.iter().zip(results) {
            match result {
                Ok(()) => {
                    record.in_flight.remove(&upload.path);
                    record.objects.insert(upload.path.clone(), upload.want.clone());
                }
                Err(err) => {
                    failed.get_or_insert(err);
                }
            }
        }
        if let Some(err) = failed {
            progress.finish();
            // Keep what did upload; the rest stays in flight, for the next deploy to settle.
            // The first error is the one to report, whether or not this write succeeds.
            let _ = target.write_record(record.to_bytes());
            return Err(err);
        }
    }
    if !plan.uploads.is_empty() {
        progress.finish();
    }
    if !plan.deletions.is_empty() {
        // Claims the last batch, and no longer claims what is deleted next.
        target.write_record(record.to_bytes())?;
        let paths: Vec<String> = plan.deletions.iter().map(|deletion| deletion.path.clone()).collect();
        target.delete(&paths)?;
        for path in &paths {
            record.pending_deletions.remove(path);
        }
    }
    if let Some(unpurged) = unpurged {
        record.unpurged = unpurged.clone();
    }
    let unchanged =
        plan.is_empty() && record == *read && read.build_id.as_deref() == Some(&manifest.build.id);
    if !unchanged {
        record.build_id = Some(manifest.build.id.clone());
        record.deployed_at = Some(rfc3339::format(now));
        target.write_record(record.to_bytes())?;
    }
    Ok(record)
}

/// The bytes of `upload` from `public`, checked against the manifest: a file changed after
/// the build is never uploaded under the record's claim.
pub(super) fn read_checked(public: &Path, upload: &Upload) -> Result<Vec<u8>, DeployError> {
    let path = public.join(&upload.path);
    let bytes = std::fs::read(&path).map_err(|source| DeployError::Io { path: path.clone(), source })?;
    if bytes.len() as u64 != upload.want.size {
        let what = format!("{} bytes, the manifest says {}", bytes.len(), upload.want.size);
        return Err(DeployError::Stale { path, what });
    }
    if crate::output::hex(&Sha256::digest(&bytes)) != upload.want.sha256 {
        return Err(DeployError::Stale { path, what: "its SHA-256 differs".to_owned() });
    }
    Ok(bytes)
}
