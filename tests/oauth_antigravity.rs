//! Antigravity accounts (`type: "antigravity"`) through the real binary.
//! The Google and Antigravity hosts keep their real names:
//! `CLIPROXY_CONNECT_TO` dials them at a local TLS mock whose certificate
//! names them, trusted with `--upstream-ca`. The login test simulates the
//! browser by calling the local callback as Google's redirect would.

mod common;
use common::oauth::*;
use common::*;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

const DAILY: &str = "daily-cloudcode-pa.googleapis.com";
const PROD: &str = "cloudcode-pa.googleapis.com";
const SANDBOX: &str = "daily-cloudcode-pa.sandbox.googleapis.com";
const HOSTS: [&str; 5] = [
    DAILY,
    PROD,
    SANDBOX,
    "oauth2.googleapis.com",
    "www.googleapis.com",
];
const CLIENT_ID: &str = "1071006060591-tmhssin2h21lcre235vtolojh4g403ep.apps.googleusercontent.com";
const GEMINI_MODEL: &str = "gemini-3-flash";
const CLAUDE_MODEL: &str = "claude-sonnet-4-6";
/// A Claude thought signature as the upstream sends it (with a JSON escape).
const SIG: &str = r"EqQBCkYIBxgCKkB\/9xZ+Tq0h2mZ6c3Y1pQ8vL0kR4sW7nA2bE5dF8gH1jK3mN6oP==";

fn host_of(r: &Recorded) -> String {
    r.header("host")
        .unwrap_or("")
        .split(':')
        .next()
        .unwrap_or("")
        .to_string()
}

fn file(token: &str, expired: &str, project: Option<&str>) -> String {
    let mut v = json!({
        "type": "antigravity",
        "email": "ag@example.com",
        "access_token": token,
        "refresh_token": "rt-ag",
        "expires_in": 3599,
        "timestamp": 1_700_000_000_000u64,
        "expired": expired,
        "operator_note": {"kept": true}
    });
    if let Some(p) = project {
        v["project_id"] = json!(p);
    }
    v.to_string()
}

/// An Antigravity answer: Gemini candidates under `response`, one SSE event
/// per chunk when streaming. Claude models think first (signed).
fn answer(r: &Recorded, text: &str) -> Reply {
    let model = r.json()["model"].as_str().unwrap_or("").to_string();
    let chunk = |parts: Value, last: bool| {
        let mut c = json!({"candidates":[{"content":{"role":"model","parts":parts},"index":0}],
            "modelVersion": model});
        if last {
            c["candidates"][0]["finishReason"] = json!("STOP");
            c["usageMetadata"] =
                json!({"promptTokenCount":3,"candidatesTokenCount":4,"totalTokenCount":7});
        }
        json!({"response": c, "traceId": "tr-1"})
    };
    let claude = model.contains("claude");
    // The signature goes out as the raw bytes of SIG (escape included).
    let thought = json!({"thought":true,"text":"pondering","thoughtSignature":"SIG-HERE"});
    let raw = |v: Value| v.to_string().replace("SIG-HERE", SIG);
    if r.path.contains(":streamGenerateContent") {
        let mut frames = Vec::new();
        if claude {
            frames.push(format!(
                "data: {}\r\n\r\n",
                raw(chunk(json!([thought]), false))
            ));
        }
        frames.push(format!(
            "data: {}\r\n\r\n",
            chunk(json!([{ "text": text }]), false)
        ));
        frames.push(format!(
            "data: {}\r\n\r\n",
            chunk(json!([{"text": ""}]), true)
        ));
        sse_reply(frames)
    } else {
        let mut parts = vec![json!({ "text": text })];
        if claude {
            parts.insert(0, thought);
        }
        json_reply(200, &raw(chunk(Value::Array(parts), true)))
    }
}

fn start(mock: &Mock, auth: &Path, connect_to: &str) -> Server {
    let ca = mock.write_ca(&scratch_dir("ag-ca"));
    let yaml = format!(
        "api-keys: [\"{CLIENT_KEY}\"]\nauth-dir: \"{}\"\n",
        auth.display()
    );
    Server::start_env(
        "epoll",
        1,
        &yaml,
        &["--upstream-ca", &ca.to_string_lossy()],
        &[("CLIPROXY_CONNECT_TO", connect_to)],
    )
}

