//! A Plotly chart: redrawn with `Plotly.react` whenever its figure changes, with a button that downloads
//! the plotted data as CSV. Every draw bumps `window.lowbitDraws`, so tests can wait for a redraw.

use leptos::prelude::*;
use serde_json::Value;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = Plotly, js_name = react, catch)]
    fn plotly_react(
        div: &web_sys::HtmlElement,
        data: &JsValue,
        layout: &JsValue,
        config: &JsValue,
    ) -> Result<js_sys::Promise, JsValue>;
}

fn to_js(v: &Value) -> JsValue {
    js_sys::JSON::parse(&v.to_string()).unwrap_or(JsValue::NULL)
}

fn theme_colour() -> &'static str {
    let dark = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
        .and_then(|e| e.get_attribute("data-theme"))
        .is_some_and(|t| t == "dark");
    if dark { "#e6e6e3" } else { "#1d1f23" }
}

fn bump_draws() {
    if let Some(w) = web_sys::window() {
        let key = JsValue::from_str("lowbitDraws");
        let n = js_sys::Reflect::get(&w, &key).ok().and_then(|v| v.as_f64()).unwrap_or(0.0);
        let _ = js_sys::Reflect::set(&w, &key, &JsValue::from_f64(n + 1.0));
    }
}

/// Draws `fig` (`{"data": [...], "layout": {...}}`) into `div`, themed; counts the draw when it is done.
pub fn draw(div: &web_sys::HtmlElement, fig: &crate::charts::Figure, theme: &str) {
    let fig = &fig.0;
    let mut layout = fig["layout"].clone();
    layout["paper_bgcolor"] = Value::from("rgba(0,0,0,0)");
    layout["plot_bgcolor"] = Value::from("rgba(0,0,0,0)");
    layout["font"] = serde_json::json!({"color": theme_colour(), "family": "system-ui, sans-serif", "size": 12});
    // Every draw carries new data: a datarevision that never repeats makes Plotly.react take all of it (one
    // that stays the same tells it the data arrays are unchanged, and a growing series would stay frozen).
    static REVISION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let rev = REVISION.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    layout["datarevision"] = Value::from(format!("{theme}-{rev}"));
    // Grid lines that read on both themes.
    for axis in ["xaxis", "yaxis"] {
        if layout[axis].is_object() {
            layout[axis]["gridcolor"] = Value::from("rgba(128,128,128,0.25)");
            layout[axis]["zerolinecolor"] = Value::from("rgba(128,128,128,0.5)");
        }
    }
    let config = serde_json::json!({"responsive": true, "displaylogo": false, "displayModeBar": false});
    let t0 = crate::api::now_ms();
    let drawn = plotly_react(div, &to_js(&fig["data"]), &to_js(&layout), &to_js(&config));
    crate::api::record_ms(
        &format!("lowbitDrawMs_{}", div.get_attribute("data-testid").unwrap_or_default()),
        crate::api::now_ms() - t0,
    );
    match drawn {
        Ok(p) => leptos::task::spawn_local(async move {
            let _ = wasm_bindgen_futures::JsFuture::from(p).await;
            bump_draws();
        }),
        Err(_) => {
            div.set_text_content(Some("Charts need plotly.js, which did not load."));
        }
    }
}

/// Offers `text` as a file download.
pub fn download(name: &str, mime: &str, text: &str) {
    let parts = js_sys::Array::of1(&JsValue::from_str(text));
    let opts = web_sys::BlobPropertyBag::new();
    opts.set_type(mime);
    let Ok(blob) = web_sys::Blob::new_with_str_sequence_and_options(&parts, &opts) else { return };
    let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) else { return };
    if let Some(a) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.create_element("a").ok())
        .and_then(|e| e.dyn_into::<web_sys::HtmlAnchorElement>().ok())
    {
        a.set_href(&url);
        a.set_download(name);
        a.click();
    }
    let _ = web_sys::Url::revoke_object_url(&url);
}

/// A chart with a title bar and a data download.
#[component]
pub fn Chart(
    /// `data-testid` of the plot area.
    testid: &'static str,
    /// File name (without extension) of the downloaded data.
    name: &'static str,
    /// The figure; `None` draws nothing (the caller shows why).
    #[prop(into)]
    fig: Signal<Option<crate::charts::Figure>>,
    /// While true the chart is not redrawn: the explorer holds its charts until the worker's numbers for
    /// the same change are on screen, so a Plotly draw never delays them.
    #[prop(optional, into)]
    hold: Signal<bool>,
) -> impl IntoView {
    let el = NodeRef::<leptos::html::Div>::new();
    let theme = expect_context::<crate::components::theme::Theme>();
    // Drawn in a task of its own after the change: the numbers a change produces reach the screen first,
    // never waiting for Plotly; of several changes in a row only the newest figure is drawn.
    let pending = StoredValue::new(0u64);
    Effect::new(move |_| {
        let t = theme.0.get();
        if hold.get() {
            return;
        }
        if let (Some(div), Some(f)) = (el.get(), fig.get()) {
            let n = pending.get_value() + 1;
            pending.set_value(n);
            leptos::task::spawn_local(async move {
                crate::api::after_paint().await;
                if pending.get_value() == n {
                    draw(&div, &f, &t);
                }
            });
        }
    });
    let save = move |_| {
        if let Some(f) = fig.get_untracked() {
            download(&format!("{name}.csv"), "text/csv", &crate::charts::to_csv(&f));
        }
    };
    view! {
        <figure class="chart">
            <div class="chart-bar">
                <button class="small" on:click=save title="Download the plotted data as CSV" aria-label=format!("Download {name} data")>"data ⤓"</button>
            </div>
            <div class="plot" node_ref=el data-testid=testid></div>
        </figure>
    }
}
