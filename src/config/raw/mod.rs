//! Raw shapes of CLIProxyAPI's `config.yaml`, one struct per YAML mapping, with
//! CLIProxyAPI's defaults.
//!
//! Every key documented by CLIProxyAPI HEAD (v7 line) is here, plus the v6.9
//! legacy keys (`ampcode`, `enable-gemini-cli-endpoint`, the flat `amp-*` keys,
//! `generative-language-api-key`, `openai-compatibility[].api-keys`) and one
//! cliproxy extension (`body-limit-mb`, plus `excluded-models` on
//! `openai-compatibility` entries). Nothing here is validated beyond its YAML
//! type; `validate.rs` turns a [`RawConfig`] into the immutable `Config`.
//!
//! Defaults are the ones CLIProxyAPI's loader sets before unmarshalling, except
//! where the value of CLIProxyAPI's `config.example.yaml` is the documented
//! default (`port` 8317, `request-retry` 3, `max-retry-interval` 30).

use serde_yaml::Value;

use super::de::{self, raw_struct, Cx, FromYaml, OrderedMap};
use super::ConfigError;
use crate::secret::Secret;

mod entries;

pub use crate::payload::raw::{RawPayload, RawPayloadFilterRule, RawPayloadModel, RawPayloadRule};
pub use entries::*;

/// Default listen port (CLIProxyAPI's example value).
pub const DEFAULT_PORT: i64 = 8317;
/// Default auth directory (before `~` expansion).
pub const DEFAULT_AUTH_DIR: &str = "~/.cli-proxy-api";
/// Default pprof listener.
pub const DEFAULT_PPROF_ADDR: &str = "127.0.0.1:8316";
/// Default management panel repository.
pub const DEFAULT_PANEL_REPOSITORY: &str =
    "https://github.com/router-for-me/Cli-Proxy-API-Management-Center";
/// Default request body limit in MiB (cliproxy extension `body-limit-mb`): large
/// enough for long multimodal conversations with inline images, small enough that a
/// few concurrent uploads cannot exhaust a small VPS.
pub const DEFAULT_BODY_LIMIT_MB: i64 = 64;

