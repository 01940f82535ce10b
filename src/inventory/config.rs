//! `dropgen inventory serve`'s settings: a YAML file (`examples/inventory/inventory.yaml`
//! explains each key), then the command line over it. Secrets never come from the file:
//! the API keys and signing keys are read from the environment or from files it names.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::store::{Backend, RedisTarget};
use crate::error::Error;

/// The environment variable with the shop's API key (confirm, release, read a hold).
pub(crate) const SHOP_KEY_ENV: &str = "DROPGEN_INVENTORY_SHOP_KEY";
/// The environment variable with the operator's API key (catalog, control, stock).
pub(crate) const OPERATOR_KEY_ENV: &str = "DROPGEN_INVENTORY_OPERATOR_KEY";
/// The environment variable with a signing key's PEM text, used when no file is configured.
pub(crate) const SIGNING_KEY_ENV: &str = "DROPGEN_INVENTORY_SIGNING_KEY";
/// The environment variable with the Redis URL(s), when neither the flag nor the file gives
/// one (a URL may carry a password, which belongs in the environment, not in a file).
pub(crate) const REDIS_ENV: &str = "DROPGEN_INVENTORY_REDIS";

/// The settings file, every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Settings {
    /// Address and port to listen on.
    pub(crate) listen: Option<SocketAddr>,
    /// The embedded store's SQLite file.
    pub(crate) database: Option<PathBuf>,
    /// Redis or Valkey instead of the embedded store: a `redis://` URL, or several (comma
    /// separated) nodes of a Cluster.
    pub(crate) redis: Option<String>,
    /// Put before every Redis key, so several shops can share one server.
    pub(crate) redis_prefix: Option<String>,
    /// The catalog to load at start: `inventory.json` beside a build's `public/`.
    pub(crate) catalog: Option<PathBuf>,
    /// A path every route is under, as in `inventory_api` (e.g. `/v1`).
    pub(crate) base_path: Option<String>,
    /// The drop pages' origins, exactly (`https://drops.example.com`): the only ones CORS allows.
    pub(crate) page_origins: Option<Vec<String>>,
    /// How long a hold reserves its units.
    pub(crate) hold_minutes: Option<u32>,
    /// The same in seconds, over `hold_minutes`: for rehearsals and tests of a compressed
    /// drop (a crowd whose abandoned holds expire in seconds), not for a real one.
    pub(crate) hold_seconds: Option<u32>,
    /// PKCS#8 PEM Ed25519 keys; the first signs, all verify (for rotation).
    pub(crate) signing_keys: Option<Vec<PathBuf>>,
    /// Holds per minute a client address may ask for (bursts of a quarter of it).
    pub(crate) holds_per_address_per_minute: Option<u32>,
    /// Holds per minute a customer may ask for.
    pub(crate) holds_per_customer_per_minute: Option<u32>,
    /// Take the client address from the first `X-Forwarded-For` entry (behind a CDN or a
    /// proxy that sets it; otherwise anyone could pick their own address).
    pub(crate) trust_forwarded_for: Option<bool>,
}

/// The settings in force, defaults filled in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Config {
    pub(crate) listen: SocketAddr,
    pub(crate) backend: Backend,
    pub(crate) catalog: Option<PathBuf>,
    pub(crate) base_path: String,
    pub(crate) page_origins: Vec<String>,
    pub(crate) hold_minutes: u32,
    /// Over `hold_minutes` when given.
    pub(crate) hold_seconds: Option<u32>,
    pub(crate) signing_keys: Vec<PathBuf>,
    pub(crate) holds_per_address_per_minute: u32,
    pub(crate) holds_per_customer_per_minute: u32,
    pub(crate) trust_forwarded_for: bool,
}

impl Settings {
    /// Reads a settings file.
    pub(crate) fn read(path: &Path) -> Result<Settings, Error> {
        let text = std::fs::read_to_string(path).map_err(|err| Error::io(path, err))?;
        serde_saphyr::from_str(&text).map_err(|err| {
            Error::Usage(format!(
                "`{}`: {err}\n  = help: examples/inventory/inventory.yaml lists every key with an example",
                path.display()
            ))
        })
    }

