//! Incremental Server-Sent Events scanner.
//!
//! Guarantees:
//! - Feeding a stream in any split (down to one byte per call) yields exactly the same
//!   sequence of items as feeding it whole.
//! - Line ends are LF, CRLF or CR; a CR at the end of one read followed by LF at the start
//!   of the next read is one line end.
//! - A leading UTF-8 BOM (even split across reads) is ignored.
//! - Field parsing follows the WHATWG rules: `field:value`, one optional space after the
//!   colon is removed, a line without a colon is a field with an empty value, lines starting
//!   with `:` are comments, several `data:` lines are joined with `\n`, an event is
//!   dispatched on a blank line and only if at least one `data` field was seen (an empty
//!   `data:` dispatches an event with empty data).
//! - `id` reports the `id` field given inside the event's own block (ids containing NUL are
//!   ignored, as the spec says); it is not the spec's persistent "last event id".
//! - **EOF deviation from WHATWG:** [`Scanner::finish`] dispatches a pending event that has
//!   data even without the closing blank line (and treats an unterminated last line as a
//!   complete line). Upstreams sometimes omit the final blank line; dropping that event would
//!   lose the end of the stream (often the usage/stop event). CLIProxyAPI handles each
//!   `data:` line as a chunk, so this matches its observable behaviour.
//! - No allocation per event: a single `data:` line that lies inside the current read is
//!   handed out as a span of the caller's buffer; anything that crosses a read boundary or
//!   spans several lines lives in reusable buffers owned by the scanner (they keep their
//!   capacity, so steady state does not allocate).
//! - Memory is bounded by [`MAX_EVENT_BYTES`].

use memchr::memchr2;

/// Upper bound on one event's buffered bytes (a partial line plus joined data).
///
/// Large enough for any realistic single SSE event (tool arguments or base64 image chunks
/// of a few MiB); small enough that a hostile or broken upstream that never sends a line
/// end cannot make one stream hold unbounded memory.
pub const MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;

pub(crate) const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// One dispatched SSE event. All slices are valid only during the callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event<'a> {
    /// The `event:` field, if any was given in this event's block.
    pub event: Option<&'a [u8]>,
    /// The joined `data:` lines (without the final line end).
    pub data: &'a [u8],
    /// The `id:` field, if any was given in this event's block.
    pub id: Option<&'a [u8]>,
    /// The `retry:` field when it was all ASCII digits (and fits in u64).
    pub retry: Option<u64>,
}

/// What the scanner reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item<'a> {
    /// A complete event.
    Event(Event<'a>),
    /// A comment line (text after the leading `:`, e.g. ` keep-alive`).
    Comment(&'a [u8]),
}

/// The scanner refused the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanError {
    /// One event grew beyond [`MAX_EVENT_BYTES`]. The scanner stays in this state.
    EventTooLarge,
}

/// Incremental SSE scanner; see the module docs.
#[derive(Debug, Default)]
pub struct Scanner {
    /// Partial line carried across reads (content without line end).
    carry: Vec<u8>,
    /// Joined data when it cannot be a span of the current read.
    data: Vec<u8>,
    /// `Some((start, end))`: the only data line so far lies in the current read.
    data_span: Option<(usize, usize)>,
    has_data: bool,
    event: Vec<u8>,
    /// `Some((start, end))`: the event's `event:` value lies in the current read
    /// (not copied into `event` unless the event outlives the read).
    event_span: Option<(usize, usize)>,
    has_event: bool,
    id: Vec<u8>,
    has_id: bool,
    retry: Option<u64>,
    /// The previous read ended in CR: a leading LF of the next read is part of that line end.
    pending_cr: bool,
    /// Number of BOM bytes matched at the stream start; 3 or `bom_done` ends the check.
    bom_matched: u8,
    bom_done: bool,
    failed: bool,
}

impl Scanner {
    /// A scanner at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Forget all state (keeps buffer capacity) so the scanner can serve a new stream.
    pub fn reset(&mut self) {
        self.carry.clear();
        self.data.clear();
        self.data_span = None;
        self.has_data = false;
        self.event.clear();
        self.event_span = None;
        self.has_event = false;
        self.id.clear();
        self.has_id = false;
        self.retry = None;
        self.pending_cr = false;
        self.bom_matched = 0;
        self.bom_done = false;
        self.failed = false;
    }

