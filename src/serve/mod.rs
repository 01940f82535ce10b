//! `dropgen serve`: a local preview. Builds the site with [`pipeline::build`], serves
//! `<out>/public/` on 127.0.0.1, rebuilds when the config, drops or theme change, and reloads
//! the browser; a failed build shows in the terminal and as an overlay in the page. A
//! rebuild reuses what the last one left in a [`pipeline::Memory`] and updates `<out>` file
//! by file ([`crate::write::Commit::Update`]), so its cost follows the edit, not the site.
//!
//! Everything serve-only is added while serving, never written: the reload script is injected
//! into HTML responses, and with `--mock-inventory` the pages' `data-inventory-api` is pointed
//! at the mock (`mock_http.rs`, state machine in `mock.rs`), which listens on a second port
//! under another host name (`localhost`, the pages being on `127.0.0.1`): another origin and
//! another site, as in production, so CORS and the cookie's `SameSite` are exercised for real.
//! The files in `<out>` are byte-for-byte what `dropgen build` writes.
//!
//! Why this stack: axum on tokio/hyper is the best-kept Rust HTTP stack and gives SSE (for
//! live reload) out of the box; notify is the standard cross-platform file watcher. Both stay
//! out of the build path: only this module uses them.

pub(crate) mod mock;
mod mock_http;
mod watch;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::IntoFuture as _;
use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::sync::broadcast;

use crate::diagnostic::{self, Diagnostics, Sources};
use crate::error::Error;
use crate::pipeline::{self, BuildOptions, BuildReport};

pub(crate) use mock::MockState;
pub(crate) use mock_http::MockFault;

/// Where `serve` builds by default: its own folder, so a preview never changes the output
/// (`dist`) that the next `build` compares against to say what changed and what to purge.
pub(crate) const PREVIEW_DIR: &str = "dist-preview";

/// Serve-only paths live under this prefix, which no drop slug can take (slugs are
/// `[a-z0-9-]+`).
const PREFIX: &str = "/_dropgen";

/// What `dropgen serve` was asked for.
#[derive(Clone, Debug)]
pub(crate) struct ServeOptions {
    /// Site, output folder and drafts, as for `dropgen build`.
    pub build: BuildOptions,
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// The mock inventory API's port; 0 picks a free one.
    pub mock_port: u16,
    /// Serve the mock inventory API and point the pages at it.
    pub mock: Option<MockOptions>,
    /// Point the pages at this running inventory service instead (`--inventory URL`).
    pub inventory: Option<String>,
}

/// The mock inventory's starting point.
#[derive(Clone, Debug, Default)]
pub(crate) struct MockOptions {
    /// YAML map of SKU → units, instead of the default stock for every SKU.
    pub seed_file: Option<PathBuf>,
    pub state: MockState,
    pub fault: MockFault,
}

/// Sent to every open page.
#[derive(Clone, Debug)]
enum Notice {
    Reload,
    Failed(String),
}

struct App {
    public: PathBuf,
    events: broadcast::Sender<Notice>,
    /// The last build's failure, shown to pages that connect while it lasts.
    failure: Mutex<Option<String>>,
    mock: Option<mock_http::Mock>,
    /// The inventory API the pages are pointed at while serving (the mock's, or `--inventory`),
    /// written into their `data-inventory-api`.
    inventory_api: Option<String>,
}

