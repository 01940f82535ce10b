//! Validation rules, each checked on a small site held in memory.

use super::*;
use crate::load::{self, FileFact, LoadedSite};
use crate::model::{ImageFacts, SourceFormat};

const CONFIG: &str = "base_url: https://drops.example.com\ntitle: Shop\ndescription: Fresh pairs, weekly.\ncurrency: USD\ncheckout_url: https://shop.example.com/c?sku={sku}&drop={drop}\n";

const DROP: &str = "\
title: Sneakers
summary: Fresh pairs.
starts_at: 2026-11-20T15:00:00Z
hero:
  src: hero.jpg
  alt: A shoe
products:
  - sku: SHOE-1
    name: Shoe
    price: 79.5
";

/// Loads a site from texts. Image paths whose name contains `missing` do not exist (their
/// folder holds `hero.jpg` and `side.jpeg`); `.svg` files are not images; `huge` ones are
/// 20000×20000, `tiny` ones 100×80, others 800×600 JPEGs.
fn loaded(config: &str, drops: &[(&str, &str)]) -> LoadedSite {
    load::from_texts(config, drops, |path| {
        if path.to_string().contains("missing") {
            FileFact::Missing { siblings: vec!["hero.jpg".into(), "notes.txt".into(), "side.jpeg".into()] }
        } else if path.to_string().ends_with(".svg") {
            FileFact::Unsupported { detected: Some("SVG".into()) }
        } else {
            let (width, height) = if path.to_string().contains("huge") {
                (20_000, 20_000)
            } else if path.to_string().contains("tiny") {
                (100, 80)
            } else {
                (800, 600)
            };
            FileFact::Image(ImageFacts {
                format: SourceFormat::Jpeg,
                width,
                height,
                bytes: 1000,
                sha256: "ab".repeat(32),
            })
        }
    })
}

/// Validates and renders each diagnostic as `file:line:col field: message`.
fn problems(config: &str, drops: &[(&str, &str)]) -> Vec<String> {
    let (_, diagnostics) = site(&loaded(config, drops), false);
    diagnostics
        .sorted()
        .iter()
        .map(|d| {
            let loc = &d.location;
            let severity = if d.severity == crate::diagnostic::Severity::Warning { "warning " } else { "" };
            format!(
                "{severity}{}:{}:{} {}: {}",
                loc.file,
                loc.line,
                loc.column,
                d.field.as_deref().unwrap_or("-"),
                d.message
            )
        })
        .collect()
}

fn help_of(config: &str, drops: &[(&str, &str)]) -> Vec<String> {
    let (_, diagnostics) = site(&loaded(config, drops), false);
    diagnostics.sorted().iter().map(|d| d.help.clone().unwrap_or_default()).collect()
}

#[test]
fn accepts_a_minimal_drop() {
    let (site, diagnostics) = super::site(&loaded(CONFIG, &[("sneakers", DROP)]), false);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let site = site.unwrap();
    let drop = &site.drops[0];
    assert_eq!(drop.slug.as_str(), "sneakers");
    assert_eq!(drop.products[0].price.minor_units(), 7950);
    assert_eq!(drop.products[0].checkout_url, "https://shop.example.com/c?sku=SHOE-1&drop=sneakers");
    assert_eq!(site.config.base_url.as_str(), "https://drops.example.com/");
}

#[test]
fn stock_is_a_whole_number_of_units_for_the_inventory_service() {
    let with = |stock: &str| DROP.replace("price: 79.5", &format!("price: 79.5\n    stock: {stock}"));
    let (site, diagnostics) = super::site(&loaded(CONFIG, &[("sneakers", &with("250"))]), false);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    assert_eq!(site.unwrap().drops[0].products[0].stock, Some(250));
    let (site, _) = super::site(&loaded(CONFIG, &[("sneakers", DROP)]), false);
    assert_eq!(site.unwrap().drops[0].products[0].stock, None, "no stock: the operator's");
    for bad in ["-1", "2.5", "lots", "100000001"] {
        let found = problems(CONFIG, &[("sneakers", &with(bad))]);
        assert_eq!(found.len(), 1, "{bad}: {found:?}");
        assert!(
            found[0].starts_with("drops/sneakers/drop.yaml:11:12 products[0].stock: "),
            "{bad}: {found:?}"
        );
    }
}

