//! Stage: WRITE — the only code that writes into the output folder.
//!
//! Everything is written into a fresh temporary folder beside `<out>`, and only when all of it
//! is written does that folder replace `<out>`. A build that fails at any point leaves the
//! previous `<out>` exactly as it was, and the upload pipeline never sees half a site. The
//! caller holds the output lock (`lock::output`) throughout, and calls `recover`
//! first to clean up after a build that was killed.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::error::Error;
use crate::output::Output;

/// The upload root inside `<out>`: what the CDN pipeline publishes.
pub const PUBLIC_DIR: &str = "public";

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteReport {
    pub files: usize,
    pub bytes: u64,
    /// Of `files`, those kept from the previous output (hard-linked, not written again).
    pub kept: usize,
}

/// Every output folder carries this file. A folder is only ever replaced when it is empty or
/// holds it, so `--out` pointed at a project folder by mistake deletes nothing.
pub const MARKER_FILE: &str = ".dropgen-output";
const MARKER_TEXT: &str =
    "This folder is written by `dropgen build` and replaced as a whole by every build.\n";

/// Checks that `out` is safe to replace: not the site itself or a folder holding it, and
/// either missing, empty, or an earlier dropgen output (it holds [`MARKER_FILE`]).
pub(crate) fn check_out_dir(root: &Path, out: &Path) -> Result<(), Error> {
    let unsafe_out =
        |reason: &str| Err(Error::UnsafeOutput { out: out.to_path_buf(), reason: reason.to_owned() });
    let root = fs::canonicalize(root).map_err(|err| Error::io(root, err))?;
    let out_real = resolve(out)?;
    if root.starts_with(&out_real) {
        return unsafe_out("it contains the site itself; choose an output folder such as `dist`");
    }
    for protected in [crate::load::DROPS_DIR, "themes"] {
        if out_real.starts_with(root.join(protected)) {
            return unsafe_out(&format!("it is inside the site's `{protected}/` folder"));
        }
    }
    if out.is_file() {
        return unsafe_out("it is a file");
    }
    if out.is_dir() && !out.join(MARKER_FILE).is_file() {
        let empty = fs::read_dir(out).map_err(|err| Error::io(out, err))?.next().is_none();
        if !empty {
            return unsafe_out(&format!(
                "it is not empty and is not an earlier dropgen output (it has no `{MARKER_FILE}`); remove it or choose another folder"
            ));
        }
    }
    Ok(())
}

/// The real path of `path`: symlinks and `..` resolved through its nearest existing ancestor,
/// the components that do not exist yet appended as they are.
fn resolve(path: &Path) -> Result<PathBuf, Error> {
    let path = absolute(path)?;
    let mut existing = path.as_path();
    let mut rest = Vec::new();
    loop {
        match fs::canonicalize(existing) {
            Ok(real) => return Ok(rest.iter().rev().fold(real, |path: PathBuf, part| path.join(part))),
            Err(_) => match (existing.parent(), existing.file_name()) {
                (Some(parent), Some(name)) => {
                    rest.push(name.to_owned());
                    existing = parent;
                }
                _ => return Ok(path.clone()),
            },
        }
    }
}

/// Writes `output` as `<out>/public/` and `beside` (in order) next to it, replacing the
/// previous `<out>` only once everything is on disk.
///
/// `unchanged` lists the upload-root paths (with their sizes) whose file in the previous
/// `<out>/public/` already holds the bytes to write, by the manifest beside it: those are
/// hard-linked into the new output instead of written, which makes a rebuild that changed
/// little cost little, and keeps their modification times for sync tools. A file whose size
/// on disk differs, or that cannot be linked (another file system, no hard links), is written.
pub(crate) fn all(
    output: &Output,
    out: &Path,
    beside: &[(String, Vec<u8>)],
    unchanged: &BTreeMap<String, u64>,
) -> Result<WriteReport, Error> {
    let out = absolute(out)?;
    let parent = out.parent().ok_or_else(|| Error::UnsafeOutput {
        out: out.clone(),
        reason: "it has no parent folder".to_owned(),
    })?;
    fs::create_dir_all(parent).map_err(|err| Error::io(parent, err))?;
    let name = folder_name(&out);
    // Same parent folder, so the final rename stays on one file system.
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{name}.staging-"))
        .rand_bytes(STAGING_RANDOM_CHARS)
        .tempdir_in(parent)
        .map_err(|err| Error::io(parent, err))?;
    let staged = || -> Result<WriteReport, Error> {
        fs::write(staging.path().join(MARKER_FILE), MARKER_TEXT)
            .map_err(|err| Error::io(staging.path(), err))?;
        let in_place = InPlace { public: out.join(PUBLIC_DIR), unchanged };
        let report = write_tree(output, &staging.path().join(PUBLIC_DIR), &in_place)?;
        for (rel, bytes) in beside {
            let path = rel.split('/').fold(staging.path().to_path_buf(), |path, part| path.join(part));
            if let Some(dir) = path.parent() {
                fs::create_dir_all(dir).map_err(|err| Error::io(dir, err))?;
            }
            fs::write(&path, bytes).map_err(|err| Error::io(&path, err))?;
        }
        Ok(report)
    };
    // A failure names the file as it would have been in `<out>`: the staging folder is gone
    // by the time the user reads the message.
    let report = staged().map_err(|err| match err {
        Error::Io { path, source } => {
            let path = path.strip_prefix(staging.path()).map_or(path.clone(), |rel| out.join(rel));
            Error::Io { path, source }
        }
        other => other,
    })?;
    swap_into_place(staging.keep(), &out)?;
    Ok(report)
}

