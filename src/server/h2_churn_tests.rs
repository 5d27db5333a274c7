//! HTTP/2 connection churn leaves nothing behind: the real accept loop, h2c
//! connection task, stream tasks, pipeline and upstream pool on a monoio
//! runtime in this thread, driven by the `h2` crate's client over the same
//! adapter (`H2Io<Plain>`). After many connections carrying concurrent
//! streams, clients resetting streams and clients vanishing mid-stream, the
//! live h2 connection and stream counts, the worker's open connections and
//! its shutdown waiters are back to their baseline. Counts, not time.

use super::churn_tests::{quiesce, upstream, worker_with};
use super::*;
use crate::h2io::{H2Io, Plain};
use crate::runtime::Worker;
use bytes::Bytes;
use monoio::net::TcpStream;

type Client = ::h2::client::SendRequest<Bytes>;

fn chat(stream: bool, events: usize) -> Bytes {
    Bytes::from(format!(
        r#"{{"model":"churn-model","stream":{stream},"messages":[{{"role":"user","content":"events={events}"}}]}}"#
    ))
}

/// Opens a chat stream; returns the response status and its body stream.
async fn open(c: &Client, stream: bool, events: usize) -> (u16, ::h2::RecvStream) {
    let mut c = c.clone().ready().await.expect("ready");
    let req = http::Request::builder()
        .method("POST")
        .uri("http://x/v1/chat/completions")
        .header("authorization", "Bearer sk-client")
        .header("content-type", "application/json")
        .body(())
        .expect("request");
    let (resp, mut send) = c.send_request(req, false).expect("send");
    send.send_data(chat(stream, events), true).expect("body");
    let resp = resp.await.expect("response");
    let status = resp.status().as_u16();
    (status, resp.into_body())
}

async fn read_all(recv: &mut ::h2::RecvStream) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(d) = recv.data().await {
        let d = d.expect("data");
        let _ = recv.flow_control().release_capacity(d.len());
        out.extend_from_slice(&d);
    }
    out
}

/// One full exchange; checks the answer.
async fn exchange(c: Client, stream: bool) {
    let (status, mut recv) = open(&c, stream, 3).await;
    assert_eq!(status, 200);
    let body = read_all(&mut recv).await;
    let want: &[u8] = if stream {
        b"data: [DONE]"
    } else {
        br#""content":"hi""#
    };
    assert!(
        memchr::memmem::find(&body, want).is_some(),
        "{}",
        String::from_utf8_lossy(&body)
    );
}

/// How a client session ends.
#[derive(Clone, Copy)]
enum End {
    /// All streams answered, then the client closes cleanly.
    Clean,
    /// One long stream, reset by the client after its first DATA frame; then
    /// an ordinary exchange on the same connection.
    Reset,
    /// One long stream, and the client's socket closes after its first DATA.
    Vanish,
}

/// One h2c connection: `streams` concurrent exchanges, ended as `end` says.
async fn session(addr: SocketAddr, streams: usize, end: End) {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let (client, conn) = ::h2::client::handshake(H2Io::new(tcp, Plain, Vec::new()))
        .await
        .expect("h2 handshake");
    let mut conn = std::pin::pin!(conn);
    let c = client.clone();
    let work = async move {
        match end {
            End::Clean => {
                let tasks: Vec<_> = (0..streams)
                    .map(|i| monoio::spawn(exchange(c.clone(), i % 2 == 0)))
                    .collect();
                for t in tasks {
                    t.await;
                }
            }
            End::Reset | End::Vanish => {
                let mut sr = c.clone().ready().await.expect("ready");
                let req = http::Request::builder()
                    .method("POST")
                    .uri("http://x/v1/chat/completions")
                    .header("authorization", "Bearer sk-client")
                    .body(())
                    .expect("request");
                let (resp, mut send) = sr.send_request(req, false).expect("send");
                let _ = send.send_data(chat(true, 2000), true);
                let resp = resp.await.expect("response");
                let mut recv = resp.into_body();
                let first = recv.data().await.expect("data").expect("data");
                assert!(!first.is_empty());
                if let End::Reset = end {
                    send.send_reset(::h2::Reason::CANCEL);
                    drop((send, recv));
                    exchange(c.clone(), false).await;
                }
            }
        }
    };
    monoio::select! {
        r = &mut conn => panic!("connection ended early: {r:?}"),
        _ = work => {}
    }
    if let End::Vanish = end {
        // Dropping the connection closes the socket mid-stream.
        return;
    }
    drop(client);
    let _ = conn.await;
}

async fn churn(dir: std::path::PathBuf) {
    let up = TcpListener::bind("127.0.0.1:0").expect("bind upstream");
    let up_port = up.local_addr().expect("addr").port();
    monoio::spawn(upstream(up));
    let w: Rc<Worker> = worker_with(up_port, &dir, "http2-cleartext: true\n");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = monoio::spawn(accept_loop::<Worker, crate::pipeline::Proxy>(
        w.clone(),
        listener,
    ));

    // Warm-up: pool buffers, upstream connections, translator state.
    for _ in 0..3 {
        session(addr, 4, End::Clean).await;
    }
    quiesce(&w).await;
    let base_waiters = w.shutdown.waiters();
    assert!(base_waiters <= 1, "baseline waiters {base_waiters}");
    assert_eq!(super::h2::live_connections(), 0);
    assert_eq!(super::h2::live_streams(), 0);

    for round in 0..40 {
        let batch: Vec<_> = (0..4)
            .map(|i| {
                let end = match (round + i) % 5 {
                    3 => End::Reset,
                    4 => End::Vanish,
                    _ => End::Clean,
                };
                monoio::spawn(session(addr, 8, end))
            })
            .collect();
        for h in batch {
            h.await;
        }
    }
    quiesce(&w).await;
    assert_eq!(
        super::h2::live_connections(),
        0,
        "h2 connection tasks left running"
    );
    assert_eq!(super::h2::live_streams(), 0, "h2 stream tasks left running");
    assert_eq!(
        w.shutdown.waiters(),
        base_waiters,
        "shutdown waiters must return to baseline after 160 h2 connections"
    );
    assert_eq!(
        w.shared
            .open_connections
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    let (bufs, bytes) = w.pool.borrow().free_bufs();
    assert!(bufs <= crate::upstream::MAX_FREE_BUFS);
    assert!(bytes <= crate::upstream::MAX_FREE_BYTES);

    w.shutdown.fire();
    server.await;
    assert_eq!(w.shutdown.waiters(), 0);
}

fn run(driver: crate::runtime::Driver) {
    let dir = std::env::temp_dir().join(format!(
        "cliproxy-h2churn-{}-{}",
        std::process::id(),
        driver.name()
    ));
    let _ = std::fs::create_dir_all(&dir);
    match driver {
        crate::runtime::Driver::IoUring => {
            monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
                .enable_timer()
                .build()
                .expect("runtime")
                .block_on(churn(dir.clone()));
        }
        _ => {
            monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
                .enable_timer()
                .build()
                .expect("runtime")
                .block_on(churn(dir.clone()));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Both drivers share the process-wide live counts: one test runs both.
#[test]
fn h2_churn_returns_streams_connections_and_waiters_to_baseline() {
    run(crate::runtime::Driver::Legacy);
    if monoio::utils::detect_uring() {
        run(crate::runtime::Driver::IoUring);
    } else {
        eprintln!("io_uring unavailable: the io_uring run is skipped");
    }
}
