//! The readers on the real files of DATA.md, checked against the facts DATA.md records, plus npz and
//! PyTorch archives built here.

use crate::util::data;
use lowbit_core::readers::{self, DType, FileFormat, npy, zip};

#[test]
fn minilm_safetensors_has_the_documented_tensors() {
    let bytes = std::fs::read(data("minilm")).unwrap();
    let c = readers::read(&bytes).unwrap();
    assert_eq!(c.format, FileFormat::Safetensors);
    assert_eq!(c.tensors.len(), 104);
    assert_eq!(c.tensors.iter().filter(|t| t.dtype == DType::F32).count(), 103);
    assert_eq!(c.tensors.iter().filter(|t| t.dtype == DType::I64).count(), 1);
    let total: usize = c.tensors.iter().filter(|t| t.dtype == DType::F32).map(|t| t.numel()).sum();
    assert!((22_600_000..22_800_000).contains(&total), "{total} parameters");
    let largest = c.tensors.iter().max_by_key(|t| t.numel()).unwrap();
    assert_eq!(
        (largest.name.as_str(), largest.shape.as_slice()),
        ("embeddings.word_embeddings.weight", &[30522, 384][..])
    );
}

#[test]
fn the_digit_cnn_pth_reads_without_running_pickle_code() {
    let bytes = std::fs::read(data("digit-cnn")).unwrap();
    let c = readers::read(&bytes).unwrap();
    assert_eq!(c.format, FileFormat::PyTorch);
    let shapes: Vec<(&str, &[usize])> = c.tensors.iter().map(|t| (t.name.as_str(), t.shape.as_slice())).collect();
    // conv3x3 32→64→128, FC 1152→256→10 (DATA.md).
    assert!(shapes.contains(&("conv_layers.0.weight", &[32, 1, 3, 3][..])));
    assert!(shapes.contains(&("conv_layers.6.weight", &[128, 64, 3, 3][..])));
    assert!(shapes.contains(&("fc_layers.0.weight", &[256, 1152][..])));
    assert!(shapes.contains(&("fc_layers.2.weight", &[10, 256][..])));
    let w = c.tensors.iter().find(|t| t.name == "fc_layers.0.weight").unwrap().to_f32().unwrap();
    assert!(w.iter().all(|v| v.is_finite() && v.abs() < 1.0));
}

#[test]
fn onnx_weights_in_constant_nodes_are_found() {
    // DATA.md: 53 convs, 133,777 parameters, weights stored as Constant nodes.
    let bytes = std::fs::read(data("onnx-cls")).unwrap();
    let c = readers::read(&bytes).unwrap();
    assert_eq!(c.format, FileFormat::Onnx);
    // DATA.md's count includes the small I64/I32 shape constants (77 elements) beside the F32 weights.
    let params: usize = c.tensors.iter().map(|t| t.numel()).sum();
    assert_eq!(params, 133_777);
    assert_eq!(c.tensors.iter().filter(|t| t.dtype.is_float()).map(|t| t.numel()).sum::<usize>(), 133_700);
    let convs = c.tensors.iter().filter(|t| t.shape.len() == 4).count();
    assert_eq!(convs, 53);
}

#[test]
fn the_int8_minilm_onnx_holds_its_quantized_tensors() {
    // DATA.md: 38 INT8 `*_q` tensors with per-row scales.
    let bytes = std::fs::read(data("minilm-int8")).unwrap();
    let c = readers::read(&bytes).unwrap();
    let q: Vec<_> = c.tensors.iter().filter(|t| t.dtype == DType::I8 && t.name.ends_with("_q")).collect();
    assert_eq!(q.len(), 38);
    assert!(q.iter().all(|t| t.to_f32().unwrap().iter().all(|v| (-128.0..=127.0).contains(v))));
}

