//! The seam between the HTTP request path and a Responses WebSocket: the
//! bytes the pipeline writes for one `POST /v1/responses` (`stream: true`)
//! answer — an HTTP/1.1 head, then a chunked SSE body or a whole error
//! body — become WebSocket text frames, one per event `data:` JSON, the way
//! CLIProxyAPI's Responses WebSocket writes them.
//!
//! - A 2xx event stream: every event's data goes out as one text frame;
//!   comments (keep-alives) and `[DONE]` are dropped. The `response.output`
//!   of `response.completed` is kept for the session (the next
//!   `response.create` continues from it). A stream that ends with no
//!   terminal event (`response.completed`, `error`, `response.failed`) gets
//!   CLIProxyAPI's `408 stream closed before response.completed` error event.
//! - Any other answer (an error before the first byte): one `error` event,
//!   `{"type":"error","status":N,"error":{...}}`, with the body's `error`
//!   object (or the whole body when it has none).
//!
//! The transcoder is incremental: the pipeline flushes its output in pieces
//! of any size, and the frames produced are the same whatever the split.

use crate::error::{Error, ErrorKind};
use crate::h1::ChunkedDecoder;
use crate::json::span;
use crate::sse::scan::{Item, Scanner};
use crate::translate::format::Format;

use super::frame::{encode, op};

/// Largest error body kept (an upstream error passed through verbatim).
const MAX_ERROR_BODY: usize = 1 << 20;

#[derive(Debug)]
enum Body {
    /// Reading the head.
    Head,
    Chunked(ChunkedDecoder),
    Length(usize),
    /// The answer is complete.
    Done,
}

/// Transcodes one HTTP answer at a time into WebSocket frames.
#[derive(Debug)]
pub struct Bridge {
    head: Vec<u8>,
    body: Body,
    status: u16,
    /// The answer is an event stream (else a whole body, sent as an error).
    sse: bool,
    scanner: Scanner,
    /// A non-stream body, collected whole.
    whole: Vec<u8>,
    events: Events,
    /// The output buffer lent to [`Bridge::transcode`] (kept for reuse).
    spare: Vec<u8>,
}

/// What the events of a stream told so far.
#[derive(Debug, Default)]
struct Events {
    /// A terminal event (`response.completed`, `error`, `response.failed`,
    /// `response.incomplete`) was sent.
    terminal: bool,
    /// `response.output` of the last `response.completed` (raw JSON array).
    completed_output: Option<Vec<u8>>,
}

impl Events {
    /// One scanned item: an event's data becomes a text frame, unless it is
    /// empty or `[DONE]`; comments (keep-alives) are dropped.
    fn on(&mut self, it: Item<'_>, frames: &mut Vec<u8>) {
        let Item::Event(e) = it else { return };
        let data = e.data.trim_ascii();
        if data.is_empty() || data == b"[DONE]" {
            return;
        }
        match span::get_str(data, b"type") {
            Some(b"response.completed") => {
                self.terminal = true;
                let out = span::path(data, &[b"response", b"output"])
                    .filter(|o| o.first() == Some(&b'['))
                    .unwrap_or(b"[]");
                self.completed_output = Some(out.to_vec());
            }
            Some(b"error" | b"response.failed" | b"response.incomplete") => self.terminal = true,
            _ => {}
        }
        encode(frames, op::TEXT, data);
    }
}

impl Default for Bridge {
    fn default() -> Self {
        Bridge::new()
    }
}

impl Bridge {
    /// A bridge waiting for an answer's head.
    pub fn new() -> Bridge {
        Bridge {
            head: Vec::new(),
            body: Body::Head,
            status: 0,
            sse: false,
            scanner: Scanner::new(),
            whole: Vec::new(),
            events: Events::default(),
            spare: Vec::new(),
        }
    }

    /// Readies the bridge for the next answer.
    pub fn reset(&mut self) {
        self.head.clear();
        self.body = Body::Head;
        self.status = 0;
        self.sse = false;
        self.scanner.reset();
        self.whole.clear();
        self.events = Events::default();
    }

    /// The whole answer has been transcoded.
    pub fn is_done(&self) -> bool {
        matches!(self.body, Body::Done)
    }

    /// Takes the `response.output` array of the answer's `response.completed`.
    pub fn take_completed_output(&mut self) -> Option<Vec<u8>> {
        self.events.completed_output.take()
    }

    /// Replaces `out` (HTTP bytes) with the frames they stand for; the
    /// buffers swap places, so a stream allocates nothing per flush.
    pub fn transcode(&mut self, out: &mut Vec<u8>) {
        let mut frames = std::mem::take(&mut self.spare);
        frames.clear();
        self.feed(out, &mut frames);
        std::mem::swap(out, &mut frames);
        frames.clear();
        self.spare = frames;
    }

