//! Codex's OAuth client (OpenAI): PKCE at `auth.openai.com` (form bodies),
//! and the device flow (`/api/accounts/deviceauth/*`, JSON bodies) whose
//! result is an authorization code exchanged like the browser one.

use super::{put_extra, token_call, OAuthError};
use crate::accounts::codec::jwt_claims;
use crate::accounts::http::{call, form};
use crate::accounts::{Net, TokenSet};
use crate::secret::Secret;
use serde_json::{json, Value};
use std::time::Duration;

/// Authorization page.
pub const AUTH_URL: &str = "https://auth.openai.com/oauth/authorize";
/// Token endpoint (code exchange and refresh).
pub const TOKEN_URL: &str = "https://auth.openai.com/oauth/token";
/// Codex CLI's public OAuth client.
pub const CLIENT_ID: &str = "app_EMoamEEZ73f0CkXaXp7hrann";
/// Local callback port.
pub const CALLBACK_PORT: u16 = 1455;
/// Local callback path.
pub const CALLBACK_PATH: &str = "/auth/callback";
/// The registered redirect URI (fixed, like Claude's).
pub const REDIRECT_URI: &str = "http://localhost:1455/auth/callback";
/// Scopes asked for at authorization.
pub const SCOPES: &str = "openid email profile offline_access";
/// Scopes sent with a refresh.
pub const REFRESH_SCOPES: &str = "openid profile email";
/// Device flow: asks for a user code.
pub const DEVICE_USERCODE_URL: &str = "https://auth.openai.com/api/accounts/deviceauth/usercode";
/// Device flow: polled until the user approved.
pub const DEVICE_TOKEN_URL: &str = "https://auth.openai.com/api/accounts/deviceauth/token";
/// Device flow: where the user enters the code.
pub const DEVICE_VERIFY_URL: &str = "https://auth.openai.com/codex/device";
/// Device flow: the redirect URI of its code exchange.
pub const DEVICE_REDIRECT_URI: &str = "https://auth.openai.com/deviceauth/callback";
/// Device flow: how long the user has.
pub const DEVICE_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// Device flow: poll interval when the server names none.
pub const DEVICE_DEFAULT_INTERVAL: Duration = Duration::from_secs(5);

/// The authorization URL for `state` and a PKCE `challenge`.
pub fn auth_url(state: &str, challenge: &str) -> String {
    super::url_with_query(
        AUTH_URL,
        &[
            ("client_id", CLIENT_ID),
            ("response_type", "code"),
            ("redirect_uri", REDIRECT_URI),
            ("scope", SCOPES),
            ("state", state),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
            ("prompt", "login"),
            ("id_token_add_organizations", "true"),
            ("codex_cli_simplified_flow", "true"),
        ],
    )
}

/// The code-exchange form.
pub fn exchange_body(code: &str, redirect_uri: &str, verifier: &str) -> Vec<u8> {
    form(&[
        ("grant_type", "authorization_code"),
        ("client_id", CLIENT_ID),
        ("code", code),
        ("redirect_uri", redirect_uri.trim()),
        ("code_verifier", verifier),
    ])
    .into_bytes()
}

/// The refresh form.
pub fn refresh_body(refresh_token: &str) -> Vec<u8> {
    form(&[
        ("client_id", CLIENT_ID),
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
        ("scope", REFRESH_SCOPES),
    ])
    .into_bytes()
}

const FORM: &str = "application/x-www-form-urlencoded";

/// Exchanges an authorization `code` (PKCE `verifier`) for tokens;
/// `redirect_uri` is [`REDIRECT_URI`] for the browser flow and
/// [`DEVICE_REDIRECT_URI`] for the device flow.
pub fn exchange_code(
    net: &Net,
    code: &str,
    redirect_uri: &str,
    verifier: &str,
) -> Result<TokenSet, OAuthError> {
    let body = exchange_body(code, redirect_uri, verifier);
    let (mut t, _) = token_call(net, "codex token exchange", TOKEN_URL, FORM, &body)?;
    fill_extra(&mut t);
    Ok(t)
}

/// Refreshes with `refresh_token`.
pub fn refresh(net: &Net, refresh_token: &str) -> Result<TokenSet, OAuthError> {
    let body = refresh_body(refresh_token);
    let (mut t, _) = token_call(net, "codex token refresh", TOKEN_URL, FORM, &body)?;
    fill_extra(&mut t);
    Ok(t)
}

