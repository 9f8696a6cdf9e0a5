//! ONNX models (onnx/onnx.proto, IR version ≥ 3): the tensors of `graph.initializer` and the `value`
//! attribute of `Constant` nodes (many exporters keep weights there), named by the node's output.
//!
//! The protobuf wire format is decoded directly (varints, length-delimited fields) for the handful of
//! messages and fields we need; unknown fields are skipped, as protobuf requires. Tensors with external
//! data are refused with their name. Subgraphs of control-flow nodes are not searched.

use super::dtype::DType;
use super::limits::{Budget, checked_numel};
use super::{Checkpoint, FileFormat, TensorEntry};
use crate::error::{Error, Result};
use std::borrow::Cow;

/// Protobuf field numbers (onnx.proto).
mod field {
    pub const MODEL_GRAPH: u64 = 7;
    pub const GRAPH_NODE: u64 = 1;
    pub const GRAPH_INITIALIZER: u64 = 5;
    pub const NODE_OUTPUT: u64 = 2;
    pub const NODE_OP_TYPE: u64 = 4;
    pub const NODE_ATTRIBUTE: u64 = 5;
    pub const ATTR_NAME: u64 = 1;
    pub const ATTR_T: u64 = 5;
    pub const TENSOR_DIMS: u64 = 1;
    pub const TENSOR_DATA_TYPE: u64 = 2;
    pub const TENSOR_FLOAT_DATA: u64 = 4;
    pub const TENSOR_INT32_DATA: u64 = 5;
    pub const TENSOR_INT64_DATA: u64 = 7;
    pub const TENSOR_NAME: u64 = 8;
    pub const TENSOR_RAW_DATA: u64 = 9;
    pub const TENSOR_DOUBLE_DATA: u64 = 10;
    pub const TENSOR_UINT64_DATA: u64 = 11;
    pub const TENSOR_DATA_LOCATION: u64 = 14;
}

/// One decoded field: number and payload.
enum Wire<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    Fixed32(u32),
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn new(b: &'a [u8]) -> Self {
        Self { b, at: 0 }
    }
    fn varint(&mut self) -> Result<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self.b.get(self.at).ok_or_else(|| Error::malformed("onnx: protobuf varint is truncated"))?;
            self.at += 1;
            v |= ((byte & 0x7F) as u64) << shift;
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(Error::malformed("onnx: protobuf varint is longer than 10 bytes"))
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.b.len())
            .ok_or_else(|| Error::malformed("onnx: protobuf field runs past its message (truncated?)"))?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn next(&mut self) -> Result<Option<(u64, Wire<'a>)>> {
        if self.at >= self.b.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let (num, ty) = (key >> 3, key & 7);
        let w = match ty {
            0 => Wire::Varint(self.varint()?),
            1 => Wire::Fixed64(u64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes"))),
            2 => {
                let n = self.varint()? as usize;
                Wire::Bytes(self.take(n)?)
            }
            5 => Wire::Fixed32(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes"))),
            t => {
                return Err(Error::malformed(format!("onnx: protobuf wire type {t} is not valid here")));
            }
        };
        Ok(Some((num, w)))
    }
}

fn onnx_dtype(code: u64) -> Result<DType> {
    Ok(match code {
        1 => DType::F32,
        2 => DType::U8,
        3 => DType::I8,
        4 => DType::U16,
        5 => DType::I16,
        6 => DType::I32,
        7 => DType::I64,
        9 => DType::Bool,
        10 => DType::F16,
        11 => DType::F64,
        12 => DType::U32,
        13 => DType::U64,
        16 => DType::BF16,
        17 => DType::F8E4M3,
        19 => DType::F8E5M2,
        other => {
            return Err(Error::unsupported(format!("onnx data type {other} is not read")));
        }
    })
}

/// Packed or unpacked repeated varints / fixed values, appended as little-endian bytes of `dtype`.
fn push_repeated(w: Wire<'_>, dtype: DType, float: bool, out: &mut Vec<u8>) -> Result<()> {
    let mut put = |v: u64| {
        let bytes = v.to_le_bytes();
        out.extend_from_slice(&bytes[..dtype.size()]);
    };
    match w {
        Wire::Varint(v) => put(v),
        Wire::Fixed32(v) if float => out.extend_from_slice(&v.to_le_bytes()),
        Wire::Fixed64(v) => out.extend_from_slice(&v.to_le_bytes()),
        Wire::Bytes(b) if float => out.extend_from_slice(b),
        Wire::Bytes(b) => {
            let mut r = Reader::new(b);
            while r.at < b.len() {
                put(r.varint()?);
            }
        }
        Wire::Fixed32(_) => return Err(Error::malformed("onnx: fixed32 in an integer field")),
    }
    Ok(())
}

fn tensor<'a>(msg: &'a [u8], fallback_name: &str, budget: &Budget) -> Result<TensorEntry<'a>> {
    let mut r = Reader::new(msg);
    let (mut dims, mut dtype, mut name) = (Vec::new(), None, fallback_name.to_string());
    let mut raw: Option<&'a [u8]> = None;
    let mut typed: Vec<(u64, Wire<'a>)> = Vec::new();
    let mut external = false;
    while let Some((num, w)) = r.next()? {
        match (num, w) {
            (field::TENSOR_DIMS, Wire::Varint(d)) => dims.push(d),
            (field::TENSOR_DIMS, Wire::Bytes(b)) => {
                let mut rr = Reader::new(b);
                while rr.at < b.len() {
                    dims.push(rr.varint()?);
                }
            }
            (field::TENSOR_DATA_TYPE, Wire::Varint(t)) => dtype = Some(t),
            (field::TENSOR_NAME, Wire::Bytes(b)) if !b.is_empty() => name = String::from_utf8_lossy(b).into_owned(),
            (field::TENSOR_RAW_DATA, Wire::Bytes(b)) => raw = Some(b),
            (field::TENSOR_DATA_LOCATION, Wire::Varint(1)) => external = true,
            (
                n @ (field::TENSOR_FLOAT_DATA
                | field::TENSOR_INT32_DATA
                | field::TENSOR_INT64_DATA
                | field::TENSOR_DOUBLE_DATA
                | field::TENSOR_UINT64_DATA),
                w,
            ) => typed.push((n, w)),
            _ => {}
        }
    }
    if external {
        return Err(Error::unsupported(format!("onnx tensor `{name}` keeps its data in an external file")));
    }
    let code = dtype.ok_or_else(|| Error::malformed(format!("onnx tensor `{name}` has no data type")))?;
    let dtype = onnx_dtype(code).map_err(|e| e.context(format!("onnx tensor `{name}`")))?;
    budget.rank(dims.len(), || format!("onnx tensor `{name}`"))?;
    let shape: Vec<usize> = dims.iter().map(|&d| d as usize).collect();
    let (_, want) = checked_numel(&dims, dtype.size(), || format!("onnx tensor `{name}`"))?;
    let data: Cow<'a, [u8]> = match raw {
        Some(b) => Cow::Borrowed(b),
        None => {
            // Typed fields: float_data for F32; int32_data also carries 8/16-bit types and F16/BF16 bits.
            // Each element takes at least one byte of the message: reserve no more than it can hold.
            let most = (msg.len() as u64).saturating_mul(dtype.size() as u64);
            if want > most {
                return Err(Error::malformed(format!(
                    "onnx tensor `{name}`: shape {shape:?} needs {want} bytes, more than its {} bytes can hold",
                    msg.len()
                )));
            }
            budget.charge(want, || format!("onnx tensor `{name}`"))?;
            let mut out = Vec::with_capacity(want as usize);
            for (n, w) in typed {
                let float = n == field::TENSOR_FLOAT_DATA || n == field::TENSOR_DOUBLE_DATA;
                push_repeated(w, dtype, float, &mut out)?;
            }
            Cow::Owned(out)
        }
    };
    if data.len() as u64 != want {
        return Err(Error::malformed(format!(
            "onnx tensor `{name}`: shape {shape:?} of {dtype} needs {want} bytes, the file holds {}",
            data.len()
        )));
    }
    Ok(TensorEntry { name, dtype, shape, data, big_endian: false })
}

