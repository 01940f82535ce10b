//! Each figure against the same figure computed another way: a seeded crowd run through the
//! real state machine, keeping its own record of every request, checked against the report
//! of the events the machine wrote. Then the readers on bad logs, the page's promises, and the
//! schema in `docs/`.

use std::collections::{BTreeMap, HashMap};

use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use super::figures::{Tally, quantile};
use super::*;
use crate::inventory::catalog::{Catalog, CatalogDrop, CatalogSku};
use crate::inventory::log::EventLog;
use crate::inventory::machine::{Command, Control, Event, Inventory, Refusal, Reply};
use crate::inventory::observation::{FIRST_STOCK_BOUNDS_MS, LATENCY_BOUNDS_US, Observation, bucket};

const DROP: &str = "launch";
const TTL: Duration = Duration::minutes(5);

fn start() -> OffsetDateTime {
    datetime!(2026-11-20 15:00:17 UTC)
}

fn catalog() -> Catalog {
    let sku = |stock, limit| CatalogSku {
        stock: Some(stock),
        limit_per_customer: limit,
        checkout_url: "https://shop.test/c".into(),
    };
    let drop = CatalogDrop {
        starts_at: start(),
        ends_at: Some(start() + Duration::minutes(30)),
        skus: [("A".to_owned(), sku(40, Some(2))), ("B".to_owned(), sku(10, None))].into(),
    };
    Catalog { version: 1, drops: [(DROP.to_owned(), drop)].into() }
}

/// What the simulated crowd did, as it recorded it itself.
#[derive(Default)]
struct Record {
    /// (minute, outcome code: `created` or the refusal's) of every hold request.
    requests: Vec<(i64, String)>,
    /// Hold id → (minute created, customer).
    created: BTreeMap<String, (i64, String)>,
    confirmed: Vec<String>,
    abandoned: Vec<String>,
    latencies_us: Vec<u64>,
    rate_limited: HashMap<String, u64>,
    first_stock_ms: Vec<u64>,
    stock_errors: u64,
}

/// A crowd of buyers (who pay), abandoners (who never do), bots (rate-limited, never seen by
/// the machine) and an operator's pause, through the machine; the observations built from
/// the crowd's own record, as the service would count them.
fn simulate(seed: u64) -> (Vec<Event>, Vec<Observation>, Record) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut machine = Inventory::default();
    let mut events = Vec::new();
    let mut record = Record::default();
    let (_, synced) =
        machine.execute(&Command::Sync { catalog: catalog() }, start() - Duration::hours(1), TTL);
    events.extend(synced);
    // (time, who, what): what 0 holds, 1 pauses, 2 resumes.
    let mut plan: Vec<(OffsetDateTime, usize, u8)> =
        (0..160).map(|who| (start() + Duration::milliseconds(rng.i64(-20_000..720_000)), who, 0)).collect();
    plan.push((start() + Duration::minutes(3), 0, 1));
    plan.push((start() + Duration::minutes(4), 0, 2));
    plan.sort();
    let mut pending: Vec<(OffsetDateTime, String)> = Vec::new();
    for (at, who, what) in plan {
        settle(&mut machine, &mut events, &mut pending, &mut record, at);
        let control = match what {
            1 => Some(Control::Paused),
            2 => Some(Control::Scheduled),
            _ => None,
        };
        if let Some(control) = control {
            let (_, made) = machine.execute(&Command::Control { drop: DROP.into(), control }, at, TTL);
            events.extend(made);
            continue;
        }
        let minute = at.unix_timestamp().div_euclid(60);
        record.latencies_us.push(rng.u64(100..40_000));
        record.first_stock_ms.push(rng.u64(50..3_000));
        if who % 9 == 0 {
            record.stock_errors += 1;
        }
        // Bots: refused before the machine, as the rate limiter does.
        if who % 10 == 7 {
            record.requests.push((minute, "rate_limited".into()));
            *record.rate_limited.entry(format!("bot{}", who % 3)).or_default() += 1;
            continue;
        }
        let customer = format!("c{}", who % 70);
        let sku = if rng.bool() { "A" } else { "B" };
        let command = Command::Hold {
            drop: DROP.into(),
            sku: sku.into(),
            quantity: rng.u32(1..3),
            customer: customer.clone(),
            key: format!("k{who}"),
        };
        let (reply, made) = machine.execute(&command, at, TTL);
        events.extend(made);
        match reply {
            Ok(Reply::Held { hold, .. }) => {
                record.requests.push((minute, "created".into()));
                record.created.insert(hold.hold_id.clone(), (minute, customer));
                if who % 4 == 0 {
                    record.abandoned.push(hold.hold_id);
                } else {
                    pending.push((at + Duration::seconds(rng.i64(5..200)), hold.hold_id));
                }
            }
            Ok(_) => unreachable!(),
            Err(refusal) => record.requests.push((minute, refusal.code().0.to_owned())),
        }
    }
    settle(&mut machine, &mut events, &mut pending, &mut record, start() + Duration::hours(1));
    let observations = observe(&record);
    (events, observations, record)
}