raw_struct! {
    /// The whole file.
    pub struct RawConfig {
        /// Bind address; "" = all addresses.
        "host" => host: String,
        /// Listen port.
        "port" => port: i64 = DEFAULT_PORT,
        /// HTTPS settings.
        "tls" => tls: RawTls,
        /// Home-mode credential lifecycle (ignored outside Home mode).
        "credential-concurrency" => credential_concurrency: RawCredentialConcurrency,
        /// Home-mode in-flight observation snapshots.
        "credential-in-flight" => credential_in_flight: RawCredentialInFlight,
        /// Management API.
        "remote-management" => remote_management: RawRemoteManagement,
        /// Dynamic plugins.
        "plugins" => plugins: RawPlugins,
        /// Auth file directory (`~` expanded).
        "auth-dir" => auth_dir: String = DEFAULT_AUTH_DIR.to_string(),
        /// Debug logging.
        "debug" => debug: bool,
        /// pprof listener.
        "pprof" => pprof: RawPprof,
        /// Low-memory mode.
        "commercial-mode" => commercial_mode: bool,
        /// Log to rotating files.
        "logging-to-file" => logging_to_file: bool,
        /// Cap of total log size (0 = off).
        "logs-max-total-size-mb" => logs_max_total_size_mb: i64,
        /// Cap of error-*.log files.
        "error-logs-max-files" => error_logs_max_files: i64 = 10,
        /// Usage records.
        "usage-statistics-enabled" => usage_statistics_enabled: bool,
        /// Usage queue retention (seconds).
        "redis-usage-queue-retention-seconds" => redis_usage_queue_retention_seconds: i64 = 60,
        /// Global cooldown switch.
        "disable-cooling" => disable_cooling: bool,
        /// Persist cooldown state.
        "save-cooldown-status" => save_cooldown_status: bool,
        /// Cooldown for transient errors (0 = 60 s, -1 = off).
        "transient-error-cooldown-seconds" => transient_error_cooldown_seconds: i64,
        /// OAuth refresh worker pool (<= 0 = 16).
        "auth-auto-refresh-workers" => auth_auto_refresh_workers: i64,
        /// Extra credential retry rounds.
        "request-retry" => request_retry: i64 = 3,
        /// Credentials tried per round (0 = all).
        "max-retry-credentials" => max_retry_credentials: i64,
        /// Longest cooldown wait before a new round (seconds).
        "max-retry-interval" => max_retry_interval: i64 = 30,
        /// Quota behaviour.
        "quota-exceeded" => quota_exceeded: RawQuotaExceeded,
        /// Credential selection.
        "routing" => routing: RawRouting,
        /// Authenticate `/v1/ws`.
        "ws-auth" => ws_auth: bool = true,
        /// Antigravity signature cache.
        "antigravity-signature-cache-enabled" => antigravity_signature_cache_enabled: Option<bool>,
        /// Antigravity strict bypass validation.
        "antigravity-signature-bypass-strict" => antigravity_signature_bypass_strict: Option<bool>,
        /// Antigravity behaviour.
        "antigravity" => antigravity: RawAntigravity,
        /// Gemini API keys.
        "gemini-api-key" => gemini_api_key: Vec<RawGeminiKey>,
        /// Native Interactions API keys.
        "interactions-api-key" => interactions_api_key: Vec<RawGeminiKey>,
        /// Codex API keys.
        "codex-api-key" => codex_api_key: Vec<RawCodexKey>,
        /// xAI API keys.
        "xai-api-key" => xai_api_key: Vec<RawCodexKey>,
        /// xAI behaviour.
        "xai" => xai: RawXai,
        /// Codex behaviour.
        "codex" => codex: RawCodex,
        /// Codex OAuth fallback headers.
        "codex-header-defaults" => codex_header_defaults: RawCodexHeaderDefaults,
        /// Claude API keys.
        "claude-api-key" => claude_api_key: Vec<RawClaudeKey>,
        /// Claude fingerprint baseline.
        "claude-header-defaults" => claude_header_defaults: RawClaudeHeaderDefaults,
        /// Globally disable Claude cloaking.
        "disable-claude-cloak-mode" => disable_claude_cloak_mode: bool,
        /// OpenAI-compatible providers.
        "openai-compatibility" => openai_compatibility: Vec<RawOpenAiCompat>,
        /// Vertex-compatible API keys.
        "vertex-api-key" => vertex_api_key: Vec<RawVertexKey>,
        /// Per-channel OAuth model exclusions.
        "oauth-excluded-models" => oauth_excluded_models: OrderedMap<Vec<String>>,
        /// Per-channel OAuth model aliases.
        "oauth-model-alias" => oauth_model_alias: OrderedMap<Vec<RawOAuthModelAlias>>,
        /// Per-channel OAuth error rules.
        "oauth-request-scoped-errors" => oauth_request_scoped_errors: OrderedMap<Vec<RawScopedErrorRule>>,
        /// Payload rewrite rules.
        "payload" => payload: RawPayload,
        /// Global upstream proxy (a `Secret`: the URL may carry a password).
        "proxy-url" => proxy_url: Secret,
        /// image_generation tool policy.
        "disable-image-generation" => disable_image_generation: ImageGenerationMode,
        /// Base model of the hosted image tool path.
        "gpt-image-2-base-model" => gpt_image_2_base_model: String,
        /// Video id -> credential binding lifetime (Go duration).
        "video-result-auth-cache-ttl" => video_result_auth_cache_ttl: String,
        /// Unprefixed models only hit unprefixed credentials.
        "force-model-prefix" => force_model_prefix: bool,
        /// cliproxy extension: speak only HTTP/1.1 to TLS upstreams (no ALPN `h2`).
        "force-http1" => force_http1: bool,
        /// cliproxy extension: HTTP/2 with prior knowledge (h2c) on the plain listener.
        "http2-cleartext" => http2_cleartext: bool,
        /// Full per-request logs.
        "request-log" => request_log: bool,
        /// Claude Code compatibility.
        "claude-code" => claude_code: RawClaudeCode,
        /// Client API keys.
        "api-keys" => api_keys: Vec<Secret>,
        /// Forward filtered upstream response headers.
        "passthrough-headers" => passthrough_headers: bool,
        /// SSE keep-alives and bootstrap retries.
        "streaming" => streaming: RawStreaming,
        /// Blank-line keep-alive for non-stream responses (seconds).
        "nonstream-keepalive-interval" => nonstream_keepalive_interval: i64,
        /// v6.9 legacy: Gemini-CLI passthrough endpoint.
        "enable-gemini-cli-endpoint" => enable_gemini_cli_endpoint: bool,
        /// v6.9 legacy: Amp CLI integration.
        "ampcode" => ampcode: RawAmpCode,
        /// v6 legacy flat list of Gemini keys (migrated into gemini-api-key).
        "generative-language-api-key" => generative_language_api_key: Vec<Secret>,
        /// v6 legacy flat Amp key.
        "amp-upstream-url" => amp_upstream_url: String,
        /// v6 legacy flat Amp key.
        "amp-upstream-api-key" => amp_upstream_api_key: Secret,
        /// v6 legacy flat Amp key.
        "amp-restrict-management-to-localhost" => amp_restrict_management_to_localhost: Option<bool>,
        /// v6 legacy flat Amp key.
        "amp-model-mappings" => amp_model_mappings: Vec<RawAmpModelMapping>,
        /// cliproxy extension: request body limit in MiB.
        "body-limit-mb" => body_limit_mb: i64 = DEFAULT_BODY_LIMIT_MB,
        /// cliproxy extension: Prometheus `/metrics`.
        "metrics" => metrics: RawMetrics,
        /// cliproxy extension: one structured line per request.
        "access-log" => access_log: RawAccessLog,
    }
}

