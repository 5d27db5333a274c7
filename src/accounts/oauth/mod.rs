//! Each provider's OAuth endpoints: refresh, authorization-code exchange
//! (PKCE), the Codex device flow and Gemini's Cloud Code Assist onboarding.
//! Values (client ids, scopes, endpoints, encodings) are those of
//! CLIProxyAPI's v6.9 line, which uses the official CLIs' public clients.
//!
//! Every call here blocks (see [`super::http`]): the refresh engine and the
//! login flows call it off the worker threads.
//!
//! Errors never carry a token: an answer's body is reduced to its OAuth
//! `error` code (a short identifier) before it reaches a message.

pub mod antigravity;
pub mod claude;
pub mod codex;
pub mod device;
pub mod gemini;
pub mod iflow;
pub mod kimi;
pub mod qwen;

use super::http::Reply;
use super::{AccountKind, Net, TokenSet};
use crate::secret::Secret;
use serde_json::Value;

/// Why a token call failed.
#[derive(Debug, Clone)]
pub enum OAuthError {
    /// The server refused the grant (e.g. `invalid_grant`): retrying the
    /// same refresh token will not help.
    Rejected {
        /// HTTP status.
        status: u16,
        /// The OAuth `error` code when given (never a token).
        code: String,
    },
    /// Transport failure or an unexpected answer: try again later.
    Transient(String),
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OAuthError::Rejected { status, code } => write!(f, "refused ({status} {code})"),
            OAuthError::Transient(m) => write!(f, "{m}"),
        }
    }
}

/// Exchanges `refresh_token` for a new access token at `kind`'s token endpoint.
pub fn refresh(kind: AccountKind, net: &Net, refresh_token: &str) -> Result<TokenSet, OAuthError> {
    if refresh_token.trim().is_empty() {
        return Err(OAuthError::Rejected {
            status: 0,
            code: "missing_refresh_token".into(),
        });
    }
    match kind {
        AccountKind::Claude => claude::refresh(net, refresh_token),
        AccountKind::Codex => codex::refresh(net, refresh_token),
        AccountKind::Gemini => gemini::refresh(net, refresh_token),
        // Minted from the service-account key (`vertex::ServiceAccount::mint`).
        AccountKind::Vertex => Err(OAuthError::Rejected {
            status: 0,
            code: "service_account_has_no_refresh_token".into(),
        }),
        AccountKind::Kimi => kimi::refresh(net, refresh_token, ""),
        AccountKind::Qwen => qwen::refresh(net, refresh_token),
        AccountKind::IFlow => iflow::refresh(net, refresh_token),
        AccountKind::Antigravity => antigravity::refresh(net, refresh_token),
    }
}

/// Renews `a`'s credential as its kind does: Kimi presents the file's
/// device id; an iFlow file with a `cookie` and a key name (`email`)
/// renews its API key with the cookie (CLIProxyAPI tries that first);
/// everything else refreshes its refresh token.
pub fn refresh_account(a: &super::Account, net: &Net) -> Result<TokenSet, OAuthError> {
    let rt = a.refresh_token();
    match a.kind {
        AccountKind::IFlow if !a.chat.cookie.is_empty() && !a.email.trim().is_empty() => {
            iflow::refresh_cookie(net, a.chat.cookie.expose(), a.email.trim())
        }
        AccountKind::Kimi if !rt.is_empty() => {
            kimi::refresh(net, rt.expose(), super::wire::kimi::device_id(a))
        }
        kind => refresh(kind, net, rt.expose()),
    }
}

/// A PKCE pair (RFC 7636, method `S256`).
#[derive(Debug, Clone)]
pub struct Pkce {
    /// The secret verifier sent with the code exchange.
    pub verifier: Secret,
    /// `BASE64URL(SHA-256(verifier))`, sent in the authorization URL.
    pub challenge: String,
}

impl Pkce {
    /// A fresh pair: 96 random bytes, base64url (128 characters), as
    /// CLIProxyAPI makes them.
    pub fn generate() -> Result<Pkce, OAuthError> {
        let mut raw = [0u8; 96];
        random_fill(&mut raw)?;
        let verifier = base64url(&raw);
        let challenge = challenge_of(&verifier);
        Ok(Pkce {
            verifier: Secret::new(verifier),
            challenge,
        })
    }
}

