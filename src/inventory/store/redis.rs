//! The Redis (or Valkey) store: for several service instances behind one load balancer.
//!
//! Each command is one call of `inventory.lua`, which decides and writes it atomically on the
//! server: the stock, the per-customer limit and the idempotency key are checked in the same
//! step as the hold is made, whichever instance the request reached. Every key of a drop
//! shares the hash tag `{d:<slug>}`, so a drop lives in one Cluster slot and the script runs
//! unchanged on Redis Cluster. Hold ids name their drop (`h_<slug>_<n>`), so a confirm finds
//! its slot from the id alone.
//!
//! Durability is the server's: with `appendonly yes` and `appendfsync always` Redis answers a
//! script only after its writes are in the fsynced append-only file, so an acknowledged hold
//! survives a SIGKILL of Redis or of the service. Every script is idempotent for a retried
//! request (a hold by its key, a confirm by its key, a release, a sync), so a client retry
//! after a lost reply never makes a second hold.
//!
//! `GET …/stock` reads a snapshot each instance refreshes after its own writes (before
//! answering an operator's change, so it reads its own writes; soon after a hold) and at least
//! every [`REFRESH_EVERY`]: a few hundred milliseconds behind other instances at most, under
//! the second a CDN caches it for.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::cluster::ClusterClient;
use ::redis::cluster_async::ClusterConnection;
use ::redis::{FromRedisValue, RedisResult, Script, ScriptInvocation};
use futures_util::{StreamExt as _, TryStreamExt as _};
use serde::Deserialize;
use time::{Duration, OffsetDateTime};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::{Observer, OpenError, Published, StoreError};
use crate::inventory::catalog::{Catalog, CatalogDrop};
#[cfg(test)]
use crate::inventory::machine::Inventory;
use crate::inventory::machine::{
    Command, Control, DropSnapshot, Event, HoldState, HoldView, Refusal, Reply, Schedule, SkuCounts,
    below_out_warning, split_hold_id, sync_warnings, valid_hold_request, valid_key,
};
use crate::inventory::observation::Observation;

/// The script: `machine.rs` in Lua.
const SCRIPT: &str = include_str!("inventory.lua");
/// The published stock is read again at least this often, for what other instances changed.
const REFRESH_EVERY: std::time::Duration = std::time::Duration::from_millis(250);
/// And at most this often, however many writes ask for it: reads coalesce under a crowd.
const REFRESH_GAP: std::time::Duration = std::time::Duration::from_millis(20);
/// Calls in flight at once when refreshing or expiring every drop.
const READS_IN_FLIGHT: usize = 64;
/// A server that does not answer within this is unavailable (`503`), not waited for.
const RESPONSE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Where the Redis store is, and the prefix of its keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RedisTarget {
    /// `redis://` or `rediss://` URLs: one server, or any nodes of a Cluster (the rest are
    /// discovered). One URL of a cluster-enabled server is taken as its Cluster.
    pub(crate) urls: Vec<String>,
    /// Put before every key, so several shops or tests can share a server.
    pub(crate) prefix: String,
}

impl RedisTarget {
    /// A drop's key prefix: the hash tag keeps all of a drop's keys in one Cluster slot.
    fn drop_key(&self, slug: &str) -> String {
        format!("{}{{d:{slug}}}", self.prefix)
    }

    /// The set of every drop's slug (a key of its own: its slot is not any drop's).
    fn drops_key(&self) -> String {
        format!("{}drops", self.prefix)
    }
}

impl fmt::Display for RedisTarget {
    /// The URLs without their passwords, for logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: Vec<String> = self
            .urls
            .iter()
            .map(|url| match url::Url::parse(url) {
                Ok(mut parsed) if parsed.password().is_some() => {
                    let _ = parsed.set_password(Some("***"));
                    parsed.to_string()
                }
                Ok(parsed) => parsed.to_string(),
                Err(_) => "(an unreadable URL)".to_owned(),
            })
            .collect();
        write!(f, "{}", shown.join(","))?;
        if !self.prefix.is_empty() {
            write!(f, " (keys prefixed `{}`)", self.prefix)?;
        }
        Ok(())
    }
}

