//! Sparsity patterns: which weights are pruned together (ALGORITHMS.md §5.1, §11.3).
//!
//! Conv weights are K×C×R×S, linear weights out×in. A group is pruned whole; saliency is its L1 or L2 norm.

use crate::error::{Error, Result};
use std::fmt;
use std::str::FromStr;

/// A sparsity pattern, by its CLI name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    /// Single weights (0-D).
    Fine,
    /// A row of each R×S kernel, W[k][c][r][:] (S weights); for a linear weight, one input row W[o][:].
    VectorRow,
    /// A column of each R×S kernel, W[k][c][:][s] (R weights); for a linear weight, a column W[:][i].
    VectorCol,
    /// A whole R×S kernel W[k][c][:][:] (conv only).
    Kernel,
    /// A whole filter W[k][:][:][:] (an output channel; a row of a linear weight).
    Filter,
    /// An input channel across all filters, W[:][c][:][:] (a column of a linear weight).
    Channel,
    /// R×C blocks of the weight viewed as a matrix [K, C·R·S] (edge blocks may be smaller).
    Block { rows: usize, cols: usize },
    /// At most N non-zeros in every M consecutive weights along the reduction axis (2:4 by default).
    NM { n: usize, m: usize },
}

impl FromStr for Pattern {
    type Err = Error;
    /// `fine`, `vector` (= `vector:row`), `vector:col`, `kernel`, `filter`, `channel`, `block:RxC`, `nm:N:M`
    /// (also `2:4`-style `nm` alone meaning 2:4).
    fn from_str(s: &str) -> Result<Self> {
        let num = |v: &str| {
            v.trim().parse::<usize>().map_err(|_| Error::param(format!("pattern `{s}`: `{v}` is not a whole number")))
        };
        let p = match s.trim() {
            "fine" => Self::Fine,
            "vector" | "vector:row" => Self::VectorRow,
            "vector:col" => Self::VectorCol,
            "kernel" => Self::Kernel,
            "filter" => Self::Filter,
            "channel" => Self::Channel,
            "nm" | "2:4" => Self::NM { n: 2, m: 4 },
            other => {
                if let Some(b) = other.strip_prefix("block:") {
                    let (r, c) =
                        b.split_once('x').ok_or_else(|| Error::param(format!("pattern `{s}`: write block:RxC")))?;
                    Self::Block { rows: num(r)?, cols: num(c)? }
                } else if let Some(nm) = other.strip_prefix("nm:") {
                    let (n, m) =
                        nm.split_once(':').ok_or_else(|| Error::param(format!("pattern `{s}`: write nm:N:M")))?;
                    Self::NM { n: num(n)?, m: num(m)? }
                } else {
                    return Err(Error::param(format!(
                        "unknown sparsity pattern `{s}` (expected fine, vector, vector:col, kernel, filter, channel, block:RxC or nm:N:M)"
                    )));
                }
            }
        };
        p.validate()?;
        Ok(p)
    }
}

impl Pattern {
    pub fn validate(&self) -> Result<()> {
        match *self {
            Self::Block { rows, cols } if rows == 0 || cols == 0 => {
                Err(Error::param("block pattern needs sizes of at least 1x1"))
            }
            Self::NM { n, m } if m == 0 || n >= m => {
                Err(Error::param(format!("N:M pattern needs N < M (got {n}:{m})")))
            }
            _ => Ok(()),
        }
    }

    /// Whether the target sparsity is set by the pattern itself (N:M).
    pub fn fixed_sparsity(&self) -> Option<f64> {
        match *self {
            Self::NM { n, m } => Some(1.0 - n as f64 / m as f64),
            _ => None,
        }
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fine => f.write_str("fine"),
            Self::VectorRow => f.write_str("vector"),
            Self::VectorCol => f.write_str("vector:col"),
            Self::Kernel => f.write_str("kernel"),
            Self::Filter => f.write_str("filter"),
            Self::Channel => f.write_str("channel"),
            Self::Block { rows, cols } => write!(f, "block:{rows}x{cols}"),
            Self::NM { n, m } => write!(f, "nm:{n}:{m}"),
        }
    }
}

