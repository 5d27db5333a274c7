//! Observability: request logs, error logs, the access log, `/metrics` and
//! the app log file (`logging-to-file`).
//!
//! Cost on the request path:
//! - everything off (`request-log`, `access-log`, `metrics` off): one relaxed
//!   atomic load and a branch per request ([`flags`]), one `Option` test per
//!   flush and per upstream attempt (`Conn::trace` is `None`). Failed
//!   proxy requests (only those) build an error log when `request-log` is
//!   off and `error-logs-max-files` allows it (`pipeline::trace::arm_error_log`).
//! - on: a [`Trace`] rides on the connection for the request; it copies the
//!   bytes a request log needs (capped at [`MAX_CAPTURE`] per section) and
//!   times the first byte. At the end, `pipeline::trace::finish` counts the metrics on this
//!   worker (no lock: per-worker atomics, see [`metrics`]) and hands the
//!   request log / access line to the writer thread ([`writer`]) through a
//!   bounded channel: a full channel drops the job and counts it; the worker
//!   never blocks on disk.

pub mod files;
pub mod mainlog;
pub mod metrics;
pub mod writer;

use crate::config::Config;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// `request-log: true`.
pub const REQUEST_LOG: u8 = 1;
/// `access-log.enabled`.
pub const ACCESS_LOG: u8 = 2;
/// `metrics.enabled`.
pub const METRICS: u8 = 4;
/// Error logs for failed requests (`request-log` off).
pub const ERROR_LOG: u8 = 8;
/// Flags that put a [`Trace`] on every request.
pub const TRACED: u8 = REQUEST_LOG | ACCESS_LOG | METRICS;

/// Largest part of a body (request, upstream request, response) a log keeps.
pub const MAX_CAPTURE: usize = 1 << 20;

static FLAGS: AtomicU8 = AtomicU8::new(0);

/// Unix milliseconds now (0 before 1970).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The active observability flags.
#[inline]
pub fn flags() -> u8 {
    FLAGS.load(Ordering::Relaxed)
}

/// Applies a (re)loaded config: flags, the writer's settings, the app log
/// file. Called at start and on every reload.
pub fn apply(cfg: &Config) {
    let mut f = 0;
    if cfg.request_log {
        f |= REQUEST_LOG;
    } else {
        f |= ERROR_LOG;
    }
    if cfg.access_log.is_some() {
        f |= ACCESS_LOG;
    }
    if cfg.metrics.enabled {
        f |= METRICS;
    }
    writer::configure(writer::Settings {
        log_dir: cfg.log_dir.clone(),
        max_total_bytes: cfg.logs_max_total_bytes,
        error_max_files: cfg.error_logs_max_files,
        access: cfg.access_log.clone(),
    });
    mainlog::configure(cfg.logging_to_file, &cfg.log_dir, cfg.logs_max_total_bytes);
    FLAGS.store(f, Ordering::Relaxed);
}

/// What one request did, gathered while it runs.
pub struct Trace {
    /// The flags when the request started.
    pub flags: u8,
    /// An error log is wanted (armed on a failure path, `request-log` off).
    pub error_log: bool,
    pub(crate) started: Instant,
    pub(crate) at_unix_ms: u64,
    pub(crate) ttfb_us: Option<u64>,
    pub(crate) status: u16,
    /// The first bytes sent (`HTTP/1.1 NNN`), for the status.
    pub(crate) status_head: [u8; STATUS_PREFIX],
    /// Bytes relayed to the client (capped copy in `response`).
    pub(crate) response: Vec<u8>,
    pub(crate) response_total: usize,
    /// The last upstream request (head and body, capped).
    pub(crate) upstream_request: Vec<u8>,
    /// The upstream answer's status and header lines.
    pub(crate) upstream_head: Option<(u16, Vec<u8>)>,
    /// The upstream's answer body before translation (translated answers
    /// only: a same-format answer is the relayed body), capped.
    pub(crate) upstream_body: Vec<u8>,
    /// Upstream error answers: status and body (capped).
    pub(crate) api_errors: Vec<(u16, Vec<u8>)>,
    /// Labels.
    pub provider: Arc<str>,
    pub model: String,
    pub credential: Arc<str>,
    /// Tokens reported by the upstream (in, out).
    pub tokens: (u64, u64),
}

/// `HTTP/1.1 NNN`.
const STATUS_PREFIX: usize = 12;

fn parse_status(head: &[u8; STATUS_PREFIX]) -> u16 {
    if !head.starts_with(b"HTTP/1.1 ") {
        return 0;
    }
    std::str::from_utf8(&head[9..12])
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|s| (100..1000).contains(s))
        .unwrap_or(0)
}

pub(crate) fn push_capped(dst: &mut Vec<u8>, src: &[u8]) {
    let room = MAX_CAPTURE.saturating_sub(dst.len());
    dst.extend_from_slice(&src[..src.len().min(room)]);
}

impl Trace {
    /// A trace for a request starting now.
    pub fn new(flags: u8) -> Box<Trace> {
        Box::new(Trace {
            flags,
            error_log: false,
            started: Instant::now(),
            at_unix_ms: now_ms(),
            ttfb_us: None,
            status: 0,
            status_head: [0; STATUS_PREFIX],
            response: Vec::new(),
            response_total: 0,
            upstream_request: Vec::new(),
            upstream_head: None,
            upstream_body: Vec::new(),
            api_errors: Vec::new(),
            provider: Arc::from(""),
            model: String::new(),
            credential: Arc::from(""),
            tokens: (0, 0),
        })
    }