raw_struct! {
    /// `metrics` (cliproxy extension).
    pub struct RawMetrics {
        /// Count requests and serve `GET /metrics`.
        "enabled" => enabled: bool,
        /// Serve `/metrics` without the management key.
        "public" => public: bool,
    }
}

raw_struct! {
    /// `access-log` (cliproxy extension).
    pub struct RawAccessLog {
        /// Write one line per request.
        "enabled" => enabled: bool,
        /// `json` (default) or `logfmt`.
        "format" => format: String,
        /// File path; "" = `access.log` in the log directory.
        "path" => path: String,
    }
}

raw_struct! {
    /// `tls`.
    pub struct RawTls {
        /// Serve HTTPS.
        "enable" => enable: bool,
        /// Certificate file.
        "cert" => cert: String,
        /// Private key file.
        "key" => key: String,
    }
}

raw_struct! {
    /// `remote-management`.
    pub struct RawRemoteManagement {
        /// Allow non-localhost management.
        "allow-remote" => allow_remote: bool,
        /// Management key (plaintext or bcrypt).
        "secret-key" => secret_key: Secret,
        /// Do not serve the panel.
        "disable-control-panel" => disable_control_panel: bool,
        /// Do not auto-update the panel.
        "disable-auto-update-panel" => disable_auto_update_panel: bool,
        /// Panel source repository.
        "panel-github-repository" => panel_github_repository: String = DEFAULT_PANEL_REPOSITORY.to_string(),
    }
}

raw_struct! {
    /// `pprof`.
    pub struct RawPprof {
        /// Start the pprof listener.
        "enable" => enable: bool,
        /// Listener address.
        "addr" => addr: String = DEFAULT_PPROF_ADDR.to_string(),
    }
}

raw_struct! {
    /// `plugins`.
    pub struct RawPlugins {
        /// Load plugins.
        "enabled" => enabled: bool,
        /// Plugin directory.
        "dir" => dir: String = "plugins".to_string(),
        /// Extra plugin store registries.
        "store-sources" => store_sources: Vec<String>,
        /// Plugin store auth rules.
        "store-auth" => store_auth: Vec<RawPluginStoreAuth>,
        /// Home-managed revision counter.
        "auth-revision" => auth_revision: i64,
        /// Per-plugin settings by plugin id.
        "configs" => configs: OrderedMap<RawPluginInstance>,
    }
}

raw_struct! {
    /// `plugins.store-auth[]`.
    pub struct RawPluginStoreAuth {
        /// URL prefix the rule applies to.
        "match" => match_: String,
        /// Request kinds (registry, metadata, artifact).
        "apply-to" => apply_to: Vec<String>,
        /// Auth type (bearer, basic, header).
        "type" => kind: String,
        /// Env var holding a bearer token.
        "token-env" => token_env: String,
        /// Env var holding a basic-auth user.
        "username-env" => username_env: String,
        /// Env var holding a basic-auth password.
        "password-env" => password_env: String,
        /// Custom header name.
        "header-name" => header_name: String,
        /// Env var holding the custom header value.
        "header-value-env" => header_value_env: String,
        /// Allow plain http.
        "allow-insecure" => allow_insecure: bool,
    }
}

