//! The app's shared state and how it maps to the URL, so copying the address reproduces the view.

use leptos::prelude::*;
use lowbit_core::quant::{FormatInfo, QuantSpec, format_info};
use std::sync::Arc;

/// The tabs, in the order the tab bar shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Start,
    Checkpoint,
    Explorer,
    Compare,
    Model,
    Diff,
    Sparsity,
    Jobs,
    Training,
    Distributed,
    Video,
}

impl Tab {
    pub const ALL: [Tab; 11] = [
        Tab::Start,
        Tab::Checkpoint,
        Tab::Explorer,
        Tab::Compare,
        Tab::Model,
        Tab::Diff,
        Tab::Sparsity,
        Tab::Jobs,
        Tab::Training,
        Tab::Distributed,
        Tab::Video,
    ];
    pub fn key(self) -> &'static str {
        match self {
            Tab::Start => "start",
            Tab::Checkpoint => "checkpoint",
            Tab::Explorer => "explorer",
            Tab::Compare => "compare",
            Tab::Model => "model",
            Tab::Diff => "diff",
            Tab::Sparsity => "sparsity",
            Tab::Jobs => "jobs",
            Tab::Training => "training",
            Tab::Distributed => "distributed",
            Tab::Video => "video",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Tab::Start => "Start",
            Tab::Checkpoint => "Checkpoint",
            Tab::Explorer => "Tensor explorer",
            Tab::Compare => "Format comparison",
            Tab::Model => "Model",
            Tab::Diff => "Diff",
            Tab::Sparsity => "Sparsity & hardware",
            Tab::Jobs => "Jobs & experiments",
            Tab::Training => "Training",
            Tab::Distributed => "Distributed training",
            Tab::Video => "Video",
        }
    }
    fn from_key(k: &str) -> Option<Tab> {
        Tab::ALL.into_iter().find(|t| t.key() == k)
    }
}

/// The quantization controls, in the CLI's vocabulary.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub format: String,
    pub bits: u32,
    /// `tensor`, `channel` or `vector`.
    pub gran: String,
    /// V for vector granularity.
    pub vsize: usize,
    pub clip: String,
    /// Two-level VS-Quant scale bits M; 0 = single-level float scales.
    pub scale_bits: u32,
}

impl Default for Spec {
    fn default() -> Self {
        Self { format: "int".into(), bits: 4, gran: "channel".into(), vsize: 16, clip: "octav".into(), scale_bits: 0 }
    }
}

impl Spec {
    /// The format's description from core (what it takes, which clips and scales apply).
    fn info(&self) -> Option<FormatInfo> {
        format_info(&self.format)
    }
    /// Whether the format takes a bit width (the others have theirs in the name).
    pub fn has_bits(&self) -> bool {
        self.info().is_some_and(|i| i.takes_bits)
    }
    /// Whether two-level VS-Quant scales apply to the format.
    pub fn two_level(&self) -> bool {
        self.info().is_some_and(|i| i.two_level)
    }
    /// Whether `clip` applies to the format (core's rule: own scales take `max`; OCTAV, ACIQ and KL need a
    /// uniform grid).
    pub fn clip_applies(&self, clip: &str) -> bool {
        let Some(i) = self.info() else { return true };
        let grid_only = !matches!(clip, "max" | "mse") && !clip.starts_with("percentile");
        if i.own_scales { clip == "max" } else { i.uniform_grid || !grid_only }
    }
    pub fn granularity(&self) -> String {
        match self.gran.as_str() {
            "tensor" => "tensor".into(),
            "vector" => format!("vector:{}", self.vsize),
            _ => "channel:0".into(),
        }
    }
    pub fn quant_spec(&self) -> QuantSpec {
        QuantSpec {
            format: self.format.clone(),
            bits: self.has_bits().then_some(self.bits),
            granularity: Some(self.granularity()),
            clip: Some(self.clip.clone()),
            scale_bits: (self.scale_bits > 0).then_some(self.scale_bits),
            ..QuantSpec::default()
        }
    }
    /// The inverse of [`Spec::quant_spec`], for specs read back from an experiment.
    pub fn from_quant_spec(q: &QuantSpec) -> Spec {
        let d = Spec::default();
        let g = q.granularity.clone().unwrap_or_else(|| "tensor".into());
        let (gran, vsize) = match g.split_once(':') {
            Some(("vector", v)) => ("vector".to_string(), v.parse().unwrap_or(d.vsize)),
            Some(("channel", _)) => ("channel".to_string(), d.vsize),
            _ if g == "channel" => ("channel".to_string(), d.vsize),
            _ => ("tensor".to_string(), d.vsize),
        };
        Spec {
            format: q.format.clone(),
            bits: q.bits.unwrap_or(d.bits),
            gran,
            vsize,
            clip: q.clip.clone().unwrap_or_else(|| "max".into()),
            scale_bits: q.scale_bits.unwrap_or(0),
        }
    }
    /// A short label: `int4 channel octav`.
    pub fn label(&self) -> String {
        let f = if self.has_bits() { format!("{}{}", self.format, self.bits) } else { self.format.clone() };
        let m = if self.scale_bits > 0 { format!(" M={}", self.scale_bits) } else { String::new() };
        format!("{f} {} {}{m}", self.granularity(), self.clip)
    }
    /// A format change keeps the other controls where they still apply and moves them where they do not,
    /// as core's description of the format says: block formats need vector granularity in their blocks,
    /// formats with their own scales need `max`, non-uniform grids cannot use OCTAV/ACIQ/KL.
    pub fn with_format(&self, format: &str) -> Spec {
        let mut s = self.clone();
        s.format = format.to_string();
        let Some(info) = s.info() else { return s };
        if let Some(block) = info.block {
            s.gran = "vector".into();
            s.vsize = block;
        }
        if !s.clip_applies(&s.clip) {
            s.clip = if info.own_scales { "max" } else { "mse" }.into();
        }
        if !info.two_level {
            s.scale_bits = 0;
        }
        s
    }
}

