//! Average Precision and **Average Delay** exactly as the official VMetrics code computes them
//! (ALGORITHMS.md §9.1), and the mean Delay at a target precision (§8.2).
//!
//! Several videos pool as the official code pools them: one FP-ratio curve over every detection of every
//! video. By default the code's quirks are kept, so its numbers are reproduced to the last digit: the
//! per-frame scan stops before the largest frame index found in the ground truth *or in any detection row,
//! whatever its score* (that frame is never scanned), and only tracks seen in a scanned frame are counted.
//! [`DelayOptions::fix_last_frame`] scans every frame instead.

use super::{BBox, Detection, GtBox, Video};
use crate::error::{Error, Result};
use std::collections::{BTreeMap, HashMap};

/// Settings of the delay computation (the official defaults).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct DelayOptions {
    /// False positives per ground-truth box at which thresholds are taken.
    pub fp_ratios: Vec<f64>,
    /// Delays are clipped at this many frames before averaging.
    pub clip: f64,
    /// Scan the last frame too (and count every track), fixing the official code's off-by-one.
    pub fix_last_frame: bool,
}

impl Default for DelayOptions {
    fn default() -> Self {
        Self { fp_ratios: vec![0.1, 0.2, 0.4, 0.8, 1.6, 3.2], clip: 30.0, fix_last_frame: false }
    }
}

impl DelayOptions {
    pub fn validate(&self) -> Result<()> {
        if self.fp_ratios.is_empty() || self.fp_ratios.iter().any(|r| !r.is_finite() || *r < 0.0) {
            return Err(Error::param("fp ratios must be one or more non-negative numbers"));
        }
        if !(self.clip.is_finite() && self.clip >= 0.0) {
            return Err(Error::param(format!("clip {} must be a non-negative number of frames", self.clip)));
        }
        Ok(())
    }
}

/// The delay at one FP ratio.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DelayPoint {
    pub fp_ratio: f64,
    /// Detections with a score ≥ this are kept (0 when the curve never exceeds the ratio).
    pub score_threshold: f64,
    /// Mean over tracks of the clipped delay, in frames.
    pub mean_delay: f64,
}

/// AD of a subset of the tracks (by size, or entering after the first frame).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SubsetDelay {
    pub n_tracks: usize,
    /// `None` when the subset is empty.
    pub average_delay: Option<f64>,
}

/// What `lowbit video metrics` reports.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DelayReport {
    /// VOC all-point AP at IoU 0.5, mean over classes, in [0, 1].
    pub ap50: f64,
    /// 1 / mean_r(1 / (D_r + 1)) − 1, in frames.
    pub average_delay: f64,
    pub delays: Vec<DelayPoint>,
    pub n_tracks: usize,
    pub n_gt_boxes: usize,
    pub n_detections: usize,
    /// Mean shorter side over a track's first 30 frames: < 40 px, 40–100 px, ≥ 100 px.
    pub small: SubsetDelay,
    pub medium: SubsetDelay,
    pub large: SubsetDelay,
    /// Tracks that appear after their video's first frame.
    pub non_first_frame: SubsetDelay,
}

/// Every detection of every video in descending score, with its TP/FP flag from greedy VOC matching per
/// (video, frame, class): the largest VOC IoU among that frame's boxes of the class, a true positive when
/// ≥ 0.5 and that box is not yet taken.
struct Ranked {
    /// (video, index into its detections, score, true positive)
    rows: Vec<(usize, usize, f64, bool)>,
    n_gt: usize,
}

fn scored(videos: &[Video]) -> Result<()> {
    for v in videos {
        if v.gt.is_empty() {
            return Err(Error::param(format!("{}: the ground truth holds no box", v.name)));
        }
        if let Some(d) = v.dets.iter().find(|d| d.score.is_none()) {
            return Err(Error::param(format!("{}: a detection in frame {} has no score", v.name, d.frame)));
        }
    }
    Ok(())
}