/// `plugins.configs.<id>`: host-owned `enabled`/`priority` plus the whole subtree,
/// kept for the plugin (its other keys are the plugin's business, never warned).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RawPluginInstance {
    /// Plugin enabled (default false).
    pub enabled: bool,
    /// Start-up and routing order.
    pub priority: i64,
    /// The full original subtree.
    pub raw: Value,
}

impl FromYaml for RawPluginInstance {
    fn from_yaml(v: &Value, path: &str, cx: &mut Cx) -> Result<Self, ConfigError> {
        let mut out = RawPluginInstance {
            raw: v.clone(),
            ..Default::default()
        };
        if let Value::Mapping(m) = de::untag(v) {
            if let Some(e) = m.get("enabled").filter(|e| !de::untag(e).is_null()) {
                out.enabled = bool::from_yaml(e, &de::join_key(path, "enabled"), cx)?;
            }
            if let Some(p) = m.get("priority").filter(|p| !de::untag(p).is_null()) {
                out.priority = i64::from_yaml(p, &de::join_key(path, "priority"), cx)?;
            }
        }
        Ok(out)
    }
}

/// A Go duration as written: a string (`"250ms"`, `"1h30m"`) or an integer number
/// of nanoseconds (what yaml.v3 does for `time.Duration`).
#[derive(Debug, Clone, PartialEq)]
pub enum RawDuration {
    /// Duration text.
    Text(String),
    /// Nanoseconds.
    Nanos(i64),
}

impl FromYaml for RawDuration {
    fn from_yaml(v: &Value, path: &str, cx: &mut Cx) -> Result<Self, ConfigError> {
        match de::untag(v) {
            Value::Number(_) => i64::from_yaml(v, path, cx).map(RawDuration::Nanos),
            Value::String(s) => Ok(RawDuration::Text(s.clone())),
            other => Err(de::type_error(path, "a duration", other)),
        }
    }
}

raw_struct! {
    /// `credential-concurrency` (Home mode only; parsed, not acted on).
    pub struct RawCredentialConcurrency {
        /// Lifecycle revision.
        "lifecycle-config-revision" => lifecycle_config_revision: i64,
        /// Observation barrier revision.
        "observation-barrier-revision" => observation_barrier_revision: i64,
        /// Heartbeat timeout.
        "cpa-heartbeat-timeout" => cpa_heartbeat_timeout: Option<RawDuration>,
        /// Cancel bound.
        "cpa-cancel-bound" => cpa_cancel_bound: Option<RawDuration>,
        /// Reclaim grace.
        "reclaim-grace" => reclaim_grace: Option<RawDuration>,
        /// Cleanup interval.
        "cleanup-interval" => cleanup_interval: Option<RawDuration>,
        /// Release flush interval.
        "release-flush-interval" => release_flush_interval: Option<RawDuration>,
        /// Release max backoff.
        "release-max-backoff" => release_max_backoff: Option<RawDuration>,
        /// Busy retry minimum.
        "busy-retry-min" => busy_retry_min: Option<RawDuration>,
        /// Busy retry maximum.
        "busy-retry-max" => busy_retry_max: Option<RawDuration>,
        /// Concurrency ceiling.
        "max-limit" => max_limit: i64,
    }
}

raw_struct! {
    /// `credential-in-flight` (Home mode observation; parsed, not acted on).
    pub struct RawCredentialInFlight {
        /// Snapshot interval.
        "snapshot-interval" => snapshot_interval: String = "2s".to_string(),
        /// Staleness bound.
        "stale-after" => stale_after: String = "10s".to_string(),
        /// Bytes per part.
        "max-part-bytes" => max_part_bytes: i64 = 256 * 1024,
        /// Parts per revision.
        "max-part-count" => max_part_count: i64 = 64,
        /// Bytes per revision.
        "max-revision-bytes" => max_revision_bytes: i64 = 16 * 1024 * 1024,
        /// Aggregate groups.
        "max-aggregate-groups" => max_aggregate_groups: i64 = 100_000,
        /// Details kept.
        "max-details" => max_details: i64 = 10_000,
        /// String length cap.
        "max-string-bytes" => max_string_bytes: i64 = 256,
        /// Staging retention.
        "staging-retention" => staging_retention: String = "1m".to_string(),
    }
}

raw_struct! {
    /// `quota-exceeded`.
    pub struct RawQuotaExceeded {
        /// Legacy, no runtime effect in CLIProxyAPI v6.9 (default true there).
        "switch-project" => switch_project: bool = true,
        /// Legacy, no runtime effect in CLIProxyAPI v6.9 (default true there).
        "switch-preview-model" => switch_preview_model: bool = true,
        /// Use Google One AI credits as last resort (Antigravity Claude models; default true).
        "antigravity-credits" => antigravity_credits: bool = true,
    }
}

