//! `/v0/management` per-channel OAuth maps (`oauth-excluded-models`,
//! `oauth-model-alias`, `oauth-request-scoped-errors`) and
//! `/model-definitions/:channel` through the real binary: each route's shape
//! and status codes, the config file after each edit, and the edit acting on
//! a Claude OAuth account's models in `/v1/models`.

mod common;
use common::mgmt::{call, ok, KEY};
use common::*;
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

fn err(r: &Resp, status: u16, msg: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    assert_eq!(r.json()["error"], msg, "{}", r.text());
}

/// The section `key` of the config file as JSON (Null when absent).
fn file_section(srv: &Server, key: &str) -> Value {
    let text = std::fs::read_to_string(&srv.config_path).unwrap();
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    doc.get(key)
        .map(|v| serde_json::to_value(v).unwrap())
        .unwrap_or(Value::Null)
}

fn model_ids(srv: &Server) -> Vec<String> {
    let r = srv.request("GET", "/v1/models", &[CLIENT_AUTH], "");
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["id"].as_str().map(String::from))
        .collect()
}

fn start_with_claude_account(extra: &str) -> Server {
    let auth = scratch_dir("oauth-maps-auth");
    std::fs::write(
        auth.join("claude-a.json"),
        r#"{"type":"claude","access_token":"x","refresh_token":"r","expired":"2099-01-01T00:00:00Z"}"#,
    )
    .unwrap();
    let yaml = format!(
        "api-keys: [\"{CLIENT_KEY}\"]\nauth-dir: \"{}\"\nremote-management:\n  secret-key: \"{KEY}\"\n{extra}",
        auth.display()
    );
    Server::start("epoll", 1, &yaml, &[])
}

fn has(ids: &[String], id: &str) -> bool {
    ids.iter().any(|i| i == id)
}

fn wait_for(srv: &Server, what: &str, f: impl Fn(&[String]) -> bool) {
    assert!(
        eventually(Duration::from_secs(10), || f(&model_ids(srv))),
        "{what}: {:?}\n{}",
        model_ids(srv),
        srv.log_text()
    );
}

