//! The training lab's vocabulary: which network, which method, which gradient estimator, and a whole run's
//! specification ([`TrainSpec`]) as the CLI, the API's `train` job and the dashboard spell it. The loop
//! itself (on burn) lives in the `lowbit-train` crate; what is numeric and needs no tensor library — the
//! estimators' derivatives (ALGORITHMS.md §1.3), the learning-rate schedule, the AGP sparsity schedule —
//! lives here, so the page can show it too.

use crate::error::{Error, Result};
use crate::prune::{PruneConfig, PruneSpec, agp_sparsity};
use crate::quant::{QuantConfig, QuantSpec};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Names the enum's variants for `Display`, `FromStr` (with an error listing the known names) and `ALL`.
macro_rules! named {
    ($ty:ident, $what:literal, [$($v:ident = $s:literal),+ $(,)?]) => {
        impl $ty {
            pub const ALL: &[$ty] = &[$(Self::$v),+];
            pub fn name(self) -> &'static str {
                match self { $(Self::$v => $s,)+ }
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
        impl FromStr for $ty {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                Self::ALL.iter().copied().find(|v| v.name() == s).ok_or_else(|| {
                    let names: Vec<&str> = Self::ALL.iter().map(|v| v.name()).collect();
                    Error::param(format!(concat!("unknown ", $what, " `{}` ({})"), s, names.join(", ")))
                })
            }
        }
    };
}

/// Which network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Arch {
    /// LeNet-300-100 (784→300→100→10), the MLP of the pruning papers.
    Mlp,
    /// LeNet-5: two 5×5 convolutions with pooling, then 400→120→84→10.
    Lenet5,
    /// The real trained digit CNN of DATA.md (conv 1→32→64→128, FC 1152→256→10).
    DigitCnn,
}
named!(Arch, "model", [Mlp = "mlp", Lenet5 = "lenet5", DigitCnn = "digit-cnn"]);

impl Arch {
    /// The weight layers in order.
    pub fn layers(self) -> Vec<Layer> {
        let conv = |name: &str, k, c, r, pad| Layer { name: name.into(), kind: LayerKind::Conv { k, c, r, pad } };
        let fc = |name: &str, out, inp| Layer { name: name.into(), kind: LayerKind::Fc { out, inp } };
        match self {
            Self::Mlp => vec![fc("fc1", 300, 784), fc("fc2", 100, 300), fc("fc3", 10, 100)],
            Self::Lenet5 => vec![
                conv("conv1", 6, 1, 5, 2),
                conv("conv2", 16, 6, 5, 0),
                fc("fc1", 120, 400),
                fc("fc2", 84, 120),
                fc("fc3", 10, 84),
            ],
            Self::DigitCnn => vec![
                conv("conv_layers.0", 32, 1, 3, 1),
                conv("conv_layers.3", 64, 32, 3, 1),
                conv("conv_layers.6", 128, 64, 3, 1),
                fc("fc_layers.0", 256, 1152),
                fc("fc_layers.2", 10, 256),
            ],
        }
    }
}

/// One weight layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// The tensor name prefix (`{name}.weight`, `{name}.bias`).
    pub name: String,
    pub kind: LayerKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerKind {
    /// K×C×R×R convolution, stride 1, zero padding `pad`, then ReLU and 2×2 max-pool.
    Conv { k: usize, c: usize, r: usize, pad: usize },
    /// out×in fully connected; ReLU after every one but the last.
    Fc { out: usize, inp: usize },
}

impl Layer {
    /// The weight's shape as stored in a checkpoint.
    pub fn shape(&self) -> Vec<usize> {
        match self.kind {
            LayerKind::Conv { k, c, r, .. } => vec![k, c, r, r],
            LayerKind::Fc { out, inp } => vec![out, inp],
        }
    }
    /// [out, in] as the training net keeps it.
    pub fn matrix(&self) -> [usize; 2] {
        match self.kind {
            LayerKind::Conv { k, c, r, .. } => [k, c * r * r],
            LayerKind::Fc { out, inp } => [out, inp],
        }
    }
}

/// The backward pass of the clipped quantizer Q(x; s).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Estimator {
    /// Straight-through: 1 everywhere.
    Ste,
    /// Piecewise linear (clipped STE): 1 inside the clip, 0 outside.
    Pwl,
    /// Magnitude-aware (OCTAV): 1 inside, s/|x| outside.
    Mad,
}
named!(Estimator, "gradient estimator", [Ste = "ste", Pwl = "pwl", Mad = "mad"]);

