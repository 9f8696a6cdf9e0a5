//! Bad input gives a clear error naming the problem (or a defined result for all-zero tensors), never a panic.

use lowbit_core::ErrorKind;
use lowbit_core::granularity::Granularity;
use lowbit_core::quant::{self, Format, QuantConfig, QuantSpec};
use lowbit_core::readers::{self, npy, safetensors};
use std::collections::BTreeMap;

fn err(x: &[f32], shape: &[usize], cfg: &QuantConfig) -> String {
    quant::quantize(x, shape, cfg).unwrap_err().message
}

#[test]
fn nan_inf_and_empty_tensors_are_named() {
    let cfg = QuantConfig::new(Format::Int { bits: 4 });
    assert!(err(&[1.0, f32::NAN, 2.0], &[3], &cfg).contains("element 1 is NaN"));
    assert!(err(&[f32::INFINITY, f32::NEG_INFINITY], &[2], &cfg).contains("2 non-finite"));
    assert!(err(&[], &[0], &cfg).contains("empty"));
    assert!(err(&[1.0, 2.0], &[3], &cfg).contains("holds 3 elements"));
}

#[test]
fn a_zero_tensor_has_a_defined_result_in_every_format() {
    let x = vec![0.0f32; 64];
    for name in lowbit_core::quant::FORMAT_NAMES {
        for clip in ["max", "octav", "mse", "kl", "aciq-gauss", "percentile:99"] {
            let Ok(cfg) = (QuantSpec { clip: Some(clip.into()), ..QuantSpec::new(name, None) }).resolve() else {
                continue;
            };
            let Ok(a) = quant::analyze(&x, &[8, 8], &cfg) else { continue };
            assert!(a.output.dequant.iter().all(|&v| v == 0.0), "{name} {clip}");
            assert!(a.output.clips.iter().all(|&c| c == 0.0), "{name} {clip}: {:?}", a.output.clips);
            assert_eq!(a.metrics.mse, 0.0);
            assert!(a.metrics.sqnr_db.is_nan(), "SQNR of a zero signal is undefined");
        }
    }
}

#[test]
fn absurd_parameters_are_rejected() {
    let bad = |s: QuantSpec| s.resolve().unwrap_err();
    assert_eq!(bad(QuantSpec::new("int", Some(0))).kind, ErrorKind::InvalidParameter);
    assert!(bad(QuantSpec::new("int", Some(33))).message.contains("2 to 16"));
    assert!(
        bad(QuantSpec { granularity: Some("vector:0".into()), ..QuantSpec::new("int", Some(4)) })
            .message
            .contains("at least 1")
    );
    assert!(
        bad(QuantSpec { clip: Some("percentile:0".into()), ..QuantSpec::new("int", Some(4)) })
            .message
            .contains("outside")
    );
    assert!(
        bad(QuantSpec { clip: Some("octav".into()), ..QuantSpec::new("fp8-e4m3", None) })
            .message
            .contains("uniform integer grid")
    );
    assert!(Granularity::vector(0).is_err());
    let cfg = QuantConfig::new(Format::Int { bits: 4 }).with_granularity(Granularity::Channel { axis: 3 });
    assert!(err(&[1.0; 6], &[2, 3], &cfg).contains("axis 3"));
}

#[test]
fn truncated_and_lying_files_are_rejected_with_a_reason() {
    let w = [1.0f32, 2.0, 3.0, 4.0];
    let st = safetensors::write(&[safetensors::WriteTensor::f32("w", &[2, 2], &w)], &BTreeMap::new()).unwrap();
    for cut in [0, 4, 9, st.len() - 1] {
        let e = readers::read(&st[..cut]).unwrap_err();
        assert!(!e.message.is_empty(), "cut {cut}");
    }
    let n = npy::write_f32(&[2, 2], &w);
    assert!(readers::read(&n[..n.len() - 3]).unwrap_err().message.contains("truncated"));
    // A zip whose central directory is cut off, and random bytes.
    assert!(readers::read(b"PK\x03\x04garbage").unwrap_err().message.contains("end-of-central-directory"));
    assert!(readers::read(&[7u8; 100]).unwrap_err().message.contains("not a recognised"));
    assert!(readers::read(&[]).unwrap_err().message.contains("empty"));
    // An ONNX-looking file with a length that runs past the end.
    assert!(readers::read(b"\x08\x07\x3a\xff\xff\x03abc").is_err());
    // A legacy torch pickle is named as such.
    assert!(readers::read(b"\x80\x02\x8a\x0a").unwrap_err().message.contains("legacy"));
}

#[test]
fn hostile_headers_do_not_allocate_what_they_claim() {
    // safetensors: a shape that overflows, an offset beyond the data.
    let mut f = Vec::new();
    let header = br#"{"w":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,16]}}"#;
    f.extend_from_slice(&(header.len() as u64).to_le_bytes());
    f.extend_from_slice(header);
    f.extend_from_slice(&[0u8; 16]);
    assert!(readers::read(&f).unwrap_err().message.contains("overflows"));
    let header = br#"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,4000000]}}"#;
    let mut g = (header.len() as u64).to_le_bytes().to_vec();
    g.extend_from_slice(header);
    g.extend_from_slice(&[0u8; 16]);
    assert!(readers::read(&g).unwrap_err().message.contains("data_offsets"));
}

#[test]
fn inputs_the_fuzzer_found_are_errors() {
    // An npy descr whose first character is two bytes long (`ē4`): once a panic slicing inside it.
    let npy = b"\x93NUMPY\x01\x00\x40\x00{'descr': '\xc4\x934', 'fortran_order': False, 'shape': (4,), }          \n\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";
    assert!(readers::read(npy).unwrap_err().message.contains("byte-order"));
    // Every input the fuzzer saved as a crash is kept in the corpus and read here without a panic.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/read");
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("found-")) {
            let _ = readers::read_with(&std::fs::read(&p).unwrap(), &readers::Limits::page());
        }
    }
}
