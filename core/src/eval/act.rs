//! Activation quantization: every compressible layer's input fake-quantized per tensor, with its clip chosen
//! once on calibration data (never the evaluation set) by any of lowbit's clip methods.

use super::{Dataset, Network, Probe};
use crate::error::{Error, Result};
use crate::granularity::Granularity;
use crate::quant::{self, Format, QuantConfig};

/// One layer input's quantizer: the format and the clip calibration chose.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ActQuant {
    pub cfg: QuantConfig,
    pub clip: f32,
}

impl ActQuant {
    /// Quantize-dequantize `x` in place.
    pub fn apply(&self, x: &mut [f32]) -> Result<()> {
        let out = quant::quantize_with_clips(x, &[x.len()], &self.cfg, &[self.clip])?;
        x.copy_from_slice(&out.dequant);
        Ok(())
    }
}

/// Checks that `cfg` can quantize activations: a uniform format (int, uint, a minifloat) per tensor.
pub fn check(cfg: &QuantConfig) -> Result<()> {
    if !matches!(cfg.format, Format::Int { .. } | Format::UInt { .. } | Format::Float(_)) {
        return Err(Error::param(format!(
            "activations are quantized with int, uint or a minifloat (fp8-e4m3, …), not {}",
            cfg.format.name()
        )));
    }
    if cfg.granularity != Granularity::Tensor {
        return Err(Error::param("activations are quantized per tensor (one clip per layer input)"));
    }
    Ok(())
}

/// Runs the unquantized network on `calib` and chooses each layer input's clip with `cfg.clip` over all of
/// its calibration values. `uint` applies where the calibration inputs are non-negative (after a ReLU); a
/// layer whose input goes negative gets `int` of the same width.
pub fn calibrate(net: &dyn Network, calib: &Dataset, cfg: &QuantConfig) -> Result<Vec<ActQuant>> {
    check(cfg)?;
    if !net.quantizes_activations() {
        return Err(Error::param("this model's runner does not quantize activations (weights only)"));
    }
    calib.check_for(net)?;
    let weights: Vec<&[f32]> = net.layers().iter().map(|l| l.weight.as_slice()).collect();
    let run = net.with_weights(&weights)?;
    let mut inputs: Vec<Vec<f32>> = vec![Vec::new(); net.layers().len()];
    for start in (0..calib.n).step_by(super::run::BATCH) {
        let end = (start + super::run::BATCH).min(calib.n);
        let mut probe = Probe { keep_inputs: true, ..Probe::default() };
        run.run(calib.slice(start..end), end - start, &mut probe)?;
        for (all, batch) in inputs.iter_mut().zip(probe.inputs) {
            all.extend_from_slice(&batch);
        }
    }
    inputs
        .iter()
        .zip(net.layers())
        .map(|(x, layer)| {
            if x.is_empty() {
                return Err(Error::param(format!("layer `{}` saw no calibration input", layer.name)));
            }
            // An unsigned grid on an input that goes negative (the normalised image) would zero half of it:
            // such a layer gets the signed grid of the same width, as a deployment would.
            let mut cfg = *cfg;
            if let Format::UInt { bits } = cfg.format
                && x.iter().any(|&v| v < 0.0)
            {
                cfg.format = Format::Int { bits };
            }
            let clip = quant::quantize(x, &[x.len()], &cfg)
                .map_err(|e| Error { message: format!("calibrating `{}`: {}", layer.name, e.message), ..e })?
                .clips[0];
            Ok(ActQuant { cfg, clip })
        })
        .collect()
}
