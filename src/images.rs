//! Stage: IMAGES — publishes every source image a page refers to.
//!
//! Today each source is published unchanged under a content-addressed name
//! (`/_img/<stem>-<hash>.<ext>`), so a changed photo always gets a new URL and identical files
//! used by several drops are published once. The responsive AVIF/WebP pipeline replaces the
//! copy with resized variants; `plan` stays the pure part that templates depend on.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::error::Error;
use crate::model::{ImageRef, Site, SitePath};
use crate::output::{Artifact, CacheClass, Output};

/// The folder of the upload root that holds published images. Slugs cannot start with `_`,
/// so it can never collide with a drop page.
pub(crate) const IMAGE_DIR: &str = "_img";

/// Published URL (root-relative) of every source image, by source path.
pub(crate) type ImageUrls = BTreeMap<SitePath, String>;

/// Every image the site refers to, with the path it is published under. Pure and
/// deterministic: names depend only on the source's name and bytes.
pub(crate) fn plan(site: &Site) -> ImageUrls {
    let mut urls = ImageUrls::new();
    for drop in &site.drops {
        let images = std::iter::once(&drop.hero).chain(drop.products.iter().flat_map(|p| p.images.iter()));
        for image in images {
            urls.entry(image.source.clone()).or_insert_with(|| format!("/{}", published_path(image)));
        }
    }
    urls
}

/// `_img/<stem>-<first 10 hex of sha256>.<ext>`, the stem reduced to URL-safe characters.
fn published_path(image: &ImageRef) -> String {
    let stem = url_safe_stem(image.source.stem());
    let hash = &image.facts.sha256[..10];
    format!("{IMAGE_DIR}/{stem}-{hash}.{}", image.facts.format.extension())
}

fn url_safe_stem(stem: &str) -> String {
    let mut safe = String::new();
    for c in stem.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            safe.push(c);
        } else if !safe.is_empty() && !safe.ends_with('-') {
            safe.push('-');
        }
    }
    let safe = safe.trim_end_matches('-');
    if safe.is_empty() { "image".to_owned() } else { safe.chars().take(60).collect() }
}

/// Adds every planned image to the output as a copy of its source file. Sources with the same
/// bytes share one published name and are copied once; the file is tagged with every drop
/// that shows it, so purging a drop's tag reaches its images.
pub(crate) fn run(site: &Site, root: &Path, urls: &ImageUrls, output: &mut Output) -> Result<(), Error> {
    let mut published: BTreeMap<&str, (&ImageRef, BTreeSet<String>)> = BTreeMap::new();
    for drop in &site.drops {
        let images = std::iter::once(&drop.hero).chain(drop.products.iter().flat_map(|p| p.images.iter()));
        for image in images {
            let url = urls[&image.source].as_str();
            let entry = published.entry(url).or_insert_with(|| (image, BTreeSet::from(["site".to_owned()])));
            entry.1.insert(drop.slug.as_str().to_owned());
        }
    }
    for (url, (image, tags)) in published {
        let source = image.source.to_path(root);
        let artifact =
            Artifact::copy_of(source.clone(), image.facts.format.mime(), CacheClass::Immutable, tags)
                .map_err(|err| Error::io(&source, err))?;
        output.insert(url.trim_start_matches('/').to_owned(), artifact);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_become_url_safe() {
        assert_eq!(url_safe_stem("Hero Shot (final)"), "hero-shot-final");
        assert_eq!(url_safe_stem("ÄÖ"), "image");
        assert_eq!(url_safe_stem("blue_herd.detail"), "blue-herd-detail");
    }
}
