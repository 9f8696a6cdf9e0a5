//! Integration tests of `lowbit_core`: one binary, one module per area (see ripgrep's `tests/tests.rs`).
//! Numbers tagged [C] or [V-code] come from `shared/spec/ALGORITHMS.md`; each test says which section.

mod bad_input;
mod diff;
mod eval;
mod nn;
mod oracles;
mod properties;
mod readers;
mod reference;
mod util;
mod video;
