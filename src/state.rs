//! The immutable snapshot every request reads: validated config, resolved
//! upstream endpoints and the model routing table. Built on the control
//! thread (it resolves DNS), swapped into each worker by message.

use crate::config::Config;
use crate::credentials::{CredentialSpec, Rule, RuleAction, Settings, Strategy};
use crate::secret::Secret;
use crate::upstream::Endpoint;
use std::collections::HashMap;

pub use crate::providers::Kind;

/// One upstream entry, ready to use.
#[derive(Debug, Clone)]
pub struct Provider {
    /// What it is.
    pub kind: Kind,
    /// `name` (openai-compatibility) or the provider key (`claude`, ...).
    pub name: String,
    /// Parsed base URL with resolved addresses.
    pub endpoint: Endpoint,
    /// True when `base-url` was left at the provider's default.
    pub default_host: bool,
    /// Credentials to rotate over.
    pub keys: Vec<Secret>,
    /// Upstream proxy per key (index as `keys`; one entry for a keyless
    /// provider), resolved on the control thread. `None` = direct.
    pub proxies: Vec<Option<std::sync::Arc<crate::upstream::Proxy>>>,
    /// Extra headers sent upstream, pre-validated.
    pub headers: Vec<(String, String)>,
    /// Speak only HTTP/1.1 to this upstream (`force-http1`, entry or global).
    pub force_http1: bool,
    /// A Codex entry or account that may talk to the upstream over the
    /// Responses WebSocket (`websockets: true`), used for requests that
    /// came from a WebSocket client (`upstream::ws`).
    pub websockets: bool,
    /// Scheduler provider key: the kind's id (`claude`, `gemini`, ...) or
    /// `openai-compatible-<lower-case name>`.
    pub sched_provider: String,
    /// The entry's `request-scoped-errors` rules (also in its credentials'
    /// specs); consulted when a model pool moves to its next model.
    pub rules: Vec<Rule>,
    /// The OAuth account this provider serves (an auth-dir file): its token
    /// replaces `keys`, its kind picks the request shape
    /// (`accounts::wire`). `None` for config entries.
    pub account: Option<std::sync::Arc<crate::accounts::Account>>,
    /// One project of a Gemini CLI file listing several: this provider is
    /// the virtual credential of that project (CLIProxyAPI's per-project
    /// auths), sharing the account's token. `None`: the account's own.
    pub project: Option<String>,
    /// Hosts tried in order after `endpoint` fails (connection error, or an
    /// answer `accounts::wire::antigravity::falls_back` names); resolved
    /// like `endpoint`. Empty for everything but Antigravity accounts.
    pub fallback: Vec<Endpoint>,
}

/// A credential's place in the snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CredRef {
    /// Index into [`Snapshot::providers`].
    pub provider: usize,
    /// Index into the provider's `keys`; `None` for a keyless entry (served
    /// unauthenticated as one credential).
    pub key: Option<usize>,
}

/// Where a client-visible model name can be served.
#[derive(Debug, Clone)]
pub struct Target {
    /// Index into [`Snapshot::providers`].
    pub provider: usize,
    /// Model name sent upstream.
    pub upstream_model: String,
    /// Index into [`Snapshot::pools`]: every target of one route id and one
    /// provider shares it (a model pool when there are several).
    pub pool: usize,
}

/// Rotation state of one model pool: the targets of one route id served by
/// one provider entry (an alias repeated over several upstream `name`s).
///
/// Like CLIProxyAPI (`nextModelPoolOffset`, keyed by credential, provider and
/// model), each credential of the entry has its own counter: the n-th request
/// a credential serves for the id starts at pool member `n % len`, then fails
/// over to the following members in order. Counters are atomics shared by
/// every worker: picking is lock-free and allocates nothing.
#[derive(Debug)]
pub struct Pool {
    counters: Box<[std::sync::atomic::AtomicU32]>,
}

impl Pool {
    fn new(credentials: usize) -> Pool {
        Pool {
            counters: (0..credentials.max(1))
                .map(|_| std::sync::atomic::AtomicU32::new(0))
                .collect(),
        }
    }

