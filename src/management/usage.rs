//! Usage statistics (`usage-statistics-enabled`, CLIProxyAPI v6.9's
//! `/usage`, `/usage/export`, `/usage/import`).
//!
//! Cost on the request path:
//! - disabled: one `bool` read of the snapshot's config per upstream answer;
//!   nothing else runs.
//! - enabled: a [`Sniffer`] watches the upstream bytes the relay already
//!   has (SSE events are scanned; only events whose data mentions `usage`
//!   are decoded), then one [`Record`] (a few small strings) is pushed into
//!   this worker's bounded channel with `try_send`. No lock is taken on the
//!   request path: the channel is std's array-backed `sync_channel`, whose
//!   send is lock-free while no receiver sleeps (ours never blocks).
//!
//! Merge on read: the management handler (and the control thread once a
//! second) drains every worker's channel into one [`Stats`] behind a mutex
//! that only they take.
//!
//! Memory bound: each worker's channel holds at most [`QUEUE_CAP`] records
//! (a full channel drops the record and counts it in `dropped`); the
//! aggregate keeps at most [`MAX_DETAILS`] request details per (API key,
//! model) pair (oldest dropped; totals still count them), at most
//! [`MAX_DAYS`] day buckets, and 24 hour buckets. The number of (API key,
//! model) pairs is bounded by the configured client keys times the models
//! served (a request with an unknown key never gets this far).
//!
//! `/usage-queue` (CLIProxyAPI v7's usage queue, read over HTTP): every
//! record merged into the aggregate is also queued as one JSON object for
//! `redis-usage-queue-retention-seconds` (default 60, at most 3600), at most
//! [`QUEUE_MAX`] records (oldest dropped first); a read pops the oldest.
//!
//! `/api-key-usage`: every attempt on an API-key credential (whatever
//! `usage-statistics-enabled` says, as CLIProxyAPI's `MarkResult`) sends one
//! small [`KeyResult`] (two shared strings, no allocation) through the same
//! per-worker channel. The aggregate keeps, per credential, the success and
//! failure totals and [`RECENT_BUCKETS`] ten-minute buckets: a fixed size per
//! configured API key; entries of keys no longer configured are dropped on
//! read.

use crate::translate::format::Format;
use crate::translate::stream::decode::Decoder;
use crate::translate::stream::{StreamEvent, Usage};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Mutex;

/// Records a worker's channel holds before drops.
pub const QUEUE_CAP: usize = 16_384;
/// Request details kept per (API key, model).
pub const MAX_DETAILS: usize = 1_000;
/// Day buckets kept.
pub const MAX_DAYS: usize = 400;
/// Records `/usage-queue` holds at most.
pub const QUEUE_MAX: usize = 65_536;
/// Ten-minute buckets `/api-key-usage` reports per credential.
pub const RECENT_BUCKETS: usize = 20;
/// Seconds per `/api-key-usage` bucket.
pub const BUCKET_SECS: u64 = 600;
/// Largest non-stream body the sniffer keeps to read its usage.
const MAX_BODY: usize = 8 << 20;

// ------------------------------------------------------------ sniffing

/// Reads token usage out of one upstream answer (stream or whole body) in
/// upstream format `fmt`.
pub struct Sniffer {
    fmt: Format,
    stream: bool,
    scanner: crate::sse::Scanner,
    dec: Decoder,
    body: Vec<u8>,
    usage: Usage,
    failed: bool,
}

fn mentions_usage(data: &[u8]) -> bool {
    memchr::memmem::find(data, b"sage").is_some()
}

impl Sniffer {
    /// A sniffer for an answer in `fmt`; `stream`: SSE, else one JSON body.
    pub fn new(fmt: Format, stream: bool) -> Sniffer {
        Sniffer {
            fmt,
            stream,
            scanner: crate::sse::Scanner::new(),
            dec: Decoder::new(fmt, 0),
            body: Vec::new(),
            usage: Usage::default(),
            failed: false,
        }
    }

    /// Feeds the next bytes of the answer.
    pub fn feed(&mut self, bytes: &[u8]) {
        if !self.stream {
            if self.body.len() + bytes.len() <= MAX_BODY {
                self.body.extend_from_slice(bytes);
            } else {
                self.failed = true;
            }
            return;
        }
        if self.failed {
            return;
        }
        let (dec, usage) = (&mut self.dec, &mut self.usage);
        let r = self.scanner.feed(bytes, |item| {
            if let crate::sse::Item::Event(ev) = item {
                if mentions_usage(ev.data) {
                    dec.decode(ev.event, ev.data, &mut |e| {
                        if let StreamEvent::Usage(u) = e {
                            *usage = u;
                        }
                    });
                }
            }
        });
        if r.is_err() {
            self.failed = true;
        }
    }

    /// One complete event (a Codex answer aggregated to its terminal event).
    pub fn event(&mut self, event: Option<&[u8]>, data: &[u8]) {
        let usage = &mut self.usage;
        self.dec.decode(event, data, &mut |e| {
            if let StreamEvent::Usage(u) = e {
                *usage = u;
            }
        });
    }

