//! Requests shaped like Claude Code, Codex CLI and Gemini CLI (fixtures in
//! `tests/fixtures/request/real_clients/`) translated to every upstream kind:
//! the result is valid JSON, tools keep their shape (Codex `custom` tools as a
//! function with one string `input`, namespaces flattened, hosted tools left
//! out), history keeps every call and result, mid-conversation system text
//! survives, and fields with no upstream equivalent do not leak. Answers to
//! custom / namespaced tools come back in the Codex client's shape.

#[path = "stream_support/mod.rs"]
mod support;
use cliproxy::translate::format::Format;
use cliproxy::translate::request::{translate_request, ReqOpts};
use cliproxy::translate::response::{translate_response_tools, RespCtx};
use cliproxy::translate::stream::{new_stream_translator, StreamCtx};
use cliproxy::translate::tools::ClientTools;
use serde_json::{json, Value};
use std::path::Path;
use support::{feed_split, request_json};

const PATCH: &str =
    "*** Begin Patch\n*** Update File: hello.txt\n@@\n-hi\n+hello \"world\"\n*** End Patch\n";

fn fixture(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/request/real_clients")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn tr(from: Format, to: Format, body: &[u8]) -> Value {
    let opts = ReqOpts {
        upstream_model: "up-model",
        stream: true,
        claude_default_max_tokens: None,
    };
    request_json(from, to, body, &opts)
}

/// Declared tool names in an upstream body of format `to`.
fn tool_names(to: Format, b: &Value) -> Vec<String> {
    let arr = |v: &Value| v.as_array().cloned().unwrap_or_default();
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    match to {
        Format::OpenAiChat => arr(&b["tools"])
            .iter()
            .map(|t| s(&t["function"]["name"]))
            .collect(),
        Format::Gemini => arr(&b["tools"])
            .iter()
            .flat_map(|t| arr(&t["functionDeclarations"]))
            .map(|d| s(&d["name"]))
            .collect(),
        _ => arr(&b["tools"]).iter().map(|t| s(&t["name"])).collect(),
    }
}

/// The parameters schema of tool `name`.
fn tool_schema(to: Format, b: &Value, name: &str) -> Value {
    let arr = |v: &Value| v.as_array().cloned().unwrap_or_default();
    match to {
        Format::OpenAiChat => arr(&b["tools"])
            .into_iter()
            .find(|t| t["function"]["name"] == name)
            .map(|t| t["function"]["parameters"].clone()),
        Format::Gemini => arr(&b["tools"])
            .iter()
            .flat_map(|t| arr(&t["functionDeclarations"]))
            .find(|d| d["name"] == name)
            .map(|d| {
                if d["parametersJsonSchema"].is_object() {
                    d["parametersJsonSchema"].clone()
                } else {
                    d["parameters"].clone()
                }
            }),
        Format::Claude => arr(&b["tools"])
            .into_iter()
            .find(|t| t["name"] == name)
            .map(|t| t["input_schema"].clone()),
        _ => arr(&b["tools"])
            .into_iter()
            .find(|t| t["name"] == name)
            .map(|t| t["parameters"].clone()),
    }
    .unwrap_or(Value::Null)
}

/// Every (name, parsed arguments) tool call in an upstream body's history.
fn history_calls(to: Format, b: &Value) -> Vec<(String, Value)> {
    let arr = |v: &Value| v.as_array().cloned().unwrap_or_default();
    let parse =
        |v: &Value| serde_json::from_str(v.as_str().unwrap_or("null")).unwrap_or(Value::Null);
    let mut out = Vec::new();
    match to {
        Format::OpenAiChat => {
            for m in arr(&b["messages"]) {
                for tc in arr(&m["tool_calls"]) {
                    let f = &tc["function"];
                    out.push((
                        f["name"].as_str().unwrap_or("").into(),
                        parse(&f["arguments"]),
                    ));
                }
            }
        }
        Format::Claude => {
            for m in arr(&b["messages"]) {
                for c in arr(&m["content"])
                    .into_iter()
                    .filter(|c| c["type"] == "tool_use")
                {
                    out.push((c["name"].as_str().unwrap_or("").into(), c["input"].clone()));
                }
            }
        }
        Format::Gemini => {
            for c in arr(&b["contents"]) {
                for p in arr(&c["parts"]) {
                    if p["functionCall"].is_object() {
                        let f = &p["functionCall"];
                        out.push((f["name"].as_str().unwrap_or("").into(), f["args"].clone()));
                    }
                }
            }
        }
        _ => {
            for it in arr(&b["input"])
                .into_iter()
                .filter(|i| i["type"] == "function_call")
            {
                out.push((
                    it["name"].as_str().unwrap_or("").into(),
                    parse(&it["arguments"]),
                ));
            }
        }
    }
    out
}

