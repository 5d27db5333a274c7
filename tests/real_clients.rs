//! Requests shaped like Claude Code, Codex CLI and Gemini CLI (fixtures in
//! `tests/fixtures/request/real_clients/`, with the headers those CLIs send)
//! through the real binary to every upstream kind (OpenAI-compatible, Claude,
//! Gemini, Codex), stream and not: the upstream gets a well-formed request
//! (tools in its shape, the freeform custom tool as a function with one string
//! argument, no hosted tools, system text kept) and the answer, a tool call,
//! comes back in the CLI's own format. Plus the two round trips real CLIs
//! depend on: Codex's `custom_tool_call` (against a Chat and a Claude
//! upstream) and Gemini's `thoughtSignature`.

mod common;
use common::*;
use serde_json::{json, Value};
use std::path::Path;

const PATCH: &str = "*** Begin Patch\n*** Add File: greet.txt\n+Hello \"world\"\n*** End Patch\n";
const SIG: &str = "CiQBcsjafF+UpstreamSig/with+plus==";
const KEY: &str = "sk-client-1";

fn fixture(name: &str) -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/request/real_clients")
        .join(name);
    serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap()
}

/// The tool the mock model calls: whichever CLI's tool set it was given.
fn pick_call(body: &str) -> (&'static str, Value) {
    if body.contains("apply_patch") {
        ("apply_patch", json!({ "input": PATCH }))
    } else if body.contains("\"Bash\"") {
        ("Bash", json!({"command":"cargo run"}))
    } else {
        (
            "read_file",
            json!({"absolute_path":"/home/dev/proj/Cargo.toml"}),
        )
    }
}

fn upstream(r: &Recorded) -> Reply {
    let text = String::from_utf8_lossy(&r.body).to_string();
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let stream =
        body["stream"].as_bool().unwrap_or(false) || r.path.contains("streamGenerateContent");
    let (name, args) = pick_call(&text);
    let argstr = args.to_string();
    let (a1, a2) = argstr.split_at(argstr.len() / 2);
    if r.path == "/v1/chat/completions" {
        if stream {
            let chunk = |delta: Value, fin: Value| json!({"id":"c","object":"chat.completion.chunk","created":1,"model":"u","choices":[{"index":0,"delta":delta,"finish_reason":fin}]});
            return sse_events(&[
                (
                    None,
                    chunk(
                        json!({"role":"assistant","tool_calls":[{"index":0,"id":"call_up","type":"function","function":{"name":name,"arguments":a1}}]}),
                        Value::Null,
                    ),
                ),
                (
                    None,
                    chunk(
                        json!({"tool_calls":[{"index":0,"function":{"arguments":a2}}]}),
                        Value::Null,
                    ),
                ),
                (None, chunk(json!({}), json!("tool_calls"))),
            ]);
        }
        return json_reply(200, &json!({"id":"c","object":"chat.completion","created":1,"model":"u","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_up","type":"function","function":{"name":name,"arguments":argstr}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}).to_string());
    }
    if r.path.starts_with("/v1/messages") {
        if stream {
            return sse_events(&[
                (
                    Some("message_start"),
                    json!({"type":"message_start","message":{"id":"msg_up","type":"message","role":"assistant","content":[],"model":"u","stop_reason":null,"usage":{"input_tokens":3,"output_tokens":1}}}),
                ),
                (
                    Some("content_block_start"),
                    json!({"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"call_up","name":name,"input":{}}}),
                ),
                (
                    Some("content_block_delta"),
                    json!({"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":a1}}),
                ),
                (
                    Some("content_block_delta"),
                    json!({"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":a2}}),
                ),
                (
                    Some("content_block_stop"),
                    json!({"type":"content_block_stop","index":0}),
                ),
                (
                    Some("message_delta"),
                    json!({"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":4}}),
                ),
                (Some("message_stop"), json!({"type":"message_stop"})),
            ]);
        }
        return json_reply(200, &json!({"id":"msg_up","type":"message","role":"assistant","model":"u","content":[{"type":"tool_use","id":"call_up","name":name,"input":args}],"stop_reason":"tool_use","usage":{"input_tokens":3,"output_tokens":4}}).to_string());
    }
    if r.path.starts_with("/v1beta/models/") {
        let chunk = json!({"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"name":name,"args":args},"thoughtSignature":SIG}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":4,"totalTokenCount":7}});
        if stream {
            return sse_events(&[(None, chunk)]);
        }
        return json_reply(200, &chunk.to_string());
    }
    if r.path == "/codex/responses" {
        // A Codex upstream speaks Responses natively: a custom tool is called
        // as a custom_tool_call.
        let item = if name == "apply_patch" {
            json!({"type":"custom_tool_call","id":"ctc_up","call_id":"call_up","name":name,"input":PATCH,"status":"completed"})
        } else {
            json!({"type":"function_call","id":"fc_up","call_id":"call_up","name":name,"arguments":argstr,"status":"completed"})
        };
        let mut added = item.clone();
        added["status"] = json!("in_progress");
        let mut ev = vec![
            (
                Some("response.created"),
                json!({"type":"response.created","response":{"id":"resp_up","object":"response","created_at":1,"status":"in_progress","model":"u","output":[]}}),
            ),
            (
                Some("response.output_item.added"),
                json!({"type":"response.output_item.added","output_index":0,"item":added}),
            ),
        ];
        if name == "apply_patch" {
            ev.push((Some("response.custom_tool_call_input.delta"), json!({"type":"response.custom_tool_call_input.delta","item_id":"ctc_up","output_index":0,"delta":PATCH})));
        } else {
            for p in [a1, a2] {
                ev.push((Some("response.function_call_arguments.delta"), json!({"type":"response.function_call_arguments.delta","item_id":"fc_up","output_index":0,"delta":p})));
            }
            ev.push((Some("response.function_call_arguments.done"), json!({"type":"response.function_call_arguments.done","item_id":"fc_up","output_index":0,"arguments":argstr})));
        }
        ev.extend([
            (Some("response.output_item.done"), json!({"type":"response.output_item.done","output_index":0,"item":item})),
            (Some("response.completed"), json!({"type":"response.completed","response":{"id":"resp_up","object":"response","created_at":1,"status":"completed","model":"u","output":[item],"usage":{"input_tokens":3,"output_tokens":4,"total_tokens":7}}})),
        ]);
        return sse_events(&ev);
    }
    json_reply(404, "{}")
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Cli {
    ClaudeCode,
    Codex,
    Gemini,
}

