//! `dropgen inventory`: the live side of a drop, the service the pages' script calls
//! (`docs/inventory-api.md`). Not a build stage: it runs during the drop, from the catalog a
//! build wrote (`inventory.json`).
//!
//! - `machine.rs`: the pure state machine (decide, then apply events), every backend's oracle;
//! - `store.rs`: the storage seam, and the local store's single writer with group commit;
//! - `log.rs`: the embedded backend's durable SQLite event log;
//! - `catalog.rs`: `inventory.json`;
//! - `token.rs`: Ed25519 purchase tokens and the JWKS;
//! - `http.rs`: the routes (public, shop, operator), CORS, problems, rate limits;
//! - `metrics.rs`: Prometheus metrics;
//! - `observation.rs`: per-minute counts for reports (refusals, addresses, latency, beacons);
//! - `config.rs`: the settings file and its defaults;
//! - `service.rs`: the commands: serve, sync, keygen;
//! - `report/`: `dropgen inventory report`, the post-drop report from the log.
//!
//! All but `catalog.rs` (which `dropgen build` writes) need the `live` feature.

pub(crate) mod catalog;
#[cfg(feature = "live")]
pub(crate) mod config;
#[cfg(all(test, feature = "live"))]
pub(crate) mod contract;
#[cfg(feature = "live")]
pub(crate) mod http;
#[cfg(feature = "live")]
pub(crate) mod log;
#[cfg(feature = "live")]
pub(crate) mod machine;
#[cfg(feature = "live")]
pub(crate) mod metrics;
#[cfg(feature = "live")]
pub(crate) mod observation;
/// Real Redis servers for the tests, shared with the CLI tests.
#[cfg(all(test, feature = "live"))]
#[path = "../../tests/redis/server.rs"]
pub(crate) mod redis_server;
#[cfg(feature = "live")]
mod report;
#[cfg(feature = "live")]
mod service;
#[cfg(feature = "live")]
pub(crate) mod store;
#[cfg(feature = "live")]
pub(crate) mod token;

pub(crate) use catalog::{Catalog, FILE_NAME as CATALOG_FILE};
#[cfg(feature = "live")]
pub(crate) use report::{Format as ReportFormat, ReportOptions, run as report};
#[cfg(feature = "live")]
pub(crate) use service::{ServeArgs, keygen, serve, sync};
