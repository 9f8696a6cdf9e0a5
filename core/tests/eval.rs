//! The evaluation engine on the real digit CNN and MNIST: the batched forward pass against the direct
//! per-image reference, DATA.md's accuracies as oracles (independently computed in numpy), activation
//! quantization, and the mixed-precision knapsack against brute force.

use crate::util::{data, root};
use lowbit_core::eval::digit::DigitNet;
use lowbit_core::eval::mixed::{self, Cell, Objective, Table};
use lowbit_core::eval::plan::Resolved;
use lowbit_core::eval::{Compression, Dataset, Network, Probe, act, evaluate, reference, sensitivity};
use lowbit_core::nn::DigitCnn;
use lowbit_core::quant::QuantSpec;
use lowbit_core::readers;

fn cnn() -> DigitCnn {
    let bytes = std::fs::read(data("digit-cnn")).unwrap();
    DigitCnn::from_checkpoint(&readers::read(&bytes).unwrap()).unwrap()
}

/// MNIST's test (or train) split.
pub fn mnist(split: &str) -> Dataset {
    let dir = data("mnist");
    let _ = root();
    let prefix = if split == "test" { "t10k" } else { "train" };
    let img = std::fs::read(dir.join(format!("{prefix}-images-idx3-ubyte"))).unwrap();
    let lab = std::fs::read(dir.join(format!("{prefix}-labels-idx1-ubyte"))).unwrap();
    lowbit_core::eval::data::mnist(&img, &lab).unwrap()
}

fn weights(spec: QuantSpec, layers: usize) -> Vec<Resolved> {
    vec![Compression { quant: Some(spec), prune: None }.resolve().unwrap(); layers]
}

fn int_channel(bits: u32, range: &str) -> QuantSpec {
    QuantSpec { granularity: Some("channel:0".into()), range: Some(range.into()), ..QuantSpec::new("int", Some(bits)) }
}

#[test]
fn the_batched_forward_pass_equals_the_direct_one() {
    let cnn = cnn();
    let net = DigitNet::new(&cnn);
    let set = mnist("test").take(130);
    let w: Vec<&[f32]> = net.layers().iter().map(|l| l.weight.as_slice()).collect();
    let logits = net.with_weights(&w).unwrap().run(&set.x, set.n, &mut Probe::default()).unwrap();
    for i in 0..set.n {
        let direct = cnn.forward(set.slice(i..i + 1)).unwrap().logits;
        for (a, b) in logits[i * 10..(i + 1) * 10].iter().zip(&direct) {
            assert!((a - b).abs() <= 1e-4 * (1.0 + b.abs()), "image {i}: {a} vs {b}");
        }
    }
}

#[test]
fn accuracies_match_data_md_on_all_10000_test_images() {
    let net = DigitNet::new(&cnn());
    let set = mnist("test");
    let r = reference(&net, &set).unwrap();
    assert_eq!((r.accuracy.unwrap() * 10_000.0).round(), 9906.0, "fp32 99.06 %");
    // DATA.md: per output channel, max clip, biases fp32.
    for (range, oracle) in [("full", [9907.0, 9901.0, 9891.0, 9879.0]), ("narrow", [9908.0, 9899.0, 9882.0, 3740.0])] {
        for (bits, want) in [8, 4, 3, 2].into_iter().zip(oracle) {
            let e = evaluate(&net, &set, &r, &weights(int_channel(bits, range), 5), None, false).unwrap();
            assert_eq!((e.accuracy.unwrap() * 10_000.0).round(), want, "int{bits} {range}");
            let [lo, hi] = e.accuracy_ci95.unwrap();
            assert!(lo < e.accuracy.unwrap() && e.accuracy.unwrap() < hi);
        }
    }
}

