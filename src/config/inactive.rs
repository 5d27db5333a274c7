//! Keys cliproxy parses and validates but does not act on yet.
//!
//! [`inactive_keys`] names every such key a config sets to something other
//! than CLIProxyAPI's default, so the operator is told once (at start and on
//! every reload) that these settings have no effect here. `tls` is not in the
//! list: it is acted on by the listener.

use std::path::Path;

use super::{Config, RawConfig};

/// The inactive keys `cfg` sets, in the order of CLIProxyAPI's example file.
/// Sections are named by their top-level key (`remote-management`,
/// `ampcode`, ...; the legacy `amp-*` keys are migrated into `ampcode`);
/// keys of provider entries by their path (`claude-api-key[].cloak`). `auth-dir` is
/// listed when the directory holds OAuth auth files (`*.json`): they are not
/// loaded.
pub fn inactive_keys(cfg: &Config) -> Vec<String> {
    let mut out = cfg.inactive_keys.clone();
    if has_auth_files(&cfg.auth_dir) {
        out.push("auth-dir (its OAuth auth files are not loaded)".to_string());
    }
    out
}

/// The part of [`inactive_keys`] the file alone decides (everything but
/// `auth-dir`), read during validation so the raw layer is not kept.
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
        "remote-management" => remote_management,
        "plugins" => plugins,
        "pprof" => pprof,
        "commercial-mode" => commercial_mode,
        "logging-to-file" => logging_to_file,
        "logs-max-total-size-mb" => logs_max_total_size_mb,
        "error-logs-max-files" => error_logs_max_files,
        "usage-statistics-enabled" => usage_statistics_enabled,
        "redis-usage-queue-retention-seconds" => redis_usage_queue_retention_seconds,
        "auth-auto-refresh-workers" => auth_auto_refresh_workers,
        "quota-exceeded" => quota_exceeded,
        "ws-auth" => ws_auth,
        "antigravity-signature-cache-enabled" => antigravity_signature_cache_enabled,
        "antigravity-signature-bypass-strict" => antigravity_signature_bypass_strict,
        "antigravity" => antigravity,
        "interactions-api-key" => interactions_api_key,
        "xai-api-key" => xai_api_key,
        "xai" => xai,
        "codex" => codex,
        "codex-header-defaults" => codex_header_defaults,
        "claude-header-defaults" => claude_header_defaults,
        "disable-claude-cloak-mode" => disable_claude_cloak_mode,
        "oauth-excluded-models" => oauth_excluded_models,
        "oauth-model-alias" => oauth_model_alias,
        "oauth-request-scoped-errors" => oauth_request_scoped_errors,
        "disable-image-generation" => disable_image_generation,
        "gpt-image-2-base-model" => gpt_image_2_base_model,
        "video-result-auth-cache-ttl" => video_result_auth_cache_ttl,
        "request-log" => request_log,
        "enable-gemini-cli-endpoint" => enable_gemini_cli_endpoint,
        "ampcode" => ampcode,
    );
    let mut entry_key = |key: &str, set: bool| {
        if set {
            out.push(key.to_string());
        }
    };
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
        "codex-api-key[].websockets",
        raw.codex_api_key.iter().any(|k| k.websockets),
    );
    entry_key(
        "openai-compatibility[].support-prompt-cache-key",
        raw.openai_compatibility
            .iter()
            .any(|c| c.support_prompt_cache_key),
    );
    out
}

/// Whether `dir` holds auth files: visible `*.json` files (cliproxy's own
/// `.cliproxy-cooldowns.json` is hidden, so it does not count).
pub fn has_auth_files(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|e| {
        let name = e.file_name();
        let name = name.to_string_lossy();
        !name.starts_with('.')
            && name.ends_with(".json")
            && e.file_type().is_ok_and(|t| t.is_file())
    })
}
