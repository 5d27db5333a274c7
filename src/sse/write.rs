//! SSE frame writer: appends `event:` / `data:` frames to a reused output buffer.
//!
//! Guarantees: every frame written is a complete SSE event (terminated by a blank line);
//! data containing line ends is split into several `data:` lines so it round-trips through
//! any conforming scanner; the writer never allocates except when `out` must grow.

/// Append `event: <name>\ndata: <data>\n\n` (no `event:` line when `event` is `None`).
pub fn write_event(out: &mut Vec<u8>, event: Option<&[u8]>, data: &[u8]) {
    if let Some(e) = event {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(e);
        out.push(b'\n');
    }
    let mut rest = data;
    loop {
        out.extend_from_slice(b"data: ");
        match memchr::memchr2(b'\n', b'\r', rest) {
            Some(i) => {
                out.extend_from_slice(&rest[..i]);
                out.push(b'\n');
                let skip = if rest[i] == b'\r' && rest.get(i + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                };
                rest = &rest[i + skip..];
            }
            None => {
                out.extend_from_slice(rest);
                out.extend_from_slice(b"\n\n");
                return;
            }
        }
    }
}

/// Begin a frame whose single-line data the caller appends next; close it with [`end`].
/// The caller must not write CR or LF between `begin` and `end`.
pub fn begin(out: &mut Vec<u8>, event: Option<&[u8]>) {
    if let Some(e) = event {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(e);
        out.push(b'\n');
    }
    out.extend_from_slice(b"data: ");
}

/// Finish a frame opened with [`begin`].
pub fn end(out: &mut Vec<u8>) {
    out.extend_from_slice(b"\n\n");
}

/// Append a comment frame `: <text>\n\n` (keep-alive). `text` must not contain CR/LF;
/// such bytes are replaced by spaces.
pub fn write_comment(out: &mut Vec<u8>, text: &[u8]) {
    out.extend_from_slice(b": ");
    for &b in text {
        out.push(if b == b'\n' || b == b'\r' { b' ' } else { b });
    }
    out.extend_from_slice(b"\n\n");
}

/// Appends `a`, `b` and `c` with one capacity check: what three
/// `extend_from_slice` calls do, without their per-call overhead (the
/// per-event writes of a translated stream are three pieces).
#[inline(always)]
pub fn put3(out: &mut Vec<u8>, a: &[u8], b: &[u8], c: &[u8]) {
    out.reserve(a.len() + b.len() + c.len());
    let mut len = out.len();
    for p in [a, b, c] {
        // SAFETY: `reserve` made room for all three pieces past the old
        // length, and `len` counts what was written since; `p` is a shared
        // borrow, so it cannot overlap `out`'s buffer (borrowed mutably).
        unsafe {
            std::ptr::copy_nonoverlapping(p.as_ptr(), out.as_mut_ptr().add(len), p.len());
        }
        len += p.len();
    }
    // SAFETY: every byte below `len` was written above (or before).
    unsafe { out.set_len(len) };
}

/// [`put3`] whose middle piece is `window[..len]` (`len` at most 16; more is
/// taken as 16): the window is copied whole, a fixed-size copy without a
/// call, and `c` is written over what follows the middle piece, so only
/// `a`, `window[..len]` and `c` are appended. For short texts of a read
/// (the window is the text and the bytes after it in the read).
#[inline(always)]
pub fn put3_window(out: &mut Vec<u8>, a: &[u8], window: &[u8; 16], len: usize, c: &[u8]) {
    let len = len.min(16);
    out.reserve(a.len() + window.len() + c.len());
    let start = out.len();
    let base = out.as_mut_ptr();
    // SAFETY: `reserve` made room for `a`, 16 bytes and `c` past `start`;
    // the window goes at `start + a.len()` and `c` at `start + a.len() +
    // len` with `len <= 16`, so every write is inside that room. The
    // sources are shared borrows, which cannot overlap `out`'s buffer
    // (borrowed mutably).
    unsafe {
        std::ptr::copy_nonoverlapping(a.as_ptr(), base.add(start), a.len());
        let mid = start + a.len();
        std::ptr::copy_nonoverlapping(window.as_ptr(), base.add(mid), window.len());
        std::ptr::copy_nonoverlapping(c.as_ptr(), base.add(mid + len), c.len());
    }
    // SAFETY: every byte below the new length was written above (or before).
    unsafe { out.set_len(start + a.len() + len + c.len()) };
}

/// Append the OpenAI terminator `data: [DONE]\n\n`.
pub fn write_done(out: &mut Vec<u8>) {
    out.extend_from_slice(b"data: [DONE]\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sse::{Item, Scanner};

    fn events(bytes: &[u8]) -> Vec<(Option<Vec<u8>>, Vec<u8>)> {
        let mut s = Scanner::new();
        let mut v = Vec::new();
        let mut f = |i: Item<'_>| {
            if let Item::Event(e) = i {
                v.push((e.event.map(<[u8]>::to_vec), e.data.to_vec()))
            }
        };
        s.feed(bytes, &mut f).unwrap();
        s.finish(&mut f).unwrap();
        v
    }

    #[test]
    fn frames_round_trip_through_scanner() {
        let mut out = Vec::new();
        write_event(&mut out, Some(b"message_start"), b"{\"a\":1}");
        write_event(&mut out, None, b"line1\nline2\r\nline3");
        write_comment(&mut out, b"keep-alive\nx");
        begin(&mut out, Some(b"e"));
        out.extend_from_slice(b"{}");
        end(&mut out);
        write_done(&mut out);
        assert_eq!(
            events(&out),
            vec![
                (Some(b"message_start".to_vec()), b"{\"a\":1}".to_vec()),
                (None, b"line1\nline2\nline3".to_vec()),
                (Some(b"e".to_vec()), b"{}".to_vec()),
                (None, b"[DONE]".to_vec()),
            ]
        );
        assert!(out.starts_with(b"event: message_start\ndata: {\"a\":1}\n\n"));
    }

    #[test]
    fn put3_window_appends_the_window_prefix_only() {
        let window = *b"0123456789abcdef";
        for cap in [0, 3, 20, 64] {
            for len in 0..=18 {
                let mut out = Vec::with_capacity(cap);
                out.extend_from_slice(b"ab");
                put3_window(&mut out, b"cde", &window, len, b"xyz");
                let mut want = b"abcde".to_vec();
                want.extend_from_slice(&window[..len.min(16)]);
                want.extend_from_slice(b"xyz");
                assert_eq!(out, want, "cap {cap} len {len}");
            }
        }
    }

    #[test]
    fn put3_appends_like_extend_from_slice() {
        for cap in [0, 3, 64] {
            let mut out = Vec::with_capacity(cap);
            out.extend_from_slice(b"ab");
            put3(&mut out, b"cde", b"", &[b'f'; 70]);
            put3(&mut out, b"", b"g", b"");
            let mut want = b"abcde".to_vec();
            want.extend_from_slice(&[b'f'; 70]);
            want.push(b'g');
            assert_eq!(out, want);
        }
    }
}
