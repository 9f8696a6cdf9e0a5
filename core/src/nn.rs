//! The forward pass of small convolutional networks in plain f32 — enough to run the real digit CNN of
//! DATA.md on MNIST and hand the simulators real activation maps (and, later, to measure accuracy).
//!
//! [`DigitCnn`]: conv3×3(pad 1)+ReLU+maxpool2 three times (1→32→64→128), then FC 1152→256, ReLU, FC 256→10;
//! input (x/255 − 0.1307)/0.3081. Tensor names are those of its PyTorch state dict.

use crate::error::{Error, Result};
use crate::readers::Checkpoint;
use crate::sim::scnn::{ConvLayer, conv2d};

/// One conv stage's weights [K, C, 3, 3] and bias [K].
#[derive(Debug, Clone, PartialEq)]
pub struct Conv {
    pub name: String,
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
    pub k: usize,
    pub c: usize,
}

/// A fully connected layer [out, in] and bias.
#[derive(Debug, Clone, PartialEq)]
pub struct Linear {
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
    pub out: usize,
    pub inp: usize,
}

/// The digit CNN.
#[derive(Debug, Clone, PartialEq)]
pub struct DigitCnn {
    pub convs: Vec<Conv>,
    pub fc1: Linear,
    pub fc2: Linear,
}

/// What one image did inside the network.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// Input of each conv stage [C, H, W] as the conv sees it (post-ReLU for stages after the first).
    pub conv_inputs: Vec<(Vec<f32>, usize, usize)>,
    /// The same before the ReLU (pre-activation, max-pooled), for Winograd-ReLU; the image for stage 0.
    pub conv_inputs_pre_relu: Vec<Vec<f32>>,
    pub logits: Vec<f32>,
}

fn tensor(c: &Checkpoint<'_>, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
    let t = c
        .tensors
        .iter()
        .find(|t| t.name == name)
        .ok_or_else(|| Error::tensor(format!("the checkpoint has no tensor `{name}` (not the digit CNN?)")))?;
    if t.shape != shape {
        return Err(Error::tensor(format!("tensor `{name}` has shape {:?}, the digit CNN needs {shape:?}", t.shape)));
    }
    t.to_f32()
}

fn maxpool2(x: &[f32], c: usize, h: usize, w: usize) -> (Vec<f32>, usize, usize) {
    let (oh, ow) = (h / 2, w / 2);
    let mut out = vec![f32::NEG_INFINITY; c * oh * ow];
    for cc in 0..c {
        for y in 0..oh * 2 {
            for xx in 0..ow * 2 {
                let o = &mut out[(cc * oh + y / 2) * ow + xx / 2];
                *o = o.max(x[(cc * h + y) * w + xx]);
            }
        }
    }
    (out, oh, ow)
}

impl DigitCnn {
    /// Reads the network from its checkpoint (`conv_layers.{0,3,6}`, `fc_layers.{0,2}`).
    pub fn from_checkpoint(c: &Checkpoint<'_>) -> Result<Self> {
        Self::from_fn(|name, shape| tensor(c, name, shape))
    }

    /// Builds the network from a source of named tensors (`tensor(name, shape)`), e.g. tensors the page
    /// fetched one by one from the server.
    pub fn from_fn(tensor: impl Fn(&str, &[usize]) -> Result<Vec<f32>>) -> Result<Self> {
        let mut convs = Vec::new();
        for (i, (k, cin)) in [(0usize, (32usize, 1usize)), (3, (64, 32)), (6, (128, 64))] {
            let name = format!("conv_layers.{i}");
            convs.push(Conv {
                weight: tensor(&format!("{name}.weight"), &[k, cin, 3, 3])?,
                bias: tensor(&format!("{name}.bias"), &[k])?,
                name: format!("{name}.weight"),
                k,
                c: cin,
            });
        }
        let fc1 = Linear {
            weight: tensor("fc_layers.0.weight", &[256, 1152])?,
            bias: tensor("fc_layers.0.bias", &[256])?,
            out: 256,
            inp: 1152,
        };
        let fc2 = Linear {
            weight: tensor("fc_layers.2.weight", &[10, 256])?,
            bias: tensor("fc_layers.2.bias", &[10])?,
            out: 10,
            inp: 256,
        };
        Ok(Self { convs, fc1, fc2 })
    }

    /// Runs one 28×28 image (raw bytes 0–255).
    pub fn forward(&self, pixels: &[f32]) -> Result<Trace> {
        if pixels.len() != 28 * 28 {
            return Err(Error::tensor(format!("an MNIST image has 784 pixels, not {}", pixels.len())));
        }
        let mut x: Vec<f32> = pixels.iter().map(|&p| (p / 255.0 - 0.1307) / 0.3081).collect();
        let (mut h, mut w) = (28, 28);
        let mut trace = Trace { conv_inputs: Vec::new(), conv_inputs_pre_relu: Vec::new(), logits: Vec::new() };
        let mut pre = x.clone();
        for conv in &self.convs {
            trace.conv_inputs.push((x.clone(), h, w));
            trace.conv_inputs_pre_relu.push(pre);
            let layer = ConvLayer { weights: &conv.weight, k: conv.k, c: conv.c, r: 3, s: 3, acts: &x, h, w, pad: 1 };
            let mut y = conv2d(&layer);
            for (kk, chunk) in y.chunks_mut(h * w).enumerate() {
                chunk.iter_mut().for_each(|v| *v += conv.bias[kk]);
            }
            // ReLU and max-pooling commute; keep the pooled pre-activation for Winograd-ReLU.
            let (pooled, ph, pw) = maxpool2(&y, conv.k, h, w);
            pre = pooled.clone();
            x = pooled.into_iter().map(|v| v.max(0.0)).collect();
            (h, w) = (ph, pw);
        }
        let lin = |l: &Linear, v: &[f32]| -> Vec<f32> {
            (0..l.out)
                .map(|o| {
                    l.bias[o] + l.weight[o * l.inp..(o + 1) * l.inp].iter().zip(v).map(|(a, b)| a * b).sum::<f32>()
                })
                .collect()
        };
        let hidden: Vec<f32> = lin(&self.fc1, &x).into_iter().map(|v| v.max(0.0)).collect();
        trace.logits = lin(&self.fc2, &hidden);
        Ok(trace)
    }
}

/// Index of the largest logit.
pub fn argmax(v: &[f32]) -> usize {
    v.iter().enumerate().fold((0, f32::NEG_INFINITY), |(bi, bv), (i, &x)| if x > bv { (i, x) } else { (bi, bv) }).0
}
