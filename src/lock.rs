//! Advisory locks: one build writes an output folder at a time, and `dropgen cache gc` never
//! deletes entries under a build that shares its cache.
//!
//! The locks are the operating system's (`flock` on Unix, through `std::fs::File::lock`):
//! released when the process ends however it ends, so a killed build never leaves a stale
//! lock behind. They are advisory: only dropgen honours them.
//!
//! - The output lock is a file beside `<out>` (`.<name>.lock`), not inside it, because the
//!   folder itself is swapped out by every build. `build` and `serve`'s rebuilds hold it
//!   exclusively from before they look at `<out>` until the new output is in place.
//! - The cache lock is `dropgen.lock` inside the cache folder. Builds hold it shared (any
//!   number of builds may read and add entries at once: every entry is written whole and
//!   renamed into place), `cache gc` exclusively.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::progress::Progress;

/// What to do when another dropgen holds the lock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Contention {
    /// Wait for it, saying so.
    #[default]
    Wait,
    /// Fail at once (`--no-wait`).
    Fail,
}

/// The cache lock's file name, inside the cache folder.
pub(crate) const CACHE_LOCK_FILE: &str = "dropgen.lock";

/// A held lock; released when dropped.
#[derive(Debug)]
pub(crate) struct Held {
    _file: File,
}

/// The lock file guarding `out`: `.<name>.lock` in the same folder.
pub(crate) fn output_lock_path(out: &Path) -> PathBuf {
    let name = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "dist".to_owned());
    out.with_file_name(format!(".{name}.lock"))
}

/// Takes the output folder's lock, so no other build or `serve` writes `out` meanwhile.
pub(crate) fn output(out: &Path, contention: Contention, progress: &dyn Progress) -> Result<Held, Error> {
    let path = output_lock_path(out);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|err| Error::io(parent, err))?;
    }
    let what = format!("the output folder `{}`", out.display());
    acquire(&path, Mode::Exclusive, contention, &what, progress)
}

/// Takes the cache lock shared, as every build does. When no one else holds it, temporary
/// files that killed builds left in `cache` are deleted first (`sweep` runs under the lock
/// held exclusively, so no live build's half-written entry is among them).
pub(crate) fn cache_for_build(
    cache: &Path,
    contention: Contention,
    progress: &dyn Progress,
    sweep: impl FnOnce(),
) -> Result<Held, Error> {
    let path = cache_lock_path(cache)?;
    let file = open(&path)?;
    if file.try_lock().is_ok() {
        sweep();
        file.unlock().map_err(|err| Error::io(&path, err))?;
    }
    drop(file);
    let what = format!("the cache `{}`", cache.display());
    acquire(&path, Mode::Shared, contention, &what, progress)
}

/// Takes the cache lock exclusively, for `cache gc`.
pub(crate) fn cache_exclusive(
    cache: &Path,
    contention: Contention,
    progress: &dyn Progress,
) -> Result<Held, Error> {
    let path = cache_lock_path(cache)?;
    let what = format!("the cache `{}`", cache.display());
    acquire(&path, Mode::Exclusive, contention, &what, progress)
}

fn cache_lock_path(cache: &Path) -> Result<PathBuf, Error> {
    fs::create_dir_all(cache).map_err(|err| Error::io(cache, err))?;
    Ok(cache.join(CACHE_LOCK_FILE))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Shared,
    Exclusive,
}

fn open(path: &Path) -> Result<File, Error> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|err| Error::io(path, err))
}