/// A reconnecting connection to one server, or a Cluster connection that follows the slots.
#[derive(Clone)]
enum Connection {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl Connection {
    async fn open(target: &RedisTarget) -> RedisResult<Connection> {
        if let [url] = target.urls.as_slice() {
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(RESPONSE_TIMEOUT))
                .set_response_timeout(Some(RESPONSE_TIMEOUT));
            let mut single =
                ::redis::Client::open(url.as_str())?.get_connection_manager_with_config(config).await?;
            let info: String = ::redis::cmd("INFO").arg("cluster").query_async(&mut single).await?;
            if !info.contains("cluster_enabled:1") {
                return Ok(Connection::Single(single));
            }
        }
        let cluster = ClusterClient::builder(target.urls.iter().map(String::as_str))
            .connection_timeout(RESPONSE_TIMEOUT)
            .response_timeout(RESPONSE_TIMEOUT)
            .build()?;
        Ok(Connection::Cluster(cluster.get_async_connection().await?))
    }

    async fn query<T: FromRedisValue>(&self, command: &::redis::Cmd) -> RedisResult<T> {
        match self {
            Connection::Single(single) => command.query_async(&mut single.clone()).await,
            Connection::Cluster(cluster) => command.query_async(&mut cluster.clone()).await,
        }
    }

    async fn invoke(&self, invocation: &ScriptInvocation<'_>) -> RedisResult<Vec<String>> {
        match self {
            Connection::Single(single) => invocation.invoke_async(&mut single.clone()).await,
            Connection::Cluster(cluster) => invocation.invoke_async(&mut cluster.clone()).await,
        }
    }
}

/// What a script call decided (a reply, or the refusal's code), and the events it logged.
type Outcome = (Result<Reply, Option<String>>, Vec<Event>);

/// The fields of [`Command::Hold`], borrowed.
struct HoldRequest<'a> {
    drop: &'a str,
    sku: &'a str,
    quantity: u32,
    customer: &'a str,
    key: &'a str,
}

/// What the script answers, as JSON: one of these fields is set.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScriptReply {
    refused: Option<String>,
    held: Option<HoldRow>,
    replayed: Option<bool>,
    hold: Option<HoldRow>,
    /// The counts of the SKUs a stock change or a sync touched, before it.
    done: Option<BTreeMap<String, Counts>>,
    /// A sync made the drop.
    new: Option<bool>,
    snapshot: Option<SnapshotRow>,
}

#[derive(Debug, Deserialize)]
struct HoldRow {
    hold_id: String,
    drop: String,
    sku: String,
    quantity: u32,
    customer: String,
    state: HoldState,
    created: i64,
    expires: i64,
}

#[derive(Debug, Deserialize)]
struct Counts {
    stock: u32,
    held: u32,
    sold: u32,
    limit: Option<u32>,
    checkout_url: Option<String>,
}

#[derive(Debug, Deserialize)]
struct SnapshotRow {
    starts: Option<i64>,
    ends: Option<i64>,
    control: Control,
    skus: BTreeMap<String, Counts>,
}

impl Counts {
    fn into_sku(self) -> SkuCounts {
        SkuCounts {
            stock: self.stock,
            held: self.held,
            sold: self.sold,
            limit_per_customer: self.limit,
            checkout_url: self.checkout_url.unwrap_or_default(),
        }
    }
}

