//! The read-only view of a shared experiment (`/e/{share}`): an analysis opens in the explorer with its
//! tensor and configuration fixed, recomputed by the same core as when it was shared; a sweep shows its
//! results table and per-tensor chart.

use crate::api;
use crate::charts;
use crate::components::chart::Chart;
use crate::state::{Ctx, Spec, TensorData};
use leptos::prelude::*;
use lowbit_api::{AnalyzeRequest, Experiment};
use serde_json::Value;
use std::sync::Arc;

#[component]
pub fn Shared(
    /// The share id from the address.
    share: String,
) -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let exp = RwSignal::new(None::<Result<Experiment, String>>);
    let s2 = share.clone();
    leptos::task::spawn_local(async move {
        let r = api::get::<Experiment>(&format!("/api/shared/{s2}")).await;
        if let Ok(e) = &r
            && e.kind == "analysis"
            && let Ok(a) = serde_json::from_value::<AnalyzeRequest>(e.config.clone())
        {
            ctx.spec.set(Spec::from_quant_spec(&a.config));
            let tensor = a.tensor.as_str().map(str::to_string).unwrap_or_else(|| a.tensor.to_string());
            ctx.busy.set(Some("Loading the shared tensor…".into()));
            match api::get_f32(&format!("/api/shared/{s2}/tensor")).await {
                Ok((shape, values)) => ctx.data.set(Some(Arc::new(TensorData { name: tensor, shape, values }))),
                Err(e) => ctx.error.set(Some(format!("The shared tensor could not be loaded: {e}"))),
            }
            ctx.busy.set(None);
        }
        exp.set(Some(r));
    });
    view! {
        {move || match exp.get() {
            None => view! { <p class="empty">"Loading the shared experiment…"</p> }.into_any(),
            Some(Err(e)) => view! { <p class="banner error" data-testid="error">{format!("No shared experiment here: {e}")}</p> }.into_any(),
            Some(Ok(v)) => {
                let kind = v.kind.clone();
                let share = share.clone();
                view! {
                    <section>
                        <h1 data-testid="experiment-name">{v.name.clone()}</h1>
                        <p class="muted">{v.notes.clone()}</p>
                        <p>{format!("{kind} · {} results · read-only · ", v.result_count)}
                            <a data-testid="export-csv" href=format!("/api/shared/{share}/export?format=csv")>"CSV"</a>" · "
                            <a href=format!("/api/shared/{share}/export?format=parquet")>"Parquet"</a>" · "
                            <a href=format!("/api/shared/{share}/export?format=json")>"JSON"</a></p>
                        {if kind == "analysis" {
                            view! { <p class="muted">{format!("Tensor {}", v.config["tensor"])}</p><crate::pages::explorer::Explorer readonly=true/> }.into_any()
                        } else {
                            view! { <SweepResults results=v.results.clone().unwrap_or_default()/> }.into_any()
                        }}
                    </section>
                }.into_any()
            }
        }}
    }
}

/// A sweep's results: the table and per-tensor SQNR.
#[component]
fn SweepResults(
    /// The experiment's result rows.
    results: Vec<Value>,
) -> impl IntoView {
    let names: Vec<String> = results
        .iter()
        .map(|r| format!("{} · {}", r["tensor"].as_str().unwrap_or(""), r["format"].as_str().unwrap_or("")))
        .collect();
    let sq: Vec<f64> = results.iter().map(|r| r["sqnr_db"].as_f64().unwrap_or(f64::NAN)).collect();
    let fig = Signal::derive(move || Some(charts::sqnr_bars(&names, &sq)));
    view! {
        <Chart testid="sqnr-chart" name="sqnr-per-tensor" fig=fig/>
        <div class="scroll"><table class="data" data-testid="results-table">
            <thead><tr><th>"tensor"</th><th>"format"</th><th>"granularity"</th><th>"clip"</th><th>"SQNR dB"</th><th>"MSE"</th><th>"bits/el"</th></tr></thead>
            <tbody>{results.iter().map(|r| view! { <tr>
                <td class="name">{r["tensor"].as_str().unwrap_or("").to_string()}</td><td>{r["format"].as_str().unwrap_or("").to_string()}</td>
                <td>{r["granularity"].as_str().unwrap_or("").to_string()}</td><td>{r["clip_method"].as_str().unwrap_or("").to_string()}</td>
                <td>{r["sqnr_db"].as_f64().map_or("—".into(), |v| format!("{v:.2}"))}</td><td>{r["mse"].as_f64().map_or("—".into(), crate::compute::fmt_num)}</td>
                <td>{r["bits_per_element"].as_f64().map_or("—".into(), |v| format!("{v:.3}"))}</td>
            </tr> }).collect_view()}</tbody>
        </table></div>
    }
}
