//! The CaTDet cascade (ALGORITHMS.md §8), simulated: a cheap **proposal** detector on every full frame, a
//! SORT-like **tracker** (a constant-velocity Kalman filter per track on the box centre and size, IoU
//! association by [`super::assign`], tracks kept alive for a few missed frames), and the expensive
//! **refinement** detector run only on the regions of interest — the union of the kept proposals and the
//! tracker's predictions, each enlarged by a margin. Operations per frame follow §8.1:
//! `ops_proposal + ops_refine × (union area of the enlarged regions / frame area) + ops_head × regions`
//! (overlaps counted once), against the refinement detector on every full frame.
//!
//! No detector network runs here: both detectors are [`SynthDetector`]s on the ground truth (labelled
//! **synthetic** wherever shown). The refinement detector on a region finds what it would find on the full
//! frame inside that region: its detections whose centre lies in a region are kept, the others are lost.

use super::assign::assign;
use super::delay::{DelayOptions, DelayReport, average_delay, mean_delay_at_precision};
use super::synth::SynthDetector;
use super::{BBox, Detection, GtBox, Video};
use crate::error::{Error, Result};
use std::collections::BTreeMap;

/// A result the CaTDet paper reports (§8.3), shown beside the simulator's: lowbit does not run the paper's
/// networks, so these are quoted, never computed.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Reported {
    pub dataset: &'static str,
    /// Fewer operations than the single-model Faster R-CNN on every full frame (low, high).
    pub ops_reduction: (f64, f64),
    /// What it cost in accuracy and delay.
    pub at: &'static str,
}

impl Reported {
    /// In words: `KITTI: 5.1–8.7× fewer operations, same mAP, +0.3 frame mean delay`.
    pub fn describe(&self) -> String {
        let (lo, hi) = self.ops_reduction;
        let x = if lo == hi { format!("{lo}×") } else { format!("{lo}–{hi}×") };
        format!("{}: {x} fewer operations, {}", self.dataset, self.at)
    }
}

/// The paper's headline results, as reported.
pub const REPORTED: [Reported; 2] = [
    Reported { dataset: "KITTI", ops_reduction: (5.1, 8.7), at: "same mAP, +0.3 frame mean delay" },
    Reported { dataset: "CityPersons", ops_reduction: (13.0, 13.0), at: "0.8 % mAP loss" },
];

/// Everything a CaTDet run is set by.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CatdetConfig {
    pub proposal: SynthDetector,
    pub refinement: SynthDetector,
    /// Proposals with a score ≥ this become regions (low: high recall).
    pub proposal_threshold: f64,
    /// Refinement detections with a score ≥ this start or update tracks.
    pub track_threshold: f64,
    /// Each region grows by this fraction of its width and height on every side.
    pub margin: f64,
    /// A track survives this many frames without a matching detection.
    pub keep_alive: usize,
    /// Least IoU of a detection with a track's prediction to update it.
    pub iou_min: f64,
    /// Operations of the proposal network on a full frame, of the refinement backbone on a full frame, and
    /// of the refinement head per region (illustrative defaults; set the networks you compare).
    pub ops_proposal: f64,
    pub ops_refine: f64,
    pub ops_head: f64,
    /// The frame's size in pixels (0: the extent of the ground truth).
    pub frame_width: f64,
    pub frame_height: f64,
}

impl Default for CatdetConfig {
    fn default() -> Self {
        Self {
            proposal: SynthDetector {
                recall_start: 0.7,
                recall_full: 0.8,
                ramp_frames: 5.0,
                tp_score_mean: 0.5,
                tp_score_std: 0.2,
                fp_per_frame: 3.0,
                fp_score_mean: 0.2,
                fp_score_std: 0.15,
                loc_noise: 0.1,
                seed: 1,
            },
            refinement: SynthDetector {
                recall_start: 0.9,
                recall_full: 0.95,
                ramp_frames: 2.0,
                seed: 2,
                ..Default::default()
            },
            proposal_threshold: 0.2,
            track_threshold: 0.5,
            margin: 0.1,
            keep_alive: 3,
            iou_min: 0.3,
            ops_proposal: 2.0e9,
            ops_refine: 60.0e9,
            ops_head: 0.5e9,
            frame_width: 0.0,
            frame_height: 0.0,
        }
    }
}

