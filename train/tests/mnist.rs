//! The training lab on the real data of DATA.md: the burn network against core's independent forward
//! pass, the real digit CNN's published accuracy, and short runs that must learn, reproduce and fail cleanly.

use burn::tensor::{Device, Tensor, TensorData};
use lowbit_core::prune::PruneSpec;
use lowbit_core::quant::QuantSpec;
use lowbit_core::training::{Arch, Method, Schedule, TrainSpec};
use lowbit_train::Error;
use lowbit_train::data::{Mnist, PIXELS};
use lowbit_train::model::{Net, to_vec};
use lowbit_train::prune::Masks;
use lowbit_train::run::{Event, Start, evaluate, train, train_from};
use lowbit_train::snapshot::Snapshot;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

fn data(file: &str, set: &str) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
    let path = root.join("data").join(file);
    if !path.join("train-labels-idx1-ubyte").exists() && !path.is_file() {
        let ok = Command::new("bash").arg(root.join("scripts/fetch-data.sh")).arg(set).status().unwrap().success();
        assert!(ok, "scripts/fetch-data.sh {set} failed");
    }
    path
}

fn mnist() -> &'static Mnist {
    static M: OnceLock<Mnist> = OnceLock::new();
    M.get_or_init(|| Mnist::load(&data("mnist", "mnist")).unwrap())
}

fn digit_cnn_bytes() -> Vec<u8> {
    std::fs::read(data("digit_cnn.pth", "digit-cnn")).unwrap()
}

fn spec(model: Arch, method: Method, steps: usize) -> TrainSpec {
    TrainSpec {
        batch: 32,
        schedule: Schedule::Constant,
        seed: 1,
        eval_every: steps,
        eval_images: 500,
        ..TrainSpec::new(model, method, steps)
    }
}

/// A signed int weight format at a granularity, with a clip method (or the default).
fn int(bits: u32, granularity: &str, clip: Option<&str>) -> QuantSpec {
    QuantSpec { granularity: Some(granularity.into()), clip: clip.map(Into::into), ..QuantSpec::new("int", Some(bits)) }
}

