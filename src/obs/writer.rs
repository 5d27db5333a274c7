//! The log writer thread: request logs, error logs and access-log lines are
//! formatted and written here, never on a worker.
//!
//! Bound: the channel holds at most [`QUEUE_CAP`] jobs and at most
//! [`MAX_QUEUED_BYTES`] of captured bytes (each request-log section is
//! capped at [`super::MAX_CAPTURE`]). A job past either bound is dropped and
//! counted in [`dropped`]; a worker never blocks and the queue never grows
//! past them.

use super::files;
use crate::config::{AccessFormat, AccessLog};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, OnceLock};

/// Jobs queued before new ones are dropped.
pub const QUEUE_CAP: usize = 1024;
/// Captured bytes queued before new request logs are dropped.
pub const MAX_QUEUED_BYTES: usize = 64 << 20;

static QUEUED_BYTES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl Job {
    fn bytes(&self) -> usize {
        match self {
            Job::Request(r) => {
                r.head.len()
                    + r.body.len()
                    + r.upstream_request.len()
                    + r.upstream_body.len()
                    + r.response.len()
                    + r.api_errors.iter().map(|e| e.1.len()).sum::<usize>()
            }
            Job::Access(_) => 0,
        }
    }
}

/// What the writer needs from the config.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    pub log_dir: PathBuf,
    pub max_total_bytes: u64,
    pub error_max_files: u64,
    pub access: Option<AccessLog>,
}

/// One request's log (full, or an error log).
pub struct RequestLog {
    /// `error-*.log` (request-log off) rather than a full log.
    pub error: bool,
    pub at_unix_ms: u64,
    pub method: String,
    /// Path and query as the client sent them.
    pub target: String,
    /// The request head bytes (request line and headers).
    pub head: Vec<u8>,
    pub body: Vec<u8>,
    pub upstream_request: Vec<u8>,
    pub upstream_head: Option<(u16, Vec<u8>)>,
    /// The upstream body before translation (empty when relayed as is).
    pub upstream_body: Vec<u8>,
    pub api_errors: Vec<(u16, Vec<u8>)>,
    pub status: u16,
    /// The bytes relayed to the client (head and body, capped).
    pub response: Vec<u8>,
    pub response_total: usize,
}

/// One access-log line's fields.
pub struct AccessRecord {
    pub at_unix_ms: u64,
    pub key_label: String,
    pub method: String,
    pub path: String,
    pub model: String,
    pub provider: String,
    pub credential: String,
    pub status: u16,
    pub latency_us: u64,
    pub ttfb_us: u64,
    pub tokens_in: u64,
    pub tokens_out: u64,
}

/// Work for the writer thread.
pub enum Job {
    Request(Box<RequestLog>),
    Access(AccessRecord),
}

static DROPPED: AtomicU64 = AtomicU64::new(0);
static WRITTEN: AtomicU64 = AtomicU64::new(0);

/// Jobs dropped because the queue was full.
pub fn dropped() -> u64 {
    DROPPED.load(Ordering::Relaxed)
}

/// Files and lines written.
pub fn written() -> u64 {
    WRITTEN.load(Ordering::Relaxed)
}

fn settings() -> &'static Mutex<Arc<Settings>> {
    static S: OnceLock<Mutex<Arc<Settings>>> = OnceLock::new();
    S.get_or_init(|| Mutex::new(Arc::new(Settings::default())))
}

/// Replaces the writer's settings (start and reload).
pub fn configure(s: Settings) {
    *settings().lock().unwrap_or_else(|p| p.into_inner()) = Arc::new(s);
}

fn sender() -> Option<&'static SyncSender<Job>> {
    static TX: OnceLock<Option<SyncSender<Job>>> = OnceLock::new();
    TX.get_or_init(|| {
        let (tx, rx) = sync_channel(QUEUE_CAP);
        std::thread::Builder::new()
            .name("cliproxy-logs".into())
            .spawn(move || run(rx))
            .ok()
            .map(|_| tx)
    })
    .as_ref()
}

