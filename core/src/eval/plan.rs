//! Compressing a network's weights: each layer quantized (and optionally pruned first, the mask applied
//! again after quantizing so pruned weights stay zero), with what it cost in bits and in weight SQNR.

use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::prune::{self, PruneConfig, PruneSpec};
use crate::quant::{self, QuantConfig, QuantSpec};
use serde::{Deserialize, Serialize};

/// A compressible weight: conv and linear weights (biases stay fp32, as deployments keep them in int32).
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    pub name: String,
    pub shape: Vec<usize>,
    pub weight: Vec<f32>,
}

impl Layer {
    pub fn params(&self) -> usize {
        self.weight.len()
    }
}

/// What to do to one layer's weights, in the API's words.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Compression {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quant: Option<QuantSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prune: Option<PruneSpec>,
}

/// A [`Compression`] checked and resolved.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Resolved {
    pub quant: Option<QuantConfig>,
    pub prune: Option<PruneConfig>,
}

impl Compression {
    pub fn resolve(&self) -> Result<Resolved> {
        Ok(Resolved {
            quant: self.quant.as_ref().map(QuantSpec::resolve).transpose()?,
            prune: self.prune.as_ref().map(PruneSpec::resolve).transpose()?,
        })
    }
}

impl Resolved {
    /// Leaves the weights as they are.
    pub const NONE: Self = Self { quant: None, prune: None };
}

/// One layer after compression.
#[derive(Debug, Clone, PartialEq)]
pub struct CompressedLayer {
    pub weight: Vec<f32>,
    /// Stored bits of the layer's weights, scales and zero points included (32 per weight when unquantized).
    pub bits: u64,
    pub weight_sqnr_db: f64,
    /// Fraction of weights that are zero after compression.
    pub sparsity: f64,
}

/// Compresses one layer as `c` says.
pub fn compress_layer(layer: &Layer, c: &Resolved) -> Result<CompressedLayer> {
    let named = |e: Error| Error { message: format!("layer `{}`: {}", layer.name, e.message), ..e };
    let (values, mask) = match &c.prune {
        Some(p) => {
            let out = prune::prune(&layer.weight, &layer.shape, p).map_err(named)?;
            (out.pruned, Some(out.mask))
        }
        None => (layer.weight.clone(), None),
    };
    let (mut weight, bits) = match &c.quant {
        Some(q) => {
            let out = quant::quantize(&values, &layer.shape, q).map_err(named)?;
            let bits = out.element_bits + out.scale_bits;
            (out.dequant, bits)
        }
        None => (values, 32 * layer.params() as u64),
    };
    if let Some(mask) = mask {
        weight.iter_mut().zip(&mask).filter(|(_, k)| !**k).for_each(|(w, _)| *w = 0.0);
    }
    let weight_sqnr_db = Metrics::between(&layer.weight, &weight).sqnr_db;
    let sparsity = weight.iter().filter(|&&w| w == 0.0).count() as f64 / weight.len().max(1) as f64;
    Ok(CompressedLayer { weight, bits, weight_sqnr_db, sparsity })
}

/// Every layer compressed by its own choice (`choices[i]` for layer i).
pub fn compress(layers: &[Layer], choices: &[Resolved]) -> Result<Vec<CompressedLayer>> {
    if choices.len() != layers.len() {
        return Err(Error::param(format!("{} choices for {} layers", choices.len(), layers.len())));
    }
    layers.iter().zip(choices).map(|(l, c)| compress_layer(l, c)).collect()
}

/// Average stored bits per weight over all layers.
pub fn bits_per_param(layers: &[Layer], compressed: &[CompressedLayer]) -> f64 {
    let params: usize = layers.iter().map(Layer::params).sum();
    compressed.iter().map(|c| c.bits).sum::<u64>() as f64 / params.max(1) as f64
}
