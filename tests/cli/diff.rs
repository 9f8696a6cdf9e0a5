//! `lowbit diff` and `GET /api/diff` on the real files of DATA.md: the int8 ONNX export of MiniLM against the
//! fp32 safetensors (encodings read from the file, prefixes and transposed weights paired), and a checkpoint
//! written by `lowbit quant --out` whose per-tensor SQNR the diff must reproduce exactly.

use crate::util::{data, lowbit, lowbit_json, minilm, path_str, temp_dir};
use serde_json::Value;

#[test]
fn the_int8_onnx_minilm_against_the_fp32_one() {
    let int8 = data("minilm-int8", "minilm_int8.onnx");
    let d = lowbit_json(["diff", path_str(&minilm()), path_str(&int8), "--json"]);
    let pairs = d["pairs"].as_array().unwrap();
    let encoded: Vec<&Value> = pairs.iter().filter(|p| !p["encoding"].is_null()).collect();
    assert_eq!(encoded.len(), 38, "every INT8 tensor of DATA.md's export is paired");
    for p in &encoded {
        assert_eq!(p["encoding"]["bits"], 8);
        assert!(p["cosine"].as_f64().unwrap() > 0.999, "{}", p["a"]);
        assert!(p["sqnr_db"].as_f64().unwrap() > 30.0, "{} {}", p["a"], p["sqnr_db"]);
    }
    let words = pairs.iter().find(|p| p["a"] == "embeddings.word_embeddings.weight").unwrap();
    assert_eq!(words["pairing"], "name_suffix");
    assert_eq!(
        (&words["encoding"]["granularity"], &words["encoding"]["scales"]),
        (&Value::from("channel:0"), &Value::from(30522))
    );
    // The projection weights are stored transposed ([in, out], scales per column) under generated names.
    let moved: Vec<&&Value> = encoded.iter().filter(|p| p["transposed"] == true).collect();
    assert!(moved.len() >= 30, "{}", moved.len());
    assert!(moved.iter().all(|p| p["pairing"] == "content" && p["encoding"]["granularity"] == "channel:1"));
    assert!(d["only_b"].as_array().unwrap().is_empty(), "{}", d["only_b"]);
    // The table form.
    let out = lowbit(["diff", path_str(&minilm()), path_str(&int8)]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("I8 channel:0 (30522 scales)"));
}

#[test]
fn a_diff_reproduces_the_quantizer_and_reads_its_format_back() {
    let dir = temp_dir("diff-quant");
    let out = dir.join("q.safetensors");
    let re = r"encoder\.layer\.0\..*(query|key|value|dense)\.weight";
    let q = lowbit_json([
        "quant",
        path_str(&minilm()),
        "--tensor",
        re,
        "--format",
        "int",
        "--bits",
        "4",
        "--granularity",
        "channel",
        "--clip",
        "octav",
        "--out",
        path_str(&out),
        "--json",
    ]);
    let d = lowbit_json(["diff", path_str(&minilm()), path_str(&out), "--json"]);
    let results = q["results"].as_array().unwrap();
    assert_eq!(results.len(), 6);
    for r in results {
        let p = d["pairs"].as_array().unwrap().iter().find(|p| p["a"] == r["tensor"]).unwrap();
        let (x, y) = (p["sqnr_db"].as_f64().unwrap(), r["sqnr_db"].as_f64().unwrap());
        assert!((x - y).abs() <= 1e-9 * y.abs(), "{}: diff {x} vs quant {y}", r["tensor"]);
        assert_eq!(
            (&p["inferred"]["bits"], &p["inferred"]["granularity"]),
            (&Value::from(4), &Value::from("channel:0")),
            "{}",
            r["tensor"]
        );
    }
    // Untouched tensors are exact copies.
    let same = d["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["sqnr_db"].is_null() && p["cosine"].as_f64().is_some_and(|c| (c - 1.0).abs() < 1e-12))
        .count();
    assert!(same >= 90, "{same}");

    // The endpoint gives the CLI's answer.
    use crate::http::{Server, get};
    let srv = Server::start(&dir.join("server"), &[]);
    let up = |p: &std::path::Path, name: &str| crate::http::upload_id(&srv.addr, &std::fs::read(p).unwrap(), name);
    let (a, b) = (up(&minilm(), "minilm.safetensors"), up(&out, "q.safetensors"));
    let r = get(&srv.addr, &format!("/api/diff?a={a}&b={b}"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["diff"], d);
    assert_eq!(r.json()["b"]["name"], "q.safetensors");
    assert_eq!(get(&srv.addr, &format!("/api/diff?a={a}&b=nope")).status, 404);
    assert_eq!(get(&srv.addr, &format!("/api/diff?a={a}")).status, 400);
    assert_eq!(get(&srv.addr, &format!("/api/diff?a={a}&b={b}&pairs=oops")).status, 400);
    let bad = get(
        &srv.addr,
        &format!("/api/diff?a={a}&b={b}&pairs=embeddings.LayerNorm.weight=embeddings.word_embeddings.weight"),
    );
    assert_eq!(bad.status, 400, "{}", bad.text());
    drop(srv);
    let _ = std::fs::remove_dir_all(dir);
}
