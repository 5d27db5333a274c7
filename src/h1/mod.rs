//! HTTP/1.1 wire code with no I/O: request heads, response heads, chunked
//! bodies, encoders and the limits that bound them.
//!
//! Parsers work on one owned buffer and return offsets ([`Span`]) into it, so
//! nothing borrowed is held across an `.await` by the I/O loops in `server/`
//! and `upstream/`.

pub mod chunked;
pub mod encode;
pub mod query;
pub mod request;
pub mod response;

pub use chunked::{ChunkError, ChunkedDecoder};
pub use request::{parse_request_head, HeadError, RequestHead};
pub use response::{parse_response_head, ResponseHead};

/// Largest request or response head we accept, in bytes. Real clients send a
/// few KiB (long bearer tokens, a dozen `x-stainless-*` headers); 64 KiB keeps
/// memory per connection bounded while leaving room for odd proxies. A larger
/// head is answered with 431.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Most header lines we accept in one head. SDKs send about 20; 128 is far above
/// any client seen and keeps the on-stack `httparse` header array small.
pub const MAX_HEADERS: usize = 128;

/// Default cap on a request body: 64 MiB. Agent clients send whole
/// conversations with tool output and base64 images every turn; multi-MB
/// bodies are normal. Configurable with `body-limit-mb`.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024 * 1024;

/// Longest chunk-size line (hex digits plus extensions) we accept in a chunked
/// body before calling it malformed.
pub const MAX_CHUNK_LINE: usize = 1024;

/// A byte range inside an owned buffer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    /// Offset of the first byte.
    pub start: u32,
    /// Length in bytes.
    pub len: u32,
}

impl Span {
    /// The span of `part`, which must lie inside `base`.
    #[inline]
    pub fn of(base: &[u8], part: &[u8]) -> Span {
        let start = part.as_ptr() as usize - base.as_ptr() as usize;
        Span {
            start: start as u32,
            len: part.len() as u32,
        }
    }

    /// The bytes of this span in `buf` (empty if out of range).
    #[inline]
    pub fn get<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        let s = self.start as usize;
        let e = s + self.len as usize;
        buf.get(s..e).unwrap_or(&[])
    }
}

/// Finds the end of a head (`\r\n\r\n`, or a bare `\n\n` as httparse allows),
/// scanning from `from` so repeated calls on a growing buffer stay linear.
/// Returns the index one past the blank line.
pub fn find_head_end(buf: &[u8], from: usize) -> Option<usize> {
    let start = from.saturating_sub(3);
    let mut i = start;
    while let Some(p) = memchr::memchr(b'\n', &buf[i.min(buf.len())..]) {
        let nl = i + p;
        // "\n\n"
        if nl + 1 < buf.len() && buf[nl + 1] == b'\n' {
            return Some(nl + 2);
        }
        // "\n\r\n"
        if nl + 2 < buf.len() && buf[nl + 1] == b'\r' && buf[nl + 2] == b'\n' {
            return Some(nl + 3);
        }
        i = nl + 1;
        if i >= buf.len() {
            break;
        }
    }
    None
}

/// Case-insensitive ASCII comparison of a header name.
#[inline]
pub fn name_eq(a: &[u8], b: &str) -> bool {
    a.eq_ignore_ascii_case(b.as_bytes())
}

/// True if a comma-separated header value contains `token` (case-insensitive).
pub fn has_token(value: &[u8], token: &str) -> bool {
    value
        .split(|&c| c == b',')
        .any(|t| trim(t).eq_ignore_ascii_case(token.as_bytes()))
}

/// Trims ASCII spaces and tabs.
pub fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Parses a decimal `Content-Length`; `None` if empty, not all digits or overflowing.
pub fn parse_content_length(v: &[u8]) -> Option<u64> {
    let v = trim(v);
    if v.is_empty() || v.len() > 19 {
        return None;
    }
    let mut n: u64 = 0;
    for &c in v {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_end_variants() {
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\n\r\nrest", 0), Some(18));
        assert_eq!(find_head_end(b"GET / HTTP/1.1\n\nrest", 0), Some(16));
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\nA: b\r\n", 0), None);
        let s = b"GET / HTTP/1.1\r\nA: b\r\n\r\n";
        for from in 0..s.len() {
            assert_eq!(
                find_head_end(s, from.min(s.len() - 1)),
                Some(s.len()),
                "from {from}"
            );
        }
    }

    #[test]
    fn content_length() {
        assert_eq!(parse_content_length(b" 42 "), Some(42));
        assert_eq!(parse_content_length(b"4x"), None);
        assert_eq!(parse_content_length(b""), None);
        assert_eq!(parse_content_length(b"99999999999999999999"), None);
    }

    #[test]
    fn tokens() {
        assert!(has_token(b"keep-alive, Upgrade", "upgrade"));
        assert!(!has_token(b"keep-alive", "close"));
    }
}
