//! Purging a CDN after a deploy (`--purge cloudflare|fastly|cloudfront`): the vendors' documented
//! purge APIs, in batches within their limits, with retries and back-off on `429` and `5xx`.
//!
//! - Cloudflare: `POST /client/v4/zones/{CLOUDFLARE_ZONE_ID}/purge_cache` with
//!   `Authorization: Bearer {CLOUDFLARE_API_TOKEN}` and `{"files": [URL, …]}`, 30 URLs a
//!   request (the limit of every plan but Enterprise).
//! - Fastly: `POST /service/{FASTLY_SERVICE_ID}/purge` with `Fastly-Key: {FASTLY_API_TOKEN}`
//!   and `{"surrogate_keys": [tag, …]}`, 256 keys a request; objects carry their tags as
//!   `x-amz-meta-surrogate-key`, which the service's VCL copies to `Surrogate-Key`.
//! - CloudFront: `POST /2020-05-31/distribution/{CLOUDFRONT_DISTRIBUTION_ID}/invalidation`
//!   with an `InvalidationBatch` of paths (3,000 a request), signed with AWS Signature
//!   Version 4 from the usual AWS credentials.
//!
//! `DROPGEN_CLOUDFLARE_API`, `DROPGEN_FASTLY_API` and (the AWS SDKs' own)
//! `AWS_ENDPOINT_URL_CLOUDFRONT` replace the APIs' base URLs (a proxy, or the tests' local
//! servers).

use std::time::Duration;

use serde_json::{Value, json};

use super::error::DeployError;
use super::record::Unpurged;
use super::sigv4::{self, Credentials};
use crate::manifest::UploadManifest;

/// URLs per Cloudflare purge request.
pub(crate) const CLOUDFLARE_BATCH: usize = 30;
/// Surrogate keys per Fastly purge request.
pub(crate) const FASTLY_BATCH: usize = crate::manifest::purge::FASTLY_MAX_KEYS;
/// Paths per CloudFront invalidation.
pub(crate) const CLOUDFRONT_BATCH: usize = crate::manifest::purge::CLOUDFRONT_MAX_PATHS;
/// Attempts per request, the first included.
const ATTEMPTS: u32 = 5;
/// The longest wait between two attempts, whatever `Retry-After` asks.
const MAX_WAIT: Duration = Duration::from_secs(30);

/// A CDN dropgen can purge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cdn {
    Cloudflare,
    Fastly,
    CloudFront,
}

impl Cdn {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Cdn::Cloudflare => "cloudflare",
            Cdn::Fastly => "fastly",
            Cdn::CloudFront => "cloudfront",
        }
    }

    /// The environment variables its credentials come from: the token (or key id), the
    /// zone, service or distribution, and for CloudFront the secret key.
    fn environment(self) -> &'static [&'static str] {
        match self {
            Cdn::Cloudflare => &["CLOUDFLARE_API_TOKEN", "CLOUDFLARE_ZONE_ID"],
            Cdn::Fastly => &["FASTLY_API_TOKEN", "FASTLY_SERVICE_ID"],
            Cdn::CloudFront => &["AWS_ACCESS_KEY_ID", "CLOUDFRONT_DISTRIBUTION_ID", "AWS_SECRET_ACCESS_KEY"],
        }
    }

    /// Items per request.
    fn batch(self) -> usize {
        match self {
            Cdn::Cloudflare => CLOUDFLARE_BATCH,
            Cdn::Fastly => FASTLY_BATCH,
            Cdn::CloudFront => CLOUDFRONT_BATCH,
        }
    }
}

/// A purge that failed: why, and what is left to purge.
#[derive(Debug)]
pub(crate) struct PurgeFailure {
    pub(crate) error: DeployError,
    pub(crate) left: Unpurged,
}

/// A CDN with its credentials, read before anything is uploaded.
#[derive(Clone)]
pub(crate) struct Purger {
    cdn: Cdn,
    token: String,
    /// The zone, service or distribution.
    scope: String,
    api: String,
    /// CloudFront's secret key and session token.
    secret: Option<(String, Option<String>)>,
}

