//! What the event log does not say but a post-drop report needs: refusals by reason, client
//! addresses (hashed), errors, latency and the pages' beacons. Each instance counts them per
//! drop and per minute in memory, and the store appends one compact [`Observation`] per drop
//! and minute to the drop's log once the minute is over (and at a clean shutdown): the hot path
//! takes one short lock, and the log grows by one record a minute, not one per request.
//!
//! Observations are not [`Event`](super::machine::Event)s: the state machine never sees them,
//! and rebuilding the state from the log ignores them (SQLite keeps them in a sibling table,
//! Redis as stream entries with an `observation` field instead of `event`).

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Upper bounds of the latency buckets, in microseconds: 0.25 ms doubling to 4.096 s, as the
/// Prometheus histogram. A last count past the end holds the slower answers.
pub(crate) const LATENCY_BOUNDS_US: [u64; 15] = [
    250, 500, 1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 128_000, 256_000, 512_000, 1_024_000,
    2_048_000, 4_096_000,
];
/// Upper bounds of the time-to-first-stock buckets the pages report, in milliseconds.
pub(crate) const FIRST_STOCK_BOUNDS_MS: [u64; 10] =
    [100, 200, 400, 800, 1_600, 3_200, 6_400, 12_800, 25_600, 51_200];
/// Distinct keys one map of one minute's record keeps, at most; past it the counts go to
/// `overflow`. Bounds the memory and the record whatever a crowd (or an attacker) sends.
const MAX_KEYS: usize = 10_000;

/// One instance's observations of one drop during one minute, as stored in the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct Observation {
    pub(crate) drop: String,
    /// The minute's start (UTC, whole minute).
    #[serde(with = "time::serde::rfc3339")]
    pub(crate) minute: OffsetDateTime,
    /// Which service process counted (random per start): several share a Redis log.
    pub(crate) instance: String,
    /// Hold requests refused, by problem code (`rate_limited`, `sold_out`, …).
    pub(crate) refusals: BTreeMap<String, u64>,
    /// Answers `5xx` on the drop's hold and confirm routes: the service's own failures.
    pub(crate) errors: u64,
    /// Hold requests answered, per bucket of [`LATENCY_BOUNDS_US`] (one more: slower).
    pub(crate) hold_latency: Vec<u64>,
    /// Holds created, by hashed client address.
    pub(crate) holds_by_address: BTreeMap<String, u64>,
    /// `rate_limited` refusals by hashed client address, and by customer.
    pub(crate) rate_limited_addresses: BTreeMap<String, u64>,
    pub(crate) rate_limited_customers: BTreeMap<String, u64>,
    /// The pages' failure beacons, by `event:code` (`stock_error:timeout`, `hold_error:503`).
    pub(crate) beacon_failures: BTreeMap<String, u64>,
    /// `first_stock` beacons, per bucket of [`FIRST_STOCK_BOUNDS_MS`] (one more: slower).
    pub(crate) first_stock: Vec<u64>,
    /// Counts not kept by key because a map was full.
    pub(crate) overflow: u64,
}

impl Default for Observation {
    fn default() -> Self {
        Observation {
            drop: String::new(),
            minute: OffsetDateTime::UNIX_EPOCH,
            instance: String::new(),
            refusals: BTreeMap::new(),
            errors: 0,
            hold_latency: Vec::new(),
            holds_by_address: BTreeMap::new(),
            rate_limited_addresses: BTreeMap::new(),
            rate_limited_customers: BTreeMap::new(),
            beacon_failures: BTreeMap::new(),
            first_stock: Vec::new(),
            overflow: 0,
        }
    }
}

impl Observation {
    fn new(drop: &str, minute: i64, instance: &str) -> Observation {
        Observation {
            drop: drop.to_owned(),
            minute: OffsetDateTime::from_unix_timestamp(minute * 60).unwrap_or(OffsetDateTime::UNIX_EPOCH),
            instance: instance.to_owned(),
            hold_latency: vec![0; LATENCY_BOUNDS_US.len() + 1],
            first_stock: vec![0; FIRST_STOCK_BOUNDS_MS.len() + 1],
            ..Observation::default()
        }
    }

