//! A pickle reader that never executes code: it runs the pickle stack machine (protocols 2–5) but builds
//! inert values. `GLOBAL`/`STACK_GLOBAL` become [`Value::Global`] names and `REDUCE`/`NEWOBJ`/`BUILD` become
//! [`Value::Call`] records of what would have been called; the caller decides which few of them (PyTorch's
//! tensor rebuild functions, `OrderedDict`) to interpret. Opcodes that only make sense for arbitrary objects
//! (`INST`, `OBJ`, `EXT*`) and the text protocols are refused. Reference: CPython `Lib/pickletools.py`.

use super::limits::Limits;
use crate::error::{Error, Result};
use std::collections::HashMap;

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

/// A node of the pickle's object graph. Containers hold ids into the arena, so a memo reference or a DUP
/// shares the object (as Python does) instead of copying it, and mutations through one reference (APPENDS
/// after a memo PUT) are seen through every other.
#[derive(Debug)]
enum Node {
    Leaf(Value),
    Tuple(Vec<Id>),
    List(Vec<Id>),
    Dict(Vec<(Id, Id)>),
    Call { func: Id, args: Id, state: Option<Id>, items: Vec<(Id, Id)> },
    PersId(Id),
}

type Id = u32;

#[derive(Clone, Copy)]
enum Item {
    Mark,
    V(Id),
}

