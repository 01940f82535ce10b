//! What the user reads after a command: problems (human, JSON, GitHub annotations), an
//! error's exit code, and the build summary.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use crate::diagnostic::{self, Diagnostics, MessageFormat, Sources};
use crate::error::Error;
use crate::images::ImageStats;
use crate::manifest::changes::Changes;
use crate::model::Site;
use crate::pipeline::BuildReport;
use time::OffsetDateTime;

pub(super) fn report_error(error: &Error, sources: &Sources, format: MessageFormat) -> ExitCode {
    match error {
        Error::Content(diagnostics) => {
            print_diagnostics(diagnostics, sources, format);
            let errors = diagnostics.error_count();
            let warnings = diagnostics.warning_count();
            let warnings = if warnings > 0 { format!(", {warnings} warning(s)") } else { String::new() };
            eprintln!("error: found {errors} problem(s) to fix{warnings}; nothing was written");
        }
        other => {
            let mut stderr = std::io::stderr().lock();
            let _ = writeln!(stderr, "error: {other}");
        }
    }
    ExitCode::from(error.exit_code())
}

pub(super) fn print_diagnostics(diagnostics: &Diagnostics, sources: &Sources, format: MessageFormat) {
    let github = std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true");
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr().lock();
    for item in diagnostics.sorted() {
        // A closed pipe (e.g. `| head`) is not a reason to fail the build.
        let _ = match format {
            MessageFormat::Human => writeln!(stderr, "{}\n", diagnostic::render_human(item, sources, color)),
            MessageFormat::Json => writeln!(stdout, "{}", diagnostic::render_json(item)),
        };
        // Workflow commands go with human output; JSON consumers get only JSON lines.
        if github && matches!(format, MessageFormat::Human) {
            let _ = writeln!(stdout, "{}", diagnostic::render_github(item));
        }
    }
}

/// The summary after a build, for the person who ran it: the drops with their phase, address
/// and whether their page changed, then what to upload and purge. `verbose` adds the image,
/// compression and timing details.
pub(super) fn print_summary(report: &BuildReport, out: Option<&Path>, verbose: bool, now: OffsetDateTime) {
    let recovered = report.recovered;
    if recovered.restored {
        eprintln!("put back the previous output, which a killed build had moved aside");
    }
    if recovered.removed > 0 {
        eprintln!("removed {} folder(s) a killed build left beside the output", recovered.removed);
    }
    let total: std::time::Duration = report.timings.iter().map(|(_, time)| *time).sum();
    match (&report.written, out) {
        (Some(written), Some(out)) => eprintln!(
            "built {} drop(s): {} files, {} into {} in {}",
            report.drops,
            written.files,
            human_bytes(written.bytes),
            out.join(crate::write::PUBLIC_DIR).display(),
            seconds(total)
        ),
        _ => eprintln!(
            "checked {} drop(s): {} files would be written, in {}",
            report.drops,
            report.files,
            seconds(total)
        ),
    }
    for line in drop_lines(&report.site, report.changes.as_ref(), now) {
        eprintln!("  {line}");
    }
    if report.skipped_drafts > 0 {
        eprintln!(
            "skipped {} draft(s), which `--drafts` builds too (and `dropgen serve` shows)",
            report.skipped_drafts
        );
    }
    if let Some(changes) = &report.changes {
        let since = if changes.previous_build_id.is_some() {
            "since the previous build"
        } else {
            "(no previous manifest)"
        };
        eprintln!(
            "upload {} new, {} changed, {} with new headers; {} removed, {} unchanged {since}; {} URL(s) to purge",
            changes.added.len(),
            changes.changed.len(),
            changes.metadata_changed.len(),
            changes.removed.len(),
            changes.unchanged,
            changes.purge.len()
        );
    }
    if let Some(next) = &report.next_transition_at {
        eprintln!("next phase change: {next}: build and deploy again then");
    }
    if !verbose {
        return;
    }
    let stages: Vec<String> =
        report.timings.iter().map(|(name, time)| format!("{name} {time:.0?}")).collect();
    eprintln!("stages: {}", stages.join(", "));
    print_image_summary(&report.images);
    let compressed = report.compressed;
    if compressed.reused + compressed.compressed > 0 {
        eprintln!(
            "compressed copies: {} made, {} reused from the cache",
            compressed.compressed, compressed.reused
        );
    }
    if let Some(size) = report.script_gzip_bytes {
        eprintln!(
            "hydration script: {size} bytes minified and gzipped (budget {})",
            crate::assets::HYDRATION_BUDGET
        );
    }
}

