//! JSON writers: the comma-tracking [`Writer`] and the number and string helpers every
//! encoder uses.

use super::escape::{escape_into, special_mask};
use super::tree::JStr;

/// A JSON writer appending to a byte vector; inserts commas automatically.
pub struct Writer<'o> {
    pub out: &'o mut Vec<u8>,
    /// Bit `k`: whether open container `k` (0 = the outermost) already has
    /// an item, for the first 64 levels (no allocation for these).
    bits: u64,
    /// How many containers are open.
    depth: usize,
    /// The same flag for containers deeper than 64 levels.
    deep: Vec<bool>,
    after_key: bool,
}

impl<'o> Writer<'o> {
    pub fn new(out: &'o mut Vec<u8>) -> Self {
        Writer {
            out,
            bits: 0,
            depth: 0,
            deep: Vec::new(),
            after_key: false,
        }
    }
    #[inline]
    fn pre(&mut self) {
        if self.after_key {
            self.after_key = false;
            return;
        }
        let had = match self.depth {
            0 => return,
            d @ 1..=64 => {
                let bit = 1u64 << (d - 1);
                let had = self.bits & bit != 0;
                self.bits |= bit;
                had
            }
            _ => match self.deep.last_mut() {
                Some(top) => std::mem::replace(top, true),
                None => return,
            },
        };
        if had {
            self.out.push(b',');
        }
    }
    // Always inlined (with `obj` / `arr` / `end_*`): a call cost as much
    // as the body (the emitters open a handful of containers per request).
    #[inline(always)]
    fn open(&mut self, c: u8) {
        self.pre();
        self.out.push(c);
        self.depth += 1;
        if self.depth <= 64 {
            self.bits &= !(1u64 << (self.depth - 1));
        } else {
            self.deep.push(false);
        }
    }
    #[inline(always)]
    fn close(&mut self, c: u8) {
        if self.depth > 64 {
            self.deep.pop();
        }
        self.depth = self.depth.saturating_sub(1);
        self.out.push(c);
    }
    pub fn key(&mut self, k: &str) -> &mut Self {
        self.pre();
        let b = k.as_bytes();
        // The emitters' keys are short names with nothing to escape:
        // `"key":` in one copy, checked a word at a time (the padding is
        // spaces, which need no escape).
        const MAX: usize = 32;
        let mut lit = [b' '; MAX + 8];
        let clean = b.len() <= MAX && {
            lit[1..=b.len()].copy_from_slice(b);
            (0..b.len().div_ceil(8)).all(|w| special_mask(&lit[1 + 8 * w..9 + 8 * w]) == 0)
        };
        if clean {
            lit[0] = b'"';
            lit[b.len() + 1] = b'"';
            lit[b.len() + 2] = b':';
            self.out.extend_from_slice(&lit[..b.len() + 3]);
        } else {
            self.out.push(b'"');
            escape_into(self.out, k);
            self.out.extend_from_slice(b"\":");
        }
        self.after_key = true;
        self
    }
    /// A key given whole as `"name":` ([`jkey!`] writes and checks it when
    /// compiled): one fixed-size copy, no escape check.
    #[inline(always)]
    pub fn key_lit(&mut self, lit: &'static str) -> &mut Self {
        debug_assert!(lit.len() >= 3 && lit.starts_with('"') && lit.ends_with("\":"));
        self.pre();
        self.out.extend_from_slice(lit.as_bytes());
        self.after_key = true;
        self
    }
    /// A string value given whole as `"text"` ([`jstr!`] writes and checks
    /// it when compiled).
    #[inline(always)]
    pub fn str_lit(&mut self, lit: &'static str) -> &mut Self {
        debug_assert!(lit.len() >= 2 && lit.starts_with('"') && lit.ends_with('"'));
        self.pre();
        self.out.extend_from_slice(lit.as_bytes());
        self
    }
    /// A key that is already valid JSON string content (e.g. an input key).
    pub fn key_j(&mut self, k: JStr<'_>) -> &mut Self {
        self.pre();
        self.out.push(b'"');
        self.out.extend_from_slice(k.raw.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.after_key = true;
        self
    }
    #[inline(always)]
    pub fn obj(&mut self) -> &mut Self {
        self.open(b'{');
        self
    }
    #[inline(always)]
    pub fn end_obj(&mut self) -> &mut Self {
        self.close(b'}');
        self
    }
    #[inline(always)]
    pub fn arr(&mut self) -> &mut Self {
        self.open(b'[');
        self
    }
    #[inline(always)]
    pub fn end_arr(&mut self) -> &mut Self {
        self.close(b']');
        self
    }
    pub fn str(&mut self, s: &str) -> &mut Self {
        self.pre();
        self.out.push(b'"');
        escape_into(self.out, s);
        self.out.push(b'"');
        self
    }
    /// A string value from input string content, copied without re-escaping.
    pub fn jstr(&mut self, s: JStr<'_>) -> &mut Self {
        self.pre();
        self.out.push(b'"');
        self.out.extend_from_slice(s.raw.as_bytes());
        self.out.push(b'"');
        self
    }
    /// A string value from already-escaped JSON-string content (e.g. a
    /// stream event span), copied as is.
    pub fn raw_str(&mut self, content: &[u8]) -> &mut Self {
        self.pre();
        self.out.push(b'"');
        self.out.extend_from_slice(content);
        self.out.push(b'"');
        self
    }
    /// A raw JSON value (must be valid JSON).
    pub fn raw(&mut self, r: &str) -> &mut Self {
        self.pre();
        self.out.extend_from_slice(r.as_bytes());
        self
    }
    pub fn int(&mut self, v: i64) -> &mut Self {
        self.pre();
        if v < 0 {
            self.out.push(b'-');
        }
        write_u64(self.out, v.unsigned_abs());
        self
    }
    pub fn uint(&mut self, v: u64) -> &mut Self {
        self.pre();
        write_u64(self.out, v);
        self
    }
    pub fn bool(&mut self, v: bool) -> &mut Self {
        self.raw(if v { "true" } else { "false" })
    }
    pub fn null(&mut self) -> &mut Self {
        self.raw("null")
    }
}

/// Whether `s` goes into a JSON string as it is (printable ASCII without
/// `"` or `\\`); what [`jkey!`] and [`jstr!`] check when compiled.
pub const fn plain(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] < 0x20 || b[i] > 0x7e || b[i] == b'"' || b[i] == b'\\' {
            return false;
        }
        i += 1;
    }
    true
}

