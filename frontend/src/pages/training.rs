//! Training lab: start a run on the server — full precision, QAT with the quantization settings above and
//! the STE/PWL/MAD gradient, trained ternary (TTQ) or its fixed-scale baseline (TWN), prune and retrain —
//! watch its curves as it learns, overlay several runs (the step-0 point of each is the model compressed
//! without training), keep runs as experiments, open the trained weights in the explorer, and share the
//! comparison as a link (`?tab=training&runs=…`).

use crate::api;
use crate::charts;
use crate::components::chart::Chart;
use crate::state::{Ctx, Tab};
use leptos::prelude::*;
use lowbit_api::{ArtifactList, Experiment, Job, JobSpec, Metrics, NewExperiment, TrainJobSpec};
use lowbit_core::prune::PruneSpec;
use lowbit_core::training::{Arch, Compressor, DistSpec, Estimator, Method, TrainSpec};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

const PATTERNS: [&str; 7] = ["fine", "vector", "kernel", "filter", "channel", "nm:2:4", "nm:1:4"];

/// The run's form.
#[derive(Debug, Clone, PartialEq)]
struct Form {
    model: Arch,
    method: Method,
    grad: Estimator,
    pattern: String,
    sparsity: f64,
    steps: usize,
    batch: usize,
    lr: f64,
    seed: u64,
    eval_every: usize,
    eval_images: usize,
    clip_every: usize,
    /// Learned clips (LSQ) instead of the clip method above.
    lsq: bool,
    /// Activations: "" (not quantized) or one of ACT_FORMATS, with the clip method `act_clip`.
    act: String,
    act_clip: String,
    /// dgc: simulated workers, the compressor, and the fraction of each gradient not sent.
    workers: usize,
    compressor: Compressor,
    grad_sparsity: f64,
}

/// Activation formats offered: (value, format, bits).
const ACT_FORMATS: [(&str, &str, Option<u32>); 5] = [
    ("", "", None),
    ("uint8", "uint", Some(8)),
    ("uint4", "uint", Some(4)),
    ("int8", "int", Some(8)),
    ("fp8-e4m3", "fp8-e4m3", None),
];
const ACT_CLIPS: [&str; 5] = ["max", "percentile:99.99", "mse", "octav", "kl"];

impl Default for Form {
    fn default() -> Self {
        Self {
            model: Arch::DigitCnn,
            method: Method::Qat,
            grad: Estimator::Mad,
            pattern: "kernel".into(),
            sparsity: 0.8,
            steps: 300,
            batch: 64,
            lr: 0.01,
            seed: 0,
            eval_every: 50,
            eval_images: 2000,
            clip_every: 1,
            lsq: false,
            act: String::new(),
            act_clip: "max".into(),
            workers: 4,
            compressor: Compressor::Dgc,
            grad_sparsity: 0.999,
        }
    }
}

/// A run's short name from its summary: model, method and what the method takes.
pub(crate) fn label(j: &Job) -> String {
    let s = &j.summary;
    let (model, method) = (s["model"].as_str().unwrap_or("?"), s["method"].as_str().unwrap_or("?"));
    let detail = match method {
        "qat" => {
            let q = &s["quant"];
            let bits = q["bits"].as_u64().map(|b| b.to_string()).unwrap_or_default();
            format!(
                " {}{bits} {} {} · {}",
                q["format"].as_str().unwrap_or(""),
                q["granularity"].as_str().unwrap_or("tensor"),
                if s["lsq"].as_bool() == Some(true) { "lsq" } else { q["clip"].as_str().unwrap_or("max") },
                s["grad"].as_str().unwrap_or("")
            )
        }
        "dgc" => crate::pages::distributed::dist_label(&s["dist"]),
        "prune" => format!(
            " {} {:.0} %",
            s["prune"]["pattern"].as_str().unwrap_or(""),
            100.0 * s["prune"]["sparsity"].as_f64().unwrap_or(0.0)
        ),
        _ => String::new(),
    };
    let act = match (s["act"]["format"].as_str(), s["act"]["bits"].as_u64()) {
        (Some(f), Some(b)) => format!(" · act {f}{b}"),
        (Some(f), None) => format!(" · act {f}"),
        _ => String::new(),
    };
    format!("{model} {method}{detail}{act} · seed {}", s["seed"].as_u64().unwrap_or(0))
}

