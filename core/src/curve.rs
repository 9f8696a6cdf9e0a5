//! The clipping curve: MSE against clip ratio r (clip = r·max of each group) for one format and granularity,
//! and where each clipping method lands on it. This is the picture that shows why optimal clipping matters.

use crate::clip::ClipMethod;
use crate::error::Result;
use crate::quant::{self, QuantConfig};
use serde::Serialize;

/// Where one method landed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CurveMarker {
    pub method: String,
    /// Mean over groups of clip / group max.
    pub ratio: f64,
    pub mse: f64,
}

/// MSE at each ratio, and the methods' markers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClipCurve {
    pub ratios: Vec<f64>,
    pub mse: Vec<f64>,
    pub markers: Vec<CurveMarker>,
}

/// Computes the curve on `points` ratios evenly spaced in (0, 1] and the markers of every clip method that
/// applies to the format (methods that do not apply are left out, not errors).
pub fn clip_curve(x: &[f32], shape: &[usize], cfg: &QuantConfig, points: usize) -> Result<ClipCurve> {
    let maxes = base_maxes(x, shape, cfg)?;
    let points = points.clamp(2, 1000);
    let mut ratios = Vec::with_capacity(points);
    let mut mse = Vec::with_capacity(points);
    let grouping = crate::granularity::Grouping::new(shape, cfg.granularity)?;
    let elem_cfg = *cfg;
    let mut out = vec![0.0f32; x.len()];
    for k in 1..=points {
        let r = k as f64 / points as f64;
        let mut g = 0;
        // Fixed clip per group: r·max, through the format's own scaling path.
        grouping.for_each(x, &mut out, |_, xs, os| {
            let clip = (r * maxes[g] as f64) as f32;
            g += 1;
            fixed_clip(xs, os, &elem_cfg, clip)
        })?;
        ratios.push(r);
        mse.push(crate::metrics::sum_sq_err(x, &out) / x.len() as f64);
    }
    let mut markers = Vec::new();
    for m in ClipMethod::ALL {
        let Ok(a) = quant::analyze(x, shape, &cfg.with_clip(m)) else {
            continue;
        };
        let ratio =
            a.output.clips.iter().zip(&maxes).map(|(&c, &m)| if m > 0.0 { (c / m) as f64 } else { 1.0 }).sum::<f64>()
                / maxes.len().max(1) as f64;
        markers.push(CurveMarker { method: m.to_string(), ratio, mse: a.metrics.mse });
    }
    Ok(ClipCurve { ratios, mse, markers })
}

/// The per-group maximum the ratios are relative to (the clip `max` chooses).
fn base_maxes(x: &[f32], shape: &[usize], cfg: &QuantConfig) -> Result<Vec<f32>> {
    Ok(quant::quantize(x, shape, &cfg.with_clip(ClipMethod::Max))?.clips)
}

/// Quantize one group with a given clip through the format's single-group path.
fn fixed_clip(xs: &[f32], os: &mut [f32], cfg: &QuantConfig, clip: f32) -> Result<()> {
    use crate::formats::IntGrid;
    use crate::quant::Format;
    use crate::quant::uniform::Elem;
    let elem = match cfg.format {
        Format::Int { bits } => Elem::Int(IntGrid::new(bits, true).with_range(cfg.range)),
        Format::UInt { bits } => Elem::Int(IntGrid::new(bits, false).with_range(cfg.range)),
        Format::Float(f) => Elem::Float(f.minifloat()),
        Format::IntAsym { bits } => {
            let (min, max) = xs.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
            let c = 0.5 * (min + max);
            crate::quant::asym::grid(bits, cfg.range, c - clip, c + clip, cfg.scale_dtype()).fake_quant(xs, os);
            return Ok(());
        }
        Format::Mx(_) | Format::Nvfp4 | Format::Ternary => {
            return Err(crate::Error::param(format!(
                "{} sets its own scales; it has no clipping curve",
                cfg.format.name()
            )));
        }
    };
    let scale = cfg.scale_dtype().store(elem.scale_for_clip(clip));
    elem.fake_quant(xs, scale, os);
    Ok(())
}
