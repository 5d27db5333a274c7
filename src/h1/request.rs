//! Request-head parsing into offsets (httparse underneath).

use super::{has_token, name_eq, parse_content_length, Span, MAX_HEADERS, MAX_HEAD_BYTES};

/// Why a request head was refused. Each maps to one status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadError {
    /// Malformed syntax, conflicting or invalid framing headers: 400.
    Invalid(&'static str),
    /// Head larger than [`MAX_HEAD_BYTES`] or more than [`MAX_HEADERS`] lines: 431.
    TooLarge,
    /// A `Transfer-Encoding` other than `chunked`: 501.
    UnsupportedEncoding,
}

impl HeadError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            HeadError::Invalid(_) => 400,
            HeadError::TooLarge => 431,
            HeadError::UnsupportedEncoding => 501,
        }
    }

    /// A short human-readable reason.
    pub fn message(&self) -> &'static str {
        match self {
            HeadError::Invalid(m) => m,
            HeadError::TooLarge => "request header fields too large",
            HeadError::UnsupportedEncoding => "unsupported transfer-encoding",
        }
    }
}

/// How the request body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// No body (no Content-Length, no Transfer-Encoding).
    None,
    /// Exactly this many bytes follow.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// A parsed request head: offsets into the connection buffer it was parsed from.
#[derive(Debug, Clone)]
pub struct RequestHead {
    /// Method token.
    pub method: Span,
    /// Request target (path and query).
    pub target: Span,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub version: u8,
    /// Header (name, value) pairs, in order.
    pub headers: Vec<(Span, Span)>,
    /// Bytes taken by the head, including the blank line.
    pub head_len: usize,
    /// Body framing.
    pub body: BodyKind,
    /// Whether the connection stays open after this exchange.
    pub keep_alive: bool,
    /// `Expect: 100-continue` was sent.
    pub expect_continue: bool,
}

impl Default for RequestHead {
    fn default() -> Self {
        RequestHead {
            method: Span::default(),
            target: Span::default(),
            version: 1,
            headers: Vec::with_capacity(32),
            head_len: 0,
            body: BodyKind::None,
            keep_alive: true,
            expect_continue: false,
        }
    }
}

impl RequestHead {
    /// The first value of header `name` (case-insensitive), as bytes of `buf`.
    pub fn header<'a>(&self, buf: &'a [u8], name: &str) -> Option<&'a [u8]> {
        self.headers
            .iter()
            .find(|(n, _)| name_eq(n.get(buf), name))
            .map(|(_, v)| v.get(buf))
    }

    /// The path part of the target (before `?`).
    pub fn path<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        let t = self.target.get(buf);
        match memchr::memchr(b'?', t) {
            Some(q) => &t[..q],
            None => t,
        }
    }

    /// The query part of the target (after `?`), empty if none.
    pub fn query<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        let t = self.target.get(buf);
        match memchr::memchr(b'?', t) {
            Some(q) => &t[q + 1..],
            None => &[],
        }
    }
}

