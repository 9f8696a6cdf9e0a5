//! How a tensor is cut into the groups that each get one scale (and one clip).
//!
//! Layout is row-major. "Rows" are the slices along axis 0 (output channels of a linear or conv weight);
//! the reduction axis is everything after axis 0, flattened, which is contiguous in memory. So:
//! * `Tensor`: one group.
//! * `Channel { axis }`: one group per index along `axis` (strided unless `axis` is 0 or all leading dims are 1);
//!   a 1-D tensor (a bias, a norm weight) is a single group, since per-element scales would be absurd.
//! * `Vector { size: V }`: each row is cut into groups of V contiguous elements; the last group of a row may be
//!   shorter (a 1-D tensor is one row). This is the VS-Quant vector, the MX/NVFP4 block and GPTQ/AWQ's group.

use crate::error::{Error, Result};
use std::fmt;
use std::num::NonZeroUsize;
use std::str::FromStr;

/// The unit that shares a scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    Tensor,
    Channel { axis: usize },
    Vector { size: NonZeroUsize },
}

impl Granularity {
    /// A vector granularity; errors on V = 0.
    pub fn vector(size: usize) -> Result<Self> {
        NonZeroUsize::new(size)
            .map(|size| Self::Vector { size })
            .ok_or_else(|| Error::param("vector size V must be at least 1"))
    }
}

impl FromStr for Granularity {
    type Err = Error;
    /// Accepts `tensor`, `channel`, `channel:AXIS`, `vector:V` (also `group:V` and `gV`, as in `g128`).
    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim();
        let num = |v: &str, what: &str| -> Result<usize> {
            v.parse::<usize>()
                .map_err(|_| Error::param(format!("granularity `{s}`: {what} `{v}` is not a whole number")))
        };
        match s.split_once(':') {
            None if s == "tensor" => Ok(Self::Tensor),
            None if s == "channel" => Ok(Self::Channel { axis: 0 }),
            None if s.starts_with('g') && s.len() > 1 && s[1..].bytes().all(|b| b.is_ascii_digit()) => {
                Self::vector(num(&s[1..], "group size")?)
            }
            Some(("channel", a)) => Ok(Self::Channel { axis: num(a, "axis")? }),
            Some(("vector" | "group", v)) => Self::vector(num(v, "vector size")?),
            _ => Err(Error::param(format!("unknown granularity `{s}` (expected tensor, channel[:AXIS] or vector:V)"))),
        }
    }
}

impl fmt::Display for Granularity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tensor => f.write_str("tensor"),
            Self::Channel { axis } => write!(f, "channel:{axis}"),
            Self::Vector { size } => write!(f, "vector:{size}"),
        }
    }
}

/// A granularity resolved against one shape: where each group's elements are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grouping {
    /// Rows of `row` contiguous elements, each cut into chunks of `chunk` (the last one may be shorter).
    Rows { numel: usize, row: usize, chunk: usize },
    /// Group c holds, for every o < outer, the `inner` contiguous elements at `(o·dim + c)·inner`.
    Strided { outer: usize, dim: usize, inner: usize },
}

impl Grouping {
    /// Resolves `g` for `shape`; errors when the axis does not exist or the tensor is empty.
    pub fn new(shape: &[usize], g: Granularity) -> Result<Self> {
        let numel = shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or_else(|| Error::tensor(format!("shape {shape:?} overflows")))?;
        if numel == 0 {
            return Err(Error::tensor(format!("tensor of shape {shape:?} is empty")));
        }
        let row = if shape.len() >= 2 { numel / shape[0] } else { numel };
        Ok(match g {
            Granularity::Tensor => Self::Rows { numel, row: numel, chunk: numel },
            Granularity::Channel { axis } => {
                if axis >= shape.len().max(1) {
                    return Err(Error::param(format!(
                        "channel axis {axis} does not exist for a tensor of rank {} (shape {shape:?})",
                        shape.len()
                    )));
                }
                if shape.len() <= 1 {
                    // A bias or a norm weight is one output channel's worth of values, not one per element.
                    return Ok(Self::Rows { numel, row: numel, chunk: numel });
                }
                let outer: usize = shape[..axis].iter().product();
                let dim = shape[axis];
                let inner: usize = shape[axis + 1..].iter().product();
                if outer == 1 {
                    Self::Rows { numel, row: inner, chunk: inner }
                } else {
                    Self::Strided { outer, dim, inner }
                }
            }
            Granularity::Vector { size } => Self::Rows { numel, row, chunk: size.get().min(row) },
        })
    }

    /// `(row, chunk)` when every group is a contiguous chunk of a row (always so for vector granularity).
    pub fn rows_and_chunk(&self) -> Option<(usize, usize)> {
        match *self {
            Self::Rows { row, chunk, .. } => Some((row, chunk)),
            Self::Strided { .. } => None,
        }
    }

