//! The quantization controls (format, bits, granularity with V, clip method, scale bits), bound to the
//! shared [`Spec`]. Native form controls, so they work from the keyboard.

use crate::state::{Ctx, Spec};
use leptos::prelude::*;
use lowbit_core::quant::Format;

const CLIPS: [(&str, &str); 8] = [
    ("max", "max"),
    ("percentile:99.9", "percentile 99.9"),
    ("percentile:99.99", "percentile 99.99"),
    ("mse", "MSE search"),
    ("octav", "OCTAV"),
    ("aciq-gauss", "ACIQ (Gauss)"),
    ("aciq-laplace", "ACIQ (Laplace)"),
    ("kl", "KL / entropy"),
];

#[component]
pub fn Controls(
    /// Shown but not editable (the shared view).
    readonly: bool,
) -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let spec = ctx.spec;
    let update = move |f: &dyn Fn(&mut Spec)| spec.update(|s| f(s));
    view! {
        <div class="controls">
            <label>"Format"
                <select data-testid="format-select" disabled=readonly
                    on:change=move |ev| { let f = event_target_value(&ev); spec.update(|s| *s = s.with_format(&f)); }>
                    {Format::ALL.iter().map(|f| { let i = f.info(); view! { <option value=i.name title=i.help selected=move || spec.get().format == i.name>{i.name}</option> } }).collect_view()}
                </select>
            </label>
            <label>"Bits"
                <input type="number" min="2" max="16" data-testid="bits-input" disabled=move || readonly || !spec.get().has_bits()
                    prop:value=move || spec.get().bits
                    on:input=move |ev| { if let Ok(b) = event_target_value(&ev).parse::<u32>() && (2..=16).contains(&b) { update(&|s| s.bits = b) } }/>
            </label>
            <label>"Granularity"
                <select data-testid="granularity-select" disabled=readonly
                    on:change=move |ev| { let g = event_target_value(&ev); update(&|s| s.gran = g.clone()) }>
                    {[("tensor", "per tensor"), ("channel", "per channel"), ("vector", "per vector")].into_iter().map(|(v, l)|
                        view! { <option value=v selected=move || spec.get().gran == v>{l}</option> }).collect_view()}
                </select>
            </label>
            <label class:hidden=move || spec.get().gran != "vector">"V"
                <input type="number" min="1" max="4096" data-testid="vector-input" disabled=readonly prop:value=move || spec.get().vsize
                    on:input=move |ev| { if let Ok(v) = event_target_value(&ev).parse::<usize>() && (1..=65536).contains(&v) { update(&|s| s.vsize = v) } }/>
            </label>
            <label>"Clipping"
                <select data-testid="clip-select" disabled=readonly
                    on:change=move |ev| { let c = event_target_value(&ev); update(&|s| s.clip = c.clone()) }>
                    {CLIPS.into_iter().map(|(v, l)| view! { <option value=v disabled=move || !spec.get().clip_applies(v) selected=move || spec.get().clip == v>{l}</option> }).collect_view()}
                </select>
            </label>
            <label title="VS-Quant two-level: bits of the per-vector integer scale (0: float scales)">"Scale bits"
                <input type="number" min="0" max="16" data-testid="scale-bits-input" disabled=move || readonly || !spec.get().two_level() || spec.get().gran != "vector"
                    prop:value=move || spec.get().scale_bits
                    on:input=move |ev| { if let Ok(m) = event_target_value(&ev).parse::<u32>() && m <= 16 { update(&|s| s.scale_bits = m) } }/>
            </label>
        </div>
    }
}
