#![no_main]
//! Arbitrary bytes through every request and response pair: a clean error or
//! valid JSON, never a panic.

use cliproxy::translate::format::Format;
use cliproxy::translate::request::{translate_request, ReqOpts};
use cliproxy::translate::response::{translate_response, RespCtx};
use libfuzzer_sys::fuzz_target;

const ALL: [Format; 6] = [
    Format::OpenAiChat,
    Format::OpenAiResponses,
    Format::Claude,
    Format::Gemini,
    Format::Codex,
    Format::GeminiCli,
];

fuzz_target!(|data: &[u8]| {
    let opts = ReqOpts { upstream_model: "m(high)", stream: true, claude_default_max_tokens: None };
    let ctx = RespCtx { client_model: "m", created: 0 };
    for from in ALL {
        for to in ALL {
            let mut out = Vec::new();
            if translate_request(from, to, data, &opts, &mut out).is_ok() {
                assert!(cliproxy::json::tree::parse(&out).is_ok());
            } else {
                assert!(out.is_empty());
            }
            out.clear();
            if translate_response(from, to, data, &ctx, &mut out).is_ok() {
                assert!(cliproxy::json::tree::parse(&out).is_ok());
            }
        }
    }
});
