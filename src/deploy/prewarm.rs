//! Prewarming the edge after a deploy (`--prewarm`): a GET of each of the manifest's
//! `prewarm` URLs (drop pages, their hero images in the format browsers pick first, the
//! index), a few at once, with the headers a browser sends, so the variant the edge caches is
//! the one visitors will ask for. Best effort: a failed request is reported, not fatal.

use std::time::Duration;

use futures_util::StreamExt;
use serde::Serialize;

use super::error::DeployError;

/// Requests in flight at once: an edge warmed, not a crowd simulated.
const CONCURRENCY: usize = 8;

/// Chrome's `Accept` for a page (a navigation).
pub(crate) const ACCEPT_PAGE: &str =
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8";
/// Chrome's `Accept` for an image (`<img>`): AVIF first, as the pages' `<picture>` offers it.
pub(crate) const ACCEPT_IMAGE: &str = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8";
/// What browsers accept, so the edge caches the encoding they will ask for.
const ACCEPT_ENCODING: &str = "gzip, deflate, br, zstd";
/// The response headers that say whether a CDN served from its cache, in the order looked at:
/// Cloudflare, the RFC 9211 field, then the common `X-Cache` (CloudFront, Fastly, Varnish).
const CACHE_HEADERS: &[&str] = &["cf-cache-status", "cache-status", "x-cache", "x-cache-status"];

/// One prewarm request and what came back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct Prewarmed {
    pub(crate) url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) status: Option<u16>,
    /// The first cache status header of the response, as `name: value`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cache: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
}

impl Prewarmed {
    pub(crate) fn ok(&self) -> bool {
        self.status.is_some_and(|status| (200..300).contains(&status))
    }
}

/// `url` with its origin (scheme, host and port) replaced by `origin`, when given: to warm
/// through one edge, or a local server in tests. A URL of another origin stays as it is.
pub(crate) fn at_origin(url: &str, base_url: &str, origin: Option<&str>) -> String {
    let Some(origin) = origin else { return url.to_owned() };
    let base = base_url.trim_end_matches('/');
    match url.strip_prefix(base) {
        Some(rest) => format!("{}{rest}", origin.trim_end_matches('/')),
        None => url.to_owned(),
    }
}

/// The `Accept` a browser sends for `url`: an image's by its extension, else a page's.
pub(crate) fn accept_for(url: &str) -> &'static str {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let image =
        [".avif", ".webp", ".jpg", ".jpeg", ".png", ".gif", ".svg"].iter().any(|ext| path.ends_with(ext));
    if image { ACCEPT_IMAGE } else { ACCEPT_PAGE }
}

/// Requests every URL of `urls`, at most [`CONCURRENCY`] at once; one result each, in order.
pub(crate) fn prewarm(urls: &[String]) -> Result<Vec<Prewarmed>, DeployError> {
    let setup = |err: String| DeployError::Client(err);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| setup(e.to_string()))?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .user_agent(concat!("dropgen-prewarm/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| setup(e.to_string()))?;
    let results = runtime.block_on(
        futures_util::stream::iter(urls)
            .map(|url| fetch(&client, url))
            .buffered(CONCURRENCY)
            .collect::<Vec<_>>(),
    );
    Ok(results)
}

async fn fetch(client: &reqwest::Client, url: &str) -> Prewarmed {
    let request =
        client.get(url).header("Accept", accept_for(url)).header("Accept-Encoding", ACCEPT_ENCODING);
    match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let cache = CACHE_HEADERS.iter().find_map(|name| {
                let value = response.headers().get(*name)?.to_str().ok()?;
                Some(format!("{name}: {value}"))
            });
            // The whole body: an edge may keep only what was read to the end.
            let error = response.bytes().await.err().map(|err| err.to_string());
            Prewarmed { url: url.to_owned(), status: Some(status), cache, error }
        }
        Err(err) => {
            Prewarmed { url: url.to_owned(), status: None, cache: None, error: Some(err.to_string()) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_move_to_the_given_origin_only_when_they_are_the_sites() {
        let base = "https://drops.test/";
        assert_eq!(at_origin("https://drops.test/a/", base, None), "https://drops.test/a/");
        assert_eq!(
            at_origin("https://drops.test/a/", base, Some("http://127.0.0.1:8080/")),
            "http://127.0.0.1:8080/a/"
        );
        assert_eq!(at_origin("https://drops.test/", base, Some("http://edge")), "http://edge/");
        assert_eq!(
            at_origin("https://cdn.other/x.png", base, Some("http://edge")),
            "https://cdn.other/x.png"
        );
    }

    #[test]
    fn images_are_asked_for_as_browsers_ask_for_them() {
        assert_eq!(accept_for("https://drops.test/_img/hero-ab12-640.avif"), ACCEPT_IMAGE);
        assert_eq!(accept_for("https://drops.test/_img/hero-ab12-640.webp?v=1"), ACCEPT_IMAGE);
        assert_eq!(accept_for("https://drops.test/spring/"), ACCEPT_PAGE);
        assert_eq!(accept_for("https://drops.test/"), ACCEPT_PAGE);
        assert!(ACCEPT_IMAGE.starts_with("image/avif,image/webp"));
    }
}
