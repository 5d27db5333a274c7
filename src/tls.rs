//! TLS sessions on monoio's owned-buffer I/O, driven by rustls; shared by the
//! upstream client (`upstream::tls`) and the HTTPS listener (`server::tls`).
//!
//! rustls does no I/O itself: ciphertext moves between its buffers and the
//! transport here, with the transport's owned buffers reused across reads.
//!
//! Cancellation: on io_uring a read dropped in flight loses the bytes it
//! received. The only owned buffer handed to the kernel is the ciphertext
//! buffer, and only once everything in it was given to rustls; so a dropped
//! read loses at most that one socket read. Callers that drop a read (head
//! timeout, shutdown) close the connection afterwards. The disconnect watch
//! ([`TlsStream::peer_gone`]) never hands a buffer to the kernel: it reads
//! synchronously with `MSG_DONTWAIT`, so it can be dropped at any point.

use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::TcpStream;
use rustls::ConnectionCommon;
use std::future::Future;
use std::io::{self, BufRead, Write};
use std::ops::DerefMut;
use std::os::fd::AsRawFd;
use std::time::Duration;

/// Size of one socket read: one maximal TLS record plus header.
pub const TLS_READ: usize = 17 * 1024;

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

impl<S: Session> Transport for TlsStream<TcpStream, S> {
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

/// A rustls connection of either side (`ClientConnection`, `ServerConnection`).
pub trait Session: DerefMut<Target = ConnectionCommon<Self::Data>> {
    /// rustls' per-side state.
    type Data;
}

impl Session for rustls::ClientConnection {
    type Data = rustls::client::ClientConnectionData;
}

impl Session for rustls::ServerConnection {
    type Data = rustls::server::ServerConnectionData;
}

/// A TLS session over a transport (TCP, or a proxy's TLS session).
pub struct TlsStream<T = TcpStream, S = rustls::ClientConnection> {
    tcp: T,
    conn: S,
    /// Ciphertext read from the transport; `rpos..` not yet given to rustls.
    rbuf: Vec<u8>,
    rpos: usize,
    wbuf: Vec<u8>,
}

/// A rustls error as an I/O error.
pub fn tls_err(e: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// What [`TlsStream::peek_state`] found after giving rustls what was read.
enum PeerState {
    /// Plaintext is buffered (a pipelined request).
    Data,
    /// close_notify received, or the session failed.
    Gone,
    /// Nothing decisive yet.
    Quiet,
}

impl<T: Transport, S: Session> TlsStream<T, S> {
    /// Wraps a fresh rustls session; `early` holds ciphertext already read
    /// from `tcp` (e.g. received behind a proxy's reply). No I/O yet: call
    /// [`TlsStream::handshake`].
    pub fn new(tcp: T, mut conn: S, early: Vec<u8>) -> TlsStream<T, S> {
        conn.set_buffer_limit(None);
        let mut rbuf = early;
        rbuf.reserve(TLS_READ);
        TlsStream {
            tcp,
            conn,
            rbuf,
            rpos: 0,
            wbuf: Vec::with_capacity(TLS_READ),
        }
    }

    /// Takes the session apart: the transport, the rustls session (with any
    /// plaintext it still buffers) and the ciphertext read but not yet given
    /// to rustls. For drivers that run reads and writes concurrently (the
    /// HTTP/2 adapter in `crate::h2io`).
    pub fn into_parts(mut self) -> (T, S, Vec<u8>) {
        self.rbuf.drain(..self.rpos);
        (self.tcp, self.conn, self.rbuf)
    }

    /// The rustls session (negotiated protocol, SNI, ...).
    pub fn session(&self) -> &S {
        &self.conn
    }

    /// Runs the handshake to completion (either side).
    pub async fn handshake(&mut self) -> io::Result<()> {
        while self.conn.is_handshaking() {
            self.flush().await?;
            if self.conn.wants_read() {
                self.feed_pending()?;
                if self.rpos >= self.rbuf.len()
                    && self.conn.is_handshaking()
                    && self.read_socket().await? == 0
                {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "TLS handshake: connection closed",
                    ));
                }
                self.feed_pending()?;
            }
        }
        self.flush().await
    }

