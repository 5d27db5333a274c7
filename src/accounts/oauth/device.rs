//! The RFC 8628 device authorization grant shared by Kimi and Qwen: the
//! device-code answer, and one poll of the token endpoint read as pending,
//! slow down, done or a final error.
//!
//! Both servers put the OAuth `error` in the body; Kimi answers a pending
//! poll with 200, Qwen with 400, so a poll answer is read by its body
//! whatever its status.

use super::{token_set, OAuthError};
use crate::accounts::http::Reply;
use crate::accounts::TokenSet;
use crate::secret::Secret;
use serde_json::Value;
use std::time::Duration;

/// The `grant_type` of a device-code poll.
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// Poll interval when the server names none (RFC 8628 §3.2).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// What `slow_down` adds to the interval (RFC 8628 §3.5).
pub const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);

/// A started device authorization.
#[derive(Debug, Clone)]
pub struct DeviceStart {
    /// `device_code` (sent with each poll).
    pub device_code: Secret,
    /// `user_code`, shown to the user.
    pub user_code: String,
    /// `verification_uri`.
    pub verification_uri: String,
    /// `verification_uri_complete` (the code filled in), may be empty.
    pub verification_uri_complete: String,
    /// How long the code lives, when the server says.
    pub expires_in: Option<Duration>,
    /// Poll interval.
    pub interval: Duration,
    /// Qwen: the PKCE verifier sent with each poll.
    pub code_verifier: Option<Secret>,
}

impl DeviceStart {
    /// The page the user opens: the complete URI when given.
    pub fn url(&self) -> &str {
        if self.verification_uri_complete.is_empty() {
            &self.verification_uri
        } else {
            &self.verification_uri_complete
        }
    }
}

fn secs(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n.as_u64().or_else(|| n.as_f64().map(|f| f.max(0.0) as u64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Reads a device-authorization answer; `None` without a `device_code`.
pub fn parse_start(v: &Value) -> Option<DeviceStart> {
    let s = |k: &str| v.get(k).and_then(Value::as_str).map_or("", str::trim);
    let device_code = s("device_code");
    if device_code.is_empty() {
        return None;
    }
    Some(DeviceStart {
        device_code: Secret::new(device_code),
        user_code: s("user_code").to_string(),
        verification_uri: s("verification_uri").to_string(),
        verification_uri_complete: s("verification_uri_complete").to_string(),
        expires_in: secs(v.get("expires_in"))
            .filter(|s| *s > 0)
            .map(Duration::from_secs),
        interval: secs(v.get("interval"))
            .filter(|s| *s > 0)
            .map_or(DEFAULT_INTERVAL, Duration::from_secs),
        code_verifier: None,
    })
}

/// What one poll said.
#[derive(Debug)]
pub enum Poll {
    /// `authorization_pending`: ask again after the interval.
    Pending,
    /// `slow_down`: ask again after a longer interval.
    SlowDown,
    /// The tokens, with the whole answer (kind-specific fields).
    Done(TokenSet, Value),
}

/// Reads a poll answer. `expired_token`, `access_denied` and any other
/// OAuth error end the flow ([`OAuthError::Rejected`]); a non-JSON error
/// answer is a failure of its status.
pub fn read_poll(what: &str, reply: &Reply) -> Result<Poll, OAuthError> {
    let v = reply.json();
    let code = v.get("error").and_then(Value::as_str).unwrap_or("").trim();
    match code {
        "authorization_pending" => return Ok(Poll::Pending),
        "slow_down" => return Ok(Poll::SlowDown),
        "" => {}
        _ => {
            return Err(OAuthError::Rejected {
                status: reply.status,
                code: super::error_code(&reply.body),
            })
        }
    }
    if !reply.ok() {
        return Err(super::failure(what, reply));
    }
    match token_set(&v) {
        Some(t) => Ok(Poll::Done(t, v)),
        None => Err(OAuthError::Transient(format!(
            "{what}: the answer has no access_token"
        ))),
    }
}

/// A readable sentence for a device-flow error code.
pub fn explain(e: &OAuthError) -> String {
    match e {
        OAuthError::Rejected { code, .. } if code == "expired_token" => {
            "the device code expired; start the login again".into()
        }
        OAuthError::Rejected { code, .. } if code == "access_denied" => {
            "the authorization was denied".into()
        }
        e => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status,
            body: body.as_bytes().to_vec(),
            headers: Vec::new(),
        }
    }

    #[test]
    fn device_answers() {
        let d = parse_start(&serde_json::json!({"device_code":"dc","user_code":"U-1",
            "verification_uri":"https://v","verification_uri_complete":"https://v?c=U-1",
            "expires_in":600,"interval":"2"}))
        .expect("start");
        assert_eq!(d.device_code.expose(), "dc");
        assert_eq!(d.url(), "https://v?c=U-1");
        assert_eq!(d.interval, Duration::from_secs(2));
        assert_eq!(d.expires_in, Some(Duration::from_secs(600)));
        let d =
            parse_start(&serde_json::json!({"device_code":"dc","verification_uri":"https://v"}))
                .expect("start");
        assert_eq!((d.url(), d.interval), ("https://v", DEFAULT_INTERVAL));
        assert!(parse_start(&serde_json::json!({"user_code":"x"})).is_none());
    }

    #[test]
    fn poll_answers_by_body_whatever_the_status() {
        for status in [200, 400] {
            assert!(matches!(
                read_poll("p", &reply(status, r#"{"error":"authorization_pending"}"#)),
                Ok(Poll::Pending)
            ));
            assert!(matches!(
                read_poll("p", &reply(status, r#"{"error":"slow_down"}"#)),
                Ok(Poll::SlowDown)
            ));
        }
        match read_poll("p", &reply(400, r#"{"error":"expired_token"}"#)) {
            Err(e @ OAuthError::Rejected { .. }) => assert!(explain(&e).contains("expired")),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            read_poll("p", &reply(200, r#"{"error":"access_denied"}"#)),
            Err(OAuthError::Rejected { .. })
        ));
        assert!(matches!(
            read_poll("p", &reply(503, "busy")),
            Err(OAuthError::Transient(_))
        ));
        assert!(matches!(
            read_poll("p", &reply(200, r#"{"token_type":"Bearer"}"#)),
            Err(OAuthError::Transient(_))
        ));
        match read_poll("p", &reply(200, r#"{"access_token":"a","expires_in":60}"#)) {
            Ok(Poll::Done(t, _)) => assert_eq!(t.expires_in, Some(60)),
            other => panic!("{other:?}"),
        }
    }
}
