//! Guidance on hero sources: a hero narrower than twice the widest the theme draws it looks
//! soft on a density-2 screen, the common laptop and phone. The widest is read from the
//! `sizes` of the hero's `<img>` on each rendered drop page, so it is the theme's own layout,
//! not a number to keep in step with it.

use std::collections::HashMap;

use crate::diagnostic::{Diagnostic, Kind};
use crate::images::Images;
use crate::model::Site;
use crate::output::Artifact;

/// Screen density the advice is for.
const DENSITY: f64 = 2.0;
/// The viewport widths, in CSS pixels, a `sizes` is evaluated at: phones to a full-HD desktop.
const VIEWPORTS: std::ops::RangeInclusive<u32> = 320..=1920;
/// CSS pixels per `rem` and `em` (the browsers' default text size).
const ROOT_FONT: f64 = 16.0;

/// A warning for each published drop whose hero is narrower than [`DENSITY`] × the widest
/// its page's `sizes` draws it at any of [`VIEWPORTS`].
pub(crate) fn warnings(site: &Site, pages: &[(String, Artifact)], images: &Images) -> Vec<Diagnostic> {
    let pages: HashMap<&str, &Artifact> = pages.iter().map(|(path, page)| (path.as_str(), page)).collect();
    // Every page of a theme has the same `sizes`: each text is read once, not once a drop
    // (1,601 viewports each).
    let mut widths: HashMap<&str, Option<f64>> = HashMap::new();
    let smallest = site.config.images.widths.first().copied().unwrap_or_default();
    let mut warnings = Vec::new();
    // One narrower than the smallest configured width was warned about in `validate`.
    for drop in site.drops.iter().filter(|drop| !drop.draft && drop.hero.facts.width >= smallest) {
        let path = format!("{}/index.html", drop.slug.as_str());
        let Some(html) =
            pages.get(path.as_str()).and_then(|page| std::str::from_utf8(page.in_memory()?).ok())
        else {
            continue;
        };
        let Some(src) = images.get(&drop.hero.source).and_then(|published| {
            published.of_format(published.fallback_format()).last().map(|variant| variant.url.clone())
        }) else {
            continue;
        };
        let widest = img_sizes(html, &src)
            .filter_map(|sizes| *widths.entry(sizes).or_insert_with(|| widest(sizes)))
            .fold(0.0, f64::max);
        let wanted = (widest * DENSITY).ceil() as u32;
        let width = drop.hero.facts.width;
        if width < wanted {
            warnings.push(
                Diagnostic::warning(
                    Kind::Image,
                    drop.hero.location.clone(),
                    format!(
                        "the hero `{}` is {width} px wide; the theme draws it up to {} px wide, so a screen of density 2 wants {wanted} px",
                        drop.hero.source,
                        widest.round()
                    ),
                )
                .field(drop.hero.field.clone())
                .help(format!("export the hero at least {wanted} px wide (up to 2,560), from the original photo, not upscaled")),
            );
        }
    }
    warnings
}

/// The `sizes` of every `<img>` in `html` whose `src` is `src`.
fn img_sizes<'a>(html: &'a str, src: &str) -> impl Iterator<Item = &'a str> {
    let wanted = format!(" src=\"{src}\"");
    html.split("<img ").skip(1).filter_map(move |rest| {
        // From the space before the first attribute, so each attribute starts with a space.
        let tag = &rest[..rest.find('>')?];
        if !format!(" {tag}").contains(&wanted) {
            return None;
        }
        let start = format!(" {tag}").find(" sizes=\"")? + " sizes=\"".len() - 1;
        Some(&tag[start..start + tag[start..].find('"')?])
    })
}

/// The widest a `sizes` value draws its image at any of [`VIEWPORTS`], in CSS pixels; `None`
/// for what this reader does not understand (then nothing is said).
pub(crate) fn widest(sizes: &str) -> Option<f64> {
    let entries: Vec<(Option<&str>, &str)> = split_top_level(sizes).into_iter().map(entry).collect();
    let mut widest: f64 = 0.0;
    for viewport in VIEWPORTS {
        let viewport = f64::from(viewport);
        let mut chosen = None;
        for (condition, length) in &entries {
            let matches = match condition {
                None => true,
                Some(condition) => media_matches(condition, viewport)?,
            };
            if matches {
                chosen = Some(length_px(length, viewport)?);
                break;
            }
        }
        // No entry matches: the browser uses 100vw.
        widest = widest.max(chosen.unwrap_or(viewport));
    }
    Some(widest)
}