/// The previous output's upload root, and the files in it that the new one may keep.
struct InPlace<'a> {
    public: PathBuf,
    unchanged: &'a BTreeMap<String, u64>,
}

impl InPlace<'_> {
    /// Links the previous output's copy of `rel` to `to`, if it is there with the expected
    /// size; `false` when the file must be written instead.
    fn link(&self, rel: &str, to: &Path) -> bool {
        let Some(&size) = self.unchanged.get(rel) else { return false };
        let from = rel.split('/').fold(self.public.clone(), |path, part| path.join(part));
        fs::symlink_metadata(&from).is_ok_and(|meta| meta.is_file() && meta.len() == size)
            && fs::hard_link(&from, to).is_ok()
    }
}

/// Writes every file of `output` under `public` (or links it from `in_place`): the folders
/// first, then the files in parallel (a build of thousands of pages is otherwise bound by one
/// core's system calls). The first failure in path order is the one reported.
fn write_tree(output: &Output, public: &Path, in_place: &InPlace<'_>) -> Result<WriteReport, Error> {
    let files: Vec<(&str, PathBuf, &[u8])> = output
        .iter()
        .map(|(rel, artifact)| {
            (
                rel.as_str(),
                rel.split('/').fold(public.to_path_buf(), |path, part| path.join(part)),
                artifact.bytes.as_slice(),
            )
        })
        .collect();
    let folders: std::collections::BTreeSet<&Path> =
        files.iter().filter_map(|(_, path, _)| path.parent()).collect();
    for folder in folders {
        fs::create_dir_all(folder).map_err(|err| Error::io(folder, err))?;
    }
    let written: Vec<Result<bool, Error>> = files
        .par_iter()
        .map(|(rel, path, bytes)| {
            if in_place.link(rel, path) {
                return Ok(true);
            }
            fs::write(path, bytes).map(|()| false).map_err(|err| Error::io(path, err))
        })
        .collect();
    let kept =
        written.into_iter().collect::<Result<Vec<bool>, Error>>()?.into_iter().filter(|kept| *kept).count();
    let bytes = files.iter().map(|(_, _, bytes)| bytes.len() as u64).sum();
    Ok(WriteReport { files: files.len(), bytes, kept })
}

/// Puts the finished staging folder in `out`'s place. Where the file system can exchange two
/// folders in one step (Linux's `renameat2(RENAME_EXCHANGE)`), `out` always exists, holding
/// the old output until the instant it holds the new one. Elsewhere the old output is renamed
/// aside first, so for a moment `out` is missing (never a mix); [`recover`] puts it back if
/// the build is killed in that moment. The old output is deleted last.
fn swap_into_place(staging: PathBuf, out: &Path) -> Result<(), Error> {
    let restore_staging = |err: io::Error, path: &Path| {
        let _ = fs::remove_dir_all(&staging);
        Error::io(path, err)
    };
    if !out.exists() {
        return fs::rename(&staging, out).map_err(|err| restore_staging(err, out));
    }
    let retired = match exchange(&staging, out) {
        // The staging name now holds the old output.
        Ok(()) => staging.clone(),
        Err(err) if exchange_unsupported(&err) => {
            let retired = retired_name(out);
            fs::rename(out, &retired).map_err(|err| restore_staging(err, out))?;
            if let Err(err) = fs::rename(&staging, out) {
                let _ = fs::rename(&retired, out);
                return Err(restore_staging(err, out));
            }
            retired
        }
        Err(err) => return Err(restore_staging(err, out)),
    };
    // The new output is in place: failing to delete the old one is not a failed build (the
    // next build deletes it).
    if let Err(err) = fs::remove_dir_all(&retired) {
        eprintln!("warning: could not remove the previous output `{}`: {err}", retired.display());
    }
    Ok(())
}

#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE).map_err(io::Error::from)
}

