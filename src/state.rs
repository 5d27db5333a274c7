//! The immutable snapshot every request reads: validated config, resolved
//! upstream endpoints and the model routing table. Built on the control
//! thread (it resolves DNS), swapped into each worker by message.

use crate::config::Config;
use crate::credentials::{CredentialSpec, Rule, RuleAction, Settings, Strategy};
use crate::secret::Secret;
use crate::upstream::Endpoint;
use std::collections::HashMap;

/// One `openai-compatibility` upstream, ready to use.
#[derive(Debug)]
pub struct Provider {
    /// `name` from config.
    pub name: String,
    /// Parsed `base-url` with resolved addresses.
    pub endpoint: Endpoint,
    /// Credentials to rotate over.
    pub keys: Vec<Secret>,
    /// Extra headers sent upstream, pre-validated.
    pub headers: Vec<(String, String)>,
    /// Scheduler provider key: `openai-compatible-<lower-case name>`.
    pub sched_provider: String,
}

/// Where a client-visible model name can be served.
#[derive(Debug, Clone)]
pub struct Target {
    /// Index into [`Snapshot::providers`].
    pub provider: usize,
    /// Model name sent upstream.
    pub upstream_model: String,
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
    /// The validated config.
    pub config: Config,
    /// Upstreams.
    pub providers: Vec<Provider>,
    /// Client model id → targets, in config order.
    pub routes: HashMap<String, Vec<Target>>,
    /// Models in listing order.
    pub models: Vec<ModelInfo>,
    /// Scheduler provider keys serving each client model id, in config order.
    pub route_providers: HashMap<String, Vec<String>>,
    /// Credential id -> (provider index, key index).
    pub credentials: HashMap<String, (usize, usize)>,
    /// Credentials as the scheduler sees them.
    pub specs: Vec<CredentialSpec>,
}

impl Snapshot {
    /// Builds a snapshot; resolves upstream host names (blocking).
    pub fn build(config: Config, generation: u64) -> Result<Snapshot, String> {
        let created = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut providers = Vec::new();
        let mut routes: HashMap<String, Vec<Target>> = HashMap::new();
        let mut models = Vec::new();
        let mut route_providers: HashMap<String, Vec<String>> = HashMap::new();
        let mut credentials = HashMap::new();
        let mut specs = Vec::new();
        for (i, c) in config.openai_compatibility.iter().enumerate() {
            let mut endpoint = Endpoint::parse(&c.base_url)
                .map_err(|e| format!("openai-compatibility[{i}].base-url: {e}"))?;
            endpoint.resolve();
            for (n, v) in &c.headers {
                if n.is_empty()
                    || n.bytes().any(|b| b <= b' ' || b == b':')
                    || v.bytes().any(|b| b == b'\r' || b == b'\n')
                {
                    return Err(format!(
                        "openai-compatibility[{i}].headers: invalid header {n:?}"
                    ));
                }
            }
            let idx = providers.len();
            let sched_provider =
                format!("openai-compatible-{}", c.name.trim().to_ascii_lowercase());
            providers.push(Provider {
                name: c.name.clone(),
                endpoint,
                keys: c
                    .api_key_entries
                    .iter()
                    .map(|e| e.api_key.clone())
                    .collect(),
                headers: c.headers.clone(),
                sched_provider: sched_provider.clone(),
            });
            let mut served = Vec::new();
            for m in &c.models {
                let visible = if m.alias.is_empty() {
                    &m.name
                } else {
                    &m.alias
                };
                if visible.is_empty() || crate::config::excluded(&c.excluded_models, visible) {
                    continue;
                }
                // A prefix adds a `prefix/model` name; the plain name stays
                // routable unless `force-model-prefix` (or the prefix equals the model).
                let mut ids = Vec::with_capacity(2);
                match c.prefix.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
                    Some(p) => {
                        if !config.force_model_prefix || p == visible.as_str() {
                            ids.push(visible.clone());
                        }
                        ids.push(format!("{p}/{visible}"));
                    }
                    None => ids.push(visible.clone()),
                }
                for id in ids {
                    let target = Target {
                        provider: idx,
                        upstream_model: m.name.clone(),
                    };
                    let provs = route_providers.entry(id.clone()).or_default();
                    if !provs.contains(&sched_provider) {
                        provs.push(sched_provider.clone());
                    }
                    if !served.contains(&id) {
                        served.push(id.clone());
                    }
                    let list = routes.entry(id.clone()).or_default();
                    if list.is_empty() {
                        models.push(ModelInfo {
                            id,
                            owned_by: c.name.clone(),
                            created,
                        });
                    }
                    list.push(target);
                }
            }
            let rules: Vec<Rule> = c
                .request_scoped_errors
                .iter()
                .map(|r| Rule {
                    status: r.status,
                    matches: r.matches.clone(),
                    match_regexr: r.match_regexr.clone(),
                    action: match r.action {
                        crate::config::ScopedErrorAction::Stop => RuleAction::Stop,
                        crate::config::ScopedErrorAction::StopAndCooldown => {
                            RuleAction::StopAndCooldown
                        }
                        crate::config::ScopedErrorAction::Continue => RuleAction::Continue,
                        crate::config::ScopedErrorAction::ContinueAndCooldown => {
                            RuleAction::ContinueAndCooldown
                        }
                    },
                })
                .collect();
            // An entry without keys still serves, unauthenticated, as one credential.
            let keyless = [None];
            let entries: Vec<Option<&crate::config::ApiKeyEntry>> = if c.api_key_entries.is_empty()
            {
                keyless.to_vec()
            } else {
                c.api_key_entries.iter().map(Some).collect()
            };
            for (k, e) in entries.into_iter().enumerate() {
                let key = e.map(|e| e.api_key.expose()).unwrap_or("");
                let id = credential_id("openai-compatibility", &c.name, &c.base_url, key, k);
                credentials.insert(id.clone(), (idx, if e.is_some() { k } else { usize::MAX }));
                specs.push(CredentialSpec {
                    id,
                    provider: sched_provider.clone(),
                    priority: c.priority,
                    weight: e.map(|e| e.weight).unwrap_or(1),
                    models: served.clone(),
                    disable_cooling: c.disable_cooling,
                    request_retry: c.request_retry.map(|r| r as i32),
                    request_scoped_errors: rules.clone(),
                    disabled: false,
                });
            }
        }
        Ok(Snapshot {
            generation,
            config,
            providers,
            routes,
            models,
            route_providers,
            credentials,
            specs,
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
            ..Settings::default()
        }
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
