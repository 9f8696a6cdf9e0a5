//! What the pages show, computed by `lowbit_core` in the page: reading a dropped file, the explorer's
//! quantization with its curve, histogram and scales, the format comparison, pruning with storage and the
//! SCNN model. No numerics of its own: it arranges core's results for the charts.

use crate::state::{TensorData, TensorInfo};
use lowbit_core::curve::{ClipCurve, clip_curve};
use lowbit_core::granularity::Grouping;
use lowbit_core::prune::{self, Pattern, PruneConfig, Saliency, assess::assess};
use lowbit_core::quant::{self, QuantSpec};
use lowbit_core::readers;
use lowbit_core::sim::mac::{MacConfig, MacReport, mac_cost};
use lowbit_core::stats::{Histogram, StatsAccumulator, TensorStats, linear_histogram};
use serde_json::Value;

/// The clipping curve and the method markers are computed on at most this many elements (whole rows), so a
/// control change on a large tensor stays interactive; the quantization itself always uses every element.
pub const CURVE_SAMPLE: usize = 8 * 1024;
/// Points of the clipping curve.
pub const CURVE_POINTS: usize = 40;
/// Bins of the explorer's histogram.
pub const HIST_BINS: usize = 120;
/// Largest heatmap drawn; bigger scale grids are shown every k-th row.
pub const HEAT_ROWS: usize = 256;

/// Why a file could not be read in the page.
#[derive(Debug, Clone, PartialEq)]
pub enum LocalError {
    /// Reading it would cost more memory than a tab should spend ([`readers::Limits::page`]): the server,
    /// with its larger budget, may read it.
    TooBig(String),
    /// Not a file lowbit reads (malformed, unsupported, empty).
    Unreadable(String),
}

impl LocalError {
    fn of(e: lowbit_core::Error) -> Self {
        match e.kind {
            lowbit_core::ErrorKind::LimitExceeded => Self::TooBig(e.message),
            _ => Self::Unreadable(format!("not a checkpoint lowbit can read: {e}")),
        }
    }
}

/// A file's format and tensors with their statistics, read in the page within the page's limits; the
/// statistics are computed chunk by chunk, so no tensor is decoded whole here.
pub fn parse_local(bytes: &[u8]) -> Result<(String, Vec<TensorInfo>), LocalError> {
    let c = readers::read_with(bytes, &readers::Limits::page()).map_err(LocalError::of)?;
    if c.tensors.is_empty() {
        return Err(LocalError::Unreadable("the file holds no tensors".into()));
    }
    let mut out = Vec::with_capacity(c.tensors.len());
    for t in &c.tensors {
        let mut acc = StatsAccumulator::default();
        t.for_each_chunk(1 << 16, |x| {
            acc.push(x);
            Ok(())
        })
        .map_err(LocalError::of)?;
        let s = acc.finish();
        out.push(TensorInfo {
            name: t.name.clone(),
            dtype: t.dtype.name().to_string(),
            shape: t.shape.clone(),
            numel: s.numel,
            min: s.min,
            max: s.max,
            std: s.std,
            sparsity: s.sparsity,
        });
    }
    Ok((c.format.to_string(), out))
}

/// One tensor of a file read in the page.
pub fn local_tensor(bytes: &[u8], name: &str) -> Result<TensorData, String> {
    let c = readers::read_with(bytes, &readers::Limits::page()).map_err(|e| e.to_string())?;
    let t = c.tensors.iter().find(|t| t.name == name).ok_or_else(|| format!("the file has no tensor `{name}`"))?;
    Ok(TensorData { name: name.to_string(), shape: t.shape.clone(), values: t.to_f32().map_err(|e| e.to_string())? })
}

/// The tensor most worth opening first: the largest matrix (or the largest tensor).
pub fn default_tensor(ts: &[TensorInfo]) -> Option<String> {
    ts.iter()
        .filter(|t| t.shape.len() >= 2)
        .max_by_key(|t| t.numel)
        .or_else(|| ts.iter().max_by_key(|t| t.numel))
        .map(|t| t.name.clone())
}

