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
//!
//! The cache is a local folder or a prefix in S3-compatible object storage ([`Location`],
//! `--cache-dir s3://bucket/prefix`, in [`s3`]), opened once per build as a `Store`; both
//! keep the same entries under the same keys (`v1/ab/<key>`), behind the same `get`, `put`
//! and `gc`. Folders are locked against `cache gc` (`crate::lock`) and swept of killed
//! builds' temporary files; object storage needs neither (a PUT is atomic), and has no locks.

pub(crate) mod s3;

use std::collections::BTreeSet;
use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
#[cfg(feature = "s3")]
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use walkdir::WalkDir;

/// The cache folder a site uses when none is given.
pub(crate) const DEFAULT_DIR: &str = ".dropgen-cache";

/// Where the cache is: `--cache-dir` (or `DROPGEN_CACHE_DIR`) parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Location {
    /// A local folder.
    Dir(PathBuf),
    /// A bucket and key prefix in S3-compatible object storage (`s3://bucket/prefix`).
    S3(s3::Url),
}

impl Location {
    /// `s3://bucket/prefix` is object storage; anything else is a folder, as it always was.
    /// Another URL scheme (`gs://`, `https://`) is refused rather than taken for a folder name.
    pub(crate) fn parse(text: &Path) -> Result<Location, crate::error::Error> {
        let Some(text) = text.to_str() else { return Ok(Location::Dir(text.to_path_buf())) };
        let scheme = text.split_once("://").map(|(scheme, _)| scheme).filter(|scheme| {
            scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        });
        match scheme {
            None => Ok(Location::Dir(PathBuf::from(text))),
            Some(scheme) if scheme.eq_ignore_ascii_case("s3") => {
                s3::Url::parse(text).map(Location::S3).map_err(|err| {
                    crate::error::Error::Usage(format!("--cache-dir (or DROPGEN_CACHE_DIR) {err}"))
                })
            }
            Some(_) => Err(crate::error::Error::Usage(format!(
                "--cache-dir (or DROPGEN_CACHE_DIR) `{text}`: the cache is a folder or an \
                 s3://bucket/prefix URL (S3 or an S3-compatible store); no other URL scheme is supported"
            ))),
        }
    }

    /// The error for a cache operation that failed with `err`, naming the folder or URL.
    pub(crate) fn error(&self, err: io::Error) -> crate::error::Error {
        match self {
            Location::Dir(dir) => crate::error::Error::io(dir, err),
            Location::S3(url) => {
                crate::error::Error::ObjectStore { url: url.to_string(), reason: format!("failed: {err}") }
            }
        }
    }
}

impl From<PathBuf> for Location {
    fn from(dir: PathBuf) -> Location {
        Location::Dir(dir)
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Dir(dir) => write!(f, "{}", dir.display()),
            Location::S3(url) => write!(f, "{url}"),
        }
    }
}

/// An opened cache [`Location`], from which each kind's [`Cache`] is opened: the folder, or
/// one connection to the bucket shared by both kinds.
#[derive(Clone, Debug)]
pub(crate) enum Store {
    Dir(PathBuf),
    #[cfg(feature = "s3")]
    S3(Arc<s3::Bucket>),
}

impl Store {
    /// Opens the cache at `location`. A bucket that cannot be reached is an error here, at
    /// the start of the build, naming the URL and where the connection's settings come from.
    pub(crate) fn open(location: &Location) -> Result<Store, crate::error::Error> {
        match location {
            Location::Dir(dir) => Ok(Store::Dir(dir.clone())),
            #[cfg(not(feature = "s3"))]
            Location::S3(url) => Err(crate::error::Error::ObjectStore {
                url: url.to_string(),
                reason: "this dropgen was built without its `s3` feature: build it with the default features"
                    .to_owned(),
            }),
            #[cfg(feature = "s3")]
            Location::S3(url) => {
                s3::Bucket::connect(url).map(|bucket| Store::S3(Arc::new(bucket))).map_err(|reason| {
                    crate::error::Error::ObjectStore {
                        url: url.to_string(),
                        reason: format!("cannot be reached: {reason}"),
                    }
                })
            }
        }
    }

