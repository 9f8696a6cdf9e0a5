//! `lowbit prune`, `lowbit sim scnn`, `lowbit sim mac`, `lowbit winograd` on the real digit CNN (with real
//! MNIST activations) and on MiniLM.

use crate::util::{data, lowbit, lowbit_json, minilm, path_str, temp_dir};
use lowbit_core::prune::{Pattern, check_pattern};
use lowbit_core::readers;

fn cnn() -> std::path::PathBuf {
    data("digit-cnn", "digit_cnn.pth")
}

fn mnist() {
    let _ = data("mnist", "mnist/t10k-images-idx3-ubyte");
}

#[test]
fn two_four_holds_on_every_group_of_minilm() {
    let dir = temp_dir("nm");
    let out = dir.join("nm.safetensors");
    let v = lowbit_json(["prune", path_str(&minilm()), "--pattern", "nm:2:4", "--out", path_str(&out), "--json"]);
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 40, "every matrix of MiniLM: 36 in the encoder, the pooler, 3 embeddings");
    let bytes = std::fs::read(&out).unwrap();
    let c = readers::read(&bytes).unwrap();
    let mut checked = 0;
    for t in c.tensors.iter().filter(|t| t.shape.len() == 2 && t.dtype.is_float()) {
        let x = t.to_f32().unwrap();
        let mask: Vec<bool> = x.iter().map(|&v| v != 0.0).collect();
        check_pattern(&mask, &t.shape, Pattern::NM { n: 2, m: 4 }).unwrap_or_else(|e| panic!("{}: {e}", t.name));
        checked += 1;
    }
    assert_eq!(checked, 40);
    assert!((v["overall_sparsity"].as_f64().unwrap() - 0.5).abs() < 1e-3);
}

#[test]
fn pruning_the_digit_cnn_reports_error_and_storage_by_granularity() {
    let mut bpp = std::collections::BTreeMap::new();
    for pattern in ["fine", "kernel", "filter"] {
        for s in ["0.5", "0.75"] {
            let v = lowbit_json([
                "prune",
                path_str(&cnn()),
                "--tensor",
                "conv",
                "--pattern",
                pattern,
                "--sparsity",
                s,
                "--format",
                "int",
                "--bits",
                "4",
                "--granularity",
                "channel",
                "--json",
            ]);
            for r in v["results"].as_array().unwrap() {
                assert!(
                    (r["sparsity"].as_f64().unwrap() - s.parse::<f64>().unwrap()).abs() < 0.05,
                    "{pattern} {s}: {}",
                    r["sparsity"]
                );
                let storage = r["storage"].as_array().unwrap();
                let get = |name: &str| {
                    storage.iter().find(|c| c["scheme"].as_str().unwrap().starts_with(name)).unwrap()["bits_per_param"]
                        .as_f64()
                        .unwrap()
                };
                assert!(get("bitmask") < get("dense"));
                if r["tensor"] == "conv_layers.6.weight" {
                    bpp.insert(format!("{pattern} {s}"), get("group-index"));
                }
            }
        }
    }
    // The index-saving effect: at equal density a coarse pattern needs fewer bits per parameter.
    assert!(bpp["kernel 0.5"] < bpp["fine 0.5"] && bpp["filter 0.5"] <= bpp["kernel 0.5"], "{bpp:?}");
}

