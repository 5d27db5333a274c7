//! The stream translator's non-allocating, tolerant span reader.
//!
//! The reader locates values inside one JSON document without building a tree: it returns
//! byte spans of the input. It is tolerant (it does not validate parts it skips), so
//! callers must only copy to the output what these helpers have *validated*:
//! [`str_content`] returns a string's escaped content only when it is a well-formed JSON
//! string body (valid escapes, no raw control characters, valid UTF-8), so it can be pasted
//! between quotes in any output and still be valid JSON. Numbers are parsed, never copied.
//!
//! Nesting is bounded by [`MAX_DEPTH`]; deeper input makes lookups fail (returns `None`).

use super::MAX_DEPTH;

#[inline]
fn ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// High bit set in every byte of `w` equal to `c` (exact for the lowest such byte, which is
/// all the callers use).
#[inline(always)]
pub(crate) fn eq_mask(w: u64, c: u8) -> u64 {
    let x = w ^ (LO * u64::from(c));
    x.wrapping_sub(LO) & !x & HI
}

#[inline(always)]
fn word(b: &[u8], j: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(j..j + 8)?.try_into().ok()?))
}

/// Whether `b` starts with `lit`, without a branch per word: the XORs of
/// `b`'s and `lit`'s 16-byte chunks (the last one overlapping the one before
/// it) are OR-ed together and tested once. With a literal `lit` the compiler
/// turns this into a few vector instructions per 16 bytes and a single
/// branch, where a slice compare calls `memcmp` and a word loop branches per
/// eight bytes (the stream decoders' fast paths match long literal heads per
/// event).
#[inline(always)]
pub fn has_prefix(b: &[u8], lit: &[u8]) -> bool {
    let n = lit.len();
    let Some(b) = b.get(..n) else {
        return false;
    };
    if n < 8 {
        return b == lit;
    }
    if n < 16 {
        let x = |j| word(b, j).unwrap_or(0) ^ word(lit, j).unwrap_or(0);
        return x(0) | x(n - 8) == 0;
    }
    let x = |j| chunk16(b, j) ^ chunk16(lit, j);
    let mut acc = 0;
    let mut i = 0;
    while i + 16 < n {
        acc |= x(i);
        i += 16;
    }
    acc | x(n - 16) == 0
}

/// The 16 bytes at `b[j..]` as one number (0 past the end: not reached by
/// [`has_prefix`], which reads within both slices' equal lengths).
#[inline(always)]
fn chunk16(b: &[u8], j: usize) -> u128 {
    b.get(j..j + 16)
        .and_then(|c| c.try_into().ok())
        .map_or(0, u128::from_le_bytes)
}

/// End of the string starting at `b[i] == '"'` (index after the closing quote).
///
/// Scans eight bytes at a time (SWAR) for a quote or backslash: cheaper than a SIMD search
/// call for the short tokens of provider JSON, faster than a byte loop for text values.
#[inline]
fn skip_string(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    loop {
        while let Some(w) = word(b, j) {
            let m = eq_mask(w, b'"') | eq_mask(w, b'\\');
            if m != 0 {
                j += (m.trailing_zeros() / 8) as usize;
                break;
            }
            j += 8;
        }
        match *b.get(j)? {
            b'"' => return Some(j + 1),
            b'\\' => j += 2,
            _ => j += 1,
        }
    }
}

/// End index of the value starting at `i` (after leading whitespace), or `None`.
///
/// Containers are skipped counting only the container's own bracket kind: in well-formed
/// JSON the other kind is balanced inside, so `{`/`}` (or `[`/`]`) alone finds the close.
pub fn skip_value(b: &[u8], i: usize) -> Option<usize> {
    let i = ws(b, i);
    match *b.get(i)? {
        b'"' => skip_string(b, i),
        open @ (b'{' | b'[') => {
            let close = if open == b'{' { b'}' } else { b']' };
            let mut depth = 0usize;
            let mut j = i;
            loop {
                while let Some(w) = word(b, j) {
                    let m = eq_mask(w, b'"') | eq_mask(w, open) | eq_mask(w, close);
                    if m != 0 {
                        j += (m.trailing_zeros() / 8) as usize;
                        break;
                    }
                    j += 8;
                }
                let c = *b.get(j)?;
                if c == b'"' {
                    j = skip_string(b, j)?;
                    continue;
                }
                if c == open {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return None;
                    }
                } else if c == close {
                    depth -= 1;
                    if depth == 0 {
                        return Some(j + 1);
                    }
                }
                j += 1;
            }
        }
        _ => {
            let mut j = i;
            while j < b.len() && !matches!(b[j], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
            {
                j += 1;
            }
            if j == i {
                None
            } else {
                Some(j)
            }
        }
    }
}

