//! RFC 6455 frame codec, no I/O: an incremental message decoder and a frame
//! encoder, for both ends. The server side (the Responses WebSocket) decodes
//! client frames (masked, possibly fragmented, control frames interleaved)
//! and encodes unmasked frames; the client side (the Codex upstream
//! WebSocket, `upstream::ws`) decodes server frames, which must be unmasked
//! ([`Decoder::for_client`]), and encodes masked ones ([`encode_masked`]).
//!
//! The decoder works on an accumulating buffer: [`Decoder::next`] looks at
//! the bytes received so far and either takes one whole frame off the front
//! or says it needs more. A frame whose declared length would take the
//! message past the limit is refused from its header alone, so a peer cannot
//! make the server buffer more than the limit.

/// Frame opcodes (RFC 6455 §5.2).
pub mod op {
    /// Continuation of a fragmented message.
    pub const CONT: u8 = 0x0;
    /// Text message.
    pub const TEXT: u8 = 0x1;
    /// Binary message.
    pub const BINARY: u8 = 0x2;
    /// Close.
    pub const CLOSE: u8 = 0x8;
    /// Ping.
    pub const PING: u8 = 0x9;
    /// Pong.
    pub const PONG: u8 = 0xA;
}

/// Close status codes the server sends (RFC 6455 §7.4.1).
pub mod close {
    /// Normal closure.
    pub const NORMAL: u16 = 1000;
    /// The server is going away (shutdown).
    pub const GOING_AWAY: u16 = 1001;
    /// Protocol error (bad frame).
    pub const PROTOCOL: u16 = 1002;
    /// Payload not consistent with the message type (text not UTF-8).
    pub const INVALID_DATA: u16 = 1007;
    /// Message too big.
    pub const TOO_BIG: u16 = 1009;
}

/// One complete message or control frame from the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A whole text message (validated UTF-8), fragments joined.
    Text(Vec<u8>),
    /// A whole binary message, fragments joined.
    Binary(Vec<u8>),
    /// A ping with its application data (to echo in the pong).
    Ping(Vec<u8>),
    /// A pong (ignored by the server).
    Pong,
    /// A close frame: its status code, if any, and reason bytes.
    Close(Option<u16>, Vec<u8>),
}

/// Why the connection must be closed: the close code to send and a reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fail {
    /// Close status code ([`close`]).
    pub code: u16,
    /// Short reason (fits a control frame).
    pub reason: &'static str,
}

const fn fail(code: u16, reason: &'static str) -> Fail {
    Fail { code, reason }
}

/// Incremental decoder of frames into messages.
#[derive(Debug)]
pub struct Decoder {
    /// Largest message (all fragments together) accepted.
    max: usize,
    /// Frames must be masked (a server reading client frames) or must not
    /// be (a client reading server frames, RFC 6455 §5.1).
    masked: bool,
    /// Payload of a fragmented data message in progress and its opcode.
    partial: Vec<u8>,
    partial_op: Option<u8>,
}

/// A parsed frame header.
struct Head {
    fin: bool,
    opcode: u8,
    mask: Option<[u8; 4]>,
    len: usize,
    head_len: usize,
}

/// Parses the frame header at the start of `b`: `Ok(None)` when incomplete.
/// `masked`: whether the frame must carry a mask (client frames) or must
/// not (server frames).
fn head(b: &[u8], max: usize, masked: bool) -> Result<Option<Head>, Fail> {
    let [b0, b1, ..] = *b else { return Ok(None) };
    if b0 & 0x70 != 0 {
        return Err(fail(close::PROTOCOL, "reserved bits set"));
    }
    let (fin, opcode) = (b0 & 0x80 != 0, b0 & 0x0F);
    if !matches!(
        opcode,
        op::CONT | op::TEXT | op::BINARY | op::CLOSE | op::PING | op::PONG
    ) {
        return Err(fail(close::PROTOCOL, "unknown opcode"));
    }
    match (b1 & 0x80 != 0, masked) {
        (false, true) => return Err(fail(close::PROTOCOL, "client frame not masked")),
        (true, false) => return Err(fail(close::PROTOCOL, "server frame masked")),
        _ => {}
    }
    let control = opcode & 0x8 != 0;
    let (len, mut at) = match b1 & 0x7F {
        126 => match b.get(2..4) {
            Some(l) => (u64::from(u16::from_be_bytes([l[0], l[1]])), 4),
            None => return Ok(None),
        },
        127 => match b.get(2..10) {
            Some(l) => {
                let mut a = [0u8; 8];
                a.copy_from_slice(l);
                let n = u64::from_be_bytes(a);
                if n >> 63 != 0 {
                    return Err(fail(close::PROTOCOL, "frame length out of range"));
                }
                (n, 10)
            }
            None => return Ok(None),
        },
        n => (u64::from(n), 2),
    };
    if control && (len > 125 || !fin) {
        return Err(fail(close::PROTOCOL, "bad control frame"));
    }
    if len > max as u64 {
        return Err(fail(close::TOO_BIG, "message too big"));
    }
    let mask = if masked {
        let Some(m) = b.get(at..at + 4) else {
            return Ok(None);
        };
        at += 4;
        Some([m[0], m[1], m[2], m[3]])
    } else {
        None
    };
    Ok(Some(Head {
        fin,
        opcode,
        mask,
        len: len as usize,
        head_len: at,
    }))
}

