//! Hardware models: SCNN and its dense baselines (`scnn`), per-event energies (`energy`), and the cost of a
//! per-vector-scaled MAC unit (`mac`).

pub mod energy;
pub mod mac;
pub mod scnn;
