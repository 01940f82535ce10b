//! Entry points for the fuzz targets in `fuzz/` (see `fuzz/README.md`); not part of dropgen's
//! interface. Each takes the fuzzer's bytes, runs one input parser the way a build runs it, and
//! panics when one of its invariants breaks, so a crash is a finding. The checks live here,
//! beside the code, rather than in the targets, so they are compiled and linted on every build.

use std::path::Path;

use time::OffsetDateTime;

use crate::diagnostic::{render_github, render_human, render_json};
use crate::load::{self, FileFact};
use crate::manifest::{self, BuildTime, changes, purge};
use crate::model::{Delivery, ImageFacts, SourceFormat};

/// The `dropgen.yaml` used when the input holds only a drop.
const CONFIG: &str = "base_url: https://drops.example.com\ntitle: Shop\ncurrency: USD\ncheckout_url: https://shop.example.com/c?sku={sku}&drop={drop}\n";

/// The one drop folder of the fuzzed site.
const FOLDER: &str = "fuzz";

/// `load` + `validate` on the text of `dropgen.yaml` and of one `drop.yaml`: the input is
/// `<config>\0<drop>`, or a drop alone (with a valid config). Every referenced image is an
/// 800 × 600 JPEG. A site comes back only without errors, no site only with at least one,
/// every diagnostic names one of the two files at a line and column inside it, and every
/// rendering of it (human, JSON, GitHub) works.
pub fn site_texts(data: &[u8]) {
    // `load` refuses text that is not UTF-8 before parsing it.
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (config, drop) = text.split_once('\0').unwrap_or((CONFIG, text));
    let loaded = load::from_texts(config, &[(FOLDER, drop)], |_| {
        FileFact::Image(ImageFacts {
            format: SourceFormat::Jpeg,
            width: 800,
            height: 600,
            bytes: 1000,
            sha256: "ab".repeat(32),
        })
    });
    let (site, diagnostics) = crate::validate::site(&loaded, true);
    assert_eq!(
        site.is_some(),
        !diagnostics.has_errors(),
        "a site must come back exactly when nothing is wrong"
    );
    let drop_file = format!("{}/{FOLDER}/{}", load::DROPS_DIR, load::DROP_FILE);
    for diagnostic in diagnostics.sorted() {
        let location = &diagnostic.location;
        assert!(
            location.file == load::CONFIG_FILE || location.file == drop_file,
            "a diagnostic names `{}`, not one of the site's files: {diagnostic:?}",
            location.file
        );
        let text = loaded.sources.get(&location.file).expect("the text of every parsed file is kept");
        // YAML breaks lines at `\r\n`, `\n` and a lone `\r` (YAML 1.2, 5.4), as editors do.
        let lines = 1 + text.replace("\r\n", "\n").matches(['\n', '\r']).count();
        assert!(
            (1..=lines).contains(&location.line) && location.column >= 1,
            "{}:{}:{} is outside the file ({lines} lines): {diagnostic:?}",
            location.file,
            location.line,
            location.column
        );
        assert!(!diagnostic.message.is_empty(), "a diagnostic without a message");
        let _ = render_human(diagnostic, &loaded.sources, false);
        let _ = render_json(diagnostic);
        let _ = render_github(diagnostic);
    }
}

/// Markdown → sanitised HTML, as drop and product descriptions are rendered. The output never
/// holds a `<script` element, an event-handler (`on…`) attribute or a `javascript:` URL.
pub fn markdown(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let html = crate::render::markdown::to_html(text);
    if let Some(problem) = unsafe_html(&html) {
        panic!("sanitised markdown holds {problem}:\n{html}");
    }
}

/// What makes HTML from the sanitiser unsafe, if anything. Its serialiser escapes every `<` in
/// text and quotes every attribute value with `"` (escaping `"` inside), so every `<` opens a
/// tag and a tag ends at the first `>` outside quotes.
fn unsafe_html(html: &str) -> Option<String> {
    const URL_ATTRIBUTES: [&str; 9] =
        ["href", "src", "action", "formaction", "cite", "poster", "background", "srcset", "xlink:href"];
    let lower = html.to_ascii_lowercase();
    if lower.contains("<script") {
        return Some("a <script> element".to_owned());
    }
    let mut rest = lower.as_str();
    while let Some(open) = rest.find('<') {
        rest = &rest[open + 1..];
        let mut quoted = false;
        let end = rest
            .char_indices()
            .find(|&(_, c)| {
                if c == '"' {
                    quoted = !quoted;
                }
                c == '>' && !quoted
            })
            .map_or(rest.len(), |(at, _)| at);
        let tag = &rest[..end];
        rest = &rest[end..];
        // The tag name, then `name="value"` or bare `name` attributes.
        let mut attributes = tag.trim_start_matches('/');
        attributes = attributes.find(char::is_whitespace).map_or("", |at| &attributes[at..]);
        while !attributes.trim_start().is_empty() {
            attributes = attributes.trim_start();
            let name_end =
                attributes.find(|c: char| c == '=' || c.is_whitespace()).unwrap_or(attributes.len());
            let name = attributes[..name_end].trim_end_matches('/');
            attributes = &attributes[name_end..];
            let mut value = "";
            if let Some(after) = attributes.strip_prefix("=\"") {
                let close = after.find('"').unwrap_or(after.len());
                value = &after[..close];
                attributes = after.get(close + 1..).unwrap_or("");
            } else if let Some(after) = attributes.strip_prefix('=') {
                let close = after.find(char::is_whitespace).unwrap_or(after.len());
                value = &after[..close];
                attributes = &after[close..];
            }
            if name.starts_with("on") {
                return Some(format!("an event-handler attribute `{name}`"));
            }
            // What browsers parse (WHATWG URL, "basic URL parser"): leading and trailing C0
            // controls and spaces removed, and every tab and newline; other controls stay, and
            // make the scheme invalid (so the URL is relative).
            let url: String = value
                .trim_matches(|c: char| c <= ' ')
                .chars()
                .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
                .collect();
            if URL_ATTRIBUTES.contains(&name) && url.starts_with("javascript:") {
                return Some(format!("a `javascript:` URL in `{name}`"));
            }
        }
    }
    None
}

