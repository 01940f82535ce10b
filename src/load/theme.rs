//! Theme files: the default theme built into the binary, overlaid file by file with the
//! site's own `themes/<name>/`. A site can therefore override one template (say `drop.html`)
//! and keep the rest of the default theme.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use include_dir::{Dir, include_dir};

use crate::error::Error;

/// The theme used when `dropgen.yaml` names none.
pub(crate) const DEFAULT_THEME: &str = "default";

static BUILT_IN: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/themes/default");

/// The templates and static files of the theme a site uses.
#[derive(Clone, Debug, Default)]
pub(crate) struct ThemeFiles {
    /// The name from `dropgen.yaml`.
    pub(crate) name: String,
    /// Whether `themes/<name>/` exists in the site (a theme other than `default` must).
    pub(crate) found_in_site: bool,
    /// Template name (path under `templates/`) → where it came from and its text.
    pub(crate) templates: BTreeMap<String, ThemeFile<String>>,
    /// Path under `static/` → where it came from and its bytes.
    pub(crate) static_files: BTreeMap<String, ThemeFile<Vec<u8>>>,
    /// The theme folders present in the site, for a did-you-mean on a misspelt name.
    pub(crate) available: Vec<String>,
}

/// One theme file and where it was read from (`themes/x/templates/drop.html`, or
/// `(built-in)/templates/drop.html`), for error messages.
#[derive(Clone, Debug)]
pub(crate) struct ThemeFile<T> {
    pub(crate) origin: String,
    pub(crate) content: T,
}

/// Reads the built-in default theme and overlays `themes/<name>/` from the site.
pub(crate) fn load(root: &Path, name: &str) -> Result<ThemeFiles, Error> {
    let mut theme = ThemeFiles { name: name.to_owned(), ..ThemeFiles::default() };
    collect_built_in(&BUILT_IN, &mut theme)?;

    let themes_dir = root.join("themes");
    if let Ok(entries) = fs::read_dir(&themes_dir) {
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|entry| entry.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|entry| entry.file_name().into_string().ok())
            .collect();
        names.sort();
        theme.available = names;
    }
    // Theme names are plain folder names; anything else cannot be one of ours.
    let plain = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    let site_theme = themes_dir.join(name);
    if plain && site_theme.is_dir() {
        theme.found_in_site = true;
        overlay(&site_theme, &format!("themes/{name}"), &mut theme)?;
    }
    Ok(theme)
}

fn collect_built_in(dir: &Dir<'static>, theme: &mut ThemeFiles) -> Result<(), Error> {
    for file in dir.files() {
        let path = file.path().to_string_lossy().replace('\\', "/");
        let origin = format!("(built-in default theme)/{path}");
        insert(theme, &path, origin, file.contents().to_vec())?;
    }
    for sub in dir.dirs() {
        collect_built_in(sub, theme)?;
    }
    Ok(())
}

fn overlay(theme_dir: &Path, rel_dir: &str, theme: &mut ThemeFiles) -> Result<(), Error> {
    for entry in walkdir::WalkDir::new(theme_dir).sort_by_file_name() {
        let entry = entry.map_err(|err| Error::io(theme_dir, err.into()))?;
        if !entry.file_type().is_file() {
            continue;
        }
        let Ok(rel) = entry.path().strip_prefix(theme_dir) else { continue };
        let rel = rel.to_string_lossy().replace('\\', "/");
        if rel.split('/').any(|part| part.starts_with('.')) {
            continue;
        }
        let bytes = fs::read(entry.path()).map_err(|err| Error::io(entry.path(), err))?;
        insert(theme, &rel, format!("{rel_dir}/{rel}"), bytes)?;
    }
    Ok(())
}

fn insert(theme: &mut ThemeFiles, rel: &str, origin: String, bytes: Vec<u8>) -> Result<(), Error> {
    if let Some(name) = rel.strip_prefix("templates/") {
        let text = String::from_utf8(bytes).map_err(|_| Error::ThemeNotUtf8 { file: origin.clone() })?;
        theme.templates.insert(name.to_owned(), ThemeFile { origin, content: text });
    } else if let Some(name) = rel.strip_prefix("static/") {
        theme.static_files.insert(name.to_owned(), ThemeFile { origin, content: bytes });
    }
    Ok(())
}
