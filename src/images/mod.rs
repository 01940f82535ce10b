//! Stage: IMAGES — responsive variants of every image a drop shows.
//!
//! `plan` is pure: the distinct sources (by content), their output sizes, formats and
//! names. `run` does the work, in parallel at one call site: for each source, every variant
//! found in the [`crate::cache`] is reused; otherwise the source is decoded once (`decode`: EXIF
//! orientation, ICC → sRGB, linear light), resized once per width (`resize`) and encoded
//! once per format (`encode`). A `budget` of decoded pixels bounds memory whatever the
//! number of images or threads. Pages are rendered after this stage because the markup
//! depends on its results: a source's AVIF set is dropped when any of its AVIFs is no smaller
//! than the WebP of its width, and whether the fallback is JPEG or PNG depends on real
//! transparency.

mod avif;
mod avif_set;
mod budget;
pub(crate) mod decode;
pub(crate) mod encode;
pub(crate) mod plan;
mod resize;
mod rule;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::diagnostic::{Diagnostic, Diagnostics, Kind};
use crate::model::SitePath;
use crate::output::{self, Artifact, CacheClass, Spool};
use crate::progress::Progress;

use crate::cache::{Cache, CacheCounts};
use avif_set::{avif_set_loses, is_avif, rounds, smallest_avif, webp_sizes};
use budget::PixelBudget;
use decode::Analysis;
use encode::{Encoding, OutputFormat};
pub(crate) use plan::Shard;
pub(crate) use plan::{ImagePlan, plan};
use plan::{Size, SourcePlan};

/// The folder of the upload root that holds published images. Slugs cannot start with `_`,
/// so it can never collide with a drop page.
pub(crate) const IMAGE_DIR: &str = "_img";

/// What this stage generates.
pub(crate) fn claims() -> Vec<crate::output::Claim> {
    let what = "which dropgen fills with content-hashed files".to_owned();
    vec![crate::output::Claim::Folder(IMAGE_DIR.to_owned(), what)]
}

/// Decoded source pixels allowed in memory at once. A 24-megapixel photo takes about 9 bytes
/// per pixel while it is converted (8-bit plus 16-bit linear copies), so this keeps two such
/// photos in flight, about 450 MB, whatever `--jobs` says; a larger source runs alone.
pub(crate) const PIXEL_BUDGET: u64 = 48_000_000;

/// One variant of a source: which of its encodings, at which size.
type Slot = (usize, Size);

/// One variant's bytes, as made.
type Made = (Slot, Vec<u8>);

/// One published variant of a source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Variant {
    pub(crate) format: OutputFormat,
    pub(crate) width: u32,
    pub(crate) height: u32,
    /// Root-relative URL.
    pub(crate) url: String,
    pub(crate) bytes: u64,
}

/// A source image as published.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PublishedImage {
    /// Size of the largest variant: the `width` and `height` attributes.
    pub(crate) width: u32,
    pub(crate) height: u32,
    /// The average colour, shown while the image loads; none for transparent images.
    pub(crate) placeholder: Option<[u8; 3]>,
    /// Modern formats first, in the configured order, then the fallback; narrowest first.
    pub(crate) variants: Vec<Variant>,
}

impl PublishedImage {
    /// The formats present, in the order `<source>` elements should list them.
    pub(crate) fn formats(&self) -> Vec<OutputFormat> {
        let mut formats: Vec<OutputFormat> = Vec::new();
        for variant in &self.variants {
            if !formats.contains(&variant.format) {
                formats.push(variant.format);
            }
        }
        formats
    }

    pub(crate) fn of_format(&self, format: OutputFormat) -> impl Iterator<Item = &Variant> {
        self.variants.iter().filter(move |v| v.format == format)
    }

    /// The JPEG or PNG every browser reads.
    pub(crate) fn fallback_format(&self) -> OutputFormat {
        self.variants.last().map_or(OutputFormat::Jpeg, |v| v.format)
    }
}

/// What the image stage published, and how it went.
#[derive(Debug, Default)]
pub(crate) struct Images {
    by_path: BTreeMap<SitePath, PublishedImage>,
    pub(crate) stats: ImageStats,
}

impl Images {
    pub(crate) fn get(&self, path: &SitePath) -> Option<&PublishedImage> {
        self.by_path.get(path)
    }