    fn count(map: &mut BTreeMap<String, u64>, key: &str, overflow: &mut u64) {
        if let Some(count) = map.get_mut(key) {
            *count += 1;
        } else if map.len() < MAX_KEYS {
            map.insert(key.to_owned(), 1);
        } else {
            *overflow += 1;
        }
    }
}

/// The bucket of `value` among `bounds` (the last index past them).
pub(crate) fn bucket(bounds: &[u64], value: u64) -> usize {
    bounds.partition_point(|&bound| bound < value)
}

/// What a hold request came to, for [`Observations::hold`].
pub(crate) enum HoldOutcome<'a> {
    Created,
    /// A retry answered with the hold its key made: counted once, when it was created.
    Replayed,
    Refused(&'a str),
    Failed,
}

/// The running counts of one instance, by drop and minute.
pub(crate) struct Observations {
    instance: String,
    /// Keys the address hash: see [`Keys::derive_secret`](super::token::Keys::derive_secret).
    secret: [u8; 32],
    minutes: Mutex<HashMap<String, BTreeMap<i64, Observation>>>,
}

impl Observations {
    pub(crate) fn new(instance: String, secret: [u8; 32]) -> Observations {
        Observations { instance, secret, minutes: Mutex::new(HashMap::new()) }
    }

    /// A client address as the log keeps it: a keyed hash, never the address. Unkeyed, the
    /// 2³² IPv4 addresses would be a dictionary away from their hashes.
    pub(crate) fn address_hash(&self, address: IpAddr) -> String {
        use sha2::Digest as _;
        let mut hasher = sha2::Sha256::new();
        hasher.update(self.secret);
        hasher.update(address.to_string().as_bytes());
        crate::output::hex(&hasher.finalize()[..8])
    }

    fn with(&self, drop: &str, now: OffsetDateTime, change: impl FnOnce(&mut Observation)) {
        let minute = now.unix_timestamp().div_euclid(60);
        let mut minutes = self.minutes.lock().unwrap_or_else(PoisonError::into_inner);
        if !minutes.contains_key(drop) {
            minutes.insert(drop.to_owned(), BTreeMap::new());
        }
        let Some(drop_minutes) = minutes.get_mut(drop) else { return };
        let record =
            drop_minutes.entry(minute).or_insert_with(|| Observation::new(drop, minute, &self.instance));
        change(record);
    }

    /// A hold request's outcome and time to answer.
    pub(crate) fn hold(
        &self,
        drop: &str,
        now: OffsetDateTime,
        outcome: HoldOutcome<'_>,
        who: (IpAddr, &str),
        seconds: f64,
    ) {
        let address = self.address_hash(who.0);
        self.with(drop, now, |record| {
            let micros = (seconds * 1e6) as u64;
            record.hold_latency[bucket(&LATENCY_BOUNDS_US, micros)] += 1;
            let overflow = &mut record.overflow;
            match outcome {
                HoldOutcome::Created => Observation::count(&mut record.holds_by_address, &address, overflow),
                HoldOutcome::Refused(code) => {
                    Observation::count(&mut record.refusals, code, overflow);
                    if code == "rate_limited" {
                        Observation::count(&mut record.rate_limited_addresses, &address, overflow);
                        Observation::count(&mut record.rate_limited_customers, who.1, overflow);
                    }
                }
                HoldOutcome::Replayed => {}
                HoldOutcome::Failed => record.errors += 1,
            }
        });
    }

    /// A `5xx` on another of the drop's routes (a confirm).
    pub(crate) fn failed(&self, drop: &str, now: OffsetDateTime) {
        self.with(drop, now, |record| record.errors += 1);
    }

