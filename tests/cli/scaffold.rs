use crate::support::Site;

#[test]
fn new_scaffolds_a_drop_that_builds_once_it_has_a_hero() {
    let site = Site::fixture("build/basic");
    let run = site.run(&["new", "spring-sale"]);
    run.success();
    assert!(run.stderr().contains("created"), "{}", run.stderr());
    let text = site.read("drops/spring-sale/drop.yaml");
    assert!(text.contains("title: \"Spring Sale\"") && text.contains("draft: true"));
    // Without its image the drop is reported, not silently skipped.
    let check = site.run(&["check"]);
    check.failure(1);
    assert!(
        check.stderr().contains("image `drops/spring-sale/hero.jpg` does not exist"),
        "{}",
        check.stderr()
    );
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
