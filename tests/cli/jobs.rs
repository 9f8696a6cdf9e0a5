//! Job kinds through the real server: the `export` kind quantizes the real MiniLM into a downloadable
//! safetensors artifact equal, tensor by tensor, to what `lowbit quant --out` writes; killed mid-way it
//! resumes from the last tensor written after a restart (progress never goes back) and still produces the
//! same file; its metric series, its artifact list and an experiment kept from it (columns from its rows).

use crate::http::{Server, get, post_json, request};
use crate::util::{lowbit, minilm, path_str, temp_dir};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};

pub fn wait_for(a: &str, jid: &str, what: &str, f: impl Fn(&Value) -> bool) -> Value {
    let t = Instant::now();
    loop {
        let j = get(a, &format!("/api/jobs/{jid}")).json();
        if f(&j) {
            return j;
        }
        assert!(j["state"] != "failed", "{what} failed: {j}");
        assert!(t.elapsed() < Duration::from_secs(300), "waiting for {what}: {j}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn export_writes_the_quantized_checkpoint_and_resumes_after_a_restart() {
    let data = temp_dir("jobs-export");
    let srv = Server::start(&data, &[]);
    let a = srv.addr.clone();
    let bytes = std::fs::read(minilm()).unwrap();
    let id = request(&a, "POST", "/api/checkpoints?name=minilm.safetensors", &bytes, None).json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    // MSE search per channel: slow enough to be stopped in the middle.
    let config = json!({"format": "int", "bits": 4, "granularity": "channel", "clip": "mse"});
    let r = post_json(&a, "/api/jobs", &json!({"kind": "export", "checkpoint": id, "config": config}));
    assert_eq!(r.status, 201, "{}", r.text());
    let jid = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(r.json()["summary"]["format"], "int4");
    let before = wait_for(&a, &jid, "a few tensors", |j| j["done"].as_i64().unwrap_or(0) >= 3);
    assert_eq!(before["total"], 104);
    srv.kill();

    let srv = Server::start(&data, &[]);
    let a = srv.addr.clone();
    let j = get(&a, &format!("/api/jobs/{jid}")).json();
    assert_eq!(j["state"], "interrupted", "{j}");
    let kept = j["done"].as_i64().unwrap();
    assert!((3..104).contains(&kept), "{j}");
    assert_eq!(post_json(&a, &format!("/api/jobs/{jid}/rerun"), &json!({})).json()["state"], "queued");
    // Resumed, not restarted: progress never falls below what was kept.
    let r = get(&a, &format!("/api/jobs/{jid}/events"));
    let events: Vec<Value> = r
        .text()
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(|d| serde_json::from_str(d.trim()).unwrap())
        .collect();
    let dones: Vec<i64> = events.iter().map(|e| e["done"].as_i64().unwrap()).collect();
    assert!(dones.iter().all(|&d| d >= kept), "kept {kept}, then {dones:?}");
    assert_eq!(events.last().unwrap()["state"], "succeeded", "{:?}", events.last());
    let rows: usize = events.iter().map(|e| e["new_results"].as_array().unwrap().len()).sum();
    assert_eq!(rows, 104, "the event stream carried every result row once");

    // One row per tensor, none twice.
    let results = get(&a, &format!("/api/jobs/{jid}/results")).json()["results"].as_array().unwrap().clone();
    assert_eq!(results.len(), 104);
    let quantized = results.iter().filter(|r| r.get("copied").is_none()).count();
    assert_eq!(quantized, 103, "every float tensor quantized, the int64 position ids copied");

    // The artifact: listed with its size, hash and URL; the download is those bytes.
    let arts = get(&a, &format!("/api/jobs/{jid}/artifacts")).json()["artifacts"].as_array().unwrap().clone();
    assert_eq!(arts.len(), 1, "{arts:?}");
    let art = &arts[0];
    assert!(art["name"].as_str().unwrap().starts_with("minilm-int4"), "{art}");
    let file = get(&a, art["url"].as_str().unwrap());
    assert_eq!(file.status, 200);
    assert_eq!(file.body.len() as i64, art["size_bytes"].as_i64().unwrap());
    let sha: String = Sha256::digest(&file.body).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(sha, art["sha256"].as_str().unwrap());

    // Tensor by tensor what the command line writes for the same configuration.
    let out = data.join("cli-out.safetensors");
    let cli = lowbit([
        "quant",
        path_str(&minilm()),
        "--format",
        "int",
        "--bits",
        "4",
        "--granularity",
        "channel",
        "--clip",
        "mse",
        "--out",
        path_str(&out),
    ]);
    assert!(cli.status.success(), "{}", String::from_utf8_lossy(&cli.stderr));
    let want_bytes = std::fs::read(&out).unwrap();
    let want = lowbit_core::readers::read(&want_bytes).unwrap();
    let got = lowbit_core::readers::read(&file.body).unwrap();
    assert_eq!(got.tensors.len(), want.tensors.len());
    for (g, w) in got.tensors.iter().zip(&want.tensors) {
        assert_eq!((&g.name, g.dtype, &g.shape), (&w.name, w.dtype, &w.shape));
        assert!(g.data == w.data, "tensor `{}` differs from `lowbit quant --out`", g.name);
    }

    // Metric series along the checkpoint, one point per quantized tensor (none twice after the resume).
    let m = get(&a, &format!("/api/jobs/{jid}/metrics")).json();
    let series = m["series"].as_array().unwrap();
    let sqnr = series.iter().find(|s| s["name"] == "sqnr_db").unwrap();
    let mut steps: Vec<i64> = sqnr["steps"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
    steps.dedup();
    assert!(steps.len() >= 103, "{} steps", steps.len());

    // Kept as an experiment: the columns come from the export's rows.
    let e = post_json(&a, "/api/experiments", &json!({"job": jid, "name": "minilm int4 export"}));
    assert_eq!(e.status, 201, "{}", e.text());
    let eid = e.json()["id"].as_str().unwrap().to_string();
    assert_eq!(e.json()["kind"], "export");
    let csv = get(&a, &format!("/api/experiments/{eid}/export?format=csv")).text();
    let head = csv.lines().next().unwrap().to_string();
    assert!(head.starts_with("experiment,tensor") && head.contains("sqnr_db") && head.contains("copied"), "{head}");
    assert_eq!(csv.lines().count(), 1 + 104);

    // A fresh re-run starts over and produces the same file.
    let fresh = post_json(&a, &format!("/api/jobs/{jid}/rerun"), &json!({"fresh": true}));
    assert_eq!(fresh.json()["state"], "queued", "{}", fresh.text());
    wait_for(&a, &jid, "the fresh run", |j| j["state"] == "succeeded");
    let again = get(&a, &format!("/api/jobs/{jid}/artifacts")).json()["artifacts"][0].clone();
    assert_eq!(again["sha256"], art["sha256"], "the export is deterministic");
    // Deleting the checkpoint keeps the artifact (another reference to the blob store).
    assert_eq!(request(&a, "DELETE", &format!("/api/checkpoints/{id}"), b"", None).status, 204);
    assert_eq!(get(&a, again["url"].as_str().unwrap()).status, 200);
}

#[test]
fn job_specifications_are_checked_by_their_kind() {
    let data = temp_dir("jobs-bad");
    let srv = Server::start(&data, &[]);
    let a = srv.addr.clone();
    let id = crate::util::upload_tiny(&a);
    let post = |v: Value| post_json(&a, "/api/jobs", &v);
    let msg = |r: &crate::http::Reply| r.json()["error"]["message"].as_str().unwrap().to_string();
    let r = post(json!({"kind": "distill", "checkpoint": id}));
    assert_eq!(r.status, 400);
    assert!(msg(&r).contains("sweep, export"), "{}", msg(&r));
    assert_eq!(post(json!({"checkpoint": id})).status, 400);
    let r = post(json!({"kind": "export", "checkpoint": id, "config": {"format": "int", "bits": 40}}));
    assert_eq!(r.status, 400);
    assert!(msg(&r).starts_with("config:"), "{}", msg(&r));
    let r = post(
        json!({"kind": "export", "checkpoint": id, "config": {"format": "int"}, "prune": {"pattern": "diagonal"}}),
    );
    assert_eq!(r.status, 400);
    let r = post(json!({"kind": "export", "checkpoint": "nope", "config": {"format": "int"}}));
    assert_eq!(r.status, 404);
    let r = post(json!({"kind": "export", "checkpoint": id, "config": {"format": "int"}, "extra": 1}));
    assert_eq!(r.status, 400, "unknown fields are refused");
    assert_eq!(get(&a, "/api/jobs/nope/artifacts").status, 404);
    assert_eq!(get(&a, "/api/jobs/nope/metrics").status, 404);

    // A small export with pruning runs to the end; its artifact holds the pruned, quantized tensor.
    let r = post(
        json!({"kind": "export", "checkpoint": id, "config": {"format": "int", "bits": 8}, "prune": {"pattern": "fine", "sparsity": 0.5}}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let jid = r.json()["id"].as_str().unwrap().to_string();
    wait_for(&a, &jid, "the export", |j| j["state"] == "succeeded");
    let art = get(&a, &format!("/api/jobs/{jid}/artifacts")).json()["artifacts"][0].clone();
    let body = get(&a, art["url"].as_str().unwrap()).body;
    let c = lowbit_core::readers::read(&body).unwrap();
    let v = c.tensors[0].to_f32().unwrap();
    assert_eq!(v.iter().filter(|&&x| x == 0.0).count(), 32, "half the weights pruned: {v:?}");
    assert_eq!(request(&a, "DELETE", &format!("/api/jobs/{jid}"), b"", None).status, 409);
    assert_eq!(get(&a, &format!("/api/jobs/{jid}/artifacts/nothing.safetensors")).status, 404);
}

#[test]
fn export_copies_a_tensor_it_cannot_quantize_and_says_why() {
    let data = temp_dir("jobs-export-nan");
    let srv = Server::start(&data, &[]);
    let a = srv.addr.clone();
    use lowbit_core::readers::safetensors::{WriteTensor, write};
    let good: Vec<f32> = (0..64).map(|i| i as f32 / 7.0 - 4.0).collect();
    let mut bad = good.clone();
    bad[5] = f32::NAN;
    bad[9] = f32::INFINITY;
    let file =
        write(&[WriteTensor::f32("good", &[8, 8], &good), WriteTensor::f32("bad", &[8, 8], &bad)], &Default::default())
            .unwrap();
    let up = request(&a, "POST", "/api/checkpoints?name=nan.safetensors", &file, None);
    assert_eq!(up.status, 201, "{}", up.text());
    let id = up.json()["id"].as_str().unwrap().to_string();
    let r = post_json(
        &a,
        "/api/jobs",
        &json!({"kind": "export", "checkpoint": id, "config": {"format": "int", "bits": 4}}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let jid = r.json()["id"].as_str().unwrap().to_string();
    wait_for(&a, &jid, "the export", |j| j["state"] == "succeeded");

    let rows = get(&a, &format!("/api/jobs/{jid}/results")).json()["results"].clone();
    let row = |name: &str| rows.as_array().unwrap().iter().find(|r| r["tensor"] == name).unwrap().clone();
    let bad_row = row("bad");
    assert_eq!(bad_row["copied"], true, "{bad_row}");
    let why = bad_row["error"].as_str().unwrap();
    assert!(why.contains("`bad`") && (why.contains("NaN") || why.contains("non-finite")), "{why}");
    assert!(row("good")["sqnr_db"].as_f64().unwrap() > 15.0, "{}", row("good"));

    let art = get(&a, &format!("/api/jobs/{jid}/artifacts")).json()["artifacts"][0].clone();
    let body = get(&a, art["url"].as_str().unwrap()).body;
    let c = lowbit_core::readers::read(&body).unwrap();
    let got = |name: &str| c.tensors.iter().find(|t| t.name == name).unwrap().to_f32().unwrap();
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&got("bad")), bits(&bad), "the unquantizable tensor is kept bit for bit");
    let q = got("good");
    assert_ne!(q, good, "the other tensor is quantized");
    // int4 per tensor, max clip: scale 5/8, the top value saturates at 7 × 5/8 (error 5/8), the rest round.
    assert!(q.iter().zip(&good).all(|(a, b)| (a - b).abs() <= 0.625 + 1e-6), "{q:?}");
}

#[test]
fn catdet_sweeps_run_as_jobs_and_are_kept_as_experiments() {
    let data = temp_dir("jobs-catdet");
    let srv = Server::start(&data, &[]);
    let a = srv.addr.clone();
    let spec = json!({"kind": "catdet", "gt": {"example": "TUD-Campus/gt.txt"}, "proposal_thresholds": [0.1, 0.5], "margins": [0.1],
        "keep_alives": [0, 3]});
    let r = post_json(&a, "/api/jobs", &spec);
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["summary"]["settings"], 4);
    let jid = r.json()["id"].as_str().unwrap().to_string();
    wait_for(&a, &jid, "the catdet job", |j| j["state"] == "succeeded");
    let rows = get(&a, &format!("/api/jobs/{jid}/results")).json()["results"].as_array().unwrap().clone();
    assert_eq!(rows.len(), 4);
    assert!(rows.iter().all(|r| r["synthetic"] == true && r["ops_reduction"].as_f64().unwrap() > 1.0), "{rows:?}");
    // The same setting from the command line gives the same numbers (same seeds, same core).
    let gt = crate::util::data("tud", "tud/TUD-Campus/gt.txt");
    let cli = crate::util::lowbit_json([
        "video",
        "catdet",
        "--gt",
        path_str(&gt),
        "--proposal-threshold",
        "0.1",
        "--margin",
        "0.1",
        "--keep-alive",
        "0",
        "--json",
    ]);
    assert_eq!(cli["runs"][0]["ap50"], rows[0]["ap50"]);
    assert_eq!(cli["runs"][0]["average_delay"], rows[0]["average_delay"]);
    let m = get(&a, &format!("/api/jobs/{jid}/metrics")).json();
    let names: Vec<&str> = m["series"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["ap50", "average_delay", "ops_reduction"]);
    let e = post_json(&a, "/api/experiments", &json!({"job": jid, "name": "catdet on TUD-Campus"}));
    assert_eq!(e.status, 201, "{}", e.text());
    let csv = get(&a, &format!("/api/experiments/{}/export?format=csv", e.json()["id"].as_str().unwrap())).text();
    let head = csv.lines().next().unwrap();
    assert!(
        head.contains("proposal_threshold") && head.contains("average_delay") && head.contains("ops_reduction"),
        "{head}"
    );
    assert_eq!(csv.lines().count(), 5);

    // A ground truth given as text works too; bad specifications are refused with the reason.
    let text = std::fs::read_to_string(&gt).unwrap();
    let r = post_json(
        &a,
        "/api/jobs",
        &json!({"kind": "catdet", "gt": {"text": text}, "proposal_thresholds": [0.2], "margins": [0.0], "keep_alives": [1]}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let bad = |v: Value, status: u16, says: &str| {
        let r = post_json(&a, "/api/jobs", &v);
        assert_eq!(r.status, status, "{v}: {}", r.text());
        assert!(r.text().contains(says), "{}", r.text());
    };
    bad(
        json!({"kind": "catdet", "gt": {"example": "Nowhere/gt.txt"}, "proposal_thresholds": [0.2], "margins": [0.0], "keep_alives": [1]}),
        404,
        "no video example",
    );
    bad(
        json!({"kind": "catdet", "gt": {"upload": "nope"}, "proposal_thresholds": [0.2], "margins": [0.0], "keep_alives": [1]}),
        404,
        "no video file nope",
    );
    bad(json!({"kind": "catdet", "proposal_thresholds": [0.2], "margins": [0.0], "keep_alives": [1]}), 400, "gt");
    bad(
        json!({"kind": "catdet", "gt": {"example": "TUD-Campus/gt.txt"}, "proposal_thresholds": [0.2], "margins": [-1.0], "keep_alives": [1]}),
        400,
        "margin",
    );
    bad(
        json!({"kind": "catdet", "gt": {"example": "TUD-Campus/gt.txt"}, "proposal_thresholds": [], "margins": [0.0], "keep_alives": [1]}),
        400,
        "at least one",
    );
    bad(
        json!({"kind": "catdet", "gt": {"text": "1,1,0,0,-3,4,1\n"}, "proposal_thresholds": [0.2], "margins": [0.0], "keep_alives": [1]}),
        400,
        "text line 1: negative box size",
    );
}

#[test]
fn video_files_are_uploaded_and_the_video_kinds_equal_the_command_line() {
    let data = temp_dir("jobs-video");
    let srv = Server::start(&data, &[]);
    let a = srv.addr.clone();
    let gt_path = crate::util::data("tud", "tud/TUD-Campus/gt.txt");
    let hyp_path = crate::util::data("tud", "tud/TUD-Campus/test.txt");
    let det_path = data.join("det.txt");
    let o = lowbit(["video", "synth", "--gt", path_str(&gt_path), "--seed", "3", "--out", path_str(&det_path)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let upload = |file: &std::path::Path, role: &str| {
        let r = request(
            &a,
            "POST",
            &format!("/api/videos?name=campus-{role}&role={role}"),
            &std::fs::read(file).unwrap(),
            None,
        );
        assert_eq!(r.status, 201, "{}", r.text());
        r.json()
    };
    let gt = upload(&gt_path, "gt");
    assert_eq!(
        (gt["first_frame"].as_i64(), gt["last_frame"].as_i64(), gt["objects"].as_i64()),
        (Some(1), Some(71), Some(8))
    );
    let det = upload(&det_path, "det");
    let hyp = upload(&hyp_path, "tracks");
    let id = |v: &Value| v["id"].as_str().unwrap().to_string();
    assert_eq!(get(&a, "/api/videos").json()["videos"].as_array().unwrap().len(), 3);
    assert_eq!(get(&a, &format!("/api/videos/{}/text", id(&gt))).body, std::fs::read(&gt_path).unwrap());

    // Bad files are refused with the reader's reason (file and line); a wrong role or an empty body too.
    let bad = request(&a, "POST", "/api/videos?name=bad.txt", b"1,1,0,0,5,5,1\n2,1,0,0,-3,4,1\n", None);
    assert_eq!(bad.status, 422, "{}", bad.text());
    assert!(bad.text().contains("bad.txt line 2: negative box size"), "{}", bad.text());
    assert_eq!(request(&a, "POST", "/api/videos?role=detections", b"1,1,0,0,5,5,1\n", None).status, 400);
    assert_eq!(request(&a, "POST", "/api/videos", b"", None).status, 422);
    assert_eq!(request(&a, "POST", "/api/videos?role=det", b"1 Car 0 0 10 10\n", None).status, 422);

    let run = |spec: Value| {
        let r = post_json(&a, "/api/jobs", &spec);
        assert_eq!(r.status, 201, "{spec}: {}", r.text());
        let jid = r.json()["id"].as_str().unwrap().to_string();
        wait_for(&a, &jid, "the video job", |j| j["state"] == "succeeded");
        let rows = get(&a, &format!("/api/jobs/{jid}/results")).json()["results"].as_array().unwrap().clone();
        (jid, rows)
    };

    // delay: one row per FP ratio; the numbers and the whole report are the CLI's.
    let (jid, rows) =
        run(json!({"kind": "delay", "videos": [{"gt": {"upload": id(&gt)}, "det": {"upload": id(&det)}}],
        "precision": 0.8}));
    let cli = crate::util::lowbit_json([
        "video",
        "metrics",
        "--gt",
        path_str(&gt_path),
        "--det",
        path_str(&det_path),
        "--precision",
        "0.8",
        "--json",
    ]);
    assert_eq!(rows.len(), 6);
    for (r, p) in rows.iter().zip(cli["delays"].as_array().unwrap()) {
        assert_eq!(
            (&r["fp_ratio"], &r["score_threshold"], &r["mean_delay"]),
            (&p["fp_ratio"], &p["score_threshold"], &p["mean_delay"])
        );
        assert_eq!((&r["ap50"], &r["average_delay"]), (&cli["ap50"], &cli["average_delay"]));
    }
    let report = get(&a, &format!("/api/jobs/{jid}/artifacts/report.json")).json();
    let mut cli_report = cli.clone();
    cli_report.as_object_mut().unwrap().remove("elapsed_ms");
    assert_eq!(report, cli_report);
    let e = post_json(&a, "/api/experiments", &json!({"job": jid, "name": "AD of a synthetic detector"}));
    assert_eq!(e.status, 201, "{}", e.text());
    assert_eq!(e.json()["kind"], "delay");

    // The same pair from the examples and inline text: the same numbers.
    let det_text = std::fs::read_to_string(&det_path).unwrap();
    let (_, again) =
        run(json!({"kind": "delay", "videos": [{"gt": {"example": "TUD-Campus/gt.txt"}, "det": {"text": det_text}}],
        "precision": 0.8}));
    assert_eq!(again, rows);

    // mot: the tracker's output against the ground truth, as `lowbit video mot`.
    let (_, rows) = run(json!({"kind": "mot", "gt": {"upload": id(&gt)}, "hyp": {"upload": id(&hyp)}}));
    let cli =
        crate::util::lowbit_json(["video", "mot", "--gt", path_str(&gt_path), "--hyp", path_str(&hyp_path), "--json"]);
    assert_eq!(rows, vec![cli]);

    // patchnet: one row per key-frame policy, as `lowbit video patchnet --track`.
    let (_, rows) = run(json!({"kind": "patchnet", "frames": 3, "digits": 1}));
    let mnist = crate::util::data("mnist", "mnist/t10k-images-idx3-ubyte");
    let dir = path_str(mnist.parent().unwrap().parent().unwrap()).to_string();
    let cli = crate::util::lowbit_json([
        "video", "patchnet", "--track", "--frames", "3", "--digits", "1", "--data", &dir, "--json",
    ]);
    assert_eq!(&Value::Array(rows), &cli["tracking"]);

    // Bad specifications name the problem; a deleted upload is gone for new jobs.
    let refused = |spec: Value, status: u16, says: &str| {
        let r = post_json(&a, "/api/jobs", &spec);
        assert_eq!(r.status, status, "{spec}: {}", r.text());
        assert!(r.text().contains(says), "{}", r.text());
    };
    refused(json!({"kind": "delay", "videos": []}), 400, "1 to 64 videos");
    refused(
        json!({"kind": "delay", "videos": [{"gt": {"upload": id(&gt)}, "det": {"upload": id(&det)}}], "clip": -1}),
        400,
        "clip",
    );
    refused(json!({"kind": "patchnet", "frames": 1}), 400, "frames must be");
    refused(json!({"kind": "patchnet", "digits": 21}), 400, "1 to 20");
    assert_eq!(request(&a, "DELETE", &format!("/api/videos/{}", id(&hyp)), b"", None).status, 204);
    assert_eq!(get(&a, &format!("/api/videos/{}", id(&hyp))).status, 404);
    refused(json!({"kind": "mot", "gt": {"upload": id(&gt)}, "hyp": {"upload": id(&hyp)}}), 404, "no video file");
}
