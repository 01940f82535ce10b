//! The inventory's state machine: pure, single-threaded, time an argument.
//!
//! Every change goes through two steps, as in event sourcing:
//! - [`Inventory::decide`] looks at the state and a [`Command`] and answers with a [`Reply`]
//!   and the [`Event`]s that make it true, or a [`Refusal`]; it changes nothing;
//! - [`Inventory::apply`] folds one event into the state, with no decision left to take.
//!
//! The durable store keeps the events (they are also the per-drop event log a report reads)
//! and folds them again on start, so what was acknowledged is exactly what comes back. The
//! in-memory backend applies them and forgets. The Redis backend decides on the server, in one
//! script per command, and is tested against this machine as its oracle.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use super::catalog::{Catalog, CatalogDrop};

/// At or below this many units a SKU is `low` on the stock endpoint.
pub(crate) const LOW_AT: u32 = 5;
/// The longest `Idempotency-Key` accepted, as the contract says.
pub(crate) const MAX_KEY_LEN: usize = 255;
/// The most units one hold may take: no drop sells a pallet to one click.
pub(crate) const MAX_QUANTITY: u32 = 1000;

/// `upcoming`, `live`, `paused` or `ended`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Status {
    Upcoming,
    Live,
    Paused,
    Ended,
}

/// What an operator decided about a drop's status, over its times.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Control {
    /// The drop's times decide: upcoming, live, then ended.
    #[default]
    Scheduled,
    /// Live now, whatever its start says (until its end, or an `end`).
    Open,
    /// Not on sale yet, whatever its start says: a drop opened late.
    Delayed,
    /// Stock shows; holds are refused as `not_live`.
    Paused,
    /// Over: nothing more is held (holds already made may still be confirmed until they
    /// expire, as the shop took their payment). `resume` gives the drop back to its times.
    Ended,
}

/// The state of a hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum HoldState {
    /// Reserved until `expires_at`.
    Active,
    /// Sold: the shop confirmed it.
    Confirmed,
    /// Given back before it expired.
    Released,
    /// Not paid for in time: its units went back to stock.
    Expired,
}

/// Why a command was refused: the contract's problem `code`s the machine can produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    SoldOut,
    LimitReached,
    NotLive,
    InvalidRequest,
    UnknownDrop,
    UnknownSku,
    UnknownHold,
    IdempotencyConflict,
    HoldExpired,
    HoldReleased,
    HoldConfirmed,
}

impl Refusal {
    /// Every refusal.
    pub(crate) const ALL: [Refusal; 11] = [
        Refusal::SoldOut,
        Refusal::LimitReached,
        Refusal::NotLive,
        Refusal::InvalidRequest,
        Refusal::UnknownDrop,
        Refusal::UnknownSku,
        Refusal::UnknownHold,
        Refusal::IdempotencyConflict,
        Refusal::HoldExpired,
        Refusal::HoldReleased,
        Refusal::HoldConfirmed,
    ];

    /// The problem's `code` and HTTP status.
    pub(crate) fn code(self) -> (&'static str, u16) {
        match self {
            Refusal::SoldOut => ("sold_out", 409),
            Refusal::LimitReached => ("limit_reached", 409),
            Refusal::NotLive => ("not_live", 409),
            Refusal::InvalidRequest => ("invalid_request", 400),
            Refusal::UnknownDrop => ("unknown_drop", 404),
            Refusal::UnknownSku => ("unknown_sku", 404),
            Refusal::UnknownHold => ("unknown_hold", 404),
            Refusal::IdempotencyConflict => ("idempotency_conflict", 422),
            Refusal::HoldExpired => ("hold_expired", 409),
            Refusal::HoldReleased => ("hold_released", 409),
            Refusal::HoldConfirmed => ("hold_confirmed", 409),
        }
    }

    /// The refusal a problem `code` names.
    pub(crate) fn from_code(code: &str) -> Option<Refusal> {
        Refusal::ALL.into_iter().find(|refusal| refusal.code().0 == code)
    }

