//! `dropgen serve` over real HTTP: what it sends for each `Accept-Encoding`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use crate::support::Site;

/// `dropgen serve --port 0 ARGS` started in `site`, its log on a pipe.
fn spawn_serve(site: &Site, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_dropgen"))
        .args(["serve", "--port", "0"])
        .args(args)
        .current_dir(site.root())
        .env("NO_COLOR", "1")
        .env_remove("DROPGEN_CACHE_DIR")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

/// `dropgen serve --port 0` in `site`, and the address it serves on.
fn serve(site: &Site) -> (Child, String) {
    let mut child = spawn_serve(site, &[]);
    let lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let address = lines
        .map_while(Result::ok)
        .find_map(|line| {
            line.strip_prefix("serving http://").map(|rest| rest.split('/').next().unwrap().to_owned())
        })
        .expect("serve printed its address");
    (child, address)
}

/// The headers (lower-cased names) and body of `GET path`.
fn get(address: &str, path: &str, accept_encoding: Option<&str>) -> (Vec<(String, String)>, Vec<u8>) {
    let mut stream = TcpStream::connect(address).unwrap();
    let accept = accept_encoding.map(|value| format!("Accept-Encoding: {value}\r\n")).unwrap_or_default();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {address}\r\n{accept}Connection: close\r\n\r\n").unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").expect("a whole response");
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let headers = head
        .lines()
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    (headers, response[split + 4..].to_vec())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

#[test]
fn serve_sends_what_a_cdn_would_for_each_accept_encoding() {
    let site = Site::fixture("build/basic");
    let (mut child, address) = serve(&site);

    // A page: compressed now, because the preview adds its reload script to it.
    let (plain_headers, plain) = get(&address, "/launch/", None);
    assert_eq!(header(&plain_headers, "content-encoding"), None);
    assert_eq!(header(&plain_headers, "vary"), Some("Accept-Encoding"));
    let (headers, body) = get(&address, "/launch/", Some("gzip, deflate, br, zstd"));
    assert_eq!(header(&headers, "content-encoding"), Some("br"));
    let mut page = Vec::new();
    brotli::Decompressor::new(body.as_slice(), 4096).read_to_end(&mut page).unwrap();
    assert_eq!(page, plain, "the brotli page decompresses to the plain one");
    assert!(String::from_utf8_lossy(&page).contains("/_dropgen/reload.js"));

    // Any other file: the build's own sibling, byte for byte.
    let (_, sitemap) = get(&address, "/sitemap.xml", None);
    let built = std::fs::read(site.path("dist-preview/public/sitemap.xml")).unwrap();
    assert_eq!(sitemap, built);
    let stylesheet = std::fs::read_dir(site.path("dist-preview/public/_assets"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .find(|name| name.starts_with("style-") && name.ends_with(".css"))
        .expect("the theme's stylesheet");
    let (headers, body) = get(&address, &format!("/_assets/{stylesheet}"), Some("gzip;q=1, br;q=0"));
    assert_eq!(header(&headers, "content-encoding"), Some("gzip"));
    assert_eq!(
        body,
        std::fs::read(site.path(&format!("dist-preview/public/_assets/{stylesheet}.gz"))).unwrap()
    );

    // Drafts are shown, marked as drafts, where `build` leaves them out.
    let (_, draft) = get(&address, "/preview/", None);
    let draft = String::from_utf8(draft).unwrap();
    assert!(draft.contains(r#"<p class="draft-note" role="note"><strong>Draft</strong>"#), "{draft}");
    assert!(!site.read("dist-preview/public/launch/index.html").contains(r#"class="draft-note""#));
    // The preview has its own folder: `build`'s output, which the next build compares
    // against, is not touched.
    assert!(!site.path("dist").exists());

    let _ = child.kill();
    let _ = child.wait();
}

/// `serve` rebuilds by updating its output file by file; after an edit, a drop removed and a
/// drop added, the output is byte for byte what `dropgen build` makes from nothing, and the
/// files the edits did not touch were left where they were.
#[test]
fn serve_updates_its_output_to_what_build_writes() {
    use std::os::unix::fs::MetadataExt;
    use std::sync::mpsc;
    use std::time::Duration;

    let site = Site::fixture("build/basic");
    copy_drop(&site.path("drops/launch"), &site.path("drops/second"));
    let mut child = spawn_serve(&site, &["--out", "out"]);
    // Its log, read on a thread so that serve never blocks on a full pipe.
    let (lines, log) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let wait_for = |start: &str, what: &str| loop {
        let line =
            log.recv_timeout(Duration::from_secs(120)).unwrap_or_else(|_| panic!("no rebuild after {what}"));
        assert!(!line.contains("error"), "{what}: {line}");
        if line.starts_with(start) {
            return;
        }
    };
    let next_build = |what: &str| wait_for("built ", what);
    // Watching starts before serving: an edit from now on is seen.
    wait_for("serving ", "starting");
    let inode = |rel: &str| std::fs::metadata(site.path("out/public").join(rel)).unwrap().ino();
    let not_found_page = inode("404.html");
    // A swap would make every folder again; an update keeps them.
    let (public_folder, launch_folder) = (inode(""), inode("launch"));
    assert!(site.path("out/public/second/index.html").is_file());

    let drop = site.read("drops/launch/drop.yaml");
    let title = drop.lines().find(|line| line.starts_with("title:")).unwrap().to_owned();
    site.write("drops/launch/drop.yaml", &drop.replacen(&title, "title: \"Renamed launch\"", 1));
    next_build("an edit");
    std::fs::rename(site.path("drops/second"), site.path("second")).unwrap();
    next_build("a drop removed");
    copy_drop(&site.path("drops/launch"), &site.path("drops/third"));
    next_build("a drop added");
    // A save may come as more than one event and so cost an extra rebuild: stop only once
    // serve has been quiet for a while, never in the middle of one.
    while log.recv_timeout(Duration::from_secs(2)).is_ok() {}
    child.kill().unwrap();
    child.wait().unwrap();

    assert_eq!(inode("404.html"), not_found_page, "an unchanged page was written again");
    assert_eq!(
        (inode(""), inode("launch")),
        (public_folder, launch_folder),
        "the output was made again whole"
    );
    assert!(!site.path("out/public/second").exists(), "the removed drop's folder is still there");
    assert!(!site.path("out").join(".dropgen-updating").exists());
    site.run(&["build", "--out", "fresh", "--cache-dir", "empty-cache", "--drafts"]).success();
    assert!(
        crate::support::tree(&site.path("out/public")) == crate::support::tree(&site.path("fresh/public")),
        "serve's output differs from a build from nothing"
    );
    assert_eq!(site.read("out/manifest.json"), site.read("fresh/manifest.json"));
}

/// A copy of the drop folder `from` at `to`, its SKUs renamed (they must be unique), made
/// beside it and renamed in, so that `serve` never sees it half made.
fn copy_drop(from: &std::path::Path, to: &std::path::Path) {
    // Outside `drops/`, where a folder without `drop.yaml` is an error.
    let site = to.parent().and_then(std::path::Path::parent).unwrap();
    let making = site.join(format!("{}.making", to.file_name().unwrap().to_string_lossy()));
    std::fs::create_dir_all(&making).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), making.join(entry.file_name())).unwrap();
    }
    let name = to.file_name().unwrap().to_string_lossy().to_uppercase();
    let drop = std::fs::read_to_string(making.join("drop.yaml")).unwrap();
    std::fs::write(making.join("drop.yaml"), drop.replace("sku: LAUNCH", &format!("sku: {name}"))).unwrap();
    std::fs::rename(&making, to).unwrap();
}
