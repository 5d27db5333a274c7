//! TLS ClientHello evidence for the fingerprint tests: a parser for the
//! first handshake message a client sends, its JA3 and JA4 fingerprints,
//! the target profiles (Claude Code's and Chrome's hellos, as field lists),
//! and a TCP tap that records the hello and then splices the connection to
//! a real TLS server so the handshake still completes.
//!
//! JA3: Salesforce's definition (`version,ciphers,extensions,groups,point
//! formats`, decimal, GREASE values left out, MD5 of the string).
//! JA4: FoxIO's JA4 (TLS client) definition: `a_b_c` where `a` is protocol,
//! version, SNI, cipher and extension counts and ALPN; `b` the truncated
//! SHA-256 of the sorted cipher list; `c` that of the sorted extension list
//! (SNI and ALPN left out) followed by the signature algorithms in order.
//!
//! Test-only: nothing here is on the request path.
#![allow(dead_code)]

use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// GREASE (RFC 8701): both bytes equal, low nibble 0xa.
pub fn is_grease(v: u16) -> bool {
    (v >> 8) == (v & 0xff) && (v & 0x0f) == 0x0a
}

/// The fields of a ClientHello the fingerprints and the comparison use.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientHello {
    /// The record layer's version (0x0301 for a first hello).
    pub record_version: u16,
    /// `legacy_version` of the hello body (0x0303 for TLS 1.2 and 1.3).
    pub legacy_version: u16,
    /// Length of the legacy session id (32 for middlebox compatibility).
    pub session_id_len: usize,
    /// Cipher suites in order, GREASE included.
    pub ciphers: Vec<u16>,
    /// Compression methods.
    pub compression: Vec<u8>,
    /// Extension types in order, GREASE included.
    pub extensions: Vec<u16>,
    /// `server_name` host.
    pub sni: Option<String>,
    /// `supported_groups`, in order.
    pub groups: Vec<u16>,
    /// `ec_point_formats`.
    pub point_formats: Vec<u8>,
    /// `signature_algorithms`, in order.
    pub sig_algs: Vec<u16>,
    /// ALPN protocols, in order.
    pub alpn: Vec<String>,
    /// `key_share` groups, in order.
    pub key_shares: Vec<u16>,
    /// `supported_versions`, in order.
    pub supported_versions: Vec<u16>,
    /// `psk_key_exchange_modes`.
    pub psk_modes: Vec<u8>,
    /// `compress_certificate` algorithms.
    pub cert_compression: Vec<u16>,
}

/// A cursor over a byte slice with bounds-checked reads.
struct Cur<'a> {
    b: &'a [u8],
    p: usize,
}

impl<'a> Cur<'a> {
    fn new(b: &'a [u8]) -> Self {
        Cur { b, p: 0 }
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.b.len() - self.p < n {
            return Err(format!("truncated at {} (+{n})", self.p));
        }
        let s = &self.b[self.p..self.p + n];
        self.p += n;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, String> {
        let s = self.take(2)?;
        Ok(u16::from_be_bytes([s[0], s[1]]))
    }
    fn vec8(&mut self) -> Result<&'a [u8], String> {
        let n = self.u8()? as usize;
        self.take(n)
    }
    fn vec16(&mut self) -> Result<&'a [u8], String> {
        let n = self.u16()? as usize;
        self.take(n)
    }
    fn done(&self) -> bool {
        self.p == self.b.len()
    }
}

