//! The mock inventory over HTTP, as `docs/inventory-api.yaml` describes it, under
//! `/_dropgen/inventory` on its own origin (a second port, named `localhost`), as a real API is
//! on another origin than the pages: CORS for credentialed requests from the pages' exact
//! origin only, the customer cookie (`SameSite=None; Partitioned`), `ETag`s, and faults to
//! preview a failing API. On the pages' server, `/_dropgen/mock` shows and changes the knobs
//! (`?state=low`, `?fault=down`, `?fault_on=holds`, `?retry_after=1`, `?server_time=…`,
//! `?reset=true`), and `/_dropgen/checkout` stands in for the shop's checkout page.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;

use super::mock::{self, HoldRequest, Inventory, MockState, Refusal, Seed};
use super::{App, MockOptions};
use crate::error::Error;
use crate::model::Site;
use crate::rfc3339;

const COOKIE: &str = "dropgen_mock_customer";

/// A failure to preview (`--mock-fault`), applied to the API routes only.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum MockFault {
    /// The API works.
    #[default]
    None,
    /// `503` with `Retry-After` (5 s unless `retry_after` says).
    Down,
    /// Answers after 3 seconds.
    Slow,
    /// Never answers (for a minute).
    Hang,
    /// `500` with a body that is not a problem.
    Error,
    /// `200` with a body that is not JSON.
    Garbage,
    /// `429` with `Retry-After` (2 s unless `retry_after` says).
    RateLimited,
}

/// Which routes a fault applies to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum FaultOn {
    /// Stock and holds.
    #[default]
    All,
    /// Only `GET …/stock`.
    Stock,
    /// Only `POST …/holds`, so a page can show live stock while its holds fail.
    Holds,
}

/// The failure the mock simulates, and where.
#[derive(Clone, Copy, Debug, Default)]
struct Faults {
    fault: MockFault,
    on: FaultOn,
    /// Overrides the `Retry-After` of `down` and `rate-limited`.
    retry_after: Option<u32>,
}

impl Faults {
    /// The fault to apply on a route, if any.
    fn on(self, route: FaultOn) -> Option<(MockFault, Option<u32>)> {
        (self.on == FaultOn::All || self.on == route).then_some((self.fault, self.retry_after))
    }
}

/// The mock's state, shared by the handlers.
pub(super) struct Mock {
    inventory: Mutex<Inventory>,
    seed: Mutex<Seed>,
    units: BTreeMap<String, u32>,
    faults: Mutex<Faults>,
    /// The pages' origin (`http://127.0.0.1:<port>`): the only one CORS answers, and the one
    /// the stand-in checkout is on.
    pages_origin: String,
    /// Added to the real clock: moves the mock's `server_time` (and so the pages' countdowns).
    clock_offset_ms: AtomicI64,
    customers: AtomicU64,
}

impl Mock {
    /// A mock seeded from the built `site`, answering pages on `pages_origin`; with no site
    /// (the first build failed) it has no drops until the first good build reseeds it.
    pub(super) fn new(site: Option<&Site>, options: &MockOptions, pages_origin: &str) -> Result<Mock, Error> {
        let units = match &options.seed_file {
            Some(path) => super::read_seed_file(path)?,
            None => BTreeMap::new(),
        };
        let seed = site.map(|site| mock::seed(site, &units)).unwrap_or_default();
        if let (Some(path), false) = (&options.seed_file, seed.is_empty()) {
            let known: Vec<&String> = seed.values().flat_map(|drop| drop.skus.keys()).collect();
            if let Some(unknown) = units.keys().find(|sku| !known.contains(sku)) {
                return Err(Error::Usage(format!(
                    "`{}`: SKU `{unknown}` is not in any drop\n  = help: use a `sku` from a drop.yaml",
                    path.display()
                )));
            }
        }
        Ok(Mock {
            inventory: Mutex::new(Inventory::new(&seed, options.state)),
            seed: Mutex::new(seed),
            units,
            faults: Mutex::new(Faults { fault: options.fault, ..Faults::default() }),
            pages_origin: pages_origin.to_owned(),
            clock_offset_ms: AtomicI64::new(0),
            customers: AtomicU64::new(0),
        })
    }

    /// Takes the drops of a new build (new times, SKUs and limits), keeping stock and holds.
    pub(super) fn reseed(&self, site: &Site) {
        let seed = mock::seed(site, &self.units);
        self.lock_inventory().reseed(&seed);
        *self.seed.lock().unwrap_or_else(PoisonError::into_inner) = seed;
    }