    /// Transcodes `http` (the next bytes of the answer) into `frames`.
    /// Bytes after the end of the answer are ignored.
    pub fn feed(&mut self, mut http: &[u8], frames: &mut Vec<u8>) {
        while !http.is_empty() {
            match &mut self.body {
                Body::Done => return,
                Body::Head => {
                    let start = self.head.len().saturating_sub(3);
                    self.head.extend_from_slice(http);
                    let Some(end) = crate::h1::find_head_end(&self.head, start) else {
                        return;
                    };
                    let rest_from = http.len() - (self.head.len() - end);
                    http = &http[rest_from..];
                    self.head.truncate(end);
                    self.parse_head();
                    if let Body::Length(0) = self.body {
                        self.finish(frames);
                    }
                }
                Body::Chunked(dec) => {
                    let (sse, scanner, whole) = (self.sse, &mut self.scanner, &mut self.whole);
                    let events = &mut self.events;
                    let r = dec.feed(http, |d| {
                        if sse {
                            let _ = scanner.feed(d, |it| events.on(it, frames));
                        } else {
                            keep_error_body(whole, d);
                        }
                    });
                    match r {
                        Ok(p) if p.done => {
                            self.finish(frames);
                            return;
                        }
                        Ok(_) => return,
                        Err(_) => {
                            self.finish(frames);
                            return;
                        }
                    }
                }
                Body::Length(left) => {
                    let n = (*left).min(http.len());
                    *left -= n;
                    let done = *left == 0;
                    let d = &http[..n];
                    http = &http[n..];
                    if self.sse {
                        let events = &mut self.events;
                        let _ = self.scanner.feed(d, |it| events.on(it, frames));
                    } else {
                        keep_error_body(&mut self.whole, d);
                    }
                    if done {
                        self.finish(frames);
                    }
                }
            }
        }
    }

    fn parse_head(&mut self) {
        let h = &self.head;
        self.status = h
            .get(9..12)
            .and_then(|s| std::str::from_utf8(s).ok())
            .and_then(|s| s.parse().ok())
            .unwrap_or(500);
        let mut chunked = false;
        let mut length = 0usize;
        for line in h.split(|&b| b == b'\n').skip(1) {
            let line = crate::h1::trim(line.strip_suffix(b"\r").unwrap_or(line));
            let Some(colon) = memchr::memchr(b':', line) else {
                continue;
            };
            let (name, value) = (&line[..colon], crate::h1::trim(&line[colon + 1..]));
            if crate::h1::name_eq(name, "transfer-encoding") {
                chunked = crate::h1::has_token(value, "chunked");
            } else if crate::h1::name_eq(name, "content-length") {
                length = crate::h1::parse_content_length(value).unwrap_or(0) as usize;
            } else if crate::h1::name_eq(name, "content-type") {
                self.sse = memchr::memmem::find(value, b"text/event-stream").is_some();
            }
        }
        self.sse &= (200..300).contains(&self.status);
        self.body = if chunked {
            Body::Chunked(ChunkedDecoder::new())
        } else {
            Body::Length(length)
        };
    }

    fn finish(&mut self, frames: &mut Vec<u8>) {
        if self.sse {
            let events = &mut self.events;
            let _ = self.scanner.finish(|it| events.on(it, frames));
            if !self.events.terminal {
                let mut body = Vec::with_capacity(128);
                let e = Error::new(
                    ErrorKind::InvalidRequest { status: 408 },
                    "stream closed before response.completed",
                );
                e.write_body(Format::OpenAiChat, &mut body);
                let mut p = Vec::with_capacity(body.len() + 32);
                error_payload(&mut p, 408, &body);
                encode(frames, op::TEXT, &p);
            }
        } else {
            let mut p = Vec::with_capacity(self.whole.len() + 64);
            error_payload_with_headers(&mut p, self.status, &self.head, &self.whole);
            encode(frames, op::TEXT, &p);
        }
        self.body = Body::Done;
    }
}

/// Appends `d` to an error body, keeping at most [`MAX_ERROR_BODY`] bytes
/// (the same bytes whatever the split).
fn keep_error_body(whole: &mut Vec<u8>, d: &[u8]) {
    let room = MAX_ERROR_BODY.saturating_sub(whole.len());
    whole.extend_from_slice(&d[..d.len().min(room)]);
}

/// CLIProxyAPI's WebSocket error event for an HTTP error answer:
/// `{"type":"error","status":N,"error":E}` where `E` is the body's `error`
/// member, or the whole body when it is JSON without one, or
/// `{"type":"server_error","message":text}` for a non-JSON body.
pub fn error_payload(out: &mut Vec<u8>, status: u16, body: &[u8]) {
    error_payload_with_headers(out, status, b"", body);
}