    /// `over` wins where it says something.
    pub(crate) fn or(self, under: Settings) -> Settings {
        Settings {
            listen: self.listen.or(under.listen),
            database: self.database.or(under.database),
            redis: self.redis.or(under.redis),
            redis_prefix: self.redis_prefix.or(under.redis_prefix),
            catalog: self.catalog.or(under.catalog),
            base_path: self.base_path.or(under.base_path),
            page_origins: self.page_origins.or(under.page_origins),
            hold_minutes: self.hold_minutes.or(under.hold_minutes),
            hold_seconds: self.hold_seconds.or(under.hold_seconds),
            signing_keys: self.signing_keys.or(under.signing_keys),
            holds_per_address_per_minute: self
                .holds_per_address_per_minute
                .or(under.holds_per_address_per_minute),
            holds_per_customer_per_minute: self
                .holds_per_customer_per_minute
                .or(under.holds_per_customer_per_minute),
            trust_forwarded_for: self.trust_forwarded_for.or(under.trust_forwarded_for),
        }
    }

    /// Defaults filled in and every value checked; `relative_to` is the settings file's folder,
    /// which relative paths in it are resolved against.
    pub(crate) fn resolve(self) -> Result<Config, Error> {
        let base_path = self.base_path.unwrap_or_default();
        let base_path = base_path.trim_end_matches('/').to_owned();
        if !(base_path.is_empty() || base_path.starts_with('/')) || base_path.contains(['?', '#', ' ']) {
            return Err(Error::Usage(format!(
                "`base_path` `{base_path}` is not a path\n  = help: give the path of `inventory_api`, e.g. `/v1`, or nothing"
            )));
        }
        let page_origins = self.page_origins.unwrap_or_default();
        for origin in &page_origins {
            let parsed = url::Url::parse(origin).ok();
            let exact = parsed.as_ref().is_some_and(|url| url.origin().ascii_serialization() == *origin);
            if !exact {
                return Err(Error::Usage(format!(
                    "page origin `{origin}` is not an origin\n  = help: write scheme, host and port only, with no path or trailing slash, e.g. `https://drops.example.com`"
                )));
            }
        }
        let hold_minutes = self.hold_minutes.unwrap_or(10);
        if !(1..=120).contains(&hold_minutes) {
            return Err(Error::Usage(format!(
                "`hold_minutes` {hold_minutes} is out of range\n  = help: holds last 1-120 minutes; shops use 5-15"
            )));
        }
        if let Some(seconds) = self.hold_seconds.filter(|seconds| !(1..=7200).contains(seconds)) {
            return Err(Error::Usage(format!(
                "`hold_seconds` {seconds} is out of range\n  = help: 1-7200; leave it out and give `hold_minutes` for a real drop"
            )));
        }
        let per_address = self.holds_per_address_per_minute.unwrap_or(120);
        let per_customer = self.holds_per_customer_per_minute.unwrap_or(20);
        if per_address == 0 || per_customer == 0 {
            return Err(Error::Usage(
                "a rate limit of 0 holds per minute refuses every hold\n  = help: leave it out for the default, or give at least 1".to_owned(),
            ));
        }
        let backend = match (self.redis, self.database) {
            (Some(_), Some(database)) => {
                return Err(Error::Usage(format!(
                    "both `redis` and `database` ({}) are given\n  = help: the service keeps its state in one place: give `redis` for several instances, or `database` for the embedded store",
                    database.display()
                )));
            }
            (Some(urls), None) => Backend::Redis(redis_target(&urls, self.redis_prefix)?),
            (None, database) => Backend::Embedded(database.unwrap_or_else(|| PathBuf::from("inventory.db"))),
        };
        Ok(Config {
            listen: self.listen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8787))),
            backend,
            catalog: self.catalog,
            base_path,
            page_origins,
            hold_minutes,
            hold_seconds: self.hold_seconds,
            signing_keys: self.signing_keys.unwrap_or_default(),
            holds_per_address_per_minute: per_address,
            holds_per_customer_per_minute: per_customer,
            trust_forwarded_for: self.trust_forwarded_for.unwrap_or(false),
        })
    }
}

