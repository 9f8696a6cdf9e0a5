//! safetensors (https://github.com/huggingface/safetensors, "Format"): an 8-byte little-endian header length N,
//! N bytes of JSON `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}`, then the data,
//! offsets relative to its start. Sharded checkpoints add `model.safetensors.index.json` with a `weight_map`.

use super::dtype::DType;
use super::limits::{Budget, checked_numel};
use super::{Checkpoint, FileFormat, TensorEntry};
use crate::error::{Error, Result};
use std::borrow::Cow;
use std::cell::Cell;
use std::collections::BTreeMap;

/// Largest header accepted (the reference implementation's own cap is 100 MB).
pub const MAX_HEADER: u64 = 100 << 20;

pub fn looks_like(bytes: &[u8]) -> bool {
    bytes.len() >= 10 && {
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap_or([0; 8]));
        n <= MAX_HEADER && bytes[8] == b'{'
    }
}

#[derive(serde::Deserialize)]
struct RawEntry {
    dtype: String,
    shape: Vec<u64>,
    data_offsets: (u64, u64),
}

/// Parses the header's entries one at a time, stopping at the tensor limit instead of after the whole
/// header was turned into values (a 100 MB header of tiny tensors would otherwise cost gigabytes first).
struct HeaderSeed<'c> {
    max_tensors: usize,
    over: &'c Cell<bool>,
}

impl<'de> serde::de::DeserializeSeed<'de> for HeaderSeed<'_> {
    type Value = Vec<(String, RawEntry)>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for HeaderSeed<'_> {
    type Value = Vec<(String, RawEntry)>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object of tensors")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> std::result::Result<Self::Value, A::Error> {
        use serde::de::Error as _;
        let mut out = Vec::new();
        while let Some(name) = map.next_key::<String>()? {
            if name == "__metadata__" {
                map.next_value::<serde::de::IgnoredAny>()?;
                continue;
            }
            if out.len() >= self.max_tensors {
                self.over.set(true);
                return Err(A::Error::custom(format!("the header lists more than {} tensors", self.max_tensors)));
            }
            let raw: RawEntry = map
                .next_value()
                .map_err(|e| A::Error::custom(format!("tensor `{name}`: header entry is malformed: {e}")))?;
            out.push((name, raw));
        }
        Ok(out)
    }
}

pub fn read(bytes: &[u8]) -> Result<Checkpoint<'_>> {
    read_with(bytes, &Budget::new(Default::default()))
}

/// Reads a safetensors file within `budget`'s limits. Tensors may not share bytes (each range is decoded
/// on its own, so overlapping entries would multiply the work of one region) and names may not repeat.
pub fn read_with<'a>(bytes: &'a [u8], budget: &Budget) -> Result<Checkpoint<'a>> {
    let max_header = budget.limits.max_header_bytes.min(MAX_HEADER);
    if bytes.len() < 8 {
        return Err(Error::malformed(format!("safetensors file of {} bytes has no header length", bytes.len())));
    }
    let n = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
    if n > max_header {
        return Err(Error::limit(format!("safetensors header claims {n} bytes (limit {max_header})")));
    }
    let data_start = 8 + n as usize;
    if data_start > bytes.len() {
        return Err(Error::malformed(format!(
            "safetensors header claims {n} bytes but the file has only {} after the length",
            bytes.len() - 8
        )));
    }
    let over = Cell::new(false);
    let seed = HeaderSeed { max_tensors: budget.limits.max_tensors, over: &over };
    let mut de = serde_json::Deserializer::from_slice(&bytes[8..data_start]);
    let header = serde::de::DeserializeSeed::deserialize(seed, &mut de).and_then(|h| de.end().map(|()| h));
    let mut header = header.map_err(|e| {
        if over.get() {
            Error::limit(format!("safetensors header lists more than {} tensors", budget.limits.max_tensors))
        } else {
            Error::malformed(format!("safetensors header is not valid JSON: {e}"))
        }
    })?;
    let data = &bytes[data_start..];
    header.sort_unstable_by(|a, b| a.1.data_offsets.cmp(&b.1.data_offsets).then_with(|| a.0.cmp(&b.0)));
    let mut tensors = Vec::with_capacity(header.len());
    let mut prev_end = 0u64;
    let mut prev_name = "";
    for (name, raw) in &header {
        budget.rank(raw.shape.len(), || format!("tensor `{name}`"))?;
        let dtype = DType::from_safetensors(&raw.dtype).map_err(|e| e.context(format!("tensor `{name}`")))?;
        let shape: Vec<usize> = raw.shape.iter().map(|&d| d as usize).collect();
        let (numel, want) = checked_numel(&raw.shape, dtype.size(), || format!("tensor `{name}`"))?;
        let (begin, end) = raw.data_offsets;
        if end < begin || end > data.len() as u64 || want != end - begin {
            return Err(Error::malformed(format!(
                "tensor `{name}`: data_offsets [{begin}, {end}] do not hold {numel} {dtype} elements within the {} data bytes",
                data.len()
            )));
        }
        if begin < prev_end {
            return Err(Error::malformed(format!(
                "tensors `{prev_name}` and `{name}` share bytes (overlapping data_offsets are not read)"
            )));
        }
        if end > begin {
            (prev_end, prev_name) = (end, name);
        }
        tensors.push(TensorEntry {
            name: name.clone(),
            dtype,
            shape,
            data: Cow::Borrowed(&data[begin as usize..end as usize]),
            big_endian: false,
        });
    }
    let mut names: Vec<&str> = header.iter().map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(Error::malformed(format!("tensor `{}` appears twice in the safetensors header", w[0])));
    }
    Ok(Checkpoint { format: FileFormat::Safetensors, tensors })
}

