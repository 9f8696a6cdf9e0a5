//! A run's saved point, from which it resumes exactly: weights, optimizer state, masks, clips, the curve so
//! far and the step. The batch order needs no saving (it is a function of seed and epoch).
//!
//! Stored as a safetensors file — the weights and biases under their checkpoint names, so a snapshot opens
//! in the analyzer like any checkpoint — plus `{layer}.mask` (U8), `lowbit.optimizer` (burn's record bytes)
//! and `lowbit.state` (U8, the JSON of [`State`]).

use crate::error::{Error, Result};
use crate::model::NamedTensor;
use crate::run::CurvePoint;
use lowbit_core::gradient::quantized::Saved;
use lowbit_core::readers::safetensors::{self, WriteTensor};
use lowbit_core::readers::{self, DType};
use lowbit_core::training::TrainSpec;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// The small part of a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// The spec of the run, which a resume must match.
    pub spec: TrainSpec,
    /// Steps done.
    pub step: usize,
    pub curve: Vec<CurvePoint>,
    pub ptq_accuracy: f64,
    pub initial_accuracy: f64,
    /// The loss summed since the last curve point, and over how many steps.
    pub loss_sum: f64,
    /// The batches' accuracy summed over the same steps.
    pub acc_sum: f64,
    pub loss_n: usize,
    /// QAT: per layer, the step the clips in force were solved at, and the clips.
    pub solved: Vec<Option<(usize, Vec<f32>)>>,
    /// TTQ: per layer (W^p, W^n).
    pub scales: Vec<(f32, f32)>,
    /// Prune: the sparsity the masks were chosen at.
    pub sparsity: f64,
    /// LSQ: per layer, the learned clips.
    #[serde(default)]
    pub lsq_clips: Vec<Vec<f32>>,
    /// Activation quantization: per layer, the running clip.
    #[serde(default)]
    pub act_clips: Vec<Option<f32>>,
    /// Distributed runs: the totals so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totals: Option<crate::dist::Totals>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub state: State,
    /// Weights (checkpoint shapes) and biases.
    pub tensors: Vec<NamedTensor>,
    pub optimizer: Vec<u8>,
    /// Prune: per layer, true where the weight is kept.
    pub masks: Vec<Option<Vec<bool>>>,
    /// Distributed runs: every worker's compressor state (vectors as `lowbit.exchange.{j}.{i}`, their
    /// count and the generators as the JSON `lowbit.exchange`).
    pub exchange: Vec<Saved>,
}

const STATE: &str = "lowbit.state";
const OPTIMIZER: &str = "lowbit.optimizer";
const EXCHANGE: &str = "lowbit.exchange";

/// Per saved compressor state: how many vectors, and its generators.
type ExchangeMeta = Vec<(usize, Vec<(u64, Option<f64>)>)>;

impl Snapshot {
    /// The snapshot, if it belongs to a run of `spec` (a resume must not continue another run).
    pub fn for_spec(self: Box<Self>, spec: &TrainSpec) -> Result<Self> {
        if self.state.spec != *spec {
            return Err(Error::Param("the saved state belongs to a run with another specification".into()));
        }
        Ok(*self)
    }

    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let layers = self.state.spec.model.layers();
        let state = serde_json::to_vec(&self.state).map_err(|e| Error::Data(e.to_string()))?;
        let mask_names: Vec<String> = layers.iter().map(|l| format!("{}.mask", l.name)).collect();
        let shapes: Vec<Vec<usize>> = layers.iter().map(|l| l.shape()).collect();
        let (state_len, opt_len) = ([state.len()], [self.optimizer.len()]);
        let mut t: Vec<WriteTensor<'_>> =
            self.tensors.iter().map(|n| WriteTensor::f32(&n.name, &n.shape, &n.values)).collect();
        for (i, m) in self.masks.iter().enumerate() {
            if let (Some(m), Some(name)) = (m, mask_names.get(i)) {
                let bytes = m.iter().map(|&k| k as u8).collect();
                t.push(WriteTensor { name, dtype: DType::U8, shape: &shapes[i], bytes: Cow::Owned(bytes) });
            }
        }
        let u8s = |name, shape, bytes| WriteTensor { name, dtype: DType::U8, shape, bytes: Cow::Borrowed(bytes) };
        t.push(u8s(OPTIMIZER, &opt_len, &self.optimizer));
        t.push(u8s(STATE, &state_len, &state));
        let meta: ExchangeMeta = self.exchange.iter().map(|s| (s.vectors.len(), s.rngs.clone())).collect();
        let meta = serde_json::to_vec(&meta).map_err(|e| Error::Data(e.to_string()))?;
        let vectors: Vec<(String, [usize; 1], &[f32])> = self
            .exchange
            .iter()
            .enumerate()
            .flat_map(|(j, s)| {
                s.vectors.iter().enumerate().map(move |(i, v)| (format!("{EXCHANGE}.{j}.{i}"), [v.len()], v.as_slice()))
            })
            .collect();
        let meta_len = [meta.len()];
        if !self.exchange.is_empty() {
            t.push(u8s(EXCHANGE, &meta_len, &meta));
            t.extend(vectors.iter().map(|(name, shape, v)| WriteTensor::f32(name, shape, v)));
        }
        Ok(safetensors::write(&t, &Default::default())?)
    }

    /// Reads a snapshot this crate wrote; anything else is refused with what is missing.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let c = readers::read(bytes)?;
        let find = |name: &str| {
            c.tensors
                .iter()
                .find(|t| t.name == name)
                .ok_or_else(|| Error::Data(format!("the saved state has no `{name}`: it is not a training snapshot")))
        };
        let state: State = serde_json::from_slice(&find(STATE)?.data)
            .map_err(|e| Error::Data(format!("the saved state is not readable: {e}")))?;
        let optimizer = find(OPTIMIZER)?.data.to_vec();
        let mut tensors = Vec::new();
        let mut masks = Vec::new();
        for l in state.spec.model.layers() {
            for (name, shape) in
                [(format!("{}.weight", l.name), l.shape()), (format!("{}.bias", l.name), vec![l.matrix()[0]])]
            {
                let t = find(&name)?;
                if t.shape != shape {
                    return Err(Error::Data(format!(
                        "`{name}` in the saved state has shape {:?}, not {shape:?}",
                        t.shape
                    )));
                }
                tensors.push(NamedTensor { name, shape, values: t.to_f32()? });
            }
            let mask = c.tensors.iter().find(|t| t.name == format!("{}.mask", l.name));
            masks.push(mask.map(|m| m.data.iter().map(|&b| b != 0).collect()));
        }
        let mut exchange = Vec::new();
        if let Some(m) = c.tensors.iter().find(|t| t.name == EXCHANGE) {
            let meta: ExchangeMeta = serde_json::from_slice(&m.data)
                .map_err(|e| Error::Data(format!("the saved exchange is not readable: {e}")))?;
            for (j, (count, rngs)) in meta.into_iter().enumerate() {
                let vectors = (0..count)
                    .map(|i| find(&format!("{EXCHANGE}.{j}.{i}"))?.to_f32().map_err(Error::from))
                    .collect::<Result<_>>()?;
                exchange.push(Saved { vectors, rngs });
            }
        }
        Ok(Self { state, tensors, optimizer, masks, exchange })
    }
}
