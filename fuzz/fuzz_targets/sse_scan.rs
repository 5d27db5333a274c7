//! SSE scanner: any split of the input gives the same items as the whole input, and both
//! match a naive whole-input reference parser.
#![no_main]

use cliproxy::sse::{Item, Scanner};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, PartialEq, Eq)]
enum Owned {
    Event(Option<Vec<u8>>, Vec<u8>, Option<Vec<u8>>, Option<u64>),
    Comment(Vec<u8>),
}

fn own(i: Item<'_>) -> Owned {
    match i {
        Item::Event(e) => Owned::Event(e.event.map(<[u8]>::to_vec), e.data.to_vec(), e.id.map(<[u8]>::to_vec), e.retry),
        Item::Comment(c) => Owned::Comment(c.to_vec()),
    }
}

fn scan(input: &[u8], cuts: &[usize]) -> Vec<Owned> {
    let mut s = Scanner::new();
    let mut out = Vec::new();
    let mut prev = 0;
    for &c in cuts.iter().chain(std::iter::once(&input.len())) {
        s.feed(&input[prev..c], |i| out.push(own(i))).unwrap();
        prev = c;
    }
    s.finish(|i| out.push(own(i))).unwrap();
    out
}

fn oracle(input: &[u8]) -> Vec<Owned> {
    let input = input.strip_prefix(&[0xEF, 0xBB, 0xBF][..]).unwrap_or(input);
    let mut lines = Vec::new();
    let mut cur = Vec::new();
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'\r' => {
                lines.push(std::mem::take(&mut cur));
                if input.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
            }
            b'\n' => lines.push(std::mem::take(&mut cur)),
            b => cur.push(b),
        }
        i += 1;
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines.push(Vec::new());
    let mut out = Vec::new();
    let (mut data, mut has) = (Vec::new(), false);
    let (mut ev, mut id, mut retry): (Option<Vec<u8>>, Option<Vec<u8>>, Option<u64>) = (None, None, None);
    for l in lines {
        if l.is_empty() {
            if has {
                out.push(Owned::Event(ev.clone().filter(|e| !e.is_empty()), data.clone(), id.clone(), retry));
            }
            data.clear();
            has = false;
            ev = None;
            id = None;
            retry = None;
            continue;
        }
        if l[0] == b':' {
            out.push(Owned::Comment(l[1..].to_vec()));
            continue;
        }
        let (name, mut value) = match l.iter().position(|&b| b == b':') {
            Some(c) => (l[..c].to_vec(), l[c + 1..].to_vec()),
            None => (l.clone(), Vec::new()),
        };
        if value.first() == Some(&b' ') {
            value.remove(0);
        }
        match &name[..] {
            b"data" => {
                if has {
                    data.push(b'\n');
                }
                has = true;
                data.extend_from_slice(&value);
            }
            b"event" => ev = Some(value),
            b"id" if !value.contains(&0) => id = Some(value),
            b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                if let Ok(n) = std::str::from_utf8(&value).unwrap_or("x").parse::<u64>() {
                    retry = Some(n);
                }
            }
            _ => {}
        }
    }
    out
}

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
