//! Stage: COMPRESS — precompressed `.br` and `.gz` siblings of text files.
//!
//! CDNs and object stores serve a sibling with `Content-Encoding` set when the client accepts
//! it, so visitors get brotli at maximum quality without the edge compressing on the fly.
//! Output is deterministic: brotli has no timestamps, and the gzip header's mtime is zero.
//! Brotli at quality 11 is the slowest step of a build with many pages, so every copy is kept
//! in the cache under the hash of its original and the settings: a rebuild compresses only
//! the files whose bytes changed.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use flate2::{Compression, GzBuilder};
use rayon::prelude::*;
use sha2::{Digest as _, Sha256};

use crate::cache::Cache;
use crate::output::{Artifact, Body, Claim, Digest, Output, Spool, hex};

/// Everything besides the original's bytes that decides a copy's bytes: the settings of
/// [`brotli()`] and [`gzip()`] and the crates that implement them (a test keeps the versions
/// equal to Cargo.lock).
const SETTINGS: &str =
    "br q11 (q9 above 256 KiB) lgwin22, gzip 9 mtime0; brotli 8.0.4, flate2 1.1.11, miniz_oxide 0.9.1";

/// What the stage compressed and what it found in the cache, counted in copies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct CompressCounts {
    pub reused: u64,
    pub compressed: u64,
}

/// Files smaller than this gain too little to be worth a second and third upload.
pub(crate) const MIN_BYTES: usize = 1024;

/// What this stage generates: a sibling of any file.
pub(crate) fn claims() -> Vec<Claim> {
    vec![Claim::Suffixes(&[".br", ".gz"], "the names of dropgen's precompressed copies")]
}

/// `<path>.br` and `<path>.gz` for every compressible text file of `output` of at least
/// [`MIN_BYTES`], only those that are actually smaller; each copy comes from `cache` when an
/// earlier build made it, and goes into it otherwise.
pub(crate) fn siblings(
    output: &Output,
    cache: &Cache,
    spool: &dyn Spool,
) -> (Vec<(String, Artifact)>, CompressCounts) {
    // Spooled files are image variants, which do not compress.
    let candidates: Vec<(&String, &Artifact, &[u8])> = output
        .iter()
        .filter(|(_, artifact)| is_compressible(artifact.content_type))
        .filter_map(|(path, artifact)| Some((path, artifact, artifact.in_memory()?)))
        .filter(|(_, _, bytes)| bytes.len() >= MIN_BYTES)
        .collect();
    let (reused, compressed) = (AtomicU64::new(0), AtomicU64::new(0));
    let files = candidates
        .par_iter()
        .flat_map_iter(|(path, artifact, bytes)| {
            [Method::Brotli, Method::Gzip]
                .into_iter()
                .filter_map(|method| {
                    let key = cache_key(method, artifact.digest.size, &artifact.digest.sha256);
                    let packed = match cache.get(&key) {
                        Some(packed) => {
                            reused.fetch_add(1, Ordering::Relaxed);
                            packed
                        }
                        None => {
                            compressed.fetch_add(1, Ordering::Relaxed);
                            let packed = method.compress(bytes);
                            cache.put(&key, &packed);
                            packed
                        }
                    };
                    (packed.len() < bytes.len()).then(|| {
                        // Handed to the spool at once: the copies of every page would
                        // otherwise stay in memory until the write stage.
                        let sibling_path = format!("{path}.{}", method.extension());
                        let digest = Digest::of(&packed);
                        spool.put(&sibling_path, &packed, &digest);
                        let sibling = Artifact {
                            digest,
                            body: Body::Spooled,
                            encoding: Some(method.encoding()),
                            // Pages reference the original; a browser checks the decoded bytes.
                            integrity: None,
                            variant_of: Some((*path).clone()),
                            ..(*artifact).clone()
                        };
                        (sibling_path, sibling)
                    })
                })
                .collect::<Vec<_>>()
        })
        .collect();
    (files, CompressCounts { reused: reused.into_inner(), compressed: compressed.into_inner() })
}

/// The cache keys of both copies of each original, given as its size and hex SHA-256, for
/// `dropgen cache gc`: what the last build published is what the next one most likely needs.
pub(crate) fn cache_keys<'a>(
    originals: impl IntoIterator<Item = (u64, &'a str)>,
) -> std::collections::BTreeSet<String> {
    originals
        .into_iter()
        .flat_map(|(size, sha256)| {
            [Method::Brotli, Method::Gzip].map(|method| cache_key(method, size, sha256))
        })
        .collect()
}

/// The two encodings every CDN and browser understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Method {
    Brotli,
    Gzip,
}