/// `"name":` for [`Writer::key_lit`]; a name that would need escaping does
/// not compile.
macro_rules! jkey {
    ($k:literal) => {{
        const _: () = assert!($crate::json::write::plain($k), "key needs escaping");
        concat!("\"", $k, "\":")
    }};
}
pub(crate) use jkey;

/// `"text"` for [`Writer::str_lit`]; text that would need escaping does
/// not compile.
macro_rules! jstr {
    ($k:literal) => {{
        const _: () = assert!($crate::json::write::plain($k), "text needs escaping");
        concat!("\"", $k, "\"")
    }};
}
pub(crate) use jstr;

/// Appends `s` as a JSON string literal.
pub fn write_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    escape_into(out, s);
    out.push(b'"');
}

/// Returns `body` with the byte range `span` replaced by the JSON string `value`.
pub fn replace_span_with_string(body: &[u8], span: (usize, usize), value: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + value.len() + 2);
    out.extend_from_slice(&body[..span.0]);
    write_string(&mut out, value);
    out.extend_from_slice(&body[span.1..]);
    out
}

/// Append a decimal number.
pub fn write_u64(out: &mut Vec<u8>, mut n: u64) {
    // Token counts and indexes are mostly one digit or two: no buffer.
    if n < 10 {
        out.push(b'0' + n as u8);
        return;
    }
    if n < 100 {
        out.extend_from_slice(&DIGIT_PAIRS[n as usize * 2..n as usize * 2 + 2]);
        return;
    }
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    // Two digits per division.
    while n >= 100 {
        let d = (n % 100) as usize * 2;
        n /= 100;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&DIGIT_PAIRS[d..d + 2]);
    }
    if n >= 10 {
        let d = n as usize * 2;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&DIGIT_PAIRS[d..d + 2]);
    } else {
        i -= 1;
        buf[i] = b'0' + n as u8;
    }
    out.extend_from_slice(&buf[i..]);
}

