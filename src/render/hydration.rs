//! The theme contract of the hydration script (`docs/themes.md`): what `drops.js` looks for in
//! a drop page that loads it. A theme that leaves something out still builds a working static
//! page, but the script then does less or nothing, silently in the browser; so the build says
//! so, naming the template, with a warning per missing piece.
//!
//! Checked on the rendered drop pages, not on the template sources, so `extends`, includes
//! and conditionals are seen as the browser will see them.

use std::collections::{BTreeSet, HashMap};

use crate::diagnostic::{Diagnostic, Kind, Location};

/// The keys of the `data-text` words the default script shows (`word(…)` and `say(…)` in
/// `drops.js`; a test keeps the two in step).
pub(crate) const WORDS: [&str; 16] = [
    "upcoming",
    "opening",
    "live",
    "live_open",
    "paused",
    "ended",
    "not_yet",
    "in_stock",
    "low",
    "sold_out",
    "limit_reached",
    "not_live",
    "na",
    "holding",
    "handover",
    // Not a word: the `Intl.DateTimeFormat` options of times in the visitor's zone.
    "time",
];

/// What one drop page lacks, as (message, help) pairs; empty when the script has all it needs.
pub(crate) fn missing(html: &str, script_url: &str) -> Vec<(String, &'static str)> {
    let mut missing = Vec::new();
    // A page that does not load the script is static on purpose: nothing to check.
    if !html.contains(script_url) {
        return missing;
    }
    match words_block(html) {
        None => missing.push((
            "drop pages have no `<script type=\"application/json\" data-text>` with the script's words, so `drops.js` does nothing on them".to_owned(),
            "copy the `text` block of the default theme's `base.html`; docs/themes.md lists its keys",
        )),
        Some(Err(err)) => missing.push((
            format!("the `data-text` block of drop pages is not a JSON object ({err}), so `drops.js` does nothing on them"),
            "write it as `{{ text | json_script }}`, as the default theme's `base.html` does",
        )),
        Some(Ok(keys)) => {
            let absent: Vec<&str> = WORDS.iter().copied().filter(|key| !keys.contains(*key)).collect();
            if !absent.is_empty() {
                missing.push((
                    format!("the `data-text` words of drop pages lack {}; the script shows nothing where they go", list(&absent)),
                    "add them to the `text` map; docs/themes.md says what each one is for",
                ));
            }
        }
    }
    let attributes = data_attributes(html);
    let count = |name: &str| attributes.get(name).copied().unwrap_or(0);
    if count("data-drop") == 0 || count("data-inventory-api") == 0 {
        missing.push((
            "drop pages have no element with `data-drop` and `data-inventory-api`, so no live stock and no holds".to_owned(),
            "put `data-drop=\"{{ drop.slug }}\" data-inventory-api=\"{{ site.inventory_api }}\"` on the element around the drop",
        ));
    }
    if count("data-starts-at") == 0 {
        missing.push((
            "drop pages have no element with `data-starts-at`, so no phase and no countdown".to_owned(),
            "add `data-starts-at=\"{{ drop.starts_at }}\" data-ends-at=\"{{ drop.ends_at }}\"` to the element with `data-drop`",
        ));
    } else if count("data-phase-label") == 0 {
        missing.push((
            "drop pages have no `data-phase-label` element, so the phase and countdown are not shown"
                .to_owned(),
            "add `<span data-phase-label></span>` inside the element with `data-starts-at`",
        ));
    }
    let products = count("data-sku");
    for (attribute, what) in [("data-stock", "stock line"), ("data-buy", "buy link")] {
        let found = count(attribute);
        if found < products {
            missing.push((
                format!("{products} product(s) with `data-sku` but {found} `{attribute}` {what}(s) on drop pages"),
                "give every `data-sku` element a `data-stock` status line and a `data-buy` link (docs/themes.md)",
            ));
        }
    }
    missing
}

/// Warnings for every drop page's gaps, deduplicated and pinned on the drop template.
pub(crate) fn check<'a>(
    drop_pages: impl IntoIterator<Item = &'a str>,
    script_url: Option<&str>,
    drop_template: &str,
) -> Vec<Diagnostic> {
    // A theme without the script wants static pages: nothing to check.
    let Some(script_url) = script_url else { return Vec::new() };
    let mut seen = BTreeSet::new();
    let mut warnings = Vec::new();
    for html in drop_pages {
        for (message, help) in missing(html, script_url) {
            if seen.insert(message.clone()) {
                warnings.push(
                    Diagnostic::warning(Kind::Template, Location::file(drop_template), message)
                        .help(format!("{help} (in this template or one it extends)")),
                );
            }
        }
    }
    warnings
}

/// The keys of the `data-text` JSON object, if the page has that block.
fn words_block(html: &str) -> Option<Result<BTreeSet<String>, String>> {
    let mut rest = html;
    while let Some(at) = rest.find("<script") {
        let tag_end = at + rest[at..].find('>')?;
        let tag = &rest[at..=tag_end];
        let body_start = tag_end + 1;
        let body_end = body_start + rest[body_start..].find("</script>")?;
        if has_attribute(tag, "data-text") {
            let parsed = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(
                &rest[body_start..body_end],
            );
            return Some(parsed.map(|map| map.keys().cloned().collect()).map_err(|err| err.to_string()));
        }
        rest = &rest[body_end..];
    }
    None
}

/// Whether `name` appears as an attribute name in `tag`: after a space, followed by `=`, a
/// space, `>` or `/`.
fn has_attribute(tag: &str, name: &str) -> bool {
    let needle = format!(" {name}");
    tag.match_indices(&needle).any(|(at, _)| ends_attribute_name(tag.as_bytes().get(at + needle.len())))
}

