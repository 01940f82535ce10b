//! Purging a CDN after a deploy (`--purge cloudflare|fastly`): the vendors' documented
//! purge APIs, in batches within their limits, with retries and back-off on `429` and `5xx`.
//!
//! - Cloudflare: `POST /client/v4/zones/{CLOUDFLARE_ZONE_ID}/purge_cache` with
//!   `Authorization: Bearer {CLOUDFLARE_API_TOKEN}` and `{"files": [URL, …]}`, 30 URLs a
//!   request (the limit of every plan but Enterprise).
//! - Fastly: `POST /service/{FASTLY_SERVICE_ID}/purge` with `Fastly-Key: {FASTLY_API_TOKEN}`
//!   and `{"surrogate_keys": [tag, …]}`, 256 keys a request; objects carry their tags as
//!   `x-amz-meta-surrogate-key`, which the service's VCL copies to `Surrogate-Key`.
//!
//! `DROPGEN_CLOUDFLARE_API` and `DROPGEN_FASTLY_API` replace the APIs' base URLs (a proxy,
//! or the tests' local server).

use std::time::Duration;

use serde_json::{Value, json};

use super::DeployError;
use super::record::Unpurged;

/// URLs per Cloudflare purge request.
pub const CLOUDFLARE_BATCH: usize = 30;
/// Surrogate keys per Fastly purge request.
pub const FASTLY_BATCH: usize = crate::manifest::purge::FASTLY_MAX_KEYS;
/// Attempts per request, the first included.
const ATTEMPTS: u32 = 5;
/// The longest wait between two attempts, whatever `Retry-After` asks.
const MAX_WAIT: Duration = Duration::from_secs(30);

/// A CDN dropgen can purge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cdn {
    Cloudflare,
    Fastly,
}

impl Cdn {
    pub fn name(self) -> &'static str {
        match self {
            Cdn::Cloudflare => "cloudflare",
            Cdn::Fastly => "fastly",
        }
    }

    /// The environment variables its credentials come from.
    fn environment(self) -> [&'static str; 2] {
        match self {
            Cdn::Cloudflare => ["CLOUDFLARE_API_TOKEN", "CLOUDFLARE_ZONE_ID"],
            Cdn::Fastly => ["FASTLY_API_TOKEN", "FASTLY_SERVICE_ID"],
        }
    }
}

/// A purge that failed: why, and what is left to purge.
#[derive(Debug)]
pub struct PurgeFailure {
    pub error: DeployError,
    pub left: Unpurged,
}

/// A CDN with its credentials, read before anything is uploaded.
#[derive(Clone)]
pub struct Purger {
    cdn: Cdn,
    token: String,
    /// The zone or service.
    scope: String,
    api: String,
}

impl std::fmt::Debug for Purger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Purger").field("cdn", &self.cdn).field("scope", &self.scope).finish_non_exhaustive()
    }
}

