//! The hand-off between the stages that produce files and the stage that writes them.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// Every file of the upload root, by path relative to it (`/`-separated, no leading `/`),
/// in sorted order so the write stage and later manifests see one fixed order.
#[derive(Debug, Default)]
pub(crate) struct Output {
    files: BTreeMap<String, Artifact>,
}

/// One output file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Artifact {
    pub(crate) content: Content,
    pub(crate) content_type: &'static str,
}

/// Where an output file's bytes come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Content {
    /// Produced in memory (pages, fingerprinted theme assets).
    Bytes(Vec<u8>),
    /// Copied from a file (source images), so large files never sit in memory.
    CopyOf(PathBuf),
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
