//! Blocking work of a management handler, run on its own thread so the
//! worker's event loop never waits on it (token exchanges, `/api-call`,
//! OAuth starts that call a device endpoint). The handler awaits an
//! [`Offload`], which the thread wakes when it is done; monoio's `sync`
//! feature makes that cross-thread wake work (the refresh engine relies on
//! the same).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

struct Slot<T> {
    value: Option<T>,
    done: bool,
    waker: Option<Waker>,
}

/// The future of [`run`]: `Some(value)`, or `None` when the thread could
/// not start or ended without a value (a panic).
pub struct Offload<T> {
    slot: Option<Arc<Mutex<Slot<T>>>>,
}

/// Marks the slot done when the thread ends, value or not, and wakes the
/// handler.
struct Finish<T>(Arc<Mutex<Slot<T>>>);

impl<T> Drop for Finish<T> {
    fn drop(&mut self) {
        let waker = match self.0.lock() {
            Ok(mut s) => {
                s.done = true;
                s.waker.take()
            }
            Err(p) => {
                let mut s = p.into_inner();
                s.done = true;
                s.waker.take()
            }
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// Runs `f` on a new thread named `name`.
pub fn run<T: Send + 'static>(name: &str, f: impl FnOnce() -> T + Send + 'static) -> Offload<T> {
    let slot = Arc::new(Mutex::new(Slot {
        value: None,
        done: false,
        waker: None,
    }));
    let finish = Finish(slot.clone());
    let spawned = std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            let v = f();
            if let Ok(mut s) = finish.0.lock() {
                s.value = Some(v);
            }
            drop(finish);
        });
    match spawned {
        Ok(_) => Offload { slot: Some(slot) },
        Err(e) => {
            crate::log_error!("management: cannot start a thread: {e}");
            Offload { slot: None }
        }
    }
}

impl<T> Future for Offload<T> {
    type Output = Option<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let Some(slot) = &self.slot else {
            return Poll::Ready(None);
        };
        let mut s = match slot.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        };
        if s.done {
            return Poll::Ready(s.value.take());
        }
        s.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_and_panic_both_resolve() {
        let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let got = run("t-ok", || 41 + 1).await;
            assert_eq!(got, Some(42));
            let gone: Option<u8> = run("t-panic", || panic!("boom")).await;
            assert_eq!(gone, None);
        });
    }
}