    /// A sentence for the problem's `detail`.
    pub(crate) fn detail(self) -> &'static str {
        match self {
            Refusal::SoldOut => "no units left",
            Refusal::LimitReached => "this customer already holds or bought their limit of this SKU",
            Refusal::NotLive => "the drop is not live",
            Refusal::InvalidRequest => {
                "expected an `Idempotency-Key` of 1-255 visible ASCII characters and a body `{\"sku\", \"quantity\" 1-1000}`"
            }
            Refusal::UnknownDrop => "no such drop",
            Refusal::UnknownSku => "no such SKU in this drop",
            Refusal::UnknownHold => "no such hold",
            Refusal::IdempotencyConflict => "this `Idempotency-Key` was used with another body",
            Refusal::HoldExpired => "the hold expired: its units went back to stock",
            Refusal::HoldReleased => "the hold was released: its units went back to stock",
            Refusal::HoldConfirmed => "the hold is already confirmed: its token was used",
        }
    }
}

/// What the machine is asked to do. Who may ask what is the HTTP layer's business.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Command {
    /// A shopper reserves units (`POST /drops/{slug}/holds`).
    Hold { drop: String, sku: String, quantity: u32, customer: String, key: String },
    /// The shop sold the hold (`POST /holds/{id}/confirm`); `token_id` is the purchase
    /// token's `jti`, which must be the hold's. A retry with the same `key` gets the same
    /// answer; any other confirm of a confirmed hold is refused: a token works once.
    Confirm { hold: String, token_id: String, key: String },
    /// The shop gives the hold back (`POST /holds/{id}/release`).
    Release { hold: String },
    /// An operator's pause, resume, open or end.
    Control { drop: String, control: Control },
    /// An operator sets a SKU's total units (sold and held included).
    SetStock { drop: String, sku: String, stock: u32 },
    /// `inventory.json` loaded or pushed again: new drops and SKUs, new times, limits and
    /// stock; what is sold or held stays.
    Sync { catalog: Catalog },
}

/// A change of state, as stored in the event log. Each one carries the time it happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub(crate) enum Event {
    /// A drop's definition, from a sync: times, and every SKU's stock and limit.
    DropSynced {
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
        drop: String,
        definition: CatalogDrop,
    },
    HoldCreated {
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
        drop: String,
        hold: String,
        sku: String,
        quantity: u32,
        customer: String,
        key: String,
        #[serde(with = "time::serde::rfc3339")]
        expires_at: OffsetDateTime,
    },
    HoldConfirmed {
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
        drop: String,
        hold: String,
        /// The confirm's `Idempotency-Key`: its retries get the same answer.
        key: String,
    },
    HoldReleased {
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
        drop: String,
        hold: String,
    },
    /// At the hold's `expires_at`, whenever the machine noticed.
    HoldExpired {
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
        drop: String,
        hold: String,
    },
    ControlSet {
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
        drop: String,
        control: Control,
    },
    StockSet {
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
        drop: String,
        sku: String,
        stock: u32,
    },
}

impl Event {
    /// The drop the event belongs to: the event log is per drop.
    pub(crate) fn drop(&self) -> &str {
        match self {
            Event::DropSynced { drop, .. }
            | Event::HoldCreated { drop, .. }
            | Event::HoldConfirmed { drop, .. }
            | Event::HoldReleased { drop, .. }
            | Event::HoldExpired { drop, .. }
            | Event::ControlSet { drop, .. }
            | Event::StockSet { drop, .. } => drop,
        }
    }

    /// When it happened.
    pub(crate) fn at(&self) -> OffsetDateTime {
        match self {
            Event::DropSynced { at, .. }
            | Event::HoldCreated { at, .. }
            | Event::HoldConfirmed { at, .. }
            | Event::HoldReleased { at, .. }
            | Event::HoldExpired { at, .. }
            | Event::ControlSet { at, .. }
            | Event::StockSet { at, .. } => *at,
        }
    }

    /// The snake_case name, as in the log's `kind` column and the metrics.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Event::DropSynced { .. } => "drop_synced",
            Event::HoldCreated { .. } => "hold_created",
            Event::HoldConfirmed { .. } => "hold_confirmed",
            Event::HoldReleased { .. } => "hold_released",
            Event::HoldExpired { .. } => "hold_expired",
            Event::ControlSet { .. } => "control_set",
            Event::StockSet { .. } => "stock_set",
        }
    }
}

/// A successful command's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Reply {
    /// A new hold, or the one an earlier request with the same key made (`replayed`).
    Held { hold: HoldView, replayed: bool },
    /// The hold after a confirm or a release (the same on a repeated call).
    Hold(HoldView),
    /// A control or stock change, or a sync: the drop(s) it touched, and what to warn about.
    Done { warnings: Vec<String> },
}

