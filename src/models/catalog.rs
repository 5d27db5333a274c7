//! The built-in model catalog: the default models of API-key entries that
//! list no `models`; the provider table ([`crate::providers::Spec::catalog`])
//! says which list a kind uses (Google-hosted kinds share the Gemini list:
//! they serve the same model identifiers).
//!
//! The data is `catalog.json` next to this file, compiled in and parsed once on
//! first use. Codex entries use the models of CLIProxyAPI's Codex "pro"
//! plan, which is what CLIProxyAPI registers for a Codex API key.
//!
//! Guarantees: never panics; if the compiled-in text could not be parsed (a
//! build defect the unit tests catch) every list is empty.

use std::sync::OnceLock;

use serde::Deserialize;

use super::{ModelInfo, ProviderKind, Thinking};

/// The compiled-in catalog text.
pub const CATALOG_JSON: &str = include_str!("catalog.json");

#[derive(Deserialize)]
struct RawCatalog {
    claude: Vec<RawModel>,
    gemini: Vec<RawModel>,
    codex: Vec<RawModel>,
}

#[derive(Deserialize)]
struct RawModel {
    id: String,
    owned_by: String,
    #[serde(rename = "type")]
    model_type: String,
    display_name: String,
    #[serde(default)]
    created: i64,
    #[serde(default)]
    version: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    context_length: u64,
    #[serde(default)]
    max_completion_tokens: u64,
    #[serde(default, rename = "inputTokenLimit")]
    input_token_limit: u64,
    #[serde(default, rename = "outputTokenLimit")]
    output_token_limit: u64,
    #[serde(default, rename = "supportedGenerationMethods")]
    supported_generation_methods: Vec<String>,
    #[serde(default, rename = "supportedInputModalities")]
    supported_input_modalities: Vec<String>,
    #[serde(default, rename = "supportedOutputModalities")]
    supported_output_modalities: Vec<String>,
    #[serde(default)]
    thinking: Option<RawThinking>,
}

#[derive(Deserialize)]
struct RawThinking {
    #[serde(default)]
    min: i64,
    #[serde(default)]
    max: i64,
    #[serde(default)]
    zero_allowed: bool,
    #[serde(default)]
    dynamic_allowed: bool,
    #[serde(default)]
    levels: Vec<String>,
}

impl From<RawModel> for ModelInfo {
    fn from(m: RawModel) -> Self {
        ModelInfo {
            id: m.id,
            created: m.created,
            owned_by: m.owned_by,
            model_type: m.model_type,
            display_name: m.display_name,
            version: m.version,
            description: m.description,
            context_length: m.context_length,
            max_context_length: 0,
            max_completion_tokens: m.max_completion_tokens,
            input_token_limit: m.input_token_limit,
            output_token_limit: m.output_token_limit,
            supported_generation_methods: m.supported_generation_methods,
            supported_input_modalities: m.supported_input_modalities,
            supported_output_modalities: m.supported_output_modalities,
            thinking: m.thinking.map(|t| Thinking {
                min: t.min,
                max: t.max,
                zero_allowed: t.zero_allowed,
                dynamic_allowed: t.dynamic_allowed,
                levels: t.levels,
            }),
            user_defined: false,
            is_compat: false,
        }
    }
}

/// The parsed catalog.
#[derive(Debug, Default)]
pub struct Catalog {
    /// Claude defaults.
    pub claude: Vec<ModelInfo>,
    /// Gemini defaults (every kind whose table entry names this list).
    pub gemini: Vec<ModelInfo>,
    /// Codex defaults.
    pub codex: Vec<ModelInfo>,
}

/// Parses catalog text.
pub fn parse(text: &str) -> Result<Catalog, serde_json::Error> {
    let raw: RawCatalog = serde_json::from_str(text)?;
    let conv = |v: Vec<RawModel>| v.into_iter().map(ModelInfo::from).collect();
    Ok(Catalog {
        claude: conv(raw.claude),
        gemini: conv(raw.gemini),
        codex: conv(raw.codex),
    })
}

/// Parses a JSON object of named model lists in the catalog's entry format
/// (the OAuth account kinds that keep their own lists use it).
pub fn parse_lists(
    text: &str,
) -> Result<std::collections::HashMap<String, Vec<ModelInfo>>, serde_json::Error> {
    let raw: std::collections::HashMap<String, Vec<RawModel>> = serde_json::from_str(text)?;
    Ok(raw
        .into_iter()
        .map(|(k, v)| (k, v.into_iter().map(ModelInfo::from).collect()))
        .collect())
}

/// The compiled-in catalog (parsed once).
pub fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| parse(CATALOG_JSON).unwrap_or_default())
}

/// Antigravity's models (CLIProxyAPI v6.9.7's `antigravity` list: Gemini,
/// Claude and GPT-OSS models served through the Antigravity account).
pub const ANTIGRAVITY_JSON: &str = include_str!("catalog_antigravity.json");

/// The models an Antigravity account serves (parsed once; empty if the
/// compiled-in text could not be parsed, which the unit tests catch).
pub fn antigravity() -> &'static [ModelInfo] {
    static LIST: OnceLock<Vec<ModelInfo>> = OnceLock::new();
    LIST.get_or_init(|| {
        serde_json::from_str::<Vec<RawModel>>(ANTIGRAVITY_JSON)
            .map(|v| v.into_iter().map(ModelInfo::from).collect())
            .unwrap_or_default()
    })
}

/// The default models of an API-key entry of `kind` that lists no models.
/// `openai-compatibility` has no defaults.
pub fn defaults(kind: ProviderKind) -> &'static [ModelInfo] {
    let c = catalog();
    match kind.spec().catalog {
        crate::providers::Catalog::Claude => &c.claude,
        crate::providers::Catalog::Gemini => &c.gemini,
        crate::providers::Catalog::Codex => &c.codex,
        crate::providers::Catalog::None => &[],
    }
}

/// The catalog entry for an upstream model name, searching Claude, Gemini and
/// Codex in that order (CLIProxyAPI's static lookup used for the thinking
/// capability of configured models).
pub fn lookup(id: &str) -> Option<&'static ModelInfo> {
    let c = catalog();
    c.claude
        .iter()
        .chain(&c.gemini)
        .chain(&c.codex)
        .find(|m| m.id == id)
}
