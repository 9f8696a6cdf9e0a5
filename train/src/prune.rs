//! Prune and retrain (ALGORITHMS.md §5): masks chosen by core's pruner (`prune::prune`, any pattern) at the
//! sparsity the AGP schedule gives for the step, held fixed between updates and after the ramp. The forward
//! pass multiplies each weight by its mask (a pruned weight gets no gradient), and after every optimizer step
//! the pruned weights are set back to exactly zero — momentum would otherwise move them.
//!
//! Patterns apply as core interprets them for the layer's shape (a fully connected [out, in] weight is
//! [out, in, 1, 1]: `filter` is an output neuron, and `kernel` — a 1×1 kernel — is one weight, so it prunes
//! fully connected layers fine-grained, as the granularity study does). A pattern with a fixed sparsity
//! (N:M) is applied in full from the first step. A layer that is a single group under the pattern (the
//! first conv's one input channel, for `channel`) is left unpruned rather than removed.

use crate::error::Result;
use crate::model::{Net, to_vec};
use burn::module::Param;
use burn::tensor::{Tensor, TensorData};
use lowbit_core::prune::{Pattern, PruneConfig, prune};
use lowbit_core::training::TrainSpec;

/// The pattern a layer is pruned with: `kernel` on a fully connected layer is `fine` (see above).
pub fn layer_pattern(layer: &lowbit_core::training::Layer, p: Pattern) -> Pattern {
    match (layer.kind, p) {
        (crate::model::LayerKind::Fc { .. }, Pattern::Kernel) => Pattern::Fine,
        _ => p,
    }
}

/// The masks of one run: per layer, `None` (not pruned) or true where the weight is kept.
#[derive(Debug, Clone, Default)]
pub struct Masks {
    pub layers: Vec<Option<Vec<bool>>>,
    /// The sparsity the masks were last chosen at.
    pub sparsity: f64,
}

impl Masks {
    pub fn new(layers: usize) -> Self {
        Self { layers: vec![None; layers], sparsity: 0.0 }
    }

    /// Re-chooses the masks if the schedule's sparsity for `step` differs from the one in force (or a
    /// fixed-sparsity pattern has no masks yet), on the layers `on`; returns whether they changed.
    pub fn update(&mut self, net: &Net, spec: &TrainSpec, cfg: &PruneConfig, on: &[bool], step: usize) -> Result<bool> {
        let fixed = cfg.pattern.fixed_sparsity().is_some();
        let target = if fixed { cfg.sparsity } else { spec.sparsity_at(step, cfg.sparsity) };
        let first = self.layers.iter().all(Option::is_none);
        if !(target != self.sparsity || (fixed && first)) || (target == 0.0 && !fixed) {
            return Ok(false);
        }
        let layers = net.arch.layers();
        for (i, l) in layers.iter().enumerate().filter(|(i, _)| on[*i]) {
            let w = to_vec(&net.weights[i].val());
            let pattern = layer_pattern(l, cfg.pattern);
            // A layer that is one group under the pattern (channel pruning of a conv with one input channel)
            // would be removed whole, killing the network: it stays unpruned.
            if lowbit_core::prune::group_ids(&l.shape(), pattern)?.1 < 2 {
                continue;
            }
            let out = prune(&w, &l.shape(), &PruneConfig { sparsity: target, pattern, ..*cfg })?;
            self.layers[i] = Some(out.mask);
        }
        self.sparsity = target;
        Ok(true)
    }

    fn tensor(&self, i: usize, dims: [usize; 2], device: &burn::tensor::Device) -> Option<Tensor<2>> {
        let m = self.layers.get(i)?.as_ref()?;
        let v: Vec<f32> = m.iter().map(|&k| k as u8 as f32).collect();
        Some(Tensor::from_data(TensorData::new(v, dims), device))
    }

    /// The forward pass's weight: `w ⊙ mask` (no gradient reaches a pruned weight).
    pub fn apply(&self, i: usize, w: Tensor<2>) -> Tensor<2> {
        match self.tensor(i, w.dims(), &w.device()) {
            Some(m) => w * m,
            None => w,
        }
    }

