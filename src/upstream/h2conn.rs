//! HTTP/2 upstream connections: the connection task, stream handles, and the
//! request conversion from the HTTP/1.1 bytes the pipeline builds.
//!
//! A connection whose TLS handshake negotiated ALPN `h2` is wrapped in
//! [`H2Io`] and handed to the `h2` crate. Its `Connection` future (all frame
//! I/O, flow control, GOAWAY/RST_STREAM handling) runs in its own
//! `monoio::spawn`ed task on the worker that opened it; requests hold a cheap
//! clone of its `SendRequest`. The task also sends a PING every
//! [`PING_INTERVAL`] and ends the connection when no PONG comes back within
//! [`PING_TIMEOUT`], so a silently dead peer fails its streams instead of
//! hanging them. When the task ends, every open stream on it fails: before
//! the response head that is an [`UpstreamError::Connect`] (the pipeline
//! fails over), after it a body read error (the client's stream ends).

use super::{
    Endpoint, UpstreamError, BODY_IDLE_TIMEOUT, CONNECT_TIMEOUT, FIRST_BYTE_TIMEOUT, POOL_IDLE,
};
use crate::h2io::H2Io;
use bytes::Bytes;
use h2::client::SendRequest;
use h2::RecvStream;
use std::cell::Cell;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

/// Per-stream receive window. Long SSE streams never wait on a
/// WINDOW_UPDATE round trip; the relay reads as data arrives, so this bounds
/// buffering only for a client that stopped reading.
pub const STREAM_WINDOW: u32 = 4 << 20;
/// Connection receive window: many concurrent streams at full speed.
pub const CONN_WINDOW: u32 = 16 << 20;
/// Silence after which the connection task checks the peer with a PING.
pub const PING_INTERVAL: Duration = Duration::from_secs(30);
/// Time allowed for the PONG before the connection is treated as dead.
pub const PING_TIMEOUT: Duration = Duration::from_secs(20);

/// Live h2 connection tasks over all workers (tests, diagnostics).
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// Number of h2 connection tasks still running (all workers).
pub fn live_connections() -> usize {
    LIVE.load(Ordering::Relaxed)
}

struct LiveGuard;

impl Drop for LiveGuard {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One h2 connection as the pool keeps it.
pub(super) struct H2Conn {
    send: SendRequest<Bytes>,
    /// Set when the connection task ended (GOAWAY done, reset, dead peer).
    closed: Rc<Cell<bool>>,
    /// Streams handed out and not yet finished.
    inflight: Rc<Cell<usize>>,
    last_used: Rc<Cell<Instant>>,
}

impl H2Conn {
    /// Still running and not refusing new streams.
    pub(super) fn usable(&self) -> bool {
        !self.closed.get()
    }

    /// Room for one more stream under the peer's SETTINGS_MAX_CONCURRENT_STREAMS.
    pub(super) fn has_room(&self) -> bool {
        self.inflight.get() < self.send.current_max_send_streams()
    }

    /// Reserves a stream slot; released when the returned handle drops.
    pub(super) fn claim(&mut self) -> (SendRequest<Bytes>, StreamSlot) {
        self.last_used.set(Instant::now());
        self.inflight.set(self.inflight.get() + 1);
        (
            self.send.clone(),
            StreamSlot {
                inflight: self.inflight.clone(),
                closed: self.closed.clone(),
            },
        )
    }
}

/// A claimed stream slot on an [`H2Conn`].
pub(super) struct StreamSlot {
    inflight: Rc<Cell<usize>>,
    closed: Rc<Cell<bool>>,
}

impl StreamSlot {
    /// Maps an h2 error before the response head to a fail-over error; a
    /// GOAWAY or a broken connection also retires the connection from the
    /// pool at once (its task may run on while older streams finish).
    fn fail(&self, e: h2::Error) -> UpstreamError {
        if e.is_go_away() || e.is_io() {
            self.closed.set(true);
        }
        UpstreamError::Connect(format!("h2: {e}"))
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        self.inflight.set(self.inflight.get().saturating_sub(1));
    }
}

/// The TLS session under an upstream HTTP/2 connection: rustls, or
/// BoringSSL for a host with a ClientHello profile (`fingerprint`).
#[allow(
    clippy::large_enum_variant,
    reason = "one per connection, inside the connection's adapter; boxing rustls would add an indirection to every poll of the common case"
)]
pub enum UpWire {
    /// rustls.
    Rustls(rustls::ClientConnection),
    /// BoringSSL.
    Boring(super::fingerprint::Session),
}

