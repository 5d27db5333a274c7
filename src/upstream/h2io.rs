//! The one adapter between the `h2` crate (which polls tokio's `AsyncRead` /
//! `AsyncWrite`) and our TLS-over-monoio upstream connections.
//!
//! The TLS session is taken apart ([`crate::tls::TlsStream::into_parts`]): the
//! TCP socket is split into monoio's owned read and write halves so a read and
//! a write can be in flight at once (h2 writes requests and WINDOW_UPDATEs
//! while a read waits), and rustls, which does no I/O, is driven
//! synchronously in between.
//!
//! Cancellation (docs/architecture.md): on io_uring a read dropped in flight
//! loses its bytes. Each socket read or write here is a boxed future that owns
//! its half and its buffer; it is stored in the adapter and polled again on
//! the next `poll_read` / `poll_write`, never dropped while the connection
//! lives. Only dropping the whole adapter (the connection is over) drops an
//! in-flight operation.

use monoio::io::{AsyncReadRent, AsyncWriteRentExt, OwnedReadHalf, OwnedWriteHalf, Splitable};
use monoio::net::TcpStream;
use rustls::ClientConnection;
use std::future::Future;
use std::io::{self, Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::tls::{tls_err, TLS_READ};

type ReadFut =
    Pin<Box<dyn Future<Output = (OwnedReadHalf<TcpStream>, io::Result<usize>, Vec<u8>)>>>;
type WriteFut = Pin<Box<dyn Future<Output = (OwnedWriteHalf<TcpStream>, io::Result<()>, Vec<u8>)>>>;

/// Ciphertext queued beyond this while a write is in flight makes
/// `poll_write` wait: h2's own send buffering stays the only large queue.
const WRITE_HIGH: usize = 256 * 1024;

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

/// A client TLS session as tokio `AsyncRead + AsyncWrite`, for `h2`.
pub struct H2Io {
    tls: ClientConnection,
    rd: Rd,
    /// Ciphertext read; `rpos..` not yet given to rustls.
    rbuf: Vec<u8>,
    rpos: usize,
    eof: bool,
    wr: Wr,
    /// Ciphertext produced by rustls, waiting for the in-flight write.
    wq: Vec<u8>,
    closing: bool,
}

impl H2Io {
    /// Wraps the parts of an established TLS session.
    pub fn new(tcp: TcpStream, tls: ClientConnection, early: Vec<u8>) -> H2Io {
        let (r, w) = tcp.into_split();
        H2Io {
            tls,
            rd: Rd::Idle(r),
            rbuf: early,
            rpos: 0,
            eof: false,
            wr: Wr::Idle(w, Vec::with_capacity(TLS_READ)),
            wq: Vec::with_capacity(TLS_READ),
            closing: false,
        }
    }

    /// Moves rustls' pending records to the queue and drives the write side
    /// until everything queued is on the wire (`Ready`) or a write waits.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            while self.tls.wants_write() {
                self.tls.write_tls(&mut self.wq)?;
            }
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
                        "upstream connection closed",
                    )))
                }
            }
        }
    }
}

impl AsyncRead for H2Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        loop {
            match this.tls.reader().read(buf.initialize_unfilled()) {
                Ok(n) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // Closed without close_notify: end of stream; h2 decides
                // whether that cut a stream short.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    return Poll::Ready(Ok(()));
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
            if this.rpos < this.rbuf.len() {
                let mut sl = &this.rbuf[this.rpos..];
                match this.tls.read_tls(&mut sl) {
                    Ok(n) => this.rpos += n,
                    // rustls is full: plaintext is waiting, read it above.
                    Err(e) if e.kind() == io::ErrorKind::Other => {}
                    Err(e) => return Poll::Ready(Err(e)),
                }
                if let Err(e) = this.tls.process_new_packets() {
                    return Poll::Ready(Err(tls_err(e)));
                }
                // rustls may owe the peer a record (alert, key update).
                if this.tls.wants_write() {
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

impl AsyncWrite for H2Io {
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
        let n = this.tls.writer().write(data)?;
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
            this.tls.send_close_notify();
        }
        this.poll_drain(cx)
    }
}
