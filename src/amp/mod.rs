//! Amp CLI integration (CLIProxyAPI v6.9's `ampcode` module): Amp's own
//! endpoints are reverse-proxied to the Amp upstream with the client's
//! credentials replaced by the Amp key; model requests on
//! `/api/provider/{provider}/...` are served locally when a local provider
//! has the model (or a `model-mappings` target), and otherwise forwarded to
//! the Amp upstream. Locally served answers go through the response
//! rewriter ([`rewrite`], installed as a connection output filter,
//! [`filter`]); request bodies are sanitised first ([`sanitize`]).
//!
//! Everything is read from the snapshot per request, so `ampcode` changes
//! take effect at the next request after a reload.

pub mod filter;
pub mod gzip;
pub mod rewrite;
pub mod sanitize;
pub mod secret;

use crate::h1::encode;
use crate::runtime::Worker;
use crate::server::{Conn, Request, CLIENT_WATCH_DELAY};
use std::future::Future;
use std::rc::Rc;

/// `/api/{...}` prefixes proxied to the Amp upstream.
const API_PREFIXES: [&[u8]; 9] = [
    b"internal",
    b"user",
    b"auth",
    b"meta",
    b"ads",
    b"telemetry",
    b"threads",
    b"otel",
    b"tab",
];

/// Root-level Amp pages (GET) that need no client key.
const ROOT_OPEN: [&[u8]; 3] = [b"/threads", b"/docs", b"/settings"];

/// Client headers never forwarded to the Amp upstream: hop-by-hop,
/// framing (set here), the client's credentials (replaced by the Amp key),
/// and what CLIProxyAPI scrubs as proxy tracing and client fingerprint
/// (`misc.ScrubProxyAndFingerprintHeaders`), `Accept-Encoding` included so
/// the upstream answers uncompressed.
const DROP_HEADERS: [&str; 36] = [
    "accept-encoding",
    "host",
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "content-length",
    "content-encoding",
    "upgrade",
    "te",
    "authorization",
    "x-api-key",
    "x-goog-api-key",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-forwarded-port",
    "x-real-ip",
    "forwarded",
    "via",
    "x-title",
    "x-stainless-lang",
    "x-stainless-package-version",
    "x-stainless-os",
    "x-stainless-arch",
    "x-stainless-runtime",
    "x-stainless-runtime-version",
    "http-referer",
    "referer",
    "sec-ch-ua",
    "sec-ch-ua-mobile",
    "sec-ch-ua-platform",
    "sec-fetch-mode",
    "sec-fetch-site",
    "sec-fetch-dest",
    "priority",
];

/// `path` is `prefix` or under it.
fn under(path: &[u8], prefix: &[u8]) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|r| r.is_empty() || r[0] == b'/')
}

/// What kind of Amp route a request is.
enum Route {
    /// A management route, proxied; `open`: no client key needed.
    Manage { open: bool },
    /// A model request with Amp's fallback; `managed`: under the
    /// management gates too (`/api/provider/google/v1beta1/...`).
    Fallback { managed: bool },
}

fn classify(method: &[u8], path: &[u8]) -> Option<Route> {
    if let Some(rest) = path.strip_prefix(b"/api/provider/") {
        let (provider, tail) = match memchr::memchr(b'/', rest) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, &b""[..]),
        };
        if tail.starts_with(b"/v1beta1/") && provider == b"google" {
            return Some(
                if method == b"POST" && memchr::memmem::find(tail, b"/models/").is_some() {
                    Route::Fallback { managed: true }
                } else {
                    Route::Manage { open: false }
                },
            );
        }
        if method != b"POST" {
            return None;
        }
        let t = tail.strip_prefix(b"/v1").unwrap_or(tail);
        let fallback = matches!(t, b"/chat/completions" | b"/completions" | b"/responses")
            || (tail.starts_with(b"/v1/") && matches!(t, b"/messages" | b"/messages/count_tokens"))
            || tail.starts_with(b"/v1beta/models/");
        return fallback.then_some(Route::Fallback { managed: false });
    }
    if let Some(rest) = path.strip_prefix(b"/api") {
        if API_PREFIXES
            .iter()
            .any(|p| rest.first() == Some(&b'/') && under(&rest[1..], p))
        {
            return Some(Route::Manage { open: false });
        }
        return None;
    }
    let get = method == b"GET" || method == b"HEAD";
    if get && ROOT_OPEN.iter().any(|p| under(path, p)) {
        return Some(Route::Manage { open: true });
    }
    if get && (path == b"/threads.rss" || path == b"/news.rss") {
        return Some(Route::Manage { open: false });
    }
    if under(path, b"/auth") {
        return Some(Route::Manage { open: true });
    }
    None
}

