//! `PayloadRules::apply` allocates nothing when no rule's gate passes.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use cliproxy::payload::{PayloadCtx, PayloadRules};

struct Counting;

thread_local! {
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards every call to `System` unchanged; only counts calls on the
// current thread (a const-initialised thread-local `Cell` never allocates).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        COUNT.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        COUNT.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn allocations() -> usize {
    COUNT.with(Cell::get)
}

#[test]
fn no_matching_rule_allocates_nothing() {
    let yaml = r#"
payload:
  default: [{models: [{name: "gemini-*", protocol: gemini}], params: {"a.b": 1}}]
  override: [{models: [{name: "gpt-*", headers: {X-Tier: "gold"}}], params: {x: 1}}]
  filter: [{models: [{name: "*", from-protocol: claude}], params: ["y"]}]
"#;
    let (raw, _) = cliproxy::config::parse_raw(yaml).expect("config");
    let (rules, w) = PayloadRules::compile(&raw.payload);
    assert!(w.is_empty());
    let mut body = br#"{"model":"x","y":1}"#.to_vec();
    let headers: [(&str, &[u8]); 1] = [("x-tier", b"silver")];
    let ctx = PayloadCtx {
        upstream_model: "gpt-5",
        requested_model: "gemini-2.5-pro",
        protocol: "codex",
        from_protocol: "openai",
        headers: &headers,
        root: "",
    };
    let before = allocations();
    let r = rules.apply(&ctx, b"", &mut body);
    let after = allocations();
    assert_eq!(r, Ok(false));
    assert_eq!(after - before, 0);
    // The counter works: a matching request does allocate.
    let hit = PayloadCtx {
        from_protocol: "claude",
        ..ctx
    };
    let before = allocations();
    assert_eq!(rules.apply(&hit, b"", &mut body), Ok(true));
    assert!(allocations() > before);
    assert_eq!(body, br#"{"model":"x"}"#);
}
