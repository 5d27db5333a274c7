//! `/v0/management/auth-files` through the real binary: an uploaded file is
//! served by the next requests, disabling it takes it out, names that try
//! to leave auth-dir are refused (v6.9 #14), downloads are byte for byte.

mod common;
use common::mgmt::{call_with as call, start_with_accounts};
use common::*;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::time::Duration;

const HOSTS: [&str; 2] = ["api.anthropic.com", "console.anthropic.com"];
const MODEL: &str = "claude-sonnet-4-6";

fn claude_file(token: &str) -> String {
    json!({
        "type": "claude",
        "email": "owner@example.com",
        "access_token": token,
        "refresh_token": "rt-1",
        "expired": "2099-01-01T00:00:00Z",
        "last_refresh": "2026-01-01T00:00:00Z"
    })
    .to_string()
}

fn answer(_: &Recorded) -> Reply {
    json_reply(200, &claude_message(MODEL, "hi from account"))
}

fn chat_status(srv: &Server) -> u16 {
    chat_hi(srv, MODEL, false).status
}

fn soon(f: impl FnMut() -> bool) -> bool {
    eventually(Duration::from_secs(10), f)
}

#[test]
fn upload_serve_disable_fields_download_delete() {
    let mock = Mock::start_tls_named(&HOSTS, answer);
    let auth = scratch_dir("mgmt-auth");
    let srv = start_with_accounts(&mock, &auth, &HOSTS, "mgmt-ca");
    assert_eq!(
        call(&srv, "GET", "/auth-files", &[], "").json(),
        json!({"files": []})
    );
    assert_ne!(chat_status(&srv), 200);

    // Raw JSON upload with ?name=.
    let body = claude_file("at-uploaded");
    let r = call(
        &srv,
        "POST",
        "/auth-files?name=claude-owner.json",
        &[],
        &body,
    );
    assert_eq!((r.status, r.json()), (200, json!({"status": "ok"})));
    let path = auth.join("claude-owner.json");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), body);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // The next requests use it.
    assert!(soon(|| chat_status(&srv) == 200));
    let seen = mock.requests();
    assert_eq!(
        seen.last().unwrap().header("authorization"),
        Some("Bearer at-uploaded")
    );

    // Listed with CLIProxyAPI's fields.
    let list = call(&srv, "GET", "/auth-files", &[], "").json();
    let files = list["files"].as_array().unwrap();
    assert_eq!(files.len(), 1);
    let f = &files[0];
    assert_eq!(f["name"], "claude-owner.json");
    assert_eq!(f["id"], "claude-owner.json");
    assert_eq!(f["type"], "claude");
    assert_eq!(f["provider"], "claude");
    assert_eq!(f["email"], "owner@example.com");
    assert_eq!(f["label"], "owner@example.com");
    assert_eq!(f["status"], "active");
    assert_eq!(f["disabled"], false);
    assert_eq!(f["size"], body.len());
    assert_eq!(f["last_refresh"], "2026-01-01T00:00:00Z");
    let abs = std::path::absolute(&path).unwrap();
    let digest = Sha256::digest(format!("claude:{}", abs.display()).as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(f["auth_index"], hex[..16]);

    // The models it serves.
    let r = call(
        &srv,
        "GET",
        "/auth-files/models?name=claude-owner.json",
        &[],
        "",
    );
    assert_eq!(r.status, 200);
    let ids: Vec<String> = r.json()["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    assert!(ids.iter().any(|m| m == MODEL), "{ids:?}");
    assert_eq!(
        call(&srv, "GET", "/auth-files/models?name=other.json", &[], "").json(),
        json!({"models": []})
    );
    let r = call(&srv, "GET", "/auth-files/models", &[], "");
    assert_eq!(
        (r.status, r.json()),
        (400, json!({"error": "name is required"}))
    );

    // Download byte for byte.
    let r = call(
        &srv,
        "GET",
        "/auth-files/download?name=claude-owner.json",
        &[],
        "",
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), body);
    assert_eq!(
        r.header("Content-Disposition"),
        Some("attachment; filename=\"claude-owner.json\"")
    );

    // Disable: written to the file, the account stops serving.
    let r = call(
        &srv,
        "PATCH",
        "/auth-files/status",
        &[],
        r#"{"name":"claude-owner.json","disabled":true}"#,
    );
    assert_eq!(
        (r.status, r.json()),
        (200, json!({"status": "ok", "disabled": true}))
    );
    let on_disk: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(on_disk["disabled"], true);
    assert_eq!(on_disk["access_token"], "at-uploaded");
    assert!(soon(|| chat_status(&srv) != 200));
    assert_eq!(
        call(&srv, "GET", "/auth-files", &[], "").json()["files"][0]["status"],
        "disabled"
    );
    let r = call(
        &srv,
        "PATCH",
        "/auth-files/status",
        &[],
        r#"{"name":"claude-owner.json","disabled":false}"#,
    );
    assert_eq!(r.status, 200);
    assert!(soon(|| chat_status(&srv) == 200));

    // Fields.
    let r = call(
        &srv,
        "PATCH",
        "/auth-files/fields",
        &[],
        r#"{"name":"claude-owner.json","priority":7,"note":"team a"}"#,
    );
    assert_eq!((r.status, r.json()), (200, json!({"status": "ok"})));
    let on_disk: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(
        (on_disk["priority"].clone(), on_disk["note"].clone()),
        (json!(7), json!("team a"))
    );
    let r = call(
        &srv,
        "PATCH",
        "/auth-files/fields",
        &[],
        r#"{"name":"claude-owner.json","access_token":"x"}"#,
    );
    assert_eq!(r.status, 400);
    let r = call(
        &srv,
        "PATCH",
        "/auth-files/status",
        &[],
        r#"{"name":"missing.json","disabled":true}"#,
    );
    assert_eq!(r.status, 404);

    // Delete: the account goes away.
    let r = call(
        &srv,
        "DELETE",
        "/auth-files?name=claude-owner.json",
        &[],
        "",
    );
    assert_eq!((r.status, r.json()), (200, json!({"status": "ok"})));
    assert!(!path.exists());
    assert!(soon(|| chat_status(&srv) != 200));
    let r = call(
        &srv,
        "DELETE",
        "/auth-files?name=claude-owner.json",
        &[],
        "",
    );
    assert_eq!(
        (r.status, r.json()),
        (404, json!({"error": "file not found"}))
    );
}

