//! Reasoning across formats through the real server: every client format asks
//! for reasoning in its own terms against every upstream kind (OpenAI-compatible,
//! Claude, Gemini, Codex), stream and not. The scripted upstream checks nothing;
//! the test asserts (1) the upstream request carries that upstream's thinking
//! fields at the level the client asked for, and (2) the upstream's reasoning
//! text reaches the client in the client's own reasoning shape, with Claude
//! signatures (and Codex encrypted reasoning, as a Claude signature) byte-exact.

mod common;
use common::*;
use serde_json::{json, Value};

const THOUGHT: [&str; 2] = ["Weighing \"both\" options — ", "ünïcödé\nthen deciding."];
const TEXT: &str = "The answer.";
const CLAUDE_SIG: &str = "EqQBCkYIBRgCKkD+/sig_Claude==";
const GEMINI_SIG: &str = "Cg0IAhIJZ2VtaW5pLXNpZw==";
/// Codex reasoning `encrypted_content` (a Fernet token), a Claude client's signature.
const CODEX_ENC: &str = "gAAAAABp-codex+reasoning/blob==";
const AUTH: (&str, &str) = ("Authorization", "Bearer sk-client-1");

fn thought() -> String {
    THOUGHT.concat()
}

/// An upstream of every kind that answers with reasoning then text.
fn upstream(r: &Recorded) -> Reply {
    let body = r.json();
    let model = body["model"].as_str().unwrap_or("g").to_string();
    let stream =
        body["stream"].as_bool().unwrap_or(false) || r.path.contains("streamGenerateContent");
    if r.path == "/v1/chat/completions" {
        if !stream {
            return json_reply(200, &json!({"id":"c1","object":"chat.completion","created":1,"model":model,
                "choices":[{"index":0,"message":{"role":"assistant","reasoning_content":thought(),"content":TEXT},"finish_reason":"stop"}],
                "usage":{"prompt_tokens":5,"completion_tokens":9,"total_tokens":14,"completion_tokens_details":{"reasoning_tokens":4}}}).to_string());
        }
        let chunk = |delta: Value, fin: Value| {
            (
                None,
                json!({"id":"c1","object":"chat.completion.chunk","created":1,"model":model,"choices":[{"index":0,"delta":delta,"finish_reason":fin}]}),
            )
        };
        let mut ev = vec![chunk(json!({"role":"assistant"}), Value::Null)];
        for t in THOUGHT {
            ev.push(chunk(json!({ "reasoning_content": t }), Value::Null));
        }
        ev.push(chunk(json!({ "content": TEXT }), Value::Null));
        ev.push(chunk(json!({}), json!("stop")));
        let mut events = sse_frames(&ev);
        events.push("data: [DONE]\n\n".into());
        return sse_reply(events);
    }
    if r.path == "/v1/messages?beta=true" {
        if !stream {
            return json_reply(200, &json!({"id":"msg_1","type":"message","role":"assistant","model":model,
                "content":[{"type":"thinking","thinking":thought(),"signature":CLAUDE_SIG},{"type":"text","text":TEXT}],
                "stop_reason":"end_turn","usage":{"input_tokens":5,"output_tokens":9}}).to_string());
        }
        let mut ev = vec![
            claude_message_start(&model),
            (
                Some("content_block_start"),
                json!({"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}),
            ),
        ];
        for t in THOUGHT {
            ev.push((Some("content_block_delta"), json!({"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":t}})));
        }
        ev.push((Some("content_block_delta"), json!({"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":CLAUDE_SIG}})));
        ev.push(claude_block_stop(0));
        ev.push((Some("content_block_start"), json!({"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}})));
        ev.push((Some("content_block_delta"), json!({"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":TEXT}})));
        ev.push(claude_block_stop(1));
        ev.extend(claude_message_end("end_turn", 9));
        return sse_events(&ev);
    }
    if r.path.starts_with("/v1beta/models/") {
        let usage = json!({"promptTokenCount":5,"candidatesTokenCount":5,"thoughtsTokenCount":4,"totalTokenCount":14});
        if !stream {
            return json_reply(200, &json!({"candidates":[{"content":{"role":"model","parts":[
                {"text":thought(),"thought":true,"thoughtSignature":GEMINI_SIG},{"text":TEXT}]},"finishReason":"STOP","index":0}],
                "usageMetadata":usage,"modelVersion":"g"}).to_string());
        }
        let ev = vec![
            (
                None,
                json!({"candidates":[{"content":{"role":"model","parts":[{"text":THOUGHT[0],"thought":true}]},"index":0}],"modelVersion":"g"}),
            ),
            (
                None,
                json!({"candidates":[{"content":{"role":"model","parts":[{"text":THOUGHT[1],"thought":true,"thoughtSignature":GEMINI_SIG}]},"index":0}],"modelVersion":"g"}),
            ),
            (
                None,
                json!({"candidates":[{"content":{"role":"model","parts":[{"text":TEXT}]},"finishReason":"STOP","index":0}],"usageMetadata":usage,"modelVersion":"g"}),
            ),
        ];
        return sse_events(&ev);
    }
    if r.path == "/codex/responses" {
        let rs = json!({"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":thought()}],"encrypted_content":CODEX_ENC});
        let msg = json!({"type":"message","id":"msg_1","status":"completed","role":"assistant","content":[{"type":"output_text","text":TEXT,"annotations":[]}]});
        let mut ev = vec![
            codex_created(&model),
            (
                Some("response.output_item.added"),
                json!({"type":"response.output_item.added","sequence_number":1,"output_index":0,"item":{"type":"reasoning","id":"rs_1","summary":[]}}),
            ),
            (
                Some("response.reasoning_summary_part.added"),
                json!({"type":"response.reasoning_summary_part.added","sequence_number":2,"item_id":"rs_1","output_index":0,"summary_index":0,"part":{"type":"summary_text","text":""}}),
            ),
        ];
        for t in THOUGHT {
            ev.push((Some("response.reasoning_summary_text.delta"), json!({"type":"response.reasoning_summary_text.delta","sequence_number":3,"item_id":"rs_1","output_index":0,"summary_index":0,"delta":t})));
        }
        ev.push((Some("response.reasoning_summary_text.done"), json!({"type":"response.reasoning_summary_text.done","sequence_number":5,"item_id":"rs_1","output_index":0,"summary_index":0,"text":thought()})));
        ev.push((Some("response.reasoning_summary_part.done"), json!({"type":"response.reasoning_summary_part.done","sequence_number":6,"item_id":"rs_1","output_index":0,"summary_index":0,"part":{"type":"summary_text","text":thought()}})));
        ev.push((Some("response.output_item.done"), json!({"type":"response.output_item.done","sequence_number":7,"output_index":0,"item":rs})));
        ev.push((Some("response.output_item.added"), json!({"type":"response.output_item.added","sequence_number":8,"output_index":1,"item":{"type":"message","id":"msg_1","status":"in_progress","role":"assistant","content":[]}})));
        ev.push((Some("response.content_part.added"), json!({"type":"response.content_part.added","sequence_number":9,"item_id":"msg_1","output_index":1,"content_index":0,"part":{"type":"output_text","text":"","annotations":[]}})));
        ev.push((Some("response.output_text.delta"), json!({"type":"response.output_text.delta","sequence_number":10,"item_id":"msg_1","output_index":1,"content_index":0,"delta":TEXT})));
        ev.push((Some("response.output_text.done"), json!({"type":"response.output_text.done","sequence_number":11,"item_id":"msg_1","output_index":1,"content_index":0,"text":TEXT})));
        ev.push((Some("response.output_item.done"), json!({"type":"response.output_item.done","sequence_number":12,"output_index":1,"item":msg})));
        ev.push((Some("response.completed"), json!({"type":"response.completed","sequence_number":13,"response":{"id":"resp_1","object":"response","created_at":1,"status":"completed","model":model,"output":[rs,msg],"usage":{"input_tokens":5,"output_tokens":9,"output_tokens_details":{"reasoning_tokens":4},"total_tokens":14}}})));
        return sse_events(&ev);
    }
    json_reply(404, r#"{"error":{"message":"no such path"}}"#)
}

/// Ask for "high" reasoning (budget 24576) in the client's own terms.
fn ask(srv: &Server, client: Client, model: &str, stream: bool) -> Resp {
    let body = match client {
        Client::Chat => {
            json!({"model":model,"messages":[{"role":"user","content":"hi"}],"stream":stream,"reasoning_effort":"high"})
        }
        Client::Responses => {
            json!({"model":model,"input":"hi","stream":stream,"reasoning":{"effort":"high","summary":"auto"}})
        }
        Client::Claude => {
            json!({"model":model,"max_tokens":32000,"messages":[{"role":"user","content":"hi"}],"stream":stream,
                "thinking":{"type":"enabled","budget_tokens":24576}})
        }
        Client::Gemini => json!({"contents":[{"role":"user","parts":[{"text":"hi"}]}],
                    "generationConfig":{"thinkingConfig":{"thinkingBudget":24576,"includeThoughts":true}}}),
    };
    post_as(srv, client, model, stream, &body)
}

fn strs<'a>(it: impl Iterator<Item = &'a Value>) -> String {
    it.filter_map(|v| v.as_str()).collect()
}

/// (reasoning text, visible text, signature) as the client sees them.
fn read(client: Client, stream: bool, resp: &Resp) -> (String, String, String) {
    if !stream {
        let v = resp.json();
        return match client {
            Client::Chat => {
                let m = &v["choices"][0]["message"];
                (
                    m["reasoning_content"].as_str().unwrap_or("").into(),
                    m["content"].as_str().unwrap_or("").into(),
                    String::new(),
                )
            }
            Client::Responses => {
                let out = v["output"].as_array().cloned().unwrap_or_default();
                let r = out.iter().filter(|o| o["type"] == "reasoning");
                let m = out.iter().filter(|o| o["type"] == "message");
                (
                    strs(r.flat_map(|o| {
                        o["summary"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(|s| &s["text"])
                    })),
                    strs(m.flat_map(|o| {
                        o["content"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(|s| &s["text"])
                    })),
                    String::new(),
                )
            }
            Client::Claude => {
                let c = v["content"].as_array().cloned().unwrap_or_default();
                (
                    strs(
                        c.iter()
                            .filter(|b| b["type"] == "thinking")
                            .map(|b| &b["thinking"]),
                    ),
                    strs(c.iter().filter(|b| b["type"] == "text").map(|b| &b["text"])),
                    strs(
                        c.iter()
                            .filter(|b| b["type"] == "thinking")
                            .map(|b| &b["signature"]),
                    ),
                )
            }
            Client::Gemini => {
                let p = v["candidates"][0]["content"]["parts"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                (
                    strs(
                        p.iter()
                            .filter(|p| p["thought"] == true)
                            .map(|p| &p["text"]),
                    ),
                    strs(
                        p.iter()
                            .filter(|p| p["thought"] != true)
                            .map(|p| &p["text"]),
                    ),
                    strs(p.iter().map(|p| &p["thoughtSignature"])),
                )
            }
        };
    }
    let evs = sse_json(&resp.body);
    match client {
        Client::Chat => (
            strs(
                evs.iter()
                    .map(|e| &e["choices"][0]["delta"]["reasoning_content"]),
            ),
            strs(evs.iter().map(|e| &e["choices"][0]["delta"]["content"])),
            String::new(),
        ),
        Client::Responses => {
            let of = |t: &str| strs(evs.iter().filter(|e| e["type"] == t).map(|e| &e["delta"]));
            let done: String = strs(
                evs.iter()
                    .filter(|e| e["type"] == "response.reasoning_summary_text.done")
                    .map(|e| &e["text"]),
            );
            assert_eq!(
                done,
                of("response.reasoning_summary_text.delta"),
                "done text"
            );
            (
                of("response.reasoning_summary_text.delta"),
                of("response.output_text.delta"),
                String::new(),
            )
        }
        Client::Claude => {
            let d = |k: &str| {
                strs(
                    evs.iter()
                        .filter(|e| e["type"] == "content_block_delta")
                        .map(|e| &e["delta"][k]),
                )
            };
            (d("thinking"), d("text"), d("signature"))
        }
        Client::Gemini => {
            let parts = gemini_parts(&evs);
            (
                strs(
                    parts
                        .iter()
                        .filter(|p| p["thought"] == true)
                        .map(|p| &p["text"]),
                ),
                strs(
                    parts
                        .iter()
                        .filter(|p| p["thought"] != true)
                        .map(|p| &p["text"]),
                ),
                strs(parts.iter().map(|p| &p["thoughtSignature"])),
            )
        }
    }
}

/// The thinking fields the upstream request must carry for "high" / 24576.
fn check_upstream(model: &str, b: &Value) -> Result<(), String> {
    let ok = match model {
        "m-compat" => b["reasoning_effort"] == "high",
        "m-claude" => {
            b["thinking"] == json!({"type":"enabled","budget_tokens":24576})
                && b["max_tokens"].as_i64().unwrap_or(0) > 24576
                && b.get("temperature").is_none()
                && b.get("top_k").is_none()
        }
        "m-gemini" => {
            b["generationConfig"]["thinkingConfig"]
                == json!({"thinkingBudget":24576,"includeThoughts":true})
        }
        _ => {
            b["reasoning"]["effort"] == "high"
                && b["reasoning"]["summary"] == "auto"
                && b["include"]
                    .as_array()
                    .is_some_and(|a| a.contains(&json!("reasoning.encrypted_content")))
        }
    };
    if ok {
        Ok(())
    } else {
        Err(format!("upstream thinking fields: {b}"))
    }
}

fn matrix(driver: &str) {
    let mock = Mock::start(upstream);
    let srv = Server::start(driver, 1, &every_kind_default_config(&mock), &[]);
    let mut failures = Vec::new();
    for client in CLIENTS {
        for model in UPSTREAMS {
            for stream in [false, true] {
                let case = format!("{driver}: {client:?} -> {model} stream={stream}");
                let before = mock.requests().len();
                let resp = ask(&srv, client, model, stream);
                if resp.status != 200 {
                    failures.push(format!("{case}: status {} {}", resp.status, resp.text()));
                    continue;
                }
                let Some(r) = mock.requests().get(before).cloned() else {
                    failures.push(format!("{case}: upstream not called"));
                    continue;
                };
                if let Err(e) = check_upstream(model, &r.json()) {
                    failures.push(format!("{case}: {e}"));
                }
                let (reasoning, text, sig) = read(client, stream, &resp);
                if reasoning != thought() || text != TEXT {
                    failures.push(format!(
                        "{case}: reasoning {reasoning:?} text {text:?}\n{}",
                        resp.text()
                    ));
                }
                // Signatures reach the client only in their own family.
                let want_sig = match (client, model) {
                    (Client::Claude, "m-claude") => CLAUDE_SIG,
                    (Client::Claude, "m-codex") => CODEX_ENC,
                    (Client::Gemini, "m-gemini") => GEMINI_SIG,
                    _ => "",
                };
                if !want_sig.is_empty() && sig != want_sig {
                    failures.push(format!("{case}: signature {sig:?}\n{}", resp.text()));
                }
            }
        }
    }
    assert_no_failures(&failures, "\n");
}

#[test]
fn reasoning_every_client_every_upstream_epoll() {
    matrix("epoll");
}

#[test]
fn reasoning_every_client_every_upstream_uring() {
    matrix("uring");
}

/// The model suffix beats the body through the real server, and a client that
/// asks for nothing gets no thinking fields (Codex keeps CLIProxyAPI's default
/// medium effort with a visible summary).
#[test]
fn suffix_wins_and_no_intent_sends_nothing() {
    let mock = Mock::start(upstream);
    let srv = Server::start("uring", 1, &every_kind_default_config(&mock), &[]);
    let chat = |model: &str, extra: Value| {
        let mut b = json!({"model":model,"messages":[{"role":"user","content":"hi"}]});
        if let (Some(o), Some(e)) = (b.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        let before = mock.requests().len();
        let r = srv.request("POST", "/v1/chat/completions", &[AUTH], &b.to_string());
        assert_eq!(r.status, 200, "{}", r.text());
        mock.requests()[before].json()
    };
    let high = json!({"reasoning_effort":"high"});
    assert_eq!(
        chat("m-compat(low)", high.clone())["reasoning_effort"],
        "low"
    );
    assert_eq!(
        chat("m-claude(low)", high.clone())["thinking"],
        json!({"type":"enabled","budget_tokens":1024})
    );
    assert_eq!(
        chat("m-gemini(none)", high.clone())["generationConfig"]["thinkingConfig"],
        json!({"thinkingBudget":0,"includeThoughts":false})
    );
    assert_eq!(
        chat("m-codex(low)", high)["reasoning"],
        json!({"effort":"low","summary":"auto"})
    );
    let none = json!({});
    assert!(chat("m-compat", none.clone())
        .get("reasoning_effort")
        .is_none());
    assert!(chat("m-claude", none.clone()).get("thinking").is_none());
    assert!(chat("m-gemini", none.clone())["generationConfig"]
        .get("thinkingConfig")
        .is_none());
    assert_eq!(
        chat("m-codex", none)["reasoning"],
        json!({"effort":"medium","summary":"auto"})
    );
}

/// A Claude client (Claude Code) on a Codex upstream gets the reasoning item's
/// encrypted content as its thinking signature and sends it back: it returns to
/// Codex as the reasoning item's `encrypted_content`, and is never sent to a
/// Claude upstream (which would reject a foreign signature).
#[test]
fn codex_encrypted_reasoning_round_trips_through_a_claude_client() {
    let mock = Mock::start(upstream);
    let srv = Server::start("epoll", 1, &every_kind_default_config(&mock), &[]);
    let ask = |model: &str, sig: &str| {
        let body = json!({"model":model,"max_tokens":32000,"thinking":{"type":"enabled","budget_tokens":24576},
            "messages":[{"role":"user","content":"q1"},
                {"role":"assistant","content":[{"type":"thinking","thinking":thought(),"signature":sig},{"type":"text","text":TEXT}]},
                {"role":"user","content":"q2"}]});
        let before = mock.requests().len();
        let r = srv.request(
            "POST",
            "/v1/messages",
            &[
                ("x-api-key", "sk-client-1"),
                ("anthropic-version", "2023-06-01"),
            ],
            &body.to_string(),
        );
        assert_eq!(r.status, 200, "{}", r.text());
        mock.requests()[before].json()
    };
    let sent = ask("m-codex", CODEX_ENC);
    let items: Vec<&Value> = sent["input"]
        .as_array()
        .map(|a| a.iter().filter(|i| i["type"] == "reasoning").collect())
        .unwrap_or_default();
    assert_eq!(items.len(), 1, "{sent}");
    assert_eq!(items[0]["encrypted_content"], CODEX_ENC);
    assert_eq!(items[0]["summary"][0]["text"], thought());
    // A Claude signature is not Codex's to read: no reasoning item.
    let sent = ask("m-codex", CLAUDE_SIG);
    assert!(
        !sent["input"]
            .as_array()
            .is_some_and(|a| a.iter().any(|i| i["type"] == "reasoning")),
        "{sent}"
    );
}
