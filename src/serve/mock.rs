//! The mock inventory: an in-memory implementation of `docs/inventory-api.yaml`, as a pure
//! state machine. The HTTP layer (`mock_http.rs`) wraps one [`Inventory`] in a mutex, so every
//! operation is atomic: concurrent holds never oversell and never exceed a customer's limit.
//!
//! Time is an argument ([`Inventory::stock`] and [`Inventory::hold`] take `now`), which keeps
//! expiry and status deterministic under test.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::model::Site;
use crate::rfc3339;

/// Units each SKU starts with when the seed file does not say.
pub(crate) const DEFAULT_STOCK: u32 = 20;
/// At or below this many units a SKU is `low`.
pub(crate) const LOW_AT: u32 = 5;
/// How long a hold reserves its units.
pub(crate) const HOLD_TTL: Duration = Duration::minutes(10);
/// What the stock endpoint suggests as the polling interval.
pub(crate) const POLL_AFTER_MS: u32 = 5000;

/// What a drop is, as far as the inventory is concerned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DropSeed {
    pub(crate) starts_at: OffsetDateTime,
    pub(crate) ends_at: Option<OffsetDateTime>,
    /// SKU → (units, per-customer limit).
    pub(crate) skus: BTreeMap<String, (u32, Option<u32>)>,
}

/// Every drop's seed, by slug.
pub(crate) type Seed = BTreeMap<String, DropSeed>;

/// Seeds the inventory from a validated site; `units` overrides the stock of named SKUs.
pub(crate) fn seed(site: &Site, units: &BTreeMap<String, u32>) -> Seed {
    site.drops
        .iter()
        .map(|drop| {
            let skus = drop
                .products
                .iter()
                .map(|product| {
                    let sku = product.sku.as_str().to_owned();
                    let stock = units.get(&sku).copied().unwrap_or(DEFAULT_STOCK);
                    (sku, (stock, product.limit_per_customer.map(|limit| limit.get())))
                })
                .collect();
            let seed = DropSeed { starts_at: drop.starts_at.0, ends_at: drop.ends_at.map(|t| t.0), skus };
            (drop.slug.as_str().to_owned(), seed)
        })
        .collect()
}

/// A state to preview, forced on every drop (`--mock-state`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum MockState {
    /// Status from the drops' times, stock as seeded.
    #[default]
    Scheduled,
    /// Every drop is upcoming.
    Upcoming,
    /// Every drop is live.
    Live,
    /// Every drop is live with 3 units of each SKU left.
    Low,
    /// Every drop is live with nothing left.
    SoldOut,
    /// Every drop is paused: stock shows, holds are refused (`not_live`).
    Paused,
    /// Every drop has ended.
    Ended,
}

/// `upcoming`, `live`, `paused` or `ended`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Status {
    Upcoming,
    Live,
    Paused,
    Ended,
}

/// The body of `GET /drops/{slug}/stock`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct Stock {
    pub(crate) drop: String,
    pub(crate) server_time: String,
    pub(crate) status: Status,
    pub(crate) items: Vec<StockItem>,
    pub(crate) poll_after_ms: u32,
}

/// One SKU in [`Stock`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct StockItem {
    pub(crate) sku: String,
    pub(crate) state: &'static str,
    pub(crate) available: u32,
}

/// The body of `POST /drops/{slug}/holds`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HoldRequest {
    pub(crate) sku: String,
    pub(crate) quantity: u32,
}

/// A created hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct HoldCreated {
    pub(crate) hold_id: String,
    pub(crate) expires_at: String,
    pub(crate) checkout_url: String,
}

/// Why a request was refused: the contract's problem `code`s the state machine can produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    SoldOut,
    LimitReached,
    NotLive,
    InvalidRequest,
    UnknownDrop,
    UnknownSku,
    IdempotencyConflict,
}

impl Refusal {
    /// The problem's `code` and HTTP status.
    pub(crate) fn code(self) -> (&'static str, u16) {
        match self {
            Refusal::SoldOut => ("sold_out", 409),
            Refusal::LimitReached => ("limit_reached", 409),
            Refusal::NotLive => ("not_live", 409),
            Refusal::InvalidRequest => ("invalid_request", 400),
            Refusal::UnknownDrop => ("unknown_drop", 404),
            Refusal::UnknownSku => ("unknown_sku", 404),
            Refusal::IdempotencyConflict => ("idempotency_conflict", 422),
        }
    }
}

