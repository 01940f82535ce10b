//! The editor path of a new site, with the real yaml-language-server (the server of VS Code's
//! YAML extension, Zed, Neovim and Helix) driven over LSP by `tests/tools/editor.mjs`: the
//! first line `init` writes is enough for hover and completion, and so is the
//! `.vscode/settings.json` it writes.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use crate::support::{repo_root, run_in};

/// What the language server said: hover markdown, completion labels, diagnostics.
struct Editor {
    hover: String,
    completion: BTreeSet<String>,
    diagnostics: Vec<String>,
}

/// Opens `file` in `site` and asks at two (0-based line, column) positions. `None` when Node or
/// the server is missing outside CI.
fn ask(
    site: &Path,
    file: &str,
    hover: (usize, usize),
    complete: (usize, usize),
    vscode: bool,
) -> Option<Editor> {
    let tools = repo_root().join("tests/tools");
    let on_ci = std::env::var("CI").is_ok_and(|v| v == "true");
    if !tools.join("node_modules/yaml-language-server").is_dir() {
        assert!(!on_ci, "yaml-language-server must be installed on CI (`npm ci` in tests/tools)");
        eprintln!("SKIPPED: yaml-language-server is not installed (`npm ci` in tests/tools)");
        return None;
    }
    let mut command = Command::new("node");
    command.arg(tools.join("editor.mjs")).arg(site).arg(file);
    command.arg(format!("{}:{}", hover.0, hover.1)).arg(format!("{}:{}", complete.0, complete.1));
    if vscode {
        command.arg("vscode");
    }
    let output = match command.output() {
        Ok(output) => output,
        Err(err) if !on_ci => {
            eprintln!("SKIPPED: cannot run node ({err})");
            return None;
        }
        Err(err) => panic!("node is required on CI: {err}"),
    };
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let answer: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let strings = |key: &str| -> Vec<String> {
        answer[key].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect()
    };
    Some(Editor {
        hover: answer["hover"].as_str().unwrap().to_owned(),
        completion: strings("completion").into_iter().collect(),
        diagnostics: strings("diagnostics"),
    })
}

/// A new site whose example drop has an empty line in its product (where a marketer is about
/// to type a key) and a misspelt key at the end. Returns the site, the drop's text and the
/// lines of `starts_at` and of the empty line.
fn site_being_edited(dir: &Path, keep_first_line: bool) -> (std::path::PathBuf, String, usize, usize) {
    run_in(dir, &["init", "shop"]).success();
    let site = dir.join("shop");
    let file = site.join("drops/first-drop/drop.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    let mut lines: Vec<&str> = text.lines().skip(usize::from(!keep_first_line)).collect();
    let limit = lines.iter().position(|l| l.trim_start().starts_with("limit_per_customer:")).unwrap();
    lines.insert(limit + 1, "    ");
    lines.push("titel: A typo");
    let edited = lines.join("\n") + "\n";
    std::fs::write(&file, &edited).unwrap();
    let starts_at = lines.iter().position(|l| l.starts_with("starts_at:")).unwrap();
    (site, edited, starts_at, limit + 1)
}

/// A temporary folder whose path has no segment starting with a dot: yaml-language-server's
/// `yaml.schemas` globs do not match files below one (the first line works there too).
fn temp_dir() -> tempfile::TempDir {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let dotted = |path: &Path| path.components().any(|c| c.as_os_str().to_string_lossy().starts_with('.'));
    let parent = if dotted(target) { std::env::temp_dir() } else { target.to_path_buf() };
    assert!(!dotted(&parent), "no folder without a dot segment for the editor test: {}", parent.display());
    tempfile::Builder::new().prefix("dropgen-editor-").tempdir_in(parent).unwrap()
}

fn drop_schema() -> serde_json::Value {
    let run = run_in(&repo_root(), &["schema", "drop"]);
    serde_json::from_str(&run.stdout()).unwrap()
}

#[test]
fn a_new_drop_gets_hover_completion_and_errors_in_the_editor() {
    let dir = temp_dir();
    let (site, text, starts_at, blank) = site_being_edited(dir.path(), true);
    let Some(editor) = ask(&site, "drops/first-drop/drop.yaml", (starts_at, 2), (blank, 4), false) else {
        return;
    };
    let schema = drop_schema();
    let starts = &schema["properties"]["starts_at"];
    assert!(editor.hover.contains(starts["description"].as_str().unwrap()), "hover: {}", editor.hover);
    assert!(
        editor.hover.contains(starts["examples"][0].as_str().unwrap()),
        "hover shows examples: {}",
        editor.hover
    );
    // Completion offers exactly the product keys not written yet.
    let product = &schema["properties"]["products"]["items"]["properties"];
    let written: BTreeSet<String> = text
        .lines()
        .skip_while(|l| !l.starts_with("products:"))
        .filter_map(|l| l.trim_start().trim_start_matches("- ").split_once(':').map(|(k, _)| k.to_owned()))
        .collect();
    let missing: BTreeSet<String> =
        product.as_object().unwrap().keys().filter(|k| !written.contains(*k)).cloned().collect();
    assert!(!missing.is_empty());
    assert_eq!(editor.completion, missing, "completion inside the product");
    let typo = text.lines().position(|l| l.starts_with("titel:")).unwrap();
    assert_eq!(editor.diagnostics, [format!("{typo}:0 Property titel is not allowed.")]);
}

#[test]
fn the_vscode_settings_init_writes_map_the_schema_without_the_first_line() {
    let dir = temp_dir();
    let (site, _, starts_at, blank) = site_being_edited(dir.path(), false);
    let Some(mapped) = ask(&site, "drops/first-drop/drop.yaml", (starts_at, 2), (blank, 4), true) else {
        return;
    };
    assert!(mapped.hover.contains("RFC 3339"), "hover: {}", mapped.hover);
    assert!(mapped.completion.contains("options"), "{:?}", mapped.completion);
    assert_eq!(mapped.diagnostics.len(), 1, "{:?}", mapped.diagnostics);
    // Neither the first line nor the settings: the editor knows nothing, so the mapping is
    // what made the difference above.
    let Some(bare) = ask(&site, "drops/first-drop/drop.yaml", (starts_at, 2), (blank, 4), false) else {
        return;
    };
    assert!(bare.completion.is_empty() && bare.diagnostics.is_empty(), "{:?}", bare.diagnostics);
}

#[test]
fn dropgen_yaml_gets_hover_from_its_first_line() {
    let dir = temp_dir();
    run_in(dir.path(), &["init", "shop"]).success();
    let site = dir.path().join("shop");
    let text = std::fs::read_to_string(site.join("dropgen.yaml")).unwrap();
    let base_url = text.lines().position(|l| l.starts_with("base_url:")).unwrap();
    let Some(editor) = ask(&site, "dropgen.yaml", (base_url, 2), (base_url, 0), false) else { return };
    assert!(editor.hover.contains("the root of its host"), "hover: {}", editor.hover);
    assert!(editor.diagnostics.is_empty(), "{:?}", editor.diagnostics);
}
