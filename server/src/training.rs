//! What the CLI (`lowbit train`) and the `train` job both make of a finished run: its summary JSON (the
//! `--json` object, the job's `report.json`), the trained checkpoint as safetensors, the curve as CSV.

use lowbit_core::report::num;
use lowbit_core::training::TrainSpec;
use lowbit_train::data::Mnist;
use lowbit_train::run::{CurvePoint, Outcome};
use serde_json::{Value, json};

/// The trained weights (latent fp32; `lowbit quant` re-quantizes them) under the model's tensor names,
/// with the run's spec in the metadata (`lowbit`).
pub fn checkpoint_bytes(spec: &TrainSpec, net: &lowbit_train::model::Net) -> lowbit_core::Result<Vec<u8>> {
    use lowbit_core::readers::safetensors::{self, WriteTensor};
    let named = net.named();
    let tensors: Vec<WriteTensor<'_>> = named.iter().map(|t| WriteTensor::f32(&t.name, &t.shape, &t.values)).collect();
    let meta = std::collections::BTreeMap::from([(
        "lowbit".to_string(),
        serde_json::to_string(spec).expect("a spec serializes"),
    )]);
    safetensors::write(&tensors, &meta)
}

/// `step,loss,train_accuracy,test_accuracy,sparsity,bytes_sent,simulated_seconds` per evaluation (the last
/// three empty where the method has none).
pub fn curve_csv(curve: &[CurvePoint]) -> String {
    let mut s = String::from("step,loss,train_accuracy,test_accuracy,sparsity,bytes_sent,simulated_seconds\n");
    let opt = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    for p in curve {
        s.push_str(&format!(
            "{},{},{},{},{},{},{}\n",
            p.step,
            p.loss,
            p.train_accuracy,
            p.test_accuracy,
            opt(p.sparsity),
            opt(p.bytes),
            opt(p.simulated_seconds)
        ));
    }
    s
}

/// The mean of each layer's clips, by layer name (QAT).
pub fn mean_clips(spec: &TrainSpec, clips: &[Vec<f32>]) -> Vec<(String, f64)> {
    spec.model
        .layers()
        .iter()
        .zip(clips)
        .filter(|(_, c)| !c.is_empty())
        .map(|(l, c)| (format!("{}.weight", l.name), c.iter().map(|&v| v as f64).sum::<f64>() / c.len() as f64))
        .collect()
}

/// The summary of a run: at least `method`, `steps`, `test_accuracy`, `ptq_accuracy` and `curve`, and per
/// layer the clips (QAT), the learned scales (TTQ) or sparsity, storage and SCNN (prune).
pub fn summary(
    spec: &TrainSpec,
    outcome: &Outcome,
    data: &Mnist,
    init: Option<String>,
    scnn_images: usize,
    seconds: f64,
) -> lowbit_train::Result<Value> {
    let layers = spec.model.layers();
    let clips: Vec<_> = layers
        .iter()
        .zip(&outcome.clips)
        .filter(|(_, c)| !c.is_empty())
        .map(|(l, c)| {
            let mean = c.iter().map(|&v| v as f64).sum::<f64>() / c.len() as f64;
            let (lo, hi) = c.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
            json!({"layer": format!("{}.weight", l.name), "groups": c.len(), "min": num(lo as f64), "mean": num(mean), "max": num(hi as f64)})
        })
        .collect();
    let scales: Vec<_> = layers
        .iter()
        .zip(&outcome.scales)
        .filter_map(|(l, s)| {
            s.map(|(wp, wn)| json!({"layer": format!("{}.weight", l.name), "wp": num(wp as f64), "wn": num(wn as f64)}))
        })
        .collect();
    let pruned = match &spec.prune {
        Some(p) => {
            let pattern = p.resolve()?.pattern;
            let masks = lowbit_train::prune::Masks { layers: outcome.masks.clone(), sparsity: 0.0 };
            lowbit_train::prune::report(&outcome.net, &masks, pattern, &data.test, scnn_images)?
        }
        None => Vec::new(),
    };
    let images = spec.steps as f64 * spec.batch as f64;
    Ok(json!({
        "model": spec.model.name(),
        "method": spec.method.name(),
        "quant": spec.quant,
        "act": spec.act,
        "grad": spec.grad.name(),
        "clip_every": spec.clip_every,
        "lsq": spec.lsq,
        "init": init,
        "steps": outcome.steps,
        "epochs": images / data.train.len() as f64,
        "batch": spec.batch,
        "lr": spec.lr,
        "seed": spec.seed,
        "test_accuracy": num(outcome.test_accuracy),
        "ptq_accuracy": num(outcome.ptq_accuracy),
        "initial_accuracy": num(outcome.initial_accuracy),
        "eval_images": spec.eval_images.min(data.test.len()),
        "curve": outcome.curve,
        "clips": clips,
        "ternary_scales": scales,
        "act_clips": layers.iter().zip(&outcome.act_clips).filter_map(|(l, c)| c.map(|c| json!({"layer": l.name, "clip": num(c as f64)}))).collect::<Vec<_>>(),
        "prune": spec.prune,
        "pruned_layers": pruned,
        "seconds": num(seconds),
        "steps_per_second": num(outcome.steps as f64 / outcome.seconds),
    }))
}

/// The summary of a distributed run (method dgc): at least `test_accuracy`, `compression_ratio`,
/// `bytes_per_iteration`, `simulated_seconds`, `time_to_accuracy` (at 1 and 10 Gbit/s) and `curve` (each
/// point with bytes sent, simulated time, compute time and the wire cost).
pub fn dist_summary(spec: &TrainSpec, out: &lowbit_train::dist::DistOutcome, seconds: f64) -> Value {
    let c = &out.comm;
    json!({
        "model": spec.model.name(),
        "method": spec.method.name(),
        "dist": spec.dist,
        "steps": spec.steps,
        "batch": spec.batch,
        "lr": spec.lr,
        "seed": spec.seed,
        "test_accuracy": num(out.test_accuracy),
        "initial_accuracy": num(out.initial_accuracy),
        "eval_images": spec.eval_images,
        "workers": c.workers,
        "compressor": c.compressor.name(),
        "bytes_per_iteration": num(c.bytes_per_iteration),
        "compression_ratio": num(c.compression_ratio),
        "simulated_seconds": num(c.simulated_seconds),
        "compute_seconds": num(c.compute_seconds),
        "exchange_seconds": num(c.exchange_seconds),
        "overhead_fraction": num(c.overhead_fraction),
        "time_to_accuracy": c.time_to_accuracy.iter().map(|t| json!({
            "target": t.target,
            "bandwidth_gbps": t.bandwidth_gbps,
            "seconds": t.seconds.map(num),
        })).collect::<Vec<_>>(),
        "curve": out.curve,
        "seconds": num(seconds),
    })
}
