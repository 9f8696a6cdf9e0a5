//! `lowbit info FILE`: every tensor with dtype, shape and statistics.

use super::InfoArgs;
use super::json::{num, print};
use crate::load::Files;
use anyhow::Result;
use lowbit_core::stats::TensorStats;
use serde_json::json;

pub fn run(a: &InfoArgs) -> Result<()> {
    let files = Files::open(&a.file)?;
    let opened = files.parse()?;
    let mut rows = Vec::with_capacity(opened.tensors.len());
    for t in &opened.tensors {
        let values = t.to_f32()?;
        let s = TensorStats::of(&values);
        rows.push((t, s));
    }
    if a.json {
        let tensors: Vec<_> = rows
            .iter()
            .map(|(t, s)| {
                json!({
                    "name": t.name, "dtype": t.dtype.name(), "shape": t.shape, "numel": s.numel,
                    "min": num(s.min), "max": num(s.max), "mean": num(s.mean), "std": num(s.std),
                    "sparsity": num(s.sparsity), "non_finite": s.non_finite,
                })
            })
            .collect();
        print(&json!({"file": a.file.display().to_string(), "format": opened.format, "tensors": tensors}));
        return Ok(());
    }
    let total: usize = rows.iter().map(|(_, s)| s.numel).sum();
    outln!("{}: {} · {} tensors · {} parameters", a.file.display(), opened.format, rows.len(), total);
    let w = rows.iter().map(|(t, _)| t.name.len()).max().unwrap_or(4).max(4);
    outln!(
        "{:<w$}  {:<7} {:<16} {:>10} {:>11} {:>11} {:>11} {:>10} {:>7}",
        "name",
        "dtype",
        "shape",
        "numel",
        "min",
        "max",
        "mean",
        "std",
        "zeros"
    );
    for (t, s) in &rows {
        outln!(
            "{:<w$}  {:<7} {:<16} {:>10} {:>11.4e} {:>11.4e} {:>11.4e} {:>10.4e} {:>6.2}%{}",
            t.name,
            t.dtype.name(),
            format!("{:?}", t.shape),
            s.numel,
            s.min,
            s.max,
            s.mean,
            s.std,
            100.0 * s.sparsity,
            if s.non_finite > 0 { format!("  ({} NaN/Inf)", s.non_finite) } else { String::new() }
        );
    }
    Ok(())
}
