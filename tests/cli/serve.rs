//! `lowbit serve`: starts, says its URL, answers health and serves the dashboard's files.

use crate::util::{root, temp_dir};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

/// A plain HTTP/1.1 GET; returns (status line, body).
fn get(addr: &str, path: &str) -> (String, String) {
    let mut s = TcpStream::connect(addr).expect("server accepts connections");
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    (head.lines().next().unwrap_or("").to_string(), body.to_string())
}

#[test]
fn serve_prints_its_url_and_answers() {
    let data = temp_dir("serve");
    let mut child = Command::new(env!("CARGO_BIN_EXE_lowbit"))
        .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .arg("--assets")
        .arg(root().join("assets"))
        .stdout(Stdio::piped())
        .spawn()
        .expect("lowbit serve starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr =
        line.split("http://").nth(1).and_then(|r| r.split('/').next()).expect("a URL on the first line").to_string();
    let (status, body) = get(&addr, "/api/health");
    assert!(status.contains("200"), "{status}");
    let v: serde_json::Value = serde_json::from_str(body.trim()).unwrap_or_else(|_| {
        // Chunked transfer: the JSON is the second line.
        serde_json::from_str(body.lines().nth(1).unwrap_or("")).expect("health is JSON")
    });
    assert_eq!(v["status"], "ok");
    let (status, body) = get(&addr, "/");
    assert!(status.contains("200") && body.contains("<title>lowbit</title>"), "{status}");
    let (status, _) = get(&addr, "/no/such/file");
    assert!(status.contains("404"), "{status}");
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(data.is_dir());
}