/// Every upstream kind at `mock`, aliased m-compat, m-claude, m-gemini, m-codex.
fn config(mock: &Mock) -> String {
    every_kind_config(mock, |_| ("k".into(), "u".into()), "")
}

/// Send `body` as `cli` would (path, headers, stream flag).
fn send(srv: &Server, cli: Cli, model: &str, stream: bool, mut body: Value) -> Resp {
    match cli {
        Cli::ClaudeCode => {
            body["model"] = json!(model);
            body["stream"] = json!(stream);
            srv.request(
                "POST",
                "/v1/messages?beta=true",
                &[
                    ("x-api-key", KEY),
                    ("anthropic-version", "2023-06-01"),
                    (
                        "anthropic-beta",
                        "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27,fine-grained-tool-streaming-2025-05-14",
                    ),
                    ("anthropic-dangerous-direct-browser-access", "true"),
                    ("x-app", "cli"),
                    ("User-Agent", "claude-cli/2.0.14 (external, cli)"),
                    ("x-stainless-lang", "js"),
                ],
                &body.to_string(),
            )
        }
        Cli::Codex => {
            body["model"] = json!(model);
            body["stream"] = json!(stream);
            srv.request(
                "POST",
                "/v1/responses",
                &[
                    ("Authorization", &format!("Bearer {KEY}")),
                    ("originator", "codex_cli_rs"),
                    ("version", "0.46.0"),
                    ("OpenAI-Beta", "responses=experimental"),
                    ("session_id", "0199a7f2-6c1b-7d52-9c3e-5f1a2b3c4d5e"),
                    (
                        "User-Agent",
                        "codex_cli_rs/0.46.0 (Ubuntu 24.4.0; x86_64) xterm",
                    ),
                    ("Accept", "text/event-stream"),
                ],
                &body.to_string(),
            )
        }
        Cli::Gemini => srv.request(
            "POST",
            &gemini_path(model, stream),
            &[
                ("x-goog-api-key", KEY),
                (
                    "x-goog-api-client",
                    "google-genai-sdk/1.16.0 gl-node/v22.17.0",
                ),
                ("User-Agent", "GeminiCLI/0.9.0 (linux; x64)"),
            ],
            &body.to_string(),
        ),
    }
}