/// Queues a job; drops (and counts) it when the queue is full.
pub fn send(job: Job) {
    let Some(tx) = sender() else {
        DROPPED.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let n = job.bytes();
    if n > 0 && QUEUED_BYTES.fetch_add(n, Ordering::Relaxed) + n > MAX_QUEUED_BYTES {
        QUEUED_BYTES.fetch_sub(n, Ordering::Relaxed);
        DROPPED.fetch_add(1, Ordering::Relaxed);
        return;
    }
    match tx.try_send(job) {
        Ok(()) => {}
        Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
            QUEUED_BYTES.fetch_sub(n, Ordering::Relaxed);
            DROPPED.fetch_add(1, Ordering::Relaxed);
        }
    }
}

struct AccessFile {
    path: PathBuf,
    file: std::fs::File,
}

fn run(rx: Receiver<Job>) {
    let mut access: Option<AccessFile> = None;
    let mut errors: Option<files::ErrorLogs> = None;
    let mut since_sweep: u64 = 0;
    let mut last: Option<PathBuf> = None;
    while let Ok(job) = rx.recv() {
        QUEUED_BYTES.fetch_sub(job.bytes(), Ordering::Relaxed);
        let s = settings().lock().unwrap_or_else(|p| p.into_inner()).clone();
        match job {
            Job::Request(r) => {
                let name = files::request_log_name(&r.target, r.at_unix_ms, r.error);
                let path = s.log_dir.join(&name);
                let text = format_request_log(&r);
                // `error-logs-max-files: 0` keeps every file: nothing to track.
                let capped = r.error && s.error_max_files > 0;
                if capped && errors.as_ref().is_none_or(|e| e.dir() != s.log_dir) {
                    errors = Some(files::ErrorLogs::scan(&s.log_dir));
                }
                if std::fs::create_dir_all(&s.log_dir).is_ok()
                    && std::fs::write(&path, &text).is_ok()
                {
                    WRITTEN.fetch_add(1, Ordering::Relaxed);
                    if let (true, Some(e)) = (capped, errors.as_mut()) {
                        e.added(path.clone(), s.error_max_files as usize);
                    }
                }
                since_sweep += text.len() as u64;
                last = Some(path);
            }
            Job::Access(a) => {
                let Some(cfg) = &s.access else { continue };
                if access.as_ref().is_none_or(|f| f.path != cfg.path) {
                    access = open_append(&cfg.path).map(|file| AccessFile {
                        path: cfg.path.clone(),
                        file,
                    });
                }
                if let Some(f) = access.as_mut() {
                    let line = format_access(&a, cfg.format);
                    since_sweep += line.len() as u64;
                    if f.file.write_all(line.as_bytes()).is_ok() {
                        WRITTEN.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
        // `logs-max-total-size-mb`: sweep once a sixteenth of the limit
        // was written since the last sweep.
        if s.max_total_bytes > 0 && since_sweep >= (s.max_total_bytes / 16).max(1) {
            since_sweep = 0;
            files::enforce_total_size(&s.log_dir, s.max_total_bytes, last.as_deref());
        }
    }
}

fn open_append(path: &std::path::Path) -> Option<std::fs::File> {
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .ok()
}

/// Header names whose values never reach a log.
pub fn sensitive_header(name: &str) -> bool {
    let n = name.trim().to_ascii_lowercase();
    matches!(
        n.as_str(),
        "authorization"
            | "proxy-authorization"
            | "x-api-key"
            | "x-goog-api-key"
            | "api-key"
            | "cookie"
            | "set-cookie"
            | "x-management-key"
            | "chatgpt-account-id"
    ) || n.contains("token")
        || n.contains("secret")
        || n.contains("api-key")
        || n.contains("apikey")
}

/// A redacted header value: the scheme word of an `Authorization` kept
/// (`Bearer ****`), everything else `****`.
fn masked(value: &str) -> String {
    let v = value.trim();
    match v.split_once(' ') {
        Some((scheme, _)) if scheme.eq_ignore_ascii_case("bearer") => format!("{scheme} ****"),
        _ => "****".into(),
    }
}

/// Writes the header lines of an HTTP head (`head` holds the start line
/// first) with sensitive values masked; returns the start line.
fn write_headers(out: &mut Vec<u8>, head: &[u8]) -> String {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split('\n').map(|l| l.trim_end_matches('\r'));
    let start = lines.next().unwrap_or("").to_string();
    for l in lines {
        if l.is_empty() {
            break;
        }
        match l.split_once(':') {
            Some((n, v)) if sensitive_header(n) => {
                let _ = writeln!(out, "{}: {}", n.trim(), masked(v));
            }
            Some((n, v)) => {
                let _ = writeln!(out, "{}: {}", n.trim(), redact_query(v.trim()));
            }
            None => {
                let _ = writeln!(out, "{l}");
            }
        }
    }
    start
}

/// Masks a `key=` query parameter (Gemini clients send their key there).
pub fn redact_query(s: &str) -> String {
    let Some(q) = s.find('?') else {
        return s.to_string();
    };
    let (path, query) = s.split_at(q + 1);
    let parts: Vec<String> = query
        .split('&')
        .map(|p| match p.split_once('=') {
            Some((k, _)) if sensitive_param(k) => format!("{k}=****"),
            _ => p.to_string(),
        })
        .collect();
    format!("{path}{}", parts.join("&"))
}

fn sensitive_param(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    k == "key" || k == "api_key" || k.contains("token") || k.contains("secret")
}

fn section_spacing(out: &mut Vec<u8>) {
    let trailing = out.iter().rev().take_while(|&&b| b == b'\n').count();
    for _ in trailing..3 {
        out.push(b'\n');
    }
}

/// The upstream request (an HTTP/1.1 message: head and body) with its
/// sensitive header values masked.
fn write_http_message(out: &mut Vec<u8>, msg: &[u8]) {
    let end = crate::h1::find_head_end(msg, 0);
    let (head, body) = match end {
        Some(e) => (&msg[..e], &msg[e..]),
        None => (msg, &b""[..]),
    };
    let mut hdrs = Vec::new();
    let first = write_headers(&mut hdrs, head);
    let _ = writeln!(out, "{}", redact_query(&first));
    out.extend_from_slice(&hdrs);
    out.push(b'\n');
    out.extend_from_slice(body);
}

/// CLIProxyAPI's request-log layout (`=== REQUEST INFO ===`, `=== HEADERS
/// ===`, `=== REQUEST BODY ===`, `=== API REQUEST ===`, `=== API ERROR
/// RESPONSE ===`, `=== API RESPONSE ===`, `=== RESPONSE ===`), secrets masked.
pub fn format_request_log(r: &RequestLog) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024 + r.body.len() + r.response.len());
    let ts = files::rfc3339_ms(r.at_unix_ms);
    out.extend_from_slice(b"=== REQUEST INFO ===\n");
    let _ = writeln!(out, "Version: {}", env!("CARGO_PKG_VERSION"));
    let _ = writeln!(out, "URL: {}", redact_query(&r.target));
    let _ = writeln!(out, "Method: {}", r.method);
    let _ = writeln!(out, "Timestamp: {ts}");
    section_spacing(&mut out);
    out.extend_from_slice(b"=== HEADERS ===\n");
    write_headers(&mut out, &r.head);
    section_spacing(&mut out);
    out.extend_from_slice(b"=== REQUEST BODY ===\n");
    out.extend_from_slice(&r.body);
    section_spacing(&mut out);
    if !r.upstream_request.is_empty() {
        out.extend_from_slice(b"=== API REQUEST ===\n");
        write_http_message(&mut out, &r.upstream_request);
        section_spacing(&mut out);
    }
    for (status, body) in &r.api_errors {
        out.extend_from_slice(b"=== API ERROR RESPONSE ===\n");
        let _ = writeln!(out, "HTTP Status: {status}");
        out.extend_from_slice(body);
        section_spacing(&mut out);
    }
    if let Some((status, headers)) = &r.upstream_head {
        out.extend_from_slice(b"=== API RESPONSE ===\n");
        let _ = writeln!(out, "Status: {status}");
        write_headers(&mut out, &[b"\n".as_slice(), headers].concat());
        if !r.upstream_body.is_empty() {
            out.push(b'\n');
            out.extend_from_slice(&r.upstream_body);
        }
        section_spacing(&mut out);
    }
    out.extend_from_slice(b"=== RESPONSE ===\n");
    let _ = writeln!(out, "Status: {}", r.status);
    let (head, body) = match crate::h1::find_head_end(&r.response, 0) {
        Some(e) if r.response.starts_with(b"HTTP/") => (&r.response[..e], &r.response[e..]),
        _ => (&b""[..], &r.response[..]),
    };
    if !head.is_empty() {
        write_headers(&mut out, head);
    }
    out.push(b'\n');
    // A chunked answer is logged as its body, without the framing.
    let chunked = String::from_utf8_lossy(head)
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let mut plain = Vec::new();
    let decoded = chunked
        && crate::h1::chunked::ChunkedDecoder::new()
            .feed(body, |d| plain.extend_from_slice(d))
            .is_ok();
    out.extend_from_slice(if decoded { &plain } else { body });
    if r.response_total > r.response.len() {
        let _ = write!(
            out,
            "\n[truncated: {} of {} bytes logged]",
            r.response.len(),
            r.response_total
        );
    }
    out.push(b'\n');
    out
}

fn json_str(out: &mut String, s: &str) {
    out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into()));
}

