//! The storage seam: a [`Store`] runs commands against the inventory and publishes what
//! readers see. The HTTP layer talks to a `Store` only, so another backend (an edge object
//! per drop) slots in here without touching it.
//!
//! - `local.rs`: in memory, or embedded with its SQLite [`EventLog`](super::log::EventLog):
//!   one writer thread owns an [`Inventory`](super::machine::Inventory), with group commit;
//! - `redis.rs`: Redis or Valkey (Cluster too), where `inventory.lua` decides each command
//!   atomically on the server, for several service instances behind one load balancer.
//!
//! Both answer a command only once its events are durable, never answer a refusal with a
//! promise, and publish each drop's schedule and stock for `GET …/stock` to read without
//! queueing behind the writes.

mod local;
mod redis;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use time::{Duration, OffsetDateTime};

use super::catalog::Catalog;
use super::log::LogError;
#[cfg(test)]
use super::machine::Inventory;
use super::machine::{Command, DropSnapshot, Event, HoldView, Refusal, Reply, StockView};
use super::observation::Observation;
use local::LocalStore;
use redis::RedisStore;
pub(crate) use redis::{RedisTarget, read_log as read_redis_log};

/// Where the state lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Backend {
    /// In memory only: previews and tests. Lost when the process ends.
    Memory,
    /// An SQLite event log at this path: durable on one machine.
    Embedded(PathBuf),
    /// Redis or Valkey, a single server or a Cluster: shared by several service instances.
    Redis(RedisTarget),
}

/// Why a command got no answer from the machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum StoreError {
    /// The machine said no.
    Refused(Refusal),
    /// The store could not make the answer durable, or is overloaded: try again later.
    Unavailable(String),
}

impl From<Refusal> for StoreError {
    fn from(refusal: Refusal) -> Self {
        StoreError::Refused(refusal)
    }
}

/// Why a store could not be opened.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OpenError {
    #[error(transparent)]
    Log(#[from] LogError),
    #[error("Redis at {target}: {reason}")]
    Redis { target: String, reason: String },
}

/// What the writer publishes for readers: each drop's schedule and stock.
pub(crate) type Published = BTreeMap<String, Arc<DropSnapshot>>;

/// What a store reports to an observer (metrics, logs): the events made durable.
pub(crate) trait Observer: Send + Sync {
    fn events(&self, events: &[Event]);
}

/// An observer that looks at nothing.
pub(crate) struct Unobserved;

impl Observer for Unobserved {
    fn events(&self, _: &[Event]) {}
}

/// A running store of either kind.
pub(crate) enum Store {
    Local(LocalStore),
    Redis(RedisStore),
}

impl Store {
    /// Opens the backend, loads `catalog` when given (a sync: what is sold or held stays), and
    /// starts publishing. Returns the sync's warnings.
    pub(crate) async fn open(
        backend: &Backend,
        catalog: Option<&Catalog>,
        hold_ttl: Duration,
        observer: Arc<dyn Observer>,
        now: OffsetDateTime,
    ) -> Result<(Store, Vec<String>), OpenError> {
        let path = match backend {
            Backend::Memory => None,
            Backend::Embedded(path) => Some(path.as_path()),
            Backend::Redis(target) => {
                let (store, warnings) = RedisStore::open(target, catalog, hold_ttl, observer, now).await?;
                return Ok((Store::Redis(store), warnings));
            }
        };
        let (store, warnings) = LocalStore::open(path, catalog, hold_ttl, observer, now)?;
        Ok((Store::Local(store), warnings))
    }

    /// Runs a command at `now`; answered once its events are durable.
    pub(crate) async fn execute(&self, command: Command, now: OffsetDateTime) -> Result<Reply, StoreError> {
        match self {
            Store::Local(store) => store.execute(command, now).await,
            Store::Redis(store) => store.execute(command, now).await,
        }
    }

    /// Appends observation records to the log, with the writer's next batch; returns once
    /// they are written (or could not be: they are for reports, never worth a failure).
    pub(crate) async fn observe(&self, records: Vec<Observation>) {
        if records.is_empty() {
            return;
        }
        match self {
            Store::Local(store) => store.observe(records).await,
            Store::Redis(store) => store.observe(records).await,
        }
    }

    /// A hold as the store has it now.
    pub(crate) async fn read_hold(&self, id: &str) -> Result<Option<HoldView>, StoreError> {
        match self {
            Store::Local(store) => store.read_hold(id).await,
            Store::Redis(store) => store.read_hold(id).await,
        }
    }

    /// Expires the holds due by `now` (the service calls this every second, so stock comes
    /// back without waiting for the next command).
    pub(crate) async fn expire(&self, now: OffsetDateTime) {
        match self {
            Store::Local(store) => store.expire(now).await,
            Store::Redis(store) => store.expire(now).await,
        }
    }

    /// The whole state, folded from the event log where there is one, once every expiry due
    /// by the latest time seen is applied: for the tests' comparisons with the oracle.
    #[cfg(test)]
    pub(crate) async fn inventory(&self) -> Inventory {
        match self {
            Store::Local(store) => store.inventory().await,
            Store::Redis(store) => store.inventory().await,
        }
    }

    /// Every drop's schedule and stock, as last published.
    pub(crate) fn published(&self) -> Arc<Published> {
        match self {
            Store::Local(store) => store.published(),
            Store::Redis(store) => store.published(),
        }
    }

    /// A drop's schedule and stock as the store has them now, not as last published: what
    /// an operator reads.
    pub(crate) async fn current(&self, drop: &str) -> Result<Option<Arc<DropSnapshot>>, StoreError> {
        match self {
            Store::Local(store) => Ok(store.published().get(drop).cloned()),
            Store::Redis(store) => store.current(drop).await,
        }
    }

    /// `GET /drops/{slug}/stock` at `now`, without waiting for the writer.
    pub(crate) fn stock(&self, drop: &str, now: OffsetDateTime) -> Result<StockView, Refusal> {
        self.published().get(drop).map(|snapshot| snapshot.stock(now)).ok_or(Refusal::UnknownDrop)
    }

    /// What the service logs at start: where the state lives.
    pub(crate) fn describe(backend: &Backend) -> String {
        match backend {
            Backend::Memory => "memory".to_owned(),
            Backend::Embedded(path) => path.display().to_string(),
            Backend::Redis(target) => target.to_string(),
        }
    }
}

#[cfg(test)]
mod tests;