/// One tensor of the open checkpoint, with its statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    pub name: String,
    pub dtype: String,
    pub shape: Vec<usize>,
    pub numel: usize,
    pub min: f64,
    pub max: f64,
    pub std: f64,
    pub sparsity: f64,
}

/// The open checkpoint: parsed in the page (`local` holds the file's bytes), stored on the server
/// (`server_id`), or both once a local file has been uploaded for a sweep or a share.
#[derive(Debug, Clone)]
pub struct Ckpt {
    pub name: String,
    pub format: String,
    pub tensors: Vec<TensorInfo>,
    pub local: Option<Arc<Vec<u8>>>,
    pub server_id: Option<String>,
}

impl PartialEq for Ckpt {
    fn eq(&self, o: &Self) -> bool {
        self.name == o.name
            && self.server_id == o.server_id
            && self.tensors.len() == o.tensors.len()
            && self.local.as_ref().map(|b| b.len()) == o.local.as_ref().map(|b| b.len())
    }
}

/// The values of the selected tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorData {
    pub name: String,
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

/// Shared state, provided once by `App` and read with `expect_context::<Ctx>()`.
#[derive(Clone, Copy)]
pub struct Ctx {
    pub tab: RwSignal<Tab>,
    pub ckpt: RwSignal<Option<Arc<Ckpt>>>,
    pub tensor: RwSignal<Option<String>>,
    pub data: RwSignal<Option<Arc<TensorData>>>,
    pub spec: RwSignal<Spec>,
    /// A message naming what went wrong (bad file, server error); shown until dismissed or replaced.
    pub error: RwSignal<Option<String>>,
    /// What is being loaded or computed, for the progress banner.
    pub busy: RwSignal<Option<String>>,
    /// Upload progress in [0, 1] while a file goes to the server.
    pub upload: RwSignal<Option<f64>>,
    /// A local file named in the URL that has to be dropped again after a reload.
    pub missing_local: RwSignal<Option<String>>,
    /// The last finished job, for keeping it as an experiment.
    pub job: RwSignal<Option<lowbit_api::Job>>,
    /// The worker's answer for the explorer's legend: (request id, every method's whole-tensor MSE).
    pub legend_mse: RwSignal<Option<(f64, crate::compute::MethodMse)>>,
    /// The explorer's numbers for the open tensor and configuration (from the worker, or the page when no
    /// worker can run); `None` while the first answer is on its way.
    pub explore: RwSignal<Option<Result<crate::compute::Explore, String>>>,
    /// An explorer request is with the worker (the charts wait for its numbers).
    pub explore_pending: RwSignal<bool>,
    /// The Sparsity & hardware page's settings (kept in the URL).
    pub sparsity: RwSignal<SparsityView>,
    /// The training runs (job ids) the Training and Distributed training pages overlay (kept in the URL: a
    /// shared comparison).
    pub training_runs: RwSignal<Vec<String>>,
    /// The Diff page's checkpoints (kept in the URL: a shared comparison).
    pub diff: RwSignal<Option<(String, String)>>,
}

