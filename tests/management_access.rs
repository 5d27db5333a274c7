//! Management API access rules through the real binary: routes exist only
//! with a key configured, the plaintext key is bcrypt-hashed into the file
//! (comments kept), keys come from `Authorization` or `X-Management-Key`,
//! remote clients are refused unless allowed, five failures ban an IP, and
//! every management answer carries the version headers.

mod common;
use common::*;
use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

const KEY: &str = "mgmt-plain-key";

fn config(extra: &str) -> String {
    format!(
        "# operator comment at the top\napi-keys: [\"sk-client\"]\nremote-management:\n  # who may manage\n  allow-remote: false\n  secret-key: \"{KEY}\" # set at install\n{extra}debug: false # keep\n"
    )
}

fn get(srv: &Server, headers: &[(&str, &str)]) -> Resp {
    srv.request("GET", "/v0/management/debug", headers, "")
}

/// One request from a chosen loopback source address (not 127.0.0.1).
fn request_from(src: &str, to: SocketAddr, headers: &[(&str, &str)]) -> Resp {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let src: SocketAddr = format!("{src}:0").parse().unwrap();
    sock.bind(&src.into()).unwrap();
    sock.connect(&to.into()).unwrap();
    let mut s: TcpStream = sock.into();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(&raw_request("GET", "/v0/management/debug", headers, ""))
        .unwrap();
    read_response(&mut BufReader::new(s), false).unwrap()
}

#[test]
fn without_a_key_the_routes_do_not_exist() {
    let srv = Server::start("epoll", 1, "api-keys: [\"sk-client\"]\n", &[]);
    let r = get(&srv, &[("Authorization", "Bearer anything")]);
    assert_eq!(r.status, 404);
    assert_eq!(r.text(), "404 page not found");
    assert!(r.header("X-CPA-VERSION").is_none());
}

#[test]
fn plaintext_key_is_hashed_in_place_and_accepted() {
    let srv = Server::start("epoll", 1, &config(""), &[]);
    let text = std::fs::read_to_string(&srv.config_path).unwrap();
    assert!(
        !text.contains(KEY),
        "plaintext key left in the file: {text}"
    );
    let line = text
        .lines()
        .find(|l| l.contains("secret-key:"))
        .unwrap()
        .to_string();
    assert!(line.starts_with("  secret-key: \"$2a$10$"), "{line}");
    assert!(line.ends_with("\" # set at install"), "{line}");
    // Everything but that value is byte for byte what the operator wrote.
    let hash = line
        .trim_start_matches("  secret-key: \"")
        .trim_end_matches("\" # set at install");
    assert_eq!(hash.len(), 60);
    assert_eq!(
        text.replace(hash, KEY),
        format!("port: 0\nhost: 127.0.0.1\n{}", config(""))
    );
    assert!(!srv.log_text().contains(KEY), "key in logs");

    // Bearer, raw Authorization and X-Management-Key all work.
    for h in [
        ("Authorization", format!("Bearer {KEY}")),
        ("Authorization", KEY.to_string()),
        ("X-Management-Key", KEY.to_string()),
    ] {
        let r = get(&srv, &[(h.0, &h.1)]);
        assert_eq!(r.status, 200, "{h:?}: {}", r.text());
        assert_eq!(r.json(), serde_json::json!({"debug": false}));
        assert_eq!(r.header("X-CPA-VERSION"), Some(env!("CARGO_PKG_VERSION")));
        assert!(r.header("X-CPA-COMMIT").is_some());
        assert!(r.header("X-CPA-BUILD-DATE").is_some());
    }
    // The hash itself is not a key.
    let r = get(&srv, &[("X-Management-Key", hash)]);
    assert_eq!(r.status, 401);
    // An unknown management path is a 404 even with a key.
    let r = srv.request(
        "GET",
        "/v0/management/no-such-route",
        &[("X-Management-Key", KEY)],
        "",
    );
    assert_eq!(r.status, 404);
}

