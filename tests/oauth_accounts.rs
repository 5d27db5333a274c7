//! OAuth accounts from `auth-dir` through the real binary. The provider
//! hosts keep their real names: `CLIPROXY_CONNECT_TO` dials them at a local
//! TLS mock whose certificate names them, trusted with `--upstream-ca`.

mod common;
use common::oauth::*;
use common::*;
use serde_json::json;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Every host an account of part 1 talks to.
const HOSTS: [&str; 7] = [
    "api.anthropic.com",
    "console.anthropic.com",
    "platform.claude.com",
    "chatgpt.com",
    "auth.openai.com",
    "cloudcode-pa.googleapis.com",
    "oauth2.googleapis.com",
];

const MODEL: &str = "claude-sonnet-4-6";

fn far_future() -> &'static str {
    "2099-01-01T00:00:00Z"
}

fn claude_file(token: &str, expired: &str) -> String {
    json!({
        "type": "claude",
        "email": "owner@example.com",
        "access_token": token,
        "refresh_token": "rt-claude-1",
        "expired": expired,
        "last_refresh": "2026-01-01T00:00:00Z",
        "operator_note": {"kept": true}
    })
    .to_string()
}

/// A Claude answer (stream or not) for `model` saying `text`.
fn claude_answer(r: &Recorded, text: &str) -> Reply {
    let model = r.json()["model"].as_str().unwrap_or(MODEL).to_string();
    if r.json()["stream"] == json!(true) {
        let mut evs = vec![claude_message_start(&model)];
        evs.push((
            Some("content_block_start"),
            json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}),
        ));
        evs.push((
            Some("content_block_delta"),
            json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":text}}),
        ));
        evs.push(claude_block_stop(0));
        evs.extend(claude_message_end("end_turn", 3));
        sse_events(&evs)
    } else {
        json_reply(200, &claude_message(&model, text))
    }
}

/// A relay with `auth` as its auth-dir, its hosts pointed at `mock`.
fn start(mock: &Mock, auth: &Path, workers: usize) -> Server {
    let ca = mock.write_ca(&scratch_dir("oauth-ca"));
    let yaml = format!(
        "api-keys: [\"{CLIENT_KEY}\"]\nauth-dir: \"{}\"\n",
        auth.display()
    );
    let connect = mock.connect_to(&HOSTS);
    Server::start_env(
        "epoll",
        workers,
        &yaml,
        &["--upstream-ca", &ca.to_string_lossy()],
        &[("CLIPROXY_CONNECT_TO", &connect)],
    )
}

#[test]
fn claude_account_serves_chat_and_native_clients_with_its_token() {
    let mock = Mock::start_tls_named(&HOSTS, |r| claude_answer(r, "hello from claude"));
    let auth = scratch_dir("oauth-claude");
    std::fs::write(
        auth.join("claude-owner@example.com.json"),
        claude_file("at-live", far_future()),
    )
    .unwrap();
    let srv = start(&mock, &auth, 2);
    assert!(
        model_ids(&srv).iter().any(|m| m == MODEL),
        "{:?}",
        model_ids(&srv)
    );
    for stream in [false, true] {
        let r = chat_hi(&srv, MODEL, stream);
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(r.text().contains("hello from claude"), "{}", r.text());
        let r = post_as(
            &srv,
            Client::Claude,
            MODEL,
            stream,
            &json!({"model": MODEL, "max_tokens": 64, "stream": stream,
                "messages": [{"role":"user","content":"hi"}]}),
        );
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(r.text().contains("hello from claude"), "{}", r.text());
    }
    let reqs = mock.requests();
    assert_eq!(reqs.len(), 4);
    for r in &reqs {
        assert!(r.path.starts_with("/v1/messages"), "{}", r.path);
        assert_eq!(r.header("authorization"), Some("Bearer at-live"));
        assert_eq!(
            r.header("x-api-key"),
            None,
            "no API-key header for an account"
        );
        assert_eq!(r.header("host"), Some("api.anthropic.com"));
    }
    assert!(
        !srv.log_text().contains("at-live"),
        "tokens never reach the log"
    );
}