/// A page's training runs: the list, the shown runs' metric series, whether runs are being started.
#[derive(Clone, Copy)]
pub(crate) struct RunList {
    pub runs: RwSignal<Vec<Job>>,
    pub curves: RwSignal<Vec<(String, Metrics)>>,
    pub starting: RwSignal<bool>,
    /// The runs drawn (the URL's `runs`).
    pub shown: RwSignal<Vec<String>>,
}

impl RunList {
    /// The list of the training runs `keep` accepts, kept up to date while the page is open.
    pub fn new(ctx: Ctx, keep: fn(&Job) -> bool) -> Self {
        let list = Self {
            runs: RwSignal::new(Vec::new()),
            curves: RwSignal::new(Vec::new()),
            starting: RwSignal::new(false),
            shown: ctx.training_runs,
        };
        watch_runs(list.shown, list.runs, list.curves, keep);
        list
    }

    /// Starts `specs` as `train` jobs, in order, and shows them; refuses them all if one is invalid.
    pub fn launch(self, ctx: Ctx, specs: Vec<TrainSpec>) {
        for s in &specs {
            if let Err(e) = s.validate() {
                ctx.error.set(Some(format!("Cannot start this run: {e}")));
                return;
            }
        }
        self.starting.set(true);
        leptos::task::spawn_local(async move {
            for run in specs {
                let spec = JobSpec::Train(TrainJobSpec { run, init: None, scratch: false });
                match api::post::<_, Job>("/api/jobs", &spec).await {
                    Ok(j) => {
                        self.shown.update(|s| s.push(j.id.clone()));
                        self.runs.update(|r| r.insert(0, j));
                    }
                    Err(e) => {
                        ctx.error.set(Some(format!("Could not start the run: {e}")));
                        break;
                    }
                }
            }
            self.starting.set(false);
        });
    }
}

/// Polls the training runs (those `keep` accepts) and the shown runs' metric series while the page is open
/// (every 1.5 s; a finished run's series is fetched once more after it ends, then kept).
fn watch_runs(
    shown: RwSignal<Vec<String>>,
    runs: RwSignal<Vec<Job>>,
    curves: RwSignal<Vec<(String, Metrics)>>,
    keep: fn(&Job) -> bool,
) {
    let alive = Arc::new(AtomicBool::new(true));
    let alive2 = alive.clone();
    on_cleanup(move || alive2.store(false, Ordering::Relaxed));
    leptos::task::spawn_local(async move {
        let mut done_loaded: Vec<String> = Vec::new();
        while alive.load(Ordering::Relaxed) {
            if let Ok(list) = api::get::<lowbit_api::JobList>("/api/jobs?limit=100").await {
                let train: Vec<Job> = list.jobs.into_iter().filter(|j| j.kind == "train" && keep(j)).collect();
                if !alive.load(Ordering::Relaxed) {
                    break;
                }
                for id in shown.get_untracked() {
                    let finished = train.iter().find(|j| j.id == id).is_none_or(|j| j.state.finished());
                    if finished && done_loaded.contains(&id) {
                        continue;
                    }
                    if let Ok(m) = api::get::<Metrics>(&format!("/api/jobs/{id}/metrics")).await {
                        if finished {
                            done_loaded.push(id.clone());
                        }
                        curves.update(|c| {
                            c.retain(|(i, _)| *i != id);
                            c.push((id.clone(), m));
                        });
                    }
                }
                runs.set(train);
            }
            api::sleep_ms(1500).await;
        }
    });
}

/// `name`'s series of a job's metrics as (steps, values), non-finite points dropped.
pub(crate) fn series(m: &Metrics, name: &str) -> (Vec<i64>, Vec<f64>) {
    m.series
        .iter()
        .find(|s| s.name == name)
        .map(|s| s.steps.iter().zip(&s.values).filter_map(|(&st, v)| v.map(|v| (st, v))).unzip())
        .unwrap_or_default()
}

