//! A cycle-level model of SCNN (ALGORITHMS.md §6) and of its dense baselines DCNN and DCNN-opt, driven by
//! real weight masks and real activation maps.
//!
//! PT-IS-CP-sparse: the input plane is tiled over a `pe_rows × pe_cols` PE grid (input stationary); for each
//! group of Kc output channels and each input channel, every PE takes its non-zero weights F at a time and
//! its non-zero activations I at a time and multiplies all F·I pairs in one step (Cartesian product). Each
//! product goes to the accumulator bank of its output coordinate; a step lasts as many cycles as the most
//! loaded bank receives products (bank conflicts). PEs wait for the slowest at the end of every output group
//! (load imbalance), then exchange halo partial sums. Kc is as many output channels as the accumulator
//! holds for one output tile with halo. The products are also summed, so the model knows the layer's real
//! output and its density after ReLU (bias is not part of a weight mask and is left out).

use super::energy::EnergyTable;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// SCNN hardware parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ScnnConfig {
    /// PE grid rows (8 in the paper, via DNNsim's defaults).
    pub pe_rows: usize,
    /// PE grid columns (8).
    pub pe_cols: usize,
    /// Weights per Cartesian-product step (F = 4).
    pub f: usize,
    /// Activations per step (I = 4).
    pub i: usize,
    /// Accumulator banks per PE (A = 2·F·I = 32).
    pub banks: usize,
    /// Accumulator entries per PE (1024), which sets the output-channel group size Kc.
    pub acc_entries: usize,
    /// Halo words a PE can send per cycle (assumption: 4).
    pub halo_words_per_cycle: usize,
    /// Bits of a weight or activation value (16) and of its zero-run index (4), for DRAM traffic.
    pub value_bits: u32,
    pub index_bits: u32,
    pub energy: EnergyTable,
}

impl Default for ScnnConfig {
    fn default() -> Self {
        Self {
            pe_rows: 8,
            pe_cols: 8,
            f: 4,
            i: 4,
            banks: 32,
            acc_entries: 1024,
            halo_words_per_cycle: 4,
            value_bits: 16,
            index_bits: 4,
            energy: EnergyTable::default(),
        }
    }
}

impl ScnnConfig {
    pub fn validate(&self) -> Result<()> {
        for (name, v) in [
            ("pe_rows", self.pe_rows),
            ("pe_cols", self.pe_cols),
            ("f", self.f),
            ("i", self.i),
            ("banks", self.banks),
            ("acc_entries", self.acc_entries),
            ("halo_words_per_cycle", self.halo_words_per_cycle),
        ] {
            if v == 0 {
                return Err(Error::param(format!("SCNN parameter {name} must be at least 1")));
            }
        }
        if self.pe_rows * self.pe_cols > 4096 || self.f * self.i > 4096 {
            return Err(Error::param("SCNN array is absurdly large (more than 4096 PEs or products per step)"));
        }
        Ok(())
    }
    pub fn pes(&self) -> usize {
        self.pe_rows * self.pe_cols
    }
}

/// One stride-1 convolution layer with its real weights [K, C, R, S] and input activations [C, H, W].
#[derive(Debug, Clone, Copy)]
pub struct ConvLayer<'a> {
    pub weights: &'a [f32],
    pub k: usize,
    pub c: usize,
    pub r: usize,
    pub s: usize,
    pub acts: &'a [f32],
    pub h: usize,
    pub w: usize,
    /// Zero padding on every side.
    pub pad: usize,
}