#[test]
fn files_added_disabled_and_removed_take_effect_live_and_bad_files_are_skipped() {
    let mock = Mock::start_tls_named(&HOSTS, |r| claude_answer(r, "live"));
    let auth = scratch_dir("oauth-live");
    std::fs::write(auth.join("broken.json"), "{ not json").unwrap();
    let srv = start(&mock, &auth, 2);
    assert!(
        srv.log_text().contains("broken.json"),
        "the corrupt file is named: {}",
        srv.log_text()
    );
    assert!(!model_ids(&srv).iter().any(|m| m == MODEL));
    assert_ne!(chat_hi(&srv, MODEL, false).status, 200);

    // Added: served within the watch interval.
    let file = auth.join("claude-owner@example.com.json");
    std::fs::write(&file, claude_file("at-live", far_future())).unwrap();
    assert!(
        eventually(Duration::from_secs(5), || chat_hi(&srv, MODEL, false)
            .status
            == 200),
        "added file not served: {}",
        srv.log_text()
    );
    assert!(model_ids(&srv).iter().any(|m| m == MODEL));

    // Disabled: out of rotation.
    let mut v: serde_json::Value =
        serde_json::from_str(&claude_file("at-live", far_future())).unwrap();
    v["disabled"] = json!(true);
    std::fs::write(&file, v.to_string()).unwrap();
    assert!(
        eventually(Duration::from_secs(5), || !model_ids(&srv)
            .iter()
            .any(|m| m == MODEL)),
        "disabled file still listed"
    );
    assert_ne!(chat_hi(&srv, MODEL, false).status, 200);

    // Enabled again with a new token, then removed.
    std::fs::write(&file, claude_file("at-second", far_future())).unwrap();
    assert!(eventually(Duration::from_secs(5), || chat_hi(
        &srv, MODEL, false
    )
    .status
        == 200));
    assert_eq!(
        mock.requests()
            .last()
            .and_then(|r| r.header("authorization").map(String::from)),
        Some("Bearer at-second".to_string()),
        "an edited token is used"
    );
    std::fs::remove_file(&file).unwrap();
    assert!(
        eventually(Duration::from_secs(5), || chat_hi(&srv, MODEL, false)
            .status
            != 200),
        "removed file still served"
    );
}

#[test]
fn per_file_prefix_aliases_exclusions_and_headers() {
    let mock = Mock::start_tls_named(&HOSTS, |r| claude_answer(r, "shaped"));
    let auth = scratch_dir("oauth-shaped");
    let mut v: serde_json::Value =
        serde_json::from_str(&claude_file("at-x", far_future())).unwrap();
    v["prefix"] = json!("team");
    v["model-aliases"] = json!([{"name": MODEL, "alias": "sonnet-team"}]);
    v["excluded-models"] = json!(["claude-opus-*"]);
    v["headers"] = json!({"X-Team": "blue"});
    std::fs::write(auth.join("claude-a.json"), v.to_string()).unwrap();
    let srv = start(&mock, &auth, 1);
    let ids = model_ids(&srv);
    assert!(ids.iter().any(|m| m == "team/sonnet-team"), "{ids:?}");
    assert!(!ids.iter().any(|m| m.contains("claude-opus")), "{ids:?}");
    let r = chat_hi(&srv, "team/sonnet-team", false);
    assert_eq!(r.status, 200, "{}", r.text());
    let up = mock.requests().pop().unwrap();
    assert_eq!(
        up.json()["model"],
        MODEL,
        "the alias maps to its upstream name"
    );
    assert_eq!(up.header("x-team"), Some("blue"));
}

#[test]
fn a_thousand_auth_files_load_under_a_second() {
    let auth = scratch_dir("oauth-many");
    for i in 0..1000 {
        std::fs::write(
            auth.join(format!("claude-{i}.json")),
            claude_file(&format!("at-{i}"), far_future()),
        )
        .unwrap();
    }
    let t = std::time::Instant::now();
    let scan = cliproxy::accounts::store::scan(&auth);
    let took = t.elapsed();
    assert_eq!(scan.accounts.len(), 1000);
    assert!(
        took < Duration::from_secs(1),
        "loading 1,000 files took {took:?}"
    );
}

fn codex_file(token: &str, plan: &str) -> String {
    let claims = json!({"email":"c@example.com","https://api.openai.com/auth":{"chatgpt_plan_type":plan,"chatgpt_account_id":"acct-42"}});
    let id_token = format!("e30.{}.sig", b64url(claims.to_string().as_bytes()));
    json!({"type":"codex","id_token":id_token,"access_token":token,"refresh_token":"rt-codex",
        "account_id":"acct-42","email":"c@example.com","expired":far_future()})
    .to_string()
}

/// A Codex upstream answer (always SSE) saying `text`.
fn codex_answer(r: &Recorded, text: &str) -> Reply {
    let model = r.json()["model"].as_str().unwrap_or("").to_string();
    let item = json!({"type":"message","id":"msg_1","status":"completed","role":"assistant","content":[{"type":"output_text","text":text,"annotations":[]}]});
    sse_events(&[
        codex_created(&model),
        (
            Some("response.output_item.added"),
            json!({"type":"response.output_item.added","sequence_number":1,"output_index":0,"item":{"type":"message","id":"msg_1","status":"in_progress","role":"assistant","content":[]}}),
        ),
        (
            Some("response.output_text.delta"),
            json!({"type":"response.output_text.delta","sequence_number":2,"item_id":"msg_1","output_index":0,"content_index":0,"delta":text}),
        ),
        (
            Some("response.output_item.done"),
            json!({"type":"response.output_item.done","sequence_number":3,"output_index":0,"item":item}),
        ),
        (
            Some("response.completed"),
            json!({"type":"response.completed","sequence_number":4,"response":{"id":"resp_1","object":"response","created_at":1,"status":"completed","model":model,"output":[item],"usage":{"input_tokens":5,"output_tokens":7,"total_tokens":12}}}),
        ),
    ])
}

