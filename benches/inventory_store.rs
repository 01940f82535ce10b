//! The inventory store alone, without HTTP: holds per second racing for 10,000 units, in
//! memory, on the embedded SQLite log (one fsync per batch) and, when `DROPGEN_BENCH_REDIS`
//! gives a server's URL, on Redis (one script call per hold). `bench/inventory.sh` prints
//! these beside the HTTP service's figures from the same run.

use dropgen::benchmarks::{BenchStore, inventory_store_holds};

fn main() {
    const UNITS: u32 = 10_000;
    const REQUESTS: usize = 40_000;
    let redis = std::env::var("DROPGEN_BENCH_REDIS").ok().filter(|url| !url.is_empty());
    println!(
        "{:<10} {:>12} {:>12} {:>10} {:>10} {:>9}",
        "backend", "concurrency", "holds/s", "p50 ms", "p99 ms", "created"
    );
    for concurrency in [64, 256, 1024] {
        let folder = tempfile::tempdir().expect("a temporary folder");
        let mut stores = vec![
            ("memory", BenchStore::Memory),
            ("embedded", BenchStore::Embedded(folder.path().join("inventory.db"))),
        ];
        if let Some(url) = &redis {
            // A fresh prefix per run: each starts from a catalog of its own.
            let prefix = format!("dropgen-bench-{}-{concurrency}:", std::process::id());
            stores.push(("redis", BenchStore::Redis { url: url.clone(), prefix }));
        }
        for (name, store) in stores {
            let run = inventory_store_holds(&store, UNITS, REQUESTS, concurrency);
            println!(
                "{:<10} {:>12} {:>12.0} {:>10.2} {:>10.2} {:>9}",
                name,
                concurrency,
                run.requests as f64 / run.elapsed.as_secs_f64(),
                run.p50.as_secs_f64() * 1e3,
                run.p99.as_secs_f64() * 1e3,
                run.created,
            );
            assert_eq!(run.created, UNITS as usize, "every unit held once, none more");
        }
    }
}
