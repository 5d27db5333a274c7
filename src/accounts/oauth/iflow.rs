//! iFlow's OAuth client (CLIProxyAPI v6.9.25 `internal/auth/iflow`).
//!
//! - OAuth: the authorization page at `iflow.cn/oauth` redirects to
//!   `http://localhost:11451/oauth2callback`; code exchange and refresh at
//!   `iflow.cn/oauth/token` (form body, client id and secret in the form and
//!   as HTTP Basic). Every token answer is followed by
//!   `iflow.cn/api/oauth/getUserInfo?accessToken=...`, which returns the
//!   account's API key (what requests carry) and its email or phone.
//! - Cookie: a browser cookie's `BXAuth` reads the API key's name at
//!   `platform.iflow.cn/api/openapi/apikey` (GET) and renews the key there
//!   (POST `{"name": ...}`); the answer names its expiry as
//!   `YYYY-MM-DD HH:MM`.

use super::{put_extra, OAuthError};
use crate::accounts::http::{call, form, Reply};
use crate::accounts::{Net, TokenSet};
use crate::secret::Secret;
use serde_json::Value;

/// Authorization page.
pub const AUTH_URL: &str = "https://iflow.cn/oauth";
/// Token endpoint.
pub const TOKEN_URL: &str = "https://iflow.cn/oauth/token";
/// User info (API key) endpoint.
pub const USER_INFO_URL: &str = "https://iflow.cn/api/oauth/getUserInfo";
/// The cookie flow's API-key endpoint.
pub const API_KEY_URL: &str = "https://platform.iflow.cn/api/openapi/apikey";
/// iFlow's OAuth client id.
pub const CLIENT_ID: &str = "10009311001";
/// iFlow's OAuth client secret (public: shipped with iFlow's CLI).
pub const CLIENT_SECRET: &str = "4Z3YjXycVsQvyGF1etiNlIBB4RsqSDtW";
/// Local callback port.
pub const CALLBACK_PORT: u16 = 11451;
/// Local callback path.
pub const CALLBACK_PATH: &str = "/oauth2callback";
/// The browser user agent of the cookie calls.
const BROWSER_UA: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/91.0.4472.124 Safari/537.36";

/// The redirect URI for a callback on `port`.
pub fn redirect_uri(port: u16) -> String {
    format!("http://localhost:{port}{CALLBACK_PATH}")
}

/// The authorization URL (query keys in Go's `url.Values` order: sorted).
pub fn auth_url(state: &str, redirect: &str) -> String {
    super::url_with_query(
        AUTH_URL,
        &[
            ("client_id", CLIENT_ID),
            ("loginMethod", "phone"),
            ("redirect", redirect),
            ("state", state),
            ("type", "phone"),
        ],
    )
}

/// Standard base64 with padding (HTTP Basic).
fn base64_std(src: &[u8]) -> String {
    let mut s: String = super::base64url(src)
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    while !s.len().is_multiple_of(4) {
        s.push('=');
    }
    s
}

/// `Authorization` of a token call.
pub fn basic_auth() -> String {
    format!(
        "Basic {}",
        base64_std(format!("{CLIENT_ID}:{CLIENT_SECRET}").as_bytes())
    )
}

fn token_request(net: &Net, what: &str, body: &str) -> Result<TokenSet, OAuthError> {
    let auth = basic_auth();
    let reply = call(
        net,
        "POST",
        TOKEN_URL,
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Accept", "application/json"),
            ("Authorization", &auth),
        ],
        body.as_bytes(),
    )
    .map_err(|e| OAuthError::Transient(format!("{what}: {e}")))?;
    if reply.status != 200 {
        return Err(super::failure(what, &reply));
    }
    let v = reply.json();
    let mut t = super::token_set(&v)
        .ok_or_else(|| OAuthError::Transient(format!("{what}: the answer has no access_token")))?;
    for k in ["token_type", "scope"] {
        put_extra(&mut t, k, v.get(k).and_then(Value::as_str).unwrap_or(""));
    }
    // The API key and the account come with the user info.
    let info = user_info(net, t.access_token.expose())?;
    t.api_key = Some(info.api_key);
    put_extra(&mut t, "email", &info.email);
    Ok(t)
}