    /// `.ph-rrggbb{background-color:#rrggbb}` for every placeholder colour in use, sorted: a
    /// stylesheet rather than `style` attributes, which the site's CSP forbids.
    pub(crate) fn placeholder_css(&self) -> String {
        let colours: std::collections::BTreeSet<String> =
            self.by_path.values().filter_map(|image| image.placeholder).map(hex_colour).collect();
        let mut css = String::new();
        for colour in colours {
            let _ = writeln!(css, ".ph-{colour}{{background-color:#{colour}}}");
        }
        css
    }
}

/// The class a placeholder colour is shown with.
pub(crate) fn placeholder_class(colour: [u8; 3]) -> String {
    format!("ph-{}", hex_colour(colour))
}

fn hex_colour([r, g, b]: [u8; 3]) -> String {
    format!("{r:02x}{g:02x}{b:02x}")
}

/// Counts and times for the build summary and the benchmark.
#[derive(Clone, Debug, Default)]
pub(crate) struct ImageStats {
    pub sources: usize,
    /// Sources decoded in this build (the rest came wholly from the cache).
    pub decoded: usize,
    pub variants: usize,
    /// Variants encoded in this build.
    pub encoded: usize,
    /// AVIF variants dropped because the WebP of their width was no larger.
    pub avif_dropped: usize,
    /// Published AVIF variants with full-resolution colour (4:4:4) and with 4:2:0.
    pub avif_444: usize,
    pub avif_420: usize,
    /// The AV1 encoder in use and whether it is tuned for images, when AVIF is made.
    pub avif_encoder: Option<String>,
    pub cache: CacheCounts,
    /// Bytes of the source files.
    pub bytes_in: u64,
    /// Bytes of the published variants.
    pub bytes_out: u64,
    /// Per output format (`avif`, `webp`, `jpg`, `png`).
    pub formats: BTreeMap<&'static str, FormatStats>,
    /// Thread time, summed over threads.
    pub decode_time: Duration,
    pub resize_time: Duration,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct FormatStats {
    pub variants: usize,
    pub bytes: u64,
    pub megapixels: f64,
    /// Thread time spent encoding this format in this build.
    pub encode_time: Duration,
}

/// Why a source image could not be published.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ImageError {
    /// The source, as the first drop that refers to it names it.
    pub(crate) source: SitePath,
    pub(crate) failure: Failure,
}

/// The step of the image stage that failed, with the width and format it failed at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    Read(String),
    /// Its bytes are no longer those `load` hashed.
    Changed,
    Decode(String),
    /// A CMYK JPEG, which dropgen does not convert.
    Cmyk,
    Resize {
        width: u32,
        reason: String,
    },
    Encode {
        width: u32,
        format: OutputFormat,
        reason: String,
    },
    /// A decoder or encoder panicked.
    Crashed,
}

impl std::fmt::Display for ImageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let source = &self.source;
        match &self.failure {
            Failure::Read(reason) => write!(f, "`{source}` cannot be read: {reason}"),
            Failure::Changed => write!(f, "`{source}` changed while the site was being built"),
            Failure::Decode(reason) => write!(f, "`{source}` cannot be decoded: {reason}"),
            Failure::Cmyk => write!(f, "`{source}` is a CMYK JPEG, made for print; pages need RGB"),
            Failure::Resize { width, reason } => {
                write!(f, "`{source}` cannot be resized to {width} px wide: {reason}")
            }
            Failure::Encode { width, format, reason } => write!(
                f,
                "`{source}` cannot be converted to {} at {width} px wide: {reason}",
                format.extension()
            ),
            Failure::Crashed => {
                write!(f, "`{source}` could not be processed: its decoder or encoder crashed")
            }
        }
    }
}

impl Failure {
    /// How to fix it.
    fn help(&self) -> &'static str {
        match self {
            Failure::Cmyk => {
                "export it again as an RGB JPEG with an sRGB profile (in Photoshop: Edit › Convert to Profile › sRGB)"
            }
            _ => "export the image again from the original (as JPEG, PNG or WebP) and replace the file",
        }
    }
}

/// Everything decided for one source, by the parallel part.
struct Processed {
    analysis: Analysis,
    /// `(encoding index, size) → bytes`.
    encoded: BTreeMap<Slot, Vec<u8>>,
    /// How many of them were encoded now; the rest came from the cache.
    fresh: usize,
    decoded: bool,
    timings: Timings,
}