/// A stored-or-deflated zip written here (local headers + central directory + EOCD).
fn make_zip(members: &[(&str, Vec<u8>, bool)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data, deflate) in members {
        let body = if *deflate { miniz_oxide::deflate::compress_to_vec(data, 6) } else { data.clone() };
        let offset = out.len() as u32;
        let method: u16 = if *deflate { 8 } else { 0 };
        let mut local = b"PK\x03\x04".to_vec();
        local.extend_from_slice(&[20, 0, 0, 0]);
        local.extend_from_slice(&method.to_le_bytes());
        local.extend_from_slice(&[0; 8]); // time, date, crc (not checked by readers of this kind)
        local.extend_from_slice(&(body.len() as u32).to_le_bytes());
        local.extend_from_slice(&(data.len() as u32).to_le_bytes());
        local.extend_from_slice(&(name.len() as u16).to_le_bytes());
        local.extend_from_slice(&[0, 0]);
        local.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&local);
        out.extend_from_slice(&body);
        let mut c = b"PK\x01\x02".to_vec();
        c.extend_from_slice(&[20, 0, 20, 0, 0, 0]);
        c.extend_from_slice(&method.to_le_bytes());
        c.extend_from_slice(&[0; 8]);
        c.extend_from_slice(&(body.len() as u32).to_le_bytes());
        c.extend_from_slice(&(data.len() as u32).to_le_bytes());
        c.extend_from_slice(&(name.len() as u16).to_le_bytes());
        c.extend_from_slice(&[0; 12]);
        c.extend_from_slice(&offset.to_le_bytes());
        c.extend_from_slice(name.as_bytes());
        central.extend_from_slice(&c);
    }
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(b"PK\x05\x06\0\0\0\0");
    out.extend_from_slice(&(members.len() as u16).to_le_bytes());
    out.extend_from_slice(&(members.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    out
}

#[test]
fn npz_members_stored_or_deflated_read_back() {
    let a = npy::write_f32(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let b = npy::write_f32(&[4], &[0.5; 4]);
    let z = make_zip(&[("a.npy", a, false), ("b.npy", b, true)]);
    let c = readers::read(&z).unwrap();
    assert_eq!(c.format, FileFormat::Npz);
    assert_eq!(c.tensors.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), vec!["a", "b"]);
    assert_eq!(c.tensors[1].to_f32().unwrap(), vec![0.5; 4]);
    assert_eq!(zip::entries(&z, &Default::default()).unwrap().len(), 2);
    // Cutting the archive anywhere before its end is an error, never a panic.
    for cut in (0..z.len()).step_by(7) {
        let _ = readers::read(&z[..cut]);
    }
}

#[test]
fn a_pytorch_archive_with_a_strided_view_reads_in_logical_order() {
    // data.pkl for {'w': _rebuild_tensor_v2(storage('0', FloatStorage, 6 elems), offset 0, size (2, 3),
    // stride (1, 2))}: a transposed view of [0..6], i.e. [[0, 2, 4], [1, 3, 5]]. Written by hand in
    // protocol 2 opcodes.
    let mut p = b"\x80\x02}q\x00X\x01\x00\x00\x00wctorch._utils\n_rebuild_tensor_v2\n(".to_vec();
    p.extend_from_slice(
        b"(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x06tQ",
    );
    p.extend_from_slice(b"K\x00K\x02K\x03\x86K\x01K\x02\x86\x89)tRs.");
    let storage: Vec<u8> = (0..6).flat_map(|i| (i as f32).to_le_bytes()).collect();
    let z = make_zip(&[("archive/data.pkl", p, false), ("archive/data/0", storage, false)]);
    let c = readers::read(&z).unwrap();
    assert_eq!(c.format, FileFormat::PyTorch);
    assert_eq!(c.tensors[0].name, "w");
    assert_eq!(c.tensors[0].shape, vec![2, 3]);
    assert_eq!(c.tensors[0].to_f32().unwrap(), vec![0.0, 2.0, 4.0, 1.0, 3.0, 5.0]);
}
