//! The one adapter between the `h2` crate (which polls tokio's `AsyncRead` /
//! `AsyncWrite`) and our monoio connections, used by both sides: HTTP/2 to
//! upstreams (`upstream::h2conn`, a client TLS session) and HTTP/2 to clients
//! (`server::h2`, a server TLS session, or plain TCP for h2c).
//!
//! A TLS session is taken apart ([`crate::tls::TlsStream::into_parts`]): the
//! TCP socket is split into monoio's owned read and write halves so a read and
//! a write can be in flight at once (h2 writes frames and WINDOW_UPDATEs
//! while a read waits), and rustls, which does no I/O, is driven
//! synchronously in between. Plain TCP ([`Plain`]) passes bytes through.
//!
//! Cancellation (docs/architecture.md): on io_uring a read dropped in flight
//! loses its bytes. Each socket read or write here is a boxed future that owns
//! its half and its buffer; it is stored in the adapter and polled again on
//! the next `poll_read` / `poll_write`, never dropped while the connection
//! lives. Only dropping the whole adapter (the connection is over) drops an
//! in-flight operation.

use monoio::io::{AsyncReadRent, AsyncWriteRentExt, OwnedReadHalf, OwnedWriteHalf, Splitable};
use monoio::net::TcpStream;
use std::future::Future;
use std::io::{self, Write};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::tls::{tls_err, Session, TLS_READ};

type ReadFut =
    Pin<Box<dyn Future<Output = (OwnedReadHalf<TcpStream>, io::Result<usize>, Vec<u8>)>>>;
type WriteFut = Pin<Box<dyn Future<Output = (OwnedWriteHalf<TcpStream>, io::Result<()>, Vec<u8>)>>>;

/// Wire bytes queued beyond this while a write is in flight make
/// `poll_write` wait: h2's own send buffering stays the only large queue.
const WRITE_HIGH: usize = 256 * 1024;

/// What sits between the socket and h2's bytes: a rustls session of either
/// side (any [`Session`]), or nothing ([`Plain`], for h2c).
pub trait Wire {
    /// Copies already-decoded bytes into `dst` (advancing it). `Err(WouldBlock)`
    /// when there are none; `Ok(0)` at a clean end of stream.
    fn read_decoded(&mut self, dst: &mut ReadBuf<'_>) -> io::Result<usize>;
    /// Takes bytes read from the socket; returns how many it consumed.
    /// Bytes that need no decoding go straight to `dst`.
    fn feed(&mut self, wire: &[u8], dst: &mut ReadBuf<'_>) -> io::Result<usize>;
    /// Whether the session owes the peer bytes (alerts, key updates).
    fn wants_write(&self) -> bool;
    /// Moves bytes owed to the peer onto `wq`.
    fn take_output(&mut self, wq: &mut Vec<u8>) -> io::Result<()>;
    /// Encodes `data` for the peer (onto `wq` when it needs no encoding).
    fn encode(&mut self, data: &[u8], wq: &mut Vec<u8>) -> io::Result<usize>;
    /// Starts closing the session (TLS close_notify).
    fn close(&mut self);
}

impl<S: Session> Wire for S {
    fn read_decoded(&mut self, dst: &mut ReadBuf<'_>) -> io::Result<usize> {
        // Borrow rustls's plaintext and copy only what is there: reading
        // into `initialize_unfilled()` would zero h2's whole spare buffer
        // (KiBs) on every poll.
        use std::io::BufRead;
        let mut r = self.reader();
        let chunk = r.fill_buf()?;
        let n = chunk.len().min(dst.remaining());
        dst.put_slice(&chunk[..n]);
        r.consume(n);
        Ok(n)
    }

    fn feed(&mut self, wire: &[u8], _dst: &mut ReadBuf<'_>) -> io::Result<usize> {
        let mut sl = wire;
        let n = match self.read_tls(&mut sl) {
            Ok(n) => n,
            // rustls is full: plaintext is waiting, read it first.
            Err(e) if e.kind() == io::ErrorKind::Other => 0,
            Err(e) => return Err(e),
        };
        self.process_new_packets().map_err(tls_err)?;
        Ok(n)
    }

    fn wants_write(&self) -> bool {
        std::ops::Deref::deref(self).wants_write()
    }

    fn take_output(&mut self, wq: &mut Vec<u8>) -> io::Result<()> {
        while std::ops::Deref::deref(self).wants_write() {
            self.write_tls(wq)?;
        }
        Ok(())
    }

    fn encode(&mut self, data: &[u8], _wq: &mut Vec<u8>) -> io::Result<usize> {
        self.writer().write(data)
    }

    fn close(&mut self) {
        self.send_close_notify();
    }
}

/// Plain TCP: bytes pass through unchanged (h2c).
pub struct Plain;

impl Wire for Plain {
    fn read_decoded(&mut self, _dst: &mut ReadBuf<'_>) -> io::Result<usize> {
        // Nothing is decoded ahead (and `dst` is not zeroed for nothing).
        Err(io::ErrorKind::WouldBlock.into())
    }

    fn feed(&mut self, wire: &[u8], dst: &mut ReadBuf<'_>) -> io::Result<usize> {
        let n = wire.len().min(dst.remaining());
        dst.put_slice(&wire[..n]);
        Ok(n)
    }

    fn wants_write(&self) -> bool {
        false
    }

    fn take_output(&mut self, _wq: &mut Vec<u8>) -> io::Result<()> {
        Ok(())
    }

    fn encode(&mut self, data: &[u8], wq: &mut Vec<u8>) -> io::Result<usize> {
        wq.extend_from_slice(data);
        Ok(data.len())
    }

    fn close(&mut self) {}
}

enum Rd {
    Idle(OwnedReadHalf<TcpStream>),
    Busy(ReadFut),
    Gone,
}

enum Wr {
    Idle(OwnedWriteHalf<TcpStream>, Vec<u8>),
    Busy(WriteFut),
    Gone,
}

/// A connection as tokio `AsyncRead + AsyncWrite`, for `h2`: a TLS session
/// (client side by default) or plain TCP (`H2Io<Plain>`).
pub struct H2Io<S = rustls::ClientConnection> {
    wire: S,
    rd: Rd,
    /// Bytes read from the socket; `rpos..` not yet given to the wire.
    rbuf: Vec<u8>,
    rpos: usize,
    eof: bool,
    wr: Wr,
    /// Bytes for the socket, waiting for the in-flight write.
    wq: Vec<u8>,
    closing: bool,
}

impl<S: Wire> H2Io<S> {
    /// Wraps the parts of an established session; `early` holds bytes
    /// already read from the socket and not yet consumed.
    pub fn new(tcp: TcpStream, wire: S, early: Vec<u8>) -> H2Io<S> {
        let (r, w) = tcp.into_split();
        H2Io {
            wire,
            rd: Rd::Idle(r),
            rbuf: early,
            rpos: 0,
            eof: false,
            wr: Wr::Idle(w, Vec::with_capacity(TLS_READ)),
            wq: Vec::with_capacity(TLS_READ),
            closing: false,
        }
    }

    /// Moves the wire's pending output to the queue and drives the write
    /// side until everything queued is on the wire (`Ready`) or a write waits.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            self.wire.take_output(&mut self.wq)?;
            match std::mem::replace(&mut self.wr, Wr::Gone) {
                Wr::Busy(mut f) => match f.as_mut().poll(cx) {
                    Poll::Pending => {
                        self.wr = Wr::Busy(f);
                        return Poll::Pending;
                    }
                    Poll::Ready((half, r, mut b)) => {
                        b.clear();
                        self.wr = Wr::Idle(half, b);
                        if let Err(e) = r {
                            self.wr = Wr::Gone;
                            return Poll::Ready(Err(e));
                        }
                    }
                },
                Wr::Idle(half, mut b) => {
                    if self.wq.is_empty() {
                        self.wr = Wr::Idle(half, b);
                        return Poll::Ready(Ok(()));
                    }
                    std::mem::swap(&mut b, &mut self.wq);
                    let mut half = half;
                    self.wr = Wr::Busy(Box::pin(async move {
                        let (r, b) = half.write_all(b).await;
                        (half, r.map(|_| ()), b)
                    }));
                }
                Wr::Gone => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::BrokenPipe,
                        "connection closed",
                    )))
                }
            }
        }
    }
}

