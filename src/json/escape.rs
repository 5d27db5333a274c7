//! The escaper and unescaper of the crate: every JSON writer and reader escapes and
//! decodes string content through these.

/// Appends `s` as JSON string content (no quotes), copying unescaped runs
/// whole; clean 8-byte words are skipped a word at a time.
pub fn escape_into(out: &mut Vec<u8>, s: &str) {
    let b = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    loop {
        let mut hit = false;
        while i + 8 <= b.len() {
            let m = special_mask(&b[i..i + 8]);
            if m != 0 {
                i += (m.trailing_zeros() / 8) as usize;
                hit = true;
                break;
            }
            i += 8;
        }
        if !hit && i < b.len() {
            // Fewer than 8 bytes left: one word instead of a byte at a time.
            i = if b.len() >= 8 {
                // The last 8 bytes, without a copy: the ones before `i`
                // (1 to 7, already passed) masked off. A special byte among
                // them may leave a false hit above it (a borrow): that byte
                // is then passed below as an ordinary one.
                let from = b.len() - 8;
                let m = special_mask(&b[from..]) & (!0u64 << (8 * (i - from)));
                if m == 0 {
                    b.len()
                } else {
                    from + (m.trailing_zeros() / 8) as usize
                }
            } else {
                // A short string: its bytes padded with spaces (which need
                // no escape).
                let rest = &b[i..];
                let mut w = [b' '; 8];
                w[..rest.len()].copy_from_slice(rest);
                let m = special_mask(&w);
                if m == 0 {
                    b.len()
                } else {
                    i + (m.trailing_zeros() / 8) as usize
                }
            };
        }
        let Some(&c) = b.get(i) else {
            break;
        };
        let esc: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => {
                out.extend_from_slice(&b[start..i]);
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(c >> 4) as usize]);
                out.push(HEX[(c & 15) as usize]);
                i += 1;
                start = i;
                continue;
            }
            _ => {
                i += 1;
                continue;
            }
        };
        out.extend_from_slice(&b[start..i]);
        out.extend_from_slice(esc);
        i += 1;
        start = i;
    }
    out.extend_from_slice(&b[start..]);
}

/// Whether an 8-byte word holds a `"`, `\\` or control byte (< 0x20); SWAR, so
/// clean runs of string content are skipped a word at a time.
#[cfg(test)]
#[inline(always)]
pub(crate) fn word_has_special(b: &[u8]) -> bool {
    special_mask(b) != 0
}

/// For an 8-byte word: a mask whose lowest set bit is the high bit of its
/// first `"`, `\\` or control byte (< 0x20), if any (0 when none). Bits above
/// the lowest may be false hits (borrows), so only the lowest is used.
#[inline(always)]
pub(crate) fn special_mask(b: &[u8]) -> u64 {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let mut w = [0u8; 8];
    w.copy_from_slice(b);
    let x = u64::from_le_bytes(w);
    let q = x ^ (LO * b'"' as u64);
    let bs = x ^ (LO * b'\\' as u64);
    // A zero byte in q/bs, or a byte below 0x20 in x (the has-less trick):
    // exact for the lowest flagged byte, which is a real hit.
    ((q.wrapping_sub(LO) & !q) | (bs.wrapping_sub(LO) & !bs) | (x.wrapping_sub(LO * 0x20) & !x))
        & HI
}

/// Append `raw` (arbitrary bytes; invalid UTF-8 is replaced by U+FFFD) as escaped string
/// content.
pub fn escape_bytes_into(out: &mut Vec<u8>, raw: &[u8]) {
    for chunk in raw.utf8_chunks() {
        escape_into(out, chunk.valid());
        if !chunk.invalid().is_empty() {
            out.extend_from_slice("\u{FFFD}".as_bytes());
        }
    }
}

