//! Jobs & experiments: sweep the whole checkpoint on the server, or export it quantized as a downloadable
//! safetensors file, and watch either live (progress, metric series); recent jobs of every kind, any of
//! which can be followed; keep a job as an experiment, list/filter/compare experiments, export CSV.

use crate::api;
use crate::charts;
use crate::components::chart::Chart;
use crate::compute::COMPARE;
use crate::state::Ctx;
use leptos::prelude::*;
use lowbit_api::{
    Artifact, ArtifactList, Experiment, ExperimentList, ExportSpec, Job, JobEvent, JobSpec, JobState, NewExperiment,
    SweepSpec,
};
use lowbit_core::quant::QuantSpec;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

/// Follows a job's server-sent events until it ends, calling `on` with every event.
fn follow(id: &str, on: impl Fn(JobEvent) + 'static) {
    let Ok(es) = web_sys::EventSource::new(&format!("/api/jobs/{id}/events")) else { return };
    let es2 = es.clone();
    let cb = Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
        let Some(text) = e.data().as_string() else { return };
        let Ok(ev) = api::parse::<JobEvent>(&text) else { return };
        let finished = ev.job.state.finished();
        on(ev);
        if finished {
            es2.close();
        }
    });
    let _ = es.add_event_listener_with_callback("progress", cb.as_ref().unchecked_ref());
    // The listener lives as long as the event source, which closes itself at the end.
    cb.forget();
}

/// A job's artifacts: (name, download URL, size in bytes).
async fn artifacts(id: &str) -> Result<Vec<Artifact>, String> {
    Ok(api::get::<ArtifactList>(&format!("/api/jobs/{id}/artifacts")).await?.artifacts)
}

/// What the page shows of the job it follows: the job row (from its events), its metric points so far,
/// and its artifacts once it has succeeded.
#[derive(Clone, Copy)]
struct Followed {
    metrics: RwSignal<Vec<(String, i64, f64)>>,
    artifacts: RwSignal<Vec<Artifact>>,
}

impl Followed {
    /// Follows job `id` from its start (the event stream replays every row and point), replacing what was shown.
    fn follow(self, ctx: Ctx, id: String, on_end: impl Fn() + 'static) {
        self.metrics.set(Vec::new());
        self.artifacts.set(Vec::new());
        follow(&id.clone(), move |ev| {
            let new: Vec<(String, i64, f64)> =
                ev.new_metrics.into_iter().filter_map(|p| Some((p.name, p.step, p.value?))).collect();
            if !new.is_empty() {
                self.metrics.update(|m| m.extend(new));
            }
            let state = ev.job.state;
            ctx.job.set(Some(ev.job));
            if state.finished() {
                on_end();
            }
            if state == JobState::Succeeded {
                let id = id.clone();
                leptos::task::spawn_local(async move {
                    match artifacts(&id).await {
                        Ok(a) => self.artifacts.set(a),
                        Err(e) => ctx.error.set(Some(format!("Could not list the job's files: {e}"))),
                    }
                });
            }
        });
    }
}

/// Recent jobs of every kind; choosing one follows it.
#[component]
fn JobList(refresh: RwSignal<u32>, followed: Followed) -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let jobs = LocalResource::new(move || {
        refresh.get();
        async move { api::get::<lowbit_api::JobList>("/api/jobs?limit=20").await }
    });
    view! {
        <h3>"Recent jobs"</h3>
        <table data-testid="job-list">
            <thead><tr><th>"kind"</th><th>"state"</th><th>"progress"</th><th>"on"</th><th></th></tr></thead>
            <tbody>
                {move || jobs.get().and_then(|r| r.ok()).map(|v| {
                    v.jobs.into_iter().map(|j| {
                        let id = j.id.clone();
                        let sm = &j.summary;
                        let on = sm["checkpoint_name"].as_str().or(sm["checkpoint"].as_str()).or(sm["sequence"].as_str()).unwrap_or("").to_string();
                        let what = match (sm["format"].as_str(), sm["configs"].as_u64()) {
                            (Some(f), _) => format!("{on} · {f}"),
                            (_, Some(n)) => format!("{on} · {n} configurations"),
                            _ => on,
                        };
                        let pct = format!("{:.0} %", 100.0 * j.progress);
                        let open = move |_| followed.follow(ctx, id.clone(), move || refresh.update(|r| *r += 1));
                        view! {
                            <tr data-kind=j.kind.clone()>
                                <td>{j.kind.clone()}</td>
                                <td>{j.state.as_str()}</td>
                                <td>{pct}</td>
                                <td>{what}</td>
                                <td><button class="small" on:click=open>"Follow"</button></td>
                            </tr>
                        }
                    }).collect_view()
                })}
            </tbody>
        </table>
    }
}

