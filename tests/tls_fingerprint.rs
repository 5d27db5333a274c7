//! The TLS ClientHello cliproxy presents per upstream host, recorded by a
//! tap between the real binary and a TLS mock (`CLIPROXY_CONNECT_TO` dials
//! the provider's real host name at the tap; the tap records the hello and
//! splices the connection on, so the request still completes). The JA4 per
//! host is pinned: a dependency update that changes the handshake fails here
//! instead of drifting silently. Fingerprint code: `common/client_hello.rs`.

#[path = "common/client_hello.rs"]
mod client_hello;
mod common;

use client_hello::*;
use common::*;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// The targets' JA3/JA4 computed by our code equal the values CLIProxyAPI
/// publishes for its Claude Code profile (measured from a real client), and
/// the value commonly published for Chrome 131+ (X25519MLKEM768, new ALPS):
/// an independent check of the JA3/JA4 implementation.
#[test]
fn targets_reproduce_published_fingerprints() {
    let node = target_claude_code();
    assert_eq!(
        node.ja3_string(),
        "771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49161-49171-49162-49172-156-157-47-53,0-65037-23-65281-10-11-35-16-5-13-18-51-45-43,29-23-24,0"
    );
    assert_eq!(node.ja3(), "44f88fca027f27bab4bb08d4af15f23e");
    assert_eq!(node.ja4(), "t13d1714h1_5b57614c22b0_7baf387fc6ff");
    let chrome = target_chrome();
    assert_eq!(chrome.ja4_a(), "t13d1516h2");
    assert_eq!(chrome.ja4(), CHROME_JA4);
}

/// Chrome's JA4 as computed from uTLS's HelloChrome_133 field list.
const CHROME_JA4: &str = "t13d1516h2_8daaf6152771_d8a2da3f94cd";

/// A ClientHello written by rustls (in process) for `host` with `alpn`.
fn rustls_hello(host: &str, alpn: &[&[u8]]) -> Vec<u8> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let mut cfg = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = alpn.iter().map(|a| a.to_vec()).collect();
    let name = rustls::pki_types::ServerName::try_from(host.to_string()).unwrap();
    let mut conn = rustls::ClientConnection::new(Arc::new(cfg), name).unwrap();
    let mut out = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut out).unwrap();
    }
    out
}

/// Re-frames the handshake bytes of `wire` (one record) into records of at
/// most `size` bytes.
fn refragment(wire: &[u8], size: usize) -> Vec<u8> {
    let body = &wire[5..];
    let mut out = Vec::new();
    for part in body.chunks(size) {
        out.extend_from_slice(&[22, wire[1], wire[2]]);
        out.extend_from_slice(&(part.len() as u16).to_be_bytes());
        out.extend_from_slice(part);
    }
    out
}

/// The parser is incremental (the tap feeds it what the socket gave so
/// far): every strict prefix asks for more, the whole parses to the same
/// hello as a one-shot parse, including when the hello spans records.
#[test]
fn parser_whole_vs_split_at_every_byte_and_across_records() {
    let wire = rustls_hello("api.anthropic.com", &[b"h2", b"http/1.1"]);
    let whole = ClientHello::parse(&wire).unwrap().expect("complete hello");
    assert_eq!(whole.sni.as_deref(), Some("api.anthropic.com"));
    assert_eq!(whole.alpn, ["h2", "http/1.1"]);
    assert!(whole.supported_versions.contains(&0x0304));
    assert!(!whole.key_shares.is_empty());
    for i in 0..wire.len() {
        assert_eq!(ClientHello::parse(&wire[..i]), Ok(None), "prefix {i}");
    }
    for size in [1, 7, 64, 300] {
        let framed = refragment(&wire, size);
        for i in 0..framed.len() {
            assert_eq!(ClientHello::parse(&framed[..i]), Ok(None), "{size}/{i}");
        }
        assert_eq!(ClientHello::parse(&framed).unwrap(), Some(whole.clone()));
    }
    // Trailing bytes (the next flight) do not change the result.
    let mut more = wire.clone();
    more.extend_from_slice(&[23, 3, 3, 0, 1, 0]);
    assert_eq!(ClientHello::parse(&more).unwrap(), Some(whole));
    // Not a handshake, or not a ClientHello: an error, not a hang.
    assert!(ClientHello::parse(b"GET / HTTP/1.1\r\n\r\n").is_err());
    let mut sh = wire.clone();
    sh[5] = 2;
    assert!(ClientHello::parse(&sh).is_err());
}

