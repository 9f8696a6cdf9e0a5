//! The page's Web Workers: the same wasm module started in a worker (`assets/worker.js`), holding a copy of
//! the open tensor and answering the computations that would otherwise hold up the page's thread. Two lanes,
//! each its own worker, so that one never waits behind the other:
//! - `explore`: the explorer's numbers and scales for the chosen configuration — asked on every change, at
//!   most one request in flight (a newer configuration waits for the answer, replacing any older waiting one),
//!   so a dragged slider never builds a queue and the newest configuration is always the next computed;
//! - `legend`: every clip method's whole-tensor MSE (seven quantizations of the tensor), asked once the
//!   controls have rested;
//! - `curves`: the Sparsity page's curves (a hundred prunings of the tensor, dozens of SCNN simulations),
//!   computed in steps so that a newer request of the same kind stops an older one at its next point.
//!
//! Messages in: `{"op": "tensor", "name", "shape": [..], "values": ArrayBuffer}`, then
//! `{"op": "explore", "id": N, "spec": "<QuantSpec JSON>"}`, `{"op": "methods", "id": N, "spec", "methods"}`,
//! `{"op": "curves", "id": N, "request": CurveRequest}` or `{"op": "cancel", "kind": "scnn"}`;
//! out: a JSON string `{"id": N, "explore": {…} | "error": "…"}` or `{"id": N, "mse": [["max", 0.1], …]}`, or
//! for curves a [`CurveMessage`] as a JS object (serde-wasm-bindgen: non-finite numbers travel as they are).

use crate::compute::Explore;
use crate::curves::{CurveRequest, Curves};
use crate::state::{Ctx, TensorData};
use leptos::prelude::Set;
use lowbit_core::quant::QuantSpec;
use serde_json::{Value, json};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::Arc;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

thread_local! {
    static TENSOR: RefCell<Option<Arc<TensorData>>> = const { RefCell::new(None) };
    /// The newest curve request of each kind (the others stop at their next point).
    static NEWEST: RefCell<HashMap<String, f64>> = RefCell::new(HashMap::new());
}

/// One answer of the curve lane: partial (`done` false), whole, or — `result` empty — abandoned.
#[derive(serde::Serialize, serde::Deserialize)]
struct CurveMessage {
    id: f64,
    done: bool,
    result: Option<Result<Curves, String>>,
}

fn post_curves(scope: &web_sys::DedicatedWorkerGlobalScope, m: &CurveMessage) {
    if let Ok(v) = serde_wasm_bindgen::to_value(m) {
        let _ = scope.post_message(&v);
    }
}

/// The worker's side of a curve request: computed as a task that yields between points.
fn start_curves(scope: &web_sys::DedicatedWorkerGlobalScope, id: f64, request: JsValue) {
    let req = serde_wasm_bindgen::from_value::<CurveRequest>(request).map_err(|e| format!("unreadable request: {e}"));
    let d = TENSOR.with(|t| t.borrow().clone()).ok_or_else(|| "the worker has no tensor".to_string());
    let (req, d) = match (req, d) {
        (Ok(r), Ok(d)) => (r, d),
        (Err(e), _) | (_, Err(e)) => return post_curves(scope, &CurveMessage { id, done: true, result: Some(Err(e)) }),
    };
    let kind = req.kind().to_string();
    NEWEST.with(|n| n.borrow_mut().insert(kind.clone(), id));
    let scope = scope.clone();
    wasm_bindgen_futures::spawn_local(async move {
        let alive = || NEWEST.with(|n| n.borrow().get(&kind) == Some(&id));
        let progress = |c: &Curves| post_curves(&scope, &CurveMessage { id, done: false, result: Some(Ok(c.clone())) });
        let result = crate::curves::compute(&d, &req, alive, progress).await;
        post_curves(&scope, &CurveMessage { id, done: true, result });
    });
}

