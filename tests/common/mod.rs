//! Test harness: the real `cliproxy` binary, a scripted mock upstream
//! (plain or TLS) on 127.0.0.1:0, and a tiny raw HTTP/1.1 client.
#![allow(dead_code)]

pub mod mgmt;
pub mod oauth;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const DRIVERS: [&str; 2] = ["uring", "epoll"];

/// A unique scratch directory under the system temp dir.
pub fn scratch_dir(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "cliproxy-test-{}-{}-{}",
        std::process::id(),
        tag,
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

// ---------------------------------------------------------------- mock upstream

/// The value of header `name` (any case) in `headers`.
pub fn header_in<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// One request the mock received.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub conn: usize,
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        header_in(&self.headers, name)
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// What the mock answers.
pub enum Reply {
    /// A complete response.
    Full {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Chunked SSE: each item is written as its own chunk, flushed. Before an
    /// item, `gate` (if any) is awaited when its index equals `gate_at`.
    Sse {
        events: Vec<String>,
        gate_at: Option<usize>,
        gate: Option<mpsc::Receiver<()>>,
        end: SseEnd,
    },
    /// Close the connection without answering.
    Close,
    /// Write these bytes verbatim, then close the connection (a head whose
    /// body never comes, say).
    Raw { bytes: Vec<u8> },
}

/// How an SSE reply ends.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SseEnd {
    /// Terminating chunk.
    Clean,
    /// Drop the connection mid-stream.
    Drop,
}

pub fn json_reply(status: u16, body: &str) -> Reply {
    Reply::Full {
        status,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: body.as_bytes().to_vec(),
    }
}

type Script = Box<dyn Fn(&Recorded) -> Reply + Send + Sync>;

pub struct Mock {
    pub addr: SocketAddr,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
    pub connections: Arc<AtomicUsize>,
    /// Receives a message each time a streamed write to a client fails or a
    /// connection ends (peer closed).
    pub closed_rx: Mutex<mpsc::Receiver<usize>>,
    pub ca_pem: Option<String>,
}

pub struct TlsParts {
    pub config: Arc<rustls::ServerConfig>,
    pub ca_pem: String,
    /// The CA certificate, for a client's root store.
    pub ca_der: rustls::pki_types::CertificateDer<'static>,
    /// The `localhost` leaf then the CA, as PEM (a `tls.cert` file).
    pub cert_pem: String,
    /// The leaf's private key, as PEM (a `tls.key` file).
    pub key_pem: String,
}

/// A test CA and a leaf it signs for `localhost`.
pub fn tls_parts() -> TlsParts {
    tls_parts_for(&["localhost"])
}

/// A test CA and a leaf it signs for `names` (DNS names or IP addresses);
/// the server config presents the leaf then the CA.
pub fn tls_parts_for(names: &[&str]) -> TlsParts {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(vec![]).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "cliproxy test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf_params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    let leaf = leaf_params.signed_by(&leaf_key, &ca, &ca_key).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone(), ca.der().clone()],
            rustls::pki_types::PrivateKeyDer::try_from(leaf_key.serialize_der()).unwrap(),
        )
        .unwrap();
    TlsParts {
        config: Arc::new(cfg),
        ca_pem: ca.pem(),
        ca_der: ca.der().clone(),
        cert_pem: format!("{}{}", leaf.pem(), ca.pem()),
        key_pem: leaf_key.serialize_pem(),
    }
}

trait Io: Read + Write + Send {}
impl<T: Read + Write + Send> Io for T {}