/// One source once its job has put the variants it publishes into the spool: what the
/// sequential part needs, without the bytes, so memory holds only the sources in flight.
struct Spooled {
    analysis: Analysis,
    /// The published variants.
    variants: BTreeMap<Slot, Stored>,
    /// AVIF variants not published: one of the set was no smaller than its WebP.
    avif_dropped: usize,
    /// Variants made or found, published or not; `fresh` of them were encoded now.
    made: usize,
    fresh: usize,
    decoded: bool,
    timings: Timings,
}

/// One published variant in the spool.
struct Stored {
    path: String,
    digest: output::Digest,
    subsampling: Option<avif::Subsampling>,
}

#[derive(Default)]
struct Timings {
    decode: Duration,
    resize: Duration,
    encode: BTreeMap<OutputFormat, Duration>,
}

/// Makes (or finds in `cache`) every planned variant; returns what was published, the
/// files, sorted by path, and the problems, errors at every place a broken image is referenced.
///
/// Each source's published variants go into `spool` as soon as its job has them; the files
/// returned are [`crate::output::Body::Spooled`].
pub(crate) fn run(
    plan: &ImagePlan,
    root: &Path,
    cache: &Cache,
    spool: &dyn Spool,
    max_pixels: u64,
    progress: &dyn Progress,
) -> (Images, Vec<(String, Artifact)>, Diagnostics) {
    let results = process(plan, root, cache, spool, max_pixels, progress);
    let mut images = Images::default();
    let mut diagnostics = Diagnostics::new();
    let mut published: Vec<Option<PublishedImage>> = Vec::with_capacity(plan.sources.len());
    let mut files = Vec::new();
    let stats = &mut images.stats;
    for (source, result) in plan.sources.iter().zip(results) {
        stats.sources += 1;
        stats.bytes_in += source.facts.bytes;
        let spooled = match result {
            Ok(spooled) => spooled,
            Err(failure) => {
                diagnostics.extend(failure_diagnostics(source, failure));
                published.push(None);
                continue;
            }
        };
        if let Some(reason) = &spooled.analysis.colour_warning {
            diagnostics.extend(colour_warnings(source, reason));
        }
        count(stats, &spooled);
        let (image, variants) = publish(source, &spooled, stats);
        published.push(Some(image));
        files.extend(variants);
    }
    for (path, &index) in &plan.by_path {
        if let Some(Some(image)) = published.get(index) {
            images.by_path.insert(path.clone(), image.clone());
        }
    }
    images.stats.cache.corrupt = cache.corrupt();
    let makes_avif = plan.sources.iter().flat_map(|source| &source.encodings).any(Encoding::is_avif);
    if makes_avif {
        images.stats.avif_encoder = Some(avif::encoder().describe());
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    (images, files, diagnostics)
}

/// Every source's variants, from the cache or made, in plan order: the one parallel call
/// site. Sources run in parallel, and inside each source its widths and formats (see
/// `make`). Sources are admitted here, in plan order, once their pixels fit the budget; the
/// jobs themselves never wait for it. (A job that waited while holding pixels could
/// deadlock: a thread waiting on its own fan-out runs other queued jobs.)
fn process(
    plan: &ImagePlan,
    root: &Path,
    cache: &Cache,
    spool: &dyn Spool,
    max_pixels: u64,
    progress: &dyn Progress,
) -> Vec<Result<Spooled, Failure>> {
    let total: usize = plan.sources.iter().map(|source| source.slots().count()).sum();
    progress.start("images", total as u64);
    let budget = PixelBudget::new(PIXEL_BUDGET);
    let slots: Vec<Mutex<Option<Result<Spooled, Failure>>>> =
        plan.sources.iter().map(|_| Mutex::new(None)).collect();
    let cached = read_cached(plan, cache, spool, progress);
    rayon::scope(|scope| {
        for ((source, slot), cached) in plan.sources.iter().zip(&slots).zip(cached) {
            match cached {
                Cached::Complete(spooled) => *lock(slot) = Some(Ok(spooled)),
                Cached::Partial(cached) => {
                    let permit = budget.acquire_helping(source.pixels());
                    scope.spawn(move |_| {
                        // A decoder or encoder that panics on one odd file fails that image,
                        // reported at its references like any bad image, not the whole build.
                        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            make(source, root, cache, max_pixels, progress, &cached)
                                .map(|processed| spool_source(source, processed, spool))
                        }))
                        .unwrap_or(Err(Failure::Crashed));
                        drop(permit);
                        *lock(slot) = Some(result);
                    });
                }
            }
        }
    });
    progress.finish();
    // `rayon::scope` returns once every spawned job has, so every slot is filled; a job that
    // panicked outside `catch_unwind` leaves its slot empty.
    slots
        .into_iter()
        .map(|slot| {
            let result = slot.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
            result.unwrap_or(Err(Failure::Crashed))
        })
        .collect()
}