fn acquire(
    path: &Path,
    mode: Mode,
    contention: Contention,
    what: &str,
    progress: &dyn Progress,
) -> Result<Held, Error> {
    let mut file = open(path)?;
    let tried = match mode {
        Mode::Shared => file.try_lock_shared(),
        Mode::Exclusive => file.try_lock(),
    };
    match tried {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let holder = holder(&mut file);
            if contention == Contention::Fail {
                return Err(Error::Busy { what: what.to_owned(), holder, lock: path.to_path_buf() });
            }
            progress
                .waiting(&format!("waiting for {holder} to finish with {what} (--no-wait fails instead)"));
            let locked = match mode {
                Mode::Shared => file.lock_shared(),
                Mode::Exclusive => file.lock(),
            };
            locked.map_err(|err| Error::io(path, err))?;
        }
        // A file system without locks (some network mounts): building unguarded is what
        // dropgen did before it had locks, and refusing would leave such users no way to build.
        Err(TryLockError::Error(err)) if err.kind() == io::ErrorKind::Unsupported => {
            progress.waiting(&format!(
                "warning: `{}` cannot be locked ({err}); building without a lock",
                path.display()
            ));
        }
        Err(TryLockError::Error(err)) => return Err(Error::io(path, err)),
    }
    if mode == Mode::Exclusive {
        // Who holds it, for the message another dropgen prints while it waits.
        let _ = record_holder(&mut file);
    }
    Ok(Held { _file: file })
}

fn record_holder(file: &mut File) -> io::Result<()> {
    file.set_len(0)?;
    file.rewind()?;
    write!(file, "dropgen (process {})", std::process::id())
}

/// Who holds an exclusive lock, as its holder recorded it; shared holders record nothing.
fn holder(file: &mut File) -> String {
    let mut text = String::new();
    let _ = file.rewind().and_then(|()| file.take(200).read_to_string(&mut text));
    let text = text.trim();
    if text.starts_with("dropgen (process ") { text.to_owned() } else { "another dropgen".to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::Silent;

    #[test]
    fn a_second_writer_fails_with_no_wait_and_gets_in_once_the_first_is_done() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("dist");
        let first = output(&out, Contention::Fail, &Silent).unwrap();
        let err = output(&out, Contention::Fail, &Silent).unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, Error::Busy { .. }), "{err:?}");
        assert!(message.contains(&format!("process {}", std::process::id())), "{message}");
        assert!(message.contains("dist"), "{message}");
        drop(first);
        output(&out, Contention::Fail, &Silent).unwrap();
        assert_eq!(output_lock_path(&out), dir.path().join(".dist.lock"));
    }

    #[test]
    fn builds_share_the_cache_and_gc_waits_for_them() {
        let dir = tempfile::tempdir().unwrap();
        let mut swept = 0;
        let one = cache_for_build(dir.path(), Contention::Fail, &Silent, || swept += 1).unwrap();
        let two = cache_for_build(dir.path(), Contention::Fail, &Silent, || swept += 1).unwrap();
        assert_eq!(swept, 1, "only a build alone with the cache sweeps it");
        assert!(matches!(cache_exclusive(dir.path(), Contention::Fail, &Silent), Err(Error::Busy { .. })));
        drop((one, two));
        let gc = cache_exclusive(dir.path(), Contention::Fail, &Silent).unwrap();
        let blocked = cache_for_build(dir.path(), Contention::Fail, &Silent, || swept += 1);
        assert!(matches!(blocked, Err(Error::Busy { .. })), "a build must not run under gc");
        drop(gc);
    }

    #[test]
    fn a_waiting_writer_says_so_and_proceeds_when_the_holder_lets_go() {
        struct Notes(std::sync::Mutex<Vec<String>>);
        impl Progress for Notes {
            fn start(&self, _: &'static str, _: u64) {}
            fn advance(&self, _: u64) {}
            fn finish(&self) {}
            fn waiting(&self, message: &str) {
                self.0.lock().unwrap().push(message.to_owned());
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("dist");
        let first = output(&out, Contention::Wait, &Silent).unwrap();
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(200));
            drop(first);
        });
        let notes = Notes(std::sync::Mutex::new(Vec::new()));
        output(&out, Contention::Wait, &notes).unwrap();
        releaser.join().unwrap();
        let notes = notes.0.into_inner().unwrap();
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].starts_with("waiting for dropgen (process "), "{notes:?}");
    }
}
