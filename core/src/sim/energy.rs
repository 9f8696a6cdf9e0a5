//! Per-event energies for the accelerator models, in picojoules. Every default says where it comes from;
//! all are configurable, since technology, voltage and SRAM sizes move them a lot.

use serde::Serialize;

/// Energy of one event of each kind (pJ).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EnergyTable {
    /// One 16×16-bit integer multiply. Horowitz (ISSCC 2014, 45 nm) gives 0.2 pJ for 8-bit and 3.1 pJ
    /// for 32-bit multiplies; area and energy grow with the product of the widths, so 16-bit ≈ 3.1·(16/32)².
    pub mult: f64,
    /// One accumulator add (24-bit). Horowitz: 32-bit add 0.1 pJ, scaled by width.
    pub add: f64,
    /// One 64-bit read of a small (≈8 KB) SRAM: weight FIFO or IARAM vector. Horowitz: 10 pJ (8 KB).
    pub small_sram_read: f64,
    /// One accumulator-bank access (read or write of a 24-bit entry in a 32-entry bank): register-file
    /// class; assumption 1 pJ (a tenth of the 8 KB SRAM figure).
    pub acc_access: f64,
    /// One product routed through the F·I → A scatter crossbar; assumption 0.5 pJ.
    pub crossbar: f64,
    /// One 16-bit word moved between neighbouring PEs (halo); assumption 2 pJ.
    pub halo_word: f64,
    /// One 64-bit write of the output SRAM (OARAM). Horowitz: ≈ 10 pJ (8 KB).
    pub small_sram_write: f64,
    /// One bit to or from DRAM. Horowitz: 1.3–2.6 nJ per 64 bits; 2 nJ / 64 ≈ 31 pJ per bit.
    pub dram_bit: f64,
}

impl Default for EnergyTable {
    fn default() -> Self {
        Self {
            mult: 3.1 * 0.25,
            add: 0.1 * 24.0 / 32.0,
            small_sram_read: 10.0,
            acc_access: 1.0,
            crossbar: 0.5,
            halo_word: 2.0,
            small_sram_write: 10.0,
            dram_bit: 2000.0 / 64.0,
        }
    }
}
