//! Amp CLI integration through the real binary: a mock Amp upstream and a
//! mock local provider on 127.0.0.1:0.

mod common;

use common::*;
use std::io::{BufReader, Write};
use std::time::Duration;

/// Local provider: `gpt-test` and `other-local`; Amp upstream as given.
fn config(local: &Mock, amp_url: &str, ampcode_extra: &str) -> String {
    format!(
        r#"api-keys: ["client-a", "client-b"]
auth-dir: ./auths
openai-compatibility:
  - name: local
    base-url: "{local}"
    api-key-entries: [{{api-key: "local-key"}}]
    models:
      - {{name: upstream-model, alias: gpt-test}}
      - {{name: other-upstream, alias: other-local}}
ampcode:
  upstream-url: "{amp_url}"
{ampcode_extra}"#,
        local = local.base_url(),
    )
}

const MAPPINGS: &str = r#"  upstream-api-key: "amp-config-key"
  upstream-api-keys:
    - upstream-api-key: "amp-for-b"
      api-keys: ["client-b"]
  restrict-management-to-localhost: true
  model-mappings:
    - from: "Claude-Opus-4"
      to: "gpt-test"
    - from: "^gemini-2\\.5-.*$"
      to: "gpt-test"
      regex: true
"#;

/// The mock's address without its `/v1` (Amp paths start at the root).
fn amp_root(m: &Mock) -> String {
    m.base_url().trim_end_matches("/v1").to_string()
}

fn amp_mock() -> Mock {
    Mock::start(|r| {
        json_reply(
            200,
            &serde_json::json!({"amp": true, "path": r.path}).to_string(),
        )
    })
}

fn local_mock() -> Mock {
    Mock::start(|r| {
        let model = r.json()["model"].as_str().unwrap_or("").to_string();
        json_reply(200, &completion(&model, "local answer"))
    })
}

fn bearer(k: &str) -> String {
    format!("Bearer {k}")
}

#[test]
fn management_routes_proxied_with_the_amp_key() {
    for driver in DRIVERS {
        management_routes_proxied_with_the_amp_key_on(driver);
    }
}

fn management_routes_proxied_with_the_amp_key_on(driver: &str) {
    let (amp, local) = (amp_mock(), local_mock());
    let srv = Server::start(driver, 2, &config(&local, &amp_root(&amp), MAPPINGS), &[]);
    let a = bearer("client-a");
    let r = srv.request(
        "GET",
        "/api/user?key=client-a&x=1",
        &[("Authorization", &a), ("X-Custom", "kept")],
        "",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["amp"], true);
    let got = amp.requests().pop().unwrap();
    assert_eq!(
        got.path, "/api/user?x=1",
        "client key dropped from the query"
    );
    assert_eq!(got.header("authorization"), Some("Bearer amp-config-key"));
    assert_eq!(got.header("x-api-key"), Some("amp-config-key"));
    assert_eq!(got.header("x-custom"), Some("kept"));

    // Per-client key, and a request body forwarded.
    let b = bearer("client-b");
    let r = srv.request(
        "POST",
        "/api/threads/t1",
        &[("Authorization", &b)],
        r#"{"x":1}"#,
    );
    assert_eq!(r.status, 200);
    let got = amp.requests().pop().unwrap();
    assert_eq!(got.header("authorization"), Some("Bearer amp-for-b"));
    assert_eq!(got.body, br#"{"x":1}"#);

    // The client key is required on /api routes, not on the open pages.
    assert_eq!(srv.request("GET", "/api/user", &[], "").status, 401);
    assert_eq!(srv.request("GET", "/settings/x", &[], "").status, 200);
    assert_eq!(amp.requests().pop().unwrap().path, "/settings/x");
    // No CORS preflight on Amp routes; loopback clients pass the
    // localhost restriction.
    assert_eq!(srv.request("OPTIONS", "/api/user", &[], "").status, 403);
    assert_eq!(
        srv.request("GET", "/api/meta", &[("X-Api-Key", "client-a")], "")
            .status,
        200
    );
}

#[test]
fn management_proxy_streams_and_inflates_undeclared_gzip() {
    let local = local_mock();
    let amp = Mock::start(|r| {
        let gz = |body: Vec<u8>| Reply::Full {
            status: 200,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body,
        };
        match r.path.as_str() {
            // gzip, no Content-Encoding (a misconfigured upstream).
            "/api/telemetry" => gz(cliproxy::amp::gzip::gzip(
                br#"{"inflated":true}"#.repeat(100).as_slice(),
            )),
            // Looks like gzip but is not: passed as it came.
            "/api/telemetry/bad" => gz(vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0]),
            _ => sse_reply(vec!["data: one\n\n".into(), "data: two\n\n".into()]),
        }
    });
    let srv = Server::start("epoll", 1, &config(&local, &amp_root(&amp), MAPPINGS), &[]);
    let k = [("X-Api-Key", "client-a")];
    let r = srv.request("GET", "/api/internal/stream", &k, "");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    assert_eq!(r.text(), "data: one\n\ndata: two\n\n");
    let r = srv.request("POST", "/api/telemetry", &k, "{}");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-encoding"), None);
    assert_eq!(r.text(), r#"{"inflated":true}"#.repeat(100));
    assert_eq!(
        r.header("content-length").unwrap(),
        r.body.len().to_string()
    );
    let r = srv.request("POST", "/api/telemetry/bad", &k, "{}");
    assert_eq!(r.body, vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0]);
}