    /// A page's beacon: `first_stock` with its `ms`, or a failure with its code.
    pub(crate) fn beacon(
        &self,
        drop: &str,
        now: OffsetDateTime,
        event: &str,
        code: Option<&str>,
        ms: Option<u64>,
    ) {
        self.with(drop, now, |record| match (event, ms) {
            ("first_stock", Some(ms)) => record.first_stock[bucket(&FIRST_STOCK_BOUNDS_MS, ms)] += 1,
            ("first_stock", None) => {}
            _ => {
                let key = format!("{event}:{}", code.unwrap_or("unknown"));
                Observation::count(&mut record.beacon_failures, &key, &mut record.overflow);
            }
        });
    }

    /// The records of the minutes over by `now`, taken out: what the store appends next.
    pub(crate) fn due(&self, now: OffsetDateTime) -> Vec<Observation> {
        self.take_before(now.unix_timestamp().div_euclid(60))
    }

    /// Every record, taken out: at shutdown.
    pub(crate) fn all(&self) -> Vec<Observation> {
        self.take_before(i64::MAX)
    }

    fn take_before(&self, minute: i64) -> Vec<Observation> {
        let mut minutes = self.minutes.lock().unwrap_or_else(PoisonError::into_inner);
        let mut taken = Vec::new();
        for drop_minutes in minutes.values_mut() {
            let later = drop_minutes.split_off(&minute);
            taken.extend(std::mem::replace(drop_minutes, later).into_values());
        }
        minutes.retain(|_, drop_minutes| !drop_minutes.is_empty());
        drop(minutes);
        taken.sort_by(|a, b| (a.minute, &a.drop).cmp(&(b.minute, &b.drop)));
        taken
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn observations() -> Observations {
        Observations::new("i1".into(), [7; 32])
    }

    #[test]
    fn counts_go_to_their_minute_and_leave_once_it_is_over() {
        let seen = observations();
        let address: IpAddr = "192.0.2.1".parse().unwrap();
        let at = datetime!(2026-11-20 15:00:30 UTC);
        seen.hold("a", at, HoldOutcome::Created, (address, "c1"), 0.0007);
        seen.hold("a", at, HoldOutcome::Refused("rate_limited"), (address, "c1"), 0.0001);
        seen.hold("a", datetime!(2026-11-20 15:01:10 UTC), HoldOutcome::Failed, (address, "c1"), 5.0);
        seen.beacon("a", at, "first_stock", None, Some(150));
        seen.beacon("a", at, "stock_error", Some("timeout"), None);
        assert!(seen.due(datetime!(2026-11-20 15:00:59 UTC)).is_empty());
        let due = seen.due(datetime!(2026-11-20 15:01:00 UTC));
        assert_eq!(due.len(), 1);
        let record = &due[0];
        assert_eq!(record.minute, datetime!(2026-11-20 15:00 UTC));
        assert_eq!((record.hold_latency[0], record.hold_latency[2]), (1, 1));
        assert_eq!(record.refusals["rate_limited"], 1);
        assert_eq!(record.rate_limited_customers["c1"], 1);
        let hash = seen.address_hash(address);
        assert!(!hash.contains("192"), "{hash}");
        assert_eq!(record.holds_by_address[&hash], 1);
        assert_eq!(record.first_stock[1], 1);
        assert_eq!(record.beacon_failures["stock_error:timeout"], 1);
        let rest = seen.all();
        assert_eq!((rest.len(), rest[0].errors, rest[0].hold_latency[15]), (1, 1, 1));
        assert!(seen.all().is_empty());
    }

    #[test]
    fn a_full_map_counts_the_rest_as_overflow() {
        let seen = observations();
        let at = datetime!(2026-11-20 15:00 UTC);
        for n in 0..MAX_KEYS + 3 {
            let address = IpAddr::from([10, (n >> 16) as u8, (n >> 8) as u8, n as u8]);
            seen.hold("a", at, HoldOutcome::Created, (address, "c"), 0.0);
        }
        let record = &seen.all()[0];
        assert_eq!((record.holds_by_address.len(), record.overflow), (MAX_KEYS, 3));
    }

    #[test]
    fn the_address_hash_depends_on_the_secret() {
        let address: IpAddr = "192.0.2.1".parse().unwrap();
        let other = Observations::new("i1".into(), [8; 32]);
        assert_ne!(observations().address_hash(address), other.address_hash(address));
    }
}