struct Machine<'a> {
    b: &'a [u8],
    at: usize,
    stack: Vec<Item>,
    memo: HashMap<u32, Id>,
    arena: Vec<Node>,
    limits: Limits,
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
    fn new_node(&mut self, n: Node) -> Result<Id> {
        if self.arena.len() >= self.limits.max_pickle_objects {
            return Err(Error::limit(format!("pickle builds more than {} objects", self.limits.max_pickle_objects)));
        }
        self.arena.push(n);
        Ok((self.arena.len() - 1) as Id)
    }
    fn push_item(&mut self, i: Item) -> Result<()> {
        if self.stack.len() >= self.limits.max_pickle_stack {
            return Err(Error::limit(format!("pickle stack grows past {} items", self.limits.max_pickle_stack)));
        }
        self.stack.push(i);
        Ok(())
    }
    fn push_id(&mut self, id: Id) -> Result<()> {
        self.push_item(Item::V(id))
    }
    fn push(&mut self, n: Node) -> Result<()> {
        let id = self.new_node(n)?;
        self.push_id(id)
    }
    fn leaf(&mut self, v: Value) -> Result<()> {
        self.push(Node::Leaf(v))
    }
    fn pop(&mut self) -> Result<Id> {
        match self.stack.pop() {
            Some(Item::V(v)) => Ok(v),
            Some(Item::Mark) => Err(Error::malformed("pickle pops a mark as a value")),
            None => Err(Error::malformed("pickle pops from an empty stack")),
        }
    }
    fn top(&self) -> Result<Id> {
        match self.stack.last() {
            Some(Item::V(v)) => Ok(*v),
            _ => Err(Error::malformed("pickle expects a value on the stack")),
        }
    }
    fn pop_mark(&mut self) -> Result<Vec<Id>> {
        let pos = self
            .stack
            .iter()
            .rposition(|i| matches!(i, Item::Mark))
            .ok_or_else(|| Error::malformed("pickle has no mark to pop to"))?;
        let items = self.stack.split_off(pos + 1);
        self.stack.pop();
        items.into_iter().map(|i| if let Item::V(v) = i { Ok(v) } else { unreachable_mark() }).collect()
    }
    fn memo_put(&mut self, k: u64) -> Result<()> {
        let top = self.top()?;
        let k = u32::try_from(k).map_err(|_| Error::malformed("pickle memo index is out of range"))?;
        if self.memo.len() >= self.limits.max_pickle_memo && !self.memo.contains_key(&k) {
            return Err(Error::limit(format!("pickle memo grows past {} entries", self.limits.max_pickle_memo)));
        }
        self.memo.insert(k, top);
        Ok(())
    }
    fn memo_get(&mut self, k: u64) -> Result<()> {
        let id = u32::try_from(k)
            .ok()
            .and_then(|k| self.memo.get(&k).copied())
            .ok_or_else(|| Error::malformed(format!("pickle reads memo {k}, never written")))?;
        self.push_id(id)
    }
    fn str_of(&mut self, n: usize) -> Result<()> {
        let s = String::from_utf8_lossy(self.take(n)?).into_owned();
        self.leaf(Value::Str(s))
    }
    fn str_at(&self, id: Id) -> Option<&str> {
        match &self.arena[id as usize] {
            Node::Leaf(Value::Str(s)) => Some(s),
            _ => None,
        }
    }
    fn set_items(&mut self, target: Id, pairs: Vec<(Id, Id)>) -> Result<()> {
        match &mut self.arena[target as usize] {
            Node::Dict(d) => d.extend(pairs),
            Node::Call { items, .. } => items.extend(pairs),
            _ => return Err(Error::malformed("pickle SETITEM on something that is not a dict")),
        }
        Ok(())
    }
    fn append(&mut self, target: Id, vals: Vec<Id>) -> Result<()> {
        let none = if matches!(self.arena[target as usize], Node::Call { .. }) {
            Some(self.new_node(Node::Leaf(Value::None))?)
        } else {
            None
        };
        match (&mut self.arena[target as usize], none) {
            (Node::List(l), _) => l.extend(vals),
            (Node::Call { items, .. }, Some(none)) => items.extend(vals.into_iter().map(|v| (none, v))),
            _ => return Err(Error::malformed("pickle APPEND on something that is not a list")),
        }
        Ok(())
    }

    /// The ids a node refers to, in the order [`Machine::assemble`] takes them back.
    fn children(&self, id: Id) -> Vec<Id> {
        match &self.arena[id as usize] {
            Node::Leaf(_) => Vec::new(),
            Node::Tuple(v) | Node::List(v) => v.clone(),
            Node::Dict(d) => d.iter().flat_map(|&(k, v)| [k, v]).collect(),
            Node::Call { func, args, state, items } => {
                let mut c = vec![*func, *args];
                c.extend(state);
                c.extend(items.iter().flat_map(|&(k, v)| [k, v]));
                c
            }
            Node::PersId(p) => vec![*p],
        }
    }

    /// Builds node `id` from its children's values (as many as [`Machine::children`] listed).
    fn assemble(&self, id: Id, mut kids: std::vec::IntoIter<Value>) -> Value {
        let mut next = || kids.next().unwrap_or(Value::None);
        match &self.arena[id as usize] {
            Node::Leaf(v) => v.clone(),
            Node::Tuple(v) => Value::Tuple(v.iter().map(|_| next()).collect()),
            Node::List(v) => Value::List(v.iter().map(|_| next()).collect()),
            Node::Dict(d) => Value::Dict(d.iter().map(|_| (next(), next())).collect()),
            Node::Call { state, items, .. } => {
                let func = Box::new(next());
                let args = Box::new(next());
                let state = state.map(|_| Box::new(next()));
                let items = items.iter().map(|_| (next(), next())).collect();
                Value::Call { func, args, state, items }
            }
            Node::PersId(_) => Value::PersId(Box::new(next())),
        }
    }

    /// How many values the tree under `root` holds once shared objects are expanded, and how deep it nests,
    /// measured on the graph (post-order, no recursion) before anything is built; a cycle is an error.
    fn measure(&self, root: Id) -> Result<()> {
        const NEW: u8 = 0;
        const OPEN: u8 = 1;
        const DONE: u8 = 2;
        let (max_depth, max_objects) = (self.limits.max_depth, self.limits.max_pickle_objects as u64);
        let n = self.arena.len();
        let (mut mark, mut size, mut height) = (vec![NEW; n], vec![0u64; n], vec![0u32; n]);
        let mut work = vec![(root, false)];
        while let Some((id, leaving)) = work.pop() {
            let i = id as usize;
            if leaving {
                let kids = self.children(id);
                size[i] = kids.iter().fold(1u64, |a, &k| a.saturating_add(size[k as usize]));
                height[i] = 1 + kids.iter().map(|&k| height[k as usize]).max().unwrap_or(0);
                mark[i] = DONE;
                if height[i] as usize > max_depth {
                    return Err(Error::limit(format!("pickle nests deeper than {max_depth} levels")));
                }
                if size[i] > max_objects {
                    return Err(Error::limit(format!(
                        "pickle's shared references expand to more than {max_objects} objects"
                    )));
                }
                continue;
            }
            match mark[i] {
                DONE => continue,
                OPEN => return Err(Error::malformed("pickle value contains itself")),
                _ => {}
            }
            mark[i] = OPEN;
            work.push((id, true));
            for k in self.children(id) {
                match mark[k as usize] {
                    OPEN => return Err(Error::malformed("pickle value contains itself")),
                    NEW => work.push((k, false)),
                    _ => {}
                }
            }
            if work.len() > max_objects as usize {
                return Err(Error::limit(format!(
                    "pickle's shared references expand to more than {max_objects} objects"
                )));
            }
        }
        Ok(())
    }

    /// The tree of values under `root`, built without recursion once [`Machine::measure`] has bounded it.
    fn value(&self, root: Id) -> Result<Value> {
        self.measure(root)?;
        enum Step {
            Enter(Id),
            Leave(Id, usize),
        }
        let mut work = vec![Step::Enter(root)];
        let mut out: Vec<Value> = Vec::new();
        while let Some(step) = work.pop() {
            match step {
                Step::Enter(id) => {
                    let kids = self.children(id);
                    work.push(Step::Leave(id, kids.len()));
                    work.extend(kids.into_iter().rev().map(Step::Enter));
                }
                Step::Leave(id, n) => {
                    let kids = out.split_off(out.len() - n);
                    let v = self.assemble(id, kids.into_iter());
                    out.push(v);
                }
            }
        }
        Ok(out.pop().unwrap_or(Value::None))
    }
}

