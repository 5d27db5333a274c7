//! Vertex AI service accounts and multi-project Gemini CLI files through the
//! real binary. Hosts keep their real names: `CLIPROXY_CONNECT_TO` dials them
//! at a local TLS mock whose certificate names them (`--upstream-ca`).
//!
//! The service-account key is a test-only RSA key (`tests/fixtures/`); the
//! mock token endpoint verifies each JWT's RS256 signature with the matching
//! public key (made by openssl, not by the code under test).

mod common;
use common::*;
use serde_json::{json, Value};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const HOSTS: [&str; 6] = [
    "oauth2.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "us-central1-aiplatform.googleapis.com",
    "europe-west4-aiplatform.googleapis.com",
    "aiplatform.googleapis.com",
    "cloudcode-pa.googleapis.com",
];
const KEY_PEM: &str = include_str!("fixtures/vertex-test-key.pem");
const PUBLIC_DER: &[u8] = include_bytes!("fixtures/vertex-test-key.pub.der");
const MODEL: &str = "gemini-2.5-pro";
const SA_EMAIL: &str = "relay@proj-v.iam.gserviceaccount.com";
const TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
const MGMT_KEY: &str = "mgmt-key";

/// A service-account key JSON as Google issues it.
fn sa_json(project: &str) -> Value {
    json!({
        "type": "service_account",
        "project_id": project,
        "private_key_id": "kid-test-1",
        "private_key": KEY_PEM,
        "client_email": SA_EMAIL,
        "client_id": "1234567890",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": TOKEN_URI,
        "universe_domain": "googleapis.com"
    })
}

/// A vertex auth file in CLIProxyAPI's layout.
fn vertex_file(project: &str, location: &str) -> String {
    json!({
        "service_account": sa_json(project),
        "project_id": project,
        "email": SA_EMAIL,
        "location": location,
        "type": "vertex"
    })
    .to_string()
}

fn b64url_decode(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => panic!("not base64url: {c}"),
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

fn form_value(body: &[u8], key: &str) -> Option<String> {
    let body = std::str::from_utf8(body).ok()?;
    body.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| v.replace("%3A", ":").replace("%3a", ":"))
    })
}

/// Checks a JWT-bearer token request: the grant, the RS256 signature (with
/// the key's public half) and the claims. Returns the problem, if any.
fn check_token_request(r: &Recorded) -> Result<(), String> {
    if form_value(&r.body, "grant_type").as_deref()
        != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    {
        return Err(format!("grant: {}", String::from_utf8_lossy(&r.body)));
    }
    let jwt = form_value(&r.body, "assertion").ok_or("no assertion")?;
    let parts: Vec<&str> = jwt.split('.').collect();
    if parts.len() != 3 {
        return Err("not a JWT".into());
    }
    let header: Value =
        serde_json::from_slice(&b64url_decode(parts[0])).map_err(|e| e.to_string())?;
    if header["alg"] != "RS256" || header["kid"] != "kid-test-1" {
        return Err(format!("header {header}"));
    }
    let public = ring::signature::UnparsedPublicKey::new(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        PUBLIC_DER,
    );
    let signed = format!("{}.{}", parts[0], parts[1]);
    public
        .verify(signed.as_bytes(), &b64url_decode(parts[2]))
        .map_err(|_| "bad signature".to_string())?;
    let c: Value = serde_json::from_slice(&b64url_decode(parts[1])).map_err(|e| e.to_string())?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let iat = c["iat"].as_u64().ok_or("no iat")?;
    let exp = c["exp"].as_u64().ok_or("no exp")?;
    if c["iss"] != SA_EMAIL
        || c["scope"] != "https://www.googleapis.com/auth/cloud-platform"
        || c["aud"] != TOKEN_URI
        || exp != iat + 3600
        || iat.abs_diff(now) > 60
    {
        return Err(format!("claims {c}"));
    }
    Ok(())
}

