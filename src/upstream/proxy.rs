//! Upstream connections through a `proxy-url`: HTTP CONNECT (over TCP or TLS
//! to the proxy) and SOCKS5 (RFC 1928, user/password per RFC 1929).
//!
//! A proxied connection ends as the same [`Stream`] a direct one does, so it
//! gets the same timeouts, TCP_NODELAY and keep-alive pooling (v6.9 #15); the
//! pool keys it by [`Proxy::key`] as well, so proxied and direct connections
//! never mix. The proxy's own name is resolved by [`Proxy::resolve`] off the
//! workers, like endpoints.
//!
//! Credentials never reach a log: messages name the proxy through
//! `ProxyUrl`'s `Display`, which hides the password, and the pool key holds a
//! per-process keyed hash of the password, not the password.

use super::tls::{Stream, TlsStream};
use super::{Endpoint, UpstreamError, CONNECT_TIMEOUT};
use crate::config::{ProxyScheme, ProxyUrl};
use crate::h1::{self, ResponseHead};
use std::hash::{BuildHasher, RandomState};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};

/// Largest proxy reply read during a handshake: a CONNECT response head is a
/// few hundred bytes; anything near this is not a proxy speaking HTTP.
const MAX_REPLY: usize = 16 * 1024;

/// A proxy with its addresses resolved (on the control thread).
#[derive(Debug, Clone)]
pub struct Proxy {
    /// The parsed `proxy-url`.
    pub url: ProxyUrl,
    /// The proxy's addresses; empty if resolution failed.
    pub addrs: Vec<SocketAddr>,
    /// Pool identity: `scheme://user@host:port#<keyed hash of the password>`.
    key: Arc<str>,
}

impl Proxy {
    /// Resolves the proxy host. Blocking DNS: call only off the workers.
    #[allow(
        clippy::disallowed_methods,
        reason = "called at snapshot build and by the control thread's DNS refresh, never on a worker"
    )]
    pub fn resolve(url: ProxyUrl) -> Proxy {
        use std::net::ToSocketAddrs;
        let addrs = match url.host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, url.port)],
            Err(_) => (url.host.as_str(), url.port)
                .to_socket_addrs()
                .map(|it| it.collect())
                .unwrap_or_default(),
        };
        let key = pool_key(&url);
        Proxy { url, addrs, key }
    }

    /// The pool identity. Equal keys mean the same proxy, user and password;
    /// the password appears only as a hash keyed per process.
    /// True for an `https://` proxy (TLS to the proxy itself).
    pub fn is_tls(&self) -> bool {
        self.url.scheme == ProxyScheme::Https
    }

    pub fn key(&self) -> &Arc<str> {
        &self.key
    }
}

fn pool_key(url: &ProxyUrl) -> Arc<str> {
    static HASHER: OnceLock<RandomState> = OnceLock::new();
    let pw = url
        .password
        .as_ref()
        .map(|p| HASHER.get_or_init(RandomState::new).hash_one(p.expose()))
        .unwrap_or(0);
    // `Display` prints `user:****@`; the hash tells passwords apart.
    format!("{url}#{pw:016x}").into()
}

/// Opens a connection to `ep` through `proxy`: proxy handshake, then TLS to
/// the upstream if `ep.tls`. Each proxy address gets [`CONNECT_TIMEOUT`] for
/// the whole sequence. `tls` is for an `https://` proxy and the upstream
/// inside it; `upstream_tls` for the upstream through a plain tunnel (its
/// ALPN may offer `h2`).
pub(super) async fn connect(
    ep: &Endpoint,
    proxy: &Proxy,
    tls: &Arc<rustls::ClientConfig>,
    upstream_tls: &Arc<rustls::ClientConfig>,
) -> Result<Stream, UpstreamError> {
    if proxy.addrs.is_empty() {
        return Err(UpstreamError::Connect(format!(
            "proxy {}: cannot resolve {}",
            proxy.url, proxy.url.host
        )));
    }
    let mut last = String::new();
    for addr in &proxy.addrs {
        match monoio::time::timeout(
            CONNECT_TIMEOUT,
            connect_via(*addr, ep, proxy, tls, upstream_tls),
        )
        .await
        {
            Ok(Ok(s)) => return Ok(s),
            // Refused or unreachable: another address of the proxy may answer.
            Ok(Err(Step::Tcp(e))) => last = format!("proxy {}: {e}", proxy.url),
            // The proxy answered: its verdict stands.
            Ok(Err(Step::Handshake(m))) => {
                return Err(UpstreamError::Connect(format!("proxy {}: {m}", proxy.url)))
            }
            Err(_) => last = format!("proxy {}: connect timed out", proxy.url),
        }
    }
    Err(UpstreamError::Connect(last))
}