/// Confirms the holds due by `now`, in time order, with their expiries.
fn settle(
    machine: &mut Inventory,
    events: &mut Vec<Event>,
    pending: &mut Vec<(OffsetDateTime, String)>,
    record: &mut Record,
    now: OffsetDateTime,
) {
    pending.sort();
    while pending.first().is_some_and(|(at, _)| *at <= now) {
        let (at, hold) = pending.remove(0);
        let command =
            Command::Confirm { hold: hold.clone(), token_id: hold.clone(), key: format!("confirm-{hold}") };
        let (reply, made) = machine.execute(&command, at, TTL);
        events.extend(made);
        if reply.is_ok() {
            record.confirmed.push(hold);
        }
    }
    events.extend(machine.expire(now));
}

/// The crowd's own record as per-minute observation records (one minute, one record).
fn observe(record: &Record) -> Vec<Observation> {
    let mut minutes: BTreeMap<i64, Observation> = BTreeMap::new();
    let new = |minute: i64| Observation {
        drop: DROP.into(),
        minute: OffsetDateTime::from_unix_timestamp(minute * 60).unwrap(),
        hold_latency: vec![0; LATENCY_BOUNDS_US.len() + 1],
        first_stock: vec![0; FIRST_STOCK_BOUNDS_MS.len() + 1],
        ..Observation::default()
    };
    for (index, (minute, code)) in record.requests.iter().enumerate() {
        let observation = minutes.entry(*minute).or_insert_with(|| new(*minute));
        observation.hold_latency[bucket(&LATENCY_BOUNDS_US, record.latencies_us[index])] += 1;
        observation.first_stock[bucket(&FIRST_STOCK_BOUNDS_MS, record.first_stock_ms[index])] += 1;
        let address = format!("addr{}", index % 50);
        match code.as_str() {
            "created" => *observation.holds_by_address.entry(address).or_default() += 1,
            refusal => *observation.refusals.entry(refusal.to_owned()).or_default() += 1,
        }
    }
    let first = *minutes.keys().next().unwrap();
    let observation = minutes.get_mut(&first).unwrap();
    for (bot, count) in &record.rate_limited {
        observation.rate_limited_customers.insert(bot.clone(), *count);
    }
    observation.beacon_failures.insert("stock_error:timeout".into(), record.stock_errors);
    observation.errors = 2;
    minutes.into_values().collect()
}

fn tally(events: &[Event], observations: &[Observation]) -> Figures {
    let mut tally = Tally::new(DROP);
    events.iter().for_each(|event| tally.event(event));
    observations.iter().for_each(|record| tally.observation(record));
    tally.finish()
}

/// The first moment the machine, fed the events one by one, had every SKU sold out.
fn sold_out_by_the_machine(events: &[Event]) -> Option<OffsetDateTime> {
    let mut machine = Inventory::default();
    events.iter().find_map(|event| {
        machine.apply(event);
        let all = ["A", "B"].iter().all(|sku| machine.counts(DROP, sku).is_some_and(|c| c.sold >= c.stock));
        all.then(|| event.at())
    })
}

