//! Provider entry sections: each entry checked and normalised into a
//! [`ProviderKey`] (the `*-api-key` lists, one generic reader applying the
//! kind's [`crate::providers::Entries`] rules) or an [`OpenAiCompat`]
//! (`openai-compatibility`), with the field helpers they share.

use super::*;

/// The shared fields of an entry, checked and normalised.
pub(super) fn common_key(
    c: &RawCommon<'_>,
    path: &str,
    v: &mut V,
) -> Result<ProviderKey, ConfigError> {
    Ok(ProviderKey {
        api_key: Secret::new(c.api_key.expose().trim()),
        base_url: trim_base_url(c.base_url),
        proxy: ProxySetting::parse(c.proxy_url)
            .map_err(|m| ConfigError::new(join_key(path, "proxy-url"), m))?,
        prefix: prefix(c.prefix, &join_key(path, "prefix"))?,
        priority: priority(c.priority, &join_key(path, "priority"))?,
        weight: weight(c.weight, &join_key(path, "weight"))?,
        headers: headers(c.headers),
        models: Vec::new(),
        excluded_models: normalize_excluded(c.excluded_models),
        disable_cooling: c.disable_cooling,
        force_http1: c.force_http1,
        request_retry: request_retry(c.request_retry, &join_key(path, "request-retry"))?,
        request_scoped_errors: scoped_errors(
            c.request_scoped_errors,
            &join_key(path, "request-scoped-errors"),
            v,
        )?,
        websockets: false,
        alpha_search: false,
    })
}

/// A `*-api-key` section read under a provider kind's rules.
pub(super) struct Section<'a> {
    /// Config key (`gemini-api-key`, `xai-api-key`, ...).
    pub key: &'a str,
    /// The kind whose rules and shape the section has.
    pub spec: &'static Spec,
    /// `alpha-search` is not supported here (warned, ignored).
    pub no_alpha_search: bool,
}

impl<'a> Section<'a> {
    /// Section `key` with `spec`'s rules.
    pub fn new(key: &'a str, spec: &'static Spec) -> Self {
        Section {
            key,
            spec,
            no_alpha_search: false,
        }
    }
}

/// Checks and normalises a section's entries; entries the rules drop are
/// warned about and left out.
pub(super) fn keyed_entries(
    list: &[&dyn RawKeyEntry],
    section: &Section<'_>,
    v: &mut V,
) -> Result<Vec<ProviderKey>, ConfigError> {
    let rules = &section.spec.entries;
    let mut out: Vec<ProviderKey> = Vec::with_capacity(list.len());
    for (i, e) in list.iter().enumerate() {
        let path = join_index(section.key, i);
        let mut key = common_key(&e.common(), &path, v)?;
        let models_path = join_key(&path, "models");
        key.models = match e.models() {
            RawModels::Named(list) => models(list, &models_path, v),
            RawModels::Aliased(list) => aliased_models(list, &models_path, section.spec.id, v),
        };
        entry_extras(&**e, &mut key, &path, section.no_alpha_search, v)?;
        if rules.needs_key_or_base_url && key.api_key.is_empty() && key.base_url.is_empty() {
            v.warn(&path, "entry has neither api-key nor base-url; ignored");
            continue;
        }
        if rules.needs_key && key.api_key.is_empty() {
            v.warn(join_key(&path, "api-key"), "missing; entry ignored");
            continue;
        }
        if rules.needs_base_url && key.base_url.is_empty() {
            v.warn(join_key(&path, "base-url"), "missing; entry ignored");
            continue;
        }
        if rules.checks_base_url && !key.base_url.is_empty() {
            check_http_url(&key.base_url, &join_key(&path, "base-url"))?;
        }
        match rules.dedup {
            Dedup::None => {}
            Dedup::Identity => {
                if out.iter().any(|o| same_identity(o, &key)) {
                    v.warn(&path, "duplicate of an earlier entry; ignored");
                    continue;
                }
            }
            Dedup::KeyAndBaseUrl => {
                if out
                    .iter()
                    .any(|o| o.api_key == key.api_key && o.base_url == key.base_url)
                {
                    v.warn(
                        &path,
                        "duplicate of an earlier entry (same api-key and base-url); ignored",
                    );
                    continue;
                }
            }
        }
        out.push(key);
    }
    Ok(out)
}

