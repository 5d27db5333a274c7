use serde_json::{json, Value};

use super::*;

fn compile_yaml(yaml: &str) -> (PayloadRules, Vec<PayloadWarning>) {
    let (raw, _) = crate::config::parse_raw(yaml).expect("yaml parses");
    PayloadRules::compile(&raw.payload)
}

fn rules(yaml: &str) -> PayloadRules {
    let (r, w) = compile_yaml(yaml);
    assert!(w.is_empty(), "{w:?}");
    r
}

fn ctx<'a>(model: &'a str, protocol: &'a str) -> PayloadCtx<'a> {
    PayloadCtx {
        upstream_model: model,
        requested_model: model,
        protocol,
        from_protocol: "openai",
        headers: &[],
        root: "",
    }
}

/// Applies and returns (changed, parsed output).
fn run(r: &PayloadRules, c: &PayloadCtx<'_>, original: &str, body: &str) -> (bool, Value) {
    let mut b = body.as_bytes().to_vec();
    let changed = r.apply(c, original.as_bytes(), &mut b).expect("apply");
    let v: Value = serde_json::from_slice(&b).expect("output is JSON");
    assert_eq!(changed, b != body.as_bytes());
    (changed, v)
}

const OVERRIDE: &str = r#"
payload:
  override:
    - models: [{name: "gpt-*", protocol: codex}]
      params: {"reasoning.effort": high, "service_tier": priority}
"#;