/// Look up several top-level members of `obj` in one pass: `out[k]` gets the raw span of
/// member `keys[k]` (the first occurrence). Stops early once every key is found.
pub fn get_many<'a, const N: usize>(obj: &'a [u8], keys: [&[u8]; N]) -> [Option<&'a [u8]>; N] {
    let mut out = [None; N];
    let mut missing = N;
    let mut i = ws(obj, 0);
    if obj.get(i) != Some(&b'{') {
        return out;
    }
    i += 1;
    while missing > 0 {
        i = ws(obj, i);
        match obj.get(i) {
            Some(b',') => {
                i += 1;
                continue;
            }
            Some(b'"') => {}
            _ => break,
        }
        let Some(kend) = skip_string(obj, i) else {
            break;
        };
        let k = &obj[i + 1..kend - 1];
        i = ws(obj, kend);
        if obj.get(i) != Some(&b':') {
            break;
        }
        let vs = ws(obj, i + 1);
        let Some(ve) = skip_value(obj, vs) else { break };
        for (n, key) in keys.iter().enumerate() {
            if out[n].is_none() && k == *key {
                out[n] = Some(&obj[vs..ve]);
                missing -= 1;
            }
        }
        i = ve;
    }
    out
}

/// The raw span of member `key` of the object `obj` (top level only). Keys are compared
/// on their escaped form, which is exact for the ASCII keys providers use.
pub fn get<'a>(obj: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let mut i = ws(obj, 0);
    if obj.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    loop {
        i = ws(obj, i);
        match obj.get(i)? {
            b'}' => return None,
            b',' => {
                i += 1;
                continue;
            }
            b'"' => {}
            _ => return None,
        }
        let kend = skip_string(obj, i)?;
        let k = &obj[i + 1..kend - 1];
        i = ws(obj, kend);
        if obj.get(i) != Some(&b':') {
            return None;
        }
        let vs = ws(obj, i + 1);
        let ve = skip_value(obj, vs)?;
        if k == key {
            return Some(&obj[vs..ve]);
        }
        i = ve;
    }
}

/// What a visitor did with a member or element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Not interesting: skip the value.
    Skip,
    /// Handled; the value ended at this index.
    End(usize),
    /// Malformed or done: stop visiting.
    Stop,
}

/// Visit the members of the object starting at `b[i]` in one pass: `f(key, value_start)`
/// either handles the value (returning its end) or asks to skip it. Returns the index after
/// the closing brace, or `None` if the object is malformed or a visitor stopped.
pub fn visit_object<'a>(
    b: &'a [u8],
    i: usize,
    mut f: impl FnMut(&'a [u8], usize) -> Step,
) -> Option<usize> {
    let mut i = ws(b, i);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    loop {
        i = ws(b, i);
        match *b.get(i)? {
            b'}' => return Some(i + 1),
            b',' => {
                i += 1;
                continue;
            }
            b'"' => {}
            _ => return None,
        }
        let kend = skip_string(b, i)?;
        let key = &b[i + 1..kend - 1];
        i = ws(b, kend);
        if b.get(i) != Some(&b':') {
            return None;
        }
        let vs = ws(b, i + 1);
        i = match f(key, vs) {
            Step::Skip => skip_value(b, vs)?,
            Step::End(e) => e,
            Step::Stop => return None,
        };
    }
}

/// Visit the elements of the array starting at `b[i]` in one pass (see [`visit_object`]).
pub fn visit_array(b: &[u8], i: usize, mut f: impl FnMut(usize) -> Step) -> Option<usize> {
    let mut i = ws(b, i);
    if b.get(i) != Some(&b'[') {
        return None;
    }
    i += 1;
    loop {
        i = ws(b, i);
        match *b.get(i)? {
            b']' => return Some(i + 1),
            b',' => {
                i += 1;
                continue;
            }
            _ => {}
        }
        i = match f(i) {
            Step::Skip => skip_value(b, i)?,
            Step::End(e) => e,
            Step::Stop => return None,
        };
    }
}