#[test]
fn missing_and_wrong_keys_then_a_ban() {
    let srv = Server::start("epoll", 2, &config(""), &[]);
    let r = get(&srv, &[]);
    assert_eq!(r.status, 401);
    assert_eq!(
        r.json(),
        serde_json::json!({"error": "missing management key"})
    );
    assert!(r.header("X-CPA-VERSION").is_some());
    for _ in 0..3 {
        let r = get(&srv, &[("Authorization", "Bearer wrong")]);
        assert_eq!(r.status, 401);
        assert_eq!(
            r.json(),
            serde_json::json!({"error": "invalid management key"})
        );
    }
    // Fifth failure (the missing key counted) bans; then even the right key is refused.
    let banned_at = std::time::Instant::now();
    let r = get(&srv, &[("Authorization", "Bearer wrong")]);
    assert_eq!(r.status, 401);
    let r = get(&srv, &[("Authorization", &format!("Bearer {KEY}"))]);
    assert_eq!(r.status, 403);
    let msg = r.json()["error"].as_str().unwrap().to_string();
    // Go's duration text of what is left of the 30 minutes: at most 30m0s,
    // and no less than 30 minutes minus the time since the ban (rounded
    // down to whole seconds), however slow this machine is.
    let left = msg
        .strip_prefix("IP banned due to too many failed attempts. Try again in ")
        .and_then(|d| d.strip_suffix('s'))
        .and_then(|d| d.split_once('m'))
        .and_then(|(m, s)| Some(m.parse::<u64>().ok()? * 60 + s.parse::<u64>().ok()?))
        .unwrap_or_else(|| panic!("{msg}"));
    let waited = banned_at.elapsed().as_secs() + 1;
    assert!(
        left <= 30 * 60 && left + waited >= 30 * 60,
        "{msg} ({waited} s after the ban)"
    );
    // The proxy routes are not affected by a management ban.
    let r = srv.request(
        "GET",
        "/v1/models",
        &[("Authorization", "Bearer sk-client")],
        "",
    );
    assert_eq!(r.status, 200);
}

#[test]
fn a_success_resets_the_failure_count() {
    let srv = Server::start("epoll", 1, &config(""), &[]);
    for _ in 0..4 {
        assert_eq!(get(&srv, &[("X-Management-Key", "bad")]).status, 401);
    }
    assert_eq!(get(&srv, &[("X-Management-Key", KEY)]).status, 200);
    for _ in 0..4 {
        assert_eq!(get(&srv, &[("X-Management-Key", "bad")]).status, 401);
    }
    assert_eq!(get(&srv, &[("X-Management-Key", KEY)]).status, 200);
}

#[test]
fn remote_clients_need_allow_remote() {
    let srv = Server::start("epoll", 1, &config(""), &[]);
    let r = request_from("127.0.0.2", srv.addr, &[("X-Management-Key", KEY)]);
    assert_eq!(r.status, 403);
    assert_eq!(
        r.json(),
        serde_json::json!({"error": "remote management disabled"})
    );

    let allowed = config("").replace("allow-remote: false", "allow-remote: true");
    let srv = Server::start("epoll", 1, &allowed, &[]);
    let r = request_from("127.0.0.2", srv.addr, &[("X-Management-Key", KEY)]);
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn management_password_enables_routes_and_remote_access() {
    let srv = Server::start_env(
        "epoll",
        1,
        "api-keys: [\"sk-client\"]\n",
        &[],
        &[("MANAGEMENT_PASSWORD", "env-pass")],
    );
    let r = request_from(
        "127.0.0.2",
        srv.addr,
        &[("Authorization", "Bearer env-pass")],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = get(&srv, &[("Authorization", "Bearer other")]);
    assert_eq!(r.status, 401);
    assert!(!srv.log_text().contains("env-pass"));
}

#[test]
fn a_key_that_cannot_be_written_back_stops_the_start() {
    // Flow style cannot be edited in place: the server refuses to start
    // rather than serve with a plaintext key.
    let dir = scratch_dir("mgmt-flow");
    let path = dir.join("config.yaml");
    std::fs::write(
        &path,
        "port: 0\nhost: 127.0.0.1\nremote-management: {secret-key: plain}\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cliproxy"))
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("remote-management.secret-key: cannot write the hash back"),
        "{err}"
    );
    assert!(!err.contains("plain}"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_plaintext_key_set_by_a_reload_is_hashed_too() {
    let srv = Server::start("epoll", 1, "api-keys: [\"sk-client\"]\ndebug: false\n", &[]);
    assert_eq!(get(&srv, &[("X-Management-Key", "later-key")]).status, 404);
    let text = "api-keys: [\"sk-client\"]\nport: 0\nhost: 127.0.0.1\nremote-management:\n  secret-key: later-key\n";
    std::fs::write(&srv.config_path, text).unwrap();
    assert!(
        eventually(Duration::from_secs(10), || get(
            &srv,
            &[("X-Management-Key", "later-key")]
        )
        .status
            == 200),
        "{}",
        srv.log_text()
    );
    let now = std::fs::read_to_string(&srv.config_path).unwrap();
    assert!(
        !now.contains("later-key") && now.contains("secret-key: \"$2a$10$"),
        "{now}"
    );
}