/// Serves `req` if it is an Amp route; `None` leaves it to the pipeline.
/// The relay's own routes, which serve a request the Amp module keeps
/// local. The pipeline implements it and passes itself in, so this module
/// does not name the pipeline (it wraps it).
pub trait Relay {
    /// Serves `req` through the relay's routes; returns keep-alive.
    fn dispatch(w: &Rc<Worker>, conn: &mut Conn, req: &Request<'_>) -> impl Future<Output = bool>;
}

pub async fn handle<R: Relay>(w: &Rc<Worker>, conn: &mut Conn, req: &Request<'_>) -> Option<bool> {
    match classify(req.method(), req.path())? {
        Route::Manage { open } => Some(manage(w, conn, req, open).await),
        Route::Fallback { managed } => {
            if managed && !gates(w, conn, req) {
                return Some(flush(conn).await);
            }
            Some(fallback::<R>(w, conn, req).await)
        }
    }
}

fn json_error(conn: &mut Conn, status: u16, body: &[u8]) {
    encode::status_line(&mut conn.out, status);
    encode::header(
        &mut conn.out,
        "Content-Type",
        b"application/json; charset=utf-8",
    );
    encode::content_length(&mut conn.out, body.len());
    conn.out.extend_from_slice(b"\r\n");
    conn.out.extend_from_slice(body);
}

async fn flush(conn: &mut Conn) -> bool {
    conn.flush().await.is_ok()
}

/// The management gates: upstream on (else 503), no CORS preflight (403),
/// optionally loopback clients only (403). False: the answer is written.
fn gates(w: &Worker, conn: &mut Conn, req: &Request<'_>) -> bool {
    let snap = w.snapshot();
    if snap.amp_upstream.is_none() {
        json_error(
            conn,
            503,
            br#"{"error":"amp upstream proxy not available"}"#,
        );
        return false;
    }
    if req.method() == b"OPTIONS" {
        encode::status_line(&mut conn.out, 403);
        encode::content_length(&mut conn.out, 0);
        conn.out.extend_from_slice(b"\r\n");
        return false;
    }
    if snap.config.ampcode.restrict_management_to_localhost
        && !conn.peer.ip().to_canonical().is_loopback()
    {
        crate::log_warn!(
            "amp management: non-loopback client {} refused",
            conn.peer.ip()
        );
        json_error(
            conn,
            403,
            br#"{"error":"Access denied: management routes restricted to localhost"}"#,
        );
        return false;
    }
    true
}

/// The management routes: the gates, the client key (except the open
/// pages), then the proxy.
async fn manage(w: &Rc<Worker>, conn: &mut Conn, req: &Request<'_>, open: bool) -> bool {
    let snap = w.snapshot();
    if !gates(w, conn, req) {
        return flush(conn).await;
    }
    if !open && !crate::pipeline::auth::authorized(w, conn, req, false) {
        return flush(conn).await;
    }
    let key = client_key(&snap.config.api_keys, req);
    to_amp(w, conn, req, req.path(), req.body(), key).await
}

/// The configured client key `req` authenticated with, if any (the
/// per-client Amp key is looked up by it; its `?key=`/`?auth_token=`
/// copies are not forwarded).
fn client_key<'r>(keys: &[crate::secret::Secret], req: &'r Request<'_>) -> Option<&'r [u8]> {
    let is_key = |c: &[u8]| !c.is_empty() && keys.iter().any(|k| k.ct_eq(c));
    if let Some(v) = req.header("authorization") {
        let v = crate::h1::trim(v);
        let t = if v.len() > 7 && v[..7].eq_ignore_ascii_case(b"bearer ") {
            crate::h1::trim(&v[7..])
        } else {
            v
        };
        if is_key(t) {
            return Some(t);
        }
    }
    for h in ["x-goog-api-key", "x-api-key"] {
        if let Some(v) = req.header(h).map(crate::h1::trim) {
            if is_key(v) {
                return Some(v);
            }
        }
    }
    let q = req.query();
    ["key", "auth_token"]
        .into_iter()
        .filter_map(|n| crate::h1::query::query_param(q, n))
        .find(|v| is_key(v))
}

/// The query without `key=`/`auth_token=` values equal to the client key.
fn scrub_query(q: &[u8], client: Option<&[u8]>, out: &mut Vec<u8>) {
    let mut first = true;
    for pair in q.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        let (k, v) = match memchr::memchr(b'=', pair) {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &b""[..]),
        };
        if (k == b"key" || k == b"auth_token") && client.is_some_and(|c| c == v) {
            continue;
        }
        out.push(if first { b'?' } else { b'&' });
        first = false;
        out.extend_from_slice(pair);
    }
}

