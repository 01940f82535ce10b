//! A small builder for running the real `dropgen` binary on a copy of a fixture site.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root (the bundled example site).
pub(crate) fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub(crate) fn fixture(name: &str) -> PathBuf {
    repo_root().join("tests/fixtures").join(name)
}

/// Set `DROPGEN_BLESS=1` to rewrite expected files from the current output after reviewing a
/// deliberate change.
pub(crate) fn bless() -> bool {
    std::env::var_os("DROPGEN_BLESS").is_some_and(|v| v == "1")
}

/// A site copied into its own temporary folder, so tests never share or modify fixtures.
pub(crate) struct Site {
    dir: tempfile::TempDir,
}

impl Site {
    /// Copies `tests/fixtures/<name>` (or any folder) into a fresh temporary folder.
    #[track_caller]
    pub(crate) fn copy_of(source: &Path) -> Site {
        let dir =
            tempfile::Builder::new().prefix("dropgen-test-").tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        copy_dir(source, &dir.path().join("site"));
        Site { dir }
    }

    pub(crate) fn fixture(name: &str) -> Site {
        Site::copy_of(&fixture(name))
    }

    pub(crate) fn root(&self) -> PathBuf {
        self.dir.path().join("site")
    }

    pub(crate) fn path(&self, rel: &str) -> PathBuf {
        self.root().join(rel)
    }

    #[track_caller]
    pub(crate) fn write(&self, rel: &str, text: &str) -> &Self {
        let path = self.path(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
        self
    }

    #[track_caller]
    pub(crate) fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.path(rel)).unwrap_or_else(|err| panic!("{rel}: {err}"))
    }

    /// Runs `dropgen` with `args`, from the site folder.
    pub(crate) fn run(&self, args: &[&str]) -> Run {
        run_in(&self.root(), args)
    }
}

/// Runs the binary in `dir` with a clean, fixed environment.
pub(crate) fn run_in(dir: &Path, args: &[&str]) -> Run {
    run_with_env(dir, args, &[])
}

/// [`run_in`], with these variables set as well.
pub(crate) fn run_with_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_dropgen"))
        .args(args)
        .current_dir(dir)
        .env_remove("GITHUB_ACTIONS")
        .env_remove("RAYON_NUM_THREADS")
        .env_remove("DROPGEN_CACHE_DIR")
        .env_remove("SOURCE_DATE_EPOCH")
        .env("NO_COLOR", "1")
        .env("TZ", "UTC")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    Run { output }
}

pub(crate) struct Run {
    pub(crate) output: Output,
}

impl Run {
    pub(crate) fn code(&self) -> i32 {
        self.output.status.code().unwrap_or(-1)
    }

    pub(crate) fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    pub(crate) fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    #[track_caller]
    pub(crate) fn success(&self) -> &Self {
        assert_eq!(self.code(), 0, "dropgen failed:\n{}", self.stderr());
        self
    }

    #[track_caller]
    pub(crate) fn failure(&self, code: i32) -> &Self {
        assert_eq!(self.code(), code, "expected exit {code}; stderr:\n{}", self.stderr());
        self
    }
}

/// Compares `actual` with the file `expected` (or rewrites it when blessing).
#[track_caller]
pub(crate) fn assert_matches_file(actual: &str, expected: &Path) {
    if bless() {
        fs::create_dir_all(expected.parent().unwrap()).unwrap();
        fs::write(expected, actual).unwrap();
        return;
    }
    let wanted = fs::read_to_string(expected).unwrap_or_else(|err| {
        panic!("{}: {err} (run with DROPGEN_BLESS=1 to create it)", expected.display())
    });
    pretty_assertions::assert_eq!(actual, wanted, "output differs from {}", expected.display());
}

/// Every file under `dir`, as sorted relative paths with their bytes.
pub(crate) fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_file())
        .map(|entry| {
            let rel = entry.path().strip_prefix(dir).unwrap().to_string_lossy().replace('\\', "/");
            (rel, fs::read(entry.path()).unwrap())
        })
        .collect();
    files.sort();
    files
}

/// A path with each content hash (`-` and ten hex digits, before an extension or a width)
/// replaced by `-[HASH]`: `_assets/drops-beff41bcb6.js.br` → `_assets/drops-[HASH].js.br`,
/// `_img/hero-c4c17572cd-96.jpg` → `_img/hero-[HASH]-96.jpg`. Tests name hashed files this
/// way, so a change to a script's bytes, an encoder setting or a pixel crate's version needs
/// no edit to them; `build::hashed_names_are_pinned` is the one test that pins real names.
pub(crate) fn redact_hashes(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        let hash = bytes.get(i + 1..i + 11);
        let after = bytes.get(i + 11).copied();
        let is_hash = bytes[i] == b'-'
            && hash.is_some_and(|hash| hash.iter().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b)))
            && matches!(after, Some(b'.') | Some(b'-'));
        if is_hash {
            out.push_str("-[HASH]");
            i += 11;
        } else {
            out.push(bytes[i] as char);
            i += 1;
        }
    }
    out
}