    fn lock_inventory(&self) -> MutexGuard<'_, Inventory> {
        // A panic while holding the lock cannot leave the inventory half-updated: every
        // operation checks before it changes anything.
        self.inventory.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn now(&self) -> OffsetDateTime {
        let real = OffsetDateTime::now_utc();
        real.checked_add(time::Duration::milliseconds(self.clock_offset_ms.load(Ordering::Relaxed)))
            .unwrap_or(real)
    }

    fn faults(&self) -> Faults {
        *self.faults.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The API, served on its own origin.
pub(super) fn api_routes() -> Router<Arc<App>> {
    Router::new()
        .route("/_dropgen/inventory/drops/{slug}/stock", get(stock).options(preflight))
        .route("/_dropgen/inventory/drops/{slug}/holds", axum::routing::post(hold).options(preflight))
}

/// The knobs and the stand-in checkout, served with the pages.
pub(super) fn control_routes() -> Router<Arc<App>> {
    Router::new()
        .route("/_dropgen/mock", get(control_query).post(control_json))
        .route("/_dropgen/checkout", get(checkout))
}

/// The routes are only mounted with a mock; `None` answers 404 all the same.
fn mock(app: &App) -> Option<&Mock> {
    app.mock.as_ref()
}

async fn stock(State(app): State<Arc<App>>, Path(slug): Path<String>, headers: HeaderMap) -> Response {
    let Some(mock) = mock(&app) else { return StatusCode::NOT_FOUND.into_response() };
    let response = match apply_fault(mock.faults().on(FaultOn::Stock)).await {
        Some(response) => response,
        None => {
            let result = mock.lock_inventory().stock(&slug, mock.now());
            match result {
                Ok(stock) => {
                    // The validator leaves out `server_time`, which changes on every request.
                    let validator = serde_json::to_string(&(&stock.status, &stock.items)).unwrap_or_default();
                    let etag =
                        format!("\"{}\"", &crate::assets::fingerprinted_name("", validator.as_bytes())[1..]);
                    let cache = [
                        (header::CACHE_CONTROL, "public, max-age=1, stale-while-revalidate=2".to_owned()),
                        (header::ETAG, etag.clone()),
                    ];
                    let matches =
                        headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(&etag);
                    if matches {
                        (StatusCode::NOT_MODIFIED, cache).into_response()
                    } else {
                        (cache, axum::Json(stock)).into_response()
                    }
                }
                Err(refusal) => refused(refusal),
            }
        }
    };
    with_cors(response, &headers, &mock.pages_origin)
}

async fn hold(
    State(app): State<Arc<App>>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(mock) = mock(&app) else { return StatusCode::NOT_FOUND.into_response() };
    let (customer, new_customer) = match cookie(&headers, COOKIE) {
        Some(customer) => (customer, false),
        None => (format!("c{}", mock.customers.fetch_add(1, Ordering::Relaxed) + 1), true),
    };
    let mut response = match apply_fault(mock.faults().on(FaultOn::Holds)).await {
        Some(response) => response,
        None => {
            let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).unwrap_or_default();
            match serde_json::from_slice::<HoldRequest>(&body) {
                Err(_) => refused(Refusal::InvalidRequest),
                Ok(request) => {
                    let result = mock.lock_inventory().hold(&slug, &customer, key, request, mock.now());
                    match result {
                        Ok(mut created) => {
                            // The contract's checkout URL is absolute, and on the shop's or
                            // the pages' origin; the mock's stand-in is with the pages.
                            created.checkout_url = format!("{}{}", mock.pages_origin, created.checkout_url);
                            (StatusCode::CREATED, axum::Json(created)).into_response()
                        }
                        Err(refusal) => refused(refusal),
                    }
                }
            }
        }
    };
    let response_headers = response.headers_mut();
    response_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if new_customer {
        // As the contract says: sent cross-site with credentials, and partitioned (CHIPS), so
        // it works where third-party cookies are blocked. Browsers accept `Secure` from
        // http://localhost.
        let cookie = format!("{COOKIE}={customer}; Path=/; Secure; HttpOnly; SameSite=None; Partitioned");
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response_headers.insert(header::SET_COOKIE, value);
        }
    }
    with_cors(response, &headers, &mock.pages_origin)
}

