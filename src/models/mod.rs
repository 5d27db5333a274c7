//! The model registry: which client-visible model ids exist and where each one
//! is served.
//!
//! [`Registry::build`] turns a [`Config`](crate::config::Config) into an
//! immutable table, following CLIProxyAPI's registration rules for API-key
//! entries (`sdk/cliproxy/service_models.go`):
//!
//! - Entry kinds, registered in CLIProxyAPI's order
//!   ([`crate::providers::Kind::REGISTRY_ORDER`]).
//! - An entry that lists `models` registers exactly those (`alias`, or `name`
//!   when there is no alias, is the client-visible id; `name` is the upstream
//!   model). An API-key entry without `models` registers its provider's
//!   built-in defaults ([`catalog`]); an `openai-compatibility` entry without
//!   `models` registers nothing.
//! - `excluded-models` wildcards (see [`crate::config::excluded`]) then remove
//!   ids, before any prefix is applied.
//! - A `prefix` adds `prefix/<id>` for every id. With `force-model-prefix` the
//!   bare `<id>` of a prefixed entry is not registered, unless the prefix equals
//!   the id.
//! - Each client-visible id maps to a list of [`Target`]s (provider kind, entry
//!   index, upstream model), in registration order. Several targets for one id
//!   are normal: the same model from several entries or providers, or an alias
//!   repeated over several names (a pool).
//! - `oauth-model-alias` is not applied: it renames models of OAuth channels,
//!   and this registry covers only the config's API-key entries.
//!
//! Guarantees:
//! - Building and every lookup are pure and never panic, whatever the config.
//! - Targets of one id keep config order; no id has an empty target list; a
//!   target is never duplicated for one id.
//! - Ids are compared exactly (case-sensitive), as CLIProxyAPI's registry map
//!   does; only the alias de-duplication inside one entry ignores case.
//!
//! Deliberate differences from CLIProxyAPI (whose registry is a live,
//! reference-counted map filled by each credential as it loads):
//! - Listings and [`Registry::info`] use the info of an id's *first* target
//!   in config order (CLIProxyAPI: whichever credential registered last), and
//!   list ids in registration order (CLIProxyAPI: map order, i.e. random).
//! - The Gemini `name` of a prefixed model is `models/<prefix>/<id>`, the name
//!   a client can call (CLIProxyAPI keeps the unprefixed catalog name).
//! - The thinking capability of a configured model whose `thinking` is unset
//!   is looked up in this crate's catalog only (CLIProxyAPI also searches its
//!   OAuth-only channels: AI Studio, Antigravity, Kimi, xAI).
//! - `interactions-api-key` and `xai-api-key` entries are not registered yet.
//!
//! Lookup ([`Registry::resolve`]) understands the thinking suffix
//! `model(value)`, the Anthropic list cloak `claude-fable-5-dd-<reversed id>`
//! and `auto`; listing ([`list`]) writes the OpenAI, Anthropic and Gemini model
//! list bodies.

mod build;
pub mod catalog;
pub mod list;
mod resolve;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

pub use build::AccountView;
pub use resolve::{cloak_id, decloak_id, split_suffix, trim, CLAUDE_CLOAK_PREFIX};

/// Default `max_tokens` for a Claude request whose model is registered for
/// Claude without a positive `max_completion_tokens` (CLIProxyAPI's
/// `defaultModelMaxTokens`).
pub const CLAUDE_FALLBACK_MAX_TOKENS: u32 = 1024;

/// The kind of config entry a target comes from (the provider table).
pub use crate::providers::Kind as ProviderKind;

/// Thinking / reasoning capability of a model (CLIProxyAPI's
/// `ThinkingSupport`). Budgets are provider-native tokens; 0 means unset.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Thinking {
    /// Smallest budget (inclusive); 0 = no lower bound given.
    pub min: i64,
    /// Largest budget (inclusive); 0 = no budget range (level-only models).
    pub max: i64,
    /// Budget 0 (thinking off) is accepted.
    pub zero_allowed: bool,
    /// Budget -1 (dynamic) is accepted.
    pub dynamic_allowed: bool,
    /// Discrete effort levels, lower-case; empty = budget-only.
    pub levels: Vec<String>,
}

