//! `ampcode` (v6.9 legacy Amp CLI integration), validated: what
//! `crate::amp` reads from the snapshot on every request, so a reload
//! takes effect on the next one.

use crate::secret::Secret;

/// The validated `ampcode` section (legacy flat `amp-*` keys migrated in).
#[derive(Debug, Clone, Default)]
pub struct AmpCode {
    /// `upstream-url`, trimmed, without trailing `/`; empty: the Amp
    /// upstream is off (management routes answer 503, the provider routes
    /// serve local models only), as in CLIProxyAPI.
    pub upstream_url: String,
    /// `upstream-api-key`, trimmed (empty when unset).
    pub upstream_api_key: Secret,
    /// `upstream-api-keys[]`: (client key, upstream key), first entry wins
    /// for a client key listed twice.
    pub client_keys: Vec<(Secret, Secret)>,
    /// `restrict-management-to-localhost`.
    pub restrict_management_to_localhost: bool,
    /// `model-mappings[]`, in file order: exact ones are looked up first,
    /// then the regular expressions in order.
    pub model_mappings: Vec<AmpMapping>,
    /// `force-model-mappings`: mappings before local models.
    pub force_model_mappings: bool,
}

/// One `model-mappings[]` entry.
#[derive(Debug, Clone)]
pub struct AmpMapping {
    /// `from`, lower-cased (exact mappings compare case-insensitively).
    pub from: String,
    /// `to`, trimmed.
    pub to: String,
    /// `regex: true`: `from` compiled case-insensitively.
    pub regex: Option<regex::Regex>,
}

impl AmpCode {
    /// Whether requests may fall back to / be proxied to the Amp upstream.
    pub fn enabled(&self) -> bool {
        !self.upstream_url.is_empty()
    }

    /// The mapping target for `base` (a model name without thinking
    /// suffix): exact mappings (case-insensitive) first, then the regular
    /// expressions in file order.
    pub fn map(&self, base: &str) -> Option<&str> {
        let b = base.trim();
        if let Some(m) = self
            .model_mappings
            .iter()
            .find(|m| m.regex.is_none() && m.from.eq_ignore_ascii_case(b))
        {
            return Some(&m.to);
        }
        self.model_mappings
            .iter()
            .find(|m| m.regex.as_ref().is_some_and(|r| r.is_match(base)))
            .map(|m| m.to.as_str())
    }
}
