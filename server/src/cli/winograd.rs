//! `lowbit winograd FILE --tile 2|4`: multiplications of every 3×3 conv layer in the five settings of
//! sparse Winograd (dense/sparse spatial, dense/sparse Winograd, Winograd-ReLU), with real activations when
//! `--mnist N` runs the digit CNN.

use super::json::{num, print};
use super::sim::{LayerSource, layers};
use anyhow::{Context, Result, bail};
use clap::Args;
use lowbit_core::winograd::{Input, Tile, count_mults, prune_to_density, weights_to_winograd};
use serde_json::json;

/// `lowbit winograd`.
#[derive(Args, Debug)]
pub struct WinogradArgs {
    #[command(flatten)]
    pub src: LayerSource,
    /// 2 for F(2×2,3×3), 4 for F(4×4,3×3).
    #[arg(long, default_value_t = 2)]
    pub tile: u32,
    /// Density the Winograd-domain weights are pruned to (Winograd-ReLU case).
    #[arg(long, default_value_t = 1.0)]
    pub density: f64,
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: &WinogradArgs) -> Result<()> {
    let tile = Tile::parse(a.tile)?;
    if !(0.0..=1.0).contains(&a.density) {
        bail!("--density {} is outside [0, 1]", a.density);
    }
    let layers = layers(&a.src, None, true)?;
    let mut rows = Vec::new();
    let mut tot = [0u64; 5];
    for l in &layers {
        let [k, c, r, s] = l.shape;
        if (r, s) != (3, 3) {
            bail!("layer `{}` is {r}×{s}; Winograd F(m×m, 3×3) needs 3×3 kernels", l.name);
        }
        let ww = prune_to_density(&weights_to_winograd(&l.weights, k, c, tile)?, a.density)?;
        let mut sum = [0u64; 5];
        for (idx, (x, h, w)) in l.inputs.iter().enumerate() {
            // Winograd-ReLU needs the pre-activation; synthetic inputs stand for both.
            let pre = l.pre_relu.as_ref().map(|p| p[idx].as_slice()).unwrap_or(x);
            let input = Input { x: pre, c, h: *h, w: *w, pad: a.src.pad };
            let m = count_mults(&l.weights, &ww, k, &input, tile, l.input_relu)
                .with_context(|| format!("layer `{}`", l.name))?;
            for (t, v) in sum.iter_mut().zip([
                m.dense_spatial,
                m.sparse_spatial,
                m.dense_winograd,
                m.sparse_winograd,
                m.sparse_winograd_relu,
            ]) {
                *t += v;
            }
        }
        for (t, v) in tot.iter_mut().zip(sum) {
            *t += v;
        }
        let ratio = |v: u64| num(sum[0] as f64 / v.max(1) as f64);
        rows.push(json!({"layer": l.name, "shape": l.shape, "images": l.inputs.len(),
            "dense_spatial": sum[0], "sparse_spatial": sum[1], "dense_winograd": sum[2], "sparse_winograd": sum[3], "sparse_winograd_relu": sum[4],
            "reduction": {"sparse_spatial": ratio(sum[1]), "dense_winograd": ratio(sum[2]), "sparse_winograd": ratio(sum[3]), "sparse_winograd_relu": ratio(sum[4])}}));
    }
    let ratio = |v: u64| tot[0] as f64 / v.max(1) as f64;
    if a.json {
        print(&json!({"tile": a.tile, "density": a.density, "layers": rows,
            "total": {"dense_spatial": tot[0], "sparse_spatial": tot[1], "dense_winograd": tot[2], "sparse_winograd": tot[3], "sparse_winograd_relu": tot[4],
                "reduction_sparse_winograd_relu": num(ratio(tot[4]))},
            "reported": "Liu et al. (ICLR 2018), as reported: 10.4× (CIFAR-10), 6.8× (CIFAR-100), 10.8× (ImageNet) fewer multiplications"}));
        return Ok(());
    }
    outln!(
        "Winograd F({0}×{0},3×3) · Winograd-domain density {1} · multiplications (× fewer than dense spatial)",
        tile.m(),
        a.density
    );
    outln!(
        "{:<24} {:>12} {:>18} {:>18} {:>18} {:>18}",
        "layer",
        "dense spatial",
        "sparse spatial",
        "dense Winograd",
        "sparse Winograd",
        "Winograd-ReLU"
    );
    for r in &rows {
        let f = |key: &str| format!("{} ({:.2}×)", r[key], r["reduction"][key].as_f64().unwrap_or(0.0));
        outln!(
            "{:<24} {:>12} {:>18} {:>18} {:>18} {:>18}",
            r["layer"].as_str().unwrap_or(""),
            r["dense_spatial"],
            f("sparse_spatial"),
            f("dense_winograd"),
            f("sparse_winograd"),
            f("sparse_winograd_relu")
        );
    }
    outln!(
        "total: sparse spatial {:.2}×, dense Winograd {:.2}×, sparse Winograd {:.2}×, Winograd-ReLU {:.2}× fewer than dense spatial",
        ratio(tot[1]),
        ratio(tot[2]),
        ratio(tot[3]),
        ratio(tot[4])
    );
    Ok(())
}
