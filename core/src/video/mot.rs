//! CLEAR MOT and identity metrics of a tracker's output, computed as motmetrics 1.4.0 computes them (its
//! `compare_to_groundtruth(gt, hyp, "iou", distth=0.5)` and MOTChallenge metric set), so DATA.md's reference
//! values for the TUD sequences are oracles.
//!
//! Per frame, with distance 1 − IoU and pairs farther than 0.5 forbidden: a ground-truth object keeps the
//! hypothesis it was last matched to when that pair is still allowed; the remaining pairs are assigned at
//! least total distance ([`super::assign`]); an object matched to a hypothesis other than its last is an
//! identity switch; unmatched objects are misses, unmatched hypotheses false positives. Identity measures
//! assign ground-truth ids to hypothesis ids once for the whole sequence, maximising the frames in which
//! the pair overlaps (IoU ≥ 0.5).

use super::assign::assign;
use super::{Detection, GtBox};
use crate::error::{Error, Result};
use std::collections::{BTreeMap, HashMap};

/// What `lowbit video mot` reports.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MotReport {
    /// 1 − (misses + false positives + switches) / objects.
    pub mota: f64,
    /// Mean distance (1 − IoU) of the matched pairs: lower is better (motmetrics' convention).
    pub motp: f64,
    pub idf1: f64,
    pub idp: f64,
    pub idr: f64,
    pub recall: f64,
    pub precision: f64,
    pub fp: usize,
    #[serde(rename = "fn")]
    pub fn_: usize,
    pub id_switches: usize,
    pub num_objects: usize,
    pub num_predictions: usize,
    pub num_matches: usize,
    pub num_unique_objects: usize,
    /// Ground-truth tracks matched in ≥ 80 % / 20–80 % / < 20 % of their frames.
    pub mostly_tracked: usize,
    pub partially_tracked: usize,
    pub mostly_lost: usize,
    pub frames: usize,
}

