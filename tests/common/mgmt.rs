//! Helpers the management-plane tests share: the management key they
//! configure, calls to `/v0/management/...` with it, the `{"status":"ok"}`
//! check, a chat stream that ends with a usage chunk, and a server whose
//! Claude hosts are dialled at a TLS mock.
#![allow(dead_code)]

use super::{chunks, scratch_dir, Mock, Resp, Server};
use serde_json::json;
use std::path::Path;

/// The `remote-management.secret-key` the management tests configure.
pub const KEY: &str = "mgmt-key";

/// `/v0/management{path}` with the management key and extra headers.
pub fn call_with(
    srv: &Server,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Resp {
    let mut h = vec![("X-Management-Key", KEY)];
    h.extend_from_slice(headers);
    srv.request(method, &format!("/v0/management{path}"), &h, body)
}

/// `/v0/management{path}` with the management key; a body is sent as JSON.
pub fn call(srv: &Server, method: &str, path: &str, body: &str) -> Resp {
    let json = [("Content-Type", "application/json")];
    call_with(
        srv,
        method,
        path,
        if body.is_empty() { &[] } else { &json },
        body,
    )
}

/// A management write answered `200 {"status":"ok"}`.
pub fn ok(r: &Resp) {
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), json!({"status": "ok"}));
}

/// An OpenAI chat stream of `parts` whose last chunk before `[DONE]` carries
/// only usage (as `stream_options.include_usage` upstreams send it).
pub fn chunks_with_usage(model: &str, parts: &[&str], prompt: u64, completion: u64) -> Vec<String> {
    let mut frames = chunks(model, parts);
    let usage = json!({"id":"c1","object":"chat.completion.chunk","created":1,"model":model,
        "choices":[],"usage":{"prompt_tokens":prompt,"completion_tokens":completion,
        "total_tokens":prompt + completion}});
    frames.insert(frames.len() - 1, format!("data: {usage}\n\n"));
    frames
}

/// One epoll server with two workers, management on, `auth` as auth-dir,
/// and `hosts` dialled at `mock` (TLS, its CA trusted).
pub fn start_with_accounts(mock: &Mock, auth: &Path, hosts: &[&str], tag: &str) -> Server {
    start_with_accounts_env(mock, auth, hosts, tag, &[])
}

/// [`start_with_accounts`] with more environment for the server.
pub fn start_with_accounts_env(
    mock: &Mock,
    auth: &Path,
    hosts: &[&str],
    tag: &str,
    env: &[(&str, &str)],
) -> Server {
    let ca = mock.write_ca(&scratch_dir(tag));
    let yaml = format!(
        "api-keys: [\"{}\"]\nauth-dir: \"{}\"\nremote-management:\n  secret-key: \"{KEY}\"\n",
        super::CLIENT_KEY,
        auth.display()
    );
    let connect_to = mock.connect_to(hosts);
    let mut all = vec![("CLIPROXY_CONNECT_TO", connect_to.as_str())];
    all.extend_from_slice(env);
    Server::start_env(
        "epoll",
        2,
        &yaml,
        &["--upstream-ca", &ca.to_string_lossy()],
        &all,
    )
}

/// `/get-auth-status?state=…` as JSON.
pub fn auth_status(srv: &Server, state: &str) -> serde_json::Value {
    call(srv, "GET", &format!("/get-auth-status?state={state}"), "").json()
}
