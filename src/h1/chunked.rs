//! Incremental `Transfer-Encoding: chunked` decoder.
//!
//! The decoder never copies: it hands out the data bytes of each chunk as
//! sub-slices of the input through a callback, and reports how much input it
//! consumed. Input may be split at any byte. Trailers are read and dropped.

use super::MAX_CHUNK_LINE;

/// A malformed chunked body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkError {
    /// The chunk-size line is not hex, overflows, or is too long.
    BadSize,
    /// A chunk's data was not followed by CRLF.
    BadDelimiter,
    /// The trailer section is too long.
    BadTrailer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading hex digits of a chunk size.
    Size,
    /// Skipping a chunk extension (`;name=value`) up to the line end.
    Ext,
    /// Saw `\r` after the size line; expecting `\n`.
    SizeLf,
    /// Inside chunk data with this many bytes left.
    Data(u64),
    /// After chunk data; expecting `\r` or `\n`.
    DataCr,
    /// After chunk data and `\r`; expecting `\n`.
    DataLf,
    /// At the start of a trailer line (or the final blank line).
    TrailerStart,
    /// Inside a trailer line.
    TrailerLine,
    /// Saw `\r` at the start of a trailer line: expecting the final `\n`.
    EndLf,
    /// The body is complete.
    Done,
}

/// Progress of one [`ChunkedDecoder::feed`] call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Input bytes consumed. Less than the input only when `done`.
    pub consumed: usize,
    /// The terminating chunk and trailers have been read.
    pub done: bool,
}