/// The relay with `yaml`, `hosts` dialled at `tap` (which forwards to
/// `mock`, whose CA is trusted with `--upstream-ca`).
fn relay_via_tap(mock: &Mock, tap: &HelloTap, hosts: &[&str], yaml: &str) -> Server {
    let ca = mock.write_ca(&scratch_dir("fp-ca"));
    Server::start_env(
        "epoll",
        1,
        yaml,
        &["--upstream-ca", &ca.to_string_lossy()],
        &[("CLIPROXY_CONNECT_TO", &tap.connect_to(hosts))],
    )
}

fn claude_reply(r: &Recorded) -> Reply {
    let model = r.json()["model"].as_str().unwrap_or("m").to_string();
    json_reply(
        200,
        &json!({"id":"msg_1","type":"message","role":"assistant","model":model,
            "content":[{"type":"text","text":"fp ok"}],"stop_reason":"end_turn",
            "usage":{"input_tokens":1,"output_tokens":1}})
        .to_string(),
    )
}

fn codex_reply(r: &Recorded) -> Reply {
    let model = r.json()["model"].as_str().unwrap_or("").to_string();
    let item = json!({"type":"message","id":"msg_1","status":"completed","role":"assistant","content":[{"type":"output_text","text":"fp ok","annotations":[]}]});
    sse_events(&[
        codex_created(&model),
        (
            Some("response.output_item.done"),
            json!({"type":"response.output_item.done","sequence_number":1,"output_index":0,"item":item}),
        ),
        (
            Some("response.completed"),
            json!({"type":"response.completed","sequence_number":2,"response":{"id":"resp_1","object":"response","created_at":1,"status":"completed","model":model,"output":[item],"usage":{"input_tokens":1,"output_tokens":1,"total_tokens":2}}}),
        ),
    ])
}

/// Sends one chat request for `model`, which must succeed through the tap,
/// and returns the hello the relay sent.
fn hello_for(host: &str, model: &str, yaml: &str, reply: fn(&Recorded) -> Reply) -> ClientHello {
    let mock = Mock::start_tls_named(&[host], reply);
    let tap = HelloTap::start(Some(mock.addr));
    let srv = relay_via_tap(&mock, &tap, &[host], yaml);
    let body = json!({"model": model, "messages": [{"role":"user","content":"hi"}]});
    let r = srv.request(
        "POST",
        "/v1/chat/completions",
        &[CLIENT_AUTH, ("Content-Type", "application/json")],
        &body.to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("fp ok"), "{}", r.text());
    let hello = tap.next(Duration::from_secs(10)).expect("hello recorded");
    assert_eq!(hello.sni.as_deref(), Some(host));
    eprintln!(
        "{host} ({} bytes on the wire):\n{}",
        tap.raw().first().map_or(0, |r| r.len()),
        hello.describe()
    );
    hello
}

/// `hello`'s non-GREASE extension types, sorted (what JA4 hashes).
fn ext_set(h: &ClientHello) -> Vec<u16> {
    let mut v: Vec<u16> = h
        .extensions
        .iter()
        .copied()
        .filter(|&e| !is_grease(e))
        .collect();
    v.sort_unstable();
    v
}

/// The hello cliproxy sends to `api.anthropic.com` (Claude API keys and
/// OAuth accounts) is Claude Code's, field for field, and the request
/// completes through it. One thing varies by connection: BoringSSL draws
/// the ECH GREASE payload length at random (144 to 240 bytes) and, when
/// that leaves the hello between 256 and 511 bytes, appends the RFC 7685
/// padding extension (21) last. Both variants are pinned.
#[test]
fn anthropic_hello_is_pinned() {
    let yaml = format!(
        "api-keys: [\"{CLIENT_KEY}\"]\nclaude-api-key:\n  - api-key: \"sk-ant-k\"\n    models: [{{name: claude-sonnet-4-6, alias: fp-claude}}]\n"
    );
    let h = hello_for("api.anthropic.com", "fp-claude", &yaml, claude_reply);
    let padded = h.extensions.last() == Some(&21);
    let mut unpadded = h.clone();
    unpadded.extensions.retain(|&e| e != 21);
    assert_eq!(
        unpadded.diff(&target_claude_code()),
        Vec::<String>::new(),
        "{}",
        h.describe()
    );
    if padded {
        assert_eq!(h.ja4(), ANTHROPIC_JA4_PADDED, "{}", h.describe());
        assert_eq!(h.ja3(), ANTHROPIC_JA3_PADDED, "{}", h.describe());
    } else {
        assert_eq!(h.ja4(), ANTHROPIC_JA4, "{}", h.describe());
        assert_eq!(h.ja3(), ANTHROPIC_JA3, "{}", h.describe());
    }
    // Unpadded, it is exactly the target's fingerprint.
    assert_eq!(unpadded.ja4(), target_claude_code().ja4());
    assert_eq!(unpadded.ja3(), target_claude_code().ja3());
}

