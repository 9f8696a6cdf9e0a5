//! Mixed precision under a bit budget (ModelOpt AutoQuantize's question, answered exactly): every layer ×
//! candidate measured alone, then the assignment minimising the summed cost (KL, or lost correct samples)
//! within the budget found by an exact multiple-choice knapsack — the Pareto frontier of (bits, cost) over
//! layer prefixes, dominated partial assignments dropped — and verified by a real evaluation.

use super::act::ActQuant;
use super::plan::{Compression, Resolved, compress_layer};
use super::run::{Evaluation, Reference, evaluate};
use super::{Dataset, Network};
use crate::clip::ClipMethod;
use crate::error::{Error, Result};
use crate::quant::{Format, QuantSpec};
use serde::Serialize;

/// A configuration a layer may get.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub name: String,
    pub compression: Resolved,
}

/// Parses `int2,int4,int8,mxfp4,nvfp4,fp8-e4m3`: `intB` is B-bit integers per output channel with `clip`
/// and `range`; a uniform format name (fp8-e4m3, …) is per output channel with `clip`; a block format (MX,
/// NVFP4) in its own blocks.
pub fn candidates(list: &str, clip: Option<&str>, range: Option<&str>) -> Result<Vec<Candidate>> {
    let mut out: Vec<Candidate> = Vec::new();
    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let spec = if let Some(b) =
            name.strip_prefix("int").filter(|b| b.chars().all(|c| c.is_ascii_digit()) && !b.is_empty())
        {
            let bits: u32 = b.parse().map_err(|_| Error::param(format!("candidate `{name}`: bad bit width")))?;
            QuantSpec {
                granularity: Some("channel:0".into()),
                clip: clip.map(Into::into),
                range: range.map(Into::into),
                ..QuantSpec::new("int", Some(bits))
            }
        } else {
            let format = Format::parse(name, None)
                .map_err(|e| Error::param(format!("candidate `{name}`: {} (use intB or a format name)", e.message)))?;
            let info = format.info();
            QuantSpec {
                granularity: info.block.is_none().then(|| "channel:0".into()),
                // A clip that models an integer grid (OCTAV, ACIQ, KL) leaves minifloats at max clipping.
                clip: clip
                    .filter(|c| {
                        !info.own_scales
                            && (info.uniform_grid || c.parse::<ClipMethod>().is_ok_and(|m| !m.needs_uniform_grid()))
                    })
                    .map(Into::into),
                ..QuantSpec::new(name, None)
            }
        };
        let compression = Compression { quant: Some(spec), prune: None }
            .resolve()
            .map_err(|e| Error::param(format!("candidate `{name}`: {}", e.message)))?;
        if out.iter().any(|c| c.name == name) {
            return Err(Error::param(format!("candidate `{name}` is listed twice")));
        }
        out.push(Candidate { name: name.to_string(), compression });
    }
    if out.is_empty() {
        return Err(Error::param("give at least one candidate (e.g. --candidates int4,int8)"));
    }
    Ok(out)
}

/// What to minimise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Objective {
    /// Summed KL of each layer's output distribution change (smooth; needs no labels).
    #[default]
    Kl,
    /// Summed accuracy drop (needs labels; coarse on small sets).
    Accuracy,
}

impl std::str::FromStr for Objective {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "kl" => Ok(Self::Kl),
            "accuracy" => Ok(Self::Accuracy),
            _ => Err(Error::param(format!("objective `{s}` is not one of kl, accuracy"))),
        }
    }
}

/// One layer × candidate measurement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cell {
    pub bits: u64,
    pub accuracy: Option<f64>,
    pub kl: f64,
}

/// The measured table: `cells[layer][candidate]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Table {
    pub layers: Vec<String>,
    pub params: Vec<usize>,
    pub candidates: Vec<String>,
    pub cells: Vec<Vec<Cell>>,
}

/// Measures every layer with every candidate, the rest unquantized (L × C evaluations).
pub fn measure(
    net: &dyn Network,
    data: &Dataset,
    reference: &Reference,
    cands: &[Candidate],
    step: &mut dyn FnMut(usize, usize) -> Result<()>,
) -> Result<Table> {
    let l = net.layers().len();
    let total = l * cands.len();
    let mut cells = Vec::with_capacity(l);
    for (i, layer) in net.layers().iter().enumerate() {
        let mut row = Vec::with_capacity(cands.len());
        for (j, c) in cands.iter().enumerate() {
            let bits = compress_layer(layer, &c.compression)?.bits;
            let mut choice = vec![Resolved::NONE; l];
            choice[i] = c.compression;
            let e = evaluate(net, data, reference, &choice, None, false)?;
            row.push(Cell { bits, accuracy: e.accuracy, kl: e.kl });
            step(i * cands.len() + j + 1, total)?;
        }
        cells.push(row);
    }
    Ok(Table {
        layers: net.layers().iter().map(|l| l.name.clone()).collect(),
        params: net.layers().iter().map(|l| l.params()).collect(),
        candidates: cands.iter().map(|c| c.name.clone()).collect(),
        cells,
    })
}