#[test]
fn upstream_key_precedence_env_then_secrets_file() {
    let (amp, local) = (amp_mock(), local_mock());
    let home = scratch_dir("amp-home");
    let dir = home.join(".local/share/amp");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("secrets.json"),
        r#"{"apiKey@https://ampcode.com/":"file-key"}"#,
    )
    .unwrap();
    let home_s = home.to_str().unwrap();
    let cfg = config(&local, &amp_root(&amp), "");
    let check = |env: &[(&str, &str)], want: &str| {
        let srv = Server::start_env("epoll", 1, &cfg, &[], env);
        let r = srv.request("GET", "/api/user", &[("X-Api-Key", "client-a")], "");
        assert_eq!(r.status, 200);
        let got = amp.requests().pop().unwrap();
        assert_eq!(got.header("x-api-key"), Some(want));
        assert_eq!(
            got.header("authorization").unwrap(),
            format!("Bearer {want}")
        );
    };
    check(&[("HOME", home_s), ("AMP_API_KEY", "env-key")], "env-key");
    check(&[("HOME", home_s), ("AMP_API_KEY", "")], "file-key");
    // A new `amp login` (the file changes) is read at the next reload.
    let srv = Server::start_env(
        "epoll",
        1,
        &cfg,
        &[],
        &[("HOME", home_s), ("AMP_API_KEY", "")],
    );
    std::fs::write(
        dir.join("secrets.json"),
        r#"{"apiKey@https://ampcode.com/":"file-key-2"}"#,
    )
    .unwrap();
    std::fs::write(&srv.config_path, format!("{cfg}\n# touched\n")).unwrap();
    assert!(eventually(Duration::from_secs(10), || {
        srv.request("GET", "/api/user", &[("X-Api-Key", "client-a")], "");
        amp.requests()
            .pop()
            .and_then(|r| r.header("x-api-key").map(str::to_string))
            == Some("file-key-2".into())
    }));
    // upstream-api-key beats both; the client mapping beats that
    // (management_routes_proxied_with_the_amp_key).
    let cfg = config(&local, &amp_root(&amp), "  upstream-api-key: \"cfg-key\"\n");
    let srv = Server::start_env(
        "epoll",
        1,
        &cfg,
        &[],
        &[("HOME", home_s), ("AMP_API_KEY", "env-key")],
    );
    srv.request("GET", "/api/user", &[("X-Api-Key", "client-a")], "");
    assert_eq!(
        amp.requests().pop().unwrap().header("x-api-key"),
        Some("cfg-key")
    );
}

#[test]
fn provider_routes_local_first_then_mapping_then_amp() {
    for driver in DRIVERS {
        provider_routes_local_first_then_mapping_then_amp_on(driver);
    }
}

