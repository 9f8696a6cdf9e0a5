//! Calls to the lowbit server: the API's own types in and out (`lowbit-api`, the crate the server compiles
//! too), raw tensors, and uploads with progress. Errors come back as the server's own message
//! (`{"error": {"code", "message"}}`), so the page can say what went wrong.

use js_sys::{Promise, Uint8Array};
use serde::Serialize;
use serde::de::DeserializeOwned;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Request, RequestInit, Response};

fn js_err(e: JsValue) -> String {
    e.as_string()
        .or_else(|| e.dyn_ref::<js_sys::Error>().map(|e| String::from(e.message())))
        .unwrap_or_else(|| "the request failed (is the lowbit server running?)".into())
}

async fn send(method: &str, url: &str, body: Option<String>) -> Result<Response, String> {
    let init = RequestInit::new();
    init.set_method(method);
    let has_body = body.is_some();
    if let Some(b) = body {
        init.set_body(&JsValue::from_str(&b));
    }
    let req = Request::new_with_str_and_init(url, &init).map_err(js_err)?;
    if has_body {
        req.headers().set("Content-Type", "application/json").map_err(js_err)?;
    }
    let w = web_sys::window().ok_or("no window")?;
    let resp: Response = JsFuture::from(w.fetch_with_request(&req)).await.map_err(js_err)?.unchecked_into();
    if resp.ok() {
        Ok(resp)
    } else {
        let status = resp.status();
        let text = JsFuture::from(resp.text().map_err(js_err)?).await.map_err(js_err)?.as_string().unwrap_or_default();
        Err(error_message(status, &text))
    }
}

/// The server's message for a failed request.
pub fn error_message(status: u16, body: &str) -> String {
    serde_json::from_str::<lowbit_api::ErrorBody>(body)
        .map(|e| e.error.message)
        .unwrap_or_else(|_| format!("the server answered {status}"))
}

/// The body parsed as the type the API answers with; a mismatch says which field.
pub fn parse<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    serde_json::from_str(text).map_err(|e| format!("the server's answer is not what this page expects: {e}"))
}

async fn json_of<T: DeserializeOwned>(resp: Response) -> Result<T, String> {
    let text = JsFuture::from(resp.text().map_err(js_err)?).await.map_err(js_err)?.as_string().unwrap_or_default();
    parse(&text)
}

pub async fn get<T: DeserializeOwned>(url: &str) -> Result<T, String> {
    json_of(send("GET", url, None).await?).await
}

/// Raw bytes (MNIST digits for the rendered video).
pub async fn get_bytes(url: &str) -> Result<Vec<u8>, String> {
    let resp = send("GET", url, None).await?;
    let buf = JsFuture::from(resp.array_buffer().map_err(js_err)?).await.map_err(js_err)?;
    Ok(Uint8Array::new(&buf).to_vec())
}

/// A text file (a video example's CSV).
pub async fn get_text(url: &str) -> Result<String, String> {
    let resp = send("GET", url, None).await?;
    Ok(JsFuture::from(resp.text().map_err(js_err)?).await.map_err(js_err)?.as_string().unwrap_or_default())
}

pub async fn post<B: Serialize, T: DeserializeOwned>(url: &str, body: &B) -> Result<T, String> {
    let text = serde_json::to_string(body).map_err(|e| e.to_string())?;
    json_of(send("POST", url, Some(text)).await?).await
}

pub async fn delete<T: DeserializeOwned>(url: &str) -> Result<T, String> {
    json_of(send("DELETE", url, None).await?).await
}

/// A tensor as raw little-endian f32, with the shape the server sends in `x-lowbit-shape`.
pub async fn get_f32(url: &str) -> Result<(Vec<usize>, Vec<f32>), String> {
    get_f32_with(url, "x-lowbit-shape").await.map(|(s, v, _)| (s, v))
}

/// [`get_f32`] and the value of one more response header (a layer's `x-lowbit-input-relu`).
pub async fn get_f32_with(url: &str, header: &str) -> Result<(Vec<usize>, Vec<f32>, Option<String>), String> {
    let resp = send("GET", url, None).await?;
    let extra = resp.headers().get(header).ok().flatten();
    let shape: Vec<usize> = resp
        .headers()
        .get("x-lowbit-shape")
        .ok()
        .flatten()
        .and_then(|s| serde_json::from_str(&s).ok())
        .ok_or("the server sent no tensor shape")?;
    let buf = JsFuture::from(resp.array_buffer().map_err(js_err)?).await.map_err(js_err)?;
    let bytes = Uint8Array::new(&buf).to_vec();
    if !bytes.len().is_multiple_of(4) {
        return Err("the tensor download was cut short".into());
    }
    Ok((shape, bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect(), extra))
}

/// Uploads bytes to `url` (a new checkpoint, or a shard of one), calling `progress` with the fraction sent;
/// returns the server's answer. XMLHttpRequest, because fetch reports no upload progress.
pub async fn upload<T: DeserializeOwned>(
    url: &str,
    bytes: &[u8],
    progress: impl Fn(f64) + 'static,
) -> Result<T, String> {
    let xhr = web_sys::XmlHttpRequest::new().map_err(js_err)?;
    xhr.open("POST", url).map_err(js_err)?;
    let on_progress = Closure::<dyn Fn(web_sys::ProgressEvent)>::new(move |e: web_sys::ProgressEvent| {
        if e.length_computable() && e.total() > 0.0 {
            progress(e.loaded() / e.total());
        }
    });
    xhr.upload().map_err(js_err)?.set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
    let done = Promise::new(&mut |resolve, _| {
        xhr.set_onloadend(Some(&resolve));
    });
    xhr.send_with_opt_u8_array(Some(bytes)).map_err(js_err)?;
    JsFuture::from(done).await.map_err(js_err)?;
    drop(on_progress);
    let status = xhr.status().map_err(js_err)?;
    let text = xhr.response_text().map_err(js_err)?.unwrap_or_default();
    if status == 0 {
        return Err("the upload failed (connection lost)".into());
    }
    if !(200..300).contains(&status) {
        return Err(error_message(status, &text));
    }
    parse(&text)
}

/// Resolves after the browser had a chance to paint: long computations yield with it between pieces.
pub async fn yield_now() {
    sleep_ms(0).await
}

/// Resolves after the browser has painted the next frame: work started then never delays what the page
/// just changed from reaching the screen.
pub async fn after_paint() {
    let p = Promise::new(&mut |resolve, _| {
        if let Some(w) = web_sys::window() {
            let _ = w.request_animation_frame(&resolve);
        }
    });
    let _ = JsFuture::from(p).await;
    yield_now().await;
}

/// Resolves after `ms` milliseconds (a timer task) — in the page or in a Web Worker, which has no window.
pub async fn sleep_ms(ms: i32) {
    let p = Promise::new(&mut |resolve, _| {
        if let Some(w) = web_sys::window() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        } else if let Ok(w) = js_sys::global().dyn_into::<web_sys::WorkerGlobalScope>() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    let _ = JsFuture::from(p).await;
}

/// Milliseconds from the page's clock.
pub fn now_ms() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map(|p| p.now()).unwrap_or(0.0)
}

/// Records a timing on `window[key]` (the last value), for the browser tests' latency breakdown.
pub fn record_ms(key: &str, ms: f64) {
    if let Some(w) = web_sys::window() {
        let _ = js_sys::Reflect::set(&w, &JsValue::from_str(key), &JsValue::from_f64(ms));
    }
}
