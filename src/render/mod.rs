//! Stage: RENDER — the validated [`Site`] → HTML pages, `sitemap.xml` and `robots.txt`.
//!
//! Pure: never touches the file system (pages render in parallel, in [`pages`]). Templates
//! come from the theme, values from the model, asset and image URLs from the stages that
//! publish them. Autoescaping is on for `.html` and
//! `.xml`; the only HTML inserted unescaped is markdown that went through the sanitiser and
//! JSON-LD whose `<`, `>` and `&` are escaped.

pub(crate) mod context;
pub(crate) mod hero_width;
pub(crate) mod hydration;
pub(crate) mod listing;
pub(crate) mod markdown;

use rayon::prelude::*;
use tera::{Context, Tera};
use time::OffsetDateTime;

use crate::assets::AssetUrls;
use crate::diagnostic::{Diagnostic, Diagnostics, Kind, Location, Sources};
use crate::images::Images;
use crate::load::ThemeFiles;
use crate::model::Site;
use crate::output::{Artifact, CacheClass, CacheTag, Claim};

/// Templates every theme must provide (the built-in default theme provides them all, so a
/// site theme only has to override what it changes).
pub(crate) const REQUIRED_TEMPLATES: [&str; 6] =
    ["drop.html", "index.html", "archive.html", "404.html", "sitemap.xml", "robots.txt"];

/// The files rendered from the template of the same name; drop pages go to `<slug>/`.
const FIXED_PAGES: [&str; 4] = ["index.html", "404.html", "sitemap.xml", "robots.txt"];

/// What this stage generates: [`FIXED_PAGES`], the archives' folder and a folder per drop.
pub(crate) fn claims(site: &Site) -> Vec<Claim> {
    let mut claims: Vec<Claim> = FIXED_PAGES.iter().map(|path| Claim::File((*path).to_owned())).collect();
    claims.push(Claim::Folder(crate::model::ARCHIVE_FOLDER.to_owned(), "the index's archives".to_owned()));
    claims.extend(
        site.drops
            .iter()
            .map(|drop| Claim::Folder(drop.slug.as_str().to_owned(), "the page of a drop".to_owned())),
    );
    claims
}

/// The URL patterns of the pages, for `_headers`: the index and the 404 page first, then one
/// folder per drop, so a platform's rule limit cuts the last drops, never the index.
pub(crate) fn page_patterns(site: &Site) -> Vec<String> {
    let mut patterns = vec!["/".to_owned(), "/index.html".to_owned(), "/404.html".to_owned()];
    patterns.push(format!("/{}/*", crate::model::ARCHIVE_FOLDER));
    patterns.extend(site.drops.iter().map(|drop| format!("/{}/*", drop.slug.as_str())));
    patterns
}

/// A theme's templates, parsed.
pub(crate) struct Templates {
    tera: Tera,
    /// Template name → the file it came from, for messages.
    origins: std::collections::BTreeMap<String, String>,
}

/// Parses the theme's templates. Syntax errors in any template are reported together, with
/// the template file, line and column.
pub(crate) fn compile(theme: &ThemeFiles, sources: &mut Sources) -> Result<Templates, Diagnostics> {
    let origins: std::collections::BTreeMap<String, String> =
        theme.templates.iter().map(|(name, file)| (name.clone(), file.origin.clone())).collect();
    for (name, file) in &theme.templates {
        sources.insert(origins[name].clone(), file.content.clone());
    }
    let mut diagnostics = Diagnostics::new();
    for required in REQUIRED_TEMPLATES {
        if !theme.templates.contains_key(required) {
            diagnostics.push(
                Diagnostic::error(
                    Kind::Template,
                    Location::file(format!("themes/{}/templates/{required}", theme.name)),
                    format!("the theme has no `{required}` template"),
                )
                .help("add the template, or remove the file that hides the default theme's"),
            );
        }
    }
    let mut tera = Tera::new();
    tera.autoescape_on([".html", ".htm", ".xml"]);
    // `{{ value | json_script }}`: a value as JSON for a `<script type="application/json">`
    // block, such as the words the hydration script shows.
    tera.register_filter("json_script", |value: tera::Value, _: tera::Kwargs, _: &tera::State<'_>| {
        tera::Value::safe_string(&context::script_json(&value))
    });
    let templates = theme.templates.iter().map(|(name, file)| (name.clone(), file.content.clone()));
    if let Err(err) = tera.add_raw_templates(templates) {
        diagnostics.push(template_diagnostic(&err, &origins, "the theme's templates"));
    }
    if diagnostics.has_errors() { Err(diagnostics) } else { Ok(Templates { tera, origins }) }
}

