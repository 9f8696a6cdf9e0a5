//! A small ZIP reader for `.npz` and PyTorch checkpoints (PKWARE APPNOTE 6.3: end of central directory,
//! ZIP64 records, central directory, local headers). Stored entries are borrowed from the input without a
//! copy; deflated entries are inflated (miniz_oxide) up to their declared size, once that size has been
//! charged to the read's [`Budget`]. Members whose bytes overlap (several directory entries pointing at one
//! member: a way to make one small file decode many times) are refused. Encryption is refused.

use super::limits::{Budget, Limits};
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
    /// Where the member's (compressed) data starts, from its local header.
    data_start: u64,
}

impl ZipEntry {
    /// The member's size once uncompressed, as its directory entry declares it (checked when it is read).
    pub fn size_hint(&self) -> u64 {
        self.size
    }
    /// Whether reading the member inflates it (rather than borrowing it from the file).
    pub fn is_compressed(&self) -> bool {
        self.method != 0
    }
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

/// Lists the members of a ZIP archive; refuses more than `limits.max_zip_members` and members that overlap.
pub fn entries(bytes: &[u8], limits: &Limits) -> Result<Vec<ZipEntry>> {
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
    if count > limits.max_zip_members as u64 {
        return Err(Error::limit(format!("zip archive lists {count} members (limit {})", limits.max_zip_members)));
    }
    // Every entry takes at least 46 bytes of the central directory: a count the directory cannot hold is a lie.
    if count.saturating_mul(46) > cd_size {
        return Err(Error::malformed(format!("zip central directory of {cd_size} bytes cannot list {count} members")));
    }
    let mut out = Vec::with_capacity(count as usize);
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
        let lo = usize::try_from(local_offset).unwrap_or(usize::MAX);
        if !bytes.get(lo..).is_some_and(|b| b.starts_with(b"PK\x03\x04")) {
            return Err(Error::malformed(format!("zip member `{name}` has no local header")));
        }
        let data_start = (lo + 30 + u16_at(bytes, lo + 26)? as usize + u16_at(bytes, lo + 28)? as usize) as u64;
        if data_start.checked_add(compressed).is_none_or(|end| end > bytes.len() as u64) {
            return Err(Error::malformed(format!("zip member `{name}` runs past the end of the file (truncated?)")));
        }
        out.push(ZipEntry { name, method, compressed, size, local_offset, data_start });
        at += 46 + name_len + extra_len + comment_len;
    }
    // Members lie one after the other in a well-formed archive; overlapping ones would decode the same
    // bytes several times.
    let mut spans: Vec<(u64, u64, usize)> =
        out.iter().enumerate().map(|(i, e)| (e.local_offset, e.data_start + e.compressed, i)).collect();
    spans.sort_unstable();
    for w in spans.windows(2) {
        if w[1].0 < w[0].1 {
            return Err(Error::malformed(format!(
                "zip members `{}` and `{}` share bytes (overlapping members are not read)",
                out[w[0].2].name, out[w[1].2].name
            )));
        }
    }
    Ok(out)
}

/// The uncompressed bytes of one member (borrowed when stored); inflated bytes are charged to `budget` first.
pub fn data<'a>(bytes: &'a [u8], e: &ZipEntry, budget: &Budget) -> Result<Cow<'a, [u8]>> {
    let (start, end) = (e.data_start as usize, (e.data_start + e.compressed) as usize);
    let raw = bytes.get(start..end).ok_or_else(|| {
        Error::malformed(format!("zip member `{}` runs past the end of the file (truncated?)", e.name))
    })?;
    match e.method {
        0 => {
            if e.size != e.compressed {
                return Err(Error::malformed(format!("zip member `{}` is stored but its sizes differ", e.name)));
            }
            Ok(Cow::Borrowed(raw))
        }
        8 => {
            budget.inflate(e.size, e.compressed, || format!("zip member `{}`", e.name))?;
            // Inflated straight into a buffer of the declared size: memory is what the member declares
            // (and the budget allowed), never a growing vector's double, and a lie shows when it is full.
            use miniz_oxide::inflate::TINFLStatus;
            use miniz_oxide::inflate::core::{DecompressorOxide, decompress, inflate_flags};
            let mut out = vec![0u8; usize::try_from(e.size).unwrap_or(usize::MAX)];
            let mut d = Box::<DecompressorOxide>::default();
            let flags = inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF;
            let (status, _, written) = decompress(&mut d, raw, &mut out, 0, flags);
            let why = match status {
                TINFLStatus::Done if written as u64 == e.size => None,
                TINFLStatus::Done => Some(format!("inflates to {written} bytes, not the {} it declares", e.size)),
                TINFLStatus::HasMoreOutput => Some(format!("inflates to more than the {} bytes it declares", e.size)),
                TINFLStatus::NeedsMoreInput | TINFLStatus::FailedCannotMakeProgress => {
                    Some("is truncated (its deflate stream ends early)".to_string())
                }
                other => Some(format!("does not inflate ({other:?})")),
            };
            if let Some(why) = why {
                return Err(Error::malformed(format!("zip member `{}` {why}", e.name)));
            }
            Ok(Cow::Owned(out))
        }
        m => Err(Error::unsupported(format!(
            "zip member `{}` uses compression method {m} (only stored and deflate)",
            e.name
        ))),
    }
}

/// CRC-32 (IEEE, as zip stores it), bit by bit: writing is rare and small.
fn crc32(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c ^= b as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 { (c >> 1) ^ 0xEDB8_8320 } else { c >> 1 };
        }
    }
    !c
}

/// A zip archive of stored (uncompressed) members: local headers, central directory, end record.
pub fn write_stored(members: &[(String, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in members {
        let offset = out.len() as u32;
        let mut fixed = Vec::new();
        fixed.extend_from_slice(&[0, 0, 0, 0]); // method 0 (stored), time
        fixed.extend_from_slice(&[0x21, 0]); // date 1980-01-01
        fixed.extend_from_slice(&crc32(data).to_le_bytes());
        fixed.extend_from_slice(&(data.len() as u32).to_le_bytes());
        fixed.extend_from_slice(&(data.len() as u32).to_le_bytes());
        fixed.extend_from_slice(&(name.len() as u16).to_le_bytes());
        fixed.extend_from_slice(&[0, 0]);
        out.extend_from_slice(b"PK\x03\x04\x14\x00\x00\x00");
        out.extend_from_slice(&fixed);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        central.extend_from_slice(b"PK\x01\x02\x14\x00\x14\x00\x00\x00");
        central.extend_from_slice(&fixed);
        central.extend_from_slice(&[0; 10]);
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(b"PK\x05\x06\0\0\0\0");
    out.extend_from_slice(&(members.len() as u16).to_le_bytes());
    out.extend_from_slice(&(members.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(super::crc32(b"123456789"), 0xCBF4_3926);
    }
}
