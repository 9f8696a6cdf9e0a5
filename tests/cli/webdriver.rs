//! A small W3C WebDriver client over the tests' own HTTP client, driving Debian's headless Chromium through
//! chromedriver (both installed by scripts/setup.sh). Enough for the dashboard tests: navigate, find by
//! `data-testid`, click, type, run scripts, take screenshots.

use crate::http::{Reply, request};
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A running chromedriver; killed when dropped.
pub struct Driver {
    child: Child,
    pub addr: String,
}

impl Driver {
    pub fn start() -> Driver {
        let bin = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .expect("chromedriver is missing: scripts/setup.sh installs Debian's chromium and chromium-driver");
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let addr = format!("127.0.0.1:{port}");
        let t = Instant::now();
        while std::net::TcpStream::connect(&addr).is_err() {
            assert!(t.elapsed() < Duration::from_secs(20), "chromedriver did not listen on {addr}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Driver { child, addr }
    }

    /// A new browser with a fresh profile (so a second session is a fresh browser, as a colleague's would be).
    pub fn session(&self) -> Session {
        let profile = crate::util::temp_dir(&format!("chromium-{}", rand_suffix()));
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1400,1000", format!("--user-data-dir={}", profile.display())]}}}});
        let r = call(&self.addr, "POST", "/session", &caps);
        let id = r["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {r}")).to_string();
        let s = Session { driver: self.addr.clone(), id };
        s.cmd("POST", "/timeouts", json!({"script": 120_000}));
        s
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn rand_suffix() -> String {
    format!("{}-{:?}", std::process::id(), Instant::now()).chars().filter(char::is_ascii_alphanumeric).collect()
}

fn call(addr: &str, method: &str, path: &str, body: &Value) -> Value {
    let body = if method == "GET" || method == "DELETE" { Vec::new() } else { body.to_string().into_bytes() };
    let r: Reply = request(addr, method, path, &body, None);
    let v: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    assert!(r.status < 300, "WebDriver {method} {path}: {} {}", r.status, r.text());
    v["value"].clone()
}

/// One browser.
pub struct Session {
    driver: String,
    id: String,
}

impl Session {
    fn cmd(&self, method: &str, path: &str, body: Value) -> Value {
        call(&self.driver, method, &format!("/session/{}{path}", self.id), &body)
    }
    fn try_cmd(&self, method: &str, path: &str, body: Value) -> Option<Value> {
        let r =
            request(&self.driver, method, &format!("/session/{}{path}", self.id), body.to_string().as_bytes(), None);
        (r.status < 300).then(|| serde_json::from_slice::<Value>(&r.body).unwrap_or(Value::Null)["value"].clone())
    }
    pub fn goto(&self, url: &str) {
        self.cmd("POST", "/url", json!({"url": url}));
    }
    /// The element with this `data-testid`, waiting for it to appear.
    pub fn find(&self, testid: &str) -> String {
        self.wait_for(&format!("[data-testid=\"{testid}\"]"))
    }
    pub fn wait_for(&self, css: &str) -> String {
        let t = Instant::now();
        loop {
            if let Some(v) = self.try_cmd("POST", "/element", json!({"using": "css selector", "value": css}))
                && let Some(e) = v[ELEMENT].as_str()
            {
                return e.to_string();
            }
            assert!(t.elapsed() < Duration::from_secs(90), "no element {css} after 90 s; page: {}", self.body_text());
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    pub fn count(&self, css: &str) -> usize {
        self.cmd("POST", "/elements", json!({"using": "css selector", "value": css})).as_array().map_or(0, Vec::len)
    }
    pub fn text(&self, testid: &str) -> String {
        let e = self.find(testid);
        self.cmd("GET", &format!("/element/{e}/text"), Value::Null).as_str().unwrap_or("").to_string()
    }
    pub fn click(&self, testid: &str) {
        let e = self.find(testid);
        self.cmd("POST", &format!("/element/{e}/click"), json!({}));
    }
    /// Types into an element; for a file input, `text` is the path of the file to choose.
    pub fn send_keys(&self, testid: &str, text: &str) {
        let e = self.find(testid);
        self.cmd("POST", &format!("/element/{e}/value"), json!({"text": text}));
    }
    pub fn attr(&self, testid: &str, name: &str) -> Option<String> {
        let e = self.find(testid);
        self.cmd("GET", &format!("/element/{e}/attribute/{name}"), Value::Null).as_str().map(str::to_string)
    }
    /// A DOM property (a control's current `value`, say), as a string.
    pub fn prop(&self, testid: &str, name: &str) -> Option<String> {
        let e = self.find(testid);
        let v = self.cmd("GET", &format!("/element/{e}/property/{name}"), Value::Null);
        v.as_str().map(str::to_string).or_else(|| (!v.is_null()).then(|| v.to_string()))
    }
    pub fn exec(&self, script: &str, args: Value) -> Value {
        self.cmd("POST", "/execute/sync", json!({"script": script, "args": args}))
    }
    pub fn exec_async(&self, script: &str, args: Value) -> Value {
        self.cmd("POST", "/execute/async", json!({"script": script, "args": args}))
    }
    /// Sets a control's value the way a user's edit does (an `input` or `change` event).
    pub fn set_value(&self, testid: &str, value: &str, event: &str) {
        self.exec(
            "const e = document.querySelector(`[data-testid=\"${arguments[0]}\"]`); e.value = arguments[1]; e.dispatchEvent(new Event(arguments[2], {bubbles: true}));",
            json!([testid, value, event]),
        );
    }
    /// Waits until `f` holds, with the page's text in the failure message.
    pub fn until(&self, what: &str, f: impl Fn() -> bool) {
        let t = Instant::now();
        while !f() {
            assert!(t.elapsed() < Duration::from_secs(120), "timed out waiting for {what}; page: {}", self.body_text());
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    pub fn body_text(&self) -> String {
        let s = self.try_cmd(
            "POST",
            "/execute/sync",
            json!({"script": "return document.body.innerText.slice(0, 2000)", "args": []}),
        );
        s.and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
    }
    /// Saves a PNG of the viewport to tests/artifacts/NAME.png.
    pub fn screenshot(&self, name: &str) -> std::path::PathBuf {
        let b64 = self.cmd("GET", "/screenshot", Value::Null).as_str().unwrap_or("").to_string();
        let dir = crate::util::root().join("tests/artifacts");
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(format!("{name}.png"));
        std::fs::write(&p, base64_decode(&b64)).unwrap();
        p
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = request(&self.driver, "DELETE", &format!("/session/{}", self.id), b"", None);
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let bytes: Vec<u8> = s.bytes().filter(|&c| c != b'=' && !c.is_ascii_whitespace()).collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, &c)| acc | (val(c) as u32) << (18 - 6 * i));
        let k = chunk.len().saturating_sub(1);
        out.extend_from_slice(&n.to_be_bytes()[1..1 + k]);
    }
    out
}

#[test]
fn base64_decodes_what_screenshots_send() {
    assert_eq!(base64_decode("aGVsbG8="), b"hello");
    assert_eq!(base64_decode("aGk="), b"hi");
    assert_eq!(base64_decode("YWJj"), b"abc");
}