#[test]
fn codex_account_follows_its_plan_and_serves_chat_and_responses_clients() {
    let mock = Mock::start_tls_named(&HOSTS, |r| codex_answer(r, "hello from codex"));
    let auth = scratch_dir("oauth-codex");
    std::fs::write(
        auth.join("codex-c@example.com-team.json"),
        codex_file("at-codex", "team"),
    )
    .unwrap();
    let srv = start(&mock, &auth, 1);
    let ids = model_ids(&srv);
    assert!(ids.iter().any(|m| m == "gpt-5.5"), "{ids:?}");
    assert!(
        !ids.iter().any(|m| m == "gpt-5.3-codex-spark"),
        "a team plan does not list Spark: {ids:?}"
    );
    for stream in [false, true] {
        let r = chat_hi(&srv, "gpt-5.5", stream);
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(r.text().contains("hello from codex"), "{}", r.text());
        let r = post_as(
            &srv,
            Client::Responses,
            "gpt-5.5",
            stream,
            &json!({"model":"gpt-5.5","stream":stream,"input":"hi"}),
        );
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(r.text().contains("hello from codex"), "{}", r.text());
    }
    for r in mock.requests() {
        assert_eq!(r.path, "/backend-api/codex/responses");
        assert_eq!(r.header("host"), Some("chatgpt.com"));
        assert_eq!(r.header("authorization"), Some("Bearer at-codex"));
        assert_eq!(
            r.json()["stream"],
            json!(true),
            "Codex always streams upstream"
        );
    }
}

/// The three account kinds of part 1, as the tests drive them.
#[derive(Clone, Copy, Debug)]
enum Acct {
    Claude,
    Codex,
    Gemini,
}

const KINDS: [Acct; 3] = [Acct::Claude, Acct::Codex, Acct::Gemini];

impl Acct {
    /// A model of the kind's catalog.
    fn model(self) -> &'static str {
        match self {
            Acct::Claude => MODEL,
            Acct::Codex => "gpt-5.5",
            Acct::Gemini => "gemini-2.5-pro",
        }
    }

    /// An auth file with `token` expiring at `expired`.
    fn file(self, token: &str, expired: &str) -> String {
        match self {
            Acct::Claude => claude_file(token, expired),
            Acct::Codex => {
                let mut v: serde_json::Value =
                    serde_json::from_str(&codex_file(token, "pro")).unwrap();
                v["expired"] = json!(expired);
                v["operator_note"] = json!({"kept": true});
                v.to_string()
            }
            Acct::Gemini => json!({"type":"gemini","email":"g@example.com","project_id":"proj-1",
                "operator_note":{"kept":true},
                "token":{"access_token":token,"refresh_token":"rt-g","token_type":"Bearer","expiry":expired}})
            .to_string(),
        }
    }

    /// The token fields of a saved file: (access, refresh, expiry).
    fn saved_tokens(self, v: &serde_json::Value) -> (String, String, String) {
        let t = match self {
            Acct::Gemini => &v["token"],
            _ => v,
        };
        let get = |k: &str| t[k].as_str().unwrap_or("").to_string();
        match self {
            Acct::Gemini => (get("access_token"), get("refresh_token"), get("expiry")),
            _ => (
                get("access_token"),
                get("refresh_token"),
                v["expired"].as_str().unwrap_or("").to_string(),
            ),
        }
    }

    /// The upstream's successful answer saying `text`.
    fn answer(self, r: &Recorded, text: &str) -> Reply {
        match self {
            Acct::Claude => claude_answer(r, text),
            Acct::Codex => codex_answer(r, text),
            Acct::Gemini => gemini_cli_answer(r, text),
        }
    }

    /// The path prefix the kind's upstream calls use.
    fn path(self) -> &'static str {
        match self {
            Acct::Claude => "/v1/messages",
            Acct::Codex => "/backend-api/codex/responses",
            Acct::Gemini => "/v1internal:",
        }
    }

    /// The kind's native client format.
    fn native(self) -> Client {
        match self {
            Acct::Claude => Client::Claude,
            Acct::Codex => Client::Responses,
            Acct::Gemini => Client::Gemini,
        }
    }
}

/// A Gemini CLI (Cloud Code Assist) answer: the Gemini answer wrapped in
/// `{"response": ...}`, per SSE event when streaming.
fn gemini_cli_answer(r: &Recorded, text: &str) -> Reply {
    let chunk = |t: &str, last: bool| {
        let mut c =
            json!({"candidates":[{"content":{"role":"model","parts":[{"text":t}]},"index":0}]});
        if last {
            c["candidates"][0]["finishReason"] = json!("STOP");
            c["usageMetadata"] =
                json!({"promptTokenCount":3,"candidatesTokenCount":4,"totalTokenCount":7});
        }
        json!({ "response": c })
    };
    if r.path.contains("streamGenerateContent") {
        sse_events(&[(None, chunk(text, false)), (None, chunk("", true))])
    } else {
        json_reply(200, &chunk(text, true).to_string())
    }
}

