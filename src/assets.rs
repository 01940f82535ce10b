//! Stage: ASSETS — the theme's static files, with CSS and JS fingerprinted.
//!
//! `style.css` is published as `_assets/style-<hash>.css`, so it can be cached forever and a
//! new version always has a new URL; one folder for all of them lets header rules match them
//! with one pattern. Other static files (`favicon.ico`) keep their path and a stable URL.
//! Templates find the published URL and the Subresource Integrity value through the `assets`
//! map in their context.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::Serialize;
use sha2::{Digest, Sha256, Sha384};

use crate::diagnostic::{Diagnostic, Diagnostics, Kind, Location};
use crate::load::ThemeFiles;
use crate::model::Site;
use crate::output::{Artifact, CacheClass, Output};

/// Folder of the upload root for fingerprinted theme files. Slugs cannot start with `_`.
pub(crate) const ASSET_DIR: &str = "_assets";

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

/// Plans and produces the theme's static files. A static file may not take a path that dropgen
/// generates (pages, `_headers`, `_img/`, `_assets/`, compressed siblings), nor use characters
/// that would need escaping in URLs and header rules.
pub(crate) fn collect(
    theme: &ThemeFiles,
    site: &Site,
    output: &mut Output,
) -> Result<AssetUrls, Diagnostics> {
    let mut urls = AssetUrls::new();
    let mut diagnostics = Diagnostics::new();
    for (path, file) in &theme.static_files {
        if let Some(problem) = reserved(path, site) {
            diagnostics.push(
                Diagnostic::error(
                    Kind::Template,
                    Location::file(&file.origin),
                    format!("the theme file `static/{path}` {problem}"),
                )
                .help("rename or move the file in the theme's `static/` folder"),
            );
            continue;
        }
        let (published, class) = if is_fingerprinted(path) {
            (format!("{ASSET_DIR}/{}", fingerprinted_name(path, &file.content)), CacheClass::Immutable)
        } else {
            (path.clone(), CacheClass::Data)
        };
        urls.insert(
            path.clone(),
            AssetUrl { url: format!("/{published}"), integrity: integrity(&file.content) },
        );
        let artifact = Artifact::bytes(file.content.clone(), &published, class, &["site", "theme"]);
        output.insert(published, artifact);
    }
    if diagnostics.is_empty() { Ok(urls) } else { Err(diagnostics) }
}

/// Why a static file cannot be published at `path`, if it cannot.
fn reserved(path: &str, site: &Site) -> Option<String> {
    let url_safe = path.split('/').all(|part| {
        !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    });
    if !url_safe {
        return Some("has characters other than letters, digits, `.`, `_` and `-` in its name".to_owned());
    }
    let first = path.split('/').next().unwrap_or_default();
    let generated = ["index.html", "404.html", "sitemap.xml", "robots.txt", "_headers"];
    if generated.contains(&path) {
        return Some("would replace a file dropgen generates".to_owned());
    }
    if first == ASSET_DIR || first == crate::images::IMAGE_DIR {
        return Some(format!("is inside `{first}/`, which dropgen fills with content-hashed files"));
    }
    if path.ends_with(".br") || path.ends_with(".gz") {
        return Some("ends in `.br` or `.gz`, the names of dropgen's precompressed copies".to_owned());
    }
    if site.drops.iter().any(|drop| drop.slug.as_str() == first) {
        return Some(format!("is inside `{first}/`, the page of a drop"));
    }
    None
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