fn u16s(b: &[u8]) -> Result<Vec<u16>, String> {
    if !b.len().is_multiple_of(2) {
        return Err("odd length u16 list".into());
    }
    Ok(b.chunks(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect())
}

/// Collects the handshake bytes of consecutive handshake records in `buf`;
/// `Ok(None)` while the first handshake message is incomplete.
fn handshake_message(buf: &[u8]) -> Result<Option<(u16, Vec<u8>)>, String> {
    let mut hs = Vec::new();
    let mut p = 0;
    let mut record_version = None;
    loop {
        if hs.len() >= 4 {
            let len = u32::from_be_bytes([0, hs[1], hs[2], hs[3]]) as usize;
            if hs.len() >= 4 + len {
                hs.truncate(4 + len);
                return Ok(Some((record_version.unwrap_or(0), hs)));
            }
        }
        if buf.len() < p + 5 {
            return Ok(None);
        }
        if buf[p] != 22 {
            return Err(format!("record type {} is not handshake", buf[p]));
        }
        let v = u16::from_be_bytes([buf[p + 1], buf[p + 2]]);
        record_version.get_or_insert(v);
        let len = u16::from_be_bytes([buf[p + 3], buf[p + 4]]) as usize;
        if len == 0 || len > 16384 + 2048 {
            return Err(format!("bad record length {len}"));
        }
        if buf.len() < p + 5 + len {
            return Ok(None);
        }
        hs.extend_from_slice(&buf[p + 5..p + 5 + len]);
        p += 5 + len;
    }
}

impl ClientHello {
    /// Parses the first ClientHello in `buf` (TLS records as sent on the
    /// wire); `Ok(None)` while more bytes are needed.
    pub fn parse(buf: &[u8]) -> Result<Option<ClientHello>, String> {
        let Some((record_version, hs)) = handshake_message(buf)? else {
            return Ok(None);
        };
        if hs[0] != 1 {
            return Err(format!("handshake type {} is not client_hello", hs[0]));
        }
        let mut c = Cur::new(&hs[4..]);
        let mut h = ClientHello {
            record_version,
            legacy_version: c.u16()?,
            ..Default::default()
        };
        c.take(32)?;
        h.session_id_len = c.vec8()?.len();
        h.ciphers = u16s(c.vec16()?)?;
        h.compression = c.vec8()?.to_vec();
        if c.done() {
            return Ok(Some(h));
        }
        let mut ex = Cur::new(c.vec16()?);
        while !ex.done() {
            let ty = ex.u16()?;
            let body = ex.vec16()?;
            h.extensions.push(ty);
            let mut b = Cur::new(body);
            match ty {
                0 => {
                    let mut list = Cur::new(b.vec16()?);
                    while !list.done() {
                        let kind = list.u8()?;
                        let name = list.vec16()?;
                        if kind == 0 {
                            h.sni = Some(String::from_utf8_lossy(name).into_owned());
                        }
                    }
                }
                10 => h.groups = u16s(b.vec16()?)?,
                11 => h.point_formats = b.vec8()?.to_vec(),
                13 => h.sig_algs = u16s(b.vec16()?)?,
                16 => {
                    let mut list = Cur::new(b.vec16()?);
                    while !list.done() {
                        h.alpn
                            .push(String::from_utf8_lossy(list.vec8()?).into_owned());
                    }
                }
                27 => h.cert_compression = u16s(b.vec8()?)?,
                43 => h.supported_versions = u16s(b.vec8()?)?,
                45 => h.psk_modes = b.vec8()?.to_vec(),
                51 => {
                    let mut list = Cur::new(b.vec16()?);
                    while !list.done() {
                        h.key_shares.push(list.u16()?);
                        list.vec16()?;
                    }
                }
                _ => {}
            }
        }
        Ok(Some(h))
    }

    /// The JA3 string.
    pub fn ja3_string(&self) -> String {
        fn join<T: std::fmt::Display>(v: impl Iterator<Item = T>) -> String {
            v.map(|x| x.to_string()).collect::<Vec<_>>().join("-")
        }
        let ng = |v: &[u16]| join(v.iter().copied().filter(|&x| !is_grease(x)));
        format!(
            "{},{},{},{},{}",
            self.legacy_version,
            ng(&self.ciphers),
            ng(&self.extensions),
            ng(&self.groups),
            join(self.point_formats.iter())
        )
    }

    /// The JA3 fingerprint: MD5 of [`ClientHello::ja3_string`], lowercase hex.
    pub fn ja3(&self) -> String {
        hex(&md5::Md5::digest(self.ja3_string().as_bytes()))
    }

    /// JA4's `a` part, e.g. `t13d1714h1`.
    pub fn ja4_a(&self) -> String {
        let top = self
            .supported_versions
            .iter()
            .copied()
            .filter(|&v| !is_grease(v))
            .max()
            .unwrap_or(self.legacy_version);
        let version = match top {
            0x0304 => "13",
            0x0303 => "12",
            0x0302 => "11",
            0x0301 => "10",
            0x0300 => "s3",
            0x0002 => "s2",
            0xfeff => "d1",
            0xfefd => "d2",
            0xfefc => "d3",
            _ => "00",
        };
        let sni = if self.extensions.contains(&0) {
            'd'
        } else {
            'i'
        };
        let n_ciphers = self.ciphers.iter().filter(|&&c| !is_grease(c)).count();
        let n_ext = self.extensions.iter().filter(|&&e| !is_grease(e)).count();
        let alpn = match self.alpn.first().map(|s| s.as_bytes()) {
            None | Some([]) => "00".to_string(),
            Some(a) => {
                let (f, l) = (a[0], a[a.len() - 1]);
                if f.is_ascii_alphanumeric() && l.is_ascii_alphanumeric() {
                    format!("{}{}", f as char, l as char)
                } else {
                    let h = hex(a);
                    let hb = h.as_bytes();
                    format!("{}{}", hb[0] as char, hb[hb.len() - 1] as char)
                }
            }
        };
        format!(
            "t{version}{sni}{:02}{:02}{alpn}",
            n_ciphers.min(99),
            n_ext.min(99)
        )
    }

    /// JA4's `b` and `c` inputs (before hashing), for diagnostics.
    pub fn ja4_raw(&self) -> (String, String) {
        let mut ciphers: Vec<String> = self
            .ciphers
            .iter()
            .filter(|&&c| !is_grease(c))
            .map(|c| format!("{c:04x}"))
            .collect();
        ciphers.sort();
        let mut ext: Vec<String> = self
            .extensions
            .iter()
            .filter(|&&e| !is_grease(e) && e != 0 && e != 16)
            .map(|e| format!("{e:04x}"))
            .collect();
        ext.sort();
        let mut c = ext.join(",");
        if !self.sig_algs.is_empty() {
            c.push('_');
            c.push_str(
                &self
                    .sig_algs
                    .iter()
                    .map(|s| format!("{s:04x}"))
                    .collect::<Vec<_>>()
                    .join(","),
            );
        }
        (ciphers.join(","), c)
    }

    /// The JA4 fingerprint `a_b_c`.
    pub fn ja4(&self) -> String {
        let (b, c) = self.ja4_raw();
        let h = |s: &str, empty: bool| {
            if empty {
                "000000000000".to_string()
            } else {
                hex(&Sha256::digest(s.as_bytes()))[..12].to_string()
            }
        };
        let no_ext = !self
            .extensions
            .iter()
            .any(|&e| !is_grease(e) && e != 0 && e != 16);
        format!("{}_{}_{}", self.ja4_a(), h(&b, b.is_empty()), h(&c, no_ext))
    }

    /// The fields that differ between `self` and `other`, one line each
    /// (GREASE values normalised, so two GREASE'd hellos compare equal).
    pub fn diff(&self, other: &ClientHello) -> Vec<String> {
        fn norm(v: &[u16]) -> Vec<u16> {
            v.iter()
                .map(|&x| if is_grease(x) { 0x0a0a } else { x })
                .collect()
        }
        let mut out = Vec::new();
        let mut cmp = |name: &str, a: String, b: String| {
            if a != b {
                out.push(format!("{name}: {a} vs {b}"));
            }
        };
        cmp(
            "ciphers",
            hexlist(&norm(&self.ciphers)),
            hexlist(&norm(&other.ciphers)),
        );
        cmp(
            "extensions",
            hexlist(&norm(&self.extensions)),
            hexlist(&norm(&other.extensions)),
        );
        cmp(
            "groups",
            hexlist(&norm(&self.groups)),
            hexlist(&norm(&other.groups)),
        );
        cmp(
            "sig_algs",
            hexlist(&self.sig_algs),
            hexlist(&other.sig_algs),
        );
        cmp(
            "key_shares",
            hexlist(&norm(&self.key_shares)),
            hexlist(&norm(&other.key_shares)),
        );
        cmp(
            "supported_versions",
            hexlist(&norm(&self.supported_versions)),
            hexlist(&norm(&other.supported_versions)),
        );
        cmp(
            "point_formats",
            format!("{:?}", self.point_formats),
            format!("{:?}", other.point_formats),
        );
        cmp(
            "alpn",
            format!("{:?}", self.alpn),
            format!("{:?}", other.alpn),
        );
        cmp(
            "psk_modes",
            format!("{:?}", self.psk_modes),
            format!("{:?}", other.psk_modes),
        );
        cmp(
            "cert_compression",
            hexlist(&self.cert_compression),
            hexlist(&other.cert_compression),
        );
        out
    }

    /// A multi-line summary of the fields (for docs and failure messages).
    pub fn describe(&self) -> String {
        format!(
            "ciphers {}\nextensions {}\ngroups {}\npoint_formats {:?}\nsig_algs {}\nalpn {:?}\nkey_shares {}\nsupported_versions {}\npsk_modes {:?}\ncert_compression {}\nJA3 {} = {}\nJA4 {} (b: {} | c: {})",
            hexlist(&self.ciphers),
            hexlist(&self.extensions),
            hexlist(&self.groups),
            self.point_formats,
            hexlist(&self.sig_algs),
            self.alpn,
            hexlist(&self.key_shares),
            hexlist(&self.supported_versions),
            self.psk_modes,
            hexlist(&self.cert_compression),
            self.ja3_string(),
            self.ja3(),
            self.ja4(),
            self.ja4_raw().0,
            self.ja4_raw().1,
        )
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn hexlist(v: &[u16]) -> String {
    v.iter()
        .map(|x| format!("{x:04x}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// GREASE placeholder used in the target field lists.
const G: u16 = 0x0a0a;

/// Claude Code's ClientHello to `api.anthropic.com` (Node.js 24 / undici,
/// HTTP/1.1), as CLIProxyAPI's `nodeClientHelloSpec` replicates it
/// (`internal/runtime/executor/helps/utls_profiles.go`, "captured from a real
/// Claude Code client"; its comment gives JA3 44f88fca027f27bab4bb08d4af15f23e
/// and JA4 t13d1714h1_5b57614c22b0_7baf387fc6ff).
pub fn target_claude_code() -> ClientHello {
    ClientHello {
        record_version: 0x0301,
        legacy_version: 0x0303,
        session_id_len: 32,
        ciphers: vec![
            0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc009, 0xc013,
            0xc00a, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
        ],
        compression: vec![0],
        extensions: vec![0, 0xfe0d, 23, 0xff01, 10, 11, 35, 16, 5, 13, 18, 51, 45, 43],
        sni: Some("api.anthropic.com".into()),
        groups: vec![0x001d, 0x0017, 0x0018],
        point_formats: vec![0],
        sig_algs: vec![
            0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601, 0x0201,
        ],
        alpn: vec!["http/1.1".into()],
        key_shares: vec![0x001d],
        supported_versions: vec![0x0304, 0x0303],
        psk_modes: vec![1],
        cert_compression: vec![],
    }
}

/// Chrome 133's ClientHello as uTLS's `HelloChrome_133` (= `HelloChrome_Auto`
/// in utls v1.8, the profile CLIProxyAPI uses for `chatgpt.com`) builds it,
/// before Chrome's per-connection extension shuffle (JA4 sorts, so the
/// shuffle does not change it; JA3 changes with every connection).
pub fn target_chrome() -> ClientHello {
    ClientHello {
        record_version: 0x0301,
        legacy_version: 0x0303,
        session_id_len: 32,
        ciphers: vec![
            G, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013,
            0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
        ],
        compression: vec![0],
        extensions: vec![
            G, 0, 23, 0xff01, 10, 11, 35, 16, 5, 13, 18, 51, 45, 43, 27, 17613, 0xfe0d, G,
        ],
        sni: Some("chatgpt.com".into()),
        groups: vec![G, 0x11ec, 0x001d, 0x0017, 0x0018],
        point_formats: vec![0],
        sig_algs: vec![
            0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
        ],
        alpn: vec!["h2".into(), "http/1.1".into()],
        key_shares: vec![G, 0x11ec, 0x001d],
        supported_versions: vec![G, 0x0304, 0x0303],
        psk_modes: vec![1],
        cert_compression: vec![2],
    }
}

/// A TCP listener on 127.0.0.1:0 that records the ClientHello of every
/// connection, then (with a `forward` address) splices the connection,
/// hello included, to that server so the handshake and the request go on.
pub struct HelloTap {
    pub addr: SocketAddr,
    rx: Mutex<mpsc::Receiver<Result<ClientHello, String>>>,
    raw: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl HelloTap {
    pub fn start(forward: Option<SocketAddr>) -> HelloTap {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind tap");
        let addr = listener.local_addr().expect("tap addr");
        let (tx, rx) = mpsc::channel();
        let raw = Arc::new(Mutex::new(Vec::new()));
        let raw2 = raw.clone();
        std::thread::spawn(move || {
            for s in listener.incoming() {
                let Ok(mut s) = s else { continue };
                let tx = tx.clone();
                let raw = raw2.clone();
                std::thread::spawn(move || {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    let hello = loop {
                        match ClientHello::parse(&buf) {
                            Ok(Some(h)) => break Ok(h),
                            Ok(None) => {}
                            Err(e) => break Err(e),
                        }
                        match s.read(&mut chunk) {
                            Ok(0) | Err(_) => break Err("closed before the hello".into()),
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    };
                    raw.lock().unwrap().push(buf.clone());
                    let ok = hello.is_ok();
                    let _ = tx.send(hello);
                    let Some(to) = forward.filter(|_| ok) else {
                        return;
                    };
                    let Ok(mut up) = TcpStream::connect(to) else {
                        return;
                    };
                    if up.write_all(&buf).is_err() {
                        return;
                    }
                    splice(s, up);
                });
            }
        });
        HelloTap {
            addr,
            rx: Mutex::new(rx),
            raw,
        }
    }

    /// `CLIPROXY_CONNECT_TO` value pointing `hosts` (port 443) at the tap.
    pub fn connect_to(&self, hosts: &[&str]) -> String {
        hosts
            .iter()
            .map(|h| format!("{h}:443={}", self.addr))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The next recorded hello (waits up to `timeout`).
    pub fn next(&self, timeout: Duration) -> Result<ClientHello, String> {
        self.rx
            .lock()
            .unwrap()
            .recv_timeout(timeout)
            .map_err(|e| format!("no hello: {e}"))?
    }

    /// The raw bytes each connection sent up to the end of its hello.
    pub fn raw(&self) -> Vec<Vec<u8>> {
        self.raw.lock().unwrap().clone()
    }
}

/// Copies bytes both ways until either side closes.
fn splice(a: TcpStream, b: TcpStream) {
    let (Ok(mut a2), Ok(mut b2)) = (a.try_clone(), b.try_clone()) else {
        return;
    };
    let (mut a, mut b) = (a, b);
    let t = std::thread::spawn(move || {
        let _ = std::io::copy(&mut a2, &mut b2);
        let _ = b2.shutdown(Shutdown::Write);
    });
    let _ = std::io::copy(&mut b, &mut a);
    let _ = a.shutdown(Shutdown::Write);
    let _ = t.join();
}
