//! How a Codex/Responses upstream's stream ends, seen by every client format,
//! stream and non-stream, through the real server:
//! - `response.incomplete` (max_output_tokens) is a normal end: each client
//!   gets its own "length" finish with usage, and the credential is not
//!   cooled down (the next request to it succeeds);
//! - `response.failed` / `error` become an error in the client's shape and
//!   status, and the credential gets the cooldown the error calls for (rate
//!   limit: cooled, request fault: not).

mod common;
use common::*;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

/// How the scripted Codex upstream ends its next answer.
#[derive(Clone, Copy, Debug, PartialEq)]
enum End {
    Completed,
    /// `output_item.done` for the message, then `response.completed` with an
    /// empty `output` (as the Codex backend sends it).
    CompletedEmptyOutput,
    Incomplete,
    /// `response.failed` with this error code.
    Failed(&'static str),
    /// A bare `error` event with this code.
    Error(&'static str),
}

fn ev(name: &str, data: Value) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

/// Rate limits carry a long retry hint, so a cooldown outlasts the test.
fn message(code: &str) -> String {
    if code.contains("rate_limit") {
        format!("{code}: Your quota will reset after 600s.")
    } else {
        format!("upstream says {code}")
    }
}

fn codex_reply(end: End) -> Reply {
    let created = json!({"id":"resp_1","object":"response","created_at":1,"status":"in_progress","model":"codex-up","output":[]});
    let mut v = vec![
        ev(
            "response.created",
            json!({"type":"response.created","sequence_number":0,"response":created}),
        ),
        ev(
            "response.output_item.added",
            json!({"type":"response.output_item.added","sequence_number":1,"output_index":0,"item":{"type":"message","id":"msg_1","status":"in_progress","role":"assistant","content":[]}}),
        ),
        ev(
            "response.output_text.delta",
            json!({"type":"response.output_text.delta","sequence_number":2,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Once upon"}),
        ),
    ];
    let item = json!({"type":"message","id":"msg_1","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Once upon","annotations":[]}]});
    let usage = json!({"input_tokens":11,"output_tokens":16,"total_tokens":27});
    match end {
        End::CompletedEmptyOutput => {
            v.push(ev("response.output_item.done", json!({"type":"response.output_item.done","sequence_number":3,"output_index":0,"item":item})));
            v.push(ev("response.completed", json!({"type":"response.completed","sequence_number":4,"response":{"id":"resp_1","object":"response","created_at":1,"status":"completed","model":"codex-up","output":[],"usage":usage}})));
        }
        End::Completed => v.push(ev("response.completed", json!({"type":"response.completed","sequence_number":3,"response":{"id":"resp_1","object":"response","created_at":1,"status":"completed","model":"codex-up","output":[item],"usage":usage}}))),
        End::Incomplete => v.push(ev("response.incomplete", json!({"type":"response.incomplete","sequence_number":3,"response":{"id":"resp_1","object":"response","created_at":1,"status":"incomplete","incomplete_details":{"reason":"max_output_tokens"},"model":"codex-up","output":[item],"usage":usage}}))),
        End::Failed(code) => v.push(ev("response.failed", json!({"type":"response.failed","sequence_number":3,"response":{"id":"resp_1","object":"response","created_at":1,"status":"failed","error":{"code":code,"message":message(code)},"model":"codex-up","output":[]}}))),
        End::Error(code) => v.push(ev("error", json!({"type":"error","sequence_number":3,"code":code,"message":message(code),"param":null}))),
    }
    sse_reply(v)
}

/// A server with one Codex credential whose upstream ends the way `next` says.
fn setup() -> (Mock, Server, Arc<Mutex<End>>) {
    let next = Arc::new(Mutex::new(End::Completed));
    let n = next.clone();
    let mock = Mock::start(move |_r| codex_reply(*n.lock().unwrap()));
    let yaml = format!(
        "api-keys: [\"sk-client-1\"]\nauth-dir: ./auths\ncodex-api-key:\n  - api-key: \"up-codex\"\n    base-url: \"http://{}/codex\"\n    models: [{{name: codex-up, alias: m-codex}}]\n",
        mock.addr
    );
    let srv = Server::start("epoll", 1, &yaml, &[]);
    (mock, srv, next)
}

fn ask(srv: &Server, client: Client, stream: bool) -> Resp {
    let model = "m-codex";
    let body = match client {
        Client::Chat => {
            json!({"model":model,"messages":[{"role":"user","content":"tell a story"}],"stream":stream})
        }
        Client::Responses => json!({"model":model,"input":"tell a story","stream":stream}),
        Client::Claude => {
            json!({"model":model,"max_tokens":16,"messages":[{"role":"user","content":"tell a story"}],"stream":stream})
        }
        Client::Gemini => json!({"contents":[{"role":"user","parts":[{"text":"tell a story"}]}]}),
    };
    post_as(srv, client, model, stream, &body)
}

/// The client's finish reason and (input, output) usage, stream or not.
fn finish_of(client: Client, stream: bool, r: &Resp) -> (String, u64, u64) {
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    if !stream {
        let v = r.json();
        return match client {
            Client::Chat => (
                s(&v["choices"][0]["finish_reason"]),
                n(&v["usage"]["prompt_tokens"]),
                n(&v["usage"]["completion_tokens"]),
            ),
            Client::Responses => (
                format!(
                    "{}/{}",
                    s(&v["status"]),
                    s(&v["incomplete_details"]["reason"])
                ),
                n(&v["usage"]["input_tokens"]),
                n(&v["usage"]["output_tokens"]),
            ),
            Client::Claude => (
                s(&v["stop_reason"]),
                n(&v["usage"]["input_tokens"]),
                n(&v["usage"]["output_tokens"]),
            ),
            Client::Gemini => (
                s(&v["candidates"][0]["finishReason"]),
                n(&v["usageMetadata"]["promptTokenCount"]),
                n(&v["usageMetadata"]["candidatesTokenCount"]),
            ),
        };
    }
    let fs = sse_json(&r.body);
    let mut out = (String::new(), 0, 0);
    for v in &fs {
        match client {
            Client::Chat => {
                if let Some(f) = v["choices"][0]["finish_reason"].as_str() {
                    out.0 = f.to_string();
                }
                if v["usage"].is_object() {
                    out.1 = n(&v["usage"]["prompt_tokens"]);
                    out.2 = n(&v["usage"]["completion_tokens"]);
                }
            }
            Client::Responses => {
                if v["type"] == "response.incomplete" || v["type"] == "response.completed" {
                    let r = &v["response"];
                    out = (
                        format!(
                            "{}/{}",
                            s(&r["status"]),
                            s(&r["incomplete_details"]["reason"])
                        ),
                        n(&r["usage"]["input_tokens"]),
                        n(&r["usage"]["output_tokens"]),
                    );
                }
            }
            Client::Claude => {
                if v["type"] == "message_delta" {
                    out = (
                        s(&v["delta"]["stop_reason"]),
                        n(&v["usage"]["input_tokens"]),
                        n(&v["usage"]["output_tokens"]),
                    );
                }
            }
            Client::Gemini => {
                if let Some(f) = v["candidates"][0]["finishReason"].as_str() {
                    out = (
                        f.to_string(),
                        n(&v["usageMetadata"]["promptTokenCount"]),
                        n(&v["usageMetadata"]["candidatesTokenCount"]),
                    );
                }
            }
        }
    }
    out
}

fn length_finish(client: Client) -> &'static str {
    match client {
        Client::Chat => "length",
        Client::Responses => "incomplete/max_output_tokens",
        Client::Claude => "max_tokens",
        Client::Gemini => "MAX_TOKENS",
    }
}

#[test]
fn incomplete_is_a_length_finish_and_no_cooldown() {
    let (mock, srv, next) = setup();
    for client in CLIENTS {
        for stream in [false, true] {
            *next.lock().unwrap() = End::Incomplete;
            let before = mock.requests().len();
            let r = ask(&srv, client, stream);
            assert_eq!(r.status, 200, "{client:?} stream={stream}: {}", r.text());
            assert_eq!(mock.requests().len(), before + 1, "one upstream attempt");
            assert_eq!(
                finish_of(client, stream, &r),
                (length_finish(client).to_string(), 11, 16),
                "{client:?} stream={stream}: {}",
                r.text()
            );
            // The same (only) credential answers the next request: no cooldown.
            *next.lock().unwrap() = End::Completed;
            let r = ask(&srv, client, stream);
            assert_eq!(
                r.status,
                200,
                "{client:?} stream={stream} after incomplete: {}",
                r.text()
            );
            assert_eq!(mock.requests().len(), before + 2);
        }
    }
}

/// The error as the client sees it: (HTTP status, status/type named in the body).
fn error_of(client: Client, stream: bool, r: &Resp) -> (u16, String) {
    let v = if stream {
        let fs = sse_json(&r.body);
        let last = fs.last().cloned().unwrap_or(Value::Null);
        assert!(
            last.get("error").is_some()
                || last["type"] == "error"
                || last["type"] == "response.failed",
            "{client:?}: stream does not end with an error: {}",
            r.text()
        );
        last
    } else {
        r.json()
    };
    let named = match client {
        Client::Chat => v["error"]["type"].as_str(),
        // Responses streams end with the upstream's own event.
        Client::Responses if stream => v["code"]
            .as_str()
            .or_else(|| v["response"]["error"]["code"].as_str()),
        Client::Responses => v["error"]["type"].as_str(),
        Client::Claude => v["error"]["type"].as_str(),
        Client::Gemini => v["error"]["status"].as_str(),
    };
    (r.status, named.unwrap_or("").to_string())
}

#[test]
fn failed_rate_limit_is_a_client_error_and_cools_the_credential() {
    for client in CLIENTS {
        for stream in [false, true] {
            for end in [
                End::Failed("rate_limit_exceeded"),
                End::Error("rate_limit_exceeded"),
            ] {
                let (mock, srv, next) = setup();
                *next.lock().unwrap() = end;
                let r = ask(&srv, client, stream);
                let want = match (client, stream) {
                    (_, true) => 200,
                    _ => 429,
                };
                let named = match (client, stream) {
                    (Client::Chat, _) | (Client::Claude, _) => "rate_limit_error",
                    (Client::Responses, true) => "rate_limit_exceeded",
                    (Client::Responses, false) => "rate_limit_error",
                    (Client::Gemini, _) => "RESOURCE_EXHAUSTED",
                };
                assert_eq!(
                    error_of(client, stream, &r),
                    (want, named.to_string()),
                    "{client:?} stream={stream} {end:?}: {}",
                    r.text()
                );
                let seen = mock.requests().len();
                assert_eq!(seen, 1, "a rate limit with a long hint is not retried");
                // Cooled down: the next request is refused without reaching the upstream.
                *next.lock().unwrap() = End::Completed;
                let r = ask(&srv, client, stream);
                assert_ne!(
                    r.status,
                    200,
                    "{client:?} stream={stream} {end:?}: {}",
                    r.text()
                );
                assert_eq!(
                    mock.requests().len(),
                    seen,
                    "{client:?} stream={stream} {end:?}"
                );
            }
        }
    }
}

#[test]
fn failed_request_fault_is_a_400_without_cooldown_and_server_error_a_500() {
    let (mock, srv, next) = setup();
    for client in CLIENTS {
        *next.lock().unwrap() = End::Failed("context_length_exceeded");
        let before = mock.requests().len();
        let r = ask(&srv, client, false);
        assert_eq!(r.status, 400, "{client:?}: {}", r.text());
        assert_eq!(
            mock.requests().len(),
            before + 1,
            "a request fault is not retried"
        );
        *next.lock().unwrap() = End::Completed;
        let r = ask(&srv, client, false);
        assert_eq!(
            r.status,
            200,
            "{client:?} after a request fault: {}",
            r.text()
        );
    }
    let (_mock, srv, next) = setup();
    *next.lock().unwrap() = End::Failed("server_error");
    let r = ask(&srv, Client::Chat, false);
    assert_eq!(r.status, 500, "{}", r.text());
    assert_eq!(r.json()["error"]["type"], "server_error");
}

/// A non-stream answer whose `response.completed` has an empty `output`
/// still carries the text: the output is rebuilt from `output_item.done`.
#[test]
fn empty_completed_output_is_rebuilt_from_done_items() {
    let (_mock, srv, next) = setup();
    *next.lock().unwrap() = End::CompletedEmptyOutput;
    for client in CLIENTS {
        let r = ask(&srv, client, false);
        assert_eq!(r.status, 200, "{client:?}: {}", r.text());
        let v = r.json();
        let text = match client {
            Client::Chat => &v["choices"][0]["message"]["content"],
            Client::Responses => &v["output"][0]["content"][0]["text"],
            Client::Claude => &v["content"][0]["text"],
            Client::Gemini => &v["candidates"][0]["content"]["parts"][0]["text"],
        };
        assert_eq!(text, "Once upon", "{client:?}: {v}");
    }
}