impl Mock {
    pub fn start(script: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> Mock {
        Self::start_inner(Box::new(script), None)
    }

    pub fn start_tls(script: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> Mock {
        let parts = tls_parts();
        Self::start_inner(Box::new(script), Some(parts))
    }

    /// A TLS mock whose certificate names `names` (e.g. the real provider
    /// hosts, reached through `CLIPROXY_CONNECT_TO`); trust `ca_pem`.
    pub fn start_tls_named(
        names: &[&str],
        script: impl Fn(&Recorded) -> Reply + Send + Sync + 'static,
    ) -> Mock {
        Self::start_inner(Box::new(script), Some(tls_parts_for(names)))
    }

    /// `CLIPROXY_CONNECT_TO` value pointing `hosts` (port 443) at this mock.
    pub fn connect_to(&self, hosts: &[&str]) -> String {
        hosts
            .iter()
            .map(|h| format!("{h}:443={}", self.addr))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Writes the mock's CA to `dir/ca.pem` (for `--upstream-ca`).
    pub fn write_ca(&self, dir: &std::path::Path) -> PathBuf {
        let p = dir.join("ca.pem");
        std::fs::write(&p, self.ca_pem.as_deref().unwrap_or_default()).unwrap();
        p
    }

    /// A TLS mock presenting `parts`' certificate (e.g. from
    /// [`tls_parts_for`] with real provider host names).
    pub fn start_tls_with(
        parts: TlsParts,
        script: impl Fn(&Recorded) -> Reply + Send + Sync + 'static,
    ) -> Mock {
        Self::start_inner(Box::new(script), Some(parts))
    }

    fn start_inner(script: Script, tls: Option<TlsParts>) -> Mock {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let (closed_tx, closed_rx) = mpsc::channel();
        let script = Arc::new(script);
        let ca_pem = tls.as_ref().map(|t| t.ca_pem.clone());
        let tls_cfg = tls.map(|t| t.config);
        {
            let requests = requests.clone();
            let connections = connections.clone();
            std::thread::spawn(move || {
                for s in listener.incoming() {
                    let Ok(s) = s else { continue };
                    let _ = s.set_nodelay(true);
                    let id = connections.fetch_add(1, Ordering::SeqCst);
                    let requests = requests.clone();
                    let script = script.clone();
                    let closed_tx = closed_tx.clone();
                    let tls_cfg = tls_cfg.clone();
                    std::thread::spawn(move || {
                        let peek = s.try_clone().ok();
                        let io: Box<dyn Io> = match tls_cfg {
                            Some(cfg) => {
                                let conn = rustls::ServerConnection::new(cfg).unwrap();
                                Box::new(rustls::StreamOwned::new(conn, s))
                            }
                            None => Box::new(s),
                        };
                        serve_mock(io, peek, id, &requests, &script);
                        let _ = closed_tx.send(id);
                    });
                }
            });
        }
        Mock {
            addr,
            requests,
            connections,
            closed_rx: Mutex::new(closed_rx),
            ca_pem,
        }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    pub fn base_url(&self) -> String {
        if self.ca_pem.is_some() {
            format!("https://localhost:{}/v1", self.addr.port())
        } else {
            format!("http://{}/v1", self.addr)
        }
    }

    /// Waits until a mock connection ends; panics after `timeout`.
    pub fn wait_closed(&self, timeout: Duration) -> usize {
        self.closed_rx
            .lock()
            .unwrap()
            .recv_timeout(timeout)
            .expect("mock connection did not close in time")
    }
}

type RawReq = (String, String, Vec<(String, String)>, Vec<u8>);

fn read_request(r: &mut BufReader<Box<dyn Io>>) -> Option<RawReq> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.trim_end().split(' ');
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut l = String::new();
        if r.read_line(&mut l).ok()? == 0 {
            return None;
        }
        let l = l.trim_end();
        if l.is_empty() {
            break;
        }
        let (n, v) = l.split_once(':')?;
        headers.push((n.trim().to_string(), v.trim().to_string()));
    }
    let get = |n: &str| header_in(&headers, n).map(str::to_string);
    let mut body = Vec::new();
    if let Some(cl) = get("content-length") {
        body.resize(cl.parse().ok()?, 0);
        r.read_exact(&mut body).ok()?;
    }
    Some((method, path, headers, body))
}

/// Waits for the gate while watching the socket: returns false if the peer
/// closed the connection meanwhile.
fn wait_gate(gate: &mpsc::Receiver<()>, peek: &Option<TcpStream>) -> bool {
    loop {
        match gate.recv_timeout(Duration::from_millis(5)) {
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => return true,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if let Some(p) = peek {
            let _ = p.set_nonblocking(true);
            let r = p.peek(&mut [0u8; 1]);
            let _ = p.set_nonblocking(false);
            match r {
                Ok(0) => return false,
                Err(e) if e.kind() != std::io::ErrorKind::WouldBlock => return false,
                _ => {}
            }
        }
    }
}

fn serve_mock(
    io: Box<dyn Io>,
    peek: Option<TcpStream>,
    id: usize,
    requests: &Mutex<Vec<Recorded>>,
    script: &Script,
) {
    let mut r = BufReader::new(io);
    while let Some((method, path, headers, body)) = read_request(&mut r) {
        let rec = Recorded {
            conn: id,
            method,
            path,
            headers,
            body,
        };
        requests.lock().unwrap().push(rec.clone());
        let w = r.get_mut();
        match script(&rec) {
            Reply::Close => return,
            Reply::Raw { bytes } => {
                let _ = w.write_all(&bytes);
                let _ = w.flush();
                return;
            }
            Reply::Full {
                status,
                headers,
                body,
            } => {
                let mut out = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\n", body.len());
                for (n, v) in headers {
                    out.push_str(&format!("{n}: {v}\r\n"));
                }
                out.push_str("\r\n");
                let mut bytes = out.into_bytes();
                bytes.extend_from_slice(&body);
                if w.write_all(&bytes).is_err() || w.flush().is_err() {
                    return;
                }
            }
            Reply::Sse {
                events,
                gate_at,
                gate,
                end,
            } => {
                let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
                if w.write_all(head.as_bytes()).is_err() {
                    return;
                }
                let _ = w.flush();
                for (i, ev) in events.iter().enumerate() {
                    if gate_at == Some(i) {
                        if let Some(g) = &gate {
                            if !wait_gate(g, &peek) {
                                return;
                            }
                        }
                    }
                    let chunk = format!("{:x}\r\n{ev}\r\n", ev.len());
                    if w.write_all(chunk.as_bytes()).is_err() || w.flush().is_err() {
                        return;
                    }
                }
                if end == SseEnd::Drop {
                    return;
                }
                if w.write_all(b"0\r\n\r\n").is_err() || w.flush().is_err() {
                    return;
                }
            }
        }
    }
}

/// An OpenAI chat.completion body with `text`.
pub fn completion(model: &str, text: &str) -> String {
    serde_json::json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    })
    .to_string()
}

/// OpenAI chat stream events spelling `parts`, then `[DONE]`.
pub fn chunks(model: &str, parts: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = parts
        .iter()
        .map(|p| {
            format!(
                "data: {}\n\n",
                serde_json::json!({"id":"c1","object":"chat.completion.chunk","created":1,"model":model,
                    "choices":[{"index":0,"delta":{"content":p},"finish_reason":null}]})
            )
        })
        .collect();
    v.push("data: [DONE]\n\n".into());
    v
}

// ---------------------------------------------------------------- the server

pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    pub dir: PathBuf,
    pub config_path: PathBuf,
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts the real binary with `yaml` (port 0 is substituted when absent).
    pub fn start(driver: &str, workers: usize, yaml: &str, extra_args: &[&str]) -> Server {
        Self::start_env(driver, workers, yaml, extra_args, &[])
    }

