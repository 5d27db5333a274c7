//! Request logs, error logs, the access log, `logging-to-file` and the
//! management log routes, through the real binary and a scripted upstream.
//! Files are written by a writer thread: every check polls the directory
//! with `eventually` (no sleeps).

mod common;
use common::mgmt::{chunks_with_usage, KEY};
use common::*;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Duration;

const UP_KEY: &str = "up-secret-key-123";
const COOKIE_SECRET: &str = "cookie-secret-9";

fn script(r: &Recorded) -> Reply {
    let body = r.json();
    let content = body["messages"][0]["content"].as_str().unwrap_or("");
    if content.starts_with("fail") {
        return json_reply(500, r#"{"error":{"message":"boom"}}"#);
    }
    if body["stream"] == json!(true) {
        return sse_reply(chunks_with_usage(
            "upstream-model",
            &["str", "eamed"],
            10,
            20,
        ));
    }
    json_reply(200, &completion("upstream-model", "hello-answer"))
}

fn start(mock: &Mock, extra: &str) -> Server {
    let yaml = format!(
        "{}request-retry: 0\ndisable-cooling: true\nremote-management:\n  secret-key: \"{KEY}\"\n{extra}",
        compat_config(&mock.base_url(), &[CLIENT_KEY], &[UP_KEY])
    );
    // One worker: requests finish (and queue their logs) in the order sent,
    // so "the oldest file" is well defined; two workers may swap neighbours.
    Server::start("epoll", 1, &yaml, &[])
}

fn chat(srv: &Server, content: &str, stream: bool) -> Resp {
    let body =
        json!({"model":"gpt-test","stream":stream,"messages":[{"role":"user","content":content}]});
    srv.request(
        "POST",
        "/v1/chat/completions",
        &[
            CLIENT_AUTH,
            ("Content-Type", "application/json"),
            ("Cookie", &format!("session={COOKIE_SECRET}")),
        ],
        &body.to_string(),
    )
}

fn mgmt(srv: &Server, method: &str, path: &str) -> Resp {
    srv.request(
        method,
        &format!("/v0/management{path}"),
        &[("X-Management-Key", KEY)],
        "",
    )
}

fn log_dir(srv: &Server) -> PathBuf {
    srv.dir.join("logs")
}

/// (name, contents) of every file in `dir`, sorted by name.
fn files(dir: &Path) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| {
                    let text = std::fs::read(e.path())
                        .map(|b| String::from_utf8_lossy(&b).into_owned())
                        .unwrap_or_default();
                    (e.file_name().to_string_lossy().into_owned(), text)
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn assert_no_secret(dir: &Path) {
    for (name, text) in files(dir) {
        for secret in [CLIENT_KEY, UP_KEY, COOKIE_SECRET, KEY] {
            assert!(!text.contains(secret), "{secret} in {name}:\n{text}");
        }
    }
}

#[test]
fn request_log_holds_request_upstream_and_answer_with_secrets_masked() {
    let mock = Mock::start(script);
    let srv = start(&mock, "request-log: true\n");
    let plain = chat(&srv, "first-question", false);
    assert_eq!(plain.status, 200, "{}", plain.text());
    let streamed = chat(&srv, "second-question", true);
    assert_eq!(streamed.status, 200);
    // A Claude client: translated both ways, its key in x-api-key.
    let claude = srv.request(
        "POST",
        "/v1/messages",
        &[
            ("x-api-key", CLIENT_KEY),
            ("anthropic-version", "2023-06-01"),
            ("Content-Type", "application/json"),
        ],
        &json!({"model":"gpt-test","max_tokens":10,"messages":[{"role":"user","content":"third-question"}]})
            .to_string(),
    );
    assert_eq!(claude.status, 200, "{}", claude.text());
    // The upstream did get its key (so masking it is what keeps it out).
    assert_eq!(
        mock.requests()[0].header("authorization"),
        Some(format!("Bearer {UP_KEY}").as_str())
    );

    let dir = log_dir(&srv);
    let mut logs = Vec::new();
    assert!(
        eventually(Duration::from_secs(10), || {
            logs = files(&dir);
            logs.len() == 3
        }),
        "{logs:?}"
    );
    let find = |needle: &str| {
        logs.iter()
            .find(|(_, t)| t.contains(needle))
            .unwrap_or_else(|| panic!("no log with {needle}: {logs:?}"))
            .clone()
    };
    let (name, text) = find("first-question");
    assert!(
        name.starts_with("v1-chat-completions-") && name.ends_with(".log"),
        "{name}"
    );
    for want in [
        "=== REQUEST INFO ===",
        "URL: /v1/chat/completions",
        "Method: POST",
        "=== HEADERS ===",
        "Authorization: Bearer ****",
        "Cookie: ****",
        "Content-Type: application/json",
        "=== REQUEST BODY ===",
        "=== API REQUEST ===\nPOST ",
        "\"upstream-model\"",
        "=== API RESPONSE ===\nStatus: 200",
        "=== RESPONSE ===\nStatus: 200",
        "hello-answer",
    ] {
        assert!(text.contains(want), "missing {want:?} in {name}:\n{text}");
    }
    let (_, stream_text) = find("second-question");
    assert!(stream_text.contains("text/event-stream"), "{stream_text}");
    assert!(stream_text.contains("eamed"), "{stream_text}");
    assert!(stream_text.contains("[DONE]"), "{stream_text}");
    let (claude_name, claude_text) = find("third-question");
    assert!(claude_name.starts_with("v1-messages-"), "{claude_name}");
    assert!(claude_text.contains("x-api-key: ****"), "{claude_text}");
    // The upstream's own (OpenAI) body, then the client's (Claude) answer.
    let api = claude_text.split("=== API RESPONSE ===").nth(1).unwrap();
    let (upstream_part, client_part) = api.split_once("=== RESPONSE ===").unwrap();
    assert!(
        upstream_part.contains("\"chat.completion\""),
        "{claude_text}"
    );
    assert!(
        client_part.contains("\"type\":\"message\""),
        "{claude_text}"
    );
    assert_no_secret(&dir);

    // The log by its request id (the name's last part), byte for byte.
    let id = name
        .trim_end_matches(".log")
        .rsplit('-')
        .next()
        .unwrap()
        .to_string();
    let got = mgmt(&srv, "GET", &format!("/request-log-by-id/{id}"));
    assert_eq!(got.status, 200);
    assert_eq!(got.text(), text);
    assert!(got
        .header("content-disposition")
        .is_some_and(|d| d.contains(&name)));
    assert_eq!(
        mgmt(&srv, "GET", "/request-log-by-id/ffffffff0").status,
        404
    );
    assert_eq!(
        mgmt(&srv, "GET", "/request-log-by-id/..%2F..%2Fx").status,
        400
    );
    // With request-log on, the error-log list is empty (CLIProxyAPI).
    assert_eq!(
        mgmt(&srv, "GET", "/request-error-logs").json(),
        json!({"files": []})
    );
}

#[test]
fn request_log_off_writes_only_capped_error_logs() {
    let mock = Mock::start(script);
    let srv = start(&mock, "error-logs-max-files: 2\n");
    for _ in 0..3 {
        assert_eq!(chat(&srv, "fine", false).status, 200);
        assert_eq!(chat(&srv, "fine", true).status, 200);
    }
    for i in 0..4 {
        assert_eq!(chat(&srv, &format!("fail-{i}"), false).status, 500);
    }
    let dir = log_dir(&srv);
    let mut logs = Vec::new();
    // One worker queues the logs in request order and one writer thread
    // takes them in order: once fail-3's log is there, every earlier
    // request was handled.
    assert!(
        eventually(Duration::from_secs(10), || {
            logs = files(&dir);
            logs.len() == 2 && logs.iter().any(|(_, t)| t.contains("fail-3"))
        }),
        "{logs:?}"
    );
    assert!(
        logs.iter()
            .all(|(n, _)| n.starts_with("error-v1-chat-completions-")),
        "{logs:?}"
    );
    assert!(logs.iter().any(|(_, t)| t.contains("fail-2")), "{logs:?}");
    // Successful requests wrote nothing.
    assert!(logs.iter().all(|(_, t)| !t.contains("fine")), "{logs:?}");
    let (name, text) = logs.iter().find(|(_, t)| t.contains("fail-3")).unwrap();
    for want in [
        "=== API ERROR RESPONSE ===\nHTTP Status: 500",
        "boom",
        "=== RESPONSE ===\nStatus: 500",
    ] {
        assert!(text.contains(want), "missing {want:?}:\n{text}");
    }
    assert_no_secret(&dir);

    // A refused key is an error log too, its key masked.
    let refused = srv.request(
        "POST",
        "/v1/chat/completions",
        &[
            ("Authorization", "Bearer sk-wrong-secret-7"),
            ("Content-Type", "application/json"),
        ],
        r#"{"model":"gpt-test","messages":[{"role":"user","content":"refused-1"}]}"#,
    );
    assert_eq!(refused.status, 401);
    let mut logs = Vec::new();
    assert!(
        eventually(Duration::from_secs(10), || {
            logs = files(&dir);
            logs.iter().any(|(_, t)| t.contains("refused-1"))
        }),
        "{logs:?}"
    );
    let (_, refused_log) = logs.iter().find(|(_, t)| t.contains("refused-1")).unwrap();
    assert!(
        refused_log.contains("=== RESPONSE ===\nStatus: 401"),
        "{refused_log}"
    );
    assert!(!refused_log.contains("sk-wrong-secret-7"), "{refused_log}");
    assert_eq!(logs.len(), 2, "{logs:?}");

    let list = mgmt(&srv, "GET", "/request-error-logs").json();
    let listed = list["files"].as_array().unwrap();
    assert_eq!(listed.len(), 2, "{list}");
    for f in listed {
        assert!(f["name"].as_str().unwrap().starts_with("error-"));
        assert!(f["size"].as_u64().unwrap() > 0);
        assert!(f["modified"].as_u64().unwrap() > 1_600_000_000);
    }
    let got = mgmt(&srv, "GET", &format!("/request-error-logs/{name}"));
    assert_eq!(got.status, 200);
    assert_eq!(&got.text(), text);
    // Traversal and foreign names never reach a file.
    for (path, status) in [
        ("/request-error-logs/..%2Fconfig.yaml", 400),
        ("/request-error-logs/../config.yaml", 400),
        ("/request-error-logs/%2E%2E", 400),
        ("/request-error-logs/config.yaml", 404),
        ("/request-error-logs/error-nothing.log", 404),
    ] {
        let r = mgmt(&srv, "GET", path);
        assert_eq!(r.status, status, "{path}: {}", r.text());
        assert!(r.json()["error"].is_string());
    }
    // logging-to-file is off: the app log routes say so.
    let r = mgmt(&srv, "GET", "/logs");
    assert_eq!(r.status, 400);
    assert_eq!(r.json(), json!({"error": "logging to file disabled"}));
}

#[test]
fn request_logs_are_trimmed_to_the_total_size_limit() {
    let mock = Mock::start(script);
    let srv = start(&mock, "request-log: true\nlogs-max-total-size-mb: 1\n");
    // Each log holds the body twice (request and upstream request): ~600 KB.
    let pad = "x".repeat(300 * 1024);
    for i in 0..5 {
        let r = chat(&srv, &format!("marker-{i} {pad}"), false);
        assert_eq!(r.status, 200);
    }
    let dir = log_dir(&srv);
    let mut state = String::new();
    assert!(
        eventually(Duration::from_secs(15), || {
            let logs = files(&dir);
            let total: usize = logs.iter().map(|(_, t)| t.len()).sum();
            state = format!(
                "{} files, {total} bytes: {:?}",
                logs.len(),
                logs.iter().map(|l| &l.0).collect::<Vec<_>>()
            );
            total <= 1024 * 1024 && logs.iter().any(|(_, t)| t.contains("marker-4"))
        }),
        "{state}"
    );
    let logs = files(&dir);
    assert!(
        logs.iter().all(|(_, t)| !t.contains("marker-0")),
        "the oldest log was kept: {state}"
    );
}

#[test]
fn logging_to_file_feeds_the_logs_route() {
    let mock = Mock::start(script);
    let srv = start(&mock, "logging-to-file: true\n");
    let dir = log_dir(&srv);
    let main = dir.join("main.log");
    assert!(
        eventually(Duration::from_secs(10), || std::fs::read_to_string(&main)
            .is_ok_and(|t| t.contains("listening on"))),
        "no main.log"
    );
    let first = mgmt(&srv, "GET", "/logs").json();
    let lines = first["lines"].as_array().unwrap();
    assert!(
        lines
            .iter()
            .any(|l| l.as_str().unwrap().contains("listening on")),
        "{first}"
    );
    assert!(lines[0].as_str().unwrap().starts_with('['), "{first}");
    assert_eq!(first["line-count"].as_u64().unwrap() as usize, lines.len());
    assert!(first["latest-timestamp"].as_u64().unwrap() > 1_600_000_000);
    let cursor = first["next-cursor"].as_str().unwrap().to_string();
    assert!(!cursor.is_empty());
    assert_eq!(
        mgmt(&srv, "GET", "/logs?limit=1").json()["lines"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(mgmt(&srv, "GET", "/logs?limit=0").status, 400);
    assert_eq!(mgmt(&srv, "GET", "/logs?limit=x").status, 400);

    // A new warning: the cursor hands out only what came after it.
    assert_eq!(chat(&srv, "fail-now", false).status, 500);
    let mut next = json!(null);
    assert!(
        eventually(Duration::from_secs(10), || {
            next = mgmt(&srv, "GET", &format!("/logs?cursor={cursor}")).json();
            next["lines"].as_array().is_some_and(|l| {
                l.iter()
                    .any(|l| l.as_str().unwrap().contains("answered 500"))
            })
        }),
        "{next}"
    );
    let lines = next["lines"].as_array().unwrap();
    assert!(
        lines
            .iter()
            .all(|l| !l.as_str().unwrap().contains("listening on")),
        "{next}"
    );
    assert!(next.get("cursor-reset").is_none());
    // The warning went to the file, not to stderr.
    assert!(!srv.log_text().contains("answered 500"));
    // A cursor from nowhere starts again from the tail.
    let reset = mgmt(&srv, "GET", "/logs?cursor=v1.1.999999999&limit=2").json();
    assert_eq!(reset["cursor-reset"], json!(true), "{reset}");

    std::fs::write(
        dir.join("main-2020-01-01T00-00-00.000.log"),
        "[2020-01-01 00:00:00] [info] old\n",
    )
    .unwrap();
    let del = mgmt(&srv, "DELETE", "/logs");
    assert_eq!(del.status, 200);
    assert_eq!(
        del.json(),
        json!({"success": true, "message": "Logs cleared successfully", "removed": 1})
    );
    assert!(!dir.join("main-2020-01-01T00-00-00.000.log").exists());
    let after = mgmt(&srv, "GET", "/logs").json();
    assert!(
        after["lines"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| !l.as_str().unwrap().contains("listening on")),
        "{after}"
    );
}

#[test]
fn access_log_lines_parse_and_carry_no_secret() {
    let mock = Mock::start(script);
    let srv = start(&mock, "access-log:\n  enabled: true\n  format: json\n");
    assert_eq!(chat(&srv, "one", false).status, 200);
    assert_eq!(chat(&srv, "two", true).status, 200);
    assert_eq!(chat(&srv, "fail-x", false).status, 500);
    let path = log_dir(&srv).join("access.log");
    let mut text = String::new();
    assert!(
        eventually(Duration::from_secs(10), || {
            text = std::fs::read_to_string(&path).unwrap_or_default();
            text.lines().count() == 3
        }),
        "{text}"
    );
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    for l in &lines {
        assert_eq!(l["model"], "gpt-test");
        assert_eq!(l["provider"], "mock");
        assert_eq!(l["path"], "/v1/chat/completions");
        let key = l["key"].as_str().unwrap();
        assert_eq!(key.len(), 8, "{l}");
        assert!(key.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(l["credential"].as_str().unwrap().len(), 16, "{l}");
        assert!(l["latency_ms"].as_f64().unwrap() >= l["ttfb_ms"].as_f64().unwrap());
        assert!(l["time"].as_str().unwrap().ends_with('Z'));
    }
    let statuses: Vec<u64> = lines
        .iter()
        .map(|l| l["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 2);
    assert!(statuses.contains(&500));
    let streamed = lines
        .iter()
        .find(|l| l["tokens_out"] == 20)
        .unwrap_or_else(|| panic!("no line with the stream's usage: {text}"));
    assert_eq!(streamed["tokens_in"], 10);
    assert_no_secret(&log_dir(&srv));
}

#[test]
fn access_log_logfmt_lines_carry_every_field() {
    let mock = Mock::start(script);
    let srv = start(
        &mock,
        "access-log:\n  enabled: true\n  format: logfmt\n  path: \"acc/requests.log\"\n",
    );
    assert_eq!(chat(&srv, "one", false).status, 200);
    // A relative path is taken from the config file's directory.
    let path = srv.dir.join("acc/requests.log");
    let mut text = String::new();
    assert!(
        eventually(Duration::from_secs(10), || {
            text = std::fs::read_to_string(&path).unwrap_or_default();
            text.lines().count() == 1
        }),
        "{text}"
    );
    let fields: std::collections::HashMap<&str, &str> = text
        .trim_end()
        .split(' ')
        .map(|kv| {
            kv.split_once('=')
                .unwrap_or_else(|| panic!("{kv} in {text}"))
        })
        .collect();
    for k in [
        "time",
        "key",
        "method",
        "path",
        "model",
        "provider",
        "credential",
        "status",
        "latency_ms",
        "ttfb_ms",
        "tokens_in",
        "tokens_out",
    ] {
        assert!(fields.contains_key(k), "no {k}: {text}");
    }
    assert_eq!(fields["status"], "200");
    assert_eq!(fields["model"], "gpt-test");
    assert_eq!(fields["tokens_in"], "3");
    assert_eq!(fields["tokens_out"], "2");
    assert!(!text.contains(CLIENT_KEY) && !text.contains(UP_KEY));
}

#[test]
fn request_log_follows_a_reload() {
    let mock = Mock::start(script);
    let srv = start(&mock, "");
    assert_eq!(chat(&srv, "before", false).status, 200);
    let yaml = std::fs::read_to_string(&srv.config_path).unwrap();
    std::fs::write(&srv.config_path, format!("{yaml}request-log: true\n")).unwrap();
    let dir = log_dir(&srv);
    // Each poll sends a request; once the reload is applied it is logged.
    assert!(
        eventually(Duration::from_secs(15), || {
            assert_eq!(chat(&srv, "after", false).status, 200);
            files(&dir)
                .iter()
                .any(|(n, t)| n.starts_with("v1-chat-completions-") && t.contains("after"))
        }),
        "{:?}",
        files(&dir)
    );
    // The request before the reload was never logged.
    assert!(files(&dir).iter().all(|(_, t)| !t.contains("before")));
    assert_no_secret(&dir);
}
