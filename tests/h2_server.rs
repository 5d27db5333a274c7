//! HTTP/2 to clients: the real binary serving h2 on its TLS listener (ALPN)
//! and h2c with prior knowledge on the plain listener (`http2-cleartext`),
//! driven by the `h2` crate's client on a tokio runtime in the test thread
//! (and by curl where it is installed), against the scripted plain-HTTP mock
//! upstream.

mod common;
use bytes::Bytes;
use common::*;
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

type Client = h2::client::SendRequest<Bytes>;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Writes the test certificate and key; returns their paths.
fn write_pair(dir: &Path, parts: &TlsParts) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, &parts.cert_pem).unwrap();
    std::fs::write(&key, &parts.key_pem).unwrap();
    (cert, key)
}

/// Starts the binary with TLS on and `extra` config appended.
fn start_tls(driver: &str, mock: &Mock, parts: &TlsParts, extra: &str) -> Server {
    let dir = scratch_dir("h2srv");
    let (cert, key) = write_pair(&dir, parts);
    let yaml = format!(
        "{}{extra}tls:\n  enable: true\n  cert: \"{}\"\n  key: \"{}\"\n",
        compat_config(&mock.base_url(), &[CLIENT_KEY], &["k"]),
        cert.display(),
        key.display()
    );
    Server::start(driver, 1, &yaml, &[])
}

/// Starts the binary on a plain listener with `extra` config appended.
fn start_plain(driver: &str, mock: &Mock, extra: &str, args: &[&str]) -> Server {
    let yaml = format!(
        "{}{extra}",
        compat_config(&mock.base_url(), &[CLIENT_KEY], &["k"])
    );
    Server::start(driver, 1, &yaml, args)
}

fn client_config(ca_pem: &str, alpn: &[&[u8]]) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(cfg)
}

