//! Instruction-count harness (not a criterion bench): translates the 40-event
//! Claude stream of `benches/upstream.sh` (`/claude40`) to an OpenAI Chat
//! stream REPS times, the way the relay sees it (one read per event burst).
//! Run under callgrind and subtract a REPS=0 run to get instructions per
//! stream; `benches/cpu/translate.sh` measures the whole relay the same way.
//!
//!   cargo bench --bench stream_instr --no-run
//!   valgrind --tool=callgrind target/release/deps/stream_instr-* 1000
//!
//! A second argument sets the number of text deltas (default 40): with 0 the
//! count is the stream's other five events alone.
use cliproxy::translate::format::Format;
use cliproxy::translate::stream::{new_stream_translator, StreamCtx};
use std::hint::black_box;

fn claude40(deltas: usize) -> Vec<u8> {
    let mut s = String::from(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_bench\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-bench\",\"stop_reason\":null,\"usage\":{\"input_tokens\":12,\"output_tokens\":1}}}\n\n\
         event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
    );
    for i in 1..=deltas {
        s += &format!("event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":\"word{i} \"}}}}\n\n");
    }
    s += "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n\
          event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":40}}\n\n\
          event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    s.into_bytes()
}

fn main() {
    let reps: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let deltas: usize = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(40);
    let input = claude40(deltas);
    let ctx = || StreamCtx {
        model: "claude40",
        created: 1_700_000_000,
        id_seed: 42,
    };
    let mut t = new_stream_translator(Format::Claude, Format::OpenAiChat, ctx());
    let mut out = Vec::with_capacity(input.len() * 4);
    let mut total = 0usize;
    for _ in 0..reps {
        t.reset(ctx());
        out.clear();
        for chunk in input.chunks(4096) {
            t.feed(black_box(chunk), &mut out);
        }
        t.finish(&mut out);
        total += out.len();
    }
    println!(
        "{} bytes in, {} bytes out per stream",
        input.len(),
        total / reps.max(1)
    );
}
