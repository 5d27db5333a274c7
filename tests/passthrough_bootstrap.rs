//! `passthrough-headers` and `streaming.bootstrap-retries` through the real
//! binary against a scripted mock upstream.
//!
//! Headers: forwarded only with the key on (and after a hot reload turns it
//! on), on plain and translated answers, stream and non-stream; filtered ones
//! never; cliproxy's own headers never overwritten; an upstream HTTP error
//! carries the upstream `Retry-After` only, the error of a stream broken
//! before its first byte that answer's headers.
//!
//! Bootstrap retries: the mock counts its calls. A stream whose 2xx answer
//! breaks before its first byte is dispatched again up to the configured
//! number of times; HTTP errors, non-stream requests and failures after the
//! first byte are not.

mod common;
use common::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Headers the mock adds to every successful answer: some must reach the
/// client, the others never.
fn upstream_headers() -> Vec<(String, String)> {
    [
        ("X-Request-Id", "req-42"),
        ("openai-processing-ms", "17"),
        ("Cache-Control", "max-age=7"),
        ("Vary", "Origin"),
        ("Vary", "Accept"),
        ("Set-Cookie", "session=secret"),
        ("Connection", "X-Hop"),
        ("X-Hop", "hop-value"),
        ("Keep-Alive", "timeout=5"),
        ("Access-Control-Allow-Origin", "https://upstream.example"),
        ("X-CPA-Trace-Id", "upstream-trace"),
        ("x-litellm-model-id", "gw"),
    ]
    .iter()
    .map(|(n, v)| (n.to_string(), v.to_string()))
    .collect()
}

/// A full 200 answer with `content_type`, `body` and the upstream headers.
fn full_200(content_type: &str, body: String) -> Reply {
    let mut headers = vec![("Content-Type".to_string(), content_type.to_string())];
    headers.extend(upstream_headers());
    Reply::Full {
        status: 200,
        headers,
        body: body.into_bytes(),
    }
}

/// The mock: chat answers (SSE when the request streams) with the
/// upstream headers.
fn header_mock() -> Mock {
    Mock::start(|r| {
        let model = r.json()["model"].as_str().unwrap_or("m").to_string();
        if r.json()["stream"].as_bool() == Some(true) {
            full_200("text/event-stream", chunks(&model, &["Hel", "lo"]).concat())
        } else {
            full_200("application/json", completion(&model, "Hello"))
        }
    })
}

fn values<'a>(resp: &'a Resp, name: &str) -> Vec<&'a str> {
    resp.headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect()
}

/// Asserts what `passthrough-headers: true` lets through on a successful
/// answer whose own `Content-Type` is `content_type`.
#[track_caller]
fn assert_forwarded(resp: &Resp, content_type: &str, stream: bool, what: &str) {
    assert_eq!(resp.status, 200, "{what}: {}", resp.text());
    assert_eq!(values(resp, "X-Request-Id"), ["req-42"], "{what}");
    assert_eq!(values(resp, "openai-processing-ms"), ["17"], "{what}");
    assert_eq!(values(resp, "Vary"), ["Origin", "Accept"], "{what}");
    for never in [
        "Set-Cookie",
        "X-Hop",
        "Keep-Alive",
        "X-CPA-Trace-Id",
        "x-litellm-model-id",
    ] {
        assert!(values(resp, never).is_empty(), "{what}: {never} forwarded");
    }
    // cliproxy's own headers stay, once.
    assert_eq!(values(resp, "Access-Control-Allow-Origin"), ["*"], "{what}");
    let ct = values(resp, "Content-Type");
    assert_eq!(ct.len(), 1, "{what}: {ct:?}");
    assert!(ct[0].starts_with(content_type), "{what}: {ct:?}");
    let cc = values(resp, "Cache-Control");
    if stream {
        assert_eq!(
            cc,
            ["no-cache"],
            "{what}: a stream keeps its own Cache-Control"
        );
    } else {
        assert_eq!(
            cc,
            ["max-age=7"],
            "{what}: forwarded when cliproxy sets none"
        );
    }
    assert!(
        values(resp, "Connection")
            .iter()
            .all(|v| !v.contains("X-Hop")),
        "{what}"
    );
    assert!(values(resp, "Content-Length").len() <= 1, "{what}");
}

