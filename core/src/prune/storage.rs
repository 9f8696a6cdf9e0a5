//! What a sparse tensor costs to store, under the formats people use (ALGORITHMS.md §5.3, §6.2, §11.3):
//! dense, bitmask, CSR, relative indexing with b_i-bit gaps and padding zeros (Deep Compression / EIE),
//! SCNN's 4-bit zero run-lengths, one index per kept group (the index-saving effect of coarse sparsity),
//! and the N:M compressed layout. Values cost `value_bits` each (32 for f32, or a quantization format's
//! element bits); `extra_bits` (scales, zero points) are added to every scheme.

use super::{Pattern, group_ids};
use crate::error::Result;
use serde::Serialize;

/// The cost of one scheme.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StorageCost {
    pub scheme: String,
    pub bits: u64,
    pub bits_per_param: f64,
}

/// Entries a relative-index stream needs for kept positions `kept` (ascending) with `index_bits`-bit gaps:
/// one per kept value plus one padding entry for every run of zeros longer than the index can say.
pub fn relative_entries(kept: impl Iterator<Item = usize>, index_bits: u32) -> u64 {
    let max_gap = (1u64 << index_bits) - 1;
    let (mut entries, mut prev) = (0u64, None::<usize>);
    for i in kept {
        let mut gap = match prev {
            None => i as u64,
            Some(p) => (i - p - 1) as u64,
        };
        while gap > max_gap {
            entries += 1; // a padding zero stands in for max_gap + 1 positions
            gap -= max_gap + 1;
        }
        entries += 1;
        prev = Some(i);
    }
    entries
}

fn bits_for(n: usize) -> u64 {
    (usize::BITS - n.max(1).saturating_sub(1).leading_zeros()).max(1) as u64
}

/// Storage costs of a mask on a shape under every scheme. `pattern` names the groups for group indexing.
pub fn storage_costs(
    mask: &[bool],
    shape: &[usize],
    pattern: Pattern,
    value_bits: f64,
    extra_bits: u64,
    index_bits: u32,
) -> Result<Vec<StorageCost>> {
    let n = mask.len();
    let nnz = mask.iter().filter(|&&m| m).count();
    let vb = |count: u64| (count as f64 * value_bits).ceil() as u64;
    let mut out = Vec::new();
    let mut push = |scheme: &str, bits: u64| {
        let bits = bits + extra_bits;
        out.push(StorageCost { scheme: scheme.to_string(), bits, bits_per_param: bits as f64 / n.max(1) as f64 });
    };
    push("dense", vb(n as u64));
    push("bitmask", n as u64 + vb(nnz as u64));
    let rows = if shape.len() >= 2 { shape[0] } else { 1 };
    let width = n / rows.max(1);
    push("csr", (rows as u64 + 1) * bits_for(nnz + 1) + nnz as u64 * bits_for(width) + vb(nnz as u64));
    let kept = || mask.iter().enumerate().filter(|(_, m)| **m).map(|(i, _)| i);
    let e = relative_entries(kept(), index_bits);
    push(&format!("relative-{index_bits}bit"), e * index_bits as u64 + vb(e));
    // SCNN streams weights per input channel: order (c, k, r, s) for a conv weight.
    let scnn_order: Vec<usize> = if shape.len() == 4 {
        let (k, c, r, s) = (shape[0], shape[1], shape[2], shape[3]);
        let mut pos = Vec::with_capacity(nnz);
        let mut at = 0;
        for cc in 0..c {
            for kk in 0..k {
                for i in 0..r * s {
                    if mask[(kk * c + cc) * r * s + i] {
                        pos.push(at);
                    }
                    at += 1;
                }
            }
        }
        pos
    } else {
        kept().collect()
    };
    let e = relative_entries(scnn_order.into_iter(), 4);
    push("scnn-rle-4bit", e * 4 + vb(e));
    match pattern {
        Pattern::NM { n: keep, m } => {
            // Each group stores exactly N values (zeros padded) and a log2(M)-bit position per value.
            let (_, groups) = group_ids(shape, pattern)?;
            let slots = (groups * keep) as u64;
            push(&format!("nm-{keep}:{m}"), vb(slots) + slots * bits_for(m));
        }
        _ => {
            let (ids, groups) = group_ids(shape, pattern)?;
            let mut kept_group = vec![false; groups];
            for (&g, &m) in ids.iter().zip(mask) {
                kept_group[g as usize] |= m;
            }
            let kept_groups = kept_group.iter().enumerate().filter(|(_, k)| **k).map(|(g, _)| g);
            let entries = relative_entries(kept_groups, index_bits);
            let values: u64 = ids.iter().filter(|&&g| kept_group[g as usize]).count() as u64;
            push(&format!("group-index-{index_bits}bit"), entries * index_bits as u64 + vb(values));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_indexing_pads_long_runs() {
        // Gaps 0, 3, 20 with 4-bit indices (max 15): the 20-gap needs one padding entry (16 positions).
        assert_eq!(relative_entries([0, 4, 25].into_iter(), 4), 4);
        assert_eq!(relative_entries([15].into_iter(), 4), 1);
        assert_eq!(relative_entries([16].into_iter(), 4), 2);
    }

    #[test]
    fn the_spec_formulas_hold_without_padding() {
        // §5.3: fine bits = d·n·(b_v + b_i); coarse with group size G: d·n·b_v + (d·n/G)·b_i. 64×64×3×3 at
        // density 0.5 with every other kernel kept (no run exceeds 15), b_v = 8, b_i = 4.
        let shape = [64, 64, 3, 3];
        let n = 64 * 64 * 9;
        let mask: Vec<bool> = (0..n).map(|i| (i / 9) % 2 == 0).collect();
        let costs = storage_costs(&mask, &shape, Pattern::Kernel, 8.0, 0, 4).unwrap();
        let get = |s: &str| costs.iter().find(|c| c.scheme == s).unwrap().bits;
        let d_n = (n / 2) as u64;
        assert_eq!(get("group-index-4bit"), d_n * 8 + (d_n / 9) * 4);
        assert_eq!(get("relative-4bit"), d_n * (8 + 4));
        assert_eq!(get("dense"), n as u64 * 8);
        assert_eq!(get("bitmask"), n as u64 + d_n * 8);
    }
}
