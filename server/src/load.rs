//! Opening tensor files from disk: memory-mapped, format detected from content, sharded safetensors
//! checkpoints followed through `model.safetensors.index.json`.

use anyhow::{Context, Result, bail};
use lowbit_core::readers::{self, Checkpoint, TensorEntry};
use memmap2::Mmap;
use std::fs::File;
use std::path::{Path, PathBuf};

/// Memory maps of one logical checkpoint (one file, or the shards of an index).
pub struct Files {
    pub path: PathBuf,
    maps: Vec<(PathBuf, Mmap)>,
    /// For an index: the tensors each shard contributes, by shard position.
    wanted: Option<Vec<Vec<String>>>,
}

/// A parsed checkpoint that borrows from [`Files`].
pub struct Opened<'a> {
    pub format: String,
    pub tensors: Vec<TensorEntry<'a>>,
}

fn map(path: &Path) -> Result<Mmap> {
    let f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    // SAFETY: the map is read-only; lowbit never writes the files it reads. A file truncated by another
    // process while mapped would fault; that is the usual contract of reading through mmap.
    unsafe { Mmap::map(&f) }.with_context(|| format!("cannot map {}", path.display()))
}

impl Files {
    pub fn open(path: &Path) -> Result<Self> {
        let m = map(path)?;
        let is_index = path.extension().is_some_and(|e| e == "json") || m.first() == Some(&b'{');
        if !is_index {
            return Ok(Self { path: path.into(), maps: vec![(path.into(), m)], wanted: None });
        }
        let shards = readers::safetensors::read_index(&m).with_context(|| format!("{}", path.display()))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let mut maps = Vec::new();
        let mut wanted = Vec::new();
        for (file, tensors) in shards {
            let p = dir.join(&file);
            maps.push((p.clone(), map(&p).with_context(|| format!("shard {file} of {}", path.display()))?));
            wanted.push(tensors);
        }
        Ok(Self { path: path.into(), maps, wanted: Some(wanted) })
    }

    /// Parses every file and returns the tensors, in file order.
    pub fn parse(&self) -> Result<Opened<'_>> {
        let mut tensors = Vec::new();
        let mut format = String::new();
        for (k, (p, m)) in self.maps.iter().enumerate() {
            let c: Checkpoint<'_> = readers::read(m).with_context(|| format!("{}", p.display()))?;
            format = c.format.to_string();
            match &self.wanted {
                Some(w) => {
                    for name in &w[k] {
                        if !c.tensors.iter().any(|t| &t.name == name) {
                            bail!("{}: index lists tensor `{name}`, the shard does not hold it", p.display());
                        }
                    }
                    tensors.extend(c.tensors.into_iter().filter(|t| w[k].contains(&t.name)));
                }
                None => tensors.extend(c.tensors),
            }
        }
        if self.wanted.is_some() {
            format = format!("{format} (sharded, {} files)", self.maps.len());
        }
        Ok(Opened { format, tensors })
    }
}

/// Writes `opened`'s tensors to `out` as safetensors, replacing those listed in `replaced` (by index) with
/// f32 values and copying the others unchanged; written to a `.part` file first, then renamed, so a failure
/// never leaves a half-written result under the final name.
pub fn write_replaced(
    out: &Path,
    opened: &Opened<'_>,
    replaced: &std::collections::BTreeMap<usize, Vec<f32>>,
    note: String,
) -> Result<()> {
    use lowbit_core::readers::safetensors::{self, WriteTensor};
    let tensors: Vec<WriteTensor<'_>> = opened
        .tensors
        .iter()
        .enumerate()
        .map(|(i, t)| match replaced.get(&i) {
            Some(v) => WriteTensor::f32(&t.name, &t.shape, v),
            None => WriteTensor { name: &t.name, dtype: t.dtype, shape: &t.shape, bytes: t.data.clone() },
        })
        .collect();
    let meta = std::collections::BTreeMap::from([("lowbit".to_string(), note)]);
    let bytes = safetensors::write(&tensors, &meta)?;
    let tmp = out.with_extension("safetensors.part");
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, out).with_context(|| format!("cannot move the result to {}", out.display()))?;
    Ok(())
}
