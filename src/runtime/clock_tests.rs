//! The loop clock added to the vendored monoio (`monoio::time::cached_now`,
//! and `loop_sleep` / `loop_timeout`, which take their deadlines from it;
//! see `vendor/monoio/PATCHED.md`): it moves with every wake-up, never leaks
//! from one runtime to the next on the same thread, and a loop timer lasts
//! its length measured from the loop clock, so on the real clock it is
//! early by at most how stale that clock was when the timer was made.

use std::time::{Duration, Instant};

use monoio::time::cached_now;

/// Runs `f` on each driver this machine has, timers enabled.
fn on_each_driver<F, Fut>(f: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut legacy = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
        .enable_timer()
        .build()
        .unwrap();
    legacy.block_on(f());
    if monoio::utils::detect_uring() {
        let mut uring = super::uring_runtime().unwrap();
        uring.block_on(f());
    }
}

#[test]
fn the_loop_clock_moves_with_each_wake_up() {
    on_each_driver(|| async {
        monoio::time::sleep(Duration::from_millis(1)).await;
        let a = cached_now();
        monoio::time::sleep(Duration::from_millis(20)).await;
        let b = cached_now();
        assert!(b - a >= Duration::from_millis(20), "{:?}", b - a);
        // Never ahead of the real clock.
        assert!(b.into_std() <= Instant::now());
    });
}

#[test]
fn no_runtime_leaves_its_clock_behind_on_the_thread() {
    on_each_driver(|| async {
        monoio::time::sleep(Duration::from_millis(1)).await;
    });
    // Outside a runtime the loop clock is the real clock, not the last
    // wake-up of the runtime that ran here.
    let before = Instant::now();
    assert!(cached_now().into_std() >= before);
}

/// How stale the loop clock is now, and the real time.
fn staleness() -> (Duration, Instant) {
    let cached = cached_now().into_std();
    let now = Instant::now();
    (now - cached, now)
}

#[test]
fn a_loop_sleep_lasts_its_length_from_the_loop_clock() {
    on_each_driver(|| async {
        // The clock is now cached from this wake-up.
        monoio::time::sleep(Duration::from_millis(1)).await;
        // 20 ms of work without yielding: the loop clock stays behind.
        let busy = Instant::now();
        while busy.elapsed() < Duration::from_millis(20) {
            std::hint::spin_loop();
        }
        let made = cached_now();
        let (stale, start) = staleness();
        assert!(stale >= Duration::from_millis(20), "{stale:?}");
        monoio::time::loop_sleep(Duration::from_millis(60)).await;
        // From the loop clock: the whole length.
        assert!(cached_now() - made >= Duration::from_millis(60));
        // On the real clock: early by at most the staleness.
        assert!(
            start.elapsed() + stale >= Duration::from_millis(60),
            "{:?}",
            start.elapsed()
        );
        // The plain sleep is untouched: its whole length on the real clock
        // whatever the loop clock says.
        let busy = Instant::now();
        while busy.elapsed() < Duration::from_millis(20) {
            std::hint::spin_loop();
        }
        let start = Instant::now();
        monoio::time::sleep(Duration::from_millis(30)).await;
        assert!(
            start.elapsed() >= Duration::from_millis(30),
            "{:?}",
            start.elapsed()
        );
    });
}

#[test]
fn a_loop_timeout_fires_from_the_loop_clock_and_passes_results_through() {
    on_each_driver(|| async {
        monoio::time::sleep(Duration::from_millis(1)).await;
        let made = cached_now();
        let (stale, start) = staleness();
        let r = monoio::time::loop_timeout(Duration::from_millis(30), std::future::pending::<()>())
            .await;
        assert!(r.is_err());
        assert!(cached_now() - made >= Duration::from_millis(30));
        assert!(
            start.elapsed() + stale >= Duration::from_millis(30),
            "{:?}",
            start.elapsed()
        );
        let r = monoio::time::loop_timeout(Duration::from_secs(10), async { 7 }).await;
        assert_eq!(r.ok(), Some(7));
    });
}
