//! The mock inventory: the inventory service's own state machine (`inventory::machine`), in
//! memory, seeded from the site `serve` built, with knobs to force the state a preview shows.
//! Every decision (status, limits, stock, idempotency, expiry) is the production service's;
//! only the seeding and the knobs are the mock's. The HTTP layer (`mock_http.rs`) holds one
//! [`MockInventory`] under a mutex, so every operation is atomic.
//!
//! Time is an argument, which keeps expiry and status deterministic under test.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::inventory::Catalog;
use crate::inventory::machine::{Command, Control, HoldView, Inventory, Refusal, Reply, StockView};
use crate::model::Site;

/// Units each SKU starts with when neither the seed file nor the drop says.
pub(crate) const DEFAULT_STOCK: u32 = 20;
/// How long a hold reserves its units.
pub(crate) const HOLD_TTL: Duration = Duration::minutes(10);
/// The SKUs the forced `low` state leaves available.
const LOW_UNITS: u32 = 3;

/// The catalog the mock sells: the site's drops, each SKU with the units the seed file gives
/// it, else its `stock`, else [`DEFAULT_STOCK`]; every checkout at `checkout_url` (the
/// preview's stand-in for the shop).
pub(crate) fn catalog(site: &Site, units: &BTreeMap<String, u32>, checkout_url: &str) -> Catalog {
    let mut catalog = Catalog::of_site(site);
    for sku in catalog.drops.values_mut().flat_map(|drop| drop.skus.iter_mut()) {
        let (name, spec) = sku;
        spec.stock = Some(units.get(name).copied().or(spec.stock).unwrap_or(DEFAULT_STOCK));
        spec.checkout_url = checkout_url.to_owned();
    }
    catalog
}

/// A state to preview, forced on every drop (`--mock-state`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum MockState {
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

impl MockState {
    /// The operator's control that shows this state.
    fn control(self) -> Control {
        match self {
            MockState::Scheduled => Control::Scheduled,
            MockState::Upcoming => Control::Delayed,
            MockState::Live | MockState::Low | MockState::SoldOut => Control::Open,
            MockState::Paused => Control::Paused,
            MockState::Ended => Control::Ended,
        }
    }
}

/// The machine, and the state forced on it.
#[derive(Clone, Debug)]
pub(crate) struct MockInventory {
    inventory: Inventory,
    state: MockState,
    /// Each SKU's units left as seeded, by drop and SKU: what a state other than `low` and
    /// `sold-out` shows again.
    seeded: BTreeMap<String, BTreeMap<String, u32>>,
}

impl MockInventory {
    /// Loads `catalog` and forces `state`.
    pub(crate) fn new(catalog: &Catalog, state: MockState, now: OffsetDateTime) -> Self {
        let mut mock = MockInventory {
            inventory: Inventory::default(),
            state: MockState::Scheduled,
            seeded: BTreeMap::new(),
        };
        mock.remember_seed(catalog);
        let _ = mock.run(&Command::Sync { catalog: catalog.clone() }, now);
        mock.set_state(state, now);
        mock
    }

    fn run(&mut self, command: &Command, now: OffsetDateTime) -> Result<Reply, Refusal> {
        self.inventory.execute(command, now, HOLD_TTL).0
    }

    fn remember_seed(&mut self, catalog: &Catalog) {
        self.seeded = catalog
            .drops
            .iter()
            .map(|(slug, drop)| {
                let units =
                    drop.skus.iter().map(|(sku, spec)| (sku.clone(), spec.stock.unwrap_or(DEFAULT_STOCK)));
                (slug.clone(), units.collect())
            })
            .collect();
    }

    /// Takes new times, SKUs and limits after a rebuild, keeping the stock of known SKUs.
    pub(crate) fn reseed(&mut self, catalog: &Catalog, now: OffsetDateTime) {
        self.remember_seed(catalog);
        let mut catalog = catalog.clone();
        for (slug, drop) in &mut catalog.drops {
            let known = self.inventory.snapshot(slug).map(|snapshot| snapshot.skus).unwrap_or_default();
            for (sku, spec) in &mut drop.skus {
                if known.contains_key(sku) {
                    spec.stock = None;
                }
            }
        }
        let _ = self.run(&Command::Sync { catalog }, now);
    }

    pub(crate) fn state(&self) -> MockState {
        self.state
    }

    /// Forces a state on every drop, with that state's stock: `low` and `sold-out` leave 3 and 0
    /// units of every SKU, every other state the units it was seeded with (so `live` after
    /// `low` shows full stock again). Holds and sales stay.
    pub(crate) fn set_state(&mut self, state: MockState, now: OffsetDateTime) {
        self.state = state;
        let drops: Vec<String> = self.inventory.drops().map(str::to_owned).collect();
        for drop in drops {
            let _ = self.run(&Command::Control { drop: drop.clone(), control: state.control() }, now);
            let skus = self.inventory.snapshot(&drop).map(|snapshot| snapshot.skus).unwrap_or_default();
            for (sku, counts) in skus {
                let left = match state {
                    MockState::Low => LOW_UNITS,
                    MockState::SoldOut => 0,
                    _ => self
                        .seeded
                        .get(&drop)
                        .and_then(|units| units.get(&sku))
                        .copied()
                        .unwrap_or(DEFAULT_STOCK),
                };
                let stock = counts.held + counts.sold + left;
                let _ = self.run(&Command::SetStock { drop: drop.clone(), sku, stock }, now);
            }
        }
    }

    /// `GET /drops/{slug}/stock`, after the expiries due by `now`.
    pub(crate) fn stock(&mut self, slug: &str, now: OffsetDateTime) -> Result<StockView, Refusal> {
        self.inventory.expire(now);
        self.inventory.stock(slug, now)
    }

    /// `POST /drops/{slug}/holds`: a hold, or the one an earlier request with the same key made.
    pub(crate) fn hold(
        &mut self,
        slug: &str,
        customer: &str,
        key: &str,
        (sku, quantity): (&str, u32),
        now: OffsetDateTime,
    ) -> Result<HoldView, Refusal> {
        let command = Command::Hold {
            drop: slug.to_owned(),
            sku: sku.to_owned(),
            quantity,
            customer: customer.to_owned(),
            key: key.to_owned(),
        };
        match self.run(&command, now)? {
            Reply::Held { hold, .. } => Ok(hold),
            _ => Err(Refusal::InvalidRequest),
        }
    }

    /// A hold, whatever its state.
    pub(crate) fn find(&self, id: &str) -> Option<HoldView> {
        self.inventory.hold(id)
    }

    /// Active holds, soonest to expire first, each with the `Idempotency-Key` that made it.
    pub(crate) fn holds(&self) -> Vec<(HoldView, String)> {
        self.inventory
            .active_holds()
            .into_iter()
            .map(|hold| {
                let key = self.inventory.hold_key(&hold.hold_id).unwrap_or_default().to_owned();
                (hold, key)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
