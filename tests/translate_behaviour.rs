//! Behaviour tests for specific CLIProxyAPI rules, plus the fuzz property
//! (mutated fixtures never panic and give valid JSON or a clean error).

#[path = "stream_support/mod.rs"]
mod support;
use cliproxy::translate::format::Format;
use cliproxy::translate::request::{translate_request, ReqOpts};
use cliproxy::translate::response::{error_body, translate_response, RespCtx};
use serde_json::{json, Value};
use support::request_json;

fn tr(from: Format, to: Format, body: &Value, model: &str, claude_max: Option<u32>) -> Value {
    let opts = ReqOpts {
        upstream_model: model,
        stream: true,
        claude_default_max_tokens: claude_max,
    };
    request_json(from, to, body.to_string().as_bytes(), &opts)
}

#[test]
fn same_format_replaces_only_model_bytes() {
    let body = br#"{"model":"alias",  "messages":[{"role":"user","content":"h\u00e9"}],"x":1.50}"#;
    let mut out = Vec::new();
    let opts = ReqOpts {
        upstream_model: "real-model",
        stream: false,
        claude_default_max_tokens: None,
    };
    translate_request(
        Format::OpenAiChat,
        Format::OpenAiChat,
        body,
        &opts,
        &mut out,
    )
    .unwrap();
    assert_eq!(
        std::str::from_utf8(&out).unwrap(),
        r#"{"model":"real-model",  "messages":[{"role":"user","content":"h\u00e9"}],"x":1.50}"#
    );
}

#[test]
fn same_format_inserts_missing_model_and_leaves_gemini_alone() {
    let opts = ReqOpts {
        upstream_model: "real",
        stream: false,
        claude_default_max_tokens: None,
    };
    let mut out = Vec::new();
    translate_request(
        Format::Claude,
        Format::Claude,
        br#"{ "messages": [] }"#,
        &opts,
        &mut out,
    )
    .unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&out).unwrap(),
        json!({"model": "real", "messages": []})
    );
    let body = br#"{"contents": [ {"parts": [{"text": "x"}]} ]}"#;
    out.clear();
    translate_request(Format::Gemini, Format::Gemini, body, &opts, &mut out).unwrap();
    assert_eq!(out, body);
}

#[test]
fn claude_passthrough_keeps_signature_bytes_and_defaults_max_tokens() {
    let sig = r#"Eq\/QB+sig=="#; // escaped slash must survive byte for byte
    let body = format!(
        r#"{{"model":"c","messages":[{{"role":"assistant","content":[{{"type":"thinking","thinking":"t","signature":"{sig}"}}]}}]}}"#
    );
    let mut out = Vec::new();
    let opts = ReqOpts {
        upstream_model: "claude-x",
        stream: false,
        claude_default_max_tokens: Some(64000),
    };
    translate_request(
        Format::Claude,
        Format::Claude,
        body.as_bytes(),
        &opts,
        &mut out,
    )
    .unwrap();
    let s = String::from_utf8(out).unwrap();
    assert!(s.contains(sig), "{s}");
    let v: Value = serde_json::from_str(&s).unwrap();
    assert_eq!(v["max_tokens"], 64000);
    assert_eq!(v["model"], "claude-x");
    // Explicit max_tokens is never changed.
    let body = json!({"model":"c","max_tokens":10,"messages":[]});
    assert_eq!(
        tr(Format::Claude, Format::Claude, &body, "m", Some(64000))["max_tokens"],
        10
    );
    // No registry value: Claude -> Claude leaves the body alone.
    let body = json!({"model":"c","messages":[]});
    assert!(tr(Format::Claude, Format::Claude, &body, "m", None)
        .get("max_tokens")
        .is_none());
}

#[test]
fn claude_default_max_tokens_when_translating() {
    let body = json!({"model":"x","messages":[{"role":"user","content":"hi"}]});
    assert_eq!(
        tr(Format::OpenAiChat, Format::Claude, &body, "c", None)["max_tokens"],
        32000
    );
    assert_eq!(
        tr(Format::OpenAiChat, Format::Claude, &body, "c", Some(8192))["max_tokens"],
        8192
    );
}

