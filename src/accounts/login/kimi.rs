//! `-kimi-login`: Kimi Code's RFC 8628 device flow (CLIProxyAPI
//! `sdk/auth/kimi.go`). [`start`] asks for a device code under a new device
//! id; [`poll`] asks once for the tokens and, when approved, returns the
//! auth file `kimi-<unix ms>.json`: `type`, `access_token`,
//! `refresh_token`, `token_type`, `scope`, `device_id`, `expired`,
//! `timestamp`. The management route `/kimi-auth-url` can drive the same
//! two steps.

use super::device::{self, Step};
use super::{file_object, Options};
use crate::accounts::oauth::device::{DeviceStart, Poll};
use crate::accounts::oauth::kimi;
use crate::accounts::{AccountKind, Net};
use serde_json::{Map, Value};

/// A started Kimi login.
#[derive(Debug, Clone)]
pub struct Started {
    /// The device authorization.
    pub device: DeviceStart,
    /// The device id the login presents (stored in the file).
    pub device_id: String,
}

/// Starts a login under a new device id.
pub fn start(net: &Net) -> Result<Started, String> {
    let device_id = crate::accounts::wire::uuid_v4();
    let device = kimi::start(net, &device_id).map_err(|e| e.to_string())?;
    Ok(Started { device, device_id })
}

/// Polls once; [`Step::Done`] carries the auth file.
pub fn poll(net: &Net, s: &Started) -> Result<Step, String> {
    match kimi::poll(net, &s.device, &s.device_id) {
        Ok(Poll::Pending) => Ok(Step::Pending),
        Ok(Poll::SlowDown) => Ok(Step::SlowDown),
        Ok(Poll::Done(t, _)) => {
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis());
            let mut base = Map::new();
            base.insert("type".into(), "kimi".into());
            base.insert("device_id".into(), s.device_id.clone().into());
            base.insert("timestamp".into(), Value::from(now_ms as u64));
            Ok(Step::Done(
                format!("kimi-{now_ms}.json"),
                file_object(AccountKind::Kimi, base, &t),
            ))
        }
        Err(e) => Err(crate::accounts::oauth::device::explain(&e)),
    }
}

/// The CLI flow.
pub fn login(net: &Net, opts: &Options) -> Result<(String, Value), String> {
    let s = start(net)?;
    device::show("Kimi", &s.device, opts.no_browser);
    device::wait(&s.device, kimi::MAX_WAIT, || poll(net, &s))
}
