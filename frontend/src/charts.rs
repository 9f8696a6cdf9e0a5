//! Every chart of the dashboard as a [`Figure`], built from core's results with the plotly crate's typed
//! builders (a misspelt attribute does not compile); drawn by [`crate::components::chart::Chart`].

use crate::compute::{CompareRow, Curve, Heat};
use crate::curves::{LINE_PATTERNS, MacLine, NM_PATTERNS, ScnnLine, SparsityPoint};
use lowbit_core::stats::Histogram;
use lowbit_core::winograd::{MultCounts, Tile};
use plotly::common::{
    Anchor, ColorBar, ColorScale, ColorScalePalette, DashType, Fill, Font, Line, Marker, MarkerSymbol, Mode,
    Orientation, Position, Title,
};
use plotly::layout::{Axis, AxisType, BarMode, Layout, Legend, Margin, Shape, ShapeLine, ShapeType};
use plotly::{Bar, HeatMap, Plot, Scatter};
use serde_json::Value;

/// Colours of the clip methods, shared by the histogram's lines and the curve's markers.
pub fn method_colour(m: &str) -> &'static str {
    match m {
        "max" => "#8c8c8c",
        m if m.starts_with("percentile") => "#b07aa1",
        "mse" => "#59a14f",
        "octav" => "#e15759",
        "aciq-gauss" => "#f28e2b",
        "aciq-laplace" => "#edc948",
        "kl" => "#4e79a7",
        _ => "#76b7b2",
    }
}

/// A figure ready to draw: a [`Plot`] built with the plotly crate's typed builders, kept as the JSON it
/// serializes to (`{data, layout, config}`) so that signals can carry it between the page's tasks (a `Plot`
/// holds its traces as `Box<dyn Trace>`, which is neither `Send` nor comparable).
#[derive(Debug, Clone, PartialEq)]
pub struct Figure(pub Value);

impl From<Plot> for Figure {
    fn from(p: Plot) -> Self {
        Self(serde_json::to_value(&p).unwrap_or(Value::Null))
    }
}

impl std::ops::Index<&str> for Figure {
    type Output = Value;
    fn index(&self, k: &str) -> &Value {
        &self.0[k]
    }
}

fn title(text: &str) -> Title {
    Title::with_text(text).font(Font::new().size(14)).x(0.01).x_anchor(Anchor::Left)
}

/// An axis titled in words, with grid lines that read on both themes.
fn axis(text: &str) -> Axis {
    Axis::new()
        .title(Title::with_text(text))
        .grid_color("rgba(128,128,128,0.25)")
        .zero_line_color("rgba(128,128,128,0.5)")
}

fn layout(heading: &str, x: Axis, y: Axis) -> Layout {
    Layout::new()
        .title(title(heading))
        .margin(Margin::new().left(56).right(16).top(36).bottom(44))
        .x_axis(x)
        .y_axis(y)
        .show_legend(true)
        .legend(Legend::new().orientation(Orientation::Horizontal).y(-0.22).y_anchor(Anchor::Top))
        .height(360)
}

fn plot(traces: Vec<Box<dyn plotly::Trace>>, layout: Layout) -> Figure {
    let mut p = Plot::new();
    p.add_traces(traces);
    p.set_layout(layout);
    p.into()
}

/// Histogram of the values (log count axis) with a pair of lines at ±clip for every method on the curve.
pub fn histogram(h: &Histogram, c: Option<&Curve>) -> Figure {
    // One filled step line rather than a bar per bin: the same picture, drawn as a single path (redraws on
    // every control change stay cheap).
    let mut xs = Vec::with_capacity(2 * h.counts.len());
    let mut ys = Vec::with_capacity(2 * h.counts.len());
    for (w, &c) in h.edges.windows(2).zip(&h.counts) {
        // A log axis has no place for 0: empty bins sit just below 1.
        let y = if c == 0 { 0.5 } else { c as f64 };
        xs.extend([w[0], w[1]]);
        ys.extend([y, y]);
    }
    let values = Scatter::new(xs, ys)
        .mode(Mode::Lines)
        .name("values")
        .fill(Fill::ToZeroY)
        .line(Line::new().color("#4e79a7").width(1.0))
        .fill_color("rgba(78,121,167,0.55)");
    let top = h.counts.iter().copied().max().unwrap_or(1).max(1) as f64;
    let mut heading = "Values (log count) and each method's clip";
    // The clip lines are layout shapes, not traces: one trace to lay out instead of eight.
    let mut shapes = Vec::new();
    if let Some(c) = c {
        if c.per_group {
            heading = "Values (log count) and each method's typical clip (ratio × mean group max)";
        }
        for (m, clip) in &c.thresholds {
            for x in [-clip, *clip] {
                let dash = if m == "max" { DashType::Dot } else { DashType::Solid };
                shapes.push(
                    Shape::new()
                        .shape_type(ShapeType::Line)
                        .name(m.as_str())
                        .x0(x)
                        .x1(x)
                        .y_ref("paper")
                        .y0(0)
                        .y1(1)
                        .line(ShapeLine::new().color(method_colour(m)).width(2.0).dash(dash)),
                );
            }
        }
    }
    let y = axis("count").type_(AxisType::Log).range(vec![-0.35, (top * 2.0).log10()]);
    // The methods are named in the page's own legend beside the charts (Plotly's legend is slow to lay out).
    let l = layout(heading, axis("value"), y).show_legend(false).shapes(shapes);
    plot(vec![values], l)
}

