//! TLS client streams on monoio's owned-buffer I/O, driven by rustls.
//!
//! rustls does no I/O itself: ciphertext moves between its buffers and the
//! socket here, with the socket's owned buffers reused across reads.

use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::TcpStream;
use rustls::pki_types::ServerName;
use rustls::ClientConnection;
use std::future::Future;
use std::io::{self, Read, Write};
use std::sync::Arc;

/// Size of one socket read: one maximal TLS record plus header.
const TLS_READ: usize = 17 * 1024;

/// The byte stream a TLS session runs over: TCP, or (for an `https://` proxy
/// tunnel) another TLS session. Buffers are owned and handed back.
pub trait Transport {
    /// Replaces `buf`'s contents with the next bytes read; `Ok(0)` at end of stream.
    fn read_raw(&mut self, buf: Vec<u8>) -> impl Future<Output = (io::Result<usize>, Vec<u8>)>;
    /// Writes all of `buf`.
    fn write_raw(&mut self, buf: Vec<u8>) -> impl Future<Output = (io::Result<()>, Vec<u8>)>;
}

impl Transport for TcpStream {
    async fn read_raw(&mut self, mut buf: Vec<u8>) -> (io::Result<usize>, Vec<u8>) {
        buf.clear();
        self.read(buf).await
    }

    async fn write_raw(&mut self, buf: Vec<u8>) -> (io::Result<()>, Vec<u8>) {
        let (r, b) = self.write_all(buf).await;
        (r.map(|_| ()), b)
    }
}

impl Transport for TlsStream<TcpStream> {
    async fn read_raw(&mut self, mut buf: Vec<u8>) -> (io::Result<usize>, Vec<u8>) {
        buf.clear();
        let r = self.read_into(&mut buf).await;
        (r, buf)
    }

    async fn write_raw(&mut self, buf: Vec<u8>) -> (io::Result<()>, Vec<u8>) {
        let r = self.write_all(&buf).await;
        (r, buf)
    }
}

/// A TLS client connection over TCP (or over a proxy's TLS session).
pub struct TlsStream<T = TcpStream> {
    tcp: T,
    conn: ClientConnection,
    /// Ciphertext read from the socket; `rpos..` not yet given to rustls.
    rbuf: Vec<u8>,
    rpos: usize,
    wbuf: Vec<u8>,
}

fn tls_err(e: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

impl<T: Transport> TlsStream<T> {
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
        let mut conn = ClientConnection::new(config, name).map_err(tls_err)?;
        conn.set_buffer_limit(None);
        let mut rbuf = early;
        rbuf.reserve(TLS_READ);
        let mut s = TlsStream {
            tcp,
            conn,
            rbuf,
            rpos: 0,
            wbuf: Vec::with_capacity(TLS_READ),
        };
        while s.conn.is_handshaking() {
            s.flush().await?;
            if s.conn.wants_read() {
                s.feed_pending()?;
                if s.rpos >= s.rbuf.len() && s.conn.is_handshaking() && s.read_socket().await? == 0
                {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "TLS handshake: connection closed",
                    ));
                }
                s.feed_pending()?;
            }
        }
        s.flush().await?;
        Ok(s)
    }

    /// Writes pending TLS records to the socket.
    async fn flush(&mut self) -> io::Result<()> {
        while self.conn.wants_write() {
            self.wbuf.clear();
            self.conn.write_tls(&mut self.wbuf)?;
            let buf = std::mem::take(&mut self.wbuf);
            let (r, buf) = self.tcp.write_raw(buf).await;
            self.wbuf = buf;
            r?;
        }
        Ok(())
    }

    async fn read_socket(&mut self) -> io::Result<usize> {
        let mut buf = std::mem::take(&mut self.rbuf);
        buf.clear();
        self.rpos = 0;
        if buf.capacity() < TLS_READ {
            buf.reserve(TLS_READ);
        }
        let (r, b) = self.tcp.read_raw(buf).await;
        self.rbuf = b;
        r
    }

    /// Hands buffered ciphertext to rustls until it is consumed or rustls is full.
    fn feed_pending(&mut self) -> io::Result<()> {
        while self.rpos < self.rbuf.len() {
            let mut sl = &self.rbuf[self.rpos..];
            match self.conn.read_tls(&mut sl) {
                Ok(0) => break,
                Ok(n) => self.rpos += n,
                // rustls refuses more while its plaintext buffer is full: drain first.
                Err(e) if e.kind() == io::ErrorKind::Other => break,
                Err(e) => return Err(e),
            }
            self.conn.process_new_packets().map_err(tls_err)?;
        }
        Ok(())
    }

    /// Moves buffered plaintext into `out`. `Some(0)` is a clean end of
    /// stream, `None` means rustls needs more ciphertext. Kept out of the async
    /// fn so its stack buffer is not part of every enclosing future.
    fn take_plaintext(&mut self, out: &mut Vec<u8>) -> io::Result<Option<usize>> {
        self.feed_pending()?;
        let mut tmp = [0u8; 16 * 1024];
        match self.conn.reader().read(&mut tmp) {
            Ok(n) => {
                out.extend_from_slice(&tmp[..n]);
                Ok(Some(n))
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            // Peer closed without close_notify: treat as end of stream; body
            // framing decides whether that was a clean end.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(Some(0)),
            Err(e) => Err(e),
        }
    }

    /// Reads decrypted bytes, appending them to `out`. `Ok(0)` is end of stream.
    pub async fn read_into(&mut self, out: &mut Vec<u8>) -> io::Result<usize> {
        loop {
            if let Some(n) = self.take_plaintext(out)? {
                return Ok(n);
            }
            self.flush().await?;
            if self.rpos >= self.rbuf.len() && self.read_socket().await? == 0 {
                return Ok(0);
            }
        }
    }

    /// Encrypts and sends all of `data`.
    pub async fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        self.conn.writer().write_all(data)?;
        self.flush().await
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
        }
    }
}
