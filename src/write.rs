//! Stage: WRITE — the only code that writes into the output folder.
//!
//! Everything is written into a fresh temporary folder beside `<out>`, and only when all of it
//! is written does that folder replace `<out>`. A build that fails at any point leaves the
//! previous `<out>` exactly as it was, and the upload pipeline never sees half a site.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::output::{Content, Output};

/// The upload root inside `<out>`: what the CDN pipeline publishes.
pub const PUBLIC_DIR: &str = "public";

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteReport {
    pub files: usize,
    pub bytes: u64,
}

/// Checks that `out` is safe to replace: not the site itself or a folder holding it, and not
/// a folder of something else (it must be empty, or look like a previous dropgen output).
pub(crate) fn check_out_dir(root: &Path, out: &Path) -> Result<(), Error> {
    let unsafe_out =
        |reason: &str| Err(Error::UnsafeOutput { out: out.to_path_buf(), reason: reason.to_owned() });
    let root = fs::canonicalize(root).map_err(|err| Error::io(root, err))?;
    let out_abs = absolute(out)?;
    if root.starts_with(&out_abs) {
        return unsafe_out("it contains the site itself; choose an output folder such as `dist`");
    }
    for protected in [crate::load::DROPS_DIR, "themes"] {
        if out_abs.starts_with(root.join(protected)) {
            return unsafe_out(&format!("it is inside the site's `{protected}/` folder"));
        }
    }
    if out.is_file() {
        return unsafe_out("it is a file");
    }
    if out.is_dir() && !out.join(PUBLIC_DIR).is_dir() {
        let empty = fs::read_dir(out).map_err(|err| Error::io(out, err))?.next().is_none();
        if !empty {
            return unsafe_out(&format!(
                "it is not empty and holds no `{PUBLIC_DIR}/` from an earlier build; remove it or choose another folder"
            ));
        }
    }
    Ok(())
}

/// Writes `output` as `<out>/public/` and `beside` (in order) next to it, replacing the
/// previous `<out>` only once everything is on disk.
pub(crate) fn all(output: &Output, out: &Path, beside: &[(String, Vec<u8>)]) -> Result<WriteReport, Error> {
    let out = absolute(out)?;
    let parent = out.parent().ok_or_else(|| Error::UnsafeOutput {
        out: out.clone(),
        reason: "it has no parent folder".to_owned(),
    })?;
    fs::create_dir_all(parent).map_err(|err| Error::io(parent, err))?;
    let name = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "dist".to_owned());
    // Same parent folder, so the final rename stays on one file system.
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{name}.staging-"))
        .tempdir_in(parent)
        .map_err(|err| Error::io(parent, err))?;
    let report = write_tree(output, &staging.path().join(PUBLIC_DIR))?;
    for (rel, bytes) in beside {
        let path = rel.split('/').fold(staging.path().to_path_buf(), |path, part| path.join(part));
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(|err| Error::io(dir, err))?;
        }
        fs::write(&path, bytes).map_err(|err| Error::io(&path, err))?;
    }
    swap_into_place(staging.keep(), &out)?;
    Ok(report)
}

fn write_tree(output: &Output, public: &Path) -> Result<WriteReport, Error> {
    let mut report = WriteReport { files: 0, bytes: 0 };
    for (rel, artifact) in output.iter() {
        let path = rel.split('/').fold(public.to_path_buf(), |path, part| path.join(part));
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(|err| Error::io(dir, err))?;
        }
        let bytes = match &artifact.content {
            Content::Bytes(bytes) => {
                fs::write(&path, bytes).map_err(|err| Error::io(&path, err))?;
                bytes.len() as u64
            }
            Content::CopyOf(source) => fs::copy(source, &path).map_err(|err| Error::io(source, err))?,
        };
        report.files += 1;
        report.bytes += bytes;
    }
    Ok(report)
}

/// Moves the finished staging folder to `out`. The old output is first renamed aside, so at
/// no moment does `out` hold a mix of old and new files; it is deleted last.
fn swap_into_place(staging: PathBuf, out: &Path) -> Result<(), Error> {
    let restore_staging = |err: io::Error, path: &Path| {
        let _ = fs::remove_dir_all(&staging);
        Error::io(path, err)
    };
    if out.exists() {
        let retired = retired_name(out);
        fs::rename(out, &retired).map_err(|err| restore_staging(err, out))?;
        if let Err(err) = fs::rename(&staging, out) {
            let _ = fs::rename(&retired, out);
            return Err(restore_staging(err, out));
        }
        fs::remove_dir_all(&retired).map_err(|err| Error::io(&retired, err))?;
    } else {
        fs::rename(&staging, out).map_err(|err| restore_staging(err, out))?;
    }
    Ok(())
}

fn retired_name(out: &Path) -> PathBuf {
    let name = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    out.with_file_name(format!(".{name}.old-{}", std::process::id()))
}

fn absolute(path: &Path) -> Result<PathBuf, Error> {
    std::path::absolute(path).map_err(|err| Error::io(path, err))
}
