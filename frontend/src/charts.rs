//! Plotly figure specs (`{data, layout}` as JSON) for every chart of the dashboard. Built from core's
//! results by the pages, drawn by [`crate::components::chart::Chart`].

use crate::compute::{CompareRow, Curve, Heat};
use lowbit_core::stats::Histogram;
use serde_json::{Value, json};

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

fn layout(title: &str, x: &str, y: &str, ylog: bool) -> Value {
    json!({
        "title": {"text": title, "font": {"size": 14}, "x": 0.01, "xanchor": "left"},
        "margin": {"l": 56, "r": 16, "t": 36, "b": 44},
        "xaxis": {"title": {"text": x}},
        "yaxis": {"title": {"text": y}, "type": if ylog { "log" } else { "linear" }},
        "showlegend": true,
        "legend": {"orientation": "h", "y": -0.22, "yanchor": "top"},
        "height": 360,
    })
}

/// Histogram of the values (log count axis) with a pair of lines at ±clip for every method on the curve.
pub fn histogram(h: &Histogram, c: Option<&Curve>) -> Value {
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
    let data = vec![json!({"type": "scatter", "mode": "lines", "x": xs, "y": ys, "name": "values", "fill": "tozeroy",
        "line": {"color": "#4e79a7", "width": 1}, "fillcolor": "rgba(78,121,167,0.55)"})];
    let top = h.counts.iter().copied().max().unwrap_or(1).max(1) as f64;
    let mut title = "Values (log count) and each method's clip";
    // The clip lines are layout shapes, not traces: one trace to lay out instead of eight.
    let mut shapes = Vec::new();
    if let Some(c) = c {
        if c.per_group {
            title = "Values (log count) and each method's typical clip (ratio × mean group max)";
        }
        for (m, clip) in &c.thresholds {
            for x in [-clip, *clip] {
                shapes.push(json!({"type": "line", "name": m, "x0": x, "x1": x, "yref": "paper", "y0": 0, "y1": 1,
                    "line": {"color": method_colour(m), "width": 2, "dash": if m == "max" { "dot" } else { "solid" }}}));
            }
        }
    }
    let mut l = layout(title, "value", "count", true);
    l["yaxis"]["range"] = json!([-0.35, (top * 2.0).log10()]);
    // The methods are named in the page's own legend beside the charts (Plotly's legend is slow to lay out).
    l["showlegend"] = json!(false);
    l["shapes"] = Value::Array(shapes);
    json!({"data": data, "layout": l})
}

/// MSE against clip ratio, with every method's marker; the chosen method's is a star.
pub fn curve(c: &Curve, chosen: &str) -> Value {
    let Some(cc) = &c.curve else {
        return json!({"data": [], "layout": layout("No clipping curve for this format", "clip / max", "MSE", true)});
    };
    let mut data = vec![json!({"type": "scatter", "mode": "lines", "x": cc.ratios, "y": cc.mse, "name": "MSE(r)",
        "line": {"color": "#9aa0a6"}})];
    // Every method's marker in one trace (colours, sizes and symbols per point).
    let ms = &cc.markers;
    data.push(json!({"type": "scatter", "mode": "markers", "name": "methods",
        "x": ms.iter().map(|m| m.ratio).collect::<Vec<_>>(), "y": ms.iter().map(|m| m.mse).collect::<Vec<_>>(),
        "text": ms.iter().map(|m| m.method.clone()).collect::<Vec<_>>(),
        "marker": {"color": ms.iter().map(|m| method_colour(&m.method)).collect::<Vec<_>>(),
                   "size": ms.iter().map(|m| if m.method == chosen { 14 } else { 9 }).collect::<Vec<_>>(),
                   "symbol": ms.iter().map(|m| if m.method == chosen { "star" } else { "circle" }).collect::<Vec<_>>()}}));
    let note = if c.elements < c.total {
        format!("Clipping curve (on {} of {} elements, whole rows)", c.elements, c.total)
    } else {
        "Clipping curve".to_string()
    };
    let mut l = layout(&note, "clip / max of each group", "MSE", true);
    l["showlegend"] = json!(false);
    json!({"data": data, "layout": l})
}

/// The chosen clips per group as a heatmap (rows: output channels; columns: vectors along the row).
pub fn scales(h: &Heat) -> Value {
    let rows_title = if h.row_step > 1 { format!("row ({})", every(h.row_step)) } else { "row".to_string() };
    let mut l = layout("Clip per group", "group in row", &rows_title, false);
    l["showlegend"] = json!(false);
    json!({"data": [{"type": "heatmap", "z": h.z, "colorscale": "Viridis", "colorbar": {"title": {"text": "clip"}}}], "layout": l})
}

