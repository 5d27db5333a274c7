//! 5,000 configured credentials: the whole load path (YAML parse, validation,
//! routing snapshot, scheduler) finishes in under 1 s of CPU and adds under
//! 50 MB of resident memory. Measured in-process, not a timed wall-clock test:
//! CPU time of this thread, RSS from /proc/self/statm.

use std::path::Path;

fn rss_bytes() -> u64 {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = s.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

fn thread_cpu_secs() -> f64 {
    // /proc/thread-self/stat fields 14 and 15: utime and stime in clock ticks.
    let s = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
    let after = &s[s.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    ticks / 100.0
}

#[test]
fn five_thousand_credentials_load_fast_and_small() {
    let mut yaml = String::from("port: 0\napi-keys: [\"k\"]\nopenai-compatibility:\n");
    for p in 0..50 {
        yaml.push_str(&format!("  - name: provider-{p}\n    base-url: \"http://127.0.0.1:{}/v1\"\n    api-key-entries:\n", 20000 + p));
        for k in 0..100 {
            yaml.push_str(&format!(
                "      - api-key: \"sk-{p:02}-{k:03}-0123456789abcdef0123456789abcdef\"\n"
            ));
        }
        yaml.push_str("    models:\n");
        for m in 0..5 {
            yaml.push_str(&format!(
                "      - name: upstream-{m}\n        alias: model-{p}-{m}\n"
            ));
        }
    }
    let rss0 = rss_bytes();
    let cpu0 = thread_cpu_secs();
    let (cfg, warnings) = cliproxy::config::parse_str(&yaml, Path::new(".")).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let snap = cliproxy::state::Snapshot::build(cfg, 1).unwrap();
    let sched = cliproxy::credentials::Scheduler::new(snap.sched_settings(), &snap.specs);
    let _shard = sched.shard();
    let cpu = thread_cpu_secs() - cpu0;
    let grown = rss_bytes().saturating_sub(rss0);
    assert_eq!(snap.specs.len(), 5000);
    assert_eq!(snap.models.len(), 250);
    println!(
        "5,000 credentials: {cpu:.3} s CPU, +{:.1} MiB RSS (input {} KiB)",
        grown as f64 / 1048576.0,
        yaml.len() / 1024
    );
    assert!(cpu < 1.0, "load took {cpu:.3} s of CPU");
    assert!(grown < 50 * 1024 * 1024, "RSS grew by {grown} bytes");
}
