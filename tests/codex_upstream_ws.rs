//! The Codex upstream WebSocket: a client on the Responses WebSocket whose
//! Codex entry has `websockets: true` reaches the upstream over a WebSocket
//! too (handshake, one masked `response.create` message, events as text
//! frames), through the real binary and a scripted WebSocket mock upstream
//! (tungstenite's server side, which refuses unmasked client frames). With
//! `websockets: false`, and for HTTP clients, the SSE request is used.

mod common;
use common::oauth::*;
use common::*;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tungstenite::client::IntoClientRequest;
use tungstenite::handshake::server::{Request, Response};
use tungstenite::{Message, WebSocket};

type Ws = WebSocket<TcpStream>;

/// What the mock answers to one `response.create`.
enum Out {
    Text(Value),
    /// Close the socket (a close frame, then the connection ends).
    Close,
}

/// One upstream connection as the mock saw it: a WebSocket (`GET`,
/// accepted or refused) or an SSE request (`POST`).
#[derive(Clone, Default, Debug)]
struct Seen {
    method: String,
    /// The upgrade was refused with this status.
    refused: Option<u16>,
    path: String,
    headers: Vec<(String, String)>,
    messages: Vec<Value>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        header_in(&self.headers, name)
    }
}

/// The script: (index of the connection, request message) -> answer.
type Script = dyn Fn(usize, &Value) -> Vec<Out> + Send + Sync;
/// Which upgrades to refuse: (index of the connection) -> status.
type Refuse = dyn Fn(usize) -> Option<u16> + Send + Sync;

