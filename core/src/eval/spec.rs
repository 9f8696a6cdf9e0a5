//! An evaluation, a sensitivity analysis or a mixed-precision search in the CLI's and the API's words —
//! what `lowbit eval|sensitivity|mixed` build from their flags and the `eval`, `sensitivity` and `mixed`
//! jobs carry — and the runs that turn one into its report, so the command line and the server agree.

use super::act::{self, ActQuant};
use super::mixed::{self, Objective, Table, Verified};
use super::plan::{Compression, Resolved};
use super::run::{Evaluation, Reference, evaluate, reference};
use super::sensitivity::{Sensitivity, sensitivity};
use super::{Dataset, Network};
use crate::error::{Error, Result};
use crate::prune::PruneSpec;
use crate::quant::QuantSpec;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Calibration samples when none are given.
pub const DEFAULT_CALIB: usize = 1000;

/// What to do to the model and on how much data.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EvalSpec {
    /// How every conv/linear weight is quantized (biases stay fp32); absent: unquantized (the sensitivity
    /// analysis needs it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quant: Option<QuantSpec>,
    /// Pruning applied to every weight before it is quantized.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prune: Option<PruneSpec>,
    /// Activation quantization of every layer's input, per tensor (int, uint or a minifloat; the clip method
    /// is applied once to the calibration data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<QuantSpec>,
    /// Only the first N evaluation samples.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    /// Calibration samples (default 1000), from the calibration set — never the evaluation set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calib: Option<usize>,
    /// The mixed-precision search (the `mixed` kind and `lowbit mixed` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mixed: Option<MixedSpec>,
}

/// A mixed-precision search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MixedSpec {
    /// Average stored bits per weight allowed, scales included.
    pub budget: f64,
    /// `int2,int4,int8,mxfp4,nvfp4,…`: `intB` is B-bit integers per output channel with `clip` and
    /// `range`; any other format name per channel (uniform formats) or in its own blocks.
    pub candidates: String,
    /// `kl` (default) or `accuracy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objective: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<String>,
    /// Frontier assignments verified for the accuracy-vs-bits front (default 8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub front: Option<usize>,
}

/// A spec checked: the weights' compression, the activation quantizer's config, the search's candidates.
#[derive(Debug, Clone)]
pub struct Checked {
    pub weights: Resolved,
    pub act: Option<crate::quant::QuantConfig>,
    pub candidates: Vec<mixed::Candidate>,
    pub objective: Objective,
}

impl EvalSpec {
    /// Checks everything that does not need the model or the data.
    pub fn check(&self) -> Result<Checked> {
        let weights = Compression { quant: self.quant.clone(), prune: self.prune.clone() }.resolve()?;
        let act = self
            .act
            .as_ref()
            .map(|a| {
                let cfg = a.resolve().map_err(|e| Error::param(format!("activations: {}", e.message)))?;
                act::check(&cfg)?;
                Ok::<_, Error>(cfg)
            })
            .transpose()?;
        if self.limit == Some(0) {
            return Err(Error::param("--limit 0 leaves nothing to evaluate"));
        }
        if self.calib == Some(0) && act.is_some() {
            return Err(Error::param("--calib 0 leaves nothing to calibrate the activations on"));
        }
        let (candidates, objective) = match &self.mixed {
            Some(m) => {
                if !m.budget.is_finite() || m.budget <= 0.0 {
                    return Err(Error::param(format!("budget {} is not a positive number of bits", m.budget)));
                }
                if m.front == Some(0) || m.front.is_some_and(|f| f > 64) {
                    return Err(Error::param("--front takes 1 to 64 verified assignments"));
                }
                let objective = m.objective.as_deref().map(str::parse).transpose()?.unwrap_or_default();
                (mixed::candidates(&m.candidates, m.clip.as_deref(), m.range.as_deref())?, objective)
            }
            None => (Vec::new(), Objective::Kl),
        };
        Ok(Checked { weights, act, candidates, objective })
    }

    /// The evaluation set cut to `limit`, checked against the network.
    pub fn data(&self, net: &dyn Network, data: Dataset) -> Result<Dataset> {
        let data = data.take(self.limit.unwrap_or(usize::MAX));
        data.check_for(net)?;
        Ok(data)
    }

    /// Calibrates the activation quantizers when asked (on at most `calib` samples of `calib_set`).
    pub fn calibrate(&self, net: &dyn Network, calib_set: Option<Dataset>) -> Result<Option<Vec<ActQuant>>> {
        let Some(cfg) = self.check()?.act else { return Ok(None) };
        let set = calib_set.ok_or_else(|| {
            Error::param(
                "activation quantization needs calibration data (never the evaluation set): give a calibration .npz",
            )
        })?;
        let set = set.take(self.calib.unwrap_or(DEFAULT_CALIB));
        Ok(Some(act::calibrate(net, &set, &cfg)?))
    }
}

