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
use crate::error::{Error, ErrorKind};
use crate::h1::encode;
use crate::runtime::Worker;
use crate::server::{Conn, Request, CLIENT_WATCH_DELAY};
use crate::state::{Kind, Provider};
use crate::translate::format::Format;
use crate::translate::request::{translate_request, ReqOpts};
use crate::translate::response::{translate_response_tools, RespCtx};
use crate::translate::stream::{new_stream_translator, StreamCtx};
use crate::translate::tools::ClientTools;
use crate::upstream::{self, Response};
use std::rc::Rc;

// The stages, in the order a request meets them.
mod attempt;
mod count;
mod failure;
pub(crate) mod passthrough;
mod relay;
mod route;
#[cfg(test)]
mod tests;
mod translated;
mod upstream_request;

use attempt::{tick, Attempts, Step};
use count::*;
pub use failure::client_error;
use failure::*;
use relay::*;
use route::*;
use translated::*;
pub use translated::{terminal_event, Terminal};
use upstream_request::*;

/// Largest upstream error body read (for the client and for logs).
const MAX_ERROR_BODY: usize = 4 * 1024 * 1024;

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
    /// `/responses/compact`: the client's Responses body (no `stream`) to
    /// the upstream's `/responses/compact`, the answer relayed as is.
    pub compact: bool,
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
        compact: false,
    };
    proxy(w, conn, req, call).await
}

/// What every stage of one request reads.
struct Ctx<'a> {
    w: &'a Rc<Worker>,
    snap: &'a crate::state::Snapshot,
    req: &'a Request<'a>,
    call: &'a Call<'a>,
    routed: &'a Routed<'a>,
}

/// Forwards `call` with failover across credentials: route, then one
/// attempt per lease the retry plan hands out, then the error reply. A
/// stream whose last failure was a 2xx answer that broke before its first
/// byte is dispatched again, plan and all, up to `streaming.bootstrap-retries`
/// times (CLIProxyAPI's handler-level bootstrap retry).
pub async fn proxy(w: &Rc<Worker>, conn: &mut Conn, req: &Request<'_>, call: Call<'_>) -> bool {
    let snap = w.snapshot();
    let retries = if call.stream {
        snap.config.streaming_bootstrap_retries
    } else {
        0
    };
    let mut request = w.pool.borrow_mut().buf();
    // The previous dispatch's bootstrap failure (and its forwarded header
    // lines), while re-dispatching.
    let mut bootstrap: Option<(Failure, u16, Vec<u8>)> = None;
    let mut retried = 0;
    let started = std::time::Instant::now();
    if let Some(t) = conn.trace.as_mut() {
        t.model.clone_from(&call.model);
    }
    loop {
        let (routed, mut plan) = match route(w, &snap, req, &call.model, call.body) {
            Ok(r) => r,
            Err(Unrouted::UnknownModel) => {
                crate::pipeline::trace::arm_error_log(conn, None);
                return unknown_model(conn, &call.model).await;
            }
            Err(Unrouted::NoCredential(a)) => {
                arm_error_log(conn, bootstrap.as_ref().map(|b| &b.0));
                return no_credential(conn, a, bootstrap).await;
            }
        };
        plan.prefer_websockets(conn.ws.is_some());
        let mut attempts = Attempts {
            cx: Ctx {
                w,
                snap: &snap,
                req,
                call: &call,
                routed: &routed,
            },
            plan,
            last: None,
            bootstrap: None,
            fwd: Vec::new(),
            request,
            started,
        };
        if let Some(keep) = dispatch(&mut attempts, conn, &mut bootstrap).await {
            return keep;
        }
        request = std::mem::take(&mut attempts.request);
        let (last, status) = (attempts.last, attempts.bootstrap);
        // A stream's bootstrap failure keeps its answer's headers (CLIProxyAPI).
        let fwd = match status {
            Some(_) if call.stream => attempts.fwd,
            _ => Vec::new(),
        };
        match (last, status) {
            (Some(f), Some(s))
                if retried < retries && bootstrap_eligible(s) && !conn.committed_early =>
            {
                retried += 1;
                crate::log_warn!(
                    "stream failed before its first byte; bootstrap retry {retried} of {retries}"
                );
                bootstrap = Some((f, s, fwd));
            }
            (last, _) => {
                arm_error_log(conn, last.as_ref());
                return give_up(conn, last, &fwd).await;
            }
        }
    }
}

/// Runs one dispatch's retry plan. `Some(keep)`: the request is answered;
/// `None`: the plan ran out, `attempts.last` holds the failure to answer.
/// A scheduler answer after a re-dispatch is written by [`no_credential`].
async fn dispatch(
    attempts: &mut Attempts<'_>,
    conn: &mut Conn,
    bootstrap: &mut Option<(Failure, u16, Vec<u8>)>,
) -> Option<bool> {
    let w = attempts.cx.w;
    loop {
        let next = {
            let mut shard = w.shard.borrow_mut();
            let now = shard.now_ms();
            attempts.plan.next(&mut shard, now)
        };
        let lease = match next {
            Next::Try(lease) => lease,
            Next::Wait(d) => {
                let gone = monoio::select! {
                    _ = monoio::time::sleep(d) => false,
                    _ = conn.client_gone_after(CLIENT_WATCH_DELAY) => true,
                };
                if gone {
                    return Some(false);
                }
                continue;
            }
            Next::GiveUp(a) => {
                arm_error_log(conn, bootstrap.as_ref().map(|b| &b.0));
                return Some(no_credential(conn, a, bootstrap.take()).await);
            }
            Next::ReturnUpstream | Next::Done => return None,
        };
        match attempts.lease(conn, lease).await {
            Step::Return(keep) => return Some(keep),
            Step::NextLease => {}
        }
    }
}

/// Arms an error log for a failed request (see [`crate::pipeline::trace::arm_error_log`])
/// with the upstream's last error answer, if that is what failed.
fn arm_error_log(conn: &mut Conn, last: Option<&Failure>) {
    let up = match last {
        Some(Failure::Upstream { status, body, .. }) => Some((*status, body.as_slice())),
        _ => None,
    };
    crate::pipeline::trace::arm_error_log(conn, up);
}

/// `streaming.bootstrap-retries` re-dispatches after these statuses of a
/// failure before the first byte (0: unknown, e.g. a broken body).
fn bootstrap_eligible(status: u16) -> bool {
    matches!(status, 0 | 401 | 402 | 403 | 408 | 429) || status >= 500
}

/// The scheduler's answer (no credential, all cooling), unless a re-dispatch
/// found none after a bootstrap failure that stands for a server error
/// (CLIProxyAPI keeps that original error then).
async fn no_credential(
    conn: &mut Conn,
    a: ErrorAnswer,
    bootstrap: Option<(Failure, u16, Vec<u8>)>,
) -> bool {
    match bootstrap {
        Some((f, s, fwd)) if s == 0 || s >= 500 => give_up(conn, Some(f), &fwd).await,
        _ => answer(conn, a).await,
    }
}
