//! Golden tests: every fixture through every pair, compared (as parsed JSON)
//! with a reviewed expected file. Set `BLESS=1` to (re)write missing or changed
//! expected files; review them before committing.

use cliproxy::translate::format::Format;
use cliproxy::translate::request::{translate_request, ReqOpts};
use cliproxy::translate::response::{translate_response, RespCtx};
use std::path::{Path, PathBuf};

const FORMATS: [(Format, &str); 4] = [
    (Format::OpenAiChat, "openai_chat"),
    (Format::OpenAiResponses, "openai_responses"),
    (Format::Claude, "claude"),
    (Format::Gemini, "gemini"),
];

const TARGETS: [(Format, &str, &str); 5] = [
    (Format::OpenAiChat, "openai_chat", "gpt-4.1"),
    (Format::OpenAiResponses, "openai_responses", "gpt-5"),
    (Format::Claude, "claude", "claude-sonnet-4-5"),
    (Format::Gemini, "gemini", "gemini-2.5-pro"),
    (Format::Codex, "codex", "gpt-5-codex"),
];

fn fixtures(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.retain(|p| p.extension().is_some_and(|e| e == "json"));
    v.sort();
    v
}

fn check(expected_path: &Path, got: &[u8], failures: &mut Vec<String>) {
    let got_v: serde_json::Value = match serde_json::from_slice(got) {
        Ok(v) => v,
        Err(e) => {
            failures.push(format!(
                "{}: output is not JSON: {e}",
                expected_path.display()
            ));
            return;
        }
    };
    let bless = std::env::var_os("BLESS").is_some();
    match std::fs::read(expected_path) {
        Ok(exp) if !bless => {
            let exp_v: serde_json::Value = serde_json::from_slice(&exp).expect("expected JSON");
            if exp_v != got_v {
                failures.push(format!(
                    "{} differs:\n got: {}",
                    expected_path.display(),
                    serde_json::to_string_pretty(&got_v).unwrap()
                ));
            }
        }
        _ => {
            std::fs::create_dir_all(expected_path.parent().unwrap()).unwrap();
            std::fs::write(
                expected_path,
                serde_json::to_string_pretty(&got_v).unwrap() + "\n",
            )
            .unwrap();
        }
    }
}

#[test]
fn request_golden() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/request");
    let mut failures = Vec::new();
    let mut count = 0;
    for (from, fname) in FORMATS {
        for fx in fixtures(&root.join(fname)) {
            let body = std::fs::read(&fx).unwrap();
            let stem = fx.file_stem().unwrap().to_string_lossy().to_string();
            for (to, tname, model) in TARGETS {
                let mut out = Vec::new();
                let opts = ReqOpts {
                    upstream_model: model,
                    stream: false,
                    claude_default_max_tokens: None,
                };
                translate_request(from, to, &body, &opts, &mut out).unwrap();
                let exp = root
                    .join("expected")
                    .join(format!("{fname}__{stem}__to_{tname}.json"));
                check(&exp, &out, &mut failures);
                count += 1;
            }
        }
    }
    assert!(count >= 40, "only {count} cases");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn response_golden() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/response");
    let upstreams = [
        (Format::OpenAiChat, "openai_chat"),
        (Format::Claude, "claude"),
        (Format::Gemini, "gemini"),
        (Format::Codex, "codex"),
    ];
    let mut failures = Vec::new();
    for (from, fname) in upstreams {
        for fx in fixtures(&root.join(fname)) {
            let body = std::fs::read(&fx).unwrap();
            let stem = fx.file_stem().unwrap().to_string_lossy().to_string();
            for (to, tname) in FORMATS {
                let mut out = Vec::new();
                let ctx = RespCtx {
                    client_model: "client-model",
                    created: 1_750_000_000,
                };
                translate_response(from, to, &body, &ctx, &mut out).unwrap();
                let exp = root
                    .join("expected")
                    .join(format!("{fname}__{stem}__to_{tname}.json"));
                check(&exp, &out, &mut failures);
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
