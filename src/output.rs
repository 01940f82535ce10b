//! The hand-off between the stages that produce files and the stages that describe and write
//! them: every file of the upload root with its bytes, headers and digest.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use md5::Md5;
use sha2::{Digest as _, Sha256};

pub(crate) use crate::model::{CacheClass, CacheTag};

/// Every file of the upload root, by path relative to it (`/`-separated, no leading `/`),
/// in sorted order so the write stage and the manifest see one fixed order.
#[derive(Debug, Default)]
pub(crate) struct Output {
    files: BTreeMap<String, Artifact>,
}

/// One output file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Artifact {
    /// Produced in memory: pages, theme assets, image variants, compressed siblings.
    pub(crate) bytes: Vec<u8>,
    pub(crate) content_type: &'static str,
    pub(crate) class: CacheClass,
    /// [`CacheTag::Site`] on every file, a drop's tag on its page and images, so a CDN can
    /// purge by tag.
    pub(crate) tags: BTreeSet<CacheTag>,
    /// `br` or `gzip` for a precompressed sibling of `variant_of`.
    pub(crate) encoding: Option<&'static str>,
    pub(crate) variant_of: Option<String>,
    pub(crate) digest: Digest,
}

/// Size and hashes of a file's bytes, as upload pipelines need them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Digest {
    pub(crate) size: u64,
    /// Lower-case hex SHA-256.
    pub(crate) sha256: String,
    /// Base64 MD5, the form S3's `Content-MD5` header takes.
    pub(crate) md5_base64: String,
}

impl Digest {
    pub(crate) fn of(bytes: &[u8]) -> Digest {
        Digest {
            size: bytes.len() as u64,
            sha256: hex(&Sha256::digest(bytes)),
            md5_base64: base64::engine::general_purpose::STANDARD.encode(Md5::digest(bytes)),
        }
    }
}

/// Lower-case hex of bytes, the one form of every hash dropgen prints or names files by.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Artifact {
    /// A file produced in memory.
    pub(crate) fn bytes(bytes: Vec<u8>, path: &str, class: CacheClass, tags: &[CacheTag]) -> Artifact {
        Artifact {
            digest: Digest::of(&bytes),
            bytes,
            content_type: content_type(path),
            class,
            tags: tags.iter().cloned().collect(),
            encoding: None,
            variant_of: None,
        }
    }
}

impl Output {
    /// Adds a file. Two stages claiming one path is a bug in dropgen, not in the site: names
    /// are built so they cannot collide (slugs cannot contain `.` or `_`).
    pub(crate) fn insert(&mut self, path: String, artifact: Artifact) {
        if let Some(existing) = self.files.get(&path) {
            assert_eq!(existing, &artifact, "two different outputs claim `{path}`");
        }
        self.files.insert(path, artifact);
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&String, &Artifact)> {
        self.files.iter()
    }

    pub(crate) fn len(&self) -> usize {
        self.files.len()
    }
}

/// The `Content-Type` for a file name, with a charset for text.
pub(crate) fn content_type(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or(path);
    if name == "_headers" {
        return "text/plain; charset=utf-8";
    }
    let ext = name.rsplit_once('.').map(|(_, ext)| ext.to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "xml" => "application/xml; charset=utf-8",
        "txt" => "text/plain; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "gif" => "image/gif",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "webmanifest" => "application/manifest+json",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_match_known_values() {
        let digest = Digest::of(b"hello");
        assert_eq!(digest.sha256, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
        // `printf hello | openssl md5 -binary | base64`
        assert_eq!(digest.md5_base64, "XUFAKrxLKna5cZ2REBfFkg==");
        assert_eq!(digest.size, 5);
    }

    #[test]
    fn content_types_carry_a_charset_for_text() {
        assert_eq!(content_type("a/index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("_img/x-1.JPG"), "image/jpeg");
        assert_eq!(content_type("_headers"), "text/plain; charset=utf-8");
        assert_eq!(content_type("LICENSE"), "application/octet-stream");
    }
}
