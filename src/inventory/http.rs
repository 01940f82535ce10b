//! The inventory service over HTTP, as `docs/inventory-api.yaml` describes it:
//! - public, called by the pages: stock, holds, beacons, the JWKS;
//! - shop (server to server, `Authorization: Bearer $DROPGEN_INVENTORY_SHOP_KEY`): read,
//!   confirm and release a hold;
//! - operator (`Bearer $DROPGEN_INVENTORY_OPERATOR_KEY`): catalog sync, pause, resume, open,
//!   end, stock;
//! - `/metrics` and `/healthz`.
//!
//! Every state change goes through the [`Store`]; this layer only checks who asks, parses,
//! rate-limits, signs and shapes answers. The helpers at the bottom (problems, CORS, the
//! cookie) are shared with `dropgen serve`'s mock.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequest, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;

use super::catalog::Catalog;
use super::machine::{Command, Control, HoldView, Refusal, Reply, Status, StockItem, StockView, valid_key};
use super::metrics::Metrics;
use super::observation::{HoldOutcome, Observations};
use super::store::{Store, StoreError};
use super::token::{Claims, Keys};
use crate::rfc3339;

/// The customer cookie's name.
pub(crate) const COOKIE: &str = "dropgen_customer";
/// What the stock endpoint suggests as the polling interval.
pub(crate) const POLL_AFTER_MS: u32 = 5000;
/// Bodies of the public and shop routes, at most (a hold's body is about 40 bytes).
const SMALL_BODY: usize = 4 * 1024;
/// A catalog pushed by `dropgen inventory sync`, at most.
const CATALOG_BODY: usize = 16 * 1024 * 1024;

/// Everything the handlers share.
pub(crate) struct Service {
    pub(crate) store: Store,
    pub(crate) keys: Keys,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) page_origins: Vec<String>,
    pub(crate) shop_key: Option<String>,
    pub(crate) operator_key: Option<String>,
    pub(crate) trust_forwarded_for: bool,
    pub(crate) per_address: DefaultKeyedRateLimiter<IpAddr>,
    pub(crate) per_customer: DefaultKeyedRateLimiter<String>,
    /// Per-minute counts for reports, which the ticker appends to the log.
    pub(crate) observations: Observations,
}

/// A keyed limiter of `per_minute` holds, in bursts of up to a quarter of it.
pub(crate) fn limiter<K: std::hash::Hash + Eq + Clone>(per_minute: u32) -> DefaultKeyedRateLimiter<K> {
    let rate = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new((per_minute / 4).max(1)).unwrap_or(NonZeroU32::MIN);
    RateLimiter::keyed(Quota::per_minute(rate).allow_burst(burst))
}

/// Every route, under `base_path`.
pub(crate) fn router(service: Arc<Service>, base_path: &str) -> Router {
    let small = DefaultBodyLimit::max(SMALL_BODY);
    let routes = Router::new()
        .route("/drops/{slug}/stock", get(stock).options(preflight))
        .route("/drops/{slug}/holds", post(hold).options(preflight))
        .route("/beacons", post(beacon).options(preflight))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/holds/{id}", get(read_hold))
        .route("/holds/{id}/confirm", post(confirm))
        .route("/holds/{id}/release", post(release))
        .route("/drops/{slug}", get(read_drop))
        .route("/drops/{slug}/{action}", post(control))
        .route("/drops/{slug}/skus/{sku}/stock", put(set_stock))
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .layer(small)
        .merge(Router::new().route("/catalog", put(sync)).layer(DefaultBodyLimit::max(CATALOG_BODY)))
        .fallback(|| async { problem(404, "not_found", "no such route: see docs/inventory-api.md", None) })
        .with_state(service);
    if base_path.is_empty() { routes } else { Router::new().nest(base_path, routes) }
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// The body of `GET /drops/{slug}/stock`.
#[derive(Serialize)]
pub(crate) struct StockBody<'a> {
    pub(crate) drop: &'a str,
    pub(crate) server_time: String,
    pub(crate) status: Status,
    pub(crate) items: &'a [StockItem],
    pub(crate) poll_after_ms: u32,
}