#[test]
fn sell_through_figures_agree_with_the_machine_and_the_crowds_record() {
    for seed in 1..=8 {
        let (events, observations, record) = simulate(seed);
        let figures = tally(&events, &observations);
        let sold_out = sold_out_by_the_machine(&events);
        assert_eq!(figures.sell_through.sold_out_at, sold_out.map(crate::rfc3339::format), "seed {seed}");
        let expected_seconds = sold_out.map(|at| (at - start()).whole_seconds());
        assert_eq!(figures.sell_through.time_to_sell_out_seconds, expected_seconds, "seed {seed}");
        // The first 5 minutes: the start's minute and the 4 after it.
        let first = start().unix_timestamp().div_euclid(60);
        let early = |minute: i64| (first..first + 5).contains(&minute);
        let attempts = record.requests.iter().filter(|(minute, _)| early(*minute)).count() as u64;
        let confirmed = record.confirmed.iter().filter(|hold| early(record.created[*hold].0)).count() as u64;
        let sell = &figures.sell_through;
        assert_eq!(
            (sell.first_minutes_attempts, sell.first_minutes_confirmed),
            (attempts, confirmed),
            "seed {seed}"
        );
        assert_eq!(sell.first_minutes_checkout_rate, Some(confirmed as f64 / attempts as f64));
        let mut machine = Inventory::default();
        events.iter().for_each(|event| machine.apply(event));
        for sku in &figures.skus {
            let counts = machine.counts(DROP, &sku.sku).unwrap();
            assert_eq!((sku.sold, sku.held), (u64::from(counts.sold), u64::from(counts.held)), "seed {seed}");
            let last = figures.minutes.last().unwrap();
            assert_eq!((last.sold[&sku.sku], last.held[&sku.sku]), (sku.sold, sku.held));
        }
        assert_eq!(sell.units_sold, figures.skus.iter().map(|s| s.sold).sum::<u64>());
    }
}

#[test]
fn abandonment_and_fairness_agree_with_the_crowds_record() {
    for seed in 1..=8 {
        let (events, observations, record) = simulate(seed);
        let figures = tally(&events, &observations);
        let created = record.created.len() as u64;
        let abandon = &figures.abandonment;
        assert_eq!(
            (abandon.holds_created, abandon.expired),
            (created, record.abandoned.len() as u64),
            "seed {seed}"
        );
        assert_eq!(abandon.confirmed, record.confirmed.len() as u64);
        assert_eq!(abandon.share, Some(record.abandoned.len() as f64 / created as f64));
        let per_minute: u64 = figures.minutes.iter().map(|m| m.expired).sum();
        assert_eq!(per_minute, abandon.expired);
        // Top 1 %: with fewer than 101 customers, the one who holds most.
        let mut by_customer: HashMap<&str, u64> = HashMap::new();
        for (_, customer) in record.created.values() {
            *by_customer.entry(customer).or_default() += 1;
        }
        assert!(by_customer.len() <= 100);
        let top = *by_customer.values().max().unwrap() as f64 / created as f64;
        assert_eq!(figures.fairness.top_1pct_customer_share, Some(top), "seed {seed}");
        assert_eq!(figures.fairness.customers, by_customer.len() as u64);
        let bots: Vec<(String, u64)> = figures
            .fairness
            .repeat_rate_limited_customers
            .iter()
            .map(|counted| (counted.key.clone(), counted.count))
            .collect();
        let mut expected: Vec<(String, u64)> =
            record.rate_limited.iter().filter(|(_, n)| **n >= 3).map(|(k, n)| (k.clone(), *n)).collect();
        expected.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        assert_eq!(bots, expected, "seed {seed}");
        let refused: u64 = figures.fairness.refusals.values().sum();
        assert_eq!(refused, record.requests.iter().filter(|(_, code)| code != "created").count() as u64);
    }
}

