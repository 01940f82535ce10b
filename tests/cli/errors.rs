use crate::support::{Site, assert_matches_file, fixture};

/// Each invalid fixture's complete stderr, compared with `<case>.stderr` beside it.
fn check_case(case: &str) {
    let site = Site::fixture(&format!("invalid/{case}"));
    let run = site.run(&["check"]);
    run.failure(1);
    assert_matches_file(&run.stderr(), &fixture(&format!("invalid/{case}.stderr")));
    let build = site.run(&["build"]);
    build.failure(1);
    assert_eq!(build.stderr(), run.stderr(), "build and check report the same problems");
    assert!(!site.path("dist").exists(), "a failed build wrote output");
}

#[test]
fn reports_every_content_error_with_its_location() {
    check_case("many-errors");
}

#[test]
fn reports_broken_yaml_and_binary_files() {
    check_case("yaml-syntax");
}

/// The mistakes marketers make most (a pasted tab, a price as on a price tag, a date as people
/// write it, an end before the start, a misspelt key), each in plain words at its place.
#[test]
fn reports_marketer_mistakes_in_their_words() {
    check_case("marketer-mistakes");
}

#[test]
fn reports_template_errors_in_the_theme() {
    check_case("theme-error");
}

#[test]
fn json_messages_carry_file_line_column_and_field() {
    let site = Site::fixture("invalid/many-errors");
    let run = site.run(&["check", "--message-format", "json"]);
    run.failure(1);
    let messages: Vec<serde_json::Value> =
        run.stdout().lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    // 20 problems, and the warning that the site has no description.
    assert_eq!(messages.len(), 21);
    let price = messages.iter().find(|m| m["field"] == "products[0].price").unwrap();
    assert_eq!(price["file"], "drops/sneakers/drop.yaml");
    assert_eq!((price["line"].as_u64(), price["column"].as_u64()), (Some(11), Some(12)));
    assert_eq!(price["severity"], "error");
    assert_eq!(price["kind"], "invalid-value");
    assert_eq!(price["message"], "price `10.001` has 3 decimal places, but USD allows 2");
    assert_eq!(price["help"], "round the price to at most 2 decimal places");
}

#[test]
fn github_actions_get_annotations() {
    let site = Site::fixture("invalid/many-errors");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_dropgen"))
        .args(["check"])
        .current_dir(site.root())
        .env("GITHUB_ACTIONS", "true")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.lines().any(|line| line == "::error file=drops/sneakers/drop.yaml,line=11,col=12::products[0].price: price `10.001` has 3 decimal places, but USD allows 2%0Ahelp: round the price to at most 2 decimal places"),
        "{stdout}"
    );
    assert_eq!(stdout.lines().filter(|l| l.starts_with("::error ")).count(), 20);
}

#[test]
fn warnings_do_not_fail_the_build() {
    let site = Site::fixture("build/basic");
    let drop = site.read("drops/launch/drop.yaml");
    site.write(
        "drops/launch/drop.yaml",
        &drop.replace("summary: \"Two products", &format!("summary: \"{}Two products", "long ".repeat(40))),
    );
    let run = site.run(&["build", "--out", "out"]);
    run.success();
    assert!(run.stderr().contains("warning: the summary is "), "{}", run.stderr());
    assert!(run.stderr().contains("--> drops/launch/drop.yaml:2:10"), "{}", run.stderr());
}

#[test]
fn huge_and_deeply_nested_files_are_refused_with_a_message() {
    let site = Site::fixture("build/basic");
    let huge = format!("title: x\ndescription: |\n{}", "  lorem ipsum dolor sit amet\n".repeat(60_000));
    site.write("drops/launch/drop.yaml", &huge);
    site.write("drops/preview/drop.yaml", &format!("title: {}", "[".repeat(50_000)));
    let run = site.run(&["check"]);
    run.failure(1);
    let stderr = run.stderr();
    assert!(
        stderr.contains("--> drops/launch/drop.yaml:1:1")
            && stderr.contains("YAML files are limited to 1048576 bytes"),
        "{stderr}"
    );
    assert!(stderr.contains("--> drops/preview/drop.yaml:1:"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// The hydration script has a 2.5 KB budget, minified and gzipped: a theme whose `drops.js` is
/// over it fails the build, and the message gives the measured size.
#[test]
fn a_hydration_script_over_budget_fails_the_build_with_its_size() {
    let site = Site::fixture("build/basic");
    // Pseudo-random text barely compresses, and minifying keeps a string: 6 KB of it is far
    // over 2.5 KB.
    let mut state = 0x9e37_79b9_u32;
    let noise: String = (0..6000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            char::from(b'a' + (state % 26) as u8)
        })
        .collect();
    site.write("themes/default/static/drops.js", &format!("console.log(\"{noise}\");\n"));
    let run = site.run(&["build", "--out", "out"]);
    run.failure(1);
    let stderr = run.stderr();
    assert!(stderr.contains("error: `drops.js` is "), "{stderr}");
    assert!(
        stderr.contains(" bytes minified and gzipped, over the hydration script's budget of 2560 bytes by "),
        "{stderr}"
    );
    assert!(stderr.contains("--> themes/default/static/drops.js"), "{stderr}");
    assert!(stderr.contains("help: every visitor downloads this script"), "{stderr}");
    assert!(!site.path("out").exists(), "nothing is written");
}
