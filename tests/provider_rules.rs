//! Provider rules through the real server: catalog defaults, the Claude
//! max_tokens rule (v6.9 #7), thinking suffixes, Codex request clean-up
//! (v6.9 #8) and Codex capacity errors as rate limits (v6.9 #9).

mod common;
use common::*;
use serde_json::json;

const AUTH: (&str, &str) = ("Authorization", "Bearer sk-client-1");

fn claude_ok(r: &Recorded) -> Reply {
    let m = r.json()["model"].as_str().unwrap_or("").to_string();
    json_reply(200, &json!({"id":"msg_1","type":"message","role":"assistant","model":m,"content":[{"type":"text","text":"ok"}],"stop_reason":"end_turn","usage":{"input_tokens":1,"output_tokens":1}}).to_string())
}

#[test]
fn claude_entry_without_models_serves_the_catalog_and_max_tokens_rule() {
    let mock = Mock::start(claude_ok);
    let base = format!("http://{}", mock.addr);
    let yaml = format!(
        "api-keys: [\"sk-client-1\"]\nclaude-api-key:\n  - api-key: \"a\"\n    base-url: \"{base}\"\n  - api-key: \"b\"\n    base-url: \"{base}\"\n    prefix: team\n    models: [{{name: claude-custom-upstream, alias: my-claude}}]\n"
    );
    let srv = Server::start("epoll", 1, &yaml, &[]);
    let list = srv.request("GET", "/v1/models", &[AUTH], "").json();
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"claude-sonnet-4-6"), "{ids:?}");
    assert!(
        ids.contains(&"team/my-claude") && ids.contains(&"my-claude"),
        "{ids:?}"
    );

    // Catalog model, no max_tokens from an OpenAI client: the registry's value.
    let r = srv.request(
        "POST",
        "/v1/chat/completions",
        &[AUTH],
        r#"{"model":"claude-sonnet-4-6","messages":[{"role":"user","content":"hi"}]}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let sent = mock.requests().last().unwrap().json();
    assert_eq!(sent["model"], "claude-sonnet-4-6");
    assert_eq!(sent["max_tokens"], 64000);

    // Claude client, catalog model, no max_tokens: set to the registered value.
    let r = srv.request(
        "POST",
        "/v1/messages",
        &[AUTH],
        r#"{"model":"claude-sonnet-4-6","messages":[{"role":"user","content":"hi"}]}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(mock.requests().last().unwrap().json()["max_tokens"], 64000);

    // Configured (non-catalog) model registered for claude: 1024.
    let r = srv.request(
        "POST",
        "/v1/messages",
        &[AUTH],
        r#"{"model":"team/my-claude","messages":[{"role":"user","content":"hi"}]}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let sent = mock.requests().last().unwrap().json();
    assert_eq!(
        (sent["model"].as_str(), sent["max_tokens"].as_u64()),
        (Some("claude-custom-upstream"), Some(1024))
    );

    // An explicit max_tokens is never changed, and the body passes untouched but for the model.
    let body =
        r#"{"model":"my-claude","max_tokens":77,"messages":[{"role":"user","content":"hi"}]}"#;
    srv.request("POST", "/v1/messages", &[AUTH], body);
    let rec = mock.requests().last().unwrap().clone();
    assert_eq!(
        String::from_utf8(rec.body).unwrap(),
        body.replace("my-claude", "claude-custom-upstream")
    );

    // A thinking suffix becomes the upstream's thinking budget.
    srv.request("POST", "/v1/chat/completions", &[AUTH], r#"{"model":"claude-sonnet-4-6(8192)","max_tokens":20000,"messages":[{"role":"user","content":"hi"}]}"#);
    let sent = mock.requests().last().unwrap().json();
    assert_eq!(sent["model"], "claude-sonnet-4-6");
    assert_eq!(sent["thinking"]["budget_tokens"], 8192, "{sent}");
}

fn codex_stream(text: &str) -> Reply {
    let resp = json!({"id":"resp_1","object":"response","created_at":1,"status":"completed","model":"c","output":[{"type":"message","id":"m1","role":"assistant","status":"completed","content":[{"type":"output_text","text":text,"annotations":[]}]}],"usage":{"input_tokens":1,"output_tokens":1,"total_tokens":2}});
    sse_reply(vec![format!(
        "event: response.completed\ndata: {}\n\n",
        json!({"type":"response.completed","response":resp})
    )])
}

#[test]
fn codex_clean_up_and_capacity_errors() {
    let mock = Mock::start(|r| {
        if r.header("authorization") == Some("Bearer busy") {
            // v6.9 #9: treated as 429 whatever the status.
            json_reply(
                500,
                r#"{"error":{"message":"Selected model is at capacity. Please try a different model."}}"#,
            )
        } else {
            codex_stream("codex says hi")
        }
    });
    let base = format!("http://{}/backend", mock.addr);
    let yaml = format!(
        "api-keys: [\"sk-client-1\"]\ncodex-api-key:\n  - api-key: \"busy\"\n    base-url: \"{base}\"\n    models: [{{name: gpt-up, alias: cx}}]\n  - api-key: \"free\"\n    base-url: \"{base}\"\n    models: [{{name: gpt-up, alias: cx}}]\n  - api-key: \"ignored-no-base-url\"\n"
    );
    let srv = Server::start("uring", 1, &yaml, &[]);
    let body = json!({"model":"cx","input":"hi","stream_options":{"include_usage":true},"previous_response_id":"resp_0","prompt_cache_retention":"24h","safety_identifier":"u1"});
    for _ in 0..3 {
        let r = srv.request("POST", "/v1/responses", &[AUTH], &body.to_string());
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["output"][0]["content"][0]["text"], "codex says hi");
    }
    let reqs = mock.requests();
    for rec in &reqs {
        assert_eq!(rec.path, "/backend/responses");
        let b = rec.json();
        for gone in [
            "stream_options",
            "previous_response_id",
            "prompt_cache_retention",
            "safety_identifier",
        ] {
            assert!(b.get(gone).is_none(), "{gone} was forwarded: {b}");
        }
        assert_eq!(b["instructions"], "");
        assert_eq!(b["stream"], true);
    }
    // The capacity error cooled the busy key like a 429: it was tried once.
    assert_eq!(
        reqs.iter()
            .filter(|r| r.header("authorization") == Some("Bearer busy"))
            .count(),
        1
    );
    assert!(
        srv.log_text().contains("codex-api-key") || srv.log_text().contains("base-url"),
        "no warning for the entry without base-url: {}",
        srv.log_text()
    );
}

#[test]
fn payload_rules_edit_the_upstream_body() {
    let mock = Mock::start(|r| {
        json_reply(
            200,
            &completion(r.json()["model"].as_str().unwrap_or(""), "ok"),
        )
    });
    let yaml = format!(
        r#"api-keys: ["sk-client-1"]
openai-compatibility:
  - name: c
    base-url: "http://{}/v1"
    api-key-entries: [{{api-key: k}}]
    models: [{{name: up-model, alias: m-a}}, {{name: other-up, alias: m-b}}]
payload:
  default:
    - models: [{{name: "up-*", protocol: openai}}]
      params:
        "max_tokens": 100
        "temperature": 0.9
  override:
    - models: [{{name: "m-a"}}]
      params:
        "metadata.tier": "gold"
  filter:
    - models: [{{name: "up-model"}}]
      params: ["user"]
"#,
        mock.addr
    );
    let srv = Server::start("epoll", 1, &yaml, &[]);
    let r = srv.request("POST", "/v1/chat/completions", &[AUTH], r#"{"model":"m-a","temperature":0.1,"user":"u-1","messages":[{"role":"user","content":"hi"}]}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    let sent = mock.requests().last().unwrap().json();
    assert_eq!(sent["model"], "up-model");
    assert_eq!(sent["max_tokens"], 100, "default fills a missing path");
    assert_eq!(
        sent["temperature"], 0.1,
        "default keeps what the client sent"
    );
    assert_eq!(
        sent["metadata"]["tier"], "gold",
        "override matches the client alias"
    );
    assert!(sent.get("user").is_none(), "filter removes the path");
    // Another model: no rule matches, the body goes out byte for byte but for the model.
    let body = r#"{"model":"m-b","user":"u-1","messages":[{"role":"user","content":"hi"}]}"#;
    srv.request("POST", "/v1/chat/completions", &[AUTH], body);
    let rec = mock.requests().last().unwrap().clone();
    assert_eq!(
        String::from_utf8(rec.body).unwrap(),
        body.replace("m-b", "other-up")
    );
}

#[test]
fn sse_keepalive_comments_fill_upstream_silence() {
    use std::io::{BufReader, Write};
    let (mock, gate_tx) = gated_sse_mock(chunks("m", &["before ", "after"]), 1);
    let mut yaml = compat_config(&mock.base_url(), &["sk-client-1"], &["k"]);
    yaml.push_str("streaming:\n  keepalive-seconds: 1\n");
    for driver in ["epoll"] {
        let srv = Server::start(driver, 1, &yaml, &[]);
        let mut s = srv.connect();
        s.write_all(&raw_request(
            "POST",
            "/v1/chat/completions",
            &[AUTH],
            r#"{"model":"gpt-test","stream":true,"messages":[]}"#,
        ))
        .unwrap();
        let mut r = BufReader::new(s);
        assert_eq!(read_head(&mut r).unwrap().0, 200);
        let mut seen = Vec::new();
        // Read until a keep-alive comment arrives while the upstream is silent.
        loop {
            let c = read_chunk(&mut r).unwrap().expect("stream ended early");
            let text = String::from_utf8(c).unwrap();
            seen.push(text.clone());
            if text == ": keep-alive\n\n" {
                break;
            }
        }
        gate_tx.send(()).unwrap();
        while let Some(c) = read_chunk(&mut r).unwrap() {
            seen.push(String::from_utf8(c).unwrap());
        }
        let body = seen.concat();
        assert_eq!(stream_text(body.as_bytes()), "before after");
        assert!(body.ends_with("data: [DONE]\n\n"));
    }
}

#[test]
fn legacy_completions_go_through_chat() {
    let mock = Mock::start(|r| {
        let b = r.json();
        if r.path == "/v1/messages?beta=true" {
            return claude_ok(r);
        }
        assert_eq!(
            b["messages"][0]["content"], "Say ünï",
            "prompt became the user message"
        );
        if b["stream"] == true {
            sse_reply(chunks("m", &["Hel", "lö"]))
        } else {
            json_reply(200, &completion("m", "Hello"))
        }
    });
    let mut yaml = compat_config(&mock.base_url(), &["sk-client-1"], &["k"]);
    yaml.push_str(&format!("claude-api-key:\n  - api-key: c\n    base-url: \"http://{}\"\n    models: [{{name: cl, alias: m-claude}}]\n", mock.addr));
    let srv = Server::start("epoll", 1, &yaml, &[]);
    let r = srv.request(
        "POST",
        "/v1/completions",
        &[AUTH],
        r#"{"model":"gpt-test","prompt":"Say ünï","max_tokens":5}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(
        (v["object"].as_str(), v["choices"][0]["text"].as_str()),
        (Some("text_completion"), Some("Hello"))
    );
    let r = srv.request(
        "POST",
        "/v1/completions",
        &[AUTH],
        r#"{"model":"gpt-test","prompt":"Say ünï","stream":true}"#,
    );
    let data = sse_data(&r.body);
    let text: String = data
        .iter()
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str::<serde_json::Value>(d).unwrap())
        .inspect(|v| assert_eq!(v["object"], "text_completion"))
        .filter_map(|v| v["choices"][0]["text"].as_str().map(str::to_string))
        .collect();
    assert_eq!(text, "Hellö");
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    // Through a translated upstream too.
    let r = srv.request(
        "POST",
        "/v1/completions",
        &[AUTH],
        r#"{"model":"m-claude","prompt":"Say ünï","max_tokens":5}"#,
    );
    assert_eq!(r.json()["choices"][0]["text"], "ok", "{}", r.text());
    assert_eq!(
        srv.request("POST", "/v1/completions", &[AUTH], "[1]")
            .status,
        400
    );
}

#[test]
fn vertex_api_key_entries_use_the_publisher_path() {
    let mock = Mock::start(|r| {
        assert!(
            r.path
                .starts_with("/v1/publishers/google/models/gemini-up:"),
            "{}",
            r.path
        );
        json_reply(
            200,
            r#"{"candidates":[{"content":{"role":"model","parts":[{"text":"from vertex"}]},"finishReason":"STOP","index":0}]}"#,
        )
    });
    let yaml = format!(
        "api-keys: [\"sk-client-1\"]\nvertex-api-key:\n  - api-key: \"vx\"\n    base-url: \"http://{}\"\n    models: [{{name: gemini-up, alias: vx-model}}]\n",
        mock.addr
    );
    let srv = Server::start("epoll", 1, &yaml, &[]);
    let r = srv.request(
        "POST",
        "/v1beta/models/vx-model:generateContent",
        &[AUTH],
        r#"{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["candidates"][0]["content"]["parts"][0]["text"],
        "from vertex"
    );
    let r = srv.request(
        "POST",
        "/v1/chat/completions",
        &[AUTH],
        r#"{"model":"vx-model","messages":[{"role":"user","content":"hi"}]}"#,
    );
    assert_eq!(r.json()["choices"][0]["message"]["content"], "from vertex");
    let rec = mock.requests();
    assert_eq!(rec[0].header("x-goog-api-key"), Some("vx"));
    assert!(rec[0].path.ends_with(":generateContent"));
}

#[test]
fn nonstream_keepalive_newlines_while_the_upstream_thinks() {
    use std::io::{BufReader, Write};
    let (gate_tx, gate_rx) = std::sync::mpsc::channel::<()>();
    let gate = std::sync::Mutex::new(gate_rx);
    let mock = Mock::start(move |_| {
        // Hold the answer until the test saw a keep-alive.
        let _ = gate
            .lock()
            .unwrap()
            .recv_timeout(std::time::Duration::from_secs(20));
        json_reply(200, &completion("m", "thought long"))
    });
    let mut yaml = compat_config(&mock.base_url(), &["sk-client-1"], &["k"]);
    yaml.push_str("nonstream-keepalive-interval: 1\n");
    let srv = Server::start("epoll", 1, &yaml, &[]);
    let mut s = srv.connect();
    s.write_all(&raw_request(
        "POST",
        "/v1/chat/completions",
        &[AUTH],
        r#"{"model":"gpt-test","messages":[]}"#,
    ))
    .unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let (status, headers) = read_head(&mut r).unwrap();
    assert_eq!(status, 200);
    assert!(headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v == "chunked"));
    assert_eq!(read_chunk(&mut r).unwrap().unwrap(), b"\n");
    gate_tx.send(()).unwrap();
    let mut body = Vec::new();
    while let Some(c) = read_chunk(&mut r).unwrap() {
        body.extend(c);
    }
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "thought long");
    // The connection stays usable for the next request.
    s.write_all(&raw_request("GET", "/healthz", &[], ""))
        .unwrap();
    assert_eq!(read_response(&mut r, false).unwrap().status, 200);
}