#[test]
fn names_that_leave_auth_dir_are_refused() {
    let mock = Mock::start_tls_named(&HOSTS, answer);
    let root = scratch_dir("mgmt-trav");
    let auth = root.join("auths");
    std::fs::create_dir_all(auth.join("nested")).unwrap();
    std::fs::create_dir_all(root.join("external")).unwrap();
    std::fs::write(root.join("external/secret.json"), "{\"s\":1}").unwrap();
    std::fs::write(auth.join("nested/secret.json"), "{\"s\":2}").unwrap();
    std::fs::write(
        auth.join("download-user.json"),
        "{\"type\":\"x\",\"k\": 1}\n",
    )
    .unwrap();
    let srv = start_with_accounts(&mock, &auth, &HOSTS, "mgmt-ca");
    for name in [
        "..%2Fexternal%2Fsecret.json",
        "..%5C..%5Cexternal%5Csecret.json",
        "nested%2Fsecret.json",
        "C:secret.json",
        "%20",
    ] {
        let r = call(
            &srv,
            "GET",
            &format!("/auth-files/download?name={name}"),
            &[],
            "",
        );
        assert_eq!(
            (r.status, r.json()),
            (400, json!({"error": "invalid name"})),
            "{name}"
        );
        let r = call(&srv, "POST", &format!("/auth-files?name={name}"), &[], "{}");
        assert_eq!(
            (r.status, r.json()),
            (400, json!({"error": "invalid name"})),
            "{name}"
        );
        let r = call(&srv, "DELETE", &format!("/auth-files?name={name}"), &[], "");
        assert_eq!(
            (r.status, r.json()),
            (400, json!({"error": "invalid name"})),
            "{name}"
        );
    }
    assert!(root.join("external/secret.json").exists());
    assert!(auth.join("nested/secret.json").exists());
    let r = call(
        &srv,
        "GET",
        "/auth-files/download?name=download-user.json",
        &[],
        "",
    );
    assert_eq!(
        r.body,
        std::fs::read(auth.join("download-user.json")).unwrap()
    );
    let r = call(&srv, "GET", "/auth-files/download?name=x.txt", &[], "");
    assert_eq!(
        (r.status, r.json()),
        (400, json!({"error": "name must end with .json"}))
    );
    let r = call(&srv, "POST", "/auth-files?name=bad.json", &[], "not json");
    assert_eq!(r.status, 400);
    assert!(!auth.join("bad.json").exists());
}

#[test]
fn multipart_uploads_and_delete_all() {
    let mock = Mock::start_tls_named(&HOSTS, answer);
    let auth = scratch_dir("mgmt-multi");
    let srv = start_with_accounts(&mock, &auth, &HOSTS, "mgmt-ca");
    let part = |name: &str, data: &str| {
        format!(
            "--BOUND\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/json\r\n\r\n{data}\r\n"
        )
    };
    let ct = [("Content-Type", "multipart/form-data; boundary=BOUND")];
    let one = format!("{}--BOUND--\r\n", part("a.json", &claude_file("at-a")));
    let r = call(&srv, "POST", "/auth-files", &ct, &one);
    assert_eq!((r.status, r.json()), (200, json!({"status": "ok"})));
    assert_eq!(
        std::fs::read_to_string(auth.join("a.json")).unwrap(),
        claude_file("at-a")
    );
    let two = format!(
        "{}{}--BOUND--\r\n",
        part("b.json", &claude_file("at-b")),
        part("notes.txt", "{}")
    );
    let r = call(&srv, "POST", "/auth-files", &ct, &two);
    assert_eq!(r.status, 207, "{}", r.text());
    assert_eq!(
        r.json(),
        json!({"status": "partial", "uploaded": 1, "files": ["b.json"],
            "failed": [{"name": "notes.txt", "error": "file must be .json"}]})
    );
    let single_bad = format!("{}--BOUND--\r\n", part("c.txt", "{}"));
    let r = call(&srv, "POST", "/auth-files", &ct, &single_bad);
    assert_eq!(
        (r.status, r.json()),
        (400, json!({"error": "file must be .json"}))
    );
    assert!(soon(|| chat_status(&srv) == 200));

    let r = call(&srv, "DELETE", "/auth-files?all=true", &[], "");
    assert_eq!(
        (r.status, r.json()),
        (200, json!({"status": "ok", "deleted": 2}))
    );
    assert!(!auth.join("a.json").exists() && !auth.join("b.json").exists());
    assert!(soon(|| chat_status(&srv) != 200));
}
