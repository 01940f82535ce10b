//! The persistent cache of derived bytes: encoded image variants and source analyses, and the
//! precompressed copies of text files, each addressed by a hash of everything that decides
//! its bytes, kept outside the output folder so CI can save and restore it.
//!
//! An entry is its payload followed by a trailer (a magic string and the payload's SHA-256),
//! written to a temporary file and renamed into place, so a reader sees a whole entry or
//! none. An entry whose trailer does not match (truncated, bit-rotted, written by something
//! else) is deleted and reported as a miss, never served.
//!
//! Images and compressed copies live in folders of their own (`Kind`), so `gc` can keep
//! each by what still uses it.

use std::collections::BTreeSet;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use walkdir::WalkDir;

/// The cache folder a site uses when none is given.
pub const DEFAULT_DIR: &str = ".dropgen-cache";

/// Refuses a cache folder inside the output folder `out`, which every build replaces.
pub(crate) fn check_outside(cache: &Path, out: &Path) -> Result<(), crate::error::Error> {
    let (Ok(cache), Ok(out)) = (std::path::absolute(cache), std::path::absolute(out)) else { return Ok(()) };
    if !cache.starts_with(&out) {
        return Ok(());
    }
    Err(crate::error::Error::Usage(format!(
        "the image cache `{}` is inside the output folder `{}`, which every build replaces; \
         give `--cache-dir` (or DROPGEN_CACHE_DIR) a folder outside it",
        cache.display(),
        out.display()
    )))
}

/// What a cache folder holds. Entries live under a folder named after the kind and its
/// layout version, so a future layout starts empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Image variants and source analyses (`v1/`).
    Images,
    /// `.br` and `.gz` copies of text files (`compressed-v1/`).
    Compressed,
}

impl Kind {
    /// The folders of this kind's layouts are this prefix and a number.
    fn prefix(self) -> &'static str {
        match self {
            Kind::Images => "v",
            Kind::Compressed => "compressed-v",
        }
    }
}

/// The layout version, in the folder name after the kind's prefix.
const LAYOUT: &str = "1";
const MAGIC: &[u8; 16] = b"dropgen-cache-v1";
const TRAILER: usize = MAGIC.len() + 32;
const TEMP_PREFIX: &str = ".tmp-";

/// An open cache folder, counting the damaged entries it found.
#[derive(Debug)]
pub(crate) struct Cache {
    dir: PathBuf,
    kind: Kind,
    corrupt: AtomicU64,
}

/// What one build did with the cache, counted in image variants.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheCounts {
    /// Variants read from the cache.
    pub hits: u64,
    /// Variants that had to be encoded.
    pub misses: u64,
    /// Entries found damaged, deleted and rebuilt.
    pub corrupt: u64,
}

/// What `dropgen cache gc` removed and kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GcReport {
    pub removed: u64,
    pub removed_bytes: u64,
    pub kept: u64,
    pub kept_bytes: u64,
}

impl Cache {
    /// Opens (creating if needed) the image cache at `dir`.
    pub(crate) fn open(dir: &Path) -> io::Result<Cache> {
        Cache::open_kind(dir, Kind::Images)
    }

    /// Opens (creating if needed) the cache of `kind` at `dir`.
    pub(crate) fn open_kind(dir: &Path, kind: Kind) -> io::Result<Cache> {
        let dir = dir.join(format!("{}{LAYOUT}", kind.prefix()));
        fs::create_dir_all(&dir)?;
        Ok(Cache { dir, kind, corrupt: AtomicU64::new(0) })
    }

    fn path(&self, key: &str) -> PathBuf {
        let shard = key.get(..2).unwrap_or("00");
        self.dir.join(shard).join(key)
    }

    /// The payload stored under `key`, if a whole and undamaged entry is there.
    pub(crate) fn get(&self, key: &str) -> Option<Vec<u8>> {
        let path = self.path(key);
        let mut bytes = fs::read(&path).ok()?;
        if let Some(payload_len) = verified_len(&bytes) {
            bytes.truncate(payload_len);
            Some(bytes)
        } else {
            // Damaged: remove it so the rebuilt entry can take its place.
            let _ = fs::remove_file(&path);
            self.corrupt.fetch_add(1, Ordering::Relaxed);
            None
        }
    }

    /// Stores `payload` under `key`, atomically. A failure to write only costs a future miss,
    /// so callers may ignore it.
    pub(crate) fn put(&self, key: &str, payload: &[u8]) -> io::Result<()> {
        let path = self.path(key);
        let shard = path.parent().unwrap_or(&self.dir);
        fs::create_dir_all(shard)?;
        let mut file = tempfile::Builder::new().prefix(TEMP_PREFIX).tempfile_in(shard)?;
        file.write_all(payload)?;
        file.write_all(MAGIC)?;
        file.write_all(&Sha256::digest(payload))?;
        // No fsync: an entry torn by a crash fails its checksum and is rebuilt, which is
        // cheaper than syncing every variant of every build.
        file.persist(&path).map_err(|err| err.error)?;
        Ok(())
    }

    /// Damaged entries found so far.
    pub(crate) fn corrupt(&self) -> u64 {
        self.corrupt.load(Ordering::Relaxed)
    }

