//! `lowbit eval`, `sensitivity` and `mixed` on the real digit CNN and MNIST (DATA.md), with evaluation sets
//! written as .npz files the way numpy does.

use crate::util::{data, lowbit, lowbit_json, path_str, temp_dir};
use lowbit_core::readers::{self, npy};
use serde_json::Value;
use std::path::PathBuf;

fn cnn() -> PathBuf {
    data("digit-cnn", "digit_cnn.pth")
}

/// The first `n` MNIST test images as an .npz (`x` [n, 784] pixels, `y` int64 labels when `labels`).
pub fn mnist_npz(dir: &std::path::Path, n: usize, labels: bool) -> PathBuf {
    let mnist = data("mnist", "mnist");
    let img = std::fs::read(mnist.join("t10k-images-idx3-ubyte")).unwrap();
    let lab = std::fs::read(mnist.join("t10k-labels-idx1-ubyte")).unwrap();
    let x = readers::read(&img).unwrap().tensors[0].to_f32().unwrap();
    let y = readers::read(&lab).unwrap().tensors[0].to_f32().unwrap();
    let mut members = vec![("x", npy::write_f32(&[n, 784], &x[..n * 784]))];
    if labels {
        members.push(("y", npy::write_i64(&[n], &y[..n].iter().map(|&v| v as i64).collect::<Vec<_>>())));
    }
    let p = dir.join(format!("mnist{n}{}.npz", if labels { "" } else { "-unlabelled" }));
    std::fs::write(&p, npy::write_npz(&members)).unwrap();
    p
}

fn eval(args: &[&str]) -> Value {
    let cnn = cnn();
    let mnist = data("mnist", "mnist");
    let mut all = vec!["eval", path_str(&cnn), "--mnist", path_str(&mnist)];
    all.extend_from_slice(args);
    all.push("--json");
    lowbit_json(all)
}

