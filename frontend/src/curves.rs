//! The Sparsity & hardware page's curves: every point is core's (pruning, quantization, storage model, SCNN
//! simulator, Winograd multiplication counts, MAC cost model), computed in small steps that give the page
//! back between points, and abandoned as soon as `alive()` says the controls moved on.

use crate::compute;
use crate::state::TensorData;
use lowbit_core::prune::prune_for_sim;
use lowbit_core::quant::QuantSpec;
use lowbit_core::sample::Sampler;
use lowbit_core::sim::mac::MacReport;
use lowbit_core::sim::scnn::{ConvLayer, MeanReport, ScnnConfig, mean_report, simulate};
use lowbit_core::winograd::{Input, MultCounts, Tile, count_mults, prune_to_density, weights_to_winograd};
use serde::{Deserialize, Serialize};

/// Patterns drawn as lines against sparsity; N:M patterns fix their own sparsity and are points.
pub const LINE_PATTERNS: [&str; 6] = ["fine", "vector", "kernel", "filter", "channel", "block:4x4"];
pub const NM_PATTERNS: [&str; 3] = ["nm:2:4", "nm:1:4", "nm:2:8"];
/// Weight densities of the SCNN and Winograd curves, and the SCNN curves' activation densities.
pub const DENSITIES: [f64; 10] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0];
pub const ACT_DENSITIES: [f64; 5] = [0.1, 0.25, 0.5, 0.75, 1.0];
/// The MAC chart's vector sizes and scale bits.
pub const MAC_V: [u32; 8] = [1, 2, 4, 8, 16, 32, 64, 128];
pub const MAC_M: [u32; 4] = [4, 6, 8, 10];

/// Target sparsities of the error and storage curves: 0 to 95 % in steps of 5.
pub fn sparsities() -> Vec<f64> {
    (0..20).map(|i| i as f64 / 20.0).collect()
}

/// One pruned (and quantized) point of a pattern's curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SparsityPoint {
    pub pattern: String,
    pub sparsity: f64,
    pub prune_sqnr_db: f64,
    pub total_sqnr_db: f64,
    /// (storage scheme, bits per parameter).
    pub storage: Vec<(String, f64)>,
}

/// Every pattern's error and storage against sparsity, and `extra` (the chosen pattern when it is not one of
/// the lines) at every sparsity; `progress` gets what is done after each pattern. A pattern the tensor's
/// shape does not allow is reported in `refused` with the reason.
pub async fn sparsity_curves(
    d: &TensorData,
    saliency: &str,
    spec: &QuantSpec,
    extra: Option<&str>,
    alive: impl Fn() -> bool,
    mut progress: impl FnMut(&Curves),
) -> Option<Curves> {
    let mut points = Vec::new();
    let mut refused = Vec::new();
    let jobs = LINE_PATTERNS
        .iter()
        .map(|p| (*p, sparsities()))
        .chain(NM_PATTERNS.iter().map(|p| (*p, vec![0.5])))
        .chain(extra.map(|p| (p, sparsities())));
    for (pattern, targets) in jobs {
        for s in targets {
            crate::api::yield_now().await;
            if !alive() {
                return None;
            }
            match compute::sparsify(d, pattern, s, saliency, spec) {
                Ok(r) => points.push(SparsityPoint {
                    pattern: pattern.to_string(),
                    sparsity: r.sparsity,
                    prune_sqnr_db: r.prune_sqnr_db,
                    total_sqnr_db: r.total_sqnr_db,
                    storage: r.storage,
                }),
                Err(e) => {
                    refused.push((pattern.to_string(), e));
                    break;
                }
            }
        }
        progress(&Curves::Sparsity { points: points.clone(), refused: refused.clone() });
    }
    Some(Curves::Sparsity { points, refused })
}

