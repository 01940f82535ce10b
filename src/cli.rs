//! The command line: parses arguments, calls the library, prints results. No build logic.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::diagnostic::{self, Diagnostics, MessageFormat, Sources};
use crate::error::Error;
use crate::images::ImageStats;
use crate::lock::Contention;
use crate::manifest::BuildTime;
use crate::pipeline::{self, BuildOptions, BuildReport};
use crate::progress::{Progress, Silent};

/// Static pages for limited-time product drops.
#[derive(Debug, Parser)]
#[command(name = "dropgen", version, about, propagate_version = true)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a new site in DIR: settings, one live example drop, editor schemas.
    ///
    /// Then run `dropgen serve` in it, and edit `drops/first-drop/drop.yaml`.
    Init {
        /// The folder for the site, created when missing; it must be empty (`.git` aside).
        #[arg(default_value = ".", value_name = "DIR")]
        dir: PathBuf,
        /// Also write into a folder that is not empty: only missing files are written,
        /// existing files are never overwritten.
        #[arg(long)]
        force: bool,
    },
    /// Validate the site and write the upload root to `<out>/public/`.
    Build {
        #[command(flatten)]
        site: SiteArgs,
        /// Output folder (default: `<root>/dist`). Replaced as a whole, and only when the
        /// build succeeds.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Number of threads for parallel work [default: number of cores].
        #[arg(long, short = 'j', value_name = "N")]
        jobs: Option<usize>,
        /// The manifest of the build to compare with, for `changes.json` and the purge list
        /// (default: `<out>/manifest.json` as it was before this build).
        #[arg(long, value_name = "FILE")]
        previous_manifest: Option<PathBuf>,
        /// Make only this share of the image variants (`K/N`, split by source content) into
        /// the cache, and write no site output: run every shard, for example as the jobs of a
        /// CI matrix sharing one cache, then one build without `--shard`.
        #[arg(long, value_name = "K/N", value_parser = crate::images::Shard::parse, conflicts_with = "previous_manifest")]
        shard: Option<crate::images::Shard>,
    },
    /// Validate the site and render it in memory; only the image cache is written.
    Check {
        #[command(flatten)]
        site: SiteArgs,
    },
    /// Build, serve `<out>/public/` on 127.0.0.1 and rebuild and reload the browser on changes.
    #[cfg(feature = "live")]
    Serve {
        #[command(flatten)]
        site: SiteArgs,
        /// Output folder (default: `<root>/dist`), replaced on every successful rebuild.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Port on 127.0.0.1; 0 picks a free one.
        #[arg(long, default_value_t = 8000, value_name = "PORT")]
        port: u16,
        /// Also serve a mock of the inventory API (docs/inventory-api.md) and point the pages at it.
        #[arg(long)]
        mock_inventory: bool,
        /// The mock's port on 127.0.0.1 (its origin is `http://localhost:PORT`); 0 picks a free one.
        #[arg(long, default_value_t = 0, value_name = "PORT", requires = "mock_inventory")]
        mock_port: u16,
        /// YAML map of SKU to units for the mock, e.g. `LAUNCH-1: 3` [default: 20 of each].
        #[arg(long, value_name = "FILE", requires = "mock_inventory")]
        mock_seed: Option<PathBuf>,
        /// The state the mock starts in.
        #[arg(long, value_enum, default_value_t, value_name = "STATE", requires = "mock_inventory")]
        mock_state: crate::serve::MockState,
        /// A failure for the mock to simulate.
        #[arg(long, value_enum, default_value_t, value_name = "FAULT", requires = "mock_inventory")]
        mock_fault: crate::serve::MockFault,
        /// Point the pages at a running inventory service (`dropgen inventory serve`) instead
        /// of the mock; it must allow this preview's origin in `page_origins`.
        #[arg(long, value_name = "URL", conflicts_with = "mock_inventory")]
        inventory: Option<String>,
    },
    /// Run the inventory service the pages call during a drop (docs/inventory-api.md).
    #[cfg(feature = "live")]
    Inventory {
        #[command(subcommand)]
        command: InventoryCommand,
    },
    /// Manage the image cache.
    Cache {
        #[command(subcommand)]
        command: CacheCommand,
    },
    /// Create `drops/<slug>/drop.yaml` with every field explained.
    New {
        /// The new drop's slug: lower-case letters, digits and dashes. It becomes the URL.
        slug: String,
        /// The site folder.
        #[arg(long, default_value = ".", value_name = "DIR")]
        root: PathBuf,
    },
    /// Print the JSON Schema of `dropgen.yaml` (`site`) or `drop.yaml` (`drop`), for editors.
    Schema {
        /// Which file's schema.
        #[arg(value_enum)]
        file: SchemaFile,
    },
    /// Print a shell completion script.
    ///
    /// For example `dropgen completions bash > ~/.local/share/bash-completion/completions/dropgen`,
    /// `dropgen completions zsh > ~/.zfunc/_dropgen` or
    /// `dropgen completions fish > ~/.config/fish/completions/dropgen.fish`.
    Completions {
        /// The shell to complete in.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    ///
    /// For example `dropgen man > ~/.local/share/man/man1/dropgen.1`, then `man dropgen`.
    Man,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum SchemaFile {
    /// `dropgen.yaml`.
    Site,
    /// `drops/<slug>/drop.yaml`.
    Drop,
}

#[cfg(feature = "live")]
#[derive(Debug, Subcommand)]
enum InventoryCommand {
    /// Serve the inventory API: stock, holds, signed purchase tokens, the shop's and the
    /// operator's routes, on an embedded durable store (SQLite) or on Redis/Valkey (--redis).
    ///
    /// Secrets come from the environment: DROPGEN_INVENTORY_SHOP_KEY (confirm, release, read a
    /// hold), DROPGEN_INVENTORY_OPERATOR_KEY (catalog, pause, stock) and, when the settings
    /// file names no key file, DROPGEN_INVENTORY_SIGNING_KEY (PEM text). DROPGEN_INVENTORY_REDIS
    /// gives the Redis URL when neither a flag nor the file names a store.
    Serve {
        /// A settings file (examples/inventory/inventory.yaml explains every key).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Address to listen on [default: 127.0.0.1:8787].
        #[arg(long, value_name = "ADDR")]
        listen: Option<std::net::SocketAddr>,
        /// The embedded store's SQLite file [default: inventory.db].
        #[arg(long, value_name = "FILE")]
        database: Option<PathBuf>,
        /// Keep the state in Redis or Valkey instead, shared by several service instances:
        /// `redis://[:password@]host:port`, or Cluster nodes separated by commas.
        #[arg(long, value_name = "URL", conflicts_with = "database")]
        redis: Option<String>,
        /// The catalog to load at start: the `inventory.json` a build writes beside `public/`.
        #[arg(long, value_name = "FILE")]
        catalog: Option<PathBuf>,
        /// An origin of the drop pages (repeat for several): the only ones CORS allows.
        #[arg(long = "page-origin", value_name = "ORIGIN")]
        page_origins: Vec<String>,
    },
    /// Push a catalog (`inventory.json`) to a running service: new drops and SKUs, times,
    /// limits and stock. What is sold or held is kept.
    Sync {
        /// The catalog: `<out>/inventory.json`.
        #[arg(value_name = "FILE")]
        catalog: PathBuf,
        /// The service's base URL, e.g. `http://127.0.0.1:8787`.
        #[arg(long, env = "DROPGEN_INVENTORY_URL", value_name = "URL")]
        url: String,
    },
    /// Write a new Ed25519 signing key for purchase tokens (PKCS#8 PEM, mode 0600).
    Keygen {
        /// The key file to create; it must not exist.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum CacheCommand {
    /// Delete every cache entry the site in its current state does not use: images it does
    /// not show, and compressed copies of files the last build into `--out` did not publish.
    Gc {
        #[command(flatten)]
        site: SiteArgs,
        /// The output folder whose `manifest.json` says which compressed copies are in use
        /// (default `<root>/dist`); without one, every compressed copy is deleted.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, clap::Args)]
struct SiteArgs {
    /// The site folder, holding `dropgen.yaml` and `drops/`.
    #[arg(long, default_value = ".", value_name = "DIR")]
    root: PathBuf,
    /// Also build drops marked `draft: true`.
    #[arg(long)]
    drafts: bool,
    /// How to print problems: `human` (on stderr) or `json` (one object per line on stdout).
    #[arg(long, value_enum, default_value_t = Format::Human, value_name = "FORMAT")]
    message_format: Format,
    /// Print only problems, no progress.
    #[arg(long, short)]
    quiet: bool,
    /// The moment the build is for (RFC 3339), for `next_transition_at` and grace periods
    /// [default: `SOURCE_DATE_EPOCH` when set]. Never read from the clock, so output stays
    /// reproducible.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    now: Option<time::OffsetDateTime>,
    /// Where encoded images are kept between builds (default: `<root>/.dropgen-cache`).
    /// Keep it across CI runs and only changed images are encoded again. An
    /// `s3://bucket/prefix` URL keeps it in S3-compatible object storage, configured by
    /// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION and AWS_ENDPOINT_URL.
    #[arg(long, env = "DROPGEN_CACHE_DIR", value_name = "DIR|URL")]
    cache_dir: Option<PathBuf>,
    /// Fail at once, instead of waiting, when another dropgen is writing the same output
    /// folder (or `cache gc` holds the cache).
    #[arg(long)]
    no_wait: bool,
}

impl SiteArgs {
    /// What to build: the one place the command line becomes [`BuildOptions`].
    fn options(
        &self,
        out: Option<PathBuf>,
        previous_manifest: Option<PathBuf>,
    ) -> Result<BuildOptions, Error> {
        Ok(BuildOptions {
            root: self.root.clone(),
            out,
            drafts: self.drafts,
            previous_manifest,
            time: build_time(self.now)?,
            cache_dir: self.cache_dir.as_deref().map(crate::cache::Location::parse).transpose()?,
            contention: if self.no_wait { Contention::Fail } else { Contention::Wait },
            commit: Default::default(),
        })
    }
}

fn parse_time(text: &str) -> Result<time::OffsetDateTime, String> {
    crate::rfc3339::parse(text)
        .map_err(|_| format!("`{text}` is not an RFC 3339 time such as `2026-11-20T15:00:00Z`"))
}

/// `--now`, else `SOURCE_DATE_EPOCH` (seconds since 1970, the reproducible-builds convention).
fn build_time(now: Option<time::OffsetDateTime>) -> Result<BuildTime, Error> {
    let source_date_epoch = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(text) if !text.trim().is_empty() => Some(text.trim().parse::<i64>().map_err(|_| {
            Error::Usage(format!("SOURCE_DATE_EPOCH must be a whole number of seconds, not `{text}`"))
        })?),
        _ => None,
    };
    let from_epoch = match source_date_epoch {
        Some(seconds) => Some(
            time::OffsetDateTime::from_unix_timestamp(seconds)
                .map_err(|_| Error::Usage(format!("SOURCE_DATE_EPOCH `{seconds}` is out of range")))?,
        ),
        None => None,
    };
    Ok(BuildTime { source_date_epoch, reference: now.or(from_epoch) })
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Human,
    Json,
}

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
        Command::New { slug, root } => {
            let now = time::OffsetDateTime::now_utc();
            match crate::scaffold::new_drop(&root, &slug, now) {
                Ok(created) => {
                    if let Some(drop) = created.first() {
                        eprintln!(
                            "created {}: add a hero image beside it and fill in the fields",
                            drop.display()
                        );
                    }
                    for schema in created.iter().skip(1) {
                        eprintln!(
                            "created {}: editors read it to complete the drop's fields",
                            schema.display()
                        );
                    }
                    ExitCode::SUCCESS
                }
                Err(err) => report_error(&err, &Sources::new(), Format::Human),
            }
        }
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
        Command::Man => {
            use clap::CommandFactory;
            let mut page = Vec::new();
            match clap_mangen::Man::new(Args::command()).render(&mut page) {
                Ok(()) => print_stdout(&page),
                Err(err) => report_error(
                    &Error::Internal(format!("cannot render the man page: {err}")),
                    &Sources::new(),
                    Format::Human,
                ),
            }
        }
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
        InventoryCommand::Keygen { file } => crate::inventory::keygen(&file).map(|path| {
            eprintln!(
                "created {}: keep it out of the repository, and give it in `signing_keys` (first to sign; keep the previous key listed after it until its tokens expire)",
                path.display()
            );
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => report_error(&err, &Sources::new(), Format::Human),
    }
}

/// Machine output on stdout. A closed pipe (`| head`) is success, as for problems.
fn print_stdout(bytes: &[u8]) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => report_error(
            &Error::Usage(format!("cannot write to standard output: {err}")),
            &Sources::new(),
            Format::Human,
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
        Err(err) => return report_error(&err, &Sources::new(), Format::Human),
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
        Err(err) => report_error(&err, &Sources::new(), Format::Human),
    }
}

/// Runs `f` on a thread pool of `jobs` threads (rayon's default pool when not given).
fn with_threads(jobs: Option<usize>, f: impl FnOnce() -> ExitCode + Send) -> ExitCode {
    let Some(jobs) = jobs else { return f() };
    if jobs == 0 {
        return report_error(
            &Error::Usage("`--jobs` must be at least 1".to_owned()),
            &Sources::new(),
            Format::Human,
        );
    }
    match rayon::ThreadPoolBuilder::new().num_threads(jobs).build() {
        Ok(pool) => pool.install(f),
        Err(err) => report_error(
            &Error::Usage(format!("cannot start {jobs} threads: {err}")),
            &Sources::new(),
            Format::Human,
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
                print_summary(&report, out.as_deref());
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
    let out = out.unwrap_or_else(|| site.root.join("dist"));
    let build = match site.options(Some(out), None) {
        Ok(options) => options,
        Err(err) => return report_error(&err, &Sources::new(), site.message_format),
    };
    match crate::serve::run(crate::serve::ServeOptions { build, port, mock_port, mock, inventory }) {
        Ok(()) => ExitCode::SUCCESS,
        // Build problems were already printed by `serve`, as they are on every rebuild.
        Err(Error::Content(_)) => ExitCode::from(1),
        Err(err) => report_error(&err, &Sources::new(), site.message_format),
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

/// A bar on a terminal, a line every few seconds in a log, nothing with `--quiet`.
fn progress_for(quiet: bool) -> Box<dyn Progress> {
    if quiet {
        Box::new(Silent)
    } else if std::io::stderr().is_terminal() {
        Box::new(Bar(indicatif::ProgressBar::hidden()))
    } else {
        Box::new(LogLines::default())
    }
}

struct Bar(indicatif::ProgressBar);

impl Progress for Bar {
    fn start(&self, stage: &'static str, total: u64) {
        self.0.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        self.0.set_length(total);
        self.0.set_position(0);
        self.0.set_prefix(stage);
        let style = indicatif::ProgressStyle::with_template(
            "{prefix:>8} [{bar:32}] {pos}/{len} variants, {elapsed}, about {eta} left",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> ");
        self.0.set_style(style);
    }

    fn advance(&self, done: u64) {
        self.0.inc(done);
    }

    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

/// Progress for logs (CI): a line when a stage has run a while, then every 10 seconds.
#[derive(Default)]
struct LogLines {
    state: std::sync::Mutex<LogState>,
}

#[derive(Default)]
struct LogState {
    stage: &'static str,
    total: u64,
    done: u64,
    started: Option<std::time::Instant>,
    last_line: Option<std::time::Instant>,
}

impl Progress for LogLines {
    fn start(&self, stage: &'static str, total: u64) {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = std::time::Instant::now();
        *state = LogState { stage, total, done: 0, started: Some(now), last_line: Some(now) };
    }

    fn advance(&self, done: u64) {
        const EVERY: std::time::Duration = std::time::Duration::from_secs(10);
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        state.done += done;
        let now = std::time::Instant::now();
        if state.last_line.is_some_and(|last| now - last >= EVERY) {
            state.last_line = Some(now);
            let elapsed = state.started.map_or(0, |start| (now - start).as_secs());
            eprintln!("{}: {}/{} variants after {elapsed} s", state.stage, state.done, state.total);
        }
    }

    fn finish(&self) {}
}

fn report_error(error: &Error, sources: &Sources, format: Format) -> ExitCode {
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

fn print_diagnostics(diagnostics: &Diagnostics, sources: &Sources, format: Format) {
    let github = std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true");
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr().lock();
    for item in diagnostics.sorted() {
        // A closed pipe (e.g. `| head`) is not a reason to fail the build.
        let _ = match format {
            Format::Human => writeln!(stderr, "{}\n", diagnostic::render_human(item, sources, color)),
            Format::Json => writeln!(stdout, "{}", diagnostic::render_json(item)),
        };
        // Workflow commands go with human output; JSON consumers get only JSON lines.
        if github && matches!(format, Format::Human) {
            let _ = writeln!(stdout, "{}", diagnostic::render_github(item));
        }
    }
    let _ = MessageFormat::default();
}

fn print_summary(report: &BuildReport, out: Option<&Path>) {
    let recovered = report.recovered;
    if recovered.restored {
        eprintln!("put back the previous output, which a killed build had moved aside");
    }
    if recovered.removed > 0 {
        eprintln!("removed {} folder(s) a killed build left beside the output", recovered.removed);
    }
    let stages: Vec<String> =
        report.timings.iter().map(|(name, time)| format!("{name} {:.0?}", time)).collect();
    match (&report.written, out) {
        (Some(written), Some(out)) => {
            eprintln!(
                "built {} drop(s): {} files, {} into {} ({})",
                report.drops,
                written.files,
                human_bytes(written.bytes),
                out.join(crate::write::PUBLIC_DIR).display(),
                stages.join(", ")
            );
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
            print_image_summary(&report.images);
            let compressed = report.compressed;
            if compressed.reused + compressed.compressed > 0 {
                eprintln!(
                    "compressed copies: {} made, {} reused from the cache",
                    compressed.compressed, compressed.reused
                );
            }
            if let Some(next) = &report.next_transition_at {
                eprintln!("next phase change: {next}");
            }
            if let Some(size) = report.script_gzip_bytes {
                eprintln!(
                    "hydration script: {size} bytes minified and gzipped (budget {})",
                    crate::assets::HYDRATION_BUDGET
                );
            }
        }
        _ => eprintln!(
            "checked {} drop(s): {} files would be written ({})",
            report.drops,
            report.files,
            stages.join(", ")
        ),
    }
}

fn print_image_summary(stats: &ImageStats) {
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

fn human_bytes(bytes: u64) -> String {
    match bytes {
        b if b >= 1_000_000 => format!("{:.1} MB", b as f64 / 1_000_000.0),
        b if b >= 1_000 => format!("{:.1} kB", b as f64 / 1_000.0),
        b => format!("{b} B"),
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
