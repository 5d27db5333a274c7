//! A small blocking HTTPS client for control-plane calls (token endpoints,
//! profile and onboarding endpoints, login flows). It runs its own
//! single-threaded monoio runtime (epoll driver) on the calling thread and
//! goes through the same connector as the workers' upstream calls, so it
//! honours `proxy-url`, `--upstream-ca` and `CLIPROXY_CONNECT_TO` alike.
//! Never call it on a worker thread.

use super::Net;
use crate::upstream::{Endpoint, Pool};
use std::cell::RefCell;
use std::time::Duration;

/// Largest answer body read (token and profile answers are small).
const MAX_BODY: usize = 4 << 20;
/// Whole-call deadline.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// An answer.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Body bytes.
    pub body: Vec<u8>,
    /// Response headers as received (names as sent by the server).
    pub headers: Vec<(String, String)>,
}

impl Reply {
    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The first header `name` (any case), trimmed.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    }

    /// 2xx.
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Sends `method url` with `headers` and `body` and reads the whole answer.
/// `Host`, `Content-Length` and `Connection: close` are added.
pub fn call(
    net: &Net,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Reply, String> {
    let limits = Limits {
        max_body: MAX_BODY,
        timeout: CALL_TIMEOUT,
    };
    send(net, method, url, headers, body, limits)
}

/// How much of an answer [`send`] reads, and for how long.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest body read; a longer one is an error.
    pub max_body: usize,
    /// Whole-call deadline (connect, send, read).
    pub timeout: Duration,
}

/// [`call`] with explicit [`Limits`].
pub fn send(
    net: &Net,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    limits: Limits,
) -> Result<Reply, String> {
    let mut ep = Endpoint::parse(url)?;
    let path_and_query = match url.find("://").map(|i| i + 3) {
        Some(start) => match url[start..].find('/') {
            Some(j) => &url[start + j..],
            None => "/",
        },
        None => "/",
    };
    ep.resolve();
    let mut req = Vec::with_capacity(256 + body.len());
    req.extend_from_slice(method.as_bytes());
    req.push(b' ');
    req.extend_from_slice(path_and_query.as_bytes());
    req.extend_from_slice(b" HTTP/1.1\r\n");
    // A caller's `Host` replaces the URL's (management `/api-call`).
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        req.extend_from_slice(b"Host: ");
        req.extend_from_slice(ep.host_header.as_bytes());
        req.extend_from_slice(b"\r\n");
    }
    for (n, v) in headers {
        if v.bytes().any(|b| b == b'\r' || b == b'\n') || n.bytes().any(|b| b <= b' ' || b == b':')
        {
            return Err(format!("invalid header {n:?}"));
        }
        req.extend_from_slice(n.as_bytes());
        req.extend_from_slice(b": ");
        req.extend_from_slice(v.as_bytes());
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(
        format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    req.extend_from_slice(body);
    let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
        .enable_timer()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let head = method.eq_ignore_ascii_case("HEAD");
    rt.block_on(async move {
        let pool = RefCell::new(Pool::default());
        let fut = async {
            let mut resp =
                crate::upstream::send(&pool, &net.tls, &ep, net.proxy.as_deref(), req, head, false)
                    .await
                    .map_err(|e| e.to_string())?;
            let status = resp.status();
            let headers = resp
                .headers()
                .into_iter()
                .map(|(n, v)| {
                    (
                        String::from_utf8_lossy(n).into_owned(),
                        String::from_utf8_lossy(v).into_owned(),
                    )
                })
                .collect();
            let mut body = Vec::new();
            resp.read_to_end(&mut body, limits.max_body)
                .await
                .map_err(|e| format!("{url}: reading the answer: {e}"))?;
            Ok::<Reply, String>(Reply {
                status,
                body,
                headers,
            })
        };
        match monoio::time::timeout(limits.timeout, fut).await {
            Ok(r) => r,
            Err(_) => Err(format!("{url}: timed out")),
        }
    })
}

/// `application/x-www-form-urlencoded` body of `pairs`.
pub fn form(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        url_encode_into(&mut out, k);
        out.push('=');
        url_encode_into(&mut out, v);
    }
    out
}

/// Appends `s` percent-encoded (unreserved characters kept).
pub fn url_encode_into(out: &mut String, s: &str) {
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encodes_reserved_characters() {
        assert_eq!(
            form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", "a b/c+=&")
            ]),
            "grant_type=refresh_token&refresh_token=a%20b%2Fc%2B%3D%26"
        );
    }
}
