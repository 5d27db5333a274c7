//! HTTP/2 to clients: ALPN `h2` on the TLS listener, and h2c with prior
//! knowledge on the plain listener when `http2-cleartext` is on.
//!
//! The `h2` crate runs over the shared adapter [`crate::h2io::H2Io`] (a
//! server TLS session, or plain TCP). One task per connection polls the h2
//! `Connection` (all frame I/O, flow control, SETTINGS, GOAWAY); each
//! accepted stream runs in its own task on the same worker.
//!
//! The request path is the one HTTP/1.1 uses, not a copy of it. A stream's
//! request head is written out as an HTTP/1.1 head (pseudo-headers become the
//! request line and `host`, connection-specific headers are dropped, the
//! body's real length becomes `content-length`) and parsed by the same
//! parser into the same [`Request`] view; the body limit (413) and
//! `Content-Encoding: zstd` decoding apply as on HTTP/1.1. The [`Handler`]
//! writes its response into a [`Conn`] exactly as for HTTP/1.1: the
//! connection's byte stream is an [`H2Response`], which reads those HTTP/1.1
//! response bytes incrementally (head, then a `Content-Length` or chunked
//! body) and sends them as one HEADERS frame and DATA frames. A write
//! returns only once its bytes fit the client's flow-control window, so a
//! slow reader holds the relay back instead of growing buffers (at most
//! [`SEND_BUFFER`] per stream waits inside h2). A client's RST_STREAM makes
//! [`Conn::client_gone`] resolve and further writes fail, which ends the
//! upstream exchange just as an HTTP/1.1 disconnect does.
//!
//! Limits: [`MAX_CONCURRENT_STREAMS`] streams per connection, header lists
//! up to [`crate::h1::MAX_HEAD_BYTES`], the handshake within the head
//! timeout, a connection with no open stream for the idle timeout is closed
//! with GOAWAY, and on shutdown every connection sends GOAWAY and closes once
//! its open streams finished.

use super::{error_plain, Conn, Handler, Host, Request};
use crate::h1::response::RespBody;
use crate::h1::{parse_request_head, parse_response_head, ChunkedDecoder, RequestHead};
use crate::h1::{ResponseHead, MAX_HEAD_BYTES};
use crate::h2io::{H2Io, Wire};
use bytes::{Bytes, BytesMut};
use h2::server::SendResponse;
use h2::{RecvStream, SendStream};
use std::borrow::Cow;
use std::cell::Cell;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// The client connection preface (RFC 9113 §3.4): an h2c client with prior
/// knowledge starts with these bytes.
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Streams a client may have open at once on one connection (SDKs open a
/// handful; agents with parallel tool calls a few dozen).
pub const MAX_CONCURRENT_STREAMS: u32 = 256;

/// Per-stream receive window: request bodies of agent clients are often
/// several MiB, and a larger window saves WINDOW_UPDATE round trips.
pub const STREAM_WINDOW: u32 = 1 << 20;

/// Connection receive window (bounds what all streams may have in flight).
pub const CONN_WINDOW: u32 = 4 << 20;

/// Response bytes one stream may have queued inside h2 beyond what the
/// client's window lets through. A write waits for window past this.
pub const SEND_BUFFER: usize = 256 * 1024;

/// After GOAWAY, how long a connection with no open stream may take to
/// finish the exchange (the client's PING answer) before it is dropped.
pub const GOAWAY_GRACE: Duration = Duration::from_secs(5);

/// Live h2 client connections over all workers (tests, diagnostics).
static LIVE_CONNS: AtomicUsize = AtomicUsize::new(0);
/// Live h2 client streams over all workers (tests, diagnostics).
static LIVE_STREAMS: AtomicUsize = AtomicUsize::new(0);

/// h2 client connections still being served (all workers).
pub fn live_connections() -> usize {
    LIVE_CONNS.load(Ordering::Relaxed)
}

/// h2 client streams still being served (all workers).
pub fn live_streams() -> usize {
    LIVE_STREAMS.load(Ordering::Relaxed)
}

struct Live(&'static AtomicUsize);

impl Live {
    fn new(c: &'static AtomicUsize) -> Live {
        c.fetch_add(1, Ordering::Relaxed);
        Live(c)
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The open streams of one connection, and a change notification for the
/// connection task (idle timer, waiting for streams to finish).
#[derive(Default)]
struct Streams {
    open: Cell<usize>,
    generation: Cell<u64>,
    waker: Cell<Option<Waker>>,
}

impl Streams {
    fn add(&self, d: isize) {
        self.open.set(self.open.get().saturating_add_signed(d));
        self.generation.set(self.generation.get().wrapping_add(1));
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }

    /// Resolves at the next change of the open count.
    fn changed(&self) -> Changed<'_> {
        Changed {
            s: self,
            at: self.generation.get(),
        }
    }
}

struct Changed<'a> {
    s: &'a Streams,
    at: u64,
}

impl Future for Changed<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.s.generation.get() != self.at {
            return Poll::Ready(());
        }
        // One waiter: the connection task.
        self.s.waker.set(Some(cx.waker().clone()));
        Poll::Pending
    }
}

