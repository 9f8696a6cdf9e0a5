//! NumPy `.npy` (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html): magic `\x93NUMPY`,
//! version, a little-endian header length (u16 for v1, u32 for v2/v3), a Python-literal dict
//! `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`, then the raw data.

use super::TensorEntry;
use super::dtype::DType;
use super::limits::{Budget, checked_numel};
use crate::error::{Error, Result};
use std::borrow::Cow;

pub const MAGIC: &[u8] = b"\x93NUMPY";
/// Largest header accepted.
const MAX_HEADER: usize = 1 << 20;

fn descr_dtype(descr: &str) -> Result<(DType, bool)> {
    // The first character (not byte: the header is text an attacker writes) is the byte-order mark.
    let (order, rest) = descr.split_at(descr.chars().next().map_or(0, char::len_utf8));
    let big = match order {
        "<" | "|" | "=" => false,
        ">" => true,
        _ => {
            return Err(Error::unsupported(format!("npy descr `{descr}` has no byte-order mark")));
        }
    };
    let dt = match rest {
        "f8" => DType::F64,
        "f4" => DType::F32,
        "f2" => DType::F16,
        "i8" => DType::I64,
        "i4" => DType::I32,
        "i2" => DType::I16,
        "i1" => DType::I8,
        "u8" => DType::U64,
        "u4" => DType::U32,
        "u2" => DType::U16,
        "u1" => DType::U8,
        "b1" => DType::Bool,
        _ => {
            return Err(Error::unsupported(format!("npy dtype `{descr}` is not a numeric type lowbit reads")));
        }
    };
    Ok((dt, big))
}

/// The value after `'key':` in the header dict, up to the next top-level comma or closing brace.
fn field<'h>(header: &'h str, key: &str) -> Result<&'h str> {
    let pat = format!("'{key}'");
    let at = header.find(&pat).ok_or_else(|| Error::malformed(format!("npy header has no `{key}`: {header}")))?;
    let rest = header[at + pat.len()..].trim_start();
    let rest = rest
        .strip_prefix(':')
        .ok_or_else(|| Error::malformed(format!("npy header: no `:` after `{key}`")))?
        .trim_start();
    let end = if rest.starts_with('(') { rest.find(')').map(|i| i + 1) } else { rest.find([',', '}']) }
        .ok_or_else(|| Error::malformed(format!("npy header: `{key}` is not terminated")))?;
    Ok(rest[..end].trim())
}

/// Where the array's data starts (after magic, version, length and header), when the prefix is readable.
pub fn data_offset(bytes: &[u8]) -> Option<usize> {
    match *bytes.get(6)? {
        1 => Some(10 + u16::from_le_bytes([*bytes.get(8)?, *bytes.get(9)?]) as usize),
        2 | 3 => Some(12 + u32::from_le_bytes(bytes.get(8..12)?.try_into().ok()?) as usize),
        _ => None,
    }
}

/// Parses one `.npy` file into a tensor named `name`.
pub fn read<'a>(name: &str, bytes: &'a [u8]) -> Result<TensorEntry<'a>> {
    read_with(name, bytes, &Budget::new(Default::default()))
}

/// Parses one `.npy` file within `budget` (header size, rank, and the copy a Fortran-order array needs).
pub fn read_with<'a>(name: &str, bytes: &'a [u8], budget: &Budget) -> Result<TensorEntry<'a>> {
    if bytes.len() < 10 || !bytes.starts_with(MAGIC) {
        return Err(Error::malformed("not an npy file (no \\x93NUMPY magic)"));
    }
    let major = bytes[6];
    let (hlen, start) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err(Error::malformed("npy v2 header length is truncated"));
            }
            (u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes")) as usize, 12)
        }
        v => {
            return Err(Error::unsupported(format!("npy format version {v} is not known")));
        }
    };
    if hlen as u64 > budget.limits.max_header_bytes.min(MAX_HEADER as u64) {
        return Err(Error::limit(format!("npy header claims {hlen} bytes (limit {MAX_HEADER})")));
    }
    if start + hlen > bytes.len() {
        return Err(Error::malformed(format!("npy header claims {hlen} bytes; the file has {}", bytes.len())));
    }
    let header =
        std::str::from_utf8(&bytes[start..start + hlen]).map_err(|_| Error::malformed("npy header is not text"))?;
    let descr = field(header, "descr")?.trim_matches(['\'', '"']);
    let (dtype, big_endian) = descr_dtype(descr)?;
    let fortran = match field(header, "fortran_order")? {
        "True" => true,
        "False" => false,
        v => {
            return Err(Error::malformed(format!("npy fortran_order `{v}` is not True or False")));
        }
    };
    let shape_txt = field(header, "shape")?;
    let inner = shape_txt
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .ok_or_else(|| Error::malformed(format!("npy shape `{shape_txt}` is not a tuple")))?;
    let shape = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.trim_end_matches('L').parse::<usize>().map_err(|_| Error::malformed(format!("npy shape `{shape_txt}`")))
        })
        .collect::<Result<Vec<usize>>>()?;
    budget.rank(shape.len(), || format!("npy array `{name}`"))?;
    let dims: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
    let (_, want) = checked_numel(&dims, dtype.size(), || format!("npy array `{name}`"))?;
    let data = &bytes[start + hlen..];
    if (data.len() as u64) < want {
        return Err(Error::malformed(format!(
            "npy data is truncated: shape {shape:?} of {dtype} needs {want} bytes, the file has {}",
            data.len()
        )));
    }
    let data = &data[..want as usize];
    let data = if fortran && shape.len() > 1 {
        budget.charge(want, || format!("npy array `{name}` (Fortran order)"))?;
        Cow::Owned(fortran_to_c(data, &shape, dtype.size()))
    } else {
        Cow::Borrowed(data)
    };
    Ok(TensorEntry { name: name.to_string(), dtype, shape, data, big_endian })
}

