//! Distributed training: data-parallel SGD over N simulated workers with gradient compression (DGC and the
//! compressors people use), run on the server as `train` jobs of method `dgc`. One click starts a run per
//! chosen compressor, another DGC's ablation (DGC as set, then each of its four techniques flipped in turn —
//! off if on, on if off: from the official defaults, momentum correction, factor masking and warm-up off and
//! local clipping on). Accuracy is drawn
//! against epochs, against the bytes each worker sent, and against simulated time — recomputed live for the
//! network set here from each run's measured compute time and wire cost (core's cost model), so one set of
//! runs answers "what at 1 Gbit/s, what at 100". Shared as `?tab=distributed&runs=…`.

use crate::charts;
use crate::components::chart::Chart;
use crate::pages::training::{RunList, RunRow, series};
use crate::state::Ctx;
use leptos::prelude::*;
use lowbit_api::Metrics;
use lowbit_core::gradient::network::{Cost, Network, time_to_accuracy};
use lowbit_core::training::{Arch, Compressor, DistSpec, Method, TrainSpec};
use serde_json::Value;

/// MNIST's training images: an epoch is this many samples.
const TRAIN_IMAGES: f64 = 60_000.0;

#[derive(Debug, Clone, PartialEq)]
struct Form {
    model: Arch,
    workers: usize,
    /// The compressors "Compare" starts, one run each.
    compressors: Vec<Compressor>,
    sparsity: f64,
    levels: u32,
    rank: usize,
    /// DGC's four techniques (for "Compare"; the ablation flips each in turn).
    momentum_correction: bool,
    clipping: bool,
    clip_norm: f32,
    factor_masking: bool,
    warmup: bool,
    warmup_epochs: usize,
    steps: usize,
    batch: usize,
    lr: f64,
    seed: u64,
    eval_every: usize,
    eval_images: usize,
    /// The network runs are started with and the charts and times are drawn for.
    bandwidth_gbps: f64,
    latency_us: f64,
    /// The accuracy whose time to reach the table shows.
    target: f64,
}

impl Default for Form {
    fn default() -> Self {
        let base = TrainSpec::new(Arch::Mlp, Method::Dgc, 1000);
        let d = DistSpec::new(16, Compressor::Dgc);
        Self {
            model: Arch::Mlp,
            workers: d.workers,
            compressors: vec![
                Compressor::Dense,
                Compressor::Topk,
                Compressor::Dgc,
                Compressor::Qsgd,
                Compressor::Powersgd,
            ],
            sparsity: d.sparsity,
            levels: d.levels,
            rank: d.rank,
            momentum_correction: true,
            clipping: false,
            clip_norm: 5.0,
            factor_masking: true,
            warmup: true,
            warmup_epochs: 1,
            steps: base.steps,
            batch: 128,
            lr: base.lr,
            seed: base.seed,
            eval_every: 100,
            eval_images: 2000,
            bandwidth_gbps: d.bandwidth_gbps,
            latency_us: d.latency_us,
            target: d.target,
        }
    }
}

/// DGC's techniques, as the ablation flips them.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Technique {
    MomentumCorrection,
    Clipping,
    FactorMasking,
    Warmup,
}

impl Technique {
    const ALL: [Technique; 4] = [Self::MomentumCorrection, Self::Clipping, Self::FactorMasking, Self::Warmup];
}

impl Form {
    fn net(&self) -> Network {
        Network { bandwidth_gbps: self.bandwidth_gbps, latency_us: self.latency_us }
    }

    /// The form with DGC's technique `t` flipped (DGC's ablation).
    fn flipped(&self, t: Technique) -> Form {
        let mut f = self.clone();
        match t {
            Technique::MomentumCorrection => f.momentum_correction = !f.momentum_correction,
            Technique::Clipping => f.clipping = !f.clipping,
            Technique::FactorMasking => f.factor_masking = !f.factor_masking,
            Technique::Warmup => f.warmup = !f.warmup,
        }
        f
    }

