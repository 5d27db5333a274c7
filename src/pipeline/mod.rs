//! The request path, one stage after another: route by method and path,
//! authenticate, then the route's handler (`chat` forwards to an upstream).
//! Every handler writes its whole answer and says whether the connection may
//! be reused.

pub mod auth;
pub mod chat;
pub mod models;
pub mod reply;

use crate::runtime::Worker;
use crate::server::{Conn, Request};
use std::rc::Rc;

/// CLIProxyAPI's banner for `GET /`.
pub const BANNER: &[u8] =
    br#"{"message":"CLI Proxy API Server","endpoints":["POST /v1/chat/completions","POST /v1/completions","GET /v1/models"]}"#;

/// Handles one request; returns whether the connection may serve another.
pub async fn handle(w: &Rc<Worker>, conn: &mut Conn, req: &Request<'_>) -> bool {
    let method = req.method();
    let path = req.path();
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
        (_, b"/v1/models") if get => {
            if !authorized(w, conn, req, head_only) {
                return flush(conn).await;
            }
            let snap = w.snapshot();
            let mut body = Vec::with_capacity(256 + snap.models.len() * 96);
            if models::wants_anthropic(req) {
                models::anthropic_list(&snap, &mut body);
            } else {
                models::openai_list(&snap, &mut body);
            }
            reply::json(&mut conn.out, 200, &body, head_only, &[]);
        }
        (b"POST", b"/v1/chat/completions") => {
            if !authorized(w, conn, req, false) {
                return flush(conn).await;
            }
            return chat::chat_completions(w, conn, req).await;
        }
        _ => reply::text(&mut conn.out, 404, b"404 page not found", head_only),
    }
    flush(conn).await
}

async fn flush(conn: &mut Conn) -> bool {
    conn.flush().await.is_ok()
}

fn authorized(w: &Worker, conn: &mut Conn, req: &Request<'_>, head_only: bool) -> bool {
    let snap = w.snapshot();
    match auth::authenticate(&snap.config.api_keys, req) {
        auth::Auth::Ok => true,
        auth::Auth::Missing => {
            reply::json(
                &mut conn.out,
                401,
                br#"{"error":"Missing API key"}"#,
                head_only,
                &[],
            );
            false
        }
        auth::Auth::Invalid => {
            reply::json(
                &mut conn.out,
                401,
                br#"{"error":"Invalid API key"}"#,
                head_only,
                &[],
            );
            false
        }
    }
}
