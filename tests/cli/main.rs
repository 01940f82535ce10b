//! Integration tests: the real `dropgen` binary on real fixture sites.

mod architecture;
mod build;
mod ci_example;
mod deploy;
mod editor;
mod errors;
mod examples;
mod images;
mod inventory;
mod manifest;
mod readme;
#[path = "../redis/server.rs"]
mod redis_server;
mod regression;
mod reliability;
mod s3;
mod s3_cache;
mod scaffold;
mod serve;
mod shell;
mod support;
