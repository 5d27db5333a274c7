//! `GET /metrics` (Prometheus text format 0.0.4), counted per worker.
//!
//! Each worker thread owns a [`Lane`]: a table of series, one per
//! (provider, model, credential) label set, each a block of relaxed atomics
//! only that thread writes. The request path looks its series up in a
//! thread-local map and adds to atomics: no lock, no shared cache line with
//! another core. A scrape reads every lane and sums.
//!
//! Cardinality bound: a lane holds at most [`MAX_SERIES`] label sets; later
//! new label sets are counted in one overflow series whose labels are all
//! `_other` (and `cliproxy_metrics_overflow_total` counts them). The lane's
//! mutex is taken only to register a new series (at most [`MAX_SERIES`]
//! times per worker) and by the scrape.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock};

/// Label sets per worker before the overflow series.
pub const MAX_SERIES: usize = 512;

/// Histogram upper bounds, seconds.
pub const BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

/// Status classes: 1xx..5xx, and anything else (incl. 499, client gone,
/// counted under `4xx`).
const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

#[derive(Default)]
struct Hist {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_us: AtomicU64,
}

impl Hist {
    fn observe(&self, us: u64) {
        let secs = us as f64 / 1e6;
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            self.buckets[i].fetch_add(1, Relaxed);
        }
        self.count.fetch_add(1, Relaxed);
        self.sum_us.fetch_add(us, Relaxed);
    }
}

/// One label set's counters.
#[derive(Default)]
struct Series {
    requests: [AtomicU64; 5],
    errors: AtomicU64,
    tokens_in: AtomicU64,
    tokens_out: AtomicU64,
    latency: Hist,
    ttfb: Hist,
}

type Labels = (Arc<str>, String, Arc<str>);

/// One worker's counters.
#[derive(Default)]
struct Lane {
    series: Mutex<Vec<(Labels, Arc<Series>)>>,
    overflow: AtomicU64,
    pool_idle: AtomicU64,
}

fn lanes() -> &'static Mutex<Vec<Arc<Lane>>> {
    static L: OnceLock<Mutex<Vec<Arc<Lane>>>> = OnceLock::new();
    L.get_or_init(|| Mutex::new(Vec::new()))
}

struct Local {
    lane: Arc<Lane>,
    map: HashMap<Labels, Arc<Series>>,
    other: Option<Arc<Series>>,
}

thread_local! {
    static LOCAL: RefCell<Option<Local>> = const { RefCell::new(None) };
}

fn series_for(local: &mut Local, provider: &Arc<str>, model: &str, cred: &Arc<str>) -> Arc<Series> {
    let key: Labels = (provider.clone(), model.to_string(), cred.clone());
    if let Some(s) = local.map.get(&key) {
        return s.clone();
    }
    if local.map.len() >= MAX_SERIES {
        local.lane.overflow.fetch_add(1, Relaxed);
        if let Some(o) = &local.other {
            return o.clone();
        }
        let o = Arc::new(Series::default());
        let other: Arc<str> = Arc::from("_other");
        local
            .lane
            .series
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(((other.clone(), "_other".into(), other), o.clone()));
        local.other = Some(o.clone());
        return o;
    }
    let s = Arc::new(Series::default());
    local
        .lane
        .series
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push((key.clone(), s.clone()));
    local.map.insert(key, s.clone());
    s
}

/// Counts one finished request on this worker.
pub fn record(t: &super::Trace, status: u16, latency_us: u64, pool_idle: usize) {
    LOCAL.with(|l| {
        let mut l = l.borrow_mut();
        let local = l.get_or_insert_with(|| {
            let lane = Arc::new(Lane::default());
            lanes()
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(lane.clone());
            Local {
                lane,
                map: HashMap::new(),
                other: None,
            }
        });
        local.lane.pool_idle.store(pool_idle as u64, Relaxed);
        let s = series_for(local, &t.provider, &t.model, &t.credential);
        let class = match status {
            100..=199 => 0,
            200..=299 => 1,
            300..=399 => 2,
            500..=599 => 4,
            _ => 3,
        };
        s.requests[class].fetch_add(1, Relaxed);
        if status >= 400 {
            s.errors.fetch_add(1, Relaxed);
        }
        s.tokens_in.fetch_add(t.tokens.0, Relaxed);
        s.tokens_out.fetch_add(t.tokens.1, Relaxed);
        s.latency.observe(latency_us);
        s.ttfb.observe(t.ttfb_us.unwrap_or(latency_us));
    });
}

/// Process-wide refresh counters (token refreshes are rare: plain atomics).
pub static REFRESH_OK: AtomicU64 = AtomicU64::new(0);
/// Failed token refreshes.
pub static REFRESH_FAILED: AtomicU64 = AtomicU64::new(0);

