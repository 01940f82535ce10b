//! Stage: COMPRESS — precompressed `.br` and `.gz` siblings of text files.
//!
//! CDNs and object stores serve a sibling with `Content-Encoding` set when the client accepts
//! it, so visitors get brotli at maximum quality without the edge compressing on the fly.
//! Output is deterministic: brotli has no timestamps, and the gzip header's mtime is zero.

use std::io::Write;

use flate2::{Compression, GzBuilder};
use rayon::prelude::*;

use crate::output::{Artifact, Claim, Digest, Output};

/// Files smaller than this gain too little to be worth a second and third upload.
pub(crate) const MIN_BYTES: usize = 1024;

/// What this stage generates: a sibling of any file.
pub(crate) fn claims() -> Vec<Claim> {
    vec![Claim::Suffixes(&[".br", ".gz"], "the names of dropgen's precompressed copies")]
}

/// `<path>.br` and `<path>.gz` for every compressible text file of `output` of at least
/// [`MIN_BYTES`], only those that are actually smaller.
pub(crate) fn siblings(output: &Output) -> Vec<(String, Artifact)> {
    let candidates: Vec<(&String, &Artifact, &[u8])> = output
        .iter()
        .filter(|(_, artifact)| is_compressible(artifact.content_type) && artifact.bytes.len() >= MIN_BYTES)
        .map(|(path, artifact)| (path, artifact, artifact.bytes.as_slice()))
        .collect();
    candidates
        .par_iter()
        .flat_map_iter(|(path, artifact, bytes)| {
            [("br", "br", brotli(bytes)), ("gz", "gzip", gzip(bytes))]
                .into_iter()
                .filter(|(_, _, packed)| packed.len() < bytes.len())
                .map(|(ext, encoding, packed)| {
                    let sibling = Artifact {
                        digest: Digest::of(&packed),
                        bytes: packed,
                        encoding: Some(encoding),
                        // Pages reference the original; a browser checks the decoded bytes.
                        integrity: None,
                        variant_of: Some((*path).clone()),
                        ..(*artifact).clone()
                    };
                    (format!("{path}.{ext}"), sibling)
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

fn is_compressible(content_type: &str) -> bool {
    let mime = content_type.split(';').next().unwrap_or_default().trim();
    mime.starts_with("text/")
        || matches!(
            mime,
            "application/json" | "application/xml" | "image/svg+xml" | "application/manifest+json"
        )
}

/// Brotli at its highest quality: compression happens once per build, decompression at
/// every visit.
pub(crate) fn brotli(bytes: &[u8]) -> Vec<u8> {
    let mut packed = Vec::with_capacity(bytes.len() / 3);
    {
        let mut writer = brotli::CompressorWriter::new(&mut packed, 4096, 11, 22);
        writer.write_all(bytes).expect("writing to a Vec cannot fail");
    }
    packed
}

/// gzip at level 9 with a zero mtime and no file name, so identical input gives identical bytes.
pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder =
        GzBuilder::new().mtime(0).write(Vec::with_capacity(bytes.len() / 3), Compression::best());
    encoder.write_all(bytes).expect("writing to a Vec cannot fail");
    encoder.finish().expect("writing to a Vec cannot fail")
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;
    use crate::output::CacheClass;

    #[test]
    fn round_trips_and_is_deterministic() {
        let text = "<p>drop</p>\n".repeat(200);
        let gz = gzip(text.as_bytes());
        assert_eq!(gz, gzip(text.as_bytes()));
        let mut unpacked = String::new();
        flate2::read::GzDecoder::new(gz.as_slice()).read_to_string(&mut unpacked).unwrap();
        assert_eq!(unpacked, text);
        let br = brotli(text.as_bytes());
        let mut unpacked = Vec::new();
        ::brotli::Decompressor::new(br.as_slice(), 4096).read_to_end(&mut unpacked).unwrap();
        assert_eq!(unpacked, text.as_bytes());
    }

    #[test]
    fn compresses_large_text_files_only() {
        let mut output = Output::default();
        let page = "<p>drop</p>\n".repeat(200).into_bytes();
        output
            .insert("a/index.html".into(), Artifact::bytes(page, "a/index.html", CacheClass::Document, &[]));
        output
            .insert("small.css".into(), Artifact::bytes(b"p{}".to_vec(), "small.css", CacheClass::Data, &[]));
        output.insert("x.png".into(), Artifact::bytes(vec![0; 4096], "x.png", CacheClass::Immutable, &[]));
        for (path, artifact) in siblings(&output) {
            output.insert(path, artifact);
        }
        let paths: Vec<&str> = output.iter().map(|(path, _)| path.as_str()).collect();
        assert_eq!(paths, ["a/index.html", "a/index.html.br", "a/index.html.gz", "small.css", "x.png"]);
        let (_, br) = output.iter().find(|(path, _)| path.ends_with(".br")).unwrap();
        assert_eq!(
            (br.encoding, br.variant_of.as_deref(), br.content_type),
            (Some("br"), Some("a/index.html"), "text/html; charset=utf-8")
        );
        assert_eq!(br.class, CacheClass::Document);
    }
}
