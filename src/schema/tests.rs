//! The schemas agree with `validate`, checked with a real validator (Python `jsonschema`,
//! `tests/schema/validate.py`) on thousands of files:
//!
//! - every site file dropgen accepts (the bundled site, `examples/`, the valid fixtures, the
//!   files `init` and `new` write, a site that sets every key, and every mutation of them that
//!   dropgen still accepts)
//!   validates against its schema;
//! - every file dropgen rejects with a problem a schema can express (see [`expressible`])
//!   fails its schema: the invalid fixtures and the mutation corpus (structural mutations of
//!   every accepted file, and random character-level ones).
//!
//! [`disagreements`] is the check; the last tests weaken and tighten the schemas to prove it
//! fails when they drift.

use std::borrow::Borrow;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use super::Which;
use crate::diagnostic::{Diagnostic, Diagnostics, Kind, Severity};
use crate::load::{self, FileFact};
use crate::model::{ImageFacts, SourceFormat};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A file, what dropgen said about it, and its value as JSON (`None`: not YAML at all).
struct Case {
    name: String,
    which: Which,
    json: Option<Value>,
    errors: Vec<Diagnostic>,
}

/// YAML → JSON with dropgen's own parser and limits, so the validator sees the values dropgen
/// sees (YAML 1.2: `2026-11-20T15:00:00Z` stays text, `yes` is not a boolean).
fn to_json(text: &str) -> Option<Value> {
    if text.trim().is_empty() {
        return Some(Value::Null);
    }
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! { max_depth: 32, max_nodes: 100_000, max_aliases: 100 },
    };
    serde_saphyr::from_str_with_options::<Value>(text, options).ok()
}

/// Errors of one file, from a site's diagnostics.
fn errors_in(diagnostics: &Diagnostics, file: &str) -> Vec<Diagnostic> {
    diagnostics
        .sorted()
        .into_iter()
        .filter(|d| d.severity == Severity::Error && d.location.file == file)
        .cloned()
        .collect()
}

/// Validates a site held in memory, where every referenced image exists (a 1600 × 1000 JPEG).
fn validate_texts(config: &str, drops: &[(&str, &str)]) -> Diagnostics {
    let loaded = crate::load::from_texts(config, drops, |_| {
        FileFact::Image(ImageFacts {
            format: SourceFormat::Jpeg,
            width: 1600,
            height: 1000,
            bytes: 1000,
            sha256: "ab".repeat(32),
        })
    });
    crate::validate::site(&loaded, true).1
}

/// Every site folder dropgen builds: the repository root, `examples/*`, the valid fixtures.
fn accepted_sites() -> Vec<PathBuf> {
    let mut sites = vec![repo()];
    for parent in ["examples", "tests/fixtures/build", "tests/fixtures"] {
        let mut found: Vec<PathBuf> = std::fs::read_dir(repo().join(parent))
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.join("dropgen.yaml").is_file())
            .collect();
        found.sort();
        sites.extend(found);
    }
    sites.push(repo().join("tests/fixtures/browser/site"));
    sites
}

fn invalid_sites() -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(repo().join("tests/fixtures/invalid"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_dir())
        .collect();
    found.sort();
    found
}

/// Each YAML file of a site on disk, as the real loader and validator see it.
fn site_cases(root: &Path) -> Vec<(Case, String)> {
    let loaded = load::site(root).unwrap();
    let (_, diagnostics) = crate::validate::site(&loaded, true);
    let mut files: Vec<&String> = loaded.sources.keys().collect();
    files.sort();
    let label = root.strip_prefix(repo()).unwrap_or(root).display().to_string();
    files
        .into_iter()
        .filter(|file| file.ends_with(".yaml"))
        .map(|file| {
            let text = &loaded.sources[file];
            let which = if file == load::CONFIG_FILE { Which::Site } else { Which::Drop };
            let case = Case {
                name: format!("{label}/{file}"),
                which,
                json: to_json(text),
                errors: errors_in(&diagnostics, file),
            };
            (case, text.clone())
        })
        .collect()
}