#[test]
fn oauth_excluded_models_routes_edit_the_file_and_hide_models() {
    // A comment elsewhere in the file survives the section rewrite.
    let srv = start_with_claude_account("# keep me\ndebug: false\n");
    let ids = model_ids(&srv);
    assert!(has(&ids, "claude-opus-5"), "{ids:?}");
    assert!(has(&ids, "claude-sonnet-5"), "{ids:?}");

    let r = call(&srv, "GET", "/oauth-excluded-models", "");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), json!({"oauth-excluded-models": {}}));

    // PATCH one channel: patterns trimmed, lower-cased, deduplicated.
    ok(&call(
        &srv,
        "PATCH",
        "/oauth-excluded-models",
        r#"{"provider":" Claude ","models":[" CLAUDE-OPUS-5 ","claude-opus-5",""]}"#,
    ));
    assert_eq!(
        file_section(&srv, "oauth-excluded-models"),
        json!({"claude": ["claude-opus-5"]})
    );
    let text = std::fs::read_to_string(&srv.config_path).unwrap();
    assert!(text.contains("# keep me"), "{text}");
    wait_for(&srv, "claude-opus-5 still listed", |ids| {
        !has(ids, "claude-opus-5") && has(ids, "claude-sonnet-5")
    });
    assert_eq!(
        call(&srv, "GET", "/oauth-excluded-models", "").json(),
        json!({"oauth-excluded-models": {"claude": ["claude-opus-5"]}})
    );

    // PUT replaces the map (bare object or {"items": ...}); wildcards work.
    ok(&call(
        &srv,
        "PUT",
        "/oauth-excluded-models",
        r#"{"items":{"claude":["claude-sonnet-*"],"codex":["gpt-5.4"]}}"#,
    ));
    assert_eq!(
        file_section(&srv, "oauth-excluded-models"),
        json!({"claude": ["claude-sonnet-*"], "codex": ["gpt-5.4"]})
    );
    wait_for(&srv, "the PUT map is not applied", |ids| {
        has(ids, "claude-opus-5") && !has(ids, "claude-sonnet-5")
    });

    // DELETE ?provider= removes the channel; unknown → 404; missing → 400.
    ok(&call(
        &srv,
        "DELETE",
        "/oauth-excluded-models?provider=claude",
        "",
    ));
    assert_eq!(
        file_section(&srv, "oauth-excluded-models"),
        json!({"codex": ["gpt-5.4"]})
    );
    wait_for(&srv, "claude-sonnet-5 not back", |ids| {
        has(ids, "claude-sonnet-5")
    });
    err(
        &call(&srv, "DELETE", "/oauth-excluded-models?provider=claude", ""),
        404,
        "provider not found",
    );
    err(
        &call(&srv, "DELETE", "/oauth-excluded-models", ""),
        400,
        "missing provider",
    );

    // PATCH with an empty list removes the channel (404 when absent).
    ok(&call(
        &srv,
        "PATCH",
        "/oauth-excluded-models",
        r#"{"provider":"codex","models":[]}"#,
    ));
    assert_eq!(file_section(&srv, "oauth-excluded-models"), json!({}));
    err(
        &call(
            &srv,
            "PATCH",
            "/oauth-excluded-models",
            r#"{"provider":"codex","models":[]}"#,
        ),
        404,
        "provider not found",
    );

    // Bad bodies change nothing.
    let before = std::fs::read_to_string(&srv.config_path).unwrap();
    for (m, body, msg) in [
        ("PATCH", r#"{"models":["x"]}"#, "invalid body"),
        (
            "PATCH",
            r#"{"provider":"  ","models":["x"]}"#,
            "invalid provider",
        ),
        (
            "PATCH",
            r#"{"provider":"claude","models":"x"}"#,
            "invalid body",
        ),
        ("PATCH", "not json", "invalid body"),
        ("PUT", r#"["claude"]"#, "invalid body"),
        ("PUT", r#"{"claude":[1]}"#, "invalid body"),
    ] {
        err(&call(&srv, m, "/oauth-excluded-models", body), 400, msg);
    }
    assert_eq!(std::fs::read_to_string(&srv.config_path).unwrap(), before);
}

#[test]
fn oauth_model_alias_routes_edit_the_file_and_rename_models() {
    let srv = start_with_claude_account("");
    assert_eq!(
        call(&srv, "GET", "/oauth-model-alias", "").json(),
        json!({"oauth-model-alias": {}})
    );

    // PATCH by `channel`: the alias replaces the original.
    ok(&call(
        &srv,
        "PATCH",
        "/oauth-model-alias",
        r#"{"channel":"CLAUDE","aliases":[{"name":"claude-opus-5","alias":"my-opus"}]}"#,
    ));
    assert_eq!(
        file_section(&srv, "oauth-model-alias"),
        json!({"claude": [{"name": "claude-opus-5", "alias": "my-opus"}]})
    );
    wait_for(&srv, "alias not applied", |ids| {
        has(ids, "my-opus") && !has(ids, "claude-opus-5")
    });

    // PATCH by `provider` with fork: both visible.
    ok(&call(
        &srv,
        "PATCH",
        "/oauth-model-alias",
        r#"{"provider":"claude","aliases":[{"name":"claude-opus-5","alias":"my-opus","fork":true}]}"#,
    ));
    wait_for(&srv, "fork not applied", |ids| {
        has(ids, "my-opus") && has(ids, "claude-opus-5")
    });
    assert_eq!(
        call(&srv, "GET", "/oauth-model-alias", "").json(),
        json!({"oauth-model-alias": {"claude": [
            {"name": "claude-opus-5", "alias": "my-opus", "fork": true}
        ]}})
    );

    // PUT replaces the whole map.
    ok(&call(
        &srv,
        "PUT",
        "/oauth-model-alias",
        r#"{"codex":[{"name":"gpt-5.5","alias":"g55"}]}"#,
    ));
    assert_eq!(
        file_section(&srv, "oauth-model-alias"),
        json!({"codex": [{"name": "gpt-5.5", "alias": "g55"}]})
    );
    wait_for(&srv, "the claude alias is still served", |ids| {
        !has(ids, "my-opus") && has(ids, "claude-opus-5")
    });
    // DELETE ?channel= (or ?provider=), 404 and 400 as CLIProxyAPI.
    err(
        &call(&srv, "DELETE", "/oauth-model-alias?channel=claude", ""),
        404,
        "channel not found",
    );
    err(
        &call(&srv, "DELETE", "/oauth-model-alias", ""),
        400,
        "missing channel",
    );
    ok(&call(
        &srv,
        "DELETE",
        "/oauth-model-alias?provider=codex",
        "",
    ));
    assert_eq!(file_section(&srv, "oauth-model-alias"), json!({}));
    err(
        &call(&srv, "PATCH", "/oauth-model-alias", r#"{"aliases":[]}"#),
        400,
        "invalid channel",
    );
    err(
        &call(
            &srv,
            "PATCH",
            "/oauth-model-alias",
            r#"{"channel":"codex","aliases":[]}"#,
        ),
        404,
        "channel not found",
    );
}

#[test]
fn oauth_request_scoped_errors_routes_edit_the_file() {
    let srv = start_with_claude_account("");
    assert_eq!(
        call(&srv, "GET", "/oauth-request-scoped-errors", "").json(),
        json!({"oauth-request-scoped-errors": {}})
    );
    let rule = json!({"status": 400, "match": ["context too long"], "action": "stop"});
    ok(&call(
        &srv,
        "PATCH",
        "/oauth-request-scoped-errors",
        &json!({"channel": "codex", "rules": [rule]}).to_string(),
    ));
    assert_eq!(
        file_section(&srv, "oauth-request-scoped-errors"),
        json!({"codex": [rule]})
    );
    assert_eq!(
        call(&srv, "GET", "/oauth-request-scoped-errors", "").json(),
        json!({"oauth-request-scoped-errors": {"codex": [rule]}})
    );
    // An action the loader refuses: 422 and the file is unchanged.
    let before = std::fs::read_to_string(&srv.config_path).unwrap();
    let r = call(
        &srv,
        "PUT",
        "/oauth-request-scoped-errors",
        r#"{"codex":[{"status":400,"match":["x"],"action":"retry"}]}"#,
    );
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(std::fs::read_to_string(&srv.config_path).unwrap(), before);
    // The edit reached the running config: /config shows it.
    assert!(
        eventually(Duration::from_secs(10), || {
            call(&srv, "GET", "/config", "").json()["oauth-request-scoped-errors"]["codex"][0]
                ["action"]
                == "stop"
        }),
        "{}",
        call(&srv, "GET", "/config", "").text()
    );
    ok(&call(
        &srv,
        "DELETE",
        "/oauth-request-scoped-errors?channel=codex",
        "",
    ));
    assert_eq!(file_section(&srv, "oauth-request-scoped-errors"), json!({}));
}

fn catalog_ids(list: &str) -> Vec<String> {
    let c: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("src/models/catalog.json"),
        )
        .unwrap(),
    )
    .unwrap();
    c[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn model_definitions_per_channel() {
    let srv = start_with_claude_account("");
    for ch in ["claude", "gemini", "codex"] {
        let r = call(&srv, "GET", &format!("/model-definitions/{ch}"), "");
        assert_eq!(r.status, 200, "{}", r.text());
        let v = r.json();
        assert_eq!(v["channel"], ch);
        let models = v["models"].as_array().unwrap();
        let ids: Vec<&str> = models.iter().map(|m| m["id"].as_str().unwrap()).collect();
        assert_eq!(ids, catalog_ids(ch));
        for m in models {
            assert!(m["display_name"].is_string(), "{m}");
            assert!(m["owned_by"].is_string(), "{m}");
            assert!(m["type"].is_string(), "{m}");
        }
    }
    // Case-insensitive channel; plan tiers hide what the plan lacks.
    let ids = |ch: &str| -> Vec<String> {
        let r = call(&srv, "GET", &format!("/model-definitions/{ch}"), "");
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()["models"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_string())
            .collect()
    };
    let all = catalog_ids("codex");
    assert_eq!(ids("CODEX-pro"), all);
    assert_eq!(ids("codex-plus"), all);
    let team = ids("codex-team");
    assert!(!has(&team, "gpt-5.3-codex-spark") && has(&team, "gpt-5.4"));
    assert_eq!(team.len(), all.len() - 1);
    let free = ids("codex-free");
    assert!(!has(&free, "gpt-5.3-codex-spark") && !has(&free, "gpt-5.4"));
    assert_eq!(free.len(), all.len() - 2);

    let r = call(&srv, "GET", "/model-definitions/nope", "");
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(
        r.json(),
        json!({"error": "unknown channel", "channel": "nope"})
    );
    let r = call(&srv, "GET", "/model-definitions/", "");
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json(), json!({"error": "channel is required"}));
    // Only GET; the route needs the management key like every other.
    let r = srv.request("GET", "/v0/management/model-definitions/claude", &[], "");
    assert_eq!(r.status, 401, "{}", r.text());
}