/// Reverse-proxies `req` (its `path`, with `body`) to the Amp upstream and
/// relays the answer as it arrives.
async fn to_amp(
    w: &Rc<Worker>,
    conn: &mut Conn,
    req: &Request<'_>,
    path: &[u8],
    body: &[u8],
    client: Option<&[u8]>,
) -> bool {
    let snap = w.snapshot();
    let Some(ep) = snap.amp_upstream.as_ref() else {
        json_error(
            conn,
            503,
            br#"{"error":"amp upstream proxy not available"}"#,
        );
        return flush(conn).await;
    };
    let key = upstream_key(&snap, client);
    let method = req.method();
    let mut r = w.pool.borrow_mut().buf();
    r.extend_from_slice(method);
    r.push(b' ');
    r.extend_from_slice(ep.base_path.as_bytes());
    r.extend_from_slice(path);
    scrub_query(req.query(), client, &mut r);
    r.extend_from_slice(b" HTTP/1.1\r\n");
    encode::header(&mut r, "Host", ep.host_header.as_bytes());
    for (n, v) in &req.head.headers {
        let (n, v) = (n.get(req.buf), v.get(req.buf));
        if DROP_HEADERS.iter().any(|d| crate::h1::name_eq(n, d)) {
            continue;
        }
        r.extend_from_slice(n);
        r.extend_from_slice(b": ");
        r.extend_from_slice(v);
        r.extend_from_slice(b"\r\n");
    }
    if !key.is_empty() {
        encode::header(&mut r, "X-Api-Key", key.as_bytes());
        r.extend_from_slice(b"Authorization: Bearer ");
        r.extend_from_slice(key.as_bytes());
        r.extend_from_slice(b"\r\n");
    } else {
        crate::log_warn!("amp: no upstream key (config, AMP_API_KEY or Amp secrets file); forwarding without one");
    }
    if !body.is_empty() || !matches!(method, b"GET" | b"HEAD" | b"DELETE" | b"OPTIONS") {
        encode::content_length(&mut r, body.len());
    }
    r.extend_from_slice(b"\r\n");
    r.extend_from_slice(body);
    let head_only = method == b"HEAD";
    let sent = monoio::select! {
        biased;
        s = crate::upstream::send(&w.pool, &w.tls, ep, snap.amp_proxy.as_deref(), r, head_only, false) => Some(s),
        _ = conn.client_gone_after(CLIENT_WATCH_DELAY) => None,
    };
    let mut resp = match sent {
        None => return false,
        Some(Ok(resp)) => resp,
        Some(Err(e)) => {
            crate::log_warn!(
                "amp upstream proxy error for {}: {e}",
                String::from_utf8_lossy(path)
            );
            json_error(
                conn,
                502,
                br#"{"error":"amp_upstream_proxy_error","message":"Failed to reach Amp upstream"}"#,
            );
            return flush(conn).await;
        }
    };
    relay(w, conn, &mut resp, head_only).await
}

