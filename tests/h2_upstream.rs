//! HTTP/2 upstreams: the real binary against a TLS mock that speaks h2 (the
//! `h2` crate server side, on a tokio runtime in a test thread) and HTTP/1.1
//! when ALPN does not pick h2. The mock counts accepted TCP connections and
//! records the protocol of every request.

mod common;
use bytes::Bytes;
use common::*;
use std::io::{BufReader, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;

macro_rules! both_drivers {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[test]
            fn uring() {
                ($body)("uring")
            }
            #[test]
            fn epoll() {
                ($body)("epoll")
            }
        }
    };
}

const KEY: &str = "sk-client-1";
const AUTH: (&str, &str) = ("Authorization", "Bearer sk-client-1");

fn chat_body(stream: bool) -> String {
    format!(
        r#"{{"model":"gpt-test","messages":[{{"role":"user","content":"hi"}}],"stream":{stream}}}"#
    )
}

/// One request the h2 mock received.
#[derive(Clone, Debug)]
struct Seen {
    /// `h2` or `http/1.1`.
    proto: &'static str,
    path: String,
    auth: String,
    body: Vec<u8>,
}

/// What the h2 mock answers.
#[derive(Clone)]
enum H2Reply {
    Json(String),
    /// SSE events as DATA frames; with `kill_after`, the connection is torn
    /// down (TCP closed, no GOAWAY) once the test calls `kill` after that
    /// many events were sent.
    Sse {
        events: Vec<String>,
        kill_after: Option<usize>,
    },
    /// GOAWAY and close the connection without answering.
    GoAway,
    /// RST_STREAM(REFUSED_STREAM) instead of a response head.
    Refuse,
    /// One SSE event, then wait for the client to reset the stream; counts
    /// the resets in `H2Mock::resets`.
    AwaitCancel(String),
    /// SSE events, then RST_STREAM(INTERNAL_ERROR) on the stream after
    /// `events.len() - 1` of them.
    ResetMid(Vec<String>),
}

type Script = Arc<dyn Fn(&Seen) -> H2Reply + Send + Sync>;

struct H2Mock {
    port: u16,
    ca_pem: String,
    connections: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<Seen>>>,
    kill: Arc<Notify>,
    /// Responses wait until this many requests arrived (0: answer at once).
    hold_until: Arc<AtomicUsize>,
    /// Streams the client reset while the mock was still answering.
    resets: Arc<AtomicUsize>,
}

struct Shared {
    script: Script,
    seen: Arc<Mutex<Vec<Seen>>>,
    kill: Arc<Notify>,
    hold_until: Arc<AtomicUsize>,
    arrived: AtomicUsize,
    all_arrived: Notify,
    max_streams: u32,
    resets: Arc<AtomicUsize>,
}

impl H2Mock {
    /// `alpn`: the protocols the mock accepts; `max_streams`: its
    /// SETTINGS_MAX_CONCURRENT_STREAMS.
    fn start(
        alpn: &[&[u8]],
        max_streams: u32,
        script: impl Fn(&Seen) -> H2Reply + Send + Sync + 'static,
    ) -> H2Mock {
        Self::start_with(tls_parts(), alpn, max_streams, script)
    }

    /// As [`H2Mock::start`], presenting `parts`' certificate (e.g. for a
    /// provider's real host name, dialled through `CLIPROXY_CONNECT_TO`).
    fn start_with(
        parts: TlsParts,
        alpn: &[&[u8]],
        max_streams: u32,
        script: impl Fn(&Seen) -> H2Reply + Send + Sync + 'static,
    ) -> H2Mock {
        let mut cfg = (*parts.config).clone();
        cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
        let std_l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        std_l.set_nonblocking(true).unwrap();
        let port = std_l.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let kill = Arc::new(Notify::new());
        let hold_until = Arc::new(AtomicUsize::new(0));
        let resets = Arc::new(AtomicUsize::new(0));
        let shared = Arc::new(Shared {
            resets: resets.clone(),
            script: Arc::new(script),
            seen: seen.clone(),
            kill: kill.clone(),
            hold_until: hold_until.clone(),
            arrived: AtomicUsize::new(0),
            all_arrived: Notify::new(),
            max_streams,
        });
        let conns = connections.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let l = tokio::net::TcpListener::from_std(std_l).unwrap();
                loop {
                    let Ok((tcp, _)) = l.accept().await else {
                        continue;
                    };
                    conns.fetch_add(1, Ordering::SeqCst);
                    let acceptor = acceptor.clone();
                    let shared = shared.clone();
                    tokio::spawn(async move {
                        let Ok(tls) = acceptor.accept(tcp).await else {
                            return;
                        };
                        let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
                        if h2 {
                            serve_h2(tls, shared).await;
                        } else {
                            serve_h1(tls, shared).await;
                        }
                    });
                }
            });
        });
        H2Mock {
            port,
            ca_pem: parts.ca_pem,
            connections,
            seen,
            kill,
            hold_until,
            resets,
        }
    }

    fn base_url(&self) -> String {
        format!("https://localhost:{}/v1", self.port)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Starts the binary trusting the mock's CA.
    fn server(&self, driver: &str, workers: usize, yaml: &str) -> Server {
        let dir = scratch_dir("h2ca");
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, &self.ca_pem).unwrap();
        Server::start(
            driver,
            workers,
            yaml,
            &["--upstream-ca", ca.to_str().unwrap()],
        )
    }
}

