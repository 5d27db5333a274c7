//! Behaviour tests with CLIProxyAPI's expected values.

use std::time::Duration;

use super::*;

const MIN: u64 = 60_000;
const HOUR: u64 = 3_600_000;

fn cred(id: &str, provider: &str, models: &[&str]) -> CredentialSpec {
    CredentialSpec::new(id, provider, models)
}

fn sched(settings: Settings, creds: &[CredentialSpec]) -> (Scheduler, Shard) {
    let s = Scheduler::new(settings, creds);
    let shard = s.shard();
    (s, shard)
}

fn picks(shard: &mut Shard, route: &Route, n: usize, now: u64) -> Vec<String> {
    (0..n)
        .map(|_| {
            let l = shard.pick(route, now).expect("pick");
            shard.credential_id(&l).to_string()
        })
        .collect()
}

fn fail(shard: &mut Shard, route: &Route, id: &str, outcome: &Outcome, now: u64) -> Released {
    // Pick until we get `id` (other credentials are released as successes).
    for _ in 0..64 {
        let l = shard.pick(route, now).expect("pick");
        if shard.credential_id(&l) == id {
            return shard.release(l, outcome, now);
        }
        shard.release(l, &Outcome::success(), now);
    }
    panic!("credential {id} never picked");
}

fn remaining(s: &Scheduler, id: &str, model: &str, now: u64) -> u64 {
    s.cooldown_remaining(id, model, now).expect("served")
}

// ------------------------------------------------------------------ selection

#[test]
fn weighted_mixed_provider_rotation_exact_order() {
    // v6.9 #1: gemini-a, gemini-b (gemini), claude-a (claude), providers [gemini, claude].
    let (_s, mut sh) = sched(
        Settings::default(),
        &[
            cred("gemini-a", "gemini", &["m"]),
            cred("gemini-b", "gemini", &["m"]),
            cred("claude-a", "claude", &["m"]),
        ],
    );
    let route = sh.route("m", &["gemini", "claude"]).expect("route");
    let mut got = Vec::new();
    for _ in 0..4 {
        let l = sh.pick(&route, 10).expect("pick");
        got.push((
            sh.provider_of(&l).to_string(),
            sh.credential_id(&l).to_string(),
        ));
    }
    let providers: Vec<&str> = got.iter().map(|g| g.0.as_str()).collect();
    let ids: Vec<&str> = got.iter().map(|g| g.1.as_str()).collect();
    assert_eq!(providers, ["gemini", "gemini", "claude", "gemini"]);
    assert_eq!(ids, ["gemini-a", "gemini-b", "claude-a", "gemini-a"]);
}

#[test]
fn mixed_rotation_zero_weight_provider_and_all_cooling() {
    // v6.9 #2: a provider without a ready credential in the best tier gets weight 0.
    let (s, mut sh) = sched(
        Settings::default(),
        &[
            cred("gemini-a", "gemini", &["m"]),
            cred("claude-a", "claude", &["m"]),
        ],
    );
    let route = sh.route("m", &["gemini", "claude"]).expect("route");
    let r = fail(&mut sh, &route, "claude-a", &Outcome::failure(429, b""), 10);
    assert_eq!(r.verdict, Verdict::Next);
    assert_eq!(picks(&mut sh, &route, 3, 20), ["gemini-a"; 3]);
    fail(&mut sh, &route, "gemini-a", &Outcome::failure(429, b""), 20);
    let err = sh.pick(&route, 30).expect_err("all cooling");
    assert!(matches!(err, PickError::Cooling { .. }));
    let a = sh.answer(&route, err, 30);
    assert_eq!(a.status, 429);
    // Mixed route: no provider in the answer.
    assert!(!a.body.contains("provider"), "{}", a.body);
    assert!(remaining(&s, "gemini-a", "m", 30) > 0);
}

#[test]
fn round_robin_single_provider_sorted_by_id() {
    let (_s, mut sh) = sched(
        Settings::default(),
        &[
            cred("c", "codex", &["m"]),
            cred("a", "codex", &["m"]),
            cred("b", "codex", &["m"]),
        ],
    );
    let route = sh.route("m", &["codex"]).expect("route");
    assert_eq!(picks(&mut sh, &route, 5, 1), ["a", "b", "c", "a", "b"]);
}

#[test]
fn fill_first_burns_first_credential() {
    let settings = Settings {
        strategy: Strategy::FillFirst,
        ..Settings::default()
    };
    let (_s, mut sh) = sched(
        settings,
        &[cred("b", "codex", &["m"]), cred("a", "codex", &["m"])],
    );
    let route = sh.route("m", &["codex"]).expect("route");
    assert_eq!(picks(&mut sh, &route, 3, 1), ["a", "a", "a"]);
    fail(&mut sh, &route, "a", &Outcome::failure(429, b""), 1);
    assert_eq!(picks(&mut sh, &route, 2, 2), ["b", "b"]);
}

#[test]
fn weighted_round_robin_is_smooth() {
    let settings = Settings {
        strategy: Strategy::WeightedRoundRobin,
        ..Settings::default()
    };
    let mut a = cred("a", "codex", &["m"]);
    a.weight = 5;
    let b = cred("b", "codex", &["m"]);
    let mut c = cred("c", "codex", &["m"]);
    c.weight = 1;
    let mut z = cred("z", "codex", &["m"]);
    z.weight = 0;
    let (_s, mut sh) = sched(settings, &[a, b, c, z]);
    let route = sh.route("m", &["codex"]).expect("route");
    // nginx smooth WRR with weights a=5, b=1, c=1: a a b a c a a (z excluded).
    assert_eq!(
        picks(&mut sh, &route, 7, 1),
        ["a", "a", "b", "a", "c", "a", "a"]
    );
}

