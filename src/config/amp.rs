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

#[cfg(test)]
mod tests {
    use crate::config::parse_str;

    fn amp(yaml: &str) -> (super::AmpCode, Vec<String>) {
        let (c, w) = parse_str(yaml, std::path::Path::new("/tmp")).unwrap();
        (c.ampcode, w.into_iter().map(|w| w.key_path).collect())
    }

    #[test]
    fn validated_section() {
        let (a, w) = amp(r#"
ampcode:
  upstream-url: " https://ampcode.com/ "
  upstream-api-key: " k "
  upstream-api-keys:
    - upstream-api-key: up-1
      api-keys: [c1, " c2 ", ""]
    - upstream-api-key: up-2
      api-keys: [c2, c3]
    - upstream-api-key: ""
      api-keys: [c4]
  restrict-management-to-localhost: true
  force-model-mappings: true
  model-mappings:
    - {from: " Claude-X ", to: " local-a "}
    - {from: "^gpt-(5|6)$", to: local-b, regex: true}
    - {from: "(", to: local-c, regex: true}
    - {from: "", to: local-d}
"#);
        assert!(a.enabled());
        assert_eq!(a.upstream_url, "https://ampcode.com");
        assert_eq!(a.upstream_api_key.expose(), "k");
        let keys: Vec<(&str, &str)> = a
            .client_keys
            .iter()
            .map(|(c, u)| (c.expose(), u.expose()))
            .collect();
        assert_eq!(keys, [("c1", "up-1"), ("c2", "up-1"), ("c3", "up-2")]);
        assert!(a.restrict_management_to_localhost && a.force_model_mappings);
        assert_eq!(a.model_mappings.len(), 2);
        assert_eq!(a.map("claude-x"), Some("local-a"));
        assert_eq!(a.map("GPT-6"), Some("local-b"));
        assert_eq!(a.map("gpt-7"), None);
        for k in [
            "ampcode.upstream-api-keys[2].upstream-api-key",
            "ampcode.model-mappings[2].from",
            "ampcode.model-mappings[3]",
        ] {
            assert!(w.iter().any(|p| p == k), "{k} not warned: {w:?}");
        }
    }

    #[test]
    fn legacy_flat_keys_and_off_by_default() {
        let (a, _) = amp("api-keys: [x]\n");
        assert!(!a.enabled());
        let (a, w) = amp(
            "amp-upstream-url: http://127.0.0.1:9\namp-upstream-api-key: old\namp-restrict-management-to-localhost: true\namp-model-mappings: [{from: a, to: b}]\n",
        );
        assert_eq!(a.upstream_url, "http://127.0.0.1:9");
        assert_eq!(a.upstream_api_key.expose(), "old");
        assert!(a.restrict_management_to_localhost);
        assert_eq!(a.map("A"), Some("b"));
        assert!(w.iter().any(|p| p == "amp-upstream-url"));
        let (a, w) = amp("ampcode:\n  upstream-url: ftp://x\n");
        assert!(!a.enabled());
        assert!(w.iter().any(|p| p == "ampcode.upstream-url"));
    }
}
