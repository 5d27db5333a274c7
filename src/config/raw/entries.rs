//! Raw shapes of the provider entry sections (`gemini-api-key`,
//! `codex-api-key`, `claude-api-key`, `vertex-api-key`,
//! `openai-compatibility`, ...) and their `models` lists.

use super::*;

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
    /// `vertex-api-key[].models[]`.
    pub struct RawVertexModel {
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
        "models" => models: Vec<RawVertexModel>,
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