/// A video's ground-truth boxes by (frame, class): (index in the video's ground truth, box).
type FrameBoxes<'a> = HashMap<(i64, &'a str), Vec<(usize, &'a BBox)>>;

fn rank(videos: &[Video]) -> Ranked {
    let mut rows: Vec<(usize, usize, f64, bool)> = Vec::new();
    for (vi, v) in videos.iter().enumerate() {
        rows.extend(v.dets.iter().enumerate().map(|(di, d)| (vi, di, d.score.unwrap_or(0.0), false)));
    }
    // Stable: equal scores keep the files' order.
    rows.sort_by(|a, b| b.2.total_cmp(&a.2));
    let mut by_frame: Vec<FrameBoxes<'_>> = Vec::with_capacity(videos.len());
    for v in videos {
        let mut m: FrameBoxes<'_> = HashMap::new();
        for (gi, g) in v.gt.iter().enumerate() {
            m.entry((g.frame, g.class.as_str())).or_default().push((gi, &g.bbox));
        }
        by_frame.push(m);
    }
    let mut taken: Vec<Vec<bool>> = videos.iter().map(|v| vec![false; v.gt.len()]).collect();
    for row in &mut rows {
        let d = &videos[row.0].dets[row.1];
        let Some(boxes) = by_frame[row.0].get(&(d.frame, d.class.as_str())) else { continue };
        let best = boxes.iter().map(|&(gi, b)| (gi, d.bbox.iou_voc(b))).max_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((gi, iou)) = best
            && iou >= 0.5
            && !taken[row.0][gi]
        {
            taken[row.0][gi] = true;
            row.3 = true;
        }
    }
    Ranked { rows, n_gt: videos.iter().map(|v| v.gt.len()).sum() }
}

/// VOC all-point interpolated AP of one class's ranked TP flags.
fn voc_ap(tp: &[bool], n_gt: usize) -> f64 {
    if n_gt == 0 {
        return 0.0;
    }
    let (mut ctp, mut cfp) = (0.0, 0.0);
    let mut rec = vec![0.0];
    let mut prec = vec![0.0];
    for &t in tp {
        if t {
            ctp += 1.0
        } else {
            cfp += 1.0
        }
        rec.push(ctp / n_gt as f64);
        prec.push(ctp / (ctp + cfp));
    }
    rec.push(1.0);
    prec.push(0.0);
    for i in (0..prec.len() - 1).rev() {
        prec[i] = prec[i].max(prec[i + 1]);
    }
    (1..rec.len()).filter(|&i| rec[i] != rec[i - 1]).map(|i| (rec[i] - rec[i - 1]) * prec[i]).sum()
}

/// AP at IoU 0.5, mean over the classes of the ground truth.
fn ap50(videos: &[Video], r: &Ranked) -> f64 {
    let mut n_gt: BTreeMap<&str, usize> = BTreeMap::new();
    for g in videos.iter().flat_map(|v| &v.gt) {
        *n_gt.entry(g.class.as_str()).or_default() += 1;
    }
    let aps: Vec<f64> = n_gt
        .iter()
        .map(|(class, &n)| {
            let tp: Vec<bool> =
                r.rows.iter().filter(|row| videos[row.0].dets[row.1].class == *class).map(|row| row.3).collect();
            voc_ap(&tp, n)
        })
        .collect();
    aps.iter().sum::<f64>() / aps.len().max(1) as f64
}

/// One ground-truth track as the delay code sees it.
struct Track {
    video: usize,
    id: i64,
    first: i64,
    last: i64,
    /// Mean shorter side over its first 30 frames.
    size: f64,
    /// Appears after its video's first frame.
    enters_late: bool,
}

/// The frames the delay code scans in each video (all below the largest frame index of the ground truth
/// and of every detection row, unless fixed), and the tracks seen in them.
fn tracks(videos: &[Video], fix: bool) -> (Vec<i64>, Vec<Track>) {
    let mut limits = Vec::new();
    let mut out = Vec::new();
    for (vi, v) in videos.iter().enumerate() {
        let max_frame = v.gt.iter().map(|g| g.frame).chain(v.dets.iter().map(|d| d.frame)).max().unwrap_or(0);
        let limit = if fix { i64::MAX } else { max_frame };
        limits.push(limit);
        let first_video_frame = v.gt.iter().map(|g| g.frame).min().unwrap_or(0);
        let mut by_track: BTreeMap<i64, Vec<&GtBox>> = BTreeMap::new();
        for g in v.gt.iter().filter(|g| g.frame < limit) {
            by_track.entry(g.track).or_default().push(g);
        }
        for (id, mut boxes) in by_track {
            boxes.sort_by_key(|g| g.frame);
            let first30 = &boxes[..boxes.len().min(30)];
            let size = first30.iter().map(|g| g.bbox.width().min(g.bbox.height())).sum::<f64>() / first30.len() as f64;
            out.push(Track {
                video: vi,
                id,
                first: boxes[0].frame,
                last: boxes[boxes.len() - 1].frame,
                size,
                enters_late: boxes[0].frame > first_video_frame,
            });
        }
    }
    (limits, out)
}

/// For each track, the first frame a kept detection hits it: among the ground-truth boxes of the same class
/// in that frame, the track's box has the largest (continuous) IoU with the detection, and it is > 0.5.
fn first_hits(videos: &[Video], limits: &[i64], keep: impl Fn(&Detection) -> bool) -> HashMap<(usize, i64), i64> {
    let mut hits: HashMap<(usize, i64), i64> = HashMap::new();
    for (vi, v) in videos.iter().enumerate() {
        let mut by_frame: HashMap<(i64, &str), Vec<&GtBox>> = HashMap::new();
        for g in &v.gt {
            by_frame.entry((g.frame, g.class.as_str())).or_default().push(g);
        }
        for d in v.dets.iter().filter(|d| d.frame < limits[vi] && keep(d)) {
            let Some(boxes) = by_frame.get(&(d.frame, d.class.as_str())) else { continue };
            let best = boxes.iter().map(|g| (g.track, d.bbox.iou(&g.bbox))).max_by(|a, b| a.1.total_cmp(&b.1));
            if let Some((track, iou)) = best
                && iou > 0.5
            {
                let e = hits.entry((vi, track)).or_insert(d.frame);
                *e = (*e).min(d.frame);
            }
        }
    }
    hits
}

/// Each track's delay: first hit − first appearance, or last − first appearance when never hit.
fn delays(ts: &[Track], hits: &HashMap<(usize, i64), i64>) -> Vec<f64> {
    ts.iter()
        .map(|t| {
            let hit = hits.get(&(t.video, t.id)).copied().filter(|&f| f >= t.first);
            (hit.unwrap_or(t.last) - t.first) as f64
        })
        .collect()
}

/// The harmonic form: 1 / mean(1 / (D + 1)) − 1.
pub fn harmonic_ad(d: &[f64]) -> f64 {
    1.0 / (d.iter().map(|x| 1.0 / (x + 1.0)).sum::<f64>() / d.len() as f64) - 1.0
}

/// AP and AD of `videos` (pooled), as the official code computes them.
pub fn average_delay(videos: &[Video], o: &DelayOptions) -> Result<DelayReport> {
    o.validate()?;
    if videos.is_empty() {
        return Err(Error::param("no video to evaluate"));
    }
    scored(videos)?;
    let r = rank(videos);
    let (limits, ts) = tracks(videos, o.fix_last_frame);
    if ts.is_empty() {
        return Err(Error::param("no ground-truth track is seen in a scanned frame"));
    }
    // The FP ratio after each detection in ranked order.
    let mut fp = 0usize;
    let ratios: Vec<f64> = r
        .rows
        .iter()
        .map(|row| {
            fp += usize::from(!row.3);
            fp as f64 / r.n_gt as f64
        })
        .collect();
    // Per threshold: every track's clipped delay, kept for the subsets.
    let mut per_ratio: Vec<Vec<f64>> = Vec::new();
    let mut points = Vec::new();
    for &target in &o.fp_ratios {
        let threshold = ratios.iter().position(|&x| x > target).map_or(0.0, |j| r.rows[j].2);
        let hits = first_hits(videos, &limits, |d| d.score.unwrap_or(0.0) >= threshold);
        let ds: Vec<f64> = delays(&ts, &hits).into_iter().map(|d| d.min(o.clip)).collect();
        points.push(DelayPoint {
            fp_ratio: target,
            score_threshold: threshold,
            mean_delay: ds.iter().sum::<f64>() / ds.len() as f64,
        });
        per_ratio.push(ds);
    }
    let subset = |pick: &dyn Fn(&Track) -> bool| {
        let idx: Vec<usize> = (0..ts.len()).filter(|&i| pick(&ts[i])).collect();
        let average_delay = (!idx.is_empty()).then(|| {
            let means: Vec<f64> =
                per_ratio.iter().map(|ds| idx.iter().map(|&i| ds[i]).sum::<f64>() / idx.len() as f64).collect();
            harmonic_ad(&means)
        });
        SubsetDelay { n_tracks: idx.len(), average_delay }
    };
    let means: Vec<f64> = points.iter().map(|p| p.mean_delay).collect();
    Ok(DelayReport {
        ap50: ap50(videos, &r),
        average_delay: harmonic_ad(&means),
        delays: points,
        n_tracks: ts.len(),
        n_gt_boxes: r.n_gt,
        n_detections: r.rows.len(),
        small: subset(&|t| t.size < 40.0),
        medium: subset(&|t| (40.0..100.0).contains(&t.size)),
        large: subset(&|t| t.size >= 100.0),
        non_first_frame: subset(&|t| t.enters_late),
    })
}

/// One track's delay at one score threshold, for timelines.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrackDelay {
    pub video: usize,
    pub track: i64,
    pub first: i64,
    pub last: i64,
    /// The first frame a detection with score ≥ the threshold hits it.
    pub first_hit: Option<i64>,
}