#[test]
fn rejects_prices_with_more_decimals_than_the_currency() {
    let drop = DROP.replace("price: 79.5", "price: \"10.001\"");
    assert_eq!(
        problems(CONFIG, &[("sneakers", &drop)]),
        [
            "drops/sneakers/drop.yaml:10:12 products[0].price: price `10.001` has 3 decimal places, but USD allows 2"
        ]
    );
    let yen = DROP.replace("price: 79.5", "price: 100.5\n    currency: JPY");
    assert_eq!(help_of(CONFIG, &[("sneakers", &yen)]), ["JPY has no minor unit: give a whole number"]);
}

#[test]
fn rejects_prices_that_are_not_plain_numbers() {
    for bad in ["1e3", "true", "$5", "-1"] {
        let drop = DROP.replace("price: 79.5", &format!("price: {bad}"));
        let found = problems(CONFIG, &[("sneakers", &drop)]);
        assert_eq!(found.len(), 1, "{bad}: {found:?}");
        assert!(found[0].starts_with("drops/sneakers/drop.yaml:10:12 products[0].price: price"), "{found:?}");
    }
}

#[test]
fn reports_every_missing_field_at_once() {
    let drop = "summary: x\nproducts:\n  - name: Shoe\n";
    assert_eq!(
        problems(CONFIG, &[("sneakers", drop)]),
        [
            "drops/sneakers/drop.yaml:1:1 title: missing required field `title`",
            "drops/sneakers/drop.yaml:1:1 starts_at: missing required field `starts_at`",
            "drops/sneakers/drop.yaml:1:1 hero: missing required field `hero`",
            "drops/sneakers/drop.yaml:3:5 products[0].sku: missing required field `sku`",
            "drops/sneakers/drop.yaml:3:5 products[0].price: missing required field `price`",
        ]
    );
}

#[test]
fn unknown_fields_suggest_the_closest_known_one() {
    let drop = DROP.replace("summary:", "sumary:");
    let found = problems(CONFIG, &[("sneakers", &drop)]);
    assert_eq!(
        found,
        ["drops/sneakers/drop.yaml:2:1 -: unknown field `sumary`"],
        "the typo is reported once, not also as a missing `summary`"
    );
    assert_eq!(help_of(CONFIG, &[("sneakers", &drop)]), ["did you mean `summary`?"]);
}

#[test]
fn a_misspelt_key_in_one_product_leaves_the_others_missing_keys_reported() {
    let drop = format!(
        "{}  - sku: SHOE-2\n    nmae: Other\n    price: 5\n  - sku: SHOE-3\n    price: 5\n",
        DROP.replace("    name: Shoe\n", "")
    );
    assert_eq!(
        problems(CONFIG, &[("sneakers", &drop)]),
        [
            "drops/sneakers/drop.yaml:8:5 products[0].name: missing required field `name`",
            "drops/sneakers/drop.yaml:11:5 -: unknown field `nmae`",
            "drops/sneakers/drop.yaml:13:5 products[2].name: missing required field `name`",
        ]
    );
}

#[test]
fn ends_at_must_follow_starts_at() {
    let drop = DROP.replace(
        "starts_at: 2026-11-20T15:00:00Z",
        "starts_at: 2026-11-20T15:00:00Z\nends_at: 2026-11-20T16:00:00+02:00",
    );
    assert_eq!(
        problems(CONFIG, &[("sneakers", &drop)]),
        [
            "drops/sneakers/drop.yaml:4:10 ends_at: `ends_at` (2026-11-20T16:00:00+02:00) is not after `starts_at` (2026-11-20T15:00:00Z)"
        ]
    );
}

/// Times written as people write them get the same moment back in the one accepted form, in
/// the offset the drop's other time uses.
#[test]
fn local_date_formats_get_the_rfc_3339_form_in_the_drops_offset() {
    let drop = DROP.replace(
        "starts_at: 2026-11-20T15:00:00Z",
        "starts_at: 12/10/2026 5pm\nends_at: 2026-12-11T17:00:00-05:00",
    );
    assert_eq!(
        problems(CONFIG, &[("sneakers", &drop)]),
        ["drops/sneakers/drop.yaml:3:12 starts_at: `12/10/2026 5pm` is not a date and time with a time zone"]
    );
    assert_eq!(
        help_of(CONFIG, &[("sneakers", &drop)]),
        [
            "write it year-month-day, with the time in 24 hours and the offset: `2026-12-10T17:00:00-05:00`, or `2026-10-12T17:00:00-05:00` if the day comes first"
        ]
    );
    let drop = DROP.replace("2026-11-20T15:00:00Z", "2026-11-20 15:00");
    assert_eq!(help_of(CONFIG, &[("sneakers", &drop)]), ["add the time zone offset: `2026-11-20T15:00:00Z`"]);
}

