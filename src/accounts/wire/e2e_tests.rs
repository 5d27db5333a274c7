//! The account request path end to end, in process: the real accept loop,
//! pipeline and upstream pool on a monoio runtime, a snapshot whose
//! providers carry OAuth accounts (set by hand until the account store
//! builds them), and a scripted upstream on 127.0.0.1:0 that records what
//! it received and answers as Claude, Codex or Cloud Code Assist would.

use super::tests::account;
use crate::accounts::AccountKind;
use crate::runtime::{Shared, Worker};
use crate::server::{accept_loop, Shutdown, Timeouts};
use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::{TcpListener, TcpStream};
use serde_json::{json, Value};
use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex};

/// Gemini chunks Cloud Code Assist wraps.
const CHUNK_1: &str = r#"{"candidates":[{"content":{"parts":[{"text":"hel"}],"role":"model"},"index":0}],"modelVersion":"g-up"}"#;
const CHUNK_2: &str = r#"{"candidates":[{"content":{"parts":[{"text":"lo"}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":2,"totalTokenCount":5},"modelVersion":"g-up"}"#;

const CLAUDE_ANSWER: &str = r#"{"id":"msg_1","type":"message","role":"assistant","model":"c-up","content":[{"type":"text","text":"hello"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":1}}"#;

fn codex_stream() -> String {
    [
        r#"{"type":"response.created","response":{"id":"resp_1","object":"response","created_at":1,"status":"in_progress","model":"x-up","output":[]}}"#,
        r#"{"type":"response.output_text.delta","item_id":"msg_1","output_index":0,"content_index":0,"delta":"hello"}"#,
        r#"{"type":"response.completed","response":{"id":"resp_1","object":"response","created_at":1,"status":"completed","model":"x-up","output":[{"type":"message","id":"msg_1","role":"assistant","status":"completed","content":[{"type":"output_text","text":"hello","annotations":[]}]}],"usage":{"input_tokens":3,"output_tokens":1,"total_tokens":4}}}"#,
    ]
    .iter()
    .map(|d| {
        let ty = serde_json::from_str::<Value>(d).unwrap()["type"]
            .as_str()
            .unwrap()
            .to_string();
        format!("event: {ty}\ndata: {d}\n\n")
    })
    .collect()
}

/// The scripted upstream's answer to a request for `path`.
fn answer(path: &str) -> (&'static str, Vec<u8>) {
    let wrap = |c: &str| format!(r#"{{"response": {c},"traceId":"t1"}}"#);
    match path {
        "/v1internal:streamGenerateContent?alt=sse" => (
            "text/event-stream",
            format!("data: {}\n\ndata: {}\n\n", wrap(CHUNK_1), wrap(CHUNK_2)).into_bytes(),
        ),
        "/v1internal:generateContent" => ("application/json", wrap(CHUNK_2).into_bytes()),
        "/v1internal:countTokens" => ("application/json", br#"{"totalTokens":7}"#.to_vec()),
        "/v1/messages?beta=true" => ("application/json", CLAUDE_ANSWER.as_bytes().to_vec()),
        "/backend-api/codex/responses" => ("text/event-stream", codex_stream().into_bytes()),
        _ => (
            "application/json",
            br#"{"error":"unexpected path"}"#.to_vec(),
        ),
    }
}

/// One request the upstream received.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn count(&self, name: &str) -> usize {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .count()
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }
}

/// Reads from `s` into `buf` until `done(buf)` or EOF; false on EOF.
async fn read_until(s: &mut TcpStream, buf: &mut Vec<u8>, done: impl Fn(&[u8]) -> bool) -> bool {
    while !done(buf) {
        buf.reserve(8192);
        let v = std::mem::take(buf);
        let (len, cap) = (v.len(), v.capacity());
        let (r, v) = s.read(v.slice_mut(len..cap)).await;
        *buf = v.into_inner();
        match r {
            Ok(0) | Err(_) => return false,
            Ok(_) => {}
        }
    }
    true
}

