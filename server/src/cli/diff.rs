//! `lowbit diff A B`: an original checkpoint and a compressed version of it, tensor by tensor — pairs by
//! name, then by content; quantized encodings read from the file; SQNR, cosine, max error, the format — as
//! a table or one JSON object (with both histograms of every pair).

use super::json::print;
use anyhow::{Result, bail};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct DiffArgs {
    /// The original checkpoint.
    pub a: PathBuf,
    /// The compressed checkpoint.
    pub b: PathBuf,
    /// Pair these two tensors (A's name=B's name), before any automatic pairing; repeatable.
    #[arg(long = "pair")]
    pub pairs: Vec<String>,
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: &DiffArgs) -> Result<()> {
    let user: Vec<(String, String)> = a
        .pairs
        .iter()
        .map(|p| match p.split_once('=') {
            Some((x, y)) if !x.is_empty() && !y.is_empty() => Ok((x.to_string(), y.to_string())),
            _ => bail!("--pair takes A_NAME=B_NAME, not `{p}`"),
        })
        .collect::<Result<_>>()?;
    let (fa, fb) = (crate::load::Files::open(&a.a)?, crate::load::Files::open(&a.b)?);
    let (oa, ob) = (fa.parse()?, fb.parse()?);
    let d = lowbit_core::diff::diff(&oa.tensors, &ob.tensors, &user)?;
    if a.json {
        print(&serde_json::to_value(&d)?);
        return Ok(());
    }
    outln!(
        "{:<52} {:<44} {:<14} {:>9} {:>9} {:>10}  format",
        "tensor (A)",
        "tensor (B)",
        "paired by",
        "SQNR dB",
        "cosine",
        "max err"
    );
    for p in &d.pairs {
        let by = serde_json::to_value(p.pairing)?;
        let how = format!("{}{}", by.as_str().unwrap_or(""), if p.transposed { ", T" } else { "" });
        let format = match (&p.encoding, &p.inferred.bits) {
            (Some(e), _) => format!(
                "{} {} ({} scales{})",
                e.dtype,
                e.granularity,
                e.scales,
                if e.zero_point { ", zero points" } else { "" }
            ),
            (None, Some(b)) => format!("~{b} bits, {}", p.inferred.granularity),
            (None, None) => "float".into(),
        };
        let db = if p.sqnr_db.is_finite() { format!("{:.2}", p.sqnr_db) } else { "exact".into() };
        outln!("{:<52} {:<44} {:<14} {:>9} {:>9.6} {:>10.3e}  {format}", p.a, p.b, how, db, p.cosine, p.max_abs_err);
    }
    if !d.only_a.is_empty() || !d.only_b.is_empty() {
        outln!("\nunpaired: A {:?}; B {:?}", d.only_a, d.only_b);
    }
    Ok(())
}
