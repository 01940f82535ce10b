//! `dropgen init [DIR]`: a complete site that builds as it is.
//!
//! The files are a pure function of the folder's name and the day it runs ([`files`]): the
//! example drop starts at midnight UTC of that day and has no end, so it is live from the
//! moment the site exists until someone sets its times. The default theme stays built in.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use time::Date;

use crate::error::Error;
use crate::load::{CONFIG_FILE, DROP_FILE, DROPS_DIR};
use crate::schema::{self, Which};

/// The example drop's folder, and so its slug.
pub(crate) const EXAMPLE_DROP: &str = "first-drop";

const CONFIG: &str = include_str!("site/dropgen.yaml");
const DROP: &str = include_str!("site/drop.yaml");
const README: &str = include_str!("site/README.md");
const GITIGNORE: &str = include_str!("site/gitignore");
const VSCODE_SETTINGS: &str = include_str!("site/vscode-settings.json");
const VSCODE_EXTENSIONS: &str = include_str!("site/vscode-extensions.json");
/// Drawn for dropgen (no third-party rights): 1600 × 1000, wide enough for the default widths
/// and for no warning about a narrow hero (twice the 735 px the default theme draws it).
const HERO: &[u8] = include_bytes!("site/hero.jpg");

/// What `init` did.
#[derive(Debug, Default)]
pub(crate) struct InitReport {
    /// Files written, in the order they were written.
    pub created: Vec<PathBuf>,
    /// Files that were already there and were left as they were (only with `--force`).
    pub kept: Vec<PathBuf>,
}

/// Writes a new site into `dir` (created when missing). A folder that holds anything but
/// `.git` is refused unless `force`, and then only the missing files are written: an existing
/// file is never overwritten.
pub(crate) fn init(dir: &Path, force: bool, today: Date) -> Result<InitReport, Error> {
    if dir.exists() && !dir.is_dir() {
        return Err(Error::Usage(format!("`{}` exists and is not a folder", dir.display())));
    }
    if dir.is_dir() && !force {
        let mut entries: Vec<String> = fs::read_dir(dir)
            .map_err(|err| Error::io(dir, err))?
            .filter_map(Result::ok)
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .filter(|name| name != ".git")
            .collect();
        entries.sort();
        if !entries.is_empty() {
            let shown: Vec<String> = entries.iter().take(3).map(|name| format!("`{name}`")).collect();
            let more =
                if entries.len() > 3 { format!(" and {} more", entries.len() - 3) } else { String::new() };
            return Err(Error::Usage(format!(
                "`{}` is not empty (it holds {}{more}): run `dropgen init` in an empty folder, or give `--force` to add the files that are missing (existing files are never overwritten)",
                dir.display(),
                shown.join(", ")
            )));
        }
    }
    let title = site_title(dir);
    let mut report = InitReport::default();
    for (rel, bytes) in files(&title, today) {
        let path = dir.join(&rel);
        if path.exists() || path.is_symlink() {
            report.kept.push(path);
            continue;
        }
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|err| Error::io(parent, err))?;
        }
        create_new(&path, &bytes)?;
        report.created.push(path);
    }
    Ok(report)
}