/// A failed source: an error at each of its references.
fn failure_diagnostics(source: &SourcePlan, failure: Failure) -> Diagnostics {
    let help = failure.help();
    let error = ImageError { source: source.path.clone(), failure };
    source
        .uses
        .iter()
        .map(|image_use| {
            Diagnostic::error(Kind::Image, image_use.location.clone(), error.to_string())
                .field(&image_use.field)
                .help(help)
        })
        .collect()
}

/// A colour profile taken as sRGB: a warning at each of the source's references.
fn colour_warnings(source: &SourcePlan, reason: &str) -> Diagnostics {
    source
        .uses
        .iter()
        .map(|image_use| {
            Diagnostic::warning(
                Kind::Image,
                image_use.location.clone(),
                format!("`{}` has a colour profile dropgen cannot use, so its colours are taken as sRGB and may look off: {reason}", source.path),
            )
            .field(&image_use.field)
            .help("export the image again with an sRGB or Display P3 profile")
        })
        .collect()
}

/// A source's work, into the build's image statistics.
fn count(stats: &mut ImageStats, spooled: &Spooled) {
    stats.decoded += usize::from(spooled.decoded);
    stats.encoded += spooled.fresh;
    stats.cache.misses += spooled.fresh as u64;
    stats.cache.hits += (spooled.made - spooled.fresh) as u64;
    stats.decode_time += spooled.timings.decode;
    stats.resize_time += spooled.timings.resize;
    for (format, time) in &spooled.timings.encode {
        stats.formats.entry(format.extension()).or_default().encode_time += *time;
    }
}

/// Applies the AVIF rule to one source's variants and puts those it publishes into `spool`,
/// keeping only their digests: a browser takes the first `<source>` whose type it reads and
/// picks only from its srcset, so an AVIF set with a width missing would serve that width from
/// a smaller, upscaled AVIF. If any AVIF is no smaller than the WebP of its width, the whole
/// AVIF set goes.
fn spool_source(source: &SourcePlan, processed: Processed, spool: &dyn Spool) -> Spooled {
    let opaque = processed.analysis.opaque;
    let avif_loses = avif_set_loses(source, &processed.encoded, smallest_avif(source));
    let made = processed.encoded.len();
    let mut variants = BTreeMap::new();
    // Every AVIF of a losing set, including those never encoded because the set had lost.
    let avif_dropped =
        if avif_loses { source.slots().filter(|slot| is_avif(source, slot)).count() } else { 0 };
    for ((index, size), bytes) in processed.encoded {
        let encoding = &source.encodings[index];
        let format = encoding.format(opaque);
        if format == OutputFormat::Avif && avif_loses {
            continue;
        }
        let path = plan::variant_path(source, format, encoding, size.width);
        let digest = output::Digest::of(&bytes);
        spool.put(&path, &bytes, &digest);
        let subsampling = if format == OutputFormat::Avif { avif::subsampling_of(&bytes) } else { None };
        variants.insert((index, size), Stored { path, digest, subsampling });
    }
    Spooled {
        analysis: processed.analysis,
        variants,
        avif_dropped,
        made,
        fresh: processed.fresh,
        decoded: processed.decoded,
        timings: processed.timings,
    }
}

