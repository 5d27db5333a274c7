//! CLIProxyAPI's `config.yaml`, read unchanged, in two layers.
//!
//! 1. [`raw`]: one plain struct per YAML mapping, holding every key CLIProxyAPI
//!    documents (HEAD and the v6.9 legacy keys) with CLIProxyAPI's defaults.
//!    Decoding records the key path of everything it sees.
//! 2. [`validate`]: [`Config::from_raw`] checks and normalises the raw shapes into
//!    the immutable [`Config`] the server runs on.
//!
//! Guarantees:
//! - An unknown key anywhere is a [`Warning`] naming its key path; it never fails
//!   the load. Free-form mappings (`headers`, `payload.*.params`,
//!   `plugins.configs.<id>`) have no unknown keys.
//! - A wrong type or an invalid value is a [`ConfigError`] whose `key_path` names
//!   the exact key (`port`, `openai-compatibility[0].api-key-entries[2].api-key`,
//!   `payload.override[0].params`). Key paths join mapping keys with `.` and write
//!   list indexes as `[i]`; a key that is not `[A-Za-z0-9_-]+` is written as
//!   `["the key"]`.
//! - An empty file (or one holding only comments / `null`) gives all defaults.
//! - Loading never panics, whatever the input.
//! - Secrets (`api-keys`, every `api-key`, `remote-management.secret-key`,
//!   `proxy-url` values, provider `headers` values) are [`Secret`]s or are
//!   redacted: `Debug` of a `Config` prints `****` for them. (Free-form
//!   `plugins.configs.<id>` subtrees are kept verbatim.)
//!
//! cliproxy extensions (keys CLIProxyAPI does not have; it ignores them):
//! - `body-limit-mb` (integer MiB, default 64, 1..=[`MAX_BODY_LIMIT_MB`]): the
//!   largest request body cliproxy accepts.
//! - `excluded-models` on `openai-compatibility` entries (same wildcard rules as
//!   on the other provider lists).
//! - `metrics` (`enabled`, `public`; both default false): `GET /metrics`
//!   (see [`crate::obs::metrics`]).
//! - `access-log` (`enabled`, `format: json|logfmt`, `path`): one line per
//!   request (see [`crate::obs`]).
//! - `http2-cleartext` (bool, default false): h2c with prior knowledge on the
//!   plain listener (CLIProxyAPI serves HTTP/2 only over TLS). Ignored, with a
//!   warning, when `tls.enable` is on.

pub mod amp;
pub mod duration;
pub mod inactive;
pub mod proxy;
pub mod raw;
pub mod validate;
mod wildcard;

#[cfg(test)]
mod tests;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_yaml::Value;

pub use crate::yaml as de;
pub use crate::yaml::{ConfigError, Warning};
pub use proxy::{ProxyScheme, ProxySetting, ProxyUrl};
pub use raw::{ImageGenerationMode, RawConfig, RawThinking};
pub use validate::MAX_BODY_LIMIT_MB;
pub use wildcard::excluded;

use crate::payload::PayloadRules;
use crate::secret::Secret;

