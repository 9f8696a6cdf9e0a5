//! The tensor selector every page that works on one tensor shows (explorer, comparison, sparsity).

use crate::state::Ctx;
use leptos::prelude::*;

/// Chooses the open checkpoint's tensor (the URL keeps it).
#[component]
pub fn TensorPicker() -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    view! {
        <label class="picker">"Tensor"
            <select data-testid="tensor-select" on:change=move |ev| ctx.tensor.set(Some(event_target_value(&ev)))>
                {move || ctx.ckpt.get().map(|c| c.tensors.iter().map(|t| {
                    let name = t.name.clone();
                    let label = format!("{}  {:?}", t.name, t.shape);
                    view! { <option value=name.clone() selected=move || ctx.tensor.get().as_deref() == Some(name.as_str())>{label}</option> }
                }).collect_view())}
            </select>
        </label>
    }
}