    /// The usage the answer reported (zeros when it reported none).
    pub fn finish(mut self) -> Usage {
        if self.stream || self.failed {
            return self.usage;
        }
        let body = std::mem::take(&mut self.body);
        match self.fmt {
            // A whole message reads like the stream's opening event.
            Format::Claude => {
                let mut w = Vec::with_capacity(body.len() + 40);
                w.extend_from_slice(b"{\"type\":\"message_start\",\"message\":");
                w.extend_from_slice(&body);
                w.push(b'}');
                self.event(Some(b"message_start"), &w);
                // message_start carries input; the whole message's usage
                // object is final, so it is also read as the closing delta.
                if let Some(usage) = crate::json::span::get(&body, b"usage") {
                    let mut d = Vec::with_capacity(usage.len() + 48);
                    d.extend_from_slice(b"{\"type\":\"message_delta\",\"delta\":{},\"usage\":");
                    d.extend_from_slice(usage);
                    d.push(b'}');
                    self.event(Some(b"message_delta"), &d);
                }
            }
            Format::OpenAiResponses | Format::Codex => {
                let mut w = Vec::with_capacity(body.len() + 48);
                w.extend_from_slice(b"{\"type\":\"response.completed\",\"response\":");
                w.extend_from_slice(&body);
                w.push(b'}');
                self.event(Some(b"response.completed"), &w);
            }
            // A Gemini CLI answer is `{"response": ...}`: its decoder unwraps it.
            Format::OpenAiChat | Format::Gemini | Format::GeminiCli => self.event(None, &body),
        }
        self.usage
    }
}

// ------------------------------------------------------------ records

/// One request's outcome, as a worker hands it to the aggregate.
#[derive(Debug, Clone)]
pub struct Record {
    /// Unix milliseconds when the request arrived.
    pub at_ms: u64,
    /// Milliseconds from arrival to the end of the answer.
    pub latency_ms: u64,
    /// The client's API key (the `apis` bucket).
    pub api_key: String,
    /// The model the client asked for.
    pub model: String,
    /// The credential's label.
    pub source: std::sync::Arc<str>,
    /// The credential's `auth_index`.
    pub auth_index: std::sync::Arc<str>,
    /// Tokens reported by the upstream.
    pub usage: Usage,
    /// Whether the request failed.
    pub failed: bool,
    /// The upstream provider (`claude`, `gemini`, an OpenAI-compatible
    /// entry's name, ...).
    pub provider: std::sync::Arc<str>,
    /// `apikey` (a config entry) or `oauth` (an auth file).
    pub auth_type: &'static str,
    /// The client's route (`/v1/chat/completions`, ...).
    pub endpoint: String,
}

/// One attempt's result on an API-key credential (`/api-key-usage`).
#[derive(Debug, Clone)]
pub struct KeyResult {
    /// Provider group (`claude`, `gemini`, `codex`, `vertex`, or an
    /// OpenAI-compatible entry's lower-case name).
    pub group: std::sync::Arc<str>,
    /// `base_url|api_key`.
    pub key: std::sync::Arc<str>,
    /// Unix seconds of the result.
    pub at_secs: u64,
    /// 2xx (else a failure).
    pub success: bool,
}

/// What a worker's lane carries. A record is boxed: the channel allocates
/// all [`QUEUE_CAP`] slots up front at the size of the largest variant, and
/// an inline `Record` (~200 bytes) made that 3.4 MB per worker as soon as
/// the first API-key result arrived; boxed, a slot is ~50 bytes.
enum Msg {
    Usage(Box<Record>),
    Key(KeyResult),
}

struct Lane {
    tx: SyncSender<Msg>,
}

thread_local! {
    static LANE: RefCell<Option<Lane>> = const { RefCell::new(None) };
}

fn receivers() -> &'static Mutex<Vec<Receiver<Msg>>> {
    static R: std::sync::OnceLock<Mutex<Vec<Receiver<Msg>>>> = std::sync::OnceLock::new();
    R.get_or_init(|| Mutex::new(Vec::new()))
}

static DROPPED: AtomicU64 = AtomicU64::new(0);

/// Hands a record to the aggregate from this thread's lane.
pub fn record(r: Record) {
    send(Msg::Usage(Box::new(r)));
}

/// Hands an API-key credential's result to the aggregate.
pub fn record_key(r: KeyResult) {
    send(Msg::Key(r));
}

