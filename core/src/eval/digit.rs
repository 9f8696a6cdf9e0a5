//! The digit CNN of DATA.md run on whole batches: im2col + one matrix multiply per layer (ndarray's
//! `general_mat_mul`, matrixmultiply's SIMD kernels natively and in wasm). Activations are kept channel-major
//! over the batch ([C][n][H][W]) so every conv is a single [K × C·9]·[C·9 × n·H·W] product.
//!
//! Input: raw pixels 0–255, [n, 1, 28, 28]; normalised inside as the model was trained,
//! (x/255 − 0.1307)/0.3081. [`crate::nn::DigitCnn::forward`] (one image, direct convolution) is the
//! independent reference the tests compare against.

use super::{Layer, Network, Probe, Runnable};
use crate::error::{Error, Result};
use crate::nn::DigitCnn;
use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayView2, ArrayViewMut2};

/// The digit CNN as an evaluable network: five layers (three convs, two linear).
#[derive(Debug, Clone)]
pub struct DigitNet {
    layers: Vec<Layer>,
    biases: Vec<Vec<f32>>,
}

const SAMPLE: [usize; 3] = [1, 28, 28];

impl DigitNet {
    pub fn new(cnn: &DigitCnn) -> Self {
        let mut layers = Vec::new();
        let mut biases = Vec::new();
        for c in &cnn.convs {
            layers.push(Layer { name: c.name.clone(), shape: vec![c.k, c.c, 3, 3], weight: c.weight.clone() });
            biases.push(c.bias.clone());
        }
        for (name, l) in [("fc_layers.0.weight", &cnn.fc1), ("fc_layers.2.weight", &cnn.fc2)] {
            layers.push(Layer { name: name.into(), shape: vec![l.out, l.inp], weight: l.weight.clone() });
            biases.push(l.bias.clone());
        }
        Self { layers, biases }
    }

    /// Recognises the digit CNN by its tensor names and shapes.
    pub fn from_checkpoint(c: &crate::readers::Checkpoint<'_>) -> Result<Self> {
        Ok(Self::new(&DigitCnn::from_checkpoint(c)?))
    }
}

impl Network for DigitNet {
    fn layers(&self) -> &[Layer] {
        &self.layers
    }
    fn sample_shape(&self) -> &[usize] {
        &SAMPLE
    }
    fn classes(&self) -> usize {
        10
    }
    fn with_weights(&self, weights: &[&[f32]]) -> Result<Box<dyn Runnable + '_>> {
        if weights.len() != self.layers.len() || weights.iter().zip(&self.layers).any(|(w, l)| w.len() != l.params()) {
            return Err(Error::param("the weights given do not match the digit CNN's layers"));
        }
        Ok(Box::new(DigitRun { net: self, weights: weights.iter().map(|w| w.to_vec()).collect() }))
    }
}

struct DigitRun<'a> {
    net: &'a DigitNet,
    weights: Vec<Vec<f32>>,
}

/// out[m × n] = a[m × k] · b[k × n].
fn matmul(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; m * n];
    let av = ArrayView2::from_shape((m, k), a).expect("matmul: a's shape");
    let bv = ArrayView2::from_shape((k, n), b).expect("matmul: b's shape");
    let mut cv = ArrayViewMut2::from_shape((m, n), &mut out).expect("matmul: out's shape");
    general_mat_mul(1.0, &av, &bv, 0.0, &mut cv);
    out
}

