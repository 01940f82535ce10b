//! The command line: parses arguments, calls the library, prints results. No build logic.
//!
//! - `args.rs`: clap's definitions, and [`BuildOptions`](crate::pipeline::BuildOptions) from them;
//! - this file: each command, run;
//! - `progress.rs`: the progress bar, or log lines when stderr is not a terminal;
//! - `report.rs`: problems (human, JSON, GitHub annotations) and the build summary.

mod args;
mod progress;
mod report;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub use args::Args;
#[cfg(feature = "live")]
use args::InventoryCommand;
use args::{CacheCommand, Command, SchemaFile, SiteArgs, build_time};
use progress::progress_for;
use report::{human_bytes, print_diagnostics, print_image_summary, print_summary, report_error};

use crate::diagnostic::{MessageFormat, Sources};
use crate::error::Error;
use crate::manifest::BuildTime;
use crate::pipeline;
use crate::progress::Silent;

/// Runs the command line and returns the process exit code: 0 success, 1 problems in the
/// site's content, 2 usage or environment errors.
pub fn run(args: Args) -> ExitCode {
    match args.command {
        Command::Build { site, jobs, shard: Some(shard), .. } => {
            with_threads(jobs, || build_shard(&site, shard))
        }
        Command::Build { site, out, jobs, previous_manifest, shard: None } => {
            let out = out.unwrap_or_else(|| site.root.join("dist"));
            with_threads(jobs, || build(&site, Some(out), previous_manifest))
        }
        Command::Check { site } => build(&site, None, None),
        Command::Cache { command: CacheCommand::Gc { site, out } } => cache_gc(&site, out),
        #[cfg(feature = "s3")]
        Command::Deploy(args) => deploy(&args),
        #[cfg(feature = "live")]
        Command::Inventory { command } => inventory(command),
        #[cfg(feature = "live")]
        Command::Serve {
            site,
            out,
            port,
            mock_inventory,
            mock_port,
            mock_seed,
            mock_state,
            mock_fault,
            inventory,
        } => {
            let mock = mock_inventory.then_some(crate::serve::MockOptions {
                seed_file: mock_seed,
                state: mock_state,
                fault: mock_fault,
            });
            serve(&site, out, (port, mock_port), mock, inventory)
        }
        Command::New { slug, root } => new_drop(&root, &slug),
        Command::Init { dir, force } => init(&dir, force),
        Command::Schema { file } => {
            let which = match file {
                SchemaFile::Site => crate::schema::Which::Site,
                SchemaFile::Drop => crate::schema::Which::Drop,
            };
            print_stdout(which.text().as_bytes())
        }
        Command::Completions { shell } => {
            use clap::CommandFactory;
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Args::command(), "dropgen", &mut script);
            print_stdout(&script)
        }
        Command::Man => man_page(),
    }
}

/// `dropgen new`: a drop folder with a `drop.yaml` to fill in.
fn new_drop(root: &Path, slug: &str) -> ExitCode {
    let now = time::OffsetDateTime::now_utc();
    match crate::scaffold::new_drop(root, slug, now) {
        Ok(created) => {
            if let Some(drop) = created.first() {
                eprintln!("created {}: add a hero image beside it and fill in the fields", drop.display());
            }
            for schema in created.iter().skip(1) {
                eprintln!("created {}: editors read it to complete the drop's fields", schema.display());
            }
            ExitCode::SUCCESS
        }
        Err(err) => report_error(&err, &Sources::new(), MessageFormat::Human),
    }
}

fn man_page() -> ExitCode {
    use clap::CommandFactory;
    let mut page = Vec::new();
    match clap_mangen::Man::new(Args::command()).render(&mut page) {
        Ok(()) => print_stdout(&page),
        Err(err) => report_error(
            &Error::Internal(format!("cannot render the man page: {err}")),
            &Sources::new(),
            MessageFormat::Human,
        ),
    }
}