/// Per-tensor SQNR bars, worst first highlighted by colour.
pub fn sqnr_bars(names: &[String], sqnr: &[f64]) -> Value {
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
    let mut l = layout("SQNR per tensor", "tensor", "SQNR (dB)", false);
    l["xaxis"]["showticklabels"] = json!(names.len() <= 40);
    l["showlegend"] = json!(false);
    json!({"data": [{"type": "bar", "x": names, "y": sqnr, "marker": {"color": colours}}], "layout": l})
}

/// Error against bits per element for every comparison row; the Pareto front as a line.
pub fn compare_scatter(rows: &[CompareRow]) -> Value {
    let ok: Vec<(&CompareRow, (f64, f64, f64))> =
        rows.iter().filter_map(|r| r.outcome.clone().ok().map(|o| (r, o))).collect();
    let mut front: Vec<(f64, f64)> = ok.iter().filter(|(r, _)| r.pareto).map(|(_, o)| (o.0, o.1)).collect();
    front.sort_by(|a, b| a.0.total_cmp(&b.0));
    let data = json!([
        {"type": "scatter", "mode": "markers+text", "name": "configurations",
         "x": ok.iter().map(|(_, o)| o.0).collect::<Vec<_>>(), "y": ok.iter().map(|(_, o)| o.1).collect::<Vec<_>>(),
         "text": ok.iter().map(|(r, _)| r.label.clone()).collect::<Vec<_>>(), "textposition": "top center",
         "textfont": {"size": 10},
         "marker": {"size": 9, "color": ok.iter().map(|(r, _)| if r.pareto { "#e15759" } else { "#4e79a7" }).collect::<Vec<_>>()}},
        {"type": "scatter", "mode": "lines", "name": "Pareto front", "x": front.iter().map(|p| p.0).collect::<Vec<_>>(),
         "y": front.iter().map(|p| p.1).collect::<Vec<_>>(), "line": {"color": "#e15759", "dash": "dash"}},
    ]);
    let mut l = layout("Error against bits per element", "bits per element (scales included)", "MSE", true);
    l["height"] = json!(420);
    json!({"data": data, "layout": l})
}

/// Grouped bars of one measure across experiments (per tensor).
pub fn experiments_bars(series: &[(String, Vec<String>, Vec<f64>)], measure: &str) -> Value {
    let data: Vec<Value> =
        series.iter().map(|(name, x, y)| json!({"type": "bar", "name": name, "x": x, "y": y})).collect();
    let mut l = layout(&format!("{measure} per tensor"), "tensor", measure, false);
    l["barmode"] = json!("group");
    l["xaxis"]["showticklabels"] = json!(series.first().is_some_and(|s| s.1.len() <= 40));
    json!({"data": data, "layout": l})
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
pub fn metric_series(points: &[(String, i64, f64)]) -> Value {
    let mut names: Vec<&str> = Vec::new();
    for (n, _, _) in points {
        if !names.contains(&n.as_str()) {
            names.push(n);
        }
    }
    let data: Vec<Value> = names
        .iter()
        .map(|name| {
            let (x, y): (Vec<i64>, Vec<f64>) =
                points.iter().filter(|(n, _, _)| n == name).map(|(_, s, v)| (*s, *v)).unzip();
            json!({"type": "scatter", "mode": "lines+markers", "name": name, "x": x, "y": y, "marker": {"size": 4}})
        })
        .collect();
    json!({"data": data, "layout": layout("Metric series", "step", "value", false)})
}

/// Cycles and energy of SCNN and the dense baselines, normalised to DCNN.
pub fn scnn_bars(labels: &[&str], cycles: &[f64], energy: &[f64]) -> Value {
    json!({"data": [
        {"type": "bar", "name": "cycles", "x": labels, "y": cycles},
        {"type": "bar", "name": "energy", "x": labels, "y": energy},
    ], "layout": {"title": {"text": "Relative to DCNN", "font": {"size": 14}}, "barmode": "group", "height": 300,
        "margin": {"l": 48, "r": 16, "t": 36, "b": 36}}})
}

/// The chart's data as CSV (one row per point: trace, x, y, z), for the "data" download of every chart.
pub fn to_csv(fig: &Value) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let fig = json!({"data": [{"name": "a \"b\"", "x": [1, 2, null], "y": [3, 4, null]}, {"z": [[1, 2], [3, 4]]},
            {"x": [0.5], "y": [0.1], "text": ["octav"]}], "layout": {"shapes": [{"name": "kl", "x0": 0.7}]}});
        let csv = to_csv(&fig);
        assert_eq!(csv.lines().count(), 1 + 2 + 4 + 1 + 1, "{csv}");
        assert!(csv.contains("\"octav\",0.5,0.1,"));
        assert!(csv.contains("\"kl\",0.7,,"));
        assert!(csv.contains("\"a \"\"b\"\"\",1,3,"));
        assert!(csv.contains("\"trace 1\",1,1,4"));
    }
}
