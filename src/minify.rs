//! Stage: ASSETS — minifies a theme's JavaScript and CSS before they are fingerprinted.
//!
//! Theme sources stay readable (names, comments, one statement a line); what visitors download
//! is minified here, for every theme alike. JavaScript goes through oxc (parse, compress,
//! mangle local names, print without whitespace), CSS through lightningcss (parse, merge and
//! shorten rules, print minified). Both are pure functions of the source text, so the same
//! theme always publishes the same bytes, and so the same fingerprinted names.
//!
//! Scripts are parsed as classic scripts, which is how themes load them (`<script defer>`):
//! top-level names are globals another script may use, so they are neither renamed nor
//! dropped. Files named `*.min.js` or `*.min.css` are taken as already minified and published
//! as they are.

use oxc_allocator::Allocator;
use oxc_codegen::{Codegen, CodegenOptions};
use oxc_minifier::{CompressOptions, MangleOptions, Minifier, MinifierOptions};
use oxc_parser::Parser;
use oxc_span::SourceType;

use crate::diagnostic::{Diagnostic, Kind, Location};

/// What a static file is, as far as minifying goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Language {
    JavaScript,
    Css,
}

impl Language {
    /// The language of a static file by its name; `None` for files published as they are.
    pub(crate) fn of(path: &str) -> Option<Language> {
        if path.ends_with(".min.js") || path.ends_with(".min.css") {
            None
        } else if path.ends_with(".js") {
            Some(Language::JavaScript)
        } else if path.ends_with(".css") {
            Some(Language::Css)
        } else {
            None
        }
    }
}

/// Minifies one theme file. `origin` names the file in the diagnostic when the source does
/// not parse (with the line and column of the first problem).
pub(crate) fn minify(language: Language, origin: &str, source: &[u8]) -> Result<Vec<u8>, Box<Diagnostic>> {
    let text = std::str::from_utf8(source).map_err(|err| {
        let at = location(origin, source, err.valid_up_to());
        Box::new(
            Diagnostic::error(Kind::Template, at, "the file is not UTF-8".to_owned())
                .help("save the file as UTF-8"),
        )
    })?;
    match language {
        Language::JavaScript => javascript(origin, text).map(String::into_bytes),
        Language::Css => css(origin, text).map(String::into_bytes),
    }
}

fn javascript(origin: &str, text: &str) -> Result<String, Box<Diagnostic>> {
    let allocator = Allocator::default();
    let parsed = Parser::new(&allocator, text, SourceType::cjs()).parse();
    if let Some(error) = parsed.errors.first() {
        let offset =
            error.labels.as_ref().and_then(|labels| labels.first()).map_or(0, |label| label.offset());
        return Err(Box::new(
            Diagnostic::error(
                Kind::Template,
                location(origin, text.as_bytes(), offset),
                format!("cannot minify the script: {}", error.message),
            )
            .help("fix the script's syntax; browsers would refuse it too"),
        ));
    }
    if parsed.panicked {
        return Err(Box::new(Diagnostic::error(
            Kind::Template,
            Location::file(origin),
            "cannot minify the script: it does not parse".to_owned(),
        )));
    }
    let mut program = parsed.program;
    let options = MinifierOptions {
        mangle: Some(MangleOptions::default()),
        compress: Some(CompressOptions::smallest()),
    };
    let minified = Minifier::new(options).minify(&allocator, &mut program);
    let code = Codegen::new()
        .with_options(CodegenOptions::minify())
        .with_scoping(minified.scoping)
        .build(&program)
        .code;
    Ok(code)
}

