//! The image cache in object storage (`--cache-dir s3://bucket/prefix`), against a real
//! S3-compatible server on loopback (moto, started by `tests/s3/cache_server.py`). Without
//! moto and boto3 the tests print SKIPPED, except on CI (`CI=true`), where they fail.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use crate::support::{Run, Site, tree};

const NOW: &str = "2026-11-23T12:00:00Z";
const BUCKET: &str = "dropgen-cache";
/// A moto server with one bucket, [`BUCKET`], stopped when dropped.
struct Server {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    endpoint: String,
}

impl Server {
    /// Starts the server; `None` (after printing SKIPPED) when Python or moto is missing
    /// outside CI.
    fn start() -> Option<Server> {
        let (child, stdin, stdout, words) =
            crate::support::start_python_server("tests/s3/cache_server.py", &[BUCKET])?;
        let endpoint = words.into_iter().next().expect("the S3 server said READY <endpoint>");
        Some(Server { child, stdin, stdout, endpoint })
    }

    /// The environment dropgen reads its connection from.
    fn env(&self) -> [(&str, &str); 5] {
        [
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL", &self.endpoint),
            ("AWS_ALLOW_HTTP", "true"),
        ]
    }

    fn command(&mut self, line: &str) -> Vec<String> {
        writeln!(self.stdin, "{line}").unwrap();
        self.stdin.flush().unwrap();
        let mut answer = Vec::new();
        loop {
            let mut line = String::new();
            assert!(self.stdout.read_line(&mut line).unwrap() > 0, "the S3 server stopped");
            match line.trim_end() {
                "END" => return answer,
                line => answer.push(line.to_owned()),
            }
        }
    }

    /// Every key under `prefix`.
    fn keys(&mut self, prefix: &str) -> Vec<String> {
        self.command(&format!("keys {prefix}"))
    }

