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
            ][..],
        ),
        ("check", &["--root", "--drafts", "--message-format", "--quiet", "--now"][..]),
        ("new", &["--root"][..]),
        (
            "serve",
            &[
                "--root",
                "--out",
                "--port",
                "--drafts",
                "--mock-inventory",
                "--mock-seed",
                "--mock-state",
                "--mock-fault",
            ][..],
        ),
    ] {
        assert!(text.contains(&format!("dropgen {command}")), "README does not document `{command}`");
        let help = run_in(&repo_root(), &[command, "--help"]);
        help.success();
        for flag in flags {
            assert!(help.stdout().contains(flag), "`dropgen {command}` has no {flag}");
            assert!(text.contains(flag), "README does not mention {flag}");
        }
    }
}