/// The metrics of `hyp` (a tracker's boxes with ids) against `gt`.
pub fn mot_metrics(gt: &[GtBox], hyp: &[Detection]) -> Result<MotReport> {
    if gt.is_empty() {
        return Err(Error::param("the ground truth holds no box"));
    }
    if let Some(h) = hyp.iter().find(|h| h.id.is_none()) {
        return Err(Error::param(format!(
            "a box in frame {} has no track id (MOT metrics need a tracker's output)",
            h.frame
        )));
    }
    let mut frames: BTreeMap<i64, (Vec<&GtBox>, Vec<&Detection>)> = BTreeMap::new();
    for g in gt {
        frames.entry(g.frame).or_default().0.push(g);
    }
    for h in hyp {
        frames.entry(h.frame).or_default().1.push(h);
    }
    let mut last: HashMap<i64, i64> = HashMap::new(); // object → hypothesis it was last matched to
    let (mut fp, mut misses, mut switches, mut matches) = (0usize, 0usize, 0usize, 0usize);
    let mut dist_sum = 0.0;
    let mut overlaps: HashMap<(i64, i64), usize> = HashMap::new(); // (object, hypothesis) → frames with IoU ≥ 0.5
    let mut obj_frames: HashMap<i64, usize> = HashMap::new();
    let mut hyp_frames: HashMap<i64, usize> = HashMap::new();
    let mut matched_frames: HashMap<i64, usize> = HashMap::new();
    for (os, hs) in frames.values() {
        let (no, nh) = (os.len(), hs.len());
        let dist: Vec<Option<f64>> = os
            .iter()
            .flat_map(|o| hs.iter().map(move |h| Some(1.0 - o.bbox.iou(&h.bbox)).filter(|d| *d <= 0.5)))
            .collect();
        for (i, o) in os.iter().enumerate() {
            *obj_frames.entry(o.track).or_default() += 1;
            for (j, h) in hs.iter().enumerate() {
                if dist[i * nh + j].is_some() {
                    *overlaps.entry((o.track, h.id.unwrap_or(-1))).or_default() += 1;
                }
            }
        }
        for h in hs {
            *hyp_frames.entry(h.id.unwrap_or(-1)).or_default() += 1;
        }
        let mut o_used = vec![false; no];
        let mut h_used = vec![false; nh];
        let mut matched = |i: usize, j: usize, d: f64, o_used: &mut Vec<bool>, h_used: &mut Vec<bool>| {
            o_used[i] = true;
            h_used[j] = true;
            matches += 1;
            dist_sum += d;
            *matched_frames.entry(os[i].track).or_default() += 1;
        };
        // 1. Established pairs carry over.
        for i in 0..no {
            let Some(&hprev) = last.get(&os[i].track) else { continue };
            if let Some(j) = (0..nh).find(|&j| !h_used[j] && hs[j].id == Some(hprev))
                && let Some(d) = dist[i * nh + j]
            {
                matched(i, j, d, &mut o_used, &mut h_used);
            }
        }
        // 2. The rest by least total distance.
        let masked: Vec<Option<f64>> =
            (0..no * nh).map(|k| if o_used[k / nh] || h_used[k % nh] { None } else { dist[k] }).collect();
        for (i, j) in assign(&masked, no, nh) {
            let (o, h) = (os[i].track, hs[j].id.unwrap_or(-1));
            if last.get(&o).is_some_and(|&p| p != h) {
                switches += 1;
            }
            matched(i, j, masked[i * nh + j].unwrap_or(0.0), &mut o_used, &mut h_used);
            last.insert(o, h);
        }
        misses += o_used.iter().filter(|u| !**u).count();
        fp += h_used.iter().filter(|u| !**u).count();
    }
    let num_objects = gt.len();
    let num_predictions = hyp.len();
    let idtp = id_true_positives(&obj_frames, &hyp_frames, &overlaps) as f64;
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    let (mut mt, mut pt, mut ml) = (0, 0, 0);
    for (o, &n) in &obj_frames {
        let r = matched_frames.get(o).copied().unwrap_or(0) as f64 / n as f64;
        if r >= 0.8 {
            mt += 1;
        } else if r < 0.2 {
            ml += 1;
        } else {
            pt += 1;
        }
    }
    Ok(MotReport {
        mota: 1.0 - (misses + fp + switches) as f64 / num_objects as f64,
        motp: ratio(dist_sum, matches as f64),
        idf1: ratio(2.0 * idtp, (num_objects + num_predictions) as f64),
        idp: ratio(idtp, num_predictions as f64),
        idr: ratio(idtp, num_objects as f64),
        recall: ratio(matches as f64, num_objects as f64),
        precision: ratio(matches as f64, (matches + fp) as f64),
        fp,
        fn_: misses,
        id_switches: switches,
        num_objects,
        num_predictions,
        num_matches: matches,
        num_unique_objects: obj_frames.len(),
        mostly_tracked: mt,
        partially_tracked: pt,
        mostly_lost: ml,
        frames: frames.len(),
    })
}

/// The identity true positives of the best one-to-one pairing of object ids with hypothesis ids (the
/// frames each pair overlaps, summed; maximised by assigning at least total negated overlap).
fn id_true_positives(
    objs: &HashMap<i64, usize>,
    hyps: &HashMap<i64, usize>,
    overlaps: &HashMap<(i64, i64), usize>,
) -> usize {
    let mut oids: Vec<i64> = objs.keys().copied().collect();
    let mut hids: Vec<i64> = hyps.keys().copied().collect();
    oids.sort_unstable();
    hids.sort_unstable();
    let cost: Vec<Option<f64>> = oids
        .iter()
        .flat_map(|o| hids.iter().map(move |h| Some(-(overlaps.get(&(*o, *h)).copied().unwrap_or(0) as f64))))
        .collect();
    // Every pair is allowed (a pair that never overlaps adds nothing), so the least cost is the most overlap.
    assign(&cost, oids.len(), hids.len())
        .iter()
        .map(|&(i, j)| overlaps.get(&(oids[i], hids[j])).copied().unwrap_or(0))
        .sum()
}
