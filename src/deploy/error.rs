//! Why a deploy failed: the one error type every part of `deploy` returns, below them all so
//! that data and errors flow one way, from `mod.rs` down.

use std::path::PathBuf;

use super::plan::PlanError;

/// Why a deploy failed. Each names the file, bucket or key, and says what to do.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DeployError {
    /// The output folder has no manifest.
    #[error(
        "`{}` does not exist: run `dropgen build --out {}` first, or point --out at the build's output folder",
        path.display(),
        out.display()
    )]
    NoManifest { path: PathBuf, out: PathBuf },
    /// The manifest cannot be read or used.
    #[error("`{}` cannot be deployed: {reason}; build again with this dropgen", path.display())]
    BadManifest { path: PathBuf, reason: String },
    /// A file of `public/` is not the one the manifest describes.
    #[error(
        "`{}` is not the file `manifest.json` describes ({what}): the output changed after the build; build again, then deploy",
        path.display()
    )]
    Stale { path: PathBuf, what: String },
    /// `--to` is not an `s3://` URL.
    #[error("--to {0}")]
    Url(String),
    /// The plan cannot be made.
    #[error("cannot deploy to `{url}`: {source}")]
    Plan { url: String, source: PlanError },
    /// The record in the bucket is not a deploy record this dropgen reads.
    #[error("the deploy record `{url}/{key}` cannot be used: {reason}; delete it to upload every file again")]
    BadRecord { url: String, key: String, reason: String },
    /// The bucket cannot be reached or used at all.
    #[error("cannot reach `{url}`: {reason}; {hint}")]
    Connect { url: String, reason: String, hint: String },
    /// A request on one object failed.
    #[error("cannot {action} `{url}/{key}`: {reason}; {hint}")]
    Request { action: &'static str, url: String, key: String, reason: String, hint: String },
    /// `--purge` was asked for without what it needs.
    #[error("cannot purge at {cdn}: {reason}; {hint}")]
    PurgeSetup { cdn: &'static str, reason: String, hint: String },
    /// A purge request failed for good: the deploy is complete in the bucket, but these URLs
    /// (or tags) may be stale at the CDN.
    #[error(
        "the files are deployed, but purging at {cdn} failed: {reason}; not purged ({}):\n  {}\n{hint}",
        not_purged.len(),
        not_purged.join("\n  ")
    )]
    Purge { cdn: &'static str, reason: String, not_purged: Vec<String>, hint: String },
    /// The HTTP client cannot start.
    #[error("cannot start the HTTP client: {0}; this is a bug in dropgen")]
    Client(String),
    /// Reading a local file failed.
    #[error("`{}`: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
}