type Tls = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;

async fn serve_h2(tls: Tls, shared: Arc<Shared>) {
    let mut conn = match h2::server::Builder::new()
        .max_concurrent_streams(shared.max_streams)
        .handshake::<_, Bytes>(tls)
        .await
    {
        Ok(c) => c,
        Err(_) => return,
    };
    loop {
        let next = tokio::select! {
            r = conn.accept() => r,
            _ = shared.kill.notified() => return, // drops the TCP connection
        };
        let Some(Ok((req, respond))) = next else {
            return;
        };
        let (parts, mut body) = req.into_parts();
        let auth = parts
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let path = parts.uri.path().to_string();
        let probe = Seen {
            proto: "h2",
            path: path.clone(),
            auth: auth.clone(),
            body: Vec::new(),
        };
        if let H2Reply::GoAway = (shared.script)(&probe) {
            shared.seen.lock().unwrap().push(probe);
            drop(respond);
            drop(body);
            conn.abrupt_shutdown(h2::Reason::INTERNAL_ERROR);
            let _ = tokio::time::timeout(Duration::from_secs(5), async {
                while let Some(Ok(_)) = conn.accept().await {}
            })
            .await;
            return;
        }
        let shared = shared.clone();
        tokio::spawn(async move {
            let mut data = Vec::new();
            while let Some(Ok(chunk)) = body.data().await {
                let _ = body.flow_control().release_capacity(chunk.len());
                data.extend_from_slice(&chunk);
            }
            let seen = Seen {
                proto: "h2",
                path,
                auth,
                body: data,
            };
            let reply = (shared.script)(&seen);
            shared.seen.lock().unwrap().push(seen);
            hold(&shared).await;
            answer_h2(respond, reply, &shared).await;
        });
    }
}

/// Waits until `hold_until` requests arrived (bounded, so a failing test
/// fails on its assertions rather than hanging).
async fn hold(shared: &Shared) {
    let n = shared.arrived.fetch_add(1, Ordering::SeqCst) + 1;
    let want = shared.hold_until.load(Ordering::SeqCst);
    if want == 0 {
        return;
    }
    if n >= want {
        shared.all_arrived.notify_waiters();
        return;
    }
    let _ = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            let wait = shared.all_arrived.notified();
            if shared.arrived.load(Ordering::SeqCst) >= want {
                return;
            }
            wait.await;
        }
    })
    .await;
}

async fn answer_h2(mut respond: h2::server::SendResponse<Bytes>, reply: H2Reply, shared: &Shared) {
    match reply {
        H2Reply::Json(body) => {
            let head = http::Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .header("content-length", body.len())
                .body(())
                .unwrap();
            if let Ok(mut s) = respond.send_response(head, false) {
                let _ = s.send_data(Bytes::from(body), true);
            }
        }
        H2Reply::Sse { events, kill_after } => {
            let head = http::Response::builder()
                .status(200)
                .header("content-type", "text/event-stream")
                .body(())
                .unwrap();
            let Ok(mut s) = respond.send_response(head, false) else {
                return;
            };
            for (i, e) in events.iter().enumerate() {
                if kill_after == Some(i) {
                    // Park: the test kills the connection once the client
                    // saw the first events.
                    std::future::pending::<()>().await;
                }
                if s.send_data(Bytes::from(e.clone()), false).is_err() {
                    return;
                }
            }
            let _ = s.send_data(Bytes::new(), true);
        }
        H2Reply::Refuse => respond.send_reset(h2::Reason::REFUSED_STREAM),
        H2Reply::AwaitCancel(event) => {
            let head = http::Response::builder()
                .status(200)
                .header("content-type", "text/event-stream")
                .body(())
                .unwrap();
            let Ok(mut s) = respond.send_response(head, false) else {
                return;
            };
            let _ = s.send_data(Bytes::from(event), false);
            let reset = tokio::time::timeout(
                Duration::from_secs(15),
                std::future::poll_fn(|cx| s.poll_reset(cx)),
            )
            .await;
            if let Ok(Ok(_)) = reset {
                shared.resets.fetch_add(1, Ordering::SeqCst);
            }
        }
        H2Reply::ResetMid(events) => {
            let head = http::Response::builder()
                .status(200)
                .header("content-type", "text/event-stream")
                .body(())
                .unwrap();
            let Ok(mut s) = respond.send_response(head, false) else {
                return;
            };
            for e in &events[..events.len() - 1] {
                let _ = s.send_data(Bytes::from(e.clone()), false);
            }
            // Let the DATA frames reach the client before the reset.
            let _ = tokio::time::timeout(Duration::from_secs(5), shared.kill.notified()).await;
            s.send_reset(h2::Reason::INTERNAL_ERROR);
        }
        H2Reply::GoAway => {}
    }
}