/// A native-format request of `kind`'s clients.
fn native(srv: &Server, kind: Acct, stream: bool) -> Resp {
    let m = kind.model();
    let body = match kind {
        Acct::Claude => json!({"model": m, "max_tokens": 64, "stream": stream,
            "messages": [{"role":"user","content":"hi"}]}),
        Acct::Codex => json!({"model": m, "stream": stream, "input": "hi"}),
        Acct::Gemini => json!({"contents": [{"role":"user","parts":[{"text":"hi"}]}]}),
    };
    post_as(srv, kind.native(), m, stream, &body)
}

#[test]
fn each_kind_serves_chat_and_native_clients_stream_and_not() {
    for kind in KINDS {
        let mock = Mock::start_tls_named(&HOSTS, move |r| kind.answer(r, "served"));
        let auth = scratch_dir("oauth-kinds");
        std::fs::write(auth.join("acct.json"), kind.file("at-live", far_future())).unwrap();
        let srv = start(&mock, &auth, 1);
        assert!(
            model_ids(&srv).iter().any(|m| m == kind.model()),
            "{kind:?}"
        );
        for stream in [false, true] {
            for r in [
                chat_hi(&srv, kind.model(), stream),
                native(&srv, kind, stream),
            ] {
                assert_eq!(r.status, 200, "{kind:?} {stream}: {}", r.text());
                assert!(
                    r.text().contains("served"),
                    "{kind:?} {stream}: {}",
                    r.text()
                );
            }
        }
        let reqs = mock.requests();
        assert_eq!(reqs.len(), 4, "{kind:?}");
        for r in reqs {
            assert!(r.path.starts_with(kind.path()), "{kind:?}: {}", r.path);
            assert_eq!(
                r.header("authorization"),
                Some("Bearer at-live"),
                "{kind:?}"
            );
        }
    }
}

/// A mock that is both the token endpoint (any path ending in `/token`:
/// Claude's, OpenAI's and Google's) and `kind`'s upstream; the upstream
/// answers 401 to any token but `at-new`. Returns the mock and its refresh
/// count.
fn refreshing_mock(kind: Acct) -> (Mock, Arc<AtomicUsize>) {
    let refreshes = Arc::new(AtomicUsize::new(0));
    let n = refreshes.clone();
    let mock = Mock::start_tls_named(&HOSTS, move |r| {
        if r.path.ends_with("/token") {
            n.fetch_add(1, Ordering::SeqCst);
            return json_reply(
                200,
                r#"{"access_token":"at-new","refresh_token":"rt-new","expires_in":28800,"token_type":"Bearer"}"#,
            );
        }
        if r.header("authorization") != Some("Bearer at-new") {
            return json_reply(
                401,
                r#"{"type":"error","error":{"type":"authentication_error","message":"OAuth token has expired"}}"#,
            );
        }
        kind.answer(r, "fresh")
    });
    (mock, refreshes)
}

fn upstream_calls(mock: &Mock) -> Vec<Recorded> {
    mock.requests()
        .into_iter()
        .filter(|r| !r.path.ends_with("/token"))
        .collect()
}

#[test]
fn an_expired_token_at_start_is_refreshed_once_and_written_back() {
    for kind in KINDS {
        let (mock, refreshes) = refreshing_mock(kind);
        let auth = scratch_dir("oauth-expired");
        let file = auth.join("acct.json");
        std::fs::write(&file, kind.file("at-old", "2020-01-01T00:00:00Z")).unwrap();
        let srv = start(&mock, &auth, 2);
        let r = chat_hi(&srv, kind.model(), false);
        assert_eq!(r.status, 200, "{kind:?}: {}", r.text());
        assert!(r.text().contains("fresh"));
        assert_eq!(refreshes.load(Ordering::SeqCst), 1, "{kind:?}: one refresh");
        assert!(
            upstream_calls(&mock)
                .iter()
                .all(|r| r.header("authorization") == Some("Bearer at-new")),
            "{kind:?}: the expired token never went upstream"
        );
        let saved: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        let (access, refresh, expiry) = kind.saved_tokens(&saved);
        assert_eq!(
            (access.as_str(), refresh.as_str()),
            ("at-new", "rt-new"),
            "{kind:?}"
        );
        assert_ne!(expiry, "2020-01-01T00:00:00Z", "{kind:?}");
        assert_eq!(
            saved["operator_note"],
            json!({"kept": true}),
            "{kind:?}: other fields kept"
        );
        assert!(saved["last_refresh"].is_string(), "{kind:?}");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{kind:?}");
        let log = srv.log_text();
        for secret in ["at-new", "rt-new", "at-old"] {
            assert!(!log.contains(secret), "{kind:?}: {secret} in the log");
        }
    }
}

