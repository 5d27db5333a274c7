//! `passthrough-headers`: which upstream response headers reach the client
//! (CLIProxyAPI `FilterUpstreamHeaders` + `WriteUpstreamHeaders`).
//!
//! With the key on, a successful upstream answer's headers are forwarded on
//! the client's response (plain and translated, stream and non-stream, token
//! counts), minus: hop-by-hop headers (RFC 7230 §6.1) and any header the
//! upstream's `Connection` names, `Set-Cookie`, the framing cliproxy sets
//! itself (`Content-Length`, `Content-Encoding`), headers CLIProxyAPI
//! reserves (CORS, `X-CPA-Trace-Id`) and the marks AI gateways add
//! (`x-litellm-*`, `helicone-*`, ...). A header cliproxy already wrote on the
//! response (`Content-Type`, `Cache-Control` of a stream, ...) is never
//! overwritten. An upstream HTTP error carries only `Retry-After`, as before
//! (CLIProxyAPI keeps no other header of one either); the error answered for a
//! stream whose 2xx answer broke before its first byte carries that answer's
//! forwardable headers, as CLIProxyAPI's does.

use crate::h1::{has_token, name_eq};

/// Never forwarded, whatever the upstream says (lower-case).
const BLOCKED: &[&str] = &[
    // RFC 7230 §6.1 hop-by-hop.
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    // Security-sensitive.
    "set-cookie",
    // Framing cliproxy sets for the body it writes.
    "content-length",
    "content-encoding",
    // CLIProxyAPI-reserved response headers.
    "access-control-allow-credentials",
    "access-control-allow-headers",
    "access-control-allow-methods",
    "access-control-allow-origin",
    "access-control-expose-headers",
    "access-control-max-age",
    "x-cpa-trace-id",
];

/// Name prefixes AI gateways add; Claude Code reports a gateway when it sees
/// them, so they are stripped (lower-case).
const GATEWAY_PREFIXES: &[&str] = &[
    "x-litellm-",
    "helicone-",
    "x-portkey-",
    "cf-aig-",
    "x-kong-",
    "x-bt-",
];

/// Whether the upstream header `name` may be forwarded, given all the
/// upstream's `headers` (for the names its `Connection` lists).
pub(crate) fn forwardable(name: &[u8], headers: &[(&[u8], &[u8])]) -> bool {
    if BLOCKED.iter().any(|b| name_eq(name, b)) {
        return false;
    }
    if GATEWAY_PREFIXES
        .iter()
        .any(|p| name.len() >= p.len() && name_eq(&name[..p.len()], p))
    {
        return false;
    }
    let Ok(name) = std::str::from_utf8(name) else {
        return false;
    };
    !headers
        .iter()
        .any(|(n, v)| name_eq(n, "connection") && has_token(v, name))
}

