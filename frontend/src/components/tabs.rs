//! The tab bar; tabs that need an open checkpoint say so rather than disappearing.

use crate::state::{Ctx, Tab};
use leptos::prelude::*;

#[component]
pub fn Tabs() -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    view! {
        <nav class="tabs" role="tablist">
            {Tab::ALL.into_iter().map(|t| view! {
                <button role="tab" class:active=move || ctx.tab.get() == t aria-selected=move || (ctx.tab.get() == t).to_string()
                    data-testid=format!("tab-{}", t.key()) on:click=move |_| ctx.tab.set(t)>{t.label()}</button>
            }).collect_view()}
        </nav>
    }
}
