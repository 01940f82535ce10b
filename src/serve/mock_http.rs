//! The mock inventory over HTTP, as `docs/inventory-api.yaml` describes it, under
//! `/_dropgen/inventory` on its own origin (a second port, named `localhost`), as a real API is
//! on another origin than the pages. The answers are the inventory service's own
//! (`inventory::http`: CORS for credentialed requests from the pages' exact origin only, the
//! customer cookie, `ETag`s, problems, signed purchase tokens); the mock adds faults to
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

use super::mock::{self, MockInventory, MockState};
use super::{App, MockOptions};
use crate::error::Error;
use crate::inventory::Catalog;
use crate::inventory::http::{
    COOKIE, HoldRequest, cookie, customer_cookie, preflight_response, problem, refused, stock_response,
    with_cors,
};
use crate::inventory::machine::{HoldState, Refusal};
use crate::inventory::token::{Claims, Key, Keys};
use crate::model::Site;
use crate::rfc3339;

/// Where the mock's holds check out: the stand-in for the shop, on the pages' origin.
const CHECKOUT: &str = "/_dropgen/checkout";

/// A failure to preview (`--mock-fault`), applied to the API routes only.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum MockFault {
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
    inventory: Mutex<MockInventory>,
    seed: Mutex<Catalog>,
    units: BTreeMap<String, u32>,
    /// A key made for this run: the mock's purchase tokens are real, signed ones.
    keys: Keys,
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
        let checkout = format!("{pages_origin}{CHECKOUT}");
        let seed = site.map(|site| mock::catalog(site, &units, &checkout)).unwrap_or_default();
        if let (Some(path), false) = (&options.seed_file, seed.drops.is_empty()) {
            let known: Vec<&String> = seed.drops.values().flat_map(|drop| drop.skus.keys()).collect();
            if let Some(unknown) = units.keys().find(|sku| !known.contains(sku)) {
                return Err(Error::Usage(format!(
                    "`{}`: SKU `{unknown}` is not in any drop\n  = help: use a `sku` from a drop.yaml",
                    path.display()
                )));
            }
        }
        let keys = Key::generate_pem()
            .and_then(|pem| Key::from_pem(pem.as_bytes(), "the mock's key"))
            .and_then(|key| Keys::new(vec![key]))
            .map_err(|err| Error::Internal(format!("cannot make the mock's signing key: {err}")))?;
        Ok(Mock {
            inventory: Mutex::new(MockInventory::new(&seed, options.state, OffsetDateTime::now_utc())),
            seed: Mutex::new(seed),
            units,
            keys,
            faults: Mutex::new(Faults { fault: options.fault, ..Faults::default() }),
            pages_origin: pages_origin.to_owned(),
            clock_offset_ms: AtomicI64::new(0),
            customers: AtomicU64::new(0),
        })
    }

    /// Takes the drops of a new build (new times, SKUs and limits), keeping stock and holds.
    pub(super) fn reseed(&self, site: &Site) {
        let seed = mock::catalog(site, &self.units, &format!("{}{CHECKOUT}", self.pages_origin));
        self.lock_inventory().reseed(&seed, self.now());
        *self.seed.lock().unwrap_or_else(PoisonError::into_inner) = seed;
    }

    fn lock_inventory(&self) -> MutexGuard<'_, MockInventory> {
        // A panic while holding the lock cannot leave the inventory half-updated: every
        // operation checks before it changes anything.
        self.inventory.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn now(&self) -> OffsetDateTime {
        let real = OffsetDateTime::now_utc();
        real.checked_add(time::Duration::milliseconds(self.clock_offset_ms.load(Ordering::Relaxed)))
            .unwrap_or(real)
    }

    /// The one origin CORS answers: the pages'.
    fn origins(&self) -> &[String] {
        std::slice::from_ref(&self.pages_origin)
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
            let now = mock.now();
            let result = mock.lock_inventory().stock(&slug, now);
            match result {
                Ok(view) => stock_response(&slug, &view, now, &headers),
                Err(refusal) => refused(refusal),
            }
        }
    };
    with_cors(response, &headers, mock.origins())
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
                    let now = mock.now();
                    let sku = (request.sku.as_str(), request.quantity);
                    let result = mock.lock_inventory().hold(&slug, &customer, key, sku, now);
                    match result {
                        Ok(hold) => {
                            let token = mock.keys.sign(&Claims::of_hold(&hold));
                            let created = json!({
                                "hold_id": hold.hold_id,
                                "expires_at": rfc3339::format(hold.expires_at),
                                "checkout_url": format!(
                                    "{}{CHECKOUT}?hold={}&token={token}",
                                    mock.pages_origin, hold.hold_id
                                ),
                            });
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
        response_headers.insert(header::SET_COOKIE, customer_cookie(&customer));
    }
    with_cors(response, &headers, mock.origins())
}