struct WsMock {
    addr: std::net::SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl WsMock {
    fn start(script: impl Fn(usize, &Value) -> Vec<Out> + Send + Sync + 'static) -> WsMock {
        Self::start_with(script, |_| None, None)
    }

    /// Plain mocks also answer a `POST` with the script's events as SSE and
    /// refuse the upgrades `refuse` names; a TLS mock only accepts upgrades.
    fn start_with(
        script: impl Fn(usize, &Value) -> Vec<Out> + Send + Sync + 'static,
        refuse: impl Fn(usize) -> Option<u16> + Send + Sync + 'static,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> WsMock {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let script: Arc<Script> = Arc::new(script);
        let refuse: Arc<Refuse> = Arc::new(refuse);
        let log = seen.clone();
        std::thread::spawn(move || {
            for s in listener.incoming() {
                let Ok(s) = s else { return };
                let (log, script, refuse) = (log.clone(), script.clone(), refuse.clone());
                let tls = tls.clone();
                std::thread::spawn(move || {
                    let idx = {
                        let mut l = log.lock().unwrap();
                        l.push(Seen::default());
                        l.len() - 1
                    };
                    match tls {
                        Some(cfg) => {
                            let conn = rustls::ServerConnection::new(cfg).unwrap();
                            serve(rustls::StreamOwned::new(conn, s), idx, &log, &*script)
                        }
                        None => serve_plain(s, idx, &log, &*script, &*refuse),
                    }
                });
            }
        });
        WsMock { addr, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// A plain connection: a `POST` gets SSE, a refused upgrade its status,
/// anything else the WebSocket.
fn serve_plain(s: TcpStream, idx: usize, log: &Mutex<Vec<Seen>>, script: &Script, refuse: &Refuse) {
    // Look at the head without taking it (the WebSocket handshake reads it).
    let mut peek = [0u8; 8];
    let n = s.peek(&mut peek).unwrap_or(0);
    let post = peek[..n].starts_with(b"POST");
    let refused = if post { None } else { refuse(idx) };
    if !post && refused.is_none() {
        return serve(s, idx, log, script);
    }
    let mut r = BufReader::new(s.try_clone().unwrap());
    let (mut first, mut headers, mut len) = (String::new(), Vec::new(), 0usize);
    r.read_line(&mut first).unwrap();
    loop {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (n, v) = line.split_once(':').unwrap();
        if n.eq_ignore_ascii_case("content-length") {
            len = v.trim().parse().unwrap();
        }
        headers.push((n.to_string(), v.trim().to_string()));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).unwrap();
    let mut parts = first.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    {
        let mut l = log.lock().unwrap();
        let seen = &mut l[idx];
        (seen.method, seen.path, seen.headers, seen.refused) = (method, path, headers, refused);
        if post {
            seen.messages.push(v.clone());
        }
    }
    let (status, ctype, body) = match refused {
        Some(st) => (
            st,
            "application/json",
            json!({"error":{"message":"upgrade refused","type":"invalid_request_error"}})
                .to_string(),
        ),
        None => (
            200,
            "text/event-stream",
            script(idx, &v)
                .into_iter()
                .filter_map(|o| match o {
                    Out::Text(e) => Some(format!(
                        "event: {}\ndata: {e}\n\n",
                        e["type"].as_str().unwrap_or("")
                    )),
                    Out::Close => None,
                })
                .collect(),
        ),
    };
    let mut s = s;
    let _ = write!(
        s,
        "HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

fn serve<S: Read + Write>(s: S, idx: usize, log: &Mutex<Vec<Seen>>, script: &Script) {
    let cb = |req: &Request, resp: Response| {
        let mut l = log.lock().unwrap();
        l[idx].method = req.method().to_string();
        l[idx].path = req.uri().path().to_string();
        l[idx].headers = req
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    v.to_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        Ok(resp)
    };
    let Ok(mut ws) = tungstenite::accept_hdr(s, cb) else {
        return;
    };
    loop {
        // tungstenite's server role fails on an unmasked client frame, so
        // every message recorded here came masked.
        let m = match ws.read() {
            Ok(Message::Text(t)) => t,
            Ok(Message::Close(_)) | Err(_) => return,
            Ok(_) => continue,
        };
        let v: Value = serde_json::from_str(m.as_str()).unwrap_or(Value::Null);
        log.lock().unwrap()[idx].messages.push(v.clone());
        for out in script(idx, &v) {
            match out {
                Out::Text(e) => {
                    if ws.send(Message::text(e.to_string())).is_err() {
                        return;
                    }
                }
                Out::Close => {
                    let _ = ws.close(None);
                    let _ = ws.flush();
                    // Let the peer see the close, then drop the connection.
                    while ws.read().is_ok() {}
                    return;
                }
            }
        }
    }
}

fn tool_call_events() -> Vec<Value> {
    let call = json!({"type":"function_call","id":"fc_1","call_id":"call_1","name":"shell","arguments":"{\"cmd\":\"ls\"}","status":"completed"});
    vec![
        json!({"type":"response.created","sequence_number":0,"response":{"id":"resp_1","object":"response","created_at":1,"status":"in_progress","model":"codex-upstream","output":[]}}),
        json!({"type":"response.output_item.added","sequence_number":1,"output_index":0,"item":{"type":"function_call","id":"fc_1","call_id":"call_1","name":"shell","arguments":"","status":"in_progress"}}),
        json!({"type":"response.function_call_arguments.delta","sequence_number":2,"item_id":"fc_1","output_index":0,"delta":"{\"cmd\":\"ls\"}"}),
        json!({"type":"response.function_call_arguments.done","sequence_number":3,"item_id":"fc_1","output_index":0,"arguments":"{\"cmd\":\"ls\"}"}),
        json!({"type":"response.output_item.done","sequence_number":4,"output_index":0,"item":call}),
        json!({"type":"response.completed","sequence_number":5,"response":{"id":"resp_1","object":"response","created_at":1,"status":"completed","model":"codex-upstream","output":[call],"usage":{"input_tokens":3,"output_tokens":4,"total_tokens":7}}}),
    ]
}

/// A text answer that ends with `response.done` (the upstream's other
/// spelling of the terminal event).
fn text_events(text: &str) -> Vec<Value> {
    let item = json!({"type":"message","id":"msg_2","status":"completed","role":"assistant","content":[{"type":"output_text","text":text,"annotations":[]}]});
    vec![
        json!({"type":"response.created","sequence_number":0,"response":{"id":"resp_2","object":"response","created_at":1,"status":"in_progress","model":"codex-upstream","output":[]}}),
        json!({"type":"response.output_item.added","sequence_number":1,"output_index":0,"item":{"type":"message","id":"msg_2","status":"in_progress","role":"assistant","content":[]}}),
        json!({"type":"response.output_text.delta","sequence_number":2,"item_id":"msg_2","output_index":0,"content_index":0,"delta":text}),
        json!({"type":"response.output_item.done","sequence_number":3,"output_index":0,"item":item}),
        json!({"type":"response.done","sequence_number":4,"response":{"id":"resp_2","object":"response","created_at":1,"status":"completed","model":"codex-upstream","output":[item],"usage":{"input_tokens":3,"output_tokens":4,"total_tokens":7}}}),
    ]
}

/// The scripted upstream: a tool call first, text once a tool output is in
/// the input; `"rate limit me"` gets an error frame; `"hang up"` gets two
/// events and a close.
fn script(_conn: usize, req: &Value) -> Vec<Out> {
    let body = req.to_string();
    if body.contains("rate limit me") {
        return vec![Out::Text(
            json!({"type":"error","status":429,"error":{"type":"usage_limit_reached","message":"slow down, websocket"}}),
        )];
    }
    if body.contains("hang up") {
        let evs = text_events("partial");
        return vec![
            Out::Text(evs[0].clone()),
            Out::Text(evs[1].clone()),
            Out::Close,
        ];
    }
    let evs = if body.contains("function_call_output") {
        text_events("done")
    } else {
        tool_call_events()
    };
    evs.into_iter().map(Out::Text).collect()
}

fn config(base: &str, websockets: bool) -> String {
    format!(
        r#"api-keys: ["{CLIENT_KEY}"]
auth-dir: ./auths
codex-api-key:
  - api-key: "sk-upstream-ws"
    base-url: "{base}/backend-api/codex"
    websockets: {websockets}
    models: [{{name: codex-upstream, alias: m-codex}}]
"#
    )
}

fn connect(srv: &Server) -> Ws {
    let mut req = format!("ws://{}/v1/responses", srv.addr)
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {CLIENT_KEY}").parse().unwrap(),
    );
    let (ws, _) = tungstenite::client(req, srv.connect()).unwrap_or_else(|e| match e {
        tungstenite::HandshakeError::Failure(e) => panic!("handshake: {e}"),
        tungstenite::HandshakeError::Interrupted(_) => panic!("handshake interrupted"),
    });
    ws.get_ref()
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    ws
}

fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::text(v.to_string())).unwrap();
}

/// Text events until one of type `until` or an `error`.
fn events_until(ws: &mut Ws, until: &str) -> Vec<Value> {
    let mut out = Vec::new();
    loop {
        match ws.read().expect("event") {
            Message::Text(t) => {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                let ty = v["type"].as_str().unwrap_or_default().to_string();
                out.push(v);
                if ty == until || ty == "error" {
                    return out;
                }
            }
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("unexpected message {other:?}"),
        }
    }
}

fn types(evs: &[Value]) -> Vec<String> {
    evs.iter()
        .map(|e| e["type"].as_str().unwrap_or("?").to_string())
        .collect()
}

fn first_turn() -> Value {
    json!({"type":"response.create","model":"m-codex","instructions":"be terse","input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"list files"}]}],"tools":[{"type":"function","name":"shell","parameters":{"type":"object","properties":{"cmd":{"type":"string"}}}}]})
}

/// Two turns on one client socket, each over an upstream WebSocket: the
/// handshake carries the key and the beta flag, the message is a
/// `response.create` with the upstream model, the events come back in the
/// upstream's order (tool call first, then text ending in `response.done`,
/// seen by the client as `response.completed`).
fn two_turns(driver: &str) {
    let up = WsMock::start(script);
    let srv = Server::start(
        driver,
        1,
        &config(&format!("http://{}", up.addr), true),
        &[],
    );
    let mut ws = connect(&srv);
    send(&mut ws, first_turn());
    let evs = events_until(&mut ws, "response.completed");
    let want: Vec<String> = tool_call_events()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(types(&evs), want);
    let done = &evs[4];
    assert_eq!(done["item"]["call_id"], "call_1");
    assert_eq!(done["item"]["arguments"], "{\"cmd\":\"ls\"}");

    send(
        &mut ws,
        json!({"type":"response.create","previous_response_id":"resp_1","input":[{"type":"function_call_output","call_id":"call_1","output":"a.txt"}]}),
    );
    let evs = events_until(&mut ws, "response.completed");
    let t = types(&evs);
    assert_eq!(
        t,
        [
            "response.created",
            "response.output_item.added",
            "response.output_text.delta",
            "response.output_item.done",
            "response.completed"
        ]
    );
    assert_eq!(evs[2]["delta"], "done");
    assert_eq!(evs[4]["response"]["status"], "completed");

    let seen = up.seen();
    assert_eq!(seen.len(), 2, "one upstream socket per turn: {seen:?}");
    for s in &seen {
        assert_eq!(s.path, "/backend-api/codex/responses");
        assert_eq!(s.header("authorization"), Some("Bearer sk-upstream-ws"));
        assert_eq!(
            s.header("openai-beta"),
            Some("responses_websockets=2026-02-06")
        );
        assert_eq!(s.header("sec-websocket-version"), Some("13"));
        assert!(s.header("content-length").is_none(), "{s:?}");
        assert_eq!(s.messages.len(), 1, "{s:?}");
        let m = &s.messages[0];
        assert_eq!(m["type"], "response.create");
        assert_eq!(m["model"], "codex-upstream");
        assert_eq!(m["stream"], true);
        assert_eq!(m["instructions"], "be terse");
    }
    // The second turn carries the history: the call and its output.
    let kinds: Vec<&str> = seen[1].messages[0]["input"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["type"].as_str().unwrap_or("message"))
        .collect();
    assert_eq!(kinds, ["message", "function_call", "function_call_output"]);
    assert!(
        !srv.log_text().contains("sk-upstream-ws"),
        "no upstream key in logs"
    );
    ws.close(None).unwrap();
}

both_drivers!(two_turns_over_upstream_websockets_on, |driver: &str| {
    two_turns(driver)
});

/// An upstream `error` frame (with its status) reaches the client as an
/// `error` event with that status and message; the socket stays usable.
#[test]
fn upstream_error_frame_becomes_the_client_error_event() {
    let up = WsMock::start(script);
    let srv = Server::start(
        "epoll",
        1,
        &config(&format!("http://{}", up.addr), true),
        &[],
    );
    let mut ws = connect(&srv);
    send(
        &mut ws,
        json!({"type":"response.create","model":"m-codex","input":"rate limit me"}),
    );
    let evs = events_until(&mut ws, "response.completed");
    assert_eq!(types(&evs), ["error"], "{evs:?}");
    assert_eq!(evs[0]["status"], 429, "{evs:?}");
    assert_eq!(
        evs[0]["error"]["message"], "slow down, websocket",
        "{evs:?}"
    );
    assert_eq!(up.seen().len(), 1);
    // The client socket is still open: a ping gets its pong.
    ws.send(Message::Ping(b"still there".to_vec().into()))
        .unwrap();
    loop {
        match ws.read().expect("pong") {
            Message::Pong(p) => {
                assert_eq!(&p[..], b"still there");
                break;
            }
            Message::Text(t) => panic!("unexpected event {t}"),
            _ => {}
        }
    }
}

/// The upstream closes mid-response: the client gets the events sent
/// before the close, then an `error` event ending the turn (not a hang, not
/// a dropped client socket).
#[test]
fn upstream_close_mid_stream_ends_the_client_turn() {
    let up = WsMock::start(script);
    let srv = Server::start(
        "epoll",
        1,
        &config(&format!("http://{}", up.addr), true),
        &[],
    );
    let mut ws = connect(&srv);
    send(
        &mut ws,
        json!({"type":"response.create","model":"m-codex","input":"hang up"}),
    );
    let evs = events_until(&mut ws, "response.completed");
    let t = types(&evs);
    assert_eq!(
        t,
        ["response.created", "response.output_item.added", "error"],
        "{evs:?}"
    );
    assert_eq!(up.seen().len(), 1);
    ws.close(None).unwrap();
}

/// `websockets: false` (the default): the same client socket reaches the
/// upstream with the SSE request (a POST), not a WebSocket.
#[test]
fn websockets_off_uses_the_sse_request() {
    let mock = Mock::start(|_| {
        sse_reply(
            tool_call_events()
                .iter()
                .map(|e| format!("event: {}\ndata: {e}\n\n", e["type"].as_str().unwrap()))
                .collect(),
        )
    });
    let srv = Server::start(
        "epoll",
        1,
        &config(&format!("http://{}", mock.addr), false),
        &[],
    );
    let mut ws = connect(&srv);
    send(&mut ws, first_turn());
    let evs = events_until(&mut ws, "response.completed");
    assert_eq!(
        types(&evs).last().map(String::as_str),
        Some("response.completed")
    );
    let reqs = mock.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].method, "POST");
    assert_eq!(reqs[0].path, "/backend-api/codex/responses");
    assert!(reqs[0].header("upgrade").is_none());
}

/// An HTTP client on a `websockets: true` entry still gets the SSE request
/// (CLIProxyAPI's `CodexAutoExecutor` picks the WebSocket only for
/// downstream WebSocket requests).
#[test]
fn http_client_on_a_websockets_entry_uses_the_sse_request() {
    let mock = Mock::start(|_| {
        sse_reply(
            tool_call_events()
                .iter()
                .map(|e| format!("event: {}\ndata: {e}\n\n", e["type"].as_str().unwrap()))
                .collect(),
        )
    });
    let srv = Server::start(
        "epoll",
        1,
        &config(&format!("http://{}", mock.addr), true),
        &[],
    );
    let resp = srv.request(
        "POST",
        "/v1/responses",
        &[("Authorization", &format!("Bearer {CLIENT_KEY}"))],
        &json!({"model":"m-codex","input":"hi","stream":true}).to_string(),
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert!(
        resp.text().contains("response.completed"),
        "{}",
        resp.text()
    );
    let reqs = mock.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].method, "POST");
    assert!(reqs[0].header("upgrade").is_none());
}

/// `426 Upgrade Required` on the upgrade: the same turn goes out as the
/// SSE request (a POST) and the client gets the whole answer.
#[test]
fn upgrade_required_falls_back_to_the_sse_request() {
    let up = WsMock::start_with(script, |_| Some(426), None);
    let srv = Server::start(
        "epoll",
        1,
        &config(&format!("http://{}", up.addr), true),
        &[],
    );
    let mut ws = connect(&srv);
    send(&mut ws, first_turn());
    let evs = events_until(&mut ws, "response.completed");
    assert_eq!(evs.len(), tool_call_events().len(), "{evs:?}");
    let seen = up.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0].method, "GET");
    assert_eq!(seen[0].refused, Some(426));
    assert_eq!(seen[1].method, "POST");
    assert_eq!(seen[1].path, "/backend-api/codex/responses");
    assert_eq!(seen[1].messages[0]["model"], "codex-upstream");
    assert!(seen[1].messages[0].get("type").is_none(), "an SSE body");
}

