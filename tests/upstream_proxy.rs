//! Upstream connections through `proxy-url` proxies (HTTP CONNECT, HTTPS
//! CONNECT, SOCKS5, SOCKS5h), against in-process std-thread mocks on
//! 127.0.0.1:0: the request reaches the origin, credentials arrive, proxy
//! refusals fail fast, and proxied connections are pooled like direct ones
//! but never mixed with them (v6.9 #15).

mod common;

use cliproxy::config::ProxyUrl;
use cliproxy::upstream::{client_tls_config, send, Endpoint, Pool, Proxy, UpstreamError};
use std::cell::RefCell;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

const BODY: &[u8] = b"hello through";

// ---------------------------------------------------------------- mocks

/// Reads one request or CONNECT head (no body); `None` at end of stream.
fn read_head(s: &mut impl Read) -> Option<String> {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match s.read(&mut b) {
            Ok(1) => head.push(b[0]),
            _ => return None,
        }
    }
    Some(String::from_utf8(head).unwrap())
}

/// Answers every request on `s` with [`BODY`] until the peer closes.
fn serve_http(mut s: impl Read + Write) {
    while read_head(&mut s).is_some() {
        let resp = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", BODY.len());
        let mut out = resp.into_bytes();
        out.extend_from_slice(BODY);
        if s.write_all(&out).and_then(|_| s.flush()).is_err() {
            return;
        }
    }
}

/// A keep-alive HTTP/1.1 origin (plain or TLS) counting accepted connections.
struct Origin {
    port: u16,
    conns: Arc<AtomicUsize>,
}

fn origin(tls: Option<Arc<rustls::ServerConfig>>) -> Origin {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let conns = Arc::new(AtomicUsize::new(0));
    let c = conns.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(s) = s else { return };
            c.fetch_add(1, Ordering::SeqCst);
            let tls = tls.clone();
            std::thread::spawn(move || match tls {
                None => serve_http(s),
                Some(cfg) => {
                    let conn = rustls::ServerConnection::new(cfg).unwrap();
                    serve_http(rustls::StreamOwned::new(conn, s));
                }
            });
        }
    });
    Origin { port, conns }
}

/// Copies bytes both ways until either side closes.
fn pipe(a: TcpStream, b: TcpStream) {
    let (a2, b2) = (a.try_clone().unwrap(), b.try_clone().unwrap());
    std::thread::spawn(move || {
        let (mut r, mut w) = (a2, b2);
        let _ = std::io::copy(&mut r, &mut w);
        let _ = w.shutdown(Shutdown::Write);
    });
    let (mut r, mut w) = (b, a);
    let _ = std::io::copy(&mut r, &mut w);
    let _ = w.shutdown(Shutdown::Write);
}

/// What an HTTP proxy saw on one tunnel.
#[derive(Debug, Clone)]
struct ConnectSeen {
    line: String,
    auth: Option<String>,
}

struct HttpProxy {
    port: u16,
    seen: Arc<Mutex<Vec<ConnectSeen>>>,
}

/// An HTTP CONNECT proxy. `reject` answers 407 (and keeps the connection
/// open, so a client waiting for more would hang); otherwise it connects to
/// 127.0.0.1:<target port> and pipes.
fn http_proxy(reject: bool) -> HttpProxy {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let rec = seen.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            let rec = rec.clone();
            std::thread::spawn(move || {
                let Some(head) = read_head(&mut s) else {
                    return;
                };
                let mut lines = head.split("\r\n");
                let line = lines.next().unwrap().to_string();
                let auth = lines
                    .filter_map(|l| l.split_once(": "))
                    .find(|(n, _)| n.eq_ignore_ascii_case("proxy-authorization"))
                    .map(|(_, v)| v.to_string());
                rec.lock().unwrap().push(ConnectSeen {
                    line: line.clone(),
                    auth,
                });
                if reject {
                    let _ = s.write_all(
                        b"HTTP/1.1 407 Proxy Authentication Required\r\n\
                          Proxy-Authenticate: Basic realm=\"x\"\r\nContent-Length: 0\r\n\r\n",
                    );
                    let _ = s.read(&mut [0u8; 1]);
                    return;
                }
                let target = line.split(' ').nth(1).unwrap();
                let port = target.rsplit_once(':').unwrap().1;
                let up = TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
                s.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .unwrap();
                pipe(s, up);
            });
        }
    });
    HttpProxy { port, seen }
}