/// Sends on this thread's lane (created on the thread's first message; that
/// one time registers its receiver).
fn send(m: Msg) {
    LANE.with(|lane| {
        let mut lane = lane.borrow_mut();
        let lane = lane.get_or_insert_with(|| {
            let (tx, rx) = sync_channel(QUEUE_CAP);
            receivers()
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(rx);
            Lane { tx }
        });
        match lane.tx.try_send(m) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                DROPPED.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
}

/// The base URL an endpoint was configured with (best effort: scheme,
/// `Host` value and path prefix).
fn base_url(e: &crate::upstream::Endpoint) -> String {
    let scheme = if e.tls { "https" } else { "http" };
    format!("{scheme}://{}{}", e.host_header, e.base_path)
}

/// A credential's names, computed once per worker, snapshot generation,
/// provider and key (the SHA-256 and the strings stay off the per-request
/// path).
#[derive(Clone)]
struct Ident {
    label: std::sync::Arc<str>,
    auth_index: std::sync::Arc<str>,
    /// `/api-key-usage` group and `base_url|api_key` (API-key entries).
    group: std::sync::Arc<str>,
    key: Option<std::sync::Arc<str>>,
    /// Metrics and access log: the provider entry's name.
    name: std::sync::Arc<str>,
    /// Metrics and access log: the credential label (an account's label,
    /// else the key's `auth_index`; never a key).
    shown: std::sync::Arc<str>,
}

/// This worker's [`Ident`]s for one snapshot generation.
type Idents = (u64, crate::credentials::FnvMap<(usize, usize), Ident>);

thread_local! {
    static IDENTS: RefCell<Idents> = RefCell::new((0, crate::credentials::FnvMap::default()));
}

/// The `/api-key-usage` group of a provider: CLIProxyAPI's provider id, or
/// an OpenAI-compatible entry's lower-case name.
fn group_of(provider: &crate::state::Provider) -> String {
    match provider.sched_provider.strip_prefix("openai-compatible-") {
        Some(name) => name.to_string(),
        None => provider.sched_provider.to_ascii_lowercase(),
    }
}

/// `base_url|api_key` of key `ki` of an API-key entry (the base URL is
/// empty when the entry left it at the provider's default, as in
/// CLIProxyAPI, where it is the configured string).
fn key_id(provider: &crate::state::Provider, ki: Option<usize>) -> Option<String> {
    let key = ki.and_then(|k| provider.keys.get(k))?.expose().trim();
    if key.is_empty() {
        return None;
    }
    let base = if provider.default_host {
        String::new()
    } else {
        base_url(&provider.endpoint)
    };
    Some(format!("{base}|{key}"))
}

fn ident(gen: u64, provider: &crate::state::Provider, ki: Option<usize>) -> Ident {
    let slot = (
        provider as *const crate::state::Provider as usize,
        ki.unwrap_or(usize::MAX),
    );
    IDENTS.with(|c| {
        let mut c = c.borrow_mut();
        if c.0 != gen {
            c.0 = gen;
            c.1.clear();
        }
        c.1.entry(slot)
            .or_insert_with(|| {
                let (label, idx) = identity(provider, ki);
                let key = match provider.account {
                    Some(_) => None,
                    None => key_id(provider, ki).map(Into::into),
                };
                let shown: std::sync::Arc<str> = if provider.account.is_some() {
                    label.as_str().into()
                } else {
                    idx.as_str().into()
                };
                Ident {
                    label: label.into(),
                    auth_index: idx.into(),
                    group: group_of(provider).into(),
                    key,
                    name: provider.name.as_str().into(),
                    shown,
                }
            })
            .clone()
    })
}

/// Counts one attempt's result on the credential `(snapshot generation,
/// provider, key index)` for `/api-key-usage` (API-key entries only; an
/// account's result is not an API key's).
pub fn record_key_result(cred: (u64, &crate::state::Provider, Option<usize>), success: bool) {
    if cred.1.account.is_some() {
        return;
    }
    let id = ident(cred.0, cred.1, cred.2);
    let Some(key) = id.key else {
        return;
    };
    record_key(KeyResult {
        group: id.group,
        key,
        at_secs: super::now_ms() / 1000,
        success,
    });
}

/// A credential's `(label, auth_index)` (reference §3.4): an account's
/// email (else its id) and file index; a config key's provider name and
/// key index.
pub(crate) fn identity(provider: &crate::state::Provider, ki: Option<usize>) -> (String, String) {
    match &provider.account {
        Some(a) => {
            let mut label = if a.email.is_empty() {
                a.id.clone()
            } else {
                a.email.clone()
            };
            // A project of a multi-project file: CLIProxyAPI's virtual auth
            // label `<label> [<project>]`.
            if let Some(p) = &provider.project {
                label = format!("{label} [{p}]");
            }
            (
                label,
                super::auth_files::auth_index(a.kind.as_type(), &a.path),
            )
        }
        None => {
            let key = ki
                .and_then(|k| provider.keys.get(k))
                .map(|k| k.expose())
                .unwrap_or("");
            let idx = super::config_file::auth_index(
                provider.kind.config_key(),
                &base_url(&provider.endpoint),
                key,
            );
            (provider.name.clone(), idx)
        }
    }
}

/// A credential's labels for metrics and the access log, cached per worker
/// and snapshot generation: (provider name, credential label: the account's
/// email or id, else the key's `auth_index`; never a key).
pub(crate) fn obs_labels(
    gen: u64,
    provider: &crate::state::Provider,
    ki: Option<usize>,
) -> (std::sync::Arc<str>, std::sync::Arc<str>) {
    let id = ident(gen, provider, ki);
    (id.name, id.shown)
}

/// Records one upstream attempt of the request `req` with the credential
/// `(snapshot generation, provider, key index)` (called by the forward stage
/// only when `usage-statistics-enabled`).
pub fn record_attempt(
    req: &crate::server::Request<'_>,
    model: &str,
    cred: (u64, &crate::state::Provider, Option<usize>),
    usage: Usage,
    failed: bool,
    latency_ms: u64,
) {
    let id = ident(cred.0, cred.1, cred.2);
    record(Record {
        at_ms: super::now_ms().saturating_sub(latency_ms),
        latency_ms,
        api_key: req.client_key(),
        model: model.to_string(),
        source: id.label,
        auth_index: id.auth_index,
        usage,
        failed,
        provider: id.group,
        auth_type: if cred.1.account.is_some() {
            "oauth"
        } else {
            "apikey"
        },
        endpoint: String::from_utf8_lossy(req.path()).into_owned(),
    });
}

// ------------------------------------------------------------ aggregate

/// CLIProxyAPI's token breakdown of one request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Tokens {
    #[serde(default)]
    pub input_tokens: i64,
    #[serde(default)]
    pub output_tokens: i64,
    #[serde(default)]
    pub reasoning_tokens: i64,
    #[serde(default)]
    pub cached_tokens: i64,
    #[serde(default)]
    pub total_tokens: i64,
}

/// One request detail (`details[]`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Detail {
    pub timestamp: String,
    #[serde(default)]
    pub latency_ms: i64,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub auth_index: String,
    #[serde(default)]
    pub tokens: Tokens,
    #[serde(default)]
    pub failed: bool,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct ModelStats {
    total_requests: i64,
    total_tokens: i64,
    details: VecDeque<Detail>,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct ApiStats {
    total_requests: i64,
    total_tokens: i64,
    models: BTreeMap<String, ModelStats>,
}

/// The merged statistics, in CLIProxyAPI's snapshot shape.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Stats {
    total_requests: i64,
    success_count: i64,
    failure_count: i64,
    total_tokens: i64,
    apis: BTreeMap<String, ApiStats>,
    requests_by_day: BTreeMap<String, i64>,
    requests_by_hour: BTreeMap<String, i64>,
    tokens_by_day: BTreeMap<String, i64>,
    tokens_by_hour: BTreeMap<String, i64>,
}

/// `YYYY-MM-DD`, `HH` and RFC 3339 (UTC) of Unix milliseconds.
fn times(ms: u64) -> (String, String, String) {
    let secs = ms / 1000;
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
    let stamp = super::auth_files::rfc3339(t);
    let day = stamp[..10].to_string();
    let hour = stamp[11..13].to_string();
    let frac = format!("{}.{:03}Z", &stamp[..19], ms % 1000);
    (day, hour, frac)
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl Stats {
    fn add_detail(&mut self, api: &str, model: &str, d: Detail) {
        let tokens = d.tokens.total_tokens;
        self.total_requests += 1;
        if d.failed {
            self.failure_count += 1;
        } else {
            self.success_count += 1;
        }
        self.total_tokens += tokens;
        let day = d.timestamp.get(..10).unwrap_or("").to_string();
        let hour = d.timestamp.get(11..13).unwrap_or("").to_string();
        *self.requests_by_day.entry(day.clone()).or_default() += 1;
        *self.requests_by_hour.entry(hour.clone()).or_default() += 1;
        *self.tokens_by_day.entry(day).or_default() += tokens;
        *self.tokens_by_hour.entry(hour).or_default() += tokens;
        while self.requests_by_day.len() > MAX_DAYS {
            let Some(first) = self.requests_by_day.keys().next().cloned() else {
                break;
            };
            self.requests_by_day.remove(&first);
            self.tokens_by_day.remove(&first);
        }
        let a = self.apis.entry(api.to_string()).or_default();
        a.total_requests += 1;
        a.total_tokens += tokens;
        let m = a.models.entry(model.to_string()).or_default();
        m.total_requests += 1;
        m.total_tokens += tokens;
        m.details.push_back(d);
        while m.details.len() > MAX_DETAILS {
            m.details.pop_front();
        }
    }

    fn add(&mut self, r: Record) {
        let (_, _, stamp) = times(r.at_ms);
        let u = r.usage;
        let tokens = Tokens {
            input_tokens: to_i64(u.input),
            output_tokens: to_i64(u.output),
            reasoning_tokens: to_i64(u.reasoning),
            cached_tokens: to_i64(u.cached),
            total_tokens: to_i64(u.input.saturating_add(u.output)),
        };
        let d = Detail {
            timestamp: stamp,
            latency_ms: to_i64(r.latency_ms),
            source: r.source.to_string(),
            auth_index: r.auth_index.to_string(),
            tokens,
            failed: r.failed,
        };
        self.add_detail(&r.api_key, &r.model, d);
    }

    /// Merges an exported snapshot: details already present (same API key,
    /// model and every detail field) are skipped. Returns (added, skipped).
    fn merge(&mut self, other: Stats) -> (i64, i64) {
        let mut seen: HashSet<(String, String, Detail)> = HashSet::new();
        for (k, a) in &self.apis {
            for (m, ms) in &a.models {
                for d in &ms.details {
                    seen.insert((k.clone(), m.clone(), d.clone()));
                }
            }
        }
        let (mut added, mut skipped) = (0, 0);
        for (k, a) in other.apis {
            for (m, ms) in a.models {
                for d in ms.details {
                    if seen.insert((k.clone(), m.clone(), d.clone())) {
                        self.add_detail(&k, &m, d);
                        added += 1;
                    } else {
                        skipped += 1;
                    }
                }
            }
        }
        (added, skipped)
    }
}

fn stats() -> &'static Mutex<Stats> {
    static S: std::sync::OnceLock<Mutex<Stats>> = std::sync::OnceLock::new();
    S.get_or_init(|| Mutex::new(Stats::default()))
}

/// Success and failure counts per credential `auth_index` (one entry per
/// credential that served a request since start; bounded by the
/// credentials configured over the process's life).
fn per_credential() -> &'static Mutex<std::collections::HashMap<String, (i64, i64)>> {
    static C: std::sync::OnceLock<Mutex<std::collections::HashMap<String, (i64, i64)>>> =
        std::sync::OnceLock::new();
    C.get_or_init(|| Mutex::new(std::collections::HashMap::new()))
}

