//! Forwarding for every inference route: pick a target and credential,
//! translate the request once (or, when client and upstream speak the same
//! format, rewrite only the `model` value), send it to the upstream kind's
//! endpoint, and relay the answer as it arrives, translated when needed.
//!
//! First-byte commit: nothing is written to the client until the upstream
//! has produced its first body bytes. A failure before that is an HTTP error
//! (or a retry on the next credential); after it, a stream ends with an error
//! event in the client's format.

use super::reply;
use crate::credentials::{extract_session_id, ErrorAnswer, Next, Outcome, RetryPlan};
use crate::h1::encode;
use crate::runtime::Worker;
use crate::server::{Conn, Request, CLIENT_WATCH_DELAY};
use crate::state::{Kind, Provider};
use crate::translate::format::Format;
use crate::translate::request::{translate_request, ReqOpts};
use crate::translate::response::{error_body, translate_response_tools, RespCtx};
use crate::translate::stream::{new_stream_translator, StreamCtx};
use crate::translate::tools::ClientTools;
use crate::upstream::{self, Response};
use std::rc::Rc;

/// Largest upstream error body read (for the client and for logs).
const MAX_ERROR_BODY: usize = 4 * 1024 * 1024;

/// A partial SSE event held back longer than this is forwarded anyway
/// (upstreams that never send a blank line must not stall the client).
const MAX_PENDING_EVENT: usize = 256 * 1024;

/// What the last failed attempt left for the client.
enum Failure {
    Transport(String),
    Upstream {
        status: u16,
        body: Vec<u8>,
        retry_after: Option<Vec<u8>>,
    },
}

/// What a client asked for, after route parsing.
pub struct Call<'a> {
    /// The client's wire format.
    pub client: Format,
    /// Model as requested (body `model`, or the Gemini URL segment).
    pub model: String,
    /// Span of the `model` value in `body`, if it is there.
    pub model_span: Option<(usize, usize)>,
    /// The client wants a stream.
    pub stream: bool,
    /// A token-count request (`/v1/messages/count_tokens`, `:countTokens`).
    pub count_tokens: bool,
    /// The request body.
    pub body: &'a [u8],
    /// Legacy `/v1/completions`: the body was converted to chat; convert the answer back.
    pub legacy_completions: bool,
    /// Gemini client with an `alt` other than `sse`: stream raw JSON chunks.
    pub gemini_raw: bool,
}

/// Appends `s` percent-encoded for a URL path segment.
fn push_segment(out: &mut Vec<u8>, s: &str) {
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'@') {
            out.push(b);
        } else {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        }
    }
}

