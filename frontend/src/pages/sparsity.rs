//! Sparsity & hardware: prune the selected tensor with any pattern, quantize what is left, and read — at the
//! current setting and as the papers draw it — the error and the storage against sparsity for every pattern,
//! SCNN against dense accelerators across weight and activation density, sparse Winograd's multiplications,
//! and the vector-MAC cost model. For the digit CNN the hardware models run on its real activations (MNIST
//! through the network, on the server). Curves are computed by core in the page's curve worker, off the
//! page's thread (see [`crate::curves`] and [`crate::worker`]).

use crate::api;
use crate::charts;
use crate::components::chart::Chart;
use crate::compute::{self, fmt_num};
use crate::curves::{self, Acts, CurveRequest, Curves, LINE_PATTERNS, NM_PATTERNS};
use crate::state::{Ctx, SparsityView, TensorData};
use crate::worker;
use leptos::prelude::*;
use lowbit_core::prune::prune_for_sim;
use lowbit_core::winograd::Tile;
use std::sync::Arc;

const PATTERNS: [&str; 8] = ["fine", "vector", "vector:col", "kernel", "filter", "channel", "block:4x4", "nm:2:4"];
/// MNIST images the real activations average over (the CLI's `--mnist 4`).
pub const IMAGES: usize = 4;

/// The real input of the selected layer when the checkpoint is the digit CNN on the server.
async fn real_acts(ckpt: Option<String>, tensor: Option<String>, shape: Vec<usize>) -> Option<Acts> {
    let (id, t) = (ckpt?, tensor?);
    if shape.len() != 4 {
        return None;
    }
    let url = format!("/api/checkpoints/{id}/tensors/{}/activations?images={IMAGES}", crate::state::encode(&t));
    let (s, x, relu) = api::get_f32_with(&url, "x-lowbit-input-relu").await.ok()?;
    let [n, c, h, w] = s[..] else { return None };
    let pre_relu = x.chunks_exact(c * h * w).take(n).map(<[f32]>::to_vec).collect();
    Some(Acts { pre_relu, c, h, w, input_relu: relu.as_deref() == Some("true"), real: true })
}

/// A chart's curves: the answer so far (or why there is none) and whether it is complete.
type CurveState = Option<(Result<Curves, String>, bool)>;

/// Keeps one chart's curves computed: whenever `request` changes, asks the curve worker (or the page itself
/// when no worker can run) and drops whatever an older request still sends.
fn keep_curves(
    kind: &'static str,
    request: impl Fn() -> Option<(Arc<TensorData>, CurveRequest)> + Send + Sync + 'static,
    out: RwSignal<CurveState>,
) {
    let generation = StoredValue::new(0u64);
    let key = Memo::new(move |_| request());
    Effect::new(move |_| {
        let k = key.get();
        let n = generation.get_value() + 1;
        generation.set_value(n);
        out.set(None);
        let alive = move || generation.try_get_value() == Some(n);
        let Some((d, req)) = k else {
            worker::cancel_curves(kind);
            return;
        };
        let answer = move |r: Result<Curves, String>, done: bool| {
            if alive() {
                out.try_set(Some((r, done)));
            }
        };
        if !worker::ask_curves(&d, &req, answer) {
            leptos::task::spawn_local(async move {
                let progress = |c: &Curves| answer(Ok(c.clone()), false);
                if let Some(r) = curves::compute(&d, &req, alive, progress).await {
                    answer(r, true);
                }
            });
        }
    });
    on_cleanup(move || worker::cancel_curves(kind));
}

