//! Connection churn leaves nothing behind: the real accept loop, connection
//! loop, pipeline and upstream pool run on a monoio runtime in this thread
//! against an in-runtime upstream; after many connections have come and gone
//! the worker's open-connection count, its shutdown waiters and its pooled
//! buffers are back to (or bounded by) their warm-up values. Counts, not time:
//! a leaked waiter shows up as a waiter, however fast the machine is.

use super::*;
use crate::runtime::{Shared, Shutdown, Worker};
use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::TcpStream;
use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex};

const UPSTREAM_BODY: &[u8] = br#"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"up-model","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}"#;

const REQUEST_BODY: &[u8] =
    br#"{"model":"churn-model","messages":[{"role":"user","content":"hello"}]}"#;

fn worker(upstream: u16, dir: &std::path::Path) -> Rc<Worker> {
    worker_with(upstream, dir, "")
}

/// [`worker`] with `extra` config lines.
pub(super) fn worker_with(upstream: u16, dir: &std::path::Path, extra: &str) -> Rc<Worker> {
    let yaml = format!(
        "{extra}host: 127.0.0.1\nport: 0\nauth-dir: {}\napi-keys: [\"sk-client\"]\n\
         openai-compatibility:\n  - name: up\n    base-url: \"http://127.0.0.1:{upstream}/v1\"\n\
         \x20   api-key-entries:\n      - api-key: \"sk-up\"\n    models:\n\
         \x20     - name: up-model\n        alias: churn-model\n",
        dir.display()
    );
    let (cfg, _) = crate::config::parse_str(&yaml, dir).expect("config");
    let snap = Arc::new(crate::state::Snapshot::build(cfg, 1).expect("snapshot"));
    let shared = Arc::new(Shared {
        current: Mutex::new(snap.clone()),
        applied: vec![AtomicU64::new(1)],
        upstream_opened: AtomicU64::new(0),
        upstream_reused: AtomicU64::new(0),
        open_connections: AtomicUsize::new(0),
        scheduler: crate::credentials::Scheduler::new(snap.sched_settings(), &snap.specs),
    });
    let shard = shared.scheduler.shard();
    Rc::new(Worker {
        id: 0,
        snap: RefCell::new(snap),
        pool: RefCell::new(crate::upstream::Pool::default()),
        tls: crate::upstream::client_tls_config(&[]).expect("tls"),
        rr: Cell::new(0),
        shutdown: Shutdown::default(),
        active: Cell::new(0),
        shared,
        timeouts: Timeouts::default(),
        shard: RefCell::new(shard),
        translators: RefCell::new(Vec::new()),
    })
}

