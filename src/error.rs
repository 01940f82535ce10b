//! The errors a run can end with, and the exit code each maps to.

use std::path::{Path, PathBuf};

use crate::diagnostic::Diagnostics;

/// The environment variables an `s3://` cache's connection is configured from; here, not in
/// the cache module, because errors name them and this module depends on no other.
pub(crate) const S3_ENVIRONMENT: &str = "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION and \
     AWS_ENDPOINT_URL (with AWS_ALLOW_HTTP=true for an http:// endpoint)";

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// The site has problems a marketer or theme author must fix; each is in the list.
    #[error("the site has {} error(s)", .0.error_count())]
    Content(Diagnostics),
    /// `--root` does not point at a site.
    #[error("`{}` is not a dropgen site: it has no `dropgen.yaml`", root.display())]
    NotASite { root: PathBuf },
    /// A theme file is not text.
    #[error("theme file `{file}` is not UTF-8 text")]
    ThemeNotUtf8 { file: String },
    /// The output folder cannot be used safely.
    #[error("refusing to write to `{}`: {reason}", out.display())]
    UnsafeOutput { out: PathBuf, reason: String },
    /// The previous build's manifest exists but cannot be used for comparison.
    #[error("cannot compare with the previous manifest `{}`: {reason}", path.display())]
    PreviousManifest { path: PathBuf, reason: String },
    /// The command line asks for something that cannot be done.
    #[error("{0}")]
    Usage(String),
    /// dropgen broke one of its own rules.
    #[error("{0}; this is a bug in dropgen")]
    Internal(String),
    /// Another dropgen holds a lock this run needs, and `--no-wait` said not to wait.
    #[error("{what} is in use by {holder} (lock `{}`); run again when it is done, or drop --no-wait to wait for it", lock.display())]
    Busy { what: String, holder: String, lock: PathBuf },
    /// The cache in object storage cannot be used (not reached, or a `cache gc` request failed).
    #[error("the cache `{url}` {reason}; the connection is configured by {}", S3_ENVIRONMENT)]
    ObjectStore { url: String, reason: String },
    /// `dropgen deploy` failed; the error names the file, bucket or key, and the fix.
    #[cfg(feature = "s3")]
    #[error(transparent)]
    Deploy(#[from] crate::deploy::DeployError),
    /// Reading or writing a file failed for a reason outside the site's content.
    #[error("`{}`: {source}{}", path.display(), io_hint(source))]
    Io { path: PathBuf, source: std::io::Error },
}

/// What to do about the I/O errors a user can fix.
fn io_hint(error: &std::io::Error) -> &'static str {
    match error.kind() {
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => {
            "; the file system is full: free some space or choose a folder on another disk (a failed build leaves the previous output as it was)"
        }
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
            "; dropgen may not write there: choose a folder it can write, or fix the folder's permissions"
        }
        _ => "",
    }
}

impl Error {
    /// An I/O error that names the path it happened on.
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io { path: path.to_path_buf(), source }
    }

    /// The documented exit code: 1 for problems in the site's content, 2 for usage and
    /// environment problems.
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            Error::Content(_) | Error::ThemeNotUtf8 { .. } => 1,
            Error::NotASite { .. }
            | Error::UnsafeOutput { .. }
            | Error::PreviousManifest { .. }
            | Error::Usage(_)
            | Error::Internal(_)
            | Error::Busy { .. }
            | Error::ObjectStore { .. }
            | Error::Io { .. } => 2,
            #[cfg(feature = "s3")]
            Error::Deploy(_) => 2,
        }
    }
}