/// What the shop reads of a hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct HoldView {
    pub(crate) hold_id: String,
    pub(crate) drop: String,
    pub(crate) sku: String,
    pub(crate) quantity: u32,
    pub(crate) customer: String,
    pub(crate) state: HoldState,
    #[serde(with = "time::serde::rfc3339")]
    pub(crate) created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub(crate) expires_at: OffsetDateTime,
}

/// The stock of one SKU, as the stock endpoint shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct StockItem {
    pub(crate) sku: String,
    pub(crate) state: &'static str,
    pub(crate) available: u32,
}

/// A drop's live status and stock, without the server time (which the HTTP layer adds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StockView {
    pub(crate) status: Status,
    pub(crate) items: Vec<StockItem>,
}

/// A SKU's counts, for metrics, the operator and the tests' invariants.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct SkuCounts {
    /// Total units: available + held + sold when nothing was set below what is out.
    pub(crate) stock: u32,
    pub(crate) held: u32,
    pub(crate) sold: u32,
    pub(crate) limit_per_customer: Option<u32>,
    /// Where a hold of this SKU checks out.
    pub(crate) checkout_url: String,
}

impl SkuCounts {
    pub(crate) fn available(&self) -> u32 {
        self.stock.saturating_sub(self.held.saturating_add(self.sold))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct HoldRecord {
    drop: String,
    sku: String,
    quantity: u32,
    customer: String,
    key: String,
    state: HoldState,
    created_at: OffsetDateTime,
    expires_at: OffsetDateTime,
    /// The key of the confirm that sold it.
    confirmed_by: Option<String>,
}

/// What decides a drop's status at a given time: its times and the operator's control.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Schedule {
    /// `None` until the catalog gives the drop's times: upcoming.
    pub(crate) starts_at: Option<OffsetDateTime>,
    pub(crate) ends_at: Option<OffsetDateTime>,
    pub(crate) control: Control,
}

impl Schedule {
    /// The status at `now`: the control over the times, and the end over a pause.
    pub(crate) fn status(&self, now: OffsetDateTime) -> Status {
        let ended = self.ends_at.is_some_and(|end| now >= end);
        match self.control {
            Control::Ended => Status::Ended,
            _ if ended => Status::Ended,
            Control::Paused => Status::Paused,
            Control::Open => Status::Live,
            Control::Delayed => Status::Upcoming,
            Control::Scheduled if self.starts_at.is_none_or(|start| now < start) => Status::Upcoming,
            Control::Scheduled => Status::Live,
        }
    }
}

/// A drop's status inputs and stock, as published to readers after each durable batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DropSnapshot {
    pub(crate) schedule: Schedule,
    pub(crate) skus: BTreeMap<String, SkuCounts>,
}

impl DropSnapshot {
    /// `GET /drops/{slug}/stock` at `now`.
    pub(crate) fn stock(&self, now: OffsetDateTime) -> StockView {
        let items = self
            .skus
            .iter()
            .map(|(sku, counts)| {
                let available = counts.available();
                let state = match available {
                    0 => "sold_out",
                    n if n <= LOW_AT => "low",
                    _ => "in_stock",
                };
                StockItem { sku: sku.clone(), state, available }
            })
            .collect();
        StockView { status: self.schedule.status(now), items }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct DropState {
    schedule: Schedule,
    skus: BTreeMap<String, SkuCounts>,
    /// Idempotency key → the hold it made; kept as long as the drop, so a retry always finds
    /// its first answer. Scoped to the drop, not the customer: a retry whose first response
    /// (and its cookie) was lost arrives as a new customer.
    keys: HashMap<String, String>,
    /// (customer, SKU) → units held or sold: what the per-customer limit counts.
    taken: HashMap<(String, String), u32>,
    /// Holds made in this drop so far: the next one is `h_<slug>_<holds_made + 1>`.
    holds_made: u64,
}

/// The whole inventory: every drop, hold and idempotency record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Inventory {
    drops: BTreeMap<String, DropState>,
    holds: HashMap<String, HoldRecord>,
    /// Active holds by expiry, so expiring is a range, not a scan.
    expiries: BTreeSet<(OffsetDateTime, String)>,
}

impl Inventory {
    /// The drops by slug, in order.
    pub(crate) fn drops(&self) -> impl Iterator<Item = &str> {
        self.drops.keys().map(String::as_str)
    }

