//! Video metrics on the real TUD sequences of DATA.md (motmetrics 1.4.0's data): CLEAR MOT and identity
//! metrics equal motmetrics' own reference values (its `test_motchallenge_files`, tolerance 1e-3 as there),
//! and a synthetic detector on the same ground truth shows AP and Average Delay disagreeing.

use crate::util::data;
use lowbit_core::video::delay::{DelayOptions, average_delay};
use lowbit_core::video::files::{Role, parse};
use lowbit_core::video::mot::mot_metrics;
use lowbit_core::video::synth::SynthDetector;
use lowbit_core::video::{GtBox, Video};

fn read(seq: &str, file: &str, role: Role) -> lowbit_core::video::files::Parsed {
    let path = data("tud").join(seq).join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    parse(&text, &path.display().to_string(), role).unwrap()
}

fn gt(seq: &str) -> Vec<GtBox> {
    read(seq, "gt.txt", Role::GroundTruth).gt
}

#[test]
fn mot_metrics_equal_motmetrics_on_the_tud_sequences() {
    // (sequence, MOTA, MOTP, IDF1, IDP, IDR, recall, precision, FP, FN, IDSW, objects, MT, PT, ML)
    let want = [
        ("TUD-Campus", 0.526462, 0.277201, 0.557659, 0.729730, 0.451253, 0.582173, 0.941441, 13, 150, 7, 8, 1, 6, 1),
        (
            "TUD-Stadtmitte",
            0.564014,
            0.345904,
            0.644619,
            0.819760,
            0.531142,
            0.608997,
            0.939920,
            45,
            452,
            7,
            10,
            5,
            4,
            1,
        ),
    ];
    for (seq, mota, motp, idf1, idp, idr, recall, precision, fp, fn_, idsw, objects, mt, pt, ml) in want {
        let r = mot_metrics(&gt(seq), &read(seq, "test.txt", Role::Tracks).dets).unwrap();
        let close =
            |got: f64, want: f64, what: &str| assert!((got - want).abs() < 1e-3, "{seq} {what}: {got} vs {want}");
        close(r.mota, mota, "MOTA");
        close(r.motp, motp, "MOTP");
        close(r.idf1, idf1, "IDF1");
        close(r.idp, idp, "IDP");
        close(r.idr, idr, "IDR");
        close(r.recall, recall, "recall");
        close(r.precision, precision, "precision");
        assert_eq!((r.fp, r.fn_, r.id_switches), (fp, fn_, idsw), "{seq}");
        assert_eq!(
            (r.num_unique_objects, r.mostly_tracked, r.partially_tracked, r.mostly_lost),
            (objects, mt, pt, ml),
            "{seq}"
        );
    }
}

#[test]
fn two_synthetic_detectors_with_the_same_ap_and_different_delay() {
    // Both find about 85 % of the boxes; one from the first frame of an object, the other only after a
    // ramp of 20 frames (and more surely later). AP hardly tells them apart; AD does.
    let videos = |det: &SynthDetector| -> Vec<Video> {
        ["TUD-Campus", "TUD-Stadtmitte"]
            .iter()
            .map(|s| {
                let g = gt(s);
                Video { name: s.to_string(), dets: det.run(&g).unwrap(), gt: g }
            })
            .collect()
    };
    let prompt = SynthDetector { recall_start: 0.85, recall_full: 0.85, seed: 1, ..Default::default() };
    let late = SynthDetector { recall_start: 0.0, recall_full: 0.97, ramp_frames: 20.0, seed: 1, ..Default::default() };
    let a = average_delay(&videos(&prompt), &DelayOptions::default()).unwrap();
    let b = average_delay(&videos(&late), &DelayOptions::default()).unwrap();
    assert!((a.ap50 - b.ap50).abs() < 0.05, "AP {} vs {}", a.ap50, b.ap50);
    assert!(b.average_delay > 3.0 * a.average_delay + 1.0, "AD {} vs {}", a.average_delay, b.average_delay);
    assert_eq!(a.n_tracks, b.n_tracks);
    assert_eq!(a.n_gt_boxes, gt("TUD-Campus").len() + gt("TUD-Stadtmitte").len());
}

/// The first `n` MNIST test digits (28×28 bytes each).
fn digits(n: usize) -> Vec<Vec<u8>> {
    let path = crate::util::data("mnist").join("t10k-images-idx3-ubyte");
    let bytes = std::fs::read(path).unwrap();
    (0..n).map(|i| bytes[16 + i * 784..16 + (i + 1) * 784].to_vec()).collect()
}

#[test]
fn patchnet_template_matching_tracks_moving_digits() {
    use lowbit_core::video::patchmatch::{moving_digits, run_policy, track};
    use lowbit_core::video::patchnet::KeyFrames;
    let d = digits(3);
    let refs: Vec<&[u8]> = d.iter().map(Vec::as_slice).collect();
    let v = moving_digits(&refs, 30, 192, 4).unwrap();
    assert_eq!(v.gt.len(), 90);
    // One step: the match lands on the digit's new centre within a couple of pixels.
    let (b0, b1) = (v.gt[0].bbox, v.gt[3].bbox);
    let m = track(&v.frames[0], &b0, &v.frames[1], ((b0.x1 + b0.x2) / 2.0, (b0.y1 + b0.y2) / 2.0));
    assert!(
        (m.cx - (b1.x1 + b1.x2) / 2.0).abs() <= 2.5 && (m.cy - (b1.y1 + b1.y2) / 2.0).abs() <= 2.5,
        "{m:?} vs {b1:?}"
    );
    assert!(m.confidence > 0.0 && m.confidence <= 1.0);
    // Key frame every frame: perfect; every 6th: still tracked; IoU falls with the frames since the key.
    let every = run_policy(&v, KeyFrames::Fixed { interval: 1 }).unwrap();
    assert_eq!((every.mean_iou, every.key_fraction), (1.0, 1.0));
    let six = run_policy(&v, KeyFrames::Fixed { interval: 6 }).unwrap();
    assert!(six.success > 0.8, "{six:?}");
    assert!((six.key_fraction - 5.0 / 30.0).abs() < 1e-12);
    let adaptive = run_policy(&v, KeyFrames::Adaptive { threshold: 0.8, max_interval: 6 }).unwrap();
    eprintln!("every 6th: {six:?}\nadaptive: {adaptive:?}");
    assert!(adaptive.key_fraction >= six.key_fraction - 1e-12 && adaptive.success > 0.8, "{adaptive:?}");
}
