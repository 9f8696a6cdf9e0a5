//! Winograd convolution F(2×2,3×3) and F(4×4,3×3), with the sparse variants of "Efficient Sparse-Winograd
//! CNNs" (ALGORITHMS.md §7): weights moved to (and pruned in) the Winograd domain, ReLU applied to the
//! transformed input tile (Winograd-ReLU), and the multiplication counts of §7.3.
//!
//! Y = Aᵀ [ Σ_c (G g_c Gᵀ) ⊙ (Bᵀ d_c B) ] A per output tile of m×m (m = 2 or 4), input tiles of (m+2)²
//! overlapping by 2; correlation (no kernel flip), stride 1, zero padding.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// The Winograd tile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Tile {
    /// F(2×2, 3×3): 4×4 input tiles.
    F2,
    /// F(4×4, 3×3): 6×6 input tiles.
    F4,
}

const BT2: [f64; 16] = [1., 0., -1., 0., 0., 1., 1., 0., 0., -1., 1., 0., 0., 1., 0., -1.];
const G2: [f64; 12] = [1., 0., 0., 0.5, 0.5, 0.5, 0.5, -0.5, 0.5, 0., 0., 1.];
const AT2: [f64; 8] = [1., 1., 1., 0., 0., 1., -1., -1.];
const BT4: [f64; 36] = [
    4., 0., -5., 0., 1., 0., 0., -4., -4., 1., 1., 0., 0., 4., -4., -1., 1., 0., 0., -2., -1., 2., 1., 0., 0., 2., -1.,
    -2., 1., 0., 0., 4., 0., -5., 0., 1.,
];
const G4: [f64; 18] = [
    1. / 4.,
    0.,
    0.,
    -1. / 6.,
    -1. / 6.,
    -1. / 6.,
    -1. / 6.,
    1. / 6.,
    -1. / 6.,
    1. / 24.,
    1. / 12.,
    1. / 6.,
    1. / 24.,
    -1. / 12.,
    1. / 6.,
    0.,
    0.,
    1.,
];
const AT4: [f64; 24] =
    [1., 1., 1., 1., 1., 0., 0., 1., -1., 2., -2., 0., 0., 1., 1., 4., 4., 0., 0., 1., -1., 8., -8., 1.];

impl Tile {
    /// Output tile size m.
    pub fn m(self) -> usize {
        match self {
            Self::F2 => 2,
            Self::F4 => 4,
        }
    }
    /// Input tile size n = m + 2.
    pub fn n(self) -> usize {
        self.m() + 2
    }
    /// Bᵀ (n×n), G (n×3), Aᵀ (m×n), row-major.
    pub fn matrices(self) -> (&'static [f64], &'static [f64], &'static [f64]) {
        match self {
            Self::F2 => (&BT2, &G2, &AT2),
            Self::F4 => (&BT4, &G4, &AT4),
        }
    }
    pub fn parse(t: u32) -> Result<Self> {
        match t {
            2 => Ok(Self::F2),
            4 => Ok(Self::F4),
            _ => Err(Error::param(format!("Winograd tile {t} is not 2 (F(2×2,3×3)) or 4 (F(4×4,3×3))"))),
        }
    }
}

/// X = L · M · Rᵀ for row-major L (a×b), M (b×b') and R (c×b').
fn sandwich(l: &[f64], a: usize, b: usize, m: &[f64], b2: usize, r: &[f64], c: usize) -> Vec<f64> {
    let mut lm = vec![0.0; a * b2];
    for i in 0..a {
        for j in 0..b2 {
            lm[i * b2 + j] = (0..b).map(|t| l[i * b + t] * m[t * b2 + j]).sum();
        }
    }
    let mut out = vec![0.0; a * c];
    for i in 0..a {
        for j in 0..c {
            out[i * c + j] = (0..b2).map(|t| lm[i * b2 + t] * r[j * b2 + t]).sum();
        }
    }
    out
}

/// G g Gᵀ: one 3×3 kernel to its n×n Winograd-domain weights.
pub fn weight_transform(g: &[f32], tile: Tile) -> Vec<f32> {
    let (_, gm, _) = tile.matrices();
    let g64: Vec<f64> = g.iter().map(|&v| v as f64).collect();
    sandwich(gm, tile.n(), 3, &g64, 3, gm, tile.n()).into_iter().map(|v| v as f32).collect()
}

