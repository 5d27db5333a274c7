//! Accept loop and the per-connection keep-alive loop: read a head, read the
//! body, hand the request to a [`Handler`], repeat. Owned buffers belong to
//! the connection and are reused across requests. The bytes run over plain
//! TCP or TLS ([`tls`]).
//!
//! Layering: this module knows nothing of the runtime or the request path.
//! The runtime's per-core context implements [`Host`] (timeouts, shutdown,
//! limits, counters); the request path implements [`Handler`]. Both are type
//! parameters, so the call per request is static (no `dyn`, no boxing).

mod encoding;
pub mod h2;
mod shutdown;
pub mod tls;

pub use shutdown::{Shutdown, ShutdownWait};

use crate::error::{Error, ErrorKind};
use crate::h1::encode;
use crate::h1::request::BodyKind;
use crate::h1::{self, ChunkedDecoder, RequestHead};
use monoio::net::TcpListener;
use monoio::time::Instant;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

/// How long a keep-alive connection may sit idle between requests. Matches
/// nginx's default `keepalive_timeout` (75 s); SDK pools reuse well within it.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(75);

/// Time allowed to receive a whole request head once its first byte arrived:
/// the slowloris guard. Real clients send a head in one packet.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(30);

/// Longest silence allowed while a request body is uploading.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(60);

/// Delay before a waiting request starts watching its client for a
/// disconnect: shorter than any human-visible wait, longer than a fast
/// upstream round trip (which then needs no watch at all).
pub const CLIENT_WATCH_DELAY: Duration = Duration::from_millis(50);

/// Largest read or write buffer a connection keeps between requests.
pub const CONN_KEPT_BUF: usize = 64 * 1024;

/// Timeouts in force (tests shorten them).
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// See [`IDLE_TIMEOUT`].
    pub idle: Duration,
    /// See [`HEAD_TIMEOUT`].
    pub head: Duration,
    /// See [`BODY_TIMEOUT`].
    pub body: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            idle: IDLE_TIMEOUT,
            head: HEAD_TIMEOUT,
            body: BODY_TIMEOUT,
        }
    }
}

/// What the connection loops need from the per-core context that runs them.
pub trait Host: 'static {
    /// Client-side timeouts in force.
    fn timeouts(&self) -> Timeouts;
    /// The core's shutdown signal.
    fn shutdown(&self) -> &Shutdown;
    /// The HTTPS listener configuration of the current snapshot, if any.
    fn listener_tls(&self) -> Option<Arc<rustls::ServerConfig>>;
    /// Largest request body accepted (bytes).
    fn body_limit(&self) -> usize;
    /// A connection was accepted.
    fn connection_opened(&self);
    /// A connection ended.
    fn connection_closed(&self);
    /// A request was answered (publish counters).
    fn request_done(&self);
    /// `http2-cleartext`: serve h2 with prior knowledge on the plain listener.
    fn http2_cleartext(&self) -> bool {
        false
    }
}

/// Answers one complete request on a connection. Returns whether the
/// connection may be kept alive. A type, not a value: the server is
/// monomorphised over it, so dispatch costs nothing per request.
pub trait Handler<H: Host>: 'static {
    /// Handles `req`, writing the response to `conn`.
    fn handle(host: &Rc<H>, conn: &mut Conn, req: &Request<'_>) -> impl Future<Output = bool>;
}