    /// Writes pending TLS records to the transport.
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
    /// stream, `None` means rustls needs more ciphertext. Copies straight
    /// from rustls' record buffers (no scratch array in any future).
    fn take_plaintext(&mut self, out: &mut Vec<u8>) -> io::Result<Option<usize>> {
        self.feed_pending()?;
        let mut total = 0;
        let mut reader = self.conn.reader();
        loop {
            match reader.fill_buf() {
                Ok([]) => return Ok(Some(total)),
                Ok(chunk) => {
                    let n = chunk.len();
                    out.extend_from_slice(chunk);
                    reader.consume(n);
                    total += n;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Ok((total > 0).then_some(total));
                }
                // Peer closed without close_notify: treat as end of stream;
                // body framing decides whether that was a clean end. Any
                // other error repeats on the next read: hand over what arrived.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof || total > 0 => {
                    return Ok(Some(total));
                }
                Err(e) => return Err(e),
            }
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

    fn peek_state(&mut self) -> PeerState {
        if self.feed_pending().is_err() {
            return PeerState::Gone;
        }
        match self.conn.reader().fill_buf() {
            Ok([]) => PeerState::Gone,
            Ok(_) => PeerState::Data,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => PeerState::Quiet,
            Err(_) => PeerState::Gone,
        }
    }
}

impl<S: Session> TlsStream<TcpStream, S> {
    /// Resolves when the peer has gone: TCP end of stream or error, a
    /// close_notify, or a broken session. Ciphertext that arrives meanwhile
    /// is read (synchronously, never lost) and kept for the next
    /// [`TlsStream::read_into`]; once it decrypts to application data (a
    /// pipelined request) this never resolves, as with a plain socket.
    pub async fn peer_gone(&mut self) {
        loop {
            match self.peek_state() {
                PeerState::Gone => return,
                PeerState::Data => std::future::pending::<()>().await,
                PeerState::Quiet => {}
            }
            if self.tcp.readable(false).await.is_err() {
                return;
            }
            match self.recv_now() {
                Ok(0) => return,
                Ok(_) => {}
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.kind() == io::ErrorKind::Interrupted =>
                {
                    // Spurious readiness: wait again.
                    monoio::time::sleep(Duration::from_millis(1)).await;
                }
                Err(_) => return,
            }
        }
    }

    /// Sends close_notify (and anything else rustls still holds) with
    /// non-blocking writes, without awaiting: for a connection about to be
    /// closed, so the peer sees a clean end rather than a truncation. Best
    /// effort: a full socket buffer or a gone peer just drops it.
    pub fn close_notify_now(&mut self) {
        self.conn.send_close_notify();
        let mut out = std::mem::take(&mut self.wbuf);
        out.clear();
        while self.conn.wants_write() {
            if self.conn.write_tls(&mut out).is_err() {
                return;
            }
        }
        let mut sent = 0;
        while sent < out.len() {
            let rest = &out[sent..];
            // SAFETY: send from our own buffer on our own open socket;
            // MSG_DONTWAIT never blocks, MSG_NOSIGNAL never raises SIGPIPE.
            let n = unsafe {
                libc::send(
                    self.tcp.as_raw_fd(),
                    rest.as_ptr().cast(),
                    rest.len(),
                    libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
                )
            };
            if n <= 0 {
                return;
            }
            sent += n as usize;
        }
        self.wbuf = out;
    }

