//! The resource model of the readers: how much memory and work one file may cost, checked *before* the work
//! it bounds. A file that would go past a limit is refused with [`ErrorKind::LimitExceeded`]
//! (`crate::ErrorKind`) and a short message naming the limit, so the caller can say why (the server answers
//! 413, the page hands the file to the server).
//!
//! What is bounded, and why that is enough:
//! - **Bytes that are not in the file** can only come from decompression (zip members) or from views that
//!   repeat elements (PyTorch strides). Every inflated or copied byte is charged to one [`Budget`] per read;
//!   a member may not inflate by more than [`Limits::max_inflate_ratio`] once it is past
//!   [`Limits::ratio_free_bytes`]; views may not hold more elements than their storage.
//! - **Everything else** is proportional to the input: a tensor's elements are checked with overflow-safe
//!   arithmetic against the bytes that exist, and the per-structure limits below (header, tensor count, rank,
//!   pickle stack, memo, objects, depth) bound the bookkeeping.
//! - **Nesting** never recurses on input-controlled depth beyond [`Limits::max_depth`].

use crate::error::{Error, Result};
use std::cell::Cell;

/// Limits on what one read may cost. [`Limits::default`] is the server's default; [`Limits::page`] is
/// smaller, for a browser tab (a wasm memory is 4 GiB at most).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Limits {
    /// Largest header (safetensors JSON, npy dict) in bytes.
    pub max_header_bytes: u64,
    /// Most tensors one file may hold (counted while the header is parsed, not after).
    pub max_tensors: usize,
    /// Most dimensions a tensor may have.
    pub max_rank: usize,
    /// Most bytes a read may produce beyond the file itself: inflated zip members plus copies of strided views.
    pub max_decoded_bytes: u64,
    /// Largest inflated/compressed ratio of a zip member larger than `ratio_free_bytes`.
    pub max_inflate_ratio: u64,
    /// Members up to this size may inflate at any ratio (small all-zero arrays compress extremely well).
    pub ratio_free_bytes: u64,
    /// Most members a zip archive may list.
    pub max_zip_members: usize,
    /// Most items (values and marks) on the pickle machine's stack.
    pub max_pickle_stack: usize,
    /// Most memo entries of a pickle.
    pub max_pickle_memo: usize,
    /// Most objects a pickle may build, and most its value may hold once shared references are expanded.
    pub max_pickle_objects: usize,
    /// Deepest nesting of containers (pickle values).
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_header_bytes: 100 << 20,
            max_tensors: 100_000,
            max_rank: 32,
            max_decoded_bytes: 4 << 30,
            max_inflate_ratio: 100,
            ratio_free_bytes: 64 << 20,
            max_zip_members: 200_000,
            max_pickle_stack: 1 << 17,
            max_pickle_memo: 1 << 21,
            max_pickle_objects: 1 << 21,
            max_depth: 100,
        }
    }
}

impl Limits {
    /// A browser tab's limits: what a 32-bit wasm memory can hold beside the file itself and the page.
    pub fn page() -> Self {
        Self { max_decoded_bytes: 1 << 30, max_pickle_objects: 1 << 20, ..Self::default() }
    }
}

/// What one read has spent against its [`Limits`].
#[derive(Debug)]
pub struct Budget {
    pub limits: Limits,
    decoded: Cell<u64>,
}

impl Budget {
    pub fn new(limits: Limits) -> Self {
        Self { limits, decoded: Cell::new(0) }
    }

    /// Charges `bytes` produced beyond the file (inflated, or copied out of a view) before they are made;
    /// `what` names them, built only on failure.
    pub fn charge(&self, bytes: u64, what: impl Fn() -> String) -> Result<()> {
        let total = self.decoded.get().saturating_add(bytes);
        if total > self.limits.max_decoded_bytes {
            return Err(Error::limit(format!(
                "{} would decode {} in all, past the limit of {}",
                what(),
                human(total),
                human(self.limits.max_decoded_bytes)
            )));
        }
        self.decoded.set(total);
        Ok(())
    }

    /// Checks a zip member's declared inflated size against the ratio cap and charges it.
    pub fn inflate(&self, declared: u64, compressed: u64, what: impl Fn() -> String) -> Result<()> {
        let l = &self.limits;
        if declared > l.ratio_free_bytes && declared / compressed.max(1) > l.max_inflate_ratio {
            return Err(Error::limit(format!(
                "{} inflates {} to {} (more than {}:1, the limit for members over {})",
                what(),
                human(compressed),
                human(declared),
                l.max_inflate_ratio,
                human(l.ratio_free_bytes)
            )));
        }
        self.charge(declared, what)
    }

    /// Bytes charged so far.
    pub fn decoded(&self) -> u64 {
        self.decoded.get()
    }

    /// Refuses a shape with more dimensions than the limit (`what` names it, built only on failure).
    pub fn rank(&self, rank: usize, what: impl Fn() -> String) -> Result<()> {
        if rank > self.limits.max_rank {
            return Err(Error::limit(format!("{} has {rank} dimensions (limit {})", what(), self.limits.max_rank)));
        }
        Ok(())
    }

    /// Refuses the `n`-th tensor of a file when it is one past the limit.
    pub fn tensors(&self, n: usize) -> Result<()> {
        if n > self.limits.max_tensors {
            return Err(Error::limit(format!("the file holds more than {} tensors", self.limits.max_tensors)));
        }
        Ok(())
    }
}

/// Elements of `shape` and its bytes at `elem` bytes each, or an error when either overflows `u64` (`what`
/// names the tensor; it is built only on failure, readers call this for every tensor).
pub fn checked_numel(shape: &[u64], elem: usize, what: impl Fn() -> String) -> Result<(u64, u64)> {
    let numel = shape
        .iter()
        .try_fold(1u64, |a, &d| a.checked_mul(d))
        .ok_or_else(|| Error::malformed(format!("{}: shape {shape:?} overflows", what())))?;
    let bytes =
        numel.checked_mul(elem as u64).ok_or_else(|| Error::malformed(format!("{}: size overflows", what())))?;
    Ok((numel, bytes))
}

/// `1.5 GiB`, `20 MiB`, `742 B`: sizes in messages.
pub fn human(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 { format!("{b} B") } else { format!("{v:.3} {}", UNITS[u]).replace(".000 ", " ") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_refuses_before_it_is_spent() {
        let b = Budget::new(Limits { max_decoded_bytes: 100, ..Limits::default() });
        b.charge(60, || "a".into()).unwrap();
        let e = b.charge(41, || "member `x`".into()).unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::LimitExceeded);
        assert!(e.message.contains("member `x`") && e.message.contains("limit"), "{}", e.message);
        assert_eq!(b.decoded(), 60);
        assert!(b.charge(u64::MAX, || "c".into()).is_err());
        let r = Budget::new(Limits::default());
        assert!(r.inflate(4 << 30, 4 << 20, || "bomb".into()).unwrap_err().message.contains("100:1"));
        r.inflate(1 << 20, 1, || "small zeros".into()).unwrap();
        assert!(r.inflate(100 << 20, 1 << 20, || "100:1".into()).is_ok());
        assert_eq!(human(742), "742 B");
        assert_eq!(human(20 << 20), "20 MiB");
        assert!(checked_numel(&[11985472001485, 1539092, 1], 4, || "t".into()).is_err());
        assert_eq!(checked_numel(&[2, 3], 4, || "t".into()).unwrap(), (6, 24));
    }
}
