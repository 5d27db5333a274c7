//! Browser-started logins of the part-2 account kinds through the real
//! binary: `/antigravity-auth-url` and `/iflow-auth-url` (redirect flows,
//! through the `is_webui` forwarder to the main-port sinks
//! `/antigravity/callback` and `/iflow/callback`), `POST /iflow-auth-url`
//! (browser cookie), and the device flows `/kimi-auth-url` and
//! `/qwen-auth-url` (a session thread polls the token endpoint), each
//! ending with the file the CLI login writes, `get-auth-status` → ok and,
//! for Antigravity and Kimi, the next proxied request served by the account.
//!
//! The providers are one TLS mock whose certificate names the real hosts;
//! `CLIPROXY_CONNECT_TO` dials them at the mock and `--upstream-ca` trusts
//! its CA. The forwarder listens on a free port
//! (`CLIPROXY_OAUTH_FORWARD_PORT`) instead of the provider's fixed one.

mod common;

use common::mgmt::{auth_status, call, start_with_accounts_env, KEY};
use common::oauth::*;
use common::*;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::TcpListener;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const AG_DAILY: &str = "daily-cloudcode-pa.googleapis.com";
const AG_PROD: &str = "cloudcode-pa.googleapis.com";
const HOSTS: [&str; 11] = [
    "oauth2.googleapis.com",
    "www.googleapis.com",
    AG_DAILY,
    AG_PROD,
    "daily-cloudcode-pa.sandbox.googleapis.com",
    "iflow.cn",
    "platform.iflow.cn",
    "apis.iflow.cn",
    "auth.kimi.com",
    "api.kimi.com",
    "chat.qwen.ai",
];
const AG_CLIENT_ID: &str =
    "1071006060591-tmhssin2h21lcre235vtolojh4g403ep.apps.googleusercontent.com";
const KIMI_URL: &str = "https://www.kimi.com/code/authorize_device?user_code=KIMI-1234";
const QWEN_URL: &str = "https://chat.qwen.ai/authorize?user_code=QW-1&client=qwen-code";

fn body_form(r: &Recorded) -> HashMap<String, String> {
    form_of(std::str::from_utf8(&r.body).unwrap())
}

fn host_of(r: &Recorded) -> String {
    r.header("host")
        .unwrap_or("")
        .split(':')
        .next()
        .unwrap_or("")
        .to_string()
}

/// The token endpoint of a device flow: `authorization_pending` on the
/// first poll, then `tokens` (or `tokens` with a status, for errors).
fn device_token(polls: &AtomicUsize, status: u16, tokens: &str) -> Reply {
    device_token_if(polls, true, status, tokens)
}

