//! PatchNet's template matching run on pixels (§10.1), on synthetic video whose frames lowbit renders —
//! moving MNIST digits over a textured background, the ground truth known exactly — so tracking quality
//! between key frames is measured, not assumed.
//!
//! What runs is the part that needs no training: the template (64×64, K = 8, N = 8) cut into 64 patches of
//! 8×8, each correlated with the 119×119 search region at stride 2 and normalised by the local energy
//! (`resp · 1e-2 / sqrt(E + std(E)/10 + 1e-9)`), and the structurally initialised aggregation — every
//! patch's response summed at its displacement in the template. Differences from the trained network,
//! stated: one grey channel; patches are made zero-mean instead of the learned per-frequency filter; the
//! aggregation is rigid (the learned soft max-pool temperature and the box-edge regression are left out,
//! so boxes move but keep their size). Confidence is the paper's "peak" mode: values below 0.75 · max are
//! dropped and the largest peak is divided by the sum of the local peaks.

use super::patchnet::KeyFrames;
use super::{BBox, GtBox, MOT_CLASS};
use crate::error::{Error, Result};
use crate::sample::Sampler;

/// A grey frame, values in [0, 1], row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub width: usize,
    pub height: usize,
    pub px: Vec<f32>,
}

impl Frame {
    /// Bilinear sample at (x, y) in pixel centres; outside the frame the nearest edge.
    fn at(&self, x: f32, y: f32) -> f32 {
        let x = x.clamp(0.0, (self.width - 1) as f32);
        let y = y.clamp(0.0, (self.height - 1) as f32);
        let (x0, y0) = (x.floor() as usize, y.floor() as usize);
        let (x1, y1) = ((x0 + 1).min(self.width - 1), (y0 + 1).min(self.height - 1));
        let (fx, fy) = (x - x0 as f32, y - y0 as f32);
        let p = |x: usize, y: usize| self.px[y * self.width + x];
        (p(x0, y0) * (1.0 - fx) + p(x1, y0) * fx) * (1.0 - fy) + (p(x0, y1) * (1.0 - fx) + p(x1, y1) * fx) * fy
    }
    /// The square region of side `side` centred at (cx, cy), resampled to `n`×`n`.
    fn crop(&self, cx: f32, cy: f32, side: f32, n: usize) -> Vec<f32> {
        let step = side / n as f32;
        let x0 = cx - side / 2.0 + step / 2.0;
        let y0 = cy - side / 2.0 + step / 2.0;
        (0..n * n).map(|k| self.at(x0 + (k % n) as f32 * step, y0 + (k / n) as f32 * step)).collect()
    }
}

/// A rendered video and its exact ground truth.
#[derive(Debug, Clone)]
pub struct SyntheticVideo {
    pub frames: Vec<Frame>,
    pub gt: Vec<GtBox>,
}

/// Renders `objects` digits (28×28 images, values 0–255, drawn ×2) moving at constant velocity and
/// bouncing off the walls over a smooth random texture, `frames` frames of `size`×`size`.
pub fn moving_digits(digits: &[&[u8]], frames: usize, size: usize, seed: u64) -> Result<SyntheticVideo> {
    if digits.is_empty() || digits.iter().any(|d| d.len() != 28 * 28) {
        return Err(Error::param("give one or more 28×28 digit images"));
    }
    if !(64..=1024).contains(&size) || frames == 0 || frames > 10_000 {
        return Err(Error::param("frames must be 1 to 10000 and the frame size 64 to 1024 pixels"));
    }
    let mut s = Sampler::new(seed);
    // Texture: random values on an 8-pixel grid, bilinear in between, contrast 0.35.
    let g = size / 8 + 2;
    let coarse: Vec<f32> = (0..g * g).map(|_| 0.35 * s.uniform() as f32).collect();
    let grid = Frame { width: g, height: g, px: coarse };
    let bg: Vec<f32> = (0..size * size).map(|k| grid.at((k % size) as f32 / 8.0, (k / size) as f32 / 8.0)).collect();
    let side = 56.0f64;
    let span = size as f64 - side;
    let mut state: Vec<[f64; 4]> = digits
        .iter()
        .map(|_| {
            let a = s.uniform() * std::f64::consts::TAU;
            let v = 1.0 + 2.0 * s.uniform();
            [s.uniform() * span, s.uniform() * span, v * a.cos(), v * a.sin()]
        })
        .collect();
    let mut out = SyntheticVideo { frames: Vec::with_capacity(frames), gt: Vec::new() };
    for f in 0..frames {
        let mut px = bg.clone();
        for (k, (d, st)) in digits.iter().zip(&state).enumerate() {
            let (ox, oy) = (st[0].round() as usize, st[1].round() as usize);
            for y in 0..56 {
                for x in 0..56 {
                    let v = d[(y / 2) * 28 + x / 2] as f32 / 255.0;
                    let p = &mut px[(oy + y) * size + ox + x];
                    *p = p.max(v);
                }
            }
            out.gt.push(GtBox {
                frame: f as i64,
                track: k as i64,
                class: MOT_CLASS.into(),
                bbox: BBox::from_ltwh(ox as f64, oy as f64, side, side),
            });
        }
        out.frames.push(Frame { width: size, height: size, px });
        for st in &mut state {
            for (p, v) in [(0, 2), (1, 3)] {
                st[p] += st[v];
                if st[p] < 0.0 || st[p] > span {
                    st[v] = -st[v];
                    st[p] = st[p].clamp(0.0, span);
                }
            }
        }
    }
    Ok(out)
}