/// What the Sparsity & hardware page is set to.
#[derive(Debug, Clone, PartialEq)]
pub struct SparsityView {
    pub pattern: String,
    pub sparsity: f64,
    /// Activation density of the synthetic input (SCNN, Winograd without real activations).
    pub act_density: f64,
    /// Density of the Winograd chart's current point.
    pub wino_density: f64,
    /// Winograd output tile m (2 or 4).
    pub tile: u32,
}

impl Default for SparsityView {
    fn default() -> Self {
        Self { pattern: "fine".into(), sparsity: 0.5, act_density: 0.4, wino_density: 0.5, tile: 2 }
    }
}

impl Ctx {
    pub fn new() -> Self {
        Self {
            tab: RwSignal::new(Tab::Start),
            ckpt: RwSignal::new(None),
            tensor: RwSignal::new(None),
            data: RwSignal::new(None),
            spec: RwSignal::new(Spec::default()),
            error: RwSignal::new(None),
            busy: RwSignal::new(None),
            upload: RwSignal::new(None),
            missing_local: RwSignal::new(None),
            job: RwSignal::new(None),
            legend_mse: RwSignal::new(None),
            explore: RwSignal::new(None),
            explore_pending: RwSignal::new(false),
            sparsity: RwSignal::new(SparsityView::default()),
            training_runs: RwSignal::new(Vec::new()),
            diff: RwSignal::new(None),
        }
    }

    /// Reads the view from the address bar (on start).
    pub fn restore_from_url(&self) {
        let u = UrlState::from_query(&location_search());
        if let Some(t) = u.tab {
            self.tab.set(t);
        }
        self.spec.set(u.spec);
        self.sparsity.set(u.sparsity);
        self.training_runs.set(u.runs);
        self.diff.set(u.diff);
        if let Some(t) = u.tensor {
            self.tensor.set(Some(t));
        }
        if let Some(id) = u.ckpt {
            crate::session::open_server(*self, id);
        } else if let Some(f) = u.local {
            self.missing_local.set(Some(f));
        }
    }

    /// Writes the view into the address bar (replacing, so Back leaves the app rather than undoing a slider).
    pub fn write_url(&self) {
        let ckpt = self.ckpt.get();
        let u = UrlState {
            tab: Some(self.tab.get()),
            ckpt: ckpt.as_ref().and_then(|c| c.server_id.clone()),
            local: ckpt.as_ref().filter(|c| c.server_id.is_none()).map(|c| c.name.clone()),
            tensor: self.tensor.get(),
            spec: self.spec.get(),
            sparsity: self.sparsity.get(),
            runs: self.training_runs.get(),
            diff: self.diff.get(),
        };
        if let Some(w) = web_sys::window()
            && let Ok(h) = w.history()
        {
            let _ = h.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&format!("/?{}", u.to_query())));
        }
    }
}

impl Default for Ctx {
    fn default() -> Self {
        Self::new()
    }
}

/// The part of the state that lives in the URL.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UrlState {
    pub tab: Option<Tab>,
    pub ckpt: Option<String>,
    pub local: Option<String>,
    pub tensor: Option<String>,
    pub spec: Spec,
    pub sparsity: SparsityView,
    /// Training runs overlaid on the Training page.
    pub runs: Vec<String>,
    /// The Diff page's two checkpoints (original, compressed).
    pub diff: Option<(String, String)>,
}

impl UrlState {
    pub fn to_query(&self) -> String {
        let s = &self.spec;
        let mut q: Vec<(&str, String)> = Vec::new();
        if let Some(t) = self.tab {
            q.push(("tab", t.key().into()));
        }
        if let Some(c) = &self.ckpt {
            q.push(("ckpt", c.clone()));
        }
        if let Some(l) = &self.local {
            q.push(("local", l.clone()));
        }
        if let Some(t) = &self.tensor {
            q.push(("tensor", t.clone()));
        }
        q.push(("format", s.format.clone()));
        q.push(("bits", s.bits.to_string()));
        q.push(("gran", s.gran.clone()));
        q.push(("v", s.vsize.to_string()));
        q.push(("clip", s.clip.clone()));
        if s.scale_bits > 0 {
            q.push(("sb", s.scale_bits.to_string()));
        }
        let p = &self.sparsity;
        if *p != SparsityView::default() {
            q.push(("pat", p.pattern.clone()));
            q.push(("sp", p.sparsity.to_string()));
            q.push(("ad", p.act_density.to_string()));
            q.push(("wd", p.wino_density.to_string()));
            q.push(("tile", p.tile.to_string()));
        }
        if !self.runs.is_empty() {
            q.push(("runs", self.runs.join(",")));
        }
        if let Some((a, b)) = &self.diff {
            q.push(("da", a.clone()));
            q.push(("db", b.clone()));
        }
        q.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect::<Vec<_>>().join("&")
    }