/// The exact order statistic's bucket: what the histogram's estimate must be.
fn exact_bucket_bound(values: &[u64], bounds: &[u64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let rank = ((q * sorted.len() as f64).ceil() as usize).max(1);
    let value = sorted[rank - 1];
    bounds.get(bucket(bounds, value)).copied().unwrap_or(bounds[bounds.len() - 1] * 2) as f64
}

#[test]
fn latency_and_beacon_figures_agree_with_the_exact_order_statistics() {
    let (events, observations, record) = simulate(3);
    let figures = tally(&events, &observations);
    let service = &figures.service;
    let latency = &service.hold_latency_ms;
    for (q, got) in [(0.5, latency.p50), (0.95, latency.p95), (0.99, latency.p99)] {
        assert_eq!(
            got,
            Some(exact_bucket_bound(&record.latencies_us, &LATENCY_BOUNDS_US, q) / 1000.0),
            "{q}"
        );
    }
    let first_stock = exact_bucket_bound(&record.first_stock_ms, &FIRST_STOCK_BOUNDS_MS, 0.5);
    assert_eq!(service.first_stock_p50_ms, Some(first_stock));
    assert_eq!(service.hold_requests, record.requests.len() as u64);
    assert_eq!(service.beacon_failures["stock_error:timeout"], record.stock_errors);
    assert_eq!(service.errors, 2);
    assert_eq!(quantile(&[0, 0, 1], &[1, 2], 1.0, 0.5), Some(4.0), "past the last bound: twice it");
}

#[test]
fn a_minute_of_many_expiries_is_a_spike_against_the_drops_baseline() {
    let mut events = vec![];
    let mut hold = 0;
    let at = |minute: i64| start() + Duration::minutes(minute);
    // Minutes 0-5: one hold expires each; minute 6: nine.
    for (minute, count) in [(0, 1), (1, 1), (2, 1), (3, 1), (4, 1), (5, 1), (6, 9)] {
        for _ in 0..count {
            hold += 1;
            let id = format!("h_{DROP}_{hold}");
            events.push(Event::HoldCreated {
                at: at(minute) - Duration::seconds(10),
                drop: DROP.into(),
                hold: id.clone(),
                sku: "A".into(),
                quantity: 1,
                customer: format!("c{hold}"),
                key: format!("k{hold}"),
                expires_at: at(minute),
            });
            events.push(Event::HoldExpired { at: at(minute), drop: DROP.into(), hold: id });
        }
    }
    events.sort_by_key(Event::at);
    let figures = tally(&events, &[]);
    // Baseline: the median of 1, 1, 1, 1, 1, 1, 9; a spike is 5 or more (3 × 1 is less).
    assert_eq!(figures.abandonment.baseline_per_minute, 1);
    let spike = crate::rfc3339::format(at(6) - Duration::seconds(17));
    assert_eq!(figures.abandonment.spikes, vec![spike.clone()]);
    let flagged: Vec<&str> =
        figures.minutes.iter().filter(|m| m.abandonment_spike).map(|m| m.minute.as_str()).collect();
    assert_eq!(flagged, vec![spike.as_str()]);
    assert!(!figures.missing.is_empty(), "no sync and no observations are said");
}

#[test]
fn the_same_log_gives_byte_identical_reports_and_the_page_shows_the_jsons_numbers() {
    let (events, observations, _) = simulate(5);
    let figures = tally(&events, &observations);
    let again = tally(&events, &observations);
    for format in [Format::Html, Format::Json] {
        assert_eq!(render(&figures, format, None), render(&again, format, None));
    }
    let page = String::from_utf8(render(&figures, Format::Html, None)).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&render(&figures, Format::Json, None)).unwrap();
    for (name, value) in [
        ("first_minutes_checkout_rate", &json["sell_through"]["first_minutes_checkout_rate"]),
        ("time_to_sell_out_seconds", &json["sell_through"]["time_to_sell_out_seconds"]),
        ("abandonment_share", &json["abandonment"]["share"]),
        ("top_1pct_customer_share", &json["fairness"]["top_1pct_customer_share"]),
        ("errors", &json["service"]["errors"]),
    ] {
        let attribute = format!("data-figure=\"{name}\" data-value=\"{}\"", html::escape(&value.to_string()));
        assert!(page.contains(&attribute), "{attribute}");
    }
    let shown = html::percent(json["abandonment"]["share"].as_f64());
    assert!(page.contains(&shown), "{shown}");
    // Self-contained: nothing to fetch, and six charts, each with a title and a data table.
    for fetch in ["src=", "href=", "@import", "url("] {
        assert!(!page.contains(fetch), "{fetch}");
    }
    assert_eq!(page.matches("<svg ").count(), 6);
    assert_eq!(page.matches("role=\"img\" aria-labelledby=").count(), 6);
    assert_eq!(page.matches("<caption>").count(), 6);
    assert!(page.contains("Content-Security-Policy"));
}

