//! Golden tests for every (upstream, client) stream pair over every fixture, plus
//! split-at-every-byte equivalence and output-validity checks.
//!
//! Set `UPDATE_GOLDEN=1` to (re)write missing/changed expected files (then review them).

#[path = "stream_support/mod.rs"]
mod common;
use cliproxy::translate::format::Format;
use common::*;

fn expected_path(from: &str, to: &str, case: &str) -> std::path::PathBuf {
    fixture_dir()
        .join("expected")
        .join(format!("{from}__{to}__{case}.sse"))
}

#[test]
fn golden_outputs_match() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut checked = 0;
    for (from, from_name, case, input) in fixtures() {
        for (to, to_name) in FORMATS {
            if to == from {
                continue;
            }
            let got = translate(from, to, &input, &[]);
            parse_output(&got);
            let path = expected_path(from_name, to_name, &case);
            if update {
                std::fs::write(&path, &got).unwrap();
            }
            let want =
                std::fs::read(&path).unwrap_or_else(|_| panic!("missing {}", path.display()));
            assert_eq!(
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(&want),
                "{from_name} -> {to_name} ({case})"
            );
            checked += 1;
        }
    }
    assert!(checked >= 36, "only {checked} golden pairs");
}

#[test]
fn split_at_every_byte_matches_whole() {
    for (from, from_name, case, input) in fixtures() {
        for (to, to_name) in FORMATS {
            let whole = translate(from, to, &input, &[]);
            let whole_frames = if from == to {
                Vec::new()
            } else {
                parse_output(&whole)
            };
            for i in 0..=input.len() {
                let got = translate(from, to, &input, &[i]);
                if from == to {
                    assert_eq!(got, whole);
                } else {
                    assert_eq!(
                        parse_output(&got),
                        whole_frames,
                        "{from_name}->{to_name} {case} cut {i}"
                    );
                }
            }
            let every: Vec<usize> = (1..input.len()).collect();
            let got = translate(from, to, &input, &every);
            if from == to {
                assert_eq!(got, input, "passthrough is byte for byte");
            } else {
                assert_eq!(parse_output(&got), whole_frames);
            }
        }
    }
}

/// google-genai and Gemini CLI parse every non-blank line of a stream as `data: <json>`:
/// whatever the upstream sends (Claude `ping`, SSE comments, errors), a Gemini client's
/// stream has no other line, whole or split anywhere.
#[test]
fn gemini_client_streams_are_data_lines_only() {
    for (from, from_name, case, input) in fixtures() {
        if from == Format::Gemini {
            continue;
        }
        for i in 0..=input.len() {
            let got = translate(from, Format::Gemini, &input, &[i]);
            let text = String::from_utf8(got).unwrap();
            for line in text.lines().filter(|l| !l.is_empty()) {
                let data = line.strip_prefix("data: ").unwrap_or_else(|| {
                    panic!("{from_name}/{case} cut {i}: non-data line {line:?}")
                });
                serde_json::from_str::<serde_json::Value>(data).unwrap();
            }
        }
    }
}
