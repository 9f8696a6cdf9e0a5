//! `lowbit train`: a training run of the training lab on MNIST — full precision, quantization-aware with
//! any `lowbit quant` weight configuration (OCTAV re-solved every K steps, the STE, PWL or MAD gradient),
//! trained ternary (TTQ) or its fixed-scale baseline (TWN), or pruned on the AGP schedule and retrained —
//! printed as a curve and a summary, or as one JSON object.

use super::json::print;
use anyhow::{Context, Result, bail};
use clap::Args;
use lowbit_core::prune::PruneSpec;
use lowbit_core::training::{Arch, Method, TrainSpec};
use lowbit_train::data::Mnist;
use lowbit_train::run::{Event, Start, train};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// `lowbit train`.
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// mlp (LeNet-300-100) | lenet5 | digit-cnn (the real network of DATA.md).
    #[arg(long, default_value = "digit-cnn")]
    pub model: String,
    /// fp32 | qat | ttq (trained ternary: learned W^p, W^n per layer; threshold --ternary-threshold, 0.05)
    /// | twn (ternary, Δ = 0.7·mean|w|, fixed scale) | prune (--pattern, --sparsity; AGP, then retrain).
    #[arg(long, default_value = "qat")]
    pub method: String,
    /// TTQ/TWN: ternarize the first and last layers too (the papers keep them in full precision); prune:
    /// prune the classifier too.
    #[arg(long, alias = "ternary-all-layers")]
    pub all_layers: bool,
    /// Prune: fine | vector | vector:col | kernel | filter | channel | block:RxC | nm:N:M.
    #[arg(long)]
    pub pattern: Option<String>,
    /// Prune: the final fraction of pruned weights per layer (not for nm:N:M). DGC/top-k: the fraction of
    /// each gradient not sent (default 0.999).
    #[arg(long)]
    pub sparsity: Option<f64>,
    /// dgc: simulated workers N (the batch is split among them).
    #[arg(long, default_value_t = 4)]
    pub workers: usize,
    /// dgc: dense | topk | dgc | randk | qsgd | terngrad | signsgd-ef | powersgd.
    #[arg(long, default_value = "dgc")]
    pub compressor: String,
    /// dgc: accumulate the raw gradient instead of the momentum-corrected velocity.
    #[arg(long)]
    pub no_momentum_correction: bool,
    /// dgc: clip each worker's gradient at this global L2 norm × N^(−1/2) (default: no clipping, as the
    /// official code).
    #[arg(long)]
    pub clip_norm: Option<f32>,
    /// dgc: no local gradient clipping even if --clip-norm is given (the ablation's switch).
    #[arg(long)]
    pub no_clipping: bool,
    /// dgc: keep the momentum where the velocity was sent.
    #[arg(long)]
    pub no_factor_masking: bool,
    /// dgc: no density warm-up (the paper's 75 % → 99.9 % over --warmup-epochs).
    #[arg(long)]
    pub no_warmup: bool,
    #[arg(long, default_value_t = 5)]
    pub warmup_epochs: usize,
    /// dgc: QSGD's levels s.
    #[arg(long, default_value_t = 4)]
    pub levels: u32,
    /// dgc: PowerSGD's rank r.
    #[arg(long, default_value_t = 2)]
    pub rank: usize,
    /// dgc: the test accuracy whose simulated time to reach is reported at 1 and 10 Gbit/s.
    #[arg(long, default_value_t = 0.97)]
    pub target: f64,
    /// dgc: the simulated network's bandwidth, Gbit/s.
    #[arg(long, default_value_t = 10.0)]
    pub bandwidth: f64,
    /// dgc: the simulated network's latency per message, µs.
    #[arg(long, default_value_t = 50.0)]
    pub latency: f64,
    /// Prune: the fraction of the run over which AGP raises the sparsity from 0 (the rest retrains).
    #[arg(long, default_value_t = 0.5)]
    pub prune_ramp: f64,
    /// Prune: recompute the masks every K steps during the ramp.
    #[arg(long, default_value_t = 10)]
    pub prune_every: usize,
    /// Prune: MNIST test images the digit CNN's conv layers are simulated on (SCNN) after retraining.
    #[arg(long, default_value_t = 4)]
    pub scnn_images: usize,
    /// The weights' format for QAT (the `lowbit quant` options; every weight layer, biases stay fp32).
    #[command(flatten)]
    pub quant: super::QuantSettings,
    /// Gradient of the clipped quantizer: ste | pwl | mad.
    #[arg(long, default_value = "mad")]
    pub grad: String,
    /// Re-solve the clips every K steps (1: every step, as the OCTAV paper does).
    #[arg(long, default_value_t = 1)]
    pub clip_every: usize,
    /// QAT: also quantize the activations (every layer's input after the first).
    #[command(flatten)]
    pub act: super::ActSettings,
    /// Learn the clips instead (LSQ: a trained step size per group, from 2·mean|w|/√Q_P; int formats).
    #[arg(long)]
    pub lsq: bool,
    /// The starting checkpoint. Default for digit-cnn: data/digit_cnn.pth (fine-tuning); the others start
    /// from seeded random weights.
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// Start the digit CNN from seeded random weights instead of its checkpoint.
    #[arg(long)]
    pub scratch: bool,
    /// The MNIST folder (scripts/fetch-data.sh mnist; default data/mnist or $LOWBIT_DATA/mnist).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Epochs over the 60,000 training images (ignored when --steps is given).
    #[arg(long, default_value_t = 1.0)]
    pub epochs: f64,
    #[arg(long)]
    pub steps: Option<usize>,
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    #[arg(long, default_value_t = 0.01)]
    pub lr: f64,
    /// constant | cosine.
    #[arg(long, default_value = "cosine")]
    pub schedule: String,
    /// sgd (momentum 0.9) | adam.
    #[arg(long, default_value = "sgd")]
    pub optimizer: String,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Evaluate every N steps (default: ten points over the run).
    #[arg(long)]
    pub eval_every: Option<usize>,
    /// Test images per evaluation (the first N of the 10,000).
    #[arg(long, default_value_t = 10_000)]
    pub eval_images: usize,
    /// Worker threads of the tensor kernels (default: all cores); results depend on it only through
    /// floating-point summation order.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Write the trained weights (latent fp32; `lowbit quant` re-quantizes them) to this safetensors file.
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

