//! Content-addressed storage of uploaded files: `blobs/<first two hex digits>/<sha256>`. Uploads stream to
//! `tmp/` while being hashed and are moved into place only when complete and valid, so an aborted or
//! rejected upload leaves nothing behind. No path from a request reaches the file system except through
//! [`Blobs::path`], which takes a hash that was validated as 64 hex digits.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Blobs {
    root: PathBuf,
}

impl Blobs {
    pub fn new(data_dir: &Path) -> std::io::Result<Self> {
        let root = data_dir.join("blobs");
        std::fs::create_dir_all(&root)?;
        std::fs::create_dir_all(data_dir.join("tmp"))?;
        // Leftovers of uploads interrupted by a crash.
        for e in std::fs::read_dir(data_dir.join("tmp"))?.flatten() {
            let _ = std::fs::remove_file(e.path());
        }
        Ok(Self { root })
    }
    /// A fresh temporary file path for an upload in progress.
    pub fn temp_path(&self) -> PathBuf {
        self.root.parent().unwrap_or(&self.root).join("tmp").join(format!("upload-{}", crate::util::random_id()))
    }
    /// Where the blob with this hash lives; `None` unless `sha` is 64 lowercase hex digits.
    pub fn path(&self, sha: &str) -> Option<PathBuf> {
        (sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
            .then(|| self.root.join(&sha[..2]).join(sha))
    }
    /// Moves a finished upload into place (keeps the existing blob if the content is already stored).
    pub fn commit(&self, tmp: &Path, sha: &str) -> std::io::Result<PathBuf> {
        let dest = self.path(sha).ok_or_else(|| std::io::Error::other("bad hash"))?;
        if dest.exists() {
            std::fs::remove_file(tmp)?;
        } else {
            std::fs::create_dir_all(dest.parent().expect("blob paths have a parent"))?;
            std::fs::rename(tmp, &dest)?;
        }
        Ok(dest)
    }
}
