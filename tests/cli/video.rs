//! `lowbit video …` on the real TUD sequences (motmetrics 1.4.0's data, DATA.md): MOT metrics equal
//! motmetrics' reference values, synthetic detectors pool across both videos into AP and Average Delay,
//! PatchNet's operation count is the official one, and bad files get errors naming file and line.

use crate::util::{data, lowbit, lowbit_json, path_str, temp_dir};

fn tud(seq: &str, file: &str) -> String {
    path_str(&data("tud", &format!("tud/{seq}/{file}"))).to_string()
}

#[test]
fn mot_metrics_of_the_tud_tracker() {
    let v = lowbit_json([
        "video",
        "mot",
        "--gt",
        &tud("TUD-Stadtmitte", "gt.txt"),
        "--hyp",
        &tud("TUD-Stadtmitte", "test.txt"),
        "--json",
    ]);
    assert!((v["mota"].as_f64().unwrap() - 0.564014).abs() < 1e-3, "{v}");
    assert!((v["idf1"].as_f64().unwrap() - 0.644619).abs() < 1e-3, "{v}");
    assert_eq!((v["fp"].as_u64(), v["fn"].as_u64(), v["id_switches"].as_u64()), (Some(45), Some(452), Some(7)));
    let text = String::from_utf8(
        lowbit(["video", "mot", "--gt", &tud("TUD-Campus", "gt.txt"), "--hyp", &tud("TUD-Campus", "test.txt")]).stdout,
    )
    .unwrap();
    assert!(text.contains("MOTA 52.6 %") && text.contains("ID switches 7"), "{text}");
}

#[test]
fn synthetic_detectors_pool_into_ap_and_average_delay() {
    let dir = temp_dir("video-synth");
    let mut args: Vec<String> = vec!["video".into(), "metrics".into()];
    for seq in ["TUD-Campus", "TUD-Stadtmitte"] {
        let out = dir.join(format!("{seq}.txt"));
        let o = lowbit(["video", "synth", "--gt", &tud(seq, "gt.txt"), "--seed", "5", "--out", path_str(&out)]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        args.extend(["--gt".into(), tud(seq, "gt.txt"), "--det".into(), path_str(&out).to_string()]);
    }
    args.extend(["--precision".into(), "0.8".into(), "--json".into()]);
    let v = lowbit_json(&args);
    let ap = v["ap50"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&ap) && ap > 0.5, "{v}");
    assert_eq!(v["delays"].as_array().unwrap().len(), 6);
    assert_eq!(v["n_tracks"], 18, "8 + 10 tracks (none only in a last frame)");
    assert_eq!(v["n_gt_boxes"].as_u64().unwrap(), 359 + 1156, "{v}");
    assert!(v["average_delay"].as_f64().unwrap() >= 0.0);
    assert!(v["mean_delay_at_precision"]["mean_delay"].as_f64().is_some(), "{v}");
    // The same seed writes the same file.
    let again = dir.join("again.txt");
    lowbit(["video", "synth", "--gt", &tud("TUD-Campus", "gt.txt"), "--seed", "5", "--out", path_str(&again)]);
    assert_eq!(std::fs::read(&again).unwrap(), std::fs::read(dir.join("TUD-Campus.txt")).unwrap());
}

#[test]
fn patchnet_counts_57_672_404_operations() {
    let v = lowbit_json(["video", "patchnet", "--ops", "--json"]);
    assert_eq!(v["ops"], 57_672_404);
    let stages = v["stages"].as_array().unwrap();
    assert_eq!(stages.len(), 9);
    assert_eq!(
        (stages[0]["name"].as_str(), stages[0]["output"].as_str(), stages[0]["ops"].as_u64()),
        (Some("patch correlation"), Some("64×56×56"), Some(38_535_168))
    );
}