/// The code-exchange form.
pub fn exchange_body(code: &str, redirect: &str) -> String {
    form(&[
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ])
}

/// Exchanges an authorization code; the answer carries the API key and
/// `email` (extra).
pub fn exchange_code(net: &Net, code: &str, redirect: &str) -> Result<TokenSet, OAuthError> {
    token_request(net, "iflow token exchange", &exchange_body(code, redirect))
}

/// The refresh form.
pub fn refresh_body(refresh_token: &str) -> String {
    form(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ])
}

/// Refreshes the OAuth token and fetches the (possibly new) API key.
pub fn refresh(net: &Net, refresh_token: &str) -> Result<TokenSet, OAuthError> {
    token_request(net, "iflow token refresh", &refresh_body(refresh_token))
}

/// `msg` with every occurrence of `secret` (and of its URL-encoded form)
/// replaced.
fn redact(msg: &str, secret: &str) -> String {
    if secret.is_empty() {
        return msg.to_string();
    }
    let mut encoded = String::new();
    crate::accounts::http::url_encode_into(&mut encoded, secret);
    msg.replace(&encoded, "<redacted>")
        .replace(secret, "<redacted>")
}

/// What the user info says.
#[derive(Debug, Clone)]
pub struct UserInfo {
    /// `apiKey`.
    pub api_key: Secret,
    /// `email`, else `phone`.
    pub email: String,
}

/// Reads a user-info answer: `{success, data: {apiKey, email, phone}}`.
pub fn parse_user_info(v: &Value) -> Result<UserInfo, String> {
    if v.get("success").and_then(Value::as_bool) != Some(true) {
        return Err("the user info request was not successful".into());
    }
    let d = v.get("data").unwrap_or(&Value::Null);
    let s = |k: &str| d.get(k).and_then(Value::as_str).map_or("", str::trim);
    if s("apiKey").is_empty() {
        return Err("the user info names no API key".into());
    }
    let email = match s("email") {
        "" => s("phone"),
        e => e,
    };
    if email.is_empty() {
        return Err("the user info names no email or phone".into());
    }
    Ok(UserInfo {
        api_key: Secret::new(s("apiKey")),
        email: email.to_string(),
    })
}

/// Fetches the account's API key with an OAuth access token.
pub fn user_info(net: &Net, access_token: &str) -> Result<UserInfo, OAuthError> {
    const WHAT: &str = "iflow user info";
    let url = super::url_with_query(USER_INFO_URL, &[("accessToken", access_token)]);
    // The token rides in the query: a transport error names the URL, so
    // the token is cut out of the message before it can reach a log.
    let reply = call(net, "GET", &url, &[("Accept", "application/json")], b"")
        .map_err(|e| OAuthError::Transient(format!("{WHAT}: {}", redact(&e, access_token))))?;
    if reply.status != 200 {
        return Err(super::failure(WHAT, &reply));
    }
    parse_user_info(&reply.json()).map_err(|e| OAuthError::Transient(format!("{WHAT}: {e}")))
}

/// A cookie as CLIProxyAPI takes it: whitespace collapsed, `;` at the end,
/// `BXAuth=` required.
pub fn normalize_cookie(raw: &str) -> Result<String, String> {
    let mut c = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if c.is_empty() {
        return Err("the cookie is empty".into());
    }
    if !c.ends_with(';') {
        c.push(';');
    }
    if !c.contains("BXAuth=") {
        return Err("the cookie has no BXAuth field".into());
    }
    Ok(c)
}