/// Accepts connections until shutdown. The listener is HTTPS when the
/// start-up config enabled TLS; reloads swap the certificate for new
/// handshakes but cannot switch the listener between plain and TLS.
pub async fn accept_loop<H: Host, A: Handler<H>>(w: Rc<H>, listener: TcpListener) {
    let tls = w.listener_tls();
    loop {
        let accepted = monoio::select! {
            r = listener.accept() => Some(r),
            _ = w.shutdown().wait() => None,
        };
        match accepted {
            None => break,
            Some(Ok((stream, peer))) => {
                let _ = stream.set_nodelay(true);
                let w2 = w.clone();
                let tls = match tls {
                    // The reloaded certificate, if any (see control::keep_listener_tls).
                    Some(_) => w.listener_tls().or_else(|| tls.clone()),
                    None => None,
                };
                w.connection_opened();
                monoio::spawn(async move {
                    tls::serve_accepted::<H, A>(&w2, stream, peer, tls).await;
                    w2.connection_closed();
                });
            }
            Some(Err(e)) => {
                crate::log_warn!("accept: {e}");
                // Out of descriptors or similar: back off briefly instead of spinning.
                monoio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

/// One client connection.
pub struct Conn {
    /// The socket, plain or TLS.
    pub stream: tls::ClientStream,
    /// Peer address.
    pub peer: SocketAddr,
    /// Bytes read but not yet consumed (the next request, pipelined or partial).
    pub buf: Vec<u8>,
    /// Output buffer, reused.
    pub out: Vec<u8>,
    /// A `nonstream-keepalive-interval` newline already committed a `200`
    /// chunked head: the next complete response is sent as its body.
    pub committed_early: bool,
    /// Set by a WebSocket session while the request path answers one of
    /// its messages: what the path writes as an HTTP answer is transcoded
    /// into WebSocket frames on flush (the connection after a `101` belongs
    /// to the handler that upgraded it).
    pub ws: Option<Box<crate::ws::bridge::Bridge>>,
    /// Rewrites the response bytes at each flush while set (the Amp
    /// response rewriter on one request); `None` on every other request.
    pub filter: Option<Box<dyn OutFilter>>,
    /// The request's observability trace (request log, access log,
    /// metrics); `None` unless one of them is on (see [`crate::obs`]).
    pub trace: Option<Box<crate::obs::Trace>>,
    /// The timer of [`Conn::client_gone_after`], made on the first wait and
    /// kept for the connection's life (see there).
    pub watch: Option<Pin<Box<monoio::time::Sleep>>>,
    /// A timer for the request path's upstream waits
    /// ([`crate::upstream::send_timed`]), kept for the connection's life
    /// like [`Conn::watch`]; a path that uses it takes it and puts it back.
    pub upstream_timer: Option<Pin<Box<monoio::time::Sleep>>>,
}

/// A rewrite of a handler's response bytes on their way out (see
/// [`Conn::filter`]): called with everything written since the last flush.
pub trait OutFilter {
    /// Replaces `out` with the bytes to send (possibly none yet).
    fn filter(&mut self, out: &mut Vec<u8>);
}

impl Conn {
    /// A connection with nothing read, `out_capacity` bytes of output
    /// buffer, and no per-request state (trace, filter, WebSocket bridge,
    /// timers) yet.
    pub fn new(
        stream: tls::ClientStream,
        peer: SocketAddr,
        buf: Vec<u8>,
        out_capacity: usize,
    ) -> Conn {
        Conn {
            stream,
            peer,
            buf,
            out: Vec::with_capacity(out_capacity),
            committed_early: false,
            ws: None,
            filter: None,
            trace: None,
            watch: None,
            upstream_timer: None,
        }
    }

    /// Reads more bytes into `buf`. `Ok(0)` is end of stream.
    pub async fn read_more(&mut self) -> io::Result<usize> {
        self.stream.read_more(&mut self.buf).await
    }

    /// Commits a `200` chunked JSON response (once) and writes one `\n` chunk.
    pub async fn keepalive_newline(&mut self) -> io::Result<()> {
        if self.ws.is_some() {
            return Ok(());
        }
        let mut v = Vec::with_capacity(160);
        if !self.committed_early {
            crate::h1::encode::status_line(&mut v, 200);
            crate::h1::encode::header(&mut v, "Content-Type", b"application/json; charset=utf-8");
            crate::h1::encode::header(&mut v, "Access-Control-Allow-Origin", b"*");
            crate::h1::encode::header(&mut v, "Transfer-Encoding", b"chunked");
            v.extend_from_slice(b"\r\n");
            self.committed_early = true;
        }
        crate::h1::encode::chunk(&mut v, b"\n");
        if let Some(t) = self.trace.as_mut() {
            t.on_flush(&v);
        }
        self.stream.write_all(v).await.0
    }

    /// After an early commit, a complete response in `out` becomes the body
    /// of the committed one: its head is dropped (its status can no longer
    /// be sent) and its body goes out as the final chunks.
    fn rewrite_after_commit(&mut self) {
        if !self.committed_early || !self.out.starts_with(b"HTTP/1.1 ") {
            return;
        }
        let Some(end) = crate::h1::find_head_end(&self.out, 0) else {
            return;
        };
        let chunked =
            memchr::memmem::find(&self.out[..end], b"Transfer-Encoding: chunked").is_some();
        let mut v = Vec::with_capacity(self.out.len() - end + 32);
        if chunked {
            v.extend_from_slice(&self.out[end..]);
        } else {
            crate::h1::encode::chunk(&mut v, &self.out[end..]);
            v.extend_from_slice(crate::h1::encode::LAST_CHUNK);
        }
        self.out = v;
        self.committed_early = false;
    }

    /// Writes `out` fully and clears it.
    pub async fn flush(&mut self) -> io::Result<()> {
        // The filter sees whole responses (head first), before an early
        // commit turns one into the body of the committed answer.
        if let Some(f) = self.filter.as_mut() {
            f.filter(&mut self.out);
        }
        self.rewrite_after_commit();
        if let Some(t) = self.trace.as_mut() {
            t.on_flush(&self.out);
        }
        if let Some(bridge) = self.ws.as_mut() {
            bridge.transcode(&mut self.out);
        }
        if self.out.is_empty() {
            return Ok(());
        }
        let v = std::mem::take(&mut self.out);
        let (r, mut v) = self.stream.write_all(v).await;
        v.clear();
        self.out = v;
        r
    }

    /// Like [`Conn::client_gone`], but only starts watching after `delay`.
    /// Fast exchanges then cost no readiness operation at all; a client that
    /// leaves during a slow one is still noticed within `delay` of leaving
    /// (or at the next write, whichever comes first).
    ///
    /// One timer serves every wait of the connection: each call moves its
    /// deadline to `delay` from now. Pushing a pending timer's deadline out
    /// only rewrites it (the wheel moves the entry when the old tick comes),
    /// where a fresh timer per wait cost an insert and a removal. A deadline
    /// that passes while nothing waits wakes the task once, harmlessly. The
    /// watch itself (rare: only a wait longer than `delay` reaches it) is
    /// boxed so the future the callers hold stays small.
    pub async fn client_gone_after(&mut self, delay: Duration) {
        let deadline = deadline_after(monoio::time::cached_now(), delay);
        match self.watch.as_mut() {
            Some(t) => t.as_mut().reset(deadline),
            None => self.watch = Some(Box::pin(monoio::time::sleep_until(deadline))),
        }
        if let Some(t) = self.watch.as_mut() {
            t.as_mut().await;
        }
        Box::pin(self.client_gone()).await
    }

    /// Resolves when the client has closed its side (EOF, error, TLS
    /// close_notify). Pipelined bytes are kept for the next read; if any
    /// arrive this never resolves, so the request in progress runs to its end.
    pub async fn client_gone(&mut self) {
        self.stream.client_gone().await
    }
}

/// A complete request: head and body bytes in one buffer.
pub struct Request<'a> {
    /// Head bytes followed by the (decoded) body.
    pub buf: &'a [u8],
    /// Parsed head; spans point into `buf`.
    pub head: &'a RequestHead,
    /// Where the body starts in `buf` (it runs to the end).
    pub body_start: usize,
}

impl Request<'_> {
    /// The client's key as presented (`Authorization` Bearer or raw,
    /// `X-Api-Key`, `X-Goog-Api-Key`, `?key=`); `""` for an open relay.
    pub fn client_key(&self) -> String {
        let raw = self
            .header("authorization")
            .map(|a| {
                let bearer = a.len() > 7 && a[..7].eq_ignore_ascii_case(b"bearer ");
                if bearer {
                    &a[7..]
                } else {
                    a
                }
            })
            .or_else(|| self.header("x-api-key"))
            .or_else(|| self.header("x-goog-api-key"))
            .or_else(|| crate::h1::query::query_param(self.query(), "key"))
            .unwrap_or_default();
        String::from_utf8_lossy(raw).trim().to_string()
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.buf[self.body_start..]
    }
    /// Method bytes.
    pub fn method(&self) -> &[u8] {
        self.head.method.get(self.buf)
    }
    /// Path (no query).
    pub fn path(&self) -> &[u8] {
        self.head.path(self.buf)
    }
    /// Query string (no `?`).
    pub fn query(&self) -> &[u8] {
        self.head.query(self.buf)
    }
    /// A header value.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.head.header(self.buf, name)
    }
}

enum HeadOutcome {
    Ready,
    Closed,
    Error(u16, &'static str),
}

/// `now + d`, or a year from now if that overflows.
fn deadline_after(now: Instant, d: Duration) -> Instant {
    now.checked_add(d)
        .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365))
}

