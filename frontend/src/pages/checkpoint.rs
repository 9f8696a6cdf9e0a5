//! Checkpoint: every tensor with its statistics and, for the chosen configuration, its SQNR and bits per
//! element, sortable and filterable, so the worst tensors stand out; and a bar chart of per-tensor SQNR.

use crate::api;
use crate::charts;
use crate::components::chart::Chart;
use crate::components::controls::Controls;
use crate::compute::fmt_num;
use crate::state::{Ckpt, Ctx, Spec, Tab, TensorInfo};
use leptos::prelude::*;
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Clone, Copy, PartialEq)]
enum Key {
    Index,
    Name,
    Params,
    Std,
    Sparsity,
    Sqnr,
    Bpe,
}

/// Per-tensor (SQNR, bits per element) of one configuration, filled in as they are computed.
type Scores = HashMap<String, Result<(f64, f64), String>>;

/// A table row: position in the file, the tensor, and its score when computed.
type Row = (usize, TensorInfo, Option<Result<(f64, f64), String>>);

async fn score_all(
    ctx: Ctx,
    ckpt: Arc<Ckpt>,
    spec: Spec,
    generation: u64,
    current: RwSignal<u64>,
    scores: RwSignal<Scores>,
) {
    let qs = spec.quant_spec();
    for t in &ckpt.tensors {
        if current.get_untracked() != generation {
            return;
        }
        let r = match (&ckpt.local, &ckpt.server_id) {
            (Some(bytes), _) => crate::compute::local_tensor(bytes, &t.name)
                .and_then(|d| crate::compute::tensor_summary(&d.values, &d.shape, &qs)),
            (None, Some(id)) => {
                let req = lowbit_api::AnalyzeRequest {
                    checkpoint: id.clone(),
                    tensor: t.name.clone().into(),
                    config: qs.clone(),
                    prune: None,
                    curve_points: Some(0),
                };
                api::post::<_, serde_json::Value>("/api/analyze", &req).await
            }
            .map(|v| {
                (v["sqnr_db"].as_f64().unwrap_or(f64::INFINITY), v["bits_per_element"].as_f64().unwrap_or(f64::NAN))
            }),
            (None, None) => return,
        };
        if current.get_untracked() != generation {
            return;
        }
        scores.update(|s| {
            s.insert(t.name.clone(), r);
        });
        api::yield_now().await;
    }
    let _ = ctx;
}