/// A stream's slot: counted while its task runs.
struct StreamGuard {
    streams: Rc<Streams>,
    _live: Live,
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.streams.add(-1);
    }
}

fn builder() -> h2::server::Builder {
    let mut b = h2::server::Builder::new();
    b.max_concurrent_streams(MAX_CONCURRENT_STREAMS)
        .max_header_list_size(MAX_HEAD_BYTES as u32)
        .initial_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONN_WINDOW)
        .max_send_buffer_size(SEND_BUFFER);
    b
}

#[allow(
    clippy::large_enum_variant,
    reason = "a transient value of the connection loop, never stored"
)]
enum Event {
    Stream(http::Request<RecvStream>, SendResponse<Bytes>),
    Closed,
    Drain,
    GiveUp,
    Changed,
}

/// Serves one HTTP/2 connection until it closes, fails, idles out or the
/// worker shuts down; returns once every stream task on it has finished.
pub async fn serve<H: Host, A: Handler<H>, S: Wire + Unpin + 'static>(
    w: &Rc<H>,
    io: H2Io<S>,
    peer: SocketAddr,
) {
    let t = w.timeouts();
    let shutdown = w.shutdown().clone();
    let hs = builder().handshake::<_, Bytes>(io);
    let done = monoio::select! {
        r = monoio::time::timeout(t.head, hs) => Some(r),
        _ = shutdown.wait() => None,
    };
    let mut conn = match done {
        Some(Ok(Ok(c))) => c,
        Some(Ok(Err(e))) => {
            crate::log_debug!("h2 handshake with {peer} failed: {e}");
            return;
        }
        Some(Err(_)) => {
            crate::log_debug!("h2 handshake with {peer} timed out");
            return;
        }
        None => return,
    };
    let _live = Live::new(&LIVE_CONNS);
    let streams = Rc::new(Streams::default());
    let mut draining = false;
    loop {
        let idle = streams.open.get() == 0;
        let ev = monoio::select! {
            r = conn.accept() => match r {
                Some(Ok((req, respond))) => Event::Stream(req, respond),
                Some(Err(e)) => {
                    crate::log_debug!("h2 connection with {peer} ended: {e}");
                    Event::Closed
                }
                None => Event::Closed,
            },
            _ = shutdown.wait(), if !draining => Event::Drain,
            _ = monoio::time::sleep(t.idle), if idle && !draining => Event::Drain,
            _ = monoio::time::sleep(GOAWAY_GRACE), if idle && draining => Event::GiveUp,
            _ = streams.changed() => Event::Changed,
        };
        match ev {
            Event::Stream(req, respond) => {
                streams.add(1);
                let guard = StreamGuard {
                    streams: streams.clone(),
                    _live: Live::new(&LIVE_STREAMS),
                };
                monoio::spawn(stream::<H, A>(w.clone(), req, respond, peer, guard));
            }
            Event::Drain => {
                conn.graceful_shutdown();
                draining = true;
            }
            Event::Closed | Event::GiveUp => break,
            Event::Changed => {}
        }
    }
    // Dropping the connection fails whatever its streams still wait on, so
    // their tasks end promptly; the connection counts as open until they have.
    drop(conn);
    while streams.open.get() > 0 {
        streams.changed().await;
    }
}

