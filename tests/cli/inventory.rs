//! `dropgen inventory serve`, the real binary on loopback: the contract's routes, bad input,
//! a crowd racing for the last units, SIGKILL mid-load, a reply lost on the way, tokens the
//! shop verifies against the JWKS, and `dropgen inventory sync`. Every load here is bounded
//! in count and targets 127.0.0.1 only.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::redis_server::{self, RedisCluster, RedisServer};
use crate::support::run_with_env;

const SHOP_KEY: &str = "shop-secret-for-tests";
const OPERATOR_KEY: &str = "operator-secret-for-tests";
const PAGES: &str = "http://pages.test:8000";

/// A folder with a signing key, a settings file and a catalog of one live drop.
struct Setup {
    dir: tempfile::TempDir,
    key_pem: String,
}

/// Where a test's services keep their state.
enum Backing<'a> {
    Embedded,
    /// A Redis server or Cluster (its nodes' URLs).
    Redis(Vec<String>),
    /// A Cluster, given by one node: the service finds the others.
    Cluster(&'a RedisCluster),
}

impl Setup {
    fn new(stock: u32, limit: Option<u32>) -> Setup {
        Setup::on(stock, limit, &Backing::Embedded)
    }

    fn on(stock: u32, limit: Option<u32>, backing: &Backing<'_>) -> Setup {
        let dir = tempfile::Builder::new()
            .prefix("dropgen-inventory-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap();
        run_with_env(dir.path(), &["inventory", "keygen", "signing.pem"], &[]).success();
        let key_pem = std::fs::read_to_string(dir.path().join("signing.pem")).unwrap();
        let store = match backing {
            Backing::Embedded => "database: inventory.db".to_owned(),
            Backing::Redis(urls) => format!("redis: \"{}\"", urls.join(",")),
            Backing::Cluster(cluster) => format!("redis: \"{}\"", cluster.urls()[0]),
        };
        std::fs::write(
            dir.path().join("inventory.yaml"),
            format!(
                "{store}\ncatalog: inventory.json\npage_origins: [\"{PAGES}\"]\nsigning_keys: [signing.pem]\n\
                 holds_per_address_per_minute: 1000000\nholds_per_customer_per_minute: 1000000\n"
            ),
        )
        .unwrap();
        let setup = Setup { dir, key_pem };
        setup.write_catalog(stock, limit);
        setup
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn write_catalog(&self, stock: u32, limit: Option<u32>) {
        let catalog = json!({
            "version": 1,
            "drops": {
                "launch": {
                    "starts_at": "2020-01-01T00:00:00Z",
                    "ends_at": "2099-01-01T00:00:00Z",
                    "skus": {
                        "A": { "stock": stock, "limit_per_customer": limit, "checkout_url": "https://shop.test/checkout?sku=A" },
                        "B": { "stock": 5, "limit_per_customer": null, "checkout_url": "https://shop.test/checkout?sku=B" }
                    }
                }
            }
        });
        std::fs::write(self.path("inventory.json"), serde_json::to_vec_pretty(&catalog).unwrap()).unwrap();
    }

    fn start(&self) -> Service {
        let mut child = Command::new(env!("CARGO_BIN_EXE_dropgen"))
            .args(["inventory", "serve", "--config", "inventory.yaml", "--listen", "127.0.0.1:0"])
            .current_dir(self.dir.path())
            .env(SHOP_KEY_ENV, SHOP_KEY)
            .env(OPERATOR_KEY_ENV, OPERATOR_KEY)
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let address = loop {
            let line = lines.next().expect("the service exited before it listened").unwrap();
            if let Some(address) = line.strip_prefix("inventory: listening on ") {
                break address.to_owned();
            }
        };
        // Keep draining the logs, so the service never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Service { child, base: address }
    }
}

const SHOP_KEY_ENV: &str = "DROPGEN_INVENTORY_SHOP_KEY";
const OPERATOR_KEY_ENV: &str = "DROPGEN_INVENTORY_OPERATOR_KEY";

struct Service {
    child: Child,
    base: String,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Service {
    fn kill(mut self) {
        // SIGKILL: no chance to flush or finish anything.
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap()
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

async fn hold(client: &reqwest::Client, base: &str, key: &str, body: &str, cookie: Option<&str>) -> Answer {
    let mut request = client
        .post(format!("{base}/drops/launch/holds"))
        .header("origin", PAGES)
        .header("content-type", "application/json")
        .header("idempotency-key", key)
        .body(body.to_owned());
    if let Some(cookie) = cookie {
        request = request.header("cookie", format!("dropgen_customer={cookie}"));
    }
    answer(request).await
}

async fn answer(request: reqwest::RequestBuilder) -> Answer {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer { status, headers, body }
}

async fn operator_drop(client: &reqwest::Client, base: &str) -> Value {
    let request = client.get(format!("{base}/drops/launch")).bearer_auth(OPERATOR_KEY);
    let answer = answer(request).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.body
}

fn query(url: &str, name: &str) -> String {
    let url = reqwest::Url::parse(url).unwrap();
    url.query_pairs().find(|(key, _)| key == name).map(|(_, value)| value.into_owned()).unwrap()
}

/// Verifies a compact JWS against a JWKS, as a shop would: by `kid`, Ed25519.
fn verify_with_jwks(token: &str, jwks: &Value) -> Value {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "{token}");
    let header: Value = serde_json::from_slice(&b64.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header["alg"], "EdDSA");
    let key =
        jwks["keys"].as_array().unwrap().iter().find(|key| key["kid"] == header["kid"]).expect("kid in JWKS");
    assert_eq!((key["kty"].as_str(), key["crv"].as_str()), (Some("OKP"), Some("Ed25519")));
    let public = b64.decode(key["x"].as_str().unwrap()).unwrap();
    let signed = format!("{}.{}", parts[0], parts[1]);
    ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, public)
        .verify(signed.as_bytes(), &b64.decode(parts[2]).unwrap())
        .expect("the signature verifies");
    serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap()
}

#[test]
fn a_hold_checks_out_with_a_token_the_shop_verifies_and_confirms_once() {
    checkout_on(&Backing::Embedded);
}

#[test]
fn on_redis_a_hold_checks_out_with_a_token_the_shop_verifies_and_confirms_once() {
    if !redis_server::available() {
        return;
    }
    let server = RedisServer::start();
    checkout_on(&Backing::Redis(vec![server.url()]));
}

fn checkout_on(backing: &Backing<'_>) {
    let setup = Setup::on(10, Some(2), backing);
    let service = setup.start();
    let base = service.base.clone();
    runtime().block_on(async {
        let client = client();
        let created = hold(&client, &base, "key-1", r#"{"sku": "A", "quantity": 1}"#, None).await;
        assert_eq!(created.status, 201, "{}", created.body);
        assert_eq!(created.headers["access-control-allow-origin"], PAGES);
        assert_eq!(created.headers["cache-control"], "no-store");
        let cookie = created.headers["set-cookie"].to_str().unwrap().to_owned();
        assert!(
            cookie.contains("SameSite=None") && cookie.contains("Partitioned") && cookie.contains("HttpOnly")
        );
        let hold_id = created.body["hold_id"].as_str().unwrap().to_owned();
        let checkout = created.body["checkout_url"].as_str().unwrap();
        assert!(checkout.starts_with("https://shop.test/checkout?sku=A&hold="), "{checkout}");
        assert_eq!(query(checkout, "hold"), hold_id);
        let token = query(checkout, "token");

        let jwks = answer(client.get(format!("{base}/.well-known/jwks.json"))).await.body;
        let claims = verify_with_jwks(&token, &jwks);
        assert_eq!(
            (claims["hold"].as_str(), claims["sku"].as_str(), claims["qty"].as_u64()),
            (Some(&*hold_id), Some("A"), Some(1))
        );
        assert_eq!(claims["drop"], "launch");
        assert!(claims["exp"].as_i64().unwrap() > claims["iat"].as_i64().unwrap());

        let confirm = |key: &'static str, token: String, api_key: &'static str| {
            client
                .post(format!("{base}/holds/{hold_id}/confirm"))
                .bearer_auth(api_key)
                .header("idempotency-key", key)
                .json(&json!({ "token": token }))
        };
        let wrong_key = answer(confirm("pay-1", token.clone(), "not-the-key")).await;
        assert_eq!((wrong_key.status, wrong_key.body["code"].as_str()), (401, Some("unauthorized")));
        let mut forged = token.clone();
        forged.replace_range(forged.len() - 4.., "AAAA");
        let refused = answer(confirm("pay-1", forged, SHOP_KEY)).await;
        assert_eq!((refused.status, refused.body["code"].as_str()), (400, Some("invalid_token")));
        assert_eq!(refused.headers["content-type"], "application/problem+json");

        let confirmed = answer(confirm("pay-1", token.clone(), SHOP_KEY)).await;
        assert_eq!(
            (confirmed.status, confirmed.body["state"].as_str()),
            (200, Some("confirmed")),
            "{}",
            confirmed.body
        );
        let retried = answer(confirm("pay-1", token.clone(), SHOP_KEY)).await;
        assert_eq!(
            (retried.status, retried.body["state"].as_str()),
            (200, Some("confirmed")),
            "a retry gets its answer"
        );
        let reused = answer(confirm("pay-2", token.clone(), SHOP_KEY)).await;
        assert_eq!(
            (reused.status, reused.body["code"].as_str()),
            (409, Some("hold_confirmed")),
            "a token works once"
        );

        let read = answer(client.get(format!("{base}/holds/{hold_id}")).bearer_auth(SHOP_KEY)).await;
        assert_eq!(read.body["state"], "confirmed");
        let drop = operator_drop(&client, &base).await;
        assert_eq!(
            (drop["skus"]["A"]["sold"].as_u64(), drop["skus"]["A"]["available"].as_u64()),
            (Some(1), Some(9))
        );
    });
}

#[test]
fn bad_input_gets_a_problem_and_changes_nothing() {
    bad_input_on(&Backing::Embedded);
}

#[test]
fn on_redis_bad_input_gets_a_problem_and_changes_nothing() {
    if !redis_server::available() {
        return;
    }
    let server = RedisServer::start();
    bad_input_on(&Backing::Redis(vec![server.url()]));
}

fn bad_input_on(backing: &Backing<'_>) {
    let setup = Setup::on(10, None, backing);
    let service = setup.start();
    let base = service.base.clone();
    runtime().block_on(async {
        let client = client();
        let before = operator_drop(&client, &base).await;
        let cases: Vec<(&str, String, &str, u16, &str)> = vec![
            ("malformed JSON", "k1".into(), "{\"sku\": ", 400, "invalid_request"),
            (
                "unknown field",
                "k1".into(),
                r#"{"sku": "A", "quantity": 1, "price": 0}"#,
                400,
                "invalid_request",
            ),
            ("zero quantity", "k1".into(), r#"{"sku": "A", "quantity": 0}"#, 400, "invalid_request"),
            ("missing key", String::new(), r#"{"sku": "A", "quantity": 1}"#, 400, "invalid_request"),
            ("overlong key", "k".repeat(256), r#"{"sku": "A", "quantity": 1}"#, 400, "invalid_request"),
            ("unknown SKU", "k2".into(), r#"{"sku": "Z", "quantity": 1}"#, 404, "unknown_sku"),
        ];
        for (what, key, body, status, code) in cases {
            let answer = hold(&client, &base, &key, body, None).await;
            assert_eq!(
                (answer.status, answer.body["code"].as_str()),
                (status, Some(code)),
                "{what}: {}",
                answer.body
            );
            assert_eq!(answer.headers["content-type"], "application/problem+json", "{what}");
        }
        let oversized = format!(r#"{{"sku": "A", "quantity": 1, "pad": "{}"}}"#, "x".repeat(8192));
        let too_big = hold(&client, &base, "k3", &oversized, None).await;
        assert_eq!((too_big.status, too_big.body["code"].as_str()), (413, Some("invalid_request")));
        assert_eq!(too_big.headers["content-type"], "application/problem+json");
        let unknown_drop = answer(
            client
                .post(format!("{base}/drops/nope/holds"))
                .header("idempotency-key", "k4")
                .body(r#"{"sku": "A", "quantity": 1}"#),
        )
        .await;
        assert_eq!(unknown_drop.body["code"], "unknown_drop");
        // Another origin gets no CORS headers: its browser hides whatever comes back.
        let foreign =
            answer(client.get(format!("{base}/drops/launch/stock")).header("origin", "https://evil.test"))
                .await;
        assert!(foreign.headers.get("access-control-allow-origin").is_none());
        assert_eq!(foreign.headers["vary"], "Origin");
        let preflight = answer(
            client
                .request(reqwest::Method::OPTIONS, format!("{base}/drops/launch/holds"))
                .header("origin", "https://evil.test")
                .header("access-control-request-method", "POST"),
        )
        .await;
        assert!(preflight.headers.get("access-control-allow-origin").is_none());
        let wrong = answer(client.put(format!("{base}/catalog")).bearer_auth(SHOP_KEY).body("{}")).await;
        assert_eq!(wrong.status, 401, "the shop key is not the operator's");
        let sync_garbage =
            answer(client.put(format!("{base}/catalog")).bearer_auth(OPERATOR_KEY).body("{")).await;
        assert_eq!((sync_garbage.status, sync_garbage.body["code"].as_str()), (400, Some("invalid_request")));
        assert_eq!(operator_drop(&client, &base).await, before, "nothing changed");
    });
}

/// Every `hold_created` in the service's event log, by hold id.
fn logged_holds(database: &Path) -> BTreeSet<String> {
    let connection = rusqlite::Connection::open(database).unwrap();
    let mut query = connection.prepare("SELECT body FROM events WHERE kind = 'hold_created'").unwrap();
    let rows = query.query_map([], |row| row.get::<_, String>(0)).unwrap();
    rows.map(|body| {
        serde_json::from_str::<Value>(&body.unwrap()).unwrap()["hold"].as_str().unwrap().to_owned()
    })
    .collect()
}

#[test]
fn a_crowd_never_oversells_passes_no_limit_and_every_201_is_in_the_event_log() {
    let setup = Setup::new(200, Some(2));
    let logged = crowd_races_for_the_last_units(&setup, 1);
    assert_eq!(logged, logged_holds(&setup.path("inventory.db")));
}

#[test]
fn on_redis_two_instances_racing_never_oversell_and_every_201_is_in_the_stream() {
    if !redis_server::available() {
        return;
    }
    let server = RedisServer::start();
    let setup = Setup::on(200, Some(2), &Backing::Redis(vec![server.url()]));
    let logged = crowd_races_for_the_last_units(&setup, 2);
    assert_eq!(logged, streamed_holds(&server));
}

#[test]
fn on_a_redis_cluster_two_instances_racing_never_oversell() {
    if !redis_server::available() {
        return;
    }
    let cluster = RedisCluster::start();
    let setup = Setup::on(200, Some(2), &Backing::Cluster(&cluster));
    let logged = crowd_races_for_the_last_units(&setup, 2);
    // The drop's keys live on whichever node owns its slot.
    let streamed: BTreeSet<String> = cluster.nodes.iter().flat_map(streamed_holds).collect();
    assert_eq!(logged, streamed);
}

/// Every `hold_created` in a Redis drop's event log stream, by hold id.
fn streamed_holds(server: &RedisServer) -> BTreeSet<String> {
    let entries = server.cli(&["XRANGE", "dropgen:{d:launch}:log", "-", "+"]);
    entries
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|event| event["event"] == "hold_created")
        .map(|event| event["hold"].as_str().unwrap().to_owned())
        .collect()
}

/// 400 clients (100 customers, four tabs each, every click retried once with its key) race
/// for the units of a SKU with a limit of 2, spread over `instances` services on the same
/// store. Checks the counts at snapshots during the run and at the end, and returns the
/// acknowledged holds, for the caller to find in the event log.
fn crowd_races_for_the_last_units(setup: &Setup, instances: usize) -> BTreeSet<String> {
    const UNITS: u64 = 200;
    let services: Vec<Service> = (0..instances).map(|_| setup.start()).collect();
    let bases: Vec<String> = services.iter().map(|service| service.base.clone()).collect();
    let base = bases[0].clone();
    let (created, customers) = runtime().block_on(async {
        let client = client();
        let mut tasks = Vec::new();
        for task in 0..400 {
            let (client, base) = (client.clone(), bases[task % bases.len()].clone());
            tasks.push(tokio::spawn(async move {
                // 100 customers, four tabs each; every click retried once with its key.
                let customer = format!("customer{}", task % 100);
                let mut created = Vec::new();
                for click in 0..3 {
                    let key = format!("t{task}-c{click}");
                    for _retry in 0..2 {
                        let answer =
                            hold(&client, &base, &key, r#"{"sku": "A", "quantity": 1}"#, Some(&customer))
                                .await;
                        match answer.status {
                            201 => created.push((
                                customer.clone(),
                                answer.body["hold_id"].as_str().unwrap().to_owned(),
                            )),
                            409 => assert!(
                                ["sold_out", "limit_reached"]
                                    .contains(&answer.body["code"].as_str().unwrap())
                            ),
                            other => panic!("unexpected {other}: {}", answer.body),
                        }
                    }
                }
                created
            }));
        }
        let mut stock_checks = Vec::new();
        while tasks.iter().any(|task| !task.is_finished()) {
            stock_checks.push(operator_drop(&client, &base).await);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut created = Vec::new();
        for task in tasks {
            created.extend(task.await.unwrap());
        }
        stock_checks.push(operator_drop(&client, &base).await);
        for drop in &stock_checks {
            let a = &drop["skus"]["A"];
            let total =
                a["available"].as_u64().unwrap() + a["held"].as_u64().unwrap() + a["sold"].as_u64().unwrap();
            assert_eq!(total, UNITS, "available + held + sold = initial, at every snapshot: {a}");
        }
        let mut customers: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (customer, hold) in &created {
            customers.entry(customer.clone()).or_default().insert(hold.clone());
        }
        (created, customers)
    });
    let distinct: BTreeSet<&String> = created.iter().map(|(_, hold)| hold).collect();
    assert_eq!(distinct.len() as u64, UNITS, "every unit held exactly once, none more");
    for (customer, holds) in &customers {
        assert!(holds.len() <= 2, "{customer} holds {} over a limit of 2", holds.len());
    }
    drop(services);
    distinct.into_iter().cloned().collect()
}

#[test]
fn sigkill_mid_load_loses_no_acknowledged_hold_and_oversells_nothing() {
    let setup = Setup::new(300, None);
    crash_mid_load(&setup, |service| {
        service.kill();
        setup.start()
    });
}

#[test]
fn on_redis_a_sigkill_of_the_service_mid_load_loses_no_acknowledged_hold() {
    if !redis_server::available() {
        return;
    }
    let server = RedisServer::start();
    let setup = Setup::on(300, None, &Backing::Redis(vec![server.url()]));
    crash_mid_load(&setup, |service| {
        service.kill();
        setup.start()
    });
}

#[test]
fn a_sigkill_of_redis_mid_load_loses_no_acknowledged_hold() {
    if !redis_server::available() {
        return;
    }
    let mut server = RedisServer::start();
    let setup = Setup::on(300, None, &Backing::Redis(vec![server.url()]));
    // Redis dies with scripts in flight and comes back from its append-only file (fsynced on
    // every write); the service stays up and reconnects.
    crash_mid_load(&setup, |service| {
        server.restart();
        service
    });
    assert!(server.log().contains("DB loaded from append only file"), "{}", server.log());
}

/// 64 clients take the 300 units of a SKU one at a time; once 100 holds are acknowledged,
/// `crash` kills something mid-load and gives back a running service. Every acknowledged
/// hold must still be active, and nothing oversold.
fn crash_mid_load(setup: &Setup, crash: impl FnOnce(Service) -> Service) {
    const UNITS: u64 = 300;
    let service = setup.start();
    let base = service.base.clone();
    let acknowledged = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let service = runtime().block_on(async {
        let client = client();
        let mut tasks = Vec::new();
        for task in 0..64 {
            let (client, base, acknowledged) = (client.clone(), base.clone(), Arc::clone(&acknowledged));
            tasks.push(tokio::spawn(async move {
                for click in 0..20 {
                    let key = format!("t{task}-c{click}");
                    let sent = client
                        .post(format!("{base}/drops/launch/holds"))
                        .header("idempotency-key", &key)
                        .body(r#"{"sku": "A", "quantity": 1}"#)
                        .send()
                        .await;
                    let Ok(response) = sent else { return };
                    if response.status() == 201
                        && let Ok(body) = response.json::<Value>().await
                    {
                        acknowledged.lock().unwrap().push(body["hold_id"].as_str().unwrap().to_owned());
                    }
                }
            }));
        }
        // Kill once the crowd is well under way, with requests in flight.
        while acknowledged.lock().unwrap().len() < 100 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let service = crash(service);
        for task in tasks {
            let _ = task.await;
        }
        service
    });
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= 100);
    let base = service.base.clone();
    runtime().block_on(async {
        let client = client();
        for hold in &acknowledged {
            let read = answer(client.get(format!("{base}/holds/{hold}")).bearer_auth(SHOP_KEY)).await;
            assert_eq!(
                (read.status, read.body["state"].as_str()),
                (200, Some("active")),
                "{hold} was lost: {}",
                read.body
            );
        }
        let a = &operator_drop(&client, &base).await["skus"]["A"];
        let held = a["held"].as_u64().unwrap();
        assert!(held >= acknowledged.len() as u64);
        assert_eq!(a["available"].as_u64().unwrap() + held + a["sold"].as_u64().unwrap(), UNITS);
    });
}

/// Forwards one connection to `target`, but never sends the answer back: the reply is lost
/// on the way to the client.
async fn reply_losing_proxy(target: String) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let target = target.clone();
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut upstream =
                    tokio::net::TcpStream::connect(target.trim_start_matches("http://")).await.unwrap();
                let mut request = vec![0u8; 4096];
                let n = client.read(&mut request).await.unwrap();
                upstream.write_all(&request[..n]).await.unwrap();
                // Wait for the answer, then drop both ends without passing it on.
                let mut answer = vec![0u8; 4096];
                let _ = upstream.read(&mut answer).await;
            });
        }
    });
    format!("http://{address}")
}

#[test]
fn a_reply_lost_on_the_way_and_retried_gives_exactly_one_hold() {
    lost_reply_on(&Backing::Embedded);
}

#[test]
fn on_redis_a_reply_lost_on_the_way_and_retried_gives_exactly_one_hold() {
    if !redis_server::available() {
        return;
    }
    let server = RedisServer::start();
    lost_reply_on(&Backing::Redis(vec![server.url()]));
}

fn lost_reply_on(backing: &Backing<'_>) {
    let setup = Setup::on(10, None, backing);
    let service = setup.start();
    let base = service.base.clone();
    runtime().block_on(async {
        let client = client();
        let proxy = reply_losing_proxy(base.clone()).await;
        let lost = client
            .post(format!("{proxy}/drops/launch/holds"))
            .header("idempotency-key", "lost-1")
            .header("content-type", "application/json")
            .body(r#"{"sku": "A", "quantity": 2}"#)
            .send()
            .await;
        assert!(lost.is_err(), "the proxy must lose the reply");
        // The first answer (and its cookie) never arrived: the retry comes as a stranger.
        let retried = hold(&client, &base, "lost-1", r#"{"sku": "A", "quantity": 2}"#, None).await;
        assert_eq!(retried.status, 201, "{}", retried.body);
        let again = hold(&client, &base, "lost-1", r#"{"sku": "A", "quantity": 2}"#, None).await;
        assert_eq!(again.body["hold_id"], retried.body["hold_id"]);
        let a = &operator_drop(&client, &base).await["skus"]["A"];
        assert_eq!(
            (a["held"].as_u64(), a["available"].as_u64()),
            (Some(2), Some(8)),
            "one hold of 2, not two"
        );
    });
}

#[test]
fn the_operator_pauses_syncs_and_sets_stock_and_metrics_count_it() {
    operator_on(&Backing::Embedded);
}

#[test]
fn on_redis_the_operator_pauses_syncs_and_sets_stock_and_metrics_count_it() {
    if !redis_server::available() {
        return;
    }
    let server = RedisServer::start();
    operator_on(&Backing::Redis(vec![server.url()]));
}

fn operator_on(backing: &Backing<'_>) {
    let setup = Setup::on(10, None, backing);
    let service = setup.start();
    let base = service.base.clone();
    runtime().block_on(async {
        let client = client();
        let stock = answer(client.get(format!("{base}/drops/launch/stock")).header("origin", PAGES)).await;
        assert_eq!((stock.status, stock.body["status"].as_str()), (200, Some("live")));
        assert_eq!(stock.headers["cache-control"], "public, max-age=1, stale-while-revalidate=2");
        let etag = stock.headers["etag"].to_str().unwrap().to_owned();
        let revalidated =
            answer(client.get(format!("{base}/drops/launch/stock")).header("if-none-match", &etag)).await;
        assert_eq!(revalidated.status, 304);

        let pause = answer(client.post(format!("{base}/drops/launch/pause")).bearer_auth(OPERATOR_KEY)).await;
        assert_eq!(pause.status, 200, "{}", pause.body);
        let refused = hold(&client, &base, "p1", r#"{"sku": "A", "quantity": 1}"#, None).await;
        assert_eq!(refused.body["code"], "not_live");
        let stock = answer(client.get(format!("{base}/drops/launch/stock"))).await;
        assert_eq!(stock.body["status"], "paused");
        answer(client.post(format!("{base}/drops/launch/resume")).bearer_auth(OPERATOR_KEY)).await;
        assert_eq!(hold(&client, &base, "p2", r#"{"sku": "A", "quantity": 3}"#, None).await.status, 201);

        let set = answer(
            client
                .put(format!("{base}/drops/launch/skus/A/stock"))
                .bearer_auth(OPERATOR_KEY)
                .json(&json!({ "stock": 2 })),
        )
        .await;
        assert_eq!(set.status, 200);
        assert!(set.body["warnings"][0].as_str().unwrap().contains("below"), "{}", set.body);

        let metrics = answer(client.get(format!("{base}/metrics"))).await.body;
        let metrics = metrics.as_str().unwrap();
        assert!(
            metrics.contains(r#"dropgen_inventory_events_total{kind="hold_created",drop="launch"} 1"#),
            "{metrics}"
        );
        assert!(
            metrics.contains(r#"dropgen_inventory_refusals_total{route="holds",code="not_live"} 1"#),
            "{metrics}"
        );
        assert!(
            metrics.contains(r#"dropgen_inventory_units{drop="launch",sku="A",state="held"} 3"#),
            "{metrics}"
        );
        assert!(metrics.contains("dropgen_inventory_request_duration_seconds_bucket"), "{metrics}");
    });
    // `dropgen inventory sync` pushes a new catalog: stock up, holds kept.
    setup.write_catalog(50, None);
    let url = base.clone();
    run_with_env(
        setup.dir.path(),
        &["inventory", "sync", "inventory.json", "--url", &url],
        &[(OPERATOR_KEY_ENV, OPERATOR_KEY)],
    )
    .success();
    runtime().block_on(async {
        let a = &operator_drop(&client(), &base).await["skus"]["A"];
        assert_eq!(
            (a["stock"].as_u64(), a["held"].as_u64(), a["available"].as_u64()),
            (Some(50), Some(3), Some(47))
        );
    });
    let refused = run_with_env(
        setup.dir.path(),
        &["inventory", "sync", "inventory.json", "--url", &url],
        &[(OPERATOR_KEY_ENV, "wrong")],
    );
    refused.failure(2);
    assert!(refused.stderr().contains("refused the catalog"), "{}", refused.stderr());
    let _ = &setup.key_pem;
}

#[test]
fn the_service_refuses_to_start_without_a_signing_key_and_says_how_to_make_one() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_with_env(dir.path(), &["inventory", "serve", "--listen", "127.0.0.1:0"], &[]);
    run.failure(2);
    assert!(run.stderr().contains("dropgen inventory keygen"), "{}", run.stderr());
}

/// One request of the simulated crowd, as the crowd saw it: who, and what came back.
struct Sent {
    customer: String,
    status: u16,
    code: Option<String>,
}

/// Hold-confirm-report: a seeded crowd (buyers who pay, abandoners whose holds expire, bots
/// that hit the per-customer rate limit, latecomers who find it sold out) through the real
/// service with 2-second holds, stopped cleanly; then `dropgen inventory report`'s figures
/// against the ones this test computes from its own record of what it did.
#[test]
fn the_report_of_a_simulated_crowd_gives_the_figures_the_crowd_counted() {
    let setup = Setup::new(20, Some(2));
    let starts_at = time::OffsetDateTime::now_utc() - time::Duration::seconds(2);
    let started = starts_at.format(&time::format_description::well_known::Rfc3339).unwrap();
    let catalog = json!({ "version": 1, "drops": { "launch": { "starts_at": started, "ends_at": null, "skus": {
        "A": { "stock": 20, "limit_per_customer": 2, "checkout_url": "https://shop.test/checkout?sku=A" } } } } });
    std::fs::write(setup.path("inventory.json"), catalog.to_string()).unwrap();
    let settings = std::fs::read_to_string(setup.path("inventory.yaml")).unwrap().replace(
        "holds_per_customer_per_minute: 1000000",
        "holds_per_customer_per_minute: 8\ntrust_forwarded_for: true\nhold_seconds: 2",
    );
    std::fs::write(setup.path("inventory.yaml"), settings).unwrap();
    let service = setup.start();
    let (sent, last_confirm) = runtime().block_on(crowd(&service.base));
    // SIGTERM: a clean stop, which appends the minute's observations.
    let pid = service.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let mut service = service;
    assert!(service.child.wait().unwrap().success());

    let report = |args: &[&str]| {
        let mut all = vec!["inventory", "report", "launch", "--database", "inventory.db"];
        all.extend_from_slice(args);
        let run = run_with_env(setup.dir.path(), &all, &[]);
        assert!(!run.stderr().contains("panicked"), "{}", run.stderr());
        run
    };
    let json_text = report(&["--format", "json"]).success().stdout();
    assert_eq!(report(&["--format", "json"]).stdout(), json_text, "the same log, the same bytes");
    let figures: Value = serde_json::from_str(&json_text).unwrap();
    check_crowd_figures(&figures, &sent, starts_at, last_confirm);

    report(&["--out", "report.html"]).success();
    let page = std::fs::read_to_string(setup.path("report.html")).unwrap();
    report(&["--out", "again.html"]).success();
    assert_eq!(std::fs::read_to_string(setup.path("again.html")).unwrap(), page);
    for (name, value) in [
        ("first_minutes_checkout_rate", &figures["sell_through"]["first_minutes_checkout_rate"]),
        ("abandonment_share", &figures["abandonment"]["share"]),
        ("top_1pct_address_share", &figures["fairness"]["top_1pct_address_share"]),
    ] {
        let attribute = format!("data-figure=\"{name}\" data-value=\"{value}\"");
        assert!(page.contains(&attribute), "{attribute}");
    }
    // Bad input: a clear error, no panic.
    let unknown =
        run_with_env(setup.dir.path(), &["inventory", "report", "other", "--database", "inventory.db"], &[]);
    unknown.failure(2);
    assert!(unknown.stderr().contains("no events for drop `other`") && unknown.stderr().contains("`launch`"));
    let missing =
        run_with_env(setup.dir.path(), &["inventory", "report", "launch", "--database", "gone.db"], &[]);
    missing.failure(2);
    assert!(missing.stderr().contains("gone.db") && missing.stderr().contains("no such database"));
    watch_until_interrupted(&setup);
}

/// The crowd, one request at a time (so the test knows the order the service saw): returns
/// every hold request's outcome, and when the last confirm (the sell-out) was sent and
/// answered.
async fn crowd(base: &str) -> (Vec<Sent>, (time::OffsetDateTime, time::OffsetDateTime)) {
    let client = client();
    let mut rng = fastrand::Rng::with_seed(26);
    let mut sent = Vec::new();
    let mut last_confirm = (time::OffsetDateTime::UNIX_EPOCH, time::OffsetDateTime::UNIX_EPOCH);
    // One client address per customer, in the order they first come.
    let mut addresses = BTreeMap::new();
    let address = |addresses: &mut BTreeMap<String, usize>, customer: &str| {
        let next = addresses.len() + 1;
        *addresses.entry(customer.to_owned()).or_insert(next)
    };
    // Wave 1, shuffled: 8 buyers, 6 abandoners, 3 bots sending 8 holds each (2 pass the
    // burst, 6 are rate-limited). 20 units: all held.
    let mut wave: Vec<(String, bool)> = (0..8).map(|n| (format!("buyer{n}"), true)).collect();
    wave.extend((0..6).map(|n| (format!("abandoner{n}"), false)));
    wave.extend((0..3).flat_map(|n| std::iter::repeat_n((format!("bot{n}"), false), 8)));
    rng.shuffle(&mut wave);
    // Wave 2, once the abandoned holds expired: 12 buyers take the 12 units back, then 3
    // latecomers find it sold out.
    let mut second: Vec<(String, bool)> = (8..20).map(|n| (format!("buyer{n}"), true)).collect();
    second.extend((0..3).map(|n| (format!("late{n}"), true)));
    for (round, people) in [wave, second].into_iter().enumerate() {
        if round == 1 {
            tokio::time::sleep(Duration::from_millis(3_500)).await;
        }
        for (n, (customer, pays)) in people.into_iter().enumerate() {
            let request = client
                .post(format!("{base}/drops/launch/holds"))
                .header("content-type", "application/json")
                .header("idempotency-key", format!("{customer}-{round}-{n}"))
                .header("cookie", format!("dropgen_customer={customer}"))
                .header("x-forwarded-for", format!("198.51.100.{}", address(&mut addresses, &customer)))
                .body(r#"{"sku": "A", "quantity": 1}"#);
            let answered = answer(request).await;
            let code = answered.body["code"].as_str().map(str::to_owned);
            sent.push(Sent { customer: customer.clone(), status: answered.status, code });
            if answered.status == 201 && pays {
                let hold_id = answered.body["hold_id"].as_str().unwrap().to_owned();
                let token = query(answered.body["checkout_url"].as_str().unwrap(), "token");
                let before = time::OffsetDateTime::now_utc();
                let confirm = client
                    .post(format!("{base}/holds/{hold_id}/confirm"))
                    .bearer_auth(SHOP_KEY)
                    .header("idempotency-key", format!("pay-{hold_id}"))
                    .json(&json!({ "token": token }));
                assert_eq!(answer(confirm).await.status, 200);
                last_confirm = (before, time::OffsetDateTime::now_utc());
            }
        }
    }
    for beacon in [
        json!({"drop": "launch", "event": "first_stock", "ms": 150}),
        json!({"drop": "launch", "event": "stock_error", "code": "timeout"}),
    ] {
        let request = client
            .post(format!("{base}/beacons"))
            .header("content-type", "text/plain")
            .body(beacon.to_string());
        assert_eq!(answer(request).await.status, 204);
    }
    // The second wave's holds are all paid: nothing left to expire.
    (sent, last_confirm)
}

fn check_crowd_figures(
    figures: &Value,
    sent: &[Sent],
    starts_at: time::OffsetDateTime,
    last_confirm: (time::OffsetDateTime, time::OffsetDateTime),
) {
    let created = sent.iter().filter(|s| s.status == 201).count() as u64;
    let confirmed = sent
        .iter()
        .filter(|s| s.status == 201 && !s.customer.starts_with("abandoner") && !s.customer.starts_with("bot"))
        .count() as u64;
    let refused = |code: &str| sent.iter().filter(|s| s.code.as_deref() == Some(code)).count() as u64;
    assert_eq!((created, confirmed, refused("rate_limited"), refused("sold_out")), (32, 20, 18, 3));
    // Sell-out: the last confirm, as the service timed it, lies between its sending and its answer.
    let seconds = figures["sell_through"]["time_to_sell_out_seconds"].as_i64().expect("sold out");
    let earliest = (last_confirm.0 - starts_at).whole_seconds() - 1;
    let latest = (last_confirm.1 - starts_at).whole_seconds() + 1;
    assert!((earliest..=latest).contains(&seconds), "{seconds} not in {earliest}..={latest}");
    // Everything happened in the first 5 minutes: every attempt counts.
    let attempts = created
        + refused("rate_limited")
        + refused("sold_out")
        + refused("limit_reached")
        + refused("not_live");
    let sell = &figures["sell_through"];
    assert_eq!(
        (sell["first_minutes_attempts"].as_u64(), sell["first_minutes_confirmed"].as_u64()),
        (Some(attempts), Some(confirmed))
    );
    assert_eq!(sell["first_minutes_checkout_rate"].as_f64(), Some(confirmed as f64 / attempts as f64));
    // Every hold not paid for expired.
    assert_eq!(figures["abandonment"]["expired"].as_u64(), Some(created - confirmed));
    assert_eq!(figures["abandonment"]["share"].as_f64(), Some((created - confirmed) as f64 / created as f64));
    // Top 1 %: fewer than 100 customers (and addresses, one each), so the one with most holds.
    let mut by_customer: BTreeMap<&str, u64> = BTreeMap::new();
    for s in sent.iter().filter(|s| s.status == 201) {
        *by_customer.entry(&s.customer).or_default() += 1;
    }
    let top = *by_customer.values().max().unwrap() as f64 / created as f64;
    let fairness = &figures["fairness"];
    assert_eq!(fairness["top_1pct_customer_share"].as_f64(), Some(top));
    assert_eq!(fairness["top_1pct_address_share"].as_f64(), Some(top));
    assert_eq!(
        (fairness["customers"].as_u64(), fairness["addresses"].as_u64()),
        (Some(by_customer.len() as u64), Some(by_customer.len() as u64))
    );
    let bots: Vec<(&str, u64)> = fairness["repeat_rate_limited_customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["key"].as_str().unwrap(), c["count"].as_u64().unwrap()))
        .collect();
    assert_eq!(bots, vec![("bot0", 6), ("bot1", 6), ("bot2", 6)]);
    assert_eq!(fairness["repeat_rate_limited_addresses"].as_array().unwrap().len(), 3);
    assert_eq!(fairness["refusals"]["rate_limited"].as_u64(), Some(18));
    let service = &figures["service"];
    assert_eq!(service["hold_requests"].as_u64(), Some(sent.len() as u64));
    assert_eq!(service["errors"].as_u64(), Some(0));
    assert_eq!(service["beacon_failures"]["stock_error:timeout"].as_u64(), Some(1));
    assert_eq!(service["first_stock_reports"].as_u64(), Some(1));
    assert_eq!(figures["missing"].as_array().unwrap().len(), 0, "{}", figures["missing"]);
}

/// `--watch` writes the page, then stops on Ctrl-C (SIGINT) with a success.
fn watch_until_interrupted(setup: &Setup) {
    let child = Command::new(env!("CARGO_BIN_EXE_dropgen"))
        .args([
            "inventory",
            "report",
            "launch",
            "--database",
            "inventory.db",
            "--out",
            "live.html",
            "--watch",
            "1",
        ])
        .current_dir(setup.dir.path())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let live = setup.path("live.html");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !live.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(std::fs::read_to_string(&live).unwrap().contains("<meta http-equiv=\"refresh\" content=\"1\">"));
    assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success() && stderr.contains("stopped watching"), "{stderr}");
}
