//! `lowbit video …`: Average Delay and AP of detections (`metrics`), CLEAR MOT and identity metrics of a
//! tracker's output (`mot`), a seeded synthetic detector (`synth`, MOTChallenge CSV out) and PatchNet's
//! operation count and key-frame cost (`patchnet`). The numbers are core's (`lowbit_core::video`).

use super::json::print;
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use lowbit_core::video::Video;
use lowbit_core::video::catdet::{CatdetConfig, REPORTED, simulate};
use lowbit_core::video::delay::DelayOptions;
use lowbit_core::video::files::{Parsed, Role, parse, write_mot};
use lowbit_core::video::mot::mot_metrics;
use lowbit_core::video::patchnet::{self, PatchNetShape, standard_policies};
use lowbit_core::video::synth::SynthDetector;
use serde_json::json;
use std::path::{Path, PathBuf};

#[derive(Subcommand, Debug)]
pub enum VideoCommand {
    /// AP at IoU 0.5 and Average Delay of detections against ground truth (several pairs pool as videos).
    Metrics(MetricsArgs),
    /// MOTA, MOTP, IDF1, false positives, misses and identity switches of a tracker's output.
    Mot(MotArgs),
    /// Synthetic (seeded) detections on a ground truth, as MOTChallenge CSV.
    Synth(SynthArgs),
    /// The CaTDet cascade on a ground truth (synthetic detectors): AP, delay and operations per frame;
    /// comma lists sweep every combination.
    Catdet(CatdetArgs),
    /// PatchNet's operation count (`--ops`) and the average operations per frame of a key-frame policy.
    Patchnet(PatchnetArgs),
}

