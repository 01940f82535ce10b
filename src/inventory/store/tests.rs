//! Each backend against the pure machine as its oracle: random command sequences (holds with
//! reused keys, confirms with right and wrong tokens, releases, the clock moving past expiries,
//! operator controls, stock changes, syncs, and for the durable stores, closing and reopening
//! them) must get the same replies and leave the same state, step by step. The same suite runs
//! on memory, the embedded SQLite log, one real `redis-server` and a real three-node Redis
//! Cluster, all started here.

use std::collections::BTreeMap;

use time::macros::datetime;

use super::*;
use crate::inventory::catalog::{CatalogDrop, CatalogSku};
use crate::inventory::machine::{Control, HoldState, Inventory};

use crate::inventory::redis_server::{self, RedisCluster, RedisServer};

const START: OffsetDateTime = datetime!(2026-11-20 15:00 UTC);
const TTL: Duration = Duration::minutes(10);

fn catalog(stock_a: u32, stock_b: u32) -> Catalog {
    let sku = |stock, limit_per_customer| CatalogSku {
        stock: Some(stock),
        limit_per_customer,
        checkout_url: "https://shop.test/checkout".to_owned(),
    };
    let skus =
        BTreeMap::from([("A".to_owned(), sku(stock_a, Some(3))), ("B".to_owned(), sku(stock_b, None))]);
    let drop = CatalogDrop { starts_at: START, ends_at: Some(START + Duration::hours(6)), skus };
    Catalog { version: 1, drops: BTreeMap::from([("launch".to_owned(), drop)]) }
}

async fn open(backend: &Backend, catalog: Option<&Catalog>, now: OffsetDateTime) -> Store {
    Store::open(backend, catalog, TTL, Arc::new(Unobserved), now).await.unwrap().0
}

/// A Redis backend whose keys are apart from every other test's on the same server.
fn redis(urls: Vec<String>, name: &str) -> Backend {
    Backend::Redis(RedisTarget { urls, prefix: format!("test-{name}:") })
}

/// A random command, with small pools of customers, keys and holds so that replays,
/// conflicts, limits and sell-outs happen often.
fn command(rng: &mut fastrand::Rng, holds_made: usize) -> Command {
    let hold_id = |rng: &mut fastrand::Rng| format!("h_launch_{}", rng.usize(1..holds_made + 2));
    match rng.u8(0..100) {
        0..55 => Command::Hold {
            drop: if rng.u8(0..50) == 0 { "nope".into() } else { "launch".into() },
            sku: ["A", "B", "A", "B", "Z"][rng.usize(0..5)].into(),
            quantity: rng.u32(0..4),
            customer: format!("c{}", rng.u8(0..6)),
            key: format!("k{}", rng.u8(0..40)),
        },
        55..70 => {
            let hold = hold_id(rng);
            let token_id = if rng.u8(0..10) == 0 { "h_launch_0".to_owned() } else { hold.clone() };
            Command::Confirm { hold, token_id, key: format!("p{}", rng.u8(0..3)) }
        }
        70..80 => Command::Release { hold: hold_id(rng) },
        80..86 => {
            let control =
                [Control::Scheduled, Control::Open, Control::Paused, Control::Delayed, Control::Ended]
                    [rng.usize(0..5)];
            Command::Control { drop: "launch".into(), control }
        }
        86..93 => Command::SetStock {
            drop: "launch".into(),
            sku: ["A", "B"][rng.usize(0..2)].into(),
            stock: rng.u32(0..12),
        },
        _ => Command::Sync { catalog: catalog(rng.u32(0..12), rng.u32(0..12)) },
    }
}