    /// The member to start at for the next request on credential `key`
    /// (key index; `None` for a keyless entry) of a pool of `len`.
    pub fn start(&self, key: Option<usize>, len: usize) -> usize {
        if len <= 1 {
            return 0;
        }
        let c = key
            .and_then(|k| self.counters.get(k))
            .or_else(|| self.counters.first())
            .map(|c| c.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
            .unwrap_or(0);
        c as usize % len
    }
}

/// A listed model.
#[derive(Debug, Clone)]
pub struct ModelInfo {
    /// Client-visible id.
    pub id: String,
    /// `owned_by` (the provider's name).
    pub owned_by: String,
    /// Unix time the registry was built.
    pub created: u64,
}

/// Everything a request needs, immutable once built.
#[derive(Debug)]
pub struct Snapshot {
    /// Increases by one with every successful (re)load.
    pub generation: u64,
    /// The model registry (ids, aliases, provider defaults, listings).
    pub registry: crate::models::Registry,
    /// Compiled `payload` rules.
    pub payload: crate::payload::PayloadRules,
    /// The validated config.
    pub config: Config,
    /// Upstreams.
    pub providers: Vec<Provider>,
    /// Client model id → targets, in config order.
    pub routes: crate::credentials::FnvMap<String, Vec<Target>>,
    /// Model pool rotation state ([`Target::pool`]).
    pub pools: Vec<Pool>,
    /// Models in listing order.
    pub models: Vec<ModelInfo>,
    /// Scheduler provider keys serving each client model id, in config order.
    pub route_providers: crate::credentials::FnvMap<String, Vec<String>>,
    /// Credential id -> (provider index, key index; `None` for a keyless
    /// entry, served unauthenticated as one credential). Only for a lease
    /// whose scheduler generation is not this snapshot's (a reload in
    /// flight); otherwise [`Snapshot::creds`] is indexed directly.
    pub credentials: HashMap<String, (usize, Option<usize>)>,
    /// Credentials as the scheduler sees them.
    pub specs: Vec<CredentialSpec>,
    /// Where each of [`Snapshot::specs`] lives (same index): the scheduler
    /// is built from `specs` in this order, so a lease maps to its provider
    /// and key by array index (`Shard::spec_index`).
    pub creds: Vec<CredRef>,
    /// The HTTPS listener's certificate and settings (`tls.enable`).
    pub server_tls: Option<std::sync::Arc<rustls::ServerConfig>>,
    /// `auth-dir`'s fingerprint when this snapshot read it
    /// ([`crate::accounts::store::stamp`]).
    pub auth_stamp: u64,
    /// The Amp upstream (`ampcode.upstream-url`), resolved; `None`: off.
    pub amp_upstream: Option<Endpoint>,
    /// The proxy the Amp upstream is reached through (global `proxy-url`).
    pub amp_proxy: Option<std::sync::Arc<crate::upstream::Proxy>>,
    /// The Amp key after the configured ones: `AMP_API_KEY`, else Amp's
    /// own secrets file (read here, off the workers, at every load).
    pub amp_default_key: Secret,
}

/// A provider entry of any kind, normalised to one shape.
struct Entry<'c> {
    kind: Kind,
    path: String,
    name: String,
    base_url: &'c str,
    keys: Vec<(&'c Secret, u32, &'c crate::config::ProxySetting)>,
    /// The entry-level proxy (gemini/claude/... entries carry one).
    entry_proxy: Option<&'c crate::config::ProxySetting>,
    headers: &'c [(String, String)],
    priority: i32,
    disable_cooling: Option<bool>,
    force_http1: Option<bool>,
    websockets: bool,
    request_retry: Option<u32>,
    rules: &'c [crate::config::ScopedErrorRule],
}

/// Every provider entry of the config: `openai-compatibility` first, then
/// the keyed kinds in table order.
fn entries(config: &Config) -> Vec<Entry<'_>> {
    let mut entries: Vec<Entry<'_>> = Vec::new();
    for (i, c) in config.openai_compatibility.iter().enumerate() {
        entries.push(Entry {
            kind: Kind::OpenAiCompat,
            path: format!("openai-compatibility[{i}]"),
            name: c.name.clone(),
            base_url: &c.base_url,
            keys: c
                .api_key_entries
                .iter()
                .map(|e| (&e.api_key, e.weight, &e.proxy))
                .collect(),
            entry_proxy: None,
            headers: &c.headers,
            priority: c.priority,
            disable_cooling: c.disable_cooling,
            force_http1: c.force_http1,
            websockets: false,
            request_retry: c.request_retry,
            rules: &c.request_scoped_errors,
        });
    }
    for kind in Kind::ALL {
        for (i, k) in config.keyed(kind).iter().enumerate() {
            entries.push(Entry {
                kind,
                path: format!("{}[{i}]", kind.config_key()),
                name: kind.as_str().to_string(),
                base_url: &k.base_url,
                keys: if k.api_key.expose().is_empty() {
                    vec![]
                } else {
                    vec![(&k.api_key, k.weight, &k.proxy)]
                },
                entry_proxy: Some(&k.proxy),
                headers: &k.headers,
                priority: k.priority,
                disable_cooling: k.disable_cooling,
                force_http1: k.force_http1,
                websockets: kind == Kind::Codex && k.websockets,
                request_retry: k.request_retry,
                rules: &k.request_scoped_errors,
            });
        }
    }
    entries
}