    /// [`Server::start`] with extra environment variables for the binary.
    pub fn start_env(
        driver: &str,
        workers: usize,
        yaml: &str,
        extra_args: &[&str],
        env: &[(&str, &str)],
    ) -> Server {
        let dir = scratch_dir("srv");
        let config_path = dir.join("config.yaml");
        let yaml = if yaml.contains("port:") {
            yaml.to_string()
        } else {
            format!("port: 0\nhost: 127.0.0.1\n{yaml}")
        };
        std::fs::write(&config_path, yaml).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_cliproxy"))
            .arg("--config")
            .arg(&config_path)
            .args([
                "--workers",
                &workers.to_string(),
                "--driver",
                driver,
                "--drain-seconds",
                "10",
            ])
            .args(extra_args)
            .envs(env.iter().copied())
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let log = Arc::new(Mutex::new(Vec::new()));
        {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if let Some(rest) = line.split("listening on ").nth(1) {
                        let addr = rest.split(' ').next().unwrap().to_string();
                        let _ = tx.send(addr);
                    }
                    log.lock().unwrap().push(line);
                }
            });
        }
        let addr = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("server did not start: {:?}", log.lock().unwrap()));
        let addr: SocketAddr = addr.parse().unwrap();
        Server {
            child,
            addr,
            dir,
            config_path,
            log,
        }
    }

    pub fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        s.set_nodelay(true).unwrap();
        s
    }

    /// Sends a request on a fresh connection and reads one response.
    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Resp {
        let mut s = self.connect();
        s.write_all(&raw_request(method, path, headers, body))
            .unwrap();
        let mut r = BufReader::new(s);
        read_response(&mut r, method == "HEAD").unwrap()
    }

    pub fn sigterm(&self) {
        // SAFETY-free: kill(1) via the standard command keeps the test free of unsafe.
        Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
    }

    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st.code();
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn raw_request(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Vec<u8> {
    let mut s = format!("{method} {path} HTTP/1.1\r\nHost: test\r\n");
    for (n, v) in headers {
        s.push_str(&format!("{n}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        s.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    s.push_str("\r\n");
    s.push_str(body);
    s.into_bytes()
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        header_in(&self.headers, name)
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

/// Reads one response (Content-Length or chunked body).
pub fn read_response(r: &mut impl BufRead, head_only: bool) -> std::io::Result<Resp> {
    let (status, headers) = read_head(r)?;
    let get = |n: &str| header_in(&headers, n).map(str::to_string);
    let mut body = Vec::new();
    if head_only {
    } else if get("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        while let Some(c) = read_chunk(r)? {
            body.extend_from_slice(&c);
        }
    } else if let Some(cl) = get("content-length") {
        body.resize(cl.parse().unwrap(), 0);
        r.read_exact(&mut body)?;
    }
    Ok(Resp {
        status,
        headers,
        body,
    })
}

pub fn read_head(r: &mut impl BufRead) -> std::io::Result<(u16, Vec<(String, String)>)> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "closed",
        ));
    }
    let status: u16 = line.split(' ').nth(1).unwrap_or("0").parse().unwrap_or(0);
    let mut headers = Vec::new();
    loop {
        let mut l = String::new();
        r.read_line(&mut l)?;
        let l = l.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((n, v)) = l.split_once(':') {
            headers.push((n.trim().to_string(), v.trim().to_string()));
        }
    }
    Ok((status, headers))
}

