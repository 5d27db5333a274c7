//! Keys that are parsed but not acted on are reported through the real
//! server: one warning line at start (and again on reload) names exactly the
//! inactive keys the config sets, never a key that is acted on, and never a
//! secret value.

mod common;
use common::*;
use std::time::Duration;

const MARK: &str = "parsed but not acted on yet (no effect): ";

/// The keys named by each inactive-keys warning line, in log order.
fn warnings(srv: &Server) -> Vec<Vec<String>> {
    srv.log_text()
        .lines()
        .filter_map(|l| l.split(MARK).nth(1))
        .map(|list| list.split(", ").map(str::to_string).collect())
        .collect()
}

#[test]
fn start_and_reload_name_exactly_the_inactive_keys() {
    let auths = scratch_dir("auths");
    std::fs::write(auths.join("codex-user@example.com.json"), "{}").unwrap();
    let yaml = format!(
        r#"api-keys: ["sk-client-1"]
auth-dir: "{auths}"
debug: false
request-retry: 1
streaming:
  keepalive-seconds: 5
  bootstrap-retries: 2
remote-management:
  secret-key: "mgmt-secret-value"
usage-statistics-enabled: true
ws-auth: false
ampcode:
  upstream-url: "https://amp.example"
tls:
  enable: false
codex-api-key:
  - api-key: kx
    base-url: "http://127.0.0.1:9/backend"
    websockets: true
openai-compatibility:
  - name: c
    base-url: "http://127.0.0.1:9/v1"
    api-key-entries: [{{api-key: k}}]
    models: [{{name: up, alias: m}}]
payload:
  default:
    - models: [{{name: "m"}}]
      params: {{"temperature": 0.5}}
"#,
        auths = auths.display()
    );
    let srv = Server::start("epoll", 1, &yaml, &[]);
    let at_start = warnings(&srv);
    assert_eq!(at_start.len(), 1, "one warning line: {}", srv.log_text());
    assert_eq!(at_start[0], ["ws-auth",]);
    assert!(
        !srv.log_text().contains("mgmt-secret-value"),
        "no secret in logs"
    );

    // Reload with other keys: one new line naming only what is set now.
    let reloaded = format!(
        "api-keys: [\"sk-client-1\"]\nauth-dir: \"{}\"\nrequest-log: true\nlogging-to-file: false\ncommercial-mode: true\nstreaming:\n  keepalive-seconds: 5\n",
        scratch_dir("empty-auths").display()
    );
    std::fs::write(&srv.config_path, reloaded).unwrap();
    assert!(
        eventually(Duration::from_secs(10), || warnings(&srv).len() == 2),
        "no warning after reload: {}",
        srv.log_text()
    );
    // request-log, logging-to-file, logs-max-total-size-mb and
    // error-logs-max-files are acted on (crate::obs): never named.
    assert_eq!(warnings(&srv)[1], ["commercial-mode"]);
    let _ = std::fs::remove_dir_all(&auths);
}

#[test]
fn config_with_only_acted_on_keys_logs_no_inactive_warning() {
    let auths = scratch_dir("no-auth-files");
    let yaml = format!(
        "api-keys: [\"sk-client-1\"]\nauth-dir: \"{}\"\nrequest-retry: 2\nmax-retry-interval: 5\nrouting:\n  strategy: fill-first\nforce-model-prefix: true\nnonstream-keepalive-interval: 3\nbody-limit-mb: 8\n",
        auths.display()
    );
    let srv = Server::start("epoll", 1, &yaml, &[]);
    assert!(warnings(&srv).is_empty(), "{}", srv.log_text());
}
