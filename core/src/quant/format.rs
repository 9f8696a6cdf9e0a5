//! The number formats a tensor can be quantized to, by their CLI names.

use crate::error::{Error, Result};
use crate::formats::MiniFloat;
use std::fmt;

/// A floating-point element format used with a per-tensor/channel/vector float scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FloatFormat {
    Fp8E4M3,
    Fp8E5M2,
    Fp6E3M2,
    Fp6E2M3,
    Fp4E2M1,
    Bf16,
    Fp16,
}

impl FloatFormat {
    pub fn minifloat(self) -> MiniFloat {
        match self {
            Self::Fp8E4M3 => MiniFloat::E4M3,
            Self::Fp8E5M2 => MiniFloat::E5M2,
            Self::Fp6E3M2 => MiniFloat::E3M2,
            Self::Fp6E2M3 => MiniFloat::E2M3,
            Self::Fp4E2M1 => MiniFloat::E2M1,
            Self::Bf16 => MiniFloat::BF16,
            Self::Fp16 => MiniFloat::FP16,
        }
    }
}

/// The element type of an OCP MX v1.0 block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MxElement {
    Fp8E4M3,
    Fp8E5M2,
    Fp6E3M2,
    Fp6E2M3,
    Fp4E2M1,
    /// 8-bit two's complement with an implicit scale of 2^-6, clamped to ±127 (as microxcaling does).
    Int8,
}

impl MxElement {
    /// The element's minifloat, or `None` for MXINT8.
    pub fn minifloat(self) -> Option<MiniFloat> {
        match self {
            Self::Fp8E4M3 => Some(MiniFloat::E4M3),
            Self::Fp8E5M2 => Some(MiniFloat::E5M2),
            Self::Fp6E3M2 => Some(MiniFloat::E3M2),
            Self::Fp6E2M3 => Some(MiniFloat::E2M3),
            Self::Fp4E2M1 => Some(MiniFloat::E2M1),
            Self::Int8 => None,
        }
    }
    /// emax_elem of the OCP table: the exponent of the element's largest power of two.
    pub fn emax(self) -> i32 {
        self.minifloat().map_or(0, |m| m.emax())
    }
    /// Largest element magnitude (127/64 for MXINT8).
    pub fn max_value(self) -> f32 {
        self.minifloat().map_or(127.0 / 64.0, |m| m.max_normal())
    }
    pub fn bits(self) -> u32 {
        self.minifloat().map_or(8, |m| m.bits())
    }
}

/// A number format by its CLI name; integer formats carry their bit width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Signed symmetric B-bit integers (zero point 0).
    Int { bits: u32 },
    /// Unsigned B-bit integers over [0, s] (post-ReLU tensors).
    UInt { bits: u32 },
    /// B-bit integers with a zero point over [lo, hi] (GPTQ/AWQ style).
    IntAsym { bits: u32 },
    /// A minifloat element with a float scale per group.
    Float(FloatFormat),
    /// OCP MX: blocks with a shared E8M0 scale.
    Mx(MxElement),
    /// NVIDIA NVFP4: E2M1 elements, E4M3 block scales, an FP32 tensor scale.
    Nvfp4,
    /// Ternary {−W^n, 0, +W^p} with fitted scales (TTQ's post-training form).
    Ternary,
}

/// Everything the rest of lowbit asks of a format — parsing, validation, CLI help, the API schema and the
/// dashboard's controls all derive from this one description ([`Format::info`], an exhaustive match).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FormatInfo {
    /// The CLI/API name.
    pub name: &'static str,
    /// Whether the element width is chosen (`--bits`, 2 to 16); the others carry theirs in the name.
    pub takes_bits: bool,
    /// Elements sit on a uniform integer grid: the clip methods that model one (OCTAV, ACIQ, KL) apply.
    pub uniform_grid: bool,
    /// Scales come from the format's own rule, so the clip must be `max`.
    pub own_scales: bool,
    /// For block formats, the block size a scale is shared over (granularity must then be `vector:V`).
    pub block: Option<usize>,
    /// Two-level VS-Quant scales (`--scale-bits`) apply.
    pub two_level: bool,
    /// One line for `--help`, the API schema and the dashboard.
    pub help: &'static str,
}

