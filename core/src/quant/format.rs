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

/// Every CLI name, in the order `--help` lists them.
pub const FORMAT_NAMES: [&str; 18] = [
    "int",
    "uint",
    "int-asym",
    "fp8-e4m3",
    "fp8-e5m2",
    "fp6-e3m2",
    "fp6-e2m3",
    "fp4-e2m1",
    "bf16",
    "fp16",
    "mxfp8-e4m3",
    "mxfp8-e5m2",
    "mxfp6-e3m2",
    "mxfp6-e2m3",
    "mxfp4",
    "mxint8",
    "nvfp4",
    "ternary",
];

impl Format {
    /// Parses a CLI name; `bits` is required-or-defaulted (8) for integer formats and must match otherwise.
    pub fn parse(name: &str, bits: Option<u32>) -> Result<Self> {
        let int_bits = || -> Result<u32> {
            let b = bits.unwrap_or(8);
            if !(2..=16).contains(&b) {
                return Err(Error::param(format!("{name} takes 2 to 16 bits, not {b}")));
            }
            Ok(b)
        };
        let f = match name.trim() {
            "int" => Self::Int { bits: int_bits()? },
            "uint" => Self::UInt { bits: int_bits()? },
            "int-asym" => Self::IntAsym { bits: int_bits()? },
            "fp8-e4m3" => Self::Float(FloatFormat::Fp8E4M3),
            "fp8-e5m2" => Self::Float(FloatFormat::Fp8E5M2),
            "fp6-e3m2" => Self::Float(FloatFormat::Fp6E3M2),
            "fp6-e2m3" => Self::Float(FloatFormat::Fp6E2M3),
            "fp4-e2m1" => Self::Float(FloatFormat::Fp4E2M1),
            "bf16" => Self::Float(FloatFormat::Bf16),
            "fp16" => Self::Float(FloatFormat::Fp16),
            "mxfp8-e4m3" => Self::Mx(MxElement::Fp8E4M3),
            "mxfp8-e5m2" => Self::Mx(MxElement::Fp8E5M2),
            "mxfp6-e3m2" => Self::Mx(MxElement::Fp6E3M2),
            "mxfp6-e2m3" => Self::Mx(MxElement::Fp6E2M3),
            "mxfp4" => Self::Mx(MxElement::Fp4E2M1),
            "mxint8" => Self::Mx(MxElement::Int8),
            "nvfp4" => Self::Nvfp4,
            "ternary" => Self::Ternary,
            other => {
                return Err(Error::param(format!(
                    "unknown format `{other}` (expected one of {})",
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
    pub fn name(&self) -> &'static str {
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
    fn absurd_bits_are_rejected_with_the_reason() {
        assert!(Format::parse("int", Some(0)).unwrap_err().message.contains("2 to 16"));
        assert!(Format::parse("int", Some(33)).unwrap_err().message.contains("2 to 16"));
        assert!(Format::parse("fp8-e4m3", Some(4)).unwrap_err().message.contains("does not apply"));
        assert!(Format::parse("fp8-e4m3", Some(8)).is_ok());
        assert!(Format::parse("int5", None).unwrap_err().message.contains("unknown format"));
    }
}
