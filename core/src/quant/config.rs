//! A quantization configuration: [`QuantSpec`] in the CLI's vocabulary (what users write, in JSON too),
//! resolved and validated into [`QuantConfig`] (what the quantizers run on).

use super::format::Format;
use crate::clip::ClipMethod;
use crate::error::{Error, Result};
use crate::formats::{IntRange, MiniFloat};
use crate::granularity::Granularity;
use serde::{Deserialize, Serialize};

/// How the M-bit per-vector scale of two-level VS-Quant is rounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScaleRounding {
    /// Nearest: smallest scale error (the paper's "quantize the scale" reading; default).
    #[default]
    Round,
    /// Up: the vector's maximum is never clipped.
    Ceil,
}

/// The type float scales are stored in; the quantizer rounds every scale to it before use, so the error we
/// report is the error of the stored model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScaleDtype {
    Fp32,
    Fp16,
    Bf16,
}

impl ScaleDtype {
    /// Default: FP32 for per-tensor and per-channel scales (negligible cost), FP16 for per-vector scales
    /// (as GPTQ/AWQ checkpoints store them).
    pub fn default_for(g: Granularity) -> Self {
        match g {
            Granularity::Vector { .. } => Self::Fp16,
            Granularity::Tensor | Granularity::Channel { .. } => Self::Fp32,
        }
    }
    pub fn bits(self) -> u64 {
        match self {
            Self::Fp32 => 32,
            Self::Fp16 | Self::Bf16 => 16,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Self::Fp32 => "fp32",
            Self::Fp16 => "fp16",
            Self::Bf16 => "bf16",
        }
    }
    /// The stored value of a positive scale: rounded to nearest even, saturating, never rounded to zero
    /// (a tiny group gets the type's smallest positive value instead).
    pub fn store(self, scale: f32) -> f32 {
        let mf = match self {
            Self::Fp32 => return scale,
            Self::Fp16 => MiniFloat::FP16,
            Self::Bf16 => MiniFloat::BF16,
        };
        if scale <= 0.0 {
            return 0.0;
        }
        mf.quantize(scale).max(mf.min_subnormal())
    }
}

/// How an MX block's shared E8M0 exponent is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MxScaleMode {
    /// OCP v1.0 reference: floor(log2 amax) − emax_elem (may saturate the block max).
    #[default]
    Floor,
    /// cuBLAS/Blackwell: ceil(log2(amax / max_elem)); never saturates.
    Rceil,
}

/// How the ternary threshold Δ is set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TernaryRule {
    /// Δ = t·max|w| (TTQ, t = 0.05 by default).
    Threshold(f32),
    /// Δ such that a fraction r of the weights become zero.
    Sparsity(f32),
}

/// A configuration as the CLI and the API spell it: `{"format": "int", "bits": 4, "granularity": "channel:0",
/// "clip": "octav"}`. Absent fields take the format's defaults.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct QuantSpec {
    #[cfg_attr(feature = "openapi", schema(schema_with = format_schema))]
    pub format: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bits: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granularity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clip: Option<String>,
    /// VS-Quant two-level: bits M of the per-vector integer scale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_bits: Option<u32>,
    /// `round` (default) or `ceil`, for the two-level scale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_rounding: Option<String>,
    /// `floor` (default) or `rceil`, for MX formats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mx_scale: Option<String>,
    /// Ternary: threshold t as a fraction of max|w|.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f32>,
    /// Ternary: target fraction of zeros.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sparsity: Option<f32>,
    /// OCTAV: leave exact zeros out of the inside count.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub octav_exclude_zeros: bool,
    /// `fp32`, `fp16` or `bf16`: how float scales are stored (default fp32, fp16 for vector granularity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_dtype: Option<String>,
    /// Integer formats: `full` (default, ALGORITHMS.md §1.1) or `narrow` (codes ±(2^(B−1)−1), as most
    /// deployment toolchains quantize symmetric weights).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<String>,
}

/// `format` in the API schema: every name, each with its help line.
#[cfg(feature = "openapi")]
fn format_schema() -> utoipa::openapi::Object {
    use utoipa::openapi::{ObjectBuilder, schema::Type};
    let help: Vec<String> = Format::ALL
        .iter()
        .map(|f| {
            let i = f.info();
            format!("{}: {}", i.name, i.help)
        })
        .collect();
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(super::FORMAT_NAMES))
        .description(Some(help.join("; ")))
        .build()
}

