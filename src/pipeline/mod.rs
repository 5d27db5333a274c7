//! The request path, one stage after another: route by method and path,
//! authenticate, then the route's handler (`chat` forwards to an upstream).
//! Every handler writes its whole answer and says whether the connection may
//! be reused.

pub mod auth;
pub mod forward;
pub mod models;
pub mod reply;
pub mod responses_ws;
pub mod trace;

use crate::error::{Error, ErrorKind};
use crate::runtime::Worker;
use crate::server::{Conn, Request};
use crate::translate::format::Format;
use std::rc::Rc;

/// CLIProxyAPI's banner for `GET /`.
pub const BANNER: &[u8] =
    br#"{"message":"CLI Proxy API Server","endpoints":["POST /v1/chat/completions","POST /v1/completions","GET /v1/models"]}"#;

/// `/api/provider/{provider}/...` aliases (v6.9-behaviours #16): the provider
/// segment selects the list format for `models`; inference still routes by
/// model. Returns (provider, path to route).
fn provider_alias(path: &[u8]) -> Option<(&[u8], Vec<u8>)> {
    let rest = path.strip_prefix(b"/api/provider/")?;
    let (provider, tail) = match memchr::memchr(b'/', rest) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, &b""[..]),
    };
    let mut p = Vec::with_capacity(tail.len() + 3);
    if !(tail.starts_with(b"/v1/") || tail == b"/v1" || tail.starts_with(b"/v1beta")) {
        p.extend_from_slice(b"/v1");
    }
    p.extend_from_slice(tail);
    Some((provider, p))
}

/// The request path as the server's handler: `server` is generic over it,
/// so it never imports this module.
pub struct Proxy;

impl crate::server::Handler<Worker> for Proxy {
    async fn handle(w: &Rc<Worker>, conn: &mut Conn, req: &Request<'_>) -> bool {
        handle(w, conn, req).await
    }
}

/// Handles one request; returns whether the connection may serve another.
/// Amp CLI routes (`crate::amp`) first, then the relay's own.
/// With request logs, the access log or metrics on, the request carries a
/// trace ([`crate::obs`]); off, this costs a flag load and two branches.
pub async fn handle(w: &Rc<Worker>, conn: &mut Conn, req: &Request<'_>) -> bool {
    trace::begin(conn, req);
    let keep = match crate::amp::handle::<Proxy>(w, conn, req).await {
        Some(keep) => keep,
        None => dispatch(w, conn, req).await,
    };
    if let Some(t) = conn.trace.take() {
        trace::finish(w, req, t);
    }
    keep
}

impl crate::amp::Relay for Proxy {
    async fn dispatch(w: &Rc<Worker>, conn: &mut Conn, req: &Request<'_>) -> bool {
        dispatch(w, conn, req).await
    }
}

