//! The request path's observability hooks: put a [`Trace`] on a request,
//! arm an error log for a failed one, and hand a finished trace to the
//! metrics and the log writer ([`crate::obs`] holds the trace, the counters
//! and the writer; these hooks know the server and management types, which
//! `obs` itself does not depend on).

use crate::obs::{
    self, metrics, writer, Trace, ACCESS_LOG, ERROR_LOG, METRICS, REQUEST_LOG, TRACED,
};
use crate::runtime::Worker;
use crate::server::{Conn, Request};

/// Puts a trace on `conn` for `req` when any traced feature is on. The
/// management plane and `/metrics` itself are not traced.
#[inline]
pub fn begin(conn: &mut Conn, req: &Request<'_>) {
    let f = obs::flags();
    if f & TRACED == 0 {
        return;
    }
    let p = req.path();
    if p.starts_with(crate::management::PREFIX) || p == b"/metrics" {
        return;
    }
    conn.trace = Some(Trace::new(f));
}

/// On a failed proxy request with `request-log` off: arms an error log
/// (captures the answer about to be flushed); `last_upstream` is the
/// upstream's last error answer, if any.
pub fn arm_error_log(conn: &mut Conn, last_upstream: Option<(u16, &[u8])>) {
    let f = obs::flags();
    if f & ERROR_LOG == 0 {
        return;
    }
    let t = conn.trace.get_or_insert_with(|| Trace::new(ERROR_LOG));
    if t.flags & REQUEST_LOG != 0 {
        return;
    }
    t.error_log = true;
    if t.api_errors.is_empty() {
        if let Some((s, b)) = last_upstream {
            t.api_error(s, b);
        }
    }
}

/// An 8-hex-digit fingerprint (SHA-256 prefix) of a client key (never the key itself).
pub fn key_label(req: &Request<'_>) -> String {
    let raw = req.client_key();
    if raw.is_empty() {
        return String::new();
    }
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(raw.as_bytes());
    d[..4].iter().map(|b| format!("{b:02x}")).collect()
}

/// Ends the request's trace: metrics on this worker, then the logs to the
/// writer thread.
pub fn finish(w: &Worker, req: &Request<'_>, t: Box<Trace>) {
    let latency_us = t.started.elapsed().as_micros() as u64;
    let status = t.status();
    if t.flags & METRICS != 0 {
        let idle = w.pool.try_borrow().map_or(0, |p| p.idle_conns());
        metrics::record(&t, status, latency_us, idle);
    }
    if t.flags & ACCESS_LOG != 0 {
        writer::send(writer::Job::Access(writer::AccessRecord {
            at_unix_ms: t.at_unix_ms,
            key_label: key_label(req),
            method: String::from_utf8_lossy(req.method()).into_owned(),
            path: String::from_utf8_lossy(req.path()).into_owned(),
            model: t.model.clone(),
            provider: t.provider.to_string(),
            credential: t.credential.to_string(),
            status,
            latency_us,
            ttfb_us: t.ttfb_us.unwrap_or(latency_us),
            tokens_in: t.tokens.0,
            tokens_out: t.tokens.1,
        }));
    }
    let full = t.flags & REQUEST_LOG != 0;
    if full || (t.error_log && status >= 400) {
        let mut head = Vec::with_capacity(req.body_start);
        head.extend_from_slice(&req.buf[..req.body_start.min(req.buf.len())]);
        let mut body = Vec::new();
        obs::push_capped(&mut body, req.body());
        writer::send(writer::Job::Request(Box::new(writer::RequestLog {
            error: !full,
            at_unix_ms: t.at_unix_ms,
            method: String::from_utf8_lossy(req.method()).into_owned(),
            target: {
                let mut u = String::from_utf8_lossy(req.path()).into_owned();
                if !req.query().is_empty() {
                    u.push('?');
                    u.push_str(&String::from_utf8_lossy(req.query()));
                }
                u
            },
            head,
            body,
            upstream_request: t.upstream_request,
            upstream_head: t.upstream_head,
            upstream_body: t.upstream_body,
            api_errors: t.api_errors,
            status,
            response: t.response,
            response_total: t.response_total,
        })));
    }
}