/// Histogram of the values over [min, max], with the extremes (the explorer draws clip lines on it).
pub fn histogram(x: &[f32]) -> Histogram {
    let s = TensorStats::of(x);
    let (lo, hi) = if s.max > s.min { (s.min, s.max) } else { (s.min - 1.0, s.max + 1.0) };
    linear_histogram(x, HIST_BINS, lo, hi, false)
}

/// Everything the explorer shows for one configuration (computed in the page's worker and sent back as
/// JSON, non-finite numbers included).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Explore {
    /// The CLI's result object (`lowbit quant --json`).
    pub result: Value,
    #[serde(with = "any_f64")]
    pub mse: f64,
    #[serde(with = "any_f64")]
    pub sqnr_db: f64,
    #[serde(with = "any_f64")]
    pub bits_per_element: f64,
    /// The clip, or the range of clips for per-channel/vector.
    pub clip_text: String,
    /// The chosen method's clips as a grid (rows × groups per row), shown as a heatmap.
    pub scales: Option<Heat>,
}

/// The clipping curve of a format and granularity (it does not depend on the chosen clip method, so
/// switching methods does not recompute it), and where each method's clip lands on the values.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    pub curve: Option<ClipCurve>,
    /// Elements the curve was computed on, and in the whole tensor.
    pub elements: usize,
    pub total: usize,
    /// (method, clip) to draw on the histogram: ratio × max |x| per tensor, ratio × the mean group max for
    /// finer granularity (then it is the typical clip, not every group's).
    pub thresholds: Vec<(String, f64)>,
    pub per_group: bool,
}

/// An f64 in JSON whatever its value: non-finite ones as the strings `inf`, `-inf`, `NaN` (JSON has no
/// number for them, and a lossless quantization's SQNR is infinite).
mod any_f64 {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    enum Wire {
        Num(f64),
        Text(String),
    }

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() { Wire::Num(*v) } else { Wire::Text(v.to_string()) }.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(match Wire::deserialize(d)? {
            Wire::Num(v) => v,
            Wire::Text(t) => t.parse().unwrap_or(f64::NAN),
        })
    }
}

/// A grid of values for a heatmap (clips: finite; a non-finite one would travel as `null`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Heat {
    pub z: Vec<Vec<f64>>,
    /// Rows shown are every `row_step`-th row.
    pub row_step: usize,
}

/// Quantizes the whole tensor as `spec` says.
pub fn explore(d: &TensorData, spec: &QuantSpec) -> Result<Explore, String> {
    let cfg = spec.resolve().map_err(|e| e.to_string())?;
    let a = quant::analyze(&d.values, &d.shape, &cfg).map_err(|e| e.to_string())?;
    let result = lowbit_core::report::result_json(&d.name, &d.shape, &cfg, &a);
    let clips = &a.output.clips;
    let clip_text = match clips.len() {
        0 => "—".into(),
        1 => fmt_num(clips[0] as f64),
        n => {
            let (lo, hi) = clips.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &c| (l.min(c), h.max(c)));
            format!("{} … {} ({n} groups)", fmt_num(lo as f64), fmt_num(hi as f64))
        }
    };
    let scales = (clips.len() > 1).then(|| heat(&d.shape, cfg.granularity, clips)).flatten();
    Ok(Explore {
        result,
        mse: a.metrics.mse,
        sqnr_db: a.metrics.sqnr_db,
        bits_per_element: a.output.bits_per_element(),
        clip_text,
        scales,
    })
}

/// Each clip method's whole-tensor MSE, by method name.
pub type MethodMse = Vec<(String, f64)>;