    /// The run of compressor `c` as the form says.
    fn spec(&self, c: Compressor) -> TrainSpec {
        let mut run = TrainSpec::new(self.model, Method::Dgc, self.steps);
        (run.batch, run.lr, run.seed, run.eval_every, run.eval_images) =
            (self.batch, self.lr, self.seed, self.eval_every, self.eval_images);
        run.dist = Some(DistSpec {
            sparsity: self.sparsity,
            levels: self.levels,
            rank: self.rank,
            momentum_correction: self.momentum_correction,
            clip_norm: self.clipping.then_some(self.clip_norm),
            factor_masking: self.factor_masking,
            warmup_epochs: if self.warmup { self.warmup_epochs } else { 0 },
            bandwidth_gbps: self.bandwidth_gbps,
            latency_us: self.latency_us,
            target: self.target,
            ..DistSpec::new(self.workers, c)
        });
        run
    }
}

/// A distributed run's short name: workers, compressor, what it takes, and which of DGC's techniques are off.
pub(crate) fn dist_label(d: &Value) -> String {
    let c = d["compressor"].as_str().unwrap_or("?");
    let sparsity = format!(" {:.1} %", 100.0 * d["sparsity"].as_f64().unwrap_or(0.0));
    let detail = match c {
        "topk" | "randk" => sparsity,
        "dgc" => {
            let mut s = sparsity;
            for (key, name) in [("momentum_correction", "momentum correction"), ("factor_masking", "factor masking")] {
                if d[key].as_bool() == Some(false) {
                    s += &format!(" −{name}");
                }
            }
            match d["clip_norm"].as_f64() {
                Some(t) => s += &format!(" clip {t}"),
                None => s += " −clipping",
            }
            if d["warmup_epochs"].as_u64() == Some(0) {
                s += " −warm-up";
            }
            s
        }
        "qsgd" => format!(" s={}", d["levels"].as_u64().unwrap_or(0)),
        "powersgd" => format!(" rank {}", d["rank"].as_u64().unwrap_or(0)),
        _ => String::new(),
    };
    format!(" {} × {c}{detail}", d["workers"].as_u64().unwrap_or(0))
}

/// (step, test accuracy, bytes one worker sent so far, compute seconds so far, wire cost so far).
type Point = (i64, f64, f64, f64, Cost);

/// A run's evaluations in step order: (step, test accuracy, bytes one worker sent so far, compute seconds
/// so far, wire cost so far); step 0 (before training) costs nothing.
fn timeline(m: &Metrics) -> Vec<Point> {
    let at = |name: &str| series(m, name);
    let (acc_steps, acc) = at("test_accuracy");
    let (bytes, compute, wire_b, wire_s) =
        (at("bytes_sent"), at("compute_seconds"), at("wire_bytes"), at("wire_steps"));
    let value = |s: &(Vec<i64>, Vec<f64>), step: i64| s.0.iter().position(|&x| x == step).map(|i| s.1[i]);
    acc_steps
        .iter()
        .zip(acc)
        .filter_map(|(&step, a)| {
            if step == 0 {
                return Some((0, a, 0.0, 0.0, Cost::default()));
            }
            let wire = Cost { bytes: value(&wire_b, step)?, steps: value(&wire_s, step)? };
            Some((step, a, value(&bytes, step)?, value(&compute, step)?, wire))
        })
        .collect()
}

