//! `lowbit eval`, `lowbit sensitivity` and `lowbit mixed`: what a compression does to a model's predictions,
//! which layers it hurts, and the best assignment of formats under a bit budget — printed as tables, or as
//! one JSON object with `--json`. The runs are core's (`lowbit_core::eval::spec`), shared with the jobs.

use super::json::print;
use super::{ActSettings, QuantSettings};
use anyhow::{Context, Result, anyhow};
use clap::Args;
use lowbit_core::eval::spec::{self, EvalSpec, MixedSpec};
use lowbit_core::eval::{Dataset, Evaluation};
use lowbit_core::prune::PruneSpec;
use lowbit_core::readers::Limits;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What `eval`, `sensitivity` and `mixed` share.
#[derive(Args, Debug)]
pub struct ModelArgs {
    /// The model: the digit CNN of DATA.md (.pth or safetensors).
    pub model: PathBuf,
    /// `mnist` (the 10,000 test images; scripts/fetch-data.sh mnist) or an .npz with `x` (samples first)
    /// and optionally `y` (integer labels; without them the measures are against the unquantized model).
    #[arg(long, default_value = "mnist")]
    pub data: String,
    /// Calibration data for activation ranges: an .npz with `x` (default for the digit CNN: MNIST's
    /// training split).
    #[arg(long)]
    pub calib_data: Option<PathBuf>,
    /// The MNIST folder (default data/mnist or $LOWBIT_DATA/mnist).
    #[arg(long)]
    pub mnist: Option<PathBuf>,
    /// Only the first N evaluation samples.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Calibration samples (default 1000).
    #[arg(long)]
    pub calib: Option<usize>,
    /// The weights' format (the `lowbit quant` options; conv and linear weights, biases stay fp32).
    #[command(flatten)]
    pub quant: QuantSettings,
    /// Prune every weight first: fine | vector | kernel | filter | channel | block:RxC | N:M.
    #[arg(long)]
    pub prune: Option<String>,
    /// The fraction of weights --prune removes.
    #[arg(long)]
    pub sparsity: Option<f64>,
    #[command(flatten)]
    pub act: ActSettings,
    #[arg(long)]
    pub json: bool,
}

/// `lowbit mixed`.
#[derive(Args, Debug)]
pub struct MixedArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Average stored bits per weight allowed, scales included.
    #[arg(long)]
    pub budget: f64,
    /// Candidate configurations per layer: intB (per channel, with --clip and --range), mxfp4, nvfp4,
    /// fp8-e4m3, … (e.g. int2,int4,int8,mxfp4,nvfp4).
    #[arg(long, default_value = "int2,int3,int4,int8,mxfp4,nvfp4")]
    pub candidates: String,
    /// What the knapsack minimises: kl (default) or accuracy.
    #[arg(long)]
    pub objective: Option<String>,
    /// Frontier assignments verified for the accuracy-vs-bits front.
    #[arg(long)]
    pub front: Option<usize>,
}

impl ModelArgs {
    fn spec(&self, mixed: Option<MixedSpec>) -> Result<EvalSpec> {
        let quant = self.quant.format.is_some().then(|| self.quant.spec()).transpose()?;
        let prune = match (&self.prune, self.sparsity) {
            (Some(p), s) => Some(PruneSpec { pattern: p.clone(), sparsity: s.unwrap_or(0.0), saliency: None }),
            (None, Some(_)) => anyhow::bail!("--sparsity needs --prune PATTERN"),
            (None, None) => None,
        };
        let spec = EvalSpec { quant, prune, act: self.act.spec()?, limit: self.limit, calib: self.calib, mixed };
        spec.check()?;
        Ok(spec)
    }

    /// The network, its evaluation set and (when activations are quantized) its calibration set.
    fn open(&self, spec: &EvalSpec) -> Result<crate::model::Opened> {
        let limits = Limits::default();
        let bytes = std::fs::read(&self.model).with_context(|| format!("cannot read {}", self.model.display()))?;
        let net = crate::model::open_network(&bytes, &limits).map_err(|e| anyhow!("{}: {e}", self.model.display()))?;
        let mnist_dir = super::train::data_dir(self.mnist.as_deref());
        let data = if self.data == "mnist" {
            crate::model::mnist(&mnist_dir, "test").map_err(|e| anyhow!(e))?
        } else {
            npz(Path::new(&self.data))?
        };
        let data = spec.data(net.as_ref(), data).with_context(|| format!("evaluation set {}", self.data))?;
        let calib = match (&self.calib_data, &spec.act) {
            (_, None) => None,
            (Some(p), Some(_)) => Some(npz(p)?),
            (None, Some(_)) => Some(crate::model::mnist(&mnist_dir, "train").map_err(|e| anyhow!(e))?),
        };
        Ok((net, data, calib))
    }
}

fn npz(path: &Path) -> Result<Dataset> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    crate::model::npz_dataset(&bytes, &Limits::default()).map_err(|e| anyhow!("{}: {e}", path.display()))
}

fn pct(v: Option<f64>) -> String {
    v.map_or("–".into(), |a| format!("{:.2} %", 100.0 * a))
}

