//! One module per tab, plus the read-only shared view.

pub mod checkpoint;
pub mod compare;
pub mod diff;
pub mod distributed;
pub mod explorer;
pub mod jobs;
pub mod model;
pub mod shared;
pub mod sparsity;
pub mod start;
pub mod training;
pub mod video;