/// Declared tool names and the upstream's system text, from its request.
fn upstream_view(model: &str, b: &Value) -> (Vec<String>, String) {
    let arr = |v: &Value| v.as_array().cloned().unwrap_or_default();
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    match model {
        "m-compat" => (
            arr(&b["tools"])
                .iter()
                .map(|t| s(&t["function"]["name"]))
                .collect(),
            arr(&b["messages"])
                .iter()
                .filter(|m| m["role"] == "system")
                .map(|m| m["content"].to_string())
                .collect(),
        ),
        "m-claude" => (
            arr(&b["tools"]).iter().map(|t| s(&t["name"])).collect(),
            b["system"].to_string(),
        ),
        "m-gemini" => (
            arr(&b["tools"])
                .iter()
                .flat_map(|t| arr(&t["functionDeclarations"]))
                .map(|d| s(&d["name"]))
                .collect(),
            b["systemInstruction"].to_string(),
        ),
        _ => (
            arr(&b["tools"]).iter().map(|t| s(&t["name"])).collect(),
            format!(
                "{}{}",
                b["instructions"],
                arr(&b["input"])
                    .iter()
                    .filter(|i| i["role"] == "developer" || i["role"] == "system")
                    .map(|i| i["content"].to_string())
                    .collect::<String>()
            ),
        ),
    }
}

