//! The local store: in memory, or embedded with its SQLite [`EventLog`]. One writer thread
//! owns the state. It takes requests in batches: it decides and applies each one in turn,
//! appends the batch's events in one transaction (one fsync for the whole batch: group
//! commit), and only then sends the answers that promise something. A refusal promises
//! nothing and changes nothing, so it is answered at once and never waits for the disk. After
//! each batch it publishes a snapshot of the drops it touched, which `GET …/stock` reads
//! without queueing behind the writer.

use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};

use time::{Duration, OffsetDateTime};
use tokio::sync::{mpsc, oneshot};

use super::{Observer, Published, StoreError};
use crate::inventory::catalog::Catalog;
use crate::inventory::log::{EventLog, LogError};
use crate::inventory::machine::{Command, Event, HoldView, Inventory, Reply};
use crate::inventory::observation::Observation;

/// Requests waiting for the writer, at most; past this the store sheds load (`503`).
const QUEUE: usize = 16_384;
/// Requests decided in one batch, at most: bounds the wait of the first one in it.
const BATCH: usize = 1_024;

enum Job {
    Execute {
        command: Command,
        now: OffsetDateTime,
        reply: oneshot::Sender<Result<Reply, StoreError>>,
    },
    ReadHold {
        id: String,
        reply: oneshot::Sender<Option<HoldView>>,
    },
    Expire {
        now: OffsetDateTime,
    },
    /// Observation records to append with the next batch; `done` once they are durable.
    Observe {
        records: Vec<Observation>,
        done: oneshot::Sender<()>,
    },
    /// The whole state, for the tests' comparisons with the oracle.
    #[cfg(test)]
    Inspect {
        reply: oneshot::Sender<Inventory>,
    },
}

/// A running local store. Dropping it stops the writer once the queue is empty.
pub(crate) struct LocalStore {
    jobs: mpsc::Sender<Job>,
    published: Arc<RwLock<Arc<Published>>>,
}

impl LocalStore {
    /// Opens the backend, folds its log, loads `catalog` when given (a sync: what is sold or
    /// held stays), and starts the writer. Returns the sync's warnings.
    pub(crate) fn open(
        database: Option<&Path>,
        catalog: Option<&Catalog>,
        hold_ttl: Duration,
        observer: Arc<dyn Observer>,
        now: OffsetDateTime,
    ) -> Result<(LocalStore, Vec<String>), LogError> {
        let mut log = database.map(EventLog::open).transpose()?;
        let mut inventory = match &log {
            Some(log) => log.fold()?,
            None => Inventory::default(),
        };
        let mut warnings = Vec::new();
        if let Some(catalog) = catalog {
            let (reply, events) =
                inventory.execute(&Command::Sync { catalog: catalog.clone() }, now, hold_ttl);
            if let Ok(Reply::Done { warnings: sync_warnings }) = reply {
                warnings = sync_warnings;
            }
            if let Some(log) = &mut log {
                log.append(&events, &[])?;
            }
        }
        let published = Arc::new(RwLock::new(Arc::new(publish_all(&inventory))));
        let (jobs, queue) = mpsc::channel(QUEUE);
        let writer = Writer { inventory, log, hold_ttl, published: Arc::clone(&published), observer };
        std::thread::Builder::new()
            .name("inventory-writer".to_owned())
            .spawn(move || writer.run(queue))
            .map_err(LogError::Thread)?;
        Ok((LocalStore { jobs, published }, warnings))
    }

    /// Runs a command at `now`; answered once its events are durable.
    pub(crate) async fn execute(&self, command: Command, now: OffsetDateTime) -> Result<Reply, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.jobs.try_send(Job::Execute { command, now, reply }).map_err(|err| match err {
            mpsc::error::TrySendError::Full(_) => {
                StoreError::Unavailable("the store's queue is full".to_owned())
            }
            mpsc::error::TrySendError::Closed(_) => StoreError::Unavailable("the store stopped".to_owned()),
        })?;
        answer.await.unwrap_or_else(|_| Err(StoreError::Unavailable("the store stopped".to_owned())))
    }

    /// A hold as the writer sees it now.
    pub(crate) async fn read_hold(&self, id: &str) -> Result<Option<HoldView>, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::ReadHold { id: id.to_owned(), reply })
            .await
            .map_err(|_| StoreError::Unavailable("the store stopped".to_owned()))?;
        answer.await.map_err(|_| StoreError::Unavailable("the store stopped".to_owned()))
    }

    /// Expires the holds due by `now` (the service calls this every second, so stock comes
    /// back without waiting for the next command).
    pub(crate) async fn expire(&self, now: OffsetDateTime) {
        let _ = self.jobs.send(Job::Expire { now }).await;
    }

    /// Appends observation records with the writer's next batch (never a commit of their own
    /// in a request's way); returns once they are durable, or the store stopped.
    pub(crate) async fn observe(&self, records: Vec<Observation>) {
        let (done, written) = oneshot::channel();
        if self.jobs.send(Job::Observe { records, done }).await.is_ok() {
            let _ = written.await;
        }
    }

    /// The writer's whole state.
    #[cfg(test)]
    pub(crate) async fn inventory(&self) -> Inventory {
        let (reply, answer) = oneshot::channel();
        self.jobs.send(Job::Inspect { reply }).await.unwrap();
        answer.await.unwrap()
    }

    /// Every drop's schedule and stock, as of the last durable batch.
    pub(crate) fn published(&self) -> Arc<Published> {
        Arc::clone(&self.published.read().unwrap_or_else(PoisonError::into_inner))
    }
}

