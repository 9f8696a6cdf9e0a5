//! ONNX models as evaluable networks, through tract (server and CLI only; TOOLCHAIN.md: tract 0.23.9 matched
//! onnxruntime exactly). Every float weight that feeds a Conv, Gemm or MatMul — an initializer or a
//! `Constant` node's value — is a layer; a compressed variant is the protobuf with those tensors replaced by
//! their quantized-and-dequantized values, rebuilt and optimised by tract (milliseconds for small models).
//! Each layer's output (its consumer node's first output) is a model output too, so output SQNR is measured
//! the same way in every variant. Activations are not quantized here (weights only).

use lowbit_core::eval::{Layer, Network, Probe, Runnable};
use lowbit_core::readers::{self, Limits};
use lowbit_core::{Error, Result};
use std::collections::HashSet;
use std::sync::Arc;
use tract_onnx::pb::{GraphProto, ModelProto, TensorProto, tensor_shape_proto::dimension, type_proto};
use tract_onnx::prelude::*;

/// Samples per run when the model's batch axis is free.
const BATCH: usize = 100;

/// Where a weight lives in the protobuf.
#[derive(Debug, Clone, Copy)]
enum Site {
    Initializer(usize),
    Constant(usize),
}

pub struct OnnxNet {
    proto: ModelProto,
    layers: Vec<Layer>,
    sites: Vec<Site>,
    /// The ONNX names of the logits and of every layer's output.
    outputs: Vec<String>,
    input: String,
    sample_shape: Vec<usize>,
    batch: usize,
    classes: usize,
}

fn tract_err(what: &str) -> impl Fn(TractError) -> Error + '_ {
    move |e| Error::param(format!("{what}: {e:#}"))
}

fn tensor_mut(g: &mut GraphProto, site: Site) -> &mut TensorProto {
    match site {
        Site::Initializer(i) => &mut g.initializer[i],
        Site::Constant(n) => g.node[n]
            .attribute
            .iter_mut()
            .find(|a| a.name == "value")
            .and_then(|a| a.t.as_mut())
            .expect("a Constant site has a value tensor"),
    }
}