#[derive(Args, Debug)]
pub struct MetricsArgs {
    /// Ground truth (MOTChallenge CSV or KITTI labels); repeat with --det for more videos.
    #[arg(long, required = true)]
    pub gt: Vec<PathBuf>,
    /// Scored detections (MOTChallenge CSV with conf as the score, or `frame class score x1 y1 x2 y2`).
    #[arg(long, required = true)]
    pub det: Vec<PathBuf>,
    /// FP ratios (false positives per ground-truth box) at which delays are taken.
    #[arg(long, value_delimiter = ',', default_value = "0.1,0.2,0.4,0.8,1.6,3.2")]
    pub fp_ratios: Vec<f64>,
    /// Delays are clipped at this many frames.
    #[arg(long, default_value_t = 30.0)]
    pub clip: f64,
    /// Scan the last frame too (the official code never does).
    #[arg(long)]
    pub fix_last_frame: bool,
    /// Also the mean delay (unclipped) at this target precision (CaTDet's mD).
    #[arg(long)]
    pub precision: Option<f64>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct MotArgs {
    #[arg(long)]
    pub gt: PathBuf,
    /// The tracker's output (MOTChallenge CSV with track ids).
    #[arg(long)]
    pub hyp: PathBuf,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct SynthArgs {
    #[arg(long)]
    pub gt: PathBuf,
    /// Write here instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[arg(long, default_value_t = 0.9)]
    pub recall_start: f64,
    #[arg(long, default_value_t = 0.9)]
    pub recall_full: f64,
    /// Frames over which recall rises from --recall-start to --recall-full after an object appears.
    #[arg(long, default_value_t = 0.0)]
    pub ramp_frames: f64,
    #[arg(long, default_value_t = 0.8)]
    pub tp_score_mean: f64,
    #[arg(long, default_value_t = 0.1)]
    pub tp_score_std: f64,
    /// False positives per frame (Poisson).
    #[arg(long, default_value_t = 0.5)]
    pub fp_per_frame: f64,
    #[arg(long, default_value_t = 0.3)]
    pub fp_score_mean: f64,
    #[arg(long, default_value_t = 0.15)]
    pub fp_score_std: f64,
    /// Box edges move by N(0, this × the box's width or height).
    #[arg(long, default_value_t = 0.05)]
    pub loc_noise: f64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

#[derive(Args, Debug)]
pub struct CatdetArgs {
    #[arg(long)]
    pub gt: PathBuf,
    /// Proposal score thresholds (a comma list sweeps them).
    #[arg(long, value_delimiter = ',', default_value = "0.2")]
    pub proposal_threshold: Vec<f64>,
    /// Region margins, a fraction of the box on every side.
    #[arg(long, value_delimiter = ',', default_value = "0.1")]
    pub margin: Vec<f64>,
    /// Frames a track survives without a detection.
    #[arg(long, value_delimiter = ',', default_value = "3")]
    pub keep_alive: Vec<usize>,
    /// The rest of the configuration as JSON (`lowbit_core::video::catdet::CatdetConfig`: detectors, network
    /// operation counts, frame size).
    #[arg(long)]
    pub config: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct PatchnetArgs {
    /// Print the operation table of PatchNetG.
    #[arg(long)]
    pub ops: bool,
    #[arg(long, default_value_t = 8)]
    pub patch: usize,
    #[arg(long, default_value_t = 8)]
    pub patches: usize,
    #[arg(long, default_value_t = 7)]
    pub resp: usize,
    /// Operations of the detector run on key frames (default: R-FCN ResNet-101's, as reported: 60 G).
    #[arg(long, default_value_t = 60e9)]
    pub detector_ops: f64,
    /// Objects tracked between key frames.
    #[arg(long, default_value_t = 5.0)]
    pub objects: f64,
    /// Key-frame interval (the official default is 6).
    #[arg(long, default_value_t = 6.0)]
    pub interval: f64,
    /// Also run PatchNet's template matching on rendered video (moving MNIST digits; MNIST from
    /// scripts/fetch-data.sh) and report tracking accuracy for key frames every 1…12 frames and adaptive.
    #[arg(long)]
    pub track: bool,
    /// Rendered frames, objects (digits) and seed for --track.
    #[arg(long, default_value_t = 60)]
    pub frames: usize,
    #[arg(long, default_value_t = 3)]
    pub digits: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Folder with mnist/ (default: data/ or $LOWBIT_DATA).
    #[arg(long)]
    pub data: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

pub fn run(c: &VideoCommand) -> Result<()> {
    match c {
        VideoCommand::Metrics(a) => metrics(a),
        VideoCommand::Mot(a) => mot(a),
        VideoCommand::Synth(a) => synth(a),
        VideoCommand::Catdet(a) => catdet(a),
        VideoCommand::Patchnet(a) => patchnet_cmd(a),
    }
}

fn read(path: &Path, role: Role) -> Result<Parsed> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(parse(&text, &path.display().to_string(), role)?)
}

fn metrics(a: &MetricsArgs) -> Result<()> {
    if a.gt.len() != a.det.len() {
        bail!("give one --det for every --gt ({} --gt, {} --det)", a.gt.len(), a.det.len());
    }
    let videos: Vec<Video> =
        a.gt.iter()
            .zip(&a.det)
            .map(|(g, d)| {
                Ok(Video {
                    name: g.display().to_string(),
                    gt: read(g, Role::GroundTruth)?.gt,
                    dets: read(d, Role::Detections)?.dets,
                })
            })
            .collect::<Result<_>>()?;
    let o = DelayOptions { fp_ratios: a.fp_ratios.clone(), clip: a.clip, fix_last_frame: a.fix_last_frame };
    let t0 = std::time::Instant::now();
    let v = crate::video::delay_report(&videos, &o, a.precision)?;
    let elapsed_ms = t0.elapsed().as_secs_f64() * 1e3;
    if a.json {
        let mut v = v;
        v["elapsed_ms"] = json!(elapsed_ms);
        print(&v);
        return Ok(());
    }
    let r: lowbit_core::video::delay::DelayReport = serde_json::from_value(v.clone())?;
    outln!(
        "{} video(s) · {} tracks · {} ground-truth boxes · {} detections",
        videos.len(),
        r.n_tracks,
        r.n_gt_boxes,
        r.n_detections
    );
    outln!("AP50 {:.4} · Average Delay {:.3} frames", r.ap50, r.average_delay);
    outln!("{:>9} {:>11} {:>11}", "FP ratio", "threshold", "mean delay");
    for p in &r.delays {
        outln!("{:>9} {:>11.4} {:>11.3}", p.fp_ratio, p.score_threshold, p.mean_delay);
    }
    for (name, s) in
        [("small", &r.small), ("medium", &r.medium), ("large", &r.large), ("non-first-frame", &r.non_first_frame)]
    {
        let ad = s.average_delay.map_or("—".to_string(), |v| format!("{v:.3}"));
        outln!("AD {name}: {ad} ({} tracks)", s.n_tracks);
    }
    if let Some(md) = v.get("mean_delay_at_precision") {
        let p = &md["precision"];
        match (md["score_threshold"].as_f64(), md["mean_delay"].as_f64()) {
            (Some(th), Some(d)) => outln!("mean delay at precision {p}: {d:.3} frames (score ≥ {th:.4})"),
            _ => outln!("mean delay at precision {p}: no threshold reaches it"),
        }
    }
    Ok(())
}

fn mot(a: &MotArgs) -> Result<()> {
    let gt = read(&a.gt, Role::GroundTruth)?.gt;
    let hyp = read(&a.hyp, Role::Tracks)?.dets;
    let r = mot_metrics(&gt, &hyp)?;
    if a.json {
        print(&serde_json::to_value(&r)?);
        return Ok(());
    }
    outln!(
        "{} frames · {} objects ({} boxes) · {} hypothesis boxes",
        r.frames,
        r.num_unique_objects,
        r.num_objects,
        r.num_predictions
    );
    outln!(
        "MOTA {:.1} % · MOTP {:.3} (1 − IoU) · IDF1 {:.1} % · FP {} · FN {} · ID switches {} · MT/PT/ML {}/{}/{}",
        100.0 * r.mota,
        r.motp,
        100.0 * r.idf1,
        r.fp,
        r.fn_,
        r.id_switches,
        r.mostly_tracked,
        r.partially_tracked,
        r.mostly_lost
    );
    Ok(())
}

fn synth(a: &SynthArgs) -> Result<()> {
    let gt = read(&a.gt, Role::GroundTruth)?.gt;
    let d = SynthDetector {
        recall_start: a.recall_start,
        recall_full: a.recall_full,
        ramp_frames: a.ramp_frames,
        tp_score_mean: a.tp_score_mean,
        tp_score_std: a.tp_score_std,
        fp_per_frame: a.fp_per_frame,
        fp_score_mean: a.fp_score_mean,
        fp_score_std: a.fp_score_std,
        loc_noise: a.loc_noise,
        seed: a.seed,
    };
    let dets = d.run(&gt)?;
    let text = write_mot(&dets);
    match &a.out {
        Some(p) => {
            std::fs::write(p, text).with_context(|| format!("cannot write {}", p.display()))?;
            eprintln!("{} synthetic detections written to {}", dets.len(), p.display());
        }
        None => outln!("{}", text.trim_end()),
    }
    Ok(())
}

fn catdet(a: &CatdetArgs) -> Result<()> {
    let gt = read(&a.gt, Role::GroundTruth)?.gt;
    let base: CatdetConfig = match &a.config {
        Some(j) => serde_json::from_str(j).context("--config is not a CaTDet configuration")?,
        None => CatdetConfig::default(),
    };
    let runs = a.proposal_threshold.len() * a.margin.len() * a.keep_alive.len();
    if runs > 10_000 {
        bail!("the sweep has {runs} settings; the limit is 10000");
    }
    let t0 = std::time::Instant::now();
    let mut rows = Vec::new();
    for &proposal_threshold in &a.proposal_threshold {
        for &margin in &a.margin {
            for &keep_alive in &a.keep_alive {
                let c = CatdetConfig { proposal_threshold, margin, keep_alive, ..base.clone() };
                let r = simulate(&gt, &c)?;
                rows.push(crate::video::catdet_row(proposal_threshold, margin, keep_alive, &r));
            }
        }
    }
    let elapsed_ms = t0.elapsed().as_secs_f64() * 1e3;
    if a.json {
        print(&json!({"synthetic": true, "runs": rows, "elapsed_ms": elapsed_ms,
            "reported": crate::video::catdet_reported()}));
        return Ok(());
    }
    outln!(
        "CaTDet on {} (synthetic proposal and refinement detectors) · {} setting(s) in {elapsed_ms:.0} ms",
        a.gt.display(),
        rows.len()
    );
    outln!("{:>9} {:>7} {:>5} {:>7} {:>8} {:>8} {:>8}", "proposal", "margin", "keep", "AP50", "AD", "ops ÷", "regions");
    for r in &rows {
        outln!(
            "{:>9} {:>7} {:>5} {:>7.4} {:>8.3} {:>8.2} {:>8.2}",
            r["proposal_threshold"],
            r["margin"],
            r["keep_alive"],
            r["ap50"].as_f64().unwrap_or(f64::NAN),
            r["average_delay"].as_f64().unwrap_or(f64::NAN),
            r["ops_reduction"].as_f64().unwrap_or(f64::NAN),
            r["mean_regions"].as_f64().unwrap_or(f64::NAN)
        );
    }
    if let Some(b) = rows.first() {
        outln!(
            "refinement detector on every full frame: AP50 {:.4} · AD {:.3}",
            b["baseline_ap50"].as_f64().unwrap_or(f64::NAN),
            b["baseline_average_delay"].as_f64().unwrap_or(f64::NAN)
        );
    }
    for r in REPORTED {
        let (lo, hi) = r.ops_reduction;
        let x = if lo == hi { format!("{lo}×") } else { format!("{lo}–{hi}×") };
        outln!(
            "as reported by the CaTDet paper (its networks, not simulated): {}: {x} fewer operations, {}",
            r.dataset,
            r.at
        );
    }
    Ok(())
}

/// Tracking accuracy and operations per frame of each key-frame policy on rendered moving digits.
fn track_policies(a: &PatchnetArgs, patchnet_ops: f64) -> Result<serde_json::Value> {
    let dir = a
        .data
        .clone()
        .or_else(|| std::env::var_os("LOWBIT_DATA").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("data"));
    let digits = crate::video::mnist_digits(&dir, a.digits).map_err(anyhow::Error::msg)?;
    let v = crate::video::render(&digits, a.frames, a.seed)?;
    let rows = standard_policies()
        .into_iter()
        .map(|(label, p)| crate::video::policy_row(&v, a.detector_ops, patchnet_ops, label, p))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(serde_json::Value::Array(rows))
}

fn patchnet_cmd(a: &PatchnetArgs) -> Result<()> {
    let shape = PatchNetShape { patch: a.patch, patches: a.patches, resp: a.resp, ..Default::default() };
    let stages = patchnet::ops(&shape)?;
    let total: u64 = stages.iter().map(|s| s.ops).sum();
    let per_frame = patchnet::ops_per_frame(a.detector_ops, total as f64, a.objects, a.interval)?;
    let tracking = if a.track { Some(track_policies(a, total as f64)?) } else { None };
    if a.json {
        print(&json!({"ops": total, "stages": stages, "shape": shape,
            "system": {"detector_ops": a.detector_ops, "objects": a.objects, "interval": a.interval,
                "ops_per_frame": per_frame, "reduction": a.detector_ops / per_frame},
            "tracking": tracking}));
        return Ok(());
    }
    if let Some(t) = &tracking {
        outln!(
            "PatchNet template matching on {} rendered frames, {} moving digits (key frames: ground truth as the detector)",
            a.frames,
            a.digits
        );
        outln!("{:<24} {:>8} {:>9} {:>8} {:>14}", "policy", "keys", "mean IoU", "IoU>0.5", "GOPs/frame");
        for r in t.as_array().into_iter().flatten() {
            outln!(
                "{:<24} {:>8.3} {:>9.3} {:>8.3} {:>14.2}",
                r["label"].as_str().unwrap_or(""),
                r["key_fraction"].as_f64().unwrap_or(f64::NAN),
                r["mean_iou"].as_f64().unwrap_or(f64::NAN),
                r["success"].as_f64().unwrap_or(f64::NAN),
                r["ops_per_frame"].as_f64().unwrap_or(f64::NAN) / 1e9
            );
        }
    }
    if a.ops {
        outln!("{:<22} {:>10} {:>12}", "stage", "output", "ops");
        for s in &stages {
            outln!("{:<22} {:>10} {:>12}", s.name, s.output, s.ops);
        }
        outln!("{:<22} {:>10} {:>12}", "total", "", total);
    }
    outln!(
        "key frame every {} frames, {} objects: {:.3e} ops per frame ({:.2}× fewer than the detector on every frame)",
        a.interval,
        a.objects,
        per_frame,
        a.detector_ops / per_frame
    );
    Ok(())
}