fn millis(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn from_millis(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

impl HoldRow {
    fn into_view(self) -> HoldView {
        HoldView {
            hold_id: self.hold_id,
            drop: self.drop,
            sku: self.sku,
            quantity: self.quantity,
            customer: self.customer,
            state: self.state,
            created_at: from_millis(self.created),
            expires_at: from_millis(self.expires),
        }
    }
}

impl SnapshotRow {
    fn into_snapshot(self) -> DropSnapshot {
        DropSnapshot {
            schedule: Schedule {
                starts_at: self.starts.map(from_millis),
                ends_at: self.ends.map(from_millis),
                control: self.control,
            },
            skus: self.skus.into_iter().map(|(sku, counts)| (sku, counts.into_sku())).collect(),
        }
    }
}

/// What every instance's parts share: the connection, the keys and what is published.
struct Shared {
    connection: Connection,
    target: RedisTarget,
    script: Script,
    published: RwLock<Arc<Published>>,
    /// Drops this instance changed since the refresher last read them.
    dirty: Mutex<BTreeSet<String>>,
    changed: Notify,
}

/// A slug that can be part of a key: anything else is no drop of ours (a catalog's slugs
/// are URL path segments).
fn keyable(slug: &str) -> bool {
    !slug.is_empty()
        && slug.len() <= 200
        && slug.bytes().all(|b| b.is_ascii_graphic() && b != b'{' && b != b'}')
}

impl Shared {
    /// Runs one operation of the script on a drop: the reply (a refusal included), and the
    /// events it appended.
    async fn call(
        &self,
        operation: &str,
        slug: &str,
        now_ms: i64,
        args: &[String],
    ) -> Result<(ScriptReply, Vec<Event>), StoreError> {
        let mut invocation = self.script.key(self.target.drop_key(slug));
        invocation.arg(operation).arg(now_ms).arg(slug);
        for arg in args {
            invocation.arg(arg);
        }
        let mut answer = self.connection.invoke(&invocation).await.map_err(unavailable)?.into_iter();
        let reply = answer.next().unwrap_or_default();
        let reply: ScriptReply = serde_json::from_str(&reply).map_err(|err| {
            StoreError::Unavailable(format!("the inventory script answered `{reply}`: {err}"))
        })?;
        let mut events = Vec::new();
        for json in answer {
            match serde_json::from_str::<Event>(&json) {
                Ok(event) => events.push(event),
                // Written, so not a reason to fail the command; the log still has it.
                Err(err) => eprintln!("inventory: an event from Redis was not understood ({err}): {json}"),
            }
        }
        // A refusal may come with events: the expiries due, written on the way to it.
        Ok((reply, events))
    }

    async fn drops(&self) -> Result<Vec<String>, StoreError> {
        let mut drops: Vec<String> = self
            .connection
            .query(::redis::cmd("SMEMBERS").arg(self.target.drops_key()))
            .await
            .map_err(unavailable)?;
        drops.sort_unstable();
        Ok(drops)
    }

    /// Reads every drop's schedule and stock and publishes them: for what other instances
    /// changed, and for expiries.
    async fn refresh(&self) -> Result<(), StoreError> {
        let drops = self.drops().await?;
        self.refresh_drops(drops).await
    }

    /// Reads these drops' schedule and stock and publishes them over the rest. The reads go
    /// out together (pipelined on the connection), so many drops cost one round trip's wait,
    /// not one per drop.
    async fn refresh_drops(&self, drops: impl IntoIterator<Item = String>) -> Result<(), StoreError> {
        let reads = futures_util::stream::iter(drops)
            .map(|slug| async move {
                let read = self.call("snapshot", &slug, 0, &[]).await;
                read.map(|(reply, _)| (slug, reply.snapshot))
            })
            .buffer_unordered(READS_IN_FLIGHT);
        let snapshots: Vec<(String, Option<SnapshotRow>)> = reads.try_collect().await?;
        let mut published = Published::clone(&self.published());
        for (slug, snapshot) in snapshots {
            if let Some(snapshot) = snapshot {
                published.insert(slug, Arc::new(snapshot.into_snapshot()));
            }
        }
        *self.published.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(published);
        Ok(())
    }

    /// Marks the drops `events` touched, for the refresher to read soon.
    fn touched(&self, events: &[Event]) {
        if events.is_empty() {
            return;
        }
        self.dirty
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(events.iter().map(|e| e.drop().to_owned()));
        self.changed.notify_one();
    }

    fn published(&self) -> Arc<Published> {
        Arc::clone(&self.published.read().unwrap_or_else(PoisonError::into_inner))
    }
}

fn unavailable(err: ::redis::RedisError) -> StoreError {
    StoreError::Unavailable(format!("Redis: {err}"))
}

/// Keeps the published stock fresh: the drops this instance changed, soon after (a hold is
/// the hot path: only its drop is read again, and writes within [`REFRESH_GAP`] share one
/// read), and every drop every [`REFRESH_EVERY`], for other instances' writes.
async fn refresh_loop(shared: Arc<Shared>) {
    loop {
        let refreshed = tokio::select! {
            () = shared.changed.notified() => {
                let dirty = std::mem::take(&mut *shared.dirty.lock().unwrap_or_else(PoisonError::into_inner));
                shared.refresh_drops(dirty).await
            }
            () = tokio::time::sleep(REFRESH_EVERY) => shared.refresh().await,
        };
        if let Err(err) = refreshed {
            eprintln!("inventory: could not read the stock from Redis: {err:?}");
        }
        tokio::time::sleep(REFRESH_GAP).await;
    }
}

/// A running Redis store. Dropping it stops its refresher.
pub(crate) struct RedisStore {
    shared: Arc<Shared>,
    refresher: JoinHandle<()>,
    hold_ttl: Duration,
    observer: Arc<dyn Observer>,
    /// The latest time seen (ms): time never runs backwards within an instance.
    clock: AtomicI64,
}

impl Drop for RedisStore {
    fn drop(&mut self) {
        self.refresher.abort();
    }
}

impl RedisStore {
    pub(crate) async fn open(
        target: &RedisTarget,
        catalog: Option<&Catalog>,
        hold_ttl: Duration,
        observer: Arc<dyn Observer>,
        now: OffsetDateTime,
    ) -> Result<(RedisStore, Vec<String>), OpenError> {
        let failed = |reason: String| OpenError::Redis { target: target.to_string(), reason };
        if target.prefix.contains(['{', '}']) {
            return Err(failed(format!(
                "the key prefix `{}` has a brace, which would break the drops' hash tags",
                target.prefix
            )));
        }
        let connection = Connection::open(target).await.map_err(|err| failed(err.to_string()))?;
        let shared = Arc::new(Shared {
            connection,
            target: target.clone(),
            script: Script::new(SCRIPT),
            published: RwLock::new(Arc::default()),
            dirty: Mutex::default(),
            changed: Notify::new(),
        });
        let refresher = tokio::spawn(refresh_loop(Arc::clone(&shared)));
        let store = RedisStore { shared, refresher, hold_ttl, observer, clock: AtomicI64::new(0) };
        let mut warnings = Vec::new();
        if let Some(catalog) = catalog {
            match store.execute(Command::Sync { catalog: catalog.clone() }, now).await {
                Ok(Reply::Done { warnings: sync_warnings }) => warnings = sync_warnings,
                Ok(_) => {}
                Err(err) => return Err(failed(format!("could not load the catalog: {err:?}"))),
            }
        }
        store.shared.refresh().await.map_err(|err| failed(format!("{err:?}")))?;
        Ok((store, warnings))
    }

    /// `now` in milliseconds, never before the latest seen.
    fn tick(&self, now: OffsetDateTime) -> i64 {
        let now = millis(now);
        self.clock.fetch_max(now, Ordering::Relaxed).max(now)
    }

    pub(crate) async fn execute(&self, command: Command, now: OffsetDateTime) -> Result<Reply, StoreError> {
        let now_ms = self.tick(now);
        let now = from_millis(now_ms);
        let (reply, events) = match &command {
            Command::Hold { drop, sku, quantity, customer, key } => {
                self.hold(HoldRequest { drop, sku, quantity: *quantity, customer, key }, now, now_ms).await?
            }
            Command::Confirm { hold, token_id, key } => {
                if !valid_key(key) {
                    return Err(Refusal::InvalidRequest.into());
                }
                let drop = match split_hold_id(hold) {
                    Some((drop, _)) if token_id == hold && keyable(drop) => drop,
                    _ => return Err(Refusal::UnknownHold.into()),
                };
                let (reply, events) =
                    self.shared.call("confirm", drop, now_ms, &[hold.clone(), key.clone()]).await?;
                (reply.hold.map(|hold| Reply::Hold(hold.into_view())).ok_or(reply.refused), events)
            }
            Command::Release { hold } => {
                let Some(drop) = split_hold_id(hold).map(|(drop, _)| drop).filter(|drop| keyable(drop))
                else {
                    return Err(Refusal::UnknownHold.into());
                };
                let (reply, events) =
                    self.shared.call("release", drop, now_ms, std::slice::from_ref(hold)).await?;
                (reply.hold.map(|hold| Reply::Hold(hold.into_view())).ok_or(reply.refused), events)
            }
            Command::Control { drop, control } => {
                if !keyable(drop) {
                    return Err(Refusal::UnknownDrop.into());
                }
                let control =
                    serde_json::to_value(control).ok().and_then(|value| value.as_str().map(str::to_owned));
                let (reply, events) =
                    self.shared.call("control", drop, now_ms, &[control.unwrap_or_default()]).await?;
                (reply.done.map(|_| Reply::Done { warnings: Vec::new() }).ok_or(reply.refused), events)
            }
            Command::SetStock { drop, sku, stock } => self.set_stock(drop, sku, *stock, now_ms).await?,
            Command::Sync { catalog } => self.sync(catalog, now_ms).await?,
        };
        self.observer.events(&events);
        let operator =
            matches!(command, Command::Control { .. } | Command::SetStock { .. } | Command::Sync { .. });
        if operator && !events.is_empty() {
            // An operator's change shows on this instance's stock at once (it is rare; a hold
            // is not, and its refresh coalesces with the next ones in the refresher).
            let drops: BTreeSet<String> = events.iter().map(|event| event.drop().to_owned()).collect();
            if let Err(err) = self.shared.refresh_drops(drops).await {
                eprintln!("inventory: could not read the stock from Redis: {err:?}");
            }
        } else {
            self.shared.touched(&events);
        }
        reply.map_err(|refused| match refused.as_deref().and_then(Refusal::from_code) {
            Some(refusal) => StoreError::Refused(refusal),
            None => StoreError::Unavailable(format!("the inventory script refused with `{refused:?}`")),
        })
    }

    async fn hold(
        &self,
        request: HoldRequest<'_>,
        now: OffsetDateTime,
        now_ms: i64,
    ) -> Result<Outcome, StoreError> {
        let HoldRequest { drop, sku, quantity, customer, key } = request;
        if !valid_hold_request(quantity, customer, key) {
            return Err(Refusal::InvalidRequest.into());
        }
        if !keyable(drop) {
            return Err(Refusal::UnknownDrop.into());
        }
        let ttl_ms = i64::try_from(self.hold_ttl.whole_milliseconds()).unwrap_or(i64::MAX);
        let fits = now.checked_add(self.hold_ttl).is_some();
        let args = [
            sku.to_owned(),
            quantity.to_string(),
            customer.to_owned(),
            key.to_owned(),
            ttl_ms.to_string(),
            if fits { "1" } else { "0" }.to_owned(),
        ];
        let (reply, events) = self.shared.call("hold", drop, now_ms, &args).await?;
        let reply = match reply.held {
            Some(hold) => {
                Ok(Reply::Held { hold: hold.into_view(), replayed: reply.replayed.unwrap_or(false) })
            }
            None => Err(reply.refused),
        };
        Ok((reply, events))
    }

    async fn set_stock(&self, drop: &str, sku: &str, stock: u32, now_ms: i64) -> Result<Outcome, StoreError> {
        if !keyable(drop) {
            return Err(Refusal::UnknownDrop.into());
        }
        let (reply, events) =
            self.shared.call("stock", drop, now_ms, &[sku.to_owned(), stock.to_string()]).await?;
        let warnings = |before: BTreeMap<String, Counts>| {
            let counts = before.into_values().next().map(Counts::into_sku);
            counts.and_then(|counts| below_out_warning(drop, sku, stock, &counts)).into_iter().collect()
        };
        Ok((reply.done.map(|before| Reply::Done { warnings: warnings(before) }).ok_or(reply.refused), events))
    }

    /// A sync is one script per drop (each drop is its own atomic unit, in its own slot).
    async fn sync(&self, catalog: &Catalog, now_ms: i64) -> Result<Outcome, StoreError> {
        let mut warnings = Vec::new();
        let mut events = Vec::new();
        for (slug, definition) in &catalog.drops {
            if !keyable(slug) {
                warnings
                    .push(format!("drop `{slug}`: this slug cannot be a Redis key, so the drop is not sold"));
                continue;
            }
            // Before the drop's own keys: a drop in the set but not yet synced reads as none.
            let _: i64 = self
                .shared
                .connection
                .query(::redis::cmd("SADD").arg(self.shared.target.drops_key()).arg(slug))
                .await
                .map_err(unavailable)?;
            let (reply, made) = self.shared.call("sync", slug, now_ms, &sync_args(definition)).await?;
            events.extend(made);
            let current: Option<BTreeMap<String, SkuCounts>> = match (reply.done, reply.new) {
                (Some(before), _) => {
                    Some(before.into_iter().map(|(sku, counts)| (sku, counts.into_sku())).collect())
                }
                (None, Some(true)) => None,
                _ => return Ok((Err(reply.refused), events)),
            };
            warnings.extend(sync_warnings(slug, definition, current.as_ref()));
        }
        Ok((Ok(Reply::Done { warnings }), events))
    }

    pub(crate) async fn read_hold(&self, id: &str) -> Result<Option<HoldView>, StoreError> {
        let Some(drop) = split_hold_id(id).map(|(drop, _)| drop).filter(|drop| keyable(drop)) else {
            return Ok(None);
        };
        let (reply, _) = self.shared.call("read", drop, 0, &[id.to_owned()]).await?;
        Ok(reply.hold.map(HoldRow::into_view))
    }

    /// Expires what is due in every drop; the refresher publishes the drops it changed.
    pub(crate) async fn expire(&self, now: OffsetDateTime) {
        let now_ms = self.tick(now);
        let swept = async {
            let sweeps = futures_util::stream::iter(self.shared.drops().await?)
                .map(|slug| async move { self.shared.call("expire", &slug, now_ms, &[]).await })
                .buffer_unordered(READS_IN_FLIGHT);
            let swept: Vec<(ScriptReply, Vec<Event>)> = sweeps.try_collect().await?;
            for (_, events) in swept {
                self.observer.events(&events);
                self.shared.touched(&events);
            }
            Ok::<_, StoreError>(())
        };
        if let Err(err) = swept.await {
            eprintln!("inventory: could not expire holds in Redis: {err:?}");
        }
    }

    pub(crate) fn published(&self) -> Arc<Published> {
        self.shared.published()
    }

    /// Appends observation records to their drops' streams (field `observation`, where
    /// events have `event`); a failure loses the minute's counts, never a command.
    pub(crate) async fn observe(&self, records: Vec<Observation>) {
        for record in records.into_iter().filter(|record| keyable(&record.drop)) {
            let log = format!("{}:log", self.shared.target.drop_key(&record.drop));
            let body = serde_json::to_string(&record).unwrap_or_default();
            let command = ::redis::cmd("XADD").arg(log).arg("*").arg("observation").arg(body).clone();
            if let Err(err) = self.shared.connection.query::<String>(&command).await {
                eprintln!("inventory: could not append an observation to Redis: {err}");
            }
        }
    }

    /// A drop as the server has it now.
    pub(crate) async fn current(&self, drop: &str) -> Result<Option<Arc<DropSnapshot>>, StoreError> {
        if !keyable(drop) {
            return Ok(None);
        }
        let (reply, _) = self.shared.call("snapshot", drop, 0, &[]).await?;
        Ok(reply.snapshot.map(|snapshot| Arc::new(snapshot.into_snapshot())))
    }

    /// Every drop's event log folded, once what is due is expired; and the live counters the
    /// script keeps must be what that fold says.
    #[cfg(test)]
    pub(crate) async fn inventory(&self) -> Inventory {
        let now = from_millis(self.clock.load(Ordering::Relaxed));
        self.expire(now).await;
        let mut inventory = Inventory::default();
        for slug in self.shared.drops().await.unwrap() {
            let log = format!("{}:log", self.shared.target.drop_key(&slug));
            let entries: Vec<(String, Vec<String>)> = self
                .shared
                .connection
                .query(::redis::cmd("XRANGE").arg(log).arg("-").arg("+"))
                .await
                .unwrap();
            // Observations are no events: the fold skips them.
            for (_, fields) in entries.into_iter().filter(|(_, fields)| fields[0] == "event") {
                inventory.apply(&serde_json::from_str(&fields[1]).unwrap());
            }
        }
        self.shared.refresh().await.unwrap();
        let published = self.published();
        for slug in inventory.drops() {
            assert_eq!(
                published.get(slug).map(|snapshot| &**snapshot),
                inventory.snapshot(slug).as_ref(),
                "{slug}"
            );
        }
        inventory
    }
}

/// Reads a drop's log stream in pages of `page` entries (`XRANGE` from after the last one
/// read), handing each entry's field (`event` or `observation`) and JSON to `each`; then
/// every drop's slug, for an error naming the drops there are. Reads only.
pub(crate) async fn read_log(
    target: &RedisTarget,
    slug: &str,
    page: usize,
    mut each: impl FnMut(&str, &str),
) -> Result<Vec<String>, String> {
    let connection = Connection::open(target).await.map_err(|err| err.to_string())?;
    if keyable(slug) {
        let log = format!("{}:log", target.drop_key(slug));
        let mut from = "-".to_owned();
        loop {
            let command = ::redis::cmd("XRANGE").arg(&log).arg(&from).arg("+").arg("COUNT").arg(page).clone();
            let entries: Vec<(String, Vec<String>)> =
                connection.query(&command).await.map_err(|err| err.to_string())?;
            for (_, fields) in &entries {
                for pair in fields.chunks(2) {
                    if let [field, json] = pair {
                        each(field, json);
                    }
                }
            }
            match entries.last() {
                Some((id, _)) if entries.len() == page => from = format!("({id}"),
                _ => break,
            }
        }
    }
    let mut drops: Vec<String> = connection
        .query(::redis::cmd("SMEMBERS").arg(target.drops_key()))
        .await
        .map_err(|err| err.to_string())?;
    drops.sort_unstable();
    Ok(drops)
}

/// The sync script's arguments: the times, the definition as the event's JSON, and each
/// SKU's stock, limit and checkout URL.
fn sync_args(definition: &CatalogDrop) -> Vec<String> {
    let mut args = vec![
        millis(definition.starts_at).to_string(),
        definition.ends_at.map(|end| millis(end).to_string()).unwrap_or_default(),
        serde_json::to_string(definition).unwrap_or_default(),
    ];
    for (sku, spec) in &definition.skus {
        args.push(sku.clone());
        args.push(spec.stock.map(|stock| stock.to_string()).unwrap_or_default());
        args.push(spec.limit_per_customer.map(|limit| limit.to_string()).unwrap_or_default());
        args.push(spec.checkout_url.clone());
    }
    args
}