impl CatdetConfig {
    pub fn validate(&self) -> Result<()> {
        self.proposal.validate().map_err(|e| e.context("proposal"))?;
        self.refinement.validate().map_err(|e| e.context("refinement"))?;
        for (v, n) in [
            (self.proposal_threshold, "proposal_threshold"),
            (self.track_threshold, "track_threshold"),
            (self.iou_min, "iou_min"),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(Error::param(format!("{n} {v} is outside [0, 1]")));
            }
        }
        if !(0.0..=10.0).contains(&self.margin) {
            return Err(Error::param(format!("margin {} must be 0 to 10 (a fraction of the box)", self.margin)));
        }
        if self.keep_alive > 10_000 {
            return Err(Error::param("keep_alive is at most 10000 frames"));
        }
        for (v, n) in [
            (self.ops_proposal, "ops_proposal"),
            (self.ops_refine, "ops_refine"),
            (self.ops_head, "ops_head"),
            (self.frame_width, "frame_width"),
            (self.frame_height, "frame_height"),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::param(format!("{n} {v} must be a non-negative number")));
            }
        }
        if self.ops_refine == 0.0 {
            return Err(Error::param("ops_refine must be positive (it is what the cascade saves)"));
        }
        Ok(())
    }
}

/// A constant-velocity Kalman filter on one coordinate: state (position, velocity), unit time step.
#[derive(Debug, Clone, Copy)]
struct Kf1 {
    x: [f64; 2],
    p: [[f64; 2]; 2],
}

impl Kf1 {
    /// Process noise q (acceleration) and measurement noise r, relative to the object's size.
    fn new(z: f64, r: f64) -> Self {
        Self { x: [z, 0.0], p: [[r, 0.0], [0.0, 10.0 * r]] }
    }
    fn predict(&mut self, q: f64) {
        let [x, v] = self.x;
        self.x = [x + v, v];
        let p = self.p;
        // P = F P Fᵀ + Q with F = [[1, 1], [0, 1]], Q = q · [[1/4, 1/2], [1/2, 1]].
        let p00 = p[0][0] + p[0][1] + p[1][0] + p[1][1] + q / 4.0;
        let p01 = p[0][1] + p[1][1] + q / 2.0;
        let p11 = p[1][1] + q;
        self.p = [[p00, p01], [p01, p11]];
    }
    fn update(&mut self, z: f64, r: f64) {
        let s = self.p[0][0] + r;
        let k = [self.p[0][0] / s, self.p[1][0] / s];
        let y = z - self.x[0];
        self.x = [self.x[0] + k[0] * y, self.x[1] + k[1] * y];
        let p = self.p;
        self.p =
            [[(1.0 - k[0]) * p[0][0], (1.0 - k[0]) * p[0][1]], [p[1][0] - k[1] * p[0][0], p[1][1] - k[1] * p[0][1]]];
    }
}

/// A track: Kalman filters on centre x, centre y, width, height.
#[derive(Debug, Clone)]
struct Track {
    kf: [Kf1; 4],
    missed: usize,
}

