//! Stage: ASSETS — the theme's static files, with CSS and JS fingerprinted.
//!
//! `style.css` is published as `style-<hash>.css`, so it can be cached forever and a new
//! version always has a new URL. Templates find the published URL and the Subresource
//! Integrity value through the `assets` map in their context.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::Serialize;
use sha2::{Digest, Sha256, Sha384};

use crate::load::ThemeFiles;
use crate::output::{Artifact, Content, Output};

/// Where templates find one static file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct AssetUrl {
    /// Root-relative URL, e.g. `/style-1a2b3c4d5e.css`.
    pub(crate) url: String,
    /// `sha384-…`, for the `integrity` attribute.
    pub(crate) integrity: String,
}

/// Published URLs of the theme's static files, by their path under `static/`.
pub(crate) type AssetUrls = BTreeMap<String, AssetUrl>;

/// Plans and produces the theme's static files.
pub(crate) fn collect(theme: &ThemeFiles, output: &mut Output) -> AssetUrls {
    let mut urls = AssetUrls::new();
    for (path, file) in &theme.static_files {
        let published =
            if is_fingerprinted(path) { fingerprinted_name(path, &file.content) } else { path.clone() };
        urls.insert(
            path.clone(),
            AssetUrl { url: format!("/{published}"), integrity: integrity(&file.content) },
        );
        output.insert(
            published,
            Artifact { content: Content::Bytes(file.content.clone()), content_type: content_type(path) },
        );
    }
    urls
}

fn is_fingerprinted(path: &str) -> bool {
    path.ends_with(".css") || path.ends_with(".js")
}

/// `dir/name.ext` → `dir/name-<10 hex of sha256>.ext`.
pub(crate) fn fingerprinted_name(path: &str, bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let short: String = hash.iter().take(5).map(|b| format!("{b:02x}")).collect();
    match path.rsplit_once('.') {
        Some((stem, ext)) if !stem.ends_with('/') => format!("{stem}-{short}.{ext}"),
        _ => format!("{path}-{short}"),
    }
}

/// The Subresource Integrity value of some bytes.
pub(crate) fn integrity(bytes: &[u8]) -> String {
    format!("sha384-{}", base64::engine::general_purpose::STANDARD.encode(Sha384::digest(bytes)))
}

/// The `Content-Type` for a file name, with a charset for text.
pub(crate) fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit_once('.').map(|(_, ext)| ext.to_ascii_lowercase()).unwrap_or_default();
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
    fn fingerprints_css_and_js_names_from_content() {
        let name = fingerprinted_name("style.css", b"body{}");
        assert!(
            name.starts_with("style-") && name.ends_with(".css") && name.len() == "style-.css".len() + 10,
            "{name}"
        );
        assert_ne!(name, fingerprinted_name("style.css", b"body{ }"));
        assert!(fingerprinted_name("js/app.min.js", b"x").starts_with("js/app.min-"));
    }

    #[test]
    fn integrity_is_sha384_base64() {
        // `echo -n "" | openssl dgst -sha384 -binary | base64`
        assert_eq!(integrity(b""), "sha384-OLBgp1GsljhM2TJ+sbHjaiH9txEUvgdDTAzHv2P24donTt6/529l+9Ua0vFImLlb");
    }
}
