//! `lowbit_core`: the numerics of lowbit — element formats ([`formats`]), granularity ([`granularity`]),
//! clipping methods ([`clip`]), quantizers ([`quant`]), error measures ([`metrics`]), statistics and
//! histograms ([`stats`]), the clipping curve ([`curve`]) and checkpoint readers ([`readers`]).
//!
//! It does no IO and needs no runtime: readers take byte slices, so the same code runs natively on a memory
//! map, and in the browser on a dropped file. It is not a training framework and holds no model graph.
//!
//! Entry point for most callers: [`quant::QuantSpec`] (the CLI/API vocabulary) → [`quant::QuantConfig`] →
//! [`quant::analyze`].

#[macro_use]
mod simd;
pub mod clip;
pub mod curve;
pub mod diff;
pub mod error;
pub mod eval;
pub mod formats;
pub mod gradient;
pub mod granularity;
pub mod metrics;
pub mod nn;
pub mod pareto;
pub mod prune;
pub mod quant;
pub mod readers;
pub mod report;
pub mod sample;
pub mod sim;
pub mod stats;
pub mod training;
pub mod video;
pub mod winograd;

pub use error::{Error, ErrorKind, Result};

/// Types that cross thread boundaries in the server's job runner must stay `Send + Sync`.
const _: () = {
    const fn check<T: Send + Sync>() {}
    check::<quant::QuantConfig>();
    check::<quant::QuantOutput>();
    check::<readers::Checkpoint<'static>>();
    check::<Error>();
};
