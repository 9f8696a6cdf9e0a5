//! Gradient compression for data-parallel SGD over N simulated workers (ALGORITHMS.md §4): what a worker
//! sends for one tensor's gradient, what it costs on the wire, and the compressors behind one interface.
//!
//! - [`dgc`]: Deep Gradient Compression — momentum correction, local gradient clipping, momentum factor
//!   masking, the warm-up of the density, the threshold by sampling (§4.1–4.3); with its techniques off it
//!   is top-k gradient dropping with residual accumulation.
//! - [`quantized`]: random-k with error feedback, QSGD, TernGrad, signSGD with error feedback; the
//!   [`quantized::GradCompressor`] interface every per-worker compressor implements.
//! - [`powersgd`]: PowerSGD, rank r with error feedback and warm start — collective, all workers at once.
//! - [`exchange`]: one iteration over all workers and tensors: the update, the bytes, the cost.
//! - [`network`]: the cost model (ring all-reduce, all-gather; bandwidth and latency).
//!
//! Wire encoding (stated, used for every byte count): a dense message is `n` f32 values; a sparse one is
//! its kept values (f32) and their indices (u32), plus a 4-byte count; a coded one (QSGD, TernGrad, signSGD)
//! the bits its compressor states, rounded up to bytes; PowerSGD its P and Q factors (f32). Compression ratio (§4.4):
//! dense bytes / sent bytes.

pub mod dgc;
pub mod exchange;
pub mod network;
pub mod powersgd;
pub mod quantized;

/// What one worker sends for one tensor.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Dense(Vec<f32>),
    /// Kept values at their indices of a tensor of `len` elements.
    Sparse {
        len: usize,
        indices: Vec<u32>,
        values: Vec<f32>,
    },
    /// Every element, coded in `bits` bits in all; `values` are what the receivers decode.
    Coded {
        values: Vec<f32>,
        bits: usize,
    },
}

impl Message {
    /// Bytes on the wire under the encoding above.
    pub fn bytes(&self) -> usize {
        match self {
            Self::Dense(v) => 4 * v.len(),
            Self::Sparse { indices, values, .. } => 4 + 4 * indices.len() + 4 * values.len(),
            Self::Coded { bits, .. } => bits.div_ceil(8),
        }
    }

    /// Elements of the tensor the message is about.
    pub fn len(&self) -> usize {
        match self {
            Self::Dense(v) | Self::Coded { values: v, .. } => v.len(),
            Self::Sparse { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds `scale` × the message's values into `out` (decompression with accumulation, as the receivers of
    /// an all-gather do).
    pub fn add_to(&self, out: &mut [f32], scale: f32) {
        match self {
            Self::Dense(v) | Self::Coded { values: v, .. } => out.iter_mut().zip(v).for_each(|(o, &x)| *o += scale * x),
            Self::Sparse { indices, values, .. } => {
                for (&i, &x) in indices.iter().zip(values) {
                    out[i as usize] += scale * x;
                }
            }
        }
    }
}

/// ceil(n·density), with the float error of a density given as 1 − sparsity (0.99 → 0.010000000000000009)
/// not pushing a whole number up by one; at least one element of a non-empty tensor.
pub fn keep_count(n: usize, density: f64) -> usize {
    let x = n as f64 * density;
    let k = if (x - x.round()).abs() < 1e-9 { x.round() } else { x.ceil() };
    (k as usize).clamp(1.min(n), n)
}

/// The compression ratio of §4.4: bytes of the dense f32 gradient over the bytes sent.
pub fn compression_ratio(messages: &[Message]) -> f64 {
    let dense: usize = messages.iter().map(|m| 4 * m.len()).sum();
    let sent: usize = messages.iter().map(Message::bytes).sum();
    dense as f64 / sent.max(1) as f64
}

/// The mean over workers: `(1/N)·Σ_k decode(message_k)`, the update every replica applies.
pub fn aggregate(messages: &[&Message], len: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; len];
    let scale = 1.0 / messages.len().max(1) as f32;
    for m in messages {
        m.add_to(&mut out, scale);
    }
    out
}