impl Method {
    /// What a CDN would send for a request's `Accept-Encoding`: brotli, else gzip, else
    /// neither (`None`). A coding listed with `q=0` is refused. For `serve`.
    #[cfg_attr(not(feature = "live"), allow(dead_code))]
    pub(crate) fn negotiate(accept_encoding: &str) -> Option<Method> {
        let accepted = |name: &str| {
            accept_encoding.split(',').any(|item| {
                let mut parts = item.split(';').map(str::trim);
                let coding = parts.next().unwrap_or_default();
                let refused = parts.any(|param| {
                    param.strip_prefix("q=").is_some_and(|q| q.parse::<f32>().is_ok_and(|q| q <= 0.0))
                });
                (coding.eq_ignore_ascii_case(name) || coding == "*") && !refused
            })
        };
        [Method::Brotli, Method::Gzip].into_iter().find(|method| accepted(method.encoding()))
    }

    pub(crate) fn compress(self, bytes: &[u8]) -> Vec<u8> {
        match self {
            Method::Brotli => brotli(bytes),
            Method::Gzip => gzip(bytes),
        }
    }

    /// The `Content-Encoding` value.
    pub(crate) fn encoding(self) -> &'static str {
        match self {
            Method::Brotli => "br",
            Method::Gzip => "gzip",
        }
    }

    /// The sibling's extension: `index.html.br`.
    pub(crate) fn extension(self) -> &'static str {
        match self {
            Method::Brotli => "br",
            Method::Gzip => "gz",
        }
    }
}

/// The cache key of `method`'s copy of the file of `size` bytes with hex SHA-256 `sha256`.
fn cache_key(method: Method, size: u64, sha256: &str) -> String {
    let identity = format!("{} {SETTINGS} {size} {sha256}", method.encoding());
    hex(&Sha256::digest(identity.as_bytes()))
}

fn is_compressible(content_type: &str) -> bool {
    let mime = content_type.split(';').next().unwrap_or_default().trim();
    mime.starts_with("text/")
        || matches!(
            mime,
            "application/json" | "application/xml" | "image/svg+xml" | "application/manifest+json"
        )
}

/// Files above this size are compressed at [`LARGE_FILE_QUALITY`]: at quality 11 brotli
/// needs about 5 s for the 1 MB index of a 1,000-drop site, which changes with every edit,
/// where quality 9 needs a fiftieth of that for a few per cent more bytes.
pub(crate) const LARGE_FILE_BYTES: usize = 256 * 1024;
const LARGE_FILE_QUALITY: u32 = 9;

/// Brotli at its highest quality (compression happens once, decompression at every visit),
/// except for files above [`LARGE_FILE_BYTES`].
pub(crate) fn brotli(bytes: &[u8]) -> Vec<u8> {
    let quality = if bytes.len() > LARGE_FILE_BYTES { LARGE_FILE_QUALITY } else { 11 };
    let mut packed = Vec::with_capacity(bytes.len() / 3);
    {
        let mut writer = brotli::CompressorWriter::new(&mut packed, 4096, quality, 22);
        writer.write_all(bytes).expect("writing to a Vec cannot fail");
    }
    packed
}