fn esc(v: &str) -> String {
    let mut o = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '"' => o.push_str("\\\""),
            '\n' => o.push_str("\\n"),
            c => o.push(c),
        }
    }
    o
}

#[derive(Default)]
struct Sum {
    requests: [u64; 5],
    errors: u64,
    tokens: (u64, u64),
    latency: ([u64; BUCKETS.len()], u64, u64),
    ttfb: ([u64; BUCKETS.len()], u64, u64),
}

fn add_hist(dst: &mut ([u64; BUCKETS.len()], u64, u64), h: &Hist) {
    for (d, b) in dst.0.iter_mut().zip(h.buckets.iter()) {
        *d += b.load(Relaxed);
    }
    dst.1 += h.count.load(Relaxed);
    dst.2 += h.sum_us.load(Relaxed);
}

/// Gauges the scrape reads from elsewhere.
pub struct Gauges {
    /// (credentials cooling, credential-model pairs cooling).
    pub cooling: (usize, usize),
    /// Upstream connections opened / reused (all workers).
    pub upstream_opened: u64,
    pub upstream_reused: u64,
    /// Client connections open.
    pub open_connections: u64,
}

fn write_hist(out: &mut String, name: &str, l: &str, h: &([u64; BUCKETS.len()], u64, u64)) {
    let mut cum = 0;
    for (i, b) in BUCKETS.iter().enumerate() {
        cum += h.0[i];
        let _ = writeln!(out, "{name}_bucket{{{l},le=\"{b}\"}} {cum}");
    }
    let _ = writeln!(out, "{name}_bucket{{{l},le=\"+Inf\"}} {}", h.1);
    let _ = writeln!(out, "{name}_sum{{{l}}} {}", h.2 as f64 / 1e6);
    let _ = writeln!(out, "{name}_count{{{l}}} {}", h.1);
}