#[test]
fn prices_with_separators_say_which_separator_to_change() {
    for (price, help) in [
        ("1,299.00", "remove the thousands separator: `1299.00`"),
        ("\"12,345,678\"", "remove the thousands separator: `12345678`"),
        ("79,50", "write the decimals after a dot: `79.50`"),
        ("$79", "write the amount as a plain number without a currency sign or separators, e.g. `79.50`"),
    ] {
        let drop = DROP.replace("price: 79.5", &format!("price: {price}"));
        assert_eq!(help_of(CONFIG, &[("sneakers", &drop)]), [help], "{price}");
    }
}

#[test]
fn times_need_a_time_zone() {
    let drop = DROP.replace("2026-11-20T15:00:00Z", "2026-11-20 15:00");
    assert_eq!(
        problems(CONFIG, &[("sneakers", &drop)]),
        [
            "drops/sneakers/drop.yaml:3:12 starts_at: `2026-11-20 15:00` is not a date and time with a time zone"
        ]
    );
}

#[test]
fn odd_times_get_a_message_not_a_panic() {
    for odd in ["2026-11-2€ 15:00", "€€€€€€€€", "tomorrow", "2026-11-20"] {
        let drop = DROP.replace("2026-11-20T15:00:00Z", &format!("\"{odd}\""));
        assert_eq!(problems(CONFIG, &[("sneakers", &drop)]).len(), 1, "{odd}");
    }
}

#[test]
fn skus_are_unique_across_the_site() {
    let other = DROP.replace("Sneakers", "Boots");
    assert_eq!(
        problems(CONFIG, &[("boots", &other), ("sneakers", DROP)]),
        [
            "drops/sneakers/drop.yaml:8:10 products[0].sku: SKU `SHOE-1` is already used in `drops/boots/drop.yaml`"
        ]
    );
}

#[test]
fn duplicate_skus_are_reported_even_in_drops_with_other_problems() {
    let other = DROP.replace("Sneakers", "Boots").replace("summary: Fresh pairs.\n", "");
    let found = problems(CONFIG, &[("boots", &other), ("sneakers", DROP)]);
    assert!(found.contains(&"drops/sneakers/drop.yaml:8:10 products[0].sku: SKU `SHOE-1` is already used in `drops/boots/drop.yaml`".to_owned()), "{found:?}");
}

#[test]
fn slugs_are_unique_across_the_site() {
    let renamed = format!("slug: sneakers\n{DROP}").replace("SHOE-1", "SHOE-2");
    assert_eq!(
        problems(CONFIG, &[("a-copy", &renamed), ("sneakers", DROP)]),
        ["drops/sneakers/drop.yaml:1:1 slug: slug `sneakers` is already used by `drops/a-copy/drop.yaml`"]
    );
}

#[test]
fn folder_names_must_be_slugs() {
    let found = problems(CONFIG, &[("Spring Sale", DROP)]);
    assert_eq!(found, ["drops/Spring Sale/drop.yaml:1:1 -: folder name `Spring Sale` is not a valid slug"]);
    assert!(help_of(CONFIG, &[("Spring Sale", DROP)])[0].contains("`spring-sale`"));
}

#[test]
fn compare_at_price_must_exceed_price() {
    let drop = DROP.replace("price: 79.5", "price: 79.5\n    compare_at_price: 79.50");
    assert_eq!(
        problems(CONFIG, &[("sneakers", &drop)]),
        [
            "drops/sneakers/drop.yaml:11:23 products[0].compare_at_price: `compare_at_price` ($79.50) is not more than `price` ($79.50)"
        ]
    );
}