/// Keys only some shapes have: `websockets`, `alpha-search`,
/// `fingerprint-profile`, `cloak`.
fn entry_extras(
    e: &dyn RawKeyEntry,
    key: &mut ProviderKey,
    path: &str,
    no_alpha_search: bool,
    v: &mut V,
) -> Result<(), ConfigError> {
    let (websockets, alpha_search) = e.transport();
    key.websockets = websockets;
    key.alpha_search = alpha_search && !no_alpha_search;
    if no_alpha_search && alpha_search {
        v.warn(
            join_key(path, "alpha-search"),
            "not supported for xai-api-key; ignored",
        );
    }
    match e.fingerprint_profile().trim().to_ascii_lowercase().as_str() {
        "" | "claude-code-cli" | "oauth-cli" => {}
        other => v.warn(
            join_key(path, "fingerprint-profile"),
            format!("unsupported value {other:?} (supported: \"claude-code-cli\" or empty); caller fingerprint kept"),
        ),
    }
    if let Some(cloak) = e.cloak() {
        let mode = cloak.mode.trim().to_ascii_lowercase();
        if !matches!(mode.as_str(), "" | "auto" | "always" | "never") {
            return Err(ConfigError::new(
                join_key(&join_key(path, "cloak"), "mode"),
                format!("unknown mode {mode:?} (allowed: auto, always, never)"),
            ));
        }
    }
    Ok(())
}

/// CLIProxyAPI's gemini de-duplication identity: key, base-url, proxy, prefix, headers.
pub(super) fn same_identity(a: &ProviderKey, b: &ProviderKey) -> bool {
    let mut ha = a.headers.clone();
    let mut hb = b.headers.clone();
    ha.sort();
    hb.sort();
    a.api_key == b.api_key
        && a.base_url == b.base_url
        && a.proxy == b.proxy
        && a.prefix == b.prefix
        && ha == hb
}

pub(super) fn openai_compat(
    list: &[RawOpenAiCompat],
    v: &mut V,
) -> Result<Vec<OpenAiCompat>, ConfigError> {
    let mut out = Vec::with_capacity(list.len());
    for (i, e) in list.iter().enumerate() {
        let path = join_index("openai-compatibility", i);
        let mut entries = Vec::with_capacity(e.api_key_entries.len() + e.api_keys.len());
        for (j, k) in e.api_key_entries.iter().enumerate() {
            let kp = join_index(&join_key(&path, "api-key-entries"), j);
            let proxy_text = k.proxy_url.expose().trim();
            entries.push(ApiKeyEntry {
                api_key: Secret::new(k.api_key.expose().trim()),
                proxy_url: (!proxy_text.is_empty()).then(|| proxy_text.to_string()),
                weight: weight(k.weight, &join_key(&kp, "weight"))?,
                proxy: ProxySetting::parse(proxy_text)
                    .map_err(|m| ConfigError::new(join_key(&kp, "proxy-url"), m))?,
            });
        }
        if !e.api_keys.is_empty() {
            v.warn(
                join_key(&path, "api-keys"),
                "legacy key; merged into api-key-entries",
            );
            for k in &e.api_keys {
                let t = k.expose().trim();
                if t.is_empty() || entries.iter().any(|x| x.api_key.ct_eq(t.as_bytes())) {
                    continue;
                }
                entries.push(ApiKeyEntry {
                    api_key: Secret::new(t),
                    proxy_url: None,
                    weight: 1,
                    proxy: ProxySetting::Inherit,
                });
            }
        }
        let compat = OpenAiCompat {
            name: e.name.trim().to_string(),
            base_url: trim_base_url(&e.base_url),
            api_key_entries: entries,
            models: compat_models(&e.models, &join_key(&path, "models"), v),
            headers: headers(&e.headers),
            prefix: prefix(&e.prefix, &join_key(&path, "prefix"))?,
            excluded_models: normalize_excluded(&e.excluded_models),
            priority: priority(e.priority, &join_key(&path, "priority"))?,
            disabled: false,
            support_prompt_cache_key: e.support_prompt_cache_key,
            disable_cooling: e.disable_cooling,
            force_http1: e.force_http1,
            request_retry: request_retry(e.request_retry, &join_key(&path, "request-retry"))?,
            request_scoped_errors: scoped_errors(
                &e.request_scoped_errors,
                &join_key(&path, "request-scoped-errors"),
                v,
            )?,
        };
        if e.disabled {
            v.warn(
                join_key(&path, "disabled"),
                "provider disabled; entry ignored",
            );
            continue;
        }
        if compat.base_url.is_empty() {
            v.warn(join_key(&path, "base-url"), "missing; entry ignored");
            continue;
        }
        check_http_url(&compat.base_url, &join_key(&path, "base-url"))?;
        if compat.name.is_empty() {
            v.warn(join_key(&path, "name"), "empty provider name");
        }
        out.push(compat);
    }
    Ok(out)
}

pub(super) fn trim_base_url(s: &str) -> String {
    s.trim().trim_end_matches('/').to_string()
}

pub(super) fn check_http_url(url: &str, key: &str) -> Result<(), ConfigError> {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    let rest = if lower.starts_with("http://") {
        &url[7..]
    } else if lower.starts_with("https://") {
        &url[8..]
    } else {
        return Err(ConfigError::new(
            key,
            format!("{url:?} is not an http:// or https:// URL"),
        ));
    };
    if rest.is_empty() || rest.starts_with('/') || rest.chars().any(char::is_whitespace) {
        return Err(ConfigError::new(
            key,
            format!("{url:?} has no host or contains spaces"),
        ));
    }
    Ok(())
}