/// Whether a JSON Schema can say what is wrong. Problems that need other files (images,
/// the site's currency or checkout URL, other drops), arithmetic between fields, or parsing a
/// URL or a calendar date, cannot; neither can a quoted number's range.
fn expressible(diagnostic: &Diagnostic, json: &Value) -> bool {
    let field = diagnostic.field.as_deref().unwrap_or("");
    match diagnostic.kind {
        Kind::UnknownField => true,
        // Missing keys, blank required text, an empty product list; not the checkout URL,
        // which may come from dropgen.yaml instead.
        Kind::MissingField => field != "checkout_url",
        // A value of the wrong type (the file was YAML, or `json` would be absent); not a key
        // given twice, which JSON cannot hold.
        Kind::Syntax => !diagnostic.message.contains("duplicate"),
        Kind::InvalidValue => {
            let last = field.rsplit('.').next().unwrap_or(field);
            let last = last.split('[').next().unwrap_or(last);
            let value = value_at(json, field);
            if field == "images.widths" {
                return true; // the number of widths
            }
            let integer = matches!(
                last,
                "widths"
                    | "avif"
                    | "webp"
                    | "jpeg"
                    | "max_megapixels"
                    | "avif_speed"
                    | "cloudflare_batch_size"
                    | "removed_asset_grace_days"
                    | "limit_per_customer"
                    | "stock"
            );
            if integer {
                // `640.0` is an integer to JSON Schema but not to dropgen, and a quoted
                // number's range is dropgen's to check.
                return value.is_some_and(|v| v.is_u64() || v.is_i64());
            }
            // Patterns and names apply to text; a number or boolean is checked by its text,
            // which YAML and JSON may write differently (`2.50`, `1e3`).
            let text = value.is_some_and(Value::is_string);
            let named = matches!(
                last,
                "slug"
                    | "sku"
                    | "currency"
                    | "locale"
                    | "formats"
                    | "avif_chroma"
                    | "cache_control"
                    | "cdn_cache_control"
            ) || (matches!(last, "tags" | "options") && diagnostic.message.contains("is empty"));
            named && text
        }
        Kind::Duplicate | Kind::MissingFile | Kind::Image | Kind::Template | Kind::Io | Kind::Budget => false,
    }
}

/// The value at a diagnostic's field path, e.g. `products[0].price`.
fn value_at<'a>(json: &'a Value, field: &str) -> Option<&'a Value> {
    let mut value = json;
    for part in field.split('.').filter(|p| !p.is_empty()) {
        let (key, indexes) = part.split_once('[').map_or((part, ""), |(k, rest)| (k, rest));
        value = value.get(key)?;
        for index in indexes.split('[').filter(|i| !i.is_empty()) {
            value = value.get(index.trim_end_matches(']').parse::<usize>().ok()?)?;
        }
    }
    Some(value)
}

/// What the validator said about each document: `None` valid, else its first error. `None`
/// overall when Python or jsonschema is missing outside CI (the test is then skipped).
/// `explain` asks for the error's text (slower), else it is `invalid`.
fn validate_all(schemas: &[(Which, Value)], docs: &[(Which, &Value, bool)]) -> Option<Vec<Option<String>>> {
    let name = |which: Which| which.file_name();
    let request = json!({
        "schemas": schemas.iter().map(|(w, s)| (name(*w).to_owned(), s.clone())).collect::<serde_json::Map<_, _>>(),
        "docs": docs.iter().map(|(w, d, explain)| json!([name(*w), d, explain])).collect::<Vec<_>>(),
    });
    let on_ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let child = Command::new("python3")
        .arg(repo().join("tests/schema/validate.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(err) if !on_ci => {
            eprintln!("SKIPPED: cannot run python3 ({err})");
            return None;
        }
        Err(err) => panic!("python3 is required on CI: {err}"),
    };
    let input = serde_json::to_vec(&request).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || std::io::Write::write_all(&mut stdin, &input));
    let output = child.wait_with_output().unwrap();
    // When the script stops early (jsonschema missing) the rest of the input has no reader.
    let written = writer.join().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    if output.status.code() == Some(77) && !on_ci {
        eprintln!("{stdout}");
        return None;
    }
    written.unwrap();
    assert!(
        output.status.success(),
        "validate.py failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let verdicts: Vec<Option<String>> =
        stdout.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert_eq!(verdicts.len(), docs.len(), "one verdict per document");
    Some(verdicts)
}