/// A live hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Hold {
    pub(crate) id: String,
    pub(crate) drop: String,
    pub(crate) sku: String,
    pub(crate) customer: String,
    pub(crate) quantity: u32,
    pub(crate) idempotency_key: String,
    pub(crate) expires_at: OffsetDateTime,
}

#[derive(Clone, Debug)]
struct Item {
    /// Units not held.
    remaining: u32,
    limit: Option<u32>,
}

#[derive(Clone, Debug)]
struct DropState {
    starts_at: OffsetDateTime,
    ends_at: Option<OffsetDateTime>,
    items: BTreeMap<String, Item>,
}

/// The whole mock: stock, holds and idempotency records.
#[derive(Clone, Debug)]
pub(crate) struct Inventory {
    drops: BTreeMap<String, DropState>,
    holds: BTreeMap<String, Hold>,
    /// (customer, key) → the request and the response it got, replayed for the same key.
    replies: BTreeMap<(String, String), (HoldRequest, Result<HoldCreated, Refusal>)>,
    next_hold: u64,
    state: MockState,
}

impl Inventory {
    pub(crate) fn new(seed: &Seed, state: MockState) -> Self {
        let mut inventory = Inventory {
            drops: BTreeMap::new(),
            holds: BTreeMap::new(),
            replies: BTreeMap::new(),
            next_hold: 1,
            state: MockState::Scheduled,
        };
        inventory.reseed(seed);
        inventory.set_state(state);
        inventory
    }

    /// Takes new times, SKUs and limits after a rebuild, keeping the stock of known SKUs.
    pub(crate) fn reseed(&mut self, seed: &Seed) {
        let mut drops = BTreeMap::new();
        for (slug, drop) in seed {
            let old = self.drops.remove(slug);
            let items = drop
                .skus
                .iter()
                .map(|(sku, &(units, limit))| {
                    let remaining =
                        old.as_ref().and_then(|old| old.items.get(sku)).map_or(units, |item| item.remaining);
                    (sku.clone(), Item { remaining, limit })
                })
                .collect();
            drops.insert(slug.clone(), DropState { starts_at: drop.starts_at, ends_at: drop.ends_at, items });
        }
        self.drops = drops;
    }

    pub(crate) fn state(&self) -> MockState {
        self.state
    }

    /// Forces a state; `low` and `sold-out` set every SKU's stock to 3 and 0.
    pub(crate) fn set_state(&mut self, state: MockState) {
        self.state = state;
        let units = match state {
            MockState::Low => 3,
            MockState::SoldOut => 0,
            _ => return,
        };
        for item in self.drops.values_mut().flat_map(|drop| drop.items.values_mut()) {
            item.remaining = units;
        }
    }

    /// Active holds, oldest first.
    pub(crate) fn holds(&self) -> impl Iterator<Item = &Hold> {
        self.holds.values()
    }

    fn status(&self, drop: &DropState, now: OffsetDateTime) -> Status {
        match self.state {
            MockState::Upcoming => Status::Upcoming,
            MockState::Live | MockState::Low | MockState::SoldOut => Status::Live,
            MockState::Paused => Status::Paused,
            MockState::Ended => Status::Ended,
            MockState::Scheduled if now < drop.starts_at => Status::Upcoming,
            MockState::Scheduled if drop.ends_at.is_some_and(|end| now >= end) => Status::Ended,
            MockState::Scheduled => Status::Live,
        }
    }

    /// Returns the units of holds that lapsed by `now` to their SKUs.
    pub(crate) fn expire(&mut self, now: OffsetDateTime) {
        let lapsed: Vec<String> =
            self.holds.values().filter(|hold| hold.expires_at <= now).map(|hold| hold.id.clone()).collect();
        for id in lapsed {
            let Some(hold) = self.holds.remove(&id) else { continue };
            if let Some(item) = self.drops.get_mut(&hold.drop).and_then(|drop| drop.items.get_mut(&hold.sku))
            {
                item.remaining = item.remaining.saturating_add(hold.quantity);
            }
        }
    }

