use std::collections::BTreeMap;

use super::*;
use crate::deploy::record::Head;
use crate::manifest::{BuildInfo, FileEntry, SCHEMA};
use crate::model::CacheTag;

const NOW: &str = "2026-11-23T12:00:00Z";

fn now() -> OffsetDateTime {
    rfc3339::parse(NOW).unwrap()
}

fn at(text: &str) -> OffsetDateTime {
    rfc3339::parse(text).unwrap()
}

fn entry(path: &str, bytes: &str) -> FileEntry {
    let class = if path.starts_with('_') && path != "_headers" {
        CacheClass::Immutable
    } else if path.ends_with(".html") || path.ends_with(".html.br") {
        CacheClass::Document
    } else {
        CacheClass::Data
    };
    FileEntry {
        size: bytes.len() as u64,
        sha256: crate::output::hex(&<sha2::Sha256 as sha2::Digest>::digest(bytes.as_bytes())),
        content_md5: "AAAAAAAAAAAAAAAAAAAAAA==".to_owned(),
        content_type: "text/plain".to_owned(),
        cache_control: format!("class {}", class.name()),
        cdn_cache_control: None,
        cache_class: class,
        content_encoding: path.ends_with(".br").then(|| "br".to_owned()),
        variant_of: path.strip_suffix(".br").map(str::to_owned),
        urls: vec![format!("/{path}")],
        cache_tags: vec![CacheTag::Site],
        integrity: None,
        upload_phase: class.upload_phase(),
    }
}

/// A manifest of `files` (path, bytes), in the order a build gives: by phase, then path.
fn manifest(files: &[(&str, &str)]) -> UploadManifest {
    let files: BTreeMap<String, FileEntry> =
        files.iter().map(|(path, bytes)| ((*path).to_owned(), entry(path, bytes))).collect();
    let mut order: Vec<(u8, String)> = files.iter().map(|(path, e)| (e.upload_phase, path.clone())).collect();
    order.sort();
    UploadManifest {
        schema: SCHEMA.into(),
        build: BuildInfo {
            id: format!("{:016x}", files.len()),
            base_url: "https://shop.test/".into(),
            dropgen_version: "0".into(),
            source_date_epoch: None,
            reference_time: None,
            next_transition_at: None,
            transitions: Vec::new(),
        },
        files,
        upload_order: order.into_iter().map(|(_, path)| path).collect(),
        prewarm: Vec::new(),
    }
}

const SITE: &[(&str, &str)] = &[
    ("index.html", "<a href=/drop/>"),
    ("index.html.br", "br of index"),
    ("drop/index.html", "<img src=/_img/hero-1.avif>"),
    ("_img/hero-1.avif", "pixels"),
    ("_assets/site-1.css", "body{}"),
    ("sitemap.xml", "<urlset/>"),
    ("robots.txt", "User-agent: *"),
    ("_headers", "/*\n  X-Frame-Options: DENY"),
];

/// The record a deploy of `plan` leaves when it finishes.
fn finished(plan: &Plan, manifest: &UploadManifest, now: &str) -> Record {
    let mut record = plan.start.clone();
    for upload in &plan.uploads {
        record.objects.insert(upload.path.clone(), upload.want.clone());
    }
    for deletion in &plan.deletions {
        record.pending_deletions.remove(&deletion.path);
    }
    record.build_id = Some(manifest.build.id.clone());
    record.deployed_at = Some(now.to_owned());
    record
}

fn paths(uploads: &[Upload]) -> Vec<&str> {
    uploads.iter().map(|upload| upload.path.as_str()).collect()
}

#[test]
fn a_first_deploy_uploads_every_file_assets_first_and_pages_last() {
    let manifest = manifest(SITE);
    let plan = plan(&manifest, &Record::default(), now(), 7).unwrap();
    assert_eq!(
        paths(&plan.uploads),
        [
            "_assets/site-1.css",
            "_img/hero-1.avif",
            "robots.txt",
            "sitemap.xml",
            "drop/index.html",
            "index.html",
            "index.html.br"
        ]
    );
    assert!(plan.uploads.iter().all(|upload| upload.reason == Reason::New));
    assert_eq!(plan.not_uploaded, ["_headers"], "S3 does not read `_headers`");
    assert!(plan.deletions.is_empty() && plan.scheduled.is_empty());
    assert_eq!(plan.start.base_url.as_deref(), Some("https://shop.test/"));
}

#[test]
fn pages_go_last_even_when_the_manifest_lists_them_first() {
    let mut manifest = manifest(SITE);
    manifest.upload_order.reverse();
    let plan = plan(&manifest, &Record::default(), now(), 7).unwrap();
    let phases: Vec<u8> = plan.uploads.iter().map(|upload| upload.phase).collect();
    assert!(phases.is_sorted(), "{phases:?}");
    let first_page = plan.uploads.iter().position(|upload| upload.path.ends_with(".html")).unwrap();
    assert!(plan.uploads[..first_page].iter().any(|upload| upload.path == "_img/hero-1.avif"));
}

