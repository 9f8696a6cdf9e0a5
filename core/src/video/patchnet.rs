//! PatchNet (ALGORITHMS.md §10): the operation count of `PatchNetG` from its layer table with the counting
//! rules of the official `scripts/ops_count.py` (thop: a convolution costs output elements × (input
//! channels / groups) × kh × kw multiply-accumulates; the Fourier feature 2·C·T²·(log2 T)²; each soft-select
//! pool 3 operations per pooled input element of the score and its 4 offsets), and the system's average
//! operations per frame under a key-frame policy.

use crate::error::{Error, Result};

/// The shape parameters of `PatchNetG` (defaults: the counted model).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct PatchNetShape {
    /// Patch side K (pixels).
    pub patch: usize,
    /// Patches per template side N (the template is K·N pixels square).
    pub patches: usize,
    /// Side of the response map (the search region is K·N − 1 + K · resp pixels).
    pub resp: usize,
    /// Image channels.
    pub channels: usize,
}

impl Default for PatchNetShape {
    fn default() -> Self {
        Self { patch: 8, patches: 8, resp: 7, channels: 3 }
    }
}

/// One row of the operation table.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Stage {
    pub name: String,
    /// Output shape as C×H×W ("—" when the stage has no tensor output of its own).
    pub output: String,
    pub ops: u64,
}

fn conv(name: &str, out_c: usize, out_hw: usize, in_per_group: usize, k: usize) -> Stage {
    Stage {
        name: name.into(),
        output: format!("{out_c}×{out_hw}×{out_hw}"),
        ops: (out_c * out_hw * out_hw * in_per_group * k * k) as u64,
    }
}

/// The operation table of `PatchNetG` for `s` (57,672,404 for the defaults).
pub fn ops(s: &PatchNetShape) -> Result<Vec<Stage>> {
    let (k, n, c) = (s.patch, s.patches, s.channels);
    if k < 2 || !k.is_power_of_two() || n < 4 || !n.is_multiple_of(4) || s.resp < 1 || c == 0 || k * n > 4096 {
        return Err(Error::param(format!(
            "PatchNet shape: patch {k} must be a power of two ≥ 2, patches {n} a multiple of 4, resp ≥ 1, channels ≥ 1"
        )));
    }
    let t = k * n; // template side
    let search = t - 1 + k * s.resp;
    let n2 = n * n; // patch kernels
    let corr = (search - k) / 2 + 1; // stride-2 correlation
    let taps = k / 2 + 1; // aggregation kernel side
    let c2 = corr
        .checked_sub(taps - 1)
        .filter(|&v| v >= 2)
        .ok_or_else(|| Error::param("PatchNet shape: the search region is too small"))?;
    let p2 = c2 / 2;
    let c3 = p2
        .checked_sub(taps - 1)
        .filter(|&v| v >= 2)
        .ok_or_else(|| Error::param("PatchNet shape: the search region is too small"))?;
    let p3 = c3 / 2;
    let c4 = p3
        .checked_sub(taps - 1)
        .filter(|&v| v >= 1)
        .ok_or_else(|| Error::param("PatchNet shape: the search region is too small"))?;
    let (g2, g3) = (n2 / 4, n2 / 16); // channels after each 4-to-1 aggregation
    let log = t.trailing_zeros() as usize;
    let pool = |name: &str, ch: usize, hw: usize| Stage {
        name: name.into(),
        output: format!("{ch}×{hw}×{hw}"),
        // 3 ops per pooled input element (2×2 window) of the score and its 4 offsets.
        ops: (3 * 4 * 5 * ch * hw * hw) as u64,
    };
    Ok(vec![
        conv("patch correlation", n2, corr, c, k),
        Stage { name: "FFT term".into(), output: "—".into(), ops: (2 * c * t * t * log * log) as u64 },
        conv("conv2", g2, c2, 4, taps),
        pool("soft-select pool 2", g2, p2),
        conv("conv3", g3, c3, g2, taps),
        conv("conv3reg", g2, c3, n2, taps),
        pool("soft-select pool 3", g3, p3),
        conv("conv4", 1, c4, g3, taps),
        conv("conv4reg", 4, c4, g2, taps),
    ])
}

/// How key frames are chosen.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "policy", rename_all = "snake_case")]
pub enum KeyFrames {
    /// The detector every `interval` frames, PatchNet on each tracked object in between.
    Fixed { interval: usize },
    /// A new key frame when the tracking confidence falls below `threshold`, or after `max_interval` frames.
    Adaptive { threshold: f64, max_interval: usize },
}

/// Average operations per frame of detector + PatchNet: `(F_det + (T − 1) · n_obj · F_patchnet) / T` for a
/// key frame every T frames; with an adaptive policy T is the mean run length the confidences give.
pub fn ops_per_frame(detector_ops: f64, patchnet_ops: f64, objects: f64, interval: f64) -> Result<f64> {
    if !(interval >= 1.0 && interval.is_finite()) {
        return Err(Error::param("interval must be ≥ 1"));
    }
    ops_at_key_fraction(detector_ops, patchnet_ops, objects, 1.0 / interval)
}