/// [`device_token`], pending for ever unless the user `approves`.
fn device_token_if(polls: &AtomicUsize, approves: bool, status: u16, tokens: &str) -> Reply {
    if polls.fetch_add(1, Ordering::SeqCst) == 0 || !approves {
        json_reply(400, r#"{"error":"authorization_pending"}"#)
    } else {
        json_reply(status, tokens)
    }
}

/// Every provider of the tests. Device-flow token polls are counted; the
/// device logins are approved after one pending poll when `approves`.
fn provider(
    r: &Recorded,
    approves: bool,
    kimi_polls: &AtomicUsize,
    qwen_polls: &AtomicUsize,
) -> Reply {
    match (host_of(r).as_str(), r.path.as_str()) {
        // Antigravity's Google login.
        ("oauth2.googleapis.com", "/token") => json_reply(
            200,
            r#"{"access_token":"ya29.ag-web","refresh_token":"1//ag-web","expires_in":3599,"token_type":"Bearer"}"#,
        ),
        ("www.googleapis.com", "/oauth2/v1/userinfo?alt=json") => {
            json_reply(200, r#"{"email":"agweb@example.com"}"#)
        }
        (AG_PROD, "/v1internal:loadCodeAssist") => json_reply(
            200,
            r#"{"cloudaicompanionProject":"proj-web","currentTier":{"id":"free-tier"}}"#,
        ),
        (_, "/v1internal:generateContent") => json_reply(
            200,
            &json!({"response": {"candidates": [{"content": {"role": "model",
                "parts": [{"text": "from antigravity"}]}, "finishReason": "STOP", "index": 0}],
                "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 2,
                "totalTokenCount": 5}}})
            .to_string(),
        ),
        // iFlow: OAuth, user info, cookie key.
        ("iflow.cn", "/oauth/token") => json_reply(
            200,
            r#"{"access_token":"oat-web","refresh_token":"ort-web","expires_in":172800,"token_type":"bearer","scope":"all"}"#,
        ),
        ("iflow.cn", p) if p.starts_with("/api/oauth/getUserInfo") => json_reply(
            200,
            r#"{"success":true,"data":{"apiKey":"sk-iflow-web","email":"","phone":"13800000000"}}"#,
        ),
        ("platform.iflow.cn", "/api/openapi/apikey") if r.method == "GET" => json_reply(
            200,
            r#"{"success":true,"data":{"name":"web*key","apiKeyMask":"sk-***","expireTime":"2026-12-31 00:00"}}"#,
        ),
        ("platform.iflow.cn", "/api/openapi/apikey") => json_reply(
            200,
            r#"{"success":true,"data":{"name":"web*key","apiKey":"sk-cookie","expireTime":"2027-06-30 12:00"}}"#,
        ),
        // Kimi's device flow and API.
        ("auth.kimi.com", "/api/oauth/device_authorization") => json_reply(
            200,
            &json!({"device_code": "dc-kimi", "user_code": "KIMI-1234",
                "verification_uri": "https://www.kimi.com/code/authorize_device",
                "verification_uri_complete": KIMI_URL, "expires_in": 600, "interval": 1})
            .to_string(),
        ),
        ("auth.kimi.com", "/api/oauth/token") => device_token_if(
            kimi_polls,
            approves,
            200,
            r#"{"access_token":"at-kimi-web","refresh_token":"rt-kimi-web","token_type":"Bearer","expires_in":3600,"scope":"kimi-code"}"#,
        ),
        ("api.kimi.com", "/coding/v1/chat/completions") => {
            json_reply(200, &completion("k2", "from kimi"))
        }
        // Qwen's device flow.
        ("chat.qwen.ai", "/api/v1/oauth2/device/code") => json_reply(
            200,
            &json!({"device_code": "dc-qwen", "user_code": "QW-1",
                "verification_uri": "https://chat.qwen.ai/authorize",
                "verification_uri_complete": QWEN_URL, "expires_in": 300, "interval": 1})
            .to_string(),
        ),
        ("chat.qwen.ai", "/api/v1/oauth2/token") => device_token_if(
            qwen_polls,
            approves,
            200,
            r#"{"access_token":"at-qwen-web","refresh_token":"rt-qwen-web","token_type":"Bearer","expires_in":3600,"resource_url":"portal.qwen.ai"}"#,
        ),
        _ => json_reply(404, r#"{"error":"unexpected"}"#),
    }
}

struct Env {
    mock: Mock,
    srv: Server,
    auth: std::path::PathBuf,
    fwd: u16,
    kimi_polls: Arc<AtomicUsize>,
    qwen_polls: Arc<AtomicUsize>,
}

fn start() -> Env {
    start_approving(true)
}

fn start_approving(approves: bool) -> Env {
    let kimi_polls = Arc::new(AtomicUsize::new(0));
    let qwen_polls = Arc::new(AtomicUsize::new(0));
    let (k, q) = (kimi_polls.clone(), qwen_polls.clone());
    let mock = Mock::start_tls_named(&HOSTS, move |r| provider(r, approves, &k, &q));
    let auth = scratch_dir("mgmt-oauth-more-auth");
    let fwd = free_port();
    let fwd_s = fwd.to_string();
    let srv = start_with_accounts_env(
        &mock,
        &auth,
        &HOSTS,
        "mgmt-oauth-more-ca",
        &[("CLIPROXY_OAUTH_FORWARD_PORT", &fwd_s)],
    );
    Env {
        mock,
        srv,
        auth,
        fwd,
        kimi_polls,
        qwen_polls,
    }
}

fn soon(f: impl FnMut() -> bool) -> bool {
    eventually(Duration::from_secs(30), f)
}

/// Waits until the session `state` leaves `wait` and returns its status.
fn outcome(srv: &Server, state: &str) -> Value {
    assert!(
        soon(|| auth_status(srv, state)["status"] != "wait"),
        "the login of {state} ends"
    );
    auth_status(srv, state)
}

/// The browser's way back: the provider's redirect hits the forwarder,
/// whose `302` must name this server's `sink` with the query; following it
/// gets the sink's page.
fn browser_returns(env: &Env, redirect_path: &str, sink: &str, query: &str) {
    let (status, raw) = browser_get(env.fwd, &format!("{redirect_path}?{query}"));
    assert_eq!(status, 302, "{raw}");
    let port = env.srv.addr.port();
    assert_eq!(
        location(&raw),
        format!("http://127.0.0.1:{port}{sink}?{query}")
    );
    let (status, page) = browser_get(port, &format!("{sink}?{query}"));
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("text/html"), "{page}");
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The one file in `dir` whose name starts with `prefix`, mode 0600.
fn file_with(dir: &Path, prefix: &str) -> (String, Value) {
    let names: Vec<String> = files_in(dir)
        .into_iter()
        .filter(|n| n.starts_with(prefix))
        .collect();
    assert_eq!(names.len(), 1, "one {prefix}* file: {:?}", files_in(dir));
    let p = dir.join(&names[0]);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
        0o600
    );
    (
        names[0].clone(),
        serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap(),
    )
}

fn chat(srv: &Server, model: &str) -> Resp {
    post_as(
        srv,
        Client::Chat,
        model,
        false,
        &json!({"model": model, "messages": [{"role":"user","content":"hi"}]}),
    )
}

/// `GET route`: 200 with exactly `status`, `url`, `state`; returns the
/// URL and the state.
fn started(srv: &Server, route: &str) -> (String, String) {
    let r = call(srv, "GET", route, "");
    assert_eq!(r.status, 200, "{route}: {}", r.text());
    let v = r.json();
    assert_eq!(v["status"], "ok", "{route}: {v}");
    assert_eq!(
        v.as_object().unwrap().len(),
        3,
        "{route}: status, url, state: {v}"
    );
    let state = v["state"].as_str().unwrap().to_string();
    assert!(!state.is_empty());
    (v["url"].as_str().unwrap().to_string(), state)
}

#[test]
fn auth_url_routes_of_the_new_kinds_answer_cliproxyapi_shapes() {
    // Nobody approves the device logins here: they stay pending.
    let env = start_approving(false);
    let mut states = Vec::new();

    // Antigravity: Google's page with Antigravity's client, its fixed
    // redirect URI, PKCE S256 and the state.
    let (url, state) = started(&env.srv, "/antigravity-auth-url");
    assert!(
        url.starts_with("https://accounts.google.com/o/oauth2/v2/auth?"),
        "{url}"
    );
    let q = query_of(&url);
    assert_eq!(q["client_id"], AG_CLIENT_ID);
    assert_eq!(q["redirect_uri"], "http://localhost:51121/oauth-callback");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["state"], state);
    states.push(state);

    // iFlow: its page, its fixed redirect and the state.
    let (url, state) = started(&env.srv, "/iflow-auth-url");
    let (base, query) = url.split_once('?').unwrap();
    assert_eq!(base, "https://iflow.cn/oauth");
    let q = form_of(query);
    assert_eq!(q["redirect"], "http://localhost:11451/oauth2callback");
    assert_eq!(q["client_id"], "10009311001");
    assert_eq!(q["state"], state);
    states.push(state);

    // The device flows answer the page with the user code filled in.
    let (url, state) = started(&env.srv, "/kimi-auth-url");
    assert_eq!(url, KIMI_URL);
    assert!(state.starts_with("kmi-"), "{state}");
    states.push(state);
    let (url, state) = started(&env.srv, "/qwen-auth-url");
    assert_eq!(url, QWEN_URL);
    states.push(state);

    let mut unique = states.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), states.len(), "distinct states: {states:?}");
    for s in &states {
        assert_eq!(auth_status(&env.srv, s), json!({"status": "wait"}), "{s}");
    }

    // `is_webui`: the forwarder sends the browser to the kind's own sink.
    for (route, redirect, sink) in [
        (
            "/antigravity-auth-url?is_webui=1",
            "/oauth-callback",
            "/antigravity/callback",
        ),
        (
            "/iflow-auth-url?is_webui=true",
            "/oauth2callback",
            "/iflow/callback",
        ),
    ] {
        let (_, state) = started(&env.srv, route);
        let (status, raw) = browser_get(env.fwd, &format!("{redirect}?x=1"));
        assert_eq!(status, 302, "{route}: {raw}");
        assert_eq!(
            location(&raw),
            format!("http://127.0.0.1:{}{sink}?x=1", env.srv.addr.port()),
            "{route}"
        );
        states.push(state);
    }

    // The routes are management routes: a wrong key is refused.
    for route in ["kimi-auth-url", "qwen-auth-url", "antigravity-auth-url"] {
        let r = env.srv.request(
            "GET",
            &format!("/v0/management/{route}"),
            &[("X-Management-Key", "wrong")],
            "",
        );
        assert_eq!(r.status, 401, "{route}");
    }
    assert_eq!(
        call(&env.srv, "POST", "/kimi-auth-url", "{}").status,
        404,
        "only iFlow takes a POST"
    );

    for s in &states {
        let r = call(&env.srv, "DELETE", &format!("/oauth-session?state={s}"), "");
        assert_eq!(r.json(), json!({"status": "ok", "cancelled": true}), "{s}");
    }
    assert!(files_in(&env.auth).is_empty(), "nothing written");
}