impl OnnxNet {
    /// Reads a model: its weights, its one input's shape (batch first) and its output size.
    pub fn new(bytes: &[u8], limits: &Limits) -> Result<Self> {
        let proto = tract_onnx::onnx()
            .proto_model_for_read(&mut &bytes[..])
            .map_err(tract_err("not an ONNX model tract can read"))?;
        let g = proto.graph.as_ref().ok_or_else(|| Error::param("the ONNX model has no graph"))?;
        let values = readers::read_with(bytes, limits)?;
        let init: Vec<&str> = g.initializer.iter().map(|t| t.name.as_str()).collect();
        let site_of = |name: &str| -> Option<Site> {
            if let Some(i) = init.iter().position(|n| *n == name) {
                return Some(Site::Initializer(i));
            }
            g.node
                .iter()
                .position(|n| n.op_type == "Constant" && n.output.first().is_some_and(|o| o == name))
                .map(Site::Constant)
        };
        let (mut layers, mut sites, mut outputs) = (Vec::new(), Vec::new(), Vec::new());
        let mut seen = HashSet::new();
        for node in &g.node {
            let weight_inputs: &[usize] = match node.op_type.as_str() {
                "Conv" | "ConvTranspose" => &[1],
                "Gemm" | "MatMul" => &[0, 1],
                _ => continue,
            };
            for &k in weight_inputs {
                let Some(name) = node.input.get(k) else { continue };
                let (Some(site), Some(t)) = (site_of(name), values.tensors.iter().find(|t| &t.name == name)) else {
                    continue;
                };
                if !t.dtype.is_float() || t.shape.len() < 2 || !seen.insert(name.clone()) {
                    continue;
                }
                layers.push(Layer { name: name.clone(), shape: t.shape.clone(), weight: t.to_f32()? });
                sites.push(site);
                outputs.push(node.output[0].clone());
            }
        }
        if layers.is_empty() {
            return Err(Error::param("the ONNX model has no float Conv, Gemm or MatMul weights to compress"));
        }
        let inputs: Vec<_> = g.input.iter().filter(|i| !init.contains(&i.name.as_str())).collect();
        let [input] = inputs.as_slice() else {
            return Err(Error::param(format!("lowbit evaluates models with one input; this one has {}", inputs.len())));
        };
        let dims: Vec<Option<i64>> = match input.r#type.as_ref().and_then(|t| t.value.as_ref()) {
            Some(type_proto::Value::TensorType(t)) => t
                .shape
                .as_ref()
                .map(|s| {
                    s.dim.iter().map(|d| match d.value {
                        Some(dimension::Value::DimValue(v)) if v > 0 => Some(v),
                        _ => None,
                    })
                })
                .into_iter()
                .flatten()
                .collect(),
            _ => Vec::new(),
        };
        let Some((first, rest)) = dims.split_first() else {
            return Err(Error::param(format!("input `{}` has no shape", input.name)));
        };
        let sample_shape: Vec<usize> =
            rest.iter().map(|d| d.map(|v| v as usize)).collect::<Option<_>>().ok_or_else(|| {
                Error::param(format!("input `{}` must have a fixed shape after its batch axis", input.name))
            })?;
        let batch = first.map_or(BATCH, |b| b as usize);
        let logits =
            g.output.first().map(|o| o.name.clone()).ok_or_else(|| Error::param("the ONNX model has no output"))?;
        let mut net = Self {
            input: input.name.clone(),
            proto,
            layers,
            sites,
            outputs: std::iter::once(logits).chain(outputs).collect(),
            sample_shape,
            batch,
            classes: 0,
        };
        let plan = net.build(&net.layers.iter().map(|l| l.weight.as_slice()).collect::<Vec<_>>())?;
        let fact = plan.model().output_fact(0).map_err(tract_err("the model's output"))?;
        let shape: Vec<usize> = fact.shape.as_concrete().map(|s| s.to_vec()).unwrap_or_default();
        if shape.first() != Some(&batch) || shape.len() < 2 {
            return Err(Error::param(format!(
                "the model's first output has shape {:?}; lowbit needs [batch, classes]",
                fact.shape
            )));
        }
        net.classes = shape[1..].iter().product();
        Ok(net)
    }

    fn build(&self, weights: &[&[f32]]) -> Result<Arc<TypedRunnableModel>> {
        let mut proto = self.proto.clone();
        let g = proto.graph.as_mut().expect("checked in new");
        for (&site, w) in self.sites.iter().zip(weights) {
            let t = tensor_mut(g, site);
            t.float_data.clear();
            t.raw_data = w.iter().flat_map(|v| v.to_le_bytes()).collect();
            t.data_type = 1;
        }
        let shape: Vec<usize> = std::iter::once(self.batch).chain(self.sample_shape.iter().copied()).collect();
        let mut model =
            tract_onnx::onnx().model_for_proto_model(&proto).map_err(tract_err("tract cannot load the model"))?;
        model
            .set_input_fact(0, InferenceFact::dt_shape(f32::datum_type(), shape))
            .map_err(tract_err("the model's input"))?;
        model.select_outputs_by_name(&self.outputs).map_err(tract_err("the layers' outputs"))?;
        model
            .into_optimized()
            .and_then(|m| m.into_runnable())
            .map_err(tract_err(&format!("tract cannot run the model (input `{}`)", self.input)))
    }
}

impl Network for OnnxNet {
    fn layers(&self) -> &[Layer] {
        &self.layers
    }
    fn sample_shape(&self) -> &[usize] {
        &self.sample_shape
    }
    fn classes(&self) -> usize {
        self.classes
    }
    fn quantizes_activations(&self) -> bool {
        false
    }
    fn with_weights(&self, weights: &[&[f32]]) -> Result<Box<dyn Runnable + '_>> {
        Ok(Box::new(OnnxRun { net: self, plan: self.build(weights)? }))
    }
}

struct OnnxRun<'a> {
    net: &'a OnnxNet,
    plan: Arc<TypedRunnableModel>,
}

impl Runnable for OnnxRun<'_> {
    fn run(&self, x: &[f32], n: usize, probe: &mut Probe<'_>) -> Result<Vec<f32>> {
        let (net, per) = (self.net, self.net.sample_shape.iter().product::<usize>());
        let shape: Vec<usize> = std::iter::once(net.batch).chain(net.sample_shape.iter().copied()).collect();
        let mut logits = Vec::with_capacity(n * net.classes);
        for (c, chunk) in x.chunks(net.batch * per).enumerate() {
            let real = chunk.len() / per;
            let mut buf = chunk.to_vec();
            buf.resize(net.batch * per, 0.0);
            let t = Tensor::from_shape(&shape, &buf).map_err(tract_err("the input batch"))?;
            let out = self.plan.run(tvec!(t.into())).map_err(tract_err(&format!("running batch {c}")))?;
            for (k, o) in out.iter().enumerate() {
                let v = o.cast_to::<f32>().map_err(tract_err("an output"))?;
                let view = v.try_as_plain_ram().map_err(tract_err("an output"))?;
                let s = view.as_slice::<f32>().map_err(tract_err("an output"))?;
                let rows = &s[..s.len() / net.batch * real];
                if k == 0 {
                    logits.extend_from_slice(rows);
                } else {
                    probe.output(k - 1, rows);
                }
            }
        }
        Ok(logits)
    }
}
