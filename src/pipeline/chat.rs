//! `POST /v1/chat/completions` to `openai-compatibility` upstreams: pick a
//! target and key, rewrite only the `model` value, forward, relay the answer
//! as it arrives.
//!
//! First-byte commit: nothing is written to the client until the upstream
//! has produced its first body bytes. A failure before that is an HTTP error
//! (or a retry on the next credential); after it, a stream ends with an error
//! event in the client's format.

use super::reply;
use crate::credentials::{extract_session_id, ErrorAnswer, Next, Outcome, RetryPlan};
use crate::h1::encode;
use crate::runtime::Worker;
use crate::server::{Conn, Request, CLIENT_WATCH_DELAY};
use crate::state::Provider;
use crate::upstream::{self, Response};
use std::rc::Rc;

/// Largest upstream error body read (for the client and for logs).
const MAX_ERROR_BODY: usize = 4 * 1024 * 1024;

/// A partial SSE event held back longer than this is forwarded anyway
/// (upstreams that never send a blank line must not stall the client).
const MAX_PENDING_EVENT: usize = 256 * 1024;

/// What the last failed attempt left for the client.
enum Failure {
    Transport(String),
    Upstream {
        status: u16,
        body: Vec<u8>,
        retry_after: Option<Vec<u8>>,
    },
}

