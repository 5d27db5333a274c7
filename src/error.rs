//! One error model for the request path: what went wrong ([`ErrorKind`]),
//! whose fault it is ([`Side`]), what the attempt loop does next
//! ([`Retry`]), and one exhaustive mapping each to the HTTP status, the error
//! body in the client's format, the SSE error event in the client's format
//! and the scheduler [`Outcome`].
//!
//! Every error the proxy itself states goes through here: the h1 layer's
//! framing errors (`server`), the pre-route answers (unknown route, bad JSON,
//! missing model, authentication), the forward stages, the scheduler's own
//! answers ([`crate::credentials::ErrorAnswer`]) and the relays' SSE error
//! events. Upstream error bodies that CLIProxyAPI passes through verbatim are
//! not made here (`pipeline::reply::upstream_error_body`).
//!
//! This module sits below `server` and `pipeline` (it imports only
//! `credentials` and `translate`), so every layer can state its errors here.

use crate::credentials::Outcome;
use crate::translate::format::Format;
use std::borrow::Cow;

/// Whose fault an error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The request or the client connection.
    Client,
    /// The upstream (or the way to it).
    Upstream,
    /// The proxy: nothing could be tried.
    Internal,
}

/// What the attempt loop does after the error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Answer (or hang up) now: another credential would fail the same way,
    /// or output already reached the client.
    Stop,
    /// Try the pool's next model on the same credential, then the next
    /// credential (an upstream status may still stop, per
    /// `credentials::classify` and the entry's rules).
    NextModel,
    /// Draw the next credential.
    NextCredential,
}

/// What went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The body cannot be read, translated or edited by payload rules, or
    /// asks for something the target cannot do; `status` from the check.
    InvalidRequest { status: u16 },
    /// No registered model by the requested name; the message is the model.
    UnknownModel,
    /// No route for the method and path (gin's plain-text 404).
    NoRoute,
    /// Client authentication failed: no credential presented (`missing`) or
    /// none matched.
    Unauthorized { missing: bool },
    /// The client closed its connection.
    ClientGone,
    /// The lease was not used (its credential or model is not in this
    /// worker's snapshot yet).
    NotAttempted,
    /// The upstream was unreachable or broke before its first byte.
    Transport,
    /// The upstream answered an error status (HTTP or a leading error event).
    Upstream { status: u16 },
    /// The upstream broke after output reached the client.
    BrokenStream,
    /// Every credential and model was tried, or none was available.
    NoUpstream,
    /// The scheduler answered itself (`model_cooldown` 429,
    /// `auth_not_found` / `auth_unavailable` 503); the message is its
    /// complete body, byte-identical to CLIProxyAPI's.
    NoCredential { status: u16 },
}

/// An error with the message the client sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// What went wrong.
    pub kind: ErrorKind,
    /// Human-readable text for the client's error body (for
    /// [`ErrorKind::UnknownModel`] the model, for
    /// [`ErrorKind::NoCredential`] the whole body).
    pub message: Cow<'static, str>,
}