const K: usize = 8;
const N: usize = 8;
const T: usize = K * N; // template side, 64
const S: usize = T - 1 + K * 7; // search side, 119
const R: usize = (S - K) / 2 + 1; // response side at stride 2, 56
const U: usize = R - (N - 1) * K / 2; // placements of the whole template, 28

/// One match: where the template is now (its centre, in frame pixels) and how sure the match is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Match {
    pub cx: f64,
    pub cy: f64,
    pub confidence: f64,
}

/// Matches the template of `key` at `key_box` in `frame` around `centre`: the template's new centre.
pub fn track(key: &Frame, key_box: &BBox, frame: &Frame, centre: (f64, f64)) -> Match {
    let side = key_box.width().max(key_box.height()).max(8.0) as f32;
    let (kx, ky) = ((key_box.x1 + key_box.x2) as f32 / 2.0, (key_box.y1 + key_box.y2) as f32 / 2.0);
    let z = key.crop(kx, ky, side, T);
    let scale = side / T as f32;
    let x = frame.crop(centre.0 as f32, centre.1 as f32, S as f32 * scale, S);
    // Local energy of every 8×8 window at stride 2, and its spread.
    let mut energy = vec![0.0f32; R * R];
    for v in 0..R {
        for u in 0..R {
            let mut e = 0.0;
            for dy in 0..K {
                let row = &x[(2 * v + dy) * S + 2 * u..][..K];
                e += row.iter().map(|p| p * p).sum::<f32>();
            }
            energy[v * R + u] = e;
        }
    }
    let mean = energy.iter().sum::<f32>() / energy.len() as f32;
    let std = (energy.iter().map(|e| (e - mean) * (e - mean)).sum::<f32>() / energy.len() as f32).sqrt();
    let norm: Vec<f32> = energy.iter().map(|e| 1e-2 / (e + std / 10.0 + 1e-9).sqrt()).collect();
    // Each patch's normalised response, summed at its displacement (4 response cells per 8 pixels).
    let mut score = vec![0.0f32; U * U];
    let mut resp = vec![0.0f32; R * R];
    for pj in 0..N {
        for pi in 0..N {
            let mut patch = [0.0f32; K * K];
            for dy in 0..K {
                patch[dy * K..][..K].copy_from_slice(&z[(pj * K + dy) * T + pi * K..][..K]);
            }
            let m = patch.iter().sum::<f32>() / (K * K) as f32;
            patch.iter_mut().for_each(|p| *p -= m);
            for v in 0..R {
                for u in 0..R {
                    let mut acc = 0.0;
                    for dy in 0..K {
                        let row = &x[(2 * v + dy) * S + 2 * u..][..K];
                        acc += row.iter().zip(&patch[dy * K..][..K]).map(|(a, b)| a * b).sum::<f32>();
                    }
                    resp[v * R + u] = acc * norm[v * R + u];
                }
            }
            for b in 0..U {
                for a in 0..U {
                    score[b * U + a] += resp[(b + pj * K / 2) * R + a + pi * K / 2];
                }
            }
        }
    }
    let (best, &max) = score.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).expect("a score map");
    let (a, b) = ((best % U) as f32, (best / U) as f32);
    // Template top-left at (2a, 2b) in the search crop; its centre relative to the crop's centre, in frame px.
    let dx = (2.0 * a + T as f32 / 2.0 - S as f32 / 2.0) * scale;
    let dy = (2.0 * b + T as f32 / 2.0 - S as f32 / 2.0) * scale;
    Match { cx: centre.0 + dx as f64, cy: centre.1 + dy as f64, confidence: peak_confidence(&score, U, max) }
}

