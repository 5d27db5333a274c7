//! Integration tests: the real server binary against a scripted mock upstream,
//! each scenario under io_uring and under the epoll fallback.

mod common;
use common::*;
use std::io::{BufReader, Write};
use std::time::Duration;

const KEY: &str = "sk-client-1";
const AUTH: (&str, &str) = ("Authorization", "Bearer sk-client-1");

/// The real binary under `driver` with `workers` cores, client key KEY and
/// one OpenAI-compatible upstream (key "k") at `mock`.
fn compat_server(driver: &str, workers: usize, mock: &Mock) -> Server {
    Server::start(
        driver,
        workers,
        &compat_config(&mock.base_url(), &[KEY], &["k"]),
        &[],
    )
}

both_drivers!(non_stream_passthrough, |driver| {
    let mock = Mock::start(|r| {
        json_reply(
            200,
            &completion(r.json()["model"].as_str().unwrap(), "Hello there"),
        )
    });
    let srv = Server::start(
        driver,
        2,
        &compat_config(&mock.base_url(), &[KEY], &["up-key-1"]),
        &[],
    );
    let body = chat_body(false);
    let resp = srv.request(
        "POST",
        "/v1/chat/completions",
        &[AUTH, ("Content-Type", "application/json")],
        &body,
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(
        resp.json()["choices"][0]["message"]["content"],
        "Hello there"
    );
    let reqs = mock.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.path, "/v1/chat/completions");
    assert_eq!(r.header("authorization"), Some("Bearer up-key-1"));
    // Only the model value changed; every other byte is as the client sent it.
    assert_eq!(
        String::from_utf8(r.body.clone()).unwrap(),
        body.replace("gpt-test", "upstream-model")
    );
});

both_drivers!(stream_passthrough, |driver| {
    let mock = Mock::start(|_| sse_reply(chunks("upstream-model", &["Hel", "lo", " world"])));
    let srv = compat_server(driver, 2, &mock);
    let resp = srv.request("POST", "/v1/chat/completions", &[AUTH], &chat_body(true));
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some("text/event-stream"));
    assert_eq!(stream_text(&resp.body), "Hello world");
    assert_eq!(
        sse_data(&resp.body).last().map(String::as_str),
        Some("[DONE]")
    );
    assert_eq!(
        sse_data(&resp.body)
            .iter()
            .filter(|d| *d == "[DONE]")
            .count(),
        1
    );
    assert_eq!(
        mock.requests()[0].header("accept"),
        Some("text/event-stream")
    );
});

both_drivers!(tls_upstream_stream, |driver| {
    let mock = Mock::start_tls(|_| sse_reply(chunks("m", &["secure ", "text"])));
    let dir = scratch_dir("ca");
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, mock.ca_pem.as_ref().unwrap()).unwrap();
    let srv = Server::start(
        driver,
        1,
        &compat_config(&mock.base_url(), &[KEY], &["k"]),
        &["--upstream-ca", ca.to_str().unwrap()],
    );
    for _ in 0..2 {
        let resp = srv.request("POST", "/v1/chat/completions", &[AUTH], &chat_body(true));
        assert_eq!(resp.status, 200, "{}", resp.text());
        assert_eq!(stream_text(&resp.body), "secure text");
    }
    let resp = srv.request(
        "POST",
        "/v1/chat/completions",
        &[AUTH],
        &chat_body(false).replace("false", "false "),
    );
    assert_eq!(resp.status, 200);
    // Three requests over TLS, one connection: the pool reuses TLS sessions too.
    assert_eq!(
        mock.connections.load(std::sync::atomic::Ordering::SeqCst),
        1
    );
});

both_drivers!(upstream_connection_reuse, |driver| {
    let mock = Mock::start(|_| json_reply(200, &completion("m", "x")));
    let srv = compat_server(driver, 1, &mock);
    for _ in 0..5 {
        let resp = srv.request("POST", "/v1/chat/completions", &[AUTH], &chat_body(false));
        assert_eq!(resp.status, 200);
    }
    assert_eq!(mock.requests().len(), 5);
    assert_eq!(
        mock.connections.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "upstream connection was not reused"
    );
    assert!(mock.requests().iter().all(|r| r.conn == 0));
});

