//! Response-head parsing (for upstream responses) into offsets.

use super::{has_token, name_eq, parse_content_length, Span, MAX_HEADERS, MAX_HEAD_BYTES};

/// How an upstream response body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RespBody {
    /// No body (HEAD, 1xx, 204, 304, or `Content-Length: 0`).
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked.
    Chunked,
    /// Until the connection closes.
    Close,
}

/// A parsed response head.
#[derive(Debug, Clone, Default)]
pub struct ResponseHead {
    /// Status code.
    pub status: u16,
    /// Header (name, value) pairs.
    pub headers: Vec<(Span, Span)>,
    /// Bytes taken by the head.
    pub head_len: usize,
    /// Body framing (`None` until parsed).
    pub body: Option<RespBody>,
    /// The server allows reuse of the connection.
    pub keep_alive: bool,
}

impl ResponseHead {
    /// First value of header `name` (case-insensitive).
    pub fn header<'a>(&self, buf: &'a [u8], name: &str) -> Option<&'a [u8]> {
        self.headers
            .iter()
            .find(|(n, _)| name_eq(n.get(buf), name))
            .map(|(_, v)| v.get(buf))
    }
}

/// Parses a response head at the start of `buf`; `Ok(None)` while incomplete.
/// `head_request` marks a response to HEAD (no body whatever the headers say).
pub fn parse_response_head(
    buf: &[u8],
    head_request: bool,
    head: &mut ResponseHead,
) -> Result<Option<()>, &'static str> {
    // Uninitialised header slots, as in `parse_request_head`.
    let mut raw = [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut []);
    let n = match httparse::ParserConfig::default()
        .parse_response_with_uninit_headers(&mut resp, buf, &mut raw)
    {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            return if buf.len() > MAX_HEAD_BYTES {
                Err("upstream response head too large")
            } else {
                Ok(None)
            }
        }
        Err(_) => return Err("malformed upstream response head"),
    };
    let status = resp.code.unwrap_or(0);
    let version = resp.version.unwrap_or(1);
    head.status = status;
    head.head_len = n;
    head.headers.clear();
    // One allocation sized to the head (a fresh head's `Vec` would grow
    // 4 → 8 → 16 through reallocations).
    head.headers.reserve(resp.headers.len());
    let mut len = None;
    let mut chunked = false;
    let mut keep_alive = version == 1;
    for h in resp.headers.iter() {
        let name = h.name.as_bytes();
        head.headers
            .push((Span::of(buf, name), Span::of(buf, h.value)));
        if name_eq(name, "content-length") {
            len = Some(parse_content_length(h.value).ok_or("invalid upstream content-length")?);
        } else if name_eq(name, "transfer-encoding") {
            chunked = has_token(h.value, "chunked");
        } else if name_eq(name, "connection") {
            if has_token(h.value, "close") {
                keep_alive = false;
            } else if has_token(h.value, "keep-alive") {
                keep_alive = true;
            }
        }
    }
    let body = if head_request || (100..200).contains(&status) || status == 204 || status == 304 {
        RespBody::Empty
    } else if chunked {
        RespBody::Chunked
    } else {
        match len {
            Some(0) => RespBody::Empty,
            Some(n) => RespBody::Length(n),
            None => RespBody::Close,
        }
    };
    if body == RespBody::Close {
        keep_alive = false;
    }
    head.body = Some(body);
    head.keep_alive = keep_alive;
    Ok(Some(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_and_split() {
        let cases: &[(&[u8], u16, RespBody, bool)] = &[
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
                200,
                RespBody::Length(5),
                true,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                200,
                RespBody::Chunked,
                true,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n",
                200,
                RespBody::Close,
                false,
            ),
            (
                b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n",
                204,
                RespBody::Empty,
                false,
            ),
            (
                b"HTTP/1.0 429 Too Many\r\nContent-Length: 2\r\n\r\n{}",
                429,
                RespBody::Length(2),
                false,
            ),
        ];
        for (bytes, status, body, ka) in cases {
            let end = crate::h1::find_head_end(bytes, 0).unwrap();
            for cut in 0..=bytes.len() {
                let mut h = ResponseHead::default();
                let r = parse_response_head(&bytes[..cut], false, &mut h).unwrap();
                if cut < end {
                    assert!(r.is_none());
                } else {
                    assert!(r.is_some());
                    assert_eq!(
                        (h.status, h.body, h.keep_alive, h.head_len),
                        (*status, Some(*body), *ka, end)
                    );
                }
            }
        }
    }

    /// A head's header list is sized once: every header kept, in order, and
    /// a fresh head's list holds exactly as many as the head has (no growth
    /// by doubling through reallocations); a reused head keeps its room.
    #[test]
    fn header_list_sized_once() {
        let bytes: &[u8] = b"HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: x\r\nContent-Type: a/b\r\n\
            Content-Length: 2\r\nConnection: keep-alive\r\n\r\n{}";
        let mut h = ResponseHead::default();
        assert!(parse_response_head(bytes, false, &mut h).unwrap().is_some());
        let names: Vec<&[u8]> = h.headers.iter().map(|(n, _)| n.get(bytes)).collect();
        assert_eq!(
            names,
            [
                &b"Server"[..],
                b"Date",
                b"Content-Type",
                b"Content-Length",
                b"Connection"
            ]
        );
        assert_eq!(h.headers.capacity(), 5);
        assert_eq!(h.header(bytes, "content-type"), Some(&b"a/b"[..]));
        // Parsed again into the same head: same headers, no new room needed.
        let cap = h.headers.capacity();
        assert!(parse_response_head(bytes, false, &mut h).unwrap().is_some());
        assert_eq!((h.headers.len(), h.headers.capacity()), (5, cap));
    }
}
