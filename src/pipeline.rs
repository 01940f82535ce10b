//! The one place that runs the stages in order, as the steps of [`build`] (ARCHITECTURE.md
//! lists them): load → validate → templates → images → render (assets, then pages) →
//! manifest (`_headers`, compressed siblings, the manifest) → write.
//!
//! Each stage takes what it needs and returns what it makes; this module only orders them
//! and gathers their files into one `Output`. Problems from validation, templates, images,
//! assets and pages are collected and reported together; only `write` touches the output
//! folder, and only when everything before it succeeded.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::cache::GcReport;
use crate::compress::CompressCounts;
use crate::diagnostic::{Diagnostics, Sources};
use crate::error::Error;
use crate::images::ImageStats;
use crate::lock::{self, Contention};
use crate::manifest::BuildTime;
use crate::manifest::changes::Changes;
use crate::model::Site;
use crate::output::{Artifact, Claim, Discard, Output, Spool};
use crate::progress::Progress;
use crate::write::{Recovered, WriteReport};
use crate::{assets, cache, compress, images, inventory, load, manifest, render, validate, write};

/// What to build and how.
#[derive(Clone, Debug)]
pub(crate) struct BuildOptions {
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
    /// The image cache, a folder or `s3://bucket/prefix`; `None` for `<root>/.dropgen-cache`.
    pub cache_dir: Option<cache::Location>,
    /// Whether to wait for another dropgen holding the output or cache lock (`--no-wait`).
    pub contention: Contention,
    /// How the new output replaces the previous one: whole (`build`), or file by file
    /// (`serve`, where a rebuild after one edit should cost only what it changed).
    pub commit: write::Commit,
}

impl BuildOptions {
    /// The image cache this build uses.
    pub(crate) fn cache_dir(&self) -> cache::Location {
        self.cache_dir.clone().unwrap_or_else(|| cache::Location::Dir(self.root.join(cache::DEFAULT_DIR)))
    }
}