pub(super) fn prefix(s: &str, key: &str) -> Result<Option<String>, ConfigError> {
    let t = s.trim().trim_matches('/');
    if t.is_empty() {
        return Ok(None);
    }
    if t.contains('/') {
        return Err(ConfigError::new(key, format!("{t:?} must not contain '/'")));
    }
    Ok(Some(t.to_string()))
}

pub(super) fn priority(n: i64, key: &str) -> Result<i32, ConfigError> {
    i32::try_from(n).map_err(|_| ConfigError::new(key, format!("{n} is out of range")))
}

/// Omitted = 1; <= 0 = 0 (excluded under weighted round-robin); > 1,000,000 = error.
pub(super) fn weight(w: Option<i64>, key: &str) -> Result<u32, ConfigError> {
    match w {
        None => Ok(1),
        Some(n) if n <= 0 => Ok(0),
        Some(n) if n > MAX_WEIGHT => Err(ConfigError::new(
            key,
            format!("{n} exceeds the maximum weight {MAX_WEIGHT}"),
        )),
        // In 1..=1_000_000, so the conversion cannot fail; 1 keeps it total.
        Some(n) => Ok(u32::try_from(n).unwrap_or(1)),
    }
}

/// `None` or negative = inherit the global value.
pub(super) fn request_retry(r: Option<i64>, key: &str) -> Result<Option<u32>, ConfigError> {
    match r {
        None => Ok(None),
        Some(n) if n < 0 => Ok(None),
        Some(n) => u32::try_from(n)
            .map(Some)
            .map_err(|_| ConfigError::new(key, "value too large")),
    }
}

/// Trims names and values; drops pairs with an empty name or value.
pub(super) fn headers(h: &OrderedMap<Secret>) -> Vec<(String, String)> {
    h.iter()
        .filter_map(|(k, val)| {
            let (k, val) = (k.trim(), val.expose().trim());
            (!k.is_empty() && !val.is_empty()).then(|| (k.to_string(), val.to_string()))
        })
        .collect()
}

/// Trims, lower-cases, de-duplicates, drops empties; keeps first-seen order.
pub fn normalize_excluded(list: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for p in list {
        let t = p.trim().to_lowercase();
        if !t.is_empty() && !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

pub(super) fn u64_len(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

pub(super) fn models(list: &[RawModel], path: &str, v: &mut V) -> Vec<ModelAlias> {
    let mut out = Vec::with_capacity(list.len());
    for (i, m) in list.iter().enumerate() {
        let name = m.name.trim();
        if name.is_empty() {
            v.warn(
                join_key(&join_index(path, i), "name"),
                "missing; model ignored",
            );
            continue;
        }
        out.push(ModelAlias {
            name: name.to_string(),
            alias: m.alias.trim().to_string(),
            display_name: m.display_name.trim().to_string(),
            max_context_length: u64_len(m.max_context_length),
            force_mapping: m.force_mapping,
            is_compat: m.is_compat,
            thinking: m.thinking.clone(),
            ..Default::default()
        });
    }
    out
}

/// `models[]` whose items need both `name` and `alias`; `kind` names the
/// provider in the warning.
pub(super) fn aliased_models(
    list: &[RawAliasedModel],
    path: &str,
    kind: &str,
    v: &mut V,
) -> Vec<ModelAlias> {
    let mut out = Vec::with_capacity(list.len());
    for (i, m) in list.iter().enumerate() {
        let (name, alias) = (m.name.trim(), m.alias.trim());
        if name.is_empty() || alias.is_empty() {
            v.warn(
                join_index(path, i),
                format!("{kind} models need both name and alias; model ignored"),
            );
            continue;
        }
        out.push(ModelAlias {
            name: name.to_string(),
            alias: alias.to_string(),
            display_name: m.display_name.trim().to_string(),
            force_mapping: m.force_mapping,
            thinking: m.thinking.clone(),
            ..Default::default()
        });
    }
    out
}

pub(super) fn compat_models(list: &[RawCompatModel], path: &str, v: &mut V) -> Vec<ModelAlias> {
    let mut out = Vec::with_capacity(list.len());
    for (i, m) in list.iter().enumerate() {
        let name = m.name.trim();
        if name.is_empty() {
            v.warn(
                join_key(&join_index(path, i), "name"),
                "missing; model ignored",
            );
            continue;
        }
        out.push(ModelAlias {
            name: name.to_string(),
            alias: m.alias.trim().to_string(),
            display_name: m.display_name.trim().to_string(),
            max_context_length: u64_len(m.max_context_length),
            force_mapping: m.force_mapping,
            image: m.image,
            input_modalities: m
                .input_modalities
                .iter()
                .map(|s| s.trim().to_string())
                .collect(),
            output_modalities: m
                .output_modalities
                .iter()
                .map(|s| s.trim().to_string())
                .collect(),
            is_compat: m.is_compat,
            thinking: m.thinking.clone(),
        });
    }
    out
}
