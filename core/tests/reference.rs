//! Every fast path against a slow, obvious implementation written here from the definitions.

use crate::util::{data, gaussian, rel};
use lowbit_core::clip::Magnitude;
use lowbit_core::clip::octav::{OctavParams, octav, octav_reference};
use lowbit_core::formats::{IntGrid, MiniFloat};
use lowbit_core::quant::{self, Format, MxElement, QuantConfig};
use lowbit_core::readers;

/// Nearest grid value by brute force; ties go to the even code (even index among the positive values).
fn nearest(grid: &[f32], a: f32) -> f32 {
    let mut best = 0;
    for (i, &g) in grid.iter().enumerate() {
        let (d, db) = ((g - a).abs(), (grid[best] - a).abs());
        if d < db || (d == db && i % 2 == 0) {
            best = i;
        }
    }
    grid[best]
}

fn slow_minifloat(mf: MiniFloat, v: f32) -> f32 {
    let grid = mf.positive_values();
    nearest(&grid, v.abs().min(mf.max_normal())).copysign(v)
}

/// Values with many exact ties: multiples of 1/8 and random ones.
fn tricky(n: usize) -> Vec<f32> {
    let g = gaussian(99, n);
    g.iter().enumerate().map(|(i, &v)| if i % 3 == 0 { (v * 16.0).round() / 8.0 } else { v * 2.0 }).collect()
}

#[test]
fn int_fake_quant_equals_the_obvious_loop() {
    let x = tricky(100_003);
    for bits in [2, 3, 4, 8, 16] {
        for signed in [true, false] {
            let g = IntGrid::new(bits, signed);
            for delta in [0.125f32, 0.1, 0.37, 1e-3] {
                let mut out = vec![0.0; x.len()];
                g.fake_quant(&x, delta, &mut out);
                for (&v, &o) in x.iter().zip(&out) {
                    let want = (v / delta).round_ties_even().clamp(g.lo(), g.hi()) * delta;
                    // Equal as numbers (the fast path may give +0 where round_ties_even gives −0).
                    assert_eq!(o, want, "bits {bits} signed {signed} Δ {delta} x {v}");
                }
            }
        }
    }
}

#[test]
fn mx_blocks_equal_the_spec_algorithm_written_plainly() {
    let x = tricky(32 * 500);
    for elem in [
        MxElement::Fp4E2M1,
        MxElement::Fp6E2M3,
        MxElement::Fp6E3M2,
        MxElement::Fp8E4M3,
        MxElement::Fp8E5M2,
        MxElement::Int8,
    ] {
        let out = quant::quantize(&x, &[x.len()], &QuantConfig::new(Format::Mx(elem))).unwrap();
        for (b, (xs, os)) in x.chunks(32).zip(out.dequant.chunks(32)).enumerate() {
            let amax = xs.iter().fold(0f64, |a, &v| a.max(v.abs() as f64));
            let e = (amax.log2().floor() as i32 - elem.emax()).clamp(-127, 127);
            let scale = 2f64.powi(e) as f32;
            for (&v, &o) in xs.iter().zip(os) {
                let want = match elem.minifloat() {
                    Some(mf) => slow_minifloat(mf, v / scale) * scale,
                    None => ((v / scale * 64.0).round_ties_even().clamp(-127.0, 127.0) / 64.0) * scale,
                };
                assert_eq!(o, want, "{elem:?} block {b} x {v}");
            }
        }
    }
}

#[test]
fn nvfp4_equals_the_modelopt_recipe_written_plainly() {
    let x = tricky(16 * 700);
    let out = quant::quantize(&x, &[x.len()], &QuantConfig::new(Format::Nvfp4)).unwrap();
    let amax = x.iter().fold(0f32, |a, &v| a.max(v.abs()));
    let s_tensor = amax / (6.0 * 448.0);
    for (xs, os) in x.chunks(16).zip(out.dequant.chunks(16)) {
        let bmax = xs.iter().fold(0f32, |a, &v| a.max(v.abs()));
        let sb = slow_minifloat(MiniFloat::E4M3, bmax / (6.0 * s_tensor));
        let sb = if sb == 0.0 { 1.0 } else { sb };
        for (&v, &o) in xs.iter().zip(os) {
            let want = slow_minifloat(MiniFloat::E2M1, v / (sb * s_tensor)) * (sb * s_tensor);
            assert_eq!(o, want, "x {v}");
        }
    }
}

#[test]
fn scaled_minifloat_formats_equal_per_element_rounding() {
    let x = tricky(50_000);
    for (name, mf) in [
        ("fp8-e4m3", MiniFloat::E4M3),
        ("fp8-e5m2", MiniFloat::E5M2),
        ("fp6-e3m2", MiniFloat::E3M2),
        ("fp4-e2m1", MiniFloat::E2M1),
    ] {
        let cfg = quant::QuantSpec::new(name, None).resolve().unwrap();
        let out = quant::quantize(&x, &[x.len()], &cfg).unwrap();
        let scale = out.clips[0] / mf.max_normal();
        for (&v, &o) in x.iter().zip(&out.dequant) {
            assert_eq!(o, slow_minifloat(mf, v / scale) * scale, "{name} x {v}");
        }
    }
}

#[test]
fn fast_octav_returns_the_plain_fixed_point_on_real_tensors() {
    // The bar: the same fixed point to 1e-6 relative, on MiniLM's real tensors.
    let path = data("minilm");
    let bytes = std::fs::read(path).unwrap();
    let c = readers::read(&bytes).unwrap();
    let mut checked = 0;
    for t in c.tensors.iter().filter(|t| t.dtype.is_float() && t.numel() >= 1 << 16) {
        let x = t.to_f32().unwrap();
        for bits in [3, 4, 8] {
            let p = OctavParams { q: 4f64.powi(-bits) / 3.0, exclude_zeros: false };
            let (fast, slow) = (octav(&x, Magnitude::Abs, p), octav_reference(&x, Magnitude::Abs, p));
            assert!(rel(fast.clip as f64, slow.clip as f64) <= 1e-6, "{} B={bits}: {fast:?} vs {slow:?}", t.name);
            checked += 1;
        }
    }
    assert!(checked >= 3 * 37, "checked {checked} tensor/bit pairs");
}