    pub fn from_query(q: &str) -> UrlState {
        let mut u = UrlState::default();
        for pair in q.trim_start_matches('?').split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = decode(v);
            let s = &mut u.spec;
            match k {
                "tab" => u.tab = Tab::from_key(&v),
                "ckpt" => u.ckpt = Some(v),
                "local" => u.local = Some(v),
                "tensor" => u.tensor = Some(v),
                "format" => s.format = v,
                "bits" => s.bits = v.parse().unwrap_or(s.bits),
                "gran" => s.gran = v,
                "v" => s.vsize = v.parse().unwrap_or(s.vsize),
                "clip" => s.clip = v,
                "sb" => s.scale_bits = v.parse().unwrap_or(0),
                "pat" => u.sparsity.pattern = v,
                "sp" => u.sparsity.sparsity = v.parse().ok().filter(|x| (0.0..=0.95).contains(x)).unwrap_or(0.5),
                "ad" => u.sparsity.act_density = v.parse().ok().filter(|x| *x > 0.0 && *x <= 1.0).unwrap_or(0.4),
                "wd" => u.sparsity.wino_density = v.parse().ok().filter(|x| *x > 0.0 && *x <= 1.0).unwrap_or(0.5),
                "tile" => u.sparsity.tile = if v == "4" { 4 } else { 2 },
                "runs" => u.runs = v.split(',').filter(|r| !r.is_empty()).take(32).map(str::to_string).collect(),
                "da" => u.diff = Some((v, u.diff.map(|d| d.1).unwrap_or_default())),
                "db" => u.diff = Some((u.diff.map(|d| d.0).unwrap_or_default(), v)),
                _ => {}
            }
        }
        u
    }
}

/// Percent-encoding of everything but unreserved characters.
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b':' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 3;
                    }
                    Err(_) => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn location_search() -> String {
    web_sys::window().and_then(|w| w.location().search().ok()).unwrap_or_default()
}

/// The share id when the page is `/e/{share}`.
pub fn shared_path() -> Option<String> {
    let p = web_sys::window()?.location().pathname().ok()?;
    let id = p.strip_prefix("/e/")?.trim_end_matches('/');
    (!id.is_empty()).then(|| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_round_trips_the_view() {
        let u = UrlState {
            tab: Some(Tab::Compare),
            ckpt: Some("abc".into()),
            local: None,
            tensor: Some("encoder.layer.0/attn weight&x".into()),
            spec: Spec {
                format: "int".into(),
                bits: 3,
                gran: "vector".into(),
                vsize: 64,
                clip: "percentile:99.9".into(),
                scale_bits: 6,
            },
            sparsity: SparsityView {
                pattern: "block:4x4".into(),
                sparsity: 0.75,
                act_density: 0.3,
                wino_density: 0.2,
                tile: 4,
            },
            runs: vec!["j1".into(), "j2".into()],
            diff: Some(("a1".into(), "b2".into())),
        };
        assert_eq!(UrlState::from_query(&format!("?{}", u.to_query())), u);
    }

    #[test]
    fn a_spec_survives_the_quant_spec_round_trip() {
        for s in [Spec::default(), Spec::default().with_format("mxfp4"), Spec::default().with_format("fp8-e4m3")] {
            assert_eq!(Spec::from_quant_spec(&s.quant_spec()), s);
            s.quant_spec().resolve().expect("the controls always make a valid configuration");
        }
    }

    #[test]
    fn the_controls_follow_cores_description_of_every_format() {
        // Whatever was set before, choosing a format and then any clip the controls offer for it makes a
        // configuration core accepts; a clip the controls disable is one core refuses.
        let from = Spec { gran: "vector".into(), vsize: 64, clip: "kl".into(), scale_bits: 6, ..Spec::default() };
        for f in lowbit_core::quant::FORMAT_NAMES {
            let s = from.with_format(f);
            s.quant_spec().resolve().unwrap_or_else(|e| panic!("{f} from {from:?}: {e}"));
            for clip in ["max", "mse", "percentile:99.9", "octav", "aciq-gauss", "aciq-laplace", "kl"] {
                let c = Spec { clip: clip.into(), ..s.clone() };
                assert_eq!(c.quant_spec().resolve().is_ok(), s.clip_applies(clip), "{f} with {clip}");
            }
        }
    }

    #[test]
    fn broken_percent_escapes_are_kept_literally() {
        assert_eq!(decode("a%2"), "a%2");
        assert_eq!(decode("%zz%41"), "%zzA");
    }
}
