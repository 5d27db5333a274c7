//! A one-shot, core-local shutdown signal. It lives with the server (the
//! accept and connection loops wait on it); the runtime fires it.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// A one-shot, core-local shutdown signal that many tasks can await.
///
/// Waiters live in a slot table: a [`ShutdownWait`] takes one slot on its
/// first pending poll, refreshes the waker in place on later polls and frees
/// the slot when dropped. The table therefore holds at most as many wakers
/// as there are live waits, however many connections come and go (a waker
/// left behind would keep its whole task allocation alive).
#[derive(Clone, Default)]
pub struct Shutdown(Rc<ShutdownInner>);

#[derive(Default)]
struct ShutdownInner {
    fired: Cell<bool>,
    /// `None`: a free slot (listed in `free`) or a waiter already woken.
    slots: RefCell<Vec<Option<Waker>>>,
    free: RefCell<Vec<usize>>,
}

impl Shutdown {
    /// Fires the signal, waking every waiter.
    pub fn fire(&self) {
        self.0.fired.set(true);
        let woken: Vec<Waker> = self
            .0
            .slots
            .borrow_mut()
            .iter_mut()
            .filter_map(Option::take)
            .collect();
        for w in woken {
            w.wake();
        }
    }

    /// True once fired.
    pub fn is_fired(&self) -> bool {
        self.0.fired.get()
    }

    /// Resolves when the signal fires.
    pub fn wait(&self) -> ShutdownWait {
        ShutdownWait {
            inner: self.0.clone(),
            slot: None,
        }
    }

    /// Waits currently registered (polled, pending, not yet dropped).
    pub fn waiters(&self) -> usize {
        self.0.slots.borrow().len() - self.0.free.borrow().len()
    }
}

/// Future returned by [`Shutdown::wait`]; deregisters itself when dropped.
pub struct ShutdownWait {
    inner: Rc<ShutdownInner>,
    slot: Option<usize>,
}

impl Future for ShutdownWait {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.inner.fired.get() {
            return Poll::Ready(());
        }
        let this = &mut *self;
        let mut slots = this.inner.slots.borrow_mut();
        match this.slot {
            Some(i) => match slots.get_mut(i) {
                Some(Some(w)) if w.will_wake(cx.waker()) => {}
                Some(s) => *s = Some(cx.waker().clone()),
                None => {}
            },
            None => {
                // The table never shrinks, so a free index is always in range.
                let free = this.inner.free.borrow_mut().pop();
                let i = match free.and_then(|i| slots.get_mut(i).map(|s| (i, s))) {
                    Some((i, s)) => {
                        *s = Some(cx.waker().clone());
                        i
                    }
                    None => {
                        slots.push(Some(cx.waker().clone()));
                        slots.len() - 1
                    }
                };
                this.slot = Some(i);
            }
        }
        Poll::Pending
    }
}

impl Drop for ShutdownWait {
    fn drop(&mut self) {
        if let Some(i) = self.slot.take() {
            if let Some(s) = self.inner.slots.borrow_mut().get_mut(i) {
                *s = None;
            }
            self.inner.free.borrow_mut().push(i);
        }
    }
}
