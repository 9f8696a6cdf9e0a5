//! The `lowbit` command line: raw arguments (clap) → validated settings → a command that prints a table, or
//! one JSON object with `--json`. Errors go to stderr with a non-zero exit code (1 for a failed command,
//! 2 for bad usage).

/// `println!` that ends the program quietly when stdout is a closed pipe (`lowbit info x | head`).
macro_rules! outln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout(), $($t)*) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
        }
    }};
}

mod bench;
mod curve;
mod diff;
mod eval;
mod info;
mod json;
mod prune;
mod quant;
mod sim;
mod train;
mod video;
mod winograd;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// lowbit — quantization and sparsity analysis of neural-network checkpoints.
#[derive(Parser, Debug)]
#[command(name = "lowbit", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// List the tensors of a checkpoint with their statistics.
    Info(InfoArgs),
    /// Quantize tensors and report the chosen clipping scalars and the error.
    Quant(QuantArgs),
    /// The clipping curve of one tensor: MSE against clip ratio, with where each clip method lands.
    Curve(CurveArgs),
    /// Throughput of the main kernels next to this machine's memcpy bandwidth.
    Bench(BenchArgs),
    /// Prune tensors with a sparsity pattern and report sparsity, error and storage cost.
    Prune(prune::PruneArgs),
    /// Hardware models: `sim scnn` (sparse accelerator vs dense baselines), `sim mac` (per-vector-scaled MAC).
    #[command(subcommand)]
    Sim(sim::SimCommand),
    /// Multiplication counts of sparse Winograd convolution for the 3×3 conv layers of a checkpoint.
    Winograd(winograd::WinogradArgs),
    /// Video detection and tracking: `video metrics` (AP, Average Delay), `video mot` (MOTA, IDF1, …),
    /// `video synth` (a synthetic detector), `video patchnet` (operation count, key frames).
    #[command(subcommand)]
    Video(video::VideoCommand),
    /// Compare an original checkpoint with a compressed version of it, tensor by tensor.
    Diff(Box<diff::DiffArgs>),
    /// Evaluate a model with compressed weights (and activations): accuracy with its 95 % interval,
    /// agreement and KL against the unquantized model, weight and output SQNR per layer.
    Eval(Box<eval::ModelArgs>),
    /// Per-layer sensitivity: each layer compressed alone, and everything but that layer, ranked.
    Sensitivity(Box<eval::ModelArgs>),
    /// Mixed precision under a bit budget: an exact knapsack over measured per-layer costs, verified.
    Mixed(Box<eval::MixedArgs>),
    /// Train on MNIST: full precision or quantization-aware (OCTAV every step, STE/PWL/MAD gradients).
    Train(Box<train::TrainArgs>),
    /// Start the dashboard server (prints its URL).
    Serve(crate::serve::ServeArgs),
}

/// `lowbit info`.
#[derive(Args, Debug)]
pub struct InfoArgs {
    /// A safetensors (or model.safetensors.index.json), npy, npz, ONNX or PyTorch zip file.
    pub file: PathBuf,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Every format core describes, with its one-line help, for `--format`.
fn format_names() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(
        lowbit_core::quant::Format::ALL.map(|f| clap::builder::PossibleValue::new(f.info().name).help(f.info().help)),
    )
}

/// The quantization settings shared by `quant` and `curve`, in the API's vocabulary.
#[derive(Args, Debug, Clone)]
pub struct QuantSettings {
    /// Number format (each described by core: `--help` lists them with what they are).
    #[arg(long, value_parser = format_names())]
    pub format: Option<String>,
    /// Bits per element for int, uint and int-asym (2–16, default 8).
    #[arg(long)]
    pub bits: Option<u32>,
    /// tensor | channel[:AXIS] | vector:V (also gV). Default: tensor; vector:32 for MX, vector:16 for NVFP4.
    #[arg(long)]
    pub granularity: Option<String>,
    /// max | percentile:P | mse | octav | aciq-gauss | aciq-laplace | kl. Default: max.
    #[arg(long)]
    pub clip: Option<String>,
    /// Two-level VS-Quant: bits M of the per-vector integer scale (needs vector granularity).
    #[arg(long)]
    pub scale_bits: Option<u32>,
    /// Two-level VS-Quant scale rounding: round (default) or ceil.
    #[arg(long)]
    pub scale_rounding: Option<String>,
    /// MX shared-exponent rule: floor (OCP v1.0, default) or rceil.
    #[arg(long)]
    pub mx_scale: Option<String>,
    /// Ternary: threshold as a fraction of max|w| (default 0.05).
    #[arg(long = "ternary-threshold", id = "ternary_threshold")]
    pub threshold: Option<f32>,
    /// Ternary: target fraction of zeros instead of a threshold.
    #[arg(long = "ternary-sparsity", id = "ternary_sparsity")]
    pub sparsity: Option<f32>,
    /// OCTAV: leave exact zeros out of the inside count.
    #[arg(long)]
    pub octav_exclude_zeros: bool,
    /// How float scales are stored: fp32, fp16 or bf16 (default fp32; fp16 for vector granularity).
    #[arg(long)]
    pub scale_dtype: Option<String>,
    /// Integer codes: full (−2^(B−1)…2^(B−1)−1, default) or narrow (±(2^(B−1)−1), as deployments quantize
    /// symmetric weights).
    #[arg(long)]
    pub range: Option<String>,
}