/// Every CLI name, in the order `--help` lists them (derived from [`Format::ALL`]).
pub const FORMAT_NAMES: [&str; Format::ALL.len()] = {
    let mut out = [""; Format::ALL.len()];
    let mut i = 0;
    while i < out.len() {
        out[i] = Format::ALL[i].name();
        i += 1;
    }
    out
};

/// The description of the format named `name`, if there is one.
pub fn format_info(name: &str) -> Option<FormatInfo> {
    Format::ALL.iter().find(|f| f.name() == name).map(Format::info)
}

impl Format {
    /// One value of every format (integer ones at 8 bits), in the order `--help` lists them. A new format is
    /// a variant here plus the match arms the compiler then asks for.
    pub const ALL: [Format; 18] = [
        Self::Int { bits: 8 },
        Self::UInt { bits: 8 },
        Self::IntAsym { bits: 8 },
        Self::Float(FloatFormat::Fp8E4M3),
        Self::Float(FloatFormat::Fp8E5M2),
        Self::Float(FloatFormat::Fp6E3M2),
        Self::Float(FloatFormat::Fp6E2M3),
        Self::Float(FloatFormat::Fp4E2M1),
        Self::Float(FloatFormat::Bf16),
        Self::Float(FloatFormat::Fp16),
        Self::Mx(MxElement::Fp8E4M3),
        Self::Mx(MxElement::Fp8E5M2),
        Self::Mx(MxElement::Fp6E3M2),
        Self::Mx(MxElement::Fp6E2M3),
        Self::Mx(MxElement::Fp4E2M1),
        Self::Mx(MxElement::Int8),
        Self::Nvfp4,
        Self::Ternary,
    ];

    /// What the rest of lowbit needs to know about this format.
    pub fn info(&self) -> FormatInfo {
        let base = FormatInfo {
            name: self.name(),
            takes_bits: false,
            uniform_grid: false,
            own_scales: false,
            block: None,
            two_level: false,
            help: "",
        };
        match *self {
            Self::Int { .. } => FormatInfo {
                takes_bits: true,
                uniform_grid: true,
                two_level: true,
                help: "signed symmetric B-bit integers (zero point 0)",
                ..base
            },
            Self::UInt { .. } => FormatInfo {
                takes_bits: true,
                uniform_grid: true,
                two_level: true,
                help: "unsigned B-bit integers over [0, clip] (post-ReLU tensors)",
                ..base
            },
            Self::IntAsym { .. } => FormatInfo {
                takes_bits: true,
                uniform_grid: true,
                help: "B-bit integers with a zero point over [min, max] (GPTQ/AWQ style)",
                ..base
            },
            Self::Float(_) => FormatInfo { help: "a minifloat element with a float scale per group", ..base },
            Self::Mx(MxElement::Int8) => FormatInfo {
                own_scales: true,
                block: Some(32),
                help: "OCP MX: 8-bit integers in blocks of 32 with a shared E8M0 scale",
                ..base
            },
            Self::Mx(_) => FormatInfo {
                own_scales: true,
                block: Some(32),
                help: "OCP MX: minifloat elements in blocks of 32 with a shared E8M0 scale",
                ..base
            },
            Self::Nvfp4 => FormatInfo {
                own_scales: true,
                block: Some(16),
                help: "NVIDIA NVFP4: E2M1 elements, E4M3 scales per 16, an FP32 tensor scale",
                ..base
            },
            Self::Ternary => FormatInfo {
                own_scales: true,
                help: "ternary {-Wn, 0, +Wp} with fitted scales (TTQ's post-training form)",
                ..base
            },
        }
    }

    /// Parses a CLI name; `bits` is required-or-defaulted (8) for integer formats and must match otherwise.
    pub fn parse(name: &str, bits: Option<u32>) -> Result<Self> {
        let int_bits = || -> Result<u32> {
            let b = bits.unwrap_or(8);
            if !(2..=16).contains(&b) {
                return Err(Error::param(format!("{name} takes 2 to 16 bits, not {b}")));
            }
            Ok(b)
        };
        let f = match Self::ALL.iter().find(|f| f.name() == name.trim()) {
            Some(Self::Int { .. }) => Self::Int { bits: int_bits()? },
            Some(Self::UInt { .. }) => Self::UInt { bits: int_bits()? },
            Some(Self::IntAsym { .. }) => Self::IntAsym { bits: int_bits()? },
            Some(&other) => other,
            None => {
                return Err(Error::param(format!(
                    "unknown format `{}` (expected one of {})",
                    name.trim(),
                    FORMAT_NAMES.join(", ")
                )));
            }
        };
        if let Some(b) = bits {
            let width = f.element_bits();
            if width != b {
                return Err(Error::param(format!("{name} has {width}-bit elements; --bits {b} does not apply")));
            }
        }
        Ok(f)
    }

