//! The Codex Responses WebSocket upstream transport (CLIProxyAPI's
//! `codex_websockets_executor`): used when the client came over the
//! Responses WebSocket and the chosen Codex entry or account has
//! `websockets: true`.
//!
//! [`send`] takes the HTTP/1.1 request the pipeline prepared for the SSE
//! path and turns it into a WebSocket exchange on a connection of its own:
//! the request head becomes the opening handshake (`GET`, same path and
//! headers, `OpenAI-Beta: responses_websockets=2026-02-06`, no body headers),
//! and the body goes as one masked `response.create` text message. The
//! answer is a [`super::Response`] whose body yields each text frame as an
//! SSE event (`event: <type>\ndata: <json>\n\n`), so every stage after the
//! send (relays, translation, the client bridge) reads it like the SSE
//! upstream's. A terminal event (`response.completed`, `response.done`
//! renamed to it, `response.failed`, `response.incomplete`, `error`) ends
//! the body; a close or EOF before one is a broken stream.

use super::{
    connect, Endpoint, Proxy, Stream, UpstreamError, BODY_IDLE_TIMEOUT, FIRST_BYTE_TIMEOUT,
};
use crate::h1::{self, ResponseHead};
use crate::ws::frame::{self, op, Decoder, Message};
use std::io;
use std::sync::Arc;

/// The beta flag CLIProxyAPI (and Codex CLI) send on the upgrade.
pub const BETA: &[u8] = b"responses_websockets=2026-02-06";

/// Largest upstream event accepted (one `response.completed` carries the
/// whole output).
const MAX_MESSAGE: usize = 64 * 1024 * 1024;

/// Request headers not carried onto the upgrade: body framing, content
/// negotiation of the SSE answer, hop-by-hop, and the ones set here.
const DROPPED: [&str; 11] = [
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "accept",
    "accept-encoding",
    "openai-beta",
    "sec-websocket-key",
    "sec-websocket-version",
];

/// The body of an accepted upstream WebSocket.
pub(super) struct WsBody {
    stream: Stream,
    /// The 101 head; spans point into `head_buf`.
    pub(super) head: ResponseHead,
    pub(super) head_buf: Vec<u8>,
    /// Frame bytes received and not yet decoded.
    buf: Vec<u8>,
    decoder: Decoder,
}

/// The upgrade request and the `response.create` message built from an
/// HTTP/1.1 request with a `Content-Length` body, and the key sent.
/// `beta_features` becomes `X-Codex-Beta-Features` unless the request
/// already carries one (a file's `headers`).
pub fn upgrade_parts(
    request: &[u8],
    key: &[u8],
    beta_features: Option<&[u8]>,
) -> Result<(Vec<u8>, Vec<u8>), String> {
    let mut raw = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut raw);
    let head_len = match req.parse(request) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Err("incomplete request head".into()),
        Err(e) => return Err(format!("bad request head: {e}")),
    };
    let path = req.path.unwrap_or("/");
    let mut up = Vec::with_capacity(head_len + 160);
    up.extend_from_slice(b"GET ");
    up.extend_from_slice(path.as_bytes());
    up.extend_from_slice(b" HTTP/1.1\r\n");
    let mut beta: &[u8] = BETA;
    let mut beta_features = beta_features.filter(|v| !v.is_empty());
    for h in req.headers.iter() {
        if h.name.eq_ignore_ascii_case("x-codex-beta-features") {
            beta_features = None;
        }
        if h.name.eq_ignore_ascii_case("openai-beta")
            && memchr::memmem::find(h.value, b"responses_websockets=").is_some()
        {
            beta = h.value;
        }
        if DROPPED.iter().any(|d| h.name.eq_ignore_ascii_case(d)) {
            continue;
        }
        h1::encode::header(&mut up, h.name, h.value);
    }
    h1::encode::header(&mut up, "OpenAI-Beta", beta);
    if let Some(v) = beta_features {
        h1::encode::header(&mut up, "X-Codex-Beta-Features", v);
    }
    up.extend_from_slice(
        b"Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n",
    );
    h1::encode::header(&mut up, "Sec-WebSocket-Key", key);
    up.extend_from_slice(b"\r\n");
    let body = &request[head_len..];
    Ok((up, create_message(body)))
}

