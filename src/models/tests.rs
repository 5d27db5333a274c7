use std::path::Path;

use serde_json::Value;

use super::catalog::{self, CATALOG_JSON};
use super::list::{
    rfc3339_utc, wants_anthropic_list, CLAUDE_LIST_MAX_INPUT, CLAUDE_LIST_MAX_OUTPUT,
};
use super::*;
use crate::config::{parse_str, Config};

const NOW: i64 = 1_700_000_000;

fn cfg(yaml: &str) -> Config {
    match parse_str(yaml, Path::new("/tmp")) {
        Ok((c, _)) => c,
        Err(e) => panic!("config: {e:?}"),
    }
}

fn reg(yaml: &str) -> Registry {
    Registry::build_at(&cfg(yaml), NOW)
}

fn ids_of(kind: ProviderKind) -> Vec<String> {
    catalog::defaults(kind)
        .iter()
        .map(|m| m.id.clone())
        .collect()
}

fn json(bytes: &[u8]) -> Value {
    match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => panic!("bad JSON {e}: {}", String::from_utf8_lossy(bytes)),
    }
}

fn target_tuples(r: &Registry, id: &str) -> Vec<(ProviderKind, usize, String)> {
    r.targets(id)
        .unwrap_or_default()
        .iter()
        .map(|t| (t.kind, t.entry, t.upstream.clone()))
        .collect()
}

// ---------------------------------------------------------------- catalog

#[test]
fn catalog_parses_with_sane_limits() {
    let c = match catalog::parse(CATALOG_JSON) {
        Ok(c) => c,
        Err(e) => panic!("catalog.json: {e}"),
    };
    for (name, list) in [
        ("claude", &c.claude),
        ("gemini", &c.gemini),
        ("codex", &c.codex),
    ] {
        assert!((5..=10).contains(&list.len()), "{name}: {}", list.len());
        let mut ids: Vec<&str> = list.iter().map(|m| m.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), list.len(), "{name}: duplicate ids");
        for m in list.iter() {
            assert!(!m.display_name.is_empty() && m.created > 0, "{}", m.id);
            assert!(m.thinking.is_some(), "{} has no thinking", m.id);
        }
    }
    for m in &c.claude {
        assert_eq!(
            (m.owned_by.as_str(), m.model_type.as_str()),
            ("anthropic", "claude")
        );
        assert!(
            m.context_length >= 200_000 && m.max_completion_tokens >= 64_000,
            "{}",
            m.id
        );
    }
    for m in &c.gemini {
        assert_eq!(m.owned_by, "google");
        assert_eq!(
            (m.input_token_limit, m.output_token_limit),
            (1_048_576, 65_536)
        );
        assert!(m
            .supported_generation_methods
            .iter()
            .any(|g| g == "generateContent"));
    }
    for m in &c.codex {
        assert_eq!(m.owned_by, "openai");
        assert_eq!(m.max_completion_tokens, 128_000, "{}", m.id);
    }
    // Spot values from CLIProxyAPI's models.json.
    let get = |id: &str| catalog::lookup(id).cloned().unwrap_or_default();
    let opus = get("claude-opus-4-6");
    assert_eq!(
        (opus.context_length, opus.max_completion_tokens),
        (1_000_000, 128_000)
    );
    let haiku = get("claude-haiku-4-5-20251001");
    assert_eq!(
        (haiku.context_length, haiku.max_completion_tokens),
        (200_000, 64_000)
    );
    let pro = get("gemini-2.5-pro");
    let t = pro.thinking.unwrap_or_default();
    assert_eq!(
        (t.min, t.max, t.zero_allowed, t.dynamic_allowed),
        (128, 32_768, false, true)
    );
    assert!(t.levels.is_empty());
    let g3 = get("gemini-3.1-pro-preview").thinking.unwrap_or_default();
    assert_eq!(g3.levels, ["low", "medium", "high"]);
    assert_eq!(get("gpt-5.4").context_length, 1_050_000);
    assert_eq!(
        get("gpt-5.5").thinking.unwrap_or_default().levels,
        ["low", "medium", "high", "xhigh"]
    );
}