/// The `BXAuth` value of a cookie (empty when absent).
pub fn bx_auth(cookie: &str) -> &str {
    cookie
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("BXAuth="))
        .unwrap_or("")
}

/// An API key the cookie endpoint described.
#[derive(Debug, Clone)]
pub struct CookieKey {
    /// `apiKey` (the masked key when the GET answer has only that).
    pub api_key: Secret,
    /// `name`: the key's name, used as the account label.
    pub name: String,
    /// `expireTime` (`YYYY-MM-DD HH:MM`).
    pub expire_time: String,
}

/// Reads an API-key answer: `{success, message, data: {name, apiKey,
/// apiKeyMask, expireTime}}`.
pub fn parse_cookie_key(v: &Value) -> Result<CookieKey, String> {
    if v.get("success").and_then(Value::as_bool) != Some(true) {
        let m = v.get("message").and_then(Value::as_str).unwrap_or("");
        // The message is the server's text, not a secret; keep it short.
        let m: String = m.chars().take(120).collect();
        return Err(format!("the API key request was not successful: {m}"));
    }
    let d = v.get("data").unwrap_or(&Value::Null);
    let s = |k: &str| d.get(k).and_then(Value::as_str).map_or("", str::trim);
    let key = match s("apiKey") {
        "" => s("apiKeyMask"),
        k => k,
    };
    Ok(CookieKey {
        api_key: Secret::new(key),
        name: s("name").to_string(),
        expire_time: s("expireTime").to_string(),
    })
}

fn cookie_call(
    net: &Net,
    what: &str,
    method: &str,
    cookie: &str,
    body: &[u8],
) -> Result<Reply, String> {
    let mut hs: Vec<(&str, &str)> = vec![
        ("Cookie", cookie),
        ("Accept", "application/json, text/plain, */*"),
        ("User-Agent", BROWSER_UA),
        ("Accept-Language", "zh-CN,zh;q=0.9,en;q=0.8"),
    ];
    if method == "POST" {
        hs.push(("Content-Type", "application/json"));
        hs.push(("Origin", "https://platform.iflow.cn"));
        hs.push(("Referer", "https://platform.iflow.cn/"));
    } else {
        hs.push(("Sec-Fetch-Dest", "empty"));
        hs.push(("Sec-Fetch-Mode", "cors"));
        hs.push(("Sec-Fetch-Site", "same-origin"));
    }
    let reply = call(net, method, API_KEY_URL, &hs, body).map_err(|e| format!("{what}: {e}"))?;
    if reply.status != 200 {
        return Err(format!("{what}: status {}", reply.status));
    }
    Ok(reply)
}

/// Reads the cookie's API key (GET; its name is what a renewal needs).
pub fn cookie_key_info(net: &Net, cookie: &str) -> Result<CookieKey, String> {
    const WHAT: &str = "iflow API key lookup";
    let reply = cookie_call(net, WHAT, "GET", cookie, b"")?;
    parse_cookie_key(&reply.json()).map_err(|e| format!("{WHAT}: {e}"))
}

/// Renews the API key named `name` with the cookie (POST).
pub fn cookie_renew(net: &Net, cookie: &str, name: &str) -> Result<CookieKey, String> {
    const WHAT: &str = "iflow API key renewal";
    if name.trim().is_empty() {
        return Err(format!("{WHAT}: the key has no name"));
    }
    let body = serde_json::json!({ "name": name }).to_string();
    let reply = cookie_call(net, WHAT, "POST", cookie, body.as_bytes())?;
    let k = parse_cookie_key(&reply.json()).map_err(|e| format!("{WHAT}: {e}"))?;
    if k.api_key.is_empty() {
        return Err(format!("{WHAT}: the answer has no API key"));
    }
    Ok(k)
}