#[track_caller]
fn assert_not_forwarded(resp: &Resp, what: &str) {
    assert_eq!(resp.status, 200, "{what}: {}", resp.text());
    for name in ["X-Request-Id", "openai-processing-ms", "Vary", "Set-Cookie"] {
        assert!(
            values(resp, name).is_empty(),
            "{what}: {name} forwarded with the key off"
        );
    }
}

fn claude_body(stream: bool) -> serde_json::Value {
    serde_json::json!({
        "model": "gpt-test", "max_tokens": 16, "stream": stream,
        "messages": [{"role": "user", "content": "hi"}]
    })
}

both_drivers!(
    passthrough_headers_on_plain_and_translated_answers,
    |driver| {
        let mock = header_mock();
        let yaml =
            compat_config(&mock.base_url(), &[CLIENT_KEY], &["k"]) + "passthrough-headers: true\n";
        let srv = Server::start(driver, 1, &yaml, &[]);

        // Same format both sides: the plain relay.
        for stream in [false, true] {
            let resp = srv.request(
                "POST",
                "/v1/chat/completions",
                &[CLIENT_AUTH],
                &chat_body(stream),
            );
            let ct = if stream {
                "text/event-stream"
            } else {
                "application/json"
            };
            assert_forwarded(&resp, ct, stream, &format!("chat stream={stream}"));
            if stream {
                assert_eq!(stream_text(&resp.body), "Hello");
            } else {
                assert_eq!(resp.json()["choices"][0]["message"]["content"], "Hello");
            }
        }
        // A Claude client on the OpenAI-compatible upstream: translated.
        for stream in [false, true] {
            let resp = post_as(
                &srv,
                Client::Claude,
                "gpt-test",
                stream,
                &claude_body(stream),
            );
            let ct = if stream {
                "text/event-stream"
            } else {
                "application/json"
            };
            assert_forwarded(&resp, ct, stream, &format!("claude stream={stream}"));
            if !stream {
                assert_eq!(resp.json()["content"][0]["text"], "Hello");
            } else {
                assert!(resp.text().contains("message_stop"), "{}", resp.text());
            }
        }
        assert_eq!(mock.requests().len(), 4);
    }
);

#[test]
fn passthrough_headers_off_by_default_and_hot_reloaded() {
    let mock = header_mock();
    let base = compat_config(&mock.base_url(), &[CLIENT_KEY], &["k"]);
    let srv = Server::start("epoll", 1, &base, &[]);
    for stream in [false, true] {
        let resp = srv.request(
            "POST",
            "/v1/chat/completions",
            &[CLIENT_AUTH],
            &chat_body(stream),
        );
        assert_not_forwarded(&resp, &format!("chat stream={stream}"));
        let resp = post_as(
            &srv,
            Client::Claude,
            "gpt-test",
            stream,
            &claude_body(stream),
        );
        assert_not_forwarded(&resp, &format!("claude stream={stream}"));
    }
    // The key is read per request from the live config: a reload turns it on.
    std::fs::write(
        &srv.config_path,
        base.clone() + "passthrough-headers: true\n",
    )
    .unwrap();
    let on = eventually(Duration::from_secs(10), || {
        let resp = srv.request(
            "POST",
            "/v1/chat/completions",
            &[CLIENT_AUTH],
            &chat_body(false),
        );
        !values(&resp, "X-Request-Id").is_empty()
    });
    assert!(
        on,
        "reload did not turn passthrough-headers on: {}",
        srv.log_text()
    );
    let resp = srv.request(
        "POST",
        "/v1/chat/completions",
        &[CLIENT_AUTH],
        &chat_body(true),
    );
    assert_forwarded(&resp, "text/event-stream", true, "after reload");
    // And off again.
    std::fs::write(&srv.config_path, base).unwrap();
    let off = eventually(Duration::from_secs(10), || {
        let resp = srv.request(
            "POST",
            "/v1/chat/completions",
            &[CLIENT_AUTH],
            &chat_body(false),
        );
        values(&resp, "X-Request-Id").is_empty()
    });
    assert!(off, "reload did not turn passthrough-headers off");
}