#[cfg(not(target_os = "linux"))]
fn exchange(_a: &Path, _b: &Path) -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// The kernel or file system has no atomic exchange (EINVAL, ENOSYS, EOPNOTSUPP), so the
/// two-rename fallback applies.
fn exchange_unsupported(err: &io::Error) -> bool {
    const EINVAL: i32 = 22;
    const ENOSYS: i32 = 38;
    const EOPNOTSUPP: i32 = 95;
    err.kind() == io::ErrorKind::Unsupported
        || matches!(err.raw_os_error(), Some(EINVAL | ENOSYS | EOPNOTSUPP))
}

fn retired_name(out: &Path) -> PathBuf {
    out.with_file_name(format!(".{}.old-{}", folder_name(out), std::process::id()))
}

fn folder_name(out: &Path) -> String {
    out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "dist".to_owned())
}

/// The random part of a staging folder's name (`.dist.staging-Ab12Cd`), by which
/// [`recover`] tells it from anything else.
const STAGING_RANDOM_CHARS: usize = 6;

/// What `recover` found that a killed build had left beside `out`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Staging and retired folders deleted.
    pub removed: usize,
    /// Whether `out` was missing and the previous output was put back.
    pub restored: bool,
}

/// Cleans up after a build that was killed while writing `out`: deletes its staging folder
/// and the old output it had not deleted yet, and, if it died between the fallback's two
/// renames, puts the previous output back. Only call it holding the output lock: another
/// live build's staging folder looks just the same.
pub(crate) fn recover(out: &Path) -> Result<Recovered, Error> {
    let out = absolute(out)?;
    let Some(parent) = out.parent() else { return Ok(Recovered::default()) };
    let name = folder_name(&out);
    let (staging_prefix, retired_prefix) = (format!(".{name}.staging-"), format!(".{name}.old-"));
    let entries = match fs::read_dir(parent) {
        Ok(entries) => entries,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Recovered::default()),
        Err(err) => return Err(Error::io(parent, err)),
    };
    let mut leftovers: Vec<(PathBuf, bool)> = entries
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_dir()))
        // Only folders named as dropgen names them. Not by their marker file: a build killed
        // while deleting the old output may have deleted the marker already.
        .filter_map(|entry| {
            let file_name = entry.file_name().to_string_lossy().into_owned();
            let staging = file_name.strip_prefix(&staging_prefix).is_some_and(|random| {
                random.len() == STAGING_RANDOM_CHARS && random.bytes().all(|b| b.is_ascii_alphanumeric())
            });
            let retired = file_name
                .strip_prefix(&retired_prefix)
                .is_some_and(|pid| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()));
            (staging || retired).then(|| (entry.path(), retired))
        })
        .collect();
    leftovers.sort();
    let mut recovered = Recovered::default();
    if !out.exists()
        && let Some(index) =
            leftovers.iter().position(|(path, retired)| *retired && path.join(MARKER_FILE).is_file())
    {
        let (previous, _) = leftovers.remove(index);
        fs::rename(&previous, &out).map_err(|err| Error::io(&out, err))?;
        recovered.restored = true;
    }
    for (path, _) in leftovers {
        fs::remove_dir_all(&path).map_err(|err| Error::io(&path, err))?;
        recovered.removed += 1;
    }
    Ok(recovered)
}