/// Builds, serves and watches until interrupted (Ctrl-C).
pub(crate) fn run(mut options: ServeOptions) -> Result<(), Error> {
    // Each save rebuilds, so the output is updated file by file rather than made again whole:
    // what the browser reloads then waits only for the files the edit changed.
    options.build.commit = crate::write::Commit::Update;
    let out =
        options.build.out.clone().ok_or_else(|| Error::Usage("`serve` needs an output folder".into()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|err| Error::Usage(format!("cannot start the preview server: {err}")))?;

    // Kept from build to build, so a rebuild after one edit redoes little.
    let mut memory = pipeline::Memory::default();
    let (site, first_failure) = first_build(&options.build, &mut memory)?;

    // Bound before anything starts, so the pages and the mock know each other's origin.
    let pages_listener = bind(options.port, "--port")?;
    let pages = local_address(&pages_listener)?;
    let pages_origin = format!("http://{pages}");
    let mut mock_listener = None;
    let mut inventory_api = match &options.inventory {
        Some(url) => Some(inventory_url(url)?),
        None => None,
    };
    let mock = match &options.mock {
        Some(mock_options) => {
            let listener = bind(options.mock_port, "--mock-port")?;
            let port = local_address(&listener)?.port();
            mock_listener = Some(listener);
            inventory_api = Some(format!("http://localhost:{port}{PREFIX}/inventory"));
            Some(mock_http::Mock::new(site.as_ref(), mock_options, &pages_origin)?)
        }
        None => None,
    };
    let (events, _) = broadcast::channel(16);
    let app = Arc::new(App {
        public: out.join(crate::write::PUBLIC_DIR),
        events,
        failure: Mutex::new(first_failure),
        mock,
        inventory_api,
    });

    let watched = watch::start(&options.build.root, {
        let app = Arc::clone(&app);
        let build = options.build.clone();
        move || rebuild(&app, &build, &mut memory)
    })?;

    let served = runtime.block_on(serve_until_stopped(app, pages_listener, mock_listener, pages_origin));
    // Open event streams and a hanging mock request must not hold up the exit.
    runtime.shutdown_background();
    drop(watched);
    served
}

/// The first build. Problems in the content do not stop the preview: they show in the page
/// until fixed (the second value). Anything else (not a site, an unsafe `--out`) does.
fn first_build(
    build: &BuildOptions,
    memory: &mut pipeline::Memory,
) -> Result<(Option<crate::model::Site>, Option<String>), Error> {
    match pipeline::build(build, &crate::progress::Silent, memory) {
        Ok(report) => {
            print_built(&report);
            Ok((Some(report.site), None))
        }
        Err(failure) if matches!(failure.error, Error::Content(_)) => {
            Ok((None, Some(print_failure(&failure.error, &failure.sources))))
        }
        Err(failure) => Err(failure.error),
    }
}

/// Serves the pages, and the mock on its own listener when there is one, until Ctrl-C.
async fn serve_until_stopped(
    app: Arc<App>,
    pages_listener: std::net::TcpListener,
    mock_listener: Option<std::net::TcpListener>,
    pages_origin: String,
) -> Result<(), Error> {
    let stopped = |err: std::io::Error| Error::Usage(format!("the preview server stopped: {err}"));
    let listener = tokio::net::TcpListener::from_std(pages_listener).map_err(stopped)?;
    eprintln!("serving {pages_origin}/ (Ctrl-C to stop)");
    if let (Some(api), None) = (&app.inventory_api, &app.mock) {
        eprintln!(
            "pages use the inventory service at {api}; it must list {pages_origin} in `page_origins` for its answers to reach them"
        );
    }
    let mock_server = match (mock_listener, &app.inventory_api) {
        (Some(mock_listener), Some(api)) => {
            eprintln!(
                "mock inventory at {api} (another origin; CORS for {pages_origin} only), controls at {pages_origin}{PREFIX}/mock"
            );
            let listener = tokio::net::TcpListener::from_std(mock_listener).map_err(stopped)?;
            let router = mock_http::api_routes().with_state(Arc::clone(&app));
            Some(tokio::spawn(axum::serve(listener, router).into_future()))
        }
        _ => None,
    };
    let router = router(Arc::clone(&app));
    // Not a graceful shutdown: open pages hold their event streams forever, so waiting for
    // connections to finish would never end. A preview has nothing to flush.
    let result = tokio::select! {
        served = axum::serve(listener, router).into_future() => served.map_err(stopped),
        _ = tokio::signal::ctrl_c() => {
            eprintln!("stopped");
            Ok(())
        }
    };
    if let Some(mock_server) = mock_server {
        mock_server.abort();
    }
    result
}

fn router(app: Arc<App>) -> Router {
    let mut router =
        Router::new().route("/_dropgen/events", get(events)).route("/_dropgen/reload.js", get(reload_script));
    if app.mock.is_some() {
        router = router.merge(mock_http::control_routes());
    }
    router.fallback(static_file).with_state(app)
}

/// Runs after a change: rebuilds, then tells the open pages to reload or to show the error.
fn rebuild(app: &App, build: &BuildOptions, memory: &mut pipeline::Memory) {
    let notice = match pipeline::build(build, &crate::progress::Silent, memory) {
        Ok(report) => {
            print_built(&report);
            if let Some(mock) = &app.mock {
                mock.reseed(&report.site);
            }
            *app.failure.lock().unwrap_or_else(PoisonError::into_inner) = None;
            Notice::Reload
        }
        Err(failure) => {
            let text = print_failure(&failure.error, &failure.sources);
            *app.failure.lock().unwrap_or_else(PoisonError::into_inner) = Some(text.clone());
            Notice::Failed(text)
        }
    };
    // No page open is not an error.
    let _ = app.events.send(notice);
}

fn print_built(report: &BuildReport) {
    let warnings = render_diagnostics(&report.diagnostics, &report.sources);
    if !warnings.is_empty() {
        eprintln!("{warnings}");
    }
    eprintln!("built {} drop(s), {} files", report.drops, report.files);
}

/// Prints a failed build like `dropgen build` does, and returns the same text for the overlay.
fn print_failure(error: &Error, sources: &Sources) -> String {
    let text = match error {
        Error::Content(diagnostics) => format!(
            "{}error: found {} problem(s) to fix; the preview shows the last good build",
            render_diagnostics(diagnostics, sources),
            diagnostics.error_count()
        ),
        other => format!("error: {other}"),
    };
    eprintln!("{text}");
    text
}

fn render_diagnostics(diagnostics: &Diagnostics, sources: &Sources) -> String {
    diagnostics
        .sorted()
        .into_iter()
        .map(|d| format!("{}\n\n", diagnostic::render_human(d, sources, false)))
        .collect()
}

/// Server-sent events: `reload` after a good build, `failed` (with the error text) after a bad
/// one, and `failed` at once for a page that connects while the last build is broken.
async fn events(State(app): State<Arc<App>>) -> impl IntoResponse {
    let current = app.failure.lock().unwrap_or_else(PoisonError::into_inner).clone().map(Notice::Failed);
    let receiver = app.events.subscribe();
    let stream = futures_util::stream::unfold((current, receiver), |(pending, mut receiver)| async move {
        let notice = match pending {
            Some(notice) => notice,
            None => loop {
                match receiver.recv().await {
                    Ok(notice) => break notice,
                    // A slow page missed some notices: the newest state is all it needs.
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            },
        };
        let event = match notice {
            Notice::Reload => Event::default().event("reload").data("reload"),
            Notice::Failed(text) => {
                Event::default().event("failed").data(serde_json::to_string(&text).unwrap_or_default())
            }
        };
        Some((Ok::<_, Infallible>(event), (None, receiver)))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

const NO_BUILD_YET: &str = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
    <title>dropgen serve</title></head><body><p>No successful build yet: the problems are in the \
    terminal, and this page reloads once they are fixed.</p></body></html>\n";

/// The only script serve mode adds to pages.
const RELOAD_JS: &str = r#"// dropgen serve: reload after a rebuild, show a failed build over the page.
(() => {
  const events = new EventSource("/_dropgen/events");
  events.addEventListener("reload", () => location.reload());
  events.addEventListener("failed", (event) => {
    let box = document.getElementById("dropgen-overlay");
    if (!box) {
      box = document.body.appendChild(document.createElement("pre"));
      box.id = "dropgen-overlay";
      box.setAttribute("role", "alert");
      box.style.cssText = "position:fixed;inset:1rem;z-index:2147483647;margin:0;padding:1rem;overflow:auto;" +
        "background:#1b1b1f;color:#ffe1e1;font:13px/1.45 ui-monospace,monospace;white-space:pre-wrap;" +
        "border:3px solid #e5484d;border-radius:8px";
    }
    box.textContent = "dropgen: the last build failed. Fix it and save; this page reloads by itself.\n\n" +
      JSON.parse(event.data);
  });
})();
"#;

async fn reload_script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "no-store")],
        RELOAD_JS,
    )
}

/// Serves `<out>/public/`: `/x/` is `/x/index.html`, unknown paths get `404.html`.
async fn static_file(State(app): State<Arc<App>>, uri: Uri, request: HeaderMap) -> Response {
    let Some(rel) = safe_relative(uri.path()) else {
        return (StatusCode::BAD_REQUEST, "bad path").into_response();
    };
    let mut path = app.public.join(&rel);
    if path.is_dir() {
        if !uri.path().ends_with('/') {
            // Built from the checked relative path: `//host` would redirect off-site.
            let location = format!("/{}/", rel.display());
            return (StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, location)]).into_response();
        }
        path = path.join("index.html");
    }
    let (status, path) = if path.is_file() {
        (StatusCode::OK, path)
    } else {
        (StatusCode::NOT_FOUND, app.public.join("404.html"))
    };
    let bytes = match tokio::fs::read(&path).await {
        Ok(bytes) => bytes,
        // No build has succeeded yet: a page that shows the failure and reloads once fixed.
        Err(_) => {
            let page = serve_mode_html(NO_BUILD_YET, None);
            return (StatusCode::SERVICE_UNAVAILABLE, axum::response::Html(page)).into_response();
        }
    };
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let content_type = crate::output::content_type(name);
    // Compressed as a CDN sends it, so what a browser (or Lighthouse) measures here is what
    // visitors get: the build's own `.br`/`.gz` sibling, or for pages, which the preview
    // changes, the same compression made now.
    let method = request
        .get(header::ACCEPT_ENCODING)
        .and_then(|value| value.to_str().ok())
        .and_then(crate::compress::Method::negotiate);
    let (body, encoding) = if content_type.starts_with("text/html") {
        let html =
            serve_mode_html(&String::from_utf8_lossy(&bytes), app.inventory_api.as_deref()).into_bytes();
        match method {
            // Off the async threads: brotli on a large index takes a while.
            Some(method) if html.len() >= crate::compress::MIN_BYTES => {
                match tokio::task::spawn_blocking(move || method.compress(&html)).await {
                    Ok(packed) => (packed, Some(method)),
                    Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
                }
            }
            _ => (html, None),
        }
    } else {
        let sibling = method.map(|method| (method, format!("{}.{}", path.display(), method.extension())));
        match sibling {
            Some((method, sibling)) => match tokio::fs::read(&sibling).await {
                Ok(packed) => (packed, Some(method)),
                Err(_) => (bytes, None),
            },
            None => (bytes, None),
        }
    };
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Some(method) = encoding {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(method.encoding()));
    }
    headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    // A preview must never show a stale file.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A listener on 127.0.0.1 (`port` 0 for a free one); `flag` names the option to change.
