//! Integration tests: the real `dropgen` binary on real fixture sites.

mod build;
mod errors;
mod examples;
mod readme;
mod scaffold;
mod support;