/// XORs `data` with the 4-byte `mask`, starting at mask position 0.
pub fn unmask(data: &mut [u8], mask: [u8; 4]) {
    for (i, b) in data.iter_mut().enumerate() {
        *b ^= mask[i & 3];
    }
}

impl Decoder {
    /// A server's decoder of client frames (masked), accepting messages up
    /// to `max` bytes.
    pub fn new(max: usize) -> Decoder {
        Decoder {
            max,
            masked: true,
            partial: Vec::new(),
            partial_op: None,
        }
    }

    /// A client's decoder of server frames (unmasked), accepting messages
    /// up to `max` bytes.
    pub fn for_client(max: usize) -> Decoder {
        Decoder {
            masked: false,
            ..Decoder::new(max)
        }
    }

    /// Takes the next frame off the front of `buf` (the bytes received so
    /// far). Returns the bytes consumed and, when the frame completed a
    /// message or was a control frame, that message. `Ok(None)`: more bytes
    /// are needed. An error means the connection must be closed with its code.
    pub fn next(&mut self, buf: &[u8]) -> Result<Option<(usize, Option<Message>)>, Fail> {
        let Some(h) = head(buf, self.max, self.masked)? else {
            return Ok(None);
        };
        let end = h.head_len + h.len;
        if buf.len() < end {
            return Ok(None);
        }
        let mut payload = buf[h.head_len..end].to_vec();
        if let Some(mask) = h.mask {
            unmask(&mut payload, mask);
        }
        let msg = match h.opcode {
            op::PING => Some(Message::Ping(payload)),
            op::PONG => Some(Message::Pong),
            op::CLOSE => Some(close_message(payload)?),
            op::CONT => {
                let Some(opcode) = self.partial_op else {
                    return Err(fail(close::PROTOCOL, "continuation without a message"));
                };
                if self.partial.len() + payload.len() > self.max {
                    return Err(fail(close::TOO_BIG, "message too big"));
                }
                self.partial.extend_from_slice(&payload);
                if h.fin {
                    self.partial_op = None;
                    Some(data_message(opcode, std::mem::take(&mut self.partial))?)
                } else {
                    None
                }
            }
            opcode => {
                if self.partial_op.is_some() {
                    return Err(fail(close::PROTOCOL, "new message inside a fragmented one"));
                }
                if h.fin {
                    Some(data_message(opcode, payload)?)
                } else {
                    self.partial_op = Some(opcode);
                    self.partial = payload;
                    None
                }
            }
        };
        Ok(Some((end, msg)))
    }
}

fn data_message(opcode: u8, payload: Vec<u8>) -> Result<Message, Fail> {
    if opcode == op::BINARY {
        return Ok(Message::Binary(payload));
    }
    if std::str::from_utf8(&payload).is_err() {
        return Err(fail(close::INVALID_DATA, "text message is not UTF-8"));
    }
    Ok(Message::Text(payload))
}

fn close_message(payload: Vec<u8>) -> Result<Message, Fail> {
    match payload.len() {
        0 => Ok(Message::Close(None, Vec::new())),
        1 => Err(fail(close::PROTOCOL, "bad close frame")),
        _ => {
            let code = u16::from_be_bytes([payload[0], payload[1]]);
            let valid = matches!(code, 1000..=1003 | 1007..=1011 | 3000..=4999);
            if !valid || std::str::from_utf8(&payload[2..]).is_err() {
                return Err(fail(close::PROTOCOL, "bad close frame"));
            }
            Ok(Message::Close(Some(code), payload[2..].to_vec()))
        }
    }
}

/// Appends one unmasked, final server frame.
pub fn encode(out: &mut Vec<u8>, opcode: u8, payload: &[u8]) {
    frame_head(out, opcode, payload.len(), 0);
    out.extend_from_slice(payload);
}

