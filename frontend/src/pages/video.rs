//! Video: a sequence's ground truth (a built-in TUD sequence, or dropped MOTChallenge files), two
//! **synthetic** detectors whose AP and Average Delay are compared, the real tracker's MOT metrics, the
//! CaTDet cascade's operations–accuracy–delay trade-off as its proposal threshold moves, and PatchNet's
//! operations per frame by key-frame interval. Computed in the page by core (`lowbit_core::video`).

use crate::api;
use crate::charts;
use crate::components::chart::Chart;
use leptos::prelude::*;
use lowbit_api::VideoExampleList;
use lowbit_core::video::catdet::{CatdetConfig, simulate};
use lowbit_core::video::delay::{DelayOptions, DelayReport, average_delay, track_delays};
use lowbit_core::video::files::{Role, parse};
use lowbit_core::video::mot::{MotReport, mot_metrics};
use lowbit_core::video::patchnet::{self, PatchNetShape};
use lowbit_core::video::synth::SynthDetector;
use lowbit_core::video::{GtBox, Video};

/// A loaded sequence: its ground truth and, when it has one, a tracker's output.
#[derive(Debug, Clone, PartialEq)]
struct Sequence {
    name: String,
    gt: Vec<GtBox>,
    tracker: Option<Vec<lowbit_core::video::Detection>>,
}

/// One synthetic detector's controls.
#[derive(Clone, Copy)]
struct DetectorControls {
    recall_start: RwSignal<f64>,
    recall_full: RwSignal<f64>,
    ramp: RwSignal<f64>,
}

impl DetectorControls {
    fn new(start: f64, full: f64, ramp: f64) -> Self {
        Self { recall_start: RwSignal::new(start), recall_full: RwSignal::new(full), ramp: RwSignal::new(ramp) }
    }
    fn detector(&self, seed: u64) -> SynthDetector {
        SynthDetector {
            recall_start: self.recall_start.get(),
            recall_full: self.recall_full.get(),
            ramp_frames: self.ramp.get(),
            seed,
            ..Default::default()
        }
    }
}

fn evaluate(seq: &Sequence, d: &SynthDetector) -> Result<(DelayReport, Video), String> {
    let dets = d.run(&seq.gt).map_err(|e| e.to_string())?;
    let v = Video { name: seq.name.clone(), gt: seq.gt.clone(), dets };
    let r = average_delay(std::slice::from_ref(&v), &DelayOptions::default()).map_err(|e| e.to_string())?;
    Ok((r, v))
}

async fn load_example(name: &str) -> Result<Sequence, String> {
    let gt_text = api::get_text(&format!("/api/examples/video/{name}/gt.txt")).await?;
    let gt = parse(&gt_text, &format!("{name}/gt.txt"), Role::GroundTruth).map_err(|e| e.to_string())?.gt;
    let tracker = match api::get_text(&format!("/api/examples/video/{name}/test.txt")).await {
        Ok(t) => Some(parse(&t, &format!("{name}/test.txt"), Role::Tracks).map_err(|e| e.to_string())?.dets),
        Err(_) => None,
    };
    Ok(Sequence { name: name.to_string(), gt, tracker })
}

/// Renders 30 frames of two moving MNIST digits and tracks them under each key-frame policy: (label,
/// operations per frame, mean IoU).
async fn patchnet_policies() -> Result<Vec<(String, f64, f64)>, String> {
    use lowbit_core::video::patchmatch::{moving_digits, run_policy};
    let bytes = api::get_bytes("/api/examples/digits/2").await?;
    let digits: Vec<&[u8]> = bytes.chunks_exact(784).collect();
    let v = moving_digits(&digits, 30, 192, 1).map_err(|e| e.to_string())?;
    let f_patch: u64 = patchnet::ops(&PatchNetShape::default()).map_err(|e| e.to_string())?.iter().map(|s| s.ops).sum();
    let mut out = Vec::new();
    for (label, p) in patchnet::standard_policies() {
        api::yield_now().await;
        let r = run_policy(&v, p).map_err(|e| e.to_string())?;
        let ops = r.ops_per_frame(patchnet::DETECTOR_OPS_REPORTED, f_patch as f64).map_err(|e| e.to_string())?;
        out.push((label, ops, r.mean_iou));
    }
    Ok(out)
}

