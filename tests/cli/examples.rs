use crate::support::{Site, repo_root};

/// The repository root is itself a site, and so is every folder of `examples/`: all must
/// build cleanly, without warnings.
#[test]
fn the_bundled_site_and_every_example_build() {
    let mut sites = vec![repo_root()];
    let mut examples: Vec<_> = std::fs::read_dir(repo_root().join("examples"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.join("dropgen.yaml").is_file())
        .collect();
    examples.sort();
    assert!(examples.len() >= 2, "examples/ should hold at least two sites");
    sites.extend(examples);
    for source in sites {
        let site = Site::copy_of(&source);
        let run = site.run(&["build", "--out", "out"]);
        run.success();
        assert!(!run.stderr().contains("warning"), "{}: {}", source.display(), run.stderr());
        assert!(site.path("out/public/index.html").is_file());
        assert!(site.path("out/public/sitemap.xml").is_file());
    }
}

#[test]
fn the_bundled_site_has_a_live_an_upcoming_and_an_ended_drop() {
    let site = Site::copy_of(&repo_root());
    site.run(&["build", "--out", "out"]).success();
    let index = site.read("out/public/index.html");
    assert_eq!(index.matches("class=\"drop-card\"").count(), 3);
    assert!(site.path("out/public/aero-runner-2/index.html").is_file());
    assert!(site.read("out/public/aero-runner-2/index.html").contains("data-stream"));
}