/// MSE against clip ratio, with every method's marker; the chosen method's is a star.
pub fn curve(c: &Curve, chosen: &str) -> Figure {
    let log_mse = || axis("MSE").type_(AxisType::Log);
    let Some(cc) = &c.curve else {
        return plot(Vec::new(), layout("No clipping curve for this format", axis("clip / max"), log_mse()));
    };
    let line = Scatter::new(cc.ratios.clone(), cc.mse.clone())
        .mode(Mode::Lines)
        .name("MSE(r)")
        .line(Line::new().color("#9aa0a6"));
    // The methods in one trace, the chosen one in another (a marker symbol is per trace).
    let markers = |pick: bool, symbol: MarkerSymbol, size: usize| {
        let ms: Vec<_> = cc.markers.iter().filter(|m| (m.method == chosen) == pick).collect();
        Scatter::new(ms.iter().map(|m| m.ratio).collect(), ms.iter().map(|m| m.mse).collect())
            .mode(Mode::Markers)
            .name(if pick { "chosen" } else { "methods" })
            .text_array(ms.iter().map(|m| m.method.clone()).collect())
            .marker(
                Marker::new()
                    .color_array(ms.iter().map(|m| method_colour(&m.method)).collect())
                    .size(size)
                    .symbol(symbol),
            )
    };
    let heading = if c.elements < c.total {
        format!("Clipping curve (on {} of {} elements, whole rows)", c.elements, c.total)
    } else {
        "Clipping curve".to_string()
    };
    let l = layout(&heading, axis("clip / max of each group"), log_mse()).show_legend(false);
    plot(vec![line, markers(false, MarkerSymbol::Circle, 9), markers(true, MarkerSymbol::Star, 14)], l)
}

/// The chosen clips per group as a heatmap (rows: output channels; columns: vectors along the row).
pub fn scales(h: &Heat) -> Figure {
    let rows_title = if h.row_step > 1 { format!("row ({})", every(h.row_step)) } else { "row".to_string() };
    let l = layout("Clip per group", axis("group in row"), axis(&rows_title)).show_legend(false);
    let map = HeatMap::new_z(h.z.clone())
        .color_scale(ColorScale::Palette(ColorScalePalette::Viridis))
        .color_bar(ColorBar::new().title("clip"));
    plot(vec![map], l)
}

/// Per-tensor SQNR bars, worst first highlighted by colour.
pub fn sqnr_bars(names: &[String], sqnr: &[f64]) -> Figure {
    let colours: Vec<&str> = sqnr
        .iter()
        .map(|&s| {
            if s < 15.0 {
                "#e15759"
            } else if s < 20.0 {
                "#f28e2b"
            } else {
                "#4e79a7"
            }
        })
        .collect();
    let x = axis("tensor").show_tick_labels(names.len() <= 40);
    let l = layout("SQNR per tensor", x, axis("SQNR (dB)")).show_legend(false);
    plot(vec![Bar::new(names.to_vec(), sqnr.to_vec()).marker(Marker::new().color_array(colours))], l)
}

