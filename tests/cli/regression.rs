//! Regressions, each named after the bug it pins down (issue 12, "Stages that return what
//! they make").

use std::collections::BTreeSet;
use std::fs;

use crate::support::{Site, repo_root};

const NOW: &str = "2026-11-23T12:00:00Z";

/// The basic fixture with two more drops, slugged `site` and `theme`, copies of `launch`.
fn site_with_drops_named_like_site_tags() -> Site {
    let site = Site::fixture("build/basic");
    for slug in ["site", "theme"] {
        let text = site.read("drops/launch/drop.yaml").replace("LAUNCH", &slug.to_uppercase());
        site.write(&format!("drops/{slug}/drop.yaml"), &text);
        for image in ["hero.jpg", "badge.png"] {
            fs::copy(
                site.path(&format!("drops/launch/{image}")),
                site.path(&format!("drops/{slug}/{image}")),
            )
            .unwrap();
        }
    }
    site
}

/// Issue 12: cache tags were one flat namespace, so a drop slugged `site` lost its tag from the
/// purge files (they leave out the tag every file has), and one slugged `theme` shared its tag
/// with every theme asset.
#[test]
fn drop_slugs_do_not_collide_with_the_sites_cache_tags() {
    let site = site_with_drops_named_like_site_tags();
    site.run(&["build", "--out", "out", "--now", NOW, "--cache-dir", "cache"]).success();
    let manifest: serde_json::Value = serde_json::from_str(&site.read("out/manifest.json")).unwrap();
    let files = manifest["files"].as_object().unwrap();
    let tags = |path: &str| -> BTreeSet<String> {
        files[path]["cache_tags"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_owned()).collect()
    };
    // Every file carries the site-wide tags; the 404 page carries nothing else.
    let site_wide = tags("404.html");
    let purged: BTreeSet<String> = site.read("out/purge/tags.txt").lines().map(str::to_owned).collect();
    for slug in ["site", "theme", "launch"] {
        let own: BTreeSet<String> =
            tags(&format!("{slug}/index.html")).difference(&site_wide).cloned().collect();
        assert!(
            !own.is_empty(),
            "the drop `{slug}` has no cache tag of its own: {:?}",
            tags(&format!("{slug}/index.html"))
        );
        assert!(own.is_subset(&purged), "the tag of `{slug}` is not purged: {purged:?}");
        for (path, _) in files.iter().filter(|(path, _)| path.starts_with("_assets/")) {
            assert!(tags(path).is_disjoint(&own), "`{path}` shares the tag of the drop `{slug}`");
        }
    }
}

/// Issue 12: generated paths belonged to no one. `assets::reserved` listed the generated file
/// names, but not that a generated file can't also be a folder, so a theme file at
/// `static/robots.txt/x.txt` passed `check` and failed `build` with an IO error.
#[test]
fn theme_files_cannot_take_paths_that_belong_to_generated_files() {
    let site = Site::fixture("build/basic");
    for (path, owner) in
        [("robots.txt/x.txt", "robots.txt"), ("_headers/x.txt", "_headers"), ("launch", "launch/")]
    {
        site.write(&format!("themes/default/static/{path}"), "x");
        let run = site.run(&["check"]);
        run.failure(1);
        let stderr = run.stderr();
        assert!(stderr.contains(&format!("the theme file `static/{path}`")), "{path}: {stderr}");
        assert!(stderr.contains(&format!("`{owner}`")), "{path}: {stderr}");
        assert!(
            stderr.contains("themes/default/static/"),
            "{path}: the error is not at the theme file: {stderr}"
        );
        fs::remove_file(site.path(&format!("themes/default/static/{path}"))).unwrap();
    }
}