/// The result of a successful run.
#[derive(Debug)]
pub(crate) struct BuildReport {
    /// The site as built, for the summary and for `serve`'s mock inventory (which must not read
    /// the files again: they may have changed since).
    pub site: Site,
    pub drops: usize,
    /// Drafts checked but not built (without `--drafts`).
    pub skipped_drafts: usize,
    pub files: usize,
    /// Present when the output was written.
    pub written: Option<WriteReport>,
    /// What changed since the previous build; present when the output was written.
    pub changes: Option<Changes>,
    /// What a killed earlier build had left beside the output, cleaned up.
    pub recovered: Recovered,
    /// When a drop next changes phase, if a reference time was given.
    pub next_transition_at: Option<String>,
    /// The hydration script's size minified and gzipped, checked against its budget.
    pub script_gzip_bytes: Option<usize>,
    /// What the image stage made, reused and dropped.
    pub images: ImageStats,
    /// How many compressed copies were made and how many came from the cache.
    pub compressed: CompressCounts,
    /// Warnings (never errors: a report means the build succeeded).
    pub diagnostics: Diagnostics,
    /// Source texts for rendering the warnings.
    pub sources: Sources,
    /// Wall time of each stage, in order.
    pub timings: Vec<(&'static str, Duration)>,
}

/// A failed run: the error, and the sources needed to show its diagnostics.
#[derive(Debug)]
pub(crate) struct BuildFailure {
    pub error: Error,
    pub sources: Sources,
}

/// What a process that builds the same site again and again (`serve`) keeps from one build
/// to the next, so that an edit costs what it changed rather than what the site holds. Only
/// memoised pure work: a build with it writes the same bytes as a build without.
#[derive(Debug, Default)]
pub(crate) struct Memory {
    markdown: render::markdown::Memo,
}

/// Runs the pipeline, reusing what earlier builds left in `memory` and leaving this one's
/// there (a one-off build passes `&mut Memory::default()`). Returns every problem at once on
/// failure. Long stages report to `progress`.
pub(crate) fn build(
    options: &BuildOptions,
    progress: &dyn Progress,
    memory: &mut Memory,
) -> Result<BuildReport, Box<BuildFailure>> {
    let mut run = Run::default();
    let (_output_lock, recovered) = claim_output(&mut run, options, progress)?;
    let loaded = run.timed("load", |_| load::site(&options.root)).map_err(|err| run.fail(err))?;
    let site = run.timed("validate", |run| validate(run, &loaded, options.drafts));
    // Template syntax is checked even when the content has errors, so a theme author and a
    // marketer each see their problems in one run.
    let templates = run.timed("templates", |run| templates(run, &loaded));
    let (Some(site), Some((templates, theme))) = (site, templates) else {
        return Err(run.content_failure());
    };
    run.stop_on_errors()?;

    let caches = Caches::open(&mut run, options, progress)?;
    let target = match &options.out {
        Some(out) => Some(Target::open(out, options.commit).map_err(|err| run.fail(err))?),
        None => None,
    };
    let spool: &dyn Spool = target.as_ref().map_or(&Discard, |target| &target.staging);
    let (images, image_files) = run.timed("images", |run| {
        let max_pixels = u64::from(site.config.images.max_megapixels) * 1_000_000;
        let (images, files, problems) =
            images::run(&images::plan(&site), &options.root, &caches.images, spool, max_pixels, progress);
        run.diagnostics.extend(problems);
        (images, files)
    });
    // Pages are rendered even when an image failed, so template problems show in the same run.
    let rendered = run.timed("render", |run| {
        let assets = run.keep(assets::collect(&theme, &claims(&site), &images.placeholder_css()))?;
        let now = options.time.reference.unwrap_or_else(time::OffsetDateTime::now_utc);
        let pages =
            run.keep(render::pages(&site, &templates, &assets.urls, &images, &memory.markdown, now))?;
        for gap in render::hydration_warnings(&site, &pages, &templates, &assets.urls) {
            run.diagnostics.push(gap);
        }
        for soft in render::hero_width::warnings(&site, &pages, &images) {
            run.diagnostics.push(soft);
        }
        Some((assets, pages))
    });
    memory.markdown.rotate();
    let (assets, pages) = rendered.ok_or_else(|| run.content_failure())?;
    run.stop_on_errors()?;

    let (output, upload, compressed) = run.timed("manifest", |run| {
        let files = StageFiles {
            images: image_files,
            generated: assets.generated,
            theme_files: assets.theme_files,
            pages,
        };
        let (output, compressed) = gather(run, &site, files, &assets.urls, &caches.compressed, spool)?;
        for trouble in cache::warnings(&caches.location, &[&caches.images, &caches.compressed]) {
            run.diagnostics.push(trouble);
        }
        let upload = manifest::build(&site, &output, &images, options.time);
        Ok::<_, Box<BuildFailure>>((output, upload, compressed))
    })?;
    let (written, changes) = target
        .map(|target| run.timed("write", |run| write_output(run, target, options, &site, &upload, &output)))
        .transpose()?
        .unzip();

    Ok(BuildReport {
        drops: site.drops.len(),
        skipped_drafts: site.skipped_drafts,
        files: output.len(),
        written,
        changes,
        recovered,
        next_transition_at: upload.build.next_transition_at,
        script_gzip_bytes: assets::script_gzip_size(&theme),
        images: images.stats,
        compressed,
        diagnostics: run.diagnostics,
        sources: run.sources,
        timings: run.timings,
        site,
    })
}

/// The output a build writes: its folder, and the staging folder that files go into as they
/// are made, which knows what the previous output holds.
struct Target<'a> {
    out: &'a Path,
    staging: write::Staging,
}

impl Target<'_> {
    fn open(out: &Path, commit: write::Commit) -> Result<Target<'_>, Error> {
        let staging = write::Staging::begin(out, manifest::in_place_files(out), commit)?;
        Ok(Target { out, staging })
    }
}

