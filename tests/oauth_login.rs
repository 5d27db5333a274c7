//! The CLI login flows through the real binary against a mock authorization
//! server, and `oauth::refresh` per kind against the same kind of mock.
//!
//! The mock is a TLS server whose certificate names the real provider hosts;
//! `CLIPROXY_CONNECT_TO` dials those names at the mock and `--upstream-ca`
//! makes the binary trust the test CA, so the code under test uses its
//! production URLs. The browser is simulated: the test reads the printed
//! authorization URL and calls the local callback as the provider's redirect
//! would.
//!
//! Callback ports: the Claude test uses Claude's real port (54545) to prove
//! the default; the others move the listener with CLIProxyAPI's
//! `-oauth-callback-port` to a free port, so no two tests share a port.

mod common;

use common::oauth::*;
use common::*;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::Duration;

const HOSTS: [&str; 11] = [
    "auth.kimi.com",
    "chat.qwen.ai",
    "iflow.cn",
    "cloudresourcemanager.googleapis.com",
    "api.anthropic.com",
    "auth.openai.com",
    "oauth2.googleapis.com",
    "www.googleapis.com",
    "cloudcode-pa.googleapis.com",
    "serviceusage.googleapis.com",
    "claude.ai",
];

// ------------------------------------------------------------ test oracles