/// Parses a request head at the start of `buf`.
///
/// Returns `Ok(None)` while the head is incomplete (call again when more bytes
/// arrived), `Ok(Some(()))` once `head` is filled, or an error. A buffer that
/// holds more than [`MAX_HEAD_BYTES`] without a complete head is `TooLarge`.
pub fn parse_request_head(buf: &[u8], head: &mut RequestHead) -> Result<Option<()>, HeadError> {
    // Uninitialised header slots: zeroing 128 of them (4 KB) cost more than
    // parsing a typical head. httparse initialises the ones it fills.
    let mut raw = [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut []);
    let status = match req.parse_with_uninit_headers(buf, &mut raw) {
        Ok(s) => s,
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooLarge),
        Err(_) => return Err(HeadError::Invalid("malformed request head")),
    };
    let head_len = match status {
        httparse::Status::Complete(n) => n,
        httparse::Status::Partial => {
            return if buf.len() > MAX_HEAD_BYTES {
                Err(HeadError::TooLarge)
            } else {
                Ok(None)
            }
        }
    };
    if head_len > MAX_HEAD_BYTES {
        return Err(HeadError::TooLarge);
    }
    let (Some(method), Some(path), Some(version)) = (req.method, req.path, req.version) else {
        return Err(HeadError::Invalid("malformed request line"));
    };
    head.method = Span::of(buf, method.as_bytes());
    head.target = Span::of(buf, path.as_bytes());
    head.version = version;
    head.head_len = head_len;
    head.headers.clear();
    let mut content_length: Option<u64> = None;
    let mut chunked = false;
    let mut keep_alive = version == 1;
    let mut expect_continue = false;
    for h in req.headers.iter() {
        let name = h.name.as_bytes();
        head.headers
            .push((Span::of(buf, name), Span::of(buf, h.value)));
        // Dispatch on length first: most headers match none of the four.
        match name.len() {
            14 if name_eq(name, "content-length") => {
                let Some(n) = parse_content_length(h.value) else {
                    return Err(HeadError::Invalid("invalid content-length"));
                };
                if content_length.is_some_and(|c| c != n) {
                    return Err(HeadError::Invalid("conflicting content-length"));
                }
                content_length = Some(n);
            }
            17 if name_eq(name, "transfer-encoding") => {
                // Only a final `chunked` is supported; anything else cannot be framed.
                let last = h.value.rsplit(|&c| c == b',').next().unwrap_or(&[]);
                if super::trim(last).eq_ignore_ascii_case(b"chunked") {
                    chunked = true;
                } else {
                    return Err(HeadError::UnsupportedEncoding);
                }
            }
            10 if name_eq(name, "connection") => {
                if has_token(h.value, "close") {
                    keep_alive = false;
                } else if has_token(h.value, "keep-alive") {
                    keep_alive = true;
                }
            }
            6 if name_eq(name, "expect")
                && super::trim(h.value).eq_ignore_ascii_case(b"100-continue") =>
            {
                expect_continue = version == 1;
            }
            _ => {}
        }
    }
    if chunked && content_length.is_some() {
        // RFC 9112 §6.3: a message with both is a smuggling vector; refuse it.
        return Err(HeadError::Invalid(
            "both content-length and transfer-encoding",
        ));
    }
    head.body = if chunked {
        BodyKind::Chunked
    } else {
        match content_length {
            Some(0) | None => BodyKind::None,
            Some(n) => BodyKind::Length(n),
        }
    };
    head.keep_alive = keep_alive;
    head.expect_continue = expect_continue && head.body != BodyKind::None;
    Ok(Some(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A naive oracle: splits the head with string operations.
    type View = (String, String, Vec<(String, String)>, usize);

    fn oracle(input: &[u8]) -> Option<View> {
        let s = std::str::from_utf8(input).ok()?;
        let end = s.find("\r\n\r\n")? + 4;
        let mut lines = s[..end - 4].split("\r\n");
        let first = lines.next()?;
        let mut parts = first.split(' ');
        let m = parts.next()?.to_string();
        let p = parts.next()?.to_string();
        let hs = lines
            .map(|l| {
                let (n, v) = l.split_once(':').unwrap_or((l, ""));
                (n.to_string(), v.trim().to_string())
            })
            .collect();
        Some((m, p, hs, end))
    }

    fn view(buf: &[u8], h: &RequestHead) -> View {
        let s = |sp: Span| String::from_utf8_lossy(sp.get(buf)).into_owned();
        (
            s(h.method),
            s(h.target),
            h.headers.iter().map(|(n, v)| (s(*n), s(*v))).collect(),
            h.head_len,
        )
    }

    const CASES: &[&str] = &[
        "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        "POST /v1/chat/completions?key=abc HTTP/1.1\r\nHost: 127.0.0.1:8317\r\nAuthorization: Bearer sk-1\r\nContent-Type: application/json\r\nContent-Length: 17\r\nX-Stainless-Lang: python\r\n\r\n{\"model\":\"gpt-4\"}",
        "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "HEAD /healthz HTTP/1.0\r\n\r\n",
    ];

    #[test]
    fn whole_and_split_agree_with_oracle() {
        for case in CASES {
            let bytes = case.as_bytes();
            let want = oracle(bytes).expect("oracle");
            let mut h = RequestHead::default();
            assert_eq!(parse_request_head(bytes, &mut h), Ok(Some(())));
            assert_eq!(view(bytes, &h), want);
            // Every prefix shorter than the head is Partial; the full head parses the same.
            for cut in 0..=bytes.len() {
                let mut h2 = RequestHead::default();
                let r = parse_request_head(&bytes[..cut], &mut h2);
                if cut < want.3 {
                    assert_eq!(r, Ok(None), "cut {cut} of {case:?}");
                } else {
                    assert_eq!(r, Ok(Some(())));
                    assert_eq!(view(&bytes[..cut], &h2), want);
                }
            }
        }
    }

    #[test]
    fn framing() {
        let mut h = RequestHead::default();
        parse_request_head(CASES[1].as_bytes(), &mut h).unwrap();
        assert_eq!(h.body, BodyKind::Length(17));
        assert!(h.keep_alive && !h.expect_continue);
        assert_eq!(h.path(CASES[1].as_bytes()), b"/v1/chat/completions");
        assert_eq!(h.query(CASES[1].as_bytes()), b"key=abc");
        assert_eq!(
            h.header(CASES[1].as_bytes(), "AUTHORIZATION"),
            Some(&b"Bearer sk-1"[..])
        );
        parse_request_head(CASES[2].as_bytes(), &mut h).unwrap();
        assert_eq!(h.body, BodyKind::Chunked);
        assert!(h.expect_continue);
        parse_request_head(CASES[3].as_bytes(), &mut h).unwrap();
        assert!(!h.keep_alive);
        assert_eq!(h.version, 0);
    }

    #[test]
    fn errors() {
        let mut h = RequestHead::default();
        let e = |s: &str| parse_request_head(s.as_bytes(), &mut RequestHead::default());
        assert_eq!(
            e("GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n")
                .unwrap_err()
                .status(),
            400
        );
        assert_eq!(
            e("GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")
                .unwrap_err()
                .status(),
            400
        );
        assert_eq!(
            e("POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n")
                .unwrap_err()
                .status(),
            400
        );
        assert_eq!(
            e("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n")
                .unwrap_err()
                .status(),
            501
        );
        assert_eq!(e("GE T\0 / HTTP/1.1\r\n\r\n").unwrap_err().status(), 400);
        let many: String = std::iter::once("GET / HTTP/1.1\r\n".to_string())
            .chain((0..MAX_HEADERS + 1).map(|i| format!("h{i}: v\r\n")))
            .chain(std::iter::once("\r\n".to_string()))
            .collect();
        assert_eq!(e(&many).unwrap_err().status(), 431);
        let big = format!("GET / HTTP/1.1\r\nX: {}", "a".repeat(MAX_HEAD_BYTES + 1));
        assert_eq!(
            parse_request_head(big.as_bytes(), &mut h)
                .unwrap_err()
                .status(),
            431
        );
    }
}
