//! Response encoders: status lines, headers, chunk framing.

/// Reason phrase for the statuses cliproxy sends itself.
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

/// Appends `HTTP/1.1 <status> <reason>\r\n`.
pub fn status_line(out: &mut Vec<u8>, status: u16) {
    // Direct writes: `write!` costs ~500 instructions per response here.
    out.extend_from_slice(b"HTTP/1.1 ");
    crate::json::write::write_u64(out, u64::from(status));
    out.push(b' ');
    out.extend_from_slice(reason(status).as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Appends one header line.
pub fn header(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Appends `Content-Length: n\r\n`.
pub fn content_length(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(b"Content-Length: ");
    crate::json::write::write_u64(out, n as u64);
    out.extend_from_slice(b"\r\n");
}

/// Appends one chunk (`<hex len>\r\n<data>\r\n`). Empty data is skipped, since
/// an empty chunk would end the body.
pub fn chunk(out: &mut Vec<u8>, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    // The size in lowercase hex without leading zeros, written directly.
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let n = data.len() as u64;
    let digits = (64 - n.leading_zeros()).div_ceil(4) as usize;
    out.reserve(digits + data.len() + 4);
    for d in (0..digits).rev() {
        out.push(HEX[((n >> (d * 4)) & 15) as usize]);
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// A chunk written in place, for data produced straight into the output
/// buffer (a translator's output), so it is not copied once more into a
/// framed one. [`OpenChunk::open`] reserves a four-digit size line, the
/// data is appended behind it, [`OpenChunk::close`] writes the size in,
/// zero-padded (`chunk-size = 1*HEXDIG`: leading zeros are valid HTTP/1.1,
/// and every parser we test against reads them), and ends the chunk. Data
/// over 64 KiB widens the size line (its tail moves, rarely); no data
/// removes the chunk, since an empty chunk would end the body.
#[derive(Debug, Clone, Copy)]
pub struct OpenChunk(usize);

impl OpenChunk {
    const PLACEHOLDER: &'static [u8] = b"0000\r\n";

    /// Starts a chunk at the end of `out`.
    pub fn open(out: &mut Vec<u8>) -> OpenChunk {
        let at = out.len();
        out.extend_from_slice(Self::PLACEHOLDER);
        OpenChunk(at)
    }

    /// Whether nothing was written into the chunk yet.
    pub fn is_empty(self, out: &[u8]) -> bool {
        out.len() <= self.0 + Self::PLACEHOLDER.len()
    }

    /// Fills the size in and ends the chunk (or drops it when empty).
    pub fn close(self, out: &mut Vec<u8>) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let at = self.0;
        let Some(n) = out.len().checked_sub(at + Self::PLACEHOLDER.len()) else {
            return;
        };
        if n == 0 {
            out.truncate(at);
            return;
        }
        let digits = ((64 - (n as u64).leading_zeros()).div_ceil(4) as usize).max(4);
        if digits > 4 {
            out.splice(at..at, std::iter::repeat_n(b'0', digits - 4));
        }
        for (d, slot) in out[at..at + digits].iter_mut().rev().enumerate() {
            *slot = HEX[(n >> (d * 4)) & 15];
        }
        out.extend_from_slice(b"\r\n");
    }
}

/// The terminating chunk of a chunked body.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// A complete response with a JSON body.
pub fn json_response(
    out: &mut Vec<u8>,
    status: u16,
    body: &[u8],
    keep_alive: bool,
    extra: &[(&str, &[u8])],
) {
    status_line(out, status);
    header(out, "Content-Type", b"application/json");
    for (n, v) in extra {
        header(out, n, v);
    }
    content_length(out, body.len());
    if !keep_alive {
        header(out, "Connection", b"close");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_length_digits() {
        for n in [
            0usize,
            1,
            9,
            10,
            99,
            100,
            12345,
            u32::MAX as usize,
            usize::MAX,
        ] {
            let mut o = Vec::new();
            content_length(&mut o, n);
            assert_eq!(o, format!("Content-Length: {n}\r\n").as_bytes());
        }
    }

    #[test]
    fn encodes() {
        let mut o = Vec::new();
        json_response(&mut o, 401, br#"{"error":"Missing API key"}"#, true, &[]);
        assert_eq!(
            o,
            b"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: 27\r\n\r\n{\"error\":\"Missing API key\"}"
        );
        let mut c = Vec::new();
        chunk(&mut c, b"hello world, hello world");
        chunk(&mut c, b"");
        assert_eq!(c, b"18\r\nhello world, hello world\r\n");
    }

    /// The direct digit writers agree with `format!` on every width.
    #[test]
    fn numbers_match_format() {
        for status in [100u16, 200, 204, 404, 599, 999, 0, 7] {
            let mut o = Vec::new();
            status_line(&mut o, status);
            assert_eq!(
                o,
                format!("HTTP/1.1 {status} {}\r\n", reason(status)).as_bytes()
            );
        }
        let mut sizes = vec![0usize, 1, 9, 10, 15, 16, 255, 256, 4095, 4096, 65535, 65536];
        sizes.extend((0..64).map(|s| 1usize << s.min(usize::BITS - 1)));
        for n in sizes {
            let mut o = Vec::new();
            content_length(&mut o, n);
            assert_eq!(o, format!("Content-Length: {n}\r\n").as_bytes());
        }
        for n in [1usize, 9, 10, 15, 16, 17, 255, 256, 4096, 70000] {
            let data = vec![b'x'; n];
            let mut o = Vec::new();
            chunk(&mut o, &data);
            let mut want = format!("{n:x}\r\n").into_bytes();
            want.extend_from_slice(&data);
            want.extend_from_slice(b"\r\n");
            assert_eq!(o, want);
        }
    }

    /// A chunk written in place frames its data like [`chunk`] but with a
    /// size zero-padded to four digits (wider past 64 KiB), keeps what was
    /// in the buffer before it, drops itself when nothing was written, and
    /// decodes back to the data with our chunked decoder.
    #[test]
    fn open_chunk_frames_in_place() {
        for n in [
            0usize,
            1,
            9,
            15,
            16,
            255,
            256,
            4095,
            4096,
            65535,
            65536,
            70000,
            1 << 20,
        ] {
            let data: Vec<u8> = (0..n).map(|i| b'a' + (i % 26) as u8).collect();
            let mut o = b"HTTP/1.1 200 OK\r\n\r\n".to_vec();
            let before = o.len();
            let c = OpenChunk::open(&mut o);
            assert!(c.is_empty(&o));
            o.extend_from_slice(&data);
            assert_eq!(c.is_empty(&o), n == 0);
            c.close(&mut o);
            let mut want = b"HTTP/1.1 200 OK\r\n\r\n".to_vec();
            if n > 0 {
                want.extend_from_slice(format!("{n:04x}\r\n").as_bytes());
                want.extend_from_slice(&data);
                want.extend_from_slice(b"\r\n");
            }
            assert_eq!(o, want, "n = {n}");
            o.extend_from_slice(LAST_CHUNK);
            let mut got = Vec::new();
            let mut dec = crate::h1::ChunkedDecoder::new();
            let p = dec
                .feed(&o[before..], |d| got.extend_from_slice(d))
                .expect("our framing decodes");
            assert!(p.done, "n = {n}");
            assert_eq!(got, data, "n = {n}");
        }
    }
}