/// The run's spec from the arguments, checked.
pub fn spec(a: &TrainArgs) -> Result<TrainSpec> {
    let method: Method = a.method.parse()?;
    let quant = match (method, a.quant.format.is_some()) {
        (Method::Qat, _) => Some(a.quant.spec()?),
        (_, true) => bail!("--format is for --method qat, not {method}"),
        (_, false) => None,
    };
    if a.sparsity.is_some() && !matches!(method, Method::Prune | Method::Dgc) {
        bail!("--sparsity is for --method prune or dgc, not {method}");
    }
    let prune = match (method, &a.pattern) {
        (Method::Prune, Some(p)) => {
            let fixed = p.parse::<lowbit_core::prune::Pattern>()?.fixed_sparsity().is_some();
            if a.sparsity.is_none() && !fixed {
                bail!("--sparsity is needed for pattern {p}");
            }
            Some(PruneSpec { pattern: p.clone(), sparsity: a.sparsity.unwrap_or(0.0), saliency: None })
        }
        (Method::Prune, None) => bail!("--method prune needs --pattern (and --sparsity)"),
        (_, Some(_)) => bail!("--pattern is for --method prune, not {method}"),
        (_, None) => None,
    };
    if !(a.epochs.is_finite() && a.epochs > 0.0 && a.epochs <= 1000.0) {
        bail!("--epochs {} is out of range (0 < epochs ≤ 1000)", a.epochs);
    }
    let steps = a.steps.unwrap_or(((a.epochs * 60_000.0) / a.batch.max(1) as f64).ceil() as usize);
    let spec = TrainSpec {
        model: a.model.parse()?,
        method,
        quant,
        prune,
        grad: a.grad.parse()?,
        clip_every: a.clip_every,
        lsq: a.lsq,
        dist: (method == Method::Dgc)
            .then(|| -> Result<lowbit_core::training::DistSpec> {
                Ok(lowbit_core::training::DistSpec {
                    workers: a.workers,
                    compressor: a.compressor.parse()?,
                    sparsity: a.sparsity.unwrap_or(0.999),
                    momentum_correction: !a.no_momentum_correction,
                    clip_norm: a.clip_norm.filter(|_| !a.no_clipping),
                    factor_masking: !a.no_factor_masking,
                    warmup_epochs: if a.no_warmup { 0 } else { a.warmup_epochs },
                    levels: a.levels,
                    rank: a.rank,
                    bandwidth_gbps: a.bandwidth,
                    latency_us: a.latency,
                    target: a.target,
                })
            })
            .transpose()?,
        act: a.act.spec()?,
        steps,
        batch: a.batch,
        lr: a.lr,
        schedule: a.schedule.parse()?,
        optimizer: a.optimizer.parse()?,
        seed: a.seed,
        eval_every: a.eval_every.unwrap_or((steps / 10).max(1)),
        eval_images: a.eval_images,
        ternary_threshold: a.quant.threshold.unwrap_or(0.05),
        full_precision_ends: !a.all_layers,
        prune_ramp: a.prune_ramp,
        prune_every: a.prune_every,
    };
    spec.validate()?;
    Ok(spec)
}

/// The data folder: `--data`, else `$LOWBIT_DATA/mnist`, else `data/mnist`.
pub fn data_dir(given: Option<&Path>) -> PathBuf {
    given.map(Path::to_path_buf).unwrap_or_else(|| {
        std::env::var_os("LOWBIT_DATA").map_or_else(|| PathBuf::from("data"), PathBuf::from).join("mnist")
    })
}

