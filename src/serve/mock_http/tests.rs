//! The mock against `docs/inventory-api.yaml`: every body it sends has the document's
//! required fields, no others, and only the values its enums allow.

use time::macros::datetime;

use super::*;
use crate::inventory::catalog::{CatalogDrop, CatalogSku};
use crate::inventory::contract::{conforms, contract, schema};
use crate::inventory::http::StockBody;

fn inventory() -> MockInventory {
    let start = datetime!(2026-11-20 15:00 UTC);
    let sku = |stock, limit_per_customer| CatalogSku {
        stock: Some(stock),
        limit_per_customer,
        checkout_url: format!("{PAGES}{CHECKOUT}"),
    };
    let skus = BTreeMap::from([
        ("A".to_owned(), sku(10, Some(1))),
        ("B".to_owned(), sku(3, None)),
        ("C".to_owned(), sku(0, None)),
    ]);
    let catalog = Catalog {
        version: 1,
        drops: BTreeMap::from([("launch".to_owned(), CatalogDrop { starts_at: start, ends_at: None, skus })]),
    };
    MockInventory::new(&catalog, MockState::Scheduled, start)
}

/// The stock body as the mock sends it.
fn stock_body(inventory: &mut MockInventory, now: OffsetDateTime) -> serde_json::Value {
    let view = inventory.stock("launch", now).unwrap();
    let body = StockBody {
        drop: "launch",
        server_time: rfc3339::format(now),
        status: view.status,
        items: &view.items,
        poll_after_ms: 5000,
    };
    serde_json::to_value(body).unwrap()
}