    /// The cache of `kind` in this store.
    pub(crate) fn cache(&self, kind: Kind) -> Result<Cache, crate::error::Error> {
        match self {
            Store::Dir(dir) => Cache::open_kind(dir, kind).map_err(|err| crate::error::Error::io(dir, err)),
            #[cfg(feature = "s3")]
            Store::S3(bucket) => Ok(Cache::new(Backend::S3(Arc::clone(bucket)), kind)),
        }
    }
}

/// Refuses a cache folder inside the output folder `out`, which every build replaces.
pub(crate) fn check_outside(cache: &Location, out: &Path) -> Result<(), crate::error::Error> {
    let Location::Dir(cache) = cache else { return Ok(()) };
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

    /// The folder of the current layout (`v1`).
    fn layout(self) -> String {
        format!("{}{LAYOUT}", self.prefix())
    }
}

/// The layout version, in the folder name after the kind's prefix.
const LAYOUT: &str = "1";
const MAGIC: &[u8; 16] = b"dropgen-cache-v1";
const TRAILER: usize = MAGIC.len() + 32;
const TEMP_PREFIX: &str = ".tmp-";

/// An open cache of one kind, counting the damaged entries it found and the reads and writes
/// that failed.
#[derive(Debug)]
pub(crate) struct Cache {
    backend: Backend,
    kind: Kind,
    corrupt: AtomicU64,
    failed_reads: Failures,
    failed_writes: Failures,
}

/// Cache operations that failed: how many, and the first one's error, for [`warnings`].
#[derive(Debug, Default)]
struct Failures {
    count: AtomicU64,
    first: std::sync::Mutex<Option<String>>,
}

impl Failures {
    fn record(&self, err: &dyn std::fmt::Display) {
        if self.count.fetch_add(1, Ordering::Relaxed) == 0 {
            *self.first.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(err.to_string());
        }
    }

    fn so_far(&self) -> Option<(u64, String)> {
        let count = self.count.load(Ordering::Relaxed);
        let first = self.first.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        (count > 0).then(|| (count, first.unwrap_or_default()))
    }
}

/// What one build did with the cache, counted in image variants.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct CacheCounts {
    /// Variants read from the cache.
    pub hits: u64,
    /// Variants that had to be encoded.
    pub misses: u64,
    /// Entries found damaged, deleted and rebuilt.
    pub corrupt: u64,
}

/// What `dropgen cache gc` removed and kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct GcReport {
    pub removed: u64,
    pub removed_bytes: u64,
    pub kept: u64,
    pub kept_bytes: u64,
}

impl Cache {
    /// Opens (creating if needed) the image cache in the folder `dir`.
    #[cfg(test)]
    pub(crate) fn open(dir: &Path) -> io::Result<Cache> {
        Cache::open_kind(dir, Kind::Images)
    }

    /// Opens (creating if needed) the cache of `kind` in the folder `dir`.
    pub(crate) fn open_kind(dir: &Path, kind: Kind) -> io::Result<Cache> {
        let dir = dir.join(kind.layout());
        fs::create_dir_all(&dir)?;
        Ok(Cache::new(Backend::Dir(dir), kind))
    }

    fn new(backend: Backend, kind: Kind) -> Cache {
        Cache {
            backend,
            kind,
            corrupt: AtomicU64::new(0),
            failed_reads: Failures::default(),
            failed_writes: Failures::default(),
        }
    }

    /// The entry's file, in a folder cache.
    #[cfg(test)]
    fn path(&self, key: &str) -> PathBuf {
        match &self.backend {
            Backend::Dir(dir) => entry_path(dir, key),
            #[cfg(feature = "s3")]
            Backend::S3(_) => unreachable!("only folder caches have paths"),
        }
    }

    /// How many reads to have in flight at once, when it is not one per core: object storage
    /// is bound by round trips, not by this machine.
    pub(crate) fn read_concurrency(&self) -> Option<usize> {
        match self.backend {
            Backend::Dir(_) => None,
            #[cfg(feature = "s3")]
            Backend::S3(_) => Some(S3_READS_IN_FLIGHT),
        }
    }

