//! Tensor explorer: histogram with every method's clip, the clipping curve with each method's marker, the
//! scales heatmap, and the numbers — recomputed in the page on every control change. Also the share action.

use crate::charts;
use crate::components::chart::Chart;
use crate::components::controls::Controls;
use crate::compute::{self, fmt_num};
use crate::state::Ctx;
use leptos::prelude::*;

#[component]
pub fn Explorer(
    /// The shared view: controls shown but fixed, no share button.
    readonly: bool,
) -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let hist = Memo::new(move |_| ctx.data.get().map(|d| compute::histogram(&d.values)));
    // The numbers come from the page's worker: the controls never wait for a quantization. A new tensor
    // clears the old numbers; a new configuration keeps them until the new ones arrive.
    let explore = ctx.explore;
    Effect::new(move |prev: Option<Option<usize>>| {
        let spec = ctx.spec.get().quant_spec();
        let data = ctx.data.get();
        let key = data.as_ref().map(|d| std::sync::Arc::as_ptr(d) as usize);
        if prev.is_some_and(|p| p != key) || data.is_none() {
            explore.set(None);
        }
        if let Some(d) = &data
            && !crate::worker::request_explore(ctx, d, &spec)
        {
            let t0 = crate::api::now_ms();
            explore.set(Some(compute::explore(d, &spec)));
            crate::api::record_ms("lowbitComputeMs", crate::api::now_ms() - t0);
        }
        key
    });
    // The curve depends on format and granularity, not on the chosen clip method.
    let curve_key = Memo::new(move |_| {
        let mut s = ctx.spec.get();
        s.clip = "max".into();
        s.quant_spec()
    });
    let curve = Memo::new(move |_| {
        let spec = curve_key.get();
        let t0 = crate::api::now_ms();
        let r = ctx.data.get().and_then(|d| compute::curve(&d, &spec).ok());
        crate::api::record_ms("lowbitCurveMs", crate::api::now_ms() - t0);
        r
    });
    // The legend's MSEs are every method's whole-tensor MSE — the panel's number for that method — computed
    // in the page's worker, so the page never waits for them.
    // Asked once the controls have rested for 150 ms: a slider being dragged does not queue seven whole-tensor
    // quantizations per step.
    let legend_id = StoredValue::new(None::<f64>);
    let legend_gen = StoredValue::new(0u64);
    Effect::new(move |_| {
        let (Some(d), Some(c)) = (ctx.data.get(), curve.get()) else { return };
        let methods: Vec<String> = c.thresholds.iter().map(|(m, _)| m.clone()).collect();
        let spec = curve_key.get_untracked();
        let g = legend_gen.get_value() + 1;
        legend_gen.set_value(g);
        legend_id.set_value(None);
        leptos::task::spawn_local(async move {
            crate::api::sleep_ms(150).await;
            if legend_gen.get_value() == g {
                legend_id.set_value(crate::worker::request_methods(ctx, &d, &spec, &methods));
            }
        });
    });
    let legend_mse =
        Memo::new(move |_| ctx.legend_mse.get().filter(|(id, _)| Some(*id) == legend_id.get_value()).map(|(_, m)| m));
    // Read in place: the result holds every group's clip, so a clone per number shown would add up.
    let with_ok = move |f: &dyn Fn(&compute::Explore) -> String| {
        explore.with(|o| o.as_ref().and_then(|r| r.as_ref().ok()).map(f))
    };
    let hist_fig = Signal::derive(move || hist.get().map(|h| charts::histogram(&h, curve.get().as_ref())));
    let curve_fig = Signal::derive(move || curve.get().map(|c| charts::curve(&c, &ctx.spec.get().clip)));
    let heat_fig = Signal::derive(move || {
        explore.with(|o| o.as_ref().and_then(|r| r.as_ref().ok()).and_then(|e| e.scales.as_ref().map(charts::scales)))
    });
    let num = move |f: fn(&compute::Explore) -> String| move || with_ok(&f).unwrap_or_else(|| "—".to_string());
    view! {
        <section>
            <div class="row">
                {(!readonly).then(|| view! { <crate::components::tensor_picker::TensorPicker/> })}
                <Controls readonly=readonly/>
            </div>
            {move || match (ctx.data.get(), explore.get()) {
                (None, _) if ctx.ckpt.get().is_none() => view! { <p class="empty">"Open a checkpoint on Start to explore its tensors."</p> }.into_any(),
                (None, _) => view! { <p class="empty">"Loading the tensor…"</p> }.into_any(),
                (_, Some(Err(e))) => view! { <p class="banner error" data-testid="config-error">{format!("Cannot quantize this tensor so: {e}")}</p> }.into_any(),
                _ => ().into_any(),
            }}
            <dl class="numbers">
                <div><dt>"clip"</dt><dd data-testid="clip-value">{num(|e| e.clip_text.clone())}</dd></div>
                <div><dt>"MSE"</dt><dd data-testid="mse-value">{num(|e| fmt_num(e.mse))}</dd></div>
                <div><dt>"SQNR (dB)"</dt><dd data-testid="sqnr-value">{num(|e| format!("{:.2}", e.sqnr_db))}</dd></div>
                <div><dt>"bits / element"</dt><dd data-testid="bpe-value">{num(|e| format!("{:.3}", e.bits_per_element))}</dd></div>
                <div><dt>"OCTAV iterations"</dt><dd>{num(|e| e.result.get("octav_iterations").map_or("—".into(), |v| match v {
                    serde_json::Value::Array(a) => format!("{:.1} mean", a.iter().filter_map(|x| x.as_f64()).sum::<f64>() / a.len().max(1) as f64),
                    v => v.to_string(),
                }))}</dd></div>
            </dl>
            {(!readonly).then(|| view! { <ShareBar/> })}
            <ul class="legend" data-testid="method-legend">
                {move || curve.get().map(|c| {
                    let mse = legend_mse.get();
                    let chosen = ctx.spec.get().clip;
                    c.thresholds.iter().map(|(m, clip)| {
                        let e = mse.as_ref().map_or("…".to_string(), |v| compute::fmt_num(v.iter().find(|(n, _)| n == m).map_or(f64::NAN, |x| x.1)));
                        let style = format!("background:{}", charts::method_colour(m));
                        let what = if c.per_group { "typical clip" } else { "clip" };
                        view! { <li class:chosen=chosen == *m title=format!("{what} on the histogram; MSE of the whole tensor with this method")><span class="swatch" style=style></span>
                            <strong>{m.clone()}</strong>{format!(" ±{} · MSE {e}", compute::fmt_num(*clip))}</li> }
                    }).collect_view()
                })}
            </ul>
            <div class="grid2">
                <Chart testid="histogram-chart" name="histogram" fig=hist_fig hold=ctx.explore_pending/>
                <Chart testid="clip-curve-chart" name="clip-curve" fig=curve_fig hold=ctx.explore_pending/>
            </div>
            <Show when=move || heat_fig.get().is_some()>
                <Chart testid="scales-chart" name="scales" fig=heat_fig hold=ctx.explore_pending/>
            </Show>
        </section>
    }
}