/// What the page asks for: computed by the curve worker ([`crate::worker::ask_curves`]), or in the page
/// when no worker runs, by [`compute`] either way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CurveRequest {
    /// Error and storage against sparsity for every pattern (and `extra`, the chosen one when it is not a line).
    Sparsity { saliency: String, spec: QuantSpec, extra: Option<String> },
    /// SCNN against DCNN across weight density, per activation density (and on `real` activations).
    Scnn { pattern: String, hw: usize, real: Option<Acts> },
    /// Sparse Winograd's multiplications across Winograd-domain density.
    Winograd { acts: Acts, tile: Tile },
}

impl CurveRequest {
    /// Which chart it feeds: a newer request of the same kind replaces an older one.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Sparsity { .. } => "sparsity",
            Self::Scnn { .. } => "scnn",
            Self::Winograd { .. } => "winograd",
        }
    }
}

/// A request's answer, whole or as far as it got.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Curves {
    Sparsity { points: Vec<SparsityPoint>, refused: Vec<(String, String)> },
    Scnn(Vec<ScnnLine>),
    Winograd(Vec<(f64, MultCounts)>),
}

/// Computes `req` on `d` in steps that give the thread back between points; `progress` gets each partial
/// answer; `None` once `alive()` turns false.
pub async fn compute(
    d: &TensorData,
    req: &CurveRequest,
    alive: impl Fn() -> bool,
    progress: impl FnMut(&Curves),
) -> Option<Result<Curves, String>> {
    match req {
        CurveRequest::Sparsity { saliency, spec, extra } => {
            sparsity_curves(d, saliency, spec, extra.as_deref(), alive, progress).await.map(Ok)
        }
        CurveRequest::Scnn { pattern, hw, real } => {
            scnn_curves(d, pattern, *hw, real.as_ref(), alive, progress).await.map(|r| r.map(Curves::Scnn))
        }
        CurveRequest::Winograd { acts, tile } => {
            winograd_curves(d, acts, *tile, alive).await.map(|r| r.map(Curves::Winograd))
        }
    }
}

/// A layer's input activations: each image's values before the input ReLU, its shape [C, H, W], whether
/// the input passes a ReLU, and whether they are real (MNIST through the digit CNN) or synthetic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Acts {
    pub pre_relu: Vec<Vec<f32>>,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub input_relu: bool,
    pub real: bool,
}

impl Acts {
    /// Seeded random activations at `density` (the page's synthetic input, one image).
    pub fn synthetic(c: usize, hw: usize, density: f64) -> Self {
        let x = Sampler::new(1).sparse_activations(c * hw * hw, density);
        Self { pre_relu: vec![x], c, h: hw, w: hw, input_relu: true, real: false }
    }
    /// What the conv sees: after the ReLU when there is one.
    fn inputs(&self) -> Vec<Vec<f32>> {
        self.pre_relu
            .iter()
            .map(|x| if self.input_relu { x.iter().map(|v| v.max(0.0)).collect() } else { x.clone() })
            .collect()
    }
}

/// The weight's layer shape [K, C, R, S] (a linear weight as a 1×1 convolution).
pub fn layer_shape(shape: &[usize]) -> Result<[usize; 4], String> {
    match shape {
        [k, c, r, s] => Ok([*k, *c, *r, *s]),
        [k, c] => Ok([*k, *c, 1, 1]),
        _ => Err(format!("SCNN needs a conv (K×C×R×S) or linear (out×in) weight, not shape {shape:?}")),
    }
}

/// SCNN against DCNN for `weights` (already pruned) on `acts`, averaged over the images.
pub fn scnn_point(weights: &[f32], shape: [usize; 4], acts: &Acts) -> Result<MeanReport, String> {
    let [k, c, r, s] = shape;
    if acts.c != c {
        return Err(format!("the activations have {} channels, the layer {c}", acts.c));
    }
    let macs = (k * c * r * s) as u64 * (acts.h * acts.w) as u64;
    if macs > 2_000_000_000 {
        return Err(format!("{macs} dense MACs is more than the page simulates; use `lowbit sim scnn` on the server"));
    }
    let reps = acts
        .inputs()
        .iter()
        .map(|x| {
            let layer = ConvLayer { weights, k, c, r, s, acts: x, h: acts.h, w: acts.w, pad: r / 2 };
            simulate(&layer, &ScnnConfig::default(), true).map_err(|e| e.to_string())
        })
        .collect::<Result<Vec<_>, _>>()?;
    mean_report(&reps).ok_or_else(|| "no activations".to_string())
}

