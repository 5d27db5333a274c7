//! Stage: relaying an upstream answer in the client's own format (whole SSE
//! events, or the body as it arrives), and the helpers every relay shares:
//! the outcome of a relay, event boundaries, stream keep-alives.

use super::*;

/// A partial SSE event held back longer than this is forwarded anyway
/// (upstreams that never send a blank line must not stall the client).
const MAX_PENDING_EVENT: usize = 256 * 1024;

pub(super) enum Relayed {
    /// The answer was written; keep-alive verdict, and whether the upstream
    /// broke after the first byte.
    Done(bool, bool),
    /// A stream was written whole but the upstream reported an error inside
    /// it (`response.failed`, `error`): keep-alive verdict, the status it
    /// stands for and an OpenAI-shaped body to classify.
    DoneWithError(bool, u16, Vec<u8>),
    /// Nothing was written; the upstream's 2xx answer was an error event
    /// (Codex `response.failed` / `error`): status and OpenAI-shaped body.
    UpstreamError { status: u16, body: Vec<u8> },
    /// The client went away.
    ClientGone,
    /// The upstream failed before producing a body byte; nothing was written.
    NoFirstByte(String),
}

use crate::sse::last_event_boundary;

/// True if the last event in `b` (complete events) is `data: [DONE]`.
pub(super) fn ends_with_done(b: &[u8]) -> bool {
    let mut t = b;
    while let [rest @ .., b'\n' | b'\r'] = t {
        t = rest;
    }
    t.ends_with(b"data: [DONE]") || t.ends_with(b"data:[DONE]")
}

pub(super) async fn relay(
    w: &Rc<Worker>,
    conn: &mut Conn,
    mut resp: Response,
    stream: bool,
    client: Format,
    fwd: &[u8],
    mut sniff: Option<&mut crate::management::usage::Sniffer>,
) -> Relayed {
    let mut chunk = w.pool.borrow_mut().buf();
    // Wait for the first body bytes before committing a status to the client.
    let first = monoio::select! {
        biased;
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
    let head_start = out.len();
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
    passthrough::append(out, head_start, fwd);
    let length = resp.content_length().filter(|_| !stream);
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
            if let Some(s) = sniff.as_deref_mut() {
                s.feed(&chunk);
            }
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
                biased;
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
    let keepalive = stream_keepalive(w, client);
    let mut pending: Vec<u8> = w.pool.borrow_mut().buf();
    let mut forwarded_done = false;
    let mut more = has_body;
    loop {
        if let Some(s) = sniff.as_deref_mut() {
            s.feed(&chunk);
        }
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
            if !forwarded_done && client == Format::OpenAiChat {
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
        let r = next_event_bytes(&mut resp, &mut chunk, conn, keepalive).await;
        match r {
            None => return Relayed::ClientGone,
            Some(Ok(m)) => more = m,
            Some(Err(e)) => {
                // After the first byte: end the stream with an error event in
                // the client's format (OpenAI chat: no [DONE]); a partial event is dropped.
                crate::log_warn!("upstream stream broke: {e}");
                let mut ev = Vec::with_capacity(192);
                let mut tr = new_stream_translator(
                    client,
                    client,
                    StreamCtx {
                        model: "",
                        created: 0,
                        id_seed: 0,
                    },
                );
                Error::new(
                    ErrorKind::BrokenStream,
                    format!("upstream stream interrupted: {e}"),
                )
                .write_event(&mut tr, &mut ev);
                encode::chunk(&mut conn.out, &ev);
                conn.out.extend_from_slice(encode::LAST_CHUNK);
                return Relayed::Done(conn.flush().await.is_ok(), true);
            }
        }
    }
}

/// `streaming.keepalive-seconds` for a client: none for Gemini clients,
/// whose SDKs (google-genai, Gemini CLI) accept only `data:` lines and treat
/// a comment or stray blank line as a broken stream.
pub(super) fn stream_keepalive(w: &Worker, client: Format) -> Option<std::time::Duration> {
    if client == Format::Gemini {
        None
    } else {
        w.snapshot().config.streaming_keepalive
    }
}

pub(super) enum Wake {
    Read(std::io::Result<bool>),
    Gone,
    Tick,
}

/// Reads the next upstream body bytes of a stream while watching the client
/// and, when `keepalive` is set, writing `: keep-alive` comments during
/// silences (`streaming.keepalive-seconds`). The pending read is never
/// cancelled by a tick, so no upstream byte is lost. `None`: the client left.
/// Idle stream translators a core keeps for reuse.
pub(super) const MAX_CACHED_TRANSLATORS: usize = 32;

/// A translator that relayed more upstream bytes than this may hold buffers
/// sized for one huge event (a long tool-call argument, say); it is dropped
/// after its stream instead of cached, so the cache keeps at most
/// `MAX_CACHED_TRANSLATORS` translators of ordinary size. Longer streams pay
/// a fresh translator, which is small against their own length.
pub(super) const MAX_CACHED_TRANSLATOR_INPUT: usize = 256 * 1024;

pub(super) async fn next_event_bytes(
    resp: &mut Response,
    chunk: &mut Vec<u8>,
    conn: &mut Conn,
    keepalive: Option<std::time::Duration>,
) -> Option<std::io::Result<bool>> {
    // A body read to its end answers at once: no wait to set up (its end
    // is the usual next step after the last bytes came with the head).
    if resp.is_done() {
        return Some(Ok(false));
    }
    let mut read = std::pin::pin!(resp.read_body(chunk));
    loop {
        // Biased (see `attempt::send`); the tick timer is made only when
        // keep-alives are on.
        let wake = monoio::select! {
            biased;
            r = &mut read => Wake::Read(r),
            _ = conn.client_gone_after(CLIENT_WATCH_DELAY) => Wake::Gone,
            _ = tick(keepalive), if keepalive.is_some() => Wake::Tick,
        };
        match wake {
            Wake::Read(r) => return Some(r),
            Wake::Gone => return None,
            Wake::Tick => {
                encode::chunk(&mut conn.out, b": keep-alive\n\n");
                if conn.flush().await.is_err() {
                    return None;
                }
            }
        }
    }
}
