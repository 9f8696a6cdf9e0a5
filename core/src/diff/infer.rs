//! The format a float tensor's values imply: a quantized tensor written back as floats keeps only a few
//! distinct values per group, repeated. Counted per row (axis 0) and over the whole tensor; a grid is
//! recognised when it has at most 256 levels and they cover at least twice as many elements.

use serde::Serialize;
use std::collections::HashSet;

/// Distinct values counted up to this many (beyond it the tensor is taken as unquantized).
const CAP: usize = 1 << 16;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Inferred {
    /// Distinct values in the whole tensor (at most 65,536 counted).
    pub levels: usize,
    /// The most distinct values in one row (axis 0).
    pub row_levels: usize,
    /// ⌈log2 levels⌉ of the grid that explains the values, when one does.
    pub bits: Option<u32>,
    /// `tensor` (one grid), `channel:0` (a grid per row) or `float` (no grid of ≤ 8 bits per row).
    pub granularity: String,
}

fn distinct(x: &[f32]) -> usize {
    let mut s = HashSet::new();
    for v in x {
        // +0 and −0 are one value.
        s.insert(if *v == 0.0 { 0 } else { v.to_bits() });
        if s.len() > CAP {
            break;
        }
    }
    s.len()
}

fn bits_for(levels: usize) -> u32 {
    (levels.max(2) as f64).log2().ceil() as u32
}

pub fn infer(x: &[f32], shape: &[usize]) -> Inferred {
    let levels = distinct(x);
    let rows = shape.first().copied().unwrap_or(1).max(1);
    let row_levels = if shape.len() >= 2 && x.len().is_multiple_of(rows) {
        x.chunks(x.len() / rows).map(distinct).max().unwrap_or(0)
    } else {
        levels
    };
    // A grid shows as values repeating: fewer distinct values than half the elements they cover.
    let row_len = x.len() / rows;
    let (bits, granularity) = if levels <= 256 && 2 * levels <= x.len() {
        (Some(bits_for(levels)), "tensor")
    } else if row_levels <= 256 && shape.len() >= 2 && 2 * row_levels <= row_len {
        (Some(bits_for(row_levels)), "channel:0")
    } else {
        (None, "float")
    };
    Inferred { levels, row_levels, bits, granularity: granularity.into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_per_row_int4_tensor_reads_as_four_bits_per_row() {
        // Row r holds multiples of its own step: 16 levels per row, many over the tensor.
        let x: Vec<f32> =
            (0..64).flat_map(|r| (0..64).map(move |j| ((j % 16) as f32 - 8.0) * (1.0 + r as f32 * 0.013))).collect();
        let i = infer(&x, &[64, 64]);
        assert_eq!((i.row_levels, i.bits, i.granularity.as_str()), (16, Some(4), "channel:0"));
        let t: Vec<f32> = (0..4096).map(|j| (j % 7) as f32).collect();
        assert_eq!(infer(&t, &[64, 64]).bits, Some(3));
        let f: Vec<f32> = (0..4096).map(|j| (j as f32).sin()).collect();
        assert_eq!(infer(&f, &[64, 64]).granularity, "float");
    }
}
