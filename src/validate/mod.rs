//! Stage: VALIDATE — raw YAML values → the [`Site`] model, collecting every problem.
//!
//! Pure: reads nothing from disk (file facts were gathered by `load`). Each check names the
//! field path, points at the value, and says how to fix it. Validation carries on after a
//! problem so one run reports all of them; a [`Site`] is only returned when there is no error.

use std::collections::{BTreeMap, BTreeSet};

use crate::diagnostic::{Diagnostic, Diagnostics, Kind, Location, Severity};
use crate::load::LoadedSite;
use serde_saphyr::Spanned;

use crate::load::raw;
use crate::model::{Drop, Site};
use crate::suggest::closest;

/// Validates everything that was loaded. Drafts are always validated (a draft with a duplicate
/// SKU would break the day it goes live) but only kept when `include_drafts` is set; a draft
/// that is left out cannot break the build, so its problems are warnings.
pub(crate) fn site(loaded: &LoadedSite, include_drafts: bool) -> (Option<Site>, Diagnostics) {
    let mut diagnostics = loaded.diagnostics.clone();
    let config = loaded.config.as_ref().and_then(|config| {
        let mut check = Checker::new(crate::load::CONFIG_FILE, loaded, &mut diagnostics);
        check.config(config)
    });

    let mut drops = Vec::new();
    for loaded_drop in &loaded.drops {
        let Some(raw) = &loaded_drop.raw else { continue };
        let mut check = Checker::new(&loaded_drop.file, loaded, &mut diagnostics);
        if let Some(drop) = check.drop(loaded_drop, raw, config.as_ref()) {
            drops.push(drop);
        }
    }
    check_unique(loaded, &mut diagnostics);
    forgive_missing_misspelt(&mut diagnostics);
    let skipped_drafts: BTreeSet<&str> = loaded
        .drops
        .iter()
        .filter(|drop| !include_drafts && drop.raw.as_ref().is_some_and(|raw| is_draft(&raw.value)))
        .map(|drop| drop.file.as_str())
        .collect();
    for problem in diagnostics.iter_mut() {
        if problem.severity == Severity::Error && skipped_drafts.contains(problem.location.file.as_str()) {
            problem.severity = Severity::Warning;
            problem.message.push_str(" (in a draft: an error once it is published or built with `--drafts`)");
        }
    }

    let (Some(config), false) = (config, diagnostics.has_errors()) else {
        return (None, diagnostics);
    };
    let mut drops: Vec<Drop> = drops.into_iter().filter(|drop| include_drafts || !drop.draft).collect();
    // Newest first; the slug breaks ties so the order never depends on the file system.
    drops.sort_by(|a, b| b.starts_at.cmp(&a.starts_at).then_with(|| a.slug.cmp(&b.slug)));
    (Some(Site { config, drops, skipped_drafts: skipped_drafts.len() }), diagnostics)
}

fn is_draft(raw: &raw::RawDrop) -> bool {
    raw.draft.as_ref().is_some_and(|draft| draft.value)
}

/// A key written `sumary:` is reported once, as unknown with "did you mean `summary`?", not a
/// second time as a missing `summary`. The missing-key error left out is the one of the mapping
/// the typo is in: the nearest at or above it, with its keys in the typo's column.
fn forgive_missing_misspelt(diagnostics: &mut Diagnostics) {
    let forgiven: Vec<(Location, String)> = diagnostics
        .iter()
        .filter_map(|typo| {
            let missing = format!("missing required field `{}`", crate::load::misspelt_key(typo)?);
            let at = diagnostics
                .iter()
                .filter(|d| d.kind == Kind::MissingField && d.message == missing)
                .map(|d| &d.location)
                .filter(|at| {
                    at.file == typo.location.file
                        && at.column == typo.location.column
                        && at.line <= typo.location.line
                })
                .max_by_key(|at| at.line)?;
            Some((at.clone(), missing))
        })
        .collect();
    diagnostics.retain(|d| {
        d.kind != Kind::MissingField
            || !forgiven.iter().any(|(at, missing)| *at == d.location && *missing == d.message)
    });
}