/// Writes the upstream request line and headers for provider `p` (reference
/// §3.1), then the body: `model` rewritten in place, or `body` as given.
#[allow(clippy::too_many_arguments)]
fn build_request(
    p: &Provider,
    key: Option<&crate::secret::Secret>,
    req: &Request<'_>,
    body: &[u8],
    model: Option<((usize, usize), &str)>,
    upstream_model: &str,
    stream: bool,
    count: bool,
    out: &mut Vec<u8>,
) {
    out.clear();
    out.extend_from_slice(b"POST ");
    out.extend_from_slice(p.endpoint.base_path.as_bytes());
    let action = if count {
        "countTokens"
    } else if stream {
        "streamGenerateContent?alt=sse"
    } else {
        "generateContent"
    };
    match p.kind {
        Kind::OpenAiCompat => out.extend_from_slice(b"/chat/completions"),
        Kind::Claude if count => out.extend_from_slice(b"/v1/messages/count_tokens?beta=true"),
        Kind::Claude => out.extend_from_slice(b"/v1/messages?beta=true"),
        Kind::Gemini | Kind::Vertex => {
            out.extend_from_slice(if p.kind == Kind::Gemini {
                &b"/v1beta/models/"[..]
            } else {
                &b"/v1/publishers/google/models/"[..]
            });
            push_segment(out, upstream_model);
            out.push(b':');
            out.extend_from_slice(action.as_bytes());
        }
        Kind::Codex => out.extend_from_slice(b"/responses"),
    }
    out.extend_from_slice(b" HTTP/1.1\r\n");
    encode::header(out, "Host", p.endpoint.host_header.as_bytes());
    let custom = |name: &str| p.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    if let Some(k) = key {
        let (name, bearer) = match p.kind {
            Kind::Claude if p.default_host => ("x-api-key", false),
            Kind::Gemini | Kind::Vertex => ("x-goog-api-key", false),
            _ => ("Authorization", true),
        };
        if !custom(name) {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(if bearer {
                &b": Bearer "[..]
            } else {
                &b": "[..]
            });
            out.extend_from_slice(k.expose().as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
    if p.kind == Kind::Claude {
        if !custom("anthropic-version") {
            encode::header(out, "Anthropic-Version", b"2023-06-01");
        }
        if let Some(beta) = req.header("anthropic-beta") {
            if !custom("anthropic-beta") {
                encode::header(out, "Anthropic-Beta", beta);
            }
        }
    }
    if !custom("content-type") {
        encode::header(out, "Content-Type", b"application/json");
    }
    let sse = stream || p.kind == Kind::Codex;
    if !custom("accept") {
        encode::header(
            out,
            "Accept",
            if sse {
                b"text/event-stream"
            } else {
                b"application/json"
            },
        );
    }
    if p.kind == Kind::OpenAiCompat && !custom("user-agent") {
        encode::header(out, "User-Agent", b"cli-proxy-openai-compat");
    }
    for (n, v) in &p.headers {
        // `$Name` copies the client's header `Name`; omitted when absent.
        if let Some(src) = v.strip_prefix('$') {
            if let Some(val) = req.header(src) {
                encode::header(out, n, val);
            }
        } else {
            encode::header(out, n, v.as_bytes());
        }
    }
    match model {
        // Only the `model` value changes; every other byte is forwarded as sent.
        Some(((start, end), name)) => {
            let mut lit = Vec::with_capacity(name.len() + 2);
            crate::json::write_string(&mut lit, name);
            encode::content_length(out, body.len() - (end - start) + lit.len());
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(&body[..start]);
            out.extend_from_slice(&lit);
            out.extend_from_slice(&body[end..]);
        }
        None => {
            encode::content_length(out, body.len());
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(body);
        }
    }
}

/// `payload` rule `protocol` names (the upstream side).
fn protocol_name(f: Format, kind: Kind) -> &'static str {
    match (f, kind) {
        (_, Kind::Codex) => "codex",
        (Format::Claude, _) => "claude",
        (Format::Gemini, _) => "gemini",
        _ => "openai",
    }
}

/// `payload` rule `from-protocol` names (the client side).
fn from_protocol_name(f: Format) -> &'static str {
    match f {
        Format::OpenAiChat => "openai",
        Format::OpenAiResponses | Format::Codex => "responses",
        Format::Claude => "claude",
        Format::Gemini => "gemini",
    }
}

/// Writes an error in the client's format.
pub async fn client_error(conn: &mut Conn, client: Format, status: u16, message: &str) -> bool {
    let mut b = Vec::new();
    error_body(client, status, message, &mut b);
    reply::json(&mut conn.out, status, &b, false, &[]);
    conn.flush().await.is_ok()
}

/// Handles a request whose body names its model and stream flag (OpenAI
/// Chat, OpenAI Responses, Claude Messages).
pub async fn body_routed(
    w: &Rc<Worker>,
    conn: &mut Conn,
    req: &Request<'_>,
    client: Format,
    count_tokens: bool,
) -> bool {
    let body = req.body();
    let fields = match crate::json::request_fields(body) {
        Ok(f) => f,
        Err(e) => {
            return client_error(
                conn,
                client,
                400,
                &format!("invalid request body: {}", e.what),
            )
            .await
        }
    };
    let call = Call {
        client,
        model: fields.model.unwrap_or_default(),
        model_span: fields.model_span,
        stream: fields.stream && !count_tokens,
        count_tokens,
        body,
        legacy_completions: false,
        gemini_raw: false,
    };
    proxy(w, conn, req, call).await
}

/// Forwards `call` with failover across credentials.
pub async fn proxy(w: &Rc<Worker>, conn: &mut Conn, req: &Request<'_>, call: Call<'_>) -> bool {
    let snap = w.snapshot();
    let body = call.body;
    let requested = call.model.clone();
    // Registry lookup: exact id, `model(suffix)`, Anthropic-list cloak, `auto`.
    let Some(resolved) = snap.registry.resolve(&requested) else {
        let mut b = Vec::new();
        reply::unknown_model_body(&mut b, &requested);
        reply::json(&mut conn.out, 400, &b, false, &[]);
        return conn.flush().await.is_ok();
    };
    let route_model = resolved.id;
    let suffix = resolved.thinking_suffix;
    let Some(targets) = snap.routes.get(route_model) else {
        let mut b = Vec::new();
        reply::unknown_model_body(&mut b, &requested);
        reply::json(&mut conn.out, 400, &b, false, &[]);
        return conn.flush().await.is_ok();
    };
    let providers: Vec<&str> = snap
        .route_providers
        .get(route_model)
        .map(|v| v.iter().map(String::as_str).collect())
        .unwrap_or_default();
    let route = w.shard.borrow_mut().route(route_model, &providers);
    let Some(route) = route else {
        let a = ErrorAnswer::auth_not_found(&providers, route_model);
        return answer(conn, &a).await;
    };
    let session = {
        let shard = w.shard.borrow();
        if shard.settings().session_affinity {
            let hs: Vec<(&str, &[u8])> = req
                .head
                .headers
                .iter()
                .map(|(n, v)| {
                    (
                        std::str::from_utf8(n.get(req.buf)).unwrap_or(""),
                        v.get(req.buf),
                    )
                })
                .collect();
            extract_session_id(&hs, body).map(|s| s.key())
        } else {
            None
        }
    };
    let mut plan = RetryPlan::new(&w.shard.borrow(), route, session);
    let mut last: Option<Failure> = None;
    let mut request = w.pool.borrow_mut().buf();
    'lease: loop {
        let next = {
            let mut shard = w.shard.borrow_mut();
            let now = shard.now_ms();
            plan.next(&mut shard, now)
        };
        let lease = match next {
            Next::Try(lease) => lease,
            Next::Wait(d) => {
                let gone = monoio::select! {
                    _ = monoio::time::sleep(d) => false,
                    _ = conn.client_gone_after(CLIENT_WATCH_DELAY) => true,
                };
                if gone {
                    return false;
                }
                continue;
            }
            Next::GiveUp(a) => return answer(conn, &a).await,
            Next::ReturnUpstream | Next::Done => break,
        };
        let cred = w.shard.borrow().credential_id(&lease).to_string();
        let Some(&(pi, ki)) = snap.credentials.get(&cred) else {
            // Added by a reload this worker has not applied yet: skip, no cooldown.
            report(w, &mut plan, lease, &Outcome::failure(499, b""));
            continue;
        };
        let provider = &snap.providers[pi];
        // A model pool: every target of this id on this provider entry. Start
        // at the credential's next rotation offset; a failure before output
        // moves to the next member (CLIProxyAPI `executionModelCandidates`).
        let members = || targets.iter().filter(|t| t.provider == pi);
        let pool_len = members().count();
        let Some(first) = members().next() else {
            report(w, &mut plan, lease, &Outcome::failure(499, b""));
            continue;
        };
        let pool_start = snap
            .pools
            .get(first.pool)
            .map_or(0, |p| p.start(ki, pool_len));
        for member in 0..pool_len {
            let Some(target) = members().nth((pool_start + member) % pool_len) else {
                break;
            };
            // Whether a failure here may move on to another model of the pool.
            let more = member + 1 < pool_len;
            let key = provider.keys.get(ki);
            let upstream_fmt = provider.kind.format();
            // OpenAI-compatible and Codex upstreams have no count endpoint:
            // the count is estimated locally, as CLIProxyAPI does.
            if call.count_tokens && matches!(provider.kind, Kind::OpenAiCompat | Kind::Codex) {
                report(w, &mut plan, lease, &Outcome::failure(499, b""));
                return local_count(conn, &call, provider.kind, &target.upstream_model).await;
            }
            // Same format: forward the client's bytes with only `model` rewritten.
            // Otherwise translate once into a buffer.
            let claude_default = if provider.kind == Kind::Claude {
                snap.registry
                    .claude_default_max_tokens(route_model)
                    .or_else(|| {
                        snap.registry
                            .claude_default_max_tokens(&target.upstream_model)
                    })
            } else {
                None
            };
            // Claude -> Claude without max_tokens gets the registry default (v6.9 #7),
            // which needs the translator's edit; so does a thinking suffix.
            let needs_edit = suffix.is_some()
                || (claude_default.is_some()
                    && call.client == Format::Claude
                    && memchr::memmem::find(body, b"\"max_tokens\"").is_none());
            let same = upstream_fmt == call.client && upstream_fmt != Format::Codex && !needs_edit;
            let rewrite = match call.model_span {
                Some(span) if same && target.upstream_model != requested => {
                    Some((span, target.upstream_model.as_str()))
                }
                _ => None,
            };
            // Token counts across Claude and Gemini are translated (request and
            // answer); other upstreams have no count endpoint.
            let cross_count = call.count_tokens && upstream_fmt != call.client;
            let count_body = if cross_count {
                count_request(call.client, upstream_fmt, body, &target.upstream_model)
            } else {
                None
            };
            if cross_count && count_body.is_none() {
                report(w, &mut plan, lease, &Outcome::failure(499, b""));
                return client_error(
                conn,
                call.client,
                400,
                "token counting is only available when the model's upstream speaks the client's format",
            )
            .await;
            }
            let mut translated = if same || call.count_tokens {
                Vec::new()
            } else {
                w.pool.borrow_mut().buf()
            };
            let send_body: &[u8] = if let Some(cb) = count_body.as_deref() {
                cb
            } else if same || call.count_tokens {
                body
            } else {
                let with_suffix;
                let upstream_model: &str = match suffix {
                    Some(sfx) => {
                        with_suffix = format!("{}({sfx})", target.upstream_model);
                        &with_suffix
                    }
                    None => &target.upstream_model,
                };
                let opts = ReqOpts {
                    upstream_model,
                    stream: call.stream || provider.kind == Kind::Codex,
                    claude_default_max_tokens: claude_default,
                };
                if let Err(e) =
                    translate_request(call.client, upstream_fmt, body, &opts, &mut translated)
                {
                    report(w, &mut plan, lease, &Outcome::failure(499, b""));
                    return client_error(conn, call.client, e.status(), &e.message).await;
                }
                &translated
            };
            // `payload` rules edit the body about to be sent, once, as span edits.
            let mut edited = Vec::new();
            let (send_body, rewrite) = if snap.payload.is_empty() {
                (send_body, rewrite)
            } else {
                edited.reserve(send_body.len() + 64);
                match rewrite {
                    Some(((s, e), name)) => {
                        edited.extend_from_slice(&send_body[..s]);
                        crate::json::write_string(&mut edited, name);
                        edited.extend_from_slice(&send_body[e..]);
                    }
                    None => edited.extend_from_slice(send_body),
                }
                let hs: Vec<(&str, &[u8])> = req
                    .head
                    .headers
                    .iter()
                    .map(|(n, v)| {
                        (
                            std::str::from_utf8(n.get(req.buf)).unwrap_or(""),
                            v.get(req.buf),
                        )
                    })
                    .collect();
                let ctx = crate::payload::PayloadCtx {
                    upstream_model: &target.upstream_model,
                    requested_model: &requested,
                    protocol: protocol_name(upstream_fmt, provider.kind),
                    from_protocol: from_protocol_name(call.client),
                    headers: &hs,
                    root: "",
                };
                // Fail closed: a rule may apply to this request but the body
                // cannot be read, so it must not go upstream unedited.
                if let Err(e) = snap.payload.apply(&ctx, &[], &mut edited) {
                    report(w, &mut plan, lease, &Outcome::failure(499, b""));
                    return client_error(
                        conn,
                        call.client,
                        400,
                        &format!("invalid request body: {e}"),
                    )
                    .await;
                }
                (&edited[..], None)
            };
            if request.capacity() == 0 {
                request = w.pool.borrow_mut().buf();
            }
            build_request(
                provider,
                key,
                req,
                send_body,
                rewrite,
                &target.upstream_model,
                call.stream,
                call.count_tokens,
                &mut request,
            );
            {
                let mut p = w.pool.borrow_mut();
                p.give(translated);
                p.give(edited);
            }
            crate::log_debug!(
                "chat: model {requested} -> {} via {} ({cred})",
                target.upstream_model,
                provider.name
            );
            let proxy = provider
                .proxies
                .get(if ki == usize::MAX { 0 } else { ki })
                .and_then(|p| p.as_deref());
            let ticks = if call.stream {
                None
            } else {
                snap.config.nonstream_keepalive
            };
            let sent = {
                let mut send = std::pin::pin!(upstream::send(
                    &w.pool,
                    &w.tls,
                    &provider.endpoint,
                    proxy,
                    std::mem::take(&mut request),
                    false,
                    provider.force_http1
                ));
                loop {
                    let wake = monoio::select! {
                        r = &mut send => Some(Some(r)),
                        _ = conn.client_gone_after(CLIENT_WATCH_DELAY) => Some(None),
                        _ = monoio::time::sleep(ticks.unwrap_or(std::time::Duration::MAX)), if ticks.is_some() => None,
                    };
                    match wake {
                        Some(r) => break r,
                        // `nonstream-keepalive-interval`: commit 200 and send a
                        // newline (valid leading JSON whitespace) while waiting.
                        None => {
                            if conn.keepalive_newline().await.is_err() {
                                break None;
                            }
                        }
                    }
                }
            };
            let Some(sent) = sent else {
                report(w, &mut plan, lease, &Outcome::failure(499, b""));
                return false;
            };
            let mut resp = match sent {
                Ok(r) => r,
                Err(e) => {
                    crate::log_warn!("upstream {}: {e}", provider.name);
                    last = Some(Failure::Transport(e.to_string()));
                    if more {
                        continue;
                    }
                    report(w, &mut plan, lease, &Outcome::failure(0, b""));
                    continue 'lease;
                }
            };
            let status = resp.status();
            if !(200..300).contains(&status) {
                let retry_after = resp.header("retry-after").map(<[u8]>::to_vec);
                let mut eb = Vec::new();
                let read = monoio::select! {
                    r = resp.read_to_end(&mut eb, MAX_ERROR_BODY) => Some(r),
                    _ = conn.client_gone_after(CLIENT_WATCH_DELAY) => None,
                };
                match read {
                    None => {
                        report(w, &mut plan, lease, &Outcome::failure(499, b""));
                        return false;
                    }
                    Some(Ok(())) => resp.release(&w.pool),
                    Some(Err(_)) => {}
                }
                crate::log_warn!("upstream {} answered {status}", provider.name);
                // A request fault (or a `stop` rule) ends the request on any
                // model; other failures try the pool's next model first.
                if more && !crate::credentials::classify(status, &eb, &provider.rules).stop {
                    last = Some(Failure::Upstream {
                        status,
                        body: eb,
                        retry_after,
                    });
                    continue;
                }
                let ra = retry_after
                    .as_deref()
                    .and_then(|v| std::str::from_utf8(v).ok());
                let outcome = Outcome {
                    retry_after: ra,
                    ..Outcome::failure(status, &eb)
                };
                report(w, &mut plan, lease, &outcome);
                last = Some(Failure::Upstream {
                    status,
                    body: eb,
                    retry_after,
                });
                continue 'lease;
            }
            let passthrough = upstream_fmt == call.client && upstream_fmt != Format::Codex;
            // Once a keep-alive committed the status, the answer must arrive whole.
            let relayed = if cross_count {
                relay_count(w, conn, resp, call.client).await
            } else if (passthrough || call.count_tokens)
                && !call.legacy_completions
                && !(call.gemini_raw && call.stream)
                && !conn.committed_early
            {
                relay(w, conn, resp, call.stream, call.client).await
            } else {
                relay_translated(w, conn, resp, upstream_fmt, &call, &requested).await
            };
            match relayed {
                Relayed::Done(keep, broken) => {
                    let outcome = if broken {
                        Outcome {
                            first_byte_sent: true,
                            ..Outcome::failure(502, b"")
                        }
                    } else {
                        Outcome::success()
                    };
                    report(w, &mut plan, lease, &outcome);
                    return keep;
                }
                Relayed::ClientGone => {
                    report(w, &mut plan, lease, &Outcome::failure(499, b""));
                    return false;
                }
                Relayed::NoFirstByte(e) => {
                    crate::log_warn!(
                        "upstream {} failed before the first byte: {e}",
                        provider.name
                    );
                    last = Some(Failure::Transport(e));
                    if !more {
                        report(w, &mut plan, lease, &Outcome::failure(0, b""));
                    }
                }
                Relayed::DoneWithError(keep, status, body) => {
                    crate::log_warn!(
                        "upstream {} reported an error in its stream ({status})",
                        provider.name
                    );
                    let outcome = Outcome {
                        first_byte_sent: true,
                        ..Outcome::failure(status, &body)
                    };
                    report(w, &mut plan, lease, &outcome);
                    return keep;
                }
                Relayed::UpstreamError { status, body } => {
                    crate::log_warn!(
                        "upstream {} answered with an error event ({status})",
                        provider.name
                    );
                    let message = crate::translate::stream::json::get_str(
                        crate::translate::stream::json::get(&body, b"error").unwrap_or(b"{}"),
                        b"message",
                    )
                    .map(|m| {
                        let mut u = Vec::with_capacity(m.len());
                        crate::translate::stream::json::unescape_into(&mut u, m);
                        String::from_utf8_lossy(&u).into_owned()
                    })
                    .unwrap_or_default();
                    let mut client_body = Vec::new();
                    crate::translate::response::error_body(
                        call.client,
                        status,
                        &message,
                        &mut client_body,
                    );
                    // Nothing reached the client yet: like an HTTP error, a
                    // request fault ends the request, anything else tries the
                    // pool's next model first.
                    let stop = crate::credentials::classify(status, &body, &provider.rules).stop;
                    last = Some(Failure::Upstream {
                        status,
                        body: client_body,
                        retry_after: None,
                    });
                    if more && !stop {
                        continue;
                    }
                    report(w, &mut plan, lease, &Outcome::failure(status, &body));
                    continue 'lease;
                }
            }
        }
    }
    let mut b = Vec::new();
    match last {
        Some(Failure::Upstream {
            status,
            body,
            retry_after,
        }) => {
            reply::upstream_error_body(&mut b, status, &body);
            let extra: Vec<(&str, &[u8])> = retry_after
                .as_deref()
                .map(|v| ("Retry-After", v))
                .into_iter()
                .collect();
            reply::json(&mut conn.out, status, &b, false, &extra);
        }
        Some(Failure::Transport(m)) => {
            reply::openai_error_body(&mut b, 500, &m);
            reply::json(&mut conn.out, 500, &b, false, &[]);
        }
        None => {
            reply::openai_error_body(&mut b, 500, "no upstream available");
            reply::json(&mut conn.out, 500, &b, false, &[]);
        }
    }
    conn.flush().await.is_ok()
}

