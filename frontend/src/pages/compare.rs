//! Format comparison: every format family near 4 bits (and 8-bit and ternary anchors) on the selected
//! tensor, as a table and an error-versus-bits scatter with the Pareto front. For the digit CNN, each
//! configuration applied to every layer is also run in the page on the first 300 MNIST test images: an
//! accuracy column and an accuracy-versus-bits chart (computed row by row, the page staying responsive).

use crate::charts;
use crate::components::chart::Chart;
use crate::compute::{self, fmt_num};
use crate::state::{Ctx, Spec, Tab};
use leptos::prelude::*;
use lowbit_core::eval::{Compression, Network, evaluate, reference};
use lowbit_core::quant::QuantSpec;

/// MNIST test images each configuration's accuracy is measured on.
const ACC_SAMPLES: usize = 300;

/// Per configuration (by label): its accuracy and bits per parameter over the whole model, or why not.
type Accuracies = Vec<(String, Result<(f64, f64), String>)>;

/// Measures every configuration in turn (yielding to the page between them).
fn measure_accuracy(ckpt: std::sync::Arc<crate::state::Ckpt>, out: RwSignal<Accuracies>) {
    leptos::task::spawn_local(async move {
        let loaded = async {
            let net = super::model::load_net(ckpt).await?;
            let data = super::model::load_mnist(ACC_SAMPLES).await?;
            let r = reference(&net, &data).map_err(|e| e.to_string())?;
            Ok::<_, String>((net, data, r))
        }
        .await;
        let (net, data, r) = match loaded {
            Ok(x) => x,
            Err(e) => {
                out.set(vec![("".into(), Err(e))]);
                return;
            }
        };
        for (label, json) in compute::COMPARE {
            let spec: QuantSpec = serde_json::from_str(json).expect("the comparison configurations parse");
            let e = Compression { quant: Some(spec), prune: None }
                .resolve()
                .and_then(|c| evaluate(&net, &data, &r, &vec![c; net.layers().len()], None, false))
                .map(|e| (e.accuracy.unwrap_or(f64::NAN), e.bits_per_param))
                .map_err(|e| e.to_string());
            out.update(|v| v.push((label.to_string(), e)));
            crate::api::yield_now().await;
        }
    });
}

#[component]
pub fn Compare() -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let rows = Memo::new(move |_| ctx.data.get().map(|d| compute::compare(&d)));
    let fig = Signal::derive(move || rows.get().map(|r| charts::compare_scatter(&r)));
    let acc: RwSignal<Accuracies> = RwSignal::new(Vec::new());
    let digit = Memo::new(move |_| ctx.ckpt.get().filter(|c| super::model::is_digit_cnn(c)));
    Effect::new(move |_| {
        acc.set(Vec::new());
        if let Some(c) = digit.get() {
            measure_accuracy(c, acc);
        }
    });
    let acc_of = move |label: &str| -> String {
        match acc.get().iter().find(|(l, _)| l == label) {
            Some((_, Ok((a, _)))) => format!("{:.2} %", 100.0 * a),
            Some((_, Err(e))) => e.clone(),
            None => acc
                .get()
                .iter()
                .find(|(l, _)| l.is_empty())
                .and_then(|(_, r)| r.clone().err())
                .unwrap_or_else(|| "…".into()),
        }
    };
    let acc_fig = Signal::derive(move || {
        let pts: Vec<(String, f64, f64)> =
            acc.get().iter().filter_map(|(l, r)| r.as_ref().ok().map(|(a, b)| (l.clone(), *b, *a))).collect();
        (!pts.is_empty()).then(|| charts::accuracy_front(&[], &pts, None))
    });
    view! {
        <section>
            <div class="row"><crate::components::tensor_picker::TensorPicker/></div>
            {move || ctx.data.get().is_none().then(|| view! { <p class="empty">"Open a checkpoint and pick a tensor first."</p> })}
            <div class="scroll">
                <table class="data" data-testid="compare-table">
                    <thead><tr><th>"configuration"</th><th>"bits/el"</th><th>"MSE"</th><th>"SQNR dB"</th><th>"Pareto"</th>
                        {move || digit.get().is_some().then(|| view! { <th>{format!("accuracy ({ACC_SAMPLES} MNIST)")}</th> })}<th></th></tr></thead>
                    <tbody>
                        {move || rows.get().unwrap_or_default().into_iter().map(|r| {
                            let spec = r.spec.clone();
                            let open = move |_| { ctx.spec.set(Spec::from_quant_spec(&spec)); ctx.tab.set(Tab::Explorer); };
                            match r.outcome {
                                Ok((b, m, s)) => view! {
                                    <tr class:front=r.pareto><td class="name">{r.label.clone()}</td><td>{format!("{b:.3}")}</td><td>{fmt_num(m)}</td><td>{format!("{s:.2}")}</td>
                                    <td>{if r.pareto { "★" } else { "" }}</td>
                                    {let label = r.label.clone(); move || digit.get().is_some().then(|| view! { <td data-testid="compare-accuracy">{acc_of(&label)}</td> })}
                                    <td><button class="small" on:click=open>"explore"</button></td></tr>
                                }.into_any(),
                                Err(e) => view! { <tr><td class="name">{r.label}</td><td colspan="5" class="muted">{e}</td></tr> }.into_any(),
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
            <Chart testid="compare-chart" name="format-comparison" fig=fig/>
            <Chart testid="compare-accuracy-chart" name="format-accuracy" fig=acc_fig/>
        </section>
    }
}
