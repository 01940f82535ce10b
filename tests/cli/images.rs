//! The image pipeline through the real binary: markup against files on disk, the cache,
//! broken images, and determinism.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use crate::support::{Site, encoded_count, tree};

const NOW: &str = "2026-11-23T12:00:00Z";

fn build(site: &Site, out: &str, extra: &[&str]) -> crate::support::Run {
    let mut args = vec!["build", "--verbose", "--out", out, "--now", NOW, "--cache-dir", "cache"];
    args.extend_from_slice(extra);
    site.run(&args)
}

/// The value of `name="…"` in one tag.
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let len = tag[start..].find('"')?;
    Some(&tag[start..start + len])
}

/// Every `<tag …>` of a page.
fn tags<'a>(html: &'a str, tag: &str) -> Vec<&'a str> {
    let open = format!("<{tag} ");
    html.match_indices(&open).map(|(at, _)| &html[at..at + html[at..].find('>').unwrap() + 1]).collect()
}

/// `(url, width)` of every candidate of a srcset.
fn candidates(srcset: &str) -> Vec<(String, u32)> {
    srcset
        .split(", ")
        .map(|candidate| {
            let (url, width) =
                candidate.rsplit_once(' ').unwrap_or_else(|| panic!("bad candidate `{candidate}`"));
            (url.to_owned(), width.trim_end_matches('w').parse().unwrap())
        })
        .collect()
}

/// A file's format and pixel size, read from its bytes.
fn format_and_size(bytes: &[u8]) -> (&'static str, u32, u32) {
    if bytes.len() > 12 && &bytes[4..12] == b"ftypavif" {
        // The `ispe` property: 4 bytes of version and flags, then width and height.
        let at = bytes.windows(4).position(|w| w == b"ispe").expect("AVIF without ispe") + 8;
        let be = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap());
        return ("image/avif", be(at), be(at + 4));
    }
    let image = image::load_from_memory(bytes).expect("a readable image");
    let format = match image::guess_format(bytes).unwrap() {
        image::ImageFormat::Jpeg => "image/jpeg",
        image::ImageFormat::Png => "image/png",
        image::ImageFormat::WebP => "image/webp",
        other => panic!("unexpected format {other:?}"),
    };
    (format, image.width(), image.height())
}

fn extension_type(url: &str) -> &'static str {
    match url.rsplit('.').next() {
        Some("avif") => "image/avif",
        Some("webp") => "image/webp",
        Some("jpg") => "image/jpeg",
        Some("png") => "image/png",
        other => panic!("unexpected extension {other:?} in {url}"),
    }
}