/// A TLS connection offering `h2, http/1.1`: the server must pick h2.
async fn tls_stream(
    srv: &Server,
    ca_pem: &str,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let tcp = tokio::net::TcpStream::connect(srv.addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let cfg = client_config(ca_pem, &[b"h2", b"http/1.1"]);
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let s = tokio_rustls::TlsConnector::from(cfg)
        .connect(name, tcp)
        .await
        .unwrap();
    assert_eq!(s.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    s
}

/// The h2 client handle and its connection task (ends when the connection does).
async fn handshake<T>(io: T) -> (Client, tokio::task::JoinHandle<Result<(), h2::Error>>)
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (client, conn) = h2::client::handshake(io).await.unwrap();
    (client, tokio::spawn(conn))
}

async fn h2_tls(
    srv: &Server,
    ca_pem: &str,
) -> (Client, tokio::task::JoinHandle<Result<(), h2::Error>>) {
    handshake(tls_stream(srv, ca_pem).await).await
}

async fn h2c(srv: &Server) -> (Client, tokio::task::JoinHandle<Result<(), h2::Error>>) {
    let tcp = tokio::net::TcpStream::connect(srv.addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    handshake(tcp).await
}

struct H2Resp {
    status: u16,
    headers: http::HeaderMap,
    body: Vec<u8>,
}

impl H2Resp {
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn request(method: &str, path: &str, headers: &[(&str, &str)]) -> http::Request<()> {
    let mut b = http::Request::builder()
        .method(method)
        .uri(format!("https://localhost{path}"));
    for (n, v) in headers {
        b = b.header(*n, *v);
    }
    b.body(()).unwrap()
}

/// Opens a stream, sends `body`, returns the response head and body stream.
async fn open(
    c: &Client,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (http::response::Parts, h2::RecvStream, h2::SendStream<Bytes>) {
    let mut c = c.clone().ready().await.unwrap();
    let (resp, mut send) = c
        .send_request(request(method, path, headers), body.is_empty())
        .unwrap();
    if !body.is_empty() {
        // The server may answer (413) before taking all of it.
        let _ = send.send_data(Bytes::copy_from_slice(body), true);
    }
    let (parts, recv) = resp.await.unwrap().into_parts();
    (parts, recv, send)
}

async fn read_all(recv: &mut h2::RecvStream) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(d) = recv.data().await {
        let d = d.unwrap();
        recv.flow_control().release_capacity(d.len()).unwrap();
        out.extend_from_slice(&d);
    }
    out
}

async fn send(
    c: &Client,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> H2Resp {
    let (parts, mut recv, _send) = open(c, method, path, headers, body).await;
    let body = read_all(&mut recv).await;
    H2Resp {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body,
    }
}

async fn chat(c: &Client, stream: bool) -> H2Resp {
    send(
        c,
        "POST",
        "/v1/chat/completions",
        &[CLIENT_AUTH, ("content-type", "application/json")],
        chat_body(stream).as_bytes(),
    )
    .await
}

fn chat_text(r: &H2Resp) -> String {
    r.json()["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// A mock answering non-stream requests with "Hello there" and stream
/// requests with "Hello", " world".
fn mock() -> Mock {
    Mock::start(|r| {
        if r.json()["stream"] == true {
            sse_reply(chunks("upstream-model", &["Hello", " world"]))
        } else {
            json_reply(200, &completion("upstream-model", "Hello there"))
        }
    })
}

/// Checks one non-stream and one stream exchange, a model list, an auth
/// error in the OpenAI shape, and a HEAD, all on `c`.
async fn core_exchanges(c: &Client) {
    let r = chat(c, false).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(chat_text(&r), "Hello there");
    // The upstream's media type, as on HTTP/1.1.
    assert_eq!(
        r.headers["content-type"], "application/json",
        "{:?}",
        r.headers
    );
    assert_eq!(r.headers["access-control-allow-origin"], "*");
    assert!(r.headers.get("connection").is_none());
    assert!(r.headers.get("transfer-encoding").is_none());

    let r = chat(c, true).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    assert!(r.headers.get("transfer-encoding").is_none());
    assert_eq!(stream_text(&r.body), "Hello world");
    assert_eq!(sse_data(&r.body).last().map(String::as_str), Some("[DONE]"));

    // A translated stream (Anthropic client, OpenAI upstream).
    let r = send(
        c,
        "POST",
        "/v1/messages",
        &[("x-api-key", CLIENT_KEY), ("anthropic-version", "2023-06-01")],
        br#"{"model":"gpt-test","max_tokens":16,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let text = r.text();
    assert!(text.contains("event: message_start"), "{text}");
    assert!(
        text.contains(r#""text":"Hello""#) && text.contains(r#""text":" world""#),
        "{text}"
    );
    assert!(
        text.trim_end()
            .ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"}"),
        "{text}"
    );

    let r = send(c, "GET", "/v1/models", &[CLIENT_AUTH], b"").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["id"] == "gpt-test"));

    let r = send(
        c,
        "POST",
        "/v1/chat/completions",
        &[("authorization", "Bearer wrong")],
        chat_body(false).as_bytes(),
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.text());
    // CLIProxyAPI's auth failure body, as on HTTP/1.1.
    assert_eq!(r.json()["error"], "Invalid API key", "{}", r.text());

    // HEAD: the head of the GET answer, END_STREAM on HEADERS, no DATA.
    let r = send(c, "HEAD", "/", &[], b"").await;
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
    assert!(r.headers.get("content-length").is_some());
}

both_drivers!(tls_alpn_h2_stream_and_non_stream, |driver| {
    let mock = mock();
    let parts = tls_parts();
    let srv = start_tls(driver, &mock, &parts, "");
    rt().block_on(async {
        let (c, _conn) = h2_tls(&srv, &parts.ca_pem).await;
        core_exchanges(&c).await;
        // The server's stream limit reached the client in its SETTINGS.
        assert_eq!(c.current_max_send_streams(), 256);
    });
    // Upstream requests are ordinary: every exchange reached the mock.
    let reqs = mock.requests();
    assert_eq!(reqs.len(), 3);
    assert_eq!(reqs[0].path, "/v1/chat/completions");
    assert_eq!(reqs[0].json()["model"], "upstream-model");
    assert_eq!(reqs[1].json()["stream"], true);
});

both_drivers!(many_concurrent_streams_on_one_connection, |driver| {
    let mock = mock();
    let parts = tls_parts();
    let srv = start_tls(driver, &mock, &parts, "");
    const N: usize = 120;
    rt().block_on(async {
        let (c, _conn) = h2_tls(&srv, &parts.ca_pem).await;
        let tasks: Vec<_> = (0..N)
            .map(|i| {
                let c = c.clone();
                tokio::spawn(async move { (i, chat(&c, i % 2 == 0).await) })
            })
            .collect();
        for t in tasks {
            let (i, r) = t.await.unwrap();
            assert_eq!(r.status, 200, "stream {i}: {}", r.text());
            if i % 2 == 0 {
                assert_eq!(stream_text(&r.body), "Hello world", "stream {i}");
            } else {
                assert_eq!(chat_text(&r), "Hello there", "stream {i}");
            }
        }
    });
    assert_eq!(mock.requests().len(), N);
});

both_drivers!(client_reset_mid_stream_cancels_the_upstream, |driver| {
    // The upstream sends one event, then waits (watching its socket).
    let (mock, gate) = gated_sse_mock(chunks("upstream-model", &["one", "two"]), 1);
    let parts = tls_parts();
    let srv = start_tls(driver, &mock, &parts, "");
    rt().block_on(async {
        let (c, _conn) = h2_tls(&srv, &parts.ca_pem).await;
        let (head, mut recv, mut send) = open(
            &c,
            "POST",
            "/v1/chat/completions",
            &[CLIENT_AUTH],
            chat_body(true).as_bytes(),
        )
        .await;
        assert_eq!(head.status, 200);
        let first = recv.data().await.unwrap().unwrap();
        assert!(String::from_utf8_lossy(&first).contains("one"));
        send.send_reset(h2::Reason::CANCEL);
        // The server closes its upstream connection: the mock sees it.
        let id = tokio::task::spawn_blocking(move || mock.wait_closed(Duration::from_secs(10)))
            .await
            .unwrap();
        assert_eq!(id, 0);
        drop(gate);
        // The connection itself stays usable.
        let r = chat(&c, false).await;
        assert_eq!(r.status, 200, "{}", r.text());
    });
});

both_drivers!(h1_on_the_same_tls_port_when_alpn_picks_http1, |driver| {
    let mock = mock();
    let parts = tls_parts();
    let srv = start_tls(driver, &mock, &parts, "");
    for alpn in [&[&b"http/1.1"[..]][..], &[]] {
        let cfg = client_config(&parts.ca_pem, alpn);
        let mut sock = srv.connect();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let mut conn = rustls::ClientConnection::new(cfg, name).unwrap();
        while conn.is_handshaking() {
            conn.complete_io(&mut sock).unwrap();
        }
        let expect: Option<&[u8]> = alpn.first().copied();
        assert_eq!(conn.alpn_protocol(), expect);
        let mut r = BufReader::new(rustls::StreamOwned::new(conn, sock));
        let req = raw_request(
            "POST",
            "/v1/chat/completions",
            &[CLIENT_AUTH],
            &chat_body(false),
        );
        r.get_mut().write_all(&req).unwrap();
        let resp = read_response(&mut r, false).unwrap();
        assert_eq!(resp.status, 200, "{}", resp.text());
        assert_eq!(
            resp.json()["choices"][0]["message"]["content"],
            "Hello there"
        );
    }
});

both_drivers!(h2c_prior_knowledge_when_enabled, |driver| {
    let mock = mock();
    let srv = start_plain(driver, &mock, "http2-cleartext: true\n", &[]);
    rt().block_on(async {
        let (c, _conn) = h2c(&srv).await;
        core_exchanges(&c).await;
    });
    // HTTP/1.1 on the same port still works, and is not delayed by the sniff.
    let r = srv.request(
        "POST",
        "/v1/chat/completions",
        &[CLIENT_AUTH],
        &chat_body(false),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["choices"][0]["message"]["content"], "Hello there");
});

both_drivers!(h2c_refused_when_not_enabled, |driver| {
    let mock = mock();
    let srv = start_plain(driver, &mock, "", &[]);
    // The preface is an HTTP/1.1 request line the server does not accept.
    let mut s = srv.connect();
    s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").unwrap();
    let mut r = BufReader::new(s);
    let resp = read_response(&mut r, false).unwrap();
    assert_eq!(resp.status, 400, "{}", resp.text());
    assert!(resp.json()["error"]["message"].is_string());
    let mut rest = Vec::new();
    let _ = r.read_to_end(&mut rest);
    assert!(rest.is_empty(), "the connection closes after the 400");
    // An h2 client cannot complete its handshake.
    rt().block_on(async {
        let tcp = tokio::net::TcpStream::connect(srv.addr).await.unwrap();
        let r = tokio::time::timeout(Duration::from_secs(10), async {
            let (mut c, conn) = h2::client::handshake(tcp).await?;
            let conn = tokio::spawn(conn);
            let (resp, _) = c.send_request(request("GET", "/", &[]), true)?;
            let r = resp.await;
            let _ = conn.await;
            r
        })
        .await
        .expect("the refused h2c client must get an answer, not hang");
        assert!(
            r.is_err(),
            "h2c must not be served when http2-cleartext is off"
        );
    });
});

/// The body limit (413, declared or received) and zstd bodies, as on h1.
#[test]
fn body_limit_and_zstd_over_h2() {
    use ruzstd::encoding::{compress_to_vec, CompressionLevel};
    let mock = mock();
    let parts = tls_parts();
    let srv = start_tls("epoll", &mock, &parts, "body-limit-mb: 1\n");
    rt().block_on(async {
        let (c, _conn) = h2_tls(&srv, &parts.ca_pem).await;
        let big = format!(
            r#"{{"model":"gpt-test","messages":[{{"role":"user","content":"{}"}}]}}"#,
            "a".repeat(1536 * 1024)
        );
        // Received size over the limit (no content-length).
        let r = send(
            &c,
            "POST",
            "/v1/chat/completions",
            &[CLIENT_AUTH],
            big.as_bytes(),
        )
        .await;
        assert_eq!(r.status, 413, "{}", r.text());
        assert_eq!(r.json()["error"]["type"], "invalid_request_error");
        // Declared size over the limit: refused before any body byte is sent.
        let len = big.len().to_string();
        let mut c2 = c.clone().ready().await.unwrap();
        let (resp, _send) = c2
            .send_request(
                request(
                    "POST",
                    "/v1/chat/completions",
                    &[CLIENT_AUTH, ("content-length", &len)],
                ),
                false,
            )
            .unwrap();
        let (head, mut recv) = resp.await.unwrap().into_parts();
        assert_eq!(head.status, 413);
        assert!(String::from_utf8_lossy(&read_all(&mut recv).await).contains("too large"));

        // zstd: the upstream gets the decoded JSON; a decoded size over the
        // limit is 413 like a plain one.
        let plain = chat_body(false).replace("hi", &"hello zstd ".repeat(100));
        let z = compress_to_vec(plain.as_bytes(), CompressionLevel::Fastest);
        let r = send(
            &c,
            "POST",
            "/v1/chat/completions",
            &[CLIENT_AUTH, ("content-encoding", "zstd")],
            &z,
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text());
        let up = mock.requests().pop().unwrap();
        assert_eq!(up.header("content-encoding"), None);
        assert_eq!(
            up.json()["messages"][0]["content"],
            "hello zstd ".repeat(100)
        );
        let zo = compress_to_vec(big.as_bytes(), CompressionLevel::Fastest);
        let r = send(
            &c,
            "POST",
            "/v1/chat/completions",
            &[CLIENT_AUTH, ("content-encoding", "zstd")],
            &zo,
        )
        .await;
        assert_eq!(r.status, 413, "{}", r.text());
        // The connection survives all of it.
        let r = chat(&c, false).await;
        assert_eq!(r.status, 200, "{}", r.text());
    });
    assert_eq!(mock.requests().len(), 2);
}

/// A raw upstream streaming `events` SSE events of ~1 KiB, counting the
/// bytes it managed to write (its writes block once nobody reads).
fn counting_upstream(events: usize) -> (std::net::SocketAddr, Arc<AtomicUsize>, Arc<AtomicBool>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let written = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(AtomicBool::new(false));
    let (w2, f2) = (written.clone(), finished.clone());
    std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut buf = [0u8; 8192];
        let mut got = Vec::new();
        // The request head and its Content-Length body.
        loop {
            let n = s.read(&mut buf).unwrap();
            got.extend_from_slice(&buf[..n]);
            if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map(|v| v.trim().parse().unwrap())
                    .unwrap_or(0);
                if got.len() >= end + 4 + len {
                    break;
                }
            }
        }
        let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
        s.write_all(head.as_bytes()).unwrap();
        let pad = "x".repeat(1000);
        for i in 0..events {
            let ev = format!(
                "data: {}\n\n",
                serde_json::json!({"id":"c1","object":"chat.completion.chunk","created":1,
                    "model":"upstream-model","choices":[{"index":0,"delta":{"content":format!("{i}:{pad}")}}]})
            );
            let chunk = format!("{:x}\r\n{ev}\r\n", ev.len());
            if s.write_all(chunk.as_bytes()).is_err() {
                return;
            }
            w2.fetch_add(chunk.len(), Ordering::SeqCst);
        }
        let end = "1a\r\ndata: [DONE]\n\n\r\n0\r\n\r\n";
        let _ = s.write_all(
            end.replace("1a", &format!("{:x}", "data: [DONE]\n\n".len()))
                .as_bytes(),
        );
        f2.store(true, Ordering::SeqCst);
    });
    (addr, written, finished)
}

/// Waits until `n` stops growing (unchanged over `quiet`), bounded by 30 s.
fn settled(n: &AtomicUsize, quiet: Duration) -> usize {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = n.load(Ordering::SeqCst);
    let mut since = Instant::now();
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        let now = n.load(Ordering::SeqCst);
        if now != last {
            last = now;
            since = Instant::now();
        } else if since.elapsed() >= quiet {
            return now;
        }
    }
    panic!("kept growing: {last}");
}

both_drivers!(slow_reader_back_pressure_reaches_the_upstream, |driver| {
    // 48 MiB of events; the client reads the head and then stops reading
    // (its 64 KiB stream window fills). The server must stop reading the
    // upstream instead of buffering the rest: what the upstream could write
    // stays far below the total (kernel socket buffers and h2's bounded send
    // buffer hold the difference). Then the client reads on and gets every
    // event, in order.
    const EVENTS: usize = 48 * 1024;
    let (addr, written, finished) = counting_upstream(EVENTS);
    let yaml = compat_config(&format!("http://{addr}/v1"), &[CLIENT_KEY], &["k"]);
    let parts = tls_parts();
    let dir = scratch_dir("h2bp");
    let (cert, key) = write_pair(&dir, &parts);
    let yaml = format!(
        "{yaml}tls:\n  enable: true\n  cert: \"{}\"\n  key: \"{}\"\n",
        cert.display(),
        key.display()
    );
    let srv = Server::start(driver, 1, &yaml, &[]);
    rt().block_on(async {
        let (c, _conn) = h2_tls(&srv, &parts.ca_pem).await;
        let (head, mut recv, _send) = open(
            &c,
            "POST",
            "/v1/chat/completions",
            &[CLIENT_AUTH],
            chat_body(true).as_bytes(),
        )
        .await;
        assert_eq!(head.status, 200);
        let w = written.clone();
        let stalled = tokio::task::spawn_blocking(move || settled(&w, Duration::from_millis(800)))
            .await
            .unwrap();
        let total = EVENTS * 1040;
        assert!(!finished.load(Ordering::SeqCst));
        assert!(
            stalled < total / 3,
            "the upstream wrote {stalled} of {total} bytes to a server whose client reads nothing"
        );
        let body = read_all(&mut recv).await;
        let data = sse_data(&body);
        assert_eq!(data.len(), EVENTS + 1);
        for (i, d) in data.iter().take(EVENTS).enumerate() {
            let v: serde_json::Value = serde_json::from_str(d).unwrap();
            let content = v["choices"][0]["delta"]["content"].as_str().unwrap();
            assert!(content.starts_with(&format!("{i}:")), "event {i}");
        }
        assert_eq!(data[EVENTS], "[DONE]");
    });
    assert!(finished.load(Ordering::SeqCst));
});

both_drivers!(
    graceful_shutdown_sends_goaway_and_finishes_streams,
    |driver| {
        let (mock, gate) = gated_sse_mock(chunks("upstream-model", &["one", "two"]), 1);
        let parts = tls_parts();
        let mut srv = start_tls(driver, &mock, &parts, "");
        rt().block_on(async {
            let (c, conn) = h2_tls(&srv, &parts.ca_pem).await;
            let (head, mut recv, _send) = open(
                &c,
                "POST",
                "/v1/chat/completions",
                &[CLIENT_AUTH],
                chat_body(true).as_bytes(),
            )
            .await;
            assert_eq!(head.status, 200);
            let first = recv.data().await.unwrap().unwrap();
            recv.flow_control().release_capacity(first.len()).unwrap();
            srv.sigterm();
            // GOAWAY arrives: the connection refuses new streams...
            let refused = tokio::time::timeout(Duration::from_secs(10), async {
                loop {
                    let r = match c.clone().ready().await {
                        Ok(mut c) => match c.send_request(request("GET", "/", &[]), true) {
                            Ok((resp, _)) => resp.await.map(|_| ()),
                            Err(e) => Err(e),
                        },
                        Err(e) => Err(e),
                    };
                    match r {
                        Err(e) => break e,
                        // Sent before the GOAWAY reached us: answered; try again.
                        Ok(()) => tokio::task::yield_now().await,
                    }
                }
            })
            .await
            .expect("no GOAWAY after SIGTERM");
            assert!(
                refused.is_go_away() || refused.is_remote() || refused.reason().is_some(),
                "{refused:?}"
            );
            // ...while the stream in flight runs to its end.
            drop(gate);
            let mut body = first.to_vec();
            body.extend_from_slice(&read_all(&mut recv).await);
            assert_eq!(stream_text(&body), "onetwo");
            assert_eq!(sse_data(&body).last().map(String::as_str), Some("[DONE]"));
            let r = tokio::time::timeout(Duration::from_secs(10), conn)
                .await
                .expect("the server did not close the connection after its last stream");
            // Closed: cleanly, or reset by the kernel when the process exits
            // at the end of its drain with a frame of ours (a window update)
            // still unread. Any h2 protocol error still fails.
            match r.unwrap() {
                Ok(()) => {}
                Err(e) => {
                    let kind = e.get_io().map(std::io::Error::kind);
                    assert!(
                        matches!(
                            kind,
                            Some(
                                std::io::ErrorKind::ConnectionReset
                                    | std::io::ErrorKind::UnexpectedEof
                                    | std::io::ErrorKind::BrokenPipe
                            )
                        ),
                        "{e:?}"
                    );
                }
            }
        });
        assert_eq!(srv.wait_exit(Duration::from_secs(10)), Some(0));
    }
);

both_drivers!(idle_h2_connection_is_closed_with_goaway, |driver| {
    let mock = mock();
    let srv = start_plain(
        driver,
        &mock,
        "http2-cleartext: true\n",
        &["--idle-timeout", "1"],
    );
    rt().block_on(async {
        let (c, conn) = h2c(&srv).await;
        let r = chat(&c, false).await;
        assert_eq!(r.status, 200);
        let start = Instant::now();
        let r = tokio::time::timeout(Duration::from_secs(15), conn)
            .await
            .expect("an idle h2 connection must be closed");
        assert!(r.unwrap().is_ok(), "closed with a clean GOAWAY");
        assert!(start.elapsed() >= Duration::from_millis(900));
    });
});

/// A header list over the limit is refused (431 or a stream error), and the
/// connection goes on.
#[test]
fn oversized_header_list_is_refused() {
    let mock = mock();
    let srv = start_plain("epoll", &mock, "http2-cleartext: true\n", &[]);
    rt().block_on(async {
        let (c, _conn) = h2c(&srv).await;
        let big = "v".repeat(80 * 1024);
        let mut c2 = c.clone().ready().await.unwrap();
        let (resp, _) = c2
            .send_request(
                request("GET", "/v1/models", &[CLIENT_AUTH, ("x-big", &big)]),
                true,
            )
            .unwrap();
        match resp.await {
            Ok(r) => assert_eq!(r.status().as_u16(), 431),
            Err(e) => assert!(e.reason().is_some(), "{e:?}"),
        }
        assert_eq!(mock.requests().len(), 0);
        let r = chat(&c, false).await;
        assert_eq!(r.status, 200, "{}", r.text());
    });
}

fn curl_has_http2() -> bool {
    std::process::Command::new("curl")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("HTTP2"))
        .unwrap_or(false)
}

