//! A small ZIP reader for `.npz` and PyTorch checkpoints (PKWARE APPNOTE 6.3: end of central directory,
//! ZIP64 records, central directory, local headers). Stored entries are borrowed from the input without a
//! copy; deflated entries are inflated (miniz_oxide) up to their declared size. Encryption is refused.

use crate::error::{Error, Result};
use std::borrow::Cow;

/// One member of the archive.
#[derive(Debug, Clone)]
pub struct ZipEntry {
    pub name: String,
    method: u16,
    compressed: u64,
    size: u64,
    local_offset: u64,
}

pub fn looks_like(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04")
}

fn u16_at(b: &[u8], at: usize) -> Result<u16> {
    b.get(at..at + 2)
        .map(|s| u16::from_le_bytes([s[0], s[1]]))
        .ok_or_else(|| Error::malformed("zip record is truncated"))
}
fn u32_at(b: &[u8], at: usize) -> Result<u32> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes(s.try_into().expect("4 bytes")))
        .ok_or_else(|| Error::malformed("zip record is truncated"))
}
fn u64_at(b: &[u8], at: usize) -> Result<u64> {
    b.get(at..at + 8)
        .map(|s| u64::from_le_bytes(s.try_into().expect("8 bytes")))
        .ok_or_else(|| Error::malformed("zip record is truncated"))
}

/// Lists the members of a ZIP archive.
pub fn entries(bytes: &[u8]) -> Result<Vec<ZipEntry>> {
    // The end-of-central-directory record sits in the last 22 + 65535 bytes.
    let floor = bytes.len().saturating_sub(22 + 65535);
    let eocd = (floor..bytes.len().saturating_sub(21))
        .rev()
        .find(|&i| bytes[i..].starts_with(b"PK\x05\x06"))
        .ok_or_else(|| Error::malformed("zip archive has no end-of-central-directory record (truncated?)"))?;
    let mut count = u16_at(bytes, eocd + 10)? as u64;
    let mut cd_size = u32_at(bytes, eocd + 12)? as u64;
    let mut cd_offset = u32_at(bytes, eocd + 16)? as u64;
    if count == 0xFFFF || cd_offset == 0xFFFF_FFFF || cd_size == 0xFFFF_FFFF {
        // ZIP64: a locator just before the EOCD points at the ZIP64 EOCD record.
        let loc = eocd.checked_sub(20).ok_or_else(|| Error::malformed("zip64 locator is missing"))?;
        if !bytes[loc..].starts_with(b"PK\x06\x07") {
            return Err(Error::malformed("zip64 locator is missing"));
        }
        let rec = u64_at(bytes, loc + 8)? as usize;
        if !bytes.get(rec..).is_some_and(|b| b.starts_with(b"PK\x06\x06")) {
            return Err(Error::malformed("zip64 end-of-central-directory record is missing"));
        }
        count = u64_at(bytes, rec + 32)?;
        cd_size = u64_at(bytes, rec + 40)?;
        cd_offset = u64_at(bytes, rec + 48)?;
    }
    if cd_offset.saturating_add(cd_size) > bytes.len() as u64 {
        return Err(Error::malformed("zip central directory lies outside the file (truncated?)"));
    }
    let mut out = Vec::new();
    let mut at = cd_offset as usize;
    for _ in 0..count {
        if !bytes.get(at..).is_some_and(|b| b.starts_with(b"PK\x01\x02")) {
            return Err(Error::malformed("zip central directory entry is corrupt"));
        }
        let flags = u16_at(bytes, at + 8)?;
        let method = u16_at(bytes, at + 10)?;
        let mut compressed = u32_at(bytes, at + 20)? as u64;
        let mut size = u32_at(bytes, at + 24)? as u64;
        let name_len = u16_at(bytes, at + 28)? as usize;
        let extra_len = u16_at(bytes, at + 30)? as usize;
        let comment_len = u16_at(bytes, at + 32)? as usize;
        let mut local_offset = u32_at(bytes, at + 42)? as u64;
        let name_bytes =
            bytes.get(at + 46..at + 46 + name_len).ok_or_else(|| Error::malformed("zip entry name is truncated"))?;
        let name = String::from_utf8_lossy(name_bytes).into_owned();
        if flags & 1 != 0 {
            return Err(Error::unsupported(format!("zip member `{name}` is encrypted")));
        }
        // ZIP64 extra field (id 1): the 64-bit values of the fields that were saturated, in this order.
        let extra = bytes.get(at + 46 + name_len..at + 46 + name_len + extra_len).unwrap_or(&[]);
        let mut e = 0;
        while e + 4 <= extra.len() {
            let id = u16::from_le_bytes([extra[e], extra[e + 1]]);
            let len = u16::from_le_bytes([extra[e + 2], extra[e + 3]]) as usize;
            if id == 1 {
                let mut p = e + 4;
                for field in [&mut size, &mut compressed, &mut local_offset] {
                    if *field == 0xFFFF_FFFF && p + 8 <= extra.len() {
                        *field = u64::from_le_bytes(extra[p..p + 8].try_into().expect("8 bytes"));
                        p += 8;
                    }
                }
            }
            e += 4 + len;
        }
        out.push(ZipEntry { name, method, compressed, size, local_offset });
        at += 46 + name_len + extra_len + comment_len;
    }
    Ok(out)
}

/// The uncompressed bytes of one member (borrowed when stored).
pub fn data<'a>(bytes: &'a [u8], e: &ZipEntry) -> Result<Cow<'a, [u8]>> {
    let lo = e.local_offset as usize;
    if !bytes.get(lo..).is_some_and(|b| b.starts_with(b"PK\x03\x04")) {
        return Err(Error::malformed(format!("zip member `{}` has no local header", e.name)));
    }
    let start = lo + 30 + u16_at(bytes, lo + 26)? as usize + u16_at(bytes, lo + 28)? as usize;
    let end = start.checked_add(e.compressed as usize).filter(|&end| end <= bytes.len()).ok_or_else(|| {
        Error::malformed(format!("zip member `{}` runs past the end of the file (truncated?)", e.name))
    })?;
    let raw = &bytes[start..end];
    match e.method {
        0 => {
            if e.size != e.compressed {
                return Err(Error::malformed(format!("zip member `{}` is stored but its sizes differ", e.name)));
            }
            Ok(Cow::Borrowed(raw))
        }
        8 => {
            // Deflate cannot expand more than 1032:1, so a lying size cannot make us allocate more than that.
            let limit = e.size.min(e.compressed.saturating_mul(1032).saturating_add(1024)) as usize;
            let out = miniz_oxide::inflate::decompress_to_vec_with_limit(raw, limit)
                .map_err(|err| Error::malformed(format!("zip member `{}` does not inflate: {err:?}", e.name)))?;
            if out.len() as u64 != e.size {
                return Err(Error::malformed(format!(
                    "zip member `{}` inflates to {} bytes, not {}",
                    e.name,
                    out.len(),
                    e.size
                )));
            }
            Ok(Cow::Owned(out))
        }
        m => Err(Error::unsupported(format!(
            "zip member `{}` uses compression method {m} (only stored and deflate)",
            e.name
        ))),
    }
}
