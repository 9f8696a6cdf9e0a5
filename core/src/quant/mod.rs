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
        Format::Int { bits } => {
            uniform::quantize(x, &grouping, cfg, uniform::Elem::Int(IntGrid { bits, signed: true }))
        }
        Format::UInt { bits } => {
            uniform::quantize(x, &grouping, cfg, uniform::Elem::Int(IntGrid { bits, signed: false }))
        }
        Format::Float(f) => uniform::quantize(x, &grouping, cfg, uniform::Elem::Float(f.minifloat())),
        Format::IntAsym { bits } => asym::quantize(x, &grouping, cfg, bits),
        Format::Mx(e) => mx::quantize(x, &grouping, cfg, e),
        Format::Nvfp4 => nvfp4::quantize(x, &grouping, cfg),
        Format::Ternary => ternary::quantize(x, &grouping, cfg),
    }
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