    /// `GET /drops/{slug}/stock`.
    pub(crate) fn stock(&mut self, slug: &str, now: OffsetDateTime) -> Result<Stock, Refusal> {
        self.expire(now);
        let drop = self.drops.get(slug).ok_or(Refusal::UnknownDrop)?;
        let items = drop
            .items
            .iter()
            .map(|(sku, item)| StockItem {
                sku: sku.clone(),
                state: match item.remaining {
                    0 => "sold_out",
                    n if n <= LOW_AT => "low",
                    _ => "in_stock",
                },
                available: item.remaining,
            })
            .collect();
        Ok(Stock {
            drop: slug.to_owned(),
            server_time: rfc3339::format(now),
            status: self.status(drop, now),
            items,
            poll_after_ms: POLL_AFTER_MS,
        })
    }

    /// `POST /drops/{slug}/holds`: reserves `quantity` units of a SKU for `customer`, or
    /// replays the answer already given for the same key. Replays are keyed by drop and key,
    /// not by customer: a retry whose first response (and its cookie) was lost arrives as a
    /// new customer, and must still not create a second hold.
    pub(crate) fn hold(
        &mut self,
        slug: &str,
        customer: &str,
        key: &str,
        request: HoldRequest,
        now: OffsetDateTime,
    ) -> Result<HoldCreated, Refusal> {
        self.expire(now);
        if key.is_empty() || key.len() > 255 || request.quantity == 0 {
            return Err(Refusal::InvalidRequest);
        }
        let record = (slug.to_owned(), key.to_owned());
        if let Some((earlier, reply)) = self.replies.get(&record) {
            return if *earlier == request { reply.clone() } else { Err(Refusal::IdempotencyConflict) };
        }
        let reply = self.try_hold(slug, customer, key, &request, now);
        self.replies.insert(record, (request, reply.clone()));
        reply
    }

    fn try_hold(
        &mut self,
        slug: &str,
        customer: &str,
        key: &str,
        request: &HoldRequest,
        now: OffsetDateTime,
    ) -> Result<HoldCreated, Refusal> {
        let drop = self.drops.get(slug).ok_or(Refusal::UnknownDrop)?;
        let item = drop.items.get(&request.sku).ok_or(Refusal::UnknownSku)?;
        if self.status(drop, now) != Status::Live {
            return Err(Refusal::NotLive);
        }
        if let Some(limit) = item.limit {
            let held: u32 = self
                .holds
                .values()
                .filter(|hold| hold.customer == customer && hold.drop == slug && hold.sku == request.sku)
                .map(|hold| hold.quantity)
                .sum();
            if held.saturating_add(request.quantity) > limit {
                return Err(Refusal::LimitReached);
            }
        }
        if item.remaining < request.quantity {
            return Err(Refusal::SoldOut);
        }
        // Before any change, so a clock moved to the end of time cannot leak stock.
        let expires_at = now.checked_add(HOLD_TTL).ok_or(Refusal::InvalidRequest)?;
        let item = self
            .drops
            .get_mut(slug)
            .and_then(|drop| drop.items.get_mut(&request.sku))
            .ok_or(Refusal::UnknownSku)?;
        item.remaining -= request.quantity;
        let id = format!("h_{}", self.next_hold);
        self.next_hold += 1;
        let hold = Hold {
            id: id.clone(),
            drop: slug.to_owned(),
            sku: request.sku.clone(),
            customer: customer.to_owned(),
            quantity: request.quantity,
            idempotency_key: key.to_owned(),
            expires_at,
        };
        self.holds.insert(id.clone(), hold);
        Ok(HoldCreated {
            checkout_url: format!("/_dropgen/checkout?hold={id}&token={}", token(&id)),
            hold_id: id,
            expires_at: rfc3339::format(expires_at),
        })
    }
}

/// The mock's "signed, single-use purchase token": a hash of the hold id, enough to show
/// where a real token goes.
pub(crate) fn token(hold_id: &str) -> String {
    use sha2::Digest as _;
    let hash = sha2::Sha256::digest(format!("dropgen-mock:{hold_id}").as_bytes());
    crate::output::hex(&hash[..8])
}

#[cfg(test)]
mod tests;