/// Reads one chunk of a chunked body; `None` at the terminating chunk.
pub fn read_chunk(r: &mut impl BufRead) -> std::io::Result<Option<Vec<u8>>> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "closed mid-body",
        ));
    }
    let n = usize::from_str_radix(line.trim(), 16)
        .map_err(|_| std::io::Error::other(format!("bad chunk line {line:?}")))?;
    if n == 0 {
        let mut end = String::new();
        r.read_line(&mut end)?;
        return Ok(None);
    }
    let mut buf = vec![0; n + 2];
    r.read_exact(&mut buf)?;
    buf.truncate(n);
    Ok(Some(buf))
}

/// The `data:` payloads of an SSE body, in order.
pub fn sse_data(body: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(body)
        .split("\n\n")
        .filter_map(|ev| {
            ev.lines()
                .find_map(|l| l.strip_prefix("data: ").map(str::to_string))
        })
        .collect()
}

/// The text of an OpenAI chat stream (concatenated deltas).
pub fn stream_text(body: &[u8]) -> String {
    sse_data(body)
        .iter()
        .filter(|d| d.as_str() != "[DONE]")
        .filter_map(|d| serde_json::from_str::<serde_json::Value>(d).ok())
        .filter_map(|v| {
            v["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_string)
        })
        .collect()
}

/// A config with one openai-compatibility provider at `base_url`.
pub fn compat_config(base_url: &str, keys: &[&str], upstream_keys: &[&str]) -> String {
    let api_keys: String = keys.iter().map(|k| format!("  - \"{k}\"\n")).collect();
    let entries: String = upstream_keys
        .iter()
        .map(|k| format!("      - api-key: \"{k}\"\n"))
        .collect();
    format!(
        "api-keys:\n{api_keys}auth-dir: ./auths\nopenai-compatibility:\n  - name: mock\n    base-url: \"{base_url}\"\n    api-key-entries:\n{entries}    models:\n      - name: upstream-model\n        alias: gpt-test\n"
    )
}

/// Polls `f` until it returns true or `timeout` passes.
pub fn eventually(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---------------------------------------------------------------- shared scenario helpers

/// The client key most scenarios configure, and its OpenAI-style header.
pub const CLIENT_KEY: &str = "sk-client-1";
pub const CLIENT_AUTH: (&str, &str) = ("Authorization", "Bearer sk-client-1");

/// `both_drivers!(name, |driver| { ... })`: a module `name` with the test
/// body run once under io_uring (`name::uring`) and once under epoll
/// (`name::epoll`).
#[allow(unused_macros)]
macro_rules! both_drivers {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[test]
            fn uring() {
                ($body)("uring")
            }
            #[test]
            fn epoll() {
                ($body)("epoll")
            }
        }
    };
}
#[allow(unused_imports)]
pub(crate) use both_drivers;