both_drivers!(pipelined_requests_in_order, |driver| {
    let mock = Mock::start(|r| {
        json_reply(
            200,
            &completion("m", &String::from_utf8_lossy(&r.body).len().to_string()),
        )
    });
    let srv = compat_server(driver, 1, &mock);
    let mut s = srv.connect();
    let mut all = Vec::new();
    all.extend(raw_request("GET", "/healthz", &[], ""));
    all.extend(raw_request(
        "POST",
        "/v1/chat/completions",
        &[AUTH],
        &chat_body(false),
    ));
    all.extend(raw_request("GET", "/", &[], ""));
    all.extend(raw_request(
        "POST",
        "/v1/chat/completions",
        &[AUTH],
        &chat_body(false).replace("hi", "hello"),
    ));
    s.write_all(&all).unwrap();
    let mut r = BufReader::new(s);
    let a = read_response(&mut r, false).unwrap();
    let b = read_response(&mut r, false).unwrap();
    let c = read_response(&mut r, false).unwrap();
    let d = read_response(&mut r, false).unwrap();
    assert_eq!(a.json(), serde_json::json!({"status":"ok"}));
    assert_eq!(
        b.json()["choices"][0]["message"]["content"],
        (chat_body(false).len() + 6).to_string()
    );
    assert_eq!(c.json()["message"], "CLI Proxy API Server");
    assert_eq!(
        d.json()["choices"][0]["message"]["content"],
        (chat_body(false).len() + 9).to_string()
    );
});

both_drivers!(chunked_request_body_and_expect_continue, |driver| {
    let mock = Mock::start(|r| {
        json_reply(
            200,
            &completion("m", r.json()["messages"][0]["content"].as_str().unwrap()),
        )
    });
    let srv = compat_server(driver, 1, &mock);
    let mut s = srv.connect();
    let body = chat_body(false).replace("hi", "chunked body");
    let (a, b) = body.split_at(10);
    let req = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {KEY}\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n"
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let (status, _) = read_head(&mut r).unwrap();
    assert_eq!(status, 100);
    s.write_all(
        format!(
            "{:x}\r\n{a}\r\n{:x};ext=1\r\n{b}\r\n0\r\n\r\n",
            a.len(),
            b.len()
        )
        .as_bytes(),
    )
    .unwrap();
    let resp = read_response(&mut r, false).unwrap();
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(
        resp.json()["choices"][0]["message"]["content"],
        "chunked body"
    );
    assert_eq!(
        mock.requests()[0].body,
        body.replace("gpt-test", "upstream-model").into_bytes()
    );
});

both_drivers!(auth_errors, |driver| {
    let mock = Mock::start(|_| json_reply(200, &completion("m", "x")));
    let srv = Server::start(
        driver,
        1,
        &compat_config(&mock.base_url(), &[KEY, "other"], &["k"]),
        &[],
    );
    let missing = srv.request("POST", "/v1/chat/completions", &[], &chat_body(false));
    assert_eq!(missing.status, 401);
    assert_eq!(
        missing.json(),
        serde_json::json!({"error":"Missing API key"})
    );
    let invalid = srv.request(
        "POST",
        "/v1/chat/completions",
        &[("Authorization", "Bearer nope")],
        &chat_body(false),
    );
    assert_eq!(invalid.status, 401);
    assert_eq!(
        invalid.json(),
        serde_json::json!({"error":"Invalid API key"})
    );
    for (h, v) in [("X-Api-Key", KEY), ("X-Goog-Api-Key", "other")] {
        assert_eq!(srv.request("GET", "/v1/models", &[(h, v)], "").status, 200);
    }
    assert_eq!(
        srv.request("GET", &format!("/v1/models?key={KEY}"), &[], "")
            .status,
        200
    );
    assert_eq!(
        srv.request("GET", &format!("/v1/models?auth_token={KEY}"), &[], "")
            .status,
        200
    );
    assert_eq!(
        srv.request("GET", "/v1/models?key=bad", &[], "").status,
        401
    );
    // Public routes need no key.
    assert_eq!(srv.request("GET", "/healthz", &[], "").status, 200);
    assert_eq!(mock.requests().len(), 0);
    assert!(
        !srv.log_text().contains(KEY),
        "a client key reached the log"
    );
});

