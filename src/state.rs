//! The immutable snapshot every request reads: validated config, resolved
//! upstream endpoints and the model routing table. Built on the control
//! thread (it resolves DNS), swapped into each worker by message.

use crate::config::Config;
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
            providers.push(Provider {
                name: c.name.clone(),
                endpoint,
                keys: c
                    .api_key_entries
                    .iter()
                    .map(|e| e.api_key.clone())
                    .collect(),
                headers: c.headers.clone(),
            });
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
        }
        Ok(Snapshot {
            generation,
            config,
            providers,
            routes,
            models,
        })
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
