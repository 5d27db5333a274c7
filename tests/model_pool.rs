//! Model pools through the real server: one alias repeated over several
//! upstream `name`s of a provider entry rotates over them per request
//! (round-robin per credential, counters shared by all workers), and a
//! failure before any output moves on to the pool's next model within the
//! same request, streamed or not.

mod common;
use common::*;
use serde_json::json;

const AUTH: (&str, &str) = ("Authorization", "Bearer sk-client-1");

fn model_of(r: &Recorded) -> String {
    r.json()["model"].as_str().unwrap_or("").to_string()
}

fn ok(r: &Recorded) -> Reply {
    let m = model_of(r);
    if r.json()["stream"] == true {
        sse_reply(chunks(&m, &["from ", &m]))
    } else {
        json_reply(200, &completion(&m, &format!("from {m}")))
    }
}

fn compat_pool(base: &str, names: &[&str]) -> String {
    let models: Vec<String> = names
        .iter()
        .map(|n| format!("{{name: {n}, alias: pool}}"))
        .collect();
    format!(
        "api-keys: [\"sk-client-1\"]\nopenai-compatibility:\n  - name: c\n    base-url: \"{base}/v1\"\n    api-key-entries: [{{api-key: k}}]\n    models: [{}]\n",
        models.join(", ")
    )
}

fn chat(srv: &Server, model: &str, stream: bool) -> Resp {
    let body =
        json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": "hi"}]});
    srv.request("POST", "/v1/chat/completions", &[AUTH], &body.to_string())
}

fn upstream_models(mock: &Mock) -> Vec<String> {
    mock.requests().iter().map(model_of).collect()
}

#[test]
fn alias_pool_rotates_round_robin_across_workers() {
    let mock = Mock::start(ok);
    let base = format!("http://{}", mock.addr);
    // Two workers: the rotation state is shared, not per worker.
    let srv = Server::start("epoll", 2, &compat_pool(&base, &["m-a", "m-b", "m-c"]), &[]);
    for i in 0..7 {
        let r = chat(&srv, "pool", false);
        assert_eq!(r.status, 200, "request {i}: {}", r.text());
    }
    assert_eq!(
        upstream_models(&mock),
        ["m-a", "m-b", "m-c", "m-a", "m-b", "m-c", "m-a"]
    );
}

#[test]
fn claude_entry_alias_pool_rotates_too() {
    let mock = Mock::start(|r| {
        let m = model_of(r);
        json_reply(200, &json!({"id":"msg_1","type":"message","role":"assistant","model":m,"content":[{"type":"text","text":"ok"}],"stop_reason":"end_turn","usage":{"input_tokens":1,"output_tokens":1}}).to_string())
    });
    let yaml = format!(
        "api-keys: [\"sk-client-1\"]\nclaude-api-key:\n  - api-key: k\n    base-url: \"http://{}\"\n    models: [{{name: c-one, alias: cpool}}, {{name: c-two, alias: cpool}}]\n",
        mock.addr
    );
    let srv = Server::start("epoll", 1, &yaml, &[]);
    for _ in 0..4 {
        let body =
            json!({"model":"cpool","max_tokens":5,"messages":[{"role":"user","content":"hi"}]});
        let r = srv.request("POST", "/v1/messages", &[AUTH], &body.to_string());
        assert_eq!(r.status, 200, "{}", r.text());
    }
    assert_eq!(upstream_models(&mock), ["c-one", "c-two", "c-one", "c-two"]);
}

/// `m-a` always fails with `status`; `m-b` answers.
fn failing_a(status: u16) -> impl Fn(&Recorded) -> Reply + Send + Sync {
    move |r: &Recorded| {
        if model_of(r) == "m-a" {
            json_reply(
                status,
                r#"{"error":{"message":"busy","type":"server_error"}}"#,
            )
        } else {
            ok(r)
        }
    }
}

#[test]
fn failure_before_output_moves_to_the_next_model_of_the_pool() {
    for status in [500, 429] {
        let mock = Mock::start(failing_a(status));
        let base = format!("http://{}", mock.addr);
        let srv = Server::start("epoll", 1, &compat_pool(&base, &["m-a", "m-b"]), &[]);
        let r = chat(&srv, "pool", false);
        assert_eq!(r.status, 200, "{status}: {}", r.text());
        assert_eq!(
            r.json()["choices"][0]["message"]["content"],
            "from m-b",
            "{status}"
        );
        assert_eq!(upstream_models(&mock), ["m-a", "m-b"], "{status}");
    }
}

#[test]
fn streamed_request_fails_over_to_the_next_model_before_output() {
    let mock = Mock::start(failing_a(500));
    let base = format!("http://{}", mock.addr);
    let srv = Server::start("epoll", 1, &compat_pool(&base, &["m-a", "m-b"]), &[]);
    let r = chat(&srv, "pool", true);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(stream_text(&r.body), "from m-b");
    assert_eq!(upstream_models(&mock), ["m-a", "m-b"]);
    assert!(mock.requests().iter().all(|q| q.json()["stream"] == true));
}

#[test]
fn request_fault_does_not_move_to_the_next_model() {
    let mock = Mock::start(failing_a(400));
    let base = format!("http://{}", mock.addr);
    let srv = Server::start("epoll", 1, &compat_pool(&base, &["m-a", "m-b"]), &[]);
    let r = chat(&srv, "pool", false);
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(upstream_models(&mock), ["m-a"]);
}

#[test]
fn every_model_of_the_pool_failing_returns_the_last_upstream_error() {
    let mock = Mock::start(|_| json_reply(503, r#"{"error":{"message":"down"}}"#));
    let base = format!("http://{}", mock.addr);
    let yaml = format!(
        "{}max-retry-interval: 0\n",
        compat_pool(&base, &["m-a", "m-b"])
    );
    let srv = Server::start("epoll", 1, &yaml, &[]);
    let r = chat(&srv, "pool", false);
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(upstream_models(&mock), ["m-a", "m-b"]);
}
