//! Per-layer sensitivity (AIMET QuantAnalyzer's two views): each layer compressed alone with the rest
//! unquantized, and everything compressed except that one layer — ranked by the damage each layer does.

use super::act::ActQuant;
use super::plan::Resolved;
use super::run::{Evaluation, Reference, evaluate};
use super::{Dataset, Network};
use crate::error::Result;
use serde::Serialize;

/// One layer's two views.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerSensitivity {
    pub name: String,
    pub params: usize,
    /// Only this layer compressed.
    pub accuracy: Option<f64>,
    /// The unquantized accuracy minus `accuracy` (points of the [0, 1] scale).
    pub accuracy_drop: Option<f64>,
    pub kl: f64,
    pub agreement: f64,
    /// Everything compressed except this layer.
    pub all_but_accuracy: Option<f64>,
    pub all_but_kl: f64,
    /// Rank by accuracy drop (1 = most sensitive; ties broken by KL) and by KL.
    pub rank_accuracy: usize,
    pub rank_kl: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sensitivity {
    pub n: usize,
    pub fp32_accuracy: Option<f64>,
    /// Every layer compressed.
    pub all: Evaluation,
    /// Most sensitive first (by KL, which resolves what a few misclassified samples cannot).
    pub layers: Vec<LayerSensitivity>,
}

/// Runs 2·L + 1 evaluations; `step(done, total)` reports progress and may stop the work with an error.
pub fn sensitivity(
    net: &dyn Network,
    data: &Dataset,
    reference: &Reference,
    choice: &Resolved,
    act: Option<&[ActQuant]>,
    step: &mut dyn FnMut(usize, usize) -> Result<()>,
) -> Result<Sensitivity> {
    let l = net.layers().len();
    let total = 2 * l + 1;
    let all = evaluate(net, data, reference, &vec![*choice; l], act, true)?;
    step(1, total)?;
    let mut layers = Vec::with_capacity(l);
    for (i, layer) in net.layers().iter().enumerate() {
        let mut only = vec![Resolved::NONE; l];
        only[i] = *choice;
        let alone = evaluate(net, data, reference, &only, None, false)?;
        step(2 + 2 * i, total)?;
        let mut but = vec![*choice; l];
        but[i] = Resolved::NONE;
        let rest = evaluate(net, data, reference, &but, act, false)?;
        step(3 + 2 * i, total)?;
        layers.push(LayerSensitivity {
            name: layer.name.clone(),
            params: layer.params(),
            accuracy: alone.accuracy,
            accuracy_drop: reference.accuracy.zip(alone.accuracy).map(|(r, a)| r - a),
            kl: alone.kl,
            agreement: alone.agreement,
            all_but_accuracy: rest.accuracy,
            all_but_kl: rest.kl,
            rank_accuracy: 0,
            rank_kl: 0,
        });
    }
    let mut by_acc: Vec<usize> = (0..l).collect();
    by_acc.sort_by(|&a, &b| {
        let d = |i: usize| layers[i].accuracy_drop.unwrap_or(0.0);
        d(b).total_cmp(&d(a)).then(layers[b].kl.total_cmp(&layers[a].kl))
    });
    for (r, &i) in by_acc.iter().enumerate() {
        layers[i].rank_accuracy = r + 1;
    }
    layers.sort_by(|a, b| b.kl.total_cmp(&a.kl));
    for (r, s) in layers.iter_mut().enumerate() {
        s.rank_kl = r + 1;
    }
    Ok(Sensitivity { n: data.n, fp32_accuracy: reference.accuracy, all, layers })
}