    fn keeps_bodies(&self) -> bool {
        self.error_log || self.flags & REQUEST_LOG != 0
    }

    /// Sees bytes on their way to the client (`Conn::flush`).
    pub fn on_flush(&mut self, out: &[u8]) {
        if out.is_empty() {
            return;
        }
        if self.ttfb_us.is_none() {
            self.ttfb_us = Some(self.started.elapsed().as_micros() as u64);
        }
        // The status line's first 12 bytes, however the flushes split them.
        if self.response_total < STATUS_PREFIX {
            let take = (STATUS_PREFIX - self.response_total).min(out.len());
            let at = self.response_total;
            self.status_head[at..at + take].copy_from_slice(&out[..take]);
            if at + take == STATUS_PREFIX {
                self.status = parse_status(&self.status_head);
            }
        }
        self.response_total += out.len();
        if self.keeps_bodies() {
            push_capped(&mut self.response, out);
        }
    }

    /// The request being sent upstream (one attempt; a retry replaces it).
    pub fn upstream_request(&mut self, bytes: &[u8]) {
        if self.keeps_bodies() {
            self.upstream_request.clear();
            push_capped(&mut self.upstream_request, bytes);
        }
    }

    /// The upstream's answer head.
    pub fn upstream_head(&mut self, status: u16, headers: &[(&[u8], &[u8])]) {
        if !self.keeps_bodies() {
            return;
        }
        let mut h = Vec::with_capacity(256);
        for (n, v) in headers {
            h.extend_from_slice(n);
            h.extend_from_slice(b": ");
            h.extend_from_slice(v);
            h.push(b'\n');
        }
        self.upstream_head = Some((status, h));
    }

    /// Upstream answer bytes a translating relay read.
    pub fn upstream_body(&mut self, bytes: &[u8]) {
        if self.keeps_bodies() {
            push_capped(&mut self.upstream_body, bytes);
        }
    }

    /// An upstream error answer's body.
    pub fn api_error(&mut self, status: u16, body: &[u8]) {
        if self.keeps_bodies() && self.api_errors.len() < 16 {
            let mut b = Vec::new();
            push_capped(&mut b, body);
            self.api_errors.push((status, b));
        }
    }

    /// The credential an attempt uses.
    pub fn attempt(&mut self, provider: &Arc<str>, credential: &Arc<str>) {
        if !Arc::ptr_eq(&self.provider, provider) {
            self.provider = provider.clone();
        }
        if !Arc::ptr_eq(&self.credential, credential) {
            self.credential = credential.clone();
        }
    }

    /// Whether the answer's token usage is wanted (access log, metrics).
    pub fn wants_tokens(&self) -> bool {
        self.flags & (ACCESS_LOG | METRICS) != 0
    }

    /// The status the client saw (499 when nothing reached it).
    pub fn status(&self) -> u16 {
        if self.status == 0 {
            499
        } else {
            self.status
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The oracle: what a trace should hold after seeing `all` at once.
    fn oracle(all: &[u8]) -> (u16, Vec<u8>, usize) {
        let mut head = [0u8; STATUS_PREFIX];
        let status = if all.len() >= STATUS_PREFIX {
            head.copy_from_slice(&all[..STATUS_PREFIX]);
            parse_status(&head)
        } else {
            0
        };
        (
            status,
            all[..all.len().min(MAX_CAPTURE)].to_vec(),
            all.len(),
        )
    }

    #[test]
    fn flushes_split_at_every_byte_match_the_whole() {
        let answers: [&[u8]; 4] = [
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: {\"a\":1}\n\n",
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 2\r\n\r\n{}",
            b"HTTP/1.1 2",
            b"garbage that is not a status line",
        ];
        for all in answers {
            let want = oracle(all);
            for cut in 0..=all.len() {
                for second in cut..=all.len() {
                    let mut t = Trace::new(REQUEST_LOG);
                    t.on_flush(&all[..cut]);
                    t.on_flush(&all[cut..second]);
                    t.on_flush(&all[second..]);
                    assert_eq!(
                        (t.status, t.response.clone(), t.response_total),
                        want,
                        "cuts {cut},{second} of {:?}",
                        String::from_utf8_lossy(all)
                    );
                }
            }
            // Byte by byte.
            let mut t = Trace::new(REQUEST_LOG);
            for b in all {
                t.on_flush(std::slice::from_ref(b));
            }
            assert_eq!((t.status, t.response, t.response_total), want);
        }
        // Nothing sent: the client left (499).
        assert_eq!(Trace::new(METRICS).status(), 499);
    }

    #[test]
    fn capture_is_capped() {
        let mut t = Trace::new(REQUEST_LOG);
        let chunk = vec![b'x'; 300 * 1024];
        for _ in 0..5 {
            t.on_flush(&chunk);
        }
        assert_eq!(t.response.len(), MAX_CAPTURE);
        assert_eq!(t.response_total, 5 * chunk.len());
        // Metrics alone keep no bodies.
        let mut m = Trace::new(METRICS);
        m.on_flush(&chunk);
        m.upstream_request(&chunk);
        assert!(m.response.is_empty() && m.upstream_request.is_empty());
    }
}
