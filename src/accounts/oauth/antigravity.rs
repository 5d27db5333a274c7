//! Antigravity's Google OAuth client and its Cloud Code Assist project
//! lookup (`loadCodeAssist`, then `onboardUser` when the account has no
//! project yet), as CLIProxyAPI v6.9's `internal/auth/antigravity` does them.
//!
//! The token endpoint and userinfo are Google's (shared with Gemini CLI);
//! only the client, its scopes and the project metadata differ.

use super::{token_call, OAuthError};
use crate::accounts::http::{call, form};
use crate::accounts::{Net, TokenSet};
use serde_json::{json, Value};
use std::time::Duration;

/// Authorization page.
pub const AUTH_URL: &str = "https://accounts.google.com/o/oauth2/v2/auth";
/// Token endpoint.
pub const TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
/// Antigravity's public OAuth client (an installed-app client: its secret
/// ships with the application and is not confidential).
pub const CLIENT_ID: &str =
    "1071006060591-tmhssin2h21lcre235vtolojh4g403ep.apps.googleusercontent.com";
/// The installed-app client secret.
pub const CLIENT_SECRET: &str = "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";
/// Scopes asked for.
pub const SCOPES: [&str; 5] = [
    "https://www.googleapis.com/auth/cloud-platform",
    "https://www.googleapis.com/auth/userinfo.email",
    "https://www.googleapis.com/auth/userinfo.profile",
    "https://www.googleapis.com/auth/cclog",
    "https://www.googleapis.com/auth/experimentsandconfigs",
];
/// Local callback port (`-oauth-callback-port` moves it, and the redirect
/// URI with it).
pub const CALLBACK_PORT: u16 = 51121;
/// Local callback path.
pub const CALLBACK_PATH: &str = "/oauth-callback";
/// Cloud Code Assist for the project lookup (production host).
pub const CODE_ASSIST_URL: &str = "https://cloudcode-pa.googleapis.com/v1internal";
/// `User-Agent` of the project lookup (Antigravity's Node API client).
pub const API_USER_AGENT: &str = "google-api-nodejs-client/9.15.1";
/// `X-Goog-Api-Client` of the project lookup.
pub const API_CLIENT: &str = "google-cloud-sdk vscode_cloudshelleditor/0.1";
/// `Client-Metadata` of the project lookup.
pub const CLIENT_METADATA: &str =
    r#"{"ideType":"IDE_UNSPECIFIED","platform":"PLATFORM_UNSPECIFIED","pluginType":"GEMINI"}"#;

/// `onboardUser` polls.
const ONBOARD_ATTEMPTS: u32 = 5;
/// Wait between `onboardUser` polls.
const ONBOARD_WAIT: Duration = Duration::from_secs(2);

const FORM: &str = "application/x-www-form-urlencoded";

/// `http://localhost:{port}/oauth-callback`.
pub fn redirect_uri(port: u16) -> String {
    format!("http://localhost:{port}{CALLBACK_PATH}")
}

/// The authorization URL (offline access, consent prompt, PKCE S256).
pub fn auth_url(redirect_uri: &str, state: &str, challenge: &str) -> String {
    let scopes = SCOPES.join(" ");
    super::url_with_query(
        AUTH_URL,
        &[
            ("access_type", "offline"),
            ("client_id", CLIENT_ID),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
            ("prompt", "consent"),
            ("redirect_uri", redirect_uri),
            ("response_type", "code"),
            ("scope", &scopes),
            ("state", state),
        ],
    )
}

/// The code-exchange form.
pub fn exchange_body(code: &str, redirect_uri: &str, verifier: &str) -> Vec<u8> {
    form(&[
        ("code", code),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
        ("redirect_uri", redirect_uri),
        ("grant_type", "authorization_code"),
        ("code_verifier", verifier),
    ])
    .into_bytes()
}

/// The refresh form.
pub fn refresh_body(refresh_token: &str) -> Vec<u8> {
    form(&[
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ])
    .into_bytes()
}

/// Exchanges an authorization `code` (PKCE `verifier`) for tokens.
pub fn exchange_code(
    net: &Net,
    code: &str,
    redirect_uri: &str,
    verifier: &str,
) -> Result<TokenSet, OAuthError> {
    let body = exchange_body(code, redirect_uri, verifier);
    Ok(token_call(net, "antigravity token exchange", TOKEN_URL, FORM, &body)?.0)
}