/// What a SOCKS5 proxy saw on one connection.
#[derive(Debug, Clone, Default)]
struct SocksSeen {
    methods: Vec<u8>,
    user_pass: Option<(String, String)>,
    atyp: u8,
    addr: String,
    port: u16,
}

struct SocksProxy {
    port: u16,
    seen: Arc<Mutex<Vec<SocksSeen>>>,
}

fn read_exact(s: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut v = vec![0; n];
    s.read_exact(&mut v).unwrap();
    v
}

/// A SOCKS5 proxy: requires user/password when `need_auth`, answers
/// `fail_code` (if non-zero) to CONNECT, else connects to 127.0.0.1:<port>
/// and pipes. Replies to a domain request carry a domain bound address.
fn socks_proxy(need_auth: bool, fail_code: u8) -> SocksProxy {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let rec = seen.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            let rec = rec.clone();
            std::thread::spawn(move || {
                let mut seen = SocksSeen::default();
                let hello = read_exact(&mut s, 2);
                assert_eq!(hello[0], 5);
                seen.methods = read_exact(&mut s, hello[1] as usize);
                if need_auth {
                    if !seen.methods.contains(&2) {
                        rec.lock().unwrap().push(seen);
                        let _ = s.write_all(&[5, 0xff]);
                        return;
                    }
                    s.write_all(&[5, 2]).unwrap();
                    let v = read_exact(&mut s, 2);
                    assert_eq!(v[0], 1);
                    let user = read_exact(&mut s, v[1] as usize);
                    let pl = read_exact(&mut s, 1)[0];
                    let pass = read_exact(&mut s, pl as usize);
                    seen.user_pass = Some((
                        String::from_utf8(user).unwrap(),
                        String::from_utf8(pass).unwrap(),
                    ));
                    s.write_all(&[1, 0]).unwrap();
                } else {
                    s.write_all(&[5, 0]).unwrap();
                }
                let req = read_exact(&mut s, 4);
                assert_eq!(&req[..3], &[5, 1, 0]);
                seen.atyp = req[3];
                seen.addr = match req[3] {
                    1 => {
                        let a = read_exact(&mut s, 4);
                        std::net::Ipv4Addr::new(a[0], a[1], a[2], a[3]).to_string()
                    }
                    4 => {
                        let a: [u8; 16] = read_exact(&mut s, 16).try_into().unwrap();
                        std::net::Ipv6Addr::from(a).to_string()
                    }
                    3 => {
                        let n = read_exact(&mut s, 1)[0];
                        String::from_utf8(read_exact(&mut s, n as usize)).unwrap()
                    }
                    t => panic!("atyp {t}"),
                };
                let p = read_exact(&mut s, 2);
                seen.port = u16::from_be_bytes([p[0], p[1]]);
                let atyp = seen.atyp;
                let target = seen.port;
                rec.lock().unwrap().push(seen);
                if fail_code != 0 {
                    let _ = s.write_all(&[5, fail_code, 0, 1, 0, 0, 0, 0, 0, 0]);
                    let _ = s.read(&mut [0u8; 1]);
                    return;
                }
                let up = TcpStream::connect(("127.0.0.1", target)).unwrap();
                let mut reply = vec![5, 0, 0];
                if atyp == 3 {
                    reply.extend_from_slice(&[3, 9]);
                    reply.extend_from_slice(b"proxy.lan");
                } else {
                    reply.extend_from_slice(&[1, 127, 0, 0, 1]);
                }
                reply.extend_from_slice(&[0x1f, 0x90]);
                s.write_all(&reply).unwrap();
                pipe(s, up);
            });
        }
    });
    SocksProxy { port, seen }
}