/// The scheduler's provider key: the kind's id, or
/// `openai-compatible-<lower-case name>` for an OpenAI-compatible entry.
fn sched_provider(c: &Entry<'_>) -> String {
    match c.kind {
        Kind::OpenAiCompat => format!("openai-compatible-{}", c.name.trim().to_ascii_lowercase()),
        _ => c.name.clone(),
    }
}

/// Rejects header names and values that would break the request head.
fn check_headers(c: &Entry<'_>) -> Result<(), String> {
    for (n, v) in c.headers {
        if n.is_empty()
            || n.bytes().any(|b| b <= b' ' || b == b':')
            || v.bytes().any(|b| b == b'\r' || b == b'\n')
        {
            return Err(format!("{}.headers: invalid header {n:?}", c.path));
        }
    }
    Ok(())
}

/// The upstream proxy per key (one for a keyless entry). A per-credential
/// `proxy-url` wins over the global one; `direct`/`none` bypass both
/// (reference §3.2).
fn proxies(config: &Config, c: &Entry<'_>) -> Vec<Option<std::sync::Arc<crate::upstream::Proxy>>> {
    let pick = |p: Option<&crate::config::ProxySetting>| match p {
        Some(crate::config::ProxySetting::Direct) => None,
        Some(crate::config::ProxySetting::Proxy(u)) => Some(u.clone()),
        _ => config.proxy_url.clone(),
    };
    let list: Vec<Option<crate::config::ProxyUrl>> = if c.keys.is_empty() {
        vec![pick(c.entry_proxy)]
    } else {
        c.keys.iter().map(|(_, _, p)| pick(Some(p))).collect()
    };
    list.into_iter()
        .map(|u| u.map(|u| std::sync::Arc::new(crate::upstream::Proxy::resolve(u))))
        .collect()
}

/// The entry's `request-scoped-errors` rules in the scheduler's terms.
fn scoped_rules(c: &Entry<'_>) -> Vec<Rule> {
    c.rules
        .iter()
        .map(|r| Rule {
            status: r.status,
            matches: r.matches.clone(),
            match_regexr: r.match_regexr.clone(),
            action: match r.action {
                crate::config::ScopedErrorAction::Stop => RuleAction::Stop,
                crate::config::ScopedErrorAction::StopAndCooldown => RuleAction::StopAndCooldown,
                crate::config::ScopedErrorAction::Continue => RuleAction::Continue,
                crate::config::ScopedErrorAction::ContinueAndCooldown => {
                    RuleAction::ContinueAndCooldown
                }
            },
        })
        .collect()
}

