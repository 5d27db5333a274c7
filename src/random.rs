//! Unpredictable ids (request ids, WebSocket keys and masks, session ids):
//! not for secrets. Kept below every other module so the transports and the
//! account heads can share it.

/// 64 unpredictable bits: SipHash under per-thread random keys (from the
/// OS, via `RandomState`) over a counter. For ids, not for secrets.
pub fn random_u64() -> u64 {
    use std::cell::Cell;
    use std::hash::{BuildHasher, RandomState};
    thread_local! {
        static STATE: (RandomState, Cell<u64>) = (RandomState::new(), Cell::new(0));
    }
    STATE.with(|(s, n)| {
        let c = n.get().wrapping_add(1);
        n.set(c);
        s.hash_one(c)
    })
}

/// Fills `buf` with [`random_u64`] bytes.
pub fn random_bytes(buf: &mut [u8]) {
    for chunk in buf.chunks_mut(8) {
        let r = random_u64().to_le_bytes();
        chunk.copy_from_slice(&r[..chunk.len()]);
    }
}
