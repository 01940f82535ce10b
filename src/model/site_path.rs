//! Site-relative file paths, and the rule for resolving a drop's image `src` against its folder.

use std::fmt;
use std::path::{Component, Path, PathBuf};

/// A normalised, `/`-separated path relative to the site root that cannot point outside it.
/// Output, diagnostics and hashes use this form, never an absolute path, so builds are the
/// same on every machine.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct SitePath(String);

/// Why an image reference cannot be resolved inside the site.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SitePathError {
    #[error("the path is empty")]
    Empty,
    #[error("`{0}` is an absolute path")]
    Absolute(String),
    #[error("`{0}` points outside the site folder")]
    EscapesRoot(String),
    #[error("`{0}` uses `\\`; write paths with `/`")]
    Backslash(String),
}

impl SitePath {
    /// Builds a site path from a path already known to be inside the site (e.g. from a
    /// directory walk), given relative to the root.
    pub(crate) fn from_relative(path: &Path) -> Option<SitePath> {
        let mut parts = Vec::new();
        for component in path.components() {
            match component {
                Component::Normal(part) => parts.push(part.to_str()?.to_owned()),
                Component::CurDir => {}
                _ => return None,
            }
        }
        (!parts.is_empty()).then(|| SitePath(parts.join("/")))
    }

    /// Resolves `reference`, written relative to the folder `base`, into a site path. Purely
    /// lexical: `..` may climb out of the drop folder but never out of the site root.
    pub(crate) fn resolve(base: &SitePath, reference: &str) -> Result<SitePath, SitePathError> {
        if reference.trim().is_empty() {
            return Err(SitePathError::Empty);
        }
        if reference.contains('\\') {
            return Err(SitePathError::Backslash(reference.to_owned()));
        }
        if reference.starts_with('/') || Path::new(reference).is_absolute() || has_drive_prefix(reference) {
            return Err(SitePathError::Absolute(reference.to_owned()));
        }
        let mut parts: Vec<&str> = base.0.split('/').collect();
        for part in reference.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    if parts.pop().is_none() {
                        return Err(SitePathError::EscapesRoot(reference.to_owned()));
                    }
                }
                part => parts.push(part),
            }
        }
        if parts.is_empty() {
            return Err(SitePathError::EscapesRoot(reference.to_owned()));
        }
        Ok(SitePath(parts.join("/")))
    }

    /// The path on disk under `root`.
    pub(crate) fn to_path(&self, root: &Path) -> PathBuf {
        self.0.split('/').fold(root.to_path_buf(), |path, part| path.join(part))
    }

    /// The final component, e.g. `hero.jpg`.
    pub(crate) fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// The containing folder, or `None` at the root.
    pub(crate) fn parent(&self) -> Option<SitePath> {
        self.0.rsplit_once('/').map(|(parent, _)| SitePath(parent.to_owned()))
    }

    /// The file name without its extension, e.g. `hero` for `drops/a/hero.jpg`.
    pub(crate) fn stem(&self) -> &str {
        let name = self.file_name();
        match name.rsplit_once('.') {
            Some((stem, _)) if !stem.is_empty() => stem,
            _ => name,
        }
    }
}

fn has_drive_prefix(reference: &str) -> bool {
    let bytes = reference.as_bytes();
    bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':'
}

impl fmt::Display for SitePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drop_dir() -> SitePath {
        SitePath::from_relative(Path::new("drops/sneakers")).unwrap()
    }

    #[test]
    fn resolves_relative_to_the_drop_folder() {
        assert_eq!(
            SitePath::resolve(&drop_dir(), "hero.jpg").unwrap().to_string(),
            "drops/sneakers/hero.jpg"
        );
        assert_eq!(
            SitePath::resolve(&drop_dir(), "./img/a.png").unwrap().to_string(),
            "drops/sneakers/img/a.png"
        );
        assert_eq!(
            SitePath::resolve(&drop_dir(), "../shared/logo.png").unwrap().to_string(),
            "drops/shared/logo.png"
        );
        assert_eq!(
            SitePath::resolve(&drop_dir(), "../../brand/logo.png").unwrap().to_string(),
            "brand/logo.png"
        );
    }

    #[test]
    fn rejects_paths_that_leave_the_site() {
        assert!(matches!(
            SitePath::resolve(&drop_dir(), "../../../etc/passwd"),
            Err(SitePathError::EscapesRoot(_))
        ));
        assert!(matches!(SitePath::resolve(&drop_dir(), "../.."), Err(SitePathError::EscapesRoot(_))));
        assert!(matches!(SitePath::resolve(&drop_dir(), "/etc/passwd"), Err(SitePathError::Absolute(_))));
        assert!(matches!(SitePath::resolve(&drop_dir(), "C:/x.jpg"), Err(SitePathError::Absolute(_))));
        assert!(matches!(SitePath::resolve(&drop_dir(), "..\\x.jpg"), Err(SitePathError::Backslash(_))));
        assert!(matches!(SitePath::resolve(&drop_dir(), " "), Err(SitePathError::Empty)));
    }

    #[test]
    fn splits_names() {
        let path = SitePath::resolve(&drop_dir(), "Hero.Shot.JPG").unwrap();
        assert_eq!(path.stem(), "Hero.Shot");
        assert_eq!(path.parent(), Some(drop_dir()));
    }
}