const TARGETS: [Format; 4] = [
    Format::OpenAiChat,
    Format::OpenAiResponses,
    Format::Claude,
    Format::Gemini,
];

#[test]
fn codex_cli_request_reaches_every_upstream_kind() {
    let body = fixture("codex_cli_tools.json");
    let custom_schema =
        json!({"type":"object","properties":{"input":{"type":"string"}},"required":["input"]});
    for to in TARGETS {
        let b = tr(Format::OpenAiResponses, to, &body);
        let text = b.to_string();
        let names = tool_names(to, &b);
        let case = format!(
            "codex -> {to:?}: {}",
            serde_json::to_string_pretty(&b).unwrap()
        );
        if to == Format::OpenAiResponses {
            // Same format: untouched (custom tools are native there).
            assert!(text.contains("\"custom\""), "{case}");
            continue;
        }
        assert_eq!(
            names,
            [
                "shell",
                "apply_patch",
                "update_plan",
                "mcp__github__get_issue"
            ],
            "{case}"
        );
        // The freeform tool is a function with one string argument.
        assert_eq!(tool_schema(to, &b, "apply_patch"), custom_schema, "{case}");
        assert_eq!(
            tool_schema(to, &b, "mcp__github__get_issue")["required"],
            json!(["owner", "repo", "number"]),
            "{case}"
        );
        // The freeform instruction would contradict the `input` argument.
        assert!(!text.contains("do not wrap the patch in JSON"), "{case}");
        assert!(text.contains("can be used to edit files."), "{case}");
        // Hosted tools and the grammar are left out.
        for gone in ["local_shell", "web_search", "lark", "external_web_access"] {
            assert!(!text.contains(gone), "{gone} leaked: {case}");
        }
        // History: the custom call becomes a call with {"input": patch}; the
        // namespaced call uses the flattened name.
        let calls = history_calls(to, &b);
        assert!(
            calls.contains(&("apply_patch".into(), json!({ "input": PATCH }))),
            "{case}"
        );
        assert!(
            calls.contains(&(
                "mcp__github__get_issue".into(),
                json!({"owner":"acme","repo":"proj","number":7})
            )),
            "{case}"
        );
        assert!(
            text.contains("Success. Updated the following files"),
            "{case}"
        );
        assert!(text.contains("greeting should be capitalised"), "{case}");
        // The mid-conversation developer message survives.
        assert!(text.contains("Keep answers short."), "{case}");
    }
    // Chat: the mid-conversation developer text stays in place, before the
    // last user message, as a system message.
    let b = tr(Format::OpenAiResponses, Format::OpenAiChat, &body);
    let msgs = b["messages"].as_array().unwrap();
    let n = msgs.len();
    assert_eq!(msgs[n - 2]["role"], "system", "{b}");
    assert!(msgs[n - 2]["content"]
        .to_string()
        .contains("Keep answers short."));
    assert_eq!(msgs[n - 1]["role"], "user");
    assert!(msgs[0]["content"].to_string().contains("You are Codex"));
    // Claude has only a top-level system: the text is appended there.
    let b = tr(Format::OpenAiResponses, Format::Claude, &body);
    assert!(
        b["system"].to_string().contains("Keep answers short."),
        "{b}"
    );
    // Codex upstream: the native body, custom tool and all.
    let b = tr(Format::OpenAiResponses, Format::Codex, &body);
    assert!(b["tools"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["type"] == "custom" && t["name"] == "apply_patch"));
}