    /// The payload stored under `key`, if a whole and undamaged entry is there. A read that
    /// fails (not an absent entry: a refused permission, a network error) is a miss too, so
    /// the work is done again, and it is counted for [`warnings`].
    pub(crate) fn get(&self, key: &str) -> Option<Vec<u8>> {
        let read = match &self.backend {
            Backend::Dir(dir) => match fs::read(entry_path(dir, key)) {
                Ok(bytes) => Ok(Some(bytes)),
                Err(err) if matches!(err.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory) => {
                    Ok(None)
                }
                Err(err) => Err(err),
            },
            #[cfg(feature = "s3")]
            Backend::S3(bucket) => bucket.get(&bucket.url().entry(&self.kind.layout(), key)),
        };
        let mut bytes = read.unwrap_or_else(|err| {
            self.failed_reads.record(&err);
            None
        })?;
        if let Some(payload_len) = verified_len(&bytes) {
            bytes.truncate(payload_len);
            Some(bytes)
        } else {
            // Damaged: remove it so the rebuilt entry can take its place.
            let _ = match &self.backend {
                Backend::Dir(dir) => fs::remove_file(entry_path(dir, key)),
                #[cfg(feature = "s3")]
                Backend::S3(bucket) => bucket.delete(&bucket.url().entry(&self.kind.layout(), key)),
            };
            self.corrupt.fetch_add(1, Ordering::Relaxed);
            None
        }
    }

    /// Stores `payload` under `key`, atomically. A failure to write (a full disk, a read-only
    /// cache) only costs a future miss, so it does not fail the build: it is counted for
    /// [`warnings`], which tells the user once.
    pub(crate) fn put(&self, key: &str, payload: &[u8]) {
        if let Err(err) = self.try_put(key, payload) {
            self.failed_writes.record(&err);
        }
    }

