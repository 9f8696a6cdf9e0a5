//! A catalogued checkpoint's files: which blobs hold it (the first file, then its shards), mapped and read
//! within the server's limits. Handlers and jobs both open checkpoints through here.

use crate::state::AppState;
use crate::store::{CheckpointRow, StoreError};
use lowbit_core::readers::{self, Checkpoint};
use memmap2::Mmap;
use std::path::PathBuf;

/// Why a checkpoint could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("no checkpoint {0}")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A blob the catalogue names is missing or unreadable: a fault of the server's data folder.
    #[error("{0}")]
    Files(String),
    /// The readers refused a stored file (a limit lowered since it was uploaded).
    #[error(transparent)]
    Read(#[from] lowbit_core::Error),
}

/// A checkpoint and the paths of its files, by shard number (0 is the checkpoint's own blob).
pub async fn files(s: &AppState, id: &str) -> Result<(CheckpointRow, Vec<(i64, PathBuf)>), OpenError> {
    let c = s.store.checkpoint(id).await?.ok_or_else(|| OpenError::NotFound(id.to_string()))?;
    let bad = || OpenError::Files("a stored hash is malformed".into());
    let mut out = vec![(0, s.blobs.path(&c.sha256).ok_or_else(bad)?)];
    for sh in s.store.shards(id).await? {
        out.push((sh.seq, s.blobs.path(&sh.sha256).ok_or_else(bad)?));
    }
    Ok((c, out))
}

/// Memory-maps stored blobs (blocking).
pub fn map(paths: &[PathBuf]) -> Result<Vec<Mmap>, OpenError> {
    paths
        .iter()
        .map(|p| {
            let f = std::fs::File::open(p).map_err(|e| OpenError::Files(format!("{}: {e}", p.display())))?;
            // SAFETY: blobs are written once, renamed into place, and never modified afterwards.
            unsafe { Mmap::map(&f) }.map_err(|e| OpenError::Files(format!("{}: {e}", p.display())))
        })
        .collect()
}

/// Reads every mapped file within the server's reader limits.
pub fn read<'a>(maps: &'a [Mmap], limits: &readers::Limits) -> Result<Vec<Checkpoint<'a>>, OpenError> {
    Ok(maps.iter().map(|m| readers::read_with(m, limits)).collect::<Result<Vec<_>, _>>()?)
}

/// The video examples (the TUD sequences of DATA.md, under `tud/` in the examples folder): (sequence,
/// what it is).
pub const VIDEO_EXAMPLES: [(&str, &str); 2] = [
    ("TUD-Campus", "MOTChallenge 2015, 71 frames, 8 pedestrians; CEM tracker output"),
    ("TUD-Stadtmitte", "MOTChallenge 2015, 179 frames, 10 pedestrians; CEM tracker output"),
];
/// Their files: the ground truth and a tracker's output.
pub const VIDEO_FILES: [&str; 2] = ["gt.txt", "test.txt"];

/// Where a video example's file is, for the fixed names only (no request names a path).
pub fn video_example(examples_dir: &std::path::Path, name: &str, file: &str) -> Option<std::path::PathBuf> {
    let seq = VIDEO_EXAMPLES.iter().find(|v| v.0 == name)?.0;
    let file = VIDEO_FILES.iter().find(|f| **f == file)?;
    Some(examples_dir.join("tud").join(seq).join(file))
}