/// Append the decoded form of validated escaped content `c` (see [`super::span::str_content`]).
pub fn unescape_into(out: &mut Vec<u8>, c: &[u8]) {
    let _ = unescape_exact(out, c);
}

/// [`unescape_into`], returning whether the decoding was exact: `false` when a lone
/// surrogate became U+FFFD or `c` ended inside an escape (what serde_json refuses).
pub fn unescape_exact(out: &mut Vec<u8>, c: &[u8]) -> bool {
    let mut exact = true;
    let mut i = 0;
    while i < c.len() {
        let Some(off) = memchr::memchr(b'\\', &c[i..]) else {
            out.extend_from_slice(&c[i..]);
            return exact;
        };
        out.extend_from_slice(&c[i..i + off]);
        i += off;
        let Some(&e) = c.get(i + 1) else {
            return false;
        };
        match e {
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'u' => {
                let hex = |s: &[u8]| -> Option<u32> {
                    u32::from_str_radix(std::str::from_utf8(s).ok()?, 16).ok()
                };
                let Some(hi) = c.get(i + 2..i + 6).and_then(hex) else {
                    return false;
                };
                i += 6;
                let mut cp = hi;
                if (0xD800..0xDC00).contains(&hi) && c.get(i..i + 2) == Some(b"\\u") {
                    if let Some(lo) = c.get(i + 2..i + 6).and_then(hex) {
                        if (0xDC00..0xE000).contains(&lo) {
                            cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                            i += 6;
                        }
                    }
                }
                let ch = char::from_u32(cp).unwrap_or_else(|| {
                    exact = false;
                    '\u{FFFD}'
                });
                let mut buf = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                continue;
            }
            other => out.push(other),
        }
        i += 2;
    }
    exact
}