/// Names one source's spooled variants, in the order pages list them: the image as published,
/// and its files.
fn publish(
    source: &SourcePlan,
    spooled: &Spooled,
    stats: &mut ImageStats,
) -> (PublishedImage, Vec<(String, Artifact)>) {
    stats.avif_dropped += spooled.avif_dropped;
    let mut variants = Vec::new();
    let mut files = Vec::new();
    for (index, encoding) in source.encodings.iter().enumerate() {
        let format = encoding.format(spooled.analysis.opaque);
        for &size in source.sizes_of(encoding) {
            let Some(stored) = spooled.variants.get(&(index, size)) else { continue };
            let bytes = stored.digest.size;
            let format_stats = stats.formats.entry(format.extension()).or_default();
            format_stats.variants += 1;
            format_stats.bytes += bytes;
            format_stats.megapixels += f64::from(size.width) * f64::from(size.height) / 1e6;
            stats.variants += 1;
            stats.bytes_out += bytes;
            match stored.subsampling {
                Some(avif::Subsampling::Yuv444) => stats.avif_444 += 1,
                Some(avif::Subsampling::Yuv420) => stats.avif_420 += 1,
                None => {}
            }
            let mut artifact =
                Artifact::spooled(stored.digest.clone(), &stored.path, CacheClass::Immutable, &[]);
            artifact.tags = source.tags.clone();
            variants.push(Variant {
                format,
                width: size.width,
                height: size.height,
                url: format!("/{}", stored.path),
                bytes,
            });
            files.push((stored.path.clone(), artifact));
        }
    }
    let largest = source
        .sizes
        .last()
        .copied()
        .unwrap_or(Size { width: source.facts.width, height: source.facts.height });
    let image = PublishedImage {
        width: largest.width,
        height: largest.height,
        placeholder: spooled.analysis.placeholder,
        variants,
    };
    (image, files)
}

fn analysis_key(source: &SourcePlan) -> String {
    let mut hasher = Sha256::new();
    // `-2`: analyses since colour warnings and the structure check, so every source is
    // checked once more (its variants still come from the cache).
    hasher.update(b"analysis-2\0");
    hasher.update(source.facts.sha256.as_bytes());
    hasher.update(encode::PIPELINE_VERSION.as_bytes());
    hasher.update(encode::PIXEL_CRATES.as_bytes());
    crate::output::hex(&hasher.finalize())
}

/// The cache keys of every variant of `source`, given whether it is opaque.
fn variant_keys(source: &SourcePlan, opaque: bool) -> Vec<(Slot, String)> {
    source
        .slots()
        .map(|(index, size)| {
            let encoding = &source.encodings[index];
            ((index, size), plan::cache_key(&source.facts.sha256, encoding.format(opaque), encoding, size))
        })
        .collect()
}

/// Every cache key the current site uses, for `dropgen cache gc`. Whether a source is opaque
/// (JPEG or PNG fallback) is in its cached analysis; without it, both kinds are kept.
pub(crate) fn cache_keys(plan: &ImagePlan, cache: &Cache) -> std::collections::BTreeSet<String> {
    let mut keys = std::collections::BTreeSet::new();
    for source in &plan.sources {
        let key = analysis_key(source);
        let opaque = cache.get(&key).and_then(|bytes| serde_json::from_slice::<Analysis>(&bytes).ok());
        let kinds = match opaque {
            Some(analysis) => vec![analysis.opaque],
            None => vec![true, false],
        };
        for opaque in kinds {
            keys.extend(variant_keys(source, opaque).into_iter().map(|(_, key)| key));
        }
        keys.insert(key);
    }
    keys
}

/// What the cache holds for one source.
enum Cached {
    /// Every variant, already in the spool: nothing to decode.
    Complete(Spooled),
    /// Some variants (read again by the job that makes the rest, so that their bytes are not
    /// held meanwhile), or none: the rest are made from the decoded source.
    Partial(BTreeSet<Slot>),
}

/// What the cache holds of every source, read before any work starts and in parallel: a warm
/// build is nothing but these reads, and from object storage each is a round trip, so they
/// run many at a time there (`Cache::read_concurrency`) rather than one per core.
fn read_cached(plan: &ImagePlan, cache: &Cache, spool: &dyn Spool, progress: &dyn Progress) -> Vec<Cached> {
    let read = || plan.sources.par_iter().map(|source| from_cache(source, cache, spool, progress)).collect();
    match cache.read_concurrency().map(|threads| rayon::ThreadPoolBuilder::new().num_threads(threads).build())
    {
        Some(Ok(pool)) => pool.install(read),
        _ => read(),
    }
}

