//! Element types found in checkpoint files, and their decoding to f32.

use crate::error::{Error, Result};
use crate::formats::MiniFloat;
use std::fmt;

/// A stored element type. Names follow safetensors (`F32`, `BF16`, `F8_E4M3`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DType {
    F64,
    F32,
    F16,
    BF16,
    F8E4M3,
    F8E5M2,
    I64,
    I32,
    I16,
    I8,
    U64,
    U32,
    U16,
    U8,
    Bool,
}

impl DType {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Self::F64 | Self::I64 | Self::U64 => 8,
            Self::F32 | Self::I32 | Self::U32 => 4,
            Self::F16 | Self::BF16 | Self::I16 | Self::U16 => 2,
            Self::F8E4M3 | Self::F8E5M2 | Self::I8 | Self::U8 | Self::Bool => 1,
        }
    }

    /// The safetensors name.
    pub fn name(self) -> &'static str {
        match self {
            Self::F64 => "F64",
            Self::F32 => "F32",
            Self::F16 => "F16",
            Self::BF16 => "BF16",
            Self::F8E4M3 => "F8_E4M3",
            Self::F8E5M2 => "F8_E5M2",
            Self::I64 => "I64",
            Self::I32 => "I32",
            Self::I16 => "I16",
            Self::I8 => "I8",
            Self::U64 => "U64",
            Self::U32 => "U32",
            Self::U16 => "U16",
            Self::U8 => "U8",
            Self::Bool => "BOOL",
        }
    }

    /// Parses a safetensors dtype name; the error names dtypes lowbit does not read.
    pub fn from_safetensors(s: &str) -> Result<Self> {
        Ok(match s {
            "F64" => Self::F64,
            "F32" => Self::F32,
            "F16" => Self::F16,
            "BF16" => Self::BF16,
            "F8_E4M3" => Self::F8E4M3,
            "F8_E5M2" => Self::F8E5M2,
            "I64" => Self::I64,
            "I32" => Self::I32,
            "I16" => Self::I16,
            "I8" => Self::I8,
            "U64" => Self::U64,
            "U32" => Self::U32,
            "U16" => Self::U16,
            "U8" => Self::U8,
            "BOOL" => Self::Bool,
            other => {
                return Err(Error::unsupported(format!("dtype `{other}` is not read by lowbit")));
            }
        })
    }

    /// Whether the values are floating point (and so candidates for quantization).
    pub fn is_float(self) -> bool {
        matches!(self, Self::F64 | Self::F32 | Self::F16 | Self::BF16 | Self::F8E4M3 | Self::F8E5M2)
    }

    /// Decodes `bytes` (a whole number of elements, little- or big-endian) to f32.
    pub fn decode(self, bytes: &[u8], big_endian: bool, out: &mut Vec<f32>) -> Result<()> {
        let size = self.size();
        if !bytes.len().is_multiple_of(size) {
            return Err(Error::malformed(format!(
                "{} bytes is not a whole number of {} elements",
                bytes.len(),
                self.name()
            )));
        }
        out.reserve(bytes.len() / size);
        macro_rules! conv {
            ($t:ty, |$v:ident| $e:expr) => {{
                for c in bytes.chunks_exact(size) {
                    let arr: [u8; std::mem::size_of::<$t>()] = c.try_into().expect("chunk has the element size");
                    let $v = if big_endian { <$t>::from_be_bytes(arr) } else { <$t>::from_le_bytes(arr) };
                    out.push($e);
                }
            }};
        }
        match self {
            Self::F32 if !big_endian => {
                out.extend(bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            }
            Self::F32 => conv!(f32, |v| v),
            Self::F64 => conv!(f64, |v| v as f32),
            Self::F16 => conv!(u16, |v| MiniFloat::FP16.decode(v as u32)),
            Self::BF16 => conv!(u16, |v| f32::from_bits((v as u32) << 16)),
            Self::F8E4M3 => out.extend(bytes.iter().map(|&b| MiniFloat::E4M3.decode(b as u32))),
            Self::F8E5M2 => out.extend(bytes.iter().map(|&b| MiniFloat::E5M2.decode(b as u32))),
            Self::I64 => conv!(i64, |v| v as f32),
            Self::I32 => conv!(i32, |v| v as f32),
            Self::I16 => conv!(i16, |v| v as f32),
            Self::I8 => out.extend(bytes.iter().map(|&b| b as i8 as f32)),
            Self::U64 => conv!(u64, |v| v as f32),
            Self::U32 => conv!(u32, |v| v as f32),
            Self::U16 => conv!(u16, |v| v as f32),
            Self::U8 => out.extend(bytes.iter().map(|&b| b as f32)),
            Self::Bool => out.extend(bytes.iter().map(|&b| (b != 0) as u8 as f32)),
        }
        Ok(())
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