/// `body` (a JSON object) as a `response.create` message: `"type"` first,
/// every other member as it was (a `type` member of the body is dropped,
/// as CLIProxyAPI's overwrite does).
pub fn create_message(body: &[u8]) -> Vec<u8> {
    use crate::json::span;
    let mut out = Vec::with_capacity(body.len() + 32);
    out.extend_from_slice(br#"{"type":"response.create""#);
    let start = body.iter().position(|b| !b.is_ascii_whitespace());
    if let Some(i) = start.filter(|&i| body[i] == b'{') {
        span::visit_object(body, i, |k, vs| {
            let end = span::skip_value(body, vs);
            if k != b"type" {
                if let Some(e) = end {
                    // The key's bytes as they were (escapes included).
                    out.extend_from_slice(b",\"");
                    out.extend_from_slice(k);
                    out.extend_from_slice(b"\":");
                    out.extend_from_slice(&body[vs..e]);
                }
            }
            span::step(end)
        });
    }
    out.push(b'}');
    out
}

/// Opens a WebSocket to `ep` (through `proxy`), sends `request` (the
/// prepared HTTP/1.1 request) as the handshake and one `response.create`
/// message, and waits for the upgrade answer. Failures before the answer
/// are errors the pipeline fails over on, like a connect error.
///
/// `Some`: the upstream accepted the upgrade (a 101 answer: events follow)
/// or refused it with an HTTP answer the pipeline reads as any error
/// answer. `None`: `426 Upgrade Required`, after which CLIProxyAPI falls
/// back to the HTTP (SSE) request; the caller sends `request` that way.
pub async fn send(
    tls: &Arc<rustls::ClientConfig>,
    ep: &Endpoint,
    proxy: Option<&Proxy>,
    request: &[u8],
    beta_features: Option<&[u8]>,
) -> Result<Option<super::Response>, UpstreamError> {
    let mut key_raw = [0u8; 16];
    crate::random::random_bytes(&mut key_raw);
    let mut key = Vec::with_capacity(24);
    super::proxy::base64_into(&key_raw, &mut key);
    let (upgrade, message) =
        upgrade_parts(request, &key, beta_features).map_err(UpstreamError::Protocol)?;
    // The TLS config without `h2` in ALPN: an upgrade is HTTP/1.1 only.
    let mut stream = connect(ep, proxy, tls, tls).await?;
    let (w, _) = stream.write_all(upgrade).await;
    w.map_err(|e| UpstreamError::Protocol(e.to_string()))?;
    let (head, mut buf) =
        match monoio::time::timeout(FIRST_BYTE_TIMEOUT, read_head(&mut stream)).await {
            Err(_) => return Err(UpstreamError::Timeout),
            Ok(r) => r?,
        };
    match head.status {
        101 => {}
        426 => return Ok(None),
        _ => {
            // An HTTP answer (401, 429, ...): read like any error answer.
            return Ok(Some(super::h1_response(
                stream,
                super::PoolKey::new(ep, proxy),
                head,
                buf,
            )));
        }
    }
    let accept = head.header(&buf[..head.head_len], "sec-websocket-accept");
    if accept.map(h1::trim) != Some(&crate::ws::accept_for(&key)[..]) {
        return Err(UpstreamError::Protocol(
            "upstream websocket: bad Sec-WebSocket-Accept".into(),
        ));
    }
    let rest = buf.split_off(head.head_len);
    let mut frame = Vec::with_capacity(message.len() + 14);
    frame::encode_masked(&mut frame, op::TEXT, &message, mask());
    let (w, _) = stream.write_all(frame).await;
    w.map_err(|e| UpstreamError::Protocol(e.to_string()))?;
    Ok(Some(super::Response {
        body: super::Body::Ws(Box::new(WsBody {
            stream,
            head,
            head_buf: buf,
            buf: rest,
            decoder: Decoder::for_client(MAX_MESSAGE),
        })),
        done: false,
    }))
}

fn mask() -> [u8; 4] {
    let mut m = [0u8; 4];
    crate::random::random_bytes(&mut m);
    m
}

/// Reads the answer head to the upgrade (a `101` is final here, unlike on
/// the SSE path, which skips interim answers).
async fn read_head(stream: &mut Stream) -> Result<(ResponseHead, Vec<u8>), UpstreamError> {
    let mut buf = Vec::with_capacity(4096);
    let mut head = ResponseHead::default();
    loop {
        let n = stream
            .read_into(&mut buf)
            .await
            .map_err(|e| UpstreamError::Protocol(e.to_string()))?;
        if n == 0 {
            return Err(UpstreamError::Protocol(
                "upstream closed the connection before answering the websocket upgrade".into(),
            ));
        }
        match h1::parse_response_head(&buf, false, &mut head) {
            Ok(Some(())) if head.status == 101 || head.status >= 200 => return Ok((head, buf)),
            Ok(Some(())) => {
                buf.drain(..head.head_len);
            }
            Ok(None) => {}
            Err(m) => return Err(UpstreamError::Protocol(m.into())),
        }
    }
}

/// Whether an event type ends the response.
fn terminal(ty: &[u8]) -> bool {
    matches!(
        ty,
        b"response.completed"
            | b"response.done"
            | b"response.failed"
            | b"response.incomplete"
            | b"error"
    )
}

/// Appends a text message as one SSE event; `true` when it was terminal.
/// `response.done` is renamed `response.completed` (CLIProxyAPI's
/// normalisation); an `error` frame's `status` is kept for the decoder.
pub fn event_to_sse(out: &mut Vec<u8>, text: &[u8]) -> bool {
    let data = text.trim_ascii();
    if data.is_empty() {
        return false;
    }
    let ty = crate::json::span::get_str(data, b"type").unwrap_or(b"message");
    if ty == b"response.done" {
        // `"type":"response.done"` is the member just read; rewrite its value.
        let mut fixed = Vec::with_capacity(data.len() + 8);
        let at = memchr::memmem::find(data, b"\"response.done\"").unwrap_or(data.len());
        fixed.extend_from_slice(&data[..at]);
        if at < data.len() {
            fixed.extend_from_slice(b"\"response.completed\"");
            fixed.extend_from_slice(&data[at + b"\"response.done\"".len()..]);
        }
        crate::sse::write::write_event(out, Some(b"response.completed"), &fixed);
        return true;
    }
    crate::sse::write::write_event(out, Some(ty), data);
    terminal(ty)
}

impl WsBody {
    /// See [`super::Response::read_body`]: the next event as SSE bytes.
    pub(super) async fn read(&mut self, out: &mut Vec<u8>, done: &mut bool) -> io::Result<bool> {
        loop {
            if *done {
                return Ok(false);
            }
            let next = self.decoder.next(&self.buf).map_err(|f| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("upstream websocket: {}", f.reason),
                )
            })?;
            if let Some((n, msg)) = next {
                self.buf.drain(..n);
                match msg {
                    None | Some(Message::Pong) => {}
                    Some(Message::Text(t)) => {
                        let before = out.len();
                        if event_to_sse(out, &t) {
                            *done = true;
                            self.close().await;
                        }
                        if out.len() > before {
                            return Ok(true);
                        }
                    }
                    Some(Message::Binary(_)) => {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "upstream websocket: unexpected binary message",
                        ))
                    }
                    Some(Message::Ping(p)) => {
                        let mut f = Vec::with_capacity(p.len() + 6);
                        frame::encode_masked(&mut f, op::PONG, &p, mask());
                        let (w, _) = self.stream.write_all(f).await;
                        w?;
                    }
                    Some(Message::Close(code, _)) => {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            format!(
                                "upstream websocket closed mid-response ({})",
                                code.unwrap_or(1005)
                            ),
                        ))
                    }
                }
                continue;
            }
            let n = match monoio::time::loop_timeout(
                BODY_IDLE_TIMEOUT,
                self.stream.read_into(&mut self.buf),
            )
            .await
            {
                Ok(r) => r?,
                Err(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "upstream websocket stalled",
                    ))
                }
            };
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "upstream websocket closed mid-response",
                ));
            }
        }
    }

    /// Sends a normal close once the response is whole (best effort: the
    /// connection is dropped right after).
    async fn close(&mut self) {
        let mut f = Vec::with_capacity(8);
        let mut payload = Vec::with_capacity(2);
        payload.extend_from_slice(&frame::close::NORMAL.to_be_bytes());
        frame::encode_masked(&mut f, op::CLOSE, &payload, mask());
        let _ = self.stream.write_all(f).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `codex-header-defaults.beta-features` goes on the upgrade unless the
    /// request already has the header (a file's `headers` win).
    #[test]
    fn beta_features_are_added_unless_the_request_has_them() {
        let head = |extra: &str| {
            format!("POST /backend-api/codex/responses HTTP/1.1\r\nHost: chatgpt.com\r\n{extra}Content-Length: 2\r\n\r\n{{}}")
                .into_bytes()
        };
        let (up, _) = upgrade_parts(&head(""), b"k", Some(b"feature-a,feature-b")).unwrap();
        let up = String::from_utf8(up).unwrap();
        assert!(
            up.contains("X-Codex-Beta-Features: feature-a,feature-b\r\n"),
            "{up}"
        );
        let (up, _) =
            upgrade_parts(&head("X-Codex-Beta-Features: file\r\n"), b"k", Some(b"cfg")).unwrap();
        let up = String::from_utf8(up).unwrap();
        assert!(up.contains("X-Codex-Beta-Features: file\r\n"), "{up}");
        assert!(!up.contains("cfg"), "{up}");
        let (up, _) = upgrade_parts(&head(""), b"k", Some(b"")).unwrap();
        assert!(!String::from_utf8(up).unwrap().contains("Beta-Features"));
    }

    #[test]
    fn upgrade_keeps_headers_and_drops_body_framing() {
        let body = br#"{"model":"gpt-5","stream":true,"input":[{"type":"message"}],"type":"x"}"#;
        let mut req = Vec::new();
        req.extend_from_slice(b"POST /backend-api/codex/responses HTTP/1.1\r\nHost: chatgpt.com\r\nAuthorization: Bearer sk-1\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\nOpenAI-Beta: responses=experimental\r\nChatgpt-Account-Id: acct\r\n");
        req.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
        req.extend_from_slice(body);
        let (up, msg) = upgrade_parts(&req, b"dGhlIHNhbXBsZSBub25jZQ==", None).unwrap();
        assert!(!String::from_utf8_lossy(&up).contains("X-Codex-Beta-Features"));
        let up = String::from_utf8(up).unwrap();
        assert!(
            up.starts_with("GET /backend-api/codex/responses HTTP/1.1\r\n"),
            "{up}"
        );
        for want in [
            "Host: chatgpt.com\r\n",
            "Authorization: Bearer sk-1\r\n",
            "Chatgpt-Account-Id: acct\r\n",
            "OpenAI-Beta: responses_websockets=2026-02-06\r\n",
            "Upgrade: websocket\r\n",
            "Connection: Upgrade\r\n",
            "Sec-WebSocket-Version: 13\r\n",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
        ] {
            assert!(up.contains(want), "missing {want:?} in {up}");
        }
        for gone in [
            "Content-Length",
            "Content-Type",
            "Accept:",
            "responses=experimental",
        ] {
            assert!(!up.contains(gone), "{gone} kept in {up}");
        }
        assert!(up.ends_with("\r\n\r\n"));
        let v: serde_json::Value = serde_json::from_slice(&msg).unwrap();
        assert_eq!(v["type"], "response.create");
        assert_eq!(v["model"], "gpt-5");
        assert_eq!(v["input"][0]["type"], "message");
        assert_eq!(v.as_object().unwrap().len(), 4);
    }

    #[test]
    fn create_message_of_an_empty_object() {
        assert_eq!(create_message(b" {} "), br#"{"type":"response.create"}"#);
    }

    /// Frames turned into SSE, whole and split at every byte, equal the
    /// oracle (each text frame's JSON under its type); the body ends at the
    /// terminal event.
    #[test]
    fn frames_to_sse_whole_and_split_at_every_byte() {
        // A blank frame is skipped; surrounding whitespace is trimmed.
        let events: [&[u8]; 5] = [
            br#"{"type":"response.created","response":{"id":"r1"}}"#,
            b" \r\n",
            b"{\"type\":\"response.output_text.delta\",\"delta\":\"h\\u00e9\"}\r\n",
            br#"{"type":"response.done","response":{"id":"r1","status":"completed"}}"#,
            br#"{"type":"response.created"}"#,
        ];
        let mut wire = Vec::new();
        for e in events {
            frame::encode(&mut wire, op::TEXT, e);
        }
        let mut want = Vec::new();
        crate::sse::write::write_event(&mut want, Some(b"response.created"), events[0]);
        crate::sse::write::write_event(
            &mut want,
            Some(b"response.output_text.delta"),
            events[2].trim_ascii(),
        );
        crate::sse::write::write_event(
            &mut want,
            Some(b"response.completed"),
            br#"{"type":"response.completed","response":{"id":"r1","status":"completed"}}"#,
        );
        for cut in 0..=wire.len() {
            let mut d = Decoder::for_client(1 << 20);
            let (mut buf, mut out, mut ended) = (Vec::new(), Vec::new(), false);
            for piece in [&wire[..cut], &wire[cut..]] {
                buf.extend_from_slice(piece);
                while let Some((n, m)) = d.next(&buf).unwrap() {
                    buf.drain(..n);
                    if let (Some(Message::Text(t)), false) = (m, ended) {
                        ended = event_to_sse(&mut out, &t);
                    }
                }
            }
            assert!(ended, "cut {cut}");
            assert_eq!(out, want, "cut {cut}");
        }
    }
}