raw_struct! {
    /// `routing`.
    pub struct RawRouting {
        /// Selection strategy (with aliases).
        "strategy" => strategy: String,
        /// Sticky sessions.
        "session-affinity" => session_affinity: bool,
        /// Binding lifetime (Go duration, default 1h).
        "session-affinity-ttl" => session_affinity_ttl: String,
    }
}

raw_struct! {
    /// `antigravity`.
    pub struct RawAntigravity {
        /// Words obfuscated in system instructions.
        "sensitive-words" => sensitive_words: Vec<String>,
    }
}

raw_struct! {
    /// `xai`.
    pub struct RawXai {
        /// Inject the native x_search tool.
        "inject-x-search" => inject_x_search: bool,
    }
}

raw_struct! {
    /// `codex`.
    pub struct RawCodex {
        /// Remap per-auth Codex identity.
        "identity-confuse" => identity_confuse: bool,
        /// Do not force official Codex UA/Originator.
        "disable-codex-cloaking" => disable_codex_cloaking: bool,
        /// Hold handshake events until the first generated event.
        "stream-bootstrap-buffering" => stream_bootstrap_buffering: bool,
        /// Multi-agent v2 rewrites.
        "optimize-multi-agent-v2" => optimize_multi_agent_v2: bool,
        /// WebRTC media relay.
        "live-media-relay" => live_media_relay: RawLiveMediaRelay,
    }
}

raw_struct! {
    /// `codex.live-media-relay`.
    pub struct RawLiveMediaRelay {
        /// Relay media in-process.
        "enabled" => enabled: bool,
        /// Concurrent sessions (0 = 32).
        "max-sessions" => max_sessions: i64,
        /// Reject private remote candidates.
        "disable-private-remote-ips" => disable_private_remote_ips: Option<bool>,
        /// Deprecated inverse of disable-private-remote-ips.
        "allow-private-remote-ips" => allow_private_remote_ips: Option<bool>,
        /// Advertised public IP.
        "public-ip" => public_ip: String,
        /// UDP range start.
        "udp-port-min" => udp_port_min: u16,
        /// UDP range end.
        "udp-port-max" => udp_port_max: u16,
        /// STUN/TURN servers.
        "ice-servers" => ice_servers: Vec<RawIceServer>,
    }
}

raw_struct! {
    /// `codex.live-media-relay.ice-servers[]`.
    pub struct RawIceServer {
        /// Server URLs.
        "urls" => urls: Vec<String>,
        /// TURN user.
        "username" => username: String,
        /// TURN credential.
        "credential" => credential: Secret,
    }
}

raw_struct! {
    /// `codex-header-defaults`.
    pub struct RawCodexHeaderDefaults {
        /// Fallback User-Agent.
        "user-agent" => user_agent: String,
        /// Fallback X-Codex-Beta-Features (websocket only).
        "beta-features" => beta_features: String,
    }
}

raw_struct! {
    /// `claude-header-defaults`.
    pub struct RawClaudeHeaderDefaults {
        /// User-Agent baseline.
        "user-agent" => user_agent: String,
        /// X-Stainless-Package-Version.
        "package-version" => package_version: String,
        /// X-Stainless-Runtime-Version.
        "runtime-version" => runtime_version: String,
        /// X-Stainless-Os.
        "os" => os: String,
        /// X-Stainless-Arch.
        "arch" => arch: String,
        /// X-Stainless-Timeout.
        "timeout" => timeout: String,
        /// Fallback IANA timezone.
        "timezone" => timezone: String,
        /// Pin per-credential device profile.
        "stabilize-device-profile" => stabilize_device_profile: Option<bool>,
    }
}

raw_struct! {
    /// `claude-code`.
    pub struct RawClaudeCode {
        /// Original ids in the Anthropic model list.
        "disable-cloaking-model-list" => disable_cloaking_model_list: bool,
    }
}

raw_struct! {
    /// `streaming`.
    pub struct RawStreaming {
        /// SSE keep-alive interval (<= 0 = off).
        "keepalive-seconds" => keepalive_seconds: i64,
        /// Re-dispatches before the first byte (<= 0 = off).
        "bootstrap-retries" => bootstrap_retries: i64,
    }
}