#[cfg(feature = "live")]
fn inventory(command: InventoryCommand) -> ExitCode {
    let result = match command {
        InventoryCommand::Serve { config, listen, database, redis, catalog, page_origins } => {
            let args = crate::inventory::ServeArgs { config, listen, database, redis, catalog, page_origins };
            args.settings().and_then(|settings| {
                crate::inventory::serve(settings, &|address| eprintln!("inventory: listening on http://{address}"))
            })
        }
        InventoryCommand::Sync { catalog, url } => crate::inventory::sync(&catalog, &url).map(|warnings| {
            for warning in &warnings {
                eprintln!("warning: {warning}");
            }
            eprintln!("synced {} to {url}", catalog.display());
        }),
        InventoryCommand::Report { drop, config, database, redis, format, out, watch } => {
            let args = crate::inventory::ServeArgs { config, database, redis, ..Default::default() };
            let format = match format {
                args::ReportFormat::Html => crate::inventory::ReportFormat::Html,
                args::ReportFormat::Json => crate::inventory::ReportFormat::Json,
            };
            args.settings().and_then(|settings| settings.resolve()).and_then(|config| {
                let watch = watch.map(|seconds| std::time::Duration::from_secs(seconds.max(1)));
                let options = crate::inventory::ReportOptions { backend: config.backend, drop, format, out, watch };
                let said = crate::inventory::report(&options, &|bytes| {
                    std::io::Write::write_all(&mut std::io::stdout().lock(), bytes)
                        .map_err(|err| Error::Internal(format!("cannot write the report: {err}")))
                })?;
                if !said.is_empty() {
                    eprintln!("{said}");
                }
                Ok(())
            })
        }
        InventoryCommand::Keygen { file } => crate::inventory::keygen(&file).map(|path| {
            eprintln!(
                "created {}: keep it out of the repository, and give it in `signing_keys` (first to sign; keep the previous key listed after it until its tokens expire)",
                path.display()
            );
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => report_error(&err, &Sources::new(), MessageFormat::Human),
    }
}

/// Machine output on stdout. A closed pipe (`| head`) is success, as for problems.
fn print_stdout(bytes: &[u8]) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => report_error(
            &Error::Usage(format!("cannot write to standard output: {err}")),
            &Sources::new(),
            MessageFormat::Human,
        ),
        _ => ExitCode::SUCCESS,
    }
}

fn init(dir: &Path, force: bool) -> ExitCode {
    // The example drop starts on the day of `init` (SOURCE_DATE_EPOCH when set, for
    // reproducible scaffolds), so it is live from the start.
    let today = match build_time(None) {
        Ok(BuildTime { reference: Some(time), .. }) => time.date(),
        Ok(_) => time::OffsetDateTime::now_utc().date(),
        Err(err) => return report_error(&err, &Sources::new(), MessageFormat::Human),
    };
    match crate::scaffold::init(dir, force, today) {
        Ok(report) => {
            for kept in &report.kept {
                eprintln!("kept {} (it already exists)", kept.display());
            }
            eprintln!("created {} files in {}", report.created.len(), dir.display());
            let cd = if dir == Path::new(".") { String::new() } else { format!("cd {} && ", dir.display()) };
            eprintln!(
                "next: {cd}dropgen serve   (then open http://127.0.0.1:8000/ and edit drops/{}/drop.yaml)",
                crate::scaffold::EXAMPLE_DROP
            );
            ExitCode::SUCCESS
        }
        Err(err) => report_error(&err, &Sources::new(), MessageFormat::Human),
    }
}

/// Runs `f` on a thread pool of `jobs` threads (rayon's default pool when not given).
fn with_threads(jobs: Option<usize>, f: impl FnOnce() -> ExitCode + Send) -> ExitCode {
    let Some(jobs) = jobs else { return f() };
    if jobs == 0 {
        return report_error(
            &Error::Usage("`--jobs` must be at least 1".to_owned()),
            &Sources::new(),
            MessageFormat::Human,
        );
    }
    match rayon::ThreadPoolBuilder::new().num_threads(jobs).build() {
        Ok(pool) => pool.install(f),
        Err(err) => report_error(
            &Error::Usage(format!("cannot start {jobs} threads: {err}")),
            &Sources::new(),
            MessageFormat::Human,
        ),
    }
}

fn build(site: &SiteArgs, out: Option<PathBuf>, previous_manifest: Option<PathBuf>) -> ExitCode {
    let options = match site.options(out.clone(), previous_manifest) {
        Ok(options) => options,
        Err(err) => return report_error(&err, &Sources::new(), site.message_format),
    };
    let progress = progress_for(site.quiet);
    let result = pipeline::build(&options, progress.as_ref(), &mut pipeline::Memory::default());
    drop(progress);
    match result {
        Ok(report) => {
            print_diagnostics(&report.diagnostics, &report.sources, site.message_format);
            if !site.quiet {
                let now = options.time.reference.unwrap_or_else(time::OffsetDateTime::now_utc);
                print_summary(&report, out.as_deref(), site.verbose, now);
            }
            ExitCode::SUCCESS
        }
        Err(failure) => report_error(&failure.error, &failure.sources, site.message_format),
    }
}