/// Reorders column-major element bytes into row-major order.
fn fortran_to_c(data: &[u8], shape: &[usize], size: usize) -> Vec<u8> {
    let numel: usize = shape.iter().product();
    let mut out = vec![0u8; data.len()];
    let mut idx = vec![0usize; shape.len()];
    for c in 0..numel {
        // Fortran offset of the C-order index `idx`: first axis fastest.
        let mut f = 0;
        let mut stride = 1;
        for (i, &d) in idx.iter().zip(shape) {
            f += i * stride;
            stride *= d;
        }
        out[c * size..(c + 1) * size].copy_from_slice(&data[f * size..(f + 1) * size]);
        for ax in (0..shape.len()).rev() {
            idx[ax] += 1;
            if idx[ax] < shape[ax] {
                break;
            }
            idx[ax] = 0;
        }
    }
    out
}

/// Writes an f32 tensor as `.npy` v1 (used by tests and exports).
pub fn write_f32(shape: &[usize], data: &[f32]) -> Vec<u8> {
    write("<f4", shape, data.iter().flat_map(|v| v.to_le_bytes()))
}

/// Writes an i64 tensor (class labels) as `.npy` v1.
pub fn write_i64(shape: &[usize], data: &[i64]) -> Vec<u8> {
    write("<i8", shape, data.iter().flat_map(|v| v.to_le_bytes()))
}

/// An `.npz` of `.npy` members (stored, as `numpy.savez` writes them).
pub fn write_npz(members: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let named: Vec<(String, &[u8])> = members.iter().map(|(n, b)| (format!("{n}.npy"), b.as_slice())).collect();
    super::zip::write_stored(&named)
}

fn write(descr: &str, shape: &[usize], data: impl Iterator<Item = u8>) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_txt = if dims.len() == 1 { format!("({},)", dims[0]) } else { format!("({})", dims.join(", ")) };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_txt}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_reads_fortran_order() {
        let bytes = write_f32(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let t = read("x", &bytes).unwrap();
        assert_eq!(t.shape, vec![2, 3]);
        assert_eq!(t.to_f32().unwrap(), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let mut fb = bytes.clone();
        let at = fb.windows(5).position(|w| w == b"False").unwrap();
        fb[at..at + 5].copy_from_slice(b"True ");
        // Column-major [[1,3,5],[2,4,6]] stored as 1..6.
        let t = read("x", &fb).unwrap();
        assert_eq!(t.to_f32().unwrap(), vec![1.0, 3.0, 5.0, 2.0, 4.0, 6.0]);
    }

    #[test]
    fn truncated_and_lying_headers_are_errors() {
        let bytes = write_f32(&[4], &[1.0; 4]);
        assert!(read("x", &bytes[..bytes.len() - 1]).unwrap_err().message.contains("truncated"));
        assert!(read("x", &bytes[..8]).is_err());
        let mut lie = bytes.clone();
        lie[8] = 0xFF;
        lie[9] = 0xFF;
        assert!(read("x", &lie).unwrap_err().message.contains("claims"));
        let mut odd = bytes.clone();
        let at = odd.windows(3).position(|w| w == b"<f4").unwrap();
        odd[at..at + 3].copy_from_slice(b"<c8");
        assert!(read("x", &odd).unwrap_err().message.contains("<c8"));
    }
}
