//! Checkpoint and tensor file readers that work on byte slices, so the same code runs natively (on a memory
//! map) and in the browser (on a dropped file's bytes). [`read`] detects the format from the content, never
//! from the file name; tensors borrow from the input where the format allows it and decode to f32 on demand.

pub mod dtype;
pub mod idx;
pub mod limits;
pub mod npy;
pub mod onnx;
pub mod pickle;
pub mod pytorch;
pub mod safetensors;
pub mod zip;

pub use dtype::DType;
pub use limits::{Budget, Limits};

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
    /// Decodes the values `chunk` elements at a time into one reused buffer, so a tensor's f32 copy never
    /// has to exist whole (statistics at upload); `f` may stop the walk by returning an error.
    pub fn for_each_chunk(&self, chunk: usize, mut f: impl FnMut(&[f32]) -> Result<()>) -> Result<()> {
        let step = chunk.max(1).saturating_mul(self.dtype.size());
        let mut buf = Vec::with_capacity(chunk.max(1));
        for bytes in self.data.chunks(step) {
            buf.clear();
            self.dtype
                .decode(bytes, self.big_endian, &mut buf)
                .map_err(|e| e.context(format!("tensor `{}`", self.name)))?;
            f(&buf)?;
        }
        Ok(())
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
    detect_with(bytes, &Limits::default())
}

fn detect_with(bytes: &[u8], limits: &Limits) -> Option<FileFormat> {
    if bytes.starts_with(npy::MAGIC) {
        Some(FileFormat::Npy)
    } else if zip::looks_like(bytes) {
        // npz: every member is an .npy; PyTorch: has a data.pkl.
        match zip::entries(bytes, limits) {
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

/// Reads every tensor of a file, whatever its format, within the default [`Limits`].
pub fn read(bytes: &[u8]) -> Result<Checkpoint<'_>> {
    read_with(bytes, &Limits::default())
}

/// Reads every tensor of a file within `limits`; a file that would cost more is refused with
/// [`crate::ErrorKind::LimitExceeded`] before the work is done.
pub fn read_with<'a>(bytes: &'a [u8], limits: &Limits) -> Result<Checkpoint<'a>> {
    let budget = Budget::new(*limits);
    let c = match detect_with(bytes, limits) {
        Some(FileFormat::Safetensors) => safetensors::read_with(bytes, &budget)?,
        Some(FileFormat::Npy) => {
            Checkpoint { format: FileFormat::Npy, tensors: vec![npy::read_with("array", bytes, &budget)?] }
        }
        Some(FileFormat::Npz) => npz(bytes, &budget)?,
        Some(FileFormat::Onnx) => onnx::read_with(bytes, &budget)?,
        Some(FileFormat::PyTorch) => pytorch::read_with(bytes, zip::entries(bytes, limits)?, &budget)?,
        Some(FileFormat::Idx) => {
            Checkpoint { format: FileFormat::Idx, tensors: vec![idx::read_with("data", bytes, &budget)?] }
        }
        None if pytorch::looks_like_legacy(bytes) => {
            return Err(Error::unsupported(
                "this is a legacy (pre-1.6) torch.save pickle; lowbit reads the zip format (torch.save's default since 1.6)",
            ));
        }
        None if bytes.is_empty() => return Err(Error::malformed("the file is empty")),
        None => {
            return Err(Error::malformed(
                "not a recognised tensor file (expected safetensors, npy, npz, ONNX, a PyTorch zip checkpoint or IDX)",
            ));
        }
    };
    budget.tensors(c.tensors.len())?;
    Ok(c)
}

/// An `.npz`: every member one `.npy`, inflated at most once and holding exactly its array.
fn npz<'a>(bytes: &'a [u8], budget: &Budget) -> Result<Checkpoint<'a>> {
    let entries = zip::entries(bytes, &budget.limits)?;
    budget.tensors(entries.len())?;
    let mut tensors = Vec::with_capacity(entries.len());
    for e in entries {
        let name = e.name.strip_suffix(".npy").unwrap_or(&e.name).to_string();
        let t = match zip::data(bytes, &e, budget)? {
            Cow::Borrowed(b) => npy::read_with(&name, b, budget)?,
            Cow::Owned(mut b) => {
                let t = npy::read_with(&name, &b, budget)?;
                let at = npy::data_offset(&b).unwrap_or(0);
                let want = t.data.len();
                if at + want != b.len() {
                    return Err(Error::malformed(format!(
                        "npz member `{}` holds {} bytes; its array needs {}",
                        e.name,
                        b.len(),
                        at + want
                    )));
                }
                let (name, dtype, shape, big_endian) = (t.name, t.dtype, t.shape, t.big_endian);
                let reordered = if let Cow::Owned(v) = t.data { Some(v) } else { None };
                let data = reordered.unwrap_or_else(|| {
                    b.drain(..at);
                    b
                });
                TensorEntry { name, dtype, shape, big_endian, data: Cow::Owned(data) }
            }
        };
        tensors.push(t);
    }
    Ok(Checkpoint { format: FileFormat::Npz, tensors })
}