fn unreachable_mark() -> Result<Id> {
    Err(Error::malformed("pickle mark inside a mark"))
}

/// Runs a pickle and returns the value STOP leaves on the stack, within the default [`Limits`].
pub fn load(bytes: &[u8]) -> Result<Value> {
    load_with(bytes, &Limits::default())
}

/// Runs a pickle within `limits` (stack, memo, objects, nesting).
pub fn load_with(bytes: &[u8], limits: &Limits) -> Result<Value> {
    let mut m =
        Machine { b: bytes, at: 0, stack: Vec::new(), memo: HashMap::new(), arena: Vec::new(), limits: *limits };
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
            b'.' => {
                let root = m.pop()?;
                return m.value(root);
            }
            b'(' => m.push_item(Item::Mark)?,
            b'N' => m.leaf(Value::None)?,
            0x88 => m.leaf(Value::Bool(true))?,
            0x89 => m.leaf(Value::Bool(false))?,
            b'J' => {
                let v = m.u32()? as i32 as i64;
                m.leaf(Value::Int(v))?
            }
            b'K' => {
                let v = m.u8()? as i64;
                m.leaf(Value::Int(v))?
            }
            b'M' => {
                let s = m.take(2)?;
                m.leaf(Value::Int(u16::from_le_bytes([s[0], s[1]]) as i64))?
            }
            0x8a => {
                let n = m.u8()? as usize;
                let s = m.take(n)?;
                if n > 8 {
                    return Err(Error::unsupported("pickle integer wider than 64 bits"));
                }
                let mut buf = if s.last().is_some_and(|&b| b & 0x80 != 0) { [0xFF; 8] } else { [0; 8] };
                buf[..n].copy_from_slice(s);
                m.leaf(Value::Int(i64::from_le_bytes(buf)))?
            }
            b'G' => {
                let v = f64::from_be_bytes(m.take(8)?.try_into().expect("8 bytes"));
                m.leaf(Value::Float(v))?
            }
            b'X' | b'T' => {
                let n = m.u32()? as usize;
                m.str_of(n)?
            }
            0x8c | b'U' => {
                let n = m.u8()? as usize;
                m.str_of(n)?
            }
            0x8d => {
                let n = usize::try_from(m.u64()?).unwrap_or(usize::MAX);
                m.str_of(n)?
            }
            b'B' => {
                let n = m.u32()? as usize;
                let v = m.take(n)?.to_vec();
                m.leaf(Value::Bytes(v))?
            }
            b'C' => {
                let n = m.u8()? as usize;
                let v = m.take(n)?.to_vec();
                m.leaf(Value::Bytes(v))?
            }
            0x8e => {
                let n = usize::try_from(m.u64()?).unwrap_or(usize::MAX);
                let v = m.take(n)?.to_vec();
                m.leaf(Value::Bytes(v))?
            }
            b')' => m.push(Node::Tuple(Vec::new()))?,
            b't' => {
                let v = m.pop_mark()?;
                m.push(Node::Tuple(v))?
            }
            0x85..=0x87 => {
                let n = (op - 0x84) as usize;
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    v.push(m.pop()?);
                }
                v.reverse();
                m.push(Node::Tuple(v))?
            }
            b']' | 0x8f => m.push(Node::List(Vec::new()))?, // EMPTY_SET: kept as a list
            b'l' | 0x91 => {
                let v = m.pop_mark()?;
                m.push(Node::List(v))?
            }
            b'a' => {
                let v = m.pop()?;
                let t = m.top()?;
                m.append(t, vec![v])?
            }
            b'e' | 0x90 => {
                let v = m.pop_mark()?;
                let t = m.top()?;
                m.append(t, v)?
            }
            b'}' => m.push(Node::Dict(Vec::new()))?,
            b'd' => {
                let v = m.pop_mark()?;
                let pairs = pairs_of(v)?;
                m.push(Node::Dict(pairs))?
            }
            b's' => {
                let v = m.pop()?;
                let k = m.pop()?;
                let t = m.top()?;
                m.set_items(t, vec![(k, v)])?
            }
            b'u' => {
                let v = m.pop_mark()?;
                let pairs = pairs_of(v)?;
                let t = m.top()?;
                m.set_items(t, pairs)?
            }
            b'q' => {
                let k = m.u8()? as u64;
                m.memo_put(k)?
            }
            b'r' => {
                let k = m.u32()? as u64;
                m.memo_put(k)?
            }
            0x94 => {
                let k = m.memo.len() as u64;
                m.memo_put(k)?
            }
            b'h' => {
                let k = m.u8()? as u64;
                m.memo_get(k)?
            }
            b'j' => {
                let k = m.u32()? as u64;
                m.memo_get(k)?
            }
            b'c' => {
                let module = m.line()?;
                let name = m.line()?;
                m.leaf(Value::Global(module, name))?
            }
            0x93 => {
                let name = m.pop()?;
                let module = m.pop()?;
                match (m.str_at(module), m.str_at(name)) {
                    (Some(a), Some(b)) => {
                        let g = Value::Global(a.to_string(), b.to_string());
                        m.leaf(g)?
                    }
                    _ => return Err(Error::malformed("pickle STACK_GLOBAL without two strings")),
                }
            }
            b'R' | 0x81 => {
                let args = m.pop()?;
                let func = m.pop()?;
                let ordered_dict = matches!(
                    &m.arena[func as usize],
                    Node::Leaf(Value::Global(a, b)) if a == "collections" && b == "OrderedDict"
                );
                // Never called: an OrderedDict is just a dict.
                let n = if ordered_dict {
                    Node::Dict(Vec::new())
                } else {
                    Node::Call { func, args, state: None, items: Vec::new() }
                };
                m.push(n)?
            }
            b'b' => {
                let state = m.pop()?;
                let t = m.top()?;
                match &mut m.arena[t as usize] {
                    Node::Call { state: s, .. } => *s = Some(state),
                    Node::Dict(_) => {}
                    _ => return Err(Error::malformed("pickle BUILD on a plain value")),
                }
            }
            b'Q' => {
                let pid = m.pop()?;
                m.push(Node::PersId(pid))?
            }
            b'0' => {
                m.stack.pop();
            }
            b'2' => {
                let v = m.top()?;
                m.push_id(v)?
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

fn pairs_of(v: Vec<Id>) -> Result<Vec<(Id, Id)>> {
    if !v.len().is_multiple_of(2) {
        return Err(Error::malformed("pickle dict has an odd number of items"));
    }
    Ok(v.chunks_exact(2).map(|p| (p[0], p[1])).collect())
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

    #[test]
    fn memo_references_share_and_see_later_appends() {
        // l = []; pickle.dumps([l, l.append(1) or l]) in the order pickle writes it: EMPTY_LIST, PUT 0,
        // MARK, the items, APPENDS — the memo is written before the list is filled.
        let p = b"\x80\x02]q\x00(]q\x01(K\x01ee]q\x02(h\x01h\x01e.";
        // Only the last value is returned: the list [l, l] with l == [1].
        let v = load(p).unwrap();
        let one = Value::List(vec![Value::Int(1)]);
        assert_eq!(v, Value::List(vec![one.clone(), one]));
    }

    #[test]
    fn hostile_nesting_and_expansion_are_limits_not_crashes() {
        let mut deep = b"\x80\x02".to_vec();
        deep.extend(std::iter::repeat_n(b'(', 10_000));
        deep.extend(std::iter::repeat_n(b't', 10_000));
        deep.push(b'.');
        let e = load(&deep).unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::LimitExceeded);
        assert!(e.message.contains("deeper than"), "{}", e.message);
        // Marks alone fill the stack.
        let mut marks = b"\x80\x02".to_vec();
        marks.extend(std::iter::repeat_n(b'(', 1 << 18));
        assert!(load(&marks).unwrap_err().message.contains("stack grows past"));
        // A list that contains itself.
        let e = load(b"\x80\x02]q\x00h\x00a.").unwrap_err();
        assert!(e.message.contains("contains itself"), "{}", e.message);
    }
}