impl<S: Wire + Unpin> AsyncRead for H2Io<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        let start = buf.filled().len();
        loop {
            match this.wire.read_decoded(buf) {
                Ok(_) => return Poll::Ready(Ok(())),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // Closed without close_notify: end of stream; h2 decides
                // whether that cut a stream short.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    return Poll::Ready(Ok(()));
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
            if this.rpos < this.rbuf.len() {
                match this.wire.feed(&this.rbuf[this.rpos..], buf) {
                    Ok(n) => this.rpos += n,
                    Err(e) => return Poll::Ready(Err(e)),
                }
                // Plain bytes went straight to `buf`.
                if buf.filled().len() > start {
                    return Poll::Ready(Ok(()));
                }
                // A TLS session may owe the peer a record (alert, key update).
                if this.wire.wants_write() {
                    if let Poll::Ready(Err(e)) = this.poll_drain(cx) {
                        return Poll::Ready(Err(e));
                    }
                }
                continue;
            }
            if this.eof {
                return Poll::Ready(Ok(()));
            }
            match std::mem::replace(&mut this.rd, Rd::Gone) {
                Rd::Idle(mut half) => {
                    let mut b = std::mem::take(&mut this.rbuf);
                    b.clear();
                    this.rpos = 0;
                    if b.capacity() < TLS_READ {
                        b.reserve(TLS_READ);
                    }
                    this.rd = Rd::Busy(Box::pin(async move {
                        let (r, b) = half.read(b).await;
                        (half, r, b)
                    }));
                }
                Rd::Busy(mut f) => match f.as_mut().poll(cx) {
                    Poll::Pending => {
                        this.rd = Rd::Busy(f);
                        return Poll::Pending;
                    }
                    Poll::Ready((half, r, b)) => {
                        this.rd = Rd::Idle(half);
                        this.rbuf = b;
                        this.rpos = 0;
                        match r {
                            Ok(0) => this.eof = true,
                            Ok(_) => {}
                            Err(e) => {
                                this.eof = true;
                                return Poll::Ready(Err(e));
                            }
                        }
                    }
                },
                Rd::Gone => return Poll::Ready(Ok(())),
            }
        }
    }
}

impl<S: Wire + Unpin> AsyncWrite for H2Io<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.wq.len() >= WRITE_HIGH {
            if let Poll::Ready(Err(e)) = this.poll_drain(cx) {
                return Poll::Ready(Err(e));
            }
            if this.wq.len() >= WRITE_HIGH {
                return Poll::Pending;
            }
        }
        let n = this.wire.encode(data, &mut this.wq)?;
        if let Poll::Ready(Err(e)) = this.poll_drain(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_drain(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.closing {
            this.closing = true;
            this.wire.close();
        }
        this.poll_drain(cx)
    }
}