    /// Overwrites the object `key` with bytes that are not a cache entry.
    fn damage(&mut self, key: &str) {
        assert!(self.command(&format!("damage {key}")).is_empty());
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

/// The number of variants a build or shard encoded, from its summary.
#[track_caller]
fn encoded(run: &Run) -> u64 {
    crate::support::encoded_count(&run.stderr())
}

#[test]
fn an_s3_cache_is_filled_and_a_fresh_build_reuses_it_byte_identically() {
    let Some(mut server) = Server::start() else { return };
    let url = format!("s3://{BUCKET}/site/cache/");
    let first = Site::fixture("build/basic");
    let cold =
        run(&first, &server, &["build", "--verbose", "--out", "out", "--now", NOW, "--cache-dir", &url]);
    cold.success();
    assert!(encoded(&cold) > 0, "{}", cold.stderr());
    assert!(!first.path(".dropgen-cache").exists(), "a local cache was made beside the bucket");
    let images = server.keys("site/cache/v1/");
    let compressed = server.keys("site/cache/compressed-v1/");
    assert!(!images.is_empty() && !compressed.is_empty(), "{images:?} {compressed:?}");
    let laid_out = |key: &String| match key.split('/').collect::<Vec<_>>().as_slice() {
        ["site", "cache", "v1", shard, name] => {
            shard.len() == 2 && name.len() == 64 && name.starts_with(shard)
        }
        _ => false,
    };
    assert!(images.iter().all(laid_out), "keys are laid out as in a folder, <prefix>/v1/ab/ab…: {images:?}");

    // Another machine: a fresh copy of the site, no local state, the same bucket (given by
    // the environment variable this time).
    let second = Site::fixture("build/basic");
    let env: Vec<(&str, &str)> =
        server.env().into_iter().chain([("DROPGEN_CACHE_DIR", url.as_str())]).collect();
    let warm = crate::support::run_with_env(
        &second.root(),
        &["build", "--verbose", "--out", "out", "--now", NOW],
        &env,
    );
    warm.success();
    assert_eq!(encoded(&warm), 0, "{}", warm.stderr());
    assert!(
        warm.stderr().contains("0 made"),
        "compressed copies come from the bucket too: {}",
        warm.stderr()
    );
    assert!(tree(&first.path("out")) == tree(&second.path("out")), "a build from the bucket differs");

    // `cache gc` lists the prefix: it deletes a stale entry and an old layout's objects, keeps
    // what the site uses, and touches nothing else under the prefix.
    let stale = format!("site/cache/v1/ff/{}", "f".repeat(64));
    for key in [stale.as_str(), "site/cache/v0/ab/old", "site/cache/notes.txt", "site/cache-2/v1/ab/x"] {
        server.damage(key);
    }
    let gc = run(&second, &server, &["cache", "gc", "--out", "out", "--cache-dir", &url]);
    gc.success();
    assert!(gc.stderr().contains("removed 2 image entries"), "{}", gc.stderr());
    assert!(gc.stderr().contains(&format!("kept {}", images.len())), "{}", gc.stderr());
    assert!(gc.stderr().contains(&format!("s3://{BUCKET}/site/cache:")), "{}", gc.stderr());
    assert_eq!(server.keys("site/cache/v1/"), images);
    assert_eq!(server.keys("site/cache/compressed-v1/"), compressed);
    assert!(server.keys("site/cache/v0/").is_empty());
    assert_eq!(server.keys("site/cache/notes.txt"), ["site/cache/notes.txt"]);
    assert_eq!(server.keys("site/cache-2/"), ["site/cache-2/v1/ab/x"]);
}

#[test]
fn a_damaged_object_in_s3_is_detected_deleted_and_made_again() {
    let Some(mut server) = Server::start() else { return };
    let url = format!("s3://{BUCKET}/damaged");
    let site = Site::fixture("build/basic");
    run(&site, &server, &["build", "--verbose", "--out", "clean", "--now", NOW, "--cache-dir", &url])
        .success();
    let keys = server.keys("damaged/v1/");
    // A variant or a source's analysis (which makes its variants again): either way the same
    // key is in the bucket after the rebuild, holding a whole entry again.
    let victim = keys.last().unwrap().clone();
    server.damage(&victim);
    let repaired =
        run(&site, &server, &["build", "--verbose", "--out", "repaired", "--now", NOW, "--cache-dir", &url]);
    repaired.success();
    assert!(repaired.stderr().contains("1 damaged entries rebuilt"), "{}", repaired.stderr());
    assert!(encoded(&repaired) >= 1, "{}", repaired.stderr());
    assert_eq!(server.keys("damaged/v1/"), keys, "the damaged entry was made again under its key");
    assert!(tree(&site.path("clean")) == tree(&site.path("repaired")), "the rebuilt output differs");
    let again =
        run(&site, &server, &["build", "--verbose", "--out", "again", "--now", NOW, "--cache-dir", &url]);
    again.success();
    assert_eq!(encoded(&again), 0, "{}", again.stderr());
    assert!(!again.stderr().contains("damaged"), "{}", again.stderr());
}

#[test]
fn concurrent_shards_fill_one_bucket_and_the_final_build_matches_a_local_one() {
    let Some(mut server) = Server::start() else { return };
    let site = Site::fixture("images");
    let local =
        site.run(&["build", "--verbose", "--out", "local", "--now", NOW, "--cache-dir", "local-cache"]);
    local.success();

    let url = format!("s3://{BUCKET}/shards");
    let shards: Vec<_> = ["1/2", "2/2"]
        .into_iter()
        .map(|shard| {
            let child = Command::new(env!("CARGO_BIN_EXE_dropgen"))
                .args(["build", "--shard", shard, "--now", NOW, "--cache-dir", &url, "--jobs", "1"])
                .current_dir(site.root())
                .env_remove("DROPGEN_CACHE_DIR")
                .envs(server.env())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            (shard, child)
        })
        .collect();
    let mut total = 0;
    for (shard, child) in shards {
        let run = Run { output: child.wait_with_output().unwrap() };
        run.success();
        assert!(run.stderr().contains(&format!("into the cache {url}")), "{shard}: {}", run.stderr());
        total += encoded(&run);
    }
    assert_eq!(total, encoded(&local), "the shards together encoded more or less than one build");
    assert!(!server.keys("shards/v1/").is_empty());

    let last =
        run(&site, &server, &["build", "--verbose", "--out", "sharded", "--now", NOW, "--cache-dir", &url]);
    last.success();
    assert!(last.stderr().contains("0 decoded, 0 encoded"), "{}", last.stderr());
    assert!(tree(&site.path("local")) == tree(&site.path("sharded")), "sharded output differs from local");
}

#[test]
fn an_unreachable_bucket_is_an_error_naming_the_url_and_the_environment() {
    let site = Site::fixture("build/basic");
    // Nothing listens on port 9 of loopback (discard is never enabled on test machines).
    let env = [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
        ("AWS_ALLOW_HTTP", "true"),
    ];
    let started = std::time::Instant::now();
    let run = crate::support::run_with_env(
        &site.root(),
        &["build", "--out", "out", "--cache-dir", "s3://nowhere-bucket/cache"],
        &env,
    );
    run.failure(2);
    let stderr = run.stderr();
    assert!(stderr.contains("the cache `s3://nowhere-bucket/cache` cannot be reached"), "{stderr}");
    assert!(stderr.contains("AWS_ENDPOINT_URL") && stderr.contains("AWS_ACCESS_KEY_ID"), "{stderr}");
    assert!(!site.path("out").exists(), "output written without a cache");
    assert!(started.elapsed() < std::time::Duration::from_secs(60), "took {:?}", started.elapsed());

    for (url, says) in [
        ("s3://Not_A_Bucket/x", "is not a bucket name"),
        ("gs://bucket/x", "no other URL scheme is supported"),
    ] {
        let run = site.run(&["build", "--out", "out", "--cache-dir", url]);
        run.failure(2);
        assert!(run.stderr().contains(url) && run.stderr().contains(says), "{url}: {}", run.stderr());
    }
}

#[test]
fn a_bucket_that_does_not_exist_is_an_error_at_the_start() {
    let Some(server) = Server::start() else { return };
    let site = Site::fixture("build/basic");
    let run = run(&site, &server, &["build", "--out", "out", "--cache-dir", "s3://no-such-bucket/cache"]);
    run.failure(2);
    assert!(run.stderr().contains("`s3://no-such-bucket/cache` cannot be reached"), "{}", run.stderr());
    assert!(!run.stderr().contains("images:"), "the build went on: {}", run.stderr());
}