fn get(obj: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// The worker's side of one message.
fn handle(scope: &web_sys::DedicatedWorkerGlobalScope, msg: JsValue) {
    let id = get(&msg, "id").as_f64().unwrap_or(0.0);
    let spec = || get(&msg, "spec").as_string().and_then(|s| serde_json::from_str::<QuantSpec>(&s).ok());
    let answer = match get(&msg, "op").as_string().as_deref() {
        Some("tensor") => {
            let shape: Vec<usize> = js_sys::Array::from(&get(&msg, "shape"))
                .iter()
                .filter_map(|v| v.as_f64().map(|d| d as usize))
                .collect();
            let values = js_sys::Float32Array::new(&get(&msg, "values")).to_vec();
            let name = get(&msg, "name").as_string().unwrap_or_default();
            TENSOR.with(|t| *t.borrow_mut() = Some(Arc::new(TensorData { name, shape, values })));
            return;
        }
        Some("curves") => return start_curves(scope, id, get(&msg, "request")),
        Some("cancel") => {
            let kind = get(&msg, "kind").as_string().unwrap_or_default();
            NEWEST.with(|n| n.borrow_mut().remove(&kind));
            return;
        }
        Some("explore") => {
            let r = TENSOR.with(|t| match (t.borrow().as_deref(), spec()) {
                (Some(d), Some(spec)) => crate::compute::explore(d, &spec),
                _ => Err("the worker has no tensor or no configuration".to_string()),
            });
            // Straight to text, no JSON tree in between: the answer is on the explorer's critical path.
            let text = serde_json::to_string(&ExploreAnswer { id, result: r }).unwrap_or_default();
            let _ = scope.post_message(&JsValue::from_str(&text));
            return;
        }
        Some("methods") => {
            let methods: Vec<String> =
                js_sys::Array::from(&get(&msg, "methods")).iter().filter_map(|v| v.as_string()).collect();
            let mse = TENSOR.with(|t| match (t.borrow().as_deref(), spec()) {
                (Some(d), Some(spec)) => crate::compute::method_mse(d, &spec, &methods),
                _ => Vec::new(),
            });
            let mse: Vec<Value> = mse.into_iter().map(|(m, v)| json!([m, lowbit_core::report::num(v)])).collect();
            json!({"id": id, "mse": mse})
        }
        _ => return,
    };
    let _ = scope.post_message(&JsValue::from_str(&answer.to_string()));
}

/// The explore lane's answer.
#[derive(serde::Serialize, serde::Deserialize)]
struct ExploreAnswer {
    id: f64,
    result: Result<Explore, String>,
}

/// Started by `assets/worker.js` inside the worker: answers messages until the page goes away.
#[wasm_bindgen]
pub fn worker_main() {
    let scope: web_sys::DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let s2 = scope.clone();
    let on = Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| handle(&s2, e.data()));
    scope.set_onmessage(Some(on.as_ref().unchecked_ref()));
    on.forget();
}

/// The page's side of one worker: numbered requests; the tensor sent once per tensor.
struct Client {
    worker: web_sys::Worker,
    next: Cell<f64>,
    /// Which tensor the worker holds (the address of its `Arc`).
    sent: Cell<usize>,
}

impl Client {
    fn start(on_answer: impl Fn(JsValue) + 'static, on_error: impl Fn() + 'static) -> Option<Self> {
        let opts = web_sys::WorkerOptions::new();
        opts.set_type(web_sys::WorkerType::Module);
        let worker = web_sys::Worker::new_with_options("/worker.js", &opts).ok()?;
        let on = Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| on_answer(e.data()));
        worker.set_onmessage(Some(on.as_ref().unchecked_ref()));
        on.forget();
        // The worker's script or module failed to load or run.
        let err = Closure::<dyn Fn(web_sys::Event)>::new(move |_: web_sys::Event| on_error());
        worker.set_onerror(Some(err.as_ref().unchecked_ref()));
        err.forget();
        Some(Self { worker, next: Cell::new(0.0), sent: Cell::new(0) })
    }

    /// Gives the worker its own copy of `d` unless it has it already.
    fn tensor(&self, d: &Arc<TensorData>) {
        let key = Arc::as_ptr(d) as usize;
        if self.sent.get() == key {
            return;
        }
        self.sent.set(key);
        let values = js_sys::Float32Array::from(d.values.as_slice());
        let shape: js_sys::Array = d.shape.iter().map(|&x| JsValue::from_f64(x as f64)).collect();
        let msg = message(&[
            ("op", "tensor".into()),
            ("name", d.name.as_str().into()),
            ("shape", shape.into()),
            ("values", values.buffer().into()),
        ]);
        let _ = self.worker.post_message_with_transfer(&msg, &js_sys::Array::of1(&values.buffer()));
    }

    /// Sends `op` with `fields` under a new request id; the id.
    fn ask(&self, op: &str, fields: Vec<(&str, JsValue)>) -> f64 {
        let id = self.next.get() + 1.0;
        self.next.set(id);
        let mut all = vec![("op", op.into()), ("id", id.into())];
        all.extend(fields);
        let _ = self.worker.post_message(&message(&all));
        id
    }
}