fn messages(srv: &Server, model: &str, stream: bool) -> Resp {
    post_as(
        srv,
        Client::Claude,
        model,
        stream,
        &json!({"model": model, "max_tokens": 64, "stream": stream,
            "tools": [{"name":"f","input_schema":{"type":"object","properties":{}}}],
            "messages": [{"role":"user","content":"hi"}]}),
    )
}

#[test]
fn gemini_and_claude_models_from_chat_and_claude_clients_in_the_agent_envelope() {
    let mock = Mock::start_tls_named(&HOSTS, |r| answer(r, "served"));
    let auth = scratch_dir("ag-shape");
    std::fs::write(
        auth.join("antigravity-ag@example.com.json"),
        file("at-live", "2099-01-01T00:00:00Z", Some("proj-ag")),
    )
    .unwrap();
    let srv = start(&mock, &auth, &mock.connect_to(&HOSTS));
    let ids = model_ids(&srv);
    for m in [
        GEMINI_MODEL,
        CLAUDE_MODEL,
        "claude-opus-4-6-thinking",
        "gpt-oss-120b-medium",
    ] {
        assert!(ids.iter().any(|i| i == m), "{m} in {ids:?}");
    }
    let mut n = 0;
    for model in [GEMINI_MODEL, CLAUDE_MODEL] {
        for stream in [false, true] {
            for r in [chat_hi(&srv, model, stream), messages(&srv, model, stream)] {
                n += 1;
                assert_eq!(r.status, 200, "{model} {stream}: {}", r.text());
                assert!(
                    r.text().contains("served"),
                    "{model} {stream}: {}",
                    r.text()
                );
            }
            // A Claude client of a Claude model gets the signature byte for byte.
            if model == CLAUDE_MODEL {
                let r = messages(&srv, model, stream);
                n += 1;
                assert!(r.text().contains(SIG), "{stream}: {}", r.text());
            }
        }
    }
    let reqs = mock.requests();
    assert_eq!(reqs.len(), n);
    for r in &reqs {
        let body = r.json();
        let model = body["model"].as_str().unwrap().to_string();
        assert_eq!(host_of(r), DAILY, "the daily host first");
        assert_eq!(r.header("authorization"), Some("Bearer at-live"));
        assert_eq!(
            r.header("user-agent"),
            Some("antigravity/1.21.9 darwin/arm64")
        );
        assert!(
            r.path == "/v1internal:generateContent"
                || r.path == "/v1internal:streamGenerateContent?alt=sse",
            "{}",
            r.path
        );
        assert_eq!(body["userAgent"], "antigravity");
        assert_eq!(body["requestType"], "agent");
        assert_eq!(body["project"], "proj-ag");
        let rid = body["requestId"].as_str().unwrap();
        assert!(rid.starts_with("agent-") && rid.len() == 42, "{rid}");
        let req = &body["request"];
        assert_eq!(req["contents"][0]["parts"][0]["text"], "hi");
        assert!(req["sessionId"].as_str().unwrap().starts_with('-'));
        assert!(req.get("safetySettings").is_none(), "{req}");
        if model == CLAUDE_MODEL {
            assert_eq!(
                req["toolConfig"]["functionCallingConfig"]["mode"], "VALIDATED",
                "{req}"
            );
            assert!(
                r.path.contains("streamGenerateContent"),
                "Claude models always go as streams"
            );
        } else {
            assert!(req["generationConfig"].get("maxOutputTokens").is_none());
        }
    }
    // One conversation, one session.
    let s0 = reqs[0].json()["request"]["sessionId"].clone();
    assert!(reqs.iter().all(|r| r.json()["request"]["sessionId"] == s0));
    // A non-stream Gemini model call stays non-stream.
    assert!(reqs
        .iter()
        .any(|r| r.json()["model"] == GEMINI_MODEL && r.path == "/v1internal:generateContent"));
    assert!(
        !srv.log_text().contains("at-live"),
        "tokens never reach the log"
    );
}

