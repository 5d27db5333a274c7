//! The response rewriter applied to a locally served answer as it leaves:
//! the forward path writes its HTTP/1.1 response into `Conn::out` as usual,
//! and this filter (installed on the connection for one Amp request) turns
//! those bytes into the rewritten response at each flush. A body framed by
//! `Content-Length` is held to its end and sent with the corrected length;
//! a chunked one is decoded, rewritten as it comes and chunked again.
//! Answers other than 2xx pass unchanged.

use super::rewrite::Rewriter;
use crate::h1::{chunked::ChunkedDecoder, encode};

enum State {
    /// Collecting the response head.
    Head,
    /// Holding a `Content-Length` body: the head and the bytes still due.
    Length(usize),
    /// Decoding and re-encoding a chunked body.
    Chunked,
    /// Everything else goes out as it is.
    Pass,
}

/// See the module docs.
pub struct ResponseFilter {
    rw: Rewriter,
    model: String,
    suppress: bool,
    state: State,
    head: Vec<u8>,
    body: Vec<u8>,
    dec: ChunkedDecoder,
    /// Rewritten body bytes before chunk framing.
    tmp: Vec<u8>,
    next: Vec<u8>,
}

impl ResponseFilter {
    /// A filter for the answer to a request for `model` (the name the
    /// client sent); `suppress`: drop thinking beside tool use (non-stream).
    pub fn new(model: &str, suppress: bool) -> ResponseFilter {
        ResponseFilter {
            rw: Rewriter::new(model, suppress, false),
            model: model.to_string(),
            suppress,
            state: State::Head,
            head: Vec::new(),
            body: Vec::new(),
            dec: ChunkedDecoder::new(),
            tmp: Vec::new(),
            next: Vec::new(),
        }
    }

    /// Filters `out` in place.
    pub fn apply(&mut self, out: &mut Vec<u8>) {
        self.next.clear();
        let mut input: &[u8] = out;
        while !input.is_empty() {
            input = self.step(input);
        }
        std::mem::swap(out, &mut self.next);
    }

    /// Consumes some of `input`; returns the rest.
    fn step<'a>(&mut self, input: &'a [u8]) -> &'a [u8] {
        match self.state {
            State::Pass => {
                self.next.extend_from_slice(input);
                &[]
            }
            State::Head => {
                let from = self.head.len();
                self.head.extend_from_slice(input);
                let Some(end) = crate::h1::find_head_end(&self.head, from) else {
                    return &[];
                };
                // The blank line ends in this read (it was looked for in
                // every earlier one), so `end > from`; clamped anyway.
                let rest = &input[end.saturating_sub(from).min(input.len())..];
                self.head.truncate(end);
                self.start_body();
                rest
            }
            State::Length(due) => {
                let take = due.min(input.len());
                self.body.extend_from_slice(&input[..take]);
                if take == due {
                    self.finish_length();
                    self.state = State::Pass;
                } else {
                    self.state = State::Length(due - take);
                }
                &input[take..]
            }
            State::Chunked => {
                let ResponseFilter { rw, dec, tmp, .. } = self;
                tmp.clear();
                let r = dec.feed(input, |d| rw.feed(d, tmp));
                let (consumed, done) = match r {
                    Ok(p) => (p.consumed, p.done),
                    Err(_) => {
                        // Not our own framing after all: leave the rest alone.
                        self.state = State::Pass;
                        return input;
                    }
                };
                if !self.tmp.is_empty() {
                    encode::chunk(&mut self.next, &self.tmp);
                }
                if done {
                    self.tmp.clear();
                    self.rw.finish(&mut self.tmp);
                    if !self.tmp.is_empty() {
                        encode::chunk(&mut self.next, &self.tmp);
                    }
                    self.next.extend_from_slice(encode::LAST_CHUNK);
                    self.state = State::Pass;
                }
                &input[consumed..]
            }
        }
    }

    /// The head is complete: choose how the body is handled.
    fn start_body(&mut self) {
        let head = &self.head;
        let status_ok = head.get(9) == Some(&b'2');
        let mut length = None;
        let mut chunked = false;
        let mut sse = false;
        for line in head.split(|&b| b == b'\n').skip(1) {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let Some(c) = memchr::memchr(b':', line) else {
                continue;
            };
            let (name, value) = (&line[..c], crate::h1::trim(&line[c + 1..]));
            if crate::h1::name_eq(name, "content-length") {
                length = crate::h1::parse_content_length(value);
            } else if crate::h1::name_eq(name, "transfer-encoding") {
                chunked = crate::h1::has_token(value, "chunked");
            } else if crate::h1::name_eq(name, "content-type") {
                sse = memchr::memmem::find(value, b"stream").is_some();
            }
        }
        self.rw.reset(&self.model, self.suppress, sse);
        self.state = match (status_ok, chunked, length) {
            (true, true, _) => {
                self.dec = ChunkedDecoder::new();
                self.next.extend_from_slice(&self.head);
                State::Chunked
            }
            (true, false, Some(n)) if n > 0 => {
                self.body.clear();
                State::Length(n as usize)
            }
            _ => {
                self.next.extend_from_slice(&self.head);
                State::Pass
            }
        };
    }

    /// The whole `Content-Length` body is in: rewrite it and send the head
    /// with the new length.
    fn finish_length(&mut self) {
        self.tmp.clear();
        self.rw.feed(&self.body, &mut self.tmp);
        self.rw.finish(&mut self.tmp);
        let mut lines = self.head.split(|&b| b == b'\n');
        if let Some(status) = lines.next() {
            self.next.extend_from_slice(status);
            self.next.push(b'\n');
        }
        for line in lines {
            let name_end = memchr::memchr(b':', line).unwrap_or(0);
            if crate::h1::trim(line.strip_suffix(b"\r").unwrap_or(line)).is_empty()
                || crate::h1::name_eq(&line[..name_end], "content-length")
            {
                continue;
            }
            self.next.extend_from_slice(line);
            self.next.push(b'\n');
        }
        encode::content_length(&mut self.next, self.tmp.len());
        self.next.extend_from_slice(b"\r\n");
        self.next.extend_from_slice(&self.tmp);
    }
}