fn bind(port: u16, flag: &str) -> Result<std::net::TcpListener, Error> {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let listener = std::net::TcpListener::bind(address)
        .map_err(|err| Error::Usage(format!("cannot listen on {address}: {err}; try another `{flag}`")))?;
    // tokio takes over the socket, which must not block.
    listener
        .set_nonblocking(true)
        .map_err(|err| Error::Usage(format!("cannot listen on {address}: {err}")))?;
    Ok(listener)
}

fn local_address(listener: &std::net::TcpListener) -> Result<SocketAddr, Error> {
    listener.local_addr().map_err(|err| Error::Usage(format!("cannot read the listening address: {err}")))
}

/// `/a/b.css` → `a/b.css`; `None` for anything that could leave the folder.
fn safe_relative(path: &str) -> Option<PathBuf> {
    let decoded = percent_decode(path)?;
    let rel = Path::new(decoded.trim_start_matches('/'));
    rel.components().all(|c| matches!(c, Component::Normal(_))).then(|| rel.to_path_buf())
}

fn percent_decode(text: &str) -> Option<String> {
    let decoded = percent_encoding::percent_decode_str(text).decode_utf8().ok()?;
    (!decoded.contains('\0')).then(|| decoded.into_owned())
}

/// `--inventory URL`: an http(s) URL without a query, as `inventory_api` in `dropgen.yaml`.
fn inventory_url(text: &str) -> Result<String, Error> {
    match url::Url::parse(text) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.query().is_none() && url.has_host() => {
            Ok(text.trim_end_matches('/').to_owned())
        }
        _ => Err(Error::Usage(format!(
            "--inventory `{text}` is not the base URL of an inventory service\n  = help: give it as `inventory_api` would be, e.g. http://127.0.0.1:8787 or https://inventory.example.com/v1"
        ))),
    }
}