/// Decode validated JSON string content (as [`unescape_into`]) into a `String`; lone
/// surrogates become U+FFFD.
pub fn unescape(raw: &str) -> String {
    if memchr::memchr(b'\\', raw.as_bytes()).is_none() {
        return raw.to_owned();
    }
    let mut out = Vec::with_capacity(raw.len());
    unescape_into(&mut out, raw.as_bytes());
    // Valid UTF-8 in, and only whole characters are written: the fallback never runs.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Decodes a JSON string literal (with quotes); fast path without escapes. With escapes,
/// `None` unless the content is a valid JSON string body that decodes exactly.
pub fn decode_string(lit: &[u8]) -> Option<String> {
    if lit.len() < 2 || lit[0] != b'"' || lit[lit.len() - 1] != b'"' {
        return None;
    }
    let inner = &lit[1..lit.len() - 1];
    if memchr::memchr(b'\\', inner).is_none() {
        return std::str::from_utf8(inner).ok().map(str::to_owned);
    }
    let inner = super::span::str_content(lit)?;
    let mut out = Vec::with_capacity(inner.len());
    if !unescape_exact(&mut out, inner) {
        return None;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The escaper's oracle: one character at a time.
    fn naive(s: &str) -> Vec<u8> {
        let mut o = Vec::new();
        for c in s.chars() {
            match c {
                '"' => o.extend_from_slice(b"\\\""),
                '\\' => o.extend_from_slice(b"\\\\"),
                '\n' => o.extend_from_slice(b"\\n"),
                '\r' => o.extend_from_slice(b"\\r"),
                '\t' => o.extend_from_slice(b"\\t"),
                c if (c as u32) < 0x20 => {
                    o.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes())
                }
                c => o.extend_from_slice(c.to_string().as_bytes()),
            }
        }
        o
    }

    /// The word-skipping escaper writes what a byte-by-byte one does, on
    /// strings of every length up to 40 mixing clean bytes, quotes,
    /// backslashes, control bytes and multi-byte characters.
    #[test]
    fn escape_into_matches_naive() {
        let alphabet = [
            'a', '"', '\\', '\n', '\u{1}', '\u{1f}', ' ', '\u{7f}', 'é', '😀', 'z', '\t',
        ];
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for len in 0..40 {
            for _ in 0..60 {
                let s: String = (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        alphabet[(x % alphabet.len() as u64) as usize]
                    })
                    .collect();
                let mut got = Vec::new();
                escape_into(&mut got, &s);
                assert_eq!(got, naive(&s), "{s:?}");
                let back: String =
                    serde_json::from_slice(&[b"\"", &got[..], b"\""].concat()).unwrap();
                assert_eq!(back, s);
            }
        }
    }

    /// One or two special bytes at every place of strings of every length
    /// to 24 (the word loop, the overlapping last word and the padded
    /// short word): escaped as the naive escaper does.
    #[test]
    fn escape_into_every_place() {
        for len in 0..=24usize {
            for a in 0..len.max(1) {
                for b in a..len.max(1) {
                    for (x, y) in [('"', '\\'), ('\u{1}', '"'), ('\\', '\n'), ('é', '\u{1f}')] {
                        let s: String = (0..len)
                            .map(|k| match k {
                                _ if k == a => x,
                                _ if k == b => y,
                                _ => 'q',
                            })
                            .collect();
                        let mut got = b"pre".to_vec();
                        escape_into(&mut got, &s);
                        assert_eq!(&got[3..], &naive(&s)[..], "{s:?}");
                    }
                }
            }
        }
    }

    /// `special_mask`'s lowest bit is the first special byte, on words
    /// mixing special bytes, clean ASCII and bytes >= 0x80.
    #[test]
    fn special_mask_finds_the_first_special_byte() {
        let alphabet = [
            b'a', b'"', b'\\', 0x1f, 0x00, 0x20, 0x21, 0x7f, 0x80, 0xff, 0x5b, 0x5d,
        ];
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20000 {
            let mut w = [0u8; 8];
            for c in w.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *c = alphabet[(x % alphabet.len() as u64) as usize];
            }
            let naive = w.iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20);
            let m = special_mask(&w);
            let got = (m != 0).then(|| (m.trailing_zeros() / 8) as usize);
            assert_eq!(got, naive, "{w:?}");
        }
    }

    /// `unescape` agrees with serde_json on valid string content, escapes and all.
    #[test]
    fn unescape_matches_serde() {
        for s in [
            "",
            "plain",
            "a\\\"b\\\\c\\nd",
            "\\u00e9\\ud83d\\ude00\\/\\b\\f\\t\\r",
        ] {
            let want: String = serde_json::from_str(&format!("\"{s}\"")).unwrap();
            assert_eq!(unescape(s), want, "{s:?}");
        }
        assert_eq!(unescape("\\ud800x"), "\u{FFFD}x");
    }

    /// `decode_string` and the cursor's `key_eq` decode without serde_json now; on
    /// escaped literals they accept and decode exactly what serde_json does (lone
    /// surrogates, bad escapes, raw control characters and cut escapes refused).
    #[test]
    fn decoders_agree_with_serde() {
        let lits: &[&[u8]] = &[
            br#""a\u0062c""#,
            br#""\ud83d\ude00 \u00e9 \/ \" \\""#,
            br#""\ud800""#,
            br#""\udc00x""#,
            br#""\ud800\u0041""#,
            br#""\x""#,
            br#""\u12""#,
            br#""\u12g4""#,
            b"\"a\\\x01b\"",
            b"\"\\n\xff\"",
            br#""\n\t\r\b\f""#,
        ];
        for lit in lits {
            let want = serde_json::from_slice::<String>(lit).ok();
            assert_eq!(decode_string(lit), want, "{}", String::from_utf8_lossy(lit));
            for key in ["abc", "x", ""] {
                assert_eq!(
                    crate::json::cursor::key_eq(lit, key),
                    want.as_deref() == Some(key),
                    "{} vs {key}",
                    String::from_utf8_lossy(lit)
                );
            }
        }
    }
}
