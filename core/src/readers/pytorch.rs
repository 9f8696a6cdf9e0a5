//! PyTorch `.pt`/`.pth` checkpoints in the zip format `torch.save` writes since 1.6: `<dir>/data.pkl` is a
//! pickle whose tensors are `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, …)` calls on
//! persistent ids `('storage', torch.FloatStorage, key, location, numel)`, with storage bytes in
//! `<dir>/data/<key>` (little-endian). The pickle is read by [`super::pickle`], which never executes code;
//! only the rebuild calls above are interpreted. State dicts, nested dicts of them, and whole pickled
//! modules (their `_parameters`, `_buffers`, `_modules`) are walked, and tensors get dotted names.

use super::dtype::DType;
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

struct Walker<'a> {
    bytes: &'a [u8],
    members: HashMap<String, zip::ZipEntry>,
    prefix: String,
    out: Vec<TensorEntry<'a>>,
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

impl<'a> Walker<'a> {
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

    fn tensor(&self, args: &Value, name: &str) -> Result<TensorEntry<'a>> {
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
        let member = format!("{}data/{key}", self.prefix);
        let entry =
            self.members.get(&member).ok_or_else(|| bad(&format!("storage `{member}` is missing from the archive")))?;
        let storage = zip::data(self.bytes, entry)?;
        let es = dtype.size();
        let shape: Vec<usize> = size.iter().map(|&d| d as usize).collect();
        let numel: usize = shape.iter().product();
        // Largest element index the view touches must lie inside the storage.
        let last =
            offset as usize + shape.iter().zip(&stride).map(|(&d, &s)| d.saturating_sub(1) * s as usize).sum::<usize>();
        if numel > 0 && (last + 1) * es > storage.len() {
            return Err(bad(&format!("view reaches element {last} of a storage of {} bytes", storage.len())));
        }
        let mut contiguous = true;
        let mut expect = 1i64;
        for (&d, &s) in size.iter().zip(&stride).rev() {
            if d > 1 && s != expect {
                contiguous = false;
            }
            expect *= d.max(1);
        }
        let off = offset as usize * es;
        let data: Cow<'a, [u8]> = if contiguous {
            match storage {
                Cow::Borrowed(s) => Cow::Borrowed(&s[off..off + numel * es]),
                Cow::Owned(s) => Cow::Owned(s[off..off + numel * es].to_vec()),
            }
        } else {
            let mut out = Vec::with_capacity(numel * es);
            let mut idx = vec![0usize; shape.len()];
            for _ in 0..numel {
                let at = offset as usize + idx.iter().zip(&stride).map(|(&i, &s)| i * s as usize).sum::<usize>();
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
    let pkl = entries
        .iter()
        .find(|e| e.name == "data.pkl" || e.name.ends_with("/data.pkl"))
        .ok_or_else(|| Error::malformed("zip archive has no data.pkl: not a PyTorch checkpoint"))?;
    let prefix = pkl.name.strip_suffix("data.pkl").unwrap_or("").to_string();
    let root = pickle::load(&zip::data(bytes, pkl)?).map_err(|e| e.context("data.pkl"))?;
    let members = entries.into_iter().map(|e| (e.name.clone(), e)).collect();
    let mut w = Walker { bytes, members, prefix, out: Vec::new() };
    w.walk(&root, "")?;
    Ok(Checkpoint { format: FileFormat::PyTorch, tensors: w.out })
}
