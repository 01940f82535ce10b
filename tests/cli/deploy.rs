//! `dropgen deploy` against a real S3-compatible server on loopback (moto, started by
//! `tests/s3/deploy_server.py`, with authentication enforced and versioning on, so every PUT
//! and delete is counted). Without moto and boto3 the tests print SKIPPED, except on CI
//! (`CI=true`), where they fail.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde_json::Value;

use crate::support::{Run, Site, repo_root};

const NOW: &str = "2026-11-23T12:00:00Z";
const BUCKET: &str = "dropgen-deploy";
const RECORD: &str = ".dropgen/deploy.json";
/// A moto server with one versioned bucket, [`BUCKET`], stopped when dropped.
struct Server {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    endpoint: String,
    key_id: String,
    secret: String,
    distribution: String,
}

impl Server {
    /// Starts the server; `None` (after printing SKIPPED) when Python or moto is missing
    /// outside CI.
    fn start() -> Option<Server> {
        let (child, stdin, stdout, words) =
            crate::support::start_python_server("tests/s3/deploy_server.py", &[BUCKET])?;
        let [endpoint, key_id, secret, distribution] = <[String; 4]>::try_from(words)
            .unwrap_or_else(|words| panic!("the S3 server said READY {words:?}"));
        Some(Server { child, stdin, stdout, endpoint, key_id, secret, distribution })
    }

    /// The environment dropgen reads its connection from.
    fn env(&self) -> Vec<(&str, &str)> {
        vec![
            ("AWS_ACCESS_KEY_ID", &self.key_id),
            ("AWS_SECRET_ACCESS_KEY", &self.secret),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL", &self.endpoint),
            ("AWS_ALLOW_HTTP", "true"),
        ]
    }

    fn command(&mut self, line: &str) -> Vec<Value> {
        writeln!(self.stdin, "{line}").unwrap();
        self.stdin.flush().unwrap();
        let mut answer = Vec::new();
        loop {
            let mut line = String::new();
            assert!(self.stdout.read_line(&mut line).unwrap() > 0, "the S3 server stopped");
            match line.trim_end() {
                "END" => return answer,
                line => answer.push(serde_json::from_str(line).unwrap_or_else(|err| panic!("{line}: {err}"))),
            }
        }
    }

    /// Every object under `prefix/`, by its key below the prefix: bytes' hashes and headers.
    fn objects(&mut self, prefix: &str) -> BTreeMap<String, Value> {
        let below = format!("{prefix}/");
        self.command(&format!("objects {below}"))
            .into_iter()
            .map(|object| (object["key"].as_str().unwrap().strip_prefix(&below).unwrap().to_owned(), object))
            .collect()
    }

    /// Versions written (PUTs) and delete markers (deletions) per key below `prefix/`.
    fn versions(&mut self, prefix: &str) -> BTreeMap<String, (u64, u64)> {
        let below = format!("{prefix}/");
        self.command(&format!("versions {below}"))
            .into_iter()
            .map(|count| {
                let key = count["key"].as_str().unwrap().strip_prefix(&below).unwrap().to_owned();
                (key, (count["puts"].as_u64().unwrap(), count["deletes"].as_u64().unwrap()))
            })
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.stdin.flush();
        let _ = self.child.wait();
    }
}

/// Runs dropgen in `site` against `server`.
fn run(site: &Site, server: &Server, args: &[&str]) -> Run {
    crate::support::run_with_env(&site.root(), args, &server.env())
}

fn build(site: &Site) {
    site.run(&["build", "--out", "out", "--now", NOW, "--quiet"]).success();
}

fn deploy(site: &Site, server: &Server, prefix: &str, now: &str) -> Run {
    let to = format!("s3://{BUCKET}/{prefix}");
    run(site, server, &["deploy", "--out", "out", "--to", &to, "--now", now])
}

fn manifest(site: &Site) -> Value {
    serde_json::from_str(&site.read("out/manifest.json")).unwrap()
}