/// One line of the SCNN chart: its label and (weight density, report) points.
pub type ScnnLine = (String, Vec<(f64, MeanReport)>);

/// SCNN speedup and energy against weight density (the pattern at 1 − density; N:M falls back to fine),
/// one line per synthetic activation density and one for the real activations when there are any.
pub async fn scnn_curves(
    d: &TensorData,
    pattern: &str,
    hw: usize,
    real: Option<&Acts>,
    alive: impl Fn() -> bool,
    mut progress: impl FnMut(&Curves),
) -> Option<Result<Vec<ScnnLine>, String>> {
    let shape = match layer_shape(&d.shape) {
        Ok(s) => s,
        Err(e) => return Some(Err(e)),
    };
    let pattern = if pattern.starts_with("nm") { "fine" } else { pattern };
    let mut sources: Vec<(String, Acts)> = ACT_DENSITIES
        .iter()
        .map(|&a| (format!("activations {:.0} %", a * 100.0), Acts::synthetic(shape[1], hw, a)))
        .collect();
    if let Some(r) = real {
        sources.push(("real activations (MNIST)".into(), r.clone()));
    }
    let mut lines: Vec<ScnnLine> = Vec::new();
    for (label, acts) in sources {
        let mut pts = Vec::new();
        for wd in DENSITIES {
            crate::api::yield_now().await;
            if !alive() {
                return None;
            }
            let w = match prune_for_sim(&d.values, &d.shape, pattern, 1.0 - wd) {
                Ok(w) => w,
                Err(e) => return Some(Err(e.to_string())),
            };
            match scnn_point(&w, shape, &acts) {
                Ok(m) => pts.push((wd, m)),
                Err(e) => return Some(Err(e)),
            }
        }
        lines.push((label, pts));
        progress(&Curves::Scnn(lines.clone()));
    }
    Some(Ok(lines))
}

/// Multiplications of a 3×3 layer at one density: sparse spatial and conventional sparse Winograd with the
/// spatial weights pruned (fine) to `density`; Winograd-ReLU with the Winograd-domain weights pruned to it.
/// Summed over the images, as `lowbit winograd` sums them.
pub fn winograd_point(d: &TensorData, acts: &Acts, tile: Tile, density: f64) -> Result<MultCounts, String> {
    let [k, c, r, s] = layer_shape(&d.shape)?;
    if (r, s) != (3, 3) {
        return Err(format!("Winograd F(m×m, 3×3) needs a 3×3 conv layer, not {r}×{s}"));
    }
    let e = |e: lowbit_core::Error| e.to_string();
    let spatial = prune_for_sim(&d.values, &d.shape, "fine", 1.0 - density).map_err(e)?;
    let ww_spatial = weights_to_winograd(&spatial, k, c, tile).map_err(e)?;
    let ww_relu = prune_to_density(&weights_to_winograd(&d.values, k, c, tile).map_err(e)?, density).map_err(e)?;
    let mut sum = MultCounts {
        dense_spatial: 0,
        sparse_spatial: 0,
        dense_winograd: 0,
        sparse_winograd: 0,
        sparse_winograd_relu: 0,
    };
    for x in &acts.pre_relu {
        let input = Input { x, c, h: acts.h, w: acts.w, pad: 1 };
        let a = count_mults(&spatial, &ww_spatial, k, &input, tile, acts.input_relu).map_err(e)?;
        let b = count_mults(&d.values, &ww_relu, k, &input, tile, acts.input_relu).map_err(e)?;
        sum.dense_spatial += a.dense_spatial;
        sum.sparse_spatial += a.sparse_spatial;
        sum.dense_winograd += a.dense_winograd;
        sum.sparse_winograd += a.sparse_winograd;
        sum.sparse_winograd_relu += b.sparse_winograd_relu;
    }
    Ok(sum)
}

