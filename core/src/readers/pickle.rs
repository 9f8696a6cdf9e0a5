//! A pickle reader that never executes code: it runs the pickle stack machine (protocols 2–5) but builds
//! inert values. `GLOBAL`/`STACK_GLOBAL` become [`Value::Global`] names and `REDUCE`/`NEWOBJ`/`BUILD` become
//! [`Value::Call`] records of what would have been called; the caller decides which few of them (PyTorch's
//! tensor rebuild functions, `OrderedDict`) to interpret. Opcodes that only make sense for arbitrary objects
//! (`INST`, `OBJ`, `EXT*`) and the text protocols are refused. Reference: CPython `Lib/pickletools.py`.

use crate::error::{Error, Result};

/// Limits that bound memory and work on hostile input.
const MAX_STACK: usize = 1 << 20;
const MAX_MEMO: usize = 1 << 22;

/// An inert pickled value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    Tuple(Vec<Value>),
    List(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    /// `module.name`, never imported.
    Global(String, String),
    /// What REDUCE/NEWOBJ would have called, with its arguments and any BUILD state or SETITEMs.
    Call {
        func: Box<Value>,
        args: Box<Value>,
        state: Option<Box<Value>>,
        items: Vec<(Value, Value)>,
    },
    /// A persistent id (PyTorch uses these for storages).
    PersId(Box<Value>),
}

impl Value {
    pub fn as_str(&self) -> Option<&str> {
        if let Self::Str(s) = self { Some(s) } else { None }
    }
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Self::Int(i) => Some(*i),
            Self::Bool(b) => Some(*b as i64),
            _ => None,
        }
    }
    pub fn as_seq(&self) -> Option<&[Value]> {
        match self {
            Self::Tuple(v) | Self::List(v) => Some(v),
            _ => None,
        }
    }
    /// `Some(("module", "name"))` for a Global, or for a Call of one.
    pub fn global_name(&self) -> Option<(&str, &str)> {
        match self {
            Self::Global(m, n) => Some((m, n)),
            _ => None,
        }
    }
}

enum Item {
    Mark,
    V(Value),
}

struct Machine<'a> {
    b: &'a [u8],
    at: usize,
    stack: Vec<Item>,
    memo: Vec<Option<Value>>,
}

impl<'a> Machine<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.b.len())
            .ok_or_else(|| Error::malformed("pickle is truncated"))?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }
    fn line(&mut self) -> Result<String> {
        let rest = &self.b[self.at..];
        let n = rest
            .iter()
            .position(|&c| c == b'\n')
            .ok_or_else(|| Error::malformed("pickle text line is unterminated"))?;
        let s = String::from_utf8_lossy(&rest[..n]).into_owned();
        self.at += n + 1;
        Ok(s)
    }
    fn push(&mut self, v: Value) -> Result<()> {
        if self.stack.len() >= MAX_STACK {
            return Err(Error::malformed("pickle stack grows beyond its limit"));
        }
        self.stack.push(Item::V(v));
        Ok(())
    }
    fn pop(&mut self) -> Result<Value> {
        match self.stack.pop() {
            Some(Item::V(v)) => Ok(v),
            Some(Item::Mark) => Err(Error::malformed("pickle pops a mark as a value")),
            None => Err(Error::malformed("pickle pops from an empty stack")),
        }
    }
    fn top(&mut self) -> Result<&mut Value> {
        match self.stack.last_mut() {
            Some(Item::V(v)) => Ok(v),
            _ => Err(Error::malformed("pickle expects a value on the stack")),
        }
    }
    fn pop_mark(&mut self) -> Result<Vec<Value>> {
        let pos = self
            .stack
            .iter()
            .rposition(|i| matches!(i, Item::Mark))
            .ok_or_else(|| Error::malformed("pickle has no mark to pop to"))?;
        let items = self.stack.split_off(pos + 1);
        self.stack.pop();
        Ok(items.into_iter().map(|i| if let Item::V(v) = i { v } else { Value::None }).collect())
    }
    fn memo_put(&mut self, k: usize) -> Result<()> {
        if k >= MAX_MEMO {
            return Err(Error::malformed("pickle memo index is beyond its limit"));
        }
        let v = self.top()?.clone();
        if self.memo.len() <= k {
            self.memo.resize(k + 1, None);
        }
        self.memo[k] = Some(v);
        Ok(())
    }
    fn memo_get(&mut self, k: usize) -> Result<()> {
        let v = self
            .memo
            .get(k)
            .cloned()
            .flatten()
            .ok_or_else(|| Error::malformed(format!("pickle reads memo {k}, never written")))?;
        self.push(v)
    }
    fn str_of(&mut self, n: usize) -> Result<()> {
        let s = String::from_utf8_lossy(self.take(n)?).into_owned();
        self.push(Value::Str(s))
    }
    fn set_items(target: &mut Value, pairs: Vec<(Value, Value)>) -> Result<()> {
        match target {
            Value::Dict(d) => d.extend(pairs),
            Value::Call { items, .. } => items.extend(pairs),
            _ => {
                return Err(Error::malformed("pickle SETITEM on something that is not a dict"));
            }
        }
        Ok(())
    }
    fn append(target: &mut Value, vals: Vec<Value>) -> Result<()> {
        match target {
            Value::List(l) => l.extend(vals),
            Value::Call { items, .. } => items.extend(vals.into_iter().map(|v| (Value::None, v))),
            _ => {
                return Err(Error::malformed("pickle APPEND on something that is not a list"));
            }
        }
        Ok(())
    }
}