/// Every disagreement between dropgen and the schemas over `cases`, as readable lines.
fn disagreements<C: std::borrow::Borrow<Case>>(
    schemas: &[(Which, Value)],
    cases: &[C],
) -> Option<Vec<String>> {
    let judged: Vec<&Case> = cases.iter().map(Borrow::borrow).filter(|case| case.json.is_some()).collect();
    // Only a rejection of a file dropgen accepts needs its reason.
    let docs: Vec<(Which, &Value, bool)> = judged
        .iter()
        .map(|case| (case.which, case.json.as_ref().expect("filtered"), case.errors.is_empty()))
        .collect();
    let verdicts = validate_all(schemas, &docs)?;
    let mut found = Vec::new();
    for (case, verdict) in judged.iter().zip(verdicts) {
        let json = case.json.as_ref().expect("filtered");
        match (&verdict, case.errors.is_empty()) {
            (Some(error), true) => found.push(format!(
                "{}: dropgen accepts it, the schema rejects it ({}):\n{}",
                case.name,
                error.chars().take(200).collect::<String>(),
                serde_json::to_string(json).unwrap()
            )),
            (None, false) => {
                if let Some(d) = case.errors.iter().find(|d| expressible(d, json)) {
                    found.push(format!(
                        "{}: dropgen rejects it ({:?} {}: {}), the schema accepts it:\n{}",
                        case.name,
                        d.kind,
                        d.field.as_deref().unwrap_or("-"),
                        d.message,
                        serde_json::to_string(json).unwrap()
                    ));
                }
            }
            _ => {}
        }
    }
    Some(found)
}

/// Values a mutation puts in place of a scalar, array or mapping: wrong types, blanks,
/// values out of every range, near misses of enums and patterns.
fn replacements() -> Vec<Value> {
    vec![
        Value::Null,
        json!(true),
        json!(0),
        json!(-1),
        json!(7),
        json!(101),
        json!(100_000_000),
        json!(2.5),
        json!(640.0),
        json!("42"),
        json!(""),
        json!("  "),
        json!("Hello World"),
        json!("spring-sale"),
        json!("-spring"),
        json!("SKU 1"),
        json!("usd"),
        json!("EUR"),
        json!("XAU"),
        json!("AVIF"),
        json!("jpg"),
        json!("4:4:4"),
        json!("4:2:2"),
        json!("en-US"),
        json!("english language"),
        json!("2026-11-20T15:00:00Z"),
        json!("2026-11-20 15:00"),
        json!("2026-13-01T00:00:00Z"),
        json!("2026-02-30T00:00:00Z"),
        json!("https://example.com/x"),
        json!("http://example.com/"),
        json!("https://shop.example.com/c?sku={sku}&drop={drop}"),
        json!("https://shop.example.com/c?sku={skus}"),
        json!("no-store\r\nSet-Cookie: a=1"),
        json!("10.001"),
        json!(["a"]),
        json!([]),
        json!({}),
        json!({ "src": "hero.jpg", "alt": "x" }),
    ]
}

