//! What survives: builds killed at any moment, a full disk, a failing cache, and two
//! dropgens at once. Each test runs the real binary on a copy of the image fixture.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::support::{Site, tree};

fn dropgen(site: &Site, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dropgen"));
    command
        .args(args)
        .current_dir(site.root())
        .env_remove("DROPGEN_CACHE_DIR")
        .env_remove("SOURCE_DATE_EPOCH")
        .env_remove("RAYON_NUM_THREADS")
        .env("NO_COLOR", "1")
        .env("TZ", "UTC");
    command
}

fn on_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// The site at version `n` (below 60): its title and encoder qualities change, so each version's build
/// has pages to render and images to encode that no other version shares.
fn set_version(site: &Site, n: u32) {
    site.write(
        "dropgen.yaml",
        &format!(
            "base_url: https://images.drops.test\ntitle: Version {n}\ncurrency: EUR\nlocale: en-GB\n\
             checkout_url: https://shop.drops.test/checkout?sku={{sku}}\n\
             images:\n  widths: [160, 320, 480]\n  quality:\n    avif: {}\n    webp: {}\n",
            30 + n,
            35 + n
        ),
    );
}

/// `out`'s files as sha256 by path, manifest and purge list included.
fn snapshot(out: &Path) -> BTreeMap<String, String> {
    tree(out).into_iter().map(|(path, bytes)| (path, hex(&Sha256::digest(bytes)))).collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks that `out` is one whole build: `manifest.json` lists exactly the files under
/// `public/`, each with its hash and size. Returns the site title it was built with.
#[track_caller]
fn assert_whole(out: &Path) -> String {
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(out.join("manifest.json")).expect("the output has its manifest"))
            .expect("the manifest is whole JSON");
    let listed = manifest["files"].as_object().expect("a file list");
    let public = out.join("public");
    let on_disk: BTreeMap<String, Vec<u8>> = tree(&public).into_iter().collect();
    assert_eq!(
        listed.keys().collect::<Vec<_>>(),
        on_disk.keys().collect::<Vec<_>>(),
        "the manifest and the files disagree: a mix of two builds"
    );
    for (path, entry) in listed {
        let bytes = &on_disk[path];
        assert_eq!(entry["sha256"].as_str(), Some(hex(&Sha256::digest(bytes)).as_str()), "{path}");
        assert_eq!(entry["size"].as_u64(), Some(bytes.len() as u64), "{path}");
    }
    let index = String::from_utf8(on_disk["index.html"].clone()).unwrap();
    let title = index.split("<title>").nth(1).and_then(|rest| rest.split('<').next()).unwrap_or_default();
    title.to_owned()
}

/// What killed builds leave behind: staging and moved-aside folders beside `out`, and
/// half-written entries in the cache.
fn leftovers(out: &Path, cache: &Path) -> (usize, usize) {
    let beside = fs::read_dir(out.parent().unwrap())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            name.starts_with(".dist.staging-") || name.starts_with(".dist.old-")
        })
        .count();
    let temporary = walkdir::WalkDir::new(cache)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name().to_string_lossy().starts_with(".tmp-"))
        .count();
    (beside, temporary)
}