/// The Prometheus text exposition of every lane, merged.
pub fn render(g: &Gauges) -> String {
    let lanes: Vec<Arc<Lane>> = lanes().lock().unwrap_or_else(|p| p.into_inner()).clone();
    let mut merged: std::collections::BTreeMap<(String, String, String), Sum> = Default::default();
    let (mut overflow, mut pool_idle) = (0, 0);
    for lane in &lanes {
        overflow += lane.overflow.load(Relaxed);
        pool_idle += lane.pool_idle.load(Relaxed);
        let series = lane
            .series
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for ((p, m, c), s) in series {
            let e = merged.entry((p.to_string(), m, c.to_string())).or_default();
            for (d, r) in e.requests.iter_mut().zip(s.requests.iter()) {
                *d += r.load(Relaxed);
            }
            e.errors += s.errors.load(Relaxed);
            e.tokens.0 += s.tokens_in.load(Relaxed);
            e.tokens.1 += s.tokens_out.load(Relaxed);
            add_hist(&mut e.latency, &s.latency);
            add_hist(&mut e.ttfb, &s.ttfb);
        }
    }
    let mut out = String::with_capacity(4096 + merged.len() * 4096);
    let labels = |(p, m, c): &(String, String, String)| {
        format!(
            "provider=\"{}\",model=\"{}\",credential=\"{}\"",
            esc(p),
            esc(m),
            esc(c)
        )
    };
    out.push_str("# HELP cliproxy_requests_total Requests answered, by status class.\n# TYPE cliproxy_requests_total counter\n");
    for (k, s) in &merged {
        let l = labels(k);
        for (i, class) in CLASSES.iter().enumerate() {
            if s.requests[i] > 0 {
                let _ = writeln!(
                    out,
                    "cliproxy_requests_total{{{l},status_class=\"{class}\"}} {}",
                    s.requests[i]
                );
            }
        }
    }
    out.push_str("# HELP cliproxy_errors_total Requests answered with a status >= 400.\n# TYPE cliproxy_errors_total counter\n");
    for (k, s) in &merged {
        let _ = writeln!(out, "cliproxy_errors_total{{{}}} {}", labels(k), s.errors);
    }
    out.push_str("# HELP cliproxy_tokens_total Tokens the upstream reported.\n# TYPE cliproxy_tokens_total counter\n");
    for (k, s) in &merged {
        let l = labels(k);
        let _ = writeln!(
            out,
            "cliproxy_tokens_total{{{l},direction=\"in\"}} {}",
            s.tokens.0
        );
        let _ = writeln!(
            out,
            "cliproxy_tokens_total{{{l},direction=\"out\"}} {}",
            s.tokens.1
        );
    }
    out.push_str("# HELP cliproxy_request_duration_seconds Time from the request to the end of its answer.\n# TYPE cliproxy_request_duration_seconds histogram\n");
    for (k, s) in &merged {
        write_hist(
            &mut out,
            "cliproxy_request_duration_seconds",
            &labels(k),
            &s.latency,
        );
    }
    out.push_str("# HELP cliproxy_ttfb_seconds Time from the request to the first byte sent to the client.\n# TYPE cliproxy_ttfb_seconds histogram\n");
    for (k, s) in &merged {
        write_hist(&mut out, "cliproxy_ttfb_seconds", &labels(k), &s.ttfb);
    }
    let gauges: [(&str, &str, &str, u64); 9] = [
        (
            "cliproxy_cooldowns_active",
            "gauge",
            "Credentials cooling down now (whole credential).",
            g.cooling.0 as u64,
        ),
        (
            "cliproxy_model_cooldowns_active",
            "gauge",
            "Credential-model pairs cooling down now.",
            g.cooling.1 as u64,
        ),
        (
            "cliproxy_token_refreshes_ok_total",
            "counter",
            "OAuth token refreshes that succeeded.",
            REFRESH_OK.load(Relaxed),
        ),
        (
            "cliproxy_token_refreshes_failed_total",
            "counter",
            "OAuth token refreshes that failed.",
            REFRESH_FAILED.load(Relaxed),
        ),
        (
            "cliproxy_upstream_pool_idle",
            "gauge",
            "Idle upstream connections parked (all workers, as of each worker's last request).",
            pool_idle,
        ),
        (
            "cliproxy_upstream_connections_opened_total",
            "counter",
            "Upstream connections opened.",
            g.upstream_opened,
        ),
        (
            "cliproxy_upstream_connections_reused_total",
            "counter",
            "Upstream requests sent on a reused connection.",
            g.upstream_reused,
        ),
        (
            "cliproxy_client_connections_open",
            "gauge",
            "Client connections open.",
            g.open_connections,
        ),
        (
            "cliproxy_metrics_overflow_total",
            "counter",
            "Requests counted in the _other series (label sets past the per-worker bound).",
            overflow,
        ),
    ];
    for (name, kind, help, v) in gauges {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}"
        );
    }
    let _ = writeln!(
        out,
        "# HELP cliproxy_log_jobs_dropped_total Request-log and access-log jobs dropped (writer queue full).\n# TYPE cliproxy_log_jobs_dropped_total counter\ncliproxy_log_jobs_dropped_total {}",
        super::writer::dropped()
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_merge_and_overflow_is_bounded() {
        // A fresh thread owns a fresh lane.
        std::thread::spawn(|| {
            let mut t = super::super::Trace::new(super::super::METRICS);
            t.provider = Arc::from("pv-test");
            t.credential = Arc::from("cred-a");
            t.model = "m-test".into();
            t.tokens = (3, 5);
            record(&t, 200, 2_000, 4);
            record(&t, 503, 40_000, 4);
            for i in 0..MAX_SERIES + 3 {
                t.model = format!("flood-{i}");
                record(&t, 200, 1, 4);
            }
        })
        .join()
        .unwrap();
        let g = Gauges {
            cooling: (1, 2),
            upstream_opened: 0,
            upstream_reused: 0,
            open_connections: 0,
        };
        let text = render(&g);
        let l = "provider=\"pv-test\",model=\"m-test\",credential=\"cred-a\"";
        for want in [
            format!("cliproxy_requests_total{{{l},status_class=\"2xx\"}} 1"),
            format!("cliproxy_requests_total{{{l},status_class=\"5xx\"}} 1"),
            format!("cliproxy_errors_total{{{l}}} 1"),
            format!("cliproxy_tokens_total{{{l},direction=\"out\"}} 10"),
            format!("cliproxy_request_duration_seconds_count{{{l}}} 2"),
            format!("cliproxy_request_duration_seconds_bucket{{{l},le=\"0.005\"}} 1"),
            format!("cliproxy_request_duration_seconds_bucket{{{l},le=\"0.05\"}} 2"),
            "cliproxy_model_cooldowns_active 2".to_string(),
        ] {
            assert!(text.contains(&want), "missing {want}");
        }
        // MAX_SERIES label sets, then everything lands in `_other`.
        let other = "provider=\"_other\",model=\"_other\",credential=\"_other\"";
        assert!(text.contains(&format!(
            "cliproxy_requests_total{{{other},status_class=\"2xx\"}} 4"
        )));
        let flood = text
            .lines()
            .filter(|l| l.starts_with("cliproxy_errors_total{provider=\"pv-test\",model=\"flood-"))
            .count();
        assert_eq!(flood, MAX_SERIES - 1);
    }
}