/// The same cost written with the fraction of frames that are key frames (`1 / T`), which is what a run of
/// an adaptive policy measures: `k · F_det + (1 − k) · n_obj · F_patchnet`.
pub fn ops_at_key_fraction(detector_ops: f64, patchnet_ops: f64, objects: f64, key_fraction: f64) -> Result<f64> {
    if !(0.0..=1.0).contains(&key_fraction) || detector_ops < 0.0 || patchnet_ops < 0.0 || objects < 0.0 {
        return Err(Error::param(
            "the key fraction must be in [0, 1] and the operation counts and objects non-negative",
        ));
    }
    Ok(key_fraction * detector_ops + (1.0 - key_fraction) * objects * patchnet_ops)
}

/// The policies lowbit compares by default (CLI, job and page alike): a key frame every 1, 2, 3, 4, 6, 8
/// and 12 frames, and adaptive with the official interval cap of 6 — with the labels they are shown under.
pub fn standard_policies() -> Vec<(String, KeyFrames)> {
    let mut out: Vec<(String, KeyFrames)> =
        [1, 2, 3, 4, 6, 8, 12].iter().map(|&t| (format!("every {t}"), KeyFrames::Fixed { interval: t })).collect();
    out.push(("adaptive (conf < 0.8, ≤ 6)".into(), KeyFrames::Adaptive { threshold: 0.8, max_interval: 6 }));
    out
}

/// Operations of the detector PatchNet's paper pairs it with on key frames (R-FCN ResNet-101, as reported).
pub const DETECTOR_OPS_REPORTED: f64 = 60e9;

impl KeyFrames {
    /// Whether frame `frame` is a key frame, `since` frames after the last one, when PatchNet's tracking
    /// confidence in it is `confidence` (read only by the adaptive policy).
    pub fn is_key(&self, frame: usize, since: usize, confidence: impl FnOnce() -> f64) -> Result<bool> {
        match *self {
            KeyFrames::Fixed { interval } => {
                if interval == 0 {
                    return Err(Error::param("the key-frame interval must be at least 1"));
                }
                Ok(frame.is_multiple_of(interval))
            }
            KeyFrames::Adaptive { threshold, max_interval } => {
                if max_interval == 0 || !(0.0..=1.0).contains(&threshold) {
                    return Err(Error::param(
                        "adaptive key frames need a threshold in [0, 1] and a maximum interval ≥ 1",
                    ));
                }
                Ok(frame == 0 || since + 1 >= max_interval || confidence() < threshold)
            }
        }
    }
}

/// Which frames are key frames under `policy`, given PatchNet's tracking confidence in each frame since
/// the last key frame (`confidence(frame, frames_since_key)`).
pub fn key_frames(
    frames: usize,
    policy: KeyFrames,
    mut confidence: impl FnMut(usize, usize) -> f64,
) -> Result<Vec<bool>> {
    let mut out = vec![false; frames];
    let mut since = 0usize;
    for (f, key) in out.iter_mut().enumerate() {
        let is_key = policy.is_key(f, since, || confidence(f, since + 1))?;
        since = if is_key { 0 } else { since + 1 };
        *key = is_key;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_counted_model_is_57_672_404_operations() {
        let t = ops(&PatchNetShape::default()).unwrap();
        let want = [38_535_168u64, 884_736, 4_326_400, 648_960, 774_400, 12_390_400, 29_040, 4_900, 78_400];
        assert_eq!(t.iter().map(|s| s.ops).collect::<Vec<_>>(), want);
        assert_eq!(t.iter().map(|s| s.ops).sum::<u64>(), 57_672_404);
        assert_eq!(t[0].output, "64×56×56");
        assert_eq!(t[7].output, "1×7×7");
    }

    #[test]
    fn policies() {
        // F_det = 100, PatchNet 1 per object, 2 objects, interval 6: (100 + 5·2) / 6.
        assert!((ops_per_frame(100.0, 1.0, 2.0, 6.0).unwrap() - 110.0 / 6.0).abs() < 1e-12);
        assert_eq!(ops_per_frame(100.0, 1.0, 2.0, 1.0).unwrap(), 100.0);
        assert!(ops_per_frame(1.0, 1.0, 1.0, 0.5).is_err());
        // The key-fraction form is the same cost.
        assert!((ops_at_key_fraction(100.0, 1.0, 2.0, 1.0 / 6.0).unwrap() - 110.0 / 6.0).abs() < 1e-12);
        assert!(ops_at_key_fraction(100.0, 1.0, 2.0, 1.5).is_err());
        let fixed = key_frames(13, KeyFrames::Fixed { interval: 6 }, |_, _| 1.0).unwrap();
        assert_eq!(fixed.iter().filter(|k| **k).count(), 3);
        // Confidence falls 0.1 per frame after a key frame: below 0.8 at the 3rd frame → a key every 3.
        let adaptive =
            key_frames(12, KeyFrames::Adaptive { threshold: 0.8, max_interval: 6 }, |_, s| 1.0 - 0.1 * s as f64)
                .unwrap();
        let keys: Vec<usize> = (0..12).filter(|&f| adaptive[f]).collect();
        assert_eq!(keys, vec![0, 3, 6, 9]);
        let capped = key_frames(13, KeyFrames::Adaptive { threshold: 0.0, max_interval: 4 }, |_, _| 1.0).unwrap();
        assert_eq!((0..13).filter(|&f| capped[f]).collect::<Vec<_>>(), vec![0, 4, 8, 12]);
        assert!(key_frames(3, KeyFrames::Fixed { interval: 0 }, |_, _| 1.0).is_err());
        assert!(ops(&PatchNetShape { patch: 6, ..Default::default() }).is_err());
    }
}
