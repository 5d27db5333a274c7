//! `Content-Encoding` request bodies through the real server (CLIProxyAPI's
//! `request_body.go`): zstd is decoded before parsing with the body limit on
//! the decoded size, identity passes, other codings get CLIProxyAPI's 400.

mod common;
use common::*;
use ruzstd::encoding::{compress_to_vec, CompressionLevel};
use std::io::{BufReader, Write};

fn send(srv: &Server, encoding: Option<&str>, body: &[u8]) -> Resp {
    let mut head = String::from(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer k\r\nContent-Type: application/json\r\n",
    );
    if let Some(e) = encoding {
        head.push_str(&format!("Content-Encoding: {e}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut s = srv.connect();
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    // The server may answer (413/400) and close before reading everything.
    let _ = s.write_all(&bytes);
    read_response(&mut BufReader::new(s), false).unwrap()
}

fn chat(text: &str) -> Vec<u8> {
    serde_json::json!({"model": "gpt-test", "messages": [{"role": "user", "content": text}]})
        .to_string()
        .into_bytes()
}

/// A zstd frame of `total` zero bytes made of RLE blocks (4 bytes per
/// 128 KiB), written by hand so a 1 GiB bomb costs nothing to build.
fn rle_bomb(total: u64) -> Vec<u8> {
    const BLOCK: u64 = 128 * 1024;
    // Magic, frame header descriptor 0 (no checksum, no content size, not
    // single-segment), window descriptor 2^(10+7) = 128 KiB.
    let mut f = vec![0x28, 0xb5, 0x2f, 0xfd, 0x00, 7 << 3];
    let mut left = total;
    while left > 0 {
        let n = left.min(BLOCK);
        left -= n;
        let last = u32::from(left == 0);
        let h = ((n as u32) << 3) | (1 << 1) | last; // block type 1 = RLE
        f.extend_from_slice(&h.to_le_bytes()[..3]);
        f.push(0);
    }
    f
}

#[test]
fn zstd_request_bodies() {
    let mock = Mock::start(|_| json_reply(200, &completion("upstream-model", "decoded ok")));
    let yaml = format!(
        "{}body-limit-mb: 1\n",
        compat_config(&mock.base_url(), &["k"], &["uk"])
    );
    for driver in DRIVERS {
        let srv = Server::start(driver, 1, &yaml, &[]);
        let before = mock.requests().len();

        // zstd: the upstream sees the decoded JSON, no Content-Encoding.
        let plain = chat(&"hello zstd ".repeat(200));
        let z = compress_to_vec(&plain[..], CompressionLevel::Fastest);
        assert!(z.len() < plain.len() / 4);
        let r = send(&srv, Some("zstd"), &z);
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["choices"][0]["message"]["content"], "decoded ok");
        let got = mock.requests();
        assert_eq!(got.len(), before + 1);
        let up = &got[before];
        assert_eq!(up.header("content-encoding"), None);
        let j = up.json();
        assert_eq!(j["model"], "upstream-model");
        assert_eq!(j["messages"][0]["content"], "hello zstd ".repeat(200));

        // identity passes through unchanged.
        let r = send(&srv, Some("identity"), &chat("plain"));
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(
            mock.requests().last().unwrap().json()["messages"][0]["content"],
            "plain"
        );

        // The limit is on the decoded size: 0.9 MiB decoded passes, 1.5 MiB
        // decoded (a few KiB on the wire) gets the usual 413.
        let under = chat(&"a".repeat(900 * 1024));
        let r = send(
            &srv,
            Some("zstd"),
            &compress_to_vec(&under[..], CompressionLevel::Fastest),
        );
        assert_eq!(r.status, 200, "{}", r.text());
        let over = chat(&"a".repeat(1536 * 1024));
        let zo = compress_to_vec(&over[..], CompressionLevel::Fastest);
        assert!(zo.len() < 1024 * 1024);
        let r = send(&srv, Some("zstd"), &zo);
        assert_eq!(r.status, 413, "{}", r.text());
        assert_eq!(r.json()["error"]["type"], "invalid_request_error");
        assert!(r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("too large"));

        // A 1 GiB bomb (32 KiB on the wire) gets 413 and the server goes on.
        let bomb = rle_bomb(1 << 30);
        assert!(bomb.len() < 64 * 1024);
        let n = mock.requests().len();
        let r = send(&srv, Some("zstd"), &bomb);
        assert_eq!(r.status, 413, "{}", r.text());
        assert!(r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("too large"));
        assert_eq!(
            mock.requests().len(),
            n,
            "a rejected body never goes upstream"
        );
        let r = send(&srv, Some("zstd"), &z);
        assert_eq!(r.status, 200, "{}", r.text());

        // Corrupt zstd: 400 in the OpenAI error shape.
        let mut bad = z.clone();
        bad.truncate(z.len() / 2);
        bad.extend_from_slice(b"\xff\xfe\xfd\xfc");
        let r = send(&srv, Some("zstd"), &bad);
        assert_eq!(r.status, 400, "{}", r.text());
        assert_eq!(r.json()["error"]["type"], "invalid_request_error");
        assert!(r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid request: failed to decode zstd request body"));

        // gzip/br: CLIProxyAPI's 400 for an unsupported coding.
        for enc in ["gzip", "br"] {
            let r = send(&srv, Some(enc), b"\x1f\x8b\x08\x00\x00\x00\x00\x00");
            assert_eq!(r.status, 400, "{}", r.text());
            assert_eq!(
                r.json()["error"]["message"],
                format!("Invalid request: unsupported request content encoding: {enc}")
            );
            assert_eq!(r.json()["error"]["type"], "invalid_request_error");
        }
        // ...unless the body is valid JSON anyway: CLIProxyAPI uses it raw.
        let r = send(&srv, Some("gzip"), &chat("mislabelled"));
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(
            mock.requests().last().unwrap().json()["messages"][0]["content"],
            "mislabelled"
        );
    }
}