/// Refreshes with `refresh_token`.
pub fn refresh(net: &Net, refresh_token: &str) -> Result<TokenSet, OAuthError> {
    let body = refresh_body(refresh_token);
    Ok(token_call(net, "antigravity token refresh", TOKEN_URL, FORM, &body)?.0)
}

/// The metadata of Antigravity's project calls.
fn metadata() -> Value {
    json!({
        "ideType": "ANTIGRAVITY",
        "platform": "PLATFORM_UNSPECIFIED",
        "pluginType": "GEMINI",
    })
}

/// `POST {CODE_ASSIST_URL}:{method}`; the answer as JSON.
fn code_assist(
    net: &Net,
    access_token: &str,
    method: &str,
    body: &Value,
) -> Result<Value, OAuthError> {
    let url = format!("{CODE_ASSIST_URL}:{method}");
    let auth = format!("Bearer {access_token}");
    let reply = call(
        net,
        "POST",
        &url,
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
            ("User-Agent", API_USER_AGENT),
            ("X-Goog-Api-Client", API_CLIENT),
            ("Client-Metadata", CLIENT_METADATA),
        ],
        body.to_string().as_bytes(),
    )
    .map_err(|e| OAuthError::Transient(format!("{method}: {e}")))?;
    if !reply.ok() {
        return Err(super::failure(method, &reply));
    }
    match reply.json() {
        Value::Null => Err(OAuthError::Transient(format!(
            "{method}: the answer is not JSON"
        ))),
        v => Ok(v),
    }
}

#[allow(
    clippy::disallowed_methods,
    reason = "the lookup runs on the login CLI thread or the refresh engine's thread, never a worker"
)]
fn wait(d: Duration) {
    std::thread::sleep(d);
}

/// The account's Cloud Code Assist project: the one `loadCodeAssist` names,
/// else the one `onboardUser` (default tier, polled up to 5 times, 2 s
/// apart) assigns. Empty when onboarding never finished.
pub fn fetch_project(net: &Net, access_token: &str) -> Result<String, OAuthError> {
    let load = code_assist(
        net,
        access_token,
        "loadCodeAssist",
        &json!({ "metadata": metadata() }),
    )?;
    let project = super::gemini::project_of(load.get("cloudaicompanionProject"));
    if !project.is_empty() {
        return Ok(project);
    }
    let tier = super::gemini::default_tier(&load);
    let body = json!({ "tierId": tier, "metadata": metadata() });
    for attempt in 1..=ONBOARD_ATTEMPTS {
        let op = code_assist(net, access_token, "onboardUser", &body)?;
        match super::gemini::onboard_result(&op) {
            Some(p) if !p.is_empty() => return Ok(p),
            Some(_) => {
                return Err(OAuthError::Transient(
                    "onboardUser finished without a project".into(),
                ))
            }
            None if attempt < ONBOARD_ATTEMPTS => wait(ONBOARD_WAIT),
            None => {}
        }
    }
    Ok(String::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_forms() {
        let u = auth_url(&redirect_uri(51121), "st", "ch");
        assert!(u.starts_with("https://accounts.google.com/o/oauth2/v2/auth?access_type=offline&"));
        assert!(u.contains(&format!("client_id={CLIENT_ID}")));
        assert!(u.contains("redirect_uri=http%3A%2F%2Flocalhost%3A51121%2Foauth-callback"));
        assert!(u.contains("code_challenge=ch&code_challenge_method=S256"));
        assert!(u.contains("%2Fauth%2Fcclog%20"));
        assert!(u.ends_with("%2Fauth%2Fexperimentsandconfigs&state=st"));
        let b = String::from_utf8(refresh_body("1//r")).expect("utf8");
        assert_eq!(
            b,
            format!("client_id={CLIENT_ID}&client_secret={CLIENT_SECRET}&grant_type=refresh_token&refresh_token=1%2F%2Fr")
        );
        let b = String::from_utf8(exchange_body("4/c", &redirect_uri(9), "v")).expect("utf8");
        assert!(b.starts_with("code=4%2Fc&client_id="));
        assert!(b.ends_with(
            "&redirect_uri=http%3A%2F%2Flocalhost%3A9%2Foauth-callback&grant_type=authorization_code&code_verifier=v"
        ));
    }
}
