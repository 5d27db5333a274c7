//! The Codex client surface through the real server and a scripted mock
//! upstream: the Responses WebSocket (`GET /v1/responses` and
//! `/backend-api/codex/responses` with `Upgrade: websocket`, driven by the
//! `tungstenite` client), `/responses/compact`, and the
//! `/backend-api/codex/*` aliases.

mod common;
use common::*;
use serde_json::{json, Value};
use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;
use tungstenite::client::IntoClientRequest;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::CloseFrame;
use tungstenite::{Message, WebSocket};

type Ws = WebSocket<TcpStream>;

fn ev(name: &str, data: Value) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

/// A Codex stream that calls `shell` (call_1) after a bit of text.
fn codex_tool_call_stream() -> Vec<String> {
    let call = json!({"type":"function_call","id":"fc_1","call_id":"call_1","name":"shell","arguments":"{\"cmd\":\"ls\"}","status":"completed"});
    vec![
        ev(
            "response.created",
            json!({"type":"response.created","sequence_number":0,"response":{"id":"resp_1","object":"response","created_at":1,"status":"in_progress","model":"codex-upstream","output":[]}}),
        ),
        ev(
            "response.output_item.added",
            json!({"type":"response.output_item.added","sequence_number":1,"output_index":0,"item":{"type":"function_call","id":"fc_1","call_id":"call_1","name":"shell","arguments":"","status":"in_progress"}}),
        ),
        ev(
            "response.function_call_arguments.delta",
            json!({"type":"response.function_call_arguments.delta","sequence_number":2,"item_id":"fc_1","output_index":0,"delta":"{\"cmd\":\"ls\"}"}),
        ),
        ev(
            "response.function_call_arguments.done",
            json!({"type":"response.function_call_arguments.done","sequence_number":3,"item_id":"fc_1","output_index":0,"arguments":"{\"cmd\":\"ls\"}"}),
        ),
        ev(
            "response.output_item.done",
            json!({"type":"response.output_item.done","sequence_number":4,"output_index":0,"item":call}),
        ),
        ev(
            "response.completed",
            json!({"type":"response.completed","sequence_number":5,"response":{"id":"resp_1","object":"response","created_at":1,"status":"completed","model":"codex-upstream","output":[call],"usage":{"input_tokens":3,"output_tokens":4,"total_tokens":7}}}),
        ),
    ]
}

/// A Codex stream answering `text`.
fn codex_text_stream(text: &str) -> Vec<String> {
    let item = json!({"type":"message","id":"msg_2","status":"completed","role":"assistant","content":[{"type":"output_text","text":text,"annotations":[]}]});
    vec![
        ev(
            "response.created",
            json!({"type":"response.created","sequence_number":0,"response":{"id":"resp_2","object":"response","created_at":1,"status":"in_progress","model":"codex-upstream","output":[]}}),
        ),
        ev(
            "response.output_item.added",
            json!({"type":"response.output_item.added","sequence_number":1,"output_index":0,"item":{"type":"message","id":"msg_2","status":"in_progress","role":"assistant","content":[]}}),
        ),
        ev(
            "response.output_text.delta",
            json!({"type":"response.output_text.delta","sequence_number":2,"item_id":"msg_2","output_index":0,"content_index":0,"delta":text}),
        ),
        ev(
            "response.output_item.done",
            json!({"type":"response.output_item.done","sequence_number":3,"output_index":0,"item":item}),
        ),
        ev(
            "response.completed",
            json!({"type":"response.completed","sequence_number":4,"response":{"id":"resp_2","object":"response","created_at":1,"status":"completed","model":"codex-upstream","output":[item],"usage":{"input_tokens":3,"output_tokens":4,"total_tokens":7}}}),
        ),
    ]
}