impl crate::server::OutFilter for ResponseFilter {
    fn filter(&mut self, out: &mut Vec<u8>) {
        self.apply(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(resp: &[u8], split: usize) -> Vec<u8> {
        let mut f = ResponseFilter::new("asked", true);
        let mut sent = Vec::new();
        for part in [&resp[..split], &resp[split..]] {
            let mut out = part.to_vec();
            f.apply(&mut out);
            sent.extend_from_slice(&out);
        }
        sent
    }

    #[test]
    fn content_length_is_fixed_for_any_split() {
        let body = br#"{"model":"served","content":[{"type":"thinking","thinking":"t"},{"type":"tool_use","id":"x","name":"Bash","input":{}}]}"#;
        let mut resp =
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ".to_vec();
        resp.extend_from_slice(format!("{}\r\n\r\n", body.len()).as_bytes());
        resp.extend_from_slice(body);
        let want_body = br#"{"model":"asked","content":[{"type":"tool_use","id":"x","name":"Bash","input":{},"signature":""}]}"#;
        let want = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{}",
            want_body.len(),
            std::str::from_utf8(want_body).unwrap()
        );
        for split in 0..=resp.len() {
            assert_eq!(
                String::from_utf8(run(&resp, split)).unwrap(),
                want,
                "split {split}"
            );
        }
    }

    #[test]
    fn chunked_stream_is_rewritten_for_any_split() {
        let events = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"served\",\"content\":[]}}\n\nevent: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"Bash\",\"input\":{}}}\n\n";
        let mut resp =
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
                .to_vec();
        let (a, b) = events.as_bytes().split_at(40);
        encode::chunk(&mut resp, a);
        encode::chunk(&mut resp, b);
        resp.extend_from_slice(encode::LAST_CHUNK);
        let want = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"asked\",\"content\":[]}}\n\nevent: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"Bash\",\"input\":{},\"signature\":\"\"}}\n\n";
        for split in 0..=resp.len() {
            let sent = run(&resp, split);
            let head_end = crate::h1::find_head_end(&sent, 0).unwrap();
            let mut body = Vec::new();
            let mut d = ChunkedDecoder::new();
            let p = d
                .feed(&sent[head_end..], |x| body.extend_from_slice(x))
                .unwrap();
            assert!(p.done, "split {split}");
            assert_eq!(String::from_utf8(body).unwrap(), want, "split {split}");
        }
    }

    #[test]
    fn errors_pass_unchanged() {
        let resp = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 17\r\n\r\n{\"model\":\"x\"}   ";
        assert_eq!(run(resp, 20), resp.to_vec());
    }
}
