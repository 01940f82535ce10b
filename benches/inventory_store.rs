//! The inventory store alone, without HTTP: holds per second through the single writer, in
//! memory and on the embedded SQLite log (one fsync per batch), racing for 10,000 units.
//! `bench/inventory.sh` prints these beside the HTTP service's figures from the same run.

use dropgen::benchmarks::inventory_store_holds;

fn main() {
    const UNITS: u32 = 10_000;
    const REQUESTS: usize = 40_000;
    println!(
        "{:<10} {:>12} {:>12} {:>10} {:>10} {:>9}",
        "backend", "concurrency", "holds/s", "p50 ms", "p99 ms", "created"
    );
    for concurrency in [64, 256, 1024] {
        for embedded in [false, true] {
            let folder = tempfile::tempdir().expect("a temporary folder");
            let database = folder.path().join("inventory.db");
            let run =
                inventory_store_holds(embedded.then_some(database.as_path()), UNITS, REQUESTS, concurrency);
            println!(
                "{:<10} {:>12} {:>12.0} {:>10.2} {:>10.2} {:>9}",
                if embedded { "embedded" } else { "memory" },
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
