//! Runnable models and evaluation sets from files, for `lowbit eval|sensitivity|mixed` and the evaluation
//! jobs: ONNX models run through tract ([`crate::onnx`]); the digit CNN of DATA.md (recognised by its
//! tensor names) runs on core's forward pass; anything else is refused with what lowbit can run.

use lowbit_core::eval::digit::DigitNet;
use lowbit_core::eval::{Dataset, Network, data};
use lowbit_core::readers::{self, Limits};
use std::path::Path;

/// A network, its evaluation set and (when activations are quantized) its calibration set.
pub type Opened = (Box<dyn Network>, Dataset, Option<Dataset>);

/// A network from a model file's bytes: an ONNX model through tract, else the digit CNN.
pub fn open_network(bytes: &[u8], limits: &Limits) -> Result<Box<dyn Network>, String> {
    if readers::detect(bytes) == Some(readers::FileFormat::Onnx) {
        return crate::onnx::OnnxNet::new(bytes, limits)
            .map(|n| Box::new(n) as Box<dyn Network>)
            .map_err(|e| format!("cannot run the ONNX model: {e}"));
    }
    let c = readers::read_with(bytes, limits).map_err(|e| format!("cannot read the model: {e}"))?;
    DigitNet::from_checkpoint(&c).map(|n| Box::new(n) as Box<dyn Network>).map_err(|e| {
        format!("not a model lowbit can run ({e}); lowbit runs ONNX models and the digit CNN of DATA.md (.pth or safetensors)")
    })
}

/// An evaluation set from an `.npz` file's bytes (`x`, optionally `y`).
pub fn npz_dataset(bytes: &[u8], limits: &Limits) -> Result<Dataset, String> {
    let c = readers::read_with(bytes, limits).map_err(|e| format!("cannot read the evaluation set: {e}"))?;
    data::from_checkpoint(&c).map_err(|e| e.to_string())
}

/// MNIST's `test` or `train` split from the MNIST folder.
pub fn mnist(dir: &Path, split: &str) -> Result<Dataset, String> {
    let prefix = if split == "test" { "t10k" } else { "train" };
    let read = |kind: &str| {
        let p = dir.join(format!("{prefix}-{kind}-idx{}-ubyte", if kind == "images" { 3 } else { 1 }));
        std::fs::read(&p).map_err(|e| format!("MNIST is not at {} ({e}); run scripts/fetch-data.sh mnist", p.display()))
    };
    data::mnist(&read("images")?, &read("labels")?).map_err(|e| format!("MNIST in {}: {e}", dir.display()))
}
