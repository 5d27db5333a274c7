//! Upstream client: endpoints, a per-core keep-alive pool, TCP and TLS
//! connects, HTTP/1.1 exchanges whose bodies are read as they arrive.
//!
//! Name resolution never happens here: endpoints carry addresses resolved on
//! the control thread (see `control`), so a worker never blocks on DNS.
//! Connections through a `proxy-url` ([`proxy`]) get the same timeouts and
//! pooling; the pool keys them by proxy too, so they never mix with direct ones.

pub mod fingerprint;
pub mod h2conn;
pub mod proxy;
pub mod tls;
pub mod ws;

use crate::credentials::FnvMap;
use crate::h1::response::RespBody;
use crate::h1::{self, ChunkedDecoder, ResponseHead};
pub use proxy::Proxy;
use std::cell::RefCell;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};
pub use tls::Stream;

/// Time allowed for TCP connect plus TLS handshake. Provider front ends answer
/// in well under a second; 10 s covers a congested path without hanging a client.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Time allowed from sending a request to the upstream's response head.
/// Non-streamed reasoning requests legitimately think for minutes before the
/// head, so this is generous; streams send their head at once.
pub const FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(600);

/// Longest silence tolerated inside a response body. Deep-reasoning streams
/// go quiet for minutes; past this the upstream is treated as dead.
pub const BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(900);

/// Idle pooled connections older than this are dropped rather than reused:
/// providers' load balancers close idle keep-alive connections after ~60-120 s.
pub const POOL_IDLE: Duration = Duration::from_secs(55);

/// Most idle connections kept per upstream per core.
pub const POOL_MAX_IDLE: usize = 256;

/// Upstreams whose (possibly empty) idle list is kept per core before empty
/// lists are dropped. An emptied list stays in place while the map is small,
/// so the common take-then-park of one keep-alive connection neither hashes
/// nor clones the key nor reallocates per request; upstreams a reload removed
/// cost at most this many empty entries.
const POOL_MAX_KEYS: usize = 64;

/// An upstream base URL, parsed once per config load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `https` (true) or `http`.
    pub tls: bool,
    /// Host name or IP literal (no brackets).
    pub host: String,
    /// Port.
    pub port: u16,
    /// Path prefix without trailing `/` (e.g. `/v1`).
    pub base_path: String,
    /// Value for the `Host` header.
    pub host_header: String,
    /// Addresses resolved off the workers; empty if resolution failed.
    pub addrs: Vec<SocketAddr>,
}

impl Endpoint {
    /// Parses `http[s]://host[:port][/path]`.
    pub fn parse(url: &str) -> Result<Endpoint, String> {
        let (tls, rest) = if let Some(r) = url.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("http://") {
            (false, r)
        } else {
            return Err(format!(
                "base-url {url:?} must start with http:// or https://"
            ));
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if authority.is_empty() || authority.contains('@') {
            return Err(format!("base-url {url:?} has no usable host"));
        }
        let default_port = if tls { 443 } else { 80 };
        let (host, port) = if let Some(stripped) = authority.strip_prefix('[') {
            let end = stripped
                .find(']')
                .ok_or_else(|| format!("base-url {url:?}: bad IPv6 literal"))?;
            let host = &stripped[..end];
            let after = &stripped[end + 1..];
            let port = match after.strip_prefix(':') {
                Some(p) => p
                    .parse()
                    .map_err(|_| format!("base-url {url:?}: bad port"))?,
                None => default_port,
            };
            (host.to_string(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (
                    h.to_string(),
                    p.parse()
                        .map_err(|_| format!("base-url {url:?}: bad port"))?,
                ),
                None => (authority.to_string(), default_port),
            }
        };
        Ok(Endpoint {
            tls,
            host,
            port,
            base_path: path.trim_end_matches('/').to_string(),
            host_header: authority.to_string(),
            addrs: Vec::new(),
        })
    }

    /// Resolves the host (blocking: call only off the workers).
    #[allow(
        clippy::disallowed_methods,
        reason = "called at snapshot build and by the control thread's DNS refresh, never on a worker"
    )]
    pub fn resolve(&mut self) {
        use std::net::ToSocketAddrs;
        if let Some(a) = connect_to(&self.host, self.port) {
            self.addrs = vec![a];
            return;
        }
        if let Ok(ip) = self.host.parse::<std::net::IpAddr>() {
            self.addrs = vec![SocketAddr::new(ip, self.port)];
            return;
        }
        self.addrs = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map(|it| it.collect())
            .unwrap_or_default();
    }
}