#[test]
fn claude_tool_ids_are_sanitised_consistently() {
    let body = json!({"messages":[
        {"role":"user","content":"x"},
        {"role":"assistant","content":null,"tool_calls":[
            {"id":"call:1/é","type":"function","function":{"name":"f","arguments":"{}"}},
            {"id":"","type":"function","function":{"name":"g","arguments":"not json"}}]},
        {"role":"tool","tool_call_id":"call:1/é","content":"ok"}]});
    let v = tr(Format::OpenAiChat, Format::Claude, &body, "c", None);
    let uses = &v["messages"][1]["content"];
    assert_eq!(uses[0]["id"], "call_1__");
    assert_eq!(uses[1]["input"], json!({}));
    let gen = uses[1]["id"].as_str().unwrap();
    assert!(
        !gen.is_empty()
            && gen
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    );
    assert_eq!(v["messages"][2]["content"][0]["tool_use_id"], "call_1__");
}

#[test]
fn codex_native_cleanup() {
    let body = json!({"model":"a","input":"hi","stream_options":{"include_usage":true},
        "previous_response_id":"r","prompt_cache_retention":"24h","safety_identifier":"s",
        "max_output_tokens":5,"temperature":0.1,"user":"u","stream":false,"store":true,
        "service_tier":"priority"});
    let v = tr(
        Format::OpenAiResponses,
        Format::Codex,
        &body,
        "gpt-5(low)",
        None,
    );
    for k in [
        "stream_options",
        "previous_response_id",
        "prompt_cache_retention",
        "safety_identifier",
        "max_output_tokens",
        "temperature",
        "user",
    ] {
        assert!(v.get(k).is_none(), "{k} kept");
    }
    assert_eq!(v["instructions"], "");
    assert_eq!(v["stream"], true);
    assert_eq!(v["store"], false);
    assert_eq!(v["service_tier"], "priority");
    assert_eq!(v["model"], "gpt-5");
    assert_eq!(v["reasoning"]["effort"], "low");
    assert_eq!(v["input"][0]["content"][0]["text"], "hi");
    // Translated Codex bodies follow the same rules.
    let chat = json!({"messages":[{"role":"user","content":"hi"}],"stream_options":{"include_usage":true},"max_tokens":9});
    let v = tr(Format::OpenAiChat, Format::Codex, &chat, "gpt-5", None);
    assert_eq!(
        (
            v["stream"].clone(),
            v["store"].clone(),
            v["instructions"].clone()
        ),
        (json!(true), json!(false), json!(""))
    );
    assert!(v.get("stream_options").is_none() && v.get("max_output_tokens").is_none());
}

#[test]
fn thinking_suffix_beats_body() {
    let body = json!({"messages":[{"role":"user","content":"x"}],"reasoning_effort":"low"});
    let v = tr(
        Format::OpenAiChat,
        Format::Gemini,
        &body,
        "gemini-2.5-pro(8192)",
        None,
    );
    assert_eq!(
        v["generationConfig"]["thinkingConfig"]["thinkingBudget"],
        8192
    );
    let v = tr(
        Format::OpenAiChat,
        Format::Gemini,
        &body,
        "gemini-3-pro-preview(high)",
        None,
    );
    assert_eq!(
        v["generationConfig"]["thinkingConfig"]["thinkingLevel"],
        "high"
    );
    let v = tr(
        Format::OpenAiChat,
        Format::Claude,
        &body,
        "claude(none)",
        None,
    );
    assert_eq!(v["thinking"]["type"], "disabled");
    let v = tr(
        Format::Claude,
        Format::OpenAiChat,
        &json!({"messages":[],"thinking":{"type":"enabled","budget_tokens":20000}}),
        "gpt",
        None,
    );
    assert_eq!(v["reasoning_effort"], "high");
}

