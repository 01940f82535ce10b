//! The one place that runs the stages in order:
//! load → validate → images (plan, then run) → assets → render → headers → compress →
//! manifest → write.
//!
//! Each stage hands the next plain data. Problems from load, validate and render are
//! collected and reported together; only `write` touches the output folder, and only when
//! everything before it succeeded.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::diagnostic::{Diagnostic, Diagnostics, Kind, Location, Sources};
use crate::error::Error;
use crate::images::ImageStats;
use crate::images::cache::GcReport;
use crate::manifest::BuildTime;
use crate::manifest::changes::Changes;
use crate::model::{CacheClass, CacheTag, Site};
use crate::output::{Artifact, Output};
use crate::progress::Progress;
use crate::write::WriteReport;
use crate::{assets, compress, images, load, manifest, render, validate, write};

/// What to build and how.
#[derive(Clone, Debug)]
pub struct BuildOptions {
    /// The site folder (holding `dropgen.yaml`).
    pub root: PathBuf,
    /// Where to write; `None` for `check`, which builds in memory only.
    pub out: Option<PathBuf>,
    /// Build drops marked `draft: true` too.
    pub drafts: bool,
    /// The manifest to compare with; default `<out>/manifest.json` from the previous build.
    pub previous_manifest: Option<PathBuf>,
    /// `--now` and `SOURCE_DATE_EPOCH`.
    pub time: BuildTime,
    /// The image cache; `None` for `<root>/.dropgen-cache`.
    pub cache_dir: Option<PathBuf>,
}

impl BuildOptions {
    /// The image cache folder this build uses.
    pub fn cache_dir(&self) -> PathBuf {
        self.cache_dir.clone().unwrap_or_else(|| self.root.join(images::cache::DEFAULT_DIR))
    }
}

/// Beside the upload root: the manifest, the comparison with the previous build, and the
/// purge list (plain and as CDN requests).
pub const MANIFEST_FILE: &str = "manifest.json";
pub const CHANGES_FILE: &str = "changes.json";
pub const PURGE_FILE: &str = "purge.txt";
pub const PURGE_DIR: &str = "purge";

