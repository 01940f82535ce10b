//! `dropgen deploy`: publishes a build's `public/` to S3-compatible object storage (AWS S3,
//! R2, MinIO) by its manifest. Not a build stage: it reads `<out>` and never writes it.
//!
//! A small pipeline of its own:
//!
//! 1. read `<out>/manifest.json`, connect, read the deploy [`record`] from the bucket (IO);
//! 2. settle what a killed deploy left in flight (one HEAD each, IO), then [`plan::plan`]
//!    (pure: manifest + record + now → ordered uploads and deletions);
//! 3. `execute` (IO): uploads in batches, the record written before each batch and after
//!    the last, deletions, the record last;
//! 4. the [`DeployReport`], which the CLI prints.
//!
//! The baseline is the record in the bucket, never the local output, so a deploy from a
//! fresh CI machine skips what is deployed, and `dropgen serve` cannot hide changes from it.
//! One deploy at a time per prefix: object storage has no locks.

mod bucket;
pub(crate) mod cdn;
mod error;
mod execute;
pub(crate) mod plan;
pub(crate) mod prewarm;
pub(crate) mod purge;
pub(crate) mod record;
mod sigv4;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use time::OffsetDateTime;

use cdn::Purger;
pub(crate) use error::DeployError;
pub(crate) use plan::Plan;
use record::{Record, Unpurged};

use crate::cache::s3::Url;
use crate::manifest::{CHANGES_FILE, MANIFEST_FILE, UploadManifest};
use crate::progress::Progress;

/// Days a removed content-hashed file stays online when neither `--grace-days` nor the
/// build's `changes.json` says otherwise: `purge.removed_asset_grace_days`'s default.
pub(crate) const DEFAULT_GRACE_DAYS: u32 = 7;

/// What to deploy, where, and when it is.
#[derive(Clone, Debug)]
pub(crate) struct DeployOptions {
    /// The build's output folder: `manifest.json` beside `public/`.
    pub(crate) out: PathBuf,
    /// `s3://bucket/prefix`.
    pub(crate) to: String,
    /// Plan and print, change nothing.
    pub(crate) dry_run: bool,
    /// The moment of the deploy, for grace periods.
    pub(crate) now: OffsetDateTime,
    /// Days to keep removed content-hashed files; default: the larger of the build's
    /// `changes.json` grace and [`DEFAULT_GRACE_DAYS`].
    pub(crate) grace_days: Option<u32>,
    /// The CDN to purge after the upload.
    pub(crate) purge: Option<cdn::Cdn>,
    /// Request the manifest's `prewarm` URLs after the upload (and purge): `Some(None)` at
    /// the site's origin, `Some(Some(origin))` at another one.
    pub(crate) prewarm: Option<Option<String>>,
}

/// What a deploy did (or, with `--dry-run`, would do).
#[derive(Debug, Serialize)]
pub(crate) struct DeployReport {
    pub(crate) target: String,
    pub(crate) build_id: String,
    pub(crate) dry_run: bool,
    #[serde(flatten)]
    pub(crate) plan: Plan,
    /// Bytes uploaded (or to upload).
    pub(crate) upload_bytes: u64,
    /// Objects a killed deploy had uploaded completely, found by HEAD and not uploaded again.
    pub(crate) resumed: usize,
    /// When the next removed file may be deleted: deploy again after it.
    pub(crate) next_deletion_at: Option<String>,
    /// When a drop next changes phase (the manifest's): build and deploy again then.
    pub(crate) next_transition_at: Option<String>,
    /// What was purged (or, in a dry run, would be), with `--purge`.
    pub(crate) purge: Option<PurgeReport>,
    /// Each prewarm request and its answer (in a dry run, the URLs only), with `--prewarm`.
    pub(crate) prewarm: Option<Vec<prewarm::Prewarmed>>,
}

/// The purge after a deploy.
#[derive(Debug, Serialize)]
pub(crate) struct PurgeReport {
    pub(crate) cdn: &'static str,
    /// Absolute URLs (Cloudflare) or cache tags (Fastly), including what earlier deploys
    /// left unpurged.
    pub(crate) purged: Vec<String>,
}

/// Deploys `options.out` to `options.to`.
pub(crate) fn run(options: &DeployOptions, progress: &dyn Progress) -> Result<DeployReport, DeployError> {
    let manifest = read_manifest(&options.out)?;
    let url = Url::parse(&options.to).map_err(DeployError::Url)?;
    let grace_days = options.grace_days.unwrap_or_else(|| build_grace_days(&options.out, &manifest));
    // Before anything is uploaded: a purge that cannot happen must not follow an upload.
    let purger = options.purge.map(Purger::from_env).transpose()?;
    let target = bucket::S3Target::connect(&url)?;
    let public = options.out.join(crate::write::PUBLIC_DIR);
    let run = Run {
        now: options.now,
        grace_days,
        dry_run: options.dry_run,
        purger: purger.as_ref(),
        prewarm: options.prewarm.as_ref().map(Option::as_deref),
    };
    deploy(&manifest, &target, &public, &run, progress)
}

