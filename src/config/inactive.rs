//! Keys cliproxy parses and validates but does not act on yet.
//!
//! [`inactive_keys`] names every such key a config sets to something other
//! than CLIProxyAPI's default, so the operator is told once (at start and on
//! every reload) that these settings have no effect here. `tls` is not in the
//! list: it is acted on by the listener.

use super::{Config, RawConfig};

/// The inactive keys `cfg` sets, in the order of CLIProxyAPI's example file.
/// Sections are named by their top-level key (`remote-management`, ...);
/// keys of provider entries by their path (`claude-api-key[].cloak`).
pub fn inactive_keys(cfg: &Config) -> Vec<String> {
    cfg.inactive_keys.clone()
}

/// What [`inactive_keys`] reports, decided from the file during validation
/// so the raw layer is not kept.
pub(super) fn raw_inactive_keys(raw: &RawConfig) -> Vec<String> {
    let d = RawConfig::default();
    let mut out: Vec<String> = Vec::new();
    macro_rules! unless_default {
        ($($key:literal => $($field:ident).+),* $(,)?) => {
            $( if raw.$($field).+ != d.$($field).+ { out.push($key.to_string()); } )*
        };
    }
    unless_default!(
        "credential-concurrency" => credential_concurrency,
        "credential-in-flight" => credential_in_flight,
        "plugins" => plugins,
        "pprof" => pprof,
        "commercial-mode" => commercial_mode,
        "quota-exceeded" => quota_exceeded,
        "ws-auth" => ws_auth,
        "antigravity-signature-cache-enabled" => antigravity_signature_cache_enabled,
        "antigravity-signature-bypass-strict" => antigravity_signature_bypass_strict,
        "antigravity" => antigravity,
        "interactions-api-key" => interactions_api_key,
        "xai-api-key" => xai_api_key,
        "xai" => xai,
        "codex" => codex,
        "claude-header-defaults.os" => claude_header_defaults.os,
        "claude-header-defaults.arch" => claude_header_defaults.arch,
        "claude-header-defaults.timezone" => claude_header_defaults.timezone,
        "disable-claude-cloak-mode" => disable_claude_cloak_mode,
        "disable-image-generation" => disable_image_generation,
        "gpt-image-2-base-model" => gpt_image_2_base_model,
        "video-result-auth-cache-ttl" => video_result_auth_cache_ttl,
        "enable-gemini-cli-endpoint" => enable_gemini_cli_endpoint,
    );
    let mut entry_key = |key: &str, set: bool| {
        if set {
            out.push(key.to_string());
        }
    };
    entry_key(
        "claude-header-defaults.stabilize-device-profile",
        raw.claude_header_defaults.stabilize_device_profile == Some(true),
    );
    let claude = &raw.claude_api_key;
    entry_key(
        "claude-api-key[].cloak",
        claude.iter().any(|k| k.cloak.is_some()),
    );
    entry_key(
        "claude-api-key[].fingerprint-profile",
        claude
            .iter()
            .any(|k| !k.fingerprint_profile.trim().is_empty()),
    );
    entry_key(
        "claude-api-key[].rebuild-mid-system-message",
        claude.iter().any(|k| k.rebuild_mid_system_message),
    );
    entry_key(
        "claude-api-key[].experimental-cch-signing",
        claude.iter().any(|k| k.experimental_cch_signing),
    );
    entry_key(
        "openai-compatibility[].support-prompt-cache-key",
        raw.openai_compatibility
            .iter()
            .any(|c| c.support_prompt_cache_key),
    );
    out
}