#[component]
pub fn Jobs() -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let with_compare = RwSignal::new(false);
    let starting = RwSignal::new(false);
    let keep_name = RwSignal::new(String::new());
    let refresh = RwSignal::new(0u32);
    let followed = Followed { metrics: RwSignal::new(Vec::new()), artifacts: RwSignal::new(Vec::new()) };
    let metric_fig = Memo::new(move |_| {
        let m = followed.metrics.get();
        (!m.is_empty()).then(|| charts::metric_series(&m))
    });
    // Starts a job of `kind` on the open checkpoint (uploading it first if it was read in the page), with the
    // fields `body` gives for the checkpoint's id, and follows it.
    let launch = move |kind: &'static str, body: fn(String, QuantSpec, bool) -> JobSpec| {
        starting.set(true);
        leptos::task::spawn_local(async move {
            let Some(id) = crate::session::ensure_on_server(ctx).await else {
                starting.set(false);
                return;
            };
            let config = ctx.spec.get_untracked().quant_spec();
            match api::post::<_, Job>("/api/jobs", &body(id, config, with_compare.get_untracked())).await {
                Ok(j) => {
                    let jid = j.id.clone();
                    keep_name.set(format!(
                        "{kind} · {} · {}",
                        ctx.ckpt.get_untracked().map(|c| c.name.clone()).unwrap_or_default(),
                        ctx.spec.get_untracked().label()
                    ));
                    ctx.job.set(Some(j));
                    refresh.update(|r| *r += 1);
                    followed.follow(ctx, jid, move || refresh.update(|r| *r += 1));
                }
                Err(e) => ctx.error.set(Some(format!("Could not start the {kind}: {e}"))),
            }
            starting.set(false);
        });
    };
    let export = move |_| {
        launch("export", |checkpoint, config, _| {
            JobSpec::Export(ExportSpec { checkpoint, config, prune: None, tensor: None })
        });
    };
    let start = move |_| {
        launch("sweep", |checkpoint, config, compare| {
            let mut configs = vec![config];
            if compare {
                configs.extend(COMPARE.iter().filter_map(|(_, j)| serde_json::from_str::<QuantSpec>(j).ok()));
            }
            JobSpec::Sweep(SweepSpec { checkpoint, configs, tensor: None })
        });
    };
    let cancel = move |_| {
        if let Some(id) = ctx.job.get_untracked().map(|j| j.id) {
            leptos::task::spawn_local(async move {
                if let Err(e) = api::delete::<Job>(&format!("/api/jobs/{id}")).await {
                    ctx.error.set(Some(e));
                }
            });
        }
    };
    let keep = move |_| {
        let Some(id) = ctx.job.get_untracked().map(|j| j.id) else { return };
        let name = keep_name.get_untracked();
        leptos::task::spawn_local(async move {
            let new = NewExperiment { name, notes: String::new(), job: Some(id), analysis: None };
            match api::post::<_, Experiment>("/api/experiments", &new).await {
                Ok(_) => refresh.update(|r| *r += 1),
                Err(e) => ctx.error.set(Some(format!("Could not keep the job: {e}"))),
            }
        });
    };
    let state = move || ctx.job.get().map(|j| j.state.as_str());
    view! {
        <section>
            <h2>"Sweep or export the whole checkpoint on the server"</h2>
            <div class="controls">
                <crate::components::controls::Controls readonly=false/>
            </div>
            <div class="row">
                <label><input type="checkbox" prop:checked=move || with_compare.get() on:change=move |ev| with_compare.set(event_target_checked(&ev))/>
                    " also every configuration of the format comparison"</label>
                <button data-testid="sweep-button" on:click=start disabled=move || starting.get() || ctx.ckpt.get().is_none()>"Start sweep"</button>
                <button data-testid="export-button" on:click=export disabled=move || starting.get() || ctx.ckpt.get().is_none()
                    title="Quantize every floating-point tensor with the configuration above and keep the result as a safetensors file">"Download quantized checkpoint"</button>
            </div>
            {move || ctx.ckpt.get().is_some_and(|c| c.server_id.is_none()).then(|| view! {
                <p class="muted">"This checkpoint was read in the page; starting a sweep uploads it to this lowbit server first."</p>
            })}
            {move || ctx.job.get().map(|j| {
                view! {
                    <div class="job">
                        <progress data-testid="job-progress" max="1" value=j.progress data-state=state></progress>
                        <span data-testid="job-state">{format!("{} {} · {} of {} tasks", j.kind, j.state, j.done, j.total)}</span>
                        {(!j.state.finished()).then(|| view! { <button class="small" on:click=cancel>"Cancel"</button> })}
                        {j.error.map(|e| view! { <span class="bad">{e}</span> })}
                    </div>
                }
            })}
            {move || {
                let a = followed.artifacts.get();
                (!a.is_empty()).then(|| view! {
                    <ul class="artifacts">
                        {a.into_iter().map(|a| view! {
                            <li><a data-testid="artifact-link" href=a.url download=a.name.clone()>{format!("⤓ {}", a.name)}</a>
                                <span class="muted">{format!(" · {:.1} MB", a.size_bytes as f64 / 1e6)}</span></li>
                        }).collect_view()}
                    </ul>
                })
            }}
            <Show when=move || metric_fig.get().is_some()>
                <Chart testid="metric-chart" name="metrics" fig=metric_fig/>
            </Show>
            <Show when=move || state() == Some("succeeded")>
                <div class="row">
                    <input type="text" aria-label="Experiment name" data-testid="keep-name" prop:value=move || keep_name.get() on:input=move |ev| keep_name.set(event_target_value(&ev))/>
                    <button data-testid="keep-button" on:click=keep>"Keep as experiment"</button>
                </div>
            </Show>
            <JobList refresh=refresh followed=followed/>
            <Experiments refresh=refresh/>
        </section>
    }
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// The experiments list with filter, selection, side-by-side comparison and exports.
#[component]
fn Experiments(
    /// Bumped when an experiment was added.
    refresh: RwSignal<u32>,
) -> impl IntoView {
    let q = RwSignal::new(String::new());
    let list = LocalResource::new(move || {
        refresh.track();
        let q = q.get();
        async move { api::get::<ExperimentList>(&format!("/api/experiments?q={}", crate::state::encode(&q))).await }
    });
    let selected = RwSignal::new(Vec::<String>::new());
    let compared = LocalResource::new(move || {
        let ids = selected.get();
        async move {
            let mut out = Vec::new();
            for id in ids {
                if let Ok(v) = api::get::<Experiment>(&format!("/api/experiments/{id}")).await {
                    out.push(v);
                }
            }
            out
        }
    });
    let fig = Signal::derive(move || {
        let exps = compared.get()?;
        let series: Vec<(String, Vec<String>, Vec<f64>)> = exps
            .iter()
            .map(|e| {
                let rs = e.results.as_deref().unwrap_or_default();
                let x = rs
                    .iter()
                    .map(|r| format!("{} · {}", r["tensor"].as_str().unwrap_or(""), r["format"].as_str().unwrap_or("")))
                    .collect();
                let y = rs.iter().map(|r| r["sqnr_db"].as_f64().unwrap_or(f64::NAN)).collect();
                (e.name.clone(), x, y)
            })
            .collect();
        (!series.is_empty()).then(|| charts::experiments_bars(&series, "SQNR (dB)"))
    });
    view! {
        <h2>"Experiments"</h2>
        <div class="row">
            <input type="search" placeholder="filter by name or notes" aria-label="Filter experiments" data-testid="experiment-filter"
                prop:value=move || q.get() on:input=move |ev| q.set(event_target_value(&ev))/>
            {move || (!selected.get().is_empty()).then(|| view! {
                <a class="button" data-testid="export-combined" href=format!("/api/experiments/export?format=csv&ids={}", selected.get().join(","))>"Export selected as CSV"</a>
            })}
        </div>
        <div class="scroll">
            <table class="data" data-testid="experiment-table">
                <thead><tr><th>"compare"</th><th>"name"</th><th>"kind"</th><th>"results"</th><th>"link"</th><th>"export"</th></tr></thead>
                <tbody>
                    <Suspense fallback=|| view! { <tr><td colspan="6" class="muted">"Loading…"</td></tr> }>
                        {move || list.get().map(|r| match r {
                            Err(e) => view! { <tr><td colspan="6" class="bad">{e}</td></tr> }.into_any(),
                            Ok(v) => {
                                let items = v.experiments;
                                if items.is_empty() {
                                    return view! { <tr><td colspan="6" class="muted">"No experiments yet: keep a sweep or share an analysis."</td></tr> }.into_any();
                                }
                                items.into_iter().map(|e| {
                                    let id = e.id.clone().unwrap_or_default();
                                    let (id2, id3) = (id.clone(), id.clone());
                                    view! { <tr>
                                        <td><input type="checkbox" aria-label="Compare" prop:checked=move || selected.get().contains(&id2)
                                            on:change=move |ev| { let on = event_target_checked(&ev); let id = id3.clone(); selected.update(|s| { s.retain(|x| *x != id); if on { s.push(id); } }) }/></td>
                                        <td class="name">{e.name.clone()}</td>
                                        <td>{e.kind.clone()}</td>
                                        <td>{e.result_count}</td>
                                        <td><a href=e.share_url.clone() target="_blank">"share link"</a></td>
                                        <td><a data-testid="export-csv" href=format!("/api/experiments/{id}/export?format=csv")>"CSV"</a>" · "
                                            <a href=format!("/api/experiments/{id}/export?format=parquet")>"Parquet"</a>" · "
                                            <a href=format!("/api/experiments/{id}/export?format=json")>"JSON"</a></td>
                                    </tr> }
                                }).collect_view().into_any()
                            }
                        })}
                    </Suspense>
                </tbody>
            </table>
        </div>
        <Suspense fallback=|| ()>
            {move || compared.get().filter(|c| !c.is_empty()).map(|exps| view! {
                <table class="data" data-testid="compare-experiments">
                    <thead><tr><th>"experiment"</th><th>"results"</th><th>"mean SQNR dB"</th><th>"worst SQNR dB"</th><th>"mean bits/el"</th></tr></thead>
                    <tbody>{exps.iter().map(|e| {
                        let rs = e.results.as_deref().unwrap_or_default();
                        let sq: Vec<f64> = rs.iter().filter_map(|r| r["sqnr_db"].as_f64()).collect();
                        let bpe: Vec<f64> = rs.iter().filter_map(|r| r["bits_per_element"].as_f64()).collect();
                        view! { <tr><td class="name">{e.name.clone()}</td><td>{rs.len()}</td>
                            <td>{format!("{:.2}", mean(&sq))}</td><td>{format!("{:.2}", sq.iter().cloned().fold(f64::INFINITY, f64::min))}</td><td>{format!("{:.3}", mean(&bpe))}</td></tr> }
                    }).collect_view()}</tbody>
                </table>
            })}
        </Suspense>
        <Show when=move || fig.get().is_some()><Chart testid="experiments-chart" name="experiments" fig=fig/></Show>
    }
}
