//! A **synthetic** detector built on the ground truth, for when no detector can be run: seeded, every
//! behaviour a parameter — recall that ramps up over the frames after an object appears, score
//! distributions of true and false positives, false positives per frame, localisation noise. Whatever it
//! produces is labelled synthetic where it is shown. With it a user can show AP and AD disagreeing: two
//! detectors with the same AP and a different delay.

use super::{BBox, Detection, GtBox};
use crate::error::{Error, Result};
use crate::sample::Sampler;
use std::collections::{BTreeMap, HashMap};

/// The detector's behaviour.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SynthDetector {
    /// Probability of detecting an object in the frame it appears…
    pub recall_start: f64,
    /// …rising linearly to this after `ramp_frames` frames.
    pub recall_full: f64,
    pub ramp_frames: f64,
    /// Scores of true detections: N(mean, std) clamped to [0, 1].
    pub tp_score_mean: f64,
    pub tp_score_std: f64,
    /// False positives per frame (Poisson), scores N(mean, std) clamped to [0, 1].
    pub fp_per_frame: f64,
    pub fp_score_mean: f64,
    pub fp_score_std: f64,
    /// Box edges move by N(0, noise × the box's width or height).
    pub loc_noise: f64,
    pub seed: u64,
}

impl Default for SynthDetector {
    fn default() -> Self {
        Self {
            recall_start: 0.9,
            recall_full: 0.9,
            ramp_frames: 0.0,
            tp_score_mean: 0.8,
            tp_score_std: 0.1,
            fp_per_frame: 0.5,
            fp_score_mean: 0.3,
            fp_score_std: 0.15,
            loc_noise: 0.05,
            seed: 0,
        }
    }
}

impl SynthDetector {
    pub fn validate(&self) -> Result<()> {
        let prob = |v: f64, n: &str| {
            if (0.0..=1.0).contains(&v) { Ok(()) } else { Err(Error::param(format!("{n} {v} is outside [0, 1]"))) }
        };
        prob(self.recall_start, "recall_start")?;
        prob(self.recall_full, "recall_full")?;
        prob(self.tp_score_mean, "tp_score_mean")?;
        prob(self.fp_score_mean, "fp_score_mean")?;
        for (v, n) in [
            (self.ramp_frames, "ramp_frames"),
            (self.tp_score_std, "tp_score_std"),
            (self.fp_score_std, "fp_score_std"),
            (self.loc_noise, "loc_noise"),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::param(format!("{n} {v} must be a non-negative number")));
            }
        }
        if !(self.fp_per_frame.is_finite() && (0.0..=1000.0).contains(&self.fp_per_frame)) {
            return Err(Error::param(format!("fp_per_frame {} must be 0 to 1000", self.fp_per_frame)));
        }
        Ok(())
    }

    /// The probability of detecting an object `age` frames after it appeared.
    pub fn recall_at(&self, age: f64) -> f64 {
        let t = if self.ramp_frames > 0.0 { (age / self.ramp_frames).min(1.0) } else { 1.0 };
        self.recall_start + (self.recall_full - self.recall_start) * t
    }

    /// Detections on `gt`, in frame order (ids −1: a detector, not a tracker).
    pub fn run(&self, gt: &[GtBox]) -> Result<Vec<Detection>> {
        self.validate()?;
        if gt.is_empty() {
            return Err(Error::param("the ground truth holds no box"));
        }
        let mut s = Sampler::new(self.seed);
        let clamp01 = |v: f64| v.clamp(0.0, 1.0);
        let mut first: HashMap<i64, i64> = HashMap::new();
        let mut frames: BTreeMap<i64, Vec<&GtBox>> = BTreeMap::new();
        for g in gt {
            let f = first.entry(g.track).or_insert(g.frame);
            *f = (*f).min(g.frame);
            frames.entry(g.frame).or_default().push(g);
        }
        // False positives land inside the area the objects cover, with their typical size.
        let (lo_x, lo_y, hi_x, hi_y) = gt.iter().fold((f64::MAX, f64::MAX, f64::MIN, f64::MIN), |a, g| {
            (a.0.min(g.bbox.x1), a.1.min(g.bbox.y1), a.2.max(g.bbox.x2), a.3.max(g.bbox.y2))
        });
        let mean_w = gt.iter().map(|g| g.bbox.width()).sum::<f64>() / gt.len() as f64;
        let mean_h = gt.iter().map(|g| g.bbox.height()).sum::<f64>() / gt.len() as f64;
        let (f_lo, f_hi) = (*frames.keys().next().unwrap_or(&0), *frames.keys().last().unwrap_or(&0));
        let mut out = Vec::new();
        for frame in f_lo..=f_hi {
            for g in frames.get(&frame).into_iter().flatten() {
                let age = (frame - first[&g.track]) as f64;
                if s.uniform() < self.recall_at(age) {
                    let (w, h) = (g.bbox.width(), g.bbox.height());
                    let mut n = |scale: f64| s.gaussian() * self.loc_noise * scale;
                    let b =
                        BBox { x1: g.bbox.x1 + n(w), y1: g.bbox.y1 + n(h), x2: g.bbox.x2 + n(w), y2: g.bbox.y2 + n(h) };
                    let b = BBox { x2: b.x2.max(b.x1 + 1.0), y2: b.y2.max(b.y1 + 1.0), ..b };
                    let score = clamp01(self.tp_score_mean + self.tp_score_std * s.gaussian());
                    out.push(Detection { frame, class: g.class.clone(), score: Some(score), bbox: b, id: None });
                }
            }
            for _ in 0..poisson(&mut s, self.fp_per_frame) {
                let x = lo_x + s.uniform() * (hi_x - lo_x - mean_w).max(0.0);
                let y = lo_y + s.uniform() * (hi_y - lo_y - mean_h).max(0.0);
                let class =
                    frames.values().next().and_then(|v| v.first()).map_or_else(String::new, |g| g.class.clone());
                let score = clamp01(self.fp_score_mean + self.fp_score_std * s.gaussian());
                out.push(Detection {
                    frame,
                    class,
                    score: Some(score),
                    bbox: BBox::from_ltwh(x, y, mean_w, mean_h),
                    id: None,
                });
            }
        }
        Ok(out)
    }
}

