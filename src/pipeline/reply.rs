//! Writing responses cliproxy makes itself: JSON bodies, error shapes, CORS.

use crate::error::{Error, ErrorKind};
use crate::h1::encode;
use crate::translate::format::Format;

/// Headers every response carries (CLIProxyAPI's CORS middleware sets them on all routes).
pub const CORS_ORIGIN: (&str, &[u8]) = ("Access-Control-Allow-Origin", b"*");

/// Writes a complete JSON response into `out`. `head_only` omits the body (HEAD).
pub fn json(out: &mut Vec<u8>, status: u16, body: &[u8], head_only: bool, extra: &[(&str, &[u8])]) {
    json_forwarding(out, status, body, head_only, extra, &[]);
}

/// [`json`] plus the upstream header lines `fwd` (`passthrough-headers`),
/// none of which replaces a header written here.
pub fn json_forwarding(
    out: &mut Vec<u8>,
    status: u16,
    body: &[u8],
    head_only: bool,
    extra: &[(&str, &[u8])],
    fwd: &[u8],
) {
    let head_start = out.len();
    encode::status_line(out, status);
    encode::header(out, "Content-Type", b"application/json; charset=utf-8");
    encode::header(out, CORS_ORIGIN.0, CORS_ORIGIN.1);
    for (n, v) in extra {
        encode::header(out, n, v);
    }
    super::forward::passthrough::append(out, head_start, fwd);
    encode::content_length(out, body.len());
    out.extend_from_slice(b"\r\n");
    if !head_only {
        out.extend_from_slice(body);
    }
}

/// A plain-text response (gin's 404 is `404 page not found`).
pub fn text(out: &mut Vec<u8>, status: u16, body: &[u8], head_only: bool) {
    encode::status_line(out, status);
    encode::header(out, "Content-Type", b"text/plain");
    encode::header(out, CORS_ORIGIN.0, CORS_ORIGIN.1);
    encode::content_length(out, body.len());
    out.extend_from_slice(b"\r\n");
    if !head_only {
        out.extend_from_slice(body);
    }
}

/// A complete error response: the error model's status, media type and body
/// in `client`'s format, with the CORS header like every response.
pub fn error(
    out: &mut Vec<u8>,
    e: &Error,
    client: Format,
    head_only: bool,
    extra: &[(&str, &[u8])],
) {
    error_forwarding(out, e, client, head_only, extra, &[]);
}

/// [`error`] plus the upstream header lines `fwd` (`passthrough-headers`),
/// none of which replaces a header written here.
pub fn error_forwarding(
    out: &mut Vec<u8>,
    e: &Error,
    client: Format,
    head_only: bool,
    extra: &[(&str, &[u8])],
    fwd: &[u8],
) {
    let mut body = Vec::with_capacity(96 + e.message.len());
    e.write_body(client, &mut body);
    let head_start = out.len();
    encode::status_line(out, e.status());
    encode::header(out, "Content-Type", e.content_type());
    encode::header(out, CORS_ORIGIN.0, CORS_ORIGIN.1);
    for (n, v) in extra {
        encode::header(out, n, v);
    }
    super::forward::passthrough::append(out, head_start, fwd);
    encode::content_length(out, body.len());
    out.extend_from_slice(b"\r\n");
    if !head_only {
        out.extend_from_slice(&body);
    }
}

/// CLIProxyAPI's OpenAI-shaped error body for `status` (reference §1.4):
/// `{"error":{"message":..,"type":..,"code":..}}`.
pub fn openai_error_body(out: &mut Vec<u8>, status: u16, message: &str) {
    Error::new(ErrorKind::InvalidRequest { status }, message.to_owned())
        .write_body(Format::OpenAiChat, out);
}

/// An upstream error body as CLIProxyAPI returns it: passed through verbatim
/// when it is valid JSON, otherwise wrapped in the OpenAI error shape.
pub fn upstream_error_body(out: &mut Vec<u8>, status: u16, upstream: &[u8]) {
    let trimmed = crate::h1::trim(upstream);
    let trimmed = trim_ws(trimmed);
    if !trimmed.is_empty() && serde_json::from_slice::<serde::de::IgnoredAny>(trimmed).is_ok() {
        out.extend_from_slice(trimmed);
        return;
    }
    let text = String::from_utf8_lossy(trimmed);
    let msg = if text.is_empty() {
        encode::reason(status).to_string()
    } else {
        text.into_owned()
    };
    openai_error_body(out, status, &msg);
}

fn trim_ws(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t' | b'\r' | b'\n', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t' | b'\r' | b'\n'] = s {
        s = rest;
    }
    s
}

/// The unknown-model answer: `400` with CLIProxyAPI's `model_not_found` body.
pub fn unknown_model_body(out: &mut Vec<u8>, model: &str) {
    Error::new(ErrorKind::UnknownModel, model.to_owned()).write_body(Format::OpenAiChat, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_shapes() {
        let mut b = Vec::new();
        openai_error_body(&mut b, 429, "slow down");
        assert_eq!(b, br#"{"error":{"message":"slow down","type":"rate_limit_error","code":"rate_limit_exceeded"}}"#);
        b.clear();
        openai_error_body(&mut b, 400, "bad");
        assert_eq!(
            b,
            br#"{"error":{"message":"bad","type":"invalid_request_error"}}"#
        );
        b.clear();
        upstream_error_body(&mut b, 500, b" {\"x\":1}\n");
        assert_eq!(b, br#"{"x":1}"#);
        b.clear();
        upstream_error_body(&mut b, 502, b"<html>bad gateway</html>");
        assert_eq!(b, br#"{"error":{"message":"<html>bad gateway</html>","type":"server_error","code":"internal_server_error"}}"#);
        b.clear();
        unknown_model_body(&mut b, "m\"x");
        let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v["error"]["message"], "unknown provider for model m\"x");
        assert_eq!(v["error"]["code"], "model_not_found");
    }
}
