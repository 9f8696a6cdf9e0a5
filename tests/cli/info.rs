//! `lowbit info`.

use crate::util::{lowbit, lowbit_json, minilm, path_str, temp_dir};
use lowbit_core::readers::{self, safetensors};
use std::collections::BTreeMap;

#[test]
fn info_lists_every_minilm_tensor_with_statistics() {
    let v = lowbit_json(["info", path_str(&minilm()), "--json"]);
    assert_eq!(v["format"], "safetensors");
    let tensors = v["tensors"].as_array().unwrap();
    assert_eq!(tensors.len(), 104);
    let we = tensors.iter().find(|t| t["name"] == "embeddings.word_embeddings.weight").unwrap();
    assert_eq!(we["shape"], serde_json::json!([30522, 384]));
    assert_eq!(we["numel"], 30522 * 384);
    assert_eq!(we["dtype"], "F32");
    for key in ["min", "max", "mean", "std", "sparsity"] {
        assert!(we[key].is_number(), "{key}");
    }
    assert!(we["min"].as_f64().unwrap() < 0.0 && we["max"].as_f64().unwrap() > 0.0);
    // The human table says the same in one line per tensor plus a header.
    let out = lowbit(["info", path_str(&minilm())]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 106);
}

#[test]
fn a_sharded_checkpoint_reads_through_its_index() {
    // Split MiniLM into two shards plus an index, as `save_pretrained(max_shard_size=…)` does.
    let dir = temp_dir("shards");
    let bytes = std::fs::read(minilm()).unwrap();
    let c = readers::read(&bytes).unwrap();
    let (a, b) = c.tensors.split_at(50);
    let mut map = BTreeMap::new();
    for (file, part) in [("model-00001-of-00002.safetensors", a), ("model-00002-of-00002.safetensors", b)] {
        let ts: Vec<_> = part
            .iter()
            .map(|t| safetensors::WriteTensor { name: &t.name, dtype: t.dtype, shape: &t.shape, bytes: t.data.clone() })
            .collect();
        std::fs::write(dir.join(file), safetensors::write(&ts, &BTreeMap::new()).unwrap()).unwrap();
        for t in part {
            map.insert(t.name.clone(), file.to_string());
        }
    }
    let index = dir.join("model.safetensors.index.json");
    std::fs::write(&index, serde_json::to_vec(&serde_json::json!({"metadata": {}, "weight_map": map})).unwrap())
        .unwrap();
    let v = lowbit_json(["info", path_str(&index), "--json"]);
    assert_eq!(v["tensors"].as_array().unwrap().len(), 104);
    assert!(v["format"].as_str().unwrap().contains("sharded, 2 files"));
    // An index that points outside its folder is refused.
    std::fs::write(&index, br#"{"weight_map": {"w": "../../etc/passwd"}}"#).unwrap();
    let out = lowbit(["info", path_str(&index)]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a plain file name"));
}

#[test]
fn info_reads_the_other_formats() {
    let pth = crate::util::data("digit-cnn", "digit_cnn.pth");
    let v = lowbit_json(["info", path_str(&pth), "--json"]);
    assert_eq!(v["format"], "pytorch");
    assert_eq!(v["tensors"].as_array().unwrap().len(), 10);
    let onnx = crate::util::data("onnx-cls", "ppocr_cls.onnx");
    assert_eq!(lowbit_json(["info", path_str(&onnx), "--json"])["format"], "onnx");
    let dir = temp_dir("npy");
    let npy = dir.join("x.npy");
    std::fs::write(&npy, readers::npy::write_f32(&[3, 2], &[1.0, -2.0, 0.0, 4.0, 5.0, -6.0])).unwrap();
    let v = lowbit_json(["info", path_str(&npy), "--json"]);
    assert_eq!(v["tensors"][0]["shape"], serde_json::json!([3, 2]));
    assert_eq!(v["tensors"][0]["min"], -6.0);
    assert!((v["tensors"][0]["sparsity"].as_f64().unwrap() - 1.0 / 6.0).abs() < 1e-12);
}
