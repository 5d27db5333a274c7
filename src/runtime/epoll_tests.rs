//! The epoll driver's reads after the patch in `vendor/monoio` (a short read
//! clears the socket's readable bit so the next read waits for the next
//! event instead of first failing with `EAGAIN`). What must still hold: a
//! read after a short one gets bytes that arrive later, a read that filled
//! its buffer gets the rest at once, and a peer's close that arrived with
//! the last bytes still ends the stream.
#![allow(
    clippy::disallowed_methods,
    reason = "the peer is a plain thread of the test, not a worker"
)]

use std::io::Write;
use std::sync::mpsc;
use std::time::Duration;

use monoio::io::AsyncReadRent;

/// Runs `f` on an epoll runtime with timers, against a peer thread that
/// connects, then performs `peer` (given a channel that says when the
/// runtime's side is ready for the next step).
fn with_peer<P, F, Fut>(peer: P, f: F)
where
    P: FnOnce(std::net::TcpStream, mpsc::Receiver<()>) + Send + 'static,
    F: FnOnce(monoio::net::TcpStream, mpsc::Sender<()>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
        .enable_timer()
        .build()
        .unwrap();
    rt.block_on(async move {
        let listener = monoio::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let s = std::net::TcpStream::connect(addr).unwrap();
            s.set_nodelay(true).unwrap();
            peer(s, go_rx)
        });
        let (conn, _) = listener.accept().await.unwrap();
        f(conn, go_tx).await;
        thread.join().unwrap();
    })
}

/// One read of at most `cap` bytes, bounded so a read that never wakes
/// fails the test instead of hanging it.
async fn read_some(conn: &mut monoio::net::TcpStream, cap: usize) -> Vec<u8> {
    let (r, buf) =
        monoio::time::timeout(Duration::from_secs(10), conn.read(Vec::with_capacity(cap)))
            .await
            .expect("the read never completed");
    r.unwrap();
    buf
}

#[test]
fn a_read_after_a_short_one_gets_the_bytes_that_arrive_later() {
    with_peer(
        |mut s, go| {
            s.write_all(b"abc").unwrap();
            // The second write only once the first read has returned short.
            go.recv().unwrap();
            s.write_all(b"defg").unwrap();
            go.recv().unwrap();
        },
        |mut conn, go| async move {
            assert_eq!(read_some(&mut conn, 64).await, b"abc");
            go.send(()).unwrap();
            assert_eq!(read_some(&mut conn, 64).await, b"defg");
            go.send(()).unwrap();
        },
    );
}

#[test]
fn a_read_that_fills_its_buffer_leaves_the_rest_readable() {
    let (sent_tx, sent_rx) = mpsc::channel::<()>();
    with_peer(
        move |mut s, go| {
            s.write_all(&[7u8; 100]).unwrap();
            sent_tx.send(()).unwrap();
            go.recv().unwrap();
        },
        |mut conn, go| async move {
            // Both segments are queued before the first read.
            sent_rx.recv().unwrap();
            assert_eq!(read_some(&mut conn, 64).await, [7u8; 64]);
            assert_eq!(read_some(&mut conn, 64).await, [7u8; 36]);
            go.send(()).unwrap();
        },
    );
}

#[test]
fn a_close_that_came_with_the_last_bytes_still_ends_the_stream() {
    let (sent_tx, sent_rx) = mpsc::channel::<()>();
    with_peer(
        move |mut s, _go| {
            s.write_all(b"last").unwrap();
            s.shutdown(std::net::Shutdown::Write).unwrap();
            sent_tx.send(()).unwrap();
        },
        |mut conn, _go| async move {
            // Bytes and FIN are both queued before the first read, so one
            // event reports them together; the short read must not forget
            // the close.
            sent_rx.recv().unwrap();
            assert_eq!(read_some(&mut conn, 64).await, b"last");
            assert_eq!(read_some(&mut conn, 64).await, b"");
        },
    );
}

// The epoll driver's recv and send go through `libc::syscall` (see
// `vendor/monoio/PATCHED.md`); errors must still come back as errors.

#[test]
fn a_reset_from_the_peer_is_an_error_not_an_end_of_stream() {
    let (sent_tx, sent_rx) = mpsc::channel::<()>();
    with_peer(
        move |s, _go| {
            socket2::SockRef::from(&s)
                .set_linger(Some(Duration::ZERO))
                .unwrap();
            // Closing with a zero linger sends RST instead of FIN.
            drop(s);
            sent_tx.send(()).unwrap();
        },
        |mut conn, _go| async move {
            sent_rx.recv().unwrap();
            let (r, _) =
                monoio::time::timeout(Duration::from_secs(10), conn.read(Vec::with_capacity(64)))
                    .await
                    .expect("the read never completed");
            let e = r.expect_err("a reset connection read as data or end of stream");
            assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}");
        },
    );
}

#[test]
fn writing_to_a_peer_that_has_gone_is_an_error() {
    use monoio::io::AsyncWriteRentExt;
    let (gone_tx, gone_rx) = mpsc::channel::<()>();
    with_peer(
        move |s, _go| {
            drop(s);
            gone_tx.send(()).unwrap();
        },
        |mut conn, _go| async move {
            gone_rx.recv().unwrap();
            // The first write may be accepted (the peer answers it with a
            // reset); a later one must fail, and the process must not die
            // of SIGPIPE (the send carries MSG_NOSIGNAL).
            let mut failed = None;
            for _ in 0..64 {
                let (r, _) =
                    monoio::time::timeout(Duration::from_secs(10), conn.write_all(vec![1u8; 4096]))
                        .await
                        .expect("the write never completed");
                if let Err(e) = r {
                    failed = Some(e);
                    break;
                }
            }
            let e = failed.expect("every write to a closed peer succeeded");
            assert!(
                matches!(
                    e.kind(),
                    std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
                ),
                "{e}"
            );
        },
    );
}
