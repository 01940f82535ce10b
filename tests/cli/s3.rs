//! A real consumer of the manifest: `tests/s3/upload_check.py` uploads the upload root to a
//! local S3-compatible server (moto) using only what the manifest says, reads everything
//! back and compares, and validates the manifest and changes against their JSON Schemas.

use std::process::Command;

use crate::support::{Site, repo_root};

/// The script's exit code when its Python packages are missing.
const SKIPPED: i32 = 77;

#[test]
fn an_s3_upload_driven_by_the_manifest_round_trips() {
    let site = Site::fixture("build/basic");
    site.run(&["build", "--out", "out", "--now", "2026-11-23T12:00:00Z"]).success();
    // A second build, so changes.json has content of every kind to validate.
    let drop = site.read("drops/launch/drop.yaml");
    site.write("drops/launch/drop.yaml", &drop.replace("price: 79.5", "price: 89.5"));
    site.run(&["build", "--out", "out", "--now", "2026-11-23T12:00:00Z"]).success();

    let script = repo_root().join("tests/s3/upload_check.py");
    let output = match Command::new("python3").arg(&script).arg(site.path("out")).output() {
        Ok(output) => output,
        Err(err) if std::env::var("CI").as_deref() != Ok("true") => {
            eprintln!("SKIPPED: cannot run python3 ({err})");
            return;
        }
        Err(err) => panic!("python3 is required in CI: {err}"),
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if output.status.code() == Some(SKIPPED) && std::env::var("CI").as_deref() != Ok("true") {
        eprintln!("{stdout}");
        return;
    }
    assert!(output.status.success(), "S3 round trip failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("0 problem(s)"), "{stdout}");
}
