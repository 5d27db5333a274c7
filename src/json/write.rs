//! JSON writers: the comma-tracking [`Writer`] and the number and string helpers every
//! encoder uses.

use super::escape::escape_into;
use super::tree::JStr;

/// A JSON writer appending to a byte vector; inserts commas automatically.
pub struct Writer<'o> {
    pub out: &'o mut Vec<u8>,
    /// One entry per open container: whether it already has an item.
    stack: Vec<bool>,
    after_key: bool,
}

impl<'o> Writer<'o> {
    pub fn new(out: &'o mut Vec<u8>) -> Self {
        Writer {
            out,
            stack: Vec::with_capacity(16),
            after_key: false,
        }
    }
    #[inline]
    fn pre(&mut self) {
        if self.after_key {
            self.after_key = false;
            return;
        }
        if let Some(top) = self.stack.last_mut() {
            if *top {
                self.out.push(b',');
            }
            *top = true;
        }
    }
    pub fn key(&mut self, k: &str) -> &mut Self {
        self.pre();
        self.out.push(b'"');
        escape_into(self.out, k);
        self.out.extend_from_slice(b"\":");
        self.after_key = true;
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
    pub fn obj(&mut self) -> &mut Self {
        self.pre();
        self.out.push(b'{');
        self.stack.push(false);
        self
    }
    pub fn end_obj(&mut self) -> &mut Self {
        self.stack.pop();
        self.out.push(b'}');
        self
    }
    pub fn arr(&mut self) -> &mut Self {
        self.pre();
        self.out.push(b'[');
        self.stack.push(false);
        self
    }
    pub fn end_arr(&mut self) -> &mut Self {
        self.stack.pop();
        self.out.push(b']');
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
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

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
}