/// `OPTIONS`: the preflight a browser sends before a cross-origin `POST` with
/// `Idempotency-Key`. An origin the mock does not serve gets no CORS headers, so the browser
/// sends nothing.
async fn preflight(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let Some(mock) = mock(&app) else { return StatusCode::NOT_FOUND.into_response() };
    preflight_response(&headers, mock.origins())
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

/// A browser gets the knobs as a page of links; a script (`Accept: */*` or JSON) gets JSON.
async fn control_query(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(knobs): Query<Knobs>,
) -> Response {
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(|accept| accept.split(',').any(|kind| kind.trim().starts_with("text/html")));
    let response = control(&app, knobs);
    if !wants_html || response.status() != StatusCode::OK {
        return response;
    }
    let Ok(body) = axum::body::to_bytes(response.into_body(), 1 << 20).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(status) => ([(header::CACHE_CONTROL, "no-store")], Html(control_page(&status))).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Every knob with each of its values as a link, what is set now, and the holds: the page a
/// marketer opens beside the preview.
fn control_page(status: &serde_json::Value) -> String {
    use clap::ValueEnum;
    let text = |key: &str| status[key].as_str().map_or_else(|| status[key].to_string(), str::to_owned);
    // Customers come from cookies, so anything shown is escaped.
    let escape = crate::output::escape_html;
    let choices = |knob: &str, values: Vec<(String, String)>| {
        let current = text(knob);
        let items: String = values
            .iter()
            .map(|(value, help)| {
                let mark = if *value == current { " aria-current=\"true\"" } else { "" };
                format!("<li><a href=\"?{knob}={value}\"{mark}>{value}</a> {}</li>", escape(help))
            })
            .collect();
        format!("<h2>{knob}: <output>{}</output></h2><ul>{items}</ul>", escape(&current))
    };
    let named = |value: clap::builder::PossibleValue| {
        (value.get_name().to_owned(), value.get_help().map(ToString::to_string).unwrap_or_default())
    };
    let states =
        MockState::value_variants().iter().filter_map(|v| v.to_possible_value()).map(named).collect();
    let faults =
        MockFault::value_variants().iter().filter_map(|v| v.to_possible_value()).map(named).collect();
    let fault_on = [
        ("all", "stock and holds"),
        ("stock", "only GET …/stock"),
        ("holds", "only POST …/holds: stock shows, Buy fails"),
    ]
    .map(|(value, help)| (value.to_owned(), help.to_owned()))
    .to_vec();
    let holds = holds_table(status, &escape);
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Mock inventory</title><style>body{{font:16px/1.5 system-ui,sans-serif;max-width:48rem;\
         margin:2rem auto;padding:0 1rem}}a[aria-current]{{font-weight:700}}td,th{{padding:.25rem .5rem;\
         text-align:left}}</style></head><body><h1>Mock inventory</h1>\
         <p>Each link sets one knob; the open previews follow within seconds. Scripts get this as \
         JSON from the same URL (<code>Accept: application/json</code>).</p>\
         {}{}{}<h2>retry_after: <output>{}</output></h2><p>Seconds of <code>Retry-After</code> for \
         <code>down</code> and <code>rate-limited</code>: <a href=\"?retry_after=1\">1</a> \
         <a href=\"?retry_after=5\">5</a> <a href=\"?retry_after=30\">30</a></p>\
         <h2>server_time: <output>{}</output></h2><form><label>Move the clock to \
         <input name=\"server_time\" value=\"{}\" size=\"25\"></label> <button>Set</button></form>\
         <h2>Holds</h2>{holds}<p><a href=\"?reset=true\">Reset</a>: the seeded stock again, no holds, \
         the <code>scheduled</code> state.</p></body></html>",
        choices("state", states),
        choices("fault", faults),
        choices("fault_on", fault_on),
        escape(&text("retry_after")),
        escape(&text("server_time")),
        escape(&text("server_time")),
    )
}

/// The holds of the mock, as a table.
fn holds_table(status: &serde_json::Value, escape: &dyn Fn(&str) -> String) -> String {
    use std::fmt::Write as _;
    let mut holds = String::new();
    for hold in status["holds"].as_array().into_iter().flatten() {
        let cell =
            |key: &str| escape(&hold[key].as_str().map_or_else(|| hold[key].to_string(), str::to_owned));
        let _ = write!(
            holds,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            cell("hold_id"),
            cell("drop"),
            cell("sku"),
            cell("quantity"),
            cell("customer"),
            cell("expires_at")
        );
    }
    if holds.is_empty() {
        "<p>No holds.</p>".to_owned()
    } else {
        format!(
            "<table><thead><tr><th>hold</th><th>drop</th><th>SKU</th><th>quantity</th><th>customer</th>\
             <th>expires at</th></tr></thead><tbody>{holds}</tbody></table>"
        )
    }
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
    let now = mock.now();
    let mut inventory = mock.lock_inventory();
    if knobs.reset == Some(true) {
        // Seeded stock first, then the state asked for (`scheduled` unless given): `low` and
        // `sold-out` change stock, which only a reset gives back.
        let seed = mock.seed.lock().unwrap_or_else(PoisonError::into_inner);
        *inventory = MockInventory::new(&seed, knobs.state.unwrap_or_default(), now);
    } else if let Some(state) = knobs.state {
        inventory.set_state(state, now);
    }
    let holds: Vec<serde_json::Value> = inventory
        .holds()
        .into_iter()
        .map(|(hold, key)| {
            json!({
                "hold_id": hold.hold_id, "drop": hold.drop, "sku": hold.sku, "customer": hold.customer,
                "quantity": hold.quantity, "idempotency_key": key,
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

/// Stands in for the shop: verifies the purchase token as a shop would (signature, expiry,
/// the hold it names) and shows which hold the checkout link carried.
async fn checkout(State(app): State<Arc<App>>, Query(query): Query<CheckoutQuery>) -> Response {
    let Some(mock) = mock(&app) else { return StatusCode::NOT_FOUND.into_response() };
    let hold = query.hold.unwrap_or_default();
    let now = mock.now();
    let valid = query
        .token
        .as_deref()
        .and_then(|token| mock.keys.verify(token, now.unix_timestamp()).ok())
        .is_some_and(|claims| claims.hold == hold);
    let found = mock.lock_inventory().find(&hold).filter(|found| found.state == HoldState::Active);
    // Only values the mock made itself (ids, SKUs checked at build time) reach the page.
    let (status, text) = match found {
        Some(hold) if valid => (
            StatusCode::OK,
            format!(
                "<p id=\"hold\" data-hold=\"{id}\">Hold <b>{id}</b>: {quantity} × {sku}, reserved until {until}.</p>",
                id = hold.hold_id,
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