/// Adds the reload script before `</head>` and points `data-inventory-api` at the API the
/// preview uses (the mock, or `--inventory`). Only ever applied to responses of `dropgen serve`.
fn serve_mode_html(html: &str, inventory_api: Option<&str>) -> String {
    let mut html = html.to_owned();
    if let Some(api) = inventory_api {
        html = replace_attribute(&html, "data-inventory-api", api);
    }
    let tag = format!("<script src=\"{PREFIX}/reload.js\" defer></script>\n");
    match html.find("</head>") {
        Some(at) => html.insert_str(at, &tag),
        None => html.push_str(&tag),
    }
    html
}

/// Replaces the value of every `name="…"` attribute. Values written by tera are escaped, so
/// they never contain a `"`.
fn replace_attribute(html: &str, name: &str, value: &str) -> String {
    let needle = format!(" {name}=\"");
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(at) = rest.find(&needle) {
        let value_start = at + needle.len();
        let Some(len) = rest[value_start..].find('"') else { break };
        out.push_str(&rest[..value_start]);
        out.push_str(value);
        rest = &rest[value_start + len..];
    }
    out.push_str(rest);
    out
}

/// Reads the mock's seed file: a YAML map of SKU → units.
fn read_seed_file(path: &Path) -> Result<BTreeMap<String, u32>, Error> {
    let text = std::fs::read_to_string(path).map_err(|err| Error::io(path, err))?;
    serde_saphyr::from_str::<BTreeMap<String, u32>>(&text).map_err(|err| {
        Error::Usage(format!(
            "`{}`: {err}\n  = help: the seed file maps each SKU to its units, e.g. `LAUNCH-1: 3`",
            path.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inventory_takes_a_base_url_like_inventory_api() {
        assert_eq!(inventory_url("http://127.0.0.1:8787/").unwrap(), "http://127.0.0.1:8787");
        assert_eq!(inventory_url("https://inv.example.com/v1").unwrap(), "https://inv.example.com/v1");
        for bad in ["127.0.0.1:8787", "ftp://x/", "https://x/v1?a=1", "not a url"] {
            assert!(
                inventory_url(bad).unwrap_err().to_string().contains("e.g. http://127.0.0.1:8787"),
                "{bad}"
            );
        }
    }

    #[test]
    fn injects_the_reload_script_and_points_pages_at_the_mock() {
        let html = "<html><head><title>x</title></head><body><article data-drop=\"a\" data-inventory-api=\"https://inv.test/v1/\">";
        let served = serve_mode_html(html, Some("/_dropgen/inventory"));
        assert!(served.contains("<script src=\"/_dropgen/reload.js\" defer></script>\n</head>"), "{served}");
        assert!(served.contains(" data-inventory-api=\"/_dropgen/inventory\">"), "{served}");
        let without_mock = serve_mode_html(html, None);
        assert!(without_mock.contains("https://inv.test/v1/"));
    }

    #[test]
    fn refuses_paths_that_leave_the_public_folder() {
        assert_eq!(safe_relative("/launch/index.html"), Some(PathBuf::from("launch/index.html")));
        assert_eq!(safe_relative("/"), Some(PathBuf::new()));
        assert_eq!(safe_relative("/../secret"), None);
        assert_eq!(safe_relative("/a/%2e%2e/%2e%2e/secret"), None);
        // A stray `%` stays literal, as browsers send it; it names no file outside the folder.
        assert_eq!(safe_relative("/%zz"), Some(PathBuf::from("%zz")));
        assert_eq!(safe_relative("/%2f..%2fsecret"), None);
        assert_eq!(safe_relative("/a%00b"), None);
    }
}
