//! The lowbit dashboard: a Leptos client-side app with `lowbit_core` compiled in, so quantizing a tensor
//! and redrawing its charts happens in the page, not on a server round trip.
//!
//! `App` provides the shared state ([`state::Ctx`]) and shows one page per tab; every view's state is in the
//! URL ([`state::UrlState`]). `pages/` has one file per tab, `components/` the reusable widgets, `api.rs`
//! the server calls, `compute.rs` the calls into core that the pages show, `charts.rs` the chart specs.

pub mod api;
pub mod charts;
pub mod components;
pub mod compute;
pub mod curves;
pub mod pages;
pub mod session;
pub mod state;
pub mod worker;

use leptos::prelude::*;
use state::{Ctx, Tab};
use wasm_bindgen::prelude::*;

/// Mounts the app. The `/e/{share}` page embeds it too; then it shows that shared experiment read-only.
#[wasm_bindgen(start)]
pub fn start() {
    // The same module also runs in the page's Web Worker (`worker::worker_main`), which has no window.
    if web_sys::window().is_some() {
        // A panic stops the app: say so on the page instead of leaving it silently frozen.
        std::panic::set_hook(Box::new(|info| {
            if let Some(body) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.body()) {
                let _ = body.insert_adjacent_html(
                    "afterbegin",
                    &format!("<p class=\"banner error\" data-testid=\"panic\">The dashboard stopped: {}</p>", info)
                        .replace('&', "&amp;"),
                );
            }
        }));
        leptos::mount::mount_to_body(App);
    }
}

#[component]
fn App() -> impl IntoView {
    let ctx = Ctx::new();
    provide_context(ctx);
    provide_context(components::theme::init());
    load_selected_tensor(ctx);
    if let Some(share) = state::shared_path() {
        // The server's static fallback of the share page is replaced by the live view.
        if let Some(el) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.get_element_by_id("fallback")) {
            el.remove();
        }
        return view! { <Shell><pages::shared::Shared share=share/></Shell> }.into_any();
    }
    ctx.restore_from_url();
    Effect::new(move |_| ctx.write_url());
    view! {
        <Shell>
            <components::tabs::Tabs/>
            {move || match ctx.tab.get() {
                Tab::Start => view! { <pages::start::Start/> }.into_any(),
                Tab::Checkpoint => view! { <pages::checkpoint::Checkpoint/> }.into_any(),
                Tab::Explorer => view! { <pages::explorer::Explorer readonly=false/> }.into_any(),
                Tab::Compare => view! { <pages::compare::Compare/> }.into_any(),
                Tab::Sparsity => view! { <pages::sparsity::Sparsity/> }.into_any(),
                Tab::Jobs => view! { <pages::jobs::Jobs/> }.into_any(),
                Tab::Training => view! { <pages::training::Training/> }.into_any(),
                Tab::Distributed => view! { <pages::distributed::Distributed/> }.into_any(),
                Tab::Model => view! { <pages::model::Model/> }.into_any(),
                Tab::Diff => view! { <pages::diff::DiffPage/> }.into_any(),
                Tab::Video => view! { <pages::video::VideoPage/> }.into_any(),
            }}
        </Shell>
    }
    .into_any()
}

/// Keeps `ctx.data` the values of the selected tensor: decoded from the local file, or fetched raw from the
/// server. A newer selection wins over a slower older one.
fn load_selected_tensor(ctx: Ctx) {
    let generation = StoredValue::new(0u64);
    Effect::new(move |_| {
        let (Some(c), Some(name)) = (ctx.ckpt.get(), ctx.tensor.get()) else { return };
        if ctx.data.get_untracked().is_some_and(|d| d.name == name) {
            return;
        }
        let g = generation.get_value() + 1;
        generation.set_value(g);
        leptos::task::spawn_local(async move {
            ctx.busy.set(Some(format!("Loading {name}…")));
            let r = match (&c.local, &c.server_id) {
                (Some(bytes), _) => compute::local_tensor(bytes, &name),
                (None, Some(id)) => {
                    api::get_f32(&format!("/api/checkpoints/{id}/tensors/{}/raw", state::encode(&name)))
                        .await
                        .map(|(shape, values)| state::TensorData { name: name.clone(), shape, values })
                }
                (None, None) => Err("nothing to load".into()),
            };
            if generation.get_value() != g {
                return;
            }
            ctx.busy.set(None);
            match r {
                Ok(d) => ctx.data.set(Some(std::sync::Arc::new(d))),
                Err(e) => ctx.error.set(Some(format!("{name}: {e}"))),
            }
        });
    });
}

/// Header (name, theme switch), the error and progress banners, and the page.
#[component]
fn Shell(children: Children) -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    view! {
        <header class="top">
            <a class="brand" href="/">"lowbit"</a>
            <span class="muted">{move || ctx.ckpt.get().map(|c| format!("{} · {} · {} tensors", c.name, c.format, c.tensors.len()))}</span>
            <span class="grow"></span>
            <components::theme::ThemeSwitch/>
        </header>
        <components::banners::Banners/>
        <main>{children()}</main>
    }
}