/// Moves every queued record into the aggregate, the per-credential counts,
/// the usage queue and the API-key counters (management reads and the
/// control thread's tick).
pub fn drain() {
    let rx = receivers().lock().unwrap_or_else(|p| p.into_inner());
    let mut s = stats().lock().unwrap_or_else(|p| p.into_inner());
    let mut per = per_credential().lock().unwrap_or_else(|p| p.into_inner());
    let mut q = queue().lock().unwrap_or_else(|p| p.into_inner());
    let mut k = key_stats().lock().unwrap_or_else(|p| p.into_inner());
    let now = super::now_ms();
    let mut records = Vec::new();
    for r in rx.iter() {
        while let Ok(m) = r.try_recv() {
            match m {
                Msg::Usage(rec) => {
                    if !rec.auth_index.is_empty() {
                        let c = per.entry(rec.auth_index.to_string()).or_default();
                        if rec.failed {
                            c.1 += 1;
                        } else {
                            c.0 += 1;
                        }
                    }
                    records.push(*rec)
                }
                Msg::Key(kr) => k
                    .entry((kr.group, kr.key))
                    .or_default()
                    .add(kr.at_secs, kr.success),
            }
        }
    }
    // The lanes are drained one worker after another: order this batch by
    // request time so the queue hands out the oldest first.
    records.sort_by_key(|r| r.at_ms);
    for rec in records {
        q.push(now, queue_item(&rec));
        s.add(rec);
    }
    q.prune(now);
}