fn report(
    w: &Worker,
    plan: &mut RetryPlan,
    lease: crate::credentials::Lease,
    outcome: &Outcome<'_>,
) {
    let mut shard = w.shard.borrow_mut();
    let now = shard.now_ms();
    plan.report(&mut shard, lease, outcome, now);
}

/// Writes a scheduler-made answer (cooldown 429, auth-not-found 503).
async fn answer(conn: &mut Conn, a: &ErrorAnswer) -> bool {
    let ra = a.retry_after.map(|s| s.to_string());
    let extra: Vec<(&str, &[u8])> = ra
        .as_deref()
        .map(|v| ("Retry-After", v.as_bytes()))
        .into_iter()
        .collect();
    reply::json(&mut conn.out, a.status, a.body.as_bytes(), false, &extra);
    conn.flush().await.is_ok()
}

enum Relayed {
    /// The answer was written; keep-alive verdict, and whether the upstream
    /// broke after the first byte.
    Done(bool, bool),
    /// A stream was written whole but the upstream reported an error inside
    /// it (`response.failed`, `error`): keep-alive verdict, the status it
    /// stands for and an OpenAI-shaped body to classify.
    DoneWithError(bool, u16, Vec<u8>),
    /// Nothing was written; the upstream's 2xx answer was an error event
    /// (Codex `response.failed` / `error`): status and OpenAI-shaped body.
    UpstreamError { status: u16, body: Vec<u8> },
    /// The client went away.
    ClientGone,
    /// The upstream failed before producing a body byte; nothing was written.
    NoFirstByte(String),
}

