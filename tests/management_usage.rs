//! `/v0/management/usage` (v6.9) through the real binary: the numbers match
//! the requests sent, tokens come from the upstream usage fields (whole and
//! streamed), failures count, export/import round-trips, and nothing is
//! counted while `usage-statistics-enabled` is off.

mod common;
use common::mgmt::{chunks_with_usage, KEY};
use common::*;
use serde_json::json;
use sha2::Digest;
use std::time::Duration;

fn script(r: &Recorded) -> Reply {
    let body = r.json();
    if body["messages"][0]["content"] == "fail" {
        return json_reply(500, r#"{"error":{"message":"boom"}}"#);
    }
    if body["stream"] == json!(true) {
        return sse_reply(chunks_with_usage("upstream-model", &["a", "b"], 10, 20));
    }
    json_reply(200, &completion("upstream-model", "hi"))
}

fn start(mock: &Mock, enabled: bool) -> Server {
    let yaml = format!(
        "{}request-retry: 0\nusage-statistics-enabled: {enabled}\nremote-management:\n  secret-key: \"{KEY}\"\n",
        compat_config(&mock.base_url(), &[CLIENT_KEY], &["up-key"])
    );
    Server::start("epoll", 2, &yaml, &[])
}

fn chat(srv: &Server, content: &str, stream: bool) -> Resp {
    let body =
        json!({"model":"gpt-test","stream":stream,"messages":[{"role":"user","content":content}]});
    srv.request(
        "POST",
        "/v1/chat/completions",
        &[CLIENT_AUTH, ("Content-Type", "application/json")],
        &body.to_string(),
    )
}

fn mgmt(srv: &Server, method: &str, path: &str, body: &str) -> Resp {
    srv.request(
        method,
        &format!("/v0/management{path}"),
        &[("X-Management-Key", KEY)],
        body,
    )
}

#[test]
fn usage_counts_requests_and_upstream_tokens() {
    let mock = Mock::start(script);
    let srv = start(&mock, true);
    assert_eq!(chat(&srv, "hi", false).status, 200);
    assert_eq!(chat(&srv, "hi", true).status, 200);
    assert_ne!(chat(&srv, "fail", false).status, 200);

    let mut snap = json!(null);
    assert!(
        eventually(Duration::from_secs(10), || {
            snap = mgmt(&srv, "GET", "/usage", "").json();
            snap["usage"]["total_requests"] == 3
        }),
        "{snap}"
    );
    let u = &snap["usage"];
    assert_eq!(u["success_count"], 2);
    assert_eq!(u["failure_count"], 1);
    assert_eq!(snap["failed_requests"], 1);
    // 3+2 from the whole answer, 10+20 from the stream's usage chunk.
    assert_eq!(u["total_tokens"], 35);
    let api = &u["apis"][CLIENT_KEY];
    assert_eq!(api["total_requests"], 3);
    let model = &api["models"]["gpt-test"];
    assert_eq!(model["total_requests"], 3);
    assert_eq!(model["total_tokens"], 35);
    let details = model["details"].as_array().unwrap();
    assert_eq!(details.len(), 3);
    let mut tokens: Vec<(i64, i64, bool)> = details
        .iter()
        .map(|d| {
            (
                d["tokens"]["input_tokens"].as_i64().unwrap(),
                d["tokens"]["output_tokens"].as_i64().unwrap(),
                d["failed"].as_bool().unwrap(),
            )
        })
        .collect();
    // Workers' records merge in any order.
    tokens.sort();
    assert_eq!(tokens, vec![(0, 0, true), (3, 2, false), (10, 20, false)]);
    // The same auth-index the provider section's GET shows for the entry.
    let section = mgmt(&srv, "GET", "/openai-compatibility", "").json();
    let seed = format!("openai-compatibility:{}+up-key", mock.base_url());
    let digest = sha2::Sha256::digest(seed.as_bytes());
    let want: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    for d in details {
        assert_eq!(d["source"], "mock");
        assert_eq!(d["auth_index"], want, "{section}");
        assert!(d["timestamp"].as_str().unwrap().ends_with('Z'));
    }
    let days = u["requests_by_day"].as_object().unwrap();
    assert_eq!(days.values().map(|v| v.as_i64().unwrap()).sum::<i64>(), 3);
    let hours = u["tokens_by_hour"].as_object().unwrap();
    assert_eq!(hours.values().map(|v| v.as_i64().unwrap()).sum::<i64>(), 35);

    // Export, then import into the same server: everything is a duplicate.
    let export = mgmt(&srv, "GET", "/usage/export", "");
    assert_eq!(export.status, 200);
    let exported = export.json();
    assert_eq!(exported["usage"]["total_requests"], 3);
    let r = mgmt(&srv, "POST", "/usage/import", &exported.to_string());
    assert_eq!(r.json(), json!({"added": 0, "skipped": 3}));
    // A fresh server takes them all.
    let other = start(&mock, true);
    let r = mgmt(&other, "POST", "/usage/import", &exported.to_string());
    assert_eq!(r.json(), json!({"added": 3, "skipped": 0}));
    let snap = mgmt(&other, "GET", "/usage", "").json();
    assert_eq!(snap["usage"]["total_tokens"], 35);
    let r = mgmt(&other, "POST", "/usage/import", "not json");
    assert_eq!(r.status, 400);
}

#[test]
fn nothing_is_counted_while_disabled() {
    let mock = Mock::start(script);
    let srv = start(&mock, false);
    assert_eq!(chat(&srv, "hi", false).status, 200);
    assert_eq!(chat(&srv, "hi", true).status, 200);
    // Enable through the management API: later requests count.
    let r = mgmt(
        &srv,
        "PUT",
        "/usage-statistics-enabled",
        r#"{"value":true}"#,
    );
    assert_eq!(r.status, 200);
    assert!(eventually(Duration::from_secs(10), || {
        chat(&srv, "hi", false);
        mgmt(&srv, "GET", "/usage", "").json()["usage"]["total_requests"]
            .as_i64()
            .unwrap_or(0)
            > 0
    }));
    let snap = mgmt(&srv, "GET", "/usage", "").json();
    let n = snap["usage"]["total_requests"].as_i64().unwrap();
    // Only requests after the switch: each counted one carried 5 tokens.
    assert_eq!(snap["usage"]["total_tokens"].as_i64().unwrap(), 5 * n);
}