/// Whether the bytes start like a ModelProto (ir_version varint, field 1, or another small field).
pub fn looks_like(bytes: &[u8]) -> bool {
    bytes.first() == Some(&0x08) && {
        let mut r = Reader::new(bytes);
        let mut seen_graph = false;
        while let Ok(Some((num, _))) = r.next() {
            if num == field::MODEL_GRAPH {
                seen_graph = true;
                break;
            }
            if num > 20 {
                break;
            }
        }
        seen_graph
    }
}

pub fn read(bytes: &[u8]) -> Result<Checkpoint<'_>> {
    read_with(bytes, &Budget::new(Default::default()))
}

/// Reads an ONNX model's initializers and `Constant` tensors within `budget`.
pub fn read_with<'a>(bytes: &'a [u8], budget: &Budget) -> Result<Checkpoint<'a>> {
    let mut r = Reader::new(bytes);
    let mut graph = None;
    while let Some((num, w)) = r.next()? {
        if let (field::MODEL_GRAPH, Wire::Bytes(b)) = (num, w) {
            graph = Some(b);
        }
    }
    let graph = graph.ok_or_else(|| Error::malformed("onnx model has no graph"))?;
    let mut tensors = Vec::new();
    let mut g = Reader::new(graph);
    while let Some((num, w)) = g.next()? {
        match (num, w) {
            (field::GRAPH_INITIALIZER, Wire::Bytes(b)) => {
                tensors.push(tensor(b, "", budget)?);
                budget.tensors(tensors.len())?;
            }
            (field::GRAPH_NODE, Wire::Bytes(node)) => {
                let mut n = Reader::new(node);
                let (mut op, mut output, mut value) = (&b""[..], String::new(), None);
                while let Some((num, w)) = n.next()? {
                    match (num, w) {
                        (field::NODE_OP_TYPE, Wire::Bytes(b)) => op = b,
                        (field::NODE_OUTPUT, Wire::Bytes(b)) if output.is_empty() => {
                            output = String::from_utf8_lossy(b).into_owned()
                        }
                        (field::NODE_ATTRIBUTE, Wire::Bytes(a)) => {
                            let mut ar = Reader::new(a);
                            let (mut aname, mut t) = (&b""[..], None);
                            while let Some((num, w)) = ar.next()? {
                                match (num, w) {
                                    (field::ATTR_NAME, Wire::Bytes(b)) => aname = b,
                                    (field::ATTR_T, Wire::Bytes(b)) => t = Some(b),
                                    _ => {}
                                }
                            }
                            if aname == b"value" {
                                value = t;
                            }
                        }
                        _ => {}
                    }
                }
                if op == b"Constant"
                    && let Some(t) = value
                {
                    let mut entry = tensor(t, &output, budget)?;
                    entry.name = output.clone();
                    tensors.push(entry);
                    budget.tensors(tensors.len())?;
                }
            }
            _ => {}
        }
    }
    Ok(Checkpoint { format: FileFormat::Onnx, tensors })
}
