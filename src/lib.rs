//! dropgen: static pages for limited-time product drops.
//!
//! The build is a pipeline of stages, each in its own module, run in order by
//! [`pipeline::build`]:
//!
//! 1. `load`: read `dropgen.yaml`, `drops/*/drop.yaml`, the theme and image headers (IO only);
//! 2. `validate`: raw values → the [`model`], collecting every problem as a diagnostic (pure);
//! 3. `render`: the theme's templates are parsed right after validation, so theme and content
//!    problems show in one run;
//! 4. [`images`]: plan the variants of every source image (pure), then make them in parallel,
//!    through a persistent cache;
//! 5. `assets`: the theme's static files and the placeholder stylesheet, fingerprinted; then
//!    `render`: tera templates → pages, sitemap, robots.txt (pure);
//! 6. [`manifest`] and `compress`: `_headers`, `.br`/`.gz` siblings of text files, the upload
//!    manifest (pure);
//! 7. [`manifest`] and [`mod@write`]: changes and purge files, then the output staged beside
//!    `<out>` and swapped into place (the only writer).
//!
//! `ARCHITECTURE.md` has the same list, the data between the steps and where to change what.

pub(crate) mod assets;
/// What the benchmarks in `benches/` call; not part of dropgen's interface.
#[cfg(feature = "live")]
#[doc(hidden)]
pub mod benchmarks;
pub(crate) mod cache;
pub mod cli;
pub(crate) mod compress;
#[cfg(feature = "s3")]
pub(crate) mod deploy;
pub(crate) mod diagnostic;
pub(crate) mod error;
/// What the fuzz targets in `fuzz/` call; not part of dropgen's interface.
#[doc(hidden)]
pub mod fuzzing;
pub(crate) mod images;
pub(crate) mod inventory;
pub(crate) mod load;
pub(crate) mod lock;
pub(crate) mod manifest;
pub(crate) mod minify;
pub(crate) mod model;
pub(crate) mod output;
pub(crate) mod pipeline;
pub(crate) mod progress;
pub(crate) mod render;
pub(crate) mod rfc3339;
pub(crate) mod scaffold;
pub(crate) mod schema;
#[cfg(feature = "live")]
pub(crate) mod serve;
pub(crate) mod suggest;
pub(crate) mod validate;
pub(crate) mod write;

/// Every `name version` in Cargo.lock, for the tests that keep the encoder and compressor
/// versions named in cache keys equal to the ones built.
#[cfg(test)]
pub(crate) fn locked_crates() -> Vec<String> {
    include_str!("../Cargo.lock")
        .split("[[package]]")
        .filter_map(|package| {
            let field = |key: &str| {
                package
                    .lines()
                    .find_map(|line| line.strip_prefix(key)?.strip_prefix(" = \"")?.strip_suffix('"'))
            };
            Some(format!("{} {}", field("name")?, field("version")?))
        })
        .collect()
}
