//! The HTTPS listener (`tls: {enable, cert, key}`): certificate loading,
//! the per-connection handshake, and the client byte stream (plain, TLS, or
//! one HTTP/2 stream's response) a [`super::Conn`] writes to.
//!
//! Layering: `accept_loop` -> [`serve_accepted`] (handshake on the worker,
//! bounded by the head timeout) -> the negotiated [`Protocol`] picks the
//! connection handler -> `serve` (HTTP/1.1) over a [`ClientStream`], or
//! [`super::h2::serve`] over the shared h2 adapter. On the plain listener
//! with `http2-cleartext` on, the first bytes pick h2c or HTTP/1.1. The TLS session
//! itself is [`crate::tls::TlsStream`], the same code the upstream client uses.

use super::h2::{H2Response, Sniffed};
use super::{Handler, Host};
use crate::config::TlsFiles;
use crate::h2io::{H2Io, Plain};
use crate::tls::TlsStream;
use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::TcpStream;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConnection;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

/// ALPN protocols offered, in preference order (as CLIProxyAPI's TLS
/// listener: HTTP/2 first).
const ALPN: &[&[u8]] = &[b"h2", b"http/1.1"];

/// The application protocol a connection speaks after the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// HTTP/1.1 (ALPN `http/1.1`, or no ALPN at all).
    Http1,
    /// HTTP/2 (ALPN `h2`).
    Http2,
}

impl Protocol {
    /// Maps the ALPN outcome (`None`: the client offered none).
    pub fn from_alpn(alpn: Option<&[u8]>) -> Option<Protocol> {
        match alpn {
            None | Some(b"http/1.1") => Some(Protocol::Http1),
            Some(b"h2") => Some(Protocol::Http2),
            Some(_) => None,
        }
    }
}

fn read_file(key: &str, path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{key}: cannot read {}: {e}", path.display()))
}

/// Loads `tls.cert` and `tls.key` into a server configuration. Errors name
/// the config key and the file: unreadable files, no certificate in the
/// PEM, no private key, or a key that does not belong to the certificate.
pub fn load(files: &TlsFiles) -> Result<Arc<rustls::ServerConfig>, String> {
    let (cert_path, key_path) = (&files.cert, &files.key);
    let cert_pem = read_file("tls.cert", cert_path)?;
    let key_pem = read_file("tls.key", key_path)?;
    let certs = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("tls.cert: {}: invalid PEM: {e}", cert_path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "tls.cert: {}: no CERTIFICATE found in the PEM file",
            cert_path.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        format!(
            "tls.key: {}: no usable private key in the PEM file ({e})",
            key_path.display()
        )
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("tls: {e}"))?
        .with_no_client_auth();
    let mut cfg = builder.with_single_cert(certs, key).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => format!(
            "tls.key: {} does not match the certificate in tls.cert: {}",
            key_path.display(),
            cert_path.display()
        ),
        e => format!(
            "tls.key: {} with tls.cert: {}: {e}",
            key_path.display(),
            cert_path.display()
        ),
    })?;
    cfg.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(cfg))
}

/// Runs the server handshake on `tcp`; returns the session and the
/// negotiated protocol.
pub async fn handshake(
    tcp: TcpStream,
    config: Arc<rustls::ServerConfig>,
) -> io::Result<(Box<TlsStream<TcpStream, ServerConnection>>, Protocol)> {
    let conn = ServerConnection::new(config).map_err(crate::tls::tls_err)?;
    let mut s = Box::new(TlsStream::new(tcp, conn, Vec::new()));
    s.handshake().await?;
    let proto = Protocol::from_alpn(s.session().alpn_protocol())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unsupported ALPN protocol"))?;
    Ok((s, proto))
}

