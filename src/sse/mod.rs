//! Server-Sent Events: an incremental scanner ([`scan`]) and a frame writer ([`mod@write`]).
//!
//! Both do no I/O: the scanner takes reads as they come and reports spans; the writer
//! appends frames to a caller-owned, reused `Vec<u8>`.
pub mod scan;
pub mod write;

#[doc(hidden)]
pub mod oracle;
pub use scan::{Event, Handler, Item, ScanError, Scanner};

/// Index one past the last complete SSE event (blank line) in `b`.
pub fn last_event_boundary(b: &[u8]) -> Option<usize> {
    let mut end = b.len();
    while let Some(p) = memchr::memrchr(b'\n', &b[..end]) {
        if p >= 1 && b[p - 1] == b'\n' {
            return Some(p + 1);
        }
        if p >= 2 && b[p - 1] == b'\r' && b[p - 2] == b'\n' {
            return Some(p + 1);
        }
        end = p;
    }
    None
}

/// A tiny deterministic PRNG (xorshift64*) for randomised unit tests.
#[cfg(test)]
pub(crate) mod test_rng {
    pub struct Rng(pub u64);
    impl Rng {
        pub fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            self.0 = x;
            x.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        /// Uniform-ish in `0..n` (0 when n is 0).
        pub fn below(&mut self, n: usize) -> usize {
            if n == 0 {
                0
            } else {
                (self.next() % n as u64) as usize
            }
        }
    }
}

/// Re-emits an SSE stream as its `data:` payloads back to back, for Gemini
/// clients that asked for a non-SSE `alt` (CLIProxyAPI writes each chunk's
/// JSON as is). Comments and `[DONE]` are dropped.
#[derive(Default)]
pub struct DataOnly {
    scanner: Scanner,
}

impl DataOnly {
    fn take(out: &mut Vec<u8>) -> impl FnMut(Item<'_>) + '_ {
        move |item| {
            if let Item::Event(ev) = item {
                if !ev.data.is_empty() && ev.data != b"[DONE]" {
                    out.extend_from_slice(ev.data);
                }
            }
        }
    }

    /// Converts the complete events in `sse` (partial ones wait).
    pub fn feed(&mut self, sse: &[u8], out: &mut Vec<u8>) {
        // An over-long event is dropped rather than forwarded half-framed.
        let _ = self.scanner.feed(sse, Self::take(out));
    }

    /// Flushes a final event that lacked its blank line.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        let _ = self.scanner.finish(Self::take(out));
    }
}