/// The result of a successful run.
#[derive(Debug)]
pub struct BuildReport {
    /// The site as built, for `serve`'s mock inventory (which must not read the files again:
    /// they may have changed since).
    pub site: Site,
    pub drops: usize,
    pub files: usize,
    /// Present when the output was written.
    pub written: Option<WriteReport>,
    /// What changed since the previous build; present when the output was written.
    pub changes: Option<Changes>,
    /// When a drop next changes phase, if a reference time was given.
    pub next_transition_at: Option<String>,
    /// The hydration script's gzipped size, checked against its budget.
    pub script_gzip_bytes: Option<usize>,
    /// What the image stage made, reused and dropped.
    pub images: ImageStats,
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

/// Runs the pipeline. Returns every problem at once on failure. Long stages report to
/// `progress`.
pub fn build(options: &BuildOptions, progress: &dyn Progress) -> Result<BuildReport, Box<BuildFailure>> {
    let mut timings = Vec::new();
    let mut sources = Sources::new();
    let fail = |error: Error, sources: Sources| Box::new(BuildFailure { error, sources });
    let mut timed = |name: &'static str, start: Instant| timings.push((name, start.elapsed()));

    if let Some(out) = &options.out {
        write::check_out_dir(&options.root, out).map_err(|err| fail(err, Sources::new()))?;
        let (cache, out) = (std::path::absolute(options.cache_dir()), std::path::absolute(out));
        if let (Ok(cache), Ok(out)) = (cache, out)
            && cache.starts_with(&out)
        {
            let message = format!(
                "the image cache `{}` is inside the output folder `{}`, which every build replaces; \
                 give `--cache-dir` (or DROPGEN_CACHE_DIR) a folder outside it",
                cache.display(),
                out.display()
            );
            return Err(fail(Error::Usage(message), Sources::new()));
        }
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
    if let Some(over_budget) = assets::check_budget(&loaded.theme) {
        diagnostics.push(over_budget);
    }
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

    timed("templates", start);

    let start = Instant::now();
    let mut output = Output::default();
    let image_plan = images::plan(&site);
    let cache_dir = options.cache_dir();
    let cache = images::cache::Cache::open(&cache_dir)
        .map_err(|err| fail(Error::io(&cache_dir, err), sources.clone()))?;
    let max_pixels = u64::from(site.config.images.max_megapixels) * 1_000_000;
    let (images, image_errors) =
        images::run(&image_plan, &options.root, &cache, max_pixels, progress, &mut output);
    diagnostics.extend(image_errors);
    timed("images", start);

    // Pages are rendered even when an image failed, so template problems show in the same run.
    let start = Instant::now();
    let claims = [
        render::claims(&site),
        images::claims(),
        assets::claims(),
        compress::claims(),
        manifest::headers::claims(),
    ]
    .concat();
    let asset_urls = match assets::collect(&loaded.theme, &claims, &images.placeholder_css(), &mut output) {
        Ok(urls) => urls,
        Err(asset_errors) => {
            diagnostics.extend(asset_errors);
            return Err(fail(Error::Content(diagnostics), sources));
        }
    };
    if let Err(render_errors) = render::pages(&site, &templates, &asset_urls, &images, &mut output) {
        diagnostics.extend(render_errors);
    }
    if diagnostics.has_errors() {
        return Err(fail(Error::Content(diagnostics), sources));
    }
    timed("render", start);

    let start = Instant::now();
    let data_paths: Vec<String> = output
        .iter()
        .filter(|(_, artifact)| artifact.class == CacheClass::Data && artifact.variant_of.is_none())
        .map(|(path, _)| path.clone())
        .collect();
    let pages = render::page_patterns(&site);
    let (headers, rules) = manifest::headers::render(&site, &asset_urls, &data_paths, &pages);
    if rules > manifest::headers::MAX_RULES {
        diagnostics.push(Diagnostic::warning(
            Kind::InvalidValue,
            Location::file(crate::load::CONFIG_FILE),
            format!("`_headers` has {rules} rules; Cloudflare Pages reads only the first {}", manifest::headers::MAX_RULES),
        ).help("the last drops' pages get the platform's default headers; set the headers at your CDN instead"));
    }
    // `_headers` is platform configuration, never served, so it gets no compressed siblings.
    compress::siblings(&mut output);
    let headers_path = manifest::headers::PATH;
    output.insert(
        headers_path.to_owned(),
        Artifact::bytes(headers.into_bytes(), headers_path, CacheClass::Data, &[CacheTag::Site]),
    );
    for clash in output.clashes() {
        match &clash.theme_file {
            Some(origin) => diagnostics.push(assets::clash(origin, &clash.path)),
            None => {
                let error = Error::Internal(format!("two stages generate `{}`", clash.path));
                return Err(fail(error, sources));
            }
        }
    }
    if diagnostics.has_errors() {
        return Err(fail(Error::Content(diagnostics), sources));
    }
    let upload_manifest = manifest::build(&site, &output, &images, options.time);
    timed("manifest", start);

    let (written, changes) = match &options.out {
        Some(out) => {
            let start = Instant::now();
            let previous_path = options.previous_manifest.clone().unwrap_or_else(|| out.join(MANIFEST_FILE));
            let explicit = options.previous_manifest.is_some();
            let previous = manifest::read_previous(&previous_path, explicit)
                .map_err(|err| fail(err, sources.clone()))?;
            let delivery = &site.config.delivery;
            let changes =
                manifest::changes::compare(previous.as_ref(), &upload_manifest, delivery, options.time);
            let mut beside: Vec<(String, Vec<u8>)> = vec![
                (CHANGES_FILE.to_owned(), manifest::to_stable_json(&changes)),
                (PURGE_FILE.to_owned(), manifest::purge::lines(changes.purge.iter().map(String::as_str))),
            ];
            for (name, bytes) in
                manifest::purge::files(&changes, &upload_manifest, previous.as_ref(), delivery)
            {
                beside.push((format!("{PURGE_DIR}/{name}"), bytes));
            }
            // Last, so a manifest never describes files that were not written.
            beside.push((MANIFEST_FILE.to_owned(), manifest::to_stable_json(&upload_manifest)));
            let report = write::all(&output, out, &beside).map_err(|err| fail(err, sources.clone()))?;
            timed("write", start);
            (Some(report), Some(changes))
        }
        None => (None, None),
    };

    Ok(BuildReport {
        drops: site.drops.len(),
        files: output.len(),
        written,
        changes,
        next_transition_at: upload_manifest.build.next_transition_at,
        script_gzip_bytes: assets::script_gzip_size(&loaded.theme),
        images: images.stats,
        diagnostics,
        sources,
        timings,
        site,
    })
}

/// `dropgen cache gc`: deletes the cache entries the site (drafts included) no longer uses.
/// Refused while the site has errors, because a drop with errors would lose its images.
pub fn cache_gc(options: &BuildOptions) -> Result<GcReport, Box<BuildFailure>> {
    let fail = |error: Error, sources: Sources| Box::new(BuildFailure { error, sources });
    let loaded = load::site(&options.root).map_err(|err| fail(err, Sources::new()))?;
    let (site, diagnostics) = validate::site(&loaded, true);
    let site = match site {
        Some(site) if !diagnostics.has_errors() => site,
        _ => return Err(fail(Error::Content(diagnostics), loaded.sources.clone())),
    };
    let cache_dir = options.cache_dir();
    let cache = images::cache::Cache::open(&cache_dir)
        .map_err(|err| fail(Error::io(&cache_dir, err), Sources::new()))?;
    let keep = images::cache_keys(&images::plan(&site), &cache);
    cache.gc(&keep).map_err(|err| fail(Error::io(&cache_dir, err), Sources::new()))
}