/// Renders every page of the site, its markdown through `markdown` (what an earlier build in
/// this process rendered); the index groups the drops by their phase at `now`. Errors from
/// every page are collected.
pub(crate) fn pages(
    site: &Site,
    templates: &Templates,
    assets: &AssetUrls,
    images: &Images,
    markdown: &markdown::Memo,
    now: OffsetDateTime,
) -> Result<Vec<(String, Artifact)>, Diagnostics> {
    let drops: Vec<context::DropContext> =
        site.drops.par_iter().map(|drop| context::drop(site, drop, images, markdown)).collect();
    let timed: Vec<(listing::Timing<'_>, &context::DropContext)> =
        site.drops.iter().map(listing::Timing::of).zip(&drops).collect();
    let listing = listing::plan(&timed, now);
    let site_context = context::site(site);

    let base = |page: context::PageContext| {
        let mut ctx = Context::new();
        ctx.insert("site", &site_context);
        ctx.insert("page", &page);
        ctx.insert("assets", assets);
        ctx
    };
    let drop_job = |(model, drop): (&crate::model::Drop, &context::DropContext)| {
        let mut ctx = base(context::PageContext::for_drop(drop));
        ctx.insert("drop", drop);
        PageJob {
            template: "drop.html",
            path: format!("{}/index.html", drop.slug),
            what: format!("the page of `{}`", drop.file),
            class: CacheClass::Document,
            tags: vec![CacheTag::Drop(model.slug.clone()), CacheTag::Site],
            ctx,
        }
    };

    let mut fixed: Vec<PageJob<'_>> = Vec::new();
    let mut ctx = base(context::PageContext::index(site));
    // Every drop as well, for themes written before the sections.
    ctx.insert("drops", &drops);
    ctx.insert("sections", &listing.sections);
    fixed.push(PageJob::fixed(
        "index.html",
        "the index page",
        CacheClass::Document,
        vec![CacheTag::Index, CacheTag::Site],
        ctx,
    ));
    for archive in &listing.archives {
        let mut ctx = base(context::PageContext::archive(site, &archive.url));
        ctx.insert("archive", archive);
        fixed.push(PageJob {
            template: "archive.html",
            path: archive.path(),
            what: format!("the archive page {}", archive.url),
            class: CacheClass::Document,
            tags: vec![CacheTag::Index, CacheTag::Site],
            ctx,
        });
    }
    let ctx = base(context::PageContext::not_found());
    fixed.push(PageJob::fixed("404.html", "the 404 page", CacheClass::Document, vec![CacheTag::Site], ctx));
    let mut ctx = base(context::PageContext::not_found());
    let archive_urls = listing.archives.iter().map(|archive| archive.url.as_str());
    ctx.insert("urls", &context::sitemap_urls(site, &drops, archive_urls));
    fixed.push(PageJob::fixed("sitemap.xml", "the sitemap", CacheClass::Data, vec![CacheTag::Site], ctx));
    let mut ctx = base(context::PageContext::not_found());
    ctx.insert("sitemap_url", &format!("{}sitemap.xml", site.config.base_url));
    fixed.push(PageJob::fixed("robots.txt", "robots.txt", CacheClass::Data, vec![CacheTag::Site], ctx));

    // Pages are independent, so their contexts are made and they render in parallel;
    // `collect` keeps the order (drop pages, then the fixed pages), so files and problems
    // come out the same for any number of threads.
    let render = |job: PageJob<'_>| match templates.tera.render(job.template, &job.ctx) {
        Ok(text) => {
            let artifact = Artifact::bytes(text.into_bytes(), &job.path, job.class, &job.tags);
            Ok((job.path, artifact))
        }
        Err(err) => Err(Box::new(template_diagnostic(&err, &templates.origins, &job.what))),
    };
    let mut rendered: Vec<Result<(String, Artifact), Box<Diagnostic>>> =
        site.drops.par_iter().zip(&drops).map(drop_job).map(render).collect();
    rendered.par_extend(fixed.into_par_iter().map(render));
    let mut diagnostics = Diagnostics::new();
    let mut files = Vec::new();
    for result in rendered {
        match result {
            Ok(file) => files.push(file),
            Err(problem) => diagnostics.push(*problem),
        }
    }

    if diagnostics.is_empty() { Ok(files) } else { Err(diagnostics) }
}