/// A minimal HTTP/1.1 server side (one request per read, Content-Length bodies).
async fn serve_h1(mut tls: Tls, shared: Arc<Shared>) {
    let mut buf = Vec::new();
    loop {
        let mut tmp = [0u8; 4096];
        let n = match tls.read(&mut tmp).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        buf.extend_from_slice(&tmp[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut headers);
        let Ok(httparse::Status::Complete(head_len)) = req.parse(&buf) else {
            continue;
        };
        let len: usize = req
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("content-length"))
            .and_then(|h| std::str::from_utf8(h.value).ok()?.trim().parse().ok())
            .unwrap_or(0);
        if buf.len() < head_len + len {
            continue;
        }
        let auth = req
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("authorization"))
            .map(|h| String::from_utf8_lossy(h.value).into_owned())
            .unwrap_or_default();
        let seen = Seen {
            proto: "http/1.1",
            path: req.path.unwrap_or("").to_string(),
            auth,
            body: buf[head_len..head_len + len].to_vec(),
        };
        buf.drain(..head_len + len);
        let reply = (shared.script)(&seen);
        shared.seen.lock().unwrap().push(seen);
        let out = match reply {
            H2Reply::Json(b) => format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}",
                b.len()
            ),
            H2Reply::Sse { events, .. } => {
                let body: String = events.concat();
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                )
            }
            H2Reply::GoAway
            | H2Reply::Refuse
            | H2Reply::ResetMid(_)
            | H2Reply::AwaitCancel(_) => return,
        };
        if tls.write_all(out.as_bytes()).await.is_err() || tls.flush().await.is_err() {
            return;
        }
    }
}

const H2_AND_H1: &[&[u8]] = &[b"h2", b"http/1.1"];

both_drivers!(non_stream_and_stream_over_h2, |driver| {
    let mock = H2Mock::start(H2_AND_H1, 100, |r| {
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
        if v["stream"] == true {
            H2Reply::Sse {
                events: chunks("m", &["over ", "h2"]),
                kill_after: None,
            }
        } else {
            H2Reply::Json(completion("m", "hello h2"))
        }
    });
    let srv = mock.server(driver, 1, &compat_config(&mock.base_url(), &[KEY], &["k"]));
    let resp = srv.request("POST", "/v1/chat/completions", &[AUTH], &chat_body(false));
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(
        resp.json()["choices"][0]["message"]["content"],
        "hello h2",
        "{}",
        resp.text()
    );
    for _ in 0..3 {
        let resp = srv.request("POST", "/v1/chat/completions", &[AUTH], &chat_body(true));
        assert_eq!(resp.status, 200, "{}", resp.text());
        assert_eq!(stream_text(&resp.body), "over h2");
        assert!(sse_data(&resp.body).iter().any(|d| d == "[DONE]"));
    }
    let seen = mock.seen();
    assert_eq!(seen.len(), 4);
    for s in &seen {
        assert_eq!(s.proto, "h2");
        assert_eq!(s.path, "/v1/chat/completions");
        assert_eq!(s.auth, "Bearer k");
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&s.body).unwrap()["model"],
            "upstream-model"
        );
    }
    // Sequential requests reuse the one h2 connection.
    assert_eq!(mock.connections.load(Ordering::SeqCst), 1);
    // An open h2 connection (its task pinging) does not hold up shutdown.
    let mut srv = srv;
    let t0 = std::time::Instant::now();
    srv.sigterm();
    assert_eq!(srv.wait_exit(Duration::from_secs(10)), Some(0));
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
});