/// `CLIPROXY_CONNECT_TO`: `host:port=ip:port` pairs separated by commas.
/// A matching upstream is dialled at the given address while its name stays
/// the one in the URL (Host header, TLS server name and certificate check),
/// like curl's `--connect-to`. For private deployments (split DNS) and for
/// tests that point the real provider hosts (api.anthropic.com:443, ...) at
/// local mocks that present a certificate from `--upstream-ca`.
pub fn connect_to(host: &str, port: u16) -> Option<SocketAddr> {
    static MAP: std::sync::OnceLock<Vec<(String, u16, SocketAddr)>> = std::sync::OnceLock::new();
    MAP.get_or_init(|| parse_connect_to(&std::env::var("CLIPROXY_CONNECT_TO").unwrap_or_default()))
        .iter()
        .find(|(h, p, _)| *p == port && h.eq_ignore_ascii_case(host))
        .map(|(_, _, a)| *a)
}

/// Parses `CLIPROXY_CONNECT_TO`; malformed items are ignored.
fn parse_connect_to(v: &str) -> Vec<(String, u16, SocketAddr)> {
    v.split(',')
        .filter_map(|item| {
            let (from, to) = item.trim().split_once('=')?;
            let (h, p) = from.rsplit_once(':')?;
            Some((h.to_string(), p.parse().ok()?, to.trim().parse().ok()?))
        })
        .collect()
}

/// The TLS client configuration: webpki roots plus any extra CA certificates
/// (`--upstream-ca`, for private upstreams and tests).
pub fn client_tls_config(
    extra_roots: &[rustls::pki_types::CertificateDer<'static>],
) -> io::Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for c in extra_roots {
        roots
            .add(c.clone())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    // The hosts with a ClientHello profile (BoringSSL) check certificates
    // with the same verifier and roots.
    let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots.clone()),
        provider.clone(),
    )
    .build()
    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    fingerprint::set_verifier(verifier)?;
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// Whether `cfg` offers `h2` (the caller can take an HTTP/2 connection).
pub(crate) fn offers_h2(cfg: &rustls::ClientConfig) -> bool {
    cfg.alpn_protocols.iter().any(|a| a == b"h2")
}

/// `base` with ALPN offering `h2` before `http/1.1` (upstream TLS when HTTP/2
/// is allowed; proxies are always spoken to in HTTP/1.1).
fn with_h2_alpn(base: &rustls::ClientConfig) -> Arc<rustls::ClientConfig> {
    let mut cfg = base.clone();
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Arc::new(cfg)
}

/// Opened once per (core, origin, proxy) while its protocol is unknown or
/// its h2 connections are full: requests arriving meanwhile wait for it
/// instead of each opening a connection of their own.
#[derive(Clone, Default)]
struct Gate(Rc<RefCell<GateState>>);

#[derive(Default)]
struct GateState {
    open: bool,
    /// `Some(message)`: the connect failed; waiters fail the same way.
    failed: Option<String>,
    wakers: Vec<Waker>,
}

impl Gate {
    fn is_open(&self) -> bool {
        self.0.borrow().open
    }

    fn open(&self, failed: Option<String>) {
        let mut g = self.0.borrow_mut();
        if g.open {
            return;
        }
        g.open = true;
        g.failed = failed;
        for w in g.wakers.drain(..) {
            w.wake();
        }
    }

    /// Waits until the connect finished; its error, if it failed.
    async fn wait(&self) -> Option<String> {
        std::future::poll_fn(|cx| {
            let mut g = self.0.borrow_mut();
            if g.open {
                return Poll::Ready(g.failed.clone());
            }
            if !g.wakers.iter().any(|w| w.will_wake(cx.waker())) {
                g.wakers.push(cx.waker().clone());
            }
            Poll::Pending
        })
        .await
    }
}

/// Opens its gate when the connecting request is done, whichever way
/// (including being dropped because its client left).
struct GateGuard(Gate, Option<String>);

impl Drop for GateGuard {
    fn drop(&mut self) {
        self.0.open(self.1.take());
    }
}

/// HTTP/2 state of one (origin, proxy) on one core.
#[derive(Default)]
struct H2Slot {
    conns: Vec<h2conn::H2Conn>,
    connecting: Option<Gate>,
    /// The origin answered ALPN without `h2`: use the HTTP/1.1 pool.
    h1: bool,
}

/// What a request does next on the h2 path.
enum H2Step {
    Use(h2::client::SendRequest<bytes::Bytes>, h2conn::StreamSlot),
    Wait(Gate),
    Connect(GateGuard),
    H1,
}

