//! `dropgen new <slug>`: a commented `drop.yaml` to fill in; `dropgen init`: a whole site
//! (`site.rs`).

use std::fs;
use std::path::{Path, PathBuf};

use time::OffsetDateTime;
use time::macros::format_description;

use crate::error::Error;
use crate::load::{DROP_FILE, DROPS_DIR};
use crate::model::Slug;
use crate::schema::Which;

pub(crate) mod site;

pub(crate) use site::{EXAMPLE_DROP, init};

/// Creates `drops/<slug>/drop.yaml` under `root` and returns the files it created: the drop,
/// and `schemas/drop.schema.json` when the site has none yet (the drop's first line points
/// editors at it). Never overwrites.
pub(crate) fn new_drop(root: &Path, slug: &str, now: OffsetDateTime) -> Result<Vec<PathBuf>, Error> {
    if !root.join(crate::load::CONFIG_FILE).is_file() {
        return Err(Error::NotASite { root: root.to_path_buf() });
    }
    let Some(slug) = Slug::parse(slug) else {
        return Err(Error::Usage(format!(
            "`{slug}` is not a valid slug: use lower-case letters, digits and dashes, e.g. `spring-sneakers`"
        )));
    };
    let folder = root.join(DROPS_DIR).join(slug.as_str());
    let file = folder.join(DROP_FILE);
    if file.exists() {
        return Err(Error::Usage(format!("`{}` already exists", file.display())));
    }
    fs::create_dir_all(&folder).map_err(|err| Error::io(&folder, err))?;
    site::create_new(&file, template(slug.as_str(), now).as_bytes())?;
    let mut created = vec![file];
    let schema = root.join(crate::schema::SITE_DIR).join(Which::Drop.file_name());
    if !schema.exists() {
        let dir = root.join(crate::schema::SITE_DIR);
        fs::create_dir_all(&dir).map_err(|err| Error::io(&dir, err))?;
        site::create_new(&schema, Which::Drop.text().as_bytes())?;
        created.push(schema);
    }
    Ok(created)
}

/// The scaffold text: every field, the optional ones commented out.
pub(crate) fn template(slug: &str, now: OffsetDateTime) -> String {
    let start = (now + time::Duration::days(7))
        .format(format_description!("[year]-[month]-[day]T15:00:00Z"))
        .unwrap_or_else(|_| "2030-01-01T15:00:00Z".to_owned());
    let title = title_of(slug);
    format!(
        r#"{modeline}
# The drop's page is /{slug}/ (the folder name). Images live beside this file.
# Run `dropgen check` to see every problem at once.

title: "{title}"
# One or two plain sentences for link previews and search results (at most 160 characters).
summary: "Describe the drop in a sentence."
# When the drop opens and (optionally) closes: RFC 3339 with a time zone offset.
starts_at: {start}
# ends_at: 2030-01-31T23:00:00Z

hero:
  # An image in this folder (JPEG, PNG or WebP), at least 1,600 px wide: the build warns
  # when a hero is narrower than twice the widest the theme draws it (735 px by default).
  src: hero.jpg
  alt: "What the hero image shows"

# Markdown: headings, lists, *emphasis*, [links](https://example.com).
description: |
  Tell the story of the drop.

products:
  - sku: {sku}-1          # unique across the whole site: letters, digits, `.`, `_`, `-`
    name: "Product name"
    price: 49.00          # written exactly; as many decimals as the currency has
    # compare_at_price: 59.00   # the old price, shown struck through; must be higher
    # currency: EUR             # overrides `currency` in dropgen.yaml
    # images:
    #   - src: product.jpg
    #     alt: "What the product photo shows"
    # description: "Markdown about this product."
    # limit_per_customer: 2
    # stock: 100               # units the inventory service starts with
    # options: ["S", "M", "L"]

# checkout_url: https://shop.example.com/checkout?sku={{sku}}&drop={{drop}}   # overrides dropgen.yaml
# stream:
#   embed_url: https://player.example.com/embed/launch   # https only
#   fallback_url: https://example.com/launch-replay
# tags: [new]
# A draft shows in `dropgen serve` but not in `dropgen build` (unless `--drafts`); its
# problems are warnings until you remove this line to publish it.
draft: true
"#,
        sku = slug.to_uppercase(),
        modeline = crate::schema::modeline(Which::Drop, "../.."),
    )
}

/// `spring-sneakers` → `Spring Sneakers`.
fn title_of(slug: &str) -> String {
    slug.split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map(|c| c.to_uppercase().chain(chars).collect::<String>()).unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_is_valid_yaml_for_a_drop() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let text = template("spring-sneakers", now);
        assert!(text.starts_with("# yaml-language-server: $schema=../../schemas/drop.schema.json\n"));
        assert!(text.contains("title: \"Spring Sneakers\""));
        assert!(text.contains("starts_at: 1970-01-08T15:00:00Z"));
        assert!(text.contains("sku: SPRING-SNEAKERS-1"));
        let parsed: crate::load::raw::RawDrop = serde_saphyr::from_str(&text).unwrap();
        assert!(parsed.draft.is_some_and(|d| d.value));
    }
}