#[test]
fn claude_thinking_modes_to_effort() {
    let cases = [
        (json!({"type": "adaptive"}), None, "xhigh"),
        (json!({"type": "adaptive"}), Some("low"), "low"),
        (json!({"type": "disabled"}), None, "none"),
        (
            json!({"type": "enabled", "budget_tokens": 1024}),
            None,
            "low",
        ),
        (
            json!({"type": "enabled", "budget_tokens": 1025}),
            None,
            "medium",
        ),
    ];
    for (th, effort, want) in cases {
        let mut body = json!({"messages": [], "thinking": th});
        if let Some(e) = effort {
            body["output_config"] = json!({ "effort": e });
        }
        let v = tr(Format::Claude, Format::OpenAiChat, &body, "gpt", None);
        assert_eq!(v["reasoning_effort"], want, "{body}");
        let v = tr(Format::Claude, Format::Codex, &body, "gpt", None);
        assert_eq!(v["reasoning"]["effort"], want, "{body}");
    }
}

#[test]
fn claude_thinking_dropped_for_unsigned_tool_turn_and_forced_tools() {
    let tool_turn = json!({"reasoning_effort": "high", "max_tokens": 50000, "messages": [
        {"role": "user", "content": "x"},
        {"role": "assistant", "content": null, "reasoning_content": "r",
         "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c", "content": "ok"}]});
    let v = tr(Format::OpenAiChat, Format::Claude, &tool_turn, "c", None);
    assert!(v.get("thinking").is_none(), "{v}");
    let plain = json!({"reasoning_effort": "high", "max_tokens": 50000,
        "messages": [{"role": "user", "content": "x"}]});
    let v = tr(Format::OpenAiChat, Format::Claude, &plain, "c", None);
    assert_eq!(
        v["thinking"],
        json!({"type": "enabled", "budget_tokens": 24576})
    );
    assert!(v.get("temperature").is_none());
    let mut forced = plain.clone();
    forced["tools"] = json!([{"type": "function", "function": {"name": "f"}}]);
    forced["tool_choice"] = json!("required");
    let v = tr(Format::OpenAiChat, Format::Claude, &forced, "c", None);
    assert!(v.get("thinking").is_none());
    assert_eq!(v["tool_choice"], json!({"type": "any"}));
    // Budget is kept below max_tokens.
    let small = json!({"reasoning_effort": "high", "max_tokens": 4000,
        "messages": [{"role": "user", "content": "x"}]});
    let v = tr(Format::OpenAiChat, Format::Claude, &small, "c", None);
    assert_eq!(v["thinking"]["budget_tokens"], 3999);
}

#[test]
fn stream_flags() {
    let body = json!({"messages":[{"role":"user","content":"x"}]});
    let v = tr(Format::Claude, Format::OpenAiChat, &body, "gpt", None);
    assert_eq!(v["stream"], true);
    assert_eq!(v["stream_options"]["include_usage"], true);
}

#[test]
fn error_bodies() {
    let cases = [
        (
            Format::OpenAiChat,
            401,
            json!({"error":{"message":"m","type":"authentication_error","code":"invalid_api_key"}}),
        ),
        (
            Format::OpenAiChat,
            403,
            json!({"error":{"message":"m","type":"permission_error","code":"insufficient_quota"}}),
        ),
        (
            Format::OpenAiResponses,
            404,
            json!({"error":{"message":"m","type":"invalid_request_error","code":"model_not_found"}}),
        ),
        (
            Format::OpenAiChat,
            429,
            json!({"error":{"message":"m","type":"rate_limit_error","code":"rate_limit_exceeded"}}),
        ),
        (
            Format::OpenAiChat,
            502,
            json!({"error":{"message":"m","type":"server_error","code":"internal_server_error"}}),
        ),
        (
            Format::OpenAiChat,
            400,
            json!({"error":{"message":"m","type":"invalid_request_error"}}),
        ),
        (
            Format::Claude,
            429,
            json!({"type":"error","error":{"type":"rate_limit_error","message":"m"}}),
        ),
        (
            Format::Claude,
            400,
            json!({"type":"error","error":{"type":"invalid_request_error","message":"m"}}),
        ),
        (
            Format::Gemini,
            429,
            json!({"error":{"code":429,"message":"m","status":"RESOURCE_EXHAUSTED"}}),
        ),
        (
            Format::Gemini,
            400,
            json!({"error":{"code":400,"message":"m","status":"INVALID_ARGUMENT"}}),
        ),
    ];
    for (f, st, want) in cases {
        let mut out = Vec::new();
        error_body(f, st, "m", &mut out);
        assert_eq!(
            serde_json::from_slice::<Value>(&out).unwrap(),
            want,
            "{f:?} {st}"
        );
    }
}