impl QuantSettings {
    /// The settings as a spec; `--format` is what makes it one.
    pub fn spec(&self) -> anyhow::Result<lowbit_core::quant::QuantSpec> {
        let Some(format) = self.format.clone() else {
            anyhow::bail!("--format is required (e.g. --format int --bits 4)")
        };
        Ok(lowbit_core::quant::QuantSpec {
            format,
            bits: self.bits,
            granularity: self.granularity.clone(),
            clip: self.clip.clone(),
            scale_bits: self.scale_bits,
            scale_rounding: self.scale_rounding.clone(),
            mx_scale: self.mx_scale.clone(),
            threshold: self.threshold,
            sparsity: self.sparsity,
            octav_exclude_zeros: self.octav_exclude_zeros,
            scale_dtype: self.scale_dtype.clone(),
            range: self.range.clone(),
        })
    }
}

/// Activation quantization, shared by `train` and the evaluation commands.
#[derive(Args, Debug, Clone)]
pub struct ActSettings {
    /// Also quantize the activations (each layer's input, per tensor) to this format: uint (post-ReLU), int
    /// or an fp format.
    #[arg(long)]
    pub act_format: Option<String>,
    /// Bits of --act-format (default 8).
    #[arg(long)]
    pub act_bits: Option<u32>,
    /// How the activations' clip is chosen: max, percentile:P, mse, octav, aciq-gauss, aciq-laplace, kl
    /// (default max).
    #[arg(long)]
    pub act_clip: Option<String>,
}

impl ActSettings {
    /// The activations' spec, if any.
    pub fn spec(&self) -> anyhow::Result<Option<lowbit_core::quant::QuantSpec>> {
        match (&self.act_format, self.act_bits.is_some() || self.act_clip.is_some()) {
            (Some(f), _) => {
                // Formats that carry their width in the name (fp8-e4m3…) take no bits; the others default to 8.
                let takes_bits = lowbit_core::quant::Format::parse(f, None)?.info().takes_bits;
                let bits = if takes_bits { Some(self.act_bits.unwrap_or(8)) } else { self.act_bits };
                Ok(Some(lowbit_core::quant::QuantSpec {
                    clip: self.act_clip.clone(),
                    ..lowbit_core::quant::QuantSpec::new(f, bits)
                }))
            }
            (None, true) => anyhow::bail!("--act-bits and --act-clip need --act-format"),
            (None, false) => Ok(None),
        }
    }
}

/// `lowbit quant`.
#[derive(Args, Debug)]
pub struct QuantArgs {
    pub file: PathBuf,
    /// Only tensors whose name matches this regular expression.
    #[arg(long)]
    pub tensor: Option<String>,
    #[command(flatten)]
    pub settings: QuantSettings,
    /// Write the dequantized tensors (and the untouched others) to this safetensors file.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    #[arg(long)]
    pub json: bool,
}

/// `lowbit curve`.
#[derive(Args, Debug)]
pub struct CurveArgs {
    pub file: PathBuf,
    /// The tensor's exact name.
    #[arg(long)]
    pub tensor: String,
    #[command(flatten)]
    pub settings: QuantSettings,
    /// Number of clip ratios on (0, 1].
    #[arg(long, default_value_t = 100)]
    pub points: usize,
    #[arg(long)]
    pub json: bool,
}

/// `lowbit bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Elements of the test tensor (default 16 Mi).
    #[arg(long, default_value_t = 16 << 20)]
    pub size: usize,
    /// Repetitions; the best time is reported.
    #[arg(long, default_value_t = 5)]
    pub reps: usize,
    #[arg(long)]
    pub json: bool,
}

/// Parses arguments and runs; the exit code tells scripts what happened.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Info(a) => info::run(&a),
        Command::Quant(a) => quant::run(&a),
        Command::Curve(a) => curve::run(&a),
        Command::Bench(a) => bench::run(&a),
        Command::Prune(a) => prune::run(&a),
        Command::Sim(c) => sim::run(&c),
        Command::Winograd(a) => winograd::run(&a),
        Command::Video(c) => video::run(&c),
        Command::Diff(a) => diff::run(&a),
        Command::Eval(a) => eval::run_eval(&a),
        Command::Sensitivity(a) => eval::run_sensitivity(&a),
        Command::Mixed(a) => eval::run_mixed(&a),
        Command::Train(a) => train::run(&a),
        Command::Serve(a) => crate::serve::run(a),
    }
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    #[test]
    fn every_command_line_definition_is_consistent() {
        // clap's own checks (unique names, valid defaults) for every subcommand.
        Cli::command().debug_assert();
    }
}
