//! pick + release on a 100-credential pool, against a naive baseline
//! (`Mutex<Vec>` + `HashMap` lookups, the shape of a global-lock scheduler).
//! Throughput is in picks (elements), not bytes.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Mutex;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use cliproxy::credentials::{CredentialSpec, Outcome, Scheduler, Settings};

const POOL: usize = 100;

fn specs() -> Vec<CredentialSpec> {
    (0..POOL)
        .map(|i| CredentialSpec::new(&format!("cred-{i:03}"), "codex", &["gpt-5", "gpt-5-mini"]))
        .collect()
}

/// Naive scheduler: one lock, string-keyed maps, per-credential cooldown map.
struct Naive {
    inner: Mutex<NaiveState>,
}

struct NaiveCred {
    id: String,
    cooling_until: HashMap<String, u64>,
}

struct NaiveState {
    creds: Vec<NaiveCred>,
    by_id: HashMap<String, usize>,
    cursors: HashMap<String, usize>,
}

impl Naive {
    fn new() -> Naive {
        let creds: Vec<NaiveCred> = specs()
            .into_iter()
            .map(|s| NaiveCred {
                id: s.id,
                cooling_until: HashMap::new(),
            })
            .collect();
        let by_id = creds
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.clone(), i))
            .collect();
        Naive {
            inner: Mutex::new(NaiveState {
                creds,
                by_id,
                cursors: HashMap::new(),
            }),
        }
    }

    fn pick(&self, key: &str, model: &str, now: u64) -> Option<String> {
        let mut st = self.inner.lock().ok()?;
        let n = st.creds.len();
        let start = *st.cursors.get(key).unwrap_or(&0);
        for off in 0..n {
            let i = (start + off) % n;
            let ready = st.creds[i]
                .cooling_until
                .get(model)
                .is_none_or(|&u| u <= now);
            if ready {
                let id = st.creds[i].id.clone();
                match st.cursors.get_mut(key) {
                    Some(c) => *c = i + 1,
                    None => {
                        st.cursors.insert(key.to_string(), i + 1);
                    }
                }
                return Some(id);
            }
        }
        None
    }

    fn release(&self, id: &str, model: &str) {
        if let Ok(mut st) = self.inner.lock() {
            if let Some(&i) = st.by_id.get(id) {
                st.creds[i].cooling_until.remove(model);
            }
        }
    }
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("pick_release_100_credentials");
    g.throughput(Throughput::Elements(1));

    let s = Scheduler::new(Settings::default(), &specs());
    let mut shard = s.shard();
    let route = shard.route("gpt-5", &["codex"]).expect("route");
    let now = shard.now_ms();
    g.bench_function("shard", |b| {
        b.iter(|| {
            let lease = shard.pick(black_box(&route), now).expect("pick");
            shard.release(lease, &Outcome::success(), now);
            black_box(lease)
        })
    });

    let naive = Naive::new();
    g.bench_function("naive_mutex_hashmap", |b| {
        b.iter(|| {
            let id = naive
                .pick(black_box("codex:gpt-5"), "gpt-5", now)
                .expect("pick");
            naive.release(&id, "gpt-5");
            black_box(id)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
