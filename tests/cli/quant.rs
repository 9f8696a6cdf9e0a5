//! `lowbit quant`, `lowbit curve`, `lowbit bench`.

use crate::util::{lowbit, lowbit_json, minilm, path_str, temp_dir};
use lowbit_core::readers;

#[test]
fn int4_per_channel_octav_on_minilm_reports_every_tensor() {
    // The example command.
    let v = lowbit_json([
        "quant",
        path_str(&minilm()),
        "--format",
        "int",
        "--bits",
        "4",
        "--granularity",
        "channel",
        "--clip",
        "octav",
        "--json",
    ]);
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 103, "every F32 tensor");
    assert_eq!(v["skipped"][0]["tensor"], "embeddings.position_ids");
    for r in results {
        let shape = r["shape"].as_array().unwrap();
        assert_eq!(r["format"], "int4");
        assert_eq!(r["clip_method"], "octav");
        let clips = r["clips"].as_array().unwrap();
        let channels = if shape.len() >= 2 { shape[0].as_u64().unwrap() as usize } else { 1 };
        assert_eq!(clips.len(), channels, "{}", r["tensor"]);
        if r["sqnr_db"].is_null() {
            // An all-zero tensor (MiniLM's pooler.dense.bias): nothing to clip, no error, SQNR undefined.
            assert!(clips.iter().all(|c| c.as_f64() == Some(0.0)) && r["mse"] == 0.0, "{}", r["tensor"]);
            continue;
        }
        assert!(clips.iter().all(|c| c.as_f64().unwrap() > 0.0), "{}", r["tensor"]);
        assert_eq!(r["octav_iterations"].as_array().unwrap().len(), channels);
        let sqnr = r["sqnr_db"].as_f64().unwrap();
        assert!((5.0..40.0).contains(&sqnr), "{}: {sqnr} dB", r["tensor"]);
        assert!(r["cosine"].as_f64().unwrap() > 0.8);
        assert!(r["mse"].as_f64().unwrap() >= 0.0 && r["max_abs_err"].as_f64().unwrap() >= 0.0);
    }
    let we = results.iter().find(|r| r["tensor"] == "embeddings.word_embeddings.weight").unwrap();
    assert!((we["bits_per_element"].as_f64().unwrap() - (4.0 + 32.0 / 384.0)).abs() < 1e-12);
}

#[test]
fn per_tensor_results_carry_one_clip_and_one_iteration_count() {
    let v = lowbit_json([
        "quant",
        path_str(&minilm()),
        "--tensor",
        "^encoder\\.layer\\.0\\.",
        "--format",
        "int",
        "--bits",
        "4",
        "--clip",
        "octav",
        "--json",
    ]);
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 16, "layer 0 has 16 tensors");
    for r in results {
        assert!(r["clip"].as_f64().unwrap() > 0.0);
        assert!(r["octav_iterations"].as_u64().unwrap() >= 1);
        assert!(r.get("clips").is_none());
    }
}

#[test]
fn every_format_runs_on_a_real_tensor_and_orders_sensibly() {
    let t = "encoder.layer.3.intermediate.dense.weight";
    let mut sqnr = std::collections::BTreeMap::new();
    let m = minilm();
    for (name, extra) in [
        ("int", vec!["--bits", "8", "--granularity", "channel"]),
        ("int", vec!["--bits", "4", "--granularity", "vector:16", "--scale-bits", "6"]),
        ("int-asym", vec!["--bits", "4", "--granularity", "g128"]),
        ("uint", vec!["--bits", "8"]),
        ("fp8-e4m3", vec![]),
        ("fp8-e5m2", vec![]),
        ("fp6-e3m2", vec![]),
        ("fp6-e2m3", vec![]),
        ("fp4-e2m1", vec!["--granularity", "channel", "--clip", "mse"]),
        ("bf16", vec![]),
        ("fp16", vec![]),
        ("mxfp8-e4m3", vec![]),
        ("mxfp8-e5m2", vec![]),
        ("mxfp6-e3m2", vec![]),
        ("mxfp6-e2m3", vec![]),
        ("mxfp4", vec!["--mx-scale", "rceil"]),
        ("mxint8", vec![]),
        ("nvfp4", vec![]),
        ("ternary", vec!["--ternary-sparsity", "0.5"]),
    ] {
        let mut args = vec!["quant", path_str(&m), "--tensor", t, "--format", name, "--json"];
        args.extend(extra.iter().copied());
        let v = lowbit_json(&args);
        let r = &v["results"][0];
        sqnr.insert(format!("{name} {}", extra.join(" ")), r["sqnr_db"].as_f64().unwrap());
    }
    let get = |k: &str| sqnr[k];
    assert!(get("bf16 ") > get("fp8-e4m3 ") && get("fp8-e4m3 ") > get("fp6-e2m3 "), "{sqnr:?}");
    assert!(get("int --bits 8 --granularity channel") > get("int --bits 4 --granularity vector:16 --scale-bits 6"));
    assert!(get("mxfp8-e4m3 ") > get("mxfp4 --mx-scale rceil"));
    assert!(get("fp16 ") > 60.0 && get("ternary --ternary-sparsity 0.5") > 0.0);
}