struct Writer {
    inventory: Inventory,
    log: Option<EventLog>,
    hold_ttl: Duration,
    published: Arc<RwLock<Arc<Published>>>,
    observer: Arc<dyn Observer>,
}

/// An answer that waits for the batch to be durable.
struct Pending {
    reply: oneshot::Sender<Result<Reply, StoreError>>,
    answer: Reply,
}

impl Writer {
    fn run(mut self, mut queue: mpsc::Receiver<Job>) {
        let mut batch = Vec::with_capacity(BATCH);
        // Time never runs backwards inside the machine, whatever order requests arrive in.
        let mut clock = OffsetDateTime::UNIX_EPOCH;
        while queue.blocking_recv_many(&mut batch, BATCH) > 0 {
            let mut events = Vec::new();
            let mut pending = Vec::new();
            let mut observations = Vec::new();
            let mut observed = Vec::new();
            for job in batch.drain(..) {
                match job {
                    Job::Execute { command, now, reply } => {
                        clock = clock.max(now);
                        let (answer, made) = self.inventory.execute(&command, clock, self.hold_ttl);
                        events.extend(made);
                        match answer {
                            Ok(answer) => pending.push(Pending { reply, answer }),
                            // Refusing promises nothing, even on state not yet durable.
                            Err(refusal) => drop(reply.send(Err(StoreError::Refused(refusal)))),
                        }
                    }
                    Job::ReadHold { id, reply } => drop(reply.send(self.inventory.hold(&id))),
                    Job::Expire { now } => {
                        clock = clock.max(now);
                        events.extend(self.inventory.expire(clock));
                    }
                    Job::Observe { records, done } => {
                        observations.extend(records);
                        observed.push(done);
                    }
                    #[cfg(test)]
                    Job::Inspect { reply } => drop(reply.send(self.inventory.clone())),
                }
            }
            let durable = match &mut self.log {
                Some(log) => log.append(&events, &observations),
                None => Ok(()),
            };
            match durable {
                Ok(()) => {
                    self.publish(&events);
                    self.observer.events(&events);
                    for Pending { reply, answer } in pending {
                        let _ = reply.send(Ok(answer));
                    }
                    for done in observed {
                        let _ = done.send(());
                    }
                }
                Err(err) => {
                    // The state ran ahead of the disk: go back to what the disk says, and
                    // promise nothing of this batch.
                    eprintln!("inventory: could not write the event log: {err}");
                    if let Some(Ok(inventory)) = self.log.as_ref().map(EventLog::fold) {
                        self.inventory = inventory;
                    }
                    *self.published.write().unwrap_or_else(PoisonError::into_inner) =
                        Arc::new(publish_all(&self.inventory));
                    for Pending { reply, .. } in pending {
                        let _ =
                            reply.send(Err(StoreError::Unavailable(format!("the event log failed: {err}"))));
                    }
                }
            }
        }
    }

    /// Publishes the drops the events touched.
    fn publish(&self, events: &[Event]) {
        if events.is_empty() {
            return;
        }
        let mut touched: Vec<&str> = events.iter().map(Event::drop).collect();
        touched.sort_unstable();
        touched.dedup();
        let mut published = Published::clone(&self.published());
        for drop in touched {
            if let Some(snapshot) = self.inventory.snapshot(drop) {
                published.insert(drop.to_owned(), Arc::new(snapshot));
            }
        }
        *self.published.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(published);
    }

    fn published(&self) -> Arc<Published> {
        Arc::clone(&self.published.read().unwrap_or_else(PoisonError::into_inner))
    }
}

fn publish_all(inventory: &Inventory) -> Published {
    inventory
        .drops()
        .filter_map(|drop| Some((drop.to_owned(), Arc::new(inventory.snapshot(drop)?))))
        .collect()
}