/// Where a proxied connect failed.
enum Step {
    Tcp(io::Error),
    Handshake(String),
}

impl From<io::Error> for Step {
    fn from(e: io::Error) -> Step {
        Step::Handshake(e.to_string())
    }
}

async fn connect_via(
    addr: SocketAddr,
    ep: &Endpoint,
    proxy: &Proxy,
    tls: &Arc<rustls::ClientConfig>,
    upstream_tls: &Arc<rustls::ClientConfig>,
) -> Result<Stream, Step> {
    let tcp = monoio::net::TcpStream::connect_addr(addr)
        .await
        .map_err(Step::Tcp)?;
    tcp.set_nodelay(true).map_err(Step::Tcp)?;
    let mut s = match proxy.url.scheme {
        ProxyScheme::Https => Stream::Tls(Box::new(
            TlsStream::connect(tcp, &proxy.url.host, tls.clone()).await?,
        )),
        _ => Stream::Plain(tcp),
    };
    let mut buf = Vec::with_capacity(512);
    let used = match proxy.url.scheme {
        ProxyScheme::Http | ProxyScheme::Https => {
            http_connect(&mut s, ep, &proxy.url, &mut buf).await?
        }
        ProxyScheme::Socks5 | ProxyScheme::Socks5h => {
            socks5(&mut s, ep, &proxy.url, &mut buf).await?
        }
    };
    // Bytes behind the proxy's reply already belong to the tunnel.
    buf.drain(..used);
    if !ep.tls {
        if !buf.is_empty() {
            return Err(Step::Handshake(
                "proxy sent data before the request".to_string(),
            ));
        }
        return Ok(s);
    }
    Ok(match s {
        Stream::Plain(tcp) => match super::fingerprint::profile_for(&ep.host) {
            Some(p) => Stream::Fp(Box::new(
                super::fingerprint::FpStream::connect(
                    tcp,
                    buf,
                    &ep.host,
                    p,
                    super::offers_h2(upstream_tls),
                )
                .await?,
            )),
            None => Stream::Tls(Box::new(
                TlsStream::connect_with(tcp, buf, &ep.host, upstream_tls.clone()).await?,
            )),
        },
        Stream::Tls(t) => Stream::TlsInTls(Box::new(
            TlsStream::connect_with(*t, buf, &ep.host, tls.clone()).await?,
        )),
        // A fresh proxy connection is plain or TLS.
        Stream::TlsInTls(_) | Stream::Fp(_) => {
            return Err(Step::Handshake("unexpected proxy connection".into()))
        }
    })
}

/// Reads more handshake bytes into `buf`; end of stream is an error.
async fn read_more(s: &mut Stream, buf: &mut Vec<u8>, what: &str) -> Result<(), Step> {
    if buf.len() > MAX_REPLY {
        return Err(Step::Handshake(format!("{what} too large")));
    }
    if s.read_into(buf).await? == 0 {
        return Err(Step::Handshake(format!(
            "connection closed before the {what}"
        )));
    }
    Ok(())
}

async fn write(s: &mut Stream, data: Vec<u8>) -> Result<(), Step> {
    let (r, _) = s.write_all(data).await;
    r.map_err(Step::from)
}

/// `host:port` as the CONNECT target and SOCKS domain name use it.
fn authority(ep: &Endpoint) -> String {
    if ep.host.contains(':') {
        format!("[{}]:{}", ep.host, ep.port)
    } else {
        format!("{}:{}", ep.host, ep.port)
    }
}

/// The CONNECT request for `ep`, with Basic proxy credentials when set.
pub fn connect_request(ep: &Endpoint, url: &ProxyUrl) -> Vec<u8> {
    let target = authority(ep);
    let mut req = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n").into_bytes();
    if let Some(user) = &url.username {
        let mut cred = Vec::with_capacity(64);
        cred.extend_from_slice(user.as_bytes());
        cred.push(b':');
        if let Some(p) = &url.password {
            cred.extend_from_slice(p.expose().as_bytes());
        }
        req.extend_from_slice(b"Proxy-Authorization: Basic ");
        base64_into(&cred, &mut req);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"\r\n");
    req
}

async fn http_connect(
    s: &mut Stream,
    ep: &Endpoint,
    url: &ProxyUrl,
    buf: &mut Vec<u8>,
) -> Result<usize, Step> {
    write(s, connect_request(ep, url)).await?;
    loop {
        if let Some(n) = parse_connect_reply(buf).map_err(Step::Handshake)? {
            return Ok(n);
        }
        read_more(s, buf, "CONNECT response").await?;
    }
}