#[test]
fn bad_video_files_are_named_with_their_line() {
    let dir = temp_dir("video-bad");
    let gt = dir.join("gt.txt");
    let err = |args: &[&str]| {
        let o = lowbit(args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        String::from_utf8(o.stderr).unwrap()
    };
    for (text, want) in [
        ("1,1,10,10,5,5,1\n1,2,10,10,-5,5,1\n", "line 2: negative box size"),
        ("2,1,10,10,5,5,1\n1,1,10,10,5,5,1\n", "line 2: frame 1 comes after frame 2"),
        ("1,1,10,10\n", "line 1: 4 columns"),
        ("", "no rows"),
    ] {
        std::fs::write(&gt, text).unwrap();
        let e = err(&["video", "mot", "--gt", path_str(&gt), "--hyp", &tud("TUD-Campus", "test.txt")]);
        assert!(e.contains(path_str(&gt)) && e.contains(want), "{e}");
    }
    // A tracker's output has no scores: not detections.
    let e = err(&["video", "metrics", "--gt", &tud("TUD-Campus", "gt.txt"), "--det", &tud("TUD-Campus", "test.txt")]);
    assert!(e.contains("test.txt line 1: the detection has no score"), "{e}");
    let g = tud("TUD-Campus", "gt.txt");
    let o = lowbit(["video", "metrics", "--gt", &g]);
    assert_eq!(o.status.code(), Some(2), "a missing --det is a usage error");
    let e = err(&["video", "metrics", "--gt", &g, "--gt", &g, "--det", &g]);
    assert!(e.contains("give one --det for every --gt"), "{e}");
    let e = err(&[
        "video",
        "metrics",
        "--gt",
        &tud("TUD-Campus", "gt.txt"),
        "--det",
        &tud("TUD-Campus", "gt.txt"),
        "--clip=-1",
    ]);
    assert!(e.contains("clip"), "{e}");
    let e = err(&["video", "synth", "--gt", &tud("TUD-Campus", "gt.txt"), "--recall-full", "2"]);
    assert!(e.contains("recall_full 2 is outside [0, 1]"), "{e}");
}

#[test]
fn a_catdet_sweep_reports_operations_accuracy_and_delay() {
    let g = tud("TUD-Stadtmitte", "gt.txt");
    let v = lowbit_json([
        "video",
        "catdet",
        "--gt",
        &g,
        "--proposal-threshold",
        "0.1,0.5",
        "--margin",
        "0,0.3",
        "--keep-alive",
        "2",
        "--json",
    ]);
    assert_eq!(v["synthetic"], true);
    assert_eq!(v["reported"][0]["dataset"], "KITTI", "the paper's results, quoted beside: {v}");
    assert_eq!(v["reported"][0]["ops_reduction"], serde_json::json!([5.1, 8.7]));
    let runs = v["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 4);
    for r in runs {
        let ap = r["ap50"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&ap), "{r}");
        assert!(r["ops_reduction"].as_f64().unwrap() > 1.0, "{r}");
        assert!(r["average_delay"].as_f64().unwrap() >= 0.0);
    }
    // A wider margin covers more of the frame: fewer operations saved.
    let red = |k: usize| runs[k]["ops_reduction"].as_f64().unwrap();
    assert!(red(0) > red(1), "{v}");
    let o = lowbit(["video", "catdet", "--gt", &g, "--config", "{\"ops_refine\": 0}"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("ops_refine"));
    let o = lowbit(["video", "catdet", "--gt", &g, "--config", "{\"nonsense\": 1}"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a CaTDet configuration"));
}

#[test]
fn patchnet_tracks_rendered_digits_between_key_frames() {
    let _ = data("mnist", "mnist/t10k-images-idx3-ubyte");
    let dir = path_str(data("mnist", "mnist/t10k-images-idx3-ubyte").parent().unwrap().parent().unwrap()).to_string();
    let v = lowbit_json(["video", "patchnet", "--track", "--frames", "3", "--digits", "1", "--data", &dir, "--json"]);
    let t = v["tracking"].as_array().unwrap();
    assert_eq!(t.len(), 8, "key frames every 1, 2, 3, 4, 6, 8, 12 frames and adaptive");
    assert_eq!(t[0]["mean_iou"], 1.0, "a key frame every frame is the detector itself");
    assert!(t[1]["mean_iou"].as_f64().unwrap() > 0.8, "{}", t[1]);
    assert!(t[1]["ops_per_frame"].as_f64().unwrap() < t[0]["ops_per_frame"].as_f64().unwrap());
}