#[component]
pub fn Distributed() -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let form = RwSignal::new(Form::default());
    let list = RunList::new(ctx, |j| j.summary["method"] == "dgc");
    let RunList { runs, curves, starting, shown } = list;
    let launch = move |specs: Vec<TrainSpec>| list.launch(ctx, specs);
    let compare = move |_| {
        let f = form.get_untracked();
        if f.compressors.is_empty() {
            ctx.error.set(Some("Choose at least one compressor to compare.".into()));
            return;
        }
        launch(f.compressors.iter().map(|&c| f.spec(c)).collect());
    };
    let ablation = move |_| {
        let f = form.get_untracked();
        let mut specs = vec![f.spec(Compressor::Dgc)];
        specs.extend(Technique::ALL.map(|t| f.flipped(t).spec(Compressor::Dgc)));
        launch(specs);
    };

    // The shown distributed runs: (name, batch, timeline).
    let shown_runs = Memo::new(move |_| {
        let c = curves.get();
        let all = runs.get();
        shown
            .get()
            .iter()
            .filter_map(|id| {
                let j = all.iter().find(|j| &j.id == id)?;
                let m = &c.iter().find(|(i, _)| i == id)?.1;
                let name = format!("{}{}", j.summary["model"].as_str().unwrap_or("?"), dist_label(&j.summary["dist"]));
                Some((name, j.summary["batch"].as_f64().unwrap_or(1.0), timeline(m)))
            })
            .collect::<Vec<_>>()
    });
    let chart = move |heading: &'static str, x_label: &'static str, x: fn(&Form, f64, &Point) -> f64| {
        Memo::new(move |_| {
            let f = form.get();
            let lines: Vec<(String, Vec<f64>, Vec<f64>)> = shown_runs
                .get()
                .iter()
                .map(|(name, batch, t)| {
                    (
                        name.clone(),
                        t.iter().map(|p| x(&f, *batch, p)).collect(),
                        t.iter().map(|p| p.1 * 100.0).collect(),
                    )
                })
                .collect();
            lines
                .iter()
                .any(|l| !l.1.is_empty())
                .then(|| charts::runs_overlay(heading, x_label, "test accuracy (%)", &lines))
        })
    };
    let by_epoch = chart("Accuracy against epochs", "epoch", |_, batch, p| p.0 as f64 * batch / TRAIN_IMAGES);
    let by_bytes = chart("Accuracy against bytes each worker sent", "MB sent per worker", |_, _, p| p.2 / 1e6);
    let by_time = chart("Accuracy against simulated time", "simulated seconds", |f, _, p| p.3 + p.4.seconds(&f.net()));
    let share = move || format!("/?tab=distributed&runs={}", shown.get().join(","));

    let num = move |testid: &'static str, get: fn(&Form) -> String, set: fn(&mut Form, &str)| {
        view! {
            <input type="number" data-testid=testid prop:value=move || get(&form.get())
                on:change=move |ev| { let v = event_target_value(&ev); form.update(|f| set(f, &v)) }/>
        }
    };
    let check = move |testid: &'static str, get: fn(&Form) -> bool, set: fn(&mut Form, bool)| {
        view! {
            <input type="checkbox" data-testid=testid prop:checked=move || get(&form.get())
                on:change=move |ev| { let on = event_target_checked(&ev); form.update(|f| set(f, on)) }/>
        }
    };
    view! {
        <section>
            <h2>"Distributed training"</h2>
            <p class="muted">"Data-parallel SGD on MNIST over N simulated workers: each computes the gradient of its shard of the batch, compresses it, and every replica applies the same aggregated update. Bytes are what each worker puts on the wire (values, indices, headers); simulated time is the slowest worker's measured compute plus the exchange on the network below (ring all-reduce for dense and PowerSGD, all-gather for sparse and quantized messages)."</p>
            <div class="controls">
                <label>"Model"
                    <select data-testid="dist-model" on:change=move |ev| { if let Ok(a) = event_target_value(&ev).parse() { form.update(|f| f.model = a) } }>
                        {Arch::ALL.iter().map(|a| view! { <option value=a.name() selected=move || form.get().model == *a>{a.name()}</option> }).collect_view()}
                    </select>
                </label>
                <label title="Simulated workers (1 to 64); the batch is split among them">"Workers" {num("dist-workers", |f| f.workers.to_string(), |f, v| if let Ok(x) = v.parse() { f.workers = x })}</label>
                <label title="The fraction of each gradient not sent (top-k, DGC, random-k)">"Gradient sparsity" {num("dist-sparsity", |f| f.sparsity.to_string(), |f, v| if let Ok(x) = v.parse() { f.sparsity = x })}</label>
                <label title="QSGD's levels s">"QSGD levels" {num("dist-levels", |f| f.levels.to_string(), |f, v| if let Ok(x) = v.parse() { f.levels = x })}</label>
                <label title="PowerSGD's rank r">"PowerSGD rank" {num("dist-rank", |f| f.rank.to_string(), |f, v| if let Ok(x) = v.parse() { f.rank = x })}</label>
                <label>"Steps" {num("dist-steps", |f| f.steps.to_string(), |f, v| if let Ok(x) = v.parse() { f.steps = x })}</label>
                <label>"Batch" {num("dist-batch", |f| f.batch.to_string(), |f, v| if let Ok(x) = v.parse() { f.batch = x })}</label>
                <label>"Learning rate" {num("dist-lr", |f| f.lr.to_string(), |f, v| if let Ok(x) = v.parse() { f.lr = x })}</label>
                <label>"Seed" {num("dist-seed", |f| f.seed.to_string(), |f, v| if let Ok(x) = v.parse() { f.seed = x })}</label>
                <label>"Evaluate every" {num("dist-eval-every", |f| f.eval_every.to_string(), |f, v| if let Ok(x) = v.parse() { f.eval_every = x })}</label>
                <label>"Test images" {num("dist-eval-images", |f| f.eval_images.to_string(), |f, v| if let Ok(x) = v.parse() { f.eval_images = x })}</label>
            </div>
            <div class="controls" data-testid="dist-compressors">
                <span>"Compare: "</span>
                {Compressor::ALL.iter().map(|&c| view! {
                    <label><input type="checkbox" data-compressor=c.name() prop:checked=move || form.get().compressors.contains(&c)
                        on:change=move |ev| { let on = event_target_checked(&ev); form.update(|f| { f.compressors.retain(|x| *x != c); if on { f.compressors.push(c) } }) }/>
                    {c.name()}</label>
                }).collect_view()}
            </div>
            <div class="controls">
                <span>"DGC: "</span>
                <label title="Momentum kept locally and the velocity accumulated (§4.3)">{check("dist-mc", |f| f.momentum_correction, |f, on| f.momentum_correction = on)}" momentum correction"</label>
                <label title="Each worker clips its gradient at the threshold × N^(−1/2)">{check("dist-clipping", |f| f.clipping, |f, on| f.clipping = on)}" local gradient clipping at"</label>
                {num("dist-clip-norm", |f| f.clip_norm.to_string(), |f, v| if let Ok(x) = v.parse() { f.clip_norm = x })}
                <label title="Zero the momentum where the velocity was sent">{check("dist-masking", |f| f.factor_masking, |f, on| f.factor_masking = on)}" momentum factor masking"</label>
                <label title="Sparsity 75 % → 99.9 % over the first epochs">{check("dist-warmup", |f| f.warmup, |f, on| f.warmup = on)}" warm-up over"</label>
                {num("dist-warmup-epochs", |f| f.warmup_epochs.to_string(), |f, v| if let Ok(x) = v.parse() { f.warmup_epochs = x })}
                <span>" epochs"</span>
            </div>
            <div class="controls">
                <span>"Network: "</span>
                <label title="Runs are started with it; the time chart and the simulated time are redrawn for it">"Bandwidth (Gbit/s)" {num("dist-bandwidth", |f| f.bandwidth_gbps.to_string(), |f, v| if let Ok(x) = v.parse::<f64>() && x > 0.0 { f.bandwidth_gbps = x })}</label>
                <label>"Latency (µs)" {num("dist-latency", |f| f.latency_us.to_string(), |f, v| if let Ok(x) = v.parse::<f64>() && x >= 0.0 { f.latency_us = x })}</label>
                <label title="The accuracy whose time to reach the table shows">"Target accuracy" {num("dist-target", |f| f.target.to_string(), |f, v| if let Ok(x) = v.parse() { f.target = x })}</label>
            </div>
            <div class="row">
                <button data-testid="dist-compare" on:click=compare disabled=move || starting.get()>"Compare compressors"</button>
                <button data-testid="dist-ablation" on:click=ablation disabled=move || starting.get() title="DGC as set above, then each of its four techniques flipped (off if on, on if off)">"Run DGC's ablation"</button>
                <a data-testid="dist-share" href=share title="A link to this comparison">"Share this comparison"</a>
            </div>
            <Show when=move || by_epoch.get().is_some()>
                <Chart testid="dist-epoch-chart" name="dist-accuracy-epoch" fig=by_epoch/>
                <Chart testid="dist-bytes-chart" name="dist-accuracy-bytes" fig=by_bytes/>
                <Chart testid="dist-time-chart" name="dist-accuracy-time" fig=by_time/>
            </Show>
            <h3>"Runs"</h3>
            <table class="data" data-testid="dist-runs">
                <thead><tr>
                    <th>"show"</th><th>"run"</th><th>"state"</th><th>"progress"</th><th>"accuracy"</th>
                    <th title="Mean bytes one worker sent per iteration (after the warm-up)">"bytes / iteration"</th>
                    <th title="Dense f32 bytes over sent bytes (§4.4)">"compression"</th>
                    <th title="At the network above">"simulated time"</th>
                    <th>{move || format!("to {:.1} % at 1 Gbit/s", form.get().target * 100.0)}</th>
                    <th>"at 10 Gbit/s"</th>
                    <th></th>
                </tr></thead>
                <tbody>
                    {move || runs.get().into_iter().map(|j| {
                        let id = j.id.clone();
                        let extra = move || comm_cells(form, curves, id.clone());
                        view! { <RunRow job=j curves=curves extra=extra/> }
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}

/// A run's communication cells: bytes per iteration, compression ratio, simulated time at the page's
/// network, and the time to the target accuracy at 1 and 10 Gbit/s.
fn comm_cells(form: RwSignal<Form>, curves: RwSignal<Vec<(String, Metrics)>>, id: String) -> impl IntoView {
    let cells = move || {
        let f = form.get();
        let c = curves.get();
        let m = c.iter().find(|(i, _)| *i == id).map(|(_, m)| m)?;
        let last = |name: &str| series(m, name).1.last().copied();
        let t = timeline(m);
        let now = t.last().map(|p| p.3 + p.4.seconds(&f.net()));
        let points: Vec<(f64, f64, Cost)> = t.iter().map(|p| (p.1, p.3, p.4)).collect();
        let tta = |gbps: f64| {
            time_to_accuracy(&points, f.target, &Network { bandwidth_gbps: gbps, ..f.net() })
                .map_or("not reached".to_string(), |s| format!("{s:.2} s"))
        };
        Some([
            last("bytes_per_iteration").map_or(String::new(), |b| format!("{b:.0} B")),
            last("compression_ratio").map_or(String::new(), |r| format!("{r:.1}×")),
            now.map_or(String::new(), |s| format!("{s:.2} s")),
            tta(1.0),
            tta(10.0),
        ])
    };
    let cell = move |i: usize, testid: &'static str| {
        let cells = cells.clone();
        view! { <td data-testid=testid>{move || cells().map(|c| c[i].clone()).unwrap_or_default()}</td> }
    };
    view! {
        {cell(0, "dist-bytes")}
        {cell(1, "dist-ratio")}
        {cell(2, "dist-time")}
        {cell(3, "dist-tta-1")}
        {cell(4, "dist-tta-10")}
    }
}
