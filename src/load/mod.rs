//! Stage: LOAD — everything the build reads from disk, and nothing else.
//!
//! Reads `dropgen.yaml`, every `drops/<slug>/drop.yaml` (in sorted order), the theme, and the
//! header of every image a drop refers to. Produces a [`LoadedSite`]: raw, unvalidated values
//! with their positions, the text of every YAML file (for error snippets), and facts about
//! referenced files. Problems that stop a file from being read at all (unreadable, not UTF-8,
//! not YAML, unknown keys) become diagnostics here; all other rules live in `validate`.

pub(crate) mod files;
pub(crate) mod raw;
pub(crate) mod theme;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::de::DeserializeOwned;
use serde_saphyr::{MessageFormatter, Spanned};

use crate::diagnostic::{Diagnostic, Diagnostics, Kind, Location, Sources};
use crate::error::Error;
use crate::model::SitePath;

pub(crate) use files::{FileFact, FileFacts, hex_sha256};
pub(crate) use raw::{RawConfig, RawDrop};
pub(crate) use theme::ThemeFiles;

/// The site configuration file at the root of every site.
pub(crate) const CONFIG_FILE: &str = "dropgen.yaml";
/// The folder holding one sub-folder per drop.
pub(crate) const DROPS_DIR: &str = "drops";
/// The definition file inside each drop folder.
pub(crate) const DROP_FILE: &str = "drop.yaml";
/// YAML files larger than this are refused: a drop definition is a few kilobytes, and
/// parsing megabytes of YAML only happens by accident (a pasted image, a generated file).
const MAX_YAML_BYTES: u64 = 1024 * 1024;

/// A site as read from disk: raw values, their sources, and facts about referenced files.
#[derive(Debug)]
pub(crate) struct LoadedSite {
    pub(crate) config: Option<Spanned<RawConfig>>,
    pub(crate) drops: Vec<LoadedDrop>,
    pub(crate) files: FileFacts,
    pub(crate) theme: ThemeFiles,
    pub(crate) sources: Sources,
    pub(crate) diagnostics: Diagnostics,
}

/// One drop folder and what its `drop.yaml` held, if it could be parsed.
#[derive(Debug)]
pub(crate) struct LoadedDrop {
    /// `drops/<slug>`.
    pub(crate) folder: SitePath,
    /// `drops/<slug>/drop.yaml`.
    pub(crate) file: String,
    pub(crate) raw: Option<Spanned<RawDrop>>,
}

/// Reads the site at `root`. Fails outright only when `root` is not a site at all; every
/// problem inside the site is collected into [`LoadedSite::diagnostics`].
pub(crate) fn site(root: &Path) -> Result<LoadedSite, Error> {
    let config_path = root.join(CONFIG_FILE);
    if !config_path.is_file() {
        return Err(Error::NotASite { root: root.to_path_buf() });
    }
    let mut sources = Sources::new();
    let mut diagnostics = Diagnostics::new();

    let config = parse_file::<RawConfig>(root, CONFIG_FILE, &mut sources, &mut diagnostics);
    // Parsed in parallel (at 1,000 drops, reading and parsing one after another was a seventh
    // of a rebuild); each file's problems and text are gathered in folder order after.
    let parsed: Vec<(LoadedDrop, Sources, Diagnostics)> = drop_folders(root, &mut diagnostics)?
        .into_par_iter()
        .map(|folder| {
            let (mut sources, mut diagnostics) = (Sources::new(), Diagnostics::new());
            let file = format!("{folder}/{DROP_FILE}");
            let raw = parse_file::<RawDrop>(root, &file, &mut sources, &mut diagnostics);
            (LoadedDrop { folder, file, raw }, sources, diagnostics)
        })
        .collect();
    let mut drops = Vec::with_capacity(parsed.len());
    for (drop, drop_sources, drop_diagnostics) in parsed {
        sources.extend(drop_sources);
        diagnostics.extend(drop_diagnostics);
        drops.push(drop);
    }

    let theme_name = config
        .as_ref()
        .and_then(|config| config.value.theme.as_ref())
        .map(|theme| theme.value.clone())
        .unwrap_or_else(|| theme::DEFAULT_THEME.to_owned());
    let theme = theme::load(root, &theme_name)?;
    let files = files::probe(root, &referenced_images(&drops));

    Ok(LoadedSite { config, drops, files, theme, sources, diagnostics })
}

