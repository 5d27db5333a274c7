//! Test support, shared by the unit tests and the `sse_scan` fuzz target: a
//! naive whole-input SSE parser (the oracle the incremental scanner must
//! agree with) and a helper that scans input split at given cut points.
//! Not used on any request path.

use super::scan::BOM;
use super::{Item, Scanner};

/// An owned item for comparisons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owned {
    /// event, data, id, retry
    Event(Option<Vec<u8>>, Vec<u8>, Option<Vec<u8>>, Option<u64>),
    /// A comment line.
    Comment(Vec<u8>),
}

pub fn own(i: Item<'_>) -> Owned {
    match i {
        Item::Event(e) => Owned::Event(
            e.event.map(<[u8]>::to_vec),
            e.data.to_vec(),
            e.id.map(<[u8]>::to_vec),
            e.retry,
        ),
        Item::Comment(c) => Owned::Comment(c.to_vec()),
    }
}

pub fn scan_split(input: &[u8], cuts: &[usize]) -> Vec<Owned> {
    let mut s = Scanner::new();
    let mut out = Vec::new();
    let mut prev = 0;
    for &c in cuts.iter().chain(std::iter::once(&input.len())) {
        // A scanner error leaves the output short, which any comparison catches.
        if s.feed(&input[prev..c], |i| out.push(own(i))).is_err() {
            return out;
        }
        prev = c;
    }
    let _ = s.finish(|i| out.push(own(i)));
    out
}

/// Naive reference: whole input, String-free byte line splitting, spec field rules.
pub fn oracle(input: &[u8]) -> Vec<Owned> {
    let input = input.strip_prefix(&BOM[..]).unwrap_or(input);
    let mut lines: Vec<Vec<u8>> = Vec::new();
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
    lines.push(Vec::new()); // EOF dispatch (documented deviation)
    let mut out = Vec::new();
    let (mut data, mut has_data) = (Vec::new(), false);
    let (mut ev, mut id, mut retry) = (None::<Vec<u8>>, None::<Vec<u8>>, None);
    for l in lines {
        if l.is_empty() {
            if has_data {
                out.push(Owned::Event(
                    ev.clone().filter(|e| !e.is_empty()),
                    data.clone(),
                    id.clone(),
                    retry,
                ));
            }
            data.clear();
            has_data = false;
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
                if has_data {
                    data.push(b'\n');
                }
                has_data = true;
                data.extend_from_slice(&value);
            }
            b"event" => ev = Some(value),
            b"id" if !value.contains(&0) => id = Some(value),
            b"retry" if !value.is_empty() && value.iter().all(|b| b.is_ascii_digit()) => {
                if let Some(n) = std::str::from_utf8(&value)
                    .ok()
                    .and_then(|v| v.parse::<u64>().ok())
                {
                    retry = Some(n);
                }
            }
            _ => {}
        }
    }
    out
}