#[test]
fn a_401_refreshes_once_and_retries_the_same_account_and_concurrent_requests_share_it() {
    for kind in KINDS {
        let (mock, refreshes) = refreshing_mock(kind);
        let auth = scratch_dir("oauth-401");
        // Not expired by the clock: only the upstream knows the token is dead.
        std::fs::write(auth.join("acct.json"), kind.file("at-old", far_future())).unwrap();
        let srv = Arc::new(start(&mock, &auth, 2));
        let handles: Vec<_> = (0..32)
            .map(|_| {
                let srv = srv.clone();
                std::thread::spawn(move || chat_hi(&srv, kind.model(), false))
            })
            .collect();
        for h in handles {
            let r = h.join().unwrap();
            assert_eq!(r.status, 200, "{kind:?}: {}", r.text());
            assert!(r.text().contains("fresh"));
        }
        assert_eq!(
            refreshes.load(Ordering::SeqCst),
            1,
            "{kind:?}: 32 concurrent requests on a dead token cause exactly one refresh"
        );
        // Later requests go straight out with the new token.
        let before = upstream_calls(&mock).len();
        assert_eq!(chat_hi(&srv, kind.model(), true).status, 200, "{kind:?}");
        let after = upstream_calls(&mock);
        assert_eq!(after.len(), before + 1, "{kind:?}");
        assert_eq!(
            after.last().unwrap().header("authorization"),
            Some("Bearer at-new"),
            "{kind:?}"
        );
    }
}

#[test]
fn a_refused_refresh_leaves_the_file_untouched_and_answers_401() {
    let mock = Mock::start_tls_named(&HOSTS, |r| {
        if r.path.ends_with("/token") {
            return json_reply(
                400,
                r#"{"error":"invalid_grant","error_description":"revoked"}"#,
            );
        }
        json_reply(
            401,
            r#"{"type":"error","error":{"type":"authentication_error","message":"invalid token"}}"#,
        )
    });
    let auth = scratch_dir("oauth-refused");
    let file = auth.join("claude-a.json");
    let original = claude_file("at-old", far_future());
    std::fs::write(&file, &original).unwrap();
    let srv = start(&mock, &auth, 1);
    let r = chat_hi(&srv, MODEL, false);
    assert_eq!(r.status, 401, "{}", r.text());
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        original,
        "file untouched"
    );
}

#[test]
fn a_gemini_file_without_a_project_is_served_once_its_project_is_found() {
    let mock = Mock::start_tls_named(&HOSTS, |r| {
        if r.path.ends_with(":loadCodeAssist") {
            return json_reply(
                200,
                r#"{"cloudaicompanionProject":"proj-found","currentTier":{"id":"free-tier"},"allowedTiers":[{"id":"free-tier","isDefault":true}]}"#,
            );
        }
        if r.path.ends_with(":onboardUser") {
            return json_reply(
                200,
                r#"{"done":true,"response":{"cloudaicompanionProject":{"id":"proj-found"}}}"#,
            );
        }
        json_reply(404, r#"{"error":{"message":"unexpected"}}"#)
    });
    let auth = scratch_dir("oauth-gemini-project");
    let file = auth.join("gemini-g@example.com.json");
    std::fs::write(
        &file,
        json!({"type":"gemini","email":"g@example.com","keep":1,
            "token":{"access_token":"at-g","refresh_token":"rt-g","expiry":far_future()}})
        .to_string(),
    )
    .unwrap();
    let srv = start(&mock, &auth, 1);
    assert!(
        eventually(Duration::from_secs(10), || model_ids(&srv)
            .iter()
            .any(|m| m == "gemini-2.5-pro")),
        "gemini models never listed: {}",
        srv.log_text()
    );
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(saved["project_id"], "proj-found");
    assert_eq!(saved["keep"], 1);
    let load = mock
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with(":loadCodeAssist"))
        .expect("loadCodeAssist called");
    assert_eq!(load.header("authorization"), Some("Bearer at-g"));
    assert_eq!(load.header("host"), Some("cloudcode-pa.googleapis.com"));
}