#[test]
fn scnn_on_the_digit_cnn_with_real_mnist_activations() {
    mnist();
    let t = std::time::Instant::now();
    let dense = lowbit_json(["sim", "scnn", path_str(&cnn()), "--mnist", "2", "--json"]);
    let sparse = lowbit_json([
        "sim",
        "scnn",
        path_str(&cnn()),
        "--mnist",
        "2",
        "--pattern",
        "fine",
        "--weights-sparsity",
        "0.75",
        "--json",
    ]);
    assert!(t.elapsed().as_secs() < 60, "simulating the network takes seconds");
    let layers = dense["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 3);
    assert!(layers[1]["act_density"].as_f64().unwrap() < 0.9, "real post-ReLU activations are sparse");
    for (d, s) in layers.iter().zip(sparse["layers"].as_array().unwrap()) {
        let cyc = |l: &serde_json::Value| l["scnn"]["cycles"].as_f64().unwrap();
        assert!(cyc(s) <= cyc(d), "pruning never costs cycles");
        assert!(cyc(d) >= d["scnn"]["ideal_cycles"].as_f64().unwrap());
        assert_eq!(d["dcnn"]["cycles"], s["dcnn"]["cycles"], "the dense baseline ignores sparsity");
    }
    assert!(sparse["network"]["speedup"].as_f64().unwrap() > dense["network"]["speedup"].as_f64().unwrap());
}

#[test]
fn sim_by_layer_mac_and_winograd() {
    let v = lowbit_json([
        "sim",
        "scnn",
        "--layer",
        "32,16,3,3,16,16",
        "--weights-sparsity",
        "0.5",
        "--act-density",
        "0.4",
        "--json",
    ]);
    let w = v["layers"][0]["weight_density"].as_f64().unwrap();
    assert!((w - 0.5).abs() < 0.01);
    let m =
        lowbit_json(["sim", "mac", "--wbits", "4", "--abits", "4", "--vector", "16", "--scale-bits", "6", "--json"]);
    assert!(m["relative_area"].as_f64().unwrap() < 1.0 && m["relative_energy"].as_f64().unwrap() < 1.0);
    assert!(m["reported"]["arxiv_v1"].as_str().unwrap().contains("as reported"));
    mnist();
    let wg = lowbit_json(["winograd", path_str(&cnn()), "--tile", "4", "--density", "0.3", "--mnist", "2", "--json"]);
    for l in wg["layers"].as_array().unwrap() {
        let n = |k: &str| l[k].as_u64().unwrap();
        assert!(n("sparse_winograd_relu") < n("dense_winograd") && n("dense_winograd") < n("dense_spatial"));
    }
}

#[test]
fn memory_references_are_compared_across_granularities() {
    mnist();
    let v =
        lowbit_json(["sim", "granularity", path_str(&cnn()), "--mnist", "1", "--weights-sparsity", "0.5", "--json"]);
    let p = v["patterns"].as_array().unwrap();
    let names: Vec<&str> = p.iter().map(|r| r["pattern"].as_str().unwrap()).collect();
    assert_eq!(names, ["fine", "vector", "kernel", "filter"]);
    assert_eq!(p[0]["relative_to_fine"], 1.0);
    assert!(p.iter().all(|r| r["memory_references"].as_f64().unwrap() > 0.0));
    assert!(v["reported"].as_str().unwrap().contains("as reported"));
}

#[test]
fn bad_sparsity_inputs_are_named() {
    let c = cnn();
    let c = path_str(&c);
    let fails = |args: &[&str], needle: &str| {
        let out = lowbit(args);
        assert!(!out.status.success(), "{args:?}");
        let e = String::from_utf8_lossy(&out.stderr);
        assert!(e.contains(needle), "{args:?}: {e}");
    };
    fails(&["prune", c, "--pattern", "fine", "--sparsity", "1.0"], "outside [0, 1)");
    fails(&["prune", c, "--pattern", "fine", "--sparsity=-0.2"], "outside [0, 1)");
    fails(&["prune", c, "--pattern", "nm:4:4"], "N < M");
    fails(&["prune", c, "--pattern", "kernel", "--tensor", "fc_layers.0.weight", "--sparsity", "0.5"], "can be pruned");
    fails(&["prune", c, "--pattern", "fine"], "--sparsity is needed");
    fails(&["sim", "scnn", "--layer", "8,4,3,3,8,8", "--pe", "0x8"], "pe_rows");
    fails(&["sim", "scnn", "--layer", "8,4,3,3,8"], "six numbers");
    fails(&["sim", "mac", "--vector", "0"], "vector size");
    fails(&["winograd", c, "--tile", "3"], "not 2");
    fails(&["sim", "granularity", c, "--act-density", "0.5"], "above 0");
    fails(&["quant", c], "--format is required");
}
