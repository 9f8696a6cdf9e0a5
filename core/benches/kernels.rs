//! Criterion benchmarks of the hot kernels on a 16 Mi-element Gaussian tensor, next to a memcpy of the same
//! buffer (the bar the issue sets: int fake-quant ≤ 2×, OCTAV ≤ 4×, MXFP4/NVFP4 ≤ 4× memcpy).
//! Run: `cargo bench -p lowbit-core --bench kernels`. `lowbit bench` prints the same ratios directly.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lowbit_core::clip::octav::{OctavParams, octav};
use lowbit_core::clip::{Magnitude, amax};
use lowbit_core::formats::IntGrid;
use lowbit_core::quant::{MxElement, MxScaleMode, mx, nvfp4};
use lowbit_core::sample::Sampler;
use std::hint::black_box;

const N: usize = 16 << 20;

fn kernels(c: &mut Criterion) {
    let x = Sampler::new(42).gaussian_vec(N);
    let mut out = x.clone();
    let mut g = c.benchmark_group("16Mi f32");
    g.sample_size(10).throughput(Throughput::Bytes(4 * N as u64));
    g.bench_function("memcpy", |b| b.iter(|| out.copy_from_slice(black_box(&x))));
    let grid = IntGrid::new(4, true);
    g.bench_function("int4 fake-quant, known scale", |b| b.iter(|| grid.fake_quant(black_box(&x), 0.3125, &mut out)));
    g.bench_function("max|x|", |b| b.iter(|| amax(black_box(&x), Magnitude::Abs)));
    let p = OctavParams { q: 4f64.powi(-4) / 3.0, exclude_zeros: false };
    g.bench_function("OCTAV int4 per-tensor", |b| b.iter(|| octav(black_box(&x), Magnitude::Abs, p)));
    g.bench_function("MXFP4 quant-dequant", |b| {
        b.iter(|| mx::quantize_into(black_box(&x), &mut out, N, 32, MxElement::Fp4E2M1, MxScaleMode::Floor))
    });
    g.bench_function("NVFP4 quant-dequant", |b| b.iter(|| nvfp4::quantize_into(black_box(&x), &mut out, N, 16)));
    g.finish();
}

criterion_group!(benches, kernels);
criterion_main!(benches);