#[test]
fn a_deploy_of_what_is_deployed_does_nothing() {
    let manifest = manifest(SITE);
    let first = plan(&manifest, &Record::default(), now(), 7).unwrap();
    let record = finished(&first, &manifest, NOW);
    let again = plan(&manifest, &record, at("2026-11-24T00:00:00Z"), 7).unwrap();
    assert!(again.is_empty(), "{again:?}");
    assert_eq!(again.unchanged, SITE.len() - 1);
    assert_eq!(again.start, record, "nothing to write either");
}

#[test]
fn an_edit_uploads_only_what_changed() {
    let before = manifest(SITE);
    let record = finished(&plan(&before, &Record::default(), now(), 7).unwrap(), &before, NOW);
    let mut edited: Vec<(&str, &str)> = SITE.to_vec();
    edited[2] = ("drop/index.html", "<img src=/_img/hero-1.avif> new words");
    let after = manifest(&edited);
    let plan = plan(&after, &record, now(), 7).unwrap();
    assert_eq!(paths(&plan.uploads), ["drop/index.html"]);
    assert_eq!(plan.uploads[0].reason, Reason::Changed);
    assert_eq!(plan.unchanged, SITE.len() - 2);
}

#[test]
fn new_headers_on_the_same_bytes_upload_again() {
    let before = manifest(SITE);
    let record = finished(&plan(&before, &Record::default(), now(), 7).unwrap(), &before, NOW);
    let mut after = before.clone();
    after.files.get_mut("sitemap.xml").unwrap().cache_control = "public, max-age=60".into();
    let plan = plan(&after, &record, now(), 7).unwrap();
    assert_eq!(paths(&plan.uploads), ["sitemap.xml"]);
    assert_eq!(plan.uploads[0].reason, Reason::Headers);
}

#[test]
fn a_removed_hashed_file_is_deleted_only_after_its_grace_period() {
    let before = manifest(SITE);
    let record = finished(&plan(&before, &Record::default(), now(), 7).unwrap(), &before, NOW);
    let without: Vec<(&str, &str)> =
        SITE.iter().copied().filter(|(path, _)| *path != "_assets/site-1.css").collect();
    let after = manifest(&without);

    let removing = plan(&after, &record, now(), 7).unwrap();
    assert!(removing.deletions.is_empty(), "{removing:?}");
    assert_eq!(
        removing.scheduled,
        [Waiting { path: "_assets/site-1.css".into(), delete_after: "2026-11-30T12:00:00Z".into() }]
    );
    assert!(!removing.start.objects.contains_key("_assets/site-1.css"), "no longer claimed as published");
    let record = finished(&removing, &after, NOW);
    assert!(record.pending_deletions.contains_key("_assets/site-1.css"), "remembered across deploys");

    let early = plan(&after, &record, at("2026-11-30T11:59:59Z"), 7).unwrap();
    assert!(early.deletions.is_empty() && early.scheduled.is_empty());
    assert_eq!(early.waiting.len(), 1);
    assert_eq!(next_deletion(&early), Some("2026-11-30T12:00:00Z"));
    // Another deploy in the grace period does not move its end.
    let record = finished(&early, &after, "2026-11-30T11:59:59Z");
    assert_eq!(record.pending_deletions["_assets/site-1.css"].delete_after, "2026-11-30T12:00:00Z");

    let due = plan(&after, &record, at("2026-11-30T12:00:00Z"), 7).unwrap();
    assert_eq!(due.deletions.len(), 1);
    assert_eq!(due.deletions[0].path, "_assets/site-1.css");
    let record = finished(&due, &after, "2026-11-30T12:00:00Z");
    assert!(record.pending_deletions.is_empty());
    assert!(plan(&after, &record, at("2026-12-30T00:00:00Z"), 7).unwrap().is_empty());
}

#[test]
fn a_removed_page_is_deleted_in_the_deploy_that_replaces_the_pages_linking_to_it() {
    let before = manifest(SITE);
    let record = finished(&plan(&before, &Record::default(), now(), 7).unwrap(), &before, NOW);
    let mut without: Vec<(&str, &str)> =
        SITE.iter().copied().filter(|(path, _)| *path != "drop/index.html").collect();
    without[0] = ("index.html", "no drops");
    let after = manifest(&without);
    let plan = plan(&after, &record, now(), 7).unwrap();
    assert_eq!(paths(&plan.uploads), ["index.html"]);
    assert_eq!(plan.deletions, [Deletion { path: "drop/index.html".into(), delete_after: None }]);
    assert!(!plan.start.objects.contains_key("drop/index.html"));
    assert!(plan.start.pending_deletions.contains_key("drop/index.html"), "deleted again if killed before");
}

