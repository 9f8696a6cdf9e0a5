//! The hostile inputs of the "hostile inputs" issue, built byte by byte: small files that once crashed,
//! exhausted or stalled lowbit. Shared by core's reader tests, the server's end-to-end test
//! (`tests/cli/hostile.rs`) and the fuzzing corpus (`scripts/fuzz.sh` writes the small ones as seeds).
#![allow(dead_code)]

/// One zip member: its name, the bytes as stored (raw or already deflated), the method and the size it
/// declares once inflated.
pub struct Member {
    pub name: String,
    pub body: Vec<u8>,
    pub deflated: bool,
    pub size: u32,
}

impl Member {
    pub fn stored(name: &str, data: Vec<u8>) -> Self {
        Self { name: name.into(), size: data.len() as u32, body: data, deflated: false }
    }
    pub fn deflated(name: &str, data: &[u8]) -> Self {
        let body = miniz_oxide::deflate::compress_to_vec(data, 6);
        Self { name: name.into(), size: data.len() as u32, body, deflated: true }
    }
}

/// A zip archive of `members`; then `aliases` more central-directory entries pointing at the first member.
pub fn zip(members: &[Member], aliases: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    let mut count = 0u16;
    let mut cd = |central: &mut Vec<u8>, m: &Member, name: &str, offset: u32| {
        let method: u16 = if m.deflated { 8 } else { 0 };
        central.extend_from_slice(b"PK\x01\x02");
        central.extend_from_slice(&[20, 0, 20, 0, 0, 0]);
        central.extend_from_slice(&method.to_le_bytes());
        central.extend_from_slice(&[0; 8]);
        central.extend_from_slice(&(m.body.len() as u32).to_le_bytes());
        central.extend_from_slice(&m.size.to_le_bytes());
        central.extend_from_slice(&(name.len() as u16).to_le_bytes());
        central.extend_from_slice(&[0; 12]);
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
        count += 1;
    };
    for m in members {
        let offset = out.len() as u32;
        let method: u16 = if m.deflated { 8 } else { 0 };
        out.extend_from_slice(b"PK\x03\x04");
        out.extend_from_slice(&[20, 0, 0, 0]);
        out.extend_from_slice(&method.to_le_bytes());
        out.extend_from_slice(&[0; 8]); // time, date, crc (not checked by readers of this kind)
        out.extend_from_slice(&(m.body.len() as u32).to_le_bytes());
        out.extend_from_slice(&m.size.to_le_bytes());
        out.extend_from_slice(&(m.name.len() as u16).to_le_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(m.name.as_bytes());
        out.extend_from_slice(&m.body);
        cd(&mut central, m, &m.name, offset);
    }
    for i in 0..aliases {
        cd(&mut central, &members[0], &format!("alias{i}.npy"), 0);
    }
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(b"PK\x05\x06\0\0\0\0");
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    out
}

/// A raw deflate stream (one fixed-Huffman block) of `prefix` followed by `zeros` zero bytes, written
/// directly: 258-byte back-references cost 13 bits each, so gigabytes fit in a few megabytes without
/// ever being produced here.
pub fn deflate_zeros(prefix: &[u8], zeros: u64) -> Vec<u8> {
    struct Bits {
        out: Vec<u8>,
        acc: u64,
        n: u32,
    }
    impl Bits {
        fn put(&mut self, v: u64, len: u32) {
            self.acc |= v << self.n;
            self.n += len;
            while self.n >= 8 {
                self.out.push(self.acc as u8);
                self.acc >>= 8;
                self.n -= 8;
            }
        }
        /// A Huffman code, most significant bit first.
        fn code(&mut self, code: u32, len: u32) {
            let rev = code.reverse_bits() >> (32 - len);
            self.put(rev as u64, len);
        }
        fn literal(&mut self, b: u8) {
            if b < 144 { self.code(0x30 + b as u32, 8) } else { self.code(0x190 + (b as u32 - 144), 9) }
        }
    }
    let mut w = Bits { out: Vec::with_capacity((zeros / 150) as usize + prefix.len() + 16), acc: 0, n: 0 };
    w.put(1, 1); // BFINAL
    w.put(1, 2); // fixed Huffman
    prefix.iter().for_each(|&b| w.literal(b));
    let mut left = zeros;
    if left > 0 {
        w.literal(0);
        left -= 1;
    }
    while left >= 258 {
        w.code(0b1100_0101, 8); // length 258 (code 285)
        w.code(0, 5); // distance 1
        left -= 258;
    }
    for _ in 0..left {
        w.literal(0);
    }
    w.code(0, 7); // end of block
    w.put(0, 7);
    w.out
}

/// An npy v1 header for an f32 array of `shape`.
pub fn npy_header(shape: &str) -> Vec<u8> {
    let mut h = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + h.len() + 1) % 64 != 0 {
        h.push(' ');
    }
    h.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(h.len() as u16).to_le_bytes());
    out.extend_from_slice(h.as_bytes());
    out
}