#[component]
pub fn VideoPage() -> impl IntoView {
    let examples = LocalResource::new(|| api::get::<VideoExampleList>("/api/examples/video"));
    let seq = RwSignal::new(None::<Sequence>);
    let error = RwSignal::new(None::<String>);
    let choose = move |name: String| {
        leptos::task::spawn_local(async move {
            match load_example(&name).await {
                Ok(s) => {
                    seq.set(Some(s));
                    error.set(None);
                }
                Err(e) => error.set(Some(e)),
            }
        });
    };
    // Dropped files: a ground truth, optionally a tracker's output.
    let on_files = move |ev: leptos::ev::Event| {
        use wasm_bindgen::JsCast;
        let input: web_sys::HtmlInputElement = ev.target().expect("an event has a target").unchecked_into();
        let Some(files) = input.files() else { return };
        leptos::task::spawn_local(async move {
            let mut texts = Vec::new();
            for i in 0..files.length() {
                if let Some(f) = files.get(i) {
                    let t = wasm_bindgen_futures::JsFuture::from(f.text()).await.ok().and_then(|v| v.as_string());
                    texts.push((f.name(), t.unwrap_or_default()));
                }
            }
            let r = (|| {
                let (gname, gtext) = texts.first().ok_or("choose a ground-truth file")?;
                let gt = parse(gtext, gname, Role::GroundTruth).map_err(|e| e.to_string())?.gt;
                let tracker = texts
                    .get(1)
                    .map(|(n, t)| parse(t, n, Role::Tracks).map(|p| p.dets).map_err(|e| e.to_string()))
                    .transpose()?;
                Ok::<_, String>(Sequence { name: gname.clone(), gt, tracker })
            })();
            match r {
                Ok(s) => {
                    seq.set(Some(s));
                    error.set(None);
                }
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let a = DetectorControls::new(0.85, 0.85, 0.0);
    let b = DetectorControls::new(0.0, 0.97, 20.0);
    let eval_a = Memo::new(move |_| seq.get().map(|s| evaluate(&s, &a.detector(1))));
    let eval_b = Memo::new(move |_| seq.get().map(|s| evaluate(&s, &b.detector(1))));
    let mot = Memo::new(move |_| {
        seq.get().and_then(|s| s.tracker.as_ref().map(|t| mot_metrics(&s.gt, t).map_err(|e| e.to_string())))
    });
    let timeline = Signal::derive(move || {
        let (r, v) = eval_a.get()?.ok()?;
        let threshold = r.delays.first().map_or(0.0, |p| p.score_threshold);
        let rows: Vec<_> = track_delays(std::slice::from_ref(&v), threshold, false)
            .into_iter()
            .map(|t| (t.track, t.first, t.last, t.first_hit))
            .collect();
        Some(charts::video_timeline(&rows, "detector A"))
    });
    // AP against AD over the ramp of detector A's shape, with A and B marked.
    let ap_ad = Signal::derive(move || {
        let s = seq.get()?;
        let mut pts = Vec::new();
        for ramp in [0.0, 5.0, 10.0, 20.0, 30.0] {
            let d = SynthDetector { ramp_frames: ramp, recall_start: 0.0, ..a.detector(1) };
            if let Ok((r, _)) = evaluate(&s, &d) {
                pts.push((format!("ramp {ramp}"), r.ap50, r.average_delay));
            }
        }
        for (name, e) in [("A", eval_a.get()), ("B", eval_b.get())] {
            if let Some(Ok((r, _))) = e {
                pts.push((name.to_string(), r.ap50, r.average_delay));
            }
        }
        Some(charts::ap_vs_ad(&pts))
    });
    let margin = RwSignal::new(0.1f64);
    let catdet = Memo::new(move |_| {
        let s = seq.get()?;
        let m = margin.get();
        let mut rows = Vec::new();
        let mut base = None;
        for t in [0.05, 0.1, 0.2, 0.3, 0.5, 0.7] {
            let c = CatdetConfig { proposal_threshold: t, margin: m, ..Default::default() };
            match simulate(&s.gt, &c) {
                Ok(r) => {
                    base = Some((r.baseline.ap50, r.baseline.average_delay));
                    rows.push((t, r.ops_reduction, r.cascade.ap50, r.cascade.average_delay));
                }
                Err(e) => return Some(Err(e.to_string())),
            }
        }
        Some(Ok((rows, base.unwrap_or((0.0, 0.0)))))
    });
    let catdet_fig = Signal::derive(move || match catdet.get() {
        Some(Ok((rows, base))) => Some(charts::catdet_tradeoff(&rows, base)),
        _ => None,
    });
    let patch_fig = Signal::derive(move || {
        let total: u64 = patchnet::ops(&PatchNetShape::default()).ok()?.iter().map(|s| s.ops).sum();
        let intervals: Vec<f64> = (1..=12).map(f64::from).collect();
        let ops: Vec<f64> = intervals
            .iter()
            .map(|&t| {
                patchnet::ops_per_frame(patchnet::DETECTOR_OPS_REPORTED, total as f64, 5.0, t).unwrap_or(f64::NAN)
            })
            .collect();
        Some(charts::patchnet_ops(&intervals, &ops))
    });
    // PatchNet on rendered moving digits: every policy tracked in the page (a few seconds of wasm).
    let tracking = RwSignal::new(None::<Result<Vec<(String, f64, f64)>, String>>);
    let running = RwSignal::new(false);
    let run_patchnet = move |_| {
        running.set(true);
        leptos::task::spawn_local(async move {
            tracking.set(Some(patchnet_policies().await));
            running.set(false);
        });
    };
    let track_fig = Signal::derive(move || match tracking.get() {
        Some(Ok(p)) => Some(charts::patchnet_tradeoff(&p)),
        _ => None,
    });
    let show = |e: Memo<Option<Result<(DelayReport, Video), String>>>, f: fn(&DelayReport) -> String| {
        move || match e.get() {
            Some(Ok((r, _))) => f(&r),
            Some(Err(err)) => err,
            None => "—".into(),
        }
    };
    let num = move |label: &'static str, testid: &'static str, sig: RwSignal<f64>, lo: f64, hi: f64, step: f64| {
        view! {
            <label>{label}<input type="number" data-testid=testid min=lo max=hi step=step prop:value=move || sig.get()
                on:input=move |ev| { if let Ok(x) = event_target_value(&ev).parse::<f64>() && (lo..=hi).contains(&x) { sig.set(x) } }/></label>
        }
    };
    let mot_text = move |f: fn(&MotReport) -> String| {
        move || match mot.get() {
            Some(Ok(m)) => f(&m),
            Some(Err(e)) => e,
            None => "—".into(),
        }
    };
    view! {
        <section>
            <h2>"Video: accuracy, delay and operations"</h2>
            <div class="row">
                <label>"Sequence"<select data-testid="video-select" on:change=move |ev| choose(event_target_value(&ev))>
                    <option value="" selected=move || seq.get().is_none()>"choose…"</option>
                    {move || examples.get().and_then(|r| r.ok()).map(|l| l.videos.into_iter().map(|v| {
                        let n = v.name.clone();
                        view! { <option value=n.clone() title=v.description>{n.clone()}</option> }
                    }).collect_view())}
                </select></label>
                <label class="button">"…or your files (ground truth, then a tracker's output)"
                    <input type="file" multiple class="visually-hidden" data-testid="video-files" on:change=on_files/></label>
            </div>
            {move || error.get().map(|e| view! { <p class="banner error" data-testid="video-error">{e}</p> })}
            {move || seq.get().map(|s| view! {
                <p class="muted" data-testid="video-summary">{format!("{} · {} ground-truth boxes · {} tracks", s.name, s.gt.len(),
                    s.gt.iter().map(|g| g.track).collect::<std::collections::BTreeSet<_>>().len())}</p>
            })}
            <h3>"Two detectors (synthetic: modelled on the ground truth, not run)"</h3>
            <div class="cols">
                <div class="controls">
                    <strong>"Detector A"</strong>
                    {num("recall at first sight", "recall-start-a", a.recall_start, 0.0, 1.0, 0.05)}
                    {num("recall later", "recall-full-a", a.recall_full, 0.0, 1.0, 0.05)}
                    {num("ramp (frames)", "ramp-a", a.ramp, 0.0, 100.0, 1.0)}
                </div>
                <div class="controls">
                    <strong>"Detector B"</strong>
                    {num("recall at first sight", "recall-start-b", b.recall_start, 0.0, 1.0, 0.05)}
                    {num("recall later", "recall-full-b", b.recall_full, 0.0, 1.0, 0.05)}
                    {num("ramp (frames)", "ramp-b", b.ramp, 0.0, 100.0, 1.0)}
                </div>
            </div>
            <table class="data">
                <thead><tr><th></th><th>"AP50"</th><th>"Average Delay (frames)"</th></tr></thead>
                <tbody>
                    <tr><td>"A"</td><td data-testid="ap-a">{show(eval_a, |r| format!("{:.3}", r.ap50))}</td><td data-testid="ad-a">{show(eval_a, |r| format!("{:.2}", r.average_delay))}</td></tr>
                    <tr><td>"B"</td><td data-testid="ap-b">{show(eval_b, |r| format!("{:.3}", r.ap50))}</td><td data-testid="ad-b">{show(eval_b, |r| format!("{:.2}", r.average_delay))}</td></tr>
                </tbody>
            </table>
            <div class="grid2">
                <Show when=move || timeline.get().is_some()><Chart testid="timeline-chart" name="timeline" fig=timeline/></Show>
                <Show when=move || ap_ad.get().is_some()><Chart testid="ap-ad-chart" name="ap-vs-ad" fig=ap_ad/></Show>
            </div>
            <h3>"The sequence's tracker (real output)"</h3>
            <p data-testid="mot-summary">{mot_text(|m| format!("MOTA {:.1} % · MOTP {:.3} · IDF1 {:.1} % · FP {} · FN {} · ID switches {}",
                100.0 * m.mota, m.motp, 100.0 * m.idf1, m.fp, m.fn_, m.id_switches))}</p>
            <h3>"CaTDet cascade (synthetic proposal and refinement detectors)"</h3>
            <div class="controls">{num("region margin", "catdet-margin", margin, 0.0, 2.0, 0.05)}</div>
            <p class="muted" data-testid="catdet-reported">"The paper's own networks, as reported (not simulated here): "
                {lowbit_core::video::catdet::REPORTED.iter().map(|r| r.describe()).collect::<Vec<_>>().join(" · ")}</p>
            {move || match catdet.get() { Some(Err(e)) => Some(view! { <p class="banner error">{e}</p> }), _ => None }}
            <div class="grid2">
                <Show when=move || catdet_fig.get().is_some()><Chart testid="catdet-chart" name="catdet" fig=catdet_fig/></Show>
                <Chart testid="patchnet-chart" name="patchnet" fig=patch_fig/>
            </div>
            <h3>"PatchNet template matching on rendered video (moving MNIST digits, exact ground truth)"</h3>
            <div class="row">
                <button data-testid="patchnet-run" on:click=run_patchnet disabled=move || running.get()>
                    {move || if running.get() { "Tracking…" } else { "Track with every key-frame policy" }}</button>
                <span class="muted">"Key frames take the ground truth as the detector (60 GOPs); PatchNet (57.7 MOPs per object) tracks in between."</span>
            </div>
            {move || match tracking.get() { Some(Err(e)) => Some(view! { <p class="banner error">{e}</p> }), _ => None }}
            <Show when=move || track_fig.get().is_some()><Chart testid="patchnet-track-chart" name="patchnet-tracking" fig=track_fig/></Show>
        </section>
    }
}