/// Sends `n` concurrent streamed requests and checks every answer.
fn concurrent_streams(srv: &Server, n: usize, expect: &str) {
    let addr = srv.addr;
    let handles: Vec<_> = (0..n)
        .map(|_| {
            std::thread::spawn(move || {
                let mut s = std::net::TcpStream::connect(addr).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                s.write_all(&raw_request(
                    "POST",
                    "/v1/chat/completions",
                    &[AUTH],
                    &chat_body(true),
                ))
                .unwrap();
                let mut r = BufReader::new(s);
                read_response(&mut r, false).unwrap()
            })
        })
        .collect();
    for h in handles {
        let resp = h.join().unwrap();
        assert_eq!(resp.status, 200, "{}", resp.text());
        assert_eq!(stream_text(&resp.body), expect);
    }
}

both_drivers!(sixty_four_streams_share_a_connection_per_core, |driver| {
    let mock = H2Mock::start(H2_AND_H1, 100, |_| H2Reply::Sse {
        events: chunks("m", &["multi", "plexed"]),
        kill_after: None,
    });
    // No answer until all 64 requests are in flight at the mock at once.
    mock.hold_until.store(64, Ordering::SeqCst);
    let workers = 2;
    let srv = mock.server(
        driver,
        workers,
        &compat_config(&mock.base_url(), &[KEY], &["k"]),
    );
    concurrent_streams(&srv, 64, "multiplexed");
    assert_eq!(mock.seen().len(), 64);
    assert!(mock.seen().iter().all(|s| s.proto == "h2"));
    let conns = mock.connections.load(Ordering::SeqCst);
    assert!(
        (1..=2 * workers).contains(&conns),
        "{conns} upstream connections for 64 streams on {workers} cores"
    );
});

#[test]
fn a_full_connection_opens_another() {
    // The mock allows 8 streams per connection; 20 held concurrent streams
    // on one core need at least 3 connections, and all of them complete.
    let mock = H2Mock::start(H2_AND_H1, 8, |_| H2Reply::Sse {
        events: chunks("m", &["spill", "over"]),
        kill_after: None,
    });
    mock.hold_until.store(20, Ordering::SeqCst);
    let srv = mock.server("uring", 1, &compat_config(&mock.base_url(), &[KEY], &["k"]));
    concurrent_streams(&srv, 20, "spillover");
    let conns = mock.connections.load(Ordering::SeqCst);
    assert!((3..=5).contains(&conns), "{conns} connections");
}

both_drivers!(goaway_before_headers_fails_over, |driver| {
    // The first request gets GOAWAY + close before any response head; the
    // pipeline moves to the next credential on a fresh connection.
    let first = AtomicUsize::new(0);
    let mock = H2Mock::start(H2_AND_H1, 100, move |r| {
        if r.body.is_empty() && first.fetch_add(1, Ordering::SeqCst) == 0 {
            H2Reply::GoAway
        } else {
            H2Reply::Json(completion("m", "after goaway"))
        }
    });
    let srv = mock.server(
        driver,
        1,
        &compat_config(&mock.base_url(), &[KEY], &["k1", "k2"]),
    );
    let resp = srv.request("POST", "/v1/chat/completions", &[AUTH], &chat_body(false));
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(
        resp.json()["choices"][0]["message"]["content"],
        "after goaway"
    );
    let seen = mock.seen();
    // The GOAWAY probe, then the answered request on another credential.
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_ne!(seen[0].auth, seen[1].auth);
    assert_eq!(mock.connections.load(Ordering::SeqCst), 2);
    // The server keeps working on a new connection afterwards.
    let resp = srv.request("POST", "/v1/chat/completions", &[AUTH], &chat_body(false));
    assert_eq!(resp.status, 200, "{}", resp.text());
});