/// The Redis URLs, checked, and the key prefix (`dropgen:` unless given).
fn redis_target(urls: &str, prefix: Option<String>) -> Result<RedisTarget, Error> {
    let urls: Vec<String> =
        urls.split(',').map(str::trim).filter(|url| !url.is_empty()).map(str::to_owned).collect();
    if urls.is_empty() {
        return Err(Error::Usage(
            "`redis` gives no URL\n  = help: e.g. `redis://127.0.0.1:6379`, or several Cluster nodes separated by commas".to_owned(),
        ));
    }
    for url in &urls {
        let scheme = url::Url::parse(url).map(|parsed| parsed.scheme().to_owned()).unwrap_or_default();
        if !["redis", "rediss", "valkey", "valkeys"].contains(&scheme.as_str()) {
            return Err(Error::Usage(format!(
                "`{url}` is not a Redis URL\n  = help: write `redis://[:password@]host:port` (`rediss://` for TLS), e.g. `redis://127.0.0.1:6379`"
            )));
        }
    }
    let prefix = prefix.unwrap_or_else(|| "dropgen:".to_owned());
    if prefix.contains(['{', '}']) {
        return Err(Error::Usage(format!(
            "`redis_prefix` `{prefix}` has a brace\n  = help: braces would break the hash tags that keep each drop in one Cluster slot; use e.g. `shop1:`"
        )));
    }
    Ok(RedisTarget { urls, prefix })
}

/// Makes a settings file's relative paths relative to its folder.
pub(crate) fn relative_to(mut settings: Settings, folder: &Path) -> Settings {
    let fix = |path: PathBuf| if path.is_relative() { folder.join(path) } else { path };
    settings.database = settings.database.map(fix);
    settings.catalog = settings.catalog.map(fix);
    settings.signing_keys = settings.signing_keys.map(|keys| keys.into_iter().map(fix).collect());
    settings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_what_is_not_said() {
        let config = Settings::default().resolve().unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:8787");
        assert_eq!(config.hold_minutes, 10);
        assert_eq!(config.base_path, "");
        assert_eq!(config.backend, Backend::Embedded(PathBuf::from("inventory.db")));
    }

    #[test]
    fn redis_urls_are_checked_and_exclusive_with_a_database() {
        let redis = |urls: &str| Settings { redis: Some(urls.to_owned()), ..Settings::default() };
        let config = redis("redis://10.0.0.1:7000, redis://10.0.0.2:7000").resolve().unwrap();
        let target = RedisTarget {
            urls: vec!["redis://10.0.0.1:7000".into(), "redis://10.0.0.2:7000".into()],
            prefix: "dropgen:".into(),
        };
        assert_eq!(config.backend, Backend::Redis(target));
        assert!(redis("localhost:6379").resolve().unwrap_err().to_string().contains("not a Redis URL"));
        assert!(redis(" , ").resolve().unwrap_err().to_string().contains("gives no URL"));
        let braced = Settings { redis_prefix: Some("{shop}".into()), ..redis("redis://h:1") };
        assert!(braced.resolve().unwrap_err().to_string().contains("brace"));
        let both = Settings { database: Some("x.db".into()), ..redis("redis://h:1") };
        assert!(both.resolve().unwrap_err().to_string().contains("both `redis` and `database`"));
    }

    #[test]
    fn an_origin_with_a_path_or_a_slash_is_refused_with_the_fix() {
        for bad in ["https://drops.example.com/", "https://drops.example.com/x", "drops.example.com"] {
            let settings = Settings { page_origins: Some(vec![bad.to_owned()]), ..Settings::default() };
            let err = settings.resolve().unwrap_err().to_string();
            assert!(err.contains("scheme, host and port only"), "{bad}: {err}");
        }
        let good =
            Settings { page_origins: Some(vec!["http://localhost:8000".to_owned()]), ..Settings::default() };
        assert!(good.resolve().is_ok());
    }

    #[test]
    fn the_command_line_wins_over_the_file() {
        let file = Settings { hold_minutes: Some(5), base_path: Some("/v1/".into()), ..Settings::default() };
        let flags = Settings { hold_minutes: Some(7), ..Settings::default() };
        let config = flags.or(file).resolve().unwrap();
        assert_eq!((config.hold_minutes, config.base_path.as_str()), (7, "/v1"));
    }

    #[test]
    fn the_example_settings_file_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/inventory/inventory.yaml");
        let settings = Settings::read(&path).unwrap();
        assert_eq!(settings.page_origins.as_deref(), Some(&["https://drops.example.com".to_owned()][..]));
        settings.resolve().unwrap();
    }

    #[test]
    fn an_unknown_key_in_the_file_is_an_error() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("inventory.yaml");
        std::fs::write(&path, "hold_minute: 5\n").unwrap();
        assert!(Settings::read(&path).unwrap_err().to_string().contains("hold_minute"));
    }
}
