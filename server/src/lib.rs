//! `lowbit_server`: the `lowbit` command-line tool (`cli`) and, as the server issue lands, the HTTP API and
//! job runner. It calls `lowbit_core` for every number it prints; it computes none itself.

pub mod cli;
pub mod load;
pub mod serve;