/// A validated configuration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuantConfig {
    pub format: Format,
    pub granularity: Granularity,
    pub clip: ClipMethod,
    pub scale_bits: Option<u32>,
    pub scale_rounding: ScaleRounding,
    pub mx_scale: MxScaleMode,
    pub ternary: TernaryRule,
    pub octav_exclude_zeros: bool,
    /// `None`: [`ScaleDtype::default_for`] the granularity.
    pub scale_dtype: Option<ScaleDtype>,
    /// The integer codes used (int, uint, int-asym).
    pub range: IntRange,
}

impl QuantConfig {
    /// The format's defaults: per tensor, max clipping; block formats in their blocks (MX 32, NVFP4 16).
    pub fn new(format: Format) -> Self {
        let granularity =
            format.info().block.map_or(Ok(Granularity::Tensor), Granularity::vector).unwrap_or(Granularity::Tensor);
        Self {
            format,
            granularity,
            clip: ClipMethod::Max,
            scale_bits: None,
            scale_rounding: ScaleRounding::Round,
            mx_scale: MxScaleMode::Floor,
            ternary: TernaryRule::Threshold(0.05),
            octav_exclude_zeros: false,
            scale_dtype: None,
            range: IntRange::Full,
        }
    }

    /// The scale type in force.
    pub fn scale_dtype(&self) -> ScaleDtype {
        self.scale_dtype.unwrap_or(ScaleDtype::default_for(self.granularity))
    }
    pub fn with_scale_dtype(mut self, d: ScaleDtype) -> Self {
        self.scale_dtype = Some(d);
        self
    }

    pub fn with_granularity(mut self, g: Granularity) -> Self {
        self.granularity = g;
        self
    }
    pub fn with_clip(mut self, c: ClipMethod) -> Self {
        self.clip = c;
        self
    }
    pub fn with_scale_bits(mut self, m: u32) -> Self {
        self.scale_bits = Some(m);
        self
    }

    /// Checks that the parts fit together; every quantizer calls it first.
    pub fn validate(&self) -> Result<()> {
        let info = self.format.info();
        let name = info.name;
        if info.own_scales && self.clip != ClipMethod::Max {
            return Err(Error::param(format!(
                "{name} sets its scales by its own rule; --clip {} does not apply (use max)",
                self.clip
            )));
        }
        if info.block.is_some() && !matches!(self.granularity, Granularity::Vector { .. }) {
            return Err(Error::param(format!(
                "{name} scales blocks: use --granularity vector:V, not {}",
                self.granularity
            )));
        }
        if self.clip.needs_uniform_grid() && !info.uniform_grid {
            return Err(Error::param(format!(
                "clip method `{}` models a uniform integer grid; {name} is a floating-point format (use max, percentile:P or mse)",
                self.clip
            )));
        }
        if let Some(m) = self.scale_bits {
            if !(1..=16).contains(&m) {
                return Err(Error::param(format!("--scale-bits takes 1 to 16, not {m}")));
            }
            if !info.two_level {
                return Err(Error::param(format!(
                    "--scale-bits (two-level VS-Quant) applies to int and uint, not {name}"
                )));
            }
            if !matches!(self.granularity, Granularity::Vector { .. }) {
                return Err(Error::param("--scale-bits (two-level VS-Quant) needs --granularity vector:V"));
            }
        }
        if self.range == IntRange::Narrow
            && !matches!(self.format, Format::Int { .. } | Format::UInt { .. } | Format::IntAsym { .. })
        {
            return Err(Error::param(format!(
                "--range narrow applies to the integer formats (int, uint, int-asym), not {name}"
            )));
        }
        match self.ternary {
            TernaryRule::Threshold(t) if !(0.0..1.0).contains(&t) => {
                return Err(Error::param(format!("ternary threshold {t} is outside [0, 1)")));
            }
            TernaryRule::Sparsity(r) if !(0.0..1.0).contains(&r) => {
                return Err(Error::param(format!("ternary sparsity {r} is outside [0, 1)")));
            }
            _ => {}
        }
        Ok(())
    }
}