/// Appends the forwardable ones of `headers` to `out` as header lines
/// (`Name: value\r\n`), in the upstream's order.
pub(crate) fn collect(headers: &[(&[u8], &[u8])], out: &mut Vec<u8>) {
    for (name, value) in headers {
        if forwardable(name, headers) {
            out.extend_from_slice(name);
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// Adds the header lines `fwd` (from [`collect`]) to the response head being
/// written in `out` since `head_start` (status line first), except those
/// whose name the head already carries: cliproxy's own headers win.
pub(crate) fn append(out: &mut Vec<u8>, head_start: usize, fwd: &[u8]) {
    if fwd.is_empty() {
        return;
    }
    let own_end = out.len();
    for line in fwd.split(|&c| c == b'\n') {
        let Some(colon) = line.iter().position(|&c| c == b':') else {
            continue;
        };
        let name = &line[..colon];
        let taken = out[head_start..own_end]
            .split(|&c| c == b'\n')
            .skip(1)
            .any(|own| {
                own.len() > name.len()
                    && own[name.len()] == b':'
                    && own[..name.len()].eq_ignore_ascii_case(name)
            });
        if !taken {
            out.extend_from_slice(line);
            out.push(b'\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The oracle: the header names a client receives, from a head written
    /// with `own` headers then the forwarded `upstream` ones.
    fn head_with(own: &[(&str, &str)], upstream: &[(&str, &str)]) -> Vec<(String, String)> {
        let pairs: Vec<(&[u8], &[u8])> = upstream
            .iter()
            .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
            .collect();
        let mut fwd = Vec::new();
        collect(&pairs, &mut fwd);
        let mut out = b"prefix".to_vec();
        let start = out.len();
        out.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
        for (n, v) in own {
            crate::h1::encode::header(&mut out, n, v.as_bytes());
        }
        append(&mut out, start, &fwd);
        out.extend_from_slice(b"\r\n");
        let text = String::from_utf8(out[start..].to_vec()).unwrap();
        text.split("\r\n")
            .skip(1)
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (n, v) = l.split_once(": ").unwrap();
                (n.to_string(), v.to_string())
            })
            .collect()
    }

    #[test]
    fn blocked_hop_by_hop_reserved_and_gateway_headers_are_dropped() {
        for name in [
            "Connection",
            "KEEP-ALIVE",
            "proxy-authenticate",
            "Proxy-Authorization",
            "TE",
            "Trailer",
            "transfer-encoding",
            "Upgrade",
            "Set-Cookie",
            "Content-Length",
            "content-encoding",
            "Access-Control-Allow-Origin",
            "access-control-allow-credentials",
            "Access-Control-Allow-Headers",
            "Access-Control-Allow-Methods",
            "Access-Control-Expose-Headers",
            "Access-Control-Max-Age",
            "X-CPA-Trace-Id",
            "x-litellm-model-id",
            "Helicone-Id",
            "X-Portkey-Trace",
            "cf-aig-cache-status",
            "X-Kong-Upstream-Latency",
            "x-bt-span",
        ] {
            assert!(!forwardable(name.as_bytes(), &[]), "{name} must be dropped");
        }
        for name in [
            "X-Request-Id",
            "openai-processing-ms",
            "x-ratelimit-remaining-requests",
            "anthropic-ratelimit-tokens-remaining",
            "Retry-After",
            "Date",
            "Cache-Control",
            "X-Kong",      // only the prefix `x-kong-` marks a gateway
            "x-teapot",    // `te` is blocked, not every name starting with it
            "Connections", // not `Connection`
        ] {
            assert!(forwardable(name.as_bytes(), &[]), "{name} must pass");
        }
    }

    #[test]
    fn names_listed_by_connection_are_dropped() {
        let h: Vec<(&[u8], &[u8])> = vec![
            (b"Connection", b"keep-alive, X-Hop-A , x-hop-b"),
            (b"connection", b"X-Hop-C"),
            (b"X-Hop-A", b"a"),
            (b"x-hop-b", b"b"),
            (b"X-HOP-C", b"c"),
            (b"X-Hop-D", b"d"),
        ];
        let mut fwd = Vec::new();
        collect(&h, &mut fwd);
        assert_eq!(fwd, b"X-Hop-D: d\r\n");
    }

    #[test]
    fn own_headers_win_and_repeated_upstream_headers_all_pass() {
        let got = head_with(
            &[
                ("Content-Type", "text/event-stream"),
                ("Cache-Control", "no-cache"),
                ("Access-Control-Allow-Origin", "*"),
            ],
            &[
                ("content-type", "application/json"),
                ("CACHE-CONTROL", "max-age=5"),
                ("X-Request-Id", "req-1"),
                ("Vary", "Origin"),
                ("vary", "Accept"),
                ("Access-Control-Allow-Origin", "https://evil.example"),
                ("Set-Cookie", "s=1"),
                ("Content-Type-Options", "nosniff"),
            ],
        );
        let want: Vec<(String, String)> = [
            ("Content-Type", "text/event-stream"),
            ("Cache-Control", "no-cache"),
            ("Access-Control-Allow-Origin", "*"),
            ("X-Request-Id", "req-1"),
            ("Vary", "Origin"),
            ("vary", "Accept"),
            ("Content-Type-Options", "nosniff"),
        ]
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn nothing_forwarded_leaves_the_head_unchanged() {
        let mut out = b"HTTP/1.1 200 OK\r\nContent-Type: a\r\n".to_vec();
        let before = out.clone();
        append(&mut out, 0, b"");
        assert_eq!(out, before);
        let mut fwd = Vec::new();
        collect(
            &[(b"Connection", b"close"), (b"Set-Cookie", b"x")],
            &mut fwd,
        );
        assert!(fwd.is_empty());
    }
}
