//! Stage: the error reply. What the last failed attempt left for the client,
//! written once every credential and model has been tried, and the
//! scheduler's own answers (cooldown 429, auth-not-found 503).

use super::*;

/// What the last failed attempt left for the client.
pub(super) enum Failure {
    Transport(String),
    Upstream {
        status: u16,
        body: Vec<u8>,
        retry_after: Option<Vec<u8>>,
    },
}

/// Writes the answer for the last failure (500 when nothing was tried), with
/// the forwarded header lines `fwd` of a stream that broke before its first
/// byte (`passthrough-headers`; empty otherwise).
pub(super) async fn give_up(conn: &mut Conn, last: Option<Failure>, fwd: &[u8]) -> bool {
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
            reply::json_forwarding(&mut conn.out, status, &b, false, &extra, fwd);
        }
        // CLIProxyAPI answers these in the OpenAI shape whatever the client.
        Some(Failure::Transport(m)) => {
            let e = Error::new(ErrorKind::Transport, m);
            reply::error_forwarding(&mut conn.out, &e, Format::OpenAiChat, false, &[], fwd);
        }
        None => {
            let e = Error::new(ErrorKind::NoUpstream, "no upstream available");
            reply::error(&mut conn.out, &e, Format::OpenAiChat, false, &[]);
        }
    }
    conn.flush().await.is_ok()
}

/// Writes a scheduler-made answer (cooldown 429, auth-not-found 503).
pub(super) async fn answer(conn: &mut Conn, a: ErrorAnswer) -> bool {
    let ra = a.retry_after.map(|s| s.to_string());
    let extra: Vec<(&str, &[u8])> = ra
        .as_deref()
        .map(|v| ("Retry-After", v.as_bytes()))
        .into_iter()
        .collect();
    let e = Error::new(ErrorKind::NoCredential { status: a.status }, a.body);
    reply::error(&mut conn.out, &e, Format::OpenAiChat, false, &extra);
    conn.flush().await.is_ok()
}

/// Writes a client error (`status` from the check) in the client's format.
pub async fn client_error(conn: &mut Conn, client: Format, status: u16, message: &str) -> bool {
    crate::pipeline::trace::arm_error_log(conn, None);
    let e = Error::new(ErrorKind::InvalidRequest { status }, message.to_owned());
    reply::error(&mut conn.out, &e, client, false, &[]);
    conn.flush().await.is_ok()
}

/// Writes a 400 unknown-model answer in CLIProxyAPI's shape.
pub(super) async fn unknown_model(conn: &mut Conn, requested: &str) -> bool {
    let e = Error::new(ErrorKind::UnknownModel, requested.to_owned());
    reply::error(&mut conn.out, &e, Format::OpenAiChat, false, &[]);
    conn.flush().await.is_ok()
}