/// Runs a pickle and returns the value STOP leaves on the stack.
pub fn load(bytes: &[u8]) -> Result<Value> {
    let mut m = Machine { b: bytes, at: 0, stack: Vec::new(), memo: Vec::new() };
    loop {
        let op = m.u8()?;
        match op {
            0x80 => {
                let v = m.u8()?;
                if !(2..=5).contains(&v) {
                    return Err(Error::unsupported(format!("pickle protocol {v} (lowbit reads 2 to 5)")));
                }
            }
            0x95 => {
                m.u64()?;
            }
            b'.' => return m.pop(),
            b'(' => m.stack.push(Item::Mark),
            b'N' => m.push(Value::None)?,
            0x88 => m.push(Value::Bool(true))?,
            0x89 => m.push(Value::Bool(false))?,
            b'J' => {
                let v = m.u32()? as i32 as i64;
                m.push(Value::Int(v))?
            }
            b'K' => {
                let v = m.u8()? as i64;
                m.push(Value::Int(v))?
            }
            b'M' => {
                let s = m.take(2)?;
                m.push(Value::Int(u16::from_le_bytes([s[0], s[1]]) as i64))?
            }
            0x8a => {
                let n = m.u8()? as usize;
                let s = m.take(n)?;
                if n > 8 {
                    return Err(Error::unsupported("pickle integer wider than 64 bits"));
                }
                let mut buf = if s.last().is_some_and(|&b| b & 0x80 != 0) { [0xFF; 8] } else { [0; 8] };
                buf[..n].copy_from_slice(s);
                m.push(Value::Int(i64::from_le_bytes(buf)))?
            }
            b'G' => {
                let v = f64::from_be_bytes(m.take(8)?.try_into().expect("8 bytes"));
                m.push(Value::Float(v))?
            }
            b'X' => {
                let n = m.u32()? as usize;
                m.str_of(n)?
            }
            0x8c => {
                let n = m.u8()? as usize;
                m.str_of(n)?
            }
            0x8d => {
                let n = m.u64()? as usize;
                m.str_of(n)?
            }
            b'T' => {
                let n = m.u32()? as usize;
                m.str_of(n)?
            }
            b'U' => {
                let n = m.u8()? as usize;
                m.str_of(n)?
            }
            b'B' => {
                let n = m.u32()? as usize;
                let v = m.take(n)?.to_vec();
                m.push(Value::Bytes(v))?
            }
            b'C' => {
                let n = m.u8()? as usize;
                let v = m.take(n)?.to_vec();
                m.push(Value::Bytes(v))?
            }
            0x8e => {
                let n = m.u64()? as usize;
                let v = m.take(n)?.to_vec();
                m.push(Value::Bytes(v))?
            }
            b')' => m.push(Value::Tuple(Vec::new()))?,
            b't' => {
                let v = m.pop_mark()?;
                m.push(Value::Tuple(v))?
            }
            0x85..=0x87 => {
                let n = (op - 0x84) as usize;
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    v.push(m.pop()?);
                }
                v.reverse();
                m.push(Value::Tuple(v))?
            }
            b']' => m.push(Value::List(Vec::new()))?,
            b'l' => {
                let v = m.pop_mark()?;
                m.push(Value::List(v))?
            }
            b'a' => {
                let v = m.pop()?;
                Machine::append(m.top()?, vec![v])?
            }
            b'e' => {
                let v = m.pop_mark()?;
                Machine::append(m.top()?, v)?
            }
            b'}' => m.push(Value::Dict(Vec::new()))?,
            b'd' => {
                let v = m.pop_mark()?;
                let pairs = pairs_of(v)?;
                m.push(Value::Dict(pairs))?
            }
            b's' => {
                let v = m.pop()?;
                let k = m.pop()?;
                Machine::set_items(m.top()?, vec![(k, v)])?
            }
            b'u' => {
                let v = m.pop_mark()?;
                let pairs = pairs_of(v)?;
                Machine::set_items(m.top()?, pairs)?
            }
            0x8f => m.push(Value::List(Vec::new()))?, // EMPTY_SET: kept as a list
            0x90 => {
                let v = m.pop_mark()?;
                Machine::append(m.top()?, v)?
            }
            0x91 => {
                let v = m.pop_mark()?;
                m.push(Value::List(v))?
            }
            b'q' => {
                let k = m.u8()? as usize;
                m.memo_put(k)?
            }
            b'r' => {
                let k = m.u32()? as usize;
                m.memo_put(k)?
            }
            0x94 => {
                let k = m.memo.len();
                m.memo_put(k)?
            }
            b'h' => {
                let k = m.u8()? as usize;
                m.memo_get(k)?
            }
            b'j' => {
                let k = m.u32()? as usize;
                m.memo_get(k)?
            }
            b'c' => {
                let module = m.line()?;
                let name = m.line()?;
                m.push(Value::Global(module, name))?
            }
            0x93 => {
                let name = m.pop()?;
                let module = m.pop()?;
                match (module, name) {
                    (Value::Str(a), Value::Str(b)) => m.push(Value::Global(a, b))?,
                    _ => return Err(Error::malformed("pickle STACK_GLOBAL without two strings")),
                }
            }
            b'R' | 0x81 => {
                let args = m.pop()?;
                let func = m.pop()?;
                let v = match func.global_name() {
                    // Never called: an OrderedDict is just a dict.
                    Some(("collections", "OrderedDict")) => Value::Dict(Vec::new()),
                    _ => Value::Call { func: Box::new(func), args: Box::new(args), state: None, items: Vec::new() },
                };
                m.push(v)?
            }
            b'b' => {
                let state = m.pop()?;
                match m.top()? {
                    Value::Call { state: s, .. } => *s = Some(Box::new(state)),
                    Value::Dict(_) => {}
                    _ => return Err(Error::malformed("pickle BUILD on a plain value")),
                }
            }
            b'Q' => {
                let pid = m.pop()?;
                m.push(Value::PersId(Box::new(pid)))?
            }
            b'0' => {
                m.stack.pop();
            }
            b'2' => {
                let v = m.top()?.clone();
                m.push(v)?
            }
            b'1' => {
                m.pop_mark()?;
            }
            other => {
                return Err(Error::unsupported(format!(
                    "pickle opcode {other:#04x} at byte {} is not read (lowbit never executes pickled code)",
                    m.at - 1
                )));
            }
        }
    }
}