impl Estimator {
    /// dQ/dx at `x` for clip `s` (signed grid: the clipped region is |x| > s).
    pub fn derivative(self, x: f32, s: f32) -> f32 {
        let a = x.abs();
        if a <= s {
            return 1.0;
        }
        match self {
            Self::Ste => 1.0,
            Self::Pwl => 0.0,
            Self::Mad => s / a,
        }
    }
}

/// What the run trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Plain full-precision training (the baseline).
    Fp32,
    /// Quantization-aware training of the weights.
    Qat,
    /// Trained ternary quantization: ternary weights with learned W^p, W^n per layer.
    Ttq,
    /// Ternary weight networks: Δ = 0.7·mean|w|, one fixed scale (the mean of the kept magnitudes).
    Twn,
    /// Prune with the AGP schedule to a target sparsity, masks kept while retraining.
    Prune,
    /// Data-parallel SGD over N simulated workers with gradient compression (`dist`).
    Dgc,
}
named!(Method, "training method", [Fp32 = "fp32", Qat = "qat", Ttq = "ttq", Twn = "twn", Prune = "prune", Dgc = "dgc"]);

/// What each worker does to its gradient before the exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Compressor {
    /// Sent whole (momentum SGD, ring all-reduce).
    Dense,
    /// Top-k gradient dropping with residual accumulation, none of DGC's corrections.
    Topk,
    /// Deep Gradient Compression (§4), each technique switchable.
    Dgc,
    /// Random-k coordinates with error feedback.
    Randk,
    /// QSGD: s levels, stochastic rounding (`levels`).
    Qsgd,
    /// TernGrad: max|g|·{−1, 0, 1}, stochastic.
    Terngrad,
    /// signSGD with error feedback (scaled sign).
    #[serde(rename = "signsgd-ef")]
    SignsgdEf,
    /// PowerSGD: rank r (`rank`), error feedback, warm start.
    Powersgd,
}
named!(
    Compressor,
    "compressor",
    [
        Dense = "dense",
        Topk = "topk",
        Dgc = "dgc",
        Randk = "randk",
        Qsgd = "qsgd",
        Terngrad = "terngrad",
        SignsgdEf = "signsgd-ef",
        Powersgd = "powersgd"
    ]
);

/// Data-parallel training over simulated workers: each computes the gradient of its shard of the global
/// batch on its own replica, compresses it, and every replica applies the same aggregated update.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DistSpec {
    /// N, 1 to 64; the batch must divide by it.
    pub workers: usize,
    pub compressor: Compressor,
    /// The fraction of each gradient not sent after the warm-up (top-k, DGC; 0.999 = 99.9 %).
    #[serde(default = "default_sparsity")]
    pub sparsity: f64,
    #[serde(default = "yes")]
    pub momentum_correction: bool,
    /// Local gradient clipping at this global L2 threshold × N^(−1/2) (DGC); none by default, as the
    /// official code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clip_norm: Option<f32>,
    #[serde(default = "yes")]
    pub factor_masking: bool,
    /// Epochs of the density warm-up (75 % → 99.9 % sparsity; DGC).
    #[serde(default = "default_warmup")]
    pub warmup_epochs: usize,
    /// QSGD's levels s.
    #[serde(default = "default_levels")]
    pub levels: u32,
    /// PowerSGD's rank r (clamped to each matrix; at most the largest layer's min(rows, cols)).
    #[serde(default = "default_rank")]
    pub rank: usize,
    /// The network: bandwidth in Gbit/s and latency per message in µs (the simulated time's cost model).
    #[serde(default = "default_bandwidth")]
    pub bandwidth_gbps: f64,
    #[serde(default = "default_latency")]
    pub latency_us: f64,
    /// The test accuracy whose time to reach is reported (at 1 and 10 Gbit/s).
    #[serde(default = "default_target")]
    pub target: f64,
}

fn default_sparsity() -> f64 {
    0.999
}
fn default_warmup() -> usize {
    5
}
fn default_levels() -> u32 {
    4
}
fn default_target() -> f64 {
    0.97
}
fn default_rank() -> usize {
    2
}
fn default_bandwidth() -> f64 {
    10.0
}
fn default_latency() -> f64 {
    50.0
}