/// A CONNECT proxy that records each CONNECT target and pipes every tunnel
/// to `to` (the mock standing in for the real hosts: no DNS needed).
fn mapping_proxy(to: std::net::SocketAddr) -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{BufRead, BufReader, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(client) = s else { continue };
            let seen = seen2.clone();
            std::thread::spawn(move || {
                let mut r = BufReader::new(client.try_clone().unwrap());
                let mut first = String::new();
                if r.read_line(&mut first).unwrap_or(0) == 0 {
                    return;
                }
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                }
                seen.lock()
                    .unwrap()
                    .push(first.split_whitespace().nth(1).unwrap_or("").to_string());
                let Ok(up) = std::net::TcpStream::connect(to) else {
                    return;
                };
                let mut c = client;
                c.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .unwrap();
                let (mut up_r, mut up_w) = (up.try_clone().unwrap(), up);
                let mut c_w = c.try_clone().unwrap();
                let pending = r.buffer().to_vec();
                std::thread::spawn(move || {
                    let _ = up_w.write_all(&pending);
                    let _ = std::io::copy(&mut c, &mut up_w);
                });
                let _ = std::io::copy(&mut up_r, &mut c_w);
            });
        }
    });
    (url, seen)
}

#[test]
fn a_per_file_proxy_carries_the_accounts_upstream_and_refresh_calls() {
    let (mock, refreshes) = refreshing_mock(Acct::Claude);
    let (proxy, seen) = mapping_proxy(mock.addr);
    let auth = scratch_dir("oauth-proxy");
    let mut v: serde_json::Value =
        serde_json::from_str(&Acct::Claude.file("at-old", "2020-01-01T00:00:00Z")).unwrap();
    v["proxy_url"] = json!(proxy);
    std::fs::write(auth.join("claude-proxied.json"), v.to_string()).unwrap();
    // No CLIPROXY_CONNECT_TO: only the proxy knows where the hosts are.
    let ca = mock.write_ca(&scratch_dir("oauth-ca"));
    let yaml = format!(
        "api-keys: [\"{CLIENT_KEY}\"]\nauth-dir: \"{}\"\n",
        auth.display()
    );
    let srv = Server::start("epoll", 1, &yaml, &["--upstream-ca", &ca.to_string_lossy()]);
    let r = chat_hi(&srv, MODEL, false);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(refreshes.load(Ordering::SeqCst), 1);
    let targets = seen.lock().unwrap().clone();
    assert!(
        targets.iter().all(|t| t == "api.anthropic.com:443"),
        "{targets:?}"
    );
    assert!(
        targets.len() >= 2,
        "refresh and upstream call both tunnelled: {targets:?}"
    );
}

#[test]
fn a_claude_api_key_and_a_claude_account_send_the_same_identity() {
    let mock = Mock::start_tls_named(&HOSTS, |r| claude_answer(r, "same"));
    let auth = scratch_dir("oauth-identity");
    let mut v: serde_json::Value =
        serde_json::from_str(&claude_file("at-live", far_future())).unwrap();
    v["cloak_mode"] = json!("never");
    v["model_aliases"] = json!([{"name": MODEL, "alias": "via-account"}]);
    std::fs::write(auth.join("claude-a.json"), v.to_string()).unwrap();
    let ca = mock.write_ca(&scratch_dir("oauth-ca"));
    let yaml = format!(
        "api-keys: [\"{CLIENT_KEY}\"]\nauth-dir: \"{}\"\nclaude-api-key:\n  - api-key: \"sk-ant-api-key\"\n    models: [{{name: {MODEL}, alias: via-key}}]\n",
        auth.display()
    );
    let connect = mock.connect_to(&HOSTS);
    let srv = Server::start_env(
        "epoll",
        1,
        &yaml,
        &["--upstream-ca", &ca.to_string_lossy()],
        &[("CLIPROXY_CONNECT_TO", &connect)],
    );
    for model in ["via-key", "via-account"] {
        assert_eq!(chat_hi(&srv, model, false).status, 200, "{model}");
    }
    let reqs = mock.requests();
    let names = |r: &Recorded| {
        let mut n: Vec<String> = r
            .headers
            .iter()
            .map(|(k, _)| k.to_ascii_lowercase())
            .filter(|k| k != "authorization" && k != "x-api-key" && k != "content-length")
            .collect();
        n.sort();
        n
    };
    assert_eq!(names(&reqs[0]), names(&reqs[1]), "same identity headers");
    assert_eq!(reqs[0].header("x-api-key"), Some("sk-ant-api-key"));
    assert_eq!(reqs[1].header("authorization"), Some("Bearer at-live"));
    for r in &reqs {
        assert_eq!(r.header("x-app"), Some("cli"));
        assert!(r
            .header("anthropic-beta")
            .is_some_and(|b| b.contains("oauth-2025-04-20")));
        assert!(r
            .header("user-agent")
            .is_some_and(|u| u.starts_with("claude-cli/")));
    }
}

