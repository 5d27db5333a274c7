//! Zero-allocation proof for the hot path: `Shard::pick` + `Shard::release`
//! (success and a body-less 429) and a successful `RetryPlan` request, after a
//! warm-up, allocate nothing. Uses its own counting global allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use cliproxy::credentials::{
    CredentialSpec, Next, Outcome, RetryPlan, Scheduler, Settings, Strategy,
};

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);
static ARMED: AtomicBool = AtomicBool::new(false);

// SAFETY: delegates every operation to the system allocator unchanged; the
// counter is a plain atomic with no allocation of its own.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if ARMED.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if ARMED.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn specs() -> Vec<CredentialSpec> {
    let mut v = Vec::new();
    for i in 0..100i32 {
        let provider = if i % 2 == 0 { "gemini" } else { "claude" };
        let mut c = CredentialSpec::new(&format!("cred-{i:03}"), provider, &["m1", "m2"]);
        c.priority = i % 3;
        c.weight = 1 + (i % 4) as u32;
        v.push(c);
    }
    v
}

fn measure(strategy: Strategy) -> usize {
    let settings = Settings {
        strategy,
        ..Settings::default()
    };
    let s = Scheduler::new(settings, &specs());
    let mut sh = s.shard();
    let single = sh.route("m1", &["gemini"]).expect("route");
    let mixed = sh.route("m2", &["gemini", "claude"]).expect("route");
    let rate_limited = Outcome::failure(429, b"");
    let run = |sh: &mut cliproxy::credentials::Shard, base: u64| {
        for i in 0..2_000u64 {
            let now = base + i * 5_000;
            for route in [&single, &mixed] {
                let l = sh.pick(route, now).expect("pick");
                let o = if i % 7 == 0 {
                    &rate_limited
                } else {
                    &Outcome::success()
                };
                sh.release(l, o, now);
            }
            let mut plan = RetryPlan::new(sh, single, None);
            match plan.next(sh, now) {
                Next::Try(l) => plan.report(sh, l, &Outcome::success(), now),
                other => panic!("{other:?}"),
            }
            assert_eq!(plan.next(sh, now), Next::Done);
        }
    };
    run(&mut sh, 1); // warm-up: per-shard tables grow once
    ALLOCS.store(0, Ordering::SeqCst);
    ARMED.store(true, Ordering::SeqCst);
    run(&mut sh, 100_000_000);
    ARMED.store(false, Ordering::SeqCst);
    ALLOCS.load(Ordering::SeqCst)
}

#[test]
fn pick_and_release_do_not_allocate() {
    for strategy in [
        Strategy::RoundRobin,
        Strategy::FillFirst,
        Strategy::WeightedRoundRobin,
    ] {
        assert_eq!(measure(strategy), 0, "{strategy:?}");
    }
}