#[component]
pub fn Training() -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let form = RwSignal::new(Form::default());
    let list = RunList::new(ctx, |_| true);
    let RunList { runs, curves, starting, shown } = list;

    let start = move |_| {
        let f = form.get_untracked();
        let mut run = TrainSpec::new(f.model, f.method, f.steps);
        run.batch = f.batch;
        run.lr = f.lr;
        run.seed = f.seed;
        run.eval_every = f.eval_every;
        run.eval_images = f.eval_images;
        run.grad = f.grad;
        run.clip_every = f.clip_every;
        run.lsq = f.lsq;
        if let Some((_, format, bits)) = ACT_FORMATS.iter().find(|(v, ..)| *v == f.act && !v.is_empty()) {
            run.act = Some(lowbit_core::quant::QuantSpec {
                clip: Some(f.act_clip.clone()),
                ..lowbit_core::quant::QuantSpec::new(format, *bits)
            });
        }
        if f.method == Method::Qat {
            run.quant = Some(ctx.spec.get_untracked().quant_spec());
        }
        if f.method == Method::Dgc {
            run.dist = Some(DistSpec { sparsity: f.grad_sparsity, ..DistSpec::new(f.workers, f.compressor) });
        }
        if f.method == Method::Prune {
            run.prune = Some(PruneSpec { pattern: f.pattern.clone(), sparsity: f.sparsity, saliency: None });
        }
        list.launch(ctx, vec![run]);
    };

    // One chart of metric `metric` (times `scale`) with a line per shown run.
    let overlay = move |metric: &'static str, scale: f64, heading: &'static str, y: &'static str| {
        Memo::new(move |_| {
            let c = curves.get();
            let all = runs.get();
            let lines: Vec<(String, Vec<f64>, Vec<f64>)> = shown
                .get()
                .iter()
                .filter_map(|id| {
                    let m = &c.iter().find(|(i, _)| i == id)?.1;
                    let name = all.iter().find(|j| &j.id == id).map(label).unwrap_or_else(|| id.clone());
                    let (x, v) = series(m, metric);
                    Some((name, x.into_iter().map(|s| s as f64).collect(), v.into_iter().map(|v| v * scale).collect()))
                })
                .collect();
            lines.iter().any(|l| !l.1.is_empty()).then(|| charts::runs_overlay(heading, "step", y, &lines))
        })
    };
    let accuracy_fig = overlay("test_accuracy", 100.0, "Test accuracy", "accuracy (%)");
    let loss_fig = overlay("loss", 1.0, "Training loss", "loss");
    let share = move || format!("/?tab=training&runs={}", shown.get().join(","));

    let num = move |testid: &'static str, get: fn(&Form) -> String, set: fn(&mut Form, &str)| {
        view! {
            <input type="number" data-testid=testid prop:value=move || get(&form.get())
                on:change=move |ev| { let v = event_target_value(&ev); form.update(|f| set(f, &v)) }/>
        }
    };
    let is = move |m: Method| form.get().method == m;
    view! {
        <section>
            <h2>"Training lab"</h2>
            <p class="muted">"Runs on the server on MNIST (60,000 training images); accuracy is measured on the test images with the weights as deployed — quantized exactly, ternary or pruned. Step 0 of each curve is the model compressed without training."</p>
            <Show when=move || form.get().method == Method::Qat>
                <p>"Quantization-aware training with: " <strong data-testid="train-quant">{move || ctx.spec.get().label()}</strong></p>
                <crate::components::controls::Controls readonly=false/>
            </Show>
            <div class="controls">
                <label>"Model"
                    <select data-testid="train-model" on:change=move |ev| { if let Ok(a) = event_target_value(&ev).parse() { form.update(|f| f.model = a) } }>
                        {Arch::ALL.iter().map(|a| view! { <option value=a.name() selected=move || form.get().model == *a>{a.name()}</option> }).collect_view()}
                    </select>
                </label>
                <label>"Method"
                    <select data-testid="train-method" on:change=move |ev| { if let Ok(m) = event_target_value(&ev).parse() { form.update(|f| f.method = m) } }>
                        {Method::ALL.iter().map(|m| view! { <option value=m.name() selected=move || form.get().method == *m>{m.name()}</option> }).collect_view()}
                    </select>
                </label>
                <label class:hidden=move || !is(Method::Qat)>"Gradient"
                    <select data-testid="train-grad" on:change=move |ev| { if let Ok(g) = event_target_value(&ev).parse() { form.update(|f| f.grad = g) } }>
                        {Estimator::ALL.iter().map(|g| view! { <option value=g.name() selected=move || form.get().grad == *g>{g.name()}</option> }).collect_view()}
                    </select>
                </label>
                <label class:hidden=move || !is(Method::Qat) title="Re-solve the clips every K steps">"Clip every"
                    {num("train-clip-every", |f| f.clip_every.to_string(), |f, v| if let Ok(x) = v.parse() { f.clip_every = x })}
                </label>
                <label class:hidden=move || !is(Method::Qat) title="Learn the clips (LSQ: a trained step size per group) instead of the clipping method above">
                    <input type="checkbox" data-testid="train-lsq" prop:checked=move || form.get().lsq
                        on:change=move |ev| { let on = event_target_checked(&ev); form.update(|f| f.lsq = on) }/>" learned clips (LSQ)"
                </label>
                <label class:hidden=move || !is(Method::Qat) title="Also quantize every layer's input activations (per tensor), the clip solved on each batch">"Activations"
                    <select data-testid="train-act" on:change=move |ev| { let a = event_target_value(&ev); form.update(|f| f.act = a) }>
                        {ACT_FORMATS.iter().map(|(v, ..)| view! { <option value=*v selected=move || form.get().act == *v>{if v.is_empty() { "fp32" } else { v }}</option> }).collect_view()}
                    </select>
                </label>
                <label class:hidden=move || !is(Method::Qat) || form.get().act.is_empty()>"Activation clip"
                    <select data-testid="train-act-clip" on:change=move |ev| { let c = event_target_value(&ev); form.update(|f| f.act_clip = c) }>
                        {ACT_CLIPS.iter().map(|c| view! { <option value=*c selected=move || form.get().act_clip == *c>{*c}</option> }).collect_view()}
                    </select>
                </label>
                <label class:hidden=move || !is(Method::Dgc) title="Simulated data-parallel workers; the batch is split among them">"Workers"
                    {num("train-workers", |f| f.workers.to_string(), |f, v| if let Ok(x) = v.parse() { f.workers = x })}
                </label>
                <label class:hidden=move || !is(Method::Dgc)>"Compressor"
                    <select data-testid="train-compressor" on:change=move |ev| { if let Ok(c) = event_target_value(&ev).parse() { form.update(|f| f.compressor = c) } }>
                        {Compressor::ALL.iter().map(|c| view! { <option value=c.name() selected=move || form.get().compressor == *c>{c.name()}</option> }).collect_view()}
                    </select>
                </label>
                <label class:hidden=move || !is(Method::Dgc) title="The fraction of each gradient not sent">"Gradient sparsity"
                    {num("train-grad-sparsity", |f| f.grad_sparsity.to_string(), |f, v| if let Ok(x) = v.parse() { f.grad_sparsity = x })}
                </label>
                <label class:hidden=move || !is(Method::Prune)>"Pattern"
                    <select data-testid="train-pattern" on:change=move |ev| { let p = event_target_value(&ev); form.update(|f| f.pattern = p) }>
                        {PATTERNS.iter().map(|p| view! { <option value=*p selected=move || form.get().pattern == *p>{*p}</option> }).collect_view()}
                    </select>
                </label>
                <label class:hidden=move || !is(Method::Prune)>"Sparsity"
                    {num("train-sparsity", |f| f.sparsity.to_string(), |f, v| if let Ok(x) = v.parse() { f.sparsity = x })}
                </label>
                <label>"Steps" {num("train-steps", |f| f.steps.to_string(), |f, v| if let Ok(x) = v.parse() { f.steps = x })}</label>
                <label>"Batch" {num("train-batch", |f| f.batch.to_string(), |f, v| if let Ok(x) = v.parse() { f.batch = x })}</label>
                <label>"Learning rate" {num("train-lr", |f| f.lr.to_string(), |f, v| if let Ok(x) = v.parse() { f.lr = x })}</label>
                <label>"Seed" {num("train-seed", |f| f.seed.to_string(), |f, v| if let Ok(x) = v.parse() { f.seed = x })}</label>
                <label>"Evaluate every" {num("train-eval-every", |f| f.eval_every.to_string(), |f, v| if let Ok(x) = v.parse() { f.eval_every = x })}</label>
                <label>"Test images" {num("train-eval-images", |f| f.eval_images.to_string(), |f, v| if let Ok(x) = v.parse() { f.eval_images = x })}</label>
            </div>
            <div class="row">
                <button data-testid="train-start" on:click=start disabled=move || starting.get()>"Start run"</button>
                <a data-testid="train-share" href=share title="A link to this comparison">"Share this comparison"</a>
            </div>
            <Show when=move || accuracy_fig.get().is_some()>
                <Chart testid="train-accuracy-chart" name="training-accuracy" fig=accuracy_fig/>
            </Show>
            <Show when=move || loss_fig.get().is_some()>
                <Chart testid="train-loss-chart" name="training-loss" fig=loss_fig/>
            </Show>
            <h3>"Runs"</h3>
            <table class="data" data-testid="train-runs">
                <thead><tr><th>"show"</th><th>"run"</th><th>"state"</th><th>"progress"</th><th>"accuracy"</th><th></th></tr></thead>
                <tbody>
                    {move || runs.get().into_iter().map(|j| view! { <RunRow job=j curves=curves/> }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}

/// One run: overlay toggle, progress, its last accuracy, cancel, keep as experiment, its files.
/// `extra`: more cells after the accuracy (the distributed page's communication columns).
#[component]
pub(crate) fn RunRow(
    job: Job,
    curves: RwSignal<Vec<(String, Metrics)>>,
    #[prop(optional, into)] extra: Option<ViewFn>,
) -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let shown = ctx.training_runs;
    let id = job.id.clone();
    let name = label(&job);
    let (id1, id2, id3, id4, id5, id6) = (id.clone(), id.clone(), id.clone(), id.clone(), id.clone(), id.clone());
    let acc = move || {
        curves.get().iter().find(|(i, _)| *i == id5).and_then(|(_, m)| series(m, "test_accuracy").1.last().copied())
    };
    let kept = RwSignal::new(false);
    let name2 = name.clone();
    let keep = move |_| {
        let (id, name) = (id3.clone(), name2.clone());
        leptos::task::spawn_local(async move {
            let new = NewExperiment { name, notes: String::new(), job: Some(id), analysis: None };
            match api::post::<_, Experiment>("/api/experiments", &new).await {
                Ok(_) => kept.set(true),
                Err(e) => ctx.error.set(Some(format!("Could not keep the run: {e}"))),
            }
        });
    };
    let cancel = move |_| {
        let id = id2.clone();
        leptos::task::spawn_local(async move {
            if let Err(e) = api::delete::<Job>(&format!("/api/jobs/{id}")).await {
                ctx.error.set(Some(e));
            }
        });
    };
    // The trained weights as a checkpoint of the server, opened in the explorer.
    let open = move |_| {
        let id = id4.clone();
        leptos::task::spawn_local(async move {
            let r = async {
                let arts = api::get::<ArtifactList>(&format!("/api/jobs/{id}/artifacts")).await?.artifacts;
                let a = arts.into_iter().find(|a| a.name == "trained.safetensors").ok_or("the run kept no weights")?;
                api::get_bytes(&a.url).await
            }
            .await;
            match r {
                Ok(bytes) => {
                    if let Some(cid) = crate::session::upload(ctx, &format!("trained-{id}.safetensors"), &bytes).await {
                        ctx.tab.set(Tab::Explorer);
                        crate::session::open_server(ctx, cid);
                    }
                }
                Err(e) => ctx.error.set(Some(format!("Could not open the trained weights: {e}"))),
            }
        });
    };
    let running = !job.state.finished();
    let succeeded = job.state == lowbit_api::JobState::Succeeded;
    view! {
        <tr data-run=id.clone() data-state=job.state.as_str()>
            <td><input type="checkbox" aria-label="Show" data-testid="train-show" prop:checked=move || shown.get().contains(&id1)
                on:change=move |ev| { let on = event_target_checked(&ev); let id = id6.clone(); shown.update(|s| { s.retain(|x| *x != id); if on { s.push(id); } }) }/></td>
            <td class="name">{name}</td>
            <td>{job.state.as_str()}{job.error.clone().map(|e| view! { <span class="bad">{format!(" · {e}")}</span> })}</td>
            <td><progress max="1" value=job.progress></progress></td>
            <td data-testid="train-accuracy">{move || acc().map(|a| format!("{:.2} %", a * 100.0)).unwrap_or_default()}</td>
            {extra.map(|f| f.run())}
            <td>
                {running.then(|| view! { <button class="small" on:click=cancel>"Cancel"</button> })}
                {succeeded.then(|| view! {
                    <button class="small" data-testid="train-open" on:click=open title="Upload the trained weights as a checkpoint and open them in the tensor explorer">"Open weights"</button>
                    <button class="small" data-testid="train-keep" on:click=keep disabled=move || kept.get()>{move || if kept.get() { "Kept" } else { "Keep as experiment" }}</button>
                })}
            </td>
        </tr>
    }
}
