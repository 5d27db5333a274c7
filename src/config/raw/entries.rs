//! Raw shapes of the provider entry sections (`gemini-api-key`,
//! `codex-api-key`, `claude-api-key`, `vertex-api-key`,
//! `openai-compatibility`, ...) and their `models` lists.

use super::*;
use crate::providers::Kind;

raw_struct! {
    /// `models[]` of gemini/interactions/codex/xai/claude keys.
    pub struct RawModel {
        /// Upstream model.
        "name" => name: String,
        /// Client-visible alias.
        "alias" => alias: String,
        /// Catalog display name.
        "display-name" => display_name: String,
        /// Context window advertised to Codex clients.
        "max-context-length" => max_context_length: i64,
        /// Rewrite response model back to the alias.
        "force-mapping" => force_mapping: bool,
        /// Compatible-upstream thinking handling.
        "is-compat" => is_compat: bool,
        /// Thinking capability.
        "thinking" => thinking: Option<RawThinking>,
    }
}

raw_struct! {
    /// `models[]` items that need both `name` and `alias` (`vertex-api-key`).
    pub struct RawAliasedModel {
        /// Upstream model.
        "name" => name: String,
        /// Client-visible alias.
        "alias" => alias: String,
        /// Catalog display name.
        "display-name" => display_name: String,
        /// Rewrite response model back to the alias.
        "force-mapping" => force_mapping: bool,
        /// Thinking capability.
        "thinking" => thinking: Option<RawThinking>,
    }
}

raw_struct! {
    /// `openai-compatibility[].models[]`.
    pub struct RawCompatModel {
        /// Upstream model.
        "name" => name: String,
        /// Client-visible alias (repeat to build a pool).
        "alias" => alias: String,
        /// Catalog display name.
        "display-name" => display_name: String,
        /// Context window advertised to Codex clients.
        "max-context-length" => max_context_length: i64,
        /// Rewrite response model back to the alias.
        "force-mapping" => force_mapping: bool,
        /// Callable through /v1/images/*.
        "image" => image: bool,
        /// Declared input modalities.
        "input-modalities" => input_modalities: Vec<String>,
        /// Declared output modalities.
        "output-modalities" => output_modalities: Vec<String>,
        /// Compatible-upstream thinking handling.
        "is-compat" => is_compat: bool,
        /// Thinking capability (omitted = levels low/medium/high).
        "thinking" => thinking: Option<RawThinking>,
    }
}

raw_struct! {
    /// `gemini-api-key[]` and `interactions-api-key[]`.
    pub struct RawGeminiKey {
        /// API key.
        "api-key" => api_key: Secret,
        /// Higher is preferred.
        "priority" => priority: i64,
        /// Weighted-round-robin share (omitted = 1).
        "weight" => weight: Option<i64>,
        /// Model namespace.
        "prefix" => prefix: String,
        /// Endpoint override.
        "base-url" => base_url: String,
        /// Per-key proxy or direct/none (a `Secret`: it may carry a password).
        "proxy-url" => proxy_url: Secret,
        /// Model aliases.
        "models" => models: Vec<RawModel>,
        /// Extra upstream headers (values may be credentials, hence `Secret`).
        "headers" => headers: OrderedMap<Secret>,
        /// Hidden models (wildcards).
        "excluded-models" => excluded_models: Vec<String>,
        /// Cooling override.
        "disable-cooling" => disable_cooling: Option<bool>,
        /// cliproxy extension: speak only HTTP/1.1 to this upstream (default: the global `force-http1`).
        "force-http1" => force_http1: Option<bool>,
        /// Retry override (negative = inherit).
        "request-retry" => request_retry: Option<i64>,
        /// Error classification rules.
        "request-scoped-errors" => request_scoped_errors: Vec<RawScopedErrorRule>,
    }
}