impl std::fmt::Debug for Purger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Purger").field("cdn", &self.cdn).field("scope", &self.scope).finish_non_exhaustive()
    }
}

impl Purger {
    /// The credentials of `cdn` from the environment.
    pub(crate) fn from_env(cdn: Cdn) -> Result<Purger, DeployError> {
        let variables = cdn.environment();
        let read = |name: &'static str| match std::env::var(name) {
            Ok(value) if !value.trim().is_empty() => Ok(value.trim().to_owned()),
            _ => Err(DeployError::PurgeSetup {
                cdn: cdn.name(),
                reason: format!("{name} is not set"),
                hint: format!("set {}", variables.join(", ")),
            }),
        };
        let (token, scope) = (read(variables[0])?, read(variables[1])?);
        let secret = match cdn {
            Cdn::CloudFront => {
                let session =
                    std::env::var("AWS_SESSION_TOKEN").ok().filter(|token| !token.trim().is_empty());
                Some((read("AWS_SECRET_ACCESS_KEY")?, session))
            }
            _ => None,
        };
        let (variable, default) = match cdn {
            Cdn::Cloudflare => ("DROPGEN_CLOUDFLARE_API", "https://api.cloudflare.com/client/v4"),
            Cdn::Fastly => ("DROPGEN_FASTLY_API", "https://api.fastly.com"),
            Cdn::CloudFront => ("AWS_ENDPOINT_URL_CLOUDFRONT", "https://cloudfront.amazonaws.com"),
        };
        let api = std::env::var(variable).unwrap_or_else(|_| default.to_owned());
        Ok(Purger { cdn, token, scope, api: api.trim_end_matches('/').to_owned(), secret })
    }

    pub(crate) fn cdn(&self) -> Cdn {
        self.cdn
    }

    /// What this CDN purges of `list`: URLs for Cloudflare and CloudFront, tags for Fastly.
    pub(crate) fn items<'a>(&self, list: &'a Unpurged) -> &'a [String] {
        match self.cdn {
            Cdn::Cloudflare | Cdn::CloudFront => &list.urls,
            Cdn::Fastly => &list.tags,
        }
    }

    /// Purges `list`, batch after batch. On failure, what was not purged (the failed batch
    /// and every later one) comes back with the error.
    pub(crate) fn purge(&self, list: &Unpurged, manifest: &UploadManifest) -> Result<(), Box<PurgeFailure>> {
        let items = self.items(list);
        if items.is_empty() {
            return Ok(());
        }
        let fail = |reason: String, from: usize| {
            let rest = items[from..].to_vec();
            let left = match self.cdn {
                Cdn::Cloudflare | Cdn::CloudFront => Unpurged { urls: rest.clone(), tags: list.tags.clone() },
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
        let size = self.cdn.batch();
        let started = amz_date(time::OffsetDateTime::now_utc());
        for (index, batch) in items.chunks(size).enumerate() {
            // The same reference on every attempt: CloudFront answers a repeated request
            // with the invalidation it already made, so a retry never invalidates twice.
            let reference = format!("dropgen-{}-{started}-{:03}", manifest.build.id, index + 1);
            let base = manifest.build.base_url.trim_end_matches('/');
            if let Err(reason) = runtime.block_on(self.send(&client, batch, base, &reference)) {
                return Err(fail(reason, index * size));
            }
        }
        Ok(())
    }

    /// The request for `batch` (CloudFront's signed at this moment): URL, body, headers.
    fn request(
        &self,
        batch: &[String],
        base: &str,
        reference: &str,
    ) -> (String, Vec<u8>, Vec<(&'static str, String)>) {
        match self.cdn {
            Cdn::Cloudflare => {
                let body = json!({ "files": batch }).to_string().into_bytes();
                let headers = vec![("Authorization", format!("Bearer {}", self.token))];
                (format!("{}/zones/{}/purge_cache", self.api, self.scope), body, headers)
            }
            Cdn::Fastly => {
                let body = json!({ "surrogate_keys": batch }).to_string().into_bytes();
                (
                    format!("{}/service/{}/purge", self.api, self.scope),
                    body,
                    vec![("Fastly-Key", self.token.clone())],
                )
            }
            Cdn::CloudFront => {
                let body = invalidation_batch(batch, base, reference).into_bytes();
                let path = format!("/2020-05-31/distribution/{}/invalidation", self.scope);
                let url = format!("{}{path}", self.api);
                let parsed = url::Url::parse(&url).ok();
                let host = parsed.as_ref().and_then(|url| {
                    let host = url.host_str()?;
                    Some(url.port().map_or(host.to_owned(), |port| format!("{host}:{port}")))
                });
                let full_path = parsed.as_ref().map_or(path.clone(), |url| url.path().to_owned());
                let (secret, session_token) = self.secret.clone().unwrap_or_default();
                let credentials = Credentials { key_id: self.token.clone(), secret, session_token };
                let date = amz_date(time::OffsetDateTime::now_utc());
                let signed = sigv4::sign(
                    &sigv4::Request {
                        method: "POST",
                        host: host.as_deref().unwrap_or_default(),
                        path: &full_path,
                        content_type: CLOUDFRONT_TYPE,
                        body: &body,
                        amz_date: &date,
                        region: "us-east-1",
                        service: "cloudfront",
                    },
                    &credentials,
                );
                (url, body, signed)
            }
        }
    }

    /// One batch, with retries on `429`, `5xx` and network errors.
    async fn send(
        &self,
        client: &reqwest::Client,
        batch: &[String],
        base: &str,
        reference: &str,
    ) -> Result<(), String> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (url, body, headers) = self.request(batch, base, reference);
            let content_type = if self.cdn == Cdn::CloudFront { CLOUDFRONT_TYPE } else { "application/json" };
            let mut request = client.post(&url).body(body).header("Content-Type", content_type);
            if self.cdn != Cdn::CloudFront {
                request = request.header("Accept", "application/json");
            }
            for (name, value) in headers {
                request = request.header(name, value);
            }
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
            Cdn::Fastly | Cdn::CloudFront => true,
        }
    }

    fn hint(&self) -> String {
        format!(
            "they are kept in the deploy record and purged by the next `dropgen deploy --purge {}`; check {}",
            self.cdn.name(),
            self.cdn.environment().join(", ")
        )
    }
}

