//! Quantize–dequantize a tensor with a [`QuantConfig`] and measure what it cost.
//!
//! One module per scaling scheme: `uniform` (int/uint/minifloat with float scales, VS-Quant two-level),
//! `asym` (zero points), `mx` (OCP MX), `nvfp4`, `ternary`. [`quantize`] validates the input and dispatches;
//! the `match` over [`Format`] lives here only.

pub mod asym;
mod config;
pub mod format;
pub mod mx;
pub mod nvfp4;
pub mod ternary;
pub mod uniform;

pub use config::{MxScaleMode, QuantConfig, QuantSpec, ScaleDtype, ScaleRounding, TernaryRule};
pub use format::{FORMAT_NAMES, FloatFormat, Format, FormatInfo, MxElement, format_info};

use crate::error::{Error, Result};
use crate::formats::IntGrid;
use crate::granularity::Grouping;
use crate::metrics::Metrics;

/// The dequantized tensor and what was chosen to get it.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantOutput {
    /// The tensor after quantize-dequantize, same layout as the input.
    pub dequant: Vec<f32>,
    /// The effective clip of every group, in group order (one for per-tensor).
    pub clips: Vec<f32>,
    /// OCTAV iterations per group, when OCTAV chose the clips.
    pub octav_iterations: Option<Vec<u32>>,
    /// Bits of all stored elements.
    pub element_bits: u64,
    /// Bits of all scales and zero points.
    pub scale_bits: u64,
}

impl QuantOutput {
    /// Stored bits per element, every scale and zero point included.
    pub fn bits_per_element(&self) -> f64 {
        (self.element_bits + self.scale_bits) as f64 / self.dequant.len().max(1) as f64
    }
    /// Bytes after packing: elements packed densely, then scales packed densely.
    pub fn packed_bytes(&self) -> u64 {
        self.element_bits.div_ceil(8) + self.scale_bits.div_ceil(8)
    }
}

/// Rejects what no quantizer should see: a shape that does not match, an empty tensor, NaN or Inf.
pub fn check_tensor(x: &[f32], shape: &[usize]) -> Result<()> {
    let numel = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| Error::tensor(format!("shape {shape:?} overflows")))?;
    if numel != x.len() {
        return Err(Error::tensor(format!("shape {shape:?} holds {numel} elements but the data has {}", x.len())));
    }
    if x.is_empty() {
        return Err(Error::tensor(format!("tensor of shape {shape:?} is empty")));
    }
    if let Some(i) = x.iter().position(|v| !v.is_finite()) {
        let n = x.iter().filter(|v| !v.is_finite()).count();
        return Err(Error::tensor(format!(
            "element {i} is {} ({n} non-finite values in all); lowbit quantizes finite values only",
            x[i]
        )));
    }
    Ok(())
}

/// Quantizes `x` (row-major, `shape`) as `cfg` says.
pub fn quantize(x: &[f32], shape: &[usize], cfg: &QuantConfig) -> Result<QuantOutput> {
    cfg.validate()?;
    check_tensor(x, shape)?;
    let grouping = Grouping::new(shape, cfg.granularity)?;
    match cfg.format {
        Format::Int { bits } => uniform::quantize(
            x,
            &grouping,
            cfg,
            uniform::Elem::Int(IntGrid::new(bits, true).with_range(cfg.range)),
            None,
        ),
        Format::UInt { bits } => uniform::quantize(
            x,
            &grouping,
            cfg,
            uniform::Elem::Int(IntGrid::new(bits, false).with_range(cfg.range)),
            None,
        ),
        Format::Float(f) => uniform::quantize(x, &grouping, cfg, uniform::Elem::Float(f.minifloat()), None),
        Format::IntAsym { bits } => asym::quantize(x, &grouping, cfg, bits),
        Format::Mx(e) => mx::quantize(x, &grouping, cfg, e),
        Format::Nvfp4 => nvfp4::quantize(x, &grouping, cfg),
        Format::Ternary => ternary::quantize(x, &grouping, cfg),
    }
}

/// Quantizes `x` with the clips given (one per group, in group order) instead of choosing them — what
/// quantization-aware training does between two re-solves of its clips. Uniform formats only (int, uint,
/// fp): the others choose their own scales.
pub fn quantize_with_clips(x: &[f32], shape: &[usize], cfg: &QuantConfig, clips: &[f32]) -> Result<QuantOutput> {
    cfg.validate()?;
    check_tensor(x, shape)?;
    let grouping = Grouping::new(shape, cfg.granularity)?;
    if clips.len() != grouping.groups() {
        return Err(Error::param(format!("{} clips given for {} groups", clips.len(), grouping.groups())));
    }
    if let Some(c) = clips.iter().find(|c| !c.is_finite() || **c < 0.0) {
        return Err(Error::param(format!("clip {c} is not a finite, non-negative number")));
    }
    let elem = match cfg.format {
        Format::Int { bits } => uniform::Elem::Int(IntGrid::new(bits, true).with_range(cfg.range)),
        Format::UInt { bits } => uniform::Elem::Int(IntGrid::new(bits, false).with_range(cfg.range)),
        Format::Float(f) => uniform::Elem::Float(f.minifloat()),
        _ => {
            return Err(Error::param(format!(
                "{} chooses its own scales; given clips need a uniform format (int, uint, fp)",
                cfg.format.info().name
            )));
        }
    };
    uniform::quantize(x, &grouping, cfg, elem, Some(clips))
}

/// A quantization with its error measures.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    pub output: QuantOutput,
    pub metrics: Metrics,
}

/// Quantizes and measures.
pub fn analyze(x: &[f32], shape: &[usize], cfg: &QuantConfig) -> Result<Analysis> {
    let output = quantize(x, shape, cfg)?;
    let metrics = Metrics::between(x, &output.dequant);
    Ok(Analysis { output, metrics })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clip::ClipMethod;
    use crate::granularity::Granularity;
    use crate::sample::Sampler;

    #[test]
    fn given_the_clips_it_chose_a_quantizer_gives_the_same_tensor() {
        let x = Sampler::new(3).gaussian_vec(8 * 64);
        let cfg = QuantConfig::new(Format::Int { bits: 3 })
            .with_granularity(Granularity::Channel { axis: 0 })
            .with_clip(ClipMethod::Octav);
        let chosen = quantize(&x, &[8, 64], &cfg).unwrap();
        let again = quantize_with_clips(&x, &[8, 64], &cfg, &chosen.clips).unwrap();
        assert_eq!(again.dequant, chosen.dequant);
        assert_eq!(again.clips, chosen.clips);
        // Halving the clips clips more: nothing lands beyond the new clip.
        let half: Vec<f32> = chosen.clips.iter().map(|c| c / 2.0).collect();
        let q = quantize_with_clips(&x, &[8, 64], &cfg, &half).unwrap();
        assert!(q.dequant.chunks(64).zip(&half).all(|(row, c)| row.iter().all(|v| v.abs() <= c * 1.0001)));
        assert!(quantize_with_clips(&x, &[8, 64], &cfg, &half[..3]).is_err());
        assert!(quantize_with_clips(&x, &[8, 64], &QuantConfig::new(Format::Nvfp4), &[1.0; 32]).is_err());
    }
}