    /// One non-blocking `recv` appended to the ciphertext buffer.
    fn recv_now(&mut self) -> io::Result<usize> {
        if self.rpos >= self.rbuf.len() {
            self.rbuf.clear();
            self.rpos = 0;
        }
        self.rbuf.reserve(TLS_READ);
        let spare = self.rbuf.spare_capacity_mut();
        // SAFETY: recv writes at most `spare.len()` bytes into the vector's
        // spare capacity, which we own; MSG_DONTWAIT never blocks the worker.
        let n = unsafe {
            libc::recv(
                self.tcp.as_raw_fd(),
                spare.as_mut_ptr().cast(),
                spare.len(),
                libc::MSG_DONTWAIT,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = n as usize;
        // SAFETY: the kernel initialised the first `n` spare bytes.
        unsafe { self.rbuf.set_len(self.rbuf.len() + n) };
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    //! A server-side `TlsStream` over an in-memory transport that drives a
    //! plain rustls client synchronously, delivering the client's ciphertext
    //! in scripted pieces: the decrypted bytes must equal what the client
    //! wrote however the records are split.

    use super::*;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    use rustls::{ClientConnection, ServerConnection};
    use std::io::Read;
    use std::sync::Arc;

    struct Pipe {
        client: ClientConnection,
        /// Client ciphertext not yet delivered.
        pending: Vec<u8>,
        /// Sizes of the next reads (then: everything at once).
        splits: Vec<usize>,
    }

    impl Pipe {
        fn pump_client(&mut self) {
            while self.client.wants_write() {
                self.client.write_tls(&mut self.pending).unwrap();
            }
        }
    }

    impl Transport for Pipe {
        async fn read_raw(&mut self, mut buf: Vec<u8>) -> (io::Result<usize>, Vec<u8>) {
            buf.clear();
            self.pump_client();
            let n = if self.splits.is_empty() {
                self.pending.len()
            } else {
                self.splits.remove(0).min(self.pending.len())
            };
            buf.extend(self.pending.drain(..n));
            (Ok(n), buf)
        }

        async fn write_raw(&mut self, buf: Vec<u8>) -> (io::Result<()>, Vec<u8>) {
            let mut sl = &buf[..];
            while !sl.is_empty() {
                self.client.read_tls(&mut sl).unwrap();
                self.client.process_new_packets().unwrap();
            }
            let mut sink = Vec::new();
            let _ = self.client.reader().read_to_end(&mut sink);
            (Ok(()), buf)
        }
    }

    fn configs() -> (Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>) {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        let cert = params.self_signed(&key).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
            )
            .unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from(cert.der().to_vec()))
            .unwrap();
        let client = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        (Arc::new(server), Arc::new(client))
    }

    /// Handshake, then read to end of stream; returns the plaintext.
    fn run(
        cfgs: &(Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>),
        app: &[u8],
        mut split_after_handshake: impl FnMut(usize) -> Vec<usize>,
    ) -> Vec<u8> {
        let name = ServerName::try_from("localhost").unwrap();
        let client = ClientConnection::new(cfgs.1.clone(), name).unwrap();
        let pipe = Pipe {
            client,
            pending: Vec::new(),
            splits: Vec::new(),
        };
        let server = ServerConnection::new(cfgs.0.clone()).unwrap();
        let mut s = TlsStream::new(pipe, server, Vec::new());
        let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .build()
            .unwrap();
        rt.block_on(async {
            s.handshake().await.unwrap();
            // The client sends its data and closes; script how it arrives.
            assert!(!s.tcp.client.is_handshaking());
            s.tcp.client.writer().write_all(app).unwrap();
            s.tcp.client.send_close_notify();
            s.tcp.pump_client();
            let total = s.tcp.pending.len();
            s.tcp.splits = split_after_handshake(total);
            let mut out = Vec::new();
            loop {
                let before = out.len();
                let n = s.read_into(&mut out).await.unwrap();
                assert_eq!(out.len() - before, n);
                if n == 0 {
                    break;
                }
            }
            out
        })
    }

    #[test]
    fn plaintext_whole_and_split_at_every_byte() {
        let cfgs = configs();
        // Two pipelined requests spanning several records.
        let mut app =
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 40000\r\n\r\n"
                .to_vec();
        app.extend((0..40_000u32).map(|i| b'a' + (i % 26) as u8));
        app.extend_from_slice(b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n");
        // Oracle: the bytes the client wrote.
        assert_eq!(run(&cfgs, &app, |_| Vec::new()), app, "whole");
        let small = b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\n\r\n";
        let total = {
            let mut t = 0;
            run(&cfgs, small, |n| {
                t = n;
                Vec::new()
            });
            t
        };
        assert!(total > small.len());
        for k in 1..total {
            assert_eq!(run(&cfgs, small, |_| vec![k]), small, "split at {k}");
        }
        assert_eq!(run(&cfgs, small, |n| vec![1; n]), small, "byte by byte");
        assert_eq!(
            run(&cfgs, &app, |n| vec![997; n / 997 + 1]),
            app,
            "997-byte reads"
        );
    }
}
