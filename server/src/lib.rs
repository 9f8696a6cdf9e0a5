//! `lowbit_server`: the `lowbit` command-line tool (`cli`) and the HTTP server (`serve`, `http`, `jobs`):
//! uploads into a content-addressed blob store (`blobs`), a SQLite catalogue behind one `store`, analyses,
//! jobs of registered kinds, experiments and exports. Layers: `store` and `blobs` at the bottom, `state`
//! (what handlers and jobs reach) and `catalog` on them, `jobs` on those, `http` on all, `serve` on top. It calls `lowbit_core` for every number it reports; it computes none itself.

pub mod blobs;
pub mod catalog;
pub mod cli;
pub mod error;
pub mod export;
pub mod http;
pub mod jobs;
pub mod load;
pub mod model;
pub mod onnx;
pub mod serve;
pub mod state;
pub mod store;
pub mod training;
pub mod util;
pub mod video;