#[test]
fn builds_killed_at_any_moment_leave_a_whole_output_and_a_sound_cache() {
    const KILLS: u32 = 50;
    let site = Site::fixture("images");
    let out = site.path("dist");
    let cache = site.path("cache");
    let args = ["build", "--quiet", "--out", "dist", "--cache-dir", "cache"];
    let build = |version: u32| {
        set_version(&site, version);
        let start = Instant::now();
        let run = dropgen(&site, &args).output().unwrap();
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
        start.elapsed()
    };

    // How long a build of a new version takes here (the second: the first also analyses the
    // sources, which every later build finds in the cache). The kills are spread over it.
    build(60);
    let duration = build(61);
    let mut previous = snapshot(&out);

    // Each version is killed twice, so the second build reads what the first left in the cache.
    let version = |kill: u32| kill / 2;
    let (mut interrupted, mut swapped, mut left_behind) = (0, 0, 0);
    // The duration the kills are spread over follows the builds that finished before their
    // kill, so a busy or an idle machine still gets kills all through the build.
    let mut estimate = duration;
    for kill in 0..KILLS {
        set_version(&site, version(kill));
        // Fractions of the build's duration, in a fixed spread-out order (7 and 50 are coprime).
        let at = estimate.mul_f64(f64::from((kill * 7) % KILLS) / f64::from(KILLS) * 1.1);
        let mut child = dropgen(&site, &args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let started = Instant::now();
        let mut finished = None;
        while finished.is_none() && started.elapsed() < at {
            std::thread::sleep(Duration::from_millis(2));
            finished = child.try_wait().unwrap().map(|_| started.elapsed());
        }
        match finished.or_else(|| child.try_wait().unwrap().map(|_| started.elapsed())) {
            Some(took) => estimate = (estimate + took) / 2,
            None => interrupted += 1,
        }
        child.kill().unwrap();
        child.wait().unwrap();

        assert!(out.is_dir(), "kill {kill} at {at:?}: the output folder is missing");
        let now = snapshot(&out);
        if now != previous {
            let title = assert_whole(&out);
            assert_eq!(
                title,
                format!("Version {}", version(kill)),
                "kill {kill}: a changed output is the new build"
            );
            swapped += 1;
            previous = now;
        }
        let (beside, temporary) = leftovers(&out, &cache);
        left_behind += u32::from(beside + temporary > 0);
    }
    eprintln!(
        "{KILLS} kills over {duration:?} (at the end {estimate:?}): {interrupted} interrupted a running build, {swapped} found a new \
         output in place, {left_behind} left files behind"
    );
    assert!(interrupted >= KILLS / 3, "too few kills landed inside a build; the test proves little");

    // Every version built to completion with the cache the killed builds filled must be byte
    // for byte what a build with an empty cache makes: no damaged entry was served.
    for version in 0..KILLS / 2 {
        build(version);
        assert_eq!(leftovers(&out, &cache), (0, 0), "the next build cleans up what killed builds left");
        assert_whole(&out);
        let fresh = dropgen(&site, &["build", "--quiet", "--out", "fresh", "--cache-dir", "fresh-cache"])
            .output()
            .unwrap();
        assert!(fresh.status.success());
        let public = |dir: &str| tree(&site.path(dir).join("public"));
        assert!(public("dist") == public("fresh"), "version {version}: the cache served different bytes");
        fs::remove_dir_all(site.path("fresh-cache")).unwrap();
    }
}

#[test]
fn a_build_cleans_up_after_one_killed_while_writing() {
    let site = Site::fixture("images");
    dropgen(&site, &["build", "--quiet"]).status().unwrap();
    // What a build killed mid-write leaves: its staging folder, and (killed between the
    // fallback's two renames) the previous output moved aside with `dist` missing.
    fs::rename(site.path("dist"), site.path(".dist.old-4242")).unwrap();
    fs::create_dir_all(site.path(".dist.staging-Ab12cd/public")).unwrap();
    fs::write(site.path(".dist.staging-Ab12cd/.dropgen-output"), "").unwrap();
    let run = dropgen(&site, &["build"]).output().unwrap();
    assert!(run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("put back the previous output"), "{stderr}");
    assert!(stderr.contains("removed 1 folder(s) a killed build left"), "{stderr}");
    assert!(stderr.contains("upload 0 new, 0 changed"), "compared with the restored output: {stderr}");
    assert_eq!(leftovers(&site.path("dist"), &site.path(".dropgen-cache")), (0, 0));
}

/// Takes `dist`'s output lock the way another dropgen would.
fn hold_output_lock(site: &Site) -> File {
    let lock = File::create(site.path(".dist.lock")).unwrap();
    lock.lock().unwrap();
    lock
}

#[test]
fn a_second_writer_waits_for_the_first_or_fails_with_no_wait() {
    let site = Site::fixture("images");
    let held = hold_output_lock(&site);
    let refused = dropgen(&site, &["build", "--no-wait"]).output().unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("is in use by") && stderr.contains("dist"), "{stderr}");
    assert!(!site.path("dist").exists(), "a refused build wrote nothing");

    let mut waiting =
        dropgen(&site, &["build"]).stderr(Stdio::piped()).stdout(Stdio::null()).spawn().unwrap();
    let mut lines = BufReader::new(waiting.stderr.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.starts_with("waiting for another dropgen to finish with the output folder"), "{first}");
    assert!(waiting.try_wait().unwrap().is_none(), "it waits while the lock is held");
    drop(held);
    assert!(waiting.wait().unwrap().success());
    assert_whole(&site.path("dist"));
}

