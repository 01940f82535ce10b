//! The service against `docs/inventory-api.yaml`: every documented route is served, every
//! body it answers conforms to the document's schema for that route and status, and every
//! status it answers is documented for the route.

use std::collections::BTreeMap;

use axum::body::Body as HttpBody;
use axum::http::{Method, Request as HttpRequest};
use serde_json::{Value, json};
use tower::ServiceExt as _;

use super::*;
use crate::inventory::catalog::{CatalogDrop, CatalogSku};
use crate::inventory::contract::{conforms, contract};
use crate::inventory::metrics::Metrics;
use crate::inventory::redis_server;
use crate::inventory::store::{Backend, Unobserved};
use crate::inventory::token::Key;
use time::Duration;

const SHOP: &str = "shop-key";
const OPERATOR: &str = "operator-key";
const PAGES: &str = "https://drops.test";

async fn service(backend: &Backend) -> Router {
    let now = OffsetDateTime::now_utc();
    let sku = |stock| CatalogSku {
        stock: Some(stock),
        limit_per_customer: Some(2),
        checkout_url: "https://shop.test/c".into(),
    };
    let drop = CatalogDrop {
        starts_at: now - Duration::hours(1),
        ends_at: None,
        skus: BTreeMap::from([("A".to_owned(), sku(5)), ("Z".to_owned(), sku(0))]),
    };
    let catalog = Catalog { version: 1, drops: BTreeMap::from([("launch".to_owned(), drop)]) };
    let ttl = Duration::minutes(10);
    let (store, _) = Store::open(backend, Some(&catalog), ttl, Arc::new(Unobserved), now).await.unwrap();
    let key = Key::from_pem(Key::generate_pem().unwrap().as_bytes(), "test key").unwrap();
    let service = Service {
        store,
        keys: Keys::new(vec![key]).unwrap(),
        metrics: Arc::new(Metrics::default()),
        page_origins: vec![PAGES.to_owned()],
        shop_key: Some(SHOP.to_owned()),
        operator_key: Some(OPERATOR.to_owned()),
        trust_forwarded_for: false,
        per_address: limiter(10_000),
        per_customer: limiter(10_000),
        observations: crate::inventory::observation::Observations::new("test".into(), [0; 32]),
    };
    router(Arc::new(service), "/v1")
}

struct Answer {
    status: u16,
    content_type: String,
    body: Value,
}

async fn call(
    router: &Router,
    method: Method,
    path: &str,
    auth: Option<&str>,
    key: Option<&str>,
    body: Option<Value>,
) -> Answer {
    let mut request = HttpRequest::builder().method(method).uri(format!("/v1{path}")).header("origin", PAGES);
    if let Some(auth) = auth {
        request = request.header("authorization", format!("Bearer {auth}"));
    }
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    let body = body.map(|body| HttpBody::from(body.to_string())).unwrap_or_else(HttpBody::empty);
    let mut request = request.body(body).unwrap();
    request.extensions_mut().insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 4000))));
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let content_type =
        response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    Answer { status, content_type, body }
}

/// The schema the document gives for an operation's answer of `status`: a problem, or the
/// operation's own body.
fn documented<'a>(doc: &'a Value, path: &str, method: &str, status: u16) -> Option<&'a Value> {
    let response = doc["paths"][path][method]["responses"].get(status.to_string())?;
    let response = match response.get("$ref").and_then(Value::as_str) {
        Some(reference) => &doc["components"]["responses"][reference.rsplit('/').next().unwrap()],
        None => response,
    };
    let content = response.get("content")?;
    let (_, media) = content.as_object()?.iter().next()?;
    media.get("schema")
}