/// The whole-tensor MSE of `spec` with each of `methods` as the clip: what the main panel shows when that
/// method is chosen (computed in the worker, so the legend's numbers are the panel's numbers).
pub fn method_mse(d: &TensorData, spec: &QuantSpec, methods: &[String]) -> MethodMse {
    methods
        .iter()
        .map(|m| {
            let s = QuantSpec { clip: Some(m.clone()), ..spec.clone() };
            (m.clone(), explore(d, &s).map_or(f64::NAN, |e| e.mse))
        })
        .collect()
}

/// The clipping curve and every method's marker, on at most [`CURVE_SAMPLE`] elements taken as whole rows.
pub fn curve(d: &TensorData, spec: &QuantSpec) -> Result<Curve, String> {
    let cfg = spec.resolve().map_err(|e| e.to_string())?;
    let (sx, sshape) = lowbit_core::sample::row_sample(&d.values, &d.shape, CURVE_SAMPLE);
    let curve = clip_curve(&sx, &sshape, &cfg, CURVE_POINTS).ok();
    let per_group = cfg.granularity != lowbit_core::granularity::Granularity::Tensor;
    let base = if per_group {
        let maxes = quant::quantize(&sx, &sshape, &cfg.with_clip(lowbit_core::clip::ClipMethod::Max))
            .map(|o| o.clips)
            .unwrap_or_default();
        maxes.iter().map(|&m| m as f64).sum::<f64>() / maxes.len().max(1) as f64
    } else {
        lowbit_core::clip::amax(&d.values, lowbit_core::clip::Magnitude::Abs) as f64
    };
    let thresholds = curve
        .as_ref()
        .map(|c| c.markers.iter().map(|m| (m.method.clone(), m.ratio * base)).collect())
        .unwrap_or_default();
    Ok(Curve { curve, elements: sx.len(), total: d.values.len(), thresholds, per_group })
}

fn heat(shape: &[usize], g: lowbit_core::granularity::Granularity, clips: &[f32]) -> Option<Heat> {
    let grouping = Grouping::new(shape, g).ok()?;
    let (rows, per_row) = (grouping.rows(), grouping.groups_per_row());
    if rows * per_row != clips.len() {
        return None;
    }
    let row_step = rows.div_ceil(HEAT_ROWS).max(1);
    let z = (0..rows)
        .step_by(row_step)
        .map(|r| clips[r * per_row..(r + 1) * per_row].iter().map(|&c| c as f64).collect())
        .collect();
    Some(Heat { z, row_step })
}