both_drivers!(
    rst_stream_before_head_fails_over_after_first_byte_ends,
    |driver| {
        // Credential k1's requests are refused with RST_STREAM before any head:
        // the request moves to k2 on the same connection. k2 streams are reset
        // mid-way: the client's stream ends with an error event.
        let mock = H2Mock::start(H2_AND_H1, 100, |r| {
            if r.auth == "Bearer k1" {
                H2Reply::Refuse
            } else {
                let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
                if v["stream"] == true {
                    H2Reply::ResetMid(chunks("m", &["cut"]))
                } else {
                    H2Reply::Json(completion("m", "from k2"))
                }
            }
        });
        let srv = mock.server(
            driver,
            1,
            &compat_config(&mock.base_url(), &[KEY], &["k1", "k2"]),
        );
        let resp = srv.request("POST", "/v1/chat/completions", &[AUTH], &chat_body(false));
        assert_eq!(resp.status, 200, "{}", resp.text());
        assert_eq!(resp.json()["choices"][0]["message"]["content"], "from k2");
        let auths: Vec<String> = mock.seen().iter().map(|s| s.auth.clone()).collect();
        assert!(auths.contains(&"Bearer k2".to_string()), "{auths:?}");
        assert_eq!(
            mock.connections.load(Ordering::SeqCst),
            1,
            "one h2 connection"
        );
        // Streamed: whichever credential the rotation picks first, the answer
        // comes from k2 and is cut by RST_STREAM after "cut".
        let mut s = srv.connect();
        s.write_all(&raw_request(
            "POST",
            "/v1/chat/completions",
            &[AUTH],
            &chat_body(true),
        ))
        .unwrap();
        let mut r = BufReader::new(s);
        let (status, _) = read_head(&mut r).unwrap();
        assert_eq!(status, 200);
        let mut body = read_chunk(&mut r).unwrap().expect("first chunk");
        assert!(String::from_utf8_lossy(&body).contains("cut"));
        mock.kill.notify_waiters();
        while let Some(c) = read_chunk(&mut r).unwrap() {
            body.extend_from_slice(&c);
        }
        let data = sse_data(&body);
        assert_eq!(stream_text(&body), "cut");
        let last: serde_json::Value = serde_json::from_str(data.last().unwrap()).unwrap();
        assert_eq!(last["error"]["type"], "server_error", "{data:?}");
        assert!(!data.iter().any(|d| d == "[DONE]"));
    }
);

both_drivers!(connection_reset_after_first_byte_ends_stream, |driver| {
    let mock = H2Mock::start(H2_AND_H1, 100, |_| H2Reply::Sse {
        events: chunks("m", &["partial", "never"]),
        kill_after: Some(1),
    });
    let srv = mock.server(driver, 1, &compat_config(&mock.base_url(), &[KEY], &["k"]));
    let mut s = srv.connect();
    s.write_all(&raw_request(
        "POST",
        "/v1/chat/completions",
        &[AUTH],
        &chat_body(true),
    ))
    .unwrap();
    let mut r = BufReader::new(s);
    let (status, _) = read_head(&mut r).unwrap();
    assert_eq!(status, 200);
    // First event reached the client: now the upstream connection dies.
    let first = read_chunk(&mut r).unwrap().expect("first chunk");
    assert!(String::from_utf8_lossy(&first).contains("partial"));
    mock.kill.notify_waiters();
    let mut rest = first;
    while let Some(c) = read_chunk(&mut r).unwrap() {
        rest.extend_from_slice(&c);
    }
    // The chunked body ended properly, with an error event and no [DONE].
    let data = sse_data(&rest);
    assert_eq!(stream_text(&rest), "partial");
    let last: serde_json::Value = serde_json::from_str(data.last().unwrap()).unwrap();
    assert_eq!(last["error"]["type"], "server_error", "{data:?}");
    assert!(!data.iter().any(|d| d == "[DONE]"));
});

both_drivers!(force_http1_is_honoured, |driver| {
    let mock = H2Mock::start(H2_AND_H1, 100, |_| {
        H2Reply::Json(completion("m", "plain old h1"))
    });
    // Global switch.
    let yaml = format!(
        "force-http1: true\n{}",
        compat_config(&mock.base_url(), &[KEY], &["k"])
    );
    let srv = mock.server(driver, 1, &yaml);
    for _ in 0..2 {
        let resp = srv.request("POST", "/v1/chat/completions", &[AUTH], &chat_body(false));
        assert_eq!(resp.status, 200, "{}", resp.text());
        assert_eq!(
            resp.json()["choices"][0]["message"]["content"],
            "plain old h1"
        );
    }
    assert!(mock.seen().iter().all(|s| s.proto == "http/1.1"));
    drop(srv);
    // Per entry, overriding a global `false`.
    let yaml = compat_config(&mock.base_url(), &[KEY], &["k"])
        .replace("    base-url:", "    force-http1: true\n    base-url:");
    let srv = mock.server(driver, 1, &yaml);
    let resp = srv.request("POST", "/v1/chat/completions", &[AUTH], &chat_body(false));
    assert_eq!(resp.status, 200, "{}", resp.text());
    let seen = mock.seen();
    assert_eq!(seen.len(), 3);
    assert!(seen.iter().all(|s| s.proto == "http/1.1"), "{seen:?}");
});