/// The drop folders under `drops/`, sorted by name. Stray YAML files directly in `drops/` and
/// folders without a `drop.yaml` are reported, since they are almost always a misplaced drop.
fn drop_folders(root: &Path, diagnostics: &mut Diagnostics) -> Result<Vec<SitePath>, Error> {
    let dir = root.join(DROPS_DIR);
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut folders = Vec::new();
    for entry in walkdir::WalkDir::new(&dir).min_depth(1).max_depth(1).sort_by_file_name() {
        let entry = entry.map_err(|err| Error::io(&dir, err.into()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let rel = format!("{DROPS_DIR}/{name}");
        // A linked drop folder is followed, as long as it stays inside the site: skipping it
        // silently would make the next build delete the drop's live page.
        if entry.path_is_symlink() {
            let inside =
                fs::canonicalize(entry.path()).is_ok_and(|real| real.starts_with(canonical_root(root)));
            if !inside {
                diagnostics.push(
                    Diagnostic::error(
                        Kind::MissingFile,
                        Location::file(&rel),
                        format!("`{rel}` is a link to something outside the site folder"),
                    )
                    .help("move the drop folder into the site, or remove the link"),
                );
                continue;
            }
        }
        if entry.path().is_dir() {
            if entry.path().join(DROP_FILE).is_file() {
                folders.extend(SitePath::from_relative(Path::new(&rel)));
            } else {
                diagnostics.push(
                    Diagnostic::error(Kind::MissingFile, Location::file(&rel), format!("drop folder `{rel}` has no `{DROP_FILE}`"))
                        .help(format!("create `{rel}/{DROP_FILE}` (`dropgen new {name}` writes a template), or move the folder out of `{DROPS_DIR}/`")),
                );
            }
        } else if name.ends_with(".yaml") || name.ends_with(".yml") {
            let stem = name.trim_end_matches(".yaml").trim_end_matches(".yml");
            diagnostics.push(
                Diagnostic::error(
                    Kind::MissingFile,
                    Location::file(&rel),
                    format!("`{rel}` is not inside a drop folder"),
                )
                .help(format!("each drop is a folder: move this file to `{DROPS_DIR}/{stem}/{DROP_FILE}`")),
            );
        }
    }
    Ok(folders)
}

/// Reads and parses one YAML file. Problems are reported with the file's position and the
/// file's text is kept for snippets.
fn parse_file<T: DeserializeOwned>(
    root: &Path,
    file: &str,
    sources: &mut Sources,
    diagnostics: &mut Diagnostics,
) -> Option<Spanned<T>> {
    match read_yaml_text(&root.join(file)) {
        Ok(text) => parse_source(file, text, sources, diagnostics),
        Err(message) => {
            diagnostics.push(Diagnostic::error(Kind::Io, Location::file(file), message));
            None
        }
    }
}

/// Parses the text of `file`, keeping the text in `sources` for error snippets.
///
/// serde stops at the first unknown key, which would hide every other problem in the file
/// behind one typo. So an unknown key is reported, blanked out (replaced by spaces, keeping
/// every other position intact) and the file parsed again, until it parses or fails for
/// another reason. Errors that only appear after blanking are not reported: they may be
/// artefacts of the blanking, and the file is already known to be broken.
pub(crate) fn parse_source<T: DeserializeOwned>(
    file: &str,
    text: String,
    sources: &mut Sources,
    diagnostics: &mut Diagnostics,
) -> Option<Spanned<T>> {
    const MAX_UNKNOWN_KEYS: usize = 50;
    if text.trim().is_empty() {
        let help = if file == CONFIG_FILE {
            "add at least `base_url:` and `checkout_url:`; see the README for every setting"
        } else {
            "fill it in, or start again from `dropgen new <slug>`, which writes every field with an explanation"
        };
        diagnostics
            .push(Diagnostic::error(Kind::Syntax, Location::file(file), "the file is empty").help(help));
        sources.insert(file.to_owned(), text);
        return None;
    }
    let mut working: Option<String> = None;
    let mut result = parse_yaml::<T>(&text);
    for _ in 0..MAX_UNKNOWN_KEYS {
        let Err(err) = &result else { break };
        let current = working.as_deref().unwrap_or(&text);
        if working.is_some() && !is_unknown_field(err) {
            sources.insert(file.to_owned(), text);
            return None;
        }
        diagnostics.push(yaml_diagnostic(file, &text, err));
        let blanked = err.location().and_then(|at| blank_entry(current, &at));
        let Some(blanked) = blanked.filter(|_| is_unknown_field(err)) else {
            sources.insert(file.to_owned(), text);
            return None;
        };
        result = parse_yaml::<T>(&blanked);
        working = Some(blanked);
    }
    sources.insert(file.to_owned(), text);
    result.ok()
}

fn is_unknown_field(err: &serde_saphyr::Error) -> bool {
    matches!(err.without_snippet(), serde_saphyr::Error::SerdeUnknownField { .. })
}

/// Replaces the block-style mapping entry whose key starts at `at` (the key's line, and any
/// following lines indented deeper than the key) with spaces. `None` when nothing was blanked.
fn blank_entry(text: &str, at: &serde_saphyr::Location) -> Option<String> {
    let line = usize::try_from(at.line()).ok()?.checked_sub(1)?;
    let key_offset = usize::try_from(at.span().byte_offset()?).ok()?;
    let line_start = text.split_inclusive('\n').take(line).map(str::len).sum::<usize>();
    let indent = text.get(line_start..key_offset)?.chars().count();
    let mut end = text[key_offset..].find('\n').map_or(text.len(), |i| key_offset + i + 1);
    for next in text[end..].split_inclusive('\n') {
        let content = next.trim_start_matches(' ');
        let deeper = next.len() - content.len() > indent;
        if !(deeper || content.trim().is_empty()) {
            break;
        }
        end += next.len();
    }
    if end <= key_offset {
        return None;
    }
    let mut blanked = String::with_capacity(text.len());
    blanked.push_str(&text[..key_offset]);
    // One space per byte, so every byte offset after the entry stays valid.
    for c in text[key_offset..end].chars() {
        match c {
            '\n' | '\r' => blanked.push(c),
            _ => blanked.extend(std::iter::repeat_n(' ', c.len_utf8())),
        }
    }
    blanked.push_str(&text[end..]);
    Some(blanked)
}

fn read_yaml_text(path: &Path) -> Result<String, String> {
    let meta = fs::metadata(path).map_err(|err| format!("cannot read the file: {err}"))?;
    if meta.len() > MAX_YAML_BYTES {
        return Err(format!(
            "the file is {} bytes; YAML files are limited to {MAX_YAML_BYTES} bytes",
            meta.len()
        ));
    }
    let bytes = fs::read(path).map_err(|err| format!("cannot read the file: {err}"))?;
    String::from_utf8(bytes).map_err(|err| {
        format!(
            "the file is not UTF-8 text (invalid byte at offset {}); save it as UTF-8",
            err.utf8_error().valid_up_to()
        )
    })
}

/// Parses YAML with limits that no real drop file comes near, so deep nesting or alias bombs
/// fail fast with a message instead of exhausting memory.
fn parse_yaml<T: DeserializeOwned>(text: &str) -> Result<Spanned<T>, serde_saphyr::Error> {
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! { max_depth: 32, max_nodes: 100_000, max_aliases: 100 },
        with_snippet: false,
    };
    serde_saphyr::from_str_with_options::<Spanned<T>>(text, options)
}

const DID_YOU_MEAN: &str = "did you mean ";

/// The known key an unknown key was most likely meant to be, from its diagnostic: validation
/// then leaves out the "missing" error for that key, which would report the typo twice.
pub(crate) fn misspelt_key(diagnostic: &Diagnostic) -> Option<&str> {
    if diagnostic.kind != Kind::UnknownField {
        return None;
    }
    diagnostic.help.as_deref()?.strip_prefix(DID_YOU_MEAN)?.strip_prefix('`')?.strip_suffix("`?")
}

/// Turns a YAML error into a diagnostic, with a did-you-mean for unknown keys.
fn yaml_diagnostic(file: &str, text: &str, err: &serde_saphyr::Error) -> Diagnostic {
    let err = err.without_snippet();
    let location = err.location().map_or_else(|| Location::file(file), |at| raw::location(file, text, &at));
    match err {
        serde_saphyr::Error::SerdeUnknownField { field, expected, .. } => {
            let help = match crate::suggest::closest(field, expected.iter().copied()) {
                Some(suggestion) => format!("{DID_YOU_MEAN}`{suggestion}`?"),
                None => format!(
                    "known fields here: {}",
                    expected.iter().map(|f| format!("`{f}`")).collect::<Vec<_>>().join(", ")
                ),
            };
            Diagnostic::error(Kind::UnknownField, location, format!("unknown field `{field}`")).help(help)
        }
        _ if let Some(tab) = blamed_tab(text, location.line) => tab_diagnostic(file, text, tab),
        _ => {
            let message = serde_saphyr::UserMessageFormatter.format_message(err).into_owned();
            Diagnostic::error(Kind::Syntax, location, message)
                .help("check the indentation and quoting around this line; quote text that contains `: ` or starts with a symbol")
        }
    }
}

/// The tab that most likely broke a file that failed to parse at `error_line`: the first one
/// outside quotes and comments, at or before that line, else the first after it. YAML forbids
/// tabs in indentation, and parsers report them in their own words and often a line late.
fn blamed_tab(text: &str, error_line: usize) -> Option<usize> {
    let mut after = None;
    let mut line_start = 0;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        if let Some(column) = unquoted_tab(line) {
            if index < error_line {
                return Some(line_start + column);
            }
            after = after.or(Some(line_start + column));
        }
        line_start += line.len();
    }
    after
}