impl Track {
    fn noise(b: &BBox) -> (f64, f64) {
        let s = (b.width() + b.height()) / 2.0;
        (0.01 * s * s, 0.0025 * s * s + 1.0)
    }
    fn new(b: &BBox) -> Self {
        let (_, r) = Self::noise(b);
        let z = Self::z(b);
        Self { kf: z.map(|v| Kf1::new(v, r)), missed: 0 }
    }
    fn z(b: &BBox) -> [f64; 4] {
        [(b.x1 + b.x2) / 2.0, (b.y1 + b.y2) / 2.0, b.width(), b.height()]
    }
    fn bbox(&self) -> BBox {
        let [cx, cy, w, h] = self.kf.map(|k| k.x[0]);
        let (w, h) = (w.max(1.0), h.max(1.0));
        BBox { x1: cx - w / 2.0, y1: cy - h / 2.0, x2: cx + w / 2.0, y2: cy + h / 2.0 }
    }
    fn predict(&mut self) {
        let (q, _) = Self::noise(&self.bbox());
        self.kf.iter_mut().for_each(|k| k.predict(q));
    }
    fn update(&mut self, b: &BBox) {
        let (_, r) = Self::noise(b);
        for (k, z) in self.kf.iter_mut().zip(Self::z(b)) {
            k.update(z, r);
        }
        self.missed = 0;
    }
}

/// Area of the union of rectangles (coordinate compression; the few regions of a frame make it cheap).
pub fn union_area(rects: &[BBox]) -> f64 {
    let mut xs: Vec<f64> = rects.iter().flat_map(|r| [r.x1, r.x2]).collect();
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    let mut area = 0.0;
    for w in xs.windows(2) {
        let mut ys: Vec<(f64, f64)> =
            rects.iter().filter(|r| r.x1 <= w[0] && r.x2 >= w[1] && r.y2 > r.y1).map(|r| (r.y1, r.y2)).collect();
        ys.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (mut covered, mut end) = (0.0, f64::NEG_INFINITY);
        for (a, b) in ys {
            if b > end {
                covered += b - a.max(end);
                end = b;
            }
        }
        area += covered * (w[1] - w[0]);
    }
    area
}

/// One frame of the run, for the page's timeline.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CatdetFrame {
    pub frame: i64,
    pub regions: usize,
    /// Union area of the regions over the frame's area.
    pub coverage: f64,
    pub ops: f64,
}

/// What a CaTDet run gives.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CatdetReport {
    /// AP, Average Delay and the delay points of the cascade's final detections.
    pub cascade: DelayReport,
    /// The same of the refinement detector on every full frame (the single-model baseline).
    pub baseline: DelayReport,
    /// Mean delay at 0.8 precision (CaTDet's mD), cascade and baseline (`None`: never reached).
    pub mean_delay_cascade: Option<f64>,
    pub mean_delay_baseline: Option<f64>,
    pub ops_per_frame: f64,
    pub baseline_ops_per_frame: f64,
    /// Baseline ops / cascade ops.
    pub ops_reduction: f64,
    pub mean_regions: f64,
    pub mean_coverage: f64,
    pub frames: Vec<CatdetFrame>,
    /// Both detectors are synthetic models of the ground truth.
    pub synthetic: bool,
}

fn grow(b: &BBox, m: f64, w: f64, h: f64) -> BBox {
    let (dx, dy) = (b.width() * m, b.height() * m);
    BBox { x1: (b.x1 - dx).max(0.0), y1: (b.y1 - dy).max(0.0), x2: (b.x2 + dx).min(w), y2: (b.y2 + dy).min(h) }
}

fn inside(b: &BBox, regions: &[BBox]) -> bool {
    let (cx, cy) = ((b.x1 + b.x2) / 2.0, (b.y1 + b.y2) / 2.0);
    regions.iter().any(|r| cx >= r.x1 && cx <= r.x2 && cy >= r.y1 && cy <= r.y2)
}

