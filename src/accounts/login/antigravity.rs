//! `-antigravity-login`: Google OAuth with Antigravity's client (PKCE S256
//! and `state`), a local callback on 51121 `/oauth-callback`
//! (`-oauth-callback-port` moves the listener and the redirect URI), then
//! the account's email and Cloud Code Assist project; the file is
//! `antigravity-<email>.json` in CLIProxyAPI's layout.
//!
//! The flow is split so a browser-started login (the management
//! `/antigravity-auth-url` route) can use the same steps: [`auth_url`]
//! makes the URL to send the user to, [`finish`] turns the code the
//! callback received into the file name and contents.

use super::{bind, file_object, name_part, oe, show_url, wait_callback, Options, CALLBACK_TIMEOUT};
use crate::accounts::oauth::{self, antigravity as ag, gemini, Pkce};
use crate::accounts::{AccountKind, Net};
use serde_json::{Map, Value};
use std::io::{self, Write};

/// The redirect URI for a callback listening on `port`.
pub fn redirect_uri(port: u16) -> String {
    ag::redirect_uri(port)
}

/// The authorization URL: Antigravity's client and scopes, offline access,
/// consent, PKCE `challenge` (S256), `state`.
pub fn auth_url(redirect_uri: &str, state: &str, challenge: &str) -> String {
    ag::auth_url(redirect_uri, state, challenge)
}

/// CLIProxyAPI's file name: `antigravity-<email>.json`
/// (`antigravity.json` without an email).
pub fn file_name(email: &str) -> String {
    let email = email.trim();
    if email.is_empty() {
        "antigravity.json".into()
    } else {
        format!("antigravity-{}.json", name_part(email))
    }
}

/// Exchanges the callback's `code` (with the PKCE `verifier` and the same
/// `redirect_uri`), reads the account's email and looks up its project
/// (a failed lookup is not fatal: the relay looks again when it serves the
/// file). Returns the file name and the file's JSON object.
pub fn finish(
    net: &Net,
    code: &str,
    redirect_uri: &str,
    verifier: &str,
) -> Result<(String, Value), String> {
    let t = ag::exchange_code(net, code, redirect_uri, verifier).map_err(oe("token exchange"))?;
    let access = t.access_token.expose();
    let email = gemini::user_email(net, access).map_err(oe("userinfo"))?;
    if email.is_empty() {
        return Err("userinfo named no email for this account".into());
    }
    let mut base = Map::new();
    base.insert("type".into(), "antigravity".into());
    base.insert("email".into(), email.clone().into());
    match ag::fetch_project(net, access) {
        Ok(p) if !p.is_empty() => {
            base.insert("project_id".into(), p.into());
        }
        Ok(_) => {}
        Err(e) => {
            let _ = writeln!(
                io::stderr(),
                "antigravity: project lookup failed ({e}); it is retried when the file is served"
            );
        }
    }
    Ok((
        file_name(&email),
        file_object(AccountKind::Antigravity, base, &t),
    ))
}

/// The CLI flow: callback server, browser (unless `-no-browser`), [`finish`].
pub(super) fn login(net: &Net, opts: &Options) -> Result<(String, Value), String> {
    let pkce = Pkce::generate().map_err(|e| e.to_string())?;
    let state = oauth::random_state().map_err(|e| e.to_string())?;
    let port = opts.callback_port.unwrap_or(ag::CALLBACK_PORT);
    let redirect = redirect_uri(port);
    let listener = bind(port)?;
    show_url(
        &auth_url(&redirect, &state, &pkce.challenge),
        opts.no_browser,
    );
    say!("Waiting for antigravity authentication callback...");
    let code = wait_callback(&listener, ag::CALLBACK_PATH, &state, CALLBACK_TIMEOUT)?;
    let (name, obj) = finish(net, &code, &redirect, pkce.verifier.expose())?;
    if let Some(p) = obj.get("project_id").and_then(Value::as_str) {
        say!("Using GCP project: {p}");
    }
    Ok((name, obj))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_urls() {
        assert_eq!(file_name("a@b.c"), "antigravity-a@b.c.json");
        assert_eq!(file_name(" "), "antigravity.json");
        assert_eq!(file_name("../x"), "antigravity-_._x.json");
        let u = auth_url(&redirect_uri(51121), "s", "c");
        assert!(u.contains("redirect_uri=http%3A%2F%2Flocalhost%3A51121%2Foauth-callback"));
    }
}
