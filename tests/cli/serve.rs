//! `dropgen serve` over real HTTP: what it sends for each `Accept-Encoding`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use crate::support::Site;

/// `dropgen serve --port 0` in `site`, and the address it serves on.
fn serve(site: &Site) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dropgen"))
        .args(["serve", "--port", "0"])
        .current_dir(site.root())
        .env("NO_COLOR", "1")
        .env_remove("DROPGEN_CACHE_DIR")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
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
    let built = std::fs::read(site.path("dist/public/sitemap.xml")).unwrap();
    assert_eq!(sitemap, built);
    let stylesheet = std::fs::read_dir(site.path("dist/public/_assets"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .find(|name| name.starts_with("style-") && name.ends_with(".css"))
        .expect("the theme's stylesheet");
    let (headers, body) = get(&address, &format!("/_assets/{stylesheet}"), Some("gzip;q=1, br;q=0"));
    assert_eq!(header(&headers, "content-encoding"), Some("gzip"));
    assert_eq!(body, std::fs::read(site.path(&format!("dist/public/_assets/{stylesheet}.gz"))).unwrap());

    let _ = child.kill();
    let _ = child.wait();
}