/// Serves one accepted connection: plain when `tls` is `None`, else after a
/// handshake bounded by the head timeout (a silent client cannot hold the
/// slot) and by shutdown. A failed handshake closes only this connection.
pub async fn serve_accepted<H: Host, A: Handler<H>>(
    w: &Rc<H>,
    tcp: TcpStream,
    peer: SocketAddr,
    tls: Option<Arc<rustls::ServerConfig>>,
) {
    let Some(cfg) = tls else {
        return serve_plain::<H, A>(w, tcp, peer).await;
    };
    let shutdown = w.shutdown().clone();
    let done = monoio::select! {
        r = monoio::time::timeout(w.timeouts().head, handshake(tcp, cfg)) => Some(r),
        _ = shutdown.wait() => None,
    };
    match done {
        Some(Ok(Ok((s, Protocol::Http1)))) => {
            super::serve::<H, A>(w, ClientStream::Tls(s), peer).await;
        }
        Some(Ok(Ok((s, Protocol::Http2)))) => {
            let (tcp, session, early) = s.into_parts();
            super::h2::serve::<H, A, _>(w, H2Io::new(tcp, session, early), peer).await;
        }
        Some(Ok(Err(e))) => crate::log_debug!("TLS handshake with {peer} failed: {e}"),
        Some(Err(_)) => crate::log_debug!("TLS handshake with {peer} timed out"),
        None => {}
    }
}

/// A plain connection: HTTP/1.1, or h2c with prior knowledge when
/// `http2-cleartext` is on (then the first bytes decide).
async fn serve_plain<H: Host, A: Handler<H>>(w: &Rc<H>, mut tcp: TcpStream, peer: SocketAddr) {
    if !w.http2_cleartext() {
        return super::serve::<H, A>(w, ClientStream::Plain(tcp), peer).await;
    }
    match super::h2::sniff(&**w, &mut tcp).await {
        Sniffed::H2(early) => {
            super::h2::serve::<H, A, _>(w, H2Io::new(tcp, Plain, early), peer).await;
        }
        Sniffed::H1(early) => {
            super::serve_with::<H, A>(w, ClientStream::Plain(tcp), peer, early).await;
        }
        Sniffed::Gone => {}
    }
}

/// A client connection's byte stream.
pub enum ClientStream {
    /// Plain HTTP.
    Plain(TcpStream),
    /// HTTPS.
    Tls(Box<TlsStream<TcpStream, ServerConnection>>),
    /// One HTTP/2 stream: the HTTP/1.1 response bytes written to it go out
    /// as HEADERS and DATA frames ([`super::h2`]).
    H2(Box<H2Response>),
}

impl From<Box<H2Response>> for ClientStream {
    fn from(h: Box<H2Response>) -> ClientStream {
        ClientStream::H2(h)
    }
}

impl ClientStream {
    /// Reads more bytes, appending to `buf`; `Ok(0)` is end of stream.
    pub async fn read_more(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(16 * 1024);
        }
        match self {
            ClientStream::Plain(tcp) => {
                let v = std::mem::take(buf);
                let (len, cap) = (v.len(), v.capacity());
                let (r, v) = tcp.read(v.slice_mut(len..cap)).await;
                *buf = v.into_inner();
                r
            }
            ClientStream::Tls(t) => t.read_into(buf).await,
            // The stream's request was read whole before the handler ran.
            ClientStream::H2(_) => Ok(0),
        }
    }

    /// Writes all of `v`; the buffer is handed back for reuse.
    pub async fn write_all(&mut self, v: Vec<u8>) -> (io::Result<()>, Vec<u8>) {
        match self {
            ClientStream::Plain(tcp) => {
                let (r, v) = tcp.write_all(v).await;
                (r.map(|_| ()), v)
            }
            ClientStream::Tls(t) => {
                let r = t.write_all(&v).await;
                (r, v)
            }
            ClientStream::H2(h) => {
                let r = h.write(&v).await;
                (r, v)
            }
        }
    }

    /// Resolves when the client has closed its side (EOF, error, or a TLS
    /// close_notify). Pipelined bytes are kept for the next read (peeked on
    /// a plain socket, decrypted and buffered under TLS); if any arrive this
    /// never resolves, so the request in progress runs to its end.
    pub async fn client_gone(&mut self) {
        match self {
            ClientStream::Plain(tcp) => plain_gone(tcp).await,
            ClientStream::Tls(t) => t.peer_gone().await,
            ClientStream::H2(h) => h.reset().await,
        }
    }
}

