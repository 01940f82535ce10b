//! Markdown → sanitised HTML for drop and product descriptions.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd, html};

/// The markdown an earlier build in this process rendered, by source text, so that `serve`,
/// which keeps one across rebuilds, re-renders only the copy an edit changed: the sanitiser
/// is most of the render stage's time. Sound because [`to_html`] depends on the text alone.
/// Holds what the latest build used and nothing older, so it never outgrows the site.
#[derive(Debug, Default)]
pub(crate) struct Memo {
    earlier: HashMap<String, String>,
    used: Mutex<HashMap<String, String>>,
}

impl Memo {
    /// [`to_html`], reusing what the previous build rendered from the same text.
    pub(crate) fn to_html(&self, markdown: &str) -> String {
        let html = match self.earlier.get(markdown) {
            Some(html) => html.clone(),
            None => to_html(markdown),
        };
        self.used.lock().unwrap_or_else(PoisonError::into_inner).insert(markdown.to_owned(), html.clone());
        html
    }

    /// Ends a build: what it used is what the next one may reuse.
    pub(crate) fn rotate(&mut self) {
        self.earlier = std::mem::take(self.used.get_mut().unwrap_or_else(PoisonError::into_inner));
    }
}

/// Renders marketer-written markdown to HTML that is safe to embed in a page.
///
/// Raw HTML is allowed by CommonMark, so the result goes through ammonia, which removes
/// scripts, event handlers, `style`, and `javascript:` URLs, and adds `rel="noopener
/// noreferrer"` to links. A `# Heading` becomes an `<h2>`: the page's only `<h1>` is the drop
/// title, and one `<h1>` per page is what screen readers and search engines expect.
pub(crate) fn to_html(markdown: &str) -> String {
    if markdown.trim().is_empty() {
        return String::new();
    }
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_SMART_PUNCTUATION;
    let events = Parser::new_ext(markdown, options).map(|event| match event {
        Event::Start(Tag::Heading { level, id, classes, attrs }) => {
            Event::Start(Tag::Heading { level: demote(level), id, classes, attrs })
        }
        Event::End(TagEnd::Heading(level)) => Event::End(TagEnd::Heading(demote(level))),
        other => other,
    });
    let mut unsafe_html = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut unsafe_html, events);
    // Raw `<h1>` would add a second page title; images belong in `hero` and `images`, where
    // they are resized and allowed by the Content-Security-Policy (validation warns).
    ammonia::Builder::default().rm_tags(["h1", "img"]).clean(&unsafe_html).to_string().trim_end().to_owned()
}

fn demote(level: HeadingLevel) -> HeadingLevel {
    match level {
        HeadingLevel::H1 => HeadingLevel::H2,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memo_gives_what_to_html_gives_and_keeps_only_the_latest_build() {
        let mut memo = Memo::default();
        assert_eq!(memo.to_html("Hello *world*"), to_html("Hello *world*"));
        memo.rotate();
        assert_eq!(memo.earlier.len(), 1);
        // Reused, not re-rendered: a planted entry shows which path was taken.
        memo.earlier.insert("Hello *world*".to_owned(), "planted".to_owned());
        assert_eq!(memo.to_html("Hello *world*"), "planted");
        assert_eq!(memo.to_html("- a"), to_html("- a"));
        memo.rotate();
        memo.rotate();
        assert!(memo.earlier.is_empty(), "a build that rendered nothing leaves nothing to reuse");
    }

    #[test]
    fn renders_common_markdown() {
        assert_eq!(to_html("Hello *world*"), "<p>Hello <em>world</em></p>");
        assert_eq!(to_html("- a\n- b"), "<ul>\n<li>a</li>\n<li>b</li>\n</ul>");
        assert_eq!(to_html(""), "");
    }

    #[test]
    fn keeps_the_page_title_the_only_h1() {
        assert_eq!(to_html("# Big\n\n## Section\n\n### Sub"), "<h2>Big</h2>\n<h2>Section</h2>\n<h3>Sub</h3>");
    }

    #[test]
    fn removes_scripts_handlers_and_javascript_urls() {
        let html = to_html(
            "<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n[x](javascript:alert(1)) <a href=\"javascript:alert(2)\">y</a>",
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("onerror"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
        let html = to_html(
            "<iframe src=\"https://evil.example\"></iframe><style>body{}</style><p style=\"x\" onclick=\"y\">ok</p>",
        );
        assert!(
            !html.contains("<iframe")
                && !html.contains("<style")
                && !html.contains("onclick")
                && !html.contains("style="),
            "{html}"
        );
    }

    #[test]
    fn raw_html_cannot_add_a_title_or_images() {
        let html = to_html("<h1>Second title</h1>\n\n![x](https://tracker.example/p.gif)");
        assert!(!html.contains("<h1") && !html.contains("<img"), "{html}");
        assert!(html.contains("Second title"));
    }

    #[test]
    fn links_open_safely() {
        assert_eq!(
            to_html("[shop](https://example.com)"),
            "<p><a href=\"https://example.com\" rel=\"noopener noreferrer\">shop</a></p>"
        );
    }
}