/// Issue 12: the SKU was the product's element id, so a valid SKU `main` took over the skip
/// link's target.
#[test]
fn a_sku_cannot_take_a_landmark_id() {
    let site = Site::fixture("build/basic");
    site.write("drops/launch/drop.yaml", &site.read("drops/launch/drop.yaml").replace("LAUNCH-1", "main"));
    site.run(&["build", "--out", "out", "--now", NOW, "--cache-dir", "cache"]).success();
    let html = site.read("out/public/launch/index.html");
    assert!(html.contains(r##"href="#main""##), "the skip link is gone");
    assert_eq!(html.matches(r#"id="main""#).count(), 1, "two elements are `#main`");
    assert!(html.contains(r#"data-sku="main""#));
}

/// The words `drops.js` shows, as the default theme writes them.
const SCRIPT_WORDS: [&str; 15] = [
    "Starts in #",
    "Opening any moment",
    "Live now · ends in #",
    "Live now",
    "Paused · back soon",
    "Ended",
    "Opens in #",
    "In stock",
    "Only # left",
    "Sold out",
    "Limit reached for you",
    "Not on sale right now",
    "Live stock is unavailable",
    "Reserving yours…",
    "Still busy: taking you to checkout…",
];

/// A translation that HTML attributes, JSON and `<script>` all have to survive.
fn hostile(word: &str) -> String {
    format!("{word} – it's \"quoted\" </script><!-- & \\ <b>")
}

/// Issue 12: the script's words were JSON in a single-quoted attribute, so the first
/// apostrophe in a translation broke the page's script.
#[test]
fn the_scripts_words_survive_apostrophes_quotes_and_script_tags() {
    let site = Site::fixture("build/basic");
    let mut base = fs::read_to_string(repo_root().join("themes/default/templates/base.html")).unwrap();
    for word in SCRIPT_WORDS {
        let quoted = format!("\"{word}\"");
        assert!(base.contains(&quoted), "`{word}` is not in base.html");
        // A backtick string in the template, so the translation may hold both kinds of quotes.
        base = base.replace(&quoted, &format!("`{}`", hostile(word).replace('\\', "\\\\")));
    }
    site.write("themes/default/templates/base.html", &base);
    site.run(&["build", "--out", "out", "--now", NOW, "--cache-dir", "cache"]).success();
    for page in ["launch/index.html", "index.html", "404.html"] {
        let html = site.read(&format!("out/public/{page}"));
        let open = r#"<script type="application/json" data-text>"#;
        let start = html.find(open).unwrap_or_else(|| panic!("{page} has no word block")) + open.len();
        let end = start + html[start..].find("</script>").unwrap();
        let words: serde_json::Value = serde_json::from_str(&html[start..end]).unwrap_or_else(|err| {
            panic!("{page}: the word block is not JSON ({err}): {}", &html[start..end])
        });
        // Every word, and the `time` format (options, not a word) as the theme wrote it.
        let words = words.as_object().unwrap();
        assert_eq!(words["time"]["timeZoneName"], "short", "{page}");
        let mut values: Vec<&str> = words.values().filter_map(serde_json::Value::as_str).collect();
        values.sort_unstable();
        let mut expected: Vec<String> = SCRIPT_WORDS.iter().map(|word| hostile(word)).collect();
        expected.sort_unstable();
        assert_eq!(values, expected, "{page}");
        assert!(!html.contains("data-text='"), "{page} still has the words in an attribute");
    }
}

/// Issue 12: image errors were strings collected out of nested parallel iterators, so which
/// width's and format's error a build reported depended on thread timing. A source one pixel
/// wide and 100,000 high fails in more than one encoder.
#[test]
fn image_errors_name_the_source_and_width_and_do_not_depend_on_timing() {
    let site = Site::fixture("build/basic");
    let mut png = Vec::new();
    image::RgbImage::from_pixel(1, 100_000, image::Rgb([200, 40, 40]))
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    fs::write(site.path("drops/launch/badge.png"), png).unwrap();
    let mut messages = BTreeSet::new();
    for run in 0..4 {
        let result = site.run(&[
            "build",
            "--out",
            "out",
            "--now",
            NOW,
            "--jobs",
            "4",
            "--cache-dir",
            &format!("cache-{run}"),
        ]);
        result.failure(1);
        let stderr = result.stderr();
        let line = stderr
            .lines()
            .find(|line| line.starts_with("error: `drops/launch/badge.png`"))
            .unwrap_or_else(|| panic!("{stderr}"));
        assert!(line.contains("1 px wide"), "the width is missing: {line}");
        messages.insert(line.to_owned());
    }
    assert_eq!(messages.len(), 1, "the reported error changed between runs: {messages:#?}");
}