fn curl(args: &[&str]) -> (String, String) {
    let o = std::process::Command::new("curl")
        .args(["-sS", "--max-time", "20", "-D", "-"])
        .args(args)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    (head.to_string(), body.to_string())
}

/// A real client: curl over TLS (ALPN h2) and h2c with prior knowledge.
#[test]
fn curl_http2_and_h2c() {
    if !curl_has_http2() {
        eprintln!("curl with HTTP/2 is not installed: skipped");
        return;
    }
    let mock = mock();
    let parts = tls_parts();
    let srv = start_tls("uring", &mock, &parts, "");
    let dir = scratch_dir("h2curl");
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, &parts.ca_pem).unwrap();
    let url = format!("https://localhost:{}/v1/chat/completions", srv.addr.port());
    let resolve = format!("localhost:{}:127.0.0.1", srv.addr.port());
    let auth = "Authorization: Bearer sk-client-1";
    for stream in [false, true] {
        let body = chat_body(stream);
        let (head, body) = curl(&[
            "--http2",
            "--cacert",
            ca.to_str().unwrap(),
            "--resolve",
            &resolve,
            "-H",
            auth,
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            &body,
            &url,
        ]);
        assert!(head.starts_with("HTTP/2 200"), "{head}");
        if stream {
            assert_eq!(stream_text(body.as_bytes()), "Hello world");
        } else {
            let j: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(j["choices"][0]["message"]["content"], "Hello there");
        }
    }
    let srv = start_plain("epoll", &mock, "http2-cleartext: true\n", &[]);
    let (head, body) = curl(&[
        "--http2-prior-knowledge",
        "-H",
        auth,
        "--data-binary",
        &chat_body(true),
        &format!("http://{}/v1/chat/completions", srv.addr),
    ]);
    assert!(head.starts_with("HTTP/2 200"), "{head}");
    assert_eq!(stream_text(body.as_bytes()), "Hello world");
}

