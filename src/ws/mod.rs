//! WebSocket (RFC 6455) wire code with no I/O: the opening handshake
//! checks and accept key, the frame codec ([`frame`]) and the bridge that
//! turns the HTTP answers of the request path into Responses WebSocket
//! events ([`bridge`]). The session loop that uses them is
//! `pipeline::responses_ws`.

pub mod bridge;
pub mod frame;

use crate::h1;
use crate::server::Request;

/// The GUID every accept key is derived with (RFC 6455 §1.3).
const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Whether the request asks for a WebSocket upgrade (`Upgrade: websocket`).
pub fn wants_upgrade(req: &Request<'_>) -> bool {
    req.header("upgrade")
        .is_some_and(|v| h1::has_token(v, "websocket"))
}

/// Checks an upgrade request (RFC 6455 §4.2.1) and returns the
/// `Sec-WebSocket-Accept` value, or what is wrong with it.
pub fn accept_key(req: &Request<'_>) -> Result<Vec<u8>, &'static str> {
    if req.method() != b"GET" {
        return Err("websocket: the client is not using the GET method");
    }
    if !req
        .header("connection")
        .is_some_and(|v| h1::has_token(v, "upgrade"))
    {
        return Err("websocket: 'upgrade' token not found in 'Connection' header");
    }
    if !wants_upgrade(req) {
        return Err("websocket: 'websocket' token not found in 'Upgrade' header");
    }
    if req.header("sec-websocket-version").map(h1::trim) != Some(b"13") {
        return Err(
            "websocket: unsupported version: 13 not found in 'Sec-Websocket-Version' header",
        );
    }
    let key = req.header("sec-websocket-key").map(h1::trim).unwrap_or(b"");
    if key.len() != 24 {
        return Err("websocket: not a websocket handshake: 'Sec-WebSocket-Key' header must be Base64 encoded value of 16-byte in length");
    }
    Ok(accept_for(key))
}

/// `base64(sha1(key + GUID))`.
pub fn accept_for(key: &[u8]) -> Vec<u8> {
    use sha1::{Digest, Sha1};
    let mut h = Sha1::new();
    h.update(key);
    h.update(GUID);
    let digest = h.finalize();
    let mut out = Vec::with_capacity(28);
    crate::upstream::proxy::base64_into(&digest, &mut out);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn accept_key_matches_rfc6455_example() {
        // RFC 6455 §1.3.
        assert_eq!(
            super::accept_for(b"dGhlIHNhbXBsZSBub25jZQ=="),
            b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }
}