/// The byte offset in `line` of its first tab outside quotes and comments.
fn unquoted_tab(line: &str) -> Option<usize> {
    let mut quote = None;
    let mut previous = ' ';
    for (offset, c) in line.char_indices() {
        match (quote, c) {
            (None, '\t') => return Some(offset),
            (None, '#') if previous.is_whitespace() => return None,
            (None, '"' | '\'') if previous.is_whitespace() || previous == ':' => quote = Some(c),
            (Some(open), c) if c == open => quote = None,
            _ => {}
        }
        previous = c;
    }
    None
}

fn tab_diagnostic(file: &str, text: &str, offset: usize) -> Diagnostic {
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let indentation = text[line_start..offset].chars().all(|c| c == ' ' || c == '\t');
    let location = Location {
        file: file.to_owned(),
        line: text[..offset].matches('\n').count() + 1,
        column: text[line_start..offset].chars().count() + 1,
        span: Some(offset..offset + 1),
    };
    let message = if indentation {
        "a tab in the indentation: YAML indents with spaces only"
    } else {
        "a tab between the parts of this line: YAML separates them with spaces"
    };
    Diagnostic::error(Kind::Syntax, location, message)
        .help("replace the tab with spaces (pasted text often brings tabs; most editors can show them)")
}

/// A site held in memory, parsed as [`site`] parses one on disk: the text of `dropgen.yaml`,
/// each drop's `(folder name, drop.yaml text)`, and `fact` saying what each referenced image
/// path is. For the unit tests and the fuzz targets, which must not touch the disk; a folder
/// name that is not a site path is left out.
pub(crate) fn from_texts(
    config: &str,
    drops: &[(&str, &str)],
    fact: impl Fn(&SitePath) -> FileFact,
) -> LoadedSite {
    let mut sources = Sources::new();
    let mut diagnostics = Diagnostics::new();
    let config = parse_source::<RawConfig>(CONFIG_FILE, config.to_owned(), &mut sources, &mut diagnostics);
    let drops: Vec<LoadedDrop> = drops
        .iter()
        .filter_map(|(name, text)| {
            let folder = SitePath::from_relative(Path::new(&format!("{DROPS_DIR}/{name}")))?;
            let file = format!("{folder}/{DROP_FILE}");
            let raw = parse_source::<RawDrop>(&file, (*text).to_owned(), &mut sources, &mut diagnostics);
            Some(LoadedDrop { folder, file, raw })
        })
        .collect();
    let files: FileFacts = referenced_images(&drops)
        .into_iter()
        .map(|path| {
            let fact = fact(&path);
            (path, fact)
        })
        .collect();
    LoadedSite { config, drops, files, theme: ThemeFiles::default(), sources, diagnostics }
}

