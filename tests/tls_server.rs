//! The HTTPS listener (`tls: {enable, cert, key}`): the real binary with a
//! test CA, a rustls client, and a scripted plain-HTTP mock upstream.

mod common;
use common::*;
use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const KEY: &str = "sk-client-1";
const AUTH: (&str, &str) = ("Authorization", "Bearer sk-client-1");

type Tls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// Writes `parts`' certificate and key into `dir` under `name`; returns
/// (cert path, key path).
fn write_pair(dir: &Path, name: &str, parts: &TlsParts) -> (PathBuf, PathBuf) {
    let cert = dir.join(format!("{name}-cert.pem"));
    let key = dir.join(format!("{name}-key.pem"));
    std::fs::write(&cert, &parts.cert_pem).unwrap();
    std::fs::write(&key, &parts.key_pem).unwrap();
    (cert, key)
}

fn tls_yaml(base_url: &str, cert: &Path, key: &Path, enable: bool) -> String {
    format!(
        "{}tls:\n  enable: {enable}\n  cert: \"{}\"\n  key: \"{}\"\n",
        compat_config(base_url, &[KEY], &["k"]),
        cert.display(),
        key.display()
    )
}

fn client_config(ca_pem: &str, alpn: &[&[u8]]) -> Arc<rustls::ClientConfig> {
    client_config_versions(ca_pem, alpn, rustls::DEFAULT_VERSIONS)
}

fn client_config_versions(
    ca_pem: &str,
    alpn: &[&[u8]],
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(cfg)
}

/// Opens a TLS connection and completes the handshake.
fn tls_connect(srv: &Server, cfg: &Arc<rustls::ClientConfig>) -> std::io::Result<BufReader<Tls>> {
    let mut sock = srv.connect();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut conn = rustls::ClientConnection::new(cfg.clone(), name).unwrap();
    while conn.is_handshaking() {
        conn.complete_io(&mut sock)?;
    }
    Ok(BufReader::new(rustls::StreamOwned::new(conn, sock)))
}

fn send(r: &mut BufReader<Tls>, bytes: &[u8]) {
    let s = r.get_mut();
    s.write_all(bytes).unwrap();
    s.flush().unwrap();
}

fn chat(r: &mut BufReader<Tls>, stream: bool) -> Resp {
    send(
        r,
        &raw_request("POST", "/v1/chat/completions", &[AUTH], &chat_body(stream)),
    );
    read_response(r, false).unwrap()
}