/// The bucket holds every file of the manifest but `_headers` (plus the record, and
/// `extra`), each with the manifest's bytes and headers.
#[track_caller]
fn assert_deployed(server: &mut Server, prefix: &str, site: &Site, extra: &[&str]) {
    let manifest = manifest(site);
    let objects = server.objects(prefix);
    let files = manifest["files"].as_object().unwrap();
    let mut expected: Vec<&str> =
        files.keys().map(String::as_str).filter(|path| *path != "_headers").chain([RECORD]).collect();
    expected.extend(extra);
    expected.sort();
    assert_eq!(objects.keys().map(String::as_str).collect::<Vec<_>>(), expected);
    for (path, entry) in files.iter().filter(|(path, _)| *path != "_headers") {
        let object = &objects[path];
        let tags: Vec<&str> =
            entry["cache_tags"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
        let checks = [
            ("size", object["size"].clone(), entry["size"].clone()),
            ("sha256", object["sha256"].clone(), entry["sha256"].clone()),
            ("etag", object["etag"].clone(), object["md5"].clone()),
            ("content type", object["content_type"].clone(), entry["content_type"].clone()),
            ("cache control", object["cache_control"].clone(), entry["cache_control"].clone()),
            ("content encoding", object["content_encoding"].clone(), entry["content_encoding"].clone()),
            ("cache tags", object["metadata"]["surrogate-key"].clone(), Value::from(tags.join(" "))),
            (
                "cdn cache control",
                object["metadata"]["cdn-cache-control"].clone(),
                entry["cdn_cache_control"].clone(),
            ),
        ];
        for (what, got, want) in checks {
            assert_eq!(got, want, "{path}: {what}");
        }
        use base64::Engine as _;
        let md5 =
            base64::engine::general_purpose::STANDARD.decode(entry["content_md5"].as_str().unwrap()).unwrap();
        let md5: String = md5.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(object["md5"].as_str(), Some(md5.as_str()), "{path}: Content-MD5 of the manifest");
    }
}

#[test]
fn a_first_deploy_uploads_every_file_with_its_headers_and_a_second_uploads_nothing() {
    let Some(mut server) = Server::start() else { return };
    let site = Site::fixture("build/basic");
    build(&site);
    let first = deploy(&site, &server, "site", NOW);
    first.success();
    assert!(first.stderr().contains("not uploaded: _headers"), "{}", first.stderr());
    assert_deployed(&mut server, "site", &site, &[]);
    let after_first = server.versions("site");
    assert!(after_first.iter().all(|(key, (puts, _))| *puts == 1 || key == RECORD), "{after_first:?}");

    let again = deploy(&site, &server, "site", "2026-11-24T12:00:00Z");
    again.success();
    assert!(again.stderr().contains("uploaded 0 file(s)"), "{}", again.stderr());
    assert_eq!(server.versions("site"), after_first, "a no-op deploy writes nothing, not even the record");

    // From another machine: a fresh build of the same site, the same bucket.
    let other = Site::fixture("build/basic");
    build(&other);
    deploy(&other, &server, "site", "2026-11-24T12:00:00Z").success();
    assert_eq!(server.versions("site"), after_first, "the baseline is the bucket, not the local output");

    let json = run(
        &site,
        &server,
        &["deploy", "--out", "out", "--to", &format!("s3://{BUCKET}/site"), "--format", "json"],
    );
    json.success();
    let report: Value = serde_json::from_str(&json.stdout()).unwrap();
    assert_eq!(report["uploads"], Value::Array(Vec::new()));
    assert_eq!(report["build_id"], manifest(&site)["build"]["id"]);
    assert!(report.get("next_transition_at").is_some(), "{report}");
}

#[test]
fn an_edit_uploads_only_what_changed() {
    let Some(mut server) = Server::start() else { return };
    let site = Site::fixture("build/basic");
    build(&site);
    deploy(&site, &server, "site", NOW).success();
    let before_manifest = manifest(&site);
    let before = server.versions("site");

    let drop = site.read("drops/launch/drop.yaml");
    site.write("drops/launch/drop.yaml", &drop.replace("price: 79.5", "price: 89.5"));
    build(&site);
    let after_manifest = manifest(&site);
    let dry =
        run(&site, &server, &["deploy", "--out", "out", "--to", &format!("s3://{BUCKET}/site"), "--dry-run"]);
    dry.success();
    assert!(dry.stderr().contains("upload  changed  launch/index.html"), "{}", dry.stderr());
    assert_eq!(server.versions("site"), before, "a dry run changes nothing");

    deploy(&site, &server, "site", NOW).success();
    assert_deployed(&mut server, "site", &site, &[]);
    let after = server.versions("site");
    let uploaded: Vec<&str> = after
        .iter()
        .filter(|(key, counts)| before.get(*key) != Some(counts) && *key != RECORD)
        .map(|(key, _)| key.as_str())
        .collect();
    let files = |manifest: &Value| manifest["files"].as_object().unwrap().clone();
    let (old, new) = (files(&before_manifest), files(&after_manifest));
    let changed: Vec<&str> = new
        .iter()
        .filter(|(path, entry)| *path != "_headers" && old.get(*path) != Some(*entry))
        .map(|(path, _)| path.as_str())
        .collect();
    assert!(!changed.is_empty());
    assert!(changed.contains(&"launch/index.html"), "{changed:?}");
    assert_eq!(uploaded, changed);
    assert!(uploaded.iter().all(|key| after[*key].0 == before[*key].0 + 1), "each uploaded once");
}

#[test]
fn a_removed_hashed_file_is_deleted_only_after_its_grace_period() {
    let Some(mut server) = Server::start() else { return };
    let site = Site::fixture("build/basic");
    // A second live drop, to remove with its page.
    let preview = site.read("drops/preview/drop.yaml");
    site.write("drops/extra/drop.yaml", &preview.replace("draft: true", "").replace("PREVIEW-1", "EXTRA-1"));
    std::fs::copy(site.path("drops/preview/hero.jpg"), site.path("drops/extra/hero.jpg")).unwrap();
    build(&site);
    deploy(&site, &server, "site", NOW).success();
    let before = manifest(&site);
    // The page goes, and the badge's content-hashed variants are replaced.
    std::fs::remove_dir_all(site.path("drops/extra")).unwrap();
    image::RgbaImage::from_pixel(48, 48, image::Rgba([200, 30, 30, 255]))
        .save(site.path("drops/launch/badge.png"))
        .unwrap();
    build(&site);
    let after = manifest(&site);
    let gone: Vec<String> = before["files"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|path| after["files"].get(path.as_str()).is_none())
        .cloned()
        .collect();
    let (hashed, stable): (Vec<&str>, Vec<&str>) = gone
        .iter()
        .map(String::as_str)
        .partition(|path| path.starts_with("_img/") || path.starts_with("_assets/"));
    assert!(!hashed.is_empty() && stable.contains(&"extra/index.html"), "{gone:?}");

    let removing = deploy(&site, &server, "site", NOW);
    removing.success();
    assert!(
        removing.stderr().contains("next: deploy again after 2026-11-30T12:00:00Z"),
        "{}",
        removing.stderr()
    );
    // The removed page goes with the deploy that replaces the index linking to it; the
    // images stay for pages cached before.
    assert_deployed(&mut server, "site", &site, &hashed);
    deploy(&site, &server, "site", "2026-11-30T11:59:59Z").success();
    assert_deployed(&mut server, "site", &site, &hashed);
    let versions = server.versions("site");
    assert!(hashed.iter().all(|path| versions[*path].1 == 0), "nothing deleted early");

    let due = deploy(&site, &server, "site", "2026-11-30T12:00:00Z");
    due.success();
    assert!(due.stderr().contains(&format!("{} deleted", hashed.len())), "{}", due.stderr());
    assert_deployed(&mut server, "site", &site, &[]);
    let versions = server.versions("site");
    assert!(hashed.iter().all(|path| versions[*path].1 == 1), "each deleted once: {versions:?}");
}

#[test]
fn bad_input_fails_with_the_problem_and_the_fix() {
    let Some(server) = Server::start() else { return };
    let site = Site::fixture("build/basic");
    let to = format!("s3://{BUCKET}/site");

    let missing = run(&site, &server, &["deploy", "--out", "out", "--to", &to]);
    missing.failure(2);
    assert!(
        missing.stderr().contains("manifest.json` does not exist")
            && missing.stderr().contains("dropgen build")
    );

    std::fs::create_dir_all(site.path("broken")).unwrap();
    std::fs::write(site.path("broken/manifest.json"), "{\"schema\": \"dropgen.upload-manifest/0\"}").unwrap();
    let broken = run(&site, &server, &["deploy", "--out", "broken", "--to", &to]);
    broken.failure(2);
    assert!(
        broken.stderr().contains("broken/manifest.json` cannot be deployed")
            && broken.stderr().contains("build again"),
        "{}",
        broken.stderr()
    );

    build(&site);
    let url = run(&site, &server, &["deploy", "--out", "out", "--to", "gs://drops/site"]);
    url.failure(2);
    assert!(url.stderr().contains("is not an s3:// URL"), "{}", url.stderr());

    let mut env = server.env();
    env[0] = ("AWS_ACCESS_KEY_ID", "AKIAREVOKEDKEY000000");
    let credentials =
        crate::support::run_with_env(&site.root(), &["deploy", "--out", "out", "--to", &to], &env);
    credentials.failure(2);
    let stderr = credentials.stderr();
    assert!(
        stderr.contains(&to) && stderr.contains("check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"),
        "{stderr}"
    );

    let without: Vec<(&str, &str)> = server
        .env()
        .into_iter()
        .filter(|(name, _)| !name.starts_with("AWS_ACCESS") && !name.starts_with("AWS_SECRET"))
        .collect();
    let no_keys =
        crate::support::run_with_env(&site.root(), &["deploy", "--out", "out", "--to", &to], &without);
    no_keys.failure(2);
    assert!(no_keys.stderr().contains("AWS_ACCESS_KEY_ID"), "{}", no_keys.stderr());

    let no_bucket = run(&site, &server, &["deploy", "--out", "out", "--to", "s3://no-such-bucket/site"]);
    no_bucket.failure(2);
    assert!(no_bucket.stderr().contains("create the bucket"), "{}", no_bucket.stderr());

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let endpoint = format!("http://127.0.0.1:{port}");
    let mut env = server.env();
    env[3] = ("AWS_ENDPOINT_URL", &endpoint);
    let unreachable =
        crate::support::run_with_env(&site.root(), &["deploy", "--out", "out", "--to", &to], &env);
    unreachable.failure(2);
    assert!(
        unreachable.stderr().contains("cannot reach") && unreachable.stderr().contains("AWS_ENDPOINT_URL")
    );

    deploy(&site, &server, "site", NOW).success();
    let yaml = site.read("dropgen.yaml");
    site.write("dropgen.yaml", &yaml.replace("https://drops.test", "https://other.test"));
    build(&site);
    let other = deploy(&site, &server, "site", NOW);
    other.failure(2);
    assert!(other.stderr().contains("holds the deploy of `https://drops.test"), "{}", other.stderr());
}

/// Pages in the bucket (as built here) refer only to assets in the bucket.
#[track_caller]
fn assert_no_page_misses_an_asset(server: &mut Server, prefix: &str, site: &Site) {
    assert_no_page_misses_an_asset_of(server, prefix, site, &["out"]);
}

/// Pages in the bucket, each one of the builds in `outs`, refer only to assets in the bucket.
#[track_caller]
fn assert_no_page_misses_an_asset_of(server: &mut Server, prefix: &str, site: &Site, outs: &[&str]) {
    use sha2::Digest as _;
    let objects = server.objects(prefix);
    for key in objects.keys().filter(|key| key.ends_with(".html")) {
        let built = outs.iter().find_map(|out| {
            let html = std::fs::read_to_string(site.path(out).join("public").join(key)).ok()?;
            let sha256: String =
                sha2::Sha256::digest(html.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
            (objects[key]["sha256"].as_str() == Some(sha256.as_str())).then_some(html)
        });
        let html = built.unwrap_or_else(|| panic!("{key} in the bucket is none of the builds {outs:?}"));
        let references = html
            .split(['"', '\'', ' ', ',', '(', ')'])
            .filter(|part| part.starts_with("/_img/") || part.starts_with("/_assets/"));
        for reference in references {
            let path = reference.trim_start_matches('/');
            assert!(objects.contains_key(path), "{key} is in the bucket before {path}");
        }
    }
}

#[test]
fn a_deploy_killed_at_any_point_resumes_complete_uploading_nothing_twice() {
    let Some(mut server) = Server::start() else { return };
    let site = Site::fixture("build/basic");
    build(&site);
    let files = manifest(&site)["files"].as_object().unwrap().len() as u64;
    // Changes a whole first deploy makes: every file but `_headers`, and a few record writes.
    let total = files - 1 + 3;
    for stop in [1, 2, 3, files / 3, files / 2, files - 2, files, total - 1] {
        let prefix = format!("kill-{stop}");
        let to = format!("s3://{BUCKET}/{prefix}");
        let mut env = server.env();
        let stop_text = stop.to_string();
        env.push(("DROPGEN_TEST_DEPLOY_ABORT_AFTER", &stop_text));
        let killed =
            crate::support::run_with_env(&site.root(), &["deploy", "--out", "out", "--to", &to], &env);
        assert_ne!(killed.code(), 0, "stopped after {stop}: {}", killed.stderr());
        assert_no_page_misses_an_asset(&mut server, &prefix, &site);

        let resumed = deploy(&site, &server, &prefix, NOW);
        resumed.success();
        assert_deployed(&mut server, &prefix, &site, &[]);
        let versions = server.versions(&prefix);
        let twice: Vec<_> = versions.iter().filter(|(key, (puts, _))| *puts > 1 && *key != RECORD).collect();
        assert!(twice.is_empty(), "stopped after {stop}: uploaded twice: {twice:?}");
    }
}

/// Cloudflare's and Fastly's purge APIs on loopback (`tests/cdn/purge_server.py`), which
/// check every request's shape and answer the first of each vendor with 500, the second
/// with 429.
struct Cdn {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    base: String,
}

const CDN_TOKEN: &str = "purge-token";

impl Cdn {
    fn start() -> Cdn {
        let script = repo_root().join("tests/cdn/purge_server.py");
        let mut child = Command::new("python3")
            .args([script.to_str().unwrap(), CDN_TOKEN, "zone-1", "service-1"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let base = line.trim().strip_prefix("READY ").unwrap_or_else(|| panic!("{line}")).to_owned();
        let stdin = child.stdin.take().unwrap();
        Cdn { child, stdin, stdout, base }
    }

    fn command(&mut self, line: &str) -> Vec<Value> {
        writeln!(self.stdin, "{line}").unwrap();
        self.stdin.flush().unwrap();
        let mut answer = Vec::new();
        loop {
            let mut line = String::new();
            assert!(self.stdout.read_line(&mut line).unwrap() > 0, "the CDN server stopped");
            match line.trim_end() {
                "END" => return answer,
                line => answer.push(serde_json::from_str(line).unwrap()),
            }
        }
    }

    fn purged(&mut self, vendor: &str) -> Vec<String> {
        self.command(&format!("purged {vendor}"))
            .into_iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    }

    #[track_caller]
    fn assert_no_violations(&mut self) {
        assert_eq!(self.command("violations"), Vec::<Value>::new());
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("CLOUDFLARE_API_TOKEN", CDN_TOKEN.to_owned()),
            ("CLOUDFLARE_ZONE_ID", "zone-1".to_owned()),
            ("DROPGEN_CLOUDFLARE_API", format!("{}/client/v4", self.base)),
            ("FASTLY_API_TOKEN", CDN_TOKEN.to_owned()),
            ("FASTLY_SERVICE_ID", "service-1".to_owned()),
            ("DROPGEN_FASTLY_API", self.base.clone()),
        ]
    }
}

impl Drop for Cdn {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.stdin.flush();
        let _ = self.child.wait();
    }
}

fn deploy_purging(site: &Site, server: &Server, cdn: &Cdn, vendor: &str) -> Run {
    let to = format!("s3://{BUCKET}/site");
    let cdn_env = cdn.env();
    let mut env = server.env();
    env.extend(cdn_env.iter().map(|(name, value)| (*name, value.as_str())));
    crate::support::run_with_env(
        &site.root(),
        &["deploy", "--out", "out", "--to", &to, "--now", NOW, "--purge", vendor],
        &env,
    )
}

/// The absolute URLs of the stable files among `paths` (a sibling's are its original's), and
/// their cache tags but `_site`.
fn stable_urls_and_tags(manifest: &Value, paths: &[&str]) -> (Vec<String>, Vec<String>) {
    let base = manifest["build"]["base_url"].as_str().unwrap().trim_end_matches('/');
    let files = &manifest["files"];
    let (mut urls, mut tags) = (std::collections::BTreeSet::new(), std::collections::BTreeSet::new());
    for path in paths {
        let entry = &files[*path];
        if entry["cache_class"] == "immutable" {
            continue;
        }
        let owner = entry["variant_of"].as_str().map_or(entry, |original| &files[original]);
        urls.extend(
            owner["urls"].as_array().unwrap().iter().map(|url| format!("{base}{}", url.as_str().unwrap())),
        );
        tags.extend(entry["cache_tags"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_owned()));
    }
    tags.remove("_site");
    (urls.into_iter().collect(), tags.into_iter().collect())
}

#[test]
fn purge_sends_each_vendors_documented_requests_retries_and_remembers_failures() {
    let Some(mut server) = Server::start() else { return };
    let mut cdn = Cdn::start();
    let site = Site::fixture("build/basic");
    build(&site);

    // Without credentials, nothing is uploaded.
    let to = format!("s3://{BUCKET}/site");
    let missing = run(&site, &server, &["deploy", "--out", "out", "--to", &to, "--purge", "cloudflare"]);
    missing.failure(2);
    assert!(missing.stderr().contains("CLOUDFLARE_API_TOKEN is not set"), "{}", missing.stderr());
    assert!(server.versions("site").is_empty());

    // A first deploy purges every stable URL: nothing says what the CDN holds.
    let first = deploy_purging(&site, &server, &cdn, "cloudflare");
    first.success();
    let manifest_1 = manifest(&site);
    let all: Vec<&str> = manifest_1["files"].as_object().unwrap().keys().map(String::as_str).collect();
    let (urls, _) = stable_urls_and_tags(&manifest_1, &all);
    assert!(urls.len() > 3, "{urls:?}");
    assert_eq!(cdn.purged("cloudflare"), urls);
    cdn.assert_no_violations();
    // 500, then 429, then the batches.
    let requests = cdn.command("requests cloudflare")[0].as_u64().unwrap();
    assert_eq!(requests as usize, urls.len().div_ceil(30) + 2);

    // An edit purges the tags of what changed, at Fastly.
    let drop = site.read("drops/launch/drop.yaml");
    site.write("drops/launch/drop.yaml", &drop.replace("price: 79.5", "price: 89.5"));
    build(&site);
    let manifest_2 = manifest(&site);
    let changed: Vec<&str> = manifest_2["files"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(path, entry)| *path != "_headers" && manifest_1["files"].get(path.as_str()) != Some(*entry))
        .map(|(path, _)| path.as_str())
        .collect();
    let (changed_urls, tags) = stable_urls_and_tags(&manifest_2, &changed);
    assert!(tags.contains(&"launch".to_owned()), "{tags:?}");
    deploy_purging(&site, &server, &cdn, "fastly").success();
    assert_eq!(cdn.purged("fastly"), tags);
    cdn.assert_no_violations();

    // A purge that keeps failing fails the deploy, names what was not purged, and the next
    // deploy purges it.
    let mut failing = Cdn::start();
    failing.command("mode fail");
    site.write("drops/launch/drop.yaml", &drop.replace("price: 79.5", "price: 85.5"));
    build(&site);
    let failed = deploy_purging(&site, &server, &failing, "cloudflare");
    failed.failure(2);
    let stderr = failed.stderr();
    assert!(stderr.contains("the files are deployed, but purging at cloudflare failed"), "{stderr}");
    assert!(stderr.contains("429") && stderr.contains("after 5 attempts"), "{stderr}");
    for url in &changed_urls {
        assert!(
            stderr.contains(&format!("\n  {url}\n")) || stderr.contains(&format!("\n  {url}")),
            "{url}: {stderr}"
        );
    }
    assert_deployed(&mut server, "site", &site, &[]);
    failing.command("mode ok");
    let again = deploy_purging(&site, &server, &failing, "cloudflare");
    again.success();
    assert!(again.stderr().contains("uploaded 0 file(s)"), "{}", again.stderr());
    assert_eq!(failing.purged("cloudflare"), changed_urls, "left over from the failed deploy");
    failing.assert_no_violations();
    // And then there is nothing left to purge.
    let before = failing.command("requests cloudflare");
    deploy_purging(&site, &server, &failing, "cloudflare").success();
    assert_eq!(failing.command("requests cloudflare"), before);
}

#[test]
fn prewarm_requests_every_prewarm_url_as_a_browser_and_reports_the_cache_status() {
    let Some(server) = Server::start() else { return };
    let script = repo_root().join("tests/cdn/edge_server.py");
    let mut child =
        Command::new("python3").arg(&script).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut stdin = child.stdin.take().unwrap();
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let origin = line.trim().strip_prefix("READY ").unwrap().to_owned();
    let mut requests = || {
        writeln!(stdin, "requests").unwrap();
        stdin.flush().unwrap();
        let mut seen: Vec<Value> = Vec::new();
        loop {
            let mut line = String::new();
            stdout.read_line(&mut line).unwrap();
            match line.trim() {
                "END" => return seen,
                line => seen.push(serde_json::from_str(line).unwrap()),
            }
        }
    };

    let site = Site::fixture("build/basic");
    build(&site);
    let to = format!("s3://{BUCKET}/site");
    let args = ["deploy", "--out", "out", "--to", &to, "--prewarm", "--prewarm-origin", &origin];
    let dry: Vec<&str> = args.iter().copied().chain(["--dry-run"]).collect();
    run(&site, &server, &dry).success();
    assert!(requests().is_empty(), "a dry run requests nothing");

    let first = run(&site, &server, &args);
    first.success();
    let manifest = manifest(&site);
    let base = manifest["build"]["base_url"].as_str().unwrap().trim_end_matches('/');
    let wanted: Vec<String> = manifest["prewarm"]
        .as_array()
        .unwrap()
        .iter()
        .map(|url| url.as_str().unwrap().strip_prefix(base).unwrap().to_owned())
        .collect();
    assert!(wanted.iter().any(|path| path.starts_with("/_img/")), "{wanted:?}");
    let seen = requests();
    let mut paths: Vec<String> = seen.iter().map(|r| r["path"].as_str().unwrap().to_owned()).collect();
    paths.sort();
    let mut sorted = wanted.clone();
    sorted.sort();
    assert_eq!(paths, sorted, "each prewarm URL once");
    for request in &seen {
        let path = request["path"].as_str().unwrap();
        let accept = request["accept"].as_str().unwrap();
        if path.starts_with("/_img/") {
            assert!(accept.starts_with("image/avif,image/webp"), "{path}: {accept}");
        } else {
            assert!(accept.starts_with("text/html"), "{path}: {accept}");
        }
        assert!(request["accept_encoding"].as_str().unwrap().contains("br"), "{request}");
    }
    assert!(first.stderr().contains("prewarm 200 cf-cache-status: MISS"), "{}", first.stderr());

    let json: Vec<&str> = args.iter().copied().chain(["--format", "json"]).collect();
    let second = run(&site, &server, &json);
    second.success();
    let report: Value = serde_json::from_str(&second.stdout()).unwrap();
    let caches: Vec<&str> =
        report["prewarm"].as_array().unwrap().iter().map(|r| r["cache"].as_str().unwrap()).collect();
    assert_eq!(caches.len(), wanted.len());
    assert!(caches.iter().all(|cache| *cache == "cf-cache-status: HIT"), "{caches:?}");

    writeln!(stdin, "quit").unwrap();
    drop(stdin);
    child.wait().unwrap();
}

#[test]
fn purge_cloudfront_invalidates_the_changed_paths_with_a_signed_request() {
    let Some(mut server) = Server::start() else { return };
    let site = Site::fixture("build/basic");
    build(&site);
    let to = format!("s3://{BUCKET}/site");
    let endpoint = server.endpoint.clone();
    let distribution = server.distribution.clone();
    let owned: Vec<(String, String)> = server
        .env()
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .chain([
            ("CLOUDFRONT_DISTRIBUTION_ID".to_owned(), distribution),
            ("AWS_ENDPOINT_URL_CLOUDFRONT".to_owned(), endpoint),
        ])
        .collect();
    let env: Vec<(&str, &str)> = owned.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
    let args = ["deploy", "--out", "out", "--to", &to, "--now", NOW, "--purge", "cloudfront"];
    // moto checks the signature of CloudFront requests (with the key it made).
    crate::support::run_with_env(&site.root(), &args, &env).success();
    let manifest_1 = manifest(&site);
    let base = manifest_1["build"]["base_url"].as_str().unwrap().trim_end_matches('/').to_owned();
    let paths = |urls: Vec<String>| -> Vec<String> {
        urls.iter().map(|u| u.strip_prefix(&base).unwrap().to_owned()).collect()
    };
    let all: Vec<&str> = manifest_1["files"].as_object().unwrap().keys().map(String::as_str).collect();
    let invalidations = server.command("invalidations");
    assert_eq!(invalidations.len(), 1, "{invalidations:?}");
    let mut invalidated: Vec<String> = invalidations[0]["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_owned())
        .collect();
    invalidated.sort();
    assert_eq!(invalidated, paths(stable_urls_and_tags(&manifest_1, &all).0));
    assert!(invalidations[0]["caller_reference"].as_str().unwrap().starts_with("dropgen-"));

    let drop = site.read("drops/launch/drop.yaml");
    site.write("drops/launch/drop.yaml", &drop.replace("price: 79.5", "price: 89.5"));
    build(&site);
    crate::support::run_with_env(&site.root(), &args, &env).success();
    let manifest_2 = manifest(&site);
    let changed: Vec<&str> = manifest_2["files"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(path, entry)| *path != "_headers" && manifest_1["files"].get(path.as_str()) != Some(*entry))
        .map(|(path, _)| path.as_str())
        .collect();
    let invalidations = server.command("invalidations");
    assert_eq!(invalidations.len(), 2);
    let mut second: Vec<String> = invalidations[1]["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_owned())
        .collect();
    second.sort();
    assert_eq!(second, paths(stable_urls_and_tags(&manifest_2, &changed).0));

    let mut wrong = env.clone();
    wrong[1] = ("AWS_SECRET_ACCESS_KEY", "not-the-secret");
    site.write("drops/launch/drop.yaml", &drop.replace("price: 79.5", "price: 85.5"));
    build(&site);
    // S3 here does not check signatures (see deploy_server.py); CloudFront does.
    let refused = crate::support::run_with_env(&site.root(), &args, &wrong);
    refused.failure(2);
    assert!(
        refused.stderr().contains("purging at cloudfront failed")
            && refused.stderr().contains("AWS_SECRET_ACCESS_KEY"),
        "{}",
        refused.stderr()
    );
}

/// `examples/ci/dropgen.yml` deploys pushes to main after the build, with flags that exist.
#[test]
fn the_ci_example_deploys_main_after_building_it() {
    let text = std::fs::read_to_string(repo_root().join("examples/ci/dropgen.yml")).unwrap();
    let workflow: Value = serde_saphyr::from_str(&text).unwrap();
    assert_eq!(workflow["env"]["DROPGEN_DEPLOY_TO"], "", "off until the user names a bucket");
    let steps = workflow["jobs"]["site"]["steps"].as_array().unwrap();
    let position =
        |name: &str| steps.iter().position(|s| s["name"] == name).unwrap_or_else(|| panic!("no {name}"));
    let deploy = &steps[position("Deploy")];
    assert!(position("Build") < position("Deploy"));
    assert_eq!(deploy["if"], "github.event_name == 'push' && env.DROPGEN_DEPLOY_TO != ''");
    let script = deploy["run"].as_str().unwrap();
    assert!(script.contains("dropgen deploy --out dist --to \"$DROPGEN_DEPLOY_TO\""), "{script}");
    let help = crate::support::run_in(&repo_root(), &["deploy", "--help"]);
    help.success();
    for flag in ["--out", "--to", "--purge", "--prewarm", "--format"] {
        assert!(script.contains(flag) && help.stdout().contains(flag), "{flag}");
    }
    for secret in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
        assert_eq!(deploy["env"][secret], format!("${{{{ secrets.{secret} }}}}"));
    }
}

/// An edit that changes pages and images and removes a drop, killed at several points: each
/// resumed deploy ends with the edited site complete, the removed images kept for their grace
/// period, nothing uploaded twice and no page ever in the bucket before its assets.
#[test]
fn an_edit_deploy_killed_at_any_point_resumes_complete() {
    let Some(mut server) = Server::start() else { return };
    let site = Site::fixture("build/basic");
    let preview = site.read("drops/preview/drop.yaml");
    site.write("drops/extra/drop.yaml", &preview.replace("draft: true", "").replace("PREVIEW-1", "EXTRA-1"));
    std::fs::copy(site.path("drops/preview/hero.jpg"), site.path("drops/extra/hero.jpg")).unwrap();
    site.run(&["build", "--out", "before", "--now", NOW, "--quiet"]).success();
    std::fs::remove_dir_all(site.path("drops/extra")).unwrap();
    image::RgbaImage::from_pixel(48, 48, image::Rgba([20, 90, 200, 255]))
        .save(site.path("drops/launch/badge.png"))
        .unwrap();
    build(&site);
    let before: Value = serde_json::from_str(&site.read("before/manifest.json")).unwrap();
    let after = manifest(&site);
    let removed_hashed: Vec<String> = before["files"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|path| after["files"].get(path.as_str()).is_none())
        .filter(|path| before["files"][path.as_str()]["cache_class"] == "immutable")
        .cloned()
        .collect();
    assert!(!removed_hashed.is_empty());
    let extra: Vec<&str> = removed_hashed.iter().map(String::as_str).collect();

    for stop in [1, 2, 3, 5, 8, 13] {
        let prefix = format!("edit-{stop}");
        let to = format!("s3://{BUCKET}/{prefix}");
        run(&site, &server, &["deploy", "--out", "before", "--to", &to, "--now", NOW]).success();
        let first = server.versions(&prefix);
        let mut env = server.env();
        let stop_text = stop.to_string();
        env.push(("DROPGEN_TEST_DEPLOY_ABORT_AFTER", &stop_text));
        let killed = crate::support::run_with_env(
            &site.root(),
            &["deploy", "--out", "out", "--to", &to, "--now", NOW],
            &env,
        );
        assert_ne!(killed.code(), 0, "stopped after {stop}: {}", killed.stderr());
        // Pages of either build may be in the bucket; each refers only to what is there.
        assert_no_page_misses_an_asset_of(&mut server, &prefix, &site, &["before", "out"]);
        deploy(&site, &server, &prefix, NOW).success();
        assert_deployed(&mut server, &prefix, &site, &extra);
        assert_no_page_misses_an_asset(&mut server, &prefix, &site);
        let versions = server.versions(&prefix);
        let twice: Vec<_> = versions
            .iter()
            .filter(|(key, (puts, _))| *key != RECORD && *puts > first.get(*key).map_or(0, |(p, _)| *p) + 1)
            .collect();
        assert!(twice.is_empty(), "stopped after {stop}: uploaded twice: {twice:?}");
    }
}