/// Decoder state; feed it bytes as they arrive.
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
    size: u64,
    line_len: usize,
    trailer_len: usize,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkedDecoder {
    /// A decoder at the start of a body.
    pub fn new() -> Self {
        ChunkedDecoder {
            state: State::Size,
            size: 0,
            line_len: 0,
            trailer_len: 0,
        }
    }

    /// True once the whole body has been read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Consumes `input`, calling `on_data` with each run of body bytes.
    pub fn feed(
        &mut self,
        input: &[u8],
        mut on_data: impl FnMut(&[u8]),
    ) -> Result<Progress, ChunkError> {
        let mut i = 0;
        while i < input.len() {
            let c = input[i];
            match self.state {
                State::Done => {
                    return Ok(Progress {
                        consumed: i,
                        done: true,
                    })
                }
                State::Size if self.line_len == 0 => {
                    // Fast path: a whole `<hex>\r\n` size line is in the input.
                    let rest = &input[i..];
                    let line_end = rest.iter().take(18).position(|&b| b == b'\r');
                    match line_end {
                        Some(e)
                            if e > 0
                                && rest.get(e + 1) == Some(&b'\n')
                                && rest[..e].iter().all(u8::is_ascii_hexdigit) =>
                        {
                            // Same overflow rule as the slow path (leading zeros are fine).
                            let mut n: u64 = 0;
                            for &c in &rest[..e] {
                                if n > (u64::MAX >> 4) {
                                    return Err(ChunkError::BadSize);
                                }
                                n = (n << 4) | u64::from((c as char).to_digit(16).unwrap_or(0));
                            }
                            self.size = n;
                            self.end_size_line();
                            i += e + 2;
                        }
                        _ => {
                            // Slow path, byte by byte.
                            self.line_len = 0;
                            self.step_size(c)?;
                            i += 1;
                        }
                    }
                }
                State::Size => {
                    self.step_size(c)?;
                    i += 1;
                }
                State::Ext => {
                    self.line_len += 1;
                    if self.line_len > MAX_CHUNK_LINE {
                        return Err(ChunkError::BadSize);
                    }
                    match c {
                        b'\r' => self.state = State::SizeLf,
                        b'\n' => self.end_size_line(),
                        _ => {}
                    }
                    i += 1;
                }
                State::SizeLf => {
                    if c != b'\n' {
                        return Err(ChunkError::BadSize);
                    }
                    self.end_size_line();
                    i += 1;
                }
                State::Data(rem) => {
                    let avail = (input.len() - i) as u64;
                    let take = rem.min(avail) as usize;
                    on_data(&input[i..i + take]);
                    i += take;
                    let left = rem - take as u64;
                    self.state = if left == 0 {
                        State::DataCr
                    } else {
                        State::Data(left)
                    };
                }
                State::DataCr if input.get(i + 1) == Some(&b'\n') && c == b'\r' => {
                    self.start_size();
                    i += 2;
                }
                State::DataCr => {
                    match c {
                        b'\r' => self.state = State::DataLf,
                        b'\n' => self.start_size(),
                        _ => return Err(ChunkError::BadDelimiter),
                    }
                    i += 1;
                }
                State::DataLf => {
                    if c != b'\n' {
                        return Err(ChunkError::BadDelimiter);
                    }
                    self.start_size();
                    i += 1;
                }
                State::TrailerStart => {
                    match c {
                        b'\r' => self.state = State::EndLf,
                        b'\n' => self.state = State::Done,
                        _ => self.state = State::TrailerLine,
                    }
                    self.bump_trailer()?;
                    i += 1;
                }
                State::TrailerLine => {
                    if c == b'\n' {
                        self.state = State::TrailerStart;
                    }
                    self.bump_trailer()?;
                    i += 1;
                }
                State::EndLf => {
                    if c != b'\n' {
                        return Err(ChunkError::BadTrailer);
                    }
                    self.state = State::Done;
                    i += 1;
                }
            }
        }
        Ok(Progress {
            consumed: i,
            done: self.state == State::Done,
        })
    }

    /// One byte of a chunk-size line (slow path).
    fn step_size(&mut self, c: u8) -> Result<(), ChunkError> {
        self.line_len += 1;
        if self.line_len > MAX_CHUNK_LINE {
            return Err(ChunkError::BadSize);
        }
        match c {
            b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                let d = u64::from((c as char).to_digit(16).unwrap_or(0));
                if self.size > (u64::MAX >> 4) {
                    return Err(ChunkError::BadSize);
                }
                self.size = self.size * 16 + d;
            }
            b';' | b' ' | b'\t' if self.line_len > 1 => self.state = State::Ext,
            b'\r' if self.line_len > 1 => self.state = State::SizeLf,
            b'\n' if self.line_len > 1 => self.end_size_line(),
            _ => return Err(ChunkError::BadSize),
        }
        Ok(())
    }

    fn bump_trailer(&mut self) -> Result<(), ChunkError> {
        self.trailer_len += 1;
        if self.trailer_len > super::MAX_HEAD_BYTES {
            return Err(ChunkError::BadTrailer);
        }
        Ok(())
    }

    fn end_size_line(&mut self) {
        self.state = if self.size == 0 {
            State::TrailerStart
        } else {
            State::Data(self.size)
        };
    }

    fn start_size(&mut self) {
        self.state = State::Size;
        self.size = 0;
        self.line_len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Naive oracle: decodes a complete, well-formed chunked body with string splitting.
    fn oracle(body: &[u8]) -> Option<(Vec<u8>, usize)> {
        let mut out = Vec::new();
        let mut i = 0;
        loop {
            let line_end = i + body[i..].windows(2).position(|w| w == b"\r\n")?;
            let line = std::str::from_utf8(&body[i..line_end]).ok()?;
            let size = usize::from_str_radix(line.split(';').next()?.trim(), 16).ok()?;
            i = line_end + 2;
            if size == 0 {
                // trailers until blank line
                loop {
                    let e = i + body[i..].windows(2).position(|w| w == b"\r\n")?;
                    let blank = e == i;
                    i = e + 2;
                    if blank {
                        return Some((out, i));
                    }
                }
            }
            out.extend_from_slice(&body[i..i + size]);
            i += size;
            if &body[i..i + 2] != b"\r\n" {
                return None;
            }
            i += 2;
        }
    }

    const CASES: &[&[u8]] = &[
        b"5\r\nhello\r\n0\r\n\r\n",
        b"3;ext=1\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nX-Trailer: v\r\n\r\n",
        b"1\r\n\n\r\nA\r\n\r\n\r\n\r\n\r\n\r\n\r\n0\r\n\r\nNEXT REQUEST",
        b"0\r\n\r\n",
    ];

    fn run(split: &[usize], input: &[u8]) -> (Vec<u8>, usize, bool) {
        let mut d = ChunkedDecoder::new();
        let mut out = Vec::new();
        let mut total = 0;
        let mut prev = 0;
        for &cut in split.iter().chain(std::iter::once(&input.len())) {
            let part = &input[prev..cut];
            let p = d.feed(part, |b| out.extend_from_slice(b)).unwrap();
            total += p.consumed;
            prev = cut;
            if p.done {
                return (out, total, true);
            }
        }
        (out, total, d.is_done())
    }

    #[test]
    fn whole_and_split_at_every_byte() {
        for case in CASES {
            let (want, want_len) = oracle(case).unwrap();
            assert_eq!(run(&[], case), (want.clone(), want_len, true));
            for cut in 0..=case.len() {
                assert_eq!(
                    run(&[cut], case),
                    (want.clone(), want_len, true),
                    "cut {cut}"
                );
            }
            let every: Vec<usize> = (1..case.len()).collect();
            assert_eq!(run(&every, case), (want, want_len, true));
        }
    }

    /// Found by the `h1_request` fuzz target: 17 hex digits with leading zeros
    /// were refused whole but accepted byte by byte.
    #[test]
    fn long_size_lines_agree_whole_and_split() {
        let input: &[u8] = b"00333333333333AA5\r\n\n}\0\0\rk\n\n05";
        let whole = ChunkedDecoder::new().feed(input, |_| {});
        for cut in 0..=input.len() {
            let mut d = ChunkedDecoder::new();
            let a = d.feed(&input[..cut], |_| {});
            let r = a.and_then(|p| {
                d.feed(&input[cut..], |_| {})
                    .map(|q| p.consumed + q.consumed)
            });
            assert_eq!(whole.map(|p| p.consumed).is_ok(), r.is_ok(), "cut {cut}");
        }
        let mut ok = ChunkedDecoder::new();
        assert!(
            ok.feed(b"0000000000000000000005\r\nhello\r\n0\r\n\r\n", |_| {})
                .unwrap()
                .done
        );
        assert!(ChunkedDecoder::new()
            .feed(b"1ffffffffffffffff\r\n", |_| {})
            .is_err());
    }

    #[test]
    fn malformed() {
        let bad: &[&[u8]] = &[
            b"zz\r\n",
            b"5\r\nhelloX",
            b"\r\n",
            b"fffffffffffffffffff\r\n",
        ];
        for b in bad {
            assert!(ChunkedDecoder::new().feed(b, |_| {}).is_err(), "{b:?}");
        }
    }
}