/// The shard files of a `model.safetensors.index.json`, each with the tensors it holds, in file order.
/// Shard names must be plain file names (no directories), so an index cannot point outside its folder.
pub fn read_index(bytes: &[u8]) -> Result<Vec<(String, Vec<String>)>> {
    #[derive(serde::Deserialize)]
    struct Index {
        weight_map: BTreeMap<String, String>,
    }
    let index: Index = serde_json::from_slice(bytes)
        .map_err(|e| Error::malformed(format!("safetensors index has no valid weight_map: {e}")))?;
    let mut shards: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (tensor, file) in index.weight_map {
        if file.is_empty() || file.contains(['/', '\\']) || file == "." || file == ".." {
            return Err(Error::malformed(format!(
                "safetensors index names shard `{file}`, which is not a plain file name"
            )));
        }
        shards.entry(file).or_default().push(tensor);
    }
    Ok(shards.into_iter().collect())
}

/// One tensor to write: name, stored type, shape and little-endian bytes.
pub struct WriteTensor<'a> {
    pub name: &'a str,
    pub dtype: DType,
    pub shape: &'a [usize],
    pub bytes: Cow<'a, [u8]>,
}

impl<'a> WriteTensor<'a> {
    /// An f32 tensor.
    pub fn f32(name: &'a str, shape: &'a [usize], data: &[f32]) -> Self {
        let bytes = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        Self { name, dtype: DType::F32, shape, bytes: Cow::Owned(bytes) }
    }
}

/// The header of a safetensors file holding tensors of these names, types and shapes, in this order: the
/// 8-byte length and the JSON, padded with spaces to a multiple of 8 bytes (so every tensor stays aligned).
/// The data follows it, each tensor's bytes in order. Lets a writer stream the data after the header.
pub fn header(tensors: &[(&str, DType, &[usize])], metadata: &BTreeMap<String, String>) -> Result<Vec<u8>> {
    let mut h = serde_json::Map::new();
    if !metadata.is_empty() {
        h.insert("__metadata__".into(), serde_json::to_value(metadata).expect("string map serializes"));
    }
    let mut offset = 0u64;
    for &(name, dtype, shape) in tensors {
        let dims: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
        let (_, bytes) = checked_numel(&dims, dtype.size(), || format!("tensor `{name}`"))?;
        if name == "__metadata__" || h.contains_key(name) {
            return Err(Error::param(format!("tensor name `{name}` appears twice or is reserved")));
        }
        let end = offset + bytes;
        h.insert(
            name.to_string(),
            serde_json::json!({"dtype": dtype.name(), "shape": shape, "data_offsets": [offset, end]}),
        );
        offset = end;
    }
    let mut json = serde_json::to_vec(&h).expect("header serializes");
    while !(8 + json.len()).is_multiple_of(8) {
        json.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + json.len());
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    Ok(out)
}

/// Writes tensors as a safetensors file: [`header`], then the data in the given order.
pub fn write(tensors: &[WriteTensor<'_>], metadata: &BTreeMap<String, String>) -> Result<Vec<u8>> {
    for t in tensors {
        let numel: usize = t.shape.iter().product();
        if numel * t.dtype.size() != t.bytes.len() {
            return Err(Error::tensor(format!(
                "tensor `{}`: shape {:?} of {} does not match {} bytes",
                t.name,
                t.shape,
                t.dtype,
                t.bytes.len()
            )));
        }
    }
    let layout: Vec<(&str, DType, &[usize])> = tensors.iter().map(|t| (t.name, t.dtype, t.shape)).collect();
    let mut out = header(&layout, metadata)?;
    out.reserve(tensors.iter().map(|t| t.bytes.len()).sum());
    for t in tensors {
        out.extend_from_slice(&t.bytes);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_files_read_back_and_lies_are_caught() {
        let a = [1.0f32, -2.0, 3.5, 0.0, 5.0, 6.0];
        let ids = [7i64, 8];
        let idb: Vec<u8> = ids.iter().flat_map(|v| v.to_le_bytes()).collect();
        let bytes = write(
            &[
                WriteTensor::f32("w", &[2, 3], &a),
                WriteTensor { name: "ids", dtype: DType::I64, shape: &[2], bytes: Cow::Owned(idb) },
            ],
            &BTreeMap::new(),
        )
        .unwrap();
        let c = read(&bytes).unwrap();
        assert_eq!(c.tensors.len(), 2);
        assert_eq!(c.tensors[0].name, "w");
        assert_eq!(c.tensors[0].to_f32().unwrap(), a.to_vec());
        assert_eq!(c.tensors[1].to_f32().unwrap(), vec![7.0, 8.0]);
        // Truncated data, a header longer than the file, garbage JSON, an unknown dtype.
        assert!(read(&bytes[..bytes.len() - 4]).unwrap_err().message.contains("data_offsets"));
        let mut lie = bytes.clone();
        lie[..8].copy_from_slice(&(1u64 << 40).to_le_bytes());
        assert!(read(&lie).unwrap_err().message.contains("claims"));
        let mut junk = bytes.clone();
        junk[9] = b'!';
        assert!(read(&junk).unwrap_err().message.contains("JSON"));
        let text = String::from_utf8_lossy(&bytes[8..]).replace("\"I64\"", "\"Q64\"");
        let mut odd = bytes[..8].to_vec();
        odd.extend_from_slice(text.as_bytes());
        assert!(read(&odd).unwrap_err().message.contains("Q64"));
    }
}