/// gzip at level 9 with a zero mtime and no file name, so identical input gives identical bytes.
pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder =
        GzBuilder::new().mtime(0).write(Vec::with_capacity(bytes.len() / 3), Compression::best());
    encoder.write_all(bytes).expect("writing to a Vec cannot fail");
    encoder.finish().expect("writing to a Vec cannot fail")
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;
    use crate::cache::Kind;
    use crate::output::CacheClass;
    use crate::output::Discard;

    fn cache() -> (tempfile::TempDir, Cache) {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open_kind(dir.path(), Kind::Compressed).unwrap();
        (dir, cache)
    }

    #[test]
    fn round_trips_and_is_deterministic() {
        let text = "<p>drop</p>\n".repeat(200);
        let gz = gzip(text.as_bytes());
        assert_eq!(gz, gzip(text.as_bytes()));
        let mut unpacked = String::new();
        flate2::read::GzDecoder::new(gz.as_slice()).read_to_string(&mut unpacked).unwrap();
        assert_eq!(unpacked, text);
        let br = brotli(text.as_bytes());
        let mut unpacked = Vec::new();
        ::brotli::Decompressor::new(br.as_slice(), 4096).read_to_end(&mut unpacked).unwrap();
        assert_eq!(unpacked, text.as_bytes());
    }

    #[test]
    fn negotiation_prefers_brotli_and_honours_refusals() {
        let negotiate = Method::negotiate;
        assert_eq!(negotiate("gzip, deflate, br, zstd"), Some(Method::Brotli));
        assert_eq!(negotiate("gzip;q=1.0, br;q=0"), Some(Method::Gzip));
        assert_eq!(negotiate("GZIP"), Some(Method::Gzip));
        assert_eq!(negotiate("identity"), None);
        assert_eq!(negotiate(""), None);
        assert_eq!(negotiate("*"), Some(Method::Brotli));
        assert_eq!(negotiate("br;q=0, gzip;q=0.0"), None);
    }

    /// A spool that keeps what is put into it, in path order.
    #[derive(Default)]
    struct Kept(std::sync::Mutex<Vec<(String, Vec<u8>)>>);

    impl Spool for Kept {
        fn put(&self, path: &str, bytes: &[u8], _digest: &Digest) {
            let mut kept = self.0.lock().unwrap();
            kept.push((path.to_owned(), bytes.to_vec()));
            kept.sort();
        }
    }

    #[test]
    fn compresses_large_text_files_only() {
        let mut output = Output::default();
        let page = "<p>drop</p>\n".repeat(200).into_bytes();
        output
            .insert("a/index.html".into(), Artifact::bytes(page, "a/index.html", CacheClass::Document, &[]));
        output
            .insert("small.css".into(), Artifact::bytes(b"p{}".to_vec(), "small.css", CacheClass::Data, &[]));
        output.insert("x.png".into(), Artifact::bytes(vec![0; 4096], "x.png", CacheClass::Immutable, &[]));
        let (_dir, cache) = cache();
        let spool = Kept::default();
        let (files, counts) = siblings(&output, &cache, &spool);
        assert_eq!(counts, CompressCounts { reused: 0, compressed: 2 });
        // The copies went to the spool, bytes and all, and are not held.
        let kept = spool.0.into_inner().unwrap();
        assert_eq!(
            kept.iter().map(|(path, _)| path.as_str()).collect::<Vec<_>>(),
            ["a/index.html.br", "a/index.html.gz"]
        );
        for (path, artifact) in &files {
            assert_eq!(artifact.body, Body::Spooled, "{path}");
            let bytes = &kept.iter().find(|(kept, _)| kept == path).unwrap().1;
            assert_eq!(Digest::of(bytes), artifact.digest, "{path}");
        }
        for (path, artifact) in files {
            output.insert(path, artifact);
        }
        let paths: Vec<&str> = output.iter().map(|(path, _)| path.as_str()).collect();
        assert_eq!(paths, ["a/index.html", "a/index.html.br", "a/index.html.gz", "small.css", "x.png"]);
        let (_, br) = output.iter().find(|(path, _)| path.ends_with(".br")).unwrap();
        assert_eq!(
            (br.encoding, br.variant_of.as_deref(), br.content_type),
            (Some("br"), Some("a/index.html"), "text/html; charset=utf-8")
        );
        assert_eq!(br.class, CacheClass::Document);
    }

    #[test]
    fn copies_are_reused_from_the_cache_only_for_the_same_bytes() {
        let page = |text: &str| {
            let mut output = Output::default();
            let bytes = text.repeat(300).into_bytes();
            output.insert(
                "p/index.html".into(),
                Artifact::bytes(bytes, "p/index.html", CacheClass::Document, &[]),
            );
            output
        };
        let (_dir, cache) = cache();
        let (cold, counts) = siblings(&page("<p>one</p>"), &cache, &Discard);
        assert_eq!(counts, CompressCounts { reused: 0, compressed: 2 });
        let (warm, counts) = siblings(&page("<p>one</p>"), &cache, &Discard);
        assert_eq!(counts, CompressCounts { reused: 2, compressed: 0 });
        let bytes = |files: &[(String, Artifact)]| {
            files.iter().map(|(p, a)| (p.clone(), a.digest.clone())).collect::<Vec<_>>()
        };
        assert_eq!(bytes(&warm), bytes(&cold), "a reused copy differs from a fresh one");
        let (edited, counts) = siblings(&page("<p>two</p>"), &cache, &Discard);
        assert_eq!(counts, CompressCounts { reused: 0, compressed: 2 });
        assert_ne!(bytes(&edited), bytes(&cold));
    }

    #[test]
    fn compressor_versions_match_cargo_lock() {
        let locked = crate::locked_crates();
        let versions = SETTINGS.split("; ").nth(1).unwrap();
        for crate_version in versions.split(", ") {
            assert!(
                locked.iter().any(|l| l == crate_version),
                "Cargo.lock has no {crate_version}: update SETTINGS"
            );
        }
        for name in ["brotli", "flate2"] {
            assert!(versions.contains(&format!("{name} ")), "SETTINGS does not name {name}'s version");
        }
    }

    #[test]
    fn large_files_are_compressed_fast_and_still_round_trip() {
        let text: String = (0..40_000).map(|n| format!("<li>drop {n}</li>\n")).collect();
        assert!(text.len() > LARGE_FILE_BYTES);
        let br = brotli(text.as_bytes());
        assert!(br.len() < text.len() / 10, "{} bytes", br.len());
        let mut unpacked = Vec::new();
        ::brotli::Decompressor::new(br.as_slice(), 4096).read_to_end(&mut unpacked).unwrap();
        assert_eq!(unpacked, text.as_bytes());
    }
}