/// Decoded pixels allowed per input: far below any site's limit, so each run stays fast.
const MAX_PIXELS: u64 = 4_000_000;

/// An image file as `load` probes it and the image stage decodes it (JPEG, PNG and WebP,
/// with their ICC profiles and EXIF orientations). Neither panics; a probe that accepts a
/// file gives the size the decoder then produces.
pub fn image(data: &[u8]) {
    let FileFact::Image(facts) = load::files::image_facts(data) else { return };
    // Validation refuses images over the site's pixel limit before they are decoded.
    if u64::from(facts.width) * u64::from(facts.height) > MAX_PIXELS {
        return;
    }
    if let Ok((decoded, _)) = crate::images::decode::decode(data, MAX_PIXELS) {
        assert_eq!(
            (decoded.width, decoded.height),
            (facts.width, facts.height),
            "the probe and the decoder disagree on the size"
        );
    }
}

/// The manifest of an earlier build (`--previous-manifest`), parsed as `manifest::beside`
/// reads it, then compared with a build that keeps, changes and removes some of its files, and
/// made into purge requests. An unusable manifest is an error that names its path.
pub fn previous_manifest(data: &[u8]) {
    // `read_previous` reports text that is not UTF-8 as an IO error naming the path.
    let Ok(text) = std::str::from_utf8(data) else { return };
    let path = Path::new("ci/previous-manifest.json");
    let previous = match manifest::parse_previous(path, text) {
        Ok(previous) => previous,
        Err(error) => {
            let message = error.to_string();
            assert!(
                message.contains("ci/previous-manifest.json"),
                "the error does not name the file: {message}"
            );
            return;
        }
    };
    let mut current = previous.clone();
    let mut index = 0usize;
    current.files.retain(|_, _| {
        index += 1;
        !index.is_multiple_of(3)
    });
    for (index, entry) in current.files.values_mut().enumerate() {
        if index.is_multiple_of(2) {
            entry.sha256 = "0".repeat(64);
        }
    }
    let delivery = Delivery::default();
    let reference = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
    let time = BuildTime { source_date_epoch: Some(reference.unix_timestamp()), reference: Some(reference) };
    for (old, new) in [(Some(&previous), &current), (Some(&current), &previous), (None, &previous)] {
        let changes = changes::compare(old, new, &delivery, time);
        let _ = purge::files(&changes, new, old, &delivery);
        let _ = purge::lines(changes.purge.iter().map(String::as_str));
        let _ = manifest::to_stable_json(&changes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_html_check_finds_what_the_sanitiser_must_remove() {
        assert!(unsafe_html("<p>onclick=x javascript:y</p>").is_none());
        assert!(unsafe_html("<a href=\"https://x\" title=\"javascript:\">x</a>").is_none());
        assert!(unsafe_html("<SCRIPT>").is_some());
        assert!(unsafe_html("<p class=\"a\" onclick=\"x\">").is_some());
        assert!(unsafe_html("<a href=\" java\tscript:alert(1)\">").is_some());
        assert!(unsafe_html("<a href=javascript:x>").is_some());
        assert!(unsafe_html("<a href=\"\u{1}javascript:x\u{20}\">").is_some());
    }

    /// Found by the `markdown` target: `java&#04;script:` comes out of the sanitiser as
    /// `java\u{4}script:`, which browsers parse as a relative URL (U+0004 is not a scheme
    /// character, and only tabs and newlines are removed inside URLs). The check had removed
    /// every control character and called it a `javascript:` URL.
    #[test]
    fn a_control_character_inside_the_scheme_makes_a_relative_url() {
        let html = crate::render::markdown::to_html("<a href=\"java&#04;script:x\">y</a>");
        assert!(html.contains("href=\"java\u{4}script:x\""), "{html}");
        assert_eq!(unsafe_html(&html), None);
        // A tab, which browsers do remove, is caught, or removed by ammonia.
        let html = crate::render::markdown::to_html("<a href=\"java&#09;script:x\">y</a>");
        assert_eq!(unsafe_html(&html), None, "{html}");
    }

    /// Found by the `site_texts` target: a `dropgen.yaml` of `# Site conf\r` (a comment ended by
    /// a lone carriage return) has its missing-field error at line 2, which YAML and editors
    /// count, but which splitting on `\n` did not.
    #[test]
    fn a_lone_carriage_return_ends_a_line() {
        site_texts(b"# Site conf\r\0title: x\n");
    }

    #[test]
    fn the_entry_points_accept_their_seeds() {
        site_texts(b"title: x\n");
        site_texts(CONFIG.as_bytes());
        markdown(b"# Hi <img src=x onerror=alert(1)>");
        image(b"\x89PNG\r\n\x1a\n");
        previous_manifest(b"{}");
    }
}
