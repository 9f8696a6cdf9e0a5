//! A checkpoint's float tensors as the diff sees them: plain float tensors as they are, and quantized
//! encodings — an integer `X_q` (or `X_quantized`) with a float `X_scale` and optionally an integer
//! `X_zero_point`, scale and zero point broadcast numpy-style — dequantized to x = (q − zp)·scale, with the
//! format their scales imply.

use crate::error::{Error, Result};
use crate::readers::TensorEntry;
use serde::Serialize;

/// How a tensor is stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Encoding {
    /// The integer tensor's dtype (`I8`, `U8`, …) and width.
    pub dtype: String,
    pub bits: u32,
    /// `tensor`, or `channel:K` — the axis the scales vary along.
    pub granularity: String,
    pub scales: usize,
    /// Whether a zero point is stored (asymmetric) and whether every zero point is 0.
    pub zero_point: bool,
    pub symmetric: bool,
    /// The integer codes used: the smallest and largest (−127…127 is the narrow range).
    pub code_min: i64,
    pub code_max: i64,
    /// The stored tensors it was read from.
    pub tensors: Vec<String>,
}

/// One comparable tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct Side {
    pub name: String,
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
    pub encoding: Option<Encoding>,
}

/// Strides of `shape` (row-major) with broadcast axes (size 1, or missing on the left) at stride 0.
fn broadcast_strides(from: &[usize], to: &[usize]) -> Option<Vec<usize>> {
    if from.len() > to.len() {
        return None;
    }
    let pad = to.len() - from.len();
    let mut strides = vec![0; to.len()];
    let mut s = 1;
    for k in (0..from.len()).rev() {
        let (f, t) = (from[k], to[k + pad]);
        if f != t && f != 1 {
            return None;
        }
        strides[k + pad] = if f == 1 { 0 } else { s };
        s *= f;
    }
    Some(strides)
}

/// For every element of `to`, the index into a tensor of shape `from` broadcast to it.
fn broadcast_index(from: &[usize], to: &[usize]) -> Option<Vec<usize>> {
    let strides = broadcast_strides(from, to)?;
    let n: usize = to.iter().product();
    let mut idx = vec![0usize; n];
    let mut pos = vec![0usize; to.len()];
    for slot in idx.iter_mut() {
        *slot = pos.iter().zip(&strides).map(|(p, s)| p * s).sum();
        for k in (0..to.len()).rev() {
            pos[k] += 1;
            if pos[k] < to[k] {
                break;
            }
            pos[k] = 0;
        }
    }
    Some(idx)
}

fn int_bits(t: &TensorEntry<'_>) -> Option<u32> {
    use crate::readers::DType::*;
    match t.dtype {
        I8 | U8 => Some(8),
        I16 | U16 => Some(16),
        I32 | U32 => Some(32),
        _ => None,
    }
}

/// The float tensors of `c`, quantized encodings dequantized.
pub fn sides(tensors: &[TensorEntry<'_>]) -> Result<Vec<Side>> {
    let find = |n: &str| tensors.iter().find(|t| t.name == n);
    let mut consumed = std::collections::HashSet::new();
    let mut out = Vec::new();
    for t in tensors {
        let Some(bits) = int_bits(t) else { continue };
        let Some(base) = t.name.strip_suffix("_quantized").or_else(|| t.name.strip_suffix("_q")) else { continue };
        let Some(scale) = find(&format!("{base}_scale")).filter(|s| s.dtype.is_float()) else { continue };
        let zp = find(&format!("{base}_zero_point")).filter(|z| int_bits(z).is_some());
        let named = |e: Error| Error { message: format!("`{}`: {}", t.name, e.message), ..e };
        let q = t.to_f32().map_err(named)?;
        let s = scale.to_f32().map_err(named)?;
        let si = broadcast_index(&scale.shape, &t.shape).ok_or_else(|| {
            Error::tensor(format!(
                "`{}` of shape {:?} does not broadcast to `{}` {:?}",
                scale.name, scale.shape, t.name, t.shape
            ))
        })?;
        let (z, zi) = match zp {
            Some(z) => (
                z.to_f32().map_err(named)?,
                Some(
                    broadcast_index(&z.shape, &t.shape)
                        .ok_or_else(|| Error::tensor(format!("`{}` does not broadcast to `{}`", z.name, t.name)))?,
                ),
            ),
            None => (Vec::new(), None),
        };
        let values: Vec<f32> = (0..q.len())
            .map(|i| {
                let zero = zi.as_ref().map_or(0.0, |zi| z[zi[i]]);
                (q[i] - zero) * s[si[i]]
            })
            .collect();
        let varying: Vec<usize> = (0..scale.shape.len()).filter(|&k| scale.shape[k] > 1).collect();
        let pad = t.shape.len() - scale.shape.len();
        let granularity = match varying.as_slice() {
            [] => "tensor".to_string(),
            [k] => format!("channel:{}", k + pad),
            _ => "block".to_string(),
        };
        let (lo, hi) = q.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &v| (l.min(v), h.max(v)));
        let mut tensors = vec![t.name.clone(), scale.name.clone()];
        consumed.insert(t.name.clone());
        consumed.insert(scale.name.clone());
        if let Some(z) = zp {
            tensors.push(z.name.clone());
            consumed.insert(z.name.clone());
        }
        out.push(Side {
            name: base.to_string(),
            shape: t.shape.clone(),
            values,
            encoding: Some(Encoding {
                dtype: t.dtype.name().to_string(),
                bits,
                granularity,
                scales: s.len(),
                zero_point: zp.is_some(),
                symmetric: z.iter().all(|&v| v == 0.0),
                code_min: lo as i64,
                code_max: hi as i64,
                tensors,
            }),
        });
    }
    for t in tensors {
        if t.dtype.is_float() && !consumed.contains(&t.name) && t.numel() > 1 {
            out.push(Side { name: t.name.clone(), shape: t.shape.clone(), values: t.to_f32()?, encoding: None });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasting_follows_numpy() {
        assert_eq!(broadcast_index(&[2, 1], &[2, 3]).unwrap(), vec![0, 0, 0, 1, 1, 1]);
        assert_eq!(broadcast_index(&[1, 3], &[2, 3]).unwrap(), vec![0, 1, 2, 0, 1, 2]);
        assert_eq!(broadcast_index(&[3], &[2, 3]).unwrap(), vec![0, 1, 2, 0, 1, 2]);
        assert_eq!(broadcast_index(&[], &[2, 2]).unwrap(), vec![0; 4]);
        assert!(broadcast_index(&[2], &[2, 3]).is_none());
    }
}