#[test]
fn a_file_published_again_is_no_longer_deleted() {
    let before = manifest(SITE);
    let record = finished(&plan(&before, &Record::default(), now(), 7).unwrap(), &before, NOW);
    let without: Vec<(&str, &str)> =
        SITE.iter().copied().filter(|(path, _)| *path != "_img/hero-1.avif").collect();
    let removed = manifest(&without);
    let record = finished(&plan(&removed, &record, now(), 7).unwrap(), &removed, NOW);
    assert!(record.pending_deletions.contains_key("_img/hero-1.avif"));
    let back = plan(&before, &record, at("2026-12-25T00:00:00Z"), 7).unwrap();
    assert_eq!(paths(&back.uploads), ["_img/hero-1.avif"]);
    assert!(back.deletions.is_empty());
    assert!(back.start.pending_deletions.is_empty());
}

#[test]
fn an_unreadable_deletion_time_keeps_the_object() {
    let manifest = manifest(SITE);
    let mut record = finished(&plan(&manifest, &Record::default(), now(), 7).unwrap(), &manifest, NOW);
    record.pending_deletions.insert(
        "_img/old.avif".into(),
        PendingDeletion { delete_after: "soon".into(), sha256: "0".repeat(64) },
    );
    let plan = plan(&manifest, &record, at("2030-01-01T00:00:00Z"), 7).unwrap();
    assert!(plan.deletions.is_empty());
    assert_eq!(plan.waiting.len(), 1);
}

#[test]
fn a_resumed_deploy_uploads_only_what_the_killed_one_did_not_finish() {
    let manifest = manifest(SITE);
    let first = plan(&manifest, &Record::default(), now(), 7).unwrap();
    // Killed in the second batch: the first two objects claimed, the next two in flight,
    // of which only one reached the bucket.
    let mut record = first.start.clone();
    for upload in &first.uploads[..2] {
        record.objects.insert(upload.path.clone(), upload.want.clone());
    }
    for upload in &first.uploads[2..4] {
        record.in_flight.insert(upload.path.clone(), upload.want.clone());
    }
    let complete = &first.uploads[2].want;
    let head = Head {
        size: complete.size,
        etag: complete.md5_hex(),
        content_type: Some(complete.content_type.clone()),
        cache_control: Some(complete.cache_control.clone()),
        content_encoding: complete.content_encoding.clone(),
        metadata: BTreeMap::from([("surrogate-key".to_owned(), complete.surrogate_key.clone())]),
    };
    let heads =
        BTreeMap::from([(first.uploads[2].path.clone(), Some(head)), (first.uploads[3].path.clone(), None)]);
    let record = record.settle(&heads);
    let resumed = plan(&manifest, &record, now(), 7).unwrap();
    assert_eq!(paths(&resumed.uploads), paths(&first.uploads[3..]));
    assert_eq!(resumed.unchanged, 3);
}

#[test]
fn another_sites_deploy_is_refused() {
    let manifest = manifest(SITE);
    let record = Record { base_url: Some("https://other.test/".into()), ..Record::default() };
    let err = plan(&manifest, &record, now(), 7).unwrap_err();
    assert_eq!(
        err,
        PlanError::OtherSite {
            deployed: "https://other.test/".into(),
            manifest: "https://shop.test/".into()
        }
    );
}

#[test]
fn a_manifest_whose_order_and_files_disagree_is_refused() {
    let mut missing = manifest(SITE);
    missing.upload_order.retain(|path| path != "index.html");
    assert!(plan(&missing, &Record::default(), now(), 7).unwrap_err().to_string().contains("`index.html`"));
    let mut twice = manifest(SITE);
    twice.upload_order.push("robots.txt".into());
    assert!(plan(&twice, &Record::default(), now(), 7).unwrap_err().to_string().contains("twice"));
    let mut unknown = manifest(SITE);
    unknown.upload_order.push("ghost.html".into());
    assert!(plan(&unknown, &Record::default(), now(), 7).unwrap_err().to_string().contains("`ghost.html`"));
}

#[test]
fn batches_never_mix_phases_and_grow_with_the_record() {
    let files: Vec<(String, String)> = (0..10)
        .map(|i| (format!("_img/{i}.avif"), format!("{i}")))
        .chain((0..3).map(|i| (format!("p{i}/index.html"), format!("{i}"))))
        .collect();
    let refs: Vec<(&str, &str)> = files.iter().map(|(p, b)| (p.as_str(), b.as_str())).collect();
    let plan = plan(&manifest(&refs), &Record::default(), now(), 7).unwrap();
    let batches = batches(&plan.uploads, 0, |claimed| 2 + claimed / 2);
    let lens: Vec<usize> = batches.iter().map(|batch| batch.len()).collect();
    assert_eq!(lens, [2, 3, 4, 1, 3]);
    for batch in &batches {
        assert!(batch.iter().all(|upload| upload.phase == batch[0].phase));
    }
}