/// An `https://` proxy: TLS to the proxy, CONNECT inside it; it then serves
/// the origin itself on the tunnel (TLS inside TLS when `inner_tls`), so the
/// client's whole path is exercised without a two-way TLS pipe.
fn https_proxy(cfg: Arc<rustls::ServerConfig>, inner_tls: bool) -> HttpProxy {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let rec = seen.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(s) = s else { return };
            let rec = rec.clone();
            let cfg = cfg.clone();
            std::thread::spawn(move || {
                let conn = rustls::ServerConnection::new(cfg.clone()).unwrap();
                let mut t = rustls::StreamOwned::new(conn, s);
                let Some(head) = read_head(&mut t) else {
                    return;
                };
                let line = head.split("\r\n").next().unwrap().to_string();
                rec.lock().unwrap().push(ConnectSeen { line, auth: None });
                t.write_all(b"HTTP/1.1 200 OK\r\n\r\n").unwrap();
                t.flush().unwrap();
                if inner_tls {
                    let inner = rustls::ServerConnection::new(cfg).unwrap();
                    serve_http(rustls::StreamOwned::new(inner, t));
                } else {
                    serve_http(t);
                }
            });
        }
    });
    HttpProxy { port, seen }
}

/// A CA-signed certificate for `localhost` and `127.0.0.1`: the server
/// config and the CA certificate for the client.
fn tls_parts() -> (
    Arc<rustls::ServerConfig>,
    rustls::pki_types::CertificateDer<'static>,
) {
    let parts = common::tls_parts_for(&["localhost", "127.0.0.1"]);
    (parts.config, parts.ca_der)
}

// ---------------------------------------------------------------- client side

fn legacy<F: std::future::Future>(f: F) -> F::Output {
    monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
        .enable_timer()
        .build()
        .unwrap()
        .block_on(f)
}

fn endpoint(url: &str) -> Endpoint {
    let mut e = Endpoint::parse(url).unwrap();
    e.resolve();
    e
}

fn proxy(url: &str) -> Proxy {
    Proxy::resolve(ProxyUrl::parse(url).unwrap())
}

struct Client {
    pool: RefCell<Pool>,
    tls: Arc<rustls::ClientConfig>,
}

