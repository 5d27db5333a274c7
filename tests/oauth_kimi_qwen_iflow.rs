//! Kimi, Qwen and iFlow accounts through the real binary: request shapes,
//! refresh with write-back, a 401 refreshing once, and the logins end to
//! end. The provider hosts keep their real names: `CLIPROXY_CONNECT_TO`
//! dials them at a local TLS mock whose certificate names them, trusted
//! with `--upstream-ca`.

mod common;
use common::oauth::*;
use common::*;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

const HOSTS: [&str; 8] = [
    "api.kimi.com",
    "auth.kimi.com",
    "portal.qwen.ai",
    "chat.qwen.ai",
    "qwen-res.example.com",
    "apis.iflow.cn",
    "iflow.cn",
    "platform.iflow.cn",
];

const FAR: &str = "2099-01-01T00:00:00Z";
const PAST: &str = "2020-01-01T00:00:00Z";

// ------------------------------------------------------------ test oracles

/// HMAC-SHA256 (RFC 2104), the test's own.
fn hmac_hex(key: &[u8], msg: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let ipad: Vec<u8> = k
        .iter()
        .map(|b| b ^ 0x36)
        .chain(msg.iter().copied())
        .collect();
    let inner = Sha256::digest(&ipad);
    let opad: Vec<u8> = k
        .iter()
        .map(|b| b ^ 0x5c)
        .chain(inner.iter().copied())
        .collect();
    Sha256::digest(&opad)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

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

// ------------------------------------------------------------ the kinds

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum K {
    Kimi,
    Qwen,
    IFlow,
}
const KINDS: [K; 3] = [K::Kimi, K::Qwen, K::IFlow];

impl K {
    /// The client-facing model.
    fn model(self) -> &'static str {
        match self {
            K::Kimi => "kimi-k2",
            K::Qwen => "coder-model",
            K::IFlow => "glm-4.6",
        }
    }
    /// The model name the upstream gets.
    fn upstream_model(self) -> &'static str {
        match self {
            K::Kimi => "k2",
            K::Qwen => "coder-model",
            K::IFlow => "glm-4.6",
        }
    }
    fn host(self) -> &'static str {
        match self {
            K::Kimi => "api.kimi.com",
            K::Qwen => "qwen-res.example.com",
            K::IFlow => "apis.iflow.cn",
        }
    }
    fn path(self) -> &'static str {
        match self {
            K::Kimi => "/coding/v1/chat/completions",
            K::Qwen | K::IFlow => "/v1/chat/completions",
        }
    }
    /// An auth file whose upstream credential is `cred`.
    fn file(self, cred: &str, expired: &str) -> String {
        let mut v = match self {
            K::Kimi => json!({"type":"kimi","access_token":cred,"refresh_token":"rt-old",
                "token_type":"Bearer","device_id":"dev-kimi-1"}),
            K::Qwen => json!({"type":"qwen","access_token":cred,"refresh_token":"rt-old",
                "resource_url":"qwen-res.example.com","email":"q@example.com"}),
            K::IFlow => json!({"type":"iflow","api_key":cred,"access_token":"oauth-old",
                "refresh_token":"rt-old","email":"i@example.com","cookie":""}),
        };
        v["expired"] = json!(expired);
        v["last_refresh"] = json!("2026-01-01T00:00:00Z");
        v["operator_note"] = json!({"kept": true});
        v.to_string()
    }
    /// Whether `r` is one of this kind's token calls (and answers it).
    fn token_answer(self, r: &Recorded) -> Option<Reply> {
        let h = host_of(r);
        match self {
            K::Kimi if h == "auth.kimi.com" && r.path == "/api/oauth/token" => Some(json_reply(
                200,
                r#"{"access_token":"at-new","refresh_token":"rt-new","expires_in":3600,"token_type":"Bearer","scope":"kimi"}"#,
            )),
            K::Qwen if h == "chat.qwen.ai" && r.path == "/api/v1/oauth2/token" => Some(json_reply(
                200,
                r#"{"access_token":"at-new","refresh_token":"rt-new","expires_in":3600,"token_type":"Bearer","resource_url":"qwen-res.example.com"}"#,
            )),
            K::IFlow if h == "iflow.cn" && r.path == "/oauth/token" => Some(json_reply(
                200,
                r#"{"access_token":"oauth-new","refresh_token":"rt-new","expires_in":172800,"token_type":"bearer","scope":"read"}"#,
            )),
            K::IFlow if h == "iflow.cn" && r.path.starts_with("/api/oauth/getUserInfo") => {
                Some(json_reply(
                    200,
                    r#"{"success":true,"data":{"apiKey":"at-new","email":"i@example.com"}}"#,
                ))
            }
            _ => None,
        }
    }
    /// The checks of one upstream request of this kind.
    fn check_head(self, r: &Recorded, cred: &str) {
        assert_eq!(host_of(r), self.host(), "{self:?}");
        assert_eq!(r.path, self.path(), "{self:?}");
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {cred}").as_str()),
            "{self:?}"
        );
        assert_eq!(r.json()["model"], self.upstream_model(), "{self:?}");
        match self {
            K::Kimi => {
                assert_eq!(r.header("user-agent"), Some("KimiCLI/1.10.6"));
                assert_eq!(r.header("x-msh-platform"), Some("kimi_cli"));
                assert_eq!(r.header("x-msh-version"), Some("1.10.6"));
                assert_eq!(r.header("x-msh-device-id"), Some("dev-kimi-1"));
                assert!(r.header("x-msh-device-name").is_some_and(|v| !v.is_empty()));
                assert!(r
                    .header("x-msh-device-model")
                    .is_some_and(|v| v.contains(' ')));
            }
            K::Qwen => {
                // Qwen Code's leading system message, the client's after it.
                let msgs = r.json()["messages"].clone();
                assert_eq!(
                    msgs[0],
                    json!({"role":"system","content":[
                        {"type":"text","text":"","cache_control":{"type":"ephemeral"}}]})
                );
                assert_eq!(msgs[1]["role"], "user");
                assert_eq!(r.header("x-dashscope-authtype"), Some("qwen-oauth"));
                assert_eq!(r.header("x-dashscope-cachecontrol"), Some("enable"));
                assert_eq!(
                    r.header("x-dashscope-useragent"),
                    Some("QwenCode/0.14.2 (darwin; arm64)")
                );
                assert_eq!(
                    r.header("user-agent"),
                    Some("QwenCode/0.14.2 (darwin; arm64)")
                );
                assert_eq!(r.header("x-stainless-lang"), Some("js"));
            }
            K::IFlow => {
                assert_eq!(r.header("user-agent"), Some("iFlow-Cli"));
                let session = r.header("session-id").expect("session-id");
                assert!(
                    session.starts_with("session-") && session.len() == 44,
                    "{session}"
                );
                let ts = r.header("x-iflow-timestamp").expect("timestamp");
                assert!(ts.parse::<u64>().unwrap() > 1_600_000_000_000);
                let want = hmac_hex(
                    cred.as_bytes(),
                    format!("iFlow-Cli:{session}:{ts}").as_bytes(),
                );
                assert_eq!(r.header("x-iflow-signature"), Some(want.as_str()));
            }
        }
    }
    /// (upstream credential, refresh token, expiry) the file holds.
    fn saved(self, v: &Value) -> (String, String, String) {
        let s = |k: &str| v[k].as_str().unwrap_or("").to_string();
        match self {
            K::IFlow => (s("api_key"), s("refresh_token"), s("expired")),
            _ => (s("access_token"), s("refresh_token"), s("expired")),
        }
    }
}