/// The span of the value at `vs` and its end index.
pub fn value_at(b: &[u8], vs: usize) -> Option<(&[u8], usize)> {
    let e = skip_value(b, vs)?;
    Some((&b[vs..e], e))
}

/// Turn an optional end index into a visitor step.
pub fn step(end: Option<usize>) -> Step {
    end.map_or(Step::Stop, Step::End)
}

/// Follow a path of object keys.
pub fn path<'a>(obj: &'a [u8], keys: &[&[u8]]) -> Option<&'a [u8]> {
    let mut cur = obj;
    for k in keys {
        cur = get(cur, k)?;
    }
    Some(cur)
}

/// Iterate the elements of a JSON array span (empty for anything else).
pub fn array(v: &[u8]) -> ArrayIter<'_> {
    let i = ws(v, 0);
    let ok = v.get(i) == Some(&b'[');
    ArrayIter {
        b: v,
        i: i + 1,
        done: !ok,
    }
}

/// Iterator returned by [`fn@array`].
pub struct ArrayIter<'a> {
    b: &'a [u8],
    i: usize,
    done: bool,
}

impl<'a> Iterator for ArrayIter<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.done {
            return None;
        }
        loop {
            self.i = ws(self.b, self.i);
            match self.b.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b']') | None => {
                    self.done = true;
                    return None;
                }
                Some(_) => {
                    let s = self.i;
                    match skip_value(self.b, s) {
                        Some(e) => {
                            self.i = e;
                            return Some(&self.b[s..e]);
                        }
                        None => {
                            self.done = true;
                            return None;
                        }
                    }
                }
            }
        }
    }
}

/// The escaped content of a JSON string value, only if it is well formed (see module docs).
pub fn str_content(v: &[u8]) -> Option<&[u8]> {
    if v.len() < 2 || v[0] != b'"' || v[v.len() - 1] != b'"' {
        return None;
    }
    let c = &v[1..v.len() - 1];
    if valid_string_body(c) {
        Some(c)
    } else {
        None
    }
}

/// Whether `c` is a valid JSON string body (what goes between the quotes).
pub fn valid_string_body(c: &[u8]) -> bool {
    body_scan(c) == Body::End
}

/// Where the JSON string body at the front of `b` ends: the index of its
/// closing (unescaped) quote, when everything before it is a valid string body
/// ([`valid_string_body`]); `None` when the body is invalid or has no closing
/// quote in `b`. One pass: it finds the end and validates on the way.
#[inline(always)]
pub fn string_body_end(b: &[u8]) -> Option<usize> {
    // Short plain-ASCII bodies (most stream tokens) end in the first words:
    // found here without the general scan's setup.
    let mut i = 0;
    while let Some(w) = word(b, i) {
        let m = plain_ascii_stop(w);
        if m != 0 {
            i += (m.trailing_zeros() / 8) as usize;
            if b[i] == b'"' {
                return Some(i);
            }
            break;
        }
        i += 8;
    }
    // Everything before `i` is plain ASCII, so the body may be scanned on from there.
    match body_scan(&b[i..]) {
        Body::Quote(q) => Some(i + q),
        Body::End | Body::Invalid => None,
    }
}

/// High bit set in the lowest byte of `w` that is not plain printable ASCII
/// other than `"` and `\` (exact for the lowest such byte: see [`eq_mask`]; a
/// byte below 0x20 borrows only into higher bytes).
#[inline(always)]
fn plain_ascii_stop(w: u64) -> u64 {
    let below_space = w.wrapping_sub(LO * 0x20) & !w & HI;
    (w & HI) | below_space | eq_mask(w, b'"') | eq_mask(w, b'\\')
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    /// Valid up to an unescaped quote at this index.
    Quote(usize),
    /// Valid to the end, no unescaped quote.
    End,
    Invalid,
}