/// Checks the proxy's answer to CONNECT at the start of `buf`: the head's
/// length once complete and 2xx, `None` while incomplete, an error naming
/// the status otherwise. Bytes after the head belong to the tunnel.
pub fn parse_connect_reply(buf: &[u8]) -> Result<Option<usize>, String> {
    let mut head = ResponseHead::default();
    // As a response to HEAD: a 2xx CONNECT answer has no body, whatever its headers say.
    match h1::parse_response_head(buf, true, &mut head) {
        Ok(None) if buf.len() > MAX_REPLY => Err("CONNECT response too large".to_string()),
        Ok(None) => Ok(None),
        Ok(Some(())) if (200..300).contains(&head.status) => Ok(Some(head.head_len)),
        Ok(Some(())) => Err(format!("CONNECT answered {}", head.status)),
        Err(m) => Err(format!("CONNECT response: {m}")),
    }
}

/// SOCKS5 method: no authentication.
const NO_AUTH: u8 = 0x00;
/// SOCKS5 method: user name and password (RFC 1929).
const USER_PASS: u8 = 0x02;

/// The SOCKS5 greeting: no-auth, plus user/password when credentials are set.
pub fn socks5_greeting(url: &ProxyUrl) -> Vec<u8> {
    if url.username.is_some() {
        vec![5, 2, NO_AUTH, USER_PASS]
    } else {
        vec![5, 1, NO_AUTH]
    }
}

/// The SOCKS5 CONNECT request: the host name for `socks5h` (the proxy
/// resolves it), the first locally resolved address for `socks5`.
pub fn socks5_request(ep: &Endpoint, url: &ProxyUrl) -> Result<Vec<u8>, String> {
    let mut req = vec![5, 1, 0];
    let ip = match ep.host.parse::<IpAddr>() {
        Ok(ip) => Some(ip),
        Err(_) if url.scheme == ProxyScheme::Socks5h => None,
        Err(_) => Some(
            ep.addrs
                .first()
                .ok_or_else(|| format!("cannot resolve {}", ep.host))?
                .ip(),
        ),
    };
    match ip {
        Some(IpAddr::V4(a)) => {
            req.push(1);
            req.extend_from_slice(&a.octets());
        }
        Some(IpAddr::V6(a)) => {
            req.push(4);
            req.extend_from_slice(&a.octets());
        }
        None => {
            let name = ep.host.as_bytes();
            let len = u8::try_from(name.len())
                .map_err(|_| format!("host name {} too long for SOCKS5", ep.host))?;
            req.push(3);
            req.push(len);
            req.extend_from_slice(name);
        }
    }
    req.extend_from_slice(&ep.port.to_be_bytes());
    Ok(req)
}

/// The RFC 1929 user/password request.
fn socks5_auth(url: &ProxyUrl) -> Result<Vec<u8>, String> {
    let user = url.username.as_deref().unwrap_or("").as_bytes();
    let pass = url.password.as_ref().map_or("", |p| p.expose()).as_bytes();
    let (Ok(ul), Ok(pl)) = (u8::try_from(user.len()), u8::try_from(pass.len())) else {
        return Err("SOCKS5 user name or password longer than 255 bytes".to_string());
    };
    let mut req = Vec::with_capacity(3 + user.len() + pass.len());
    req.extend_from_slice(&[1, ul]);
    req.extend_from_slice(user);
    req.push(pl);
    req.extend_from_slice(pass);
    Ok(req)
}

/// Parses a two-byte reply (method selection or auth status) at the start of `buf`.
fn two_bytes(buf: &[u8]) -> Option<(u8, u8)> {
    match buf {
        [a, b, ..] => Some((*a, *b)),
        _ => None,
    }
}

/// Parses a SOCKS5 reply at the start of `buf`: its length once complete and
/// successful, `None` while incomplete, an error for a failure code or a
/// malformed reply. The bound address (any ATYP) is skipped.
pub fn parse_socks5_reply(buf: &[u8]) -> Result<Option<usize>, String> {
    if let Some(&v) = buf.first() {
        if v != 5 {
            return Err(format!("SOCKS5 reply has version {v}"));
        }
    }
    if let Some(&rep) = buf.get(1) {
        if rep != 0 {
            return Err(format!("SOCKS5 CONNECT failed: {}", socks5_reply_text(rep)));
        }
    }
    let Some(&atyp) = buf.get(3) else {
        return Ok(None);
    };
    let addr_len = match atyp {
        1 => 4,
        4 => 16,
        3 => match buf.get(4) {
            Some(&n) => 1 + n as usize,
            None => return Ok(None),
        },
        other => return Err(format!("SOCKS5 reply has address type {other}")),
    };
    let total = 4 + addr_len + 2;
    Ok((buf.len() >= total).then_some(total))
}