/// A plain Gemini answer saying `text` (SSE when the path streams).
fn gemini_answer(r: &Recorded, text: &str) -> Reply {
    let chunk = |t: &str, last: bool| {
        let mut c =
            json!({"candidates":[{"content":{"role":"model","parts":[{"text":t}]},"index":0}]});
        if last {
            c["candidates"][0]["finishReason"] = json!("STOP");
            c["usageMetadata"] =
                json!({"promptTokenCount":3,"candidatesTokenCount":4,"totalTokenCount":7});
        }
        c
    };
    if r.path.contains("streamGenerateContent") {
        sse_events(&[(None, chunk(text, false)), (None, chunk("", true))])
    } else {
        json_reply(200, &chunk(text, true).to_string())
    }
}

/// A mock for Vertex: the token endpoint (signature and claims checked,
/// `vx-token-<n>` minted) and the Vertex hosts. Returns it, its mint count
/// and the token requests that failed the checks.
fn vertex_mock() -> (Mock, Arc<AtomicUsize>, Arc<Mutex<Vec<String>>>) {
    let mints = Arc::new(AtomicUsize::new(0));
    let bad = Arc::new(Mutex::new(Vec::new()));
    let (m, b) = (mints.clone(), bad.clone());
    let mock = Mock::start_tls_named(&HOSTS, move |r| {
        if r.path == "/token" {
            if let Err(e) = check_token_request(r) {
                b.lock().unwrap().push(e);
                return json_reply(400, r#"{"error":"invalid_grant"}"#);
            }
            let n = m.fetch_add(1, Ordering::SeqCst) + 1;
            return json_reply(
                200,
                &json!({"access_token": format!("vx-token-{n}"), "expires_in": 3599, "token_type": "Bearer"})
                    .to_string(),
            );
        }
        gemini_answer(r, "served by vertex")
    });
    (mock, mints, bad)
}

fn start(mock: &Mock, auth: &Path, extra_yaml: &str) -> Server {
    start_with(mock, auth, extra_yaml, 2)
}

fn start_with(mock: &Mock, auth: &Path, extra_yaml: &str, workers: usize) -> Server {
    let ca = mock.write_ca(&scratch_dir("vx-ca"));
    let yaml = format!(
        "api-keys: [\"{CLIENT_KEY}\"]\nauth-dir: \"{}\"\nremote-management:\n  secret-key: \"{MGMT_KEY}\"\n{extra_yaml}",
        auth.display()
    );
    Server::start_env(
        "epoll",
        workers,
        &yaml,
        &["--upstream-ca", &ca.to_string_lossy()],
        &[("CLIPROXY_CONNECT_TO", &mock.connect_to(&HOSTS))],
    )
}

fn chat(srv: &Server, stream: bool) -> Resp {
    post_as(
        srv,
        Client::Chat,
        MODEL,
        stream,
        &json!({"model": MODEL, "stream": stream, "messages": [{"role":"user","content":"hi"}]}),
    )
}

fn gemini(srv: &Server, stream: bool) -> Resp {
    post_as(
        srv,
        Client::Gemini,
        MODEL,
        stream,
        &json!({"contents": [{"role":"user","parts":[{"text":"hi"}]}]}),
    )
}

fn upstream_calls(mock: &Mock) -> Vec<Recorded> {
    mock.requests()
        .into_iter()
        .filter(|r| r.path != "/token")
        .collect()
}

#[test]
fn vertex_import_cli_writes_cliproxyapi_auth_file() {
    let dir = scratch_dir("vx-import");
    let auth = dir.join("auths");
    let cfg = dir.join("config.yaml");
    std::fs::write(&cfg, format!("auth-dir: \"{}\"\n", auth.display())).unwrap();
    // A key pasted with literal "\n" escapes still imports.
    let mut sa = sa_json("proj-v");
    sa["private_key"] = json!(KEY_PEM.replace('\n', "\\n"));
    let key = dir.join("sa.json");
    std::fs::write(&key, sa.to_string()).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cliproxy"))
        .arg("--config")
        .arg(&cfg)
        .arg("-vertex-import")
        .arg(&key)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = auth.join("vertex-proj-v.json");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Vertex credentials imported: "),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(v["type"], "vertex");
    assert_eq!(v["project_id"], "proj-v");
    assert_eq!(v["email"], SA_EMAIL);
    assert_eq!(v["location"], "us-central1");
    assert_eq!(v["service_account"]["client_email"], SA_EMAIL);
    assert_eq!(v["service_account"]["client_id"], "1234567890");
    let pk = v["service_account"]["private_key"].as_str().unwrap();
    assert!(pk.starts_with("-----BEGIN RSA PRIVATE KEY-----\n"), "{pk}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // The key never reaches the terminal.
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!printed.contains("PRIVATE KEY"));
    // A key without a project is refused and writes nothing.
    let mut sa = sa_json("");
    sa["project_id"] = json!("");
    std::fs::write(&key, sa.to_string()).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cliproxy"))
        .arg("--config")
        .arg(&cfg)
        .arg("-vertex-import")
        .arg(&key)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("project_id missing"));
    assert_eq!(std::fs::read_dir(&auth).unwrap().count(), 1);
}