impl Client {
    fn new(roots: &[rustls::pki_types::CertificateDer<'static>]) -> Client {
        Client {
            pool: RefCell::new(Pool::default()),
            tls: client_tls_config(roots).unwrap(),
        }
    }

    /// One GET; the connection goes back to the pool.
    async fn get(&self, ep: &Endpoint, proxy: Option<&Proxy>) -> Result<Vec<u8>, UpstreamError> {
        let req = format!("GET /v1/x HTTP/1.1\r\nHost: {}\r\n\r\n", ep.host_header);
        let mut r = send(
            &self.pool,
            &self.tls,
            ep,
            proxy,
            req.into_bytes(),
            false,
            false,
        )
        .await?;
        assert_eq!(r.status(), 200);
        let mut body = Vec::new();
        r.read_to_end(&mut body, 1 << 20).await.unwrap();
        r.release(&self.pool);
        Ok(body)
    }

    fn opened_reused(&self) -> (u64, u64) {
        let p = self.pool.borrow();
        (p.opened, p.reused)
    }
}

/// GETs in order on one fresh client trusting `roots`, each answered with
/// [`BODY`]; then the pool's (opened, reused).
fn get_all(
    roots: &[rustls::pki_types::CertificateDer<'static>],
    plan: &[(&Endpoint, Option<&Proxy>)],
) -> (u64, u64) {
    legacy(async {
        let c = Client::new(roots);
        for (ep, px) in plan {
            assert_eq!(c.get(ep, *px).await.unwrap(), BODY);
        }
        c.opened_reused()
    })
}

fn connect_error(r: Result<Vec<u8>, UpstreamError>) -> String {
    match r {
        Err(UpstreamError::Connect(m)) => m,
        other => panic!("expected a connect error, got {other:?}"),
    }
}

// ---------------------------------------------------------------- tests

#[test]
fn http_proxy_tunnels_and_pools() {
    let o = origin(None);
    let p = http_proxy(false);
    let ep = endpoint(&format!("http://127.0.0.1:{}/v1", o.port));
    let px = proxy(&format!("http://127.0.0.1:{}", p.port));
    let stats = get_all(&[], &[(&ep, Some(&px)), (&ep, Some(&px))]);
    assert_eq!(o.conns.load(Ordering::SeqCst), 1);
    assert_eq!(stats, (1, 1));
    let seen = p.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "one tunnel for two requests");
    assert_eq!(
        seen[0].line,
        format!("CONNECT 127.0.0.1:{} HTTP/1.1", o.port)
    );
    assert_eq!(seen[0].auth, None);
}

#[test]
fn http_proxy_sends_basic_credentials() {
    let o = origin(None);
    let p = http_proxy(false);
    let ep = endpoint(&format!("http://localhost:{}", o.port));
    let px = proxy(&format!("http://us%65r:p%40ss:w@127.0.0.1:{}", p.port));
    let stats = get_all(&[], &[(&ep, Some(&px))]);
    assert_eq!(stats, (1, 0));
    let seen = p.seen.lock().unwrap().clone();
    assert_eq!(
        seen[0].line,
        format!("CONNECT localhost:{} HTTP/1.1", o.port)
    );
    // base64("user:p@ss:w")
    assert_eq!(seen[0].auth.as_deref(), Some("Basic dXNlcjpwQHNzOnc="));
}

#[test]
fn http_proxy_407_is_an_error_not_a_hang() {
    let o = origin(None);
    let p = http_proxy(true);
    let ep = endpoint(&format!("http://127.0.0.1:{}", o.port));
    let px = proxy(&format!("http://user:secret@127.0.0.1:{}", p.port));
    let c = Client::new(&[]);
    let msg = connect_error(legacy(c.get(&ep, Some(&px))));
    assert!(msg.contains("407"), "{msg}");
    assert!(!msg.contains("secret"), "password leaked: {msg}");
    assert_eq!(o.conns.load(Ordering::SeqCst), 0);
    assert_eq!(c.opened_reused(), (0, 0));
}

#[test]
fn socks5_without_auth_sends_the_resolved_address_and_pools() {
    let o = origin(None);
    let p = socks_proxy(false, 0);
    let ep = endpoint(&format!("http://127.0.0.1:{}", o.port));
    let px = proxy(&format!("socks5://127.0.0.1:{}", p.port));
    let stats = get_all(&[], &[(&ep, Some(&px)), (&ep, Some(&px))]);
    assert_eq!(o.conns.load(Ordering::SeqCst), 1);
    assert_eq!(stats, (1, 1));
    let seen = p.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].methods, [0]);
    assert_eq!(seen[0].user_pass, None);
    assert_eq!((seen[0].atyp, seen[0].addr.as_str()), (1, "127.0.0.1"));
    assert_eq!(seen[0].port, o.port);
}

#[test]
fn socks5_with_credentials() {
    let o = origin(None);
    let p = socks_proxy(true, 0);
    let ep = endpoint(&format!("http://127.0.0.1:{}", o.port));
    let px = proxy(&format!("socks5://alice:s%3Acret@127.0.0.1:{}", p.port));
    let stats = get_all(&[], &[(&ep, Some(&px))]);
    assert_eq!(stats, (1, 0));
    let seen = p.seen.lock().unwrap().clone();
    assert_eq!(seen[0].methods, [0, 2]);
    assert_eq!(
        seen[0].user_pass,
        Some(("alice".to_string(), "s:cret".to_string()))
    );
}

