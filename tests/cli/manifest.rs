//! The upload manifest, the comparison with the previous build, and the purge files.

use std::collections::BTreeMap;
use std::fs;

use serde_json::Value;

use crate::support::{Site, hashed, tree};

const NOW: &str = "2026-11-23T12:00:00Z";

fn json(site: &Site, rel: &str) -> Value {
    serde_json::from_str(&site.read(rel)).unwrap_or_else(|err| panic!("{rel}: {err}"))
}

fn build(site: &Site) {
    site.run(&["build", "--out", "out", "--now", NOW]).success();
}

fn purge(site: &Site) -> Vec<String> {
    site.read("out/purge.txt").lines().map(str::to_owned).collect()
}

/// Every file of the upload root is in the manifest with its real size and hashes, and the
/// manifest lists nothing else.
#[test]
fn the_manifest_describes_exactly_the_upload_root() {
    let site = Site::fixture("build/basic");
    build(&site);
    let manifest = json(&site, "out/manifest.json");
    assert_eq!(manifest["schema"], "dropgen.upload-manifest/1");
    let files = manifest["files"].as_object().unwrap();
    let on_disk = tree(&site.path("out/public"));
    let listed: Vec<&String> = files.keys().collect();
    let written: Vec<&String> = on_disk.iter().map(|(path, _)| path).collect();
    assert_eq!(listed, written);
    for (path, bytes) in &on_disk {
        let entry = &files[path];
        assert_eq!(entry["size"].as_u64(), Some(bytes.len() as u64), "{path}");
        let sha256: String = {
            use sha2::Digest;
            sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
        };
        assert_eq!(entry["sha256"].as_str(), Some(sha256.as_str()), "{path}");
    }
    // The upload order never puts a page before the files it refers to.
    let order: Vec<&str> =
        manifest["upload_order"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(order.len(), files.len());
    let phase = |path: &str| files[path]["upload_phase"].as_u64().unwrap();
    assert!(order.windows(2).all(|pair| phase(pair[0]) <= phase(pair[1])));
    assert!(
        order.iter().position(|p| *p == hashed(&site.path("out/public"), "_img/hero-[HASH]-96.jpg"))
            < order.iter().position(|p| *p == "launch/index.html")
    );
    let page = &files["launch/index.html"];
    assert_eq!(page["urls"], serde_json::json!(["/launch/", "/launch/index.html"]));
    assert_eq!(page["cache_tags"], serde_json::json!(["_site", "launch"]));
    assert_eq!(page["cache_class"], "document");
    let sibling = &files["launch/index.html.br"];
    assert_eq!(
        (sibling["content_encoding"].as_str(), sibling["variant_of"].as_str()),
        (Some("br"), Some("launch/index.html"))
    );
    let script = &files[&hashed(&site.path("out/public"), "_assets/drops-[HASH].js")];
    assert_eq!(script["cache_control"], "public, max-age=31536000, immutable");
    assert!(script["integrity"].as_str().unwrap().starts_with("sha384-"));
    assert!(site.read("out/public/launch/index.html").contains(script["integrity"].as_str().unwrap()));
}

#[test]
fn the_manifest_is_byte_identical_for_identical_inputs() {
    let site = Site::fixture("build/basic");
    build(&site);
    let first = site.read("out/manifest.json");
    site.run(&["build", "--out", "again", "--now", NOW, "--jobs", "1"]).success();
    assert_eq!(first, site.read("again/manifest.json"));
    assert!(first.ends_with("}\n"));
}

#[test]
fn the_first_build_purges_every_stable_url() {
    let site = Site::fixture("build/basic");
    build(&site);
    assert_eq!(
        purge(&site),
        [
            "https://drops.test/",
            "https://drops.test/404.html",
            "https://drops.test/index.html",
            "https://drops.test/launch/",
            "https://drops.test/launch/index.html",
            "https://drops.test/robots.txt",
            "https://drops.test/sitemap.xml",
        ]
    );
    assert_eq!(json(&site, "out/changes.json")["previous_build_id"], Value::Null);
}

#[test]
fn an_unchanged_rebuild_purges_nothing() {
    let site = Site::fixture("build/basic");
    build(&site);
    let run = site.run(&["build", "--out", "out", "--now", NOW]);
    run.success();
    assert!(purge(&site).is_empty());
    assert_eq!(site.read("out/purge/paths.txt"), "");
    assert!(!site.path("out/purge/cloudflare-001.json").exists(), "no empty vendor batches");
    let changes = json(&site, "out/changes.json");
    assert_eq!(changes["added"], serde_json::json!([]));
    assert_eq!(changes["changed"], serde_json::json!([]));
    assert_eq!(changes["unchanged"].as_u64(), Some(23));
    assert!(run.stderr().contains("0 URL(s) to purge"), "{}", run.stderr());
}

#[test]
fn editing_a_drop_purges_its_page_and_the_index_only() {
    let site = Site::fixture("build/basic");
    site.write(
        "drops/other/drop.yaml",
        &site.read("drops/preview/drop.yaml").replace("draft: true\n", "").replace("PREVIEW-1", "OTHER-1"),
    );
    fs::copy(site.path("drops/launch/hero.jpg"), site.path("drops/other/hero.jpg")).unwrap();
    build(&site);
    let drop = site.read("drops/launch/drop.yaml");
    site.write("drops/launch/drop.yaml", &drop.replace("title: \"Launch", "title: \"Relaunch"));
    build(&site);
    assert_eq!(
        purge(&site),
        [
            "https://drops.test/",
            "https://drops.test/index.html",
            "https://drops.test/launch/",
            "https://drops.test/launch/index.html",
        ]
    );
    let changes = json(&site, "out/changes.json");
    let changed: Vec<&str> =
        changes["changed"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(changed.contains(&"launch/index.html") && changed.contains(&"launch/index.html.br"));
    assert!(!changed.iter().any(|path| path.starts_with("other/")));
    assert_eq!(site.read("out/purge/tags.txt"), "_index\nlaunch\n");
    let cloudfront = json(&site, "out/purge/cloudfront-001.json");
    assert_eq!(cloudfront["Paths"]["Quantity"].as_u64(), Some(4));
    assert_eq!(cloudfront["Paths"]["Items"][2], "/launch/");
}

#[test]
fn deleting_a_drop_purges_its_urls_and_keeps_its_images_for_a_grace_period() {
    let site = Site::fixture("build/basic");
    build(&site);
    fs::remove_dir_all(site.path("drops/launch")).unwrap();
    site.write("drops/preview/drop.yaml", &site.read("drops/preview/drop.yaml").replace("draft: true\n", ""));
    build(&site);
    let purged = purge(&site);
    assert!(
        purged.contains(&"https://drops.test/launch/".to_owned())
            && purged.contains(&"https://drops.test/launch/index.html".to_owned()),
        "{purged:?}"
    );
    assert!(!purged.iter().any(|url| url.contains("/_img/")), "hashed files are never purged");
    let changes = json(&site, "out/changes.json");
    let removed: BTreeMap<&str, &Value> =
        changes["removed"].as_array().unwrap().iter().map(|r| (r["path"].as_str().unwrap(), r)).collect();
    let badge = removed[removed
        .keys()
        .find(|path| crate::support::redact_hashes(path) == "_img/badge-[HASH]-40.png")
        .unwrap()];
    assert_eq!(badge["cache_class"], "immutable");
    assert_eq!(badge["delete_after"], "2026-11-30T12:00:00Z");
    assert_eq!(badge["grace_days"].as_u64(), Some(7));
    let page = removed["launch/index.html"];
    assert_eq!(page["delete_after"], Value::Null);
}

#[test]
fn header_changes_are_metadata_only_and_purge_the_affected_urls() {
    let site = Site::fixture("build/basic");
    build(&site);
    let config = site.read("dropgen.yaml");
    site.write(
        "dropgen.yaml",
        &format!("{config}headers:\n  data:\n    cache_control: \"public, max-age=60\"\n"),
    );
    build(&site);
    let changes = json(&site, "out/changes.json");
    let metadata: Vec<&str> =
        changes["metadata_changed"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(metadata, ["robots.txt", "sitemap.xml"]);
    assert_eq!(purge(&site), ["https://drops.test/robots.txt", "https://drops.test/sitemap.xml"]);
    assert!(site.read("out/public/_headers").contains("/sitemap.xml\n  Cache-Control: public, max-age=60\n"));
}

#[test]
fn cloudflare_batches_respect_the_configured_size() {
    let site = Site::fixture("build/basic");
    let config = site.read("dropgen.yaml");
    site.write("dropgen.yaml", &format!("{config}purge:\n  cloudflare_batch_size: 3\n"));
    build(&site);
    let batches: Vec<Value> =
        (1..=3).map(|n| json(&site, &format!("out/purge/cloudflare-{n:03}.json"))).collect();
    let sizes: Vec<usize> = batches.iter().map(|b| b["files"].as_array().unwrap().len()).collect();
    assert_eq!(sizes, [3, 3, 1]);
    assert!(!site.path("out/purge/cloudflare-004.json").exists());
}

#[test]
fn a_previous_manifest_can_be_given_explicitly() {
    let site = Site::fixture("build/basic");
    build(&site);
    fs::copy(site.path("out/manifest.json"), site.path("previous.json")).unwrap();
    site.run(&["build", "--out", "elsewhere", "--now", NOW, "--previous-manifest", "previous.json"])
        .success();
    assert_eq!(site.read("elsewhere/purge.txt"), "");
    let run = site.run(&["build", "--out", "elsewhere", "--previous-manifest", "typo.json"]);
    run.failure(2);
    assert!(run.stderr().contains("typo.json"), "{}", run.stderr());
    site.write("broken.json", "{ not json");
    let run = site.run(&["build", "--out", "elsewhere", "--previous-manifest", "broken.json"]);
    run.failure(2);
    assert!(run.stderr().contains("cannot compare with the previous manifest"), "{}", run.stderr());
}

#[test]
fn next_transition_comes_from_now_or_source_date_epoch_never_the_clock() {
    let site = Site::fixture("build/basic");
    site.run(&["build", "--out", "out"]).success();
    assert_eq!(json(&site, "out/manifest.json")["build"].get("next_transition_at"), None);
    build(&site);
    // In UTC, though the drop wrote `2027-01-15T23:00:00-05:00`.
    assert_eq!(json(&site, "out/manifest.json")["build"]["next_transition_at"], "2027-01-16T04:00:00Z");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_dropgen"))
        .args(["build", "--out", "epoch"])
        .current_dir(site.root())
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .unwrap();
    assert!(output.status.success());
    let manifest = json(&site, "epoch/manifest.json");
    assert_eq!(manifest["build"]["source_date_epoch"].as_i64(), Some(1_700_000_000));
    assert_eq!(manifest["build"]["next_transition_at"], "2026-11-20T15:00:00Z");
}

#[test]
fn headers_file_has_a_strict_policy_and_no_overlapping_cache_rules() {
    let site = Site::fixture("build/basic");
    build(&site);
    let headers = site.read("out/public/_headers");
    let csp = headers.lines().find(|line| line.trim_start().starts_with("Content-Security-Policy:")).unwrap();
    let script = hashed(&site.path("out/public"), "_assets/drops-[HASH].js");
    assert!(csp.contains(&format!("script-src https://drops.test/{script} 'sha384-")), "{csp}");
    assert!(csp.contains("connect-src 'self' https://inventory.drops.test;"), "{csp}");
    assert!(csp.contains("frame-src https://player.drops.test;"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(headers.contains("X-Content-Type-Options: nosniff"));
    // The catch-all rule sets no Cache-Control, so no URL gets two.
    let catch_all = headers.split("\n/*\n").nth(1).unwrap().split("\n/").next().unwrap();
    assert!(catch_all.contains("Content-Security-Policy"), "{catch_all}");
    assert!(!catch_all.contains("Cache-Control"), "{catch_all}");
    assert!(headers.contains("/_img/*\n  Cache-Control: public, max-age=31536000, immutable\n"));
    assert!(headers.contains("/launch/*\n  Cache-Control: public, max-age=0, must-revalidate\n"));
}

#[test]
fn a_rollback_gets_a_new_cloudfront_caller_reference() {
    let site = Site::fixture("build/basic");
    build(&site);
    let drop = site.read("drops/launch/drop.yaml");
    let reference = |site: &Site| {
        json(site, "out/purge/cloudfront-001.json")["CallerReference"].as_str().unwrap().to_owned()
    };
    site.write("drops/launch/drop.yaml", &drop.replace("title: \"Launch", "title: \"Relaunch"));
    build(&site);
    let forward = reference(&site);
    site.write("drops/launch/drop.yaml", &drop);
    build(&site);
    let back = reference(&site);
    site.write("drops/launch/drop.yaml", &drop.replace("title: \"Launch", "title: \"Relaunch"));
    site.run(&["build", "--out", "out", "--now", "2026-11-23T13:00:00Z"]).success();
    let forward_again = reference(&site);
    assert_ne!(forward, back);
    assert_ne!(forward, forward_again, "the same change at another time is a new invalidation");
}

#[test]
fn a_new_drop_purges_its_url_in_case_a_404_was_cached() {
    let site = Site::fixture("build/basic");
    build(&site);
    site.write("drops/preview/drop.yaml", &site.read("drops/preview/drop.yaml").replace("draft: true\n", ""));
    build(&site);
    let purged = purge(&site);
    assert!(purged.contains(&"https://drops.test/preview/".to_owned()), "{purged:?}");
}