impl DistSpec {
    pub fn new(workers: usize, compressor: Compressor) -> Self {
        Self {
            workers,
            compressor,
            sparsity: default_sparsity(),
            momentum_correction: true,
            clip_norm: None,
            factor_masking: true,
            warmup_epochs: default_warmup(),
            levels: default_levels(),
            rank: default_rank(),
            bandwidth_gbps: default_bandwidth(),
            latency_us: default_latency(),
            target: default_target(),
        }
    }

    /// One worker's compressor for a tensor of `len` elements (`None`: sent dense, or PowerSGD, which is
    /// collective: [`crate::gradient::exchange::Exchange`]).
    pub fn compressor(
        &self,
        len: usize,
        seed: u64,
    ) -> Result<Option<Box<dyn crate::gradient::quantized::GradCompressor>>> {
        use crate::gradient::quantized::{Qsgd, RandK, SignEf, TernGrad};
        Ok(match self.compressor {
            Compressor::Dense | Compressor::Powersgd => None,
            Compressor::Topk | Compressor::Dgc => {
                let cfg = self.dgc_config(0.9).expect("top-k and DGC have a configuration");
                Some(Box::new(crate::gradient::dgc::Dgc::new(cfg, len, self.workers, seed)?))
            }
            Compressor::Randk => Some(Box::new(RandK::new(1.0 - self.sparsity, len, seed)?)),
            Compressor::Qsgd => Some(Box::new(Qsgd::new(self.levels, len, seed)?)),
            Compressor::Terngrad => Some(Box::new(TernGrad::new(len, seed))),
            Compressor::SignsgdEf => Some(Box::new(SignEf::new(len))),
        })
    }

    /// The DGC configuration of top-k and DGC (`None` for the other compressors).
    pub fn dgc_config(&self, momentum: f32) -> Option<crate::gradient::dgc::DgcConfig> {
        use crate::gradient::dgc::DgcConfig;
        let density = 1.0 - self.sparsity;
        match self.compressor {
            Compressor::Dense
            | Compressor::Randk
            | Compressor::Qsgd
            | Compressor::Terngrad
            | Compressor::SignsgdEf
            | Compressor::Powersgd => None,
            Compressor::Topk => Some(DgcConfig { momentum, ..DgcConfig::topk(density) }),
            Compressor::Dgc => Some(DgcConfig {
                density,
                momentum,
                momentum_correction: self.momentum_correction,
                clip_norm: self.clip_norm,
                factor_masking: self.factor_masking,
                warmup_epochs: self.warmup_epochs,
                ..DgcConfig::paper()
            }),
        }
    }

    /// Whether the optimizer applies momentum to the aggregate (false: the workers did — DGC's momentum
    /// correction).
    pub fn optimizer_momentum(&self) -> bool {
        !(self.compressor == Compressor::Dgc && self.momentum_correction)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Optimizer {
    /// SGD with momentum 0.9.
    Sgd,
    Adam,
}
named!(Optimizer, "optimizer", [Sgd = "sgd", Adam = "adam"]);

/// The learning rate over the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    Constant,
    /// Cosine decay from `lr` to 0 over the run.
    Cosine,
}
named!(Schedule, "schedule", [Constant = "constant", Cosine = "cosine"]);

/// Everything a run depends on: the same spec, seed and thread count give the same curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TrainSpec {
    pub model: Arch,
    pub method: Method,
    /// The weights' format (QAT), as `lowbit quant` takes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quant: Option<QuantSpec>,
    /// QAT: also fake-quantize the activations — the input of every layer after the first — per tensor
    /// with this format (uint for the post-ReLU inputs), the clip solved on each batch by its clip method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<QuantSpec>,
    /// Data-parallel training with gradient compression (dgc).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dist: Option<DistSpec>,
    /// The pattern and final sparsity (prune).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prune: Option<PruneSpec>,
    #[serde(default = "default_grad")]
    pub grad: Estimator,
    /// Re-solve the clips every this many steps (QAT).
    #[serde(default = "one")]
    pub clip_every: usize,
    /// QAT: learn the clips instead (LSQ: one trained step size per group, initialised as the paper does,
    /// 2·mean|w|/√Q_P; signed int formats).
    #[serde(default)]
    pub lsq: bool,
    pub steps: usize,
    #[serde(default = "default_batch")]
    pub batch: usize,
    #[serde(default = "default_lr")]
    pub lr: f64,
    #[serde(default = "default_schedule")]
    pub schedule: Schedule,
    #[serde(default = "default_optimizer")]
    pub optimizer: Optimizer,
    #[serde(default)]
    pub seed: u64,
    /// Evaluate on the test images every this many steps (and at the end).
    #[serde(default = "default_eval_every")]
    pub eval_every: usize,
    /// Test images evaluated (the first n of the 10,000).
    #[serde(default = "default_eval_images")]
    pub eval_images: usize,
    /// TTQ: Δ = t·max|w̃| per layer.
    #[serde(default = "default_threshold")]
    pub ternary_threshold: f32,
    /// TTQ and TWN: keep the first and the last layer in full precision (the papers' setting); prune:
    /// leave the last layer (the classifier) unpruned.
    #[serde(default = "yes")]
    pub full_precision_ends: bool,
    /// Prune: the fraction of the run over which AGP raises the sparsity from 0 to the target; the rest
    /// retrains with the final masks.
    #[serde(default = "default_ramp")]
    pub prune_ramp: f64,
    /// Prune: the masks are recomputed every this many steps during the ramp.
    #[serde(default = "default_prune_every")]
    pub prune_every: usize,
}

