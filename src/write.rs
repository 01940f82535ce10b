//! Stage: WRITE — the only code that writes into the output folder.
//!
//! Everything is written into a fresh temporary folder beside `<out>` (`Staging`; the image
//! stage puts its variants there as it makes them), and only when all of it is written does
//! that folder replace `<out>`. A build that fails at any point leaves the
//! previous `<out>` exactly as it was, and the upload pipeline never sees half a site.
//! `serve` stages only what changed and moves it into `<out>` file by file (`Commit`). The
//! caller holds the output lock (`lock::output`) throughout, and calls `recover`
//! first to clean up after a build that was killed.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;

use crate::error::Error;
use crate::output::{Body, Digest, Output, Spool};

/// The upload root inside `<out>`: what the CDN pipeline publishes.
pub(crate) const PUBLIC_DIR: &str = "public";

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WriteReport {
    pub files: usize,
    pub bytes: u64,
    /// Of `files`, those kept from the previous output (hard-linked, not written again).
    pub kept: usize,
}

/// Every output folder carries this file. A folder is only ever replaced when it is empty or
/// holds it, so `--out` pointed at a project folder by mistake deletes nothing.
pub(crate) const MARKER_FILE: &str = ".dropgen-output";
const MARKER_TEXT: &str =
    "This folder is written by `dropgen build` and replaced as a whole by every build.\n";

/// Present in `<out>` while [`Commit::Update`] moves files into it. A build that finds it
/// (the last update was killed midway, so `public/` may not match the manifest) trusts
/// nothing in the previous output and replaces it as a whole.
pub(crate) const UPDATING_FILE: &str = ".dropgen-updating";
const UPDATING_TEXT: &str = "`dropgen serve` is updating this folder. If this file stays, an update was \
    interrupted, and the next build replaces the folder whole.\n";

/// How the finished output takes the place of the previous one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Commit {
    /// The staging folder, a whole new output, replaces `<out>` in one rename: at every
    /// instant `<out>` is the old output or the new one, never a mix. What `build` does.
    #[default]
    Swap,
    /// Only new and changed files are staged; they are then moved into `<out>` one rename
    /// each, and the files the build no longer makes are deleted there. What `serve` does:
    /// a rebuild after one edit then costs the files it changed, where a swap makes every
    /// folder of the site again (at 1,000 drops, 1,000 `mkdir`s took 135 ms of a 0.85 s
    /// rebuild, and linking and deleting the files as much again).
    /// A build that fails still leaves `<out>` untouched; one killed while moving leaves
    /// [`UPDATING_FILE`], and the next build swaps. Falls back to a swap when `<out>` holds
    /// no readable previous output.
    Update,
}

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

/// The folder that becomes `<out>`, made beside it before any stage produces files, so that
/// the image stage can put each variant into it as soon as it is made ([`Spool`]) instead of
/// holding every image's bytes until the end. Dropped without [`all`], as a failed build
/// drops it, it is deleted, and the previous `<out>` stays exactly as it was.
pub(crate) struct Staging {
    dir: tempfile::TempDir,
    out: PathBuf,
    in_place: InPlace,
    /// The first file that could not be put; [`all`] reports it.
    failure: Mutex<Option<Error>>,
    /// Files linked from the previous output rather than written.
    kept: AtomicUsize,
    /// Folders of `public/` made so far: thousands of variants share a few folders, and each
    /// put would otherwise ask the file system again (`mkdir` and `stat`).
    folders: Mutex<HashSet<PathBuf>>,
    commit: Commit,
    /// Under [`Commit::Update`], the upload-root paths written into the staging folder.
    staged: Mutex<Vec<String>>,
}