/// SSE frames for `(event name, data)` pairs: `event: NAME\n` when named,
/// then `data: JSON\n\n`.
pub fn sse_frames(events: &[(Option<&str>, serde_json::Value)]) -> Vec<String> {
    events
        .iter()
        .map(|(name, data)| match name {
            Some(n) => format!("event: {n}\ndata: {data}\n\n"),
            None => format!("data: {data}\n\n"),
        })
        .collect()
}

/// A chunked SSE reply of `frames` that ends cleanly, without a gate.
pub fn sse_reply(frames: Vec<String>) -> Reply {
    Reply::Sse {
        events: frames,
        gate_at: None,
        gate: None,
        end: SseEnd::Clean,
    }
}

/// A clean chunked SSE reply of `(event name, data)` pairs.
pub fn sse_events(events: &[(Option<&str>, serde_json::Value)]) -> Reply {
    sse_reply(sse_frames(events))
}

/// A Claude stream's `message_start` (msg_1, 5 input tokens, 1 output).
pub fn claude_message_start(model: &str) -> (Option<&'static str>, serde_json::Value) {
    (
        Some("message_start"),
        serde_json::json!({"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":model,"stop_reason":null,"usage":{"input_tokens":5,"output_tokens":1}}}),
    )
}

/// A Claude stream's `content_block_stop` for block `index`.
pub fn claude_block_stop(index: usize) -> (Option<&'static str>, serde_json::Value) {
    (
        Some("content_block_stop"),
        serde_json::json!({"type":"content_block_stop","index":index}),
    )
}

