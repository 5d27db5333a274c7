//! Where the Amp upstream key comes from, in CLIProxyAPI's order:
//! `ampcode.upstream-api-keys` by client key, `ampcode.upstream-api-key`,
//! env `AMP_API_KEY`, then Amp's own secrets file
//! `$HOME/.local/share/amp/secrets.json` (the Amp CLI writes it at login:
//! a JSON object whose `apiKey@https://ampcode.com/` member is the key).
//! The last two are read when a snapshot is built (off the workers); the
//! control thread compares them once a minute (`Snapshot::amp_changed`) and
//! reloads when they changed.

use crate::secret::Secret;
use std::path::PathBuf;

/// The member of Amp's secrets file holding the key.
pub const SECRETS_MEMBER: &str = "apiKey@https://ampcode.com/";

/// `$HOME/.local/share/amp/secrets.json`.
pub fn secrets_path() -> Option<PathBuf> {
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty())?;
    Some(
        PathBuf::from(home)
            .join(".local")
            .join("share")
            .join("amp")
            .join("secrets.json"),
    )
}

/// The key from `AMP_API_KEY`, else from the secrets file; empty if neither
/// has one. A missing file is no error; an unreadable or malformed one is
/// logged (without its content).
pub fn default_key() -> Secret {
    if let Ok(v) = std::env::var("AMP_API_KEY") {
        if !v.trim().is_empty() {
            return Secret::new(v.trim());
        }
    }
    let Some(path) = secrets_path() else {
        return Secret::new("");
    };
    match std::fs::read(&path) {
        Ok(b) => match key_from_secrets(&b) {
            Some(k) => Secret::new(k),
            None => {
                crate::log_warn!("amp: {} has no usable {SECRETS_MEMBER:?}", path.display());
                Secret::new("")
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Secret::new(""),
        Err(e) => {
            crate::log_warn!("amp: cannot read {}: {e}", path.display());
            Secret::new("")
        }
    }
}

/// The key in a secrets file's bytes (trimmed, non-empty).
pub fn key_from_secrets(b: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(b).ok()?;
    let k = v.get(SECRETS_MEMBER)?.as_str()?.trim();
    (!k.is_empty()).then(|| k.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_file_shape() {
        assert_eq!(
            key_from_secrets(br#"{"apiKey@https://ampcode.com/":" sgamp_x ","other":"y"}"#)
                .as_deref(),
            Some("sgamp_x")
        );
        assert_eq!(
            key_from_secrets(br#"{"apiKey@https://ampcode.com/":""}"#),
            None
        );
        assert_eq!(key_from_secrets(br#"{"apiKey":"k"}"#), None);
        assert_eq!(key_from_secrets(b"not json"), None);
    }
}
