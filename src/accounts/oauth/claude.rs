//! Claude Code's OAuth client (Anthropic): authorization at `claude.ai`,
//! tokens at `api.anthropic.com` (JSON bodies, not forms).

use super::{put_extra, token_call, OAuthError};
use crate::accounts::{Net, TokenSet};
use serde_json::{json, Value};

/// Authorization page.
pub const AUTH_URL: &str = "https://claude.ai/oauth/authorize";
/// Token endpoint (code exchange and refresh).
pub const TOKEN_URL: &str = "https://api.anthropic.com/v1/oauth/token";
/// Claude Code's public OAuth client.
pub const CLIENT_ID: &str = "9d1c250a-e61b-44d9-88ed-5944d1962f5e";
/// Local callback port.
pub const CALLBACK_PORT: u16 = 54545;
/// Local callback path.
pub const CALLBACK_PATH: &str = "/callback";
/// The registered redirect URI (fixed: the callback port may be moved with
/// `-oauth-callback-port`, e.g. behind an SSH tunnel, the URI does not).
pub const REDIRECT_URI: &str = "http://localhost:54545/callback";
/// Scopes asked for.
pub const SCOPES: &str =
    "user:profile user:inference user:sessions:claude_code user:mcp_servers user:file_upload";

/// The authorization URL for `state` and a PKCE `challenge`.
pub fn auth_url(state: &str, challenge: &str) -> String {
    super::url_with_query(
        AUTH_URL,
        &[
            ("code", "true"),
            ("client_id", CLIENT_ID),
            ("response_type", "code"),
            ("redirect_uri", REDIRECT_URI),
            ("scope", SCOPES),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
            ("state", state),
        ],
    )
}

/// The code-exchange body. Claude's callback code may carry the state
/// after a `#` (`code#state`); the state sent is that one when present.
pub fn exchange_body(code: &str, state: &str, verifier: &str) -> Vec<u8> {
    let (code, state) = match code.split_once('#') {
        Some((c, s)) if !s.is_empty() => (c, s),
        Some((c, _)) => (c, state),
        None => (code, state),
    };
    json!({
        "code": code,
        "state": state,
        "grant_type": "authorization_code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
    })
    .to_string()
    .into_bytes()
}

/// The refresh body.
pub fn refresh_body(refresh_token: &str) -> Vec<u8> {
    json!({
        "client_id": CLIENT_ID,
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
    })
    .to_string()
    .into_bytes()
}

/// Exchanges an authorization `code` (PKCE `verifier`) for tokens.
pub fn exchange_code(
    net: &Net,
    code: &str,
    state: &str,
    verifier: &str,
) -> Result<TokenSet, OAuthError> {
    let body = exchange_body(code, state, verifier);
    let (mut t, v) = token_call(
        net,
        "claude token exchange",
        TOKEN_URL,
        "application/json",
        &body,
    )?;
    fill_extra(&mut t, &v);
    Ok(t)
}

/// Refreshes with `refresh_token`.
pub fn refresh(net: &Net, refresh_token: &str) -> Result<TokenSet, OAuthError> {
    let body = refresh_body(refresh_token);
    let (mut t, v) = token_call(
        net,
        "claude token refresh",
        TOKEN_URL,
        "application/json",
        &body,
    )?;
    fill_extra(&mut t, &v);
    Ok(t)
}

/// The account and organization of a token answer, in the file's field
/// names: `email`, `account_uuid`, `organization_uuid`, `organization_name`.
pub fn fill_extra(t: &mut TokenSet, v: &Value) {
    let at = |a: &str, b: &str| {
        v.get(a)
            .and_then(|o| o.get(b))
            .and_then(Value::as_str)
            .unwrap_or("")
    };
    put_extra(t, "email", at("account", "email_address"));
    put_extra(t, "account_uuid", at("account", "uuid"));
    put_extra(t, "organization_uuid", at("organization", "uuid"));
    put_extra(t, "organization_name", at("organization", "name"));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query_of(url: &str) -> Vec<(String, String)> {
        let q = url.split_once('?').map(|x| x.1).unwrap_or("");
        q.split('&')
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                let mut out = Vec::new();
                crate::h1::query::percent_decode(v.as_bytes(), &mut out);
                (k.to_string(), String::from_utf8(out).unwrap_or_default())
            })
            .collect()
    }

    #[test]
    fn authorization_url_carries_the_client_and_pkce() {
        let u = auth_url("st4te", "ch-all_enge");
        assert!(u.starts_with("https://claude.ai/oauth/authorize?"));
        let q = query_of(&u);
        let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("client_id"), Some(CLIENT_ID));
        assert_eq!(get("redirect_uri"), Some("http://localhost:54545/callback"));
        assert_eq!(get("code_challenge"), Some("ch-all_enge"));
        assert_eq!(get("code_challenge_method"), Some("S256"));
        assert_eq!(get("state"), Some("st4te"));
        assert_eq!(get("response_type"), Some("code"));
        assert_eq!(get("code"), Some("true"));
        assert_eq!(get("scope"), Some(SCOPES));
    }

    #[test]
    fn exchange_body_is_json_and_takes_the_state_after_a_hash() {
        let v: Value = serde_json::from_slice(&exchange_body("abc#s2", "s1", "ver")).expect("json");
        assert_eq!(v["code"], "abc");
        assert_eq!(v["state"], "s2");
        assert_eq!(v["grant_type"], "authorization_code");
        assert_eq!(v["client_id"], CLIENT_ID);
        assert_eq!(v["redirect_uri"], REDIRECT_URI);
        assert_eq!(v["code_verifier"], "ver");
        let v: Value = serde_json::from_slice(&exchange_body("abc", "s1", "ver")).expect("json");
        assert_eq!(
            (v["code"].as_str(), v["state"].as_str()),
            (Some("abc"), Some("s1"))
        );
        let v: Value = serde_json::from_slice(&refresh_body("r\"t")).expect("json");
        assert_eq!(v["refresh_token"], "r\"t");
        assert_eq!(v["grant_type"], "refresh_token");
        assert_eq!(v["client_id"], CLIENT_ID);
    }

    #[test]
    fn account_and_organization_from_the_answer() {
        let v: Value = serde_json::from_str(
            r#"{"access_token":"a","refresh_token":"r","expires_in":28800,
               "account":{"uuid":"acc-u","email_address":"me@x.io"},
               "organization":{"uuid":"org-u","name":"Org"}}"#,
        )
        .expect("json");
        let mut t = super::super::token_set(&v).expect("tokens");
        fill_extra(&mut t, &v);
        assert_eq!(t.extra["email"], "me@x.io");
        assert_eq!(t.extra["account_uuid"], "acc-u");
        assert_eq!(t.extra["organization_uuid"], "org-u");
        assert_eq!(t.extra["organization_name"], "Org");
        let mut t = super::super::token_set(&serde_json::json!({"access_token":"a"})).expect("t");
        fill_extra(&mut t, &serde_json::json!({"access_token":"a"}));
        assert!(t.extra.is_empty());
    }
}