#[test]
fn layer_measures_see_what_the_compression_did() {
    let net = DigitNet::new(&cnn());
    let set = mnist("test").take(300);
    let r = reference(&net, &set).unwrap();
    let none = evaluate(&net, &set, &r, &[Resolved::NONE; 5], None, true).unwrap();
    assert_eq!((none.agreement, none.kl, none.bits_per_param), (1.0, 0.0, 32.0));
    assert!(none.layers.iter().all(|l| l.output_sqnr_db == Some(f64::INFINITY)));
    let e8 = evaluate(&net, &set, &r, &weights(int_channel(8, "full"), 5), None, true).unwrap();
    let e4 = evaluate(&net, &set, &r, &weights(int_channel(4, "full"), 5), None, true).unwrap();
    for (a, b) in e8.layers.iter().zip(&e4.layers) {
        // 6 dB per bit on the weights; outputs degrade with the weights.
        assert!((a.weight_sqnr_db - b.weight_sqnr_db - 24.0).abs() < 3.0, "{}: {a:?} {b:?}", a.name);
        assert!(a.output_sqnr_db.unwrap() > b.output_sqnr_db.unwrap() + 15.0);
        assert!(a.output_sqnr_db.unwrap() < a.weight_sqnr_db + 10.0);
    }
    assert!(e4.kl > e8.kl && e8.kl > 0.0 && e4.agreement <= e8.agreement);
    // int8 per channel: 8 bits + one fp32 scale per output channel.
    let fc1 = &e8.layers[3];
    assert_eq!(fc1.bits_per_param, 8.0 + 32.0 * 256.0 / (256.0 * 1152.0));
    let pruned = Compression {
        quant: None,
        prune: Some(lowbit_core::prune::PruneSpec { pattern: "fine".into(), sparsity: 0.5, saliency: None }),
    };
    let p = evaluate(&net, &set, &r, &[pruned.resolve().unwrap(); 5], None, false).unwrap();
    assert!((p.sparsity - 0.5).abs() < 0.01, "{}", p.sparsity);
}

#[test]
fn activations_are_quantized_with_clips_calibrated_on_the_training_split() {
    let net = DigitNet::new(&cnn());
    let set = mnist("test").take(1000);
    let calib = mnist("train").take(500);
    let r = reference(&net, &set).unwrap();
    let w8 = weights(int_channel(8, "full"), 5);
    let mut acc = Vec::new();
    for (format, bits, clip) in [("uint", 8, "max"), ("uint", 4, "mse"), ("uint", 4, "octav"), ("fp8-e4m3", 0, "max")] {
        let spec = QuantSpec { clip: Some(clip.into()), ..QuantSpec::new(format, (bits > 0).then_some(bits)) };
        let q = act::calibrate(&net, &calib, &spec.resolve().unwrap()).unwrap();
        assert_eq!(q.len(), 5);
        // The clips are a function of the calibration set only.
        let again = act::calibrate(&net, &calib, &spec.resolve().unwrap()).unwrap();
        assert_eq!(q, again);
        let e = evaluate(&net, &set, &r, &w8, Some(&q), true).unwrap();
        acc.push((format, bits, clip, e.accuracy.unwrap(), e.kl));
    }
    let (u8acc, u8kl) = (acc[0].3, acc[0].4);
    assert!(u8acc >= r.accuracy.unwrap() - 0.003, "{acc:?}");
    // Four bits cost more than eight; the MSE-optimal clip beats max clipping at four (tested through KL).
    assert!(acc[1].4 > u8kl && acc[2].4 > u8kl, "{acc:?}");
    let max4 = {
        let spec = QuantSpec { clip: Some("max".into()), ..QuantSpec::new("uint", Some(4)) };
        let q = act::calibrate(&net, &calib, &spec.resolve().unwrap()).unwrap();
        evaluate(&net, &set, &r, &w8, Some(&q), false).unwrap().kl
    };
    assert!(acc[1].4 < max4 && acc[2].4 < max4, "mse {} octav {} max {max4}", acc[1].4, acc[2].4);
    let bad = QuantSpec::new("mxfp4", None).resolve().unwrap();
    assert!(act::calibrate(&net, &calib, &bad).unwrap_err().message.contains("int, uint or a minifloat"));
}

#[test]
fn sensitivity_ranks_every_layer_in_both_views() {
    let net = DigitNet::new(&cnn());
    let set = mnist("test").take(400);
    let r = reference(&net, &set).unwrap();
    let c = Compression { quant: Some(int_channel(2, "full")), prune: None }.resolve().unwrap();
    let mut steps = Vec::new();
    let s = sensitivity::sensitivity(&net, &set, &r, &c, None, &mut |d, t| {
        steps.push((d, t));
        Ok(())
    })
    .unwrap();
    assert_eq!(steps.last(), Some(&(11, 11)));
    assert_eq!(s.layers.len(), 5);
    assert!(s.layers.windows(2).all(|w| w[0].kl >= w[1].kl));
    let mut ranks: Vec<usize> = s.layers.iter().map(|l| l.rank_accuracy).collect();
    ranks.sort();
    assert_eq!(ranks, [1, 2, 3, 4, 5]);
    // Each view is the evaluation it names.
    let l = s.layers.iter().find(|l| l.name == "fc_layers.0.weight").unwrap();
    let mut only = vec![Resolved::NONE; 5];
    only[3] = c;
    assert_eq!(evaluate(&net, &set, &r, &only, None, false).unwrap().kl, l.kl);
    let mut but = vec![c; 5];
    but[3] = Resolved::NONE;
    assert_eq!(evaluate(&net, &set, &r, &but, None, false).unwrap().accuracy, l.all_but_accuracy);
    assert!(s.all.kl > 0.0 && s.all.layers.iter().all(|l| l.output_sqnr_db.is_some()));
    // Cancellation through the progress callback.
    let stop = sensitivity::sensitivity(&net, &set, &r, &c, None, &mut |d, _| {
        if d >= 3 { Err(lowbit_core::Error::param("cancelled")) } else { Ok(()) }
    });
    assert!(stop.is_err());
}

