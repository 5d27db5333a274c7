//! Every client format against every API-key upstream kind, stream and not,
//! through the real server: the client receives the upstream's exact text,
//! and the mock records the path, auth header, model and body shape sent.

mod common;
use common::*;
use serde_json::{json, Value};

const TEXT: &str = "Bonjour — the upstream's \"exact\" text, with ünïcödé\nand a newline.";
const PIECES: [&str; 3] = [
    "Bonjour — the upstream's ",
    "\"exact\" text, with ünïcödé\n",
    "and a newline.",
];
const AUTH: (&str, &str) = ("Authorization", "Bearer sk-client-1");

/// The scripted upstream of every kind, dispatched by path.
fn upstream(r: &Recorded) -> Reply {
    let body = r.json();
    let stream =
        body["stream"].as_bool().unwrap_or(false) || r.path.contains("streamGenerateContent");
    if r.path == "/v1/chat/completions" {
        let model = body["model"].as_str().unwrap_or("").to_string();
        if stream {
            let mut ev: Vec<(Option<&str>, Value)> = PIECES
                .iter()
                .map(|p| (None, json!({"id":"c1","object":"chat.completion.chunk","created":1,"model":model,"choices":[{"index":0,"delta":{"content":p},"finish_reason":null}]})))
                .collect();
            ev.push((None, json!({"id":"c1","object":"chat.completion.chunk","created":1,"model":model,"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})));
            let mut v = sse_frames(&ev);
            v.push("data: [DONE]\n\n".into());
            return sse_reply(v);
        }
        return json_reply(200, &completion(&model, TEXT));
    }
    if r.path == "/v1/messages?beta=true" {
        let model = body["model"].as_str().unwrap_or("").to_string();
        if stream {
            let mut ev = vec![
                claude_message_start(&model),
                (
                    Some("content_block_start"),
                    json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}),
                ),
            ];
            for p in PIECES {
                ev.push((Some("content_block_delta"), json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":p}})));
            }
            ev.push(claude_block_stop(0));
            ev.extend(claude_message_end("end_turn", 7));
            return sse_events(&ev);
        }
        return json_reply(200, &json!({"id":"msg_1","type":"message","role":"assistant","model":model,"content":[{"type":"text","text":TEXT}],"stop_reason":"end_turn","usage":{"input_tokens":5,"output_tokens":7}}).to_string());
    }
    if r.path.starts_with("/v1beta/models/") {
        if stream {
            let mut ev: Vec<(Option<&str>, Value)> = PIECES
                .iter()
                .map(|p| (None, json!({"candidates":[{"content":{"role":"model","parts":[{"text":p}]},"index":0}],"modelVersion":"g"})))
                .collect();
            ev.push((None, json!({"candidates":[{"content":{"role":"model","parts":[{"text":""}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":7,"totalTokenCount":12},"modelVersion":"g"})));
            return sse_events(&ev);
        }
        return json_reply(200, &json!({"candidates":[{"content":{"role":"model","parts":[{"text":TEXT}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":7,"totalTokenCount":12},"modelVersion":"g"}).to_string());
    }
    if r.path == "/codex/responses" {
        let model = body["model"].as_str().unwrap_or("").to_string();
        let item = json!({"type":"message","id":"msg_1","status":"completed","role":"assistant","content":[{"type":"output_text","text":TEXT,"annotations":[]}]});
        let mut ev = vec![
            codex_created(&model),
            (
                Some("response.output_item.added"),
                json!({"type":"response.output_item.added","sequence_number":1,"output_index":0,"item":{"type":"message","id":"msg_1","status":"in_progress","role":"assistant","content":[]}}),
            ),
            (
                Some("response.content_part.added"),
                json!({"type":"response.content_part.added","sequence_number":2,"item_id":"msg_1","output_index":0,"content_index":0,"part":{"type":"output_text","text":"","annotations":[]}}),
            ),
        ];
        for (i, p) in PIECES.iter().enumerate() {
            ev.push((Some("response.output_text.delta"), json!({"type":"response.output_text.delta","sequence_number":3+i,"item_id":"msg_1","output_index":0,"content_index":0,"delta":p})));
        }
        ev.push((Some("response.output_text.done"), json!({"type":"response.output_text.done","sequence_number":6,"item_id":"msg_1","output_index":0,"content_index":0,"text":TEXT})));
        ev.push((Some("response.output_item.done"), json!({"type":"response.output_item.done","sequence_number":7,"output_index":0,"item":item})));
        ev.push((Some("response.completed"), json!({"type":"response.completed","sequence_number":8,"response":{"id":"resp_1","object":"response","created_at":1,"status":"completed","model":model,"output":[item],"usage":{"input_tokens":5,"output_tokens":7,"total_tokens":12}}})));
        return sse_events(&ev);
    }
    json_reply(404, r#"{"error":{"message":"no such path"}}"#)
}

fn ask(srv: &Server, client: Client, model: &str, stream: bool) -> Resp {
    let body = match client {
        Client::Chat => {
            json!({"model":model,"messages":[{"role":"user","content":"hi"}],"stream":stream})
        }
        Client::Responses => json!({"model":model,"input":"hi","stream":stream}),
        Client::Claude => {
            json!({"model":model,"max_tokens":256,"messages":[{"role":"user","content":"hi"}],"stream":stream})
        }
        Client::Gemini => json!({"contents":[{"role":"user","parts":[{"text":"hi"}]}]}),
    };
    post_as(srv, client, model, stream, &body)
}

fn text_of(client: Client, stream: bool, resp: &Resp) -> String {
    if !stream {
        let v = resp.json();
        return match client {
            Client::Chat => v["choices"][0]["message"]["content"]
                .as_str()
                .unwrap_or("")
                .to_string(),
            Client::Responses => v["output"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|o| o["content"].as_array().cloned().unwrap_or_default())
                .filter_map(|c| c["text"].as_str().map(str::to_string))
                .collect(),
            Client::Claude => v["content"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c["text"].as_str().map(str::to_string))
                .collect(),
            Client::Gemini => v["candidates"][0]["content"]["parts"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p["text"].as_str().map(str::to_string))
                .collect(),
        };
    }
    let evs = sse_json(&resp.body);
    match client {
        Client::Chat => evs
            .iter()
            .filter_map(|e| {
                e["choices"][0]["delta"]["content"]
                    .as_str()
                    .map(str::to_string)
            })
            .collect(),
        Client::Responses => evs
            .iter()
            .filter(|e| e["type"] == "response.output_text.delta")
            .filter_map(|e| e["delta"].as_str().map(str::to_string))
            .collect(),
        Client::Claude => evs
            .iter()
            .filter(|e| e["type"] == "content_block_delta")
            .filter_map(|e| e["delta"]["text"].as_str().map(str::to_string))
            .collect(),
        Client::Gemini => gemini_parts(&evs)
            .iter()
            .filter_map(|p| p["text"].as_str().map(str::to_string))
            .collect(),
    }
}

#[test]
fn every_client_to_every_upstream_kind() {
    let mock = Mock::start(upstream);
    let srv = Server::start("epoll", 2, &every_kind_default_config(&mock), &[]);
    let mut failures = Vec::new();
    for client in CLIENTS {
        for (model, path, auth, upstream_model) in [
            (
                "m-compat",
                "/v1/chat/completions",
                ("authorization", "Bearer up-compat"),
                "compat-upstream",
            ),
            (
                "m-claude",
                "/v1/messages?beta=true",
                ("authorization", "Bearer up-claude"),
                "claude-upstream",
            ),
            (
                "m-gemini",
                "/v1beta/models/gemini-upstream:",
                ("x-goog-api-key", "up-gemini"),
                "gemini-upstream",
            ),
            (
                "m-codex",
                "/codex/responses",
                ("authorization", "Bearer up-codex"),
                "codex-upstream",
            ),
        ] {
            for stream in [false, true] {
                let before = mock.requests().len();
                let resp = ask(&srv, client, model, stream);
                let case = format!("{client:?} -> {model} stream={stream}");
                if resp.status != 200 {
                    failures.push(format!("{case}: status {} {}", resp.status, resp.text()));
                    continue;
                }
                let got = text_of(client, stream, &resp);
                if got != TEXT {
                    failures.push(format!("{case}: text {got:?}\n{}", resp.text()));
                }
                let reqs = mock.requests();
                let Some(r) = reqs.get(before) else {
                    failures.push(format!("{case}: upstream not called"));
                    continue;
                };
                if !r.path.starts_with(path) {
                    failures.push(format!("{case}: path {}", r.path));
                }
                if r.header(auth.0) != Some(auth.1) {
                    failures.push(format!("{case}: auth {:?}", r.headers));
                }
                let b = r.json();
                let model_ok = if model == "m-gemini" {
                    r.path.contains(upstream_model)
                } else {
                    b["model"] == upstream_model
                };
                if !model_ok {
                    failures.push(format!(
                        "{case}: model not {upstream_model}: {} {b}",
                        r.path
                    ));
                }
                let shape_ok = match model {
                    "m-compat" => b["messages"].is_array(),
                    "m-claude" => b["messages"].is_array() && b["max_tokens"].is_u64(),
                    "m-gemini" => {
                        b["contents"].is_array()
                            && (stream == r.path.contains("streamGenerateContent?alt=sse"))
                    }
                    _ => b["input"].is_array() && b["stream"] == true,
                };
                if !shape_ok {
                    failures.push(format!("{case}: body shape {b}"));
                }
            }
        }
    }
    assert_no_failures(&failures, "\n");
}

#[test]
fn provider_alias_routes_and_model_lists() {
    let mock = Mock::start(upstream);
    let srv = Server::start("uring", 1, &every_kind_default_config(&mock), &[]);
    // Anthropic SDK with base_url = <server>/api/provider/claude
    let r = srv.request(
        "POST",
        "/api/provider/claude/v1/messages",
        &[("x-api-key", "sk-client-1")],
        &json!({"model":"m-claude","max_tokens":10,"messages":[{"role":"user","content":"hi"}]})
            .to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(text_of(Client::Claude, false, &r), TEXT);
    let r = srv.request(
        "POST",
        "/api/provider/openai/v1/chat/completions",
        &[AUTH],
        &json!({"model":"m-compat","messages":[{"role":"user","content":"hi"}]}).to_string(),
    );
    assert_eq!(text_of(Client::Chat, false, &r), TEXT);
    let r = srv.request(
        "POST",
        "/api/provider/google/v1beta/models/m-gemini:generateContent",
        &[AUTH],
        &json!({"contents":[{"role":"user","parts":[{"text":"hi"}]}]}).to_string(),
    );
    assert_eq!(text_of(Client::Gemini, false, &r), TEXT);
    let g = srv.request("GET", "/v1beta/models", &[AUTH], "").json();
    let names: Vec<&str> = g["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"models/m-gemini") && names.contains(&"models/m-claude"),
        "{names:?}"
    );
    let one = srv.request("GET", "/v1beta/models/m-codex", &[AUTH], "");
    assert_eq!(one.json()["name"], "models/m-codex");
    assert_eq!(
        srv.request("GET", "/v1beta/models/nope", &[AUTH], "")
            .status,
        404
    );
    let a = srv
        .request("GET", "/api/provider/anthropic/v1/models", &[AUTH], "")
        .json();
    assert_eq!(a["has_more"], false);
    // Claude clients get Claude-shaped errors for bad bodies.
    let bad = srv.request("POST", "/v1/messages", &[AUTH], "{");
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["type"], "error");
}