/// The validated, immutable configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Bind address; `""` means all addresses (IPv4 and IPv6).
    pub host: String,
    /// Listen port (default 8317; 0 lets the OS pick).
    pub port: u16,
    /// Client API keys: trimmed, empties dropped, de-duplicated, file order.
    /// Empty means every request is allowed (CLIProxyAPI's open mode).
    pub api_keys: Vec<Secret>,
    /// Whether `api-keys` holds CLIProxyAPI's template keys `your-api-key-1/2/3`
    /// (CLIProxyAPI then refuses proxy requests: "safe mode").
    pub has_example_api_keys: bool,
    /// Auth-file directory: `~` expanded with `$HOME`, relative paths joined to the
    /// config file's directory. Default `~/.cli-proxy-api`.
    pub auth_dir: PathBuf,
    /// Debug logging.
    pub debug: bool,
    /// Extra credential retry rounds (default 3; a negative value reads as 0).
    pub request_retry: u32,
    /// Distinct credentials tried per round; 0 = all.
    pub max_retry_credentials: u32,
    /// Longest cooldown wait before another round, seconds; <= 0 = never wait.
    pub max_retry_interval_secs: i64,
    /// Global upstream proxy; `None` for `""`, `direct` or `none`.
    pub proxy_url: Option<ProxyUrl>,
    /// Largest accepted request body in bytes (`body-limit-mb`, default 64 MiB).
    pub body_limit: usize,
    /// Usable OpenAI-compatible providers (disabled ones and ones without
    /// `base-url` are dropped with a warning).
    pub openai_compatibility: Vec<OpenAiCompat>,
    /// HTTPS certificate and key, when `tls.enable`.
    pub tls: Option<TlsFiles>,
    /// Credential selection.
    pub routing: Routing,
    /// Global cooldown switch (a credential's `disable-cooling` wins).
    pub disable_cooling: bool,
    /// Cooldown after 408/5xx; `None` when disabled (`-1`). 0 in the file = 60 s.
    pub transient_error_cooldown: Option<Duration>,
    /// SSE `: keep-alive` interval; `None` = off.
    pub streaming_keepalive: Option<Duration>,
    /// Re-dispatches allowed before the first byte reaches the client.
    pub streaming_bootstrap_retries: u32,
    /// Header fallbacks for Claude and Codex OAuth heads
    /// (`claude-header-defaults`, `codex-header-defaults`), trimmed.
    pub header_defaults: HeaderDefaults,
    /// Blank-line keep-alive interval for non-stream responses; `None` = off.
    pub nonstream_keepalive: Option<Duration>,
    /// `save-cooldown-status`: persist cooldowns across restarts.
    pub save_cooldown_status: bool,
    /// `claude-code.disable-cloaking-model-list`: the Anthropic model list
    /// shows the registry's ids as they are.
    pub disable_cloaking_model_list: bool,
    /// Authenticate `/v1/ws` (default true).
    pub ws_auth: bool,
    /// Full per-request logs.
    pub request_log: bool,
    /// `logging-to-file`: the app log goes to `<log_dir>/main.log` (rotated).
    pub logging_to_file: bool,
    /// `logs-max-total-size-mb` in bytes; 0 = no limit.
    pub logs_max_total_bytes: u64,
    /// `error-logs-max-files` (0 = no cleanup of `error-*.log`).
    pub error_logs_max_files: u64,
    /// Where every log file goes: `$WRITABLE_PATH/logs`, else `logs/` next
    /// to the config file.
    pub log_dir: PathBuf,
    /// `metrics` (cliproxy extension): `/metrics` and its counting.
    pub metrics: raw::RawMetrics,
    /// `access-log` (cliproxy extension), when enabled.
    pub access_log: Option<AccessLog>,
    /// Forward filtered upstream response headers.
    pub passthrough_headers: bool,
    /// Unprefixed model names only route to unprefixed credentials.
    pub force_model_prefix: bool,
    /// `force-http1`: never offer HTTP/2 to TLS upstreams (entries may override).
    pub force_http1: bool,
    /// `http2-cleartext`: the plain listener also serves HTTP/2 with prior
    /// knowledge (h2c); a connection starting with the h2 preface is h2.
    pub http2_cleartext: bool,
    /// image_generation tool policy.
    pub disable_image_generation: ImageGenerationMode,
    /// Base model of the hosted image tool path (default `gpt-5.4-mini`).
    pub gpt_image_2_base_model: String,
    /// Video id -> credential binding lifetime (default 3 h).
    pub video_result_auth_cache_ttl: Duration,
    /// The keyed provider sections (`<kind>-api-key`), indexed by
    /// [`Config::slot`]: entries kept under each kind's
    /// [`crate::providers::Entries`] rules (`gemini-api-key` includes the
    /// migrated `generative-language-api-key`; `openai-compatibility` has its
    /// own shape and list). Read through [`Config::keyed`].
    keyed: Keyed,
    /// `interactions-api-key` (gemini's shape and rules).
    pub interactions_api_keys: Vec<ProviderKey>,
    /// `xai-api-key` (codex's shape and rules; no alpha-search).
    pub xai_api_keys: Vec<ProviderKey>,
    /// `oauth-excluded-models`: lower-cased channel -> normalised patterns.
    pub oauth_excluded_models: Vec<(String, Vec<String>)>,
    /// `oauth-model-alias`: lower-cased channel -> aliases.
    pub oauth_model_alias: Vec<(String, Vec<OAuthAlias>)>,
    /// `oauth-request-scoped-errors`: lower-cased channel -> rules.
    pub oauth_request_scoped_errors: Vec<(String, Vec<ScopedErrorRule>)>,
    /// `payload` rules, compiled (parts that do not compile are warnings).
    pub payload: PayloadRules,
    /// `auth-auto-refresh-workers`: size of the token refresh pool
    /// (≤ 0 = 16; read at start).
    pub auth_auto_refresh_workers: i64,
    /// `usage-statistics-enabled`: count requests and tokens for `/usage`.
    pub usage_statistics_enabled: bool,
    /// `redis-usage-queue-retention-seconds`: how long `/usage-queue` keeps
    /// a record (as written; normalised by the queue).
    pub redis_usage_queue_retention_seconds: i64,
    /// `remote-management`: the management API's access settings
    /// (`secret-key` is a bcrypt hash once the start-up write-back ran).
    pub remote_management: raw::RawRemoteManagement,
    /// Keys set to a non-default value that cliproxy does not act on (see
    /// [`inactive::inactive_keys`], which adds `auth-dir`).
    pub inactive_keys: Vec<String>,
    /// `ampcode` (with the legacy flat `amp-*` keys migrated in).
    pub ampcode: amp::AmpCode,
}

