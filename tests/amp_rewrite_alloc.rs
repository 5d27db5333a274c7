//! Allocation discipline of the Amp response rewriter: after one warm-up
//! stream, a reused rewriter (`reset`) rewriting a long SSE stream read by
//! read, and finishing it, makes zero global-allocator calls.

use cliproxy::amp::rewrite::Rewriter;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static CALLS: Cell<u64> = const { Cell::new(0) };
}

fn note() {
    // try_with: the allocator may run during thread teardown.
    let _ = COUNTING.try_with(|c| {
        if c.get() {
            let _ = CALLS.try_with(|n| n.set(n.get() + 1));
        }
    });
}

// SAFETY: forwards every call unchanged to the system allocator; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static A: Counting = Counting;

/// A Claude-style stream: model in `message_start`, thinking and tool_use
/// blocks without signatures, many deltas.
fn stream() -> Vec<u8> {
    let mut s = String::from("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"served-model\",\"content\":[]}}\n\n");
    for i in 0..200 {
        s.push_str(&format!("event: content_block_start\ndata: {{\"type\":\"content_block_start\",\"index\":{i},\"content_block\":{{\"type\":\"thinking\",\"thinking\":\"\"}}}}\n\n"));
        s.push_str(&format!("event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":{i},\"delta\":{{\"type\":\"thinking_delta\",\"thinking\":\"step {i}\"}}}}\n\n"));
        s.push_str(&format!("event: content_block_start\ndata: {{\"type\":\"content_block_start\",\"index\":{i},\"content_block\":{{\"type\":\"tool_use\",\"id\":\"t{i}\",\"name\":\"Bash\",\"input\":{{}}}}}}\n\n"));
        s.push_str(": keep-alive\n\n");
    }
    s.push_str("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
    s.into_bytes()
}

fn run(r: &mut Rewriter, suppress: bool, input: &[u8], chunk: usize, out: &mut Vec<u8>) {
    r.reset("client-model(high)", suppress, true);
    for c in input.chunks(chunk) {
        out.clear();
        r.feed(c, out);
    }
    out.clear();
    r.finish(out);
}

#[test]
fn rewriter_steady_state_makes_no_allocation() {
    let input = stream();
    // Thinking suppression off (blocks kept, signatures injected) and on
    // (thinking blocks dropped from the stream by index).
    for suppress in [false, true] {
        for chunk in [1, 7, 64, 4096] {
            let mut r = Rewriter::default();
            let mut out = Vec::with_capacity(64 * 1024);
            run(&mut r, suppress, &input, chunk, &mut out);
            // The warm-up rewrote something.
            let mut check = Vec::new();
            r.reset("client-model(high)", suppress, true);
            r.feed(&input, &mut check);
            r.finish(&mut check);
            let text = String::from_utf8(check).unwrap();
            assert!(text.contains(r#""model":"client-model(high)""#));
            let signatures = text.matches(r#""signature":"""#).count();
            if suppress {
                assert!(signatures > 0 && signatures < 400, "{signatures}");
                assert!(!text.contains("thinking_delta"));
            } else {
                assert_eq!(signatures, 400);
            }
            run(&mut r, suppress, &input, chunk, &mut out);
            CALLS.with(|n| n.set(0));
            COUNTING.with(|c| c.set(true));
            run(&mut r, suppress, &input, chunk, &mut out);
            COUNTING.with(|c| c.set(false));
            let calls = CALLS.with(|n| n.get());
            assert_eq!(
                calls, 0,
                "allocator calls with {chunk}-byte reads (suppress {suppress})"
            );
        }
    }
}

/// The connection filter around it (HTTP framing, chunk decode and
/// re-encode): once its buffers have grown during the first part of a
/// response, the rest of the response costs no allocator call either.
#[test]
fn response_filter_steady_state_makes_no_allocation() {
    use cliproxy::amp::filter::ResponseFilter;
    let body = stream();
    let mut resp =
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
            .to_vec();
    for c in body.chunks(97) {
        resp.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        resp.extend_from_slice(c);
        resp.extend_from_slice(b"\r\n");
    }
    resp.extend_from_slice(b"0\r\n\r\n");
    for piece in [64, 500] {
        let mut f = ResponseFilter::new("client-model", false);
        let mut out = Vec::with_capacity(4096);
        let mut sent = Vec::new();
        let warm = resp.len() / 4;
        let mut counted = 0;
        for (i, c) in resp.chunks(piece).enumerate() {
            out.clear();
            out.extend_from_slice(c);
            let counting = i * piece >= warm;
            if counting {
                CALLS.with(|n| n.set(0));
                COUNTING.with(|c| c.set(true));
            }
            f.apply(&mut out);
            if counting {
                COUNTING.with(|c| c.set(false));
                counted += CALLS.with(|n| n.get());
            }
            sent.extend_from_slice(&out);
        }
        assert_eq!(counted, 0, "allocator calls with {piece}-byte writes");
        let text = String::from_utf8_lossy(&sent);
        assert_eq!(text.matches(r#""signature":"""#).count(), 400);
        assert!(text.ends_with("0\r\n\r\n"));
    }
}