impl crate::h2io::Wire for UpWire {
    fn read_decoded(&mut self, dst: &mut tokio::io::ReadBuf<'_>) -> std::io::Result<usize> {
        match self {
            UpWire::Rustls(c) => c.read_decoded(dst),
            UpWire::Boring(s) => s.read_decoded(dst),
        }
    }

    fn feed(&mut self, wire: &[u8], dst: &mut tokio::io::ReadBuf<'_>) -> std::io::Result<usize> {
        match self {
            UpWire::Rustls(c) => c.feed(wire, dst),
            UpWire::Boring(s) => s.feed(wire, dst),
        }
    }

    fn wants_write(&self) -> bool {
        match self {
            UpWire::Rustls(c) => crate::h2io::Wire::wants_write(c),
            UpWire::Boring(s) => s.wants_write(),
        }
    }

    fn take_output(&mut self, wq: &mut Vec<u8>) -> std::io::Result<()> {
        match self {
            UpWire::Rustls(c) => c.take_output(wq),
            UpWire::Boring(s) => s.take_output(wq),
        }
    }

    fn encode(&mut self, data: &[u8], wq: &mut Vec<u8>) -> std::io::Result<usize> {
        match self {
            UpWire::Rustls(c) => c.encode(data, wq),
            UpWire::Boring(s) => s.encode(data, wq),
        }
    }

    fn close(&mut self) {
        match self {
            UpWire::Rustls(c) => crate::h2io::Wire::close(c),
            UpWire::Boring(s) => s.close(),
        }
    }
}

/// Runs the h2 handshake over an established TLS session (ALPN `h2`) and
/// spawns the connection task on this worker.
pub(super) async fn handshake(io: H2Io<UpWire>) -> Result<H2Conn, UpstreamError> {
    let fut = h2::client::Builder::new()
        .initial_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONN_WINDOW)
        .enable_push(false)
        .handshake::<_, Bytes>(io);
    let (send, mut connection) = match monoio::time::timeout(CONNECT_TIMEOUT, fut).await {
        Ok(Ok(x)) => x,
        Ok(Err(e)) => return Err(UpstreamError::Connect(format!("h2 handshake: {e}"))),
        Err(_) => return Err(UpstreamError::Connect("h2 handshake timed out".into())),
    };
    let mut ping = connection.ping_pong();
    // The peer's SETTINGS (its stream limit above all) come before its answer
    // to a first PING: wait for that PONG so the pool never over-commits the
    // connection on a default limit.
    if let Some(p) = ping.as_mut() {
        p.send_ping(h2::Ping::opaque())
            .map_err(|e| UpstreamError::Connect(format!("h2 handshake: {e}")))?;
        let settled = std::future::poll_fn(|cx| {
            if let Poll::Ready(r) = Pin::new(&mut connection).poll(cx) {
                return Poll::Ready(Err(match r {
                    Ok(()) => "h2: connection closed during setup".to_string(),
                    Err(e) => format!("h2 handshake: {e}"),
                }));
            }
            p.poll_pong(cx)
                .map(|r| r.map(|_| ()).map_err(|e| format!("h2 handshake: {e}")))
        });
        match monoio::time::timeout(CONNECT_TIMEOUT, settled).await {
            Ok(Ok(())) => {}
            Ok(Err(m)) => return Err(UpstreamError::Connect(m)),
            Err(_) => return Err(UpstreamError::Connect("h2 handshake timed out".into())),
        }
    }
    let closed = Rc::new(Cell::new(false));
    let flag = closed.clone();
    let inflight = Rc::new(Cell::new(0));
    let last_used = Rc::new(Cell::new(Instant::now()));
    let use_ = Usage {
        inflight: inflight.clone(),
        last_used: last_used.clone(),
    };
    LIVE.fetch_add(1, Ordering::Relaxed);
    let guard = LiveGuard;
    monoio::spawn(async move {
        let _guard = guard;
        drive(connection, ping, use_).await;
        flag.set(true);
    });
    Ok(H2Conn {
        send,
        closed,
        inflight,
        last_used,
    })
}

