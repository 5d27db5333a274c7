//! Inputs of the scheduler: credential specs, routing and retry settings.
//!
//! These are plain owned values built by the config layer (`config/`) from
//! `config.yaml` and the auth directory; the scheduler never reads files other
//! than its cooldown persistence file.

use std::time::Duration;

/// Quota cooldowns derived from provider hints (Retry-After, Google RetryInfo,
/// Codex `resets_at`) are clamped to this ceiling by default. Providers report
/// weekly windows (7 days, even 18 days were seen in CLIProxyAPI issues #5758 and
/// #5770) and quota is often restored earlier (window roll-over, plan upgrade,
/// operator reset); six hours bounds the damage of a stale hint while still
/// being far above the 30 min exponential backoff cap.
pub const DEFAULT_QUOTA_COOLDOWN_CEILING: Duration = Duration::from_secs(6 * 3600);

/// Session-affinity bindings live this long without use (CLIProxyAPI default `1h`).
pub const DEFAULT_SESSION_AFFINITY_TTL: Duration = Duration::from_secs(3600);

/// Default number of slots of the shared session-affinity table (see
/// [`Settings::session_affinity_capacity`]). 65,536 slots cost 512 KiB and hold
/// that many concurrent sessions before the least recently used are evicted.
pub const DEFAULT_SESSION_AFFINITY_CAPACITY: usize = 1 << 16;

/// Routing strategy (`routing.strategy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Strategy {
    /// Per `provider:model` cursor over the best ready priority tier.
    #[default]
    RoundRobin,
    /// Always the first ready credential (by id) of the best tier.
    FillFirst,
    /// Smooth (nginx-style) weighted round-robin over positive weights.
    WeightedRoundRobin,
}

impl Strategy {
    /// Parses the config value and its aliases (`roundrobin`, `rr`, `fillfirst`,
    /// `ff`, `wrr`); case-insensitive, surrounding blanks ignored. Unknown → `None`.
    pub fn parse(raw: &str) -> Option<Strategy> {
        let lowered = raw.trim().to_ascii_lowercase();
        match lowered.as_str() {
            "" | "round-robin" | "roundrobin" | "rr" => Some(Strategy::RoundRobin),
            "fill-first" | "fillfirst" | "ff" => Some(Strategy::FillFirst),
            "weighted-round-robin" | "weightedroundrobin" | "wrr" => {
                Some(Strategy::WeightedRoundRobin)
            }
            _ => None,
        }
    }
}

/// Action of a `request-scoped-errors` rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleAction {
    /// Return the upstream error, no cooldown.
    Stop,
    /// Return the upstream error and force a cooldown (even with cooling disabled).
    StopAndCooldown,
    /// Try the next credential, no cooldown.
    Continue,
    /// Try the next credential and force a cooldown.
    ContinueAndCooldown,
}

impl RuleAction {
    /// Parses `stop`, `stop-and-cooldown`, `continue`, `continue-and-cooldown`.
    pub fn parse(raw: &str) -> Option<RuleAction> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "stop" => Some(RuleAction::Stop),
            "stop-and-cooldown" => Some(RuleAction::StopAndCooldown),
            "continue" => Some(RuleAction::Continue),
            "continue-and-cooldown" => Some(RuleAction::ContinueAndCooldown),
            _ => None,
        }
    }

    pub(crate) fn stops(self) -> bool {
        matches!(self, RuleAction::Stop | RuleAction::StopAndCooldown)
    }

    pub(crate) fn forces_cooldown(self) -> bool {
        matches!(
            self,
            RuleAction::StopAndCooldown | RuleAction::ContinueAndCooldown
        )
    }
}

/// One `request-scoped-errors` rule: when the upstream status equals `status`
/// and the error body contains one of `matches` (case-sensitive substring) or
/// matches one of `match_regexr`, apply `action`. A rule with neither list is
/// ignored, like upstream.
///
/// `match_regexr` support is partial: a pattern without regex metacharacters is
/// matched as a substring; any other pattern never matches (no regex engine is
/// linked).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub status: u16,
    pub matches: Vec<String>,
    pub match_regexr: Vec<String>,
    pub action: RuleAction,
}

