//! `lowbit bench`: single-thread throughput of the main kernels on a Gaussian tensor (16 Mi f32 by default),
//! each next to this machine's own memcpy of the same buffer, as a ratio (time / memcpy time). Best of
//! `--reps` runs; outputs are preallocated so page faults are not timed.

use super::BenchArgs;
use super::json::{num, print};
use anyhow::{Result, bail};
use lowbit_core::clip::octav::{OctavParams, octav, octav_reference};
use lowbit_core::clip::{Magnitude, amax};
use lowbit_core::formats::IntGrid;
use lowbit_core::quant::{MxElement, MxScaleMode, mx, nvfp4};
use lowbit_core::sample::Sampler;
use serde_json::json;
use std::hint::black_box;
use std::time::Instant;

fn best(reps: usize, mut f: impl FnMut()) -> f64 {
    (0..reps.max(1))
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

pub fn run(a: &BenchArgs) -> Result<()> {
    if a.size < 1024 || a.size > 1 << 30 {
        bail!("--size {} is outside 1024 … 2^30 elements", a.size);
    }
    let n = a.size;
    let mut rng = Sampler::new(42);
    let x = rng.gaussian_vec(n);
    let mut out = vec![0.0f32; n];
    out.copy_from_slice(&x); // touch every page before timing
    let reps = a.reps;

    let memcpy = best(reps, || out.copy_from_slice(black_box(&x)));
    let mut rows: Vec<(&str, f64, String)> = Vec::new();
    let grid = IntGrid::new(4, true);
    let delta = grid.step(2.5);
    rows.push((
        "int4 per-tensor fake-quant, known scale",
        best(reps, || grid.fake_quant(black_box(&x), delta, &mut out)),
        String::new(),
    ));
    let mut m = 0.0;
    rows.push(("max|x| pass", best(reps, || m = amax(black_box(&x), Magnitude::Abs)), format!("max {m:.3}")));
    let p = OctavParams { q: 4f64.powi(-4) / 3.0, exclude_zeros: false };
    let mut s = octav(&x, Magnitude::Abs, p);
    rows.push((
        "OCTAV int4 per-tensor (two-pass)",
        best(reps, || s = octav(black_box(&x), Magnitude::Abs, p)),
        format!("s = {:.6}, {} iterations", s.clip, s.iterations),
    ));
    let mut r = s;
    rows.push((
        "OCTAV int4 per-tensor (plain recursion)",
        best(1, || r = octav_reference(black_box(&x), Magnitude::Abs, p)),
        format!("s = {:.6}, {} iterations", r.clip, r.iterations),
    ));
    rows.push((
        "MXFP4 quant-dequant (FLOOR, k=32)",
        best(reps, || mx::quantize_into(black_box(&x), &mut out, n, 32, MxElement::Fp4E2M1, MxScaleMode::Floor)),
        String::new(),
    ));
    rows.push((
        "NVFP4 quant-dequant (k=16)",
        best(reps, || {
            nvfp4::quantize_into(black_box(&x), &mut out, n, 16);
        }),
        String::new(),
    ));
    let agree = ((s.clip - r.clip) / r.clip).abs();

    let gbs = |t: f64| 4.0 * n as f64 / t / 1e9;
    if a.json {
        print(&json!({
            "elements": n,
            "memcpy_ms": memcpy * 1e3,
            "memcpy_gb_per_s": num(gbs(memcpy)),
            "octav_relative_difference": num(agree as f64),
            "kernels": rows.iter().map(|(name, t, note)| json!({
                "kernel": name, "ms": t * 1e3, "gb_per_s": num(gbs(*t)), "ratio_to_memcpy": num(t / memcpy), "note": note,
            })).collect::<Vec<_>>(),
        }));
        return Ok(());
    }
    outln!("{} f32 elements ({:.0} MiB), best of {reps}, one thread", n, 4.0 * n as f64 / (1 << 20) as f64);
    outln!("{:<42} {:>9} {:>9} {:>10}", "kernel", "ms", "GB/s in", "× memcpy");
    outln!("{:<42} {:>9.2} {:>9.2} {:>10.2}", "memcpy (this machine)", memcpy * 1e3, gbs(memcpy), 1.0);
    for (name, t, note) in &rows {
        outln!("{:<42} {:>9.2} {:>9.2} {:>10.2}  {note}", name, t * 1e3, gbs(*t), t / memcpy);
    }
    outln!("two-pass OCTAV vs plain recursion: relative difference {agree:.2e}");
    Ok(())
}