/// Builds the upstream request: head plus body with `model` rewritten.
fn build_request(
    p: &Provider,
    key: Option<&crate::secret::Secret>,
    req: &Request<'_>,
    body: &[u8],
    model: Option<((usize, usize), &str)>,
    stream: bool,
    out: &mut Vec<u8>,
) {
    out.clear();
    out.extend_from_slice(b"POST ");
    out.extend_from_slice(p.endpoint.base_path.as_bytes());
    out.extend_from_slice(b"/chat/completions HTTP/1.1\r\n");
    encode::header(out, "Host", p.endpoint.host_header.as_bytes());
    let custom = |name: &str| p.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    if let Some(k) = key {
        if !custom("authorization") {
            out.extend_from_slice(b"Authorization: Bearer ");
            out.extend_from_slice(k.expose().as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
    if !custom("content-type") {
        encode::header(out, "Content-Type", b"application/json");
    }
    if !custom("accept") {
        encode::header(
            out,
            "Accept",
            if stream {
                b"text/event-stream"
            } else {
                b"application/json"
            },
        );
    }
    if !custom("user-agent") {
        encode::header(out, "User-Agent", b"cli-proxy-openai-compat");
    }
    for (n, v) in &p.headers {
        // `$Name` copies the client's header `Name`; omitted when absent.
        if let Some(src) = v.strip_prefix('$') {
            if let Some(val) = req.header(src) {
                encode::header(out, n, val);
            }
        } else {
            encode::header(out, n, v.as_bytes());
        }
    }
    match model {
        // Only the `model` value changes; every other byte is forwarded as sent.
        Some(((start, end), name)) => {
            let mut lit = Vec::with_capacity(name.len() + 2);
            crate::json::write_string(&mut lit, name);
            encode::content_length(out, body.len() - (end - start) + lit.len());
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(&body[..start]);
            out.extend_from_slice(&lit);
            out.extend_from_slice(&body[end..]);
        }
        None => {
            encode::content_length(out, body.len());
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(body);
        }
    }
}

/// Handles a chat completion request.
pub async fn chat_completions(w: &Rc<Worker>, conn: &mut Conn, req: &Request<'_>) -> bool {
    let snap = w.snapshot();
    let body = req.body();
    let fields = match crate::json::request_fields(body) {
        Ok(f) => f,
        Err(e) => {
            let mut b = Vec::new();
            reply::openai_error_body(&mut b, 400, &format!("invalid request body: {}", e.0));
            reply::json(&mut conn.out, 400, &b, false, &[]);
            return conn.flush().await.is_ok();
        }
    };
    let requested = fields.model.clone().unwrap_or_default();
    let model = super::models::uncloak_id(&requested);
    let Some(targets) = snap
        .routes
        .get(&model)
        .or_else(|| snap.routes.get(&requested))
    else {
        let mut b = Vec::new();
        reply::unknown_model_body(&mut b, &requested);
        reply::json(&mut conn.out, 400, &b, false, &[]);
        return conn.flush().await.is_ok();
    };
    let providers: Vec<&str> = snap
        .route_providers
        .get(&model)
        .or_else(|| snap.route_providers.get(&requested))
        .map(|v| v.iter().map(String::as_str).collect())
        .unwrap_or_default();
    let route_model = if snap.routes.contains_key(&model) {
        &model
    } else {
        &requested
    };
    let route = w.shard.borrow_mut().route(route_model, &providers);
    let Some(route) = route else {
        let a = ErrorAnswer::auth_not_found(&providers, route_model);
        return answer(conn, &a).await;
    };
    let session = {
        let shard = w.shard.borrow();
        if shard.settings().session_affinity {
            let hs: Vec<(&str, &[u8])> = req
                .head
                .headers
                .iter()
                .map(|(n, v)| {
                    (
                        std::str::from_utf8(n.get(req.buf)).unwrap_or(""),
                        v.get(req.buf),
                    )
                })
                .collect();
            extract_session_id(&hs, body).map(|s| s.key())
        } else {
            None
        }
    };
    let mut plan = RetryPlan::new(&w.shard.borrow(), route, session);
    let mut last: Option<Failure> = None;
    let mut request = w.pool.borrow_mut().buf();
    loop {
        let next = {
            let mut shard = w.shard.borrow_mut();
            let now = shard.now_ms();
            plan.next(&mut shard, now)
        };
        let lease = match next {
            Next::Try(lease) => lease,
            Next::Wait(d) => {
                let gone = monoio::select! {
                    _ = monoio::time::sleep(d) => false,
                    _ = conn.client_gone_after(CLIENT_WATCH_DELAY) => true,
                };
                if gone {
                    return false;
                }
                continue;
            }
            Next::GiveUp(a) => return answer(conn, &a).await,
            Next::ReturnUpstream | Next::Done => break,
        };
        let cred = w.shard.borrow().credential_id(&lease).to_string();
        let Some(&(pi, ki)) = snap.credentials.get(&cred) else {
            // Added by a reload this worker has not applied yet: skip, no cooldown.
            report(w, &mut plan, lease, &Outcome::failure(499, b""));
            continue;
        };
        let provider = &snap.providers[pi];
        let Some(target) = targets.iter().find(|t| t.provider == pi) else {
            report(w, &mut plan, lease, &Outcome::failure(499, b""));
            continue;
        };
        let key = provider.keys.get(ki);
        let rewrite = match fields.model_span {
            Some(span) if target.upstream_model != requested => {
                Some((span, target.upstream_model.as_str()))
            }
            _ => None,
        };
        if request.capacity() == 0 {
            request = w.pool.borrow_mut().buf();
        }
        build_request(
            provider,
            key,
            req,
            body,
            rewrite,
            fields.stream,
            &mut request,
        );
        crate::log_debug!(
            "chat: model {requested} -> {} via {} ({cred})",
            target.upstream_model,
            provider.name
        );
        let sent = monoio::select! {
            r = upstream::send(&w.pool, &w.tls, &provider.endpoint, std::mem::take(&mut request), false) => Some(r),
            _ = conn.client_gone_after(CLIENT_WATCH_DELAY) => None,
        };
        let Some(sent) = sent else {
            report(w, &mut plan, lease, &Outcome::failure(499, b""));
            return false;
        };
        let mut resp = match sent {
            Ok(r) => r,
            Err(e) => {
                crate::log_warn!("upstream {}: {e}", provider.name);
                report(w, &mut plan, lease, &Outcome::failure(0, b""));
                last = Some(Failure::Transport(e.to_string()));
                continue;
            }
        };
        let status = resp.status();
        if !(200..300).contains(&status) {
            let retry_after = resp.header("retry-after").map(<[u8]>::to_vec);
            let mut eb = Vec::new();
            let read = monoio::select! {
                r = resp.read_to_end(&mut eb, MAX_ERROR_BODY) => Some(r),
                _ = conn.client_gone_after(CLIENT_WATCH_DELAY) => None,
            };
            match read {
                None => {
                    report(w, &mut plan, lease, &Outcome::failure(499, b""));
                    return false;
                }
                Some(Ok(())) => resp.release(&w.pool),
                Some(Err(_)) => {}
            }
            crate::log_warn!("upstream {} answered {status}", provider.name);
            let ra = retry_after
                .as_deref()
                .and_then(|v| std::str::from_utf8(v).ok());
            let outcome = Outcome {
                retry_after: ra,
                ..Outcome::failure(status, &eb)
            };
            report(w, &mut plan, lease, &outcome);
            last = Some(Failure::Upstream {
                status,
                body: eb,
                retry_after,
            });
            continue;
        }
        match relay(w, conn, resp, fields.stream).await {
            Relayed::Done(keep, broken) => {
                let outcome = if broken {
                    Outcome {
                        first_byte_sent: true,
                        ..Outcome::failure(502, b"")
                    }
                } else {
                    Outcome::success()
                };
                report(w, &mut plan, lease, &outcome);
                return keep;
            }
            Relayed::ClientGone => {
                report(w, &mut plan, lease, &Outcome::failure(499, b""));
                return false;
            }
            Relayed::NoFirstByte(e) => {
                crate::log_warn!(
                    "upstream {} failed before the first byte: {e}",
                    provider.name
                );
                report(w, &mut plan, lease, &Outcome::failure(0, b""));
                last = Some(Failure::Transport(e));
            }
        }
    }
    let mut b = Vec::new();
    match last {
        Some(Failure::Upstream {
            status,
            body,
            retry_after,
        }) => {
            reply::upstream_error_body(&mut b, status, &body);
            let extra: Vec<(&str, &[u8])> = retry_after
                .as_deref()
                .map(|v| ("Retry-After", v))
                .into_iter()
                .collect();
            reply::json(&mut conn.out, status, &b, false, &extra);
        }
        Some(Failure::Transport(m)) => {
            reply::openai_error_body(&mut b, 500, &m);
            reply::json(&mut conn.out, 500, &b, false, &[]);
        }
        None => {
            reply::openai_error_body(&mut b, 500, "no upstream available");
            reply::json(&mut conn.out, 500, &b, false, &[]);
        }
    }
    conn.flush().await.is_ok()
}

fn report(
    w: &Worker,
    plan: &mut RetryPlan,
    lease: crate::credentials::Lease,
    outcome: &Outcome<'_>,
) {
    let mut shard = w.shard.borrow_mut();
    let now = shard.now_ms();
    plan.report(&mut shard, lease, outcome, now);
}

/// Writes a scheduler-made answer (cooldown 429, auth-not-found 503).
async fn answer(conn: &mut Conn, a: &ErrorAnswer) -> bool {
    let ra = a.retry_after.map(|s| s.to_string());
    let extra: Vec<(&str, &[u8])> = ra
        .as_deref()
        .map(|v| ("Retry-After", v.as_bytes()))
        .into_iter()
        .collect();
    reply::json(&mut conn.out, a.status, a.body.as_bytes(), false, &extra);
    conn.flush().await.is_ok()
}

enum Relayed {
    /// The answer was written; keep-alive verdict, and whether the upstream
    /// broke after the first byte.
    Done(bool, bool),
    /// The client went away.
    ClientGone,
    /// The upstream failed before producing a body byte; nothing was written.
    NoFirstByte(String),
}

/// Index one past the last complete SSE event (blank line) in `b`.
pub fn last_event_boundary(b: &[u8]) -> Option<usize> {
    let mut end = b.len();
    while let Some(p) = memchr::memrchr(b'\n', &b[..end]) {
        if p >= 1 && b[p - 1] == b'\n' {
            return Some(p + 1);
        }
        if p >= 2 && b[p - 1] == b'\r' && b[p - 2] == b'\n' {
            return Some(p + 1);
        }
        end = p;
    }
    None
}

/// True if the last event in `b` (complete events) is `data: [DONE]`.
fn ends_with_done(b: &[u8]) -> bool {
    let mut t = b;
    while let [rest @ .., b'\n' | b'\r'] = t {
        t = rest;
    }
    t.ends_with(b"data: [DONE]") || t.ends_with(b"data:[DONE]")
}

async fn relay(w: &Rc<Worker>, conn: &mut Conn, mut resp: Response, stream: bool) -> Relayed {
    let mut chunk = w.pool.borrow_mut().buf();
    // Wait for the first body bytes before committing a status to the client.
    let first = monoio::select! {
        r = resp.read_body(&mut chunk) => Some(r),
        _ = conn.client_gone_after(CLIENT_WATCH_DELAY) => None,
    };
    let has_body = match first {
        None => return Relayed::ClientGone,
        Some(Err(e)) => return Relayed::NoFirstByte(e.to_string()),
        Some(Ok(more)) => more,
    };
    let status = resp.status();
    let out = &mut conn.out;
    encode::status_line(out, status);
    if stream {
        encode::header(out, "Content-Type", b"text/event-stream");
        encode::header(out, "Cache-Control", b"no-cache");
        encode::header(out, "Connection", b"keep-alive");
    } else {
        let ct = resp.header("content-type").unwrap_or(b"application/json");
        encode::header(out, "Content-Type", ct);
    }
    encode::header(out, reply::CORS_ORIGIN.0, reply::CORS_ORIGIN.1);
    let length = match resp.head.body {
        Some(crate::h1::response::RespBody::Length(n)) if !stream => Some(n),
        _ => None,
    };
    match length {
        Some(n) => encode::content_length(out, n as usize),
        None => encode::header(out, "Transfer-Encoding", b"chunked"),
    }
    out.extend_from_slice(b"\r\n");
    let chunked = length.is_none();
    if !stream {
        // Plain relay: bytes out as they come in.
        let mut more = has_body;
        loop {
            if chunked {
                encode::chunk(&mut conn.out, &chunk);
            } else {
                conn.out.extend_from_slice(&chunk);
            }
            chunk.clear();
            if !more {
                if chunked {
                    conn.out.extend_from_slice(encode::LAST_CHUNK);
                }
                let ok = conn.flush().await.is_ok();
                resp.release(&w.pool);
                w.pool.borrow_mut().give(chunk);
                return Relayed::Done(ok, false);
            }
            if !resp.is_done() && conn.flush().await.is_err() {
                return Relayed::ClientGone;
            }
            let r = monoio::select! {
                r = resp.read_body(&mut chunk) => Some(r),
                _ = conn.client_gone_after(CLIENT_WATCH_DELAY) => None,
            };
            match r {
                None => return Relayed::ClientGone,
                // Truncated upstream body: close so the client sees it incomplete.
                Some(Err(_)) => {
                    let _ = conn.flush().await;
                    return Relayed::Done(false, true);
                }
                Some(Ok(m)) => more = m,
            }
        }
    }
    // SSE relay: forward whole events only, so an error event can always be
    // appended cleanly and every write is one or more complete events.
    let mut pending: Vec<u8> = w.pool.borrow_mut().buf();
    let mut forwarded_done = false;
    let mut more = has_body;
    loop {
        pending.extend_from_slice(&chunk);
        chunk.clear();
        let cut = last_event_boundary(&pending)
            .or_else(|| (pending.len() > MAX_PENDING_EVENT).then_some(pending.len()));
        if let Some(cut) = cut {
            encode::chunk(&mut conn.out, &pending[..cut]);
            forwarded_done = ends_with_done(&pending[..cut]);
            pending.drain(..cut);
        }
        if !more {
            if !pending.is_empty() {
                // Upstream ended without a final blank line: complete the event.
                pending.extend_from_slice(b"\n\n");
                encode::chunk(&mut conn.out, &pending);
                forwarded_done = ends_with_done(&pending);
            }
            if !forwarded_done {
                encode::chunk(&mut conn.out, b"data: [DONE]\n\n");
            }
            conn.out.extend_from_slice(encode::LAST_CHUNK);
            let ok = conn.flush().await.is_ok();
            resp.release(&w.pool);
            let mut p = w.pool.borrow_mut();
            p.give(chunk);
            p.give(pending);
            return Relayed::Done(ok, false);
        }
        // When the body is complete the end of stream follows at once: one write for both.
        if !conn.out.is_empty() && !resp.is_done() && conn.flush().await.is_err() {
            return Relayed::ClientGone;
        }
        let r = monoio::select! {
            r = resp.read_body(&mut chunk) => Some(r),
            _ = conn.client_gone_after(CLIENT_WATCH_DELAY) => None,
        };
        match r {
            None => return Relayed::ClientGone,
            Some(Ok(m)) => more = m,
            Some(Err(e)) => {
                // After the first byte: end the stream with an error event
                // (OpenAI chat shape, no [DONE]); a partial event is dropped.
                crate::log_warn!("upstream stream broke: {e}");
                let mut ev = Vec::with_capacity(160);
                ev.extend_from_slice(b"data: ");
                reply::openai_error_body(
                    &mut ev,
                    502,
                    &format!("upstream stream interrupted: {e}"),
                );
                ev.extend_from_slice(b"\n\n");
                encode::chunk(&mut conn.out, &ev);
                conn.out.extend_from_slice(encode::LAST_CHUNK);
                return Relayed::Done(conn.flush().await.is_ok(), true);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries() {
        assert_eq!(last_event_boundary(b"data: a\n\ndata: b"), Some(9));
        assert_eq!(last_event_boundary(b"data: a\r\n\r\ndata: b\r\n"), Some(11));
        assert_eq!(last_event_boundary(b"data: a\n"), None);
        assert_eq!(last_event_boundary(b"data: a\n\ndata: b\n\n"), Some(18));
        assert!(ends_with_done(b"data: x\n\ndata: [DONE]\n\n"));
        assert!(!ends_with_done(b"data: {\"t\":\"[DONE]x\"}\n\n"));
    }
}
