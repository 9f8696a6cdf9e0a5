//! Format comparison: every format family near 4 bits (and 8-bit and ternary anchors) on the selected
//! tensor, as a table and an error-versus-bits scatter with the Pareto front.

use crate::charts;
use crate::components::chart::Chart;
use crate::compute::{self, fmt_num};
use crate::state::{Ctx, Spec, Tab};
use leptos::prelude::*;

#[component]
pub fn Compare() -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let rows = Memo::new(move |_| ctx.data.get().map(|d| compute::compare(&d)));
    let fig = Signal::derive(move || rows.get().map(|r| charts::compare_scatter(&r)));
    view! {
        <section>
            <div class="row"><crate::components::tensor_picker::TensorPicker/></div>
            {move || ctx.data.get().is_none().then(|| view! { <p class="empty">"Open a checkpoint and pick a tensor first."</p> })}
            <div class="scroll">
                <table class="data" data-testid="compare-table">
                    <thead><tr><th>"configuration"</th><th>"bits/el"</th><th>"MSE"</th><th>"SQNR dB"</th><th>"Pareto"</th><th></th></tr></thead>
                    <tbody>
                        {move || rows.get().unwrap_or_default().into_iter().map(|r| {
                            let spec = r.spec.clone();
                            let open = move |_| { ctx.spec.set(Spec::from_quant_spec(&spec)); ctx.tab.set(Tab::Explorer); };
                            match r.outcome {
                                Ok((b, m, s)) => view! {
                                    <tr class:front=r.pareto><td class="name">{r.label}</td><td>{format!("{b:.3}")}</td><td>{fmt_num(m)}</td><td>{format!("{s:.2}")}</td>
                                    <td>{if r.pareto { "★" } else { "" }}</td><td><button class="small" on:click=open>"explore"</button></td></tr>
                                }.into_any(),
                                Err(e) => view! { <tr><td class="name">{r.label}</td><td colspan="5" class="muted">{e}</td></tr> }.into_any(),
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
            <Chart testid="compare-chart" name="format-comparison" fig=fig/>
        </section>
    }
}
