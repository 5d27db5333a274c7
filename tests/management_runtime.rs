//! Runtime credential state through the management API, real binary and a
//! scripted TLS mock of the provider: an upstream 429 shows as a cooldown
//! in `/auth-files`, `/reset-quota` clears it and the next request reaches
//! that credential again; `/api-call` substitutes the credential's fresh
//! token for `$TOKEN$` and answers `{status_code, header, body}`.

mod common;

use common::mgmt::{call, start_with_accounts, KEY};
use common::*;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const HOSTS: [&str; 2] = ["api.anthropic.com", "console.anthropic.com"];
const MODEL: &str = "claude-sonnet-4-6";

fn claude_file(token: &str, expired: &str) -> String {
    json!({
        "type": "claude",
        "email": "rt@example.com",
        "access_token": token,
        "refresh_token": "rt-1",
        "expired": expired,
        "last_refresh": "2026-01-01T00:00:00Z"
    })
    .to_string()
}

fn message() -> Reply {
    json_reply(200, &claude_message(MODEL, "ok"))
}

fn chat_status(srv: &Server) -> u16 {
    chat_hi(srv, MODEL, false).status
}

fn soon(f: impl FnMut() -> bool) -> bool {
    eventually(Duration::from_secs(20), f)
}

fn entry(srv: &Server) -> Value {
    call(srv, "GET", "/auth-files", "").json()["files"][0].clone()
}

fn messages_seen(mock: &Mock) -> usize {
    mock.requests()
        .iter()
        .filter(|r| r.path.starts_with("/v1/messages"))
        .count()
}

/// Waits until a request is refused without reaching the provider: the
/// cooldown holds. (Should a reload race the 429's bookkeeping, the next
/// request meets the 429 again and the loop goes on.)
fn cooldown_holds(srv: &Server, mock: &Mock) -> bool {
    soon(|| {
        let before = messages_seen(mock);
        chat_status(srv) != 200 && messages_seen(mock) == before
    })
}

#[test]
fn a_429_cooldown_shows_in_auth_files_and_reset_quota_clears_it() {
    let limited = Arc::new(AtomicBool::new(false));
    let l = limited.clone();
    let mock = Mock::start_tls_named(&HOSTS, move |r| {
        match r.path.split('?').next().unwrap_or("") {
            "/v1/messages" if l.load(Ordering::SeqCst) => Reply::Full {
                status: 429,
                headers: vec![
                    ("Content-Type".into(), "application/json".into()),
                    ("Retry-After".into(), "3600".into()),
                ],
                body:
                    br#"{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}"#
                        .to_vec(),
            },
            "/v1/messages" => message(),
            _ => json_reply(404, "{}"),
        }
    });
    let auth = scratch_dir("mgmt-rt-auth");
    std::fs::write(
        auth.join("claude-rt.json"),
        claude_file("at-rt", "2099-01-01T00:00:00Z"),
    )
    .unwrap();
    let srv = start_with_accounts(&mock, &auth, &HOSTS, "mgmt-rt-ca");
    assert!(soon(|| chat_status(&srv) == 200));
    let e = entry(&srv);
    assert_eq!(e["status"], "active", "{e}");
    assert_eq!(e["unavailable"], false);
    assert!(e.get("model_states").is_none(), "{e}");
    assert_eq!(e["next_refresh_after"], "2098-12-31T20:00:00Z", "{e}");
    let idx = e["auth_index"].as_str().unwrap().to_string();

    // The provider limits the account: the request fails and the account
    // cools down for the hinted hour.
    limited.store(true, Ordering::SeqCst);
    assert_eq!(chat_status(&srv), 429);
    // While it cools down no request reaches the provider.
    assert!(cooldown_holds(&srv, &mock));
    let e = entry(&srv);
    assert_eq!(e["status"], "error", "{e}");
    assert_eq!(e["status_message"], "quota exhausted");
    assert_eq!(e["quota"]["exceeded"], true, "{e}");
    assert_eq!(e["quota"]["reason"], "quota");
    let retry = e["next_retry_after"].as_str().expect("next_retry_after");
    assert!(retry > "2026-", "{retry}");
    let ms = &e["model_states"][MODEL];
    assert_eq!(ms["status"], "error", "{e}");
    assert_eq!(ms["unavailable"], true);
    assert_eq!(ms["status_message"], "quota exhausted");
    assert_eq!(ms["next_retry_after"], retry);
    assert_eq!(ms["quota"]["exceeded"], true);

    // Errors of the route.
    for (body, status, msg) in [
        ("nope", 400, "invalid request body"),
        ("{}", 400, "auth_index is required"),
        (
            r#"{"auth_index":"0000000000000000"}"#,
            404,
            "auth not found",
        ),
    ] {
        let r = call(&srv, "POST", "/reset-quota", body);
        assert_eq!(
            (r.status, r.json()),
            (status, json!({"error": msg})),
            "{body}"
        );
    }

    // Reset: cleared on every core, the next request reaches the account.
    limited.store(false, Ordering::SeqCst);
    let r = call(
        &srv,
        "POST",
        "/reset-quota",
        &json!({"auth_index": idx}).to_string(),
    );
    assert_eq!(
        (r.status, r.json()),
        (
            200,
            json!({"status": "ok", "auth_index": idx, "models": [MODEL]})
        )
    );
    let e = entry(&srv);
    assert_eq!(e["status"], "active", "{e}");
    assert_eq!(e["unavailable"], false);
    assert!(e.get("model_states").is_none(), "{e}");
    // Two workers: both see the cleared state.
    for _ in 0..4 {
        assert_eq!(chat_status(&srv), 200);
    }
    let last = mock
        .requests()
        .into_iter()
        .rfind(|r| r.path.starts_with("/v1/messages"))
        .unwrap();
    assert_eq!(last.header("authorization"), Some("Bearer at-rt"));
}