/// Another refusal of the upgrade (401) is the upstream's error answer:
/// the client gets an `error` event with that status.
#[test]
fn refused_upgrade_is_an_error_answer() {
    let up = WsMock::start_with(script, |_| Some(401), None);
    let srv = Server::start(
        "epoll",
        1,
        &config(&format!("http://{}", up.addr), true),
        &[],
    );
    let mut ws = connect(&srv);
    send(&mut ws, first_turn());
    let evs = events_until(&mut ws, "response.completed");
    assert_eq!(types(&evs), ["error"], "{evs:?}");
    assert_eq!(evs[0]["status"], 401, "{evs:?}");
    assert_eq!(evs[0]["error"]["message"], "upgrade refused", "{evs:?}");
    let seen = up.seen();
    assert!(
        seen.iter().all(|s| s.method == "GET"),
        "no SSE retry: {seen:?}"
    );
}

/// An upstream socket that closes before its first event fails over like a
/// connect error: the next credential's socket answers the turn whole.
#[test]
fn close_before_the_first_event_fails_over() {
    let up = WsMock::start(|conn, req| {
        if conn == 0 {
            vec![Out::Close]
        } else {
            script(conn, req)
        }
    });
    let base = format!("http://{}", up.addr);
    let yaml = format!(
        r#"api-keys: ["{CLIENT_KEY}"]
auth-dir: ./auths
codex-api-key:
  - api-key: "sk-up-a"
    base-url: "{base}/backend-api/codex"
    websockets: true
    models: [{{name: codex-upstream, alias: m-codex}}]
  - api-key: "sk-up-b"
    base-url: "{base}/backend-api/codex"
    websockets: true
    models: [{{name: codex-upstream, alias: m-codex}}]
"#
    );
    let srv = Server::start("epoll", 1, &yaml, &[]);
    let mut ws = connect(&srv);
    send(&mut ws, first_turn());
    let evs = events_until(&mut ws, "response.completed");
    let want: Vec<String> = tool_call_events()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(types(&evs), want);
    let seen = up.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    let keys: Vec<_> = seen.iter().map(|s| s.header("authorization")).collect();
    assert_ne!(keys[0], keys[1], "the other credential: {keys:?}");
}

