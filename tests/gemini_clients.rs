//! Gemini clients through the real server:
//! - tools declared with `parametersJsonSchema` / `parameters` and a
//!   `responseJsonSchema` reach every upstream kind with every property,
//!   stream and non-stream, and the answer comes back in Gemini's shape;
//! - a Gemini stream carries `data:` lines only, whatever the upstream sends
//!   (Claude `ping`) and with `streaming.keepalive-seconds` enabled.

mod common;
use common::*;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::io::{BufReader, Write};
use std::sync::{mpsc, Arc, Mutex};

const GKEY: (&str, &str) = ("x-goog-api-key", "sk-client-1");

fn ev(name: Option<&str>, data: Value) -> String {
    match name {
        Some(n) => format!("event: {n}\ndata: {data}\n\n"),
        None => format!("data: {data}\n\n"),
    }
}

fn claude_events() -> Vec<String> {
    vec![
        ev(
            Some("message_start"),
            json!({"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-up","stop_reason":null,"usage":{"input_tokens":5,"output_tokens":1}}}),
        ),
        ev(Some("ping"), json!({"type":"ping"})),
        ev(
            Some("content_block_start"),
            json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}),
        ),
        ev(
            Some("content_block_delta"),
            json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}}),
        ),
        ev(Some("ping"), json!({"type":"ping"})),
        ev(
            Some("content_block_delta"),
            json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"lo"}}),
        ),
        ev(
            Some("content_block_stop"),
            json!({"type":"content_block_stop","index":0}),
        ),
        ev(
            Some("message_delta"),
            json!({"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":7}}),
        ),
        ev(Some("message_stop"), json!({"type":"message_stop"})),
    ]
}