#[test]
fn out_writes_a_checkpoint_whose_error_is_the_reported_one() {
    let dir = temp_dir("out");
    let out = dir.join("q.safetensors");
    let v = lowbit_json(["quant", path_str(&minilm()), "--format", "mxfp4", "--out", path_str(&out), "--json"]);
    let orig = std::fs::read(minilm()).unwrap();
    let quant = std::fs::read(&out).unwrap();
    let (a, b) = (readers::read(&orig).unwrap(), readers::read(&quant).unwrap());
    assert_eq!(a.tensors.len(), b.tensors.len());
    for (ta, tb) in a.tensors.iter().zip(&b.tensors) {
        assert_eq!(
            (&ta.name, &ta.shape, ta.dtype),
            (&tb.name, &tb.shape, tb.dtype),
            "names, shapes and dtypes are kept"
        );
    }
    let name = "encoder.layer.5.output.dense.weight";
    let xa = a.tensors.iter().find(|t| t.name == name).unwrap().to_f32().unwrap();
    let xb = b.tensors.iter().find(|t| t.name == name).unwrap().to_f32().unwrap();
    let mse = xa.iter().zip(&xb).map(|(p, q)| ((p - q) as f64).powi(2)).sum::<f64>() / xa.len() as f64;
    let reported =
        v["results"].as_array().unwrap().iter().find(|r| r["tensor"] == name).unwrap()["mse"].as_f64().unwrap();
    assert!((mse - reported).abs() <= 1e-9 * reported, "{mse} vs {reported}");
}

#[test]
fn curve_marks_every_method_on_the_mse_curve() {
    let v = lowbit_json([
        "curve",
        path_str(&minilm()),
        "--tensor",
        "encoder.layer.0.attention.self.query.weight",
        "--format",
        "int",
        "--bits",
        "4",
        "--points",
        "50",
        "--json",
    ]);
    assert_eq!(v["ratios"].as_array().unwrap().len(), 50);
    let markers = v["markers"].as_array().unwrap();
    let methods: Vec<&str> = markers.iter().map(|m| m["method"].as_str().unwrap()).collect();
    assert_eq!(methods, ["max", "percentile:99.99", "mse", "octav", "aciq-gauss", "aciq-laplace", "kl"]);
    let mse_of = |m: &str| markers.iter().find(|k| k["method"] == m).unwrap()["mse"].as_f64().unwrap();
    assert!(mse_of("mse") <= mse_of("max") && mse_of("octav") < mse_of("max"));
    let curve_min = v["mse"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).fold(f64::INFINITY, f64::min);
    assert!(mse_of("mse") <= curve_min * 1.02, "the search finds the curve's minimum");
}

#[test]
fn bench_reports_ratios_to_memcpy() {
    let v = lowbit_json(["bench", "--size", "65536", "--reps", "1", "--json"]);
    assert!(v["memcpy_ms"].as_f64().unwrap() > 0.0);
    let kernels = v["kernels"].as_array().unwrap();
    assert!(kernels.len() >= 5);
    assert!(kernels.iter().all(|k| k["ratio_to_memcpy"].as_f64().unwrap() > 0.0));
    assert!(v["octav_relative_difference"].as_f64().unwrap() <= 1e-6);
    let out = lowbit(["bench", "--size", "3"]);
    assert!(!out.status.success());
}