/// How often each `data-*` attribute name appears in `html` (as [`has_attribute`] finds
/// them), counted in one pass: a page is scanned once, not once per name.
fn data_attributes(html: &str) -> HashMap<&str, usize> {
    let mut counts = HashMap::new();
    for at in memchr::memmem::find_iter(html.as_bytes(), b" data-") {
        let name = &html.as_bytes()[at + 1..];
        let length = name.iter().position(|&b| !(b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        let length = length.unwrap_or(name.len());
        if ends_attribute_name(name.get(length)) {
            // The name is ASCII, so `length` ends on a character boundary.
            *counts.entry(&html[at + 1..at + 1 + length]).or_default() += 1;
        }
    }
    counts
}

fn ends_attribute_name(next: Option<&u8>) -> bool {
    matches!(next, Some(b'=' | b' ' | b'>' | b'/' | b'\n' | b'\t'))
}

fn list(keys: &[&str]) -> String {
    keys.iter().map(|key| format!("`{key}`")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRIPT: &str = "/_assets/drops-0123456789.js";

    fn page(words: &str, body: &str) -> String {
        format!(
            "<html><head><script src=\"{SCRIPT}\" defer></script></head><body>{words}{body}</body></html>"
        )
    }

    fn all_words() -> String {
        let map: serde_json::Map<String, serde_json::Value> =
            WORDS.iter().map(|key| ((*key).to_owned(), serde_json::Value::from("x"))).collect();
        format!("<script type=\"application/json\" data-text>{}</script>", serde_json::Value::Object(map))
    }

    const DROP: &str = "<article data-drop=\"a\" data-inventory-api=\"https://i\" data-starts-at=\"2026-01-01T00:00:00Z\"><span data-phase-label></span><li data-sku=\"A\"><p data-stock>x</p><a data-buy href=\"/\">Buy</a></li></article>";

    #[test]
    fn a_complete_page_lacks_nothing() {
        assert_eq!(missing(&page(&all_words(), DROP), SCRIPT), Vec::new());
    }

    #[test]
    fn names_a_missing_words_block_and_missing_words() {
        let problems = missing(&page("", DROP), SCRIPT);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].0.contains("no `<script type=\"application/json\" data-text>`"));
        let few = "<script type=\"application/json\" data-text>{\"live\": \"Live\"}</script>";
        let problems = missing(&page(few, DROP), SCRIPT);
        assert!(problems[0].0.contains("lack `upcoming`, `opening`, `live_open`"), "{problems:?}");
    }

    #[test]
    fn names_missing_elements() {
        let bare = "<article data-drop=\"a\"><li data-sku=\"A\"><a href=\"/\">Buy</a></li></article>";
        let problems: Vec<String> =
            missing(&page(&all_words(), bare), SCRIPT).into_iter().map(|p| p.0).collect();
        assert_eq!(problems.len(), 4, "{problems:#?}");
        assert!(problems[0].contains("`data-drop` and `data-inventory-api`"));
        assert!(problems[1].contains("`data-starts-at`"));
        assert!(problems[2].contains("1 product(s) with `data-sku` but 0 `data-stock`"));
        assert!(problems[3].contains("0 `data-buy`"));
    }

    #[test]
    fn counts_data_attributes_by_whole_name_only() {
        let html = "<li data-sku=\"A\" data-skus=\"x\"><p data-stock>1</p><p data-stock-x data-stock\n></p><b data-sku.x=1 data-buy/></li>";
        let counts = data_attributes(html);
        assert_eq!(counts.get("data-sku"), Some(&1));
        assert_eq!(counts.get("data-skus"), Some(&1));
        assert_eq!(counts.get("data-stock"), Some(&2));
        assert_eq!(counts.get("data-stock-x"), Some(&1));
        assert_eq!(counts.get("data-buy"), Some(&1));
        assert_eq!(counts.len(), 5, "{counts:?}");
        assert!(has_attribute("<script type=\"application/json\" data-text>", "data-text"));
        assert!(!has_attribute("<script data-texts>", "data-text"));
    }

    #[test]
    fn pages_without_the_script_are_not_checked() {
        assert_eq!(check(["<html></html>"], None, "themes/x/templates/drop.html"), Vec::new());
        assert_eq!(check(["<html></html>"], Some(SCRIPT), "themes/x/templates/drop.html"), Vec::new());
        let bare = page("", "<p>static</p>");
        let warnings = check([bare.as_str(), bare.as_str()], Some(SCRIPT), "themes/x/templates/drop.html");
        assert_eq!(warnings.len(), 3, "one warning per gap, not per page: {warnings:#?}");
        assert_eq!(warnings[0].location.file, "themes/x/templates/drop.html");
    }

    #[test]
    fn the_word_list_is_what_drops_js_and_the_default_theme_use() {
        let script = include_str!("../../themes/default/static/drops.js");
        let base = include_str!("../../themes/default/templates/base.html");
        for key in WORDS {
            assert!(script.contains(&format!("\"{key}\"")), "drops.js never uses `{key}`");
            assert!(base.contains(&format!("\"{key}\": ")), "base.html has no word `{key}`");
        }
        // Every literal key the script asks for is in the list.
        for call in ["word(\"", "say(product, \""] {
            for (at, _) in script.match_indices(call) {
                let key = &script[at + call.len()..];
                let key = &key[..key.find('"').unwrap()];
                assert!(WORDS.contains(&key), "drops.js uses `{key}`, which WORDS lacks");
            }
        }
    }
}
