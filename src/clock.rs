//! The loop clock: the time the runtime on this thread last read its clock
//! (at its last wake-up, or when it last went round its task queue without
//! parking), from the vendored monoio (`monoio::time::cached_now`, see
//! `vendor/monoio/PATCHED.md`). Outside a runtime it is `Instant::now()`.
//!
//! Reading the monotonic clock costs ~45 ns on a KVM guest and a request
//! used to read it a dozen times; the loop clock costs a thread-local load.
//! It lags the true time by the work done since the wake-up (microseconds
//! under load, more if the thread was preempted between its wake-up and the
//! read), so use it for deadlines that are bounds (idle, read and watch
//! timeouts) and pool ages; `Instant::now()` where a length is a promise or
//! a reported figure: cooldowns and the scheduler's clock (compared across
//! workers), request latencies and usage timestamps (shown to users and
//! used to order the usage queue).

use std::time::Instant;

/// See the module documentation.
#[inline]
pub fn loop_now() -> Instant {
    monoio::time::cached_now().into_std()
}