/// Error against bits per element for every comparison row; the Pareto front as a line.
pub fn compare_scatter(rows: &[CompareRow]) -> Figure {
    let ok: Vec<(&CompareRow, (f64, f64, f64))> =
        rows.iter().filter_map(|r| r.outcome.clone().ok().map(|o| (r, o))).collect();
    let mut front: Vec<(f64, f64)> = ok.iter().filter(|(r, _)| r.pareto).map(|(_, o)| (o.0, o.1)).collect();
    front.sort_by(|a, b| a.0.total_cmp(&b.0));
    let points = Scatter::new(ok.iter().map(|(_, o)| o.0).collect(), ok.iter().map(|(_, o)| o.1).collect())
        .mode(Mode::MarkersText)
        .name("configurations")
        .text_array(ok.iter().map(|(r, _)| r.label.clone()).collect())
        .text_position(Position::TopCenter)
        .text_font(Font::new().size(10))
        .marker(
            Marker::new()
                .size(9)
                .color_array(ok.iter().map(|(r, _)| if r.pareto { "#e15759" } else { "#4e79a7" }).collect()),
        );
    let pareto = Scatter::new(front.iter().map(|p| p.0).collect(), front.iter().map(|p| p.1).collect())
        .mode(Mode::Lines)
        .name("Pareto front")
        .line(Line::new().color("#e15759").dash(DashType::Dash));
    let x = axis("bits per element (scales included)");
    let l = layout("Error against bits per element", x, axis("MSE").type_(AxisType::Log)).height(420);
    plot(vec![points, pareto], l)
}

/// Grouped bars of one measure across experiments (per tensor).
pub fn experiments_bars(series: &[(String, Vec<String>, Vec<f64>)], measure: &str) -> Figure {
    let traces = series.iter().map(|(name, x, y)| Bar::new(x.clone(), y.clone()).name(name) as Box<dyn plotly::Trace>);
    let x = axis("tensor").show_tick_labels(series.first().is_some_and(|s| s.1.len() <= 40));
    let l = layout(&format!("{measure} per tensor"), x, axis(measure)).bar_mode(BarMode::Group);
    plot(traces.collect(), l)
}

