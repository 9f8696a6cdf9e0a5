//! Checkpoint and tensor file readers that work on byte slices, so the same code runs natively (on a memory
//! map) and in the browser (on a dropped file's bytes). [`read`] detects the format from the content, never
//! from the file name; tensors borrow from the input where the format allows it and decode to f32 on demand.

pub mod dtype;
pub mod idx;
pub mod npy;
pub mod onnx;
pub mod pickle;
pub mod pytorch;
pub mod safetensors;
pub mod zip;

pub use dtype::DType;

use crate::error::{Error, Result};
use std::borrow::Cow;
use std::fmt;

/// The container formats lowbit reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    Safetensors,
    Npy,
    Npz,
    Onnx,
    PyTorch,
    Idx,
}

impl FileFormat {
    pub fn name(self) -> &'static str {
        match self {
            Self::Safetensors => "safetensors",
            Self::Npy => "npy",
            Self::Npz => "npz",
            Self::Onnx => "onnx",
            Self::PyTorch => "pytorch",
            Self::Idx => "idx",
        }
    }
}

impl fmt::Display for FileFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One tensor of a file: its name, stored type, shape and (undecoded) bytes.
#[derive(Debug, Clone)]
pub struct TensorEntry<'a> {
    pub name: String,
    pub dtype: DType,
    pub shape: Vec<usize>,
    pub data: Cow<'a, [u8]>,
    pub big_endian: bool,
}

impl TensorEntry<'_> {
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
    /// The values as f32 (integers converted, F16/BF16/F8 widened exactly).
    pub fn to_f32(&self) -> Result<Vec<f32>> {
        let mut out = Vec::new();
        self.dtype
            .decode(&self.data, self.big_endian, &mut out)
            .map_err(|e| e.context(format!("tensor `{}`", self.name)))?;
        Ok(out)
    }
}

/// The tensors of one file.
#[derive(Debug, Clone)]
pub struct Checkpoint<'a> {
    pub format: FileFormat,
    pub tensors: Vec<TensorEntry<'a>>,
}

/// Detects the format from the first bytes.
pub fn detect(bytes: &[u8]) -> Option<FileFormat> {
    if bytes.starts_with(npy::MAGIC) {
        Some(FileFormat::Npy)
    } else if zip::looks_like(bytes) {
        // npz: every member is an .npy; PyTorch: has a data.pkl.
        match zip::entries(bytes) {
            Ok(es) if es.iter().any(|e| e.name.ends_with("data.pkl")) => Some(FileFormat::PyTorch),
            _ => Some(FileFormat::Npz),
        }
    } else if idx::looks_like(bytes) {
        Some(FileFormat::Idx)
    } else if safetensors::looks_like(bytes) {
        Some(FileFormat::Safetensors)
    } else if onnx::looks_like(bytes) {
        Some(FileFormat::Onnx)
    } else {
        None
    }
}

/// Reads every tensor of a file, whatever its format.
pub fn read(bytes: &[u8]) -> Result<Checkpoint<'_>> {
    match detect(bytes) {
        Some(FileFormat::Safetensors) => safetensors::read(bytes),
        Some(FileFormat::Npy) => Ok(Checkpoint { format: FileFormat::Npy, tensors: vec![npy::read("array", bytes)?] }),
        Some(FileFormat::Npz) => {
            let mut tensors = Vec::new();
            for e in zip::entries(bytes)? {
                let name = e.name.strip_suffix(".npy").unwrap_or(&e.name).to_string();
                let data = zip::data(bytes, &e)?;
                let t = match data {
                    Cow::Borrowed(b) => npy::read(&name, b)?,
                    Cow::Owned(b) => {
                        let t = npy::read(&name, &b)?;
                        let (name, dtype, shape, big_endian) = (t.name, t.dtype, t.shape, t.big_endian);
                        TensorEntry { name, dtype, shape, big_endian, data: Cow::Owned(t.data.into_owned()) }
                    }
                };
                tensors.push(t);
            }
            Ok(Checkpoint { format: FileFormat::Npz, tensors })
        }
        Some(FileFormat::Onnx) => onnx::read(bytes),
        Some(FileFormat::PyTorch) => pytorch::read(bytes, zip::entries(bytes)?),
        Some(FileFormat::Idx) => Ok(Checkpoint { format: FileFormat::Idx, tensors: vec![idx::read("data", bytes)?] }),
        None if pytorch::looks_like_legacy(bytes) => Err(Error::unsupported(
            "this is a legacy (pre-1.6) torch.save pickle; lowbit reads the zip format (torch.save's default since 1.6)",
        )),
        None if bytes.is_empty() => Err(Error::malformed("the file is empty")),
        None => Err(Error::malformed(
            "not a recognised tensor file (expected safetensors, npy, npz, ONNX, a PyTorch zip checkpoint or IDX)",
        )),
    }
}
