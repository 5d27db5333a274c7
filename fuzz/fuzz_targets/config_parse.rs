//! Fuzz target: loading any text as config.yaml never panics, and `excluded()`
//! never panics on arbitrary patterns and model names.
//! (The same properties are unit tests in `src/config/tests.rs`.)
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = cliproxy::config::parse_str(&text, std::path::Path::new("/nonexistent"));
    let patterns: Vec<String> = text.lines().take(4).map(String::from).collect();
    for model in text.lines().skip(4).take(4) {
        let _ = cliproxy::config::excluded(&patterns, model);
    }
});
