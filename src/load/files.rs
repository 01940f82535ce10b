//! Facts about the image files that drops refer to: whether they exist, what they are, how
//! big they are, and a hash of their bytes. Gathered here so validation can stay pure.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Cursor;
use std::path::Path;

use image::{ImageDecoder, ImageFormat, ImageReader};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::model::{ImageFacts, SitePath, SourceFormat};

/// Source images larger than this are refused before decoding even starts.
const MAX_IMAGE_BYTES: u64 = 100 * 1024 * 1024;

/// What is known about each referenced path.
pub(crate) type FileFacts = BTreeMap<SitePath, FileFact>;

/// What a referenced path turned out to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum FileFact {
    /// A usable image.
    Image(ImageFacts),
    /// Nothing there; `siblings` are the files in the same folder, for a did-you-mean.
    Missing { siblings: Vec<String> },
    /// A folder, a device, or a symlink leading outside the site.
    NotAFile { reason: String },
    /// The file could not be read.
    Unreadable { reason: String },
    /// A file whose content is not an image format dropgen reads.
    Unsupported { detected: Option<String> },
    /// An image whose header cannot be decoded.
    Corrupt { reason: String },
}

/// Probes every path, in parallel: each probe reads one file and decodes only its header.
pub(crate) fn probe(root: &Path, paths: &BTreeSet<SitePath>) -> FileFacts {
    let canonical_root = super::canonical_root(root);
    let paths: Vec<&SitePath> = paths.iter().collect();
    paths.par_iter().map(|path| ((*path).clone(), probe_one(root, &canonical_root, path))).collect()
}

fn probe_one(root: &Path, canonical_root: &Path, path: &SitePath) -> FileFact {
    let on_disk = path.to_path(root);
    let meta = match fs::metadata(&on_disk) {
        Ok(meta) => meta,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return FileFact::Missing { siblings: siblings(root, path) };
        }
        Err(err) => return FileFact::Unreadable { reason: err.to_string() },
    };
    if !meta.is_file() {
        return FileFact::NotAFile { reason: "it is a folder, not a file".to_owned() };
    }
    match fs::canonicalize(&on_disk) {
        Ok(real) if real.starts_with(canonical_root) => {}
        Ok(_) => {
            return FileFact::NotAFile {
                reason: "it is a link to a file outside the site folder".to_owned(),
            };
        }
        Err(err) => return FileFact::Unreadable { reason: err.to_string() },
    }
    if meta.len() > MAX_IMAGE_BYTES {
        return FileFact::Unreadable {
            reason: format!(
                "it is {} MB; source images are limited to {} MB",
                meta.len() / 1_000_000,
                MAX_IMAGE_BYTES / 1_000_000
            ),
        };
    }
    match fs::read(&on_disk) {
        Ok(bytes) => image_facts(&bytes),
        Err(err) => FileFact::Unreadable { reason: err.to_string() },
    }
}

/// Identifies an image from its bytes (never from its extension) and reads its header.
pub(crate) fn image_facts(bytes: &[u8]) -> FileFact {
    let format = match image::guess_format(bytes) {
        Ok(ImageFormat::Jpeg) => SourceFormat::Jpeg,
        Ok(ImageFormat::Png) => SourceFormat::Png,
        Ok(ImageFormat::WebP) => SourceFormat::Webp,
        Ok(other) => return FileFact::Unsupported { detected: Some(format!("{other:?}").to_uppercase()) },
        Err(_) => return FileFact::Unsupported { detected: sniff_other(bytes) },
    };
    let header = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|err| err.to_string())
        .and_then(|reader| reader.into_decoder().map_err(|err| err.to_string()));
    let mut decoder = match header {
        Ok(decoder) => decoder,
        Err(reason) => return FileFact::Corrupt { reason },
    };
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return FileFact::Corrupt { reason: "the image has no pixels".to_owned() };
    }
    // A phone photo stored sideways with an EXIF rotation displays with swapped sides.
    let swaps_sides = decoder.orientation().is_ok_and(|orientation| {
        use image::metadata::Orientation::*;
        matches!(orientation, Rotate90 | Rotate270 | Rotate90FlipH | Rotate270FlipH)
    });
    let (width, height) = if swaps_sides { (height, width) } else { (width, height) };
    FileFact::Image(ImageFacts {
        format,
        width,
        height,
        bytes: bytes.len() as u64,
        sha256: hex_sha256(bytes),
    })
}

/// Names formats that people commonly try to use, so the error can say what the file is.
fn sniff_other(bytes: &[u8]) -> Option<String> {
    let starts = |magic: &[u8]| bytes.starts_with(magic);
    if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        let brand = &bytes[8..12];
        return Some(if brand == b"avif" || brand == b"avis" { "AVIF" } else { "HEIC" }.to_owned());
    }
    if starts(b"%PDF") {
        return Some("PDF".to_owned());
    }
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).to_ascii_lowercase();
    if head.contains("<svg") {
        return Some("SVG".to_owned());
    }
    None
}

fn siblings(root: &Path, path: &SitePath) -> Vec<String> {
    let Some(parent) = path.parent() else { return Vec::new() };
    let Ok(entries) = fs::read_dir(parent.to_path(root)) else { return Vec::new() };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|name| !name.starts_with('.'))
        .collect();
    names.sort();
    names
}

/// Lower-case hex SHA-256.
pub(crate) fn hex_sha256(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    crate::output::hex(&digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut bytes = Vec::new();
        image::RgbaImage::new(width, height)
            .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
            .unwrap();
        bytes
    }

    #[test]
    fn reads_format_and_size_from_bytes() {
        let FileFact::Image(facts) = image_facts(&png(3, 2)) else { panic!("not an image") };
        assert_eq!((facts.format, facts.width, facts.height), (SourceFormat::Png, 3, 2));
        assert_eq!(facts.sha256.len(), 64);
    }

    #[test]
    fn names_unsupported_and_corrupt_files() {
        assert_eq!(
            image_facts(b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
            FileFact::Unsupported { detected: Some("SVG".into()) }
        );
        assert_eq!(image_facts(b"hello"), FileFact::Unsupported { detected: None });
        let truncated = &png(3, 2)[..20];
        assert!(matches!(image_facts(truncated), FileFact::Corrupt { .. }));
    }
}