raw_struct! {
    /// A `request-scoped-errors[]` / `oauth-request-scoped-errors.<ch>[]` rule.
    pub struct RawScopedErrorRule {
        /// Upstream HTTP status.
        "status" => status: i64,
        /// Body substrings.
        "match" => match_: Vec<String>,
        /// Body regular expressions.
        "match-regexr" => match_regexr: Vec<String>,
        /// stop | stop-and-cooldown | continue | continue-and-cooldown.
        "action" => action: String,
    }
}

raw_struct! {
    /// `models[].thinking`.
    pub struct RawThinking {
        /// Minimum budget.
        "min" => min: i64,
        /// Maximum budget.
        "max" => max: i64,
        /// Budget 0 allowed.
        "zero-allowed" => zero_allowed: bool,
        /// Budget -1 allowed.
        "dynamic-allowed" => dynamic_allowed: bool,
        /// Discrete levels.
        "levels" => levels: Vec<String>,
    }
}

raw_struct! {
    /// `oauth-model-alias.<channel>[]`.
    pub struct RawOAuthModelAlias {
        /// Upstream model.
        "name" => name: String,
        /// Client-visible alias.
        "alias" => alias: String,
        /// Keep the original too.
        "fork" => fork: bool,
        /// Catalog display name.
        "display-name" => display_name: String,
        /// Rewrite response model back to the alias.
        "force-mapping" => force_mapping: bool,
    }
}

raw_struct! {
    /// v6.9 legacy `ampcode`.
    pub struct RawAmpCode {
        /// Amp upstream (default `https://ampcode.com`).
        "upstream-url" => upstream_url: String,
        /// Amp upstream key.
        "upstream-api-key" => upstream_api_key: Secret,
        /// Per-client upstream keys.
        "upstream-api-keys" => upstream_api_keys: Vec<RawAmpUpstreamKey>,
        /// Amp management routes on localhost only.
        "restrict-management-to-localhost" => restrict_management_to_localhost: bool,
        /// Model fallbacks.
        "model-mappings" => model_mappings: Vec<RawAmpModelMapping>,
        /// Apply mappings before local providers.
        "force-model-mappings" => force_model_mappings: bool,
    }
}

raw_struct! {
    /// `ampcode.upstream-api-keys[]`.
    pub struct RawAmpUpstreamKey {
        /// Upstream key for these clients.
        "upstream-api-key" => upstream_api_key: Secret,
        /// Client keys (from top-level api-keys).
        "api-keys" => api_keys: Vec<Secret>,
    }
}

raw_struct! {
    /// `ampcode.model-mappings[]`.
    pub struct RawAmpModelMapping {
        /// Requested model.
        "from" => from: String,
        /// Local model.
        "to" => to: String,
        /// `from` is a regular expression.
        "regex" => regex: bool,
    }
}

/// `disable-image-generation`: `false`, `true`, `"chat"` or `"passthrough"`
/// (strings `"true"`/`"false"`/`"on"`/`"off"`/`"yes"`/`"no"`/`"1"`/`"0"` too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ImageGenerationMode {
    /// image_generation enabled everywhere.
    #[default]
    Off,
    /// Disabled everywhere; /v1/images/* return 404.
    All,
    /// Not injected on non-images endpoints; /v1/images/* stay enabled.
    Chat,
    /// Never injected nor stripped on non-images endpoints.
    Passthrough,
}

impl FromYaml for ImageGenerationMode {
    fn from_yaml(v: &Value, path: &str, _cx: &mut Cx) -> Result<Self, ConfigError> {
        let s = match de::untag(v) {
            Value::Bool(true) => return Ok(ImageGenerationMode::All),
            Value::Bool(false) => return Ok(ImageGenerationMode::Off),
            Value::String(s) => s.trim().to_ascii_lowercase(),
            Value::Number(n) => n.to_string(),
            other => {
                return Err(de::type_error(
                    path,
                    "true, false, \"chat\" or \"passthrough\"",
                    other,
                ))
            }
        };
        match s.as_str() {
            "" | "false" | "0" | "off" | "no" => Ok(ImageGenerationMode::Off),
            "true" | "1" | "on" | "yes" => Ok(ImageGenerationMode::All),
            "chat" => Ok(ImageGenerationMode::Chat),
            "passthrough" => Ok(ImageGenerationMode::Passthrough),
            _ => Err(ConfigError::new(
                path,
                format!("invalid value {s:?} (allowed: true, false, chat, passthrough)"),
            )),
        }
    }
}
