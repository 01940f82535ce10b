//! Browser tests of the hydration script (`cargo test --test browser`).
//!
//! Builds `tests/fixtures/browser/site` with the real binary through `dropgen serve
//! --mock-inventory` on free loopback ports (the pages on `127.0.0.1`, the mock API on
//! `localhost`: two origins), then runs the `node --test` specs in `tests/browser/*.spec.mjs`,
//! one file after another, which drive Debian's headless Chromium with playwright-core.
//! `inventory.spec.mjs` starts its own `dropgen inventory serve` and `dropgen serve --inventory`
//! with the binary the runner passes in `DROPGEN_BIN`.
//!
//! `DROPGEN_BROWSER_SPECS=inventory,buy` runs only the spec files whose names contain one of
//! those words.
//!
//! Without Node, Chromium or playwright-core this prints a SKIPPED line and passes, except
//! when `CI=true`, where a missing tool is a failure: CI must run these.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn main() -> ExitCode {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let chromium = std::env::var_os("DROPGEN_CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    if let Err(missing) = tools_present(&dir, &chromium) {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            eprintln!("error: browser tests cannot run on CI: {missing}");
            eprintln!(
                "  = help: .ci/run installs chromium, nodejs and npm, then runs `npm ci` in tests/browser"
            );
            return ExitCode::FAILURE;
        }
        println!("SKIPPED: browser tests ({missing}; CI=true makes this a failure)");
        return ExitCode::SUCCESS;
    }

    let work =
        match tempfile::Builder::new().prefix("dropgen-browser-").tempdir_in(env!("CARGO_TARGET_TMPDIR")) {
            Ok(work) => work,
            Err(err) => return fail(&format!("cannot create a temporary folder: {err}")),
        };
    let site = work.path().join("site");
    if let Err(err) =
        copy_dir(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/browser/site"), &site)
    {
        return fail(&format!("cannot copy the fixture site: {err}"));
    }

    let mut server = match Server::start(&site, &work.path().join("out")) {
        Ok(server) => server,
        Err(err) => return fail(&err),
    };
    eprintln!("browser tests against {}", server.url);
    let only = std::env::var("DROPGEN_BROWSER_SPECS").unwrap_or_default();
    let specs = match spec_files(&dir, &only) {
        Ok(specs) if !specs.is_empty() => specs,
        Ok(_) => return fail(&format!("no *.spec.mjs in tests/browser matches `{only}`")),
        Err(err) => return fail(&format!("cannot list tests/browser: {err}")),
    };
    // One `node --test` per file, each test bounded by its own timeout (`support.mjs`).
    let (mut passed, mut failed, mut all_ran) = (0, 0, true);
    for spec in &specs {
        match run_spec(&dir, spec, &server.url, &site, &work.path().join("out"), &chromium) {
            Ok((file_passed, file_failed, ran)) => {
                passed += file_passed;
                failed += file_failed;
                all_ran &= ran;
            }
            Err(err) => {
                server.stop();
                return fail(&err);
            }
        }
    }
    server.stop();
    let ok = all_ran && failed == 0 && passed > 0;
    println!(
        "\ntest result: {}. {passed} passed; {failed} failed; 0 ignored; 0 measured; 0 filtered out",
        if ok { "ok" } else { "FAILED" }
    );
    if ok { ExitCode::SUCCESS } else { fail("browser specs failed (see the report above)") }
}

/// Runs one spec file, echoing its TAP report; its passed and failed counts, and whether node
/// exited cleanly (a timed-out or crashed file fails even when no single test did).
fn run_spec(
    dir: &Path,
    spec: &Path,
    url: &str,
    site: &Path,
    out: &Path,
    chromium: &Path,
) -> Result<(u32, u32, bool), String> {
    let mut node = Command::new("node")
        .args(["--test", "--test-concurrency=1", "--test-reporter=tap"])
        .arg(spec)
        .current_dir(dir)
        .env("DROPGEN_URL", url)
        .env("DROPGEN_SITE", site)
        .env("DROPGEN_OUT", out)
        .env("DROPGEN_CHROMIUM", chromium)
        .env("DROPGEN_BIN", env!("CARGO_BIN_EXE_dropgen"))
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|err| format!("cannot run node: {err}"))?;
    // Echo the TAP report and count it, to close with libtest's line: `.ci/run` totals those.
    let (mut passed, mut failed) = (0, 0);
    if let Some(stdout) = node.stdout.take() {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            println!("{line}");
            let count = |prefix: &str| line.strip_prefix(prefix).and_then(|n| n.trim().parse::<u32>().ok());
            passed = count("# pass ").unwrap_or(passed);
            failed = count("# fail ").unwrap_or(failed);
        }
    }
    let status = node.wait().map_err(|err| format!("node did not finish: {err}"))?;
    Ok((passed, failed, status.success()))
}

/// The spec files, sorted, so every run takes them in the same order; with `only` (words
/// separated by commas), those whose names contain one of its words.
fn spec_files(dir: &Path, only: &str) -> std::io::Result<Vec<PathBuf>> {
    let words: Vec<&str> = only.split(',').map(str::trim).filter(|word| !word.is_empty()).collect();
    let mut specs: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.ends_with(".spec.mjs") && (words.is_empty() || words.iter().any(|word| n.contains(word)))
            })
        })
        .collect();
    specs.sort();
    Ok(specs)
}

fn fail(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::FAILURE
}

/// `Err` names what is missing.
fn tools_present(dir: &Path, chromium: &Path) -> Result<(), String> {
    if !chromium.is_file() {
        return Err(format!("no Chromium at {} (set DROPGEN_CHROMIUM)", chromium.display()));
    }
    let node =
        Command::new("node").arg("--version").output().map_err(|_| "node is not installed".to_owned())?;
    let version = String::from_utf8_lossy(&node.stdout);
    let major: u32 =
        version.trim().trim_start_matches('v').split('.').next().and_then(|m| m.parse().ok()).unwrap_or(0);
    if major < 20 {
        return Err(format!("node {} is too old; node --test needs 20 or later", version.trim()));
    }
    if !dir.join("node_modules/playwright-core").is_dir() {
        // `npm ci` installs exactly the locked version; it needs the npm registry.
        let installed = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(dir)
            .status()
            .is_ok_and(|status| status.success());
        if !installed {
            return Err("playwright-core is not installed and `npm ci` in tests/browser failed".to_owned());
        }
    }
    Ok(())
}

/// `dropgen serve --mock-inventory`, killed when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(site: &Path, out: &Path) -> Result<Server, String> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_dropgen"))
            .args(["serve", "--port", "0", "--mock-inventory", "--root"])
            .arg(site)
            .arg("--out")
            .arg(out)
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|err| format!("cannot start dropgen serve: {err}"))?;
        let stderr = child.stderr.take().ok_or("no stderr")?;
        let (sender, receiver) = mpsc::channel();
        // Reads the server's log for its address, then keeps echoing it (rebuilds, errors).
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("  serve: {line}");
                if let Some(url) =
                    line.strip_prefix("serving ").and_then(|rest| rest.split_whitespace().next())
                {
                    let _ = sender.send(url.trim_end_matches('/').to_owned());
                }
            }
        });
        match receiver.recv_timeout(Duration::from_secs(60)) {
            Ok(url) => Ok(Server { child, url }),
            Err(_) => {
                let _ = child.kill();
                Err("dropgen serve did not print its address within 60 s".to_owned())
            }
        }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}
