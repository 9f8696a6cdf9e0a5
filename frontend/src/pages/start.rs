//! Start: drop or choose a file (read in the page up to [`crate::session::LOCAL_LIMIT`], uploaded with
//! progress beyond; see `session`), the example checkpoints the server has, and recent checkpoints and
//! experiments.

use crate::api;
use crate::session::{open_files, open_server};
use crate::state::Ctx;
use leptos::prelude::*;
use lowbit_api::{Checkpoint, CheckpointList, ExampleList, ExperimentList};
use wasm_bindgen::JsCast;

#[component]
pub fn Start() -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let examples = LocalResource::new(|| api::get::<ExampleList>("/api/examples"));
    let checkpoints = LocalResource::new(|| api::get::<CheckpointList>("/api/checkpoints"));
    let experiments = LocalResource::new(|| api::get::<ExperimentList>("/api/experiments"));
    let dragging = RwSignal::new(false);
    let on_change = move |ev: leptos::ev::Event| {
        let input: web_sys::HtmlInputElement = event_target(&ev);
        open_files(ctx, input.files());
        input.set_value("");
    };
    let on_drop = move |ev: leptos::ev::DragEvent| {
        ev.prevent_default();
        dragging.set(false);
        open_files(ctx, ev.data_transfer().and_then(|d| d.files()));
    };
    let load_example = move |name: String| {
        leptos::task::spawn_local(async move {
            ctx.busy.set(Some(format!("Adding the example {name} to the server…")));
            let url = format!("/api/examples/{}", crate::state::encode(&name));
            let r = api::post::<_, Checkpoint>(&url, &()).await;
            ctx.busy.set(None);
            match r {
                Ok(c) => open_server(ctx, c.id),
                Err(e) => ctx.error.set(Some(format!("{name}: {e}"))),
            }
        });
    };
    view! {
        <section class="start">
            <div class="drop" class:over=move || dragging.get()
                on:dragover=move |ev: leptos::ev::DragEvent| { ev.prevent_default(); dragging.set(true); }
                on:dragleave=move |_| dragging.set(false)
                on:drop=on_drop>
                <p><strong>"Drop a checkpoint or tensor here"</strong></p>
                <p class="muted">"safetensors, .npy, .npz, ONNX, PyTorch .pt/.pth. Files up to 100 MB are read in this page and never leave your machine; larger ones are uploaded to this lowbit server. Several safetensors files at once are the shards of one checkpoint (uploaded)."</p>
                <label class="button">"Choose a file"
                    <input type="file" multiple data-testid="file-input" class="visually-hidden" on:change=on_change/>
                </label>
            </div>
            <div class="cols">
                <div>
                    <h2>"Examples"</h2>
                    <ul class="list" data-testid="example-list">
                        <Suspense fallback=|| view! { <li class="muted">"Loading…"</li> }>
                            {move || examples.get().map(|r| match r {
                                Ok(v) => {
                                    let items = v.examples;
                                    if items.is_empty() {
                                        return view! { <li class="muted">"No example files on this server (scripts/fetch-data.sh fetches them)."</li> }.into_any();
                                    }
                                    items.into_iter().map(|e| {
                                        let name = e.name.clone();
                                        view! { <li><button class="link" on:click=move |_| load_example(name.clone())>{e.name.clone()}</button>
                                            <span class="muted">{format!(" {} · {}", e.description, size(e.size_bytes as f64))}</span></li> }
                                    }).collect_view().into_any()
                                }
                                Err(e) => view! { <li class="muted">{format!("The server is not reachable: {e}")}</li> }.into_any(),
                            })}
                        </Suspense>
                    </ul>
                </div>
                <div>
                    <h2>"Recent checkpoints"</h2>
                    <ul class="list" data-testid="checkpoint-list">
                        <Suspense fallback=|| ()>
                            {move || checkpoints.get().and_then(|r| r.ok()).map(|v| {
                                let items = v.checkpoints;
                                if items.is_empty() { return view! { <li class="muted">"None yet."</li> }.into_any(); }
                                items.into_iter().take(12).map(|c| {
                                    let id = c.id.clone();
                                    view! { <li><button class="link" on:click=move |_| open_server(ctx, id.clone())>{c.name.clone()}</button>
                                        <span class="muted">{format!(" {} · {} tensors", c.format, c.tensor_count)}</span></li> }
                                }).collect_view().into_any()
                            })}
                        </Suspense>
                    </ul>
                    <h2>"Recent experiments"</h2>
                    <ul class="list">
                        <Suspense fallback=|| ()>
                            {move || experiments.get().and_then(|r| r.ok()).map(|v| {
                                let items = v.experiments;
                                if items.is_empty() { return view! { <li class="muted">"None yet."</li> }.into_any(); }
                                items.into_iter().take(12).map(|e| view! {
                                    <li><a href=e.share_url.clone()>{e.name.clone()}</a>
                                    <span class="muted">{format!(" {} · {} results", e.kind, e.result_count)}</span></li>
                                }).collect_view().into_any()
                            })}
                        </Suspense>
                    </ul>
                </div>
            </div>
        </section>
    }
}

fn size(b: f64) -> String {
    if b >= 1e6 { format!("{:.1} MB", b / 1e6) } else { format!("{:.0} KB", b / 1e3) }
}

/// The element that fired an event, typed.
fn event_target<T: JsCast>(ev: &leptos::ev::Event) -> T {
    ev.target().expect("an event has a target").unchecked_into()
}