/// A Codex OAuth account whose file says `websockets: true`: the upgrade
/// goes to chatgpt.com over TLS with the account's token and account id.
#[test]
fn codex_account_with_websockets_uses_the_upstream_websocket() {
    let parts = tls_parts_for(&["chatgpt.com"]);
    let ca_pem = parts.ca_pem.clone();
    let up = WsMock::start_with(script, |_| None, Some(parts.config));
    let auth = scratch_dir("codex-ws-auth");
    let claims = json!({"email":"c@example.com","https://api.openai.com/auth":{"chatgpt_plan_type":"team","chatgpt_account_id":"acct-42"}});
    let id_token = format!("e30.{}.sig", b64url(claims.to_string().as_bytes()));
    std::fs::write(
        auth.join("codex-c@example.com-team.json"),
        json!({"type":"codex","id_token":id_token,"access_token":"at-codex-ws","refresh_token":"rt",
            "account_id":"acct-42","email":"c@example.com","expired":"2099-01-01T00:00:00Z","websockets":true})
        .to_string(),
    )
    .unwrap();
    let ca = scratch_dir("codex-ws-ca").join("ca.pem");
    std::fs::write(&ca, ca_pem).unwrap();
    let yaml = format!(
        "api-keys: [\"{CLIENT_KEY}\"]\nauth-dir: \"{}\"\ncodex-header-defaults:\n  user-agent: \"my-codex/1.0\"\n  beta-features: \" feature-a,feature-b \"\n",
        auth.display()
    );
    let connect_to = format!("chatgpt.com:443={}", up.addr);
    let srv = Server::start_env(
        "epoll",
        1,
        &yaml,
        &["--upstream-ca", &ca.to_string_lossy()],
        &[("CLIPROXY_CONNECT_TO", &connect_to)],
    );
    let mut ws = connect(&srv);
    let mut turn = first_turn();
    turn["model"] = json!("gpt-5.5");
    send(&mut ws, turn);
    let evs = events_until(&mut ws, "response.completed");
    assert_eq!(evs.len(), tool_call_events().len(), "{evs:?}");
    let seen = up.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    let s = &seen[0];
    assert_eq!(s.method, "GET");
    assert_eq!(s.path, "/backend-api/codex/responses");
    assert_eq!(s.header("authorization"), Some("Bearer at-codex-ws"));
    assert_eq!(s.header("chatgpt-account-id"), Some("acct-42"));
    // `codex-header-defaults`: the account's User-Agent and, on the
    // upgrade only, X-Codex-Beta-Features (trimmed).
    assert_eq!(s.header("user-agent"), Some("my-codex/1.0"));
    assert_eq!(
        s.header("x-codex-beta-features"),
        Some("feature-a,feature-b")
    );
    assert_eq!(
        s.header("openai-beta"),
        Some("responses_websockets=2026-02-06")
    );
    assert_eq!(s.messages[0]["type"], "response.create");
    assert_eq!(s.messages[0]["model"], "gpt-5.5");
}