impl ConvLayer<'_> {
    pub fn validate(&self) -> Result<()> {
        if [self.k, self.c, self.r, self.s, self.h, self.w].contains(&0) {
            return Err(Error::param("layer has a zero dimension"));
        }
        if self.weights.len() != self.k * self.c * self.r * self.s {
            return Err(Error::tensor(format!(
                "weights hold {} values, K×C×R×S = {}×{}×{}×{} needs {}",
                self.weights.len(),
                self.k,
                self.c,
                self.r,
                self.s,
                self.k * self.c * self.r * self.s
            )));
        }
        if self.acts.len() != self.c * self.h * self.w {
            return Err(Error::tensor(format!(
                "activations hold {} values, C×H×W = {}×{}×{} needs {}",
                self.acts.len(),
                self.c,
                self.h,
                self.w,
                self.c * self.h * self.w
            )));
        }
        if self.h + 2 * self.pad < self.r || self.w + 2 * self.pad < self.s {
            return Err(Error::param("kernel larger than the padded input"));
        }
        Ok(())
    }
    pub fn out_h(&self) -> usize {
        self.h + 2 * self.pad + 1 - self.r
    }
    pub fn out_w(&self) -> usize {
        self.w + 2 * self.pad + 1 - self.s
    }
    /// Dense multiply-accumulates of the layer (every weight × every output position).
    pub fn dense_macs(&self) -> u64 {
        (self.k * self.c * self.r * self.s * self.out_h() * self.out_w()) as u64
    }
}

/// Where the cycles went (averaged over PEs where noted).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Cycles {
    /// Total: Σ over output groups of (slowest PE + halo exchange).
    pub total: u64,
    /// Cartesian-product steps, mean over PEs.
    pub steps: f64,
    /// Extra cycles from accumulator bank conflicts, mean over PEs.
    pub bank_stalls: f64,
    /// Cycles PEs spent waiting for the slowest PE at group barriers, mean over PEs.
    pub imbalance: f64,
    /// Halo exchange cycles.
    pub halo: u64,
    /// Lower bound: products / (PEs · F · I).
    pub ideal: u64,
}

/// Counts of every event the energy model charges.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Events {
    /// Multiplier operations (F·I lanes used per step; includes products whose output falls off the edge).
    pub mults: u64,
    /// Products that land on a valid output (accumulated).
    pub useful_products: u64,
    /// Weight-vector reads (F weights each).
    pub weight_reads: u64,
    /// Activation-vector reads from IARAM (I activations each).
    pub act_reads: u64,
    /// Accumulator read-modify-writes (two accesses each).
    pub acc_rmw: u64,
    pub crossbar: u64,
    pub halo_words: u64,
    /// Output words written (non-zeros after ReLU, plus index).
    pub oaram_writes: u64,
    pub dram_bits: u64,
}

/// Energy by component (pJ).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Energy {
    pub mult: f64,
    pub weight_sram: f64,
    pub act_sram: f64,
    pub accumulator: f64,
    pub crossbar: f64,
    pub halo: f64,
    pub output_sram: f64,
    pub dram: f64,
    pub total: f64,
}

/// A dense baseline's cycles and energy.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Baseline {
    pub cycles: u64,
    pub energy: Energy,
}

/// The simulation of one layer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerReport {
    pub weight_density: f64,
    pub act_density: f64,
    pub output_density: f64,
    /// Output-channel group size.
    pub kc: usize,
    pub cycles: Cycles,
    /// useful products / (cycles · PEs · F · I).
    pub utilization: f64,
    pub events: Events,
    pub energy: Energy,
    pub dcnn: Baseline,
    pub dcnn_opt: Baseline,
    /// The layer's output [K, out_h, out_w] after ReLU (no bias).
    #[serde(skip)]
    pub output: Vec<f32>,
    /// Cartesian-product steps per PE per (group, channel), for model checks.
    #[serde(skip)]
    pub steps_per_pe: Vec<u64>,
}

fn energy_of(e: &Events, t: &EnergyTable, multiplies: u64) -> Energy {
    let mut en = Energy {
        mult: multiplies as f64 * t.mult,
        weight_sram: e.weight_reads as f64 * t.small_sram_read,
        act_sram: e.act_reads as f64 * t.small_sram_read,
        accumulator: e.acc_rmw as f64 * (2.0 * t.acc_access + t.add),
        crossbar: e.crossbar as f64 * t.crossbar,
        halo: e.halo_words as f64 * t.halo_word,
        output_sram: e.oaram_writes as f64 / 4.0 * t.small_sram_write,
        dram: e.dram_bits as f64 * t.dram_bit,
        total: 0.0,
    };
    en.total =
        en.mult + en.weight_sram + en.act_sram + en.accumulator + en.crossbar + en.halo + en.output_sram + en.dram;
    en
}

