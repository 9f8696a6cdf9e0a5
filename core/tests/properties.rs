//! Property tests across shapes, granularities, formats and clip methods: quantization of finite input is
//! finite, scales are non-negative, sizes add up, and the MSE search never loses to max clipping.

use lowbit_core::ErrorKind;
use lowbit_core::quant::{self, QuantSpec};
use proptest::prelude::*;

fn shape_and_values() -> impl Strategy<Value = (Vec<usize>, Vec<f32>)> {
    prop::collection::vec(1usize..12, 1..4).prop_flat_map(|shape| {
        let n: usize = shape.iter().product();
        let value = prop_oneof![
            4 => -10.0f32..10.0,
            1 => Just(0.0f32),
            1 => -1e-3f32..1e-3,
            1 => prop::sample::select(vec![-1e4f32, 1e4, 0.5, -0.25]),
        ];
        (Just(shape), prop::collection::vec(value, n))
    })
}

fn spec() -> impl Strategy<Value = QuantSpec> {
    let format = prop::sample::select(lowbit_core::quant::FORMAT_NAMES.to_vec());
    let bits = prop::option::of(2u32..=8);
    let gran = prop::option::of(prop::sample::select(vec![
        "tensor",
        "channel",
        "channel:1",
        "vector:1",
        "vector:3",
        "vector:16",
        "vector:32",
    ]));
    let clip = prop::option::of(prop::sample::select(vec![
        "max",
        "percentile:99",
        "mse",
        "octav",
        "aciq-gauss",
        "aciq-laplace",
        "kl",
    ]));
    let scale_bits = prop::option::of(2u32..=8);
    (format, bits, gran, clip, scale_bits).prop_map(|(f, b, g, c, m)| QuantSpec {
        format: f.to_string(),
        bits: b,
        granularity: g.map(String::from),
        clip: c.map(String::from),
        scale_bits: m,
        ..QuantSpec::default()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, .. ProptestConfig::default() })]

    #[test]
    fn quantization_is_finite_sized_and_never_panics((shape, x) in shape_and_values(), spec in spec()) {
        let cfg = match spec.resolve() {
            Ok(c) => c,
            Err(e) => { prop_assert_eq!(e.kind, ErrorKind::InvalidParameter); return Ok(()); }
        };
        let out = match quant::quantize(&x, &shape, &cfg) {
            Ok(o) => o,
            // An axis that the tensor does not have is the only legitimate refusal here.
            Err(e) => { prop_assert!(e.message.contains("axis"), "{}", e); return Ok(()); }
        };
        prop_assert_eq!(out.dequant.len(), x.len());
        prop_assert!(out.dequant.iter().all(|v| v.is_finite()), "non-finite output");
        prop_assert!(out.clips.iter().all(|c| c.is_finite() && *c >= 0.0), "clips {:?}", out.clips);
        let bits = out.element_bits + out.scale_bits;
        prop_assert!(out.packed_bytes() * 8 >= bits && out.packed_bytes() * 8 < bits + 16);
        prop_assert!((out.bits_per_element() * x.len() as f64 - bits as f64).abs() < 1e-6);
        prop_assert!(out.element_bits == cfg.format.element_bits() as u64 * x.len() as u64);
    }

    #[test]
    fn mse_search_is_never_worse_than_max((shape, x) in shape_and_values(), bits in 2u32..=8, g in prop::sample::select(vec!["tensor", "channel", "vector:4"]), f in prop::sample::select(vec!["int", "uint", "int-asym", "fp8-e4m3", "fp4-e2m1"])) {
        let mk = |clip: &str| QuantSpec {
            format: f.to_string(),
            bits: f.starts_with("int").then_some(bits).or((f == "uint").then_some(bits)),
            granularity: Some(g.to_string()),
            clip: Some(clip.to_string()),
            ..QuantSpec::default()
        };
        let mse_of = |clip| quant::analyze(&x, &shape, &mk(clip).resolve().unwrap()).unwrap().metrics.mse;
        let (best, max) = (mse_of("mse"), mse_of("max"));
        prop_assert!(best <= max * (1.0 + 1e-9) + 1e-30, "mse search {best} > max clipping {max}");
    }
}