#[test]
fn upstream_error_carries_retry_after_but_no_other_upstream_header() {
    let mock = Mock::start(|_| {
        let mut headers = vec![
            ("Content-Type".to_string(), "application/json".to_string()),
            ("Retry-After".to_string(), "7".to_string()),
        ];
        headers.extend(upstream_headers());
        Reply::Full {
            status: 429,
            headers,
            body: br#"{"error":{"message":"slow down","type":"rate_limit_error"}}"#.to_vec(),
        }
    });
    let yaml = compat_config(&mock.base_url(), &[CLIENT_KEY], &["k"])
        + "passthrough-headers: true\nrequest-retry: 0\n";
    let srv = Server::start("epoll", 1, &yaml, &[]);
    let resp = srv.request(
        "POST",
        "/v1/chat/completions",
        &[CLIENT_AUTH],
        &chat_body(true),
    );
    assert_eq!(resp.status, 429, "{}", resp.text());
    assert_eq!(values(&resp, "Retry-After"), ["7"]);
    assert_eq!(resp.json()["error"]["message"], "slow down");
    for name in ["X-Request-Id", "Vary", "Set-Cookie", "Cache-Control"] {
        assert!(values(&resp, name).is_empty(), "{name} on an error answer");
    }
    assert_eq!(values(&resp, "Access-Control-Allow-Origin"), ["*"]);
}

// ---------------------------------------------------------------- bootstrap retries

/// How the counting mock's failing calls fail.
#[derive(Clone, Copy)]
enum Fail {
    /// 200 head, then the connection drops before any body byte.
    BeforeFirstByte,
    /// 200 head and one event, then the connection drops.
    AfterFirstByte,
    /// An HTTP 500 answer.
    Http500,
}