/// What the id token says about the account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdClaims {
    /// `email`.
    pub email: String,
    /// `https://api.openai.com/auth` → `chatgpt_account_id`.
    pub account_id: String,
    /// `https://api.openai.com/auth` → `chatgpt_plan_type`, as given.
    pub plan: String,
}

/// Reads the claims of a Codex id token (empty fields when it is not one).
pub fn id_claims(id_token: &str) -> IdClaims {
    let Some(c) = jwt_claims(id_token) else {
        return IdClaims::default();
    };
    let auth = c.get("https://api.openai.com/auth");
    let s = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").trim().to_string();
    IdClaims {
        email: s(c.get("email")),
        account_id: s(auth.and_then(|a| a.get("chatgpt_account_id"))),
        plan: s(auth.and_then(|a| a.get("chatgpt_plan_type"))),
    }
}

/// `email` and `account_id` from the answer's id token.
fn fill_extra(t: &mut TokenSet) {
    let c = id_claims(t.id_token.as_ref().map(Secret::expose).unwrap_or(""));
    put_extra(t, "email", &c.email);
    put_extra(t, "account_id", &c.account_id);
}

/// A device-flow user code.
#[derive(Debug, Clone)]
pub struct DeviceCode {
    /// Server-side id of this authorization.
    pub device_auth_id: String,
    /// The code the user types at [`DEVICE_VERIFY_URL`].
    pub user_code: String,
    /// Poll interval.
    pub interval: Duration,
}

/// What a device flow ends with: an authorization code and the PKCE pair
/// the server made for it.
#[derive(Debug, Clone)]
pub struct DeviceGrant {
    /// The authorization code.
    pub code: Secret,
    /// Its PKCE verifier.
    pub verifier: Secret,
    /// Its PKCE challenge.
    pub challenge: String,
}

fn post_json(net: &Net, what: &str, url: &str, body: &Value) -> Result<super::Reply, OAuthError> {
    call(
        net,
        "POST",
        url,
        &[
            ("Content-Type", "application/json"),
            ("Accept", "application/json"),
        ],
        body.to_string().as_bytes(),
    )
    .map_err(|e| OAuthError::Transient(format!("{what}: {e}")))
}

/// Asks for a user code.
pub fn device_user_code(net: &Net) -> Result<DeviceCode, OAuthError> {
    const WHAT: &str = "codex device code request";
    let reply = post_json(
        net,
        WHAT,
        DEVICE_USERCODE_URL,
        &json!({ "client_id": CLIENT_ID }),
    )?;
    if reply.status == 404 {
        return Err(OAuthError::Transient(format!(
            "{WHAT}: the device endpoint is unavailable (status 404)"
        )));
    }
    if !reply.ok() {
        return Err(super::failure(WHAT, &reply));
    }
    parse_user_code(&reply.json())
        .ok_or_else(|| OAuthError::Transient(format!("{WHAT}: the answer lacks the code")))
}

/// Reads a user-code answer: `device_auth_id`, `user_code` (or `usercode`)
/// and `interval` (seconds, number or string; 5 when absent or invalid).
pub fn parse_user_code(v: &Value) -> Option<DeviceCode> {
    let s = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .map(str::trim)
            .unwrap_or("")
    };
    let user_code = match s("user_code") {
        "" => s("usercode"),
        c => c,
    };
    let id = s("device_auth_id");
    if user_code.is_empty() || id.is_empty() {
        return None;
    }
    let secs = match v.get("interval") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(t)) => t.trim().parse().ok(),
        _ => None,
    }
    .filter(|s| *s > 0);
    Some(DeviceCode {
        device_auth_id: id.to_string(),
        user_code: user_code.to_string(),
        interval: secs.map_or(DEVICE_DEFAULT_INTERVAL, Duration::from_secs),
    })
}