/// Which idle connections may serve a request: same upstream, same scheme,
/// same proxy (`None`: direct).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct PoolKey {
    /// Shared with the key already in the pool (see [`Pool::key`]).
    host: Rc<str>,
    port: u16,
    tls: bool,
    proxy: Option<Arc<str>>,
}

impl PoolKey {
    fn new(ep: &Endpoint, proxy: Option<&Proxy>) -> PoolKey {
        PoolKey {
            host: ep.host.as_str().into(),
            port: ep.port,
            tls: ep.tls,
            proxy: proxy.map(|p| p.key().clone()),
        }
    }

    fn matches(&self, ep: &Endpoint, proxy: Option<&Proxy>) -> bool {
        self.port == ep.port
            && self.tls == ep.tls
            && *self.host == *ep.host
            && self.proxy.as_deref() == proxy.map(|p| &**p.key())
    }
}

/// Free I/O buffers kept per core, the largest one kept, and the most bytes
/// the free list may hold in all. A buffer grown past [`MAX_KEPT_BUF`] by one
/// large request or response is freed rather than parked forever, so the
/// free list stays at most [`MAX_FREE_BYTES`] whatever the traffic was.
pub const MAX_FREE_BUFS: usize = 64;
/// See [`MAX_FREE_BUFS`].
pub const MAX_KEPT_BUF: usize = 64 * 1024;
/// See [`MAX_FREE_BUFS`].
pub const MAX_FREE_BYTES: usize = 2 * 1024 * 1024;
/// Capacity of a fresh I/O buffer.
pub const BUF_SIZE: usize = 16 * 1024;

/// Idle keep-alive connections of one core, and its free I/O buffers.
#[derive(Default)]
pub struct Pool {
    idle: FnvMap<PoolKey, Vec<(Stream, Instant)>>,
    bufs: Vec<Vec<u8>>,
    /// Sum of the capacities in `bufs`.
    free_bytes: usize,
    /// New connections opened (for tests and stats).
    pub opened: u64,
    /// Requests sent over a reused connection (or an existing h2 connection).
    pub reused: u64,
    h2: FnvMap<PoolKey, H2Slot>,
    /// (base upstream TLS config, the same with ALPN `h2`).
    h2_tls: Option<(Arc<rustls::ClientConfig>, Arc<rustls::ClientConfig>)>,
}

impl Pool {
    /// An empty buffer, reused when one is free.
    pub fn buf(&mut self) -> Vec<u8> {
        match self.bufs.pop() {
            Some(b) => {
                self.free_bytes -= b.capacity();
                b
            }
            None => Vec::with_capacity(BUF_SIZE),
        }
    }

    /// Returns a buffer for reuse (dropped if oversized or the list is full).
    pub fn give(&mut self, mut b: Vec<u8>) {
        let cap = b.capacity();
        if self.bufs.len() < MAX_FREE_BUFS
            && (BUF_SIZE..=MAX_KEPT_BUF).contains(&cap)
            && self.free_bytes + cap <= MAX_FREE_BYTES
        {
            b.clear();
            self.free_bytes += cap;
            self.bufs.push(b);
        }
    }

    /// Buffers and bytes parked in the free list (tests, diagnostics).
    pub fn free_bufs(&self) -> (usize, usize) {
        (self.bufs.len(), self.free_bytes)
    }

    /// Idle connections parked, over all upstreams (tests, diagnostics).
    pub fn idle_conns(&self) -> usize {
        self.idle.values().map(Vec::len).sum()
    }

    /// The key of `ep` and `proxy`: a copy of the one already in the pool
    /// (sharing its host, no allocation), or a new one.
    fn key(&self, ep: &Endpoint, proxy: Option<&Proxy>) -> PoolKey {
        self.idle
            .keys()
            .chain(self.h2.keys())
            .find(|k| k.matches(ep, proxy))
            .cloned()
            .unwrap_or_else(|| PoolKey::new(ep, proxy))
    }

    #[cfg(test)]
    fn take(&mut self, ep: &Endpoint, proxy: Option<&Proxy>) -> Option<Stream> {
        self.take_keyed(ep, proxy).0
    }

    /// The newest idle connection to `ep` (stale ones are dropped) and, when
    /// the pool knows the upstream, its key (see [`Pool::key`]).
    fn take_keyed(
        &mut self,
        ep: &Endpoint,
        proxy: Option<&Proxy>,
    ) -> (Option<Stream>, Option<PoolKey>) {
        let Some((key, list)) = self.idle.iter_mut().find(|(k, _)| k.matches(ep, proxy)) else {
            return (None, None);
        };
        let now = crate::clock::loop_now();
        let mut found = None;
        while let Some((s, t)) = list.pop() {
            if now.duration_since(t) < POOL_IDLE {
                found = Some(s);
                break;
            }
        }
        (found, Some(key.clone()))
    }