/// How a deploy runs, beside what and where.
struct Run<'a> {
    now: OffsetDateTime,
    grace_days: u32,
    dry_run: bool,
    purger: Option<&'a Purger>,
    /// `--prewarm`, and the origin to warm at (default: the site's).
    prewarm: Option<Option<&'a str>>,
}

/// The deploy against any [`execute::Target`]: read the record, settle, plan, execute,
/// purge.
fn deploy(
    manifest: &UploadManifest,
    target: &dyn execute::Target,
    public: &Path,
    run: &Run<'_>,
    progress: &dyn Progress,
) -> Result<DeployReport, DeployError> {
    let read = match target.read_record()? {
        Some(bytes) => Record::parse(&bytes).map_err(|reason| DeployError::BadRecord {
            url: target.name(),
            key: record::KEY.to_owned(),
            reason,
        })?,
        None => Record::default(),
    };
    let in_flight: Vec<String> = read.in_flight.keys().cloned().collect();
    let heads = if in_flight.is_empty() { BTreeMap::new() } else { target.heads(&in_flight)? };
    let settled = read.clone().settle(&heads);
    let resumed = settled.objects.len().saturating_sub(read.objects.len());
    let plan = plan::plan(manifest, &settled, run.now, run.grace_days)
        .map_err(|source| DeployError::Plan { url: target.name(), source })?;
    // With `--purge`, what this deploy changes joins what earlier ones left unpurged, in the
    // record's last write: a purge that fails or is killed is done by the next deploy.
    let unpurged = run.purger.map(|_| read.unpurged.union(&purge::purge_list(&plan, manifest, &settled)));
    let purge = run
        .purger
        .zip(unpurged.as_ref())
        .map(|(purger, list)| PurgeReport { cdn: purger.cdn().name(), purged: purger.items(list).to_vec() });
    if !run.dry_run {
        let mut record =
            execute::execute(&plan, &read, manifest, target, public, run.now, unpurged.as_ref(), progress)?;
        if let (Some(purger), Some(list)) = (run.purger, &unpurged)
            && !purger.items(list).is_empty()
        {
            let result = purger.purge(list, manifest);
            let (left, failure) = match result {
                Ok(()) => (Unpurged::default(), None),
                Err(failure) => (failure.left, Some(failure.error)),
            };
            record.unpurged = left;
            target.write_record(record.to_bytes())?;
            if let Some(error) = failure {
                return Err(error);
            }
        }
    }
    let prewarm = match run.prewarm {
        None => None,
        Some(origin) => {
            let base = &manifest.build.base_url;
            let urls: Vec<String> =
                manifest.prewarm.iter().map(|url| prewarm::at_origin(url, base, origin)).collect();
            Some(if run.dry_run {
                urls.into_iter()
                    .map(|url| prewarm::Prewarmed { url, status: None, cache: None, error: None })
                    .collect()
            } else {
                prewarm::prewarm(&urls)?
            })
        }
    };
    Ok(DeployReport {
        target: target.name(),
        prewarm,
        build_id: manifest.build.id.clone(),
        dry_run: run.dry_run,
        upload_bytes: plan.uploads.iter().map(|upload| upload.want.size).sum(),
        resumed,
        next_deletion_at: plan::next_deletion(&plan).map(str::to_owned),
        next_transition_at: manifest.build.next_transition_at.clone(),
        purge,
        plan,
    })
}

/// `<out>/manifest.json`, which must exist and be a manifest of this schema.
fn read_manifest(out: &Path) -> Result<UploadManifest, DeployError> {
    let path = out.join(MANIFEST_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Err(DeployError::NoManifest { path, out: out.to_path_buf() });
        }
        Err(source) => return Err(DeployError::Io { path, source }),
    };
    crate::manifest::parse_previous(&path, &text).map_err(|err| match err {
        crate::error::Error::PreviousManifest { reason, .. } => {
            DeployError::BadManifest { path: path.clone(), reason }
        }
        other => DeployError::BadManifest { path: path.clone(), reason: other.to_string() },
    })
}

/// The site's grace period as the build's `changes.json` states it (each removal carries
/// it), never less than [`DEFAULT_GRACE_DAYS`]: deleting early is the one mistake a later
/// deploy cannot undo, so an unreadable or older `changes.json` only keeps files longer.
fn build_grace_days(out: &Path, manifest: &UploadManifest) -> u32 {
    let from_changes = std::fs::read(out.join(CHANGES_FILE))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<crate::manifest::changes::Changes>(&bytes).ok())
        .filter(|changes| changes.build_id == manifest.build.id)
        .and_then(|changes| changes.removed.iter().map(|removal| removal.grace_days).max());
    from_changes.unwrap_or(0).max(DEFAULT_GRACE_DAYS)
}

#[cfg(test)]
mod tests;
