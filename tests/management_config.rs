//! Management config routes through the real binary: every mutation is
//! checked in `config.yaml` (comments kept where the edit is a value) and in
//! what the server then serves (the control thread's reload, no sleeps).

mod common;
use common::mgmt::{call, ok, KEY};
use common::*;
use serde_json::json;
use std::time::Duration;

fn start() -> Server {
    let yaml = format!(
        "# top comment\napi-keys:\n  - \"sk-one\" # first client\nremote-management:\n  secret-key: \"{KEY}\"\ndebug: false # keep me\n"
    );
    Server::start("epoll", 2, &yaml, &[])
}

fn file(srv: &Server) -> String {
    std::fs::read_to_string(&srv.config_path).unwrap()
}

fn models_status(srv: &Server, key: &str) -> u16 {
    srv.request(
        "GET",
        "/v1/models",
        &[("Authorization", &format!("Bearer {key}"))],
        "",
    )
    .status
}

fn soon(f: impl FnMut() -> bool) -> bool {
    eventually(Duration::from_secs(10), f)
}

#[test]
fn scalar_routes_edit_one_value_and_keep_comments() {
    let srv = start();
    let r = call(&srv, "GET", "/debug", "");
    assert_eq!(r.json(), json!({"debug": false}));
    let before = file(&srv);

    ok(&call(&srv, "PUT", "/debug", r#"{"value":true}"#));
    assert_eq!(
        file(&srv),
        before.replace("debug: false # keep me", "debug: true # keep me")
    );
    assert_eq!(
        call(&srv, "GET", "/debug", "").json(),
        json!({"debug": true})
    );

    // A key the file lacks is added as one line; PATCH works like PUT.
    ok(&call(&srv, "PATCH", "/request-retry", r#"{"value":5}"#));
    assert!(file(&srv).ends_with("debug: true # keep me\nrequest-retry: 5\n"));
    assert_eq!(
        call(&srv, "GET", "/request-retry", "").json(),
        json!({"request-retry": 5})
    );
    // Defaults are answered for keys the file does not set.
    assert_eq!(
        call(&srv, "GET", "/max-retry-interval", "").json(),
        json!({"max-retry-interval": 30})
    );
    assert_eq!(
        call(&srv, "GET", "/ws-auth", "").json(),
        json!({"ws-auth": true})
    );
    // Negative log caps fall back like CLIProxyAPI.
    ok(&call(
        &srv,
        "PUT",
        "/error-logs-max-files",
        r#"{"value":-1}"#,
    ));
    assert_eq!(
        call(&srv, "GET", "/error-logs-max-files", "").json(),
        json!({"error-logs-max-files": 10})
    );

    // Nested keys.
    ok(&call(
        &srv,
        "PUT",
        "/quota-exceeded/switch-project",
        r#"{"value":true}"#,
    ));
    assert!(file(&srv).contains("quota-exceeded:\n  switch-project: true\n"));
    assert_eq!(
        call(&srv, "GET", "/quota-exceeded/switch-project", "").json(),
        json!({"switch-project": true})
    );

    // Bad bodies change nothing.
    let snapshot = file(&srv);
    for (path, body) in [
        ("/debug", r#"{"value":"yes"}"#),
        ("/debug", r#"{}"#),
        ("/debug", "not json"),
        ("/request-retry", r#"{"value":1.5}"#),
        ("/proxy-url", r#"{"value":3}"#),
    ] {
        let r = call(&srv, "PUT", path, body);
        assert_eq!(r.status, 400, "{path} {body}");
        assert_eq!(r.json(), json!({"error": "invalid body"}));
    }
    assert_eq!(file(&srv), snapshot);
    // A value the validator refuses is not written.
    let r = call(&srv, "PUT", "/proxy-url", r#"{"value":"bogus://h:1"}"#);
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(r.json()["error"], "invalid_config");
    assert_eq!(file(&srv), snapshot);

    // proxy-url set and deleted.
    ok(&call(
        &srv,
        "PUT",
        "/proxy-url",
        r#"{"value":"http://127.0.0.1:9"}"#,
    ));
    assert!(file(&srv).contains("proxy-url: \"http://127.0.0.1:9\"\n"));
    assert_eq!(
        call(&srv, "GET", "/proxy-url", "").json(),
        json!({"proxy-url": "http://127.0.0.1:9"})
    );
    ok(&call(&srv, "DELETE", "/proxy-url", ""));
    assert!(file(&srv).contains("proxy-url: \"\"\n"));
    // DELETE exists only where CLIProxyAPI has it.
    assert_eq!(call(&srv, "DELETE", "/debug", "").status, 404);
}

#[test]
fn routing_strategy_accepts_aliases() {
    let srv = start();
    assert_eq!(
        call(&srv, "GET", "/routing/strategy", "").json(),
        json!({"strategy": "round-robin"})
    );
    ok(&call(&srv, "PUT", "/routing/strategy", r#"{"value":"FF"}"#));
    assert!(file(&srv).contains("routing:\n  strategy: \"fill-first\"\n"));
    assert_eq!(
        call(&srv, "GET", "/routing/strategy", "").json(),
        json!({"strategy": "fill-first"})
    );
    let r = call(&srv, "PATCH", "/routing/strategy", r#"{"value":"random"}"#);
    assert_eq!(
        (r.status, r.json()),
        (400, json!({"error": "invalid strategy"}))
    );
}

#[test]
fn api_keys_list_routes_change_who_the_proxy_accepts() {
    let srv = start();
    assert_eq!(
        call(&srv, "GET", "/api-keys", "").json(),
        json!({"api-keys": ["sk-one"]})
    );
    assert_eq!(models_status(&srv, "sk-new"), 401);

    ok(&call(&srv, "PUT", "/api-keys", r#"["sk-one","sk-new"]"#));
    let text = file(&srv);
    assert!(
        text.contains("api-keys:\n  - sk-one\n  - sk-new\nremote-management:"),
        "{text}"
    );
    assert!(text.contains("# top comment\n"), "{text}");
    assert!(soon(|| models_status(&srv, "sk-new") == 200));

    // {"items": [...]} form; an empty items list is refused.
    ok(&call(
        &srv,
        "PUT",
        "/api-keys",
        r#"{"items":["sk-one","sk-new","sk-3"]}"#,
    ));
    let r = call(&srv, "PUT", "/api-keys", r#"{"items":[]}"#);
    assert_eq!(
        (r.status, r.json()),
        (400, json!({"error": "invalid body"}))
    );

    ok(&call(
        &srv,
        "PATCH",
        "/api-keys",
        r#"{"old":"sk-new","new":"sk-renamed"}"#,
    ));
    ok(&call(
        &srv,
        "PATCH",
        "/api-keys",
        r#"{"index":2,"value":"sk-third"}"#,
    ));
    // old not found: new is appended (CLIProxyAPI).
    ok(&call(
        &srv,
        "PATCH",
        "/api-keys",
        r#"{"old":"nope","new":"sk-4"}"#,
    ));
    assert_eq!(
        call(&srv, "GET", "/api-keys", "").json(),
        json!({"api-keys": ["sk-one", "sk-renamed", "sk-third", "sk-4"]})
    );
    let r = call(&srv, "PATCH", "/api-keys", r#"{"index":9,"value":"x"}"#);
    assert_eq!(
        (r.status, r.json()),
        (400, json!({"error": "missing fields"}))
    );

    ok(&call(&srv, "DELETE", "/api-keys?value=sk-third", ""));
    ok(&call(&srv, "DELETE", "/api-keys?index=0", ""));
    assert_eq!(
        call(&srv, "GET", "/api-keys", "").json(),
        json!({"api-keys": ["sk-renamed", "sk-4"]})
    );
    let r = call(&srv, "DELETE", "/api-keys", "");
    assert_eq!(
        (r.status, r.json()),
        (400, json!({"error": "missing index or value"}))
    );
    assert!(soon(|| models_status(&srv, "sk-one") == 401));
    assert_eq!(models_status(&srv, "sk-renamed"), 200);
    assert_eq!(models_status(&srv, "sk-new"), 401);
}

#[test]
fn provider_sections_are_listed_patched_and_deleted() {
    let srv = start();
    assert_eq!(
        call(&srv, "GET", "/claude-api-key", "").json(),
        json!({"claude-api-key": []})
    );
    let put = r#"[{"api-key":"ck-1","base-url":"http://127.0.0.1:9","models":[{"name":"claude-up","alias":"mgmt-claude-alias"}]},
                 {"api-key":"ck-2","base-url":"http://127.0.0.1:9"}]"#;
    ok(&call(&srv, "PUT", "/claude-api-key", put));
    let text = file(&srv);
    assert!(
        text.contains("claude-api-key:\n  - api-key: ck-1\n"),
        "{text}"
    );
    assert!(text.contains("debug: false # keep me\n"), "{text}");
    // The server routes the new alias.
    assert!(soon(|| {
        let r = srv.request(
            "GET",
            "/v1/models",
            &[("Authorization", "Bearer sk-one")],
            "",
        );
        r.text().contains("mgmt-claude-alias")
    }));

    let got = call(&srv, "GET", "/claude-api-key", "").json();
    let list = got["claude-api-key"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["api-key"], "ck-1");
    let idx = list[0]["auth-index"].as_str().unwrap();
    assert_eq!(idx.len(), 16);
    assert!(idx.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_ne!(idx, list[1]["auth-index"].as_str().unwrap());

    // PATCH by match merges fields; auth-index from a GET is not written back.
    ok(&call(
        &srv,
        "PATCH",
        "/claude-api-key",
        r#"{"match":"ck-2","value":{"prefix":"team","auth-index":"x"}}"#,
    ));
    let got = call(&srv, "GET", "/claude-api-key", "").json();
    assert_eq!(got["claude-api-key"][1]["prefix"], "team");
    assert!(!file(&srv).contains("auth-index"));
    let r = call(
        &srv,
        "PATCH",
        "/claude-api-key",
        r#"{"match":"none","value":{}}"#,
    );
    assert_eq!(
        (r.status, r.json()),
        (404, json!({"error": "item not found"}))
    );
    let r = call(&srv, "PATCH", "/claude-api-key", r#"{"index":0}"#);
    assert_eq!(
        (r.status, r.json()),
        (400, json!({"error": "invalid body"}))
    );

    let r = call(&srv, "DELETE", "/claude-api-key?api-key=missing", "");
    assert_eq!(
        (r.status, r.json()),
        (404, json!({"error": "item not found"}))
    );
    ok(&call(&srv, "DELETE", "/claude-api-key?api-key=ck-1", ""));
    let got = call(&srv, "GET", "/claude-api-key", "").json();
    assert_eq!(got["claude-api-key"].as_array().unwrap().len(), 1);
    assert!(soon(|| {
        let r = srv.request(
            "GET",
            "/v1/models",
            &[("Authorization", "Bearer sk-one")],
            "",
        );
        !r.text().contains("mgmt-claude-alias")
    }));
    ok(&call(&srv, "DELETE", "/claude-api-key?index=0", ""));
    assert!(file(&srv).contains("claude-api-key: []\n"));
    let r = call(&srv, "DELETE", "/claude-api-key", "");
    assert_eq!(
        (r.status, r.json()),
        (400, json!({"error": "missing api-key or index"}))
    );

    // openai-compatibility is matched by name.
    ok(&call(
        &srv,
        "PUT",
        "/openai-compatibility",
        r#"{"items":[{"name":"c1","base-url":"http://127.0.0.1:9/v1","api-key-entries":[{"api-key":"k"}],"models":[{"name":"up","alias":"compat-alias"}]}]}"#,
    ));
    assert!(soon(|| {
        let r = srv.request(
            "GET",
            "/v1/models",
            &[("Authorization", "Bearer sk-one")],
            "",
        );
        r.text().contains("compat-alias")
    }));
    ok(&call(
        &srv,
        "PATCH",
        "/openai-compatibility",
        r#"{"match":"c1","value":{"prefix":"p"}}"#,
    ));
    assert_eq!(
        call(&srv, "GET", "/openai-compatibility", "").json()["openai-compatibility"][0]["prefix"],
        "p"
    );
    ok(&call(&srv, "DELETE", "/openai-compatibility?name=c1", ""));
    assert_eq!(
        call(&srv, "GET", "/openai-compatibility", "").json(),
        json!({"openai-compatibility": []})
    );
    // An entry the validator refuses is not written.
    let before = file(&srv);
    let r = call(
        &srv,
        "PUT",
        "/gemini-api-key",
        r#"[{"api-key":"g","proxy-url":"bogus://x"}]"#,
    );
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(file(&srv), before);
}

#[test]
fn config_yaml_get_put_and_config_json() {
    let srv = start();
    let r = call(&srv, "GET", "/config.yaml", "");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("Content-Type"),
        Some("application/yaml; charset=utf-8")
    );
    assert_eq!(r.body, std::fs::read(&srv.config_path).unwrap());

    let cfg = call(&srv, "GET", "/config", "").json();
    assert_eq!(cfg["api-keys"], json!(["sk-one"]));
    assert_eq!(cfg["debug"], json!(false));
    assert_eq!(cfg["request-retry"], json!(3));
    assert!(
        cfg["remote-management"].get("secret-key").is_none(),
        "{cfg}"
    );

    // Invalid YAML and an invalid config are refused without a write.
    let before = file(&srv);
    let r = call(&srv, "PUT", "/config.yaml", "a: [\n");
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "invalid_yaml");
    let r = call(&srv, "PUT", "/config.yaml", "port: 99999\n");
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["error"], "invalid_config");
    assert!(r.json()["message"].as_str().unwrap().contains("port"));
    assert_eq!(file(&srv), before);

    // A valid file replaces the config; a plaintext key in it is hashed.
    let new = "# replaced\nport: 0\nhost: 127.0.0.1\napi-keys: [\"sk-put\"]\nremote-management:\n  secret-key: \"mgmt-key-2\"\n";
    let r = call(&srv, "PUT", "/config.yaml", new);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), json!({"ok": true, "changed": ["config"]}));
    let text = file(&srv);
    assert!(
        text.starts_with("# replaced\n") && !text.contains("mgmt-key-2"),
        "{text}"
    );
    assert!(soon(|| models_status(&srv, "sk-put") == 200));
    assert_eq!(models_status(&srv, "sk-one"), 401);
    let r = srv.request(
        "GET",
        "/v0/management/debug",
        &[("X-Management-Key", "mgmt-key-2")],
        "",
    );
    assert_eq!(r.status, 200, "{}", r.text());
}