/// The hello cliproxy sends to `chatgpt.com` (Codex) is Chrome's, with
/// GREASE and a per-connection extension order (so JA3 changes every
/// time; JA4, which sorts, is pinned). The one field apart from uTLS's
/// Chrome 133: ALPS under its first code point (17513, Chrome up to 132)
/// instead of 17613; the JA4 is Chrome 131's.
#[test]
fn chatgpt_hello_is_pinned() {
    let yaml = format!(
        "api-keys: [\"{CLIENT_KEY}\"]\ncodex-api-key:\n  - api-key: \"sk-codex\"\n    base-url: \"https://chatgpt.com/backend-api/codex\"\n    models: [{{name: gpt-5.4, alias: fp-codex}}]\n"
    );
    let h = hello_for("chatgpt.com", "fp-codex", &yaml, codex_reply);
    assert_eq!(h.ja4(), CHATGPT_JA4, "{}", h.describe());
    let target = target_chrome();
    let mut want = target.clone();
    for e in want.extensions.iter_mut() {
        if *e == 17613 {
            *e = 17513;
        }
    }
    assert_eq!(ext_set(&h), ext_set(&want), "{}", h.describe());
    let mut h_sorted = h.clone();
    h_sorted.extensions = ext_set(&h);
    want.extensions = ext_set(&want);
    assert_eq!(
        h_sorted.diff(&want),
        Vec::<String>::new(),
        "{}",
        h.describe()
    );
    assert!(h.ciphers.first().is_some_and(|&c| is_grease(c)));
    assert!(h.extensions.iter().any(|&e| is_grease(e)));
    // Two connections: same JA4, and GREASE values drawn anew.
    let h2 = hello_for("chatgpt.com", "fp-codex", &yaml, codex_reply);
    assert_eq!(h2.ja4(), CHATGPT_JA4);
}

/// Every other host keeps the default rustls hello (its JA4 pinned too).
#[test]
fn other_hosts_keep_the_default_hello() {
    let yaml = format!(
        "api-keys: [\"{CLIENT_KEY}\"]\nclaude-api-key:\n  - api-key: \"sk-ant-k\"\n    base-url: \"https://claude.example.test\"\n    models: [{{name: claude-sonnet-4-6, alias: fp-other}}]\n"
    );
    let h = hello_for("claude.example.test", "fp-other", &yaml, claude_reply);
    assert_eq!(h.ja4(), DEFAULT_JA4, "{}", h.describe());
}

/// Claude Code's JA4 (the target's, measured on cliproxy's unpadded hello).
const ANTHROPIC_JA4: &str = "t13d1714h1_5b57614c22b0_7baf387fc6ff";
/// Claude Code's JA3 (idem).
const ANTHROPIC_JA3: &str = "44f88fca027f27bab4bb08d4af15f23e";
/// With BoringSSL's padding extension.
const ANTHROPIC_JA4_PADDED: &str = "t13d1715h1_5b57614c22b0_e8ed158c4d85";
const ANTHROPIC_JA3_PADDED: &str = "50027c67d7d68e24c00d233bca146d88";
/// Chrome 131's JA4 (ALPS 17513).
const CHATGPT_JA4: &str = "t13d1516h2_8daaf6152771_02713d6af862";
/// rustls 0.23 (ring) with ALPN h2, http/1.1.
const DEFAULT_JA4: &str = "t13d1011h2_61a7ad8aa9b6_3fcd1a44f3e3";