fn database_with(events: &[Event], observations: &[Observation]) -> (tempfile::TempDir, std::path::PathBuf) {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("inventory.db");
    EventLog::open(&path).unwrap().append(events, observations).unwrap();
    (folder, path)
}

#[test]
fn a_report_read_from_sqlite_is_the_report_of_the_events() {
    let (events, observations, _) = simulate(2);
    let (_folder, path) = database_with(&events, &observations);
    let read = figures(&Backend::Embedded(path), DROP).unwrap();
    assert_eq!(read, tally(&events, &observations));
}

#[test]
fn bad_logs_give_a_clear_error_or_a_report_that_says_what_is_missing() {
    let folder = tempfile::tempdir().unwrap();
    let missing = folder.path().join("nope.db");
    let err = figures(&Backend::Embedded(missing), DROP).unwrap_err().to_string();
    assert!(err.contains("nope.db") && err.contains("no such database"), "{err}");
    let (_empty_folder, empty) = database_with(&[], &[]);
    let err = figures(&Backend::Embedded(empty), DROP).unwrap_err().to_string();
    assert!(err.contains("the event log is empty"), "{err}");
    let (events, observations, _) = simulate(4);
    let (_folder, path) = database_with(&events, &observations);
    let err = figures(&Backend::Embedded(path.clone()), "other").unwrap_err().to_string();
    assert!(err.contains("no events for drop `other`") && err.contains("`launch`"), "{err}");
    // A record cut mid-way: skipped, counted, and said.
    let connection = rusqlite::Connection::open(&path).unwrap();
    connection.execute("UPDATE events SET body = substr(body, 1, 30) WHERE seq = 5", []).unwrap();
    drop(connection);
    let figures_read = figures(&Backend::Embedded(path.clone()), DROP).unwrap();
    assert_eq!(figures_read.log.unreadable, 1);
    assert!(
        figures_read.missing.iter().any(|s| s.contains("could not be read")),
        "{:?}",
        figures_read.missing
    );
    // The file itself cut short: an error naming it, or a report; never a panic.
    let bytes = std::fs::read(&path).unwrap();
    for cut in [100, 4096 + 50, bytes.len() / 2] {
        let short = folder.path().join(format!("cut-{cut}.db"));
        std::fs::write(&short, &bytes[..cut]).unwrap();
        if let Err(err) = figures(&Backend::Embedded(short), DROP) {
            assert!(err.to_string().contains(&format!("cut-{cut}.db")), "{err}");
        }
    }
    // Not an inventory log at all.
    let other = folder.path().join("other.db");
    rusqlite::Connection::open(&other).unwrap().execute_batch("CREATE TABLE t (x)").unwrap();
    let err = figures(&Backend::Embedded(other), DROP).unwrap_err().to_string();
    assert!(err.contains("not an inventory event log"), "{err}");
}