fn css(origin: &str, text: &str) -> Result<String, Box<Diagnostic>> {
    use lightningcss::stylesheet::{MinifyOptions, ParserOptions, PrinterOptions, StyleSheet};

    let problem = |message: String, loc: Option<(u32, u32)>| {
        let mut at = Location::file(origin);
        if let Some((line, column)) = loc {
            // lightningcss counts lines from 0 and columns from 1.
            at.line = line as usize + 1;
            at.column = (column as usize).max(1);
        }
        Box::new(
            Diagnostic::error(Kind::Template, at, format!("cannot minify the stylesheet: {message}"))
                .help("fix the stylesheet's syntax"),
        )
    };
    let options = ParserOptions { filename: origin.to_owned(), ..ParserOptions::default() };
    let mut sheet = StyleSheet::parse(text, options)
        .map_err(|err| problem(err.kind.to_string(), err.loc.map(|l| (l.line, l.column))))?;
    sheet
        .minify(MinifyOptions::default())
        .map_err(|err| problem(err.kind.to_string(), err.loc.map(|l| (l.line, l.column))))?;
    let printed = sheet
        .to_css(PrinterOptions { minify: true, ..PrinterOptions::default() })
        .map_err(|err| problem(err.kind.to_string(), err.loc.map(|l| (l.line, l.column))))?;
    Ok(printed.code)
}

/// The 1-based line and column (in characters) of a byte offset.
fn location(origin: &str, text: &[u8], offset: usize) -> Location {
    let before = &text[..offset.min(text.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |at| at + 1);
    let column = String::from_utf8_lossy(&before[line_start..]).chars().count() + 1;
    Location { file: origin.to_owned(), line, column, span: Some(offset..offset) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minifies_a_script_keeping_its_globals_and_behaviour_words() {
        let source = "// a comment\nfunction visibleToOtherScripts(count) {\n  const doubled = count * 2;\n  return \"total: \" + doubled;\n}\n(() => {\n  const localName = document.title;\n  console.log(localName);\n})();\n";
        let out =
            String::from_utf8(minify(Language::JavaScript, "x.js", source.as_bytes()).unwrap()).unwrap();
        assert!(!out.contains("comment") && !out.contains("localName"), "{out}");
        assert!(!out.trim_end().contains('\n'), "one line: {out}");
        assert!(out.contains("function visibleToOtherScripts("), "top-level names stay: {out}");
        assert!(out.contains("\"total: \"") || out.contains("`total: "), "{out}");
        assert!(out.len() < source.len() * 2 / 3, "{out}");
    }

    #[test]
    fn minifying_is_deterministic() {
        let script = include_bytes!("../themes/default/static/drops.js");
        let first = minify(Language::JavaScript, "drops.js", script).unwrap();
        assert_eq!(first, minify(Language::JavaScript, "drops.js", script).unwrap());
        let style = include_bytes!("../themes/default/static/style.css");
        let first = minify(Language::Css, "style.css", style).unwrap();
        assert_eq!(first, minify(Language::Css, "style.css", style).unwrap());
        assert!(first.len() < style.len(), "{} of {}", first.len(), style.len());
    }

    #[test]
    fn minifies_css() {
        let out =
            minify(Language::Css, "a.css", b"/* c */\n.a {\n  color: #ffffff;\n  margin: 0px 0px;\n}\n")
                .unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), ".a{color:#fff;margin:0}");
    }

    #[test]
    fn a_script_that_does_not_parse_names_its_file_line_and_column() {
        let problem =
            minify(Language::JavaScript, "themes/x/static/app.js", b"let a = 1;\nlet b = ;\n").unwrap_err();
        assert_eq!(
            (problem.location.file.as_str(), problem.location.line, problem.location.column),
            ("themes/x/static/app.js", 2, 9)
        );
        assert!(problem.message.starts_with("cannot minify the script: "), "{}", problem.message);
    }

    #[test]
    fn a_stylesheet_that_does_not_parse_names_its_file_and_line() {
        let problem = minify(
            Language::Css,
            "themes/x/static/a.css",
            b".a { color: red }\n.b { color: red }\n@media (min-width: ) {\n}\n.c {}\n",
        )
        .unwrap_err();
        eprintln!("{problem:?}");
        assert_eq!((problem.location.file.as_str(), problem.location.line), ("themes/x/static/a.css", 3));
    }

    #[test]
    fn leaves_minified_and_other_files_alone() {
        assert_eq!(Language::of("vendor/lib.min.js"), None);
        assert_eq!(Language::of("a.min.css"), None);
        assert_eq!(Language::of("favicon.ico"), None);
        assert_eq!(Language::of("drops.js"), Some(Language::JavaScript));
        assert_eq!(Language::of("css/site.css"), Some(Language::Css));
    }
}