/// Reads until `conn.buf` holds a whole head, under the idle timeout (nothing
/// read yet) or the head timeout (from the head's first bytes). `timer` is
/// the connection's own and is moved for each wait: pushing a pending
/// timer's deadline out only rewrites it, where a `timeout` per wait armed
/// and cancelled a fresh timer per request.
async fn read_head<H: Host>(
    w: &H,
    conn: &mut Conn,
    head: &mut RequestHead,
    mut timer: Pin<&mut monoio::time::Sleep>,
) -> HeadOutcome {
    let t = w.timeouts();
    let mut scanned = 0;
    // When the head's first bytes were seen (the head timeout runs from
    // there, not from the start of a keep-alive wait); read only then.
    let mut start: Option<Instant> = None;
    loop {
        if !conn.buf.is_empty() {
            if h1::find_head_end(&conn.buf, scanned).is_some()
                || conn.buf.len() > h1::MAX_HEAD_BYTES
            {
                return match h1::parse_request_head(&conn.buf, head) {
                    Ok(Some(())) => HeadOutcome::Ready,
                    Ok(None) => HeadOutcome::Error(431, "request header fields too large"),
                    Err(e) => HeadOutcome::Error(e.status(), e.message()),
                };
            }
            scanned = conn.buf.len();
        }
        let idle = conn.buf.is_empty();
        let deadline = if idle {
            deadline_after(monoio::time::cached_now(), t.idle)
        } else {
            deadline_after(*start.get_or_insert_with(monoio::time::cached_now), t.head)
        };
        timer.as_mut().reset(deadline);
        let shutdown = w.shutdown().clone();
        // Biased: the read first, as `timeout` polls its future first.
        let r = monoio::select! {
            biased;
            r = conn.read_more() => Some(Ok(r)),
            _ = timer.as_mut() => Some(Err(())),
            _ = shutdown.wait(), if idle => None,
        };
        match r {
            None => return HeadOutcome::Closed,
            Some(Err(())) if idle => return HeadOutcome::Closed,
            Some(Err(())) => return HeadOutcome::Error(408, "request head timeout"),
            Some(Ok(Ok(0))) | Some(Ok(Err(_))) => return HeadOutcome::Closed,
            Some(Ok(Ok(_))) => {}
        }
    }
}