/// Seconds since the Unix epoch (0 if the clock is before it).
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Snapshot {
    /// Builds a snapshot; resolves upstream host names (blocking).
    pub fn build(config: Config, generation: u64) -> Result<Snapshot, String> {
        let created = unix_now();
        let mut providers = Vec::new();
        let mut routes = crate::credentials::FnvMap::<String, Vec<Target>>::default();
        let mut models = Vec::new();
        let mut route_providers = crate::credentials::FnvMap::<String, Vec<String>>::default();
        let mut credentials = HashMap::new();
        let mut specs = Vec::new();
        let entries = entries(&config);
        // (kind, index in its config list) -> provider index.
        let mut by_entry: HashMap<(Kind, usize), usize> = HashMap::new();
        let mut per_kind: HashMap<Kind, usize> = HashMap::new();
        let mut creds: Vec<CredRef> = Vec::new();
        for c in &entries {
            let n = per_kind.entry(c.kind).or_insert(0);
            by_entry.insert((c.kind, *n), providers.len());
            *n += 1;
            let (base, default_host) = if c.base_url.is_empty() {
                (c.kind.default_base(), true)
            } else {
                (c.base_url, false)
            };
            let mut endpoint =
                Endpoint::parse(base).map_err(|e| format!("{}.base-url: {e}", c.path))?;
            endpoint.resolve();
            check_headers(c)?;
            let idx = providers.len();
            let sched_provider = sched_provider(c);
            providers.push(Provider {
                kind: c.kind,
                name: c.name.clone(),
                endpoint,
                default_host,
                keys: c.keys.iter().map(|(k, _, _)| (*k).clone()).collect(),
                // Per-credential proxy-url wins over the global one;
                // `direct`/`none` bypass both (reference §3.2).
                proxies: proxies(&config, c),
                headers: c.headers.to_vec(),
                force_http1: c.force_http1.unwrap_or(config.force_http1),
                websockets: c.websockets,
                sched_provider: sched_provider.clone(),
                rules: Vec::new(),
                account: None,
                project: None,
                fallback: Vec::new(),
            });
            let rules = scoped_rules(c);
            providers[idx].rules = rules.clone();
            // An entry without keys still serves, unauthenticated, as one credential.
            let keyless: [(Option<&Secret>, u32); 1] = [(None, 1)];
            let entry_creds: Vec<(Option<&Secret>, u32)> = if c.keys.is_empty() {
                keyless.to_vec()
            } else {
                c.keys.iter().map(|(k, w, _)| (Some(*k), *w)).collect()
            };
            for (k, (key, weight)) in entry_creds.into_iter().enumerate() {
                let id = credential_id(
                    c.kind.config_key(),
                    &c.name,
                    base,
                    key.map(|k| k.expose()).unwrap_or(""),
                    idx * 1_000_000 + k,
                );
                let key = key.is_some().then_some(k);
                credentials.insert(id.clone(), (idx, key));
                creds.push(CredRef { provider: idx, key });
                specs.push(CredentialSpec {
                    id,
                    provider: sched_provider.clone(),
                    priority: c.priority,
                    weight,
                    // Filled from the registry below.
                    models: Vec::new(),
                    disable_cooling: c.disable_cooling,
                    request_retry: c.request_retry.map(|r| r as i32),
                    request_scoped_errors: rules.clone(),
                    disabled: false,
                    websockets: providers[idx].websockets,
                });
            }
        }
        // Model ids, aliases, prefixes, exclusions and provider defaults come
        // from the registry; targets point at the providers built above.
        let mut registry = crate::models::Registry::build(&config);
        // Taken before the scan: an edit during the scan is a change the
        // control thread still sees.
        let auth_stamp = crate::accounts::store::stamp(&config.auth_dir);
        let scan = crate::accounts::store::scan(&config.auth_dir);
        add_accounts(
            &config,
            &scan,
            &mut Added {
                providers: &mut providers,
                registry: &mut registry,
                by_entry: &mut by_entry,
                credentials: &mut credentials,
                creds: &mut creds,
                specs: &mut specs,
            },
        )?;
        let mut served: Vec<Vec<String>> = vec![Vec::new(); providers.len()];
        let mut pools: Vec<Pool> = Vec::new();
        for id in registry.ids() {
            let Some(ts) = registry.targets(id) else {
                continue;
            };
            for t in ts {
                let kind = t.kind;
                let Some(&pi) = by_entry.get(&(kind, t.entry)) else {
                    continue;
                };
                let route = routes.entry(id.to_string()).or_default();
                let pool = match route.iter().find(|r| r.provider == pi) {
                    Some(r) => r.pool,
                    None => {
                        pools.push(Pool::new(providers[pi].keys.len()));
                        pools.len() - 1
                    }
                };
                route.push(Target {
                    provider: pi,
                    upstream_model: t.upstream.clone(),
                    pool,
                });
                let provs = route_providers.entry(id.to_string()).or_default();
                if !provs.contains(&providers[pi].sched_provider) {
                    provs.push(providers[pi].sched_provider.clone());
                }
                if !served[pi].iter().any(|s| s == id) {
                    served[pi].push(id.to_string());
                }
            }
            if let Some(info) = registry.info(id) {
                models.push(ModelInfo {
                    id: id.to_string(),
                    owned_by: info.owned_by.clone(),
                    created: u64::try_from(info.created).unwrap_or(created),
                });
            }
        }
        for (spec, cr) in specs.iter_mut().zip(&creds) {
            spec.models = served[cr.provider].clone();
        }
        let payload = config.payload.clone();
        let server_tls = match &config.tls {
            Some(files) => Some(crate::server::tls::load(files)?),
            None => None,
        };
        let amp_upstream = match config.ampcode.upstream_url.as_str() {
            "" => None,
            url => Endpoint::parse(url).ok().map(|mut e| {
                e.resolve();
                e
            }),
        };
        let amp_default_key = match amp_upstream {
            Some(_) => crate::amp::secret::default_key(),
            None => Secret::new(""),
        };
        // The Amp upstream goes through the global `proxy-url` like every
        // other upstream.
        let amp_proxy = config
            .proxy_url
            .clone()
            .map(|u| std::sync::Arc::new(crate::upstream::Proxy::resolve(u)));
        Ok(Snapshot {
            amp_upstream,
            amp_proxy,
            amp_default_key,
            server_tls,
            auth_stamp,
            generation,
            registry,
            payload,
            config,
            providers,
            routes,
            pools,
            models,
            route_providers,
            credentials,
            specs,
            creds,
        })
    }

    /// Scheduler settings from the config.
    pub fn sched_settings(&self) -> Settings {
        let c = &self.config;
        Settings {
            strategy: match c.routing.strategy {
                crate::config::RoutingStrategy::RoundRobin => Strategy::RoundRobin,
                crate::config::RoutingStrategy::FillFirst => Strategy::FillFirst,
                crate::config::RoutingStrategy::WeightedRoundRobin => Strategy::WeightedRoundRobin,
            },
            session_affinity: c.routing.session_affinity,
            session_affinity_ttl: c.routing.session_affinity_ttl,
            request_retry: c.request_retry as i32,
            max_retry_credentials: c.max_retry_credentials,
            max_retry_interval: std::time::Duration::from_secs(
                c.max_retry_interval_secs.max(0) as u64
            ),
            disable_cooling: c.disable_cooling,
            transient_error_cooldown_seconds: match c.transient_error_cooldown {
                None => -1,
                Some(d) => d.as_secs() as i64,
            },
            stamp: self.generation,
            ..Settings::default()
        }
    }

    /// Whether the Amp upstream's addresses or the Amp key from
    /// `AMP_API_KEY` / Amp's secrets file changed since this snapshot was
    /// built (blocking: DNS and a file read; control thread only).
    pub fn amp_changed(&self) -> bool {
        let Some(ep) = &self.amp_upstream else {
            return false;
        };
        let mut e = ep.clone();
        e.resolve();
        e.addrs != ep.addrs || crate::amp::secret::default_key() != self.amp_default_key
    }

    /// Re-resolves every endpoint; `None` if nothing changed.
    pub fn re_resolved(&self) -> Option<Vec<Endpoint>> {
        let mut changed = false;
        let eps: Vec<Endpoint> = self
            .providers
            .iter()
            .map(|p| {
                let mut e = p.endpoint.clone();
                e.resolve();
                if e.addrs != p.endpoint.addrs {
                    changed = true;
                }
                e
            })
            .collect();
        changed.then_some(eps)
    }
}