/// What `dropgen build --shard` did: its share of the image work, in the cache.
#[derive(Debug)]
pub(crate) struct ShardReport {
    pub shard: images::Shard,
    /// Distinct sources that fell to this shard, of all the site's.
    pub sources: usize,
    pub all_sources: usize,
    pub images: ImageStats,
    pub diagnostics: Diagnostics,
    pub sources_text: Sources,
}

/// `dropgen build --shard K/N`: load and validate the site, then make only the image variants
/// whose sources fall to `shard` (by content hash), into the cache. Writes no site output: a
/// build without `--shard` after every shard has run finds all of them in the cache.
pub(crate) fn build_shard(
    options: &BuildOptions,
    shard: images::Shard,
    progress: &dyn Progress,
) -> Result<ShardReport, Box<BuildFailure>> {
    let mut run = Run::default();
    let loaded = run.timed("load", |_| load::site(&options.root)).map_err(|err| run.fail(err))?;
    let site = run.timed("validate", |run| validate(run, &loaded, options.drafts));
    let Some(site) = site else { return Err(run.content_failure()) };
    run.stop_on_errors()?;
    let cache_dir = options.cache_dir();
    let _cache_lock = lock_cache(&mut run, options, progress)?;
    let store = cache::Store::open(&cache_dir).map_err(|err| run.fail(err))?;
    let cache = store.cache(cache::Kind::Images).map_err(|err| run.fail(err))?;
    let plan = images::plan(&site);
    let all_sources = plan.sources.len();
    let plan = plan.shard(shard);
    let max_pixels = u64::from(site.config.images.max_megapixels) * 1_000_000;
    let (images, _files, problems) =
        run.timed("images", |_| images::run(&plan, &options.root, &cache, &Discard, max_pixels, progress));
    run.diagnostics.extend(problems);
    for trouble in cache::warnings(&cache_dir, &[&cache]) {
        run.diagnostics.push(trouble);
    }
    run.stop_on_errors()?;
    Ok(ShardReport {
        shard,
        sources: plan.sources.len(),
        all_sources,
        images: images.stats,
        diagnostics: run.diagnostics,
        sources_text: run.sources,
    })
}

/// What a run has gathered so far: its timings, the sources to show problems in, and the
/// problems themselves.
#[derive(Default)]
struct Run {
    timings: Vec<(&'static str, Duration)>,
    sources: Sources,
    diagnostics: Diagnostics,
}

impl Run {
    /// Runs one stage and records how long it took.
    fn timed<T>(&mut self, name: &'static str, stage: impl FnOnce(&mut Run) -> T) -> T {
        let start = Instant::now();
        let result = stage(self);
        self.timings.push((name, start.elapsed()));
        result
    }

    /// Keeps a stage's problems; its result when it has none.
    fn keep<T>(&mut self, result: Result<T, Diagnostics>) -> Option<T> {
        result.map_err(|problems| self.diagnostics.extend(problems)).ok()
    }

    fn fail(&mut self, error: Error) -> Box<BuildFailure> {
        Box::new(BuildFailure { error, sources: self.sources.clone() })
    }

    fn content_failure(&mut self) -> Box<BuildFailure> {
        let diagnostics = std::mem::take(&mut self.diagnostics);
        self.fail(Error::Content(diagnostics))
    }