impl Purger {
    /// The credentials of `cdn` from the environment.
    pub fn from_env(cdn: Cdn) -> Result<Purger, DeployError> {
        let [token_var, scope_var] = cdn.environment();
        let read = |name: &'static str| match std::env::var(name) {
            Ok(value) if !value.trim().is_empty() => Ok(value.trim().to_owned()),
            _ => Err(DeployError::PurgeSetup {
                cdn: cdn.name(),
                reason: format!("{name} is not set"),
                hint: format!("set {token_var} and {scope_var}"),
            }),
        };
        let (token, scope) = (read(token_var)?, read(scope_var)?);
        let (variable, default) = match cdn {
            Cdn::Cloudflare => ("DROPGEN_CLOUDFLARE_API", "https://api.cloudflare.com/client/v4"),
            Cdn::Fastly => ("DROPGEN_FASTLY_API", "https://api.fastly.com"),
        };
        let api = std::env::var(variable).unwrap_or_else(|_| default.to_owned());
        Ok(Purger { cdn, token, scope, api: api.trim_end_matches('/').to_owned() })
    }

    pub fn cdn(&self) -> Cdn {
        self.cdn
    }

    /// What this CDN purges of `list`: URLs for Cloudflare, tags for Fastly.
    pub fn items<'a>(&self, list: &'a Unpurged) -> &'a [String] {
        match self.cdn {
            Cdn::Cloudflare => &list.urls,
            Cdn::Fastly => &list.tags,
        }
    }

    /// Purges `list`, batch after batch. On failure, what was not purged (the failed batch
    /// and every later one) comes back with the error.
    pub fn purge(&self, list: &Unpurged) -> Result<(), Box<PurgeFailure>> {
        let items = self.items(list);
        if items.is_empty() {
            return Ok(());
        }
        let fail = |reason: String, from: usize| {
            let rest = items[from..].to_vec();
            let left = match self.cdn {
                Cdn::Cloudflare => Unpurged { urls: rest.clone(), tags: list.tags.clone() },
                Cdn::Fastly => Unpurged { urls: list.urls.clone(), tags: rest.clone() },
            };
            let error =
                DeployError::Purge { cdn: self.cdn.name(), reason, not_purged: rest, hint: self.hint() };
            Box::new(PurgeFailure { error, left })
        };
        let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(runtime) => runtime,
            Err(err) => return Err(fail(format!("cannot start the HTTP client: {err}"), 0)),
        };
        let client = match reqwest::Client::builder().timeout(Duration::from_secs(30)).build() {
            Ok(client) => client,
            Err(err) => return Err(fail(format!("cannot start the HTTP client: {err}"), 0)),
        };
        let size = match self.cdn {
            Cdn::Cloudflare => CLOUDFLARE_BATCH,
            Cdn::Fastly => FASTLY_BATCH,
        };
        for (index, batch) in items.chunks(size).enumerate() {
            if let Err(reason) = runtime.block_on(self.send(&client, batch)) {
                return Err(fail(reason, index * size));
            }
        }
        Ok(())
    }

    /// One batch, with retries on `429`, `5xx` and network errors.
    async fn send(&self, client: &reqwest::Client, batch: &[String]) -> Result<(), String> {
        let (url, body) = match self.cdn {
            Cdn::Cloudflare => {
                (format!("{}/zones/{}/purge_cache", self.api, self.scope), json!({ "files": batch }))
            }
            Cdn::Fastly => {
                (format!("{}/service/{}/purge", self.api, self.scope), json!({ "surrogate_keys": batch }))
            }
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let request = client.post(&url).json(&body).header("Accept", "application/json");
            let request = match self.cdn {
                Cdn::Cloudflare => request.bearer_auth(&self.token),
                Cdn::Fastly => request.header("Fastly-Key", &self.token),
            };
            let (retry, reason, wait) = match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    let retry_after = response
                        .headers()
                        .get("retry-after")
                        .and_then(|value| value.to_str().ok())
                        .and_then(|text| text.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    let text = response.text().await.unwrap_or_default();
                    if status.is_success() && self.accepted(&text) {
                        return Ok(());
                    }
                    let retry = status.as_u16() == 429 || status.is_server_error();
                    let detail: String = text.chars().take(300).collect();
                    (retry, format!("{url} answered {status}: {}", detail.trim()), retry_after)
                }
                Err(err) => (true, format!("{url}: {err}"), None),
            };
            if !retry || attempt >= ATTEMPTS {
                let tries = if attempt > 1 { format!(" (after {attempt} attempts)") } else { String::new() };
                return Err(format!("{reason}{tries}"));
            }
            let backoff = Duration::from_millis(500 * 2u64.pow(attempt - 1));
            tokio::time::sleep(wait.unwrap_or(backoff).min(MAX_WAIT)).await;
        }
    }

    /// Whether a 2xx body says the purge was done: Cloudflare answers `"success": true`.
    fn accepted(&self, body: &str) -> bool {
        match self.cdn {
            Cdn::Cloudflare => serde_json::from_str::<Value>(body).is_ok_and(|json| json["success"] == true),
            Cdn::Fastly => true,
        }
    }

    fn hint(&self) -> String {
        let [token, scope] = self.cdn.environment();
        format!(
            "they are kept in the deploy record and purged by the next `dropgen deploy --purge {}`; check {token} and {scope}",
            self.cdn.name()
        )
    }
}