/// Relays an Amp upstream answer: status and headers (hop-by-hop and
/// framing ones replaced), then the body as it arrives. A non-stream gzip
/// body the upstream sent without `Content-Encoding` (a misconfigured
/// upstream) is read whole and inflated.
async fn relay(
    w: &Rc<Worker>,
    conn: &mut Conn,
    resp: &mut crate::upstream::Response,
    head_only: bool,
) -> bool {
    let mut chunk = w.pool.borrow_mut().buf();
    let first = monoio::select! {
        biased;
        r = resp.read_body(&mut chunk) => Some(r),
        _ = conn.client_gone_after(CLIENT_WATCH_DELAY) => None,
    };
    let mut more = match first {
        None => return false,
        Some(Ok(m)) => m,
        Some(Err(e)) => {
            crate::log_warn!("amp upstream body failed: {e}");
            json_error(
                conn,
                502,
                br#"{"error":"amp_upstream_proxy_error","message":"Failed to reach Amp upstream"}"#,
            );
            return flush(conn).await;
        }
    };
    let out = &mut conn.out;
    encode::status_line(out, resp.status());
    let mut declared_encoding = false;
    let mut sse = false;
    for (n, v) in resp.headers() {
        if [
            "connection",
            "keep-alive",
            "transfer-encoding",
            "content-length",
        ]
        .iter()
        .any(|d| crate::h1::name_eq(n, d))
        {
            continue;
        }
        declared_encoding |= crate::h1::name_eq(n, "content-encoding");
        sse |= crate::h1::name_eq(n, "content-type")
            && memchr::memmem::find(v, b"text/event-stream").is_some();
        out.extend_from_slice(n);
        out.extend_from_slice(b": ");
        out.extend_from_slice(v);
        out.extend_from_slice(b"\r\n");
    }
    if !declared_encoding && !sse && gzip::looks_gzipped(&chunk) {
        // Inflate what a misconfigured upstream gzipped without saying so
        // (a failure sends the bytes as they came, as CLIProxyAPI does).
        let whole = if more {
            let r = monoio::select! {
                biased;
                r = resp.read_to_end(&mut chunk, crate::h1::DEFAULT_BODY_LIMIT) => Some(r),
                _ = conn.client_gone_after(CLIENT_WATCH_DELAY) => None,
            };
            match r {
                None => return false,
                Some(r) => r.is_ok(),
            }
        } else {
            true
        };
        if !whole {
            // Truncated: close so the client sees it incomplete.
            conn.out.clear();
            return false;
        }
        let body = gzip::gunzip(&chunk, crate::h1::DEFAULT_BODY_LIMIT);
        let body = body.as_deref().unwrap_or(&chunk);
        encode::content_length(&mut conn.out, body.len());
        conn.out.extend_from_slice(b"\r\n");
        if !head_only {
            conn.out.extend_from_slice(body);
        }
        let ok = flush(conn).await;
        w.pool.borrow_mut().give(chunk);
        return ok;
    }
    let length = resp.content_length();
    let bodyless = head_only || matches!(resp.status(), 100..=199 | 204 | 304);
    match length {
        Some(n) => encode::content_length(out, n as usize),
        None if bodyless => {}
        None => encode::header(out, "Transfer-Encoding", b"chunked"),
    }
    out.extend_from_slice(b"\r\n");
    let chunked = length.is_none() && !bodyless;
    loop {
        if chunked {
            encode::chunk(&mut conn.out, &chunk);
        } else {
            conn.out.extend_from_slice(&chunk);
        }
        chunk.clear();
        if !more {
            if chunked {
                conn.out.extend_from_slice(encode::LAST_CHUNK);
            }
            let ok = flush(conn).await;
            w.pool.borrow_mut().give(chunk);
            return ok;
        }
        if conn.flush().await.is_err() {
            return false;
        }
        let r = monoio::select! {
            biased;
            r = resp.read_body(&mut chunk) => Some(r),
            _ = conn.client_gone_after(CLIENT_WATCH_DELAY) => None,
        };
        match r {
            None => return false,
            Some(Ok(m)) => more = m,
            Some(Err(e)) => {
                // Cut short: close so the client sees the body incomplete.
                crate::log_warn!("amp upstream body broke: {e}");
                let _ = conn.flush().await;
                return false;
            }
        }
    }
}