fn default_grad() -> Estimator {
    Estimator::Mad
}
fn one() -> usize {
    1
}
fn default_batch() -> usize {
    64
}
fn default_lr() -> f64 {
    0.01
}
fn default_schedule() -> Schedule {
    Schedule::Cosine
}
fn default_optimizer() -> Optimizer {
    Optimizer::Sgd
}
fn default_eval_every() -> usize {
    100
}
fn default_eval_images() -> usize {
    10_000
}
fn default_threshold() -> f32 {
    0.05
}
fn yes() -> bool {
    true
}
fn default_ramp() -> f64 {
    0.5
}
fn default_prune_every() -> usize {
    10
}

/// What a valid spec resolves to.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub quant: Option<QuantConfig>,
    pub act: Option<QuantConfig>,
    pub prune: Option<PruneConfig>,
}

impl TrainSpec {
    /// A spec with the defaults for everything but the model, the method and the number of steps.
    pub fn new(model: Arch, method: Method, steps: usize) -> Self {
        Self {
            model,
            method,
            quant: None,
            act: None,
            dist: None,
            prune: None,
            grad: default_grad(),
            clip_every: 1,
            lsq: false,
            steps,
            batch: default_batch(),
            lr: default_lr(),
            schedule: default_schedule(),
            optimizer: default_optimizer(),
            seed: 0,
            eval_every: default_eval_every(),
            eval_images: default_eval_images(),
            ternary_threshold: default_threshold(),
            full_precision_ends: true,
            prune_ramp: default_ramp(),
            prune_every: default_prune_every(),
        }
    }