impl Drop for ClientStream {
    /// A TLS connection ends with close_notify whoever closes it (idle or
    /// head timeout, `Connection: close`, shutdown, errors).
    fn drop(&mut self) {
        if let ClientStream::Tls(t) = self {
            t.close_notify_now();
        }
    }
}

async fn plain_gone(tcp: &TcpStream) {
    loop {
        if tcp.readable(false).await.is_err() {
            return;
        }
        let mut b = [0u8; 1];
        // SAFETY: recv on our own open socket into a 1-byte stack buffer;
        // MSG_PEEK leaves data queued, MSG_DONTWAIT never blocks the worker.
        let n = unsafe {
            libc::recv(
                tcp.as_raw_fd(),
                b.as_mut_ptr().cast(),
                1,
                libc::MSG_PEEK | libc::MSG_DONTWAIT,
            )
        };
        if n == 0 {
            return;
        }
        if n > 0 {
            std::future::pending::<()>().await;
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::WouldBlock && err.kind() != io::ErrorKind::Interrupted {
            return;
        }
        // Spurious readiness: wait again.
        monoio::time::sleep(Duration::from_millis(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn dir() -> PathBuf {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let d = std::env::temp_dir().join(format!(
            "cliproxy-tls-unit-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// A self-signed `localhost` certificate and its key, as PEM.
    fn pair() -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        (params.self_signed(&key).unwrap().pem(), key.serialize_pem())
    }

    fn files(d: &Path, cert: &str, key: &str) -> TlsFiles {
        std::fs::write(d.join("cert.pem"), cert).unwrap();
        std::fs::write(d.join("key.pem"), key).unwrap();
        TlsFiles {
            cert: d.join("cert.pem"),
            key: d.join("key.pem"),
        }
    }

    #[test]
    fn loads_a_matching_pair_offering_h2_then_http1() {
        let d = dir();
        let (cert, key) = pair();
        let cfg = load(&files(&d, &cert, &key)).unwrap();
        assert_eq!(
            cfg.alpn_protocols,
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        );
    }

    #[test]
    fn load_errors_name_the_key_and_the_file() {
        let d = dir();
        let (cert, key) = pair();
        let (_, other_key) = pair();
        let f = files(&d, &cert, &key);
        let missing = TlsFiles {
            cert: d.join("nope.pem"),
            key: f.key.clone(),
        };
        let e = load(&missing).unwrap_err();
        assert!(e.starts_with("tls.cert: ") && e.contains("nope.pem"), "{e}");
        let missing = TlsFiles {
            cert: f.cert.clone(),
            key: d.join("nokey.pem"),
        };
        let e = load(&missing).unwrap_err();
        assert!(e.starts_with("tls.key: ") && e.contains("nokey.pem"), "{e}");

        let f = files(&d, &cert, &other_key);
        let e = load(&f).unwrap_err();
        assert!(e.contains("does not match"), "{e}");
        assert!(
            e.contains("tls.key") && e.contains(&*f.key.to_string_lossy()),
            "{e}"
        );
        assert!(
            e.contains("tls.cert") && e.contains(&*f.cert.to_string_lossy()),
            "{e}"
        );

        // A key where the certificate should be: no CERTIFICATE block.
        let f = files(&d, &key, &key);
        let e = load(&f).unwrap_err();
        assert!(
            e.starts_with("tls.cert: ") && e.contains("no CERTIFICATE"),
            "{e}"
        );
        // A certificate where the key should be.
        let f = files(&d, &cert, &cert);
        let e = load(&f).unwrap_err();
        assert!(e.starts_with("tls.key: ") && e.contains("key.pem"), "{e}");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn alpn_picks_the_handler() {
        assert_eq!(Protocol::from_alpn(None), Some(Protocol::Http1));
        assert_eq!(
            Protocol::from_alpn(Some(b"http/1.1")),
            Some(Protocol::Http1)
        );
        assert_eq!(Protocol::from_alpn(Some(b"h2")), Some(Protocol::Http2));
        assert_eq!(Protocol::from_alpn(Some(b"h3")), None);
    }
}
