//! Checkpoint diff: an original checkpoint and a compressed version of it, tensor by tensor. Tensors are
//! paired by name (exactly, or one name ending the other at a `.`, as exporters add prefixes), then the rest
//! by content (same number of elements, as stored or transposed, the highest cosine above 0.9), and any pair
//! the user names overrides both. Quantized encodings the file holds (`X_q` integers with `X_scale` and an
//! optional `X_zero_point`, as ONNX QDQ exports store them) are dequantized and their format read from the
//! scales ([`encoded`]); a float tensor's effective format is inferred from its distinct values
//! ([`infer`]). Each pair gets SQNR, cosine, max error and both histograms over shared bins.

pub mod encoded;
pub mod infer;

use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::readers::TensorEntry;
use crate::stats::{Histogram, linear_histogram};
use encoded::{Encoding, Side};
use serde::Serialize;

/// Histogram bins of each pair.
pub const BINS: usize = 64;

/// How a pair was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Pairing {
    User,
    Name,
    NameSuffix,
    Content,
}

/// One pair's comparison: `b` (the compressed side) against `a`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TensorDiff {
    pub a: String,
    pub b: String,
    pub shape: Vec<usize>,
    pub pairing: Pairing,
    /// `b` is stored transposed relative to `a` (compared after transposing it back).
    pub transposed: bool,
    pub sqnr_db: f64,
    pub cosine: f64,
    pub max_abs_err: f64,
    pub mse: f64,
    /// The quantized encoding `b` is stored in, when the file holds one.
    pub encoding: Option<Encoding>,
    /// The format `b`'s values imply.
    pub inferred: infer::Inferred,
    pub hist_a: Histogram,
    pub hist_b: Histogram,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diff {
    pub pairs: Vec<TensorDiff>,
    /// Float tensors of either side left without a partner.
    pub only_a: Vec<String>,
    pub only_b: Vec<String>,
}

/// `b` ends with `.a` or `a` ends with `.b` (an exporter's prefix such as `inner.` or `model.`).
fn suffix_match(a: &str, b: &str) -> bool {
    let ends = |long: &str, short: &str| {
        long.len() > short.len() && long.ends_with(short) && long.as_bytes()[long.len() - short.len() - 1] == b'.'
    };
    ends(a, b) || ends(b, a)
}

/// `x` [r, c] transposed to [c, r].
pub fn transpose(x: &[f32], r: usize, c: usize) -> Vec<f32> {
    let mut out = vec![0.0; x.len()];
    for i in 0..r {
        for j in 0..c {
            out[j * r + i] = x[i * c + j];
        }
    }
    out
}

/// `b`'s values in `a`'s layout, as stored and — for a 2-D `b` whose transpose has `a`'s shape — transposed
/// (both for square matrices, which exporters may store either way).
fn layouts(a: &Side, b: &Side) -> Vec<(Vec<f32>, bool)> {
    let mut out = Vec::new();
    if a.values.len() != b.values.len() {
        return out;
    }
    let same = a.shape == b.shape || a.shape.len() != 2 || b.shape.len() != 2;
    if same {
        out.push((b.values.clone(), false));
    }
    if let ([r, c], [br, bc]) = (a.shape.as_slice(), b.shape.as_slice())
        && (r, c) == (bc, br)
    {
        out.push((transpose(&b.values, *br, *bc), true));
    }
    if out.is_empty() {
        out.push((b.values.clone(), false));
    }
    out
}

/// The layout of `b` that best matches `a` (the highest cosine) and that cosine.
fn best_layout(a: &Side, b: &Side) -> Option<(Vec<f32>, bool, f64)> {
    layouts(a, b)
        .into_iter()
        .map(|(v, t)| {
            let c = Metrics::between(&a.values, &v).cosine;
            (v, t, c)
        })
        .max_by(|x, y| x.2.total_cmp(&y.2))
}

