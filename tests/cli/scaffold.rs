use crate::support::{Site, run_in, run_with_env};

#[test]
fn new_scaffolds_a_drop_that_builds_once_it_has_a_hero() {
    let site = Site::fixture("build/basic");
    let run = site.run(&["new", "spring-sale"]);
    run.success();
    assert!(run.stderr().contains("created"), "{}", run.stderr());
    let text = site.read("drops/spring-sale/drop.yaml");
    assert!(text.contains("title: \"Spring Sale\"") && text.contains("draft: true"));
    // Without its image the draft is reported, not silently skipped, but as a warning: a draft
    // must not block the site's build.
    let check = site.run(&["check"]);
    check.success();
    assert!(
        check.stderr().contains("warning: image `drops/spring-sale/hero.jpg` does not exist (in a draft"),
        "{}",
        check.stderr()
    );
    site.run(&["check", "--drafts"]).failure(1);
    std::fs::copy(site.path("drops/launch/hero.jpg"), site.path("drops/spring-sale/hero.jpg")).unwrap();
    site.run(&["build", "--out", "out", "--drafts"]).success();
    assert!(site.read("out/public/spring-sale/index.html").contains("<h1>Spring Sale</h1>"));
}

#[test]
fn new_refuses_bad_slugs_and_existing_drops() {
    let site = Site::fixture("build/basic");
    let run = site.run(&["new", "Spring Sale"]);
    run.failure(2);
    assert!(run.stderr().contains("is not a valid slug"), "{}", run.stderr());
    let run = site.run(&["new", "launch"]);
    run.failure(2);
    assert!(run.stderr().contains("already exists"), "{}", run.stderr());
    assert!(site.read("drops/launch/drop.yaml").contains("Launch"), "existing drop untouched");
}

/// An empty folder in the test's temporary directory.
fn empty_dir() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("dropgen-init-").tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap()
}

#[test]
fn init_writes_a_site_whose_first_build_succeeds_without_warnings() {
    let dir = empty_dir();
    let run = run_in(dir.path(), &["init", "spring-shop"]);
    run.success();
    assert!(run.stderr().contains("next: cd spring-shop && dropgen serve"), "{}", run.stderr());
    let site = dir.path().join("spring-shop");
    let read = |rel: &str| std::fs::read_to_string(site.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    assert!(
        read("dropgen.yaml").starts_with("# yaml-language-server: $schema=./schemas/dropgen.schema.json\n")
    );
    assert!(read("dropgen.yaml").contains("title: \"Spring Shop\""));
    let drop = read("drops/first-drop/drop.yaml");
    assert!(drop.starts_with("# yaml-language-server: $schema=../../schemas/drop.schema.json\n"));
    assert!(site.join("drops/first-drop/hero.jpg").is_file());
    assert_eq!(
        read(".gitignore").lines().filter(|l| !l.starts_with('#')).collect::<Vec<_>>(),
        ["/dist/", "/.dist.lock", "/.dropgen-cache/", "/dist-preview/", "/.dist-preview.lock"]
    );
    assert!(read("README.md").starts_with("# Spring Shop\n"));
    assert!(!site.join("themes").exists(), "the default theme stays built in");
    for which in ["site", "drop"] {
        let printed = run_in(dir.path(), &["schema", which]);
        printed.success();
        let file = if which == "site" { "schemas/dropgen.schema.json" } else { "schemas/drop.schema.json" };
        assert_eq!(read(file), printed.stdout(), "{file} is what `dropgen schema {which}` prints");
    }
    let settings: serde_json::Value = serde_json::from_str(&read(".vscode/settings.json")).unwrap();
    assert_eq!(settings["yaml.schemas"]["./schemas/drop.schema.json"], "drops/*/drop.yaml");
    assert_eq!(settings["yaml.schemas"]["./schemas/dropgen.schema.json"], "dropgen.yaml");

    // The first build, with no other step: no warning, and the drop is live now.
    let build = run_in(&site, &["build"]);
    build.success();
    assert!(!build.stderr().contains("warning"), "{}", build.stderr());
    let page = std::fs::read_to_string(site.join("dist/public/first-drop/index.html")).unwrap();
    assert!(page.contains("<h1>First Drop</h1>"), "{page}");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(site.join("dist/manifest.json")).unwrap()).unwrap();
    assert!(manifest["files"]["first-drop/index.html"].is_object());
    let starts_at = drop.lines().find_map(|l| l.strip_prefix("starts_at: ")).unwrap();
    let today = std::process::Command::new("date").args(["-u", "+%Y-%m-%dT00:00:00Z"]).output().unwrap();
    assert_eq!(starts_at, String::from_utf8_lossy(&today.stdout).trim(), "live from the day of init, no end");
    assert!(!drop.contains("\nends_at:"));
    // What `build` writes is what the .gitignore leaves out.
    assert!(site.join("dist").is_dir() && site.join(".dropgen-cache").is_dir());
}

