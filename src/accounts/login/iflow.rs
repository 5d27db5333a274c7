//! `-iflow-login` and `-iflow-cookie` (CLIProxyAPI v6.9.25
//! `sdk/auth/iflow.go`, `internal/cmd/iflow_cookie.go`).
//!
//! - OAuth: [`start`] makes the authorization URL (callback
//!   `http://localhost:11451/oauth2callback`); [`finish`] exchanges the
//!   code, fetches the API key and returns the auth file
//!   `iflow-<email>-<unix>.json`.
//! - Cookie: [`cookie_file`] turns a browser cookie (its `BXAuth`) into a
//!   renewed API key and the auth file `iflow-<key name>-<unix>.json`,
//!   refusing a `BXAuth` another iFlow file in `auth-dir` already holds.

use super::{bind, file_object, now_secs, show_url, wait_callback, Options, CALLBACK_TIMEOUT};
use crate::accounts::oauth::{self, iflow};
use crate::accounts::{AccountKind, Net};
use serde_json::{Map, Value};
use std::io::{self, Write};
use std::path::Path;

/// A started OAuth login.
#[derive(Debug, Clone)]
pub struct AuthUrl {
    /// The page to open.
    pub url: String,
    /// The state the callback must echo.
    pub state: String,
    /// The redirect URI (exchanged with the code).
    pub redirect_uri: String,
}

/// Starts an OAuth login whose callback reaches `port`.
pub fn start(port: u16) -> Result<AuthUrl, String> {
    let state = oauth::random_state().map_err(|e| e.to_string())?;
    let redirect_uri = iflow::redirect_uri(port);
    Ok(AuthUrl {
        url: iflow::auth_url(&state, &redirect_uri),
        state,
        redirect_uri,
    })
}

/// Exchanges the callback's `code` and returns the auth file.
pub fn finish(net: &Net, code: &str, redirect_uri: &str) -> Result<(String, Value), String> {
    let t = iflow::exchange_code(net, code, redirect_uri)
        .map_err(|e| format!("token exchange: {e}"))?;
    let email = t
        .extra
        .get("email")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if email.is_empty() {
        return Err("the account has no email or phone".into());
    }
    let mut base = Map::new();
    base.insert("type".into(), "iflow".into());
    base.insert("cookie".into(), "".into());
    Ok((
        format!("iflow-{}-{}.json", super::name_part(&email), now_secs()),
        file_object(AccountKind::IFlow, base, &t),
    ))
}

/// The CLI OAuth flow.
pub fn login(net: &Net, opts: &Options) -> Result<(String, Value), String> {
    let port = opts.callback_port.unwrap_or(iflow::CALLBACK_PORT);
    let listener = bind(port)?;
    let a = start(port)?;
    show_url(&a.url, opts.no_browser);
    say!("Waiting for iFlow authentication callback...");
    let code = wait_callback(&listener, iflow::CALLBACK_PATH, &a.state, CALLBACK_TIMEOUT)?;
    finish(net, &code, &a.redirect_uri)
}

/// CLIProxyAPI's file-name form of a key name: `*` becomes `x`, only
/// `[A-Za-z0-9_@.-]` kept.
pub fn sanitize_name(raw: &str) -> String {
    raw.replace('*', "x")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '@' | '.' | '-'))
        .collect()
}

/// The `iflow-*.json` file in `auth_dir` holding `bx` as its cookie's
/// `BXAuth`, if any.
pub fn duplicate_of(auth_dir: &Path, bx: &str) -> Option<String> {
    if bx.is_empty() {
        return None;
    }
    let rd = std::fs::read_dir(auth_dir).ok()?;
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with("iflow-") || !name.ends_with(".json") {
            continue;
        }
        let Ok(bytes) = std::fs::read(e.path()) else {
            continue;
        };
        let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let c = v.get("cookie").and_then(Value::as_str).unwrap_or("");
        if iflow::bx_auth(c) == bx {
            return Some(name);
        }
    }
    None
}

/// Turns a browser cookie into the auth file (the key renewed once, as
/// CLIProxyAPI does; only `BXAuth=...;` of the cookie is stored).
pub fn cookie_file(
    net: &Net,
    raw_cookie: &str,
    auth_dir: &Path,
) -> Result<(String, Value), String> {
    let cookie = iflow::normalize_cookie(raw_cookie)?;
    let bx = iflow::bx_auth(&cookie).to_string();
    if let Some(existing) = duplicate_of(auth_dir, &bx) {
        return Err(format!(
            "this BXAuth is already saved in {existing}; remove that file to log in again"
        ));
    }
    let info = iflow::cookie_key_info(net, &cookie)?;
    let renewed = iflow::cookie_renew(net, &cookie, &info.name)?;
    let name = if renewed.name.is_empty() {
        info.name.clone()
    } else {
        renewed.name.clone()
    };
    let t = iflow::cookie_token_set(&renewed, now_secs());
    let mut base = Map::new();
    base.insert("type".into(), "iflow".into());
    for k in ["access_token", "refresh_token", "token_type", "scope"] {
        base.insert(k.into(), "".into());
    }
    base.insert("email".into(), name.clone().into());
    let stored = if bx.is_empty() {
        String::new()
    } else {
        format!("BXAuth={bx};")
    };
    base.insert("cookie".into(), stored.into());
    Ok((
        format!("iflow-{}-{}.json", sanitize_name(&name), now_secs()),
        file_object(AccountKind::IFlow, base, &t),
    ))
}

/// The CLI cookie flow: reads the cookie from stdin.
pub fn cookie_login(net: &Net, auth_dir: &Path) -> Result<(String, Value), String> {
    let raw = super::prompt("Enter iFlow Cookie (from browser cookies):")?;
    cookie_file(net, &raw, auth_dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_duplicates() {
        assert_eq!(sanitize_name("a*b c/d@e.f"), "axbcd@e.f");
        let dir = std::env::temp_dir().join(format!("cliproxy-iflow-dup-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join("iflow-a-1.json"), r#"{"cookie":"BXAuth=abc;"}"#).expect("w");
        std::fs::write(dir.join("other.json"), r#"{"cookie":"BXAuth=zzz;"}"#).expect("w");
        assert_eq!(duplicate_of(&dir, "abc").as_deref(), Some("iflow-a-1.json"));
        assert_eq!(duplicate_of(&dir, "zzz"), None, "only iflow-*.json files");
        assert_eq!(duplicate_of(&dir, ""), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
