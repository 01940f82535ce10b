//! `dropgen inventory report <drop>`: what happened during a drop, from the service's log.
//!
//! Three steps, each its own module:
//! 1. `read.rs` (IO): the drop's log from SQLite or Redis, streamed, read-only;
//! 2. `figures.rs` (pure): one pass folding events and observations into [`Figures`];
//! 3. `html.rs` + `charts.rs` (pure): the page and its plotters SVG charts; or the JSON.
//!
//! The JSON and the HTML come from the same `Figures`, and nothing in them depends on the
//! clock or on hash order: the same log gives byte-identical output. `--watch` repeats the
//! three steps every few seconds until Ctrl-C, writing the page atomically.

mod charts;
mod figures;
mod html;
mod read;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub(crate) use figures::Figures;
use figures::Tally;
pub(crate) use read::ReadError;

use super::store::Backend;
use crate::error::Error;

/// `--format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    Html,
    Json,
}

/// What `dropgen inventory report` was asked for.
#[derive(Debug)]
pub(crate) struct ReportOptions {
    pub(crate) backend: Backend,
    pub(crate) drop: String,
    pub(crate) format: Format,
    /// Where to write; stdout without.
    pub(crate) out: Option<PathBuf>,
    /// Re-render every this often until Ctrl-C (`--watch`).
    pub(crate) watch: Option<Duration>,
}

/// The drop's figures, from its whole log.
pub(crate) fn figures(backend: &Backend, drop: &str) -> Result<Figures, ReadError> {
    let mut tally = Tally::new(drop);
    read::log(backend, drop, &mut tally)?;
    Ok(tally.finish())
}

/// The report in `format`.
pub(crate) fn render(figures: &Figures, format: Format, refresh: Option<u32>) -> Vec<u8> {
    match format {
        Format::Html => html::page(figures, refresh).into_bytes(),
        Format::Json => {
            let mut json = serde_json::to_vec_pretty(figures).unwrap_or_default();
            json.push(b'\n');
            json
        }
    }
}

/// The JSON Schema of `--format json`, as `docs/inventory-report.schema.json` holds it (a
/// test checks they agree).
#[cfg(test)]
pub(crate) fn schema_text() -> String {
    let generator = schemars::generate::SchemaSettings::draft2020_12().into_generator();
    let mut schema = generator.into_root_schema_for::<Figures>().to_value();
    schema["$id"] = serde_json::json!("https://dropgen.dev/schemas/inventory-report-1.json");
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

/// Runs the command: once, or until Ctrl-C with `--watch`. Returns what to say on stderr.
pub(crate) fn run(
    options: &ReportOptions,
    print: &dyn Fn(&[u8]) -> Result<(), Error>,
) -> Result<String, Error> {
    let Some(every) = options.watch else {
        let figures =
            figures(&options.backend, &options.drop).map_err(|err| Error::Usage(err.to_string()))?;
        let bytes = render(&figures, options.format, None);
        return match &options.out {
            Some(path) => write(path, &bytes).map(|()| format!("wrote {}", path.display())),
            None => print(&bytes).map(|()| String::new()),
        };
    };
    let Some(path) = &options.out else {
        return Err(Error::Usage("--watch rewrites a file: give it with --out".to_owned()));
    };
    watch(options, path, every)
}

fn watch(options: &ReportOptions, path: &Path, every: Duration) -> Result<String, Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| Error::Internal(format!("cannot start the async runtime: {err}")))?;
    let refresh = u32::try_from(every.as_secs().max(1)).unwrap_or(u32::MAX);
    let mut rounds = 0u64;
    runtime.block_on(async {
        let mut stop = std::pin::pin!(tokio::signal::ctrl_c());
        loop {
            // A log not there yet, or a drop not synced yet, is a state of a drop about to
            // start, not a reason to stop watching: say it, and look again.
            match figures(&options.backend, &options.drop) {
                Ok(figures) => write(path, &render(&figures, options.format, Some(refresh)))?,
                Err(err) => eprintln!("warning: {err}"),
            }
            rounds += 1;
            tokio::select! {
                _ = &mut stop => break,
                () = tokio::time::sleep(every) => {}
            }
        }
        Ok::<(), Error>(())
    })?;
    Ok(format!("stopped watching after {rounds} renders of {}", path.display()))
}

/// Writes beside, then renames over: a browser reloading the page never reads half of it.
fn write(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let folder = path.parent().filter(|folder| !folder.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(folder).map_err(|err| Error::io(folder, err))?;
    std::io::Write::write_all(&mut file, bytes).map_err(|err| Error::io(path, err))?;
    file.persist(path).map_err(|err| Error::io(path, err.error))?;
    Ok(())
}

#[cfg(test)]
mod tests;