fn spec_field(spec: &QuantSpec) -> (&'static str, JsValue) {
    ("spec", serde_json::to_string(spec).unwrap_or_default().into())
}

fn message(fields: &[(&str, JsValue)]) -> js_sys::Object {
    let msg = js_sys::Object::new();
    for (k, v) in fields {
        let _ = js_sys::Reflect::set(&msg, &JsValue::from_str(k), v);
    }
    msg
}

/// The explore lane's bookkeeping: the request in flight (id, when it was asked), and the newest
/// configuration waiting for it to finish.
#[derive(Default)]
struct Lane {
    in_flight: Option<(f64, f64)>,
    waiting: Option<(Arc<TensorData>, QuantSpec)>,
    /// The newest configuration asked, recomputed in the page if the worker fails.
    last: Option<(Arc<TensorData>, QuantSpec)>,
    /// The worker failed: the page computes from now on.
    broken: bool,
}

thread_local! {
    static EXPLORE: RefCell<Option<Client>> = const { RefCell::new(None) };
    static LANE: RefCell<Lane> = RefCell::new(Lane::default());
    static LEGEND: RefCell<Option<Client>> = const { RefCell::new(None) };
}

/// Asks the explore worker (started on first use) for the explorer's numbers on `d` under `spec`; the
/// answer lands in `ctx.explore`. False when no worker can run here (the caller computes on the page).
pub fn request_explore(ctx: Ctx, d: &Arc<TensorData>, spec: &QuantSpec) -> bool {
    if LANE.with(|l| l.borrow().broken) {
        return false;
    }
    let started = EXPLORE.with(|c| {
        let mut c = c.borrow_mut();
        if c.is_none() {
            *c = Client::start(
                move |v| explore_answer(ctx, &v.as_string().unwrap_or_default()),
                move || explore_failed(ctx),
            );
        }
        c.is_some()
    });
    if !started {
        return false;
    }
    let busy = LANE.with(|l| {
        let mut l = l.borrow_mut();
        l.last = Some((d.clone(), spec.clone()));
        if l.in_flight.is_some() {
            l.waiting = Some((d.clone(), spec.clone()));
        }
        l.in_flight.is_some()
    });
    if !busy {
        send_explore(d, spec);
    }
    ctx.explore_pending.set(true);
    true
}

fn send_explore(d: &Arc<TensorData>, spec: &QuantSpec) {
    EXPLORE.with(|c| {
        if let Some(c) = c.borrow().as_ref() {
            c.tensor(d);
            let id = c.ask("explore", vec![spec_field(spec)]);
            LANE.with(|l| l.borrow_mut().in_flight = Some((id, crate::api::now_ms())));
        }
    });
}

/// The explore worker failed: the page computes the newest configuration itself, and from now on.
fn explore_failed(ctx: Ctx) {
    let last = LANE.with(|l| {
        let mut l = l.borrow_mut();
        l.broken = true;
        l.in_flight = None;
        l.waiting = None;
        l.last.take()
    });
    EXPLORE.with(|c| c.borrow_mut().take());
    if let Some((d, spec)) = last {
        ctx.explore.set(Some(crate::compute::explore(&d, &spec)));
    }
    ctx.explore_pending.set(false);
}

/// An answer of the explore worker: shown unless a newer configuration is waiting (which is sent now).
fn explore_answer(ctx: Ctx, text: &str) {
    let answer = serde_json::from_str::<ExploreAnswer>(text);
    let id = answer.as_ref().map_or(f64::NAN, |a| a.id);
    let (asked, waiting) = LANE.with(|l| {
        let mut l = l.borrow_mut();
        // An answer that cannot be read ends the request it answers all the same.
        let asked = l.in_flight.take().filter(|(asked, _)| *asked == id || id.is_nan());
        (asked, l.waiting.take())
    });
    if let Some((d, spec)) = waiting {
        send_explore(&d, &spec);
        return;
    }
    let Some((_, t0)) = asked else { return };
    crate::api::record_ms("lowbitComputeMs", crate::api::now_ms() - t0);
    let r = answer.map_err(|e| format!("the worker's answer is unreadable: {e}")).and_then(|a| a.result);
    ctx.explore.set(Some(r));
    ctx.explore_pending.set(false);
}