/// CloudFront's request body type.
const CLOUDFRONT_TYPE: &str = "text/xml";

/// `YYYYMMDD'T'HHMMSS'Z'`, as AWS signatures and dropgen's CallerReferences take it.
fn amz_date(now: time::OffsetDateTime) -> String {
    let now = now.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    )
}

/// CloudFront's `InvalidationBatch` of the paths of `urls` (absolute, under `base`).
fn invalidation_batch(urls: &[String], base: &str, reference: &str) -> String {
    let escape = |text: &str| text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let paths: String = urls
        .iter()
        .map(|url| format!("<Path>{}</Path>", escape(url.strip_prefix(base).unwrap_or(url))))
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<InvalidationBatch xmlns=\"http://cloudfront.amazonaws.com/doc/2020-05-31/\"><Paths><Quantity>{}</Quantity><Items>{paths}</Items></Paths><CallerReference>{}</CallerReference></InvalidationBatch>",
        urls.len(),
        escape(reference)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invalidation_batch_lists_paths_under_the_site() {
        let urls = ["https://shop.test/".to_owned(), "https://shop.test/a&b/index.html".to_owned()];
        let xml = invalidation_batch(&urls, "https://shop.test", "dropgen-1");
        assert!(
            xml.contains(
                "<Quantity>2</Quantity><Items><Path>/</Path><Path>/a&amp;b/index.html</Path></Items>"
            ),
            "{xml}"
        );
        assert!(xml.contains("<CallerReference>dropgen-1</CallerReference>"));
        assert!(xml.contains("xmlns=\"http://cloudfront.amazonaws.com/doc/2020-05-31/\""));
    }

    #[test]
    fn amz_dates_are_utc() {
        let at = time::macros::datetime!(2026-11-23 13:04:05 +01:00);
        assert_eq!(amz_date(at), "20261123T120405Z");
    }
}