raw_struct! {
    /// `codex-api-key[]` and `xai-api-key[]`.
    pub struct RawCodexKey {
        /// API key.
        "api-key" => api_key: Secret,
        /// Higher is preferred.
        "priority" => priority: i64,
        /// Weighted-round-robin share (omitted = 1).
        "weight" => weight: Option<i64>,
        /// Model namespace.
        "prefix" => prefix: String,
        /// Endpoint (required; entries without it are dropped).
        "base-url" => base_url: String,
        /// Websocket transport.
        "websockets" => websockets: bool,
        /// Serve /v1/alpha/search (codex only).
        "alpha-search" => alpha_search: bool,
        /// Per-key proxy or direct/none (a `Secret`: it may carry a password).
        "proxy-url" => proxy_url: Secret,
        /// Model aliases.
        "models" => models: Vec<RawModel>,
        /// Extra upstream headers (values may be credentials, hence `Secret`).
        "headers" => headers: OrderedMap<Secret>,
        /// Hidden models (wildcards).
        "excluded-models" => excluded_models: Vec<String>,
        /// Cooling override.
        "disable-cooling" => disable_cooling: Option<bool>,
        /// cliproxy extension: speak only HTTP/1.1 to this upstream (default: the global `force-http1`).
        "force-http1" => force_http1: Option<bool>,
        /// Retry override (negative = inherit).
        "request-retry" => request_retry: Option<i64>,
        /// Error classification rules.
        "request-scoped-errors" => request_scoped_errors: Vec<RawScopedErrorRule>,
    }
}

raw_struct! {
    /// `claude-api-key[].cloak`.
    pub struct RawCloak {
        /// auto | always | never.
        "mode" => mode: String,
        /// Strip caller system prompts.
        "strict-mode" => strict_mode: bool,
        /// Words obfuscated with zero-width characters.
        "sensitive-words" => sensitive_words: Vec<String>,
        /// Reuse a cached user_id per key.
        "cache-user-id" => cache_user_id: Option<bool>,
    }
}

raw_struct! {
    /// `claude-api-key[]`.
    pub struct RawClaudeKey {
        /// API key.
        "api-key" => api_key: Secret,
        /// Higher is preferred.
        "priority" => priority: i64,
        /// Weighted-round-robin share (omitted = 1).
        "weight" => weight: Option<i64>,
        /// Model namespace.
        "prefix" => prefix: String,
        /// Endpoint override (default api.anthropic.com).
        "base-url" => base_url: String,
        /// Per-key proxy or direct/none (a `Secret`: it may carry a password).
        "proxy-url" => proxy_url: Secret,
        /// Model aliases.
        "models" => models: Vec<RawModel>,
        /// Extra upstream headers (values may be credentials, hence `Secret`).
        "headers" => headers: OrderedMap<Secret>,
        /// Hidden models (wildcards).
        "excluded-models" => excluded_models: Vec<String>,
        /// Move role=system messages to the top-level system field.
        "rebuild-mid-system-message" => rebuild_mid_system_message: bool,
        /// Cooling override.
        "disable-cooling" => disable_cooling: Option<bool>,
        /// cliproxy extension: speak only HTTP/1.1 to this upstream (default: the global `force-http1`).
        "force-http1" => force_http1: Option<bool>,
        /// Retry override (negative = inherit).
        "request-retry" => request_retry: Option<i64>,
        /// Error classification rules.
        "request-scoped-errors" => request_scoped_errors: Vec<RawScopedErrorRule>,
        /// Cloaking for non-Claude-Code clients.
        "cloak" => cloak: Option<RawCloak>,
        /// "" or claude-code-cli (legacy alias oauth-cli).
        "fingerprint-profile" => fingerprint_profile: String,
        /// Deprecated, no effect.
        "experimental-cch-signing" => experimental_cch_signing: bool,
    }
}