/// An OpenAI Chat answer for `r` (stream or not) saying `text`.
fn chat_answer(r: &Recorded, text: &str) -> Reply {
    let model = r.json()["model"].as_str().unwrap_or("m").to_string();
    if r.json()["stream"] == json!(true) {
        let (a, b) = text.split_at(text.len() / 2);
        sse_reply(chunks(&model, &[a, b]))
    } else {
        json_reply(200, &completion(&model, text))
    }
}

fn is_upstream(r: &Recorded) -> bool {
    r.path.ends_with("/chat/completions")
}

fn upstream_calls(mock: &Mock) -> Vec<Recorded> {
    mock.requests().into_iter().filter(is_upstream).collect()
}

/// A relay with `auth` as its auth-dir, the hosts pointed at `mock`.
fn start(mock: &Mock, auth: &Path, workers: usize) -> Server {
    let ca = mock.write_ca(&scratch_dir("kqi-ca"));
    let yaml = format!(
        "api-keys: [\"{CLIENT_KEY}\"]\nauth-dir: \"{}\"\n",
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

fn messages(srv: &Server, model: &str, stream: bool) -> Resp {
    post_as(
        srv,
        Client::Claude,
        model,
        stream,
        &json!({"model": model, "max_tokens": 64, "stream": stream,
            "messages": [{"role":"user","content":"hi"}]}),
    )
}

/// The text a client got: OpenAI Chat or Anthropic Messages, stream or not.
fn answer_text(r: &Resp, claude: bool, stream: bool) -> String {
    match (claude, stream) {
        (false, false) => r.json()["choices"][0]["message"]["content"]
            .as_str()
            .unwrap_or("")
            .to_string(),
        (false, true) => stream_text(r.body.as_slice()),
        (true, false) => r.json()["content"][0]["text"]
            .as_str()
            .unwrap_or("")
            .to_string(),
        (true, true) => sse_json(r.body.as_slice())
            .iter()
            .filter_map(|e| e["delta"]["text"].as_str().map(String::from))
            .collect(),
    }
}

// ------------------------------------------------------------ serving

#[test]
fn each_kind_serves_chat_and_messages_clients_stream_and_not_with_its_head() {
    for kind in KINDS {
        let mock = Mock::start_tls_named(&HOSTS, move |r| chat_answer(r, "served"));
        let auth = scratch_dir("kqi-kinds");
        std::fs::write(auth.join("acct.json"), kind.file("cred-live", FAR)).unwrap();
        let srv = start(&mock, &auth, 1);
        assert!(
            model_ids(&srv).iter().any(|m| m == kind.model()),
            "{kind:?}: {:?}",
            model_ids(&srv)
        );
        for stream in [false, true] {
            for claude in [false, true] {
                let r = if claude {
                    messages(&srv, kind.model(), stream)
                } else {
                    chat_hi(&srv, kind.model(), stream)
                };
                assert_eq!(r.status, 200, "{kind:?} {stream} {claude}: {}", r.text());
                assert_eq!(
                    answer_text(&r, claude, stream),
                    "served",
                    "{kind:?} stream={stream} claude={claude}: {}",
                    r.text()
                );
            }
        }
        let reqs = mock.requests();
        assert_eq!(reqs.len(), 4, "{kind:?}: no token calls for a live token");
        for (i, r) in reqs.iter().enumerate() {
            kind.check_head(r, "cred-live");
            let stream = i >= 2;
            assert_eq!(r.json()["stream"] == json!(true), stream, "{kind:?} #{i}");
            let accept = if stream {
                "text/event-stream"
            } else {
                "application/json"
            };
            assert_eq!(r.header("accept"), Some(accept), "{kind:?} #{i}");
        }
    }
}

// ------------------------------------------------------------ refresh

/// A mock that is `kind`'s token endpoints and upstream; the upstream
/// answers 401 to any credential but `at-new`. Returns the refresh count.
fn refreshing_mock(kind: K) -> (Mock, Arc<AtomicUsize>) {
    let n = Arc::new(AtomicUsize::new(0));
    let count = n.clone();
    let mock = Mock::start_tls_named(&HOSTS, move |r| {
        if let Some(reply) = kind.token_answer(r) {
            if !r.path.starts_with("/api/oauth/getUserInfo") {
                count.fetch_add(1, Ordering::SeqCst);
            }
            return reply;
        }
        if r.header("authorization") != Some("Bearer at-new") {
            return json_reply(
                401,
                r#"{"error":{"message":"invalid token","type":"invalid_request_error"}}"#,
            );
        }
        chat_answer(r, "fresh")
    });
    (mock, n)
}

/// The token-endpoint call of a refresh, checked for its shape.
fn check_refresh_call(kind: K, mock: &Mock) {
    let calls: Vec<Recorded> = mock
        .requests()
        .into_iter()
        .filter(|r| !is_upstream(r))
        .collect();
    let token = calls
        .iter()
        .find(|r| r.path.ends_with("/token"))
        .expect("a token call");
    let f = body_form(token);
    assert_eq!(f["grant_type"], "refresh_token", "{kind:?}");
    assert_eq!(f["refresh_token"], "rt-old", "{kind:?}");
    match kind {
        K::Kimi => {
            assert_eq!(f["client_id"], "17e5f671-d194-4dfb-9706-5516cb48c098");
            assert_eq!(token.header("x-msh-device-id"), Some("dev-kimi-1"));
            assert_eq!(token.header("x-msh-platform"), Some("cli-proxy-api"));
        }
        K::Qwen => assert_eq!(f["client_id"], "f0304373b74a44d2b584a3fb70ca9e56"),
        K::IFlow => {
            assert_eq!(f["client_id"], "10009311001");
            assert!(token
                .header("authorization")
                .is_some_and(|a| a.starts_with("Basic ")));
            let info = calls
                .iter()
                .find(|r| r.path.starts_with("/api/oauth/getUserInfo"))
                .expect("the API key is fetched with the new token");
            assert_eq!(info.path, "/api/oauth/getUserInfo?accessToken=oauth-new");
        }
    }
}

#[test]
fn an_expired_token_at_start_is_refreshed_once_and_written_back() {
    for kind in KINDS {
        let (mock, refreshes) = refreshing_mock(kind);
        let auth = scratch_dir("kqi-expired");
        let file = auth.join("acct.json");
        std::fs::write(&file, kind.file("cred-old", PAST)).unwrap();
        let srv = start(&mock, &auth, 2);
        let r = chat_hi(&srv, kind.model(), false);
        assert_eq!(r.status, 200, "{kind:?}: {}", r.text());
        assert_eq!(answer_text(&r, false, false), "fresh");
        assert_eq!(refreshes.load(Ordering::SeqCst), 1, "{kind:?}: one refresh");
        let ups = upstream_calls(&mock);
        assert!(!ups.is_empty());
        for u in &ups {
            kind.check_head(u, "at-new");
        }
        check_refresh_call(kind, &mock);
        let saved: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        let (cred, refresh, expiry) = kind.saved(&saved);
        assert_eq!(
            (cred.as_str(), refresh.as_str()),
            ("at-new", "rt-new"),
            "{kind:?}"
        );
        assert_ne!(expiry, PAST, "{kind:?}");
        assert_eq!(saved["operator_note"], json!({"kept": true}), "{kind:?}");
        assert!(saved["last_refresh"].is_string(), "{kind:?}");
        match kind {
            K::Kimi => {
                assert_eq!(saved["device_id"], "dev-kimi-1");
                assert_eq!(saved["scope"], "kimi");
            }
            K::Qwen => assert_eq!(saved["resource_url"], "qwen-res.example.com"),
            K::IFlow => {
                assert_eq!(saved["access_token"], "oauth-new");
                assert_eq!(saved["email"], "i@example.com");
            }
        }
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{kind:?}");
        let log = srv.log_text();
        for secret in ["at-new", "rt-new", "cred-old", "rt-old", "oauth-new"] {
            assert!(!log.contains(secret), "{kind:?}: {secret} in the log");
        }
    }
}

#[test]
fn a_401_refreshes_once_and_retries_and_concurrent_requests_share_it() {
    for kind in KINDS {
        let (mock, refreshes) = refreshing_mock(kind);
        let auth = scratch_dir("kqi-401");
        std::fs::write(auth.join("acct.json"), kind.file("cred-old", FAR)).unwrap();
        let srv = Arc::new(start(&mock, &auth, 2));
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let srv = srv.clone();
                std::thread::spawn(move || {
                    if i % 2 == 0 {
                        chat_hi(&srv, kind.model(), false)
                    } else {
                        messages(&srv, kind.model(), false)
                    }
                })
            })
            .collect();
        for h in handles {
            let r = h.join().unwrap();
            assert_eq!(r.status, 200, "{kind:?}: {}", r.text());
        }
        assert_eq!(
            refreshes.load(Ordering::SeqCst),
            1,
            "{kind:?}: 8 concurrent requests on a dead credential cause one refresh"
        );
        let before = upstream_calls(&mock).len();
        assert_eq!(chat_hi(&srv, kind.model(), true).status, 200);
        let after = upstream_calls(&mock);
        assert_eq!(after.len(), before + 1, "{kind:?}: no more 401s");
        kind.check_head(after.last().unwrap(), "at-new");
    }
}