/// [`error_payload`] with the answer's headers as CLIProxyAPI adds the
/// error's headers (`"headers":{"Retry-After":"30"}`), first value of each;
/// the framing, media type and CORS headers cliproxy adds itself are left
/// out. `head` is the HTTP head (its status line is skipped).
fn error_payload_with_headers(out: &mut Vec<u8>, status: u16, head: &[u8], body: &[u8]) {
    let body = body.trim_ascii();
    out.extend_from_slice(br#"{"type":"error","status":"#);
    out.extend_from_slice(status.to_string().as_bytes());
    let mut names: Vec<&[u8]> = Vec::new();
    for line in head.split(|&b| b == b'\n').skip(1) {
        let line = crate::h1::trim(line.strip_suffix(b"\r").unwrap_or(line));
        let Some(colon) = memchr::memchr(b':', line) else {
            continue;
        };
        let (name, value) = (&line[..colon], crate::h1::trim(&line[colon + 1..]));
        let own = [
            "content-type",
            "content-length",
            "transfer-encoding",
            "connection",
        ]
        .iter()
        .any(|n| crate::h1::name_eq(name, n))
            || name.len() > 12 && name[..12].eq_ignore_ascii_case(b"access-contr");
        if own || names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            continue;
        }
        out.extend_from_slice(if names.is_empty() {
            br#","headers":{"#
        } else {
            b","
        });
        names.push(name);
        out.push(b'"');
        crate::json::escape::escape_bytes_into(out, name);
        out.extend_from_slice(b"\":\"");
        crate::json::escape::escape_bytes_into(out, value);
        out.push(b'"');
    }
    if !names.is_empty() {
        out.push(b'}');
    }
    out.extend_from_slice(br#","error":"#);
    if span::is_valid(body) {
        match span::get(body, b"error") {
            Some(e) => out.extend_from_slice(e),
            None => out.extend_from_slice(body),
        }
    } else {
        let text = if body.is_empty() {
            crate::h1::encode::reason(status).as_bytes()
        } else {
            body
        };
        out.extend_from_slice(br#"{"type":"server_error","message":""#);
        crate::json::escape::escape_bytes_into(out, text);
        out.extend_from_slice(b"\"}");
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Server frames read back (the test masks nothing: it parses the
    /// unmasked frames directly).
    fn texts(frames: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < frames.len() {
            assert_eq!(frames[i], 0x81);
            let (len, at) = match frames[i + 1] {
                126 => (
                    u16::from_be_bytes([frames[i + 2], frames[i + 3]]) as usize,
                    i + 4,
                ),
                127 => {
                    let mut a = [0u8; 8];
                    a.copy_from_slice(&frames[i + 2..i + 10]);
                    (u64::from_be_bytes(a) as usize, i + 10)
                }
                n => (n as usize, i + 2),
            };
            out.push(String::from_utf8(frames[at..at + len].to_vec()).unwrap());
            i = at + len;
        }
        out
    }

    fn feed_split(http: &[u8], cuts: &[usize]) -> (Vec<String>, Bridge) {
        let mut b = Bridge::new();
        let mut frames = Vec::new();
        let mut at = 0;
        for &c in cuts.iter().chain(std::iter::once(&http.len())) {
            b.feed(&http[at..c], &mut frames);
            at = c;
        }
        (texts(&frames), b)
    }

    fn chunked_sse(events: &[&str]) -> Vec<u8> {
        let mut v = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        for e in events {
            crate::h1::encode::chunk(&mut v, e.as_bytes());
        }
        v.extend_from_slice(crate::h1::encode::LAST_CHUNK);
        v
    }

    /// The oracle: each event's data line, in order, minus `[DONE]`.
    #[test]
    fn stream_whole_and_split_at_every_byte_agree() {
        let http = chunked_sse(&[
            "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"r1\"}}\n\n",
            ": keep-alive\n\n",
            "event: response.output_item.done\ndata: {\"type\":\"response.output_item.done\",\"item\":{\"type\":\"function_call\",\"call_id\":\"c1\",\"arguments\":\"{\\\"a\\\":1}\"}}\n\nevent: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"id\":\"r1\",\"output\":[{\"type\":\"function_call\",\"call_id\":\"c1\"}]}}\n\n",
            "data: [DONE]\n\n",
        ]);
        let want = vec![
            r#"{"type":"response.created","response":{"id":"r1"}}"#.to_string(),
            r#"{"type":"response.output_item.done","item":{"type":"function_call","call_id":"c1","arguments":"{\"a\":1}"}}"#.to_string(),
            r#"{"type":"response.completed","response":{"id":"r1","output":[{"type":"function_call","call_id":"c1"}]}}"#.to_string(),
        ];
        for cut in 0..=http.len() {
            let (got, mut b) = feed_split(&http, &[cut]);
            assert_eq!(got, want, "cut {cut}");
            assert!(b.is_done());
            assert_eq!(
                b.take_completed_output().as_deref(),
                Some(&br#"[{"type":"function_call","call_id":"c1"}]"#[..])
            );
        }
        let every: Vec<usize> = (1..http.len()).collect();
        assert_eq!(feed_split(&http, &every).0, want);
    }

    #[test]
    fn error_answer_becomes_one_error_event() {
        let body = br#"{"error":{"message":"bad key","type":"authentication_error"}}"#;
        let mut http =
            b"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: "
                .to_vec();
        http.extend_from_slice(format!("{}\r\n\r\n", body.len()).as_bytes());
        http.extend_from_slice(body);
        let want = vec![
            r#"{"type":"error","status":401,"error":{"message":"bad key","type":"authentication_error"}}"#
                .to_string(),
        ];
        for cut in 0..=http.len() {
            let (got, b) = feed_split(&http, &[cut]);
            assert_eq!(got, want, "cut {cut}");
            assert!(b.is_done());
        }
        // The answer's own headers ride along; cliproxy's framing ones do not.
        let mut http = b"HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json; charset=utf-8\r\nAccess-Control-Allow-Origin: *\r\nRetry-After: 30\r\nX-Codex-Primary-Used-Percent: 100\r\nContent-Length: 2\r\n\r\n".to_vec();
        http.extend_from_slice(b"{}");
        assert_eq!(
            feed_split(&http, &[7]).0,
            [
                r#"{"type":"error","status":429,"headers":{"Retry-After":"30","X-Codex-Primary-Used-Percent":"100"},"error":{}}"#
            ]
        );
        let mut p = Vec::new();
        error_payload(&mut p, 502, b"<html>bad gateway</html>");
        assert_eq!(
            p,
            br#"{"type":"error","status":502,"error":{"type":"server_error","message":"<html>bad gateway</html>"}}"#
        );
        p.clear();
        error_payload(&mut p, 429, br#"{"detail":"slow"}"#);
        assert_eq!(
            p,
            br#"{"type":"error","status":429,"error":{"detail":"slow"}}"#
        );
    }

    #[test]
    fn stream_without_terminal_event_ends_with_408() {
        let http = chunked_sse(&["data: {\"type\":\"response.created\"}\n\n"]);
        let (got, b) = feed_split(&http, &[]);
        assert!(b.is_done());
        assert_eq!(got.len(), 2);
        assert!(
            got[1].starts_with(r#"{"type":"error","status":408,"#),
            "{}",
            got[1]
        );
        // A stream that reports its own error is not given a second one.
        let http = chunked_sse(&["data: {\"type\":\"error\",\"message\":\"x\"}\n\n"]);
        assert_eq!(feed_split(&http, &[]).0.len(), 1);
    }

    /// Random answers (mutated valid ones and noise): whole and split
    /// feeds give the same frames, and nothing panics.
    #[test]
    fn random_answers_are_split_independent() {
        let mut rng = crate::sse::test_rng::Rng(0x5eed_b41d);
        let base = chunked_sse(&[
            "data: {\"type\":\"response.created\"}\n\n",
            ": k\n\ndata: {\"type\":\"response.completed\",\"response\":{\"output\":[1]}}\n\n",
        ]);
        for round in 0..400 {
            let mut http = base.clone();
            for _ in 0..rng.below(6) {
                let i = rng.below(http.len());
                http[i] = (rng.next() & 0xff) as u8;
            }
            if round % 4 == 0 {
                http = (0..rng.below(300))
                    .map(|_| (rng.next() & 0xff) as u8)
                    .collect();
            }
            let whole = {
                let mut b = Bridge::new();
                let mut f = Vec::new();
                b.feed(&http, &mut f);
                f
            };
            let cuts: Vec<usize> = {
                let mut c: Vec<usize> = (0..3).map(|_| rng.below(http.len() + 1)).collect();
                c.sort_unstable();
                c
            };
            let mut b = Bridge::new();
            let mut f = Vec::new();
            let mut at = 0;
            for &c in cuts.iter().chain(std::iter::once(&http.len())) {
                b.feed(&http[at..c], &mut f);
                at = c;
            }
            assert_eq!(f, whole, "round {round}");
        }
    }

    #[test]
    fn reset_serves_the_next_answer() {
        let http = chunked_sse(&["data: {\"type\":\"response.completed\",\"response\":{}}\n\n"]);
        let mut b = Bridge::new();
        let mut f = Vec::new();
        b.feed(&http, &mut f);
        assert!(b.is_done());
        assert_eq!(b.take_completed_output().as_deref(), Some(&b"[]"[..]));
        b.reset();
        assert!(!b.is_done());
        f.clear();
        b.feed(&http, &mut f);
        assert_eq!(texts(&f).len(), 1);
    }
}