    fn put(&mut self, key: PoolKey, s: Stream) {
        self.put_at(key, s, crate::clock::loop_now());
    }

    fn put_at(&mut self, key: PoolKey, s: Stream, now: Instant) {
        if self.idle.len() >= POOL_MAX_KEYS && !self.idle.contains_key(&key) {
            // Many upstreams seen (reloads): forget the ones with nothing parked.
            self.idle.retain(|_, l| !l.is_empty());
        }
        let list = self.idle.entry(key).or_default();
        // Oldest first: connections past POOL_IDLE would never be reused
        // (`take` pops the newest), so close them instead of parking them.
        let stale = list
            .iter()
            .take_while(|(_, t)| now.duration_since(*t) >= POOL_IDLE)
            .count();
        list.drain(..stale);
        if list.len() < POOL_MAX_IDLE {
            list.push((s, now));
        }
    }

    /// Drops every idle connection (shutdown).
    pub fn clear(&mut self) {
        self.idle.clear();
        self.h2.clear();
    }

    /// h2 connections held, over all upstreams (tests, diagnostics).
    pub fn h2_conns(&self) -> usize {
        self.h2.values().map(|s| s.conns.len()).sum()
    }

    fn h2_tls(&mut self, base: &Arc<rustls::ClientConfig>) -> Arc<rustls::ClientConfig> {
        if let Some((b, h)) = &self.h2_tls {
            if Arc::ptr_eq(b, base) {
                return h.clone();
            }
        }
        let h = with_h2_alpn(base);
        self.h2_tls = Some((base.clone(), h.clone()));
        h
    }

    fn h2_step(&mut self, key: &PoolKey) -> H2Step {
        let slot = match self.h2.get_mut(key) {
            Some(s) => s,
            None => self.h2.entry(key.clone()).or_default(),
        };
        // Ended connections (GOAWAY, reset, idle, dead peer) leave the pool.
        slot.conns.retain(|c| c.usable());
        if let Some(c) = slot.conns.iter_mut().find(|c| c.has_room()) {
            let (send, claim) = c.claim();
            return H2Step::Use(send, claim);
        }
        if slot.h1 {
            return H2Step::H1;
        }
        if let Some(g) = &slot.connecting {
            if !g.is_open() {
                return H2Step::Wait(g.clone());
            }
        }
        let g = Gate::default();
        slot.connecting = Some(g.clone());
        H2Step::Connect(GateGuard(g, None))
    }
}

/// Why an upstream exchange failed before a response head arrived.
#[derive(Debug)]
pub enum UpstreamError {
    /// No address, refused, unreachable, TLS failure, timeout.
    Connect(String),
    /// The connection broke or the head was malformed.
    Protocol(String),
    /// No head within [`FIRST_BYTE_TIMEOUT`].
    Timeout,
}

impl std::fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UpstreamError::Connect(m) => write!(f, "upstream connect failed: {m}"),
            UpstreamError::Protocol(m) => write!(f, "upstream protocol error: {m}"),
            UpstreamError::Timeout => f.write_str("upstream timed out before responding"),
        }
    }
}

/// Opens a connection to `ep`; `upstream_tls` is the TLS config for the
/// upstream itself (its ALPN says whether h2 is offered), `tls` the one for
/// an `https://` proxy (and for the upstream inside it: h1 only).
async fn connect(
    ep: &Endpoint,
    proxy: Option<&Proxy>,
    tls: &Arc<rustls::ClientConfig>,
    upstream_tls: &Arc<rustls::ClientConfig>,
) -> Result<Stream, UpstreamError> {
    if let Some(p) = proxy {
        return proxy::connect(ep, p, tls, upstream_tls).await;
    }
    if ep.addrs.is_empty() {
        return Err(UpstreamError::Connect(format!(
            "cannot resolve {}",
            ep.host
        )));
    }
    let mut last = String::new();
    for addr in &ep.addrs {
        let fut = async {
            let tcp = monoio::net::TcpStream::connect_addr(*addr).await?;
            tcp.set_nodelay(true)?;
            if ep.tls {
                if let Some(p) = fingerprint::profile_for(&ep.host) {
                    let h2 = offers_h2(upstream_tls);
                    return Ok::<_, io::Error>(Stream::Fp(Box::new(
                        fingerprint::FpStream::connect(tcp, Vec::new(), &ep.host, p, h2).await?,
                    )));
                }
                Ok::<_, io::Error>(Stream::Tls(Box::new(
                    tls::TlsStream::connect(tcp, &ep.host, upstream_tls.clone()).await?,
                )))
            } else {
                Ok(Stream::Plain(tcp))
            }
        };
        match monoio::time::loop_timeout(CONNECT_TIMEOUT, fut).await {
            Ok(Ok(s)) => return Ok(s),
            Ok(Err(e)) => last = format!("{}:{}: {e}", ep.host, ep.port),
            Err(_) => last = format!("{}:{}: connect timed out", ep.host, ep.port),
        }
    }
    Err(UpstreamError::Connect(last))
}

