//! Load generator for `benches/mem/streams.sh` (std only, loopback only,
//! Linux): the SSE upstreams, the holder of N slow streams and the latency
//! probe, with a monotonic clock. The held streams are written and read by
//! one thread each side: with a thread per stream, a burst of a thousand
//! events woke two thousand threads on the generator's CPU, and the probe's
//! figures (seconds at p99) measured that, not the relay.
//!
//! ```text
//! loadgen upstream PORT INTERVAL_MS EVENTS PHASE
//!     An OpenAI-compatible upstream on 127.0.0.1:PORT (HTTP/1.1 keep-alive,
//!     chunked, TCP_NODELAY). Every request is answered 200 with EVENTS
//!     `chat.completion.chunk` events, then `data: [DONE]` and the last
//!     chunk. PHASE says when the events leave:
//!       start   INTERVAL_MS after the request, then every INTERVAL_MS
//!               (the 20 ms probe upstream);
//!       sync    on a grid shared by all streams (every INTERVAL_MS from the
//!               process start): all open streams tick at the same instant;
//!       spread  on the same grid shifted per stream by a phase spread
//!               uniformly over the interval (stream k: frac(k x 0.618...)),
//!               so N streams send N events per interval, evenly apart.
//!     Sync and spread streams are written by one thread from a schedule.
//!
//! loadgen hold HOST:PORT N MODEL SECONDS READY_FILE
//!     Opens N streamed chat requests for MODEL, waits until each has its
//!     first event, creates READY_FILE, then keeps reading them for SECONDS
//!     (negative: until killed); one thread reads them all (poll). Exits 1
//!     as soon as one stream fails or ends early.
//!
//! loadgen probe DIRECT RELAY N MODEL [RAW_FILE]
//!     N rounds; each round one streamed request straight to DIRECT
//!     (HOST:PORT, the upstream) and one through RELAY (HOST:PORT), one
//!     after the other, alternating which goes first; a new connection per
//!     request. Times (monotonic, from before connect): to the first byte of
//!     the first `data:` line, and to the end of the chunked body. Prints
//!     p50/p99/max of both for each side, the relay-minus-direct figures and
//!     a line `RESULT first_p50 first_p99 total_p50 total_p99` of what the
//!     relay adds (ms). RAW_FILE gets every sample.
//!
//!
//! loadgen selftest
//!     Checks the chunked-body decoder (whole vs split at every byte) and
//!     the event schedule of each PHASE; `streams.sh` runs it first.
//! ```
//!
//! A `[[bench]]` with `harness = false` so that clippy checks it and
//! `cargo test` never builds it; `streams.sh` compiles it with plain `rustc`
//! (no dependencies, seconds). Run without a sub-command (as `cargo bench`
//! does) it prints this usage and exits 0.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

const USAGE: &str = "usage: loadgen upstream PORT INTERVAL_MS EVENTS start|sync|spread
       loadgen hold HOST:PORT N MODEL SECONDS READY_FILE
       loadgen probe DIRECT_HOST:PORT RELAY_HOST:PORT N MODEL [RAW_FILE]";

const EVENT: &[u8] = b"data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\
\"model\":\"upstream-bench\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"word \"}}]}\n\n";
const DONE: &[u8] = b"data: [DONE]\n\n";

/// Small stacks: the holder and the slow upstream run a thousand threads each.
const STACK: usize = 64 * 1024;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let r = match args.first().map(String::as_str) {
        Some("upstream") if args.len() == 5 => upstream(&args[1..]),
        Some("hold") if args.len() == 6 => hold(&args[1..]),
        Some("probe") if args.len() == 5 || args.len() == 6 => probe(&args[1..]),
        Some("selftest") => selftest(),
        // `cargo bench` runs every bench target with `--bench`.
        None | Some("--bench") => {
            println!("{USAGE}");
            return;
        }
        _ => Err(USAGE.to_string()),
    };
    if let Err(e) = r {
        eprintln!("loadgen: {e}");
        std::process::exit(1);
    }
}

fn num<T: std::str::FromStr>(s: &str, what: &str) -> Result<T, String> {
    s.parse().map_err(|_| format!("{what}: not a number: {s}"))
}

// ---------------------------------------------------------------- upstream

#[derive(Clone, Copy)]
enum Phase {
    Start,
    Sync,
    Spread,
}

