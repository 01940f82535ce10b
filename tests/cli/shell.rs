//! What `dropgen` prints for editors and shells: `schema`, `completions`, `man`.

use crate::support::{repo_root, run_in};

/// `docs/` holds the schemas as `dropgen schema` prints them (`DROPGEN_BLESS=1` rewrites).
#[test]
fn docs_hold_the_schemas_dropgen_prints() {
    for (which, file) in [("site", "docs/dropgen.schema.json"), ("drop", "docs/drop.schema.json")] {
        let run = run_in(&repo_root(), &["schema", which]);
        run.success();
        let schema: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
        assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
        crate::support::assert_matches_file(&run.stdout(), &repo_root().join(file));
    }
    let run = run_in(&repo_root(), &["schema", "theme"]);
    run.failure(2);
}

#[test]
fn completions_know_every_subcommand_and_flag() {
    for (shell, marker) in
        [("bash", "complete -F"), ("zsh", "#compdef dropgen"), ("fish", "complete -c dropgen")]
    {
        let run = run_in(&repo_root(), &["completions", shell]);
        run.success();
        let script = run.stdout();
        assert!(script.contains(marker), "{shell}: {script}");
        for word in [
            "init",
            "build",
            "check",
            "serve",
            "new",
            "schema",
            "completions",
            "man",
            "mock-inventory",
            "previous-manifest",
        ] {
            assert!(script.contains(word), "{shell} completion lacks {word}");
        }
    }
    if std::process::Command::new("bash").arg("--version").output().is_ok() {
        let run = run_in(&repo_root(), &["completions", "bash"]);
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        let file = dir.path().join("dropgen.bash");
        std::fs::write(&file, run.stdout()).unwrap();
        // Load it and ask for the subcommands after `dropgen `, as bash would on <Tab>.
        let script = format!(
            "source '{}'; COMP_WORDS=(dropgen ''); COMP_CWORD=1; COMP_LINE='dropgen '; COMP_POINT=8; _dropgen dropgen '' dropgen; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            file.display()
        );
        let out = std::process::Command::new("bash").args(["-c", &script]).output().unwrap();
        let words = String::from_utf8_lossy(&out.stdout);
        for word in ["init", "build", "serve", "schema"] {
            assert!(
                words.lines().any(|l| l == word),
                "bash completes `{word}`: {words} {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

#[test]
fn the_man_page_documents_the_commands() {
    let run = run_in(&repo_root(), &["man"]);
    run.success();
    let page = run.stdout();
    assert!(page.contains(".TH dropgen 1"), "{page}");
    for word in ["init", "build", "check", "serve", "completions"] {
        assert!(page.contains(word), "the man page lacks {word}");
    }
    if let Ok(out) = std::process::Command::new("man").arg("--version").output()
        && out.status.success()
    {
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        let file = dir.path().join("dropgen.1");
        std::fs::write(&file, &page).unwrap();
        let out = std::process::Command::new("man")
            .arg("-l")
            .arg(&file)
            .env("MANWIDTH", "100")
            .env("PAGER", "cat")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("dropgen") && text.contains("init"), "man renders it: {text}");
    }
}