/// The `access-log` setting (cliproxy extension).
#[derive(Debug, Clone, PartialEq)]
pub struct AccessLog {
    /// Line format.
    pub format: AccessFormat,
    /// The file lines are appended to.
    pub path: PathBuf,
}

/// An access-log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessFormat {
    /// One JSON object per line.
    Json,
    /// `key=value` pairs.
    Logfmt,
}

/// The keyed provider lists, one per [`crate::providers::Kind`] (see [`Config::slot`]).
pub(crate) type Keyed = [Vec<ProviderKey>; crate::providers::Kind::ALL.len()];

/// One OpenAI-compatible provider. `Debug` hides keys and header values.
#[derive(Clone, PartialEq)]
pub struct OpenAiCompat {
    /// Provider name, trimmed.
    pub name: String,
    /// Endpoint, trimmed, trailing `/` removed; always `http://` or `https://`.
    pub base_url: String,
    /// Keys (legacy `api-keys` merged in); may be empty.
    pub api_key_entries: Vec<ApiKeyEntry>,
    /// Models; repeating an alias over several names builds a pool.
    pub models: Vec<ModelAlias>,
    /// Extra upstream headers (trimmed; empty names/values dropped).
    pub headers: Vec<(String, String)>,
    /// Model namespace (no `/`).
    pub prefix: Option<String>,
    /// Hidden models (cliproxy extension), normalised: trimmed, lower-case, unique.
    pub excluded_models: Vec<String>,
    /// Higher is preferred.
    pub priority: i32,
    /// Always false in a validated config (disabled entries are dropped).
    pub disabled: bool,
    /// Derive prompt_cache_key for requests.
    pub support_prompt_cache_key: bool,
    /// Cooling override (`None` = inherit the global setting).
    pub disable_cooling: Option<bool>,
    /// HTTP/1.1 only to this upstream (`None` = the global `force-http1`).
    pub force_http1: Option<bool>,
    /// Retry override (`None` = inherit).
    pub request_retry: Option<u32>,
    /// Error classification rules.
    pub request_scoped_errors: Vec<ScopedErrorRule>,
}

/// One key of an OpenAI-compatible provider. `Debug` hides the key and the
/// proxy password.
#[derive(Clone, PartialEq)]
pub struct ApiKeyEntry {
    /// The key (trimmed).
    pub api_key: Secret,
    /// The per-key proxy as written (trimmed); `None` when absent.
    pub proxy_url: Option<String>,
    /// Weighted-round-robin share: omitted = 1, <= 0 = 0 (excluded under WRR),
    /// at most 1,000,000.
    pub weight: u32,
    /// `proxy_url` parsed.
    pub proxy: ProxySetting,
}

impl Config {
    /// The API-key entries of a keyed provider kind, in config order
    /// (`openai-compatibility` has its own shape: empty here).
    pub fn keyed(&self, kind: crate::providers::Kind) -> &[ProviderKey] {
        &self.keyed[Self::slot(kind)]
    }

    /// Index of a kind's list in `keyed` (the enum's declaration order; the
    /// `openai-compatibility` slot stays empty).
    pub(crate) fn slot(kind: crate::providers::Kind) -> usize {
        kind as usize
    }
}

impl fmt::Debug for ApiKeyEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeyEntry")
            .field("api_key", &self.api_key)
            .field("weight", &self.weight)
            .field("proxy", &self.proxy)
            .finish_non_exhaustive()
    }
}

