//! Qwen Code's OAuth client (CLIProxyAPI v6.9.25 `internal/auth/qwen`):
//! device flow with PKCE at `chat.qwen.ai` (form bodies) and refresh. The
//! token answers name the account's API host in `resource_url`.

use super::device::{self, DeviceStart, Poll};
use super::{put_extra, token_call, OAuthError};
use crate::accounts::http::{call, form};
use crate::accounts::{Net, TokenSet};
use crate::secret::Secret;

/// Qwen Code's public OAuth client.
pub const CLIENT_ID: &str = "f0304373b74a44d2b584a3fb70ca9e56";
/// Scopes asked for.
pub const SCOPE: &str = "openid profile email model.completion";
/// Device-code endpoint.
pub const DEVICE_URL: &str = "https://chat.qwen.ai/api/v1/oauth2/device/code";
/// Token endpoint (polls and refresh).
pub const TOKEN_URL: &str = "https://chat.qwen.ai/api/v1/oauth2/token";
/// Longest the login waits for the user (CLIProxyAPI: 60 polls of 5 s).
pub const MAX_WAIT: std::time::Duration = std::time::Duration::from_secs(5 * 60);

const FORM: &str = "application/x-www-form-urlencoded";

fn post(
    net: &Net,
    what: &str,
    url: &str,
    body: &[u8],
) -> Result<crate::accounts::http::Reply, OAuthError> {
    call(
        net,
        "POST",
        url,
        &[("Content-Type", FORM), ("Accept", "application/json")],
        body,
    )
    .map_err(|e| OAuthError::Transient(format!("{what}: {e}")))
}

/// The device-code form for PKCE `challenge`.
pub fn start_body(challenge: &str) -> String {
    form(&[
        ("client_id", CLIENT_ID),
        ("scope", SCOPE),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ])
}

/// Starts a device authorization with a fresh PKCE pair (32 random bytes,
/// base64url, as CLIProxyAPI makes Qwen's verifier).
pub fn start(net: &Net) -> Result<DeviceStart, OAuthError> {
    const WHAT: &str = "qwen device authorization";
    let mut raw = [0u8; 32];
    super::random_fill(&mut raw)?;
    let verifier = super::base64url(&raw);
    let body = start_body(&super::challenge_of(&verifier));
    let reply = post(net, WHAT, DEVICE_URL, body.as_bytes())?;
    if reply.status != 200 {
        return Err(super::failure(WHAT, &reply));
    }
    let mut d = device::parse_start(&reply.json())
        .ok_or_else(|| OAuthError::Transient(format!("{WHAT}: the answer has no device_code")))?;
    d.code_verifier = Some(Secret::new(verifier));
    Ok(d)
}

/// The poll form.
pub fn poll_body(device_code: &str, verifier: &str) -> String {
    form(&[
        ("grant_type", device::GRANT_TYPE),
        ("client_id", CLIENT_ID),
        ("device_code", device_code),
        ("code_verifier", verifier),
    ])
}

/// Polls the token endpoint once.
pub fn poll(net: &Net, d: &DeviceStart) -> Result<Poll, OAuthError> {
    const WHAT: &str = "qwen token poll";
    let verifier = d.code_verifier.as_ref().map_or("", Secret::expose);
    let body = poll_body(d.device_code.expose(), verifier);
    let reply = post(net, WHAT, TOKEN_URL, body.as_bytes())?;
    let mut p = device::read_poll(WHAT, &reply)?;
    if let Poll::Done(t, v) = &mut p {
        fill_extra(t, v);
    }
    Ok(p)
}

/// The refresh form.
pub fn refresh_body(refresh_token: &str) -> String {
    form(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
        ("client_id", CLIENT_ID),
    ])
}

/// Refreshes with `refresh_token`; a new `resource_url` goes to the file.
pub fn refresh(net: &Net, refresh_token: &str) -> Result<TokenSet, OAuthError> {
    let body = refresh_body(refresh_token);
    let (mut t, v) = token_call(net, "qwen token refresh", TOKEN_URL, FORM, body.as_bytes())?;
    fill_extra(&mut t, &v);
    Ok(t)
}

/// `resource_url` of an answer, stored in the file when given.
fn fill_extra(t: &mut TokenSet, v: &serde_json::Value) {
    let r = v
        .get("resource_url")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("");
    put_extra(t, "resource_url", r);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(
            start_body("ch"),
            format!("client_id={CLIENT_ID}&scope=openid%20profile%20email%20model.completion&code_challenge=ch&code_challenge_method=S256")
        );
        assert_eq!(
            poll_body("dc", "v"),
            format!("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&client_id={CLIENT_ID}&device_code=dc&code_verifier=v")
        );
        assert!(refresh_body("r").starts_with("grant_type=refresh_token&refresh_token=r&"));
    }
}