/// Splits at commas outside parentheses.
fn split_top_level(text: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0u32, 0);
    for (at, character) in text.char_indices() {
        match character {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(text[start..at].trim());
                start = at + 1;
            }
            _ => {}
        }
    }
    parts.push(text[start..].trim());
    parts
}

/// `(min-width: 48rem) 58vw` → (the condition, the length); `calc(100vw - 2rem)` → (none, it).
fn entry(text: &str) -> (Option<&str>, &str) {
    if !text.starts_with('(') {
        return (None, text);
    }
    // The condition runs to the last `)` before the length, which has no parentheses or is
    // a `calc(…)`.
    let length_at = text.rfind(|c: char| c.is_whitespace()).map_or(text.len(), |at| at + 1);
    let length_at = match text.find(" calc(") {
        Some(at) => at + 1,
        None => length_at,
    };
    (Some(text[..length_at].trim()), text[length_at..].trim())
}

/// Whether `(min-width: X)`, `(max-width: X)`, or several joined by `and`, hold at `viewport`.
fn media_matches(condition: &str, viewport: f64) -> Option<bool> {
    let mut holds = true;
    for feature in condition.split(" and ") {
        let inner = feature.trim().strip_prefix('(')?.strip_suffix(')')?;
        let (name, value) = inner.split_once(':')?;
        let value = length_px(value.trim(), viewport)?;
        holds &= match name.trim() {
            "min-width" => viewport >= value,
            "max-width" => viewport <= value,
            _ => return None,
        };
    }
    Some(holds)
}

/// A length in CSS pixels: `px`, `rem`, `em`, `vw`, or a `calc()` of them added and subtracted.
fn length_px(text: &str, viewport: f64) -> Option<f64> {
    let text = text.trim();
    if let Some(inner) = text.strip_prefix("calc(").and_then(|rest| rest.strip_suffix(')')) {
        let mut total = 0.0;
        let mut sign = 1.0;
        for token in inner.split_whitespace() {
            match token {
                "+" => sign = 1.0,
                "-" => sign = -1.0,
                term => total += sign * length_px(term, viewport)?,
            }
        }
        return Some(total);
    }
    let unit_at = text.find(|c: char| c.is_ascii_alphabetic())?;
    let number: f64 = text[..unit_at].parse().ok()?;
    match &text[unit_at..] {
        "px" => Some(number),
        "rem" | "em" => Some(number * ROOT_FONT),
        "vw" => Some(number * viewport / 100.0),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_theme_s_hero_is_widest_just_below_its_two_column_layout() {
        // One column up to 48rem (767 px): 767 - 32.
        let sizes = "(min-width: 72rem) 41rem, (min-width: 48rem) 58vw, calc(100vw - 2rem)";
        assert_eq!(widest(sizes), Some(735.0));
    }

    #[test]
    fn fixed_and_viewport_lengths() {
        assert_eq!(widest("600px"), Some(600.0));
        assert_eq!(widest("100vw"), Some(1920.0));
        assert_eq!(widest("(max-width: 40em) 100vw, 50vw"), Some(960.0));
        assert_eq!(widest("(min-width: 1000px) and (max-width: 1199px) 1100px, 400px"), Some(1100.0));
    }

    #[test]
    fn what_it_does_not_read_says_nothing() {
        assert_eq!(widest("min(100vw, 600px)"), None);
        assert_eq!(widest("(orientation: portrait) 100vw, 50vw"), None);
        assert_eq!(widest("50%"), None);
    }

    #[test]
    fn the_sizes_of_the_image_with_that_source() {
        let html = r#"<p><img class="a" src="/x.jpg" sizes="10px"><img src="/hero.jpg" srcset="…" sizes="(min-width: 1px) 20px" alt=""></p>"#;
        assert_eq!(img_sizes(html, "/hero.jpg").collect::<Vec<_>>(), ["(min-width: 1px) 20px"]);
        assert_eq!(img_sizes(html, "/none.jpg").count(), 0);
    }
}