#[test]
fn builds_sharing_a_cache_run_together_and_gc_waits_for_them() {
    let site = Site::fixture("images");
    let build = |out: &str| {
        dropgen(&site, &["build", "--quiet", "--out", out, "--cache-dir", "shared"])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (one, two) = (build("one"), build("two"));
    for child in [one, two] {
        let run = child.wait_with_output().unwrap();
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    }
    assert!(tree(&site.path("one/public")) == tree(&site.path("two/public")));

    // A build holds the cache shared: gc, which deletes, must not run under it.
    let shared = File::open(site.path("shared/dropgen.lock")).unwrap();
    shared.lock_shared().unwrap();
    let gc = dropgen(&site, &["cache", "gc", "--no-wait", "--cache-dir", "shared", "--out", "one"])
        .output()
        .unwrap();
    assert_eq!(gc.status.code(), Some(2), "{}", String::from_utf8_lossy(&gc.stderr));
    assert!(String::from_utf8_lossy(&gc.stderr).contains("the cache"));
    drop(shared);
    let gc = dropgen(&site, &["cache", "gc", "--no-wait", "--cache-dir", "shared", "--out", "one"])
        .output()
        .unwrap();
    assert!(gc.status.success(), "{}", String::from_utf8_lossy(&gc.stderr));
}

#[test]
fn serve_rebuilds_take_the_output_lock() {
    let site = Site::fixture("images");
    let held = hold_output_lock(&site);
    // `--out dist`: the folder whose lock a build holds (serve alone would use its own).
    let mut serve = dropgen(&site, &["serve", "--port", "0", "--out", "dist"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(serve.stderr.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.starts_with("waiting for another dropgen"), "{first}");
    drop(held);
    let serving = lines.by_ref().map_while(Result::ok).find(|line| line.starts_with("serving http://"));
    serve.kill().unwrap();
    serve.wait().unwrap();
    assert!(serving.is_some(), "serve never started after the lock was released");
}

/// Runs `script` with `sh` as root of a new user and mount namespace, where it may mount a
/// small tmpfs; `None` when this machine does not allow that (outside CI only).
fn in_private_mounts(site: &Site, script: &str) -> Option<String> {
    let run = Command::new("unshare")
        .args(["--user", "--map-root-user", "--mount", "sh", "-euc", script])
        .current_dir(site.root())
        .env("DROPGEN", env!("CARGO_BIN_EXE_dropgen"))
        .env("NO_COLOR", "1")
        .env_remove("DROPGEN_CACHE_DIR")
        .output();
    let why = match &run {
        Ok(run) if run.status.success() => return Some(String::from_utf8_lossy(&run.stdout).into_owned()),
        Ok(run) => String::from_utf8_lossy(&run.stderr).into_owned(),
        Err(err) => err.to_string(),
    };
    if on_ci() || why.contains("dropgen") {
        panic!("the full-disk script failed:\n{why}");
    }
    eprintln!("SKIPPED: cannot mount a private tmpfs here ({})", why.trim());
    None
}

#[test]
fn a_full_disk_fails_the_build_clearly_and_keeps_the_previous_output() {
    let site = Site::fixture("images");
    // Inside the namespace: build once into a 4 MiB tmpfs, fill it, change the site, build
    // again. Prints what the Rust side checks.
    let script = r#"
        mkdir -p disk && mount -t tmpfs -o size=4m tmpfs disk
        "$DROPGEN" build --quiet --out disk/dist --cache-dir cache
        find disk/dist -type f | sort | xargs sha256sum > before.txt
        dd if=/dev/zero of=disk/filler bs=64k 2>/dev/null || true
        sed -i 's/^title: .*/title: After the disk filled/' dropgen.yaml
        code=0; "$DROPGEN" build --out disk/dist --cache-dir cache 2> stderr.txt || code=$?
        find disk/dist -type f | sort | xargs sha256sum > after.txt
        echo "exit $code"
        ls -a disk
    "#;
    let Some(stdout) = in_private_mounts(&site, script) else { return };
    assert!(stdout.starts_with("exit 2\n"), "{stdout}");
    let stderr = site.read("stderr.txt");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    assert!(stderr.contains("/disk/dist"), "names where it was writing: {stderr}");
    assert!(stderr.contains("the file system is full"), "says what to do: {stderr}");
    assert_eq!(site.read("before.txt"), site.read("after.txt"), "the previous output changed");
    let names: Vec<&str> = stdout.lines().skip(1).collect();
    assert_eq!(names, [".", "..", ".dist.lock", "dist", "filler"], "left behind: {names:?}");
}

#[test]
fn a_read_only_output_folder_is_a_clear_error() {
    let site = Site::fixture("images");
    let script = r#"
        mkdir -p locked && mount -t tmpfs -o ro,size=1m tmpfs locked
        code=0; "$DROPGEN" build --out locked/dist 2> stderr.txt || code=$?
        echo "exit $code"
    "#;
    let Some(stdout) = in_private_mounts(&site, script) else { return };
    assert_eq!(stdout, "exit 2\n");
    let stderr = site.read("stderr.txt");
    assert!(stderr.contains("locked/") && stderr.contains("Read-only file system"), "{stderr}");
    assert!(stderr.contains("choose a folder it can write"), "says what to do: {stderr}");
}

#[test]
fn a_cache_that_cannot_be_written_is_one_warning_not_a_failure() {
    let site = Site::fixture("images");
    // A 64 KiB cache: the first entries fit, then every write fails.
    let script = r#"
        mkdir -p small && mount -t tmpfs -o size=64k tmpfs small
        "$DROPGEN" build --out dist --cache-dir small 2> stderr.txt
        echo built
    "#;
    let Some(stdout) = in_private_mounts(&site, script) else { return };
    assert_eq!(stdout, "built\n");
    let stderr = site.read("stderr.txt");
    let warnings: Vec<&str> =
        stderr.lines().filter(|line| line.contains("could not be written to the cache")).collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(warnings[0].starts_with("warning: ") && warnings[0].contains("/small"), "{stderr}");
    assert_whole(&site.path("dist"));
}