/// Structural mutations of `doc`: each value replaced by each of [`replacements`], each key
/// removed or misspelt, an unknown key added to each mapping, list items doubled.
fn mutations(doc: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    let mut paths = Vec::new();
    collect_paths(doc, &mut Vec::new(), &mut paths);
    for path in &paths {
        for replacement in replacements() {
            let mut copy = doc.clone();
            *pointer_mut(&mut copy, path) = replacement;
            out.push(copy);
        }
        let target = pointer_mut(&mut doc.clone(), path).clone();
        if let Value::Object(map) = &target {
            for key in map.keys() {
                let mut removed = doc.clone();
                if let Value::Object(m) = pointer_mut(&mut removed, path) {
                    m.remove(key);
                }
                out.push(removed);
                let mut misspelt = doc.clone();
                if let Value::Object(m) = pointer_mut(&mut misspelt, path) {
                    let value = m.remove(key).unwrap_or(Value::Null);
                    m.insert(format!("{key}s"), value);
                }
                out.push(misspelt);
            }
            let mut unknown = doc.clone();
            if let Value::Object(m) = pointer_mut(&mut unknown, path) {
                m.insert("colour".into(), json!("red"));
            }
            out.push(unknown);
        }
        if let Value::Array(items) = &target
            && let Some(first) = items.first()
        {
            let mut doubled = doc.clone();
            if let Value::Array(list) = pointer_mut(&mut doubled, path) {
                list.push(first.clone());
            }
            out.push(doubled);
        }
    }
    out
}

#[derive(Clone)]
enum Step {
    Key(String),
    Index(usize),
}

fn collect_paths(value: &Value, at: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    out.push(at.clone());
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                at.push(Step::Key(key.clone()));
                collect_paths(child, at, out);
                at.pop();
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                at.push(Step::Index(index));
                collect_paths(child, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

fn pointer_mut<'a>(value: &'a mut Value, path: &[Step]) -> &'a mut Value {
    path.iter().fold(value, |value, step| match step {
        Step::Key(key) => &mut value[key.as_str()],
        Step::Index(index) => &mut value[*index],
    })
}

/// Character-level corruption (the same kinds as `validate::tests::mutated_files_never_panic`):
/// characters dropped, inserted or replaced, lines repeated. Deterministic.
fn corrupt(text: &str, state: &mut u64, rounds: usize) -> Vec<String> {
    let mut next = move || {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    };
    let alphabet: Vec<char> = " \t\n:-[]{}\"'#&*!|>%@`,.0123456789aZ€".chars().collect();
    (0..rounds)
        .map(|_| {
            let mut chars: Vec<char> = text.chars().collect();
            for _ in 0..(1 + next() % 3) {
                let at = (next() as usize) % (chars.len() + 1);
                match next() % 4 {
                    0 if at < chars.len() => {
                        chars.remove(at);
                    }
                    1 => chars.insert(at, alphabet[(next() as usize) % alphabet.len()]),
                    2 if at < chars.len() => chars[at] = alphabet[(next() as usize) % alphabet.len()],
                    _ => {
                        let line = text.lines().nth(at % 12).unwrap_or("").to_owned();
                        chars.splice(at..at, line.chars().chain(['\n']));
                    }
                }
            }
            chars.into_iter().collect()
        })
        .collect()
}

/// An accepted site's texts: its label, `dropgen.yaml`, and its drops by folder.
type Base = (String, String, Vec<(String, String)>);

/// A way to make a schema drift: what it does, the edit, and a line of the report it causes.
type Drift<'a> = (&'a str, &'a dyn Fn(&mut Value), &'a str);

const EVERY_KEY_CONFIG: &str = r#"
base_url: https://drops.example.com
title: Every key
description: A site that sets every key.
theme: default
currency: EUR
locale: en-GB
inventory_api: https://inventory.example.com/v1
checkout_url: https://shop.example.com/checkout?sku={sku}&drop={drop}
images:
  widths: [400, 800]
  formats: [avif, webp]
  quality: { avif: 42, webp: 80, jpeg: 82 }
  max_megapixels: 100
  avif_speed: 6
  avif_chroma: "4:4:4"