#[test]
fn missing_images_suggest_a_file_in_the_folder() {
    let drop = DROP.replace("src: hero.jpg", "src: missing-side.jpg");
    assert_eq!(
        problems(CONFIG, &[("sneakers", &drop)]),
        ["drops/sneakers/drop.yaml:5:8 hero.src: image `drops/sneakers/missing-side.jpg` does not exist"]
    );
    assert_eq!(help_of(CONFIG, &[("sneakers", &drop)]), ["images in that folder: `hero.jpg`, `side.jpeg`"]);
    let typo = DROP.replace("src: hero.jpg", "src: missing/hero.jpg");
    assert_eq!(help_of(CONFIG, &[("sneakers", &typo)]), ["did you mean `hero.jpg`?"]);
}

#[test]
fn image_paths_stay_inside_the_site() {
    let drop = DROP.replace("src: hero.jpg", "src: ../../../etc/passwd");
    assert_eq!(
        problems(CONFIG, &[("sneakers", &drop)]),
        ["drops/sneakers/drop.yaml:5:8 hero.src: `../../../etc/passwd` points outside the site folder"]
    );
    let drop = DROP.replace("src: hero.jpg", "src: /etc/passwd");
    assert_eq!(
        problems(CONFIG, &[("sneakers", &drop)]),
        ["drops/sneakers/drop.yaml:5:8 hero.src: `/etc/passwd` is an absolute path"]
    );
}

#[test]
fn unsupported_images_name_their_type() {
    let drop = DROP.replace("src: hero.jpg", "src: logo.svg");
    assert_eq!(
        problems(CONFIG, &[("sneakers", &drop)]),
        [
            "drops/sneakers/drop.yaml:5:8 hero.src: `drops/sneakers/logo.svg` is a SVG file, which dropgen does not read"
        ]
    );
}

#[test]
fn alt_text_is_required_and_not_empty() {
    let drop = DROP.replace("alt: A shoe", "alt: \"  \"");
    assert_eq!(
        problems(CONFIG, &[("sneakers", &drop)]),
        ["drops/sneakers/drop.yaml:6:8 hero.alt: `hero.alt` is empty"]
    );
}

#[test]
fn currencies_are_iso_codes() {
    let drop = DROP.replace("price: 79.5", "price: 79.5\n    currency: eur");
    assert_eq!(
        problems(CONFIG, &[("sneakers", &drop)]),
        ["drops/sneakers/drop.yaml:11:15 products[0].currency: `eur` is not an ISO 4217 currency code"]
    );
    assert_eq!(help_of(CONFIG, &[("sneakers", &drop)]), ["currency codes are upper case: `EUR`"]);
}

#[test]
fn base_url_must_be_https_except_on_loopback() {
    let config = CONFIG.replace("https://drops.example.com", "http://drops.example.com");
    assert_eq!(
        problems(&config, &[]),
        ["dropgen.yaml:1:11 base_url: `http://drops.example.com` is not served over https"]
    );
    let local = CONFIG.replace("https://drops.example.com", "http://localhost:8080");
    assert!(problems(&local, &[]).is_empty());
    let relative = CONFIG.replace("https://drops.example.com", "drops.example.com");
    assert_eq!(
        problems(&relative, &[]),
        ["dropgen.yaml:1:11 base_url: `drops.example.com` is not an absolute web address"]
    );
}

#[test]
fn checkout_placeholders_are_checked() {
    let config = CONFIG.replace("{sku}", "{skus}");
    assert_eq!(
        problems(&config, &[]),
        ["dropgen.yaml:5:15 checkout_url: unknown placeholder `{skus}` in the checkout URL"]
    );
    assert_eq!(help_of(&config, &[]), ["did you mean `{sku}`?"]);
    let no_sku = CONFIG.replace("sku={sku}&", "");
    assert_eq!(
        problems(&no_sku, &[]),
        [
            "warning dropgen.yaml:5:15 checkout_url: the checkout URL has no `{sku}` placeholder, so every product links to the same checkout"
        ]
    );
}

#[test]
fn stream_embeds_must_be_https() {
    let drop = format!("{DROP}stream:\n  embed_url: http://player.example.com/x\n");
    assert_eq!(
        problems(CONFIG, &[("sneakers", &drop)]),
        [
            "drops/sneakers/drop.yaml:12:14 stream.embed_url: `http://player.example.com/x` is not served over https"
        ]
    );
}