fn parse_choice<T>(what: &str, value: Option<&str>, options: &[(&str, T)]) -> Result<Option<T>>
where
    T: Copy,
{
    let Some(v) = value else { return Ok(None) };
    options.iter().find(|(n, _)| *n == v).map(|(_, t)| Some(*t)).ok_or_else(|| {
        let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
        Error::param(format!("{what} `{v}` is not one of {}", names.join(", ")))
    })
}

impl QuantSpec {
    /// A spec with just a format name and bits.
    pub fn new(format: &str, bits: Option<u32>) -> Self {
        Self { format: format.to_string(), bits, ..Self::default() }
    }

    /// Resolves names and defaults into a validated [`QuantConfig`].
    pub fn resolve(&self) -> Result<QuantConfig> {
        let format = Format::parse(&self.format, self.bits)?;
        let mut cfg = QuantConfig::new(format);
        if let Some(g) = &self.granularity {
            cfg.granularity = g.parse()?;
        }
        if let Some(c) = &self.clip {
            cfg.clip = c.parse()?;
        }
        cfg.scale_bits = self.scale_bits;
        if let Some(r) = parse_choice(
            "scale rounding",
            self.scale_rounding.as_deref(),
            &[("round", ScaleRounding::Round), ("ceil", ScaleRounding::Ceil)],
        )? {
            cfg.scale_rounding = r;
        }
        if let Some(m) = parse_choice(
            "mx scale",
            self.mx_scale.as_deref(),
            &[("floor", MxScaleMode::Floor), ("rceil", MxScaleMode::Rceil)],
        )? {
            cfg.mx_scale = m;
        }
        cfg.ternary = match (self.threshold, self.sparsity) {
            (Some(_), Some(_)) => {
                return Err(Error::param("give a ternary threshold or a sparsity, not both"));
            }
            (Some(t), None) => TernaryRule::Threshold(t),
            (None, Some(r)) => TernaryRule::Sparsity(r),
            (None, None) => TernaryRule::Threshold(0.05),
        };
        if (self.threshold.is_some() || self.sparsity.is_some()) && format != Format::Ternary {
            return Err(Error::param(format!("threshold and sparsity apply to ternary, not {}", format.name())));
        }
        cfg.octav_exclude_zeros = self.octav_exclude_zeros;
        cfg.scale_dtype = parse_choice(
            "scale dtype",
            self.scale_dtype.as_deref(),
            &[("fp32", ScaleDtype::Fp32), ("fp16", ScaleDtype::Fp16), ("bf16", ScaleDtype::Bf16)],
        )?;
        if let Some(r) =
            parse_choice("range", self.range.as_deref(), &[("full", IntRange::Full), ("narrow", IntRange::Narrow)])?
        {
            cfg.range = r;
        }
        cfg.validate()?;
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_in_the_cli_vocabulary_resolves() {
        let spec: QuantSpec =
            serde_json::from_str(r#"{"format": "int", "bits": 4, "granularity": "channel:0", "clip": "octav"}"#)
                .unwrap();
        let cfg = spec.resolve().unwrap();
        assert_eq!(cfg.format, Format::Int { bits: 4 });
        assert_eq!(cfg.granularity, Granularity::Channel { axis: 0 });
        assert_eq!(cfg.clip, ClipMethod::Octav);
    }

    #[test]
    fn mismatched_parts_are_clear_errors() {
        let bad = |json: &str| serde_json::from_str::<QuantSpec>(json).unwrap().resolve().unwrap_err().message;
        assert!(bad(r#"{"format": "mxfp4", "clip": "octav"}"#).contains("does not apply"));
        assert!(bad(r#"{"format": "nvfp4", "granularity": "channel"}"#).contains("vector:V"));
        assert!(bad(r#"{"format": "int", "bits": 4, "scale_bits": 6}"#).contains("vector:V"));
        assert!(
            bad(r#"{"format": "int", "bits": 4, "granularity": "vector:16", "scale_bits": 0}"#).contains("1 to 16")
        );
        assert!(bad(r#"{"format": "ternary", "sparsity": 1.5}"#).contains("outside"));
        assert!(bad(r#"{"format": "mxfp4", "mx_scale": "up"}"#).contains("not one of"));
        assert!(serde_json::from_str::<QuantSpec>(r#"{"format": "int", "bitz": 4}"#).is_err());
    }
}