/// Bᵀ d B: one n×n input tile to the Winograd domain.
pub fn input_transform(d: &[f64], tile: Tile) -> Vec<f64> {
    let (bt, _, _) = tile.matrices();
    let n = tile.n();
    sandwich(bt, n, n, d, n, bt, n)
}

/// Aᵀ M A: one n×n Winograd-domain tile to its m×m outputs.
pub fn output_transform(mt: &[f64], tile: Tile) -> Vec<f64> {
    let (_, _, at) = tile.matrices();
    sandwich(at, tile.m(), tile.n(), mt, tile.n(), at, tile.m())
}

/// Spatial weights [K, C, 3, 3] to Winograd-domain weights [K, C, n, n].
pub fn weights_to_winograd(w: &[f32], k: usize, c: usize, tile: Tile) -> Result<Vec<f32>> {
    if w.len() != k * c * 9 {
        return Err(Error::tensor(format!(
            "weights hold {} values; K×C×3×3 = {k}×{c}×3×3 needs {}",
            w.len(),
            k * c * 9
        )));
    }
    Ok(w.chunks(9).flat_map(|g| weight_transform(g, tile)).collect())
}

/// Input activations [C, H, W] of a 3×3 layer.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    pub x: &'a [f32],
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub pad: usize,
}

impl Input<'_> {
    fn out(&self) -> (usize, usize) {
        (self.h + 2 * self.pad - 2, self.w + 2 * self.pad - 2)
    }
    fn check(&self) -> Result<()> {
        if self.x.len() != self.c * self.h * self.w || self.c == 0 {
            return Err(Error::tensor(format!(
                "activations hold {} values; C×H×W = {}×{}×{}",
                self.x.len(),
                self.c,
                self.h,
                self.w
            )));
        }
        if self.h + 2 * self.pad < 3 || self.w + 2 * self.pad < 3 {
            return Err(Error::param("input smaller than the 3×3 kernel"));
        }
        Ok(())
    }
    /// The Winograd-domain input tiles: for every tile (row-major) and channel, n² values; `relu_before`
    /// applies ReLU to d first (conventional), `relu_after` to Bᵀ d B (Winograd-ReLU).
    fn tiles(&self, tile: Tile, relu_before: bool, relu_after: bool) -> (Vec<f64>, usize, usize) {
        let (oh, ow) = self.out();
        let (m, n) = (tile.m(), tile.n());
        let (ty, tx) = (oh.div_ceil(m), ow.div_ceil(m));
        let mut out = Vec::with_capacity(ty * tx * self.c * n * n);
        let mut d = vec![0f64; n * n];
        for by in 0..ty {
            for bx in 0..tx {
                for cc in 0..self.c {
                    for i in 0..n {
                        for j in 0..n {
                            let (y, x) =
                                ((by * m + i) as isize - self.pad as isize, (bx * m + j) as isize - self.pad as isize);
                            let v = if y >= 0 && x >= 0 && (y as usize) < self.h && (x as usize) < self.w {
                                self.x[(cc * self.h + y as usize) * self.w + x as usize] as f64
                            } else {
                                0.0
                            };
                            d[i * n + j] = if relu_before { v.max(0.0) } else { v };
                        }
                    }
                    let v = input_transform(&d, tile);
                    out.extend(v.into_iter().map(|v| if relu_after { v.max(0.0) } else { v }));
                }
            }
        }
        (out, ty, tx)
    }
}

