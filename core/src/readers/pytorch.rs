//! PyTorch `.pt`/`.pth` checkpoints in the zip format `torch.save` writes since 1.6: `<dir>/data.pkl` is a
//! pickle whose tensors are `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, …)` calls on
//! persistent ids `('storage', torch.FloatStorage, key, location, numel)`, with storage bytes in
//! `<dir>/data/<key>` (little-endian). The pickle is read by [`super::pickle`], which never executes code;
//! only the rebuild calls above are interpreted. State dicts, nested dicts of them, and whole pickled
//! modules (their `_parameters`, `_buffers`, `_modules`) are walked, and tensors get dotted names.
//!
//! A storage member is inflated at most once per read however many tensors view it, and a view may not hold
//! more elements than its storage (stride-0 broadcasts would turn 4 bytes into terabytes).

use super::dtype::DType;
use super::limits::{Budget, checked_numel};
use super::pickle::{self, Value};
use super::{Checkpoint, FileFormat, TensorEntry, zip};
use crate::error::{Error, Result};
use std::borrow::Cow;
use std::collections::HashMap;

fn storage_dtype(name: &str) -> Result<DType> {
    Ok(match name {
        "FloatStorage" => DType::F32,
        "DoubleStorage" => DType::F64,
        "HalfStorage" => DType::F16,
        "BFloat16Storage" => DType::BF16,
        "LongStorage" => DType::I64,
        "IntStorage" => DType::I32,
        "ShortStorage" => DType::I16,
        "CharStorage" => DType::I8,
        "ByteStorage" => DType::U8,
        "BoolStorage" => DType::Bool,
        other => {
            return Err(Error::unsupported(format!("PyTorch storage type `{other}` is not read")));
        }
    })
}

struct Walker<'a, 'b> {
    bytes: &'a [u8],
    members: HashMap<String, zip::ZipEntry>,
    /// Storages already inflated (deflated members only; stored ones are borrowed from `bytes`).
    inflated: HashMap<String, Vec<u8>>,
    prefix: String,
    out: Vec<TensorEntry<'a>>,
    budget: &'b Budget,
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() { key.to_string() } else { format!("{prefix}.{key}") }
}

fn ints(v: &Value, what: &str) -> Result<Vec<i64>> {
    v.as_seq()
        .ok_or_else(|| Error::malformed(format!("tensor {what} is not a tuple")))?
        .iter()
        .map(|x| x.as_int().ok_or_else(|| Error::malformed(format!("tensor {what} holds a non-integer"))))
        .collect()
}