fn pairs_of(v: Vec<Value>) -> Result<Vec<(Value, Value)>> {
    if !v.len().is_multiple_of(2) {
        return Err(Error::malformed("pickle dict has an odd number of items"));
    }
    let mut it = v.into_iter();
    let mut out = Vec::new();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((k, v));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_protocol_2_dict() {
        // pickle.dumps({'a': 1, 'b': (2.5, 'x')}, protocol=2)
        let p = b"\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01K\x01X\x01\x00\x00\x00bq\x02G@\x04\x00\x00\x00\x00\x00\x00X\x01\x00\x00\x00xq\x03\x86q\x04u.";
        let v = load(p).unwrap();
        assert_eq!(
            v,
            Value::Dict(vec![
                (Value::Str("a".into()), Value::Int(1)),
                (Value::Str("b".into()), Value::Tuple(vec![Value::Float(2.5), Value::Str("x".into())])),
            ])
        );
    }

    #[test]
    fn code_execution_opcodes_are_refused_and_garbage_is_an_error() {
        // pickle of os.system via INST ('i') is refused; REDUCE only records the call.
        assert!(load(b"(S'ls'\nios\nsystem\n.").is_err());
        let v = load(b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00lsq\x00\x85R.").unwrap();
        assert!(matches!(v, Value::Call { .. }));
        assert!(load(b"\x80\x02}(").is_err());
        assert!(load(b"").is_err());
        assert!(load(b"\x80\x02h\x05.").is_err());
    }
}
