//! Credential scheduling through the real server: cooldowns shared by every
//! core, failover before the first streamed byte and never after it.

mod common;
use common::*;

const AUTH: (&str, &str) = ("Authorization", "Bearer sk-client-1");

fn hits(mock: &Mock, key: &str) -> usize {
    let want = format!("Bearer {key}");
    mock.requests()
        .iter()
        .filter(|r| r.header("authorization") == Some(want.as_str()))
        .count()
}

#[test]
fn a_429_cools_the_key_on_every_core() {
    for driver in DRIVERS {
        let mock = Mock::start(|r| {
            if r.header("authorization") == Some("Bearer limited") {
                Reply::Full {
                    status: 429,
                    headers: vec![("Retry-After".into(), "30".into())],
                    body:
                        br#"{"error":{"message":"Rate limit reached","type":"rate_limit_error"}}"#
                            .to_vec(),
                }
            } else {
                json_reply(200, &completion("m", "ok"))
            }
        });
        let srv = Server::start(
            driver,
            2,
            &compat_config(&mock.base_url(), &["sk-client-1"], &["limited", "good"]),
            &[],
        );
        // Fresh connections spread over both workers (SO_REUSEPORT).
        for i in 0..16 {
            let resp = srv.request(
                "POST",
                "/v1/chat/completions",
                &[AUTH],
                &chat_body(i % 2 == 0),
            );
            assert_eq!(resp.status, 200, "{driver} request {i}: {}", resp.text());
        }
        assert_eq!(
            hits(&mock, "limited"),
            1,
            "{driver}: the cooling key was tried again"
        );
        assert_eq!(hits(&mock, "good"), 16);
        // The first attempt of the request that hit the 429 was followed by the good key.
        let reqs = mock.requests();
        let i = reqs
            .iter()
            .position(|r| r.header("authorization") == Some("Bearer limited"))
            .unwrap();
        assert_eq!(reqs[i + 1].header("authorization"), Some("Bearer good"));
    }
}

#[test]
fn every_key_cooling_answers_429_model_cooldown() {
    let mock = Mock::start(|_| Reply::Full {
        status: 429,
        headers: vec![("Retry-After".into(), "120".into())],
        body: br#"{"error":{"message":"slow down"}}"#.to_vec(),
    });
    let srv = Server::start(
        "epoll",
        1,
        &compat_config(&mock.base_url(), &["sk-client-1"], &["only"]),
        &[],
    );
    let first = srv.request("POST", "/v1/chat/completions", &[AUTH], &chat_body(false));
    assert_eq!(first.status, 429);
    let second = srv.request("POST", "/v1/chat/completions", &[AUTH], &chat_body(false));
    assert_eq!(second.status, 429);
    let v = second.json();
    assert_eq!(v["error"]["code"], "model_cooldown", "{v}");
    let ra: u64 = second.header("retry-after").unwrap().parse().unwrap();
    assert!((100..=120).contains(&ra), "Retry-After {ra}");
    assert_eq!(mock.requests().len(), 1, "a cooling key was sent a request");
}

#[test]
fn stream_failing_before_first_byte_fails_over() {
    for driver in DRIVERS {
        let mock = Mock::start(|r| {
            if r.header("authorization") == Some("Bearer broken") {
                // 200 head, then the connection drops before any event.
                Reply::Sse {
                    events: vec![],
                    gate_at: None,
                    gate: None,
                    end: SseEnd::Drop,
                }
            } else {
                sse_reply(chunks("m", &["recovered"]))
            }
        });
        let srv = Server::start(
            driver,
            1,
            &compat_config(&mock.base_url(), &["sk-client-1"], &["broken", "fine"]),
            &[],
        );
        for _ in 0..2 {
            let resp = srv.request("POST", "/v1/chat/completions", &[AUTH], &chat_body(true));
            assert_eq!(resp.status, 200);
            assert_eq!(stream_text(&resp.body), "recovered", "{driver}");
            assert_eq!(
                sse_data(&resp.body).last().map(String::as_str),
                Some("[DONE]")
            );
        }
        assert_eq!(hits(&mock, "broken"), 1, "{driver}");
    }
}

#[test]
fn stream_failing_after_first_byte_does_not_fail_over() {
    for driver in DRIVERS {
        let mock = Mock::start(|_| Reply::Sse {
            events: chunks("m", &["half"])[..1].to_vec(),
            gate_at: None,
            gate: None,
            end: SseEnd::Drop,
        });
        let srv = Server::start(
            driver,
            1,
            &compat_config(&mock.base_url(), &["sk-client-1"], &["a", "b"]),
            &[],
        );
        let resp = srv.request("POST", "/v1/chat/completions", &[AUTH], &chat_body(true));
        assert_eq!(resp.status, 200);
        assert_eq!(stream_text(&resp.body), "half");
        let last: serde_json::Value =
            serde_json::from_str(sse_data(&resp.body).last().unwrap()).unwrap();
        assert!(last["error"].is_object(), "{driver}: {last}");
        assert_eq!(
            mock.requests().len(),
            1,
            "{driver}: failed over after the first byte"
        );
    }
}

#[test]
fn request_invalid_stops_without_trying_other_keys() {
    let mock = Mock::start(|_| {
        json_reply(
            400,
            r#"{"error":{"message":"bad","type":"invalid_request_error"}}"#,
        )
    });
    let srv = Server::start(
        "epoll",
        1,
        &compat_config(&mock.base_url(), &["sk-client-1"], &["a", "b", "c"]),
        &[],
    );
    let resp = srv.request("POST", "/v1/chat/completions", &[AUTH], &chat_body(false));
    assert_eq!(resp.status, 400);
    assert_eq!(resp.json()["error"]["message"], "bad");
    assert_eq!(mock.requests().len(), 1);
    // No cooldown: the next request reaches the upstream again.
    let _ = srv.request("POST", "/v1/chat/completions", &[AUTH], &chat_body(false));
    assert_eq!(mock.requests().len(), 2);
}