#[test]
fn a_hanging_token_endpoint_for_one_account_does_not_hold_up_another() {
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let release_rx = std::sync::Mutex::new(release_rx);
    let mock = Mock::start_tls_named(&HOSTS, move |r| {
        if r.path.ends_with("/token") {
            if String::from_utf8_lossy(&r.body).contains("rt-slow") {
                // Held until the test is done with the other account.
                let _ = release_rx
                    .lock()
                    .unwrap()
                    .recv_timeout(Duration::from_secs(30));
            }
            return json_reply(
                200,
                r#"{"access_token":"at-new","refresh_token":"rt-new","expires_in":28800}"#,
            );
        }
        if r.header("authorization") != Some("Bearer at-new") {
            return json_reply(
                401,
                r#"{"type":"error","error":{"type":"authentication_error","message":"expired"}}"#,
            );
        }
        claude_answer(r, "pooled")
    });
    let auth = scratch_dir("oauth-pool");
    let mut slow: serde_json::Value =
        serde_json::from_str(&claude_file("at-old", "2020-01-01T00:00:00Z")).unwrap();
    slow["refresh_token"] = json!("rt-slow");
    slow["model_aliases"] = json!([{"name": MODEL, "alias": "slow-model"}]);
    // Sorted first, so a single refresher would take it first.
    std::fs::write(auth.join("a-slow.json"), slow.to_string()).unwrap();
    let mut fast: serde_json::Value =
        serde_json::from_str(&claude_file("at-old", "2020-01-01T00:00:00Z")).unwrap();
    fast["model_aliases"] = json!([{"name": MODEL, "alias": "fast-model"}]);
    std::fs::write(auth.join("b-fast.json"), fast.to_string()).unwrap();
    let srv = start(&mock, &auth, 1);
    let r = chat_hi(&srv, "fast-model", false);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("pooled"));
    release_tx.send(()).unwrap();
}