    /// Rejects what cannot run, naming the option.
    pub fn validate(&self) -> Result<Resolved> {
        let bad = |m: String| Err(Error::param(m));
        if self.steps == 0 || self.steps > 10_000_000 {
            return bad(format!("--steps {} is out of range (1 to 10,000,000)", self.steps));
        }
        if self.batch == 0 || self.batch > 4096 {
            return bad(format!("--batch {} is out of range (1 to 4096)", self.batch));
        }
        if !(self.lr.is_finite() && self.lr > 0.0 && self.lr <= 10.0) {
            return bad(format!("--lr {} is out of range (0 < lr ≤ 10)", self.lr));
        }
        if self.eval_every == 0 || self.eval_images == 0 {
            return bad("--eval-every and --eval-images must be at least 1".into());
        }
        if self.clip_every == 0 {
            return bad("--clip-every must be at least 1".into());
        }
        if self.method == Method::Ttq && !(self.ternary_threshold > 0.0 && self.ternary_threshold < 1.0) {
            return bad(format!("--ternary-threshold {} is out of range (0 < t < 1)", self.ternary_threshold));
        }
        if self.quant.is_some() && self.method != Method::Qat {
            return bad(format!("a weight format is for --method qat, not {}", self.method));
        }
        if self.act.is_some() && self.method != Method::Qat {
            return bad(format!("activation quantization is for --method qat, not {}", self.method));
        }
        let act = self.act.as_ref().map(QuantSpec::resolve).transpose()?;
        if self.prune.is_some() && self.method != Method::Prune {
            return bad(format!("a pruning pattern is for --method prune, not {}", self.method));
        }
        let quant = match (self.method, &self.quant) {
            (Method::Qat, None) => return bad("QAT needs a weight format (--format and --bits)".into()),
            (_, q) => q.as_ref().map(QuantSpec::resolve).transpose()?,
        };
        if self.lsq && !matches!(quant.as_ref().map(|q| q.format), Some(crate::quant::Format::Int { .. })) {
            return bad("--lsq learns an int grid's step: it takes --method qat with --format int".into());
        }
        let prune = match (self.method, &self.prune) {
            (Method::Prune, None) => {
                return bad("pruning needs a pattern and a sparsity (--pattern, --sparsity)".into());
            }
            (_, p) => p.as_ref().map(PruneSpec::resolve).transpose()?,
        };
        match (self.method, &self.dist) {
            (Method::Dgc, None) => return bad("--method dgc needs the workers and a compressor".into()),
            (Method::Dgc, Some(d)) => {
                if !(1..=64).contains(&d.workers) {
                    return bad(format!("--workers {} is out of range (1 to 64)", d.workers));
                }
                if !self.batch.is_multiple_of(d.workers) {
                    return bad(format!("--batch {} does not divide among {} workers", self.batch, d.workers));
                }
                if !(0.0..1.0).contains(&d.sparsity) {
                    return bad(format!("--sparsity {} is out of range (0 ≤ s < 1)", d.sparsity));
                }
                if !(d.bandwidth_gbps.is_finite() && d.bandwidth_gbps > 0.0) {
                    return bad(format!("--bandwidth {} must be positive (Gbit/s)", d.bandwidth_gbps));
                }
                if !(d.latency_us.is_finite() && d.latency_us >= 0.0) {
                    return bad(format!("--latency {} must be a non-negative number of µs", d.latency_us));
                }
                if !(0.0..=1.0).contains(&d.target) {
                    return bad(format!("--target {} is not an accuracy (0 to 1)", d.target));
                }
                if let Some(c) = d.dgc_config(0.9) {
                    c.validate()?;
                }
                if d.compressor == Compressor::Qsgd && !(1..=1 << 16).contains(&d.levels) {
                    return bad(format!("--levels {} is out of range (1 to 65536)", d.levels));
                }
                if d.compressor == Compressor::Powersgd {
                    let widest = self
                        .model
                        .layers()
                        .iter()
                        .map(|l| l.matrix())
                        .filter(|m| m[0] > 1 && m[1] > 1)
                        .map(|m| m[0].min(m[1]))
                        .max()
                        .unwrap_or(0);
                    if !(1..=widest).contains(&d.rank) {
                        return bad(format!(
                            "--rank {} is out of range: 1 to {widest}, the largest min(rows, cols) of {}'s layers",
                            d.rank, self.model
                        ));
                    }
                }
            }
            (m, Some(_)) => return bad(format!("workers and a compressor are for --method dgc, not {m}")),
            (_, None) => {}
        }
        if self.method == Method::Prune {
            if !(self.prune_ramp.is_finite() && (0.0..=1.0).contains(&self.prune_ramp)) {
                return bad(format!("--prune-ramp {} is out of range (0 to 1)", self.prune_ramp));
            }
            if self.prune_every == 0 {
                return bad("--prune-every must be at least 1".into());
            }
        }
        Ok(Resolved { quant, act, prune })
    }

    /// Which layers the method compresses.
    pub fn compressed_layers(&self) -> Vec<bool> {
        let n = self.model.layers().len();
        (0..n)
            .map(|i| match self.method {
                Method::Fp32 | Method::Dgc => false,
                Method::Qat => true,
                // The classifier's rows are the classes: pruning it at filter granularity removes digits.
                Method::Prune => !(self.full_precision_ends && i + 1 == n),
                Method::Ttq | Method::Twn => !(self.full_precision_ends && (i == 0 || i + 1 == n)),
            })
            .collect()
    }