fn from_cache(source: &SourcePlan, cache: &Cache, spool: &dyn Spool, progress: &dyn Progress) -> Cached {
    let cached_analysis =
        cache.get(&analysis_key(source)).and_then(|bytes| serde_json::from_slice::<Analysis>(&bytes).ok());
    let Some(analysis) = cached_analysis else { return Cached::Partial(BTreeSet::new()) };
    let keys = variant_keys(source, analysis.opaque);
    let encoded: BTreeMap<Slot, Vec<u8>> =
        keys.iter().filter_map(|(slot, key)| cache.get(key).map(|bytes| (*slot, bytes))).collect();
    progress.advance(encoded.len() as u64);
    let lost = avif_set_loses(source, &encoded, smallest_avif(source));
    let needed = |slot: &Slot| !(lost && is_avif(source, slot));
    if keys.iter().any(|(slot, _)| needed(slot) && !encoded.contains_key(slot)) {
        return Cached::Partial(encoded.into_keys().collect());
    }
    // Skipped AVIFs of a lost set were never made (`rounds`), but they count as done.
    progress.advance((keys.len() - encoded.len()) as u64);
    let processed = Processed { analysis, encoded, fresh: 0, decoded: false, timings: Timings::default() };
    Cached::Complete(spool_source(source, processed, spool))
}

/// One source whose variants are not all cached: decoded once (the caller holds its pixels in
/// the budget) and fanned out to the missing widths and formats.
fn make(
    source: &SourcePlan,
    root: &Path,
    cache: &Cache,
    max_pixels: u64,
    progress: &dyn Progress,
    cached: &BTreeSet<Slot>,
) -> Result<Processed, Failure> {
    let analysis_key = analysis_key(source);
    let mut timings = Timings::default();
    let start = Instant::now();
    let bytes = std::fs::read(source.path.to_path(root)).map_err(|err| Failure::Read(err.to_string()))?;
    if crate::load::hex_sha256(&bytes) != source.facts.sha256 {
        return Err(Failure::Changed);
    }
    let (decoded, analysis) = decode::decode(&bytes, max_pixels).map_err(|error| match error {
        decode::DecodeError::Cmyk => Failure::Cmyk,
        decode::DecodeError::Broken(reason) => Failure::Decode(reason),
    })?;
    drop(bytes);
    timings.decode = start.elapsed();
    if let Ok(json) = serde_json::to_vec(&analysis) {
        cache.put(&analysis_key, &json);
    }

    let keys = variant_keys(source, analysis.opaque);
    // What `from_cache` found is read again rather than held since; anything gone meanwhile
    // is made.
    let mut encoded: BTreeMap<Slot, Vec<u8>> = keys
        .iter()
        .filter(|(slot, _)| cached.contains(slot))
        .filter_map(|(slot, key)| cache.get(key).map(|bytes| (*slot, bytes)))
        .collect();
    let missing: Vec<&(Slot, String)> = keys.iter().filter(|(slot, _)| !encoded.contains_key(slot)).collect();
    let work = Work {
        source,
        decoded: &decoded,
        opaque: analysis.opaque,
        cache,
        progress,
        timings: Mutex::new(timings),
    };
    let smallest_avif = smallest_avif(source);
    let mut resized = BTreeMap::new();
    let mut fresh = 0;
    let [others, first, rest] = rounds(source, &missing);
    // The widths AVIF rounds need are resized once and kept. They are 8-bit: at the default
    // widths, fewer bytes together than the 16-bit decoded source the budget holds for this job.
    let later: BTreeSet<Size> = first.iter().chain(&rest).map(|((_, size), _)| *size).collect();
    for (round, wanted) in [others, first, rest].iter().enumerate() {
        if round > 0 && avif_set_loses(source, &encoded, smallest_avif) {
            progress.advance(wanted.len() as u64);
            continue;
        }
        let made = work.round(wanted, &later, &mut resized, &webp_sizes(source, &encoded))?;
        fresh += made.len();
        encoded.extend(made);
    }
    let timings = work.timings.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    Ok(Processed { analysis, encoded, fresh, decoded: true, timings })
}

/// One width's variants made in a round, and its pixels if a later round needs them.
type WidthMade = (Vec<Made>, Option<(Size, resize::Pixels)>);

/// What one source's rounds of encoding share.
struct Work<'a> {
    source: &'a SourcePlan,
    decoded: &'a decode::Decoded,
    opaque: bool,
    cache: &'a Cache,
    progress: &'a dyn Progress,
    timings: Mutex<Timings>,
}