/// One stream: read the request, run the handler, end the response.
async fn stream<H: Host, A: Handler<H>>(
    w: Rc<H>,
    req: http::Request<RecvStream>,
    respond: SendResponse<Bytes>,
    peer: SocketAddr,
    _guard: StreamGuard,
) {
    let head_request = req.method() == http::Method::HEAD;
    let limit = w.body_limit();
    let read = read_request(&*w, req, limit).await;
    // The stream type is the server module's; it wraps an h2 response. No
    // WebSocket over HTTP/2 (no extended CONNECT).
    let stream = Box::new(H2Response::new(respond, head_request)).into();
    let mut conn = Conn::new(stream, peer, Vec::new(), 4096);
    let mut buf = match read {
        Ok(b) => b,
        Err((status, msg)) => {
            error_plain(&mut conn.out, status, msg);
            let _ = conn.flush().await;
            return;
        }
    };
    let mut head = RequestHead::default();
    match parse_request_head(&buf, &mut head) {
        Ok(Some(())) => {}
        Ok(None) => {
            error_plain(&mut conn.out, 400, "malformed request head");
            let _ = conn.flush().await;
            return;
        }
        Err(e) => {
            error_plain(&mut conn.out, e.status(), e.message());
            let _ = conn.flush().await;
            return;
        }
    }
    let enc = head.header(&buf, "content-encoding").map(<[u8]>::to_vec);
    if let Err((status, msg)) =
        super::encoding::decode_body(&mut buf, head.head_len, enc.as_deref(), limit)
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
    A::handle(&w, &mut conn, &req).await;
    w.request_done();
}

/// Request headers that are connection-specific (not allowed in h2, or
/// re-derived here: `host` from `:authority`, `content-length` from the body).
fn dropped_request_header(name: &str) -> bool {
    matches!(
        name,
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "transfer-encoding"
            | "upgrade"
            | "te"
            | "content-length"
    )
}

