//! Progress while building: a bar on a terminal, plain log lines elsewhere (CI logs).

use std::io::IsTerminal;

use crate::progress::{Progress, Silent};

/// A bar on a terminal, a line every few seconds in a log, nothing with `--quiet`.
pub(super) fn progress_for(quiet: bool) -> Box<dyn Progress> {
    if quiet {
        Box::new(Silent)
    } else if std::io::stderr().is_terminal() {
        Box::new(Bar(indicatif::ProgressBar::hidden()))
    } else {
        Box::new(LogLines::default())
    }
}

/// What a stage counts: `deploy` uploads files, the image stage makes variants.
fn unit(stage: &str) -> &'static str {
    if stage == "deploy" { "files" } else { "variants" }
}

struct Bar(indicatif::ProgressBar);

impl Progress for Bar {
    fn start(&self, stage: &'static str, total: u64) {
        self.0.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        self.0.set_length(total);
        self.0.set_position(0);
        self.0.set_prefix(stage);
        let style = indicatif::ProgressStyle::with_template(&format!(
            "{{prefix:>8}} [{{bar:32}}] {{pos}}/{{len}} {}, {{elapsed}}, about {{eta}} left",
            unit(stage)
        ))
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> ");
        self.0.set_style(style);
    }

    fn advance(&self, done: u64) {
        self.0.inc(done);
    }

    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

/// Progress for logs (CI): a line when a stage has run a while, then every 10 seconds.
#[derive(Default)]
struct LogLines {
    state: std::sync::Mutex<LogState>,
}

#[derive(Default)]
struct LogState {
    stage: &'static str,
    total: u64,
    done: u64,
    started: Option<std::time::Instant>,
    last_line: Option<std::time::Instant>,
}

impl Progress for LogLines {
    fn start(&self, stage: &'static str, total: u64) {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = std::time::Instant::now();
        *state = LogState { stage, total, done: 0, started: Some(now), last_line: Some(now) };
    }

    fn advance(&self, done: u64) {
        const EVERY: std::time::Duration = std::time::Duration::from_secs(10);
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        state.done += done;
        let now = std::time::Instant::now();
        if state.last_line.is_some_and(|last| now - last >= EVERY) {
            state.last_line = Some(now);
            let elapsed = state.started.map_or(0, |start| (now - start).as_secs());
            eprintln!(
                "{}: {}/{} {} after {elapsed} s",
                state.stage,
                state.done,
                state.total,
                unit(state.stage)
            );
        }
    }

    fn finish(&self) {}
}
