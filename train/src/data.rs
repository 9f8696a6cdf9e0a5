//! MNIST as the training lab uses it: pixels normalised as the digit CNN was trained
//! ((x/255 − 0.1307)/0.3081), labels as bytes, and a seeded order of the training images per epoch.

use crate::error::{Error, Result};
use lowbit_core::readers::idx;
use lowbit_core::sample::Sampler;
use std::path::Path;

pub const PIXELS: usize = 28 * 28;

/// One split: `images[i·784 .. (i+1)·784]` normalised, `labels[i]` in 0..10.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    pub images: Vec<f32>,
    pub labels: Vec<u8>,
}

impl Split {
    pub fn len(&self) -> usize {
        self.labels.len()
    }
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
    /// The first `n` samples (all when `n` is larger).
    pub fn head(&self, n: usize) -> Split {
        let n = n.min(self.len());
        Split { images: self.images[..n * PIXELS].to_vec(), labels: self.labels[..n].to_vec() }
    }
    /// The samples at `idx`, gathered into one batch.
    pub fn gather(&self, idx: &[usize]) -> (Vec<f32>, Vec<u8>) {
        let mut x = Vec::with_capacity(idx.len() * PIXELS);
        for &i in idx {
            x.extend_from_slice(&self.images[i * PIXELS..(i + 1) * PIXELS]);
        }
        (x, idx.iter().map(|&i| self.labels[i]).collect())
    }
}

/// The 60,000 training and 10,000 test images.
#[derive(Debug, Clone, PartialEq)]
pub struct Mnist {
    pub train: Split,
    pub test: Split,
}

fn read_idx(dir: &Path, name: &str) -> Result<(Vec<usize>, Vec<u8>)> {
    let path = dir.join(name);
    let bytes = std::fs::read(&path)
        .map_err(|e| Error::Data(format!("cannot read {} ({e}); run scripts/fetch-data.sh mnist", path.display())))?;
    let t = idx::read(name, &bytes).map_err(|e| Error::Data(format!("{}: {e}", path.display())))?;
    Ok((t.shape.clone(), t.data.into_owned()))
}

fn split(dir: &Path, images_file: &str, labels_file: &str) -> Result<Split> {
    let (ishape, pixels) = read_idx(dir, images_file)?;
    let (lshape, labels) = read_idx(dir, labels_file)?;
    if ishape.len() != 3 || ishape[1..] != [28, 28] || lshape != [ishape[0]] {
        return Err(Error::Data(format!(
            "{images_file} / {labels_file}: shapes {ishape:?} and {lshape:?} are not MNIST's (N×28×28 images, N labels)"
        )));
    }
    if let Some(l) = labels.iter().find(|&&l| l > 9) {
        return Err(Error::Data(format!("{labels_file}: label {l} is not a digit")));
    }
    Ok(Split { images: pixels.iter().map(|&p| normalise(p)).collect(), labels })
}

/// A pixel 0–255 as the networks see it.
pub fn normalise(p: u8) -> f32 {
    (p as f32 / 255.0 - 0.1307) / 0.3081
}

impl Mnist {
    /// Reads `dir` (e.g. `data/mnist`).
    pub fn load(dir: &Path) -> Result<Self> {
        Ok(Self {
            train: split(dir, "train-images-idx3-ubyte", "train-labels-idx1-ubyte")?,
            test: split(dir, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")?,
        })
    }
}

/// The order of `n` training samples in `epoch`: a Fisher–Yates shuffle seeded by (seed, epoch), so a run
/// resumed at any step sees the same batches as one that never stopped.
pub fn epoch_order(n: usize, seed: u64, epoch: usize) -> Vec<usize> {
    let mut rng = Sampler::new(seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_epoch_order_is_a_permutation_fixed_by_its_seed() {
        let a = epoch_order(1000, 7, 3);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..1000).collect::<Vec<_>>());
        assert_eq!(a, epoch_order(1000, 7, 3));
        assert_ne!(a, epoch_order(1000, 7, 4));
        assert_ne!(a, epoch_order(1000, 8, 3));
    }

    #[test]
    fn pixels_are_normalised_as_the_digit_cnn_expects() {
        assert!((normalise(0) + 0.1307 / 0.3081).abs() < 1e-6);
        assert!((normalise(255) - (1.0 - 0.1307) / 0.3081).abs() < 1e-5);
    }
}