/// RFC 1928 reply codes.
fn socks5_reply_text(rep: u8) -> String {
    match rep {
        1 => "general failure (1)".to_string(),
        2 => "connection not allowed by ruleset (2)".to_string(),
        3 => "network unreachable (3)".to_string(),
        4 => "host unreachable (4)".to_string(),
        5 => "connection refused (5)".to_string(),
        6 => "TTL expired (6)".to_string(),
        7 => "command not supported (7)".to_string(),
        8 => "address type not supported (8)".to_string(),
        n => format!("reply code {n}"),
    }
}

async fn socks5(
    s: &mut Stream,
    ep: &Endpoint,
    url: &ProxyUrl,
    buf: &mut Vec<u8>,
) -> Result<usize, Step> {
    // The request is built first so a bad target fails before any I/O.
    let request = socks5_request(ep, url).map_err(Step::Handshake)?;
    write(s, socks5_greeting(url)).await?;
    let method = loop {
        if let Some(r) = two_bytes(buf) {
            break r;
        }
        read_more(s, buf, "SOCKS5 method selection").await?;
    };
    buf.drain(..2);
    match method {
        (5, NO_AUTH) => {}
        (5, USER_PASS) if url.username.is_some() => {
            write(s, socks5_auth(url).map_err(Step::Handshake)?).await?;
            let status = loop {
                if let Some(r) = two_bytes(buf) {
                    break r;
                }
                read_more(s, buf, "SOCKS5 authentication reply").await?;
            };
            buf.drain(..2);
            if status.1 != 0 {
                return Err(Step::Handshake(format!(
                    "SOCKS5 authentication rejected ({})",
                    status.1
                )));
            }
        }
        (5, 0xff) => {
            return Err(Step::Handshake(
                "SOCKS5 proxy accepts none of the offered methods".to_string(),
            ))
        }
        (v, m) => {
            return Err(Step::Handshake(format!(
                "SOCKS5 proxy chose unexpected method {m} (version {v})"
            )))
        }
    }
    write(s, request).await?;
    loop {
        if let Some(n) = parse_socks5_reply(buf).map_err(Step::Handshake)? {
            return Ok(n);
        }
        read_more(s, buf, "SOCKS5 reply").await?;
    }
}

