//! `-qwen-login`: Qwen Code's device flow with PKCE (CLIProxyAPI v6.9.25
//! `sdk/auth/qwen.go`). [`start`] asks for a device code; [`poll`] asks
//! once for the tokens; [`file`] makes the auth file `qwen-<email>.json`
//! (`type`, `access_token`, `refresh_token`, `resource_url`, `email`,
//! `expired`, `last_refresh`). Qwen's answer names no account, so the CLI
//! asks for an email or alias, as CLIProxyAPI does.

use super::device::{self, Step};
use super::{file_object, name_part, Options};
use crate::accounts::oauth::device::{DeviceStart, Poll};
use crate::accounts::oauth::qwen;
use crate::accounts::{AccountKind, Net, TokenSet};
use serde_json::{Map, Value};

/// Starts a login.
pub fn start(net: &Net) -> Result<DeviceStart, String> {
    qwen::start(net).map_err(|e| e.to_string())
}

/// What one poll said: the tokens once approved.
pub enum Polled {
    /// Not yet (pending or slow down).
    Wait(Step),
    /// Approved.
    Tokens(Box<TokenSet>),
}

/// Polls once.
pub fn poll(net: &Net, d: &DeviceStart) -> Result<Polled, String> {
    match qwen::poll(net, d) {
        Ok(Poll::Pending) => Ok(Polled::Wait(Step::Pending)),
        Ok(Poll::SlowDown) => Ok(Polled::Wait(Step::SlowDown)),
        Ok(Poll::Done(t, _)) => Ok(Polled::Tokens(Box::new(t))),
        Err(e) => Err(crate::accounts::oauth::device::explain(&e)),
    }
}

/// The auth file for `t` labelled `email` (an email or alias, required).
pub fn file(t: &TokenSet, email: &str) -> Result<(String, Value), String> {
    let email = email.trim();
    if email.is_empty() {
        return Err("an email address or alias for the Qwen account is required".into());
    }
    let mut base = Map::new();
    base.insert("type".into(), "qwen".into());
    base.insert("email".into(), email.into());
    base.insert("resource_url".into(), "".into());
    Ok((
        format!("qwen-{}.json", name_part(email)),
        file_object(AccountKind::Qwen, base, t),
    ))
}

/// The CLI flow.
pub fn login(net: &Net, opts: &Options) -> Result<(String, Value), String> {
    let d = start(net)?;
    device::show("Qwen", &d, opts.no_browser);
    let mut tokens = None;
    device::wait(&d, qwen::MAX_WAIT, || match poll(net, &d)? {
        Polled::Wait(s) => Ok(s),
        Polled::Tokens(t) => {
            tokens = Some(t);
            Ok(Step::Done(String::new(), Value::Null))
        }
    })?;
    let t = tokens.ok_or("the device flow ended without tokens")?;
    let email = super::prompt("Please input your email address or alias for Qwen:")?;
    file(&t, &email)
}
