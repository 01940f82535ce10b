//! `dropgen inventory serve`, `sync` and `keygen`: the settings resolved, the store opened, the
//! routes served until a signal; the catalog pushed; a signing key written.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::catalog::{Catalog, FILE_NAME as CATALOG_FILE};
use super::config::{self, Config, OPERATOR_KEY_ENV, SHOP_KEY_ENV, SIGNING_KEY_ENV, Settings};
use super::observation::Observations;
use super::store::{self, Store};
use super::token::{Key, Keys};
use super::{http, metrics};
use time::{Duration, OffsetDateTime};

use crate::error::Error;

/// Reads the signing keys: the configured files, else the PEM text in the environment.
fn signing_keys(config: &Config) -> Result<Keys, Error> {
    let mut keys = Vec::new();
    for path in &config.signing_keys {
        let pem = std::fs::read(path).map_err(|err| Error::io(path, err))?;
        keys.push(
            Key::from_pem(&pem, &path.display().to_string()).map_err(|err| Error::Usage(err.to_string()))?,
        );
    }
    if keys.is_empty()
        && let Ok(pem) = std::env::var(SIGNING_KEY_ENV)
    {
        keys.push(
            Key::from_pem(pem.as_bytes(), SIGNING_KEY_ENV).map_err(|err| Error::Usage(err.to_string()))?,
        );
    }
    Keys::new(keys).map_err(|err| {
        Error::Usage(format!(
            "{err}\n  = help: make one with `dropgen inventory keygen signing.pem`, keep it out of the repository, and give `signing_keys: [signing.pem]` in the settings file"
        ))
    })
}

fn read_catalog(path: &Path) -> Result<Catalog, Error> {
    let bytes = std::fs::read(path).map_err(|err| Error::io(path, err))?;
    Catalog::from_json(&bytes).map_err(|err| {
        Error::Usage(format!(
            "`{}`: {err}\n  = help: use the `{CATALOG_FILE}` that `dropgen build` writes beside `public/`",
            path.display()
        ))
    })
}

/// A secret from the environment; an empty one counts as none.
fn secret(variable: &str) -> Option<String> {
    std::env::var(variable).ok().filter(|value| !value.trim().is_empty())
}

/// `dropgen inventory serve`: runs until SIGINT or SIGTERM. `ready` is told the address
/// bound, once the store is open and the service answers.
pub(crate) fn serve(settings: Settings, ready: &dyn Fn(&str)) -> Result<(), Error> {
    let config = settings.resolve()?;
    let keys = signing_keys(&config)?;
    let keys_secret = keys.derive_secret("dropgen inventory: client address hash");
    let catalog = config.catalog.as_deref().map(read_catalog).transpose()?;
    let hold_ttl = match config.hold_seconds {
        Some(seconds) => Duration::seconds(i64::from(seconds)),
        None => Duration::minutes(i64::from(config.hold_minutes)),
    };
    let metrics = Arc::new(metrics::Metrics::default());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|err| Error::Internal(format!("cannot start the async runtime: {err}")))?;
    let (store, warnings) = runtime
        .block_on(Store::open(
            &config.backend,
            catalog.as_ref(),
            hold_ttl,
            Arc::clone(&metrics) as Arc<dyn store::Observer>,
            OffsetDateTime::now_utc(),
        ))
        .map_err(|err| Error::Usage(format!("the inventory store cannot be used: {err}")))?;
    for warning in &warnings {
        http::log("warning", &serde_json::json!({ "message": warning }));
    }
    if store.published().is_empty() {
        http::log(
            "warning",
            &serde_json::json!({
                "message": "no drops: every page gets `unknown_drop` until a catalog is loaded (--catalog, or `dropgen inventory sync`)"
            }),
        );
    }
    let service = Arc::new(http::Service {
        store,
        keys,
        metrics,
        page_origins: config.page_origins.clone(),
        shop_key: secret(SHOP_KEY_ENV),
        operator_key: secret(OPERATOR_KEY_ENV),
        trust_forwarded_for: config.trust_forwarded_for,
        per_address: http::limiter(config.holds_per_address_per_minute),
        per_customer: http::limiter(config.holds_per_customer_per_minute),
        observations: Observations::new(instance_id(), keys_secret),
    });
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(config.listen).await.map_err(|err| {
            Error::Usage(format!(
                "cannot listen on {}: {err}\n  = help: choose another address with --listen, or stop what uses it",
                config.listen
            ))
        })?;
        let address = listener.local_addr().map_err(|err| Error::Internal(err.to_string()))?;
        let router = http::router(Arc::clone(&service), &config.base_path);
        let ticker = tokio::spawn(tick(Arc::clone(&service)));
        http::log(
            "info",
            &serde_json::json!({
                "message": "inventory service listening",
                "address": address.to_string(),
                "store": Store::describe(&config.backend),
                "signing_kid": service.keys.current_kid(),
                "page_origins": config.page_origins,
            }),
        );
        ready(&address.to_string());
        let served = axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>())
            .with_graceful_shutdown(shutdown())
            .await;
        ticker.abort();
        // A clean stop appends what the current minute counted so far.
        service.store.observe(service.observations.all()).await;
        served.map_err(|err| Error::Internal(format!("the inventory service stopped: {err}")))
    })
}

