//! `lowbit train` on the real digit CNN and MNIST: a short QAT run end to end (curve, clips, the trained
//! checkpoint opening like any other), and every bad setting refused with a message that names it.

use crate::util::{data, lowbit, lowbit_json, minilm, path_str, temp_dir};

fn mnist_dir() -> std::path::PathBuf {
    data("mnist", "mnist/train-labels-idx1-ubyte").parent().unwrap().to_path_buf()
}

/// `lowbit train --model digit-cnn --init INIT --data <MNIST> ARGS… --json`, parsed.
fn train_digit_cnn(init: &std::path::Path, args: &[&str]) -> serde_json::Value {
    let m = mnist_dir();
    let mut all = vec!["train", "--model", "digit-cnn", "--init", path_str(init), "--data", path_str(&m)];
    all.extend_from_slice(args);
    lowbit_json(all)
}

#[test]
fn a_short_qat_run_reports_its_curve_and_writes_a_checkpoint_the_analyzer_opens() {
    let cnn = data("digit-cnn", "digit_cnn.pth");
    let dir = temp_dir("train");
    let out = dir.join("qat.safetensors");
    let v = train_digit_cnn(
        &cnn,
        &[
            "--format",
            "int",
            "--bits",
            "2",
            "--granularity",
            "channel",
            "--clip",
            "octav",
            "--grad",
            "pwl",
            "--clip-every",
            "2",
            "--act-format",
            "uint",
            "--act-clip",
            "percentile:99.9",
            "--steps",
            "20",
            "--batch",
            "32",
            "--eval-every",
            "10",
            "--eval-images",
            "300",
            "--out",
            path_str(&out),
            "--json",
        ],
    );
    assert_eq!(v["method"], "qat");
    assert_eq!(v["grad"], "pwl");
    assert_eq!(v["steps"], 20);
    let acc = |k: &str| v[k].as_f64().unwrap_or_else(|| panic!("{k} in {v}"));
    for k in ["test_accuracy", "ptq_accuracy", "initial_accuracy"] {
        assert!((0.0..=1.0).contains(&acc(k)), "{k} is a fraction");
    }
    assert!(acc("initial_accuracy") > 0.95, "the real digit CNN unquantized");
    let curve = v["curve"].as_array().unwrap();
    assert_eq!(curve.iter().map(|p| p["step"].as_u64().unwrap()).collect::<Vec<_>>(), [10, 20]);
    assert_eq!(curve[1]["test_accuracy"], v["test_accuracy"]);
    let clips = v["clips"].as_array().unwrap();
    assert_eq!(clips.len(), 5);
    assert_eq!(clips[0]["layer"], "conv_layers.0.weight");
    assert_eq!(clips[0]["groups"], 32, "per channel: one clip per output channel");
    assert_eq!(v["act"]["bits"], 8, "activations uint8 by default");
    let acts = v["act_clips"].as_array().unwrap();
    assert_eq!(acts.len(), 4, "every layer's input but the image's");
    // The trained weights open in the analyzer like any checkpoint, with the digit CNN's tensor names.
    let info = lowbit_json(["info", path_str(&out), "--json"]);
    let names: Vec<&str> = info["tensors"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 10);
    assert!(names.contains(&"fc_layers.2.weight") && names.contains(&"conv_layers.6.bias"), "{names:?}");
    // … and train again from them.
    let again =
        train_digit_cnn(&out, &["--method", "fp32", "--steps", "2", "--batch", "16", "--eval-images", "100", "--json"]);
    assert_eq!(again["method"], "fp32");
    // Trained ternary from the same start: three ternary layers with their learned scales.
    let ttq =
        train_digit_cnn(&cnn, &["--method", "ttq", "--steps", "3", "--batch", "16", "--eval-images", "100", "--json"]);
    let scales = ttq["ternary_scales"].as_array().unwrap();
    let layers: Vec<&str> = scales.iter().map(|s| s["layer"].as_str().unwrap()).collect();
    assert_eq!(layers, ["conv_layers.3.weight", "conv_layers.6.weight", "fc_layers.0.weight"], "ends in fp32");
    assert!(scales.iter().all(|s| s["wp"].as_f64().unwrap() > 0.0 && s["wn"].as_f64().unwrap() > 0.0));
    // Filter pruning to 50 % (one-shot, then retraining): per layer sparsity, storage and SCNN.
    let p = train_digit_cnn(
        &cnn,
        &[
            "--method",
            "prune",
            "--pattern",
            "filter",
            "--sparsity",
            "0.5",
            "--prune-ramp",
            "0",
            "--steps",
            "3",
            "--batch",
            "16",
            "--eval-images",
            "100",
            "--scnn-images",
            "1",
            "--json",
        ],
    );
    assert_eq!(p["prune"]["pattern"], "filter");
    let layers = p["pruned_layers"].as_array().unwrap();
    assert_eq!(layers.len(), 5);
    for l in &layers[..4] {
        assert!((l["sparsity"].as_f64().unwrap() - 0.5).abs() < 0.02, "{l}");
    }
    assert_eq!(layers[4]["sparsity"], 0.0, "the classifier is not pruned");
    assert!(layers[1]["scnn"]["speedup_vs_dcnn"].as_f64().unwrap() > 1.0, "{}", layers[1]);
    assert!(layers[1]["storage"].as_array().unwrap().iter().any(|c| c["scheme"] == "dense"));
    assert_eq!(p["curve"][0]["sparsity"], 0.5);
}