/// The stock endpoint's answer: `304` when `If-None-Match` has the body's validator (which
/// leaves out `server_time`, new on every request), else the body; short shared caching.
pub(crate) fn stock_response(
    slug: &str,
    view: &StockView,
    now: OffsetDateTime,
    request: &HeaderMap,
) -> Response {
    let etag = etag(&(&view.status, &view.items));
    let cache = [
        (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=1, stale-while-revalidate=2")),
        (header::ETAG, HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"\""))),
    ];
    if request.get(header::IF_NONE_MATCH).is_some_and(|value| value.as_bytes() == etag.as_bytes()) {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    let body = StockBody {
        drop: slug,
        server_time: rfc3339::format(now),
        status: view.status,
        items: &view.items,
        poll_after_ms: POLL_AFTER_MS,
    };
    (cache, axum::Json(body)).into_response()
}

async fn stock(
    State(service): State<Arc<Service>>,
    Path(slug): Path<String>,
    headers: HeaderMap,
) -> Response {
    let started = Instant::now();
    let now = now();
    let response = match service.store.stock(&slug, now) {
        Ok(view) => stock_response(&slug, &view, now, &headers),
        Err(refusal) => {
            service.metrics.refused("stock", refusal.code().0);
            refused(refusal)
        }
    };
    service.metrics.answered("stock", started.elapsed().as_secs_f64());
    with_cors(response, &headers, &service.page_origins)
}

/// A strong validator over what a body says.
pub(crate) fn etag(value: &impl Serialize) -> String {
    use sha2::Digest as _;
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    format!("\"{}\"", crate::output::hex(&sha2::Sha256::digest(&bytes)[..12]))
}

/// The body of `POST /drops/{slug}/holds`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HoldRequest {
    pub(crate) sku: String,
    pub(crate) quantity: u32,
}

/// A created hold, as the page receives it.
#[derive(Serialize)]
struct HoldCreated {
    hold_id: String,
    expires_at: String,
    checkout_url: String,
}

async fn hold(
    State(service): State<Arc<Service>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    Body(body): Body,
) -> Response {
    let started = Instant::now();
    let (customer, new_customer) = match cookie(&headers, COOKIE) {
        Some(customer) => (customer, false),
        None => (new_customer_id(), true),
    };
    let address = client_address(peer, &headers, service.trust_forwarded_for);
    let (mut response, outcome) = hold_response(&service, address, &slug, &customer, &headers, &body).await;
    let seconds = started.elapsed().as_secs_f64();
    service.metrics.answered("holds", seconds);
    // Only drops the store knows: a made-up slug must not grow the counts.
    if service.store.published().contains_key(&slug) {
        service.observations.hold(&slug, now(), outcome, (address, &customer), seconds);
    }
    let response_headers = response.headers_mut();
    response_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if new_customer {
        response_headers.insert(header::SET_COOKIE, customer_cookie(&customer));
    }
    with_cors(response, &headers, &service.page_origins)
}

