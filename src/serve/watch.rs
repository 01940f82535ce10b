//! Watches what a build reads — `dropgen.yaml`, `drops/`, `themes/` — and calls back once per
//! burst of changes. The output folder, `target/` and the like are never watched, so writing
//! the output cannot trigger another build.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher as _};

use crate::error::Error;

/// Editors save in one or several steps (a backup, a write, a rename), and a checkout writes
/// files back to back; changes this close together make one rebuild. Every millisecond here
/// is one the browser waits after a save (watchexec settles for 50 ms, webpack for 20 ms); a
/// save slower than this costs an extra rebuild, not a wrong result.
const SETTLE: Duration = Duration::from_millis(50);

/// Keeps the watch alive while held.
pub(super) struct Watching {
    _watcher: notify::RecommendedWatcher,
}

/// Starts watching `root` and runs `on_change` on a background thread after each burst.
pub(super) fn start(root: &Path, mut on_change: impl FnMut() + Send + 'static) -> Result<Watching, Error> {
    let (sender, receiver) = mpsc::channel::<()>();
    // Watched by its canonical path, so events name paths that `is_input` can strip.
    let root = &std::fs::canonicalize(root).map_err(|err| Error::io(root, err))?;
    let site = root.clone();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let relevant = event
            .is_ok_and(|event| !event.kind.is_access() && event.paths.iter().any(|p| is_input(&site, p)));
        if relevant {
            let _ = sender.send(());
        }
    })
    .map_err(|err| watch_error(root, &err))?;
    watcher.watch(root, RecursiveMode::NonRecursive).map_err(|err| watch_error(root, &err))?;
    for dir in [crate::load::DROPS_DIR, "themes"] {
        let dir = root.join(dir);
        if dir.is_dir() {
            watcher.watch(&dir, RecursiveMode::Recursive).map_err(|err| watch_error(&dir, &err))?;
        }
    }
    std::thread::spawn(move || {
        while receiver.recv().is_ok() {
            while receiver.recv_timeout(SETTLE).is_ok() {}
            on_change();
        }
    });
    Ok(Watching { _watcher: watcher })
}

/// Site inputs, not editor droppings (`.swp`, `4913`, `~` backups) or dropgen's own staging.
fn is_input(root: &Path, path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else { return false };
    // Only paths inside the site are watched; one that does not strip (named through a link)
    // is judged by its file name alone.
    let Ok(rel) = path.strip_prefix(root) else { return !is_editor_file(name) };
    let first = rel.components().next().map(|c| c.as_os_str().to_owned());
    let in_site_dirs = first.is_some_and(|c| c == crate::load::DROPS_DIR || c == "themes");
    !is_editor_file(name) && (in_site_dirs || rel == Path::new(crate::load::CONFIG_FILE))
}

fn is_editor_file(name: &str) -> bool {
    name.starts_with('.') || name.ends_with('~') || name == "4913"
}

fn watch_error(path: &Path, err: &notify::Error) -> Error {
    Error::Usage(format!("cannot watch `{}` for changes: {err}", path.display()))
}
