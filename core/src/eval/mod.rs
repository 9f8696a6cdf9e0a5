//! What a compression choice does to a model's *predictions*: accuracy with its interval, agreement and KL
//! against the unquantized model, and per layer the weight SQNR and the output SQNR (the layer's output in
//! the compressed model against the unquantized one's on the same inputs — PyTorch Numeric Suite's view).
//!
//! A model is anything that implements [`Network`]: core runs the digit CNN of DATA.md itself
//! ([`digit`], im2col + ndarray's matrix multiply, fast enough for the browser); the server runs ONNX models
//! through tract behind the same trait. Everything else — compressing the weights ([`plan`]), calibrating
//! activation quantizers ([`act`]), evaluating ([`run`]), per-layer sensitivity ([`sensitivity`]) and the
//! mixed-precision knapsack ([`mixed`]) — is written once against the trait.

pub mod act;
pub mod data;
pub mod digit;
pub mod measures;
pub mod mixed;
pub mod plan;
pub mod run;
pub mod sensitivity;
pub mod spec;

pub use data::Dataset;
pub use plan::{Compression, Layer};
pub use run::{Evaluation, LayerResult, Reference, evaluate, reference};

use crate::error::Result;

/// What one run records and changes at each compressible layer (index = position in [`Network::layers`]).
#[derive(Debug, Default)]
pub struct Probe<'a> {
    /// Fake-quantizes each layer's input before the layer uses it.
    pub act: Option<&'a [act::ActQuant]>,
    /// Keep every layer's input (calibration).
    pub keep_inputs: bool,
    /// Keep every layer's output (output SQNR).
    pub keep_outputs: bool,
    /// Per layer, the batch's inputs (or outputs) in the network's own layout — the same layout in every
    /// run of one network, which is all a comparison needs.
    pub inputs: Vec<Vec<f32>>,
    pub outputs: Vec<Vec<f32>>,
}

impl Probe<'_> {
    /// Called by a network at layer `i` with the layer's input: records it, then quantizes it in place.
    pub fn input(&mut self, i: usize, x: &mut [f32]) -> Result<()> {
        if self.keep_inputs {
            slot(&mut self.inputs, i).extend_from_slice(x);
        }
        if let Some(q) = self.act.and_then(|a| a.get(i)) {
            q.apply(x)?;
        }
        Ok(())
    }
    /// Called by a network at layer `i` with the layer's output (before any activation function).
    pub fn output(&mut self, i: usize, y: &[f32]) {
        if self.keep_outputs {
            slot(&mut self.outputs, i).extend_from_slice(y);
        }
    }
}

fn slot(v: &mut Vec<Vec<f32>>, i: usize) -> &mut Vec<f32> {
    if v.len() <= i {
        v.resize(i + 1, Vec::new());
    }
    &mut v[i]
}

/// A classifier whose weight tensors can be swapped for compressed ones.
pub trait Network: Sync {
    /// The compressible weights (conv and linear/matmul weights; biases stay in full precision).
    fn layers(&self) -> &[Layer];
    /// The shape of one input sample (without the batch axis).
    fn sample_shape(&self) -> &[usize];
    /// Number of outputs (classes) per sample.
    fn classes(&self) -> usize;
    /// Whether runs honour [`Probe::act`] (activation quantization).
    fn quantizes_activations(&self) -> bool {
        true
    }
    /// The network with these weights (one per layer, in order) in place of its own.
    fn with_weights(&self, weights: &[&[f32]]) -> Result<Box<dyn Runnable + '_>>;
}

/// A network ready to run with one set of weights.
pub trait Runnable: Sync {
    /// Runs `n` samples (`x` holds n × sample elements) and returns the logits, n × classes.
    fn run(&self, x: &[f32], n: usize, probe: &mut Probe<'_>) -> Result<Vec<f32>>;
}