/// Runs the cascade on one video's ground truth.
pub fn simulate(gt: &[GtBox], c: &CatdetConfig) -> Result<CatdetReport> {
    c.validate()?;
    if gt.is_empty() {
        return Err(Error::param("the ground truth holds no box"));
    }
    let (w, h) = if c.frame_width > 0.0 && c.frame_height > 0.0 {
        (c.frame_width, c.frame_height)
    } else {
        gt.iter().fold((1.0f64, 1.0f64), |a, g| (a.0.max(g.bbox.x2), a.1.max(g.bbox.y2)))
    };
    let by_frame = |dets: Vec<Detection>| {
        let mut m: BTreeMap<i64, Vec<Detection>> = BTreeMap::new();
        for d in dets {
            m.entry(d.frame).or_default().push(d);
        }
        m
    };
    let full = c.refinement.run(gt)?;
    let proposals = by_frame(c.proposal.run(gt)?);
    let refined = by_frame(full.clone());
    let (f_lo, f_hi) = (gt.iter().map(|g| g.frame).min().unwrap_or(0), gt.iter().map(|g| g.frame).max().unwrap_or(0));
    let mut tracks: Vec<Track> = Vec::new();
    let mut out: Vec<Detection> = Vec::new();
    let mut frames = Vec::new();
    for frame in f_lo..=f_hi {
        tracks.iter_mut().for_each(Track::predict);
        let mut regions: Vec<BBox> = proposals
            .get(&frame)
            .into_iter()
            .flatten()
            .filter(|d| d.score.unwrap_or(0.0) >= c.proposal_threshold)
            .map(|d| d.bbox)
            .chain(tracks.iter().map(Track::bbox))
            .map(|b| grow(&b, c.margin, w, h))
            .filter(|b| b.area() > 0.0)
            .collect();
        regions.dedup();
        let coverage = (union_area(&regions) / (w * h)).min(1.0);
        let ops = c.ops_proposal + c.ops_refine * coverage + c.ops_head * regions.len() as f64;
        frames.push(CatdetFrame { frame, regions: regions.len(), coverage, ops });
        let found: Vec<Detection> =
            refined.get(&frame).into_iter().flatten().filter(|d| inside(&d.bbox, &regions)).cloned().collect();
        // Feedback: confident final detections update the tracks (SORT association) or start new ones.
        let confident: Vec<&Detection> = found.iter().filter(|d| d.score.unwrap_or(0.0) >= c.track_threshold).collect();
        let cost: Vec<Option<f64>> = tracks
            .iter()
            .flat_map(|t| {
                let p = t.bbox();
                confident.iter().map(move |d| Some(1.0 - p.iou(&d.bbox)).filter(|v| *v <= 1.0 - c.iou_min))
            })
            .collect();
        let pairs = assign(&cost, tracks.len(), confident.len());
        let mut used = vec![false; confident.len()];
        let mut hit = vec![false; tracks.len()];
        for (ti, di) in pairs {
            tracks[ti].update(&confident[di].bbox);
            used[di] = true;
            hit[ti] = true;
        }
        for (t, h) in tracks.iter_mut().zip(&hit) {
            if !h {
                t.missed += 1;
            }
        }
        tracks.retain(|t| t.missed <= c.keep_alive);
        tracks.extend(confident.iter().zip(&used).filter(|(_, u)| !**u).map(|(d, _)| Track::new(&d.bbox)));
        out.extend(found);
    }
    let video = |dets: Vec<Detection>| Video { name: "catdet".into(), gt: gt.to_vec(), dets };
    let o = DelayOptions { fix_last_frame: true, ..Default::default() };
    let (cv, bv) = (video(out), video(full));
    let cascade = average_delay(std::slice::from_ref(&cv), &o)?;
    let baseline = average_delay(std::slice::from_ref(&bv), &o)?;
    let md = |v: &Video| mean_delay_at_precision(std::slice::from_ref(v), 0.8, true).map(|r| r.map(|m| m.1));
    let n = frames.len().max(1) as f64;
    let ops_per_frame = frames.iter().map(|f| f.ops).sum::<f64>() / n;
    let baseline_ops_per_frame = c.ops_refine + c.ops_head;
    Ok(CatdetReport {
        mean_delay_cascade: md(&cv)?,
        mean_delay_baseline: md(&bv)?,
        cascade,
        baseline,
        ops_per_frame,
        baseline_ops_per_frame,
        ops_reduction: baseline_ops_per_frame / ops_per_frame,
        mean_regions: frames.iter().map(|f| f.regions as f64).sum::<f64>() / n,
        mean_coverage: frames.iter().map(|f| f.coverage).sum::<f64>() / n,
        frames,
        synthetic: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::video::MOT_CLASS;

    #[test]
    fn union_area_counts_overlaps_once() {
        let a = BBox::from_ltwh(0.0, 0.0, 10.0, 10.0);
        let b = BBox::from_ltwh(5.0, 5.0, 10.0, 10.0);
        assert_eq!(union_area(&[a, b]), 175.0);
        assert_eq!(union_area(&[a, a]), 100.0);
        assert_eq!(union_area(&[]), 0.0);
        // Against a pixel count on a grid.
        let mut s = crate::sample::Sampler::new(3);
        let rs: Vec<BBox> = (0..6)
            .map(|_| {
                BBox::from_ltwh(
                    (s.uniform() * 40.0).floor(),
                    (s.uniform() * 40.0).floor(),
                    (1.0 + s.uniform() * 30.0).floor(),
                    (1.0 + s.uniform() * 30.0).floor(),
                )
            })
            .collect();
        let px = (0..80)
            .flat_map(|x| (0..80).map(move |y| (x as f64 + 0.5, y as f64 + 0.5)))
            .filter(|&(x, y)| rs.iter().any(|r| x > r.x1 && x < r.x2 && y > r.y1 && y < r.y2))
            .count();
        assert_eq!(union_area(&rs), px as f64);
    }

    #[test]
    fn a_kalman_track_follows_constant_velocity() {
        let mut t = Track::new(&BBox::from_ltwh(0.0, 0.0, 20.0, 40.0));
        for k in 1..30 {
            t.predict();
            t.update(&BBox::from_ltwh(3.0 * k as f64, 0.0, 20.0, 40.0));
        }
        t.predict();
        let p = t.bbox();
        assert!((p.x1 - 90.0).abs() < 1.0, "predicted {p:?}");
    }

    #[test]
    fn the_cascade_saves_operations_and_costs_little_delay() {
        // Three people walking across a 640×480 frame for 100 frames.
        let gt: Vec<GtBox> = (0..100)
            .flat_map(|f| {
                (0..3).filter(move |k| f >= k * 20).map(move |k| GtBox {
                    frame: f,
                    track: k,
                    class: MOT_CLASS.into(),
                    bbox: BBox::from_ltwh(
                        20.0 + 4.0 * (f - k * 20) as f64 + 100.0 * k as f64,
                        100.0 + 60.0 * k as f64,
                        40.0,
                        100.0,
                    ),
                })
            })
            .filter(|g| g.bbox.x2 < 640.0)
            .collect();
        let c = CatdetConfig { frame_width: 640.0, frame_height: 480.0, ..Default::default() };
        let r = simulate(&gt, &c).unwrap();
        assert!(r.ops_reduction > 2.0, "{}", r.ops_reduction);
        assert!(r.mean_coverage < 0.5);
        assert!(r.cascade.ap50 > 0.6 * r.baseline.ap50, "{} vs {}", r.cascade.ap50, r.baseline.ap50);
        // With no proposals and no tracks nothing is refined: the cascade finds nothing.
        let blind = CatdetConfig {
            proposal_threshold: 1.0,
            proposal: SynthDetector { recall_start: 0.0, recall_full: 0.0, fp_per_frame: 0.0, ..c.proposal.clone() },
            ..c.clone()
        };
        let r = simulate(&gt, &blind).unwrap();
        assert_eq!((r.cascade.ap50, r.mean_regions), (0.0, 0.0));
        assert!(simulate(&gt, &CatdetConfig { margin: -1.0, ..c.clone() }).is_err());
        assert!(simulate(&gt, &CatdetConfig { ops_refine: 0.0, ..c }).is_err());
    }
}