/// Asks the legend worker (started on first use) for every method's MSE on `d` under `spec`; the answer
/// lands in `ctx.legend_mse` under the returned request id.
pub fn request_methods(ctx: Ctx, d: &Arc<TensorData>, spec: &QuantSpec, methods: &[String]) -> Option<f64> {
    LEGEND.with(|c| {
        let mut c = c.borrow_mut();
        if c.is_none() {
            *c = Client::start(
                move |v| {
                    let Ok(v) = serde_json::from_str::<Value>(&v.as_string().unwrap_or_default()) else { return };
                    let mse = v["mse"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|p| Some((p[0].as_str()?.to_string(), p[1].as_f64().unwrap_or(f64::NAN))))
                        .collect();
                    ctx.legend_mse.set(Some((v["id"].as_f64().unwrap_or(0.0), mse)));
                },
                || (),
            );
        }
        let client = c.as_ref()?;
        client.tensor(d);
        let names: js_sys::Array = methods.iter().map(|m| JsValue::from_str(m)).collect();
        Some(client.ask("methods", vec![spec_field(spec), ("methods", names.into())]))
    })
}

/// A curve request's page side: what to do with each of its answers.
type OnCurves = Box<dyn Fn(Result<Curves, String>, bool)>;

thread_local! {
    static CURVES: RefCell<Option<Client>> = const { RefCell::new(None) };
    static CURVES_BROKEN: Cell<bool> = const { Cell::new(false) };
    static ON_CURVES: RefCell<HashMap<u64, OnCurves>> = RefCell::new(HashMap::new());
}

/// Asks the curve worker (started on first use) for `req` on `d`: `on_answer(result, done)` gets every
/// partial answer and the whole one. False when no worker can run here (the caller computes on the page).
pub fn ask_curves(
    d: &Arc<TensorData>,
    req: &CurveRequest,
    on_answer: impl Fn(Result<Curves, String>, bool) + 'static,
) -> bool {
    if CURVES_BROKEN.with(Cell::get) {
        return false;
    }
    let Ok(request) = serde_wasm_bindgen::to_value(req) else { return false };
    CURVES.with(|c| {
        let mut c = c.borrow_mut();
        if c.is_none() {
            *c = Client::start(curves_answer, curves_failed);
        }
        let Some(client) = c.as_ref() else { return false };
        client.tensor(d);
        let id = client.ask("curves", vec![("request", request)]);
        ON_CURVES.with(|w| w.borrow_mut().insert(id as u64, Box::new(on_answer)));
        true
    })
}

/// Stops the curve worker's current request of `kind` at its next point (the page no longer shows it).
pub fn cancel_curves(kind: &str) {
    CURVES.with(|c| {
        if let Some(c) = c.borrow().as_ref() {
            let _ = c.worker.post_message(&message(&[("op", "cancel".into()), ("kind", kind.into())]));
        }
    });
}

fn curves_answer(v: JsValue) {
    let Ok(m) = serde_wasm_bindgen::from_value::<CurveMessage>(v) else { return };
    let key = m.id as u64;
    // Out of the map while it runs: what it sets may ask for new curves.
    let Some(on) = ON_CURVES.with(|w| w.borrow_mut().remove(&key)) else { return };
    if let Some(r) = m.result {
        on(r, m.done);
    }
    if !m.done {
        ON_CURVES.with(|w| w.borrow_mut().insert(key, on));
    }
}

/// The curve worker failed: every waiting request is told, and the page computes from now on.
fn curves_failed() {
    CURVES_BROKEN.with(|b| b.set(true));
    CURVES.with(|c| c.borrow_mut().take());
    let waiting: Vec<OnCurves> = ON_CURVES.with(|w| w.borrow_mut().drain().map(|(_, on)| on).collect());
    for on in waiting {
        on(Err("the page's curve worker stopped; change a control to compute the curves in the page".into()), true);
    }
}
