//! The page's Web Worker: the same wasm module started in a worker (`assets/worker.js`), holding a copy of
//! the open tensor and answering the computations that would otherwise hold up the page's thread — today
//! every clip method's whole-tensor MSE for the explorer's legend (seven quantizations of the tensor).
//!
//! Messages in: `{"op": "tensor", "shape": [..], "values": Float32Array}` then `{"op": "methods", "id": N,
//! "spec": "<QuantSpec JSON>", "methods": ["max", …]}`; out: `{"id": N, "mse": [["max", 0.1], …]}`.

use crate::state::TensorData;
use leptos::prelude::Set;
use lowbit_core::quant::QuantSpec;
use serde_json::json;
use std::cell::RefCell;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

thread_local! {
    static TENSOR: RefCell<Option<TensorData>> = const { RefCell::new(None) };
}

fn get(obj: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn handle(scope: &web_sys::DedicatedWorkerGlobalScope, msg: JsValue) {
    match get(&msg, "op").as_string().as_deref() {
        Some("tensor") => {
            let shape: Vec<usize> = js_sys::Array::from(&get(&msg, "shape"))
                .iter()
                .filter_map(|v| v.as_f64().map(|d| d as usize))
                .collect();
            let values = js_sys::Float32Array::new(&get(&msg, "values")).to_vec();
            let name = get(&msg, "name").as_string().unwrap_or_default();
            TENSOR.with(|t| *t.borrow_mut() = Some(TensorData { name, shape, values }));
        }
        Some("methods") => {
            let id = get(&msg, "id").as_f64().unwrap_or(0.0);
            let spec: Option<QuantSpec> = get(&msg, "spec").as_string().and_then(|s| serde_json::from_str(&s).ok());
            let methods: Vec<String> =
                js_sys::Array::from(&get(&msg, "methods")).iter().filter_map(|v| v.as_string()).collect();
            let mse = TENSOR.with(|t| match (t.borrow().as_ref(), spec) {
                (Some(d), Some(spec)) => crate::compute::method_mse(d, &spec, &methods),
                _ => Vec::new(),
            });
            let mse: Vec<serde_json::Value> =
                mse.into_iter().map(|(m, v)| json!([m, lowbit_core::report::num(v)])).collect();
            let _ = scope.post_message(&JsValue::from_str(&json!({"id": id, "mse": mse}).to_string()));
        }
        _ => {}
    }
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

/// The page's side: one worker, started on first use; answers go to `on_answer` (the newest request wins,
/// the caller compares ids).
pub struct Client {
    worker: web_sys::Worker,
    next: std::cell::Cell<f64>,
}

impl Client {
    pub fn start(on_answer: impl Fn(f64, crate::compute::MethodMse) + 'static) -> Option<Self> {
        let opts = web_sys::WorkerOptions::new();
        opts.set_type(web_sys::WorkerType::Module);
        let worker = web_sys::Worker::new_with_options("/worker.js", &opts).ok()?;
        let on = Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
            let Some(text) = e.data().as_string() else { return };
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else { return };
            let mse = v["mse"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| Some((p[0].as_str()?.to_string(), p[1].as_f64().unwrap_or(f64::NAN))))
                .collect();
            on_answer(v["id"].as_f64().unwrap_or(0.0), mse);
        });
        worker.set_onmessage(Some(on.as_ref().unchecked_ref()));
        on.forget();
        Some(Self { worker, next: std::cell::Cell::new(0.0) })
    }

    /// Gives the worker its own copy of the tensor.
    pub fn tensor(&self, d: &TensorData) {
        let msg = js_sys::Object::new();
        let set = |k: &str, v: &JsValue| {
            let _ = js_sys::Reflect::set(&msg, &JsValue::from_str(k), v);
        };
        set("op", &JsValue::from_str("tensor"));
        set("name", &JsValue::from_str(&d.name));
        set("shape", &d.shape.iter().map(|&x| JsValue::from_f64(x as f64)).collect::<js_sys::Array>());
        let values = js_sys::Float32Array::from(d.values.as_slice());
        set("values", &values.buffer());
        let transfer = js_sys::Array::of1(&values.buffer());
        let _ = self.worker.post_message_with_transfer(&msg, &transfer);
    }

    /// Asks for every method's MSE under `spec`; the request's id.
    pub fn methods(&self, spec: &QuantSpec, methods: &[String]) -> f64 {
        let id = self.next.get() + 1.0;
        self.next.set(id);
        let msg = js_sys::Object::new();
        let set = |k: &str, v: &JsValue| {
            let _ = js_sys::Reflect::set(&msg, &JsValue::from_str(k), v);
        };
        set("op", &JsValue::from_str("methods"));
        set("id", &JsValue::from_f64(id));
        set("spec", &JsValue::from_str(&serde_json::to_string(spec).unwrap_or_default()));
        set("methods", &methods.iter().map(|m| JsValue::from_str(m)).collect::<js_sys::Array>());
        let _ = self.worker.post_message(&msg);
        id
    }
}

thread_local! {
    static CLIENT: RefCell<Option<(Client, usize)>> = const { RefCell::new(None) };
}

/// Asks the page's worker (started on first use) for every method's MSE on `d` under `spec`: the tensor is
/// sent once per tensor; the answer lands in `ctx.legend_mse` under the returned request id.
pub fn request_methods(
    ctx: crate::state::Ctx,
    d: &std::sync::Arc<TensorData>,
    spec: &QuantSpec,
    methods: &[String],
) -> Option<f64> {
    CLIENT.with(|c| {
        let mut c = c.borrow_mut();
        if c.is_none() {
            let client = Client::start(move |id, mse| ctx.legend_mse.set(Some((id, mse))))?;
            *c = Some((client, 0));
        }
        let (client, sent) = c.as_mut()?;
        let key = std::sync::Arc::as_ptr(d) as usize;
        if *sent != key {
            client.tensor(d);
            *sent = key;
        }
        Some(client.methods(spec, methods))
    })
}
