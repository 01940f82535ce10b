//! The whole deploy (read, settle, plan, execute) against an in-memory bucket that can be
//! made to stop after any number of changes, as a killed process would.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::path::Path;

use super::execute::{Target, read_checked};
use super::plan::Upload;
use super::record::{Deployed, Head, KEY, Record};
use super::*;
use crate::manifest::{BuildInfo, FileEntry, SCHEMA};
use crate::model::{CacheClass, CacheTag};
use crate::progress::Silent;

/// An object in the fake bucket: the bytes' SHA-256 and the headers it was stored with.
#[derive(Clone, Debug, PartialEq)]
struct Stored {
    sha256: String,
    want: Deployed,
}

/// A bucket in memory. After `budget` changes (PUTs and DELETEs) every request fails, and
/// nothing more changes: the process was killed.
#[derive(Default)]
struct Memory {
    objects: RefCell<BTreeMap<String, Stored>>,
    record: RefCell<Option<Vec<u8>>>,
    budget: Cell<Option<usize>>,
    /// Successful uploads per path.
    uploads: RefCell<BTreeMap<String, usize>>,
}

impl Memory {
    fn spend(&self) -> Result<(), DeployError> {
        match self.budget.get() {
            Some(0) => {
                Err(DeployError::Connect { url: "mem".into(), reason: "killed".into(), hint: String::new() })
            }
            Some(n) => {
                self.budget.set(Some(n - 1));
                Ok(())
            }
            None => Ok(()),
        }
    }

    fn record(&self) -> Record {
        self.record.borrow().as_deref().map(|bytes| Record::parse(bytes).unwrap()).unwrap_or_default()
    }
}

impl Target for Memory {
    fn name(&self) -> String {
        "s3://mem/site".into()
    }

    fn read_record(&self) -> Result<Option<Vec<u8>>, DeployError> {
        Ok(self.record.borrow().clone())
    }

    fn write_record(&self, bytes: Vec<u8>) -> Result<(), DeployError> {
        self.spend()?;
        *self.record.borrow_mut() = Some(bytes);
        Ok(())
    }

    fn heads(&self, paths: &[String]) -> Result<BTreeMap<String, Option<Head>>, DeployError> {
        let objects = self.objects.borrow();
        Ok(paths
            .iter()
            .map(|path| {
                let head = objects.get(path).map(|stored| Head {
                    size: stored.want.size,
                    etag: stored.want.md5_hex(),
                    content_type: Some(stored.want.content_type.clone()),
                    cache_control: Some(stored.want.cache_control.clone()),
                    content_encoding: stored.want.content_encoding.clone(),
                    metadata: [
                        (record::SURROGATE_KEY, Some(&stored.want.surrogate_key)),
                        (record::CDN_CACHE_CONTROL, stored.want.cdn_cache_control.as_ref()),
                    ]
                    .into_iter()
                    .filter_map(|(name, value)| Some((name.to_owned(), value?.clone())))
                    .collect(),
                });
                (path.clone(), head)
            })
            .collect())
    }

    fn upload(&self, batch: &[Upload], public: &Path, _: &dyn Progress) -> Vec<Result<(), DeployError>> {
        batch
            .iter()
            .map(|upload| {
                let bytes = read_checked(public, upload)?;
                self.spend()?;
                let sha256 = crate::output::hex(&<sha2::Sha256 as sha2::Digest>::digest(&bytes));
                self.objects
                    .borrow_mut()
                    .insert(upload.path.clone(), Stored { sha256, want: upload.want.clone() });
                *self.uploads.borrow_mut().entry(upload.path.clone()).or_default() += 1;
                Ok(())
            })
            .collect()
    }

    fn delete(&self, paths: &[String]) -> Result<(), DeployError> {
        for path in paths {
            self.spend()?;
            self.objects.borrow_mut().remove(path);
        }
        Ok(())
    }
}

/// A built output: `public/` with `files` and the manifest describing them.
struct Built {
    dir: tempfile::TempDir,
    manifest: UploadManifest,
}

fn md5_base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(<md5::Md5 as md5::Digest>::digest(bytes))
}

