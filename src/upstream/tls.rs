//! TLS client streams to upstreams and proxies. The session machinery
//! (rustls over monoio's owned-buffer I/O) is shared with the HTTPS listener
//! and lives in [`crate::tls`].

use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::TcpStream;
use rustls::pki_types::ServerName;
use rustls::ClientConnection;
use std::io;
use std::sync::Arc;

pub use crate::tls::{TlsStream, Transport};

impl<T: Transport> TlsStream<T, ClientConnection> {
    /// Runs the handshake for `host` (SNI and certificate name) over `tcp`.
    pub async fn connect(
        tcp: T,
        host: &str,
        config: Arc<rustls::ClientConfig>,
    ) -> io::Result<TlsStream<T>> {
        Self::connect_with(tcp, Vec::new(), host, config).await
    }

    /// As [`TlsStream::connect`], with `early` bytes already read from
    /// `tcp` (e.g. received behind a proxy's reply) handed to rustls first.
    pub async fn connect_with(
        tcp: T,
        early: Vec<u8>,
        host: &str,
        config: Arc<rustls::ClientConfig>,
    ) -> io::Result<TlsStream<T>> {
        let name = ServerName::try_from(host.to_string())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "invalid TLS server name"))?;
        let conn = ClientConnection::new(config, name).map_err(crate::tls::tls_err)?;
        let mut s = TlsStream::new(tcp, conn, early);
        s.handshake().await?;
        Ok(s)
    }
}
/// A plain or TLS upstream connection.
pub enum Stream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<TlsStream>),
    /// TLS to the upstream inside a TLS session with an `https://` proxy.
    TlsInTls(Box<TlsStream<TlsStream>>),
    /// TLS with a host's ClientHello profile (BoringSSL, `fingerprint`).
    Fp(Box<super::fingerprint::FpStream>),
}

impl Stream {
    /// Reads what is available, appending to `out`; `Ok(0)` at end of stream.
    pub async fn read_into(&mut self, out: &mut Vec<u8>) -> io::Result<usize> {
        match self {
            Stream::Plain(tcp) => {
                if out.capacity() - out.len() < 8 * 1024 {
                    out.reserve(16 * 1024);
                }
                let v = std::mem::take(out);
                let len = v.len();
                let cap = v.capacity();
                let (r, v) = tcp.read(v.slice_mut(len..cap)).await;
                *out = v.into_inner();
                r
            }
            Stream::Tls(t) => t.read_into(out).await,
            Stream::TlsInTls(t) => t.read_into(out).await,
            Stream::Fp(t) => t.read_into(out).await,
        }
    }

    /// Writes all of `data`; the buffer is handed back for reuse.
    pub async fn write_all(&mut self, data: Vec<u8>) -> (io::Result<()>, Vec<u8>) {
        match self {
            Stream::Plain(tcp) => {
                let (r, b) = tcp.write_all(data).await;
                (r.map(|_| ()), b)
            }
            Stream::Tls(t) => {
                let r = t.write_all(&data).await;
                (r, data)
            }
            Stream::TlsInTls(t) => {
                let r = t.write_all(&data).await;
                (r, data)
            }
            Stream::Fp(t) => {
                let r = t.write_all(&data).await;
                (r, data)
            }
        }
    }
}