/// A mock whose first `failures` calls fail as `how`, then answer a good
/// stream (or completion); returns it and its call counter.
fn counting_mock(failures: usize, how: Fail) -> (Mock, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let mock = Mock::start(move |r| {
        let n = c.fetch_add(1, Ordering::SeqCst);
        let stream = r.json()["stream"].as_bool() == Some(true);
        if n < failures {
            return match how {
                Fail::BeforeFirstByte => Reply::Sse {
                    events: vec![],
                    gate_at: None,
                    gate: None,
                    end: SseEnd::Drop,
                },
                Fail::AfterFirstByte => Reply::Sse {
                    events: chunks("upstream-model", &["partial"])[..1].to_vec(),
                    gate_at: None,
                    gate: None,
                    end: SseEnd::Drop,
                },
                Fail::Http500 => {
                    json_reply(500, r#"{"error":{"message":"boom","type":"server_error"}}"#)
                }
            };
        }
        if stream {
            sse_reply(chunks("upstream-model", &["Hel", "lo"]))
        } else {
            json_reply(200, &completion("upstream-model", "Hello"))
        }
    });
    (mock, calls)
}

/// One OpenAI-compatible key, cooling off (so a re-dispatch may pick the
/// same credential again), `extra` config lines appended.
fn bootstrap_server(driver: &str, mock: &Mock, extra: &str) -> Server {
    let yaml =
        compat_config(&mock.base_url(), &[CLIENT_KEY], &["k"]) + "disable-cooling: true\n" + extra;
    Server::start(driver, 1, &yaml, &[])
}

fn retries(k: u32) -> String {
    format!("streaming:\n  bootstrap-retries: {k}\n")
}

both_drivers!(
    bootstrap_retries_recover_a_stream_that_failed_before_its_first_byte,
    |driver| {
        // Two failures before the first byte; two retries are enough.
        let (mock, calls) = counting_mock(2, Fail::BeforeFirstByte);
        let srv = bootstrap_server(driver, &mock, &retries(2));
        let resp = srv.request(
            "POST",
            "/v1/chat/completions",
            &[CLIENT_AUTH],
            &chat_body(true),
        );
        assert_eq!(resp.status, 200, "{}", resp.text());
        assert_eq!(stream_text(&resp.body), "Hello");
        assert_eq!(
            calls.load(Ordering::SeqCst),
            3,
            "1 dispatch + 2 bootstrap retries"
        );
    }
);

#[test]
fn bootstrap_retries_zero_answers_the_error_after_one_dispatch() {
    let (mock, calls) = counting_mock(2, Fail::BeforeFirstByte);
    let srv = bootstrap_server("epoll", &mock, "request-retry: 3\n");
    let resp = srv.request(
        "POST",
        "/v1/chat/completions",
        &[CLIENT_AUTH],
        &chat_body(true),
    );
    assert_eq!(resp.status, 500, "{}", resp.text());
    assert!(resp.header("content-type").unwrap().contains("json"));
    assert!(
        resp.json()["error"]["message"].is_string(),
        "{}",
        resp.text()
    );
    // A failure of unknown status starts no retry round either.
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn bootstrap_retries_fewer_than_failures_answer_the_last_error() {
    let (mock, calls) = counting_mock(3, Fail::BeforeFirstByte);
    let srv = bootstrap_server("epoll", &mock, &retries(2));
    let resp = srv.request(
        "POST",
        "/v1/chat/completions",
        &[CLIENT_AUTH],
        &chat_body(true),
    );
    assert_eq!(resp.status, 500, "{}", resp.text());
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "1 dispatch + 2 bootstrap retries"
    );
    // The next request meets the recovered upstream.
    let resp = srv.request(
        "POST",
        "/v1/chat/completions",
        &[CLIENT_AUTH],
        &chat_body(true),
    );
    assert_eq!(stream_text(&resp.body), "Hello");
    assert_eq!(calls.load(Ordering::SeqCst), 4);
}

#[test]
fn bootstrap_retries_never_retry_after_the_first_byte() {
    let (mock, calls) = counting_mock(1, Fail::AfterFirstByte);
    let srv = bootstrap_server("epoll", &mock, &retries(3));
    let resp = srv.request(
        "POST",
        "/v1/chat/completions",
        &[CLIENT_AUTH],
        &chat_body(true),
    );
    assert_eq!(resp.status, 200);
    let text = resp.text();
    assert!(text.contains("partial"), "{text}");
    assert!(!text.contains("Hel"), "no second answer spliced in: {text}");
    assert!(text.contains("upstream stream interrupted"), "{text}");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn bootstrap_retries_leave_http_errors_and_non_stream_requests_to_the_retry_rules() {
    // An HTTP 500 is the retry plan's: with request-retry 0 the client sees it.
    let (mock, calls) = counting_mock(1, Fail::Http500);
    let srv = bootstrap_server("epoll", &mock, &(retries(3) + "request-retry: 0\n"));
    let resp = srv.request(
        "POST",
        "/v1/chat/completions",
        &[CLIENT_AUTH],
        &chat_body(true),
    );
    assert_eq!(resp.status, 500, "{}", resp.text());
    assert_eq!(resp.json()["error"]["message"], "boom");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    drop(srv);

    // With request-retry 1 the plan's own second round recovers it.
    let (mock, calls) = counting_mock(1, Fail::Http500);
    let srv = bootstrap_server("epoll", &mock, &(retries(0) + "request-retry: 1\n"));
    let resp = srv.request(
        "POST",
        "/v1/chat/completions",
        &[CLIENT_AUTH],
        &chat_body(true),
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    drop(srv);

    // A non-stream request is never bootstrap-retried.
    let (mock, calls) = counting_mock(1, Fail::BeforeFirstByte);
    let srv = bootstrap_server("epoll", &mock, &retries(3));
    let resp = srv.request(
        "POST",
        "/v1/chat/completions",
        &[CLIENT_AUTH],
        &chat_body(false),
    );
    assert_eq!(resp.status, 500, "{}", resp.text());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn bootstrap_retry_finding_no_credential_answers_the_original_error() {
    // Cooling on: the failed key cools down (transient), so the re-dispatch
    // finds no credential; the client gets the original 500, not a 429/503.
    let (mock, calls) = counting_mock(1, Fail::BeforeFirstByte);
    let yaml = compat_config(&mock.base_url(), &[CLIENT_KEY], &["k"]) + &retries(2);
    let srv = Server::start("epoll", 1, &yaml, &[]);
    let resp = srv.request(
        "POST",
        "/v1/chat/completions",
        &[CLIENT_AUTH],
        &chat_body(true),
    );
    assert_eq!(resp.status, 500, "{}", resp.text());
    assert_ne!(
        resp.json()["error"]["code"],
        "model_cooldown",
        "{}",
        resp.text()
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn bootstrap_retries_cover_every_key_again() {
    // Two keys, each failing once before the first byte: the first dispatch
    // tries both (round 0), the retry dispatch succeeds on the first it picks.
    let (mock, calls) = counting_mock(2, Fail::BeforeFirstByte);
    let yaml = compat_config(&mock.base_url(), &[CLIENT_KEY], &["k1", "k2"])
        + "disable-cooling: true\n"
        + &retries(1);
    let srv = Server::start("epoll", 1, &yaml, &[]);
    let resp = srv.request(
        "POST",
        "/v1/chat/completions",
        &[CLIENT_AUTH],
        &chat_body(true),
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(stream_text(&resp.body), "Hello");
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let keys: Vec<String> = mock
        .requests()
        .iter()
        .map(|r| r.header("authorization").unwrap_or("").to_string())
        .collect();
    assert_eq!(
        keys[0..2].iter().filter(|k| k.ends_with("k1")).count(),
        1,
        "{keys:?}"
    );
    assert_eq!(
        keys[0..2].iter().filter(|k| k.ends_with("k2")).count(),
        1,
        "{keys:?}"
    );
}

// ---------------------------------------------------------------- headers of a broken answer

/// A mock whose first `failures` calls send a 200 SSE head with
/// `X-Request-Id: fail-N` and close before any body byte; later calls a good
/// stream with `X-Request-Id: ok-N`.
fn broken_head_mock(failures: usize) -> (Mock, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let mock = Mock::start(move |_| {
        let n = c.fetch_add(1, Ordering::SeqCst);
        if n < failures {
            return Reply::Raw {
                bytes: format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\nX-Request-Id: fail-{n}\r\nSet-Cookie: s=1\r\n\r\n"
                )
                .into_bytes(),
            };
        }
        let mut headers = vec![("Content-Type".to_string(), "text/event-stream".to_string())];
        headers.push(("X-Request-Id".into(), format!("ok-{n}")));
        Reply::Full {
            status: 200,
            headers,
            body: chunks("upstream-model", &["Hel", "lo"])
                .concat()
                .into_bytes(),
        }
    });
    (mock, calls)
}

#[test]
fn bootstrap_retry_answers_with_the_new_answers_headers() {
    let (mock, calls) = broken_head_mock(1);
    let srv = bootstrap_server(
        "epoll",
        &mock,
        &(retries(1) + "passthrough-headers: true\n"),
    );
    let resp = srv.request(
        "POST",
        "/v1/chat/completions",
        &[CLIENT_AUTH],
        &chat_body(true),
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(stream_text(&resp.body), "Hello");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(values(&resp, "X-Request-Id"), ["ok-1"]);
}

#[test]
fn stream_broken_before_its_first_byte_errors_with_that_answers_headers() {
    // CLIProxyAPI keeps the broken stream's headers on the error it answers.
    let (mock, calls) = broken_head_mock(1);
    let srv = bootstrap_server("epoll", &mock, "passthrough-headers: true\n");
    let resp = srv.request(
        "POST",
        "/v1/chat/completions",
        &[CLIENT_AUTH],
        &chat_body(true),
    );
    assert_eq!(resp.status, 500, "{}", resp.text());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(values(&resp, "X-Request-Id"), ["fail-0"]);
    assert!(values(&resp, "Set-Cookie").is_empty());
    assert_eq!(values(&resp, "Content-Type").len(), 1);
    assert!(resp.json()["error"]["message"].is_string());
    drop(srv);

    // Without the key: the same error, no upstream header.
    let (mock, _) = broken_head_mock(1);
    let srv = bootstrap_server("epoll", &mock, "");
    let resp = srv.request(
        "POST",
        "/v1/chat/completions",
        &[CLIENT_AUTH],
        &chat_body(true),
    );
    assert_eq!(resp.status, 500, "{}", resp.text());
    assert!(values(&resp, "X-Request-Id").is_empty());
}
