//! Problems found in a site, with where they are and how to fix them.
//!
//! Every stage that looks at marketer-authored content reports [`Diagnostic`]s instead of
//! stopping at the first problem, so one `dropgen check` shows everything to fix. They are
//! rendered three ways: rustc-style for people, JSON lines for tools, and GitHub Actions
//! workflow commands for annotations on pull requests.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
use serde::Serialize;

/// A position in a site file: the path relative to the site root (always `/`-separated),
/// 1-based line and column (in characters), and the byte range of the offending text when known.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Location {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub span: Option<std::ops::Range<usize>>,
}

impl Location {
    /// The start of a file, for problems with the file as a whole.
    pub(crate) fn file(file: impl Into<String>) -> Self {
        Location { file: file.into(), line: 1, column: 1, span: None }
    }
}

/// Whether a problem stops the build.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Severity {
    Error,
    Warning,
}

/// The kind of problem; stable names for tools reading `--message-format json`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Kind {
    /// The file is not valid YAML or not shaped as expected (wrong type, bad nesting).
    Syntax,
    /// A key that dropgen does not know.
    UnknownField,
    /// A required key is absent.
    MissingField,
    /// A value is present but not acceptable.
    InvalidValue,
    /// Two drops claim the same slug or SKU.
    Duplicate,
    /// A referenced file does not exist or may not be used.
    MissingFile,
    /// A referenced image cannot be used.
    Image,
    /// A theme template failed to parse or render.
    Template,
    /// Reading a site file failed.
    Io,
    /// A theme file is over its size budget (the hydration script).
    Budget,
}

/// One problem, with everything a marketer needs to fix it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Diagnostic {
    pub severity: Severity,
    pub kind: Kind,
    pub location: Location,
    /// The field path inside the file, e.g. `products[1].price`.
    pub field: Option<String>,
    pub message: String,
    pub help: Option<String>,
}

impl Diagnostic {
    pub(crate) fn error(kind: Kind, location: Location, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            kind,
            location,
            field: None,
            message: message.into(),
            help: None,
        }
    }

    pub(crate) fn warning(kind: Kind, location: Location, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(kind, location, message) }
    }

    pub(crate) fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub(crate) fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    fn sort_key(&self) -> (&str, usize, usize) {
        let loc = &self.location;
        (&loc.file, loc.line, loc.column)
    }
}

/// All problems found in a run, kept sorted by file, line and column so output is the same
/// whatever order stages (or threads) found them in.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn push(&mut self, diagnostic: Diagnostic) {
        self.items.push(diagnostic);
    }

    pub(crate) fn extend(&mut self, other: Diagnostics) {
        self.items.extend(other.items);
    }

    pub(crate) fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    pub(crate) fn error_count(&self) -> usize {
        self.items.iter().filter(|d| d.severity == Severity::Error).count()
    }

    pub(crate) fn warning_count(&self) -> usize {
        self.items.len() - self.error_count()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub(crate) fn retain(&mut self, keep: impl FnMut(&Diagnostic) -> bool) {
        self.items.retain(keep);
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter()
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut Diagnostic> {
        self.items.iter_mut()
    }

    /// The diagnostics in report order (file, line, column; problems at one position in the
    /// order they were found, which follows the order of fields); duplicates removed.
    pub(crate) fn sorted(&self) -> Vec<&Diagnostic> {
        let mut items: Vec<&Diagnostic> = self.items.iter().collect();
        items.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        items.dedup();
        items
    }
}

impl FromIterator<Diagnostic> for Diagnostics {
    fn from_iter<I: IntoIterator<Item = Diagnostic>>(iter: I) -> Self {
        Diagnostics { items: iter.into_iter().collect() }
    }
}

/// The text of every site file that diagnostics may point into, by site-relative path, so
/// human output can quote the offending line.
pub(crate) type Sources = BTreeMap<String, String>;

/// How to print diagnostics (`--message-format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub(crate) enum MessageFormat {
    /// rustc-style, with the source line and a caret.
    #[default]
    Human,
    /// One JSON object per line.
    Json,
}

/// Renders one diagnostic rustc-style: title, `--> file:line:col`, the source line with a
/// caret under the offending text labelled with the field path, then the fix.
pub(crate) fn render_human(diagnostic: &Diagnostic, sources: &Sources, color: bool) -> String {
    let level = match diagnostic.severity {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
    };
    let loc = &diagnostic.location;
    let label = diagnostic.field.as_deref().unwrap_or_default();
    let title = level.primary_title(diagnostic.message.as_str());
    let mut group: Group<'_> = match (sources.get(&loc.file), &loc.span) {
        (Some(text), Some(span)) if span.end <= text.len() && text.is_char_boundary(span.start) => {
            let span = if span.is_empty() { span.start..span.start } else { span.clone() };
            title.element(
                Snippet::source(text.as_str())
                    .line_start(1)
                    .path(loc.file.as_str())
                    .fold(true)
                    .annotation(AnnotationKind::Primary.span(span).label(label)),
            )
        }
        _ => title.element(
            annotate_snippets::Origin::path(loc.file.as_str()).line(loc.line).char_column(loc.column),
        ),
    };
    if diagnostic.location.span.is_none() && !label.is_empty() {
        group = group.element(Level::NOTE.message(format!("in `{label}`")));
    }
    if let Some(help) = &diagnostic.help {
        group = group.element(Level::HELP.message(help.as_str()));
    }
    let renderer = if color { Renderer::styled() } else { Renderer::plain() };
    renderer.render(&[group])
}

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    severity: Severity,
    kind: Kind,
    file: &'a str,
    line: usize,
    column: usize,
    field: Option<&'a str>,
    message: &'a str,
    help: Option<&'a str>,
}