async fn run_against_oracle(backend: Backend, seed: u64, steps: usize) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut now = START + Duration::minutes(1);
    let mut oracle = Inventory::default();
    oracle.execute(&Command::Sync { catalog: catalog(8, 8) }, now, TTL).0.unwrap();
    let mut store = open(&backend, Some(&catalog(8, 8)), now).await;
    let mut holds_made = 0;
    for step in 0..steps {
        if rng.u8(0..10) == 0 {
            // Past some expiries, now and then.
            now += Duration::seconds(rng.i64(0..400));
        }
        if backend != Backend::Memory && rng.u8(0..25) == 0 {
            drop(store);
            store = open(&backend, None, now).await;
        }
        let command = command(&mut rng, holds_made);
        let expected = oracle.execute(&command, now, TTL).0;
        let got = store.execute(command.clone(), now).await.map_err(|err| match err {
            StoreError::Refused(refusal) => refusal,
            StoreError::Unavailable(reason) => panic!("step {step}: unavailable: {reason}"),
        });
        assert_eq!(got, expected, "seed {seed}, step {step}: {command:?}");
        if let Ok(Reply::Held { replayed: false, .. }) = got {
            holds_made += 1;
        }
        // A refusal is answered before its batch is published; a read through the queue
        // waits for that batch, so the published stock is then this step's.
        let state = store.inventory().await;
        assert_eq!(store.stock("launch", now), oracle.stock("launch", now), "seed {seed}, step {step}");
        if step % 50 == 0 {
            assert_eq!(state, oracle, "seed {seed}, step {step}: state");
        }
    }
    assert_eq!(store.inventory().await, oracle, "seed {seed}: final state");
    if backend != Backend::Memory {
        drop(store);
        let reopened = open(&backend, None, now).await;
        assert_eq!(reopened.inventory().await, oracle, "seed {seed}: after a reopen");
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

#[test]
fn the_memory_store_agrees_with_the_machine() {
    runtime().block_on(async {
        for seed in 0..20 {
            run_against_oracle(Backend::Memory, seed, 300).await;
        }
    });
}

#[test]
fn the_embedded_store_agrees_with_the_machine_across_reopens() {
    let folder = tempfile::tempdir().unwrap();
    runtime().block_on(async {
        for seed in 0..8 {
            let path = folder.path().join(format!("inventory-{seed}.db"));
            run_against_oracle(Backend::Embedded(path), seed, 300).await;
        }
    });
}

#[test]
fn the_redis_store_agrees_with_the_machine_across_reconnects() {
    if !redis_server::available() {
        return;
    }
    let server = RedisServer::start();
    runtime().block_on(async {
        for seed in 0..8 {
            run_against_oracle(redis(vec![server.url()], &format!("oracle-{seed}")), seed, 300).await;
        }
    });
}

#[test]
fn the_redis_cluster_store_agrees_with_the_machine() {
    if !redis_server::available() {
        return;
    }
    let cluster = RedisCluster::start();
    runtime().block_on(async {
        for seed in 0..4 {
            // Seeded through a different node each time: any node leads to the drop's slot.
            let seeds = vec![cluster.urls()[seed as usize % 3].clone()];
            run_against_oracle(redis(seeds, &format!("cluster-{seed}")), seed, 200).await;
        }
    });
}

#[test]
fn concurrent_holds_never_oversell_or_pass_a_limit() {
    let folder = tempfile::tempdir().unwrap();
    race_for_the_last_units(Backend::Embedded(folder.path().join("inventory.db")));
}

#[test]
fn concurrent_holds_on_redis_never_oversell_or_pass_a_limit() {
    if !redis_server::available() {
        return;
    }
    let server = RedisServer::start();
    race_for_the_last_units(redis(vec![server.url()], "race"));
}

/// 300 clients, three attempts each, for 50 units with a limit of 3 per customer.
fn race_for_the_last_units(backend: Backend) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let now = START + Duration::minutes(1);
        let store = Arc::new(open(&backend, Some(&catalog(50, 50)), now).await);
        let mut tasks = Vec::new();
        for client in 0..300 {
            let store = Arc::clone(&store);
            tasks.push(tokio::spawn(async move {
                let mut won = 0;
                for attempt in 0..3 {
                    let command = Command::Hold {
                        drop: "launch".into(),
                        sku: "A".into(),
                        quantity: 1,
                        customer: format!("c{}", client % 40),
                        key: format!("k{client}-{attempt}"),
                    };
                    if let Ok(Reply::Held { .. }) = store.execute(command, now).await {
                        won += 1;
                    }
                }
                won
            }));
        }
        let mut won = 0;
        for task in tasks {
            won += task.await.unwrap();
        }
        let inventory = store.inventory().await;
        let counts = inventory.counts("launch", "A").unwrap();
        assert_eq!(won, 50, "every unit is held once");
        assert_eq!((counts.held, counts.available()), (50, 0));
        for customer in 0..40 {
            assert!(inventory.taken("launch", &format!("c{customer}"), "A") <= 3);
        }
    });
}

