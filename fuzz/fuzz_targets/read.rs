//! Any bytes as a tensor file, within the page's limits: detection and every reader (safetensors, npy, npz
//! and zip, PyTorch zip with its pickle, ONNX, IDX), then every tensor decoded. Must never panic, and never
//! allocate past libFuzzer's `-malloc_limit_mb` (what the limits promise).
#![no_main]

use lowbit_core::readers::{self, Limits};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_decoded_bytes: 256 << 20, ..Limits::page() };
    if let Ok(c) = readers::read_with(data, &limits) {
        for t in &c.tensors {
            let _ = t.for_each_chunk(1 << 12, |_| Ok(()));
        }
    }
});