#[test]
fn socks5h_sends_the_host_name() {
    let o = origin(None);
    let p = socks_proxy(true, 0);
    let ep = endpoint(&format!("http://localhost:{}", o.port));
    let px = proxy(&format!("socks5h://bob:pw@127.0.0.1:{}", p.port));
    let stats = get_all(&[], &[(&ep, Some(&px)), (&ep, Some(&px))]);
    assert_eq!(stats, (1, 1));
    assert_eq!(o.conns.load(Ordering::SeqCst), 1);
    let seen = p.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!((seen[0].atyp, seen[0].addr.as_str()), (3, "localhost"));
    assert_eq!(
        seen[0].user_pass,
        Some(("bob".to_string(), "pw".to_string()))
    );
}

#[test]
fn socks5h_with_an_unresolvable_name_still_goes_to_the_proxy() {
    // The proxy resolves: a name this machine cannot resolve is fine.
    let o = origin(None);
    let p = socks_proxy(false, 0);
    let mut ep = Endpoint::parse(&format!("http://only-the-proxy-knows:{}", o.port)).unwrap();
    ep.addrs.clear();
    let px = proxy(&format!("socks5h://127.0.0.1:{}", p.port));
    let stats = get_all(&[], &[(&ep, Some(&px))]);
    assert_eq!(stats, (1, 0));
    let seen = p.seen.lock().unwrap().clone();
    assert_eq!(seen[0].addr, "only-the-proxy-knows");
}

#[test]
fn socks5_failures_are_errors_not_hangs() {
    let o = origin(None);
    let ep = endpoint(&format!("http://127.0.0.1:{}", o.port));
    let c = Client::new(&[]);
    // CONNECT refused by the proxy.
    let p = socks_proxy(false, 5);
    let px = proxy(&format!("socks5://127.0.0.1:{}", p.port));
    let msg = connect_error(legacy(c.get(&ep, Some(&px))));
    assert!(msg.contains("connection refused (5)"), "{msg}");
    // The proxy wants credentials we do not have.
    let p = socks_proxy(true, 0);
    let px = proxy(&format!("socks5://127.0.0.1:{}", p.port));
    let msg = connect_error(legacy(c.get(&ep, Some(&px))));
    assert!(msg.contains("none of the offered methods"), "{msg}");
    // Nothing listening at the proxy address.
    let dead = TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_port = dead.local_addr().unwrap().port();
    drop(dead);
    let px = proxy(&format!("socks5://127.0.0.1:{dead_port}"));
    connect_error(legacy(c.get(&ep, Some(&px))));
    assert_eq!(o.conns.load(Ordering::SeqCst), 0);
}

#[test]
fn direct_and_proxied_connections_are_not_mixed() {
    let o = origin(None);
    let hp = http_proxy(false);
    let sp = socks_proxy(false, 0);
    let ep = endpoint(&format!("http://127.0.0.1:{}", o.port));
    let http = proxy(&format!("http://127.0.0.1:{}", hp.port));
    let socks = proxy(&format!("socks5://127.0.0.1:{}", sp.port));
    let stats = get_all(
        &[],
        &[(&ep, None), (&ep, Some(&http)), (&ep, Some(&socks))].repeat(2),
    );
    // One direct connection, one per proxy; each reused once.
    assert_eq!(o.conns.load(Ordering::SeqCst), 3);
    assert_eq!(stats, (3, 3));
    assert_eq!(hp.seen.lock().unwrap().len(), 1);
    assert_eq!(sp.seen.lock().unwrap().len(), 1);
}