#[test]
fn mnist_has_its_sizes_and_class_counts() {
    let m = mnist();
    assert_eq!((m.train.len(), m.test.len()), (60_000, 10_000));
    let mut counts = [0usize; 10];
    m.train.labels.iter().for_each(|&l| counts[l as usize] += 1);
    // DATA.md: the canonical MNIST training label counts.
    assert_eq!(counts, [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
}

/// The burn network read from the real `.pth` computes core's plain-f32 forward pass (an independent
/// implementation), and its accuracy on all 10,000 test images is DATA.md's 99.06 %.
#[test]
fn the_real_digit_cnn_matches_cores_forward_pass_and_its_published_accuracy() {
    let bytes = digit_cnn_bytes();
    let c = lowbit_core::readers::read(&bytes).unwrap();
    let device = Device::flex();
    let net = Net::from_tensors(Arch::DigitCnn, &c.tensors, &device).unwrap();
    let reference = lowbit_core::nn::DigitCnn::from_checkpoint(&c).unwrap();
    let m = mnist();
    let n = 16;
    let x = Tensor::<2>::from_data(TensorData::new(m.test.images[..n * PIXELS].to_vec(), [n, PIXELS]), &device);
    let ours = to_vec(&net.forward(x, &mut |_, w| w));
    for i in 0..n {
        // core's forward takes raw pixels: undo the normalisation.
        let pixels: Vec<f32> =
            m.test.images[i * PIXELS..(i + 1) * PIXELS].iter().map(|v| (v * 0.3081 + 0.1307) * 255.0).collect();
        let want = reference.forward(&pixels).unwrap().logits;
        for (a, b) in ours[i * 10..(i + 1) * 10].iter().zip(&want) {
            assert!((a - b).abs() <= 1e-3 * (1.0 + b.abs()), "image {i}: {a} vs {b}");
        }
    }
    let acc = evaluate(&net, &m.test, 10_000, &[]).unwrap();
    assert!((acc - 0.9906).abs() < 1e-9, "fp32 accuracy {acc}");
    assert!(Net::from_tensors(Arch::Lenet5, &c.tensors, &device).is_err(), "not LeNet-5's tensors");
}

/// A short QAT run of the real digit CNN at int2 per tensor (max clipping; MAD gradients) removes at least
/// half of the errors post-training int2 adds, and its loss falls.
#[test]
fn qat_at_int2_recovers_what_post_training_quantization_loses() {
    let bytes = digit_cnn_bytes();
    let c = lowbit_core::readers::read(&bytes).unwrap();
    let mut s = spec(Arch::DigitCnn, Method::Qat, 60);
    s.quant = Some(int(2, "tensor", Some("max")));
    s.eval_every = 20;
    s.eval_images = 1000;
    let out = train(&s, mnist(), Some(&c.tensors), &mut |_| true).unwrap();
    eprintln!("int2 QAT: ptq {:.3} → {:.3} ({:?})", out.ptq_accuracy, out.test_accuracy, out.curve);
    // At least half of the errors post-training quantization adds are gone.
    let (err, ptq_err) = (1.0 - out.test_accuracy, 1.0 - out.ptq_accuracy);
    assert!(err < 0.5 * ptq_err, "error {err} after QAT vs {ptq_err} post-training");
    assert!(out.curve.last().unwrap().loss < out.curve[0].loss);
    assert_eq!(out.clips.len(), 5);
    assert!(out.clips.iter().all(|c| c.len() == 1), "one clip per layer");
}

/// Same seed, same curve; another seed, another curve; and the MLP learns from scratch.
#[test]
fn a_run_is_reproducible_from_its_seed() {
    let s = spec(Arch::Mlp, Method::Fp32, 40);
    let a = train(&s, mnist(), None, &mut |_| true).unwrap();
    let b = train(&s, mnist(), None, &mut |_| true).unwrap();
    assert_eq!(a.curve, b.curve);
    assert_eq!(to_vec(&a.net.weights[0].val()), to_vec(&b.net.weights[0].val()));
    let c = train(&TrainSpec { seed: 2, ..s.clone() }, mnist(), None, &mut |_| true).unwrap();
    assert_ne!(a.curve, c.curve);
    assert!(a.test_accuracy > 0.5, "40 steps of the MLP: {}", a.test_accuracy);
}

#[test]
fn bad_settings_and_divergence_are_clear_errors() {
    let m = mnist();
    let msg = |s: &TrainSpec| train(s, m, None, &mut |_| true).unwrap_err().to_string();
    let s = spec(Arch::Mlp, Method::Fp32, 5);
    assert!(msg(&TrainSpec { steps: 0, ..s.clone() }).contains("--steps"));
    assert!(msg(&TrainSpec { batch: 0, ..s.clone() }).contains("--batch"));
    assert!(msg(&TrainSpec { lr: f64::NAN, ..s.clone() }).contains("--lr"));
    assert!(msg(&TrainSpec { method: Method::Qat, ..s.clone() }).contains("format"));
    let nvfp4 = TrainSpec { method: Method::Qat, quant: Some(QuantSpec::new("nvfp4", None)), ..s.clone() };
    assert!(msg(&nvfp4).contains("signed int or fp"));
    // A learning rate of 10 blows the MLP up: the run stops with the step and the loss.
    let e = train(&TrainSpec { lr: 10.0, steps: 200, ..s.clone() }, m, None, &mut |_| true).unwrap_err();
    assert!(matches!(e, Error::Diverged { .. }), "{e}");
    // An observer saying stop cancels the run: before the first step, or after any.
    let e = train(&s, m, None, &mut |_| false).unwrap_err();
    assert!(matches!(e, Error::Cancelled(0)), "{e}");
    let e = train(&s, m, None, &mut |e| !matches!(e, Event::Step { step: 2, .. })).unwrap_err();
    assert!(matches!(e, Error::Cancelled(2)), "{e}");
}

/// TTQ on the real digit CNN: the middle layers deploy as three values with learned scales that moved from
/// their post-training start, the first and last stay full precision, and the loss falls.
#[test]
fn ttq_learns_its_scales_and_keeps_the_ends_in_full_precision() {
    let bytes = digit_cnn_bytes();
    let c = lowbit_core::readers::read(&bytes).unwrap();
    let mut s = spec(Arch::DigitCnn, Method::Ttq, 40);
    s.eval_every = 20;
    s.eval_images = 1000;
    let out = train(&s, mnist(), Some(&c.tensors), &mut |_| true).unwrap();
    eprintln!("TTQ: ptq {:.3} → {:.3}, scales {:?}, {:?}", out.ptq_accuracy, out.test_accuracy, out.scales, out.curve);
    assert!(out.scales[0].is_none() && out.scales[4].is_none(), "{:?}", out.scales);
    let start = Net::from_tensors(Arch::DigitCnn, &c.tensors, &Device::flex()).unwrap();
    for i in 1..4 {
        let (wp, wn) = out.scales[i].unwrap();
        let (_, wp0, wn0) = lowbit_train::ttq::threshold_and_scales(&to_vec(&start.weights[i].val()), 0.05);
        assert!(wp > 0.0 && wn > 0.0 && (wp != wp0 || wn != wn0), "layer {i}: ({wp}, {wn}) from ({wp0}, {wn0})");
    }
    let deployed = lowbit_train::run::deployed(&s, &out.net, None, &Masks::new(5)).unwrap();
    assert!(deployed[0].is_none() && deployed[4].is_none());
    let mut values: Vec<f32> = deployed[2].clone().unwrap();
    values.sort_by(f32::total_cmp);
    values.dedup();
    assert_eq!(values.len(), 3, "{{−W^n, 0, W^p}}");
    assert!(out.curve[1].loss < out.curve[0].loss, "{:?}", out.curve);
}

/// Prune and retrain (§5): the sparsity follows AGP to the target, the final masks never change while the
/// net retrains (pruned weights stay exactly zero), the pattern's groups are whole, and retraining recovers
/// accuracy lost to one-shot pruning.
#[test]
fn pruning_keeps_its_masks_while_retraining_and_recovers_accuracy() {
    let bytes = digit_cnn_bytes();
    let c = lowbit_core::readers::read(&bytes).unwrap();
    let mut s = spec(Arch::DigitCnn, Method::Prune, 40);
    s.prune = Some(PruneSpec { pattern: "kernel".into(), sparsity: 0.9, saliency: None });
    s.prune_ramp = 0.5;
    s.prune_every = 5;
    s.eval_every = 10;
    s.eval_images = 1000;
    let mut seen = Vec::new();
    let mut final_masks: Option<Vec<Option<Vec<bool>>>> = None;
    let mut masks_changed_after_ramp = false;
    let out = train(&s, mnist(), Some(&c.tensors), &mut |e| {
        match e {
            Event::Eval { sparsity, .. } => seen.push(sparsity),
            Event::Snapshot(snap) if snap.state.step > 20 => {
                // After the ramp (20 steps) the masks are the final ones and the weights obey them.
                if let Some(m) = &final_masks {
                    masks_changed_after_ramp |= *m != snap.masks;
                }
                final_masks = Some(snap.masks.clone());
                for (i, m) in snap.masks.iter().enumerate() {
                    if let Some(m) = m {
                        let w = &snap.tensors[2 * i].values;
                        assert!(w.iter().zip(m).all(|(&v, &k)| k || v == 0.0), "a pruned weight moved");
                    }
                }
            }
            _ => {}
        }
        true
    })
    .unwrap();
    eprintln!("prune kernel 90 %: one-shot {:.3} → {:.3}, {:?}", out.ptq_accuracy, out.test_accuracy, out.curve);
    assert!(!masks_changed_after_ramp);
    assert_eq!(seen.last().copied(), Some(0.9));
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
    assert!(out.masks[4].is_none(), "the classifier is left unpruned by default");
    for i in 0..4 {
        let m = out.masks[i].as_ref().unwrap();
        let layer = &Arch::DigitCnn.layers()[i];
        let pattern = lowbit_train::prune::layer_pattern(layer, "kernel".parse().unwrap());
        lowbit_core::prune::check_pattern(m, &layer.shape(), pattern).unwrap();
        let kept = m.iter().filter(|&&k| k).count() as f64 / m.len() as f64;
        assert!((kept - 0.1).abs() < 0.02, "layer {i} keeps {kept}");
    }
    assert!(out.test_accuracy > out.ptq_accuracy + 0.02, "{} vs one-shot {}", out.test_accuracy, out.ptq_accuracy);
    let report = lowbit_train::prune::report(
        &out.net,
        &Masks { layers: out.masks.clone(), sparsity: 0.9 },
        "kernel".parse().unwrap(),
        &mnist().test,
        2,
    )
    .unwrap();
    let conv1 = &report[1];
    assert!(conv1.scnn.is_some() && report[3].scnn.is_none());
    let scnn = conv1.scnn.unwrap();
    assert!((scnn.weight_density - 0.1).abs() < 0.02 && scnn.speedup_vs_dcnn > 1.0, "{scnn:?}");
    let cost = |scheme: &str| conv1.storage.iter().find(|c| c.scheme.starts_with(scheme)).unwrap().bits_per_param;
    assert!(cost("group") < cost("bitmask"), "kernel groups index cheaper than a bitmask: {:?}", conv1.storage);
}

/// A run stopped after a snapshot and resumed from it reproduces the uninterrupted run exactly: weights,
/// momentum, clips and curve.
#[test]
fn a_resumed_run_reproduces_the_uninterrupted_one() {
    let mut s = spec(Arch::Lenet5, Method::Qat, 24);
    s.quant = Some(int(3, "channel", Some("octav")));
    s.act = Some(QuantSpec { clip: Some("octav".into()), ..QuantSpec::new("uint", Some(4)) });
    s.clip_every = 5;
    s.eval_every = 8;
    s.eval_images = 300;
    let whole = train(&s, mnist(), None, &mut |_| true).unwrap();
    let mut saved = None;
    let err = train(&s, mnist(), None, &mut |e| match e {
        Event::Snapshot(snap) if snap.state.step == 8 => {
            saved = Some(snap.to_bytes().unwrap());
            false
        }
        _ => true,
    })
    .unwrap_err();
    assert!(matches!(err, Error::Cancelled(8)), "{err}");
    let snap = Snapshot::from_bytes(&saved.unwrap()).unwrap();
    let resumed = train_from(&s, mnist(), Start::Resume(Box::new(snap.clone())), &mut |_| true).unwrap();
    assert_eq!(resumed.curve, whole.curve);
    assert_eq!(resumed.net.named(), whole.net.named());
    assert_eq!(resumed.act_clips, whole.act_clips);
    assert!(whole.act_clips[0].is_none() && whole.act_clips[1..].iter().all(|c| c.is_some_and(|c| c > 0.0)));
    // A snapshot is refused for another spec, and a file that is not one names what is missing.
    let other = TrainSpec { seed: 9, ..s.clone() };
    assert!(train_from(&other, mnist(), Start::Resume(Box::new(snap)), &mut |_| true).is_err());
    let e = Snapshot::from_bytes(&digit_cnn_bytes()).unwrap_err().to_string();
    assert!(e.contains("not a training snapshot"), "{e}");
}

/// TWN: the fixed-scale ternary baseline trains and deploys three values per layer.
#[test]
fn twn_trains_ternary_layers_with_one_scale() {
    let bytes = digit_cnn_bytes();
    let c = lowbit_core::readers::read(&bytes).unwrap();
    let s = spec(Arch::DigitCnn, Method::Twn, 20);
    let out = train(&s, mnist(), Some(&c.tensors), &mut |_| true).unwrap();
    eprintln!("TWN: ptq {:.3} → {:.3}", out.ptq_accuracy, out.test_accuracy);
    let d = lowbit_train::run::deployed(&s, &out.net, None, &Masks::new(5)).unwrap();
    assert!(d[0].is_none() && d[4].is_none());
    let mut v = d[1].clone().unwrap();
    v.sort_by(f32::total_cmp);
    v.dedup();
    assert_eq!(v.len(), 3);
    assert_eq!(v[0], -v[2], "one scale for both signs");
    assert!(out.test_accuracy > 0.9, "{}", out.test_accuracy);
}

/// LSQ: the clips are parameters that train (they move from the paper's start) and the deployed int2
/// model gains over its starting point; a resumed LSQ run keeps its learned clips.
#[test]
fn lsq_learns_its_clips() {
    let bytes = digit_cnn_bytes();
    let c = lowbit_core::readers::read(&bytes).unwrap();
    let mut s = spec(Arch::DigitCnn, Method::Qat, 30);
    s.quant = Some(int(2, "channel", None));
    s.lsq = true;
    s.grad = lowbit_core::training::Estimator::Pwl;
    s.eval_every = 15;
    s.eval_images = 1000;
    let start = Net::from_tensors(Arch::DigitCnn, &c.tensors, &Device::flex()).unwrap();
    let cfg = s.quant.as_ref().unwrap().resolve().unwrap();
    let init = lowbit_train::fakequant::lsq_init(&to_vec(&start.weights[1].val()), &[64, 32, 3, 3], &cfg).unwrap();
    let mut saved = None;
    let out = train(&s, mnist(), Some(&c.tensors), &mut |e| {
        if let Event::Snapshot(snap) = e
            && snap.state.step == 15
        {
            saved = Some(snap.clone());
        }
        true
    })
    .unwrap();
    eprintln!("LSQ int2: start {:.3} → {:.3}", out.ptq_accuracy, out.test_accuracy);
    assert_eq!(out.clips[1].len(), 64);
    assert!(out.clips[1].iter().zip(&init).any(|(a, b)| a != b), "the clips trained");
    assert!(out.test_accuracy > out.ptq_accuracy, "{} vs {}", out.test_accuracy, out.ptq_accuracy);
    let resumed = train_from(&s, mnist(), Start::Resume(Box::new(saved.unwrap())), &mut |_| true).unwrap();
    assert_eq!(resumed.curve, out.curve);
    assert_eq!(resumed.clips, out.clips);
    // Not for a float format.
    let fp = TrainSpec { quant: Some(QuantSpec::new("fp8-e4m3", None)), ..s.clone() };
    assert!(train(&fp, mnist(), None, &mut |_| true).unwrap_err().to_string().contains("--lsq"));
}

/// Channel pruning leaves the first conv (one input channel: a single group) whole instead of removing the
/// network's input, and the others reach the target.
#[test]
fn channel_pruning_never_removes_a_whole_layer() {
    let bytes = digit_cnn_bytes();
    let c = lowbit_core::readers::read(&bytes).unwrap();
    let mut s = spec(Arch::DigitCnn, Method::Prune, 2);
    s.prune = Some(PruneSpec { pattern: "channel".into(), sparsity: 0.8, saliency: None });
    s.prune_ramp = 0.0;
    let out = train(&s, mnist(), Some(&c.tensors), &mut |_| true).unwrap();
    assert!(out.masks[0].is_none(), "conv_layers.0 has one input channel");
    let kept = out.masks[1].as_ref().unwrap().iter().filter(|&&k| k).count() as f64 / (64.0 * 32.0 * 9.0);
    assert!((kept - 0.2).abs() < 0.05, "{kept}");
    assert!(out.ptq_accuracy > 0.2, "the one-shot pruned network still sees its input: {}", out.ptq_accuracy);
}

/// Data-parallel SGD with compression (§4.6 as runs): DGC at sparsity 0 is dense momentum SGD (one worker:
/// the same weights; four: the same up to float rounding); the replicas stay identical; at 99 % sparsity
/// the bytes per iteration shrink by the ratio the encoding gives, and the run still learns.
#[test]
fn dgc_runs_match_dense_at_sparsity_zero_and_compress_at_high_sparsity() {
    use lowbit_core::training::{Compressor, DistSpec};
    use lowbit_train::dist::train_dist;
    use lowbit_train::run::Start;
    let run = |workers: usize, compressor: Compressor, sparsity: f64| {
        let mut s = spec(Arch::Mlp, Method::Dgc, 30);
        s.eval_every = 15;
        s.dist = Some(DistSpec { sparsity, warmup_epochs: 0, ..DistSpec::new(workers, compressor) });
        train_dist(&s, mnist(), Start::Seed, &mut |_| true).unwrap()
    };
    let close = |a: &lowbit_train::dist::DistOutcome, b: &lowbit_train::dist::DistOutcome, tol: f32| {
        for (x, y) in a.replicas[0].named().iter().zip(b.replicas[0].named()) {
            let worst = x.values.iter().zip(&y.values).map(|(p, q)| (p - q).abs()).fold(0.0, f32::max);
            assert!(worst <= tol, "{}: {worst}", x.name);
        }
    };
    close(&run(1, Compressor::Dgc, 0.0), &run(1, Compressor::Dense, 0.0), 1e-6);
    let dense = run(4, Compressor::Dense, 0.0);
    close(&run(4, Compressor::Dgc, 0.0), &dense, 1e-4);
    let dgc = run(4, Compressor::Dgc, 0.99);
    let first = dgc.replicas[0].named();
    assert!(dgc.replicas.iter().all(|r| r.named() == first), "the replicas stay identical");
    // MLP: 266,610 parameters in 6 tensors; exact top-k at 1 % sends ceil(n/100) values + indices + a
    // count per tensor; DGC's sampled threshold sends between 0.8 and 1 times that.
    let sizes = [235_200usize, 300, 30_000, 100, 1000, 10];
    let sent: usize = sizes.iter().map(|n| 4 + 8 * n.div_ceil(100)).sum();
    let topk = run(4, Compressor::Topk, 0.99);
    assert_eq!(topk.comm.bytes_per_iteration, sent as f64);
    assert!((topk.comm.compression_ratio - (4 * 266_610) as f64 / sent as f64).abs() < 1e-9);
    let b = dgc.comm.bytes_per_iteration;
    assert!(b <= sent as f64 && b >= 0.8 * sent as f64, "{b} of {sent}");
    assert_eq!(dense.comm.bytes_per_iteration, (4 * 266_610) as f64);
    assert!(dgc.comm.exchange_seconds < dense.comm.exchange_seconds);
    assert!(dgc.test_accuracy > 0.5, "{}", dgc.test_accuracy);
    // Every other compressor runs, learns, and sends what its encoding says: QSGD s = 4 → 4 bits per
    // element + a 32-bit norm per tensor; TernGrad 2; signSGD 1; random-k like top-k.
    let coded = |bits_per: usize| sizes.iter().map(|n| (32 + n * bits_per).div_ceil(8)).sum::<usize>() as f64;
    for (c, bytes) in [
        (Compressor::Qsgd, coded(4)),
        (Compressor::Terngrad, coded(2)),
        (Compressor::SignsgdEf, coded(1)),
        (Compressor::Randk, sent as f64),
        // PowerSGD rank 2: P and Q of each matrix, (rows + cols)·2 floats, and the biases whole.
        (Compressor::Powersgd, (4 * ((300 + 784) * 2 + 300 + (100 + 300) * 2 + 100 + (10 + 100) * 2 + 10)) as f64),
    ] {
        let o = run(4, c, 0.99);
        assert_eq!(o.comm.bytes_per_iteration, bytes, "{c}");
        let first = o.replicas[0].named();
        assert!(o.replicas.iter().all(|r| r.named() == first), "{c}: replicas identical");
        assert!(o.curve.iter().all(|p| p.loss.is_finite()), "{c}");
    }
    let points = &dgc.curve;
    assert!(points[1].bytes.unwrap() > points[0].bytes.unwrap() && points[1].simulated_seconds.is_some());
}

/// A distributed run resumed from its snapshot (written to bytes and read back) continues exactly: the same
/// curve (all but the measured times) and the same weights as the uninterrupted run — for DGC (momentum,
/// velocity and the sampler of every worker) and PowerSGD (Q and every worker's error).
#[test]
fn a_resumed_distributed_run_is_the_uninterrupted_one() {
    use lowbit_core::training::{Compressor, DistSpec};
    use lowbit_train::dist::train_dist;
    use lowbit_train::run::{Event, Start};
    use lowbit_train::snapshot::Snapshot;
    for c in [Compressor::Dgc, Compressor::Powersgd] {
        let mut s = spec(Arch::Mlp, Method::Dgc, 30);
        s.eval_every = 10;
        s.dist = Some(DistSpec { sparsity: 0.99, ..DistSpec::new(3, c) });
        s.batch = 33;
        let mut saved = None;
        let whole = train_dist(&s, mnist(), Start::Seed, &mut |e| {
            if let Event::Snapshot(snap) = e
                && snap.state.step == 10
            {
                saved = Some(snap.to_bytes().unwrap());
            }
            true
        })
        .unwrap();
        let snap = Snapshot::from_bytes(&saved.unwrap()).unwrap();
        assert!(!snap.exchange.is_empty(), "{c}: the compressors' state is saved");
        let resumed = train_dist(&s, mnist(), Start::Resume(Box::new(snap)), &mut |_| true).unwrap();
        // The totals travel as JSON, whose float parsing may differ in the last bit: the wire cost to 1e-12.
        let strip = |p: &lowbit_train::run::CurvePoint| (p.step, p.loss, p.test_accuracy, p.bytes);
        assert_eq!(
            whole.curve.iter().map(strip).collect::<Vec<_>>(),
            resumed.curve.iter().map(strip).collect::<Vec<_>>(),
            "{c}"
        );
        for (a, b) in whole.curve.iter().zip(&resumed.curve) {
            let (a, b) = (a.wire.unwrap(), b.wire.unwrap());
            assert!((a.bytes - b.bytes).abs() <= 1e-12 * a.bytes && a.steps == b.steps, "{c}: {a:?} {b:?}");
        }
        assert_eq!(whole.replicas[0].named(), resumed.replicas[0].named(), "{c}");
        assert_eq!(whole.comm.bytes_per_iteration, resumed.comm.bytes_per_iteration);
    }
}