/// `claude-header-defaults` and `codex-header-defaults` reach the upstream:
/// the Claude fallbacks for a client that sends none of the headers (an
/// account and an API key alike), the client's own values beating them, an
/// auth file's `headers` beating everything; the Codex `User-Agent` beating
/// the client's for an account (CLIProxyAPI v6.9.7's precedence).
#[test]
fn header_defaults_keys_reach_the_upstream_with_their_precedence() {
    let mock = Mock::start_tls_named(&HOSTS, |r| {
        if r.path.contains("/codex/") {
            codex_answer(r, "ok")
        } else {
            claude_answer(r, "ok")
        }
    });
    let auth = scratch_dir("oauth-header-defaults");
    let mut claude: serde_json::Value =
        serde_json::from_str(&claude_file("at-claude", far_future())).unwrap();
    claude["cloak_mode"] = json!("never");
    claude["model_aliases"] = json!([{"name": MODEL, "alias": "via-account"}]);
    std::fs::write(auth.join("claude-a.json"), claude.to_string()).unwrap();
    let mut pinned = claude.clone();
    pinned["access_token"] = json!("at-pinned");
    pinned["model_aliases"] = json!([{"name": MODEL, "alias": "via-pinned"}]);
    pinned["headers"] = json!({"User-Agent": "file-agent/1", "X-Stainless-Timeout": "7"});
    std::fs::write(auth.join("claude-b.json"), pinned.to_string()).unwrap();
    std::fs::write(auth.join("codex-c.json"), codex_file("at-codex", "plus")).unwrap();
    let ca = mock.write_ca(&scratch_dir("oauth-ca"));
    let yaml = format!(
        r#"api-keys: ["{CLIENT_KEY}"]
auth-dir: "{}"
claude-api-key:
  - api-key: "sk-ant-api-key"
    models: [{{name: {MODEL}, alias: via-key}}]
claude-header-defaults:
  user-agent: " claude-cli/9.9.9 (external, cli) "
  package-version: "0.99.0"
  runtime-version: "v99.1.0"
  timeout: "900"
codex-header-defaults:
  user-agent: "my-codex/1.0"
"#,
        auth.display()
    );
    let srv = Server::start_env(
        "epoll",
        1,
        &yaml,
        &["--upstream-ca", &ca.to_string_lossy()],
        &[("CLIPROXY_CONNECT_TO", &mock.connect_to(&HOSTS))],
    );
    for model in ["via-key", "via-account", "via-pinned"] {
        assert_eq!(chat_hi(&srv, model, false).status, 200, "{model}");
    }
    // A Claude Code client keeps its own values.
    let r = srv.request(
        "POST",
        "/v1/messages",
        &[
            CLIENT_AUTH,
            ("Content-Type", "application/json"),
            ("User-Agent", "claude-cli/2.1.70 (external, cli)"),
            ("X-Stainless-Package-Version", "0.80.0"),
            ("X-Stainless-Timeout", "120"),
        ],
        &json!({"model": "via-account", "max_tokens": 8, "messages": [{"role":"user","content":"hi"}]})
            .to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let codex = chat_hi(&srv, "gpt-5.5", false);
    assert_eq!(codex.status, 200, "{}", codex.text());
    let reqs = mock.requests();
    assert_eq!(reqs.len(), 5, "{reqs:?}");
    let claude_reqs: Vec<&Recorded> = reqs
        .iter()
        .filter(|r| r.path.contains("/v1/messages"))
        .collect();
    let by_auth = |needle: &str| {
        claude_reqs
            .iter()
            .copied()
            .filter(|r| {
                r.header("authorization")
                    .is_some_and(|a| a.contains(needle))
                    || r.header("x-api-key").is_some_and(|a| a.contains(needle))
            })
            .collect::<Vec<_>>()
    };
    for r in [by_auth("sk-ant-api-key")[0], by_auth("at-claude")[0]] {
        assert_eq!(
            r.header("user-agent"),
            Some("claude-cli/9.9.9 (external, cli)")
        );
        assert_eq!(r.header("x-stainless-package-version"), Some("0.99.0"));
        assert_eq!(r.header("x-stainless-runtime-version"), Some("v99.1.0"));
        assert_eq!(r.header("x-stainless-timeout"), Some("900"));
    }
    let own = by_auth("at-claude")[1];
    assert_eq!(
        own.header("user-agent"),
        Some("claude-cli/2.1.70 (external, cli)")
    );
    assert_eq!(own.header("x-stainless-package-version"), Some("0.80.0"));
    assert_eq!(own.header("x-stainless-timeout"), Some("120"));
    assert_eq!(own.header("x-stainless-runtime-version"), Some("v99.1.0"));
    let file = by_auth("at-pinned")[0];
    assert_eq!(file.header("user-agent"), Some("file-agent/1"));
    assert_eq!(file.header("x-stainless-timeout"), Some("7"));
    assert_eq!(file.header("x-stainless-package-version"), Some("0.99.0"));
    let cx = reqs.iter().find(|r| r.path.contains("/codex/")).unwrap();
    assert_eq!(cx.header("user-agent"), Some("my-codex/1.0"));
    // Acted on: not in the "not acted on" warning.
    let log = srv.log_text();
    assert!(!log.contains("header-defaults"), "{log}");
}

/// v6.9 behaviour #17: `oauth-model-alias` renames model ids for listing and
/// routing; a client-visible name that two providers both expose is shared
/// (requests rotate over both backends), while a unique alias or a file's
/// prefix pins one backend.
#[test]
fn oauth_model_aliases_share_an_overlapping_name_and_unique_names_pin_a_backend() {
    let mock = Mock::start_tls_named(&HOSTS, |r| {
        if r.path.starts_with("/backend-api/codex") {
            codex_answer(r, "from codex")
        } else {
            claude_answer(r, "from claude")
        }
    });
    let auth = scratch_dir("oauth-alias-17");
    std::fs::write(
        auth.join("claude-a.json"),
        claude_file("at-claude", far_future()),
    )
    .unwrap();
    let mut codex: serde_json::Value =
        serde_json::from_str(&codex_file("at-codex", "plus")).unwrap();
    codex["prefix"] = json!("cx");
    std::fs::write(auth.join("codex-b.json"), codex.to_string()).unwrap();
    let ca = mock.write_ca(&scratch_dir("oauth-alias-17-ca"));
    let yaml = format!(
        "api-keys: [\"{CLIENT_KEY}\"]\nauth-dir: \"{}\"\noauth-model-alias:\n  claude:\n    - {{name: {MODEL}, alias: shared}}\n    - {{name: {MODEL}, alias: only-claude}}\n  codex:\n    - {{name: gpt-5.5, alias: shared}}\n",
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
    for want in ["shared", "only-claude", "cx/shared"] {
        assert!(ids.iter().any(|m| m == want), "{want} listed: {ids:?}");
    }
    assert!(
        !ids.iter().any(|m| m == MODEL),
        "an alias without fork replaces the name: {ids:?}"
    );
    // Which backend served each answer, by host and upstream model.
    let served = |model: &str| -> Vec<(String, String)> {
        let before = mock.requests().len();
        let r = chat_hi(&srv, model, false);
        assert_eq!(r.status, 200, "{model}: {}", r.text());
        mock.requests()[before..]
            .iter()
            .map(|u| {
                (
                    u.header("host").unwrap_or("").to_string(),
                    u.json()["model"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    };
    let mut shared_hosts = std::collections::BTreeSet::new();
    for _ in 0..4 {
        for (host, upstream) in served("shared") {
            let want = if host == "chatgpt.com" {
                "gpt-5.5"
            } else {
                MODEL
            };
            assert_eq!(upstream, want, "the alias maps to {host}'s own name");
            shared_hosts.insert(host);
        }
    }
    assert_eq!(
        shared_hosts.into_iter().collect::<Vec<_>>(),
        ["api.anthropic.com", "chatgpt.com"],
        "an overlapping name rotates over both providers"
    );
    for _ in 0..3 {
        assert_eq!(
            served("only-claude"),
            [("api.anthropic.com".to_string(), MODEL.to_string())],
            "a unique alias pins the Claude account"
        );
        assert_eq!(
            served("cx/shared"),
            [("chatgpt.com".to_string(), "gpt-5.5".to_string())],
            "the file's prefix pins the Codex account"
        );
    }
}