/// 3×3, padding 1 patches of [C][n][H][W] as a [C·9 × n·H·W] matrix.
fn im2col(x: &[f32], c: usize, n: usize, h: usize, w: usize) -> Vec<f32> {
    let cols = n * h * w;
    let mut out = vec![0.0f32; c * 9 * cols];
    for ci in 0..c {
        for ky in 0..3 {
            for kx in 0..3 {
                let row = &mut out[((ci * 9) + ky * 3 + kx) * cols..][..cols];
                for img in 0..n {
                    let src = &x[(ci * n + img) * h * w..][..h * w];
                    let dst = &mut row[img * h * w..][..h * w];
                    for y in 0..h {
                        let sy = y as isize + ky as isize - 1;
                        if sy < 0 || sy >= h as isize {
                            continue;
                        }
                        let srow = &src[sy as usize * w..][..w];
                        let drow = &mut dst[y * w..][..w];
                        // x + kx − 1 in [0, w): a shifted copy of the source row.
                        match kx {
                            0 => drow[1..].copy_from_slice(&srow[..w - 1]),
                            1 => drow.copy_from_slice(srow),
                            _ => drow[..w - 1].copy_from_slice(&srow[1..]),
                        }
                    }
                }
            }
        }
    }
    out
}

/// 2×2 max-pooling then ReLU (they commute) of [C][n][H][W].
fn pool_relu(y: &[f32], planes: usize, h: usize, w: usize) -> Vec<f32> {
    let (oh, ow) = (h / 2, w / 2);
    let mut out = vec![0.0f32; planes * oh * ow];
    for p in 0..planes {
        let src = &y[p * h * w..][..h * w];
        let dst = &mut out[p * oh * ow..][..oh * ow];
        for oy in 0..oh {
            for ox in 0..ow {
                let i = 2 * oy * w + 2 * ox;
                dst[oy * ow + ox] = src[i].max(src[i + 1]).max(src[i + w]).max(src[i + w + 1]).max(0.0);
            }
        }
    }
    out
}

impl Runnable for DigitRun<'_> {
    fn run(&self, x: &[f32], n: usize, probe: &mut Probe<'_>) -> Result<Vec<f32>> {
        if x.len() != n * 784 {
            return Err(Error::tensor(format!("{} values are not {n} images of 28×28", x.len())));
        }
        // [1][n][28][28], normalised.
        let mut a: Vec<f32> = x.iter().map(|&p| (p / 255.0 - 0.1307) / 0.3081).collect();
        let (mut c, mut h) = (1usize, 28usize);
        for (i, k) in [32usize, 64, 128].into_iter().enumerate() {
            probe.input(i, &mut a)?;
            let cols = im2col(&a, c, n, h, h);
            let mut y = matmul(&self.weights[i], &cols, k, c * 9, n * h * h);
            for (kk, plane) in y.chunks_mut(n * h * h).enumerate() {
                let b = self.net.biases[i][kk];
                plane.iter_mut().for_each(|v| *v += b);
            }
            probe.output(i, &y);
            a = pool_relu(&y, k * n, h, h);
            (c, h) = (k, h / 2);
        }
        // [128][n][3][3] → [1152 × n], PyTorch's flatten order (channel, row, column) per image.
        let mut flat = vec![0.0f32; 1152 * n];
        for ch in 0..128 {
            for img in 0..n {
                for p in 0..9 {
                    flat[(ch * 9 + p) * n + img] = a[(ch * n + img) * 9 + p];
                }
            }
        }
        let mut hidden = self.linear(3, &mut flat, n, probe)?;
        hidden.iter_mut().for_each(|v| *v = v.max(0.0));
        let out = self.linear(4, &mut hidden, n, probe)?;
        // [10 × n] → [n × 10].
        let mut logits = vec![0.0f32; n * 10];
        for o in 0..10 {
            for img in 0..n {
                logits[img * 10 + o] = out[o * n + img];
            }
        }
        Ok(logits)
    }
}

impl DigitRun<'_> {
    /// Layer `i` (linear) on [in × n]: W·x + b → [out × n].
    fn linear(&self, i: usize, x: &mut [f32], n: usize, probe: &mut Probe<'_>) -> Result<Vec<f32>> {
        probe.input(i, x)?;
        let (out, inp) = (self.net.layers[i].shape[0], self.net.layers[i].shape[1]);
        let mut y = matmul(&self.weights[i], x, out, inp, n);
        for (o, row) in y.chunks_mut(n).enumerate() {
            let b = self.net.biases[i][o];
            row.iter_mut().for_each(|v| *v += b);
        }
        probe.output(i, &y);
        Ok(y)
    }
}