type ReadError = (u16, Cow<'static, str>);

/// Reads a stream's request into one buffer: an HTTP/1.1 head with the
/// body's real length, then the body. The body limit applies to the
/// declared and to the received length.
async fn read_request<H: Host>(
    w: &H,
    req: http::Request<RecvStream>,
    limit: usize,
) -> Result<Vec<u8>, ReadError> {
    let (parts, mut body) = req.into_parts();
    let Some(target) = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .filter(|p| p.starts_with('/'))
    else {
        return Err((400, Cow::Borrowed("malformed request target")));
    };
    if let Some(v) = parts.headers.get(http::header::CONTENT_LENGTH) {
        match crate::h1::parse_content_length(v.as_bytes()) {
            Some(n) if n > limit as u64 => {
                return Err((413, Cow::Borrowed("request body too large")))
            }
            Some(_) => {}
            None => return Err((400, Cow::Borrowed("invalid content-length"))),
        }
    }
    let declared_body = parts.headers.contains_key(http::header::CONTENT_LENGTH);
    let mut frames: Vec<Bytes> = Vec::new();
    let mut total = 0usize;
    if !body.is_end_stream() {
        let timeout = w.timeouts().body;
        loop {
            match monoio::time::loop_timeout(timeout, body.data()).await {
                Err(_) => return Err((408, Cow::Borrowed("request body timeout"))),
                Ok(None) => break,
                Ok(Some(Err(_))) => {
                    return Err((400, Cow::Borrowed("request stream failed during body")))
                }
                Ok(Some(Ok(d))) => {
                    let _ = body.flow_control().release_capacity(d.len());
                    total += d.len();
                    if total > limit {
                        return Err((413, Cow::Borrowed("request body too large")));
                    }
                    if !d.is_empty() {
                        frames.push(d);
                    }
                }
            }
        }
    }
    let mut buf = Vec::with_capacity(512 + total);
    write_head(
        &mut buf,
        &parts,
        target,
        (total > 0 || declared_body).then_some(total),
    );
    for f in &frames {
        buf.extend_from_slice(f);
    }
    Ok(buf)
}

/// Writes the HTTP/1.1 head of an h2 request (see [`read_request`]).
fn write_head(
    buf: &mut Vec<u8>,
    parts: &http::request::Parts,
    target: &str,
    length: Option<usize>,
) {
    use std::io::Write;
    buf.extend_from_slice(parts.method.as_str().as_bytes());
    buf.push(b' ');
    buf.extend_from_slice(target.as_bytes());
    buf.extend_from_slice(b" HTTP/1.1\r\n");
    if !parts.headers.contains_key(http::header::HOST) {
        if let Some(a) = parts.uri.authority() {
            crate::h1::encode::header(buf, "host", a.as_str().as_bytes());
        }
    }
    for (name, value) in &parts.headers {
        if dropped_request_header(name.as_str()) {
            continue;
        }
        crate::h1::encode::header(buf, name.as_str(), value.as_bytes());
    }
    if let Some(n) = length {
        let _ = write!(buf, "content-length: {n}\r\n");
    }
    buf.extend_from_slice(b"\r\n");
}

/// Response headers that are connection-specific in HTTP/1.1 and forbidden
/// in h2.
fn dropped_response_header(name: &[u8]) -> bool {
    [
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "upgrade",
    ]
    .iter()
    .any(|h| name.eq_ignore_ascii_case(h.as_bytes()))
}

/// Where the HTTP/1.1 response being converted stands.
enum Framing {
    /// Waiting for (the rest of) the head.
    Head,
    /// This many body bytes still to come.
    Length(u64),
    /// A chunked body.
    Chunked(ChunkedDecoder),
    /// A body without framing: it ends when the handler is done.
    UntilEnd,
    /// The response ended.
    Done,
}

/// What one [`ResponseConverter::feed`] produced.
pub struct Fed {
    /// The response head, once complete, and whether it ends the response
    /// (no body: END_STREAM on HEADERS).
    pub head: Option<(http::Response<()>, bool)>,
    /// The body is complete (END_STREAM on the last DATA).
    pub end: bool,
}

/// Reads the HTTP/1.1 response bytes a handler writes, incrementally (the
/// input may be split at any byte): the head becomes an h2 response head
/// (connection-specific headers dropped, interim 1xx heads skipped), the
/// body is un-framed (`Content-Length` or chunked) into a byte buffer.
pub struct ResponseConverter {
    head_request: bool,
    framing: Framing,
    /// Head bytes while the head is incomplete.
    head_buf: Vec<u8>,
}

impl ResponseConverter {
    /// A converter for one response; `head_request`: the request was HEAD.
    pub fn new(head_request: bool) -> ResponseConverter {
        ResponseConverter {
            head_request,
            framing: Framing::Head,
            head_buf: Vec::new(),
        }
    }

    /// Whether the response is complete.
    pub fn is_done(&self) -> bool {
        matches!(self.framing, Framing::Done)
    }

    /// Whether the body runs until the handler is done (no framing).
    pub fn until_end(&self) -> bool {
        matches!(self.framing, Framing::UntilEnd)
    }

    /// Takes the next bytes; body bytes are appended to `body`. Bytes after
    /// the end of the response are ignored.
    pub fn feed(&mut self, data: &[u8], body: &mut BytesMut) -> io::Result<Fed> {
        let mut fed = Fed {
            head: None,
            end: false,
        };
        let mut data = data;
        let owned: Vec<u8>;
        if !self.head_buf.is_empty() {
            // Rare: the head came in pieces.
            self.head_buf.extend_from_slice(data);
            owned = std::mem::take(&mut self.head_buf);
            data = &owned;
        }
        while matches!(self.framing, Framing::Head) {
            if data.is_empty() {
                return Ok(fed);
            }
            let mut rh = ResponseHead::default();
            match parse_response_head(data, self.head_request, &mut rh) {
                Ok(None) => {
                    self.head_buf = data.to_vec();
                    return Ok(fed);
                }
                Err(m) => return Err(io::Error::new(io::ErrorKind::InvalidData, m)),
                Ok(Some(())) => {}
            }
            if rh.status >= 200 {
                self.framing = match rh.body {
                    Some(RespBody::Length(n)) => Framing::Length(n),
                    Some(RespBody::Chunked) => Framing::Chunked(ChunkedDecoder::new()),
                    Some(RespBody::Close) => Framing::UntilEnd,
                    Some(RespBody::Empty) | None => Framing::Done,
                };
                fed.head = Some((response_head(data, &rh), self.is_done()));
            }
            data = &data[rh.head_len..];
        }
        match &mut self.framing {
            Framing::Head | Framing::Done => {}
            Framing::UntilEnd => body.extend_from_slice(data),
            Framing::Length(left) => {
                let n = (*left).min(data.len() as u64) as usize;
                *left -= n as u64;
                body.extend_from_slice(&data[..n]);
                if *left == 0 {
                    self.framing = Framing::Done;
                    fed.end = true;
                }
            }
            Framing::Chunked(dec) => {
                let p = dec
                    .feed(data, |d| body.extend_from_slice(d))
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{e:?}")))?;
                if p.done {
                    self.framing = Framing::Done;
                    fed.end = true;
                }
            }
        }
        Ok(fed)
    }
}

/// The h2 response head for a parsed HTTP/1.1 head in `buf`.
fn response_head(buf: &[u8], rh: &ResponseHead) -> http::Response<()> {
    let mut resp = http::Response::new(());
    *resp.status_mut() =
        http::StatusCode::from_u16(rh.status).unwrap_or(http::StatusCode::BAD_GATEWAY);
    let headers = resp.headers_mut();
    for (n, v) in &rh.headers {
        let (n, v) = (n.get(buf), v.get(buf));
        if dropped_response_header(n) {
            continue;
        }
        // A header h2 cannot carry is left out rather than failing the response.
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(n),
            http::HeaderValue::from_bytes(v),
        ) {
            headers.append(n, v);
        }
    }
    resp
}