// ------------------------------------------------------------ usage queue

static RETENTION_SECS: AtomicU64 = AtomicU64::new(60);

/// Sets the queue's retention from `redis-usage-queue-retention-seconds`
/// (CLIProxyAPI's rule: <= 0 means 60, at most 3600).
pub fn set_queue_retention(secs: i64) {
    let secs = match secs {
        s if s <= 0 => 60,
        s => s.min(3600) as u64,
    };
    RETENTION_SECS.store(secs, Ordering::Relaxed);
}

#[derive(Default)]
struct Queue {
    items: VecDeque<(u64, serde_json::Value)>,
}

impl Queue {
    fn push(&mut self, now_ms: u64, item: serde_json::Value) {
        self.items.push_back((now_ms, item));
        while self.items.len() > QUEUE_MAX {
            self.items.pop_front();
        }
    }

    fn prune(&mut self, now_ms: u64) {
        let keep_ms = RETENTION_SECS.load(Ordering::Relaxed) * 1000;
        while self
            .items
            .front()
            .is_some_and(|(t, _)| now_ms.saturating_sub(*t) > keep_ms)
        {
            self.items.pop_front();
        }
    }
}

fn queue() -> &'static Mutex<Queue> {
    static Q: std::sync::OnceLock<Mutex<Queue>> = std::sync::OnceLock::new();
    Q.get_or_init(|| Mutex::new(Queue::default()))
}