/// Scans a string body up to its first unescaped quote (or the end), checking
/// escapes, raw control characters and UTF-8.
#[inline]
fn body_scan(c: &[u8]) -> Body {
    let mut i = 0;
    // Index of the first non-ASCII byte (bytes before it are ASCII, so it is a
    // character boundary): only `c[first..stop]` needs a UTF-8 check.
    let mut non_ascii = usize::MAX;
    // Stop at non-ASCII bytes only until the first one is seen.
    let mut hi = HI;
    loop {
        // Eight bytes at a time while they are plain (printable, no `"` or `\`).
        while let Some(w) = word(c, i) {
            let below_space = w.wrapping_sub(LO * 0x20) & !w & HI;
            let m = (w & hi) | below_space | eq_mask(w, b'"') | eq_mask(w, b'\\');
            if m != 0 {
                // The lowest flagged byte is exact (see `eq_mask`; a byte below
                // 0x20 borrows only into higher bytes).
                i += (m.trailing_zeros() / 8) as usize;
                break;
            }
            i += 8;
        }
        let Some(&b) = c.get(i) else {
            return if non_ascii == usize::MAX || std::str::from_utf8(&c[non_ascii..]).is_ok() {
                Body::End
            } else {
                Body::Invalid
            };
        };
        match b {
            b'"' => {
                return if non_ascii == usize::MAX || std::str::from_utf8(&c[non_ascii..i]).is_ok() {
                    Body::Quote(i)
                } else {
                    Body::Invalid
                };
            }
            b'\\' => match c.get(i + 1) {
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                Some(b'u') => {
                    if c.len() < i + 6 || !c[i + 2..i + 6].iter().all(u8::is_ascii_hexdigit) {
                        return Body::Invalid;
                    }
                    i += 6;
                }
                _ => return Body::Invalid,
            },
            b if b < 0x20 => return Body::Invalid,
            b => {
                if b >= 0x80 && non_ascii == usize::MAX {
                    non_ascii = i;
                    hi = 0;
                }
                i += 1;
            }
        }
    }
}

/// A non-negative integer value (a float or negative number reads as `None`).
pub fn as_u64(v: &[u8]) -> Option<u64> {
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut n: u64 = 0;
    for &d in v {
        n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(n)
}

/// `get` + `as_u64`.
pub fn get_u64(obj: &[u8], key: &[u8]) -> Option<u64> {
    get(obj, key).and_then(as_u64)
}

/// `get` + `str_content`.
pub fn get_str<'a>(obj: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    get(obj, key).and_then(str_content)
}