#[test]
fn long_summaries_warn_but_build() {
    let drop = DROP.replace("Fresh pairs.", &"a".repeat(161));
    let (site, diagnostics) = super::site(&loaded(CONFIG, &[("sneakers", &drop)]), false);
    assert!(site.is_some());
    assert_eq!(diagnostics.warning_count(), 1);
}

#[test]
fn drafts_are_validated_but_only_built_on_request() {
    let draft = format!("{DROP}draft: true\n");
    let (site, _) = super::site(&loaded(CONFIG, &[("sneakers", &draft)]), false);
    assert!(site.unwrap().drops.is_empty());
    let (site, _) = super::site(&loaded(CONFIG, &[("sneakers", &draft)]), true);
    assert_eq!(site.unwrap().drops.len(), 1);
    let broken = draft.replace("price: 79.5", "price: 7.999");
    assert_eq!(problems(CONFIG, &[("sneakers", &broken)]).len(), 1);
}

#[test]
fn image_settings_are_checked() {
    let config = format!(
        "{CONFIG}images:\n  widths: [640, 0, 320]\n  formats: [webp, jpg]\n  quality: {{ webp: 101 }}\n"
    );
    assert_eq!(
        problems(&config, &[]),
        [
            "dropgen.yaml:7:17 images.widths[1]: `0` is not a whole number from 16 to 8192",
            "dropgen.yaml:8:19 images.formats[1]: unknown image format `jpg`",
            "dropgen.yaml:9:20 images.quality.webp: `101` is not a whole number from 1 to 100",
        ]
    );
}

#[test]
fn drops_are_ordered_newest_first() {
    let later = DROP.replace("2026-11-20", "2027-01-01").replace("SHOE-1", "SHOE-2");
    let (site, _) = super::site(&loaded(CONFIG, &[("a-old", DROP), ("b-new", &later)]), false);
    let site = site.unwrap();
    let slugs: Vec<&str> = site.drops.iter().map(|d| d.slug.as_str()).collect();
    assert_eq!(slugs, ["b-new", "a-old"]);
}

#[test]
fn header_settings_are_checked_and_cannot_inject_headers() {
    let config = format!(
        "{CONFIG}headers:\n  document:\n    cache_control: \"no-store\\r\\nSet-Cookie: x=1\"\n  data:\n    cdn_cache_control: \"\"\n  imutable: {{}}\npurge:\n  cloudflare_batch_size: 0\n"
    );
    assert_eq!(
        problems(&config, &[]),
        [
            "dropgen.yaml:8:20 headers.document.cache_control: the header value contains a line break or a non-ASCII character",
            "dropgen.yaml:11:3 -: unknown field `imutable`",
            "dropgen.yaml:13:26 purge.cloudflare_batch_size: `0` is not a whole number from 1 to 500",
        ]
    );
    let valid = format!(
        "{CONFIG}headers:\n  data:\n    cache_control: \"public, max-age=60\"\n    cdn_cache_control: \"\"\n"
    );
    let (site, diagnostics) = super::site(&loaded(&valid, &[]), false);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let headers = site.unwrap().config.delivery.headers[&crate::model::CacheClass::Data].clone();
    assert_eq!((headers.cache_control.as_str(), headers.cdn_cache_control), ("public, max-age=60", None));
}

/// Thousands of corrupted variants of a valid drop and config (bytes flipped, lines dropped
/// or repeated, random characters inserted): every one must give diagnostics, never a panic.
#[test]
fn mutated_files_never_panic() {
    // xorshift64: deterministic, so a failure reproduces.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let alphabet: Vec<char> = " \t\n:-[]{}\"'#&*!|>%@`,.0123456789aZ€\u{0}\u{feff}".chars().collect();
    for round in 0..3000 {
        let base = if round % 4 == 0 { CONFIG } else { DROP };
        let mut text: Vec<char> = base.chars().collect();
        for _ in 0..(1 + next() % 4) {
            let at = (next() as usize) % (text.len() + 1);
            match next() % 4 {
                0 if at < text.len() => {
                    text.remove(at);
                }
                1 => text.insert(at, alphabet[(next() as usize) % alphabet.len()]),
                2 if at < text.len() => text[at] = alphabet[(next() as usize) % alphabet.len()],
                _ => {
                    let line: String =
                        text.iter().collect::<String>().lines().nth(at % 10).unwrap_or("").to_owned();
                    text.splice(at..at, line.chars().chain(['\n']));
                }
            }
        }
        let mutated: String = text.into_iter().collect();
        let result = std::panic::catch_unwind(|| {
            if round % 4 == 0 {
                site(&loaded(&mutated, &[("sneakers", DROP)]), true);
            } else {
                site(&loaded(CONFIG, &[("sneakers", &mutated)]), true);
            }
        });
        assert!(result.is_ok(), "round {round} panicked on:\n{mutated}");
    }
}

