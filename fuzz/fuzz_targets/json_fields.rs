//! The request-body span scanner: never panics; when it accepts a body,
//! serde_json agrees on the model, and the model rewrite stays valid JSON.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(f) = cliproxy::json::request_fields(data) else { return };
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    if let Some(m) = v.get("model").and_then(|m| m.as_str()) {
        assert_eq!(f.model.as_deref(), Some(m));
        let span = f.model_span.expect("span");
        let out = cliproxy::json::replace_span_with_string(data, span, "rewritten/\"m\"");
        let v2: serde_json::Value = serde_json::from_slice(&out).expect("rewrite is JSON");
        assert_eq!(v2["model"], "rewritten/\"m\"");
    }
});
