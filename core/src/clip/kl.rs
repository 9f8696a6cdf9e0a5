//! KL-divergence (entropy) calibration in the style of TensorRT's INT8 calibrator: build a histogram of the
//! magnitudes, and pick the threshold whose `levels`-bin quantized distribution is closest (in KL divergence)
//! to the reference distribution with the outliers folded into its last bin.
//!
//! The histogram has 2048 bins for large groups (TensorRT's choice) and fewer for small groups, never fewer
//! than 4·levels; at most 256 candidate thresholds are tried, evenly spaced, so a per-vector sweep stays fast.

use super::Magnitude;

/// The KL-optimal clip for `levels` quantization bins of the magnitude range.
pub fn kl_clip(x: &[f32], mag: Magnitude, levels: usize) -> f32 {
    let amax = x.iter().map(|&v| mag.of(v)).fold(0.0f32, |a, m| if m > a { m } else { a });
    if amax == 0.0 {
        return 0.0;
    }
    let levels = levels.max(1);
    let nbins = (x.len() / 8).next_power_of_two().clamp((4 * levels).min(2048), 2048).max(levels + 1);
    let width = amax as f64 / nbins as f64;
    let mut hist = vec![0f64; nbins];
    for &v in x {
        let m = mag.of(v) as f64;
        let b = ((m / width) as usize).min(nbins - 1);
        hist[b] += 1.0;
    }
    // TensorRT ignores the zero bin's mass of exact zeros being "free"; we keep the plain histogram.
    let candidates: Vec<usize> = {
        let span = nbins - levels;
        let stride = span.div_ceil(256).max(1);
        let mut c: Vec<usize> = (levels..=nbins).step_by(stride).collect();
        if *c.last().unwrap_or(&0) != nbins {
            c.push(nbins);
        }
        c
    };
    let total: f64 = hist.iter().sum();
    let mut best = (f64::INFINITY, nbins);
    let mut p = vec![0f64; nbins];
    let mut q = vec![0f64; nbins];
    for &i in &candidates {
        // Reference: first i bins, outliers added to the last one.
        p[..i].copy_from_slice(&hist[..i]);
        let outliers: f64 = hist[i..].iter().sum();
        p[i - 1] += outliers;
        // Candidate: the first i bins merged into `levels` bins, each spread back over its non-empty bins.
        for j in 0..levels {
            let start = j * i / levels;
            let end = ((j + 1) * i / levels).max(start + 1).min(i);
            let mass: f64 = hist[start..end].iter().sum();
            let nonzero = hist[start..end].iter().filter(|&&h| h > 0.0).count();
            for k in start..end {
                q[k] = if hist[k] > 0.0 { mass / nonzero as f64 } else { 0.0 };
            }
        }
        let qsum: f64 = q[..i].iter().sum();
        let mut kl = 0.0;
        for k in 0..i {
            if p[k] > 0.0 {
                let pk = p[k] / total;
                // Smoothing: a reference bin with mass but an empty candidate bin costs as if it had 1e-4 of a count.
                let qk = if q[k] > 0.0 { q[k] / qsum } else { 1e-4 / qsum };
                kl += pk * (pk / qk).ln();
            }
        }
        if kl < best.0 {
            best = (kl, i);
        }
    }
    ((best.1 as f64) * width).min(amax as f64) as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::Sampler;

    #[test]
    fn clips_outliers_of_a_gaussian_but_not_a_uniform() {
        let mut rng = Sampler::new(5);
        let g: Vec<f32> = (0..200_000).map(|_| rng.gaussian() as f32).collect();
        let amax = g.iter().fold(0f32, |a, v| a.max(v.abs()));
        let s = kl_clip(&g, Magnitude::Abs, 128);
        assert!(s > 2.0 && s < amax, "int8 KL clip {s} of amax {amax}");
        let s4 = kl_clip(&g, Magnitude::Abs, 8);
        assert!(s4 < s, "fewer levels clip harder: {s4} vs {s}");
        let u: Vec<f32> = (0..100_000).map(|_| rng.uniform() as f32 * 2.0 - 1.0).collect();
        let su = kl_clip(&u, Magnitude::Abs, 128);
        assert!(su > 0.9, "uniform data keeps nearly its whole range: {su}");
    }
}
