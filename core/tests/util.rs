//! Shared fixtures: seeded samples and the real data files of DATA.md (fetched on demand by the project's
//! own script, with checksums).

use lowbit_core::sample::Sampler;
use std::path::PathBuf;
use std::process::Command;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("core/ has a parent").to_path_buf()
}

/// A data file of DATA.md by its fetch-script name; fetched (and checksum-verified) if missing.
pub fn data(set: &str) -> PathBuf {
    let file = match set {
        "minilm" => "minilm.safetensors",
        "digit-cnn" => "digit_cnn.pth",
        "onnx-cls" => "ppocr_cls.onnx",
        "minilm-int8" => "minilm_int8.onnx",
        "tud" => "tud",
        "mnist" => "mnist",
        other => panic!("unknown data set {other}"),
    };
    let dir = std::env::var_os("LOWBIT_DATA").map(PathBuf::from).unwrap_or_else(|| root().join("data"));
    let path = dir.join(file);
    if !path.exists() {
        let status = Command::new("bash")
            .arg(root().join("scripts/fetch-data.sh"))
            .arg(set)
            .status()
            .expect("bash runs scripts/fetch-data.sh");
        assert!(status.success(), "scripts/fetch-data.sh {set} failed");
    }
    path
}

pub fn gaussian(seed: u64, n: usize) -> Vec<f32> {
    Sampler::new(seed).gaussian_vec(n)
}

pub fn laplace(seed: u64, n: usize) -> Vec<f32> {
    let mut s = Sampler::new(seed);
    (0..n).map(|_| s.laplace() as f32).collect()
}

/// Relative difference |a − b| / |b|.
pub fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}
