//! Legacy `POST /v1/completions`, served through chat completions (as
//! CLIProxyAPI does): the request becomes a one-message chat request and the
//! answer, whole or streamed, becomes `text_completion` objects again.
//! This route is rare, so it uses `serde_json` values rather than span edits.

use serde_json::{json, Map, Value};

/// Converts a completions request into a chat completions request.
pub fn request_to_chat(body: &[u8]) -> Result<Vec<u8>, String> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| format!("invalid request body: {e}"))?;
    let Value::Object(mut m) = v else {
        return Err("request body must be a JSON object".into());
    };
    let prompt = match m.remove("prompt") {
        Some(Value::String(s)) => s,
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join("\n"),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    for k in ["echo", "best_of", "logprobs", "suffix"] {
        m.remove(k);
    }
    m.insert(
        "messages".into(),
        json!([{"role": "user", "content": prompt}]),
    );
    serde_json::to_vec(&Value::Object(m)).map_err(|e| e.to_string())
}

fn choice_to_text(c: &Value, delta: bool) -> Value {
    let src = if delta { &c["delta"] } else { &c["message"] };
    json!({
        "text": src["content"].as_str().unwrap_or(""),
        "index": c["index"].as_u64().unwrap_or(0),
        "logprobs": Value::Null,
        "finish_reason": c["finish_reason"].clone(),
    })
}

fn convert(v: &Value, delta: bool) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), v["id"].clone());
    out.insert("object".into(), json!("text_completion"));
    out.insert("created".into(), v["created"].clone());
    out.insert("model".into(), v["model"].clone());
    let choices: Vec<Value> = v["choices"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| choice_to_text(c, delta))
        .collect();
    out.insert("choices".into(), Value::Array(choices));
    if !v["usage"].is_null() {
        out.insert("usage".into(), v["usage"].clone());
    }
    Value::Object(out)
}

/// Converts a chat completion body into a `text_completion` body; error
/// bodies (with an `error` member) and non-JSON pass through unchanged.
pub fn response_from_chat(body: &[u8]) -> Vec<u8> {
    match serde_json::from_slice::<Value>(body) {
        Ok(v) if v.get("choices").is_some() => {
            serde_json::to_vec(&convert(&v, false)).unwrap_or_else(|_| body.to_vec())
        }
        _ => body.to_vec(),
    }
}

/// Converts a chat completions SSE stream into a completions stream, whole
/// events at a time; bytes of an unfinished event wait for the next feed.
#[derive(Default)]
pub struct LegacyStream {
    pending: Vec<u8>,
}

impl LegacyStream {
    /// Converts every complete event in `pending + bytes` into `out`.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        self.pending.extend_from_slice(bytes);
        // Cut on bytes, so a UTF-8 sequence split across reads stays whole.
        let Some(cut) = crate::sse::last_event_boundary(&self.pending) else {
            return;
        };
        let text = String::from_utf8_lossy(&self.pending[..cut]).replace("\r\n", "\n");
        for ev in text.split("\n\n") {
            convert_event(ev, out);
        }
        self.pending.drain(..cut);
    }

    /// Flushes an unterminated final event.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if !self.pending.is_empty() {
            let text = String::from_utf8_lossy(&self.pending).into_owned();
            convert_event(&text, out);
            self.pending.clear();
        }
    }
}

fn convert_event(ev: &str, out: &mut Vec<u8>) {
    let data: Vec<&str> = ev
        .lines()
        .filter_map(|l| l.strip_prefix("data:").map(str::trim_start))
        .collect();
    if data.is_empty() {
        // Comments and other fields pass through.
        if !ev.trim().is_empty() {
            out.extend_from_slice(ev.as_bytes());
            out.extend_from_slice(b"\n\n");
        }
        return;
    }
    let data = data.join("\n");
    let converted = match serde_json::from_str::<Value>(&data) {
        Ok(v) if v.get("choices").is_some() => {
            serde_json::to_string(&convert(&v, true)).unwrap_or(data)
        }
        _ => data,
    };
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(converted.as_bytes());
    out.extend_from_slice(b"\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_and_response() {
        let chat =
            request_to_chat(br#"{"model":"m","prompt":"Say hi","max_tokens":5,"echo":false}"#)
                .unwrap();
        let v: Value = serde_json::from_slice(&chat).unwrap();
        assert_eq!(
            v,
            json!({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"Say hi"}]})
        );
        let out = response_from_chat(br#"{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"total_tokens":3}}"#);
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["object"], "text_completion");
        assert_eq!(v["choices"][0]["text"], "hi");
        assert_eq!(v["usage"]["total_tokens"], 3);
        assert!(request_to_chat(b"[1]").is_err());
    }

    #[test]
    fn stream_split_at_every_byte_matches_whole() {
        let input = "data: {\"id\":\"c\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"He\"},\"finish_reason\":null}]}\n\n: ping\n\ndata: {\"id\":\"c\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"llö ü\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
        let mut whole = Vec::new();
        let mut s = LegacyStream::default();
        s.feed(input.as_bytes(), &mut whole);
        s.finish(&mut whole);
        let text = String::from_utf8(whole.clone()).unwrap();
        assert!(
            text.contains("\"text\":\"He\"")
                && text.contains("\"text\":\"llö ü\"")
                && text.ends_with("data: [DONE]\n\n"),
            "{text}"
        );
        for cut in 0..input.len() {
            let mut out = Vec::new();
            let mut s = LegacyStream::default();
            s.feed(&input.as_bytes()[..cut], &mut out);
            s.feed(&input.as_bytes()[cut..], &mut out);
            s.finish(&mut out);
            assert_eq!(out, whole, "cut {cut}");
        }
    }
}
