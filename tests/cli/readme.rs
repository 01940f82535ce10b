//! The README's promises, checked so they cannot rot.

use crate::support::{repo_root, run_in};

fn readme() -> String {
    std::fs::read_to_string(repo_root().join("README.md")).unwrap()
}

/// The first commands a new user sees: build the bundled drops, then run every test.
#[test]
fn readme_starts_with_the_build_and_test_commands() {
    let text = readme();
    let block = text.split("```sh\n").nth(1).and_then(|rest| rest.split("```").next()).unwrap();
    let commands: Vec<&str> =
        block.lines().map(|line| line.split('#').next().unwrap().trim()).filter(|l| !l.is_empty()).collect();
    assert_eq!(commands, ["cargo run --release -- build", "cargo test --locked"]);
    let ci = std::fs::read_to_string(repo_root().join(".ci/run")).unwrap();
    assert!(ci.contains("cargo test --locked"), ".ci/run must call the README's test command");
}

/// Every subcommand and flag the README documents exists.
#[test]
fn documented_commands_and_flags_exist() {
    let text = readme();
    for (command, flags) in [
        (
            "build",
            &[
                "--root",
                "--out",
                "--drafts",
                "--jobs",
                "--message-format",
                "--quiet",
                "--now",
                "--previous-manifest",
                "--verbose",
            ][..],
        ),
        ("check", &["--root", "--drafts", "--message-format", "--quiet", "--now"][..]),
        ("new", &["--root"][..]),
        ("deploy", &["--out", "--to", "--dry-run", "--purge", "--prewarm", "--format"][..]),
        ("init", &["--force"][..]),
        ("schema", &[][..]),
        ("completions", &[][..]),
        ("man", &[][..]),
        ("inventory serve", &["--config", "--listen", "--database", "--catalog", "--page-origin"][..]),
        ("inventory sync", &["--url"][..]),
        ("inventory keygen", &[][..]),
        (
            "serve",
            &[
                "--root",
                "--out",
                "--port",
                "--mock-inventory",
                "--mock-seed",
                "--mock-state",
                "--mock-fault",
                "--inventory",
            ][..],
        ),
    ] {
        assert!(text.contains(&format!("dropgen {command}")), "README does not document `{command}`");
        let mut args: Vec<&str> = command.split(' ').collect();
        args.push("--help");
        let help = run_in(&repo_root(), &args);
        help.success();
        for flag in flags {
            assert!(help.stdout().contains(flag), "`dropgen {command}` has no {flag}");
            assert!(text.contains(flag), "README does not mention {flag}");
        }
    }
}

/// The commands of "Start your own site", run as written in a fresh folder: `dropgen` is the
/// binary under test (the `cargo install` line is checked, not run), `serve` is asked for a
/// free port and for the example page, then stopped.
#[test]
fn start_your_own_site_runs_as_written() {
    let text = readme();
    let section = text.split("## Start your own site\n").nth(1).expect("the README has the section");
    let block = section.split("```sh\n").nth(1).and_then(|rest| rest.split("```").next()).unwrap();
    let commands: Vec<&str> =
        block.lines().map(|line| line.split('#').next().unwrap().trim()).filter(|l| !l.is_empty()).collect();
    let words: Vec<&str> = commands.iter().map(|c| c.split(' ').nth(1).unwrap_or("")).collect();
    assert_eq!(words, ["install", "init", "my-drops", "serve", "build"], "{commands:?}");
    let dir =
        tempfile::Builder::new().prefix("dropgen-readme-").tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let mut cwd = dir.path().to_path_buf();
    for command in commands {
        let args: Vec<&str> = command.split_whitespace().collect();
        match args[..] {
            ["cargo", "install", "--locked", "--path", "."] => {}
            ["cd", folder] => cwd = cwd.join(folder),
            ["dropgen", "serve"] => serve_and_fetch(&cwd, "/first-drop/", "First Drop"),
            ["dropgen", ref rest @ ..] => {
                let run = run_in(&cwd, rest);
                run.success();
                assert!(!run.stderr().contains("warning"), "{command}: {}", run.stderr());
            }
            _ => panic!("the section runs a command this test does not know: {command}"),
        }
    }
    assert!(cwd.join("dist/public/first-drop/index.html").is_file());
    assert!(cwd.join("dist/manifest.json").is_file() && cwd.join("dist/purge.txt").is_file());
    for promised in [
        "dist/public/",
        "manifest.json",
        "changes.json",
        "purge.txt",
        "upload_order",
        "examples/ci/dropgen.yml",
    ] {
        assert!(section.contains(promised), "the section mentions {promised}");
    }
}

/// Starts `dropgen serve --port 0` in `site`, fetches `path` and expects `needle` in it.
fn serve_and_fetch(site: &std::path::Path, path: &str, needle: &str) {
    use std::io::{BufRead, Read, Write};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_dropgen"))
        .args(["serve", "--port", "0"])
        .current_dir(site)
        .env("NO_COLOR", "1")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = std::io::BufReader::new(stderr).lines();
    let mut log = String::new();
    let address = loop {
        let Some(Ok(line)) = lines.next() else {
            let _ = child.kill();
            panic!("serve stopped before serving:\n{log}");
        };
        log.push_str(&line);
        log.push('\n');
        if let Some(url) = line.strip_prefix("serving http://") {
            break url.split('/').next().unwrap().to_owned();
        }
    };
    let mut stream = std::net::TcpStream::connect(&address).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains(needle), "{response}");
    assert!(!log.contains("warning"), "{log}");
}