both_drivers!(models_and_unknown_model, |driver| {
    let mock = Mock::start(|_| json_reply(200, "{}"));
    let srv = compat_server(driver, 1, &mock);
    let list = srv.request("GET", "/v1/models", &[AUTH], "").json();
    assert_eq!(list["object"], "list");
    assert_eq!(list["data"][0]["id"], "gpt-test");
    assert_eq!(list["data"][0]["owned_by"], "mock");
    let claude = srv
        .request(
            "GET",
            "/v1/models",
            &[AUTH, ("anthropic-version", "2023-06-01")],
            "",
        )
        .json();
    assert_eq!(claude["has_more"], false);
    assert_eq!(claude["data"][0]["id"], "claude-fable-5-dd-tset-tpg");
    assert_eq!(claude["data"][0]["type"], "model");
    let unknown = srv.request(
        "POST",
        "/v1/chat/completions",
        &[AUTH],
        r#"{"model":"nope","messages":[]}"#,
    );
    assert_eq!(unknown.status, 400);
    assert_eq!(
        unknown.json(),
        serde_json::json!({"error":{"message":"unknown provider for model nope","type":"invalid_request_error","code":"model_not_found","param":"model"}})
    );
    let bad = srv.request("POST", "/v1/chat/completions", &[AUTH], "{not json");
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["error"]["type"], "invalid_request_error");
    assert_eq!(srv.request("GET", "/nope", &[], "").status, 404);
    assert_eq!(mock.requests().len(), 0);
});

both_drivers!(upstream_unreachable, |driver| {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", dead.local_addr().unwrap());
    drop(dead);
    let srv = Server::start(driver, 1, &compat_config(&url, &[KEY], &["k"]), &[]);
    let resp = srv.request("POST", "/v1/chat/completions", &[AUTH], &chat_body(true));
    assert_eq!(resp.status, 500);
    assert_eq!(resp.json()["error"]["type"], "server_error");
    // The server keeps serving.
    assert_eq!(srv.request("GET", "/healthz", &[], "").status, 200);
});