/// Warnings for what the theme's drop pages lack of what the hydration script needs
/// (`hydration.rs`), pinned on the drop template's file.
pub(crate) fn hydration_warnings(
    site: &Site,
    pages: &[(String, Artifact)],
    templates: &Templates,
    assets: &AssetUrls,
) -> Vec<Diagnostic> {
    let drop_pages: std::collections::BTreeSet<String> =
        site.drops.iter().map(|drop| format!("{}/index.html", drop.slug.as_str())).collect();
    let html = pages
        .iter()
        .filter(|(path, _)| drop_pages.contains(path))
        .filter_map(|(_, page)| std::str::from_utf8(page.in_memory()?).ok());
    let script = assets.get(crate::assets::HYDRATION_SCRIPT).map(|asset| asset.url.as_str());
    let template = templates.origins.get("drop.html").map_or("templates/drop.html", String::as_str);
    hydration::check(html, script, template)
}

/// One file to render: the template, where the result goes, and how it is cached.
struct PageJob<'a> {
    template: &'a str,
    path: String,
    /// What the page is, for error messages.
    what: String,
    class: CacheClass,
    tags: Vec<CacheTag>,
    ctx: Context,
}

impl<'a> PageJob<'a> {
    /// A page whose output path is its template's name.
    fn fixed(template: &'a str, what: &str, class: CacheClass, tags: Vec<CacheTag>, ctx: Context) -> Self {
        PageJob { template, path: template.to_owned(), what: what.to_owned(), class, tags, ctx }
    }
}

/// A tera error as a diagnostic pointing into the template file.
fn template_diagnostic(
    err: &tera::Error,
    origins: &std::collections::BTreeMap<String, String>,
    what: &str,
) -> Diagnostic {
    use tera::ErrorKind;
    match err.kind() {
        ErrorKind::SyntaxError(report) | ErrorKind::RenderingError(report) => {
            let span = report.span();
            let file =
                origins.get(report.filename()).cloned().unwrap_or_else(|| report.filename().to_owned());
            let location = Location {
                file,
                line: span.start_line.max(1),
                column: span.start_col + 1,
                span: Some(span.range.clone()),
            };
            let help = if matches!(err.kind(), ErrorKind::SyntaxError(_)) {
                "fix the template syntax; see the tera documentation".to_owned()
            } else {
                format!("this happened while rendering {what}")
            };
            Diagnostic::error(Kind::Template, location, report.message().to_owned()).help(help)
        }
        _ => {
            let first_template = origins.values().next().cloned().unwrap_or_else(|| "themes".to_owned());
            Diagnostic::error(Kind::Template, Location::file(first_template), err.to_string())
                .help(format!("this happened while preparing {what}"))
        }
    }
}