    /// Bits of one stored element, scales not included.
    pub fn element_bits(&self) -> u32 {
        match *self {
            Self::Int { bits } | Self::UInt { bits } | Self::IntAsym { bits } => bits,
            Self::Float(f) => f.minifloat().bits(),
            Self::Mx(e) => e.bits(),
            Self::Nvfp4 => 4,
            Self::Ternary => 2,
        }
    }

    /// The CLI name.
    pub const fn name(&self) -> &'static str {
        match *self {
            Self::Int { .. } => "int",
            Self::UInt { .. } => "uint",
            Self::IntAsym { .. } => "int-asym",
            Self::Float(FloatFormat::Fp8E4M3) => "fp8-e4m3",
            Self::Float(FloatFormat::Fp8E5M2) => "fp8-e5m2",
            Self::Float(FloatFormat::Fp6E3M2) => "fp6-e3m2",
            Self::Float(FloatFormat::Fp6E2M3) => "fp6-e2m3",
            Self::Float(FloatFormat::Fp4E2M1) => "fp4-e2m1",
            Self::Float(FloatFormat::Bf16) => "bf16",
            Self::Float(FloatFormat::Fp16) => "fp16",
            Self::Mx(MxElement::Fp8E4M3) => "mxfp8-e4m3",
            Self::Mx(MxElement::Fp8E5M2) => "mxfp8-e5m2",
            Self::Mx(MxElement::Fp6E3M2) => "mxfp6-e3m2",
            Self::Mx(MxElement::Fp6E2M3) => "mxfp6-e2m3",
            Self::Mx(MxElement::Fp4E2M1) => "mxfp4",
            Self::Mx(MxElement::Int8) => "mxint8",
            Self::Nvfp4 => "nvfp4",
            Self::Ternary => "ternary",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Int { bits } | Self::UInt { bits } | Self::IntAsym { bits } => {
                write!(f, "{}{bits}", self.name())
            }
            _ => f.write_str(self.name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_and_prints_back() {
        for name in FORMAT_NAMES {
            let f = Format::parse(name, None).unwrap();
            assert_eq!(f.name(), name);
        }
    }

    #[test]
    fn every_format_is_described_once_and_consistently() {
        let mut names = FORMAT_NAMES.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Format::ALL.len(), "names are unique");
        for f in Format::ALL {
            let i = f.info();
            assert_eq!(format_info(i.name), Some(i));
            assert!(!i.help.is_empty(), "{} has help", i.name);
            assert_eq!(i.takes_bits, matches!(f, Format::Int { .. } | Format::UInt { .. } | Format::IntAsym { .. }));
            assert!(!(i.uniform_grid && i.own_scales), "{}", i.name);
            assert!(i.block.is_none() || i.own_scales, "{}: a block format sets its own scales", i.name);
            assert!(!i.two_level || i.takes_bits, "{}", i.name);
        }
        assert_eq!(format_info("mxfp4").and_then(|i| i.block), Some(32));
        assert_eq!(format_info("nvfp4").and_then(|i| i.block), Some(16));
        assert!(format_info("int5").is_none());
    }

    #[test]
    fn absurd_bits_are_rejected_with_the_reason() {
        assert!(Format::parse("int", Some(0)).unwrap_err().message.contains("2 to 16"));
        assert!(Format::parse("int", Some(33)).unwrap_err().message.contains("2 to 16"));
        assert!(Format::parse("fp8-e4m3", Some(4)).unwrap_err().message.contains("does not apply"));
        assert!(Format::parse("fp8-e4m3", Some(8)).is_ok());
        assert!(Format::parse("int5", None).unwrap_err().message.contains("unknown format"));
    }
}