/// One layer's simulations over several inputs (images), averaged: what the CLI reports per layer and the
/// page plots. Ratios are of the means (speedup = mean DCNN cycles / mean SCNN cycles).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MeanReport {
    pub images: usize,
    pub weight_density: f64,
    pub act_density: f64,
    pub scnn_cycles: f64,
    pub dcnn_cycles: f64,
    pub scnn_energy: f64,
    pub dcnn_energy: f64,
    pub dcnn_opt_energy: f64,
    pub useful_products: f64,
    pub speedup_vs_dcnn: f64,
    /// DCNN energy / SCNN energy (above 1: SCNN spends less).
    pub energy_vs_dcnn: f64,
    pub energy_vs_dcnn_opt: f64,
}

/// The mean of reports of one layer on several inputs; `None` for none.
pub fn mean_report(reps: &[LayerReport]) -> Option<MeanReport> {
    let first = reps.first()?;
    let n = reps.len() as f64;
    let mean = |f: &dyn Fn(&LayerReport) -> f64| reps.iter().map(f).sum::<f64>() / n;
    let (sc, dc) = (mean(&|r| r.cycles.total as f64), mean(&|r| r.dcnn.cycles as f64));
    let (se, de, oe) = (mean(&|r| r.energy.total), mean(&|r| r.dcnn.energy.total), mean(&|r| r.dcnn_opt.energy.total));
    Some(MeanReport {
        images: reps.len(),
        weight_density: first.weight_density,
        act_density: mean(&|r| r.act_density),
        scnn_cycles: sc,
        dcnn_cycles: dc,
        scnn_energy: se,
        dcnn_energy: de,
        dcnn_opt_energy: oe,
        useful_products: mean(&|r| r.events.useful_products as f64),
        speedup_vs_dcnn: dc / sc,
        energy_vs_dcnn: de / se,
        energy_vs_dcnn_opt: oe / se,
    })
}

