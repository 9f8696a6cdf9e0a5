//! `lowbit quant FILE`: quantize every matching floating-point tensor (in parallel, one tensor per task) and
//! report clips and errors; `--out` writes the dequantized checkpoint.

use super::QuantArgs;
use super::json::print;
use crate::load::Files;
use anyhow::{Context, Result, bail};
use lowbit_core::clip::ClipMethod;
use lowbit_core::quant;
use lowbit_core::readers::TensorEntry;
use lowbit_core::report::result_json;
use regex::Regex;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// Runs `f` on every index in 0..n over `threads` workers; results come back in index order.
pub fn parallel_map<T: Send>(n: usize, threads: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let next = AtomicUsize::new(0);
    let out: Mutex<Vec<Option<T>>> = Mutex::new((0..n).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads.clamp(1, n.max(1)) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    let r = f(i);
                    out.lock().expect("no worker panics while holding the lock")[i] = Some(r);
                }
            });
        }
    });
    out.into_inner().expect("workers are done").into_iter().map(|r| r.expect("every index ran")).collect()
}

/// "N tensor(s) failed: first errors … and M more".
fn summarize(errors: &[String]) -> String {
    let shown: Vec<&str> = errors.iter().take(3).map(String::as_str).collect();
    let more = errors.len().saturating_sub(shown.len());
    let tail = if more > 0 { format!("; … and {more} more") } else { String::new() };
    format!("{} tensor(s) failed: {}{tail}", errors.len(), shown.join("; "))
}

fn clip_summary(clips: &[f32]) -> String {
    match clips {
        [one] => format!("{one:.5}"),
        many => {
            let (lo, hi) = many.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &c| (a.min(c), b.max(c)));
            format!("{lo:.4}…{hi:.4} ({})", many.len())
        }
    }
}

pub fn run(a: &QuantArgs) -> Result<()> {
    let cfg = a.settings.spec()?.resolve()?;
    let re = a.tensor.as_deref().map(Regex::new).transpose().context("--tensor is not a valid regular expression")?;
    let files = Files::open(&a.file)?;
    let opened = files.parse()?;
    let matches = |t: &TensorEntry<'_>| re.as_ref().is_none_or(|r| r.is_match(&t.name));
    let selected: Vec<usize> = (0..opened.tensors.len())
        .filter(|&i| matches(&opened.tensors[i]) && opened.tensors[i].dtype.is_float())
        .collect();
    let skipped: Vec<Value> = opened
        .tensors
        .iter()
        .filter(|t| matches(t) && !t.dtype.is_float())
        .map(|t| json!({"tensor": t.name, "dtype": t.dtype.name(), "reason": "not a floating-point tensor"}))
        .collect();
    if selected.is_empty() {
        bail!(
            "no floating-point tensor of {} matches{}",
            a.file.display(),
            a.tensor.as_deref().map(|r| format!(" `{r}`")).unwrap_or_default()
        );
    }
    let threads = a.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let keep = a.out.is_some();
    let start = Instant::now();
    let results = parallel_map(selected.len(), threads, |k| {
        let t = &opened.tensors[selected[k]];
        let x = t.to_f32()?;
        let analysis = quant::analyze(&x, &t.shape, &cfg).map_err(|e| e.context(format!("tensor `{}`", t.name)))?;
        let dequant = keep.then(|| analysis.output.dequant.clone());
        let json = result_json(&t.name, &t.shape, &cfg, &analysis);
        let summary = (clip_summary(&analysis.output.clips), analysis.metrics, analysis.output.bits_per_element());
        Ok::<_, lowbit_core::Error>((json, dequant, summary))
    });
    let elapsed = start.elapsed();

    let mut errors = Vec::new();
    let mut rows = Vec::new();
    let mut dequant: BTreeMap<usize, Vec<f32>> = BTreeMap::new();
    for (k, r) in results.into_iter().enumerate() {
        match r {
            Ok((j, d, s)) => {
                if let Some(d) = d {
                    dequant.insert(selected[k], d);
                }
                rows.push((j, s));
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    if let Some(out) = &a.out {
        crate::load::write_replaced(out, &opened, &dequant, serde_json::to_string(&a.settings.spec()?)?)?;
    }

    if rows.is_empty() && !errors.is_empty() {
        bail!("{}", summarize(&errors));
    }
    if a.json {
        print(&json!({
            "file": a.file.display().to_string(),
            "config": a.settings.spec()?,
            "results": rows.iter().map(|(j, _)| j.clone()).collect::<Vec<_>>(),
            "skipped": skipped,
            "errors": errors,
            "elapsed_ms": elapsed.as_secs_f64() * 1e3,
            "threads": threads,
        }));
    } else {
        let w = rows.iter().map(|(j, _)| j["tensor"].as_str().unwrap_or("").len()).max().unwrap_or(6).max(6);
        outln!(
            "{} · {} {} clip {} · {} tensors in {:.0} ms on {} threads",
            a.file.display(),
            cfg.format,
            cfg.granularity,
            cfg.clip,
            rows.len(),
            elapsed.as_secs_f64() * 1e3,
            threads
        );
        outln!("{:<w$}  {:<26} {:>11} {:>9} {:>9} {:>7}", "tensor", "clip", "mse", "sqnr dB", "cosine", "bits/el");
        for (j, (clip, m, bpe)) in &rows {
            outln!(
                "{:<w$}  {:<26} {:>11.4e} {:>9.2} {:>9.6} {:>7.3}",
                j["tensor"].as_str().unwrap_or(""),
                clip,
                m.mse,
                m.sqnr_db,
                m.cosine,
                bpe
            );
        }
        if !skipped.is_empty() {
            outln!("skipped {} non-floating-point tensor(s)", skipped.len());
        }
        if cfg.clip == ClipMethod::Octav {
            outln!("OCTAV iterations are in --json output");
        }
    }
    if !errors.is_empty() {
        bail!("{}", summarize(&errors));
    }
    Ok(())
}