#[test]
fn a_log_without_observations_reports_what_it_has_and_says_what_is_missing() {
    let (events, _, _) = simulate(6);
    let figures = tally(&events, &[]);
    assert!(figures.abandonment.share.is_some());
    assert_eq!(figures.service.hold_latency_ms.p50, None);
    assert!(figures.missing.iter().any(|s| s.starts_with("No observation records")), "{:?}", figures.missing);
    let page = String::from_utf8(render(&figures, Format::Html, None)).unwrap();
    assert!(page.contains("What the log is missing"));
}

/// `docs/inventory-report.schema.json` is the schema derived from [`Figures`]
/// (`DROPGEN_BLESS=1` rewrites it), and the JSON's keys are the schema's.
#[test]
fn docs_hold_the_reports_json_schema() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/inventory-report.schema.json");
    let text = schema_text();
    if std::env::var_os("DROPGEN_BLESS").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let wanted = std::fs::read_to_string(&path).unwrap_or_default();
    pretty_assertions::assert_eq!(text, wanted, "run with DROPGEN_BLESS=1 to write {}", path.display());
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    let (events, observations, _) = simulate(1);
    let json = serde_json::to_value(tally(&events, &observations)).unwrap();
    let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
    let properties: Vec<&String> = schema["properties"].as_object().unwrap().keys().collect();
    assert_eq!(keys, properties);
}

#[test]
fn refusals_the_machine_makes_are_the_codes_the_report_counts() {
    for code in ["sold_out", "limit_reached", "not_live"] {
        assert!(Refusal::from_code(code).is_some(), "{code}");
    }
}

/// The same commands, at the same (whole-millisecond) times, on the embedded store and on
/// Redis, with the same observation records: both logs give the same report. Reads the Redis
/// stream in pages smaller than it, and checks its observations are not folded as events.
#[test]
fn a_report_read_from_redis_is_the_report_of_the_same_drop_on_sqlite() {
    use crate::inventory::redis_server::{self, RedisServer};
    use crate::inventory::store::{RedisTarget, Store, Unobserved};
    use std::sync::Arc;
    if !redis_server::available() {
        return;
    }
    let server = RedisServer::start();
    let folder = tempfile::tempdir().unwrap();
    let backends = [
        Backend::Embedded(folder.path().join("inventory.db")),
        Backend::Redis(RedisTarget { urls: vec![server.url()], prefix: "report:".into() }),
    ];
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let mut reports = Vec::new();
    for backend in &backends {
        runtime.block_on(async {
            let opened = start() - Duration::minutes(1);
            let (store, _) =
                Store::open(backend, Some(&catalog()), TTL, Arc::new(Unobserved), opened).await.unwrap();
            for n in 0..40u32 {
                let at = start() + Duration::milliseconds(i64::from(n) * 7_250);
                let customer = format!("c{}", n % 9);
                let hold = Command::Hold {
                    drop: DROP.into(),
                    sku: ["A", "B"][n as usize % 2].into(),
                    quantity: 1,
                    customer,
                    key: format!("k{n}"),
                };
                if let Ok(Reply::Held { hold, .. }) = store.execute(hold, at).await
                    && n % 3 != 0
                {
                    let id = hold.hold_id;
                    let confirm =
                        Command::Confirm { hold: id.clone(), token_id: id.clone(), key: format!("p{n}") };
                    store.execute(confirm, at + Duration::seconds(2)).await.unwrap();
                }
            }
            let pause = Command::Control { drop: DROP.into(), control: Control::Paused };
            store.execute(pause, start() + Duration::minutes(6)).await.unwrap();
            store.expire(start() + Duration::minutes(20)).await;
            let (_, observations, _) = simulate(7);
            store.observe(observations).await;
        });
        reports.push(figures(backend, DROP).unwrap());
    }
    assert!(reports[0].log.events > 40 && reports[0].log.observations > 0, "{:?}", reports[0].log);
    assert!(reports[0].abandonment.expired > 0);
    pretty_assertions::assert_eq!(reports[0], reports[1]);
    let err = figures(&backends[1], "other").unwrap_err().to_string();
    assert!(err.contains("no events for drop `other`") && err.contains("`launch`"), "{err}");
}