/// Progress on stderr for runs of many evaluations.
fn progress(what: &'static str) -> impl FnMut(usize, usize) -> lowbit_core::Result<()> {
    use std::io::IsTerminal as _;
    let (start, shown) = (Instant::now(), std::io::stderr().is_terminal());
    move |d, t| {
        if !shown {
            return Ok(());
        }
        eprint!("\r{what}: {d}/{t} evaluations, {:.0} s", start.elapsed().as_secs_f64());
        if d == t {
            eprintln!();
        }
        Ok(())
    }
}

fn print_eval(e: &Evaluation) {
    outln!("samples          {}", e.n);
    if let (Some(a), Some([lo, hi])) = (e.accuracy, e.accuracy_ci95) {
        outln!("accuracy         {} (95 % CI {:.2}–{:.2} %)", pct(Some(a)), 100.0 * lo, 100.0 * hi);
        outln!("fp32 accuracy    {}", pct(e.fp32_accuracy));
    }
    outln!("agreement        {}", pct(Some(e.agreement)));
    outln!("KL               {:.3e} nats", e.kl);
    outln!("bits per param   {:.3}", e.bits_per_param);
    outln!("\n{:<24} {:>9} {:>8} {:>14} {:>14}", "layer", "params", "bits", "weight SQNR", "output SQNR");
    for l in &e.layers {
        let db = |v: f64| if v.is_finite() { format!("{v:.1} dB") } else { "exact".into() };
        outln!(
            "{:<24} {:>9} {:>8.3} {:>14} {:>14}",
            l.name,
            l.params,
            l.bits_per_param,
            db(l.weight_sqnr_db),
            l.output_sqnr_db.map_or("–".into(), db)
        );
    }
}

pub fn run_eval(a: &ModelArgs) -> Result<()> {
    let spec = a.spec(None)?;
    let (net, data, calib) = a.open(&spec)?;
    let start = Instant::now();
    let e = spec::run_eval(net.as_ref(), &spec, &data, calib)?;
    let seconds = start.elapsed().as_secs_f64();
    if a.json {
        let mut v = serde_json::to_value(&e)?;
        v["seconds"] = seconds.into();
        print(&v);
    } else {
        print_eval(&e);
        outln!("\n{:.2} s ({:.0} samples/s, reference and compressed model)", seconds, data.n as f64 / seconds);
    }
    Ok(())
}

pub fn run_sensitivity(a: &ModelArgs) -> Result<()> {
    let spec = a.spec(None)?;
    let (net, data, calib) = a.open(&spec)?;
    let s = spec::run_sensitivity(net.as_ref(), &spec, &data, calib, &mut progress("sensitivity"))?;
    if a.json {
        print(&serde_json::to_value(&s)?);
        return Ok(());
    }
    outln!(
        "fp32 accuracy {}; everything compressed {} (KL {:.3e})",
        pct(s.fp32_accuracy),
        pct(s.all.accuracy),
        s.all.kl
    );
    outln!(
        "\n{:<24} {:>9} {:>12} {:>10} {:>11} {:>16} {:>12}",
        "layer (by KL)",
        "params",
        "alone acc",
        "drop",
        "alone KL",
        "all but it acc",
        "all but KL"
    );
    for l in &s.layers {
        outln!(
            "{:<24} {:>9} {:>12} {:>10} {:>11.3e} {:>16} {:>12.3e}",
            l.name,
            l.params,
            pct(l.accuracy),
            l.accuracy_drop.map_or("–".into(), |d| format!("{:.2}", 100.0 * d)),
            l.kl,
            pct(l.all_but_accuracy),
            l.all_but_kl
        );
    }
    Ok(())
}

pub fn run_mixed(a: &MixedArgs) -> Result<()> {
    let mixed = MixedSpec {
        budget: a.budget,
        candidates: a.candidates.clone(),
        objective: a.objective.clone(),
        clip: a.model.quant.clip.clone(),
        range: a.model.quant.range.clone(),
        front: a.front,
    };
    let spec = a.model.spec(Some(mixed))?;
    let (net, data, calib) = a.model.open(&spec)?;
    let m = spec::run_mixed(net.as_ref(), &spec, &data, calib, &mut progress("mixed precision"))?;
    if a.model.json {
        print(&serde_json::to_value(&m)?);
        return Ok(());
    }
    outln!("budget {} bits per parameter → {:.3} bits per parameter", m.budget, m.bits_per_param);
    for l in &m.evaluation.layers {
        outln!("  {:<24} {:<10} {:>7.3} bits", l.name, m.assignment[&l.name], l.bits_per_param);
    }
    outln!(
        "verified: accuracy {} (fp32 {}), agreement {}, KL {:.3e}",
        pct(m.accuracy),
        pct(m.fp32_accuracy),
        pct(Some(m.agreement)),
        m.kl
    );
    outln!("\nfront (bits per parameter → accuracy, KL):");
    for p in &m.front {
        outln!("  {:>7.3} → {:>8}  {:.3e}", p.bits_per_param, pct(p.accuracy), p.kl);
    }
    outln!("uniform:");
    for u in &m.uniform {
        outln!("  {:<10} {:>7.3} → {:>8}  {:.3e}", u.candidate, u.bits_per_param, pct(u.accuracy), u.kl);
    }
    Ok(())
}