pub use crate::sse::last_event_boundary;

/// True if the last event in `b` (complete events) is `data: [DONE]`.
fn ends_with_done(b: &[u8]) -> bool {
    let mut t = b;
    while let [rest @ .., b'\n' | b'\r'] = t {
        t = rest;
    }
    t.ends_with(b"data: [DONE]") || t.ends_with(b"data:[DONE]")
}

async fn relay(
    w: &Rc<Worker>,
    conn: &mut Conn,
    mut resp: Response,
    stream: bool,
    client: Format,
) -> Relayed {
    let mut chunk = w.pool.borrow_mut().buf();
    // Wait for the first body bytes before committing a status to the client.
    let first = monoio::select! {
        r = resp.read_body(&mut chunk) => Some(r),
        _ = conn.client_gone_after(CLIENT_WATCH_DELAY) => None,
    };
    let has_body = match first {
        None => return Relayed::ClientGone,
        Some(Err(e)) => return Relayed::NoFirstByte(e.to_string()),
        Some(Ok(more)) => more,
    };
    let status = resp.status();
    let out = &mut conn.out;
    encode::status_line(out, status);
    if stream {
        encode::header(out, "Content-Type", b"text/event-stream");
        encode::header(out, "Cache-Control", b"no-cache");
        encode::header(out, "Connection", b"keep-alive");
    } else {
        let ct = resp.header("content-type").unwrap_or(b"application/json");
        encode::header(out, "Content-Type", ct);
    }
    encode::header(out, reply::CORS_ORIGIN.0, reply::CORS_ORIGIN.1);
    let length = resp.content_length().filter(|_| !stream);
    match length {
        Some(n) => encode::content_length(out, n as usize),
        None => encode::header(out, "Transfer-Encoding", b"chunked"),
    }
    out.extend_from_slice(b"\r\n");
    let chunked = length.is_none();
    if !stream {
        // Plain relay: bytes out as they come in.
        let mut more = has_body;
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
                let ok = conn.flush().await.is_ok();
                resp.release(&w.pool);
                w.pool.borrow_mut().give(chunk);
                return Relayed::Done(ok, false);
            }
            if !resp.is_done() && conn.flush().await.is_err() {
                return Relayed::ClientGone;
            }
            let r = monoio::select! {
                r = resp.read_body(&mut chunk) => Some(r),
                _ = conn.client_gone_after(CLIENT_WATCH_DELAY) => None,
            };
            match r {
                None => return Relayed::ClientGone,
                // Truncated upstream body: close so the client sees it incomplete.
                Some(Err(_)) => {
                    let _ = conn.flush().await;
                    return Relayed::Done(false, true);
                }
                Some(Ok(m)) => more = m,
            }
        }
    }
    // SSE relay: forward whole events only, so an error event can always be
    // appended cleanly and every write is one or more complete events.
    let keepalive = stream_keepalive(w, client);
    let mut pending: Vec<u8> = w.pool.borrow_mut().buf();
    let mut forwarded_done = false;
    let mut more = has_body;
    loop {
        pending.extend_from_slice(&chunk);
        chunk.clear();
        let cut = last_event_boundary(&pending)
            .or_else(|| (pending.len() > MAX_PENDING_EVENT).then_some(pending.len()));
        if let Some(cut) = cut {
            encode::chunk(&mut conn.out, &pending[..cut]);
            forwarded_done = ends_with_done(&pending[..cut]);
            pending.drain(..cut);
        }
        if !more {
            if !pending.is_empty() {
                // Upstream ended without a final blank line: complete the event.
                pending.extend_from_slice(b"\n\n");
                encode::chunk(&mut conn.out, &pending);
                forwarded_done = ends_with_done(&pending);
            }
            if !forwarded_done && client == Format::OpenAiChat {
                encode::chunk(&mut conn.out, b"data: [DONE]\n\n");
            }
            conn.out.extend_from_slice(encode::LAST_CHUNK);
            let ok = conn.flush().await.is_ok();
            resp.release(&w.pool);
            let mut p = w.pool.borrow_mut();
            p.give(chunk);
            p.give(pending);
            return Relayed::Done(ok, false);
        }
        // When the body is complete the end of stream follows at once: one write for both.
        if !conn.out.is_empty() && !resp.is_done() && conn.flush().await.is_err() {
            return Relayed::ClientGone;
        }
        let r = next_event_bytes(&mut resp, &mut chunk, conn, keepalive).await;
        match r {
            None => return Relayed::ClientGone,
            Some(Ok(m)) => more = m,
            Some(Err(e)) => {
                // After the first byte: end the stream with an error event in
                // the client's format (OpenAI chat: no [DONE]); a partial event is dropped.
                crate::log_warn!("upstream stream broke: {e}");
                let mut ev = Vec::with_capacity(192);
                let mut tr = new_stream_translator(
                    client,
                    client,
                    StreamCtx {
                        model: "",
                        created: 0,
                        id_seed: 0,
                    },
                );
                tr.error(502, &format!("upstream stream interrupted: {e}"), &mut ev);
                encode::chunk(&mut conn.out, &ev);
                conn.out.extend_from_slice(encode::LAST_CHUNK);
                return Relayed::Done(conn.flush().await.is_ok(), true);
            }
        }
    }
}