/// The Winograd chart's points, one per density.
pub async fn winograd_curves(
    d: &TensorData,
    acts: &Acts,
    tile: Tile,
    alive: impl Fn() -> bool,
) -> Option<Result<Vec<(f64, MultCounts)>, String>> {
    let mut out = Vec::new();
    for density in DENSITIES {
        crate::api::yield_now().await;
        if !alive() {
            return None;
        }
        match winograd_point(d, acts, tile, density) {
            Ok(m) => out.push((density, m)),
            Err(e) => return Some(Err(e)),
        }
    }
    Some(Ok(out))
}

/// One line of the MAC chart: the scale width M and (V, report) points.
pub type MacLine = (u32, Vec<(u32, MacReport)>);

/// Area and energy relative to 8/8 for every (M, V) of the chart: one line per M.
pub fn mac_grid(weight_bits: u32, act_bits: u32) -> Result<Vec<MacLine>, String> {
    MAC_M
        .iter()
        .map(|&m| {
            let pts = MAC_V
                .iter()
                .map(|&v| compute::mac(weight_bits, act_bits, v, m).map(|r| (v, r)))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((m, pts))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(k: usize, c: usize) -> TensorData {
        TensorData { name: "w".into(), shape: vec![k, c, 3, 3], values: Sampler::new(5).gaussian_vec(k * c * 9) }
    }

    #[test]
    fn winograd_points_follow_the_density() {
        let d = conv(8, 4);
        let acts = Acts::synthetic(4, 8, 0.6);
        let pts: Vec<MultCounts> = DENSITIES.iter().map(|&x| winograd_point(&d, &acts, Tile::F2, x).unwrap()).collect();
        // The dense counts do not move; the pruned ones grow with the density; F(2×2) does 2.25× fewer
        // dense multiplications per output than spatial (16 per 4 outputs against 9 per output).
        assert!(pts.windows(2).all(|w| w[0].dense_spatial == w[1].dense_spatial));
        assert!(pts.windows(2).all(|w| w[0].sparse_winograd_relu <= w[1].sparse_winograd_relu));
        assert!(pts.windows(2).all(|w| w[0].sparse_spatial <= w[1].sparse_spatial));
        let last = pts.last().unwrap();
        assert!((last.dense_spatial as f64 / last.dense_winograd as f64 - 2.25).abs() < 1e-9, "{last:?}");
        assert!(winograd_point(&TensorData { shape: vec![8, 4, 1, 1], ..conv(8, 4) }, &acts, Tile::F2, 0.5).is_err());
    }

    #[test]
    fn an_scnn_point_is_the_mean_over_its_images() {
        let d = conv(8, 4);
        let a = Acts::synthetic(4, 6, 0.5);
        let b = Acts { pre_relu: vec![Sampler::new(9).sparse_activations(4 * 36, 0.3)], ..a.clone() };
        let both = Acts { pre_relu: vec![a.pre_relu[0].clone(), b.pre_relu[0].clone()], ..a.clone() };
        let (pa, pb) =
            (scnn_point(&d.values, [8, 4, 3, 3], &a).unwrap(), scnn_point(&d.values, [8, 4, 3, 3], &b).unwrap());
        let m = scnn_point(&d.values, [8, 4, 3, 3], &both).unwrap();
        assert_eq!(m.images, 2);
        assert!((m.scnn_cycles - (pa.scnn_cycles + pb.scnn_cycles) / 2.0).abs() < 1e-9);
        assert!((m.speedup_vs_dcnn - m.dcnn_cycles / m.scnn_cycles).abs() < 1e-12);
    }

    #[test]
    fn the_mac_grid_has_every_scale_width_and_vector_size() {
        let g = mac_grid(4, 4).unwrap();
        assert_eq!(g.len(), MAC_M.len());
        assert!(g.iter().all(|(_, pts)| pts.len() == MAC_V.len()));
        let (_, pts) = &g[0];
        assert_eq!(pts[4].1, compute::mac(4, 4, 16, MAC_M[0]).unwrap());
    }
}