#[test]
fn same_proxy_other_credentials_get_their_own_connections() {
    let o = origin(None);
    let p = socks_proxy(true, 0);
    let ep = endpoint(&format!("http://127.0.0.1:{}", o.port));
    let a = proxy(&format!("socks5://u:one@127.0.0.1:{}", p.port));
    let b = proxy(&format!("socks5://u:two@127.0.0.1:{}", p.port));
    let stats = get_all(&[], &[(&ep, Some(&a)), (&ep, Some(&b)), (&ep, Some(&a))]);
    assert_eq!(stats, (2, 1));
    let seen = p.seen.lock().unwrap().clone();
    let pws: Vec<_> = seen
        .iter()
        .map(|s| s.user_pass.clone().unwrap().1)
        .collect();
    assert_eq!(pws, ["one", "two"]);
}

#[test]
fn tls_origin_through_http_and_socks5_proxies() {
    let (server, ca) = tls_parts();
    let o = origin(Some(server));
    let hp = http_proxy(false);
    let sp = socks_proxy(false, 0);
    let by_name = endpoint(&format!("https://localhost:{}", o.port));
    let by_ip = endpoint(&format!("https://127.0.0.1:{}", o.port));
    let http = proxy(&format!("http://127.0.0.1:{}", hp.port));
    let socks = proxy(&format!("socks5://127.0.0.1:{}", sp.port));
    let stats = get_all(
        &[ca],
        &[(&by_name, Some(&http)), (&by_ip, Some(&socks))].repeat(2),
    );
    assert_eq!(o.conns.load(Ordering::SeqCst), 2);
    assert_eq!(stats, (2, 2));
    assert_eq!(
        hp.seen.lock().unwrap()[0].line,
        format!("CONNECT localhost:{} HTTP/1.1", o.port)
    );
}

#[test]
fn https_proxy_with_plain_and_tls_upstreams() {
    let (server, ca) = tls_parts();
    // Plain HTTP inside the proxy's TLS session. The upstream name is never
    // resolved here: the proxy does that.
    let p = https_proxy(server.clone(), false);
    let px = proxy(&format!("https://localhost:{}", p.port));
    let ep = Endpoint::parse("http://upstream.example:8080").unwrap();
    let stats = get_all(
        std::slice::from_ref(&ca),
        &[(&ep, Some(&px)), (&ep, Some(&px))],
    );
    assert_eq!(stats, (1, 1));
    assert_eq!(
        p.seen.lock().unwrap()[0].line,
        "CONNECT upstream.example:8080 HTTP/1.1"
    );
    assert_eq!(p.seen.lock().unwrap().len(), 1);
    // TLS to the upstream inside TLS to the proxy.
    let p = https_proxy(server, true);
    let px = proxy(&format!("https://127.0.0.1:{}", p.port));
    let ep = Endpoint::parse("https://localhost:8443/v1").unwrap();
    let stats = get_all(&[ca], &[(&ep, Some(&px)), (&ep, Some(&px))]);
    assert_eq!(stats, (1, 1));
    assert_eq!(
        p.seen.lock().unwrap()[0].line,
        "CONNECT localhost:8443 HTTP/1.1"
    );
    assert_eq!(p.seen.lock().unwrap().len(), 1);
}

#[test]
fn socks5h_with_credentials_under_io_uring() {
    let rt = monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
        .enable_timer()
        .build();
    let Ok(mut rt) = rt else {
        eprintln!("io_uring unavailable here; skipped");
        return;
    };
    let o = origin(None);
    let p = socks_proxy(true, 0);
    let ep = endpoint(&format!("http://localhost:{}", o.port));
    let px = proxy(&format!("socks5h://carol:pw@127.0.0.1:{}", p.port));
    let stats = rt.block_on(async {
        let c = Client::new(&[]);
        assert_eq!(c.get(&ep, Some(&px)).await.unwrap(), BODY);
        assert_eq!(c.get(&ep, Some(&px)).await.unwrap(), BODY);
        c.opened_reused()
    });
    assert_eq!(o.conns.load(Ordering::SeqCst), 1);
    assert_eq!(stats, (1, 1));
    let seen = p.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!((seen[0].atyp, seen[0].addr.as_str()), (3, "localhost"));
}
