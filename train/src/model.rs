//! The networks of the training lab, as one [`Net`]: a list of weight layers (convolutions then fully
//! connected), each weight kept as a matrix [out, in] (a conv's [K, C, R, S] flattened per output channel,
//! which is how core groups it per channel or per vector too), passed through a hook on its way into the
//! layer — the hook is where fake quantization, ternarization or a pruning mask goes.
//!
//! - `mlp`: LeNet-300-100 (784→300→100→10, ReLU), the MLP of the pruning papers;
//! - `lenet5`: conv5×5 1→6 (pad 2), pool, conv5×5 6→16, pool, FC 400→120→84→10, ReLU;
//! - `digit-cnn`: the real trained network of DATA.md, conv3×3 (pad 1) 1→32→64→128 each with ReLU and 2×2
//!   max-pool, FC 1152→256→10, with its PyTorch tensor names, initialised from its `.pth`.

use crate::error::{Error, Result};
use burn::module::{Module, Param, ParamId};
use burn::tensor::activation::relu;
use burn::tensor::module::{conv2d, max_pool2d};
use burn::tensor::ops::{ConvOptions, MaxPoolOptions};
use burn::tensor::{Device, Tensor, TensorData};
use lowbit_core::readers::TensorEntry;
use lowbit_core::sample::Sampler;

pub use lowbit_core::training::{Arch, Layer, LayerKind};

/// A network: its weights (matrices) and biases, layer by layer.
#[derive(Module, Debug)]
pub struct Net {
    pub weights: Vec<Param<Tensor<2>>>,
    pub biases: Vec<Param<Tensor<1>>>,
    /// TTQ's learned scales W^p and W^n per layer (empty unless the run is TTQ; see [`crate::ttq`]).
    pub ttq_p: Vec<Param<Tensor<1>>>,
    pub ttq_n: Vec<Param<Tensor<1>>>,
    /// LSQ's learned clips per layer, one per group (empty unless the run learns its clips).
    pub clips: Vec<Param<Tensor<1>>>,
    #[module(skip)]
    pub arch: Arch,
}

/// Named values of a network, as a checkpoint holds them (weights in their own shape).
#[derive(Debug, Clone, PartialEq)]
pub struct NamedTensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

pub fn to_vec<const D: usize>(t: &Tensor<D>) -> Vec<f32> {
    t.to_data().convert::<f32>().try_into_vec::<f32>().unwrap_or_default()
}

/// A parameter with an id fixed by its place in the net (layer, role: 0 weight, 1 bias, 2 W^p, 3 W^n,
/// 4 learned clips), so a rebuilt net has the ids a saved optimizer state refers to (resuming a run).
pub fn param<const D: usize>(t: Tensor<D>, layer: usize, role: u64) -> Param<Tensor<D>> {
    let mut p = Param::from_tensor(t);
    p.id = ParamId::from(1 + 8 * layer as u64 + role);
    p
}

impl Net {
    /// He-initialised weights (Gaussian, σ = √(2 / fan-in)) and zero biases, from `seed`.
    pub fn init(arch: Arch, seed: u64, device: &Device) -> Self {
        let mut rng = Sampler::new(seed);
        let layers = arch.layers();
        let values = layers
            .iter()
            .map(|l| {
                let [o, i] = l.matrix();
                let sd = (2.0 / i as f64).sqrt() as f32;
                let w = rng.gaussian_vec(o * i).into_iter().map(|v| v * sd).collect();
                (w, vec![0.0; o])
            })
            .collect();
        Self::from_values(arch, values, device)
    }

    /// Weights and biases (row-major [out, in] and [out]) per layer.
    pub fn from_values(arch: Arch, values: Vec<(Vec<f32>, Vec<f32>)>, device: &Device) -> Self {
        let layers = arch.layers();
        let (mut weights, mut biases) = (Vec::new(), Vec::new());
        for (n, (l, (w, b))) in layers.iter().zip(values).enumerate() {
            let [o, i] = l.matrix();
            weights.push(param(Tensor::from_data(TensorData::new(w, [o, i]), device), n, 0));
            biases.push(param(Tensor::from_data(TensorData::new(b, [o]), device), n, 1));
        }
        Self { weights, biases, ttq_p: Vec::new(), ttq_n: Vec::new(), clips: Vec::new(), arch }
    }

