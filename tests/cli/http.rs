//! A minimal HTTP/1.1 client for the server tests (one request per connection; Content-Length and chunked
//! bodies), and a handle on a real `lowbit serve` process with its own data folder.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};

pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

fn read_reply(stream: TcpStream) -> Reply {
    let mut r = BufReader::new(stream);
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {line:?}"));
    let mut headers = Vec::new();
    loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let get = |n: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(n)).map(|(_, v)| v.clone());
    let mut body = Vec::new();
    if get("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        loop {
            line.clear();
            r.read_line(&mut line).unwrap();
            let n = usize::from_str_radix(line.trim(), 16).unwrap_or(0);
            if n == 0 {
                break;
            }
            let mut chunk = vec![0; n];
            r.read_exact(&mut chunk).unwrap();
            body.extend_from_slice(&chunk);
            line.clear();
            r.read_line(&mut line).unwrap();
        }
    } else if let Some(len) = get("content-length").and_then(|v| v.parse::<usize>().ok()) {
        body.resize(len, 0);
        r.read_exact(&mut body).unwrap();
    } else {
        r.read_to_end(&mut body).unwrap();
    }
    Reply { status, headers, body }
}

/// One request; `token` adds the bearer header.
pub fn request(addr: &str, method: &str, path: &str, body: &[u8], token: Option<&str>) -> Reply {
    let mut s = TcpStream::connect(addr).expect("the server accepts connections");
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let ctype = if body.first() == Some(&b'{') { "application/json" } else { "application/octet-stream" };
    write!(s, "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n{auth}\r\n", body.len()).unwrap();
    s.write_all(body).unwrap();
    read_reply(s)
}

pub fn get(addr: &str, path: &str) -> Reply {
    request(addr, "GET", path, b"", None)
}

pub fn post_json(addr: &str, path: &str, v: &serde_json::Value) -> Reply {
    request(addr, "POST", path, v.to_string().as_bytes(), None)
}

/// Uploads `bytes` as a checkpoint named `name`, expects it stored, and returns its id.
pub fn upload_id(addr: &str, bytes: &[u8], name: &str) -> String {
    let r = request(addr, "POST", &format!("/api/checkpoints?name={name}"), bytes, None);
    assert!(r.status == 201 || r.status == 200, "upload of {name}: {}", r.text());
    r.json()["id"].as_str().expect("an upload answers with its id").to_string()
}

/// A running `lowbit serve`; killed (SIGKILL) when dropped.
pub struct Server {
    pub child: Child,
    pub addr: String,
}

impl Server {
    pub fn start(data: &Path, extra: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lowbit"))
            .args(["serve", "--addr", "127.0.0.1:0", "--workers", "2", "--data-dir"])
            .arg(data)
            .arg("--assets")
            .arg(crate::util::root().join("assets"))
            .arg("--examples")
            .arg(crate::util::root().join("data"))
            .args(extra)
            .stdout(Stdio::piped())
            .spawn()
            .expect("lowbit serve starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|r| r.split('/').next())
            .unwrap_or_else(|| panic!("no URL in {line:?}"))
            .to_string();
        Self { child, addr }
    }
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