/// An assignment on the frontier: its total bits, predicted cost and candidate index per layer.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub bits: u64,
    pub cost: f64,
    pub assignment: Vec<usize>,
}

impl Table {
    fn cost(&self, cell: &Cell, reference: &Reference, objective: Objective) -> Result<f64> {
        Ok(match objective {
            Objective::Kl => cell.kl,
            Objective::Accuracy => match (reference.accuracy, cell.accuracy) {
                (Some(r), Some(a)) => r - a,
                _ => return Err(Error::param("--objective accuracy needs labels; use kl")),
            },
        })
    }

    pub fn total_params(&self) -> usize {
        self.params.iter().sum()
    }

    /// Every assignment not beaten on both bits and cost by another, cheapest first (exact: a partial
    /// assignment dominated on a layer prefix cannot be part of an optimal whole, since costs add).
    pub fn frontier(&self, reference: &Reference, objective: Objective) -> Result<Vec<Plan>> {
        let mut front = vec![Plan { bits: 0, cost: 0.0, assignment: Vec::new() }];
        for row in &self.cells {
            let mut next = Vec::with_capacity(front.len() * row.len());
            for p in &front {
                for (j, cell) in row.iter().enumerate() {
                    let mut assignment = p.assignment.clone();
                    assignment.push(j);
                    next.push(Plan {
                        bits: p.bits + cell.bits,
                        cost: p.cost + self.cost(cell, reference, objective)?,
                        assignment,
                    });
                }
            }
            next.sort_by(|a, b| a.bits.cmp(&b.bits).then(a.cost.total_cmp(&b.cost)));
            front.clear();
            for p in next {
                if front.last().is_none_or(|q: &Plan| p.cost < q.cost) {
                    front.push(p);
                }
            }
        }
        Ok(front)
    }
}

/// The best plan within `budget` bits per parameter.
pub fn choose<'a>(table: &Table, front: &'a [Plan], budget: f64) -> Result<&'a Plan> {
    let params = table.total_params().max(1) as f64;
    if !budget.is_finite() || budget <= 0.0 {
        return Err(Error::param(format!("budget {budget} bits per parameter is not a positive number")));
    }
    front.iter().rev().find(|p| p.bits as f64 <= budget * params + 1e-9).ok_or_else(|| {
        let cheapest = front.first().map_or(f64::NAN, |p| p.bits as f64 / params);
        Error::param(format!(
            "budget {budget} bits per parameter is below the cheapest assignment ({cheapest:.4} bits per parameter)"
        ))
    })
}

/// An assignment with its verified evaluation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verified {
    /// Layer name → candidate name, in layer order.
    pub assignment: Vec<(String, String)>,
    pub bits_per_param: f64,
    /// What the knapsack predicted (summed per-layer cost).
    pub predicted_cost: f64,
    pub accuracy: Option<f64>,
    pub accuracy_ci95: Option<[f64; 2]>,
    pub agreement: f64,
    pub kl: f64,
}

/// Evaluates `plan` for real (with activation quantization when given).
pub fn verify(
    net: &dyn Network,
    data: &Dataset,
    reference: &Reference,
    table: &Table,
    cands: &[Candidate],
    plan: &Plan,
    act: Option<&[ActQuant]>,
) -> Result<(Verified, Evaluation)> {
    let choice: Vec<Resolved> = plan.assignment.iter().map(|&j| cands[j].compression).collect();
    let e = evaluate(net, data, reference, &choice, act, true)?;
    let v = Verified {
        assignment: table
            .layers
            .iter()
            .zip(&plan.assignment)
            .map(|(l, &j)| (l.clone(), cands[j].name.clone()))
            .collect(),
        bits_per_param: e.bits_per_param,
        predicted_cost: plan.cost,
        accuracy: e.accuracy,
        accuracy_ci95: e.accuracy_ci95,
        agreement: e.agreement,
        kl: e.kl,
    };
    Ok((v, e))
}

/// Up to `k` frontier plans spread evenly over its bits, always the cheapest and the dearest.
pub fn spread(front: &[Plan], k: usize) -> Vec<&Plan> {
    if front.len() <= k || k < 2 {
        return front.iter().collect();
    }
    let (lo, hi) = (front[0].bits as f64, front[front.len() - 1].bits as f64);
    let mut picked: Vec<usize> = Vec::new();
    for t in 0..k {
        let target = lo + (hi - lo) * t as f64 / (k - 1) as f64;
        // The dearest plan within the target: the best a user with that budget gets.
        let i = front.iter().rposition(|p| p.bits as f64 <= target + 1e-9).unwrap_or(0);
        if picked.last() != Some(&i) {
            picked.push(i);
        }
    }
    picked.into_iter().map(|i| &front[i]).collect()
}