#[test]
fn claude_code_request_reaches_every_upstream_kind() {
    let body = fixture("claude_code_session.json");
    for to in [
        Format::OpenAiChat,
        Format::OpenAiResponses,
        Format::Codex,
        Format::Gemini,
    ] {
        let b = tr(Format::Claude, to, &body);
        let text = b.to_string();
        let case = format!(
            "claude code -> {to:?}: {}",
            serde_json::to_string_pretty(&b).unwrap()
        );
        let names = tool_names(to, &b);
        assert_eq!(names, ["Bash", "Read", "mcp__github__get_issue"], "{case}");
        for gone in [
            "defer_loading",
            "context_management",
            "clear_thinking",
            "cache_control",
            "web_search_20250305",
            "output_config",
        ] {
            assert!(!text.contains(gone), "{gone} leaked: {case}");
        }
        assert!(text.contains("You are Claude Code"), "{case}");
        let calls = history_calls(to, &b);
        assert!(
            calls.contains(&(
                "Read".into(),
                json!({"file_path":"/home/dev/proj/src/main.rs"})
            )),
            "{case}"
        );
        assert!(text.contains("println!"), "{case}");
        // A foreign thinking signature never leaves its family.
        assert!(!text.contains("EqQBCkYIBxgCKkDsig=="), "{case}");
    }
    // Same format: the body passes with only the model replaced.
    let b = tr(Format::Claude, Format::Claude, &body);
    assert_eq!(b["context_management"]["edits"][0]["keep"], "all");
    assert_eq!(b["tools"][2]["defer_loading"], true);
}

const SIG: &str = "CiQBcsjafF+Ck1tZyBzaWduYXR1cmUgd2l0aCAvIGFuZCArIGFuZCA9PQ==";

#[test]
fn gemini_cli_request_reaches_every_upstream_kind() {
    let body = fixture("gemini_cli_session.json");
    for to in [
        Format::OpenAiChat,
        Format::OpenAiResponses,
        Format::Codex,
        Format::Claude,
    ] {
        let b = tr(Format::Gemini, to, &body);
        let text = b.to_string();
        let case = format!(
            "gemini cli -> {to:?}: {}",
            serde_json::to_string_pretty(&b).unwrap()
        );
        assert_eq!(
            tool_names(to, &b),
            ["read_file", "run_shell_command"],
            "{case}"
        );
        assert_eq!(
            tool_schema(to, &b, "read_file")["required"],
            json!(["absolute_path"]),
            "{case}"
        );
        assert_eq!(
            history_calls(to, &b),
            [(
                "read_file".to_string(),
                json!({"absolute_path":"/home/dev/proj/README.md"})
            )],
            "{case}"
        );
        assert!(text.contains("A demo project."), "{case}");
        assert!(text.contains("interactive CLI agent"), "{case}");
        // The Gemini signature is dropped quietly for other upstreams.
        assert!(!text.contains(SIG), "{case}");
        assert!(!text.contains("thoughtSignature"), "{case}");
    }
    // Gemini upstream: history passes byte for byte, signature included.
    let mut out = Vec::new();
    let opts = ReqOpts {
        upstream_model: "gemini-2.5-pro",
        stream: true,
        claude_default_max_tokens: None,
    };
    translate_request(Format::Gemini, Format::Gemini, &body, &opts, &mut out).unwrap();
    // Byte-exact (the request body is the document, without trailing whitespace).
    assert!(
        out == body.trim_ascii_end(),
        "same-format Gemini must be byte-exact: {}",
        String::from_utf8_lossy(&out)
    );
}

/// A call that came from a Gemini upstream, replayed by a non-Gemini client,
/// goes back to Gemini with CLIProxyAPI's validator-skip signature.
#[test]
fn foreign_history_to_gemini_gets_the_skip_signature() {
    let body = fixture("codex_cli_tools.json");
    let b = tr(Format::OpenAiResponses, Format::Gemini, &body);
    let sigs: Vec<&Value> = b["contents"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["parts"].as_array().unwrap().iter())
        .filter(|p| p["functionCall"].is_object())
        .map(|p| &p["thoughtSignature"])
        .collect();
    assert_eq!(sigs.len(), 3);
    assert!(sigs
        .iter()
        .all(|s| *s == "skip_thought_signature_validator"));
}