/// The configurations of the format comparison: every family near 4 bits, with 8-bit and ternary anchors.
pub const COMPARE: &[(&str, &str)] = &[
    ("INT8 per-channel", r#"{"format":"int","bits":8,"granularity":"channel:0","clip":"max"}"#),
    ("INT4 per-channel, max", r#"{"format":"int","bits":4,"granularity":"channel:0","clip":"max"}"#),
    ("INT4 per-channel, OCTAV", r#"{"format":"int","bits":4,"granularity":"channel:0","clip":"octav"}"#),
    ("INT4 g128", r#"{"format":"int","bits":4,"granularity":"vector:128","clip":"max"}"#),
    ("INT4 g128 asym", r#"{"format":"int-asym","bits":4,"granularity":"vector:128"}"#),
    (
        "VS-Quant INT4 V16, 6-bit scales",
        r#"{"format":"int","bits":4,"granularity":"vector:16","clip":"max","scale_bits":6}"#,
    ),
    ("INT3 per-channel, OCTAV", r#"{"format":"int","bits":3,"granularity":"channel:0","clip":"octav"}"#),
    ("MXFP4", r#"{"format":"mxfp4"}"#),
    ("MXFP6 E2M3", r#"{"format":"mxfp6-e2m3"}"#),
    ("MXFP8 E4M3", r#"{"format":"mxfp8-e4m3"}"#),
    ("MXINT8", r#"{"format":"mxint8"}"#),
    ("NVFP4", r#"{"format":"nvfp4"}"#),
    ("FP8 E4M3 per-channel", r#"{"format":"fp8-e4m3","granularity":"channel:0"}"#),
    ("FP4 E2M1 per-channel", r#"{"format":"fp4-e2m1","granularity":"channel:0"}"#),
    ("Ternary per-channel", r#"{"format":"ternary","granularity":"channel:0"}"#),
];

/// One row of the comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareRow {
    pub label: String,
    pub spec: QuantSpec,
    /// (bits per element, MSE, SQNR dB), or why the configuration does not apply.
    pub outcome: Result<(f64, f64, f64), String>,
    pub pareto: bool,
}

/// Every configuration of [`COMPARE`] on the tensor, with the Pareto front of (bits, MSE) marked.
pub fn compare(d: &TensorData) -> Vec<CompareRow> {
    let mut rows: Vec<CompareRow> = COMPARE
        .iter()
        .map(|(label, json)| {
            let spec: QuantSpec = serde_json::from_str(json).expect("the comparison configurations parse");
            let outcome = spec
                .resolve()
                .and_then(|cfg| quant::analyze(&d.values, &d.shape, &cfg))
                .map(|a| (a.output.bits_per_element(), a.metrics.mse, a.metrics.sqnr_db))
                .map_err(|e| e.to_string());
            CompareRow { label: label.to_string(), spec, outcome, pareto: false }
        })
        .collect();
    let pts: Vec<(f64, f64)> =
        rows.iter().map(|r| r.outcome.as_ref().map_or((f64::NAN, f64::NAN), |o| (o.0, o.1))).collect();
    for i in lowbit_core::pareto::pareto_front(&pts) {
        rows[i].pareto = true;
    }
    rows
}

/// SQNR and bits per element of one tensor under one configuration (the checkpoint table's columns).
pub fn tensor_summary(x: &[f32], shape: &[usize], spec: &QuantSpec) -> Result<(f64, f64), String> {
    let cfg = spec.resolve().map_err(|e| e.to_string())?;
    let a = quant::analyze(x, shape, &cfg).map_err(|e| e.to_string())?;
    Ok((a.metrics.sqnr_db, a.output.bits_per_element()))
}

/// Pruning of the tensor, then quantization of what is left, with storage costs.
#[derive(Debug, Clone, PartialEq)]
pub struct Sparsified {
    pub sparsity: f64,
    pub groups: usize,
    pub groups_pruned: usize,
    pub prune_sqnr_db: f64,
    pub total_sqnr_db: f64,
    pub total_mse: f64,
    /// (scheme, bits per parameter).
    pub storage: Vec<(String, f64)>,
    pub pruned: Vec<f32>,
}

pub fn sparsify(
    d: &TensorData,
    pattern: &str,
    sparsity: f64,
    saliency: &str,
    spec: &QuantSpec,
) -> Result<Sparsified, String> {
    let pattern: Pattern = pattern.parse().map_err(|e: lowbit_core::Error| e.to_string())?;
    let sparsity = pattern.fixed_sparsity().unwrap_or(sparsity);
    let saliency: Saliency = saliency.parse().map_err(|e: lowbit_core::Error| e.to_string())?;
    let p =
        prune::prune(&d.values, &d.shape, &PruneConfig { pattern, sparsity, saliency }).map_err(|e| e.to_string())?;
    let cfg = spec.resolve().map_err(|e| e.to_string())?;
    let a = assess(&d.values, &d.shape, &p, pattern, Some(&cfg), 4).map_err(|e| e.to_string())?;
    let q = a.quantized.ok_or("no quantization")?;
    let storage = a.storage.into_iter().map(|c| (c.scheme, c.bits_per_param)).collect();
    Ok(Sparsified {
        sparsity: p.sparsity,
        groups: p.groups,
        groups_pruned: p.groups_pruned,
        prune_sqnr_db: a.pruned.sqnr_db,
        total_sqnr_db: q.metrics.sqnr_db,
        total_mse: q.metrics.mse,
        storage,
        pruned: p.pruned,
    })
}

pub fn mac(weight_bits: u32, act_bits: u32, vector: u32, scale_bits: u32) -> Result<MacReport, String> {
    mac_cost(&MacConfig::new(weight_bits, act_bits, vector, scale_bits)).map_err(|e| e.to_string())
}

/// Four significant digits, scientific when small or large.
pub fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        return if v.is_nan() {
            "—".into()
        } else if v > 0.0 {
            "∞".into()
        } else {
            "−∞".into()
        };
    }
    let a = v.abs();
    if a != 0.0 && !(1e-3..1e5).contains(&a) { format!("{v:.3e}") } else { format!("{}", (v * 1e4).round() / 1e4) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gaussian(rows: usize, cols: usize) -> TensorData {
        TensorData {
            name: "w".into(),
            shape: vec![rows, cols],
            values: lowbit_core::sample::Sampler::new(3).gaussian_vec(rows * cols),
        }
    }

    #[test]
    fn the_explorer_reports_what_core_reports() {
        let d = gaussian(64, 256);
        let spec: QuantSpec =
            serde_json::from_str(r#"{"format":"int","bits":4,"granularity":"channel:0","clip":"octav"}"#).unwrap();
        let e = explore(&d, &spec).unwrap();
        let a = quant::analyze(&d.values, &d.shape, &spec.resolve().unwrap()).unwrap();
        assert_eq!((e.mse, e.sqnr_db), (a.metrics.mse, a.metrics.sqnr_db));
        let heat = e.scales.expect("per-channel clips make a heatmap");
        assert_eq!((heat.z.len(), heat.z[0].len()), (64, 1));
        let c = curve(&d, &spec).unwrap();
        assert!(c.per_group);
        let cc = c.curve.expect("a curve");
        assert_eq!(cc.ratios.len(), CURVE_POINTS);
        let octav = cc.markers.iter().find(|m| m.method == "octav").expect("an OCTAV marker");
        // The histogram line sits at the typical per-channel clip: between the smallest and largest clip.
        let (_, t) = c.thresholds.iter().find(|(m, _)| m == "octav").unwrap();
        let clips: Vec<f64> = e.result["clips"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        assert!(
            clips.iter().cloned().fold(f64::INFINITY, f64::min) < *t && *t < clips.iter().cloned().fold(0.0, f64::max)
        );
        assert!(octav.ratio > 0.3 && octav.ratio < 1.0);
    }

    #[test]
    fn the_curve_sample_keeps_whole_rows_of_a_large_tensor() {
        let d = gaussian(1024, 1024);
        let spec: QuantSpec = serde_json::from_str(r#"{"format":"int","bits":4,"granularity":"vector:16"}"#).unwrap();
        let e = explore(&d, &spec).unwrap();
        let c = curve(&d, &spec).unwrap();
        assert_eq!((c.elements, c.total), (CURVE_SAMPLE, 1 << 20));
        let heat = e.scales.unwrap();
        assert_eq!((heat.z.len(), heat.z[0].len(), heat.row_step), (256, 64, 4));
    }

    #[test]
    fn the_comparison_marks_a_front_that_nothing_beats() {
        let rows = compare(&gaussian(128, 256));
        assert_eq!(rows.len(), COMPARE.len());
        assert!(
            rows.iter().all(|r| r.outcome.is_ok()),
            "{:?}",
            rows.iter().filter_map(|r| r.outcome.clone().err()).collect::<Vec<_>>()
        );
        let on: Vec<_> = rows.iter().filter(|r| r.pareto).collect();
        assert!(on.len() >= 2);
        for p in &on {
            let (b, m, _) = p.outcome.clone().unwrap();
            assert!(!rows.iter().any(|q| {
                let (qb, qm, _) = q.outcome.clone().unwrap();
                qb <= b && qm <= m && (qb < b || qm < m)
            }));
        }
    }

    #[test]
    fn pruning_then_quantizing_costs_more_than_either() {
        let d = gaussian(64, 64);
        let spec: QuantSpec = serde_json::from_str(r#"{"format":"int","bits":4,"granularity":"channel:0"}"#).unwrap();
        let s = sparsify(&d, "nm:2:4", 0.0, "l1", &spec).unwrap();
        assert!((s.sparsity - 0.5).abs() < 1e-9);
        assert!(s.total_sqnr_db < s.prune_sqnr_db);
        assert!(s.storage.iter().any(|(k, _)| k == "bitmask"));
        let shape = crate::curves::layer_shape(&d.shape).unwrap();
        let r = crate::curves::scnn_point(&s.pruned, shape, &crate::curves::Acts::synthetic(64, 8, 0.5)).unwrap();
        assert!(r.scnn_cycles > 0.0 && r.dcnn_cycles > 0.0);
        assert!(crate::curves::layer_shape(&[4096]).is_err());
    }

    #[test]
    fn a_tensor_with_nan_or_nothing_in_it_is_refused_by_name() {
        let spec: QuantSpec = serde_json::from_str(r#"{"format":"int","bits":4}"#).unwrap();
        let nan = TensorData { name: "w".into(), shape: vec![2, 2], values: vec![1.0, f32::NAN, 2.0, 3.0] };
        assert!(explore(&nan, &spec).unwrap_err().contains("NaN"));
        assert!(tensor_summary(&nan.values, &nan.shape, &spec).is_err());
        let empty = TensorData { name: "e".into(), shape: vec![0, 4], values: vec![] };
        assert!(explore(&empty, &spec).unwrap_err().contains("empty"));
        let bad: QuantSpec = serde_json::from_str(r#"{"format":"int","bits":40}"#).unwrap();
        assert!(explore(&gaussian(4, 4), &bad).is_err());
        assert!(sparsify(&gaussian(4, 4), "nm:4:2", 0.0, "l1", &spec).is_err());
        let three = crate::curves::Acts::synthetic(3, 8, 0.5);
        assert!(crate::curves::scnn_point(&[0.0; 16], [4, 4, 1, 1], &three).unwrap_err().contains("channels"));
        assert!(mac(0, 4, 16, 6).is_err());
    }

    #[test]
    fn each_methods_mse_is_the_panels_number_for_that_method() {
        let d = gaussian(16, 64);
        let spec = crate::state::Spec::default().quant_spec();
        let methods: Vec<String> = ["max", "mse", "octav"].map(String::from).to_vec();
        for (m, mse) in method_mse(&d, &spec, &methods) {
            let panel = explore(&d, &QuantSpec { clip: Some(m.clone()), ..spec.clone() }).unwrap().mse;
            assert_eq!(mse, panel, "{m}");
        }
    }

    #[test]
    fn a_bad_file_is_named_not_a_panic() {
        assert!(
            matches!(parse_local(b"garbage bytes"), Err(LocalError::Unreadable(e)) if e.contains("not a checkpoint"))
        );
        // A file over the tab's budget is handed on to the server, not refused as unreadable.
        let over = lowbit_core::Error::limit("pickle's shared references expand to more than 1048576 objects");
        assert!(matches!(LocalError::of(over), LocalError::TooBig(m) if m.contains("expand")));
        let npy = lowbit_core::readers::npy::write_f32(&[2, 2], &[1.0, 2.0, 3.0, 4.0]);
        let (fmt, ts) = parse_local(&npy).unwrap();
        assert_eq!((fmt.as_str(), ts[0].numel), ("npy", 4));
        assert_eq!(local_tensor(&npy, &ts[0].name).unwrap().values, vec![1.0, 2.0, 3.0, 4.0]);
    }
}