/// Index just past the head, and the Content-Length, once a whole head is in `buf`.
fn head_info(buf: &[u8]) -> Option<(usize, usize)> {
    let end = memchr::memmem::find(buf, b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    let len = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    Some((end, len))
}

/// Reads one whole Content-Length message from `s` (keeping any surplus in `buf`).
async fn read_message(s: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Vec<u8>> {
    loop {
        if let Some((end, len)) = head_info(buf) {
            if buf.len() >= end + len {
                let rest = buf.split_off(end + len);
                return Some(std::mem::replace(buf, rest));
            }
        }
        buf.reserve(4096);
        let v = std::mem::take(buf);
        let (len, cap) = (v.len(), v.capacity());
        let (r, v) = s.read(v.slice_mut(len..cap)).await;
        *buf = v.into_inner();
        match r {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

/// A keep-alive upstream answering every request with `UPSTREAM_BODY`.
pub(super) async fn upstream(listener: TcpListener) {
    while let Ok((mut s, _)) = listener.accept().await {
        monoio::spawn(async move {
            let mut buf = Vec::with_capacity(8192);
            while let Some(req) = read_message(&mut s, &mut buf).await {
                let (ctype, body) = match stream_events(&req) {
                    Some(n) => ("text/event-stream", sse_body(n)),
                    None => ("application/json", UPSTREAM_BODY.to_vec()),
                };
                let mut resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                resp.extend_from_slice(&body);
                if s.write_all(resp).await.0.is_err() {
                    return;
                }
            }
        });
    }
}

/// A streamed request asks for `n` content events with `"content":"events=n"`.
fn stream_events(req: &[u8]) -> Option<usize> {
    memchr::memmem::find(req, br#""stream":true"#)?;
    let at = memchr::memmem::find(req, b"events=")? + 7;
    let digits = req[at..].iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&req[at..at + digits])
        .ok()?
        .parse()
        .ok()
}

/// An OpenAI chat stream of `n` content events (~120 bytes each).
fn sse_body(n: usize) -> Vec<u8> {
    let mut b = Vec::new();
    for _ in 0..n {
        b.extend_from_slice(
            br#"data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"up-model","choices":[{"index":0,"delta":{"content":"hello world "}}]}"#,
        );
        b.extend_from_slice(b"\n\n");
    }
    b.extend_from_slice(
        br#"data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"up-model","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
    );
    b.extend_from_slice(b"\n\ndata: [DONE]\n\n");
    b
}

/// An Anthropic Messages stream (translated from the OpenAI upstream) of
/// `events` upstream events; returns once the server closed the connection.
async fn claude_stream(addr: SocketAddr, events: usize) {
    let body = format!(
        r#"{{"model":"churn-model","max_tokens":16,"stream":true,"messages":[{{"role":"user","content":"events={events}"}}]}}"#
    );
    let req = format!(
        "POST /v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: sk-client\r\n\
         Content-Type: application/json\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let (r, _) = s.write_all(req.into_bytes()).await;
    r.expect("write");
    let mut got = Vec::new();
    loop {
        got.reserve(16 * 1024);
        let (len, cap) = (got.len(), got.capacity());
        let (r, v) = s.read(got.slice_mut(len..cap)).await;
        got = v.into_inner();
        match r {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    assert!(
        got.starts_with(b"HTTP/1.1 200 "),
        "{}",
        String::from_utf8_lossy(&got[..got.len().min(400)])
    );
    assert!(memchr::memmem::find(&got, b"message_stop").is_some());
}

fn request(close: bool) -> Vec<u8> {
    let mut r = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-client\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n{}\r\n",
        REQUEST_BODY.len(),
        if close { "Connection: close\r\n" } else { "" }
    )
    .into_bytes();
    r.extend_from_slice(REQUEST_BODY);
    r
}

/// Sends `n` requests on one connection (the last with `Connection: close`
/// when `close_last`), checks each answer, then waits for the server to close
/// (close) or closes itself (keep-alive).
async fn client(addr: SocketAddr, n: usize, close_last: bool) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let mut buf = Vec::with_capacity(8192);
    for i in 0..n {
        let close = close_last && i + 1 == n;
        let (r, _) = s.write_all(request(close)).await;
        r.expect("write");
        let resp = read_message(&mut s, &mut buf).await.expect("response");
        assert!(
            resp.starts_with(b"HTTP/1.1 200 "),
            "{}",
            String::from_utf8_lossy(&resp)
        );
        assert!(memchr::memmem::find(&resp, b"\"content\":\"hi\"").is_some());
    }
    if close_last {
        // The server closes after a `Connection: close` exchange.
        assert!(read_message(&mut s, &mut buf).await.is_none());
    }
}

/// Waits (bounded) until the worker has no open connection.
pub(super) async fn quiesce(w: &Worker) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while w.active.get() > 0 && std::time::Instant::now() < deadline {
        monoio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(w.active.get(), 0, "connections still open");
}

async fn churn(dir: std::path::PathBuf) {
    let up = TcpListener::bind("127.0.0.1:0").expect("bind upstream");
    let up_port = up.local_addr().expect("addr").port();
    monoio::spawn(upstream(up));
    let w = worker(up_port, &dir);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = monoio::spawn(accept_loop::<Worker, crate::pipeline::Proxy>(
        w.clone(),
        listener,
    ));

    // Warm-up: pool buffers, an upstream connection, translator state.
    for _ in 0..4 {
        client(addr, 3, true).await;
    }
    client(addr, 10, false).await;
    quiesce(&w).await;
    let base_waiters = w.shutdown.waiters();
    // The accept loop waits on shutdown while it waits for a connection.
    assert!(base_waiters <= 1, "baseline waiters {base_waiters}");

    // Churn: connection-close clients (several at once, so waits overlap and
    // free slots are reused), then long keep-alive connections.
    for _ in 0..50 {
        let batch: Vec<_> = (0..8)
            .map(|_| monoio::spawn(client(addr, 1, true)))
            .collect();
        for h in batch {
            h.await;
        }
    }
    let ka: Vec<_> = (0..4)
        .map(|_| monoio::spawn(client(addr, 200, false)))
        .collect();
    for h in ka {
        h.await;
    }
    quiesce(&w).await;

    assert_eq!(
        w.shutdown.waiters(),
        base_waiters,
        "shutdown waiters must return to baseline after 400 connections and 800 keep-alive requests"
    );
    assert_eq!(
        w.shared
            .open_connections
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    let (bufs, bytes) = w.pool.borrow().free_bufs();
    assert!(bufs <= crate::upstream::MAX_FREE_BUFS);
    assert!(bytes <= crate::upstream::MAX_FREE_BYTES);
    // Sequential upstream exchanges: one pooled connection suffices; the
    // 8-wide bursts may have opened at most 8.
    assert!(w.pool.borrow().idle_conns() <= 8);

    // Shutdown still reaches the accept loop (its wait is registered).
    w.shutdown.fire();
    server.await;
    assert_eq!(w.shutdown.waiters(), 0);
}

/// A translator that relayed a huge stream is not cached; ordinary ones are.
async fn translator_cache(dir: std::path::PathBuf) {
    let up = TcpListener::bind("127.0.0.1:0").expect("bind upstream");
    let up_port = up.local_addr().expect("addr").port();
    monoio::spawn(upstream(up));
    let w = worker(up_port, &dir);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = monoio::spawn(accept_loop::<Worker, crate::pipeline::Proxy>(
        w.clone(),
        listener,
    ));
    claude_stream(addr, 10).await;
    quiesce(&w).await;
    assert_eq!(
        w.translators.borrow().len(),
        1,
        "a small stream's translator is cached"
    );
    // ~3,000 events of ~120 bytes: well past 256 KiB of upstream bytes.
    claude_stream(addr, 3000).await;
    quiesce(&w).await;
    assert_eq!(
        w.translators.borrow().len(),
        0,
        "a huge stream's translator is dropped"
    );
    claude_stream(addr, 10).await;
    quiesce(&w).await;
    assert_eq!(w.translators.borrow().len(), 1);
    w.shutdown.fire();
    server.await;
}

#[test]
fn translator_cache_keeps_only_ordinary_translators() {
    let dir = std::env::temp_dir().join(format!("cliproxy-trcache-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
        .enable_timer()
        .build()
        .expect("runtime")
        .block_on(translator_cache(dir.clone()));
    let _ = std::fs::remove_dir_all(&dir);
}

fn run(driver: crate::runtime::Driver) {
    let dir = std::env::temp_dir().join(format!(
        "cliproxy-churn-{}-{}",
        std::process::id(),
        driver.name()
    ));
    let _ = std::fs::create_dir_all(&dir);
    match driver {
        crate::runtime::Driver::IoUring => {
            monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
                .enable_timer()
                .build()
                .expect("runtime")
                .block_on(churn(dir.clone()));
        }
        _ => {
            monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
                .enable_timer()
                .build()
                .expect("runtime")
                .block_on(churn(dir.clone()));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn churn_returns_waiters_and_connections_to_baseline_epoll() {
    run(crate::runtime::Driver::Legacy);
}

#[test]
fn churn_returns_waiters_and_connections_to_baseline_io_uring() {
    if !monoio::utils::detect_uring() {
        eprintln!("io_uring unavailable: skipped");
        return;
    }
    run(crate::runtime::Driver::IoUring);
}

/// The waiter table itself: polled-then-dropped waits free their slot, a
/// repolled wait keeps one slot, and `fire` wakes every registered wait.
#[test]
fn shutdown_waits_deregister_on_drop() {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};
    let sd = Shutdown::default();
    let waker = Waker::noop();
    let mut cx = Context::from_waker(waker);
    for _ in 0..1000 {
        let mut f = pin!(sd.wait());
        assert_eq!(f.as_mut().poll(&mut cx), Poll::Pending);
        assert_eq!(f.as_mut().poll(&mut cx), Poll::Pending);
        assert_eq!(sd.waiters(), 1);
    }
    assert_eq!(sd.waiters(), 0);
    let mut a = Box::pin(sd.wait());
    let mut b = Box::pin(sd.wait());
    let c = sd.wait(); // never polled: never registered
    assert_eq!(a.as_mut().poll(&mut cx), Poll::Pending);
    assert_eq!(b.as_mut().poll(&mut cx), Poll::Pending);
    assert_eq!(sd.waiters(), 2);
    drop(c);
    assert_eq!(sd.waiters(), 2);
    sd.fire();
    assert_eq!(a.as_mut().poll(&mut cx), Poll::Ready(()));
    assert_eq!(b.as_mut().poll(&mut cx), Poll::Ready(()));
    drop((a, b));
    assert_eq!(sd.waiters(), 0);
    assert_eq!(pin!(sd.wait()).poll(&mut cx), Poll::Ready(()));
}
