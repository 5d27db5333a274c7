//! The control panel (`GET /management.html`), `/latest-version`,
//! `/usage-queue` and `/api-key-usage` through the real binary. GitHub (its
//! API, its download redirect host) and CLIProxyAPI's fallback page are a
//! TLS mock under their real names (`CLIPROXY_CONNECT_TO`, `--upstream-ca`):
//! nothing leaves the machine.

mod common;
use common::mgmt::KEY;
use common::*;
use serde_json::json;
use sha2::Digest;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

const HOSTS: &[&str] = &[
    "api.github.com",
    "github.com",
    "objects.githubusercontent.com",
    "cpamc.router-for.me",
];
const PANEL: &str = "<!doctype html><title>panel from the release</title>";
const FALLBACK: &str = "<!doctype html><title>fallback page</title>";

fn sha(b: &[u8]) -> String {
    sha2::Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// How the mock GitHub behaves.
#[derive(Clone)]
struct Gh {
    release_status: u16,
    digest: String,
    /// Held until the test sends on the paired channel (asset downloads).
    gate: Option<Arc<Mutex<mpsc::Receiver<()>>>>,
}

impl Gh {
    fn good() -> Gh {
        Gh {
            release_status: 200,
            digest: format!("sha256:{}", sha(PANEL.as_bytes())),
            gate: None,
        }
    }
}

fn github(gh: Gh) -> Mock {
    Mock::start_tls_named(HOSTS, move |r: &Recorded| {
        let host = r.header("host").unwrap_or("").to_string();
        match (host.as_str(), r.path.as_str()) {
            ("api.github.com", "/repos/o/panel/releases/latest") => json_reply(
                gh.release_status,
                &json!({"tag_name":"v9.9.9","assets":[
                    {"name":"notes.txt","browser_download_url":"https://github.com/o/panel/releases/download/v9.9.9/notes.txt"},
                    {"name":"management.html","digest":gh.digest,
                     "browser_download_url":"https://github.com/o/panel/releases/download/v9.9.9/management.html"}]})
                .to_string(),
            ),
            ("github.com", "/o/panel/releases/download/v9.9.9/management.html") => Reply::Full {
                status: 302,
                headers: vec![(
                    "Location".into(),
                    "https://objects.githubusercontent.com/blob/panel".into(),
                )],
                body: Vec::new(),
            },
            ("objects.githubusercontent.com", "/blob/panel") => {
                if let Some(g) = &gh.gate {
                    let _ = g.lock().unwrap().recv_timeout(Duration::from_secs(20));
                }
                Reply::Full {
                    status: 200,
                    headers: vec![("Content-Type".into(), "text/html".into())],
                    body: PANEL.as_bytes().to_vec(),
                }
            }
            ("cpamc.router-for.me", "/") => Reply::Full {
                status: 200,
                headers: vec![("Content-Type".into(), "text/html".into())],
                body: FALLBACK.as_bytes().to_vec(),
            },
            ("api.github.com", "/repos/router-for-me/CLIProxyAPI/releases/latest") => {
                if gh.release_status == 200 {
                    json_reply(200, r#"{"tag_name":"v6.9.99","name":"v6.9.99 release"}"#)
                } else {
                    json_reply(gh.release_status, r#"{"message":"Not Found"}"#)
                }
            }
            _ => json_reply(404, r#"{"message":"Not Found"}"#),
        }
    })
}

fn start(gh: &Mock, workers: usize, extra_yaml: &str, env: &[(&str, &str)]) -> Server {
    let ca_dir = scratch_dir("panel-ca");
    let ca = gh.write_ca(&ca_dir);
    let connect_to = gh.connect_to(HOSTS);
    let mut envs: Vec<(&str, &str)> = vec![("CLIPROXY_CONNECT_TO", connect_to.as_str())];
    envs.extend_from_slice(env);
    let yaml = format!(
        "api-keys:\n  - \"{CLIENT_KEY}\"\nremote-management:\n  secret-key: \"{KEY}\"\n  panel-github-repository: \"https://github.com/o/panel\"\n{extra_yaml}"
    );
    Server::start_env(
        "epoll",
        workers,
        &yaml,
        &["--upstream-ca", ca.to_str().unwrap()],
        &envs,
    )
}

fn panel(srv: &Server) -> Resp {
    srv.request("GET", "/management.html", &[], "")
}

fn write(p: &Path, body: &str) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, body).unwrap();
}

#[test]
fn panel_served_from_each_static_dir_option() {
    let gh = github(Gh::good());
    // Next to the config: <config dir>/static/management.html.
    let srv = start(&gh, 1, "", &[]);
    write(&srv.dir.join("static/management.html"), "<p>config dir</p>");
    let r = panel(&srv);
    assert_eq!(r.status, 200, "{}", srv.log_text());
    assert_eq!(r.text(), "<p>config dir</p>");
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    drop(srv);

    // MANAGEMENT_STATIC_PATH as a directory wins over WRITABLE_PATH and the
    // config's directory.
    let d = scratch_dir("panel-env");
    let (own, writable) = (d.join("own"), d.join("writable"));
    write(&own.join("management.html"), "<p>static path dir</p>");
    write(&writable.join("static/management.html"), "<p>writable</p>");
    let srv = start(
        &gh,
        1,
        "",
        &[
            ("MANAGEMENT_STATIC_PATH", own.to_str().unwrap()),
            ("WRITABLE_PATH", writable.to_str().unwrap()),
        ],
    );
    write(&srv.dir.join("static/management.html"), "<p>config dir</p>");
    assert_eq!(panel(&srv).text(), "<p>static path dir</p>");
    drop(srv);

    // MANAGEMENT_STATIC_PATH naming the file itself.
    let file = d.join("elsewhere/management.html");
    write(&file, "<p>static path file</p>");
    let srv = start(
        &gh,
        1,
        "",
        &[("MANAGEMENT_STATIC_PATH", file.to_str().unwrap())],
    );
    assert_eq!(panel(&srv).text(), "<p>static path file</p>");
    drop(srv);

    // WRITABLE_PATH: <writable>/static.
    let srv = start(&gh, 1, "", &[("WRITABLE_PATH", writable.to_str().unwrap())]);
    assert_eq!(panel(&srv).text(), "<p>writable</p>");
    drop(srv);
    assert!(
        gh.requests().is_empty(),
        "a panel on disk needs no download: {:?}",
        gh.requests().iter().map(|r| &r.path).collect::<Vec<_>>()
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn disabled_control_panel_is_404_and_never_downloads() {
    let gh = github(Gh::good());
    let srv = start(&gh, 1, "  disable-control-panel: true\n", &[]);
    let r = panel(&srv);
    assert_eq!(r.status, 404);
    // Even a panel on disk is not served.
    write(&srv.dir.join("static/management.html"), "<p>there</p>");
    assert_eq!(panel(&srv).status, 404);
    assert!(gh.requests().is_empty());
    assert!(!srv
        .log_text()
        .contains("remote-management.disable-control-panel"));
    drop(srv);

    // The key is read live: a reload that disables the panel hides it.
    let srv = start(&gh, 1, "", &[]);
    write(&srv.dir.join("static/management.html"), "<p>there</p>");
    assert_eq!(panel(&srv).status, 200);
    let text = std::fs::read_to_string(&srv.config_path).unwrap();
    std::fs::write(
        &srv.config_path,
        text.replace(
            "remote-management:\n",
            "remote-management:\n  disable-control-panel: true\n",
        ),
    )
    .unwrap();
    assert!(eventually(Duration::from_secs(10), || panel(&srv).status == 404));
    assert!(gh.requests().is_empty());
}

fn leftovers(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap() != "management.html")
        .collect()
}

#[test]
fn missing_panel_is_downloaded_once_without_blocking_the_worker() {
    let (open, gate) = mpsc::channel::<()>();
    let gh = github(Gh {
        gate: Some(Arc::new(Mutex::new(gate))),
        ..Gh::good()
    });
    // One worker: while the download waits at the gate, that worker must
    // still answer other requests.
    let srv = Arc::new(start(&gh, 1, "", &[]));
    let waiting: Vec<_> = (0..3)
        .map(|_| {
            let srv = srv.clone();
            std::thread::spawn(move || panel(&srv))
        })
        .collect();
    let asked = |path: &str| gh.requests().iter().filter(|r| r.path == path).count();
    assert!(eventually(Duration::from_secs(10), || asked("/blob/panel") == 1));
    let t = Instant::now();
    let models = srv.request("GET", "/v1/models", &[CLIENT_AUTH], "");
    assert_eq!(models.status, 200);
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "the worker answered while the download ran"
    );
    let static_dir = srv.dir.join("static");
    assert!(!static_dir.join("management.html").exists());
    open.send(()).unwrap();
    for h in waiting {
        let r = h.join().unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.text(), PANEL);
    }
    // One download for every waiter: one release look-up, one redirect, one blob.
    assert_eq!(asked("/repos/o/panel/releases/latest"), 1);
    assert_eq!(
        asked("/o/panel/releases/download/v9.9.9/management.html"),
        1
    );
    assert_eq!(asked("/blob/panel"), 1);
    let release = gh
        .requests()
        .into_iter()
        .find(|r| r.path == "/repos/o/panel/releases/latest")
        .unwrap();
    assert_eq!(
        release.header("accept"),
        Some("application/vnd.github+json")
    );
    assert_eq!(
        release.header("user-agent"),
        Some("CLIProxyAPI-management-updater")
    );
    // Written whole through a temporary file that is gone now.
    assert_eq!(
        std::fs::read_to_string(static_dir.join("management.html")).unwrap(),
        PANEL
    );
    assert!(
        leftovers(&static_dir).is_empty(),
        "{:?}",
        leftovers(&static_dir)
    );
    // Served from disk from now on.
    assert_eq!(panel(&srv).text(), PANEL);
    assert_eq!(asked("/blob/panel"), 1);
}

#[test]
fn digest_mismatch_is_not_installed_and_failed_release_falls_back() {
    let gh = github(Gh {
        digest: format!("sha256:{}", sha(b"something else")),
        ..Gh::good()
    });
    let srv = start(&gh, 1, "", &[]);
    assert_eq!(panel(&srv).status, 404);
    assert!(!srv.dir.join("static/management.html").exists());
    assert!(leftovers(&srv.dir.join("static")).is_empty());
    assert!(
        gh.requests()
            .iter()
            .all(|r| r.header("host") != Some("cpamc.router-for.me")),
        "a digest mismatch does not fall back"
    );
    // A second request within 30 s does not download again (CLIProxyAPI's throttle).
    let before = gh.requests().len();
    assert_eq!(panel(&srv).status, 404);
    assert_eq!(gh.requests().len(), before);
    drop(srv);

    // The release cannot be had and no panel exists: CLIProxyAPI's fallback page.
    let gh = github(Gh {
        release_status: 503,
        ..Gh::good()
    });
    let srv = start(&gh, 1, "", &[]);
    let r = panel(&srv);
    assert_eq!(r.status, 200, "{}", srv.log_text());
    assert_eq!(r.text(), FALLBACK);
}

#[test]
fn latest_version_asks_github_off_the_worker() {
    let gh = github(Gh::good());
    let srv = start(&gh, 1, "", &[]);
    let get = |s: &Server| {
        s.request(
            "GET",
            "/v0/management/latest-version",
            &[("X-Management-Key", KEY)],
            "",
        )
    };
    let r = get(&srv);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), json!({"latest-version": "v6.9.99"}));
    let seen = gh
        .requests()
        .into_iter()
        .find(|r| r.path == "/repos/router-for-me/CLIProxyAPI/releases/latest")
        .unwrap();
    assert_eq!(seen.header("user-agent"), Some("CLIProxyAPI"));
    // Without the key: the management rules apply.
    assert_eq!(
        srv.request("GET", "/v0/management/latest-version", &[], "")
            .status,
        401
    );
    drop(srv);

    let gh = github(Gh {
        release_status: 404,
        ..Gh::good()
    });
    let srv = start(&gh, 1, "", &[]);
    let r = get(&srv);
    assert_eq!(r.status, 502);
    assert_eq!(r.json()["error"], "unexpected_status");
    assert!(r.json()["message"]
        .as_str()
        .unwrap()
        .starts_with("status 404"));
}