/// One JSON object (no newline) with file, line, column, field, message and help.
pub(crate) fn render_json(diagnostic: &Diagnostic) -> String {
    let loc = &diagnostic.location;
    let json = JsonDiagnostic {
        severity: diagnostic.severity,
        kind: diagnostic.kind,
        file: &loc.file,
        line: loc.line,
        column: loc.column,
        field: diagnostic.field.as_deref(),
        message: &diagnostic.message,
        help: diagnostic.help.as_deref(),
    };
    serde_json::to_string(&json).expect("a struct of strings and numbers always serialises")
}

/// A GitHub Actions workflow command (`::error file=…,line=…,col=…::message`), which shows the
/// problem as an annotation on the pull request's diff.
pub(crate) fn render_github(diagnostic: &Diagnostic) -> String {
    let command = match diagnostic.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let loc = &diagnostic.location;
    let mut message = String::new();
    if let Some(field) = &diagnostic.field {
        let _ = write!(message, "{field}: ");
    }
    message.push_str(&diagnostic.message);
    if let Some(help) = &diagnostic.help {
        let _ = write!(message, "\nhelp: {help}");
    }
    format!(
        "::{command} file={},line={},col={}::{}",
        escape_github_property(&loc.file),
        loc.line,
        loc.column,
        escape_github_data(&message)
    )
}

// Escapes documented in GitHub's toolkit (`command.ts`): data escapes %, CR and LF; properties
// additionally escape `:` and `,`, which would otherwise end the property.
fn escape_github_data(text: &str) -> String {
    text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

fn escape_github_property(text: &str) -> String {
    escape_github_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price_error() -> (Diagnostic, Sources) {
        let text = "title: Shoes\nproducts:\n  - sku: A\n    price: \"10.001\"\n";
        let start = text.find("\"10.001\"").unwrap();
        let location = Location {
            file: "drops/shoes/drop.yaml".into(),
            line: 4,
            column: 12,
            span: Some(start..start + 8),
        };
        let diagnostic = Diagnostic::error(
            Kind::InvalidValue,
            location,
            "`10.001` has 3 decimal places, but USD allows 2",
        )
        .field("products[0].price")
        .help("round the price to at most 2 decimal places");
        let sources = Sources::from([("drops/shoes/drop.yaml".to_owned(), text.to_owned())]);
        (diagnostic, sources)
    }

    #[test]
    fn human_output_quotes_the_line_with_a_caret() {
        let (diagnostic, sources) = price_error();
        let out = render_human(&diagnostic, &sources, false);
        assert_eq!(
            out,
            "error: `10.001` has 3 decimal places, but USD allows 2\n \
             --> drops/shoes/drop.yaml:4:12\n  \
             |\n\
             4 |     price: \"10.001\"\n  \
             |            ^^^^^^^^ products[0].price\n  \
             |\n  \
             = help: round the price to at most 2 decimal places"
        );
    }

    #[test]
    fn json_output_has_location_and_field() {
        let (diagnostic, _) = price_error();
        assert_eq!(
            render_json(&diagnostic),
            r#"{"severity":"error","kind":"invalid-value","file":"drops/shoes/drop.yaml","line":4,"column":12,"field":"products[0].price","message":"`10.001` has 3 decimal places, but USD allows 2","help":"round the price to at most 2 decimal places"}"#
        );
    }

    #[test]
    fn github_output_escapes_properties_and_newlines() {
        let (mut diagnostic, _) = price_error();
        diagnostic.location.file = "drops/a,b/drop.yaml".into();
        assert_eq!(
            render_github(&diagnostic),
            "::error file=drops/a%2Cb/drop.yaml,line=4,col=12::products[0].price: `10.001` has 3 decimal places, but USD allows 2%0Ahelp: round the price to at most 2 decimal places"
        );
    }

    #[test]
    fn sorts_by_file_line_and_column() {
        let at = |file: &str, line| {
            Diagnostic::error(Kind::InvalidValue, Location { line, ..Location::file(file) }, "x")
        };
        let diagnostics: Diagnostics =
            [at("b.yaml", 1), at("a.yaml", 9), at("a.yaml", 2)].into_iter().collect();
        let order: Vec<(String, usize)> =
            diagnostics.sorted().iter().map(|d| (d.location.file.clone(), d.location.line)).collect();
        assert_eq!(order, [("a.yaml".into(), 2), ("a.yaml".into(), 9), ("b.yaml".into(), 1)]);
    }
}