/// An upstream response whose head has arrived, over HTTP/1.1 or HTTP/2;
/// the body is read with [`Response::read_body`] either way.
pub struct Response {
    body: Body,
    done: bool,
}

/// Each kind boxed: a `Response` is moved several times on its way
/// through the attempt and relay futures, and each move of an unboxed one
/// copied ~200 bytes (more than the one allocation costs).
enum Body {
    H1(Box<H1Body>),
    H2(Box<h2conn::H2Body>),
    /// A Codex upstream WebSocket; events read as SSE ([`ws`]).
    Ws(Box<ws::WsBody>),
}

/// A response on an HTTP/1.1 connection whose head was read into `buf`.
fn h1_response(stream: Stream, key: PoolKey, head: ResponseHead, buf: Vec<u8>) -> Response {
    let remaining = match head.body {
        Some(RespBody::Length(n)) => n,
        _ => 0,
    };
    let done = matches!(head.body, Some(RespBody::Empty));
    let pos = head.head_len;
    Response {
        body: Body::H1(Box::new(H1Body {
            stream: Some(stream),
            key,
            head,
            buf,
            pos,
            remaining,
            decoder: ChunkedDecoder::new(),
        })),
        done,
    }
}

/// An HTTP/1.1 response on its own connection.
struct H1Body {
    stream: Option<Stream>,
    /// Pool slot this connection returns to.
    key: PoolKey,
    /// The parsed head; spans point into `buf`.
    head: ResponseHead,
    /// Head bytes, then body bytes read but not yet decoded (`pos..`).
    buf: Vec<u8>,
    pos: usize,
    remaining: u64,
    decoder: ChunkedDecoder,
}

impl Response {
    /// Header value by name.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        match &self.body {
            Body::H1(b) => b.head.header(&b.buf[..b.head.head_len], name),
            Body::H2(b) => b.header(name),
            Body::Ws(b) => b.head.header(&b.head_buf[..b.head.head_len], name),
        }
    }

    /// Every header as (name, value), in arrival order (h2 names lower-case).
    pub fn headers(&self) -> Vec<(&[u8], &[u8])> {
        match &self.body {
            Body::H1(b) => {
                let buf = &b.buf[..b.head.head_len];
                b.head
                    .headers
                    .iter()
                    .map(|(n, v)| (n.get(buf), v.get(buf)))
                    .collect()
            }
            Body::H2(b) => b
                .headers
                .iter()
                .map(|(n, v)| (n.as_str().as_bytes(), v.as_bytes()))
                .collect(),
            Body::Ws(b) => {
                let buf = &b.head_buf[..b.head.head_len];
                b.head
                    .headers
                    .iter()
                    .map(|(n, v)| (n.get(buf), v.get(buf)))
                    .collect()
            }
        }
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        match &self.body {
            Body::H1(b) => b.head.status,
            Body::H2(b) => b.status,
            // An accepted upgrade answers like a 200 SSE stream.
            Body::Ws(_) => 200,
        }
    }

    /// The body length the upstream declared, if it declared one.
    pub fn content_length(&self) -> Option<u64> {
        match &self.body {
            Body::H1(b) => match b.head.body {
                Some(RespBody::Length(n)) => Some(n),
                _ => None,
            },
            Body::H2(b) => b.length(),
            Body::Ws(_) => None,
        }
    }

    /// True when the answer came over HTTP/2.
    pub fn is_h2(&self) -> bool {
        matches!(self.body, Body::H2(_))
    }

    /// True once the body has been read to its end.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Appends the next decoded body bytes to `out`. Returns `Ok(false)` once
    /// the body is complete (nothing appended), `Ok(true)` after appending.
    /// Cancel-safe: dropping it between chunks loses nothing (the h1 read is
    /// the TLS stream's, see [`crate::tls`]; h2 keeps unread DATA queued).
    pub async fn read_body(&mut self, out: &mut Vec<u8>) -> io::Result<bool> {
        match &mut self.body {
            Body::H1(b) => b.read(out, &mut self.done).await,
            Body::H2(b) => b.read(out, &mut self.done).await,
            Body::Ws(b) => b.read(out, &mut self.done).await,
        }
    }

    /// Reads the whole remaining body (bounded by `limit`) into `out`.
    pub async fn read_to_end(&mut self, out: &mut Vec<u8>, limit: usize) -> io::Result<()> {
        while self.read_body(out).await? {
            if out.len() > limit {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "upstream body too large",
                ));
            }
        }
        Ok(())
    }

    /// Returns an h1 connection to `pool` if the body was read fully and the
    /// upstream allows reuse; otherwise drops it. An h2 stream just ends (an
    /// unfinished one is reset; the connection stays).
    pub fn release(self, pool: &RefCell<Pool>) {
        let Body::H1(b) = self.body else {
            return;
        };
        let b = *b;
        let mut p = pool.borrow_mut();
        let reusable = self.done && b.head.keep_alive && b.pos >= b.buf.len();
        if let (true, Some(s)) = (reusable, b.stream) {
            p.put(b.key, s);
        }
        p.give(b.buf);
    }
}