/// What the connection task sees of the pool's use of it.
struct Usage {
    inflight: Rc<Cell<usize>>,
    last_used: Rc<Cell<Instant>>,
}

/// Polls the connection until it ends. After each [`PING_INTERVAL`] it
/// closes the connection if no stream used it for [`POOL_IDLE`] (so idle
/// connections do not pile up), else pings the peer and gives up on it when
/// no PONG arrives in time.
async fn drive(
    connection: h2::client::Connection<H2Io<UpWire>, Bytes>,
    ping: Option<h2::PingPong>,
    usage: Usage,
) {
    let mut conn = std::pin::pin!(connection);
    let Some(mut ping) = ping else {
        let _ = conn.await;
        return;
    };
    loop {
        monoio::select! {
            r = &mut conn => {
                if let Err(e) = r {
                    crate::log_debug!("h2 upstream connection ended: {e}");
                }
                return;
            }
            _ = monoio::time::sleep(PING_INTERVAL) => {}
        }
        if usage.inflight.get() == 0 && usage.last_used.get().elapsed() >= POOL_IDLE {
            return;
        }
        if ping.send_ping(h2::Ping::opaque()).is_err() {
            return;
        }
        let pong = std::future::poll_fn(|cx| ping.poll_pong(cx));
        let alive = monoio::select! {
            _ = &mut conn => return,
            r = monoio::time::timeout(PING_TIMEOUT, pong) => matches!(r, Ok(Ok(_))),
        };
        if !alive {
            crate::log_warn!("h2 upstream connection: no PONG, closing it");
            return;
        }
    }
}

/// Headers that are connection-specific in HTTP/1.1 and forbidden in h2.
fn hop_by_hop(name: &str) -> bool {
    [
        "host",
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "upgrade",
        "te",
    ]
    .iter()
    .any(|h| name.eq_ignore_ascii_case(h))
}

/// Converts a complete HTTP/1.1 request (as the pipeline builds it, with a
/// `Content-Length` body) into an h2 request head and its body.
pub(super) fn to_h2<'r>(
    request: &'r [u8],
    ep: &Endpoint,
) -> Result<(http::Request<()>, &'r [u8]), String> {
    let mut headers = [httparse::EMPTY_HEADER; 128];
    let mut req = httparse::Request::new(&mut headers);
    let head_len = match req.parse(request) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Err("incomplete request head".into()),
        Err(e) => return Err(format!("request head: {e}")),
    };
    let (Some(method), Some(path)) = (req.method, req.path) else {
        return Err("request line".into());
    };
    let uri = format!("https://{}{}", ep.host_header, path);
    let mut b = http::Request::builder().method(method).uri(uri);
    for h in req.headers.iter() {
        if hop_by_hop(h.name) {
            if h.name.eq_ignore_ascii_case("transfer-encoding") {
                return Err("chunked request bodies are not relayed over h2".into());
            }
            continue;
        }
        let name = http::HeaderName::from_bytes(h.name.as_bytes())
            .map_err(|_| format!("header name {:?}", h.name))?;
        let value = http::HeaderValue::from_bytes(h.value)
            .map_err(|_| format!("header {:?}: bad value", h.name))?;
        b = b.header(name, value);
    }
    let head = b.body(()).map_err(|e| format!("request: {e}"))?;
    Ok((head, &request[head_len..]))
}

/// An h2 response whose head arrived: status, headers, the body stream.
pub(super) struct H2Body {
    pub(super) status: u16,
    pub(super) headers: http::HeaderMap,
    recv: RecvStream,
    /// Keeps the request side open until the response is done with.
    _send: h2::SendStream<Bytes>,
    _slot: StreamSlot,
}

/// Why [`exchange`] failed.
pub(super) enum ExchangeError {
    /// The connection refused the stream before the request left (it was
    /// already going away): safe to send again on another connection.
    NotSent(UpstreamError),
    /// The request may have reached the upstream.
    Failed(UpstreamError),
}

