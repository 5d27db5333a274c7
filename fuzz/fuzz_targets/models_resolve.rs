//! Fuzz target: model lookup and the Anthropic list cloak never panic, and
//! cloaking round-trips for ids without parentheses.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use cliproxy::config::parse_str;
use cliproxy::models::{cloak_id, decloak_id, split_suffix, Registry};
use libfuzzer_sys::fuzz_target;

const CONFIG: &str = r#"
claude-api-key: [{api-key: c1, prefix: team}]
gemini-api-key: [{api-key: g1}]
codex-api-key: [{api-key: x1, base-url: "https://api.example.com/v1"}]
openai-compatibility:
  - name: router
    base-url: "https://compat.example.com/v1"
    models: [{name: up, alias: "my(8192)"}]
"#;

fn registry() -> &'static Registry {
    static REG: OnceLock<Registry> = OnceLock::new();
    REG.get_or_init(|| match parse_str(CONFIG, Path::new("/tmp")) {
        Ok((cfg, _)) => Registry::build_at(&cfg, 1),
        Err(_) => Registry::default(),
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let reg = registry();
    if let Some(r) = reg.resolve(s) {
        assert!(!r.targets.is_empty());
        assert!(reg.targets(r.id).is_some());
    }
    let _ = reg.claude_default_max_tokens(s);
    let mut out = Vec::new();
    if reg.write_gemini_model(s, &mut out) {
        assert!(serde_json::from_slice::<serde_json::Value>(&out).is_ok());
    }
    let (base, suffix) = split_suffix(s);
    if let Some(v) = suffix {
        assert_eq!(base.len() + v.len() + 2, s.len());
    }
    if !s.contains(['(', ')']) && !s.starts_with("claude-") {
        assert_eq!(decloak_id(&cloak_id(s)), s);
    }
});