#[test]
fn only_best_ready_priority_tier_serves() {
    let mut hi1 = cred("hi1", "claude", &["m"]);
    hi1.priority = 10;
    let mut hi2 = cred("hi2", "claude", &["m"]);
    hi2.priority = 10;
    let lo = cred("lo", "claude", &["m"]);
    let (_s, mut sh) = sched(Settings::default(), &[lo, hi1, hi2]);
    let route = sh.route("m", &["claude"]).expect("route");
    assert_eq!(picks(&mut sh, &route, 4, 1), ["hi1", "hi2", "hi1", "hi2"]);
    fail(&mut sh, &route, "hi1", &Outcome::failure(429, b""), 1);
    assert_eq!(picks(&mut sh, &route, 2, 2), ["hi2", "hi2"]);
    fail(&mut sh, &route, "hi2", &Outcome::failure(500, b""), 2);
    assert_eq!(picks(&mut sh, &route, 2, 3), ["lo", "lo"]);
    // When the high tier recovers it serves again.
    assert_eq!(picks(&mut sh, &route, 1, 3 + HOUR), ["hi1"]);
}

#[test]
fn shards_start_at_different_offsets() {
    let s = Scheduler::new(
        Settings::default(),
        &[cred("a", "codex", &["m"]), cred("b", "codex", &["m"])],
    );
    let mut s0 = s.shard();
    let mut s1 = s.shard();
    let r0 = s0.route("m", &["codex"]).expect("route");
    let r1 = s1.route("m", &["codex"]).expect("route");
    assert_eq!(picks(&mut s0, &r0, 2, 1), ["a", "b"]);
    assert_eq!(picks(&mut s1, &r1, 2, 1), ["b", "a"]);
}

#[test]
fn unknown_model_or_provider_has_no_route() {
    let (_s, mut sh) = sched(Settings::default(), &[cred("a", "codex", &["m"])]);
    assert!(sh.route("nope", &["codex"]).is_none());
    assert!(sh.route("m", &["gemini"]).is_none());
    let a = ErrorAnswer::auth_not_found(&["gemini"], "m");
    assert_eq!(a.status, 503);
}

#[test]
fn no_credential_for_model_is_auth_not_found() {
    let (_s, mut sh) = sched(
        Settings::default(),
        &[cred("a", "codex", &["m"]), cred("b", "claude", &["other"])],
    );
    let route = sh.route("other", &["codex"]);
    // Model and provider are known but codex does not serve "other".
    let route = route.expect("route");
    let err = sh.pick(&route, 1).expect_err("none");
    assert_eq!(err, PickError::NotFound);
    let a = sh.answer(&route, err, 1);
    assert_eq!(a.status, 503);
    assert!(a
        .body
        .contains("auth_not_found: no auth available (providers=codex, model=other)"));
}

// ------------------------------------------------------------------ cooldowns

fn cooldown_after(status: u16, body: &[u8], retry_after: Option<&str>) -> u64 {
    let (s, mut sh) = sched(Settings::default(), &[cred("a", "codex", &["m"])]);
    let route = sh.route("m", &["codex"]).expect("route");
    let l = sh.pick(&route, 1000).expect("pick");
    let o = Outcome {
        retry_after,
        ..Outcome::failure(status, body)
    };
    sh.release(l, &o, 1000);
    remaining(&s, "a", "m", 1000)
}