    /// The learning rate at `step` (0-based).
    pub fn lr_at(&self, step: usize) -> f64 {
        match self.schedule {
            Schedule::Constant => self.lr,
            Schedule::Cosine => 0.5 * self.lr * (1.0 + (std::f64::consts::PI * step as f64 / self.steps as f64).cos()),
        }
    }

    /// The last step of the AGP ramp (prune).
    pub fn prune_ramp_steps(&self) -> usize {
        (self.prune_ramp * self.steps as f64).round() as usize
    }

    /// The sparsity in force after `step` (0-based) for a final sparsity `target`: AGP from 0, updated
    /// every `prune_every` steps, the target from the end of the ramp on.
    pub fn sparsity_at(&self, step: usize, target: f64) -> f64 {
        let ramp = self.prune_ramp_steps();
        if step >= ramp {
            return target;
        }
        let t = step - step % self.prune_every;
        agp_sparsity(t, 0.0, target, ramp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_estimator_is_its_formula() {
        // ALGORITHMS.md §1.4 test 3: MAD on x = [−3, −1, 0.5, 2] with s = 1 gives [1/3, 1, 1, 1/2].
        let x = [-3.0f32, -1.0, 0.5, 2.0];
        let d = |e: Estimator| x.map(|v| e.derivative(v, 1.0));
        assert_eq!(d(Estimator::Mad), [1.0 / 3.0, 1.0, 1.0, 0.5]);
        assert_eq!(d(Estimator::Pwl), [0.0, 1.0, 1.0, 0.0]);
        assert_eq!(d(Estimator::Ste), [1.0; 4]);
    }

    #[test]
    fn names_parse_back_and_unknown_ones_are_listed() {
        for a in Arch::ALL {
            assert_eq!(a.name().parse::<Arch>().unwrap(), *a);
        }
        let e = "resnet".parse::<Arch>().unwrap_err().to_string();
        assert!(e.contains("unknown model `resnet`") && e.contains("digit-cnn"), "{e}");
        assert!("sgd".parse::<Method>().unwrap_err().to_string().contains("fp32, qat, ttq, twn, prune, dgc"));
    }

    #[test]
    fn the_agp_ramp_rises_in_steps_to_the_target_and_stays() {
        let mut s = TrainSpec::new(Arch::Mlp, Method::Prune, 100);
        s.prune = Some(PruneSpec { pattern: "fine".into(), sparsity: 0.8, saliency: None });
        s.prune_every = 10;
        // ramp = 50 steps: s_t = 0.8·(1 − (1 − t/50)³), held for 10 steps at a time.
        assert_eq!(s.sparsity_at(0, 0.8), 0.0);
        let at10 = 0.8 * (1.0 - 0.8f64.powi(3));
        assert!((s.sparsity_at(10, 0.8) - at10).abs() < 1e-12);
        assert_eq!(s.sparsity_at(19, 0.8), s.sparsity_at(10, 0.8));
        assert_eq!(s.sparsity_at(50, 0.8), 0.8);
        assert_eq!(s.sparsity_at(99, 0.8), 0.8);
        let seq: Vec<f64> = (0..100).map(|t| s.sparsity_at(t, 0.8)).collect();
        assert!(seq.windows(2).all(|w| w[0] <= w[1]), "AGP never lowers the sparsity");
        assert!(s.validate().is_ok());
    }

    #[test]
    fn bad_specs_name_the_option() {
        let msg = |s: TrainSpec| s.validate().unwrap_err().to_string();
        let s = TrainSpec::new(Arch::Mlp, Method::Fp32, 5);
        assert!(msg(TrainSpec { steps: 0, ..s.clone() }).contains("--steps"));
        assert!(msg(TrainSpec { lr: f64::NAN, ..s.clone() }).contains("--lr"));
        assert!(msg(TrainSpec { method: Method::Qat, ..s.clone() }).contains("format"));
        assert!(msg(TrainSpec { method: Method::Prune, ..s.clone() }).contains("pattern"));
        let p = PruneSpec { pattern: "fine".into(), sparsity: 1.5, saliency: None };
        assert!(msg(TrainSpec { method: Method::Prune, prune: Some(p), ..s.clone() }).contains("sparsity"));
        let q = QuantSpec::new("int", Some(4));
        assert!(msg(TrainSpec { quant: Some(q), ..s.clone() }).contains("--method qat"));
        assert!(msg(TrainSpec { clip_every: 0, ..s }).contains("--clip-every"));
    }
}