#[test]
fn gemini_raw_alt_streams_json_chunks() {
    let mock = Mock::start(|r| {
        if r.path.starts_with("/v1beta/models/") {
            let ev = |t: &str| {
                format!(
                    "data: {}\n\n",
                    json!({"candidates":[{"content":{"role":"model","parts":[{"text":t}]},"index":0}]})
                )
            };
            sse_reply(vec![ev("raw "), ev("chunks")])
        } else {
            sse_reply(chunks("m", &["raw ", "chunks"]))
        }
    });
    let mut yaml = compat_config(&mock.base_url(), &["sk-client-1"], &["k"]);
    yaml.push_str(&format!("gemini-api-key:\n  - api-key: g\n    base-url: \"http://{}\"\n    models: [{{name: g-up, alias: m-gemini}}]\n", mock.addr));
    let srv = Server::start("epoll", 1, &yaml, &[]);
    for model in ["m-gemini", "gpt-test"] {
        for q in ["alt=json", "$alt=json"] {
            let r = srv.request(
                "POST",
                &format!("/v1beta/models/{model}:streamGenerateContent?{q}"),
                &[AUTH],
                r#"{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}"#,
            );
            assert_eq!(r.status, 200, "{}", r.text());
            assert!(
                !r.text().contains("data:"),
                "{model} {q}: SSE framing in a raw stream: {}",
                r.text()
            );
            let text: String = serde_json::Deserializer::from_slice(&r.body)
                .into_iter::<serde_json::Value>()
                .map(|v| v.unwrap())
                .flat_map(|v| {
                    v["candidates"][0]["content"]["parts"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                })
                .filter_map(|p| p["text"].as_str().map(str::to_string))
                .collect();
            assert_eq!(text, "raw chunks", "{model} {q}");
        }
        let sse = srv.request(
            "POST",
            &format!("/v1beta/models/{model}:streamGenerateContent?alt=sse"),
            &[AUTH],
            r#"{"contents":[]}"#,
        );
        assert!(sse.text().starts_with("data: "), "{}", sse.text());
    }
}

#[test]
fn token_counts_cross_claude_and_gemini() {
    let mock = Mock::start(|r| {
        let b = r.json();
        if r.path.ends_with(":countTokens") {
            assert!(b["generateContentRequest"]["contents"].is_array(), "{b}");
            assert_eq!(b["generateContentRequest"]["model"], "models/g-up");
            json_reply(200, r#"{"totalTokens":17}"#)
        } else if r.path == "/v1/messages/count_tokens?beta=true" {
            assert!(
                b["messages"].is_array() && b.get("max_tokens").is_none(),
                "{b}"
            );
            assert_eq!(b["model"], "c-up");
            json_reply(200, r#"{"input_tokens":23}"#)
        } else {
            json_reply(404, "{}")
        }
    });
    let base = format!("http://{}", mock.addr);
    let yaml = format!(
        "api-keys: [\"sk-client-1\"]\ngemini-api-key: [{{api-key: g, base-url: \"{base}\", models: [{{name: g-up, alias: m-gemini}}]}}]\nclaude-api-key: [{{api-key: c, base-url: \"{base}\", models: [{{name: c-up, alias: m-claude}}]}}]\n"
    );
    let srv = Server::start("epoll", 1, &yaml, &[]);
    let r = srv.request(
        "POST",
        "/v1/messages/count_tokens",
        &[AUTH],
        r#"{"model":"m-gemini","messages":[{"role":"user","content":"count me"}]}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), json!({"input_tokens":17}));
    let r = srv.request(
        "POST",
        "/v1beta/models/m-claude:countTokens",
        &[AUTH],
        r#"{"contents":[{"role":"user","parts":[{"text":"count me"}]}]}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), json!({"totalTokens":23}));
}