/// Slugs and SKUs must be unique across the whole site: a SKU names stock in the inventory
/// API, and a slug names a page. Checked on the values as written in every parsed drop, so a
/// duplicate is reported even when the drops involved have other problems too.
fn check_unique(loaded: &LoadedSite, diagnostics: &mut Diagnostics) {
    // Value → where it was first given.
    let mut slugs: BTreeMap<String, Location> = BTreeMap::new();
    let mut skus: BTreeMap<String, Location> = BTreeMap::new();
    for loaded_drop in &loaded.drops {
        let Some(raw) = &loaded_drop.raw else { continue };
        let file = loaded_drop.file.as_str();
        let text = loaded.sources.get(file).map(String::as_str).unwrap_or_default();
        let slug = raw.value.slug.as_ref().map_or(loaded_drop.folder.file_name(), |slug| slug.value.trim());
        let at = raw
            .value
            .slug
            .as_ref()
            .map_or_else(|| Location::file(file), |slug| raw::location(file, text, &slug.referenced));
        if let Some(first) = slugs.get(slug) {
            diagnostics.push(
                Diagnostic::error(
                    Kind::Duplicate,
                    at,
                    format!("slug `{slug}` is already used by `{}`", first.file),
                )
                .field("slug")
                .help(format!(
                    "every drop needs its own page URL: change `slug` or rename the folder; {}",
                    first_at(first)
                )),
            );
        } else {
            slugs.insert(slug.to_owned(), at);
        }
        let products = raw.value.products.iter().flat_map(|products| products.value.iter());
        for (index, product) in products.enumerate() {
            let Some(sku) = &product.value.sku else { continue };
            let text_sku = sku.value.trim();
            if text_sku.is_empty() {
                continue;
            }
            let at = raw::location(file, text, &sku.referenced);
            let Some(first) = skus.get(text_sku) else {
                skus.insert(text_sku.to_owned(), at);
                continue;
            };
            let where_ = if first.file == file {
                "earlier in this file".to_owned()
            } else {
                format!("in `{}`", first.file)
            };
            diagnostics.push(
                Diagnostic::error(Kind::Duplicate, at, format!("SKU `{text_sku}` is already used {where_}"))
                    .field(format!("products[{index}].sku"))
                    .help(format!(
                        "SKUs identify stock in the inventory API and must be unique across the site; {}",
                        first_at(first)
                    )),
            );
        }
    }
}

/// Where the first of two equal values is, for the help of the error at the second: every
/// duplicate dropgen reports names both places.
fn first_at(first: &Location) -> String {
    format!("the first is at `{}:{}:{}`", first.file, first.line, first.column)
}

/// Checks the values of one file, recording problems with their positions.
struct Checker<'a> {
    file: &'a str,
    text: &'a str,
    loaded: &'a LoadedSite,
    diagnostics: &'a mut Diagnostics,
}

impl<'a> Checker<'a> {
    fn new(file: &'a str, loaded: &'a LoadedSite, diagnostics: &'a mut Diagnostics) -> Self {
        let text = loaded.sources.get(file).map(String::as_str).unwrap_or_default();
        Checker { file, text, loaded, diagnostics }
    }

    fn at<T>(&self, value: &Spanned<T>) -> Location {
        raw::location(self.file, self.text, &value.referenced)
    }

    fn error<T>(
        &mut self,
        kind: Kind,
        value: &Spanned<T>,
        field: &str,
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        let diagnostic = Diagnostic::error(kind, self.at(value), message).field(field).help(help);
        self.diagnostics.push(diagnostic);
    }

    fn warning<T>(
        &mut self,
        value: &Spanned<T>,
        field: &str,
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        let diagnostic =
            Diagnostic::warning(Kind::InvalidValue, self.at(value), message).field(field).help(help);
        self.diagnostics.push(diagnostic);
    }

    /// A required field: reports it missing (at its parent) when absent.
    fn required<'v, T, P>(
        &mut self,
        value: &'v Option<Spanned<T>>,
        parent: &Spanned<P>,
        field: &str,
        help: &str,
    ) -> Option<&'v Spanned<T>> {
        if value.is_none() {
            let name = field.rsplit('.').next().unwrap_or(field);
            let diagnostic = Diagnostic::error(
                Kind::MissingField,
                self.at(parent),
                format!("missing required field `{name}`"),
            )
            .field(field)
            .help(help.to_owned());
            self.diagnostics.push(diagnostic);
        }
        value.as_ref()
    }

    /// A required piece of text, trimmed; empty text counts as missing.
    fn required_text<P>(
        &mut self,
        value: &Option<Spanned<String>>,
        parent: &Spanned<P>,
        field: &str,
        help: &str,
    ) -> Option<String> {
        let value = self.required(value, parent, field, help)?;
        let text = value.value.trim();
        if text.is_empty() {
            self.error(Kind::MissingField, value, field, format!("`{field}` is empty"), help.to_owned());
            return None;
        }
        Some(text.to_owned())
    }

    fn optional_text(value: &Option<Spanned<String>>) -> String {
        value.as_ref().map(|v| v.value.trim().to_owned()).unwrap_or_default()
    }
}

/// An optional field after checking: absent (`None`) is fine, present but invalid
/// (`Some(None)`) fails the whole value.
fn optional<T>(checked: Option<Option<T>>) -> Option<Option<T>> {
    match checked {
        None => Some(None),
        Some(value) => value.map(Some),
    }
}

pub(crate) mod config;
pub(crate) mod drop;
mod local_time;
#[cfg(test)]
mod tests;