telemetry_url: https://telemetry.example.com/beacon
headers:
  immutable: { cache_control: "public, max-age=31536000, immutable", cdn_cache_control: "public, max-age=31536000" }
  data: { cache_control: "public, max-age=300", cdn_cache_control: "" }
  document: { cache_control: "public, max-age=0", cdn_cache_control: "public, max-age=600" }
purge:
  cloudflare_batch_size: 30
  removed_asset_grace_days: 7
"#;

const EVERY_KEY_DROP: &str = r#"
slug: every-key
title: Every key
summary: A drop that sets every key.
starts_at: 2026-11-20T15:00:00Z
ends_at: 2026-11-27T15:00:00+01:00
hero: { src: hero.jpg, alt: A pair of sneakers }
description: The *story*.
products:
  - sku: EVERY-KEY-1
    name: Sneaker
    price: 79.5
    compare_at_price: 99
    currency: EUR
    images: [{ src: side.jpg, alt: The side }]
    description: About it.
    limit_per_customer: 2
    stock: 300
    options: [S, M, L]
checkout_url: https://shop.example.com/checkout?sku={sku}&drop={drop}
stream: { embed_url: "https://player.example.com/embed/launch", fallback_url: "https://video.example.com/launch" }
tags: [new, limited]
draft: false
"#;

/// The corpus: every accepted file, its structural and character-level mutations (each
/// validated in a site with the file's real partners), and the invalid fixtures.
fn corpus() -> &'static [Case] {
    static CORPUS: std::sync::OnceLock<Vec<Case>> = std::sync::OnceLock::new();
    CORPUS.get_or_init(build_corpus)
}

fn build_corpus() -> Vec<Case> {
    let mut cases = Vec::new();
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut bases: Vec<Base> = Vec::new();
    for root in accepted_sites() {
        let files = site_cases(&root);
        for (case, _) in &files {
            assert!(case.errors.is_empty(), "{} should be accepted: {:?}", case.name, case.errors);
        }
        let config = files.iter().find(|(c, _)| c.which == Which::Site).map(|(_, t)| t.clone()).unwrap();
        let drops: Vec<(String, String)> = files
            .iter()
            .filter(|(c, _)| c.which == Which::Drop)
            .map(|(c, text)| {
                let folder = c.name.rsplit('/').nth(1).unwrap().to_owned();
                (folder, text.clone())
            })
            .collect();
        bases.push((root.strip_prefix(repo()).unwrap_or(&root).display().to_string(), config, drops));
        cases.extend(files.into_iter().map(|(case, _)| case));
    }
    // What `init` and `new` write.
    let init = crate::scaffold::site::files("Shop", time::macros::date!(2026 - 11 - 20));
    let text_of =
        |path: &str| String::from_utf8(init.iter().find(|(p, _)| p == path).unwrap().1.clone()).unwrap();
    let new = crate::scaffold::template("spring-sale", time::OffsetDateTime::UNIX_EPOCH);
    bases.push((
        "init".into(),
        text_of("dropgen.yaml"),
        vec![
            ("first-drop".into(), text_of("drops/first-drop/drop.yaml")),
            ("spring-sale".into(), new.replace("SPRING-SALE-1", "SPRING-SALE-2")),
        ],
    ));
    // Every key of both files at once, so that each key's rules are mutated, not only those of
    // the keys some site happens to use.
    bases.push((
        "every key".into(),
        EVERY_KEY_CONFIG.into(),
        vec![("every-key".into(), EVERY_KEY_DROP.into())],
    ));

    for (label, config, drops) in &bases {
        let drop_refs: Vec<(&str, &str)> = drops.iter().map(|(f, t)| (f.as_str(), t.as_str())).collect();
        let diagnostics = validate_texts(config, &drop_refs);
        let base_errors = errors_in(&diagnostics, "dropgen.yaml");
        assert!(base_errors.is_empty(), "{label}: {base_errors:?}");
        // dropgen.yaml, mutated, with the site's drops.
        let mut config_texts: Vec<String> = corrupt(config, &mut state, 150);
        if let Some(json) = to_json(config) {
            cases.push(Case {
                name: format!("{label}/dropgen.yaml"),
                which: Which::Site,
                json: Some(json.clone()),
                errors: vec![],
            });
            config_texts.extend(mutations(&json).iter().map(|m| serde_saphyr::to_string(m).unwrap()));
        }
        for (n, text) in config_texts.iter().enumerate() {
            let diagnostics = validate_texts(text, &drop_refs);
            cases.push(Case {
                name: format!("{label}/dropgen.yaml mutation {n}"),
                which: Which::Site,
                json: to_json(text),
                errors: errors_in(&diagnostics, "dropgen.yaml"),
            });
        }
        // Each drop, mutated, alone in the site.
        for (folder, text) in drops {
            let mut drop_texts = corrupt(text, &mut state, 100);
            if let Some(json) = to_json(text) {
                drop_texts.extend(mutations(&json).iter().map(|m| serde_saphyr::to_string(m).unwrap()));
            }
            let file = format!("drops/{folder}/drop.yaml");
            for (n, mutated) in drop_texts.iter().enumerate() {
                let diagnostics = validate_texts(config, &[(folder.as_str(), mutated.as_str())]);
                cases.push(Case {
                    name: format!("{label}/{file} mutation {n}"),
                    which: Which::Drop,
                    json: to_json(mutated),
                    errors: errors_in(&diagnostics, &file),
                });
            }
        }
    }
    for root in invalid_sites() {
        cases.extend(site_cases(&root).into_iter().map(|(case, _)| case));
    }
    cases
}