/// A Poisson variate (Knuth's product of uniforms; rates here are small).
fn poisson(s: &mut Sampler, rate: f64) -> usize {
    if rate <= 0.0 {
        return 0;
    }
    let limit = (-rate).exp();
    let mut k = 0;
    let mut p = s.uniform();
    while p > limit && k < 10_000 {
        k += 1;
        p *= s.uniform();
    }
    k
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::video::MOT_CLASS;

    fn tracks() -> Vec<GtBox> {
        (0..200)
            .flat_map(|f| {
                (0..4).filter(move |t| f >= t * 40 && f < t * 40 + 90).map(move |t| GtBox {
                    frame: f,
                    track: t,
                    class: MOT_CLASS.into(),
                    bbox: BBox::from_ltwh(t as f64 * 150.0, 50.0, 60.0, 120.0),
                })
            })
            .collect()
    }

    #[test]
    fn seeded_and_as_asked() {
        let gt = tracks();
        let d = SynthDetector { seed: 3, ..Default::default() };
        assert_eq!(d.run(&gt).unwrap(), d.run(&gt).unwrap(), "same seed, same detections");
        assert_ne!(d.run(&gt).unwrap(), SynthDetector { seed: 4, ..d.clone() }.run(&gt).unwrap());
        let none = SynthDetector { recall_start: 0.0, recall_full: 0.0, fp_per_frame: 0.0, ..d.clone() };
        assert!(none.run(&gt).unwrap().is_empty());
        let all = SynthDetector { recall_start: 1.0, recall_full: 1.0, fp_per_frame: 0.0, ..d.clone() };
        assert_eq!(all.run(&gt).unwrap().len(), gt.len());
        assert_eq!(SynthDetector { ramp_frames: 10.0, recall_start: 0.0, recall_full: 1.0, ..d }.recall_at(5.0), 0.5);
        // Poisson false positives: 200 frames at 2 per frame ≈ 400.
        let fp = SynthDetector { recall_start: 0.0, recall_full: 0.0, fp_per_frame: 2.0, ..Default::default() };
        let n = fp.run(&gt).unwrap().len();
        assert!((340..460).contains(&n), "{n}");
    }

    #[test]
    fn absurd_parameters_are_refused() {
        let gt = tracks();
        for bad in [
            SynthDetector { recall_full: 1.5, ..Default::default() },
            SynthDetector { fp_per_frame: -1.0, ..Default::default() },
            SynthDetector { loc_noise: f64::NAN, ..Default::default() },
            SynthDetector { fp_per_frame: 1e9, ..Default::default() },
        ] {
            assert!(bad.run(&gt).is_err(), "{bad:?}");
        }
        assert!(SynthDetector::default().run(&[]).is_err());
    }
}