#[test]
fn vertex_account_mints_once_and_serves_chat_and_gemini_clients_per_location() {
    for (location, host) in [
        ("europe-west4", "europe-west4-aiplatform.googleapis.com"),
        ("global", "aiplatform.googleapis.com"),
    ] {
        let (mock, mints, bad) = vertex_mock();
        let auth = scratch_dir("vx-serve");
        std::fs::write(
            auth.join("vertex-proj-v.json"),
            vertex_file("proj-v", location),
        )
        .unwrap();
        let srv = start(&mock, &auth, "");
        for stream in [false, true] {
            for r in [chat(&srv, stream), gemini(&srv, stream)] {
                assert_eq!(r.status, 200, "{location} {stream}: {}", r.text());
                assert!(r.text().contains("served by vertex"), "{}", r.text());
            }
        }
        assert_eq!(*bad.lock().unwrap(), Vec::<String>::new());
        assert_eq!(
            mints.load(Ordering::SeqCst),
            1,
            "{location}: one token for every request"
        );
        let calls = upstream_calls(&mock);
        assert_eq!(calls.len(), 4);
        let base =
            format!("/v1/projects/proj-v/locations/{location}/publishers/google/models/{MODEL}");
        for (i, r) in calls.iter().enumerate() {
            assert_eq!(r.header("host"), Some(host), "{location}");
            assert_eq!(r.header("authorization"), Some("Bearer vx-token-1"));
            assert_eq!(r.header("x-goog-api-key"), None);
            let want = if i < 2 {
                format!("{base}:generateContent")
            } else {
                format!("{base}:streamGenerateContent?alt=sse")
            };
            assert_eq!(r.path, want, "{location}");
            // A plain Gemini body (no Cloud Code Assist envelope).
            assert!(
                r.json()["contents"].is_array(),
                "{}",
                String::from_utf8_lossy(&r.body)
            );
        }
        // A Gemini client's token count goes to :countTokens on the same host.
        let r = srv.request(
            "POST",
            &format!("/v1beta/models/{MODEL}:countTokens"),
            &[("x-goog-api-key", CLIENT_KEY)],
            &json!({"contents": [{"role":"user","parts":[{"text":"hi"}]}]}).to_string(),
        );
        let last = upstream_calls(&mock).pop().unwrap();
        assert_eq!(last.path, format!("{base}:countTokens"), "{}", r.text());
        assert_eq!(last.header("host"), Some(host));
        let log = srv.log_text();
        assert!(!log.contains("vx-token-1") && !log.contains("PRIVATE KEY"));
    }
}