#[test]
fn invalid_body_is_a_clean_error() {
    let mut out = b"keep".to_vec();
    let opts = ReqOpts {
        upstream_model: "m",
        stream: false,
        claude_default_max_tokens: None,
    };
    let e = translate_request(
        Format::OpenAiChat,
        Format::Claude,
        b"[1,2]",
        &opts,
        &mut out,
    )
    .unwrap_err();
    assert_eq!(out, b"keep");
    let mut body = Vec::new();
    e.write_body(Format::Claude, &mut body);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert!(
        translate_request(Format::Gemini, Format::Claude, b"{\"a\":", &opts, &mut out).is_err()
    );
}

/// xorshift64* — a tiny deterministic PRNG for the fuzz mirror.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, src: &[u8]) -> Vec<u8> {
    let mut v = src.to_vec();
    const TOKENS: &[&[u8]] = &[
        b"{",
        b"}",
        b"[",
        b"]",
        b",",
        b":",
        b"\"",
        b"\\",
        b"null",
        b"1e999",
        b"-0",
        b"\"type\"",
        b"\"text\"",
        b"\\u0000",
        b"\xff",
        b"\"tool_use\"",
        b"\"function\"",
        b"{}",
        b"[]",
    ];
    for _ in 0..1 + rng.below(4) {
        if v.is_empty() {
            break;
        }
        let at = rng.below(v.len());
        match rng.below(4) {
            0 => {
                v.remove(at);
            }
            1 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                v.splice(at..at, t.iter().copied());
            }
            2 => v[at] = rng.next() as u8,
            _ => {
                let end = (at + rng.below(40)).min(v.len());
                v.drain(at..end);
            }
        }
    }
    v
}

fn fixture_files(sub: &str) -> Vec<(String, Vec<u8>)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(sub);
    let mut out = Vec::new();
    for d in std::fs::read_dir(&root).unwrap().flatten() {
        if d.file_name() == "expected" || !d.path().is_dir() {
            continue;
        }
        for f in std::fs::read_dir(d.path()).unwrap().flatten() {
            out.push((
                d.file_name().to_string_lossy().to_string(),
                std::fs::read(f.path()).unwrap(),
            ));
        }
    }
    out
}