    /// Sets every pruned weight of `net` to exactly zero (parameters keep their ids, so the optimizer's
    /// state stays theirs).
    pub fn enforce(&self, mut net: Net) -> Net {
        for i in 0..net.weights.len() {
            if self.layers[i].is_some() {
                let p = net.weights[i].clone();
                let (id, w) = (p.id, p.val());
                let m = self.tensor(i, w.dims(), &w.device()).expect("mask present");
                let mut q = Param::from_tensor((w * m).detach().require_grad());
                q.id = id;
                net.weights[i] = q;
            }
        }
        net
    }

    /// The deployed weights of layer `i` with its mask applied, if it has one.
    pub fn deployed(&self, i: usize, w: &[f32]) -> Option<Vec<f32>> {
        let m = self.layers.get(i)?.as_ref()?;
        Some(w.iter().zip(m).map(|(&v, &k)| if k { v } else { 0.0 }).collect())
    }
}

/// One layer after pruning and retraining: its sparsity, what it costs to store under every sparse format
/// (index savings of coarse patterns), and — for the digit CNN's convolutions — SCNN on real MNIST
/// activations of the retrained network.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LayerReport {
    pub layer: String,
    pub shape: Vec<usize>,
    pub sparsity: f64,
    /// Every scheme of core's `storage_costs`, f32 values, 4-bit relative indices.
    pub storage: Vec<lowbit_core::prune::storage::StorageCost>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scnn: Option<lowbit_core::sim::scnn::MeanReport>,
}

/// The per-layer report of a pruned net; SCNN runs on the first `images` test images (digit CNN only).
pub fn report(
    net: &Net,
    masks: &Masks,
    pattern: Pattern,
    test: &crate::data::Split,
    images: usize,
) -> Result<Vec<LayerReport>> {
    use lowbit_core::readers::{self, safetensors};
    use lowbit_core::sim::scnn::{ConvLayer, ScnnConfig, mean_report, simulate};
    let layers = net.arch.layers();
    let named = net.named();
    let traces = if net.arch == lowbit_core::training::Arch::DigitCnn && images > 0 {
        let t: Vec<_> = named.iter().map(|t| safetensors::WriteTensor::f32(&t.name, &t.shape, &t.values)).collect();
        let bytes = safetensors::write(&t, &Default::default())?;
        let cnn = lowbit_core::nn::DigitCnn::from_checkpoint(&readers::read(&bytes)?)?;
        let n = images.min(test.len());
        // The core network takes raw pixels; the training images are normalised (exact inverse, rounded).
        let raw = |i: usize| -> Vec<f32> {
            test.images[i * crate::data::PIXELS..(i + 1) * crate::data::PIXELS]
                .iter()
                .map(|&x| ((x * 0.3081 + 0.1307) * 255.0).round())
                .collect()
        };
        (0..n).map(|i| cnn.forward(&raw(i))).collect::<std::result::Result<Vec<_>, _>>()?
    } else {
        Vec::new()
    };
    let hw = ScnnConfig::default();
    let mut out = Vec::new();
    let mut conv_index = 0;
    for (i, l) in layers.iter().enumerate() {
        let shape = l.shape();
        let w = &named[2 * i].values;
        let mask: Vec<bool> = masks.layers[i].clone().unwrap_or_else(|| w.iter().map(|&v| v != 0.0).collect());
        let kept = mask.iter().filter(|&&k| k).count();
        let storage = lowbit_core::prune::storage::storage_costs(&mask, &shape, layer_pattern(l, pattern), 32.0, 0, 4)?;
        let mut scnn = None;
        if let crate::model::LayerKind::Conv { k, c, r, pad } = l.kind {
            if !traces.is_empty() {
                let reps = traces
                    .iter()
                    .map(|t| {
                        let (x, h, wd) = &t.conv_inputs[conv_index];
                        let layer = ConvLayer { weights: w, k, c, r, s: r, acts: x, h: *h, w: *wd, pad };
                        simulate(&layer, &hw, true)
                    })
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                scnn = mean_report(&reps);
            }
            conv_index += 1;
        }
        out.push(LayerReport {
            layer: format!("{}.weight", l.name),
            shape,
            sparsity: 1.0 - kept as f64 / mask.len().max(1) as f64,
            storage,
            scnn,
        });
    }
    Ok(out)
}
