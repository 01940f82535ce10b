//! How long-running stages report progress. The pipeline only counts; the CLI decides how it
//! looks (a bar on a terminal, periodic lines in CI logs, nothing with `--quiet`).

/// Receives progress from a stage; shared by the stage's worker threads.
pub(crate) trait Progress: Sync {
    /// A stage begins `total` units of work.
    fn start(&self, stage: &'static str, total: u64);
    /// `done` more units are finished.
    fn advance(&self, done: u64);
    /// The stage is over.
    fn finish(&self);
    /// The run is held up, waiting for another dropgen (a lock). Shown even where progress is
    /// not, because a run that silently hangs looks broken.
    fn waiting(&self, message: &str) {
        eprintln!("{message}");
    }
}

/// Reports nothing.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Silent;

impl Progress for Silent {
    fn start(&self, _stage: &'static str, _total: u64) {}
    fn advance(&self, _done: u64) {}
    fn finish(&self) {}
}
