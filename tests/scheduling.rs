//! Credential scheduling through the real server: cooldowns shared by every
//! core, failover before the first streamed byte and never after it.

mod common;
use common::*;
use std::time::Duration;

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

/// Two openai-compatibility entries on one mock: `other` (model
/// `other-model`, upstream `up-other`) with `other_keys`, then `mock` (model
/// `gpt-test`, upstream `up-mock`) with `keys`.
fn two_entry_config(base_url: &str, other_keys: &[&str], keys: &[&str]) -> String {
    let list = |ks: &[&str]| -> String {
        ks.iter()
            .map(|k| format!("      - api-key: \"{k}\"\n"))
            .collect()
    };
    format!(
        "api-keys: [\"sk-client-1\"]\nopenai-compatibility:\n\
         \x20 - name: other\n    base-url: \"{base_url}\"\n    api-key-entries:\n{}    models:\n      - name: up-other\n        alias: other-model\n\
         \x20 - name: mock\n    base-url: \"{base_url}\"\n    api-key-entries:\n{}    models:\n      - name: up-mock\n        alias: gpt-test\n",
        list(other_keys),
        list(keys)
    )
}

#[test]
fn a_reload_that_moves_credentials_keeps_each_lease_on_its_own_key() {
    // The attempt maps a lease to its provider and key by array position.
    // A reload that shrinks the first entry moves `mock`'s key `k1` to
    // another position (same credential id) and adds `k2` after it: every
    // request must still carry a key of the model's own entry.
    let mock = Mock::start(|_| json_reply(200, &completion("m", "ok")));
    let srv = Server::start(
        "epoll",
        2,
        &two_entry_config(&mock.base_url(), &["o1", "o2"], &["k1"]),
        &[],
    );
    let post = |model: &str| {
        let body =
            format!(r#"{{"model":"{model}","messages":[{{"role":"user","content":"hi"}}]}}"#);
        let resp = srv.request("POST", "/v1/chat/completions", &[AUTH], &body);
        assert_eq!(resp.status, 200, "{model}: {}", resp.text());
    };
    for _ in 0..4 {
        post("gpt-test");
    }
    assert_eq!(hits(&mock, "k1"), 4);
    std::fs::write(
        &srv.config_path,
        two_entry_config(&mock.base_url(), &["o1"], &["k1", "k2"]),
    )
    .unwrap();
    assert!(
        eventually(Duration::from_secs(10), || {
            post("gpt-test");
            hits(&mock, "k2") > 0
        }),
        "the reload never served k2: {}",
        srv.log_text()
    );
    let before = mock.requests().len();
    for _ in 0..8 {
        post("gpt-test");
        post("other-model");
    }
    let reqs = mock.requests();
    let after: Vec<(String, Option<&str>)> = reqs[before..]
        .iter()
        .map(|r| {
            let model = r.json()["model"].as_str().unwrap_or("").to_string();
            (model, r.header("authorization"))
        })
        .collect();
    assert_eq!(after.len(), 16);
    for (model, auth) in &after {
        // Each entry's model goes out with that entry's keys only.
        let ok = match model.as_str() {
            "up-mock" => matches!(*auth, Some("Bearer k1" | "Bearer k2")),
            "up-other" => *auth == Some("Bearer o1"),
            _ => false,
        };
        assert!(ok, "{model} sent with {auth:?}");
    }
    // gpt-test rotates over both of its keys; other-model keeps its one key.
    let count = |key: &str| after.iter().filter(|(_, a)| *a == Some(key)).count();
    assert_eq!(count("Bearer o1"), 8);
    assert_eq!(count("Bearer k1") + count("Bearer k2"), 8);
    assert!(count("Bearer k1") > 0 && count("Bearer k2") > 0);
}

#[test]
fn headers_collected_once_serve_affinity_and_payload_rules_on_every_attempt() {
    // The client's header list is collected once per request and feeds both
    // the session key and the `payload` header conditions, on every attempt:
    // the first attempt fails (500), the next key answers; both bodies carry the
    // rule's edit, and a request without the header carries none.
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let mock = Mock::start(move |_| {
        if calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            json_reply(500, r#"{"error":{"message":"boom"}}"#)
        } else {
            json_reply(200, &completion("m", "ok"))
        }
    });
    let yaml = format!(
        "{}routing:\n  session-affinity: true\npayload:\n  override: [{{models: [{{name: \"upstream-*\", headers: {{X-Tier: \"gold\"}}}}], params: {{tier_param: 7}}}}]\n",
        compat_config(&mock.base_url(), &["sk-client-1"], &["a", "b"])
    );
    let srv = Server::start("epoll", 1, &yaml, &[]);
    let gold = srv.request(
        "POST",
        "/v1/chat/completions",
        &[AUTH, ("X-Tier", "gold"), ("X-Session-Id", "s-1")],
        &chat_body(false),
    );
    assert_eq!(gold.status, 200, "{}", gold.text());
    let reqs = mock.requests();
    assert_eq!(reqs.len(), 2, "the 500 failed over to the other key");
    assert_ne!(
        reqs[0].header("authorization"),
        reqs[1].header("authorization")
    );
    for r in &reqs {
        assert_eq!(r.json()["tier_param"], 7, "every attempt edited");
    }
    let plain = srv.request("POST", "/v1/chat/completions", &[AUTH], &chat_body(false));
    assert_eq!(plain.status, 200, "{}", plain.text());
    let reqs = mock.requests();
    let last = reqs.last().expect("a request");
    assert!(
        last.json().get("tier_param").is_none(),
        "no header, no edit"
    );
}
