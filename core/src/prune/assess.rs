//! What a pruned tensor costs: its error against the original — pruned, and pruned then quantized (with the
//! mask applied again, so pruned weights stay zero on every grid) — and its storage under every scheme. The
//! CLI (`lowbit prune`) and the page's numbers and curves come from here, so they agree.

use super::storage::{StorageCost, storage_costs};
use super::{Pattern, PruneOutput};
use crate::error::Result;
use crate::metrics::Metrics;
use crate::quant::{self, QuantConfig};

/// The quantized side of an [`Assessment`].
#[derive(Debug, Clone)]
pub struct Quantized {
    /// Dequantized values, zero wherever the mask pruned.
    pub values: Vec<f32>,
    pub metrics: Metrics,
    /// Bits of every scale the quantizer stored.
    pub scale_bits: u64,
}

#[derive(Debug, Clone)]
pub struct Assessment {
    /// The pruned tensor against the original.
    pub pruned: Metrics,
    pub quantized: Option<Quantized>,
    pub storage: Vec<StorageCost>,
}

/// Assesses `p` (the pruning of `x` with `pattern`), quantizing with `quant` when given; values are stored
/// at the format's element bits (32 unquantized), indices at `index_bits`.
pub fn assess(
    x: &[f32],
    shape: &[usize],
    p: &PruneOutput,
    pattern: Pattern,
    quant: Option<&QuantConfig>,
    index_bits: u32,
) -> Result<Assessment> {
    let pruned = Metrics::between(x, &p.pruned);
    let (quantized, value_bits, extra_bits) = match quant {
        Some(q) => {
            let out = quant::quantize(&p.pruned, shape, q)?;
            let values: Vec<f32> =
                out.dequant.iter().zip(&p.mask).map(|(&v, &keep)| if keep { v } else { 0.0 }).collect();
            let metrics = Metrics::between(x, &values);
            (
                Some(Quantized { values, metrics, scale_bits: out.scale_bits }),
                q.format.element_bits() as f64,
                out.scale_bits,
            )
        }
        None => (None, 32.0, 0),
    };
    let storage = storage_costs(&p.mask, shape, pattern, value_bits, extra_bits, index_bits)?;
    Ok(Assessment { pruned, quantized, storage })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prune::{PruneConfig, Saliency, prune};

    #[test]
    fn quantizing_keeps_pruned_weights_zero_and_costs_more() {
        let x = crate::sample::Sampler::new(2).gaussian_vec(64 * 32);
        let shape = [64, 32];
        let p =
            prune(&x, &shape, &PruneConfig { pattern: Pattern::Fine, sparsity: 0.5, saliency: Saliency::L1 }).unwrap();
        let q: QuantConfig =
            serde_json::from_str::<crate::quant::QuantSpec>(r#"{"format":"int","bits":4,"granularity":"channel:0"}"#)
                .unwrap()
                .resolve()
                .unwrap();
        let a = assess(&x, &shape, &p, Pattern::Fine, Some(&q), 4).unwrap();
        let qz = a.quantized.unwrap();
        assert!(qz.values.iter().zip(&p.mask).all(|(v, keep)| *keep || *v == 0.0));
        assert!(qz.metrics.sqnr_db < a.pruned.sqnr_db);
        let dense = a.storage.iter().find(|s| s.scheme == "dense").unwrap();
        assert!((dense.bits_per_param - (4.0 + qz.scale_bits as f64 / x.len() as f64)).abs() < 1e-9, "{dense:?}");
    }
}
