//! The connection's one client-watch timer ([`Conn::client_gone_after`]):
//! each wait moves it to `delay` from its start, also after it fired, and a
//! wait that is over before `delay` never reaches the watch.

use super::*;
use monoio::net::{TcpListener, TcpStream};

/// A server-side `Conn` and the client socket talking to it.
async fn pair() -> (Conn, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let client = TcpStream::connect(addr).await.expect("connect");
    let (tcp, peer) = listener.accept().await.expect("accept");
    let conn = Conn::new(tls::ClientStream::Plain(tcp), peer, Vec::new(), 0);
    (conn, client)
}

/// Which of two branches a `select!` took.
#[derive(Debug, PartialEq)]
enum Won {
    Gone,
    Other,
}

async fn watch_rearms_after_firing() {
    let (mut conn, client) = pair().await;
    let delay = Duration::from_millis(20);
    drop(client);
    // The client left: the watch notices once its delay is over.
    conn.client_gone_after(delay).await;
    assert!(conn.watch.as_ref().is_some_and(|t| t.is_elapsed()));
    let first = conn.watch.as_ref().map(|t| &**t as *const _);

    // The next wait polls the same timer once and is then abandoned (the
    // other branch is ready): the timer must be pending again, `delay` out
    // on the loop clock (`crate::clock`), which this wait reads.
    let before = monoio::time::cached_now();
    let won = monoio::select! {
        biased;
        _ = conn.client_gone_after(delay) => Won::Gone,
        _ = std::future::ready(()) => Won::Other,
    };
    assert_eq!(won, Won::Other);
    let t = conn.watch.as_ref().expect("timer kept");
    assert!(
        !t.is_elapsed(),
        "a fired timer must be re-armed by the next wait"
    );
    assert!(t.deadline() >= before + delay);
    assert_eq!(Some(&**t as *const _), first, "one timer per connection");

    // A wait shorter than the delay ends first even though the client is
    // gone and the timer fired before (both are timers of this runtime, so
    // the order does not depend on the machine's speed).
    let won = monoio::select! {
        biased;
        _ = conn.client_gone_after(Duration::from_millis(200)) => Won::Gone,
        _ = monoio::time::sleep(Duration::from_millis(5)) => Won::Other,
    };
    assert_eq!(won, Won::Other);
    // And a wait longer than the delay sees the client gone.
    let won = monoio::select! {
        biased;
        _ = conn.client_gone_after(delay) => Won::Gone,
        _ = monoio::time::sleep(Duration::from_millis(400)) => Won::Other,
    };
    assert_eq!(won, Won::Gone);
}

async fn watch_never_fires_for_a_present_client() {
    let (mut conn, _client) = pair().await;
    for _ in 0..3 {
        let won = monoio::select! {
            biased;
            _ = conn.client_gone_after(Duration::from_millis(5)) => Won::Gone,
            _ = monoio::time::sleep(Duration::from_millis(30)) => Won::Other,
        };
        assert_eq!(won, Won::Other);
    }
}

fn on_both_drivers<F: std::future::Future<Output = ()>>(f: fn() -> F) {
    monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
        .enable_timer()
        .build()
        .expect("runtime")
        .block_on(f());
    if let Ok(mut rt) = monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
        .enable_timer()
        .build()
    {
        rt.block_on(f());
    }
}

#[test]
fn client_watch_timer_rearms_after_firing() {
    on_both_drivers(watch_rearms_after_firing);
}

#[test]
fn client_watch_never_fires_for_a_present_client() {
    on_both_drivers(watch_never_fires_for_a_present_client);
}
