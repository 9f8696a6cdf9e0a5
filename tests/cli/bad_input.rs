//! Errors: stderr says what is wrong, stdout stays empty, the exit code is non-zero.

use crate::util::{lowbit, minilm, path_str, temp_dir};

fn fails_with(args: &[&str], needle: &str) {
    let out = lowbit(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{args:?} should fail");
    assert!(stderr.contains(needle), "{args:?}: stderr `{stderr}` lacks `{needle}`");
    assert!(out.stdout.is_empty(), "{args:?}: stdout must stay empty on error");
}

#[test]
fn bad_files_and_parameters_are_named() {
    let m = minilm();
    let m = path_str(&m);
    fails_with(&["info", "/nonexistent/model.safetensors"], "cannot open");
    let dir = temp_dir("bad");
    let junk = dir.join("junk.bin");
    std::fs::write(&junk, b"this is not a checkpoint at all").unwrap();
    fails_with(&["info", path_str(&junk)], "not a recognised tensor file");
    let trunc = dir.join("trunc.safetensors");
    let bytes = std::fs::read(m).unwrap();
    std::fs::write(&trunc, &bytes[..bytes.len() / 2]).unwrap();
    fails_with(&["info", path_str(&trunc)], "data_offsets");
    fails_with(&["quant", m, "--format", "int", "--bits", "33", "--json"], "2 to 16");
    fails_with(&["quant", m, "--format", "int", "--bits", "0"], "2 to 16");
    // clap checks the name against core's formats and lists them.
    fails_with(&["quant", m, "--format", "int7"], "invalid value 'int7' for '--format");
    fails_with(&["quant", m, "--format", "int", "--granularity", "vector:0"], "at least 1");
    fails_with(&["quant", m, "--format", "mxfp4", "--clip", "octav"], "does not apply");
    fails_with(&["quant", m, "--format", "int", "--tensor", "(["], "regular expression");
    fails_with(&["quant", m, "--format", "int", "--tensor", "no_such_tensor"], "no floating-point tensor");
    fails_with(&["quant", m, "--format", "int", "--granularity", "channel:5"], "axis 5");
    fails_with(&["curve", m, "--tensor", "nope", "--format", "int"], "no tensor named");
    let usage = lowbit(["quant"]);
    assert_eq!(usage.status.code(), Some(2), "usage errors exit with 2");
}

#[test]
fn nan_in_a_tensor_fails_that_tensor_by_name() {
    use lowbit_core::readers::safetensors::{WriteTensor, write};
    let dir = temp_dir("nan");
    let f = dir.join("nan.safetensors");
    let bytes = write(
        &[WriteTensor::f32("bad", &[4], &[1.0, f32::NAN, 2.0, 3.0]), WriteTensor::f32("good", &[2], &[1.0, -1.0])],
        &Default::default(),
    )
    .unwrap();
    std::fs::write(&f, bytes).unwrap();
    let out = lowbit(["quant", path_str(&f), "--format", "int", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("tensor `bad`: element 1 is NaN"));
    // The JSON still reports the tensors that worked, and the failure, for scripts.
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["results"][0]["tensor"], "good");
    assert_eq!(v["errors"].as_array().unwrap().len(), 1);
    // Only the bad tensor: nothing on stdout, the reason on stderr.
    fails_with(&["quant", path_str(&f), "--format", "int", "--tensor", "bad"], "element 1 is NaN");
}
