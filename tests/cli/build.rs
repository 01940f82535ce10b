use std::fs;

use crate::support::{Site, assert_matches_file, fixture, hashed, redact_hashes, tree};

/// The basic fixture's whole output: text files compared with
/// `tests/fixtures/build/basic.expected/` (pages, `_headers`, manifest, changes, purge files),
/// binary ones by name.
#[test]
fn builds_the_basic_fixture_as_expected() {
    let site = Site::fixture("build/basic");
    let run = site.run(&["build", "--verbose", "--out", "out", "--now", "2026-11-23T12:00:00Z"]);
    run.success();
    assert!(run.stderr().contains("built 1 drop(s): 23 files"), "{}", run.stderr());
    assert!(run.stderr().contains("warning: images in markdown are not shown"), "{}", run.stderr());
    let out = site.path("out");
    let files = tree(&out);
    let names: Vec<String> = files.iter().map(|(name, _)| redact_hashes(name)).collect();
    assert_eq!(
        names,
        [
            ".dropgen-output",
            "changes.json",
            "inventory.json",
            "manifest.json",
            "public/404.html",
            "public/404.html.br",
            "public/404.html.gz",
            "public/_assets/drops-[HASH].js",
            "public/_assets/drops-[HASH].js.br",
            "public/_assets/drops-[HASH].js.gz",
            "public/_assets/placeholders-[HASH].css",
            "public/_assets/style-[HASH].css",
            "public/_assets/style-[HASH].css.br",
            "public/_assets/style-[HASH].css.gz",
            "public/_headers",
            // Sources smaller than every width: one size each. The AVIFs of such tiny images
            // are larger than their WebPs, so they are dropped.
            "public/_img/badge-[HASH]-40.png",
            "public/_img/badge-[HASH]-40.webp",
            "public/_img/hero-[HASH]-96.jpg",
            "public/_img/hero-[HASH]-96.webp",
            "public/index.html",
            "public/index.html.br",
            "public/index.html.gz",
            "public/launch/index.html",
            "public/launch/index.html.br",
            "public/launch/index.html.gz",
            "public/robots.txt",
            "public/sitemap.xml",
            "purge.txt",
            "purge/cloudflare-001.json",
            "purge/cloudfront-001.json",
            "purge/fastly-001.json",
            "purge/paths.txt",
            "purge/tags.txt",
        ]
    );
    let expected = fixture("build/basic.expected");
    for (name, bytes) in &files {
        let text_file = [".html", ".xml", ".txt", ".json", "_headers"].iter().any(|ext| name.ends_with(ext));
        if text_file && !name.contains("/_assets/") {
            assert_matches_file(&String::from_utf8_lossy(bytes), &expected.join(name));
        }
    }
    assert!(
        run.stderr().contains("2 AVIF dropped (their sources had an AVIF no smaller than its WebP)"),
        "{}",
        run.stderr()
    );
}

