//! SSE scanner: any split of the input gives the same items as the whole input, and both
//! match a naive whole-input reference parser.
#![no_main]

use cliproxy::sse::oracle::{oracle, scan_split as scan};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    // First two bytes choose cut points; the rest is the stream.
    if input.len() < 2 {
        return;
    }
    let body = &input[2..];
    let mut cuts = vec![input[0] as usize % (body.len() + 1), input[1] as usize % (body.len() + 1)];
    cuts.sort_unstable();
    let whole = scan(body, &[]);
    assert_eq!(whole, oracle(body));
    assert_eq!(scan(body, &cuts), whole);
    let every: Vec<usize> = (1..body.len()).collect();
    assert_eq!(scan(body, &every), whole);
});