#[test]
fn an_iflow_cookie_account_renews_its_api_key_with_the_cookie() {
    let mock = Mock::start_tls_named(&HOSTS, |r| {
        if host_of(r) == "platform.iflow.cn" && r.path == "/api/openapi/apikey" {
            return json_reply(
                200,
                r#"{"success":true,"code":"200","message":"ok","data":{"hasExpired":false,"expireTime":"2099-03-04 05:06","name":"key-name","apiKey":"at-new","apiKeyMask":"at-***"}}"#,
            );
        }
        if r.header("authorization") != Some("Bearer at-new") {
            return json_reply(401, r#"{"error":{"message":"bad key"}}"#);
        }
        chat_answer(r, "renewed")
    });
    let auth = scratch_dir("kqi-cookie");
    let file = auth.join("iflow-key-name-1.json");
    std::fs::write(
        &file,
        json!({"type":"iflow","api_key":"sk-old","email":"key-name","expired":"2020-01-01 00:00",
            "cookie":"BXAuth=bx-1;","access_token":"","refresh_token":"","last_refresh":PAST})
        .to_string(),
    )
    .unwrap();
    let srv = start(&mock, &auth, 1);
    let r = messages(&srv, "glm-4.6", true);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(answer_text(&r, true, true), "renewed");
    let renew: Vec<Recorded> = mock
        .requests()
        .into_iter()
        .filter(|r| r.path == "/api/openapi/apikey")
        .collect();
    assert_eq!(renew.len(), 1);
    assert_eq!(renew[0].method, "POST");
    assert_eq!(renew[0].header("cookie"), Some("BXAuth=bx-1;"));
    assert_eq!(renew[0].json(), json!({"name": "key-name"}));
    let saved: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(saved["api_key"], "at-new");
    assert_eq!(
        saved["expired"], "2099-03-04 05:06",
        "the endpoint's own format"
    );
    assert_eq!(saved["cookie"], "BXAuth=bx-1;");
    assert_eq!(saved["access_token"], "", "no OAuth token invented");
}

// ------------------------------------------------------------ logins

struct Login {
    child: Child,
    lines: mpsc::Receiver<String>,
    out: Arc<Mutex<Vec<String>>>,
    err_reader: Option<std::thread::JoinHandle<String>>,
    err: String,
}

/// Runs a login of the binary against `mock`, `stdin` written to it.
fn start_login(mock: &Mock, flags: &[&str], stdin: &str) -> (Login, std::path::PathBuf) {
    start_login_in(&scratch_dir("kqi-login"), mock, flags, stdin)
}

/// [`start_login`] with its config (and `auth-dir`) under `dir`.
fn start_login_in(
    dir: &Path,
    mock: &Mock,
    flags: &[&str],
    stdin: &str,
) -> (Login, std::path::PathBuf) {
    let auth = dir.join("auths");
    let cfg = dir.join("config.yaml");
    std::fs::write(&cfg, format!("port: 0\nauth-dir: {}\n", auth.display())).unwrap();
    let ca = mock.write_ca(dir);
    let mut child = Command::new(env!("CARGO_BIN_EXE_cliproxy"))
        .args(flags)
        .arg("-config")
        .arg(&cfg)
        .arg("--upstream-ca")
        .arg(&ca)
        .env("CLIPROXY_CONNECT_TO", mock.connect_to(&HOSTS))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut sin = child.stdin.take().unwrap();
    sin.write_all(stdin.as_bytes()).unwrap();
    drop(sin);
    let (tx, lines) = mpsc::channel();
    let out = Arc::new(Mutex::new(Vec::new()));
    let stdout = child.stdout.take().unwrap();
    let o = out.clone();
    std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines() {
            let Ok(l) = l else { break };
            o.lock().unwrap().push(l.clone());
            let _ = tx.send(l);
        }
    });
    let mut stderr = child.stderr.take().unwrap();
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    (
        Login {
            child,
            lines,
            out,
            err_reader: Some(err_reader),
            err: String::new(),
        },
        auth,
    )
}