fn built(files: &[(String, String)]) -> Built {
    let dir = tempfile::tempdir().unwrap();
    let mut entries = BTreeMap::new();
    for (path, text) in files {
        let file = dir.path().join("public").join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, text).unwrap();
        let class = if path.starts_with("_img/") {
            CacheClass::Immutable
        } else if path.ends_with(".html") {
            CacheClass::Document
        } else {
            CacheClass::Data
        };
        entries.insert(
            path.clone(),
            FileEntry {
                size: text.len() as u64,
                sha256: crate::output::hex(&<sha2::Sha256 as sha2::Digest>::digest(text.as_bytes())),
                content_md5: md5_base64(text.as_bytes()),
                content_type: "text/plain".into(),
                cache_control: format!("class {}", class.name()),
                cdn_cache_control: Some("edge".into()),
                cache_class: class,
                content_encoding: None,
                variant_of: None,
                urls: vec![format!("/{path}")],
                cache_tags: vec![CacheTag::Site],
                integrity: None,
                upload_phase: class.upload_phase(),
            },
        );
    }
    let mut order: Vec<(u8, String)> =
        entries.iter().map(|(p, e): (&String, &FileEntry)| (e.upload_phase, p.clone())).collect();
    order.sort();
    let manifest = UploadManifest {
        schema: SCHEMA.into(),
        build: BuildInfo {
            id: crate::output::hex(
                &<sha2::Sha256 as sha2::Digest>::digest(format!("{files:?}").as_bytes())[..8],
            ),
            base_url: "https://shop.test/".into(),
            dropgen_version: "0".into(),
            source_date_epoch: None,
            reference_time: None,
            next_transition_at: Some("2026-12-01T10:00:00Z".into()),
            transitions: Vec::new(),
        },
        files: entries,
        upload_order: order.into_iter().map(|(_, path)| path).collect(),
        prewarm: Vec::new(),
    };
    Built { dir, manifest }
}

fn site(pages: usize, images: usize, edit: &str) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> =
        (0..images).map(|i| (format!("_img/{i:02}-{edit}.avif"), format!("pixels {i} {edit}"))).collect();
    files.extend((0..pages).map(|i| (format!("p{i:02}/index.html"), format!("page {i} {edit}"))));
    files.push(("sitemap.xml".into(), format!("<urlset/> {edit}")));
    files
}

const NOW: &str = "2026-11-23T12:00:00Z";

fn deploy_to(target: &Memory, built: &Built, now: &str) -> Result<DeployReport, DeployError> {
    let run = Run {
        now: crate::rfc3339::parse(now).unwrap(),
        grace_days: 7,
        dry_run: false,
        purger: None,
        prewarm: None,
    };
    deploy(&built.manifest, target, &built.dir.path().join("public"), &run, &Silent)
}

/// Every object the record claims is in the bucket, complete, with the claimed headers.
#[track_caller]
fn assert_record_true(target: &Memory) {
    let record = target.record();
    let objects = target.objects.borrow();
    for (path, want) in &record.objects {
        let stored = objects.get(path).unwrap_or_else(|| panic!("the record claims missing `{path}`"));
        assert_eq!(stored.sha256, want.sha256, "{path}");
        assert_eq!(&stored.want, want, "{path}");
    }
}

/// The bucket holds exactly the manifest's files (plus `extra`), each as described.
#[track_caller]
fn assert_complete(target: &Memory, built: &Built, extra: &[&str]) {
    let objects = target.objects.borrow();
    let mut expected: Vec<&str> = built.manifest.files.keys().map(String::as_str).collect();
    expected.extend(extra);
    expected.sort();
    assert_eq!(objects.keys().map(String::as_str).collect::<Vec<_>>(), expected);
    for (path, entry) in &built.manifest.files {
        assert_eq!(objects[path].want, Deployed::of(entry), "{path}");
    }
    let record = target.record();
    assert_eq!(record.build_id.as_deref(), Some(built.manifest.build.id.as_str()));
    assert!(record.in_flight.is_empty());
}

#[test]
fn a_first_deploy_then_a_no_op_that_changes_nothing() {
    let target = Memory::default();
    let built = built(&site(3, 4, "a"));
    let report = deploy_to(&target, &built, NOW).unwrap();
    assert_eq!(report.plan.uploads.len(), 8);
    assert_eq!(report.next_transition_at.as_deref(), Some("2026-12-01T10:00:00Z"));
    assert_complete(&target, &built, &[]);
    assert_record_true(&target);

    let record = target.record.borrow().clone();
    target.budget.set(Some(0));
    let again = deploy_to(&target, &built, "2026-11-24T00:00:00Z").expect("a no-op deploy changes nothing");
    assert!(again.plan.is_empty());
    assert_eq!(*target.record.borrow(), record, "not even the record is written");
}

#[test]
fn a_dry_run_changes_nothing() {
    let target = Memory::default();
    let built = built(&site(2, 2, "a"));
    target.budget.set(Some(0));
    let now = crate::rfc3339::parse(NOW).unwrap();
    let run = Run { now, grace_days: 7, dry_run: true, purger: None, prewarm: None };
    let report = deploy(&built.manifest, &target, &built.dir.path().join("public"), &run, &Silent).unwrap();
    assert_eq!(report.plan.uploads.len(), 5);
    assert!(target.objects.borrow().is_empty() && target.record.borrow().is_none());
}