/// Reads the body into `conn.buf` after the head; returns the bytes of
/// `conn.buf` the request occupies (head + raw body) and the decoded body.
async fn read_body<H: Host>(
    w: &H,
    conn: &mut Conn,
    head: &RequestHead,
    limit: usize,
) -> Result<Vec<u8>, (u16, &'static str)> {
    let hl = head.head_len;
    let mut decoded = Vec::new();
    match head.body {
        BodyKind::None => {
            let rest = conn.buf.split_off(hl);
            let req = std::mem::replace(&mut conn.buf, rest);
            decoded = req;
        }
        BodyKind::Length(n) => {
            if n > limit as u64 {
                return Err((413, "request body too large"));
            }
            let n = n as usize;
            if head.expect_continue && conn.buf.len() < hl + n {
                conn.out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
                conn.flush().await.map_err(|_| (400, "write failed"))?;
            }
            while conn.buf.len() < hl + n {
                match monoio::time::loop_timeout(w.timeouts().body, conn.read_more()).await {
                    Ok(Ok(0)) | Ok(Err(_)) => return Err((400, "connection closed during body")),
                    Err(_) => return Err((408, "request body timeout")),
                    Ok(Ok(_)) => {}
                }
            }
            let rest = conn.buf.split_off(hl + n);
            decoded = std::mem::replace(&mut conn.buf, rest);
        }
        BodyKind::Chunked => {
            if head.expect_continue && conn.buf.len() == hl {
                conn.out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
                conn.flush().await.map_err(|_| (400, "write failed"))?;
            }
            decoded.extend_from_slice(&conn.buf[..hl]);
            let mut dec = ChunkedDecoder::new();
            let mut pos = hl;
            loop {
                if pos < conn.buf.len() {
                    let p = dec
                        .feed(&conn.buf[pos..], |d| decoded.extend_from_slice(d))
                        .map_err(|_| (400, "malformed chunked body"))?;
                    pos += p.consumed;
                    if decoded.len() - hl > limit {
                        return Err((413, "request body too large"));
                    }
                    if p.done {
                        break;
                    }
                }
                match monoio::time::loop_timeout(w.timeouts().body, conn.read_more()).await {
                    Ok(Ok(0)) | Ok(Err(_)) => return Err((400, "connection closed during body")),
                    Err(_) => return Err((408, "request body timeout")),
                    Ok(Ok(_)) => {}
                }
            }
            conn.buf.drain(..pos);
        }
    }
    Ok(decoded)
}