/// Appends standard base64 (with padding) of `src` to `out`.
pub(crate) fn base64_into(src: &[u8], out: &mut Vec<u8>) {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for c in src.chunks(3) {
        let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        out.push(ABC[(n >> 18) as usize & 63]);
        out.push(ABC[(n >> 12) as usize & 63]);
        out.push(if c.len() > 1 {
            ABC[(n >> 6) as usize & 63]
        } else {
            b'='
        });
        out.push(if c.len() > 2 {
            ABC[n as usize & 63]
        } else {
            b'='
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> ProxyUrl {
        ProxyUrl::parse(s).unwrap()
    }

    fn ep(s: &str) -> Endpoint {
        let mut e = Endpoint::parse(s).unwrap();
        e.resolve();
        e
    }

    /// Feeds `whole` to `parse` one prefix at a time: every proper prefix is
    /// incomplete, the whole is complete with `want`.
    fn split_agrees(whole: &[u8], want: usize, parse: fn(&[u8]) -> Result<Option<usize>, String>) {
        for cut in 0..want {
            assert_eq!(parse(&whole[..cut]), Ok(None), "prefix {cut}");
        }
        assert_eq!(parse(whole), Ok(Some(want)));
    }

    #[test]
    fn base64_matches_rfc4648() {
        for (src, want) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
            ("user:p@ss", "dXNlcjpwQHNz"),
        ] {
            let mut out = Vec::new();
            base64_into(src.as_bytes(), &mut out);
            assert_eq!(std::str::from_utf8(&out).unwrap(), want, "{src:?}");
        }
    }

    #[test]
    fn socks5_reply_every_atyp_and_split() {
        let v4 = [5, 0, 0, 1, 10, 0, 0, 1, 0x1f, 0x90];
        split_agrees(&v4, 10, parse_socks5_reply);
        let mut v6 = vec![5, 0, 0, 4];
        v6.extend_from_slice(&[0; 16]);
        v6.extend_from_slice(&[0, 80]);
        split_agrees(&v6, 22, parse_socks5_reply);
        let mut dn = vec![5, 0, 0, 3, 11];
        dn.extend_from_slice(b"example.com");
        dn.extend_from_slice(&[1, 187]);
        split_agrees(&dn, 18, parse_socks5_reply);
        // Tunnel bytes after the reply are not part of it.
        let mut more = v4.to_vec();
        more.extend_from_slice(b"\x16\x03\x01");
        assert_eq!(parse_socks5_reply(&more), Ok(Some(10)));
        // A zero-length domain is still well formed.
        split_agrees(&[5, 0, 0, 3, 0, 0, 0], 7, parse_socks5_reply);
    }

    #[test]
    fn socks5_reply_failures() {
        let e = parse_socks5_reply(&[5, 5]).unwrap_err();
        assert!(e.contains("connection refused"), "{e}");
        assert!(parse_socks5_reply(&[5, 1, 0, 1, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(parse_socks5_reply(&[4, 0]).is_err());
        assert!(parse_socks5_reply(&[5, 0, 0, 9, 0]).is_err());
        assert!(parse_socks5_reply(&[5, 0x5a])
            .unwrap_err()
            .contains("reply code 90"));
    }

    #[test]
    fn socks5_requests() {
        let e = ep("https://api.example.com");
        let r = socks5_request(&e, &url("socks5h://p:1080")).unwrap();
        let mut want = vec![5, 1, 0, 3, 15];
        want.extend_from_slice(b"api.example.com");
        want.extend_from_slice(&443u16.to_be_bytes());
        assert_eq!(r, want);
        let e = ep("http://127.0.0.1:8080");
        let r = socks5_request(&e, &url("socks5://p")).unwrap();
        assert_eq!(r, [5, 1, 0, 1, 127, 0, 0, 1, 0x1f, 0x90]);
        // socks5h still sends an IP literal as an address.
        let r = socks5_request(&ep("http://[::1]:80"), &url("socks5h://p")).unwrap();
        assert_eq!(r[3], 4);
        assert_eq!(r.len(), 4 + 16 + 2);
        // socks5 needs a locally resolved address.
        let mut e = Endpoint::parse("http://unresolved.invalid").unwrap();
        e.addrs.clear();
        assert!(socks5_request(&e, &url("socks5://p")).is_err());
        assert_eq!(socks5_greeting(&url("socks5://p")), [5, 1, 0]);
        assert_eq!(socks5_greeting(&url("socks5://u:pw@p")), [5, 2, 0, 2]);
        assert_eq!(
            socks5_auth(&url("socks5://u:pw@p")).unwrap(),
            [1, 1, b'u', 2, b'p', b'w']
        );
    }

    #[test]
    fn connect_request_and_reply() {
        let e = ep("https://api.example.com");
        let r = connect_request(&e, &url("http://u:p%40ss@proxy:3128"));
        assert_eq!(
            std::str::from_utf8(&r).unwrap(),
            "CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n\
             Proxy-Authorization: Basic dTpwQHNz\r\n\r\n"
        );
        let r = connect_request(&ep("http://[::1]:9"), &url("http://proxy"));
        assert!(r.starts_with(b"CONNECT [::1]:9 HTTP/1.1\r\nHost: [::1]:9\r\n\r\n"));

        let ok = b"HTTP/1.1 200 Connection established\r\nProxy-Agent: x\r\n\r\n";
        split_agrees(ok, ok.len(), parse_connect_reply);
        // A Content-Length on a 2xx CONNECT answer is ignored; tunnel bytes follow.
        let mut more = b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\n".to_vec();
        let head = more.len();
        more.extend_from_slice(b"\x16\x03\x03");
        assert_eq!(parse_connect_reply(&more), Ok(Some(head)));
        let e =
            parse_connect_reply(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n").unwrap_err();
        assert!(e.contains("407"), "{e}");
        assert!(parse_connect_reply(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
    }

    #[test]
    fn pool_key_hides_the_password_but_tells_it_apart() {
        let a = Proxy::resolve(url("http://user:secret@127.0.0.1:3128"));
        let b = Proxy::resolve(url("http://user:other@127.0.0.1:3128"));
        let c = Proxy::resolve(url("http://user:secret@127.0.0.1:3128"));
        assert!(!a.key().contains("secret"));
        assert!(a.key().starts_with("http://user:****@127.0.0.1:3128#"));
        assert_ne!(a.key(), b.key());
        assert_eq!(a.key(), c.key());
        assert_eq!(a.addrs, ["127.0.0.1:3128".parse().unwrap()]);
    }
}