raw_struct! {
    /// `vertex-api-key[]`.
    pub struct RawVertexKey {
        /// API key (sent as x-goog-api-key).
        "api-key" => api_key: Secret,
        /// Higher is preferred.
        "priority" => priority: i64,
        /// Weighted-round-robin share (omitted = 1).
        "weight" => weight: Option<i64>,
        /// Model namespace.
        "prefix" => prefix: String,
        /// Endpoint override (default Google Vertex).
        "base-url" => base_url: String,
        /// Per-key proxy or direct/none (a `Secret`: it may carry a password).
        "proxy-url" => proxy_url: Secret,
        /// Extra upstream headers (values may be credentials, hence `Secret`).
        "headers" => headers: OrderedMap<Secret>,
        /// Model aliases.
        "models" => models: Vec<RawAliasedModel>,
        /// Hidden models (wildcards).
        "excluded-models" => excluded_models: Vec<String>,
        /// Cooling override.
        "disable-cooling" => disable_cooling: Option<bool>,
        /// cliproxy extension: speak only HTTP/1.1 to this upstream (default: the global `force-http1`).
        "force-http1" => force_http1: Option<bool>,
        /// Retry override (negative = inherit).
        "request-retry" => request_retry: Option<i64>,
        /// Error classification rules.
        "request-scoped-errors" => request_scoped_errors: Vec<RawScopedErrorRule>,
    }
}

raw_struct! {
    /// `openai-compatibility[]`.
    pub struct RawOpenAiCompat {
        /// Provider name (provider key `openai-compatible-<lowercase name>`).
        "name" => name: String,
        /// Higher is preferred.
        "priority" => priority: i64,
        /// Keep the entry but do not use it.
        "disabled" => disabled: bool,
        /// Model namespace.
        "prefix" => prefix: String,
        /// Endpoint (required).
        "base-url" => base_url: String,
        /// Keys with optional per-key proxy and weight.
        "api-key-entries" => api_key_entries: Vec<RawCompatKeyEntry>,
        /// v6 legacy flat key list (merged into api-key-entries).
        "api-keys" => api_keys: Vec<Secret>,
        /// Model aliases / pools.
        "models" => models: Vec<RawCompatModel>,
        /// Extra upstream headers (values may be credentials, hence `Secret`).
        "headers" => headers: OrderedMap<Secret>,
        /// Derive prompt_cache_key.
        "support-prompt-cache-key" => support_prompt_cache_key: bool,
        /// Cooling override.
        "disable-cooling" => disable_cooling: Option<bool>,
        /// cliproxy extension: speak only HTTP/1.1 to this upstream (default: the global `force-http1`).
        "force-http1" => force_http1: Option<bool>,
        /// Retry override (negative = inherit).
        "request-retry" => request_retry: Option<i64>,
        /// Error classification rules.
        "request-scoped-errors" => request_scoped_errors: Vec<RawScopedErrorRule>,
        /// cliproxy extension: hidden models (wildcards).
        "excluded-models" => excluded_models: Vec<String>,
    }
}

raw_struct! {
    /// `openai-compatibility[].api-key-entries[]`.
    pub struct RawCompatKeyEntry {
        /// API key.
        "api-key" => api_key: Secret,
        /// Weighted-round-robin share (omitted = 1).
        "weight" => weight: Option<i64>,
        /// Per-key proxy or direct/none (a `Secret`: it may carry a password).
        "proxy-url" => proxy_url: Secret,
    }
}

/// Fields every `*-api-key` entry shares, borrowed from it.
pub struct RawCommon<'a> {
    /// `api-key`.
    pub api_key: &'a Secret,
    /// `priority`.
    pub priority: i64,
    /// `weight`.
    pub weight: Option<i64>,
    /// `prefix`.
    pub prefix: &'a str,
    /// `base-url`.
    pub base_url: &'a str,
    /// `proxy-url` as written.
    pub proxy_url: &'a str,
    /// `headers`.
    pub headers: &'a OrderedMap<Secret>,
    /// `excluded-models`.
    pub excluded_models: &'a [String],
    /// `disable-cooling`.
    pub disable_cooling: Option<bool>,
    /// `force-http1`.
    pub force_http1: Option<bool>,
    /// `request-retry`.
    pub request_retry: Option<i64>,
    /// `request-scoped-errors`.
    pub request_scoped_errors: &'a [RawScopedErrorRule],
}