/// Keep this analysis as an experiment and show its read-only link.
#[component]
fn ShareBar() -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let link = RwSignal::new(None::<String>);
    let working = RwSignal::new(false);
    // A new configuration or tensor is a new view: the old link no longer describes it.
    Effect::new(move |_| {
        ctx.spec.track();
        ctx.tensor.track();
        link.set(None);
    });
    let share = move |_| {
        working.set(true);
        leptos::task::spawn_local(async move {
            let Some(id) = crate::session::ensure_on_server(ctx).await else {
                working.set(false);
                return;
            };
            let spec = ctx.spec.get_untracked();
            let tensor = ctx.tensor.get_untracked().unwrap_or_default();
            let analysis = lowbit_api::AnalyzeRequest {
                checkpoint: id,
                tensor: tensor.clone().into(),
                config: spec.quant_spec(),
                prune: None,
                curve_points: None,
            };
            let new = lowbit_api::NewExperiment {
                name: format!("{tensor} · {}", spec.label()),
                notes: String::new(),
                job: None,
                analysis: Some(analysis),
            };
            match crate::api::post::<_, lowbit_api::Experiment>("/api/experiments", &new).await {
                Ok(e) => {
                    let origin = web_sys::window().and_then(|w| w.location().origin().ok()).unwrap_or_default();
                    link.set(Some(format!("{origin}{}", e.share_url)));
                }
                Err(e) => ctx.error.set(Some(format!("Could not share: {e}"))),
            }
            working.set(false);
        });
    };
    view! {
        <div class="sharebar">
            <button data-testid="share-button" on:click=share disabled=move || working.get() || ctx.data.get().is_none()>
                {move || if working.get() { "Sharing…" } else { "Share this view" }}
            </button>
            {move || link.get().map(|l| view! {
                <a data-testid="share-link" href=l.clone() target="_blank">{l.clone()}</a>
                <span class="muted">" read-only: the tensor, the configuration and its numbers"</span>
            })}
        </div>
    }
}