/// Simulates one layer on SCNN and on the dense baselines.
pub fn simulate(layer: &ConvLayer<'_>, hw: &ScnnConfig, relu: bool) -> Result<LayerReport> {
    hw.validate()?;
    layer.validate()?;
    let (k, c, r, s, h, w, pad) = (layer.k, layer.c, layer.r, layer.s, layer.h, layer.w, layer.pad);
    let (oh, ow) = (layer.out_h(), layer.out_w());
    let (th, tw) = (h.div_ceil(hw.pe_rows), w.div_ceil(hw.pe_cols));
    let halo_tile = (th + r - 1) * (tw + s - 1);
    let kc = (hw.acc_entries / halo_tile).clamp(1, k);
    let pes = hw.pes();
    // Non-zero activations of each (PE, channel): (y, x, value).
    let mut acts: Vec<Vec<(usize, usize, f32)>> = vec![Vec::new(); pes * c];
    for cc in 0..c {
        for y in 0..h {
            for x in 0..w {
                let v = layer.acts[(cc * h + y) * w + x];
                if v != 0.0 {
                    let p = (y / th) * hw.pe_cols + x / tw;
                    acts[p * c + cc].push((y, x, v));
                }
            }
        }
    }
    let mut out = vec![0f32; k * oh * ow];
    let mut cyc = Cycles::default();
    let mut ev = Events::default();
    let mut steps_per_pe = Vec::new();
    let mut busy = vec![0u64; pes];
    let mut bank_load = vec![0u32; hw.banks];
    let mut wv: Vec<(usize, usize, usize, f32)> = Vec::new();
    let (mut steps_sum, mut stall_sum, mut imbalance_sum) = (0u64, 0u64, 0f64);
    for k0 in (0..k).step_by(kc) {
        let k1 = (k0 + kc).min(k);
        busy.iter_mut().for_each(|b| *b = 0);
        for cc in 0..c {
            // Non-zero weights of this (group, channel), broadcast to every PE: (k, r, s, value).
            wv.clear();
            for kk in k0..k1 {
                for rr in 0..r {
                    for ss in 0..s {
                        let v = layer.weights[((kk * c + cc) * r + rr) * s + ss];
                        if v != 0.0 {
                            wv.push((kk, rr, ss, v));
                        }
                    }
                }
            }
            for p in 0..pes {
                let a = &acts[p * c + cc];
                let (py, px) = ((p / hw.pe_cols) * th, (p % hw.pe_cols) * tw);
                let steps = (wv.len().div_ceil(hw.f) * a.len().div_ceil(hw.i)) as u64;
                steps_per_pe.push(steps);
                if steps == 0 {
                    continue;
                }
                ev.weight_reads += wv.len().div_ceil(hw.f) as u64;
                ev.act_reads += steps;
                let mut stalls = 0u64;
                for wchunk in wv.chunks(hw.f) {
                    for achunk in a.chunks(hw.i) {
                        bank_load.iter_mut().for_each(|b| *b = 0);
                        let mut max_load = 1;
                        for &(kk, rr, ss, wval) in wchunk {
                            for &(y, x, aval) in achunk {
                                ev.mults += 1;
                                // Output coordinate of this product (correlation, stride 1).
                                let (oy, ox) = (y + pad, x + pad);
                                if oy < rr || ox < ss || oy - rr >= oh || ox - ss >= ow {
                                    continue;
                                }
                                let (oy, ox) = (oy - rr, ox - ss);
                                out[(kk * oh + oy) * ow + ox] += wval * aval;
                                ev.useful_products += 1;
                                // Accumulator entry in the PE's local (halo-extended) output tile.
                                let ly = (oy + r - 1).saturating_sub(py);
                                let lx = (ox + s - 1).saturating_sub(px);
                                let entry = ((kk - k0) * (th + r - 1) + ly) * (tw + s - 1) + lx;
                                let b = &mut bank_load[entry % hw.banks];
                                *b += 1;
                                max_load = max_load.max(*b);
                            }
                        }
                        stalls += (max_load - 1) as u64;
                    }
                }
                busy[p] += steps + stalls;
                steps_sum += steps;
                stall_sum += stalls;
            }
        }
        let slowest = *busy.iter().max().unwrap_or(&0);
        let mean = busy.iter().sum::<u64>() as f64 / pes as f64;
        imbalance_sum += slowest as f64 - mean;
        // Halo: every PE sends the partial sums of its tile's border region to its neighbours.
        let halo_words = ((halo_tile - th * tw) * (k1 - k0)) as u64;
        let halo_cycles = halo_words.div_ceil(hw.halo_words_per_cycle as u64);
        ev.halo_words += halo_words * pes as u64;
        cyc.total += slowest + halo_cycles;
        cyc.halo += halo_cycles;
    }
    if relu {
        out.iter_mut().for_each(|v| *v = v.max(0.0));
    }
    ev.acc_rmw = ev.useful_products;
    ev.crossbar = ev.useful_products;
    let nnz_w = layer.weights.iter().filter(|&&v| v != 0.0).count() as u64;
    let nnz_a = layer.acts.iter().filter(|&&v| v != 0.0).count() as u64;
    let nnz_o = out.iter().filter(|&&v| v != 0.0).count() as u64;
    let entry_bits = (hw.value_bits + hw.index_bits) as u64;
    ev.oaram_writes = nnz_o;
    ev.dram_bits = (nnz_w + nnz_a + nnz_o) * entry_bits;
    cyc.steps = steps_sum as f64 / pes as f64;
    cyc.bank_stalls = stall_sum as f64 / pes as f64;
    cyc.imbalance = imbalance_sum;
    cyc.ideal = ev.useful_products.div_ceil((pes * hw.f * hw.i) as u64);
    let energy = energy_of(&ev, &hw.energy, ev.mults);

    // Dense baselines: the same 1024 multipliers as dot-product units over each PE's output tile.
    let macs = layer.dense_macs();
    let mults_total = (pes * hw.f * hw.i) as u64;
    let per_pe_max = {
        let (oth, otw) = (oh.div_ceil(hw.pe_rows), ow.div_ceil(hw.pe_cols));
        (k * c * r * s * oth * otw) as u64
    };
    let dcnn_cycles = per_pe_max.div_ceil((hw.f * hw.i) as u64).max(macs.div_ceil(mults_total));
    let dense_events = Events {
        mults: macs,
        useful_products: macs,
        weight_reads: (k * c * r * s) as u64 * pes as u64 / hw.f as u64,
        act_reads: macs / (hw.f * hw.i) as u64,
        acc_rmw: macs / (c * r * s).max(1) as u64,
        crossbar: 0,
        halo_words: 0,
        oaram_writes: (k * oh * ow) as u64,
        dram_bits: ((k * c * r * s) as u64 + (c * h * w) as u64 + (k * oh * ow) as u64) * hw.value_bits as u64,
    };
    let dcnn = Baseline { cycles: dcnn_cycles, energy: energy_of(&dense_events, &hw.energy, macs) };
    // DCNN-opt: multipliers gated off when an operand is zero; activations compressed on the DRAM side.
    let opt_events = Events {
        dram_bits: (k * c * r * s) as u64 * hw.value_bits as u64 + (nnz_a + nnz_o) * entry_bits,
        ..dense_events
    };
    let dcnn_opt = Baseline { cycles: dcnn_cycles, energy: energy_of(&opt_events, &hw.energy, ev.useful_products) };

    Ok(LayerReport {
        weight_density: nnz_w as f64 / layer.weights.len() as f64,
        act_density: nnz_a as f64 / layer.acts.len() as f64,
        output_density: nnz_o as f64 / out.len().max(1) as f64,
        kc,
        utilization: ev.useful_products as f64 / (cyc.total.max(1) as f64 * mults_total as f64),
        cycles: cyc,
        events: ev,
        energy,
        dcnn,
        dcnn_opt,
        output: out,
        steps_per_pe,
    })
}