fn schemas() -> Vec<(Which, Value)> {
    Which::ALL.iter().map(|which| (*which, which.schema())).collect()
}

#[test]
fn the_every_key_site_is_accepted_and_sets_every_key_of_the_schemas() {
    let diagnostics = validate_texts(EVERY_KEY_CONFIG, &[("every-key", EVERY_KEY_DROP)]);
    assert!(diagnostics.sorted().is_empty(), "{:?}", diagnostics.sorted());
    for (which, text) in [(Which::Site, EVERY_KEY_CONFIG), (Which::Drop, EVERY_KEY_DROP)] {
        let json = to_json(text).unwrap();
        let schema = which.schema();
        let mut found = Vec::new();
        objects(String::new(), &schema, &mut found);
        for (path, object) in found {
            let value = value_at(&json, path.replace("[]", "[0]").trim_start_matches('.'));
            for key in object["properties"].as_object().unwrap().keys() {
                assert!(value.and_then(|v| v.get(key)).is_some(), "{which:?}: `{path}.{key}` is not set");
            }
        }
    }
}

#[test]
fn the_schemas_agree_with_validation_on_every_file_of_the_corpus() {
    let cases = corpus();
    let rejected = cases.iter().filter(|c| c.json.is_some() && !c.errors.is_empty()).count();
    let accepted = cases.iter().filter(|c| c.json.is_some() && c.errors.is_empty()).count();
    assert!(
        accepted > 500 && rejected > 5000,
        "a corpus worth the name: {accepted} accepted, {rejected} rejected"
    );
    let Some(found) = disagreements(&schemas(), cases) else { return };
    assert!(
        found.is_empty(),
        "{} disagreement(s) between the schemas and dropgen, the first ones:\n\n{}",
        found.len(),
        found.iter().take(8).cloned().collect::<Vec<_>>().join("\n\n")
    );
}

#[test]
fn every_invalid_fixture_file_with_an_expressible_problem_fails_its_schema() {
    let cases: Vec<Case> = invalid_sites().iter().flat_map(|root| site_cases(root)).map(|(c, _)| c).collect();
    let expressible_cases = cases
        .iter()
        .filter(|c| c.json.as_ref().is_some_and(|j| c.errors.iter().any(|d| expressible(d, j))))
        .count();
    assert!(expressible_cases >= 4, "the invalid fixtures exercise the schema: {expressible_cases}");
    let Some(found) = disagreements(&schemas(), &cases) else { return };
    assert!(found.is_empty(), "{}", found.join("\n\n"));
}

