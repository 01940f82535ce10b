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
    /// The theme file each path of the theme's static files came from.
    theme_files: BTreeMap<String, String>,
    clashes: Vec<Clash>,
}

/// Two files for one path: the first stays, the second is reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Clash {
    pub(crate) path: String,
    /// The theme file (`themes/x/static/…`) holding the path, when one does.
    pub(crate) theme_file: Option<String>,
}

/// A part of the upload root that a stage generates. Each stage claims its own names before
/// anything is produced, so the theme's static files are checked against every claim without
/// any module listing another's files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Claim {
    /// One file, e.g. `robots.txt`.
    File(String),
    /// A folder and everything in it, and what it holds, e.g. "the page of a drop".
    Folder(String, String),
    /// Every name ending in one of these, and what such files are.
    Suffixes(&'static [&'static str], &'static str),
}

impl Claim {
    /// Why a theme file at `path` would clash with this claim, if it would.
    pub(crate) fn conflict(&self, path: &str) -> Option<String> {
        let inside = |dir: &str| path.strip_prefix(dir).is_some_and(|rest| rest.starts_with('/'));
        match self {
            Claim::File(file) if path == file => Some("would replace a file dropgen generates".to_owned()),
            Claim::File(file) if inside(file) => {
                Some(format!("is inside `{file}`, a file dropgen generates"))
            }
            Claim::Folder(dir, what) if path == dir || inside(dir) => {
                Some(format!("is inside `{dir}/`, {what}"))
            }
            Claim::Suffixes(suffixes, what) if suffixes.iter().any(|suffix| path.ends_with(suffix)) => {
                let names: Vec<String> = suffixes.iter().map(|suffix| format!("`{suffix}`")).collect();
                Some(format!("ends in {}, {what}", names.join(" or ")))
            }
            _ => None,
        }
    }
}

/// One output file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Artifact {
    pub(crate) body: Body,
    pub(crate) content_type: &'static str,
    pub(crate) class: CacheClass,
    /// [`CacheTag::Site`] on every file, a drop's tag on its page and images, so a CDN can
    /// purge by tag.
    pub(crate) tags: BTreeSet<CacheTag>,
    /// The Subresource Integrity value of a script or stylesheet, as pages reference it.
    pub(crate) integrity: Option<String>,
    /// `br` or `gzip` for a precompressed sibling of `variant_of`.
    pub(crate) encoding: Option<&'static str>,
    pub(crate) variant_of: Option<String>,
    pub(crate) digest: Digest,
}

/// Where an output file's bytes are until the write stage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Body {
    /// In memory: pages, theme assets and `_headers`, from the stage that made them until
    /// the manifest stage hands them to the spool (`write::spool_rest`).
    Memory(Vec<u8>),
    /// Already handed to the build's [`Spool`]: image variants and compressed copies as they
    /// are made, whose bytes would otherwise all stay in memory until `write`, growing with
    /// the number of images rather than with the pixels in flight; the rest after gather.
    Spooled,
}

/// Where a stage puts a file as soon as it is made, so the file's bytes need not be held
/// until the write stage: `write::Staging` (the folder that becomes `<out>`) or [`Discard`].
/// Shared by the image stage's parallel jobs.
pub(crate) trait Spool: Sync {
    /// Stores the bytes of the upload-root file at `path`. A failure (a full disk, say) is
    /// the spool's to report when the output is written, so the stages need not carry it.
    fn put(&self, path: &str, bytes: &[u8], digest: &Digest);
}

/// The spool of a run that writes no site output (`dropgen check`, `build --shard`): only the
/// digests are kept.
pub(crate) struct Discard;

impl Spool for Discard {
    fn put(&self, _path: &str, _bytes: &[u8], _digest: &Digest) {}
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

/// Text made safe for HTML content and attribute values, by tera's escaper (the one the
/// templates use), for the pages dropgen writes without a template: the mock's controls and
/// the inventory report.
#[cfg(feature = "live")]
pub(crate) fn escape_html(text: &str) -> String {
    let mut escaped = Vec::with_capacity(text.len());
    let _ = tera::escape_html(text, &mut escaped);
    String::from_utf8(escaped).unwrap_or_default()
}

/// Lower-case hex of bytes, the one form of every hash dropgen prints or names files by.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Artifact {
    /// A file produced in memory. Its spare capacity is given back: tera renders into a
    /// 16 KiB buffer, a third of which a typical drop page leaves empty (at 10,000 drops,
    /// 50 MB held for nothing until the pages are spooled).
    pub(crate) fn bytes(mut bytes: Vec<u8>, path: &str, class: CacheClass, tags: &[CacheTag]) -> Artifact {
        bytes.shrink_to_fit();
        let digest = Digest::of(&bytes);
        Artifact::with_body(Body::Memory(bytes), digest, path, class, tags)
    }

    /// A file already in the build's [`Spool`], with the digest of the bytes put there.
    pub(crate) fn spooled(digest: Digest, path: &str, class: CacheClass, tags: &[CacheTag]) -> Artifact {
        Artifact::with_body(Body::Spooled, digest, path, class, tags)
    }