/// Every file of a new site, by path relative to its root, in the order they are written.
pub(crate) fn files(title: &str, today: Date) -> Vec<(String, Vec<u8>)> {
    let drop_dir = format!("{DROPS_DIR}/{EXAMPLE_DROP}");
    let starts_at =
        format!("{:04}-{:02}-{:02}T00:00:00Z", today.year(), u8::from(today.month()), today.day());
    let sku = EXAMPLE_DROP.to_uppercase();
    let config = format!("{}\n{}", schema::modeline(Which::Site, "."), CONFIG.replace("%TITLE%", title));
    let drop = format!(
        "{}\n{}",
        schema::modeline(Which::Drop, "../.."),
        DROP.replace("%SLUG%", EXAMPLE_DROP)
            .replace("%TITLE%", &super::title_of(EXAMPLE_DROP))
            .replace("%STARTS_AT%", &starts_at)
            .replace("%SKU%", &sku)
    );
    vec![
        (CONFIG_FILE.to_owned(), config.into_bytes()),
        (format!("{drop_dir}/{DROP_FILE}"), drop.into_bytes()),
        (format!("{drop_dir}/hero.jpg"), HERO.to_vec()),
        (format!("{}/{}", schema::SITE_DIR, Which::Site.file_name()), Which::Site.text().into_bytes()),
        (format!("{}/{}", schema::SITE_DIR, Which::Drop.file_name()), Which::Drop.text().into_bytes()),
        (".vscode/settings.json".to_owned(), VSCODE_SETTINGS.as_bytes().to_vec()),
        (".vscode/extensions.json".to_owned(), VSCODE_EXTENSIONS.as_bytes().to_vec()),
        (".gitignore".to_owned(), GITIGNORE.as_bytes().to_vec()),
        ("README.md".to_owned(), README.replace("%TITLE%", title).into_bytes()),
    ]
}

/// Writes a file that must not exist yet: `create_new` makes "never overwrite" hold even
/// when something appears between the check and the write.
pub(crate) fn create_new(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let mut file = fs::OpenOptions::new().write(true).create_new(true).open(path).map_err(|err| {
        if err.kind() == std::io::ErrorKind::AlreadyExists {
            Error::Usage(format!("`{}` already exists", path.display()))
        } else {
            Error::io(path, err)
        }
    })?;
    file.write_all(bytes).map_err(|err| Error::io(path, err))
}

/// The site's title, from its folder's name: `spring-shop` → `Spring Shop`.
fn site_title(dir: &Path) -> String {
    let name = std::path::absolute(dir)
        .ok()
        .and_then(|path| path.file_name().map(|name| name.to_string_lossy().into_owned()));
    name.and_then(|name| crate::model::slugify(&name, 60))
        .map(|slug| super::title_of(&slug))
        .unwrap_or_else(|| "My Drops".to_owned())
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    #[test]
    fn files_are_a_function_of_the_title_and_the_day() {
        let a = files("Spring Shop", date!(2026 - 03 - 09));
        assert_eq!(a, files("Spring Shop", date!(2026 - 03 - 09)));
        let drop = String::from_utf8(a[1].1.clone()).unwrap();
        assert!(drop.starts_with("# yaml-language-server: $schema=../../schemas/drop.schema.json\n"));
        assert!(drop.contains("\nstarts_at: 2026-03-09T00:00:00Z\n"), "{drop}");
        assert!(!drop.contains("\nends_at:"), "the example drop stays live");
        assert!(!drop.contains('%'), "every marker is replaced: {drop}");
        let config = String::from_utf8(a[0].1.clone()).unwrap();
        assert!(config.starts_with("# yaml-language-server: $schema=./schemas/dropgen.schema.json\n"));
        assert!(config.contains("title: \"Spring Shop\""));
        let parsed: crate::load::raw::RawDrop = serde_saphyr::from_str(&drop).unwrap();
        assert_eq!(parsed.products.unwrap().value[0].value.sku.as_ref().unwrap().value, "FIRST-DROP-1");
    }

    #[test]
    fn the_vscode_settings_map_the_files_that_init_writes() {
        let files = files("Shop", date!(2026 - 01 - 01));
        let settings = files.iter().find(|(path, _)| path == ".vscode/settings.json").unwrap();
        let settings: serde_json::Value = serde_json::from_slice(&settings.1).unwrap();
        let map = settings["yaml.schemas"].as_object().unwrap();
        for which in Which::ALL {
            let path = format!("{}/{}", schema::SITE_DIR, which.file_name());
            assert!(files.iter().any(|(p, _)| *p == path), "{path} is written");
            assert!(map.contains_key(&format!("./{path}")), "{path} is mapped");
        }
    }
}