#[test]
fn h1_only_origin_still_works() {
    // ALPN offers h2 but the origin picks http/1.1: the h1 pool serves it.
    let mock = H2Mock::start(&[b"http/1.1"], 100, |_| {
        H2Reply::Json(completion("m", "h1 origin"))
    });
    let srv = mock.server("uring", 1, &compat_config(&mock.base_url(), &[KEY], &["k"]));
    for _ in 0..3 {
        let resp = srv.request("POST", "/v1/chat/completions", &[AUTH], &chat_body(false));
        assert_eq!(resp.status, 200, "{}", resp.text());
        assert_eq!(resp.json()["choices"][0]["message"]["content"], "h1 origin");
    }
    assert!(mock.seen().iter().all(|s| s.proto == "http/1.1"));
    // Keep-alive reuse on the h1 path as before.
    assert_eq!(mock.connections.load(Ordering::SeqCst), 1);
}

both_drivers!(chatgpt_speaks_h2_through_its_chrome_hello, |driver| {
    // `chatgpt.com` gets the Chrome ClientHello (BoringSSL): ALPN offers h2,
    // the origin picks it, and concurrent requests share one connection.
    let item = serde_json::json!({"type":"message","id":"m1","status":"completed","role":"assistant","content":[{"type":"output_text","text":"over h2","annotations":[]}]});
    let events = sse_frames(&[
        codex_created("gpt-5.4"),
        (
            Some("response.output_item.added"),
            serde_json::json!({"type":"response.output_item.added","sequence_number":1,"output_index":0,"item":{"type":"message","id":"m1","status":"in_progress","role":"assistant","content":[]}}),
        ),
        (
            Some("response.output_text.delta"),
            serde_json::json!({"type":"response.output_text.delta","sequence_number":2,"item_id":"m1","output_index":0,"content_index":0,"delta":"over h2"}),
        ),
        (
            Some("response.output_item.done"),
            serde_json::json!({"type":"response.output_item.done","sequence_number":3,"output_index":0,"item":item}),
        ),
        (
            Some("response.completed"),
            serde_json::json!({"type":"response.completed","sequence_number":4,"response":{"id":"resp_1","object":"response","created_at":1,"status":"completed","model":"gpt-5.4","output":[item],"usage":{"input_tokens":1,"output_tokens":1,"total_tokens":2}}}),
        ),
    ]);
    let mock = H2Mock::start_with(
        tls_parts_for(&["chatgpt.com"]),
        &[b"h2", b"http/1.1"],
        100,
        move |_| H2Reply::Sse {
            events: events.clone(),
            kill_after: None,
        },
    );
    let dir = scratch_dir("h2-chatgpt");
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, &mock.ca_pem).unwrap();
    let yaml = format!(
        "api-keys: [\"{KEY}\"]\ncodex-api-key:\n  - api-key: \"sk-codex\"\n    base-url: \"https://chatgpt.com/backend-api/codex\"\n    models: [{{name: gpt-5.4, alias: gpt-test}}]\n"
    );
    let srv = Server::start_env(
        driver,
        1,
        &yaml,
        &["--upstream-ca", ca.to_str().unwrap()],
        &[(
            "CLIPROXY_CONNECT_TO",
            &format!("chatgpt.com:443=127.0.0.1:{}", mock.port),
        )],
    );
    for stream in [false, true] {
        let resp = srv.request("POST", "/v1/chat/completions", &[AUTH], &chat_body(stream));
        assert_eq!(resp.status, 200, "{}", resp.text());
        assert!(resp.text().contains("over h2"), "{}", resp.text());
    }
    concurrent_streams(&srv, 8, "over h2");
    let seen = mock.seen();
    assert_eq!(seen.len(), 10, "{seen:?}");
    assert!(seen.iter().all(|s| s.proto == "h2"), "{seen:?}");
    assert!(
        seen.iter()
            .all(|s| s.path == "/backend-api/codex/responses"),
        "{seen:?}"
    );
    assert_eq!(mock.connections.load(Ordering::SeqCst), 1);
});

// ------------------------------------------------- in-process (library) tests

use cliproxy::config::ProxyUrl;
use cliproxy::upstream::{client_tls_config, h2conn, send, Endpoint, Pool, Proxy};
use std::cell::RefCell;

