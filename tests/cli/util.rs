//! Running the real binary, and the data files (fetched by the project's own script when missing).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("server/ has a parent").to_path_buf()
}

/// A DATA.md file by its fetch-script name.
pub fn data(set: &str, file: &str) -> PathBuf {
    let dir = std::env::var_os("LOWBIT_DATA").map(PathBuf::from).unwrap_or_else(|| root().join("data"));
    let path = dir.join(file);
    if !path.exists() {
        let ok = Command::new("bash")
            .arg(root().join("scripts/fetch-data.sh"))
            .arg(set)
            .status()
            .expect("bash runs")
            .success();
        assert!(ok, "scripts/fetch-data.sh {set} failed");
    }
    path
}

pub fn minilm() -> PathBuf {
    data("minilm", "minilm.safetensors")
}

/// Runs `lowbit` with arguments.
pub fn lowbit<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    Command::new(env!("CARGO_BIN_EXE_lowbit")).args(args).output().expect("the lowbit binary runs")
}

/// Runs `lowbit`, expects success, and parses stdout as one JSON object.
pub fn lowbit_json<I, S>(args: I) -> serde_json::Value
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let out = lowbit(args);
    assert!(out.status.success(), "lowbit failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

/// A fresh temporary folder for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("lowbit-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// MiniLM written as two safetensors shards (every other tensor), as a sharded checkpoint arrives.
pub fn minilm_shards() -> [Vec<u8>; 2] {
    use lowbit_core::readers::safetensors::{WriteTensor, write};
    let bytes = std::fs::read(minilm()).unwrap();
    let c = lowbit_core::readers::read(&bytes).unwrap();
    let mut parts: [Vec<WriteTensor>; 2] = [Vec::new(), Vec::new()];
    for (i, t) in c.tensors.iter().enumerate() {
        parts[i % 2].push(WriteTensor { name: &t.name, dtype: t.dtype, shape: &t.shape, bytes: t.data.clone() });
    }
    parts.map(|p| write(&p, &Default::default()).unwrap())
}

/// Uploads a tiny checkpoint (one 8×8 f32 tensor `w`, values (i / 9) − 3, one of them exactly 0) to a running
/// server; its id.
pub fn upload_tiny(addr: &str) -> String {
    let x: Vec<f32> = (0..64).map(|i| i as f32 / 9.0 - 3.0).collect();
    let w = lowbit_core::readers::safetensors::WriteTensor::f32("w", &[8, 8], &x);
    let file = lowbit_core::readers::safetensors::write(&[w], &Default::default()).unwrap();
    let up = crate::http::request(addr, "POST", "/api/checkpoints?name=tiny", &file, None);
    assert_eq!(up.status, 201, "{}", up.text());
    up.json()["id"].as_str().unwrap().to_string()
}
