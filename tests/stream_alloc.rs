//! Allocation discipline: after one warm-up stream, a reused translator (`reset`) feeding a
//! long stream chunk by chunk — and finishing it — makes zero global-allocator calls.

use cliproxy::translate::format::Format;
use cliproxy::translate::stream::testgen::long_stream;
use cliproxy::translate::stream::{new_stream_translator, StreamCtx};
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

fn ctx() -> StreamCtx<'static> {
    StreamCtx {
        model: "client-model",
        created: 1_700_000_000,
        id_seed: 42,
    }
}

/// Allocator calls made while streaming `input` through a warmed-up translator.
fn steady_state_calls(from: Format, to: Format, input: &[u8], chunk: usize) -> u64 {
    let mut t = new_stream_translator(from, to, ctx());
    let mut out = Vec::new();
    for c in input.chunks(chunk) {
        t.feed(c, &mut out);
    }
    t.finish(&mut out);
    assert!(out.len() > 1000, "{from:?}->{to:?} produced output");
    t.reset(ctx());
    out.clear();
    CALLS.with(|n| n.set(0));
    COUNTING.with(|c| c.set(true));
    for c in input.chunks(chunk) {
        t.feed(c, &mut out);
    }
    t.finish(&mut out);
    COUNTING.with(|c| c.set(false));
    CALLS.with(Cell::get)
}

#[test]
fn counter_sees_allocations() {
    COUNTING.with(|c| c.set(true));
    let v: Vec<u8> = Vec::with_capacity(std::hint::black_box(64));
    drop(v);
    COUNTING.with(|c| c.set(false));
    assert_eq!(CALLS.with(Cell::get), 2);
    CALLS.with(|n| n.set(0));
}

#[test]
fn required_pairs_do_not_allocate_in_steady_state() {
    let pairs = [
        (Format::Claude, Format::OpenAiChat),
        (Format::OpenAiChat, Format::Claude),
        (Format::Gemini, Format::OpenAiChat),
        (Format::OpenAiChat, Format::OpenAiResponses),
        // Gemini CLI accounts: unwrapped for Gemini clients, translated for others.
        (Format::GeminiCli, Format::Gemini),
        (Format::GeminiCli, Format::OpenAiChat),
        (Format::GeminiCli, Format::Claude),
    ];
    for (from, to) in pairs {
        let input = long_stream(from, 2000);
        for chunk in [1, 7, 512, 4096] {
            assert_eq!(
                steady_state_calls(from, to, &input, chunk),
                0,
                "{from:?}->{to:?} chunk {chunk}"
            );
        }
    }
}

#[test]
fn other_translating_pairs_do_not_allocate_in_steady_state() {
    let all = [
        Format::OpenAiChat,
        Format::OpenAiResponses,
        Format::Claude,
        Format::Gemini,
    ];
    for from in all {
        for to in all {
            if from == to {
                continue;
            }
            let input = long_stream(from, 1000);
            assert_eq!(
                steady_state_calls(from, to, &input, 1000),
                0,
                "{from:?}->{to:?}"
            );
        }
    }
}