/// Appends one final client frame, its payload masked with `mask` (a fresh
/// unpredictable key per frame, RFC 6455 §5.3).
pub fn encode_masked(out: &mut Vec<u8>, opcode: u8, payload: &[u8], mask: [u8; 4]) {
    frame_head(out, opcode, payload.len(), 0x80);
    out.extend_from_slice(&mask);
    let start = out.len();
    out.extend_from_slice(payload);
    unmask(&mut out[start..], mask);
}

/// The first bytes of a final frame: opcode, mask bit, minimal length.
fn frame_head(out: &mut Vec<u8>, opcode: u8, len: usize, mask_bit: u8) {
    out.push(0x80 | opcode);
    match len {
        n @ 0..=125 => out.push(mask_bit | n as u8),
        n @ 126..=0xFFFF => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
}

/// Appends a close frame with `code` and `reason` (cut to fit a control frame).
pub fn encode_close(out: &mut Vec<u8>, code: u16, reason: &str) {
    let mut p = Vec::with_capacity(2 + reason.len().min(123));
    p.extend_from_slice(&code.to_be_bytes());
    let mut cut = reason.len().min(123);
    while !reason.is_char_boundary(cut) {
        cut -= 1;
    }
    p.extend_from_slice(&reason.as_bytes()[..cut]);
    encode(out, op::CLOSE, &p);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The oracle's encoder: a client frame with an explicit header, masked.
    fn client_frame(fin: bool, opcode: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
        let mut v = vec![(if fin { 0x80 } else { 0 }) | opcode];
        match payload.len() {
            n @ 0..=125 => v.push(0x80 | n as u8),
            n @ 126..=0xFFFF => {
                v.push(0x80 | 126);
                v.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                v.push(0x80 | 127);
                v.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        v.extend_from_slice(&mask);
        let mut p = payload.to_vec();
        unmask(&mut p, mask);
        v.extend_from_slice(&p);
        v
    }

    /// The oracle's server frame: an explicit header, no mask (`_mask`
    /// ignored, so it builds the same conversations as `client_frame`).
    fn server_frame(fin: bool, opcode: u8, payload: &[u8], _mask: [u8; 4]) -> Vec<u8> {
        let mut v = client_frame(fin, opcode, payload, [0; 4]);
        v[1] &= 0x7F;
        let at = match v[1] {
            126 => 4,
            127 => 10,
            _ => 2,
        };
        v.drain(at..at + 4);
        v
    }

    /// Decodes `wire` fed in pieces ending at the `cuts`, as a connection
    /// would: the buffer accumulates and whole frames are taken off its front.
    fn decode_fed(wire: &[u8], cuts: &[usize], max: usize) -> Result<Vec<Message>, Fail> {
        decode_fed_with(Decoder::new(max), wire, cuts)
    }

    fn decode_fed_with(mut d: Decoder, wire: &[u8], cuts: &[usize]) -> Result<Vec<Message>, Fail> {
        let mut buf = Vec::new();
        let mut out = Vec::new();
        let mut fed = 0;
        for &cut in cuts.iter().chain(std::iter::once(&wire.len())) {
            buf.extend_from_slice(&wire[fed..cut]);
            fed = cut;
            while let Some((n, m)) = d.next(&buf)? {
                buf.drain(..n);
                out.extend(m);
            }
        }
        assert!(buf.is_empty(), "bytes left undecoded");
        Ok(out)
    }

    /// A conversation: fragmented text with a ping inside, binary, 16-bit and
    /// 64-bit lengths, empty text, close. The oracle is the message list the
    /// frames were built from.
    fn conversation() -> (Vec<u8>, Vec<Message>) {
        conversation_with(client_frame)
    }

    type Framer = fn(bool, u8, &[u8], [u8; 4]) -> Vec<u8>;

    fn conversation_with(client_frame: Framer) -> (Vec<u8>, Vec<Message>) {
        let m = [0x37, 0xfa, 0x21, 0x3d];
        let big = vec![b'x'; 300];
        let huge: Vec<u8> = (0..70_000u32).map(|i| b'a' + (i % 26) as u8).collect();
        let mut w = Vec::new();
        w.extend(client_frame(false, op::TEXT, br#"{"type":"resp"#, m));
        w.extend(client_frame(true, op::PING, b"hi", [1, 2, 3, 4]));
        w.extend(client_frame(false, op::CONT, br#"onse.cre"#, m));
        w.extend(client_frame(
            true,
            op::CONT,
            "ate\u{e9}\"}".as_bytes(),
            [9, 8, 7, 6],
        ));
        w.extend(client_frame(true, op::BINARY, &[0, 255, 7], m));
        w.extend(client_frame(true, op::TEXT, &big, m));
        w.extend(client_frame(true, op::TEXT, &huge, m));
        w.extend(client_frame(true, op::TEXT, b"", m));
        w.extend(client_frame(true, op::PONG, b"", m));
        w.extend(client_frame(true, op::CLOSE, b"\x03\xe8bye", m));
        let want = vec![
            Message::Ping(b"hi".to_vec()),
            Message::Text("{\"type\":\"response.create\u{e9}\"}".as_bytes().to_vec()),
            Message::Binary(vec![0, 255, 7]),
            Message::Text(big),
            Message::Text(huge),
            Message::Text(Vec::new()),
            Message::Pong,
            Message::Close(Some(1000), b"bye".to_vec()),
        ];
        (w, want)
    }

    #[test]
    fn whole_and_split_at_every_byte_agree_with_the_oracle() {
        let (wire, want) = conversation();
        assert_eq!(decode_fed(&wire, &[], 1 << 20), Ok(want.clone()));
        // Split at every byte in the frames before the 70 kB one (every
        // header boundary case), and at a stride through the rest.
        let split_all = wire.len().min(400);
        for cut in (1..split_all).chain((split_all..wire.len()).step_by(997)) {
            assert_eq!(
                decode_fed(&wire, &[cut], 1 << 20),
                Ok(want.clone()),
                "cut {cut}"
            );
        }
        // One byte at a time.
        let every: Vec<usize> = (1..wire.len()).collect();
        assert_eq!(decode_fed(&wire, &every, 1 << 20), Ok(want));
    }

    /// Mutated conversations: whole and split feeds agree (the same
    /// messages, or the same failure), and nothing panics.
    #[test]
    fn random_mutations_are_split_independent() {
        let mut rng = crate::sse::test_rng::Rng(0x00f4_a3e5);
        let (wire, _) = conversation();
        let wire = &wire[..400.min(wire.len())];
        for round in 0..300 {
            let mut w = wire.to_vec();
            for _ in 0..1 + rng.below(4) {
                let i = rng.below(w.len());
                w[i] = (rng.next() & 0xff) as u8;
            }
            let whole = decode_partial(&w, &[]);
            let mut cuts: Vec<usize> = (0..3).map(|_| rng.below(w.len() + 1)).collect();
            cuts.sort_unstable();
            let split = decode_partial(&w, &cuts);
            assert_eq!(split, whole, "round {round}");
        }
    }

    /// Like `decode_fed`, but a truncated last frame is not an error
    /// (mutations change lengths): what was decoded, or the failure.
    fn decode_partial(wire: &[u8], cuts: &[usize]) -> Result<Vec<Message>, u16> {
        let mut d = Decoder::new(4096);
        let (mut buf, mut out, mut fed) = (Vec::new(), Vec::new(), 0);
        for &cut in cuts.iter().chain(std::iter::once(&wire.len())) {
            buf.extend_from_slice(&wire[fed..cut]);
            fed = cut;
            while let Some((n, m)) = d.next(&buf).map_err(|f| f.code)? {
                buf.drain(..n);
                out.extend(m);
            }
        }
        Ok(out)
    }

    /// The client side: server frames (unmasked) decode to the same
    /// messages whole, split at every byte of the first 400 and one byte at
    /// a time; a masked server frame is refused.
    #[test]
    fn client_mode_whole_and_split_at_every_byte_agree_with_the_oracle() {
        let (wire, want) = conversation_with(server_frame);
        let dec = || Decoder::for_client(1 << 20);
        assert_eq!(decode_fed_with(dec(), &wire, &[]), Ok(want.clone()));
        let split_all = wire.len().min(400);
        for cut in (1..split_all).chain((split_all..wire.len()).step_by(997)) {
            assert_eq!(
                decode_fed_with(dec(), &wire, &[cut]),
                Ok(want.clone()),
                "cut {cut}"
            );
        }
        let every: Vec<usize> = (1..wire.len()).collect();
        assert_eq!(decode_fed_with(dec(), &wire, &every), Ok(want));
        let masked = client_frame(true, op::TEXT, b"x", [1, 2, 3, 4]);
        assert_eq!(
            decode_fed_with(dec(), &masked, &[]).map_err(|f| f.code),
            Err(close::PROTOCOL)
        );
    }

    /// What the client encoder writes is what a server's decoder reads
    /// back, for every length class, whole and split at every byte.
    #[test]
    fn masked_client_frames_round_trip_through_the_server_decoder() {
        let mut wire = Vec::new();
        let mut want = Vec::new();
        for (i, n) in [0usize, 1, 125, 126, 65_535, 65_536]
            .into_iter()
            .enumerate()
        {
            let p: Vec<u8> = (0..n).map(|j| b'a' + ((i + j) % 26) as u8).collect();
            let mask = [i as u8 + 1, 0x5a, 0xc3, 0x11];
            let before = wire.len();
            encode_masked(&mut wire, op::TEXT, &p, mask);
            assert_eq!(wire[before + 1] & 0x80, 0x80, "client frames are masked");
            if n > 0 {
                assert_ne!(&wire[wire.len() - n..], &p[..], "payload is masked");
            }
            want.push(Message::Text(p));
        }
        encode_masked(&mut wire, op::PONG, b"", [9, 9, 9, 9]);
        want.push(Message::Pong);
        assert_eq!(decode_fed(&wire, &[], 1 << 20), Ok(want.clone()));
        for cut in (1..wire.len().min(300)).chain((300..wire.len()).step_by(4099)) {
            assert_eq!(
                decode_fed(&wire, &[cut], 1 << 20),
                Ok(want.clone()),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn bad_frames_fail_with_protocol_error() {
        let m = [1, 2, 3, 4];
        let unmasked = [0x81u8, 0x02, b'h', b'i'];
        let rsv = {
            let mut f = client_frame(true, op::TEXT, b"x", m);
            f[0] |= 0x40;
            f
        };
        let opcode = client_frame(true, 0x3, b"x", m);
        let long_ping = client_frame(true, op::PING, &[0; 126], m);
        let frag_ping = client_frame(false, op::PING, b"", m);
        let lone_cont = client_frame(true, op::CONT, b"x", m);
        let mut nested = client_frame(false, op::TEXT, b"a", m);
        nested.extend(client_frame(true, op::TEXT, b"b", m));
        let bad_close = client_frame(true, op::CLOSE, b"\x03", m);
        for (name, wire) in [
            ("unmasked", unmasked.to_vec()),
            ("rsv", rsv),
            ("opcode", opcode),
            ("long ping", long_ping),
            ("fragmented ping", frag_ping),
            ("lone continuation", lone_cont),
            ("nested message", nested),
            ("one-byte close", bad_close),
        ] {
            let r = decode_fed(&wire, &[], 1 << 20);
            assert_eq!(r.map_err(|f| f.code), Err(close::PROTOCOL), "{name}");
        }
        let bad_utf8 = client_frame(true, op::TEXT, &[0xff, 0xfe], m);
        assert_eq!(
            decode_fed(&bad_utf8, &[], 100).map_err(|f| f.code),
            Err(close::INVALID_DATA)
        );
    }

    #[test]
    fn too_big_is_refused_from_the_header_and_across_fragments() {
        let m = [5, 6, 7, 8];
        let big = client_frame(true, op::TEXT, &[b'a'; 200], m);
        // Only the header is needed to refuse it.
        let mut d = Decoder::new(100);
        assert_eq!(d.next(&big[..4]).map_err(|f| f.code), Err(close::TOO_BIG));
        let mut frag = client_frame(false, op::TEXT, &[b'a'; 60], m);
        frag.extend(client_frame(true, op::CONT, &[b'a'; 60], m));
        assert_eq!(
            decode_fed(&frag, &[], 100).map_err(|f| f.code),
            Err(close::TOO_BIG)
        );
        assert!(decode_fed(&frag, &[], 120).is_ok());
    }

    #[test]
    fn server_frames_are_unmasked_with_minimal_lengths() {
        for n in [0usize, 125, 126, 65_535, 65_536] {
            let p = vec![b'z'; n];
            let mut out = Vec::new();
            encode(&mut out, op::TEXT, &p);
            assert_eq!(out[0], 0x81);
            assert_eq!(out[1] & 0x80, 0, "server frames are not masked");
            let head = match n {
                0..=125 => 2,
                126..=65_535 => 4,
                _ => 10,
            };
            assert_eq!(out.len(), head + n, "length {n}");
        }
        let mut out = Vec::new();
        encode_close(&mut out, close::TOO_BIG, &"é".repeat(100));
        assert_eq!(out[0], 0x88);
        assert!(out[1] as usize <= 125);
        assert_eq!(&out[2..4], &1009u16.to_be_bytes());
        assert!(std::str::from_utf8(&out[4..]).is_ok());
    }
}