// ------------------------------------------------------------ answers

fn codex_tools() -> ClientTools {
    ClientTools::from_responses_body(&fixture("codex_cli_tools.json")).expect("custom tools")
}

fn wrapped_args() -> String {
    json!({ "input": PATCH }).to_string()
}

/// Upstream whole answers calling apply_patch (wrapped) and the namespaced MCP tool.
fn upstream_answer(from: Format) -> Value {
    let wa = wrapped_args();
    let mcp = json!({"owner":"acme","repo":"proj","number":7});
    match from {
        Format::OpenAiChat => {
            json!({"id":"c1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[
            {"id":"call_a","type":"function","function":{"name":"apply_patch","arguments":wa}},
            {"id":"call_b","type":"function","function":{"name":"mcp__github__get_issue","arguments":mcp.to_string()}}]},"finish_reason":"tool_calls"}]})
        }
        Format::Claude => {
            json!({"id":"msg_1","type":"message","role":"assistant","model":"m","content":[
            {"type":"tool_use","id":"call_a","name":"apply_patch","input":{"input":PATCH}},
            {"type":"tool_use","id":"call_b","name":"mcp__github__get_issue","input":mcp}],"stop_reason":"tool_use","usage":{"input_tokens":1,"output_tokens":2}})
        }
        _ => json!({"candidates":[{"content":{"role":"model","parts":[
            {"functionCall":{"id":"call_a","name":"apply_patch","args":{"input":PATCH}}},
            {"functionCall":{"id":"call_b","name":"mcp__github__get_issue","args":mcp}}]},"finishReason":"STOP"}]}),
    }
}