#[test]
fn the_production_host_serves_when_the_daily_one_fails() {
    // Connection refused on the daily host.
    let mock = Mock::start_tls_named(&HOSTS, |r| answer(r, "from prod"));
    let auth = scratch_dir("ag-fallback");
    std::fs::write(
        auth.join("a.json"),
        file("at-live", "2099-01-01T00:00:00Z", Some("p")),
    )
    .unwrap();
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_addr = dead.local_addr().unwrap();
    drop(dead);
    let connect = format!(
        "{DAILY}:443={dead_addr},{}",
        mock.connect_to(&[PROD, "oauth2.googleapis.com"])
    );
    let srv = start(&mock, &auth, &connect);
    let r = chat_hi(&srv, GEMINI_MODEL, false);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("from prod"));
    let reqs = mock.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(host_of(&reqs[0]), PROD);

    // 429 and 503 "no capacity" on the daily host; a 400 does not move on.
    let mock = Mock::start_tls_named(&HOSTS, |r| {
        let prompt = r.json()["request"]["contents"][0]["parts"][0]["text"]
            .as_str()
            .unwrap_or("")
            .to_string();
        match (host_of(r).as_str(), prompt.as_str()) {
            (DAILY, "busy") => json_reply(
                429,
                r#"{"error":{"code":429,"status":"RESOURCE_EXHAUSTED"}}"#,
            ),
            (DAILY, "full") => json_reply(
                503,
                r#"{"error":{"code":503,"message":"No capacity available for model"}}"#,
            ),
            (DAILY, "bad") => json_reply(400, r#"{"error":{"code":400,"message":"bad request"}}"#),
            _ => answer(r, "second host"),
        }
    });
    let srv = start(&mock, &auth, &mock.connect_to(&HOSTS));
    for prompt in ["busy", "full"] {
        let r = post_as(
            &srv,
            Client::Chat,
            GEMINI_MODEL,
            false,
            &json!({"model": GEMINI_MODEL, "messages": [{"role":"user","content":prompt}]}),
        );
        assert_eq!(r.status, 200, "{prompt}: {}", r.text());
        assert!(r.text().contains("second host"));
    }
    let r = post_as(
        &srv,
        Client::Chat,
        GEMINI_MODEL,
        false,
        &json!({"model": GEMINI_MODEL, "messages": [{"role":"user","content":"bad"}]}),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    let hosts: Vec<String> = mock.requests().iter().map(host_of).collect();
    assert_eq!(hosts, [DAILY, PROD, DAILY, PROD, DAILY]);

    // A file's base_url replaces the list: no fallback.
    let auth = scratch_dir("ag-base-url");
    let mut v: Value =
        serde_json::from_str(&file("at-live", "2099-01-01T00:00:00Z", Some("p"))).unwrap();
    v["base_url"] = json!(format!("https://{SANDBOX}/"));
    v["user_agent"] = json!("antigravity/9.9.9 linux/amd64");
    std::fs::write(auth.join("a.json"), v.to_string()).unwrap();
    let mock = Mock::start_tls_named(&HOSTS, |r| {
        if host_of(r) == SANDBOX && r.json()["request"]["contents"][0]["parts"][0]["text"] == "busy"
        {
            json_reply(429, r#"{"error":{"code":429}}"#)
        } else {
            answer(r, "sandbox")
        }
    });
    let srv = start(&mock, &auth, &mock.connect_to(&HOSTS));
    let r = chat_hi(&srv, GEMINI_MODEL, true);
    assert_eq!(r.status, 200, "{}", r.text());
    let r = post_as(
        &srv,
        Client::Chat,
        GEMINI_MODEL,
        false,
        &json!({"model": GEMINI_MODEL, "messages": [{"role":"user","content":"busy"}]}),
    );
    assert_eq!(r.status, 429, "{}", r.text());
    let reqs = mock.requests();
    assert!(reqs.len() >= 2, "{}", reqs.len());
    for r in &reqs {
        assert_eq!(host_of(r), SANDBOX);
        assert_eq!(
            r.header("user-agent"),
            Some("antigravity/9.9.9 linux/amd64")
        );
    }
}

/// Token endpoint (`at-new`) plus upstream answering 401 to other tokens.
fn refreshing_mock() -> (Mock, Arc<AtomicUsize>) {
    let refreshes = Arc::new(AtomicUsize::new(0));
    let n = refreshes.clone();
    let mock = Mock::start_tls_named(&HOSTS, move |r| {
        if r.path == "/token" {
            n.fetch_add(1, Ordering::SeqCst);
            return json_reply(
                200,
                r#"{"access_token":"at-new","expires_in":3599,"token_type":"Bearer"}"#,
            );
        }
        if r.header("authorization") != Some("Bearer at-new") {
            return json_reply(401, r#"{"error":{"code":401,"status":"UNAUTHENTICATED"}}"#);
        }
        answer(r, "fresh")
    });
    (mock, refreshes)
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn an_expired_token_is_refreshed_at_start_and_written_back_in_its_layout() {
    let (mock, refreshes) = refreshing_mock();
    let auth = scratch_dir("ag-refresh");
    let path = auth.join("antigravity-ag@example.com.json");
    std::fs::write(
        &path,
        file("at-old", "2020-01-01T00:00:00Z", Some("proj-ag")),
    )
    .unwrap();
    let srv = start(&mock, &auth, &mock.connect_to(&HOSTS));
    let r = chat_hi(&srv, GEMINI_MODEL, false);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("fresh"));
    assert_eq!(refreshes.load(Ordering::SeqCst), 1);
    let token_calls: Vec<Recorded> = mock
        .requests()
        .into_iter()
        .filter(|r| r.path == "/token")
        .collect();
    assert_eq!(host_of(&token_calls[0]), "oauth2.googleapis.com");
    let form = String::from_utf8(token_calls[0].body.clone()).unwrap();
    assert!(form.contains(&format!("client_id={CLIENT_ID}")), "{form}");
    assert!(
        form.contains("grant_type=refresh_token&refresh_token=rt-ag"),
        "{form}"
    );
    assert!(mock
        .requests()
        .iter()
        .filter(|r| r.path != "/token")
        .all(|r| r.header("authorization") == Some("Bearer at-new")));
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(v["type"], "antigravity");
    assert_eq!(v["access_token"], "at-new");
    assert_eq!(v["refresh_token"], "rt-ag", "kept when Google sends none");
    assert_eq!(v["expires_in"], 3599);
    let ts = v["timestamp"].as_u64().unwrap();
    assert!(
        ts / 1000 + 60 >= now() && ts / 1000 <= now(),
        "timestamp {ts}"
    );
    let exp = cliproxy::accounts::file::parse_rfc3339(v["expired"].as_str().unwrap()).unwrap();
    assert_eq!(exp, ts / 1000 + 3599);
    assert_eq!(v["operator_note"], json!({"kept": true}));
    assert_eq!(v["project_id"], "proj-ag");
    assert_eq!(v["email"], "ag@example.com");
}

#[test]
fn a_401_refreshes_once_then_retries_the_same_account() {
    let (mock, refreshes) = refreshing_mock();
    let auth = scratch_dir("ag-401");
    std::fs::write(
        auth.join("a.json"),
        file("at-revoked", "2099-01-01T00:00:00Z", Some("p")),
    )
    .unwrap();
    let srv = start(&mock, &auth, &mock.connect_to(&HOSTS));
    for stream in [false, true] {
        let r = messages(&srv, CLAUDE_MODEL, stream);
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(r.text().contains("fresh"));
    }
    assert_eq!(refreshes.load(Ordering::SeqCst), 1);
    let auths: Vec<String> = mock
        .requests()
        .iter()
        .filter(|r| r.path != "/token")
        .map(|r| r.header("authorization").unwrap_or("").to_string())
        .collect();
    assert_eq!(
        auths,
        ["Bearer at-revoked", "Bearer at-new", "Bearer at-new"]
    );
}

#[test]
fn a_file_without_a_project_gets_one_from_load_code_assist() {
    let mock = Mock::start_tls_named(&HOSTS, |r| match r.path.as_str() {
        "/v1internal:loadCodeAssist" => {
            json_reply(200, r#"{"cloudaicompanionProject":"proj-found"}"#)
        }
        _ => answer(r, "served"),
    });
    let auth = scratch_dir("ag-project");
    let path = auth.join("a.json");
    std::fs::write(&path, file("at-live", "2099-01-01T00:00:00Z", None)).unwrap();
    let srv = start(&mock, &auth, &mock.connect_to(&HOSTS));
    let stored = || {
        serde_json::from_slice::<Value>(&std::fs::read(&path).unwrap()).unwrap()["project_id"]
            == "proj-found"
    };
    assert!(
        eventually(Duration::from_secs(15), stored),
        "{}",
        srv.log_text()
    );
    let load: Vec<Recorded> = mock
        .requests()
        .into_iter()
        .filter(|r| r.path == "/v1internal:loadCodeAssist")
        .collect();
    assert_eq!(host_of(&load[0]), PROD);
    assert_eq!(
        load[0].json(),
        json!({"metadata":{"ideType":"ANTIGRAVITY","platform":"PLATFORM_UNSPECIFIED","pluginType":"GEMINI"}})
    );
    assert_eq!(
        load[0].header("user-agent"),
        Some("google-api-nodejs-client/9.15.1")
    );
    assert_eq!(load[0].header("authorization"), Some("Bearer at-live"));
    // The reloaded account sends it.
    assert!(eventually(Duration::from_secs(10), || {
        chat_hi(&srv, GEMINI_MODEL, false).status == 200
            && mock
                .requests()
                .last()
                .is_some_and(|r| r.json()["project"] == "proj-found")
    }));
}

// ------------------------------------------------------------ login

#[test]
fn antigravity_login_end_to_end() {
    let mock = Mock::start_tls_named(&HOSTS, |r| match (host_of(r).as_str(), r.path.as_str()) {
        ("oauth2.googleapis.com", "/token") => json_reply(
            200,
            r#"{"access_token":"ya29.ag","refresh_token":"1//ag-rt","expires_in":3599,"token_type":"Bearer"}"#,
        ),
        ("www.googleapis.com", "/oauth2/v1/userinfo?alt=json") => {
            json_reply(200, r#"{"email":"ag@example.com"}"#)
        }
        (PROD, "/v1internal:loadCodeAssist") => json_reply(
            200,
            r#"{"allowedTiers":[{"id":"free-tier","isDefault":true}]}"#,
        ),
        (PROD, "/v1internal:onboardUser") => json_reply(
            200,
            r#"{"done":true,"response":{"cloudaicompanionProject":{"id":"proj-login"}}}"#,
        ),
        _ => json_reply(404, "{}"),
    });
    let dir = scratch_dir("ag-login");
    let ca = mock.write_ca(&dir);
    let auth_dir = dir.join("auths");
    let cfg = dir.join("config.yaml");
    std::fs::write(&cfg, format!("port: 0\nauth-dir: {}\n", auth_dir.display())).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_cliproxy"))
        .args(["-antigravity-login", "-no-browser", "-oauth-callback-port"])
        .arg(port.to_string())
        .arg("-config")
        .arg(&cfg)
        .arg("--upstream-ca")
        .arg(&ca)
        .env("CLIPROXY_CONNECT_TO", mock.connect_to(&HOSTS))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, lines) = mpsc::channel();
    let out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        for l in BufReader::new(out).lines() {
            let Ok(l) = l else { break };
            let _ = tx.send(l);
        }
    });
    let url = loop {
        let l = lines
            .recv_timeout(Duration::from_secs(30))
            .expect("the login prints its URL");
        if l.starts_with("https://accounts.google.com/o/oauth2/v2/auth?") {
            break l;
        }
    };
    let q = form_of(url.split_once('?').unwrap().1);
    assert_eq!(q["client_id"], CLIENT_ID);
    let redirect = format!("http://localhost:{port}/oauth-callback");
    assert_eq!(q["redirect_uri"], redirect);
    assert_eq!(q["access_type"], "offline");
    assert_eq!(q["prompt"], "consent");
    assert_eq!(q["code_challenge_method"], "S256");
    for s in [
        "cloud-platform",
        "userinfo.email",
        "userinfo.profile",
        "cclog",
        "experimentsandconfigs",
    ] {
        assert!(
            q["scope"].contains(&format!("https://www.googleapis.com/auth/{s}")),
            "{s}"
        );
    }
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "GET /oauth-callback?state={}&code=4%2Fag-code HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        q["state"]
    )
    .unwrap();
    let mut page = String::new();
    s.read_to_string(&mut page).unwrap();
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    let mut code = None;
    assert!(eventually(Duration::from_secs(30), || {
        code = child.try_wait().unwrap().map(|s| s.code().unwrap_or(-1));
        code.is_some()
    }));
    reader.join().unwrap();
    assert_eq!(code, Some(0));

    let reqs = mock.requests();
    let ex: Vec<&Recorded> = reqs.iter().filter(|r| r.path == "/token").collect();
    assert_eq!(ex.len(), 1);
    let f = form_of(std::str::from_utf8(&ex[0].body).unwrap());
    assert_eq!(f["grant_type"], "authorization_code");
    assert_eq!(f["code"], "4/ag-code");
    assert_eq!(f["redirect_uri"], redirect);
    assert_eq!(f["client_id"], CLIENT_ID);
    assert_eq!(f["client_secret"], "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");
    use sha2::{Digest, Sha256};
    assert_eq!(
        b64url(&Sha256::digest(f["code_verifier"].as_bytes())),
        q["code_challenge"]
    );
    let ob: Vec<&Recorded> = reqs
        .iter()
        .filter(|r| r.path == "/v1internal:onboardUser")
        .collect();
    assert_eq!(
        ob[0].json(),
        json!({"tierId":"free-tier","metadata":{"ideType":"ANTIGRAVITY","platform":"PLATFORM_UNSPECIFIED","pluginType":"GEMINI"}})
    );

    let p = auth_dir.join("antigravity-ag@example.com.json");
    let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let v: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    assert_eq!(v["type"], "antigravity");
    assert_eq!(v["email"], "ag@example.com");
    assert_eq!(v["project_id"], "proj-login");
    assert_eq!(v["access_token"], "ya29.ag");
    assert_eq!(v["refresh_token"], "1//ag-rt");
    assert_eq!(v["expires_in"], 3599);
    let ts = v["timestamp"].as_u64().unwrap() / 1000;
    assert!(ts + 120 >= now() && ts <= now());
    let parsed = cliproxy::accounts::file::parse(&std::fs::read(&p).unwrap()).unwrap();
    assert_eq!(parsed.kind, cliproxy::accounts::AccountKind::Antigravity);
    assert_eq!(parsed.expires_at, Some(ts + 3599));
}

#[test]
fn token_counts_go_to_count_tokens_without_the_agent_envelope() {
    let mock = Mock::start_tls_named(&HOSTS, |r| {
        if r.path == "/v1internal:countTokens" {
            json_reply(200, r#"{"totalTokens":42}"#)
        } else {
            answer(r, "served")
        }
    });
    let auth = scratch_dir("ag-count");
    std::fs::write(
        auth.join("a.json"),
        file("at-live", "2099-01-01T00:00:00Z", Some("proj-ag")),
    )
    .unwrap();
    let srv = start(&mock, &auth, &mock.connect_to(&HOSTS));
    let r = srv.request(
        "POST",
        "/v1/messages/count_tokens",
        &[
            ("x-api-key", CLIENT_KEY),
            ("anthropic-version", "2023-06-01"),
        ],
        &json!({"model": CLAUDE_MODEL, "messages": [{"role":"user","content":"hi"}]}).to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["input_tokens"], 42);
    let reqs = mock.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(host_of(&reqs[0]), DAILY);
    let body = reqs[0].json();
    assert_eq!(body["request"]["contents"][0]["parts"][0]["text"], "hi");
    for k in ["model", "project", "requestId", "userAgent"] {
        assert!(body.get(k).is_none(), "{k} in {body}");
    }
    assert!(body["request"].get("safetySettings").is_none());
}

#[test]
fn payload_rules_for_the_antigravity_protocol_edit_the_request() {
    let mock = Mock::start_tls_named(&HOSTS, |r| answer(r, "served"));
    let auth = scratch_dir("ag-payload");
    std::fs::write(
        auth.join("a.json"),
        file("at-live", "2099-01-01T00:00:00Z", Some("p")),
    )
    .unwrap();
    let ca = mock.write_ca(&scratch_dir("ag-ca"));
    let yaml = format!(
        "api-keys: [\"{CLIENT_KEY}\"]\nauth-dir: \"{}\"\npayload:\n  override:\n    - models: [{{name: \"gemini-*\", protocol: antigravity}}]\n      params: {{\"generationConfig.topK\": 7}}\n    - models: [{{name: \"gemini-*\", protocol: gemini}}]\n      params: {{\"generationConfig.topP\": 0.1}}\n",
        auth.display()
    );
    let srv = Server::start_env(
        "epoll",
        1,
        &yaml,
        &["--upstream-ca", &ca.to_string_lossy()],
        &[("CLIPROXY_CONNECT_TO", &mock.connect_to(&HOSTS))],
    );
    let r = chat_hi(&srv, GEMINI_MODEL, false);
    assert_eq!(r.status, 200, "{}", r.text());
    let body = mock.requests()[0].json();
    assert_eq!(body["request"]["generationConfig"]["topK"], 7, "{body}");
    assert!(body["request"]["generationConfig"].get("topP").is_none());
    assert_eq!(body["model"], GEMINI_MODEL);
}