/// A Claude stream's last two events: `message_delta` with `stop_reason`
/// and `output_tokens`, then `message_stop`.
pub fn claude_message_end(
    stop_reason: &str,
    output_tokens: u64,
) -> [(Option<&'static str>, serde_json::Value); 2] {
    [
        (
            Some("message_delta"),
            serde_json::json!({"type":"message_delta","delta":{"stop_reason":stop_reason},"usage":{"output_tokens":output_tokens}}),
        ),
        (
            Some("message_stop"),
            serde_json::json!({"type":"message_stop"}),
        ),
    ]
}

/// A Codex/Responses stream's `response.created` (resp_1, sequence 0).
pub fn codex_created(model: &str) -> (Option<&'static str>, serde_json::Value) {
    (
        Some("response.created"),
        serde_json::json!({"type":"response.created","sequence_number":0,"response":{"id":"resp_1","object":"response","created_at":1,"status":"in_progress","model":model,"output":[]}}),
    )
}

/// The JSON `data:` payloads of an SSE body (the `[DONE]` sentinel left
/// out); a payload that is not JSON fails the test.
pub fn sse_json(body: &[u8]) -> Vec<serde_json::Value> {
    sse_data(body)
        .iter()
        .filter(|d| d.as_str() != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap_or_else(|e| panic!("bad JSON frame {d:?}: {e}")))
        .collect()
}

/// A config with the client key `sk-client-1` and one upstream of each
/// kind at `mock`, aliased m-compat, m-claude, m-gemini and m-codex.
/// `upstream(kind)` gives the upstream key and model name of each kind
/// ("compat", "claude", "gemini", "codex"); `extra` is more top-level YAML.
pub fn every_kind_config(
    mock: &Mock,
    upstream: impl Fn(&str) -> (String, String),
    extra: &str,
) -> String {
    let base = format!("http://{}", mock.addr);
    let [compat, claude, gemini, codex] = ["compat", "claude", "gemini", "codex"].map(upstream);
    format!(
        r#"api-keys: ["{CLIENT_KEY}"]
auth-dir: ./auths
{extra}
openai-compatibility:
  - name: compat
    base-url: "{base}/v1"
    api-key-entries: [{{api-key: "{}"}}]
    models: [{{name: {}, alias: m-compat}}]
claude-api-key: [{{api-key: "{}", base-url: "{base}", models: [{{name: {}, alias: m-claude}}]}}]
gemini-api-key: [{{api-key: "{}", base-url: "{base}", models: [{{name: {}, alias: m-gemini}}]}}]
codex-api-key: [{{api-key: "{}", base-url: "{base}/codex", models: [{{name: {}, alias: m-codex}}]}}]
"#,
        compat.0, compat.1, claude.0, claude.1, gemini.0, gemini.1, codex.0, codex.1
    )
}

/// The client API formats the scenario matrices speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Client {
    Chat,
    Responses,
    Claude,
    Gemini,
}
pub const CLIENTS: [Client; 4] = [
    Client::Chat,
    Client::Responses,
    Client::Claude,
    Client::Gemini,
];
/// The client-side aliases `every_kind_config` serves, one per upstream kind.
pub const UPSTREAMS: [&str; 4] = ["m-compat", "m-claude", "m-gemini", "m-codex"];

/// A Gemini client's path for `model`: streamGenerateContent (SSE) or
/// generateContent.
pub fn gemini_path(model: &str, stream: bool) -> String {
    let action = if stream {
        "streamGenerateContent?alt=sse"
    } else {
        "generateContent"
    };
    format!("/v1beta/models/{model}:{action}")
}

/// The path a `client` posts to for `model`, stream or not (the stream
/// flag of the other formats is in their body).
pub fn client_path(client: Client, model: &str, stream: bool) -> String {
    match client {
        Client::Chat => "/v1/chat/completions".to_string(),
        Client::Responses => "/v1/responses".to_string(),
        Client::Claude => "/v1/messages".to_string(),
        Client::Gemini => gemini_path(model, stream),
    }
}

/// Posts `body` as `client`'s own SDK would: its path and its own way of
/// sending the key `sk-client-1` (Bearer, x-api-key + anthropic-version,
/// x-goog-api-key).
pub fn post_as(
    srv: &Server,
    client: Client,
    model: &str,
    stream: bool,
    body: &serde_json::Value,
) -> Resp {
    let headers: &[(&str, &str)] = match client {
        Client::Chat | Client::Responses => &[CLIENT_AUTH],
        Client::Claude => &[
            ("x-api-key", CLIENT_KEY),
            ("anthropic-version", "2023-06-01"),
        ],
        Client::Gemini => &[("x-goog-api-key", CLIENT_KEY)],
    };
    srv.request(
        "POST",
        &client_path(client, model, stream),
        headers,
        &body.to_string(),
    )
}

/// The tool name and joined `input_json_delta` text of a Claude stream's
/// tool_use block.
pub fn claude_stream_tool_call(evs: &[serde_json::Value]) -> Option<(String, String)> {
    let name = evs
        .iter()
        .find(|e| e["type"] == "content_block_start" && e["content_block"]["type"] == "tool_use")?
        ["content_block"]["name"]
        .as_str()?
        .to_string();
    let args = evs
        .iter()
        .filter(|e| e["delta"]["type"] == "input_json_delta")
        .filter_map(|e| e["delta"]["partial_json"].as_str())
        .collect();
    Some((name, args))
}