fn provider_routes_local_first_then_mapping_then_amp_on(driver: &str) {
    let (amp, local) = (amp_mock(), local_mock());
    let srv = Server::start(driver, 2, &config(&local, &amp_root(&amp), MAPPINGS), &[]);
    let a = bearer("client-a");
    let h = [("Authorization", a.as_str())];
    let chat = |model: &str| {
        serde_json::json!({"model": model, "messages":[{"role":"user","content":"hi"}]}).to_string()
    };

    // Local model: served locally, answer's model is the requested name.
    let r = srv.request(
        "POST",
        "/api/provider/openai/v1/chat/completions",
        &h,
        &chat("gpt-test"),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["model"], "gpt-test");
    assert_eq!(
        local.requests().pop().unwrap().json()["model"],
        "upstream-model"
    );
    assert!(amp.requests().is_empty());

    // Exact mapping (case-insensitive), the answer rewritten back and its
    // Content-Length fixed.
    let r = srv.request(
        "POST",
        "/api/provider/openai/chat/completions",
        &h,
        &chat("claude-opus-4"),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["model"], "claude-opus-4");
    assert_eq!(
        r.header("content-length").unwrap(),
        r.body.len().to_string()
    );
    assert_eq!(
        local.requests().pop().unwrap().json()["model"],
        "upstream-model"
    );

    // Thinking suffix carried through the mapping.
    let r = srv.request(
        "POST",
        "/api/provider/openai/v1/chat/completions",
        &h,
        &chat("claude-opus-4(high)"),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["model"], "claude-opus-4(high)");
    let sent = local.requests().pop().unwrap().json();
    assert_eq!(sent["model"], "upstream-model");
    assert_eq!(sent["reasoning_effort"], "high");

    // Regex mapping on the Gemini route (model in the URL).
    let r = srv.request(
        "POST",
        "/api/provider/google/v1beta/models/gemini-2.5-pro:generateContent",
        &h,
        r#"{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["modelVersion"], "gemini-2.5-pro");
    assert_eq!(
        local.requests().pop().unwrap().json()["model"],
        "upstream-model"
    );
    // The same through Amp's Vertex-style bridge path.
    let r = srv.request(
        "POST",
        "/api/provider/google/v1beta1/publishers/google/models/gemini-2.5-flash:generateContent",
        &h,
        r#"{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["modelVersion"], "gemini-2.5-flash");
    assert_eq!(
        local.requests().pop().unwrap().json()["model"],
        "upstream-model"
    );
    assert!(amp.requests().is_empty(), "nothing went to Amp so far");

    // Unknown model on the messages route: forwarded to Amp, with the
    // Amp key and the body sanitised (#12).
    let body = r#"{"model":"claude-unknown","messages":[{"role":"assistant","content":[{"type":"thinking","thinking":"drop","signature":" "},{"type":"text","text":"keep"}]}]}"#;
    let r = srv.request(
        "POST",
        "/api/provider/anthropic/v1/messages",
        &[
            ("Authorization", a.as_str()),
            ("Anthropic-Beta", "context-1m-2025-08-07"),
        ],
        body,
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["amp"], true);
    let got = amp.requests().pop().unwrap();
    assert_eq!(got.path, "/api/provider/anthropic/v1/messages");
    assert_eq!(got.header("authorization"), Some("Bearer amp-config-key"));
    assert_eq!(
        got.header("anthropic-beta"),
        Some("context-1m-2025-08-07"),
        "kept for Amp"
    );
    let sent = got.json();
    assert_eq!(sent["messages"][0]["content"].as_array().unwrap().len(), 1);
    assert_eq!(sent["messages"][0]["content"][0]["text"], "keep");

    // Unknown model on the chat and Gemini routes: Amp too.
    srv.request(
        "POST",
        "/api/provider/openai/v1/chat/completions",
        &h,
        &chat("amp-only"),
    );
    assert_eq!(
        amp.requests().pop().unwrap().path,
        "/api/provider/openai/v1/chat/completions"
    );
    srv.request(
        "POST",
        "/api/provider/google/v1beta/models/amp-only:streamGenerateContent?alt=sse",
        &h,
        "{}",
    );
    assert_eq!(
        amp.requests().pop().unwrap().path,
        "/api/provider/google/v1beta/models/amp-only:streamGenerateContent?alt=sse"
    );
    // The provider routes need the client key.
    assert_eq!(
        srv.request(
            "POST",
            "/api/provider/openai/v1/chat/completions",
            &[],
            &chat("gpt-test")
        )
        .status,
        401
    );
}

#[test]
fn messages_route_locally_filters_beta_and_sanitises() {
    let amp = amp_mock();
    let claude = Mock::start(|r| {
        let model = r.json()["model"].as_str().unwrap_or("").to_string();
        json_reply(
            200,
            &serde_json::json!({"id":"msg_1","type":"message","role":"assistant","model":model,
                "content":[{"type":"thinking","thinking":"t"},{"type":"tool_use","id":"tu","name":"Bash","input":{}}],
                "stop_reason":"tool_use","usage":{"input_tokens":1,"output_tokens":1}})
            .to_string(),
        )
    });
    let cfg = format!(
        "api-keys: [\"client-a\"]\nauth-dir: ./auths\nclaude-api-key:\n  - api-key: ck\n    base-url: \"{}\"\n    models: [{{name: claude-up, alias: claude-local}}]\nampcode:\n  upstream-url: \"{}\"\n",
        claude.base_url(),
        amp_root(&amp)
    );
    let srv = Server::start("epoll", 1, &cfg, &[]);
    let body = r#"{"model":"claude-local","max_tokens":10,"messages":[{"role":"assistant","content":[{"type":"thinking","thinking":"drop"},{"type":"tool_use","id":"x","name":"Bash","input":{},"signature":""}]},{"role":"user","content":"go"}]}"#;
    let r = srv.request(
        "POST",
        "/api/provider/anthropic/v1/messages",
        &[
            ("X-Api-Key", "client-a"),
            ("Anthropic-Beta", "context-1m-2025-08-07,tools-2024-04-04"),
        ],
        body,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let got = claude.requests().pop().unwrap();
    // context-1m filtered; the OAuth beta is added as CLIProxyAPI's Claude
    // executor adds it to every credential's list.
    assert_eq!(
        got.header("anthropic-beta"),
        Some("tools-2024-04-04,oauth-2025-04-20")
    );
    let sent = got.json();
    let content = sent["messages"][0]["content"].as_array().unwrap();
    assert_eq!(content.len(), 1, "{sent}");
    assert!(content[0].get("signature").is_none());
    // Claude provider: thinking kept, signatures injected, model rewritten.
    let v = r.json();
    assert_eq!(v["model"], "claude-local");
    assert_eq!(v["content"][0]["signature"], "");
    assert_eq!(v["content"][1]["signature"], "");
    assert!(amp.requests().is_empty());
}

#[test]
fn streamed_local_answer_is_rewritten() {
    let amp = amp_mock();
    let local = Mock::start(|_| sse_reply(chunks("upstream-model", &["a", "b"])));
    let cfg = config(&local, &amp_root(&amp), MAPPINGS);
    let srv = Server::start("epoll", 1, &cfg, &[]);
    let mut s = srv.connect();
    let body =
        r#"{"model":"claude-opus-4","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
    s.write_all(&raw_request(
        "POST",
        "/api/provider/openai/v1/chat/completions",
        &[("X-Api-Key", "client-a")],
        body,
    ))
    .unwrap();
    let mut r = BufReader::new(s);
    let resp = read_response(&mut r, false).unwrap();
    assert_eq!(resp.status, 200);
    let events = sse_json(&resp.body);
    assert!(!events.is_empty());
    for e in events {
        assert_eq!(e["model"], "claude-opus-4");
    }
    assert_eq!(stream_text(&resp.body), "ab");
}

#[test]
fn force_mappings_and_hot_reload() {
    let (amp, local) = (amp_mock(), local_mock());
    let extra = "  upstream-api-key: \"k1\"\n  force-model-mappings: true\n  model-mappings:\n    - {from: gpt-test, to: other-local}\n";
    let srv = Server::start("epoll", 1, &config(&local, &amp_root(&amp), extra), &[]);
    let chat = r#"{"model":"gpt-test","messages":[{"role":"user","content":"hi"}]}"#;
    let h = [("X-Api-Key", "client-a")];
    let r = srv.request("POST", "/api/provider/openai/v1/chat/completions", &h, chat);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        local.requests().pop().unwrap().json()["model"],
        "other-upstream"
    );
    assert_eq!(r.json()["model"], "gpt-test");

    // Reload: mappings no longer forced, another Amp key.
    let extra =
        "  upstream-api-key: \"k2\"\n  model-mappings:\n    - {from: gpt-test, to: other-local}\n";
    std::fs::write(&srv.config_path, config(&local, &amp_root(&amp), extra)).unwrap();
    assert!(eventually(Duration::from_secs(10), || {
        srv.request("GET", "/api/user", &h, "");
        amp.requests()
            .pop()
            .and_then(|r| r.header("x-api-key").map(str::to_string))
            == Some("k2".into())
    }));
    srv.request("POST", "/api/provider/openai/v1/chat/completions", &h, chat);
    assert_eq!(
        local.requests().pop().unwrap().json()["model"],
        "upstream-model"
    );

    // Upstream off: management routes 503, unknown models answered locally.
    std::fs::write(&srv.config_path, config(&local, "", "")).unwrap();
    assert!(eventually(Duration::from_secs(10), || {
        srv.request("GET", "/api/user", &h, "").status == 503
    }));
    let r = srv.request(
        "POST",
        "/api/provider/openai/v1/chat/completions",
        &h,
        r#"{"model":"nope","messages":[]}"#,
    );
    assert_eq!(r.status, 400, "{}", r.text());
}

/// A non-loopback address of this machine, if it has one (the test of the
/// refusal needs a peer that is not 127.0.0.1).
fn non_loopback_ip() -> Option<std::net::IpAddr> {
    // The route to a documentation address picks the machine's own
    // outgoing address; UDP connect sends nothing.
    let s = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    s.connect("192.0.2.1:9").ok()?;
    let ip = s.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[test]
fn restricted_management_routes_refuse_non_loopback_peers() {
    let Some(ip) = non_loopback_ip() else {
        eprintln!("no non-loopback address on this machine; refusal not testable here");
        return;
    };
    let (amp, local) = (amp_mock(), local_mock());
    let yaml = format!(
        "port: 0\nhost: \"0.0.0.0\"\n{}",
        config(&local, &amp_root(&amp), MAPPINGS)
    );
    let srv = Server::start("epoll", 1, &yaml, &[]);
    let addr = std::net::SocketAddr::new(ip, srv.addr.port());
    let ask = |path: &str| {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        s.write_all(&raw_request("GET", path, &[("X-Api-Key", "client-a")], ""))
            .unwrap();
        read_response(&mut BufReader::new(s), false).unwrap()
    };
    let r = ask("/api/user");
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(
        r.json()["error"],
        "Access denied: management routes restricted to localhost"
    );
    assert_eq!(ask("/threads").status, 403);
    assert!(amp.requests().is_empty());
    // Provider routes are not management routes.
    let chat = r#"{"model":"gpt-test","messages":[{"role":"user","content":"hi"}]}"#;
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.write_all(&raw_request(
        "POST",
        "/api/provider/openai/v1/chat/completions",
        &[("X-Api-Key", "client-a")],
        chat,
    ))
    .unwrap();
    assert_eq!(
        read_response(&mut BufReader::new(s), false).unwrap().status,
        200
    );
    // Loopback peers pass.
    assert_eq!(
        srv.request("GET", "/api/user", &[("X-Api-Key", "client-a")], "")
            .status,
        200
    );
}

#[test]
fn proxied_requests_lose_tracing_and_fingerprint_headers() {
    let (amp, local) = (amp_mock(), local_mock());
    let srv = Server::start("epoll", 1, &config(&local, &amp_root(&amp), MAPPINGS), &[]);
    let r = srv.request(
        "GET",
        "/api/meta/x",
        &[
            ("X-Api-Key", "client-a"),
            ("Accept-Encoding", "gzip, br"),
            ("X-Forwarded-For", "10.0.0.1"),
            ("X-Stainless-Os", "Linux"),
            ("Referer", "http://x"),
            ("X-Amp-Thread", "kept"),
        ],
        "",
    );
    assert_eq!(r.status, 200);
    let got = amp.requests().pop().unwrap();
    for h in [
        "accept-encoding",
        "x-forwarded-for",
        "x-stainless-os",
        "referer",
    ] {
        assert!(got.header(h).is_none(), "{h} forwarded");
    }
    assert_eq!(got.header("x-amp-thread"), Some("kept"));
    let host = amp_root(&amp);
    assert_eq!(got.header("host"), host.strip_prefix("http://"));
}

#[test]
fn nonstream_keepalive_then_rewritten_answer() {
    let (gate_tx, gate_rx) = std::sync::mpsc::channel::<()>();
    let gate = std::sync::Mutex::new(gate_rx);
    let local = Mock::start(move |r| {
        // Hold the answer until the test saw a keep-alive newline.
        let _ = gate.lock().unwrap().recv_timeout(Duration::from_secs(20));
        let model = r.json()["model"].as_str().unwrap_or("").to_string();
        json_reply(200, &completion(&model, "thought long"))
    });
    let amp = amp_mock();
    let mut yaml = config(&local, &amp_root(&amp), MAPPINGS);
    yaml.push_str("nonstream-keepalive-interval: 1\n");
    let srv = Server::start("epoll", 1, &yaml, &[]);
    let mut s = srv.connect();
    s.write_all(&raw_request(
        "POST",
        "/api/provider/openai/v1/chat/completions",
        &[("X-Api-Key", "client-a")],
        r#"{"model":"claude-opus-4","messages":[]}"#,
    ))
    .unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let (status, _) = read_head(&mut r).unwrap();
    assert_eq!(status, 200);
    assert_eq!(read_chunk(&mut r).unwrap().unwrap(), b"\n");
    gate_tx.send(()).unwrap();
    let mut body = Vec::new();
    while let Some(c) = read_chunk(&mut r).unwrap() {
        body.extend(c);
    }
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        v["model"], "claude-opus-4",
        "rewritten after the early commit"
    );
    assert_eq!(v["choices"][0]["message"]["content"], "thought long");
    s.write_all(&raw_request("GET", "/healthz", &[], ""))
        .unwrap();
    assert_eq!(read_response(&mut r, false).unwrap().status, 200);
}