fn check_codex_items(items: &[Value], case: &str) {
    let custom = items
        .iter()
        .find(|i| i["type"] == "custom_tool_call")
        .unwrap_or_else(|| panic!("{case}: no custom_tool_call in {items:?}"));
    assert_eq!(custom["name"], "apply_patch", "{case}");
    assert_eq!(custom["input"], PATCH, "{case}");
    assert!(custom.get("arguments").is_none(), "{case}");
    assert!(
        custom["call_id"].as_str().is_some_and(|c| !c.is_empty()),
        "{case}"
    );
    let ns = items
        .iter()
        .find(|i| i["type"] == "function_call")
        .unwrap_or_else(|| panic!("{case}: no function_call"));
    assert_eq!(ns["name"], "get_issue", "{case}");
    assert_eq!(ns["namespace"], "mcp__github__", "{case}");
    let a: Value = serde_json::from_str(ns["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(
        a,
        json!({"owner":"acme","repo":"proj","number":7}),
        "{case}"
    );
}

#[test]
fn custom_and_namespaced_calls_come_back_to_codex_whole() {
    let tools = codex_tools();
    for from in [Format::OpenAiChat, Format::Claude, Format::Gemini] {
        let body = upstream_answer(from).to_string();
        let ctx = RespCtx {
            client_model: "gpt-5-codex",
            created: 1,
        };
        let mut out = Vec::new();
        translate_response_tools(
            from,
            Format::OpenAiResponses,
            body.as_bytes(),
            &ctx,
            Some(&tools),
            &mut out,
        )
        .unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        check_codex_items(v["output"].as_array().unwrap(), &format!("{from:?} whole"));
        // Without the client's tools the calls stay plain function calls.
        let mut plain = Vec::new();
        translate_response_tools(
            from,
            Format::OpenAiResponses,
            body.as_bytes(),
            &ctx,
            None,
            &mut plain,
        )
        .unwrap();
        let v: Value = serde_json::from_slice(&plain).unwrap();
        assert!(v["output"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["type"] == "function_call"));
    }
}

/// Upstream streams calling apply_patch (wrapper split across fragments) and
/// the namespaced MCP tool.
fn upstream_stream(from: Format) -> String {
    let wa = wrapped_args();
    let (a1, a2) = wa.split_at(wa.len() / 2);
    let mcp = json!({"owner":"acme","repo":"proj","number":7}).to_string();
    let ev = |name: Option<&str>, d: Value| match name {
        Some(n) => format!("event: {n}\ndata: {d}\n\n"),
        None => format!("data: {d}\n\n"),
    };
    let mut s = String::new();
    match from {
        Format::OpenAiChat => {
            let chunk = |delta: Value, fin: Value| json!({"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":delta,"finish_reason":fin}]});
            s += &ev(
                None,
                chunk(
                    json!({"role":"assistant","tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"apply_patch","arguments":a1}}]}),
                    Value::Null,
                ),
            );
            s += &ev(
                None,
                chunk(
                    json!({"tool_calls":[{"index":0,"function":{"arguments":a2}}]}),
                    Value::Null,
                ),
            );
            s += &ev(
                None,
                chunk(
                    json!({"tool_calls":[{"index":1,"id":"call_b","type":"function","function":{"name":"mcp__github__get_issue","arguments":mcp}}]}),
                    Value::Null,
                ),
            );
            s += &ev(None, chunk(json!({}), json!("tool_calls")));
            s += "data: [DONE]\n\n";
        }
        Format::Claude => {
            s += &ev(
                Some("message_start"),
                json!({"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"m","usage":{"input_tokens":1,"output_tokens":1}}}),
            );
            s += &ev(
                Some("content_block_start"),
                json!({"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"call_a","name":"apply_patch","input":{}}}),
            );
            for p in [a1, a2] {
                s += &ev(
                    Some("content_block_delta"),
                    json!({"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":p}}),
                );
            }
            s += &ev(
                Some("content_block_stop"),
                json!({"type":"content_block_stop","index":0}),
            );
            s += &ev(
                Some("content_block_start"),
                json!({"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"call_b","name":"mcp__github__get_issue","input":{}}}),
            );
            s += &ev(
                Some("content_block_delta"),
                json!({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":mcp}}),
            );
            s += &ev(
                Some("content_block_stop"),
                json!({"type":"content_block_stop","index":1}),
            );
            s += &ev(
                Some("message_delta"),
                json!({"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":5}}),
            );
            s += &ev(Some("message_stop"), json!({"type":"message_stop"}));
        }
        _ => {
            s += &ev(
                None,
                json!({"candidates":[{"content":{"role":"model","parts":[
                {"functionCall":{"id":"call_a","name":"apply_patch","args":{"input":PATCH}}},
                {"functionCall":{"id":"call_b","name":"mcp__github__get_issue","args":{"owner":"acme","repo":"proj","number":7}}}]},"finishReason":"STOP"}]}),
            );
        }
    }
    s
}

fn translate_stream(from: Format, upstream: &[u8], cuts: &[usize]) -> Vec<u8> {
    let ctx = StreamCtx {
        model: "gpt-5-codex",
        created: 1,
        id_seed: 7,
    };
    let mut t = new_stream_translator(from, Format::OpenAiResponses, ctx);
    t.set_client_tools(Some(codex_tools()));
    feed_split(t, upstream, cuts)
}

fn events(out: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(out)
        .split("\n\n")
        .filter_map(|f| f.lines().find_map(|l| l.strip_prefix("data: ")))
        .map(|d| serde_json::from_str(d).unwrap_or_else(|e| panic!("bad frame {d}: {e}")))
        .collect()
}

#[test]
fn custom_and_namespaced_calls_stream_back_to_codex() {
    for from in [Format::OpenAiChat, Format::Claude, Format::Gemini] {
        let up = upstream_stream(from);
        let whole = translate_stream(from, up.as_bytes(), &[]);
        let evs = events(&whole);
        let case = format!("{from:?} stream: {}", String::from_utf8_lossy(&whole));
        // Codex consumes output_item.added/done and the custom input events.
        let added = evs
            .iter()
            .find(|e| {
                e["type"] == "response.output_item.added" && e["item"]["type"] == "custom_tool_call"
            })
            .unwrap_or_else(|| panic!("{case}"));
        assert_eq!(added["item"]["name"], "apply_patch", "{case}");
        let deltas: String = evs
            .iter()
            .filter(|e| e["type"] == "response.custom_tool_call_input.delta")
            .map(|e| e["delta"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(deltas, PATCH, "{case}");
        let done = evs
            .iter()
            .find(|e| e["type"] == "response.custom_tool_call_input.done")
            .unwrap_or_else(|| panic!("{case}"));
        assert_eq!(done["input"], PATCH, "{case}");
        assert_eq!(done["item_id"], added["item"]["id"], "{case}");
        // No argument deltas leak the `{"input":` wrapper for the custom call.
        assert!(
            !evs.iter()
                .any(|e| e["type"] == "response.function_call_arguments.delta"
                    && e["item_id"] == added["item"]["id"]),
            "{case}"
        );
        let done_items: Vec<Value> = evs
            .iter()
            .filter(|e| e["type"] == "response.output_item.done")
            .map(|e| e["item"].clone())
            .collect();
        check_codex_items(&done_items, &case);
        let completed = evs
            .iter()
            .find(|e| e["type"] == "response.completed")
            .unwrap_or_else(|| panic!("{case}"));
        check_codex_items(completed["response"]["output"].as_array().unwrap(), &case);
        // Split at every byte: same output as whole.
        let up = up.as_bytes();
        for cut in 1..up.len() {
            let split = translate_stream(from, up, &[cut]);
            assert_eq!(split, whole, "{from:?}: split at {cut} differs");
        }
        let bytewise: Vec<usize> = (1..up.len()).collect();
        assert_eq!(
            translate_stream(from, up, &bytewise),
            whole,
            "{from:?}: byte by byte"
        );
    }
}

/// A reused translator forgets the previous stream's client tools.
#[test]
fn reset_clears_client_tools() {
    let up = upstream_stream(Format::Claude);
    let ctx = StreamCtx {
        model: "m",
        created: 1,
        id_seed: 7,
    };
    let mut t = new_stream_translator(Format::Claude, Format::OpenAiResponses, ctx);
    t.set_client_tools(Some(codex_tools()));
    let mut out = Vec::new();
    t.feed(up.as_bytes(), &mut out);
    t.finish(&mut out);
    assert!(String::from_utf8_lossy(&out).contains("custom_tool_call"));
    t.reset(ctx);
    let mut again = Vec::new();
    t.feed(up.as_bytes(), &mut again);
    t.finish(&mut again);
    let s = String::from_utf8_lossy(&again);
    assert!(
        !s.contains("custom_tool_call") && !s.contains("\"namespace\""),
        "{s}"
    );
}

/// An OpenAI Chat client's `system` message in the middle of the conversation
/// stays in place for Chat and Responses upstreams and joins the top-level
/// system for Claude and Gemini.
#[test]
fn chat_mid_conversation_system_is_kept() {
    let body = json!({"model":"m","messages":[
        {"role":"system","content":"S0"},
        {"role":"user","content":"U1"},
        {"role":"assistant","content":"A1"},
        {"role":"system","content":"S-mid"},
        {"role":"user","content":"U2"}]})
    .to_string();
    let b = tr(Format::OpenAiChat, Format::OpenAiResponses, body.as_bytes());
    assert_eq!(b["instructions"], "S0", "{b}");
    let input = b["input"].as_array().unwrap();
    let roles: Vec<&str> = input
        .iter()
        .map(|i| i["role"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(roles, ["user", "assistant", "developer", "user"], "{b}");
    assert_eq!(input[2]["content"][0]["text"], "S-mid");
    let b = tr(Format::OpenAiChat, Format::Codex, body.as_bytes());
    let roles: Vec<&str> = b["input"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["role"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        roles,
        ["developer", "user", "assistant", "developer", "user"],
        "{b}"
    );
    let b = tr(Format::OpenAiChat, Format::Claude, body.as_bytes());
    assert_eq!(b["system"].to_string().matches("S-mid").count(), 1, "{b}");
    assert_eq!(b["messages"].as_array().unwrap().len(), 3, "{b}");
    let b = tr(Format::OpenAiChat, Format::Gemini, body.as_bytes());
    assert!(b["systemInstruction"].to_string().contains("S-mid"), "{b}");
    assert!(b["systemInstruction"].to_string().contains("S0"), "{b}");
}