/// Calls a route and checks the answer against the document: its status is documented for
/// the operation, and its body conforms to the schema given there.
#[allow(clippy::too_many_arguments)]
async fn checked(
    doc: &Value,
    router: &Router,
    (method, template, path): (Method, &str, &str),
    auth: Option<&str>,
    key: Option<&str>,
    body: Option<Value>,
    expected: u16,
) -> Value {
    let answer = call(router, method.clone(), path, auth, key, body).await;
    assert_eq!(answer.status, expected, "{method} {path}: {}", answer.body);
    let operation = method.as_str().to_lowercase();
    assert!(doc["paths"][template].get(&operation).is_some(), "{method} {template} is not in the contract");
    match documented(doc, template, &operation, answer.status) {
        Some(schema) => {
            if answer.status >= 400 {
                assert_eq!(answer.content_type, "application/problem+json", "{method} {path}");
            }
            conforms(doc, schema, &answer.body, &format!("{method} {path}"));
        }
        None => assert!(
            doc["paths"][template][&operation]["responses"].get(answer.status.to_string()).is_some(),
            "{method} {template}: status {} is not documented",
            answer.status
        ),
    }
    answer.body
}

#[test]
fn every_route_answers_as_the_contract_says() {
    answers_as_the_contract_says(&Backend::Memory);
}

#[test]
fn every_route_answers_as_the_contract_says_on_redis() {
    if !redis_server::available() {
        return;
    }
    let server = redis_server::RedisServer::start();
    let target =
        crate::inventory::store::RedisTarget { urls: vec![server.url()], prefix: "contract:".into() };
    answers_as_the_contract_says(&Backend::Redis(target));
}