/// Whether `v` is one complete, valid JSON value (used once per tool call, not per delta).
pub fn is_valid(v: &[u8]) -> bool {
    serde_json::from_slice::<serde::de::IgnoredAny>(v).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::escape::{escape_bytes_into as escape_into, unescape_into};
    use crate::json::write::write_u64;

    /// Byte-loop reference for `skip_value` on containers and strings.
    fn naive_skip(b: &[u8], i: usize) -> Option<usize> {
        let (open, close) = match b[i] {
            b'"' => {
                let mut j = i + 1;
                while j < b.len() {
                    match b[j] {
                        b'"' => return Some(j + 1),
                        b'\\' => j += 2,
                        _ => j += 1,
                    }
                }
                return None;
            }
            b'{' => (b'{', b'}'),
            _ => (b'[', b']'),
        };
        let (mut d, mut j, mut in_str) = (0, i, false);
        while j < b.len() {
            let c = b[j];
            if in_str {
                if c == b'\\' {
                    j += 1;
                } else if c == b'"' {
                    in_str = false;
                }
            } else if c == b'"' {
                in_str = true;
            } else if c == open {
                d += 1;
            } else if c == close {
                d -= 1;
                if d == 0 {
                    return Some(j + 1);
                }
            }
            j += 1;
        }
        None
    }

    /// `has_prefix` is `starts_with` for every literal length (word and
    /// 16-byte chunk paths, overlapping last chunks), with the difference
    /// at every position and inputs shorter than the literal.
    #[test]
    fn has_prefix_is_starts_with() {
        let text: Vec<u8> = (0..200u32).map(|i| b'a' + (i * 7 % 26) as u8).collect();
        for n in 0..=150 {
            let lit = &text[..n];
            for len in [0, n.saturating_sub(1), n, n + 1, 200] {
                let b = &text[..len.min(200)];
                assert_eq!(has_prefix(b, lit), b.starts_with(lit), "n {n} len {len}");
            }
            for at in 0..n {
                let mut b = text.clone();
                b[at] ^= 0x20;
                assert!(!has_prefix(&b, lit), "n {n} diff at {at}");
            }
        }
    }

    #[test]
    fn swar_skip_matches_byte_loop() {
        let mut rng = crate::sse::test_rng::Rng(99);
        let alphabet = b"{}[]\"\\ax:,";
        for _ in 0..20000 {
            let n = rng.below(40) + 1;
            let mut v: Vec<u8> = (0..n)
                .map(|_| alphabet[rng.below(alphabet.len())])
                .collect();
            v[0] = [b'{', b'[', b'"'][rng.below(3)];
            if v[0] != b'"' && naive_skip(&v, 0).is_some_and(|e| e > 1 && v[1..e].contains(&b'\\'))
            {
                // Backslashes outside strings are invalid JSON; both just need to not panic.
                let _ = skip_value(&v, 0);
                continue;
            }
            assert_eq!(
                skip_value(&v, 0),
                naive_skip(&v, 0),
                "{:?}",
                String::from_utf8_lossy(&v)
            );
        }
    }

    #[test]
    fn get_finds_top_level_members_only() {
        let j = br#" {"a": {"type":"x"}, "type" : "y\"z", "n": 12, "arr":[1,{"b":"]"}], "f":-1.5}"#;
        assert_eq!(get(j, b"type"), Some(&br#""y\"z""#[..]));
        assert_eq!(path(j, &[b"a", b"type"]), Some(&br#""x""#[..]));
        assert_eq!(get_u64(j, b"n"), Some(12));
        assert_eq!(get_u64(j, b"f"), None);
        assert_eq!(array(get(j, b"arr").unwrap()).count(), 2);
        assert_eq!(get(j, b"missing"), None);
        assert_eq!(get(b"[1]", b"a"), None);
        assert_eq!(get(br#"{"a":"#, b"a"), None);
        let [t, n, x] = get_many(j, [b"type", b"n", b"x"]);
        assert_eq!((t, n, x), (Some(&br#""y\"z""#[..]), Some(&b"12"[..]), None));
        assert_eq!(skip_value(br#"{"a":[{"b":"}]"},{}]} tail"#, 0), Some(21));
    }

    #[test]
    fn str_content_validates() {
        assert_eq!(str_content(br#""a\nb\u00e9""#), Some(&br#"a\nb\u00e9"#[..]));
        assert_eq!(str_content(b"\"a\nb\""), None);
        assert_eq!(str_content(br#""\x""#), None);
        assert_eq!(str_content(br#""\u12""#), None);
        assert_eq!(str_content(b"\"\xff\""), None);
    }

    #[test]
    fn valid_string_body_agrees_with_serde() {
        let mut rng = crate::sse::test_rng::Rng(5);
        let alphabet: &[&[u8]] = &[
            b"a",
            b"\\",
            b"\"",
            b"\\u00e9",
            b"\\n",
            b"\x01",
            b"\xc3\xa9",
            b"\xff",
            b"\xe2\x82",
            b"u",
            b"0",
            b" ",
            b"\t",
        ];
        for _ in 0..20000 {
            let mut body = Vec::new();
            for _ in 0..rng.below(24) {
                body.extend_from_slice(alphabet[rng.below(alphabet.len())]);
            }
            let quoted = [&b"\""[..], &body, b"\""].concat();
            let serde_ok = serde_json::from_slice::<String>(&quoted).is_ok();
            // serde accepts lone surrogate escapes only in some forms; we accept any \uXXXX.
            if body.windows(2).any(|w| w == b"\\u") {
                continue;
            }
            assert_eq!(
                valid_string_body(&body),
                serde_ok,
                "{:?}",
                String::from_utf8_lossy(&body)
            );
        }
    }

    #[test]
    fn escape_unescape_round_trip() {
        let raw = "he said \"hi\"\n\t\\ é 😀 \u{1}".as_bytes();
        let mut esc = Vec::new();
        escape_into(&mut esc, raw);
        assert!(valid_string_body(&esc));
        let mut back = Vec::new();
        unescape_into(&mut back, &esc);
        assert_eq!(back, raw);
        let mut back2 = Vec::new();
        unescape_into(&mut back2, br#"\ud83d\ude00 \u00e9 \/"#);
        assert_eq!(back2, "😀 é /".as_bytes());
        let parsed: String = serde_json::from_slice(&[b"\"", &esc[..], b"\""].concat()).unwrap();
        assert_eq!(parsed.as_bytes(), raw);
    }

    #[test]
    fn numbers() {
        let mut o = Vec::new();
        write_u64(&mut o, 0);
        o.push(b',');
        write_u64(&mut o, u64::MAX);
        assert_eq!(o, b"0,18446744073709551615");
        assert_eq!(as_u64(b"18446744073709551616"), None);
    }
}