#[test]
fn a_file_changed_after_the_build_is_not_uploaded() {
    let target = Memory::default();
    let built = built(&site(1, 1, "a"));
    std::fs::write(built.dir.path().join("public/p00/index.html"), "page 0 b").unwrap();
    let err = deploy_to(&target, &built, NOW).unwrap_err();
    assert!(err.to_string().contains("p00/index.html") && err.to_string().contains("build again"), "{err}");
    assert!(!target.objects.borrow().contains_key("p00/index.html"));
    assert_record_true(&target);
}

/// Killed after every possible number of changes, for a first deploy and for an edit that
/// also removes files: the record is true at every stop, the next deploy completes, and no
/// object that was uploaded completely is uploaded again.
#[test]
fn a_deploy_killed_at_any_point_resumes_to_a_complete_bucket() {
    let first = built(&site(20, 30, "a"));
    let second = built(&site(20, 25, "b"));
    // The edit's total number of changes, measured on an uninterrupted run.
    let total = {
        let target = Memory::default();
        deploy_to(&target, &first, NOW).unwrap();
        target.budget.set(Some(usize::MAX));
        deploy_to(&target, &second, NOW).unwrap();
        usize::MAX - target.budget.get().unwrap()
    };
    assert!(total > 50, "{total}");
    for stop in 0..total {
        let target = Memory::default();
        deploy_to(&target, &first, NOW).unwrap();
        target.uploads.borrow_mut().clear();
        target.budget.set(Some(stop));
        assert!(deploy_to(&target, &second, NOW).is_err(), "stopped after {stop}");
        assert_record_true(&target);
        target.budget.set(None);
        deploy_to(&target, &second, NOW).unwrap();
        assert_record_true(&target);
        // The removed images wait for their grace period.
        let removed: Vec<String> =
            first.manifest.files.keys().filter(|p| p.starts_with("_img/")).cloned().collect();
        let removed: Vec<&str> = removed.iter().map(String::as_str).collect();
        assert_complete(&target, &second, &removed);
        let twice: Vec<_> =
            target.uploads.borrow().iter().filter(|(_, n)| **n > 1).map(|(p, _)| p.clone()).collect();
        assert!(twice.is_empty(), "stopped after {stop}: uploaded twice: {twice:?}");
        // The grace period ends: exactly the removed files go.
        deploy_to(&target, &second, "2026-11-30T12:00:00Z").unwrap();
        assert_complete(&target, &second, &[]);
        assert!(target.record().pending_deletions.is_empty());
    }
    // The first deploy too.
    let total = {
        let target = Memory::default();
        target.budget.set(Some(usize::MAX));
        deploy_to(&target, &first, NOW).unwrap();
        usize::MAX - target.budget.get().unwrap()
    };
    for stop in 0..total {
        let target = Memory::default();
        target.budget.set(Some(stop));
        assert!(deploy_to(&target, &first, NOW).is_err());
        assert_record_true(&target);
        target.budget.set(None);
        deploy_to(&target, &first, NOW).unwrap();
        assert_complete(&target, &first, &[]);
        assert!(target.uploads.borrow().values().all(|n| *n == 1), "stopped after {stop}");
    }
}

#[test]
fn a_record_of_another_schema_is_refused_with_the_fix() {
    let target = Memory::default();
    *target.record.borrow_mut() = Some(b"{\"schema\": \"other/1\", \"objects\": {}}".to_vec());
    let err = deploy_to(&target, &built(&site(1, 1, "a")), NOW).unwrap_err();
    let text = err.to_string();
    assert!(text.contains(KEY) && text.contains("other/1") && text.contains("delete it"), "{text}");
}

#[test]
fn the_grace_period_comes_from_the_builds_changes() {
    let built = built(&site(1, 1, "a"));
    let changes = serde_json::json!({
        "schema": "dropgen.upload-changes/1", "build_id": built.manifest.build.id,
        "previous_build_id": null, "added": [], "changed": [], "metadata_changed": [],
        "removed": [{"path": "_img/x.avif", "cache_class": "immutable", "grace_days": 30}],
        "unchanged": 0, "purge": []
    });
    std::fs::write(built.dir.path().join(CHANGES_FILE), changes.to_string()).unwrap();
    assert_eq!(build_grace_days(built.dir.path(), &built.manifest), 30);
    let mut other = built.manifest.clone();
    other.build.id = "another".into();
    assert_eq!(build_grace_days(built.dir.path(), &other), DEFAULT_GRACE_DAYS, "another build's changes");
}