    /// Deletes every entry whose key is not in `keep`, leftover temporary files, and folders of
    /// this kind's other layouts (`v<number>` for images). Nothing else is touched, so a cache
    /// folder pointed at a shared place (`--cache-dir ~/.cache`) loses nothing of anyone
    /// else's.
    pub(crate) fn gc(&self, keep: &BTreeSet<String>) -> io::Result<GcReport> {
        let mut report = GcReport::default();
        let root = self.dir.parent().unwrap_or(&self.dir);
        for entry in fs::read_dir(root)? {
            let entry = entry?;
            let name = entry.file_name();
            let other_layout = self.dir.file_name() != Some(name.as_os_str())
                && is_layout_name(&name.to_string_lossy(), self.kind.prefix());
            if other_layout && entry.file_type()?.is_dir() {
                for file in WalkDir::new(entry.path()).into_iter().filter_map(Result::ok) {
                    if file.file_type().is_file() {
                        report.removed += 1;
                        report.removed_bytes += file.metadata().map_or(0, |m| m.len());
                    }
                }
                fs::remove_dir_all(entry.path())?;
            }
        }
        for file in WalkDir::new(&self.dir).min_depth(2).max_depth(2).into_iter().filter_map(Result::ok) {
            if !file.file_type().is_file() {
                continue;
            }
            let size = file.metadata().map_or(0, |m| m.len());
            let name = file.file_name().to_string_lossy();
            if !is_entry_name(&name) {
                continue;
            }
            if keep.contains(name.as_ref()) {
                report.kept += 1;
                report.kept_bytes += size;
            } else {
                fs::remove_file(file.path())?;
                report.removed += 1;
                report.removed_bytes += size;
            }
        }
        Ok(report)
    }
}

/// `v1`, `v2`, … (for `prefix` `v`): the folders a kind's layouts use.
fn is_layout_name(name: &str, prefix: &str) -> bool {
    name.strip_prefix(prefix).is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// A key (64 hex digits) or one of this cache's temporary files.
fn is_entry_name(name: &str) -> bool {
    name.starts_with(TEMP_PREFIX) || (name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The payload's length, if the entry ends with a matching trailer.
fn verified_len(entry: &[u8]) -> Option<usize> {
    let payload_len = entry.len().checked_sub(TRAILER)?;
    let (payload, trailer) = entry.split_at(payload_len);
    let (magic, digest) = trailer.split_at(MAGIC.len());
    (magic == MAGIC && digest == Sha256::digest(payload).as_slice()).then_some(payload_len)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "ab0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd";

    #[test]
    fn stores_and_returns_payloads() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        assert_eq!(cache.get(KEY), None);
        cache.put(KEY, b"variant bytes").unwrap();
        assert_eq!(cache.get(KEY).as_deref(), Some(&b"variant bytes"[..]));
        assert_eq!(cache.corrupt(), 0);
    }

    #[test]
    fn damaged_entries_are_detected_deleted_and_never_served() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        cache.put(KEY, b"0123456789 a whole entry").unwrap();
        let path = cache.path(KEY);
        let whole = fs::read(&path).unwrap();
        let mut flipped = whole.clone();
        flipped[3] ^= 1;
        for damaged in [whole[..whole.len() - 1].to_vec(), whole[..10].to_vec(), Vec::new(), flipped] {
            fs::write(&path, &damaged).unwrap();
            assert_eq!(cache.get(KEY), None);
            assert!(!path.exists(), "a damaged entry was left in place");
        }
        assert_eq!(cache.corrupt(), 4);
    }

    #[test]
    fn gc_keeps_only_what_is_still_referenced() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let other = KEY.replace("ab", "cd");
        cache.put(KEY, b"kept").unwrap();
        cache.put(&other, b"stale").unwrap();
        fs::create_dir_all(dir.path().join("v0/aa")).unwrap();
        fs::write(dir.path().join("v0/aa/old"), b"old layout").unwrap();
        let report = cache.gc(&BTreeSet::from([KEY.to_owned()])).unwrap();
        assert_eq!((report.kept, report.removed), (1, 2));
        assert!(cache.get(KEY).is_some() && cache.get(&other).is_none());
        assert!(!dir.path().join("v0").exists());
    }

    #[test]
    fn kinds_are_kept_apart() {
        let dir = tempfile::tempdir().unwrap();
        let images = Cache::open(dir.path()).unwrap();
        let compressed = Cache::open_kind(dir.path(), Kind::Compressed).unwrap();
        images.put(KEY, b"variant").unwrap();
        compressed.put(KEY, b"brotli").unwrap();
        assert_eq!(images.get(KEY).as_deref(), Some(&b"variant"[..]));
        assert_eq!(compressed.get(KEY).as_deref(), Some(&b"brotli"[..]));
        // Collecting one kind leaves the other alone, old layouts included.
        fs::create_dir_all(dir.path().join("compressed-v0")).unwrap();
        assert_eq!(images.gc(&BTreeSet::new()).unwrap().removed, 1);
        assert_eq!(compressed.get(KEY).as_deref(), Some(&b"brotli"[..]));
        assert!(dir.path().join("compressed-v0").exists());
        assert_eq!(compressed.gc(&BTreeSet::new()).unwrap().removed, 1);
        assert!(!dir.path().join("compressed-v0").exists());
    }

    #[test]
    fn gc_touches_nothing_but_its_own_entries() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        for path in ["drops/a/drop.yaml", "notes.txt", "v1/ab/README", "v1-old/ab/x", "vendor/x"] {
            let path = dir.path().join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, b"someone else's").unwrap();
        }
        let report = cache.gc(&BTreeSet::new()).unwrap();
        assert_eq!((report.kept, report.removed), (0, 0));
        for path in ["drops/a/drop.yaml", "notes.txt", "v1/ab/README", "v1-old/ab/x", "vendor/x"] {
            assert!(dir.path().join(path).exists(), "gc removed {path}");
        }
    }
}
