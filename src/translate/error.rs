//! The one provider-error table per client format, used by the non-stream error body
//! ([`error_body`]) and by the stream encoders' error events
//! alike, so a status maps to the same `type` / `code` / `status` in both paths.
//!
//! Values follow CLIProxyAPI (`claudeErrorTypeFromStatus` for Claude, its OpenAI error
//! mapping for OpenAI) and Google's canonical HTTP ↔ `google.rpc.Code` mapping for Gemini
//! (503 `UNAVAILABLE`, 504 `DEADLINE_EXCEEDED`); 529 (Anthropic's "overloaded") is
//! `UNAVAILABLE` in Gemini shape.

use crate::json::write::Writer;
use crate::translate::format::Format;

/// A request that cannot be translated (not JSON, or not a JSON object).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TranslateError {
    pub message: String,
}

impl TranslateError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        TranslateError {
            message: message.into(),
        }
    }
    /// HTTP status for this error (always 400: the request is invalid).
    pub fn status(&self) -> u16 {
        400
    }
    /// Write this error as `client`'s error body.
    pub fn write_body(&self, client: Format, out: &mut Vec<u8>) {
        error_body(client, self.status(), &self.message, out);
    }
}

impl std::fmt::Display for TranslateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TranslateError {}

/// Write an error body in client format `to`, its values from the one per-format table
/// in [`crate::translate::error`] (shared with the stream encoders):
/// - OpenAI Chat / Responses / Codex: `{"error":{"message","type","code"}}` (no `code`
///   where the table has none);
/// - Claude: `{"type":"error","error":{"type","message"}}`;
/// - Gemini: `{"error":{"code","message","status"}}`.
///
/// An empty message becomes the status text.
pub fn error_body(to: Format, status: u16, message: &str, out: &mut Vec<u8>) {
    let message = if message.trim().is_empty() {
        status_text(status)
    } else {
        message
    };
    let mut w = Writer::new(out);
    match to {
        Format::OpenAiChat | Format::OpenAiResponses | Format::Codex => {
            let (ty, code) = openai(status);
            w.obj().key("error").obj().key("message").str(message);
            w.key("type").str(ty);
            if let Some(c) = code {
                w.key("code").str(c);
            }
            w.end_obj().end_obj();
        }
        Format::Claude => {
            w.obj().key("type").str("error").key("error").obj();
            w.key("type")
                .str(claude(status))
                .key("message")
                .str(message);
            w.end_obj().end_obj();
        }
        Format::Gemini | Format::GeminiCli => {
            w.obj().key("error").obj().key("code").uint(status as u64);
            w.key("message")
                .str(message)
                .key("status")
                .str(gemini(status));
            w.end_obj().end_obj();
        }
    }
}

/// OpenAI error `type` and `code` for an HTTP status. `code` is `None` where CLIProxyAPI
/// writes none (a plain 4xx); stream events that must carry a code use the type.
pub fn openai(status: u16) -> (&'static str, Option<&'static str>) {
    match status {
        401 => ("authentication_error", Some("invalid_api_key")),
        403 => ("permission_error", Some("insufficient_quota")),
        404 => ("invalid_request_error", Some("model_not_found")),
        429 => ("rate_limit_error", Some("rate_limit_exceeded")),
        500.. => ("server_error", Some("internal_server_error")),
        _ => ("invalid_request_error", None),
    }
}

/// OpenAI error `code` for an HTTP status, for events whose schema requires one
/// (the `type` stands in where the table has no code).
pub fn openai_code(status: u16) -> &'static str {
    let (ty, code) = openai(status);
    code.unwrap_or(ty)
}

/// Anthropic error `type` for an HTTP status.
pub fn claude(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        504 => "timeout_error",
        500.. => "api_error",
        _ => "invalid_request_error",
    }
}

/// Gemini (`google.rpc`) error `status` for an HTTP status.
pub fn gemini(status: u16) -> &'static str {
    match status {
        400 | 413 | 422 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        501 => "UNIMPLEMENTED",
        503 | 529 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        500.. => "INTERNAL",
        _ => "FAILED_PRECONDITION",
    }
}

/// The reason phrase used as the message of an error that has none.
pub fn status_text(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Payload Too Large",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The statuses where the stream and non-stream tables used to disagree now have
    /// one answer each (CLIProxyAPI / google.rpc values).
    #[test]
    fn one_answer_per_status() {
        assert_eq!(claude(503), "api_error");
        assert_eq!(claude(529), "overloaded_error");
        assert_eq!(claude(504), "timeout_error");
        assert_eq!(claude(413), "request_too_large");
        assert_eq!(claude(400), "invalid_request_error");
        assert_eq!(gemini(504), "DEADLINE_EXCEEDED");
        assert_eq!(gemini(503), "UNAVAILABLE");
        assert_eq!(gemini(529), "UNAVAILABLE");
        assert_eq!(gemini(502), "INTERNAL");
        assert_eq!(gemini(413), "INVALID_ARGUMENT");
        assert_eq!(openai(400), ("invalid_request_error", None));
        assert_eq!(openai_code(400), "invalid_request_error");
        assert_eq!(openai_code(502), "internal_server_error");
    }
}