/// Checks one `<picture>` against the files: every candidate exists, has the format its
/// `type` (or extension) says, the width its descriptor says, the `<img>`'s aspect ratio and
/// a `<stem>-<10 hex>-<width>.<ext>` name, and every source offers the same widths. Returns
/// the fallback's type.
fn check_picture(public: &Path, picture: &str, seen: &mut BTreeSet<String>) -> &'static str {
    let img = tags(picture, "img")[0];
    let (width, height): (u32, u32) =
        (attr(img, "width").unwrap().parse().unwrap(), attr(img, "height").unwrap().parse().unwrap());
    assert!(attr(img, "sizes").is_some_and(|s| !s.is_empty()), "no sizes: {img}");
    assert!(attr(img, "alt").is_some(), "no alt: {img}");
    let mut sets: Vec<(Option<&str>, &str)> =
        tags(picture, "source").iter().map(|s| (attr(s, "type"), attr(s, "srcset").unwrap())).collect();
    for source in tags(picture, "source") {
        assert_eq!(attr(source, "sizes"), attr(img, "sizes"), "sizes differ inside one picture");
    }
    sets.push((None, attr(img, "srcset").unwrap()));
    let src = attr(img, "src").unwrap();
    let mut fallback = "";
    // A browser picks only from the first source it reads: each must offer every width. The
    // fallback is made narrow and wide only: the narrowest width, and the narrowest at least
    // 1200 px wide (else the widest).
    let widths = |srcset: &str| candidates(srcset).into_iter().map(|(_, w)| w).collect::<Vec<u32>>();
    let every_width = widths(sets[0].1);
    let wide = every_width.iter().copied().find(|&w| w >= 1200).or(every_width.last().copied()).unwrap();
    let mut fallback_widths = vec![every_width[0], wide];
    fallback_widths.dedup();
    for (declared, srcset) in sets {
        let expected = if declared.is_some() { &every_width } else { &fallback_widths };
        assert_eq!(&widths(srcset), expected, "{declared:?} does not offer the widths it should");
        let list = candidates(srcset);
        assert!(!list.is_empty());
        for (url, descriptor) in &list {
            let bytes = fs::read(public.join(url.trim_start_matches('/')))
                .unwrap_or_else(|err| panic!("{url} is referenced but missing: {err}"));
            let (format, file_width, file_height) = format_and_size(&bytes);
            assert_eq!(format, declared.unwrap_or_else(|| extension_type(url)), "{url}");
            assert_eq!(format, extension_type(url), "{url}");
            assert_eq!(file_width, *descriptor, "{url} is not as wide as its descriptor");
            let expected_height = f64::from(height) * f64::from(file_width) / f64::from(width);
            assert!(
                (f64::from(file_height) - expected_height).abs() <= 1.0,
                "{url}: {file_width}×{file_height}, img {width}×{height}"
            );
            let name = url.rsplit('/').next().unwrap();
            let (rest, _) = name.rsplit_once('.').unwrap();
            let (rest, name_width) = rest.rsplit_once('-').unwrap();
            let (_stem, hash) = rest.rsplit_once('-').unwrap();
            assert_eq!(name_width, descriptor.to_string(), "{url}");
            assert!(hash.len() == 10 && hash.bytes().all(|b| b.is_ascii_hexdigit()), "{url}");
            seen.insert(url.clone());
        }
        if declared.is_none() {
            fallback = extension_type(&list[0].0);
            assert!(list.iter().any(|(url, _)| url == src), "src {src} is not in the srcset");
            assert_eq!(every_width.last(), Some(&width), "the img's width should be the widest variant's");
            assert_eq!(src, list.last().unwrap().0, "src should be the wide fallback");
        }
    }
    fallback
}

/// The subsampling of an AVIF file, from its `av1C` box: `(x, y)` halved or not.
fn avif_subsampling(bytes: &[u8]) -> (bool, bool) {
    let at = bytes.windows(4).position(|w| w == b"av1C").expect("AVIF without av1C");
    let flags = bytes[at + 6];
    (flags & 0b1000 != 0, flags & 0b0100 != 0)
}