/// The BoringSSL path checks certificates like rustls does: a certificate
/// for another name, or from a CA that is not trusted, fails the handshake
/// and nothing reaches the upstream.
#[test]
fn profile_hosts_still_check_the_certificate() {
    let yaml = format!(
        "api-keys: [\"{CLIENT_KEY}\"]\nclaude-api-key:\n  - api-key: \"sk-ant-k\"\n    models: [{{name: claude-sonnet-4-6, alias: fp-claude}}]\n"
    );
    let body = json!({"model": "fp-claude", "messages": [{"role":"user","content":"hi"}]});
    // Wrong name, trusted CA.
    let wrong = Mock::start_tls_named(&["other.example.test"], claude_reply);
    let ca = wrong.write_ca(&scratch_dir("fp-ca-wrong"));
    let srv = Server::start_env(
        "epoll",
        1,
        &yaml,
        &["--upstream-ca", &ca.to_string_lossy()],
        &[(
            "CLIPROXY_CONNECT_TO",
            &wrong.connect_to(&["api.anthropic.com"]),
        )],
    );
    let r = srv.request(
        "POST",
        "/v1/chat/completions",
        &[CLIENT_AUTH, ("Content-Type", "application/json")],
        &body.to_string(),
    );
    assert!(r.status >= 500, "{} {}", r.status, r.text());
    assert!(wrong.requests().is_empty());
    let refused = |srv: &Server| {
        eventually(Duration::from_secs(5), || {
            srv.log_text().contains("CERTIFICATE_VERIFY_FAILED")
        })
    };
    assert!(refused(&srv), "{}", srv.log_text());
    // Right name, CA not trusted.
    let untrusted = Mock::start_tls_named(&["api.anthropic.com"], claude_reply);
    let srv = Server::start_env(
        "epoll",
        1,
        &yaml,
        &[],
        &[(
            "CLIPROXY_CONNECT_TO",
            &untrusted.connect_to(&["api.anthropic.com"]),
        )],
    );
    let r = srv.request(
        "POST",
        "/v1/chat/completions",
        &[CLIENT_AUTH, ("Content-Type", "application/json")],
        &body.to_string(),
    );
    assert!(r.status >= 500, "{} {}", r.status, r.text());
    assert!(untrusted.requests().is_empty());
    assert!(refused(&srv), "{}", srv.log_text());
}

/// A body of many TLS records each way crosses the BoringSSL session
/// intact (the request is encrypted in chunks; the answer spans records).
#[test]
fn large_bodies_cross_the_boringssl_session_intact() {
    let big: String = (0..300_000)
        .map(|i| (b'a' + (i % 26) as u8) as char)
        .collect();
    let echo = big.clone();
    let mock = Mock::start_tls_named(&["api.anthropic.com"], move |r| {
        let model = r.json()["model"].as_str().unwrap_or("m").to_string();
        let c = &r.json()["messages"][0]["content"];
        let sent = c
            .as_str()
            .or_else(|| c[0]["text"].as_str())
            .map_or(0, str::len);
        json_reply(
            200,
            &json!({"id":"msg_1","type":"message","role":"assistant","model":model,
                "content":[{"type":"text","text":format!("{sent}:{echo}")}],"stop_reason":"end_turn",
                "usage":{"input_tokens":1,"output_tokens":1}})
            .to_string(),
        )
    });
    let ca = mock.write_ca(&scratch_dir("fp-ca-big"));
    let yaml = format!(
        "api-keys: [\"{CLIENT_KEY}\"]\nclaude-api-key:\n  - api-key: \"sk-ant-k\"\n    models: [{{name: claude-sonnet-4-6, alias: fp-claude}}]\n"
    );
    let srv = Server::start_env(
        "uring",
        1,
        &yaml,
        &["--upstream-ca", &ca.to_string_lossy()],
        &[(
            "CLIPROXY_CONNECT_TO",
            &mock.connect_to(&["api.anthropic.com"]),
        )],
    );
    for _ in 0..2 {
        let body = json!({"model": "fp-claude", "messages": [{"role":"user","content": big}]});
        let r = srv.request(
            "POST",
            "/v1/chat/completions",
            &[CLIENT_AUTH, ("Content-Type", "application/json")],
            &body.to_string(),
        );
        assert_eq!(r.status, 200);
        let text = r.json()["choices"][0]["message"]["content"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert_eq!(text, format!("{}:{big}", big.len()));
    }
    assert_eq!(mock.requests().len(), 2);
}