#[test]
fn antigravity_browser_login_writes_the_file_and_the_account_serves() {
    let env = start();
    assert_ne!(
        chat(&env.srv, "gemini-3-flash").status,
        200,
        "no account yet"
    );

    let (url, state) = started(&env.srv, "/antigravity-auth-url?is_webui=1");
    let url_q = query_of(&url);
    browser_returns(
        &env,
        "/oauth-callback",
        "/antigravity/callback",
        &format!("state={state}&code=4%2Fag-web-code&scope=x"),
    );
    assert_eq!(outcome(&env.srv, &state), json!({"status": "ok"}));

    // The exchange: the code, the fixed redirect URI, the verifier of the
    // URL's challenge.
    let ex: Vec<Recorded> = env
        .mock
        .requests()
        .into_iter()
        .filter(|r| host_of(r) == "oauth2.googleapis.com")
        .collect();
    assert_eq!(ex.len(), 1);
    let f = body_form(&ex[0]);
    assert_eq!(f["grant_type"], "authorization_code");
    assert_eq!(f["code"], "4/ag-web-code");
    assert_eq!(f["redirect_uri"], "http://localhost:51121/oauth-callback");
    assert_eq!(f["client_id"], AG_CLIENT_ID);
    assert_eq!(s256(&f["code_verifier"]), url_q["code_challenge"]);

    // The file `-antigravity-login` writes.
    let (name, v) = file_with(&env.auth, "antigravity-");
    assert_eq!(name, "antigravity-agweb@example.com.json");
    assert_eq!(v["type"], "antigravity");
    assert_eq!(v["email"], "agweb@example.com");
    assert_eq!(v["project_id"], "proj-web");
    assert_eq!(v["access_token"], "ya29.ag-web");
    assert_eq!(v["refresh_token"], "1//ag-web");
    assert_eq!(v["expires_in"], 3599);
    let parsed = cliproxy::accounts::file::parse(&std::fs::read(env.auth.join(&name)).unwrap())
        .expect("a valid auth file");
    assert_eq!(parsed.kind, cliproxy::accounts::AccountKind::Antigravity);

    // The next request is served by the new account.
    assert!(
        soon(|| chat(&env.srv, "gemini-3-flash").status == 200),
        "{}",
        env.srv.log_text()
    );
    let r = chat(&env.srv, "gemini-3-flash");
    assert_eq!(
        r.json()["choices"][0]["message"]["content"],
        "from antigravity"
    );
    let last = env
        .mock
        .requests()
        .into_iter()
        .rfind(|r| r.path == "/v1internal:generateContent")
        .expect("an Antigravity request");
    assert_eq!(last.header("authorization"), Some("Bearer ya29.ag-web"));
    assert_eq!(last.json()["project"], "proj-web");

    // The forwarder ended with the session; a finished flow takes no more
    // callbacks (the paste-back accepts CLIProxyAPI's alias).
    assert!(soon(|| TcpListener::bind(("0.0.0.0", env.fwd)).is_ok()));
    let r = call(
        &env.srv,
        "POST",
        "/oauth-callback",
        &json!({"provider": "anti-gravity", "code": "again", "state": state}).to_string(),
    );
    assert_eq!(
        (r.status, r.json()),
        (
            409,
            json!({"status": "error", "error": "oauth flow is already completed"})
        )
    );
}

