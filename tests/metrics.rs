//! `GET /metrics` through the real binary: the numbers match the requests
//! sent (status classes, errors, histogram counts, tokens), the route is
//! guarded by the management key unless `metrics.public`, and it is a 404
//! while `metrics.enabled` is off.

mod common;
use common::mgmt::{chunks_with_usage, KEY};
use common::*;
use serde_json::json;
use std::collections::HashMap;
use std::time::Duration;

fn script(r: &Recorded) -> Reply {
    let body = r.json();
    if body["messages"][0]["content"] == "fail" {
        return json_reply(503, r#"{"error":{"message":"down"}}"#);
    }
    if body["stream"] == json!(true) {
        return sse_reply(chunks_with_usage("upstream-model", &["a", "b"], 7, 9));
    }
    json_reply(200, &completion("upstream-model", "hi"))
}

fn start(mock: &Mock, extra: &str) -> Server {
    let yaml = format!(
        "{}request-retry: 0\n{extra}",
        compat_config(&mock.base_url(), &[CLIENT_KEY], &["up-key"])
    );
    Server::start("epoll", 2, &yaml, &[])
}

fn chat(srv: &Server, model: &str, content: &str, stream: bool) -> Resp {
    let body =
        json!({"model":model,"stream":stream,"messages":[{"role":"user","content":content}]});
    srv.request(
        "POST",
        "/v1/chat/completions",
        &[CLIENT_AUTH, ("Content-Type", "application/json")],
        &body.to_string(),
    )
}

/// Sample lines as `name{labels}` -> value.
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}

/// The one sample whose key starts with `name{` and contains every label.
fn value(s: &HashMap<String, f64>, name: &str, labels: &[&str]) -> f64 {
    let hits: Vec<(&String, &f64)> = s
        .iter()
        .filter(|(k, _)| {
            k.starts_with(&format!("{name}{{")) && labels.iter().all(|l| k.contains(l))
        })
        .collect();
    assert_eq!(hits.len(), 1, "{name} {labels:?}: {hits:?}");
    *hits[0].1
}

#[test]
fn metrics_match_the_requests_sent() {
    let mock = Mock::start(script);
    let srv = start(
        &mock,
        &format!("metrics:\n  enabled: true\nremote-management:\n  secret-key: \"{KEY}\"\n"),
    );
    for _ in 0..3 {
        assert_eq!(chat(&srv, "gpt-test", "hi", false).status, 200);
    }
    assert_eq!(chat(&srv, "gpt-test", "hi", true).status, 200);
    let scrape = || {
        srv.request(
            "GET",
            "/metrics",
            &[("Authorization", &format!("Bearer {KEY}"))],
            "",
        )
    };
    // A request is counted after its answer is written and its credential's
    // result reported; a client can have the last byte of a stream before
    // that. The failure below must come after the four successes' reports
    // (a success clears a cooldown), so wait for them to be counted.
    assert!(eventually(Duration::from_secs(10), || {
        let s = samples(&scrape().text());
        s.iter()
            .filter(|(k, _)| k.starts_with("cliproxy_request_duration_seconds_count{"))
            .map(|(_, v)| *v)
            .sum::<f64>()
            == 4.0
    }));
    // One failure: it also cools the only credential down (sent last).
    assert_eq!(chat(&srv, "gpt-test", "fail", false).status, 503);
    assert_eq!(chat(&srv, "no-such-model", "hi", false).status, 400);

    // Guarded by the management key.
    assert_eq!(srv.request("GET", "/metrics", &[], "").status, 401);
    assert_eq!(
        srv.request("GET", "/metrics", &[("Authorization", "Bearer wrong")], "")
            .status,
        401
    );
    let first = scrape();
    assert_eq!(first.status, 200);
    assert_eq!(
        first.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    // A request is counted after its answer is written: poll.
    let mock_l = "provider=\"mock\",model=\"gpt-test\"";
    let mut text = String::new();
    assert!(
        eventually(Duration::from_secs(10), || {
            text = scrape().text();
            let s = samples(&text);
            s.iter()
                .filter(|(k, _)| k.starts_with("cliproxy_request_duration_seconds_count{"))
                .map(|(_, v)| *v)
                .sum::<f64>()
                == 6.0
        }),
        "{text}"
    );
    let s = samples(&text);
    let ok = ["provider=\"mock\"", "status_class=\"2xx\""];
    assert_eq!(value(&s, "cliproxy_requests_total", &ok), 4.0, "{text}");
    let bad = ["provider=\"mock\"", "status_class=\"5xx\""];
    assert_eq!(value(&s, "cliproxy_requests_total", &bad), 1.0);
    assert_eq!(value(&s, "cliproxy_errors_total", &[mock_l]), 1.0);
    assert_eq!(
        value(&s, "cliproxy_request_duration_seconds_count", &[mock_l]),
        5.0
    );
    assert_eq!(value(&s, "cliproxy_ttfb_seconds_count", &[mock_l]), 5.0);
    assert_eq!(
        value(
            &s,
            "cliproxy_request_duration_seconds_bucket",
            &[mock_l, "le=\"+Inf\""]
        ),
        5.0
    );
    // Three whole answers of 3 in / 2 out, one stream of 7 in / 9 out.
    assert_eq!(
        value(&s, "cliproxy_tokens_total", &[mock_l, "direction=\"out\""]),
        3.0 * 2.0 + 9.0
    );
    assert_eq!(
        value(&s, "cliproxy_tokens_total", &[mock_l, "direction=\"in\""]),
        3.0 * 3.0 + 7.0
    );
    // The unknown model: no provider, a 4xx.
    let unknown = [
        "provider=\"\"",
        "model=\"no-such-model\"",
        "status_class=\"4xx\"",
    ];
    assert_eq!(value(&s, "cliproxy_requests_total", &unknown), 1.0);
    // The credential label is the key's auth_index, never the key.
    assert!(!text.contains("up-key") && !text.contains(CLIENT_KEY));
    for g in [
        "cliproxy_cooldowns_active",
        "cliproxy_model_cooldowns_active",
        "cliproxy_token_refreshes_ok_total",
        "cliproxy_token_refreshes_failed_total",
        "cliproxy_upstream_pool_idle",
        "cliproxy_log_jobs_dropped_total",
    ] {
        assert!(s.contains_key(g), "no {g}: {text}");
    }
    // The 503 cooled the only credential (or its model) down.
    assert!(s["cliproxy_model_cooldowns_active"] + s["cliproxy_cooldowns_active"] >= 1.0);
}

#[test]
fn metrics_route_is_404_when_off_and_open_when_public() {
    let mock = Mock::start(script);
    let off = start(
        &mock,
        &format!("remote-management:\n  secret-key: \"{KEY}\"\n"),
    );
    let r = off.request("GET", "/metrics", &[("X-Management-Key", KEY)], "");
    assert_eq!(r.status, 404);
    drop(off);

    let public = start(&mock, "metrics:\n  enabled: true\n  public: true\n");
    assert_eq!(chat(&public, "gpt-test", "hi", false).status, 200);
    let mut text = String::new();
    assert!(
        eventually(Duration::from_secs(10), || {
            let r = public.request("GET", "/metrics", &[], "");
            assert_eq!(r.status, 200);
            text = r.text();
            text.contains("status_class=\"2xx\"} 1")
        }),
        "{text}"
    );
    // Management off and metrics not public: no route.
    let private = start(&mock, "metrics:\n  enabled: true\n");
    assert_eq!(private.request("GET", "/metrics", &[], "").status, 404);
}