/// Polls once: `Ok(None)` while the user has not approved yet (403/404).
pub fn device_poll(net: &Net, dc: &DeviceCode) -> Result<Option<DeviceGrant>, OAuthError> {
    const WHAT: &str = "codex device token poll";
    let body = json!({ "device_auth_id": dc.device_auth_id, "user_code": dc.user_code });
    let reply = post_json(net, WHAT, DEVICE_TOKEN_URL, &body)?;
    match reply.status {
        403 | 404 => Ok(None),
        _ if reply.ok() => {
            let v = reply.json();
            let s = |k: &str| {
                v.get(k)
                    .and_then(Value::as_str)
                    .map(str::trim)
                    .unwrap_or("")
            };
            let (code, verifier, challenge) = (
                s("authorization_code"),
                s("code_verifier"),
                s("code_challenge"),
            );
            if code.is_empty() || verifier.is_empty() || challenge.is_empty() {
                return Err(OAuthError::Transient(format!(
                    "{WHAT}: the answer lacks the authorization code or its PKCE pair"
                )));
            }
            Ok(Some(DeviceGrant {
                code: Secret::new(code),
                verifier: Secret::new(verifier),
                challenge: challenge.to_string(),
            }))
        }
        _ => Err(super::failure(WHAT, &reply)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_form(body: &[u8]) -> Vec<(String, String)> {
        body.split(|&b| b == b'&')
            .map(|kv| {
                let i = kv.iter().position(|&b| b == b'=').unwrap_or(kv.len());
                let mut v = Vec::new();
                crate::h1::query::percent_decode(kv.get(i + 1..).unwrap_or(&[]), &mut v);
                (
                    String::from_utf8_lossy(&kv[..i]).into_owned(),
                    String::from_utf8(v).unwrap_or_default(),
                )
            })
            .collect()
    }

    #[test]
    fn forms_for_exchange_and_refresh() {
        let f = decode_form(&exchange_body("c/d+e", DEVICE_REDIRECT_URI, "v"));
        let want = [
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT_ID),
            ("code", "c/d+e"),
            ("redirect_uri", DEVICE_REDIRECT_URI),
            ("code_verifier", "v"),
        ];
        assert_eq!(
            f,
            want.map(|(k, v)| (k.to_string(), v.to_string())).to_vec()
        );
        let f = decode_form(&refresh_body("rt&x=1"));
        assert!(f.contains(&("refresh_token".into(), "rt&x=1".into())));
        assert!(f.contains(&("scope".into(), "openid profile email".into())));
        assert!(f.contains(&("grant_type".into(), "refresh_token".into())));
        let u = auth_url("s", "c");
        assert!(u.starts_with(
            "https://auth.openai.com/oauth/authorize?client_id=app_EMoamEEZ73f0CkXaXp7hrann&"
        ));
        assert!(u.contains("redirect_uri=http%3A%2F%2Flocalhost%3A1455%2Fauth%2Fcallback"));
        assert!(u.contains("code_challenge_method=S256"));
        assert!(u.contains("codex_cli_simplified_flow=true"));
    }

    #[test]
    fn claims_fill_email_and_account() {
        let payload = json!({"email":"c@d.e","https://api.openai.com/auth":
            {"chatgpt_account_id":"acc-9","chatgpt_plan_type":"Team"}});
        let jwt = format!(
            "h.{}.s",
            super::super::base64url(payload.to_string().as_bytes())
        );
        let c = id_claims(&jwt);
        assert_eq!(
            c,
            IdClaims {
                email: "c@d.e".into(),
                account_id: "acc-9".into(),
                plan: "Team".into()
            }
        );
        let mut t = TokenSet {
            id_token: Some(Secret::new(jwt)),
            ..TokenSet::default()
        };
        fill_extra(&mut t);
        assert_eq!(t.extra["email"], "c@d.e");
        assert_eq!(t.extra["account_id"], "acc-9");
        assert_eq!(id_claims("not a jwt"), IdClaims::default());
    }

    #[test]
    fn user_code_answers() {
        let d = parse_user_code(&json!({"device_auth_id":"d1","usercode":"AB-CD","interval":"3"}))
            .expect("code");
        assert_eq!(
            (d.device_auth_id.as_str(), d.user_code.as_str()),
            ("d1", "AB-CD")
        );
        assert_eq!(d.interval, Duration::from_secs(3));
        let d = parse_user_code(&json!({"device_auth_id":"d1","user_code":"X","interval":0}))
            .expect("code");
        assert_eq!(d.interval, DEVICE_DEFAULT_INTERVAL);
        assert!(parse_user_code(&json!({"user_code":"X"})).is_none());
        assert!(parse_user_code(&json!({"device_auth_id":"d"})).is_none());
    }
}