/// Index past the head and the Content-Length, once the head is in.
fn head_info(buf: &[u8]) -> Option<(usize, usize)> {
    let end = memchr::memmem::find(buf, b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    let len = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    Some((end, len))
}

/// The scripted upstream: records each request, answers by path.
async fn upstream(listener: TcpListener, seen: Rc<RefCell<Vec<Seen>>>) {
    while let Ok((mut s, _)) = listener.accept().await {
        let seen = seen.clone();
        monoio::spawn(async move {
            let mut buf = Vec::new();
            loop {
                let whole = |b: &[u8]| head_info(b).is_some_and(|(e, n)| b.len() >= e + n);
                if !read_until(&mut s, &mut buf, whole).await {
                    return;
                }
                let Some((end, n)) = head_info(&buf) else {
                    return;
                };
                let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                let mut lines = head.split("\r\n");
                let path = lines
                    .next()
                    .and_then(|l| l.split(' ').nth(1))
                    .unwrap_or("")
                    .to_string();
                let headers = lines
                    .filter_map(|l| l.split_once(": "))
                    .map(|(n, v)| (n.to_string(), v.to_string()))
                    .collect();
                let body = buf[end..end + n].to_vec();
                buf.drain(..end + n);
                let (ctype, answer) = answer(&path);
                seen.borrow_mut().push(Seen {
                    path,
                    headers,
                    body,
                });
                let mut resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\r\n",
                    answer.len()
                )
                .into_bytes();
                resp.extend_from_slice(&answer);
                if s.write_all(resp).await.0.is_err() {
                    return;
                }
            }
        });
    }
}

/// A worker over a snapshot whose three entries (Claude, Gemini, Codex, all
/// at the scripted upstream) each serve one OAuth account.
fn worker(port: u16, dir: &std::path::Path) -> Rc<Worker> {
    let base = format!("http://127.0.0.1:{port}");
    let yaml = format!(
        "host: 127.0.0.1\nport: 0\nauth-dir: {dir}\napi-keys: [\"sk-client\"]\n\
         claude-api-key:\n  - api-key: unused-c\n    base-url: \"{base}\"\n    models: [{{name: c-up, alias: m-claude}}]\n\
         gemini-api-key:\n  - api-key: unused-g\n    base-url: \"{base}\"\n    models: [{{name: g-up, alias: m-gemini}}]\n\
         codex-api-key:\n  - api-key: unused-x\n    base-url: \"{base}/backend-api/codex\"\n    models: [{{name: x-up, alias: m-codex}}]\n",
        dir = dir.display()
    );
    let (cfg, _) = crate::config::parse_str(&yaml, dir).expect("config");
    let mut snap = crate::state::Snapshot::build(cfg, 1).expect("snapshot");
    for p in &mut snap.providers {
        let kind = match p.kind {
            crate::state::Kind::Claude => AccountKind::Claude,
            crate::state::Kind::Gemini => AccountKind::Gemini,
            crate::state::Kind::Codex => AccountKind::Codex,
            other => panic!("unexpected provider {other:?}"),
        };
        p.account = Some(Arc::new(account(kind, "acc-9")));
    }
    let snap = Arc::new(snap);
    let shared = Arc::new(Shared {
        current: Mutex::new(snap.clone()),
        applied: vec![AtomicU64::new(1)],
        upstream_opened: AtomicU64::new(0),
        upstream_reused: AtomicU64::new(0),
        open_connections: AtomicUsize::new(0),
        scheduler: crate::credentials::Scheduler::new(snap.sched_settings(), &snap.specs),
    });
    let shard = shared.scheduler.shard();
    Rc::new(Worker {
        id: 0,
        snap: RefCell::new(snap),
        pool: RefCell::new(crate::upstream::Pool::default()),
        tls: crate::upstream::client_tls_config(&[]).expect("tls"),
        rr: Cell::new(0),
        shutdown: Shutdown::default(),
        active: Cell::new(0),
        shared,
        timeouts: Timeouts::default(),
        shard: RefCell::new(shard),
        translators: RefCell::new(Vec::new()),
    })
}