impl Login {
    /// The first stdout line after the one starting with `prefix` when
    /// `next`, else that line.
    fn line(&self, prefix: &str, next: bool) -> String {
        loop {
            let l = self
                .lines
                .recv_timeout(Duration::from_secs(20))
                .unwrap_or_else(|_| panic!("no {prefix:?} line: {:?}", self.out.lock().unwrap()));
            if l.starts_with(prefix) {
                if next {
                    return self.lines.recv_timeout(Duration::from_secs(20)).unwrap();
                }
                return l;
            }
        }
    }

    fn exit_code(&mut self) -> i32 {
        let mut code = None;
        let done = eventually(Duration::from_secs(60), || {
            code = self
                .child
                .try_wait()
                .unwrap()
                .map(|s| s.code().unwrap_or(-1));
            code.is_some()
        });
        assert!(
            done,
            "login did not end; stdout {:?}",
            self.out.lock().unwrap()
        );
        code.unwrap()
    }

    /// Everything the process wrote on stderr (call after it ended: the
    /// reader ends at the pipe's EOF).
    fn stderr(&mut self) -> String {
        if let Some(h) = self.err_reader.take() {
            self.err = h.join().unwrap();
        }
        self.err.clone()
    }
}

impl Drop for Login {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The one file written to `dir` (mode 0600), its name and JSON.
fn written(dir: &Path) -> (String, Value) {
    let names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 1, "exactly one file: {names:?}");
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

#[test]
fn kimi_login_runs_the_device_flow_through_one_pending_poll() {
    let polls = Arc::new(AtomicUsize::new(0));
    let p = polls.clone();
    let mock = Mock::start_tls_named(&HOSTS, move |r| match r.path.as_str() {
        "/api/oauth/device_authorization" => json_reply(
            200,
            r#"{"device_code":"dc-kimi","user_code":"KIMI-1234","verification_uri":"https://www.kimi.com/code/authorize_device","verification_uri_complete":"https://www.kimi.com/code/authorize_device?user_code=KIMI-1234","expires_in":600,"interval":1}"#,
        ),
        "/api/oauth/token" => {
            if p.fetch_add(1, Ordering::SeqCst) == 0 {
                json_reply(
                    200,
                    r#"{"error":"authorization_pending","error_description":"wait"}"#,
                )
            } else {
                json_reply(
                    200,
                    r#"{"access_token":"at-kimi","refresh_token":"rt-kimi","token_type":"Bearer","expires_in":3600,"scope":"kimi-code"}"#,
                )
            }
        }
        _ => json_reply(404, "{}"),
    });
    let (mut login, auth) = start_login(&mock, &["-kimi-login", "-no-browser"], "");
    assert_eq!(
        login.line("To authenticate with Kimi", true),
        "https://www.kimi.com/code/authorize_device?user_code=KIMI-1234"
    );
    assert_eq!(login.line("User code:", false), "User code: KIMI-1234");
    assert_eq!(login.exit_code(), 0, "{}", login.stderr());
    assert_eq!(
        polls.load(Ordering::SeqCst),
        2,
        "one pending poll, then the tokens"
    );
    let reqs = mock.requests();
    let start = &reqs[0];
    assert_eq!(start.path, "/api/oauth/device_authorization");
    assert_eq!(
        body_form(start)["client_id"],
        "17e5f671-d194-4dfb-9706-5516cb48c098"
    );
    let device_id = start.header("x-msh-device-id").unwrap().to_string();
    assert_eq!(device_id.len(), 36, "a UUID: {device_id}");
    for poll in &reqs[1..] {
        let f = body_form(poll);
        assert_eq!(
            f["grant_type"],
            "urn:ietf:params:oauth:grant-type:device_code"
        );
        assert_eq!(f["device_code"], "dc-kimi");
        assert_eq!(poll.header("x-msh-device-id"), Some(device_id.as_str()));
    }
    let (name, v) = written(&auth);
    assert!(
        name.starts_with("kimi-") && name.ends_with(".json"),
        "{name}"
    );
    assert_eq!(v["type"], "kimi");
    assert_eq!(v["access_token"], "at-kimi");
    assert_eq!(v["refresh_token"], "rt-kimi");
    assert_eq!(v["scope"], "kimi-code");
    assert_eq!(v["device_id"], device_id.as_str());
    assert!(v["expired"].as_str().is_some_and(|e| e.ends_with('Z')));
}

#[test]
fn qwen_login_runs_the_pkce_device_flow_and_asks_for_an_email() {
    let polls = Arc::new(AtomicUsize::new(0));
    let p = polls.clone();
    let mock = Mock::start_tls_named(&HOSTS, move |r| match r.path.as_str() {
        "/api/v1/oauth2/device/code" => json_reply(
            200,
            r#"{"device_code":"dc-qwen","user_code":"QW-1","verification_uri":"https://chat.qwen.ai/authorize","verification_uri_complete":"https://chat.qwen.ai/authorize?user_code=QW-1&client=qwen-code","expires_in":300,"interval":1}"#,
        ),
        "/api/v1/oauth2/token" => {
            if p.fetch_add(1, Ordering::SeqCst) == 0 {
                json_reply(400, r#"{"error":"authorization_pending"}"#)
            } else {
                json_reply(
                    200,
                    r#"{"access_token":"at-qwen","refresh_token":"rt-qwen","token_type":"Bearer","expires_in":3600,"resource_url":"portal.qwen.ai"}"#,
                )
            }
        }
        _ => json_reply(404, "{}"),
    });
    let (mut login, auth) = start_login(&mock, &["-qwen-login", "-no-browser"], "me@example.com\n");
    assert_eq!(
        login.line("To authenticate with Qwen", true),
        "https://chat.qwen.ai/authorize?user_code=QW-1&client=qwen-code"
    );
    assert_eq!(login.exit_code(), 0, "{}", login.stderr());
    let reqs = mock.requests();
    let start = body_form(&reqs[0]);
    assert_eq!(start["client_id"], "f0304373b74a44d2b584a3fb70ca9e56");
    assert_eq!(start["scope"], "openid profile email model.completion");
    assert_eq!(start["code_challenge_method"], "S256");
    let polls_seen: Vec<HashMap<String, String>> = reqs[1..].iter().map(body_form).collect();
    assert_eq!(polls_seen.len(), 2);
    for f in &polls_seen {
        assert_eq!(f["device_code"], "dc-qwen");
        // The verifier sent with the polls hashes to the challenge sent first.
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(f["code_verifier"].as_bytes());
        let b64: String = {
            const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
            let mut out = String::new();
            for ch in digest.chunks(3) {
                let n = ch
                    .iter()
                    .enumerate()
                    .fold(0u32, |a, (i, &x)| a | (u32::from(x) << (16 - 8 * i)));
                for i in 0..=ch.len() {
                    out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
                }
            }
            out
        };
        assert_eq!(b64, start["code_challenge"]);
    }
    let (name, v) = written(&auth);
    assert_eq!(name, "qwen-me@example.com.json");
    assert_eq!(v["type"], "qwen");
    assert_eq!(v["email"], "me@example.com");
    assert_eq!(v["access_token"], "at-qwen");
    assert_eq!(v["refresh_token"], "rt-qwen");
    assert_eq!(v["resource_url"], "portal.qwen.ai");
}

#[test]
fn iflow_login_exchanges_the_code_and_stores_the_api_key() {
    let mock = Mock::start_tls_named(&HOSTS, |r| {
        if r.path == "/oauth/token" {
            return json_reply(
                200,
                r#"{"access_token":"oat-1","refresh_token":"ort-1","expires_in":172800,"token_type":"bearer","scope":"all"}"#,
            );
        }
        if r.path.starts_with("/api/oauth/getUserInfo") {
            return json_reply(
                200,
                r#"{"success":true,"data":{"apiKey":"sk-iflow-9","email":"","phone":"13800000000"}}"#,
            );
        }
        json_reply(404, "{}")
    });
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let port_s = port.to_string();
    let (mut login, auth) = start_login(
        &mock,
        &[
            "-iflow-login",
            "-no-browser",
            "-oauth-callback-port",
            &port_s,
        ],
        "",
    );
    let url = login.line("Visit the following URL", true);
    let (base, query) = url.split_once('?').unwrap();
    assert_eq!(base, "https://iflow.cn/oauth");
    let q = form_of(query);
    assert_eq!(q["client_id"], "10009311001");
    assert_eq!(q["loginMethod"], "phone");
    assert_eq!(q["type"], "phone");
    let redirect = format!("http://localhost:{port}/oauth2callback");
    assert_eq!(q["redirect"], redirect);
    // The browser follows iFlow's redirect to the local callback.
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "GET /oauth2callback?code=code-1&state={} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        q["state"]
    )
    .unwrap();
    let mut page = String::new();
    s.read_to_string(&mut page).unwrap();
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert_eq!(login.exit_code(), 0, "{}", login.stderr());
    let reqs = mock.requests();
    let tok = reqs.iter().find(|r| r.path == "/oauth/token").unwrap();
    let f = body_form(tok);
    assert_eq!(f["grant_type"], "authorization_code");
    assert_eq!(f["code"], "code-1");
    assert_eq!(f["redirect_uri"], redirect);
    assert_eq!(f["client_id"], "10009311001");
    assert!(tok.header("authorization").unwrap().starts_with("Basic "));
    assert!(reqs
        .iter()
        .any(|r| r.path == "/api/oauth/getUserInfo?accessToken=oat-1"));
    let (name, v) = written(&auth);
    assert!(
        name.starts_with("iflow-13800000000-") && name.ends_with(".json"),
        "{name}"
    );
    assert_eq!(v["type"], "iflow");
    assert_eq!(v["api_key"], "sk-iflow-9");
    assert_eq!(v["access_token"], "oat-1");
    assert_eq!(v["refresh_token"], "ort-1");
    assert_eq!(v["email"], "13800000000");
    assert!(!login.stderr().contains("sk-iflow-9"));
}

#[test]
fn iflow_cookie_login_turns_the_cookie_into_a_renewed_key() {
    let mock = Mock::start_tls_named(&HOSTS, |r| {
        if r.path != "/api/openapi/apikey" {
            return json_reply(404, "{}");
        }
        if r.method == "GET" {
            json_reply(
                200,
                r#"{"success":true,"data":{"name":"my*key","apiKeyMask":"sk-***","expireTime":"2026-12-31 00:00"}}"#,
            )
        } else {
            json_reply(
                200,
                r#"{"success":true,"data":{"name":"my*key","apiKey":"sk-renewed","expireTime":"2027-06-30 12:00"}}"#,
            )
        }
    });
    let (mut login, auth) = start_login(
        &mock,
        &["-iflow-cookie"],
        "foo=1;  BXAuth=bx-secret; bar=2\n",
    );
    assert_eq!(login.exit_code(), 0, "{}", login.stderr());
    let reqs = mock.requests();
    assert_eq!(
        reqs.iter().map(|r| r.method.as_str()).collect::<Vec<_>>(),
        ["GET", "POST"]
    );
    for r in &reqs {
        assert_eq!(r.header("cookie"), Some("foo=1; BXAuth=bx-secret; bar=2;"));
    }
    assert_eq!(reqs[1].json(), json!({"name": "my*key"}));
    let (name, v) = written(&auth);
    assert!(name.starts_with("iflow-myxkey-"), "{name}");
    assert_eq!(v["api_key"], "sk-renewed");
    assert_eq!(v["email"], "my*key");
    assert_eq!(v["expired"], "2027-06-30 12:00");
    assert_eq!(v["cookie"], "BXAuth=bx-secret;", "only BXAuth is kept");
    // The same BXAuth again is refused: a file already holds it.
    let dir = auth.parent().unwrap().to_path_buf();
    let (mut again, _) = start_login_in(&dir, &mock, &["-iflow-cookie"], "BXAuth=bx-secret\n");
    assert_eq!(again.exit_code(), 1);
    assert!(again.stderr().contains(&name), "{}", again.stderr());
    assert_eq!(mock.requests().len(), 2, "no call for a duplicate");
    assert_eq!(written(&auth).0, name);
}

// ------------------------------------------------------------ shaping

#[test]
fn channels_take_aliases_exclusions_and_list_their_models() {
    let mock = Mock::start_tls_named(&HOSTS, move |r| chat_answer(r, "aliased"));
    let auth = scratch_dir("kqi-shape");
    for kind in KINDS {
        std::fs::write(
            auth.join(format!("{kind:?}.json")),
            kind.file("cred-live", FAR),
        )
        .unwrap();
    }
    let ca = mock.write_ca(&scratch_dir("kqi-ca"));
    let yaml = format!(
        "api-keys: [\"{CLIENT_KEY}\"]\nauth-dir: \"{}\"\nremote-management:\n  secret-key: \"mgmt-key-1\"\n\
         oauth-model-alias:\n  kimi:\n    - name: kimi-k2.5\n      alias: k-fast\n  iflow:\n    - name: glm-4.6\n      alias: glm\n      fork: true\n\
         oauth-excluded-models:\n  iflow:\n    - \"qwen3-*\"\n",
        auth.display()
    );
    let srv = Server::start_env(
        "epoll",
        1,
        &yaml,
        &["--upstream-ca", &ca.to_string_lossy()],
        &[("CLIPROXY_CONNECT_TO", &mock.connect_to(&HOSTS))],
    );
    let ids = model_ids(&srv);
    let has = |m: &str| ids.iter().any(|i| i == m);
    assert!(
        has("k-fast") && !has("kimi-k2.5"),
        "alias replaces: {ids:?}"
    );
    assert!(has("glm") && has("glm-4.6"), "fork keeps both: {ids:?}");
    assert!(
        !has("qwen3-max") && has("deepseek-v3.2"),
        "exclusions: {ids:?}"
    );
    assert!(has("coder-model"));
    // An alias reaches the upstream under the upstream name.
    let r = chat_hi(&srv, "k-fast", false);
    assert_eq!(r.status, 200, "{}", r.text());
    let last = upstream_calls(&mock).pop().unwrap();
    assert_eq!(host_of(&last), "api.kimi.com");
    assert_eq!(last.json()["model"], "k2.5");
    let r = messages(&srv, "glm", false);
    assert_eq!(r.status, 200, "{}", r.text());
    let last = upstream_calls(&mock).pop().unwrap();
    assert_eq!(host_of(&last), "apis.iflow.cn");
    assert_eq!(last.json()["model"], "glm-4.6");
    // The management catalog knows the three channels.
    for (ch, first) in [
        ("kimi", "kimi-k2"),
        ("qwen", "coder-model"),
        ("iflow", "qwen3-coder-plus"),
    ] {
        let r = srv.request(
            "GET",
            &format!("/v0/management/model-definitions/{ch}"),
            &[("X-Management-Key", "mgmt-key-1")],
            "",
        );
        assert_eq!(r.status, 200, "{ch}: {}", r.text());
        assert_eq!(r.json()["models"][0]["id"], first, "{ch}");
        assert_eq!(r.json()["models"][0]["type"], ch, "{ch}");
    }
}

#[test]
fn a_qwen_refresh_naming_another_resource_url_moves_the_account_there() {
    let mock = Mock::start_tls_named(&HOSTS, |r| {
        if r.path == "/api/v1/oauth2/token" {
            return json_reply(
                200,
                r#"{"access_token":"at-new","refresh_token":"rt-new","expires_in":3600,"resource_url":"portal.qwen.ai"}"#,
            );
        }
        if r.header("authorization") != Some("Bearer at-new") {
            return json_reply(401, r#"{"error":{"message":"expired"}}"#);
        }
        chat_answer(r, "moved")
    });
    let auth = scratch_dir("kqi-qwen-move");
    let file = auth.join("qwen-q@example.com.json");
    std::fs::write(&file, K::Qwen.file("cred-old", PAST)).unwrap();
    let srv = start(&mock, &auth, 1);
    assert_eq!(chat_hi(&srv, "coder-model", false).status, 200);
    let saved: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(saved["resource_url"], "portal.qwen.ai");
    // The file reloads; the account's requests then go to the new host.
    let moved = eventually(Duration::from_secs(15), || {
        let r = chat_hi(&srv, "coder-model", false);
        r.status == 200
            && upstream_calls(&mock)
                .last()
                .is_some_and(|u| host_of(u) == "portal.qwen.ai")
    });
    assert!(
        moved,
        "{:?}",
        upstream_calls(&mock)
            .iter()
            .map(host_of)
            .collect::<Vec<_>>()
    );
    let last = upstream_calls(&mock).pop().unwrap();
    assert_eq!(last.path, "/v1/chat/completions");
    assert_eq!(last.header("authorization"), Some("Bearer at-new"));
}

#[test]
fn a_device_login_stops_with_a_clear_error_when_the_code_expires() {
    let mock = Mock::start_tls_named(&HOSTS, |r| match r.path.as_str() {
        "/api/oauth/device_authorization" => json_reply(
            200,
            r#"{"device_code":"dc-x","user_code":"X","verification_uri":"https://www.kimi.com/code/authorize_device","interval":1}"#,
        ),
        "/api/oauth/token" => json_reply(
            400,
            r#"{"error":"expired_token","error_description":"the code dc-x expired"}"#,
        ),
        _ => json_reply(404, "{}"),
    });
    let (mut login, auth) = start_login(&mock, &["-kimi-login", "-no-browser"], "");
    assert_eq!(login.exit_code(), 1);
    let err = login.stderr();
    assert!(
        err.contains("Kimi authentication failed") && err.contains("expired"),
        "{err}"
    );
    assert!(
        !err.contains("dc-x"),
        "the device code stays out of messages: {err}"
    );
    assert!(
        std::fs::read_dir(&auth).map_or(true, |mut d| d.next().is_none()),
        "no file written"
    );
    assert_eq!(
        mock.requests()
            .iter()
            .filter(|r| r.path == "/api/oauth/token")
            .count(),
        1,
        "an expired code is not polled again"
    );
}

#[test]
fn a_qwen_quota_403_reaches_the_client_as_429() {
    let mock = Mock::start_tls_named(&HOSTS, |_| {
        json_reply(
            403,
            r#"{"error":{"code":"insufficient_quota","message":"Free allocated quota exceeded.","type":"insufficient_quota"}}"#,
        )
    });
    let auth = scratch_dir("kqi-quota");
    std::fs::write(auth.join("q.json"), K::Qwen.file("cred-live", FAR)).unwrap();
    let srv = start(&mock, &auth, 1);
    let r = chat_hi(&srv, "coder-model", false);
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(r.text().contains("quota"), "{}", r.text());
    // The other kinds keep the upstream's 403.
    let mock = Mock::start_tls_named(&HOSTS, |_| {
        json_reply(403, r#"{"error":{"code":"insufficient_quota"}}"#)
    });
    let auth = scratch_dir("kqi-quota-kimi");
    std::fs::write(auth.join("k.json"), K::Kimi.file("cred-live", FAR)).unwrap();
    let srv = start(&mock, &auth, 1);
    assert_eq!(chat_hi(&srv, "kimi-k2", false).status, 403);
}
