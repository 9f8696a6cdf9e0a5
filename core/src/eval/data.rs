//! An evaluation (or calibration) set: samples, their shape and optional integer labels.

use super::Network;
use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// n × sample elements, row-major.
    pub x: Vec<f32>,
    pub n: usize,
    pub sample_shape: Vec<usize>,
    /// One class index per sample; without labels the measures are relative to the unquantized model.
    pub labels: Option<Vec<u32>>,
}

impl Dataset {
    /// A set from an array whose first axis is the samples (`x`) and optional labels (`y`), checked.
    pub fn new(x: Vec<f32>, shape: &[usize], labels: Option<Vec<u32>>) -> Result<Self> {
        let (&n, sample) =
            shape.split_first().ok_or_else(|| Error::tensor("x is a scalar; its first axis must be the samples"))?;
        let per: usize = sample.iter().product();
        if n == 0 || per == 0 {
            return Err(Error::tensor(format!("the evaluation set is empty (x has shape {shape:?})")));
        }
        if x.len() != n * per {
            return Err(Error::tensor(format!("x has {} values, its shape {shape:?} needs {}", x.len(), n * per)));
        }
        if let Some(i) = x.iter().position(|v| !v.is_finite()) {
            return Err(Error::tensor(format!("x holds {} at sample {} (inputs must be finite)", x[i], i / per)));
        }
        if let Some(y) = &labels
            && y.len() != n
        {
            return Err(Error::tensor(format!("y has {} labels for {n} samples", y.len())));
        }
        Ok(Self { x, n, sample_shape: sample.to_vec(), labels })
    }

    pub fn sample_len(&self) -> usize {
        self.sample_shape.iter().product()
    }

    /// The first `limit` samples.
    pub fn take(mut self, limit: usize) -> Self {
        if limit < self.n {
            self.x.truncate(limit * self.sample_len());
            if let Some(y) = &mut self.labels {
                y.truncate(limit);
            }
            self.n = limit;
        }
        self
    }

    /// The samples of `range`.
    pub fn slice(&self, range: std::ops::Range<usize>) -> &[f32] {
        let per = self.sample_len();
        &self.x[range.start * per..range.end * per]
    }

    /// Checks that `net` can run this set: same sample size (a shape that differs only by axes of length one,
    /// such as [784] for [1, 28, 28], is accepted) and labels within its classes.
    pub fn check_for(&self, net: &dyn Network) -> Result<()> {
        let want = net.sample_shape();
        let squeeze = |s: &[usize]| s.iter().copied().filter(|&d| d != 1).collect::<Vec<_>>();
        let same_size = want.iter().product::<usize>() == self.sample_len();
        if !same_size || (squeeze(want) != squeeze(&self.sample_shape) && self.sample_shape.len() > 1) {
            return Err(Error::tensor(format!(
                "the model takes samples of shape {want:?}; x has samples of shape {:?}",
                self.sample_shape
            )));
        }
        if let Some(y) = &self.labels
            && let Some((i, &l)) = y.iter().enumerate().find(|&(_, &l)| l as usize >= net.classes())
        {
            return Err(Error::tensor(format!(
                "label {l} of sample {i} is out of range: the model has {} classes (0 to {})",
                net.classes(),
                net.classes() - 1
            )));
        }
        Ok(())
    }
}

/// MNIST from its IDX files' bytes (images [n, 28, 28] as pixel values 0–255, labels 0–9).
pub fn mnist(images: &[u8], labels: &[u8]) -> Result<Dataset> {
    let img = crate::readers::idx::read("images", images)?;
    let lab = crate::readers::idx::read("labels", labels)?;
    if img.shape.len() != 3 || img.shape[1..] != [28, 28] {
        return Err(Error::tensor(format!("MNIST images have shape [n, 28, 28], not {:?}", img.shape)));
    }
    let y: Vec<u32> = lab.to_f32()?.into_iter().map(|v| v as u32).collect();
    let n = img.shape[0];
    Dataset::new(img.to_f32()?, &[n, 1, 28, 28], Some(y))
}

/// An evaluation set from a file's tensors (an `.npz`): `x` (first axis = samples) and optionally `y`
/// (integer class labels, one per sample).
pub fn from_checkpoint(c: &crate::readers::Checkpoint<'_>) -> Result<Dataset> {
    let find = |n: &str| c.tensors.iter().find(|t| t.name == n);
    let names: Vec<&str> = c.tensors.iter().map(|t| t.name.as_str()).collect();
    let x = find("x").ok_or_else(|| {
        Error::tensor(format!("an evaluation set needs an array `x` (samples first); the file has {names:?}"))
    })?;
    let labels = match find("y") {
        None => None,
        Some(y) => {
            if y.shape.len() != 1 {
                return Err(Error::tensor(format!("`y` must be one label per sample, not shape {:?}", y.shape)));
            }
            let v = y.to_f32()?;
            if let Some(bad) = v.iter().find(|l| !(l.is_finite() && **l >= 0.0 && l.fract() == 0.0)) {
                return Err(Error::tensor(format!("label {bad} in `y` is not a class index (0, 1, 2, …)")));
            }
            Some(v.into_iter().map(|l| l as u32).collect())
        }
    };
    Dataset::new(x.to_f32()?, &x.shape, labels)
}
