//! The readers on the real files of DATA.md: parsing alone, and parsing with every tensor's statistics (what
//! an upload does). Written only against APIs older versions have too, so the same file measures a change
//! of the readers before and after. Run: `cargo bench -p lowbit-core --bench readers` (needs
//! `scripts/fetch-data.sh all`).

use criterion::{Criterion, criterion_group, criterion_main};
use lowbit_core::readers;
use lowbit_core::stats::TensorStats;
use std::hint::black_box;
use std::path::Path;

fn readers_on_real_files(c: &mut Criterion) {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data");
    let mut g = c.benchmark_group("readers");
    g.sample_size(10);
    for file in
        ["minilm.safetensors", "digit_cnn.pth", "ppocr_cls.onnx", "minilm_int8.onnx", "mnist/t10k-images-idx3-ubyte"]
    {
        let Ok(bytes) = std::fs::read(data.join(file)) else {
            eprintln!("skipping {file}: run scripts/fetch-data.sh all");
            continue;
        };
        g.bench_function(format!("parse {file}"), |b| {
            b.iter(|| readers::read(black_box(&bytes)).unwrap().tensors.len())
        });
        g.bench_function(format!("parse + statistics {file}"), |b| {
            b.iter(|| {
                let c = readers::read(black_box(&bytes)).unwrap();
                c.tensors.iter().map(|t| TensorStats::of(&t.to_f32().unwrap()).numel).sum::<usize>()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, readers_on_real_files);
criterion_main!(benches);