/// A configured model.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ModelAlias {
    /// Upstream model name (trimmed, non-empty).
    pub name: String,
    /// Client-visible alias; `""` if none.
    pub alias: String,
    /// Catalog display name; `""` if none.
    pub display_name: String,
    /// Context window advertised to Codex clients; 0 if unset.
    pub max_context_length: u64,
    /// Rewrite response model fields back to the alias.
    pub force_mapping: bool,
    /// Callable through /v1/images/* (openai-compatibility only).
    pub image: bool,
    /// Declared input modalities.
    pub input_modalities: Vec<String>,
    /// Declared output modalities.
    pub output_modalities: Vec<String>,
    /// Compatible-upstream thinking handling.
    pub is_compat: bool,
    /// Thinking capability; `None` = provider default.
    pub thinking: Option<RawThinking>,
}

/// A credential from one of the `*-api-key` lists. `Debug` hides the key and
/// header values.
#[derive(Clone, PartialEq)]
pub struct ProviderKey {
    /// The key (trimmed; may be empty for gemini entries that only set base-url).
    pub api_key: Secret,
    /// Endpoint, trimmed, trailing `/` removed; `""` = provider default.
    pub base_url: String,
    /// Per-key proxy.
    pub proxy: ProxySetting,
    /// Model namespace (no `/`).
    pub prefix: Option<String>,
    /// Higher is preferred.
    pub priority: i32,
    /// Weighted-round-robin share (see [`ApiKeyEntry::weight`]).
    pub weight: u32,
    /// Extra upstream headers.
    pub headers: Vec<(String, String)>,
    /// Models.
    pub models: Vec<ModelAlias>,
    /// Hidden models, normalised.
    pub excluded_models: Vec<String>,
    /// Cooling override.
    pub disable_cooling: Option<bool>,
    /// HTTP/1.1 only to this upstream (`None` = the global `force-http1`).
    pub force_http1: Option<bool>,
    /// Retry override (`None` = inherit; negative in the file = inherit).
    pub request_retry: Option<u32>,
    /// Error classification rules.
    pub request_scoped_errors: Vec<ScopedErrorRule>,
    /// Websocket transport (codex/xai).
    pub websockets: bool,
    /// Serve /v1/alpha/search (codex only).
    pub alpha_search: bool,
}

/// Debug view of headers: names only (values may be credentials).
struct RedactedHeaders<'a>(&'a [(String, String)]);

impl fmt::Debug for RedactedHeaders<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(k, _)| (k, "****")))
            .finish()
    }
}

impl fmt::Debug for OpenAiCompat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiCompat")
            .field("name", &self.name)
            .field("base_url", &self.base_url)
            .field("api_key_entries", &self.api_key_entries)
            .field("models", &self.models)
            .field("headers", &RedactedHeaders(&self.headers))
            .field("prefix", &self.prefix)
            .field("excluded_models", &self.excluded_models)
            .field("priority", &self.priority)
            .field("disabled", &self.disabled)
            .field("support_prompt_cache_key", &self.support_prompt_cache_key)
            .field("disable_cooling", &self.disable_cooling)
            .field("request_retry", &self.request_retry)
            .field("request_scoped_errors", &self.request_scoped_errors)
            .finish()
    }
}

impl fmt::Debug for ProviderKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderKey")
            .field("api_key", &self.api_key)
            .field("base_url", &self.base_url)
            .field("proxy", &self.proxy)
            .field("prefix", &self.prefix)
            .field("priority", &self.priority)
            .field("weight", &self.weight)
            .field("headers", &RedactedHeaders(&self.headers))
            .field("models", &self.models)
            .field("excluded_models", &self.excluded_models)
            .field("disable_cooling", &self.disable_cooling)
            .field("request_retry", &self.request_retry)
            .field("request_scoped_errors", &self.request_scoped_errors)
            .field("websockets", &self.websockets)
            .field("alpha_search", &self.alpha_search)
            .finish()
    }
}

/// A request-scoped error rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopedErrorRule {
    /// Upstream status (100..=599).
    pub status: u16,
    /// Body substrings (any matches).
    pub matches: Vec<String>,
    /// Body regular expressions, as written (not compiled here).
    pub match_regexr: Vec<String>,
    /// What to do on a match.
    pub action: ScopedErrorAction,
}

/// `action` of a request-scoped error rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopedErrorAction {
    /// Return the error, no cooling.
    Stop,
    /// Return the error and cool the credential down.
    StopAndCooldown,
    /// Try the next credential, no cooling.
    Continue,
    /// Try the next credential and cool this one down.
    ContinueAndCooldown,
}