#[test]
fn bad_training_settings_are_refused_with_the_option_named() {
    let m = mnist_dir();
    let fails = |args: &[&str], needle: &str| {
        let mut all = vec!["train", "--data", path_str(&m), "--steps", "1", "--eval-images", "10"];
        all.extend_from_slice(args);
        let out = lowbit(&all);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: `{needle}` not in {err}");
        assert!(!err.contains("panicked"), "{err}");
    };
    fails(&["--model", "resnet50", "--method", "fp32"], "unknown model `resnet50`");
    fails(&["--model", "mlp", "--method", "sgd"], "unknown training method");
    fails(&["--model", "mlp", "--format", "int", "--bits", "99"], "bits");
    fails(&["--model", "mlp", "--method", "fp32", "--format", "int"], "--format is for --method qat");
    fails(&["--model", "mlp", "--format", "int", "--bits", "4", "--grad", "lsq2"], "unknown gradient estimator");
    fails(&["--model", "mlp", "--method", "fp32", "--lr=-1"], "--lr");
    fails(&["--model", "mlp", "--method", "ttq", "--format", "int"], "--format is for --method qat, not ttq");
    fails(&["--model", "mlp", "--method", "prune"], "--method prune needs --pattern");
    fails(
        &["--model", "mlp", "--method", "fp32", "--act-format", "uint"],
        "activation quantization is for --method qat",
    );
    fails(&["--model", "mlp", "--format", "int", "--act-format", "nvfp4"], "activations are quantized");
    fails(&["--model", "mlp", "--format", "int", "--act-bits", "4"], "need --act-format");
    fails(&["--model", "mlp", "--format", "fp8-e4m3", "--lsq"], "--lsq learns an int grid's step");
    fails(&["--model", "mlp", "--method", "prune", "--pattern", "kernel"], "--sparsity is needed");
    fails(&["--model", "mlp", "--method", "prune", "--pattern", "diagonal", "--sparsity", "0.5"], "pattern");
    fails(&["--model", "mlp", "--method", "prune", "--pattern", "fine", "--sparsity", "1.5"], "sparsity");
    fails(&["--model", "mlp", "--method", "fp32", "--pattern", "fine"], "--pattern is for --method prune");
    fails(&["--model", "mlp", "--method", "ttq", "--ternary-threshold", "2"], "--ternary-threshold");
    fails(&["--model", "mlp", "--method", "fp32", "--batch", "0"], "--batch");
    fails(&["--model", "digit-cnn", "--method", "fp32", "--init", path_str(&minilm())], "not the digit-cnn model");
    let out = lowbit(["train", "--model", "mlp", "--method", "fp32", "--data", "/nonexistent", "--steps", "1"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("scripts/fetch-data.sh mnist"));
}

/// The `train` job through the real server: killed in the middle it resumes after a restart from its last
/// evaluation and ends with exactly the curve of the uninterrupted command-line run; its rows, series and
/// artifacts (a checkpoint the analyzer opens, the curve as CSV, the CLI's JSON); cancel; bad specs.
#[test]
fn the_train_job_resumes_after_a_restart_with_the_uninterrupted_curve() {
    use crate::http::{get, post_json, request};
    use crate::jobs::wait_for;
    use serde_json::json;
    let run = json!({"model": "lenet5", "method": "qat", "steps": 240, "batch": 32, "lr": 0.01,
        "schedule": "cosine", "optimizer": "sgd", "seed": 3, "eval_every": 40, "eval_images": 300,
        "quant": {"format": "int", "bits": 3, "granularity": "channel", "clip": "octav"}, "grad": "mad",
        "clip_every": 4});
    let dir = temp_dir("train-job");
    let (srv, jid) = interrupted_and_resumed(&dir, run, 90);
    let a = srv.addr.clone();

    let cli = lowbit_json([
        "train",
        "--model",
        "lenet5",
        "--method",
        "qat",
        "--steps",
        "240",
        "--batch",
        "32",
        "--lr",
        "0.01",
        "--schedule",
        "cosine",
        "--optimizer",
        "sgd",
        "--seed",
        "3",
        "--eval-every",
        "40",
        "--eval-images",
        "300",
        "--format",
        "int",
        "--bits",
        "3",
        "--granularity",
        "channel",
        "--clip",
        "octav",
        "--grad",
        "mad",
        "--clip-every",
        "4",
        "--data",
        path_str(&mnist_dir()),
        "--json",
    ]);
    let rows = get(&a, &format!("/api/jobs/{jid}/results")).json()["results"].clone();
    assert_eq!(rows, cli["curve"], "the resumed job's curve is the uninterrupted run's");

    let m = get(&a, &format!("/api/jobs/{jid}/metrics")).json();
    let names: Vec<&str> = m["series"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    for n in ["loss", "test_accuracy", "train_accuracy", "fp32_accuracy", "clip/conv1.weight", "clip/fc3.weight"] {
        assert!(names.contains(&n), "{n} in {names:?}");
    }
    let arts = get(&a, &format!("/api/jobs/{jid}/artifacts")).json()["artifacts"].as_array().unwrap().clone();
    let art = |n: &str| get(&a, arts.iter().find(|x| x["name"] == n).unwrap()["url"].as_str().unwrap());
    let csv = art("curve.csv").text();
    assert_eq!(csv.lines().count(), 1 + 6, "{csv}");
    assert!(csv.starts_with("step,loss,train_accuracy,test_accuracy"));
    let report = art("report.json").json();
    assert_eq!(report["test_accuracy"], cli["test_accuracy"]);
    assert_eq!(report["ptq_accuracy"], cli["ptq_accuracy"]);
    let ckpt = art("trained.safetensors");
    let c = lowbit_core::readers::read(&ckpt.body).unwrap();
    assert_eq!(c.tensors.len(), 10, "LeNet-5's weights and biases");
    // It opens in the analyzer like any upload.
    let up = request(&a, "POST", "/api/checkpoints?name=qat.safetensors", &ckpt.body, None);
    assert_eq!(up.status, 201, "{}", up.text());

    // Cancelled while running.
    let long = json!({"kind": "train", "run": {"model": "mlp", "method": "fp32", "steps": 100000, "eval_every": 1000}});
    let r = post_json(&a, "/api/jobs", &long);
    let lid = r.json()["id"].as_str().unwrap().to_string();
    wait_for(&a, &lid, "running", |j| j["done"].as_i64().unwrap_or(0) >= 10);
    assert_eq!(request(&a, "DELETE", &format!("/api/jobs/{lid}"), b"", None).status, 200);
    wait_for(&a, &lid, "cancelled", |j| j["state"] == "cancelled");

    // A distributed run (4 workers, DGC) as a job: its exchange as series.
    let dgc = json!({"kind": "train", "run": {"model": "mlp", "method": "dgc", "steps": 6, "batch": 32,
        "eval_every": 3, "eval_images": 200, "dist": {"workers": 4, "compressor": "dgc", "sparsity": 0.99,
        "warmup_epochs": 0}}});
    let r = post_json(&a, "/api/jobs", &dgc);
    assert_eq!(r.status, 201, "{}", r.text());
    let did = r.json()["id"].as_str().unwrap().to_string();
    wait_for(&a, &did, "the dgc run", |j| j["state"] == "succeeded");
    let m = get(&a, &format!("/api/jobs/{did}/metrics")).json();
    let names: Vec<&str> = m["series"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"bytes_sent") && names.contains(&"simulated_seconds"), "{names:?}");
    let arts = get(&a, &format!("/api/jobs/{did}/artifacts")).json()["artifacts"].as_array().unwrap().clone();
    let report = get(&a, arts.iter().find(|x| x["name"] == "report.json").unwrap()["url"].as_str().unwrap()).json();
    assert!(report["compression_ratio"].as_f64().unwrap() > 40.0, "{report}");

    let refused = |spec: serde_json::Value, status: u16, says: &str| {
        let r = post_json(&a, "/api/jobs", &json!({"kind": "train", "run": spec}));
        assert_eq!(r.status, status, "{}", r.text());
        assert!(r.text().contains(says), "{}", r.text());
    };
    refused(json!({"model": "resnet", "method": "fp32", "steps": 5}), 400, "resnet");
    refused(json!({"model": "mlp", "method": "qat", "steps": 5}), 400, "format");
    refused(json!({"model": "mlp", "method": "fp32", "steps": 1_000_000}), 413, "more than a job may run");
    refused(
        json!({"model": "mlp", "method": "dgc", "steps": 5, "dist": {"workers": 65, "compressor": "dgc"}}),
        400,
        "--workers 65",
    );
    refused(
        json!({"model": "mlp", "method": "prune", "steps": 5, "prune": {"pattern": "fine", "sparsity": 2}}),
        400,
        "sparsity",
    );
    let r = post_json(
        &a,
        "/api/jobs",
        &json!({"kind": "train", "run": {"model": "mlp", "method": "fp32", "steps": 5}, "init": "nope"}),
    );
    assert_eq!(r.status, 404, "{}", r.text());
}

/// `lowbit train --model mlp --method dgc --data <MNIST> ARGS…`: its JSON (with `--json`) or its output.
fn mlp_dgc(args: &[&str]) -> std::process::Output {
    let m = mnist_dir();
    let mut all = vec!["train", "--model", "mlp", "--method", "dgc", "--data", path_str(&m)];
    all.extend_from_slice(args);
    lowbit(&all)
}

fn json_of(out: std::process::Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_dgc_run_reports_compression_and_simulated_time() {
    let v = json_of(mlp_dgc(&[
        "--workers",
        "4",
        "--compressor",
        "dgc",
        "--sparsity",
        "0.99",
        "--no-warmup",
        "--steps",
        "6",
        "--batch",
        "32",
        "--eval-every",
        "3",
        "--eval-images",
        "200",
        "--bandwidth",
        "1",
        "--json",
    ]));
    assert_eq!(v["compressor"], "dgc");
    assert_eq!(v["workers"], 4);
    assert!(v["compression_ratio"].as_f64().unwrap() > 40.0, "{v}");
    assert!(v["simulated_seconds"].as_f64().unwrap() > 0.0);
    assert!(v["bytes_per_iteration"].as_f64().unwrap() > 0.0);
    assert_eq!(v["curve"].as_array().unwrap().len(), 2);
    let err = |args: &[&str]| String::from_utf8_lossy(&mlp_dgc(args).stderr).to_string();
    assert!(err(&["--workers", "5", "--batch", "32", "--steps", "1"]).contains("does not divide among 5 workers"));
    assert!(err(&["--compressor", "gzip", "--steps", "1"]).contains("unknown compressor `gzip`"));
    let q = json_of(mlp_dgc(&[
        "--workers",
        "2",
        "--compressor",
        "qsgd",
        "--levels",
        "16",
        "--steps",
        "2",
        "--batch",
        "32",
        "--eval-images",
        "100",
        "--json",
    ]));
    assert_eq!(q["compressor"], "qsgd");
    assert!(q["compression_ratio"].as_f64().unwrap() > 5.0, "32 bits → 1 + 5 per element: {q}");
    // PowerSGD at rank 4; time to an accuracy reached after training began (6 % before, about 50 % after 10
    // steps) at 1 and 10 Gbit/s, the slower network slower.
    let p = json_of(mlp_dgc(&[
        "--workers",
        "2",
        "--compressor",
        "powersgd",
        "--rank",
        "4",
        "--steps",
        "20",
        "--batch",
        "32",
        "--eval-every",
        "10",
        "--eval-images",
        "100",
        "--target",
        "0.3",
        "--json",
    ]));
    assert_eq!(p["compressor"], "powersgd");
    let tta = p["time_to_accuracy"].as_array().unwrap();
    assert_eq!(tta.len(), 2);
    assert_eq!((tta[0]["bandwidth_gbps"].as_f64(), tta[1]["bandwidth_gbps"].as_f64()), (Some(1.0), Some(10.0)));
    let (slow, fast) = (tta[0]["seconds"].as_f64().unwrap(), tta[1]["seconds"].as_f64().unwrap());
    assert!(slow > fast && fast > 0.0, "{tta:?}");
    assert!(p["compression_ratio"].as_f64().unwrap() > 30.0, "{p}");
    for (args, msg) in [
        (&["--compressor", "powersgd", "--rank", "301"][..], "--rank 301 is out of range: 1 to 300"),
        (&["--compressor", "qsgd", "--levels", "0"][..], "--levels 0 is out of range"),
        (&["--sparsity", "1"][..], "--sparsity 1 is out of range"),
        (&["--workers", "0"][..], "--workers 0 is out of range"),
    ] {
        let e = err(&[args, &["--steps", "1"]].concat());
        assert!(e.contains(msg), "{args:?}: {e}");
    }
}

/// A distributed `train` job (PowerSGD on 4 workers) killed in the middle resumes after a restart from its
/// last evaluation — every worker's compressor state included — and ends with the curve of the
/// uninterrupted command-line run (all but the measured times).
#[test]
fn a_distributed_job_resumes_after_a_restart() {
    use crate::http::get;
    use serde_json::json;
    let run = json!({"model": "mlp", "method": "dgc", "steps": 900, "batch": 32, "seed": 5, "eval_every": 100,
        "eval_images": 300, "dist": {"workers": 4, "compressor": "powersgd", "rank": 3}});
    let dir = temp_dir("dgc-job");
    let (srv, jid) = interrupted_and_resumed(&dir, run, 200);
    let a = srv.addr.clone();
    let cli = json_of(mlp_dgc(&[
        "--steps",
        "900",
        "--batch",
        "32",
        "--seed",
        "5",
        "--eval-every",
        "100",
        "--eval-images",
        "300",
        "--workers",
        "4",
        "--compressor",
        "powersgd",
        "--rank",
        "3",
        "--json",
    ]));
    let rows = get(&a, &format!("/api/jobs/{jid}/results")).json()["results"].clone();
    let strip = |v: &serde_json::Value| {
        v.as_array()
            .unwrap()
            .iter()
            .map(|p| (p["step"].clone(), p["loss"].clone(), p["test_accuracy"].clone(), p["bytes"].clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&rows).len(), 9);
    assert_eq!(strip(&rows), strip(&cli["curve"]), "the resumed job's curve is the uninterrupted run's");
}

/// A `train` job of `run` on a server over `dir`, killed (SIGKILL) once `after` steps are done, found
/// interrupted by a restarted server, re-run and finished there: that server and the job's id.
fn interrupted_and_resumed(dir: &std::path::Path, run: serde_json::Value, after: i64) -> (crate::http::Server, String) {
    use crate::http::{Server, get, post_json};
    use crate::jobs::wait_for;
    use serde_json::json;
    let steps = run["steps"].as_i64().unwrap();
    let method = run["method"].clone();
    let srv = Server::start(dir, &[]);
    let a = srv.addr.clone();
    let r = post_json(&a, "/api/jobs", &json!({"kind": "train", "run": run}));
    assert_eq!(r.status, 201, "{}", r.text());
    let jid = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(r.json()["summary"]["method"], method);
    wait_for(&a, &jid, "the first evaluations", |j| j["done"].as_i64().unwrap_or(0) >= after);
    srv.kill();
    let srv = Server::start(dir, &[]);
    let a = srv.addr.clone();
    let j = get(&a, &format!("/api/jobs/{jid}")).json();
    assert_eq!(j["state"], "interrupted", "{j}");
    assert!(j["done"].as_i64().unwrap() < steps, "killed in the middle: {j}");
    assert_eq!(post_json(&a, &format!("/api/jobs/{jid}/rerun"), &json!({})).json()["state"], "queued");
    wait_for(&a, &jid, "the resumed run", |j| j["state"] == "succeeded");
    (srv, jid)
}