struct Upstream {
    interval: Duration,
    events: u64,
    phase: Phase,
    /// The shared grid's origin (sync and spread).
    epoch: Instant,
    /// Streams answered so far: the index of the next one's phase.
    streams: AtomicU64,
}

impl Upstream {
    /// When event `k` (0-based) of a stream whose request arrived at `t0`
    /// and whose index is `idx` leaves.
    fn due(&self, t0: Instant, idx: u64, k: u64) -> Instant {
        let iv = self.interval.as_nanos() as u64;
        let off = match self.phase {
            Phase::Start => return t0 + self.interval * (k as u32 + 1),
            Phase::Sync => 0,
            // Golden-ratio sequence: any N consecutive indices land spread
            // evenly over [0, 1), so the events of N streams are too.
            Phase::Spread => ((idx as f64 * 0.618_033_988_749_895).fract() * iv as f64) as u64,
        };
        // First grid slot at least one interval after the request.
        let since = (t0 - self.epoch).as_nanos() as u64 + iv;
        let first = if since <= off {
            off
        } else {
            off + (since - off).div_ceil(iv) * iv
        };
        self.epoch + Duration::from_nanos(first + k * iv)
    }
}

fn upstream(a: &[String]) -> Result<(), String> {
    let port: u16 = num(&a[0], "PORT")?;
    let ms: f64 = num(&a[1], "INTERVAL_MS")?;
    let events: u64 = num(&a[2], "EVENTS")?;
    let phase = match a[3].as_str() {
        "start" => Phase::Start,
        "sync" => Phase::Sync,
        "spread" => Phase::Spread,
        p => return Err(format!("PHASE: start, sync or spread, not {p}")),
    };
    let listener =
        TcpListener::bind(("127.0.0.1", port)).map_err(|e| format!("bind {port}: {e}"))?;
    deepen_backlog(&listener);
    let up = Arc::new(Upstream {
        interval: Duration::from_secs_f64(ms / 1000.0),
        events,
        phase,
        epoch: Instant::now(),
        streams: AtomicU64::new(0),
    });
    // Slow streams (sync, spread): one thread writes every event, from a
    // schedule; a thousand sleeping threads waking together would make the
    // generator's own scheduling the burst being measured.
    let ticker = match phase {
        Phase::Start => None,
        Phase::Sync | Phase::Spread => {
            let (tx, rx) = mpsc::channel::<(Instant, TcpStream)>();
            let up = up.clone();
            thread::spawn(move || tick(&up, &rx));
            Some(tx)
        }
    };
    for conn in listener.incoming() {
        let Ok(conn) = conn else { continue };
        let up = up.clone();
        let ticker = ticker.clone();
        let spawned = thread::Builder::new().stack_size(STACK).spawn(move || {
            let _ = serve(&up, conn, ticker);
        });
        if let Err(e) = spawned {
            eprintln!("loadgen upstream: spawn: {e}");
        }
    }
    Ok(())
}

/// std listens with a backlog of 128; a thousand connections opened at once
/// would overflow it and wait for SYN retransmits. Listening again raises it.
fn deepen_backlog(l: &TcpListener) {
    use std::os::fd::AsRawFd;
    extern "C" {
        fn listen(fd: i32, backlog: i32) -> i32;
    }
    // SAFETY: `listen(2)` on a descriptor owned by `l`, alive for the call;
    // it only changes the queue length of a socket already listening.
    let r = unsafe { listen(l.as_raw_fd(), 4096) };
    if r != 0 {
        eprintln!("loadgen: listen(4096): {}", io::Error::last_os_error());
    }
}

/// Answers requests on `c`; a slow stream's socket goes to the ticker
/// once its head is written.
fn serve(
    up: &Upstream,
    mut c: TcpStream,
    ticker: Option<mpsc::Sender<(Instant, TcpStream)>>,
) -> io::Result<()> {
    c.set_nodelay(true)?;
    let mut buf = Vec::with_capacity(2048);
    let mut out = Vec::with_capacity(EVENT.len() + 16);
    loop {
        // One request: head, then Content-Length bytes of body.
        let (head_end, body_len) = loop {
            if let Some(end) = find(&buf, b"\r\n\r\n") {
                break (end + 4, content_length(&buf[..end]));
            }
            if read_some(&mut c, &mut buf)? == 0 {
                return Ok(());
            }
        };
        while buf.len() < head_end + body_len {
            if read_some(&mut c, &mut buf)? == 0 {
                return Ok(());
            }
        }
        buf.drain(..head_end + body_len);
        let t0 = Instant::now();
        let idx = up.streams.fetch_add(1, Ordering::Relaxed);
        c.write_all(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
        )?;
        if let Some(tx) = &ticker {
            let _ = tx.send((t0, c));
            return Ok(());
        }
        for k in 0..up.events {
            sleep_until(up.due(t0, idx, k));
            out.clear();
            chunk(&mut out, EVENT);
            c.write_all(&out)?;
        }
        out.clear();
        chunk(&mut out, DONE);
        out.extend_from_slice(b"0\r\n\r\n");
        c.write_all(&out)?;
    }
}