fn logfmt_str(out: &mut String, s: &str) {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b > b' ' && b != b'"' && b != b'=' && b != b'\\' && b < 0x7f)
    {
        out.push_str(s);
    } else {
        json_str(out, s);
    }
}

/// One access-log line (newline-terminated).
pub fn format_access(a: &AccessRecord, format: AccessFormat) -> String {
    let time = files::rfc3339_ms(a.at_unix_ms);
    let latency_ms = a.latency_us as f64 / 1000.0;
    let ttfb_ms = a.ttfb_us as f64 / 1000.0;
    let strs: [(&str, &str); 8] = [
        ("time", &time),
        ("key", &a.key_label),
        ("method", &a.method),
        ("path", &a.path),
        ("model", &a.model),
        ("provider", &a.provider),
        ("credential", &a.credential),
        ("", ""),
    ];
    let nums: [(&str, String); 5] = [
        ("status", a.status.to_string()),
        ("latency_ms", format!("{latency_ms:.3}")),
        ("ttfb_ms", format!("{ttfb_ms:.3}")),
        ("tokens_in", a.tokens_in.to_string()),
        ("tokens_out", a.tokens_out.to_string()),
    ];
    let mut out = String::with_capacity(256);
    match format {
        AccessFormat::Json => {
            out.push('{');
            let mut first = true;
            for (k, v) in strs.iter().filter(|(k, _)| !k.is_empty()) {
                if !first {
                    out.push(',');
                }
                first = false;
                json_str(&mut out, k);
                out.push(':');
                json_str(&mut out, v);
            }
            for (k, v) in &nums {
                out.push(',');
                json_str(&mut out, k);
                out.push(':');
                out.push_str(v);
            }
            out.push_str("}\n");
        }
        AccessFormat::Logfmt => {
            let mut first = true;
            for (k, v) in strs.iter().filter(|(k, _)| !k.is_empty()) {
                if !first {
                    out.push(' ');
                }
                first = false;
                out.push_str(k);
                out.push('=');
                logfmt_str(&mut out, v);
            }
            for (k, v) in &nums {
                out.push(' ');
                out.push_str(k);
                out.push('=');
                out.push_str(v);
            }
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> RequestLog {
        RequestLog {
            error: false,
            at_unix_ms: 1_700_000_000_123,
            method: "POST".into(),
            target: "/v1beta/models/g:generateContent?key=sk-secret-q&alt=sse".into(),
            head: b"POST /v1/chat/completions HTTP/1.1\r\nAuthorization: Bearer sk-secret-a\r\nX-Api-Key: sk-secret-b\r\nx-goog-api-key: sk-secret-c\r\nCookie: s=sk-secret-d\r\nContent-Type: application/json\r\n\r\n".to_vec(),
            body: b"{\"model\":\"m\"}".to_vec(),
            upstream_request: b"POST /v1/messages HTTP/1.1\r\nx-api-key: sk-secret-e\r\nanthropic-version: 1\r\n\r\n{\"model\":\"up\"}".to_vec(),
            upstream_head: Some((200, b"content-type: text/event-stream\nset-cookie: sk-secret-f\n".to_vec())),
            upstream_body: b"event: message_start\ndata: {}\n\n".to_vec(),
            api_errors: vec![(429, b"{\"error\":\"slow\"}".to_vec())],
            status: 200,
            response: b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n6\r\ndata: \r\n4\r\nhi\n\n\r\n0\r\n\r\n".to_vec(),
            response_total: 62,
        }
    }

    #[test]
    fn request_log_has_every_section_and_no_secret() {
        let text = String::from_utf8(format_request_log(&sample())).unwrap();
        for s in [
            "=== REQUEST INFO ===",
            "URL: /v1beta/models/g:generateContent?key=****&alt=sse",
            "Method: POST",
            "=== HEADERS ===",
            "Authorization: Bearer ****",
            "Content-Type: application/json",
            "=== REQUEST BODY ===\n{\"model\":\"m\"}",
            "=== API REQUEST ===\nPOST /v1/messages HTTP/1.1\n",
            "anthropic-version: 1",
            "{\"model\":\"up\"}",
            "=== API ERROR RESPONSE ===\nHTTP Status: 429\n{\"error\":\"slow\"}",
            "=== API RESPONSE ===\nStatus: 200\ncontent-type: text/event-stream",
            "set-cookie: ****\n\nevent: message_start\ndata: {}",
            "=== RESPONSE ===\nStatus: 200\nContent-Type: text/event-stream\nTransfer-Encoding: chunked\n\ndata: hi\n\n\n",
        ] {
            assert!(text.contains(s), "missing {s:?} in\n{text}");
        }
        assert!(!text.contains("sk-secret"), "{text}");
    }

    #[test]
    fn access_lines_parse_in_both_formats() {
        let a = AccessRecord {
            at_unix_ms: 1_700_000_000_000,
            key_label: "abcd1234".into(),
            method: "POST".into(),
            path: "/v1/chat/completions".into(),
            model: "gpt \"x\"".into(),
            provider: "openai".into(),
            credential: "c".into(),
            status: 200,
            latency_us: 1500,
            ttfb_us: 700,
            tokens_in: 3,
            tokens_out: 4,
        };
        let j: serde_json::Value =
            serde_json::from_str(format_access(&a, AccessFormat::Json).trim()).unwrap();
        assert_eq!(j["model"], "gpt \"x\"");
        assert_eq!(j["status"], 200);
        assert_eq!(j["latency_ms"], 1.5);
        assert_eq!(j["tokens_out"], 4);
        let l = format_access(&a, AccessFormat::Logfmt);
        assert!(l.contains("model=\"gpt \\\"x\\\"\""), "{l}");
        assert!(l.contains(" status=200 "), "{l}");
        assert!(l.starts_with("time=2023-11-14T22:13:20.000Z "), "{l}");
    }
}