#[test]
fn api_call_sends_the_fresh_token_through_the_credential() {
    let mock = Mock::start_tls_named(&HOSTS, |r| match r.path.split('?').next().unwrap_or("") {
        // The account's token has expired: a refresh comes first.
        "/v1/oauth/token" => json_reply(
            200,
            &json!({"access_token": "at-fresh", "refresh_token": "rt-2", "expires_in": 28800,
                "account": {"email_address": "rt@example.com"}})
            .to_string(),
        ),
        "/api/oauth/usage" => Reply::Full {
            status: 200,
            headers: vec![
                ("Content-Type".into(), "application/json".into()),
                ("x-quota-left".into(), "42".into()),
            ],
            body: br#"{"five_hour":{"utilization":12}}"#.to_vec(),
        },
        _ => json_reply(404, "{}"),
    });
    let auth = scratch_dir("mgmt-rt-api");
    std::fs::write(
        auth.join("claude-rt.json"),
        claude_file("at-stale", "2020-01-01T00:00:00Z"),
    )
    .unwrap();
    let srv = start_with_accounts(&mock, &auth, &HOSTS, "mgmt-rt-ca");
    let mut idx = String::new();
    assert!(soon(|| {
        idx = entry(&srv)["auth_index"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        !idx.is_empty()
    }));
    // The account is loaded once a request can use it.
    assert!(soon(|| {
        call(&srv, "GET", "/auth-files/models?name=claude-rt.json", "").json()["models"]
            .as_array()
            .is_some_and(|m| !m.is_empty())
    }));
    // `/auth-files/models` takes the index too.
    let by_name = call(&srv, "GET", "/auth-files/models?name=claude-rt.json", "").json();
    let by_index = call(
        &srv,
        "GET",
        &format!("/auth-files/models?auth_index={idx}"),
        "",
    )
    .json();
    assert_eq!(by_name, by_index);
    let body = json!({
        "auth_index": idx,
        "method": "get",
        "url": "https://api.anthropic.com/api/oauth/usage",
        "header": {"Authorization": "Bearer $TOKEN$", "anthropic-beta": "oauth-2025-04-20"},
    });
    let r = call(&srv, "POST", "/api-call", &body.to_string());
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["status_code"], 200);
    assert_eq!(v["body"], r#"{"five_hour":{"utilization":12}}"#);
    assert_eq!(v["header"]["X-Quota-Left"], json!(["42"]));
    assert_eq!(v["header"]["Content-Type"], json!(["application/json"]));
    let seen = mock
        .requests()
        .into_iter()
        .rfind(|r| r.path == "/api/oauth/usage")
        .unwrap();
    assert_eq!(seen.method, "GET");
    assert_eq!(seen.header("authorization"), Some("Bearer at-fresh"));
    assert_eq!(seen.header("anthropic-beta"), Some("oauth-2025-04-20"));

    // A POST with a body; an unknown index leaves `$TOKEN$` alone.
    let body = json!({
        "auth_index": "ffffffffffffffff",
        "method": "POST",
        "url": "https://api.anthropic.com/api/oauth/usage",
        "header": {"Authorization": "Bearer $TOKEN$"},
        "data": "{\"q\":1}",
    });
    let r = call(&srv, "POST", "/api-call", &body.to_string());
    assert_eq!(r.json()["status_code"], 200);
    let seen = mock
        .requests()
        .into_iter()
        .rfind(|r| r.path == "/api/oauth/usage")
        .unwrap();
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.body, br#"{"q":1}"#);
    assert_eq!(seen.header("authorization"), Some("Bearer $TOKEN$"));

    // The request's `proxy_url` is used: a dead proxy fails the call,
    // `direct` goes straight to the upstream.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_port = dead.local_addr().unwrap().port();
    drop(dead);
    let mut body = json!({
        "method": "GET",
        "url": "https://api.anthropic.com/api/oauth/usage",
        "proxy_url": format!("http://127.0.0.1:{dead_port}"),
    });
    let r = call(&srv, "POST", "/api-call", &body.to_string());
    assert_eq!(
        (r.status, r.json()),
        (502, json!({"error": "request failed"}))
    );
    body["proxy_url"] = json!("direct");
    let r = call(&srv, "POST", "/api-call", &body.to_string());
    assert_eq!(r.json()["status_code"], 200, "{}", r.text());
    body["proxy_url"] = json!("::not a proxy::");
    let r = call(&srv, "POST", "/api-call", &body.to_string());
    assert_eq!(
        (r.status, r.json()),
        (400, json!({"error": "invalid proxy_url"}))
    );

    // Bad bodies and an unreachable upstream.
    for (body, status, msg) in [
        (json!({"url": "https://x"}), 400, "missing method"),
        (json!({"method": "GET"}), 400, "missing url"),
        (
            json!({"method": "GET", "url": "not a url"}),
            400,
            "invalid url",
        ),
    ] {
        let r = call(&srv, "POST", "/api-call", &body.to_string());
        assert_eq!(
            (r.status, r.json()),
            (status, json!({"error": msg})),
            "{body}"
        );
    }
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let r = call(
        &srv,
        "POST",
        "/api-call",
        &json!({"method": "GET", "url": format!("http://127.0.0.1:{port}/x")}).to_string(),
    );
    assert_eq!(
        (r.status, r.json()),
        (502, json!({"error": "request failed"}))
    );
}

#[test]
fn an_api_key_is_found_by_the_auth_index_its_section_shows() {
    let limited = Arc::new(AtomicBool::new(false));
    let l = limited.clone();
    let mock = Mock::start(move |r| match r.path.split('?').next().unwrap_or("") {
        "/v1/messages" if l.load(Ordering::SeqCst) => Reply::Full {
            status: 429,
            headers: vec![("Retry-After".into(), "3600".into())],
            body: br#"{"type":"error","error":{"type":"rate_limit_error","message":"x"}}"#.to_vec(),
        },
        "/v1/messages" => message(),
        _ => json_reply(200, r#"{"probe":true}"#),
    });
    let yaml = format!(
        "api-keys: [\"{CLIENT_KEY}\"]\nremote-management:\n  secret-key: \"{KEY}\"\nclaude-api-key:\n  - api-key: \"ck-live\"\n    base-url: \"http://{}\"\n",
        mock.addr
    );
    let srv = Server::start("epoll", 2, &yaml, &[]);
    let list = call(&srv, "GET", "/claude-api-key", "").json();
    let idx = list["claude-api-key"][0]["auth-index"]
        .as_str()
        .expect("auth-index")
        .to_string();

    // `$TOKEN$` of an API key is the key.
    let body = json!({"auth_index": idx, "method": "GET", "url": format!("http://{}/probe", mock.addr),
        "header": {"x-api-key": "$TOKEN$"}});
    let r = call(&srv, "POST", "/api-call", &body.to_string());
    assert_eq!(r.json()["body"], r#"{"probe":true}"#, "{}", r.text());
    let seen = mock
        .requests()
        .into_iter()
        .rfind(|r| r.path.ends_with("/probe"))
        .unwrap_or_else(|| panic!("{:?}", mock.requests()));
    assert_eq!(seen.header("x-api-key"), Some("ck-live"));

    // Its cooldown is cleared by that index too.
    assert_eq!(chat_status(&srv), 200);
    limited.store(true, Ordering::SeqCst);
    assert_eq!(chat_status(&srv), 429);
    assert!(cooldown_holds(&srv, &mock), "cooling down");
    let before = messages_seen(&mock);
    limited.store(false, Ordering::SeqCst);
    let r = call(
        &srv,
        "POST",
        "/reset-quota",
        &json!({"auth_index": idx}).to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["models"], json!([MODEL]), "{}", srv.log_text());
    assert_eq!(chat_status(&srv), 200);
    assert_eq!(messages_seen(&mock), before + 1);
}