/// A plain HTTP CONNECT proxy on 127.0.0.1:0 that tunnels to 127.0.0.1
/// (whatever host was asked); counts tunnels.
fn connect_proxy() -> (u16, Arc<AtomicUsize>) {
    use std::io::Read;
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let tunnels = Arc::new(AtomicUsize::new(0));
    let t = tunnels.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let t = t.clone();
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut b = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if s.read(&mut b).unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(b[0]);
                }
                let line = String::from_utf8_lossy(&head).into_owned();
                let Some(target) = line
                    .strip_prefix("CONNECT ")
                    .and_then(|r| r.split(' ').next())
                else {
                    return;
                };
                let port = target.rsplit(':').next().unwrap_or("0").to_string();
                let Ok(up) = std::net::TcpStream::connect(format!("127.0.0.1:{port}")) else {
                    return;
                };
                t.fetch_add(1, Ordering::SeqCst);
                s.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .unwrap();
                let (mut a, mut b2) = (s.try_clone().unwrap(), up.try_clone().unwrap());
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut a, &mut b2);
                    let _ = b2.shutdown(std::net::Shutdown::Write);
                });
                let (mut r, mut w) = (up, s);
                let _ = std::io::copy(&mut r, &mut w);
                let _ = w.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    (port, tunnels)
}

fn ca_der(pem: &str) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .concat();
    vec![rustls::pki_types::CertificateDer::from(b64(&body))]
}

/// Standard base64 decoding (the test CA's PEM body).
fn b64(s: &str) -> Vec<u8> {
    let val = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => (c - b'A') as u32,
            b'a'..=b'z' => (c - b'a' + 26) as u32,
            b'0'..=b'9' => (c - b'0' + 52) as u32,
            b'+' => 62,
            _ => 63,
        }
    };
    let bytes: Vec<u8> = s.bytes().filter(|&c| c != b'=').collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= val(c) << (18 - 6 * i);
        }
        out.push((n >> 16) as u8);
        if chunk.len() > 2 {
            out.push((n >> 8) as u8);
        }
        if chunk.len() > 3 {
            out.push(n as u8);
        }
    }
    out
}

fn h1_request(ep: &Endpoint, body: &str) -> Vec<u8> {
    format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: keep-alive\r\n\r\n{body}",
        ep.host_header,
        body.len()
    )
    .into_bytes()
}

fn legacy<F: std::future::Future>(f: F) -> F::Output {
    monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
        .enable_timer()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn h2_through_a_connect_proxy_and_no_growth_under_churn() {
    let mock = H2Mock::start(H2_AND_H1, 100, |_| {
        H2Reply::Json(completion("m", "tunnelled"))
    });
    let (pport, tunnels) = connect_proxy();
    let mut ep = Endpoint::parse(&mock.base_url()).unwrap();
    ep.resolve();
    let proxy = Proxy::resolve(ProxyUrl::parse(&format!("http://127.0.0.1:{pport}")).unwrap());
    let tls = client_tls_config(&ca_der(&mock.ca_pem)).unwrap();
    let pool = RefCell::new(Pool::default());
    let body = chat_body(false);
    legacy(async {
        // Through the tunnel, h2 is negotiated (the inner TLS offers ALPN)
        // and several requests share the one tunnel.
        for _ in 0..3 {
            let mut r = send(
                &pool,
                &tls,
                &ep,
                Some(&proxy),
                h1_request(&ep, &body),
                false,
                false,
            )
            .await
            .expect("send");
            assert!(r.is_h2());
            assert_eq!(r.status(), 200);
            let mut out = Vec::new();
            r.read_to_end(&mut out, 1 << 20).await.unwrap();
            assert!(String::from_utf8_lossy(&out).contains("tunnelled"));
            r.release(&pool);
        }
        assert_eq!(tunnels.load(Ordering::SeqCst), 1);
        assert_eq!(pool.borrow().h2_conns(), 1);
        // Churn: the upstream drops its connections after every answer;
        // each request then needs a new one (a request that meets a dying
        // connection fails before its head, as a connect error would).
        let mut ok = 0;
        for _ in 0..40 {
            if let Ok(mut r) = send(
                &pool,
                &tls,
                &ep,
                Some(&proxy),
                h1_request(&ep, &body),
                false,
                false,
            )
            .await
            {
                let mut out = Vec::new();
                if r.read_to_end(&mut out, 1 << 20).await.is_ok() {
                    ok += 1;
                }
                r.release(&pool);
            }
            mock.kill.notify_waiters();
        }
        assert!(ok >= 20, "only {ok} of 40 churned requests answered");
        // Every connection task ends and the pool forgets every connection.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            mock.kill.notify_waiters();
            let gone = h2conn::live_connections() == 0 && {
                // Ended connections leave the pool at the next pick.
                pool.borrow().h2_conns() <= 1
            };
            if gone {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{} h2 connection tasks still alive",
                h2conn::live_connections()
            );
            monoio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    assert!(mock.seen().iter().all(|s| s.proto == "h2"));
    let t = tunnels.load(Ordering::SeqCst);
    assert!(t >= 10, "{t} tunnels: the churn did not happen");
}

/// A TCP forwarder on 127.0.0.1:0 to `target` that relays both directions
/// one byte per write, so every TLS record and h2 frame reaches the other
/// side split at every byte.
fn trickle_forwarder(target: u16) -> u16 {
    use std::io::Read;
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    fn trickle(mut from: std::net::TcpStream, mut to: std::net::TcpStream) {
        let mut b = [0u8; 1];
        while let Ok(1) = from.read(&mut b) {
            if to.write_all(&b).is_err() {
                break;
            }
        }
        let _ = to.shutdown(std::net::Shutdown::Write);
    }
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(s) = s else { continue };
            let Ok(up) = std::net::TcpStream::connect(("127.0.0.1", target)) else {
                continue;
            };
            let _ = s.set_nodelay(true);
            let _ = up.set_nodelay(true);
            let (s2, up2) = (s.try_clone().unwrap(), up.try_clone().unwrap());
            std::thread::spawn(move || trickle(s2, up2));
            std::thread::spawn(move || trickle(up, s));
        }
    });
    port
}