#[test]
fn eval_reproduces_data_md_and_reports_every_measure() {
    // All 10,000 test images: DATA.md's narrow-range int2 oracle, 37.40 %, against fp32 99.06 %.
    let e = eval(&["--format", "int", "--bits", "2", "--granularity", "channel", "--range", "narrow"]);
    assert_eq!(e["n"], 10_000);
    assert!((e["accuracy"].as_f64().unwrap() - 0.3740).abs() < 1e-9, "{}", e["accuracy"]);
    assert!((e["fp32_accuracy"].as_f64().unwrap() - 0.9906).abs() < 1e-9);
    let ci = e["accuracy_ci95"].as_array().unwrap();
    assert!(ci[0].as_f64().unwrap() < 0.374 && ci[1].as_f64().unwrap() > 0.374);
    assert!(e["agreement"].as_f64().unwrap() < 0.5 && e["kl"].as_f64().unwrap() > 0.5);
    let layers = e["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 5);
    for l in layers {
        assert!(l["weight_sqnr_db"].as_f64().is_some() && l["output_sqnr_db"].as_f64().is_some(), "{l}");
    }
    // Full range (lowbit's default) on a subset; bits per parameter counts the per-channel fp32 scales.
    let e = eval(&["--format", "int", "--bits", "4", "--granularity", "channel", "--limit", "1000"]);
    assert_eq!(e["n"], 1000);
    let bpp = e["bits_per_param"].as_f64().unwrap();
    let (params, scales) = (288.0 + 18432.0 + 73728.0 + 294912.0 + 2560.0, 32.0 + 64.0 + 128.0 + 256.0 + 10.0);
    assert!((bpp - (4.0 + 32.0 * scales / params)).abs() < 1e-9, "{bpp}");
    // Unquantized: the model against itself.
    let e = eval(&["--limit", "300"]);
    assert_eq!(
        (e["agreement"].as_f64(), e["kl"].as_f64(), e["bits_per_param"].as_f64()),
        (Some(1.0), Some(0.0), Some(32.0))
    );
}

#[test]
fn an_npz_set_with_or_without_labels() {
    let dir = temp_dir("eval-npz");
    let labelled = mnist_npz(&dir, 500, true);
    let args = ["--format", "int", "--bits", "3", "--granularity", "channel"];
    let from_npz = eval(&[&args[..], &["--data", path_str(&labelled)]].concat());
    let from_mnist = eval(&[&args[..], &["--limit", "500"]].concat());
    for k in ["n", "accuracy", "fp32_accuracy", "agreement", "kl"] {
        assert_eq!(from_npz[k], from_mnist[k], "{k}");
    }
    let unlabelled = mnist_npz(&dir, 500, false);
    let e = eval(&[&args[..], &["--data", path_str(&unlabelled)]].concat());
    assert!(e["accuracy"].is_null() && e["fp32_accuracy"].is_null());
    assert_eq!((e["agreement"].clone(), e["kl"].clone()), (from_mnist["agreement"].clone(), from_mnist["kl"].clone()));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn activations_are_calibrated_on_training_data_or_a_given_set() {
    let dir = temp_dir("eval-act");
    let w8 = ["--format", "int", "--bits", "8", "--granularity", "channel", "--limit", "1000"];
    let e =
        eval(&[&w8[..], &["--act-format", "uint", "--act-bits", "4", "--act-clip", "mse", "--calib", "300"]].concat());
    let layers = e["layers"].as_array().unwrap();
    // The normalised image goes negative, so the first layer's input gets the signed grid.
    assert_eq!(layers[0]["act_format"], "int4");
    assert!(layers[1..].iter().all(|l| l["act_format"] == "uint4" && l["act_clip"].as_f64().unwrap() > 0.0));
    let w_only = eval(&w8);
    assert!(e["kl"].as_f64().unwrap() > 10.0 * w_only["kl"].as_f64().unwrap());
    // Another calibration set gives other clips.
    let calib = mnist_npz(&dir, 300, false);
    let other = eval(
        &[&w8[..], &["--act-format", "uint", "--act-bits", "4", "--act-clip", "mse", "--calib-data", path_str(&calib)]]
            .concat(),
    );
    assert_ne!(other["layers"][2]["act_clip"], e["layers"][2]["act_clip"]);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn sensitivity_and_mixed_precision_answer_in_json() {
    let cnn = cnn();
    let mnist = data("mnist", "mnist");
    let s = lowbit_json([
        "sensitivity",
        path_str(&cnn),
        "--mnist",
        path_str(&mnist),
        "--format",
        "int",
        "--bits",
        "2",
        "--granularity",
        "channel",
        "--limit",
        "500",
        "--json",
    ]);
    let layers = s["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 5);
    let kls: Vec<f64> = layers.iter().map(|l| l["kl"].as_f64().unwrap()).collect();
    assert!(kls.windows(2).all(|w| w[0] >= w[1]), "ranked by KL: {kls:?}");
    assert!(layers.iter().all(|l| l["all_but_kl"].as_f64().is_some() && l["rank_accuracy"].as_u64().is_some()));

    let m = lowbit_json([
        "mixed",
        path_str(&cnn),
        "--mnist",
        path_str(&mnist),
        "--budget",
        "3",
        "--candidates",
        "int2,int4,int8,mxfp4",
        "--limit",
        "500",
        "--front",
        "4",
        "--json",
    ]);
    let bpp = m["bits_per_param"].as_f64().unwrap();
    assert!(bpp <= 3.0 && bpp > 2.0, "{bpp}");
    let a = m["assignment"].as_object().unwrap();
    assert_eq!(a.len(), 5);
    assert!(a.values().all(|c| ["int2", "int4", "int8", "mxfp4"].contains(&c.as_str().unwrap())));
    assert!(m["accuracy"].as_f64().unwrap() > 0.9);
    let front = m["front"].as_array().unwrap();
    assert!(!front.is_empty() && front.len() <= 4);
    let bits: Vec<f64> = front.iter().map(|p| p["bits_per_param"].as_f64().unwrap()).collect();
    assert!(bits.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(m["uniform"].as_array().unwrap().len(), 4);
    // The chosen plan predicts no worse a KL than the uniform int2 that fits the budget too.
    let int2 = m["uniform"].as_array().unwrap().iter().find(|u| u["candidate"] == "int2").unwrap();
    assert!(m["kl"].as_f64().unwrap() < int2["kl"].as_f64().unwrap());
}

#[test]
fn bad_models_sets_and_budgets_are_clear_errors() {
    let dir = temp_dir("eval-bad");
    let cnn = cnn();
    let fails = |args: &[&str], want: &str| {
        let mnist = data("mnist", "mnist");
        let out = lowbit([args, &["--mnist", path_str(&mnist)]].concat());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    };
    let minilm = crate::util::minilm();
    fails(&["eval", path_str(&minilm), "--limit", "10"], "not a model lowbit can run");
    let write = |name: &str, members: Vec<(&str, Vec<u8>)>| {
        let p = dir.join(name);
        std::fs::write(&p, npy::write_npz(&members)).unwrap();
        p
    };
    let small = write("small.npz", vec![("x", npy::write_f32(&[3, 10], &[0.0; 30]))]);
    fails(&["eval", path_str(&cnn), "--data", path_str(&small)], "samples of shape [10]");
    let labels =
        write("labels.npz", vec![("x", npy::write_f32(&[1, 784], &[0.0; 784])), ("y", npy::write_i64(&[1], &[12]))]);
    fails(&["eval", path_str(&cnn), "--data", path_str(&labels)], "label 12 of sample 0 is out of range");
    let empty = write("empty.npz", vec![("x", npy::write_f32(&[0, 784], &[]))]);
    fails(&["eval", path_str(&cnn), "--data", path_str(&empty)], "empty");
    let mut x = vec![0.0f32; 2 * 784];
    x[900] = f32::NAN;
    let nan = write("nan.npz", vec![("x", npy::write_f32(&[2, 784], &x))]);
    fails(&["eval", path_str(&cnn), "--data", path_str(&nan)], "NaN at sample 1");
    let nox = write("nox.npz", vec![("images", npy::write_f32(&[1, 784], &[0.0; 784]))]);
    fails(&["eval", path_str(&cnn), "--data", path_str(&nox)], "needs an array `x`");
    fails(
        &["mixed", path_str(&cnn), "--budget", "1", "--candidates", "int2,int4", "--limit", "50"],
        "below the cheapest",
    );
    fails(&["mixed", path_str(&cnn), "--budget", "4", "--candidates", "int4,fp99", "--limit", "50"], "fp99");
    fails(&["eval", path_str(&cnn), "--act-format", "mxfp4", "--limit", "50"], "int, uint or a minifloat");
    fails(&["eval", path_str(&cnn), "--limit", "0"], "nothing to evaluate");
    fails(&["sensitivity", path_str(&cnn), "--limit", "50"], "needs a compression");
    fails(
        &["eval", path_str(&cnn), "--format", "fp8-e4m3", "--range", "narrow", "--limit", "50"],
        "--range narrow applies",
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// The three kinds through the real server on an uploaded digit CNN and an uploaded .npz: rows, series and
/// report equal to the CLI's; bad specifications refused before anything is queued; a long search cancelled.
#[test]
fn evaluation_jobs_on_the_server_match_the_cli() {
    use crate::http::{Server, get, post_json, request};
    use crate::jobs::wait_for;
    use serde_json::json;
    let dir = temp_dir("eval-jobs");
    let srv = Server::start(&dir.join("server"), &[]);
    let a = srv.addr.clone();
    let cnn = cnn();
    let upload = |bytes: &[u8], name: &str| crate::http::upload_id(&a, bytes, name);
    let model = upload(&std::fs::read(&cnn).unwrap(), "digit_cnn.pth");
    let npz = mnist_npz(&dir, 400, true);
    let set = upload(&std::fs::read(&npz).unwrap(), "mnist400.npz");
    let start = |spec: Value| {
        let r = post_json(&a, "/api/jobs", &spec);
        assert_eq!(r.status, 201, "{spec}: {}", r.text());
        r.json()["id"].as_str().unwrap().to_string()
    };
    let finish = |jid: &str| {
        wait_for(&a, jid, "the evaluation job", |j| j["state"] == "succeeded");
        let rows = get(&a, &format!("/api/jobs/{jid}/results")).json()["results"].as_array().unwrap().clone();
        let report = get(&a, &format!("/api/jobs/{jid}/artifacts/report.json")).json();
        (rows, report)
    };
    let quant = json!({"format": "int", "bits": 3, "granularity": "channel"});
    let act = json!({"format": "uint", "bits": 8, "clip": "percentile:99.99"});

    // eval on the uploaded set, activations calibrated on MNIST's training split as the CLI does.
    let jid = start(
        json!({"kind": "eval", "checkpoint": model, "data": set, "run": {"quant": quant, "act": act, "calib": 200}}),
    );
    let (rows, report) = finish(&jid);
    let cli = eval(&[
        "--data",
        path_str(&npz),
        "--format",
        "int",
        "--bits",
        "3",
        "--granularity",
        "channel",
        "--act-format",
        "uint",
        "--act-clip",
        "percentile:99.99",
        "--calib",
        "200",
    ]);
    assert_eq!(rows.len(), 5);
    for k in ["n", "accuracy", "accuracy_ci95", "agreement", "kl", "bits_per_param", "layers"] {
        assert_eq!(report[k], cli[k], "{k}");
    }
    assert_eq!(rows[2]["output_sqnr_db"], cli["layers"][2]["output_sqnr_db"]);
    let m = get(&a, &format!("/api/jobs/{jid}/metrics")).json();
    let acc = m["series"].as_array().unwrap().iter().find(|s| s["name"] == "accuracy").unwrap().clone();
    assert_eq!(acc["values"][0], cli["accuracy"]);

    // sensitivity and mixed on MNIST's first 300 test images.
    let jid = start(
        json!({"kind": "sensitivity", "checkpoint": model, "run": {"quant": {"format": "int", "bits": 2, "granularity": "channel"}, "limit": 300}}),
    );
    let (rows, report) = finish(&jid);
    assert_eq!(rows.len(), 5);
    assert_eq!(rows[0]["rank_kl"], 1);
    assert_eq!(report["layers"].as_array().unwrap().len(), 5);
    let mixed = json!({"budget": 4, "candidates": "int2,int8,mxfp4", "front": 3});
    let jid = start(json!({"kind": "mixed", "checkpoint": model, "run": {"limit": 300, "mixed": mixed}}));
    let (rows, report) = finish(&jid);
    assert_eq!(rows[0]["type"], "chosen");
    assert!(rows[0]["bits_per_param"].as_f64().unwrap() <= 4.0);
    assert_eq!(rows.iter().filter(|r| r["type"] == "uniform").count(), 3);
    assert_eq!(rows.iter().filter(|r| r["type"] == "front").count(), report["front"].as_array().unwrap().len());
    assert_eq!(report["assignment"], rows[0]["assignment"]);

    // Refused up front, nothing queued.
    let before = get(&a, "/api/jobs").json()["jobs"].as_array().unwrap().len();
    for (spec, status, want) in [
        (json!({"kind": "mixed", "checkpoint": model, "run": {}}), 400, "run.mixed"),
        (json!({"kind": "eval", "checkpoint": "nope", "run": {}}), 404, "no checkpoint nope"),
        (json!({"kind": "eval", "checkpoint": model, "data": "nope", "run": {}}), 404, "no checkpoint nope"),
        (json!({"kind": "sensitivity", "checkpoint": model, "run": {}}), 400, "needs run.quant"),
        (
            json!({"kind": "eval", "checkpoint": model, "run": {"act": {"format": "mxfp4"}}}),
            400,
            "int, uint or a minifloat",
        ),
        (
            json!({"kind": "mixed", "checkpoint": model, "run": {"mixed": {"budget": -1, "candidates": "int4"}}}),
            400,
            "budget",
        ),
    ] {
        let r = post_json(&a, "/api/jobs", &spec);
        assert_eq!(r.status, status, "{spec}: {}", r.text());
        assert!(r.text().contains(want), "{spec}: {}", r.text());
    }
    assert_eq!(get(&a, "/api/jobs").json()["jobs"].as_array().unwrap().len(), before);
    // A model that cannot run fails the job with the reason.
    let other = upload(&std::fs::read(crate::util::minilm()).unwrap(), "minilm.safetensors");
    let jid = start(json!({"kind": "eval", "checkpoint": other, "run": {"limit": 10}}));
    let j = wait_for(&a, &jid, "the failing job", |j| j["state"] == "failed");
    assert!(j["error"].as_str().unwrap().contains("not a model lowbit can run"), "{j}");

    // A whole search on all 10,000 images is cancelled between evaluations.
    let jid = start(
        json!({"kind": "mixed", "checkpoint": model, "run": {"mixed": {"budget": 4, "candidates": "int2,int3,int4,int8"}}}),
    );
    wait_for(&a, &jid, "the search to start", |j| j["done"].as_i64().unwrap_or(0) >= 1);
    assert_eq!(request(&a, "DELETE", &format!("/api/jobs/{jid}"), b"", None).status, 200);
    wait_for(&a, &jid, "the cancel", |j| j["state"] == "cancelled");
    drop(srv);
    let _ = std::fs::remove_dir_all(dir);
}

/// The digit CNN written as an ONNX model from its .pth weights with ONNX's protobuf types: raw pixels in
/// ([N, 1, 28, 28], N free), normalised by Div/Sub/Div, three Conv+Relu+MaxPool stages, Flatten and two
/// Gemm layers (weights as initializers; the first conv's weight as a `Constant` node, as some exporters
/// write them).
pub fn digit_cnn_onnx() -> Vec<u8> {
    use prost::Message;
    use tract_onnx::pb::{
        AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto, TensorShapeProto,
        TypeProto, ValueInfoProto, tensor_shape_proto::Dimension, tensor_shape_proto::dimension, type_proto,
    };
    let bytes = std::fs::read(cnn()).unwrap();
    let ckpt = readers::read(&bytes).unwrap();
    let tensor = |name: &str, onnx_name: &str| {
        let t = ckpt.tensors.iter().find(|t| t.name == name).unwrap();
        TensorProto {
            name: onnx_name.into(),
            dims: t.shape.iter().map(|&d| d as i64).collect(),
            data_type: 1,
            raw_data: t.to_f32().unwrap().iter().flat_map(|v| v.to_le_bytes()).collect(),
            ..Default::default()
        }
    };
    let scalar =
        |name: &str, v: f32| TensorProto { name: name.into(), data_type: 1, float_data: vec![v], ..Default::default() };
    let ints =
        |name: &str, v: &[i64]| AttributeProto { name: name.into(), r#type: 7, ints: v.to_vec(), ..Default::default() };
    let int = |name: &str, v: i64| AttributeProto { name: name.into(), r#type: 2, i: v, ..Default::default() };
    let node = |op: &str, inputs: &[&str], output: &str, attribute: Vec<AttributeProto>| NodeProto {
        op_type: op.into(),
        name: output.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        attribute,
        ..Default::default()
    };
    let mut nodes = vec![
        node("Div", &["x", "c255"], "x1", vec![]),
        node("Sub", &["x1", "mean"], "x2", vec![]),
        node("Div", &["x2", "std"], "a0", vec![]),
    ];
    let mut init = vec![scalar("c255", 255.0), scalar("mean", 0.1307), scalar("std", 0.3081)];
    nodes.push(NodeProto {
        op_type: "Constant".into(),
        output: vec!["conv_layers.0.weight".into()],
        attribute: vec![AttributeProto {
            name: "value".into(),
            r#type: 4,
            t: Some(tensor("conv_layers.0.weight", "")),
            ..Default::default()
        }],
        ..Default::default()
    });
    for (s, i) in [0, 3, 6].into_iter().enumerate() {
        let (w, b) = (format!("conv_layers.{i}.weight"), format!("conv_layers.{i}.bias"));
        if i != 0 {
            init.push(tensor(&w, &w));
        }
        init.push(tensor(&b, &b));
        let (a, c, r, p) = (format!("a{s}"), format!("c{s}"), format!("r{s}"), format!("a{}", s + 1));
        nodes.push(node("Conv", &[&a, &w, &b], &c, vec![ints("kernel_shape", &[3, 3]), ints("pads", &[1, 1, 1, 1])]));
        nodes.push(node("Relu", &[&c], &r, vec![]));
        nodes.push(node("MaxPool", &[&r], &p, vec![ints("kernel_shape", &[2, 2]), ints("strides", &[2, 2])]));
    }
    nodes.push(node("Flatten", &["a3"], "flat", vec![int("axis", 1)]));
    for (k, i) in [0, 2].into_iter().enumerate() {
        let (w, b) = (format!("fc_layers.{i}.weight"), format!("fc_layers.{i}.bias"));
        init.push(tensor(&w, &w));
        init.push(tensor(&b, &b));
        let (inp, out) = if k == 0 { ("flat", "h") } else { ("hr", "logits") };
        nodes.push(node("Gemm", &[inp, &w, &b], out, vec![int("transB", 1)]));
        if k == 0 {
            nodes.push(node("Relu", &["h"], "hr", vec![]));
        }
    }
    let dim = |d: Option<i64>| Dimension {
        value: Some(d.map_or(dimension::Value::DimParam("N".into()), dimension::Value::DimValue)),
        ..Default::default()
    };
    let value = |name: &str, dims: &[Option<i64>]| ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: 1,
                shape: Some(TensorShapeProto { dim: dims.iter().map(|&d| dim(d)).collect() }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    };
    let model = ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto { domain: String::new(), version: 13 }],
        graph: Some(GraphProto {
            name: "digit_cnn".into(),
            node: nodes,
            initializer: init,
            input: vec![value("x", &[None, Some(1), Some(28), Some(28)])],
            output: vec![value("logits", &[None, Some(10)])],
            ..Default::default()
        }),
        ..Default::default()
    };
    model.encode_to_vec()
}

#[test]
fn the_onnx_digit_cnn_through_tract_predicts_what_core_predicts() {
    use lowbit_core::eval::digit::DigitNet;
    use lowbit_core::eval::{Network, Probe};
    let onnx = digit_cnn_onnx();
    let net = lowbit_server::onnx::OnnxNet::new(&onnx, &Default::default()).unwrap();
    let names: Vec<&str> = net.layers().iter().map(|l| l.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "conv_layers.0.weight",
            "conv_layers.3.weight",
            "conv_layers.6.weight",
            "fc_layers.0.weight",
            "fc_layers.2.weight"
        ]
    );
    assert_eq!((net.sample_shape(), net.classes()), (&[1usize, 28, 28][..], 10));
    let pth = std::fs::read(cnn()).unwrap();
    let core = DigitNet::from_checkpoint(&readers::read(&pth).unwrap()).unwrap();
    let mnist = data("mnist", "mnist");
    let img = std::fs::read(mnist.join("t10k-images-idx3-ubyte")).unwrap();
    let x = readers::read(&img).unwrap().tensors[0].to_f32().unwrap();
    let n = 250;
    let run = |net: &dyn Network| {
        let w: Vec<&[f32]> = net.layers().iter().map(|l| l.weight.as_slice()).collect();
        let mut probe = Probe { keep_outputs: true, ..Probe::default() };
        let logits = net.with_weights(&w).unwrap().run(&x[..n * 784], n, &mut probe).unwrap();
        (logits, probe.outputs)
    };
    let ((a, ao), (b, bo)) = (run(&net), run(&core));
    assert_eq!(a.len(), n * 10);
    for i in 0..n {
        let (p, q) = (&a[i * 10..][..10], &b[i * 10..][..10]);
        assert_eq!(lowbit_core::nn::argmax(p), lowbit_core::nn::argmax(q), "image {i}");
        for (u, v) in p.iter().zip(q) {
            assert!((u - v).abs() <= 1e-3 * (1.0 + v.abs()), "image {i}: {u} vs {v}");
        }
    }
    // Every layer's output is seen (in each runner's own layout, with the same energy).
    assert_eq!(ao.len(), 5);
    for (u, v) in ao.iter().zip(&bo) {
        assert_eq!(u.len(), v.len());
        let e = |s: &[f32]| s.iter().map(|&t| (t as f64).powi(2)).sum::<f64>();
        assert!((e(u) / e(v) - 1.0).abs() < 1e-4);
    }
}

#[test]
fn an_onnx_model_is_evaluated_like_the_checkpoint_it_came_from() {
    let dir = temp_dir("eval-onnx");
    let path = dir.join("digit_cnn.onnx");
    std::fs::write(&path, digit_cnn_onnx()).unwrap();
    // Kept for scripts/bench-eval.sh (onnxruntime on the same file).
    let artifacts = crate::util::root().join("tests/artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    std::fs::write(artifacts.join("digit_cnn.onnx"), digit_cnn_onnx()).unwrap();
    let mnist = data("mnist", "mnist");
    let run = |model: &std::path::Path, extra: &[&str]| {
        let mut all = vec!["eval", path_str(model), "--mnist", path_str(&mnist), "--json"];
        all.extend_from_slice(extra);
        lowbit_json(all)
    };
    // DATA.md's narrow-range int2 oracle on all 10,000 images, through tract.
    let e = run(&path, &["--format", "int", "--bits", "2", "--granularity", "channel", "--range", "narrow"]);
    assert!((e["fp32_accuracy"].as_f64().unwrap() - 0.9906).abs() < 1.5e-4, "{}", e["fp32_accuracy"]);
    assert!((e["accuracy"].as_f64().unwrap() - 0.3740).abs() < 1.5e-4, "{}", e["accuracy"]);
    // The same compression, the same measures as core's forward pass of the .pth.
    let args = [
        "--format",
        "int",
        "--bits",
        "4",
        "--granularity",
        "channel",
        "--prune",
        "fine",
        "--sparsity",
        "0.5",
        "--limit",
        "1000",
    ];
    let (o, p) = (run(&path, &args), run(&cnn(), &args));
    assert_eq!(o["accuracy"], p["accuracy"]);
    assert!((o["kl"].as_f64().unwrap() - p["kl"].as_f64().unwrap()).abs() < 1e-3 * p["kl"].as_f64().unwrap());
    for (a, b) in o["layers"].as_array().unwrap().iter().zip(p["layers"].as_array().unwrap()) {
        assert_eq!(
            (&a["name"], &a["weight_sqnr_db"], &a["bits_per_param"]),
            (&b["name"], &b["weight_sqnr_db"], &b["bits_per_param"])
        );
        let (x, y) = (a["output_sqnr_db"].as_f64().unwrap(), b["output_sqnr_db"].as_f64().unwrap());
        assert!((x - y).abs() < 0.01, "{}: {x} vs {y}", a["name"]);
    }
    // An .npz of another shape, activation quantization and a file tract cannot read: clear errors.
    let bad = |args: &[&str], want: &str| {
        let out = lowbit(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(want), "{args:?}: {err}");
    };
    bad(
        &["eval", path_str(&path), "--mnist", path_str(&mnist), "--act-format", "int", "--limit", "20"],
        "weights only",
    );
    let broken = dir.join("broken.onnx");
    std::fs::write(&broken, &digit_cnn_onnx()[..5000]).unwrap();
    bad(&["eval", path_str(&broken), "--mnist", path_str(&mnist), "--limit", "20"], "ONNX");
    let _ = std::fs::remove_dir_all(dir);
}