/// "Peak" confidence: drop values below 0.75 · max; the largest local peak over the sum of them all.
fn peak_confidence(score: &[f32], n: usize, max: f32) -> f64 {
    if max <= 0.0 {
        return 0.0;
    }
    let floor = 0.75 * max;
    let mut sum = 0.0f64;
    for y in 0..n {
        for x in 0..n {
            let v = score[y * n + x];
            if v < floor {
                continue;
            }
            let neighbours = (y.saturating_sub(1)..(y + 2).min(n))
                .flat_map(|yy| (x.saturating_sub(1)..(x + 2).min(n)).map(move |xx| (xx, yy)));
            if neighbours.filter(|&(xx, yy)| (xx, yy) != (x, y)).all(|(xx, yy)| score[yy * n + xx] <= v) {
                sum += v as f64;
            }
        }
    }
    max as f64 / sum.max(max as f64)
}

/// How a key-frame policy did on a rendered video.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PolicyResult {
    pub policy: KeyFrames,
    /// Fraction of frames that were key frames (the detector ran; here an oracle: the ground truth).
    pub key_fraction: f64,
    /// Mean IoU of the boxes with the ground truth over every object and frame.
    pub mean_iou: f64,
    /// Fraction of boxes with IoU > 0.5.
    pub success: f64,
    /// Mean IoU by frames since the last key frame (index 0: key frames).
    pub iou_by_age: Vec<f64>,
    /// Objects tracked between key frames (each costs one PatchNet run per frame).
    pub objects: usize,
}

impl PolicyResult {
    /// The system's average operations per frame: the detector on the key frames, PatchNet on every
    /// object in between ([`super::patchnet::ops_at_key_fraction`]).
    pub fn ops_per_frame(&self, detector_ops: f64, patchnet_ops: f64) -> Result<f64> {
        super::patchnet::ops_at_key_fraction(detector_ops, patchnet_ops, self.objects as f64, self.key_fraction)
    }
}

/// Tracks every object of `v` with key frames chosen by `policy` (on a key frame the detector — the ground
/// truth here — gives the boxes and a new template; in between each box follows its PatchNet match).
pub fn run_policy(v: &SyntheticVideo, policy: KeyFrames) -> Result<PolicyResult> {
    let objects = v.gt.iter().map(|g| g.track).max().map_or(0, |m| m as usize + 1);
    let frames = v.frames.len();
    let gt = |f: usize, k: usize| v.gt[f * objects + k].bbox;
    let mut boxes: Vec<BBox> = (0..objects).map(|k| gt(0, k)).collect();
    let mut key = 0usize;
    let mut since = 0usize;
    let mut conf = 1.0f64;
    let (mut iou_sum, mut ok, mut n, mut keys) = (0.0, 0usize, 0usize, 0usize);
    let mut by_age: Vec<(f64, usize)> = Vec::new();
    for f in 0..frames {
        // The adaptive policy reads the confidence of the last frame's matches.
        let is_key = policy.is_key(f, since, || conf)?;
        if is_key {
            key = f;
            since = 0;
            keys += 1;
            boxes = (0..objects).map(|k| gt(f, k)).collect();
            conf = 1.0;
        } else {
            since += 1;
            conf = 1.0;
            for (k, b) in boxes.iter_mut().enumerate() {
                let c = ((b.x1 + b.x2) / 2.0, (b.y1 + b.y2) / 2.0);
                let m = track(&v.frames[key], &gt(key, k), &v.frames[f], c);
                let (hw, hh) = (b.width() / 2.0, b.height() / 2.0);
                *b = BBox { x1: m.cx - hw, y1: m.cy - hh, x2: m.cx + hw, y2: m.cy + hh };
                conf = conf.min(m.confidence);
            }
        }
        if by_age.len() <= since {
            by_age.resize(since + 1, (0.0, 0));
        }
        for (k, b) in boxes.iter().enumerate() {
            let iou = b.iou(&gt(f, k));
            iou_sum += iou;
            ok += usize::from(iou > 0.5);
            n += 1;
            by_age[since].0 += iou;
            by_age[since].1 += 1;
        }
    }
    Ok(PolicyResult {
        policy,
        key_fraction: keys as f64 / frames as f64,
        mean_iou: iou_sum / n as f64,
        success: ok as f64 / n as f64,
        iou_by_age: by_age.iter().map(|(s, c)| s / (*c).max(1) as f64).collect(),
        objects,
    })
}