fn chat_text(resp: &Resp) -> String {
    resp.json()["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Reads until the server closes. `Err` if it did not within 10 s.
fn read_until_closed(s: &mut TcpStream) -> Result<Vec<u8>, String> {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut got = Vec::new();
    let mut b = [0u8; 4096];
    loop {
        match s.read(&mut b) {
            Ok(0) => return Ok(got),
            Ok(n) => got.extend_from_slice(&b[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(got),
            Err(e) => return Err(format!("not closed: {e}; got {got:?}")),
        }
    }
}

fn hello_mock() -> Mock {
    Mock::start(|r| {
        json_reply(
            200,
            &completion(r.json()["model"].as_str().unwrap_or("m"), "Hello there"),
        )
    })
}

fn start_tls(driver: &str, mock: &Mock, parts: &TlsParts, args: &[&str]) -> (Server, PathBuf) {
    let dir = scratch_dir("tls");
    let (cert, key) = write_pair(&dir, "a", parts);
    let srv = Server::start(
        driver,
        1,
        &tls_yaml(&mock.base_url(), &cert, &key, true),
        args,
    );
    (srv, dir)
}

both_drivers!(https_keep_alive_and_pipelining, |driver| {
    let mock = hello_mock();
    let parts = tls_parts();
    let (srv, _dir) = start_tls(driver, &mock, &parts, &[]);
    let cfg = client_config(&parts.ca_pem, &[b"http/1.1"]);
    let mut c = tls_connect(&srv, &cfg).unwrap();
    // ALPN: a client offering only HTTP/1.1 gets it (h2: tests/h2_server.rs).
    assert_eq!(c.get_ref().conn.alpn_protocol(), Some(&b"http/1.1"[..]));
    for _ in 0..3 {
        let resp = chat(&mut c, false);
        assert_eq!(resp.status, 200, "{}", resp.text());
        assert_eq!(chat_text(&resp), "Hello there");
    }
    // Two requests in one TLS write: both answered, in order.
    let mut two = raw_request("GET", "/healthz", &[], "");
    two.extend(raw_request(
        "POST",
        "/v1/chat/completions",
        &[AUTH],
        &chat_body(false),
    ));
    send(&mut c, &two);
    assert_eq!(read_response(&mut c, false).unwrap().status, 200);
    let resp = read_response(&mut c, false).unwrap();
    assert_eq!(chat_text(&resp), "Hello there");
    assert_eq!(mock.requests().len(), 4);
    // `Connection: close`: the answer, then a clean TLS end (close_notify;
    // rustls reports a bare TCP close as an UnexpectedEof error instead).
    send(
        &mut c,
        &raw_request("GET", "/healthz", &[("Connection", "close")], ""),
    );
    assert_eq!(read_response(&mut c, false).unwrap().status, 200);
    let mut rest = Vec::new();
    assert_eq!(c.read_to_end(&mut rest).unwrap(), 0);
    // A client offering no ALPN at all speaks HTTP/1.1 too.
    let mut c2 = tls_connect(&srv, &client_config(&parts.ca_pem, &[])).unwrap();
    assert_eq!(chat_text(&chat(&mut c2, false)), "Hello there");
    // TLS 1.2 and 1.3 are both served.
    for v in [&rustls::version::TLS12, &rustls::version::TLS13] {
        let cfg = client_config_versions(&parts.ca_pem, &[b"http/1.1"], &[v]);
        let mut c3 = tls_connect(&srv, &cfg).unwrap();
        assert_eq!(c3.get_ref().conn.protocol_version(), Some(v.version));
        for _ in 0..2 {
            assert_eq!(chat_text(&chat(&mut c3, false)), "Hello there");
        }
    }
});

both_drivers!(https_streams_sse, |driver| {
    let mock = Mock::start(|_| sse_reply(chunks("upstream-model", &["Hel", "lo ", "world"])));
    let parts = tls_parts();
    let (srv, _dir) = start_tls(driver, &mock, &parts, &[]);
    let cfg = client_config(&parts.ca_pem, &[b"http/1.1"]);
    let mut c = tls_connect(&srv, &cfg).unwrap();
    for _ in 0..2 {
        let resp = chat(&mut c, true);
        assert_eq!(resp.status, 200);
        assert!(resp
            .header("content-type")
            .is_some_and(|v| v.starts_with("text/event-stream")));
        assert_eq!(stream_text(&resp.body), "Hello world");
        assert_eq!(
            sse_data(&resp.body).last().map(String::as_str),
            Some("[DONE]")
        );
    }
});

both_drivers!(bad_handshakes_close_only_their_connection, |driver| {
    let mock = hello_mock();
    let parts = tls_parts();
    let (srv, _dir) = start_tls(driver, &mock, &parts, &[]);
    let cfg = client_config(&parts.ca_pem, &[b"http/1.1"]);
    let mut good = tls_connect(&srv, &cfg).unwrap();
    assert_eq!(chat_text(&chat(&mut good, false)), "Hello there");

    // Garbage instead of a ClientHello.
    let mut g = srv.connect();
    g.write_all(b"\x16\x03\x01\x00\x10not a client hello at all\r\n\r\n")
        .unwrap();
    let got = read_until_closed(&mut g).unwrap();
    assert!(!got.starts_with(b"HTTP/"), "{got:?}");

    // Plain HTTP on the TLS port is never served.
    let mut p = srv.connect();
    p.write_all(&raw_request("GET", "/healthz", &[], ""))
        .unwrap();
    let got = read_until_closed(&mut p).unwrap();
    assert!(
        memchr_http(&got).is_none(),
        "plain request got an HTTP answer: {:?}",
        String::from_utf8_lossy(&got)
    );
    // The plain client helper sees no response either.
    let mut p2 = srv.connect();
    p2.write_all(&raw_request("GET", "/v1/models", &[AUTH], ""))
        .unwrap();
    assert!(read_response(&mut BufReader::new(p2), false).is_err());

    // A client that does not trust the certificate aborts its handshake.
    let other = tls_parts();
    let untrusting = client_config(&other.ca_pem, &[b"http/1.1"]);
    assert!(tls_connect(&srv, &untrusting).is_err());

    // The open connection is undisturbed.
    for _ in 0..2 {
        assert_eq!(chat_text(&chat(&mut good, false)), "Hello there");
    }
    let mut fresh = tls_connect(&srv, &cfg).unwrap();
    assert_eq!(chat_text(&chat(&mut fresh, false)), "Hello there");
});

fn memchr_http(b: &[u8]) -> Option<usize> {
    b.windows(5).position(|w| w == b"HTTP/")
}

both_drivers!(silent_client_is_dropped_at_head_timeout, |driver| {
    let mock = hello_mock();
    let parts = tls_parts();
    let (srv, _dir) = start_tls(driver, &mock, &parts, &["--head-timeout", "0.5"]);
    let started = Instant::now();
    let mut silent = srv.connect();
    let got = read_until_closed(&mut silent).unwrap();
    assert!(got.is_empty());
    assert!(started.elapsed() >= Duration::from_millis(400));
    // A half-sent ClientHello is cut off the same way.
    let mut half = srv.connect();
    half.write_all(b"\x16\x03\x01\x02\x00\x01").unwrap();
    read_until_closed(&mut half).unwrap();
    let cfg = client_config(&parts.ca_pem, &[b"http/1.1"]);
    let mut c = tls_connect(&srv, &cfg).unwrap();
    assert_eq!(chat_text(&chat(&mut c, false)), "Hello there");
});

both_drivers!(client_close_notify_mid_stream_cancels_upstream, |driver| {
    let (mock, gate_tx) = gated_sse_mock(chunks("m", &["first", "second"]), 1);
    let parts = tls_parts();
    let (srv, _dir) = start_tls(driver, &mock, &parts, &[]);
    let cfg = client_config(&parts.ca_pem, &[b"http/1.1"]);
    let mut c = tls_connect(&srv, &cfg).unwrap();
    let first = start_chat_stream(&mut c);
    assert!(String::from_utf8_lossy(&first).contains("first"));
    // The client ends its TLS session but keeps the TCP socket open: only a
    // TLS-aware disconnect watch can see that it left.
    let s = c.get_mut();
    s.conn.send_close_notify();
    s.conn.complete_io(&mut s.sock).unwrap();
    assert_eq!(mock.wait_closed(Duration::from_secs(10)), 0);
    drop(gate_tx);
    drop(c);
    let mut again = tls_connect(&srv, &cfg).unwrap();
    send(&mut again, &raw_request("GET", "/healthz", &[], ""));
    assert_eq!(read_response(&mut again, false).unwrap().status, 200);
});

/// Runs the binary expecting it to exit; returns (exit code, stderr).
fn run_to_exit(yaml: &str) -> (Option<i32>, String) {
    let dir = scratch_dir("tls-exit");
    let config = dir.join("config.yaml");
    std::fs::write(&config, format!("port: 0\nhost: 127.0.0.1\n{yaml}")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_cliproxy"))
        .arg("--config")
        .arg(&config)
        .args(["--workers", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let code = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("cliproxy kept running with a broken TLS config");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    (code, err)
}

#[test]
fn broken_tls_files_fail_start_naming_key_and_path() {
    let mock = hello_mock();
    let dir = scratch_dir("tls-files");
    let parts = tls_parts();
    let other = tls_parts();
    let (cert, key) = write_pair(&dir, "a", &parts);
    let (_, other_key) = write_pair(&dir, "b", &other);
    let url = mock.base_url();

    let missing = dir.join("missing-cert.pem");
    let (code, err) = run_to_exit(&tls_yaml(&url, &missing, &key, true));
    assert!(code.is_some_and(|c| c != 0), "{code:?} {err}");
    assert!(
        err.contains("tls.cert") && err.contains(&*missing.to_string_lossy()),
        "{err}"
    );

    let missing = dir.join("missing-key.pem");
    let (code, err) = run_to_exit(&tls_yaml(&url, &cert, &missing, true));
    assert!(code.is_some_and(|c| c != 0), "{code:?} {err}");
    assert!(
        err.contains("tls.key") && err.contains(&*missing.to_string_lossy()),
        "{err}"
    );

    let (code, err) = run_to_exit(&tls_yaml(&url, &cert, &other_key, true));
    assert!(code.is_some_and(|c| c != 0), "{code:?} {err}");
    assert!(err.contains("does not match"), "{err}");
    assert!(
        err.contains("tls.key") && err.contains(&*other_key.to_string_lossy()),
        "{err}"
    );

    // A PEM file without a CERTIFICATE block (here: the key).
    let (code, err) = run_to_exit(&tls_yaml(&url, &key, &key, true));
    assert!(code.is_some_and(|c| c != 0), "{code:?} {err}");
    assert!(
        err.contains("tls.cert") && err.contains("no CERTIFICATE"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn rewrite_config(srv: &Server, yaml: &str) {
    let tmp = srv.dir.join("config.yaml.tmp");
    std::fs::write(&tmp, format!("port: 0\nhost: 127.0.0.1\n{yaml}")).unwrap();
    std::fs::rename(&tmp, &srv.config_path).unwrap();
}

fn handshakes_with(srv: &Server, ca_pem: &str) -> bool {
    let cfg = client_config(ca_pem, &[b"http/1.1"]);
    match tls_connect(srv, &cfg) {
        Ok(mut c) => {
            send(&mut c, &raw_request("GET", "/healthz", &[], ""));
            read_response(&mut c, false).is_ok_and(|r| r.status == 200)
        }
        Err(_) => false,
    }
}

both_drivers!(
    reload_swaps_certificates_and_rejects_broken_ones,
    |driver| {
        let mock = hello_mock();
        let dir = scratch_dir("tls-reload");
        let a = tls_parts();
        let (cert_a, key_a) = write_pair(&dir, "a", &a);
        let url = mock.base_url();
        let srv = Server::start(driver, 2, &tls_yaml(&url, &cert_a, &key_a, true), &[]);
        let mut kept = tls_connect(&srv, &client_config(&a.ca_pem, &[])).unwrap();
        assert_eq!(chat_text(&chat(&mut kept, false)), "Hello there");

        // A broken certificate: the reload is rejected, the old one keeps serving.
        let broken = dir.join("broken-cert.pem");
        std::fs::write(&broken, "-----BEGIN CERTIFICATE-----\nnot base64!\n").unwrap();
        rewrite_config(&srv, &tls_yaml(&url, &broken, &key_a, true));
        assert!(
            eventually(Duration::from_secs(10), || srv
                .log_text()
                .contains("reload rejected")),
            "{}",
            srv.log_text()
        );
        assert!(srv.log_text().contains("tls.cert"), "{}", srv.log_text());
        assert!(handshakes_with(&srv, &a.ca_pem));

        // New files at a new path: new handshakes get the new certificate.
        let b = tls_parts();
        let (cert_b, key_b) = write_pair(&dir, "b", &b);
        rewrite_config(&srv, &tls_yaml(&url, &cert_b, &key_b, true));
        assert!(
            eventually(Duration::from_secs(10), || handshakes_with(&srv, &b.ca_pem)),
            "{}",
            srv.log_text()
        );
        assert!(!handshakes_with(&srv, &a.ca_pem));
        assert_eq!(chat_text(&chat(&mut kept, false)), "Hello there");

        // New files at the same path, picked up with the next config edit.
        let c = tls_parts();
        write_pair(&dir, "b", &c);
        rewrite_config(
            &srv,
            &format!("# rotated\n{}", tls_yaml(&url, &cert_b, &key_b, true)),
        );
        assert!(
            eventually(Duration::from_secs(10), || handshakes_with(&srv, &c.ca_pem)),
            "{}",
            srv.log_text()
        );

        // Turning TLS off cannot change the listener: warned, still HTTPS.
        rewrite_config(&srv, &tls_yaml(&url, &cert_b, &key_b, false));
        assert!(
            eventually(Duration::from_secs(10), || srv
                .log_text()
                .contains("tls.enable turned off")),
            "{}",
            srv.log_text()
        );
        assert!(handshakes_with(&srv, &c.ca_pem));
        let mut p = srv.connect();
        p.write_all(&raw_request("GET", "/healthz", &[], ""))
            .unwrap();
        assert!(read_response(&mut BufReader::new(p), false).is_err());
        assert_eq!(chat_text(&chat(&mut kept, false)), "Hello there");
        let _ = std::fs::remove_dir_all(&dir);
    }
);

/// Bytes waiting in the server's receive queue for the connection whose
/// client end is `client` (from /proc/net/tcp; `None` if not found).
fn server_rx_queue(srv: &Server, client: &TcpStream) -> Option<u64> {
    let cport = client.local_addr().ok()?.port();
    let text = std::fs::read_to_string("/proc/net/tcp").ok()?;
    text.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        let port = |a: &str| u16::from_str_radix(a.rsplit(':').next()?, 16).ok();
        if port(f.get(1)?)? == srv.addr.port() && port(f.get(2)?)? == cport {
            u64::from_str_radix(f.get(4)?.split(':').nth(1)?, 16).ok()
        } else {
            None
        }
    })
}

both_drivers!(
    pipelined_request_read_by_disconnect_watch_is_kept,
    |driver| {
        let (mock, gate_tx) = gated_sse_mock(chunks("m", &["first", "second"]), 1);
        let parts = tls_parts();
        let (srv, _dir) = start_tls(driver, &mock, &parts, &[]);
        let cfg = client_config(&parts.ca_pem, &[b"http/1.1"]);
        let mut c = tls_connect(&srv, &cfg).unwrap();
        start_chat_stream(&mut c);
        // While the stream waits on the upstream, the next request arrives. The
        // disconnect watch takes its ciphertext off the socket (the server's
        // receive queue drains) and must keep it for the next request.
        send(&mut c, &raw_request("GET", "/healthz", &[], ""));
        assert!(
            eventually(Duration::from_secs(10), || server_rx_queue(
                &srv,
                &c.get_ref().sock
            ) == Some(0)),
            "the watch never read the pipelined request"
        );
        drop(gate_tx);
        let mut rest = Vec::new();
        while let Some(chunk) = read_chunk(&mut c).unwrap() {
            rest.extend(chunk);
        }
        assert_eq!(stream_text(&rest), "second");
        let next = read_response(&mut c, false).unwrap();
        assert_eq!(next.status, 200, "{}", next.text());
    }
);

both_drivers!(shutdown_closes_idle_and_handshaking_connections, |driver| {
    let mock = hello_mock();
    let parts = tls_parts();
    let (mut srv, _dir) = start_tls(driver, &mock, &parts, &[]);
    let cfg = client_config(&parts.ca_pem, &[b"http/1.1"]);
    let mut idle = tls_connect(&srv, &cfg).unwrap();
    assert_eq!(chat_text(&chat(&mut idle, false)), "Hello there");
    // Half a ClientHello, read by the server: it waits in the handshake.
    let mut handshaking = srv.connect();
    handshaking.write_all(b"\x16\x03\x01\x02\x00\x01").unwrap();
    assert!(eventually(Duration::from_secs(10), || server_rx_queue(
        &srv,
        &handshaking
    ) == Some(0)));
    let started = Instant::now();
    srv.sigterm();
    assert_eq!(
        srv.wait_exit(Duration::from_secs(10)),
        Some(0),
        "{}",
        srv.log_text()
    );
    // Neither waited for the 10 s drain deadline or the 30 s head timeout.
    assert!(started.elapsed() < Duration::from_secs(5));
    let mut rest = Vec::new();
    assert_eq!(idle.read_to_end(&mut rest).unwrap(), 0);
    assert!(read_until_closed(&mut handshaking).unwrap().is_empty());
});