both_drivers!(upstream_500_before_first_byte, |driver| {
    let mock =
        Mock::start(|_| json_reply(500, r#"{"error":{"message":"boom","type":"server_error"}}"#));
    let srv = compat_server(driver, 1, &mock);
    let resp = srv.request("POST", "/v1/chat/completions", &[AUTH], &chat_body(true));
    assert_eq!(resp.status, 500);
    assert_eq!(
        resp.json(),
        serde_json::json!({"error":{"message":"boom","type":"server_error"}})
    );
    assert_eq!(
        resp.header("content-type"),
        Some("application/json; charset=utf-8")
    );
});

both_drivers!(rate_limited_key_fails_over, |driver| {
    let mock = Mock::start(|r| {
        if r.header("authorization") == Some("Bearer limited") {
            Reply::Full {
                status: 429,
                headers: vec![("Retry-After".into(), "30".into())],
                body: br#"{"error":{"message":"rate limited"}}"#.to_vec(),
            }
        } else {
            json_reply(200, &completion("m", "from the good key"))
        }
    });
    let srv = Server::start(
        driver,
        1,
        &compat_config(&mock.base_url(), &[KEY], &["limited", "good"]),
        &[],
    );
    for _ in 0..2 {
        let resp = srv.request("POST", "/v1/chat/completions", &[AUTH], &chat_body(false));
        assert_eq!(resp.status, 200);
        assert_eq!(
            resp.json()["choices"][0]["message"]["content"],
            "from the good key"
        );
    }
});

both_drivers!(upstream_breaks_mid_stream, |driver| {
    let mock = Mock::start(|_| Reply::Sse {
        events: chunks("m", &["partial"])[..1].to_vec(),
        gate_at: None,
        gate: None,
        end: SseEnd::Drop,
    });
    let srv = compat_server(driver, 1, &mock);
    let resp = srv.request("POST", "/v1/chat/completions", &[AUTH], &chat_body(true));
    assert_eq!(resp.status, 200);
    let data = sse_data(&resp.body);
    assert_eq!(stream_text(&resp.body), "partial");
    let last: serde_json::Value = serde_json::from_str(data.last().unwrap()).unwrap();
    assert_eq!(last["error"]["type"], "server_error");
    assert!(!data.iter().any(|d| d == "[DONE]"));
});

both_drivers!(client_disconnect_mid_stream_cancels_upstream, |driver| {
    let (mock, gate_tx) = gated_sse_mock(chunks("m", &["first", "second"]), 1);
    let srv = compat_server(driver, 1, &mock);
    let mut r = BufReader::new(srv.connect());
    let first = start_chat_stream(&mut r);
    assert!(String::from_utf8_lossy(&first).contains("first"));
    drop(r); // the client goes away mid-stream
             // The relay notices and closes its upstream connection; the mock sees EOF
             // while still holding the rest of the stream.
    let closed = mock.wait_closed(Duration::from_secs(10));
    assert_eq!(closed, 0);
    drop(gate_tx);
    assert_eq!(srv.request("GET", "/healthz", &[], "").status, 200);
});

both_drivers!(hot_reload_api_keys, |driver| {
    let mock = Mock::start(|_| json_reply(200, &completion("m", "x")));
    let srv = Server::start(
        driver,
        2,
        &compat_config(&mock.base_url(), &["old-key"], &["k"]),
        &[],
    );
    assert_eq!(
        srv.request(
            "GET",
            "/v1/models",
            &[("Authorization", "Bearer old-key")],
            ""
        )
        .status,
        200
    );
    // Hold a connection open across the reload.
    let mut kept = srv.connect();
    kept.write_all(&raw_request("GET", "/healthz", &[], ""))
        .unwrap();
    let mut kept_r = BufReader::new(kept.try_clone().unwrap());
    assert_eq!(read_response(&mut kept_r, false).unwrap().status, 200);
    let yaml = std::fs::read_to_string(&srv.config_path)
        .unwrap()
        .replace("old-key", "new-key");
    let tmp = srv.dir.join("config.yaml.tmp");
    std::fs::write(&tmp, yaml).unwrap();
    std::fs::rename(&tmp, &srv.config_path).unwrap();
    let applied = eventually(Duration::from_secs(10), || {
        srv.request(
            "GET",
            "/v1/models",
            &[("Authorization", "Bearer new-key")],
            "",
        )
        .status
            == 200
    });
    assert!(applied, "new key never accepted: {}", srv.log_text());
    // The reload is logged once every worker acknowledged it.
    assert!(
        eventually(Duration::from_secs(10), || srv
            .log_text()
            .contains("config reloaded")),
        "{}",
        srv.log_text()
    );
    assert_eq!(
        srv.request(
            "GET",
            "/v1/models",
            &[("Authorization", "Bearer old-key")],
            ""
        )
        .status,
        401
    );
    // The connection opened before the reload still works, now under the new keys.
    kept.write_all(&raw_request(
        "GET",
        "/v1/models",
        &[("Authorization", "Bearer new-key")],
        "",
    ))
    .unwrap();
    assert_eq!(read_response(&mut kept_r, false).unwrap().status, 200);
    // An invalid edit keeps the old config.
    std::fs::write(&tmp, "port: [not, a, port]\n").unwrap();
    std::fs::rename(&tmp, &srv.config_path).unwrap();
    assert!(eventually(Duration::from_secs(10), || srv
        .log_text()
        .contains("reload rejected")));
    assert_eq!(
        srv.request(
            "GET",
            "/v1/models",
            &[("Authorization", "Bearer new-key")],
            ""
        )
        .status,
        200
    );
});

both_drivers!(graceful_shutdown_finishes_open_stream, |driver| {
    let (mock, gate_tx) = gated_sse_mock(chunks("m", &["before ", "after"]), 1);
    let mut srv = compat_server(driver, 2, &mock);
    let mut r = BufReader::new(srv.connect());
    let first = start_chat_stream(&mut r);
    assert!(String::from_utf8_lossy(&first).contains("before"));
    srv.sigterm();
    // New connections are refused once the listeners close.
    assert!(eventually(Duration::from_secs(10), || {
        std::net::TcpStream::connect(srv.addr).is_err()
    }));
    gate_tx.send(()).unwrap();
    let mut rest = Vec::new();
    while let Some(c) = read_chunk(&mut r).unwrap_or_else(|e| panic!("{e}: {}", srv.log_text())) {
        rest.extend(c);
    }
    let text = String::from_utf8_lossy(&rest);
    assert!(text.contains("after") && text.contains("[DONE]"), "{text}");
    assert_eq!(srv.wait_exit(Duration::from_secs(15)), Some(0));
});