#[test]
fn a_401_from_vertex_mints_a_new_token_once_and_retries() {
    let mints = Arc::new(AtomicUsize::new(0));
    let m = mints.clone();
    let mock = Mock::start_tls_named(&HOSTS, move |r| {
        if r.path == "/token" {
            assert!(check_token_request(r).is_ok());
            let n = m.fetch_add(1, Ordering::SeqCst) + 1;
            return json_reply(
                200,
                &json!({"access_token": format!("vx-token-{n}"), "expires_in": 3599}).to_string(),
            );
        }
        // The first token was revoked upstream.
        if r.header("authorization") == Some("Bearer vx-token-1") {
            return json_reply(
                401,
                r#"{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}"#,
            );
        }
        gemini_answer(r, "served by vertex")
    });
    let auth = scratch_dir("vx-401");
    std::fs::write(
        auth.join("vertex-proj-v.json"),
        vertex_file("proj-v", "us-central1"),
    )
    .unwrap();
    let srv = Arc::new(start(&mock, &auth, ""));
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let srv = srv.clone();
            std::thread::spawn(move || chat(&srv, i % 2 == 0))
        })
        .collect();
    for h in handles {
        let r = h.join().unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
    }
    assert_eq!(
        mints.load(Ordering::SeqCst),
        2,
        "the start mint, then one after the 401s"
    );
    let calls = upstream_calls(&mock);
    assert_eq!(
        calls.last().unwrap().header("authorization"),
        Some("Bearer vx-token-2")
    );
    assert!(calls
        .iter()
        .all(|r| r.header("host") == Some("us-central1-aiplatform.googleapis.com")));
}

fn multipart(parts: &[(&str, Option<&str>, &str)]) -> String {
    let mut body = String::new();
    for (name, filename, data) in parts {
        let disp = match filename {
            Some(f) => format!("form-data; name=\"{name}\"; filename=\"{f}\""),
            None => format!("form-data; name=\"{name}\""),
        };
        body.push_str(&format!(
            "--BOUND\r\nContent-Disposition: {disp}\r\n\r\n{data}\r\n"
        ));
    }
    body.push_str("--BOUND--\r\n");
    body
}

#[test]
fn management_vertex_import_writes_the_file_and_the_account_serves() {
    let (mock, mints, _) = vertex_mock();
    let auth = scratch_dir("vx-mgmt");
    let srv = start(&mock, &auth, "");
    let import = |body: &str, query: &str| {
        srv.request(
            "POST",
            &format!("/v0/management/vertex/import{query}"),
            &[
                ("X-Management-Key", MGMT_KEY),
                ("Content-Type", "multipart/form-data; boundary=BOUND"),
            ],
            body,
        )
    };
    let r = import(&multipart(&[("other", None, "x")]), "");
    assert_eq!(
        (r.status, r.json()),
        (400, json!({"error": "file required"}))
    );
    let r = import(&multipart(&[("file", Some("sa.json"), "{nope")]), "");
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "invalid json");
    let mut no_key = sa_json("proj-m");
    no_key["private_key"] = json!("garbage");
    let r = import(
        &multipart(&[("file", Some("sa.json"), &no_key.to_string())]),
        "",
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "invalid service account");
    assert_eq!(std::fs::read_dir(&auth).unwrap().count(), 0);

    let body = multipart(&[
        ("file", Some("sa.json"), &sa_json("proj-m").to_string()),
        ("location", None, "global"),
    ]);
    let r = import(&body, "?location=europe-west4");
    assert_eq!(r.status, 200, "{}", r.text());
    let path = auth.join("vertex-proj-m.json");
    let abs = std::path::absolute(&path).unwrap();
    assert_eq!(
        r.json(),
        json!({"status": "ok", "auth-file": abs.display().to_string(), "project_id": "proj-m",
            "email": SA_EMAIL, "location": "global"})
    );
    let v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(
        (v["type"].as_str(), v["location"].as_str()),
        (Some("vertex"), Some("global"))
    );
    // The query's location applies when the form has none.
    let r = import(
        &multipart(&[("file", Some("sa.json"), &sa_json("proj-q").to_string())]),
        "?location=europe-west4",
    );
    assert_eq!(r.json()["location"], "europe-west4");
    std::fs::remove_file(auth.join("vertex-proj-q.json")).unwrap();
    // The auth-dir scan picks the file up; requests reach the global host.
    assert!(eventually(Duration::from_secs(10), || chat(&srv, false)
        .status
        == 200));
    let calls = upstream_calls(&mock);
    let last = calls.last().unwrap();
    assert_eq!(last.header("host"), Some("aiplatform.googleapis.com"));
    assert!(last
        .path
        .starts_with("/v1/projects/proj-m/locations/global/publishers/google/models/"));
    assert_eq!(mints.load(Ordering::SeqCst), 1);
    // Unauthenticated imports are refused.
    let r = srv.request(
        "POST",
        "/v0/management/vertex/import",
        &[("Content-Type", "multipart/form-data; boundary=BOUND")],
        &body,
    );
    assert_eq!(r.status, 401, "{}", r.text());
}