#[component]
pub fn Checkpoint() -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let filter = RwSignal::new(String::new());
    let sort = RwSignal::new((Key::Index, true));
    let scores = RwSignal::new(Scores::new());
    let generation = RwSignal::new(0u64);
    Effect::new(move |_| {
        let (Some(c), spec) = (ctx.ckpt.get(), ctx.spec.get()) else { return };
        let g = generation.get_untracked() + 1;
        generation.set(g);
        scores.set(Scores::new());
        leptos::task::spawn_local(score_all(ctx, c, spec, g, generation, scores));
    });
    on_cleanup(move || generation.set(u64::MAX));
    let rows = Memo::new(move |_| {
        let Some(c) = ctx.ckpt.get() else { return Vec::new() };
        let f = filter.get().to_lowercase();
        let sc = scores.get();
        let mut rows: Vec<Row> = c
            .tensors
            .iter()
            .enumerate()
            .filter(|(_, t)| f.is_empty() || t.name.to_lowercase().contains(&f))
            .map(|(i, t)| (i, t.clone(), sc.get(&t.name).cloned()))
            .collect();
        let (key, asc) = sort.get();
        let val = |r: &Row| -> f64 {
            match key {
                Key::Index | Key::Name => r.0 as f64,
                Key::Params => r.1.numel as f64,
                Key::Std => r.1.std,
                Key::Sparsity => r.1.sparsity,
                Key::Sqnr => r.2.as_ref().and_then(|x| x.as_ref().ok()).map_or(f64::INFINITY, |x| x.0),
                Key::Bpe => r.2.as_ref().and_then(|x| x.as_ref().ok()).map_or(f64::INFINITY, |x| x.1),
            }
        };
        if key == Key::Name {
            rows.sort_by(|a, b| a.1.name.cmp(&b.1.name));
        } else {
            rows.sort_by(|a, b| val(a).total_cmp(&val(b)));
        }
        if !asc {
            rows.reverse();
        }
        rows
    });
    let bars = Signal::derive(move || {
        let rows = rows.get();
        let pts: Vec<(String, f64)> = rows
            .iter()
            .filter_map(|r| r.2.as_ref().and_then(|x| x.as_ref().ok()).map(|x| (r.1.name.clone(), x.0)))
            .collect();
        (!pts.is_empty()).then(|| {
            let (n, s): (Vec<String>, Vec<f64>) =
                pts.into_iter().map(|(n, s)| (n, if s.is_finite() { s } else { 200.0 })).unzip();
            charts::sqnr_bars(&n, &s)
        })
    });
    let header = move |label: &'static str, key: Key| {
        view! {
            <th>
                <button class="th" on:click=move |_| sort.update(|s| *s = if s.0 == key { (key, !s.1) } else { (key, true) })>
                    {label}{move || if sort.get().0 == key { if sort.get().1 { " ▲" } else { " ▼" } } else { "" }}
                </button>
            </th>
        }
    };
    let done = move || scores.get().len();
    view! {
        <section>
            {move || ctx.ckpt.get().is_none().then(|| view! { <p class="empty">"Open a checkpoint on Start first."</p> })}
            <Controls readonly=false/>
            <div class="row">
                <input type="search" placeholder="filter tensors by name" data-testid="tensor-filter" aria-label="Filter tensors by name"
                    prop:value=move || filter.get() on:input=move |ev| filter.set(event_target_value(&ev))/>
                <span class="muted">{move || {
                    let total = ctx.ckpt.get().map_or(0, |c| c.tensors.len());
                    if done() < total { format!("scoring {} of {total} tensors with {}…", done(), ctx.spec.get().label()) } else { format!("{total} tensors, scored with {}", ctx.spec.get().label()) }
                }}</span>
            </div>
            <div class="scroll">
                <table data-testid="tensor-table" class="data">
                    <thead><tr>
                        {header("#", Key::Index)}{header("name", Key::Name)}<th>"shape"</th><th>"dtype"</th>{header("params", Key::Params)}
                        <th>"min"</th><th>"max"</th>{header("std", Key::Std)}{header("sparsity", Key::Sparsity)}{header("SQNR dB", Key::Sqnr)}{header("bits/el", Key::Bpe)}
                    </tr></thead>
                    <tbody>
                        {move || rows.get().into_iter().map(|(i, t, s)| {
                            let name = t.name.clone();
                            let (sq, bpe, cls) = match &s {
                                Some(Ok((q, b))) => (format!("{q:.2}"), format!("{b:.3}"), if *q < 15.0 { "bad" } else if *q < 20.0 { "warn" } else { "" }),
                                Some(Err(e)) => (e.chars().take(40).collect(), "—".into(), "muted"),
                                None => ("…".into(), "…".into(), "muted"),
                            };
                            view! {
                                <tr class="clickable" on:click=move |_| { ctx.tensor.set(Some(name.clone())); ctx.tab.set(Tab::Explorer); }>
                                    <td>{i}</td><td class="name">{t.name.clone()}</td><td>{format!("{:?}", t.shape)}</td><td>{t.dtype.clone()}</td>
                                    <td>{t.numel}</td><td>{fmt_num(t.min)}</td><td>{fmt_num(t.max)}</td><td>{fmt_num(t.std)}</td>
                                    <td>{format!("{:.1} %", t.sparsity * 100.0)}</td><td class=cls>{sq}</td><td>{bpe}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
            <Chart testid="sqnr-chart" name="sqnr-per-tensor" fig=bars/>
        </section>
    }
}