/// Whether `model` is served by a local provider.
fn local(snap: &crate::state::Snapshot, model: &str) -> bool {
    snap.registry
        .resolve(model)
        .is_some_and(|r| snap.routes.contains_key(r.id))
}

/// The mapping target for `requested`, if it is served locally; the
/// request's thinking suffix carried over unless the target names one.
fn mapped(snap: &crate::state::Snapshot, requested: &str) -> Option<String> {
    let (base, suffix) = crate::models::split_suffix(requested.trim());
    let to = snap.config.ampcode.map(base)?;
    let (to_base, to_suffix) = crate::models::split_suffix(to);
    if !local(snap, to_base) {
        return None;
    }
    Some(match (to_suffix, suffix) {
        (None, Some(s)) if !s.is_empty() => format!("{to}({s})"),
        _ => to.to_string(),
    })
}

/// The model a fallback request names: the body's `model` string, else the
/// Gemini URL segment `/models/{model}:{action}`.
fn requested_model(body: &[u8], path: &[u8]) -> (String, Option<(usize, usize)>) {
    if let Ok(f) = crate::json::request_fields(body) {
        if let (Some(m), Some(span)) = (f.model, f.model_span) {
            return (m, Some(span));
        }
    }
    let Some(i) = memchr::memmem::find(path, b"/models/") else {
        return (String::new(), None);
    };
    let rest = &path[i + b"/models/".len()..];
    let end = memchr::memchr(b':', rest).unwrap_or(rest.len());
    (String::from_utf8_lossy(&rest[..end]).into_owned(), None)
}

/// A provider route with Amp's fallback: local provider, then a mapping,
/// then the Amp upstream (`force-model-mappings`: the mapping first).
async fn fallback<R: Relay>(w: &Rc<Worker>, conn: &mut Conn, req: &Request<'_>) -> bool {
    if !crate::pipeline::auth::authorized(w, conn, req, false) {
        return flush(conn).await;
    }
    let snap = w.snapshot();
    let body = sanitize::sanitize_request(req.body());
    let path = req.path();
    let (model, span) = requested_model(&body, path);
    let amp = &snap.config.ampcode;
    let target = if model.is_empty() {
        None
    } else if amp.force_model_mappings {
        match mapped(&snap, &model) {
            Some(m) => Some(Some(m)),
            None => local(&snap, &model).then_some(None),
        }
    } else if local(&snap, &model) {
        Some(None)
    } else {
        mapped(&snap, &model).map(Some)
    };
    match target {
        None if snap.amp_upstream.is_some() && !model.is_empty() => {
            crate::log_warn!(
                "amp: forwarding model {model:?} to the Amp upstream (Amp credits); map it to a local model with ampcode.model-mappings"
            );
            let key = client_key(&snap.config.api_keys, req);
            to_amp(w, conn, req, path, &body, key).await
        }
        // No model named, or the Amp upstream is off: the local route
        // answers (an unknown model is its usual error).
        // (No rewriter then, as in CLIProxyAPI.)
        None => serve_local::<R>(w, conn, req, &body, path, None, None, span).await,
        Some(mapping) => {
            let suppress = mapping.is_some() || !served_by_claude(&snap, &model);
            let rewrite = Some((model.as_str(), suppress));
            serve_local::<R>(w, conn, req, &body, path, rewrite, mapping, span).await
        }
    }
}