/// `streaming.keepalive-seconds` for a client: none for Gemini clients,
/// whose SDKs (google-genai, Gemini CLI) accept only `data:` lines and treat
/// a comment or stray blank line as a broken stream.
fn stream_keepalive(w: &Worker, client: Format) -> Option<std::time::Duration> {
    if client == Format::Gemini {
        None
    } else {
        w.snapshot().config.streaming_keepalive
    }
}

enum Wake {
    Read(std::io::Result<bool>),
    Gone,
    Tick,
}

/// Reads the next upstream body bytes of a stream while watching the client
/// and, when `keepalive` is set, writing `: keep-alive` comments during
/// silences (`streaming.keepalive-seconds`). The pending read is never
/// cancelled by a tick, so no upstream byte is lost. `None`: the client left.
/// Idle stream translators a core keeps for reuse.
const MAX_CACHED_TRANSLATORS: usize = 32;

/// A translator that relayed more upstream bytes than this may hold buffers
/// sized for one huge event (a long tool-call argument, say); it is dropped
/// after its stream instead of cached, so the cache keeps at most
/// `MAX_CACHED_TRANSLATORS` translators of ordinary size. Longer streams pay
/// a fresh translator, which is small against their own length.
const MAX_CACHED_TRANSLATOR_INPUT: usize = 256 * 1024;

async fn next_event_bytes(
    resp: &mut Response,
    chunk: &mut Vec<u8>,
    conn: &mut Conn,
    keepalive: Option<std::time::Duration>,
) -> Option<std::io::Result<bool>> {
    let mut read = std::pin::pin!(resp.read_body(chunk));
    loop {
        let wake = monoio::select! {
            r = &mut read => Wake::Read(r),
            _ = conn.client_gone_after(CLIENT_WATCH_DELAY) => Wake::Gone,
            _ = monoio::time::sleep(keepalive.unwrap_or(std::time::Duration::MAX)), if keepalive.is_some() => Wake::Tick,
        };
        match wake {
            Wake::Read(r) => return Some(r),
            Wake::Gone => return None,
            Wake::Tick => {
                encode::chunk(&mut conn.out, b": keep-alive\n\n");
                if conn.flush().await.is_err() {
                    return None;
                }
            }
        }
    }
}