/// Every track's first appearance, last appearance and first hit at `threshold` (the hit rule and the
/// scanned frames of [`average_delay`]).
pub fn track_delays(videos: &[Video], threshold: f64, fix_last_frame: bool) -> Vec<TrackDelay> {
    let (limits, ts) = tracks(videos, fix_last_frame);
    let hits = first_hits(videos, &limits, |d| d.score.unwrap_or(0.0) >= threshold);
    ts.iter()
        .map(|t| TrackDelay {
            video: t.video,
            track: t.id,
            first: t.first,
            last: t.last,
            first_hit: hits.get(&(t.video, t.id)).copied().filter(|&f| f >= t.first),
        })
        .collect()
}

/// Mean Delay at a target precision (CaTDet, §8.2): the lowest score threshold whose (all-class) precision
/// is still ≥ `precision`, then every track's unclipped delay averaged. `None` when no threshold reaches it.
pub fn mean_delay_at_precision(videos: &[Video], precision: f64, fix_last_frame: bool) -> Result<Option<(f64, f64)>> {
    if !(0.0..=1.0).contains(&precision) {
        return Err(Error::param(format!("target precision {precision} is outside [0, 1]")));
    }
    scored(videos)?;
    let r = rank(videos);
    let mut tp = 0usize;
    let mut threshold = None;
    for (k, row) in r.rows.iter().enumerate() {
        tp += usize::from(row.3);
        if tp as f64 / (k + 1) as f64 >= precision {
            threshold = Some(row.2);
        }
    }
    let Some(threshold) = threshold else { return Ok(None) };
    let (limits, ts) = tracks(videos, fix_last_frame);
    let hits = first_hits(videos, &limits, |d| d.score.unwrap_or(0.0) >= threshold);
    let ds = delays(&ts, &hits);
    Ok(Some((threshold, ds.iter().sum::<f64>() / ds.len().max(1) as f64)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::video::MOT_CLASS;

    fn gt(frame: i64, track: i64, x: f64) -> GtBox {
        GtBox { frame, track, class: MOT_CLASS.into(), bbox: BBox::from_ltwh(x, 0.0, 50.0, 100.0) }
    }
    fn det(frame: i64, x: f64, score: f64) -> Detection {
        Detection {
            frame,
            class: MOT_CLASS.into(),
            score: Some(score),
            bbox: BBox::from_ltwh(x, 0.0, 50.0, 100.0),
            id: None,
        }
    }
    fn fixed() -> DelayOptions {
        DelayOptions { fix_last_frame: true, ..Default::default() }
    }

    #[test]
    fn the_oracles_of_the_delay_paper() {
        // A track from frame 3 to 12, detected from frame 5: delay 2 at every threshold, so AD = 2.
        let v = Video {
            name: "a".into(),
            gt: (3..=12).map(|f| gt(f, 1, 0.0)).collect(),
            dets: (5..=12).map(|f| det(f, 0.0, 0.9)).collect(),
        };
        let r = average_delay(&[v], &fixed()).unwrap();
        assert!(r.delays.iter().all(|p| p.mean_delay == 2.0), "{:?}", r.delays);
        assert!((r.average_delay - 2.0).abs() < 1e-12);
        // An undetected 10-frame track: delay 9 (its last appearance − its first).
        let v =
            Video { name: "b".into(), gt: (0..10).map(|f| gt(f, 1, 0.0)).collect(), dets: vec![det(0, 500.0, 0.5)] };
        let r = average_delay(&[v], &fixed()).unwrap();
        assert!((r.average_delay - 9.0).abs() < 1e-12);
        // A perfect detector: AD 0, AP 1.
        let g: Vec<GtBox> = (0..20).flat_map(|f| [gt(f, 1, 0.0), gt(f, 2, 200.0)]).collect();
        let d: Vec<Detection> = g.iter().map(|g| det(g.frame, g.bbox.x1, 0.9)).collect();
        let r = average_delay(&[Video { name: "c".into(), gt: g, dets: d }], &fixed()).unwrap();
        assert_eq!((r.average_delay, r.ap50, r.n_tracks), (0.0, 1.0, 2));
    }

    #[test]
    fn ad_is_at_most_the_arithmetic_mean_and_delays_clip() {
        let d = [0.0, 3.0, 10.0, 30.0];
        assert!(harmonic_ad(&d) <= d.iter().sum::<f64>() / 4.0);
        assert!((harmonic_ad(&[4.0; 6]) - 4.0).abs() < 1e-12);
        // A 100-frame undetected track clips at 30, or at what the options say.
        let v = Video {
            name: "long".into(),
            gt: (0..100).map(|f| gt(f, 1, 0.0)).collect(),
            dets: vec![det(0, 900.0, 0.3)],
        };
        assert_eq!(average_delay(std::slice::from_ref(&v), &fixed()).unwrap().average_delay, 30.0);
        let o = DelayOptions { clip: 5.0, ..fixed() };
        assert_eq!(average_delay(&[v], &o).unwrap().average_delay, 5.0);
    }

    #[test]
    fn the_official_last_frame_quirk_and_its_fix() {
        // The track exists only in the last frame: the official scan never sees it.
        let v = Video {
            name: "q".into(),
            gt: vec![gt(0, 1, 0.0), gt(4, 2, 200.0)],
            dets: vec![det(0, 0.0, 0.9), det(4, 200.0, 0.9)],
        };
        let quirk = average_delay(std::slice::from_ref(&v), &DelayOptions::default()).unwrap();
        assert_eq!(quirk.n_tracks, 1);
        assert_eq!(average_delay(std::slice::from_ref(&v), &fixed()).unwrap().n_tracks, 2);
        // A detection row in a later frame, whatever its score, moves the limit: frame 4 is scanned then.
        let mut v2 = v.clone();
        v2.dets.push(det(7, 900.0, 0.0));
        assert_eq!(average_delay(&[v2], &DelayOptions::default()).unwrap().n_tracks, 2);
    }

    #[test]
    fn matching_rules() {
        // The FP curve uses VOC's +1-pixel IoU: two 10×10 boxes offset by 5 have IoU 50/150 continuous but
        // 6·11/(2·121 − 66) = 0.375 by VOC; boxes offset by 3 px: continuous 70/130 = 0.538 and VOC 88/154.
        let a = BBox::from_ltwh(0.0, 0.0, 10.0, 10.0);
        let b = BBox::from_ltwh(3.0, 0.0, 10.0, 10.0);
        assert!((a.iou(&b) - 70.0 / 130.0).abs() < 1e-12);
        assert!((a.iou_voc(&b) - 88.0 / 154.0).abs() < 1e-12);
        // The hit rule takes the largest-IoU box of the frame, with no one-to-one matching: one detection
        // between two overlapping tracks hits only the closer one, and two detections may hit one track.
        let g = vec![gt(0, 1, 0.0), gt(0, 2, 20.0), gt(1, 1, 0.0), gt(1, 2, 20.0), gt(2, 1, 0.0), gt(2, 2, 20.0)];
        let d = vec![det(0, 5.0, 0.9), det(0, 4.0, 0.8), det(1, 20.0, 0.9)];
        let r = average_delay(&[Video { name: "h".into(), gt: g, dets: d }], &fixed()).unwrap();
        // track 1 hit at 0, track 2 at 1: mean delay 0.5 at the loosest threshold.
        assert_eq!(r.delays.last().unwrap().mean_delay, 0.5);
        // Classes are separate: a car detection does not hit a person.
        let mut g = vec![gt(0, 1, 0.0), gt(1, 1, 0.0)];
        g[0].class = "person".into();
        g[1].class = "person".into();
        let mut d = vec![det(0, 0.0, 0.9), det(1, 0.0, 0.9)];
        d[0].class = "car".into();
        d[1].class = "person".into();
        let r = average_delay(&[Video { name: "c".into(), gt: g, dets: d }], &fixed()).unwrap();
        assert_eq!(r.delays[0].mean_delay, 1.0);
        assert!((r.ap50 - 0.5).abs() < 1e-12, "person AP: one TP after one FP-free miss… {}", r.ap50);
    }

    #[test]
    fn bad_settings_are_refused() {
        let v = Video { name: "v".into(), gt: vec![gt(0, 1, 0.0)], dets: vec![] };
        let o = DelayOptions { fp_ratios: vec![], ..Default::default() };
        assert!(average_delay(std::slice::from_ref(&v), &o).is_err());
        let o = DelayOptions { clip: f64::NAN, ..Default::default() };
        assert!(average_delay(std::slice::from_ref(&v), &o).is_err());
        assert!(average_delay(&[], &DelayOptions::default()).is_err());
        let empty = Video { name: "e".into(), ..Default::default() };
        assert!(average_delay(&[empty], &DelayOptions::default()).unwrap_err().to_string().contains("no box"));
        assert!(mean_delay_at_precision(&[v], 1.5, false).is_err());
    }
}