impl H1Body {
    /// See [`Response::read_body`]; sets `done` as soon as the end is known.
    async fn read(&mut self, out: &mut Vec<u8>, done: &mut bool) -> io::Result<bool> {
        loop {
            if *done {
                return Ok(false);
            }
            if self.pos < self.buf.len() {
                let avail = &self.buf[self.pos..];
                match self.head.body {
                    Some(RespBody::Length(_)) => {
                        let take = (self.remaining.min(avail.len() as u64)) as usize;
                        out.extend_from_slice(&avail[..take]);
                        self.pos += take;
                        self.remaining -= take as u64;
                        if self.remaining == 0 {
                            *done = true;
                        }
                        return Ok(true);
                    }
                    Some(RespBody::Chunked) => {
                        let before = out.len();
                        let p = self
                            .decoder
                            .feed(avail, |d| out.extend_from_slice(d))
                            .map_err(|e| {
                                io::Error::new(
                                    io::ErrorKind::InvalidData,
                                    format!("upstream chunked body: {e:?}"),
                                )
                            })?;
                        self.pos += p.consumed;
                        if p.done {
                            *done = true;
                        }
                        if out.len() > before {
                            return Ok(true);
                        }
                        if *done {
                            return Ok(false);
                        }
                    }
                    Some(RespBody::Close) => {
                        out.extend_from_slice(avail);
                        self.pos = self.buf.len();
                        return Ok(true);
                    }
                    Some(RespBody::Empty) | None => {
                        *done = true;
                        return Ok(false);
                    }
                }
            }
            if matches!(self.head.body, Some(RespBody::Empty) | None) {
                *done = true;
                return Ok(false);
            }
            let Some(stream) = self.stream.as_mut() else {
                return Err(io::Error::new(
                    io::ErrorKind::BrokenPipe,
                    "upstream connection gone",
                ));
            };
            // Keep the head (its spans stay valid); reuse the space after it.
            self.buf.truncate(self.head.head_len);
            self.pos = self.head.head_len;
            let n = match monoio::time::loop_timeout(
                BODY_IDLE_TIMEOUT,
                stream.read_into(&mut self.buf),
            )
            .await
            {
                Ok(r) => r?,
                Err(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "upstream body stalled",
                    ))
                }
            };
            if n == 0 {
                if self.head.body == Some(RespBody::Close) {
                    *done = true;
                    return Ok(false);
                }
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "upstream closed mid-body",
                ));
            }
        }
    }
}

/// Sends `request` (a complete HTTP/1.1 request) to `ep`, directly or through
/// `proxy`, and waits for the response head.
///
/// TLS upstreams are offered HTTP/2 by ALPN unless `force_h1` is set or the
/// proxy is `https://` (the tunnel then stays HTTP/1.1). When the origin picks
/// `h2`, the request is converted and sent as a stream on this core's
/// connection to it (a second connection opens only when the first is at the
/// peer's stream limit); requests arriving while that connection is being
/// opened wait for it. Otherwise it goes over the HTTP/1.1 pool. Failures
/// before the response head are errors the pipeline fails over on.
pub fn send<'a>(
    pool: &'a RefCell<Pool>,
    tls: &'a Arc<rustls::ClientConfig>,
    ep: &'a Endpoint,
    proxy: Option<&'a Proxy>,
    request: Vec<u8>,
    head_request: bool,
    force_h1: bool,
) -> impl std::future::Future<Output = Result<Response, UpstreamError>> + 'a {
    send_timed(pool, tls, ep, proxy, request, head_request, force_h1, None)
}