fn build_shard(site: &SiteArgs, shard: crate::images::Shard) -> ExitCode {
    let options = match site.options(None, None) {
        Ok(options) => options,
        Err(err) => return report_error(&err, &Sources::new(), site.message_format),
    };
    let progress = progress_for(site.quiet);
    let result = pipeline::build_shard(&options, shard, progress.as_ref());
    drop(progress);
    match result {
        Ok(report) => {
            print_diagnostics(&report.diagnostics, &report.sources_text, site.message_format);
            if !site.quiet {
                eprintln!(
                    "shard {}/{}: {} of {} image source(s) into the cache {}; no site output written \
                     (after every shard, build without --shard)",
                    report.shard.index,
                    report.shard.count,
                    report.sources,
                    report.all_sources,
                    options.cache_dir()
                );
                print_image_summary(&report.images);
            }
            ExitCode::SUCCESS
        }
        Err(failure) => report_error(&failure.error, &failure.sources, site.message_format),
    }
}

#[cfg(feature = "live")]
fn serve(
    site: &SiteArgs,
    out: Option<PathBuf>,
    (port, mock_port): (u16, u16),
    mock: Option<crate::serve::MockOptions>,
    inventory: Option<String>,
) -> ExitCode {
    let out = out.unwrap_or_else(|| site.root.join(crate::serve::PREVIEW_DIR));
    let build = match site.options(Some(out), None) {
        // A preview shows drafts (marked as drafts): that is how a marketer sees one before it
        // is published.
        Ok(options) => pipeline::BuildOptions { drafts: true, ..options },
        Err(err) => return report_error(&err, &Sources::new(), site.message_format),
    };
    match crate::serve::run(crate::serve::ServeOptions { build, port, mock_port, mock, inventory }) {
        Ok(()) => ExitCode::SUCCESS,
        // Build problems were already printed by `serve`, as they are on every rebuild.
        Err(Error::Content(_)) => ExitCode::from(1),
        Err(err) => report_error(&err, &Sources::new(), site.message_format),
    }
}

#[cfg(feature = "s3")]
fn deploy(args: &args::DeployArgs) -> ExitCode {
    let options = crate::deploy::DeployOptions {
        out: args.out.clone(),
        to: args.to.clone(),
        dry_run: args.dry_run,
        now: args.now.unwrap_or_else(time::OffsetDateTime::now_utc),
        grace_days: args.grace_days,
        purge: args.purge.map(Into::into),
        prewarm: args.prewarm.then(|| args.prewarm_origin.clone()),
    };
    let progress = progress_for(args.quiet || args.dry_run);
    let result = crate::deploy::run(&options, progress.as_ref());
    drop(progress);
    match result {
        Ok(report) => match args.format {
            args::DeployFormat::Json => match serde_json::to_vec_pretty(&report) {
                Ok(mut json) => {
                    json.push(b'\n');
                    print_stdout(&json)
                }
                Err(err) => report_error(
                    &Error::Internal(format!("cannot print the deploy report: {err}")),
                    &Sources::new(),
                    MessageFormat::Human,
                ),
            },
            args::DeployFormat::Human => {
                if !args.quiet {
                    report::print_deploy(&report);
                }
                ExitCode::SUCCESS
            }
        },
        Err(err) => report_error(&Error::from(err), &Sources::new(), MessageFormat::Human),
    }
}

fn cache_gc(site: &SiteArgs, out: Option<PathBuf>) -> ExitCode {
    // `pipeline::cache_gc` keeps the images of drafts too, whatever `--drafts` says.
    let out = out.unwrap_or_else(|| site.root.join("dist"));
    let options = match site.options(Some(out), None) {
        Ok(options) => options,
        Err(err) => return report_error(&err, &Sources::new(), site.message_format),
    };
    match pipeline::cache_gc(&options, &Silent) {
        Ok(report) => {
            if !site.quiet {
                let (images, compressed) = (report.images, report.compressed);
                eprintln!(
                    "cache {}: removed {} image entries ({}), kept {} ({}); removed {} compressed \
                     copies ({}), kept {} ({})",
                    options.cache_dir(),
                    images.removed,
                    human_bytes(images.removed_bytes),
                    images.kept,
                    human_bytes(images.kept_bytes),
                    compressed.removed,
                    human_bytes(compressed.removed_bytes),
                    compressed.kept,
                    human_bytes(compressed.kept_bytes)
                );
            }
            ExitCode::SUCCESS
        }
        Err(failure) => report_error(&failure.error, &failure.sources, site.message_format),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_cli() {
        use clap::CommandFactory;
        Args::command().debug_assert();
    }
}