#[test]
fn oversized_images_are_refused_and_small_ones_warned_about() {
    let huge = DROP.replace("src: hero.jpg", "src: huge.jpg");
    assert_eq!(
        problems(CONFIG, &[("sneakers", &huge)]),
        [
            "drops/sneakers/drop.yaml:5:8 hero.src: `drops/sneakers/huge.jpg` is 20000×20000 pixels, over the limit of 100 megapixels"
        ]
    );
    let allowed = format!("{CONFIG}images:\n  max_megapixels: 400\n");
    assert!(problems(&allowed, &[("sneakers", &huge)]).is_empty());
    let tiny = DROP.replace("src: hero.jpg", "src: tiny.jpg");
    assert_eq!(
        problems(CONFIG, &[("sneakers", &tiny)]),
        [
            "warning drops/sneakers/drop.yaml:5:8 hero.src: `drops/sneakers/tiny.jpg` is only 100 pixels wide, less than the smallest configured width (320)"
        ]
    );
}

#[test]
fn a_tag_or_option_given_twice_is_an_error_that_names_the_first() {
    let drop = format!("{DROP}    options: [S, M, S]\ntags: [new, new]\n");
    let found = problems(CONFIG, &[("sneakers", &drop)]);
    assert_eq!(
        found,
        [
            "drops/sneakers/drop.yaml:11:21 products[0].options[2]: option `S` is listed twice",
            "drops/sneakers/drop.yaml:12:13 tags[1]: tag `new` is listed twice",
        ]
    );
    let (_, diagnostics) = site(&loaded(CONFIG, &[("sneakers", &drop)]), false);
    let helps: Vec<&str> = diagnostics.sorted().iter().filter_map(|d| d.help.as_deref()).collect();
    assert!(helps[0].ends_with("the first is at `drops/sneakers/drop.yaml:11:15`"), "{helps:?}");
    assert!(helps[1].ends_with("the first is at `drops/sneakers/drop.yaml:12:8`"), "{helps:?}");
}

#[test]
fn an_image_format_given_twice_is_an_error_that_names_the_first() {
    let config = format!("{CONFIG}images:\n  formats: [avif, webp, avif]\n");
    let (_, diagnostics) = site(&loaded(&config, &[("sneakers", DROP)]), false);
    let problems: Vec<String> = diagnostics
        .sorted()
        .iter()
        .map(|d| format!("{}: {} ({})", d.location.line, d.message, d.help.as_deref().unwrap_or_default()))
        .collect();
    assert_eq!(
        problems,
        ["7: `avif` is listed twice (list each format once; the first is at `dropgen.yaml:7:13`)"]
    );
}

#[test]
fn no_drop_takes_the_archives_folder() {
    assert_eq!(
        problems(CONFIG, &[("drops", DROP)]),
        [
            "drops/drops/drop.yaml:1:1 -: the slug `drops` is the folder of the index's archives (/drops/ended/, …)"
        ]
    );
    assert!(help_of(CONFIG, &[("drops", DROP)])[0].contains("rename the folder"));
    let named = format!("slug: drops\n{DROP}");
    assert_eq!(
        problems(CONFIG, &[("spring", &named)]),
        [
            "drops/spring/drop.yaml:1:7 slug: the slug `drops` is the folder of the index's archives (/drops/ended/, …)"
        ]
    );
}

#[test]
fn a_site_without_a_description_is_warned_about() {
    let without =
        CONFIG.lines().filter(|line| !line.starts_with("description:")).collect::<Vec<_>>().join("\n");
    let found = problems(&without, &[("sneakers", DROP)]);
    assert_eq!(
        found,
        [
            "warning dropgen.yaml:1:1 description: no `description`: the index has no meta description, so search results and link previews make one up"
        ]
    );
    assert!(problems(CONFIG, &[("sneakers", DROP)]).is_empty());
}
