//! The hostile inputs against the real server: every file of `core/tests/hostile_files.rs` uploaded to
//! `lowbit serve` gets a 4xx within seconds, the server's peak memory (VmHWM) grows by less than 512 MB and
//! it keeps answering; oversized sweeps are refused; listings are paginated and do not carry payloads.

#[path = "../../core/tests/hostile_files.rs"]
pub mod hostile_files;

use crate::http::{Server, get, post_json, request};
use crate::util::temp_dir;
use serde_json::json;
use std::time::Instant;

/// The server process's peak resident memory in bytes.
fn peak_rss(srv: &Server) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", srv.child.id())).expect("procfs");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmHWM");
    kb * 1024
}

#[test]
fn hostile_files_get_a_4xx_quickly_and_cost_little_memory() {
    let data = temp_dir("hostile");
    let srv = Server::start(&data, &[]);
    let a = srv.addr.clone();
    assert_eq!(get(&a, "/api/health").status, 200);
    let before = peak_rss(&srv);
    for (name, bytes) in hostile_files::all() {
        let t = Instant::now();
        let r = request(&a, "POST", &format!("/api/checkpoints?name={name}"), &bytes, None);
        let secs = t.elapsed().as_secs_f64();
        println!("{name}: {} in {secs:.2} s: {}", r.status, r.text());
        assert!(matches!(r.status, 413 | 422), "{name}: {} {}", r.status, r.text());
        assert!(secs < 10.0, "{name} took {secs} s");
        let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
        assert!(msg.len() < 400, "{name}: a {}-byte message", msg.len());
        assert_eq!(get(&a, "/api/health").status, 200, "the server still answers after {name}");
    }
    let grew = peak_rss(&srv).saturating_sub(before);
    println!("peak RSS grew by {:.1} MiB", grew as f64 / (1 << 20) as f64);
    assert!(grew < 512 << 20, "peak RSS grew by {grew} bytes");
    // Nothing was catalogued and nothing was left behind in the staging folder.
    assert_eq!(get(&a, "/api/checkpoints").json()["checkpoints"].as_array().unwrap().len(), 0);
    assert_eq!(std::fs::read_dir(data.join("tmp")).map(|d| d.count()).unwrap_or(0), 0);
}

#[test]
fn sweeps_are_bounded_and_listings_are_paginated_without_payloads() {
    let data = temp_dir("hostile-jobs");
    let srv = Server::start(&data, &[]);
    let a = srv.addr.clone();
    let id = crate::util::upload_tiny(&a);

    // 10^5 configurations (a 2.6 MB request) are refused at once, not queued for minutes of work.
    let many: Vec<_> = (0..100_000).map(|i| json!({"format": "int", "bits": 2 + i % 7})).collect();
    let t = Instant::now();
    let r = post_json(&a, "/api/jobs", &json!({"kind": "sweep", "checkpoint": id, "configs": many}));
    assert_eq!(r.status, 413, "{}", r.text());
    assert!(r.json()["error"]["message"].as_str().unwrap().contains("configurations"));
    assert!(t.elapsed().as_secs_f64() < 5.0);

    // Twenty sweeps of a thousand configurations each; the listing does not load their payloads.
    let configs: Vec<_> =
        (0..1000).map(|i| json!({"format": "int", "bits": 2 + i % 7, "granularity": "tensor", "clip": format!("percentile:{}", 90.0 + (i as f64) / 100.0)})).collect();
    let mut ids = Vec::new();
    for _ in 0..20 {
        let r = post_json(&a, "/api/jobs", &json!({"kind": "sweep", "checkpoint": id, "configs": configs}));
        assert_eq!(r.status, 201, "{}", r.text());
        let jid = r.json()["id"].as_str().unwrap().to_string();
        assert_eq!(r.json()["payload"]["configs"].as_array().unwrap().len(), 1000, "one job's answer has its payload");
        let _ = request(&a, "DELETE", &format!("/api/jobs/{jid}"), b"", None);
        ids.push(jid);
    }
    let t = Instant::now();
    let all = get(&a, "/api/jobs");
    let took = t.elapsed().as_secs_f64();
    let jobs = all.json()["jobs"].as_array().unwrap().clone();
    assert_eq!(jobs.len(), 20);
    assert!(all.body.len() < 64 << 10, "a listing of twenty sweeps takes {} bytes", all.body.len());
    assert!(jobs.iter().all(|j| j.get("payload").is_none() && j["summary"]["configs"] == 1000), "{}", jobs[0]);
    assert_eq!(jobs[0]["summary"]["checkpoint"], id.as_str());
    assert!(took < 2.0, "listing took {took} s");
    assert!(all.json()["next_offset"].is_null());
    // Pages: 8 + 8 + 4, newest first, no job twice.
    let mut seen = Vec::new();
    let mut offset = Some(0u64);
    while let Some(o) = offset {
        let p = get(&a, &format!("/api/jobs?limit=8&offset={o}")).json();
        seen.extend(p["jobs"].as_array().unwrap().iter().map(|j| j["id"].as_str().unwrap().to_string()));
        offset = p["next_offset"].as_u64();
    }
    assert_eq!(seen.len(), 20);
    seen.sort();
    ids.sort();
    assert_eq!(seen, ids);
    assert_eq!(get(&a, "/api/jobs?limit=0").status, 400);
    assert_eq!(get(&a, "/api/jobs?limit=100000").status, 400);
    assert_eq!(get(&a, "/api/checkpoints?limit=1").json()["checkpoints"].as_array().unwrap().len(), 1);
    assert_eq!(get(&a, "/api/experiments?limit=1&offset=5").json()["experiments"].as_array().unwrap().len(), 0);
}