fn compare(a: &Side, b: &Side, pairing: Pairing) -> TensorDiff {
    let (bv, transposed, _) = best_layout(a, b).unwrap_or_else(|| (b.values.clone(), false, f64::NAN));
    let m = Metrics::between(&a.values, &bv);
    let (lo, hi) = a
        .values
        .iter()
        .chain(&bv)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| (l.min(v as f64), h.max(v as f64)));
    TensorDiff {
        a: a.name.clone(),
        b: b.name.clone(),
        shape: a.shape.clone(),
        pairing,
        transposed,
        sqnr_db: m.sqnr_db,
        cosine: m.cosine,
        max_abs_err: m.max_abs_err,
        mse: m.mse,
        encoding: b.encoding.clone(),
        inferred: infer::infer(&b.values, &b.shape),
        hist_a: linear_histogram(&a.values, BINS, lo, hi, false),
        hist_b: linear_histogram(&bv, BINS, lo, hi, false),
    }
}

/// Compares `b` (compressed) against `a` (original); `user` pairs (a name, b name) come first.
pub fn diff(a: &[TensorEntry<'_>], b: &[TensorEntry<'_>], user: &[(String, String)]) -> Result<Diff> {
    let (sa, sb) = (encoded::sides(a)?, encoded::sides(b)?);
    let mut used_a = vec![false; sa.len()];
    let mut used_b = vec![false; sb.len()];
    let mut pairs: Vec<(usize, usize, Pairing)> = Vec::new();
    for (na, nb) in user {
        let i = sa
            .iter()
            .position(|s| &s.name == na)
            .ok_or_else(|| Error::param(format!("the first checkpoint has no float tensor `{na}`")))?;
        let j = sb
            .iter()
            .position(|s| &s.name == nb)
            .ok_or_else(|| Error::param(format!("the second checkpoint has no float tensor `{nb}`")))?;
        if sa[i].values.len() != sb[j].values.len() {
            return Err(Error::param(format!(
                "`{na}` has {} elements and `{nb}` {}: they cannot be compared",
                sa[i].values.len(),
                sb[j].values.len()
            )));
        }
        used_a[i] = true;
        used_b[j] = true;
        pairs.push((i, j, Pairing::User));
    }
    for (how, matches) in [
        (Pairing::Name, (|x: &str, y: &str| x == y) as fn(&str, &str) -> bool),
        (Pairing::NameSuffix, suffix_match as fn(&str, &str) -> bool),
    ] {
        for j in 0..sb.len() {
            if used_b[j] {
                continue;
            }
            if let Some(i) = (0..sa.len())
                .find(|&i| !used_a[i] && matches(&sa[i].name, &sb[j].name) && sa[i].values.len() == sb[j].values.len())
            {
                used_a[i] = true;
                used_b[j] = true;
                pairs.push((i, j, how));
            }
        }
    }
    // By content: the unpaired tensor of the same size (as stored or transposed) with the highest cosine.
    for j in 0..sb.len() {
        if used_b[j] {
            continue;
        }
        let best = (0..sa.len())
            .filter(|&i| !used_a[i] && sa[i].values.len() == sb[j].values.len())
            .filter_map(|i| best_layout(&sa[i], &sb[j]).map(|(_, _, c)| (i, c)))
            .max_by(|x, y| x.1.total_cmp(&y.1));
        if let Some((i, cos)) = best
            && cos > 0.9
        {
            used_a[i] = true;
            used_b[j] = true;
            pairs.push((i, j, Pairing::Content));
        }
    }
    pairs.sort_by_key(|&(i, _, _)| i);
    Ok(Diff {
        pairs: pairs.iter().map(|&(i, j, how)| compare(&sa[i], &sb[j], how)).collect(),
        only_a: sa.iter().zip(&used_a).filter(|(_, u)| !**u).map(|(s, _)| s.name.clone()).collect(),
        only_b: sb.iter().zip(&used_b).filter(|(_, u)| !**u).map(|(s, _)| s.name.clone()).collect(),
    })
}
