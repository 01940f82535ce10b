//! `/metrics` in the Prometheus text format (through `prometheus-client`): holds created,
//! refused by reason, expired (cart abandonment), confirmed and released; request latency per
//! route; the pages' beacons by kind; stock per SKU, read from the published snapshot at
//! scrape time.

use std::sync::Mutex;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use super::machine::Event;
use super::store::{Observer, Published};

type Labels = Vec<(&'static str, String)>;

/// Every metric the service keeps.
pub(crate) struct Metrics {
    registry: Mutex<Registry>,
    events: Family<Labels, Counter>,
    refusals: Family<Labels, Counter>,
    replays: Family<Labels, Counter>,
    latency: Family<Labels, Histogram>,
    beacons: Family<Labels, Counter>,
    stock: Family<Labels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("dropgen_inventory");
        let events = Family::<Labels, Counter>::default();
        registry.register(
            "events",
            "State changes by kind (hold_created, hold_confirmed, hold_released, hold_expired: holds never paid for, ...) and drop",
            events.clone(),
        );
        let refusals = Family::<Labels, Counter>::default();
        registry.register("refusals", "Requests refused, by route and problem code", refusals.clone());
        let replays = Family::<Labels, Counter>::default();
        registry.register(
            "replays",
            "Requests answered with the first answer to their Idempotency-Key (retries), by route",
            replays.clone(),
        );
        let latency = Family::<Labels, Histogram>::new_with_constructor(|| {
            // 0.25 ms to about 4 s.
            Histogram::new(exponential_buckets(0.000_25, 2.0, 15))
        });
        registry.register("request_duration_seconds", "Time to answer, by route", latency.clone());
        let beacons = Family::<Labels, Counter>::default();
        registry.register("beacons", "Telemetry beacons from the pages, by event and code", beacons.clone());
        let stock = Family::<Labels, Gauge>::default();
        registry.register("units", "Units per drop, SKU and state (available, held, sold)", stock.clone());
        Metrics { registry: Mutex::new(registry), events, refusals, replays, latency, beacons, stock }
    }
}

impl Metrics {
    pub(crate) fn refused(&self, route: &'static str, code: &str) {
        self.refusals.get_or_create(&vec![("route", route.to_owned()), ("code", code.to_owned())]).inc();
    }

    pub(crate) fn replayed(&self, route: &'static str) {
        self.replays.get_or_create(&vec![("route", route.to_owned())]).inc();
    }

    pub(crate) fn answered(&self, route: &'static str, seconds: f64) {
        self.latency.get_or_create(&vec![("route", route.to_owned())]).observe(seconds);
    }

    pub(crate) fn beacon(&self, event: &str, code: Option<&str>) {
        let labels = vec![("event", event.to_owned()), ("code", code.unwrap_or("").to_owned())];
        self.beacons.get_or_create(&labels).inc();
    }

    /// The text exposition, with the stock as published now.
    pub(crate) fn render(&self, published: &Published) -> String {
        for (drop, snapshot) in published {
            for (sku, counts) in &snapshot.skus {
                let gauge = |state: &str, value: u32| {
                    let labels =
                        vec![("drop", drop.clone()), ("sku", sku.clone()), ("state", state.to_owned())];
                    self.stock.get_or_create(&labels).set(i64::from(value));
                };
                gauge("available", counts.available());
                gauge("held", counts.held);
                gauge("sold", counts.sold);
            }
        }
        let mut text = String::new();
        let registry = self.registry.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Writing into a String cannot fail.
        let _ = encode(&mut text, &registry);
        text
    }
}

impl Observer for Metrics {
    fn events(&self, events: &[Event]) {
        for event in events {
            let labels = vec![("kind", event.kind().to_owned()), ("drop", event.drop().to_owned())];
            self.events.get_or_create(&labels).inc();
        }
    }
}
