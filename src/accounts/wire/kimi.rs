//! Kimi Code's head (CLIProxyAPI v6.9.25 `applyKimiHeaders`): the
//! kimi-cli identity, `X-Msh-*` device headers with the file's
//! `device_id`.

use super::Headers;
use crate::accounts::Account;
use std::sync::OnceLock;

/// The kimi-cli version CLIProxyAPI presents.
pub const CLI_VERSION: &str = "1.10.6";
/// `User-Agent`.
pub const USER_AGENT: &str = "KimiCLI/1.10.6";
/// `X-Msh-Platform`.
pub const PLATFORM: &str = "kimi_cli";
/// `X-Msh-Device-Id` of a file without `device_id` (CLIProxyAPI's fallback).
pub const FALLBACK_DEVICE_ID: &str = "cli-proxy-api-device";

/// The machine's host name (`unknown` when it cannot be read), read once.
pub fn hostname() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        let mut buf = [0u8; 256];
        // SAFETY: `buf` is a valid writable buffer of the length passed;
        // gethostname writes at most that many bytes.
        let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        match std::str::from_utf8(&buf[..end]) {
            Ok(s) if rc == 0 && !s.is_empty() => s.to_string(),
            _ => "unknown".to_string(),
        }
    })
}

/// OS and architecture in Go's spelling (`linux amd64`), as the executor's
/// `X-Msh-Device-Model` reads them.
pub fn go_platform() -> (&'static str, &'static str) {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    };
    (std::env::consts::OS, arch)
}

/// `X-Msh-Device-Model` of upstream calls.
pub fn device_model() -> &'static str {
    static MODEL: OnceLock<String> = OnceLock::new();
    MODEL.get_or_init(|| {
        let (os, arch) = go_platform();
        format!("{os} {arch}")
    })
}

/// The device id kimi-cli stored under `home` (`.local/share/kimi/device_id`,
/// on macOS `Library/Application Support/kimi/device_id`), when there is one.
pub fn kimi_cli_device_id(home: &std::path::Path, os: &str) -> Option<String> {
    let dir = match os {
        "macos" => home.join("Library/Application Support/kimi"),
        _ => home.join(".local/share/kimi"),
    };
    let id = std::fs::read_to_string(dir.join("device_id")).ok()?;
    let id = id.trim();
    (!id.is_empty() && id.len() <= 128 && !id.bytes().any(|b| b.is_ascii_control()))
        .then(|| id.to_string())
}

/// The device id of a file without `device_id`: kimi-cli's (read once),
/// else [`FALLBACK_DEVICE_ID`], as CLIProxyAPI's executor picks it.
pub fn default_device_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        std::env::var_os("HOME")
            .and_then(|h| kimi_cli_device_id(std::path::Path::new(&h), std::env::consts::OS))
            .unwrap_or_else(|| FALLBACK_DEVICE_ID.to_string())
    })
}

/// The device id an account sends.
pub fn device_id(a: &Account) -> &str {
    match a.chat.device_id.as_str() {
        "" => default_device_id(),
        d => d,
    }
}

/// Writes the Kimi identity headers (the bearer is written by the caller).
pub(crate) fn write_head(a: &Account, h: &mut Headers<'_>) {
    h.put("User-Agent", USER_AGENT.as_bytes());
    h.put("X-Msh-Platform", PLATFORM.as_bytes());
    h.put("X-Msh-Version", CLI_VERSION.as_bytes());
    h.put("X-Msh-Device-Name", hostname().as_bytes());
    h.put("X-Msh-Device-Model", device_model().as_bytes());
    h.put("X-Msh-Device-Id", device_id(a).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kimi_cli_device_id_is_read_from_its_share_dir() {
        let home = std::env::temp_dir().join(format!("cliproxy-kimi-home-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&home);
        assert_eq!(kimi_cli_device_id(&home, "linux"), None);
        std::fs::create_dir_all(home.join(".local/share/kimi")).expect("mkdir");
        std::fs::write(home.join(".local/share/kimi/device_id"), "abc-123\n").expect("w");
        assert_eq!(
            kimi_cli_device_id(&home, "linux").as_deref(),
            Some("abc-123")
        );
        assert_eq!(kimi_cli_device_id(&home, "macos"), None);
        std::fs::write(home.join(".local/share/kimi/device_id"), "bad\x01id").expect("w");
        assert_eq!(
            kimi_cli_device_id(&home, "linux"),
            None,
            "no control bytes in a header"
        );
        let _ = std::fs::remove_dir_all(&home);
    }
}