impl Error {
    /// An error of `kind` saying `message`.
    pub fn new(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Error {
        Error {
            kind,
            message: message.into(),
        }
    }

    /// Whose fault it is.
    pub fn side(&self) -> Side {
        match self.kind {
            ErrorKind::InvalidRequest { .. }
            | ErrorKind::UnknownModel
            | ErrorKind::NoRoute
            | ErrorKind::Unauthorized { .. }
            | ErrorKind::ClientGone => Side::Client,
            ErrorKind::Transport | ErrorKind::Upstream { .. } | ErrorKind::BrokenStream => {
                Side::Upstream
            }
            ErrorKind::NotAttempted | ErrorKind::NoUpstream | ErrorKind::NoCredential { .. } => {
                Side::Internal
            }
        }
    }

    /// The HTTP status the client gets (499: nobody is left to get one).
    pub fn status(&self) -> u16 {
        match self.kind {
            ErrorKind::InvalidRequest { status }
            | ErrorKind::Upstream { status }
            | ErrorKind::NoCredential { status } => status,
            ErrorKind::UnknownModel => 400,
            ErrorKind::NoRoute => 404,
            ErrorKind::Unauthorized { .. } => 401,
            ErrorKind::ClientGone | ErrorKind::NotAttempted => 499,
            // CLIProxyAPI answers a transport failure with 500.
            ErrorKind::Transport | ErrorKind::NoUpstream => 500,
            ErrorKind::BrokenStream => 502,
        }
    }

    /// What the attempt loop does next.
    pub fn retry(&self) -> Retry {
        match self.kind {
            ErrorKind::InvalidRequest { .. }
            | ErrorKind::UnknownModel
            | ErrorKind::NoRoute
            | ErrorKind::Unauthorized { .. }
            | ErrorKind::ClientGone
            | ErrorKind::BrokenStream
            | ErrorKind::NoUpstream
            | ErrorKind::NoCredential { .. } => Retry::Stop,
            ErrorKind::Transport | ErrorKind::Upstream { .. } => Retry::NextModel,
            ErrorKind::NotAttempted => Retry::NextCredential,
        }
    }

    /// What the scheduler learns about the credential; `body` is the
    /// upstream's error body (for classification) where there is one.
    pub fn outcome<'a>(&self, body: &'a [u8]) -> Outcome<'a> {
        match self.kind {
            ErrorKind::InvalidRequest { .. }
            | ErrorKind::UnknownModel
            | ErrorKind::NoRoute
            | ErrorKind::Unauthorized { .. } => Outcome::answered_locally(),
            ErrorKind::ClientGone => Outcome::client_gone(),
            ErrorKind::NotAttempted => Outcome::not_attempted(),
            ErrorKind::NoUpstream | ErrorKind::NoCredential { .. } => Outcome::answered_locally(),
            ErrorKind::Transport => Outcome::transport(),
            ErrorKind::Upstream { status } => Outcome::failure(status, body),
            ErrorKind::BrokenStream => Outcome {
                first_byte_sent: true,
                ..Outcome::failure(502, b"")
            },
        }
    }

    /// The error body in the client's format. CLIProxyAPI answers some
    /// cases in one shape whatever the client: authentication
    /// (`{"error":"Missing API key"}`), unknown model (OpenAI
    /// `model_not_found`), unknown route (gin's text) and the scheduler's
    /// own bodies.
    pub fn write_body(&self, client: Format, out: &mut Vec<u8>) {
        match self.kind {
            ErrorKind::Unauthorized { missing: true } => {
                out.extend_from_slice(br#"{"error":"Missing API key"}"#)
            }
            ErrorKind::Unauthorized { missing: false } => {
                out.extend_from_slice(br#"{"error":"Invalid API key"}"#)
            }
            ErrorKind::NoRoute => out.extend_from_slice(b"404 page not found"),
            ErrorKind::NoCredential { .. } => out.extend_from_slice(self.message.as_bytes()),
            ErrorKind::UnknownModel => {
                out.extend_from_slice(b"{\"error\":{\"message\":\"unknown provider for model ");
                crate::json::escape_into(out, &self.message);
                out.extend_from_slice(
                    b"\",\"type\":\"invalid_request_error\",\"code\":\"model_not_found\",\"param\":\"model\"}}",
                );
            }
            ErrorKind::InvalidRequest { .. }
            | ErrorKind::ClientGone
            | ErrorKind::NotAttempted
            | ErrorKind::Transport
            | ErrorKind::Upstream { .. }
            | ErrorKind::BrokenStream
            | ErrorKind::NoUpstream => {
                crate::translate::response::error_body(client, self.status(), &self.message, out)
            }
        }
    }

    /// The body's media type: JSON except gin's plain-text 404.
    pub fn content_type(&self) -> &'static [u8] {
        match self.kind {
            ErrorKind::NoRoute => b"text/plain",
            _ => b"application/json; charset=utf-8",
        }
    }

    /// The SSE error event in the client's format, through the stream's
    /// translator (it closes whatever the stream left open).
    pub fn write_event(
        &self,
        stream: &mut crate::translate::stream::StreamTranslator,
        out: &mut Vec<u8>,
    ) {
        stream.error(self.status(), &self.message, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [ErrorKind; 12] = [
        ErrorKind::InvalidRequest { status: 422 },
        ErrorKind::UnknownModel,
        ErrorKind::ClientGone,
        ErrorKind::NotAttempted,
        ErrorKind::Transport,
        ErrorKind::Upstream { status: 429 },
        ErrorKind::BrokenStream,
        ErrorKind::NoUpstream,
        ErrorKind::NoRoute,
        ErrorKind::Unauthorized { missing: true },
        ErrorKind::Unauthorized { missing: false },
        ErrorKind::NoCredential { status: 503 },
    ];

    #[test]
    fn statuses_sides_and_retries() {
        let got: Vec<(u16, Side, Retry)> = ALL
            .iter()
            .map(|&k| {
                let e = Error::new(k, "m");
                (e.status(), e.side(), e.retry())
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (422, Side::Client, Retry::Stop),
                (400, Side::Client, Retry::Stop),
                (499, Side::Client, Retry::Stop),
                (499, Side::Internal, Retry::NextCredential),
                (500, Side::Upstream, Retry::NextModel),
                (429, Side::Upstream, Retry::NextModel),
                (502, Side::Upstream, Retry::Stop),
                (500, Side::Internal, Retry::Stop),
                (404, Side::Client, Retry::Stop),
                (401, Side::Client, Retry::Stop),
                (401, Side::Client, Retry::Stop),
                (503, Side::Internal, Retry::Stop),
            ]
        );
    }

    #[test]
    fn outcomes_leave_credentials_alone_unless_the_upstream_failed() {
        for k in ALL {
            let o = Error::new(k, "").outcome(b"{}");
            let blames_upstream = Error::new(k, "").side() == Side::Upstream;
            // 499 and "not attempted" are the statuses the scheduler never
            // cools a credential for.
            let no_cooldown =
                o.status == 499 || o.status == crate::credentials::STATUS_NOT_ATTEMPTED;
            assert_eq!(!no_cooldown, blames_upstream, "{k:?}");
            assert_eq!(o.first_byte_sent, k == ErrorKind::BrokenStream, "{k:?}");
        }
        let o = Error::new(ErrorKind::Upstream { status: 429 }, "").outcome(b"body");
        assert_eq!((o.status, o.body), (429, &b"body"[..]));
        assert_eq!(Error::new(ErrorKind::Transport, "").outcome(b"").status, 0);
    }

    #[test]
    fn body_is_the_client_format_error_body() {
        let e = Error::new(ErrorKind::InvalidRequest { status: 400 }, "bad \"x\"");
        for f in [Format::OpenAiChat, Format::Claude, Format::Gemini] {
            let mut ours = Vec::new();
            e.write_body(f, &mut ours);
            let mut direct = Vec::new();
            crate::translate::response::error_body(f, 400, "bad \"x\"", &mut direct);
            assert_eq!(ours, direct);
            assert!(!ours.is_empty());
        }
    }

    #[test]
    fn fixed_shapes_whatever_the_client() {
        let cases: [(ErrorKind, &str, &[u8], &[u8]); 5] = [
            (
                ErrorKind::Unauthorized { missing: true },
                "",
                br#"{"error":"Missing API key"}"#,
                b"application/json; charset=utf-8",
            ),
            (
                ErrorKind::Unauthorized { missing: false },
                "",
                br#"{"error":"Invalid API key"}"#,
                b"application/json; charset=utf-8",
            ),
            (ErrorKind::NoRoute, "", b"404 page not found", b"text/plain"),
            (
                ErrorKind::NoCredential { status: 429 },
                r#"{"error":{"code":"model_cooldown"}}"#,
                br#"{"error":{"code":"model_cooldown"}}"#,
                b"application/json; charset=utf-8",
            ),
            (
                ErrorKind::UnknownModel,
                "m\"<x>",
                br#"{"error":{"message":"unknown provider for model m\"<x>","type":"invalid_request_error","code":"model_not_found","param":"model"}}"#,
                b"application/json; charset=utf-8",
            ),
        ];
        for (kind, message, body, media) in cases {
            let e = Error::new(kind, message);
            for f in [Format::OpenAiChat, Format::Claude, Format::Gemini] {
                let mut out = Vec::new();
                e.write_body(f, &mut out);
                assert_eq!(out, body, "{kind:?} {f:?}");
            }
            assert_eq!(e.content_type(), media, "{kind:?}");
        }
    }
}
