//! Request-head parser and chunked decoder: arbitrary bytes never panic, and
//! feeding the input split at an arbitrary point gives the same result as whole.
#![no_main]
use cliproxy::h1::{parse_request_head, ChunkedDecoder, RequestHead};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut head = RequestHead::default();
    let whole = parse_request_head(data, &mut head);
    if let Ok(Some(())) = whole {
        // Every prefix shorter than the head is incomplete or the same error class.
        let n = head.head_len;
        let mut h2 = RequestHead::default();
        assert_eq!(parse_request_head(&data[..n], &mut h2), Ok(Some(())));
        assert_eq!(h2.head_len, n);
    }
    // Chunked decoding: whole vs split at the first byte's value.
    let cut = data.first().map(|&b| b as usize % (data.len() + 1)).unwrap_or(0);
    let mut a = Vec::new();
    let ra = ChunkedDecoder::new().feed(data, |d| a.extend_from_slice(d));
    let mut b = Vec::new();
    let mut d = ChunkedDecoder::new();
    let rb = d.feed(&data[..cut], |x| b.extend_from_slice(x)).and_then(|p| {
        if p.done {
            Ok(p)
        } else {
            d.feed(&data[cut..], |x| b.extend_from_slice(x)).map(|q| cliproxy::h1::chunked::Progress {
                consumed: p.consumed + q.consumed,
                done: q.done,
            })
        }
    });
    match (ra, rb) {
        (Ok(pa), Ok(pb)) => {
            assert_eq!(pa, pb);
            assert_eq!(a, b);
        }
        (Err(_), Err(_)) => {}
        (x, y) => panic!("whole {x:?} vs split {y:?}"),
    }
});