/// `every_kind_config` with upstream keys `up-KIND` and models
/// `KIND-upstream`, nothing extra.
pub fn every_kind_default_config(mock: &Mock) -> String {
    every_kind_config(mock, |k| (format!("up-{k}"), format!("{k}-upstream")), "")
}

/// Every part of the first candidate across Gemini `chunks` (whole
/// answers or stream chunks), in order.
pub fn gemini_parts(chunks: &[serde_json::Value]) -> Vec<serde_json::Value> {
    chunks
        .iter()
        .flat_map(|c| {
            c["candidates"][0]["content"]["parts"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .collect()
}

/// The first Gemini `functionCall` part across `chunks` (whole answers or
/// stream chunks): its name and args.
pub fn gemini_function_call(chunks: &[serde_json::Value]) -> Option<(String, serde_json::Value)> {
    let p = gemini_parts(chunks)
        .into_iter()
        .find(|p| p["functionCall"].is_object())?;
    Some((
        p["functionCall"]["name"].as_str()?.to_string(),
        p["functionCall"]["args"].clone(),
    ))
}

/// A mock whose every answer streams `events`; the first answer waits
/// before item `gate_at` until the returned sender sends or is dropped.
pub fn gated_sse_mock(events: Vec<String>, gate_at: usize) -> (Mock, mpsc::Sender<()>) {
    let (gate_tx, gate_rx) = mpsc::channel::<()>();
    let gate = Mutex::new(Some(gate_rx));
    let mock = Mock::start(move |_| Reply::Sse {
        events: events.clone(),
        gate_at: Some(gate_at),
        gate: gate.lock().ok().and_then(|mut g| g.take()),
        end: SseEnd::Clean,
    });
    (mock, gate_tx)
}

/// An OpenAI chat body for model gpt-test saying "hi".
pub fn chat_body(stream: bool) -> String {
    format!(
        r#"{{"model":"gpt-test","messages":[{{"role":"user","content":"hi"}}],"stream":{stream}}}"#
    )
}

/// Sends a streaming chat request (`chat_body(true)`, client key
/// `sk-client-1`) on `r`'s connection, expects a 200 head and returns the
/// first body chunk.
#[track_caller]
pub fn start_chat_stream<S: Read + Write>(r: &mut BufReader<S>) -> Vec<u8> {
    let req = raw_request(
        "POST",
        "/v1/chat/completions",
        &[CLIENT_AUTH],
        &chat_body(true),
    );
    let s = r.get_mut();
    s.write_all(&req).unwrap();
    s.flush().unwrap();
    let (status, _) = read_head(r).unwrap();
    assert_eq!(status, 200);
    read_chunk(r)
        .unwrap()
        .expect("the stream ended before its first chunk")
}

/// Fails the test listing every collected failure, one per `sep`.
#[track_caller]
pub fn assert_no_failures(failures: &[String], sep: &str) {
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join(sep)
    );
}

/// The model ids `/v1/models` lists to the test client.
pub fn model_ids(srv: &Server) -> Vec<String> {
    let r = srv.request("GET", "/v1/models", &[CLIENT_AUTH], "");
    r.json()["data"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|m| m["id"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// An OpenAI Chat request saying "hi" to `model`.
pub fn chat_hi(srv: &Server, model: &str, stream: bool) -> Resp {
    post_as(
        srv,
        Client::Chat,
        model,
        stream,
        &serde_json::json!({"model": model, "stream": stream, "messages": [{"role":"user","content":"hi"}]}),
    )
}

/// A whole Anthropic Messages answer of `text` (5 input, 3 output tokens).
pub fn claude_message(model: &str, text: &str) -> String {
    serde_json::json!({"id":"msg_1","type":"message","role":"assistant","model":model,
        "content":[{"type":"text","text":text}],"stop_reason":"end_turn",
        "usage":{"input_tokens":5,"output_tokens":3}})
    .to_string()
}
