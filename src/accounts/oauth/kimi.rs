//! Kimi Code's OAuth client (CLIProxyAPI v6.9.25 `internal/auth/kimi`):
//! RFC 8628 device flow and refresh at `auth.kimi.com`, form bodies, every
//! call carrying the `X-Msh-*` device headers of the login's device id.

use super::device::{self, DeviceStart, Poll};
use super::{put_extra, OAuthError};
use crate::accounts::http::{call, form};
use crate::accounts::{Net, TokenSet};

/// Kimi Code's public OAuth client.
pub const CLIENT_ID: &str = "17e5f671-d194-4dfb-9706-5516cb48c098";
/// Device authorization endpoint.
pub const DEVICE_URL: &str = "https://auth.kimi.com/api/oauth/device_authorization";
/// Token endpoint (polls and refresh).
pub const TOKEN_URL: &str = "https://auth.kimi.com/api/oauth/token";
/// `X-Msh-Platform` of the OAuth calls.
pub const OAUTH_PLATFORM: &str = "cli-proxy-api";
/// `X-Msh-Version` of the OAuth calls.
pub const OAUTH_VERSION: &str = "1.0.0";
/// Longest the login waits for the user.
pub const MAX_WAIT: std::time::Duration = std::time::Duration::from_secs(15 * 60);

const FORM: &str = "application/x-www-form-urlencoded";

/// `X-Msh-Device-Model` of the OAuth calls (`Linux amd64`, `macOS arm64`).
pub fn oauth_device_model() -> String {
    let (os, arch) = crate::accounts::wire::kimi::go_platform();
    let os = match os {
        "macos" | "darwin" => "macOS",
        "windows" => "Windows",
        "linux" => "Linux",
        other => other,
    };
    format!("{os} {arch}")
}

/// The headers of an OAuth call for `device_id`.
fn headers(device_id: &str) -> Vec<(&'static str, String)> {
    vec![
        ("Content-Type", FORM.to_string()),
        ("Accept", "application/json".to_string()),
        ("X-Msh-Platform", OAUTH_PLATFORM.to_string()),
        ("X-Msh-Version", OAUTH_VERSION.to_string()),
        (
            "X-Msh-Device-Name",
            crate::accounts::wire::kimi::hostname().to_string(),
        ),
        ("X-Msh-Device-Model", oauth_device_model()),
        ("X-Msh-Device-Id", device_id.to_string()),
    ]
}

fn post(
    net: &Net,
    what: &str,
    url: &str,
    device_id: &str,
    body: &[u8],
) -> Result<crate::accounts::http::Reply, OAuthError> {
    let hs = headers(device_id);
    let hs: Vec<(&str, &str)> = hs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    call(net, "POST", url, &hs, body).map_err(|e| OAuthError::Transient(format!("{what}: {e}")))
}

/// Starts a device authorization for `device_id`.
pub fn start(net: &Net, device_id: &str) -> Result<DeviceStart, OAuthError> {
    const WHAT: &str = "kimi device authorization";
    let body = form(&[("client_id", CLIENT_ID)]);
    let reply = post(net, WHAT, DEVICE_URL, device_id, body.as_bytes())?;
    if reply.status != 200 {
        return Err(super::failure(WHAT, &reply));
    }
    device::parse_start(&reply.json())
        .ok_or_else(|| OAuthError::Transient(format!("{WHAT}: the answer has no device_code")))
}

/// The poll form.
pub fn poll_body(device_code: &str) -> String {
    form(&[
        ("client_id", CLIENT_ID),
        ("device_code", device_code),
        ("grant_type", device::GRANT_TYPE),
    ])
}

/// Polls the token endpoint once.
pub fn poll(net: &Net, d: &DeviceStart, device_id: &str) -> Result<Poll, OAuthError> {
    const WHAT: &str = "kimi token poll";
    let body = poll_body(d.device_code.expose());
    let reply = post(net, WHAT, TOKEN_URL, device_id, body.as_bytes())?;
    let mut p = device::read_poll(WHAT, &reply)?;
    if let Poll::Done(t, v) = &mut p {
        fill_extra(t, v);
    }
    Ok(p)
}

/// The refresh form.
pub fn refresh_body(refresh_token: &str) -> String {
    form(&[
        ("client_id", CLIENT_ID),
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ])
}

/// Refreshes with `refresh_token`, presenting `device_id` (the file's).
pub fn refresh(net: &Net, refresh_token: &str, device_id: &str) -> Result<TokenSet, OAuthError> {
    const WHAT: &str = "kimi token refresh";
    let body = refresh_body(refresh_token);
    let reply = post(net, WHAT, TOKEN_URL, device_id, body.as_bytes())?;
    if matches!(reply.status, 401 | 403) {
        // CLIProxyAPI: "refresh token rejected".
        return Err(OAuthError::Rejected {
            status: reply.status,
            code: super::error_code(&reply.body),
        });
    }
    if !reply.ok() {
        return Err(super::failure(WHAT, &reply));
    }
    let v = reply.json();
    let mut t = super::token_set(&v)
        .ok_or_else(|| OAuthError::Transient(format!("{WHAT}: the answer has no access_token")))?;
    fill_extra(&mut t, &v);
    Ok(t)
}

/// `token_type` and `scope` of an answer, stored in the file.
fn fill_extra(t: &mut TokenSet, v: &serde_json::Value) {
    for k in ["token_type", "scope"] {
        put_extra(
            t,
            k,
            v.get(k).and_then(serde_json::Value::as_str).unwrap_or(""),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(
            poll_body("d c"),
            format!(
                "client_id={CLIENT_ID}&device_code=d%20c&grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code"
            )
        );
        assert_eq!(
            refresh_body("r/t"),
            format!("client_id={CLIENT_ID}&grant_type=refresh_token&refresh_token=r%2Ft")
        );
        let m = oauth_device_model();
        assert!(m.contains(' ') && !m.starts_with(' '), "{m}");
    }
}