async fn hold_response(
    service: &Service,
    address: IpAddr,
    slug: &str,
    customer: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> (Response, HoldOutcome<'static>) {
    let limited = service
        .per_address
        .check_key(&address)
        .and_then(|()| service.per_customer.check_key(&customer.to_owned()));
    if let Err(not_until) = limited {
        service.metrics.refused("holds", "rate_limited");
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        let seconds = u32::try_from(wait.as_secs() + 1).unwrap_or(u32::MAX);
        let problem =
            problem(429, "rate_limited", "too many holds from this client: slow down", Some(seconds));
        return (problem, HoldOutcome::Refused("rate_limited"));
    }
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let Ok(request) = serde_json::from_slice::<HoldRequest>(body) else {
        service.metrics.refused("holds", "invalid_request");
        return (refused(Refusal::InvalidRequest), HoldOutcome::Refused(Refusal::InvalidRequest.code().0));
    };
    let command = Command::Hold {
        drop: slug.to_owned(),
        sku: request.sku,
        quantity: request.quantity,
        customer: customer.to_owned(),
        key: key.to_owned(),
    };
    match service.store.execute(command, now()).await {
        Ok(Reply::Held { hold, replayed }) => match checkout_url(service, &hold) {
            Some(checkout_url) => {
                if replayed {
                    service.metrics.replayed("holds");
                }
                let created = HoldCreated {
                    expires_at: rfc3339::format(hold.expires_at),
                    hold_id: hold.hold_id,
                    checkout_url,
                };
                let outcome = if replayed { HoldOutcome::Replayed } else { HoldOutcome::Created };
                ((StatusCode::CREATED, axum::Json(created)).into_response(), outcome)
            }
            None => (
                problem(503, "unavailable", "the SKU has no checkout URL: sync the catalog", Some(5)),
                HoldOutcome::Failed,
            ),
        },
        Ok(_) => (
            problem(500, "internal", "the store answered a hold with something else", None),
            HoldOutcome::Failed,
        ),
        Err(StoreError::Refused(refusal)) => (
            store_error(&service.metrics, "holds", StoreError::Refused(refusal)),
            HoldOutcome::Refused(refusal.code().0),
        ),
        Err(err) => (store_error(&service.metrics, "holds", err), HoldOutcome::Failed),
    }
}

/// The SKU's checkout page with the hold and its signed token in the query.
fn checkout_url(service: &Service, hold: &HoldView) -> Option<String> {
    let published = service.store.published();
    let base = &published.get(&hold.drop)?.skus.get(&hold.sku)?.checkout_url;
    let mut url = url::Url::parse(base).ok()?;
    let token = service.keys.sign(&Claims::of_hold(hold));
    url.query_pairs_mut().append_pair("hold", &hold.hold_id).append_pair("token", &token);
    Some(url.into())
}

/// The telemetry beacon of `docs/inventory-api.md`.
#[derive(Deserialize)]
struct Beacon {
    drop: Option<String>,
    event: String,
    code: Option<serde_json::Value>,
    ms: Option<serde_json::Value>,
}

async fn beacon(State(service): State<Arc<Service>>, headers: HeaderMap, Body(body): Body) -> Response {
    const EVENTS: [&str; 3] = ["first_stock", "stock_error", "hold_error"];
    let response = match serde_json::from_slice::<Beacon>(&body) {
        Ok(beacon) if EVENTS.contains(&beacon.event.as_str()) => {
            // Only codes of the contract's shape are kept as labels: a beacon is anyone's to
            // send, and a label per made-up value would grow the metrics without end.
            let code = beacon.code.as_ref().map(|code| match code {
                serde_json::Value::Number(status) => status.to_string(),
                serde_json::Value::String(text) => text.clone(),
                _ => String::new(),
            });
            let code = code.filter(|code| {
                code.len() <= 24
                    && code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            });
            service.metrics.beacon(&beacon.event, code.as_deref());
            // For the report, by drop: only drops the store knows, as for holds.
            let drop = beacon.drop.filter(|drop| service.store.published().contains_key(drop));
            if let Some(drop) = drop {
                let ms = beacon.ms.as_ref().and_then(serde_json::Value::as_f64).filter(|ms| *ms >= 0.0);
                service.observations.beacon(
                    &drop,
                    now(),
                    &beacon.event,
                    code.as_deref(),
                    ms.map(|ms| ms as u64),
                );
            }
            StatusCode::NO_CONTENT.into_response()
        }
        _ => refused(Refusal::InvalidRequest),
    };
    with_cors(response, &headers, &service.page_origins)
}

async fn jwks(State(service): State<Arc<Service>>) -> Response {
    ([(header::CACHE_CONTROL, "public, max-age=300")], axum::Json(service.keys.jwks())).into_response()
}

async fn metrics(State(service): State<Arc<Service>>) -> Response {
    let text = service.metrics.render(&service.store.published());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}

/// Who may call a route.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Shop,
    Operator,
}

