//! Entry points for the benchmarks in `benches/`; not part of dropgen's interface. They run
//! library internals that no command exposes on their own, such as the inventory store
//! without its HTTP layer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use crate::inventory::catalog::{Catalog, CatalogDrop, CatalogSku};
use crate::inventory::machine::{Command, Reply};
use crate::inventory::store::{Backend, RedisTarget, Store, Unobserved};

/// Where [`inventory_store_holds`] keeps the state.
#[derive(Clone, Debug)]
pub enum BenchStore {
    Memory,
    /// The embedded SQLite log at this path.
    Embedded(std::path::PathBuf),
    /// A Redis server or Cluster node at this URL, its keys under this prefix.
    Redis {
        url: String,
        prefix: String,
    },
}

/// What one run of [`inventory_store_holds`] measured.
#[derive(Debug)]
pub struct StoreRun {
    pub requests: usize,
    pub created: usize,
    pub elapsed: Duration,
    pub p50: Duration,
    pub p99: Duration,
}

/// `requests` holds of one unit each, from `concurrency` tasks at once, racing for `units`
/// units of one SKU in a store.
pub fn inventory_store_holds(
    store: &BenchStore,
    units: u32,
    requests: usize,
    concurrency: usize,
) -> StoreRun {
    let backend = match store {
        BenchStore::Memory => Backend::Memory,
        BenchStore::Embedded(path) => Backend::Embedded(path.clone()),
        BenchStore::Redis { url, prefix } => {
            Backend::Redis(RedisTarget { urls: vec![url.clone()], prefix: prefix.clone() })
        }
    };
    let now = OffsetDateTime::now_utc();
    let sku = CatalogSku {
        stock: Some(units),
        limit_per_customer: None,
        checkout_url: "https://shop.example/c".into(),
    };
    let drop = CatalogDrop {
        starts_at: now - time::Duration::hours(1),
        ends_at: None,
        skus: [("S".to_owned(), sku)].into(),
    };
    let catalog = Catalog { version: 1, drops: [("bench".to_owned(), drop)].into() };
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(async {
        let (store, _) =
            Store::open(&backend, Some(&catalog), time::Duration::minutes(10), Arc::new(Unobserved), now)
                .await
                .expect("the store opens");
        let store = Arc::new(store);
        let started = Instant::now();
        let per_task = requests.div_ceil(concurrency.max(1));
        let tasks: Vec<_> = (0..concurrency.max(1))
            .map(|task| {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    let mut latencies = Vec::with_capacity(per_task);
                    let mut created = 0;
                    for n in 0..per_task {
                        let command = Command::Hold {
                            drop: "bench".into(),
                            sku: "S".into(),
                            quantity: 1,
                            customer: format!("c{}", (task * per_task + n) % 5000),
                            key: format!("t{task}-{n}"),
                        };
                        let sent = Instant::now();
                        if let Ok(Reply::Held { .. }) =
                            store.execute(command, OffsetDateTime::now_utc()).await
                        {
                            created += 1;
                        }
                        latencies.push(sent.elapsed());
                    }
                    (created, latencies)
                })
            })
            .collect();
        let mut created = 0;
        let mut latencies = Vec::with_capacity(requests);
        for task in tasks {
            let (made, times) = task.await.expect("a task");
            created += made;
            latencies.extend(times);
        }
        let elapsed = started.elapsed();
        latencies.sort_unstable();
        let at = |q: f64| {
            latencies
                .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
                .copied()
                .unwrap_or_default()
        };
        StoreRun { requests: latencies.len(), created, elapsed, p50: at(0.50), p99: at(0.99) }
    })
}
