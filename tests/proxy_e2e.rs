//! `proxy-url` through the real server: the global proxy carries upstream
//! traffic (HTTP CONNECT with credentials), a per-key `direct` bypasses it,
//! and proxied connections are pooled.

mod common;
use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// A CONNECT proxy recording each CONNECT head, then piping bytes both ways.
fn connect_proxy() -> (std::net::SocketAddr, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(s) = s else { continue };
            let seen = seen2.clone();
            std::thread::spawn(move || {
                let mut r = BufReader::new(s.try_clone().unwrap());
                let mut head = String::new();
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    head.push_str(&line);
                    if line == "\r\n" {
                        break;
                    }
                }
                let target = head.split_whitespace().nth(1).unwrap().to_string();
                seen.lock().unwrap().push(head);
                let Ok(up) = TcpStream::connect(&target) else {
                    return;
                };
                let mut client = s;
                client
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .unwrap();
                let (mut a, mut b) = (up.try_clone().unwrap(), client.try_clone().unwrap());
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut b, &mut a);
                    let _ = a.shutdown(std::net::Shutdown::Write);
                });
                let mut buffered = r.buffer().to_vec();
                let mut up_w = up.try_clone().unwrap();
                if !buffered.is_empty() {
                    up_w.write_all(&buffered).unwrap();
                    buffered.clear();
                }
                let mut up_r = up;
                let mut buf = [0u8; 16384];
                while let Ok(n) = up_r.read(&mut buf) {
                    if n == 0 || client.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    (addr, seen)
}

#[test]
fn global_proxy_carries_traffic_and_direct_bypasses_it() {
    let mock = Mock::start(|r| {
        json_reply(
            200,
            &completion("m", r.header("authorization").unwrap_or("")),
        )
    });
    let (paddr, seen) = connect_proxy();
    let yaml = format!(
        r#"api-keys: ["sk-client-1"]
proxy-url: "http://user:p%40ss@{paddr}"
openai-compatibility:
  - name: via-proxy
    base-url: "http://{m}/v1"
    api-key-entries: [{{api-key: "proxied"}}]
    models: [{{name: u, alias: m-proxied}}]
  - name: direct
    base-url: "http://{m}/v1"
    api-key-entries: [{{api-key: "direct", proxy-url: "direct"}}]
    models: [{{name: u, alias: m-direct}}]
"#,
        m = mock.addr
    );
    for driver in DRIVERS {
        let before = seen.lock().unwrap().len();
        let srv = Server::start(driver, 1, &yaml, &[]);
        for _ in 0..3 {
            let r = srv.request(
                "POST",
                "/v1/chat/completions",
                &[("Authorization", "Bearer sk-client-1")],
                r#"{"model":"m-proxied","messages":[]}"#,
            );
            assert_eq!(r.status, 200, "{}", r.text());
            assert_eq!(
                r.json()["choices"][0]["message"]["content"],
                "Bearer proxied"
            );
        }
        let heads = seen.lock().unwrap()[before..].to_vec();
        assert_eq!(
            heads.len(),
            1,
            "{driver}: one pooled tunnel for three requests: {heads:?}"
        );
        assert!(
            heads[0].starts_with(&format!("CONNECT {} HTTP/1.1", mock.addr)),
            "{}",
            heads[0]
        );
        // base64("user:p@ss")
        assert!(
            heads[0].contains("Proxy-Authorization: Basic dXNlcjpwQHNz"),
            "{}",
            heads[0]
        );
        let r = srv.request(
            "POST",
            "/v1/chat/completions",
            &[("Authorization", "Bearer sk-client-1")],
            r#"{"model":"m-direct","messages":[]}"#,
        );
        assert_eq!(
            r.json()["choices"][0]["message"]["content"],
            "Bearer direct"
        );
        assert_eq!(
            seen.lock().unwrap().len(),
            before + 1,
            "{driver}: `direct` went through the proxy"
        );
        assert!(!srv.log_text().contains("p@ss") && !srv.log_text().contains("p%40ss"));
    }
}

#[test]
fn amp_upstream_goes_through_the_global_proxy() {
    let (proxy, seen) = connect_proxy();
    let amp = Mock::start(|r| {
        json_reply(
            200,
            &serde_json::json!({"amp": true, "path": r.path}).to_string(),
        )
    });
    let amp_root = amp.base_url().trim_end_matches("/v1").to_string();
    let yaml = format!(
        "api-keys: [\"sk-client-1\"]\nproxy-url: \"http://{proxy}\"\nampcode:\n  upstream-url: \"{amp_root}\"\n  upstream-api-key: \"amp-key\"\n"
    );
    let srv = Server::start("epoll", 1, &yaml, &[]);
    let r = srv.request("GET", "/api/user", &[CLIENT_AUTH], "");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["path"], "/api/user");
    let heads = seen.lock().unwrap().clone();
    assert!(
        heads
            .iter()
            .any(|h| h.starts_with(&format!("CONNECT {}", amp.addr))),
        "the Amp upstream was not reached through the proxy: {heads:?}"
    );
    let up = amp.requests().pop().unwrap();
    assert_eq!(up.header("authorization"), Some("Bearer amp-key"));
}