/// Every image path that drops refer to, resolved against their folders, deduplicated.
pub(crate) fn referenced_images(drops: &[LoadedDrop]) -> BTreeSet<SitePath> {
    let mut paths = BTreeSet::new();
    for drop in drops {
        let Some(raw) = &drop.raw else { continue };
        let raw = &raw.value;
        let products = raw.products.iter().flat_map(|p| p.value.iter());
        let product_images =
            products.flat_map(|p| p.value.images.iter().flat_map(|images| images.value.iter()));
        let images = raw.hero.iter().chain(product_images);
        for image in images {
            if let Some(src) = &image.value.src
                && let Ok(path) = SitePath::resolve(&drop.folder, &src.value)
            {
                paths.insert(path);
            }
        }
    }
    paths
}

/// The canonical site root, so symlinked images can be checked against it.
pub(crate) fn canonical_root(root: &Path) -> PathBuf {
    fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> (Option<Spanned<RawDrop>>, Vec<String>) {
        let mut sources = Sources::new();
        let mut diagnostics = Diagnostics::new();
        let raw = parse_source::<RawDrop>("d.yaml", text.to_owned(), &mut sources, &mut diagnostics);
        let messages = diagnostics
            .sorted()
            .iter()
            .map(|d| format!("{}:{} {}", d.location.line, d.location.column, d.message))
            .collect();
        (raw, messages)
    }

    #[test]
    fn reports_every_unknown_key_and_keeps_parsing() {
        let text =
            "title: T\ncolour: red\nhero:\n  src: a.jpg\n  alt: ä\n  size:\n    w: 1\n    h: 2\nsumary: x\n";
        let (raw, messages) = parse(text);
        assert_eq!(
            messages,
            ["2:1 unknown field `colour`", "6:3 unknown field `size`", "9:1 unknown field `sumary`"]
        );
        let raw = raw.expect("parses once the unknown keys are blanked");
        assert_eq!(raw.value.hero.unwrap().value.alt.unwrap().value, "ä");
    }

    /// Every way a pasted tab breaks a file gets the same plain advice, at the tab itself.
    #[test]
    fn a_tab_is_named_at_its_line_and_column() {
        for (text, at, message) in [
            ("title: T\nhero:\n\tsrc: a.jpg\n  alt: x\n", "3:1", "a tab in the indentation"),
            ("title: T\nhero:\n  src: a.jpg\n \talt: x\n", "4:2", "a tab in the indentation"),
            ("products:\n  - sku: A\n\t  name: B\n", "3:1", "a tab in the indentation"),
            ("title: T\nsummary: a\tb: c\n", "2:11", "a tab between the parts of this line"),
        ] {
            let mut sources = Sources::new();
            let mut diagnostics = Diagnostics::new();
            let raw = parse_source::<RawDrop>("d.yaml", text.to_owned(), &mut sources, &mut diagnostics);
            assert!(raw.is_none(), "{text:?} parses");
            let found = diagnostics.sorted();
            assert_eq!(found.len(), 1, "{text:?}: {found:?}");
            let problem = &found[0];
            let position = format!("{}:{}", problem.location.line, problem.location.column);
            assert_eq!(
                (position.as_str(), problem.message.split(':').next().unwrap()),
                (at, message),
                "{text:?}"
            );
            assert!(problem.help.as_deref().unwrap().starts_with("replace the tab with spaces"), "{text:?}");
        }
    }

    #[test]
    fn tabs_in_quotes_and_comments_are_not_blamed() {
        assert_eq!(unquoted_tab("title: \"a\tb\"\n"), None);
        assert_eq!(unquoted_tab("title: 'a\tb'  # a\tcomment\n"), None);
        assert_eq!(unquoted_tab("\ttitle: x\n"), Some(0));
        let (_, messages) = parse("title: \"unclosed\tsummary: x\n");
        assert!(!messages[0].contains("tab"), "{messages:?}");
    }

    #[test]
    fn syntax_errors_stop_the_file_with_a_position() {
        let (raw, messages) = parse("title: \"unclosed\nsummary: x\n");
        assert!(raw.is_none());
        assert_eq!(messages.len(), 1);
        assert!(messages[0].starts_with("1:8 "), "{messages:?}");
    }

    #[test]
    fn hostile_input_is_an_error_not_a_panic() {
        let deep = "[".repeat(100_000);
        for text in [deep.as_str(), "\u{0}\u{1}", "- a\n- b", "42", "title: [1, 2]", "--- a\n--- b\n"] {
            let (raw, messages) = parse(text);
            assert!(raw.is_none() && messages.len() == 1, "{text:.40}: {messages:?}");
        }
    }

    #[test]
    fn alias_bombs_hit_the_budget() {
        let mut text = String::from("l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
        for level in 1..10 {
            let refs = vec![format!("*l{}", level - 1); 10].join(", ");
            text.push_str(&format!("l{level}: &l{level} [{refs}]\n"));
        }
        let err = parse_yaml::<serde_json::Value>(&text).unwrap_err();
        assert!(err.to_string().contains("budget"), "{err}");
    }

    #[test]
    fn an_empty_file_is_one_problem() {
        let (raw, messages) = parse("  \n");
        assert!(raw.is_none());
        assert_eq!(messages, ["1:1 the file is empty"]);
    }
}