/// [`send`], with the caller's `timer` for the HTTP/1.1 wait for the head
/// ([`FIRST_BYTE_TIMEOUT`]): a timer the caller keeps (the client
/// connection's, [`crate::server::Conn::upstream_timer`]) is only moved per
/// exchange, where a fresh `timeout` armed, copied and cancelled a timer
/// (~400 bytes: its entry is cache-padded) per request.
#[allow(clippy::too_many_arguments)] // `send`'s, plus the timer
pub async fn send_timed(
    pool: &RefCell<Pool>,
    tls: &Arc<rustls::ClientConfig>,
    ep: &Endpoint,
    proxy: Option<&Proxy>,
    request: Vec<u8>,
    head_request: bool,
    force_h1: bool,
    timer: Option<Pin<&mut monoio::time::Sleep>>,
) -> Result<Response, UpstreamError> {
    let h2_allowed = ep.tls && !force_h1 && proxy.is_none_or(|p| !p.is_tls());
    if !h2_allowed {
        return send_h1(pool, tls, ep, proxy, request, head_request, None, timer).await;
    }
    let key = pool.borrow().key(ep, proxy);
    let mut resent = false;
    loop {
        let step = pool.borrow_mut().h2_step(&key);
        match step {
            H2Step::Use(send, claim) => {
                pool.borrow_mut().reused += 1;
                let r = h2conn::exchange(send, claim, ep, &request).await;
                let e = match r {
                    Ok(b) => {
                        pool.borrow_mut().give(request);
                        return Ok(Response {
                            body: Body::H2(Box::new(b)),
                            done: false,
                        });
                    }
                    Err(e) => e,
                };
                match e {
                    // A connection already going away (a graceful GOAWAY,
                    // e.g. the upstream's connection age limit) refused the
                    // stream before it left: once, on another connection.
                    h2conn::ExchangeError::NotSent(_) if !resent => resent = true,
                    h2conn::ExchangeError::NotSent(e) | h2conn::ExchangeError::Failed(e) => {
                        pool.borrow_mut().give(request);
                        return Err(e);
                    }
                }
            }
            H2Step::Wait(gate) => {
                if let Some(m) = gate.wait().await {
                    return Err(UpstreamError::Connect(m));
                }
            }
            H2Step::H1 => {
                return send_h1(pool, tls, ep, proxy, request, head_request, None, timer).await;
            }
            H2Step::Connect(mut guard) => {
                let up = pool.borrow_mut().h2_tls(tls);
                let s = match connect(ep, proxy, tls, &up).await {
                    Ok(s) => s,
                    Err(e) => {
                        guard.1 = Some(e.to_string());
                        return Err(e);
                    }
                };
                pool.borrow_mut().opened += 1;
                match h2_io(s) {
                    Ok(io) => {
                        match h2conn::handshake(io).await {
                            Ok(c) => {
                                if let Some(slot) = pool.borrow_mut().h2.get_mut(&key) {
                                    slot.conns.push(c);
                                }
                            }
                            Err(e) => {
                                guard.1 = Some(e.to_string());
                                return Err(e);
                            }
                        }
                        drop(guard);
                    }
                    Err(other) => {
                        if let Some(slot) = pool.borrow_mut().h2.get_mut(&key) {
                            slot.h1 = true;
                        }
                        drop(guard);
                        return send_h1(
                            pool,
                            tls,
                            ep,
                            proxy,
                            request,
                            head_request,
                            Some(other),
                            timer,
                        )
                        .await;
                    }
                }
            }
        }
    }
}

/// A fresh TLS connection that negotiated `h2`, as the HTTP/2 adapter;
/// any other connection back as it is.
fn h2_io(s: Stream) -> Result<crate::h2io::H2Io<h2conn::UpWire>, Stream> {
    match s {
        Stream::Tls(t) if t.session().alpn_protocol() == Some(b"h2") => {
            let (tcp, conn, early) = t.into_parts();
            Ok(crate::h2io::H2Io::new(
                tcp,
                h2conn::UpWire::Rustls(conn),
                early,
            ))
        }
        Stream::Fp(t) if t.alpn() == Some(b"h2") => {
            let (tcp, sess) = t.into_parts();
            Ok(crate::h2io::H2Io::new(
                tcp,
                h2conn::UpWire::Boring(sess),
                Vec::new(),
            ))
        }
        other => Err(other),
    }
}

