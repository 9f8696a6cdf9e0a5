//! `lowbit curve FILE --tensor NAME`: MSE against clip ratio, and each clip method's position on it.

use super::CurveArgs;
use super::json::{num, print};
use crate::load::Files;
use anyhow::{Result, anyhow};
use lowbit_core::curve::clip_curve;
use serde_json::json;

pub fn run(a: &CurveArgs) -> Result<()> {
    let cfg = a.settings.spec()?.resolve()?;
    let files = Files::open(&a.file)?;
    let opened = files.parse()?;
    let t = opened
        .tensors
        .iter()
        .find(|t| t.name == a.tensor)
        .ok_or_else(|| anyhow!("{} has no tensor named `{}`", a.file.display(), a.tensor))?;
    let x = t.to_f32()?;
    let c = clip_curve(&x, &t.shape, &cfg, a.points)?;
    if a.json {
        print(&json!({
            "tensor": t.name,
            "config": a.settings.spec()?,
            "ratios": c.ratios,
            "mse": c.mse.iter().map(|&v| num(v)).collect::<Vec<_>>(),
            "markers": c.markers.iter().map(|m| json!({"method": m.method, "ratio": num(m.ratio), "mse": num(m.mse)})).collect::<Vec<_>>(),
        }));
        return Ok(());
    }
    outln!("{} · {} {} · clipping curve ({} points)", t.name, cfg.format, cfg.granularity, c.ratios.len());
    let best = c.mse.iter().cloned().fold(f64::INFINITY, f64::min);
    for (r, e) in c.ratios.iter().zip(&c.mse).step_by((c.ratios.len() / 20).max(1)) {
        let bar = ((best / e) * 50.0) as usize;
        outln!("  r={r:5.3}  mse={e:11.4e}  {}", "█".repeat(bar.min(50)));
    }
    outln!("methods:");
    for m in &c.markers {
        outln!("  {:<16} ratio {:6.4}  mse {:11.4e}", m.method, m.ratio, m.mse);
    }
    Ok(())
}