// ---------------------------------------------------------------- Gemini multi-project

/// A Gemini CLI file listing `projects`, its token expiring at `expiry`.
fn multi_project_file(projects: &str, token: &str, expiry: &str) -> String {
    json!({"type":"gemini","email":"g@example.com","project_id":projects,
        "token":{"access_token":token,"refresh_token":"rt-g","token_type":"Bearer","expiry":expiry}})
    .to_string()
}

/// A Cloud Code Assist mock: token refreshes (counted) give `at-new`; the
/// projects in `limited` answer 429; others answer with their project.
fn cloudcode_mock(limited: &'static [&'static str]) -> (Mock, Arc<AtomicUsize>) {
    let refreshes = Arc::new(AtomicUsize::new(0));
    let n = refreshes.clone();
    let mock = Mock::start_tls_named(&HOSTS, move |r| {
        if r.path == "/token" {
            n.fetch_add(1, Ordering::SeqCst);
            return json_reply(
                200,
                r#"{"access_token":"at-new","expires_in":3600,"token_type":"Bearer"}"#,
            );
        }
        if r.path.starts_with("/v1/projects") {
            return json_reply(
                200,
                r#"{"projects":[{"projectId":"p-x","name":"x"},{"projectId":"p-y","name":"y"}]}"#,
            );
        }
        let project = r.json()["project"].as_str().unwrap_or("").to_string();
        if limited.contains(&project.as_str()) {
            return json_reply(
                429,
                r#"{"error":{"code":429,"message":"Resource has been exhausted","status":"RESOURCE_EXHAUSTED",
                    "details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"60s"}]}}"#,
            );
        }
        let c = json!({"response":{"candidates":[{"content":{"role":"model","parts":[{"text":format!("from {project}")}]},
            "finishReason":"STOP","index":0}],
            "usageMetadata":{"promptTokenCount":1,"candidatesTokenCount":2,"totalTokenCount":3}}});
        if r.path.contains("streamGenerateContent") {
            sse_events(&[(None, c)])
        } else {
            json_reply(200, &c.to_string())
        }
    });
    (mock, refreshes)
}