fn served_by_claude(snap: &crate::state::Snapshot, model: &str) -> bool {
    snap.registry
        .resolve(model)
        .and_then(|r| snap.routes.get(r.id))
        .and_then(|t| t.first())
        .and_then(|t| snap.providers.get(t.provider))
        .is_some_and(|p| p.kind == crate::state::Kind::Claude)
}

/// Serves the request through the pipeline's own routes, with the
/// sanitised body, the mapped model (body `model` or Gemini URL segment),
/// `Anthropic-Beta` filtered, and, given `rewrite` (requested model,
/// suppress thinking), the response rewriter on the way out.
#[allow(
    clippy::too_many_arguments,
    reason = "one call site; the request's parts as the fallback decided them"
)]
async fn serve_local<R: Relay>(
    w: &Rc<Worker>,
    conn: &mut Conn,
    req: &Request<'_>,
    body: &[u8],
    path: &[u8],
    rewrite: Option<(&str, bool)>,
    mapping: Option<String>,
    span: Option<(usize, usize)>,
) -> bool {
    let mut buf = Vec::with_capacity(req.body_start + body.len() + 64);
    buf.extend_from_slice(req.method());
    buf.push(b' ');
    // Vertex-style `/v1beta1/.../models/{model}:{action}` (Amp's Gemini
    // bridge): served as the Gemini route `/v1beta/models/{model}:{action}`.
    let bridged;
    let path = match (
        path.starts_with(b"/api/provider/google/v1beta1/"),
        memchr::memmem::find(path, b"/models/"),
    ) {
        (true, Some(i)) => {
            let mut p = b"/api/provider/google/v1beta".to_vec();
            p.extend_from_slice(&path[i..]);
            bridged = p;
            &bridged[..]
        }
        _ => path,
    };
    match (&mapping, span) {
        (Some(m), None) => {
            // Gemini: the model is the URL segment after /models/.
            let i = memchr::memmem::find(path, b"/models/").map_or(0, |i| i + 8);
            let rest = &path[i..];
            let end = memchr::memchr(b':', rest).map_or(path.len(), |e| i + e);
            buf.extend_from_slice(&path[..i]);
            buf.extend_from_slice(m.as_bytes());
            buf.extend_from_slice(&path[end..]);
        }
        _ => buf.extend_from_slice(path),
    }
    if !req.query().is_empty() {
        buf.push(b'?');
        buf.extend_from_slice(req.query());
    }
    buf.extend_from_slice(b" HTTP/1.1\r\n");
    for (n, v) in &req.head.headers {
        let (n, v) = (n.get(req.buf), v.get(req.buf));
        if ["content-length", "transfer-encoding", "content-encoding"]
            .iter()
            .any(|d| crate::h1::name_eq(n, d))
        {
            continue;
        }
        let filtered;
        let v = if crate::h1::name_eq(n, "anthropic-beta") {
            match sanitize::filter_beta(v) {
                Some(f) => {
                    filtered = f;
                    &filtered[..]
                }
                None => continue,
            }
        } else {
            v
        };
        buf.extend_from_slice(n);
        buf.extend_from_slice(b": ");
        buf.extend_from_slice(v);
        buf.extend_from_slice(b"\r\n");
    }
    let new_body: std::borrow::Cow<'_, [u8]> = match (&mapping, span) {
        (Some(m), Some((s, e))) => {
            let mut b = Vec::with_capacity(body.len() + m.len());
            b.extend_from_slice(&body[..s]);
            b.push(b'"');
            crate::json::escape::escape_into(&mut b, m);
            b.push(b'"');
            b.extend_from_slice(&body[e..]);
            b.into()
        }
        _ => body.into(),
    };
    encode::content_length(&mut buf, new_body.len());
    buf.extend_from_slice(b"\r\n");
    let body_start = buf.len();
    buf.extend_from_slice(&new_body);
    let mut head = crate::h1::request::RequestHead::default();
    if !matches!(
        crate::h1::request::parse_request_head(&buf, &mut head),
        Ok(Some(()))
    ) {
        // Cannot happen for a head copied from a parsed one; answer anyway.
        json_error(
            conn,
            500,
            br#"{"error":"amp: internal request rebuild failed"}"#,
        );
        return flush(conn).await;
    }
    let local_req = Request {
        buf: &buf,
        head: &head,
        body_start,
    };
    if let Some((model, suppress)) = rewrite {
        conn.filter = Some(Box::new(filter::ResponseFilter::new(model, suppress)));
    }
    let keep = R::dispatch(w, conn, &local_req).await;
    conn.filter = None;
    keep
}