fn gemini_events() -> Vec<String> {
    vec![
        ev(
            None,
            json!({"candidates":[{"content":{"role":"model","parts":[{"text":"Hel"}]},"index":0}]}),
        ),
        ev(
            None,
            json!({"candidates":[{"content":{"role":"model","parts":[{"text":"lo"}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":7,"totalTokenCount":12}}),
        ),
    ]
}

fn chat_events(model: &str) -> Vec<String> {
    let mut v: Vec<String> = ["Hel", "lo"]
        .iter()
        .map(|p| ev(None, json!({"id":"c1","object":"chat.completion.chunk","created":1,"model":model,"choices":[{"index":0,"delta":{"content":p},"finish_reason":null}]})))
        .collect();
    v.push(ev(None, json!({"id":"c1","object":"chat.completion.chunk","created":1,"model":model,"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})));
    v.push("data: [DONE]\n\n".into());
    v
}

fn codex_events() -> Vec<String> {
    let item = json!({"type":"message","id":"msg_1","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Hello","annotations":[]}]});
    vec![
        ev(
            Some("response.created"),
            json!({"type":"response.created","sequence_number":0,"response":{"id":"resp_1","object":"response","created_at":1,"status":"in_progress","model":"codex-up","output":[]}}),
        ),
        ev(
            Some("response.output_text.delta"),
            json!({"type":"response.output_text.delta","sequence_number":1,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hello"}),
        ),
        ev(
            Some("response.completed"),
            json!({"type":"response.completed","sequence_number":2,"response":{"id":"resp_1","object":"response","created_at":1,"status":"completed","model":"codex-up","output":[item],"usage":{"input_tokens":5,"output_tokens":7,"total_tokens":12}}}),
        ),
    ]
}

fn sse_reply(events: Vec<String>, gate: Option<(usize, mpsc::Receiver<()>)>) -> Reply {
    let (gate_at, gate) = match gate {
        Some((at, g)) => (Some(at), Some(g)),
        None => (None, None),
    };
    Reply::Sse {
        events,
        gate_at,
        gate,
        end: SseEnd::Clean,
    }
}

/// Scripted upstream of every kind. Streams wait on the next queued gate
/// (if any) before their second text piece.
fn upstream(r: &Recorded, gates: &Mutex<VecDeque<mpsc::Receiver<()>>>) -> Reply {
    let body = r.json();
    let stream =
        body["stream"].as_bool().unwrap_or(false) || r.path.contains("streamGenerateContent");
    let gate = |at: usize| gates.lock().unwrap().pop_front().map(|g| (at, g));
    if r.path == "/v1/chat/completions" {
        let model = body["model"].as_str().unwrap_or("").to_string();
        if stream {
            return sse_reply(chat_events(&model), None);
        }
        return json_reply(200, &completion(&model, "Hello"));
    }
    if r.path == "/v1/messages?beta=true" {
        if stream {
            return sse_reply(claude_events(), gate(4));
        }
        return json_reply(200, &json!({"id":"msg_1","type":"message","role":"assistant","model":"claude-up","content":[{"type":"text","text":"Hello"}],"stop_reason":"end_turn","usage":{"input_tokens":5,"output_tokens":7}}).to_string());
    }
    if r.path.starts_with("/v1beta/models/") {
        if stream {
            return sse_reply(gemini_events(), gate(1));
        }
        return json_reply(200, &json!({"candidates":[{"content":{"role":"model","parts":[{"text":"Hello"}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":7,"totalTokenCount":12}}).to_string());
    }
    if r.path == "/codex/responses" {
        return sse_reply(codex_events(), None);
    }
    json_reply(404, r#"{"error":{"message":"no such path"}}"#)
}

/// Every upstream kind at `mock`, aliased m-compat, m-claude, m-gemini, m-codex.
fn config(mock: &Mock, extra: &str) -> String {
    every_kind_config(mock, |k| (format!("up-{k}"), format!("{k}-up")), extra)
}

fn schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "City name"},
            "unit": {"type": "string", "enum": ["c", "f"]},
            "where": {"type": "object", "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}}, "required": ["lat"]},
            "stops": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}}
        },
        "required": ["city", "unit"]
    })
}

/// Upper-case OpenAPI types, as Gemini's `parameters` / `responseSchema` write them.
fn upper(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| match (k.as_str(), v) {
                    ("type", Value::String(s)) => (k.clone(), Value::String(s.to_uppercase())),
                    _ => (k.clone(), upper(v)),
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(upper).collect()),
        o => o.clone(),
    }
}

/// Every property, nested property, enum and required list, in lower-case JSON Schema.
fn assert_whole(got: &Value, ctx: &str) {
    let want = schema();
    for p in ["city", "unit", "where", "stops"] {
        assert_eq!(
            got["properties"][p]["type"], want["properties"][p]["type"],
            "{ctx} {p}: {got}"
        );
    }
    assert_eq!(
        got["properties"]["city"]["description"], "City name",
        "{ctx}"
    );
    assert_eq!(
        got["properties"]["unit"]["enum"],
        json!(["c", "f"]),
        "{ctx}"
    );
    assert_eq!(got["required"], json!(["city", "unit"]), "{ctx}");
    assert_eq!(
        got["properties"]["where"]["properties"]["lon"]["type"], "number",
        "{ctx}"
    );
    assert_eq!(
        got["properties"]["where"]["required"],
        json!(["lat"]),
        "{ctx}"
    );
    assert_eq!(
        got["properties"]["stops"]["items"]["properties"]["name"]["type"], "string",
        "{ctx}"
    );
    assert_eq!(
        got["properties"]["stops"]["items"]["required"],
        json!(["name"]),
        "{ctx}"
    );
}

/// Gemini stream bodies: every non-blank line is `data: <JSON object>`.
fn data_only(body: &[u8], ctx: &str) -> Vec<Value> {
    let text = String::from_utf8_lossy(body);
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let d = l
                .strip_prefix("data: ")
                .unwrap_or_else(|| panic!("{ctx}: non-data line {l:?} in {text:?}"));
            serde_json::from_str(d).unwrap_or_else(|e| panic!("{ctx}: bad JSON {d:?}: {e}"))
        })
        .collect()
}

#[test]
fn gemini_schemas_reach_every_upstream_kind() {
    let gates = Arc::new(Mutex::new(VecDeque::new()));
    let g = gates.clone();
    let mock = Mock::start(move |r| upstream(r, &g));
    let srv = Server::start("epoll", 2, &config(&mock, ""), &[]);
    for (field, resp_field, s) in [
        ("parametersJsonSchema", "responseJsonSchema", schema()),
        ("parameters", "responseSchema", upper(&schema())),
        // What google-genai (Python) sends: snake-case JSON-schema fields.
        ("parameters_json_schema", "response_json_schema", schema()),
    ] {
        for model in ["m-compat", "m-claude", "m-gemini", "m-codex"] {
            for stream in [false, true] {
                let ctx = format!("{field} {model} stream={stream}");
                let body = json!({
                    "contents": [{"role": "user", "parts": [{"text": "weather?"}]}],
                    "tools": [{"functionDeclarations": [{"name": "get_weather", "description": "Weather", field: s}]}],
                    "generationConfig": {"responseMimeType": "application/json", resp_field: s}
                });
                let before = mock.requests().len();
                let action = if stream {
                    "streamGenerateContent?alt=sse"
                } else {
                    "generateContent"
                };
                let r = srv.request(
                    "POST",
                    &format!("/v1beta/models/{model}:{action}"),
                    &[GKEY],
                    &body.to_string(),
                );
                assert_eq!(r.status, 200, "{ctx}: {}", r.text());
                let text: String = if stream {
                    data_only(&r.body, &ctx)
                        .iter()
                        .filter_map(|v| {
                            v["candidates"][0]["content"]["parts"][0]["text"]
                                .as_str()
                                .map(str::to_string)
                        })
                        .collect()
                } else {
                    r.json()["candidates"][0]["content"]["parts"][0]["text"]
                        .as_str()
                        .unwrap_or("")
                        .to_string()
                };
                assert_eq!(text, "Hello", "{ctx}");
                let reqs = mock.requests();
                assert_eq!(reqs.len(), before + 1, "{ctx}");
                let up = reqs[before].json();
                match model {
                    "m-compat" => {
                        assert_whole(&up["tools"][0]["function"]["parameters"], &ctx);
                        assert_eq!(up["response_format"]["type"], "json_schema", "{ctx}");
                        assert_whole(&up["response_format"]["json_schema"]["schema"], &ctx);
                    }
                    "m-codex" => {
                        assert_whole(&up["tools"][0]["parameters"], &ctx);
                        assert_eq!(up["text"]["format"]["type"], "json_schema", "{ctx}");
                        assert_whole(&up["text"]["format"]["schema"], &ctx);
                    }
                    "m-claude" => assert_whole(&up["tools"][0]["input_schema"], &ctx),
                    _ => {
                        // Gemini upstream: the client's declaration as sent.
                        assert_eq!(up["tools"][0]["functionDeclarations"][0][field], s, "{ctx}");
                        assert_eq!(up["generationConfig"][resp_field], s, "{ctx}");
                    }
                }
            }
        }
    }
}

fn post(
    srv: &Server,
    path: &str,
    headers: &[(&str, &str)],
    body: &Value,
) -> BufReader<std::net::TcpStream> {
    let mut s = srv.connect();
    s.write_all(&raw_request("POST", path, headers, &body.to_string()))
        .unwrap();
    BufReader::new(s)
}

fn read_rest(r: &mut BufReader<std::net::TcpStream>) -> Vec<u8> {
    let mut body = Vec::new();
    while let Some(c) = read_chunk(r).unwrap() {
        body.extend_from_slice(&c);
    }
    body
}

#[test]
fn gemini_streams_have_only_data_lines_with_pings_and_keepalives() {
    let gates = Arc::new(Mutex::new(VecDeque::new()));
    let g = gates.clone();
    let mock = Mock::start(move |r| upstream(r, &g));
    let srv = Server::start(
        "epoll",
        1,
        &config(&mock, "streaming:\n  keepalive-seconds: 1"),
        &[],
    );
    let mut open = Vec::new();
    let mut gate = || {
        let (tx, rx) = mpsc::channel();
        gates.lock().unwrap().push_back(rx);
        open.push(tx);
    };
    let contents = json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]});
    // Gemini client <- Claude upstream (translated) and <- Gemini upstream
    // (passthrough); both hold mid-stream until released.
    let mut streams = Vec::new();
    for model in ["m-claude", "m-gemini"] {
        gate();
        let mut r = post(
            &srv,
            &format!("/v1beta/models/{model}:streamGenerateContent?alt=sse"),
            &[GKEY],
            &contents,
        );
        let (status, _) = read_head(&mut r).unwrap();
        assert_eq!(status, 200, "{model}");
        streams.push((model, r));
    }
    // A Chat client on the (ping-free) Gemini upstream proves a keep-alive
    // interval has passed while the Gemini streams were silent: it gets a
    // `: keep-alive` tick.
    gate();
    let chat = json!({"model": "m-gemini", "stream": true, "messages": [{"role": "user", "content": "hi"}]});
    let mut c = post(
        &srv,
        "/v1/chat/completions",
        &[("Authorization", "Bearer sk-client-1")],
        &chat,
    );
    assert_eq!(read_head(&mut c).unwrap().0, 200);
    let mut chat_body = Vec::new();
    while !String::from_utf8_lossy(&chat_body).contains(": keep-alive") {
        let chunk = read_chunk(&mut c)
            .unwrap()
            .expect("chat stream ended before a keep-alive");
        chat_body.extend_from_slice(&chunk);
    }
    for tx in open.drain(..) {
        tx.send(()).unwrap();
    }
    for (model, mut r) in streams {
        let body = read_rest(&mut r);
        let frames = data_only(&body, model);
        let text: String = frames
            .iter()
            .filter_map(|v| {
                v["candidates"][0]["content"]["parts"][0]["text"]
                    .as_str()
                    .map(str::to_string)
            })
            .collect();
        assert_eq!(text, "Hello", "{model}: {}", String::from_utf8_lossy(&body));
        assert!(
            frames
                .iter()
                .any(|v| v["candidates"][0]["finishReason"] == "STOP"),
            "{model}"
        );
    }
    chat_body.extend_from_slice(&read_rest(&mut c));
    assert_eq!(stream_text(&chat_body), "Hello");
}