/// "every 2nd row" in words: the ordinal of `k` as a reader writes it.
fn every(k: usize) -> String {
    let suffix = match (k % 10, k % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("every {k}{suffix}")
}

/// A job's metric series (a training curve, SQNR along the checkpoint…): one line per name over its steps.
pub fn metric_series(points: &[(String, i64, f64)]) -> Figure {
    let mut names: Vec<&str> = Vec::new();
    for (n, _, _) in points {
        if !names.contains(&n.as_str()) {
            names.push(n);
        }
    }
    let traces = names
        .iter()
        .map(|name| {
            let (x, y): (Vec<i64>, Vec<f64>) =
                points.iter().filter(|(n, _, _)| n == name).map(|(_, s, v)| (*s, *v)).unzip();
            Scatter::new(x, y).mode(Mode::LinesMarkers).name(*name).marker(Marker::new().size(4))
                as Box<dyn plotly::Trace>
        })
        .collect();
    plot(traces, layout("Metric series", axis("step"), axis("value")))
}

/// Several runs' series on one chart (a training comparison), one line per run, against `x` (step, epoch,
/// bytes sent, simulated seconds…).
pub fn runs_overlay(heading: &str, x: &str, y: &str, runs: &[(String, Vec<f64>, Vec<f64>)]) -> Figure {
    let traces = runs
        .iter()
        .enumerate()
        .map(|(i, (name, x, v))| {
            Scatter::new(x.clone(), v.clone())
                .mode(Mode::LinesMarkers)
                .name(name)
                .marker(Marker::new().size(4).color(PALETTE[i % PALETTE.len()]))
                .line(Line::new().color(PALETTE[i % PALETTE.len()])) as Box<dyn plotly::Trace>
        })
        .collect();
    plot(traces, layout(heading, axis(x), axis(y)))
}

/// Colours of the sparsity patterns (and of the storage schemes), one per line.
const PALETTE: [&str; 10] =
    ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#8c8c8c"];

/// A star on the current setting.
fn current(x: f64, y: f64, label: &str) -> Box<dyn plotly::Trace> {
    Scatter::new(vec![x], vec![y])
        .mode(Mode::Markers)
        .name(label)
        .marker(Marker::new().size(14).symbol(MarkerSymbol::Star).color("#e15759"))
}

/// Error against sparsity: SQNR of the pruned tensor (solid) and of pruned + quantized (dashed), one colour
/// per pattern; N:M patterns as points; the current setting starred.
pub fn sparsity_curve(points: &[SparsityPoint], now: Option<(f64, f64)>) -> Figure {
    let mut traces: Vec<Box<dyn plotly::Trace>> = Vec::new();
    let finite = |v: f64| if v.is_finite() { Some(v) } else { None };
    for (i, p) in LINE_PATTERNS.iter().chain(NM_PATTERNS.iter()).enumerate() {
        let pts: Vec<&SparsityPoint> = points.iter().filter(|q| q.pattern == *p).collect();
        if pts.is_empty() {
            continue;
        }
        let colour = PALETTE[i % PALETTE.len()];
        let x: Vec<f64> = pts.iter().map(|q| q.sparsity * 100.0).collect();
        let nm = p.starts_with("nm");
        let mode = if nm { Mode::Markers } else { Mode::LinesMarkers };
        traces.push(
            Scatter::new(x.clone(), pts.iter().map(|q| finite(q.prune_sqnr_db)).collect())
                .mode(mode.clone())
                .name(p)
                .legend_group(p)
                .line(Line::new().color(colour))
                .marker(Marker::new().color(colour).size(if nm { 10 } else { 5 })),
        );
        traces.push(
            Scatter::new(x, pts.iter().map(|q| finite(q.total_sqnr_db)).collect())
                .mode(mode)
                .name(format!("{p} + quantized"))
                .legend_group(p)
                .show_legend(false)
                .line(Line::new().color(colour).dash(DashType::Dash))
                .marker(Marker::new().color(colour).size(if nm { 10 } else { 4 }).symbol(MarkerSymbol::Diamond)),
        );
    }
    if let Some((x, y)) = now {
        traces.push(current(x * 100.0, y, "current setting"));
    }
    let heading = "Error against sparsity (solid: pruned · dashed: pruned + quantized)";
    plot(traces, layout(heading, axis("sparsity (%)"), axis("SQNR (dB)")).height(420))
}

/// Storage against sparsity for one pattern: bits per parameter under every scheme (values, scales and
/// indices); beside it, the best scheme of fine-grained pruning (dotted) so the index saving shows.
pub fn storage_curve(points: &[SparsityPoint], pattern: &str, now: Option<(f64, f64)>) -> Figure {
    let pts: Vec<&SparsityPoint> = points.iter().filter(|q| q.pattern == pattern).collect();
    let schemes: Vec<String> = pts.first().map(|q| q.storage.iter().map(|s| s.0.clone()).collect()).unwrap_or_default();
    let mut traces: Vec<Box<dyn plotly::Trace>> = Vec::new();
    let mode = if pattern.starts_with("nm") { Mode::Markers } else { Mode::LinesMarkers };
    for (i, scheme) in schemes.iter().enumerate() {
        let (x, y): (Vec<f64>, Vec<f64>) = pts
            .iter()
            .filter_map(|q| q.storage.iter().find(|s| &s.0 == scheme).map(|s| (q.sparsity * 100.0, s.1)))
            .unzip();
        traces.push(
            Scatter::new(x, y)
                .mode(mode.clone())
                .name(scheme.clone())
                .line(Line::new().color(PALETTE[i % PALETTE.len()]))
                .marker(Marker::new().color(PALETTE[i % PALETTE.len()]).size(5)),
        );
    }
    if pattern != "fine" {
        let (x, y): (Vec<f64>, Vec<f64>) = points
            .iter()
            .filter(|q| q.pattern == "fine")
            .map(|q| (q.sparsity * 100.0, q.storage.iter().map(|s| s.1).fold(f64::INFINITY, f64::min)))
            .unzip();
        traces.push(
            Scatter::new(x, y)
                .mode(Mode::Lines)
                .name("fine: best scheme")
                .line(Line::new().color("#8c8c8c").dash(DashType::Dot)),
        );
    }
    if let Some((x, y)) = now {
        traces.push(current(x * 100.0, y, "current setting"));
    }
    let heading = format!("Storage against sparsity ({pattern})");
    plot(traces, layout(&heading, axis("sparsity (%)"), axis("bits per parameter")))
}

/// SCNN against DCNN: speedup (solid) and energy gain (dashed) against weight density, one colour per
/// activation density (the SCNN paper's figure); the current setting starred; 1× marked.
pub fn scnn_curve(lines: &[ScnnLine], now: Option<(f64, f64)>) -> Figure {
    let mut traces: Vec<Box<dyn plotly::Trace>> = Vec::new();
    for (i, (label, pts)) in lines.iter().enumerate() {
        // Red is the real activations' alone.
        const SYNTHETIC: [&str; 5] = ["#4e79a7", "#f28e2b", "#59a14f", "#76b7b2", "#b07aa1"];
        let colour = if label.starts_with("real") { "#e15759" } else { SYNTHETIC[i % SYNTHETIC.len()] };
        let x: Vec<f64> = pts.iter().map(|p| p.0).collect();
        traces.push(
            Scatter::new(x.clone(), pts.iter().map(|p| p.1.speedup_vs_dcnn).collect())
                .mode(Mode::LinesMarkers)
                .name(label.clone())
                .legend_group(label.clone())
                .line(Line::new().color(colour).width(if label.starts_with("real") { 3.0 } else { 1.5 })),
        );
        traces.push(
            Scatter::new(x, pts.iter().map(|p| p.1.energy_vs_dcnn).collect())
                .mode(Mode::Lines)
                .name(format!("energy gain, {label}"))
                .legend_group(label.clone())
                .show_legend(false)
                .line(Line::new().color(colour).dash(DashType::Dash)),
        );
    }
    if let Some((x, y)) = now {
        traces.push(current(x, y, "current setting (speedup)"));
    }
    let heading = "SCNN against DCNN (solid: speedup · dashed: energy gain)";
    let l = layout(heading, axis("weight density"), axis("× better than DCNN (log)").type_(AxisType::Log))
        .shapes(vec![
            Shape::new()
                .shape_type(ShapeType::Line)
                .x_ref("paper")
                .x0(0)
                .x1(1)
                .y0(1)
                .y1(1)
                .line(ShapeLine::new().color("rgba(128,128,128,0.6)").dash(DashType::Dot)),
        ])
        .height(420);
    plot(traces, l)
}

/// Multiplications of a 3×3 layer against density: dense spatial and dense Winograd (flat), sparse spatial
/// and conventional sparse Winograd (spatial weights pruned to the density), Winograd-ReLU (Winograd-domain
/// weights pruned to it, ReLU moved into the Winograd domain).
pub fn winograd_curve(points: &[(f64, MultCounts)], tile: Tile, now: Option<(f64, f64)>) -> Figure {
    let x: Vec<f64> = points.iter().map(|p| p.0).collect();
    type Series = (&'static str, fn(&MultCounts) -> u64, Option<DashType>);
    let series: [Series; 5] = [
        ("dense spatial", |m| m.dense_spatial, Some(DashType::Dot)),
        ("sparse spatial", |m| m.sparse_spatial, None),
        ("dense Winograd", |m| m.dense_winograd, Some(DashType::Dot)),
        ("sparse Winograd (conventional)", |m| m.sparse_winograd, None),
        ("Winograd-ReLU", |m| m.sparse_winograd_relu, None),
    ];
    let mut traces: Vec<Box<dyn plotly::Trace>> = series
        .iter()
        .enumerate()
        .map(|(i, (name, f, dash))| {
            let mut line = Line::new().color(PALETTE[i % PALETTE.len()]);
            if let Some(d) = dash {
                line = line.dash(d.clone());
            }
            Scatter::new(x.clone(), points.iter().map(|p| f(&p.1) as f64).collect())
                .mode(Mode::LinesMarkers)
                .name(*name)
                .line(line) as Box<dyn plotly::Trace>
        })
        .collect();
    if let Some((x, y)) = now {
        traces.push(current(x, y, "current setting (Winograd-ReLU)"));
    }
    let heading = format!("Sparse Winograd F({0}×{0}, 3×3): multiplications", tile.m());
    plot(traces, layout(&heading, axis("density"), axis("multiplications (log)").type_(AxisType::Log)))
}

/// The MAC chart's V range.
const MAC_LO: f64 = 1.0;
const MAC_HI: f64 = 128.0;

/// The VS-Quant MAC: area (solid) and energy (dashed) relative to an 8/8 MAC against the vector size V,
/// one colour per scale width M; the current setting starred; the paper's numbers as reported.
pub fn mac_curve(grid: &[MacLine], now: Option<(f64, f64)>, bits: (u32, u32)) -> Figure {
    let mut traces: Vec<Box<dyn plotly::Trace>> = Vec::new();
    for (i, (m, pts)) in grid.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let x: Vec<f64> = pts.iter().map(|p| p.0 as f64).collect();
        traces.push(
            Scatter::new(x.clone(), pts.iter().map(|p| p.1.relative_area * 100.0).collect())
                .mode(Mode::LinesMarkers)
                .name(format!("M = {m}"))
                .legend_group(format!("M{m}"))
                .line(Line::new().color(colour)),
        );
        traces.push(
            Scatter::new(x, pts.iter().map(|p| p.1.relative_energy * 100.0).collect())
                .mode(Mode::Lines)
                .name(format!("energy, M = {m}"))
                .legend_group(format!("M{m}"))
                .show_legend(false)
                .line(Line::new().color(colour).dash(DashType::Dash)),
        );
    }
    if bits == (4, 4) {
        // VS-Quant's own 4/4 results, as reported (the two versions of the paper disagree; their V and M are
        // not stated with them): level lines, not points on the model's curves.
        let reported = [
            ("area 63 % (as reported, arXiv v1)", 63.0, "#333333"),
            ("energy 76 % (as reported, arXiv v1)", 76.0, "#333333"),
            ("area 64 % (as reported, MLSys)", 64.0, "#9c755f"),
            ("energy 31 % (as reported, MLSys)", 31.0, "#9c755f"),
        ];
        for (name, y, colour) in reported {
            let (lo, hi) = (MAC_LO, MAC_HI);
            traces.push(
                Scatter::new(vec![lo, hi], vec![y, y])
                    .mode(Mode::Lines)
                    .name(name)
                    .line(Line::new().color(colour).dash(DashType::DashDot).width(1.0)),
            );
        }
    }
    if let Some((x, y)) = now {
        traces.push(current(x, y, "current setting (area)"));
    }
    let heading = format!("Vector MAC, {}/{} bits, against 8/8 (solid: area · dashed: energy)", bits.0, bits.1);
    plot(traces, layout(&heading, axis("vector size V (log)").type_(AxisType::Log), axis("% of the 8/8 MAC")))
}

/// A sequence's timeline: each ground-truth track as a bar over the frames it is in, and the frame a
/// detector first hit it (the delay is the gap at the bar's left end).
pub fn video_timeline(tracks: &[(i64, i64, i64, Option<i64>)], detector: &str) -> Figure {
    let mut xs: Vec<Option<i64>> = Vec::new();
    let mut ys: Vec<Option<i64>> = Vec::new();
    for &(id, first, last, _) in tracks {
        xs.extend([Some(first), Some(last), None]);
        ys.extend([Some(id), Some(id), None]);
    }
    let bars =
        Scatter::new(xs, ys).mode(Mode::Lines).name("ground truth").line(Line::new().color("#9aa0a6").width(6.0));
    let hit: Vec<_> = tracks.iter().filter_map(|&(id, first, _, h)| h.map(|h| (id, h, h - first))).collect();
    let first = Scatter::new(hit.iter().map(|t| t.1).collect(), hit.iter().map(|t| t.0).collect())
        .mode(Mode::Markers)
        .name(format!("first detection ({detector})"))
        .text_array(hit.iter().map(|t| format!("delay {} frames", t.2)).collect())
        .marker(Marker::new().color("#e15759").size(9).symbol(MarkerSymbol::TriangleRight));
    plot(vec![bars, first], layout("Tracks over frames and each one's first detection", axis("frame"), axis("track")))
}

/// AP against Average Delay of detector settings: two detectors can share an AP and differ in delay.
pub fn ap_vs_ad(points: &[(String, f64, f64)]) -> Figure {
    let s = Scatter::new(points.iter().map(|p| p.1).collect(), points.iter().map(|p| p.2).collect())
        .mode(Mode::MarkersText)
        .name("settings")
        .text_array(points.iter().map(|p| p.0.clone()).collect())
        .text_position(Position::TopCenter)
        .text_font(Font::new().size(10))
        .marker(Marker::new().size(9).color("#4e79a7"));
    let l = layout("AP against Average Delay (synthetic detectors)", axis("AP50"), axis("Average Delay (frames)"));
    plot(vec![s], l.show_legend(false))
}

/// CaTDet: AP against the operations saved, one point per proposal threshold (its AD in the label), and
/// the refinement detector on every frame.
pub fn catdet_tradeoff(rows: &[(f64, f64, f64, f64)], baseline: (f64, f64)) -> Figure {
    let s = Scatter::new(rows.iter().map(|r| r.1).collect(), rows.iter().map(|r| r.2).collect())
        .mode(Mode::LinesMarkersText)
        .name("cascade")
        .text_array(rows.iter().map(|r| format!("t={} · AD {:.2}", r.0, r.3)).collect())
        .text_position(Position::TopCenter)
        .text_font(Font::new().size(10));
    let b = Scatter::new(vec![1.0], vec![baseline.0])
        .mode(Mode::MarkersText)
        .name("refinement on every frame")
        .text_array(vec![format!("AD {:.2}", baseline.1)])
        .text_position(Position::BottomCenter)
        .marker(Marker::new().size(11).symbol(MarkerSymbol::Star).color("#e15759"));
    let l = layout(
        "CaTDet: accuracy, delay and operations (synthetic detectors)",
        axis("operations saved (×)"),
        axis("AP50"),
    );
    plot(vec![s, b], l)
}

/// PatchNet: average operations per frame against the key-frame interval.
pub fn patchnet_ops(intervals: &[f64], ops: &[f64]) -> Figure {
    let s = Scatter::new(intervals.to_vec(), ops.iter().map(|o| o / 1e9).collect())
        .mode(Mode::LinesMarkers)
        .name("detector + PatchNet");
    let l = layout(
        "PatchNet: operations per frame by key-frame interval",
        axis("key-frame interval (frames)"),
        axis("GOPs per frame"),
    );
    plot(vec![s], l.show_legend(false))
}

/// PatchNet: tracking accuracy against operations per frame, one point per key-frame policy.
pub fn patchnet_tradeoff(points: &[(String, f64, f64)]) -> Figure {
    let s = Scatter::new(points.iter().map(|p| p.1 / 1e9).collect(), points.iter().map(|p| p.2).collect())
        .mode(Mode::MarkersText)
        .name("policies")
        .text_array(points.iter().map(|p| p.0.clone()).collect())
        .text_position(Position::TopCenter)
        .text_font(Font::new().size(10))
        .marker(Marker::new().size(9).color("#59a14f"));
    let l = layout(
        "PatchNet between key frames: accuracy against operations (rendered video)",
        axis("GOPs per frame"),
        axis("mean IoU with the ground truth"),
    );
    plot(vec![s], l.show_legend(false))
}

/// The chart's data as CSV (one row per point: trace, x, y, z), for the "data" download of every chart.
pub fn to_csv(fig: &Figure) -> String {
    let fig = &fig.0;
    let mut out = String::from("trace,x,y,z\n");
    let cell = |v: &Value| match v {
        Value::Null => String::new(),
        Value::String(s) => format!("\"{}\"", s.replace('"', "\"\"")),
        other => other.to_string(),
    };
    for (i, t) in fig["data"].as_array().into_iter().flatten().enumerate() {
        let name = t["name"].as_str().map_or_else(|| format!("trace {i}"), str::to_string);
        let name = cell(&Value::String(name));
        if let Some(z) = t["z"].as_array() {
            for (r, row) in z.iter().enumerate() {
                for (c, v) in row.as_array().into_iter().flatten().enumerate() {
                    out.push_str(&format!("{name},{c},{r},{}\n", cell(v)));
                }
            }
            continue;
        }
        let xs = t["x"].as_array().cloned().unwrap_or_default();
        let ys = t["y"].as_array().cloned().unwrap_or_default();
        let texts = t["text"].as_array().cloned().unwrap_or_default();
        for (k, (x, y)) in xs.iter().zip(&ys).enumerate() {
            if x.is_null() && y.is_null() {
                continue;
            }
            // A point with its own label (one trace holding every method) is named by it.
            let name = texts.get(k).map_or(name.clone(), cell);
            out.push_str(&format!("{name},{},{},\n", cell(x), cell(y)));
        }
    }
    // Lines drawn as shapes (the clips on the histogram) are data too.
    for sh in fig["layout"]["shapes"].as_array().into_iter().flatten() {
        out.push_str(&format!("{},{},,\n", cell(&sh["name"]), cell(&sh["x0"])));
    }
    out
}

/// One value per layer as bars (sensitivity, output SQNR), in the order given.
pub fn layer_bars(heading: &str, y: &str, names: &[String], values: &[f64]) -> Figure {
    let x = axis("layer").show_tick_labels(names.len() <= 40);
    let l = layout(heading, x, axis(y)).show_legend(false);
    plot(vec![Bar::new(names.to_vec(), values.to_vec()).marker(Marker::new().color(PALETTE[0]))], l)
}

/// Accuracy against bits per parameter: the verified mixed-precision front as a line, every uniform
/// configuration as a labelled point, the assignment chosen for the budget starred.
pub fn accuracy_front(front: &[(f64, f64)], uniform: &[(String, f64, f64)], chosen: Option<(f64, f64)>) -> Figure {
    let mut traces: Vec<Box<dyn plotly::Trace>> = vec![
        Scatter::new(front.iter().map(|p| p.0).collect(), front.iter().map(|p| 100.0 * p.1).collect())
            .mode(Mode::LinesMarkers)
            .name("mixed precision (verified)")
            .line(Line::new().color(PALETTE[0])),
        Scatter::new(uniform.iter().map(|u| u.1).collect(), uniform.iter().map(|u| 100.0 * u.2).collect())
            .mode(Mode::MarkersText)
            .name("uniform")
            .text_array(uniform.iter().map(|u| u.0.clone()).collect())
            .text_position(Position::TopCenter)
            .marker(Marker::new().size(8).color(PALETTE[1])),
    ];
    if let Some((b, a)) = chosen {
        traces.push(current(b, 100.0 * a, "chosen for the budget"));
    }
    plot(traces, layout("Accuracy against bits per parameter", axis("bits per parameter"), axis("top-1 accuracy (%)")))
}

/// Both sides' histograms of one diffed tensor pair, overlaid on their shared bins.
pub fn diff_histograms(name: &str, a: &Value, b: &Value) -> Figure {
    let side = |h: &Value| -> (Vec<f64>, Vec<f64>) {
        let edges: Vec<f64> =
            h["edges"].as_array().map(|e| e.iter().filter_map(Value::as_f64).collect()).unwrap_or_default();
        let counts: Vec<f64> =
            h["counts"].as_array().map(|c| c.iter().filter_map(Value::as_f64).collect()).unwrap_or_default();
        (edges.windows(2).map(|w| 0.5 * (w[0] + w[1])).collect(), counts)
    };
    let ((xa, ya), (xb, yb)) = (side(a), side(b));
    let traces: Vec<Box<dyn plotly::Trace>> = vec![
        Bar::new(xa, ya).name("original (A)").opacity(0.55).marker(Marker::new().color(PALETTE[0])),
        Bar::new(xb, yb).name("compressed (B)").opacity(0.55).marker(Marker::new().color(PALETTE[1])),
    ];
    let l = layout(&format!("Histogram of {name}"), axis("value"), axis("count").type_(AxisType::Log))
        .bar_mode(BarMode::Overlay);
    plot(traces, l)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ordinals_read_as_words() {
        assert_eq!(every(2), "every 2nd");
        assert_eq!(every(3), "every 3rd");
        assert_eq!(every(11), "every 11th");
        assert_eq!(every(21), "every 21st");
        assert_eq!(every(112), "every 112th");
    }

    #[test]
    fn metric_series_are_one_line_per_name() {
        let pts = vec![("loss".to_string(), 0, 2.0), ("acc".to_string(), 0, 0.1), ("loss".to_string(), 1, 1.5)];
        let fig = metric_series(&pts);
        assert_eq!(fig["data"].as_array().unwrap().len(), 2);
        assert_eq!(fig["data"][0]["name"], "loss");
        assert_eq!(fig["data"][0]["y"], json!([2.0, 1.5]));
        assert_eq!(fig["data"][1]["x"], json!([0]));
    }

    #[test]
    fn every_point_of_a_figure_goes_into_its_csv() {
        let fig =
            Figure(json!({"data": [{"name": "a \"b\"", "x": [1, 2, null], "y": [3, 4, null]}, {"z": [[1, 2], [3, 4]]},
            {"x": [0.5], "y": [0.1], "text": ["octav"]}], "layout": {"shapes": [{"name": "kl", "x0": 0.7}]}}));
        let csv = to_csv(&fig);
        assert_eq!(csv.lines().count(), 1 + 2 + 4 + 1 + 1, "{csv}");
        assert!(csv.contains("\"octav\",0.5,0.1,"));
        assert!(csv.contains("\"kl\",0.7,,"));
        assert!(csv.contains("\"a \"\"b\"\"\",1,3,"));
        assert!(csv.contains("\"trace 1\",1,1,4"));
    }
}