fn pickle_str(s: &str) -> Vec<u8> {
    let mut v = vec![b'X'];
    v.extend_from_slice(&(s.len() as u32).to_le_bytes());
    v.extend_from_slice(s.as_bytes());
    v
}

/// LONG1 with eight bytes: any u64 below 2^63.
fn pickle_long(x: u64) -> Vec<u8> {
    let mut v = b"\x8a\x08".to_vec();
    v.extend_from_slice(&x.to_le_bytes());
    v
}

fn pickle_ints(xs: &[u64]) -> Vec<u8> {
    let mut v = vec![b'('];
    xs.iter().for_each(|&x| v.extend(pickle_long(x)));
    v.push(b't');
    v
}

/// `{'w': torch._utils._rebuild_tensor_v2(storage '0' of `numel` floats, 0, size, stride, False, {})}`.
pub fn rebuild_pickle(numel: u64, size: &[u64], stride: &[u64]) -> Vec<u8> {
    let mut p = b"\x80\x02}(".to_vec();
    p.extend(pickle_str("w"));
    p.extend_from_slice(b"ctorch._utils\n_rebuild_tensor_v2\n(");
    p.push(b'(');
    p.extend(pickle_str("storage"));
    p.extend_from_slice(b"ctorch\nFloatStorage\n");
    p.extend(pickle_str("0"));
    p.extend(pickle_str("cpu"));
    p.extend(pickle_long(numel));
    p.extend_from_slice(b"tQK\x00");
    p.extend(pickle_ints(size));
    p.extend(pickle_ints(stride));
    p.extend_from_slice(b"\x89}tRu.");
    p
}

/// A PyTorch zip checkpoint: `archive/data.pkl` and storage `archive/data/0`.
pub fn torch_zip(pkl: Member, storage: &[u8]) -> Vec<u8> {
    zip(&[pkl, Member::stored("archive/data/0", storage.to_vec())], 0)
}

/// A safetensors file with these header entries (JSON text each) and `data_len` zero bytes of data.
pub fn safetensors(entries: impl Iterator<Item = String>, data_len: usize) -> Vec<u8> {
    let mut h = String::from("{");
    for (i, e) in entries.enumerate() {
        if i > 0 {
            h.push(',');
        }
        h.push_str(&e);
    }
    h.push('}');
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(h.as_bytes());
    out.resize(out.len() + data_len, 0);
    out
}

/// Protocol-buffer encoding, enough for a small ONNX model.
fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}
fn pb_varint(field: u64, v: u64, out: &mut Vec<u8>) {
    varint(field << 3, out);
    varint(v, out);
}
fn pb_bytes(field: u64, b: &[u8], out: &mut Vec<u8>) {
    varint((field << 3) | 2, out);
    varint(b.len() as u64, out);
    out.extend_from_slice(b);
}

/// An ONNX model holding `x` twice: as an initializer (raw_data) and as a `Constant` node (packed
/// float_data), so both places lowbit reads weights from are covered.
pub fn onnx(shape: &[u64], x: &[f32]) -> Vec<u8> {
    let tensor = |name: &str, raw: bool| {
        let mut t = Vec::new();
        let mut dims = Vec::new();
        shape.iter().for_each(|&d| varint(d, &mut dims));
        pb_bytes(1, &dims, &mut t);
        pb_varint(2, 1, &mut t); // FLOAT
        pb_bytes(8, name.as_bytes(), &mut t);
        let bytes: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
        pb_bytes(if raw { 9 } else { 4 }, &bytes, &mut t);
        t
    };
    let mut attr = Vec::new();
    pb_bytes(1, b"value", &mut attr);
    pb_bytes(5, &tensor("", false), &mut attr);
    let mut node = Vec::new();
    pb_bytes(2, b"const_w", &mut node);
    pb_bytes(4, b"Constant", &mut node);
    pb_bytes(5, &attr, &mut node);
    let mut graph = Vec::new();
    pb_bytes(1, &node, &mut graph);
    pb_bytes(5, &tensor("init_w", true), &mut graph);
    let mut model = Vec::new();
    pb_varint(1, 8, &mut model);
    pb_bytes(7, &graph, &mut model);
    model
}