/// The one path under `dir` whose redacted form is `pattern` (see [`redact_hashes`]).
#[track_caller]
pub(crate) fn hashed(dir: &Path, pattern: &str) -> String {
    let found: Vec<String> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_file())
        .map(|entry| entry.path().strip_prefix(dir).unwrap().to_string_lossy().replace('\\', "/"))
        .filter(|rel| redact_hashes(rel) == pattern)
        .collect();
    match found.as_slice() {
        [one] => one.clone(),
        _ => panic!("{} files under {} are {pattern}: {found:?}", found.len(), dir.display()),
    }
}

/// Folders that are build products wherever they are: `fuzz/target` alone grows to gigabytes once
/// `scripts/fuzz.sh` has run, and copying it into every repository-root site filled CI's disk.
const BUILD_PRODUCTS: [&str; 6] =
    ["target", "dist", "node_modules", ".dropgen-cache", "dist-preview", ".git"];
/// The repository root's developer tooling, which is not part of the site it also is.
const ROOT_TOOLING: [&str; 6] = ["tests", "src", "fuzz", "bench", "scripts", "docs"];
/// More than any fixture or example site holds; a copy past it is copying something that is not
/// a site input, and says so rather than filling the disk.
const SITE_COPY_LIMIT: u64 = 64 << 20;

fn copy_dir(from: &Path, to: &Path) {
    // Skipped folders are not even entered: other tests create and delete temporary sites under
    // `target/` while this walks, which used to fail the walk with "not found".
    let skipped = |entry: &walkdir::DirEntry| {
        let rel = entry.path().strip_prefix(from).unwrap_or(entry.path());
        let name = entry.file_name().to_str().unwrap_or_default();
        entry.file_type().is_dir()
            && (BUILD_PRODUCTS.contains(&name)
                || (rel.components().count() == 1 && ROOT_TOOLING.contains(&name)))
    };
    let mut copied = 0;
    for entry in walkdir::WalkDir::new(from).sort_by_file_name().into_iter().filter_entry(|e| !skipped(e)) {
        let entry = entry.unwrap();
        let rel = entry.path().strip_prefix(from).unwrap();
        let dest = to.join(rel);
        if entry.file_type().is_dir() {
            fs::create_dir_all(&dest).unwrap();
        } else {
            copied += fs::copy(entry.path(), &dest).unwrap();
            assert!(
                copied <= SITE_COPY_LIMIT,
                "copying {} passed {} MiB at {}: skip that folder in support.rs's copy_dir",
                from.display(),
                SITE_COPY_LIMIT >> 20,
                rel.display()
            );
        }
    }
}

/// The `N` of a build summary's `… decoded, N encoded` (printed with `--verbose`, and by a
/// `--shard` build).
pub(crate) fn encoded_count(stderr: &str) -> u64 {
    let line = stderr.lines().find(|l| l.contains(" decoded, ")).unwrap_or_else(|| {
        panic!("no `… decoded, N encoded` line (was the build run with --verbose?):\n{stderr}")
    });
    line.split(" decoded, ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap()
}

/// A Python test server under `tests/` (`script`, with `args`), started and past its first
/// line, `READY` and its words; `None` (after printing SKIPPED) when Python or its packages
/// are missing outside CI (exit 77), a panic in CI.
pub(crate) fn start_python_server(
    script: &str,
    args: &[&str],
) -> Option<(
    std::process::Child,
    std::process::ChildStdin,
    std::io::BufReader<std::process::ChildStdout>,
    Vec<String>,
)> {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let on_ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let spawned = Command::new("python3")
        .arg(repo_root().join(script))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(err) if !on_ci => {
            eprintln!("SKIPPED: cannot run python3 ({err})");
            return None;
        }
        Err(err) => panic!("python3 is required in CI: {err}"),
    };
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let words: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
    if words.first().map(String::as_str) != Some("READY") {
        let status = child.wait().unwrap();
        if status.code() == Some(77) && !on_ci {
            eprintln!("{}", line.trim());
            return None;
        }
        panic!("{script} did not start ({status}): {line}");
    }
    let stdin = child.stdin.take().unwrap();
    Some((child, stdin, stdout, words[1..].to_vec()))
}