/// A token-count request for another format's count endpoint: Claude
/// `count_tokens` <-> Gemini `countTokens`. `None` for other pairs or a body
/// that does not translate.
fn count_request(client: Format, upstream: Format, body: &[u8], model: &str) -> Option<Vec<u8>> {
    use serde_json::{json, Value};
    let opts = ReqOpts {
        upstream_model: model,
        stream: false,
        claude_default_max_tokens: None,
    };
    let mut out = Vec::new();
    match (client, upstream) {
        (Format::Claude, Format::Gemini) => {
            translate_request(Format::Claude, Format::Gemini, body, &opts, &mut out).ok()?;
            let mut req: Value = serde_json::from_slice(&out).ok()?;
            if let Some(m) = req.as_object_mut() {
                m.insert("model".into(), json!(format!("models/{model}")));
                m.remove("generationConfig");
                m.remove("safetySettings");
            }
            serde_json::to_vec(&json!({ "generateContentRequest": req })).ok()
        }
        (Format::Gemini, Format::Claude) => {
            // countTokens takes `contents` or a whole `generateContentRequest`.
            let v: Value = serde_json::from_slice(body).ok()?;
            let inner = v.get("generateContentRequest").cloned().unwrap_or(v);
            let inner = serde_json::to_vec(&inner).ok()?;
            translate_request(Format::Gemini, Format::Claude, &inner, &opts, &mut out).ok()?;
            let mut req: Value = serde_json::from_slice(&out).ok()?;
            // count_tokens accepts only these members.
            if let Some(m) = req.as_object_mut() {
                m.retain(|k, _| {
                    matches!(
                        k.as_str(),
                        "model" | "messages" | "system" | "tools" | "tool_choice" | "thinking"
                    )
                });
            }
            serde_json::to_vec(&req).ok()
        }
        _ => None,
    }
}

/// Answers a token-count request locally ([`crate::tokens`]): the body is
/// translated to the upstream's format (OpenAI Chat or Responses), its text
/// counted with the model's tiktoken encoding, and the count written in the
/// client's shape: Claude `{"input_tokens":n}`, Gemini
/// `{"totalTokens":n,"promptTokensDetails":[{"modality":"TEXT","tokenCount":n}]}`.
async fn local_count(conn: &mut Conn, call: &Call<'_>, kind: Kind, upstream_model: &str) -> bool {
    use crate::tokens;
    let model = crate::models::split_suffix(upstream_model.trim()).0;
    let (to, counter) = match kind {
        Kind::Codex => (Format::Codex, tokens::codex_counter(model)),
        _ => (Format::OpenAiChat, tokens::compat_counter(model)),
    };
    // Gemini `countTokens` takes `contents` or a whole `generateContentRequest`.
    let parsed = crate::translate::request::json::parse(call.body);
    let inner: &[u8] = match &parsed {
        Ok(root) if call.client == Format::Gemini => root
            .get("generateContentRequest")
            .map_or(call.body, |n| n.raw.as_bytes()),
        _ => call.body,
    };
    let opts = ReqOpts {
        upstream_model: model,
        stream: false,
        claude_default_max_tokens: None,
    };
    let mut out = Vec::new();
    if let Err(e) = translate_request(call.client, to, inner, &opts, &mut out) {
        return client_error(conn, call.client, e.status(), &e.message).await;
    }
    let text = match kind {
        Kind::Codex => tokens::codex_text(&out),
        _ => tokens::chat_text(&out),
    };
    let Some(n) = text.ok().and_then(|t| tokens::count_text(counter, &t)) else {
        return client_error(conn, call.client, 500, "token counting failed").await;
    };
    let body = match call.client {
        Format::Claude => format!(r#"{{"input_tokens":{n}}}"#),
        Format::Gemini => format!(
            r#"{{"totalTokens":{n},"promptTokensDetails":[{{"modality":"TEXT","tokenCount":{n}}}]}}"#
        ),
        _ => format!(
            r#"{{"usage":{{"prompt_tokens":{n},"completion_tokens":0,"total_tokens":{n}}}}}"#
        ),
    };
    reply::json(&mut conn.out, 200, body.as_bytes(), false, &[]);
    conn.flush().await.is_ok()
}

/// Relays a translated token count: `{"totalTokens":n}` <-> `{"input_tokens":n}`.
async fn relay_count(
    w: &Rc<Worker>,
    conn: &mut Conn,
    mut resp: Response,
    client: Format,
) -> Relayed {
    let mut body = Vec::new();
    let read = monoio::select! {
        r = resp.read_to_end(&mut body, MAX_ERROR_BODY) => Some(r),
        _ = conn.client_gone_after(CLIENT_WATCH_DELAY) => None,
    };
    match read {
        None => return Relayed::ClientGone,
        Some(Err(e)) => return Relayed::NoFirstByte(e.to_string()),
        Some(Ok(())) => resp.release(&w.pool),
    }
    let v: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) => return Relayed::NoFirstByte("unparsable token count from upstream".into()),
    };
    let out = match client {
        Format::Claude => {
            serde_json::json!({ "input_tokens": v["totalTokens"].as_u64().unwrap_or(0) })
        }
        _ => serde_json::json!({ "totalTokens": v["input_tokens"].as_u64().unwrap_or(0) }),
    };
    reply::json(&mut conn.out, 200, out.to_string().as_bytes(), false, &[]);
    Relayed::Done(conn.flush().await.is_ok(), false)
}

/// Reshapes translated client SSE for routes that want something else.
enum Shaper {
    None,
    /// Legacy `/v1/completions` chunks.
    Legacy(crate::translate::completions::LegacyStream),
    /// Gemini non-SSE `alt`: raw JSON chunks.
    Raw(crate::sse::DataOnly),
}

impl Shaper {
    fn for_call(call: &Call<'_>) -> Shaper {
        if call.legacy_completions {
            Shaper::Legacy(Default::default())
        } else if call.gemini_raw {
            Shaper::Raw(Default::default())
        } else {
            Shaper::None
        }
    }