    /// A drop's schedule and stock, for readers.
    pub(crate) fn snapshot(&self, drop: &str) -> Option<DropSnapshot> {
        let state = self.drops.get(drop)?;
        Some(DropSnapshot { schedule: state.schedule, skus: state.skus.clone() })
    }

    /// `GET /drops/{slug}/stock`, as of the last applied event (expire first for `now`).
    pub(crate) fn stock(&self, drop: &str, now: OffsetDateTime) -> Result<StockView, Refusal> {
        self.snapshot(drop).map(|snapshot| snapshot.stock(now)).ok_or(Refusal::UnknownDrop)
    }

    /// A SKU's counts.
    #[cfg(test)]
    pub(crate) fn counts(&self, drop: &str, sku: &str) -> Option<&SkuCounts> {
        self.drops.get(drop)?.skus.get(sku)
    }

    /// Units a customer holds or bought of a SKU.
    #[cfg(test)]
    pub(crate) fn taken(&self, drop: &str, customer: &str, sku: &str) -> u32 {
        self.drops
            .get(drop)
            .and_then(|state| state.taken.get(&(customer.to_owned(), sku.to_owned())))
            .copied()
            .unwrap_or(0)
    }

    /// A hold, as the shop reads it.
    pub(crate) fn hold(&self, id: &str) -> Option<HoldView> {
        self.holds.get(id).map(|record| view(id, record))
    }

    /// The `Idempotency-Key` of the request that made a hold.
    pub(crate) fn hold_key(&self, id: &str) -> Option<&str> {
        self.holds.get(id).map(|record| record.key.as_str())
    }

    /// The active holds, soonest to expire first.
    pub(crate) fn active_holds(&self) -> Vec<HoldView> {
        self.expiries.iter().filter_map(|(_, id)| self.hold(id)).collect()
    }

    /// The expiries due by `now`, oldest first: the events a store appends before anything
    /// else it decides at `now`.
    pub(crate) fn due(&self, now: OffsetDateTime) -> Vec<Event> {
        self.expiries
            .iter()
            .take_while(|(expires_at, _)| *expires_at <= now)
            .filter_map(|(expires_at, id)| {
                let record = self.holds.get(id)?;
                Some(Event::HoldExpired { at: *expires_at, drop: record.drop.clone(), hold: id.clone() })
            })
            .collect()
    }

