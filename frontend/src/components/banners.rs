//! The error, progress and upload banners under the header.

use crate::state::Ctx;
use leptos::prelude::*;

#[component]
pub fn Banners() -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    view! {
        {move || ctx.error.get().map(|e| view! {
            <div class="banner error" role="alert" data-testid="error">
                <span>{e}</span>
                <button class="small" on:click=move |_| ctx.error.set(None) aria-label="Dismiss">"×"</button>
            </div>
        })}
        {move || ctx.busy.get().map(|b| view! { <div class="banner busy" role="status" data-testid="busy">{b}</div> })}
        {move || ctx.upload.get().map(|p| view! {
            <div class="banner busy" role="status">
                "Uploading to the server "
                <progress data-testid="upload-progress" max="1" value=p></progress>
                {format!(" {:.0} %", p * 100.0)}
            </div>
        })}
        {move || ctx.missing_local.get().map(|f| view! {
            <div class="banner">{format!("This view was of the local file `{f}`, which never left its owner's machine: drop it again on Start to continue.")}</div>
        })}
    }
}
