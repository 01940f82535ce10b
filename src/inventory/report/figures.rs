//! The report's figures, pure: one pass over a drop's log ([`Tally::event`] and
//! [`Tally::observation`] in log order), then [`Tally::finish`]. Memory grows with the
//! minutes, SKUs, customers, addresses and holds still active, never with the events: an
//! ended hold is forgotten once it is counted.

use std::collections::{BTreeMap, HashMap};

use schemars::JsonSchema;
use serde::Serialize;
use time::OffsetDateTime;

use crate::inventory::machine::{Control, Event};
use crate::inventory::observation::{FIRST_STOCK_BOUNDS_MS, LATENCY_BOUNDS_US, Observation};
use crate::rfc3339;

/// The JSON's `version`: a change of meaning gets a new one.
pub(crate) const VERSION: u32 = 1;
/// The window of the first-minutes checkout rate.
const FIRST_MINUTES: i64 = 5;
/// Timeline markers kept, at most (an operator script pausing every second is not a story).
const MAX_MARKERS: usize = 500;
/// Minutes shown, at most: a week.
const MAX_MINUTES: i64 = 7 * 24 * 60;
/// Rate-limited this many times or more: listed as a bot signal.
const REPEAT_RATE_LIMITED: u64 = 3;
/// Listed bot signals, at most.
const MAX_LISTED: usize = 20;
/// A minute's expired holds are a spike at this many times the baseline, and at least
/// [`SPIKE_FLOOR`] holds.
const SPIKE_FACTOR: u64 = 3;
const SPIKE_FLOOR: u64 = 5;

/// Every figure's definition, as the report states it (HTML and JSON alike).
pub(crate) const DEFINITIONS: [(&str, &str); 12] = [
    (
        "start",
        "The drop's start: `starts_at` of the latest catalog sync, or the time of an operator's `open` if that came first. Minutes are whole UTC minutes.",
    ),
    (
        "units",
        "Units held and sold per SKU at the end of each minute, from the hold events (created, confirmed, released, expired).",
    ),
    (
        "time_to_sell_out",
        "From the start to the first moment every SKU with stock had all its units sold (confirmed). Empty when that never happened.",
    ),
    (
        "first_minutes_checkout_rate",
        "Hold attempts in the first 5 minutes (the start's minute and the 4 after it) that ended confirmed, divided by all hold attempts in those minutes. An attempt is a hold created, or refused as sold_out, limit_reached, rate_limited or not_live.",
    ),
    ("abandonment_share", "Holds that expired unpaid, divided by the holds created."),
    (
        "abandonment_spike",
        "A minute whose expired holds are at least 3 times the baseline and at least 5; the baseline is the median of expired holds per minute over the minutes that had any hold created or expired.",
    ),
    (
        "refusals",
        "Hold requests refused per minute, by the problem code the service answered (rate_limited: the per-address or per-customer limit).",
    ),
    (
        "top_1pct_share",
        "The holds created by the top 1 % of customers (or client addresses) by holds created, at least one of them, divided by all holds created. Addresses are keyed hashes, never the addresses.",
    ),
    (
        "repeat_rate_limited",
        "Customers and client addresses refused as rate_limited 3 times or more: a bot signal. Fraud needs the shop's data too (payments declined, chargebacks), which the service does not see.",
    ),
    ("errors", "Answers 5xx on the drop's hold and confirm routes: the service's own failures."),
    (
        "latency",
        "Time to answer hold requests, p50/p95/p99 per minute, in milliseconds: the upper bound of the histogram bucket holding that rank (buckets 0.25 ms doubling to 4,096 ms; slower shows as 8,192).",
    ),
    (
        "beacons",
        "What the pages reported: stock-call and hold-call failures by kind, and the time from navigation to the first stock shown (p50/p95, upper bound of its bucket, 100 ms doubling to 51,200 ms).",
    ),
];