/// An `oauth-model-alias` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthAlias {
    /// Upstream model.
    pub name: String,
    /// Client-visible alias (unique per channel, case-insensitive).
    pub alias: String,
    /// Keep the original model visible too.
    pub fork: bool,
    /// Catalog display name; `""` if none.
    pub display_name: String,
    /// Rewrite response model fields back to the alias.
    pub force_mapping: bool,
}

/// TLS certificate and key paths (relative paths joined to the config directory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// Certificate chain (PEM).
    pub cert: PathBuf,
    /// Private key (PEM).
    pub key: PathBuf,
}

/// Credential selection settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routing {
    /// Strategy.
    pub strategy: RoutingStrategy,
    /// Sticky sessions.
    pub session_affinity: bool,
    /// Binding lifetime (default 1 h).
    pub session_affinity_ttl: Duration,
}

/// `routing.strategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RoutingStrategy {
    /// `round-robin` (also `roundrobin`, `rr`, empty).
    #[default]
    RoundRobin,
    /// `fill-first` (also `fillfirst`, `ff`).
    FillFirst,
    /// `weighted-round-robin` (also `weightedroundrobin`, `wrr`).
    WeightedRoundRobin,
}

impl RoutingStrategy {
    /// Parses a strategy name or alias (trimmed, case-insensitive).
    pub fn parse(s: &str) -> Option<RoutingStrategy> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "round-robin" | "roundrobin" | "rr" => Some(RoutingStrategy::RoundRobin),
            "fill-first" | "fillfirst" | "ff" => Some(RoutingStrategy::FillFirst),
            "weighted-round-robin" | "weightedroundrobin" | "wrr" => {
                Some(RoutingStrategy::WeightedRoundRobin)
            }
            _ => None,
        }
    }
}

/// Parses YAML text into the raw layer, with unknown-key warnings.
pub fn parse_raw(yaml: &str) -> Result<(RawConfig, Vec<Warning>), ConfigError> {
    if yaml.len() > MAX_CONFIG_BYTES {
        return Err(ConfigError::new(
            "",
            format!("file is larger than {MAX_CONFIG_BYTES} bytes"),
        ));
    }
    check_flow_depth(yaml)?;
    let mut value: Value = if yaml.trim().is_empty() {
        Value::Null
    } else {
        serde_yaml::from_str(yaml).map_err(yaml_error)?
    };
    value
        .apply_merge()
        .map_err(|e| ConfigError::new("", format!("invalid YAML merge key: {e}")))?;
    let mut cx = de::Cx::default();
    let raw = match de::untag(&value) {
        Value::Null => RawConfig::default(),
        Value::Mapping(_) => <RawConfig as de::FromYaml>::from_yaml(&value, "", &mut cx)?,
        other => return Err(de::type_error("", "a mapping at the top level", other)),
    };
    Ok((raw, cx.warnings))
}

/// Largest config text accepted: 16 MiB. Real files are a few KiB; even
/// thousands of credential entries stay far below this, and the bound keeps a
/// mistaken path (a log file, a disk image) from being parsed at length.
pub const MAX_CONFIG_BYTES: usize = 16 << 20;

/// Deepest `[`/`{` flow nesting accepted. serde_yaml rejects documents nested
/// deeper than 128 anyway, but the YAML scanner underneath is quadratic in flow
/// depth before it gets there (80,000 `[` take ~40 s), so floods are refused
/// up front.
pub const MAX_FLOW_DEPTH: usize = 128;