impl Staging {
    /// Makes the staging folder beside `out`. `previous` lists the files the previous
    /// `<out>/public/` holds, by the manifest beside it: upload-root path → (SHA-256, size).
    /// A file put with the same hash and size is hard-linked from there instead of written,
    /// which makes a rebuild that changed little cost little, and keeps modification times for
    /// sync tools. One whose size on disk differs, or that cannot be linked (another file
    /// system, no hard links), is written. Under [`Commit::Update`] such a file is left where
    /// it is instead.
    pub(crate) fn begin(
        out: &Path,
        previous: BTreeMap<String, (String, u64)>,
        commit: Commit,
    ) -> Result<Staging, Error> {
        let out = absolute(out)?;
        // A killed update leaves `public/` out of step with the manifest: nothing there is
        // kept, and the output is replaced whole.
        let interrupted = out.join(UPDATING_FILE).exists();
        let previous = if interrupted { BTreeMap::new() } else { previous };
        let commit = match commit {
            Commit::Update if !previous.is_empty() && out.join(PUBLIC_DIR).is_dir() => Commit::Update,
            _ => Commit::Swap,
        };
        let parent = out.parent().ok_or_else(|| Error::UnsafeOutput {
            out: out.clone(),
            reason: "it has no parent folder".to_owned(),
        })?;
        fs::create_dir_all(parent).map_err(|err| Error::io(parent, err))?;
        // Same parent folder, so the final rename stays on one file system.
        let dir = tempfile::Builder::new()
            .prefix(&format!(".{}.staging-", folder_name(&out)))
            .rand_bytes(STAGING_RANDOM_CHARS)
            .tempdir_in(parent)
            .map_err(|err| Error::io(parent, err))?;
        let staging = Staging {
            in_place: InPlace { public: out.join(PUBLIC_DIR), files: previous },
            out,
            dir,
            failure: Mutex::new(None),
            kept: AtomicUsize::new(0),
            folders: Mutex::new(HashSet::new()),
            commit,
            staged: Mutex::new(Vec::new()),
        };
        let made = fs::write(staging.dir.path().join(MARKER_FILE), MARKER_TEXT)
            .and_then(|()| fs::create_dir(staging.public()));
        made.map_err(|err| staging.in_out(Error::io(staging.dir.path(), err)))?;
        Ok(staging)
    }

    fn public(&self) -> PathBuf {
        self.dir.path().join(PUBLIC_DIR)
    }

    /// Makes `folder` and its parents, unless this staging folder made it already.
    fn make_folder(&self, folder: &Path) -> Result<(), Error> {
        if lock(&self.folders).contains(folder) {
            return Ok(());
        }
        fs::create_dir_all(folder).map_err(|err| Error::io(folder, err))?;
        lock(&self.folders).insert(folder.to_path_buf());
        Ok(())
    }

    /// Under [`Commit::Update`], whether `<out>` holds `rel` with these bytes already, so that
    /// it stays there untouched (counted as kept).
    fn left_in_place(&self, rel: &str, digest: &Digest) -> bool {
        let kept = self.commit == Commit::Update && self.in_place.holds(rel, digest).is_some();
        if kept {
            self.kept.fetch_add(1, Ordering::Relaxed);
        }
        kept
    }

