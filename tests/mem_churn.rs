//! Heap stays flat under connection churn and keep-alive: the real server
//! (`cliproxy::start`, one worker, in this process) relays to a keep-alive
//! upstream on 127.0.0.1:0; a counting global allocator tracks live heap
//! bytes. After a warm-up, thousands of `Connection: close` connections and
//! tens of thousands of keep-alive requests must leave the live heap where it
//! was (within a small slack), once the worker reports no open connection.
//! A per-connection leak of even a few hundred bytes exceeds the slack.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards every call unchanged to the system allocator; only keeps a
// running total of live bytes in a plain atomic (which never allocates).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc_zeroed(l) };
        if !p.is_null() {
            LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let q = unsafe { System.realloc(p, l, n) };
        if !q.is_null() {
            LIVE.fetch_add(n as isize - l.size() as isize, Ordering::Relaxed);
        }
        q
    }
}

#[global_allocator]
static A: Counting = Counting;

const UPSTREAM_BODY: &str = r#"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"up-model","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}"#;
const REQUEST_BODY: &str =
    r#"{"model":"churn-model","messages":[{"role":"user","content":"hello"}]}"#;

/// Reads one Content-Length message; `None` at end of stream.
fn read_message(r: &mut impl BufRead) -> Option<(String, Vec<u8>)> {
    let mut first = String::new();
    if r.read_line(&mut first).ok()? == 0 {
        return None;
    }
    let mut len = 0usize;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line == "\r\n" {
            break;
        }
        if let Some((n, v)) = line.split_once(':') {
            if n.trim().eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().ok()?;
            }
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    Some((first, body))
}

/// A keep-alive upstream: one thread per connection, answers every request.
fn upstream() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            std::thread::spawn(move || {
                let mut w = s.try_clone().unwrap();
                let mut r = BufReader::new(s);
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{UPSTREAM_BODY}",
                    UPSTREAM_BODY.len()
                );
                while read_message(&mut r).is_some() {
                    if w.write_all(resp.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

fn request(close: bool, body: &str) -> String {
    format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-client\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n{}\r\n{body}",
        body.len(),
        if close { "Connection: close\r\n" } else { "" }
    )
}

/// `n` requests on one connection; the last asks to close when `close`.
fn client(addr: SocketAddr, n: usize, close: bool) {
    client_with(addr, n, close, REQUEST_BODY)
}

fn client_with(addr: SocketAddr, n: usize, close: bool, body: &str) {
    let s = TcpStream::connect(addr).unwrap();
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    for i in 0..n {
        w.write_all(request(close && i + 1 == n, body).as_bytes())
            .unwrap();
        let (status, body) = read_message(&mut r).expect("response");
        assert!(status.starts_with("HTTP/1.1 200 "), "{status}");
        assert!(String::from_utf8_lossy(&body).contains("\"content\":\"hi\""));
    }
    if close {
        assert!(read_message(&mut r).is_none(), "server must close");
    }
}

/// Waits until the worker has no open connection (polling, bounded).
fn quiesce(shared: &cliproxy::runtime::Shared) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while shared.open_connections.load(Ordering::Relaxed) > 0 {
        assert!(Instant::now() < deadline, "connections never closed");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

/// Bytes the live heap may differ by after a phase: a connection task being
/// freed right after it reported itself closed, pool buffers in flight.
const SLACK: isize = 256 * 1024;

fn run(driver: cliproxy::runtime::Driver) {
    let up = upstream();
    let dir = std::env::temp_dir().join(format!(
        "cliproxy-mem-churn-{}-{}",
        std::process::id(),
        driver.name()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let yaml = format!(
        "host: 127.0.0.1\nport: 0\nauth-dir: {}\napi-keys: [\"sk-client\"]\n\
         openai-compatibility:\n  - name: up\n    base-url: \"http://127.0.0.1:{up}/v1\"\n\
         \x20   api-key-entries:\n      - api-key: \"sk-up\"\n    models:\n\
         \x20     - name: up-model\n        alias: churn-model\n",
        dir.display()
    );
    let (cfg, _) = cliproxy::config::parse_str(&yaml, &dir).unwrap();
    let snap = Arc::new(cliproxy::state::Snapshot::build(cfg, 1).unwrap());
    let opts = cliproxy::runtime::Options {
        workers: 1,
        driver,
        ..Default::default()
    };
    let h = cliproxy::start(snap, &opts).unwrap();
    let addr = h.addr;

    // Warm-up: pool buffers, the upstream connection, lazily built state.
    for _ in 0..200 {
        client(addr, 1, true);
    }
    let warm: Vec<_> = (0..4)
        .map(|_| std::thread::spawn(move || client(addr, 200, false)))
        .collect();
    for t in warm {
        t.join().unwrap();
    }
    quiesce(&h.shared);
    let base = live();

    let conns = 3000;
    for _ in 0..conns {
        client(addr, 1, true);
    }
    quiesce(&h.shared);
    let close_delta = live() - base;

    let base = live();
    let threads: Vec<_> = (0..4)
        .map(|_| std::thread::spawn(move || client(addr, 5000, false)))
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    quiesce(&h.shared);
    let ka_delta = live() - base;

    // Large requests (600 KB each) grow the worker's buffers; none of that
    // may stay parked in the pool's free list or in a connection.
    let big = format!(
        r#"{{"model":"churn-model","messages":[{{"role":"user","content":"{}"}}]}}"#,
        "x".repeat(600 * 1024)
    );
    let base = live();
    for _ in 0..4 {
        client_with(addr, 2, true, &big);
    }
    quiesce(&h.shared);
    let big_delta = live() - base;

    // A keep-alive connection that carried one large request keeps at most
    // small buffers while it stays open (measured with it still open, after
    // a further small exchange so the server is done with the large one).
    let open_delta = {
        let s = TcpStream::connect(addr).unwrap();
        let mut w = s.try_clone().unwrap();
        let mut r = BufReader::new(s);
        let mut exchange = |body: &str| {
            w.write_all(request(false, body).as_bytes()).unwrap();
            let (status, _) = read_message(&mut r).expect("response");
            assert!(status.starts_with("HTTP/1.1 200 "), "{status}");
        };
        exchange(REQUEST_BODY);
        let base = live();
        exchange(&big);
        exchange(REQUEST_BODY);
        live() - base
    };
    quiesce(&h.shared);

    eprintln!(
        "{}: live heap delta after {conns} Connection: close connections: {close_delta} B; \
         after 20000 keep-alive requests: {ka_delta} B; after 8 large requests: {big_delta} B; \
         open connection after a large request: {open_delta} B",
        driver.name()
    );
    assert!(
        open_delta < 128 * 1024,
        "an open connection kept {open_delta} bytes after one large request"
    );
    assert!(
        big_delta < SLACK,
        "8 large requests left {big_delta} bytes on the heap"
    );
    assert!(
        close_delta < SLACK,
        "{conns} closed connections left {close_delta} bytes on the heap ({} per connection)",
        close_delta / conns as isize
    );
    assert!(
        ka_delta < SLACK,
        "20000 keep-alive requests left {ka_delta} bytes on the heap"
    );
    assert!(h.shutdown());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn heap_is_flat_under_connection_churn_and_keep_alive() {
    run(cliproxy::runtime::Driver::Legacy);
    if cliproxy::runtime::Driver::Auto.resolve() == cliproxy::runtime::Driver::IoUring {
        run(cliproxy::runtime::Driver::IoUring);
    }
}