#[test]
fn init_is_deterministic_for_a_given_folder_and_day() {
    let dir = empty_dir();
    let at = [("SOURCE_DATE_EPOCH", "1795000000")];
    run_with_env(dir.path(), &["init", "a/shop"], &at).success();
    run_with_env(dir.path(), &["init", "b/shop"], &at).success();
    let a = crate::support::tree(&dir.path().join("a/shop"));
    assert_eq!(a, crate::support::tree(&dir.path().join("b/shop")));
    assert_eq!(a.len(), 9, "{:?}", a.iter().map(|(p, _)| p).collect::<Vec<_>>());
    let drop =
        String::from_utf8(a.iter().find(|(p, _)| p == "drops/first-drop/drop.yaml").unwrap().1.clone())
            .unwrap();
    assert!(drop.contains("\nstarts_at: 2026-11-18T00:00:00Z\n"), "{drop}");
}

#[test]
fn init_refuses_a_folder_that_is_not_empty_and_never_overwrites() {
    let dir = empty_dir();
    std::fs::write(dir.path().join("notes.txt"), "mine").unwrap();
    let run = run_in(dir.path(), &["init"]);
    run.failure(2);
    assert!(run.stderr().contains("is not empty (it holds `notes.txt`)"), "{}", run.stderr());
    assert!(run.stderr().contains("--force"), "{}", run.stderr());
    assert!(!dir.path().join("dropgen.yaml").exists(), "nothing written");

    std::fs::write(dir.path().join("README.md"), "my own readme").unwrap();
    let forced = run_in(dir.path(), &["init", "--force"]);
    forced.success();
    assert!(forced.stderr().contains("kept ./README.md (it already exists)"), "{}", forced.stderr());
    assert_eq!(std::fs::read_to_string(dir.path().join("README.md")).unwrap(), "my own readme");
    assert_eq!(std::fs::read_to_string(dir.path().join("notes.txt")).unwrap(), "mine");
    assert!(dir.path().join("dropgen.yaml").is_file());
    // Again: every file exists now, and none is touched.
    let before = crate::support::tree(dir.path());
    let again = run_in(dir.path(), &["init", "--force"]);
    again.success();
    assert!(again.stderr().contains("created 0 files"), "{}", again.stderr());
    assert_eq!(crate::support::tree(dir.path()), before);
}

#[test]
fn init_accepts_a_fresh_git_repository_and_refuses_a_file() {
    let dir = empty_dir();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    run_in(dir.path(), &["init"]).success();
    std::fs::write(dir.path().join("file"), "").unwrap();
    let run = run_in(dir.path(), &["init", "file"]);
    run.failure(2);
    assert!(run.stderr().contains("`file` exists and is not a folder"), "{}", run.stderr());
}

#[test]
fn new_points_editors_at_the_drop_schema_and_writes_it_when_missing() {
    let site = Site::fixture("build/basic");
    let run = site.run(&["new", "spring-sale"]);
    run.success();
    assert!(run.stderr().contains("schemas/drop.schema.json"), "{}", run.stderr());
    let text = site.read("drops/spring-sale/drop.yaml");
    assert_eq!(text.lines().next(), Some("# yaml-language-server: $schema=../../schemas/drop.schema.json"));
    assert_eq!(site.read("schemas/drop.schema.json"), site.run(&["schema", "drop"]).stdout());
    // A second drop leaves the schema alone.
    site.write("schemas/drop.schema.json", "{}");
    site.run(&["new", "autumn-sale"]).success();
    assert_eq!(site.read("schemas/drop.schema.json"), "{}");
}