#[test]
fn cooldown_table() {
    assert_eq!(cooldown_after(401, b"unauthorized", None), 30 * MIN);
    assert_eq!(cooldown_after(402, b"", None), 30 * MIN);
    assert_eq!(cooldown_after(403, b"forbidden", None), 30 * MIN);
    assert_eq!(cooldown_after(404, b"model not found", None), 12 * HOUR);
    assert_eq!(
        cooldown_after(400, b"The requested model is not supported", None),
        12 * HOUR
    );
    assert_eq!(
        cooldown_after(422, b"not available for your plan", None),
        12 * HOUR
    );
    assert_eq!(
        cooldown_after(400, br#"{"error":"invalid_grant"}"#, None),
        30 * MIN
    );
    assert_eq!(cooldown_after(429, b"", Some("90")), 90_000);
    assert_eq!(cooldown_after(429, b"", None), 1000);
    for status in [408, 500, 502, 503, 504] {
        assert_eq!(cooldown_after(status, b"", None), MIN, "status {status}");
    }
    // Other statuses fall in the transient bucket too; transport errors as well.
    assert_eq!(cooldown_after(0, b"", None), MIN);
    // Request faults never cool.
    assert_eq!(cooldown_after(400, b"bad request", None), 0);
    assert_eq!(cooldown_after(422, b"", None), 0);
    assert_eq!(cooldown_after(499, b"", None), 0);
    // Cloudflare challenge: at least 10 s.
    assert_eq!(
        cooldown_after(403, b"<html>cloudflare challenge-platform</html>", None),
        10_000
    );
    // Codex capacity errors are rate limits whatever their status (v6.9 #9).
    assert_eq!(
        cooldown_after(500, b"Selected model is at capacity", None),
        1000
    );
}

#[test]
fn quota_backoff_doubles_without_escalating_inside_open_window() {
    let (s, mut sh) = sched(Settings::default(), &[cred("a", "codex", &["m"])]);
    let route = sh.route("m", &["codex"]).expect("route");
    let mut now = 1000;
    let mut seen = Vec::new();
    for _ in 0..13 {
        let l = sh.pick(&route, now).expect("pick");
        // A second in-flight request fails inside the open window: no escalation.
        let l2 = l;
        sh.release(l, &Outcome::failure(429, b""), now);
        sh.release(l2, &Outcome::failure(429, b""), now + 1);
        let r = remaining(&s, "a", "m", now);
        seen.push(r / 1000);
        now += r;
    }
    assert_eq!(
        seen,
        [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 1800, 1800]
    );
    // Success clears the model's state, including the backoff level.
    let l = sh.pick(&route, now).expect("pick");
    sh.release(l, &Outcome::success(), now);
    let l = sh.pick(&route, now).expect("pick");
    sh.release(l, &Outcome::failure(429, b""), now);
    assert_eq!(remaining(&s, "a", "m", now), 1000);
}

#[test]
fn retry_after_is_clamped_to_ceiling() {
    // Seven days of Retry-After → the 6 h ceiling.
    assert_eq!(cooldown_after(429, b"", Some("604800")), 6 * HOUR);
    // A short hint is honoured exactly.
    assert_eq!(cooldown_after(429, b"", Some("300")), 300_000);
    // Codex resets_in_seconds of ~6.5 days (issue #5758) → ceiling.
    assert_eq!(
        cooldown_after(
            429,
            br#"{"error":{"type":"usage_limit_reached","resets_in_seconds":568157}}"#,
            None
        ),
        6 * HOUR
    );
    // Google RetryInfo.
    assert_eq!(
        cooldown_after(
            429,
            br#"{"error":{"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"42s"}]}}"#,
            None
        ),
        42_000
    );
}

#[test]
fn clamp_applies_to_a_stored_long_window_on_rearm() {
    let settings = Settings {
        quota_cooldown_ceiling: Duration::from_secs(3600),
        ..Settings::default()
    };
    let (s, mut sh) = sched(settings.clone(), &[cred("a", "codex", &["m"])]);
    let route = sh.route("m", &["codex"]).expect("route");
    let l = sh.pick(&route, 1000).expect("pick");
    let long = Outcome {
        retry_after: Some("3000"),
        ..Outcome::failure(429, b"")
    };
    sh.release(l, &long, 1000);
    assert_eq!(remaining(&s, "a", "m", 1000), 3_000_000);
    // Lower the ceiling by reload; a later short 429 re-arms at most to the new ceiling.
    let lower = Settings {
        quota_cooldown_ceiling: Duration::from_secs(600),
        ..settings
    };
    s.reload(lower, &[cred("a", "codex", &["m"])]);
    let short = Outcome {
        retry_after: Some("5"),
        ..Outcome::failure(429, b"")
    };
    sh.release(l, &short, 2000);
    assert_eq!(remaining(&s, "a", "m", 2000), 600_000);
}

#[test]
fn transient_cooldown_setting() {
    let run = |secs: i64| {
        let settings = Settings {
            transient_error_cooldown_seconds: secs,
            ..Settings::default()
        };
        let (s, mut sh) = sched(settings, &[cred("a", "codex", &["m"])]);
        let route = sh.route("m", &["codex"]).expect("route");
        let l = sh.pick(&route, 1).expect("pick");
        sh.release(l, &Outcome::failure(503, b""), 1);
        remaining(&s, "a", "m", 1)
    };
    assert_eq!(run(0), MIN);
    assert_eq!(run(5), 5000);
    assert_eq!(run(-1), 0);
}

#[test]
fn disable_cooling_global_and_per_entry_wins() {
    let global_off = Settings {
        disable_cooling: true,
        ..Settings::default()
    };
    let mut keeps = cred("keeps", "codex", &["m"]);
    keeps.disable_cooling = Some(false);
    let plain = cred("plain", "codex", &["m"]);
    let (s, mut sh) = sched(global_off, &[keeps, plain]);
    let route = sh.route("m", &["codex"]).expect("route");
    fail(&mut sh, &route, "plain", &Outcome::failure(429, b""), 1);
    fail(&mut sh, &route, "keeps", &Outcome::failure(429, b""), 1);
    assert_eq!(remaining(&s, "plain", "m", 1), 0);
    assert_eq!(remaining(&s, "keeps", "m", 1), 1000);

    let mut off = cred("off", "codex", &["m"]);
    off.disable_cooling = Some(true);
    let (s, mut sh) = sched(Settings::default(), &[off]);
    let route = sh.route("m", &["codex"]).expect("route");
    for status in [401, 403, 404, 429, 500] {
        fail(&mut sh, &route, "off", &Outcome::failure(status, b""), 1);
        assert_eq!(remaining(&s, "off", "m", 1), 0, "status {status}");
    }
}

#[test]
fn cooldown_is_per_model() {
    let (s, mut sh) = sched(Settings::default(), &[cred("a", "codex", &["m1", "m2"])]);
    let r1 = sh.route("m1", &["codex"]).expect("route");
    let r2 = sh.route("m2", &["codex"]).expect("route");
    fail(&mut sh, &r1, "a", &Outcome::failure(429, b""), 1);
    assert!(sh.pick(&r1, 2).is_err());
    assert!(sh.pick(&r2, 2).is_ok());
    assert_eq!(remaining(&s, "a", "m2", 2), 0);
}

#[test]
fn credential_scoped_quota_blocks_every_model_and_survives_success() {
    let (s, mut sh) = sched(Settings::default(), &[cred("a", "codex", &["m1", "m2"])]);
    let r1 = sh.route("m1", &["codex"]).expect("route");
    let r2 = sh.route("m2", &["codex"]).expect("route");
    let l = sh.pick(&r1, 1).expect("pick");
    let o = Outcome {
        retry_after: Some("60"),
        credential_scoped: true,
        ..Outcome::failure(429, b"usage limit")
    };
    sh.release(l, &o, 1);
    assert!(matches!(sh.pick(&r2, 2), Err(PickError::Cooling { .. })));
    // A success that was in flight does not lift the credential-wide window.
    let stale = l;
    sh.release(stale, &Outcome::success(), 3);
    assert_eq!(remaining(&s, "a", "m2", 3), 60_000 - 2);
}

#[test]
fn reset_clears_a_credential() {
    let (s, mut sh) = sched(Settings::default(), &[cred("a", "codex", &["m"])]);
    let route = sh.route("m", &["codex"]).expect("route");
    fail(&mut sh, &route, "a", &Outcome::failure(401, b""), 1);
    assert!(sh.pick(&route, 2).is_err());
    assert!(s.reset("a"));
    assert!(sh.pick(&route, 2).is_ok());
    assert!(!s.reset("missing"));
}

// ------------------------------------------------------------------ reload

#[test]
fn reload_keeps_unchanged_and_drops_disabled_state() {
    let specs = [cred("a", "codex", &["m"]), cred("b", "codex", &["m"])];
    let (s, mut sh) = sched(Settings::default(), &specs);
    let route = sh.route("m", &["codex"]).expect("route");
    fail(&mut sh, &route, "a", &Outcome::failure(401, b""), 1);
    fail(&mut sh, &route, "b", &Outcome::failure(401, b""), 1);
    let idx_a = s.index_of("a");

    // Unchanged credential keeps its state; a model added to it starts clean.
    let mut a2 = cred("a", "codex", &["m", "m2"]);
    a2.priority = 3;
    let mut b_disabled = cred("b", "codex", &["m"]);
    b_disabled.disabled = true;
    s.reload(Settings::default(), &[a2.clone(), b_disabled]);
    assert_eq!(remaining(&s, "a", "m", 2), 30 * MIN - 1);
    assert_eq!(remaining(&s, "a", "m2", 2), 0);
    assert!(s.cooldown_remaining("b", "m", 2).is_none());
    assert_eq!(s.index_of("a"), idx_a);

    // v6.9 #5: disabled then re-enabled starts with no cooldown.
    s.reload(
        Settings::default(),
        &[a2.clone(), cred("b", "codex", &["m"])],
    );
    assert_eq!(remaining(&s, "b", "m", 2), 0);
    // Removed then re-added: clean too.
    s.reload(Settings::default(), &[cred("b", "codex", &["m"])]);
    s.reload(Settings::default(), &[a2, cred("b", "codex", &["m"])]);
    assert_eq!(remaining(&s, "a", "m", 2), 0);
    // The shard follows the reloads: b is ready, a is clean.
    let route = sh.route("m", &["codex"]).expect("route");
    let got = picks(&mut sh, &route, 2, 3);
    assert!(got.contains(&"a".to_string()) || got.contains(&"b".to_string()));
}

#[test]
fn release_after_reload_lands_in_new_generation() {
    let specs = [cred("a", "codex", &["m"])];
    let (s, mut sh) = sched(Settings::default(), &specs);
    let route = sh.route("m", &["codex"]).expect("route");
    let l = sh.pick(&route, 1).expect("pick");
    s.reload(
        Settings::default(),
        &[cred("z", "codex", &["x"]), cred("a", "codex", &["q", "m"])],
    );
    sh.release(l, &Outcome::failure(401, b""), 1);
    assert_eq!(remaining(&s, "a", "m", 1), 30 * MIN);
    assert_eq!(remaining(&s, "a", "q", 1), 0);
}

#[test]
fn spec_index_maps_a_lease_to_its_spec_position_for_the_stamped_list_only() {
    let stamped = |stamp| Settings {
        stamp,
        ..Settings::default()
    };
    let mut off = cred("off", "codex", &["m"]);
    off.disabled = true;
    let specs = [off, cred("a", "codex", &["m"]), cred("b", "codex", &["m"])];
    let (s, mut sh) = sched(stamped(7), &specs);
    let route = sh.route("m", &["codex"]).expect("route");
    let mut seen = Vec::new();
    for _ in 0..2 {
        let l = sh.pick(&route, 1).expect("pick");
        let id = sh.credential_id(&l).to_string();
        let at = sh.spec_index(&l, 7).expect("active credential");
        assert_eq!(specs[at].id, id, "lease maps to its own spec");
        assert_eq!(sh.spec_index(&l, 6), None, "another list's stamp");
        seen.push((id, l));
        sh.release(l, &Outcome::success(), 1);
    }
    assert_eq!(seen.len(), 2);
    let (_, lease_a) = seen.iter().find(|(id, _)| id == "a").expect("a picked");

    // A reload moves `a` to another position: until the shard sees the new
    // generation, the new stamp maps nothing (never the old position).
    let reloaded = [
        cred("x", "codex", &["m"]),
        cred("b", "codex", &["m"]),
        cred("a", "codex", &["m"]),
    ];
    s.reload(stamped(8), &reloaded);
    assert_eq!(sh.spec_index(lease_a, 8), None);
    sh.route("m", &["codex"]).expect("route");
    // The old lease names the same credential at its new position.
    assert_eq!(sh.spec_index(lease_a, 8), Some(2));
    assert_eq!(sh.spec_index(lease_a, 7), None);

    // Removed by the next reload: no position.
    s.reload(stamped(9), &[cred("b", "codex", &["m"])]);
    sh.route("m", &["codex"]).expect("route");
    assert_eq!(sh.spec_index(lease_a, 9), None);
}

// ------------------------------------------------------------------ retry plan

fn plan_fixture(settings: Settings, specs: &[CredentialSpec]) -> (Scheduler, Shard, Route) {
    let s = Scheduler::new(settings, specs);
    let mut sh = s.shard();
    let route = sh.route("m", &["codex"]).expect("route");
    (s, sh, route)
}

#[test]
fn request_scoped_404_one_attempt_no_cooldown_upstream_returned() {
    let (s, mut sh, route) = plan_fixture(
        Settings::default(),
        &[cred("a", "codex", &["m"]), cred("b", "codex", &["m"])],
    );
    let mut plan = RetryPlan::new(&sh, route, None);
    let body = br#"{"error":{"message":"Item with id 'rs_abc' not found. Items are not persisted when `store` is set to false. Try again with `store` set to true, or remove this item from your input."}}"#;
    let Next::Try(l) = plan.next(&mut sh, 1) else {
        panic!("expected try")
    };
    plan.report(&mut sh, l, &Outcome::failure(404, body), 1);
    assert_eq!(plan.next(&mut sh, 2), Next::ReturnUpstream);
    assert_eq!(remaining(&s, "a", "m", 2), 0);
    assert_eq!(remaining(&s, "b", "m", 2), 0);
}

#[test]
fn an_unused_lease_moves_on_to_the_next_credential_without_cooldown() {
    // A worker that has not applied a reload yet hands a lease back unused:
    // the request must go on with the next credential, not end as if the
    // client had gone (that answered 500 "no upstream available").
    let (s, mut sh, route) = plan_fixture(
        Settings::default(),
        &[cred("a", "codex", &["m"]), cred("b", "codex", &["m"])],
    );
    let mut plan = RetryPlan::new(&sh, route, None);
    let Next::Try(first) = plan.next(&mut sh, 1) else {
        panic!("expected try")
    };
    plan.report(&mut sh, first, &Outcome::not_attempted(), 1);
    let Next::Try(second) = plan.next(&mut sh, 1) else {
        panic!("expected the next credential")
    };
    assert_ne!(sh.credential_id(&first), sh.credential_id(&second));
    assert_eq!(remaining(&s, sh.credential_id(&first), "m", 1), 0);
    // Only unused leases: the answer is the scheduler's, not an upstream's.
    plan.report(&mut sh, second, &Outcome::not_attempted(), 1);
    assert!(
        matches!(plan.next(&mut sh, 1), Next::GiveUp(_)),
        "no upstream status to return"
    );
}

#[test]
fn request_invalid_stops_without_next_credential() {
    for (status, body) in [
        (
            400u16,
            &br#"{"error":{"type":"invalid_request_error"}}"#[..],
        ),
        (422, b"unprocessable"),
        (500, br#"{"error":{"code":"context_length_exceeded"}}"#),
    ] {
        let (s, mut sh, route) = plan_fixture(
            Settings::default(),
            &[cred("a", "codex", &["m"]), cred("b", "codex", &["m"])],
        );
        let mut plan = RetryPlan::new(&sh, route, None);
        let Next::Try(l) = plan.next(&mut sh, 1) else {
            panic!()
        };
        plan.report(&mut sh, l, &Outcome::failure(status, body), 1);
        assert_eq!(
            plan.next(&mut sh, 1),
            Next::ReturnUpstream,
            "status {status}"
        );
        assert_eq!(remaining(&s, "a", "m", 1), 0);
    }
}

#[test]
fn failover_tries_each_credential_once_then_waits_then_gives_up() {
    let (_s, mut sh, route) = plan_fixture(
        Settings::default(),
        &[cred("a", "codex", &["m"]), cred("b", "codex", &["m"])],
    );
    let mut plan = RetryPlan::new(&sh, route, None);
    let mut now = 1000;
    let mut tried = Vec::new();
    for _ in 0..2 {
        let Next::Try(l) = plan.next(&mut sh, now) else {
            panic!()
        };
        tried.push(sh.credential_id(&l).to_string());
        plan.report(&mut sh, l, &Outcome::failure(429, b""), now);
    }
    tried.sort();
    assert_eq!(tried, ["a", "b"]);
    // Both cooling 1 s: wait 1 s + jitter ≤ min(250 ms, 2 s).
    let Next::Wait(d) = plan.next(&mut sh, now) else {
        panic!()
    };
    assert!(
        d >= Duration::from_secs(1) && d < Duration::from_millis(1250),
        "{d:?}"
    );
    now += d.as_millis() as u64;
    assert_eq!(plan.round(), 1);
    // Round 1: both tried again; now 429 with a long Retry-After.
    for _ in 0..2 {
        let Next::Try(l) = plan.next(&mut sh, now) else {
            panic!()
        };
        let o = Outcome {
            retry_after: Some("120"),
            ..Outcome::failure(429, b"")
        };
        plan.report(&mut sh, l, &o, now);
    }
    // 120 s > max-retry-interval 30 s → give up with the upstream error.
    assert_eq!(plan.next(&mut sh, now), Next::ReturnUpstream);
}

#[test]
fn all_cooling_at_start_answers_model_cooldown_when_wait_too_long() {
    let (_s, mut sh, route) = plan_fixture(Settings::default(), &[cred("a", "codex", &["m"])]);
    let l = sh.pick(&route, 1000).expect("pick");
    let o = Outcome {
        retry_after: Some("90"),
        ..Outcome::failure(429, b"")
    };
    sh.release(l, &o, 1000);
    let mut plan = RetryPlan::new(&sh, route, None);
    let Next::GiveUp(a) = plan.next(&mut sh, 1000) else {
        panic!("expected give up")
    };
    assert_eq!(a.status, 429);
    assert_eq!(a.retry_after, Some(90));
    assert_eq!(
        a.body,
        "{\"error\":{\"code\":\"model_cooldown\",\"message\":\"All credentials for model m are cooling down via provider codex\",\"model\":\"m\",\"provider\":\"codex\",\"reset_seconds\":90,\"reset_time\":\"1m30s\"}}"
    );
}

#[test]
fn all_cooling_short_wait_then_serves() {
    let (_s, mut sh, route) = plan_fixture(Settings::default(), &[cred("a", "codex", &["m"])]);
    let l = sh.pick(&route, 1000).expect("pick");
    sh.release(l, &Outcome::failure(429, b""), 1000);
    let mut plan = RetryPlan::new(&sh, route, None);
    let Next::Wait(d) = plan.next(&mut sh, 1000) else {
        panic!()
    };
    let now = 1000 + d.as_millis() as u64;
    assert!(matches!(plan.next(&mut sh, now), Next::Try(_)));
}

#[test]
fn zero_max_retry_interval_never_waits() {
    let settings = Settings {
        max_retry_interval: Duration::ZERO,
        ..Settings::default()
    };
    let (_s, mut sh, route) = plan_fixture(settings, &[cred("a", "codex", &["m"])]);
    let mut plan = RetryPlan::new(&sh, route, None);
    let Next::Try(l) = plan.next(&mut sh, 1) else {
        panic!()
    };
    plan.report(&mut sh, l, &Outcome::failure(503, b""), 1);
    assert_eq!(plan.next(&mut sh, 1), Next::ReturnUpstream);
}

#[test]
fn non_retry_status_gives_up_after_round_zero() {
    let (_s, mut sh, route) = plan_fixture(
        Settings::default(),
        &[cred("a", "codex", &["m"]), cred("b", "codex", &["m"])],
    );
    let mut plan = RetryPlan::new(&sh, route, None);
    for _ in 0..2 {
        let Next::Try(l) = plan.next(&mut sh, 1) else {
            panic!()
        };
        plan.report(&mut sh, l, &Outcome::failure(401, b"unauthorized"), 1);
    }
    assert_eq!(plan.next(&mut sh, 1), Next::ReturnUpstream);
}

#[test]
fn max_retry_credentials_caps_a_round() {
    let settings = Settings {
        max_retry_credentials: 1,
        request_retry: 0,
        ..Settings::default()
    };
    let (_s, mut sh, route) = plan_fixture(
        settings,
        &[cred("a", "codex", &["m"]), cred("b", "codex", &["m"])],
    );
    let mut plan = RetryPlan::new(&sh, route, None);
    let Next::Try(l) = plan.next(&mut sh, 1) else {
        panic!()
    };
    plan.report(&mut sh, l, &Outcome::failure(500, b""), 1);
    assert_eq!(plan.next(&mut sh, 1), Next::ReturnUpstream);
}

#[test]
fn retry_round_respects_per_credential_request_retry() {
    // a may join round 1 (request_retry 1), b may not (0). After both fail
    // with 500 (1 min cooldown, not waited for), a transient setting of 0 s...
    let settings = Settings {
        transient_error_cooldown_seconds: -1,
        request_retry: 0,
        ..Settings::default()
    };
    let mut a = cred("a", "codex", &["m"]);
    a.request_retry = Some(1);
    let (_s, mut sh, route) = plan_fixture(settings, &[a, cred("b", "codex", &["m"])]);
    let mut plan = RetryPlan::new(&sh, route, None);
    let mut ids = Vec::new();
    loop {
        match plan.next(&mut sh, 1) {
            Next::Try(l) => {
                ids.push(sh.credential_id(&l).to_string());
                plan.report(&mut sh, l, &Outcome::failure(500, b""), 1);
            }
            Next::ReturnUpstream => break,
            other => panic!("{other:?}"),
        }
    }
    // Round 0: a and b; round 1 (immediate, no cooldown): only a.
    assert_eq!(ids.len(), 3);
    assert_eq!(ids[2], "a");
}

#[test]
fn no_failover_after_first_byte() {
    let (s, mut sh, route) = plan_fixture(
        Settings::default(),
        &[cred("a", "codex", &["m"]), cred("b", "codex", &["m"])],
    );
    let mut plan = RetryPlan::new(&sh, route, None);
    let Next::Try(l) = plan.next(&mut sh, 1) else {
        panic!()
    };
    let id = sh.credential_id(&l).to_string();
    let o = Outcome {
        first_byte_sent: true,
        ..Outcome::failure(502, b"")
    };
    plan.report(&mut sh, l, &o, 1);
    assert_eq!(plan.next(&mut sh, 1), Next::Done);
    // The failure still cools the credential.
    assert_eq!(remaining(&s, &id, "m", 1), MIN);
}

#[test]
fn success_finishes_and_clears() {
    let (s, mut sh, route) = plan_fixture(Settings::default(), &[cred("a", "codex", &["m"])]);
    let l = sh.pick(&route, 1).expect("pick");
    sh.release(l, &Outcome::failure(500, b""), 1);
    let mut plan = RetryPlan::new(&sh, route, None);
    let now = 1 + MIN;
    let Next::Try(l) = plan.next(&mut sh, now) else {
        panic!()
    };
    plan.report(&mut sh, l, &Outcome::success(), now);
    assert_eq!(plan.next(&mut sh, now), Next::Done);
    assert_eq!(s.cooldown_remaining("a", "m", 0), Some(0));
}

fn rule(status: u16, m: &str, action: RuleAction) -> Rule {
    Rule {
        status,
        matches: vec![m.to_string()],
        match_regexr: Vec::new(),
        action,
    }
}

#[test]
fn request_scoped_error_rules() {
    let run = |action: RuleAction| {
        let mut a = cred("a", "codex", &["m"]);
        a.request_scoped_errors = vec![rule(400, "quota_hit", action)];
        let mut b = cred("b", "codex", &["m"]);
        b.request_scoped_errors = a.request_scoped_errors.clone();
        let settings = Settings {
            disable_cooling: true,
            ..Settings::default()
        };
        let (s, mut sh, route) = plan_fixture(settings, &[a, b]);
        let mut plan = RetryPlan::new(&sh, route, None);
        let Next::Try(l) = plan.next(&mut sh, 1) else {
            panic!()
        };
        let id = sh.credential_id(&l).to_string();
        plan.report(&mut sh, l, &Outcome::failure(400, b"err: quota_hit"), 1);
        let next = plan.next(&mut sh, 1);
        (next, remaining(&s, &id, "m", 1))
    };
    let (n, r) = run(RuleAction::Stop);
    assert_eq!((n, r), (Next::ReturnUpstream, 0));
    let (n, r) = run(RuleAction::StopAndCooldown);
    assert_eq!(n, Next::ReturnUpstream);
    assert_eq!(r, MIN, "forced cooldown despite disable-cooling");
    let (n, r) = run(RuleAction::Continue);
    assert!(matches!(n, Next::Try(_)));
    assert_eq!(r, 0);
    let (n, r) = run(RuleAction::ContinueAndCooldown);
    assert!(matches!(n, Next::Try(_)));
    assert_eq!(r, MIN);
}

#[test]
fn rule_needs_status_and_a_match() {
    let rules = vec![
        Rule {
            status: 400,
            matches: vec![],
            match_regexr: vec![],
            action: RuleAction::Continue,
        },
        Rule {
            status: 403,
            matches: vec![],
            match_regexr: vec!["region blocked".into()],
            action: RuleAction::Continue,
        },
        Rule {
            status: 403,
            matches: vec![],
            match_regexr: vec!["a.*b".into()],
            action: RuleAction::Stop,
        },
    ];
    assert!(classify(400, b"x", &rules).stop); // falls to request-invalid
    let c = classify(403, b"sorry: region blocked", &rules);
    assert!(!c.stop && c.failure == Failure::Skip);
    // Non-literal regex never matches: normal 403 handling.
    let c = classify(403, b"a then b", &rules);
    assert_eq!(c.failure, Failure::Status(403));
}

// ------------------------------------------------------------------ affinity

#[test]
fn session_affinity_sticks_and_rebinds_on_failure() {
    let settings = Settings {
        session_affinity: true,
        ..Settings::default()
    };
    let specs = [
        cred("a", "codex", &["m"]),
        cred("b", "codex", &["m"]),
        cred("c", "codex", &["m"]),
    ];
    let (_s, mut sh, route) = plan_fixture(settings, &specs);
    let sid = extract_session_id(&[("Session_id", b"s-1")], b"").expect("sid");
    let key = sid.key();
    let first = sh.pick_session(&route, Some(&key), 1000).expect("pick");
    let first_id = sh.credential_id(&first).to_string();
    for _ in 0..5 {
        let l = sh.pick_session(&route, Some(&key), 2000).expect("pick");
        assert_eq!(sh.credential_id(&l), first_id);
        sh.release(l, &Outcome::success(), 2000);
    }
    // Another session rotates normally.
    let other = extract_session_id(&[("X-Session-ID", b"zz")], b"")
        .expect("sid")
        .key();
    let o1 = sh.pick_session(&route, Some(&other), 2000).expect("pick");
    let o2 = sh.pick_session(&route, Some(&other), 2000).expect("pick");
    assert_eq!(o1, o2);
    // The bound credential fails: the plan drops the binding and rebinds.
    let mut plan = RetryPlan::new(&sh, route, Some(key));
    let Next::Try(l) = plan.next(&mut sh, 3000) else {
        panic!()
    };
    assert_eq!(sh.credential_id(&l), first_id);
    plan.report(&mut sh, l, &Outcome::failure(429, b""), 3000);
    let Next::Try(l2) = plan.next(&mut sh, 3000) else {
        panic!()
    };
    assert_ne!(sh.credential_id(&l2), first_id);
    plan.report(&mut sh, l2, &Outcome::success(), 3000);
    let again = sh.pick_session(&route, Some(&key), 3500).expect("pick");
    assert_eq!(again, l2);
    // TTL: after an hour without use the binding is gone (rotation resumes).
    let late = 3500 + HOUR + 1000;
    let mut ids = std::collections::HashSet::new();
    for _ in 0..3 {
        let l = sh.pick(&route, late).expect("pick");
        ids.insert(l.cred);
    }
    assert_eq!(ids.len(), 3);
}

// ------------------------------------------------------------------ persistence

#[test]
fn save_and_load_cooldowns_across_restart() {
    let dir = std::env::temp_dir().join(format!("cliproxy-sched-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("cooldowns.json");
    let specs = [
        cred("a", "codex", &["m"]),
        cred("b", "codex", &["m"]),
        cred("c", "codex", &["m"]),
    ];
    let (s, mut sh, route) = plan_fixture(Settings::default(), &specs);
    let now = s.now_ms();
    fail(&mut sh, &route, "a", &Outcome::failure(401, b""), now);
    // c: a 429 that expires immediately (1 s); saved but dropped on load after it expires.
    let o = Outcome {
        retry_after: Some("604800"),
        ..Outcome::failure(429, b"")
    };
    fail(&mut sh, &route, "b", &o, now);
    let written = s.save_to(&path).expect("save");
    assert_eq!(written, 2);
    assert!(!dir.join(".cooldowns.json.tmp").exists());

    let s2 = Scheduler::new(Settings::default(), &specs);
    let restored = s2.load_from(&path).expect("load");
    assert_eq!(restored, 2);
    let now2 = s2.now_ms();
    let ra = remaining(&s2, "a", "m", now2);
    assert!(ra > 29 * MIN && ra <= 30 * MIN, "{ra}");
    let rb = remaining(&s2, "b", "m", now2);
    assert!(rb > 5 * HOUR && rb <= 6 * HOUR, "{rb}");
    assert_eq!(remaining(&s2, "c", "m", now2), 0);

    // Expired entries are dropped: hand-write a record in the past.
    let past = r#"{"version":1,"saved_at_unix_ms":1,"records":[{"auth_id":"c","model":"m","until_unix_ms":1000,"status":401}]}"#;
    std::fs::write(&path, past).expect("write");
    assert_eq!(s2.load_from(&path).expect("load"), 0);
    // Missing file: nothing restored, no error.
    assert_eq!(s2.load_from(&dir.join("absent.json")).expect("load"), 0);
    // Corrupt file: an error, no panic.
    std::fs::write(&path, b"{not json").expect("write");
    assert!(s2.load_from(&path).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

// ------------------------------------------------------------------ robustness

#[test]
fn classify_never_panics_on_arbitrary_bodies() {
    // Deterministic pseudo-random bodies and statuses.
    let mut x: u64 = 0x1234_5678;
    let rules = vec![rule(400, "x", RuleAction::Stop)];
    for _ in 0..2000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let len = (x % 64) as usize;
        let body: Vec<u8> = (0..len).map(|i| (x >> (i % 56)) as u8).collect();
        let status = (x % 700) as u16;
        let _ = classify(status, &body, &rules);
        let _ = retry_hint(std::str::from_utf8(&body).ok(), &body, 0);
        let _ = extract_session_id(&[("Session-Id", &body)], &body);
        let _ = parse_http_date(&String::from_utf8_lossy(&body));
    }
}

#[test]
fn request_fault_never_both_stops_and_cools() {
    let mut x: u64 = 0xDEAD_BEEF;
    for _ in 0..3000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let status = (x % 700) as u16;
        let bodies: [&[u8]; 4] = [
            b"",
            br#"{"error":{"type":"invalid_request_error"}}"#,
            b"Item with id 'x' not found. Items are not persisted when `store` is set to false.",
            b"model not supported",
        ];
        let c = classify(status, bodies[(x >> 20) as usize % 4], &[]);
        if c.stop {
            assert_eq!(c.failure, Failure::Skip, "status {status}");
        }
    }
}

#[test]
fn mixed_fill_first_and_weighted() {
    let specs = [
        cred("gemini-a", "gemini", &["m"]),
        cred("gemini-b", "gemini", &["m"]),
        cred("claude-a", "claude", &["m"]),
    ];
    let ff = Settings {
        strategy: Strategy::FillFirst,
        ..Settings::default()
    };
    let (_s, mut sh) = sched(ff, &specs);
    let route = sh.route("m", &["claude", "gemini"]).expect("route");
    // Fill-first takes the first provider in list order.
    assert_eq!(picks(&mut sh, &route, 2, 1), ["claude-a", "claude-a"]);
    fail(&mut sh, &route, "claude-a", &Outcome::failure(429, b""), 1);
    assert_eq!(picks(&mut sh, &route, 2, 2), ["gemini-a", "gemini-a"]);

    let wrr = Settings {
        strategy: Strategy::WeightedRoundRobin,
        ..Settings::default()
    };
    let mut specs2 = specs.clone();
    specs2[2].weight = 2;
    let (_s, mut sh) = sched(wrr, &specs2);
    let route = sh.route("m", &["gemini", "claude"]).expect("route");
    let got = picks(&mut sh, &route, 8, 1);
    let claude = got.iter().filter(|g| *g == "claude-a").count();
    // Weights 1, 1, 2 over the union: claude serves half.
    assert_eq!(claude, 4, "{got:?}");
}

#[test]
fn stale_lease_of_removed_credential_is_ignored() {
    let (s, mut sh) = sched(
        Settings::default(),
        &[cred("a", "codex", &["m"]), cred("b", "codex", &["m"])],
    );
    let route = sh.route("m", &["codex"]).expect("route");
    let l = sh.pick(&route, 1).expect("pick");
    let id = sh.credential_id(&l).to_string();
    let other = if id == "a" { "b" } else { "a" };
    s.reload(Settings::default(), &[cred(other, "codex", &["m"])]);
    let r = sh.release(l, &Outcome::failure(401, b""), 1);
    assert_eq!(r.verdict, Verdict::Next);
    assert_eq!(remaining(&s, other, "m", 1), 0);
    let route = sh.route("m", &["codex"]).expect("route");
    assert_eq!(picks(&mut sh, &route, 2, 2), [other, other]);
}

#[test]
fn scheduler_is_send_sync_and_shard_is_send() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Scheduler>();
    send::<Shard>();
}

#[test]
fn fallback_alias_hit_binds_primary_too() {
    let settings = Settings {
        session_affinity: true,
        ..Settings::default()
    };
    let specs = [cred("a", "codex", &["m"]), cred("b", "codex", &["m"])];
    let (_s, mut sh, route) = plan_fixture(settings, &specs);
    // First request only has the conversation id.
    let conv = extract_session_id(&[], br#"{"conversation":"c1"}"#)
        .expect("sid")
        .key();
    let bound = sh.pick_session(&route, Some(&conv), 1000).expect("pick");
    // A later request adds a prompt_cache_key: it finds the binding via its alias.
    let both = extract_session_id(&[], br#"{"prompt_cache_key":"k","conversation":"c1"}"#)
        .expect("sid")
        .key();
    assert_eq!(both.fallback, conv.primary);
    for _ in 0..3 {
        assert_eq!(
            sh.pick_session(&route, Some(&both), 2000).expect("pick"),
            bound
        );
    }
    // Now the prompt_cache_key alone is bound as well.
    let pck_only = SessionKey {
        primary: both.primary,
        fallback: 0,
    };
    for _ in 0..3 {
        assert_eq!(
            sh.pick_session(&route, Some(&pck_only), 3000)
                .expect("pick"),
            bound
        );
    }
}

/// CLIProxyAPI's Codex websocket preference: a WebSocket client's request
/// takes a ready credential with `websockets` first even from a lower
/// priority tier, then falls back to the others; other requests keep the
/// tier order.
#[test]
fn websocket_requests_prefer_websockets_credentials_across_tiers() {
    let order = |prefer: bool| {
        let mut high = cred("high", "codex", &["m"]);
        high.priority = 10;
        let mut ws = cred("ws", "codex", &["m"]);
        ws.websockets = true;
        let (_s, mut sh, route) = plan_fixture(Settings::default(), &[high, ws]);
        let mut plan = RetryPlan::new(&sh, route, None);
        plan.prefer_websockets(prefer);
        let mut got = Vec::new();
        while let Next::Try(l) = plan.next(&mut sh, 1) {
            got.push(sh.credential_id(&l).to_string());
            plan.report(&mut sh, l, &Outcome::failure(500, b""), 1);
            if got.len() == 2 {
                break;
            }
        }
        got
    };
    assert_eq!(order(true), ["ws", "high"]);
    assert_eq!(order(false), ["high", "ws"]);
}
