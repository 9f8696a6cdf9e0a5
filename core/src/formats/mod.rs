//! Element formats: the value grids one number is stored in, independent of how it is scaled.
//!
//! [`MiniFloat`] covers FP8/FP6/FP4/FP16/BF16; [`IntGrid`] and [`AffineGrid`] the integer grids.
//! Scaling (per tensor, channel, vector, MX blocks, NVFP4) lives in `crate::quant`.

mod int;
mod minifloat;

pub use int::{AffineGrid, IntGrid, IntRange, clamp, pow2i, rne};
pub use minifloat::{Grid, MiniFloat, Specials, pow2};