/// The S256 challenge of `verifier`.
pub fn challenge_of(verifier: &str) -> String {
    use sha2::{Digest, Sha256};
    base64url(&Sha256::digest(verifier.as_bytes()))
}

/// A random `state` value: 16 random bytes in hex.
pub fn random_state() -> Result<String, OAuthError> {
    let mut raw = [0u8; 16];
    random_fill(&mut raw)?;
    Ok(raw.iter().map(|b| format!("{b:02x}")).collect())
}

fn random_fill(buf: &mut [u8]) -> Result<(), OAuthError> {
    rustls::crypto::ring::default_provider()
        .secure_random
        .fill(buf)
        .map_err(|_| OAuthError::Transient("no system randomness".into()))
}

/// Base64url without padding.
pub fn base64url(src: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(src.len().div_ceil(3) * 4);
    for ch in src.chunks(3) {
        let n = ch
            .iter()
            .enumerate()
            .fold(0u32, |a, (i, &x)| a | u32::from(x) << (16 - 8 * i));
        for i in 0..=ch.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// `base?k=v&...` with every value percent-encoded.
pub fn url_with_query(base: &str, pairs: &[(&str, &str)]) -> String {
    format!("{base}?{}", super::http::form(pairs))
}

/// A short, log-safe identifier: the OAuth `error` code of an answer body
/// (`{"error":"invalid_grant"}`, `{"error":{"type":"..."}}` or
/// `{"error":{"code":"..."}}`). Only a value of at most 40 characters of
/// `[A-Za-z0-9_.-]` is kept (error codes are short identifiers; a token is
/// longer), anything else reads as `unrecognized`; empty when there is none.
pub fn error_code(body: &[u8]) -> String {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let raw = match v.get("error") {
        Some(Value::String(s)) => s.as_str(),
        Some(Value::Object(o)) => o
            .get("type")
            .or_else(|| o.get("code"))
            .or_else(|| o.get("status"))
            .and_then(Value::as_str)
            .unwrap_or(""),
        _ => "",
    };
    let safe = raw.len() <= 40
        && raw
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'));
    if safe {
        raw.to_string()
    } else {
        "unrecognized".to_string()
    }
}

/// The failure of a non-2xx answer from `what`: 400 and 401 are refusals
/// (the grant, code or client is not accepted; retrying will not help),
/// anything else is transient.
pub fn failure(what: &str, reply: &Reply) -> OAuthError {
    let code = error_code(&reply.body);
    match reply.status {
        400 | 401 => OAuthError::Rejected {
            status: reply.status,
            code,
        },
        s if code.is_empty() => OAuthError::Transient(format!("{what}: status {s}")),
        s => OAuthError::Transient(format!("{what}: status {s} ({code})")),
    }
}

/// Sends a token-endpoint request and reads its answer as a [`TokenSet`]
/// (`extra` left empty for the kind to fill).
pub fn token_call(
    net: &Net,
    what: &str,
    url: &str,
    content_type: &str,
    body: &[u8],
) -> Result<(TokenSet, Value), OAuthError> {
    let reply = super::http::call(
        net,
        "POST",
        url,
        &[
            ("Content-Type", content_type),
            ("Accept", "application/json"),
        ],
        body,
    )
    .map_err(|e| OAuthError::Transient(format!("{what}: {e}")))?;
    if !reply.ok() {
        return Err(failure(what, &reply));
    }
    let v = reply.json();
    let t = token_set(&v)
        .ok_or_else(|| OAuthError::Transient(format!("{what}: the answer has no access_token")))?;
    Ok((t, v))
}

/// The token fields of a token-endpoint answer; `None` without a non-empty
/// `access_token`.
pub fn token_set(v: &Value) -> Option<TokenSet> {
    let s = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    let access = s("access_token")?;
    let expires_in = match v.get("expires_in") {
        Some(Value::Number(n)) => n.as_u64().or_else(|| n.as_f64().map(|f| f.max(0.0) as u64)),
        Some(Value::String(t)) => t.trim().parse().ok(),
        _ => None,
    };
    Some(TokenSet {
        access_token: Secret::new(access),
        refresh_token: s("refresh_token").map(Secret::new),
        id_token: s("id_token").map(Secret::new),
        expires_in,
        extra: serde_json::Map::new(),
        api_key: None,
    })
}

/// Puts `v` under `k` in `extra` when it is not empty.
fn put_extra(t: &mut TokenSet, k: &str, v: &str) {
    let v = v.trim();
    if !v.is_empty() {
        t.extra.insert(k.to_string(), Value::String(v.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_challenge_is_s256() {
        // Python: base64.urlsafe_b64encode(hashlib.sha256(v).digest()), unpadded.
        assert_eq!(
            challenge_of("dBjftJeZ4CVP-mJ92IJ2zH6WEn1Zk3fRFqtYsnX1gyo"),
            "XNt3caidj_n6IGAYtm7fkjxAML6JpTxTwI0vSxOIG5M"
        );
        let p = Pkce::generate().expect("random");
        assert_eq!(p.verifier.expose().len(), 128);
        assert_eq!(p.challenge, challenge_of(p.verifier.expose()));
        let q = Pkce::generate().expect("random");
        assert_ne!(p.verifier.expose(), q.verifier.expose());
        let s = random_state().expect("random");
        assert_eq!(s.len(), 32);
        assert!(s.bytes().all(|b| b.is_ascii_hexdigit()));
    }

    #[test]
    fn base64url_round_trips_through_the_file_decoder() {
        for n in 0..40u8 {
            let src: Vec<u8> = (0..n)
                .map(|i| i.wrapping_mul(37).wrapping_add(250))
                .collect();
            let enc = base64url(&src);
            assert!(!enc.contains(['=', '+', '/']));
            assert_eq!(super::super::codec::base64url_decode(&enc), Some(src));
        }
    }

    #[test]
    fn refusals_and_transient_failures() {
        let r = |status, body: &str| Reply {
            status,
            body: body.as_bytes().to_vec(),
            headers: Vec::new(),
        };
        match failure(
            "t",
            &r(400, r#"{"error":"invalid_grant","error_description":"x"}"#),
        ) {
            OAuthError::Rejected { status, code } => {
                assert_eq!((status, code.as_str()), (400, "invalid_grant"))
            }
            e => panic!("{e:?}"),
        }
        match failure("t", &r(401, r#"{"error":{"type":"authentication_error"}}"#)) {
            OAuthError::Rejected { code, .. } => assert_eq!(code, "authentication_error"),
            e => panic!("{e:?}"),
        }
        assert!(matches!(
            failure("t", &r(503, "busy")),
            OAuthError::Transient(_)
        ));
        assert!(matches!(
            failure("t", &r(429, r#"{"error":"slow_down"}"#)),
            OAuthError::Transient(_)
        ));
        // A token echoed in an error body never reaches the code.
        for leak in ["sk-ant-ort01-Abcdefghijklmnopqrstuvwxyz0123456789", "a b"] {
            let body = serde_json::json!({ "error": leak }).to_string();
            let e = failure("t", &r(400, &body));
            assert!(!e.to_string().contains(leak), "{e}");
            assert!(e.to_string().contains("unrecognized"), "{e}");
        }
    }

    #[test]
    fn token_answers() {
        let v: Value = serde_json::from_str(
            r#"{"access_token":"a","refresh_token":"r","id_token":"i","expires_in":"3600"}"#,
        )
        .expect("json");
        let t = token_set(&v).expect("tokens");
        assert_eq!(t.access_token.expose(), "a");
        assert_eq!(t.refresh_token.as_ref().map(Secret::expose), Some("r"));
        assert_eq!(t.id_token.as_ref().map(Secret::expose), Some("i"));
        assert_eq!(t.expires_in, Some(3600));
        let v: Value =
            serde_json::from_str(r#"{"access_token":"a","refresh_token":""}"#).expect("json");
        let t = token_set(&v).expect("tokens");
        assert!(t.refresh_token.is_none() && t.expires_in.is_none());
        assert!(token_set(&serde_json::json!({"access_token": ""})).is_none());
        assert!(token_set(&Value::Null).is_none());
    }
}