/// Every second: expire the holds that are due (their units come back without waiting for
/// the next request), forget idle rate-limit keys, and append the minutes' observations once
/// each minute is over.
async fn tick(service: Arc<http::Service>) {
    let mut interval = tokio::time::interval(std::time::Duration::from_secs(1));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        interval.tick().await;
        service.store.expire(OffsetDateTime::now_utc()).await;
        service.per_address.retain_recent();
        service.per_customer.retain_recent();
        service.store.observe(service.observations.due(OffsetDateTime::now_utc())).await;
    }
}

/// A random name for this process, in its observation records.
fn instance_id() -> String {
    use ring::rand::SecureRandom as _;
    let mut bytes = [0u8; 6];
    let _ = ring::rand::SystemRandom::new().fill(&mut bytes);
    crate::output::hex(&bytes)
}

async fn shutdown() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

/// `dropgen inventory sync`: pushes a catalog to a running service. Returns its warnings.
pub(crate) fn sync(catalog_path: &Path, service_url: &str) -> Result<Vec<String>, Error> {
    let catalog = read_catalog(catalog_path)?;
    let key = secret(OPERATOR_KEY_ENV).ok_or_else(|| {
        Error::Usage(format!("`{OPERATOR_KEY_ENV}` is not set\n  = help: set it to the operator key the service was started with"))
    })?;
    let url = format!("{}/catalog", service_url.trim_end_matches('/'));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| Error::Internal(format!("cannot start the async runtime: {err}")))?;
    runtime.block_on(async {
        let response = reqwest::Client::new()
            .put(&url)
            .bearer_auth(key)
            .header("content-type", "application/json")
            .body(catalog.to_json())
            .send()
            .await
            .map_err(|err| Error::Usage(format!("cannot reach the inventory service at `{url}`: {err}")))?;
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        if !status.is_success() {
            let detail = body["detail"].as_str().unwrap_or("no detail");
            return Err(Error::Usage(format!(
                "the inventory service refused the catalog ({status}): {detail}"
            )));
        }
        Ok(body["warnings"]
            .as_array()
            .map(|warnings| warnings.iter().filter_map(|w| w.as_str().map(str::to_owned)).collect())
            .unwrap_or_default())
    })
}

/// `dropgen inventory keygen`: writes a new Ed25519 signing key, readable by its owner only.
pub(crate) fn keygen(path: &Path) -> Result<PathBuf, Error> {
    let pem = Key::generate_pem().map_err(|err| Error::Internal(err.to_string()))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|err| Error::io(path, err))?;
    std::io::Write::write_all(&mut file, pem.as_bytes()).map_err(|err| Error::io(path, err))?;
    Ok(path.to_owned())
}

/// The settings the command line gives, over a settings file.
#[derive(Debug, Default)]
pub(crate) struct ServeArgs {
    pub(crate) config: Option<PathBuf>,
    pub(crate) listen: Option<std::net::SocketAddr>,
    pub(crate) database: Option<PathBuf>,
    pub(crate) redis: Option<String>,
    pub(crate) catalog: Option<PathBuf>,
    pub(crate) page_origins: Vec<String>,
}

impl ServeArgs {
    /// The settings in force: the flags over the file.
    pub(crate) fn settings(self) -> Result<Settings, Error> {
        let file = match &self.config {
            Some(path) => {
                let folder = path.parent().unwrap_or(Path::new("."));
                config::relative_to(Settings::read(path)?, folder)
            }
            None => Settings::default(),
        };
        let flags = Settings {
            listen: self.listen,
            database: self.database,
            redis: self.redis,
            catalog: self.catalog,
            page_origins: (!self.page_origins.is_empty()).then_some(self.page_origins),
            ..Settings::default()
        };
        let mut settings = flags.or(file);
        // The environment's Redis URL serves when nothing else names a store.
        if settings.redis.is_none() && settings.database.is_none() {
            settings.redis = secret(config::REDIS_ENV);
        }
        Ok(settings)
    }
}