/// One queued record in CLIProxyAPI's usage-queue shape. Fields cliproxy
/// does not track are present with empty values (`ttft_ms`, `client_ip`,
/// `x_forwarded_for`, `user_agent`, `request_id`, `reasoning_effort`,
/// `service_tier`); a failure's `fail.status_code` is 500 (the status is
/// not kept with the record).
fn queue_item(r: &Record) -> serde_json::Value {
    let (_, _, stamp) = times(r.at_ms);
    let u = r.usage;
    let total = u.input.saturating_add(u.output);
    serde_json::json!({
        "timestamp": stamp,
        "latency_ms": r.latency_ms,
        "ttft_ms": 0,
        "source": &*r.source,
        "auth_index": &*r.auth_index,
        "client_ip": "",
        "x_forwarded_for": "",
        "user_agent": "",
        "tokens": {
            "input_tokens": u.input,
            "output_tokens": u.output,
            "reasoning_tokens": u.reasoning,
            "cached_tokens": u.cached,
            "cache_read_tokens": u.cached,
            "cache_read_tokens_present": true,
            "cache_creation_tokens": 0,
            "total_tokens": total,
        },
        "failed": r.failed,
        "generate": false,
        "fail": {
            "status_code": if r.failed { 500 } else { 200 },
            "body": "",
        },
        "provider": &*r.provider,
        "executor_type": &*r.provider,
        "model": r.model,
        "alias": r.model,
        "endpoint": r.endpoint,
        "auth_type": r.auth_type,
        "api_key": r.api_key,
        "request_id": "",
        "reasoning_effort": "",
        "service_tier": "",
    })
}

/// `?count=`: empty means 1; anything but a positive integer is refused
/// with CLIProxyAPI's message.
pub fn parse_queue_count(v: Option<&str>) -> Result<usize, &'static str> {
    let v = v.unwrap_or("").trim();
    if v.is_empty() {
        return Ok(1);
    }
    match v.parse::<i64>() {
        Ok(n) if n > 0 => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
        _ => Err("count must be a positive integer"),
    }
}

/// `GET /usage-queue?count=n`: pops up to `n` of the oldest queued records
/// (a JSON array, empty when none).
pub fn pop_queue(n: usize) -> serde_json::Value {
    drain();
    let mut q = queue().lock().unwrap_or_else(|p| p.into_inner());
    q.prune(super::now_ms());
    let take = n.min(q.items.len());
    serde_json::Value::Array(q.items.drain(..take).map(|(_, v)| v).collect())
}

// ------------------------------------------------------------ API-key usage

/// One API-key credential's counters.
#[derive(Debug, Default, Clone)]
struct KeyStats {
    success: i64,
    failed: i64,
    /// (bucket id, success, failed) in a ring indexed by id.
    buckets: [(u64, i64, i64); RECENT_BUCKETS],
}

impl KeyStats {
    fn add(&mut self, at_secs: u64, success: bool) {
        let id = at_secs / BUCKET_SECS;
        let b = &mut self.buckets[(id % RECENT_BUCKETS as u64) as usize];
        if b.0 != id {
            *b = (id, 0, 0);
        }
        if success {
            self.success += 1;
            b.1 += 1;
        } else {
            self.failed += 1;
            b.2 += 1;
        }
    }

    /// The last [`RECENT_BUCKETS`] buckets, oldest first, ending with the
    /// one holding `now_secs`; labels are `HH:MM-HH:MM` (UTC).
    fn recent(&self, now_secs: u64) -> Vec<serde_json::Value> {
        let cur = now_secs / BUCKET_SECS;
        (0..RECENT_BUCKETS as u64)
            .rev()
            .map(|back| {
                let id = cur.saturating_sub(back);
                let b = self.buckets[(id % RECENT_BUCKETS as u64) as usize];
                let (s, f) = if b.0 == id { (b.1, b.2) } else { (0, 0) };
                serde_json::json!({
                    "time": bucket_label(id),
                    "success": s,
                    "failed": f,
                })
            })
            .collect()
    }
}

fn bucket_label(id: u64) -> String {
    let hm = |secs: u64| {
        let day = secs % 86_400;
        format!("{:02}:{:02}", day / 3600, (day % 3600) / 60)
    };
    let start = id * BUCKET_SECS;
    format!("{}-{}", hm(start), hm(start + BUCKET_SECS))
}

type KeyMap = std::collections::HashMap<(std::sync::Arc<str>, std::sync::Arc<str>), KeyStats>;

fn key_stats() -> &'static Mutex<KeyMap> {
    static K: std::sync::OnceLock<Mutex<KeyMap>> = std::sync::OnceLock::new();
    K.get_or_init(|| Mutex::new(KeyMap::new()))
}

/// `GET /api-key-usage`: `{group: {"base_url|api_key": {success, failed,
/// recent_requests[20]}}}` for every API-key credential of `snap`
/// (CLIProxyAPI's shape); counters of keys no longer configured are dropped.
pub fn api_key_usage_json(snap: &crate::state::Snapshot) -> serde_json::Value {
    drain();
    let mut k = key_stats().lock().unwrap_or_else(|p| p.into_inner());
    let now = super::now_ms() / 1000;
    let mut out: BTreeMap<String, serde_json::Map<String, serde_json::Value>> = BTreeMap::new();
    let mut live: HashSet<(String, String)> = HashSet::new();
    for p in snap.providers.iter().filter(|p| p.account.is_none()) {
        let group = group_of(p);
        for ki in 0..p.keys.len() {
            let Some(id) = key_id(p, Some(ki)) else {
                continue;
            };
            let entry = k
                .get(&(
                    std::sync::Arc::from(group.as_str()),
                    std::sync::Arc::from(id.as_str()),
                ))
                .cloned()
                .unwrap_or_default();
            out.entry(group.clone()).or_default().insert(
                id.clone(),
                serde_json::json!({
                    "success": entry.success,
                    "failed": entry.failed,
                    "recent_requests": entry.recent(now),
                }),
            );
            live.insert((group.clone(), id));
        }
    }
    k.retain(|(g, id), _| live.contains(&(g.to_string(), id.to_string())));
    serde_json::to_value(out).unwrap_or_default()
}