    /// Decides a command at `now` with holds lasting `hold_ttl`. Expiries due by `now` must
    /// have been applied (a store applies [`Inventory::due`] first), so an expired hold is
    /// never confirmed and its units are never missing.
    pub(crate) fn decide(
        &self,
        command: &Command,
        now: OffsetDateTime,
        hold_ttl: Duration,
    ) -> Result<(Reply, Vec<Event>), Refusal> {
        match command {
            Command::Hold { drop, sku, quantity, customer, key } => {
                self.decide_hold(drop, sku, *quantity, customer, key, now, hold_ttl)
            }
            Command::Confirm { hold, token_id, key } => self.decide_confirm(hold, token_id, key, now),
            Command::Release { hold } => self.decide_release(hold, now),
            Command::Control { drop, control } => {
                let state = self.drops.get(drop).ok_or(Refusal::UnknownDrop)?;
                let events = if state.schedule.control == *control {
                    Vec::new()
                } else {
                    vec![Event::ControlSet { at: now, drop: drop.clone(), control: *control }]
                };
                Ok((Reply::Done { warnings: Vec::new() }, events))
            }
            Command::SetStock { drop, sku, stock } => {
                let state = self.drops.get(drop).ok_or(Refusal::UnknownDrop)?;
                let counts = state.skus.get(sku).ok_or(Refusal::UnknownSku)?;
                let warnings = below_out_warning(drop, sku, *stock, counts).into_iter().collect();
                let events = if counts.stock == *stock {
                    Vec::new()
                } else {
                    vec![Event::StockSet { at: now, drop: drop.clone(), sku: sku.clone(), stock: *stock }]
                };
                Ok((Reply::Done { warnings }, events))
            }
            Command::Sync { catalog } => Ok(self.decide_sync(catalog, now)),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn decide_hold(
        &self,
        drop: &str,
        sku: &str,
        quantity: u32,
        customer: &str,
        key: &str,
        now: OffsetDateTime,
        hold_ttl: Duration,
    ) -> Result<(Reply, Vec<Event>), Refusal> {
        if !valid_hold_request(quantity, customer, key) {
            return Err(Refusal::InvalidRequest);
        }
        let state = self.drops.get(drop).ok_or(Refusal::UnknownDrop)?;
        if let Some(id) = state.keys.get(key) {
            let record = self.holds.get(id).ok_or(Refusal::UnknownHold)?;
            return if record.sku == sku && record.quantity == quantity {
                Ok((Reply::Held { hold: view(id, record), replayed: true }, Vec::new()))
            } else {
                Err(Refusal::IdempotencyConflict)
            };
        }
        let counts = state.skus.get(sku).ok_or(Refusal::UnknownSku)?;
        if state.schedule.status(now) != Status::Live {
            return Err(Refusal::NotLive);
        }
        if let Some(limit) = counts.limit_per_customer {
            let taken = state.taken.get(&(customer.to_owned(), sku.to_owned())).copied().unwrap_or(0);
            if taken.saturating_add(quantity) > limit {
                return Err(Refusal::LimitReached);
            }
        }
        if counts.available() < quantity {
            return Err(Refusal::SoldOut);
        }
        // Checked before anything is promised, so a clock at the end of time cannot leak stock.
        let expires_at = now.checked_add(hold_ttl).ok_or(Refusal::InvalidRequest)?;
        let id = format!("h_{drop}_{}", state.holds_made + 1);
        let event = Event::HoldCreated {
            at: now,
            drop: drop.to_owned(),
            hold: id.clone(),
            sku: sku.to_owned(),
            quantity,
            customer: customer.to_owned(),
            key: key.to_owned(),
            expires_at,
        };
        let hold = HoldView {
            hold_id: id,
            drop: drop.to_owned(),
            sku: sku.to_owned(),
            quantity,
            customer: customer.to_owned(),
            state: HoldState::Active,
            created_at: now,
            expires_at,
        };
        Ok((Reply::Held { hold, replayed: false }, vec![event]))
    }

    fn decide_confirm(
        &self,
        id: &str,
        token_id: &str,
        key: &str,
        now: OffsetDateTime,
    ) -> Result<(Reply, Vec<Event>), Refusal> {
        if !valid_key(key) {
            return Err(Refusal::InvalidRequest);
        }
        let record = self.holds.get(id).ok_or(Refusal::UnknownHold)?;
        if token_id != id {
            return Err(Refusal::UnknownHold);
        }
        match record.state {
            HoldState::Active if record.expires_at <= now => Err(Refusal::HoldExpired),
            HoldState::Active => {
                let event = Event::HoldConfirmed {
                    at: now,
                    drop: record.drop.clone(),
                    hold: id.to_owned(),
                    key: key.to_owned(),
                };
                let mut hold = view(id, record);
                hold.state = HoldState::Confirmed;
                Ok((Reply::Hold(hold), vec![event]))
            }
            HoldState::Confirmed if record.confirmed_by.as_deref() == Some(key) => {
                Ok((Reply::Hold(view(id, record)), Vec::new()))
            }
            HoldState::Confirmed => Err(Refusal::HoldConfirmed),
            HoldState::Released => Err(Refusal::HoldReleased),
            HoldState::Expired => Err(Refusal::HoldExpired),
        }
    }

    fn decide_release(&self, id: &str, now: OffsetDateTime) -> Result<(Reply, Vec<Event>), Refusal> {
        let record = self.holds.get(id).ok_or(Refusal::UnknownHold)?;
        match record.state {
            HoldState::Active if record.expires_at <= now => Err(Refusal::HoldExpired),
            HoldState::Active => {
                let event = Event::HoldReleased { at: now, drop: record.drop.clone(), hold: id.to_owned() };
                let mut hold = view(id, record);
                hold.state = HoldState::Released;
                Ok((Reply::Hold(hold), vec![event]))
            }
            // Releasing twice is a retry: the same answer, nothing more.
            HoldState::Released => Ok((Reply::Hold(view(id, record)), Vec::new())),
            HoldState::Confirmed => Err(Refusal::HoldConfirmed),
            HoldState::Expired => Err(Refusal::HoldExpired),
        }
    }

    fn decide_sync(&self, catalog: &Catalog, now: OffsetDateTime) -> (Reply, Vec<Event>) {
        let mut warnings = Vec::new();
        let mut events = Vec::new();
        for (slug, definition) in &catalog.drops {
            let current = self.drops.get(slug);
            warnings.extend(sync_warnings(slug, definition, current.map(|state| &state.skus)));
            if current.is_none_or(|state| !same_definition(state, definition)) {
                events.push(Event::DropSynced {
                    at: now,
                    drop: slug.clone(),
                    definition: definition.clone(),
                });
            }
        }
        (Reply::Done { warnings }, events)
    }

    /// Folds one event into the state. Never refuses: whatever was decided and stored is
    /// applied as it was, so replaying the log gives back the state it was written from.
    pub(crate) fn apply(&mut self, event: &Event) {
        match event {
            Event::DropSynced { drop, definition, .. } => {
                let state = self.drops.entry(drop.clone()).or_default();
                state.schedule.starts_at = Some(definition.starts_at);
                state.schedule.ends_at = definition.ends_at;
                for (sku, spec) in &definition.skus {
                    let counts = state.skus.entry(sku.clone()).or_insert_with(|| SkuCounts {
                        stock: 0,
                        held: 0,
                        sold: 0,
                        limit_per_customer: None,
                        checkout_url: String::new(),
                    });
                    counts.checkout_url.clone_from(&spec.checkout_url);
                    if let Some(stock) = spec.stock {
                        counts.stock = stock;
                    }
                    counts.limit_per_customer = spec.limit_per_customer;
                }
            }
            Event::HoldCreated { at, drop, hold, sku, quantity, customer, key, expires_at } => {
                let state = self.drops.entry(drop.clone()).or_default();
                if let Some(counts) = state.skus.get_mut(sku) {
                    counts.held = counts.held.saturating_add(*quantity);
                }
                *state.taken.entry((customer.clone(), sku.clone())).or_default() += quantity;
                state.keys.insert(key.clone(), hold.clone());
                // The counter follows the largest seen, so a replayed log never hands out an
                // id twice.
                if let Some((_, n)) = split_hold_id(hold) {
                    state.holds_made = state.holds_made.max(n);
                }
                self.holds.insert(
                    hold.clone(),
                    HoldRecord {
                        drop: drop.clone(),
                        sku: sku.clone(),
                        quantity: *quantity,
                        customer: customer.clone(),
                        key: key.clone(),
                        state: HoldState::Active,
                        created_at: *at,
                        expires_at: *expires_at,
                        confirmed_by: None,
                    },
                );
                self.expiries.insert((*expires_at, hold.clone()));
            }
            Event::HoldConfirmed { hold, key, .. } => {
                self.finish(hold, HoldState::Confirmed);
                if let Some(record) = self.holds.get_mut(hold) {
                    record.confirmed_by = Some(key.clone());
                }
            }
            Event::HoldReleased { hold, .. } => self.finish(hold, HoldState::Released),
            Event::HoldExpired { hold, .. } => self.finish(hold, HoldState::Expired),
            Event::ControlSet { drop, control, .. } => {
                if let Some(state) = self.drops.get_mut(drop) {
                    state.schedule.control = *control;
                }
            }
            Event::StockSet { drop, sku, stock, .. } => {
                if let Some(counts) = self.drops.get_mut(drop).and_then(|state| state.skus.get_mut(sku)) {
                    counts.stock = *stock;
                }
            }
        }
    }

    /// An active hold ends: out of the expiry index; its units leave `held` for `sold`, or
    /// go back to stock and to the customer's allowance.
    fn finish(&mut self, id: &str, to: HoldState) {
        let Some(record) = self.holds.get_mut(id) else { return };
        if record.state != HoldState::Active {
            return;
        }
        record.state = to;
        self.expiries.remove(&(record.expires_at, id.to_owned()));
        let Some(state) = self.drops.get_mut(&record.drop) else { return };
        if let Some(counts) = state.skus.get_mut(&record.sku) {
            counts.held = counts.held.saturating_sub(record.quantity);
            if to == HoldState::Confirmed {
                counts.sold = counts.sold.saturating_add(record.quantity);
            }
        }
        if to != HoldState::Confirmed {
            let customer_key = (record.customer.clone(), record.sku.clone());
            if let Some(taken) = state.taken.get_mut(&customer_key) {
                *taken = taken.saturating_sub(record.quantity);
                if *taken == 0 {
                    state.taken.remove(&customer_key);
                }
            }
        }
    }

    /// Applies the expiries due by `now` and then decides and applies `command`: the whole
    /// step a store takes, for the in-memory backend and the tests.
    pub(crate) fn execute(
        &mut self,
        command: &Command,
        now: OffsetDateTime,
        hold_ttl: Duration,
    ) -> (Result<Reply, Refusal>, Vec<Event>) {
        let mut events = self.due(now);
        for event in &events {
            self.apply(event);
        }
        let reply = self.decide(command, now, hold_ttl).map(|(reply, decided)| {
            for event in &decided {
                self.apply(event);
            }
            events.extend(decided);
            reply
        });
        (reply, events)
    }

    /// Applies the expiries due by `now`, returning them.
    pub(crate) fn expire(&mut self, now: OffsetDateTime) -> Vec<Event> {
        let due = self.due(now);
        for event in &due {
            self.apply(event);
        }
        due
    }
}

fn view(id: &str, record: &HoldRecord) -> HoldView {
    HoldView {
        hold_id: id.to_owned(),
        drop: record.drop.clone(),
        sku: record.sku.clone(),
        quantity: record.quantity,
        customer: record.customer.clone(),
        state: record.state,
        created_at: record.created_at,
        expires_at: record.expires_at,
    }
}

/// A hold id's drop and number. Ids are `h_<slug>_<n>`, numbered per drop, so a backend that
/// keeps each drop apart (one Redis Cluster slot per drop) finds the hold's drop from its id.
pub(crate) fn split_hold_id(id: &str) -> Option<(&str, u64)> {
    let (drop, n) = id.strip_prefix("h_")?.rsplit_once('_')?;
    let n = n.parse().ok().filter(|_| !drop.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))?;
    Some((drop, n))
}

/// What a hold request must be before anything is looked up: a key, 1 to 1,000 units, and a
/// customer.
pub(crate) fn valid_hold_request(quantity: u32, customer: &str, key: &str) -> bool {
    valid_key(key) && (1..=MAX_QUANTITY).contains(&quantity) && !customer.is_empty()
}

/// 1-255 visible ASCII characters: what a UUID is, and nothing that could smuggle a header
/// or a log line.
pub(crate) fn valid_key(key: &str) -> bool {
    !key.is_empty() && key.len() <= MAX_KEY_LEN && key.bytes().all(|b| b.is_ascii_graphic())
}

/// What syncing `definition` over a drop's SKUs (`None`: a new drop) warns about: stock set
/// below what is out, a SKU with no stock at all, a SKU the catalog no longer has.
pub(crate) fn sync_warnings(
    slug: &str,
    definition: &CatalogDrop,
    current: Option<&BTreeMap<String, SkuCounts>>,
) -> Vec<String> {
    let mut warnings = Vec::new();
    for (sku, spec) in &definition.skus {
        match (current.and_then(|skus| skus.get(sku)), spec.stock) {
            (Some(counts), Some(stock)) => warnings.extend(below_out_warning(slug, sku, stock, counts)),
            (None, None) => warnings.push(format!(
                "drop `{slug}`: SKU `{sku}` has no `stock` in the catalog, so it starts with 0 units; give it `stock` in its drop.yaml or set it with `dropgen inventory stock`"
            )),
            _ => {}
        }
    }
    for sku in current.into_iter().flat_map(BTreeMap::keys).filter(|sku| !definition.skus.contains_key(*sku))
    {
        warnings.push(format!(
            "drop `{slug}`: SKU `{sku}` is no longer in the catalog; it keeps its holds and sales, set its stock to 0 to stop selling it"
        ));
    }
    warnings
}

pub(crate) fn below_out_warning(drop: &str, sku: &str, stock: u32, counts: &SkuCounts) -> Option<String> {
    let out = counts.held.saturating_add(counts.sold);
    (stock < out).then(|| {
        format!(
            "drop `{drop}`, SKU `{sku}`: stock {stock} is below the {out} units sold ({}) or held ({}); 0 are available",
            counts.sold, counts.held
        )
    })
}

fn same_definition(state: &DropState, definition: &CatalogDrop) -> bool {
    state.schedule.starts_at == Some(definition.starts_at)
        && state.schedule.ends_at == definition.ends_at
        && definition.skus.iter().all(|(sku, spec)| {
            state.skus.get(sku).is_some_and(|counts| {
                spec.stock.is_none_or(|stock| counts.stock == stock)
                    && counts.checkout_url == spec.checkout_url
                    && counts.limit_per_customer == spec.limit_per_customer
            })
        })
}

#[cfg(test)]
mod tests;
