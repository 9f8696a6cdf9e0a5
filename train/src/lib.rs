//! The training lab: small networks trained on MNIST on the CPU, with compression in the loop.
//!
//! - [`data`]: MNIST from the IDX files `scripts/fetch-data.sh mnist` fetches; seeded batch order.
//! - [`model`]: the MLP (LeNet-300-100), LeNet-5 and the real digit CNN of DATA.md as one [`model::Net`]
//!   whose weights pass through a hook on their way into every layer — where fake quantization happens.
//! - [`fakequant`]: core's quantizer in the forward pass; the backward pass of the clipped quantizer by
//!   STE, PWL or MAD (ALGORITHMS.md §1.3), attached with the detach trick.
//! - [`ttq`]: trained ternary quantization (ALGORITHMS.md §3), learned W^p and W^n per layer.
//! - [`prune`]: prune and retrain (ALGORITHMS.md §5): core's masks on the AGP schedule, kept while retraining.
//! - [`snapshot`]: a run's saved point (weights, optimizer state, masks, clips, curve) to resume from.
//! - [`dist`]: data-parallel SGD over N simulated workers with gradient compression (DGC, §4).
//! - [`run`]: the loop — seeded, reproducible for a given seed and thread count — its curve and its result.
//!
//! Numerics of quantization stay in `lowbit-core`: this crate calls `quant::quantize` and never rounds a
//! weight itself; evaluation re-quantizes exactly (no surrogate) so reported accuracy is the deployed one.

pub mod data;
pub mod dist;
pub mod error;
pub mod fakequant;
pub mod model;
pub mod prune;
pub mod run;
pub mod snapshot;
pub mod ttq;

pub use error::{Error, Result};

/// Sets the number of threads the tensor kernels use (once, before the first run).
pub fn set_threads(n: usize) -> Result<()> {
    if n == 0 {
        return Err(Error::Param("--threads must be at least 1".into()));
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build_global()
        .map_err(|e| Error::Param(format!("cannot set {n} threads: {e}")))
}