/// The slow streams' writer: every event of every stream from one schedule
/// (events due together are written in one pass). A stream whose socket
/// does not take an event at once (closed, or the relay stopped reading) is
/// dropped.
fn tick(up: &Upstream, rx: &mpsc::Receiver<(Instant, TcpStream)>) {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    let mut conns: Vec<Option<(TcpStream, u64)>> = Vec::new();
    let mut due: BinaryHeap<Reverse<(Instant, usize)>> = BinaryHeap::new();
    let mut ev = Vec::new();
    chunk(&mut ev, EVENT);
    let mut idx = 0u64;
    loop {
        let wait = match due.peek() {
            Some(Reverse((t, _))) => t.saturating_duration_since(Instant::now()),
            None => Duration::from_secs(3600),
        };
        match rx.recv_timeout(wait) {
            Ok((t0, c)) => {
                if c.set_nonblocking(true).is_ok() {
                    let slot = conns.len();
                    due.push(Reverse((up.due(t0, idx, 0), slot)));
                    conns.push(Some((c, 0)));
                    idx += 1;
                }
                continue;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
        let now = Instant::now();
        while let Some(&Reverse((t, slot))) = due.peek() {
            if t > now {
                break;
            }
            due.pop();
            let Some((c, k)) = conns[slot].as_mut() else {
                continue;
            };
            match c.write(&ev) {
                Ok(n) if n == ev.len() => {
                    *k += 1;
                    if *k < up.events {
                        due.push(Reverse((t + up.interval, slot)));
                        continue;
                    }
                    let mut end = Vec::new();
                    chunk(&mut end, DONE);
                    end.extend_from_slice(b"0\r\n\r\n");
                    let _ = c.write(&end);
                    conns[slot] = None;
                }
                _ => conns[slot] = None,
            }
        }
    }
}

fn sleep_until(t: Instant) {
    let now = Instant::now();
    if t > now {
        thread::sleep(t - now);
    }
}

fn chunk(out: &mut Vec<u8>, data: &[u8]) {
    let _ = write!(out, "{:x}\r\n", data.len());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

fn read_some(c: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<usize> {
    let mut tmp = [0u8; 4096];
    let n = c.read(&mut tmp)?;
    buf.extend_from_slice(&tmp[..n]);
    Ok(n)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn content_length(head: &[u8]) -> usize {
    head.split(|&b| b == b'\n')
        .filter_map(|line| {
            let line = std::str::from_utf8(line).ok()?.trim();
            let (k, v) = line.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())
                .flatten()
        })
        .next()
        .unwrap_or(0)
}

// ---------------------------------------------------------------- clients

fn request(host: &str, model: &str) -> Vec<u8> {
    let body = format!(
        "{{\"model\":\"{model}\",\"messages\":[{{\"role\":\"user\",\"content\":\"hi\"}}],\"stream\":true}}"
    );
    format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer sk-bench\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Reads the response head; returns the bytes after it. Errors on a status
/// other than 200 (with the start of the answer) or a body not chunked.
fn read_head(c: &mut TcpStream, buf: &mut Vec<u8>) -> Result<Vec<u8>, String> {
    loop {
        if let Some(end) = find(buf, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            if !head.starts_with("http/1.1 200") {
                let _ = c.set_read_timeout(Some(Duration::from_millis(200)));
                let _ = read_some(c, buf);
                return Err(format!("answer: {}", String::from_utf8_lossy(buf)));
            }
            if !head.contains("transfer-encoding: chunked") {
                return Err(format!("not chunked: {head}"));
            }
            return Ok(buf[end + 4..].to_vec());
        }
        match read_some(c, buf) {
            Ok(0) => return Err("closed before the response head".into()),
            Ok(_) => {}
            Err(e) => return Err(format!("read: {e}")),
        }
    }
}

// ------------------------------------------------------------------ hold

#[repr(C)]
struct PollFd {
    fd: i32,
    events: i16,
    revents: i16,
}
const POLLIN: i16 = 1;

/// `poll(2)` over `fds`, `ms` at most; the number of ready descriptors.
fn poll(fds: &mut [PollFd], ms: i32) -> io::Result<usize> {
    extern "C" {
        fn poll(fds: *mut PollFd, nfds: u64, timeout: i32) -> i32;
    }
    // SAFETY: `fds` is a valid, exclusively borrowed array of `repr(C)`
    // pollfd records (int, short, short) of the length passed; the kernel
    // writes only their `revents` fields, within the call.
    let r = unsafe { poll(fds.as_mut_ptr(), fds.len() as u64, ms) };
    if r < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::Interrupted {
            Ok(0)
        } else {
            Err(e)
        };
    }
    Ok(r as usize)
}

/// One held stream: the socket, and the bytes read until its first event.
struct Held {
    c: TcpStream,
    seen: Option<Vec<u8>>,
}

fn hold(a: &[String]) -> Result<(), String> {
    let target = &a[0];
    let n: usize = num(&a[1], "N")?;
    let model = &a[2];
    let seconds: f64 = num(&a[3], "SECONDS")?;
    let ready = &a[4];
    // One thread reads every stream (poll): a thread per stream would wake
    // a thousand threads at each burst of events and measure its own
    // scheduling.
    let req = request(target, model);
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        let mut c = TcpStream::connect(target).map_err(|e| format!("connect {target}: {e}"))?;
        let _ = c.set_nodelay(true);
        c.write_all(&req).map_err(|e| format!("write: {e}"))?;
        c.set_nonblocking(true)
            .map_err(|e| format!("nonblocking: {e}"))?;
        held.push(Held {
            c,
            seen: Some(Vec::new()),
        });
    }
    let mut fds: Vec<PollFd> = held
        .iter()
        .map(|h| {
            use std::os::fd::AsRawFd;
            PollFd {
                fd: h.c.as_raw_fd(),
                events: POLLIN,
                revents: 0,
            }
        })
        .collect();
    let mut started = 0;
    let mut tmp = vec![0u8; 16 * 1024];
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut end: Option<Instant> = None;
    loop {
        let now = Instant::now();
        let limit = match end {
            Some(e) if now >= e => return Ok(()),
            Some(e) => e - now,
            None if now >= deadline => {
                return Err(format!("only {started} of {n} streams started in 60 s"))
            }
            None => deadline - now,
        };
        let ms = limit.as_millis().clamp(1, 1000) as i32;
        if poll(&mut fds, ms).map_err(|e| format!("poll: {e}"))? == 0 {
            continue;
        }
        for (i, f) in fds.iter_mut().enumerate() {
            if f.revents == 0 {
                continue;
            }
            f.revents = 0;
            let h = &mut held[i];
            loop {
                match h.c.read(&mut tmp) {
                    Ok(0) => return Err(format!("stream {i} ended while held")),
                    Ok(k) => {
                        if let Some(seen) = h.seen.as_mut() {
                            seen.extend_from_slice(&tmp[..k]);
                            if let Some(e) = find(seen, b"\r\n\r\n") {
                                if !seen.starts_with(b"HTTP/1.1 200") {
                                    return Err(format!(
                                        "stream {i}: {}",
                                        String::from_utf8_lossy(seen)
                                    ));
                                }
                                // Chunk-size lines are hex: `data:` is an event.
                                if find(&seen[e..], b"data:").is_some() {
                                    h.seen = None;
                                    started += 1;
                                }
                            }
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(format!("stream {i}: read: {e}")),
                }
            }
        }
        if end.is_none() && started == n {
            std::fs::write(ready, b"").map_err(|e| format!("{ready}: {e}"))?;
            end = Some(if seconds >= 0.0 {
                Instant::now() + Duration::from_secs_f64(seconds)
            } else {
                Instant::now() + Duration::from_secs(365 * 86_400)
            });
        }
    }
}

// ------------------------------------------------------------------ probe

/// Decodes a chunked body incrementally; only tells where it ends.
#[derive(Default)]
struct Chunked {
    /// Data bytes still to skip in the current chunk (+2 for its CRLF).
    left: usize,
    /// Partial size line.
    line: Vec<u8>,
    /// The zero-size chunk was seen: now waiting for the empty line.
    last: bool,
}

impl Chunked {
    /// Feeds bytes; true once the whole body has been seen.
    fn feed(&mut self, mut b: &[u8]) -> Result<bool, String> {
        while !b.is_empty() {
            if self.left > 0 {
                let k = self.left.min(b.len());
                self.left -= k;
                b = &b[k..];
                continue;
            }
            let Some(nl) = b.iter().position(|&x| x == b'\n') else {
                self.line.extend_from_slice(b);
                return Ok(false);
            };
            self.line.extend_from_slice(&b[..nl]);
            b = &b[nl + 1..];
            let line = std::mem::take(&mut self.line);
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches('\r');
            if self.last {
                if line.is_empty() {
                    return Ok(true);
                }
                continue; // a trailer
            }
            let size = line.split(';').next().unwrap_or("").trim();
            let size =
                usize::from_str_radix(size, 16).map_err(|_| format!("chunk size {line:?}"))?;
            if size == 0 {
                self.last = true;
            } else {
                self.left = size + 2;
            }
        }
        Ok(false)
    }
}

/// One streamed request: (ms to the first event, ms to the end of the body).
fn probe_one(target: &str, model: &str) -> Result<(f64, f64), String> {
    let t0 = Instant::now();
    let mut c = TcpStream::connect(target).map_err(|e| format!("connect {target}: {e}"))?;
    let _ = c.set_nodelay(true);
    c.write_all(&request(target, model))
        .map_err(|e| format!("write: {e}"))?;
    let mut buf = Vec::with_capacity(4096);
    let rest = read_head(&mut c, &mut buf)?;
    let mut dec = Chunked::default();
    let mut seen = rest;
    let mut first = None;
    let mut done = dec.feed(&seen)?;
    let mut tmp = [0u8; 4096];
    loop {
        if first.is_none() && find(&seen, b"data:").is_some() {
            first = Some(t0.elapsed());
        }
        if done {
            break;
        }
        let n = c.read(&mut tmp).map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("closed before the end of the body".into());
        }
        if first.is_none() {
            seen.extend_from_slice(&tmp[..n]);
        }
        done = dec.feed(&tmp[..n])?;
    }
    let total = t0.elapsed();
    let first = first.ok_or("no event in the stream")?;
    Ok((ms(first), ms(total)))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Nearest-rank percentile of sorted samples.
fn pct(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

struct Stats {
    p50: f64,
    p99: f64,
    max: f64,
}

fn stats(xs: &[f64]) -> Stats {
    let mut s = xs.to_vec();
    s.sort_by(f64::total_cmp);
    Stats {
        p50: pct(&s, 50.0),
        p99: pct(&s, 99.0),
        max: s[s.len() - 1],
    }
}

fn probe(a: &[String]) -> Result<(), String> {
    let direct = &a[0];
    let relay = &a[1];
    let n: usize = num(&a[2], "N")?;
    if n == 0 {
        return Err("N must be at least 1".into());
    }
    let model = &a[3];
    let mut d = (Vec::with_capacity(n), Vec::with_capacity(n));
    let mut r = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n {
        let order = if i % 2 == 0 {
            [true, false]
        } else {
            [false, true]
        };
        for is_relay in order {
            let (target, into) = if is_relay {
                (relay, &mut r)
            } else {
                (direct, &mut d)
            };
            let (f, t) = probe_one(target, model).map_err(|e| {
                format!(
                    "{} probe {i}: {e}",
                    if is_relay { "relay" } else { "direct" }
                )
            })?;
            into.0.push(f);
            into.1.push(t);
        }
    }
    if let Some(path) = a.get(4) {
        let mut s = String::from("round direct_first direct_total relay_first relay_total\n");
        for i in 0..n {
            s += &format!(
                "{i} {:.3} {:.3} {:.3} {:.3}\n",
                d.0[i], d.1[i], r.0[i], r.1[i]
            );
        }
        std::fs::write(path, s).map_err(|e| format!("{path}: {e}"))?;
    }
    let (df, dt, rf, rt) = (stats(&d.0), stats(&d.1), stats(&r.0), stats(&r.1));
    let line = |name: &str, f: &Stats, t: &Stats| {
        println!(
            "{name}: first event p50 {:.2} p99 {:.2} max {:.2} ms; whole stream p50 {:.2} p99 {:.2} max {:.2} ms",
            f.p50, f.p99, f.max, t.p50, t.p99, t.max
        )
    };
    line("upstream alone  ", &df, &dt);
    line("through the relay", &rf, &rt);
    println!(
        "added by the relay: first event p50 {:+.2} p99 {:+.2} ms; whole stream p50 {:+.2} p99 {:+.2} ms",
        rf.p50 - df.p50,
        rf.p99 - df.p99,
        rt.p50 - dt.p50,
        rt.p99 - dt.p99
    );
    println!(
        "RESULT {:.3} {:.3} {:.3} {:.3}",
        rf.p50 - df.p50,
        rf.p99 - df.p99,
        rt.p50 - dt.p50,
        rt.p99 - dt.p99
    );
    Ok(())
}

// --------------------------------------------------------------- selftest

fn check(ok: bool, what: &str) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(format!("selftest: {what}"))
    }
}

fn selftest() -> Result<(), String> {
    // The decoder ends exactly at the last byte of the body, however the
    // bytes are split.
    let mut body = Vec::new();
    chunk(&mut body, EVENT);
    chunk(&mut body, b"x");
    body.extend_from_slice(b"5;ext=1\r\nhello\r\n");
    chunk(&mut body, DONE);
    body.extend_from_slice(b"0\r\nTrailer: t\r\n\r\n");
    let ends_at = |parts: &[&[u8]]| -> Result<Option<usize>, String> {
        let mut d = Chunked::default();
        let mut at = 0;
        for p in parts {
            at += p.len();
            if d.feed(p)? {
                return Ok(Some(at));
            }
        }
        Ok(None)
    };
    check(ends_at(&[&body])? == Some(body.len()), "whole body")?;
    check(
        ends_at(&[&body[..body.len() - 1]])?.is_none(),
        "body short of its last byte",
    )?;
    for cut in 1..body.len() {
        let (a, b) = body.split_at(cut);
        check(
            ends_at(&[a, b])? == Some(body.len()),
            &format!("split at {cut}"),
        )?;
    }
    let bytes: Vec<&[u8]> = body.chunks(1).collect();
    check(ends_at(&bytes)? == Some(body.len()), "one byte at a time")?;
    check(
        Chunked::default().feed(b"zz\r\n").is_err(),
        "a bad size line is an error",
    )?;

    // Schedules: every event at least one interval after the request, one
    // interval apart; sync streams share instants, spread ones cover the
    // interval evenly.
    let iv = Duration::from_millis(1000);
    let mk = |phase| Upstream {
        interval: iv,
        events: 3,
        phase,
        epoch: Instant::now(),
        streams: AtomicU64::new(0),
    };
    for phase in [Phase::Start, Phase::Sync, Phase::Spread] {
        let up = mk(phase);
        for (i, t0) in [0u64, 7, 400, 999, 1000, 2500].into_iter().enumerate() {
            let t0 = up.epoch + Duration::from_millis(t0);
            let e0 = up.due(t0, i as u64, 0);
            check(
                e0 >= t0 + iv && e0 < t0 + 2 * iv,
                "first event within one to two intervals",
            )?;
            check(
                up.due(t0, i as u64, 1) - e0 == iv,
                "events one interval apart",
            )?;
        }
    }
    let up = mk(Phase::Sync);
    let a = up.due(up.epoch + Duration::from_millis(3), 0, 0);
    let b = up.due(up.epoch + Duration::from_millis(900), 1, 0);
    check(a == b, "sync streams tick together")?;
    let up = mk(Phase::Spread);
    let n = 1000u64;
    let mut offs: Vec<u64> = (500..500 + n)
        .map(|i| ((up.due(up.epoch, i, 0) - up.epoch).as_nanos() as u64) % 1_000_000_000)
        .collect();
    offs.sort_unstable();
    let wrap = offs[0] + 1_000_000_000 - offs[offs.len() - 1];
    let widest = offs.windows(2).map(|w| w[1] - w[0]).fold(wrap, u64::max);
    // Evenly spread: no gap wider than 3 slots of interval / N.
    check(
        widest < 3 * 1_000_000_000 / n,
        "spread phases cover the interval evenly",
    )?;
    println!("loadgen selftest: ok");
    Ok(())
}