#[test]
fn stock_bodies_follow_the_contract() {
    let doc = contract();
    let mut inventory = inventory();
    for now in [datetime!(2026-11-20 14:00 UTC), datetime!(2026-11-20 16:00 UTC)] {
        let stock = stock_body(&mut inventory, now);
        conforms(&doc, schema(&doc, "Stock"), &stock, "stock");
    }
    let now = datetime!(2026-11-20 16:00 UTC);
    inventory.set_state(MockState::Paused, now);
    let paused = stock_body(&mut inventory, now);
    assert_eq!(paused["status"], "paused");
    conforms(&doc, schema(&doc, "Stock"), &paused, "paused stock");
    inventory.set_state(MockState::Scheduled, now);
    let stock = stock_body(&mut inventory, now);
    let states: Vec<&str> =
        stock["items"].as_array().unwrap().iter().map(|i| i["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["in_stock", "low", "sold_out"], "every state is exercised");
}

#[test]
fn hold_bodies_and_every_problem_follow_the_contract() {
    let doc = contract();
    let mut inventory = inventory();
    let now = datetime!(2026-11-20 16:00 UTC);
    let hold = inventory.hold("launch", "c", "k", ("A", 1), now).unwrap();
    let created = json!({
        "hold_id": hold.hold_id,
        "expires_at": rfc3339::format(hold.expires_at),
        "checkout_url": format!("{PAGES}{CHECKOUT}?hold={}&token=t", hold.hold_id),
    });
    conforms(&doc, schema(&doc, "Hold"), &created, "hold");

    let holds = &doc["paths"]["/drops/{slug}/holds"]["post"]["responses"];
    // The refusals a hold can get (the others are the shop's routes').
    let for_holds =
        [Refusal::HoldExpired, Refusal::HoldReleased, Refusal::HoldConfirmed, Refusal::UnknownHold];
    for refusal in Refusal::ALL.into_iter().filter(|refusal| !for_holds.contains(refusal)) {
        let (code, status) = refusal.code();
        let status = StatusCode::from_u16(status).unwrap();
        assert!(holds.get(status.as_str()).is_some(), "{code}: status {status} is not documented for holds");
        conforms(&doc, schema(&doc, "Problem"), &problem_json(status.as_u16(), code), code);
    }
    for (status, code) in [(429, "rate_limited"), (503, "unavailable")] {
        let status = StatusCode::from_u16(status).unwrap();
        assert!(holds.get(status.as_str()).is_some());
        conforms(&doc, schema(&doc, "Problem"), &problem_json(status.as_u16(), code), code);
        let documented = &doc["components"]["responses"]["RetryLater"]["headers"]["Retry-After"];
        assert!(documented.is_object(), "Retry-After is documented");
    }
}

#[test]
fn the_mock_serves_the_documented_paths() {
    let doc = contract();
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths["/drops/{slug}/stock"].get("get").is_some());
    assert!(paths["/drops/{slug}/holds"].get("post").is_some());
    let request = doc["components"]["schemas"]["HoldRequest"]["properties"].as_object().unwrap();
    let mut keys: Vec<&String> = request.keys().collect();
    keys.sort();
    assert_eq!(keys, ["quantity", "sku"], "HoldRequest matches inventory::http::HoldRequest");
    // The script sends what the contract asks for.
    let script = include_str!("../../../themes/default/static/drops.js");
    for needle in
        ["\"/stock\"", "\"/holds\"", "\"Idempotency-Key\"", "Retry-After", "server_time", "poll_after_ms"]
    {
        assert!(script.contains(needle), "drops.js does not mention {needle}");
    }
}

#[test]
fn reads_the_customer_cookie() {
    let mut headers = HeaderMap::new();
    headers.insert(header::COOKIE, HeaderValue::from_static("a=1; dropgen_customer=c7; b=2"));
    assert_eq!(cookie(&headers, COOKIE).as_deref(), Some("c7"));
    assert_eq!(cookie(&HeaderMap::new(), COOKIE), None);
}

const PAGES: &str = "http://127.0.0.1:8000";

fn pages() -> Vec<String> {
    vec![PAGES.to_owned()]
}

/// A problem's body, as the mock (the service's `problem`) sends it.
fn problem_json(status: u16, code: &str) -> serde_json::Value {
    let response = problem(status, code, "detail", None);
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let bytes = runtime.block_on(axum::body::to_bytes(response.into_body(), 4096)).unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn from_origin(origin: &'static str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(header::ORIGIN, HeaderValue::from_static(origin));
    headers
}

fn header(response: &Response, name: header::HeaderName) -> Option<&str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The contract's "CORS and cookies": the exact origin, credentials, the exposed headers and
/// `Vary: Origin` on every response, the preflight's method and headers.
#[test]
fn cors_answers_the_pages_exact_origin_as_the_contract_says() {
    let contract = include_str!("../../../docs/inventory-api.md");
    let response = with_cors(StatusCode::OK.into_response(), &from_origin(PAGES), &pages());
    assert_eq!(header(&response, header::ACCESS_CONTROL_ALLOW_ORIGIN), Some(PAGES));
    assert_eq!(header(&response, header::ACCESS_CONTROL_ALLOW_CREDENTIALS), Some("true"));
    let exposed = header(&response, header::ACCESS_CONTROL_EXPOSE_HEADERS).unwrap();
    assert!(contract.contains(&format!("`Access-Control-Expose-Headers: {exposed}`")), "{exposed}");
    assert_eq!(header(&response, header::VARY), Some("Origin"));

    let preflight = preflight_response(&from_origin(PAGES), &pages());
    assert_eq!(preflight.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(&preflight, header::ACCESS_CONTROL_ALLOW_ORIGIN), Some(PAGES));
    assert_eq!(header(&preflight, header::ACCESS_CONTROL_ALLOW_CREDENTIALS), Some("true"));
    assert!(header(&preflight, header::ACCESS_CONTROL_ALLOW_METHODS).unwrap().contains("POST"));
    let allowed = header(&preflight, header::ACCESS_CONTROL_ALLOW_HEADERS).unwrap();
    assert!(contract.contains(&format!("`{allowed}`")), "{allowed}");
}

#[test]
fn an_origin_the_mock_does_not_serve_gets_no_cors_headers() {
    for origin in
        ["http://localhost:8000", "http://127.0.0.1:8001", "null", "http://127.0.0.1:8000.evil.test"]
    {
        let response = with_cors(StatusCode::OK.into_response(), &from_origin(origin), &pages());
        let preflight = preflight_response(&from_origin(origin), &pages());
        for response in [&response, &preflight] {
            let cors: Vec<&str> = response
                .headers()
                .keys()
                .map(|name| name.as_str())
                .filter(|name| name.starts_with("access-control-"))
                .collect();
            assert!(cors.is_empty(), "{origin} got {cors:?}");
            assert_eq!(header(response, header::VARY), Some("Origin"), "caches must still vary");
        }
    }
    let none = with_cors(StatusCode::OK.into_response(), &HeaderMap::new(), &pages());
    assert_eq!(header(&none, header::ACCESS_CONTROL_ALLOW_ORIGIN), None);
}

#[test]
fn the_stock_status_enum_has_paused_and_faults_pick_their_routes() {
    let doc = contract();
    let statuses = schema(&doc, "Stock")["properties"]["status"]["enum"].as_array().unwrap().clone();
    assert_eq!(statuses, ["upcoming", "live", "paused", "ended"]);
    let faults = Faults { fault: MockFault::Hang, on: FaultOn::Holds, retry_after: None };
    assert_eq!(faults.on(FaultOn::Stock), None);
    assert_eq!(faults.on(FaultOn::Holds), Some((MockFault::Hang, None)));
    let everywhere = Faults { fault: MockFault::Down, on: FaultOn::All, retry_after: Some(1) };
    assert_eq!(everywhere.on(FaultOn::Stock), Some((MockFault::Down, Some(1))));
}

/// Issue 12: every `serve` build loaded and validated the site a second time to seed the mock,
/// re-hashing every image and seeding from whatever the files held by then. Here the drops
/// are gone after the build: a mock that reads the files again finds none.
#[test]
fn serve_seeds_the_mock_from_the_site_it_built() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("site");
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/build/basic");
    for entry in walkdir::WalkDir::new(&fixture) {
        let entry = entry.unwrap();
        let dest = root.join(entry.path().strip_prefix(&fixture).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
        } else {
            std::fs::copy(entry.path(), &dest).unwrap();
        }
    }
    let build = crate::pipeline::BuildOptions {
        root: root.clone(),
        out: None,
        drafts: false,
        previous_manifest: None,
        time: Default::default(),
        cache_dir: Some(dir.path().join("cache").into()),
        contention: Default::default(),
        commit: Default::default(),
    };
    let report = crate::pipeline::build(&build, &crate::progress::Silent, &mut Default::default())
        .expect("the fixture builds");
    std::fs::remove_dir_all(root.join("drops")).unwrap();
    let mock = Mock::new(Some(&report.site), &MockOptions::default(), PAGES).expect("a mock");
    let seed = mock.seed.lock().unwrap();
    assert_eq!(seed.drops.keys().collect::<Vec<_>>(), ["launch"], "built {} drop(s)", report.drops);
    let sku = &seed.drops["launch"].skus["LAUNCH-1"];
    assert_eq!(sku.stock, Some(25), "the drop's own stock");
    assert_eq!(sku.checkout_url, format!("{PAGES}{CHECKOUT}"), "the stand-in checkout");
}

/// Switching state applies that state's stock: `live` after `low` shows the seeded units
/// again, without a reset, and holds stay.
#[test]
fn a_state_switch_applies_that_states_stock() {
    let mut inventory = inventory();
    let now = datetime!(2026-11-20 16:00 UTC);
    inventory.hold("launch", "c", "k", ("A", 1), now).unwrap();
    let available = |inventory: &mut MockInventory| -> Vec<u64> {
        let stock = stock_body(inventory, now);
        stock["items"].as_array().unwrap().iter().map(|item| item["available"].as_u64().unwrap()).collect()
    };
    inventory.set_state(MockState::Low, now);
    assert_eq!(available(&mut inventory), [3, 3, 3]);
    inventory.set_state(MockState::SoldOut, now);
    assert_eq!(available(&mut inventory), [0, 0, 0]);
    inventory.set_state(MockState::Live, now);
    assert_eq!(available(&mut inventory), [10, 3, 0], "the seeded units, the hold on top");
    assert_eq!(inventory.holds().len(), 1);
}

#[test]
fn the_control_page_lists_every_knob_value_and_escapes_what_customers_send() {
    let status = json!({
        "state": "low", "fault": "none", "fault_on": "all", "retry_after": null,
        "server_time": "2026-11-20T16:00:00Z",
        "holds": [{ "hold_id": "h_launch_1", "drop": "launch", "sku": "A", "quantity": 1,
                    "customer": "<script>alert(1)</script>", "expires_at": "2026-11-20T16:10:00Z" }],
    });
    let page = control_page(&status);
    for value in ["scheduled", "upcoming", "live", "low", "sold-out", "paused", "ended"] {
        assert!(page.contains(&format!("<a href=\"?state={value}\"")), "state {value}");
    }
    for value in ["none", "down", "slow", "hang", "error", "garbage", "rate-limited"] {
        assert!(page.contains(&format!("<a href=\"?fault={value}\"")), "fault {value}");
    }
    assert!(
        page.contains("<a href=\"?state=low\" aria-current=\"true\">low</a>"),
        "the current state is marked"
    );
    assert!(page.contains("Every drop is live with 3 units of each SKU left"), "each value is explained");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !page.contains("<script>"), "{page}");
    assert!(page.contains("?reset=true"));
}