/// Checks on the upstream request; returns failures.
fn check_upstream(cli: Cli, model: &str, r: &Recorded) -> Vec<String> {
    let mut f = Vec::new();
    let b = r.json();
    let text = String::from_utf8_lossy(&r.body).to_string();
    let (tools, system) = upstream_view(model, &b);
    let same = matches!(
        (cli, model),
        (Cli::ClaudeCode, "m-claude") | (Cli::Gemini, "m-gemini") | (Cli::Codex, "m-codex")
    );
    let (want_tools, want_system): (Vec<&str>, &str) = match cli {
        Cli::ClaudeCode if same => (
            vec!["Bash", "Read", "mcp__github__get_issue", "web_search"],
            "You are Claude Code",
        ),
        Cli::ClaudeCode => (
            vec!["Bash", "Read", "mcp__github__get_issue"],
            "You are Claude Code",
        ),
        Cli::Codex if same => (
            vec![
                "shell",
                "apply_patch",
                "",
                "",
                "update_plan",
                "mcp__github__",
            ],
            "Keep answers short.",
        ),
        Cli::Codex => (
            vec![
                "shell",
                "apply_patch",
                "update_plan",
                "mcp__github__get_issue",
            ],
            "Keep answers short.",
        ),
        Cli::Gemini => (
            vec!["read_file", "run_shell_command"],
            "interactive CLI agent",
        ),
    };
    if tools != want_tools {
        f.push(format!("tools {tools:?}, want {want_tools:?}"));
    }
    if !system.contains(want_system) {
        f.push(format!("system text lost: {system}"));
    }
    if !same {
        for gone in [
            "local_shell",
            "web_search",
            "defer_loading",
            "context_management",
        ] {
            if text.contains(gone) {
                f.push(format!("{gone} reached the upstream"));
            }
        }
    }
    if cli == Cli::Codex && !same {
        // The freeform tool: a function with exactly one string argument.
        let schema = match model {
            "m-compat" => b["tools"][1]["function"]["parameters"].clone(),
            "m-claude" => b["tools"][1]["input_schema"].clone(),
            "m-gemini" => {
                let d = &b["tools"][0]["functionDeclarations"][1];
                if d["parametersJsonSchema"].is_object() {
                    d["parametersJsonSchema"].clone()
                } else {
                    d["parameters"].clone()
                }
            }
            _ => Value::Null,
        };
        let props = schema["properties"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let input_type = props
            .get("input")
            .map(|p| p["type"].as_str().unwrap_or("").to_ascii_lowercase());
        if props.len() != 1 || input_type.as_deref() != Some("string") {
            f.push(format!("custom tool schema {schema}"));
        }
    }
    f
}

/// The tool call the client received: (name, arguments or custom input).
fn client_call(cli: Cli, stream: bool, resp: &Resp) -> Option<(String, Value)> {
    let parse = |s: &str| serde_json::from_str::<Value>(s).ok();
    match (cli, stream) {
        (Cli::Codex, false) => {
            let v = resp.json();
            let it = v["output"]
                .as_array()?
                .iter()
                .find(|o| o["type"] == "custom_tool_call" || o["type"] == "function_call")?;
            client_item(it)
        }
        (Cli::Codex, true) => {
            let evs = sse_json(&resp.body);
            let done = evs.iter().find(|e| {
                e["type"] == "response.output_item.done"
                    && (e["item"]["type"] == "custom_tool_call"
                        || e["item"]["type"] == "function_call")
            })?;
            evs.iter().find(|e| e["type"] == "response.completed")?;
            client_item(&done["item"])
        }
        (Cli::ClaudeCode, false) => {
            let v = resp.json();
            let b = v["content"]
                .as_array()?
                .iter()
                .find(|c| c["type"] == "tool_use")?;
            Some((b["name"].as_str()?.into(), b["input"].clone()))
        }
        (Cli::ClaudeCode, true) => {
            let (name, a) = claude_stream_tool_call(&sse_json(&resp.body))?;
            Some((name, parse(&a)?))
        }
        (Cli::Gemini, s) => {
            let chunks = if s {
                sse_json(&resp.body)
            } else {
                vec![resp.json()]
            };
            gemini_function_call(&chunks)
        }
    }
}

fn client_item(it: &Value) -> Option<(String, Value)> {
    let name = it["name"].as_str()?.to_string();
    if it["type"] == "custom_tool_call" {
        if it.get("arguments").is_some() {
            return None;
        }
        return Some((name, json!({ "custom_input": it["input"] })));
    }
    Some((name, serde_json::from_str(it["arguments"].as_str()?).ok()?))
}

#[test]
fn every_cli_to_every_upstream_kind() {
    let mock = Mock::start(upstream);
    let srv = Server::start("epoll", 2, &config(&mock), &[]);
    let mut failures = Vec::new();
    for (cli, fx) in [
        (Cli::ClaudeCode, "claude_code_session.json"),
        (Cli::Codex, "codex_cli_tools.json"),
        (Cli::Gemini, "gemini_cli_session.json"),
    ] {
        for model in UPSTREAMS {
            for stream in [false, true] {
                let case = format!("{cli:?} -> {model} stream={stream}");
                let before = mock.requests().len();
                let resp = send(&srv, cli, model, stream, fixture(fx));
                if resp.status != 200 {
                    failures.push(format!("{case}: status {} {}", resp.status, resp.text()));
                    continue;
                }
                let reqs = mock.requests();
                let Some(r) = reqs.get(before) else {
                    failures.push(format!("{case}: upstream not called"));
                    continue;
                };
                for f in check_upstream(cli, model, r) {
                    failures.push(format!("{case}: {f}"));
                }
                let want = match cli {
                    Cli::Codex => ("apply_patch".to_string(), json!({ "custom_input": PATCH })),
                    Cli::ClaudeCode => ("Bash".to_string(), json!({"command":"cargo run"})),
                    Cli::Gemini => (
                        "read_file".to_string(),
                        json!({"absolute_path":"/home/dev/proj/Cargo.toml"}),
                    ),
                };
                match client_call(cli, stream, &resp) {
                    Some(got) if got == want => {}
                    other => failures.push(format!(
                        "{case}: client got {other:?}, want {want:?}\n{}",
                        resp.text()
                    )),
                }
            }
        }
    }
    assert_no_failures(&failures, "\n\n");
}

/// Codex CLI runs the custom tool and sends its output back: the upstream
/// sees its own call (a function call with `{"input": patch}`) and the result.
#[test]
fn codex_custom_tool_call_round_trip() {
    let mock = Mock::start(upstream);
    let srv = Server::start("epoll", 1, &config(&mock), &[]);
    for model in ["m-compat", "m-claude"] {
        for stream in [false, true] {
            let case = format!("{model} stream={stream}");
            let first = send(
                &srv,
                Cli::Codex,
                model,
                stream,
                fixture("codex_cli_tools.json"),
            );
            assert_eq!(first.status, 200, "{case}: {}", first.text());
            let item = if stream {
                sse_json(&first.body)
                    .into_iter()
                    .find(|e| {
                        e["type"] == "response.output_item.done"
                            && e["item"]["type"] == "custom_tool_call"
                    })
                    .map(|e| e["item"].clone())
            } else {
                first.json()["output"]
                    .as_array()
                    .and_then(|o| o.iter().find(|i| i["type"] == "custom_tool_call").cloned())
            }
            .unwrap_or_else(|| panic!("{case}: no custom_tool_call: {}", first.text()));
            assert_eq!(item["input"], PATCH, "{case}");
            let call_id = item["call_id"].as_str().unwrap().to_string();
            // Next turn: history + the call as Codex stores it + its output.
            let mut body = fixture("codex_cli_tools.json");
            let input = body["input"].as_array_mut().unwrap();
            input.push(item.clone());
            input.push(json!({"type":"custom_tool_call_output","call_id":call_id,"output":"Done! greet.txt added"}));
            let before = mock.requests().len();
            let second = send(&srv, Cli::Codex, model, stream, body);
            assert_eq!(second.status, 200, "{case}: {}", second.text());
            let up = mock.requests()[before].json();
            let (call, result) = match model {
                "m-compat" => {
                    let msgs = up["messages"].as_array().unwrap();
                    let n = msgs.len();
                    let call = msgs[n - 2]["tool_calls"][0].clone();
                    assert_eq!(call["function"]["name"], "apply_patch", "{case}: {up}");
                    assert_eq!(call["id"], call_id.as_str(), "{case}");
                    assert_eq!(msgs[n - 1]["role"], "tool", "{case}");
                    assert_eq!(msgs[n - 1]["tool_call_id"], call_id.as_str(), "{case}");
                    (
                        serde_json::from_str::<Value>(
                            call["function"]["arguments"].as_str().unwrap(),
                        )
                        .unwrap(),
                        msgs[n - 1]["content"].to_string(),
                    )
                }
                _ => {
                    let msgs = up["messages"].as_array().unwrap();
                    let n = msgs.len();
                    let tu = msgs[n - 2]["content"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .find(|c| c["type"] == "tool_use")
                        .cloned()
                        .unwrap_or_else(|| panic!("{case}: {up}"));
                    assert_eq!(tu["name"], "apply_patch", "{case}");
                    let tr = msgs[n - 1]["content"][0].clone();
                    assert_eq!(tr["type"], "tool_result", "{case}: {up}");
                    assert_eq!(tr["tool_use_id"], tu["id"], "{case}");
                    (tu["input"].clone(), tr["content"].to_string())
                }
            };
            assert_eq!(call, json!({ "input": PATCH }), "{case}");
            assert!(result.contains("Done! greet.txt added"), "{case}");
        }
    }
}

/// Gemini CLI: the `thoughtSignature` a Gemini upstream puts on a function
/// call reaches the client byte for byte and goes back upstream in the next
/// request's history; a non-Gemini client's replayed call gets the
/// validator-skip signature instead.
#[test]
fn gemini_thought_signature_round_trip() {
    let mock = Mock::start(upstream);
    let srv = Server::start("epoll", 1, &config(&mock), &[]);
    let quoted = format!("\"thoughtSignature\":\"{SIG}\"");
    for stream in [false, true] {
        let first = send(
            &srv,
            Cli::Gemini,
            "m-gemini",
            stream,
            fixture("gemini_cli_session.json"),
        );
        assert_eq!(first.status, 200, "{}", first.text());
        assert!(
            first.text().contains(&quoted),
            "stream={stream}: {}",
            first.text()
        );
        let chunks = if stream {
            sse_json(&first.body)
        } else {
            vec![first.json()]
        };
        let model_content = chunks
            .iter()
            .map(|c| c["candidates"][0]["content"].clone())
            .find(|c| c["parts"].is_array())
            .unwrap();
        let mut body = fixture("gemini_cli_session.json");
        let contents = body["contents"].as_array_mut().unwrap();
        contents.push(model_content);
        contents.push(json!({"role":"user","parts":[{"functionResponse":{"name":"read_file","response":{"output":"[package]"}}}]}));
        let before = mock.requests().len();
        let second = send(&srv, Cli::Gemini, "m-gemini", stream, body);
        assert_eq!(second.status, 200);
        let raw = String::from_utf8_lossy(&mock.requests()[before].body).to_string();
        assert!(raw.contains(&quoted), "signature lost upstream: {raw}");
    }
    // Codex client → Gemini upstream: the signature does not reach the
    // client; its replayed calls go upstream with the skip sentinel.
    let first = send(
        &srv,
        Cli::Codex,
        "m-gemini",
        false,
        fixture("codex_cli_tools.json"),
    );
    assert_eq!(first.status, 200);
    assert!(!first.text().contains(SIG), "{}", first.text());
    let before = mock.requests().len();
    let mut body = fixture("codex_cli_tools.json");
    let item = first.json()["output"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["type"] == "custom_tool_call")
        .cloned()
        .unwrap();
    let call_id = item["call_id"].clone();
    body["input"].as_array_mut().unwrap().push(item);
    body["input"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type":"custom_tool_call_output","call_id":call_id,"output":"ok"}));
    assert_eq!(send(&srv, Cli::Codex, "m-gemini", false, body).status, 200);
    let up = mock.requests()[before].json();
    let sigs: Vec<Value> = up["contents"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["parts"].as_array().cloned().unwrap_or_default())
        .filter(|p| p["functionCall"].is_object())
        .map(|p| p["thoughtSignature"].clone())
        .collect();
    assert_eq!(sigs.len(), 4, "{up}");
    assert!(
        sigs.iter().all(|s| s == "skip_thought_signature_validator"),
        "{sigs:?}"
    );
}