/// `lowbit eval`: one evaluation with every layer's output SQNR.
pub fn run_eval(net: &dyn Network, spec: &EvalSpec, data: &Dataset, calib: Option<Dataset>) -> Result<Evaluation> {
    let c = spec.check()?;
    let act = spec.calibrate(net, calib)?;
    let r = reference(net, data)?;
    evaluate(net, data, &r, &vec![c.weights; net.layers().len()], act.as_deref(), true)
}

/// `lowbit sensitivity`.
pub fn run_sensitivity(
    net: &dyn Network,
    spec: &EvalSpec,
    data: &Dataset,
    calib: Option<Dataset>,
    step: &mut dyn FnMut(usize, usize) -> Result<()>,
) -> Result<Sensitivity> {
    let c = spec.check()?;
    if c.weights == Resolved::NONE {
        return Err(Error::param("a sensitivity analysis needs a compression to apply (e.g. --format int --bits 4)"));
    }
    let act = spec.calibrate(net, calib)?;
    let r = reference(net, data)?;
    sensitivity(net, data, &r, &c.weights, act.as_deref(), step)
}

/// One uniform configuration (every layer the same candidate), for the front's comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Uniform {
    pub candidate: String,
    pub bits_per_param: f64,
    pub accuracy: Option<f64>,
    pub agreement: f64,
    pub kl: f64,
}

/// `lowbit mixed`'s answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MixedReport {
    pub n: usize,
    pub budget: f64,
    pub objective: Objective,
    pub fp32_accuracy: Option<f64>,
    /// Layer → candidate.
    pub assignment: BTreeMap<String, String>,
    pub bits_per_param: f64,
    /// The verified evaluation of the chosen assignment.
    pub accuracy: Option<f64>,
    pub accuracy_ci95: Option<[f64; 2]>,
    pub agreement: f64,
    pub kl: f64,
    pub predicted_cost: f64,
    pub evaluation: Evaluation,
    /// Verified assignments along the knapsack's frontier, cheapest first.
    pub front: Vec<Verified>,
    /// Every candidate on every layer.
    pub uniform: Vec<Uniform>,
    /// The measured per-layer costs the knapsack used.
    pub table: Table,
}

/// `lowbit mixed`: L × C sensitivity evaluations, the exact knapsack, the chosen assignment and `front`
/// frontier points verified, every uniform configuration evaluated.
pub fn run_mixed(
    net: &dyn Network,
    spec: &EvalSpec,
    data: &Dataset,
    calib: Option<Dataset>,
    step: &mut dyn FnMut(usize, usize) -> Result<()>,
) -> Result<MixedReport> {
    let c = spec.check()?;
    let m =
        spec.mixed.as_ref().ok_or_else(|| Error::param("a mixed-precision search needs a budget and candidates"))?;
    if c.objective == Objective::Accuracy && data.labels.is_none() {
        return Err(Error::param("--objective accuracy needs labels (y); use kl"));
    }
    let act = spec.calibrate(net, calib)?;
    let r: Reference = reference(net, data)?;
    let layers = net.layers().len();
    let cands = &c.candidates;
    let k = m.front.unwrap_or(8);
    let total = layers * cands.len() + 1 + k + cands.len();
    let table = mixed::measure(net, data, &r, cands, &mut |d, _| step(d, total))?;
    let front = table.frontier(&r, c.objective)?;
    let chosen = mixed::choose(&table, &front, m.budget)?;
    let mut done = layers * cands.len();
    let (verified, evaluation) = mixed::verify(net, data, &r, &table, cands, chosen, act.as_deref())?;
    done += 1;
    step(done, total)?;
    let mut points = Vec::new();
    for p in mixed::spread(&front, k) {
        points.push(mixed::verify(net, data, &r, &table, cands, p, act.as_deref())?.0);
        done += 1;
        step(done, total)?;
    }
    let mut uniform = Vec::new();
    for cand in cands {
        let e = evaluate(net, data, &r, &vec![cand.compression; layers], act.as_deref(), false)?;
        uniform.push(Uniform {
            candidate: cand.name.clone(),
            bits_per_param: e.bits_per_param,
            accuracy: e.accuracy,
            agreement: e.agreement,
            kl: e.kl,
        });
        done += 1;
        step(done, total)?;
    }
    Ok(MixedReport {
        n: data.n,
        budget: m.budget,
        objective: c.objective,
        fp32_accuracy: r.accuracy,
        assignment: verified.assignment.iter().cloned().collect(),
        bits_per_param: verified.bits_per_param,
        accuracy: verified.accuracy,
        accuracy_ci95: verified.accuracy_ci95,
        agreement: verified.agreement,
        kl: verified.kl,
        predicted_cost: verified.predicted_cost,
        evaluation,
        front: points,
        uniform,
        table,
    })
}
