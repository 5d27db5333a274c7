//! The Responses WebSocket (`GET /v1/responses` and
//! `/backend-api/codex/responses` with `Upgrade: websocket`), as
//! CLIProxyAPI serves it to Codex CLI.
//!
//! After the `101`, the connection belongs to this session: a loop reads
//! client frames ([`crate::ws::frame`]); pings get pongs, a close gets its
//! echo, and each text (or binary) message is one Responses request. The
//! message is normalized into a `POST /v1/responses` body with
//! `"stream":true` ([`normalize`]) and sent through the same forwarding
//! path as that route (`forward::proxy`: route, attempts, translation,
//! relays). While it runs, the connection's output goes through a
//! [`Bridge`], which turns the HTTP answer the path writes into one text
//! frame per SSE event, or one `error` event for an error answer. So every
//! upstream kind works, and nothing of the forwarding logic is repeated.
//!
//! A refused message gets an `error` event and the socket stays open (as
//! CLIProxyAPI does); a bad frame closes it with 1002, a message over the
//! body limit with 1009, text that is not UTF-8 with 1007.

pub(super) mod normalize;
mod repair;

use super::forward;
use crate::runtime::Worker;
use crate::server::{Conn, Host, Request};
use crate::translate::format::Format;
use crate::ws::bridge::{error_payload, Bridge};
use crate::ws::frame::{close, encode, encode_close, op, Decoder, Message};
use normalize::Turn;
use std::rc::Rc;

/// Serves an upgrade request (already authenticated): the handshake, then
/// the session until either side closes. Returns `false`: the connection
/// is never reused for HTTP afterwards.
pub async fn serve(w: &Rc<Worker>, conn: &mut Conn, req: &Request<'_>) -> bool {
    let accept = match crate::ws::accept_key(req) {
        Ok(a) => a,
        Err(why) => {
            crate::log_debug!("responses websocket: refused upgrade: {why}");
            // gorilla/websocket's answer to a bad handshake.
            crate::h1::encode::status_line(&mut conn.out, 400);
            crate::h1::encode::header(&mut conn.out, "Content-Type", b"text/plain; charset=utf-8");
            let (cors, any) = super::reply::CORS_ORIGIN;
            crate::h1::encode::header(&mut conn.out, cors, any);
            crate::h1::encode::header(&mut conn.out, "Sec-Websocket-Version", b"13");
            crate::h1::encode::header(&mut conn.out, "X-Content-Type-Options", b"nosniff");
            crate::h1::encode::content_length(&mut conn.out, b"Bad Request\n".len());
            conn.out.extend_from_slice(b"\r\nBad Request\n");
            let _ = conn.flush().await;
            return false;
        }
    };
    conn.out.extend_from_slice(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n",
    );
    crate::h1::encode::header(&mut conn.out, "Sec-WebSocket-Accept", &accept);
    // Codex keeps its sticky turn state across reconnects.
    if let Some(ts) = req.header("x-codex-turn-state") {
        crate::h1::encode::header(&mut conn.out, "X-Codex-Turn-State", ts);
    }
    conn.out.extend_from_slice(b"\r\n");
    if conn.flush().await.is_err() {
        return false;
    }
    crate::log_debug!("responses websocket: client {} connected", conn.peer);
    let mut s = Session {
        decoder: Decoder::new(w.body_limit()),
        last_request: None,
        last_output: b"[]".to_vec(),
        bridge: Some(Box::default()),
        tools: repair::has_session_key(req).then(repair::ToolMemory::default),
    };
    s.run(w, conn, req).await;
    false
}

/// What one socket remembers between messages.
struct Session {
    decoder: Decoder,
    /// The last request sent (the next message continues it).
    last_request: Option<Vec<u8>>,
    /// `response.output` of the last completed response (raw JSON array).
    last_output: Vec<u8>,
    /// The transcoder, lent to the connection while a request runs.
    bridge: Option<Box<Bridge>>,
    /// Tool calls and outputs seen, when the upgrade named a session.
    tools: Option<repair::ToolMemory>,
}

enum Read {
    Message(Message),
    /// The connection is over (closed, broken, or a close frame was sent).
    End,
}

impl Session {
    async fn run(&mut self, w: &Rc<Worker>, conn: &mut Conn, req: &Request<'_>) {
        loop {
            let msg = match self.read(w, conn).await {
                Read::Message(m) => m,
                Read::End => return,
            };
            let ok = match msg {
                Message::Ping(p) => {
                    encode(&mut conn.out, op::PONG, &p);
                    conn.flush().await.is_ok()
                }
                Message::Pong => true,
                Message::Close(code, _) => {
                    // Echo the status code (none for an empty close).
                    match code {
                        Some(c) => encode_close(&mut conn.out, c, ""),
                        None => encode(&mut conn.out, op::CLOSE, b""),
                    }
                    let _ = conn.flush().await;
                    return;
                }
                Message::Text(m) | Message::Binary(m) => self.turn(w, conn, req, &m).await,
            };
            if !ok {
                return;
            }
        }
    }