/// `OPTIONS`: the preflight a browser sends before a cross-origin `POST` with
/// `Idempotency-Key`. An origin the mock does not serve gets no CORS headers, so the browser
/// sends nothing.
async fn preflight(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let Some(mock) = mock(&app) else { return StatusCode::NOT_FOUND.into_response() };
    preflight_response(&headers, &mock.pages_origin)
}

fn preflight_response(request: &HeaderMap, allowed_origin: &str) -> Response {
    let mut response = with_cors(StatusCode::NO_CONTENT.into_response(), request, allowed_origin);
    let headers = response.headers_mut();
    if headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST"));
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("Content-Type, Idempotency-Key"),
        );
        headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    }
    response
}

/// Credentialed CORS for the one origin allowed: that exact origin (never `*`, never another
/// reflected), credentials, and the headers the script must read exposed. `Vary: Origin` on
/// every response, since the headers depend on it.
fn with_cors(mut response: Response, request: &HeaderMap, allowed_origin: &str) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    let origin = request.get(header::ORIGIN).filter(|origin| origin.as_bytes() == allowed_origin.as_bytes());
    if let Some(origin) = origin {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        headers.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
        headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static("Retry-After, ETag"));
    }
    response
}

async fn apply_fault(fault: Option<(MockFault, Option<u32>)>) -> Option<Response> {
    let (fault, retry_after) = fault?;
    match fault {
        MockFault::None => None,
        MockFault::Slow => {
            tokio::time::sleep(std::time::Duration::from_secs(3)).await;
            None
        }
        MockFault::Hang => {
            tokio::time::sleep(std::time::Duration::from_secs(60)).await;
            Some(problem(503, "unavailable", "the mock hung for a minute", Some(5)))
        }
        MockFault::Down => Some(problem(
            503,
            "unavailable",
            "the inventory is down (mock fault `down`)",
            Some(retry_after.unwrap_or(5)),
        )),
        MockFault::RateLimited => Some(problem(
            429,
            "rate_limited",
            "slow down (mock fault `rate-limited`)",
            Some(retry_after.unwrap_or(2)),
        )),
        MockFault::Error => Some((StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()),
        MockFault::Garbage => Some(
            ([(header::CONTENT_TYPE, "application/json")], "{\"drop\": \"<b>x</b>\", \"items\": [{\"sku\"")
                .into_response(),
        ),
    }
}

fn refused(refusal: Refusal) -> Response {
    let (code, status) = refusal.code();
    let detail = match refusal {
        Refusal::SoldOut => "no units left",
        Refusal::LimitReached => "this customer already holds their limit of this SKU",
        Refusal::NotLive => "the drop is not live",
        Refusal::InvalidRequest => "expected an `Idempotency-Key` and a body `{\"sku\", \"quantity\" ≥ 1}`",
        Refusal::UnknownDrop => "no such drop",
        Refusal::UnknownSku => "no such SKU in this drop",
        Refusal::IdempotencyConflict => "this `Idempotency-Key` was used with another body",
    };
    problem(status, code, detail, None)
}

/// An RFC 9457 problem with the contract's `code`.
fn problem(status: u16, code: &str, detail: &str, retry_after: Option<u32>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = problem_body(status, code, detail);
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(seconds) = retry_after {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

fn problem_body(status: StatusCode, code: &str, detail: &str) -> serde_json::Value {
    json!({
        "type": format!("tag:dropgen,2026:problem:{code}"),
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "code": code,
        "detail": detail,
    })
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, value)| *key == name && !value.is_empty() && value.len() <= 64)
        .map(|(_, value)| value.to_owned())
}

/// The knobs, from a query string or a JSON body.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Knobs {
    state: Option<MockState>,
    fault: Option<MockFault>,
    /// Which routes `fault` applies to (default `all`).
    fault_on: Option<FaultOn>,
    /// Seconds of `Retry-After` for `down` and `rate-limited` (default 5 and 2).
    retry_after: Option<u32>,
    /// Sets the mock's clock to this instant (RFC 3339); it runs on from there.
    server_time: Option<String>,
    /// Back to the seeded stock, with no holds, in `state` (default `scheduled`).
    reset: Option<bool>,
}

async fn control_query(State(app): State<Arc<App>>, Query(knobs): Query<Knobs>) -> Response {
    control(&app, knobs)
}

