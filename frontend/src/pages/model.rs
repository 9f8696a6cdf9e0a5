//! Model: what the format set above does to the open model's predictions. For the digit CNN of DATA.md the
//! page runs the network itself (core's batched forward pass compiled to wasm) on the first MNIST test
//! images as the controls move: accuracy with its 95 % interval, agreement and KL against the unquantized
//! model, and every layer's output SQNR. On the server (any runnable checkpoint, ONNX too): the whole test
//! set (or an uploaded `.npz` with `x` and optionally `y`), the per-layer sensitivity ranking and the
//! mixed-precision plan under a bit budget with its accuracy-vs-bits front — each a job whose report the page
//! draws.

use crate::api;
use crate::charts;
use crate::components::chart::Chart;
use crate::components::controls::Controls;
use crate::state::Ctx;
use leptos::prelude::*;
use lowbit_api::{EvalJobSpec, Job, JobSpec, MixedJobSpec, ModelJob, SensitivityJobSpec};
use lowbit_core::eval::digit::DigitNet;
use lowbit_core::eval::spec::{EvalSpec, MixedSpec};
use lowbit_core::eval::{Compression, Dataset, Evaluation, Network, Reference, evaluate, reference};
use lowbit_core::nn::DigitCnn;
use serde_json::Value;
use std::sync::Arc;

/// MNIST test images the page evaluates on.
const LIVE_SAMPLES: usize = 500;
pub const DIGIT_NAMES: [&str; 5] = [
    "conv_layers.0.weight",
    "conv_layers.3.weight",
    "conv_layers.6.weight",
    "fc_layers.0.weight",
    "fc_layers.2.weight",
];

/// Whether the checkpoint is the digit CNN of DATA.md (the network the page can run).
pub fn is_digit_cnn(c: &crate::state::Ckpt) -> bool {
    DIGIT_NAMES.iter().all(|n| c.tensors.iter().any(|t| t.name == *n))
}

fn pct(v: Option<f64>) -> String {
    v.map_or("–".into(), |a| format!("{:.2} %", 100.0 * a))
}

/// The digit CNN from the open checkpoint: parsed from the page's bytes, or fetched tensor by tensor.
pub async fn load_net(ckpt: Arc<crate::state::Ckpt>) -> Result<DigitNet, String> {
    if let Some(bytes) = &ckpt.local {
        let c = lowbit_core::readers::read(bytes).map_err(|e| e.to_string())?;
        return DigitNet::from_checkpoint(&c).map_err(|e| e.to_string());
    }
    let id = ckpt.server_id.clone().ok_or("the checkpoint is neither in the page nor on the server")?;
    let mut tensors = Vec::new();
    for layer in ["conv_layers.0", "conv_layers.3", "conv_layers.6", "fc_layers.0", "fc_layers.2"] {
        for part in ["weight", "bias"] {
            let name = format!("{layer}.{part}");
            let enc = js_sys::encode_uri_component(&name).as_string().unwrap_or_default();
            let (shape, values) = api::get_f32(&format!("/api/checkpoints/{id}/tensors/{enc}/raw")).await?;
            tensors.push((name, shape, values));
        }
    }
    let cnn = DigitCnn::from_fn(|name, shape| {
        let (_, s, v) = tensors
            .iter()
            .find(|(n, ..)| n == name)
            .ok_or_else(|| lowbit_core::Error::tensor(format!("no `{name}`")))?;
        if s != shape {
            return Err(lowbit_core::Error::tensor(format!("`{name}` has shape {s:?}, not {shape:?}")));
        }
        Ok(v.clone())
    })
    .map_err(|e| e.to_string())?;
    Ok(DigitNet::new(&cnn))
}

pub async fn load_mnist(n: usize) -> Result<Dataset, String> {
    let bytes = api::get_bytes(&format!("/api/examples/mnist/{n}")).await?;
    if bytes.len() != n * 785 {
        return Err("the MNIST download was cut short".into());
    }
    let x: Vec<f32> = bytes[..n * 784].iter().map(|&b| b as f32).collect();
    let y: Vec<u32> = bytes[n * 784..].iter().map(|&b| b as u32).collect();
    Dataset::new(x, &[n, 1, 28, 28], Some(y)).map_err(|e| e.to_string())
}

