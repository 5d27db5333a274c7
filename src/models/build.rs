//! [`Registry::build`]: config entries -> id table. Rules in the module docs of
//! [`crate::models`].

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::config::{excluded, Config, ModelAlias, RawThinking};

use super::catalog;
use super::resolve::split_suffix;
use super::{Entry, ModelInfo, ProviderKind, Registry, Target, Thinking};

/// An OAuth account as the registry sees it.
#[derive(Debug)]
pub struct AccountView<'a> {
    /// The provider-table kind whose catalog the account serves.
    pub kind: ProviderKind,
    /// Target entry index ([`Target::entry`]); distinct from config entries.
    pub index: usize,
    /// Excluded models (the file's and its channel's `oauth-excluded-models`).
    pub excluded: &'a [String],
    /// (upstream name, alias, fork): the file's `model_aliases` first, then
    /// the channel's `oauth-model-alias`.
    pub aliases: &'a [(String, String, bool)],
    /// The file's `prefix`.
    pub prefix: Option<&'a str>,
    /// (model, upstream name): the account kind's own list (Kimi, Qwen,
    /// iFlow); empty = the provider kind's catalog, each model under its id.
    pub own: &'a [(ModelInfo, String)],
    /// The account kind's own model list, when it is not `kind`'s catalog
    /// (Antigravity).
    pub models: Option<&'static [ModelInfo]>,
}

/// One model an entry offers, before exclusion and prefixing.
struct Offer {
    info: ModelInfo,
    upstream: String,
    force_mapping: bool,
}

/// The fields of an entry the registry needs, whatever its list.
struct EntryView<'a> {
    kind: ProviderKind,
    index: usize,
    models: &'a [ModelAlias],
    excluded: &'a [String],
    prefix: Option<&'a str>,
    /// Owner for configured models (the compat provider's name for compat).
    owned_by: &'a str,
}

impl Registry {
    /// Builds the registry from a config; configured models get the current
    /// time as `created` (as CLIProxyAPI does).
    pub fn build(cfg: &Config) -> Registry {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Registry::build_at(cfg, now)
    }

    /// [`Registry::build`] with an explicit `created` time (Unix seconds) for
    /// configured models.
    pub fn build_at(cfg: &Config, now: i64) -> Registry {
        let mut reg = Registry::default();
        for kind in ProviderKind::REGISTRY_ORDER {
            if kind == ProviderKind::OpenAiCompat {
                for (index, c) in cfg.openai_compatibility.iter().enumerate() {
                    reg.add_entry(
                        &EntryView {
                            kind,
                            index,
                            models: &c.models,
                            excluded: &c.excluded_models,
                            prefix: c.prefix.as_deref(),
                            owned_by: &c.name,
                        },
                        cfg.force_model_prefix,
                        now,
                    );
                }
                continue;
            }
            for (index, k) in cfg.keyed(kind).iter().enumerate() {
                reg.add_entry(
                    &EntryView {
                        kind,
                        index,
                        models: &k.models,
                        excluded: &k.excluded_models,
                        prefix: k.prefix.as_deref(),
                        owned_by: kind.spec().owned_by,
                    },
                    cfg.force_model_prefix,
                    now,
                );
            }
        }
        reg.auto = pick_auto(&reg.entries);
        reg
    }

    /// Adds an OAuth account's models: its kind's catalog, minus exclusions,
    /// with its aliases (a `fork` alias keeps the original name listed too),
    /// under its prefix. Call after [`Registry::build`]; the auto model is
    /// picked again.
    pub fn add_account(&mut self, a: &AccountView<'_>, force_prefix: bool) {
        let mut offers = Vec::new();
        let base: &[ModelInfo] = a.models.unwrap_or_else(|| catalog::defaults(a.kind));
        let defaults = base.iter().map(|m| (m, m.id.as_str()));
        let own = a.own.iter().map(|(m, up)| (m, up.as_str()));
        let list: Vec<(&ModelInfo, &str)> = if a.own.is_empty() {
            defaults.collect()
        } else {
            own.collect()
        };
        for (m, upstream) in list {
            if excluded(a.excluded, &m.id) {
                continue;
            }
            let aliases: Vec<&(String, String, bool)> = a
                .aliases
                .iter()
                .filter(|(name, _, _)| name.eq_ignore_ascii_case(&m.id))
                .collect();
            if aliases.is_empty() || aliases.iter().any(|(_, _, fork)| *fork) {
                offers.push(Offer {
                    info: m.clone(),
                    upstream: upstream.to_string(),
                    force_mapping: false,
                });
            }
            for (_, alias, _) in aliases {
                offers.push(Offer {
                    info: ModelInfo {
                        id: alias.clone(),
                        ..m.clone()
                    },
                    upstream: upstream.to_string(),
                    force_mapping: false,
                });
            }
        }
        let view = EntryView {
            kind: a.kind,
            index: a.index,
            models: &[],
            excluded: &[],
            prefix: a.prefix,
            owned_by: "",
        };
        self.add_offers(&view, offers, force_prefix);
        self.auto = pick_auto(&self.entries);
    }

    fn add_entry(&mut self, e: &EntryView<'_>, force_prefix: bool, now: i64) {
        let offers = if e.models.is_empty() {
            catalog::defaults(e.kind)
                .iter()
                .map(|m| Offer {
                    info: m.clone(),
                    upstream: m.id.clone(),
                    force_mapping: false,
                })
                .collect()
        } else {
            configured(e, now)
        };
        self.add_offers(e, offers, force_prefix);
    }

