//! Stage: ASSETS — the theme's static files, with CSS and JS fingerprinted.
//!
//! `style.css` is published as `_assets/style-<hash>.css`, so it can be cached forever and a
//! new version always has a new URL; one folder for all of them lets header rules match them
//! with one pattern. Other static files (`favicon.ico`) keep their path and a stable URL.
//! Templates find the published URL and the Subresource Integrity value through the `assets`
//! map in their context.
//!
//! The hydration script (`drops.js`) has a size budget: every visitor of a drop downloads it
//! while the crowd arrives, so [`check_budget`] turns a script over 2 KB gzipped into an error.

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

/// The hydration script's path under `static/`, as templates name it (`assets['drops.js']`).
pub(crate) const HYDRATION_SCRIPT: &str = "drops.js";

/// Most bytes the hydration script may take once gzipped (`gzip -9`).
pub(crate) const HYDRATION_BUDGET: usize = 2048;

/// The hydration script's gzipped size, when the theme has one.
pub(crate) fn script_gzip_size(theme: &ThemeFiles) -> Option<usize> {
    theme.static_files.get(HYDRATION_SCRIPT).map(|file| gzip_size(&file.content))
}

/// An error when the theme's hydration script gzips to more than [`HYDRATION_BUDGET`] bytes;
/// the message gives the measured size. A theme without the script has nothing to check.
pub(crate) fn check_budget(theme: &ThemeFiles) -> Option<Diagnostic> {
    let file = theme.static_files.get(HYDRATION_SCRIPT)?;
    let size = gzip_size(&file.content);
    (size > HYDRATION_BUDGET).then(|| {
        Diagnostic::error(
            Kind::Budget,
            Location::file(file.origin.as_str()),
            format!(
                "`{HYDRATION_SCRIPT}` is {size} bytes gzipped, over the hydration script's budget of \
                 {HYDRATION_BUDGET} bytes by {}",
                size - HYDRATION_BUDGET
            ),
        )
        .help(
            "every visitor downloads this script as the drop opens: remove code, or move words into \
             the theme's `<body data-text>`; measure with `gzip -9c drops.js | wc -c`",
        )
    })
}

/// The size of `bytes` gzipped at the best compression: what actually crosses the network.
pub(crate) fn gzip_size(bytes: &[u8]) -> usize {
    crate::compress::gzip(bytes).len()
}

fn is_fingerprinted(path: &str) -> bool {
    path.ends_with(".css") || path.ends_with(".js")
}

/// `dir/name.ext` → `dir/name-<10 hex of sha256>.ext`.
pub(crate) fn fingerprinted_name(path: &str, bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let short = crate::output::hex(&hash[..5]);
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

    fn theme_with_script(bytes: &[u8]) -> ThemeFiles {
        let mut theme = ThemeFiles::default();
        theme.static_files.insert(
            HYDRATION_SCRIPT.to_owned(),
            crate::load::theme::ThemeFile {
                origin: "themes/x/static/drops.js".to_owned(),
                content: bytes.to_vec(),
            },
        );
        theme
    }

    #[test]
    fn default_hydration_script_is_within_budget() {
        let theme = crate::load::theme::load(std::path::Path::new("/nonexistent"), "default").unwrap();
        let script = &theme.static_files[HYDRATION_SCRIPT].content;
        let size = gzip_size(script);
        eprintln!("drops.js: {} bytes, {size} bytes gzipped (budget {HYDRATION_BUDGET})", script.len());
        assert!(size <= HYDRATION_BUDGET, "{size}");
        assert!(size > 500, "the measurement looks wrong: {size}");
        assert_eq!(check_budget(&theme), None);
    }

    #[test]
    fn rejects_a_hydration_script_over_budget_and_says_by_how_much() {
        // Pseudo-random text barely compresses, so 4 KB of it is well over 2 KB gzipped.
        let mut state = 0x2545_f491_u32;
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                b'!' + (state % 90) as u8
            })
            .collect();
        let diagnostic = check_budget(&theme_with_script(&noise)).expect("over budget");
        assert_eq!(diagnostic.location.file, "themes/x/static/drops.js");
        assert!(diagnostic.message.starts_with("`drops.js` is "), "{}", diagnostic.message);
        assert!(diagnostic.message.contains("over the hydration script's budget of 2048 bytes by "));
        assert_eq!(check_budget(&theme_with_script(b"console.log(1)")), None);
        assert_eq!(check_budget(&ThemeFiles::default()), None);
    }

    #[test]
    fn integrity_is_sha384_base64() {
        // `echo -n "" | openssl dgst -sha384 -binary | base64`
        assert_eq!(integrity(b""), "sha384-OLBgp1GsljhM2TJ+sbHjaiH9txEUvgdDTAzHv2P24donTt6/529l+9Ua0vFImLlb");
    }
}