    /// The network from a checkpoint holding its tensors by name (the digit CNN's `.pth`, or a
    /// safetensors file this crate wrote), each checked against the architecture's shapes.
    pub fn from_tensors(arch: Arch, tensors: &[TensorEntry<'_>], device: &Device) -> Result<Self> {
        let find = |name: String, shape: Vec<usize>| -> Result<Vec<f32>> {
            let t = tensors.iter().find(|t| t.name == name).ok_or_else(|| {
                Error::Param(format!("the checkpoint has no tensor `{name}`: it is not the {arch} model"))
            })?;
            if t.shape != shape {
                return Err(Error::Param(format!(
                    "tensor `{name}` has shape {:?}, the {arch} model needs {shape:?}",
                    t.shape
                )));
            }
            let v = t.to_f32()?;
            if let Some(bad) = v.iter().find(|x| !x.is_finite()) {
                return Err(Error::Param(format!("tensor `{name}` holds {bad}; training starts from finite weights")));
            }
            Ok(v)
        };
        let values = arch
            .layers()
            .iter()
            .map(|l| {
                Ok((
                    find(format!("{}.weight", l.name), l.shape())?,
                    find(format!("{}.bias", l.name), vec![l.matrix()[0]])?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self::from_values(arch, values, device))
    }

    /// Every weight and bias with its checkpoint name and shape.
    pub fn named(&self) -> Vec<NamedTensor> {
        let mut out = Vec::new();
        for (l, (w, b)) in self.arch.layers().iter().zip(self.weights.iter().zip(&self.biases)) {
            out.push(NamedTensor { name: format!("{}.weight", l.name), shape: l.shape(), values: to_vec(&w.val()) });
            out.push(NamedTensor {
                name: format!("{}.bias", l.name),
                shape: vec![l.matrix()[0]],
                values: to_vec(&b.val()),
            });
        }
        out
    }

    /// Logits [batch, 10] of images [batch, 784]; every weight goes through `hook(layer, weight)` first.
    pub fn forward(&self, x: Tensor<2>, hook: &mut dyn FnMut(usize, Tensor<2>) -> Tensor<2>) -> Tensor<2> {
        self.forward_with(x, hook, &mut |_, a| a)
    }

    /// [`Net::forward`] with the input of every layer after the first passed through `act(layer, input)`
    /// as [batch, features] (a conv's input maps flattened per image) — where activation quantization goes.
    pub fn forward_with(
        &self,
        x: Tensor<2>,
        hook: &mut dyn FnMut(usize, Tensor<2>) -> Tensor<2>,
        act: &mut dyn FnMut(usize, Tensor<2>) -> Tensor<2>,
    ) -> Tensor<2> {
        let layers = self.arch.layers();
        let batch = x.dims()[0];
        let mut flat = x;
        let mut maps: Option<Tensor<4>> = None;
        let last = layers.len() - 1;
        for (i, l) in layers.iter().enumerate() {
            let w = hook(i, self.weights[i].val());
            let b = self.biases[i].val();
            if i > 0 {
                match maps.take() {
                    Some(m) => {
                        let dims = m.dims();
                        maps = Some(act(i, m.flatten(1, 3)).reshape(dims));
                    }
                    None => flat = act(i, flat),
                }
            }
            match l.kind {
                LayerKind::Conv { k, c, r, pad } => {
                    let input = maps.take().unwrap_or_else(|| flat.clone().reshape([batch, 1, 28, 28]));
                    let y = conv2d(
                        input,
                        w.reshape([k, c, r, r]),
                        Some(b),
                        ConvOptions::new([1, 1], [pad, pad], [1, 1], 1),
                    );
                    maps = Some(max_pool2d(relu(y), MaxPoolOptions::new([2, 2])));
                }
                LayerKind::Fc { .. } => {
                    if let Some(m) = maps.take() {
                        flat = m.flatten(1, 3);
                    }
                    let y = flat.matmul(w.transpose()) + b.unsqueeze::<2>();
                    flat = if i == last { y } else { relu(y) };
                }
            }
        }
        flat
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_model_maps_a_batch_of_images_to_ten_logits() {
        let device = Device::flex();
        for &arch in Arch::ALL {
            let net = Net::init(arch, 1, &device);
            let x = Tensor::<2>::from_data(TensorData::new(vec![0.5f32; 3 * 784], [3, 784]), &device);
            assert_eq!(net.forward(x, &mut |_, w| w).dims(), [3, 10], "{arch}");
            assert_eq!(net.named().len(), 2 * arch.layers().len());
        }
        assert!("resnet".parse::<Arch>().is_err());
    }
}

#[cfg(test)]
mod start_tests {
    use super::*;
    use lowbit_core::readers::DType;
    use std::borrow::Cow;

    fn entry(name: &str, shape: Vec<usize>, v: &[f32]) -> TensorEntry<'static> {
        let data = v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        TensorEntry { name: name.into(), dtype: DType::F32, shape, data: Cow::Owned(data), big_endian: false }
    }

    #[test]
    fn a_starting_checkpoint_with_a_non_finite_weight_is_refused_by_name() {
        let mut fc1 = vec![0.1f32; 300 * 784];
        let good = |name: &str, shape: Vec<usize>| {
            let n = shape.iter().product();
            entry(name, shape, &vec![0.0; n])
        };
        let tensors = |fc1: &[f32]| {
            vec![
                entry("fc1.weight", vec![300, 784], fc1),
                good("fc1.bias", vec![300]),
                good("fc2.weight", vec![100, 300]),
                good("fc2.bias", vec![100]),
                good("fc3.weight", vec![10, 100]),
                good("fc3.bias", vec![10]),
            ]
        };
        assert!(Net::from_tensors(Arch::Mlp, &tensors(&fc1), &Device::flex()).is_ok());
        fc1[7] = f32::NAN;
        let e = Net::from_tensors(Arch::Mlp, &tensors(&fc1), &Device::flex()).unwrap_err().to_string();
        assert!(e.contains("fc1.weight") && e.contains("NaN"), "{e}");
    }
}