    /// Scan one read. `f` is called for each complete item.
    pub fn feed<F>(&mut self, chunk: &[u8], f: F) -> Result<(), ScanError>
    where
        F: FnMut(Item<'_>),
    {
        self.feed_to(chunk, &mut Items(f))
    }

    /// Scan one read into `h`: like [`Scanner::feed`], and at the start of
    /// each event block, while no part of an event is pending, `h` may take a
    /// whole block at once ([`Handler::whole`]).
    pub fn feed_to<H: Handler>(&mut self, chunk: &[u8], h: &mut H) -> Result<(), ScanError> {
        if self.failed {
            return Err(ScanError::EventTooLarge);
        }
        let mut pos = 0usize;
        if !self.bom_done {
            while pos < chunk.len() {
                let b = chunk[pos];
                if b == BOM[self.bom_matched as usize] {
                    self.bom_matched += 1;
                    pos += 1;
                    if self.bom_matched == 3 {
                        self.bom_done = true;
                        break;
                    }
                } else {
                    // Not a BOM: the bytes held so far are ordinary line content.
                    self.bom_done = true;
                    let held = self.bom_matched as usize;
                    self.carry.extend_from_slice(&BOM[..held]);
                    break;
                }
            }
            if !self.bom_done {
                return Ok(());
            }
        }
        if self.pending_cr && pos < chunk.len() {
            self.pending_cr = false;
            if chunk[pos] == b'\n' {
                pos += 1;
            }
        }
        // Offer `whole` at block starts, except right after it took blocks:
        // it takes every block it can at once (see `Handler::whole`).
        let mut offer = true;
        while pos < chunk.len() {
            if H::WHOLE && offer && self.idle() {
                let n = h.whole(&chunk[pos..]);
                if n > 0 {
                    pos += n;
                    offer = false;
                    continue;
                }
            }
            offer = true;
            match line_end(&chunk[pos..]) {
                Some(off) => {
                    let end = pos + off;
                    let next = if chunk[end] == b'\r' {
                        if end + 1 < chunk.len() {
                            if chunk[end + 1] == b'\n' {
                                end + 2
                            } else {
                                end + 1
                            }
                        } else {
                            self.pending_cr = true;
                            end + 1
                        }
                    } else {
                        end + 1
                    };
                    if self.carry.is_empty() {
                        self.line_from_chunk(chunk, pos, end, h);
                    } else {
                        self.carry.extend_from_slice(&chunk[pos..end]);
                        self.line_from_carry(chunk, h);
                        self.carry.clear();
                    }
                    pos = next;
                }
                None => {
                    self.carry.extend_from_slice(&chunk[pos..]);
                    pos = chunk.len();
                }
            }
        }
        // Spans into this read cannot outlive the call.
        if let Some((s, e)) = self.data_span.take() {
            self.data.extend_from_slice(&chunk[s..e]);
        }
        if let Some((s, e)) = self.event_span.take() {
            self.event.clear();
            self.event.extend_from_slice(&chunk[s..e]);
        }
        if self.carry.len() + self.data.len() > MAX_EVENT_BYTES {
            self.failed = true;
            return Err(ScanError::EventTooLarge);
        }
        Ok(())
    }

    /// End of stream: treat an unterminated last line as complete and dispatch a pending
    /// event that has data (see the module docs for why this deviates from WHATWG).
    pub fn finish<F>(&mut self, f: F) -> Result<(), ScanError>
    where
        F: FnMut(Item<'_>),
    {
        let f = &mut Items(f);
        if self.failed {
            return Err(ScanError::EventTooLarge);
        }
        if !self.bom_done {
            self.bom_done = true;
            let held = self.bom_matched as usize;
            if held < 3 {
                self.carry.extend_from_slice(&BOM[..held]);
            }
        }
        if !self.carry.is_empty() {
            self.line_from_carry(&[], f);
            self.carry.clear();
        }
        self.dispatch(&[], f);
        self.pending_cr = false;
        Ok(())
    }

    /// No part of an event is pending (the scanner is at the start of an
    /// event block, or between blank lines).
    #[inline]
    fn idle(&self) -> bool {
        self.carry.is_empty()
            && !self.has_data
            && !self.has_event
            && !self.has_id
            && self.retry.is_none()
    }

    fn line_from_chunk<H: Handler>(&mut self, chunk: &[u8], start: usize, end: usize, h: &mut H) {
        let line = &chunk[start..end];
        if line.is_empty() {
            self.dispatch(chunk, h);
            return;
        }
        if line[0] == b':' {
            h.item(Item::Comment(&line[1..]));
            return;
        }
        let (name, value_off) = split_field(line);
        if name == b"data" {
            let vs = start + value_off;
            if !self.has_data {
                self.has_data = true;
                self.data_span = Some((vs, end));
            } else {
                if let Some((s, e)) = self.data_span.take() {
                    self.data.extend_from_slice(&chunk[s..e]);
                }
                self.data.push(b'\n');
                self.data.extend_from_slice(&chunk[vs..end]);
            }
        } else if name == b"event" {
            // Like `other_field`, without copying the value out of the read.
            self.event_span = Some((start + value_off, end));
            self.has_event = true;
        } else {
            self.other_field(name, &line[value_off..]);
        }
    }

    fn line_from_carry<H: Handler>(&mut self, chunk: &[u8], h: &mut H) {
        if self.carry.is_empty() {
            self.dispatch(chunk, h);
            return;
        }
        if self.carry[0] == b':' {
            h.item(Item::Comment(&self.carry[1..]));
            return;
        }
        let line = std::mem::take(&mut self.carry);
        let (name, value_off) = split_field(&line);
        if name == b"data" {
            if let Some((s, e)) = self.data_span.take() {
                self.data.extend_from_slice(&chunk[s..e]);
            }
            if self.has_data {
                self.data.push(b'\n');
            }
            self.has_data = true;
            self.data.extend_from_slice(&line[value_off..]);
        } else {
            self.other_field(name, &line[value_off..]);
        }
        // Give the buffer (and its capacity) back.
        self.carry = line;
    }

    fn other_field(&mut self, name: &[u8], value: &[u8]) {
        match name {
            b"event" => {
                self.event_span = None;
                self.event.clear();
                self.event.extend_from_slice(value);
                self.has_event = true;
            }
            b"id" if !value.contains(&0) => {
                self.id.clear();
                self.id.extend_from_slice(value);
                self.has_id = true;
            }
            b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                // Too many digits for u64: ignore the field, like any other invalid value.
                let parsed = value.iter().try_fold(0u64, |n, &d| {
                    n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
                });
                if parsed.is_some() {
                    self.retry = parsed;
                }
            }
            _ => {}
        }
    }

    fn dispatch<H: Handler>(&mut self, chunk: &[u8], h: &mut H) {
        if self.has_data {
            let data: &[u8] = match self.data_span {
                Some((s, e)) => &chunk[s..e],
                None => &self.data,
            };
            let event: &[u8] = match self.event_span {
                Some((s, e)) => &chunk[s..e],
                None => &self.event,
            };
            h.item(Item::Event(Event {
                event: if self.has_event && !event.is_empty() {
                    Some(event)
                } else {
                    None
                },
                data,
                id: if self.has_id { Some(&self.id) } else { None },
                retry: self.retry,
            }));
        }
        self.data.clear();
        self.data_span = None;
        self.has_data = false;
        if self.has_event {
            self.event.clear();
            self.event_span = None;
            self.has_event = false;
        }
        if self.has_id {
            self.id.clear();
            self.has_id = false;
        }
        self.retry = None;
    }
}

/// Receives what [`Scanner::feed_to`] finds.
pub trait Handler {
    /// Whether [`Handler::whole`] is worth calling (`false`: the scanner never does).
    const WHOLE: bool = false;

