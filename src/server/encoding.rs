//! `Content-Encoding` of request bodies, as CLIProxyAPI reads them
//! (`sdk/api/handlers/request_body.go`): empty/`identity` pass through,
//! `zstd` (Codex CLI) is decoded once, before routing and parsing, with the
//! body limit applied to the decoded size; any other coding is rejected with
//! 400 `Invalid request: ...` unless the raw body is valid JSON anyway (then
//! it passes raw, as CLIProxyAPI does).

use ruzstd::decoding::StreamingDecoder;
use std::borrow::Cow;
use std::io::Read;

/// Why a body could not be decoded: the status and the client message.
pub type DecodeError = (u16, Cow<'static, str>);

/// Decodes the body of `buf` (bytes from `body_start` on) in place per the
/// `Content-Encoding` value `enc`; the head bytes are left untouched.
pub fn decode_body(
    buf: &mut Vec<u8>,
    body_start: usize,
    enc: Option<&[u8]>,
    limit: usize,
) -> Result<(), DecodeError> {
    let Some(enc) = enc else { return Ok(()) };
    let codings = || {
        enc.split(|&b| b == b',')
            .map(|t| t.trim_ascii())
            .filter(|t| !t.is_empty() && !t.eq_ignore_ascii_case(b"identity"))
    };
    if codings().next().is_none() {
        return Ok(());
    }
    // Applied in order, so decoded last-to-first.
    let mut body: Option<Vec<u8>> = None;
    let mut failure = None;
    for coding in codings().collect::<Vec<_>>().into_iter().rev() {
        if !coding.eq_ignore_ascii_case(b"zstd") {
            let name = String::from_utf8_lossy(coding).to_ascii_lowercase();
            failure = Some(format!(
                "Invalid request: unsupported request content encoding: {name}"
            ));
            break;
        }
        let src = body.as_deref().unwrap_or(&buf[body_start..]);
        match zstd_decode(src, limit) {
            Ok(d) => body = Some(d),
            Err(Zstd::TooLarge) => return Err((413, Cow::Borrowed("request body too large"))),
            Err(Zstd::Corrupt(e)) => {
                failure = Some(format!(
                    "Invalid request: failed to decode zstd request body: {e}"
                ));
                break;
            }
        }
    }
    if let Some(msg) = failure {
        if crate::json::span::is_valid(&buf[body_start..]) {
            return Ok(());
        }
        return Err((400, Cow::Owned(msg)));
    }
    if let Some(d) = body {
        buf.truncate(body_start);
        buf.extend_from_slice(&d);
    }
    Ok(())
}

enum Zstd {
    TooLarge,
    Corrupt(String),
}

/// Stream-decodes every zstd frame of `src`; the output never grows (nor is
/// allocated) past `limit` bytes: one more decoded byte is a `TooLarge`.
fn zstd_decode(mut src: &[u8], limit: usize) -> Result<Vec<u8>, Zstd> {
    let mut out: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    if src.is_empty() {
        return Err(Zstd::Corrupt("empty body".into()));
    }
    while !src.is_empty() {
        let mut dec = StreamingDecoder::new(&mut src).map_err(|e| Zstd::Corrupt(e.to_string()))?;
        loop {
            let n = dec
                .read(&mut chunk)
                .map_err(|e| Zstd::Corrupt(e.to_string()))?;
            if n == 0 {
                break;
            }
            let need = out.len() + n;
            if need > limit {
                return Err(Zstd::TooLarge);
            }
            if need > out.capacity() {
                let cap = (out.capacity() * 2).max(need).min(limit);
                out.reserve_exact(cap - out.len());
            }
            out.extend_from_slice(&chunk[..n]);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ruzstd::encoding::{compress_to_vec, CompressionLevel};

    fn req(body: &[u8]) -> Vec<u8> {
        let mut b = b"HEAD".to_vec();
        b.extend_from_slice(body);
        b
    }

    #[test]
    fn zstd_round_trip_and_identity() {
        let plain = br#"{"model":"m","messages":[{"role":"user","content":"hi hi hi hi"}]}"#;
        let mut two = compress_to_vec(&plain[..10], CompressionLevel::Fastest);
        two.extend(compress_to_vec(&plain[10..], CompressionLevel::Fastest));
        for (enc, body) in [
            (
                &b"zstd"[..],
                compress_to_vec(&plain[..], CompressionLevel::Fastest),
            ),
            (
                b" ZSTD , identity",
                compress_to_vec(&plain[..], CompressionLevel::Fastest),
            ),
            (b"zstd", two),
            (b"identity", plain.to_vec()),
            (b"", plain.to_vec()),
        ] {
            let mut b = req(&body);
            decode_body(&mut b, 4, Some(enc), 1 << 20)
                .map_err(|e| e.1)
                .unwrap();
            assert_eq!(&b[..4], b"HEAD");
            assert_eq!(&b[4..], &plain[..], "{}", String::from_utf8_lossy(enc));
        }
    }

    /// Whole vs split at every byte into two frames: the decoder joins
    /// concatenated frames into the same body.
    #[test]
    fn frames_split_at_every_byte() {
        let plain = br#"{"input":"zstd \u00e9 split","n":[1,2,3]}"#;
        for i in 0..=plain.len() {
            let mut z = compress_to_vec(&plain[..i], CompressionLevel::Fastest);
            z.extend(compress_to_vec(&plain[i..], CompressionLevel::Fastest));
            let mut b = req(&z);
            decode_body(&mut b, 4, Some(b"zstd"), plain.len())
                .map_err(|e| e.1)
                .unwrap();
            assert_eq!(&b[4..], &plain[..], "split at {i}");
            let mut b = req(&z);
            let e = decode_body(&mut b, 4, Some(b"zstd"), plain.len() - 1);
            assert_eq!(e.map_err(|e| e.0), Err(413), "split at {i}");
        }
    }

    #[test]
    fn limit_applies_to_decoded_size() {
        let plain = vec![b'a'; 100_000];
        let z = compress_to_vec(&plain[..], CompressionLevel::Fastest);
        assert!(z.len() < 10_000);
        let mut b = req(&z);
        assert_eq!(
            decode_body(&mut b, 4, Some(b"zstd"), 99_999).map_err(|e| e.0),
            Err(413)
        );
        let mut b = req(&z);
        assert!(decode_body(&mut b, 4, Some(b"zstd"), 100_000).is_ok());
        assert_eq!(b.len(), 100_004);
    }

    #[test]
    fn corrupt_and_unsupported() {
        let mut b = req(b"\x28\xb5\x2f\xfd garbage");
        let e = decode_body(&mut b, 4, Some(b"zstd"), 1 << 20).unwrap_err();
        assert_eq!(e.0, 400);
        assert!(
            e.1.starts_with("Invalid request: failed to decode zstd"),
            "{}",
            e.1
        );
        let mut b = req(b"\x1f\x8b\x08\x00");
        let e = decode_body(&mut b, 4, Some(b"gzip"), 1 << 20).unwrap_err();
        assert_eq!(
            (e.0, &*e.1),
            (
                400,
                "Invalid request: unsupported request content encoding: gzip"
            )
        );
        // A mislabelled body that is valid JSON passes raw (CLIProxyAPI).
        let mut b = req(br#"{"a":1}"#);
        assert!(decode_body(&mut b, 4, Some(b"br"), 1 << 20).is_ok());
        assert_eq!(&b[4..], br#"{"a":1}"#);
    }
}