fn broken(e: h2::Error) -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, format!("h2 stream: {e}"))
}

/// A stream's response side: takes the HTTP/1.1 response bytes the handler
/// writes ([`ResponseConverter`]) and sends them as HEADERS and DATA frames,
/// within the client's flow-control window.
pub struct H2Response {
    respond: Option<SendResponse<Bytes>>,
    send: Option<SendStream<Bytes>>,
    conv: ResponseConverter,
    /// Body bytes being sent; DATA frames are split off it without copying.
    data: BytesMut,
}

impl H2Response {
    /// The response side of a stream; `head_request`: the request was HEAD.
    pub fn new(respond: SendResponse<Bytes>, head_request: bool) -> H2Response {
        H2Response {
            respond: Some(respond),
            send: None,
            conv: ResponseConverter::new(head_request),
            data: BytesMut::new(),
        }
    }

    /// Whether the response has been sent completely.
    pub fn is_done(&self) -> bool {
        self.conv.is_done()
    }

    /// Takes the next bytes of the HTTP/1.1 response; returns once they are
    /// handed to h2 within the client's window.
    pub async fn write(&mut self, data: &[u8]) -> io::Result<()> {
        let fed = self.conv.feed(data, &mut self.data)?;
        if let Some((head, end)) = fed.head {
            let Some(mut respond) = self.respond.take() else {
                return Err(io::Error::other("response head already sent"));
            };
            self.send = Some(respond.send_response(head, end).map_err(broken)?);
        }
        self.push(fed.end).await
    }