/// One credential as the scheduler sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialSpec {
    /// Stable identity across reloads (auth file name or derived config key).
    pub id: String,
    /// Provider key (`gemini`, `claude`, `codex`, `openai-compatible-x`, ...).
    pub provider: String,
    /// Higher is preferred; lower tiers serve only when no higher tier is ready.
    pub priority: i32,
    /// Weight for weighted round-robin; 0 excludes the credential under WRR.
    pub weight: u32,
    /// Models (canonical names, after aliasing/exclusions) this credential serves.
    pub models: Vec<String>,
    /// Per-credential `disable-cooling`; `Some` wins over the global setting.
    pub disable_cooling: Option<bool>,
    /// Per-credential `request-retry`; `None` or negative inherits the global value.
    pub request_retry: Option<i32>,
    /// `request-scoped-errors` rules for this credential (already resolved from
    /// its API-key entry, openai-compat provider or OAuth channel).
    pub request_scoped_errors: Vec<Rule>,
    /// Disabled credentials are never selected and keep no state.
    pub disabled: bool,
    /// A Codex credential with `websockets: true`: requests from WebSocket
    /// clients prefer it over every other, across priority tiers
    /// (CLIProxyAPI's Codex websocket preference).
    pub websockets: bool,
}

impl CredentialSpec {
    /// A plain active credential with priority 0 and weight 1.
    pub fn new(id: &str, provider: &str, models: &[&str]) -> CredentialSpec {
        CredentialSpec {
            id: id.to_string(),
            provider: provider.to_string(),
            priority: 0,
            weight: 1,
            models: models.iter().map(|m| m.to_string()).collect(),
            disable_cooling: None,
            request_retry: None,
            request_scoped_errors: Vec::new(),
            disabled: false,
            websockets: false,
        }
    }
}

/// Scheduler-wide settings (`routing.*`, retry and cooling keys).
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub strategy: Strategy,
    /// `routing.session-affinity`.
    pub session_affinity: bool,
    /// `routing.session-affinity-ttl`; clamped to 90 days (table packing limit).
    pub session_affinity_ttl: Duration,
    /// Slots of the shared affinity table, rounded up to a power of two; fixed at
    /// `Scheduler::new` (a reload does not resize it).
    pub session_affinity_capacity: usize,
    /// `request-retry`: extra rounds after the first (negative treated as 0).
    pub request_retry: i32,
    /// `max-retry-credentials`: distinct credentials per round, 0 = all.
    pub max_retry_credentials: u32,
    /// `max-retry-interval`: longest cooldown wait before a new round; zero = never wait.
    pub max_retry_interval: Duration,
    /// `disable-cooling` (global; a credential's own value wins).
    pub disable_cooling: bool,
    /// `transient-error-cooldown-seconds`: 0 = legacy 60 s, negative = no cooldown.
    pub transient_error_cooldown_seconds: i64,
    /// Ceiling applied to quota (429) deadlines, see [`DEFAULT_QUOTA_COOLDOWN_CEILING`].
    pub quota_cooldown_ceiling: Duration,
    /// Floor applied to a provider retry hint on 429. CLIProxyAPI at the
    /// reference commit has none (0); later v7.2 releases use 10 s.
    pub retry_hint_floor: Duration,
    /// The caller's generation of the credential list this generation is
    /// built from (the snapshot generation). Lets the caller map a lease to
    /// its own arrays by position ([`super::Shard::spec_index`]).
    pub stamp: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            strategy: Strategy::RoundRobin,
            session_affinity: false,
            session_affinity_ttl: DEFAULT_SESSION_AFFINITY_TTL,
            session_affinity_capacity: DEFAULT_SESSION_AFFINITY_CAPACITY,
            request_retry: 3,
            max_retry_credentials: 0,
            max_retry_interval: Duration::from_secs(30),
            disable_cooling: false,
            transient_error_cooldown_seconds: 0,
            quota_cooldown_ceiling: DEFAULT_QUOTA_COOLDOWN_CEILING,
            retry_hint_floor: Duration::ZERO,
            stamp: 0,
        }
    }
}