/// Sends `request` on a claimed stream and waits for the response head.
/// Any failure before the head (GOAWAY, RST_STREAM, connection reset) is a
/// [`UpstreamError::Connect`]: nothing reached the client, so the pipeline
/// fails over as for a refused connection.
pub(super) async fn exchange(
    send: SendRequest<Bytes>,
    slot: StreamSlot,
    ep: &Endpoint,
    request: &[u8],
) -> Result<H2Body, ExchangeError> {
    use ExchangeError::{Failed, NotSent};
    let (head, body) = to_h2(request, ep).map_err(|m| Failed(UpstreamError::Protocol(m)))?;
    let mut send = match monoio::time::timeout(CONNECT_TIMEOUT, send.ready()).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(NotSent(slot.fail(e))),
        Err(_) => {
            return Err(Failed(UpstreamError::Connect(
                "h2: no stream available".into(),
            )))
        }
    };
    let (fut, mut out) = send
        .send_request(head, body.is_empty())
        .map_err(|e| NotSent(slot.fail(e)))?;
    if !body.is_empty() {
        out.send_data(Bytes::copy_from_slice(body), true)
            .map_err(|e| Failed(slot.fail(e)))?;
    }
    let resp = match monoio::time::loop_timeout(FIRST_BYTE_TIMEOUT, fut).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return Err(Failed(slot.fail(e))),
        Err(_) => return Err(Failed(UpstreamError::Timeout)),
    };
    let (parts, recv) = resp.into_parts();
    Ok(H2Body {
        status: parts.status.as_u16(),
        headers: parts.headers,
        recv,
        _send: out,
        _slot: slot,
    })
}

impl H2Body {
    /// Header value by name.
    pub(super) fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers.get(name).map(|v| v.as_bytes())
    }

    /// The declared body length, if any.
    pub(super) fn length(&self) -> Option<u64> {
        std::str::from_utf8(self.header("content-length")?)
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Appends the next DATA frame's bytes to `out`; `Ok(false)` at the end
    /// of the stream. Window capacity is released as data is taken; `done`
    /// is set as soon as the end of the stream is known.
    pub(super) async fn read(&mut self, out: &mut Vec<u8>, done: &mut bool) -> io::Result<bool> {
        loop {
            if *done {
                return Ok(false);
            }
            let next = monoio::time::loop_timeout(BODY_IDLE_TIMEOUT, self.recv.data()).await;
            match next {
                Err(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "upstream body stalled",
                    ))
                }
                Ok(None) => {
                    *done = true;
                    return Ok(false);
                }
                Ok(Some(Err(e))) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("upstream h2 stream: {e}"),
                    ))
                }
                Ok(Some(Ok(data))) => {
                    let n = data.len();
                    let _ = self.recv.flow_control().release_capacity(n);
                    if self.recv.is_end_stream() {
                        *done = true;
                    }
                    if n == 0 {
                        continue;
                    }
                    out.extend_from_slice(&data);
                    return Ok(true);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pipeline's HTTP/1.1 bytes become an h2 head: the request line
    /// becomes pseudo-headers with the endpoint's authority, connection
    /// headers are dropped, names are lower-cased, the body is what follows.
    #[test]
    fn h1_bytes_to_h2_request() {
        let ep = Endpoint::parse("https://api.example.com:8443/v1").unwrap();
        let req = b"POST /v1/chat/completions?x=1 HTTP/1.1\r\nHost: api.example.com:8443\r\n\
Authorization: Bearer k\r\nConnection: keep-alive\r\nKeep-Alive: 5\r\nTE: trailers\r\n\
X-Custom: A b\r\nContent-Length: 2\r\n\r\n{}";
        let (head, body) = to_h2(req, &ep).unwrap();
        assert_eq!(head.method(), http::Method::POST);
        assert_eq!(
            head.uri().to_string(),
            "https://api.example.com:8443/v1/chat/completions?x=1"
        );
        let names: Vec<&str> = head.headers().keys().map(|n| n.as_str()).collect();
        assert_eq!(names, ["authorization", "x-custom", "content-length"]);
        assert_eq!(head.headers()["x-custom"], "A b");
        assert_eq!(body, b"{}");
        // An empty body stays empty.
        let (_, body) = to_h2(b"GET /v1/models HTTP/1.1\r\nHost: h\r\n\r\n", &ep).unwrap();
        assert!(body.is_empty());
    }

    /// What cannot be converted is an error, never a panic.
    #[test]
    fn unconvertible_requests_are_errors() {
        let ep = Endpoint::parse("https://h/v1").unwrap();
        for bad in [
            &b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"[..],
            b"POST /x HTTP/1.1\r\nHost: h\r\n",
            b"\x00\x01garbage\r\n\r\n",
            b"",
        ] {
            assert!(
                to_h2(bad, &ep).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