    // Without the `s3` feature a folder is the only backend.
    #[cfg_attr(not(feature = "s3"), allow(clippy::infallible_destructuring_match))]
    fn try_put(&self, key: &str, payload: &[u8]) -> io::Result<()> {
        let dir = match &self.backend {
            Backend::Dir(dir) => dir,
            #[cfg(feature = "s3")]
            Backend::S3(bucket) => {
                // One PUT of the whole entry: S3 makes it visible whole or not at all.
                let mut entry = Vec::with_capacity(payload.len() + TRAILER);
                entry.extend_from_slice(payload);
                entry.extend_from_slice(MAGIC);
                entry.extend_from_slice(&Sha256::digest(payload));
                return bucket.put(&bucket.url().entry(&self.kind.layout(), key), entry);
            }
        };
        let path = entry_path(dir, key);
        let shard = path.parent().unwrap_or(dir);
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
    ///
    /// In object storage the same objects go, found by listing the prefix. There is no lock
    /// there: run it only when no build or shard uses the prefix.
    #[cfg_attr(not(feature = "s3"), allow(clippy::infallible_destructuring_match))]
    pub(crate) fn gc(&self, keep: &BTreeSet<String>) -> io::Result<GcReport> {
        let dir = match &self.backend {
            Backend::Dir(dir) => dir,
            #[cfg(feature = "s3")]
            Backend::S3(bucket) => return self.gc_bucket(bucket, keep),
        };
        let mut report = GcReport::default();
        let root = dir.parent().unwrap_or(dir);
        for entry in fs::read_dir(root)? {
            let entry = entry?;
            let name = entry.file_name();
            let other_layout = dir.file_name() != Some(name.as_os_str())
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
        for file in WalkDir::new(dir).min_depth(2).max_depth(2).into_iter().filter_map(Result::ok) {
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

    /// [`Cache::gc`] in object storage: the same entries, by their keys under the prefix.
    #[cfg(feature = "s3")]
    fn gc_bucket(&self, bucket: &s3::Bucket, keep: &BTreeSet<String>) -> io::Result<GcReport> {
        let mut report = GcReport::default();
        let layout = self.kind.layout();
        let mut doomed = Vec::new();
        for (path, size) in bucket.list()? {
            let parts = bucket.url().below(&path).unwrap_or_default();
            let removed = match parts.as_slice() {
                [first, ..] if *first != layout && is_layout_name(first, self.kind.prefix()) => true,
                [first, _, name] if *first == layout && is_entry_name(name) => !keep.contains(name),
                _ => continue,
            };
            if removed {
                report.removed += 1;
                report.removed_bytes += size;
                doomed.push(path);
            } else {
                report.kept += 1;
                report.kept_bytes += size;
            }
        }
        bucket.delete_all(doomed)?;
        Ok(report)
    }
}

/// Reads of an `s3://` cache in flight at once: enough to hide round trips, few enough for any
/// S3-compatible server's request rate.
#[cfg(feature = "s3")]
const S3_READS_IN_FLIGHT: usize = 32;

/// Where a cache's entries are: its kind's layout folder (`<cache>/v1`), or the bucket.
#[derive(Debug)]
enum Backend {
    Dir(PathBuf),
    #[cfg(feature = "s3")]
    S3(Arc<s3::Bucket>),
}

/// The file of `key` in the layout folder `dir`.
fn entry_path(dir: &Path, key: &str) -> PathBuf {
    dir.join(shard_of(key)).join(key)
}

/// The subfolder (or key segment) an entry lives under, in a folder and in a bucket alike:
/// the key's first two hex digits, so no folder holds more than a 256th of the entries.
pub(crate) fn shard_of(key: &str) -> &str {
    key.get(..2).unwrap_or("00")
}

/// One warning for every failed read, and one for every failed write, of the caches in
/// `caches` (all at `location`), naming the folder or URL and the first error: the build
/// succeeded, but work was done again (a failed read) or will be next time (a failed write).
pub(crate) fn warnings(location: &self::Location, caches: &[&Cache]) -> Vec<crate::diagnostic::Diagnostic> {
    use crate::diagnostic::{Diagnostic, Kind, Location};
    let warning = |failures: Vec<(u64, String)>, done: &str, help: String| {
        let count: u64 = failures.iter().map(|(count, _)| count).sum();
        let (_, first) = failures.into_iter().next()?;
        let entries = if count == 1 { "entry" } else { "entries" };
        let message = format!("{count} {entries} could not be {done} the cache `{location}`: {first}");
        Some(Diagnostic::warning(Kind::Io, Location::file(location.to_string()), message).help(help))
    };
    let reads = caches.iter().filter_map(|cache| cache.failed_reads.so_far()).collect();
    let writes = caches.iter().filter_map(|cache| cache.failed_writes.so_far()).collect();
    let (read_help, write_help) = match location {
        self::Location::Dir(_) => (
            "the build is complete, and what could not be read was made again; check the cache folder's permissions".to_owned(),
            "the build is complete, but the next one encodes and compresses this work again; free space in the cache folder, or point `--cache-dir` (DROPGEN_CACHE_DIR) at a writable folder".to_owned(),
        ),
        self::Location::S3(_) => (
            format!("the build is complete, and what could not be read was made again; check the network and that the credentials may read the bucket ({})", s3::ENVIRONMENT),
            format!("the build is complete, but the next one encodes and compresses this work again; check that the credentials may write to the bucket ({})", s3::ENVIRONMENT),
        ),
    };
    [warning(reads, "read from", read_help), warning(writes, "written to", write_help)]
        .into_iter()
        .flatten()
        .collect()
}

/// Deletes the temporary files that builds killed mid-write left in the cache at `root`.
/// Only call it holding the cache lock exclusively ([`crate::lock::cache_for_build`]): a live
/// build's half-written entry looks just the same.
pub(crate) fn sweep_temporaries(root: &Path) {
    let Ok(entries) = fs::read_dir(root) else { return };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours = [Kind::Images, Kind::Compressed].iter().any(|kind| is_layout_name(&name, kind.prefix()));
        if !ours || !entry.file_type().is_ok_and(|kind| kind.is_dir()) {
            continue;
        }
        for file in WalkDir::new(entry.path()).min_depth(2).max_depth(2).into_iter().filter_map(Result::ok) {
            if file.file_type().is_file() && file.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                let _ = fs::remove_file(file.path());
            }
        }
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
    fn a_cache_location_is_a_folder_unless_it_is_an_s3_url() {
        for dir in [".dropgen-cache", "/var/cache/dropgen", "s3", "s3:/bucket", "./s3://bucket", "C:\\cache"]
        {
            assert_eq!(Location::parse(Path::new(dir)).unwrap(), Location::Dir(PathBuf::from(dir)), "{dir}");
        }
        let Location::S3(url) = Location::parse(Path::new("s3://shop/ci/cache")).unwrap() else { panic!() };
        assert_eq!(url.to_string(), "s3://shop/ci/cache");
        assert_eq!(Location::parse(Path::new("s3://shop/ci/")).unwrap().to_string(), "s3://shop/ci");
        for (text, says) in [
            ("s3://Shop/x", "is not a bucket name"),
            ("gs://shop/x", "no other URL scheme"),
            ("https://shop.s3.amazonaws.com/x", "no other URL scheme"),
        ] {
            let err = Location::parse(Path::new(text)).unwrap_err();
            assert_eq!(err.exit_code(), 2);
            assert!(err.to_string().contains(text) && err.to_string().contains(says), "{err}");
        }
    }

    #[test]
    fn object_storage_errors_name_the_url_and_the_environment() {
        let location = Location::parse(Path::new("s3://shop/cache")).unwrap();
        let err = location.error(io::Error::other("access denied"));
        assert_eq!(err.exit_code(), 2);
        let text = err.to_string();
        assert!(text.starts_with("the cache `s3://shop/cache` failed: access denied;"), "{text}");
        assert!(text.contains("AWS_ACCESS_KEY_ID") && text.contains("AWS_ENDPOINT_URL"), "{text}");
        assert!(check_outside(&location, Path::new("dist")).is_ok());
    }

    #[test]
    fn stores_and_returns_payloads() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        assert_eq!(cache.get(KEY), None);
        cache.put(KEY, b"variant bytes");
        assert_eq!(cache.get(KEY).as_deref(), Some(&b"variant bytes"[..]));
        assert_eq!(cache.corrupt(), 0);
    }

    #[test]
    fn damaged_entries_are_detected_deleted_and_never_served() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        cache.put(KEY, b"0123456789 a whole entry");
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
        cache.put(KEY, b"kept");
        cache.put(&other, b"stale");
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
        images.put(KEY, b"variant");
        compressed.put(KEY, b"brotli");
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

    #[test]
    fn failed_writes_become_one_warning_naming_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let images = Cache::open(dir.path()).unwrap();
        let compressed = Cache::open_kind(dir.path(), Kind::Compressed).unwrap();
        let location = Location::Dir(dir.path().to_path_buf());
        assert_eq!(warnings(&location, &[&images, &compressed]), []);
        // A file where the entry's folder should be: the write fails even for root, who
        // ignores permissions. Reading there finds no entry, which is no failure.
        fs::write(dir.path().join("v1/ab"), b"in the way").unwrap();
        images.put(KEY, b"variant");
        images.put(&KEY.replace("0123", "3210"), b"another");
        compressed.put(KEY, b"fine");
        assert_eq!(images.get(KEY), None);
        assert_eq!(compressed.get(KEY).as_deref(), Some(&b"fine"[..]));
        let [warning] = &warnings(&location, &[&images, &compressed])[..] else { panic!("one warning") };
        assert_eq!(warning.severity, crate::diagnostic::Severity::Warning);
        assert!(
            warning.message.starts_with("2 entries could not be written to the cache"),
            "{}",
            warning.message
        );
        assert!(warning.message.contains(&dir.path().display().to_string()), "{}", warning.message);
    }

    #[test]
    fn failed_reads_are_misses_and_one_warning() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let location = Location::Dir(dir.path().to_path_buf());
        cache.put(KEY, b"whole");
        // A folder where the entry should be: reading it fails, even for root.
        let path = cache.path(KEY);
        fs::remove_file(&path).unwrap();
        fs::create_dir(&path).unwrap();
        assert_eq!(cache.get(KEY), None, "a failed read is a miss");
        assert_eq!(cache.get(&KEY.replace("0123", "3210")), None, "an absent entry is no failure");
        let [warning] = &warnings(&location, &[&cache])[..] else { panic!("one warning") };
        assert!(
            warning.message.starts_with("1 entry could not be read from the cache"),
            "{}",
            warning.message
        );
        assert!(warning.help.as_deref().is_some_and(|help| help.contains("made again")), "{warning:?}");
    }

    #[test]
    fn sweeping_removes_only_temporary_files_in_cache_layouts() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        cache.put(KEY, b"whole");
        for path in ["v1/ab/.tmp-killed", "compressed-v1/cd/.tmp-killed", "vendor/ab/.tmp-theirs"] {
            let path = dir.path().join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, b"half an entry").unwrap();
        }
        sweep_temporaries(dir.path());
        assert!(!dir.path().join("v1/ab/.tmp-killed").exists());
        assert!(!dir.path().join("compressed-v1/cd/.tmp-killed").exists());
        assert!(dir.path().join("vendor/ab/.tmp-theirs").exists(), "not the cache's to sweep");
        assert_eq!(cache.get(KEY).as_deref(), Some(&b"whole"[..]));
    }
}