/// The HTTP/1.1 exchange. `fresh` is a connection just opened for this
/// request; otherwise an idle pooled one is used or a new one opened. A
/// pooled connection that fails before any response byte is retried once on
/// a fresh connection (the upstream or proxy closed it while idle). The wait
/// for the head runs on `timer` when given (see [`send_timed`]).
#[allow(clippy::too_many_arguments)] // `send_timed`'s, plus the fresh stream
async fn send_h1(
    pool: &RefCell<Pool>,
    tls: &Arc<rustls::ClientConfig>,
    ep: &Endpoint,
    proxy: Option<&Proxy>,
    request: Vec<u8>,
    head_request: bool,
    fresh: Option<Stream>,
    mut timer: Option<Pin<&mut monoio::time::Sleep>>,
) -> Result<Response, UpstreamError> {
    let mut request = request;
    let from_pool = fresh.is_none();
    let (mut stream_opt, mut key) = match fresh {
        Some(s) => (Some(s), None),
        None => pool.borrow_mut().take_keyed(ep, proxy),
    };
    let mut attempt = 0;
    loop {
        let reused = from_pool && stream_opt.is_some();
        let mut stream = match stream_opt.take() {
            Some(s) => s,
            None => {
                let s = connect(ep, proxy, tls, tls).await?;
                pool.borrow_mut().opened += 1;
                s
            }
        };
        if reused {
            pool.borrow_mut().reused += 1;
        }
        let (w, req_back) = stream.write_all(request).await;
        request = req_back;
        let head_buf = pool.borrow_mut().buf();
        let failure = match w {
            Err(e) => (true, UpstreamError::Protocol(e.to_string())),
            Ok(()) => {
                let read = read_head(&mut stream, head_request, head_buf);
                let got = match timer.as_mut() {
                    Some(t) => {
                        t.as_mut().reset(deadline_after(FIRST_BYTE_TIMEOUT));
                        // Biased: the read first, as `timeout` polls its future first.
                        monoio::select! {
                            biased;
                            r = read => Ok(r),
                            _ = t.as_mut() => Err(()),
                        }
                    }
                    None => monoio::time::loop_timeout(FIRST_BYTE_TIMEOUT, read)
                        .await
                        .map_err(|_| ()),
                };
                match got {
                    Err(()) => (false, UpstreamError::Timeout),
                    Ok(Err(f)) => f,
                    Ok(Ok((head, buf))) => {
                        let key = {
                            let mut p = pool.borrow_mut();
                            p.give(request);
                            key.take().unwrap_or_else(|| p.key(ep, proxy))
                        };
                        return Ok(h1_response(stream, key, head, buf));
                    }
                }
            }
        };
        match failure {
            (true, _) if reused && attempt == 0 => {
                attempt += 1;
                continue;
            }
            (_, e) => return Err(e),
        }
    }
}

/// `d` from now on the runtime's clock (a year if that overflows).
fn deadline_after(d: Duration) -> monoio::time::Instant {
    let now = monoio::time::cached_now();
    now.checked_add(d)
        .unwrap_or(now + Duration::from_secs(86_400 * 365))
}

/// Reads a response head. Errors carry whether no byte at all was received.
async fn read_head(
    stream: &mut Stream,
    head_request: bool,
    mut buf: Vec<u8>,
) -> Result<(ResponseHead, Vec<u8>), (bool, UpstreamError)> {
    let mut head = ResponseHead::default();
    loop {
        let n = stream
            .read_into(&mut buf)
            .await
            .map_err(|e| (buf.is_empty(), UpstreamError::Protocol(e.to_string())))?;
        if n == 0 {
            return Err((
                buf.is_empty(),
                UpstreamError::Protocol("upstream closed the connection before responding".into()),
            ));
        }
        match h1::parse_response_head(&buf, head_request, &mut head) {
            Ok(Some(())) => {
                // Skip interim 1xx responses (e.g. 100 Continue).
                if (100..200).contains(&head.status) {
                    buf.drain(..head.head_len);
                    if !buf.is_empty() {
                        if let Ok(Some(())) = h1::parse_response_head(&buf, head_request, &mut head)
                        {
                            if !(100..200).contains(&head.status) {
                                return Ok((head, buf));
                            }
                        }
                    }
                    continue;
                }
                return Ok((head, buf));
            }
            Ok(None) => continue,
            Err(m) => return Err((false, UpstreamError::Protocol(m.into()))),
        }
    }
}

#[cfg(test)]
mod tests;