/// A synthetic table: the knapsack is checked against enumerating every assignment.
fn table(seed: u64, layers: usize, cands: usize) -> Table {
    let mut s = lowbit_core::sample::Sampler::new(seed);
    let params: Vec<usize> = (0..layers).map(|_| 100 + (s.uniform() * 1000.0) as usize).collect();
    let cells = params
        .iter()
        .map(|&p| {
            (0..cands)
                .map(|j| {
                    let bits = (2 + 2 * j) as u64 * p as u64 + (s.uniform() * 64.0) as u64;
                    Cell { bits, accuracy: None, kl: s.uniform() * 4f64.powi(-(j as i32)) }
                })
                .collect()
        })
        .collect();
    Table {
        layers: (0..layers).map(|i| format!("l{i}")).collect(),
        params,
        candidates: (0..cands).map(|j| format!("c{j}")).collect(),
        cells,
    }
}

#[test]
fn the_knapsack_is_exact_against_brute_force() {
    let r = lowbit_core::eval::Reference { logits: vec![], n: 0, accuracy: None };
    for seed in 0..20 {
        let t = table(seed, 5, 4);
        let front = t.frontier(&r, Objective::Kl).unwrap();
        assert!(front.windows(2).all(|w| w[0].bits < w[1].bits && w[0].cost > w[1].cost));
        let params = t.total_params() as f64;
        for budget in [2.5, 3.0, 4.2, 5.5, 7.0, 9.0] {
            let mut best = f64::INFINITY;
            for code in 0..4usize.pow(5) {
                let a: Vec<usize> = (0..5).map(|i| code / 4usize.pow(i as u32) % 4).collect();
                let bits: u64 = a.iter().enumerate().map(|(i, &j)| t.cells[i][j].bits).sum();
                if bits as f64 <= budget * params {
                    best = best.min(a.iter().enumerate().map(|(i, &j)| t.cells[i][j].kl).sum());
                }
            }
            match mixed::choose(&t, &front, budget) {
                Ok(p) => {
                    assert!((p.cost - best).abs() < 1e-12, "seed {seed} budget {budget}: {} vs {best}", p.cost);
                    assert!(p.bits as f64 <= budget * params);
                }
                Err(e) => {
                    assert!(best.is_infinite(), "seed {seed} budget {budget}");
                    assert!(e.message.contains("below the cheapest"), "{}", e.message);
                }
            }
        }
    }
}

#[test]
fn bad_evaluation_sets_are_clear_errors() {
    let net = DigitNet::new(&cnn());
    let err = |r: lowbit_core::Result<Dataset>| r.and_then(|d| d.check_for(&net).map(|_| d)).unwrap_err().message;
    assert!(err(Dataset::new(vec![], &[0, 784], None)).contains("empty"));
    assert!(err(Dataset::new(vec![0.0; 2 * 100], &[2, 100], None)).contains("[1, 28, 28]"));
    assert!(
        err(Dataset::new(vec![0.0; 784], &[1, 784], Some(vec![12]))).contains("label 12 of sample 0 is out of range")
    );
    let mut x = vec![0.0; 2 * 784];
    x[800] = f32::NAN;
    assert!(err(Dataset::new(x, &[2, 784], None)).contains("NaN at sample 1"));
    assert!(err(Dataset::new(vec![0.0; 784], &[1, 784], Some(vec![1, 2]))).contains("2 labels for 1 samples"));
    // A flat [n, 784] set runs the [1, 28, 28] network.
    assert!(Dataset::new(vec![0.0; 784], &[1, 784], Some(vec![1])).unwrap().check_for(&net).is_ok());
    assert!(mixed::candidates("int4,fp99", None, None).unwrap_err().message.contains("fp99"));
    assert!(mixed::candidates("int4,int4", None, None).unwrap_err().message.contains("twice"));
    let c = mixed::candidates("int2, int4,mxfp4,nvfp4,fp8-e4m3", Some("octav"), Some("narrow")).unwrap();
    assert_eq!(c.len(), 5);
}
