//! OAuth logins started from the management API, through the real binary:
//! the `*-auth-url` routes, the browser's redirect through the `is_webui`
//! forwarder to the main-port sink, `get-auth-status`, the paste-back
//! `/oauth-callback`, cancel, and the written file serving the next request.
//!
//! The provider is a TLS mock whose certificate names the real hosts;
//! `CLIPROXY_CONNECT_TO` dials them at the mock and `--upstream-ca` trusts
//! its CA, so the production URLs are used. The forwarder listens on a free
//! port (`CLIPROXY_OAUTH_FORWARD_PORT`) instead of the provider's fixed one.

mod common;

use common::mgmt::{auth_status, call, start_with_accounts_env};
use common::oauth::*;
use common::*;
use serde_json::{json, Value};
use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

const HOSTS: [&str; 4] = [
    "api.anthropic.com",
    "console.anthropic.com",
    "auth.openai.com",
    "chatgpt.com",
];
const MODEL: &str = "claude-sonnet-4-6";

fn jwt(claims: Value) -> String {
    format!(
        "{}.{}.sig",
        b64url(br#"{"alg":"none"}"#),
        b64url(claims.to_string().as_bytes())
    )
}

/// The provider: token endpoints of Claude and Codex, and Claude's
/// messages endpoint for the account the login wrote.
fn provider(r: &Recorded) -> Reply {
    match r.path.split('?').next().unwrap_or("") {
        "/v1/oauth/token" => json_reply(
            200,
            &json!({
                "access_token": "at-browser",
                "refresh_token": "rt-browser",
                "expires_in": 28800,
                "token_type": "Bearer",
                "account": {"uuid": "acc-uuid", "email_address": "web@example.com"},
                "organization": {"uuid": "org-uuid", "name": "Org"}
            })
            .to_string(),
        ),
        "/oauth/token" => json_reply(
            200,
            &json!({
                "access_token": "cx-access",
                "refresh_token": "cx-refresh",
                "id_token": jwt(json!({
                    "email": "cx@example.com",
                    "https://api.openai.com/auth": {
                        "chatgpt_account_id": "acct-9",
                        "chatgpt_plan_type": "plus"
                    }
                })),
                "expires_in": 3600
            })
            .to_string(),
        ),
        "/v1/messages" => json_reply(200, &claude_message(MODEL, "hi from the browser login")),
        _ => json_reply(404, r#"{"error":"unexpected"}"#),
    }
}

struct Env {
    mock: Mock,
    srv: Server,
    auth: std::path::PathBuf,
    fwd: u16,
}

fn start() -> Env {
    start_with(Mock::start_tls_named(&HOSTS, provider), &HOSTS)
}

fn start_with(mock: Mock, hosts: &[&str]) -> Env {
    let auth = scratch_dir("mgmt-oauth-auth");
    let fwd = free_port();
    let fwd_s = fwd.to_string();
    let srv = start_with_accounts_env(
        &mock,
        &auth,
        hosts,
        "mgmt-oauth-ca",
        &[("CLIPROXY_OAUTH_FORWARD_PORT", &fwd_s)],
    );
    Env {
        mock,
        srv,
        auth,
        fwd,
    }
}

fn soon(f: impl FnMut() -> bool) -> bool {
    eventually(Duration::from_secs(20), f)
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

#[test]
fn auth_url_routes_answer_cliproxyapi_shapes() {
    let env = start();
    let cases = [
        (
            "/anthropic-auth-url",
            "claude.ai",
            "/oauth/authorize",
            "http://localhost:54545/callback",
        ),
        (
            "/codex-auth-url",
            "auth.openai.com",
            "/oauth/authorize",
            "http://localhost:1455/auth/callback",
        ),
        (
            "/gemini-cli-auth-url?project_id=p-1",
            "accounts.google.com",
            "/o/oauth2/auth",
            "http://localhost:8085/oauth2callback",
        ),
    ];
    let mut states = Vec::new();
    for (route, host, path, redirect) in cases {
        let r = call(&env.srv, "GET", route, "");
        assert_eq!(r.status, 200, "{route}: {}", r.text());
        let v = r.json();
        assert_eq!(v["status"], "ok", "{route}");
        let obj = v.as_object().unwrap();
        assert_eq!(obj.len(), 3, "{route}: exactly status, url, state: {v}");
        let url = v["url"].as_str().unwrap();
        let state = v["state"].as_str().unwrap().to_string();
        assert!(
            url.starts_with(&format!("https://{host}{path}?")),
            "{route}: {url}"
        );
        let q = query_of(url);
        assert_eq!(q["state"], state, "{route}");
        assert_eq!(q["redirect_uri"], redirect, "{route}");
        assert_eq!(q["code_challenge_method"], "S256", "{route}");
        assert!(!state.is_empty() && !states.contains(&state));
        assert_eq!(auth_status(&env.srv, &state), json!({"status": "wait"}));
        states.push(state);
    }
    // Another method is not a route.
    assert_eq!(
        call(&env.srv, "POST", "/anthropic-auth-url", "").status,
        404
    );
    // The routes are management routes: a wrong key is refused.
    let r = env.srv.request(
        "GET",
        "/v0/management/anthropic-auth-url",
        &[("X-Management-Key", "wrong")],
        "",
    );
    assert_eq!(r.status, 401);
    // A second browser login of a kind takes the callback port over from
    // the first (the forwarder only passes the query on: either state
    // still reaches its own session).
    for _ in 0..2 {
        let r = call(&env.srv, "GET", "/codex-auth-url?is_webui=true", "");
        assert_eq!(r.status, 200, "{}", r.text());
        states.push(r.json()["state"].as_str().unwrap().to_string());
        let (status, raw) = browser_get(env.fwd, "/auth/callback?x=1");
        assert_eq!(status, 302, "{raw}");
        assert_eq!(
            location(&raw),
            format!(
                "http://127.0.0.1:{}/codex/callback?x=1",
                env.srv.addr.port()
            )
        );
    }
    for s in &states {
        let r = call(&env.srv, "DELETE", &format!("/oauth-session?state={s}"), "");
        assert_eq!(r.json(), json!({"status": "ok", "cancelled": true}));
    }
    assert!(files_in(&env.auth).is_empty(), "nothing written");
}

#[test]
fn browser_flow_writes_the_file_and_the_account_serves() {
    let env = start();
    // Nothing serves the model before the login.
    let chat = |srv: &Server| {
        post_as(
            srv,
            Client::Chat,
            MODEL,
            false,
            &json!({"model": MODEL, "messages": [{"role":"user","content":"hi"}]}),
        )
    };
    assert_ne!(chat(&env.srv).status, 200);

    let v = call(&env.srv, "GET", "/anthropic-auth-url?is_webui=1", "").json();
    assert_eq!(v["status"], "ok", "{v}");
    let state = v["state"].as_str().unwrap().to_string();
    let url_q = query_of(v["url"].as_str().unwrap());

    // The provider redirects the browser to the registered redirect URI;
    // the forwarder sends it on to this server's own sink.
    let (status, raw) = browser_get(
        env.fwd,
        &format!("/callback?code=the-code%23{state}&state={state}"),
    );
    assert_eq!(status, 302, "{raw}");
    let loc = location(&raw);
    let sink = format!(
        "http://127.0.0.1:{}/anthropic/callback?",
        env.srv.addr.port()
    );
    assert!(loc.starts_with(&sink), "{loc}");
    let target = &loc["http://127.0.0.1:".len()..];
    let target = &target[target.find('/').unwrap()..];
    let (status, page) = browser_get(env.srv.addr.port(), target);
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("text/html"));

    assert!(
        soon(|| auth_status(&env.srv, &state)["status"] != "wait"),
        "the login ends"
    );
    assert_eq!(auth_status(&env.srv, &state), json!({"status": "ok"}));

    // The exchange carried the code, the state and the verifier of the
    // challenge in the URL.
    let ex: Vec<Recorded> = env
        .mock
        .requests()
        .into_iter()
        .filter(|r| r.path == "/v1/oauth/token")
        .collect();
    assert_eq!(ex.len(), 1);
    let b = ex[0].json();
    assert_eq!(b["code"], "the-code");
    assert_eq!(b["state"], state.as_str());
    assert_eq!(b["grant_type"], "authorization_code");
    assert_eq!(b["redirect_uri"], "http://localhost:54545/callback");
    assert_eq!(
        s256(b["code_verifier"].as_str().unwrap()),
        url_q["code_challenge"]
    );

    // The file the CLI login would write.
    let name = "claude-web@example.com.json";
    assert_eq!(files_in(&env.auth), [name]);
    let f: Value = serde_json::from_slice(&std::fs::read(env.auth.join(name)).unwrap()).unwrap();
    assert_eq!(f["type"], "claude");
    assert_eq!(f["access_token"], "at-browser");
    assert_eq!(f["refresh_token"], "rt-browser");
    assert_eq!(f["email"], "web@example.com");
    assert_eq!(f["account_uuid"], "acc-uuid");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(env.auth.join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );

    // The next proxied request uses the new account.
    assert!(
        soon(|| chat(&env.srv).status == 200),
        "{} {:?} {}",
        chat(&env.srv).text(),
        std::fs::read_to_string(env.auth.join(name)),
        env.srv.log_text()
    );
    let last = env
        .mock
        .requests()
        .into_iter()
        .rfind(|r| r.path.starts_with("/v1/messages"))
        .expect("a messages request");
    assert_eq!(last.header("authorization"), Some("Bearer at-browser"));

    // The forwarder ended with the session: its port is free again.
    assert!(soon(|| TcpListener::bind(("0.0.0.0", env.fwd)).is_ok()));
    // A finished flow takes no more callbacks.
    let r = call(
        &env.srv,
        "POST",
        "/oauth-callback",
        &json!({"provider": "anthropic", "code": "again", "state": state}).to_string(),
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
fn wrong_state_wrong_provider_and_cancel() {
    let env = start();
    let v = call(&env.srv, "GET", "/codex-auth-url", "").json();
    let state = v["state"].as_str().unwrap().to_string();

    // A redirect naming another state changes nothing (the sink answers
    // its page either way).
    let (status, _) = browser_get(
        env.srv.addr.port(),
        "/codex/callback?code=c&state=not-the-state",
    );
    assert_eq!(status, 200);
    // The Claude sink does not complete a Codex session.
    let (status, _) = browser_get(
        env.srv.addr.port(),
        &format!("/anthropic/callback?code=c&state={state}"),
    );
    assert_eq!(status, 200);
    assert_eq!(auth_status(&env.srv, &state), json!({"status": "wait"}));
    assert_eq!(
        auth_status(&env.srv, "not-the-state"),
        json!({"status": "error", "error": "unknown or expired state"})
    );
    let r = call(&env.srv, "GET", "/get-auth-status?state=a%2Fb", "");
    assert_eq!(
        (r.status, r.json()),
        (400, json!({"status": "error", "error": "invalid state"}))
    );
    assert_eq!(
        call(&env.srv, "GET", "/get-auth-status", "").json(),
        json!({"status": "ok"})
    );

    // Paste-back naming the wrong provider.
    let r = call(
        &env.srv,
        "POST",
        "/oauth-callback",
        &json!({"provider": "anthropic", "code": "c", "state": state}).to_string(),
    );
    assert_eq!(
        (r.status, r.json()),
        (
            400,
            json!({"status": "error", "error": "provider does not match state"})
        )
    );
    for (body, status, msg) in [
        (json!({"code": "c"}), 400, "state is required"),
        (json!({"state": state}), 400, "code or error is required"),
        (json!({"state": "x/y", "code": "c"}), 400, "invalid state"),
        (
            json!({"state": "unknown-state", "code": "c"}),
            404,
            "unknown or expired state",
        ),
        (
            json!({"provider": "nope", "state": state, "code": "c"}),
            400,
            "unsupported provider",
        ),
    ] {
        let r = call(&env.srv, "POST", "/oauth-callback", &body.to_string());
        assert_eq!(
            (r.status, r.json()),
            (status, json!({"status": "error", "error": msg})),
            "{body}"
        );
    }
    assert_eq!(auth_status(&env.srv, &state), json!({"status": "wait"}));

    // Cancel: the session is gone; a late callback is refused.
    let r = call(
        &env.srv,
        "DELETE",
        &format!("/oauth-session?state={state}"),
        "",
    );
    assert_eq!(
        (r.status, r.json()),
        (200, json!({"status": "ok", "cancelled": true}))
    );
    let r = call(
        &env.srv,
        "DELETE",
        &format!("/oauth-session?state={state}"),
        "",
    );
    assert_eq!(r.json(), json!({"status": "ok", "cancelled": false}));
    assert_eq!(
        call(&env.srv, "DELETE", "/oauth-session", "").json(),
        json!({"status": "error", "error": "missing state"})
    );
    assert_eq!(
        auth_status(&env.srv, &state),
        json!({"status": "error", "error": "unknown or expired state"})
    );
    let (status, _) = browser_get(
        env.srv.addr.port(),
        &format!("/codex/callback?code=late&state={state}"),
    );
    assert_eq!(status, 200);
    assert!(
        !env.mock.requests().iter().any(|r| r.path == "/oauth/token"),
        "no exchange after a cancel"
    );
    assert!(files_in(&env.auth).is_empty());

    // A provider error ends the session with an error.
    let v = call(&env.srv, "GET", "/codex-auth-url", "").json();
    let s2 = v["state"].as_str().unwrap().to_string();
    let r = call(
        &env.srv,
        "GET",
        &format!("/oauth-callback?state={s2}&error=access_denied"),
        "",
    );
    assert_eq!(r.json(), json!({"status": "ok"}));
    assert!(soon(|| auth_status(&env.srv, &s2)["status"] == "error"));
    assert_eq!(
        auth_status(&env.srv, &s2)["error"],
        "Authentication failed: access_denied"
    );
    assert!(files_in(&env.auth).is_empty());
}

#[test]
fn paste_back_callback_completes_a_codex_login() {
    let env = start();
    let v = call(&env.srv, "GET", "/codex-auth-url", "").json();
    let state = v["state"].as_str().unwrap().to_string();
    let url_q = query_of(v["url"].as_str().unwrap());
    // The operator copies the address the browser ended on.
    let pasted = format!("http://localhost:1455/auth/callback?code=cx-code&state={state}");
    let r = call(
        &env.srv,
        "POST",
        "/oauth-callback",
        &json!({"provider": "codex", "redirect_url": pasted}).to_string(),
    );
    assert_eq!((r.status, r.json()), (200, json!({"status": "ok"})));
    assert!(soon(|| auth_status(&env.srv, &state)["status"] != "wait"));
    assert_eq!(auth_status(&env.srv, &state), json!({"status": "ok"}));
    let ex: Vec<Recorded> = env
        .mock
        .requests()
        .into_iter()
        .filter(|r| r.path == "/oauth/token")
        .collect();
    assert_eq!(ex.len(), 1);
    let form = query_of(&format!("?{}", String::from_utf8_lossy(&ex[0].body)));
    assert_eq!(form["code"], "cx-code");
    assert_eq!(form["redirect_uri"], "http://localhost:1455/auth/callback");
    assert_eq!(s256(&form["code_verifier"]), url_q["code_challenge"]);
    let name = "codex-cx@example.com-plus.json";
    assert_eq!(files_in(&env.auth), [name]);
    let f: Value = serde_json::from_slice(&std::fs::read(env.auth.join(name)).unwrap()).unwrap();
    assert_eq!(f["type"], "codex");
    assert_eq!(f["access_token"], "cx-access");
    assert_eq!(f["account_id"], "acct-9");
    assert_eq!(f["email"], "cx@example.com");
}

const GOOGLE: [&str; 4] = [
    "oauth2.googleapis.com",
    "www.googleapis.com",
    "cloudcode-pa.googleapis.com",
    "serviceusage.googleapis.com",
];

fn host_of(r: &Recorded) -> String {
    r.header("host")
        .unwrap_or("")
        .split(':')
        .next()
        .unwrap_or("")
        .to_string()
}

#[test]
fn gemini_cli_browser_login_keeps_the_named_project() {
    let mock = Mock::start_tls_named(&GOOGLE, |r| match (host_of(r).as_str(), r.path.as_str()) {
        ("oauth2.googleapis.com", "/token") => json_reply(
            200,
            r#"{"access_token":"ya29.web","refresh_token":"1//web","expires_in":3599}"#,
        ),
        ("www.googleapis.com", "/oauth2/v1/userinfo?alt=json") => {
            json_reply(200, r#"{"email":"g@example.com"}"#)
        }
        ("cloudcode-pa.googleapis.com", "/v1internal:loadCodeAssist") => json_reply(
            200,
            r#"{"currentTier":{"id":"standard-tier"},"allowedTiers":[{"id":"standard-tier","isDefault":true}]}"#,
        ),
        ("cloudcode-pa.googleapis.com", "/v1internal:onboardUser") => json_reply(
            200,
            r#"{"done":true,"response":{"cloudaicompanionProject":{"id":"other"}}}"#,
        ),
        (
            "serviceusage.googleapis.com",
            "/v1/projects/my-proj/services/cloudaicompanion.googleapis.com",
        ) => json_reply(200, r#"{"state":"ENABLED"}"#),
        _ => json_reply(404, "{}"),
    });
    let env = start_with(mock, &GOOGLE);
    let v = call(
        &env.srv,
        "GET",
        "/gemini-cli-auth-url?project_id=my-proj",
        "",
    )
    .json();
    let state = v["state"].as_str().unwrap().to_string();
    let url_q = query_of(v["url"].as_str().unwrap());
    // The browser lands on the main port's Google sink.
    let (status, _) = browser_get(
        env.srv.addr.port(),
        &format!("/google/callback?state={state}&code=g-code&scope=x"),
    );
    assert_eq!(status, 200);
    assert!(soon(|| auth_status(&env.srv, &state)["status"] != "wait"));
    assert_eq!(auth_status(&env.srv, &state), json!({"status": "ok"}));
    let ex: Vec<Recorded> = env
        .mock
        .requests()
        .into_iter()
        .filter(|r| host_of(r) == "oauth2.googleapis.com")
        .collect();
    assert_eq!(ex.len(), 1);
    let form = query_of(&format!("?{}", String::from_utf8_lossy(&ex[0].body)));
    assert_eq!(form["code"], "g-code");
    assert_eq!(form["redirect_uri"], "http://localhost:8085/oauth2callback");
    assert_eq!(s256(&form["code_verifier"]), url_q["code_challenge"]);
    let name = "gemini-g@example.com-my-proj.json";
    assert_eq!(files_in(&env.auth), [name]);
    let f: Value = serde_json::from_slice(&std::fs::read(env.auth.join(name)).unwrap()).unwrap();
    assert_eq!(f["type"], "gemini");
    assert_eq!(f["project_id"], "my-proj");
    assert_eq!(f["email"], "g@example.com");
    assert_eq!(f["token"]["access_token"], "ya29.web");
    assert_eq!(f["token"]["refresh_token"], "1//web");
}
