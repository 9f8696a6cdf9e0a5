//! Sparsity & hardware: prune the selected tensor with any pattern, quantize what is left, and read the
//! error, the storage per parameter under each index scheme, SCNN against the dense baselines on it as a
//! layer, and the vector-MAC cost model.

use crate::charts;
use crate::components::chart::Chart;
use crate::compute::{self, fmt_num};
use crate::state::Ctx;
use leptos::prelude::*;

const PATTERNS: [&str; 8] = ["fine", "vector", "vector:col", "kernel", "filter", "channel", "block:4x4", "nm:2:4"];

#[component]
pub fn Sparsity() -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let pattern = RwSignal::new("fine".to_string());
    let sparsity = RwSignal::new(0.5f64);
    let saliency = RwSignal::new("l1".to_string());
    let result = Memo::new(move |_| {
        let (p, s, sal, spec) = (pattern.get(), sparsity.get(), saliency.get(), ctx.spec.get().quant_spec());
        ctx.data.get().map(|d| compute::sparsify(&d, &p, s, &sal, &spec))
    });
    let hw = RwSignal::new(14usize);
    let density = RwSignal::new(0.4f64);
    let sim = RwSignal::new(None::<Result<lowbit_core::sim::scnn::LayerReport, String>>);
    Effect::new(move |_| {
        result.track();
        sim.set(None);
    });
    let simulate = move |_| {
        let (Some(d), Some(Ok(r))) = (ctx.data.get_untracked(), result.get_untracked()) else { return };
        sim.set(Some(compute::scnn(&r.pruned, &d.shape, hw.get_untracked(), density.get_untracked())));
    };
    let sim_fig = Signal::derive(move || {
        sim.get().and_then(|r| r.ok()).map(|r| {
            let c = [r.cycles.total as f64, r.dcnn_opt.cycles as f64, r.dcnn.cycles as f64]
                .map(|v| v / r.dcnn.cycles.max(1) as f64);
            let e = [r.energy.total, r.dcnn_opt.energy.total, r.dcnn.energy.total]
                .map(|v| v / r.dcnn.energy.total.max(f64::MIN_POSITIVE));
            charts::scnn_bars(&["SCNN", "DCNN-opt", "DCNN"], &c, &e)
        })
    });
    let (wb, ab, v, m) = (RwSignal::new(4u32), RwSignal::new(4u32), RwSignal::new(16u32), RwSignal::new(6u32));
    let mac = Memo::new(move |_| compute::mac(wb.get(), ab.get(), v.get(), m.get()));
    let num_input = move |label: &'static str, sig: RwSignal<u32>, lo: u32, hi: u32| {
        view! {
            <label>{label}<input type="number" min=lo max=hi prop:value=move || sig.get()
                on:input=move |ev| { if let Ok(x) = event_target_value(&ev).parse::<u32>() && (lo..=hi).contains(&x) { sig.set(x) } }/></label>
        }
    };
    view! {
        <section>
            <div class="row">
                <crate::components::tensor_picker::TensorPicker/>
                <div class="controls">
                    <label>"Pattern"<select data-testid="pattern-select" on:change=move |ev| pattern.set(event_target_value(&ev))>
                        {PATTERNS.into_iter().map(|p| view! { <option value=p selected=move || pattern.get() == p>{p}</option> }).collect_view()}
                    </select></label>
                    <label>"Sparsity"<input type="range" min="0" max="0.95" step="0.05" data-testid="sparsity-input" prop:value=move || sparsity.get()
                        on:input=move |ev| { if let Ok(s) = event_target_value(&ev).parse::<f64>() { sparsity.set(s) } }/>
                        <span>{move || format!("{:.0} %", sparsity.get() * 100.0)}</span></label>
                    <label>"Saliency"<select on:change=move |ev| saliency.set(event_target_value(&ev))>
                        <option value="l1">"L1"</option><option value="l2">"L2"</option></select></label>
                </div>
            </div>
            <p class="muted">{move || format!("Then quantized with {} (the explorer's configuration).", ctx.spec.get().label())}</p>
            {move || match result.get() {
                None => view! { <p class="empty">"Open a checkpoint and pick a tensor first."</p> }.into_any(),
                Some(Err(e)) => view! { <p class="banner error">{e}</p> }.into_any(),
                Some(Ok(r)) => view! {
                    <dl class="numbers" data-testid="sparsity-numbers">
                        <div><dt>"achieved sparsity"</dt><dd>{format!("{:.1} %", r.sparsity * 100.0)}</dd></div>
                        <div><dt>"groups pruned"</dt><dd>{format!("{} / {}", r.groups_pruned, r.groups)}</dd></div>
                        <div><dt>"SQNR, pruned"</dt><dd>{format!("{:.2} dB", r.prune_sqnr_db)}</dd></div>
                        <div><dt>"SQNR, pruned + quantized"</dt><dd>{format!("{:.2} dB", r.total_sqnr_db)}</dd></div>
                        <div><dt>"MSE"</dt><dd>{fmt_num(r.total_mse)}</dd></div>
                    </dl>
                    <table class="data" data-testid="storage-table"><thead><tr><th>"storage scheme"</th><th>"bits / parameter"</th></tr></thead><tbody>
                        {r.storage.iter().map(|(k, b)| view! { <tr><td class="name">{k.clone()}</td><td>{format!("{b:.3}")}</td></tr> }).collect_view()}
                    </tbody></table>
                }.into_any(),
            }}
            <h2>"SCNN against dense accelerators"</h2>
            <div class="controls">
                <label>"Input H = W"<input type="number" min="1" max="64" prop:value=move || hw.get()
                    on:input=move |ev| { if let Ok(x) = event_target_value(&ev).parse::<usize>() && (1..=64).contains(&x) { hw.set(x) } }/></label>
                <label>"Activation density"<input type="number" min="0.05" max="1" step="0.05" prop:value=move || density.get()
                    on:input=move |ev| { if let Ok(x) = event_target_value(&ev).parse::<f64>() && x > 0.0 && x <= 1.0 { density.set(x) } }/></label>
                <button data-testid="simulate-button" on:click=simulate>"Simulate this layer"</button>
            </div>
            <p class="muted">"8×8 PEs, F = I = 4, 32 accumulator banks (SCNN §6); a linear weight is simulated as a 1×1 convolution; activations are seeded random at the given density."</p>
            {move || sim.get().map(|r| match r {
                Err(e) => view! { <p class="banner error">{e}</p> }.into_any(),
                Ok(r) => view! {
                    <table class="data" data-testid="scnn-table"><thead><tr><th></th><th>"cycles"</th><th>"energy (pJ)"</th></tr></thead><tbody>
                        <tr><td class="name">"SCNN"</td><td>{r.cycles.total}</td><td>{fmt_num(r.energy.total)}</td></tr>
                        <tr><td class="name">"DCNN-opt"</td><td>{r.dcnn_opt.cycles}</td><td>{fmt_num(r.dcnn_opt.energy.total)}</td></tr>
                        <tr><td class="name">"DCNN"</td><td>{r.dcnn.cycles}</td><td>{fmt_num(r.dcnn.energy.total)}</td></tr>
                    </tbody></table>
                    <p class="muted">{format!("multiplier utilisation {:.1} %, weight density {:.2}, activation density {:.2}", r.utilization * 100.0, r.weight_density, r.act_density)}</p>
                }.into_any(),
            })}
            <Show when=move || sim_fig.get().is_some()><Chart testid="scnn-chart" name="scnn" fig=sim_fig/></Show>
            <h2>"Vector MAC with per-vector scaling (VS-Quant §2.2)"</h2>
            <div class="controls">{num_input("weight bits", wb, 1, 16)}{num_input("activation bits", ab, 1, 16)}{num_input("V", v, 1, 1024)}{num_input("scale bits M", m, 0, 16)}</div>
            {move || match mac.get() {
                Err(e) => view! { <p class="banner error">{e}</p> }.into_any(),
                Ok(r) => view! {
                    <dl class="numbers" data-testid="mac-numbers">
                        <div><dt>"area vs 8/8"</dt><dd>{format!("{:.1} %", r.relative_area * 100.0)}</dd></div>
                        <div><dt>"energy vs 8/8"</dt><dd>{format!("{:.1} %", r.relative_energy * 100.0)}</dd></div>
                        <div><dt>"multipliers"</dt><dd>{fmt_num(r.design.multipliers)}</dd></div>
                        <div><dt>"adder tree"</dt><dd>{fmt_num(r.design.adder_tree)}</dd></div>
                        <div><dt>"scale multipliers"</dt><dd>{fmt_num(r.design.scale_multipliers)}</dd></div>
                    </dl>
                    <p class="muted">"A parametric model in adder-bit units (V·w·a multiplier bits, adder tree, accumulator, scale product, operand buffer reads at 0.5 per bit). As reported by the VS-Quant paper (arXiv version), not computed here: 37 % area and 24 % energy saved at 4/4 bits."</p>
                }.into_any(),
            }}
        </section>
    }
}