/// The `models` list of a `*-api-key` entry, in its section's shape.
pub enum RawModels<'a> {
    /// [`RawModel`] items (`name` required).
    Named(&'a [RawModel]),
    /// [`RawAliasedModel`] items (`name` and `alias` required).
    Aliased(&'a [RawAliasedModel]),
}

/// One entry of a `*-api-key` section, whatever its shape: what validation
/// reads from it. Keys a shape does not have read as their defaults.
pub trait RawKeyEntry {
    /// The shared fields.
    fn common(&self) -> RawCommon<'_>;
    /// `models`.
    fn models(&self) -> RawModels<'_>;
    /// `websockets` and `alpha-search`.
    fn transport(&self) -> (bool, bool) {
        (false, false)
    }
    /// `fingerprint-profile`.
    fn fingerprint_profile(&self) -> &str {
        ""
    }
    /// `cloak`.
    fn cloak(&self) -> Option<&RawCloak> {
        None
    }
}

/// `RawCommon` of an entry struct (they all spell the shared keys alike).
macro_rules! raw_common {
    ($e:expr) => {
        RawCommon {
            api_key: &$e.api_key,
            priority: $e.priority,
            weight: $e.weight,
            prefix: &$e.prefix,
            base_url: &$e.base_url,
            proxy_url: $e.proxy_url.expose(),
            headers: &$e.headers,
            excluded_models: &$e.excluded_models,
            disable_cooling: $e.disable_cooling,
            force_http1: $e.force_http1,
            request_retry: $e.request_retry,
            request_scoped_errors: &$e.request_scoped_errors,
        }
    };
}

impl RawKeyEntry for RawGeminiKey {
    fn common(&self) -> RawCommon<'_> {
        raw_common!(self)
    }
    fn models(&self) -> RawModels<'_> {
        RawModels::Named(&self.models)
    }
}

impl RawKeyEntry for RawCodexKey {
    fn common(&self) -> RawCommon<'_> {
        raw_common!(self)
    }
    fn models(&self) -> RawModels<'_> {
        RawModels::Named(&self.models)
    }
    fn transport(&self) -> (bool, bool) {
        (self.websockets, self.alpha_search)
    }
}

impl RawKeyEntry for RawClaudeKey {
    fn common(&self) -> RawCommon<'_> {
        raw_common!(self)
    }
    fn models(&self) -> RawModels<'_> {
        RawModels::Named(&self.models)
    }
    fn fingerprint_profile(&self) -> &str {
        &self.fingerprint_profile
    }
    fn cloak(&self) -> Option<&RawCloak> {
        self.cloak.as_ref()
    }
}

impl RawKeyEntry for RawVertexKey {
    fn common(&self) -> RawCommon<'_> {
        raw_common!(self)
    }
    fn models(&self) -> RawModels<'_> {
        RawModels::Aliased(&self.models)
    }
}

/// A section's entries as [`RawKeyEntry`]s.
pub fn key_entries<E: RawKeyEntry>(list: &[E]) -> Vec<&dyn RawKeyEntry> {
    list.iter().map(|e| e as &dyn RawKeyEntry).collect()
}

impl RawConfig {
    /// The raw entries of a keyed provider kind's section, in file order
    /// (`openai-compatibility` has its own shape: empty here).
    pub fn keyed(&self, kind: Kind) -> Vec<&dyn RawKeyEntry> {
        match kind {
            Kind::Gemini => key_entries(&self.gemini_api_key),
            Kind::Codex => key_entries(&self.codex_api_key),
            Kind::Claude => key_entries(&self.claude_api_key),
            Kind::Vertex => key_entries(&self.vertex_api_key),
            Kind::OpenAiCompat => Vec::new(),
        }
    }
}