/// A mock that answers by upstream path: the Codex upstream calls a tool on
/// its first request and answers text afterwards; a request whose input
/// says `fail` gets a 400; compact paths get a JSON answer.
fn mock() -> Mock {
    Mock::start(|r| {
        let body = String::from_utf8_lossy(&r.body).into_owned();
        if r.path.ends_with("/responses/compact") {
            return json_reply(
                200,
                r#"{"id":"resp_c","object":"response.compaction","output":[{"type":"compaction","encrypted_content":"xyz"}]}"#,
            );
        }
        if body.contains("rate limit me") {
            return Reply::Full {
                status: 429,
                headers: vec![
                    ("Content-Type".into(), "application/json".into()),
                    ("Retry-After".into(), "600".into()),
                ],
                body: br#"{"error":{"message":"slow down","type":"usage_limit_reached"}}"#.to_vec(),
            };
        }
        if body.contains("please fail") {
            return json_reply(
                400,
                r#"{"error":{"message":"bad input from upstream","type":"invalid_request_error","code":"bad_input"}}"#,
            );
        }
        if r.path.starts_with("/codex/") {
            let turns = body.matches("function_call_output").count();
            return sse_reply(if turns == 0 {
                codex_tool_call_stream()
            } else {
                codex_text_stream("done")
            });
        }
        if r.path.starts_with("/v1/messages") {
            let mut evs = vec![claude_message_start("claude-upstream")];
            evs.push((
                Some("content_block_start"),
                json!({"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_1","name":"shell","input":{}}}),
            ));
            evs.push((
                Some("content_block_delta"),
                json!({"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"cmd\":\"pwd\"}"}}),
            ));
            evs.push(claude_block_stop(0));
            evs.extend(claude_message_end("tool_use", 9));
            return sse_events(&evs);
        }
        if r.path.starts_with("/v1/chat/completions") {
            let chunk = |delta: Value, finish: Value| {
                format!(
                    "data: {}\n\n",
                    json!({"id":"c1","object":"chat.completion.chunk","created":1,"model":"compat-upstream","choices":[{"index":0,"delta":delta,"finish_reason":finish}]})
                )
            };
            return sse_reply(vec![
                chunk(json!({"role":"assistant","content":"hello "}), Value::Null),
                chunk(json!({"content":"from compat"}), Value::Null),
                chunk(json!({}), json!("stop")),
                "data: [DONE]\n\n".into(),
            ]);
        }
        if r.path.starts_with("/v1beta/models/") {
            let chunk = json!({"candidates":[{"content":{"role":"model","parts":[{"text":"hello from gemini"}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":4,"totalTokenCount":7}});
            return sse_events(&[(None, chunk)]);
        }
        json_reply(404, r#"{"error":{"message":"unexpected path"}}"#)
    })
}

fn server(driver: &str, mock: &Mock) -> Server {
    Server::start(driver, 1, &every_kind_default_config(mock), &[])
}

fn connect(srv: &Server, path: &str, key: Option<&str>) -> Result<Ws, tungstenite::Error> {
    let mut req = format!("ws://{}{path}", srv.addr)
        .into_client_request()
        .unwrap();
    if let Some(k) = key {
        req.headers_mut()
            .insert("authorization", format!("Bearer {k}").parse().unwrap());
    }
    req.headers_mut().insert(
        "openai-beta",
        "responses_websockets=2026-02-06".parse().unwrap(),
    );
    let (ws, _resp) = tungstenite::client(req, srv.connect()).map_err(|e| match e {
        tungstenite::HandshakeError::Failure(e) => e,
        tungstenite::HandshakeError::Interrupted(_) => panic!("handshake interrupted"),
    })?;
    Ok(ws)
}

fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::text(v.to_string())).unwrap();
}

/// Reads text events until one of type `until` (or an `error` event).
fn events_until(ws: &mut Ws, until: &str) -> Vec<Value> {
    let mut out = Vec::new();
    loop {
        match ws.read().unwrap() {
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

fn types(evs: &[Value]) -> Vec<&str> {
    evs.iter()
        .map(|e| e["type"].as_str().unwrap_or("?"))
        .collect()
}

/// A Codex upstream over the socket: the tool-call stream arrives as one
/// text frame per event, then a second request on the same socket carries
/// the history (first input, the call from the first response's output,
/// the tool result) to the upstream, as CLIProxyAPI's HTTP bridge does.
fn codex_round_trip(driver: &str) {
    let mock = mock();
    let srv = server(driver, &mock);
    let mut ws = connect(&srv, "/v1/responses", Some(CLIENT_KEY)).unwrap();
    send(
        &mut ws,
        json!({"type":"response.create","model":"m-codex","instructions":"be terse","input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"list files"}]}],"tools":[{"type":"function","name":"shell","parameters":{"type":"object","properties":{"cmd":{"type":"string"}}}}]}),
    );
    let evs = events_until(&mut ws, "response.completed");
    let t = types(&evs);
    assert_eq!(t.first(), Some(&"response.created"), "{t:?}");
    assert_eq!(t.last(), Some(&"response.completed"), "{t:?}");
    assert!(
        t.contains(&"response.function_call_arguments.delta"),
        "{t:?}"
    );
    let done = evs
        .iter()
        .find(|e| e["type"] == "response.output_item.done")
        .expect("output_item.done");
    assert_eq!(done["item"]["type"], "function_call");
    assert_eq!(done["item"]["call_id"], "call_1");
    assert_eq!(done["item"]["arguments"], "{\"cmd\":\"ls\"}");
    let completed = evs.last().unwrap();
    assert_eq!(completed["response"]["output"][0]["call_id"], "call_1");

    // Second request on the same socket: the tool result.
    send(
        &mut ws,
        json!({"type":"response.create","previous_response_id":"resp_1","input":[{"type":"function_call_output","call_id":"call_1","output":"a.txt"}]}),
    );
    let evs = events_until(&mut ws, "response.completed");
    let t = types(&evs);
    assert_eq!(t.last(), Some(&"response.completed"), "{t:?}");
    let text: String = evs
        .iter()
        .filter(|e| e["type"] == "response.output_text.delta")
        .map(|e| e["delta"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(text, "done");

    let reqs = mock.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].path, "/codex/responses");
    let second = reqs[1].json();
    assert_eq!(second["model"], "codex-upstream");
    assert_eq!(second["stream"], true);
    assert_eq!(second["instructions"], "be terse");
    assert!(second.get("previous_response_id").is_none(), "{second}");
    let kinds: Vec<&str> = second["input"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["type"].as_str().unwrap_or("message"))
        .collect();
    assert_eq!(kinds, ["message", "function_call", "function_call_output"]);
    ws.close(None).unwrap();
}

both_drivers!(codex_round_trip_on, |driver: &str| codex_round_trip(driver));

/// A Claude upstream: its tool_use stream is translated into Responses
/// events before it reaches the socket (the `/backend-api/codex` alias).
#[test]
fn claude_upstream_is_translated() {
    let mock = mock();
    let srv = server("epoll", &mock);
    let mut ws = connect(&srv, "/backend-api/codex/responses", Some(CLIENT_KEY)).unwrap();
    send(
        &mut ws,
        json!({"type":"response.create","model":"m-claude","input":"where am I?","tools":[{"type":"function","name":"shell","parameters":{"type":"object"}}]}),
    );
    let evs = events_until(&mut ws, "response.completed");
    let t = types(&evs);
    assert_eq!(t.first(), Some(&"response.created"), "{evs:?}");
    assert_eq!(t.last(), Some(&"response.completed"), "{t:?}");
    let call = evs
        .iter()
        .find(|e| e["type"] == "response.output_item.done" && e["item"]["type"] == "function_call")
        .unwrap_or_else(|| panic!("no function_call item in {t:?}"));
    assert_eq!(call["item"]["name"], "shell");
    assert_eq!(call["item"]["arguments"], "{\"cmd\":\"pwd\"}");
    let reqs = mock.requests();
    assert_eq!(reqs.len(), 1);
    assert!(reqs[0].path.starts_with("/v1/messages"), "{}", reqs[0].path);
    assert_eq!(reqs[0].json()["stream"], true);
}

/// An upstream error before any event is CLIProxyAPI's `error` event with
/// the status and the upstream's `error` object; the socket stays usable.
/// A message the session cannot use gets a 400 `error` event.
#[test]
fn errors_are_error_events_and_the_socket_stays_open() {
    let mock = mock();
    let srv = server("epoll", &mock);
    let mut ws = connect(&srv, "/v1/responses", Some(CLIENT_KEY)).unwrap();
    send(&mut ws, json!({"type":"response.append","input":[]}));
    let evs = events_until(&mut ws, "error");
    assert_eq!(
        evs,
        [
            json!({"type":"error","status":400,"error":{"message":"websocket request received before response.create","type":"invalid_request_error"}})
        ]
    );
    send(&mut ws, json!({"type":"response.create","input":[]}));
    let evs = events_until(&mut ws, "error");
    assert_eq!(
        evs[0]["error"]["message"],
        "missing model in response.create request"
    );
    send(
        &mut ws,
        json!({"type":"response.create","model":"m-codex","input":"please fail"}),
    );
    let evs = events_until(&mut ws, "error");
    assert_eq!(
        evs,
        [
            json!({"type":"error","status":400,"error":{"message":"bad input from upstream","type":"invalid_request_error","code":"bad_input"}})
        ]
    );
    // Still open: the next request is served. It continues the failed one
    // (CLIProxyAPI keeps the request it sent), so its input is an array.
    send(
        &mut ws,
        json!({"type":"response.create","input":[{"type":"message","role":"user","content":"go"}]}),
    );
    let evs = events_until(&mut ws, "response.completed");
    assert_eq!(types(&evs).last(), Some(&"response.completed"), "{evs:?}");
}

/// No key: the same 401 as every other route, before any upgrade.
#[test]
fn missing_key_is_the_routes_401() {
    let mock = mock();
    let srv = server("epoll", &mock);
    let Err(err) = connect(&srv, "/v1/responses", None) else {
        panic!("upgraded without a key");
    };
    let tungstenite::Error::Http(resp) = err else {
        panic!("not an HTTP refusal: {err:?}");
    };
    assert_eq!(resp.status().as_u16(), 401);
    let body: Value = serde_json::from_slice(resp.body().as_deref().unwrap_or(b"{}")).unwrap();
    let post = srv.request("POST", "/v1/responses", &[], r#"{"model":"m-codex"}"#);
    assert_eq!(post.status, 401);
    assert_eq!(body, post.json());
    // A GET that is not an upgrade is refused as gorilla/websocket does.
    let plain = srv.request("GET", "/v1/responses", &[CLIENT_AUTH], "");
    assert_eq!(plain.status, 400);
    assert_eq!(plain.text(), "Bad Request\n");
    assert_eq!(plain.header("sec-websocket-version"), Some("13"));
    assert!(mock.requests().is_empty());
}

/// Ping gets its pong with the same data; a close gets its echo and the
/// server ends the connection.
#[test]
fn ping_pong_and_close_handshake() {
    let mock = mock();
    let srv = server("uring", &mock);
    let mut ws = connect(&srv, "/v1/responses", Some(CLIENT_KEY)).unwrap();
    ws.send(Message::Ping(b"are you there".to_vec().into()))
        .unwrap();
    match ws.read().unwrap() {
        Message::Pong(p) => assert_eq!(&p[..], b"are you there"),
        other => panic!("expected pong, got {other:?}"),
    }
    ws.close(Some(CloseFrame {
        code: CloseCode::Normal,
        reason: "bye".into(),
    }))
    .unwrap();
    let echo = loop {
        match ws.read() {
            Ok(Message::Close(c)) => break c,
            Ok(_) => continue,
            Err(e) => panic!("no close echo: {e}"),
        }
    };
    assert_eq!(echo.map(|c| c.code), Some(CloseCode::Normal));
    // tungstenite reports the completed close handshake.
    assert!(matches!(
        ws.read(),
        Err(tungstenite::Error::ConnectionClosed) | Err(tungstenite::Error::AlreadyClosed)
    ));
}

/// Raw frames: the handshake by hand, then `frames`; returns the first
/// frame the server sends back (opcode, payload), reading until EOF.
fn raw_session(srv: &Server, frames: &[u8]) -> (u8, Vec<u8>) {
    let mut s = srv.connect();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let head = format!(
        "GET /v1/responses HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nAuthorization: Bearer {CLIENT_KEY}\r\n\r\n"
    );
    s.write_all(head.as_bytes()).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let (status, headers) = read_head(&mut r).unwrap();
    assert_eq!(status, 101);
    assert_eq!(
        header_in(&headers, "sec-websocket-accept"),
        Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    );
    s.write_all(frames).unwrap();
    let mut rest = Vec::new();
    let _ = r.read_to_end(&mut rest);
    assert!(rest.len() >= 2, "no frame before EOF");
    let len = (rest[1] & 0x7f) as usize;
    assert_eq!(rest[1] & 0x80, 0, "server frames are unmasked");
    (rest[0] & 0x0f, rest[2..2 + len].to_vec())
}

fn close_code(payload: &[u8]) -> u16 {
    u16::from_be_bytes([payload[0], payload[1]])
}

/// Bad frames close with 1002; a message over the body limit with 1009
/// (refused from its header: the payload is never sent).
#[test]
fn bad_frames_and_oversized_messages_close_the_socket() {
    let mock = mock();
    let srv = server("epoll", &mock);
    // Unmasked client frame.
    let (op, p) = raw_session(&srv, b"\x81\x02hi");
    assert_eq!((op, close_code(&p)), (0x8, 1002));
    // Continuation with nothing to continue.
    let (op, p) = raw_session(&srv, b"\x80\x81\x00\x00\x00\x00x");
    assert_eq!((op, close_code(&p)), (0x8, 1002));
    // A text frame declaring 1 TiB.
    let mut f = vec![0x81, 0x80 | 127];
    f.extend_from_slice(&(1u64 << 40).to_be_bytes());
    f.extend_from_slice(&[1, 2, 3, 4]);
    let (op, p) = raw_session(&srv, &f);
    assert_eq!((op, close_code(&p)), (0x8, 1009));
    assert!(mock.requests().is_empty());
}

/// A fragmented `response.create` (three frames, a ping between them) is
/// one request.
#[test]
fn fragmented_message_is_reassembled() {
    let mock = mock();
    let srv = server("epoll", &mock);
    let msg = json!({"type":"response.create","model":"m-codex","input":"go"}).to_string();
    let b = msg.as_bytes();
    let frame = |fin: bool, op: u8, p: &[u8]| {
        let mut v = vec![(if fin { 0x80 } else { 0 }) | op, 0x80 | p.len() as u8];
        let mask = [7u8, 1, 9, 3];
        v.extend_from_slice(&mask);
        v.extend(p.iter().enumerate().map(|(i, c)| c ^ mask[i % 4]));
        v
    };
    let mut wire = frame(false, 0x1, &b[..10]);
    wire.extend(frame(true, 0x9, b"p"));
    wire.extend(frame(false, 0x0, &b[10..20]));
    wire.extend(frame(true, 0x0, &b[20..]));
    let mut s = srv.connect();
    s.write_all(
        format!("GET /v1/responses HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nAuthorization: Bearer {CLIENT_KEY}\r\n\r\n").as_bytes(),
    )
    .unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    assert_eq!(read_head(&mut r).unwrap().0, 101);
    assert!(r.buffer().is_empty(), "nothing follows the 101 unasked");
    s.write_all(&wire).unwrap();
    let mut ws = WebSocket::from_raw_socket(s, tungstenite::protocol::Role::Client, None);
    let mut saw_pong = false;
    loop {
        match ws.read().unwrap() {
            Message::Pong(p) => saw_pong = &p[..] == b"p",
            Message::Text(t) => {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                if v["type"] == "response.completed" {
                    break;
                }
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(saw_pong);
    assert_eq!(mock.requests().len(), 1);
}

/// `/responses/compact`: Codex and OpenAI-compatible upstreams get the
/// body without `stream` on their `/responses/compact`, and the JSON answer
/// comes back as is; `stream: true` is refused; other kinds answer 501.
#[test]
fn compact_routes() {
    let mock = mock();
    let srv = server("epoll", &mock);
    let auth = [CLIENT_AUTH];
    let r = srv.request(
        "POST",
        "/v1/responses/compact",
        &auth,
        r#"{"model":"m-codex","input":[{"type":"message","role":"user","content":"hi"}],"stream":false}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["object"], "response.compaction");
    let r = srv.request(
        "POST",
        "/backend-api/codex/responses/compact",
        &auth,
        r#"{"model":"m-compat","input":"hi"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let reqs = mock.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].path, "/codex/responses/compact");
    assert_eq!(reqs[0].header("accept"), Some("application/json"));
    assert_eq!(
        reqs[0].json(),
        json!({"model":"codex-upstream","input":[{"type":"message","role":"user","content":"hi"}]})
    );
    assert_eq!(reqs[1].path, "/v1/responses/compact");
    assert_eq!(
        reqs[1].json(),
        json!({"model":"compat-upstream","input":"hi"})
    );

    let r = srv.request(
        "POST",
        "/v1/responses/compact",
        &auth,
        r#"{"model":"m-codex","input":"hi","stream":true}"#,
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["error"]["message"],
        "Streaming not supported for compact responses"
    );
    let r = srv.request(
        "POST",
        "/v1/responses/compact",
        &auth,
        r#"{"model":"m-claude","input":"hi"}"#,
    );
    assert_eq!(r.status, 501);
    assert_eq!(
        r.json()["error"]["message"],
        "/responses/compact not supported"
    );
    let r = srv.request(
        "POST",
        "/v1/responses/compact",
        &[],
        r#"{"model":"m-codex"}"#,
    );
    assert_eq!(r.status, 401);
    assert_eq!(mock.requests().len(), 2);
}

/// `POST /backend-api/codex/responses` is `/v1/responses`.
#[test]
fn backend_api_post_alias() {
    let mock = mock();
    let srv = server("epoll", &mock);
    let r = srv.request(
        "POST",
        "/backend-api/codex/responses",
        &[CLIENT_AUTH],
        r#"{"model":"m-codex","input":"go","stream":true}"#,
    );
    assert_eq!(r.status, 200);
    let evs = sse_json(&r.body);
    assert_eq!(evs.last().unwrap()["type"], "response.completed");
    assert_eq!(mock.requests()[0].path, "/codex/responses");
}

/// Shutdown does not wait for idle sockets: each gets a 1001 close and the
/// server exits well within its drain time.
#[test]
fn shutdown_closes_idle_sockets_with_1001() {
    let mock = mock();
    let mut srv = server("epoll", &mock);
    let mut ws = connect(&srv, "/v1/responses", Some(CLIENT_KEY)).unwrap();
    // One served turn first, so the session is past its handshake.
    send(
        &mut ws,
        json!({"type":"response.create","model":"m-codex","input":"go"}),
    );
    events_until(&mut ws, "response.completed");
    srv.sigterm();
    let close = loop {
        match ws.read() {
            Ok(Message::Close(c)) => break c,
            Ok(_) => continue,
            Err(e) => panic!("no close frame: {e}"),
        }
    };
    assert_eq!(close.map(|c| c.code), Some(CloseCode::Away));
    // Drain is 10 s in tests: an exit well before it shows nothing waited.
    assert_eq!(srv.wait_exit(Duration::from_secs(5)), Some(0));
}

/// The socket over the HTTPS listener (ALPN http/1.1): a full turn.
#[test]
fn websocket_over_the_https_listener() {
    use rustls::pki_types::pem::PemObject;
    let mock = mock();
    let parts = tls_parts();
    let dir = scratch_dir("ws-tls");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, &parts.cert_pem).unwrap();
    std::fs::write(&key, &parts.key_pem).unwrap();
    let yaml = format!(
        "{}tls:\n  enable: true\n  cert: \"{}\"\n  key: \"{}\"\n",
        every_kind_default_config(&mock),
        cert.display(),
        key.display()
    );
    let srv = Server::start("epoll", 1, &yaml, &[]);
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_slice_iter(parts.ca_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(std::sync::Arc::new(cfg), name).unwrap();
    let tls = rustls::StreamOwned::new(conn, srv.connect());
    let mut req = format!("wss://localhost:{}/v1/responses", srv.addr.port())
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {CLIENT_KEY}").parse().unwrap(),
    );
    let (mut ws, _) = tungstenite::client(req, tls).unwrap();
    ws.send(Message::text(
        json!({"type":"response.create","model":"m-codex","input":"go"}).to_string(),
    ))
    .unwrap();
    let completed = loop {
        if let Message::Text(t) = ws.read().unwrap() {
            let v: Value = serde_json::from_str(t.as_str()).unwrap();
            assert_ne!(v["type"], "error", "{v}");
            if v["type"] == "response.completed" {
                break v;
            }
        }
    };
    assert_eq!(completed["response"]["output"][0]["call_id"], "call_1");
    ws.close(None).unwrap();
}

/// An upstream 429: the error event carries the status, the upstream's
/// `error` object and its `Retry-After` under `headers`, as CLIProxyAPI
/// adds the error's headers.
#[test]
fn rate_limit_error_event_carries_retry_after() {
    let mock = mock();
    let srv = server("epoll", &mock);
    let mut ws = connect(&srv, "/v1/responses", Some(CLIENT_KEY)).unwrap();
    send(
        &mut ws,
        json!({"type":"response.create","model":"m-codex","input":"rate limit me"}),
    );
    let evs = events_until(&mut ws, "error");
    assert_eq!(
        evs,
        [
            json!({"type":"error","status":429,"headers":{"Retry-After":"600"},"error":{"message":"slow down","type":"usage_limit_reached"}})
        ]
    );
}

/// A first `response.create` with `generate: false` is a prewarm answered
/// without the upstream (`response.created` + `response.completed`); the
/// next message continues from it.
#[test]
fn prewarm_is_answered_locally() {
    let mock = mock();
    let srv = server("epoll", &mock);
    let mut ws = connect(&srv, "/v1/responses", Some(CLIENT_KEY)).unwrap();
    send(
        &mut ws,
        json!({"type":"response.create","model":"m-codex","instructions":"warm","generate":false}),
    );
    let evs = events_until(&mut ws, "response.completed");
    assert_eq!(types(&evs), ["response.created", "response.completed"]);
    assert_eq!(evs[1]["response"]["model"], "m-codex");
    assert_eq!(evs[1]["response"]["output"], json!([]));
    assert!(mock.requests().is_empty());
    send(
        &mut ws,
        json!({"type":"response.create","input":[{"type":"message","role":"user","content":"go"}]}),
    );
    let evs = events_until(&mut ws, "response.completed");
    assert_eq!(types(&evs).last(), Some(&"response.completed"));
    let reqs = mock.requests();
    assert_eq!(reqs.len(), 1);
    let sent = reqs[0].json();
    assert_eq!(sent["instructions"], "warm");
    assert!(sent.get("generate").is_none(), "{sent}");
}

/// A socket whose upgrade names a session (`session_id`, as Codex sends)
/// repairs tool calls: a compacted transcript that kept a tool output but
/// lost its call gets the call the session saw, as CLIProxyAPI does.
#[test]
fn tool_call_repair_with_a_session_key() {
    let mock = mock();
    let srv = server("epoll", &mock);
    let mut req = format!("ws://{}/v1/responses", srv.addr)
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {CLIENT_KEY}").parse().unwrap(),
    );
    req.headers_mut()
        .insert("session_id", "sess-1".parse().unwrap());
    let (mut ws, _) = tungstenite::client(req, srv.connect()).unwrap();
    send(
        &mut ws,
        json!({"type":"response.create","model":"m-codex","input":[{"type":"message","role":"user","content":"list files"}]}),
    );
    events_until(&mut ws, "response.completed");
    // A replacement transcript (it holds model output) with an orphan output.
    send(
        &mut ws,
        json!({"type":"response.create","model":"m-codex","input":[
            {"type":"message","role":"assistant","content":[{"type":"output_text","text":"summary"}]},
            {"type":"function_call_output","call_id":"call_1","output":"a.txt"}
        ]}),
    );
    events_until(&mut ws, "response.completed");
    let reqs = mock.requests();
    assert_eq!(reqs.len(), 2);
    let input = reqs[1].json()["input"].clone();
    let kinds: Vec<&str> = input
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["type"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(
        kinds,
        ["message", "function_call", "function_call_output"],
        "{input}"
    );
    assert_eq!(input[1]["call_id"], "call_1");
    assert_eq!(input[1]["name"], "shell");
}

/// Codex CLI's own request (tools of every kind: function, custom,
/// local_shell, web_search, namespace) as a `response.create`, to every
/// upstream kind: each answers with a whole event stream ending in
/// `response.completed`, on one socket.
#[test]
fn codex_cli_request_to_every_upstream_kind() {
    let mock = mock();
    let srv = server("epoll", &mock);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/request/real_clients/codex_cli_tools.json");
    let fixture: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    for model in ["m-compat", "m-claude", "m-gemini", "m-codex"] {
        // A fresh socket per kind: each first response.create stands alone.
        let mut ws = connect(&srv, "/backend-api/codex/responses", Some(CLIENT_KEY)).unwrap();
        let mut msg = fixture.clone();
        let obj = msg.as_object_mut().unwrap();
        obj.remove("stream");
        obj.insert("type".into(), json!("response.create"));
        obj.insert("model".into(), json!(model));
        send(&mut ws, msg);
        let evs = events_until(&mut ws, "response.completed");
        let t = types(&evs);
        assert_eq!(t.first(), Some(&"response.created"), "{model}: {evs:?}");
        assert_eq!(t.last(), Some(&"response.completed"), "{model}: {t:?}");
        ws.close(None).unwrap();
    }
    let paths: Vec<String> = mock.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths.len(), 4, "{paths:?}");
}