/// Target entry index of the first OAuth account (config entries use their
/// list position; accounts come after any list's end).
pub const ACCOUNT_ENTRY_BASE: usize = 1 << 24;

/// The parts of a snapshot under construction that accounts extend.
struct Added<'a> {
    providers: &'a mut Vec<Provider>,
    registry: &'a mut crate::models::Registry,
    by_entry: &'a mut HashMap<(Kind, usize), usize>,
    credentials: &'a mut HashMap<String, (usize, Option<usize>)>,
    creds: &'a mut Vec<CredRef>,
    specs: &'a mut Vec<CredentialSpec>,
}

/// The per-channel config list for `channel` (`oauth-excluded-models`,
/// `oauth-model-alias`, ...), empty when the channel has none.
fn for_channel<'c, T>(list: &'c [(String, Vec<T>)], channel: &str) -> &'c [T] {
    list.iter()
        .find(|(c, _)| c.eq_ignore_ascii_case(channel))
        .map(|(_, v)| v.as_slice())
        .unwrap_or(&[])
}

/// OAuth accounts of `auth-dir` as providers: one provider and one
/// credential per file, its models in the registry, rotating under the same
/// scheduler provider as the API keys of that provider.
fn add_accounts(
    config: &Config,
    scan: &crate::accounts::store::Scan,
    s: &mut Added<'_>,
) -> Result<(), String> {
    use crate::accounts::store;
    for (name, why) in &scan.skipped {
        crate::log_warn!("auth-dir: skipping {name}: {why}");
    }
    let mut watched = Vec::with_capacity(scan.accounts.len());
    for (i, l) in scan.accounts.iter().enumerate() {
        let (a, f) = (&l.account, &l.file);
        let kind = store::provider_kind(a.kind);
        let channel = store::channel(a.kind);
        let antigravity = a.kind == crate::accounts::AccountKind::Antigravity;
        // Antigravity: the file's `base_url`, else its hosts in order; the
        // others: their kind's (a Vertex location's, a Qwen `resource_url`).
        let own_base = store::account_base_url(a);
        let (base, fallback) = if antigravity && !f.base_url.is_empty() {
            (f.base_url.as_str(), &[][..])
        } else if antigravity {
            let hosts = &crate::accounts::wire::antigravity::BASE_URLS;
            (hosts[0], &hosts[1..])
        } else {
            (own_base.as_str(), &[][..])
        };
        let mut endpoint = match Endpoint::parse(base) {
            Ok(e) => e,
            Err(e) if antigravity => {
                crate::log_warn!("auth-dir: skipping {}: base_url: {e}", a.id);
                continue;
            }
            Err(e) => return Err(e),
        };
        endpoint.resolve();
        let mut fallback_eps = Vec::with_capacity(fallback.len());
        for u in fallback {
            let mut ep = Endpoint::parse(u)?;
            ep.resolve();
            fallback_eps.push(ep);
        }
        let proxy = match f.proxy_url.as_str() {
            "" => config.proxy_url.clone(),
            p => match crate::config::ProxySetting::parse(p) {
                Ok(crate::config::ProxySetting::Proxy(u)) => Some(u),
                Ok(crate::config::ProxySetting::Direct) => None,
                Ok(crate::config::ProxySetting::Inherit) => config.proxy_url.clone(),
                Err(e) => {
                    crate::log_warn!("auth-dir: skipping {}: proxy_url: {e}", a.id);
                    continue;
                }
            },
        };
        let proxy = proxy.map(|u| std::sync::Arc::new(crate::upstream::Proxy::resolve(u)));
        // A multi-project file is several consecutive entries on one
        // account: watched once.
        if !watched
            .last()
            .is_some_and(|(w, _)| std::sync::Arc::ptr_eq(w, a))
        {
            watched.push((a.clone(), proxy.clone()));
        }
        if a.kind == crate::accounts::AccountKind::Gemini && a.project_id.is_empty() {
            // Served once the refresh thread found its project (written
            // to the file, which reloads).
            crate::log_info!("auth-dir: {}: looking up its Gemini project", a.id);
            continue;
        }
        let headers: Vec<(String, String)> = f
            .headers
            .iter()
            .filter(|(n, v)| {
                let ok = !n.bytes().any(|b| b <= b' ' || b == b':')
                    && !v.bytes().any(|b| b == b'\r' || b == b'\n');
                if !ok {
                    crate::log_warn!("auth-dir: {}: header {n:?} ignored (invalid)", a.id);
                }
                ok
            })
            .cloned()
            .collect();
        let mut rules_cfg = f.request_scoped_errors.clone();
        if rules_cfg.is_empty() {
            rules_cfg = for_channel(&config.oauth_request_scoped_errors, channel).to_vec();
        }
        let rules = scoped_rules(&Entry {
            kind,
            path: a.id.clone(),
            name: String::new(),
            base_url: "",
            keys: Vec::new(),
            entry_proxy: None,
            headers: &[],
            priority: 0,
            disable_cooling: None,
            force_http1: None,
            websockets: false,
            request_retry: None,
            rules: &rules_cfg,
        });
        let idx = s.providers.len();
        let sched = store::sched_provider(a.kind).to_string();
        s.providers.push(Provider {
            kind,
            name: sched.clone(),
            endpoint,
            default_host: true,
            keys: vec![store::placeholder_key()],
            proxies: vec![proxy.clone()],
            headers,
            force_http1: config.force_http1,
            websockets: a.kind == crate::accounts::AccountKind::Codex && f.websockets,
            sched_provider: sched.clone(),
            rules: rules.clone(),
            account: Some(a.clone()),
            project: l.project.clone(),
            fallback: fallback_eps,
        });
        let entry = ACCOUNT_ENTRY_BASE + i;
        s.by_entry.insert((kind, entry), idx);
        let mut excluded = f.excluded_models.clone();
        excluded.extend(
            store::plan_exclusions(&a.plan)
                .iter()
                .filter(|_| a.kind == crate::accounts::AccountKind::Codex)
                .map(|m| m.to_string()),
        );
        excluded.extend(
            for_channel(&config.oauth_excluded_models, channel)
                .iter()
                .cloned(),
        );
        let mut aliases: Vec<(String, String, bool)> = f
            .model_aliases
            .iter()
            .map(|(n, al)| (n.clone(), al.clone(), false))
            .collect();
        if aliases.is_empty() {
            aliases = for_channel(&config.oauth_model_alias, channel)
                .iter()
                .map(|al| (al.name.clone(), al.alias.clone(), al.fork))
                .collect();
        }
        let prefix = (!f.prefix.is_empty()).then_some(f.prefix.as_str());
        s.registry.add_account(
            &crate::models::AccountView {
                kind,
                index: entry,
                excluded: &excluded,
                aliases: &aliases,
                prefix,
                own: crate::accounts::chat_kinds::catalog(a.kind),
                models: antigravity.then(crate::models::catalog::antigravity),
            },
            config.force_model_prefix,
        );
        s.credentials.insert(l.cred_id.clone(), (idx, Some(0)));
        s.creds.push(CredRef {
            provider: idx,
            key: Some(0),
        });
        s.specs.push(CredentialSpec {
            id: l.cred_id.clone(),
            provider: sched,
            priority: f.priority,
            weight: f.weight,
            models: Vec::new(),
            disable_cooling: f.disable_cooling,
            request_retry: f.request_retry.map(|r| r as i32),
            request_scoped_errors: rules,
            disabled: false,
            websockets: a.kind == crate::accounts::AccountKind::Codex && f.websockets,
        });
    }
    crate::accounts::refresh::watch(watched);
    Ok(())
}