/// At most this many drops are listed; a site of thousands gets a count of the rest.
const LISTED_DROPS: usize = 20;

/// One line per drop: its phase at `now`, its address, and whether its page is new or changed
/// since the previous build (when there is one).
fn drop_lines(site: &Site, changes: Option<&Changes>, now: OffsetDateTime) -> Vec<String> {
    let page_status = |slug: &str| {
        let page = format!("{slug}/index.html");
        let changes = changes.filter(|changes| changes.previous_build_id.is_some())?;
        Some(if changes.added.contains(&page) {
            "new"
        } else if changes.changed.contains(&page) {
            "changed"
        } else {
            "unchanged"
        })
    };
    let mut lines: Vec<String> = site
        .drops
        .iter()
        .take(LISTED_DROPS)
        .map(|drop| {
            let phase = if drop.draft {
                "draft"
            } else if now < drop.starts_at.0 {
                "upcoming"
            } else if drop.ends_at.is_some_and(|end| now >= end.0) {
                "ended"
            } else {
                "live"
            };
            let url = site.config.base_url.join(&format!("{}/", drop.slug.as_str()));
            let url = url.map_or_else(|_| format!("/{}/", drop.slug.as_str()), String::from);
            match page_status(drop.slug.as_str()) {
                Some(status) => format!("{phase:<8}  {url}  {status}"),
                None => format!("{phase:<8}  {url}"),
            }
        })
        .collect();
    if site.drops.len() > LISTED_DROPS {
        lines.push(format!("… and {} more", site.drops.len() - LISTED_DROPS));
    }
    lines
}

pub(super) fn print_image_summary(stats: &ImageStats) {
    if stats.sources == 0 {
        return;
    }
    let formats: Vec<String> = stats
        .formats
        .iter()
        .filter(|(_, f)| f.variants > 0)
        .map(|(name, f)| format!("{name} {} ({})", f.variants, human_bytes(f.bytes)))
        .collect();
    let dropped = match stats.avif_dropped {
        0 => String::new(),
        n => format!("; {n} AVIF dropped (their sources had an AVIF no smaller than its WebP)"),
    };
    eprintln!(
        "images: {} source(s), {} variant(s): {}{dropped}",
        stats.sources,
        stats.variants,
        formats.join(", ")
    );
    if let Some(encoder) = &stats.avif_encoder {
        eprintln!(
            "images: AVIF by {encoder}; colour at full resolution (4:4:4) in {}, 4:2:0 in {}",
            stats.avif_444, stats.avif_420
        );
    }
    let corrupt = match stats.cache.corrupt {
        0 => String::new(),
        n => format!(", {n} damaged entries rebuilt"),
    };
    // Summed over threads, so it says where the work went even when stages overlap in time.
    let thread_time = if stats.decoded == 0 && stats.encoded == 0 {
        String::new()
    } else {
        let encode: Vec<String> = stats
            .formats
            .iter()
            .filter(|(_, f)| !f.encode_time.is_zero())
            .map(|(name, f)| format!("{name} {}", seconds(f.encode_time)))
            .collect();
        format!(
            "; thread time: decode {}, resize {}, encode {}",
            seconds(stats.decode_time),
            seconds(stats.resize_time),
            if encode.is_empty() { "none".to_owned() } else { encode.join(", ") }
        )
    };
    eprintln!(
        "images: {} decoded, {} encoded; cache {} hit(s), {} miss(es){corrupt}; {} in, {} out{thread_time}",
        stats.decoded,
        stats.encoded,
        stats.cache.hits,
        stats.cache.misses,
        human_bytes(stats.bytes_in),
        human_bytes(stats.bytes_out),
    );
}

fn seconds(time: std::time::Duration) -> String {
    format!("{:.1}s", time.as_secs_f64())
}

pub(super) fn human_bytes(bytes: u64) -> String {
    match bytes {
        b if b >= 1_000_000 => format!("{:.1} MB", b as f64 / 1_000_000.0),
        b if b >= 1_000 => format!("{:.1} kB", b as f64 / 1_000.0),
        b => format!("{b} B"),
    }
}