    /// Links or writes one file of the upload root.
    fn place(&self, rel: &str, path: &Path, bytes: &[u8], digest: &Digest) -> Result<(), Error> {
        if self.commit == Commit::Swap && self.in_place.link(rel, digest, path) {
            self.kept.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        fs::write(path, bytes).map_err(|err| Error::io(path, err))?;
        if self.commit == Commit::Update {
            lock(&self.staged).push(rel.to_owned());
        }
        Ok(())
    }

    /// An error at a staging path, named as the path would have been in `<out>`: the
    /// staging folder is gone by the time the user reads the message.
    fn in_out(&self, err: Error) -> Error {
        match err {
            Error::Io { path, source } => {
                let path = path.strip_prefix(self.dir.path()).map_or(path.clone(), |rel| self.out.join(rel));
                Error::Io { path, source }
            }
            other => other,
        }
    }
}

impl Spool for Staging {
    fn put(&self, rel: &str, bytes: &[u8], digest: &Digest) {
        if lock(&self.failure).is_some() || self.left_in_place(rel, digest) {
            return;
        }
        let path = in_folder(&self.public(), rel);
        let made = path.parent().map_or(Ok(()), |folder| self.make_folder(folder));
        if let Err(err) = made.and_then(|()| self.place(rel, &path, bytes, digest)) {
            lock(&self.failure).get_or_insert(err);
        }
    }
}

/// Hands every file of `output` still in memory to `spool`, in parallel (a build of thousands
/// of pages is otherwise bound by one core's system calls), and keeps only its digest.
/// Called once the last stage that reads pages' bytes (compression) is done: the manifest
/// stage needs digests only, and at 10,000 drops the pages are a quarter of the build's
/// memory.
pub(crate) fn spool_rest(output: &mut Output, spool: &dyn Spool) {
    output.files_mut().par_bridge().for_each(|(path, artifact)| {
        if let Body::Memory(bytes) = std::mem::replace(&mut artifact.body, Body::Spooled) {
            spool.put(path, &bytes, &artifact.digest);
        }
    });
}

/// Writes `output` into `staging` as `public/` (the files the stages spooled are there
/// already; any still in memory are put the same way) and `beside` (in order) next to it,
/// then puts it in place of the previous `<out>` as the staging folder's [`Commit`] says.
/// The first file that could not be put, or put first, is the failure reported.
pub(crate) fn all(
    staging: Staging,
    output: &Output,
    beside: &[(String, Vec<u8>)],
) -> Result<WriteReport, Error> {
    output
        .iter()
        .par_bridge()
        .filter_map(|(rel, artifact)| Some((rel, artifact.in_memory()?, &artifact.digest)))
        .for_each(|(rel, bytes, digest)| staging.put(rel, bytes, digest));
    let staged = || -> Result<WriteReport, Error> {
        if let Some(failure) = lock(&staging.failure).take() {
            return Err(failure);
        }
        for (rel, bytes) in beside {
            let path = in_folder(staging.dir.path(), rel);
            if let Some(dir) = path.parent() {
                fs::create_dir_all(dir).map_err(|err| Error::io(dir, err))?;
            }
            fs::write(&path, bytes).map_err(|err| Error::io(&path, err))?;
        }
        Ok(WriteReport {
            files: output.len(),
            bytes: output.iter().map(|(_, artifact)| artifact.digest.size).sum(),
            kept: staging.kept.load(Ordering::Relaxed),
        })
    };
    let report = staged().map_err(|err| staging.in_out(err))?;
    match staging.commit {
        Commit::Swap => {
            let Staging { dir, out, .. } = staging;
            swap_into_place(dir.keep(), &out)?;
        }
        // The staging folder, left with nothing in it, is deleted when `staging` drops.
        Commit::Update => update_in_place(&staging, output, beside)?,
    }
    Ok(report)
}

/// [`Commit::Update`]: moves the staged files into `<out>` (the upload root's, then those
/// beside it, the manifest last, so that it never lists a file not yet in place), and
/// deletes what the previous output has and this one does not. [`UPDATING_FILE`] marks the
/// whole move.
fn update_in_place(staging: &Staging, output: &Output, beside: &[(String, Vec<u8>)]) -> Result<(), Error> {
    let out = &staging.out;
    let marker = out.join(UPDATING_FILE);
    fs::write(&marker, UPDATING_TEXT).map_err(|err| Error::io(&marker, err))?;
    let mut made = HashSet::new();
    let mut move_in = |from: PathBuf, to: PathBuf| -> Result<(), Error> {
        if let Some(folder) = to.parent()
            && made.insert(folder.to_path_buf())
        {
            fs::create_dir_all(folder).map_err(|err| Error::io(folder, err))?;
        }
        fs::rename(&from, &to).map_err(|err| Error::io(&to, err))
    };

    // What the build no longer makes goes first, so that a file may become a folder of the
    // same name, or a folder a file.
    let public = out.join(PUBLIC_DIR);
    let gone: Vec<&String> = staging.in_place.files.keys().filter(|rel| !output.contains(rel)).collect();
    for rel in &gone {
        let path = in_folder(&public, rel);
        match fs::remove_file(&path) {
            Err(err) if err.kind() != io::ErrorKind::NotFound => return Err(Error::io(&path, err)),
            _ => {}
        }
    }
    // Folders the deleted files leave empty go too, deepest first, as a swap would not
    // have made them; a folder still holding something is kept.
    let emptied: BTreeSet<(std::cmp::Reverse<usize>, &Path)> = gone
        .iter()
        .filter_map(|rel| Path::new(rel.as_str()).parent())
        .flat_map(Path::ancestors)
        .filter(|folder| !folder.as_os_str().is_empty())
        .map(|folder| (std::cmp::Reverse(folder.components().count()), folder))
        .collect();
    for (_, folder) in emptied {
        let path = public.join(folder);
        match fs::remove_dir(&path) {
            Err(err) if !matches!(err.kind(), io::ErrorKind::DirectoryNotEmpty | io::ErrorKind::NotFound) => {
                return Err(Error::io(&path, err));
            }
            _ => {}
        }
    }
    // A set: the `Spool` contract allows a path to be put twice, and it is moved in once.
    let staged: BTreeSet<String> = std::mem::take(&mut *lock(&staging.staged)).into_iter().collect();
    for rel in &staged {
        move_in(in_folder(&staging.public(), rel), in_folder(&public, rel))?;
    }

    // Beside `public/`: everything but the markers and the files about to be replaced by
    // rename is deleted (a folder of purge files is replaced whole); then the new files
    // move in.
    let replaced: HashSet<&str> =
        beside.iter().map(|(rel, _)| rel.as_str()).filter(|rel| !rel.contains('/')).collect();
    for entry in fs::read_dir(out).map_err(|err| Error::io(out, err))? {
        let entry = entry.map_err(|err| Error::io(out, err))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if [PUBLIC_DIR, MARKER_FILE, UPDATING_FILE].contains(&name.as_str())
            || replaced.contains(name.as_str())
        {
            continue;
        }
        let path = entry.path();
        let removed = if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
        removed.map_err(|err| Error::io(&path, err))?;
    }
    for (rel, _) in beside {
        move_in(in_folder(staging.dir.path(), rel), in_folder(out, rel))?;
    }
    fs::remove_file(&marker).map_err(|err| Error::io(&marker, err))
}

/// `rel` (`/`-separated) inside `folder`.
fn in_folder(folder: &Path, rel: &str) -> PathBuf {
    rel.split('/').fold(folder.to_path_buf(), |path, part| path.join(part))
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The previous output's upload root, and what its manifest says it holds.
struct InPlace {
    public: PathBuf,
    /// Upload-root path → (SHA-256, size).
    files: BTreeMap<String, (String, u64)>,
}

impl InPlace {
    /// Links the previous output's copy of `rel` to `to`, if the manifest lists it with these
    /// bytes and it is there with their size; `false` when the file must be written instead.
    fn link(&self, rel: &str, digest: &Digest, to: &Path) -> bool {
        self.holds(rel, digest).is_some_and(|from| fs::hard_link(&from, to).is_ok())
    }

    /// The previous output's copy of `rel`, if the manifest lists it with these bytes and it
    /// is there with their size.
    fn holds(&self, rel: &str, digest: &Digest) -> Option<PathBuf> {
        let (sha256, size) = self.files.get(rel)?;
        if *sha256 != digest.sha256 || *size != digest.size {
            return None;
        }
        let from = in_folder(&self.public, rel);
        fs::symlink_metadata(&from).is_ok_and(|meta| meta.is_file() && meta.len() == *size).then_some(from)
    }
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
pub(crate) struct Recovered {
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

    /// Writes `output` as a build would, the previous output holding `previous` (path, text)
    /// by its manifest.
    fn write(
        output: &Output,
        out: &Path,
        beside: &[(String, Vec<u8>)],
        previous: &[(&str, &str)],
    ) -> Result<WriteReport, Error> {
        all(staging(out, previous), output, beside)
    }

    #[test]
    fn a_write_that_fails_midway_leaves_the_previous_output_and_no_staging() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("dist");
        write(&output(&[("index.html", "old")]), &out, &[("manifest.json".into(), b"{}".to_vec())], &[])
            .unwrap();
        // `index.html` is written first; then `index.html/x` cannot be, under a file.
        let broken = output(&[("index.html", "new"), ("index.html/x", "unwritable")]);
        match write(&broken, &out, &[], &[]) {
            Err(Error::Io { path, .. }) => {
                assert!(path.starts_with(&out), "{path:?} is not where the file was going")
            }
            other => panic!("expected an I/O error, got {other:?}"),
        }
        assert_eq!(fs::read_to_string(out.join("public/index.html")).unwrap(), "old");
        assert_eq!(fs::read_to_string(out.join("manifest.json")).unwrap(), "{}");
        let names = names(dir.path());
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
        write(&output(&[("index.html", "x")]), &out, &[], &[]).unwrap();
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
        write(&output(&[("index.html", "old"), ("gone.html", "x")]), &out, &[], &[]).unwrap();
        let before = fs::metadata(&out).unwrap();
        write(&output(&[("index.html", "new")]), &out, &[], &[]).unwrap();
        assert_eq!(fs::read_to_string(out.join("public/index.html")).unwrap(), "new");
        assert!(!out.join("public/gone.html").exists());
        use std::os::unix::fs::MetadataExt;
        assert_ne!(before.ino(), fs::metadata(&out).unwrap().ino(), "the folder itself is replaced");
        let names = names(dir.path());
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
        let names = names(dir.path());
        assert_eq!(names, [".dist.staging-mine", ".other.staging-x", "dist"], "someone else's folders stay");
        assert_eq!(recover(&out).unwrap(), Recovered::default());
    }

    #[test]
    fn unchanged_files_are_linked_from_the_previous_output_and_the_rest_written() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("dist");
        let files = [("same.html", "same"), ("edited.html", "before"), ("resized.html", "abc")];
        write(&output(&files), &out, &[], &[]).unwrap();
        let inode = |rel: &str| fs::metadata(out.join(PUBLIC_DIR).join(rel)).unwrap().ino();
        let before: Vec<u64> = files.iter().map(|(rel, _)| inode(rel)).collect();
        // `resized.html` was changed on disk since its manifest was written.
        fs::write(out.join("public/resized.html"), "abcdef").unwrap();
        let next = [("same.html", "same"), ("edited.html", "after"), ("resized.html", "abc")];
        let report = write(&output(&next), &out, &[], &files).unwrap();
        assert_eq!((report.files, report.kept), (3, 1));
        assert_eq!(inode("same.html"), before[0], "kept, not written");
        assert_ne!(inode("edited.html"), before[1]);
        for (rel, text) in next {
            assert_eq!(fs::read_to_string(out.join(PUBLIC_DIR).join(rel)).unwrap(), text, "{rel}");
        }
    }

    /// Every file under `folder`, by `/`-separated path, with its text.
    fn tree(folder: &Path) -> BTreeMap<String, String> {
        walkdir::WalkDir::new(folder)
            .into_iter()
            .map(Result::unwrap)
            .filter(|entry| entry.file_type().is_file())
            .map(|entry| {
                let rel = entry.path().strip_prefix(folder).unwrap().to_string_lossy().replace('\\', "/");
                (rel, fs::read_to_string(entry.path()).unwrap())
            })
            .collect()
    }

    /// `serve`'s update gives exactly the folder a swap gives, touching only what changed.
    #[test]
    fn an_update_in_place_gives_what_a_swap_gives_and_leaves_unchanged_files_alone() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let (out, swapped) = (dir.path().join("dist"), dir.path().join("swapped"));
        let first = [("same.html", "same"), ("edited.html", "before"), ("gone/a/index.html", "gone")];
        let first_beside =
            [("purge/old.txt".to_owned(), b"/old/".to_vec()), ("manifest.json".into(), b"1".to_vec())];
        write(&output(&first), &out, &first_beside, &[]).unwrap();
        fs::create_dir(out.join("public/gone/kept")).unwrap();
        let inode = |rel: &str| fs::metadata(out.join(PUBLIC_DIR).join(rel)).unwrap().ino();
        let same_inode = inode("same.html");

        let next = [("same.html", "same"), ("edited.html", "after"), ("new/deep/index.html", "new")];
        let next_beside =
            [("purge/new.txt".to_owned(), b"/new/".to_vec()), ("manifest.json".into(), b"2".to_vec())];
        let staging = Staging::begin(&out, listing(&first), Commit::Update).unwrap();
        assert_eq!(staging.commit, Commit::Update);
        let report = all(staging, &output(&next), &next_beside).unwrap();
        assert_eq!((report.files, report.kept), (3, 1));
        assert_eq!(inode("same.html"), same_inode, "an unchanged file is not touched");

        write(&output(&next), &swapped, &next_beside, &[]).unwrap();
        assert_eq!(tree(&out), tree(&swapped), "the update differs from a swap");
        assert!(out.join("public/gone/kept").is_dir(), "a folder still holding something is kept");
        assert!(!out.join("public/gone/a").exists(), "a folder its deleted files left empty is not");
        let leftovers: Vec<String> =
            names(dir.path()).into_iter().filter(|name| name.starts_with('.')).collect();
        assert_eq!(leftovers, Vec::<String>::new(), "the staging folder is left behind");
    }