/// An HTTP CONNECT proxy that records each CONNECT line and tunnels every
/// one to `to` (the mock GitHub), whatever host it names.
fn connect_proxy(to: std::net::SocketAddr) -> (u16, Arc<Mutex<Vec<String>>>) {
    use std::io::{BufRead, BufReader, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let rec = seen.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(s) = s else { return };
            let rec = rec.clone();
            std::thread::spawn(move || {
                let mut r = BufReader::new(s.try_clone().unwrap());
                let mut line = String::new();
                r.read_line(&mut line).unwrap();
                loop {
                    let mut h = String::new();
                    if r.read_line(&mut h).unwrap() == 0 || h == "\r\n" {
                        break;
                    }
                }
                rec.lock().unwrap().push(line.trim().to_string());
                let up = std::net::TcpStream::connect(to).unwrap();
                let mut w = s.try_clone().unwrap();
                w.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .unwrap();
                let (mut a, mut b) = (up.try_clone().unwrap(), w);
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut a, &mut b);
                    let _ = b.shutdown(std::net::Shutdown::Write);
                });
                let mut up = up;
                let _ = std::io::copy(&mut r, &mut up);
                let _ = up.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    (port, seen)
}

#[test]
fn panel_and_latest_version_go_through_proxy_url() {
    let gh = github(Gh::good());
    let (port, seen) = connect_proxy(gh.addr);
    let ca_dir = scratch_dir("panel-ca");
    let ca = gh.write_ca(&ca_dir);
    // No CLIPROXY_CONNECT_TO: only the proxy knows where "GitHub" is.
    let yaml = format!(
        "api-keys:\n  - \"{CLIENT_KEY}\"\nproxy-url: \"http://127.0.0.1:{port}\"\nremote-management:\n  secret-key: \"{KEY}\"\n  panel-github-repository: \"https://github.com/o/panel\"\n"
    );
    let srv = Server::start("epoll", 1, &yaml, &["--upstream-ca", ca.to_str().unwrap()]);
    let r = panel(&srv);
    assert_eq!(r.status, 200, "{}", srv.log_text());
    assert_eq!(r.text(), PANEL);
    let v = srv.request(
        "GET",
        "/v0/management/latest-version",
        &[("X-Management-Key", KEY)],
        "",
    );
    assert_eq!(v.json(), json!({"latest-version": "v6.9.99"}));
    let lines = seen.lock().unwrap().clone();
    for host in [
        "api.github.com:443",
        "github.com:443",
        "objects.githubusercontent.com:443",
    ] {
        assert!(
            lines
                .iter()
                .any(|l| l == &format!("CONNECT {host} HTTP/1.1")),
            "{host} through the proxy: {lines:?}"
        );
    }
}