/// An error answered before a request could be parsed (400/408/413/431 from
/// the h1 layer): the error model's body for an invalid request, in
/// CLIProxyAPI's OpenAI shape, and the connection closes.
pub fn error_plain(
    out: &mut Vec<u8>,
    status: u16,
    message: impl Into<std::borrow::Cow<'static, str>>,
) {
    let e = Error::new(ErrorKind::InvalidRequest { status }, message);
    let mut body = Vec::with_capacity(64 + e.message.len());
    e.write_body(crate::translate::format::Format::OpenAiChat, &mut body);
    encode::status_line(out, e.status());
    encode::header(out, "Content-Type", e.content_type());
    encode::content_length(out, body.len());
    encode::header(out, "Connection", b"close");
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&body);
}

/// Serves one connection until it closes, errs, or the worker shuts down.
pub async fn serve<H: Host, A: Handler<H>>(w: &Rc<H>, stream: tls::ClientStream, peer: SocketAddr) {
    serve_with::<H, A>(w, stream, peer, Vec::with_capacity(16 * 1024)).await
}

/// [`serve`], with `buf` holding bytes already read from the connection.
pub async fn serve_with<H: Host, A: Handler<H>>(
    w: &Rc<H>,
    stream: tls::ClientStream,
    peer: SocketAddr,
    buf: Vec<u8>,
) {
    let mut conn = Conn::new(stream, peer, buf, 16 * 1024);
    let mut head = RequestHead::default();
    // The idle and head timeouts' timer (see `read_head`); registered on
    // its first wait, kept for the connection's life.
    let mut timer = std::pin::pin!(monoio::time::sleep_until(monoio::time::cached_now()));
    loop {
        match read_head(&**w, &mut conn, &mut head, timer.as_mut()).await {
            HeadOutcome::Closed => return,
            HeadOutcome::Error(status, msg) => {
                error_plain(&mut conn.out, status, msg);
                let _ = conn.flush().await;
                return;
            }
            HeadOutcome::Ready => {}
        }
        let limit = w.body_limit();
        let mut buf = match read_body(&**w, &mut conn, &head, limit).await {
            Ok(b) => b,
            Err((status, msg)) => {
                error_plain(&mut conn.out, status, msg);
                let _ = conn.flush().await;
                return;
            }
        };
        // Content-Encoding (zstd from Codex CLI) is undone here, once,
        // before routing: everything after sees the decoded body only.
        let enc = head.header(&buf, "content-encoding").map(<[u8]>::to_vec);
        if let Err((status, msg)) =
            encoding::decode_body(&mut buf, head.head_len, enc.as_deref(), limit)
        {
            error_plain(&mut conn.out, status, msg);
            let _ = conn.flush().await;
            return;
        }
        let req = Request {
            buf: &buf,
            body_start: head.head_len,
            head: &head,
        };
        let keep = A::handle(w, &mut conn, &req).await;
        w.request_done();
        if !keep || !head.keep_alive || w.shutdown().is_fired() {
            return;
        }
        // Reuse the request's allocation as the read buffer when nothing is
        // pipelined, but never keep more than CONN_KEPT_BUF per idle
        // connection: one large request or response must not pin its
        // buffer for the rest of a keep-alive connection's life.
        if conn.buf.is_empty() && buf.capacity() > conn.buf.capacity() {
            buf.clear();
            conn.buf = buf;
        }
        if conn.buf.is_empty() && conn.buf.capacity() > CONN_KEPT_BUF {
            conn.buf = Vec::new();
        }
        if conn.out.capacity() > CONN_KEPT_BUF {
            conn.out = Vec::with_capacity(16 * 1024);
        }
    }
}

#[cfg(test)]
mod churn_tests;
#[cfg(test)]
mod h2_churn_tests;
#[cfg(test)]
mod watch_tests;