/// The Amp key for a request whose client authenticated with `client`.
pub fn upstream_key<'s>(snap: &'s crate::state::Snapshot, client: Option<&[u8]>) -> &'s str {
    let amp = &snap.config.ampcode;
    if let Some(c) = client {
        if let Some((_, up)) = amp.client_keys.iter().find(|(k, _)| k.ct_eq(c)) {
            return up.expose();
        }
    }
    if !amp.upstream_api_key.is_empty() {
        return amp.upstream_api_key.expose();
    }
    snap.amp_default_key.expose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(method: &str, path: &str) -> &'static str {
        match classify(method.as_bytes(), path.as_bytes()) {
            None => "pipeline",
            Some(Route::Manage { open: true }) => "open",
            Some(Route::Manage { open: false }) => "manage",
            Some(Route::Fallback { managed: false }) => "fallback",
            Some(Route::Fallback { managed: true }) => "bridge",
        }
    }

    #[test]
    fn routes_as_cliproxyapi_registers_them() {
        for (m, p, want) in [
            ("GET", "/api/user", "manage"),
            ("POST", "/api/threads/x/y", "manage"),
            ("GET", "/api/internal", "manage"),
            ("GET", "/api/tab/a", "manage"),
            ("GET", "/api/usery", "pipeline"),
            ("GET", "/api/other", "pipeline"),
            ("GET", "/threads", "open"),
            ("GET", "/threads/abc", "open"),
            ("GET", "/docs/x", "open"),
            ("GET", "/settings", "open"),
            ("POST", "/settings", "pipeline"),
            ("GET", "/threads.rss", "manage"),
            ("GET", "/news.rss", "manage"),
            ("POST", "/auth/cli-login", "open"),
            ("GET", "/authx", "pipeline"),
            ("POST", "/api/provider/openai/chat/completions", "fallback"),
            (
                "POST",
                "/api/provider/openai/v1/chat/completions",
                "fallback",
            ),
            ("POST", "/api/provider/openai/completions", "fallback"),
            ("POST", "/api/provider/openai/v1/responses", "fallback"),
            ("POST", "/api/provider/anthropic/v1/messages", "fallback"),
            (
                "POST",
                "/api/provider/anthropic/v1/messages/count_tokens",
                "fallback",
            ),
            ("POST", "/api/provider/anthropic/messages", "pipeline"),
            (
                "POST",
                "/api/provider/google/v1beta/models/g:generateContent",
                "fallback",
            ),
            ("GET", "/api/provider/google/v1beta/models", "pipeline"),
            ("GET", "/api/provider/openai/v1/models", "pipeline"),
            (
                "POST",
                "/api/provider/google/v1beta1/publishers/google/models/g:generateContent",
                "bridge",
            ),
            ("GET", "/api/provider/google/v1beta1/projects/p", "manage"),
            ("POST", "/v1/chat/completions", "pipeline"),
            ("GET", "/", "pipeline"),
        ] {
            assert_eq!(kind(m, p), want, "{m} {p}");
        }
    }

    #[test]
    fn query_scrubbed_of_the_client_key_only() {
        let mut out = Vec::new();
        scrub_query(b"key=ck&x=1&auth_token=ck&key=other", Some(b"ck"), &mut out);
        assert_eq!(out, b"?x=1&key=other");
        out.clear();
        scrub_query(b"key=ck", None, &mut out);
        assert_eq!(out, b"?key=ck");
        out.clear();
        scrub_query(b"", Some(b"ck"), &mut out);
        assert!(out.is_empty());
    }
}