    /// Sends `self.data` as DATA frames, each within the capacity h2 has
    /// assigned (the client's window, at most [`SEND_BUFFER`] queued);
    /// `end` sets END_STREAM on the last.
    async fn push(&mut self, end: bool) -> io::Result<()> {
        let Some(send) = self.send.as_mut() else {
            return Ok(());
        };
        if self.data.is_empty() {
            if end {
                send.send_data(Bytes::new(), true).map_err(broken)?;
            }
            return Ok(());
        }
        while !self.data.is_empty() {
            send.reserve_capacity(self.data.len());
            let cap = loop {
                let c = send.capacity();
                if c > 0 {
                    break c;
                }
                match std::future::poll_fn(|cx| send.poll_capacity(cx)).await {
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(broken(e)),
                    None => {
                        return Err(io::Error::new(
                            io::ErrorKind::BrokenPipe,
                            "h2 stream closed by the client",
                        ))
                    }
                }
            };
            let n = cap.min(self.data.len());
            let chunk = self.data.split_to(n).freeze();
            let last = end && self.data.is_empty();
            send.send_data(chunk, last).map_err(broken)?;
        }
        Ok(())
    }

    /// Resolves when the client reset the stream or the connection failed.
    pub async fn reset(&mut self) {
        std::future::poll_fn(|cx| {
            let r = match (&mut self.send, &mut self.respond) {
                (Some(s), _) => s.poll_reset(cx),
                (None, Some(r)) => r.poll_reset(cx),
                (None, None) => return Poll::Ready(()),
            };
            r.map(|_| ())
        })
        .await
    }
}

impl Drop for H2Response {
    /// A body without framing ends when the handler is done; a response cut
    /// short is reset by h2 itself when its handles drop (RST_STREAM CANCEL).
    fn drop(&mut self) {
        if self.conv.until_end() {
            if let Some(s) = self.send.as_mut() {
                let _ = s.send_data(Bytes::new(), true);
            }
        }
    }
}

/// What the first bytes of a plain connection showed (`http2-cleartext`).
pub enum Sniffed {
    /// The h2 preface (or a prefix of it that is still arriving): HTTP/2.
    H2(Vec<u8>),
    /// Anything else: HTTP/1.1, starting with these bytes.
    H1(Vec<u8>),
    /// Closed, silent past the timeout, or shutdown before a request.
    Gone,
}