/// Starts a job and follows it to its end; its `report.json`.
async fn run_job(spec: JobSpec, status: RwSignal<Option<String>>) -> Result<Value, String> {
    let job = api::post::<_, Job>("/api/jobs", &spec).await?;
    loop {
        let j: Job = api::get(&format!("/api/jobs/{}", job.id)).await?;
        match j.state {
            lowbit_api::JobState::Succeeded => break,
            lowbit_api::JobState::Failed | lowbit_api::JobState::Cancelled | lowbit_api::JobState::Interrupted => {
                return Err(j.error.unwrap_or_else(|| format!("the job ended {:?}", j.state)));
            }
            _ => status.set(Some(format!("{} {}/{}", spec.kind(), j.done, j.total.max(1)))),
        }
        api::sleep_ms(400).await;
    }
    status.set(None);
    api::get::<Value>(&format!("/api/jobs/{}/artifacts/report.json", job.id)).await
}

#[component]
pub fn Model() -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let is_digit = Memo::new(move |_| ctx.ckpt.get().is_some_and(|c| is_digit_cnn(&c)));
    let runnable = Memo::new(move |_| is_digit.get() || ctx.ckpt.get().is_some_and(|c| c.format == "onnx"));
    let net: RwSignal<Option<Arc<DigitNet>>> = RwSignal::new(None);
    let set: RwSignal<Option<Arc<(Dataset, Reference)>>> = RwSignal::new(None);
    let live_error = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        let Some(c) = ctx.ckpt.get().filter(|_| is_digit.get()) else {
            net.set(None);
            return;
        };
        leptos::task::spawn_local(async move {
            let r = async {
                let n = load_net(c).await?;
                let data = load_mnist(LIVE_SAMPLES).await?;
                let r = reference(&n, &data).map_err(|e| e.to_string())?;
                Ok::<_, String>((n, data, r))
            }
            .await;
            match r {
                Ok((n, d, r)) => {
                    net.set(Some(Arc::new(n)));
                    set.set(Some(Arc::new((d, r))));
                    live_error.set(None);
                }
                Err(e) => live_error.set(Some(format!("The page cannot run this model: {e}"))),
            }
        });
    });
    let live = Memo::new(move |_| {
        let (Some(n), Some(s)) = (net.get(), set.get()) else { return None };
        let spec = ctx.spec.get().quant_spec();
        let t0 = api::now_ms();
        let r = Compression { quant: Some(spec), prune: None }
            .resolve()
            .and_then(|c| evaluate(n.as_ref(), &s.0, &s.1, &vec![c; n.layers().len()], None, true))
            .map_err(|e| e.to_string());
        api::record_ms("lowbitEvalMs", api::now_ms() - t0);
        Some(r)
    });
    let sqnr_fig = Signal::derive(move || {
        live.get().and_then(|r| r.ok()).map(|e: Evaluation| {
            let names: Vec<String> = e.layers.iter().map(|l| l.name.clone()).collect();
            let v: Vec<f64> = e.layers.iter().map(|l| l.output_sqnr_db.unwrap_or(f64::NAN)).collect();
            charts::layer_bars("Output SQNR per layer (against the unquantized model)", "output SQNR (dB)", &names, &v)
        })
    });

    // Server jobs.
    let samples = RwSignal::new(10_000usize);
    // The evaluation set: MNIST's test split, or an uploaded .npz (x, optionally y).
    let eval_set = RwSignal::new("mnist".to_string());
    let sets = LocalResource::new(|| api::get::<lowbit_api::CheckpointList>("/api/checkpoints?limit=200"));
    let budget = RwSignal::new(3.0f64);
    let candidates = RwSignal::new("int2,int3,int4,int8,mxfp4,nvfp4".to_string());
    let status = RwSignal::new(None::<String>);
    let full = RwSignal::new(None::<Value>);
    let sens = RwSignal::new(None::<Value>);
    let mixed = RwSignal::new(None::<Value>);
    let start = move |kind: &'static str| {
        let spec = ctx.spec.get_untracked().quant_spec();
        let limit = Some(samples.get_untracked()).filter(|&n| n < 10_000);
        let mix = (kind == "mixed").then(|| MixedSpec {
            budget: budget.get_untracked(),
            candidates: candidates.get_untracked(),
            objective: None,
            clip: None,
            range: None,
            front: None,
        });
        let run = EvalSpec { quant: (kind != "mixed").then_some(spec), limit, mixed: mix, ..EvalSpec::default() };
        if let Err(e) = run.check() {
            ctx.error.set(Some(format!("Cannot start: {e}")));
            return;
        }
        leptos::task::spawn_local(async move {
            let Some(id) = crate::session::ensure_on_server(ctx).await else { return };
            let set = eval_set.get_untracked();
            let job = ModelJob { checkpoint: id, data: (set != "mnist").then_some(set), calib_data: None, run };
            let spec = match kind {
                "eval" => JobSpec::Eval(EvalJobSpec(job)),
                "sensitivity" => JobSpec::Sensitivity(SensitivityJobSpec(job)),
                _ => JobSpec::Mixed(MixedJobSpec(job)),
            };
            status.set(Some(format!("{kind}: starting")));
            match run_job(spec, status).await {
                Ok(v) => match kind {
                    "eval" => full.set(Some(v)),
                    "sensitivity" => sens.set(Some(v)),
                    _ => mixed.set(Some(v)),
                },
                Err(e) => {
                    status.set(None);
                    ctx.error.set(Some(format!("The {kind} job failed: {e}")));
                }
            }
        });
    };
    let sens_fig = Signal::derive(move || {
        sens.get().map(|s| {
            let layers = s["layers"].as_array().cloned().unwrap_or_default();
            let names: Vec<String> = layers.iter().map(|l| l["name"].as_str().unwrap_or("").to_string()).collect();
            let kl: Vec<f64> = layers.iter().map(|l| l["kl"].as_f64().unwrap_or(f64::NAN)).collect();
            charts::layer_bars("Sensitivity: KL with only this layer compressed", "KL (nats)", &names, &kl)
        })
    });
    let front_fig = Signal::derive(move || {
        mixed.get().map(|m| {
            let pts = |key: &str| m[key].as_array().cloned().unwrap_or_default();
            let front: Vec<(f64, f64)> = pts("front")
                .iter()
                .filter_map(|p| Some((p["bits_per_param"].as_f64()?, p["accuracy"].as_f64()?)))
                .collect();
            let uniform: Vec<(String, f64, f64)> = pts("uniform")
                .iter()
                .filter_map(|u| {
                    Some((u["candidate"].as_str()?.to_string(), u["bits_per_param"].as_f64()?, u["accuracy"].as_f64()?))
                })
                .collect();
            let chosen = m["bits_per_param"].as_f64().zip(m["accuracy"].as_f64());
            charts::accuracy_front(&front, &uniform, chosen)
        })
    });

    view! {
        <section>
            {move || ctx.ckpt.get().is_none().then(|| view! { <p class="empty">"Open a model first: the digit CNN of DATA.md, or an ONNX model (on the server)."</p> })}
            {move || (ctx.ckpt.get().is_some() && !runnable.get()).then(|| view! {
                <p class="empty">"lowbit cannot run this checkpoint: it runs ONNX models and the digit CNN of DATA.md."</p>
            })}
            <Controls readonly=false/>
            <Show when=move || is_digit.get()>
                <h3>{format!("Live, in the page: the first {LIVE_SAMPLES} MNIST test images")}</h3>
                {move || live_error.get().map(|e| view! { <p class="error">{e}</p> })}
                <div data-testid="model-live">
                    {move || match live.get() {
                        None => view! { <p class="muted">"Loading the model and the test images…"</p> }.into_any(),
                        Some(Err(e)) => view! { <p class="error">{e}</p> }.into_any(),
                        Some(Ok(e)) => {
                            let [lo, hi] = e.accuracy_ci95.unwrap_or([f64::NAN; 2]);
                            view! {
                                <p class="figure">
                                    <span data-testid="live-accuracy">{pct(e.accuracy)}</span>
                                    <span class="muted">{format!(" (95 % CI {:.2}–{:.2} %)", 100.0 * lo, 100.0 * hi)}</span>
                                    " · fp32 " <span data-testid="live-fp32">{pct(e.fp32_accuracy)}</span>
                                    " · agreement " {pct(Some(e.agreement))}
                                    " · KL " {format!("{:.2e}", e.kl)}
                                    " · " <span data-testid="live-bits">{format!("{:.3}", e.bits_per_param)}</span> " bits/param"
                                </p>
                            }.into_any()
                        }
                    }}
                </div>
                <Chart testid="model-output-sqnr" name="output-sqnr" fig=sqnr_fig/>
            </Show>
            <Show when=move || runnable.get()>
                <h3>"On the server"</h3>
                <div class="row">
                    <label>"evaluation set " <select data-testid="model-set" on:change=move |ev| eval_set.set(event_target_value(&ev))>
                        <option value="mnist">"MNIST test split"</option>
                        {move || sets.get().and_then(|r| r.ok()).map(|l| l.checkpoints.into_iter().filter(|c| c.format == "npz").map(|c| {
                            view! { <option value=c.id.clone()>{c.name.clone()}</option> }
                        }).collect_view())}
                    </select></label>
                    <label>"samples " <input type="number" min="1" max="10000" data-testid="model-samples"
                        prop:value=move || samples.get().to_string()
                        on:change=move |ev| if let Ok(v) = event_target_value(&ev).parse() { samples.set(v) }/></label>
                    <button data-testid="model-eval" on:click=move |_| start("eval")>"Evaluate"</button>
                    <button data-testid="model-sensitivity" on:click=move |_| start("sensitivity")>"Per-layer sensitivity"</button>
                    <label>"budget (bits/param) " <input type="number" step="0.25" min="1" data-testid="model-budget"
                        prop:value=move || budget.get().to_string()
                        on:change=move |ev| if let Ok(v) = event_target_value(&ev).parse() { budget.set(v) }/></label>
                    <label>"candidates " <input type="text" size="36" data-testid="model-candidates"
                        prop:value=move || candidates.get()
                        on:change=move |ev| candidates.set(event_target_value(&ev))/></label>
                    <button data-testid="model-mixed" on:click=move |_| start("mixed")>"Mixed precision"</button>
                    {move || status.get().map(|s| view! { <span class="muted" data-testid="model-status">{s}</span> })}
                </div>
                {move || full.get().map(|e| view! {
                    <p class="figure" data-testid="model-full">
                        {format!("{} test images: accuracy {} (95 % CI {}), fp32 {}, agreement {}, KL {:.2e}",
                            e["n"], pct(e["accuracy"].as_f64()),
                            e["accuracy_ci95"].as_array().map(|c| c.iter().map(|v| pct(v.as_f64())).collect::<Vec<_>>().join("–")).unwrap_or_default(),
                            pct(e["fp32_accuracy"].as_f64()), pct(e["agreement"].as_f64()), e["kl"].as_f64().unwrap_or(f64::NAN))}
                    </p>
                })}
                <Chart testid="model-sensitivity-chart" name="sensitivity" fig=sens_fig/>
                {move || mixed.get().map(|m| {
                    let rows: Vec<(String, String)> = m["assignment"].as_object().map(|o| o.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string())).collect()).unwrap_or_default();
                    view! {
                        <p class="figure" data-testid="model-mixed-result">{format!("budget {} → {:.3} bits/param, accuracy {} (verified), KL {:.2e}",
                            m["budget"], m["bits_per_param"].as_f64().unwrap_or(f64::NAN), pct(m["accuracy"].as_f64()), m["kl"].as_f64().unwrap_or(f64::NAN))}</p>
                        <table class="data" data-testid="model-assignment">
                            <thead><tr><th>"layer"</th><th>"format"</th></tr></thead>
                            <tbody>{rows.into_iter().map(|(l, c)| view! { <tr><td class="name">{l}</td><td>{c}</td></tr> }).collect_view()}</tbody>
                        </table>
                    }
                })}
                <Chart testid="model-front-chart" name="mixed-precision-front" fig=front_fig/>
            </Show>
        </section>
    }
}