/// Direct convolution (stride 1, zero padding), the reference the simulator's summed products must equal.
pub fn conv2d(layer: &ConvLayer<'_>) -> Vec<f32> {
    let ConvLayer { weights: wt, acts: x, k, c, r, s, h, w, pad } = *layer;
    let (oh, ow) = (layer.out_h(), layer.out_w());
    let mut out = vec![0f32; k * oh * ow];
    for kk in 0..k {
        for cc in 0..c {
            for rr in 0..r {
                for ss in 0..s {
                    let wv = wt[((kk * c + cc) * r + rr) * s + ss];
                    if wv == 0.0 {
                        continue;
                    }
                    for oy in 0..oh {
                        let iy = oy + rr;
                        if iy < pad || iy - pad >= h {
                            continue;
                        }
                        for ox in 0..ow {
                            let ix = ox + ss;
                            if ix < pad || ix - pad >= w {
                                continue;
                            }
                            out[(kk * oh + oy) * ow + ox] += wv * x[(cc * h + iy - pad) * w + ix - pad];
                        }
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::Sampler;

    fn random(seed: u64, n: usize, density: f64) -> Vec<f32> {
        let mut s = Sampler::new(seed);
        (0..n).map(|_| if s.uniform() < density { s.gaussian() as f32 } else { 0.0 }).collect()
    }

    #[test]
    fn the_toy_check_of_section_6_5() {
        // 1 PE, F = I = 4, one channel with 8 non-zero activations, one 3×3 kernel with 8 non-zeros.
        let hw = ScnnConfig { pe_rows: 1, pe_cols: 1, ..ScnnConfig::default() };
        let mut wt = vec![1.0f32; 9];
        wt[4] = 0.0;
        let mut acts = vec![0.0f32; 16];
        for i in 0..8 {
            acts[i * 2] = 1.0;
        }
        let layer = ConvLayer { weights: &wt, k: 1, c: 1, r: 3, s: 3, acts: &acts, h: 4, w: 4, pad: 1 };
        let rep = simulate(&layer, &hw, false).unwrap();
        assert_eq!(rep.steps_per_pe, vec![4]);
        assert_eq!(rep.events.mults, 64);
        assert!(rep.cycles.total >= 4);
        let util = rep.events.useful_products as f64 / (rep.cycles.total as f64 * 16.0);
        assert!((rep.utilization - util).abs() < 1e-12);
    }

    #[test]
    fn dense_layers_take_the_closed_form_steps() {
        // §6.5: per PE, channel and group, ceil(Kc·R·S/F)·ceil(tile_w·tile_h/I).
        let (k, c, h, w) = (16, 3, 16, 16);
        let wt = random(1, k * c * 9, 1.0);
        let acts = random(2, c * h * w, 1.0);
        let hw = ScnnConfig::default();
        let layer = ConvLayer { weights: &wt, k, c, r: 3, s: 3, acts: &acts, h, w, pad: 1 };
        let rep = simulate(&layer, &hw, true).unwrap();
        let (th, tw) = (2, 2);
        let kc = (1024 / ((th + 2) * (tw + 2))).min(k);
        assert_eq!(rep.kc, kc);
        let want = (kc * 9).div_ceil(4) as u64 * (th * tw).div_ceil(4) as u64;
        assert!(rep.steps_per_pe.iter().all(|&s| s == want), "{want} vs {:?}", &rep.steps_per_pe[..4]);
        assert!(rep.cycles.total >= rep.cycles.ideal);
    }

    #[test]
    fn the_summed_products_are_the_convolution() {
        let (k, c, h, w) = (5, 4, 9, 11);
        let wt = random(3, k * c * 9, 0.5);
        let acts = random(4, c * h * w, 0.6);
        let layer = ConvLayer { weights: &wt, k, c, r: 3, s: 3, acts: &acts, h, w, pad: 1 };
        let rep = simulate(&layer, &ScnnConfig::default(), false).unwrap();
        let want = conv2d(&layer);
        for (a, b) in rep.output.iter().zip(&want) {
            assert!((a - b).abs() <= 1e-4 * (1.0 + b.abs()), "{a} vs {b}");
        }
    }

    #[test]
    fn more_sparsity_never_costs_more_cycles() {
        let (k, c, h, w) = (32, 16, 14, 14);
        let base = random(5, k * c * 9, 1.0);
        let acts = random(6, c * h * w, 0.5);
        let mag: Vec<f32> = base.iter().map(|v| v.abs()).collect();
        let mut sorted = mag.clone();
        sorted.sort_by(f32::total_cmp);
        let mut last = u64::MAX;
        for density in [1.0, 0.8, 0.6, 0.4, 0.2, 0.1] {
            let cut = sorted[((1.0 - density) * (sorted.len() - 1) as f64) as usize];
            let wt: Vec<f32> =
                base.iter().zip(&mag).map(|(&v, &m)| if density < 1.0 && m <= cut { 0.0 } else { v }).collect();
            let layer = ConvLayer { weights: &wt, k, c, r: 3, s: 3, acts: &acts, h, w, pad: 1 };
            let rep = simulate(&layer, &ScnnConfig::default(), true).unwrap();
            assert!(rep.cycles.total <= last, "density {density}: {} > {last}", rep.cycles.total);
            assert!(rep.cycles.total >= rep.cycles.ideal);
            last = rep.cycles.total;
        }
    }

    #[test]
    fn bad_layers_and_hardware_are_named() {
        let wt = vec![1.0f32; 9];
        let acts = vec![1.0f32; 16];
        let layer = ConvLayer { weights: &wt, k: 1, c: 1, r: 3, s: 3, acts: &acts, h: 4, w: 4, pad: 1 };
        let zero = ScnnConfig { pe_rows: 0, ..ScnnConfig::default() };
        assert!(simulate(&layer, &zero, true).unwrap_err().message.contains("pe_rows"));
        let bad = ConvLayer { c: 2, ..layer };
        assert!(simulate(&bad, &ScnnConfig::default(), true).unwrap_err().message.contains("needs"));
    }
}