/// Sends one request (`Connection: close`) and returns (status, body),
/// the body de-chunked.
async fn call(addr: SocketAddr, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-client\r\n\
         Content-Type: application/json\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(req.into_bytes()).await.0.expect("write");
    let mut got = Vec::new();
    read_until(&mut s, &mut got, |_| false).await;
    let text = String::from_utf8(got).expect("utf8 answer");
    let (head, body) = text.split_once("\r\n\r\n").expect("head");
    let status = head[9..12].parse().expect("status");
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    (status, body)
}

fn dechunk(mut b: &str) -> String {
    let mut out = String::new();
    loop {
        let Some((size, rest)) = b.split_once("\r\n") else {
            return out;
        };
        let n = usize::from_str_radix(size.trim(), 16).expect("chunk size");
        if n == 0 {
            return out;
        }
        out.push_str(&rest[..n]);
        b = &rest[n + 2..];
    }
}

async fn scenario(dir: std::path::PathBuf) {
    let up = TcpListener::bind("127.0.0.1:0").expect("bind upstream");
    let port = up.local_addr().expect("addr").port();
    let seen = Rc::new(RefCell::new(Vec::new()));
    monoio::spawn(upstream(up, seen.clone()));
    let w = worker(port, &dir);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = monoio::spawn(accept_loop::<Worker, crate::pipeline::Proxy>(
        w.clone(),
        listener,
    ));
    let last = || {
        seen.borrow()
            .last()
            .cloned()
            .expect("upstream saw a request")
    };

    // Gemini client, stream, to a Gemini CLI account: the body wrapped
    // byte for byte, each event's `response` relayed as sent.
    let gbody = r#"{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"generationConfig":{"temperature":0.5}}"#;
    let (status, body) = call(
        addr,
        "/v1beta/models/m-gemini:streamGenerateContent?alt=sse",
        &[],
        gbody,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, format!("data: {CHUNK_1}\n\ndata: {CHUNK_2}\n\n"));
    let r = last();
    assert_eq!(r.path, "/v1internal:streamGenerateContent?alt=sse");
    assert_eq!(r.header("authorization"), Some("Bearer tok-abc"));
    assert_eq!(r.header("accept"), Some("text/event-stream"));
    assert!(r
        .header("user-agent")
        .unwrap()
        .starts_with("GeminiCLI/0.31.0/g-up ("));
    assert_eq!(r.count("x-goog-api-key"), 0);
    assert_eq!(
        String::from_utf8(r.body.clone()).unwrap(),
        format!(r#"{{"model":"g-up","project":"proj-7","request":{gbody}}}"#)
    );

    // Gemini client, non-stream: the answer unwrapped.
    let (status, body) = call(addr, "/v1beta/models/m-gemini:generateContent", &[], gbody).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, CHUNK_2);
    assert_eq!(last().path, "/v1internal:generateContent");

    // Gemini client token count: `{request}` up, Gemini's shape back.
    let (status, body) = call(addr, "/v1beta/models/m-gemini:countTokens", &[], gbody).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"totalTokens":7,"promptTokensDetails":[{"modality":"TEXT","tokenCount":7}]})
    );
    let r = last();
    assert_eq!(r.path, "/v1internal:countTokens");
    assert_eq!(
        String::from_utf8(r.body.clone()).unwrap(),
        format!(r#"{{"request":{gbody}}}"#)
    );

    // Claude client token count on the Gemini CLI account.
    let cbody = r#"{"model":"m-gemini","messages":[{"role":"user","content":"count me"}]}"#;
    let (status, body) = call(addr, "/v1/messages/count_tokens", &[], cbody).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"input_tokens":7})
    );
    let v = last().json();
    assert_eq!(v["request"]["contents"][0]["parts"][0]["text"], "count me");

    // OpenAI Chat client to the Gemini CLI account: translated, wrapped,
    // the wrapped stream translated back.
    let chat = r#"{"model":"m-gemini","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
    let (status, body) = call(addr, "/v1/chat/completions", &[], chat).await;
    assert_eq!(status, 200, "{body}");
    let text: String = body
        .split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|v| {
            v["choices"][0]["delta"]["content"]
                .as_str()
                .map(String::from)
        })
        .collect();
    assert_eq!(text, "hello");
    assert!(body.ends_with("data: [DONE]\n\n"), "{body}");
    let v = last().json();
    assert_eq!(v["model"], "g-up");
    assert_eq!(v["project"], "proj-7");
    assert_eq!(v["request"]["contents"][0]["parts"][0]["text"], "hi");

    // Chat client to the Claude account: the Claude Code head, a cloaked body.
    let chat = r#"{"model":"m-claude","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}]}"#;
    let (status, body) = call(
        addr,
        "/v1/chat/completions",
        &[("User-Agent", "OpenAI/Python 1.0")],
        chat,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "hello");
    let r = last();
    assert_eq!(r.path, "/v1/messages?beta=true");
    assert_eq!(r.header("authorization"), Some("Bearer tok-abc"));
    assert_eq!(r.count("x-api-key"), 0);
    assert_eq!(
        r.header("anthropic-beta"),
        Some(super::claude::DEFAULT_BETAS)
    );
    assert_eq!(r.count("anthropic-version"), 1);
    assert_eq!(
        r.header("user-agent"),
        Some("claude-cli/2.1.63 (external, cli)")
    );
    assert_eq!(r.header("x-app"), Some("cli"));
    let b = r.json();
    let sys = b["system"].as_array().expect("system blocks");
    assert!(sys[0]["text"]
        .as_str()
        .unwrap()
        .starts_with("x-anthropic-billing-header: "));
    assert_eq!(sys.last().unwrap()["text"], "be brief");
    assert!(super::claude::is_valid_user_id(
        b["metadata"]["user_id"].as_str().unwrap().as_bytes()
    ));
    assert_eq!(b["model"], "c-up");

    // Claude Code itself: its body is not cloaked, body betas move to the header.
    let cc = r#"{"model":"m-claude","max_tokens":9,"betas":["files-api-2025-04-14"],"system":"s","messages":[{"role":"user","content":"hi"}]}"#;
    let (status, body) = call(
        addr,
        "/v1/messages",
        &[
            ("User-Agent", "claude-cli/2.1.70 (external, cli)"),
            ("anthropic-beta", "claude-code-20250219"),
        ],
        cc,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let r = last();
    assert_eq!(
        r.header("anthropic-beta"),
        Some("claude-code-20250219,oauth-2025-04-20,files-api-2025-04-14")
    );
    assert_eq!(
        r.header("user-agent"),
        Some("claude-cli/2.1.70 (external, cli)")
    );
    assert_eq!(
        r.json(),
        json!({"model":"c-up","max_tokens":9,"system":"s","messages":[{"role":"user","content":"hi"}]})
    );

    // Chat client to the Codex account: the ChatGPT head, the stream aggregated.
    let chat = r#"{"model":"m-codex","messages":[{"role":"user","content":"hi"}]}"#;
    let (status, body) = call(addr, "/v1/chat/completions", &[], chat).await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "hello");
    let r = last();
    assert_eq!(r.path, "/backend-api/codex/responses");
    assert_eq!(r.header("authorization"), Some("Bearer tok-abc"));
    assert_eq!(r.header("chatgpt-account-id"), Some("acc-9"));
    assert_eq!(r.header("originator"), Some("codex_cli_rs"));
    assert!(super::is_uuid(r.header("session_id").unwrap().as_bytes()));
    assert_eq!(r.header("accept"), Some("text/event-stream"));
    assert_eq!(r.json()["stream"], true);

    // Nothing reached the upstream with a configured key.
    for r in seen.borrow().iter() {
        let all = format!("{:?}", r.headers);
        assert!(!all.contains("unused-"), "{all}");
    }
    w.shutdown.fire();
    server.await;
}

#[test]
fn account_requests_end_to_end() {
    let dir = std::env::temp_dir().join(format!("cliproxy-wire-e2e-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
        .enable_timer()
        .build()
        .expect("runtime")
        .block_on(scenario(dir.clone()));
    let _ = std::fs::remove_dir_all(&dir);
}