/// `nonstream-keepalive-interval` over h2: the committed 200 goes out as
/// HEADERS, each keep-alive newline as DATA, then the JSON answer ends the
/// stream.
#[test]
fn nonstream_keepalive_newlines_over_h2() {
    let (gate_tx, gate_rx) = std::sync::mpsc::channel::<()>();
    let gate = std::sync::Mutex::new(gate_rx);
    let mock = Mock::start(move |_| {
        // Hold the answer until the test saw a keep-alive.
        let _ = gate.lock().unwrap().recv_timeout(Duration::from_secs(20));
        json_reply(200, &completion("m", "thought long"))
    });
    let srv = start_plain(
        "uring",
        &mock,
        "http2-cleartext: true\nnonstream-keepalive-interval: 1\n",
        &[],
    );
    rt().block_on(async {
        let (c, _conn) = h2c(&srv).await;
        let (head, mut recv, _send) = open(
            &c,
            "POST",
            "/v1/chat/completions",
            &[CLIENT_AUTH],
            br#"{"model":"gpt-test","messages":[]}"#,
        )
        .await;
        assert_eq!(head.status, 200);
        assert_eq!(
            head.headers["content-type"],
            "application/json; charset=utf-8"
        );
        let first = recv.data().await.unwrap().unwrap();
        assert_eq!(&first[..], b"\n");
        recv.flow_control().release_capacity(1).unwrap();
        gate_tx.send(()).unwrap();
        let rest = read_all(&mut recv).await;
        let v: serde_json::Value = serde_json::from_slice(&rest).unwrap();
        assert_eq!(v["choices"][0]["message"]["content"], "thought long");
        // The connection goes on.
        let r = send(&c, "GET", "/healthz", &[], b"").await;
        assert_eq!(r.status, 200);
    });
}