/// Convolution through the Winograd domain with weights `ww` [K, C, n, n]; `winograd_relu` applies ReLU
/// to the transformed input tiles (the paper's layer), otherwise the input is used as given.
pub fn conv2d(input: &Input<'_>, ww: &[f32], k: usize, tile: Tile, winograd_relu: bool) -> Result<Vec<f32>> {
    input.check()?;
    let n = tile.n();
    if ww.len() != k * input.c * n * n {
        return Err(Error::tensor(format!(
            "Winograd weights hold {} values; K×C×{n}×{n} needs {}",
            ww.len(),
            k * input.c * n * n
        )));
    }
    let (oh, ow) = input.out();
    let m = tile.m();
    let (v, ty, tx) = input.tiles(tile, false, winograd_relu);
    let mut out = vec![0f32; k * oh * ow];
    let mut acc = vec![0f64; n * n];
    for t in 0..ty * tx {
        for kk in 0..k {
            acc.iter_mut().for_each(|a| *a = 0.0);
            for cc in 0..input.c {
                let vt = &v[(t * input.c + cc) * n * n..][..n * n];
                let wt = &ww[(kk * input.c + cc) * n * n..][..n * n];
                for j in 0..n * n {
                    acc[j] += wt[j] as f64 * vt[j];
                }
            }
            let y = output_transform(&acc, tile);
            let (by, bx) = (t / tx, t % tx);
            for i in 0..m {
                for j in 0..m {
                    let (oy, ox) = (by * m + i, bx * m + j);
                    if oy < oh && ox < ow {
                        out[(kk * oh + oy) * ow + ox] = y[i * m + j] as f32;
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Magnitude pruning of Winograd-domain weights to `density` per layer (keep the largest |W|).
pub fn prune_to_density(ww: &[f32], density: f64) -> Result<Vec<f32>> {
    if !(0.0..=1.0).contains(&density) {
        return Err(Error::param(format!("density {density} is outside [0, 1]")));
    }
    let keep = (density * ww.len() as f64).round() as usize;
    let mut order: Vec<usize> = (0..ww.len()).collect();
    order.sort_by(|&a, &b| ww[b].abs().total_cmp(&ww[a].abs()).then(a.cmp(&b)));
    let mut out = vec![0f32; ww.len()];
    for &i in &order[..keep] {
        out[i] = ww[i];
    }
    Ok(out)
}

/// The multiplications of one 3×3 layer in the five settings of §7.3.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MultCounts {
    /// K·C·9 per output position.
    pub dense_spatial: u64,
    /// Non-zero spatial weight × non-zero (post-ReLU) activation pairs.
    pub sparse_spatial: u64,
    /// tiles · C · K · n².
    pub dense_winograd: u64,
    /// Conventional sparse Winograd: G g Gᵀ of the pruned spatial weights × non-zeros of Bᵀ ReLU(d) B.
    pub sparse_winograd: u64,
    /// Winograd-ReLU: Winograd-domain pruned weights × non-zeros of ReLU(Bᵀ d B).
    pub sparse_winograd_relu: u64,
}

/// Counts multiplications for spatial weights `w` [K, C, 3, 3] (zeros = pruned), Winograd-domain weights
/// `ww` [K, C, n, n] (pruned in that domain) and the layer input. `input_relu` says whether the layer's input
/// passes a ReLU (true after a conv; false for a network's first layer, where no ReLU moves anywhere).
pub fn count_mults(
    w: &[f32],
    ww: &[f32],
    k: usize,
    input: &Input<'_>,
    tile: Tile,
    input_relu: bool,
) -> Result<MultCounts> {
    input.check()?;
    let (c, n) = (input.c, tile.n());
    if w.len() != k * c * 9 || ww.len() != k * c * n * n {
        return Err(Error::tensor(format!("weights do not match K = {k}, C = {c} and tile {n}×{n}")));
    }
    let (oh, ow) = input.out();
    // Sparse spatial: for every (c, r, s), the output positions whose input is non-zero.
    let mut cnt = vec![0u64; c * 9];
    for cc in 0..c {
        for r in 0..3 {
            for s in 0..3 {
                let mut m = 0;
                for oy in 0..oh {
                    for ox in 0..ow {
                        let (y, x) = ((oy + r) as isize - input.pad as isize, (ox + s) as isize - input.pad as isize);
                        if y >= 0 && x >= 0 && (y as usize) < input.h && (x as usize) < input.w {
                            let v = input.x[(cc * input.h + y as usize) * input.w + x as usize];
                            let v = if input_relu { v.max(0.0) } else { v };
                            m += (v != 0.0) as u64;
                        }
                    }
                }
                cnt[cc * 9 + r * 3 + s] = m;
            }
        }
    }
    let sparse_spatial = (0..k * c * 9).filter(|&i| w[i] != 0.0).map(|i| cnt[i % (c * 9)]).sum();
    // Winograd: Σ_c Σ_j (#k with W_kcj ≠ 0) · (#tiles with V_tcj ≠ 0).
    let count = |wd: &[f32], v: &[f64], tiles: usize| -> u64 {
        let mut total = 0u64;
        for cc in 0..c {
            for j in 0..n * n {
                let kw = (0..k).filter(|&kk| wd[(kk * c + cc) * n * n + j] != 0.0).count() as u64;
                let tv = (0..tiles).filter(|&t| v[(t * c + cc) * n * n + j] != 0.0).count() as u64;
                total += kw * tv;
            }
        }
        total
    };
    let (v_conv, ty, tx) = input.tiles(tile, input_relu, false);
    let tiles = ty * tx;
    let w_from_spatial = weights_to_winograd(w, k, c, tile)?;
    let sparse_winograd = count(&w_from_spatial, &v_conv, tiles);
    let (v_relu, _, _) = input.tiles(tile, false, input_relu);
    let sparse_winograd_relu = count(ww, &v_relu, tiles);
    Ok(MultCounts {
        dense_spatial: (k * c * 9 * oh * ow) as u64,
        sparse_spatial,
        dense_winograd: (tiles * c * k * n * n) as u64,
        sparse_winograd,
        sparse_winograd_relu,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::Sampler;
    use crate::sim::scnn::{ConvLayer, conv2d as direct};

    #[test]
    fn winograd_equals_direct_convolution() {
        // §7.1 / issue: equal to direct convolution on random inputs, 1e-5 relative in f32.
        let mut rng = Sampler::new(9);
        let (k, c, h, w) = (3, 4, 11, 9);
        let wt = rng.gaussian_vec(k * c * 9);
        let x = rng.gaussian_vec(c * h * w);
        for pad in [0, 1] {
            let want = direct(&ConvLayer { weights: &wt, k, c, r: 3, s: 3, acts: &x, h, w, pad });
            let scale = want.iter().fold(0f32, |a, v| a.max(v.abs()));
            for tile in [Tile::F2, Tile::F4] {
                let ww = weights_to_winograd(&wt, k, c, tile).unwrap();
                let got = conv2d(&Input { x: &x, c, h, w, pad }, &ww, k, tile, false).unwrap();
                for (a, b) in got.iter().zip(&want) {
                    assert!((a - b).abs() <= 1e-5 * scale, "{tile:?} pad {pad}: {a} vs {b}");
                }
            }
        }
    }

    #[test]
    fn the_official_input_transform_entry() {
        // §7.1: V[0][0] = d0 − d2 − d8 + d10 for F(2×2,3×3).
        let d: Vec<f64> = (0..16).map(|i| (i * i) as f64).collect();
        let v = input_transform(&d, Tile::F2);
        assert_eq!(v[0], d[0] - d[2] - d[8] + d[10]);
    }

    #[test]
    fn dense_counts_follow_the_ratios_of_section_7_3() {
        let mut rng = Sampler::new(10);
        let (k, c, h, w) = (4, 3, 8, 8);
        let wt = rng.gaussian_vec(k * c * 9);
        let x = rng.gaussian_vec(c * h * w);
        let input = Input { x: &x, c, h, w, pad: 1 };
        for (tile, ratio) in [(Tile::F2, 2.25), (Tile::F4, 4.0)] {
            let ww = weights_to_winograd(&wt, k, c, tile).unwrap();
            let m = count_mults(&wt, &ww, k, &input, tile, true).unwrap();
            assert_eq!(m.dense_spatial as f64 / m.dense_winograd as f64, ratio);
            assert!(m.sparse_spatial < m.dense_spatial, "ReLU zeroes about half the inputs");
            let pruned = prune_to_density(&ww, 0.3).unwrap();
            let p = count_mults(&wt, &pruned, k, &input, tile, true).unwrap();
            assert!(p.sparse_winograd_relu < m.sparse_winograd_relu);
        }
        assert!(Tile::parse(3).is_err());
    }
}
