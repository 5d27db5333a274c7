//! Error answers the scheduler itself produces (no upstream response to relay):
//! `model_cooldown` (429) and `auth_not_found` / `auth_unavailable` (503).
//!
//! Bodies are byte-identical to CLIProxyAPI's: `model_cooldown` comes from a Go
//! `map` marshal (keys sorted, HTML-safe escaping) in `selector.go`; the 503
//! answers go through `handlers.BuildErrorResponseBody` with the message
//! enriched by `enrichAuthSelectionError` (`handlers_errors.go`).

use std::fmt::Write as _;
use std::time::Duration;

/// A complete error answer for the client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorAnswer {
    pub status: u16,
    /// `Retry-After` header value in seconds, when one must be sent.
    pub retry_after: Option<u64>,
    /// JSON body (`Content-Type: application/json`).
    pub body: String,
}

/// Appends `s` as a JSON string the way Go's `encoding/json` does (escapes
/// `<`, `>`, `&`, U+2028, U+2029; invalid UTF-8 cannot occur in `&str`).
pub fn push_go_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Go's `time.Duration.String()` for a whole number of seconds.
pub fn go_duration_string(secs: u64) -> String {
    if secs == 0 {
        return "0s".to_string();
    }
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

/// `ceil` of a duration in whole seconds.
pub fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// Display rounding of upstream: below 1 s (but positive) shows `1s`, else
/// rounded to the nearest second, halves away from zero.
fn display_secs(d: Duration) -> u64 {
    if d > Duration::ZERO && d < Duration::from_secs(1) {
        1
    } else {
        d.as_secs() + u64::from(d.subsec_nanos() >= 500_000_000)
    }
}

impl ErrorAnswer {
    /// 429 `model_cooldown`: every candidate credential is in a quota cooldown.
    /// `provider` is `None` for a mixed-provider route.
    pub fn model_cooldown(model: &str, provider: Option<&str>, reset_in: Duration) -> ErrorAnswer {
        let reset_seconds = ceil_secs(reset_in);
        let shown = if model.is_empty() {
            "requested model"
        } else {
            model
        };
        let mut message = format!("All credentials for model {shown} are cooling down");
        if let Some(p) = provider.filter(|p| !p.is_empty()) {
            let _ = write!(message, " via provider {p}");
        }
        let mut body = String::with_capacity(192 + model.len() + message.len());
        body.push_str("{\"error\":{\"code\":\"model_cooldown\",\"message\":");
        push_go_json_string(&mut body, &message);
        body.push_str(",\"model\":");
        push_go_json_string(&mut body, model);
        if let Some(p) = provider.filter(|p| !p.is_empty()) {
            body.push_str(",\"provider\":");
            push_go_json_string(&mut body, p);
        }
        let _ = write!(body, ",\"reset_seconds\":{reset_seconds},\"reset_time\":");
        push_go_json_string(&mut body, &go_duration_string(display_secs(reset_in)));
        body.push_str("}}");
        ErrorAnswer {
            status: 429,
            retry_after: Some(reset_seconds),
            body,
        }
    }

    /// 503 `auth_not_found`: no credential is configured for the route.
    pub fn auth_not_found(providers: &[&str], model: &str) -> ErrorAnswer {
        Self::selection_error("auth_not_found", providers, model)
    }

    /// 503 `auth_unavailable`: credentials exist but none is selectable and
    /// not all of them are in a quota cooldown.
    pub fn auth_unavailable(providers: &[&str], model: &str) -> ErrorAnswer {
        Self::selection_error("auth_unavailable", providers, model)
    }

    fn selection_error(code: &str, providers: &[&str], model: &str) -> ErrorAnswer {
        let provider_text = if providers.is_empty() {
            "unknown".to_string()
        } else {
            providers.join(",")
        };
        let model_text = if model.trim().is_empty() {
            "unknown"
        } else {
            model.trim()
        };
        let mut message =
            format!("{code}: no auth available (providers={provider_text}, model={model_text})");
        if providers.contains(&"claude") {
            message.push_str(
                "; check Claude auth/key session and cooldown state via /v0/management/auth-files",
            );
        }
        let mut body = String::with_capacity(96 + message.len());
        body.push_str("{\"error\":{\"message\":");
        push_go_json_string(&mut body, &message);
        body.push_str(",\"type\":\"server_error\",\"code\":\"internal_server_error\"}}");
        ErrorAnswer {
            status: 503,
            retry_after: None,
            body,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cooldown_body_matches_go_marshal() {
        let a =
            ErrorAnswer::model_cooldown("gemini-2.5-pro", Some("gemini"), Duration::from_secs(90));
        assert_eq!(a.status, 429);
        assert_eq!(a.retry_after, Some(90));
        assert_eq!(
            a.body,
            "{\"error\":{\"code\":\"model_cooldown\",\"message\":\"All credentials for model gemini-2.5-pro are cooling down via provider gemini\",\"model\":\"gemini-2.5-pro\",\"provider\":\"gemini\",\"reset_seconds\":90,\"reset_time\":\"1m30s\"}}"
        );
        let v: serde_json::Value = serde_json::from_str(&a.body).expect("json");
        assert_eq!(v["error"]["reset_seconds"], 90);
    }

    #[test]
    fn cooldown_rounding() {
        let a = ErrorAnswer::model_cooldown("m", None, Duration::from_millis(89_400));
        assert_eq!(a.retry_after, Some(90));
        assert!(a.body.contains("\"reset_time\":\"1m29s\""), "{}", a.body);
        assert!(!a.body.contains("provider"));
        let a = ErrorAnswer::model_cooldown("m", None, Duration::from_millis(300));
        assert_eq!(a.retry_after, Some(1));
        assert!(a.body.contains("\"reset_time\":\"1s\""));
        let a = ErrorAnswer::model_cooldown("m", None, Duration::from_secs(12 * 3600));
        assert!(a.body.contains("\"reset_time\":\"12h0m0s\""));
        let a = ErrorAnswer::model_cooldown("", None, Duration::ZERO);
        assert!(a.body.contains("requested model are cooling down"));
        assert!(a.body.contains("\"reset_time\":\"0s\""));
    }

    #[test]
    fn not_found_body() {
        let a = ErrorAnswer::auth_not_found(&["claude"], "claude-sonnet-4-6");
        assert_eq!(a.status, 503);
        assert_eq!(
            a.body,
            "{\"error\":{\"message\":\"auth_not_found: no auth available (providers=claude, model=claude-sonnet-4-6); check Claude auth/key session and cooldown state via /v0/management/auth-files\",\"type\":\"server_error\",\"code\":\"internal_server_error\"}}"
        );
        let b = ErrorAnswer::auth_unavailable(&["gemini", "codex"], "m<x>");
        assert!(b
            .body
            .contains("providers=gemini,codex, model=m\\u003cx\\u003e"));
    }
}
