//! IDX files (the MNIST format, http://yann.lecun.com/exdb/mnist/): two zero bytes, a type code (0x08 =
//! unsigned byte, 0x09 signed byte, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64), the number of dimensions, each
//! dimension as a big-endian u32, then the data, big-endian.

use super::TensorEntry;
use super::dtype::DType;
use crate::error::{Error, Result};
use std::borrow::Cow;

pub fn looks_like(bytes: &[u8]) -> bool {
    bytes.len() >= 4
        && bytes[0] == 0
        && bytes[1] == 0
        && matches!(bytes[2], 0x08 | 0x09 | 0x0B | 0x0C | 0x0D | 0x0E)
        && (1..=4).contains(&bytes[3])
}

pub fn read<'a>(name: &str, bytes: &'a [u8]) -> Result<TensorEntry<'a>> {
    read_with(name, bytes, &super::Budget::new(Default::default()))
}

/// Reads an IDX file; its rank (at most 4) and sizes are bounded by the format itself.
pub fn read_with<'a>(name: &str, bytes: &'a [u8], _budget: &super::Budget) -> Result<TensorEntry<'a>> {
    if !looks_like(bytes) {
        return Err(Error::malformed("not an IDX file (bad magic)"));
    }
    let dtype = match bytes[2] {
        0x08 => DType::U8,
        0x09 => DType::I8,
        0x0B => DType::I16,
        0x0C => DType::I32,
        0x0D => DType::F32,
        _ => DType::F64,
    };
    let rank = bytes[3] as usize;
    let head = 4 + 4 * rank;
    if bytes.len() < head {
        return Err(Error::malformed("IDX header is truncated"));
    }
    let shape: Vec<usize> = (0..rank)
        .map(|i| u32::from_be_bytes(bytes[4 + 4 * i..8 + 4 * i].try_into().expect("4 bytes")) as usize)
        .collect();
    let want = shape
        .iter()
        .try_fold(dtype.size(), |a, &d| a.checked_mul(d))
        .ok_or_else(|| Error::malformed("IDX shape overflows"))?;
    if bytes.len() - head < want {
        return Err(Error::malformed(format!(
            "IDX data is truncated: shape {shape:?} needs {want} bytes, {} remain",
            bytes.len() - head
        )));
    }
    Ok(TensorEntry {
        name: name.to_string(),
        dtype,
        shape,
        data: Cow::Borrowed(&bytes[head..head + want]),
        big_endian: true,
    })
}