/// `None` when the request carries the role's key; the problem to answer otherwise (also when
/// the service has no key for the role: such routes are then closed).
fn unauthorized(service: &Service, headers: &HeaderMap, role: Role) -> Option<Response> {
    let (expected, variable) = match role {
        Role::Shop => (&service.shop_key, super::config::SHOP_KEY_ENV),
        Role::Operator => (&service.operator_key, super::config::OPERATOR_KEY_ENV),
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    match (expected, given) {
        (Some(expected), Some(given)) if same_secret(expected, given) => None,
        (None, _) => Some(problem(
            401,
            "unauthorized",
            &format!("this route is closed: the service was started without {variable}"),
            None,
        )),
        _ => Some(problem(401, "unauthorized", &format!("send `Authorization: Bearer <{variable}>`"), None)),
    }
}

/// Compares digests, not the keys: how long the comparison takes says nothing about how much
/// of a guessed key was right.
fn same_secret(expected: &str, given: &str) -> bool {
    use sha2::Digest as _;
    sha2::Sha256::digest(expected.as_bytes()) == sha2::Sha256::digest(given.as_bytes())
}

async fn read_hold(
    State(service): State<Arc<Service>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(response) = unauthorized(&service, &headers, Role::Shop) {
        return response;
    }
    match service.store.read_hold(&id).await {
        Ok(Some(hold)) => no_store(axum::Json(hold).into_response()),
        Ok(None) => refused(Refusal::UnknownHold),
        Err(err) => store_error(&service.metrics, "hold", err),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfirmRequest {
    token: String,
}

async fn confirm(
    State(service): State<Arc<Service>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Body(body): Body,
) -> Response {
    if let Some(response) = unauthorized(&service, &headers, Role::Shop) {
        return response;
    }
    let started = Instant::now();
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let Ok(request) = serde_json::from_slice::<ConfirmRequest>(&body) else {
        return refused(Refusal::InvalidRequest);
    };
    if !valid_key(key) {
        return refused(Refusal::InvalidRequest);
    }
    // The token's expiry is the hold's, which the machine judges: a confirm retried after it
    // still gets its first answer, and a late first confirm gets `hold_expired`.
    let claims = match service.keys.verify(&request.token, i64::MIN) {
        Ok(claims) if claims.hold == id => claims,
        Ok(_) => return problem(400, "invalid_token", "the token is for another hold", None),
        Err(err) => {
            service.metrics.refused("confirm", "invalid_token");
            return problem(400, "invalid_token", &err.to_string(), None);
        }
    };
    let drop = super::machine::split_hold_id(&id).map(|(drop, _)| drop.to_owned());
    let command = Command::Confirm { hold: id, token_id: claims.jti, key: key.to_owned() };
    let response = match service.store.execute(command, now()).await {
        Ok(Reply::Hold(hold)) => no_store(axum::Json(hold).into_response()),
        Ok(_) => problem(500, "internal", "the store answered a confirm with something else", None),
        Err(err) => store_error(&service.metrics, "confirm", err),
    };
    if let Some(drop) = drop
        .filter(|drop| response.status().is_server_error() && service.store.published().contains_key(drop))
    {
        service.observations.failed(&drop, now());
    }
    service.metrics.answered("confirm", started.elapsed().as_secs_f64());
    response
}

async fn release(
    State(service): State<Arc<Service>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(response) = unauthorized(&service, &headers, Role::Shop) {
        return response;
    }
    match service.store.execute(Command::Release { hold: id }, now()).await {
        Ok(Reply::Hold(hold)) => no_store(axum::Json(hold).into_response()),
        Ok(_) => problem(500, "internal", "the store answered a release with something else", None),
        Err(err) => store_error(&service.metrics, "release", err),
    }
}

async fn read_drop(
    State(service): State<Arc<Service>>,
    Path(slug): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(response) = unauthorized(&service, &headers, Role::Operator) {
        return response;
    }
    let snapshot = match service.store.current(&slug).await {
        Ok(Some(snapshot)) => snapshot,
        Ok(None) => return refused(Refusal::UnknownDrop),
        Err(err) => return store_error(&service.metrics, "drop", err),
    };
    let skus: serde_json::Map<String, serde_json::Value> = snapshot
        .skus
        .iter()
        .map(|(sku, counts)| {
            let value = json!({
                "stock": counts.stock, "available": counts.available(), "held": counts.held,
                "sold": counts.sold, "limit_per_customer": counts.limit_per_customer,
            });
            (sku.clone(), value)
        })
        .collect();
    let body = json!({
        "drop": slug,
        "status": snapshot.schedule.status(now()),
        "control": snapshot.schedule.control,
        "starts_at": snapshot.schedule.starts_at.map(rfc3339::format),
        "ends_at": snapshot.schedule.ends_at.map(rfc3339::format),
        "skus": skus,
    });
    no_store(axum::Json(body).into_response())
}

async fn control(
    State(service): State<Arc<Service>>,
    Path((slug, action)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Some(response) = unauthorized(&service, &headers, Role::Operator) {
        return response;
    }
    let control = match action.as_str() {
        "pause" => Control::Paused,
        "resume" => Control::Scheduled,
        "open" => Control::Open,
        "delay" => Control::Delayed,
        "end" => Control::Ended,
        _ => {
            return problem(
                404,
                "not_found",
                "the actions are `open`, `delay`, `pause`, `resume` and `end`",
                None,
            );
        }
    };
    done(&service, "control", service.store.execute(Command::Control { drop: slug, control }, now()).await)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StockRequest {
    stock: u32,
}

async fn set_stock(
    State(service): State<Arc<Service>>,
    Path((slug, sku)): Path<(String, String)>,
    headers: HeaderMap,
    Body(body): Body,
) -> Response {
    if let Some(response) = unauthorized(&service, &headers, Role::Operator) {
        return response;
    }
    let Ok(request) = serde_json::from_slice::<StockRequest>(&body) else {
        return problem(400, "invalid_request", "expected a body `{\"stock\": <units>}`", None);
    };
    let command = Command::SetStock { drop: slug, sku, stock: request.stock };
    done(&service, "stock", service.store.execute(command, now()).await)
}

async fn sync(State(service): State<Arc<Service>>, headers: HeaderMap, Body(body): Body) -> Response {
    if let Some(response) = unauthorized(&service, &headers, Role::Operator) {
        return response;
    }
    let catalog = match Catalog::from_json(&body) {
        Ok(catalog) => catalog,
        Err(err) => return problem(400, "invalid_request", &format!("not an inventory.json: {err}"), None),
    };
    done(&service, "catalog", service.store.execute(Command::Sync { catalog }, now()).await)
}

fn done(service: &Service, route: &'static str, result: Result<Reply, StoreError>) -> Response {
    match result {
        Ok(Reply::Done { warnings }) => {
            for warning in &warnings {
                log("warning", &json!({ "route": route, "message": warning }));
            }
            no_store(axum::Json(json!({ "warnings": warnings })).into_response())
        }
        Ok(_) => problem(500, "internal", "the store answered with something else", None),
        Err(err) => store_error(&service.metrics, route, err),
    }
}

fn store_error(metrics: &Metrics, route: &'static str, err: StoreError) -> Response {
    match err {
        StoreError::Refused(refusal) => {
            metrics.refused(route, refusal.code().0);
            refused(refusal)
        }
        StoreError::Unavailable(reason) => {
            metrics.refused(route, "unavailable");
            log("error", &json!({ "route": route, "message": reason }));
            problem(503, "unavailable", "the inventory cannot answer right now", Some(1))
        }
    }
}

/// One structured log line on stderr.
pub(crate) fn log(level: &str, fields: &serde_json::Value) {
    let line = json!({ "time": rfc3339::format(now()), "level": level, "fields": fields });
    eprintln!("{line}");
}

fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The client's address: the socket's, or the first `X-Forwarded-For` entry behind a trusted
/// proxy.
fn client_address(peer: SocketAddr, headers: &HeaderMap, trust_forwarded_for: bool) -> IpAddr {
    let forwarded = trust_forwarded_for
        .then(|| headers.get("x-forwarded-for")?.to_str().ok()?.split(',').next()?.trim().parse().ok())
        .flatten();
    forwarded.unwrap_or(peer.ip())
}

/// 128 random bits, base64url: a customer id nobody can guess or enumerate.
fn new_customer_id() -> String {
    use base64::Engine as _;
    use ring::rand::SecureRandom as _;
    let mut bytes = [0u8; 16];
    // The system's random source failing is not something a request can fix; an id made of
    // the time and a counter is still unique.
    if ring::rand::SystemRandom::new().fill(&mut bytes).is_err() {
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        bytes[..8].copy_from_slice(&n.to_le_bytes());
        bytes[8..].copy_from_slice(&(now().unix_timestamp_nanos() as u64).to_le_bytes());
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The customer cookie: sent cross-site with credentials, and partitioned (CHIPS), so it
/// works where third-party cookies are blocked.
pub(crate) fn customer_cookie(customer: &str) -> HeaderValue {
    let cookie =
        format!("{COOKIE}={customer}; Path=/; Max-Age=2592000; Secure; HttpOnly; SameSite=None; Partitioned");
    HeaderValue::from_str(&cookie).unwrap_or(HeaderValue::from_static(""))
}

/// `OPTIONS`: the preflight a browser sends before a cross-origin `POST` with
/// `Idempotency-Key`.
async fn preflight(State(service): State<Arc<Service>>, headers: HeaderMap) -> Response {
    preflight_response(&headers, &service.page_origins)
}

/// The preflight answer: an origin not allowed gets no CORS headers, so the browser sends
/// nothing.
pub(crate) fn preflight_response(request: &HeaderMap, allowed_origins: &[String]) -> Response {
    let mut response = with_cors(StatusCode::NO_CONTENT.into_response(), request, allowed_origins);
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

/// Credentialed CORS for the allowed origins: the request's origin when it is exactly one of
/// them (never `*`, never another reflected), credentials, and the headers the script must
/// read exposed. `Vary: Origin` on every response, since the headers depend on it.
pub(crate) fn with_cors(mut response: Response, request: &HeaderMap, allowed_origins: &[String]) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    let origin = request
        .get(header::ORIGIN)
        .filter(|origin| allowed_origins.iter().any(|allowed| origin.as_bytes() == allowed.as_bytes()));
    if let Some(origin) = origin {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        headers.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
        headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static("Retry-After, ETag"));
    }
    response
}

/// A request's body, or a problem: over the route's size limit (`413`) or not readable.
pub(crate) struct Body(pub(crate) Bytes);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        Bytes::from_request(request, state).await.map(Body).map_err(|rejection| {
            let status = rejection.status().as_u16();
            problem(status, "invalid_request", &rejection.body_text(), None)
        })
    }
}

/// The problem for a refusal.
pub(crate) fn refused(refusal: Refusal) -> Response {
    let (code, status) = refusal.code();
    problem(status, code, refusal.detail(), None)
}

/// An RFC 9457 problem with the contract's `code`.
pub(crate) fn problem(status: u16, code: &str, detail: &str, retry_after: Option<u32>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = json!({
        "type": format!("tag:dropgen,2026:problem:{code}"),
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "code": code,
        "detail": detail,
    });
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(seconds) = retry_after {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// A cookie's value, when it looks like one of ours (at most 64 URL-safe characters).
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, value)| {
            *key == name
                && !value.is_empty()
                && value.len() <= 64
                && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(|(_, value)| value.to_owned())
}

#[cfg(test)]
mod tests;
