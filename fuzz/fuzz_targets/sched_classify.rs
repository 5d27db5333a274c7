//! Fuzz the failure classification, retry-hint parsing and session-id
//! extraction on arbitrary upstream bytes: no panic, and a request fault never
//! both stops and cools. (Same property as the unit test
//! `classify_never_panics_on_arbitrary_bodies`.)
#![no_main]

use cliproxy::credentials::{
    classify, extract_session_id, parse_http_date, retry_hint, Failure, Rule, RuleAction,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let status = u16::from_le_bytes([data[0], data[1]]) % 700;
    let body = &data[2..];
    let rules = [Rule {
        status: 400,
        matches: vec!["quota".into()],
        match_regexr: vec!["blocked".into()],
        action: RuleAction::ContinueAndCooldown,
    }];
    let c = classify(status, body, &rules);
    if c.stop && !c.force_cooldown {
        assert_eq!(c.failure, Failure::Skip);
    }
    let text = String::from_utf8_lossy(body);
    let _ = retry_hint(Some(&text), body, 1_700_000_000);
    let _ = parse_http_date(&text);
    let _ = extract_session_id(&[("Session-Id", body), ("X-Session-ID", body)], body);
});