/// The tokens of a renewed cookie key: no OAuth token, the key, and its
/// expiry (kept in the file in the endpoint's own format).
pub fn cookie_token_set(k: &CookieKey, now: u64) -> TokenSet {
    let mut t = TokenSet {
        api_key: Some(k.api_key.clone()),
        expires_in: crate::accounts::codec::parse_minute_time(&k.expire_time)
            .map(|e| e.saturating_sub(now)),
        ..TokenSet::default()
    };
    put_extra(&mut t, "expired", &k.expire_time);
    t
}

/// Renews a cookie account's API key (the engine's refresh for a file
/// with a `cookie`): the key named by the file's `email`.
pub fn refresh_cookie(net: &Net, cookie: &str, name: &str) -> Result<TokenSet, OAuthError> {
    let k = cookie_renew(net, cookie, name).map_err(OAuthError::Transient)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Ok(cookie_token_set(&k, now))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_forms() {
        assert_eq!(
            auth_url("st", &redirect_uri(11451)),
            "https://iflow.cn/oauth?client_id=10009311001&loginMethod=phone&redirect=http%3A%2F%2Flocalhost%3A11451%2Foauth2callback&state=st&type=phone"
        );
        // base64("10009311001:4Z3Y...") checked against Python's base64.b64encode.
        assert_eq!(
            basic_auth(),
            "Basic MTAwMDkzMTEwMDE6NFozWWpYeWNWc1F2eUdGMWV0aU5sSUJCNFJzcVNEdFc="
        );
        assert_eq!(base64_std(b"ab"), "YWI=");
        assert_eq!(base64_std(b"\xfb\xff"), "+/8=");
        assert!(refresh_body("r").contains("client_secret="));
        assert!(
            exchange_body("c", "http://l/").starts_with("grant_type=authorization_code&code=c&")
        );
    }

    #[test]
    fn transport_errors_lose_the_token() {
        let m = "https://iflow.cn/api/oauth/getUserInfo?accessToken=a%2Fb: timed out";
        assert_eq!(
            redact(m, "a/b"),
            "https://iflow.cn/api/oauth/getUserInfo?accessToken=<redacted>: timed out"
        );
        assert_eq!(redact("x a/b", "a/b"), "x <redacted>");
        assert_eq!(redact("x", ""), "x");
    }

    #[test]
    fn cookies() {
        assert_eq!(
            normalize_cookie("  a=1;\n BXAuth=xyz  ").as_deref(),
            Ok("a=1; BXAuth=xyz;")
        );
        assert!(normalize_cookie("a=1").is_err());
        assert!(normalize_cookie("  ").is_err());
        assert_eq!(bx_auth("a=1; BXAuth=xyz; b=2;"), "xyz");
        assert_eq!(bx_auth("a=1;"), "");
    }

    #[test]
    fn answers() {
        let ok = serde_json::json!({"success":true,"data":{"apiKey":"sk-1","phone":"138"}});
        let u = parse_user_info(&ok).expect("info");
        assert_eq!((u.api_key.expose(), u.email.as_str()), ("sk-1", "138"));
        assert!(parse_user_info(&serde_json::json!({"success":false})).is_err());
        assert!(
            parse_user_info(&serde_json::json!({"success":true,"data":{"email":"e"}})).is_err()
        );
        let k = parse_cookie_key(&serde_json::json!({"success":true,
            "data":{"name":"n","apiKeyMask":"sk-***","expireTime":"2030-01-01 00:00"}}))
        .expect("key");
        assert_eq!((k.api_key.expose(), k.name.as_str()), ("sk-***", "n"));
        let t = cookie_token_set(&k, 0);
        assert_eq!(
            t.expires_in,
            crate::accounts::codec::parse_rfc3339("2030-01-01T00:00:00Z")
        );
        assert_eq!(t.extra["expired"], "2030-01-01 00:00");
        assert!(
            parse_cookie_key(&serde_json::json!({"success":false,"message":"bad"}))
                .expect_err("refused")
                .contains("bad")
        );
    }
}
