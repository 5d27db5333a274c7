use super::*;
use crate::sse::last_event_boundary;

#[test]
fn codex_terminal_events() {
    let created = "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"r\"}}\n\n";
    let inc = "event: response.incomplete\ndata: {\"type\":\"response.incomplete\",\"response\":{\"status\":\"incomplete\"}}\n\n";
    let failed = "event: response.failed\ndata: {\"type\":\"response.failed\",\"response\":{\"error\":{\"code\":\"insufficient_quota\",\"message\":\"m\"}}}\n\n";
    let error = "data: {\"type\":\"error\",\"code\":\"invalid_prompt\",\"message\":\"bad\"}\n\n";
    match terminal_event(format!("{created}{inc}").as_bytes()) {
        Some(Terminal::Answer(d)) => {
            assert!(d.starts_with(b"{\"type\":\"response.incomplete\""))
        }
        other => panic!("{other:?}"),
    }
    let status = |s: String| match terminal_event(s.as_bytes()) {
        Some(Terminal::Failed { status, body }) => {
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            (
                status,
                v["error"]["code"].as_str().unwrap_or("").to_string(),
            )
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(
        status(format!("{created}{failed}")),
        (429, "insufficient_quota".into())
    );
    assert_eq!(
        status(format!("{created}{error}")),
        (400, "invalid_prompt".into())
    );
    assert_eq!(terminal_event(created.as_bytes()), None);
}

#[test]
fn boundaries() {
    assert_eq!(last_event_boundary(b"data: a\n\ndata: b"), Some(9));
    assert_eq!(last_event_boundary(b"data: a\r\n\r\ndata: b\r\n"), Some(11));
    assert_eq!(last_event_boundary(b"data: a\n"), None);
    assert_eq!(last_event_boundary(b"data: a\n\ndata: b\n\n"), Some(18));
    assert!(ends_with_done(b"data: x\n\ndata: [DONE]\n\n"));
    assert!(!ends_with_done(b"data: {\"t\":\"[DONE]x\"}\n\n"));
}