/// `(success, failed)` requests of the credential `auth_index` counted by
/// usage statistics (zero while `usage-statistics-enabled` is off).
pub fn counts_of(auth_index: &str) -> (i64, i64) {
    per_credential()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(auth_index)
        .copied()
        .unwrap_or_default()
}

/// `GET /usage`: `{"usage": snapshot, "failed_requests": n}` as CLIProxyAPI.
pub fn snapshot_json() -> serde_json::Value {
    drain();
    let s = stats().lock().unwrap_or_else(|p| p.into_inner()).clone();
    serde_json::json!({
        "usage": s,
        "failed_requests": s.failure_count,
        "dropped_records": DROPPED.load(Ordering::Relaxed),
    })
}

/// `GET /usage/export`.
pub fn export_json() -> serde_json::Value {
    drain();
    let s = stats().lock().unwrap_or_else(|p| p.into_inner()).clone();
    let (_, _, now) = times(super::now_ms());
    serde_json::json!({ "version": 1, "exported_at": now, "usage": s })
}

/// `POST /usage/import`: merges an export (`{"usage": ...}` or a bare
/// snapshot). Returns (added, skipped) or why the body was refused.
pub fn import(body: &[u8]) -> Result<(i64, i64), String> {
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let snap = match v.get("usage") {
        Some(u) => u.clone(),
        None => v,
    };
    let other: Stats = serde_json::from_value(snap).map_err(|e| e.to_string())?;
    drain();
    let mut s = stats().lock().unwrap_or_else(|p| p.into_inner());
    Ok(s.merge(other))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sniff_stream(fmt: Format, body: &[u8]) -> Usage {
        let mut s = Sniffer::new(fmt, true);
        s.feed(body);
        s.finish()
    }

    /// Whole vs split at every byte: the same usage as the one-read oracle.
    fn check_splits(fmt: Format, body: &[u8], want: Usage) {
        assert_eq!(sniff_stream(fmt, body), want, "whole");
        for cut in 0..=body.len() {
            let mut s = Sniffer::new(fmt, true);
            s.feed(&body[..cut]);
            s.feed(&body[cut..]);
            assert_eq!(s.finish(), want, "split at {cut}");
        }
    }

    fn u(input: u64, output: u64) -> Usage {
        Usage {
            input,
            output,
            ..Usage::default()
        }
    }

    #[test]
    fn chat_stream_and_body() {
        let body = b"data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\ndata: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":7,\"total_tokens\":18}}\n\ndata: [DONE]\n\n";
        check_splits(Format::OpenAiChat, body, u(11, 7));
        let mut s = Sniffer::new(Format::OpenAiChat, false);
        s.feed(
            br#"{"id":"c","choices":[{"index":0,"message":{"role":"assistant","content":"x"}}],"#,
        );
        s.feed(br#""usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}"#);
        assert_eq!(s.finish(), u(3, 4));
    }

    #[test]
    fn claude_stream_and_body() {
        let body = b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"c\",\"content\":[],\"usage\":{\"input_tokens\":20,\"output_tokens\":1}}}\n\nevent: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"hi\"}}\n\nevent: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":9}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
        check_splits(Format::Claude, body, u(20, 9));
        let mut s = Sniffer::new(Format::Claude, false);
        s.feed(br#"{"id":"m","type":"message","role":"assistant","model":"c","content":[{"type":"text","text":"x"}],"stop_reason":"end_turn","usage":{"input_tokens":5,"output_tokens":3}}"#);
        assert_eq!(s.finish(), u(5, 3));
    }

    #[test]
    fn gemini_stream_and_body() {
        let body = b"data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"hi\"}]}}]}\r\n\r\ndata: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"!\"}]},\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":8,\"candidatesTokenCount\":5,\"totalTokenCount\":13}}\r\n\r\n";
        check_splits(Format::Gemini, body, u(8, 5));
        let mut s = Sniffer::new(Format::Gemini, false);
        s.feed(br#"{"candidates":[{"content":{"role":"model","parts":[{"text":"x"}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":2,"candidatesTokenCount":6,"totalTokenCount":8}}"#);
        assert_eq!(s.finish(), u(2, 6));
    }

    #[test]
    fn responses_stream_and_body() {
        let body = b"event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"r\",\"status\":\"in_progress\"}}\n\nevent: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"id\":\"r\",\"status\":\"completed\",\"output\":[],\"usage\":{\"input_tokens\":30,\"output_tokens\":12,\"total_tokens\":42}}}\n\n";
        check_splits(Format::OpenAiResponses, body, u(30, 12));
        check_splits(Format::Codex, body, u(30, 12));
        let mut s = Sniffer::new(Format::OpenAiResponses, false);
        s.feed(br#"{"id":"r","object":"response","status":"completed","output":[],"usage":{"input_tokens":4,"output_tokens":2,"total_tokens":6}}"#);
        assert_eq!(s.finish(), u(4, 2));
    }

    #[test]
    fn aggregate_shape_bounds_and_import() {
        let mut s = Stats::default();
        let rec = |i: u64, failed: bool| Record {
            at_ms: 1_700_000_000_000 + i,
            latency_ms: 12,
            api_key: "sk-1".into(),
            model: "m".into(),
            source: "acct".into(),
            auth_index: "0123456789abcdef".into(),
            usage: u(3, 4),
            failed,
            provider: "claude".into(),
            auth_type: "oauth",
            endpoint: "/v1/messages".into(),
        };
        for i in 0..(MAX_DETAILS as u64 + 5) {
            s.add(rec(i, i == 0));
        }
        let n = MAX_DETAILS as i64 + 5;
        assert_eq!(
            (s.total_requests, s.failure_count, s.success_count),
            (n, 1, n - 1)
        );
        assert_eq!(s.total_tokens, 7 * n);
        let m = &s.apis["sk-1"].models["m"];
        assert_eq!(m.details.len(), MAX_DETAILS);
        assert_eq!(m.total_requests, n);
        assert_eq!(s.requests_by_day["2023-11-14"], n);
        assert_eq!(s.requests_by_hour["22"], n);
        let v = serde_json::to_value(&s).unwrap();
        let d = &v["apis"]["sk-1"]["models"]["m"]["details"][0];
        assert_eq!(d["tokens"]["total_tokens"], 7);
        assert_eq!(d["timestamp"], "2023-11-14T22:13:20.005Z");
        // Importing its own export adds nothing; a fresh aggregate takes it all.
        let copy: Stats = serde_json::from_value(v).unwrap();
        assert_eq!(s.clone().merge(copy.clone()), (0, MAX_DETAILS as i64));
        let mut fresh = Stats::default();
        assert_eq!(fresh.merge(copy), (MAX_DETAILS as i64, 0));
    }

    #[test]
    fn queue_count_rules() {
        assert_eq!(parse_queue_count(None), Ok(1));
        assert_eq!(parse_queue_count(Some(" ")), Ok(1));
        assert_eq!(parse_queue_count(Some("7")), Ok(7));
        for bad in ["0", "-3", "x", "1.5"] {
            assert_eq!(
                parse_queue_count(Some(bad)),
                Err("count must be a positive integer"),
                "{bad}"
            );
        }
    }

    #[test]
    fn queue_is_bounded_and_expires() {
        let mut q = Queue::default();
        for i in 0..(QUEUE_MAX as u64 + 3) {
            q.push(1_000 + i, serde_json::json!(i));
        }
        assert_eq!(q.items.len(), QUEUE_MAX);
        assert_eq!(q.items[0].1, serde_json::json!(3));
        // Default retention: 60 s after the newest push, everything is gone.
        let newest = 1_000 + QUEUE_MAX as u64 + 2;
        q.prune(newest + 60_000);
        assert_eq!(q.items.len(), 1, "only the newest is still within 60 s");
        q.prune(newest + 60_001);
        assert!(q.items.is_empty());
    }

    #[test]
    fn key_buckets_roll_over() {
        let mut k = KeyStats::default();
        let t0 = 1_700_000_400; // 22:20 UTC
        k.add(t0, true);
        k.add(t0 + 1, false);
        k.add(t0 + BUCKET_SECS, true);
        let r = k.recent(t0 + BUCKET_SECS);
        assert_eq!(r.len(), RECENT_BUCKETS);
        assert_eq!(r[RECENT_BUCKETS - 1]["time"], "22:30-22:40");
        assert_eq!(r[RECENT_BUCKETS - 1]["success"], 1);
        assert_eq!(r[RECENT_BUCKETS - 2]["time"], "22:20-22:30");
        assert_eq!(
            (
                r[RECENT_BUCKETS - 2]["success"].clone(),
                r[RECENT_BUCKETS - 2]["failed"].clone()
            ),
            (serde_json::json!(1), serde_json::json!(1))
        );
        // 20 buckets later the old ones fell out of the window; totals stay.
        let later = k.recent(t0 + 21 * BUCKET_SECS);
        assert!(later.iter().all(|b| b["success"] == 0 && b["failed"] == 0));
        assert_eq!((k.success, k.failed), (2, 1));
        // A ring slot reused by a newer bucket starts from zero.
        k.add(t0 + 20 * BUCKET_SECS, false);
        let r = k.recent(t0 + 20 * BUCKET_SECS);
        assert_eq!(r[RECENT_BUCKETS - 1]["failed"], 1);
        assert_eq!(r[RECENT_BUCKETS - 1]["success"], 0);
        assert_eq!(bucket_label(0), "00:00-00:10");
        assert_eq!(bucket_label(143), "23:50-00:00");
    }
}