/// A stable credential id for a config entry: kind, name and a hash of the
/// entry's identity (key and base URL), plus its position to keep duplicate
/// keys apart. The key itself never appears.
pub fn credential_id(kind: &str, name: &str, base_url: &str, key: &str, index: usize) -> String {
    use std::hash::{Hash, Hasher};
    // SipHash with fixed keys: deterministic across runs (ids survive restarts
    // for save-cooldown-status).
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (kind, name, base_url, key).hash(&mut h);
    format!("{kind}:{name}:{:016x}:{index}", h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creds_run_parallel_to_specs_and_the_stamp_is_the_generation() {
        let yaml = "openai-compatibility:\n  - name: a\n    base-url: \"http://127.0.0.1:9/v1\"\n    api-key-entries:\n      - api-key: \"ka1\"\n      - api-key: \"ka2\"\n    models:\n      - name: up\n        alias: m\n  - name: open\n    base-url: \"http://127.0.0.1:9/v1\"\n    models:\n      - name: up\n        alias: m\nclaude-api-key:\n  - api-key: \"kc\"\n    base-url: \"http://127.0.0.1:9\"\n";
        let (cfg, _) =
            crate::config::parse_str(yaml, std::path::Path::new(".")).expect("config parses");
        let snap = Snapshot::build(cfg, 5).expect("snapshot");
        assert_eq!(snap.sched_settings().stamp, 5);
        assert_eq!(snap.creds.len(), snap.specs.len());
        assert_eq!(
            snap.creds.len(),
            4,
            "two keys, one keyless entry, one claude key"
        );
        for (spec, c) in snap.specs.iter().zip(&snap.creds) {
            // The array agrees with the id map it replaces on the hot path.
            assert_eq!(snap.credentials.get(&spec.id), Some(&(c.provider, c.key)));
            assert_eq!(spec.provider, snap.providers[c.provider].sched_provider);
        }
        let keys: Vec<Option<&str>> = snap
            .creds
            .iter()
            .map(|c| c.key.map(|k| snap.providers[c.provider].keys[k].expose()))
            .collect();
        assert_eq!(keys, [Some("ka1"), Some("ka2"), None, Some("kc")]);
    }
}
