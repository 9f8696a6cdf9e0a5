//! Light and dark themes: follows the system until the user picks one; the choice is remembered.

use leptos::prelude::*;

/// The theme in force (`light` or `dark`), provided as context so charts redraw in its colours.
#[derive(Clone, Copy)]
pub struct Theme(pub RwSignal<String>);

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

fn system_dark() -> bool {
    web_sys::window()
        .and_then(|w| w.match_media("(prefers-color-scheme: dark)").ok().flatten())
        .is_some_and(|m| m.matches())
}

/// Reads the saved or system theme and applies it to `<html data-theme>`.
pub fn init() -> Theme {
    let saved = storage().and_then(|s| s.get_item("lowbit-theme").ok().flatten());
    let t = saved.unwrap_or_else(|| if system_dark() { "dark".into() } else { "light".into() });
    let theme = Theme(RwSignal::new(t));
    Effect::new(move |_| {
        let t = theme.0.get();
        if let Some(e) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.document_element()) {
            let _ = e.set_attribute("data-theme", &t);
        }
    });
    theme
}

#[component]
pub fn ThemeSwitch() -> impl IntoView {
    let theme = expect_context::<Theme>();
    let toggle = move |_| {
        let next = if theme.0.get_untracked() == "dark" { "light" } else { "dark" };
        if let Some(s) = storage() {
            let _ = s.set_item("lowbit-theme", next);
        }
        theme.0.set(next.to_string());
    };
    view! {
        <button class="small" data-testid="theme-toggle" on:click=toggle aria-label="Switch between light and dark theme">
            {move || if theme.0.get() == "dark" { "☀ light" } else { "☾ dark" }}
        </button>
    }
}