/// Everything a shopper needs is in the HTML: copy, prices, options and a real buy link per
/// product, with no script required.
#[test]
fn drop_pages_work_without_javascript() {
    let site = Site::fixture("build/basic");
    site.run(&["build", "--out", "out"]).success();
    let page = site.read("out/public/launch/index.html");
    let public = site.path("out/public");
    let script = hashed(&public, "_assets/drops-[HASH].js");
    let (jpg, webp) =
        (hashed(&public, "_img/hero-[HASH]-96.jpg"), hashed(&public, "_img/hero-[HASH]-96.webp"));
    let og_image = format!(r#"<meta property="og:image" content="https://drops.test/{jpg}">"#);
    let script_tag = format!(r#"<script src="/{script}" integrity="sha384-"#);
    let webp_source = format!(r#"<source type="image/webp" srcset="/{webp} 96w""#);
    let img = format!(
        r#"src="/{jpg}" srcset="/{jpg} 96w" sizes="(min-width: 72rem) 41rem, (min-width: 48rem) 58vw, calc(100vw - 2rem)" width="96" height="64" alt="A blue gradient" loading="eager""#
    );
    for expected in [
        r#"<a class="buy" data-buy href="https://shop.drops.test/checkout?sku=LAUNCH-1&amp;drop=launch">"#,
        r#"<a class="buy" data-buy href="https://shop.drops.test/checkout?sku=LAUNCH.2_b&amp;drop=launch">"#,
        r#"<data value="79.50">$79.50</data>"#,
        r#"<s><span class="visually-hidden">Regular price </span>$99.00</s>"#,
        r#"<data value="1200">¥1,200</data>"#,
        "<li>S</li><li>M</li><li>L</li>",
        "Limit 2 per customer",
        r#"<p class="stock" data-stock role="status" aria-live="polite">"#,
        r#"data-drop="launch" data-inventory-api="https://inventory.drops.test/v1" data-starts-at="2026-11-20T15:00:00Z" data-ends-at="2027-01-15T23:00:00-05:00""#,
        r#"<p class="schedule" data-countdown>"#,
        r#"<time datetime="2026-11-20T15:00:00Z">20 Nov 2026, 15:00 UTC</time>"#,
        r#"<time datetime="2027-01-15T23:00:00-05:00">15 Jan 2027, 23:00 UTC-05:00</time>"#,
        r#"<a href="https://drops.test/replay">Stream not loading? Watch it here</a>"#,
        r#"<iframe src="https://player.drops.test/embed/launch" title="Launch stream: Launch &lt;script&gt;"#,
        r#"loading="lazy""#,
        r#"<link rel="canonical" href="https://drops.test/launch/">"#,
        &og_image,
        &script_tag,
        &webp_source,
        &img,
    ] {
        assert!(page.contains(expected), "missing {expected}\nin:\n{page}");
    }
    assert_eq!(page.matches("<h1>").count(), 1, "one h1 per page");
    // Each product's card and its item in the buy bar.
    assert_eq!(page.matches("<a class=\"buy\"").count(), 4);
    // Live reload and the mock belong to `dropgen serve`, which adds them while serving only.
    assert!(!page.contains("_dropgen"), "serve-only markup in build output");
}

/// The floor of issue 13: a drop page's HTML (with the stylesheet it inlines), the
/// stylesheet and script it links, compressed as served (the `.gz` siblings; a file too small for one counts whole), fit in one TCP initial
/// window (10 segments, about 14 KB), so the first round trip brings everything to render
/// and hydrate the page.
#[test]
fn a_drop_page_with_its_css_and_script_fits_one_initial_window() {
    let site = Site::fixture("build/basic");
    let run = site.run(&["build", "--verbose", "--out", "out"]);
    run.success();
    assert!(
        run.stderr().contains(" bytes minified and gzipped (budget 2560)"),
        "the build prints the size: {}",
        run.stderr()
    );
    let public = site.path("out/public");
    let page = site.read("out/public/launch/index.html");
    let mut linked: Vec<String> = page
        .split('"')
        .filter(|part| part.starts_with("/_assets/") && (part.ends_with(".css") || part.ends_with(".js")))
        .map(str::to_owned)
        .collect();
    linked.sort();
    linked.dedup();
    assert_eq!(linked.len(), 2, "placeholders.css and drops.js (style.css is inline): {linked:?}");
    assert!(page.contains("<style>:root{"), "the theme's stylesheet is inline");
    let mut total = 0;
    for path in std::iter::once("/launch/index.html".to_owned()).chain(linked) {
        let file = public.join(path.trim_start_matches('/'));
        let gz = file.with_file_name(format!("{}.gz", file.file_name().unwrap().to_string_lossy()));
        let size = fs::metadata(if gz.exists() { &gz } else { &file }).unwrap().len();
        eprintln!("{path}: {size} bytes as served");
        total += size;
    }
    assert!(total <= 14 * 1024, "{total} bytes, over one initial window (14 KB)");
}

/// Marketer text cannot inject markup: titles are escaped, markdown HTML is sanitised, and
/// JSON-LD cannot close its script element.
#[test]
fn marketer_text_cannot_inject_script() {
    let site = Site::fixture("build/basic");
    site.run(&["build", "--out", "out"]).success();
    let page = site.read("out/public/launch/index.html");
    assert!(page.contains("<h1>Launch &lt;script&gt;alert(&#39;title&#39;)&lt;/script&gt;</h1>"));
    assert!(!page.contains("alert('xss')"), "sanitiser let a script through");
    assert!(!page.contains("onerror"));
    assert!(!page.contains("javascript:"));
    assert!(page.contains(r#""name":"First \u003c/script\u003e product""#));
    let scripts = page.matches("<script").count();
    assert_eq!(scripts, 3, "only the theme script, its words and JSON-LD");
    // JSON-LD carries price and currency but never a stock claim.
    assert!(page.contains(r#""price":"79.50","priceCurrency":"USD""#));
    assert!(!page.contains("availability"));
}

#[test]
fn the_index_lists_drops_with_their_times_and_the_sitemap_skips_drafts() {
    let site = Site::fixture("build/basic");
    site.run(&["build", "--out", "out", "--drafts", "--now", "2026-12-01T00:00:00Z"]).success();
    let index = site.read("out/public/index.html");
    let preview = index.find(r#"href="/preview/""#).expect("draft listed with --drafts");
    let launch = index.find(r#"href="/launch/""#).unwrap();
    assert!(launch < preview, "live before upcoming");
    assert!(index.contains(r#"data-starts-at="2027-02-01T10:00:00+01:00""#));
    let draft_page = site.read("out/public/preview/index.html");
    assert!(draft_page.contains(r#"<meta name="robots" content="noindex">"#));
    assert!(draft_page.contains(r#"href="https://other.drops.test/buy/preview/PREVIEW-1""#));
    let sitemap = site.read("out/public/sitemap.xml");
    assert!(sitemap.contains("<loc>https://drops.test/launch/</loc>") && !sitemap.contains("preview"));
}

/// Issue 23: the index sells: live drops first (the next to end first), then upcoming in start
/// order, then the last ended; each card has its price and a call to action; the rest of a
/// phase is paged under `/drops/<phase>/`, so the index stays the same size, and the sitemap
/// lists the pages. One `<h1>`: the site's name, not said twice.
#[test]
fn the_index_groups_drops_by_phase_and_pages_the_rest() {
    let site = Site::fixture("build/basic");
    let hero = std::fs::read(site.path("drops/launch/hero.jpg")).unwrap();
    // 30 live (ending day by day), 20 upcoming (starting day by day), 40 ended.
    let mut expected: Vec<(usize, String)> = Vec::new();
    for n in 0..90 {
        let (starts, ends, phase) = match n {
            0..30 => (format!("2026-11-{:02}", 1 + n % 28), format!("2027-01-{:02}", 1 + n), 0),
            30..50 => (format!("2027-03-{:02}", 50 - n), "2027-04-01".to_owned(), 1),
            _ => ("2025-01-01".to_owned(), format!("2026-{:02}-{:02}", 1 + (n - 50) / 4, 1 + n % 28), 2),
        };
        let slug = format!("d{n:02}");
        site.write(
            &format!("drops/{slug}/drop.yaml"),
            &[
                format!("title: Drop {n}\nsummary: Number {n}\n"),
                format!("starts_at: {starts}T10:00:00Z\nends_at: {ends}T10:00:00Z\n"),
                "hero:\n  src: hero.jpg\n  alt: A hero\nproducts:\n".to_owned(),
                format!("  - sku: SKU-{n}-A\n    name: A\n    price: {}\n", 10 + n),
                format!("  - sku: SKU-{n}-B\n    name: B\n    price: 99\n"),
            ]
            .concat(),
        );
        std::fs::write(site.path(&format!("drops/{slug}/hero.jpg")), &hero).unwrap();
        expected.push((phase, slug));
    }
    site.run(&["build", "--out", "out", "--now", "2026-12-01T00:00:00Z"]).success();
    let index = site.read("out/public/index.html");
    assert_eq!(index.matches("<h1").count(), 1, "{index}");
    assert!(index.contains(r#"<h1 class="brand-heading"><a class="brand" href="/">"#));
    let headings: Vec<&str> = ["Live now", "Coming up", "Ended"]
        .into_iter()
        .filter(|h| index.contains(&format!(">{h}</h2>")))
        .collect();
    assert_eq!(headings, ["Live now", "Coming up", "Ended"]);
    let cards = index.matches(r#"<li class="drop-card""#).count();
    // 24 of the 31 live (the fixture's own launch too), 12 of 20 upcoming, 6 of 40 ended.
    assert_eq!(cards, 24 + 12 + 6);
    // Upcoming in start order: d49 starts on 1 March, d48 on the 2nd.
    let (first, second) = (index.find(r#"href="/d49/""#).unwrap(), index.find(r#"href="/d48/""#).unwrap());
    assert!(first < second);
    assert!(
        index.contains(r#"<p class="card-price">From <strong>$59.00</strong></p>"#),
        "d49's lowest price"
    );
    assert!(
        index.contains("Shop now<span")
            && index.contains("Preview the drop<span")
            && index.contains("See what dropped<span")
    );
    for (phase, total) in [("live", 31), ("upcoming", 20), ("ended", 40)] {
        assert!(
            index.contains(&format!(r#"<a href="/drops/{phase}/">All {total} {phase} drops</a>"#)),
            "{phase}"
        );
    }
    // Every drop of a phase is on its archive's pages, once.
    let sitemap = site.read("out/public/sitemap.xml");
    for (phase, pages) in [(0, 2), (1, 1), (2, 2)] {
        let key = ["live", "upcoming", "ended"][phase];
        let mut archived = String::new();
        for page in 1..=pages {
            let path = if page == 1 { format!("drops/{key}/") } else { format!("drops/{key}/{page}/") };
            archived.push_str(&site.read(&format!("out/public/{path}index.html")));
            assert!(
                sitemap.contains(&format!("<loc>https://drops.test/{path}</loc>")),
                "{path} not in the sitemap"
            );
        }
        assert!(!site.path(&format!("out/public/drops/{key}/{}/index.html", pages + 1)).exists());
        for (_, slug) in expected.iter().filter(|(p, _)| *p == phase) {
            assert_eq!(
                archived.matches(&format!(r#"<h2><a href="/{slug}/""#)).count(),
                1,
                "{slug} in /drops/{key}/"
            );
        }
    }
}

/// Issue 23: a hero narrower than twice the widest the theme draws it (735 px in the default
/// theme, read from the page's `sizes`) is warned about at its `src`, with the width to export.
#[test]
fn a_hero_too_narrow_for_sharp_screens_is_warned_about() {
    let site = Site::fixture("build/basic");
    let photos = crate::support::repo_root().join("drops");
    // 1200 px wide, then 1600.
    for (source, warned) in [("marigold-candles/ember.jpg", true), ("marigold-candles/hero.jpg", false)] {
        std::fs::copy(photos.join(source), site.path("drops/launch/hero.jpg")).unwrap();
        let run = site.run(&["build", "--out", "out", "--now", "2026-11-23T12:00:00Z"]);
        run.success();
        let stderr = run.stderr();
        let warning = "warning: the hero `drops/launch/hero.jpg` is 1200 px wide; the theme draws it up to 735 px wide, so a screen of density 2 wants 1470 px\n --> drops/launch/drop.yaml:";
        assert_eq!(stderr.contains(warning), warned, "{source}: {stderr}");
        assert_eq!(stderr.contains("export the hero at least 1470 px wide"), warned, "{stderr}");
    }
}

/// The summary speaks to the person who ran the build: each drop's phase at `--now`, its
/// address, and whether its page changed since the previous build; the encoder and timing
/// details only with `--verbose`.
#[test]
fn the_summary_lists_each_drop_with_its_phase_address_and_change() {
    let site = Site::fixture("build/basic");
    let at = |now: &str, extra: &[&str]| {
        let mut args = vec!["build", "--out", "out", "--now", now];
        args.extend_from_slice(extra);
        let run = site.run(&args);
        run.success();
        run.stderr()
    };
    let first = at("2026-11-01T00:00:00Z", &[]);
    assert!(first.contains("\n  upcoming  https://drops.test/launch/\n"), "{first}");
    assert!(!first.contains("images: AVIF by") && !first.contains("stages: "), "{first}");
    let live = at("2026-11-23T12:00:00Z", &[]);
    assert!(live.contains("\n  live      https://drops.test/launch/  unchanged\n"), "{live}");
    let drop = site.read("drops/launch/drop.yaml");
    site.write("drops/launch/drop.yaml", &drop.replace("Two products", "Three products"));
    let ended = at("2027-02-01T00:00:00Z", &["--verbose"]);
    assert!(ended.contains("\n  ended     https://drops.test/launch/  changed\n"), "{ended}");
    assert!(ended.contains("\nstages: load ") && ended.contains("\nimages: "), "{ended}");
}

#[test]
fn drafts_are_left_out_by_default_and_counted() {
    let site = Site::fixture("build/basic");
    let run = site.run(&["build", "--out", "out"]);
    run.success();
    assert!(!site.path("out/public/preview").exists());
    assert!(!site.read("out/public/index.html").contains("/preview/"));
    assert!(
        run.stderr().contains("skipped 1 draft(s), which `--drafts` builds too (and `dropgen serve` shows)"),
        "{}",
        run.stderr()
    );
}

/// `dropgen new` writes a draft without a hero image: until it is published, its problems
/// must not block the site's build.
#[test]
fn an_incomplete_draft_warns_and_blocks_only_with_drafts() {
    let site = Site::fixture("build/basic");
    site.write(
        "drops/preview/drop.yaml",
        "title: Preview\nstarts_at: 2027-02-01T10:00:00+01:00\nhero:\n  src: ./missing.jpg\n  alt: x\nproducts: []\ndraft: true\n",
    );
    let run = site.run(&["build", "--out", "out"]);
    run.success();
    let stderr = run.stderr();
    assert!(
        stderr.contains(
            "missing required field `summary` (in a draft: an error once it is published or built with `--drafts`)"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("warning"), "{stderr}");
    let run = site.run(&["build", "--out", "out", "--drafts"]);
    run.failure(1);
    assert!(run.stderr().contains("error") && run.stderr().contains("missing required field `summary`"));
    assert!(!run.stderr().contains("in a draft"));
}

#[test]
fn output_is_identical_for_any_job_count_run_and_location() {
    let site = Site::copy_of(&crate::support::repo_root());
    let elsewhere = Site::copy_of(&crate::support::repo_root());
    let now = "2026-11-23T12:00:00Z";
    // Separate caches, so every build encodes its images itself.
    site.run(&["build", "--out", "one", "--jobs", "1", "--now", now, "--cache-dir", "c1"]).success();
    site.run(&["build", "--out", "two", "--jobs", "2", "--now", now, "--cache-dir", "c2"]).success();
    elsewhere.run(&["build", "--out", "one", "--jobs", "2", "--now", now]).success();
    let one = tree(&site.path("one"));
    assert!(one.len() > 10);
    assert!(one == tree(&site.path("two")), "--jobs 1 and --jobs 2 differ");
    assert!(one == tree(&elsewhere.path("one")), "builds of the same site in two folders differ");
}

#[test]
fn theme_files_may_not_take_generated_paths() {
    let site = Site::fixture("build/basic");
    for (path, message) in [
        ("robots.txt", "would replace a file dropgen generates"),
        ("notes.txt.gz", "ends in `.br` or `.gz`"),
        ("_img/logo.png", "is inside `_img/`"),
        ("launch/extra.txt", "is inside `launch/`, the page of a drop"),
        ("brand kit.txt", "has characters other than"),
    ] {
        site.write(&format!("themes/default/static/{path}"), "x");
        let run = site.run(&["check"]);
        run.failure(1);
        assert!(
            run.stderr().contains(&format!("the theme file `static/{path}` {message}")),
            "{path}: {}",
            run.stderr()
        );
        std::fs::remove_file(site.path(&format!("themes/default/static/{path}"))).unwrap();
    }
}

#[test]
fn linked_drop_folders_are_followed_inside_the_site_and_refused_outside() {
    let site = Site::fixture("build/basic");
    std::fs::rename(site.path("drops/launch"), site.path("launch-source")).unwrap();
    std::os::unix::fs::symlink(site.path("launch-source"), site.path("drops/launch")).unwrap();
    site.run(&["build", "--out", "out"]).success();
    assert!(site.path("out/public/launch/index.html").is_file());
    let outside = site.root().parent().unwrap().join("outside-drop");
    std::fs::rename(site.path("launch-source"), &outside).unwrap();
    let run = site.run(&["check"]);
    run.failure(1);
    assert!(
        run.stderr().contains("`drops/launch` is a link to something outside the site folder"),
        "{}",
        run.stderr()
    );
}

#[test]
fn a_failed_build_leaves_the_previous_output_untouched() {
    let site = Site::fixture("build/basic");
    site.run(&["build", "--out", "out"]).success();
    let before = tree(&site.path("out"));
    let drop = site.read("drops/launch/drop.yaml");
    site.write("drops/launch/drop.yaml", &drop.replace("price: 79.5", "price: 79.555"));
    site.run(&["build", "--out", "out"]).failure(1);
    assert!(before == tree(&site.path("out")), "the failed build changed the output");
    let leftovers = || -> Vec<String> {
        fs::read_dir(site.root())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.starts_with('.') && name != ".dropgen-cache" && name != ".out.lock")
            .collect()
    };
    assert!(leftovers().is_empty(), "staging folders left behind: {:?}", leftovers());
    // Failing after the image stage has put its variants into the staging folder (the cache
    // is emptied, so they are made again): the index template fails as it renders.
    site.write("drops/launch/drop.yaml", &drop);
    fs::remove_dir_all(site.path(".dropgen-cache")).unwrap();
    site.write("themes/default/templates/index.html", "{{ no_such_value.at_all }}");
    let run = site.run(&["build", "--out", "out"]);
    run.failure(1);
    assert!(run.stderr().contains("no_such_value"), "{}", run.stderr());
    let made = walkdir::WalkDir::new(site.path(".dropgen-cache/v1")).into_iter().filter_map(Result::ok);
    assert!(made.filter(|entry| entry.file_type().is_file()).count() > 3, "the image stage did not run");
    assert!(before == tree(&site.path("out")), "the failed build changed the output");
    assert!(leftovers().is_empty(), "staging folders left behind: {:?}", leftovers());
}

#[test]
fn a_rebuild_replaces_stale_files() {
    let site = Site::fixture("build/basic");
    site.run(&["build", "--out", "out"]).success();
    let old_hero = site.path("out/public").join(hashed(&site.path("out/public"), "_img/hero-[HASH]-96.jpg"));
    assert!(old_hero.exists());
    fs::copy(site.path("drops/launch/badge.png"), site.path("drops/launch/hero.png")).unwrap();
    let drop = site.read("drops/launch/drop.yaml");
    site.write("drops/launch/drop.yaml", &drop.replace("src: hero.jpg", "src: hero.png"));
    site.run(&["build", "--out", "out"]).success();
    assert!(!old_hero.exists(), "a file from the previous build survived");
}

#[test]
fn check_validates_and_renders_but_writes_nothing() {
    let site = Site::fixture("build/basic");
    let run = site.run(&["check"]);
    run.success();
    assert!(run.stderr().contains("checked 1 drop(s): 23 files would be written"), "{}", run.stderr());
    assert!(!site.path("dist").exists());
}

#[test]
fn build_writes_to_dist_in_the_site_by_default() {
    let site = Site::fixture("build/basic");
    let parent = site.root().parent().unwrap().to_path_buf();
    crate::support::run_in(&parent, &["build", "--root", "site"]).success();
    assert!(site.path("dist/public/launch/index.html").is_file());
}

#[test]
fn refuses_output_folders_it_could_destroy() {
    let site = Site::fixture("build/basic");
    let run = site.run(&["build", "--out", "."]);
    run.failure(2);
    assert!(run.stderr().contains("it contains the site itself"), "{}", run.stderr());
    site.write("notes/todo.txt", "keep me");
    let run = site.run(&["build", "--out", "notes"]);
    run.failure(2);
    assert!(run.stderr().contains("is not an earlier dropgen output"), "{}", run.stderr());
    assert_eq!(site.read("notes/todo.txt"), "keep me");
    site.run(&["build", "--out", "drops/out"]).failure(2);
}

#[test]
fn a_folder_without_dropgen_yaml_is_a_usage_error() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let run = crate::support::run_in(dir.path(), &["check"]);
    run.failure(2);
    assert!(run.stderr().contains("is not a dropgen site: it has no `dropgen.yaml`"), "{}", run.stderr());
}

#[test]
fn usage_errors_exit_2() {
    let site = Site::fixture("build/basic");
    site.run(&["build", "--jobs", "0"]).failure(2);
    site.run(&["build", "--no-such-flag"]).failure(2);
    site.run(&[]).failure(2);
}

#[test]
fn a_theme_overrides_single_templates() {
    let site = Site::fixture("build/basic");
    site.write("dropgen.yaml", &format!("{}theme: custom\n", site.read("dropgen.yaml")));
    site.write(
        "themes/custom/templates/404.html",
        "{% extends \"base.html\" %}{% block main %}<h1>Lost at {{ site.title }}</h1>{% endblock main %}",
    );
    site.write("themes/custom/static/favicon.ico", "icon");
    site.run(&["build", "--out", "out"]).success();
    assert!(site.read("out/public/404.html").contains("<h1>Lost at Test &lt;Shop&gt; &amp; Co</h1>"));
    assert_eq!(site.read("out/public/favicon.ico"), "icon");
    assert!(
        site.read("out/public/launch/index.html").contains("data-buy"),
        "other templates come from the default theme"
    );
}

/// Issue 13: a theme whose base template lost the words block still builds (the page works
/// without the script), but the build says why the script will do nothing, naming the file.
#[test]
fn a_theme_without_what_hydration_needs_is_warned_about_by_file() {
    let site = Site::fixture("build/basic");
    site.write("dropgen.yaml", &format!("{}theme: bare\n", site.read("dropgen.yaml")));
    let base =
        std::fs::read_to_string(crate::support::repo_root().join("themes/default/templates/base.html"))
            .unwrap();
    let start = base.find("{%- set text").unwrap();
    let end = base.find("</script>\n<a class=\"skip-link\"").unwrap() + "</script>\n".len();
    site.write("themes/bare/templates/base.html", &format!("{}{}", &base[..start], &base[end..]));
    site.write(
        "themes/bare/templates/drop.html",
        &std::fs::read_to_string(crate::support::repo_root().join("themes/default/templates/drop.html"))
            .unwrap()
            .replace(" data-stock ", " ")
            .replace(" data-stock>", ">"),
    );
    let run = site.run(&["build", "--out", "out"]);
    run.success();
    let stderr = run.stderr();
    assert!(
        stderr.contains("warning: drop pages have no `<script type=\"application/json\" data-text>`"),
        "{stderr}"
    );
    assert!(stderr.contains("--> themes/bare/templates/drop.html"), "{stderr}");
    // Two products, each in its card and in the buy bar.
    assert!(stderr.contains("4 product(s) with `data-sku` but 0 `data-stock` stock line(s)"), "{stderr}");
    assert_eq!(stderr.matches("warning: drop pages have no `<script").count(), 1, "once, not per page");
    // The default theme lacks nothing.
    let default = Site::fixture("build/basic");
    let run = default.run(&["build", "--out", "out"]);
    assert!(!run.stderr().contains("data-text"), "{}", run.stderr());
}

/// Issue 13: a custom theme's scripts and stylesheets are minified like the default theme's,
/// identically on every build; one that does not parse is an error at its line and column.
#[test]
fn a_large_theme_stylesheet_is_linked_not_inlined() {
    let site = Site::fixture("build/basic");
    site.write("dropgen.yaml", &format!("{}theme: big\n", site.read("dropgen.yaml")));
    let rules: String = (0..2000).map(|n| format!(".rule-{n}{{margin:{n}px}}\n")).collect();
    site.write("themes/big/static/style.css", &rules);
    site.run(&["build", "--out", "out"]).success();
    let page = site.read("out/public/launch/index.html");
    assert!(!page.contains("<style>"), "a 30 KB stylesheet is not copied into every page");
    assert!(page.contains(r#"<link rel="stylesheet" href="/_assets/style-"#), "it is linked instead");
    let headers = site.read("out/public/_headers");
    let style_src = headers.split(';').find(|part| part.trim().starts_with("style-src")).unwrap();
    assert_eq!(
        style_src.matches("'sha384-").count(),
        1,
        "only the small placeholders sheet may be inline: {style_src}"
    );
}

#[test]
fn custom_theme_scripts_and_styles_are_minified_deterministically() {
    let site = Site::fixture("build/basic");
    site.write("dropgen.yaml", &format!("{}theme: custom\n", site.read("dropgen.yaml")));
    site.write("themes/custom/static/extra.js", "// Says hello.\nfunction greet(visitorName) {\n  const message = \"hello \" + visitorName;\n  return message;\n}\n");
    site.write("themes/custom/static/extra.css", "/* Extra. */\n.extra {\n  color: #ffffff;\n}\n");
    site.write("themes/custom/static/vendor.min.js", "var keep = 1 ;\n");
    site.run(&["build", "--out", "out"]).success();
    let published = |prefix: &str, ext: &str| {
        let names: Vec<String> = fs::read_dir(site.path("out/public/_assets"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.starts_with(prefix) && name.ends_with(ext))
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        (names[0].clone(), site.read(&format!("out/public/_assets/{}", names[0])))
    };
    let (js_name, js) = published("extra-", ".js");
    assert!(
        js.starts_with("function greet(") && !js.contains("Says hello") && !js.contains("visitorName"),
        "{js}"
    );
    assert_eq!(published("extra-", ".css").1, ".extra{color:#fff}");
    let (style_name, style) = published("style-", ".css");
    assert!(!style.contains("/*") && !style.contains('\n'), "{style}");
    assert_eq!(published("vendor.min-", ".js").1, "var keep = 1 ;\n", "`.min.js` is published as it is");
    site.run(&["build", "--out", "out2"]).success();
    assert_eq!(site.read(&format!("out2/public/_assets/{js_name}")), js, "same name, same bytes");
    assert_eq!(site.read(&format!("out2/public/_assets/{style_name}")), style);

    site.write("themes/custom/static/extra.js", "const a = 1;\nconst = 2;\n");
    let run = site.run(&["check"]);
    run.failure(1);
    assert!(run.stderr().contains("error: cannot minify the script: "), "{}", run.stderr());
    assert!(run.stderr().contains("--> themes/custom/static/extra.js:2:7"), "{}", run.stderr());
}

#[test]
fn symlinked_images_may_not_leave_the_site() {
    let site = Site::fixture("build/basic");
    let outside = site.root().parent().unwrap().join("secret.jpg");
    fs::copy(site.path("drops/launch/hero.jpg"), &outside).unwrap();
    fs::remove_file(site.path("drops/launch/hero.jpg")).unwrap();
    std::os::unix::fs::symlink(&outside, site.path("drops/launch/hero.jpg")).unwrap();
    let run = site.run(&["check"]);
    run.failure(1);
    assert!(run.stderr().contains("it is a link to a file outside the site folder"), "{}", run.stderr());
}

/// A rebuild keeps (hard-links) the files the previous output holds unchanged, image
/// variants included, and writes the rest; the output is the same as a build from nothing.
#[test]
fn a_rebuild_links_unchanged_files_from_the_previous_output() {
    use std::os::unix::fs::MetadataExt;
    let site = Site::fixture("build/basic");
    site.run(&["build", "--out", "out"]).success();
    let inodes = || -> std::collections::BTreeMap<String, u64> {
        walkdir::WalkDir::new(site.path("out/public"))
            .into_iter()
            .filter_map(Result::ok)
            .filter(|entry| entry.file_type().is_file())
            .map(|entry| {
                let rel = entry.path().strip_prefix(site.path("out/public")).unwrap();
                (rel.to_string_lossy().into_owned(), entry.metadata().unwrap().ino())
            })
            .collect()
    };
    let first = inodes();
    assert!(first.keys().any(|path| path.starts_with("_img/")), "{first:?}");
    site.run(&["build", "--out", "out"]).success();
    assert_eq!(inodes(), first, "a rebuild with nothing changed wrote files again");

    let drop = site.read("drops/launch/drop.yaml");
    let title = drop.lines().find(|line| line.starts_with("title:")).unwrap().to_owned();
    site.write("drops/launch/drop.yaml", &drop.replacen(&title, "title: \"Renamed launch\"", 1));
    site.run(&["build", "--out", "out"]).success();
    let after = inodes();
    assert_ne!(after["launch/index.html"], first["launch/index.html"], "the edited page was kept");
    assert_ne!(after["index.html"], first["index.html"], "the index lists the new title");
    let images: Vec<&String> = first.keys().filter(|path| path.starts_with("_img/")).collect();
    assert!(images.iter().all(|path| after[*path] == first[*path]), "an unchanged image was written again");
    assert_eq!(after["404.html"], first["404.html"], "an unchanged page was written again");

    site.run(&["build", "--out", "fresh", "--cache-dir", "empty-cache"]).success();
    assert!(
        tree(&site.path("out/public")) == tree(&site.path("fresh/public")),
        "kept files differ from a build from nothing"
    );
    assert_eq!(site.read("out/manifest.json"), site.read("fresh/manifest.json"));
}

/// The one test that pins real content-hashed names: a change in any output byte (a script,
/// a stylesheet, an encoder setting, a pixel crate's version) shows here, on purpose. After
/// reviewing such a change, `DROPGEN_BLESS=1 cargo test --test cli hashed_names` rewrites
/// `tests/fixtures/build/basic.names`.
#[test]
fn hashed_names_are_pinned() {
    let site = Site::fixture("build/basic");
    site.run(&["build", "--out", "out", "--now", "2026-11-23T12:00:00Z"]).success();
    let names: String = tree(&site.path("out/public"))
        .into_iter()
        .map(|(name, _)| name)
        .filter(|name| redact_hashes(name) != *name)
        .map(|name| format!("{name}\n"))
        .collect();
    assert_matches_file(&names, &fixture("build/basic.names"));
}
