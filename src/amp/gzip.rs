//! Decoding a gzip body that an Amp upstream sent without saying so
//! (CLIProxyAPI's proxy inflates such non-stream answers): one member,
//! header fields skipped, CRC-32 and length checked.

/// The gzip magic and deflate method bytes.
pub fn looks_gzipped(b: &[u8]) -> bool {
    b.starts_with(&[0x1f, 0x8b])
}

/// CRC-32 (IEEE), bitwise: only run on this rare path.
fn crc32(b: &[u8]) -> u32 {
    let mut c = !0u32;
    for &x in b {
        c ^= u32::from(x);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}

/// The inflated body, or `None` when `b` is not one well-formed gzip member
/// (or inflates beyond `limit`).
pub fn gunzip(b: &[u8], limit: usize) -> Option<Vec<u8>> {
    if b.len() < 18 || !looks_gzipped(b) || b[2] != 8 {
        return None;
    }
    let flags = b[3];
    let mut i = 10;
    if flags & 4 != 0 {
        let xlen = usize::from(u16::from_le_bytes([*b.get(i)?, *b.get(i + 1)?]));
        i += 2 + xlen;
    }
    for bit in [8u8, 16] {
        if flags & bit != 0 {
            i += memchr::memchr(0, b.get(i..)?)? + 1;
        }
    }
    if flags & 2 != 0 {
        i += 2;
    }
    let end = b.len() - 8;
    if i > end {
        return None;
    }
    let out = miniz_oxide::inflate::decompress_to_vec_with_limit(&b[i..end], limit).ok()?;
    let trailer = &b[end..];
    let crc = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
    let size = u32::from_le_bytes([trailer[4], trailer[5], trailer[6], trailer[7]]);
    (crc32(&out) == crc && out.len() as u32 == size).then_some(out)
}

/// A gzip member of `data` (for tests).
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    out.extend_from_slice(&miniz_oxide::deflate::compress_to_vec(data, 6));
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let data = br#"{"hello":"world","n":[1,2,3]}"#.repeat(50);
        let z = gzip(&data);
        assert!(z.len() < data.len());
        assert_eq!(gunzip(&z, 1 << 20).as_deref(), Some(&data[..]));
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        // Corrupt CRC, truncated, over the limit, not gzip.
        let mut bad = z.clone();
        let n = bad.len();
        bad[n - 5] ^= 1;
        assert_eq!(gunzip(&bad, 1 << 20), None);
        assert_eq!(gunzip(&z[..z.len() - 3], 1 << 20), None);
        assert_eq!(gunzip(&z, 10), None);
        assert_eq!(gunzip(b"plain text that is long enough", 1 << 20), None);
        // FNAME field skipped.
        let mut named = vec![0x1f, 0x8b, 8, 8, 0, 0, 0, 0, 0, 0xff];
        named.extend_from_slice(b"file.json\0");
        named.extend_from_slice(&z[10..]);
        assert_eq!(gunzip(&named, 1 << 20).as_deref(), Some(&data[..]));
    }
}