#[test]
fn every_picture_matches_the_files_on_disk() {
    let site = Site::fixture("images");
    let run = build(&site, "out", &[]);
    run.success();
    let public = site.path("out/public");
    // The summary names the AV1 encoder and counts the chroma the rule chose; the files agree.
    let stderr = run.stderr();
    let summary = stderr.lines().find(|l| l.starts_with("images: AVIF by libaom ")).unwrap_or_else(|| {
        panic!("no AVIF encoder in the summary: {stderr}");
    });
    let (mut full, mut quarter) = (0, 0);
    for entry in fs::read_dir(public.join("_img")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "avif") {
            match avif_subsampling(&fs::read(&path).unwrap()) {
                (false, false) => full += 1,
                (true, true) => quarter += 1,
                other => panic!("{}: unexpected subsampling {other:?}", path.display()),
            }
        }
    }
    assert!(full > 0 && quarter > 0, "the fixture has both smooth and colourful images: {summary}");
    assert!(summary.ends_with(&format!("(4:4:4) in {full}, 4:2:0 in {quarter}")), "{summary}");
    let mut seen = BTreeSet::new();
    let mut fallbacks = Vec::new();
    for page in ["gallery/index.html", "encore/index.html", "index.html"] {
        let html = site.read(&format!("out/public/{page}"));
        let pictures: Vec<&str> =
            html.split("<picture>").skip(1).map(|p| &p[..p.find("</picture>").unwrap()]).collect();
        assert!(!pictures.is_empty(), "{page} has no pictures");
        for picture in pictures {
            fallbacks.push(check_picture(&public, picture, &mut seen));
        }
    }
    // Every published image is referenced, and nothing else is in `_img/`.
    let on_disk: BTreeSet<String> = fs::read_dir(public.join("_img"))
        .unwrap()
        .map(|entry| format!("/_img/{}", entry.unwrap().file_name().to_string_lossy()))
        .collect();
    assert_eq!(on_disk, seen);

    let gallery = site.read("out/public/gallery/index.html");
    // The rotated photo is shown upright: 240×400 pixels, not 400×240.
    assert!(gallery.contains(r#"width="240" height="400" alt="A road, upright""#), "{gallery}");
    // Transparency keeps a PNG fallback; an opaque PNG with an alpha channel gets a JPEG.
    let picture_of = |stem: &str| {
        let pictures = gallery.split("<picture>").skip(1).map(|p| &p[..p.find("</picture>").unwrap()]);
        pictures.into_iter().find(|p| p.contains(&format!("/_img/{stem}-"))).unwrap().to_owned()
    };
    assert!(picture_of("cutout").contains(".png 160w"));
    assert!(picture_of("opaque-alpha").contains(".jpg 160w"));
    assert!(fallbacks.contains(&"image/png") && fallbacks.contains(&"image/jpeg"));
    // The same photo under two names in two drops is published once, under the name of its
    // first reference (drops in order of their folder names: `encore` before `gallery`).
    assert!(seen.iter().any(|url| url.starts_with("/_img/same-photo-")));
    assert!(!seen.iter().any(|url| url.starts_with("/_img/photo-")), "{seen:?}");
    // The hero loads first and is preloaded with the srcset of the picture's first source.
    let hero_img = tags(&gallery, "img")
        .into_iter()
        .find(|img| attr(img, "class").is_some_and(|c| c.starts_with("hero")))
        .unwrap();
    assert_eq!(attr(hero_img, "loading"), Some("eager"));
    assert_eq!(attr(hero_img, "fetchpriority"), Some("high"));
    let preload =
        tags(&gallery, "link").into_iter().find(|l| attr(l, "rel") == Some("preload")).expect("no preload");
    let first_source = tags(&gallery, "source")[0];
    assert_eq!(attr(preload, "imagesrcset"), attr(first_source, "srcset"));
    assert_eq!(attr(preload, "type"), attr(first_source, "type"));
    assert_eq!(attr(preload, "imagesizes"), attr(first_source, "sizes"));
    // Others load lazily; opaque images carry a placeholder colour defined in the stylesheet.
    let product_imgs: Vec<&str> = tags(&gallery, "img")
        .into_iter()
        .filter(|img| attr(img, "class").is_some_and(|c| c.starts_with("product-image")))
        .collect();
    assert!(product_imgs.iter().all(|img| attr(img, "loading") == Some("lazy")));
    let hero_class = attr(hero_img, "class").unwrap();
    let placeholder = hero_class.split(' ').find(|c| c.starts_with("ph-")).expect("hero has no placeholder");
    let css_link = tags(&gallery, "link")
        .into_iter()
        .find(|l| attr(l, "href").is_some_and(|h| h.contains("placeholders-")))
        .unwrap();
    let css = site.read(&format!("out/public{}", attr(css_link, "href").unwrap()));
    assert!(css.contains(&format!(".{placeholder}{{background-color:#{}}}", &placeholder[3..])), "{css}");
    // og:image is an absolute JPEG URL with its real size.
    assert!(
        gallery.contains(r#"<meta property="og:image" content="https://images.drops.test/_img/same-photo-"#)
    );
}

#[test]
fn a_warm_rebuild_encodes_nothing_and_changes_encode_only_what_changed() {
    let site = Site::fixture("images");
    let cold = build(&site, "out", &[]);
    cold.success();
    // The count of variants depends on the linked libaom (3.11 drops an AVIF set that 3.12
    // keeps), so it is read from the cold build and checked against the warm one.
    let encoded = encoded_count(&cold.stderr());
    assert!(cold.stderr().contains(&format!("5 decoded, {encoded} encoded")), "{}", cold.stderr());
    assert!(encoded > 0, "{}", cold.stderr());
    assert!(cold.stderr().contains("; thread time: decode "), "{}", cold.stderr());
    let first = tree(&site.path("out/public"));

    let warm = build(&site, "out", &[]);
    warm.success();
    let hits = format!("0 decoded, 0 encoded; cache {encoded} hit(s), 0 miss(es)");
    assert!(warm.stderr().contains(&hits), "{}", warm.stderr());
    let made = |run: &str| -> u64 {
        let line =
            run.lines().find(|l| l.starts_with("compressed copies: ")).expect("no compressed copies line");
        line["compressed copies: ".len()..].split(' ').next().unwrap().parse().unwrap()
    };
    assert!(made(&cold.stderr()) >= 6, "{}", cold.stderr());
    assert_eq!(made(&warm.stderr()), 0, "a warm rebuild compressed again: {}", warm.stderr());
    assert!(!warm.stderr().contains("thread time"), "nothing was done, so no time: {}", warm.stderr());
    assert!(first == tree(&site.path("out/public")), "a warm rebuild changed the output");

    // New copy text: pages change, images are all reused.
    let drop = site.read("drops/gallery/drop.yaml").replace("One of each kind", "Every kind");
    site.write("drops/gallery/drop.yaml", &drop);
    let text = build(&site, "out", &[]);
    text.success();
    assert!(text.stderr().contains("0 decoded, 0 encoded"), "{}", text.stderr());
    // Only the files whose bytes changed are compressed again (the page, the index that
    // quotes it, the sitemap's date…), not every text file.
    let again = made(&text.stderr());
    assert!(again > 0 && again < made(&cold.stderr()), "{again} copies made again: {}", text.stderr());

    // One new photo: only its variants are encoded (tiny.png has 3 formats at 1 width), and
    // of those not its AVIF: a 100-px gradient's WebP is smaller than any AVIF file.
    let replacement = image::RgbImage::from_fn(100, 60, |x, y| image::Rgb([x as u8, y as u8, 9]));
    replacement.save(site.path("drops/gallery/tiny.png")).unwrap();
    let one = build(&site, "out", &[]);
    one.success();
    let summary = one.stderr();
    let hits = summary.split("1 decoded, 2 encoded; cache ").nth(1).and_then(|rest| rest.split(' ').next());
    let hits: u64 = hits.and_then(|hits| hits.parse().ok()).unwrap_or_else(|| panic!("{summary}"));
    assert!(summary.contains(&format!("cache {hits} hit(s), 2 miss(es)")), "{summary}");
    // Every variant of the cold build is reused but tiny.png's old ones (at most 3).
    assert!(hits <= encoded && hits + 3 >= encoded, "{hits} hits of {encoded}: {summary}");
}

#[test]
fn damaged_cache_entries_are_rebuilt_not_served() {
    let site = Site::fixture("images");
    build(&site, "out", &[]).success();
    let first = tree(&site.path("out/public"));
    let mut damaged = 0;
    for entry in walkdir::WalkDir::new(site.path("cache")).into_iter().filter_map(Result::ok) {
        if entry.file_type().is_file() {
            let bytes = fs::read(entry.path()).unwrap();
            fs::write(entry.path(), &bytes[..bytes.len() / 2]).unwrap();
            damaged += 1;
        }
    }
    assert!(damaged >= 30, "only {damaged} cache entries");
    let rebuilt = build(&site, "out", &[]);
    rebuilt.success();
    assert!(rebuilt.stderr().contains("damaged entries rebuilt"), "{}", rebuilt.stderr());
    assert!(first == tree(&site.path("out/public")), "a damaged cache changed the output");
}

#[test]
fn cache_gc_removes_only_what_the_site_no_longer_uses() {
    let site = Site::fixture("images");
    build(&site, "out", &[]).success();
    let replacement = image::RgbImage::from_fn(100, 60, |x, y| image::Rgb([y as u8, x as u8, 200]));
    replacement.save(site.path("drops/gallery/tiny.png")).unwrap();
    build(&site, "out", &[]).success();
    let gc = site.run(&["cache", "gc", "--cache-dir", "cache", "--out", "out"]);
    gc.success();
    // The old tiny.png: its analysis and its three variants; and the compressed copies of the
    // pages that showed it (the second build published new ones).
    assert!(gc.stderr().contains("removed 4 image entries"), "{}", gc.stderr());
    assert!(!gc.stderr().contains("removed 0 compressed copies"), "{}", gc.stderr());
    let after = build(&site, "out", &[]);
    after.success();
    assert!(
        after.stderr().contains("0 decoded, 0 encoded")
            && after.stderr().contains("compressed copies: 0 made"),
        "gc removed something still in use: {}",
        after.stderr()
    );
    // Without a published manifest nothing says which copies are in use: all of them go.
    let gc = site.run(&["cache", "gc", "--cache-dir", "cache", "--out", "nowhere"]);
    gc.success();
    assert!(
        gc.stderr().contains("removed 0 image entries") && gc.stderr().contains("kept 0 ("),
        "{}",
        gc.stderr()
    );
}

#[test]
fn a_corrupt_image_is_an_error_at_its_reference_and_leaves_the_output_untouched() {
    let site = Site::fixture("images");
    build(&site, "out", &[]).success();
    let before = tree(&site.path("out"));
    // A PNG cut short: the header (all the validation stage reads) is intact, the pixels are not.
    let png = fs::read(site.path("drops/gallery/cutout.png")).unwrap();
    fs::write(site.path("drops/gallery/cutout.png"), &png[..png.len() / 2]).unwrap();
    // A template error at the same time is reported in the same run.
    site.write("dropgen.yaml", &format!("{}theme: custom\n", site.read("dropgen.yaml")));
    site.write("themes/custom/templates/404.html", "{{ missing_variable.x }}");
    let run = build(&site, "out", &[]);
    run.failure(1);
    let stderr = run.stderr();
    assert!(stderr.contains("`drops/gallery/cutout.png` cannot be decoded"), "{stderr}");
    assert!(stderr.contains("drops/gallery/drop.yaml:12:"), "{stderr}");
    assert!(stderr.contains("products[0].images[0].src"), "{stderr}");
    assert!(stderr.contains("export the image again"), "{stderr}");
    assert!(stderr.contains("404"), "the template error is missing: {stderr}");
    assert!(before == tree(&site.path("out")), "a failed build changed the output");
}

/// Image edge cases of #15: files cut short and CMYK JPEGs are errors at their references.
#[test]
fn a_cut_short_jpeg_and_a_cmyk_jpeg_are_errors_at_their_references() {
    let site = Site::fixture("images");
    build(&site, "out", &[]).success();
    let before = tree(&site.path("out"));
    // Cut short: the JPEG decoder alone fills the missing half with grey, without a word.
    let photo = fs::read(site.path("drops/gallery/photo.jpg")).unwrap();
    fs::write(site.path("drops/gallery/photo.jpg"), &photo[..photo.len() / 2]).unwrap();
    // CMYK, as print workflows export it.
    let mut compress = mozjpeg::Compress::new(mozjpeg::ColorSpace::JCS_CMYK);
    compress.set_size(16, 16);
    let mut started = compress.start_compress(Vec::new()).unwrap();
    started.write_scanlines(&[10, 200, 30, 0].repeat(256)).unwrap();
    fs::write(site.path("drops/gallery/rotated.jpg"), started.finish().unwrap()).unwrap();
    let run = build(&site, "out", &[]);
    run.failure(1);
    let stderr = run.stderr();
    assert!(
        stderr.contains("`drops/gallery/photo.jpg` cannot be decoded: the file is cut short"),
        "{stderr}"
    );
    assert!(stderr.contains("it ends before the JPEG end-of-image marker"), "{stderr}");
    assert!(stderr.contains("drops/gallery/drop.yaml:5:"), "{stderr}");
    assert!(stderr.contains("hero.src"), "{stderr}");
    assert!(stderr.contains("`drops/gallery/rotated.jpg` is a CMYK JPEG, made for print"), "{stderr}");
    assert!(stderr.contains("drops/gallery/drop.yaml:19:"), "{stderr}");
    assert!(stderr.contains("products[1].images[0].src"), "{stderr}");
    assert!(stderr.contains("export it again as an RGB JPEG"), "{stderr}");
    assert!(before == tree(&site.path("out")), "a failed build changed the output");
}

/// #15: an ICC profile that cannot be used is a warning at the image's reference, in cold and
/// warm builds alike, and the build goes on with the pixels taken as sRGB.
#[test]
fn an_unusable_colour_profile_is_a_warning_at_its_reference() {
    use image::ImageEncoder as _;
    let site = Site::fixture("images");
    let pixels = image::RgbImage::from_pixel(40, 30, image::Rgb([230, 120, 40]));
    let mut png = Vec::new();
    let mut encoder = image::codecs::png::PngEncoder::new(&mut png);
    encoder.set_icc_profile(b"not a profile".repeat(20)).unwrap();
    encoder.write_image(pixels.as_raw(), 40, 30, image::ExtendedColorType::Rgb8).unwrap();
    fs::write(site.path("drops/gallery/tiny.png"), png).unwrap();
    for pass in ["cold", "warm"] {
        let run = build(&site, "out", &[]);
        run.success();
        let stderr = run.stderr();
        let warning = "warning: `drops/gallery/tiny.png` has a colour profile dropgen cannot use, so its colours are taken as sRGB";
        assert_eq!(stderr.matches(warning).count(), 1, "{pass} build: {stderr}");
        assert!(stderr.contains("it is not a valid ICC profile"), "{pass} build: {stderr}");
        assert!(stderr.contains("drops/gallery/drop.yaml:25:"), "{pass} build: {stderr}");
        assert!(stderr.contains("products[2].images[0].src"), "{pass} build: {stderr}");
    }
    // The pixels were taken as sRGB: the placeholder is their colour.
    assert!(site.read("out/public/gallery/index.html").contains("ph-e67828"));
}

#[test]
fn jobs_do_not_change_a_single_byte() {
    let site = Site::fixture("images");
    site.run(&["build", "--out", "one", "--now", NOW, "--jobs", "1", "--cache-dir", "cache-one"]).success();
    site.run(&["build", "--out", "two", "--now", NOW, "--jobs", "2", "--cache-dir", "cache-two"]).success();
    let one = tree(&site.path("one"));
    // How many variants depends on the linked libaom (3.11 drops an AVIF set 3.12 keeps); that
    // both builds made the same ones is the point.
    assert!(one.iter().any(|(name, _)| name.contains("/_img/") && name.ends_with(".webp")));
    assert!(one == tree(&site.path("two")), "--jobs 1 and --jobs 2 differ");
    assert!(tree(&site.path("cache-one")) == tree(&site.path("cache-two")), "the caches differ");
}

#[test]
fn the_cache_folder_comes_from_the_flag_or_the_environment() {
    let site = Site::fixture("images");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_dropgen"))
        .args(["build", "--out", "out", "--quiet"])
        .current_dir(site.root())
        .env("DROPGEN_CACHE_DIR", site.path("from-env"))
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(site.path("from-env/v1").is_dir());
    assert!(!site.path(".dropgen-cache").exists());
    site.run(&["build", "--out", "out", "--quiet"]).success();
    assert!(site.path(".dropgen-cache/v1").is_dir(), "the default cache folder is in the site");
}

#[test]
fn shards_fill_the_cache_and_the_final_build_is_the_unsharded_one() {
    let site = Site::fixture("images");
    // The unsharded build, with a cache of its own.
    let whole =
        site.run(&["build", "--verbose", "--out", "whole", "--now", NOW, "--cache-dir", "cache-whole"]);
    whole.success();
    let encoded = encoded_count;
    let mut total = 0;
    let mut sources = 0;
    for shard in ["1/3", "2/3", "3/3"] {
        let run = site.run(&["build", "--shard", shard, "--now", NOW, "--cache-dir", "shared"]);
        run.success();
        let stderr = run.stderr();
        assert!(stderr.contains(&format!("shard {shard}: ")), "{stderr}");
        assert!(stderr.contains("no site output written"), "{stderr}");
        sources += stderr
            .split(&format!("shard {shard}: "))
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .parse::<u64>()
            .unwrap();
        total += encoded(&stderr);
    }
    assert!(!site.path("dist").exists(), "a shard wrote site output");
    assert_eq!(sources, 5, "every source falls to exactly one shard");
    assert_eq!(total, encoded(&whole.stderr()), "the shards together encoded more or less than one build");
    let last = site.run(&["build", "--verbose", "--out", "sharded", "--now", NOW, "--cache-dir", "shared"]);
    last.success();
    assert!(last.stderr().contains("0 decoded, 0 encoded"), "{}", last.stderr());
    assert!(
        tree(&site.path("whole")) == tree(&site.path("sharded")),
        "sharded output differs from unsharded"
    );

    for bad in ["0/2", "3/2", "2", "a/b"] {
        let run = site.run(&["build", "--shard", bad]);
        run.failure(2);
        assert!(run.stderr().contains("is not a shard"), "{bad}: {}", run.stderr());
    }
}

/// An AVIF set that has lost is not encoded any further: a flat picture's WebP is smaller than
/// the smallest AVIF file, so none of its AVIFs is made, cold or warm, and the page is the one
/// a build that made them all would write (no AVIF source).
#[test]
fn avifs_that_cannot_beat_their_webps_are_never_encoded() {
    let site = Site::fixture("images");
    fs::remove_dir_all(site.path("drops")).unwrap();
    fs::create_dir_all(site.path("drops/flat")).unwrap();
    image::RgbImage::from_pixel(480, 320, image::Rgb([200, 30, 60]))
        .save(site.path("drops/flat/flat.png"))
        .unwrap();
    site.write(
        "drops/flat/drop.yaml",
        "title: Flat\nsummary: One colour.\nstarts_at: 2026-11-21T15:00:00Z\n\
         hero:\n  src: flat.png\n  alt: A red card\nproducts:\n  - sku: FLAT\n    name: Flat\n    price: 9\n",
    );
    let cold = build(&site, "out", &[]);
    cold.success();
    // WebP at 160, 320 and 480 px, and the JPEG fallback at the narrowest and widest: no AVIF.
    assert!(cold.stderr().contains("1 decoded, 5 encoded; cache 0 hit(s), 5 miss(es)"), "{}", cold.stderr());
    assert!(cold.stderr().contains("3 AVIF dropped"), "{}", cold.stderr());
    assert!(!cold.stderr().contains("encode avif"), "an AVIF was encoded: {}", cold.stderr());
    let page = site.read("out/public/flat/index.html");
    assert!(page.contains(r#"<source type="image/webp""#) && !page.contains("image/avif"), "{page}");

    let warm = build(&site, "out", &[]);
    warm.success();
    assert!(warm.stderr().contains("0 decoded, 0 encoded; cache 5 hit(s), 0 miss(es)"), "{}", warm.stderr());
    assert!(warm.stderr().contains("3 AVIF dropped"), "{}", warm.stderr());
}