/// `00`, `01`, ... `99`: the two digits of each number below 100.
const DIGIT_PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Append `n` as 16 lowercase hex digits.
pub fn write_hex(out: &mut Vec<u8>, n: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for s in (0..16).rev() {
        out.push(HEX[((n >> (s * 4)) & 15) as usize]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_match_to_string() {
        for v in [0i64, 1, -1, 9, 10, -10, i64::MAX, i64::MIN, 1234567890] {
            let mut out = Vec::new();
            Writer::new(&mut out).int(v);
            assert_eq!(out, v.to_string().as_bytes());
        }
        let mut out = Vec::new();
        Writer::new(&mut out).arr().uint(u64::MAX).uint(0).end_arr();
        assert_eq!(out, format!("[{},0]", u64::MAX).as_bytes());
    }

    /// Every digit count and every two-digit step prints as `to_string` does.
    #[test]
    fn write_u64_matches_to_string() {
        let mut vals: Vec<u64> = (0..20_000).collect();
        let mut p = 1u64;
        while let Some(next) = p.checked_mul(10) {
            vals.extend([p - 1, p, p + 1, next - 1]);
            p = next;
        }
        vals.extend([u64::MAX, u64::MAX - 1, 1_700_000_000]);
        for v in vals {
            let mut out = b"x".to_vec();
            write_u64(&mut out, v);
            assert_eq!(&out[1..], v.to_string().as_bytes(), "{v}");
        }
    }

    /// Keys of every kind (short and clean, long, with quotes, backslashes,
    /// control or non-ASCII characters) read back as written.
    #[test]
    fn keys_round_trip() {
        let long = "k".repeat(40);
        let keys = [
            "",
            "a",
            "model",
            "x\"y",
            "back\\slash",
            "nl\n",
            "\u{1}",
            "é😀",
            long.as_str(),
            "exactly-thirty-two-bytes-long-ky",
        ];
        let mut out = Vec::new();
        let mut w = Writer::new(&mut out);
        w.obj();
        for (i, k) in keys.iter().enumerate() {
            w.key(k).int(i as i64);
        }
        w.end_obj();
        let v: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&out).unwrap();
        let got: Vec<&str> = v.keys().map(String::as_str).collect();
        let mut want = keys.to_vec();
        want.sort();
        let mut got_sorted = got.clone();
        got_sorted.sort();
        assert_eq!(got_sorted, want);
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(v[*k], i as i64);
        }
    }

    /// Literal keys and strings write what `key` and `str` write.
    #[test]
    fn literals_are_keys_and_strings() {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let mut w = Writer::new(&mut a);
        w.obj().key_lit(jkey!("type")).str_lit(jstr!("text"));
        w.key_lit(jkey!("x-y_z"))
            .arr()
            .str_lit(jstr!(""))
            .str_lit(jstr!("a b"));
        w.end_arr().end_obj();
        let mut w = Writer::new(&mut b);
        w.obj().key("type").str("text");
        w.key("x-y_z").arr().str("").str("a b").end_arr().end_obj();
        assert_eq!(String::from_utf8(a).unwrap(), String::from_utf8(b).unwrap());
        assert!(plain("model") && plain("") && plain("a ~!"));
        for bad in ["a\"b", "back\\", "nl\n", "\u{1}", "é", "\u{7f}"] {
            assert!(!plain(bad), "{bad:?}");
        }
    }

    /// Commas are right at every depth, across the 64 levels kept in bits
    /// and the deeper ones kept in a vector: each level holds two items, a
    /// number and the next level (in alternating order).
    #[test]
    fn commas_at_every_depth() {
        for depth in [1usize, 2, 63, 64, 65, 66, 130] {
            let mut out = Vec::new();
            let mut w = Writer::new(&mut out);
            let mut want = String::new();
            for d in 0..depth {
                if d % 2 == 0 {
                    w.arr().int(d as i64);
                    want.push_str(&format!("[{d},"));
                } else {
                    w.obj().key("k").int(d as i64).key("n");
                    want.push_str(&format!("{{\"k\":{d},\"n\":"));
                }
            }
            w.arr().end_arr();
            want.push_str("[]");
            for d in (0..depth).rev() {
                if d % 2 == 0 {
                    w.int(-1).end_arr();
                    want.push_str(",-1]");
                } else {
                    w.key("z").null().end_obj();
                    want.push_str(",\"z\":null}");
                }
            }
            assert_eq!(String::from_utf8(out).unwrap(), want, "depth {depth}");
            assert!(crate::json::tree::parse(want.as_bytes()).is_ok());
        }
    }
}
