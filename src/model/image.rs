//! Facts about a source image that every later stage needs: format, displayed size, hash.

/// A source image: its format, displayed size and content hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ImageFacts {
    pub format: SourceFormat,
    /// Width and height as displayed, i.e. after the EXIF orientation is applied.
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
    /// Lower-case hex SHA-256 of the file's bytes.
    pub sha256: String,
}

/// Source image formats dropgen reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum SourceFormat {
    Jpeg,
    Png,
    Webp,
}