/// The check fails when a schema forgets a rule (too loose) or invents one (too strict).
#[test]
fn the_agreement_check_fails_when_a_schema_drifts() {
    // A third of the corpus is plenty to catch each drift, and keeps four runs quick.
    let cases: Vec<&Case> = corpus().iter().step_by(3).collect();
    let drifted = |edit: &dyn Fn(&mut Value)| {
        let mut schemas = schemas();
        edit(&mut schemas[1].1);
        disagreements(&schemas, &cases)
    };
    let checks: [Drift<'_>; 4] = [
        (
            "unknown keys allowed",
            &|s: &mut Value| s["additionalProperties"] = json!(true),
            "dropgen rejects it (UnknownField",
        ),
        (
            "`hero` no longer required",
            &|s: &mut Value| s["required"] = json!(["title", "summary", "starts_at", "products"]),
            "dropgen rejects it (MissingField hero",
        ),
        (
            "the SKU pattern forgotten",
            &|s: &mut Value| s["properties"]["products"]["items"]["properties"]["sku"] = json!({}),
            "products[0].sku",
        ),
        (
            "`title` must be at least 5 characters",
            &|s: &mut Value| s["properties"]["title"]["minLength"] = json!(5),
            "dropgen accepts it, the schema rejects it",
        ),
    ];
    for (what, edit, expected) in checks {
        let Some(found) = drifted(edit) else { return };
        assert!(
            found.iter().any(|line| line.contains(expected)),
            "{what}: not caught; found {:?}",
            found.first()
        );
    }
}

/// Every mapping of both schemas, with its path: `("products[]", {...})`.
fn objects<'a>(path: String, schema: &'a Value, out: &mut Vec<(String, &'a Value)>) {
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        out.push((path.clone(), schema));
        for (key, property) in properties {
            objects(format!("{path}.{key}"), property, out);
        }
    }
    if let Some(items) = schema.get("items") {
        objects(format!("{path}[]"), items, out);
    }
}

/// The keys are the `Raw*` fields by construction (the derive reads the same fields and serde
/// attributes as `Deserialize`), so what is left to check is what the derive leaves to us:
/// every mapping rejects unknown keys (`deny_unknown_fields`), and every key has a doc comment
/// for the editor's hover, titled with the key, with every `{CONSTANT}` filled in.
#[test]
fn every_key_is_documented_and_unknown_keys_are_errors() {
    for which in Which::ALL {
        let schema = which.schema();
        let mut found = Vec::new();
        objects(which.file_name().to_owned(), &schema, &mut found);
        assert!(found.len() >= 5, "{which:?}: the nested mappings are inline: {}", found.len());
        for (path, object) in found {
            assert_eq!(object["additionalProperties"], json!(false), "{path}: unknown keys are errors");
            for (key, value) in object["properties"].as_object().unwrap() {
                let description = value["description"].as_str().unwrap_or("");
                assert!(description.len() > 10, "{path}.{key} has a description for the editor's hover");
                assert!(!description.contains('\n'), "{path}.{key}: one paragraph: {description}");
                assert!(
                    !description
                        .split('{')
                        .skip(1)
                        .any(|rest| rest.starts_with(|c: char| c.is_ascii_uppercase())),
                    "{path}.{key}: a `{{CONSTANT}}` is filled in: {description}"
                );
                assert_eq!(value["title"], json!(key), "{path}.{key} is titled with its key");
            }
        }
    }
}

#[test]
fn the_schemas_are_valid_json_with_ids_and_examples() {
    for which in Which::ALL {
        let schema = which.schema();
        assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
        assert!(schema["$id"].as_str().unwrap().ends_with("-1.json"));
        let text = which.text();
        assert!(text.ends_with("}\n"));
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), schema);
        assert!(text.matches("\"examples\"").count() >= 3, "{which:?} gives examples");
    }
}
