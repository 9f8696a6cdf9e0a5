//! Diff: two checkpoints on the server — an original and a compressed version of it — compared tensor by
//! tensor (`GET /api/diff`, core's `diff`): how each pair was found (name, an exporter's prefix, content —
//! transposed when stored so), SQNR, cosine, max error, the format the file stores it in (its integer type
//! and the axis its scales vary along) or the one its values imply, and both histograms overlaid. Pairs can
//! be forced (`A=B`). The two checkpoints are in the URL (`?tab=diff&da=…&db=…`).

use crate::api;
use crate::charts;
use crate::components::chart::Chart;
use crate::state::Ctx;
use leptos::prelude::*;
use lowbit_api::{CheckpointDiff, CheckpointList};
use serde_json::Value;

fn format_of(p: &Value) -> String {
    let e = &p["encoding"];
    if !e.is_null() {
        let zp = if e["zero_point"] == true { ", zero points" } else { "" };
        return format!(
            "{} {} ({} scales{zp})",
            e["dtype"].as_str().unwrap_or(""),
            e["granularity"].as_str().unwrap_or(""),
            e["scales"]
        );
    }
    match p["inferred"]["bits"].as_u64() {
        Some(b) => format!("~{b} bits, {}", p["inferred"]["granularity"].as_str().unwrap_or("")),
        None => "float".into(),
    }
}

#[component]
pub fn DiffPage() -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let list = LocalResource::new(|| api::get::<CheckpointList>("/api/checkpoints?limit=200"));
    let (a0, b0) = ctx.diff.get_untracked().unwrap_or_default();
    let a = RwSignal::new(a0);
    let b = RwSignal::new(b0);
    let pairs = RwSignal::new(String::new());
    let result = RwSignal::new(None::<CheckpointDiff>);
    let busy = RwSignal::new(false);
    let chosen = RwSignal::new(0usize);
    let run = move || {
        let (ia, ib) = (a.get_untracked(), b.get_untracked());
        if ia.is_empty() || ib.is_empty() {
            ctx.error.set(Some("Pick both checkpoints first.".into()));
            return;
        }
        let p = pairs.get_untracked();
        busy.set(true);
        leptos::task::spawn_local(async move {
            let url = format!(
                "/api/diff?a={}&b={}&pairs={}",
                crate::state::encode(&ia),
                crate::state::encode(&ib),
                crate::state::encode(p.trim())
            );
            match api::get::<CheckpointDiff>(&url).await {
                Ok(d) => {
                    chosen.set(0);
                    result.set(Some(d));
                    ctx.diff.set(Some((ia, ib)));
                }
                Err(e) => ctx.error.set(Some(format!("Could not compare: {e}"))),
            }
            busy.set(false);
        });
    };
    // Both in the URL: compare at once.
    Effect::new(move |done: Option<bool>| {
        if done != Some(true) && !a.get_untracked().is_empty() && !b.get_untracked().is_empty() {
            run();
        }
        true
    });
    let rows = Memo::new(move |_| {
        result.get().map(|d| d.diff["pairs"].as_array().cloned().unwrap_or_default()).unwrap_or_default()
    });
    let fig = Signal::derive(move || {
        let r = rows.get();
        r.get(chosen.get()).map(|p| charts::diff_histograms(p["b"].as_str().unwrap_or(""), &p["hist_a"], &p["hist_b"]))
    });
    let options = move |sel: RwSignal<String>| {
        list.get()
            .and_then(|r| r.ok())
            .map(|l| {
                l.checkpoints
                    .into_iter()
                    .map(|c| {
                        let id = c.id.clone();
                        let selected = move || sel.get() == id;
                        view! { <option value=c.id.clone() selected=selected>{format!("{} ({} tensors)", c.name, c.tensor_count)}</option> }
                    })
                    .collect_view()
            })
    };
    view! {
        <section>
            <div class="row">
                <label>"original (A) " <select data-testid="diff-a" on:change=move |ev| a.set(event_target_value(&ev))>
                    <option value="">"—"</option>{move || options(a)}</select></label>
                <label>"compressed (B) " <select data-testid="diff-b" on:change=move |ev| b.set(event_target_value(&ev))>
                    <option value="">"—"</option>{move || options(b)}</select></label>
                <label>"force pairs " <input type="text" size="40" placeholder="A_NAME=B_NAME, …" data-testid="diff-pairs"
                    prop:value=move || pairs.get() on:change=move |ev| pairs.set(event_target_value(&ev))/></label>
                <button data-testid="diff-run" on:click=move |_| run() disabled=move || busy.get()>"Compare"</button>
            </div>
            {move || result.get().map(|d| {
                let only = |k: &str| d.diff[k].as_array().map_or(0, |v| v.len());
                view! { <p class="figure" data-testid="diff-summary">{format!("{} against {}: {} pairs; unpaired {} in A, {} in B",
                    d.b.name, d.a.name, rows.get_untracked().len(), only("only_a"), only("only_b"))}</p> }
            })}
            <div class="scroll">
                <table class="data" data-testid="diff-table">
                    <thead><tr><th>"A"</th><th>"B"</th><th>"paired by"</th><th>"SQNR dB"</th><th>"cosine"</th><th>"max error"</th><th>"format of B"</th></tr></thead>
                    <tbody>
                        {move || rows.get().into_iter().enumerate().map(|(i, p)| {
                            let how = format!("{}{}", p["pairing"].as_str().unwrap_or(""), if p["transposed"] == true { ", transposed" } else { "" });
                            let db = p["sqnr_db"].as_f64().map_or("exact".to_string(), |v| format!("{v:.2}"));
                            view! {
                                <tr class:front=move || chosen.get() == i on:click=move |_| chosen.set(i) data-a=p["a"].as_str().unwrap_or("").to_string()>
                                    <td class="name">{p["a"].as_str().unwrap_or("").to_string()}</td>
                                    <td class="name">{p["b"].as_str().unwrap_or("").to_string()}</td>
                                    <td>{how}</td><td>{db}</td>
                                    <td>{format!("{:.6}", p["cosine"].as_f64().unwrap_or(f64::NAN))}</td>
                                    <td>{format!("{:.3e}", p["max_abs_err"].as_f64().unwrap_or(f64::NAN))}</td>
                                    <td>{format_of(&p)}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
            <Chart testid="diff-histogram" name="diff-histogram" fig=fig/>
        </section>
    }
}