/// The hostile files, by a short name: the numbered inputs of the issue (10, the job list, is a request
/// pattern and lives in the server's test). Each must be refused quickly and cheaply.
pub fn all() -> Vec<(&'static str, Vec<u8>)> {
    let mut v = Vec::new();
    // 1. Deep nesting.
    let mut deep = b"\x80\x02".to_vec();
    deep.extend(std::iter::repeat_n(b'(', 10_000));
    deep.extend(std::iter::repeat_n(b't', 10_000));
    deep.push(b'.');
    v.push(("1-deep-pickle.pth", torch_zip(Member::stored("archive/data.pkl", deep), &[0; 4])));
    // 2. Broadcast views: 2^40 and 2^28 elements over one float.
    for (name, n) in [("2-broadcast-2e40.pth", 1u64 << 40), ("2-broadcast-2e28.pth", 1 << 28)] {
        v.push((name, torch_zip(Member::stored("archive/data.pkl", rebuild_pickle(1, &[n], &[0])), &[0; 4])));
    }
    // 3. A size product that wraps to 4.
    let wrap = rebuild_pickle(4, &[11985472001485, 1539092, 1], &[0, 0, 0]);
    v.push(("3-wrapping-size.pth", torch_zip(Member::stored("archive/data.pkl", wrap), &[0; 16])));
    // 4. Billion laughs: seven levels of ten memo references each.
    let mut laughs = b"\x80\x02K\x00q\x00".to_vec();
    for level in 1..=7u8 {
        laughs.push(b'(');
        laughs.extend(std::iter::repeat_n([b'h', level - 1], 10).flatten());
        laughs.extend([b'l', b'q', level]);
    }
    laughs.push(b'.');
    v.push(("4-billion-laughs.pth", torch_zip(Member::stored("archive/data.pkl", laughs), &[0; 4])));
    // 5. 20 MB of MARKs, deflated.
    let mut marks = b"\x80\x02".to_vec();
    marks.extend(std::iter::repeat_n(b'(', 20 << 20));
    v.push(("5-marks.pth", torch_zip(Member::deflated("archive/data.pkl", &marks), &[0; 4])));
    // 6. One 20 MB deflated member listed 100 times.
    let mut big = npy_header("(5242880,)");
    big.resize(big.len() + (20 << 20), 0);
    v.push(("6-shared-members.npz", zip(&[Member::deflated("x.npy", &big)], 99)));
    // 7. A decompression bomb: one member declaring (and inflating to) almost 4 GiB.
    let size = 0xFFFF_0000u32;
    let head = npy_header(&format!("({},)", (size as usize - 128) / 4));
    let body = deflate_zeros(&head, size as u64 - head.len() as u64);
    v.push(("7-bomb.npz", zip(&[Member { name: "x.npy".into(), body, deflated: true, size }], 0)));
    // 8. A member declaring 100 MB that inflates to 200 MB.
    let head = npy_header(&format!("({},)", ((100 << 20) - 128) / 4));
    let body = deflate_zeros(&head, (200 << 20) - head.len() as u64);
    v.push(("8-lying-size.npz", zip(&[Member { name: "x.npy".into(), body, deflated: true, size: 100 << 20 }], 0)));
    // 9. 3,000 entries over one 4 MB region, and 10^6 tiny tensors.
    let over =
        (0..3000).map(|i| format!("\"t{i}\":{{\"dtype\":\"F32\",\"shape\":[1048576],\"data_offsets\":[0,4194304]}}"));
    v.push(("9-overlapping.safetensors", safetensors(over, 4 << 20)));
    let tiny =
        (0..1_000_000).map(|i| format!("\"t{i}\":{{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[{i},{}]}}", i + 1));
    v.push(("9-million-tensors.safetensors", safetensors(tiny, 1_000_000)));
    v
}