/// Lexical pre-check of flow nesting: skips comments and quoted scalars (a quote
/// only opens a scalar after `:`, `-`, `[`, `{`, `,`, `?`, or at a line start),
/// counts `[`/`{` up and `]`/`}` down. Best effort: it counts brackets in block
/// scalars too (over-counting, harmless below 128).
fn check_flow_depth(text: &str) -> Result<(), ConfigError> {
    let b = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    // Last non-blank byte on the current line (None at line start).
    let mut prev: Option<u8> = None;
    while i < b.len() {
        let c = b[i];
        match c {
            b'\n' => prev = None,
            b'#' if i == 0 || matches!(b[i - 1], b' ' | b'\t' | b'\n' | b'\r') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'"' | b'\''
                if matches!(prev, None | Some(b':' | b'-' | b'[' | b'{' | b',' | b'?')) =>
            {
                i += 1;
                while i < b.len() && b[i] != c {
                    if c == b'"' && b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                prev = Some(c);
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_FLOW_DEPTH {
                    return Err(ConfigError::new(
                        "",
                        format!("[ and {{ are nested more than {MAX_FLOW_DEPTH} deep"),
                    ));
                }
                prev = Some(c);
            }
            b']' | b'}' => {
                depth = depth.saturating_sub(1);
                prev = Some(c);
            }
            b' ' | b'\t' | b'\r' => {}
            _ => prev = Some(c),
        }
        i += 1;
    }
    Ok(())
}

/// A YAML-level error. serde_yaml prefixes some messages with the key path
/// (`a[0].c: invalid type ...`) or names a duplicated key; that is lifted into
/// `key_path` (best effort), otherwise the path is `""`.
fn yaml_error(e: serde_yaml::Error) -> ConfigError {
    let text = e.to_string();
    if let Some((head, rest)) = text.split_once(": ") {
        let path_like = !head.is_empty()
            && head.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'[' | b']' | b'"')
            });
        if path_like {
            return ConfigError::new(head, format!("invalid YAML: {rest}"));
        }
    }
    if let Some(rest) = text.strip_prefix("duplicate entry with key \"") {
        if let Some((key, _)) = rest.split_once('"') {
            return ConfigError::new(de::join_key("", key), format!("invalid YAML: {text}"));
        }
    }
    ConfigError::new("", format!("invalid YAML: {text}"))
}

/// Parses and validates YAML text. Relative paths in it are joined to `base_dir`.
pub fn parse_str(yaml: &str, base_dir: &Path) -> Result<(Config, Vec<Warning>), ConfigError> {
    let (raw, mut warnings) = parse_raw(yaml)?;
    let (config, more) = Config::from_raw(raw, base_dir)?;
    warnings.extend(more);
    Ok((config, warnings))
}

/// Reads, parses and validates a config file; relative paths in it are joined to
/// the file's directory. A missing or unreadable file is an error with key path `""`.
pub fn load_file(path: &Path) -> Result<(Config, Vec<Warning>), ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new("", format!("cannot read {}: {e}", path.display())))?;
    let base_dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    parse_str(&text, base_dir)
}

/// `claude-header-defaults` / `codex-header-defaults`: operator fallbacks
/// for the fingerprint headers, each trimmed; an empty value keeps the
/// built-in one. Precedence is CLIProxyAPI v6.9.7's: a provider's or auth
/// file's own `headers` win over everything (the writers skip those names);
/// then, per header, see `accounts::wire::claude::write_head` and
/// `accounts::wire::codex::write_head`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderDefaults {
    /// `User-Agent` for Claude requests from clients that are not Claude Code.
    pub claude_user_agent: String,
    /// `X-Stainless-Package-Version` when the client sends none.
    pub claude_package_version: String,
    /// `X-Stainless-Runtime-Version` when the client sends none.
    pub claude_runtime_version: String,
    /// `X-Stainless-Timeout` when the client sends none.
    pub claude_timeout: String,
    /// OAuth Codex `User-Agent`; beats the client's own (v6.9.7's
    /// `ensureHeaderWithConfigPrecedence`).
    pub codex_user_agent: String,
    /// OAuth Codex `X-Codex-Beta-Features` on Responses WebSocket upgrades
    /// only, when the client sends none (`upstream::ws`).
    pub codex_beta_features: String,
}

impl HeaderDefaults {
    /// Equal to `other` (as `==`), without calling `memcmp` on empty
    /// values: an empty `String` points at a dangling address, and glibc's
    /// AVX-512 `memcmp` still issues a fully masked load there, whose fault
    /// suppression costs a microcode assist (~0.6 µs, 3% of a translated
    /// request's CPU when this ran per request with all six values empty).
    pub fn same_as(&self, other: &HeaderDefaults) -> bool {
        fn eq(a: &str, b: &str) -> bool {
            a.len() == b.len() && (a.is_empty() || a == b)
        }
        // Destructured so a new field cannot be left out.
        let HeaderDefaults {
            claude_user_agent,
            claude_package_version,
            claude_runtime_version,
            claude_timeout,
            codex_user_agent,
            codex_beta_features,
        } = self;
        eq(claude_user_agent, &other.claude_user_agent)
            && eq(claude_package_version, &other.claude_package_version)
            && eq(claude_runtime_version, &other.claude_runtime_version)
            && eq(claude_timeout, &other.claude_timeout)
            && eq(codex_user_agent, &other.codex_user_agent)
            && eq(codex_beta_features, &other.codex_beta_features)
    }
}
