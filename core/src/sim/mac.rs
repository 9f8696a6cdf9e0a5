//! A parametric area/energy model of a vector MAC unit with per-vector scaling (VS-Quant, ALGORITHMS.md
//! §2.2), relative to an 8-bit/8-bit baseline of the same vector width.
//!
//! Components and the assumptions behind them (gate-count proxies, not synthesis results):
//! * V multipliers of w×a bits: cost ∝ w·a (array multiplier);
//! * an adder tree of V−1 adders whose width is the product width w+a plus log2 V: cost ∝ width;
//! * an accumulator of width w+a+log2 V+`guard_bits` (VS-Quant: + 2M for the scaled partial sums);
//! * VS-Quant only: one M×M scale multiplier (∝ M²) and one (w+a+log2 V)×2M multiplier that scales the
//!   V-wide partial sum (∝ product of widths), per vector MAC;
//! * storage: M bits per V elements of each scaled operand (weights and activations), read per vector.
//!
//! Energy uses the same proxies weighted by activity: the datapath switches every cycle; the buffer term
//! charges bits read per MAC at `sram_cost_per_bit` relative units.
//!
//! The papers' reported figures (arXiv: 37 % area and 24 % energy saving at 4/4 bits; MLSys: 36 % / 69 %)
//! came from synthesis of a full accelerator and are shown beside this model, never used by it.

use crate::error::{Error, Result};
use serde::Serialize;

/// What to cost.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MacConfig {
    pub weight_bits: u32,
    pub act_bits: u32,
    /// Elements per vector MAC (V).
    pub vector: u32,
    /// Bits of each per-vector scale (M); 0 = no per-vector scaling (a plain integer MAC).
    pub scale_bits: u32,
    /// Extra accumulator bits beyond w+a+log2 V (8: headroom for long reductions).
    pub guard_bits: u32,
    /// Relative cost of reading one bit of operand buffer, in "adder-bit" units (assumption: 0.5).
    pub sram_cost_per_bit: f64,
}

impl MacConfig {
    pub fn new(weight_bits: u32, act_bits: u32, vector: u32, scale_bits: u32) -> Self {
        Self { weight_bits, act_bits, vector, scale_bits, guard_bits: 8, sram_cost_per_bit: 0.5 }
    }
}

/// Component costs (relative units) of one design.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MacCost {
    pub multipliers: f64,
    pub adder_tree: f64,
    pub accumulator: f64,
    pub scale_multipliers: f64,
    pub area: f64,
    pub buffer_reads: f64,
    pub energy: f64,
}

/// The design, the 8/8 baseline, and their ratios.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MacReport {
    pub design: MacCost,
    pub baseline: MacCost,
    /// design / baseline.
    pub relative_area: f64,
    pub relative_energy: f64,
}

fn cost(c: &MacConfig) -> MacCost {
    let v = c.vector as f64;
    let (w, a, m) = (c.weight_bits as f64, c.act_bits as f64, c.scale_bits as f64);
    let psum = w + a + v.log2();
    let multipliers = v * w * a;
    let adder_tree = (v - 1.0) * psum;
    let accumulator = psum + c.guard_bits as f64 + 2.0 * m;
    let scale_multipliers = if c.scale_bits > 0 { m * m + psum * 2.0 * m } else { 0.0 };
    let area = multipliers + adder_tree + accumulator + scale_multipliers;
    // Bits read per vector MAC: V weights, V activations, and one M-bit scale of each.
    let buffer_reads = (v * (w + a) + 2.0 * m) * c.sram_cost_per_bit;
    MacCost { multipliers, adder_tree, accumulator, scale_multipliers, area, buffer_reads, energy: area + buffer_reads }
}

/// Costs a design against the 8-bit/8-bit baseline of the same vector width.
pub fn mac_cost(c: &MacConfig) -> Result<MacReport> {
    if !(1..=32).contains(&c.weight_bits) || !(1..=32).contains(&c.act_bits) {
        return Err(Error::param("weight and activation bits must be 1 to 32"));
    }
    if c.vector == 0 || c.vector > 4096 {
        return Err(Error::param(format!("vector size {} is outside 1 … 4096", c.vector)));
    }
    if c.scale_bits > 16 {
        return Err(Error::param(format!("scale bits {} is above 16", c.scale_bits)));
    }
    let design = cost(c);
    let baseline = cost(&MacConfig { weight_bits: 8, act_bits: 8, scale_bits: 0, ..*c });
    Ok(MacReport {
        relative_area: design.area / baseline.area,
        relative_energy: design.energy / baseline.energy,
        design,
        baseline,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_baseline_costs_itself_and_narrower_costs_less() {
        let r = mac_cost(&MacConfig::new(8, 8, 16, 0)).unwrap();
        assert_eq!((r.relative_area, r.relative_energy), (1.0, 1.0));
        let vs = mac_cost(&MacConfig::new(4, 4, 16, 6)).unwrap();
        assert!(vs.relative_area < 1.0 && vs.relative_energy < 1.0, "{vs:?}");
        let plain4 = mac_cost(&MacConfig::new(4, 4, 16, 0)).unwrap();
        assert!(plain4.relative_area < vs.relative_area, "scaling costs something");
        assert!(mac_cost(&MacConfig::new(4, 4, 0, 6)).is_err());
    }
}