/// What the registry knows about one model as served by one target.
///
/// Limits follow CLIProxyAPI's two styles: `context_length` /
/// `max_completion_tokens` (OpenAI/Claude style) and `input_token_limit` /
/// `output_token_limit` (Gemini style); 0 means unknown.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ModelInfo {
    /// Client-visible id (with prefix, if any).
    pub id: String,
    /// Unix seconds; 0 = unknown (then omitted from listings).
    pub created: i64,
    /// Owner (`anthropic`, `google`, `openai`, or the compat provider name).
    pub owned_by: String,
    /// CLIProxyAPI model type: the kind's [`crate::providers::Spec::model_type`],
    /// or `openai-image` for an image model of an OpenAI-compatible entry.
    pub model_type: String,
    /// Human-readable name; never empty for registered models.
    pub display_name: String,
    /// Version string (Gemini/Codex catalog entries); may be empty.
    pub version: String,
    /// Description; may be empty.
    pub description: String,
    /// Context window (OpenAI/Claude style).
    pub context_length: u64,
    /// `max-context-length` from the config (advertised to Codex clients).
    pub max_context_length: u64,
    /// Largest completion (OpenAI/Claude style).
    pub max_completion_tokens: u64,
    /// Input limit (Gemini style).
    pub input_token_limit: u64,
    /// Output limit (Gemini style).
    pub output_token_limit: u64,
    /// Gemini generation methods; may be empty.
    pub supported_generation_methods: Vec<String>,
    /// Input modalities; may be empty.
    pub supported_input_modalities: Vec<String>,
    /// Output modalities; may be empty.
    pub supported_output_modalities: Vec<String>,
    /// Thinking capability; `None` = no thinking support known.
    pub thinking: Option<Thinking>,
    /// Defined by an API-key entry's `models` list: CLIProxyAPI passes thinking
    /// settings for these through without validating them.
    pub user_defined: bool,
    /// `is-compat` of the configured model.
    pub is_compat: bool,
}

/// One place a client-visible model id is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Which config list the entry is in.
    pub kind: ProviderKind,
    /// Index of the entry in that list (`Config::keyed(kind)[entry]`,
    /// `Config::openai_compatibility[entry]`).
    pub entry: usize,
    /// Model name to send upstream (prefix removed, alias resolved). It may
    /// carry a thinking suffix when the config's `name` does.
    pub upstream: String,
    /// `force-mapping` of the configured model: rewrite response `model`
    /// fields back to the client-visible id.
    pub force_mapping: bool,
    /// The model's info as registered by this target.
    pub info: ModelInfo,
}

/// The result of [`Registry::resolve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved<'a> {
    /// The registered id that matched.
    pub id: &'a str,
    /// Where it is served, in config order; never empty.
    pub targets: &'a [Target],
    /// The raw thinking suffix (`high` for `model(high)`), when the request
    /// carried one and the id matched without it.
    pub thinking_suffix: Option<&'a str>,
}

/// Hasher for the id table: a multiply-rotate hash over 8-byte words (the
/// Fx hash of rustc). Not DoS-resistant, which is fine here: the table's keys
/// come from the operator's config, and a request only looks one key up.
type IdHash = BuildHasherDefault<FxHasher>;

/// See [`IdHash`].
#[derive(Default)]
struct FxHasher(u64);

/// Fx hash multiplier (from rustc's `FxHasher`).
const FX_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(FX_SEED);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// One registered id and its targets.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    id: String,
    targets: Vec<Target>,
}

/// The immutable model table built from a config. See the module docs.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    /// Ids in first-registration order.
    entries: Vec<Entry>,
    /// Id -> index into `entries`.
    index: HashMap<String, usize, IdHash>,
    /// Index of the model `auto` resolves to.
    auto: Option<usize>,
}

impl Registry {
    /// Number of client-visible ids.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no model is registered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Client-visible ids in registration order.
    pub fn ids(&self) -> impl Iterator<Item = &str> + '_ {
        self.entries.iter().map(|e| e.id.as_str())
    }

    /// The targets of an exactly matching id (no suffix or cloak handling).
    pub fn targets(&self, id: &str) -> Option<&[Target]> {
        self.index
            .get(id)
            .and_then(|&i| self.entries.get(i))
            .map(|e| e.targets.as_slice())
    }

    /// The info listed for an exactly matching id: that of its first target.
    pub fn info(&self, id: &str) -> Option<&ModelInfo> {
        self.targets(id).and_then(|t| t.first()).map(|t| &t.info)
    }

    /// The info registered for `id` by its first target of provider `kind`.
    pub fn info_for(&self, id: &str, kind: ProviderKind) -> Option<&ModelInfo> {
        self.targets(id)?
            .iter()
            .find(|t| t.kind == kind)
            .map(|t| &t.info)
    }

    /// The model id `auto` resolves to: the newest (`created`) registered
    /// model, the first registered one among equals. `None` when empty.
    pub fn auto_model(&self) -> Option<&str> {
        self.auto
            .and_then(|i| self.entries.get(i))
            .map(|e| e.id.as_str())
    }

    /// Listing order: every id with its listed info (first target's).
    fn listed(&self) -> impl Iterator<Item = &ModelInfo> + '_ {
        self.entries
            .iter()
            .filter_map(|e| e.targets.first().map(|t| &t.info))
    }
}