impl Work<'_> {
    /// Makes `wanted`, each width resized once (or taken from `resized`) and its formats
    /// encoded in parallel, and returns them; the pixels of the widths in `keep`, which a later
    /// round may need, go back into `resized`. Every width and format of the round runs to the
    /// end, and the failure reported is the round's first in plan order (narrowest width, then
    /// the configured format order), whichever thread met it first.
    fn round(
        &self,
        wanted: &[&(Slot, String)],
        keep: &BTreeSet<Size>,
        resized: &mut BTreeMap<Size, resize::Pixels>,
        webps: &BTreeMap<Size, usize>,
    ) -> Result<Vec<Made>, Failure> {
        let mut by_size: BTreeMap<Size, Vec<&(Slot, String)>> = BTreeMap::new();
        for &wanted in wanted {
            by_size.entry((wanted.0).1).or_default().push(wanted);
        }
        let jobs: Vec<_> =
            by_size.into_iter().map(|(size, slots)| (size, resized.remove(&size), slots)).collect();
        let results: Vec<Result<WidthMade, Failure>> = jobs
            .into_par_iter()
            .map(|(size, pixels, slots)| {
                let pixels = match pixels {
                    Some(pixels) => pixels,
                    None => self.resize(size)?,
                };
                let made: Vec<Result<Made, Failure>> = slots
                    .par_iter()
                    .map(|(slot, key)| self.encode(*slot, key, &pixels, webps.get(&size)))
                    .collect();
                let made = made.into_iter().collect::<Result<Vec<_>, _>>()?;
                Ok((made, keep.contains(&size).then_some((size, pixels))))
            })
            .collect();
        let mut made = Vec::new();
        for result in results {
            let (encoded, pixels) = result?;
            made.extend(encoded);
            resized.extend(pixels);
        }
        Ok(made)
    }

    fn resize(&self, size: Size) -> Result<resize::Pixels, Failure> {
        let start = Instant::now();
        let pixels = resize::resize(self.decoded, size.width, size.height)
            .map_err(|reason| Failure::Resize { width: size.width, reason })?;
        lock(&self.timings).resize += start.elapsed();
        Ok(pixels)
    }

    fn encode(
        &self,
        slot: Slot,
        key: &str,
        pixels: &resize::Pixels,
        webp: Option<&usize>,
    ) -> Result<Made, Failure> {
        let encoding = &self.source.encodings[slot.0];
        let format = encoding.format(self.opaque);
        let start = Instant::now();
        let bytes = encoding.encode(pixels, webp.copied()).map_err(|reason| Failure::Encode {
            width: slot.1.width,
            format,
            reason,
        })?;
        *lock(&self.timings).encode.entry(format).or_default() += start.elapsed();
        self.cache.put(key, &bytes);
        self.progress.advance(1);
        Ok((slot, bytes))
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::model::{CacheTag, ImageFacts, ImageSettings, SourceFormat};
    use crate::output::Discard;

    pub(super) fn source() -> SourcePlan {
        let settings = ImageSettings::default();
        SourcePlan {
            path: SitePath::from_relative(std::path::Path::new("drops/a/hero.jpg")).unwrap(),
            stem: "hero".to_owned(),
            facts: ImageFacts {
                format: SourceFormat::Jpeg,
                width: 1000,
                height: 500,
                bytes: 1,
                sha256: "ab".repeat(32),
            },
            uses: Vec::new(),
            tags: BTreeSet::from([CacheTag::Site, CacheTag::Drop(crate::model::Slug::parse("a").unwrap())]),
            sizes: plan::sizes(1000, 500, &[320, 640, 1280]),
            fallback_sizes: plan::fallback_sizes(&plan::sizes(1000, 500, &[320, 640, 1280])),
            encodings: vec![
                Encoding::avif(&settings),
                Encoding::webp(&settings),
                Encoding::fallback(&settings),
            ],
        }
    }

    /// A spool that remembers the paths put into it, in order.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>);

    impl Spool for Recorder {
        fn put(&self, path: &str, _bytes: &[u8], _digest: &output::Digest) {
            lock(&self.0).push(path.to_owned());
        }
    }

    /// Fake encoder output: `avif_len` bytes of AVIF at each width, 1,000 of WebP (more than
    /// any AVIF container) and 3,000 of JPEG.
    fn processed(source: &SourcePlan, avif_len: impl Fn(u32) -> usize) -> Processed {
        let encoded: BTreeMap<Slot, Vec<u8>> = source
            .slots()
            .map(|(index, size)| {
                let bytes = match index {
                    0 => vec![0; avif_len(size.width)],
                    1 => vec![1; 1000],
                    _ => vec![2; 3000],
                };
                ((index, size), bytes)
            })
            .collect();
        let analysis = Analysis { opaque: true, placeholder: Some([1, 2, 3]), colour_warning: None };
        Processed { analysis, fresh: encoded.len(), encoded, decoded: true, timings: Timings::default() }
    }

    #[test]
    fn avifs_all_smaller_than_their_webps_are_kept() {
        let source = source();
        let processed = processed(&source, |width| if width == 320 { 999 } else { 600 });
        let mut stats = ImageStats::default();
        let (image, _) = publish(&source, &spool_source(&source, processed, &Discard), &mut stats);
        let avif: Vec<u32> = image.of_format(OutputFormat::Avif).map(|v| v.width).collect();
        assert_eq!(avif, [320, 640, 1000]);
        assert_eq!(image.formats(), [OutputFormat::Avif, OutputFormat::Webp, OutputFormat::Jpeg]);
        assert_eq!(stats.avif_dropped, 0);
    }

    #[test]
    fn one_avif_no_smaller_than_its_webp_drops_the_whole_avif_set() {
        let source = source();
        // 320 and 1000 are smaller than their WebP; 640 is equal, so no width may be served
        // as AVIF: the browser would pick a narrower AVIF over the 640 WebP.
        let processed = processed(&source, |width| if width == 640 { 1000 } else { 500 });
        let mut stats = ImageStats::default();
        let spool = Recorder::default();
        let (image, output) = publish(&source, &spool_source(&source, processed, &spool), &mut stats);
        assert_eq!(image.formats(), [OutputFormat::Webp, OutputFormat::Jpeg]);
        assert_eq!(image.of_format(OutputFormat::Webp).count(), 3);
        assert_eq!(image.fallback_format(), OutputFormat::Jpeg);
        assert_eq!(stats.avif_dropped, 3);
        assert_eq!(image.of_format(OutputFormat::Jpeg).map(|v| v.width).collect::<Vec<_>>(), [320, 1000]);
        assert_eq!(output.len(), 5, "a dropped AVIF must not be published");
        assert!(output.iter().all(|(path, _)| !path.ends_with(".avif")));
        let mut published: Vec<String> = output.iter().map(|(path, _)| path.clone()).collect();
        published.sort();
        let mut spooled = lock(&spool.0).clone();
        spooled.sort();
        assert_eq!(spooled, published, "exactly the published variants are spooled");
        assert_eq!((image.width, image.height), (1000, 500));
    }

    #[test]
    fn a_lost_set_counts_every_avif_as_dropped_even_those_never_made() {
        let source = source();
        let mut processed = processed(&source, |width| if width == 320 { 1000 } else { 500 });
        processed.encoded.retain(|(index, size), _| *index != 0 || size.width == 320);
        let mut stats = ImageStats::default();
        let (image, output) = publish(&source, &spool_source(&source, processed, &Discard), &mut stats);
        assert_eq!(stats.avif_dropped, 3);
        assert_eq!(image.formats(), [OutputFormat::Webp, OutputFormat::Jpeg]);
        assert!(output.iter().all(|(path, _)| !path.ends_with(".avif")));
    }

    #[test]
    fn published_variants_are_tagged_with_every_drop_that_shows_them() {
        let source = source();
        let spooled = spool_source(&source, processed(&source, |_| 10), &Discard);
        let (_, output) = publish(&source, &spooled, &mut ImageStats::default());
        for (path, artifact) in &output {
            assert!(path.starts_with("_img/hero-"), "{path}");
            assert_eq!(artifact.class, CacheClass::Immutable);
            assert_eq!(artifact.tags, source.tags);
            assert_eq!(artifact.body, crate::output::Body::Spooled, "{path} is held in memory");
        }
    }

    #[test]
    fn placeholder_css_has_one_rule_per_colour() {
        let mut images = Images::default();
        let image = |placeholder| PublishedImage { width: 1, height: 1, placeholder, variants: Vec::new() };
        let path = |name: &str| SitePath::from_relative(std::path::Path::new(name)).unwrap();
        images.by_path.insert(path("a.jpg"), image(Some([255, 0, 16])));
        images.by_path.insert(path("b.jpg"), image(Some([255, 0, 16])));
        images.by_path.insert(path("c.png"), image(None));
        assert_eq!(images.placeholder_css(), ".ph-ff0010{background-color:#ff0010}\n");
        assert_eq!(placeholder_class([255, 0, 16]), "ph-ff0010");
    }
}