/// Forty holds reach their expiry while the shop confirms them: one side confirms each a
/// millisecond before it expires, the other expires what is due, at once. Whichever wins,
/// each hold ends confirmed or expired, never both, and the confirm's answer says which.
async fn confirms_race_the_expiry(confirming: &Store, expiring: &Store) {
    let now = START + Duration::minutes(1);
    let mut holds = Vec::new();
    for n in 0..40 {
        let command = Command::Hold {
            drop: "launch".into(),
            sku: "B".into(),
            quantity: 1,
            customer: format!("c{n}"),
            key: format!("k{n}"),
        };
        match confirming.execute(command, now).await {
            Ok(Reply::Held { hold, .. }) => holds.push(hold.hold_id),
            other => panic!("hold {n}: {other:?}"),
        }
    }
    // The expiry starts halfway through the confirms, which go on meanwhile.
    let halfway = tokio::sync::Notify::new();
    let confirms = async {
        let mut answers = Vec::new();
        for (n, hold) in holds.iter().enumerate() {
            if n == holds.len() / 2 {
                halfway.notify_one();
            }
            let command = Command::Confirm { hold: hold.clone(), token_id: hold.clone(), key: "p".into() };
            answers.push(confirming.execute(command, now + TTL - Duration::milliseconds(1)).await);
        }
        answers
    };
    let expiry = async {
        halfway.notified().await;
        expiring.expire(now + TTL).await;
    };
    let (answers, ()) = tokio::join!(confirms, expiry);
    let mut sold = 0;
    for (hold, answer) in holds.iter().zip(answers) {
        let state = expiring.read_hold(hold).await.unwrap().unwrap().state;
        match answer {
            Ok(Reply::Hold(view)) => {
                assert_eq!((view.state, state), (HoldState::Confirmed, HoldState::Confirmed), "{hold}");
                sold += 1;
            }
            Err(StoreError::Refused(Refusal::HoldExpired)) => assert_eq!(state, HoldState::Expired, "{hold}"),
            other => panic!("{hold}: {other:?}"),
        }
    }
    let counts = expiring.current("launch").await.unwrap().unwrap().skus["B"].clone();
    assert!(sold as usize >= holds.len() / 2, "the first half is confirmed before the expiry starts");
    assert_eq!((counts.held, counts.sold, counts.available()), (0, sold, 50 - sold));
}

#[test]
fn a_confirm_racing_the_expiry_ends_in_exactly_one_state() {
    let folder = tempfile::tempdir().unwrap();
    let backend = Backend::Embedded(folder.path().join("inventory.db"));
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let store = open(&backend, Some(&catalog(50, 50)), START).await;
        confirms_race_the_expiry(&store, &store).await;
    });
}

#[test]
fn on_redis_a_confirm_racing_another_instances_expiry_ends_in_exactly_one_state() {
    if !redis_server::available() {
        return;
    }
    let server = RedisServer::start();
    let backend = redis(vec![server.url()], "expiry-race");
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let first = open(&backend, Some(&catalog(50, 50)), START).await;
        let second = open(&backend, None, START).await;
        confirms_race_the_expiry(&first, &second).await;
    });
}