/// What `dropgen inventory report --format json` prints: every figure of the HTML report.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
#[schemars(title = "dropgen inventory report", deny_unknown_fields)]
pub(crate) struct Figures {
    /// The format's version.
    pub(crate) version: u32,
    pub(crate) drop: String,
    /// The figures' definitions, by name.
    pub(crate) definitions: BTreeMap<String, String>,
    pub(crate) log: LogSummary,
    /// RFC 3339.
    pub(crate) start: Option<String>,
    pub(crate) end: Option<String>,
    pub(crate) sell_through: SellThrough,
    pub(crate) abandonment: Abandonment,
    pub(crate) fairness: Fairness,
    pub(crate) service: ServiceHealth,
    pub(crate) skus: Vec<SkuFigures>,
    /// Every minute from the first activity (or the start) to the last, in order.
    pub(crate) minutes: Vec<Minute>,
    pub(crate) timeline: Vec<Marker>,
    /// What the log did not have, in sentences: figures that depend on it are empty.
    pub(crate) missing: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, JsonSchema)]
pub(crate) struct LogSummary {
    pub(crate) events: u64,
    pub(crate) observations: u64,
    /// Records that could not be read (cut short, or from a newer dropgen): skipped.
    pub(crate) unreadable: u64,
    pub(crate) first_at: Option<String>,
    pub(crate) last_at: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub(crate) struct SellThrough {
    pub(crate) units_stock: u64,
    pub(crate) units_sold: u64,
    pub(crate) sold_out_at: Option<String>,
    pub(crate) time_to_sell_out_seconds: Option<i64>,
    pub(crate) first_minutes_attempts: u64,
    pub(crate) first_minutes_confirmed: u64,
    pub(crate) first_minutes_checkout_rate: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub(crate) struct Abandonment {
    pub(crate) holds_created: u64,
    pub(crate) confirmed: u64,
    pub(crate) released: u64,
    pub(crate) expired: u64,
    pub(crate) share: Option<f64>,
    pub(crate) baseline_per_minute: u64,
    /// The minutes flagged (RFC 3339).
    pub(crate) spikes: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub(crate) struct Fairness {
    pub(crate) customers: u64,
    pub(crate) top_1pct_customer_share: Option<f64>,
    pub(crate) addresses: u64,
    pub(crate) top_1pct_address_share: Option<f64>,
    pub(crate) refusals: BTreeMap<String, u64>,
    pub(crate) repeat_rate_limited_customers: Vec<Counted>,
    pub(crate) repeat_rate_limited_addresses: Vec<Counted>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub(crate) struct Counted {
    pub(crate) key: String,
    pub(crate) count: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub(crate) struct ServiceHealth {
    pub(crate) errors: u64,
    pub(crate) hold_requests: u64,
    pub(crate) hold_latency_ms: Percentiles,
    pub(crate) beacon_failures: BTreeMap<String, u64>,
    pub(crate) first_stock_reports: u64,
    pub(crate) first_stock_p50_ms: Option<f64>,
    pub(crate) first_stock_p95_ms: Option<f64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, JsonSchema)]
pub(crate) struct Percentiles {
    pub(crate) p50: Option<f64>,
    pub(crate) p95: Option<f64>,
    pub(crate) p99: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub(crate) struct SkuFigures {
    pub(crate) sku: String,
    pub(crate) stock: u64,
    pub(crate) sold: u64,
    pub(crate) held: u64,
    pub(crate) sold_out_at: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub(crate) struct Minute {
    /// The minute's start, RFC 3339.
    pub(crate) minute: String,
    pub(crate) holds_created: u64,
    pub(crate) confirmed: u64,
    pub(crate) expired: u64,
    pub(crate) released: u64,
    pub(crate) abandonment_spike: bool,
    /// Units held and sold at the minute's end, by SKU.
    pub(crate) held: BTreeMap<String, u64>,
    pub(crate) sold: BTreeMap<String, u64>,
    pub(crate) refusals: BTreeMap<String, u64>,
    pub(crate) errors: u64,
    pub(crate) hold_requests: u64,
    pub(crate) hold_latency_ms: Percentiles,
    pub(crate) beacon_failures: BTreeMap<String, u64>,
    pub(crate) first_stock_p50_ms: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub(crate) struct Marker {
    pub(crate) at: String,
    /// `start`, `end`, `pause`, `resume`, `open`, `delay`, `stock`, `sync`.
    pub(crate) kind: String,
    pub(crate) label: String,
}

/// A hold not yet ended.
struct Active {
    sku: String,
    quantity: u64,
    minute: i64,
}

/// One minute's running counts.
#[derive(Default)]
struct MinuteTally {
    created: u64,
    confirmed: u64,
    expired: u64,
    released: u64,
    early_attempts_confirmed: u64,
    units: Option<(BTreeMap<String, u64>, BTreeMap<String, u64>)>,
    refusals: BTreeMap<String, u64>,
    errors: u64,
    latency: Vec<u64>,
    beacon_failures: BTreeMap<String, u64>,
    first_stock: Vec<u64>,
}

/// The running state of the one pass.
#[derive(Default)]
pub(crate) struct Tally {
    drop: String,
    summary: LogSummary,
    first_at: Option<OffsetDateTime>,
    last_at: Option<OffsetDateTime>,
    starts_at: Option<OffsetDateTime>,
    opened_at: Option<OffsetDateTime>,
    ends_at: Option<OffsetDateTime>,
    stock: BTreeMap<String, u64>,
    held: BTreeMap<String, u64>,
    sold: BTreeMap<String, u64>,
    sku_sold_out: BTreeMap<String, OffsetDateTime>,
    sold_out_at: Option<OffsetDateTime>,
    active: HashMap<String, Active>,
    minutes: BTreeMap<i64, MinuteTally>,
    /// The minute whose units were last changed, not yet written into `minutes`.
    open_minute: Option<i64>,
    first_activity: Option<i64>,
    last_activity: Option<i64>,
    customers: HashMap<String, u64>,
    addresses: HashMap<String, u64>,
    rate_limited_customers: HashMap<String, u64>,
    rate_limited_addresses: HashMap<String, u64>,
    markers: Vec<(OffsetDateTime, &'static str, String)>,
    markers_dropped: u64,
    overflow: u64,
}

fn minute_of(at: OffsetDateTime) -> i64 {
    at.unix_timestamp().div_euclid(60)
}

fn minute_text(minute: i64) -> String {
    OffsetDateTime::from_unix_timestamp(minute * 60).map(rfc3339::format).unwrap_or_default()
}

impl Tally {
    pub(crate) fn new(drop: &str) -> Tally {
        Tally { drop: drop.to_owned(), ..Tally::default() }
    }

    /// Events read, so far.
    pub(crate) fn events(&self) -> u64 {
        self.summary.events
    }

    /// A record the reader could not understand: counted, and said in the report.
    pub(crate) fn unreadable(&mut self) {
        self.summary.unreadable += 1;
    }

    fn activity(&mut self, minute: i64) {
        self.first_activity = Some(self.first_activity.map_or(minute, |first| first.min(minute)));
        self.last_activity = Some(self.last_activity.map_or(minute, |last| last.max(minute)));
    }

    fn marker(&mut self, at: OffsetDateTime, kind: &'static str, label: String) {
        if self.markers.len() < MAX_MARKERS {
            self.markers.push((at, kind, label));
        } else {
            self.markers_dropped += 1;
        }
    }

    /// The drop's start as known now.
    fn start(&self) -> Option<OffsetDateTime> {
        match (self.starts_at, self.opened_at) {
            (Some(start), Some(open)) => Some(start.min(open)),
            (start, open) => start.or(open),
        }
    }

    /// Whether `minute` is one of the first minutes after the start.
    fn early(&self, minute: i64) -> bool {
        self.start().is_some_and(|start| (0..FIRST_MINUTES).contains(&(minute - minute_of(start))))
    }

    /// Keeps the units at the end of the minute the last change was in.
    fn close_minute(&mut self, minute: i64) {
        if let Some(open) = self.open_minute.filter(|&open| open != minute) {
            self.minutes.entry(open).or_default().units = Some((self.held.clone(), self.sold.clone()));
        }
        self.open_minute = Some(minute);
    }

    /// One event of the drop's log, in order.
    pub(crate) fn event(&mut self, event: &Event) {
        if event.drop() != self.drop {
            return;
        }
        let at = event.at();
        self.summary.events += 1;
        self.first_at = Some(self.first_at.map_or(at, |first| first.min(at)));
        self.last_at = Some(self.last_at.map_or(at, |last| last.max(at)));
        let minute = minute_of(at);
        match event {
            Event::DropSynced { definition, .. } => {
                self.starts_at = Some(definition.starts_at);
                self.ends_at = definition.ends_at;
                for (sku, spec) in &definition.skus {
                    if let Some(stock) = spec.stock {
                        self.stock.insert(sku.clone(), u64::from(stock));
                    }
                }
                self.marker(at, "sync", "catalog synced".to_owned());
            }
            Event::ControlSet { control, .. } => self.control(at, *control),
            Event::StockSet { sku, stock, .. } => {
                self.stock.insert(sku.clone(), u64::from(*stock));
                self.marker(at, "stock", format!("{sku} stock set to {stock}"));
                self.check_sold_out(at);
            }
            _ => self.hold_event(event, at, minute),
        }
    }

    fn control(&mut self, at: OffsetDateTime, control: Control) {
        let (kind, label) = match control {
            Control::Scheduled => ("resume", "resumed"),
            Control::Open => ("open", "opened"),
            Control::Delayed => ("delay", "delayed"),
            Control::Paused => ("pause", "paused"),
            Control::Ended => ("end", "ended"),
        };
        if control == Control::Open && self.opened_at.is_none() {
            self.opened_at = Some(at);
        }
        self.marker(at, kind, format!("operator: {label}"));
    }

    fn hold_event(&mut self, event: &Event, at: OffsetDateTime, minute: i64) {
        self.close_minute(minute);
        self.activity(minute);
        match event {
            Event::HoldCreated { hold, sku, quantity, customer, .. } => {
                let quantity = u64::from(*quantity);
                *self.held.entry(sku.clone()).or_default() += quantity;
                *self.customers.entry(customer.clone()).or_default() += 1;
                self.minutes.entry(minute).or_default().created += 1;
                self.active.insert(hold.clone(), Active { sku: sku.clone(), quantity, minute });
            }
            Event::HoldConfirmed { hold, .. } => {
                let Some(active) = self.end_hold(hold) else { return };
                *self.sold.entry(active.sku.clone()).or_default() += active.quantity;
                if self.early(active.minute) {
                    self.minutes.entry(active.minute).or_default().early_attempts_confirmed += 1;
                }
                self.minutes.entry(minute).or_default().confirmed += 1;
                self.check_sold_out(at);
            }
            Event::HoldReleased { hold, .. } | Event::HoldExpired { hold, .. } => {
                let expired = matches!(event, Event::HoldExpired { .. });
                if self.end_hold(hold).is_some() {
                    let tally = self.minutes.entry(minute).or_default();
                    *(if expired { &mut tally.expired } else { &mut tally.released }) += 1;
                }
            }
            _ => {}
        }
    }

    /// Takes an active hold out, its units no longer held.
    fn end_hold(&mut self, hold: &str) -> Option<Active> {
        let active = self.active.remove(hold)?;
        if let Some(held) = self.held.get_mut(&active.sku) {
            *held = held.saturating_sub(active.quantity);
        }
        Some(active)
    }

    fn check_sold_out(&mut self, at: OffsetDateTime) {
        for (sku, &stock) in &self.stock {
            if stock > 0 && self.sold.get(sku).copied().unwrap_or(0) >= stock {
                self.sku_sold_out.entry(sku.clone()).or_insert(at);
            }
        }
        let with_stock = self.stock.values().filter(|&&stock| stock > 0).count();
        if self.sold_out_at.is_none() && with_stock > 0 && self.sku_sold_out.len() >= with_stock {
            let all = self
                .stock
                .iter()
                .filter(|(_, stock)| **stock > 0)
                .all(|(sku, _)| self.sku_sold_out.contains_key(sku));
            if all {
                self.sold_out_at = Some(at);
            }
        }
    }

    /// One observation record of the drop's log.
    pub(crate) fn observation(&mut self, record: &Observation) {
        if record.drop != self.drop {
            return;
        }
        self.summary.observations += 1;
        let minute = minute_of(record.minute);
        let requests: u64 = record.hold_latency.iter().sum();
        if requests > 0 || record.errors > 0 {
            self.activity(minute);
        }
        for (address, count) in &record.holds_by_address {
            *self.addresses.entry(address.clone()).or_default() += count;
        }
        for (customer, count) in &record.rate_limited_customers {
            *self.rate_limited_customers.entry(customer.clone()).or_default() += count;
        }
        for (address, count) in &record.rate_limited_addresses {
            *self.rate_limited_addresses.entry(address.clone()).or_default() += count;
        }
        self.overflow += record.overflow;
        let tally = self.minutes.entry(minute).or_default();
        add_counts(&mut tally.refusals, &record.refusals);
        add_counts(&mut tally.beacon_failures, &record.beacon_failures);
        tally.errors += record.errors;
        add_buckets(&mut tally.latency, &record.hold_latency);
        add_buckets(&mut tally.first_stock, &record.first_stock);
    }

    /// The figures, once the whole log was read.
    pub(crate) fn finish(mut self) -> Figures {
        if let Some(open) = self.open_minute {
            self.minutes.entry(open).or_default().units = Some((self.held.clone(), self.sold.clone()));
        }
        let start = self.start();
        let mut minutes = self.minute_rows(start);
        let abandonment = self.abandonment(&minutes);
        for minute in &mut minutes {
            minute.abandonment_spike = abandonment.spikes.contains(&minute.minute);
        }
        let missing = self.missing();
        let summary = LogSummary {
            first_at: self.first_at.map(rfc3339::format),
            last_at: self.last_at.map(rfc3339::format),
            ..self.summary.clone()
        };
        Figures {
            version: VERSION,
            drop: self.drop.clone(),
            definitions: DEFINITIONS
                .iter()
                .map(|(name, text)| ((*name).to_owned(), (*text).to_owned()))
                .collect(),
            log: summary,
            start: start.map(rfc3339::format),
            end: self.ends_at.map(rfc3339::format),
            sell_through: self.sell_through(start),
            abandonment,
            fairness: self.fairness(),
            service: self.service(),
            skus: self.skus(),
            timeline: self.timeline(start),
            minutes,
            missing,
        }
    }
}

fn add_counts(into: &mut BTreeMap<String, u64>, from: &BTreeMap<String, u64>) {
    for (key, count) in from {
        *into.entry(key.clone()).or_default() += count;
    }
}

fn add_buckets(into: &mut Vec<u64>, from: &[u64]) {
    if into.len() < from.len() {
        into.resize(from.len(), 0);
    }
    for (sum, count) in into.iter_mut().zip(from) {
        *sum += count;
    }
}

/// The upper bound of the bucket holding the `q` quantile (rank ⌈q·n⌉), in ms; `scale`
/// turns a bound into ms; past the last bound, twice the last.
pub(crate) fn quantile(buckets: &[u64], bounds: &[u64], scale: f64, q: f64) -> Option<f64> {
    let total: u64 = buckets.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = ((q * total as f64).ceil() as u64).max(1);
    let mut seen = 0;
    for (index, count) in buckets.iter().enumerate() {
        seen += count;
        if seen >= rank {
            let bound = bounds.get(index).copied().unwrap_or(bounds.last().copied().unwrap_or(0) * 2);
            return Some(bound as f64 * scale);
        }
    }
    None
}

fn latency(buckets: &[u64]) -> Percentiles {
    let at = |q| quantile(buckets, &LATENCY_BOUNDS_US, 0.001, q);
    Percentiles { p50: at(0.50), p95: at(0.95), p99: at(0.99) }
}

/// The share of the total the top 1 % (at least one) of the counts make.
pub(crate) fn top_share(counts: impl Iterator<Item = u64>) -> (u64, Option<f64>) {
    let mut counts: Vec<u64> = counts.collect();
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return (counts.len() as u64, None);
    }
    counts.sort_unstable_by(|a, b| b.cmp(a));
    let top = counts.len().div_ceil(100).max(1);
    let taken: u64 = counts.iter().take(top).sum();
    (counts.len() as u64, Some(taken as f64 / total as f64))
}

fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

fn repeated(counts: &HashMap<String, u64>) -> Vec<Counted> {
    let mut listed: Vec<Counted> = counts
        .iter()
        .filter(|(_, count)| **count >= REPEAT_RATE_LIMITED)
        .map(|(key, count)| Counted { key: key.clone(), count: *count })
        .collect();
    listed.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
    listed.truncate(MAX_LISTED);
    listed
}

/// Refusal codes that count as hold attempts.
const ATTEMPT_REFUSALS: [&str; 4] = ["sold_out", "limit_reached", "rate_limited", "not_live"];

impl Tally {
    fn minute_rows(&self, start: Option<OffsetDateTime>) -> Vec<Minute> {
        let first = match (self.first_activity, start.map(minute_of)) {
            (Some(first), Some(start)) => first.min(start),
            (first, start) => match first.or(start) {
                Some(first) => first,
                None => return Vec::new(),
            },
        };
        let last = self.last_activity.unwrap_or(first).max(first).min(first + MAX_MINUTES - 1);
        let mut units = (BTreeMap::new(), BTreeMap::new());
        let empty = MinuteTally::default();
        (first..=last)
            .map(|minute| {
                let tally = self.minutes.get(&minute).unwrap_or(&empty);
                if let Some(now) = &tally.units {
                    units = now.clone();
                }
                let skus = self.stock.keys();
                let of = |map: &BTreeMap<String, u64>| -> BTreeMap<String, u64> {
                    skus.clone().map(|sku| (sku.clone(), map.get(sku).copied().unwrap_or(0))).collect()
                };
                Minute {
                    minute: minute_text(minute),
                    holds_created: tally.created,
                    confirmed: tally.confirmed,
                    expired: tally.expired,
                    released: tally.released,
                    abandonment_spike: false,
                    held: of(&units.0),
                    sold: of(&units.1),
                    refusals: tally.refusals.clone(),
                    errors: tally.errors,
                    hold_requests: tally.latency.iter().sum(),
                    hold_latency_ms: latency(&tally.latency),
                    beacon_failures: tally.beacon_failures.clone(),
                    first_stock_p50_ms: quantile(&tally.first_stock, &FIRST_STOCK_BOUNDS_MS, 1.0, 0.5),
                }
            })
            .collect()
    }

    fn sell_through(&self, start: Option<OffsetDateTime>) -> SellThrough {
        let mut attempts = 0;
        let mut confirmed = 0;
        for (&minute, tally) in &self.minutes {
            if self.early(minute) {
                let refused: u64 =
                    ATTEMPT_REFUSALS.iter().map(|code| tally.refusals.get(*code).copied().unwrap_or(0)).sum();
                attempts += tally.created + refused;
                confirmed += tally.early_attempts_confirmed;
            }
        }
        SellThrough {
            units_stock: self.stock.values().sum(),
            units_sold: self.sold.values().sum(),
            sold_out_at: self.sold_out_at.map(rfc3339::format),
            time_to_sell_out_seconds: self
                .sold_out_at
                .zip(start)
                .map(|(end, start)| (end - start).whole_seconds()),
            first_minutes_attempts: attempts,
            first_minutes_confirmed: confirmed,
            first_minutes_checkout_rate: ratio(confirmed, attempts),
        }
    }

    fn abandonment(&self, minutes: &[Minute]) -> Abandonment {
        let total = |field: fn(&MinuteTally) -> u64| self.minutes.values().map(field).sum::<u64>();
        let (created, expired) = (total(|m| m.created), total(|m| m.expired));
        let mut active: Vec<u64> =
            minutes.iter().filter(|m| m.holds_created + m.expired > 0).map(|m| m.expired).collect();
        active.sort_unstable();
        let baseline = active.get(active.len() / 2).copied().unwrap_or(0);
        let threshold = (baseline * SPIKE_FACTOR).max(SPIKE_FLOOR);
        let spikes = minutes.iter().filter(|m| m.expired >= threshold).map(|m| m.minute.clone()).collect();
        Abandonment {
            holds_created: created,
            confirmed: total(|m| m.confirmed),
            released: total(|m| m.released),
            expired,
            share: ratio(expired, created),
            baseline_per_minute: baseline,
            spikes,
        }
    }

    fn fairness(&self) -> Fairness {
        let (customers, customer_share) = top_share(self.customers.values().copied());
        let (addresses, address_share) = top_share(self.addresses.values().copied());
        let mut refusals = BTreeMap::new();
        for tally in self.minutes.values() {
            add_counts(&mut refusals, &tally.refusals);
        }
        Fairness {
            customers,
            top_1pct_customer_share: customer_share,
            addresses,
            top_1pct_address_share: address_share,
            refusals,
            repeat_rate_limited_customers: repeated(&self.rate_limited_customers),
            repeat_rate_limited_addresses: repeated(&self.rate_limited_addresses),
        }
    }

    fn service(&self) -> ServiceHealth {
        let mut latency_buckets = Vec::new();
        let mut first_stock = Vec::new();
        let mut beacon_failures = BTreeMap::new();
        let mut errors = 0;
        for tally in self.minutes.values() {
            add_buckets(&mut latency_buckets, &tally.latency);
            add_buckets(&mut first_stock, &tally.first_stock);
            add_counts(&mut beacon_failures, &tally.beacon_failures);
            errors += tally.errors;
        }
        ServiceHealth {
            errors,
            hold_requests: latency_buckets.iter().sum(),
            hold_latency_ms: latency(&latency_buckets),
            beacon_failures,
            first_stock_reports: first_stock.iter().sum(),
            first_stock_p50_ms: quantile(&first_stock, &FIRST_STOCK_BOUNDS_MS, 1.0, 0.5),
            first_stock_p95_ms: quantile(&first_stock, &FIRST_STOCK_BOUNDS_MS, 1.0, 0.95),
        }
    }

    fn skus(&self) -> Vec<SkuFigures> {
        self.stock
            .iter()
            .map(|(sku, &stock)| SkuFigures {
                sku: sku.clone(),
                stock,
                sold: self.sold.get(sku).copied().unwrap_or(0),
                held: self.held.get(sku).copied().unwrap_or(0),
                sold_out_at: self.sku_sold_out.get(sku).copied().map(rfc3339::format),
            })
            .collect()
    }

    fn timeline(&self, start: Option<OffsetDateTime>) -> Vec<Marker> {
        let mut markers: Vec<(OffsetDateTime, &str, String)> = self.markers.clone();
        markers.extend(start.map(|at| (at, "start", "drop starts".to_owned())));
        markers.extend(self.ends_at.map(|at| (at, "end", "drop ends".to_owned())));
        markers.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        markers
            .into_iter()
            .map(|(at, kind, label)| Marker { at: rfc3339::format(at), kind: kind.to_owned(), label })
            .collect()
    }

    fn missing(&self) -> Vec<String> {
        let mut missing = Vec::new();
        if self.summary.observations == 0 {
            missing.push("No observation records: refusals, client addresses, errors, latency and beacons are empty. The log was written by a dropgen before observations, or the service never finished a minute (it appends each minute once over, and at a clean stop).".to_owned());
        }
        if self.starts_at.is_none() {
            missing.push("No catalog sync in the log: the drop's start, end and stock are unknown, so the time to sell out and the first-minutes rate are empty.".to_owned());
        }
        if self.summary.unreadable > 0 {
            missing.push(format!("{} record(s) of the log could not be read (cut short, or written by a newer dropgen) and were skipped.", self.summary.unreadable));
        }
        if self.markers_dropped > 0 {
            missing.push(format!(
                "{} timeline marker(s) past the first {MAX_MARKERS} are not drawn.",
                self.markers_dropped
            ));
        }
        if self.overflow > 0 {
            missing.push(format!(
                "{} count(s) were not kept by customer or address: a minute had more than 10,000 of them.",
                self.overflow
            ));
        }
        if let (Some(first), Some(last)) = (self.first_activity, self.last_activity)
            && last - first >= MAX_MINUTES
        {
            missing.push(
                "The drop's activity spans more than a week: only its first week of minutes is shown."
                    .to_owned(),
            );
        }
        missing
    }
}
