//! One evaluation: the compressed network against the unquantized one on the same samples.

use super::act::ActQuant;
use super::measures::{Sqnr, argmax, kl, wilson95};
use super::plan::{self, Resolved};
use super::{Dataset, Network, Probe};
use crate::error::{Error, Result};
use rayon::prelude::*;
use serde::Serialize;

/// Samples per forward pass; batches run in parallel natively.
pub const BATCH: usize = 100;

/// The unquantized model's outputs on a set, computed once and shared by every evaluation on it.
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    pub logits: Vec<f32>,
    pub n: usize,
    /// Top-1 accuracy when the set has labels.
    pub accuracy: Option<f64>,
}

fn batches(n: usize) -> Vec<std::ops::Range<usize>> {
    (0..n).step_by(BATCH).map(|s| s..(s + BATCH).min(n)).collect()
}

fn correct(logits: &[f32], classes: usize, labels: &[u32]) -> usize {
    logits.chunks(classes).zip(labels).filter(|(l, y)| argmax(l) == **y as usize).count()
}

/// Runs the unquantized network over `data`.
pub fn reference(net: &dyn Network, data: &Dataset) -> Result<Reference> {
    data.check_for(net)?;
    let weights: Vec<&[f32]> = net.layers().iter().map(|l| l.weight.as_slice()).collect();
    let run = net.with_weights(&weights)?;
    let parts: Vec<Vec<f32>> = batches(data.n)
        .into_par_iter()
        .map(|r| run.run(data.slice(r.clone()), r.len(), &mut Probe::default()))
        .collect::<Result<_>>()?;
    let logits: Vec<f32> = parts.concat();
    if let Some(i) = logits.iter().position(|v| !v.is_finite()) {
        return Err(Error::tensor(format!(
            "the unquantized model outputs {} for sample {}; the inputs are outside what it can run",
            logits[i],
            i / net.classes()
        )));
    }
    let accuracy = data.labels.as_ref().map(|y| correct(&logits, net.classes(), y) as f64 / data.n as f64);
    Ok(Reference { logits, n: data.n, accuracy })
}

/// One compressible layer's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerResult {
    pub name: String,
    pub params: usize,
    pub bits_per_param: f64,
    pub sparsity: f64,
    pub weight_sqnr_db: f64,
    /// The layer's output against the unquantized model's on the same inputs (when measured).
    pub output_sqnr_db: Option<f64>,
    /// The layer input's quantizer, when activations are quantized: its format and calibrated clip.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub act_format: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub act_clip: Option<f64>,
}

/// What a compression did to a model's predictions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    pub n: usize,
    /// Top-1 accuracy in [0, 1] (labelled sets only).
    pub accuracy: Option<f64>,
    /// Its 95 % Wilson interval.
    pub accuracy_ci95: Option<[f64; 2]>,
    /// The unquantized model's accuracy on the same samples.
    pub fp32_accuracy: Option<f64>,
    /// Fraction of samples whose top-1 class is the unquantized model's.
    pub agreement: f64,
    /// Mean KL(unquantized ‖ compressed) of the softmax outputs, in nats.
    pub kl: f64,
    /// Stored bits per weight over all compressible layers, scales included.
    pub bits_per_param: f64,
    pub sparsity: f64,
    pub layers: Vec<LayerResult>,
}

#[derive(Default)]
struct Part {
    correct: usize,
    agree: usize,
    kl: f64,
    outputs: Vec<Sqnr>,
}

/// Evaluates `net` with each layer compressed by `choices[i]`, its layer inputs quantized by `act` when
/// given; `layer_outputs` also runs the unquantized network batch by batch to measure every layer's
/// output SQNR (twice the work).
pub fn evaluate(
    net: &dyn Network,
    data: &Dataset,
    reference: &Reference,
    choices: &[Resolved],
    act: Option<&[ActQuant]>,
    layer_outputs: bool,
) -> Result<Evaluation> {
    if reference.n != data.n {
        return Err(Error::param("the reference was computed on another set"));
    }
    let compressed = plan::compress(net.layers(), choices)?;
    let weights: Vec<&[f32]> = compressed.iter().map(|c| c.weight.as_slice()).collect();
    let run = net.with_weights(&weights)?;
    let originals: Vec<&[f32]> = net.layers().iter().map(|l| l.weight.as_slice()).collect();
    let fp32 = if layer_outputs { Some(net.with_weights(&originals)?) } else { None };
    let classes = net.classes();
    let parts: Vec<Part> = batches(data.n)
        .into_par_iter()
        .map(|r| {
            let x = data.slice(r.clone());
            let mut probe = Probe { act, keep_outputs: layer_outputs, ..Probe::default() };
            let logits = run.run(x, r.len(), &mut probe)?;
            let refl = &reference.logits[r.start * classes..r.end * classes];
            let mut part = Part::default();
            for (i, (q, p)) in logits.chunks(classes).zip(refl.chunks(classes)).enumerate() {
                let top = argmax(q);
                part.agree += usize::from(top == argmax(p));
                part.kl += kl(p, q);
                if let Some(y) = &data.labels {
                    part.correct += usize::from(top == y[r.start + i] as usize);
                }
            }
            if let Some(fp32) = &fp32 {
                let mut refp = Probe { keep_outputs: true, ..Probe::default() };
                fp32.run(x, r.len(), &mut refp)?;
                part.outputs = refp
                    .outputs
                    .iter()
                    .zip(&probe.outputs)
                    .map(|(a, b)| {
                        let mut s = Sqnr::default();
                        s.add(a, b);
                        s
                    })
                    .collect();
            }
            Ok(part)
        })
        .collect::<Result<_>>()?;
    let mut total = Part { outputs: vec![Sqnr::default(); net.layers().len()], ..Part::default() };
    for p in parts {
        total.correct += p.correct;
        total.agree += p.agree;
        total.kl += p.kl;
        for (t, s) in total.outputs.iter_mut().zip(p.outputs) {
            *t = t.merge(s);
        }
    }
    let n = data.n;
    let labelled = data.labels.is_some();
    let layers = net
        .layers()
        .iter()
        .zip(&compressed)
        .zip(&total.outputs)
        .enumerate()
        .map(|(i, ((l, c), s))| LayerResult {
            name: l.name.clone(),
            params: l.params(),
            bits_per_param: c.bits as f64 / l.params().max(1) as f64,
            sparsity: c.sparsity,
            weight_sqnr_db: c.weight_sqnr_db,
            output_sqnr_db: layer_outputs.then(|| s.db()),
            act_format: act.and_then(|a| a.get(i)).map(|q| q.cfg.format.to_string()),
            act_clip: act.and_then(|a| a.get(i)).map(|q| q.clip as f64),
        })
        .collect::<Vec<_>>();
    let params: usize = net.layers().iter().map(|l| l.params()).sum();
    let zeros: f64 = compressed.iter().zip(net.layers()).map(|(c, l)| c.sparsity * l.params() as f64).sum();
    Ok(Evaluation {
        n,
        accuracy: labelled.then(|| total.correct as f64 / n as f64),
        accuracy_ci95: labelled.then(|| wilson95(total.correct, n)),
        fp32_accuracy: reference.accuracy,
        agreement: total.agree as f64 / n as f64,
        kl: total.kl / n as f64,
        bits_per_param: plan::bits_per_param(net.layers(), &compressed),
        sparsity: zeros / params.max(1) as f64,
        layers,
    })
}