#[test]
fn override_sets_existing_and_creates_missing_parents() {
    let r = rules(OVERRIDE);
    let c = ctx("gpt-5", "codex");
    let body = r#"{"model":"gpt-5","reasoning":{"effort":"low","summary":"auto"},"input":[]}"#;
    let (changed, v) = run(&r, &c, body, body);
    assert!(changed);
    assert_eq!(
        v,
        json!({"model":"gpt-5","reasoning":{"effort":"high","summary":"auto"},"input":[],"service_tier":"priority"})
    );
    let (_, v) = run(&r, &c, "{}", r#"{"model":"gpt-5"}"#);
    assert_eq!(
        v,
        json!({"model":"gpt-5","reasoning":{"effort":"high"},"service_tier":"priority"})
    );
}

#[test]
fn override_already_equal_reports_unchanged() {
    let r = rules(OVERRIDE);
    let body = r#"{"reasoning":{"effort":"high"},"service_tier":"priority"}"#;
    let mut b = body.as_bytes().to_vec();
    assert_eq!(r.apply(&ctx("gpt-5", "codex"), b"", &mut b), Ok(false));
    assert_eq!(b, body.as_bytes());
}

#[test]
fn no_match_leaves_bytes_and_buffer_untouched() {
    let r = rules(OVERRIDE);
    let body = br#"{ "model" : "claude", "reasoning": {"effort":"low"} }"#;
    let mut b = Vec::with_capacity(4096);
    b.extend_from_slice(body);
    let (ptr, cap) = (b.as_ptr(), b.capacity());
    for c in [
        ctx("claude-3", "codex"),
        ctx("gpt-5", "gemini"),
        ctx("", ""),
    ] {
        assert_eq!(r.apply(&c, b"", &mut b), Ok(false));
        assert_eq!(b, body);
        assert_eq!((b.as_ptr(), b.capacity()), (ptr, cap));
    }
}

#[test]
fn default_checks_the_original_payload() {
    let r = rules(
        r#"
payload:
  default:
    - models: [{name: "gemini-*"}]
      params:
        "generationConfig.thinkingConfig.thinkingBudget": 32768
        "generationConfig.temperature": 0.5
        "safety": "on"
"#,
    );
    let c = ctx("gemini-2.5-pro", "gemini");
    // temperature was in the client body but translation dropped it: not re-added.
    // safety was added by translation but is missing from the original: overwritten.
    let original = r#"{"generationConfig":{"temperature":1}}"#;
    let body = r#"{"contents":[],"safety":"off"}"#;
    let (_, v) = run(&r, &c, original, body);
    assert_eq!(
        v,
        json!({"contents":[],"safety":"on","generationConfig":{"thinkingConfig":{"thinkingBudget":32768}}})
    );
    // Empty original: the body itself is the source.
    let (_, v) = run(&r, &c, "", r#"{"safety":"off","generationConfig":{}}"#);
    assert_eq!(
        v,
        json!({"safety":"off","generationConfig":{"temperature":0.5,"thinkingConfig":{"thinkingBudget":32768}}})
    );
}

#[test]
fn default_first_wins_override_last_wins() {
    let r = rules(
        r#"
payload:
  default:
    - models: [{name: "*"}]
      params: {x: 1}
    - models: [{name: "*"}]
      params: {x: 2}
  default-raw:
    - models: [{name: "*"}]
      params: {x: "3", y: '{"k":[1,2]}'}
  override:
    - models: [{name: "*"}]
      params: {z: 1}
  override-raw:
    - models: [{name: "*"}]
      params: {z: '"last"'}
"#,
    );
    let (_, v) = run(&r, &ctx("m", "openai"), "{}", "{}");
    assert_eq!(v, json!({"x":1,"y":{"k":[1,2]},"z":"last"}));
}

#[test]
fn raw_values_are_json_text() {
    let r = rules(
        r#"
payload:
  override-raw:
    - models: [{name: "*"}]
      params:
        "response_format": '{"type":"json_schema","json_schema":{"name":"a","schema":{"type":"object"}}}'
        "n": 3
        "stop": '  ["a", "b"]  '
"#,
    );
    let (_, v) = run(
        &r,
        &ctx("m", "openai"),
        "{}",
        r#"{"response_format":"text"}"#,
    );
    assert_eq!(
        v,
        json!({"response_format":{"type":"json_schema","json_schema":{"name":"a","schema":{"type":"object"}}},"n":3,"stop":["a","b"]})
    );
}

#[test]
fn invalid_raw_values_are_warnings() {
    let (r, w) = compile_yaml(
        "payload:\n  override-raw:\n    - models: [{name: '*'}]\n      params: {a: null, b: '1'}\n  filter:\n    - models: [{name: '*'}]\n      params: ['x.#(n<1)', y]\n",
    );
    let paths: Vec<_> = w.iter().map(|w| w.key_path.as_str()).collect();
    assert_eq!(
        paths,
        vec![
            "payload.override-raw[0].params[\"a\"]",
            "payload.filter[0].params[0]"
        ]
    );
    let (_, v) = run(&r, &ctx("m", ""), "", r#"{"a":0,"y":1,"x":[]}"#);
    assert_eq!(v, json!({"a":0,"b":1,"x":[]}));
}

#[test]
fn filter_deletes_nested_paths() {
    let r = rules(
        r#"
payload:
  filter:
    - models: [{name: "gemini-2.5-pro", protocol: gemini}]
      params:
        - "generationConfig.thinkingConfig.thinkingBudget"
        - "generationConfig.responseJsonSchema"
        - "missing.path"
        - "tools.1"
"#,
    );
    let c = ctx("gemini-2.5-pro", "GEMINI");
    let body = r#"{"generationConfig":{"responseJsonSchema":{"a":1},"thinkingConfig":{"thinkingBudget":1,"includeThoughts":true}},"tools":[{"a":1},{"b":2},{"c":3}]}"#;
    let (_, v) = run(&r, &c, body, body);
    assert_eq!(
        v,
        json!({"generationConfig":{"thinkingConfig":{"includeThoughts":true}},"tools":[{"a":1},{"c":3}]})
    );
    // Deleting only-missing paths leaves the bytes identical.
    let body = r#"{"other": [1, 2]}"#;
    let mut b = body.as_bytes().to_vec();
    assert_eq!(r.apply(&c, b"", &mut b), Ok(false));
    assert_eq!(b, body.as_bytes());
}

#[test]
fn array_index_paths() {
    let r = rules(
        r#"
payload:
  override:
    - models: [{name: "*"}]
      params:
        "messages.0.role": system
        "list.3": x
        "list.-1": end
        "fresh.1.k": v
        "obj.0": zero
        "a\\.b": dotted
"#,
    );
    let body = r#"{"messages":[{"role":"user","content":"hi"}],"list":["a"],"obj":{}}"#;
    let (_, v) = run(&r, &ctx("m", ""), body, body);
    assert_eq!(
        v,
        json!({
            "messages":[{"role":"system","content":"hi"}],
            "list":["a",null,null,"x","end"],
            "obj":{"0":"zero"},
            "fresh":[null,{"k":"v"}],
            "a.b":"dotted"
        })
    );
}

#[test]
fn model_wildcards_aliases_and_suffixes() {
    let r = rules("payload:\n  override:\n    - models: [{name: 'gemini-*-pro'}, {name: 'my-alias'}]\n      params: {hit: true}\n");
    let hit = |upstream: &str, requested: &str| {
        let c = PayloadCtx {
            upstream_model: upstream,
            requested_model: requested,
            ..PayloadCtx::default()
        };
        let mut b = b"{}".to_vec();
        r.apply(&c, b"", &mut b).expect("apply")
    };
    assert!(hit("gemini-2.5-pro", ""));
    assert!(hit("gemini-3-pro", "x"));
    assert!(!hit("gemini-2.5-flash", "x"));
    assert!(!hit("Gemini-2.5-pro", "x"), "case sensitive");
    assert!(hit("upstream-x", "my-alias"));
    assert!(hit("upstream-x", "my-alias(high)"), "suffix stripped");
    assert!(hit("", " my-alias "));
    assert!(!hit("", ""));
    let r2 = rules(
        "payload:\n  override:\n    - models: [{name: 'm(high)'}]\n      params: {hit: true}\n",
    );
    let mut b = b"{}".to_vec();
    let c = PayloadCtx {
        upstream_model: "m",
        requested_model: "m(high)",
        ..PayloadCtx::default()
    };
    assert_eq!(r2.apply(&c, b"", &mut b), Ok(true));
}

#[test]
fn glob_matches_like_cliproxyapi() {
    for (p, v, want) in [
        ("*", "", true),
        ("*", "anything", true),
        ("a*", "abc", true),
        ("*c", "abc", true),
        ("a*c", "abbbc", true),
        ("a*b*c", "axxbyyc", true),
        ("a*b*c", "acb", false),
        ("*-5", "gpt-5", true),
        ("*-5", "gpt-55", false),
        ("abc", "abc", true),
        ("abc", "abcd", false),
        ("", "", false),
        ("**", "x", true),
        (" gpt ", "gpt", true),
    ] {
        assert_eq!(glob(p.as_bytes(), v.as_bytes()), want, "{p} vs {v}");
    }
}

#[test]
fn protocol_and_from_protocol_gates() {
    let r = rules(
        "payload:\n  override:\n    - models: [{name: '*', protocol: claude, from-protocol: openai-response}]\n      params: {hit: 1}\n",
    );
    let hit = |protocol: &str, from: &str| {
        let c = PayloadCtx {
            upstream_model: "m",
            protocol,
            from_protocol: from,
            ..PayloadCtx::default()
        };
        let mut b = b"{}".to_vec();
        r.apply(&c, b"", &mut b).expect("apply")
    };
    assert!(hit("claude", "responses"));
    assert!(hit("Claude", "openai-responses"));
    assert!(
        hit("", "response"),
        "unknown target protocol does not filter"
    );
    assert!(!hit("gemini", "responses"));
    assert!(!hit("claude", "openai"));
    assert!(
        !hit("claude", ""),
        "from-protocol set, request source unknown"
    );
}

#[test]
fn header_globs() {
    let r = rules(
        "payload:\n  override:\n    - models: [{name: '*', headers: {X-Client-Tier: 'tenant-*-region-*'}}]\n      params: {hit: 1}\n",
    );
    let hit = |headers: &[(&str, &[u8])]| {
        let c = PayloadCtx {
            upstream_model: "m",
            headers,
            ..PayloadCtx::default()
        };
        let mut b = b"{}".to_vec();
        r.apply(&c, b"", &mut b).expect("apply")
    };
    assert!(hit(&[("x-client-tier", b"tenant-a-region-eu")]));
    assert!(hit(&[
        ("X-Client-Tier", b"nope"),
        ("X-CLIENT-TIER", b"tenant-1-region-2")
    ]));
    assert!(!hit(&[("x-client-tier", b"tenant-a")]));
    assert!(!hit(&[]));
}

#[test]
fn match_exist_conditions() {
    let r = rules(
        r#"
payload:
  override:
    - models:
        - name: "*"
          match: [{"metadata.client": "codex"}, {"n": 2}]
          not-match: [{"metadata.mode": "dev"}]
          exist: ['tools.#(type=="web_search").type']
          not-exist: ["metadata.disable_payload"]
      params: {hit: true}
"#,
    );
    let hit = |body: &str| {
        let mut b = body.as_bytes().to_vec();
        r.apply(&ctx("m", ""), b"", &mut b).expect("apply")
    };
    let base = json!({"metadata":{"client":"codex","mode":"prod"},"n":2.0,"tools":[{"type":"x"},{"type":"web_search"}]});
    assert!(hit(&base.to_string()));
    let mut v = base.clone();
    v["metadata"]["mode"] = json!("dev");
    assert!(!hit(&v.to_string()));
    let mut v = base.clone();
    v["metadata"]["disable_payload"] = json!(true);
    assert!(!hit(&v.to_string()));
    let mut v = base.clone();
    v["metadata"]["disable_payload"] = Value::Null;
    assert!(hit(&v.to_string()), "null counts as missing");
    let mut v = base.clone();
    v["tools"] = json!([{"type":"x"}]);
    assert!(!hit(&v.to_string()));
    let mut v = base.clone();
    v["n"] = json!(3);
    assert!(!hit(&v.to_string()));
}

#[test]
fn query_paths_in_params_and_filters() {
    let r = rules(
        r#"
payload:
  override:
    - models: [{name: "*"}]
      params: {'tools.#(type=="web_search").enabled': true}
  filter:
    - models: [{name: "*"}]
      params: ['tools.#(type=="image_generation")#', 'items.#(a==1 && b!=2)#.x']
"#,
    );
    let body = r#"{"tools":[{"type":"image_generation"},{"type":"web_search"},{"type":"image_generation","n":2}],
        "items":[{"a":1,"b":1,"x":0},{"a":1,"b":2,"x":0},{"a":2,"x":0},{"a":1,"x":0}]}"#;
    let (_, v) = run(&r, &ctx("m", ""), body, body);
    assert_eq!(
        v,
        json!({"tools":[{"type":"web_search","enabled":true}],
               "items":[{"a":1,"b":1},{"a":1,"b":2,"x":0},{"a":2,"x":0},{"a":1,"x":0}]})
    );
}

#[test]
fn several_edits_compose_in_rule_order() {
    let r = rules(
        r#"
payload:
  default:
    - models: [{name: "*"}]
      params: {"generationConfig.topK": 40}
  override:
    - models: [{name: "*"}]
      params: {"obj": {"keep": 1, "drop": 2}, "temperature": 0.2}
  filter:
    - models: [{name: "*"}]
      params: ["obj.drop", "generationConfig.topP", "temperature", "contents.0.parts"]
"#,
    );
    let body = r#"{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"generationConfig":{"topP":0.9},"temperature":1}"#;
    let (_, v) = run(&r, &ctx("m", ""), body, body);
    assert_eq!(
        v,
        json!({"contents":[{"role":"user"}],"generationConfig":{"topK":40},"obj":{"keep":1}})
    );
}

#[test]
fn root_prefix_for_envelopes() {
    let r = rules("payload:\n  override:\n    - models: [{name: '*', exist: [contents]}]\n      params: {'generationConfig.x': 1}\n");
    let c = PayloadCtx {
        upstream_model: "m",
        root: "request",
        ..PayloadCtx::default()
    };
    let body = r#"{"model":"m","request":{"contents":[]}}"#;
    let mut b = body.as_bytes().to_vec();
    assert_eq!(r.apply(&c, b"", &mut b), Ok(true));
    let v: Value = serde_json::from_slice(&b).expect("json");
    assert_eq!(
        v,
        json!({"model":"m","request":{"contents":[],"generationConfig":{"x":1}}})
    );
}

#[test]
fn invalid_bodies_are_errors_and_untouched() {
    let r = rules(OVERRIDE);
    let c = ctx("gpt-5", "codex");
    for body in [
        &b"{"[..],
        b"{\"a\":}",
        b"{\"a\":1,}",
        b"[1 2]",
        b"{\"a\" 1}",
        b"{\"a\":tru}",
        b"{\"a\":\"unterminated}",
        b"{\"a\":01}",
        b"{\"a\":1} x",
        b"{'a':1}",
    ] {
        let mut b = body.to_vec();
        assert!(
            r.apply(&c, b"", &mut b).is_err(),
            "{:?}",
            String::from_utf8_lossy(body)
        );
        assert_eq!(b, body);
    }
    let deep = format!("{{\"a\":{}1{}}}", "[".repeat(500), "]".repeat(500));
    let mut b = deep.clone().into_bytes();
    assert_eq!(r.apply(&c, b"", &mut b), Err(PayloadError::TooDeep));
}

#[test]
fn path_syntax_parses() {
    let p = path::parse(r"a\.b.0.#(type==web_search)#.c")
        .expect("ok")
        .expect("some");
    assert_eq!(p.segs.len(), 4);
    assert_eq!(p.segs[0], Seg::Key("a.b".into()));
    assert_eq!(p.segs[1], Seg::Key("0".into()));
    match &p.segs[2] {
        Seg::Query(q) => {
            assert!(q.all);
            assert_eq!(q.any_of[0][0].op, Op::Eq(json!("web_search")));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(path::parse("  ").expect("ok"), None);
    assert!(path::parse("a.#(x>1)").is_err());
}

// ------------------------------------------------------------------ property test

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const KEYS: [&str; 5] = ["a", "b", "c", "0", "1"];

fn gen_value(r: &mut Rng, depth: u32) -> Value {
    let k = if depth >= 3 { r.below(4) } else { r.below(7) };
    match k {
        0 => Value::Null,
        1 => json!(r.below(100)),
        2 => json!(format!("s\"{}\\n", r.below(10))),
        3 => json!(r.below(2) == 0),
        4 | 5 => {
            let mut m = serde_json::Map::new();
            for _ in 0..r.below(4) {
                m.insert(KEYS[r.below(5) as usize].into(), gen_value(r, depth + 1));
            }
            Value::Object(m)
        }
        _ => Value::Array((0..r.below(4)).map(|_| gen_value(r, depth + 1)).collect()),
    }
}

fn gen_path(r: &mut Rng, last_key: bool) -> Vec<String> {
    let n = 1 + r.below(3) as usize;
    (0..n)
        .map(|i| {
            let pick = if last_key && i == n - 1 { 3 } else { 5 };
            KEYS[r.below(pick) as usize].to_owned()
        })
        .collect()
}

/// Naive oracle: sequential sjson-like edits on a `serde_json::Value`.
fn oracle_get<'v>(v: &'v Value, path: &[String]) -> Option<&'v Value> {
    let Some((first, rest)) = path.split_first() else {
        return Some(v);
    };
    match v {
        Value::Object(m) => m.get(first).and_then(|c| oracle_get(c, rest)),
        Value::Array(a) => path::index_of(first)
            .and_then(|i| a.get(i))
            .and_then(|c| oracle_get(c, rest)),
        _ => None,
    }
}

fn oracle_set(v: &mut Value, path: &[String], new: Value) {
    let Some((first, rest)) = path.split_first() else {
        *v = new;
        return;
    };
    let numeric = path::index_of(first);
    if !matches!(v, Value::Object(_) | Value::Array(_)) {
        *v = if numeric.is_some() {
            json!([])
        } else {
            json!({})
        };
    }
    match v {
        Value::Object(m) => oracle_set(m.entry(first.clone()).or_insert(Value::Null), rest, new),
        Value::Array(a) => {
            if let Some(i) = numeric {
                a.resize(a.len().max(i + 1), Value::Null);
                oracle_set(&mut a[i], rest, new);
            }
        }
        _ => unreachable!(),
    }
}

fn oracle_delete(v: &mut Value, path: &[String]) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    match v {
        Value::Object(m) if rest.is_empty() => {
            m.remove(first);
        }
        Value::Object(m) => {
            if let Some(c) = m.get_mut(first) {
                oracle_delete(c, rest);
            }
        }
        Value::Array(a) => {
            if let Some(c) = path::index_of(first).and_then(|i| a.get_mut(i)) {
                if rest.is_empty() {
                    unreachable!("generated filters end in keys");
                }
                oracle_delete(c, rest);
            }
        }
        _ => {}
    }
}

#[test]
fn property_apply_matches_oracle_and_never_breaks_json() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for case in 0..3000 {
        let body = {
            let mut m = serde_json::Map::new();
            for _ in 0..rng.below(4) {
                m.insert(KEYS[rng.below(5) as usize].into(), gen_value(&mut rng, 1));
            }
            Value::Object(m)
        };
        let original = if rng.below(2) == 0 {
            body.clone()
        } else {
            gen_value(&mut rng, 0)
        };
        let mut defaults = Vec::new();
        let mut overrides = Vec::new();
        let mut filters = Vec::new();
        for _ in 0..rng.below(4) {
            defaults.push((gen_path(&mut rng, false), gen_value(&mut rng, 2)));
        }
        for _ in 0..rng.below(4) {
            overrides.push((gen_path(&mut rng, false), gen_value(&mut rng, 2)));
        }
        for _ in 0..rng.below(3) {
            filters.push(gen_path(&mut rng, true));
        }
        let params = |list: &[(Vec<String>, Value)]| {
            let mut m = serde_json::Map::new();
            for (p, v) in list {
                m.insert(p.join("."), v.clone());
            }
            m
        };
        // YAML mappings keep the last duplicate key; mirror that in the oracle.
        let dm = params(&defaults);
        let om = params(&overrides);
        let cfg = json!({"payload": {
            "default": [{"models": [{"name": "*"}], "params": dm}],
            "override": [{"models": [{"name": "*"}], "params": om}],
            "filter": [{"models": [{"name": "*"}],
                        "params": filters.iter().map(|p| p.join(".")).collect::<Vec<_>>()}],
        }});
        let r = rules(&cfg.to_string());

        // Oracle, in the order the YAML mapping holds the params.
        let (raw, _) = crate::config::parse_raw(&cfg.to_string()).expect("yaml");
        let mut want = body.clone();
        let mut done: Vec<Vec<String>> = Vec::new();
        for (k, v) in raw.payload.default[0].params.iter() {
            let p: Vec<String> = k.split('.').map(str::to_owned).collect();
            if oracle_get(&original, &p).is_some() || done.contains(&p) {
                continue;
            }
            oracle_set(&mut want, &p, v.clone());
            done.push(p);
        }
        for (k, v) in raw.payload.override_[0].params.iter() {
            let p: Vec<String> = k.split('.').map(str::to_owned).collect();
            oracle_set(&mut want, &p, v.clone());
        }
        for k in &raw.payload.filter[0].params {
            let p: Vec<String> = k.split('.').map(str::to_owned).collect();
            oracle_delete(&mut want, &p);
        }

        let text = if case % 2 == 0 {
            serde_json::to_string(&body)
        } else {
            serde_json::to_string_pretty(&body)
        }
        .expect("ser");
        let orig_text = original.to_string();
        let mut b = text.clone().into_bytes();
        let changed = r
            .apply(&ctx("m", ""), orig_text.as_bytes(), &mut b)
            .expect("valid input applies");
        let got: Value = serde_json::from_slice(&b).expect("output is valid JSON");
        assert_eq!(got, want, "case {case}: body {text} cfg {cfg}");
        assert_eq!(changed, b != text.as_bytes());
    }
}

