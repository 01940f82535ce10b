//! The embedded backend's durable event log: one SQLite database (WAL, `synchronous=FULL`),
//! one row per [`Event`], in the order they were decided; beside it, one row per
//! [`Observation`] (a minute's refusals, latency and beacons, for reports), which the fold
//! never reads.
//!
//! The log is the store: the state is the fold of its events, rebuilt on start, so there is
//! no second copy of the truth to drift from it. A batch of events is one transaction, and
//! the writer answers the requests behind it only once the commit has returned, which with
//! `synchronous=FULL` means the WAL was fsynced: a SIGKILL (or, on a disk that honours
//! flushes, a power loss) after an answer loses nothing that answer said.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, params};

use super::machine::{Event, Inventory};
use super::observation::Observation;

/// The schema's version, in `PRAGMA user_version`: a database of another version is refused.
/// The `observations` table came later without a new version: it is created where missing,
/// and a dropgen without it never reads it.
const SCHEMA_VERSION: i64 = 1;

/// The observations' table, added to new and older databases alike.
const OBSERVATIONS: &str = "CREATE TABLE IF NOT EXISTS observations (
        seq INTEGER PRIMARY KEY,
        drop_slug TEXT NOT NULL,
        minute TEXT NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS observations_by_drop ON observations (drop_slug, seq);";

/// Why the log could not be opened, read or written.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LogError {
    #[error("`{}`: {source}", path.display())]
    Sqlite { path: PathBuf, source: rusqlite::Error },
    #[error("`{}`: event {seq} is not one this dropgen reads ({message})", path.display())]
    Event { path: PathBuf, seq: i64, message: String },
    #[error("cannot start the store's writer thread: {0}")]
    Thread(std::io::Error),
    #[error(
        "`{}`: its schema is version {found}, this dropgen reads version {SCHEMA_VERSION}; run the dropgen that wrote it, or start a new database",
        path.display()
    )]
    Version { path: PathBuf, found: i64 },
}

/// An open event log.
pub(crate) struct EventLog {
    connection: Connection,
    path: PathBuf,
}

impl EventLog {
    /// Opens (or creates) the database at `path`.
    pub(crate) fn open(path: &Path) -> Result<EventLog, LogError> {
        let sqlite = |source| LogError::Sqlite { path: path.to_owned(), source };
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = Connection::open_with_flags(path, flags).map_err(sqlite)?;
        // WAL: one fsync per commit, of the log only; FULL: that fsync happens before the
        // commit returns. A reader (a report) never blocks the writer.
        connection.pragma_update(None, "journal_mode", "WAL").map_err(sqlite)?;
        connection.pragma_update(None, "synchronous", "FULL").map_err(sqlite)?;
        // Another process holding the database (a report's read) waits, not fails.
        connection.busy_timeout(std::time::Duration::from_secs(5)).map_err(sqlite)?;
        let found: i64 =
            connection.pragma_query_value(None, "user_version", |row| row.get(0)).map_err(sqlite)?;
        let tables: i64 = connection
            .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table'", [], |row| row.get(0))
            .map_err(sqlite)?;
        if tables == 0 {
            connection
                .execute_batch(&format!(
                    "BEGIN;
                     CREATE TABLE events (
                         seq INTEGER PRIMARY KEY,
                         drop_slug TEXT NOT NULL,
                         at TEXT NOT NULL,
                         kind TEXT NOT NULL,
                         body TEXT NOT NULL
                     );
                     CREATE INDEX events_by_drop ON events (drop_slug, seq);
                     PRAGMA user_version = {SCHEMA_VERSION};
                     COMMIT;"
                ))
                .map_err(sqlite)?;
        } else if found != SCHEMA_VERSION {
            return Err(LogError::Version { path: path.to_owned(), found });
        }
        connection.execute_batch(OBSERVATIONS).map_err(sqlite)?;
        Ok(EventLog { connection, path: path.to_owned() })
    }

