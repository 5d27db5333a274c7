//! `/v0/management/ampcode...` through the real binary: each route's shape,
//! the config file after each edit, and the Amp module serving the change.

mod common;
use common::mgmt::{call, ok, KEY};
use common::*;
use serde_json::json;
use std::time::Duration;

fn amp_mock(tag: &'static str) -> Mock {
    Mock::start(move |r| json_reply(200, &json!({"amp": tag, "path": r.path}).to_string()))
}

fn root(m: &Mock) -> String {
    m.base_url().trim_end_matches("/v1").to_string()
}

fn amp_user(srv: &Server) -> serde_json::Value {
    srv.request("GET", "/api/user", &[CLIENT_AUTH], "").json()
}

#[test]
fn ampcode_routes_read_edit_and_reload() {
    let (first, second) = (amp_mock("first"), amp_mock("second"));
    let yaml = format!(
        "api-keys: [\"{CLIENT_KEY}\"]\nremote-management:\n  secret-key: \"{KEY}\"\nampcode:\n  upstream-url: \"{}\"\n  upstream-api-key: \"amp-one\"\n",
        root(&first)
    );
    let srv = Server::start("epoll", 1, &yaml, &[]);

    let r = call(&srv, "GET", "/ampcode", "");
    assert_eq!(r.status, 200, "{}", r.text());
    let a = &r.json()["ampcode"];
    assert_eq!(a["upstream-url"], root(&first).as_str());
    assert_eq!(a["upstream-api-key"], "amp-one");
    assert_eq!(a["model-mappings"], json!([]));
    assert_eq!(a["force-model-mappings"], false);
    assert_eq!(amp_user(&srv)["amp"], "first");

    // Scalars: the upstream moves, the key changes, flags flip.
    ok(&call(
        &srv,
        "PUT",
        "/ampcode/upstream-url",
        &json!({"value": root(&second)}).to_string(),
    ));
    assert!(
        eventually(Duration::from_secs(10), || amp_user(&srv)["amp"]
            == "second"),
        "the new upstream is not served: {}",
        srv.log_text()
    );
    ok(&call(
        &srv,
        "PATCH",
        "/ampcode/upstream-api-key",
        r#"{"value":"amp-two"}"#,
    ));
    assert!(eventually(Duration::from_secs(10), || {
        amp_user(&srv);
        second
            .requests()
            .last()
            .and_then(|r| r.header("authorization").map(String::from))
            == Some("Bearer amp-two".into())
    }));
    ok(&call(
        &srv,
        "PUT",
        "/ampcode/force-model-mappings",
        r#"{"value":true}"#,
    ));
    assert_eq!(
        call(&srv, "GET", "/ampcode/force-model-mappings", "").json(),
        json!({"force-model-mappings": true})
    );
    assert_eq!(
        call(
            &srv,
            "PUT",
            "/ampcode/force-model-mappings",
            r#"{"value":"yes"}"#
        )
        .status,
        400
    );

    // Model mappings: replace, upsert by `from`, remove by `from`, clear.
    ok(&call(
        &srv,
        "PUT",
        "/ampcode/model-mappings",
        r#"{"value":[{"from":"a","to":"x"},{"from":"^b.*$","to":"y","regex":true}]}"#,
    ));
    ok(&call(
        &srv,
        "PATCH",
        "/ampcode/model-mappings",
        r#"{"value":[{"from":"a","to":"z"},{"from":"c","to":"w"}]}"#,
    ));
    assert_eq!(
        call(&srv, "GET", "/ampcode/model-mappings", "").json(),
        json!({"model-mappings": [
            {"from":"a","to":"z"},{"from":"^b.*$","to":"y","regex":true},{"from":"c","to":"w"}]})
    );
    ok(&call(
        &srv,
        "DELETE",
        "/ampcode/model-mappings",
        r#"{"value":["a"]}"#,
    ));
    let left = call(&srv, "GET", "/ampcode/model-mappings", "").json();
    assert_eq!(
        left["model-mappings"].as_array().map(Vec::len),
        Some(2),
        "{left}"
    );
    ok(&call(&srv, "DELETE", "/ampcode/model-mappings", ""));
    assert_eq!(
        call(&srv, "GET", "/ampcode/model-mappings", "").json(),
        json!({"model-mappings": []})
    );

    // Per-client keys: normalised on the way in, cleared by DELETE.
    ok(&call(
        &srv,
        "PUT",
        "/ampcode/upstream-api-keys",
        r#"{"value":[{"upstream-api-key":" k1 ","api-keys":[" sk-client-1 ",""]},{"upstream-api-key":""}]}"#,
    ));
    assert_eq!(
        call(&srv, "GET", "/ampcode/upstream-api-keys", "").json(),
        json!({"upstream-api-keys": [{"upstream-api-key":"k1","api-keys":["sk-client-1"]}]})
    );
    assert!(
        eventually(Duration::from_secs(10), || {
            amp_user(&srv);
            second
                .requests()
                .last()
                .and_then(|r| r.header("authorization").map(String::from))
                == Some("Bearer k1".into())
        }),
        "the per-client key is not used"
    );
    ok(&call(&srv, "DELETE", "/ampcode/upstream-api-keys", ""));
    assert_eq!(
        call(&srv, "GET", "/ampcode/upstream-api-keys", "").json(),
        json!({"upstream-api-keys": []})
    );
    // The file still validates and holds the settings.
    let text = std::fs::read_to_string(&srv.config_path).unwrap();
    assert!(text.contains("force-model-mappings: true"), "{text}");
    assert!(text.contains(&root(&second)), "{text}");

    // Clearing the upstream turns the Amp routes off (503).
    ok(&call(&srv, "DELETE", "/ampcode/upstream-url", ""));
    assert!(eventually(Duration::from_secs(10), || {
        srv.request("GET", "/api/user", &[CLIENT_AUTH], "").status == 503
    }));
}