    fn stop_on_errors(&mut self) -> Result<(), Box<BuildFailure>> {
        if self.diagnostics.has_errors() { Err(self.content_failure()) } else { Ok(()) }
    }
}

/// The output folder's lock, held until the new output is in place (one writer per folder),
/// and what an interrupted earlier build left there, put right.
fn claim_output(
    run: &mut Run,
    options: &BuildOptions,
    progress: &dyn Progress,
) -> Result<(Option<lock::Held>, Recovered), Box<BuildFailure>> {
    let Some(out) = &options.out else { return Ok((None, Recovered::default())) };
    write::check_out_dir(&options.root, out).map_err(|err| run.fail(err))?;
    cache::check_outside(&options.cache_dir(), out).map_err(|err| run.fail(err))?;
    let held = lock::output(out, options.contention, progress).map_err(|err| run.fail(err))?;
    Ok((Some(held), write::recover(out).map_err(|err| run.fail(err))?))
}

/// The files beside `public/` (the changes against the previous manifest, the purge files,
/// `inventory.json`, the manifest last), then the staged output swapped into place.
fn write_output(
    run: &mut Run,
    Target { out, staging }: Target<'_>,
    options: &BuildOptions,
    site: &Site,
    upload: &manifest::UploadManifest,
    output: &Output,
) -> Result<(WriteReport, Changes), Box<BuildFailure>> {
    // Read now rather than with the staging folder: at 10,000 drops it is tens of megabytes
    // that the stages in between would otherwise carry.
    let previous =
        manifest::Previous::read(out, options.previous_manifest.as_deref()).map_err(|err| run.fail(err))?;
    let (mut beside, changes) = manifest::beside(upload, &previous, &site.config.delivery, options.time);
    // What the inventory service sells, for it alone: beside `public/`, never in it. Before
    // the manifest, which stays the last file written.
    let catalog = inventory::Catalog::of_site(site).to_json();
    beside.insert(beside.len().saturating_sub(1), (inventory::CATALOG_FILE.to_owned(), catalog));
    let report = write::all(staging, output, &beside).map_err(|err| run.fail(err))?;
    Ok((report, changes))
}

/// The persistent caches of encoded images and compressed files, with the lock that keeps a
/// sweep from removing what this build writes.
struct Caches {
    location: cache::Location,
    images: cache::Cache,
    compressed: cache::Cache,
    _lock: Option<lock::Held>,
}

impl Caches {
    fn open(
        run: &mut Run,
        options: &BuildOptions,
        progress: &dyn Progress,
    ) -> Result<Self, Box<BuildFailure>> {
        let location = options.cache_dir();
        let lock = lock_cache(run, options, progress)?;
        let store = cache::Store::open(&location).map_err(|err| run.fail(err))?;
        let images = store.cache(cache::Kind::Images).map_err(|err| run.fail(err))?;
        let compressed = store.cache(cache::Kind::Compressed).map_err(|err| run.fail(err))?;
        Ok(Caches { location, images, compressed, _lock: lock })
    }
}

/// The cache lock, shared with other builds; a build alone with the cache first sweeps what
/// killed builds left in it. Object storage has neither locks nor temporary files.
fn lock_cache(
    run: &mut Run,
    options: &BuildOptions,
    progress: &dyn Progress,
) -> Result<Option<lock::Held>, Box<BuildFailure>> {
    let cache::Location::Dir(dir) = options.cache_dir() else { return Ok(None) };
    lock::cache_for_build(&dir, options.contention, progress, || cache::sweep_temporaries(&dir))
        .map(Some)
        .map_err(|err| run.fail(err))
}

/// Raw values → the model.
fn validate(run: &mut Run, loaded: &load::LoadedSite, drafts: bool) -> Option<Site> {
    let (site, problems) = validate::site(loaded, drafts);
    run.sources.extend(loaded.sources.clone());
    run.diagnostics.extend(problems);
    site
}

/// The theme's templates, parsed, and its static files with scripts and stylesheets
/// minified, the script within budget.
fn templates(run: &mut Run, loaded: &load::LoadedSite) -> Option<(render::Templates, load::ThemeFiles)> {
    let theme = run.keep(assets::minified(&loaded.theme));
    if let Some(over_budget) = theme.as_ref().and_then(assets::check_budget) {
        run.diagnostics.push(over_budget);
    }
    let templates = render::compile(&loaded.theme, &mut run.sources);
    Some((run.keep(templates)?, theme?))
}

/// The paths every stage generates, which the theme's static files may not take.
fn claims(site: &Site) -> Vec<Claim> {
    [
        render::claims(site),
        images::claims(),
        assets::claims(),
        compress::claims(),
        manifest::headers::claims(),
    ]
    .concat()
}

/// The files the stages made, before `gather` puts them into one `Output`.
struct StageFiles {
    images: Vec<(String, Artifact)>,
    generated: Vec<(String, Artifact)>,
    /// With the theme file each came from.
    theme_files: Vec<(String, Artifact, String)>,
    pages: Vec<(String, Artifact)>,
}

/// Every file of the upload root: what the stages made, `_headers` and the compressed
/// siblings (through `compressed_cache`), each handed to `spool` once made, so that the
/// `Output` returned holds digests, not bytes. A clash at a theme file is a problem there;
/// any other is a bug.
fn gather(
    run: &mut Run,
    site: &Site,
    files: StageFiles,
    asset_urls: &assets::AssetUrls,
    compressed_cache: &cache::Cache,
    spool: &dyn Spool,
) -> Result<(Output, CompressCounts), Box<BuildFailure>> {
    let mut output = Output::default();
    output.extend(files.images);
    output.extend(files.generated);
    for (path, artifact, origin) in files.theme_files {
        output.insert_theme_file(path, artifact, &origin);
    }
    output.extend(files.pages);
    let ((path, headers), warning) =
        manifest::headers::file(site, asset_urls, &render::page_patterns(site), &output);
    if let Some(too_many_rules) = warning {
        run.diagnostics.push(too_many_rules);
    }
    let (siblings, compressed) = compress::siblings(&output, compressed_cache, spool);
    output.extend(siblings);
    output.insert(path, headers);
    for clash in output.clashes() {
        match &clash.theme_file {
            Some(origin) => run.diagnostics.push(assets::clash(origin, &clash.path)),
            None => return Err(run.fail(Error::Internal(format!("two stages generate `{}`", clash.path)))),
        }
    }
    run.stop_on_errors()?;
    // No stage after this one reads a file's bytes: from here on, digests are enough.
    write::spool_rest(&mut output, spool);
    Ok((output, compressed))
}

/// `dropgen cache gc`: deletes the cache entries the site (drafts included) no longer uses:
/// images the site does not show, and compressed copies of files that the last build in
/// `options.out` (its `manifest.json`) did not publish. Refused while the site has errors,
/// because a drop with errors would lose its images.
pub(crate) fn cache_gc(
    options: &BuildOptions,
    progress: &dyn Progress,
) -> Result<CacheGc, Box<BuildFailure>> {
    let fail = |error: Error, sources: Sources| Box::new(BuildFailure { error, sources });
    let loaded = load::site(&options.root).map_err(|err| fail(err, Sources::new()))?;
    let (site, diagnostics) = validate::site(&loaded, true);
    let site = match site {
        Some(site) if !diagnostics.has_errors() => site,
        _ => return Err(fail(Error::Content(diagnostics), loaded.sources.clone())),
    };
    let cache_dir = options.cache_dir();
    // Object storage has no locks: there, `cache gc` must not run beside a build (cache.rs).
    let _cache_lock = match &cache_dir {
        cache::Location::Dir(dir) => Some(
            lock::cache_exclusive(dir, options.contention, progress)
                .map_err(|err| fail(err, Sources::new()))?,
        ),
        cache::Location::S3(_) => None,
    };
    let store = cache::Store::open(&cache_dir).map_err(|err| fail(err, Sources::new()))?;
    let io = |err| fail(cache_dir.error(err), Sources::new());
    let images_cache = store.cache(cache::Kind::Images).map_err(|err| fail(err, Sources::new()))?;
    let keep = images::cache_keys(&images::plan(&site), &images_cache);
    let images = images_cache.gc(&keep).map_err(io)?;

    let published = match &options.out {
        Some(out) => manifest::read_previous(&out.join(manifest::MANIFEST_FILE), false)
            .map_err(|err| fail(err, Sources::new()))?,
        None => None,
    };
    let keep =
        published.map(|published| compress::cache_keys(published.compressed_originals())).unwrap_or_default();
    let compressed_cache = store.cache(cache::Kind::Compressed).map_err(|err| fail(err, Sources::new()))?;
    let compressed = compressed_cache.gc(&keep).map_err(io)?;
    Ok(CacheGc { images, compressed })
}

/// What `dropgen cache gc` removed and kept, of each kind.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CacheGc {
    pub images: GcReport,
    pub compressed: GcReport,
}