    /// Appends a batch of events and observations in one transaction; durable when this
    /// returns `Ok`.
    pub(crate) fn append(&mut self, events: &[Event], observations: &[Observation]) -> Result<(), LogError> {
        if events.is_empty() && observations.is_empty() {
            return Ok(());
        }
        let path = &self.path;
        let sqlite = |source| LogError::Sqlite { path: path.clone(), source };
        let transaction = self.connection.transaction().map_err(sqlite)?;
        {
            let mut insert = transaction
                .prepare_cached("INSERT INTO events (drop_slug, at, kind, body) VALUES (?1, ?2, ?3, ?4)")
                .map_err(sqlite)?;
            for event in events {
                let body = serde_json::to_string(event).unwrap_or_default();
                insert
                    .execute(params![event.drop(), crate::rfc3339::format(event.at()), event.kind(), body])
                    .map_err(sqlite)?;
            }
            let mut insert = transaction
                .prepare_cached("INSERT INTO observations (drop_slug, minute, body) VALUES (?1, ?2, ?3)")
                .map_err(sqlite)?;
            for observation in observations {
                let body = serde_json::to_string(observation).unwrap_or_default();
                let minute = crate::rfc3339::format(observation.minute);
                insert.execute(params![observation.drop, minute, body]).map_err(sqlite)?;
            }
        }
        transaction.commit().map_err(sqlite)
    }

    /// Every event in order, each handed to `each` with its sequence number.
    pub(crate) fn replay(&self, mut each: impl FnMut(i64, Event)) -> Result<(), LogError> {
        let sqlite = |source| LogError::Sqlite { path: self.path.clone(), source };
        let mut query =
            self.connection.prepare("SELECT seq, body FROM events ORDER BY seq").map_err(sqlite)?;
        let mut rows = query.query([]).map_err(sqlite)?;
        while let Some(row) = rows.next().map_err(sqlite)? {
            let seq: i64 = row.get(0).map_err(sqlite)?;
            let body: String = row.get(1).map_err(sqlite)?;
            let event = serde_json::from_str(&body).map_err(|err| LogError::Event {
                path: self.path.clone(),
                seq,
                message: err.to_string(),
            })?;
            each(seq, event);
        }
        Ok(())
    }

    /// The state the log describes.
    pub(crate) fn fold(&self) -> Result<Inventory, LogError> {
        let mut inventory = Inventory::default();
        self.replay(|_, event| inventory.apply(&event))?;
        Ok(inventory)
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::inventory::machine::Control;

    #[test]
    fn events_come_back_in_order_after_a_reopen() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("inventory.db");
        let at = datetime!(2026-11-20 15:00 UTC);
        let events = vec![
            Event::ControlSet { at, drop: "a".into(), control: Control::Paused },
            Event::ControlSet { at, drop: "b".into(), control: Control::Ended },
        ];
        EventLog::open(&path).unwrap().append(&events, &[]).unwrap();
        let mut seen = Vec::new();
        EventLog::open(&path).unwrap().replay(|_, event| seen.push(event)).unwrap();
        assert_eq!(seen, events);
    }

    #[test]
    fn observations_are_kept_beside_the_events_and_a_v1_database_gets_their_table() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("inventory.db");
        let at = datetime!(2026-11-20 15:00 UTC);
        let events = vec![Event::ControlSet { at, drop: "a".into(), control: Control::Paused }];
        // A database as the first dropgen of schema 1 made it: no observations table.
        EventLog::open(&path).unwrap().append(&events, &[]).unwrap();
        Connection::open(&path).unwrap().execute_batch("DROP TABLE observations").unwrap();
        let observation = Observation { drop: "a".into(), minute: at, ..Observation::default() };
        let mut log = EventLog::open(&path).unwrap();
        log.append(&[], std::slice::from_ref(&observation)).unwrap();
        let mut seen = Vec::new();
        log.replay(|_, event| seen.push(event)).unwrap();
        assert_eq!(seen, events);
        let body: String = Connection::open(&path)
            .unwrap()
            .query_row("SELECT body FROM observations", [], |row| row.get(0))
            .unwrap();
        assert_eq!(serde_json::from_str::<Observation>(&body).unwrap(), observation);
    }

    #[test]
    fn a_database_of_another_schema_version_is_refused() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("inventory.db");
        EventLog::open(&path).unwrap();
        Connection::open(&path).unwrap().pragma_update(None, "user_version", 7).unwrap();
        let err = EventLog::open(&path).err().unwrap();
        assert!(err.to_string().contains("version 7"), "{err}");
    }
}