fn init_file(a: &TrainArgs, arch: Arch) -> Option<PathBuf> {
    match (&a.init, arch, a.scratch) {
        (Some(p), _, _) => Some(p.clone()),
        (None, Arch::DigitCnn, false) => Some(
            std::env::var_os("LOWBIT_DATA").map_or_else(|| PathBuf::from("data"), PathBuf::from).join("digit_cnn.pth"),
        ),
        _ => None,
    }
}

pub fn run(a: &TrainArgs) -> Result<()> {
    let spec = spec(a)?;
    if let Some(n) = a.threads {
        lowbit_train::set_threads(n)?;
    }
    let data = Mnist::load(&data_dir(a.data.as_deref()))?;
    let init = init_file(a, spec.model);
    let files = init.as_deref().map(crate::load::Files::open).transpose()?;
    let opened = files.as_ref().map(|f| f.parse()).transpose()?;

    let started = Instant::now();
    let mut last_print = Instant::now();
    let quiet = a.json;
    let mut observe = |e: Event<'_>| {
        match e {
            Event::Step { step, loss, .. } if !quiet && last_print.elapsed().as_secs() >= 10 => {
                eprintln!("step {step}/{} · loss {loss:.4}", spec.steps);
                last_print = Instant::now();
            }
            Event::Eval { point, .. } if !quiet => {
                outln!("{:>8} {:>10.4} {:>9.2} %", point.step, point.loss, point.test_accuracy * 100.0);
            }
            _ => {}
        }
        true
    };
    let tensors = opened.as_ref().map(|o| o.tensors.as_slice());
    let context = || format!("training {} ({})", spec.model, a.method);
    if spec.method == Method::Dgc {
        let out =
            lowbit_train::dist::train_dist(&spec, &data, tensors.map_or(Start::Seed, Start::Checkpoint), &mut observe)
                .with_context(context)?;
        let v = crate::training::dist_summary(&spec, &out, started.elapsed().as_secs_f64());
        if let Some(path) = &a.out {
            write_checkpoint(path, crate::training::checkpoint_bytes(&spec, &out.replicas[0])?)?;
        }
        if a.json {
            print(&v);
        } else {
            let c = &out.comm;
            outln!(
                "{} workers · {} · test accuracy {:.2} % · {:.0} bytes per iteration per worker ({:.1}× compression) · simulated {:.1} s ({:.1} s compute, {:.1} s exchange)",
                c.workers,
                c.compressor,
                out.test_accuracy * 100.0,
                c.bytes_per_iteration,
                c.compression_ratio,
                c.simulated_seconds,
                c.compute_seconds,
                c.exchange_seconds
            );
        }
        return Ok(());
    }
    let outcome = train(&spec, &data, tensors, &mut observe).with_context(context)?;
    let seconds = started.elapsed().as_secs_f64();
    if let Some(out) = &a.out {
        write_checkpoint(out, crate::training::checkpoint_bytes(&spec, &outcome.net)?)?;
    }
    let init = init.map(|p| p.display().to_string());
    let v = crate::training::summary(&spec, &outcome, &data, init, a.scnn_images, seconds)?;
    if a.json {
        print(&v);
    } else {
        outln!(
            "{} {} · {} steps of {} · start {:.2} %, without training {:.2} %, trained {:.2} % · {:.1} s ({:.1} steps/s)",
            spec.model,
            a.method,
            outcome.steps,
            spec.batch,
            outcome.initial_accuracy * 100.0,
            outcome.ptq_accuracy * 100.0,
            outcome.test_accuracy * 100.0,
            seconds,
            outcome.steps as f64 / outcome.seconds
        );
        for l in v["pruned_layers"].as_array().into_iter().flatten() {
            let best = l["storage"].as_array().into_iter().flatten().min_by(|a, b| {
                a["bits_per_param"]
                    .as_f64()
                    .unwrap_or(f64::MAX)
                    .total_cmp(&b["bits_per_param"].as_f64().unwrap_or(f64::MAX))
            });
            let scnn = match (l["scnn"]["speedup_vs_dcnn"].as_f64(), l["scnn"]["energy_vs_dcnn"].as_f64()) {
                (Some(s), Some(e)) => format!(" · SCNN {s:.2}× faster, {e:.2}× less energy than dense"),
                _ => String::new(),
            };
            outln!(
                "  {:<20} sparsity {:>5.1} % · {}{}",
                l["layer"].as_str().unwrap_or(""),
                l["sparsity"].as_f64().unwrap_or(0.0) * 100.0,
                best.map(|b| format!(
                    "{:.2} bits/param ({})",
                    b["bits_per_param"].as_f64().unwrap_or(0.0),
                    b["scheme"].as_str().unwrap_or("")
                ))
                .unwrap_or_default(),
                scnn
            );
        }
    }
    Ok(())
}

/// Written aside, then renamed: a failure never leaves half a checkpoint under the final name.
fn write_checkpoint(out: &std::path::Path, bytes: Vec<u8>) -> Result<()> {
    let part = out.with_extension("safetensors.part");
    std::fs::write(&part, bytes).with_context(|| format!("cannot write {}", part.display()))?;
    std::fs::rename(&part, out).with_context(|| format!("cannot move the result to {}", out.display()))?;
    Ok(())
}
