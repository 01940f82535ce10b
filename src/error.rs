//! The errors a run can end with, and the exit code each maps to.

use std::path::{Path, PathBuf};

use crate::diagnostic::Diagnostics;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
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
    /// Reading or writing a file failed for a reason outside the site's content.
    #[error("`{}`: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
}

impl Error {
    /// An I/O error that names the path it happened on.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io { path: path.to_path_buf(), source }
    }

    /// The documented exit code: 1 for problems in the site's content, 2 for usage and
    /// environment problems.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Content(_) | Error::ThemeNotUtf8 { .. } => 1,
            Error::NotASite { .. }
            | Error::UnsafeOutput { .. }
            | Error::PreviousManifest { .. }
            | Error::Usage(_)
            | Error::Internal(_)
            | Error::Io { .. } => 2,
        }
    }
}