fn projects_called(mock: &Mock) -> Vec<String> {
    upstream_calls(mock)
        .into_iter()
        .filter(|r| r.path.starts_with("/v1internal:"))
        .collect::<Vec<_>>()
        .iter()
        .map(|r| r.json()["project"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn a_multi_project_gemini_file_is_one_credential_per_project_on_one_refresh() {
    let (mock, refreshes) = cloudcode_mock(&[]);
    let auth = scratch_dir("vx-multi");
    // Expired at start: one refresh serves all three projects.
    std::fs::write(
        auth.join("gemini-g@example.com-all.json"),
        multi_project_file("p-a, p-b,p-c,p-a", "at-old", "2020-01-01T00:00:00Z"),
    )
    .unwrap();
    // One worker: one scheduler, so the rotation is exact.
    let srv = Arc::new(start_with(&mock, &auth, "", 1));
    let handles: Vec<_> = (0..6)
        .map(|i| {
            let srv = srv.clone();
            std::thread::spawn(move || {
                if i % 2 == 0 {
                    chat(&srv, i % 4 == 0)
                } else {
                    gemini(&srv, i % 3 == 0)
                }
            })
        })
        .collect();
    for h in handles {
        let r = h.join().unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
    }
    assert_eq!(
        refreshes.load(Ordering::SeqCst),
        1,
        "one refresh for every project"
    );
    let mut seen = projects_called(&mock);
    seen.sort();
    // Round-robin over the three (the duplicate p-a is one project).
    assert_eq!(seen, ["p-a", "p-a", "p-b", "p-b", "p-c", "p-c"]);
    for r in upstream_calls(&mock) {
        assert_eq!(r.header("authorization"), Some("Bearer at-new"));
        assert!(r.path.starts_with("/v1internal:"), "{}", r.path);
    }
    // The management list still names one file.
    let list = srv.request(
        "GET",
        "/v0/management/auth-files",
        &[("X-Management-Key", MGMT_KEY)],
        "",
    );
    assert_eq!(
        list.json()["files"].as_array().map(Vec::len),
        Some(1),
        "{}",
        list.text()
    );
}

#[test]
fn a_429_on_one_project_moves_to_the_next_whatever_quota_exceeded_says() {
    // CLIProxyAPI v6.9 keeps `quota-exceeded.switch-project` /
    // `switch-preview-model` only as settings: a 429 always cools the
    // credential down and the request moves on. So here, with both off.
    for yaml in [
        "",
        "quota-exceeded:\n  switch-project: false\n  switch-preview-model: false\n",
    ] {
        let (mock, refreshes) = cloudcode_mock(&["p-b"]);
        let auth = scratch_dir("vx-429");
        std::fs::write(
            auth.join("gemini-g@example.com-all.json"),
            multi_project_file("p-a,p-b,p-c", "at-live", "2099-01-01T00:00:00Z"),
        )
        .unwrap();
        let srv = start(&mock, &auth, yaml);
        let mut answered = Vec::new();
        for i in 0..6 {
            let r = chat(&srv, i % 2 == 1);
            assert_eq!(r.status, 200, "{yaml:?}: {}", r.text());
            let t = r.text();
            answered.push(if t.contains("from p-a") {
                "p-a"
            } else if t.contains("from p-c") {
                "p-c"
            } else {
                "?"
            });
        }
        assert!(!answered.contains(&"?"), "{answered:?}");
        assert!(
            answered.contains(&"p-a") && answered.contains(&"p-c"),
            "{answered:?}"
        );
        // p-b was tried once, then cooled down: later requests skip it.
        let calls = projects_called(&mock);
        assert_eq!(calls.iter().filter(|p| *p == "p-b").count(), 1, "{calls:?}");
        assert_eq!(refreshes.load(Ordering::SeqCst), 0);
        let warned = srv
            .log_text()
            .lines()
            .any(|l| l.contains("not acted on yet (no effect)") && l.contains("quota-exceeded"));
        assert_eq!(
            warned,
            !yaml.is_empty(),
            "{yaml:?}: the start warns when the switches are set"
        );
    }
}

#[test]
fn a_gemini_file_saying_all_gets_every_listed_project_written_back_and_served() {
    let (mock, _) = cloudcode_mock(&[]);
    let auth = scratch_dir("vx-all");
    let file = auth.join("gemini-g@example.com-all.json");
    std::fs::write(
        &file,
        multi_project_file("ALL", "at-live", "2099-01-01T00:00:00Z"),
    )
    .unwrap();
    let srv = start_with(&mock, &auth, "", 1);
    // Not served until its projects are known; then one credential each.
    assert!(eventually(Duration::from_secs(15), || chat(&srv, false)
        .status
        == 200));
    let saved: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(saved["project_id"], "p-x,p-y");
    assert_eq!(
        saved["token"]["access_token"], "at-live",
        "other fields kept"
    );
    let list = mock
        .requests()
        .into_iter()
        .find(|r| r.path.starts_with("/v1/projects"))
        .expect("the project list was asked");
    assert_eq!(list.header("authorization"), Some("Bearer at-live"));
    for _ in 0..3 {
        assert_eq!(chat(&srv, false).status, 200);
    }
    let mut seen = projects_called(&mock);
    seen.dedup();
    seen.sort();
    seen.dedup();
    assert_eq!(seen, ["p-x", "p-y"]);
}