/// Group id of every element, and the number of groups, for a pattern on a shape. N:M groups are the
/// M-runs along each row of the [K, C·R·S] matrix.
pub fn group_ids(shape: &[usize], p: Pattern) -> Result<(Vec<u32>, usize)> {
    let numel: usize = shape.iter().product();
    if numel == 0 {
        return Err(Error::tensor(format!("tensor of shape {shape:?} is empty")));
    }
    if numel > u32::MAX as usize {
        return Err(Error::tensor(format!("tensor of shape {shape:?} has more than 2^32 elements")));
    }
    let rank = shape.len();
    let need = |ok: bool, what: &str| {
        if ok {
            Ok(())
        } else {
            Err(Error::param(format!("pattern {p} needs {what}; this tensor has shape {shape:?}")))
        }
    };
    // Views: conv [K, C, R, S]; linear [O, I] is treated as [O, I, 1, 1] except where noted.
    let (k, c, r, s) = match rank {
        4 => (shape[0], shape[1], shape[2], shape[3]),
        2 => (shape[0], shape[1], 1, 1),
        _ => (1, numel, 1, 1),
    };
    let idx = |kk: usize, cc: usize, rr: usize, ss: usize| ((kk * c + cc) * r + rr) * s + ss;
    let mut ids = vec![0u32; numel];
    let groups = match p {
        Pattern::Fine => {
            ids.iter_mut().enumerate().for_each(|(i, g)| *g = i as u32);
            numel
        }
        Pattern::VectorRow | Pattern::VectorCol => {
            need(rank == 4 || rank == 2, "a conv (rank 4) or linear (rank 2) weight")?;
            if rank == 2 {
                // Linear: a row is an output neuron's inputs; a column an input feature's fan-out.
                let row = p == Pattern::VectorRow;
                for kk in 0..k {
                    for cc in 0..c {
                        ids[kk * c + cc] = if row { kk } else { cc } as u32;
                    }
                }
                if row { k } else { c }
            } else {
                let row = p == Pattern::VectorRow;
                for kk in 0..k {
                    for cc in 0..c {
                        for rr in 0..r {
                            for ss in 0..s {
                                let kc = kk * c + cc;
                                ids[idx(kk, cc, rr, ss)] = if row { kc * r + rr } else { kc * s + ss } as u32;
                            }
                        }
                    }
                }
                k * c * if row { r } else { s }
            }
        }
        Pattern::Kernel => {
            need(rank == 4, "a conv weight (rank 4)")?;
            for (i, g) in ids.iter_mut().enumerate() {
                *g = (i / (r * s)) as u32;
            }
            k * c
        }
        Pattern::Filter => {
            need(rank >= 2, "a weight of rank 2 or more")?;
            let per = numel / shape[0];
            ids.iter_mut().enumerate().for_each(|(i, g)| *g = (i / per) as u32);
            shape[0]
        }
        Pattern::Channel => {
            need(rank == 4 || rank == 2, "a conv (rank 4) or linear (rank 2) weight")?;
            for (i, g) in ids.iter_mut().enumerate() {
                *g = ((i / (r * s)) % c) as u32;
            }
            c
        }
        Pattern::Block { rows, cols } => {
            need(rank >= 2, "a weight of rank 2 or more")?;
            let width = numel / shape[0];
            let per_row = width.div_ceil(cols);
            for (i, g) in ids.iter_mut().enumerate() {
                let (row, col) = (i / width, i % width);
                *g = ((row / rows) * per_row + col / cols) as u32;
            }
            shape[0].div_ceil(rows) * per_row
        }
        Pattern::NM { m, .. } => {
            let width = if rank >= 2 { numel / shape[0] } else { numel };
            let per_row = width.div_ceil(m);
            for (i, g) in ids.iter_mut().enumerate() {
                *g = ((i / width) * per_row + (i % width) / m) as u32;
            }
            (numel / width) * per_row
        }
    };
    Ok((ids, groups))
}