    /// Rewrites `out` in place; `last` flushes any held partial event.
    fn apply(&mut self, out: &mut Vec<u8>, last: bool) {
        let mut conv = Vec::with_capacity(out.len() + 64);
        match self {
            Shaper::None => return,
            Shaper::Legacy(ls) => {
                ls.feed(out, &mut conv);
                if last {
                    ls.finish(&mut conv);
                }
            }
            Shaper::Raw(d) => {
                d.feed(out, &mut conv);
                if last {
                    d.finish(&mut conv);
                }
            }
        }
        *out = conv;
    }
}

/// Most bytes of a non-streamed upstream answer buffered for translation.
const MAX_TRANSLATED_BODY: usize = 64 * 1024 * 1024;

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// How a Codex/Responses stream ended, for a non-stream client.
#[derive(Debug, PartialEq, Eq)]
pub enum Terminal {
    /// `response.completed` or `response.incomplete` (a normal end, e.g.
    /// `max_output_tokens`): the whole event data (the response translator
    /// unwraps `response`).
    Answer(Vec<u8>),
    /// `response.failed` or `error`: the HTTP status the error stands for and
    /// an OpenAI-shaped error body (`{"error":{"message","type","code"}}`).
    Failed { status: u16, body: Vec<u8> },
}

/// The terminal event of a Codex/Responses stream; `None` if the stream
/// stopped before any.
pub fn terminal_event(stream: &[u8]) -> Option<Terminal> {
    let mut scanner = crate::sse::Scanner::new();
    let mut found = None;
    // `output_item.done` items by output index (then those without one), for
    // a terminal event whose `response.output` came back empty.
    let mut items: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut take = |item: crate::sse::Item<'_>| {
        let crate::sse::Item::Event(ev) = item else {
            return;
        };
        if matches!(found, Some(Terminal::Failed { .. })) {
            return;
        }
        let ty = crate::translate::stream::json::get_str(ev.data, b"type").or(ev.event);
        match ty {
            Some(b"response.output_item.done") => {
                use crate::translate::stream::json;
                if let Some(item) = json::get(ev.data, b"item").filter(|i| i.first() == Some(&b'{'))
                {
                    let index = json::get_u64(ev.data, b"output_index").unwrap_or(u64::MAX);
                    match items
                        .iter_mut()
                        .find(|(i, _)| *i == index && index != u64::MAX)
                    {
                        Some(slot) => slot.1 = item.to_vec(),
                        None => items.push((index, item.to_vec())),
                    }
                }
            }
            Some(b"response.completed") | Some(b"response.incomplete") => {
                found = Some(Terminal::Answer(with_collected_output(ev.data, &mut items)));
            }
            Some(b"response.failed") | Some(b"error") => {
                // The stream decoder knows how these map to a status.
                let mut tr = new_stream_translator(
                    Format::Codex,
                    Format::OpenAiChat,
                    StreamCtx {
                        model: "",
                        created: 0,
                        id_seed: 0,
                    },
                );
                let mut sink = Vec::new();
                let mut one = Vec::with_capacity(ev.data.len() + 16);
                crate::sse::write::write_event(&mut one, ev.event, ev.data);
                tr.feed(&one, &mut sink);
                if let Some((status, body)) = tr.upstream_error() {
                    found = Some(Terminal::Failed {
                        status,
                        body: body.to_vec(),
                    });
                }
            }
            _ => {}
        }
    };
    scanner.feed(stream, &mut take).ok()?;
    scanner.finish(&mut take).ok()?;
    found
}

/// The terminal event `data`, with `response.output` rebuilt from the
/// collected `output_item.done` items when the upstream left it empty (the
/// Codex backend does; CLIProxyAPI patches it the same way).
fn with_collected_output(data: &[u8], items: &mut [(u64, Vec<u8>)]) -> Vec<u8> {
    use crate::translate::stream::json;
    let output = json::path(data, &[b"response", b"output"]);
    let empty = output.is_some_and(|o| {
        o.first() == Some(&b'[') && o[1..].iter().all(|c| c.is_ascii_whitespace() || *c == b']')
    });
    let (Some(output), true, false) = (output, empty, items.is_empty()) else {
        return data.to_vec();
    };
    // `output` is a sub-slice of `data`: its offset is where the edit goes.
    let start = output.as_ptr() as usize - data.as_ptr() as usize;
    let end = start + output.len();
    items.sort_by_key(|(i, _)| *i);
    let len = items.iter().map(|(_, v)| v.len() + 1).sum::<usize>();
    let mut out = Vec::with_capacity(data.len() + len + 2);
    out.extend_from_slice(&data[..start]);
    out.push(b'[');
    for (n, (_, item)) in items.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        out.extend_from_slice(item);
    }
    out.push(b']');
    out.extend_from_slice(&data[end..]);
    out
}

/// The `custom` / `namespace` tools of a Responses client's request, when the
/// upstream is not Responses-shaped (their calls must be mapped back).
fn client_tools(call: &Call<'_>, from: Format) -> Option<ClientTools> {
    let responses = |f: Format| matches!(f, Format::OpenAiResponses | Format::Codex);
    if !responses(call.client) || responses(from) {
        return None;
    }
    ClientTools::from_responses_body(call.body)
}