/// The summary of a deploy (or, with `--dry-run`, every action it would take) on stderr.
#[cfg(feature = "s3")]
pub(super) fn print_deploy(report: &crate::deploy::DeployReport) {
    use crate::deploy::plan::Reason;
    let plan = &report.plan;
    let mut stderr = std::io::stderr().lock();
    if report.dry_run {
        print_deploy_plan(&mut stderr, plan);
    }
    let count = |reason: Reason| plan.uploads.iter().filter(|upload| upload.reason == reason).count();
    let verb = if report.dry_run { "would upload" } else { "uploaded" };
    let _ = writeln!(
        stderr,
        "{}deploy of build {} to {}: {verb} {} file(s), {} ({} new, {} changed, {} with new headers), {} unchanged; {} deleted; {} removed file(s) kept for their grace period",
        if report.dry_run { "dry run: nothing changed; " } else { "" },
        report.build_id,
        report.target,
        plan.uploads.len(),
        human_bytes(report.upload_bytes),
        count(Reason::New),
        count(Reason::Changed),
        count(Reason::Headers),
        plan.unchanged,
        plan.deletions.len(),
        plan.scheduled.len() + plan.waiting.len(),
    );
    if report.resumed > 0 {
        let _ =
            writeln!(stderr, "resumed: {} file(s) a stopped deploy had uploaded were kept", report.resumed);
    }
    if !plan.not_uploaded.is_empty() {
        let _ = writeln!(
            stderr,
            "not uploaded: {} (object storage does not read it; give its headers to the CDN instead)",
            plan.not_uploaded.join(", ")
        );
    }
    if let Some(purge) = &report.purge {
        let what = if purge.cdn == "fastly" { "cache tag(s)" } else { "URL(s)" };
        let verb = if report.dry_run { "would purge" } else { "purged" };
        let _ = writeln!(stderr, "{}: {verb} {} {what}", purge.cdn, purge.purged.len());
        if report.dry_run {
            for item in &purge.purged {
                let _ = writeln!(stderr, "purge   {item}");
            }
        }
    }
    if let Some(prewarmed) = &report.prewarm {
        print_prewarm(&mut stderr, prewarmed, report.dry_run);
    }
    if let Some(at) = &report.next_deletion_at {
        let _ = writeln!(stderr, "next: deploy again after {at} to delete removed files");
    }
    if let Some(at) = &report.next_transition_at {
        let _ = writeln!(stderr, "next: a drop changes phase at {at}: build and deploy then");
    }
}

/// `--dry-run`: every upload and deletion the deploy would make.
#[cfg(feature = "s3")]
fn print_deploy_plan(stderr: &mut impl Write, plan: &crate::deploy::Plan) {
    use crate::deploy::plan::Reason;
    for upload in &plan.uploads {
        let reason = match upload.reason {
            Reason::New => "new",
            Reason::Changed => "changed",
            Reason::Headers => "headers",
        };
        let _ = writeln!(stderr, "upload  {reason:<8} {}", upload.path);
    }
    for deletion in &plan.deletions {
        let _ = writeln!(stderr, "delete           {}", deletion.path);
    }
    for waiting in &plan.scheduled {
        let _ = writeln!(stderr, "keep until {}  {}", waiting.delete_after, waiting.path);
    }
}

/// Each prewarm request with the edge's cache status, and a warning when some failed.
#[cfg(feature = "s3")]
fn print_prewarm(stderr: &mut impl Write, prewarmed: &[crate::deploy::prewarm::Prewarmed], dry_run: bool) {
    for request in prewarmed {
        let answer = match (request.status, &request.error) {
            (None, None) => "would request".to_owned(),
            (Some(status), None) => {
                format!("{status} {}", request.cache.as_deref().unwrap_or("(no cache status header)"))
            }
            (_, Some(error)) => format!("failed: {error}"),
        };
        let _ = writeln!(stderr, "prewarm {answer}  {}", request.url);
    }
    let failed = if dry_run { 0 } else { prewarmed.iter().filter(|request| !request.ok()).count() };
    if failed > 0 {
        let _ =
            writeln!(stderr, "warning: {failed} prewarm request(s) did not succeed; the deploy itself did");
    }
}