#[test]
fn iflow_browser_login_and_cookie_login_write_api_key_files() {
    let env = start();

    // OAuth through the forwarder and `/iflow/callback`.
    let (_, state) = started(&env.srv, "/iflow-auth-url?is_webui=1");
    browser_returns(
        &env,
        "/oauth2callback",
        "/iflow/callback",
        &format!("code=code-web&state={state}"),
    );
    assert_eq!(outcome(&env.srv, &state), json!({"status": "ok"}));
    let reqs = env.mock.requests();
    let tok = reqs.iter().find(|r| r.path == "/oauth/token").unwrap();
    let f = body_form(tok);
    assert_eq!(f["grant_type"], "authorization_code");
    assert_eq!(f["code"], "code-web");
    assert_eq!(f["redirect_uri"], "http://localhost:11451/oauth2callback");
    assert!(reqs
        .iter()
        .any(|r| r.path == "/api/oauth/getUserInfo?accessToken=oat-web"));
    // The file `-iflow-login` writes: `iflow-<email or phone>-<unix>.json`.
    let (name, v) = file_with(&env.auth, "iflow-13800000000-");
    assert!(name.ends_with(".json"), "{name}");
    assert_eq!(v["type"], "iflow");
    assert_eq!(v["api_key"], "sk-iflow-web");
    assert_eq!(v["access_token"], "oat-web");
    assert_eq!(v["refresh_token"], "ort-web");
    assert_eq!(v["email"], "13800000000");

    // The cookie: a body without one is refused before any call.
    let calls_before = env.mock.requests().len();
    for body in ["", "{}", r#"{"cookie":"  "}"#, "not json"] {
        let r = call(&env.srv, "POST", "/iflow-auth-url", body);
        assert_eq!(
            (r.status, r.json()),
            (
                400,
                json!({"status": "error", "error": "cookie is required"})
            ),
            "{body:?}"
        );
    }
    // A cookie without BXAuth is a clear 400.
    let r = call(
        &env.srv,
        "POST",
        "/iflow-auth-url",
        r#"{"cookie":"foo=1; bar=2"}"#,
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["status"], "error");
    assert!(r.json()["error"].as_str().is_some_and(|e| !e.is_empty()));
    assert_eq!(env.mock.requests().len(), calls_before, "no call to iFlow");

    let r = call(
        &env.srv,
        "POST",
        "/iflow-auth-url",
        &json!({"cookie": "foo=1;  BXAuth=bx-web; bar=2"}).to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    let (name, file) = file_with(&env.auth, "iflow-webxkey-");
    assert_eq!(
        v,
        json!({"status": "ok",
            "saved_path": env.auth.join(&name).to_string_lossy(),
            "email": "web*key", "expired": "2027-06-30 12:00", "type": "iflow"})
    );
    // The renewal carried the cookie; the file is what `-iflow-cookie`
    // writes (only BXAuth kept).
    let renew: Vec<Recorded> = env
        .mock
        .requests()
        .into_iter()
        .filter(|r| r.path == "/api/openapi/apikey")
        .collect();
    assert_eq!(
        renew.iter().map(|r| r.method.as_str()).collect::<Vec<_>>(),
        ["GET", "POST"]
    );
    assert_eq!(
        renew[0].header("cookie"),
        Some("foo=1; BXAuth=bx-web; bar=2;")
    );
    assert_eq!(file["type"], "iflow");
    assert_eq!(file["api_key"], "sk-cookie");
    assert_eq!(file["email"], "web*key");
    assert_eq!(file["cookie"], "BXAuth=bx-web;");
    assert!(!env.srv.log_text().contains("sk-cookie"), "no key in logs");

    // The same BXAuth again: 409 naming the file, no call made.
    let calls_before = env.mock.requests().len();
    let r = call(
        &env.srv,
        "POST",
        "/iflow-auth-url",
        &json!({"cookie": "BXAuth=bx-web"}).to_string(),
    );
    assert_eq!(
        (r.status, r.json()),
        (
            409,
            json!({"status": "error", "error": "duplicate BXAuth found",
                "existing_file": name})
        )
    );
    assert_eq!(env.mock.requests().len(), calls_before);
}

#[test]
fn kimi_device_login_polls_past_pending_and_the_account_serves() {
    let env = start();
    assert_ne!(chat(&env.srv, "kimi-k2").status, 200, "no account yet");
    let (url, state) = started(&env.srv, "/kimi-auth-url");
    assert_eq!(url, KIMI_URL);
    // The user approves on Kimi's page; the session's thread polls.
    assert_eq!(outcome(&env.srv, &state), json!({"status": "ok"}));
    assert_eq!(
        env.kimi_polls.load(Ordering::SeqCst),
        2,
        "one pending poll, then the tokens"
    );
    let reqs = env.mock.requests();
    let start = reqs
        .iter()
        .find(|r| r.path == "/api/oauth/device_authorization")
        .unwrap();
    let device_id = start.header("x-msh-device-id").unwrap().to_string();
    for poll in reqs.iter().filter(|r| r.path == "/api/oauth/token") {
        let f = body_form(poll);
        assert_eq!(
            f["grant_type"],
            "urn:ietf:params:oauth:grant-type:device_code"
        );
        assert_eq!(f["device_code"], "dc-kimi");
        assert_eq!(poll.header("x-msh-device-id"), Some(device_id.as_str()));
    }
    // The file `-kimi-login` writes.
    let (name, v) = file_with(&env.auth, "kimi-");
    assert!(name.ends_with(".json"), "{name}");
    assert_eq!(v["type"], "kimi");
    assert_eq!(v["access_token"], "at-kimi-web");
    assert_eq!(v["refresh_token"], "rt-kimi-web");
    assert_eq!(v["scope"], "kimi-code");
    assert_eq!(v["device_id"], device_id.as_str());
    assert!(v["expired"].as_str().is_some_and(|e| e.ends_with('Z')));

    // The next request is served by the new account.
    assert!(
        soon(|| chat(&env.srv, "kimi-k2").status == 200),
        "{}",
        env.srv.log_text()
    );
    let last = env
        .mock
        .requests()
        .into_iter()
        .rfind(|r| r.path == "/coding/v1/chat/completions")
        .expect("a Kimi request");
    assert_eq!(last.header("authorization"), Some("Bearer at-kimi-web"));
    assert_eq!(last.header("x-msh-device-id"), Some(device_id.as_str()));
}

#[test]
fn qwen_device_login_labels_the_account_like_cliproxyapi() {
    let env = start();
    let before_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let (url, state) = started(&env.srv, "/qwen-auth-url");
    assert_eq!(url, QWEN_URL);
    assert_eq!(outcome(&env.srv, &state), json!({"status": "ok"}));
    assert_eq!(env.qwen_polls.load(Ordering::SeqCst), 2);
    // No prompt for an email: the account is named by the approval time.
    let (name, v) = file_with(&env.auth, "qwen-");
    let label = v["email"].as_str().unwrap().to_string();
    let ms: u64 = label.parse().expect("unix milliseconds");
    assert!(ms >= before_ms, "{ms} {before_ms}");
    assert_eq!(name, format!("qwen-{label}.json"));
    assert_eq!(v["type"], "qwen");
    assert_eq!(v["access_token"], "at-qwen-web");
    assert_eq!(v["refresh_token"], "rt-qwen-web");
    assert_eq!(v["resource_url"], "portal.qwen.ai");
    // The polls sent the PKCE verifier of the start's challenge.
    let reqs = env.mock.requests();
    let start = reqs
        .iter()
        .find(|r| r.path == "/api/v1/oauth2/device/code")
        .unwrap();
    let challenge = body_form(start)["code_challenge"].clone();
    for poll in reqs.iter().filter(|r| r.path == "/api/v1/oauth2/token") {
        assert_eq!(s256(&body_form(poll)["code_verifier"]), challenge);
    }
}

#[test]
fn a_refused_device_login_reports_an_error_and_writes_nothing() {
    let polls = Arc::new(AtomicUsize::new(0));
    let p = polls.clone();
    let mock = Mock::start_tls_named(&HOSTS, move |r| match r.path.as_str() {
        "/api/oauth/device_authorization" => json_reply(
            200,
            r#"{"device_code":"dc-x","user_code":"X","verification_uri":"https://www.kimi.com/code/authorize_device","expires_in":600,"interval":1}"#,
        ),
        "/api/oauth/token" => device_token(
            &p,
            400,
            r#"{"error":"access_denied","error_description":"the user said no"}"#,
        ),
        _ => json_reply(404, "{}"),
    });
    let auth = scratch_dir("mgmt-oauth-more-denied");
    let ca = mock.write_ca(&scratch_dir("mgmt-oauth-more-ca"));
    let yaml = format!(
        "auth-dir: \"{}\"\nremote-management:\n  secret-key: \"{KEY}\"\n",
        auth.display()
    );
    let srv = Server::start_env(
        "epoll",
        1,
        &yaml,
        &["--upstream-ca", &ca.to_string_lossy()],
        &[("CLIPROXY_CONNECT_TO", &mock.connect_to(&HOSTS))],
    );
    // Without `verification_uri_complete` the page itself is answered.
    let (url, state) = started(&srv, "/kimi-auth-url");
    assert_eq!(url, "https://www.kimi.com/code/authorize_device");
    let v = outcome(&srv, &state);
    assert_eq!(v["status"], "error", "{v}");
    assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{v}");
    assert_eq!(polls.load(Ordering::SeqCst), 2);
    assert!(files_in(&auth).is_empty());
}