fn upstream(r: &Recorded) -> Reply {
    if r.json()["messages"][0]["content"] == "fail" {
        return json_reply(500, r#"{"error":{"message":"boom"}}"#);
    }
    json_reply(
        200,
        &json!({"id":"c1","object":"chat.completion","created":1,"model":"upstream-model",
            "choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],
            "usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}})
        .to_string(),
    )
}

fn usage_server(mock: &Mock, usage: bool, upstream_keys: &[&str], extra: &str) -> Server {
    let yaml = format!(
        "{}request-retry: 0\nusage-statistics-enabled: {usage}\nremote-management:\n  secret-key: \"{KEY}\"\n{extra}",
        compat_config(&mock.base_url(), &[CLIENT_KEY], upstream_keys)
    );
    Server::start("epoll", 2, &yaml, &[])
}

fn chat(srv: &Server, content: &str) -> u16 {
    let body = json!({"model":"gpt-test","messages":[{"role":"user","content":content}]});
    srv.request(
        "POST",
        "/v1/chat/completions",
        &[CLIENT_AUTH, ("Content-Type", "application/json")],
        &body.to_string(),
    )
    .status
}

fn mgmt(srv: &Server, path: &str) -> Resp {
    srv.request(
        "GET",
        &format!("/v0/management{path}"),
        &[("X-Management-Key", KEY)],
        "",
    )
}

#[test]
fn api_key_usage_counts_every_attempt_per_credential() {
    let mock = Mock::start(upstream);
    // Counted whatever usage-statistics-enabled says (CLIProxyAPI's MarkResult).
    let srv = usage_server(&mock, false, &["up-a", "up-b"], "");
    for _ in 0..3 {
        assert_eq!(chat(&srv, "hi"), 200);
    }
    // The failing request tries each credential once: one failure on each.
    assert_ne!(chat(&srv, "fail"), 200);
    let base = mock.base_url();
    let mut v = json!(null);
    let total = |v: &serde_json::Value, k: &str| {
        ["up-a", "up-b"]
            .iter()
            .map(|u| v["mock"][format!("{base}|{u}")][k].as_i64().unwrap_or(0))
            .sum::<i64>()
    };
    assert!(
        eventually(Duration::from_secs(10), || {
            v = mgmt(&srv, "/api-key-usage").json();
            total(&v, "success") == 3 && total(&v, "failed") == 2
        }),
        "{v}"
    );
    let groups = v.as_object().unwrap();
    assert_eq!(groups.len(), 1, "{v}");
    let entries = v["mock"].as_object().unwrap();
    assert_eq!(entries.len(), 2, "one entry per configured key: {v}");
    for (_, e) in entries {
        assert_eq!(e["failed"], 1, "{v}");
        let recent = e["recent_requests"].as_array().unwrap();
        assert_eq!(recent.len(), 20);
        let (s, f): (i64, i64) = recent.iter().fold((0, 0), |a, b| {
            (
                a.0 + b["success"].as_i64().unwrap(),
                a.1 + b["failed"].as_i64().unwrap(),
            )
        });
        assert_eq!(
            (s, f),
            (
                e["success"].as_i64().unwrap(),
                e["failed"].as_i64().unwrap()
            )
        );
        let label = recent[19]["time"].as_str().unwrap();
        assert_eq!(label.len(), 11, "HH:MM-HH:MM: {label}");
    }
}

#[test]
fn usage_queue_pops_the_oldest_records() {
    let mock = Mock::start(upstream);
    let srv = usage_server(
        &mock,
        true,
        &["up-a"],
        "redis-usage-queue-retention-seconds: 600\n",
    );
    assert!(!srv
        .log_text()
        .contains("redis-usage-queue-retention-seconds"));
    assert_eq!(chat(&srv, "one"), 200);
    assert_eq!(chat(&srv, "two"), 200);
    assert_ne!(chat(&srv, "fail"), 200);
    // Bad counts are refused without popping anything.
    for bad in ["0", "-1", "x"] {
        let r = mgmt(&srv, &format!("/usage-queue?count={bad}"));
        assert_eq!(r.status, 400);
        assert_eq!(
            r.json(),
            json!({"error": "count must be a positive integer"})
        );
    }
    // Records reach the queue once the aggregate has them.
    assert!(eventually(Duration::from_secs(10), || {
        mgmt(&srv, "/usage").json()["usage"]["total_requests"] == 3
    }));
    // No count: one record, the oldest.
    let first = mgmt(&srv, "/usage-queue").json();
    let first = first.as_array().unwrap();
    assert_eq!(first.len(), 1);
    let r = &first[0];
    assert_eq!(r["failed"], false);
    assert_eq!(r["model"], "gpt-test");
    assert_eq!(r["api_key"], CLIENT_KEY);
    assert_eq!(r["provider"], "mock");
    assert_eq!(r["auth_type"], "apikey");
    assert_eq!(r["endpoint"], "/v1/chat/completions");
    assert_eq!(r["tokens"]["input_tokens"], 5);
    assert_eq!(r["tokens"]["output_tokens"], 7);
    assert_eq!(r["tokens"]["total_tokens"], 12);
    assert_eq!(r["fail"]["status_code"], 200);
    let rest = mgmt(&srv, "/usage-queue?count=10").json();
    let rest = rest.as_array().unwrap();
    assert_eq!(rest.len(), 2);
    assert_eq!(rest[0]["failed"], false);
    assert_eq!(rest[1]["failed"], true);
    assert_eq!(rest[1]["fail"]["status_code"], 500);
    assert_eq!(mgmt(&srv, "/usage-queue?count=5").json(), json!([]));
}