    fn with_body(body: Body, digest: Digest, path: &str, class: CacheClass, tags: &[CacheTag]) -> Artifact {
        Artifact {
            body,
            digest,
            content_type: content_type(path),
            class,
            tags: tags.iter().cloned().collect(),
            integrity: None,
            encoding: None,
            variant_of: None,
        }
    }

    /// The bytes, when they are in memory.
    pub(crate) fn in_memory(&self) -> Option<&[u8]> {
        match &self.body {
            Body::Memory(bytes) => Some(bytes),
            Body::Spooled => None,
        }
    }
}

impl Output {
    /// Adds a generated file. A path that already holds other bytes keeps them, and the clash
    /// is reported by [`Output::clashes`] rather than crashing the build.
    pub(crate) fn insert(&mut self, path: String, artifact: Artifact) {
        match self.files.get(&path) {
            Some(existing) if *existing != artifact => {
                let theme_file = self.theme_files.get(&path).cloned();
                self.clashes.push(Clash { path, theme_file });
            }
            Some(_) => {}
            None => {
                self.files.insert(path, artifact);
            }
        }
    }

    /// Adds generated files; see [`Output::insert`].
    pub(crate) fn extend(&mut self, files: impl IntoIterator<Item = (String, Artifact)>) {
        for (path, artifact) in files {
            self.insert(path, artifact);
        }
    }

    /// Adds one of the theme's static files, read from `origin`.
    pub(crate) fn insert_theme_file(&mut self, path: String, artifact: Artifact, origin: &str) {
        if !self.files.contains_key(&path) {
            self.theme_files.insert(path.clone(), origin.to_owned());
        }
        self.insert(path, artifact);
    }

    /// Every path two files were added for. Claims keep theme files off generated paths, so a
    /// clash means a stage generates a path it did not claim.
    pub(crate) fn clashes(&self) -> &[Clash] {
        &self.clashes
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&String, &Artifact)> {
        self.files.iter()
    }

    pub(crate) fn len(&self) -> usize {
        self.files.len()
    }

    pub(crate) fn contains(&self, path: &str) -> bool {
        self.files.contains_key(path)
    }

    /// Every file, its artifact changeable (to hand its bytes to a spool).
    pub(crate) fn files_mut(&mut self) -> impl Iterator<Item = (&String, &mut Artifact)> + Send {
        self.files.iter_mut()
    }
}

/// The `Content-Type` for a file name, with a charset for text.
pub(crate) fn content_type(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or(path);
    if name == "_headers" {
        return "text/plain; charset=utf-8";
    }
    let ext = name.rsplit_once('.').map(|(_, ext)| ext.to_ascii_lowercase()).unwrap_or_default();
    media_type(&ext)
}

/// The media type of a lower-case file extension, with a charset for text: the one table of
/// them, for `Content-Type` and for `<source type>`.
pub(crate) fn media_type(ext: &str) -> &'static str {
    match ext {
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

    /// Issue 12: generated paths belonged to no one, and `insert` asserted on a clash, so a
    /// generated file nobody listed as reserved, meeting a theme file of that name, panicked
    /// the build.
    #[test]
    fn a_clash_between_two_files_is_not_a_panic() {
        let mut output = Output::default();
        let file = |text: &str| Artifact::bytes(text.as_bytes().to_vec(), "x.txt", CacheClass::Data, &[]);
        output.insert_theme_file("x.txt".to_owned(), file("first"), "themes/t/static/x.txt");
        let clash = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            output.insert("x.txt".to_owned(), file("second"));
        }));
        assert!(clash.is_ok(), "a clash panicked");
        assert_eq!(output.iter().next().and_then(|(_, artifact)| artifact.in_memory()), Some(&b"first"[..]));
        let theme_file = Some("themes/t/static/x.txt".to_owned());
        assert_eq!(output.clashes(), [Clash { path: "x.txt".to_owned(), theme_file }]);
        output.insert("x.txt".to_owned(), file("first"));
        assert_eq!(output.clashes().len(), 1, "the same bytes twice are no clash");
    }

    #[test]
    fn claims_cover_their_files_folders_and_suffixes() {
        let file = Claim::File("robots.txt".to_owned());
        assert_eq!(file.conflict("robots.txt").as_deref(), Some("would replace a file dropgen generates"));
        assert_eq!(
            file.conflict("robots.txt/x").as_deref(),
            Some("is inside `robots.txt`, a file dropgen generates")
        );
        assert_eq!(file.conflict("robots.txt.bak"), None);
        let folder = Claim::Folder("launch".to_owned(), "the page of a drop".to_owned());
        assert_eq!(folder.conflict("launch").as_deref(), Some("is inside `launch/`, the page of a drop"));
        assert!(folder.conflict("launch/a/b.txt").is_some());
        assert_eq!(folder.conflict("launcher/a.txt"), None);
        let suffixes = Claim::Suffixes(&[".br", ".gz"], "copies");
        assert_eq!(suffixes.conflict("a/b.gz").as_deref(), Some("ends in `.br` or `.gz`, copies"));
        assert_eq!(suffixes.conflict("a.gzip"), None);
    }
}
