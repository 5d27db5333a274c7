//! The generated ≥ 2 MB agent conversation (OpenAI Chat) shared by the
//! request-translation and JSON-reader benches (included with `#[path]`).

use serde_json::{json, Value};

/// Tiny deterministic PRNG (xorshift64*) so the big input is reproducible.
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn words(&mut self, n: usize) -> String {
        const W: &[&str] = &[
            "the",
            "file",
            "function",
            "returns",
            "error",
            "\"quoted\"",
            "path/to/src",
            "line\n",
            "tab\t",
            "unicode é",
            "and",
            "config",
            "value",
            "{json}",
            "test",
        ];
        let mut s = String::with_capacity(n * 6);
        for i in 0..n {
            if i > 0 {
                s.push(' ');
            }
            s.push_str(W[(self.next() % W.len() as u64) as usize]);
        }
        s
    }
}

/// A ≥2 MB OpenAI Chat agent conversation: 40 tools, 100 tool round trips.
pub fn big_chat(seed: u64) -> Vec<u8> {
    let mut r = Rng(seed);
    let tools: Vec<Value> = (0..40)
        .map(|i| {
            json!({"type":"function","function":{"name":format!("tool_{i}"),"description":r.words(30),
                "parameters":{"type":"object","properties":{
                    "path":{"type":"string","description":r.words(8)},
                    "limit":{"type":"integer","minimum":1},
                    "mode":{"type":"string","enum":["a","b","c"]}},"required":["path"]}}})
        })
        .collect();
    let mut msgs = vec![json!({"role": "system", "content": r.words(800)})];
    let mut size = 0usize;
    let mut i = 0;
    while size < 2_200_000 || i < 100 {
        let user = r.words(200);
        let args = json!({"path":format!("src/file_{i}.rs"),"limit":i}).to_string();
        let result = r.words(3000);
        size += user.len() + result.len() + 200;
        msgs.push(json!({"role":"user","content":user}));
        msgs.push(json!({"role":"assistant","content":r.words(40),"tool_calls":[
            {"id":format!("call_{i}"),"type":"function","function":{"name":format!("tool_{}", i % 40),"arguments":args}}]}));
        msgs.push(json!({"role":"tool","tool_call_id":format!("call_{i}"),"content":result}));
        i += 1;
    }
    msgs.push(json!({"role":"user","content":"continue"}));
    let body = serde_json::to_vec(&json!({"model":"gpt-4.1","messages":msgs,"tools":tools,"max_tokens":8000,"temperature":0.3,"stream":true})).expect("serialise");
    assert!(
        body.len() >= 2 * 1024 * 1024,
        "agent conversation must be at least 2 MiB"
    );
    body
}