/// The relay's own routes (the Amp fallback serves local models through it).
pub(crate) async fn dispatch(w: &Rc<Worker>, conn: &mut Conn, req: &Request<'_>) -> bool {
    let method = req.method();
    let aliased = provider_alias(req.path());
    let (provider, path): (Option<&[u8]>, &[u8]) = match &aliased {
        Some((p, path)) => (Some(p), path.as_slice()),
        None => (None, req.path()),
    };
    let head_only = method == b"HEAD";
    let get = method == b"GET" || head_only;
    match (method, path) {
        (b"OPTIONS", _) => {
            crate::h1::encode::status_line(&mut conn.out, 204);
            for (n, v) in [
                ("Access-Control-Allow-Origin", &b"*"[..]),
                (
                    "Access-Control-Allow-Methods",
                    b"GET, POST, PUT, PATCH, DELETE, OPTIONS",
                ),
                ("Access-Control-Allow-Headers", b"*"),
            ] {
                crate::h1::encode::header(&mut conn.out, n, v);
            }
            conn.out.extend_from_slice(b"\r\n");
        }
        (_, b"/") if get => reply::json(&mut conn.out, 200, BANNER, head_only, &[]),
        (_, b"/healthz") if get => {
            reply::json(&mut conn.out, 200, br#"{"status":"ok"}"#, head_only, &[])
        }
        (_, b"/v1/models") | (_, b"/v1beta/models") if get => {
            if !auth::authorized(w, conn, req, head_only) {
                return flush(conn).await;
            }
            let snap = w.snapshot();
            let mut body = Vec::with_capacity(256 + snap.models.len() * 160);
            let by_provider = |names: &[&[u8]]| {
                provider.is_some_and(|p| names.iter().any(|n| p.eq_ignore_ascii_case(n)))
            };
            if path == b"/v1beta/models" || by_provider(&[b"google", b"gemini"]) {
                snap.registry.write_gemini_list(&mut body);
            } else if by_provider(&[b"anthropic", b"claude"])
                || (provider.is_none() && models::wants_anthropic(req))
            {
                let no_cloak = snap.config.disable_cloaking_model_list;
                snap.registry.write_anthropic_list(no_cloak, &mut body);
            } else {
                snap.registry.write_openai_list(&mut body);
            }
            reply::json(&mut conn.out, 200, &body, head_only, &[]);
        }
        (b"POST", b"/v1/chat/completions") => {
            return inference(w, conn, req, Format::OpenAiChat, false).await
        }
        (b"POST", b"/v1/completions") => {
            if !auth::authorized(w, conn, req, false) {
                return flush(conn).await;
            }
            let converted = match crate::translate::completions::request_to_chat(req.body()) {
                Ok(b) => b,
                Err(m) => return forward::client_error(conn, Format::OpenAiChat, 400, &m).await,
            };
            let fields = match crate::json::request_fields(&converted) {
                Ok(f) => f,
                Err(e) => {
                    return forward::client_error(conn, Format::OpenAiChat, 400, e.what).await
                }
            };
            let call = forward::Call {
                client: Format::OpenAiChat,
                model: fields.model.unwrap_or_default(),
                model_span: fields.model_span,
                stream: fields.stream,
                count_tokens: false,
                body: &converted,
                legacy_completions: true,
                gemini_raw: false,
                compact: false,
            };
            return forward::proxy(w, conn, req, call).await;
        }
        // Codex CLI's `chatgpt_base_url` routes are aliases of the Responses ones.
        (b"POST", b"/v1/responses") | (b"POST", b"/backend-api/codex/responses") => {
            return inference(w, conn, req, Format::OpenAiResponses, false).await
        }
        (b"GET", b"/v1/responses") | (b"GET", b"/backend-api/codex/responses") => {
            if !auth::authorized(w, conn, req, false) {
                return flush(conn).await;
            }
            return responses_ws::serve(w, conn, req).await;
        }
        (b"POST", b"/v1/responses/compact")
        | (b"POST", b"/backend-api/codex/responses/compact") => return compact(w, conn, req).await,
        (b"POST", b"/v1/messages") => return inference(w, conn, req, Format::Claude, false).await,
        (b"POST", b"/v1/messages/count_tokens") => {
            return inference(w, conn, req, Format::Claude, true).await
        }
        // google-genai with a custom base URL and no api_version posts to
        // /v1/models/{model}:{action}; serve it as the Gemini route too.
        (b"POST", p) if p.starts_with(b"/v1/models/") && memchr::memchr(b':', p).is_some() => {
            return gemini_action(w, conn, req, &p[b"/v1/models/".len()..]).await;
        }
        (m, p) if p.starts_with(b"/v1beta/models/") => {
            let rest = &p[b"/v1beta/models/".len()..];
            match (m, memchr::memrchr(b':', rest)) {
                (b"POST", Some(_)) => return gemini_action(w, conn, req, rest).await,
                (m, None) if m == b"GET" || m == b"HEAD" => {
                    if !auth::authorized(w, conn, req, head_only) {
                        return flush(conn).await;
                    }
                    let snap = w.snapshot();
                    let id = String::from_utf8_lossy(rest.strip_prefix(b"models/").unwrap_or(rest))
                        .into_owned();
                    let mut body = Vec::new();
                    if snap.registry.write_gemini_model(&id, &mut body) {
                        reply::json(&mut conn.out, 200, &body, head_only, &[]);
                    } else {
                        let e = Error::new(
                            ErrorKind::InvalidRequest { status: 404 },
                            format!("model {id} not found"),
                        );
                        reply::error(&mut conn.out, &e, Format::Gemini, head_only, &[]);
                    }
                }
                _ => no_route(conn, head_only),
            }
        }
        // The control panel (CLIProxyAPI registers GET only).
        (b"GET", b"/management.html") => return crate::management::panel::serve(w, conn).await,
        (_, b"/metrics") if get => return crate::management::metrics(w, conn, req).await,
        // The management plane: tried after every proxy route, so those never pay for it.
        (_, p) if p.starts_with(crate::management::PREFIX) => {
            return crate::management::handle(w, conn, req).await
        }
        // OAuth redirects of logins started from the management API.
        (b"GET", p) if crate::management::oauth::sink_of(p).is_some() => {
            if let Some(kind) = crate::management::oauth::sink_of(p) {
                return crate::management::oauth::serve_sink(conn, req, kind).await;
            }
        }
        _ => no_route(conn, head_only),
    }
    flush(conn).await
}

/// `POST .../models/{model}:{action}` for Gemini clients.
async fn gemini_action(w: &Rc<Worker>, conn: &mut Conn, req: &Request<'_>, rest: &[u8]) -> bool {
    let Some(i) = memchr::memrchr(b':', rest) else {
        no_route(conn, false);
        return flush(conn).await;
    };
    let model = String::from_utf8_lossy(&rest[..i]).into_owned();
    let (stream, count) = match &rest[i + 1..] {
        b"generateContent" => (false, false),
        b"streamGenerateContent" => (true, false),
        b"countTokens" => (false, true),
        _ => {
            no_route(conn, false);
            return flush(conn).await;
        }
    };
    if !auth::authorized(w, conn, req, false) {
        return flush(conn).await;
    }
    let call = forward::Call {
        client: Format::Gemini,
        model,
        model_span: None,
        stream,
        count_tokens: count,
        body: req.body(),
        legacy_completions: false,
        gemini_raw: {
            let q = req.query();
            let alt = auth::query_param(q, "alt").or_else(|| auth::query_param(q, "$alt"));
            alt.is_some_and(|a| a != b"sse")
        },
        compact: false,
    };
    forward::proxy(w, conn, req, call).await
}

/// `POST /v1/responses/compact`: the Responses body without `stream`
/// (a `stream: true` request is refused) to the upstream's
/// `/responses/compact` (Codex, OpenAI-compatible; others answer 501), the
/// JSON answer relayed as is.
async fn compact(w: &Rc<Worker>, conn: &mut Conn, req: &Request<'_>) -> bool {
    if !auth::authorized(w, conn, req, false) {
        return flush(conn).await;
    }
    let client = Format::OpenAiResponses;
    let stream = crate::json::span::get(req.body(), b"stream");
    if stream == Some(b"true") {
        let m = "Streaming not supported for compact responses";
        return forward::client_error(conn, client, 400, m).await;
    }
    let body = match stream {
        Some(_) => responses_ws::normalize::without_members(req.body(), &["stream"]),
        None => Some(req.body().to_vec()),
    };
    let Some(body) = body else {
        let m = "invalid request body: request body must be a JSON object";
        return forward::client_error(conn, client, 400, m).await;
    };
    let fields = match crate::json::request_fields(&body) {
        Ok(f) => f,
        Err(e) => {
            let m = format!("invalid request body: {}", e.what);
            return forward::client_error(conn, client, 400, &m).await;
        }
    };
    let call = forward::Call {
        client,
        model: fields.model.unwrap_or_default(),
        model_span: fields.model_span,
        stream: false,
        count_tokens: false,
        body: &body,
        legacy_completions: false,
        gemini_raw: false,
        compact: true,
    };
    forward::proxy(w, conn, req, call).await
}

async fn inference(
    w: &Rc<Worker>,
    conn: &mut Conn,
    req: &Request<'_>,
    client: Format,
    count: bool,
) -> bool {
    if !auth::authorized(w, conn, req, false) {
        return flush(conn).await;
    }
    forward::body_routed(w, conn, req, client, count).await
}

async fn flush(conn: &mut Conn) -> bool {
    conn.flush().await.is_ok()
}

/// gin's plain-text 404 for a method and path no route serves.
fn no_route(conn: &mut Conn, head_only: bool) {
    let e = Error::new(ErrorKind::NoRoute, "");
    reply::error(&mut conn.out, &e, Format::OpenAiChat, head_only, &[]);
}