#[test]
fn parse_rejects_broken_catalog() {
    assert!(catalog::parse("{").is_err());
    assert!(catalog::parse(r#"{"claude":[],"gemini":[]}"#).is_err());
}

// ---------------------------------------------------------------- build

#[test]
fn defaults_for_entries_without_models() {
    let r = reg(r#"
claude-api-key: [{api-key: c1}]
gemini-api-key: [{api-key: g1}]
codex-api-key: [{api-key: x1, base-url: "https://api.example.com/v1"}]
vertex-api-key: [{api-key: v1, base-url: "https://vertex.example.com"}]
openai-compatibility:
  - name: empty
    base-url: "https://compat.example.com/v1"
    api-key-entries: [{api-key: k}]
"#);
    for (kind, idx) in [
        (ProviderKind::Claude, 0),
        (ProviderKind::Gemini, 0),
        (ProviderKind::Codex, 0),
        (ProviderKind::Vertex, 0),
    ] {
        for id in ids_of(kind) {
            let ts = r.targets(&id).unwrap_or_default();
            let t = ts.iter().find(|t| t.kind == kind);
            assert!(t.is_some(), "{id} not registered for {kind:?}");
            if let Some(t) = t {
                assert_eq!((t.entry, t.upstream.as_str()), (idx, id.as_str()));
                assert!(!t.force_mapping && !t.info.user_defined);
            }
        }
    }
    // gemini + vertex share ids: claude, gemini, codex ids are all distinct.
    let expected = ids_of(ProviderKind::Claude).len()
        + ids_of(ProviderKind::Gemini).len()
        + ids_of(ProviderKind::Codex).len();
    assert_eq!(r.len(), expected);
    // Registration order: gemini keys, claude, codex, openai-compat, vertex.
    assert_eq!(
        target_tuples(&r, "gemini-2.5-pro"),
        [
            (ProviderKind::Gemini, 0, "gemini-2.5-pro".to_string()),
            (ProviderKind::Vertex, 0, "gemini-2.5-pro".to_string()),
        ]
    );
    assert_eq!(
        r.ids().next(),
        ids_of(ProviderKind::Gemini).first().map(String::as_str)
    );
    assert_eq!(
        r.info("claude-opus-4-6").map(|i| i.max_completion_tokens),
        Some(128_000)
    );
}

#[test]
fn compat_without_models_registers_nothing() {
    let r = reg(r#"
openai-compatibility:
  - name: empty
    base-url: "https://compat.example.com/v1"
"#);
    assert!(r.is_empty());
    assert_eq!(r.auto_model(), None);
    assert!(r.resolve("auto").is_none());
}

#[test]
fn configured_models_and_aliases() {
    let r = reg(r#"
claude-api-key:
  - api-key: c1
    models:
      - {name: claude-opus-4-6, alias: opus}
      - {name: claude-sonnet-4-6}
      - {name: claude-opus-4-6, alias: big, display-name: "Big One", force-mapping: true, max-context-length: 500000}
"#);
    let ids: Vec<&str> = r.ids().collect();
    assert_eq!(ids, ["opus", "claude-sonnet-4-6", "big"]);
    // Defaults are not added when models are listed.
    assert!(r.targets("claude-opus-4-6").is_none());
    let opus = &r.targets("opus").unwrap_or_default()[0];
    assert_eq!(
        (opus.kind, opus.entry, opus.upstream.as_str()),
        (ProviderKind::Claude, 0, "claude-opus-4-6")
    );
    assert!(!opus.force_mapping);
    let i = &opus.info;
    assert_eq!(
        i.display_name, "claude-opus-4-6",
        "display falls back to the upstream name"
    );
    assert_eq!(
        (i.owned_by.as_str(), i.model_type.as_str()),
        ("anthropic", "claude")
    );
    assert_eq!((i.created, i.user_defined), (NOW, true));
    assert_eq!((i.context_length, i.max_completion_tokens), (0, 0));
    assert_eq!(
        i.thinking,
        catalog::lookup("claude-opus-4-6").and_then(|m| m.thinking.clone())
    );
    let big = &r.targets("big").unwrap_or_default()[0];
    assert!(big.force_mapping);
    assert_eq!(big.info.display_name, "Big One");
    assert_eq!(
        (big.info.context_length, big.info.max_context_length),
        (500_000, 500_000)
    );
}

#[test]
fn configured_thinking_is_normalised() {
    let r = reg(r#"
gemini-api-key:
  - api-key: g
    models:
      - name: custom-model
        alias: cm
        thinking: {min: 10, max: 20, levels: [" High ", none, high, AUTO, ""]}
      - {name: unknown-upstream, alias: plain}
"#);
    let t = r
        .info("cm")
        .and_then(|i| i.thinking.clone())
        .unwrap_or_default();
    assert_eq!(
        (t.min, t.max, t.zero_allowed, t.dynamic_allowed),
        (10, 20, true, true)
    );
    assert_eq!(t.levels, ["high", "none", "auto"]);
    assert_eq!(r.info("plain").map(|i| i.thinking.is_none()), Some(true));
    assert_eq!(
        r.info("plain").map(|i| i.model_type.as_str()),
        Some("gemini")
    );
}

#[test]
fn compat_models_pools_and_defaults() {
    let r = reg(r#"
openai-compatibility:
  - name: router
    base-url: "https://compat.example.com/v1"
    models:
      - {name: m-a, alias: shared}
      - {name: m-b, alias: SHARED}
      - {name: m-c}
      - {name: img, alias: pic, image: true}
"#);
    assert_eq!(r.ids().collect::<Vec<_>>(), ["shared", "m-c", "pic"]);
    assert_eq!(
        target_tuples(&r, "shared"),
        [
            (ProviderKind::OpenAiCompat, 0, "m-a".to_string()),
            (ProviderKind::OpenAiCompat, 0, "m-b".to_string()),
        ]
    );
    let i = r.info("m-c").cloned().unwrap_or_default();
    assert_eq!(
        (i.owned_by.as_str(), i.model_type.as_str()),
        ("router", "openai-compatibility")
    );
    assert!(!i.user_defined);
    assert_eq!(i.display_name, "m-c");
    assert_eq!(
        i.thinking.map(|t| t.levels),
        Some(vec!["low".into(), "medium".into(), "high".into()])
    );
    let pic = r.info("pic").cloned().unwrap_or_default();
    assert_eq!(
        (pic.model_type.as_str(), pic.thinking),
        ("openai-image", None)
    );
}

#[test]
fn prefixes_without_force() {
    let r = reg(r#"
gemini-api-key:
  - {api-key: g1, prefix: team}
"#);
    for id in ids_of(ProviderKind::Gemini) {
        assert_eq!(
            target_tuples(&r, &id),
            [(ProviderKind::Gemini, 0, id.clone())]
        );
        assert_eq!(
            target_tuples(&r, &format!("team/{id}")),
            [(ProviderKind::Gemini, 0, id.clone())]
        );
        assert_eq!(
            r.info(&format!("team/{id}")).map(|i| i.id.clone()),
            Some(format!("team/{id}"))
        );
    }
    assert_eq!(r.len(), 2 * ids_of(ProviderKind::Gemini).len());
}

#[test]
fn force_model_prefix_hides_bare_names() {
    let r = reg(r#"
force-model-prefix: true
claude-api-key:
  - api-key: c1
    prefix: opus
    models: [{name: claude-opus-4-6, alias: opus}, {name: claude-sonnet-4-6, alias: sonnet}]
  - api-key: c2
    models: [{name: claude-sonnet-4-6, alias: sonnet}]
"#);
    // prefix == model keeps the bare name.
    assert_eq!(
        target_tuples(&r, "opus"),
        [(ProviderKind::Claude, 0, "claude-opus-4-6".into())]
    );
    assert!(r.targets("opus/opus").is_some());
    // The bare name reaches only the unprefixed entry.
    assert_eq!(
        target_tuples(&r, "sonnet"),
        [(ProviderKind::Claude, 1, "claude-sonnet-4-6".into())]
    );
    assert_eq!(
        target_tuples(&r, "opus/sonnet"),
        [(ProviderKind::Claude, 0, "claude-sonnet-4-6".into())]
    );
    assert_eq!(r.len(), 4);
}

#[test]
fn exclusions_apply_to_ids_before_prefix() {
    let r = reg(r#"
gemini-api-key:
  - api-key: g1
    prefix: p
    excluded-models: ["*-LITE*", "gemini-2.5-pro"]
  - api-key: g2
    models: [{name: gemini-2.5-flash, alias: fast}, {name: gemini-2.5-pro}]
    excluded-models: [gemini-2.5-flash, "gemini-2.5-*"]
"#);
    for id in ids_of(ProviderKind::Gemini) {
        let gone = id.contains("-lite") || id == "gemini-2.5-pro";
        assert_eq!(r.targets(&id).is_none(), gone, "{id}");
        assert_eq!(r.targets(&format!("p/{id}")).is_none(), gone, "p/{id}");
    }
    // Exclusion matches the client-visible id, not the upstream name.
    assert_eq!(
        target_tuples(&r, "fast"),
        [(ProviderKind::Gemini, 1, "gemini-2.5-flash".into())]
    );
    // gemini-2.5-pro is excluded from both entries.
    assert!(r.targets("gemini-2.5-pro").is_none());
}

#[test]
fn overlapping_ids_keep_config_order() {
    let r = reg(r#"
claude-api-key:
  - {api-key: c1}
  - api-key: c2
    models: [{name: claude-sonnet-4-6}]
openai-compatibility:
  - name: router
    base-url: "https://compat.example.com/v1"
    models: [{name: upstream-sonnet, alias: claude-sonnet-4-6}]
"#);
    assert_eq!(
        target_tuples(&r, "claude-sonnet-4-6"),
        [
            (ProviderKind::Claude, 0, "claude-sonnet-4-6".into()),
            (ProviderKind::Claude, 1, "claude-sonnet-4-6".into()),
            (ProviderKind::OpenAiCompat, 0, "upstream-sonnet".into()),
        ]
    );
    // The listed info is the first target's.
    assert_eq!(
        r.info("claude-sonnet-4-6").map(|i| i.owned_by.as_str()),
        Some("anthropic")
    );
    assert_eq!(
        r.info_for("claude-sonnet-4-6", ProviderKind::OpenAiCompat)
            .map(|i| i.owned_by.as_str()),
        Some("router")
    );
}

// ---------------------------------------------------------------- suffix / cloak / resolve

/// Naive reference for `split_suffix`, over chars.
fn naive_split(s: &str) -> (String, Option<String>) {
    let chars: Vec<char> = s.chars().collect();
    if chars.last() != Some(&')') {
        return (s.to_string(), None);
    }
    match chars.iter().rposition(|&c| c == '(') {
        Some(open) => (
            chars[..open].iter().collect(),
            Some(chars[open + 1..chars.len() - 1].iter().collect()),
        ),
        None => (s.to_string(), None),
    }
}

#[test]
fn split_suffix_cases() {
    assert_eq!(
        split_suffix("gemini-2.5-pro(8192)"),
        ("gemini-2.5-pro", Some("8192"))
    );
    assert_eq!(split_suffix("gpt-5(high)"), ("gpt-5", Some("high")));
    assert_eq!(split_suffix("m"), ("m", None));
    assert_eq!(split_suffix("m(x"), ("m(x", None));
    assert_eq!(split_suffix("m()"), ("m", Some("")));
    assert_eq!(split_suffix("a(b)(c)"), ("a(b)", Some("c")));
    assert_eq!(split_suffix("a)b("), ("a)b(", None));
    assert_eq!(split_suffix(")"), (")", None));
    assert_eq!(split_suffix("é(ü)"), ("é", Some("ü")));
}

#[test]
fn split_suffix_matches_naive_on_all_short_strings() {
    let alphabet = ['a', '(', ')', 'é'];
    let mut stack = vec![String::new()];
    let mut checked = 0;
    while let Some(s) = stack.pop() {
        let (b, v) = split_suffix(&s);
        let (nb, nv) = naive_split(&s);
        assert_eq!((b, v), (nb.as_str(), nv.as_deref()), "{s:?}");
        checked += 1;
        if s.chars().count() < 6 {
            for c in alphabet {
                let mut n = s.clone();
                n.push(c);
                stack.push(n);
            }
        }
    }
    assert_eq!(checked, (0..=6).map(|k| 4usize.pow(k)).sum::<usize>());
}

#[test]
fn cloak_round_trip() {
    assert_eq!(cloak_id("gpt-5.4"), "claude-fable-5-dd-4.5-tpg");
    assert_eq!(cloak_id("claude-opus-4-6"), "claude-opus-4-6");
    assert_eq!(cloak_id(""), "");
    assert_eq!(decloak_id("claude-fable-5-dd-4.5-tpg"), "gpt-5.4");
    assert_eq!(
        decloak_id("claude-fable-5-dd-4.5-tpg(high)"),
        "gpt-5.4(high)"
    );
    assert_eq!(decloak_id(CLAUDE_CLOAK_PREFIX), CLAUDE_CLOAK_PREFIX);
    assert_eq!(decloak_id("claude-fable-5"), "claude-fable-5");
    assert_eq!(decloak_id("gpt-5.4"), "gpt-5.4");
    for id in ["gemini-2.5-pro", "team/gpt-5.5", "ünï-cödé", "x", "a(b)c"] {
        let c = cloak_id(id);
        assert!(c.starts_with(CLAUDE_CLOAK_PREFIX), "{c}");
        assert_eq!(decloak_id(&c), id);
    }
}

#[test]
fn resolve_exact_suffix_cloak() {
    let r = reg(r#"
claude-api-key: [{api-key: c1}]
codex-api-key: [{api-key: x1, base-url: "https://api.example.com/v1"}]
openai-compatibility:
  - name: router
    base-url: "https://compat.example.com/v1"
    models: [{name: up-8k, alias: "my(8192)"}]
"#);
    let got = r
        .resolve("claude-opus-4-6")
        .map(|x| (x.id, x.thinking_suffix, x.targets.len()));
    assert_eq!(got, Some(("claude-opus-4-6", None, 1)));
    let got = r
        .resolve(" claude-opus-4-6(16384) ")
        .map(|x| (x.id, x.thinking_suffix));
    assert_eq!(got, Some(("claude-opus-4-6", Some("16384"))));
    // Registered with its suffix: falls back to the full name.
    let got = r
        .resolve("my(8192)")
        .map(|x| (x.id, x.thinking_suffix, x.targets[0].upstream.as_str()));
    assert_eq!(got, Some(("my(8192)", None, "up-8k")));
    assert!(r.resolve("my(1)").is_none());
    assert!(r.resolve("my").is_none());
    assert!(r.resolve("nope").is_none());
    assert!(r.resolve("").is_none());
    // Cloaked names from the Anthropic list route back.
    let cloaked = cloak_id("gpt-5.5").into_owned();
    assert_eq!(r.resolve(&cloaked).map(|x| x.id), Some("gpt-5.5"));
    let with = format!("{cloaked}(xhigh)");
    let got = r
        .resolve(&with)
        .map(|x| (x.id, x.thinking_suffix, x.targets[0].kind));
    assert_eq!(got, Some(("gpt-5.5", Some("xhigh"), ProviderKind::Codex)));
}

#[test]
fn resolve_auto_picks_newest() {
    let r = reg(r#"
claude-api-key: [{api-key: c1}]
codex-api-key: [{api-key: x1, base-url: "https://api.example.com/v1"}]
"#);
    // Oracle: newest created, first registered among equals.
    let mut best: Option<(&str, i64)> = None;
    for id in r.ids() {
        let c = r.info(id).map(|i| i.created).unwrap_or_default();
        if best.is_none_or(|(_, b)| c > b) {
            best = Some((id, c));
        }
    }
    let want = best.map(|(id, _)| id);
    assert_eq!(r.auto_model(), want);
    assert_eq!(want, Some("claude-opus-5"));
    assert_eq!(
        r.resolve("auto").map(|x| (x.id, x.thinking_suffix)),
        Some(("claude-opus-5", None))
    );
    assert_eq!(
        r.resolve("auto(high)").map(|x| (x.id, x.thinking_suffix)),
        Some(("claude-opus-5", Some("high")))
    );

    // Configured models are stamped with the build time, so they win when newer.
    let c = cfg(r#"
claude-api-key: [{api-key: c1}]
gemini-api-key: [{api-key: g, models: [{name: a}, {name: b}]}]
"#);
    let r = Registry::build_at(&c, 4_000_000_000);
    assert_eq!(r.auto_model(), Some("a"));
}

#[test]
fn resolve_never_panics_on_odd_input() {
    let r = reg("claude-api-key: [{api-key: c1}]\n");
    let odd = [
        "(",
        ")",
        "()",
        "((",
        "))",
        "auto()",
        "auto(",
        "claude-fable-5-dd-",
        "claude-fable-5-dd-()",
        "claude-fable-5-dd-(x)",
        "\u{0}",
        "é(",
        "(é)",
        " ",
        "auto",
        "a\u{10FFFF})",
    ];
    for s in odd {
        let _ = r.resolve(s);
        let _ = r.claude_default_max_tokens(s);
        let _ = decloak_id(s);
        let mut out = Vec::new();
        let _ = r.write_gemini_model(s, &mut out);
    }
}

// ---------------------------------------------------------------- claude max_tokens

#[test]
fn claude_default_max_tokens_rule() {
    let r = reg(r#"
claude-api-key:
  - {api-key: c1}
  - api-key: c2
    models: [{name: claude-opus-4-6, alias: opus}]
gemini-api-key: [{api-key: g}]
openai-compatibility:
  - name: router
    base-url: "https://compat.example.com/v1"
    models: [{name: x, alias: compat-only}, {name: y, alias: claude-haiku-4-5-20251001}]
"#);
    for m in catalog::defaults(ProviderKind::Claude) {
        let want = u32::try_from(m.max_completion_tokens).ok();
        assert_eq!(r.claude_default_max_tokens(&m.id), want, "{}", m.id);
    }
    assert_eq!(
        r.claude_default_max_tokens("claude-opus-4-6"),
        Some(128_000)
    );
    assert_eq!(
        r.claude_default_max_tokens("claude-haiku-4-5-20251001"),
        Some(64_000)
    );
    assert_eq!(
        r.claude_default_max_tokens("claude-opus-4-6(high)"),
        Some(128_000)
    );
    // Registered for claude without a limit -> 1024.
    assert_eq!(
        r.claude_default_max_tokens("opus"),
        Some(CLAUDE_FALLBACK_MAX_TOKENS)
    );
    assert_eq!(CLAUDE_FALLBACK_MAX_TOKENS, 1024);
    // Not registered for claude -> leave alone.
    assert_eq!(r.claude_default_max_tokens("gemini-2.5-pro"), None);
    assert_eq!(r.claude_default_max_tokens("compat-only"), None);
    assert_eq!(r.claude_default_max_tokens("unknown"), None);
}

// ---------------------------------------------------------------- listings

const LIST_CFG: &str = r#"
claude-api-key: [{api-key: c1}]
gemini-api-key: [{api-key: g1}]
codex-api-key: [{api-key: x1, base-url: "https://api.example.com/v1"}]
openai-compatibility:
  - name: router
    base-url: "https://compat.example.com/v1"
    models: [{name: up, alias: zz-compat}]
"#;

#[test]
fn openai_list_format() {
    let r = reg(LIST_CFG);
    let mut out = b"prefix:".to_vec();
    r.write_openai_list(&mut out);
    assert!(out.starts_with(b"prefix:"), "appends");
    let v = json(&out[7..]);
    assert_eq!(v["object"], "list");
    let data = v["data"].as_array().cloned().unwrap_or_default();
    assert_eq!(data.len(), r.len());
    for (d, id) in data.iter().zip(r.ids()) {
        let info = r.info(id).cloned().unwrap_or_default();
        assert_eq!(d["id"], id);
        assert_eq!(d["object"], "model");
        assert_eq!(d["created"], info.created);
        assert_eq!(d["owned_by"], info.owned_by.as_str());
        assert_eq!(d.as_object().map(|o| o.len()), Some(4), "{d}");
    }
    // created 0 is omitted.
    let r0 = Registry::build_at(&cfg(LIST_CFG), 0);
    let mut out = Vec::new();
    r0.write_openai_list(&mut out);
    let v = json(&out);
    let compat = v["data"]
        .as_array()
        .and_then(|a| a.iter().find(|d| d["id"] == "zz-compat"))
        .cloned();
    let keys: Vec<String> = compat
        .and_then(|c| c.as_object().map(|o| o.keys().cloned().collect()))
        .unwrap_or_default();
    assert_eq!(keys.len(), 3);
    assert!(!keys.iter().any(|k| k == "created"));
}

#[test]
fn anthropic_list_format_and_cloaking() {
    let r = reg(LIST_CFG);
    let cloak_off = cfg("claude-code:\n  disable-cloaking-model-list: true\n");
    assert!(cloak_off.disable_cloaking_model_list);
    assert!(!cfg("{}").disable_cloaking_model_list);

    for disable in [false, true] {
        let mut out = Vec::new();
        r.write_anthropic_list(disable, &mut out);
        let v = json(&out);
        let data = v["data"].as_array().cloned().unwrap_or_default();
        assert_eq!(data.len(), r.len());
        assert_eq!(v["has_more"], false);
        assert_eq!(v["first_id"], data[0]["id"]);
        assert_eq!(v["last_id"], data[data.len() - 1]["id"]);
        // Sorted by display_name, then id.
        let keys: Vec<(String, String)> = data
            .iter()
            .map(|d| {
                (
                    d["display_name"].as_str().unwrap_or("").into(),
                    d["id"].as_str().unwrap_or("").into(),
                )
            })
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        for d in &data {
            let listed = d["id"].as_str().unwrap_or_default();
            let id = if disable {
                listed.to_string()
            } else {
                decloak_id(listed).into_owned()
            };
            let info = r.info(&id).cloned().unwrap_or_default();
            assert!(!info.id.is_empty(), "{listed} does not map back");
            if disable || id.starts_with("claude-") {
                assert_eq!(listed, id);
            } else {
                assert_eq!(listed, cloak_id(&id));
            }
            assert_eq!(d["type"], "model");
            assert_eq!(d["object"], "model");
            assert_eq!(d["owned_by"], info.owned_by.as_str());
            assert_eq!(d["display_name"], info.display_name.as_str());
            assert_eq!(d["created_at"], rfc3339_utc(info.created));
            let want_in = if info.context_length > 0 {
                info.context_length
            } else {
                CLAUDE_LIST_MAX_INPUT
            };
            let want_out = if info.max_completion_tokens > 0 {
                info.max_completion_tokens
            } else {
                CLAUDE_LIST_MAX_OUTPUT
            };
            assert_eq!(
                (d["max_input_tokens"].as_u64(), d["max_tokens"].as_u64()),
                (Some(want_in), Some(want_out))
            );
        }
        let opus = data
            .iter()
            .find(|d| d["id"] == "claude-opus-4-6")
            .cloned()
            .unwrap_or_default();
        assert_eq!(opus["created_at"], "2026-02-05T19:00:00Z");
        assert_eq!(
            (
                opus["max_input_tokens"].as_u64(),
                opus["max_tokens"].as_u64()
            ),
            (Some(1_000_000), Some(128_000))
        );
        let gem_id = if disable {
            "gemini-2.5-pro".to_string()
        } else {
            cloak_id("gemini-2.5-pro").into_owned()
        };
        let gem = data
            .iter()
            .find(|d| d["id"] == gem_id.as_str())
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            (gem["max_input_tokens"].as_u64(), gem["max_tokens"].as_u64()),
            (Some(200_000), Some(64_000))
        );
    }
}

#[test]
fn gemini_list_and_single_model() {
    let r = reg(LIST_CFG);
    let mut out = Vec::new();
    r.write_gemini_list(&mut out);
    let v = json(&out);
    let models = v["models"].as_array().cloned().unwrap_or_default();
    assert_eq!(models.len(), r.len());
    for (m, id) in models.iter().zip(r.ids()) {
        let info = r.info(id).cloned().unwrap_or_default();
        assert_eq!(m["name"], format!("models/{id}"));
        assert_eq!(m["displayName"], info.display_name.as_str());
        assert!(m["description"].as_str().is_some_and(|d| !d.is_empty()));
        assert!(m["supportedGenerationMethods"]
            .as_array()
            .is_some_and(|a| !a.is_empty()));
    }
    let pro = models
        .iter()
        .find(|m| m["name"] == "models/gemini-2.5-pro")
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        (
            pro["inputTokenLimit"].as_u64(),
            pro["outputTokenLimit"].as_u64()
        ),
        (Some(1_048_576), Some(65_536))
    );
    assert_eq!(pro["version"], "2.5");
    assert_eq!(pro["supportedGenerationMethods"][0], "generateContent");
    let claude = models
        .iter()
        .find(|m| m["name"] == "models/claude-opus-4-6")
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        claude["supportedGenerationMethods"],
        serde_json::json!(["generateContent"])
    );
    assert_eq!(claude["description"], "claude-opus-4-6");
    assert!(claude.get("inputTokenLimit").is_none());

    // Single model: by id or models/<id>; no defaults filled in.
    for name in ["gemini-2.5-pro", "models/gemini-2.5-pro"] {
        let mut out = Vec::new();
        assert!(r.write_gemini_model(name, &mut out));
        let m = json(&out);
        assert_eq!(m["name"], "models/gemini-2.5-pro");
        assert_eq!(m["displayName"], "Gemini 2.5 Pro");
        assert_eq!(m["inputTokenLimit"], 1_048_576);
    }
    let mut out = Vec::new();
    assert!(r.write_gemini_model("models/claude-opus-4-6", &mut out));
    let m = json(&out);
    assert!(m.get("supportedGenerationMethods").is_none());
    assert!(m.get("description").is_none());
    let mut out = Vec::new();
    assert!(!r.write_gemini_model("models/nope", &mut out));
    assert!(out.is_empty());
}

// ---------------------------------------------------------------- rfc3339

/// Naive reference: walk years and months from 1970.
fn naive_date(mut days: i64) -> (i64, i64, i64) {
    let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let mut y = 1970;
    loop {
        let len = if leap(y) { 366 } else { 365 };
        if days < len {
            break;
        }
        days -= len;
        y += 1;
    }
    let months = [
        31,
        if leap(y) { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let mut m = 1;
    for len in months {
        if days < len {
            break;
        }
        days -= len;
        m += 1;
    }
    (y, m, days + 1)
}

#[test]
fn rfc3339_matches_naive_calendar() {
    assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
    assert_eq!(rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(rfc3339_utc(1_759_276_800), "2025-10-01T00:00:00Z");
    assert_eq!(rfc3339_utc(1_784_038_800), "2026-07-14T14:20:00Z");
    for day in (0..60_000).step_by(7) {
        let secs = day * 86_400 + (day * 3_607) % 86_400;
        let (y, m, d) = naive_date(day);
        let rem = secs % 86_400;
        let want = format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60
        );
        assert_eq!(rfc3339_utc(secs), want);
    }
    // No panic at the extremes.
    let _ = rfc3339_utc(i64::MAX);
    let _ = rfc3339_utc(i64::MIN);
}

#[test]
fn registry_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync + 'static>(_: &T) {}
    let r = reg("claude-api-key: [{api-key: c1}]\n");
    assert_send_sync(&r);
    let shared = std::sync::Arc::new(r);
    let other = std::sync::Arc::clone(&shared);
    let got =
        std::thread::spawn(move || other.resolve("claude-opus-4-6").map(|x| x.id.to_string()))
            .join()
            .ok()
            .flatten();
    assert_eq!(got.as_deref(), Some("claude-opus-4-6"));
}

#[test]
fn anthropic_list_selection_rule() {
    assert!(wants_anthropic_list(Some(b"2023-06-01"), None));
    assert!(wants_anthropic_list(
        None,
        Some(b"claude-cli/2.1.0 (external, cli)")
    ));
    assert!(!wants_anthropic_list(Some(b""), Some(b"curl/8.0")));
    assert!(!wants_anthropic_list(None, Some(b"Claude-CLI/1")));
    assert!(!wants_anthropic_list(None, Some(b"my claude-cli")));
    assert!(!wants_anthropic_list(None, None));
}

#[test]
fn antigravity_list_is_cliproxyapis() {
    let list = catalog::antigravity();
    let ids: Vec<&str> = list.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids.len(), 11, "{ids:?}");
    for want in [
        "claude-opus-4-6-thinking",
        "claude-sonnet-4-6",
        "gemini-3-flash",
        "gemini-3.1-pro-high",
        "gpt-oss-120b-medium",
    ] {
        assert!(ids.contains(&want), "{want}");
    }
    assert!(list
        .iter()
        .all(|m| m.owned_by == "antigravity" && !m.display_name.is_empty()));
    let opus = list.iter().find(|m| m.id == "claude-opus-4-6-thinking");
    assert_eq!(
        opus.and_then(|m| m.thinking.as_ref()).map(|t| t.max),
        Some(64000)
    );
}
