//! `lowbit prune FILE`: prune every matching weight with a sparsity pattern, optionally quantize the result,
//! and report achieved sparsity, error and storage cost per parameter under every sparse format.

use super::json::{num, print};
use super::quant::parallel_map;
use crate::load::Files;
use anyhow::{Context, Result, bail};
use clap::Args;
use lowbit_core::prune::{self, Pattern, PruneConfig, PruneOutput, Saliency, assess::assess, check_pattern};
use regex::Regex;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// `lowbit prune`.
#[derive(Args, Debug)]
pub struct PruneArgs {
    pub file: PathBuf,
    /// Only tensors whose name matches this regular expression.
    #[arg(long)]
    pub tensor: Option<String>,
    /// fine | vector | vector:col | kernel | filter | channel | block:RxC | nm:N:M
    #[arg(long)]
    pub pattern: String,
    /// Target fraction of pruned weights in [0, 1) (not needed for nm:N:M).
    #[arg(long)]
    pub sparsity: Option<f64>,
    /// Group saliency: l1 (default) or l2.
    #[arg(long, default_value = "l1")]
    pub saliency: String,
    /// One saliency threshold across all selected tensors instead of the target per tensor.
    #[arg(long)]
    pub global: bool,
    /// Index width of the relative and group-index storage formats.
    #[arg(long, default_value_t = 4)]
    pub index_bits: u32,
    /// Also quantize the pruned weights (the `lowbit quant` options; storage then counts their bits).
    #[command(flatten)]
    pub quant: super::QuantSettings,
    /// Write the pruned (and quantized) tensors, others unchanged, to this safetensors file.
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

fn fits(pattern: Pattern, shape: &[usize]) -> bool {
    match pattern {
        Pattern::Fine | Pattern::NM { .. } => !shape.is_empty(),
        Pattern::Kernel => shape.len() == 4,
        Pattern::VectorRow | Pattern::VectorCol | Pattern::Channel => shape.len() == 4 || shape.len() == 2,
        Pattern::Filter | Pattern::Block { .. } => shape.len() >= 2,
    }
}

pub fn run(a: &PruneArgs) -> Result<()> {
    let pattern: Pattern = a.pattern.parse()?;
    let sparsity = match (pattern.fixed_sparsity(), a.sparsity) {
        (Some(s), _) => s,
        (None, Some(s)) => s,
        (None, None) => bail!("--sparsity is needed for pattern {pattern}"),
    };
    let cfg = PruneConfig { pattern, sparsity, saliency: a.saliency.parse::<Saliency>()? };
    cfg.validate()?;
    if !(1..=32).contains(&a.index_bits) {
        bail!("--index-bits {} is outside 1 … 32", a.index_bits);
    }
    let qcfg = match a.quant.format {
        Some(_) => Some(a.quant.spec()?.resolve()?),
        None => None,
    };
    let re = a.tensor.as_deref().map(Regex::new).transpose().context("--tensor is not a valid regular expression")?;
    let files = Files::open(&a.file)?;
    let opened = files.parse()?;
    let matches = |n: &str| re.as_ref().is_none_or(|r| r.is_match(n));
    let mut selected = Vec::new();
    let mut skipped = Vec::new();
    for (i, t) in opened.tensors.iter().enumerate() {
        if !matches(&t.name) {
            continue;
        }
        if !t.dtype.is_float() {
            continue;
        }
        if t.shape.len() < 2 {
            // Biases and norm weights are not pruning targets: they are tiny and their zeros buy nothing.
            skipped.push(
                json!({"tensor": t.name, "shape": t.shape, "reason": "1-D tensors (biases, norms) are not pruned"}),
            );
            continue;
        }
        if fits(pattern, &t.shape) {
            selected.push(i);
        } else {
            skipped.push(json!({"tensor": t.name, "shape": t.shape, "reason": format!("pattern {pattern} does not fit rank {}", t.shape.len())}));
        }
    }
    if selected.is_empty() {
        bail!(
            "no tensor of {} can be pruned with pattern {pattern}{}",
            a.file.display(),
            a.tensor.as_deref().map(|r| format!(" among those matching `{r}`")).unwrap_or_default()
        );
    }
    let values: Vec<Vec<f32>> = selected.iter().map(|&i| opened.tensors[i].to_f32()).collect::<Result<_, _>>()?;
    let shapes: Vec<&[usize]> = selected.iter().map(|&i| opened.tensors[i].shape.as_slice()).collect();
    let pruned: Vec<PruneOutput> = if a.global {
        let pairs: Vec<(&[f32], &[usize])> = values.iter().map(|v| v.as_slice()).zip(shapes.iter().copied()).collect();
        prune::prune_global(&pairs, &cfg)?
    } else {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        parallel_map(values.len(), threads, |k| prune::prune(&values[k], shapes[k], &cfg))
            .into_iter()
            .enumerate()
            .map(|(k, r)| r.map_err(|e| e.context(format!("tensor `{}`", opened.tensors[selected[k]].name))))
            .collect::<Result<_, _>>()?
    };
    let mut rows = Vec::new();
    let mut written: BTreeMap<usize, Vec<f32>> = BTreeMap::new();
    for (k, p) in pruned.iter().enumerate() {
        let t = &opened.tensors[selected[k]];
        check_pattern(&p.mask, &t.shape, pattern).with_context(|| format!("tensor `{}`", t.name))?;
        let cost = assess(&values[k], &t.shape, p, pattern, qcfg.as_ref(), a.index_bits)
            .with_context(|| format!("tensor `{}`", t.name))?;
        let (m, storage) = (cost.pruned, cost.storage);
        let (final_values, quant_json) = match (&qcfg, cost.quantized) {
            (Some(q), Some(qz)) => {
                let j = json!({"format": q.format.to_string(), "granularity": q.granularity.to_string(), "clip_method": q.clip.to_string(),
                    "mse": num(qz.metrics.mse), "sqnr_db": num(qz.metrics.sqnr_db), "scale_bits": qz.scale_bits});
                (qz.values, Some(j))
            }
            _ => (p.pruned.clone(), None),
        };
        let mut r = json!({
            "tensor": t.name, "shape": t.shape, "pattern": pattern.to_string(), "target_sparsity": sparsity,
            "sparsity": p.sparsity, "groups": p.groups, "groups_pruned": p.groups_pruned, "pattern_verified": true,
            "mse": num(m.mse), "sqnr_db": num(m.sqnr_db), "storage": storage,
        });
        if let Some(q) = quant_json {
            r["quant"] = q;
        }
        rows.push(r);
        if a.out.is_some() {
            written.insert(selected[k], final_values);
        }
    }
    if let Some(out) = &a.out {
        crate::load::write_replaced(out, &opened, &written, format!("prune {pattern} sparsity {sparsity}"))?;
    }
    let total: usize = values.iter().map(Vec::len).sum();
    let zeros: f64 = pruned.iter().zip(&values).map(|(p, v)| p.sparsity * v.len() as f64).sum();
    if a.json {
        print(&json!({"file": a.file.display().to_string(), "pattern": pattern.to_string(), "global": a.global,
            "overall_sparsity": zeros / total as f64, "results": rows, "skipped": skipped}));
        return Ok(());
    }
    outln!(
        "{} · pattern {pattern} · target sparsity {sparsity} ({}) · overall {:.4}",
        a.file.display(),
        if a.global { "global" } else { "per tensor" },
        zeros / total as f64
    );
    let w = rows.iter().map(|r| r["tensor"].as_str().unwrap_or("").len()).max().unwrap_or(6).max(6);
    let schemes: Vec<String> = rows[0]["storage"]
        .as_array()
        .map(|s| s.iter().map(|c| c["scheme"].as_str().unwrap_or("").to_string()).collect())
        .unwrap_or_default();
    outln!("{:<w$} {:>8} {:>11} {:>8}  bits/param: {}", "tensor", "sparsity", "mse", "sqnr dB", schemes.join(" | "));
    for r in &rows {
        let bpp: Vec<String> = r["storage"]
            .as_array()
            .map(|s| s.iter().map(|c| format!("{:.3}", c["bits_per_param"].as_f64().unwrap_or(0.0))).collect())
            .unwrap_or_default();
        let (mse, sq) = match r.get("quant") {
            Some(q) => (&q["mse"], &q["sqnr_db"]),
            None => (&r["mse"], &r["sqnr_db"]),
        };
        outln!(
            "{:<w$} {:>8.4} {:>11.4e} {:>8.2}  {}",
            r["tensor"].as_str().unwrap_or(""),
            r["sparsity"].as_f64().unwrap_or(0.0),
            mse.as_f64().unwrap_or(f64::NAN),
            sq.as_f64().unwrap_or(f64::NAN),
            bpp.join(" | ")
        );
    }
    if !skipped.is_empty() {
        outln!("skipped {} tensor(s) the pattern does not fit", skipped.len());
    }
    Ok(())
}