fn absolute(path: &Path) -> Result<PathBuf, Error> {
    std::path::absolute(path).map_err(|err| Error::io(path, err))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::CacheClass;
    use crate::output::Artifact;

    fn output(files: &[(&str, &str)]) -> Output {
        let mut output = Output::default();
        for (path, text) in files {
            output.insert(
                (*path).to_owned(),
                Artifact::bytes(text.as_bytes().to_vec(), path, CacheClass::Document, &[]),
            );
        }
        output
    }

    #[test]
    fn a_write_that_fails_midway_leaves_the_previous_output_and_no_staging() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("dist");
        all(
            &output(&[("index.html", "old")]),
            &out,
            &[("manifest.json".into(), b"{}".to_vec())],
            &BTreeMap::new(),
        )
        .unwrap();
        // `index.html` is written first; then `index.html/x` cannot be, under a file.
        let broken = output(&[("index.html", "new"), ("index.html/x", "unwritable")]);
        match all(&broken, &out, &[], &BTreeMap::new()) {
            Err(Error::Io { path, .. }) => {
                assert!(path.starts_with(&out), "{path:?} is not where the file was going")
            }
            other => panic!("expected an I/O error, got {other:?}"),
        }
        assert_eq!(fs::read_to_string(out.join("public/index.html")).unwrap(), "old");
        assert_eq!(fs::read_to_string(out.join("manifest.json")).unwrap(), "{}");
        let names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["dist"], "staging or retired folders left behind");
    }

    #[test]
    fn only_empty_folders_and_earlier_outputs_are_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let site = dir.path().join("site");
        fs::create_dir_all(&site).unwrap();
        let project = dir.path().join("project");
        fs::create_dir_all(project.join("public")).unwrap();
        fs::write(project.join("src.rs"), "keep").unwrap();
        assert!(matches!(check_out_dir(&site, &project), Err(Error::UnsafeOutput { .. })));
        let out = dir.path().join("out");
        assert!(check_out_dir(&site, &out).is_ok(), "a missing folder is fine");
        all(&output(&[("index.html", "x")]), &out, &[], &BTreeMap::new()).unwrap();
        assert!(check_out_dir(&site, &out).is_ok(), "an earlier output is fine");
        assert!(out.join(MARKER_FILE).is_file());
    }

    #[test]
    fn links_cannot_disguise_the_site_folder() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        fs::create_dir_all(real.join("x/site")).unwrap();
        std::os::unix::fs::symlink(&real, dir.path().join("link")).unwrap();
        let out = dir.path().join("link/x");
        assert!(matches!(check_out_dir(&real.join("x/site"), &out), Err(Error::UnsafeOutput { .. })));
        let through_dots = real.join("x/site/../../x");
        assert!(matches!(
            check_out_dir(&real.join("x/site"), &through_dots),
            Err(Error::UnsafeOutput { .. })
        ));
    }

    #[test]
    fn a_rebuild_exchanges_the_folders_and_leaves_only_the_new_output() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("dist");
        all(&output(&[("index.html", "old"), ("gone.html", "x")]), &out, &[], &BTreeMap::new()).unwrap();
        let before = fs::metadata(&out).unwrap();
        all(&output(&[("index.html", "new")]), &out, &[], &BTreeMap::new()).unwrap();
        assert_eq!(fs::read_to_string(out.join("public/index.html")).unwrap(), "new");
        assert!(!out.join("public/gone.html").exists());
        use std::os::unix::fs::MetadataExt;
        assert_ne!(before.ino(), fs::metadata(&out).unwrap().ino(), "the folder itself is replaced");
        let names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["dist"]);
    }

    #[test]
    fn recovery_restores_a_moved_aside_output_and_removes_only_dropgen_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("dist");
        let folder = |name: &str, files: &[&str]| {
            let path = dir.path().join(name);
            fs::create_dir_all(&path).unwrap();
            for file in files {
                fs::write(path.join(file), "x").unwrap();
            }
        };
        // Killed between the fallback's two renames: the previous output is aside, `dist` gone.
        folder(".dist.old-41", &[MARKER_FILE, "manifest.json"]);
        folder(".dist.staging-AbC123", &[MARKER_FILE]);
        folder(".dist.staging-Empty1", &[]);
        // Killed while deleting the old output: its marker may be gone already.
        folder(".dist.staging-Half42", &["index.html"]);
        folder(".dist.staging-mine", &["notes.txt"]);
        folder(".other.staging-x", &[MARKER_FILE]);
        let recovered = recover(&out).unwrap();
        assert_eq!(recovered, Recovered { removed: 3, restored: true });
        assert!(out.join("manifest.json").is_file(), "the previous output is back");
        let mut names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, [".dist.staging-mine", ".other.staging-x", "dist"], "someone else's folders stay");
        assert_eq!(recover(&out).unwrap(), Recovered::default());
    }

    #[test]
    fn unchanged_files_are_linked_from_the_previous_output_and_the_rest_written() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("dist");
        let files = [("same.html", "same"), ("edited.html", "before"), ("resized.html", "abc")];
        all(&output(&files), &out, &[], &BTreeMap::new()).unwrap();
        let inode = |rel: &str| fs::metadata(out.join(PUBLIC_DIR).join(rel)).unwrap().ino();
        let before: Vec<u64> = files.iter().map(|(rel, _)| inode(rel)).collect();
        // What the manifest says is unchanged; `resized.html` was changed on disk since.
        fs::write(out.join("public/resized.html"), "abcdef").unwrap();
        let unchanged = BTreeMap::from([("same.html".to_owned(), 4), ("resized.html".to_owned(), 3)]);
        let next = [("same.html", "same"), ("edited.html", "after"), ("resized.html", "abc")];
        let report = all(&output(&next), &out, &[], &unchanged).unwrap();
        assert_eq!((report.files, report.kept), (3, 1));
        assert_eq!(inode("same.html"), before[0], "kept, not written");
        assert_ne!(inode("edited.html"), before[1]);
        for (rel, text) in next {
            assert_eq!(fs::read_to_string(out.join(PUBLIC_DIR).join(rel)).unwrap(), text, "{rel}");
        }
    }
}
