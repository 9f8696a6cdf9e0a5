//! Checkpoint diff on hand-built checkpoints: pairing by name, by an exporter's prefix and by content
//! (transposed), a symmetric int8 per-row encoding read from `_q`/`_scale` and dequantized exactly.

use lowbit_core::diff::{Pairing, diff};
use lowbit_core::readers::{DType, TensorEntry};
use std::borrow::Cow;

fn f32_entry(name: &str, shape: &[usize], v: &[f32]) -> TensorEntry<'static> {
    TensorEntry {
        name: name.into(),
        dtype: DType::F32,
        shape: shape.to_vec(),
        data: Cow::Owned(v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        big_endian: false,
    }
}

#[test]
fn a_checkpoint_against_itself_is_exact() {
    let w = crate::util::gaussian(1, 96);
    let a = vec![f32_entry("w", &[8, 12], &w), f32_entry("b", &[12], &w[..12])];
    let d = diff(&a, &a, &[]).unwrap();
    assert_eq!(d.pairs.len(), 2);
    assert!(
        d.pairs.iter().all(|p| p.pairing == Pairing::Name && p.sqnr_db.is_infinite() && (p.cosine - 1.0).abs() < 1e-12)
    );
    assert_eq!(d.pairs[0].hist_a, d.pairs[0].hist_b);
}

#[test]
fn encodings_prefixes_and_transposes_are_found() {
    let (rows, cols) = (8usize, 16usize);
    let w = crate::util::gaussian(2, rows * cols);
    let v = crate::util::gaussian(3, 6 * 10);
    let a = vec![f32_entry("layer.w", &[rows, cols], &w), f32_entry("layer.v", &[6, 10], &v)];
    // Symmetric int8 per row, narrow range, as onnxruntime's dynamic quantization stores weights.
    let scales: Vec<f32> =
        (0..rows).map(|r| w[r * cols..(r + 1) * cols].iter().fold(0f32, |m, x| m.max(x.abs())) / 127.0).collect();
    let q: Vec<i8> = (0..rows * cols).map(|i| (w[i] / scales[i / cols]).round_ties_even() as i8).collect();
    let vt = lowbit_core::diff::transpose(&v, 6, 10);
    let b = vec![
        TensorEntry {
            name: "inner.layer.w_q".into(),
            dtype: DType::I8,
            shape: vec![rows, cols],
            data: Cow::Owned(q.iter().map(|&c| c as u8).collect()),
            big_endian: false,
        },
        f32_entry("inner.layer.w_scale", &[rows, 1], &scales),
        f32_entry("val_7", &[10, 6], &vt),
    ];
    let d = diff(&a, &b, &[]).unwrap();
    assert_eq!(d.pairs.len(), 2, "{:?}", d.pairs.iter().map(|p| (&p.a, &p.b)).collect::<Vec<_>>());
    let pw = &d.pairs[0];
    assert_eq!((pw.a.as_str(), pw.b.as_str(), pw.pairing), ("layer.w", "inner.layer.w", Pairing::NameSuffix));
    let e = pw.encoding.as_ref().unwrap();
    assert_eq!((e.bits, e.granularity.as_str(), e.scales, e.symmetric, e.code_max), (8, "channel:0", rows, true, 127));
    // Dequantized exactly: the error is the int8 rounding, at most half a step per row.
    let half_step = scales.iter().fold(0f32, |m, &s| m.max(s)) as f64 / 2.0;
    assert!(pw.max_abs_err <= half_step * 1.0001 && pw.sqnr_db > 35.0, "{} {}", pw.max_abs_err, pw.sqnr_db);
    let pv = &d.pairs[1];
    assert_eq!((pv.b.as_str(), pv.pairing, pv.transposed), ("val_7", Pairing::Content, true));
    assert!(pv.sqnr_db.is_infinite());
    // A forced pair comes first; one of different sizes is refused.
    let forced = diff(&a, &b, &[("layer.v".into(), "val_7".into())]).unwrap();
    assert_eq!(forced.pairs.iter().find(|p| p.b == "val_7").unwrap().pairing, Pairing::User);
    assert!(diff(&a, &b, &[("layer.w".into(), "val_7".into())]).unwrap_err().message.contains("cannot be compared"));
    assert!(diff(&a, &b, &[("nope".into(), "val_7".into())]).unwrap_err().message.contains("`nope`"));
}