async fn control_json(State(app): State<Arc<App>>, body: Bytes) -> Response {
    match serde_json::from_slice::<Knobs>(&body) {
        Ok(knobs) => control(&app, knobs),
        Err(err) => (StatusCode::BAD_REQUEST, format!("{err}\n")).into_response(),
    }
}

fn control(app: &App, knobs: Knobs) -> Response {
    let Some(mock) = mock(app) else { return StatusCode::NOT_FOUND.into_response() };
    if let Some(text) = &knobs.server_time {
        match rfc3339::parse(text) {
            Ok(at) => {
                // At most a century either way, so every time the mock derives stays printable.
                const CENTURY_MS: i128 = 100 * 366 * 24 * 3600 * 1000;
                let offset = (at - OffsetDateTime::now_utc()).whole_milliseconds();
                mock.clock_offset_ms.store(offset.clamp(-CENTURY_MS, CENTURY_MS) as i64, Ordering::Relaxed);
            }
            Err(err) => {
                let message =
                    format!("`server_time` `{text}` is not RFC 3339 ({err}), e.g. 2026-11-20T15:00:00Z\n");
                return (StatusCode::BAD_REQUEST, message).into_response();
            }
        }
    }
    {
        let mut faults = mock.faults.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(fault) = knobs.fault {
            // A new fault starts on every route unless `fault_on` says otherwise.
            *faults = Faults { fault, ..Faults::default() };
        }
        if let Some(on) = knobs.fault_on {
            faults.on = on;
        }
        if knobs.retry_after.is_some() {
            faults.retry_after = knobs.retry_after;
        }
    }
    let mut inventory = mock.lock_inventory();
    if knobs.reset == Some(true) {
        // Seeded stock first, then the state asked for (`scheduled` unless given): `low` and
        // `sold-out` change stock, which only a reset gives back.
        let seed = mock.seed.lock().unwrap_or_else(PoisonError::into_inner);
        *inventory = Inventory::new(&seed, knobs.state.unwrap_or_default());
    } else if let Some(state) = knobs.state {
        inventory.set_state(state);
    }
    let holds: Vec<serde_json::Value> = inventory
        .holds()
        .map(|hold| {
            json!({
                "hold_id": hold.id, "drop": hold.drop, "sku": hold.sku, "customer": hold.customer,
                "quantity": hold.quantity, "idempotency_key": hold.idempotency_key,
                "expires_at": rfc3339::format(hold.expires_at),
            })
        })
        .collect();
    let body = json!({
        "state": inventory.state(),
        "fault": mock.faults().fault,
        "fault_on": mock.faults().on,
        "retry_after": mock.faults().retry_after,
        "server_time": rfc3339::format(mock.now()),
        "holds": holds,
    });
    ([(header::CACHE_CONTROL, "no-store")], axum::Json(body)).into_response()
}

#[derive(Deserialize)]
struct CheckoutQuery {
    hold: Option<String>,
    token: Option<String>,
}

/// Stands in for the shop: shows which hold the checkout link carried.
async fn checkout(State(app): State<Arc<App>>, Query(query): Query<CheckoutQuery>) -> Response {
    let Some(mock) = mock(&app) else { return StatusCode::NOT_FOUND.into_response() };
    let hold = query.hold.unwrap_or_default();
    let valid = query.token.as_deref() == Some(mock::token(&hold).as_str());
    let found = mock.lock_inventory().holds().find(|h| h.id == hold).cloned();
    // Only values the mock made itself (ids, SKUs checked at build time) reach the page.
    let (status, text) = match found {
        Some(hold) if valid => (
            StatusCode::OK,
            format!(
                "<p id=\"hold\" data-hold=\"{id}\">Hold <b>{id}</b>: {quantity} × {sku}, reserved until {until}.</p>",
                id = hold.id,
                quantity = hold.quantity,
                sku = hold.sku,
                until = rfc3339::format(hold.expires_at)
            ),
        ),
        _ => (StatusCode::NOT_FOUND, "<p>This hold has expired, or the link was altered.</p>".to_owned()),
    };
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Mock checkout</title></head>\
         <body><h1>Mock checkout</h1>{text}<p>This page stands in for the shop's checkout in \
         <code>dropgen serve --mock-inventory</code>.</p></body></html>"
    );
    (status, Html(page)).into_response()
}

#[cfg(test)]
mod tests;
