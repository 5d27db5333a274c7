//! Amp response rewriter: never panics, and any split of a body gives the
//! same output as the whole body, for streams and for held bodies; the
//! request sanitiser never panics and keeps valid JSON valid.
#![no_main]

use cliproxy::amp::rewrite::Rewriter;
use cliproxy::amp::sanitize::sanitize_request;
use libfuzzer_sys::fuzz_target;

fn rewrite(body: &[u8], cuts: &[usize], sse: bool, suppress: bool) -> Vec<u8> {
    let mut r = Rewriter::new("asked\"model", suppress, sse);
    let mut out = Vec::new();
    let mut at = 0;
    for &c in cuts {
        r.feed(&body[at..c], &mut out);
        at = c;
    }
    r.feed(&body[at..], &mut out);
    r.finish(&mut out);
    out
}

fuzz_target!(|input: &[u8]| {
    // First byte: flags; next two: cut points; the rest is the body.
    if input.len() < 3 {
        return;
    }
    let (sse, suppress) = (input[0] & 1 == 1, input[0] & 2 == 2);
    let body = &input[3..];
    let mut cuts = vec![
        input[1] as usize % (body.len() + 1),
        input[2] as usize % (body.len() + 1),
    ];
    cuts.sort_unstable();
    let whole = rewrite(body, &[], sse, suppress);
    assert_eq!(rewrite(body, &cuts, sse, suppress), whole);
    let every: Vec<usize> = (1..body.len()).collect();
    assert_eq!(rewrite(body, &every, sse, suppress), whole);
    if !sse && serde_json::from_slice::<serde_json::Value>(body).is_ok() {
        let s = String::from_utf8_lossy(&whole).into_owned();
        if !s.trim_start().starts_with("data:") && !s.trim_start().starts_with("event:") {
            assert!(serde_json::from_slice::<serde_json::Value>(&whole).is_ok(), "{s}");
        }
    }
    let clean = sanitize_request(body);
    if serde_json::from_slice::<serde_json::Value>(body).is_ok() {
        assert!(serde_json::from_slice::<serde_json::Value>(&clean).is_ok());
    }
});