fn jwt(claims: Value) -> String {
    format!(
        "{}.{}.sig",
        b64url(br#"{"alg":"none"}"#),
        b64url(claims.to_string().as_bytes())
    )
}

// ------------------------------------------------------------ mock + binary

struct AuthServer {
    mock: Mock,
    ca_path: PathBuf,
    connect_to: String,
    dir: PathBuf,
}

fn host_of(r: &Recorded) -> String {
    r.header("host")
        .unwrap_or("")
        .split(':')
        .next()
        .unwrap_or("")
        .to_string()
}

fn auth_server(script: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> AuthServer {
    let parts = tls_parts_for(&HOSTS);
    let ca = parts.ca_pem.clone();
    let mock = Mock::start_tls_with(parts, script);
    let dir = scratch_dir("oauth");
    let ca_path = dir.join("ca.pem");
    std::fs::write(&ca_path, ca).unwrap();
    let connect_to = HOSTS
        .iter()
        .map(|h| format!("{h}:443={}", mock.addr))
        .collect::<Vec<_>>()
        .join(",");
    AuthServer {
        mock,
        ca_path,
        connect_to,
        dir,
    }
}

impl AuthServer {
    fn requests_to(&self, host: &str, path: &str) -> Vec<Recorded> {
        self.mock
            .requests()
            .into_iter()
            .filter(|r| host_of(r) == host && r.path == path)
            .collect()
    }
    fn auth_dir(&self) -> PathBuf {
        self.dir.join("auths")
    }
}

struct Login {
    child: Child,
    lines: mpsc::Receiver<String>,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

fn start_login(auth: &AuthServer, flags: &[&str]) -> Login {
    start_login_with(auth, flags, "", &auth.connect_to)
}

/// `extra_yaml` is appended to the config; `connect_to` is the
/// `CLIPROXY_CONNECT_TO` the binary gets.
fn start_login_with(
    auth: &AuthServer,
    flags: &[&str],
    extra_yaml: &str,
    connect_to: &str,
) -> Login {
    let cfg = auth.dir.join("config.yaml");
    std::fs::write(
        &cfg,
        format!(
            "port: 0\nauth-dir: {}\n{extra_yaml}",
            auth.auth_dir().display()
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_cliproxy"))
        .args(flags)
        .arg("-config")
        .arg(&cfg)
        .arg("--upstream-ca")
        .arg(&auth.ca_path)
        .env("CLIPROXY_CONNECT_TO", connect_to)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, lines) = mpsc::channel();
    let stdout = Arc::new(Mutex::new(Vec::new()));
    let stderr = Arc::new(Mutex::new(Vec::new()));
    let out = child.stdout.take().unwrap();
    let err = child.stderr.take().unwrap();
    let mut readers = Vec::new();
    {
        let stdout = stdout.clone();
        readers.push(std::thread::spawn(move || {
            for l in BufReader::new(out).lines() {
                let Ok(l) = l else { break };
                stdout.lock().unwrap().push(l.clone());
                let _ = tx.send(l);
            }
        }));
    }
    {
        let stderr = stderr.clone();
        readers.push(std::thread::spawn(move || {
            for l in BufReader::new(err).lines() {
                let Ok(l) = l else { break };
                stderr.lock().unwrap().push(l);
            }
        }));
    }
    Login {
        child,
        lines,
        stdout,
        stderr,
        readers,
    }
}

impl Login {
    /// The first stdout line starting with `prefix`.
    fn line(&self, prefix: &str) -> String {
        loop {
            match self.lines.recv_timeout(Duration::from_secs(20)) {
                Ok(l) if l.starts_with(prefix) => return l,
                Ok(_) => {}
                Err(_) => panic!(
                    "no line starting with {prefix:?}; stdout {:?} stderr {:?}",
                    self.stdout.lock().unwrap(),
                    self.stderr.lock().unwrap()
                ),
            }
        }
    }

    fn exit_code(&mut self) -> i32 {
        let mut code = None;
        let done = eventually(Duration::from_secs(30), || {
            code = self
                .child
                .try_wait()
                .unwrap()
                .map(|s| s.code().unwrap_or(-1));
            code.is_some()
        });
        assert!(done, "login did not end; stderr {:?}", self.stderr());
        // The process is gone: its pipes reach EOF, so the readers end and
        // everything it printed is collected.
        for r in self.readers.drain(..) {
            r.join().unwrap();
        }
        code.unwrap()
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }

    fn stdout(&self) -> String {
        self.stdout.lock().unwrap().join("\n")
    }
}

impl Drop for Login {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The written auth file: its JSON, after checking mode 0600 and that no
/// temp file was left next to it.
fn read_auth_file(dir: &Path, name: &str) -> Value {
    let names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [name.to_string()],
        "exactly the auth file is written"
    );
    let p = dir.join(name);
    let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{name} mode");
    serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Asserts `rfc3339` is `now + secs` within a minute.
fn assert_expiry(v: &Value, secs: u64) {
    let t = cliproxy::accounts::file::parse_rfc3339(v.as_str().expect("an expiry string"))
        .expect("RFC 3339");
    let want = now() + secs;
    assert!(t + 60 >= want && t <= want + 5, "expiry {v} vs now+{secs}");
}

fn decode_form(body: &[u8]) -> HashMap<String, String> {
    form_of(std::str::from_utf8(body).unwrap())
}

// ------------------------------------------------------------ login flows

#[test]
fn claude_login_pkce_on_the_default_callback_port() {
    let auth = auth_server(|r| {
        if host_of(r) == "api.anthropic.com" && r.path == "/v1/oauth/token" {
            json_reply(
                200,
                r#"{"access_token":"sk-ant-oat01-new","refresh_token":"sk-ant-ort01-new",
                    "token_type":"Bearer","expires_in":28800,
                    "account":{"uuid":"acc-uuid-1","email_address":"claude@example.com"},
                    "organization":{"uuid":"org-uuid-1","name":"Example Org"}}"#,
            )
        } else {
            json_reply(404, "{}")
        }
    });
    let mut login = start_login(&auth, &["-claude-login", "-no-browser"]);
    let url = login.line("https://claude.ai/oauth/authorize?");
    let q = query_of(&url);
    assert_eq!(q["client_id"], "9d1c250a-e61b-44d9-88ed-5944d1962f5e");
    assert_eq!(q["redirect_uri"], "http://localhost:54545/callback");
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(
        q["scope"],
        "user:profile user:inference user:sessions:claude_code user:mcp_servers user:file_upload"
    );
    let state = q["state"].clone();
    assert!(state.len() >= 32, "state {state:?}");
    let challenge = q["code_challenge"].clone();
    assert_eq!(challenge.len(), 43);

    // A stray request (favicon) does not end the login.
    assert_eq!(browser_get(54545, "/favicon.ico").0, 404);
    let (status, page) = browser_get(54545, &format!("/callback?code=auth-code-1&state={state}"));
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("successful"), "{page}");
    assert_eq!(login.exit_code(), 0, "stderr {}", login.stderr());

    let ex = auth.requests_to("api.anthropic.com", "/v1/oauth/token");
    assert_eq!(ex.len(), 1);
    assert_eq!(ex[0].method, "POST");
    assert_eq!(ex[0].header("content-type"), Some("application/json"));
    let b = ex[0].json();
    assert_eq!(b["grant_type"], "authorization_code");
    assert_eq!(b["code"], "auth-code-1");
    assert_eq!(b["state"], state.as_str());
    assert_eq!(b["client_id"], "9d1c250a-e61b-44d9-88ed-5944d1962f5e");
    assert_eq!(b["redirect_uri"], "http://localhost:54545/callback");
    let verifier = b["code_verifier"].as_str().unwrap();
    assert_eq!(
        s256(verifier),
        challenge,
        "the verifier matches the challenge"
    );

    let f = read_auth_file(&auth.auth_dir(), "claude-claude@example.com.json");
    assert_eq!(f["type"], "claude");
    assert_eq!(f["access_token"], "sk-ant-oat01-new");
    assert_eq!(f["refresh_token"], "sk-ant-ort01-new");
    assert_eq!(f["email"], "claude@example.com");
    assert_eq!(f["account_uuid"], "acc-uuid-1");
    assert_eq!(f["organization_uuid"], "org-uuid-1");
    assert_eq!(f["organization_name"], "Example Org");
    assert_expiry(&f["expired"], 28800);
    assert_expiry(&f["last_refresh"], 0);
    // The relay's own reader accepts it.
    let parsed = cliproxy::accounts::file::parse(&serde_json::to_vec(&f).unwrap()).unwrap();
    assert_eq!(parsed.email, "claude@example.com");
    assert!(login.stdout().contains("Authentication saved to"));
    assert!(
        !login.stdout().contains("sk-ant-o") && !login.stderr().contains("sk-ant-o"),
        "tokens never printed"
    );
}

fn codex_token_answer(email: &str, plan: &str, account: &str) -> String {
    let id = jwt(json!({
        "email": email,
        "https://api.openai.com/auth": {"chatgpt_account_id": account, "chatgpt_plan_type": plan}
    }));
    json!({
        "access_token": "codex-at", "refresh_token": "codex-rt", "id_token": id,
        "token_type": "Bearer", "expires_in": 864000
    })
    .to_string()
}

#[test]
fn codex_login_pkce_with_a_moved_callback_port() {
    let auth = auth_server(|r| {
        if host_of(r) == "auth.openai.com" && r.path == "/oauth/token" {
            json_reply(
                200,
                &codex_token_answer("codex@example.com", "plus", "acc-plus"),
            )
        } else {
            json_reply(404, "{}")
        }
    });
    let port = free_port();
    let mut login = start_login(
        &auth,
        &[
            "-codex-login",
            "-no-browser",
            "-oauth-callback-port",
            &port.to_string(),
        ],
    );
    let url = login.line("https://auth.openai.com/oauth/authorize?");
    let q = query_of(&url);
    assert_eq!(q["client_id"], "app_EMoamEEZ73f0CkXaXp7hrann");
    assert_eq!(
        q["redirect_uri"], "http://localhost:1455/auth/callback",
        "the registered redirect URI stays"
    );
    assert_eq!(q["scope"], "openid email profile offline_access");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["codex_cli_simplified_flow"], "true");
    let (state, challenge) = (q["state"].clone(), q["code_challenge"].clone());
    let (status, _) = browser_get(
        port,
        &format!("/auth/callback?code=ac%2F1&state={state}&scope=openid"),
    );
    assert_eq!(status, 200);
    assert_eq!(login.exit_code(), 0, "stderr {}", login.stderr());

    let ex = auth.requests_to("auth.openai.com", "/oauth/token");
    assert_eq!(ex.len(), 1);
    assert_eq!(
        ex[0].header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let f = decode_form(&ex[0].body);
    assert_eq!(f["grant_type"], "authorization_code");
    assert_eq!(f["client_id"], "app_EMoamEEZ73f0CkXaXp7hrann");
    assert_eq!(f["code"], "ac/1");
    assert_eq!(f["redirect_uri"], "http://localhost:1455/auth/callback");
    assert_eq!(s256(&f["code_verifier"]), challenge);

    let v = read_auth_file(&auth.auth_dir(), "codex-codex@example.com-plus.json");
    assert_eq!(v["type"], "codex");
    assert_eq!(v["access_token"], "codex-at");
    assert_eq!(v["refresh_token"], "codex-rt");
    assert_eq!(v["email"], "codex@example.com");
    assert_eq!(v["account_id"], "acc-plus");
    assert!(v["id_token"].as_str().unwrap().contains('.'));
    assert_expiry(&v["expired"], 864000);
    let parsed = cliproxy::accounts::file::parse(&serde_json::to_vec(&v).unwrap()).unwrap();
    assert_eq!(
        (parsed.plan.as_str(), parsed.account_id.as_str()),
        ("plus", "acc-plus")
    );
}

#[test]
fn codex_device_login_polls_then_exchanges() {
    let polls = Arc::new(AtomicUsize::new(0));
    let p = polls.clone();
    let auth = auth_server(move |r| {
        if host_of(r) != "auth.openai.com" {
            return json_reply(404, "{}");
        }
        match r.path.as_str() {
            "/api/accounts/deviceauth/usercode" => json_reply(
                200,
                r#"{"device_auth_id":"dev-auth-1","user_code":"WXYZ-1234","interval":"1"}"#,
            ),
            "/api/accounts/deviceauth/token" => {
                if p.fetch_add(1, Ordering::SeqCst) == 0 {
                    json_reply(403, r#"{"error":"authorization_pending"}"#)
                } else {
                    json_reply(
                        200,
                        r#"{"authorization_code":"dev-code","code_verifier":"dev-verifier","code_challenge":"dev-challenge"}"#,
                    )
                }
            }
            "/oauth/token" => json_reply(
                200,
                &codex_token_answer("team@example.com", "team", "acc-team"),
            ),
            _ => json_reply(404, "{}"),
        }
    });
    let mut login = start_login(&auth, &["-codex-device-login", "-no-browser"]);
    assert_eq!(
        login.line("Codex device URL:"),
        "Codex device URL: https://auth.openai.com/codex/device"
    );
    assert_eq!(
        login.line("Codex device code:"),
        "Codex device code: WXYZ-1234"
    );
    assert_eq!(login.exit_code(), 0, "stderr {}", login.stderr());

    let uc = auth.requests_to("auth.openai.com", "/api/accounts/deviceauth/usercode");
    assert_eq!(uc.len(), 1);
    assert_eq!(
        uc[0].json(),
        json!({"client_id": "app_EMoamEEZ73f0CkXaXp7hrann"})
    );
    let pl = auth.requests_to("auth.openai.com", "/api/accounts/deviceauth/token");
    assert_eq!(pl.len(), 2, "pending once, then approved");
    for r in &pl {
        assert_eq!(
            r.json(),
            json!({"device_auth_id": "dev-auth-1", "user_code": "WXYZ-1234"})
        );
    }
    let ex = auth.requests_to("auth.openai.com", "/oauth/token");
    assert_eq!(ex.len(), 1);
    let f = decode_form(&ex[0].body);
    assert_eq!(f["code"], "dev-code");
    assert_eq!(f["code_verifier"], "dev-verifier");
    assert_eq!(
        f["redirect_uri"],
        "https://auth.openai.com/deviceauth/callback"
    );

    use sha2::{Digest, Sha256};
    let hash: String = Sha256::digest(b"acc-team")[..4]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let v = read_auth_file(
        &auth.auth_dir(),
        &format!("codex-{hash}-team@example.com-team.json"),
    );
    assert_eq!(v["account_id"], "acc-team");
    assert_eq!(v["email"], "team@example.com");
}

#[test]
fn gemini_login_discovers_and_onboards_a_project() {
    let onboards = Arc::new(AtomicUsize::new(0));
    let o = onboards.clone();
    let auth = auth_server(move |r| match (host_of(r).as_str(), r.path.as_str()) {
        ("oauth2.googleapis.com", "/token") => json_reply(
            200,
            r#"{"access_token":"ya29.new","refresh_token":"1//gem-rt","expires_in":3599,"token_type":"Bearer"}"#,
        ),
        ("www.googleapis.com", "/oauth2/v1/userinfo?alt=json") => {
            json_reply(200, r#"{"email":"gem@example.com","id":"1"}"#)
        }
        ("cloudcode-pa.googleapis.com", "/v1internal:loadCodeAssist") => json_reply(
            200,
            r#"{"allowedTiers":[{"id":"legacy-tier"},{"id":"free-tier","isDefault":true}]}"#,
        ),
        ("cloudcode-pa.googleapis.com", "/v1internal:onboardUser") => {
            if o.fetch_add(1, Ordering::SeqCst) == 0 {
                json_reply(200, r#"{"name":"operations/op-1","done":false}"#)
            } else {
                json_reply(
                    200,
                    r#"{"name":"operations/op-1","done":true,"response":{"cloudaicompanionProject":{"id":"proj-auto","name":"p"}}}"#,
                )
            }
        }
        (
            "serviceusage.googleapis.com",
            "/v1/projects/proj-auto/services/cloudaicompanion.googleapis.com",
        ) => json_reply(200, r#"{"state":"DISABLED"}"#),
        (
            "serviceusage.googleapis.com",
            "/v1/projects/proj-auto/services/cloudaicompanion.googleapis.com:enable",
        ) => json_reply(200, r#"{"name":"operations/enable"}"#),
        _ => json_reply(404, "{}"),
    });
    let port = free_port();
    let mut login = start_login(
        &auth,
        &[
            "-login",
            "-no-browser",
            "-oauth-callback-port",
            &port.to_string(),
        ],
    );
    let url = login.line("https://accounts.google.com/o/oauth2/auth?");
    let q = query_of(&url);
    assert_eq!(
        q["client_id"],
        "681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com"
    );
    let redirect = format!("http://localhost:{port}/oauth2callback");
    assert_eq!(
        q["redirect_uri"], redirect,
        "Google's redirect follows the port"
    );
    assert_eq!(q["access_type"], "offline");
    assert_eq!(q["prompt"], "consent");
    assert_eq!(q["code_challenge_method"], "S256");
    assert!(q["scope"].contains("https://www.googleapis.com/auth/cloud-platform"));
    let (state, challenge) = (q["state"].clone(), q["code_challenge"].clone());
    let (status, _) = browser_get(
        port,
        &format!("/oauth2callback?state={state}&code=4%2Fgcode"),
    );
    assert_eq!(status, 200);
    assert_eq!(login.exit_code(), 0, "stderr {}", login.stderr());

    let ex = auth.requests_to("oauth2.googleapis.com", "/token");
    assert_eq!(ex.len(), 1);
    let f = decode_form(&ex[0].body);
    assert_eq!(f["grant_type"], "authorization_code");
    assert_eq!(f["code"], "4/gcode");
    assert_eq!(f["redirect_uri"], redirect);
    assert_eq!(f["client_secret"], "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");
    assert_eq!(s256(&f["code_verifier"]), challenge);

    let ui = auth.requests_to("www.googleapis.com", "/oauth2/v1/userinfo?alt=json");
    assert_eq!(ui.len(), 1);
    assert_eq!(ui[0].header("authorization"), Some("Bearer ya29.new"));
    let meta = json!({"ideType":"IDE_UNSPECIFIED","platform":"PLATFORM_UNSPECIFIED","pluginType":"GEMINI"});
    let load = auth.requests_to("cloudcode-pa.googleapis.com", "/v1internal:loadCodeAssist");
    assert_eq!(load.len(), 1);
    assert_eq!(load[0].json(), json!({ "metadata": meta }));
    assert_eq!(load[0].header("authorization"), Some("Bearer ya29.new"));
    assert!(load[0]
        .header("user-agent")
        .unwrap()
        .starts_with("GeminiCLI/"));
    let ob = auth.requests_to("cloudcode-pa.googleapis.com", "/v1internal:onboardUser");
    assert_eq!(
        ob.len(),
        3,
        "discovery polled once more, then the project onboarded"
    );
    assert_eq!(ob[0].json(), json!({"tierId":"free-tier","metadata":meta}));
    assert_eq!(ob[1].json(), ob[0].json());
    assert_eq!(
        ob[2].json(),
        json!({"tierId":"free-tier","metadata":meta,"cloudaicompanionProject":"proj-auto"})
    );
    let en = auth.requests_to(
        "serviceusage.googleapis.com",
        "/v1/projects/proj-auto/services/cloudaicompanion.googleapis.com:enable",
    );
    assert_eq!(en.len(), 1, "the disabled API is enabled");
    assert_eq!(en[0].method, "POST");

    let v = read_auth_file(&auth.auth_dir(), "gemini-gem@example.com-proj-auto.json");
    assert_eq!(v["type"], "gemini");
    assert_eq!(v["email"], "gem@example.com");
    assert_eq!(v["project_id"], "proj-auto");
    assert_eq!(v["auto"], false);
    assert_eq!(v["checked"], true);
    assert_eq!(v["token"]["access_token"], "ya29.new");
    assert_eq!(v["token"]["refresh_token"], "1//gem-rt");
    assert_eq!(
        v["token"]["token_uri"],
        "https://oauth2.googleapis.com/token"
    );
    assert_eq!(
        v["token"]["client_id"],
        "681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com"
    );
    assert_expiry(&v["token"]["expiry"], 3599);
    let parsed = cliproxy::accounts::file::parse(&serde_json::to_vec(&v).unwrap()).unwrap();
    assert_eq!(parsed.project_id, "proj-auto");
    assert_eq!(parsed.refresh_token.expose(), "1//gem-rt");
}

#[test]
fn state_mismatch_shows_an_error_page_and_writes_nothing() {
    let auth = auth_server(|_| json_reply(200, &codex_token_answer("x@example.com", "", "a")));
    let port = free_port();
    let mut login = start_login(
        &auth,
        &[
            "-codex-login",
            "-no-browser",
            "-oauth-callback-port",
            &port.to_string(),
        ],
    );
    let url = login.line("https://auth.openai.com/oauth/authorize?");
    let state = query_of(&url)["state"].clone();
    let (status, page) = browser_get(port, "/auth/callback?code=c&state=forged");
    assert_eq!(status, 400);
    assert!(page.contains("State mismatch"), "{page}");
    assert_eq!(login.exit_code(), 1);
    assert!(
        login.stderr().contains("state mismatch"),
        "{}",
        login.stderr()
    );
    assert!(!login.stderr().contains(&state));
    assert!(auth.mock.requests().is_empty(), "no token exchange");
    let written = std::fs::read_dir(auth.auth_dir())
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(written, 0, "no file");
}

#[test]
fn provider_error_is_shown_and_ends_the_login() {
    let auth = auth_server(|_| json_reply(500, "{}"));
    let port = free_port();
    let mut login = start_login(
        &auth,
        &[
            "-login",
            "-no-browser",
            "-oauth-callback-port",
            &port.to_string(),
        ],
    );
    let url = login.line("https://accounts.google.com/o/oauth2/auth?");
    let state = query_of(&url)["state"].clone();
    let (status, page) = browser_get(
        port,
        &format!("/oauth2callback?error=access_denied&error_description=The+user+said+%3Cno%3E&state={state}"),
    );
    assert_eq!(status, 400);
    assert!(
        page.contains("access_denied: The user said &lt;no&gt;"),
        "{page}"
    );
    assert_eq!(login.exit_code(), 1);
    assert!(
        login.stderr().contains("access_denied"),
        "{}",
        login.stderr()
    );
    assert!(auth.mock.requests().is_empty());
}

#[test]
fn token_endpoint_refusal_at_exchange_is_reported() {
    let auth = auth_server(|_| {
        json_reply(
            400,
            r#"{"error":"invalid_grant","error_description":"Invalid authorization code"}"#,
        )
    });
    let port = free_port();
    let mut login = start_login(
        &auth,
        &[
            "-codex-login",
            "-no-browser",
            "-oauth-callback-port",
            &port.to_string(),
        ],
    );
    let url = login.line("https://auth.openai.com/oauth/authorize?");
    let state = query_of(&url)["state"].clone();
    assert_eq!(
        browser_get(port, &format!("/auth/callback?code=c&state={state}")).0,
        200
    );
    assert_eq!(login.exit_code(), 1);
    assert!(
        login.stderr().contains("refused (400 invalid_grant)"),
        "{}",
        login.stderr()
    );
    assert_eq!(
        std::fs::read_dir(auth.auth_dir())
            .map(|d| d.count())
            .unwrap_or(0),
        0
    );
}

// ------------------------------------------------------------ refresh (in process)

struct Shared {
    mock: Mock,
    net: cliproxy::accounts::Net,
}

/// One mock for every in-process test: `CLIPROXY_CONNECT_TO` is read once
/// per process.
fn shared() -> &'static Shared {
    static S: OnceLock<Shared> = OnceLock::new();
    S.get_or_init(|| {
        let parts = tls_parts_for(&HOSTS);
        let ca = parts.ca_der.clone();
        let mock = Mock::start_tls_with(parts, refresh_script);
        let map = HOSTS
            .iter()
            .map(|h| format!("{h}:443={}", mock.addr))
            .collect::<Vec<_>>()
            .join(",");
        std::env::set_var("CLIPROXY_CONNECT_TO", map);
        let net = cliproxy::accounts::Net {
            tls: cliproxy::upstream::client_tls_config(&[ca]).unwrap(),
            proxy: None,
        };
        Shared { mock, net }
    })
}

/// Refresh tokens name the outcome: `*-bad` is refused, `*-down` fails.
fn refresh_script(r: &Recorded) -> Reply {
    let rt = match host_of(r).as_str() {
        "api.anthropic.com" => r.json()["refresh_token"].as_str().unwrap_or("").to_string(),
        _ => decode_form(&r.body)
            .get("refresh_token")
            .cloned()
            .unwrap_or_default(),
    };
    if rt.ends_with("-bad") {
        return json_reply(
            400,
            &json!({"error":"invalid_grant","error_description":format!("token {rt} revoked")})
                .to_string(),
        );
    }
    if rt.ends_with("-down") {
        return json_reply(503, &json!({"error": format!("busy {rt}")}).to_string());
    }
    match (host_of(r).as_str(), r.path.as_str()) {
        ("api.anthropic.com", "/v1/oauth/token") => json_reply(
            200,
            r#"{"access_token":"claude-at2","refresh_token":"claude-rt2","expires_in":28800,
                "account":{"uuid":"u","email_address":"c@example.com"},"organization":{"uuid":"o","name":"O"}}"#,
        ),
        ("auth.openai.com", "/oauth/token") => {
            json_reply(200, &codex_token_answer("x@example.com", "pro", "acc-x"))
        }
        ("oauth2.googleapis.com", "/token") => json_reply(
            200,
            r#"{"access_token":"ya29.fresh","expires_in":3599,"token_type":"Bearer","scope":"s"}"#,
        ),
        _ => json_reply(404, "{}"),
    }
}

fn refreshes_with(rt: &str) -> Vec<Recorded> {
    shared()
        .mock
        .requests()
        .into_iter()
        .filter(|r| {
            r.json_opt()
                .and_then(|v| v["refresh_token"].as_str().map(|s| s == rt))
                .unwrap_or(false)
                || decode_form(&r.body)
                    .get("refresh_token")
                    .map(String::as_str)
                    == Some(rt)
        })
        .collect()
}

trait JsonOpt {
    fn json_opt(&self) -> Option<Value>;
}
impl JsonOpt for Recorded {
    fn json_opt(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

use cliproxy::accounts::oauth::{refresh, OAuthError};
use cliproxy::accounts::AccountKind;

#[test]
fn refresh_claude_sends_json_and_reads_the_account() {
    let s = shared();
    let t = refresh(AccountKind::Claude, &s.net, "claude-rt-ok").unwrap();
    assert_eq!(t.access_token.expose(), "claude-at2");
    assert_eq!(t.refresh_token.unwrap().expose(), "claude-rt2");
    assert_eq!(t.expires_in, Some(28800));
    assert_eq!(t.extra["email"], "c@example.com");
    assert_eq!(t.extra["organization_uuid"], "o");
    let r = refreshes_with("claude-rt-ok");
    assert_eq!(r.len(), 1);
    assert_eq!(host_of(&r[0]), "api.anthropic.com");
    assert_eq!(r[0].path, "/v1/oauth/token");
    assert_eq!(r[0].header("content-type"), Some("application/json"));
    assert_eq!(
        r[0].json(),
        json!({"client_id":"9d1c250a-e61b-44d9-88ed-5944d1962f5e","grant_type":"refresh_token","refresh_token":"claude-rt-ok"})
    );
}

#[test]
fn refresh_codex_sends_a_form_and_reads_the_id_token() {
    let s = shared();
    let t = refresh(AccountKind::Codex, &s.net, "codex-rt-ok").unwrap();
    assert_eq!(t.access_token.expose(), "codex-at");
    assert_eq!(t.refresh_token.unwrap().expose(), "codex-rt");
    assert!(t.id_token.is_some());
    assert_eq!(t.extra["account_id"], "acc-x");
    assert_eq!(t.extra["email"], "x@example.com");
    let r = refreshes_with("codex-rt-ok");
    assert_eq!(r.len(), 1);
    assert_eq!(
        (host_of(&r[0]).as_str(), r[0].path.as_str()),
        ("auth.openai.com", "/oauth/token")
    );
    let f = decode_form(&r[0].body);
    assert_eq!(f["grant_type"], "refresh_token");
    assert_eq!(f["client_id"], "app_EMoamEEZ73f0CkXaXp7hrann");
    assert_eq!(f["scope"], "openid profile email");
}

#[test]
fn refresh_gemini_keeps_the_refresh_token() {
    let s = shared();
    let t = refresh(AccountKind::Gemini, &s.net, "1//gem-rt-ok").unwrap();
    assert_eq!(t.access_token.expose(), "ya29.fresh");
    assert!(t.refresh_token.is_none(), "Google does not rotate it");
    assert_eq!(t.expires_in, Some(3599));
    let r = refreshes_with("1//gem-rt-ok");
    assert_eq!(r.len(), 1);
    assert_eq!(
        (host_of(&r[0]).as_str(), r[0].path.as_str()),
        ("oauth2.googleapis.com", "/token")
    );
    let f = decode_form(&r[0].body);
    assert_eq!(f["grant_type"], "refresh_token");
    assert_eq!(
        f["client_id"],
        "681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com"
    );
    assert_eq!(f["client_secret"], "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");
}

#[test]
fn refresh_refusals_and_outages_are_told_apart_without_the_token() {
    let s = shared();
    // Vertex service accounts have no refresh token (they mint from the key:
    // tests/oauth_vertex.rs).
    for kind in AccountKind::ALL
        .into_iter()
        .filter(|k| *k != AccountKind::Vertex)
    {
        let bad = format!("{}-secret-rt-bad", kind.as_type());
        match refresh(kind, &s.net, &bad) {
            Err(e @ OAuthError::Rejected { .. }) => {
                let OAuthError::Rejected { status, code } = &e else {
                    unreachable!()
                };
                assert_eq!((*status, code.as_str()), (400, "invalid_grant"), "{kind:?}");
                assert!(!e.to_string().contains("secret-rt"), "{e}");
            }
            other => panic!("{kind:?}: {other:?}"),
        }
        let down = format!("{}-secret-rt-down", kind.as_type());
        match refresh(kind, &s.net, &down) {
            Err(e @ OAuthError::Transient(_)) => {
                assert!(e.to_string().contains("503"), "{e}");
                assert!(!e.to_string().contains("secret-rt"), "{e}");
            }
            other => panic!("{kind:?}: {other:?}"),
        }
        assert!(matches!(
            refresh(kind, &s.net, " "),
            Err(OAuthError::Rejected { .. })
        ));
    }
}

#[test]
fn gemini_login_with_a_named_project_keeps_it() {
    let auth = auth_server(|r| match (host_of(r).as_str(), r.path.as_str()) {
        ("oauth2.googleapis.com", "/token") => json_reply(
            200,
            r#"{"access_token":"ya29.p","refresh_token":"1//p","expires_in":3599}"#,
        ),
        ("www.googleapis.com", "/oauth2/v1/userinfo?alt=json") => {
            json_reply(200, r#"{"email":"pro@example.com"}"#)
        }
        ("cloudcode-pa.googleapis.com", "/v1internal:loadCodeAssist") => json_reply(
            200,
            r#"{"currentTier":{"id":"standard-tier"},"allowedTiers":[{"id":"standard-tier","isDefault":true}],"cloudaicompanionProject":"ignored"}"#,
        ),
        ("cloudcode-pa.googleapis.com", "/v1internal:onboardUser") => json_reply(
            200,
            r#"{"done":true,"response":{"cloudaicompanionProject":{"id":"backend-proj"}}}"#,
        ),
        (
            "serviceusage.googleapis.com",
            "/v1/projects/my-proj/services/cloudaicompanion.googleapis.com",
        ) => json_reply(200, r#"{"state":"ENABLED"}"#),
        _ => json_reply(404, "{}"),
    });
    let port = free_port();
    let mut login = start_login(
        &auth,
        &[
            "-login",
            "-no-browser",
            "-project_id",
            "my-proj",
            "-oauth-callback-port",
            &port.to_string(),
        ],
    );
    let url = login.line("https://accounts.google.com/o/oauth2/auth?");
    let state = query_of(&url)["state"].clone();
    assert_eq!(
        browser_get(port, &format!("/oauth2callback?code=c&state={state}")).0,
        200
    );
    assert_eq!(login.exit_code(), 0, "stderr {}", login.stderr());
    let meta = json!({"ideType":"IDE_UNSPECIFIED","platform":"PLATFORM_UNSPECIFIED","pluginType":"GEMINI"});
    let load = auth.requests_to("cloudcode-pa.googleapis.com", "/v1internal:loadCodeAssist");
    assert_eq!(
        load[0].json(),
        json!({"metadata": meta, "cloudaicompanionProject": "my-proj"})
    );
    let ob = auth.requests_to("cloudcode-pa.googleapis.com", "/v1internal:onboardUser");
    assert_eq!(ob.len(), 1);
    assert_eq!(
        ob[0].json(),
        json!({"tierId":"standard-tier","metadata":meta,"cloudaicompanionProject":"my-proj"})
    );
    let enables: Vec<_> = auth
        .mock
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with(":enable"))
        .collect();
    assert!(enables.is_empty(), "an enabled API is left alone");
    let v = read_auth_file(&auth.auth_dir(), "gemini-pro@example.com-my-proj.json");
    assert_eq!(
        v["project_id"], "my-proj",
        "a paid tier keeps the named project"
    );
}

/// An HTTP CONNECT proxy that tunnels every target to `to`, recording the
/// CONNECT lines it got.
fn connect_proxy(to: std::net::SocketAddr) -> (u16, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { continue };
            let seen = s2.clone();
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut b = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if c.read(&mut b).unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(b[0]);
                }
                let text = String::from_utf8_lossy(&head).into_owned();
                seen.lock()
                    .unwrap()
                    .push(text.lines().next().unwrap_or("").to_string());
                let up = TcpStream::connect(to).unwrap();
                c.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .unwrap();
                let (mut c2, mut up2) = (c.try_clone().unwrap(), up.try_clone().unwrap());
                let t = std::thread::spawn(move || {
                    let _ = std::io::copy(&mut c2, &mut up2);
                    let _ = up2.shutdown(std::net::Shutdown::Write);
                });
                let (mut up3, mut c3) = (up, c);
                let _ = std::io::copy(&mut up3, &mut c3);
                let _ = c3.shutdown(std::net::Shutdown::Write);
                let _ = t.join();
            });
        }
    });
    (port, seen)
}

#[test]
fn login_goes_through_the_configured_proxy() {
    let auth = auth_server(|r| {
        if host_of(r) == "auth.openai.com" && r.path == "/oauth/token" {
            json_reply(200, &codex_token_answer("px@example.com", "pro", "acc-p"))
        } else {
            json_reply(404, "{}")
        }
    });
    let (proxy_port, seen) = connect_proxy(auth.mock.addr);
    let port = free_port();
    // A direct dial would go to a closed local port, never out.
    let dead = HOSTS
        .iter()
        .map(|h| format!("{h}:443=127.0.0.1:1"))
        .collect::<Vec<_>>()
        .join(",");
    let mut login = start_login_with(
        &auth,
        &[
            "-codex-login",
            "-no-browser",
            "-oauth-callback-port",
            &port.to_string(),
        ],
        &format!("proxy-url: http://127.0.0.1:{proxy_port}\n"),
        &dead,
    );
    let url = login.line("https://auth.openai.com/oauth/authorize?");
    let state = query_of(&url)["state"].clone();
    assert_eq!(
        browser_get(port, &format!("/auth/callback?code=c&state={state}")).0,
        200
    );
    assert_eq!(login.exit_code(), 0, "stderr {}", login.stderr());
    assert_eq!(
        seen.lock().unwrap().as_slice(),
        ["CONNECT auth.openai.com:443 HTTP/1.1"]
    );
    read_auth_file(&auth.auth_dir(), "codex-px@example.com-pro.json");
}

#[test]
fn gemini_login_all_onboards_every_listed_project() {
    let auth = auth_server(|r| {
        let onboard = |p: &str| {
            json_reply(
                200,
                &json!({"done":true,"response":{"cloudaicompanionProject":{"id":p}}}).to_string(),
            )
        };
        match (host_of(r).as_str(), r.path.as_str()) {
            ("oauth2.googleapis.com", "/token") => {
                json_reply(200, r#"{"access_token":"ya29.all","expires_in":3599}"#)
            }
            ("www.googleapis.com", _) => json_reply(200, r#"{"email":"all@example.com"}"#),
            ("cloudresourcemanager.googleapis.com", "/v1/projects") => json_reply(
                200,
                r#"{"projects":[{"projectId":"p-one","name":"One"},{"projectId":"p-two","name":"Two"}]}"#,
            ),
            ("cloudcode-pa.googleapis.com", "/v1internal:loadCodeAssist") => json_reply(
                200,
                r#"{"allowedTiers":[{"id":"standard-tier","isDefault":true}]}"#,
            ),
            ("cloudcode-pa.googleapis.com", "/v1internal:onboardUser") => {
                onboard(r.json()["cloudaicompanionProject"].as_str().unwrap_or(""))
            }
            ("serviceusage.googleapis.com", _) => json_reply(200, r#"{"state":"ENABLED"}"#),
            _ => json_reply(404, "{}"),
        }
    });
    let port = free_port();
    let mut login = start_login(
        &auth,
        &[
            "-login",
            "-no-browser",
            "-project_id",
            "ALL",
            "-oauth-callback-port",
            &port.to_string(),
        ],
    );
    let url = login.line("https://accounts.google.com/o/oauth2/auth?");
    let state = query_of(&url)["state"].clone();
    assert_eq!(
        browser_get(port, &format!("/oauth2callback?code=c&state={state}")).0,
        200
    );
    assert_eq!(login.exit_code(), 0, "stderr {}", login.stderr());
    let list = auth.requests_to("cloudresourcemanager.googleapis.com", "/v1/projects");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].header("authorization"), Some("Bearer ya29.all"));
    let ob: Vec<Value> = auth
        .requests_to("cloudcode-pa.googleapis.com", "/v1internal:onboardUser")
        .iter()
        .map(|r| r.json()["cloudaicompanionProject"].clone())
        .collect();
    assert_eq!(ob, [json!("p-one"), json!("p-two")]);
    let v = read_auth_file(&auth.auth_dir(), "gemini-all@example.com-all.json");
    assert_eq!(v["project_id"], "p-one,p-two");
}
