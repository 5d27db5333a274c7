use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;
use crate::providers::Kind;

const EXAMPLE: &str = include_str!("../../config.example.yaml");

fn base() -> &'static Path {
    Path::new("/etc/cliproxy")
}

fn parse(yaml: &str) -> (Config, Vec<Warning>) {
    match parse_str(yaml, base()) {
        Ok(ok) => ok,
        Err(e) => panic!("unexpected error: {e}\n--- yaml ---\n{yaml}"),
    }
}

/// The raw layer of `yaml` as validation sees it (legacy keys migrated).
fn raw_of(yaml: &str) -> RawConfig {
    match parse_raw(yaml) {
        Ok((raw, _)) => validate::migrated(raw),
        Err(e) => panic!("unexpected error: {e}\n--- yaml ---\n{yaml}"),
    }
}

fn err(yaml: &str) -> ConfigError {
    match parse_str(yaml, base()) {
        Ok((c, _)) => panic!("expected an error, got a config: {c:?}\n--- yaml ---\n{yaml}"),
        Err(e) => e,
    }
}

fn warning_paths(w: &[Warning]) -> Vec<&str> {
    w.iter().map(|w| w.key_path.as_str()).collect()
}

/// The example with every optional `#| ` line switched on.
fn example_full() -> String {
    EXAMPLE
        .lines()
        .map(|l| match l.find("#| ") {
            Some(i) if l[..i].trim().is_empty() => format!("{}{}", &l[..i], &l[i + 3..]),
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn home() -> PathBuf {
    PathBuf::from(std::env::var_os("HOME").expect("tests need $HOME"))
}

// ------------------------------------------------------------------ defaults

#[test]
fn empty_documents_give_defaults() {
    for doc in [
        "",
        "   \n",
        "# only a comment\n",
        "~\n",
        "null",
        "---\n",
        "---\n...\n",
    ] {
        let (c, w) = parse(doc);
        let r = raw_of(doc);
        assert!(w.is_empty(), "{doc:?}: {w:?}");
        assert_eq!(c.host, "");
        assert_eq!(c.port, 8317);
        assert!(c.api_keys.is_empty());
        assert_eq!(c.auth_dir, home().join(".cli-proxy-api"));
        assert!(!c.debug);
        assert_eq!(c.request_retry, 3);
        assert_eq!(c.max_retry_credentials, 0);
        assert_eq!(c.max_retry_interval_secs, 30);
        assert_eq!(c.proxy_url, None);
        assert_eq!(c.body_limit, 64 * 1024 * 1024);
        assert!(c.openai_compatibility.is_empty());
        assert_eq!(c.tls, None);
        assert_eq!(c.routing.strategy, RoutingStrategy::RoundRobin);
        assert!(!c.routing.session_affinity);
        assert_eq!(c.routing.session_affinity_ttl, Duration::from_secs(3600));
        assert!(c.ws_auth);
        assert_eq!(c.transient_error_cooldown, Some(Duration::from_secs(60)));
        assert_eq!(c.streaming_keepalive, None);
        assert_eq!(c.streaming_bootstrap_retries, 0);
        assert_eq!(c.nonstream_keepalive, None);
        assert_eq!(c.disable_image_generation, ImageGenerationMode::Off);
        assert_eq!(c.gpt_image_2_base_model, "gpt-5.4-mini");
        assert_eq!(c.video_result_auth_cache_ttl, Duration::from_secs(3 * 3600));
        assert_eq!(r.pprof.addr, "127.0.0.1:8316");
        assert_eq!(r.error_logs_max_files, 10);
        assert_eq!(r.redis_usage_queue_retention_seconds, 60);
        assert_eq!(r.plugins.dir, "plugins");
        assert_eq!(
            r.remote_management.panel_github_repository,
            raw::DEFAULT_PANEL_REPOSITORY
        );
        assert_eq!(r.credential_in_flight.snapshot_interval, "2s");
        assert!(!c.has_example_api_keys);
    }
}

#[test]
fn explicit_null_keeps_defaults() {
    let (c, w) = parse("port:\nws-auth: ~\nrouting:\nrequest-retry: null\n");
    assert!(w.is_empty());
    assert_eq!(c.port, 8317);
    assert!(c.ws_auth);
    assert_eq!(c.request_retry, 3);
}

#[test]
fn non_mapping_top_level_is_an_error() {
    for doc in ["- a\n- b\n", "42", "just text"] {
        let e = err(doc);
        assert_eq!(e.key_path, "", "{doc:?}");
    }
    let e = err("port: [\n");
    assert_eq!(e.key_path, "");
    assert!(e.message.contains("invalid YAML"), "{e}");
}

// ------------------------------------------------------------------ the example file

#[test]
fn example_file_parses_without_warnings() {
    let (c, w) = parse(EXAMPLE);
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(c.port, 8317);
    assert_eq!(c.api_keys.len(), 1);
    assert_eq!(c.api_keys[0].expose(), "sk-cliproxy-example");
    assert_eq!(c.auth_dir, base().join("./auths"));
    assert_eq!(c.openai_compatibility.len(), 1);
    let oc = &c.openai_compatibility[0];
    assert_eq!(oc.name, "local");
    assert_eq!(oc.base_url, "http://127.0.0.1:8318/v1");
    assert_eq!(
        oc.api_key_entries[0].api_key.expose(),
        "sk-upstream-example"
    );
    assert_eq!(oc.models[0].name, "upstream-model");
    assert_eq!(oc.models[0].alias, "local-model");
    assert_eq!(
        oc.headers,
        vec![("X-Example-Header".into(), "example".into())]
    );
    assert_eq!(oc.request_scoped_errors[0].action, ScopedErrorAction::Stop);
    assert!(!c.has_example_api_keys);
}

#[test]
fn example_file_with_every_optional_block_parses_without_warnings() {
    let full = example_full();
    assert!(!full.lines().any(|l| l.trim_start().starts_with("#|")));
    let (c, w) = parse(&full);
    let r = raw_of(&full);
    assert!(w.is_empty(), "{w:?}");
    // A sample of the optional blocks reached their fields.
    assert_eq!(c.keyed(Kind::Gemini).len(), 1);
    let g = &c.keyed(Kind::Gemini)[0];
    assert_eq!(g.prefix.as_deref(), Some("team"));
    assert_eq!(g.request_retry, Some(2));
    assert_eq!(g.models[0].thinking.as_ref().map(|t| t.max), Some(24576));
    assert_eq!(
        g.request_scoped_errors[0].action,
        ScopedErrorAction::ContinueAndCooldown
    );
    match &g.proxy {
        ProxySetting::Proxy(p) => assert_eq!((p.host.as_str(), p.port), ("127.0.0.1", 1080)),
        other => panic!("{other:?}"),
    }
    assert_eq!(c.interactions_api_keys.len(), 1);
    assert_eq!(c.keyed(Kind::Codex).len(), 1);
    assert_eq!(c.xai_api_keys.len(), 1);
    assert!(c.xai_api_keys[0].websockets);
    assert_eq!(c.keyed(Kind::Claude).len(), 1);
    assert_eq!(c.keyed(Kind::Vertex).len(), 1);
    assert_eq!(c.oauth_model_alias[0].0, "codex");
    assert_eq!(
        c.oauth_excluded_models,
        vec![("claude".into(), vec!["claude-3-*".into()])]
    );
    assert_eq!(c.oauth_request_scoped_errors[0].1[0].status, 400);
    assert_eq!(r.payload.default[0].models[0].match_[0].len(), 1);
    assert_eq!(r.payload.filter[0].params.len(), 1);
    assert_eq!(r.plugins.store_auth[0].token_env, "PLUGIN_STORE_TOKEN");
    let plugin = r
        .plugins
        .configs
        .get("sample-plugin")
        .expect("plugin config");
    assert!(plugin.enabled);
    assert_eq!(plugin.priority, 1);
    assert_eq!(r.ampcode.model_mappings[0].to, "local-model");
    assert_eq!(
        r.credential_concurrency.cpa_heartbeat_timeout,
        Some(raw::RawDuration::Text("3s".into()))
    );
    assert_eq!(r.codex.live_media_relay.ice_servers[0].urls.len(), 1);
}

// ------------------------------------------------------------------ acted-on keys

#[test]
fn top_level_scalars() {
    let (c, w) = parse(
        "host: ' 127.0.0.1 '\nport: 9000\ndebug: true\nrequest-retry: 5\n\
         max-retry-credentials: 2\nmax-retry-interval: -1\nbody-limit-mb: 8\n\
         disable-cooling: yes\nws-auth: false\nrequest-log: on\npassthrough-headers: true\n\
         force-model-prefix: true\ntransient-error-cooldown-seconds: -1\n\
         nonstream-keepalive-interval: 15\nstreaming: {keepalive-seconds: 10, bootstrap-retries: 2}\n\
         disable-image-generation: chat\ngpt-image-2-base-model: GPT-image-x\n\
         video-result-auth-cache-ttl: 30m\n",
    );
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(c.host, "127.0.0.1");
    assert_eq!(c.port, 9000);
    assert!(c.debug);
    assert_eq!(c.request_retry, 5);
    assert_eq!(c.max_retry_credentials, 2);
    assert_eq!(c.max_retry_interval_secs, -1);
    assert_eq!(c.body_limit, 8 << 20);
    assert!(c.disable_cooling);
    assert!(!c.ws_auth);
    assert!(c.request_log);
    assert!(c.passthrough_headers);
    assert!(c.force_model_prefix);
    assert_eq!(c.transient_error_cooldown, None);
    assert_eq!(c.nonstream_keepalive, Some(Duration::from_secs(15)));
    assert_eq!(c.streaming_keepalive, Some(Duration::from_secs(10)));
    assert_eq!(c.streaming_bootstrap_retries, 2);
    assert_eq!(c.disable_image_generation, ImageGenerationMode::Chat);
    assert_eq!(c.gpt_image_2_base_model, "GPT-image-x");
    assert_eq!(c.video_result_auth_cache_ttl, Duration::from_secs(1800));
}

#[test]
fn clamped_and_defaulted_values() {
    let (c, w) = parse(
        "request-retry: -2\nmax-retry-credentials: -5\ntransient-error-cooldown-seconds: 7\n\
         gpt-image-2-base-model: dall-e\n",
    );
    assert_eq!(c.request_retry, 0);
    assert_eq!(c.max_retry_credentials, 0);
    assert_eq!(c.transient_error_cooldown, Some(Duration::from_secs(7)));
    assert_eq!(c.gpt_image_2_base_model, "gpt-5.4-mini");
    assert_eq!(
        warning_paths(&w),
        vec!["request-retry", "gpt-image-2-base-model"]
    );
}

#[test]
fn disable_image_generation_values() {
    let cases = [
        ("false", ImageGenerationMode::Off),
        ("true", ImageGenerationMode::All),
        ("'true'", ImageGenerationMode::All),
        ("\"off\"", ImageGenerationMode::Off),
        ("1", ImageGenerationMode::All),
        ("Passthrough", ImageGenerationMode::Passthrough),
        ("chat", ImageGenerationMode::Chat),
    ];
    for (text, want) in cases {
        let (c, _) = parse(&format!("disable-image-generation: {text}\n"));
        assert_eq!(c.disable_image_generation, want, "{text}");
    }
    assert_eq!(
        err("disable-image-generation: images\n").key_path,
        "disable-image-generation"
    );
    assert_eq!(
        err("disable-image-generation: [1]\n").key_path,
        "disable-image-generation"
    );
}

#[test]
fn api_keys_are_trimmed_deduplicated_and_empties_dropped() {
    let (c, w) = parse("api-keys: [' k1 ', '', k2, k1, '  ', 'k2', 123]\n");
    assert!(w.is_empty());
    let keys: Vec<&str> = c.api_keys.iter().map(|k| k.expose()).collect();
    assert_eq!(keys, vec!["k1", "k2", "123"]);
}

#[test]
fn template_api_keys_are_flagged() {
    let (c, w) = parse("api-keys: [your-api-key-1, real]\n");
    assert!(c.has_example_api_keys);
    assert_eq!(warning_paths(&w), vec!["api-keys[0]"]);
}

#[test]
fn auth_dir_expansion() {
    let cases: Vec<(&str, PathBuf)> = vec![
        ("'~'", home()),
        ("~/", home()),
        ("~/auths", home().join("auths")),
        ("'  ~/x/y '", home().join("x/y")),
        ("./auths", base().join("./auths")),
        ("auths", base().join("auths")),
        ("/var/lib/auths", PathBuf::from("/var/lib/auths")),
        ("''", home().join(".cli-proxy-api")),
    ];
    for (text, want) in cases {
        let (c, _) = parse(&format!("auth-dir: {text}\n"));
        assert_eq!(c.auth_dir, want, "{text}");
    }
}

#[test]
fn tls_paths_and_requirements() {
    let (c, _) = parse("tls: {enable: true, cert: cert.pem, key: /k/key.pem}\n");
    assert_eq!(
        c.tls,
        Some(TlsFiles {
            cert: base().join("cert.pem"),
            key: PathBuf::from("/k/key.pem"),
        })
    );
    assert_eq!(err("tls: {enable: true, key: k}\n").key_path, "tls.cert");
    assert_eq!(err("tls: {enable: true, cert: c}\n").key_path, "tls.key");
    let (c, _) = parse("tls: {enable: false, cert: c}\n");
    assert_eq!(c.tls, None);
}

#[test]
fn routing_strategy_aliases() {
    let cases = [
        ("round-robin", RoutingStrategy::RoundRobin),
        ("roundrobin", RoutingStrategy::RoundRobin),
        ("rr", RoutingStrategy::RoundRobin),
        ("''", RoutingStrategy::RoundRobin),
        ("fill-first", RoutingStrategy::FillFirst),
        ("fillfirst", RoutingStrategy::FillFirst),
        ("FF", RoutingStrategy::FillFirst),
        ("weighted-round-robin", RoutingStrategy::WeightedRoundRobin),
        ("weightedroundrobin", RoutingStrategy::WeightedRoundRobin),
        ("' WRR '", RoutingStrategy::WeightedRoundRobin),
    ];
    for (text, want) in cases {
        let (c, _) = parse(&format!("routing:\n  strategy: {text}\n"));
        assert_eq!(c.routing.strategy, want, "{text}");
    }
    let e = err("routing:\n  strategy: random\n");
    assert_eq!(e.key_path, "routing.strategy");
    let (c, _) = parse("routing: {session-affinity: true, session-affinity-ttl: 2h30m}\n");
    assert!(c.routing.session_affinity);
    assert_eq!(c.routing.session_affinity_ttl, Duration::from_secs(9000));
    assert_eq!(
        err("routing: {session-affinity-ttl: soon}\n").key_path,
        "routing.session-affinity-ttl"
    );
    assert_eq!(
        err("routing: {session-affinity-ttl: '-1h'}\n").key_path,
        "routing.session-affinity-ttl"
    );
}

#[test]
fn openai_compatibility_normalisation() {
    let (c, w) = parse(
        r#"
openai-compatibility:
  - name: " a "
    base-url: " https://a.example.com/v1/// "
    prefix: "/team/"
    priority: 7
    headers: {" X-A ": " 1 ", X-Empty: "", "": v}
    excluded-models: [" GPT-* ", "gpt-*", ""]
    api-key-entries:
      - api-key: " sk-1 "
        weight: 3
        proxy-url: direct
      - api-key: sk-2
        weight: 0
      - api-key: sk-3
        weight: -4
        proxy-url: "http://p.example:3128"
    models:
      - name: m1
      - name: " m2 "
        alias: " a2 "
      - alias: orphan
  - name: off
    base-url: https://off.example.com
    disabled: true
  - name: nourl
"#,
    );
    assert_eq!(c.openai_compatibility.len(), 1);
    let a = &c.openai_compatibility[0];
    assert_eq!(a.name, "a");
    assert_eq!(a.base_url, "https://a.example.com/v1");
    assert_eq!(a.prefix.as_deref(), Some("team"));
    assert_eq!(a.priority, 7);
    assert!(!a.disabled);
    assert_eq!(a.headers, vec![("X-A".to_string(), "1".to_string())]);
    assert_eq!(a.excluded_models, vec!["gpt-*".to_string()]);
    let e = &a.api_key_entries;
    assert_eq!(e[0].api_key.expose(), "sk-1");
    assert_eq!(e[0].weight, 3);
    assert_eq!(e[0].proxy_url.as_deref(), Some("direct"));
    assert_eq!(e[0].proxy, ProxySetting::Direct);
    assert_eq!((e[1].weight, e[1].proxy_url.as_deref()), (0, None));
    assert_eq!(e[1].proxy, ProxySetting::Inherit);
    assert_eq!(e[2].weight, 0);
    assert!(matches!(&e[2].proxy, ProxySetting::Proxy(p) if p.port == 3128));
    let names: Vec<(&str, &str)> = a
        .models
        .iter()
        .map(|m| (m.name.as_str(), m.alias.as_str()))
        .collect();
    assert_eq!(names, vec![("m1", ""), ("m2", "a2")]);
    assert_eq!(
        warning_paths(&w),
        vec![
            "openai-compatibility[0].models[2].name",
            "openai-compatibility[1].disabled",
            "openai-compatibility[2].base-url",
        ]
    );
}

#[test]
fn openai_compat_weight_omitted_is_one() {
    let (c, _) = parse("openai-compatibility: [{name: x, base-url: 'http://h', api-key-entries: [{api-key: k}]}]\n");
    assert_eq!(c.openai_compatibility[0].api_key_entries[0].weight, 1);
}

#[test]
fn provider_lists_sanitise_like_cliproxyapi() {
    let (c, w) = parse(
        r#"
gemini-api-key:
  - api-key: g1
  - api-key: " g1 "
  - {}
  - base-url: https://gw.example.com/
codex-api-key:
  - api-key: c1
  - api-key: c2
    base-url: https://codex.example.com/
    alpha-search: true
xai-api-key:
  - api-key: x1
    base-url: https://api.x.ai/v1
    alpha-search: true
vertex-api-key:
  - api-key: v1
    models: [{name: only-name}, {name: n, alias: a}]
  - api-key: v1
  - base-url: https://v.example.com
claude-api-key:
  - api-key: k
    request-retry: -1
    disable-cooling: false
  - api-key: k2
    request-retry: 0
    fingerprint-profile: weird
"#,
    );
    assert_eq!(c.keyed(Kind::Gemini).len(), 2);
    assert_eq!(c.keyed(Kind::Gemini)[1].base_url, "https://gw.example.com");
    assert_eq!(c.keyed(Kind::Codex).len(), 1);
    assert!(c.keyed(Kind::Codex)[0].alpha_search);
    assert!(!c.xai_api_keys[0].alpha_search);
    assert_eq!(c.keyed(Kind::Vertex).len(), 1);
    assert_eq!(c.keyed(Kind::Vertex)[0].models.len(), 1);
    assert_eq!(c.keyed(Kind::Claude)[0].request_retry, None);
    assert_eq!(c.keyed(Kind::Claude)[0].disable_cooling, Some(false));
    assert_eq!(c.keyed(Kind::Claude)[1].request_retry, Some(0));
    assert_eq!(c.keyed(Kind::Claude)[1].disable_cooling, None);
    assert_eq!(
        warning_paths(&w),
        vec![
            "gemini-api-key[1]",
            "gemini-api-key[2]",
            "codex-api-key[0].base-url",
            "xai-api-key[0].alpha-search",
            "claude-api-key[1].fingerprint-profile",
            "vertex-api-key[0].models[0]",
            "vertex-api-key[1]",
            "vertex-api-key[2].api-key",
        ]
    );
}

#[test]
fn request_scoped_error_rules() {
    let (c, w) = parse(
        r#"
claude-api-key:
  - api-key: k
    request-scoped-errors:
      - {status: 400, match: [" too long ", ""], action: " Stop-And-Cooldown "}
      - {status: 400, action: stop}
      - {match: [x], action: continue}
      - {status: 429, match-regexr: ["^x"], action: continue}
"#,
    );
    let rules = &c.keyed(Kind::Claude)[0].request_scoped_errors;
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[0].action, ScopedErrorAction::StopAndCooldown);
    assert_eq!(rules[0].matches, vec!["too long".to_string()]);
    assert_eq!(rules[1].action, ScopedErrorAction::Continue);
    assert_eq!(rules[1].match_regexr, vec!["^x".to_string()]);
    assert_eq!(
        warning_paths(&w),
        vec![
            "claude-api-key[0].request-scoped-errors[1]",
            "claude-api-key[0].request-scoped-errors[2]",
        ]
    );
    let e = err(
        "oauth-request-scoped-errors:\n  codex:\n    - {status: 400, match: [x], action: retry}\n",
    );
    assert_eq!(e.key_path, "oauth-request-scoped-errors.codex[0].action");
    let e = err("codex-api-key: [{base-url: 'http://h', request-scoped-errors: [{status: 1000, match: [x], action: stop}]}]\n");
    assert_eq!(
        e.key_path,
        "codex-api-key[0].request-scoped-errors[0].status"
    );
}

#[test]
fn oauth_maps_are_normalised() {
    let (c, w) = parse(
        r#"
oauth-excluded-models:
  Claude: [" Claude-3-* ", ""]
  empty: []
oauth-model-alias:
  CODEX:
    - {name: gpt-5, alias: g5, fork: true}
    - {name: gpt-5.1, alias: G5}
    - {name: same, alias: SAME}
    - {name: "", alias: x}
"#,
    );
    assert_eq!(
        c.oauth_excluded_models,
        vec![("claude".into(), vec!["claude-3-*".into()])]
    );
    assert_eq!(c.oauth_model_alias.len(), 1);
    assert_eq!(c.oauth_model_alias[0].0, "codex");
    assert_eq!(c.oauth_model_alias[0].1.len(), 1);
    assert!(c.oauth_model_alias[0].1[0].fork);
    assert_eq!(
        warning_paths(&w),
        vec![
            "oauth-model-alias.CODEX[1]",
            "oauth-model-alias.CODEX[2]",
            "oauth-model-alias.CODEX[3]",
        ]
    );
}

#[test]
fn legacy_keys_are_migrated() {
    let yaml = r#"
generative-language-api-key: [" g-old ", g-new, ""]
gemini-api-key: [{api-key: g-old}]
amp-upstream-url: https://amp.example
amp-upstream-api-key: amp-key
amp-restrict-management-to-localhost: true
amp-model-mappings: [{from: a, to: b}]
enable-gemini-cli-endpoint: true
openai-compatibility:
  - name: legacy
    base-url: http://h/v1
    api-key-entries: [{api-key: k1}]
    api-keys: [k1, " k2 "]
"#;
    let (c, w) = parse(yaml);
    let r = raw_of(yaml);
    let g: Vec<&str> = c
        .keyed(Kind::Gemini)
        .iter()
        .map(|k| k.api_key.expose())
        .collect();
    assert_eq!(g, vec!["g-old", "g-new"]);
    assert_eq!(r.ampcode.upstream_url, "https://amp.example");
    assert_eq!(r.ampcode.upstream_api_key.expose(), "amp-key");
    assert!(r.ampcode.restrict_management_to_localhost);
    assert_eq!(r.ampcode.model_mappings[0].to, "b");
    assert!(r.enable_gemini_cli_endpoint);
    let keys: Vec<&str> = c.openai_compatibility[0]
        .api_key_entries
        .iter()
        .map(|e| e.api_key.expose())
        .collect();
    assert_eq!(keys, vec!["k1", "k2"]);
    assert_eq!(
        warning_paths(&w),
        vec![
            "generative-language-api-key",
            "amp-upstream-url",
            "amp-upstream-api-key",
            "amp-restrict-management-to-localhost",
            "amp-model-mappings",
            "openai-compatibility[0].api-keys",
        ]
    );
}

#[test]
fn payload_parts_that_do_not_compile_are_config_warnings() {
    let (c, w) = parse(
        "payload:\n  override:\n    - models: [{name: \"*\"}]\n      params: {\"a.#(x<1)\": 1, b: 2}\n",
    );
    assert_eq!(
        warning_paths(&w),
        vec!["payload.override[0].params[\"a.#(x<1)\"]"]
    );
    assert!(!c.payload.is_empty(), "the part that compiles is kept");
}

#[test]
fn payload_rules_parse_and_raw_values_must_be_json() {
    let yaml = r#"
payload:
  override:
    - models: [{name: "gpt-*", protocol: codex}]
      params: {"reasoning.effort": high, n: 2, obj: {a: [1, true, null]}}
  override-raw:
    - models: [{name: "*"}]
      params: {"response_format": '{"type":"json_object"}', "n": 3}
"#;
    let (c, w) = parse(yaml);
    let r = raw_of(yaml);
    assert!(w.is_empty(), "{w:?}");
    assert!(
        !c.payload.is_empty(),
        "rules are compiled during validation"
    );
    let p = &r.payload.override_[0].params;
    assert_eq!(p.get("reasoning.effort"), Some(&serde_json::json!("high")));
    assert_eq!(
        p.get("obj"),
        Some(&serde_json::json!({"a": [1, true, null]}))
    );
    assert_eq!(
        r.payload.override_raw[0].params.get("response_format"),
        Some(&serde_json::json!("{\"type\":\"json_object\"}"))
    );
    let e = err("payload:\n  default-raw:\n    - params: {\"a.b\": '{not json'}\n");
    assert_eq!(e.key_path, "payload.default-raw[0].params[\"a.b\"]");
    let e = err("payload:\n  override-raw:\n    - params: {x: ''}\n");
    assert_eq!(e.key_path, "payload.override-raw[0].params.x");
}

#[test]
fn live_media_relay_validation() {
    let ok = "codex:\n  live-media-relay: {enabled: true, max-sessions: 2, udp-port-min: 10000, udp-port-max: 10003, public-ip: '::1'}\n";
    parse(ok);
    let cases = [
        (
            "codex:\n  live-media-relay: {allow-private-remote-ips: true, disable-private-remote-ips: true}\n",
            "codex.live-media-relay.allow-private-remote-ips",
        ),
        (
            "codex:\n  live-media-relay: {enabled: true, public-ip: nope}\n",
            "codex.live-media-relay.public-ip",
        ),
        (
            "codex:\n  live-media-relay: {enabled: true, udp-port-min: 10}\n",
            "codex.live-media-relay.udp-port-min",
        ),
        (
            "codex:\n  live-media-relay: {enabled: true, max-sessions: 4, udp-port-min: 10, udp-port-max: 12}\n",
            "codex.live-media-relay.udp-port-max",
        ),
        (
            "codex:\n  live-media-relay: {enabled: true, ice-servers: [{urls: ['http://x']}]}\n",
            "codex.live-media-relay.ice-servers[0].urls[0]",
        ),
        (
            "codex:\n  live-media-relay: {udp-port-min: 70000}\n",
            "codex.live-media-relay.udp-port-min",
        ),
    ];
    for (yaml, path) in cases {
        assert_eq!(err(yaml).key_path, path, "{yaml}");
    }
}

// ------------------------------------------------------------------ unknown keys

#[test]
fn unknown_keys_are_warnings_with_paths() {
    let (c, w) = parse(
        r#"
port: 1234
bogus: 1
tls: {enable: false, colour: red}
routing: {strategy: rr, sticky: true}
openai-compatibility:
  - name: a
    base-url: http://h
    typo-key: 1
    api-key-entries: [{api-key: k, wieght: 2}]
    models: [{name: m, aliass: x, thinking: {levels: [low], budget: 3}}]
    headers: {Any-Header-Is-Fine: v}
gemini-api-key: [{api-key: g, models: [{name: m, image: true}]}]
plugins:
  configs:
    p1: {enabled: true, whatever: {deep: 1}}
payload:
  override: [{models: [{name: x, extra: 1}], params: {any.path: 1}}]
"dotted.key": 1
"#,
    );
    assert_eq!(c.port, 1234);
    let mut paths = warning_paths(&w);
    paths.sort();
    let mut want = vec![
        "bogus",
        "tls.colour",
        "routing.sticky",
        "openai-compatibility[0].typo-key",
        "openai-compatibility[0].api-key-entries[0].wieght",
        "openai-compatibility[0].models[0].aliass",
        "openai-compatibility[0].models[0].thinking.budget",
        "gemini-api-key[0].models[0].image",
        "payload.override[0].models[0].extra",
        "[\"dotted.key\"]",
    ];
    want.sort();
    assert_eq!(paths, want);
    assert!(w.iter().all(|w| w.message.contains("unknown key")));
}

// ------------------------------------------------------------------ error key paths

#[test]
fn wrong_types_name_the_key() {
    let cases: &[(&str, &str)] = &[
        ("port: '8080'\n", "port"),
        ("port: 70000\n", "port"),
        ("port: -1\n", "port"),
        ("port: 1.5\n", "port"),
        ("debug: maybe\n", "debug"),
        ("api-keys: key\n", "api-keys"),
        ("api-keys: [[a]]\n", "api-keys[0]"),
        ("tls: true\n", "tls"),
        ("tls: {enable: 3}\n", "tls.enable"),
        ("remote-management: {secret-key: {a: 1}}\n", "remote-management.secret-key"),
        (
            "openai-compatibility:\n  - name: a\n    base-url: http://h\n    api-key-entries:\n      - api-key: a\n      - api-key: b\n      - api-key: [c]\n",
            "openai-compatibility[0].api-key-entries[2].api-key",
        ),
        ("payload:\n  override:\n    - params: [a, b]\n", "payload.override[0].params"),
        ("payload:\n  filter:\n    - params: {a: 1}\n", "payload.filter[0].params"),
        (
            "gemini-api-key: [{api-key: k, headers: {X: [1]}}]\n",
            "gemini-api-key[0].headers.X",
        ),
        ("oauth-excluded-models: {codex: x}\n", "oauth-excluded-models.codex"),
        ("oauth-model-alias: [a]\n", "oauth-model-alias"),
        ("claude-api-key: [{api-key: k, cloak: {cache-user-id: 5}}]\n", "claude-api-key[0].cloak.cache-user-id"),
        ("plugins: {configs: {p: {priority: high}}}\n", "plugins.configs.p.priority"),
        ("credential-concurrency: {reclaim-grace: [1]}\n", "credential-concurrency.reclaim-grace"),
        ("max-retry-interval: 99999999999999999999\n", "max-retry-interval"),
        ("a:\n  - b: 1\n    c: 18446744073709551616\n", "a[0].c"),
        ("port: 1\nport: 2\n", "port"),
    ];
    for (yaml, path) in cases {
        let e = err(yaml);
        assert_eq!(e.key_path, *path, "{yaml}: {e}");
        assert!(!e.message.is_empty());
    }
}

#[test]
fn invalid_values_name_the_key() {
    let cases: &[(&str, &str)] = &[
        ("body-limit-mb: 0\n", "body-limit-mb"),
        ("body-limit-mb: 4096\n", "body-limit-mb"),
        ("proxy-url: ftp://h:21\n", "proxy-url"),
        ("proxy-url: 'not a url'\n", "proxy-url"),
        (
            "openai-compatibility: [{name: a, base-url: 'h.example/v1'}]\n",
            "openai-compatibility[0].base-url",
        ),
        (
            "openai-compatibility: [{name: a, base-url: 'http://h', api-key-entries: [{api-key: k, weight: 1000001}]}]\n",
            "openai-compatibility[0].api-key-entries[0].weight",
        ),
        (
            "openai-compatibility: [{name: a, base-url: 'http://h', api-key-entries: [{api-key: k, proxy-url: 'gopher://x'}]}]\n",
            "openai-compatibility[0].api-key-entries[0].proxy-url",
        ),
        (
            "openai-compatibility: [{name: a, base-url: 'http://h', prefix: 'a/b'}]\n",
            "openai-compatibility[0].prefix",
        ),
        ("gemini-api-key: [{api-key: k, weight: 2000000}]\n", "gemini-api-key[0].weight"),
        ("claude-api-key: [{api-key: k, prefix: 'x/y'}]\n", "claude-api-key[0].prefix"),
        ("vertex-api-key: [{api-key: k, proxy-url: 'socks5://h:0'}]\n", "vertex-api-key[0].proxy-url"),
        ("claude-api-key: [{api-key: k, cloak: {mode: sometimes}}]\n", "claude-api-key[0].cloak.mode"),
        ("claude-api-key: [{api-key: k, priority: 99999999999}]\n", "claude-api-key[0].priority"),
        ("video-result-auth-cache-ttl: 3 hours\n", "video-result-auth-cache-ttl"),
    ];
    for (yaml, path) in cases {
        let e = err(yaml);
        assert_eq!(e.key_path, *path, "{yaml}: {e}");
    }
}

#[test]
fn config_error_display() {
    let e = ConfigError::new("openai-compatibility[1].base-url", "missing");
    assert_eq!(
        e.to_string(),
        "config: openai-compatibility[1].base-url: missing"
    );
}

// ------------------------------------------------------------------ proxy-url

/// (input, scheme, host, port, user, password)
type ProxyCase = (
    &'static str,
    ProxyScheme,
    &'static str,
    u16,
    Option<&'static str>,
    Option<&'static str>,
);

#[test]
fn proxy_url_parsing() {
    let ok: &[ProxyCase] = &[
        (
            "socks5://127.0.0.1:1080",
            ProxyScheme::Socks5,
            "127.0.0.1",
            1080,
            None,
            None,
        ),
        (
            "socks5h://proxy.example",
            ProxyScheme::Socks5h,
            "proxy.example",
            1080,
            None,
            None,
        ),
        ("http://p:3128/", ProxyScheme::Http, "p", 3128, None, None),
        ("HTTPS://p", ProxyScheme::Https, "p", 443, None, None),
        ("http://p", ProxyScheme::Http, "p", 80, None, None),
        (
            "socks5://user:pass@192.168.1.1:1080/",
            ProxyScheme::Socks5,
            "192.168.1.1",
            1080,
            Some("user"),
            Some("pass"),
        ),
        (
            "http://us%40er:p%3Ass@h:8080",
            ProxyScheme::Http,
            "h",
            8080,
            Some("us@er"),
            Some("p:ss"),
        ),
        (
            "http://a@b@h:1",
            ProxyScheme::Http,
            "h",
            1,
            Some("a@b"),
            None,
        ),
        (
            "socks5://[::1]:9050",
            ProxyScheme::Socks5,
            "::1",
            9050,
            None,
            None,
        ),
        (
            "socks5://[2001:db8::1]",
            ProxyScheme::Socks5,
            "2001:db8::1",
            1080,
            None,
            None,
        ),
        (
            "http://h:8080?x=1#f",
            ProxyScheme::Http,
            "h",
            8080,
            None,
            None,
        ),
        ("  http://h:1  ", ProxyScheme::Http, "h", 1, None, None),
    ];
    for (text, scheme, host, port, user, pass) in ok {
        let p = ProxyUrl::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(p.scheme, *scheme, "{text}");
        assert_eq!(p.host, *host, "{text}");
        assert_eq!(p.port, *port, "{text}");
        assert_eq!(p.username.as_deref(), *user, "{text}");
        assert_eq!(p.password.as_ref().map(|s| s.expose()), *pass, "{text}");
    }
    for bad in [
        "",
        "127.0.0.1:1080",
        "ftp://h:21",
        "socks4://h:1",
        "http://",
        "http://:80",
        "http://h:0",
        "http://h:65536",
        "http://h:port",
        "http://h:+80",
        "http://[::1",
        "http://[zz]:1",
        "http://[::1]x",
        "http://h h:1",
        "http://u%zz@h",
        "http://u%ff@h",
    ] {
        assert!(ProxyUrl::parse(bad).is_err(), "{bad:?} should fail");
    }
    let p = ProxyUrl::parse("socks5://u:secret@[::1]:1").unwrap();
    assert_eq!(p.to_string(), "socks5://u:****@[::1]:1");
    assert!(!format!("{p:?}").contains("secret"));
    assert_eq!(ProxySetting::parse(" DIRECT "), Ok(ProxySetting::Direct));
    assert_eq!(ProxySetting::parse("none"), Ok(ProxySetting::Direct));
    assert_eq!(ProxySetting::parse(""), Ok(ProxySetting::Inherit));
}

#[test]
fn global_proxy_url() {
    let (c, _) = parse("proxy-url: socks5://u:p@10.0.0.1:1080\n");
    let p = c.proxy_url.expect("proxy");
    assert_eq!(
        (p.scheme, p.host.as_str(), p.port),
        (ProxyScheme::Socks5, "10.0.0.1", 1080)
    );
    for text in ["''", "direct", "none"] {
        let (c, _) = parse(&format!("proxy-url: {text}\n"));
        assert_eq!(c.proxy_url, None, "{text}");
    }
}

// ------------------------------------------------------------------ excluded()

/// Naive reference: `*` matches any run, everything else literally (after
/// trimming and lower-casing), by exhaustive recursion.
fn oracle_glob(p: &[char], s: &[char]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some(('*', rest)) => (0..=s.len()).any(|i| oracle_glob(rest, &s[i..])),
        Some((c, rest)) => s.first() == Some(c) && oracle_glob(rest, &s[1..]),
    }
}

fn oracle_excluded(patterns: &[String], model: &str) -> bool {
    let m: Vec<char> = model.trim().to_lowercase().chars().collect();
    patterns.iter().any(|p| {
        let p: Vec<char> = p.trim().to_lowercase().chars().collect();
        !p.is_empty() && oracle_glob(&p, &m)
    })
}

#[test]
fn excluded_wildcard_table() {
    let cases: &[(&str, &str, bool)] = &[
        ("gemini-2.5-pro", "gemini-2.5-pro", true),
        ("gemini-2.5-pro", "gemini-2.5-pro-x", false),
        ("Gemini-2.5-PRO", "gemini-2.5-pro", true),
        ("gemini-2.5-pro", "GEMINI-2.5-Pro", true),
        ("gemini-2.5-*", "gemini-2.5-flash", true),
        ("gemini-2.5-*", "gemini-2.5-", true),
        ("gemini-2.5-*", "gemini-3-pro", false),
        ("*-preview", "gemini-3-pro-preview", true),
        ("*-preview", "gemini-3-pro", false),
        ("*flash*", "gemini-2.5-flash-lite", true),
        ("*flash*", "flash", true),
        ("*flash*", "gemini-pro", false),
        ("*", "anything", true),
        ("*", "", true),
        ("**", "x", true),
        ("a*b*c", "aXbYc", true),
        ("a*b*c", "acb", false),
        ("a*a", "a", false),
        ("a*a", "aa", true),
        ("ab*ba", "aba", false),
        ("", "", false),
        ("  ", "x", false),
        (" gpt-5 ", " gpt-5 ", true),
    ];
    for (pattern, model, want) in cases {
        let patterns = vec![pattern.to_string()];
        assert_eq!(
            excluded(&patterns, model),
            *want,
            "{pattern:?} vs {model:?}"
        );
        assert_eq!(
            oracle_excluded(&patterns, model),
            *want,
            "oracle {pattern:?} vs {model:?}"
        );
    }
    assert!(!excluded(&[], "x"));
    assert!(excluded(&["no".into(), "*x".into()], "ax"));
}

#[test]
fn excluded_agrees_with_oracle_exhaustively() {
    // Every pattern and model over a small alphabet up to length 4 / 5.
    let pat_alpha = ['a', 'B', '*'];
    let val_alpha = ['a', 'b'];
    fn all(alpha: &[char], max: usize) -> Vec<String> {
        let mut out = vec![String::new()];
        let mut layer = vec![String::new()];
        for _ in 0..max {
            let mut next = Vec::new();
            for s in &layer {
                for c in alpha {
                    next.push(format!("{s}{c}"));
                }
            }
            out.extend(next.iter().cloned());
            layer = next;
        }
        out
    }
    let pats = all(&pat_alpha, 4);
    let vals = all(&val_alpha, 5);
    for p in &pats {
        let ps = vec![p.clone()];
        for v in &vals {
            assert_eq!(excluded(&ps, v), oracle_excluded(&ps, v), "{p:?} vs {v:?}");
        }
    }
}

#[test]
fn excluded_handles_non_ascii() {
    let p = vec!["ÄB*".to_string()];
    assert!(excluded(&p, "äbc"));
    assert!(!excluded(&p, "abc"));
}

// ------------------------------------------------------------------ secrets

#[test]
fn secrets_never_print() {
    let (c, _) = parse(
        "api-keys: [client-key-123]\nremote-management: {secret-key: mgmt-pass}\n\
         proxy-url: 'http://u:proxy-pass@h:1'\n\
         openai-compatibility: [{name: a, base-url: 'http://h', api-key-entries: [{api-key: upstream-key-456}]}]\n\
         claude-api-key: [{api-key: claude-key-789, headers: {Cookie: cookie-val-1}}]\n\
         gemini-api-key: [{api-key: g, proxy-url: 'socks5://a:gem-proxy-pass@h'}]\n",
    );
    let dump = format!("{c:?}");
    for secret in [
        "client-key-123",
        "mgmt-pass",
        "proxy-pass",
        "upstream-key-456",
        "claude-key-789",
    ] {
        assert!(!dump.contains(secret), "{secret} leaked in Debug output");
    }
    assert!(dump.contains("****"));
    assert_eq!(format!("{:?}", c.api_keys[0]), "****");
}

// ------------------------------------------------------------------ YAML details

#[test]
fn yaml_features() {
    // Scalars into strings, tags, merge keys, YAML 1.1 booleans.
    let (c, w) = parse(
        r#"
base: &base
  api-key: shared
  base-url: https://codex.example.com
codex-api-key:
  - <<: *base
    prefix: one
api-keys: [12345, !!str 678, true]
debug: !!bool "true"
"#,
    );
    // The anchor holder `base` is an unknown top-level key.
    assert_eq!(warning_paths(&w), vec!["base"]);
    assert_eq!(c.keyed(Kind::Codex)[0].api_key.expose(), "shared");
    assert_eq!(c.keyed(Kind::Codex)[0].prefix.as_deref(), Some("one"));
    let keys: Vec<&str> = c.api_keys.iter().map(|k| k.expose()).collect();
    assert_eq!(keys, vec!["12345", "678", "true"]);
    assert!(c.debug);
}

#[test]
fn multiple_documents_are_an_error() {
    let e = err("port: 1\n---\nport: 2\n");
    assert_eq!(e.key_path, "");
}

#[test]
fn raw_structs_are_serde_deserialize() {
    let tls: raw::RawTls = serde_yaml::from_str("enable: true\ncert: c\n").unwrap();
    assert!(tls.enable);
    assert_eq!(tls.cert, "c");
    let bad = serde_yaml::from_str::<raw::RawTls>("enable: 3\n").unwrap_err();
    assert!(bad.to_string().contains("enable"), "{bad}");
}

// ------------------------------------------------------------------ files

#[test]
fn load_file_uses_the_file_directory() {
    let dir = std::env::temp_dir().join(format!("cliproxy-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("config.yaml");
    std::fs::write(&file, "auth-dir: auths\nport: 9999\n").unwrap();
    let (c, w) = load_file(&file).unwrap();
    assert!(w.is_empty());
    assert_eq!(c.port, 9999);
    assert_eq!(c.auth_dir, dir.join("auths"));
    std::fs::remove_dir_all(&dir).unwrap();

    let e = load_file(&dir.join("missing.yaml")).unwrap_err();
    assert_eq!(e.key_path, "");
    assert!(e.message.contains("missing.yaml"), "{e}");
}

// ------------------------------------------------------------------ robustness

/// Every prefix of the (fully enabled) example, and byte-flipped variants, must
/// load or fail cleanly: never panic. Same property as the fuzz target.
#[test]
fn never_panics_on_truncated_or_mutated_input() {
    let full = example_full();
    let bytes = full.as_bytes();
    // ~400 cut points (every byte would take a minute in a debug build).
    for cut in (0..=bytes.len()).step_by((bytes.len() / 400).max(1)) {
        let text = String::from_utf8_lossy(&bytes[..cut]);
        let _ = parse_str(&text, base());
    }
    // Deterministic pseudo-random single-byte mutations.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let alphabet = b" :-[]{}'\"#*&!|>\n\t0a~,?";
    for _ in 0..400 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let pos = (state % bytes.len() as u64) as usize;
        let ch = alphabet[((state >> 32) % alphabet.len() as u64) as usize];
        let mut m = bytes.to_vec();
        m[pos] = ch;
        let text = String::from_utf8_lossy(&m);
        let _ = parse_str(&text, base());
    }
}

#[test]
fn example_documents_every_known_key() {
    use raw::*;
    let sections: &[(&str, &[&str])] = &[
        ("RawConfig", RawConfig::KEYS),
        ("RawTls", RawTls::KEYS),
        ("RawRemoteManagement", RawRemoteManagement::KEYS),
        ("RawPprof", RawPprof::KEYS),
        ("RawPlugins", RawPlugins::KEYS),
        ("RawPluginStoreAuth", RawPluginStoreAuth::KEYS),
        ("RawCredentialConcurrency", RawCredentialConcurrency::KEYS),
        ("RawCredentialInFlight", RawCredentialInFlight::KEYS),
        ("RawQuotaExceeded", RawQuotaExceeded::KEYS),
        ("RawRouting", RawRouting::KEYS),
        ("RawAntigravity", RawAntigravity::KEYS),
        ("RawXai", RawXai::KEYS),
        ("RawCodex", RawCodex::KEYS),
        ("RawLiveMediaRelay", RawLiveMediaRelay::KEYS),
        ("RawIceServer", RawIceServer::KEYS),
        ("RawCodexHeaderDefaults", RawCodexHeaderDefaults::KEYS),
        ("RawClaudeHeaderDefaults", RawClaudeHeaderDefaults::KEYS),
        ("RawClaudeCode", RawClaudeCode::KEYS),
        ("RawStreaming", RawStreaming::KEYS),
        ("RawScopedErrorRule", RawScopedErrorRule::KEYS),
        ("RawThinking", RawThinking::KEYS),
        ("RawModel", RawModel::KEYS),
        ("RawAliasedModel", RawAliasedModel::KEYS),
        ("RawCompatModel", RawCompatModel::KEYS),
        ("RawGeminiKey", RawGeminiKey::KEYS),
        ("RawCodexKey", RawCodexKey::KEYS),
        ("RawCloak", RawCloak::KEYS),
        ("RawClaudeKey", RawClaudeKey::KEYS),
        ("RawVertexKey", RawVertexKey::KEYS),
        ("RawOpenAiCompat", RawOpenAiCompat::KEYS),
        ("RawCompatKeyEntry", RawCompatKeyEntry::KEYS),
        ("RawOAuthModelAlias", RawOAuthModelAlias::KEYS),
        ("RawPayload", RawPayload::KEYS),
        ("RawPayloadRule", RawPayloadRule::KEYS),
        ("RawPayloadFilterRule", RawPayloadFilterRule::KEYS),
        ("RawPayloadModel", RawPayloadModel::KEYS),
        ("RawAmpCode", RawAmpCode::KEYS),
        ("RawAmpUpstreamKey", RawAmpUpstreamKey::KEYS),
        ("RawAmpModelMapping", RawAmpModelMapping::KEYS),
    ];
    // Keys documented in prose rather than as `key:` lines (legacy spellings).
    let prose_only = [
        "generative-language-api-key",
        "amp-upstream-url",
        "amp-upstream-api-key",
        "amp-restrict-management-to-localhost",
        "amp-model-mappings",
        "allow-private-remote-ips",
    ];
    for (section, keys) in sections {
        for key in *keys {
            let documented = if prose_only.contains(key) {
                EXAMPLE.contains(key)
            } else {
                EXAMPLE.contains(&format!("{key}:"))
            };
            assert!(
                documented,
                "{section}: key {key:?} is not documented in config.example.yaml"
            );
        }
    }
}

#[test]
fn from_raw_of_default_equals_empty_file() {
    let (a, wa) = Config::from_raw(RawConfig::default(), base()).unwrap();
    let (b, wb) = parse("");
    assert!(wa.is_empty() && wb.is_empty());
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
}

#[test]
fn non_ascii_values_never_panic() {
    let values = [
        "é",
        "gpté",
        "gpt-é",
        "httpé://x",
        "ĥttp://x",
        "http://é",
        "https:/é",
        "~é",
        "é~",
        "1é",
        "é/é",
        "[é]",
        "%é",
    ];
    let keys = [
        "gpt-image-2-base-model",
        "proxy-url",
        "auth-dir",
        "video-result-auth-cache-ttl",
        "host",
    ];
    for v in values {
        for k in keys {
            let _ = parse_str(&format!("{k}: '{v}'\n"), base());
        }
        let nested = format!(
            "routing: {{strategy: '{v}', session-affinity-ttl: '{v}'}}\n\
             openai-compatibility: [{{name: '{v}', base-url: '{v}', prefix: '{v}', api-key-entries: [{{api-key: '{v}', proxy-url: '{v}'}}]}}]\n\
             claude-api-key: [{{api-key: k, base-url: '{v}', cloak: {{mode: '{v}'}}, fingerprint-profile: '{v}'}}]\n"
        );
        let _ = parse_str(&nested, base());
        let _ = excluded(&[v.to_string(), format!("*{v}*")], v);
    }
    let (c, w) = parse("gpt-image-2-base-model: 'gpté'\n");
    assert_eq!(c.gpt_image_2_base_model, "gpt-5.4-mini");
    assert_eq!(warning_paths(&w), vec!["gpt-image-2-base-model"]);
}

#[test]
fn flow_nesting_floods_are_refused_quickly() {
    for doc in [
        format!("a: {}", "[".repeat(100_000)),
        format!("a: {}", "{a: ".repeat(50_000)),
        format!("a: # [[[\nb: {}", "[".repeat(200)),
    ] {
        let started = std::time::Instant::now();
        let e = err(&doc);
        assert_eq!(e.key_path, "");
        assert!(e.message.contains("nested"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
    // Brackets in comments and quoted scalars do not count; normal nesting passes.
    let quoted = format!(
        "# {}\napi-keys: ['{}', \"{}\"]\nhost: it's[{}\n",
        "[".repeat(500),
        "[".repeat(500),
        "{".repeat(500),
        "]".repeat(3)
    );
    let (c, _) = parse(&quoted);
    assert_eq!(c.api_keys.len(), 2);
    let nested = format!("x: {}1{}\n", "[".repeat(100), "]".repeat(100));
    let (_, w) = parse(&nested);
    assert_eq!(warning_paths(&w), vec!["x"]);
    assert_eq!(err(&" ".repeat(MAX_CONFIG_BYTES + 1)).key_path, "");
}

// ------------------------------------------------------------------ force-http1

#[test]
fn force_http1_global_and_per_entry() {
    let (c, w) = parse("claude-api-key: [{api-key: k}]\n");
    assert!(!c.force_http1 && w.is_empty());
    assert_eq!(c.keyed(Kind::Claude)[0].force_http1, None);
    let (c, w) = parse(
        "force-http1: true\n\
         claude-api-key: [{api-key: k, force-http1: false}]\n\
         gemini-api-key: [{api-key: g, force-http1: true}]\n\
         codex-api-key: [{api-key: x, base-url: 'https://c.example', force-http1: true}]\n\
         vertex-api-key: [{api-key: v, force-http1: true}]\n\
         openai-compatibility: [{name: a, base-url: 'https://h', force-http1: true}]\n",
    );
    assert!(w.is_empty(), "{w:?}");
    assert!(c.force_http1);
    assert_eq!(c.keyed(Kind::Claude)[0].force_http1, Some(false));
    assert_eq!(c.keyed(Kind::Gemini)[0].force_http1, Some(true));
    assert_eq!(c.keyed(Kind::Codex)[0].force_http1, Some(true));
    assert_eq!(c.keyed(Kind::Vertex)[0].force_http1, Some(true));
    assert_eq!(c.openai_compatibility[0].force_http1, Some(true));
    for (yaml, path) in [
        ("force-http1: sometimes\n", "force-http1"),
        (
            "claude-api-key: [{api-key: k, force-http1: [1]}]\n",
            "claude-api-key[0].force-http1",
        ),
        (
            "openai-compatibility: [{name: a, base-url: 'https://h', force-http1: 2}]\n",
            "openai-compatibility[0].force-http1",
        ),
    ] {
        assert_eq!(err(yaml).key_path, path, "{yaml}");
    }
}

// -------------------------------------------------------------- http2-cleartext

#[test]
fn http2_cleartext_defaults_off_and_is_validated() {
    let (c, w) = parse("port: 1\n");
    assert!(!c.http2_cleartext && w.is_empty());
    let (c, w) = parse("http2-cleartext: true\n");
    assert!(c.http2_cleartext);
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(
        err("http2-cleartext: sometimes\n").key_path,
        "http2-cleartext"
    );
    assert_eq!(err("http2-cleartext: [1]\n").key_path, "http2-cleartext");
    // With TLS the listener is HTTPS: the key does nothing, and says so.
    let (c, w) = parse("http2-cleartext: true\ntls: {enable: true, cert: c.pem, key: k.pem}\n");
    assert!(c.tls.is_some());
    assert_eq!(warning_paths(&w), ["http2-cleartext"]);
}

#[test]
fn every_kind_has_its_own_keyed_slot() {
    let mut slots: Vec<usize> = Kind::ALL.iter().map(|&k| Config::slot(k)).collect();
    assert!(slots.iter().all(|&s| s < Kind::ALL.len()), "{slots:?}");
    slots.sort_unstable();
    slots.dedup();
    assert_eq!(slots.len(), Kind::ALL.len(), "slots are distinct");
    // Each section lands in its own kind's list.
    let (c, _) = parse(
        "gemini-api-key: [{api-key: g}]\nclaude-api-key: [{api-key: c}]\ncodex-api-key: [{api-key: x, base-url: 'https://x'}]\nvertex-api-key: [{api-key: v}]\n",
    );
    for (kind, key) in [
        (Kind::Gemini, "g"),
        (Kind::Claude, "c"),
        (Kind::Codex, "x"),
        (Kind::Vertex, "v"),
    ] {
        let keys: Vec<&str> = c.keyed(kind).iter().map(|k| k.api_key.expose()).collect();
        assert_eq!(keys, vec![key], "{kind:?}");
    }
    assert!(c.keyed(Kind::OpenAiCompat).is_empty());
}

#[test]
fn header_defaults_same_as_agrees_with_eq() {
    let values = ["", "a", "b", "ab", "claude-cli/2.0 (external, cli)"];
    let set = |d: &mut HeaderDefaults, field: usize, v: &str| {
        let f = match field {
            0 => &mut d.claude_user_agent,
            1 => &mut d.claude_package_version,
            2 => &mut d.claude_runtime_version,
            3 => &mut d.claude_timeout,
            4 => &mut d.codex_user_agent,
            _ => &mut d.codex_beta_features,
        };
        *f = v.to_string();
    };
    for field in 0..6 {
        for a in values {
            for b in values {
                let mut x = HeaderDefaults::default();
                let mut y = HeaderDefaults::default();
                set(&mut x, field, a);
                set(&mut y, field, b);
                assert_eq!(x.same_as(&y), x == y, "field {field}: {a:?} vs {b:?}");
            }
        }
    }
}
