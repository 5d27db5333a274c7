//! Client authentication, as CLIProxyAPI does it: candidates from
//! `Authorization` (after `Bearer `, else raw), `X-Goog-Api-Key`, `X-Api-Key`,
//! `?key=`, `?auth_token=`; any candidate equal to a configured key passes.
//! Comparison is constant-time per key.

use crate::error::{Error, ErrorKind};
use crate::runtime::Worker;
use crate::secret::Secret;
use crate::server::{Conn, Request};
use crate::translate::format::Format;

/// The outcome of authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// A configured key matched, or no keys are configured (open relay).
    Ok,
    /// No credential was presented: `401 {"error":"Missing API key"}`.
    Missing,
    /// Credentials were presented but none matched: `401 {"error":"Invalid API key"}`.
    Invalid,
}

pub use crate::h1::query::{percent_decode, query_param};

fn matches(keys: &[Secret], candidate: &[u8]) -> bool {
    // Visit every key so timing does not reveal which one matched.
    let mut ok = false;
    for k in keys {
        ok |= k.ct_eq(candidate);
    }
    ok
}

/// Authenticates `req` against `keys`.
pub fn authenticate(keys: &[Secret], req: &Request<'_>) -> Auth {
    if keys.is_empty() {
        return Auth::Ok;
    }
    let mut seen = false;
    if let Some(v) = req.header("authorization") {
        let v = crate::h1::trim(v);
        let token = if v.len() > 7 && v[..7].eq_ignore_ascii_case(b"bearer ") {
            crate::h1::trim(&v[7..])
        } else {
            v
        };
        if !token.is_empty() {
            seen = true;
            if matches(keys, token) {
                return Auth::Ok;
            }
        }
    }
    for h in ["x-goog-api-key", "x-api-key"] {
        if let Some(v) = req.header(h) {
            let v = crate::h1::trim(v);
            if !v.is_empty() {
                seen = true;
                if matches(keys, v) {
                    return Auth::Ok;
                }
            }
        }
    }
    let q = req.query();
    if !q.is_empty() {
        let mut dec = Vec::new();
        for p in ["key", "auth_token"] {
            if let Some(v) = query_param(q, p) {
                percent_decode(v, &mut dec);
                if !dec.is_empty() {
                    seen = true;
                    if matches(keys, &dec) {
                        return Auth::Ok;
                    }
                }
            }
        }
    }
    if seen {
        Auth::Invalid
    } else {
        Auth::Missing
    }
}

/// Authenticates `req` against the client keys; on failure writes
/// CLIProxyAPI's 401 (one shape whatever the route) and returns false.
pub(crate) fn authorized(w: &Worker, conn: &mut Conn, req: &Request<'_>, head_only: bool) -> bool {
    let snap = w.snapshot();
    let missing = match authenticate(&snap.config.api_keys, req) {
        Auth::Ok => return true,
        Auth::Missing => true,
        Auth::Invalid => false,
    };
    // A refused request is an error log (request-log off), as CLIProxyAPI's
    // logging middleware sits before its auth middleware.
    crate::pipeline::trace::arm_error_log(conn, None);
    // CLIProxyAPI answers authentication in one shape whatever the route.
    let e = Error::new(ErrorKind::Unauthorized { missing }, "");
    super::reply::error(&mut conn.out, &e, Format::OpenAiChat, head_only, &[]);
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h1::{parse_request_head, RequestHead};

    fn check(keys: &[&str], raw: &str) -> Auth {
        let keys: Vec<Secret> = keys.iter().map(|k| Secret::new(*k)).collect();
        let mut head = RequestHead::default();
        parse_request_head(raw.as_bytes(), &mut head)
            .unwrap()
            .unwrap();
        let req = Request {
            buf: raw.as_bytes(),
            head: &head,
            body_start: head.head_len,
        };
        authenticate(&keys, &req)
    }

    #[test]
    fn sources_and_outcomes() {
        let k = &["sk-a", "sk b"];
        assert_eq!(check(&[], "GET / HTTP/1.1\r\n\r\n"), Auth::Ok);
        assert_eq!(check(k, "GET / HTTP/1.1\r\n\r\n"), Auth::Missing);
        assert_eq!(
            check(k, "GET / HTTP/1.1\r\nAuthorization: Bearer sk-a\r\n\r\n"),
            Auth::Ok
        );
        assert_eq!(
            check(k, "GET / HTTP/1.1\r\nAuthorization: bearer sk-a\r\n\r\n"),
            Auth::Ok
        );
        assert_eq!(
            check(k, "GET / HTTP/1.1\r\nAuthorization: sk-a\r\n\r\n"),
            Auth::Ok
        );
        assert_eq!(
            check(k, "GET / HTTP/1.1\r\nAuthorization: Bearer nope\r\n\r\n"),
            Auth::Invalid
        );
        assert_eq!(
            check(k, "GET / HTTP/1.1\r\nX-Goog-Api-Key: sk-a\r\n\r\n"),
            Auth::Ok
        );
        assert_eq!(
            check(k, "GET / HTTP/1.1\r\nX-Api-Key: sk-a\r\n\r\n"),
            Auth::Ok
        );
        assert_eq!(check(k, "GET /?key=sk-a HTTP/1.1\r\n\r\n"), Auth::Ok);
        assert_eq!(
            check(k, "GET /?x=1&auth_token=sk%20b HTTP/1.1\r\n\r\n"),
            Auth::Ok
        );
        assert_eq!(check(k, "GET /?key=bad HTTP/1.1\r\n\r\n"), Auth::Invalid);
        // A wrong bearer does not hide a right x-api-key.
        assert_eq!(
            check(
                k,
                "GET / HTTP/1.1\r\nAuthorization: Bearer bad\r\nX-Api-Key: sk b\r\n\r\n"
            ),
            Auth::Ok
        );
    }

    #[test]
    fn decoding() {
        let mut o = Vec::new();
        percent_decode(b"a%2Fb+c%zz%4", &mut o);
        assert_eq!(o, b"a/b c%zz%4");
    }
}
