//! The JSON shape of one quantization result, shared by `lowbit quant --json`, the HTTP API and the
//! dashboard, so a user moves between them without translating.

use crate::granularity::Granularity;
use crate::quant::{Analysis, QuantConfig};
use serde_json::{Value, json};

/// A finite number, or null (JSON has no NaN or Infinity).
pub fn num(v: f64) -> Value {
    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
}

/// One tensor's result as the JSON schema of `lowbit quant --json`.
pub fn result_json(name: &str, shape: &[usize], cfg: &QuantConfig, a: &Analysis) -> Value {
    let mut r = json!({
        "tensor": name,
        "shape": shape,
        "format": cfg.format.to_string(),
        "granularity": cfg.granularity.to_string(),
        "clip_method": cfg.clip.to_string(),
        "mse": num(a.metrics.mse),
        "sqnr_db": num(a.metrics.sqnr_db),
        "max_abs_err": num(a.metrics.max_abs_err),
        "cosine": num(a.metrics.cosine),
        "bits_per_element": num(a.output.bits_per_element()),
        "packed_bytes": a.output.packed_bytes(),
    });
    let clips: Vec<Value> = a.output.clips.iter().map(|&c| num(c as f64)).collect();
    if cfg.granularity == Granularity::Tensor {
        r["clip"] = clips.into_iter().next().unwrap_or(Value::Null);
    } else {
        r["clips"] = Value::Array(clips);
    }
    if let Some(it) = &a.output.octav_iterations {
        r["octav_iterations"] =
            if cfg.granularity == Granularity::Tensor && it.len() == 1 { json!(it[0]) } else { json!(it) };
    }
    r
}