    fn add_offers(&mut self, e: &EntryView<'_>, offers: Vec<Offer>, force_prefix: bool) {
        let prefix = e.prefix.map(str::trim).filter(|p| !p.is_empty());
        for offer in offers {
            if excluded(e.excluded, &offer.info.id) {
                continue;
            }
            let base = offer.info.id.clone();
            let make = |id: String| Target {
                kind: e.kind,
                entry: e.index,
                upstream: offer.upstream.clone(),
                force_mapping: offer.force_mapping,
                info: ModelInfo {
                    id,
                    ..offer.info.clone()
                },
            };
            match prefix {
                None => self.register(make(base)),
                Some(p) => {
                    if !force_prefix || p == base {
                        self.register(make(base.clone()));
                    }
                    self.register(make(format!("{p}/{base}")));
                }
            }
        }
    }

    /// Adds a target under `target.info.id`, skipping an identical target.
    fn register(&mut self, target: Target) {
        let id = target.info.id.clone();
        match self.index.get(&id) {
            Some(&i) => {
                if let Some(entry) = self.entries.get_mut(i) {
                    let dup = entry.targets.iter().any(|t| {
                        t.kind == target.kind
                            && t.entry == target.entry
                            && t.upstream == target.upstream
                    });
                    if !dup {
                        entry.targets.push(target);
                    }
                }
            }
            None => {
                self.index.insert(id.clone(), self.entries.len());
                self.entries.push(Entry {
                    id,
                    targets: vec![target],
                });
            }
        }
    }
}

/// The newest model; the first registered among equal `created`.
fn pick_auto(entries: &[Entry]) -> Option<usize> {
    let mut best: Option<(usize, i64)> = None;
    for (i, e) in entries.iter().enumerate() {
        let Some(t) = e.targets.first() else { continue };
        let created = t.info.created;
        if best.is_none_or(|(_, c)| created > c) {
            best = Some((i, created));
        }
    }
    best.map(|(i, _)| i)
}

/// The offers of an entry that lists models. Aliases that differ only in case
/// from an earlier alias of the same entry join that earlier id (a pool), as
/// CLIProxyAPI registers only the first spelling.
fn configured(e: &EntryView<'_>, now: i64) -> Vec<Offer> {
    let compat = e.kind == ProviderKind::OpenAiCompat;
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut out = Vec::with_capacity(e.models.len());
    for m in e.models {
        let name = m.name.trim();
        let alias = match m.alias.trim() {
            "" => name,
            a => a,
        };
        if alias.is_empty() {
            continue;
        }
        let id = seen
            .entry(alias.to_lowercase())
            .or_insert_with(|| alias.to_string())
            .clone();
        let fallback_display = if compat { m.alias.trim() } else { name };
        let display = [m.display_name.trim(), fallback_display, id.as_str()]
            .into_iter()
            .find(|s| !s.is_empty())
            .unwrap_or_default()
            .to_string();
        let thinking = match &m.thinking {
            Some(t) => Some(normalize_thinking(t)),
            None if compat => (!m.image).then(|| Thinking {
                levels: vec!["low".into(), "medium".into(), "high".into()],
                ..Thinking::default()
            }),
            None => catalog::lookup(split_suffix(name).0.trim()).and_then(|s| s.thinking.clone()),
        };
        let model_type = match e.kind {
            ProviderKind::OpenAiCompat if m.image => "openai-image",
            k => k.spec().model_type,
        };
        let owned_by = e.owned_by;
        out.push(Offer {
            info: ModelInfo {
                id,
                created: now,
                owned_by: owned_by.to_string(),
                model_type: model_type.to_string(),
                display_name: display,
                context_length: m.max_context_length,
                max_context_length: m.max_context_length,
                supported_input_modalities: modalities(&m.input_modalities),
                supported_output_modalities: modalities(&m.output_modalities),
                thinking,
                user_defined: !compat,
                is_compat: m.is_compat,
                ..ModelInfo::default()
            },
            upstream: name.to_string(),
            force_mapping: m.force_mapping,
        });
    }
    out
}

/// Configured thinking: levels trimmed, lower-cased, de-duplicated; `none`
/// also allows budget 0 and `auto` budget -1 (CLIProxyAPI's normalisation).
fn normalize_thinking(t: &RawThinking) -> Thinking {
    let mut out = Thinking {
        min: t.min,
        max: t.max,
        zero_allowed: t.zero_allowed,
        dynamic_allowed: t.dynamic_allowed,
        levels: Vec::new(),
    };
    for l in &t.levels {
        let l = l.trim().to_lowercase();
        if l.is_empty() {
            continue;
        }
        match l.as_str() {
            "none" => out.zero_allowed = true,
            "auto" => out.dynamic_allowed = true,
            _ => {}
        }
        if !out.levels.contains(&l) {
            out.levels.push(l);
        }
    }
    out
}

/// Modalities trimmed, lower-cased, de-duplicated, empties dropped.
fn modalities(raw: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for m in raw {
        let m = m.trim().to_lowercase();
        if !m.is_empty() && !out.contains(&m) {
            out.push(m);
        }
    }
    out
}