both_drivers!(h2_split_at_every_byte, |driver| {
    // The same exchanges as over a direct connection (the oracle: the
    // mock's answer), with every byte arriving in its own TCP segment.
    let text = "a fairly long answer ".repeat(40);
    let parts: Vec<String> = (0..30).map(|i| format!("part{i} ")).collect();
    let want_stream: String = parts.concat();
    let (t2, p2) = (text.clone(), parts.clone());
    let mock = H2Mock::start(H2_AND_H1, 100, move |r| {
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
        if v["stream"] == true {
            let refs: Vec<&str> = p2.iter().map(String::as_str).collect();
            H2Reply::Sse {
                events: chunks("m", &refs),
                kill_after: None,
            }
        } else {
            H2Reply::Json(completion("m", &t2))
        }
    });
    let fport = trickle_forwarder(mock.port);
    let base = format!("https://localhost:{fport}/v1");
    let srv = mock.server(driver, 1, &compat_config(&base, &[KEY], &["k"]));
    let resp = srv.request("POST", "/v1/chat/completions", &[AUTH], &chat_body(false));
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(
        resp.json()["choices"][0]["message"]["content"],
        text.as_str()
    );
    let resp = srv.request("POST", "/v1/chat/completions", &[AUTH], &chat_body(true));
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(stream_text(&resp.body), want_stream);
    assert!(mock.seen().iter().all(|s| s.proto == "h2"));
    assert_eq!(mock.connections.load(Ordering::SeqCst), 1);
});

both_drivers!(client_leaving_resets_the_upstream_stream, |driver| {
    // The client drops its connection after the first event: the h2 stream
    // is reset (the upstream stops generating), the connection stays and
    // serves the next request.
    let mock = H2Mock::start(H2_AND_H1, 100, |r| {
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
        if v["stream"] == true {
            H2Reply::AwaitCancel(chunks("m", &["first"])[0].clone())
        } else {
            H2Reply::Json(completion("m", "still here"))
        }
    });
    let srv = mock.server(driver, 1, &compat_config(&mock.base_url(), &[KEY], &["k"]));
    let mut s = srv.connect();
    s.write_all(&raw_request(
        "POST",
        "/v1/chat/completions",
        &[AUTH],
        &chat_body(true),
    ))
    .unwrap();
    let mut r = BufReader::new(s);
    let (status, _) = read_head(&mut r).unwrap();
    assert_eq!(status, 200);
    let first = read_chunk(&mut r).unwrap().expect("first chunk");
    assert!(String::from_utf8_lossy(&first).contains("first"));
    drop(r);
    assert!(
        eventually(Duration::from_secs(10), || mock
            .resets
            .load(Ordering::SeqCst)
            == 1),
        "the upstream stream was not reset"
    );
    let resp = srv.request("POST", "/v1/chat/completions", &[AUTH], &chat_body(false));
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(
        resp.json()["choices"][0]["message"]["content"],
        "still here"
    );
    assert_eq!(mock.connections.load(Ordering::SeqCst), 1);
});