/// The Codex websocket preference: a WebSocket client's request goes to the
/// `websockets: true` entry even though another entry has a higher
/// priority; an HTTP client's request keeps the priority order.
#[test]
fn websocket_clients_prefer_websockets_entries_across_priorities() {
    let sse = Mock::start(|_| {
        sse_reply(
            tool_call_events()
                .iter()
                .map(|e| format!("event: {}\ndata: {e}\n\n", e["type"].as_str().unwrap()))
                .collect(),
        )
    });
    let up = WsMock::start(script);
    let yaml = format!(
        r#"api-keys: ["{CLIENT_KEY}"]
auth-dir: ./auths
codex-api-key:
  - api-key: "sk-high"
    priority: 10
    base-url: "http://{}/backend-api/codex"
    models: [{{name: codex-upstream, alias: m-codex}}]
  - api-key: "sk-ws"
    base-url: "http://{}/backend-api/codex"
    websockets: true
    models: [{{name: codex-upstream, alias: m-codex}}]
"#,
        sse.addr, up.addr
    );
    let srv = Server::start("epoll", 1, &yaml, &[]);
    let mut ws = connect(&srv);
    send(&mut ws, first_turn());
    let evs = events_until(&mut ws, "response.completed");
    assert_eq!(evs.len(), tool_call_events().len(), "{evs:?}");
    let seen = up.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].header("authorization"), Some("Bearer sk-ws"));
    assert!(sse.requests().is_empty(), "the higher tier was not used");

    let resp = srv.request(
        "POST",
        "/v1/responses",
        &[("Authorization", &format!("Bearer {CLIENT_KEY}"))],
        &json!({"model":"m-codex","input":"hi","stream":true}).to_string(),
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    let reqs = sse.requests();
    assert_eq!(reqs.len(), 1, "HTTP clients keep the priority order");
    assert_eq!(reqs[0].header("authorization"), Some("Bearer sk-high"));
    assert_eq!(up.seen().len(), 1);
}
