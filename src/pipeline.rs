//! The one place that runs the stages in order:
//! load → validate → plan images → assets → render → images → write.
//!
//! Each stage hands the next plain data. Problems from load, validate and render are
//! collected and reported together; only `write` touches the output folder, and only when
//! everything before it succeeded.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::diagnostic::{Diagnostics, Sources};
use crate::error::Error;
use crate::model::Site;
use crate::output::Output;
use crate::write::WriteReport;
use crate::{assets, images, load, render, validate, write};

/// What to build and how.
#[derive(Clone, Debug)]
pub struct BuildOptions {
    /// The site folder (holding `dropgen.yaml`).
    pub root: PathBuf,
    /// Where to write; `None` for `check`, which builds in memory only.
    pub out: Option<PathBuf>,
    /// Build drops marked `draft: true` too.
    pub drafts: bool,
}

/// The result of a successful run.
#[derive(Debug)]
pub struct BuildReport {
    pub drops: usize,
    pub files: usize,
    /// Present when the output was written.
    pub written: Option<WriteReport>,
    /// Warnings (never errors: a report means the build succeeded).
    pub diagnostics: Diagnostics,
    /// Source texts for rendering the warnings.
    pub sources: Sources,
    /// Wall time of each stage, in order.
    pub timings: Vec<(&'static str, Duration)>,
}

/// A failed run: the error, and the sources needed to show its diagnostics.
#[derive(Debug)]
pub struct BuildFailure {
    pub error: Error,
    pub sources: Sources,
}

/// Runs the pipeline. Returns every problem at once on failure.
pub fn build(options: &BuildOptions) -> Result<BuildReport, Box<BuildFailure>> {
    let mut timings = Vec::new();
    let mut sources = Sources::new();
    let fail = |error: Error, sources: Sources| Box::new(BuildFailure { error, sources });
    let mut timed = |name: &'static str, start: Instant| timings.push((name, start.elapsed()));

    if let Some(out) = &options.out {
        write::check_out_dir(&options.root, out).map_err(|err| fail(err, Sources::new()))?;
    }

    let start = Instant::now();
    let loaded = load::site(&options.root).map_err(|err| fail(err, Sources::new()))?;
    timed("load", start);

    let start = Instant::now();
    let (site, mut diagnostics) = validate::site(&loaded, options.drafts);
    sources.extend(loaded.sources.clone());
    timed("validate", start);

    // Template syntax is checked even when the content has errors, so a theme author and a
    // marketer each see their problems in one run.
    let start = Instant::now();
    let templates = render::compile(&loaded.theme, &mut sources);
    let (site, templates): (Site, render::Templates) = match (site, templates) {
        (Some(site), Ok(templates)) if !diagnostics.has_errors() => (site, templates),
        (_, templates) => {
            if let Err(template_errors) = templates {
                diagnostics.extend(template_errors);
            }
            return Err(fail(Error::Content(diagnostics), sources));
        }
    };

    let mut output = Output::default();
    let image_urls = images::plan(&site);
    let asset_urls = assets::collect(&loaded.theme, &mut output);
    if let Err(render_errors) = render::pages(&site, &templates, &asset_urls, &image_urls, &mut output) {
        diagnostics.extend(render_errors);
        return Err(fail(Error::Content(diagnostics), sources));
    }
    timed("render", start);

    let start = Instant::now();
    images::run(&site, &options.root, &image_urls, &mut output);
    timed("images", start);

    let written = match &options.out {
        Some(out) => {
            let start = Instant::now();
            let report = write::all(&output, out).map_err(|err| fail(err, sources.clone()))?;
            timed("write", start);
            Some(report)
        }
        None => None,
    };

    Ok(BuildReport { drops: site.drops.len(), files: output.len(), written, diagnostics, sources, timings })
}