    /// A killed update leaves its marker; the next build trusts nothing in the output.
    #[test]
    fn after_an_interrupted_update_the_next_build_replaces_the_output_whole() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("dist");
        let files = [("index.html", "new"), ("a.html", "a")];
        write(&output(&files), &out, &[], &[]).unwrap();
        // Killed after moving a changed `index.html` in, before the manifest: it lists "old".
        fs::write(out.join(UPDATING_FILE), "").unwrap();
        let listed = listing(&[("index.html", "old"), ("a.html", "a")]);
        let staging = Staging::begin(&out, listed, Commit::Update).unwrap();
        assert_eq!(staging.commit, Commit::Swap);
        assert!(staging.in_place.files.is_empty(), "nothing of the interrupted output is kept");
        let report = all(staging, &output(&[("index.html", "old"), ("a.html", "a")]), &[]).unwrap();
        assert_eq!(report.kept, 0);
        assert_eq!(fs::read_to_string(out.join("public/index.html")).unwrap(), "old");
        assert!(!out.join(UPDATING_FILE).exists());
    }

    /// Without a previous output to update, an update is a swap.
    #[test]
    fn an_update_without_a_previous_output_is_a_swap() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("dist");
        let staging = Staging::begin(&out, BTreeMap::new(), Commit::Update).unwrap();
        assert_eq!(staging.commit, Commit::Swap);
        all(staging, &output(&[("index.html", "x")]), &[]).unwrap();
        assert!(out.join(MARKER_FILE).is_file());
    }

    /// Spooled files (image variants) are in the output without being in memory at the end,
    /// and are linked from the previous output like any other file.
    #[test]
    fn spooled_files_are_part_of_the_output() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("dist");
        let spooled = |previous: &[(&str, &str)]| {
            let staging = staging(&out, previous);
            let mut output = output(&[("index.html", "page")]);
            for (rel, text) in [("_img/a-1.avif", "avif"), ("_img/a-1.webp", "webp")] {
                let digest = Digest::of(text.as_bytes());
                staging.put(rel, text.as_bytes(), &digest);
                output.insert(rel.to_owned(), Artifact::spooled(digest, rel, CacheClass::Immutable, &[]));
            }
            all(staging, &output, &[]).unwrap()
        };
        let report = spooled(&[]);
        assert_eq!((report.files, report.bytes, report.kept), (3, 12, 0));
        assert_eq!(fs::read_to_string(out.join("public/_img/a-1.webp")).unwrap(), "webp");
        let inode = fs::metadata(out.join("public/_img/a-1.avif")).unwrap().ino();
        let report = spooled(&[("_img/a-1.avif", "avif")]);
        assert_eq!(report.kept, 1);
        assert_eq!(fs::metadata(out.join("public/_img/a-1.avif")).unwrap().ino(), inode);
        assert_eq!(fs::read_to_string(out.join("public/_img/a-1.avif")).unwrap(), "avif");
    }

    /// A file the image stage could not put (a full disk, say) fails the write, named at its
    /// place in `<out>`, and the previous output stays.
    #[test]
    fn a_spooled_file_that_could_not_be_put_fails_the_build_and_keeps_the_previous_output() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("dist");
        write(&output(&[("index.html", "old")]), &out, &[], &[]).unwrap();
        let staging = staging(&out, &[]);
        // A file where the image folder should be: every put into it fails.
        fs::write(staging.public().join("_img"), "not a folder").unwrap();
        let digest = Digest::of(b"avif");
        staging.put("_img/a-1.avif", b"avif", &digest);
        let mut next = output(&[("index.html", "new")]);
        next.insert(
            "_img/a-1.avif".to_owned(),
            Artifact::spooled(digest, "_img/a-1.avif", CacheClass::Immutable, &[]),
        );
        match all(staging, &next, &[]) {
            Err(Error::Io { path, .. }) => assert!(path.starts_with(out.join("public/_img")), "{path:?}"),
            other => panic!("expected an I/O error, got {other:?}"),
        }
        assert_eq!(fs::read_to_string(out.join("public/index.html")).unwrap(), "old");
        let names = names(dir.path());
        assert_eq!(names, ["dist"], "the staging folder is left behind");
    }

    /// The names in `dir`, sorted.
    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    fn staging(out: &Path, previous: &[(&str, &str)]) -> Staging {
        Staging::begin(out, listing(previous), Commit::Swap).unwrap()
    }

    /// What a manifest listing these (path, text) files says.
    fn listing(files: &[(&str, &str)]) -> BTreeMap<String, (String, u64)> {
        files
            .iter()
            .map(|(rel, text)| {
                let digest = Digest::of(text.as_bytes());
                ((*rel).to_owned(), (digest.sha256, digest.size))
            })
            .collect()
    }
}
