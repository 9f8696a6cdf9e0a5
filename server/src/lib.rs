//! `lowbit_server`: the `lowbit` command-line tool (`cli`) and the HTTP server (`serve`, `http`, `jobs`):
//! uploads into a content-addressed blob store (`blobs`), a SQLite catalogue, analyses, jobs, experiments
//! and exports. It calls `lowbit_core` for every number it reports; it computes none itself.

pub mod blobs;
pub mod cli;
pub mod error;
pub mod export;
pub mod http;
pub mod jobs;
pub mod load;
pub mod serve;
pub mod util;