fn answers_as_the_contract_says(backend: &Backend) {
    let doc = contract();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let router = service(backend).await;
        fn get<'a>(template: &'a str, path: &'a str) -> (Method, &'a str, &'a str) {
            (Method::GET, template, path)
        }
        fn post<'a>(template: &'a str, path: &'a str) -> (Method, &'a str, &'a str) {
            (Method::POST, template, path)
        }
        fn put<'a>(template: &'a str, path: &'a str) -> (Method, &'a str, &'a str) {
            (Method::PUT, template, path)
        }
        let stock =
            checked(&doc, &router, get("/drops/{slug}/stock", "/drops/launch/stock"), None, None, None, 200)
                .await;
        assert_eq!(stock["status"], "live");
        checked(&doc, &router, get("/drops/{slug}/stock", "/drops/nope/stock"), None, None, None, 404).await;

        let holds = "/drops/{slug}/holds";
        let one = json!({ "sku": "A", "quantity": 1 });
        let hold = checked(
            &doc,
            &router,
            post(holds, "/drops/launch/holds"),
            None,
            Some("k1"),
            Some(one.clone()),
            201,
        )
        .await;
        let id = hold["hold_id"].as_str().unwrap().to_owned();
        let token = url::Url::parse(hold["checkout_url"].as_str().unwrap())
            .unwrap()
            .query_pairs()
            .find(|(key, _)| key == "token")
            .unwrap()
            .1
            .into_owned();
        for (key, body, status) in [
            (Some("k2"), json!({ "sku": "Z", "quantity": 1 }), 409),
            (Some("k3"), json!({ "sku": "A", "quantity": 3 }), 409),
            (Some("k4"), json!({ "sku": "nope", "quantity": 1 }), 404),
            (None, one.clone(), 400),
            (Some("k1"), json!({ "sku": "A", "quantity": 2 }), 422),
        ] {
            checked(&doc, &router, post(holds, "/drops/launch/holds"), None, key, Some(body), status).await;
        }
        checked(&doc, &router, post(holds, "/drops/nope/holds"), None, Some("k5"), Some(one), 404).await;

        let jwks = checked(
            &doc,
            &router,
            get("/.well-known/jwks.json", "/.well-known/jwks.json"),
            None,
            None,
            None,
            200,
        )
        .await;
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
        let beacon = json!({ "drop": "launch", "event": "first_stock", "ms": 120 });
        checked(&doc, &router, post("/beacons", "/beacons"), None, None, Some(beacon), 204).await;
        checked(
            &doc,
            &router,
            post("/beacons", "/beacons"),
            None,
            None,
            Some(json!({ "event": "nope" })),
            400,
        )
        .await;

        let hold_path = format!("/holds/{id}");
        checked(&doc, &router, get("/holds/{hold_id}", &hold_path), Some(SHOP), None, None, 200).await;
        checked(&doc, &router, get("/holds/{hold_id}", &hold_path), Some(OPERATOR), None, None, 401).await;
        checked(&doc, &router, get("/holds/{hold_id}", "/holds/h_launch_99"), Some(SHOP), None, None, 404)
            .await;
        let confirm = ("/holds/{hold_id}/confirm", format!("/holds/{id}/confirm"));
        let with_token = Some(json!({ "token": token }));
        checked(
            &doc,
            &router,
            post(confirm.0, &confirm.1),
            Some(SHOP),
            Some("p1"),
            Some(json!({ "token": "x.y.z" })),
            400,
        )
        .await;
        let sold = checked(
            &doc,
            &router,
            post(confirm.0, &confirm.1),
            Some(SHOP),
            Some("p1"),
            with_token.clone(),
            200,
        )
        .await;
        assert_eq!(sold["state"], "confirmed");
        checked(&doc, &router, post(confirm.0, &confirm.1), Some(SHOP), Some("p2"), with_token, 409).await;
        let release = ("/holds/{hold_id}/release", format!("/holds/{id}/release"));
        checked(&doc, &router, post(release.0, &release.1), Some(SHOP), None, None, 409).await;

        let drop =
            checked(&doc, &router, get("/drops/{slug}", "/drops/launch"), Some(OPERATOR), None, None, 200)
                .await;
        assert_eq!(drop["skus"]["A"]["sold"], 1);
        for action in ["pause", "resume", "open", "delay", "end"] {
            let path = format!("/drops/launch/{action}");
            checked(&doc, &router, post("/drops/{slug}/{action}", &path), Some(OPERATOR), None, None, 200)
                .await;
        }
        checked(
            &doc,
            &router,
            post("/drops/{slug}/{action}", "/drops/launch/pause"),
            Some(SHOP),
            None,
            None,
            401,
        )
        .await;
        let stock_path = "/drops/{slug}/skus/{sku}/stock";
        let set = Some(json!({ "stock": 9 }));
        checked(
            &doc,
            &router,
            put(stock_path, "/drops/launch/skus/A/stock"),
            Some(OPERATOR),
            None,
            set.clone(),
            200,
        )
        .await;
        checked(&doc, &router, put(stock_path, "/drops/launch/skus/Q/stock"), Some(OPERATOR), None, set, 404)
            .await;
        let catalog = serde_json::to_value(Catalog { version: 1, drops: BTreeMap::new() }).unwrap();
        checked(&doc, &router, put("/catalog", "/catalog"), Some(OPERATOR), None, Some(catalog), 200).await;
        checked(
            &doc,
            &router,
            put("/catalog", "/catalog"),
            Some(OPERATOR),
            None,
            Some(json!({ "version": 9 })),
            400,
        )
        .await;
        let metrics = call(&router, Method::GET, "/metrics", None, None, None).await;
        assert!(metrics.body.as_str().unwrap().contains("dropgen_inventory_beacons_total"));
        assert_eq!(call(&router, Method::GET, "/healthz", None, None, None).await.status, 200);
    });
}

#[test]
fn every_documented_route_is_served() {
    let doc = contract();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let router = service(&Backend::Memory).await;
        for (template, operations) in doc["paths"].as_object().unwrap() {
            let path = template
                .replace("{slug}", "launch")
                .replace("{hold_id}", "h_launch_1")
                .replace("{sku}", "A")
                .replace("{action}", "pause");
            for method in operations.as_object().unwrap().keys().filter(|key| *key != "parameters") {
                let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                let answer = call(&router, method.clone(), &path, None, None, None).await;
                assert!(answer.status != 405, "{method} {path} is not routed");
                assert!(
                    answer.body.get("code") != Some(&json!("not_found")),
                    "{method} {path} is not routed"
                );
            }
        }
    });
}

#[test]
fn every_refusal_code_is_in_the_contract() {
    let doc = contract();
    let codes = doc["components"]["schemas"]["Problem"]["properties"]["code"]["enum"].as_array().unwrap();
    for refusal in Refusal::ALL {
        assert!(codes.contains(&json!(refusal.code().0)), "{} is not in the contract", refusal.code().0);
    }
}