#[component]
pub fn Sparsity() -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let view_of = move || ctx.sparsity.get();
    let set = move |f: &dyn Fn(&mut SparsityView)| ctx.sparsity.update(|v| f(v));
    let pattern = Memo::new(move |_| view_of().pattern);
    let sparsity = Memo::new(move |_| view_of().sparsity);
    let act_density = Memo::new(move |_| view_of().act_density);
    let wino_density = Memo::new(move |_| view_of().wino_density);
    let tile = Memo::new(move |_| Tile::parse(view_of().tile).unwrap_or(Tile::F2));
    let saliency = RwSignal::new("l1".to_string());
    let hw = RwSignal::new(14usize);
    let result = Memo::new(move |_| {
        let (p, s, sal, spec) = (pattern.get(), sparsity.get(), saliency.get(), ctx.spec.get().quant_spec());
        ctx.data.get().map(|d| compute::sparsify(&d, &p, s, &sal, &spec))
    });

    // The layer's real activations (digit CNN on the server), else none.
    let real = LocalResource::new(move || {
        let id = ctx.ckpt.get().and_then(|c| c.server_id.clone());
        let (t, shape) = (ctx.tensor.get(), ctx.data.get().map(|d| d.shape.clone()).unwrap_or_default());
        real_acts(id, t, shape)
    });
    let real_now = Memo::new(move |_| real.get().flatten());
    // The input the hardware models run on: real, or synthetic at the chosen density and size.
    let acts = Memo::new(move |_| {
        let d = ctx.data.get()?;
        if let Some(r) = real_now.get() {
            return Some(r);
        }
        let c = curves::layer_shape(&d.shape).ok()?[1];
        Some(Acts::synthetic(c, hw.get(), act_density.get()))
    });

    // Current-setting numbers of the hardware models (pruned as the CLI prunes: the pattern, L1).
    let pruned = Memo::new(move |_| {
        let d = ctx.data.get()?;
        Some(prune_for_sim(&d.values, &d.shape, &pattern.get(), sparsity.get()).map_err(|e| e.to_string()))
    });
    let scnn_now = Memo::new(move |_| {
        let (d, w, a) = (ctx.data.get()?, pruned.get()?, acts.get()?);
        Some(w.and_then(|w| curves::scnn_point(&w, curves::layer_shape(&d.shape)?, &a)))
    });
    let wino_now = Memo::new(move |_| {
        let (d, a) = (ctx.data.get()?, acts.get()?);
        Some(curves::winograd_point(&d, &a, tile.get(), wino_density.get()))
    });

    // Curves, recomputed in steps when what they depend on changes.
    let extra = Memo::new(move |_| {
        let p = pattern.get();
        (!LINE_PATTERNS.contains(&p.as_str()) && !NM_PATTERNS.contains(&p.as_str())).then_some(p)
    });
    let sp_curves = RwSignal::new(None);
    keep_curves(
        "sparsity",
        move || {
            let (saliency, spec, extra) = (saliency.get(), ctx.spec.get().quant_spec(), extra.get());
            Some((ctx.data.get()?, CurveRequest::Sparsity { saliency, spec, extra }))
        },
        sp_curves,
    );
    let scnn_curves = RwSignal::new(None);
    keep_curves(
        "scnn",
        move || {
            let p = pattern.get();
            let pattern = if p.starts_with("nm") { "fine".to_string() } else { p };
            Some((ctx.data.get()?, CurveRequest::Scnn { pattern, hw: hw.get(), real: real_now.get() }))
        },
        scnn_curves,
    );
    let wino_curves = RwSignal::new(None);
    keep_curves(
        "winograd",
        move || Some((ctx.data.get()?, CurveRequest::Winograd { acts: acts.get()?, tile: tile.get() })),
        wino_curves,
    );
    let sp_points = move || match sp_curves.get() {
        Some((Ok(Curves::Sparsity { points, refused }), _)) => Some((points, refused)),
        _ => None,
    };

    // Figures, each with the current setting starred.
    let sp_fig = Signal::derive(move || {
        let (pts, _) = sp_points()?;
        let now = result.get().and_then(|r| r.ok()).map(|r| (r.sparsity, r.total_sqnr_db));
        Some(charts::sparsity_curve(&pts, now))
    });
    let storage_fig = Signal::derive(move || {
        let (pts, _) = sp_points()?;
        let now = result
            .get()
            .and_then(|r| r.ok())
            .map(|r| (r.sparsity, r.storage.iter().map(|s| s.1).fold(f64::INFINITY, f64::min)));
        Some(charts::storage_curve(&pts, &pattern.get(), now))
    });
    let scnn_fig = Signal::derive(move || {
        let Some((Ok(Curves::Scnn(lines)), _)) = scnn_curves.get() else { return None };
        let now = scnn_now.get().and_then(|r| r.ok()).map(|m| (m.weight_density, m.speedup_vs_dcnn));
        Some(charts::scnn_curve(&lines, now))
    });
    let wino_fig = Signal::derive(move || {
        let Some((Ok(Curves::Winograd(pts)), _)) = wino_curves.get() else { return None };
        let now = wino_now.get().and_then(|r| r.ok()).map(|m| (wino_density.get(), m.sparse_winograd_relu as f64));
        Some(charts::winograd_curve(&pts, tile.get(), now))
    });

    let (wb, ab, v, m) = (RwSignal::new(4u32), RwSignal::new(4u32), RwSignal::new(16u32), RwSignal::new(6u32));
    let mac = Memo::new(move |_| compute::mac(wb.get(), ab.get(), v.get(), m.get()));
    let mac_fig = Signal::derive(move || {
        let grid = curves::mac_grid(wb.get(), ab.get()).ok()?;
        let now = mac.get().ok().map(|r| (v.get() as f64, r.relative_area * 100.0));
        Some(charts::mac_curve(&grid, now, (wb.get(), ab.get())))
    });
    let num_input = move |label: &'static str, testid: &'static str, sig: RwSignal<u32>, lo: u32, hi: u32| {
        view! {
            <label>{label}<input type="number" data-testid=testid min=lo max=hi prop:value=move || sig.get()
                on:input=move |ev| { if let Ok(x) = event_target_value(&ev).parse::<u32>() && (lo..=hi).contains(&x) { sig.set(x) } }/></label>
        }
    };
    let density_input = move |label: &'static str,
                              testid: &'static str,
                              get: Memo<f64>,
                              put: fn(&mut SparsityView, f64)| {
        view! {
            <label>{label}<input type="number" data-testid=testid min="0.05" max="1" step="0.05" prop:value=move || get.get()
                on:input=move |ev| { if let Ok(x) = event_target_value(&ev).parse::<f64>() && x > 0.0 && x <= 1.0 { set(&|v| put(v, x)) } }/></label>
        }
    };
    let status = move || {
        let done = |c: CurveState| match c {
            Some((Ok(_), true)) => "drawn".to_string(),
            Some((Ok(_), false)) => "computing…".to_string(),
            Some((Err(e), _)) => format!("failed ({e})"),
            None => "waiting".to_string(),
        };
        format!(
            "curves: error and storage {}, SCNN {}, Winograd {}",
            done(sp_curves.get()),
            done(scnn_curves.get()),
            done(wino_curves.get())
        )
    };
    let acts_note = move || match acts.get() {
        Some(a) if a.real => format!(
            "Real activations: the digit CNN on the first {} MNIST test images (input {}×{}×{}, measured on the server).",
            a.pre_relu.len(),
            a.c,
            a.h,
            a.w
        ),
        Some(a) => {
            format!("Synthetic activations: seeded random, density {:.2}, input {}×{}.", act_density.get(), a.h, a.w)
        }
        None => String::new(),
    };
    view! {
        <section>
            <div class="row">
                <crate::components::tensor_picker::TensorPicker/>
                <div class="controls">
                    <label>"Pattern"<select data-testid="pattern-select" on:change=move |ev| { let p = event_target_value(&ev); set(&|v| v.pattern = p.clone()) }>
                        {PATTERNS.into_iter().map(|p| view! { <option value=p selected=move || pattern.get() == p>{p}</option> }).collect_view()}
                    </select></label>
                    <label>"Sparsity"<input type="range" min="0" max="0.95" step="0.05" data-testid="sparsity-input" prop:value=move || sparsity.get()
                        on:input=move |ev| { if let Ok(s) = event_target_value(&ev).parse::<f64>() { set(&|v| v.sparsity = s) } }/>
                        <span>{move || format!("{:.0} %", sparsity.get() * 100.0)}</span></label>
                    <label>"Saliency"<select on:change=move |ev| saliency.set(event_target_value(&ev))>
                        <option value="l1">"L1"</option><option value="l2">"L2"</option></select></label>
                </div>
            </div>
            <p class="muted">{move || format!("Then quantized with {} (the explorer's configuration).", ctx.spec.get().label())}</p>
            <p class="muted" data-testid="curves-status">{status}</p>
            {move || match result.get() {
                None => view! { <p class="empty">"Open a checkpoint and pick a tensor first."</p> }.into_any(),
                Some(Err(e)) => view! { <p class="banner error">{e}</p> }.into_any(),
                Some(Ok(r)) => view! {
                    <dl class="numbers" data-testid="sparsity-numbers">
                        <div><dt>"achieved sparsity"</dt><dd>{format!("{:.1} %", r.sparsity * 100.0)}</dd></div>
                        <div><dt>"groups pruned"</dt><dd>{format!("{} / {}", r.groups_pruned, r.groups)}</dd></div>
                        <div><dt>"SQNR, pruned"</dt><dd data-testid="prune-sqnr" data-value=r.prune_sqnr_db.to_string()>{format!("{:.2} dB", r.prune_sqnr_db)}</dd></div>
                        <div><dt>"SQNR, pruned + quantized"</dt><dd data-testid="total-sqnr" data-value=r.total_sqnr_db.to_string()>{format!("{:.2} dB", r.total_sqnr_db)}</dd></div>
                        <div><dt>"MSE"</dt><dd>{fmt_num(r.total_mse)}</dd></div>
                    </dl>
                    <table class="data" data-testid="storage-table"><thead><tr><th>"storage scheme"</th><th>"bits / parameter"</th></tr></thead><tbody>
                        {r.storage.iter().map(|(k, b)| view! { <tr data-scheme=k.clone() data-value=b.to_string()><td class="name">{k.clone()}</td><td>{format!("{b:.3}")}</td></tr> }).collect_view()}
                    </tbody></table>
                }.into_any(),
            }}
            {move || sp_points().map(|(_, refused)| refused).filter(|r| !r.is_empty()).map(|r| view! {
                <p class="muted">{format!("Not drawn for this tensor: {}", r.iter().map(|(p, e)| format!("{p} ({e})")).collect::<Vec<_>>().join("; "))}</p>
            })}
            <div class="grid2">
                <Chart testid="sparsity-curve-chart" name="error-vs-sparsity" fig=sp_fig/>
                <Chart testid="storage-chart" name="storage-vs-sparsity" fig=storage_fig/>
            </div>

            <h2>"SCNN against dense accelerators"</h2>
            <div class="controls">
                <label>"Input H = W"<input type="number" min="1" max="64" prop:value=move || hw.get()
                    on:input=move |ev| { if let Ok(x) = event_target_value(&ev).parse::<usize>() && (1..=64).contains(&x) { hw.set(x) } }/></label>
                {density_input("Activation density", "act-density-input", act_density, |v, x| v.act_density = x)}
            </div>
            <p class="muted" data-testid="acts-note">{acts_note}</p>
            <p class="muted">"8×8 PEs, F = I = 4, 32 accumulator banks (SCNN §6); a linear weight is a 1×1 convolution; weights pruned with the chosen pattern (L1; N:M curves use fine). As reported by the SCNN paper, not computed here: 2.7× performance and 2.3× energy over DCNN on pruned AlexNet, GoogLeNet and VGGNet."</p>
            {move || scnn_now.get().map(|r| match r {
                Err(e) => view! { <p class="banner error">{e}</p> }.into_any(),
                Ok(r) => view! {
                    <table class="data" data-testid="scnn-table"><thead><tr><th></th><th>"cycles"</th><th>"energy (pJ)"</th></tr></thead><tbody>
                        <tr><td class="name">"SCNN"</td><td data-testid="scnn-cycles" data-value=r.scnn_cycles.to_string()>{fmt_num(r.scnn_cycles)}</td><td>{fmt_num(r.scnn_energy)}</td></tr>
                        <tr><td class="name">"DCNN-opt"</td><td>{fmt_num(r.dcnn_cycles)}</td><td>{fmt_num(r.dcnn_opt_energy)}</td></tr>
                        <tr><td class="name">"DCNN"</td><td>{fmt_num(r.dcnn_cycles)}</td><td>{fmt_num(r.dcnn_energy)}</td></tr>
                    </tbody></table>
                    <p class="muted" data-testid="scnn-summary" data-speedup=r.speedup_vs_dcnn.to_string() data-energy=r.energy_vs_dcnn.to_string()>
                        {format!("speedup {:.2}× · energy {:.2}× less than DCNN · weight density {:.2}, activation density {:.2}{}",
                            r.speedup_vs_dcnn, r.energy_vs_dcnn, r.weight_density, r.act_density,
                            if r.images > 1 { format!(" · mean of {} images", r.images) } else { String::new() })}</p>
                }.into_any(),
            })}
            <Chart testid="scnn-chart" name="scnn-vs-dcnn" fig=scnn_fig/>

            <h2>"Sparse Winograd (ReLU and pruning in the Winograd domain)"</h2>
            <div class="controls">
                <label>"Tile"<select data-testid="tile-select" on:change=move |ev| { let t = if event_target_value(&ev) == "4" { 4 } else { 2 }; set(&|v| v.tile = t) }>
                    <option value="2" selected=move || tile.get() == Tile::F2>"F(2×2, 3×3)"</option>
                    <option value="4" selected=move || tile.get() == Tile::F4>"F(4×4, 3×3)"</option></select></label>
                {density_input("Density", "wino-density-input", wino_density, |v, x| v.wino_density = x)}
            </div>
            {move || wino_now.get().map(|r| match r {
                Err(e) => view! { <p class="banner error">{e}</p> }.into_any(),
                Ok(m) => view! {
                    <table class="data" data-testid="winograd-table"><thead><tr><th>"setting"</th><th>"multiplications"</th><th>"× fewer than dense spatial"</th></tr></thead><tbody>
                        {[("dense spatial", "dense_spatial", m.dense_spatial), ("sparse spatial", "sparse_spatial", m.sparse_spatial),
                          ("dense Winograd", "dense_winograd", m.dense_winograd), ("sparse Winograd (conventional)", "sparse_winograd", m.sparse_winograd),
                          ("Winograd-ReLU", "sparse_winograd_relu", m.sparse_winograd_relu)]
                            .into_iter().map(|(label, key, n)| view! {
                                <tr data-key=key data-value=n.to_string()><td class="name">{label}</td><td>{n}</td>
                                    <td>{format!("{:.2}", m.dense_spatial as f64 / n.max(1) as f64)}</td></tr>
                            }).collect_view()}
                    </tbody></table>
                }.into_any(),
            })}
            <p class="muted">"Sparse spatial and conventional sparse Winograd prune the spatial weights (fine) to the density; Winograd-ReLU prunes the Winograd-domain weights to it and applies the ReLU after the input transform. As reported by Liu et al. (ICLR 2018), not computed here: 10.4× (CIFAR-10), 6.8× (CIFAR-100), 10.8× (ImageNet) fewer multiplications."</p>
            <Chart testid="winograd-chart" name="sparse-winograd" fig=wino_fig/>

            <h2>"Vector MAC with per-vector scaling (VS-Quant §2.2)"</h2>
            <div class="controls">{num_input("weight bits", "mac-wbits", wb, 1, 16)}{num_input("activation bits", "mac-abits", ab, 1, 16)}{num_input("V", "mac-v", v, 1, 1024)}{num_input("scale bits M", "mac-m", m, 0, 16)}</div>
            {move || match mac.get() {
                Err(e) => view! { <p class="banner error">{e}</p> }.into_any(),
                Ok(r) => view! {
                    <dl class="numbers" data-testid="mac-numbers">
                        <div><dt>"area vs 8/8"</dt><dd data-testid="mac-area" data-value=r.relative_area.to_string()>{format!("{:.1} %", r.relative_area * 100.0)}</dd></div>
                        <div><dt>"energy vs 8/8"</dt><dd data-testid="mac-energy" data-value=r.relative_energy.to_string()>{format!("{:.1} %", r.relative_energy * 100.0)}</dd></div>
                        <div><dt>"multipliers"</dt><dd>{fmt_num(r.design.multipliers)}</dd></div>
                        <div><dt>"adder tree"</dt><dd>{fmt_num(r.design.adder_tree)}</dd></div>
                        <div><dt>"scale multipliers"</dt><dd>{fmt_num(r.design.scale_multipliers)}</dd></div>
                    </dl>
                    <p class="muted">"A parametric model in adder-bit units (V·w·a multiplier bits, adder tree, accumulator, scale product, operand buffer reads at 0.5 per bit). The paper's 4/4 results are drawn as reported (the arXiv and MLSys versions disagree), not computed."</p>
                }.into_any(),
            }}
            <Chart testid="mac-chart" name="vector-mac" fig=mac_fig/>
        </section>
    }
}