    /// `rest` starts at the beginning of an event block (no part of an event
    /// is pending) and runs to the end of the read. A handler that recognises
    /// complete blocks at its front — their lines, line ends and the blank
    /// lines that dispatch them — may handle them and return their length; it
    /// must then have done exactly what [`Handler::item`] would have done
    /// with what the scanner dispatches for those bytes. It should take every
    /// such block in a row: the scanner reads the block after them itself
    /// (without offering it again). 0: not handled, the scanner reads the
    /// lines itself.
    #[inline]
    fn whole(&mut self, _rest: &[u8]) -> usize {
        0
    }

    /// One complete item.
    fn item(&mut self, item: Item<'_>);
}

/// A closure as a [`Handler`] without a shortcut.
struct Items<F>(F);

impl<F: FnMut(Item<'_>)> Handler for Items<F> {
    #[inline]
    fn item(&mut self, item: Item<'_>) {
        (self.0)(item)
    }
}

/// The index of the first LF or CR in `b`: what `memchr2` finds, without
/// the search call for a blank line (the end of every event block). A word
/// loop before the call, tried too, cost the event's long `data:` lines more
/// than it saved on the short lines (callgrind, `benches/cpu/translate.sh`).
#[inline]
fn line_end(b: &[u8]) -> Option<usize> {
    match b.first()? {
        b'\n' | b'\r' => Some(0),
        _ => memchr2(b'\n', b'\r', b),
    }
}

/// A block [`simple_block`] takes: its length, `event:` value, data.
pub type SimpleBlock<'a> = (usize, Option<&'a [u8]>, &'a [u8]);

/// One whole event block at the front of `b` in the framing nearly every
/// upstream uses: an optional `event:` line, one `data:` line and a blank
/// line, LF line ends, no other field. Returns the block's length, the
/// `event:` value (`None` when there is no such line or its value is empty)
/// and the data: what [`Scanner`] dispatches for those bytes when it is at
/// the start of a block (tested against it). `None` for anything else (CR,
/// comments, other fields, several `data:` lines, a block not complete in
/// `b`): the scanner reads it.
#[inline]
pub fn simple_block(b: &[u8]) -> Option<SimpleBlock<'_>> {
    let mut at = 0;
    let mut event = None;
    if let Some(r) = b.strip_prefix(b"event:") {
        let v = usize::from(r.first() == Some(&b' '));
        let end = short_line_end(r)?;
        if r[end] != b'\n' {
            return None;
        }
        event = Some(&r[v..end]).filter(|e| !e.is_empty());
        at = 6 + end + 1;
    }
    let r = b[at..].strip_prefix(b"data:")?;
    let v = usize::from(r.first() == Some(&b' '));
    let end = line_end(r)?;
    if r[end] != b'\n' || r.get(end + 1) != Some(&b'\n') {
        return None;
    }
    Some((at + 5 + end + 2, event, &r[v..end]))
}

/// [`line_end`] for a line expected to be short (an `event:` line): its
/// first 32 bytes are searched a word at a time, without the search call.
#[inline]
fn short_line_end(b: &[u8]) -> Option<usize> {
    // High bit set in the lowest byte equal to `c` (exact for that byte).
    use crate::json::span::eq_mask as eq;
    let mut i = 0;
    while let Some(w) = b.get(i..i + 8).filter(|_| i < 32) {
        let w = u64::from_le_bytes(w.try_into().ok()?);
        let m = eq(w, b'\n') | eq(w, b'\r');
        if m != 0 {
            return Some(i + (m.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    line_end(&b[i..]).map(|e| i + e)
}

/// Split a non-empty, non-comment line into field name and the offset of its value.
fn split_field(line: &[u8]) -> (&[u8], usize) {
    // The two fields of nearly every line, without a search call.
    for name in [&b"data"[..], b"event"] {
        if line.len() > name.len() && line.starts_with(name) && line[name.len()] == b':' {
            let v = name.len() + 1;
            return (name, v + usize::from(line.get(v) == Some(&b' ')));
        }
    }
    match memchr::memchr(b':', line) {
        Some(c) => {
            let mut v = c + 1;
            if line.get(v) == Some(&b' ') {
                v += 1;
            }
            (&line[..c], v)
        }
        None => (line, line.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::sse::oracle::{oracle, scan_split, Owned};

    const CASES: &[&[u8]] = &[
        b"data: hello\n\n",
        b"data:hello\r\n\r\ndata: x\rdata: y\r\r",
        b"\xEF\xBB\xBFdata: bom\n\n",
        b"\xEF\xBBdata: not a bom\n\n",
        b"event: message_start\ndata: {\"a\":1}\n\nevent: ping\ndata: {}\n\n",
        b": keep-alive\n\ndata: a\ndata: b\ndata:\n\n",
        b"data:\n\ndata\n\nid: 7\nretry: 1500\ndata: x\n\n",
        b"id: a\0b\nretry: 12x\nevent:\ndata: z\n\n",
        b"data: last event without blank line",
        b"data: a\n\ndata: tail\n",
        b"event: only-event\n\n\n\n",
        b"\r\n\r\ndata: after blank lines\r\n\r\n",
        b"data: caf\xC3\xA9\n\nretry: 99999999999999999999999\ndata: big\n\n",
        b"",
        b"\xEF",
        b"\xEF\xBB\xBF",
    ];

    #[test]
    fn whole_matches_oracle() {
        for c in CASES {
            assert_eq!(
                scan_split(c, &[]),
                oracle(c),
                "case {:?}",
                String::from_utf8_lossy(c)
            );
        }
    }

    #[test]
    fn split_at_every_byte_and_pair_matches_whole() {
        for c in CASES {
            let whole = scan_split(c, &[]);
            for i in 0..=c.len() {
                assert_eq!(scan_split(c, &[i]), whole, "cut {i} in {:?}", c);
                for j in i..=c.len() {
                    assert_eq!(scan_split(c, &[i, j]), whole);
                }
            }
            let every: Vec<usize> = (1..c.len()).collect();
            assert_eq!(scan_split(c, &every), whole);
        }
    }

    #[test]
    fn cr_then_lf_across_reads_is_one_line_end() {
        let got = scan_split(b"data: a\r\n\r\n", &[8]);
        assert_eq!(got, vec![Owned::Event(None, b"a".to_vec(), None, None)]);
        // CR alone then a new line starting in the next read: two line ends.
        let got = scan_split(b"data: a\r\rdata: b\n\n", &[8]);
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn random_inputs_match_oracle_in_random_splits() {
        let mut rng = crate::sse::test_rng::Rng(0x5eed_1234);
        let alphabet: &[&[u8]] = &[
            b"data",
            b"data:",
            b"data: ",
            b"event:",
            b"id: ",
            b"retry: 5",
            b":",
            b"\n",
            b"\r",
            b"\r\n",
            b"x",
            b"{\"a\":1}",
            b" ",
            b"\xEF\xBB\xBF",
            b"\0",
        ];
        for _ in 0..3000 {
            let mut input = Vec::new();
            for _ in 0..rng.below(30) {
                input.extend_from_slice(alphabet[rng.below(alphabet.len())]);
            }
            let expected = oracle(&input);
            assert_eq!(scan_split(&input, &[]), expected, "{:?}", input);
            let mut cuts: Vec<usize> = (0..rng.below(6))
                .map(|_| rng.below(input.len() + 1))
                .collect();
            cuts.sort_unstable();
            assert_eq!(
                scan_split(&input, &cuts),
                expected,
                "{:?} {:?}",
                input,
                cuts
            );
        }
    }

    /// A handler taking runs of whole `event: e\ndata: <line>\n\n` and
    /// `data: <line>\n\n` blocks itself, the scanner the rest.
    struct Shortcut(Vec<Owned>, usize);

    impl Handler for Shortcut {
        const WHOLE: bool = true;
        fn whole(&mut self, rest: &[u8]) -> usize {
            let mut taken = 0;
            loop {
                let n = self.one(&rest[taken..]);
                if n == 0 {
                    return taken;
                }
                taken += n;
            }
        }
        fn item(&mut self, item: Item<'_>) {
            self.0.push(crate::sse::oracle::own(item));
        }
    }

    impl Shortcut {
        fn one(&mut self, rest: &[u8]) -> usize {
            let (event, at) = match rest.strip_prefix(b"event: e\n") {
                Some(r) => (Some(b"e".to_vec()), rest.len() - r.len()),
                None => (None, 0),
            };
            let Some(r) = rest[at..].strip_prefix(b"data: ") else {
                return 0;
            };
            let Some(nl) = memchr::memchr2(b'\n', b'\r', r) else {
                return 0;
            };
            if r[nl] != b'\n' || r.get(nl + 1) != Some(&b'\n') {
                return 0;
            }
            self.0
                .push(Owned::Event(event, r[..nl].to_vec(), None, None));
            self.1 += 1;
            at + 6 + nl + 2
        }
    }

    fn scan_shortcut(input: &[u8], cuts: &[usize]) -> (Vec<Owned>, usize) {
        let mut s = Scanner::new();
        let mut h = Shortcut(Vec::new(), 0);
        let mut prev = 0;
        for &c in cuts.iter().chain(std::iter::once(&input.len())) {
            s.feed_to(&input[prev..c], &mut h).unwrap();
            prev = c;
        }
        let _ = s.finish(|i| h.0.push(crate::sse::oracle::own(i)));
        (h.0, h.1)
    }

    /// A handler's whole-block shortcut is offered only where no part of an
    /// event is pending (after `id:`, `retry:`, `event:` or `data:` lines it
    /// is not), so the items equal the plain scanner's in any split.
    #[test]
    fn whole_block_shortcut_only_at_block_starts() {
        let cases: &[&[u8]] = &[
            b"data: a\n\nevent: e\ndata: b\n\n",
            b"id: 7\ndata: a\n\n",
            b"retry: 5\ndata: a\n\n",
            b"event: x\ndata: a\n\n",
            b"data: a\ndata: b\n\n",
            b"event: e\nid: 1\ndata: a\n\n",
            b": c\ndata: a\n\n\n\ndata: b\n\n",
            b"event: only\n\ndata: a\n\n",
            b"\xEF\xBB\xBFdata: bom\n\n",
            b"data: a\r\ndata: b\n\n",
            b"data: a\r\n\r\ndata: b\n\n",
            b"data: last",
            b"data: a\n\ndata: b\n\nevent: e\ndata: c\n\nid: 1\ndata: d\n\ndata: e\n\n",
            b"data: a\n\ndata: b\n\ndata: c\n",
        ];
        let mut taken = 0;
        for c in cases {
            let expected = oracle(c);
            let (got, n) = scan_shortcut(c, &[]);
            assert_eq!(got, expected, "{:?}", String::from_utf8_lossy(c));
            taken += n;
            for i in 0..=c.len() {
                assert_eq!(scan_shortcut(c, &[i]).0, expected, "cut {i} in {c:?}");
            }
            let every: Vec<usize> = (1..c.len()).collect();
            assert_eq!(scan_shortcut(c, &every), (expected, 0));
        }
        assert!(taken >= 6, "shortcut taken {taken} times");
        let mut rng = crate::sse::test_rng::Rng(0x5107_c0de);
        let alphabet: &[&[u8]] = &[
            b"data: ",
            b"event: e\n",
            b"event: f\n",
            b"id: 1\n",
            b"retry: 5\n",
            b": c\n",
            b"\n",
            b"\r",
            b"\r\n",
            b"x",
            b"\n\n",
        ];
        for _ in 0..3000 {
            let mut input = Vec::new();
            for _ in 0..rng.below(30) {
                input.extend_from_slice(alphabet[rng.below(alphabet.len())]);
            }
            let expected = oracle(&input);
            assert_eq!(scan_shortcut(&input, &[]).0, expected, "{input:?}");
            let cut = rng.below(input.len() + 1);
            assert_eq!(scan_shortcut(&input, &[cut]).0, expected, "{input:?} {cut}");
        }
    }

    /// `simple_block` takes exactly the first block the scanner dispatches,
    /// and the scanner reads the rest as it would have after that block: on
    /// the framings it takes (with and without an event line, empty values,
    /// long event names) and near misses (CR, comments, other fields, two
    /// data lines, a missing blank line, `data:` without its space).
    #[test]
    fn simple_block_agrees_with_the_scanner() {
        let long = format!("event: {}\ndata: x\n\n", "e".repeat(40));
        let cases: &[&[u8]] = &[
            b"event: e\ndata: {\"a\":1}\n\n",
            b"data: {\"a\":1}\n\ndata: b\n\n",
            b"event:e\ndata:x\n\n",
            b"event:\ndata: x\n\n",
            b"event: \ndata:\n\n",
            b"event:  two spaces\ndata:  two\n\n",
            b"event: message_start\ndata: {\"type\":\"message_start\"}\n\nevent: ping\n",
            long.as_bytes(),
            b"event: e\r\ndata: x\n\n",
            b"event: e\ndata: x\r\n\r\n",
            b"event: e\ndata: x\n\r\n",
            b"event: e\ndata: x\n",
            b"event: e\ndata: x",
            b"event: e\n\n",
            b"event: e\nid: 1\ndata: x\n\n",
            b"event: e\ndata: x\ndata: y\n\n",
            b"event: e\n: c\ndata: x\n\n",
            b"id: 1\ndata: x\n\n",
            b": c\n\ndata: x\n\n",
            b"event\ndata: x\n\n",
            b"events: e\ndata: x\n\n",
            b"data\n\n",
            b"event: e\revent: f\ndata: x\n\n",
            b"event: e\ndata: a\rb\n\n",
            b"",
        ];
        let mut taken = 0;
        let check = |input: &[u8]| -> bool {
            let Some((n, event, data)) = simple_block(input) else {
                return false;
            };
            let want = oracle(input);
            assert_eq!(
                want.first(),
                Some(&Owned::Event(
                    event.map(<[u8]>::to_vec),
                    data.to_vec(),
                    None,
                    None
                )),
                "{:?}",
                String::from_utf8_lossy(input)
            );
            assert_eq!(oracle(&input[n..]), want[1..], "{input:?}");
            assert_eq!(oracle(&input[..n]), want[..1], "{input:?}");
            true
        };
        for c in cases {
            taken += usize::from(check(c));
        }
        assert_eq!(taken, 8, "taken");
        let mut rng = crate::sse::test_rng::Rng(0x0051_b10c);
        let alphabet: &[&[u8]] = &[
            b"data:",
            b"data: ",
            b"event:",
            b"event: e",
            b"id: 1",
            b": c",
            b" ",
            b"\n",
            b"\r",
            b"\r\n",
            b"x",
            b"\n\n",
        ];
        let mut taken = 0;
        for _ in 0..20_000 {
            let mut input = Vec::new();
            for _ in 0..rng.below(12) {
                input.extend_from_slice(alphabet[rng.below(alphabet.len())]);
            }
            taken += usize::from(check(&input));
        }
        assert!(taken > 100, "random inputs taken {taken} times");
    }

    /// `line_end` finds what `memchr2` finds: every length, LF, CR or
    /// neither at every position, bytes that differ from LF/CR by one bit.
    #[test]
    fn line_end_agrees_with_memchr2() {
        for len in 0..48 {
            for at in 0..=len {
                for (end, fill) in [
                    (b'\n', b'x'),
                    (b'\r', b'\x0b'),
                    (b'\n', b'\x0c'),
                    (b'\r', 0),
                ] {
                    let mut b = vec![fill; len];
                    if at < len {
                        b[at] = end;
                    }
                    assert_eq!(line_end(&b), memchr2(b'\n', b'\r', &b), "{b:?}");
                    if at + 1 < len {
                        b[at + 1] = b'\n';
                        assert_eq!(line_end(&b), memchr2(b'\n', b'\r', &b), "{b:?}");
                    }
                }
            }
        }
        let mut rng = crate::sse::test_rng::Rng(0x11e_e4d);
        for _ in 0..20_000 {
            let b: Vec<u8> = (0..rng.below(50))
                .map(|_| [b'\n', b'\r', 0, 9, 11, 12, 14, b'a', 0x8a, 0x8d][rng.below(10)])
                .collect();
            assert_eq!(line_end(&b), memchr2(b'\n', b'\r', &b), "{b:?}");
        }
    }

    #[test]
    fn oversized_event_is_refused() {
        let mut s = Scanner::new();
        let big = vec![b'x'; 1024 * 1024];
        let mut r = Ok(());
        s.feed(b"data: ", |_| {}).unwrap();
        for _ in 0..(MAX_EVENT_BYTES / big.len() + 1) {
            r = s.feed(&big, |_| {});
            if r.is_err() {
                break;
            }
        }
        assert_eq!(r, Err(ScanError::EventTooLarge));
        assert_eq!(s.feed(b"\n\n", |_| {}), Err(ScanError::EventTooLarge));
        s.reset();
        let mut n = 0;
        s.feed(b"data: ok\n\n", |_| n += 1).unwrap();
        assert_eq!(n, 1);
    }
}