impl<'a> Walker<'a, '_> {
    fn walk(&mut self, v: &Value, name: &str) -> Result<()> {
        match v {
            Value::Dict(items) => {
                for (k, v) in items {
                    let key = match k {
                        Value::Str(s) => s.clone(),
                        Value::Int(i) => i.to_string(),
                        _ => continue,
                    };
                    self.walk(v, &join(name, &key))?;
                }
            }
            Value::List(items) | Value::Tuple(items) => {
                for (i, v) in items.iter().enumerate() {
                    self.walk(v, &join(name, &i.to_string()))?;
                }
            }
            Value::Call { func, args, state, .. } => match func.global_name() {
                Some(("torch._utils", "_rebuild_tensor_v2" | "_rebuild_tensor")) => {
                    let t = self.tensor(args, name)?;
                    self.out.push(t);
                    self.budget.tensors(self.out.len())?;
                }
                Some(("torch._utils", "_rebuild_parameter" | "_rebuild_parameter_with_state")) => {
                    if let Some(first) = args.as_seq().and_then(|a| a.first()) {
                        self.walk(first, name)?;
                    }
                }
                _ => {
                    // A pickled module: its parameters, buffers and submodules live in its BUILD state.
                    if let Some(Value::Dict(items)) = state.as_deref() {
                        for (k, v) in items {
                            if matches!(k.as_str(), Some("_parameters" | "_buffers" | "_modules")) {
                                self.walk(v, name)?;
                            }
                        }
                    }
                }
            },
            _ => {}
        }
        Ok(())
    }

    fn tensor(&mut self, args: &Value, name: &str) -> Result<TensorEntry<'a>> {
        let bad = |m: &str| Error::malformed(format!("tensor `{name}`: {m}"));
        let a = args.as_seq().filter(|a| a.len() >= 4).ok_or_else(|| bad("rebuild call has too few arguments"))?;
        let Value::PersId(pid) = &a[0] else {
            return Err(bad("storage is not a persistent id"));
        };
        let pid = pid.as_seq().filter(|p| p.len() >= 5).ok_or_else(|| bad("storage id is not a 5-tuple"))?;
        let (_, class) = pid[1].global_name().ok_or_else(|| bad("storage type is not a class name"))?;
        let dtype = storage_dtype(class).map_err(|e| e.context(format!("tensor `{name}`")))?;
        let key = match &pid[2] {
            Value::Str(s) => s.clone(),
            Value::Int(i) => i.to_string(),
            _ => return Err(bad("storage key is not a string")),
        };
        let offset = a[1].as_int().ok_or_else(|| bad("storage offset is not an integer"))?;
        let size = ints(&a[2], "size")?;
        let stride = ints(&a[3], "stride")?;
        if size.len() != stride.len() || offset < 0 || size.iter().chain(&stride).any(|&d| d < 0) {
            return Err(bad("size, stride and offset do not describe a tensor"));
        }
        self.budget.rank(size.len(), || format!("tensor `{name}`"))?;
        let (size, stride, offset): (Vec<u64>, Vec<u64>, u64) =
            (size.iter().map(|&d| d as u64).collect(), stride.iter().map(|&d| d as u64).collect(), offset as u64);
        let member = format!("{}data/{key}", self.prefix);
        let entry =
            self.members.get(&member).ok_or_else(|| bad(&format!("storage `{member}` is missing from the archive")))?;
        let es = dtype.size() as u64;
        let (numel, nbytes) = checked_numel(&size, es as usize, || format!("tensor `{name}`"))?;
        // The view must fit its storage: its element count, and the largest element index it touches
        // (computed without overflow: every term is bounded before it is added).
        let storage_elems = entry.size_hint() / es;
        if numel > storage_elems {
            return Err(Error::limit(format!(
                "tensor `{name}`: a view of {numel} elements over a storage of {storage_elems} \
                 (views that repeat elements, such as stride-0 broadcasts, are not read)"
            )));
        }
        let mut last = offset;
        if numel > 0 {
            for (&d, &s) in size.iter().zip(&stride) {
                last = (d - 1).checked_mul(s).and_then(|t| last.checked_add(t)).unwrap_or(u64::MAX);
            }
            if last >= storage_elems {
                return Err(bad(&format!("view reaches element {last} of a storage of {storage_elems} elements")));
            }
        }
        let stored: Option<&'a [u8]> = if entry.is_compressed() {
            if !self.inflated.contains_key(&member) {
                let v = zip::data(self.bytes, entry, self.budget)?.into_owned();
                self.inflated.insert(member.clone(), v);
            }
            None
        } else {
            match zip::data(self.bytes, entry, self.budget)? {
                Cow::Borrowed(b) => Some(b),
                Cow::Owned(_) => return Err(bad("stored member came back inflated")),
            }
        };
        let storage: &[u8] = match stored {
            Some(b) => b,
            None => &self.inflated[&member],
        };
        if (storage.len() as u64) < storage_elems * es {
            return Err(bad("storage is shorter than its directory entry says"));
        }
        let shape: Vec<usize> = size.iter().map(|&d| d as usize).collect();
        let mut contiguous = true;
        let mut expect = 1u64;
        for (&d, &s) in size.iter().zip(&stride).rev() {
            if d > 1 && s != expect {
                contiguous = false;
            }
            expect = expect.saturating_mul(d.max(1));
        }
        let (es, numel) = (es as usize, numel as usize);
        let off = if numel == 0 { 0 } else { offset as usize * es };
        let nbytes = nbytes as usize;
        let data: Cow<'a, [u8]> = if let (true, Some(bytes)) = (contiguous, stored) {
            // Stored member: borrow from the file itself.
            Cow::Borrowed(&bytes[off..off + nbytes])
        } else if contiguous {
            self.budget.charge(nbytes as u64, || format!("tensor `{name}`"))?;
            Cow::Owned(storage[off..off + nbytes].to_vec())
        } else {
            self.budget.charge(nbytes as u64, || format!("tensor `{name}`"))?;
            let mut out = Vec::with_capacity(nbytes);
            let mut idx = vec![0usize; shape.len()];
            let stride: Vec<usize> = stride.iter().map(|&s| s as usize).collect();
            for _ in 0..numel {
                let at = offset as usize + idx.iter().zip(&stride).map(|(&i, &s)| i * s).sum::<usize>();
                out.extend_from_slice(&storage[at * es..(at + 1) * es]);
                for ax in (0..shape.len()).rev() {
                    idx[ax] += 1;
                    if idx[ax] < shape[ax] {
                        break;
                    }
                    idx[ax] = 0;
                }
            }
            Cow::Owned(out)
        };
        Ok(TensorEntry { name: name.to_string(), dtype, shape, data, big_endian: false })
    }
}

/// Whether the bytes look like a legacy (pre-1.6, non-zip) torch.save file: a bare pickle.
pub fn looks_like_legacy(bytes: &[u8]) -> bool {
    bytes.len() > 2 && bytes[0] == 0x80 && (2..=5).contains(&bytes[1])
}

pub fn read(bytes: &[u8], entries: Vec<zip::ZipEntry>) -> Result<Checkpoint<'_>> {
    read_with(bytes, entries, &Budget::new(Default::default()))
}

/// Reads a PyTorch zip checkpoint whose members are `entries`, charging what it decodes to `budget`.
pub fn read_with<'a>(bytes: &'a [u8], entries: Vec<zip::ZipEntry>, budget: &Budget) -> Result<Checkpoint<'a>> {
    let pkl = entries
        .iter()
        .find(|e| e.name == "data.pkl" || e.name.ends_with("/data.pkl"))
        .ok_or_else(|| Error::malformed("zip archive has no data.pkl: not a PyTorch checkpoint"))?;
    let prefix = pkl.name.strip_suffix("data.pkl").unwrap_or("").to_string();
    let root = pickle::load_with(&zip::data(bytes, pkl, budget)?, &budget.limits).map_err(|e| e.context("data.pkl"))?;
    let members = entries.into_iter().map(|e| (e.name.clone(), e)).collect();
    let mut w = Walker { bytes, members, inflated: HashMap::new(), prefix, out: Vec::new(), budget };
    w.walk(&root, "")?;
    Ok(Checkpoint { format: FileFormat::PyTorch, tensors: w.out })
}
