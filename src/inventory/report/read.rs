//! The report's IO: a drop's log, streamed into a [`Tally`] from either backend, read-only.
//! SQLite is opened read-only (in WAL mode a reader never blocks the service's writer); a
//! Redis stream is read with `XRANGE` in pages.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use super::figures::Tally;
use crate::inventory::machine::Event;
use crate::inventory::observation::Observation;
use crate::inventory::store::{Backend, RedisTarget, read_redis_log};

/// Entries per `XRANGE` page (fewer in tests, so that they read several pages).
const PAGE: usize = if cfg!(test) { 16 } else { 5_000 };

/// Why a drop's log could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReadError {
    #[error(
        "`{}`: no such database\n  = help: give the service's SQLite file with --database (or its settings file with --config)",
        path.display()
    )]
    NoDatabase { path: PathBuf },
    #[error("`{}`: {source}\n  = help: is it the inventory service's database, whole? A copy cut short cannot be read", path.display())]
    Sqlite { path: PathBuf, source: rusqlite::Error },
    #[error("`{}`: not an inventory event log (it has no `events` table)", path.display())]
    NotALog { path: PathBuf },
    #[error("{log}: the event log is empty: no drop was ever synced into it")]
    Empty { log: String },
    #[error("{log}: no events for drop `{drop}`\n  = help: the drops in this log: {known}")]
    UnknownDrop { log: String, drop: String, known: String },
    #[error("Redis at {target}: {reason}")]
    Redis { target: String, reason: String },
    #[error("the report's Redis reader could not start: {0}")]
    Runtime(String),
}

/// Reads `drop`'s whole log from `backend` into `tally`.
pub(crate) fn log(backend: &Backend, drop: &str, tally: &mut Tally) -> Result<(), ReadError> {
    match backend {
        Backend::Embedded(path) => sqlite(path, drop, tally),
        Backend::Redis(target) => redis(target, drop, tally),
        Backend::Memory => Err(ReadError::Empty { log: "memory".to_owned() }),
    }
}

/// The drop's events, then its observations, from the embedded store's database.
pub(crate) fn sqlite(path: &Path, drop: &str, tally: &mut Tally) -> Result<(), ReadError> {
    if !path.is_file() {
        return Err(ReadError::NoDatabase { path: path.to_owned() });
    }
    let sqlite = |source| ReadError::Sqlite { path: path.to_owned(), source };
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let connection = Connection::open_with_flags(path, flags).map_err(sqlite)?;
    connection.busy_timeout(std::time::Duration::from_secs(5)).map_err(sqlite)?;
    let tables = |name: &str| -> Result<bool, ReadError> {
        connection
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [name],
                |row| row.get::<_, i64>(0),
            )
            .map(|count| count > 0)
            .map_err(sqlite)
    };
    if !tables("events")? {
        return Err(ReadError::NotALog { path: path.to_owned() });
    }
    // One read transaction: events and observations of the same moment of the log.
    connection.execute_batch("BEGIN").map_err(sqlite)?;
    let mut query =
        connection.prepare("SELECT body FROM events WHERE drop_slug = ?1 ORDER BY seq").map_err(sqlite)?;
    let mut rows = query.query([drop]).map_err(sqlite)?;
    while let Some(row) = rows.next().map_err(sqlite)? {
        match row
            .get_ref(0)
            .map_err(sqlite)?
            .as_str()
            .ok()
            .and_then(|body| serde_json::from_str::<Event>(body).ok())
        {
            Some(event) => tally.event(&event),
            None => tally.unreadable(),
        }
    }
    if tally.events() == 0 {
        let known = known_drops(&connection).map_err(sqlite)?;
        return Err(no_drop(path.display().to_string(), drop, &known));
    }
    if tables("observations")? {
        let mut query = connection
            .prepare("SELECT body FROM observations WHERE drop_slug = ?1 ORDER BY seq")
            .map_err(sqlite)?;
        let mut rows = query.query([drop]).map_err(sqlite)?;
        while let Some(row) = rows.next().map_err(sqlite)? {
            let body = row.get_ref(0).map_err(sqlite)?;
            match body.as_str().ok().and_then(|body| serde_json::from_str::<Observation>(body).ok()) {
                Some(record) => tally.observation(&record),
                None => tally.unreadable(),
            }
        }
    }
    Ok(())
}

fn known_drops(connection: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut query = connection.prepare("SELECT DISTINCT drop_slug FROM events ORDER BY drop_slug")?;
    query.query_map([], |row| row.get(0))?.collect()
}

fn no_drop(log: String, drop: &str, known: &[String]) -> ReadError {
    if known.is_empty() {
        return ReadError::Empty { log };
    }
    let known = known.iter().map(|slug| format!("`{slug}`")).collect::<Vec<_>>().join(", ");
    ReadError::UnknownDrop { log, drop: drop.to_owned(), known }
}

/// The drop's stream on Redis. Observations come interleaved with the events; the figures
/// do not depend on their order relative to each other.
fn redis(target: &RedisTarget, drop: &str, tally: &mut Tally) -> Result<(), ReadError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| ReadError::Runtime(err.to_string()))?;
    let known = runtime
        .block_on(read_redis_log(target, drop, PAGE, |field, json| match field {
            "event" => match serde_json::from_str::<Event>(json) {
                Ok(event) => tally.event(&event),
                Err(_) => tally.unreadable(),
            },
            "observation" => match serde_json::from_str::<Observation>(json) {
                Ok(record) => tally.observation(&record),
                Err(_) => tally.unreadable(),
            },
            _ => tally.unreadable(),
        }))
        .map_err(|reason| ReadError::Redis { target: target.to_string(), reason })?;
    if tally.events() == 0 {
        return Err(no_drop(format!("Redis at {target}"), drop, &known));
    }
    Ok(())
}
