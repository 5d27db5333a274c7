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

/// The device id an account sends.
pub fn device_id(a: &Account) -> &str {
    match a.chat.device_id.as_str() {
        "" => FALLBACK_DEVICE_ID,
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