/// Valid JSON: serde_json accepts it, or only rejects a number outside f64
/// range (RFC 8259 allows it; the input carried it) and the crate's strict
/// parser accepts it.
fn check_json(out: &[u8]) -> Result<(), String> {
    match serde_json::from_slice::<Value>(out) {
        Ok(_) => Ok(()),
        Err(e) if e.to_string().contains("number out of range") => cliproxy::json::tree::parse(out)
            .map(|_| ())
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

const ALL: [Format; 5] = [
    Format::OpenAiChat,
    Format::OpenAiResponses,
    Format::Claude,
    Format::Gemini,
    Format::Codex,
];

#[test]
fn mutated_inputs_never_panic_and_output_valid_json() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let reqs = fixture_files("request");
    let resps = fixture_files("response");
    assert!(!reqs.is_empty() && !resps.is_empty());
    let opts = ReqOpts {
        upstream_model: "gemini-3-pro(low)",
        stream: true,
        claude_default_max_tokens: None,
    };
    let ctx = RespCtx {
        client_model: "m",
        created: 1,
    };
    let mut ok = 0;
    for round in 0..300 {
        for (_, body) in reqs.iter().chain(resps.iter()) {
            let m = if round == 0 {
                body.clone()
            } else {
                mutate(&mut rng, body)
            };
            // Differential check of the crate's parser against serde_json.
            let ours = cliproxy::json::tree::parse(&m).is_ok();
            match serde_json::from_slice::<Value>(&m) {
                Ok(_) => assert!(ours, "rejected valid: {}", String::from_utf8_lossy(&m)),
                Err(e) if e.to_string().contains("number out of range") => {}
                Err(_) => assert!(!ours, "accepted invalid: {}", String::from_utf8_lossy(&m)),
            }
            for from in ALL {
                for to in ALL {
                    let mut out = Vec::new();
                    if translate_request(from, to, &m, &opts, &mut out).is_ok() {
                        check_json(&out).unwrap_or_else(|e| {
                            panic!(
                                "{from:?}->{to:?} invalid JSON {e}: {}",
                                String::from_utf8_lossy(&out)
                            )
                        });
                        ok += 1;
                    } else {
                        assert!(out.is_empty());
                    }
                    let mut out = Vec::new();
                    if translate_response(from, to, &m, &ctx, &mut out).is_ok() {
                        check_json(&out).unwrap_or_else(|e| {
                            panic!(
                                "resp {from:?}->{to:?} invalid JSON {e}: {}",
                                String::from_utf8_lossy(&out)
                            )
                        });
                    }
                }
            }
        }
    }
    assert!(ok > 1000, "too few successful translations: {ok}");
}

#[test]
fn claude_user_id_derivation() {
    use sha2::{Digest, Sha256};
    let hex = |s: &str| {
        Sha256::digest(s.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let msgs = json!([{"role": "user", "content": [{"type": "text", "text": "  hello "}, {"type": "text", "text": "world"}]}]);
    let cases = [
        (
            json!({"messages": msgs, "metadata": {"user_id": "meta"}, "user": "u"}),
            "meta".to_string(),
        ),
        (json!({"messages": msgs, "user": "u"}), "u".to_string()),
        (
            json!({"messages": msgs, "prompt_cache_key": "pk", "session_id": "s"}),
            hex("prompt_cache_key:pk"),
        ),
        (
            json!({"messages": msgs, "conversation": {"id": "c1"}}),
            hex("conversation_id:c1"),
        ),
        (json!({"messages": msgs}), hex("content:hello\nworld")),
        (json!({"messages": []}), "unknown".to_string()),
        // One text (looked up without building the seed), trimmed, escaped.
        (
            json!({"messages": [{"role": "user", "content": "  hi\u{e9} \"q\"\n"}]}),
            hex("content:hi\u{e9} \"q\""),
        ),
        // A blank first user message: the next one seeds.
        (
            json!({"messages": [
                {"role": "user", "content": "   "},
                {"role": "assistant", "content": "a"},
                {"role": "user", "content": [{"type": "text", "text": "second"}, {"type": "text", "text": " "}]}
            ]}),
            hex("content:second"),
        ),
        // Three parts, a blank one between.
        (
            json!({"messages": [{"role": "user", "content": [
                {"type": "text", "text": "a"},
                {"type": "text", "text": "  "},
                {"type": "text", "text": "b\n"}
            ]}]}),
            hex("content:a\nb"),
        ),
        (
            json!({"messages": [{"role": "user", "content": "   "}]}),
            "unknown".to_string(),
        ),
    ];
    for (body, want) in cases {
        let v = tr(Format::OpenAiChat, Format::Claude, &body, "c", None);
        assert_eq!(v["metadata"]["user_id"], want.as_str(), "{body}");
    }
}
