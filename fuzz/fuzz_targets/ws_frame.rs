//! WebSocket frame decoder and the HTTP-answer bridge: any split of the
//! input gives the same messages (or the same close code) as the whole
//! input, and neither panics on arbitrary bytes.
#![no_main]

use cliproxy::ws::bridge::Bridge;
use cliproxy::ws::frame::{Decoder, Fail, Message};
use libfuzzer_sys::fuzz_target;

/// Feeds `wire` in pieces ending at `cuts` into an accumulating buffer, as
/// the session does.
fn decode(wire: &[u8], cuts: &[usize]) -> (Vec<Message>, Option<Fail>) {
    let mut d = Decoder::new(4096);
    let (mut buf, mut out, mut fed) = (Vec::new(), Vec::new(), 0);
    for &cut in cuts.iter().chain(std::iter::once(&wire.len())) {
        buf.extend_from_slice(&wire[fed..cut]);
        fed = cut;
        loop {
            match d.next(&buf) {
                Ok(Some((n, m))) => {
                    buf.drain(..n);
                    out.extend(m);
                }
                Ok(None) => break,
                Err(f) => return (out, Some(f)),
            }
        }
    }
    (out, None)
}

fn bridge(http: &[u8], cuts: &[usize]) -> Vec<u8> {
    let mut b = Bridge::new();
    let (mut frames, mut fed) = (Vec::new(), 0);
    for &cut in cuts.iter().chain(std::iter::once(&http.len())) {
        b.feed(&http[fed..cut], &mut frames);
        fed = cut;
    }
    frames
}

fuzz_target!(|input: &[u8]| {
    // First two bytes choose cut points; the rest is the input.
    if input.len() < 2 {
        return;
    }
    let body = &input[2..];
    let mut cuts = vec![
        input[0] as usize % (body.len() + 1),
        input[1] as usize % (body.len() + 1),
    ];
    cuts.sort_unstable();
    let whole = decode(body, &[]);
    assert_eq!(decode(body, &cuts), whole);
    let every: Vec<usize> = (1..body.len()).collect();
    assert_eq!(decode(body, &every), whole);
    let frames = bridge(body, &[]);
    assert_eq!(bridge(body, &cuts), frames);
    assert_eq!(bridge(body, &every), frames);
});