/// Relays an upstream answer in another format, translating it: whole for
/// non-stream clients (a Codex stream is aggregated), event by event for
/// streams. Nothing reaches the client before the translator produced output.
async fn relay_translated(
    w: &Rc<Worker>,
    conn: &mut Conn,
    mut resp: Response,
    from: Format,
    call: &Call<'_>,
    model: &str,
) -> Relayed {
    let created = unix_now();
    let status = resp.status();
    if !call.stream {
        let mut body = w.pool.borrow_mut().buf();
        let read = monoio::select! {
            r = resp.read_to_end(&mut body, MAX_TRANSLATED_BODY) => Some(r),
            _ = conn.client_gone_after(CLIENT_WATCH_DELAY) => None,
        };
        match read {
            None => return Relayed::ClientGone,
            Some(Err(e)) => return Relayed::NoFirstByte(e.to_string()),
            Some(Ok(())) => resp.release(&w.pool),
        }
        let completed;
        let data: &[u8] = if from == Format::Codex {
            match terminal_event(&body) {
                Some(Terminal::Answer(d)) => {
                    completed = d;
                    &completed
                }
                Some(Terminal::Failed { status, body }) => {
                    return Relayed::UpstreamError { status, body };
                }
                None => {
                    return Relayed::NoFirstByte(
                        "upstream stream ended without response.completed".into(),
                    )
                }
            }
        } else {
            &body
        };
        let mut out = w.pool.borrow_mut().buf();
        let ctx = RespCtx {
            client_model: model,
            created,
        };
        let tools = client_tools(call, from);
        if let Err(e) =
            translate_response_tools(from, call.client, data, &ctx, tools.as_ref(), &mut out)
        {
            return Relayed::NoFirstByte(format!("untranslatable upstream answer: {}", e.message));
        }
        if call.legacy_completions {
            out = crate::translate::completions::response_from_chat(&out);
        }
        reply::json(&mut conn.out, status, &out, false, &[]);
        {
            let mut p = w.pool.borrow_mut();
            p.give(body);
            p.give(out);
        }
        return Relayed::Done(conn.flush().await.is_ok(), false);
    }
    let keepalive = stream_keepalive(w, call.client);
    let ctx = StreamCtx {
        model,
        created,
        id_seed: created ^ (w.rr.get() << 20),
    };
    // Reuse this core's translator for the pair: its buffers are warm.
    let cached = {
        let mut cache = w.translators.borrow_mut();
        cache
            .iter()
            .position(|(k, _)| *k == (from, call.client))
            .map(|i| cache.swap_remove(i).1)
    };
    let mut tr = match cached {
        Some(mut t) => {
            t.reset(ctx);
            t
        }
        None => new_stream_translator(from, call.client, ctx),
    };
    tr.set_client_tools(client_tools(call, from));
    // Upstream bytes fed: a translator's buffers grow with the largest event
    // it saw, never more than this, so it bounds what a cached one keeps.
    let mut fed = 0usize;
    let mut chunk = w.pool.borrow_mut().buf();
    let mut out = w.pool.borrow_mut().buf();
    // First-byte commit: read until the translator produced client bytes.
    let mut more = true;
    while out.is_empty() {
        let r = next_event_bytes(&mut resp, &mut chunk, conn, None).await;
        match r {
            None => return Relayed::ClientGone,
            Some(Err(e)) => return Relayed::NoFirstByte(e.to_string()),
            Some(Ok(true)) => {
                fed += chunk.len();
                tr.feed(&chunk, &mut out);
                chunk.clear();
            }
            Some(Ok(false)) => {
                tr.finish(&mut out);
                more = false;
                break;
            }
        }
    }
    let o = &mut conn.out;
    encode::status_line(o, 200);
    if call.gemini_raw {
        encode::header(o, "Content-Type", b"application/json");
    } else {
        encode::header(o, "Content-Type", b"text/event-stream");
        encode::header(o, "Cache-Control", b"no-cache");
        encode::header(o, "Connection", b"keep-alive");
    }
    encode::header(o, reply::CORS_ORIGIN.0, reply::CORS_ORIGIN.1);
    encode::header(o, "Transfer-Encoding", b"chunked");
    o.extend_from_slice(b"\r\n");
    let mut shaper = Shaper::for_call(call);
    loop {
        shaper.apply(&mut out, !more);
        encode::chunk(&mut conn.out, &out);
        out.clear();
        if !more {
            conn.out.extend_from_slice(encode::LAST_CHUNK);
            let ok = conn.flush().await.is_ok();
            resp.release(&w.pool);
            let mut p = w.pool.borrow_mut();
            p.give(chunk);
            p.give(out);
            let failed = tr.upstream_error().map(|(s, b)| (s, b.to_vec()));
            let mut cache = w.translators.borrow_mut();
            if cache.len() < MAX_CACHED_TRANSLATORS && fed <= MAX_CACHED_TRANSLATOR_INPUT {
                cache.push(((from, call.client), tr));
            }
            return match failed {
                Some((status, body)) => Relayed::DoneWithError(ok, status, body),
                None => Relayed::Done(ok, false),
            };
        }
        if !resp.is_done() && conn.flush().await.is_err() {
            return Relayed::ClientGone;
        }
        let r = next_event_bytes(&mut resp, &mut chunk, conn, keepalive).await;
        match r {
            None => return Relayed::ClientGone,
            Some(Ok(true)) => {
                fed += chunk.len();
                tr.feed(&chunk, &mut out);
                chunk.clear();
            }
            Some(Ok(false)) => {
                tr.finish(&mut out);
                more = false;
            }
            Some(Err(e)) => {
                crate::log_warn!("upstream stream broke: {e}");
                tr.error(502, &format!("upstream stream interrupted: {e}"), &mut out);
                shaper.apply(&mut out, true);
                encode::chunk(&mut conn.out, &out);
                conn.out.extend_from_slice(encode::LAST_CHUNK);
                return Relayed::Done(conn.flush().await.is_ok(), true);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codex_terminal_events() {
        let created = "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"r\"}}\n\n";
        let inc = "event: response.incomplete\ndata: {\"type\":\"response.incomplete\",\"response\":{\"status\":\"incomplete\"}}\n\n";
        let failed = "event: response.failed\ndata: {\"type\":\"response.failed\",\"response\":{\"error\":{\"code\":\"insufficient_quota\",\"message\":\"m\"}}}\n\n";
        let error =
            "data: {\"type\":\"error\",\"code\":\"invalid_prompt\",\"message\":\"bad\"}\n\n";
        match terminal_event(format!("{created}{inc}").as_bytes()) {
            Some(Terminal::Answer(d)) => {
                assert!(d.starts_with(b"{\"type\":\"response.incomplete\""))
            }
            other => panic!("{other:?}"),
        }
        let status = |s: String| match terminal_event(s.as_bytes()) {
            Some(Terminal::Failed { status, body }) => {
                let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
                (
                    status,
                    v["error"]["code"].as_str().unwrap_or("").to_string(),
                )
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(
            status(format!("{created}{failed}")),
            (429, "insufficient_quota".into())
        );
        assert_eq!(
            status(format!("{created}{error}")),
            (400, "invalid_prompt".into())
        );
        assert_eq!(terminal_event(created.as_bytes()), None);
    }

    #[test]
    fn boundaries() {
        assert_eq!(last_event_boundary(b"data: a\n\ndata: b"), Some(9));
        assert_eq!(last_event_boundary(b"data: a\r\n\r\ndata: b\r\n"), Some(11));
        assert_eq!(last_event_boundary(b"data: a\n"), None);
        assert_eq!(last_event_boundary(b"data: a\n\ndata: b\n\n"), Some(18));
        assert!(ends_with_done(b"data: x\n\ndata: [DONE]\n\n"));
        assert!(!ends_with_done(b"data: {\"t\":\"[DONE]x\"}\n\n"));
    }
}