    /// The next message; reads more bytes as needed, closes on a bad frame
    /// and on shutdown.
    async fn read(&mut self, w: &Rc<Worker>, conn: &mut Conn) -> Read {
        loop {
            match self.decoder.next(&conn.buf) {
                Err(f) => {
                    crate::log_debug!("responses websocket: closing ({}): {}", f.code, f.reason);
                    encode_close(&mut conn.out, f.code, f.reason);
                    let _ = conn.flush().await;
                    return Read::End;
                }
                Ok(Some((n, m))) => {
                    conn.buf.drain(..n);
                    if let Some(m) = m {
                        return Read::Message(m);
                    }
                    continue;
                }
                Ok(None) => {}
            }
            let shutdown = w.shutdown().clone();
            let r = monoio::select! {
                r = conn.read_more() => Some(r),
                _ = shutdown.wait() => None,
            };
            match r {
                Some(Ok(n)) if n > 0 => {}
                Some(_) => return Read::End,
                None => {
                    encode_close(&mut conn.out, close::GOING_AWAY, "server shutting down");
                    let _ = conn.flush().await;
                    return Read::End;
                }
            }
        }
    }

    /// One message: refused with an `error` event, answered locally (a
    /// prewarm), or sent through the forwarding path. Returns whether the
    /// socket goes on.
    async fn turn(
        &mut self,
        w: &Rc<Worker>,
        conn: &mut Conn,
        req: &Request<'_>,
        msg: &[u8],
    ) -> bool {
        let turn = normalize::normalize(msg, self.last_request.as_deref(), &self.last_output);
        let body = match turn {
            Err(refused) => return refuse(conn, &refused).await,
            Ok(Turn::Prewarm(body)) => {
                prewarm(w, &body, &mut conn.out);
                self.last_request = Some(body);
                self.last_output = b"[]".to_vec();
                return conn.flush().await.is_ok();
            }
            Ok(Turn::Request(body)) => match self.tools.as_mut() {
                Some(t) => t.repair(body),
                None => body,
            },
        };
        let fields = match crate::json::request_fields(&body) {
            Ok(f) => f,
            Err(e) => return refuse(conn, &format!("invalid request body: {}", e.what)).await,
        };
        let call = forward::Call {
            client: Format::OpenAiResponses,
            model: fields.model.unwrap_or_default(),
            model_span: fields.model_span,
            stream: true,
            count_tokens: false,
            body: &body,
            legacy_completions: false,
            gemini_raw: false,
            compact: false,
        };
        let mut bridge = self.bridge.take().unwrap_or_default();
        bridge.reset();
        conn.ws = Some(bridge);
        let keep = forward::proxy(w, conn, req, call).await;
        // CLIProxyAPI keeps the request it sent, answered or not; the
        // output is the completed response's (none after an error).
        self.last_output = b"[]".to_vec();
        self.last_request = Some(body);
        let Some(mut bridge) = conn.ws.take() else {
            return false;
        };
        // The path stopped before its answer was whole: the client left.
        if !keep || !bridge.is_done() {
            return false;
        }
        if let Some(out) = bridge.take_completed_output() {
            if let Some(t) = self.tools.as_mut() {
                t.record_output(&out);
            }
            self.last_output = out;
        }
        self.bridge = Some(bridge);
        true
    }
}

/// A message the session cannot use: a 400 `error` event with CLIProxyAPI's
/// OpenAI-shaped body; the socket stays open. Returns whether the write went.
async fn refuse(conn: &mut Conn, message: &str) -> bool {
    let mut body = Vec::with_capacity(message.len() + 64);
    super::reply::openai_error_body(&mut body, 400, message);
    let mut ev = Vec::with_capacity(body.len() + 32);
    error_payload(&mut ev, 400, &body);
    encode(&mut conn.out, op::TEXT, &ev);
    conn.flush().await.is_ok()
}

/// CLIProxyAPI's local answer to a prewarm (`generate: false` first):
/// `response.created` then `response.completed`, empty output, no upstream.
fn prewarm(w: &Worker, body: &[u8], out: &mut Vec<u8>) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let id = format!(
        "resp_prewarm_{:016x}{:08x}",
        now ^ (w.rr.get() << 20),
        std::process::id()
    );
    let model = crate::json::span::get(body, b"model").unwrap_or(b"\"\"");
    for (seq, status, tail) in [
        (0, "in_progress", ""),
        (
            1,
            "completed",
            r#","usage":{"input_tokens":0,"output_tokens":0,"total_tokens":0}"#,
        ),
    ] {
        let ty = if seq == 0 {
            "response.created"
        } else {
            "response.completed"
        };
        let mut ev = Vec::with_capacity(256);
        ev.extend_from_slice(
            format!(
                r#"{{"type":"{ty}","sequence_number":{seq},"response":{{"id":"{id}","object":"response","created_at":{now},"status":"{status}","background":false,"error":null,"output":[]{tail},"model":"#
            )
            .as_bytes(),
        );
        ev.extend_from_slice(model);
        ev.extend_from_slice(b"}}");
        encode(out, op::TEXT, &ev);
    }
}
