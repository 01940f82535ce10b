//! The command line's shape: clap's definitions, and the one place they become
//! [`BuildOptions`].

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::diagnostic::MessageFormat;
use crate::error::Error;
use crate::lock::Contention;
use crate::manifest::BuildTime;
use crate::pipeline::BuildOptions;

#[derive(Debug, Parser)]
#[command(name = "dropgen", version, about, propagate_version = true)]
pub struct Args {
    #[command(subcommand)]
    pub(super) command: Command,
}

#[derive(Debug, Subcommand)]
pub(super) enum Command {
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
        /// Output folder (default: `<root>/dist-preview`), updated on every successful
        /// rebuild. Apart from `build`'s `dist`, so a preview never changes what the next
        /// build compares against.
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
    /// Upload a build to S3-compatible object storage (AWS S3, R2, MinIO) by its manifest.
    ///
    /// Only what the bucket does not hold yet is uploaded (the deploy record in the bucket says
    /// what it holds), with every header of the manifest; assets go before the pages that
    /// refer to them; removed content-hashed files are deleted after their grace period. A
    /// killed deploy is finished by running it again. The connection is configured by
    /// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION and AWS_ENDPOINT_URL
    /// (docs/deploy.md).
    #[cfg(feature = "s3")]
    Deploy(DeployArgs),
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
pub(super) enum SchemaFile {
    /// `dropgen.yaml`.
    Site,
    /// `drops/<slug>/drop.yaml`.
    Drop,
}

#[cfg(feature = "live")]
#[derive(Debug, Subcommand)]
pub(super) enum InventoryCommand {
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
    /// After (or during) a drop: a report from the service's event log, as one self-contained
    /// HTML page with charts, or as JSON (docs/inventory-report.schema.json). Reads only.
    Report {
        /// The drop's slug.
        #[arg(value_name = "DROP")]
        drop: String,
        /// The service's settings file, for where its log is.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// The embedded store's SQLite file [default: inventory.db].
        #[arg(long, value_name = "FILE")]
        database: Option<PathBuf>,
        /// Or the Redis or Valkey the service used: `redis://…`, or Cluster nodes.
        #[arg(long, value_name = "URL", conflicts_with = "database")]
        redis: Option<String>,
        /// `html` (a page that works from a file) or `json` (the same figures).
        #[arg(long, value_enum, default_value_t = ReportFormat::Html)]
        format: ReportFormat,
        /// Write here instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Keep rewriting --out from the live log every SECONDS until Ctrl-C.
        #[arg(long, value_name = "SECONDS", num_args = 0..=1, default_missing_value = "5", requires = "out")]
        watch: Option<u64>,
    },
    /// Write a new Ed25519 signing key for purchase tokens (PKCS#8 PEM, mode 0600).
    Keygen {
        /// The key file to create; it must not exist.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

/// `dropgen inventory report --format`.
#[cfg(feature = "live")]
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub(super) enum ReportFormat {
    Html,
    Json,
}

#[cfg(feature = "s3")]
#[derive(Debug, clap::Args)]
pub(super) struct DeployArgs {
    /// The build's output folder, holding `manifest.json` beside `public/`.
    #[arg(long, default_value = "dist", value_name = "DIR")]
    pub(super) out: PathBuf,
    /// Where to: `s3://bucket/prefix` (or `s3://bucket`).
    #[arg(long, value_name = "URL")]
    pub(super) to: String,
    /// Print what would be uploaded and deleted, and change nothing.
    #[arg(long)]
    pub(super) dry_run: bool,
    /// The moment of the deploy (RFC 3339), for grace periods [default: the clock].
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub(super) now: Option<time::OffsetDateTime>,
    /// Days to keep removed content-hashed files, which cached pages may still refer to
    /// [default: the build's `purge.removed_asset_grace_days`, at least 7].
    #[arg(long, value_name = "DAYS")]
    pub(super) grace_days: Option<u32>,
    /// After the upload, purge what changed at this CDN, in batches within its limits,
    /// retrying on 429 and 5xx. Credentials from CLOUDFLARE_API_TOKEN and
    /// CLOUDFLARE_ZONE_ID, FASTLY_API_TOKEN and FASTLY_SERVICE_ID, or the AWS credentials and
    /// CLOUDFRONT_DISTRIBUTION_ID. A failed purge fails the
    /// deploy, lists what was not purged, and leaves it to the next deploy.
    #[arg(long, value_enum, value_name = "CDN")]
    pub(super) purge: Option<PurgeCdn>,
    /// After the upload (and purge), request the manifest's `prewarm` URLs (drop pages, their
    /// hero images, the index) with a browser's `Accept` headers, 8 at once, and report each
    /// response's cache status header.
    #[arg(long)]
    pub(super) prewarm: bool,
    /// Prewarm at this origin (e.g. one edge's address) instead of the site's `base_url`.
    #[arg(long, value_name = "URL", requires = "prewarm")]
    pub(super) prewarm_origin: Option<String>,
    /// How to print the result: `human` (on stderr) or `json` (on stdout).
    #[arg(long, value_enum, default_value_t = DeployFormat::Human, value_name = "FORMAT")]
    pub(super) format: DeployFormat,
    /// Print only errors, no progress or summary.
    #[arg(long, short)]
    pub(super) quiet: bool,
}

#[cfg(feature = "s3")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum PurgeCdn {
    /// Purge by URL (`{"files": [...]}`, 30 a request).
    Cloudflare,
    /// Purge by surrogate key (the cache tags, 256 a request).
    Fastly,
    /// Invalidate paths (3,000 a request).
    Cloudfront,
}

#[cfg(feature = "s3")]
impl From<PurgeCdn> for crate::deploy::cdn::Cdn {
    fn from(cdn: PurgeCdn) -> Self {
        match cdn {
            PurgeCdn::Cloudflare => crate::deploy::cdn::Cdn::Cloudflare,
            PurgeCdn::Fastly => crate::deploy::cdn::Cdn::Fastly,
            PurgeCdn::Cloudfront => crate::deploy::cdn::Cdn::CloudFront,
        }
    }
}

#[cfg(feature = "s3")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum DeployFormat {
    /// A summary on stderr.
    Human,
    /// The plan and what was done, as one JSON object on stdout.
    Json,
}

#[derive(Debug, Subcommand)]
pub(super) enum CacheCommand {
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
pub(super) struct SiteArgs {
    /// The site folder, holding `dropgen.yaml` and `drops/`.
    #[arg(long, default_value = ".", value_name = "DIR")]
    pub(super) root: PathBuf,
    /// Also build drops marked `draft: true` (`serve` always shows them).
    #[arg(long)]
    pub(super) drafts: bool,
    /// How to print problems: `human` (on stderr) or `json` (one object per line on stdout).
    #[arg(long, value_enum, default_value_t = MessageFormat::Human, value_name = "FORMAT")]
    pub(super) message_format: MessageFormat,
    /// Print only problems, no progress.
    #[arg(long, short)]
    pub(super) quiet: bool,
    /// Also print the image encoder, cache, compression and timing details.
    #[arg(long, short, conflicts_with = "quiet")]
    pub(super) verbose: bool,
    /// The moment the build is for (RFC 3339), for `next_transition_at` and grace periods
    /// [default: `SOURCE_DATE_EPOCH` when set]. Never read from the clock, so output stays
    /// reproducible.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub(super) now: Option<time::OffsetDateTime>,
    /// Where encoded images are kept between builds (default: `<root>/.dropgen-cache`).
    /// Keep it across CI runs and only changed images are encoded again. An
    /// `s3://bucket/prefix` URL keeps it in S3-compatible object storage, configured by
    /// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION and AWS_ENDPOINT_URL.
    #[arg(long, env = "DROPGEN_CACHE_DIR", value_name = "DIR|URL")]
    pub(super) cache_dir: Option<PathBuf>,
    /// Fail at once, instead of waiting, when another dropgen is writing the same output
    /// folder (or `cache gc` holds the cache).
    #[arg(long)]
    pub(super) no_wait: bool,
}

impl SiteArgs {
    /// What to build: the one place the command line becomes [`BuildOptions`].
    pub(super) fn options(
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
pub(super) fn build_time(now: Option<time::OffsetDateTime>) -> Result<BuildTime, Error> {
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