    pub fn numel(&self) -> usize {
        match *self {
            Self::Rows { numel, .. } => numel,
            Self::Strided { outer, dim, inner } => outer * dim * inner,
        }
    }

    /// Number of rows (output channels) the groups are laid in; two-level scales are per row.
    pub fn rows(&self) -> usize {
        match *self {
            Self::Rows { numel, row, .. } => numel / row,
            Self::Strided { dim, .. } => dim,
        }
    }

    /// Groups per row.
    pub fn groups_per_row(&self) -> usize {
        match *self {
            Self::Rows { row, chunk, .. } => row.div_ceil(chunk),
            Self::Strided { .. } => 1,
        }
    }

    pub fn groups(&self) -> usize {
        self.rows() * self.groups_per_row()
    }

    /// Calls `f(group_index, input, output)` for every group, in order. Strided groups are gathered into
    /// scratch buffers and scattered back, so `f` always sees contiguous slices.
    pub fn for_each<E>(
        &self,
        x: &[f32],
        out: &mut [f32],
        mut f: impl FnMut(usize, &[f32], &mut [f32]) -> Result<(), E>,
    ) -> Result<(), E> {
        debug_assert_eq!(x.len(), self.numel(), "grouping applied to a tensor of another size");
        match *self {
            Self::Rows { row, chunk, .. } => {
                let mut g = 0;
                for (xr, or) in x.chunks(row).zip(out.chunks_mut(row)) {
                    for (xc, oc) in xr.chunks(chunk).zip(or.chunks_mut(chunk)) {
                        f(g, xc, oc)?;
                        g += 1;
                    }
                }
            }
            Self::Strided { outer, dim, inner } => {
                let mut xs = vec![0.0f32; outer * inner];
                let mut os = vec![0.0f32; outer * inner];
                for c in 0..dim {
                    for o in 0..outer {
                        let at = (o * dim + c) * inner;
                        xs[o * inner..(o + 1) * inner].copy_from_slice(&x[at..at + inner]);
                    }
                    f(c, &xs, &mut os)?;
                    for o in 0..outer {
                        let at = (o * dim + c) * inner;
                        out[at..at + inner].copy_from_slice(&os[o * inner..(o + 1) * inner]);
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group_of_each(shape: &[usize], g: Granularity) -> Vec<usize> {
        let grouping = Grouping::new(shape, g).unwrap();
        let n = grouping.numel();
        let x: Vec<f32> = (0..n).map(|i| i as f32).collect();
        let mut out = vec![0.0; n];
        let mut owner = vec![usize::MAX; n];
        grouping
            .for_each(&x, &mut out, |gi, xs, os| {
                for (&v, o) in xs.iter().zip(os.iter_mut()) {
                    owner[v as usize] = gi;
                    *o = v;
                }
                Ok::<_, Error>(())
            })
            .unwrap();
        assert_eq!(x, out, "scatter must put every element back");
        owner
    }

    #[test]
    fn channel_axis_one_of_a_conv_weight_is_strided() {
        let owner = group_of_each(&[2, 3, 2], Granularity::Channel { axis: 1 });
        assert_eq!(owner, vec![0, 0, 1, 1, 2, 2, 0, 0, 1, 1, 2, 2]);
    }

    #[test]
    fn vectors_restart_at_each_row_and_keep_a_partial_last_group() {
        let owner = group_of_each(&[2, 5], Granularity::vector(2).unwrap());
        assert_eq!(owner, vec![0, 0, 1, 1, 2, 3, 3, 4, 4, 5]);
        let g = Grouping::new(&[2, 5], Granularity::vector(2).unwrap()).unwrap();
        assert_eq!((g.rows(), g.groups_per_row(), g.groups()), (2, 3, 6));
    }

    #[test]
    fn parses_the_cli_vocabulary() {
        assert_eq!("tensor".parse::<Granularity>().unwrap(), Granularity::Tensor);
        assert_eq!("channel".parse::<Granularity>().unwrap(), Granularity::Channel { axis: 0 });
        assert_eq!("channel:2".parse::<Granularity>().unwrap(), Granularity::Channel { axis: 2 });
        assert_eq!("g128".parse::<Granularity>().unwrap(), Granularity::vector(128).unwrap());
        assert_eq!("vector:16".parse::<Granularity>().unwrap().to_string(), "vector:16");
        assert!("vector:0".parse::<Granularity>().unwrap_err().message.contains("at least 1"));
        assert!("row".parse::<Granularity>().is_err());
        assert!(Grouping::new(&[3, 4], Granularity::Channel { axis: 2 }).is_err());
        assert!(Grouping::new(&[3, 0], Granularity::Tensor).is_err());
    }
}