/// Reads just enough of a plain connection to tell the h2 preface from an
/// HTTP/1.1 request: stops at the first byte that differs from the preface.
/// An HTTP/1.1 request is never delayed (its first byte differs).
pub async fn sniff<H: Host>(w: &H, tcp: &mut monoio::net::TcpStream) -> Sniffed {
    use monoio::buf::IoBufMut;
    use monoio::io::AsyncReadRent;
    let t = w.timeouts();
    let start = std::time::Instant::now();
    let mut buf: Vec<u8> = Vec::with_capacity(16 * 1024);
    loop {
        if buf.len() >= PREFACE.len() || !PREFACE.starts_with(&buf) {
            return if buf.starts_with(PREFACE) {
                Sniffed::H2(buf)
            } else {
                Sniffed::H1(buf)
            };
        }
        let idle = buf.is_empty();
        let limit = if idle {
            t.idle
        } else {
            t.head.saturating_sub(start.elapsed())
        };
        let shutdown = w.shutdown().clone();
        let (len, cap) = (buf.len(), buf.capacity());
        let read = tcp.read(std::mem::take(&mut buf).slice_mut(len..cap));
        let r = monoio::select! {
            r = monoio::time::timeout(limit, read) => Some(r),
            _ = shutdown.wait(), if idle => None,
        };
        match r {
            Some(Ok((Ok(n), b))) if n > 0 => buf = b.into_inner(),
            _ => return Sniffed::Gone,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The HTTP/1.1 head written for an h2 request: request line from the
    /// pseudo-headers, `host` from `:authority`, connection headers and the
    /// client's `content-length` replaced by the real body length; the h1
    /// parser reads it back into the same view an h1 request gives.
    #[test]
    fn h2_request_head_as_http1() {
        let req = http::Request::builder()
            .method("POST")
            .uri("https://example.com:8443/v1/chat/completions?alt=sse")
            .header("authorization", "Bearer k")
            .header("te", "trailers")
            .header("connection", "keep-alive")
            .header("content-length", "999")
            .header("x-stainless-os", "Linux")
            .body(())
            .unwrap();
        let (parts, ()) = req.into_parts();
        let mut buf = Vec::new();
        write_head(&mut buf, &parts, "/v1/chat/completions?alt=sse", Some(2));
        buf.extend_from_slice(b"{}");
        let mut head = RequestHead::default();
        assert_eq!(parse_request_head(&buf, &mut head), Ok(Some(())));
        let r = Request {
            buf: &buf,
            head: &head,
            body_start: head.head_len,
        };
        assert_eq!(r.method(), b"POST");
        assert_eq!(r.path(), b"/v1/chat/completions");
        assert_eq!(r.query(), b"alt=sse");
        assert_eq!(r.header("host"), Some(&b"example.com:8443"[..]));
        assert_eq!(r.header("Authorization"), Some(&b"Bearer k"[..]));
        assert_eq!(r.header("x-stainless-os"), Some(&b"Linux"[..]));
        assert_eq!(r.header("content-length"), Some(&b"2"[..]));
        assert_eq!(r.header("te"), None);
        assert_eq!(r.header("connection"), None);
        assert_eq!(r.body(), b"{}");
        // No body and none declared: no content-length at all.
        let req = http::Request::builder()
            .uri("/v1/models")
            .header("host", "h")
            .body(())
            .unwrap();
        let (parts, ()) = req.into_parts();
        let mut buf = Vec::new();
        write_head(&mut buf, &parts, "/v1/models", None);
        assert_eq!(buf, b"GET /v1/models HTTP/1.1\r\nhost: h\r\n\r\n");
        // Bytes h2 allows in a value (obs-text, tabs) read back unchanged.
        let req = http::Request::builder()
            .uri("/x")
            .header(
                "x-name",
                http::HeaderValue::from_bytes(b"caf\xe9\tb").unwrap(),
            )
            .body(())
            .unwrap();
        let (parts, ()) = req.into_parts();
        let mut buf = Vec::new();
        write_head(&mut buf, &parts, "/x", None);
        let mut head = RequestHead::default();
        assert_eq!(parse_request_head(&buf, &mut head), Ok(Some(())));
        assert_eq!(head.header(&buf, "x-name"), Some(&b"caf\xe9\tb"[..]));
    }
    /// What a converter run produced: status, headers (lower-cased names,
    /// in order), body, END_STREAM on HEADERS, number of body ends.
    type Out = (u16, Vec<(String, String)>, Vec<u8>, bool, usize);

    /// Feeds `input` cut at `cuts`.
    fn convert(input: &[u8], head_request: bool, cuts: &[usize]) -> Out {
        let mut c = ResponseConverter::new(head_request);
        let mut body = BytesMut::new();
        let mut head = None;
        let mut ends = 0;
        let mut prev = 0;
        for &cut in cuts.iter().chain(std::iter::once(&input.len())) {
            let fed = c.feed(&input[prev..cut], &mut body).unwrap();
            prev = cut;
            if let Some(h) = fed.head {
                assert!(head.is_none(), "two heads");
                head = Some(h);
            }
            ends += usize::from(fed.end);
        }
        let (resp, end_on_head) = head.expect("no head");
        let headers = resp
            .headers()
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_string()))
            .collect();
        (
            resp.status().as_u16(),
            headers,
            body.to_vec(),
            end_on_head,
            ends,
        )
    }

    /// A plain whole-buffer reading of an HTTP/1.1 response.
    fn oracle(input: &[u8], head_request: bool) -> Out {
        let mut rest = input;
        loop {
            let end = rest.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
            let head = std::str::from_utf8(&rest[..end]).unwrap();
            let body = &rest[end + 4..];
            let mut lines = head.split("\r\n");
            let status: u16 = lines.next().unwrap()[9..12].parse().unwrap();
            if status < 200 {
                rest = body;
                continue;
            }
            let all: Vec<(String, String)> = lines
                .map(|l| {
                    let (n, v) = l.split_once(':').unwrap();
                    (n.trim().to_ascii_lowercase(), v.trim().to_string())
                })
                .collect();
            let get = |n: &str| all.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
            let headers = all
                .iter()
                .filter(|(n, _)| !dropped_response_header(n.as_bytes()))
                .cloned()
                .collect();
            if head_request || status == 204 || status == 304 {
                return (status, headers, Vec::new(), true, 0);
            }
            if get("transfer-encoding").is_some() {
                let mut out = Vec::new();
                let mut b = body;
                loop {
                    let le = b.windows(2).position(|w| w == b"\r\n").unwrap();
                    let size = std::str::from_utf8(&b[..le]).unwrap();
                    let size = usize::from_str_radix(size.split(';').next().unwrap(), 16).unwrap();
                    b = &b[le + 2..];
                    if size == 0 {
                        return (status, headers, out, false, 1);
                    }
                    out.extend_from_slice(&b[..size]);
                    b = &b[size + 2..];
                }
            }
            let n: usize = get("content-length").map_or(body.len(), |v| v.parse().unwrap());
            if n == 0 {
                return (status, headers, Vec::new(), true, 0);
            }
            return (status, headers, body[..n].to_vec(), false, 1);
        }
    }

    const RESPONSES: &[(&[u8], bool)] = &[
        (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\
Connection: close\r\n\r\nhello",
            false,
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\
X-A: b\r\nKeep-Alive: 5\r\n\r\n9\r\ndata: a\n\n\r\n5;ext=1\r\nhello\r\n0\r\n\r\n",
            false,
        ),
        // HEAD: the length is declared, no body follows.
        (b"HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n", true),
        (
            b"HTTP/1.1 204 No Content\r\nAccess-Control-Allow-Origin: *\r\n\r\n",
            false,
        ),
        (
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}",
            false,
        ),
        // A nonstream keep-alive commit: a newline chunk, then the JSON.
        (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n\
Transfer-Encoding: chunked\r\n\r\n1\r\n\n\r\n1\r\n\n\r\nc\r\n{\"ok\":true}\n\r\n0\r\n\r\n",
            false,
        ),
        // An empty Content-Length body ends on HEADERS; trailing bytes are ignored.
        (
            b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\nIGNORED",
            false,
        ),
        (
            b"HTTP/1.1 400 Bad Request\r\nContent-Length: 3\r\n\r\nabcEXTRA",
            false,
        ),
    ];

    /// The converter gives the oracle's result whole, cut once anywhere,
    /// cut twice anywhere, and fed one byte at a time.
    #[test]
    fn converter_whole_and_split_at_every_byte_match_oracle() {
        for &(input, head_request) in RESPONSES {
            let text = String::from_utf8_lossy(input);
            let want = oracle(input, head_request);
            assert_eq!(convert(input, head_request, &[]), want, "{text}");
            for i in 0..=input.len() {
                assert_eq!(convert(input, head_request, &[i]), want, "cut {i}: {text}");
                for j in i..=input.len() {
                    assert_eq!(
                        convert(input, head_request, &[i, j]),
                        want,
                        "{i},{j}: {text}"
                    );
                }
            }
            let every: Vec<usize> = (1..input.len()).collect();
            assert_eq!(convert(input, head_request, &every), want, "{text}");
        }
    }

    /// Malformed handler output is an error, never a panic.
    #[test]
    fn converter_rejects_malformed_output() {
        for bad in [
            &b"NOT HTTP\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        ] {
            let mut c = ResponseConverter::new(false);
            assert!(c.feed(bad, &mut BytesMut::new()).is_err());
        }
    }
}