#[test]
fn property_random_bytes_never_panic() {
    let r = rules(
        "payload:\n  override: [{models: [{name: '*'}], params: {'a.b': 1, 'x.0': 2}}]\n  filter: [{models: [{name: '*'}], params: ['c', 'a.#(k==1)#']}]\n",
    );
    let mut rng = Rng(42);
    let alphabet = b"{}[]\":,ab01 -.e\\tnul";
    for _ in 0..20_000 {
        let len = rng.below(24) as usize;
        let body: Vec<u8> = (0..len)
            .map(|_| alphabet[rng.below(alphabet.len() as u64) as usize])
            .collect();
        let mut b = body.clone();
        let valid = serde_json::from_slice::<Value>(&body).is_ok();
        match r.apply(&ctx("m", ""), b"", &mut b) {
            Ok(_) => {
                if valid {
                    serde_json::from_slice::<Value>(&b).expect("valid in, valid out");
                }
            }
            Err(_) => {
                assert_eq!(b, body);
                assert!(!valid || body.is_empty(), "valid JSON rejected: {body:?}");
            }
        }
    }
}

#[test]
fn string_skipping_counts_backslashes() {
    for (s, end) in [
        (r#""abc" "#, 5),
        (r#""a\"b" "#, 6),
        (r#""a\\" "#, 5),
        (r#""a\\\"b" "#, 8),
        (r#""""#, 2),
    ] {
        assert_eq!(cursor::skip_string(s.as_bytes(), 0), Ok(end), "{s}");
    }
    assert!(cursor::skip_string(br#""a\""#, 0).is_err());
    assert!(cursor::skip_string(br#""abc"#, 0).is_err());
}

#[test]
fn huge_positions_are_not_padded() {
    let r = rules("payload:\n  override:\n    - models: [{name: '*'}]\n      params: {'list.99999999': 1, 'new.99999999': 2, 'ok.2': 3}\n");
    let (_, v) = run(&r, &ctx("m", ""), "", r#"{"list":[0]}"#);
    assert_eq!(v, json!({"list":[0],"new":[],"ok":[null,null,3]}));
}

#[test]
fn root_drops_one_leading_dot() {
    let r = rules("payload:\n  override:\n    - models: [{name: '*'}]\n      params: {'.x': 1}\n");
    let c = PayloadCtx {
        upstream_model: "m",
        root: "request",
        ..PayloadCtx::default()
    };
    let mut b = br#"{"request":{}}"#.to_vec();
    assert_eq!(r.apply(&c, b"", &mut b), Ok(true));
    assert_eq!(b, br#"{"request":{"x":1}}"#);
}

/// The fuzz target's property (fuzz/fuzz_targets/payload_apply.rs) over
/// deterministic pseudo-random inputs.
#[test]
fn fuzz_property_on_prng_inputs() {
    let r = rules(
        r#"
payload:
  default:
    - models: [{name: "*"}]
      params: {"a.b.c": 1, "x.0": [1, 2], "list.-1": "end"}
  override:
    - models: [{name: "*", exist: ["a"], not-match: [{"k": 1}]}]
      params: {"a.b": {"d": null}, 'tools.#(type=="t").on': true, "0.1": 2}
  filter:
    - models: [{name: "*"}]
      params: ["a.b.d", 'tools.#(type=="u")#', "c"]
"#,
    );
    let mut rng = Rng(7);
    for _ in 0..3000 {
        let mut body = gen_value(&mut rng, 0);
        if rng.below(2) == 0 {
            body = json!({"a": body, "tools": [{"type": "t"}, {"type": "u"}], "c": 1, "list": []});
        }
        let text = body.to_string().into_bytes();
        let original = gen_value(&mut rng, 1).to_string();
        let mut b = text.clone();
        r.apply(&ctx("m", ""), original.as_bytes(), &mut b)
            .expect("valid JSON applies");
        serde_json::from_slice::<Value>(&b).expect("valid in, valid out");
        // A truncation is rejected unless it is still JSON (or empty: no-op).
        let cut = rng.below(text.len() as u64) as usize;
        let mut t = text[..cut].to_vec();
        let valid = serde_json::from_slice::<Value>(&t).is_ok();
        match r.apply(&ctx("m", ""), b"", &mut t) {
            // The filter rule always edits, so the body is always scanned.
            Ok(_) => assert!(valid || cut == 0, "accepted invalid {t:?}"),
            Err(_) => {
                assert!(!valid);
                assert_eq!(t, &text[..cut]);
            }
        }
    }
}
