//! `RawConfig` -> `Config`: checks values, applies CLIProxyAPI's normalisation
//! (trimming, de-duplication, dropping unusable entries with a warning) and
//! migrates v6 legacy keys.
//!
//! Where CLIProxyAPI silently ignores or drops an invalid value (an unknown
//! `routing.strategy`, a `prefix` containing `/`, a `*-raw` payload value that is
//! not JSON, an unknown `request-scoped-errors` action, an unparsable duration)
//! cliproxy refuses to start with a [`ConfigError`] naming the key instead: a typo
//! should not silently change routing.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::de::{join_index, join_key, OrderedMap};
use super::duration;
use super::proxy::ProxySetting;
use super::raw::{
    key_entries, RawAliasedModel, RawCommon, RawCompatModel, RawConfig, RawGeminiKey, RawKeyEntry,
    RawModel, RawModels, RawOpenAiCompat, RawScopedErrorRule, DEFAULT_AUTH_DIR,
};
use super::{
    ApiKeyEntry, Config, ConfigError, Keyed, ModelAlias, OAuthAlias, OpenAiCompat, ProviderKey,
    Routing, RoutingStrategy, ScopedErrorAction, ScopedErrorRule, TlsFiles, Warning,
};
use crate::payload::PayloadRules;
use crate::providers::{Dedup, Kind, Spec};
use crate::secret::Secret;

mod entries;

pub use entries::normalize_excluded;
use entries::*;

/// Largest `body-limit-mb`: 1 GiB. Bodies are buffered whole before translation,
/// so a larger limit would let a single request take more memory than a small
/// host has.
pub const MAX_BODY_LIMIT_MB: i64 = 1024;

/// Largest credential `weight` (CLIProxyAPI's bound).
pub const MAX_WEIGHT: i64 = 1_000_000;

/// Default `gpt-image-2-base-model`.
pub const DEFAULT_GPT_IMAGE_2_BASE_MODEL: &str = "gpt-5.4-mini";

/// Default `routing.session-affinity-ttl`.
pub const DEFAULT_SESSION_AFFINITY_TTL: Duration = Duration::from_secs(3600);

/// Default `video-result-auth-cache-ttl`.
pub const DEFAULT_VIDEO_RESULT_AUTH_CACHE_TTL: Duration = Duration::from_secs(3 * 3600);

/// `transient-error-cooldown-seconds: 0` means CLIProxyAPI's legacy 60 s.
pub const LEGACY_TRANSIENT_ERROR_COOLDOWN: Duration = Duration::from_secs(60);

/// CLIProxyAPI's template keys; CLIProxyAPI refuses proxy traffic when present.
const EXAMPLE_API_KEYS: [&str; 3] = ["your-api-key-1", "your-api-key-2", "your-api-key-3"];

struct V {
    warnings: Vec<Warning>,
}

impl V {
    fn warn(&mut self, key_path: impl Into<String>, message: impl Into<String>) {
        self.warnings.push(Warning {
            key_path: key_path.into(),
            message: message.into(),
        });
    }
}

impl Config {
    /// Validates raw shapes into a `Config`. Relative paths (`auth-dir`,
    /// `tls.cert`, `tls.key`) are joined to `base_dir`.
    pub fn from_raw(
        mut raw: RawConfig,
        base_dir: &Path,
    ) -> Result<(Config, Vec<Warning>), ConfigError> {
        let mut v = V {
            warnings: Vec::new(),
        };
        migrate_legacy(&mut raw, &mut v);

        let port = u16::try_from(raw.port)
            .map_err(|_| ConfigError::new("port", format!("{} is not in 0..=65535", raw.port)))?;

        let (api_keys, has_example_api_keys) = client_keys(&raw, &mut v);

        let auth_dir = resolve_path(&raw.auth_dir, DEFAULT_AUTH_DIR, base_dir, "auth-dir")?;

        let request_retry = if raw.request_retry < 0 {
            v.warn("request-retry", "negative value read as 0");
            0
        } else {
            u32::try_from(raw.request_retry)
                .map_err(|_| ConfigError::new("request-retry", "value too large"))?
        };
        let max_retry_credentials = u32::try_from(raw.max_retry_credentials.max(0))
            .map_err(|_| ConfigError::new("max-retry-credentials", "value too large"))?;

        let proxy_url = match ProxySetting::parse(raw.proxy_url.expose())
            .map_err(|m| ConfigError::new("proxy-url", m))?
        {
            ProxySetting::Proxy(p) => Some(p),
            ProxySetting::Inherit | ProxySetting::Direct => None,
        };

        if !(1..=MAX_BODY_LIMIT_MB).contains(&raw.body_limit_mb) {
            return Err(ConfigError::new(
                "body-limit-mb",
                format!("{} is not in 1..={MAX_BODY_LIMIT_MB}", raw.body_limit_mb),
            ));
        }
        let body_limit = usize::try_from(raw.body_limit_mb)
            .ok()
            .and_then(|mb| mb.checked_mul(1024 * 1024))
            .ok_or_else(|| ConfigError::new("body-limit-mb", "too large for this platform"))?;

        let tls = tls_files(&raw, base_dir)?;
        let log_dir = match std::env::var_os("WRITABLE_PATH").filter(|p| !p.is_empty()) {
            Some(w) => PathBuf::from(w).join("logs"),
            None => base_dir.join("logs"),
        };
        let access_log = if raw.access_log.enabled {
            let format = match raw.access_log.format.trim().to_ascii_lowercase().as_str() {
                "" | "json" => super::AccessFormat::Json,
                "logfmt" => super::AccessFormat::Logfmt,
                other => {
                    return Err(ConfigError::new(
                        "access-log.format",
                        format!("{other:?} is not json or logfmt"),
                    ))
                }
            };
            let path = if raw.access_log.path.trim().is_empty() {
                log_dir.join("access.log")
            } else {
                resolve_path(&raw.access_log.path, "", base_dir, "access-log.path")?
            };
            Some(super::AccessLog { format, path })
        } else {
            None
        };
        if raw.http2_cleartext && tls.is_some() {
            v.warn(
                "http2-cleartext",
                "has no effect with tls.enable: the listener is HTTPS (HTTP/2 via ALPN)",
            );
        }

        let routing = routing(&raw)?;
        let video_result_auth_cache_ttl = duration_or(
            &raw.video_result_auth_cache_ttl,
            DEFAULT_VIDEO_RESULT_AUTH_CACHE_TTL,
            "video-result-auth-cache-ttl",
        )?;

        let gpt_image_2_base_model = gpt_image_2_base_model(&raw, &mut v);

        let transient_error_cooldown = match raw.transient_error_cooldown_seconds {
            0 => Some(LEGACY_TRANSIENT_ERROR_COOLDOWN),
            n if n < 0 => None,
            n => Some(Duration::from_secs(n.unsigned_abs())),
        };
        let streaming_keepalive = positive_secs(raw.streaming.keepalive_seconds);
        let streaming_bootstrap_retries = u32::try_from(raw.streaming.bootstrap_retries.max(0))
            .map_err(|_| ConfigError::new("streaming.bootstrap-retries", "value too large"))?;
        let nonstream_keepalive = positive_secs(raw.nonstream_keepalive_interval);

        validate_live_media_relay(&raw)?;
        validate_payload(&raw)?;

        let Sections {
            keyed,
            openai_compatibility,
            interactions_api_keys,
            xai_api_keys,
        } = sections(&raw, &mut v)?;

        let (payload, payload_warnings) = PayloadRules::compile(&raw.payload);
        for w in payload_warnings {
            v.warn(w.key_path, w.message);
        }

        let oauth_excluded_models = oauth_excluded(&raw.oauth_excluded_models);
        let oauth_model_alias = oauth_aliases(&raw, &mut v);
        let oauth_request_scoped_errors =
            oauth_scoped_errors(&raw.oauth_request_scoped_errors, &mut v)?;

        let ampcode = ampcode(&raw, &mut v);
        let config = Config {
            host: raw.host.trim().to_string(),
            port,
            api_keys,
            has_example_api_keys,
            auth_dir,
            debug: raw.debug,
            request_retry,
            max_retry_credentials,
            max_retry_interval_secs: raw.max_retry_interval,
            proxy_url,
            body_limit,
            openai_compatibility,
            tls,
            routing,
            disable_cooling: raw.disable_cooling,
            transient_error_cooldown,
            streaming_keepalive,
            streaming_bootstrap_retries,
            header_defaults: header_defaults(&raw),
            nonstream_keepalive,
            save_cooldown_status: raw.save_cooldown_status,
            disable_cloaking_model_list: raw.claude_code.disable_cloaking_model_list,
            ws_auth: raw.ws_auth,
            request_log: raw.request_log,
            logging_to_file: raw.logging_to_file,
            logs_max_total_bytes: (raw.logs_max_total_size_mb.max(0) as u64)
                .saturating_mul(1024 * 1024),
            error_logs_max_files: raw.error_logs_max_files.max(0) as u64,
            log_dir: log_dir.clone(),
            metrics: raw.metrics.clone(),
            access_log,
            passthrough_headers: raw.passthrough_headers,
            force_model_prefix: raw.force_model_prefix,
            force_http1: raw.force_http1,
            http2_cleartext: raw.http2_cleartext,
            disable_image_generation: raw.disable_image_generation,
            gpt_image_2_base_model,
            video_result_auth_cache_ttl,
            keyed,
            interactions_api_keys,
            xai_api_keys,
            oauth_excluded_models,
            oauth_model_alias,
            oauth_request_scoped_errors,
            payload,
            inactive_keys: super::inactive::raw_inactive_keys(&raw),
            ampcode,
            remote_management: raw.remote_management.clone(),
            usage_statistics_enabled: raw.usage_statistics_enabled,
            redis_usage_queue_retention_seconds: raw.redis_usage_queue_retention_seconds,
            auth_auto_refresh_workers: raw.auth_auto_refresh_workers,
        };
        Ok((config, v.warnings))
    }
}

/// `claude-header-defaults` and `codex-header-defaults`, trimmed (the keys
/// of them not acted on are reported by `inactive`).
fn header_defaults(raw: &RawConfig) -> super::HeaderDefaults {
    let c = &raw.claude_header_defaults;
    let t = |s: &str| s.trim().to_string();
    super::HeaderDefaults {
        claude_user_agent: t(&c.user_agent),
        claude_package_version: t(&c.package_version),
        claude_runtime_version: t(&c.runtime_version),
        claude_timeout: t(&c.timeout),
        codex_user_agent: t(&raw.codex_header_defaults.user_agent),
        codex_beta_features: t(&raw.codex_header_defaults.beta_features),
    }
}

/// The provider entry sections, validated.
struct Sections {
    keyed: Keyed,
    openai_compatibility: Vec<OpenAiCompat>,
    interactions_api_keys: Vec<ProviderKey>,
    xai_api_keys: Vec<ProviderKey>,
}

/// Reads the provider sections in [`Kind::CONFIG_ORDER`]: each keyed kind's
/// `*-api-key` list under its `Spec`'s rules, `openai-compatibility` in its
/// own shape.
fn sections(raw: &RawConfig, v: &mut V) -> Result<Sections, ConfigError> {
    let mut out = Sections {
        keyed: Default::default(),
        openai_compatibility: Vec::new(),
        interactions_api_keys: Vec::new(),
        xai_api_keys: Vec::new(),
    };
    for kind in Kind::CONFIG_ORDER {
        let spec = kind.spec();
        if kind == Kind::OpenAiCompat {
            out.openai_compatibility = openai_compat(&raw.openai_compatibility, v)?;
            continue;
        }
        let section = Section::new(spec.config_key, spec);
        out.keyed[Config::slot(kind)] = keyed_entries(&raw.keyed(kind), &section, v)?;
        // Sections of a kind's shape that no kind serves yet, read where
        // CLIProxyAPI reads them.
        if kind == Kind::Gemini {
            let section = Section::new("interactions-api-key", spec);
            let list = key_entries(&raw.interactions_api_key);
            out.interactions_api_keys = keyed_entries(&list, &section, v)?;
        } else if kind == Kind::Codex {
            let section = Section {
                no_alpha_search: true,
                ..Section::new("xai-api-key", spec)
            };
            out.xai_api_keys = keyed_entries(&key_entries(&raw.xai_api_key), &section, v)?;
        }
    }
    Ok(out)
}

/// `raw` after the v6 legacy-key migration validation applies (warnings dropped).
#[cfg(test)]
pub(super) fn migrated(mut raw: RawConfig) -> RawConfig {
    let mut v = V {
        warnings: Vec::new(),
    };
    migrate_legacy(&mut raw, &mut v);
    raw
}

/// `api-keys`: trimmed, deduplicated (constant-time compare); and whether
/// CLIProxyAPI's template keys are among them.
fn client_keys(raw: &RawConfig, v: &mut V) -> (Vec<Secret>, bool) {
    let mut api_keys: Vec<Secret> = Vec::with_capacity(raw.api_keys.len());
    let mut has_example_api_keys = false;
    for (i, k) in raw.api_keys.iter().enumerate() {
        let t = k.expose().trim();
        if t.is_empty() {
            continue;
        }
        if EXAMPLE_API_KEYS.contains(&t) {
            has_example_api_keys = true;
            v.warn(
                join_index("api-keys", i),
                "CLIProxyAPI template key; replace it with a real secret",
            );
        }
        if !api_keys.iter().any(|s| s.ct_eq(t.as_bytes())) {
            api_keys.push(Secret::new(t));
        }
    }
    (api_keys, has_example_api_keys)
}

/// `tls`: both files required when enabled.
fn tls_files(raw: &RawConfig, base_dir: &Path) -> Result<Option<TlsFiles>, ConfigError> {
    Ok(if raw.tls.enable {
        if raw.tls.cert.trim().is_empty() {
            return Err(ConfigError::new(
                "tls.cert",
                "required when tls.enable is true",
            ));
        }
        if raw.tls.key.trim().is_empty() {
            return Err(ConfigError::new(
                "tls.key",
                "required when tls.enable is true",
            ));
        }
        Some(TlsFiles {
            cert: resolve_path(&raw.tls.cert, "", base_dir, "tls.cert")?,
            key: resolve_path(&raw.tls.key, "", base_dir, "tls.key")?,
        })
    } else {
        None
    })
}

/// `routing`: strategy and session affinity.
fn routing(raw: &RawConfig) -> Result<Routing, ConfigError> {
    let strategy = RoutingStrategy::parse(&raw.routing.strategy).ok_or_else(|| {
        ConfigError::new(
            "routing.strategy",
            format!(
                "unknown strategy {:?} (allowed: round-robin/roundrobin/rr, fill-first/fillfirst/ff, weighted-round-robin/weightedroundrobin/wrr)",
                raw.routing.strategy
            ),
        )
    })?;
    Ok(Routing {
        strategy,
        session_affinity: raw.routing.session_affinity,
        session_affinity_ttl: duration_or(
            &raw.routing.session_affinity_ttl,
            DEFAULT_SESSION_AFFINITY_TTL,
            "routing.session-affinity-ttl",
        )?,
    })
}

/// `gpt-image-2-base-model`: must name a `gpt-` model, else the default.
fn gpt_image_2_base_model(raw: &RawConfig, v: &mut V) -> String {
    let t = raw.gpt_image_2_base_model.trim();
    if t.is_empty() {
        DEFAULT_GPT_IMAGE_2_BASE_MODEL.to_string()
    } else if t.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("gpt-")) {
        t.to_string()
    } else {
        v.warn(
            "gpt-image-2-base-model",
            format!("must start with \"gpt-\"; using {DEFAULT_GPT_IMAGE_2_BASE_MODEL}"),
        );
        DEFAULT_GPT_IMAGE_2_BASE_MODEL.to_string()
    }
}

/// Moves v6 flat legacy keys into their structured homes.
fn migrate_legacy(raw: &mut RawConfig, v: &mut V) {
    if !raw.generative_language_api_key.is_empty() {
        v.warn(
            "generative-language-api-key",
            "legacy key; its keys are used as gemini-api-key entries",
        );
        for key in std::mem::take(&mut raw.generative_language_api_key) {
            let t = key.expose().trim();
            if t.is_empty()
                || raw
                    .gemini_api_key
                    .iter()
                    .any(|g| g.api_key.expose().trim() == t)
            {
                continue;
            }
            raw.gemini_api_key.push(RawGeminiKey {
                api_key: Secret::new(t),
                ..Default::default()
            });
        }
    }
    let amp = &mut raw.ampcode;
    if !raw.amp_upstream_url.trim().is_empty() {
        v.warn("amp-upstream-url", "legacy key; use ampcode.upstream-url");
        if amp.upstream_url.trim().is_empty() {
            amp.upstream_url = std::mem::take(&mut raw.amp_upstream_url);
        }
    }
    if !raw.amp_upstream_api_key.expose().trim().is_empty() {
        v.warn(
            "amp-upstream-api-key",
            "legacy key; use ampcode.upstream-api-key",
        );
        if amp.upstream_api_key.expose().trim().is_empty() {
            amp.upstream_api_key = std::mem::take(&mut raw.amp_upstream_api_key);
        }
    }
    if let Some(b) = raw.amp_restrict_management_to_localhost.take() {
        v.warn(
            "amp-restrict-management-to-localhost",
            "legacy key; use ampcode.restrict-management-to-localhost",
        );
        if !amp.restrict_management_to_localhost {
            amp.restrict_management_to_localhost = b;
        }
    }
    if !raw.amp_model_mappings.is_empty() {
        v.warn(
            "amp-model-mappings",
            "legacy key; use ampcode.model-mappings",
        );
        if amp.model_mappings.is_empty() {
            amp.model_mappings = std::mem::take(&mut raw.amp_model_mappings);
        }
    }
}

/// `ampcode`, after [`migrate_legacy`]: URL trimmed, empty keys and
/// mappings dropped with a warning, regular expressions compiled
/// case-insensitively (an invalid one is skipped with a warning, as
/// CLIProxyAPI does).
fn ampcode(raw: &RawConfig, v: &mut V) -> super::amp::AmpCode {
    use super::amp::{AmpCode, AmpMapping};
    let a = &raw.ampcode;
    let mut url = a.upstream_url.trim().trim_end_matches('/').to_string();
    if !url.is_empty() {
        if let Err(e) = crate::upstream::Endpoint::parse(&url) {
            v.warn(
                "ampcode.upstream-url",
                format!("{e}; the Amp upstream is off"),
            );
            url.clear();
        }
    }
    let mut client_keys: Vec<(Secret, Secret)> = Vec::new();
    for (i, e) in a.upstream_api_keys.iter().enumerate() {
        let up = e.upstream_api_key.expose().trim();
        if up.is_empty() {
            v.warn(
                format!("ampcode.upstream-api-keys[{i}].upstream-api-key"),
                "empty; entry ignored",
            );
            continue;
        }
        for k in &e.api_keys {
            let k = k.expose().trim();
            if !k.is_empty() && !client_keys.iter().any(|(c, _)| c.expose() == k) {
                client_keys.push((Secret::new(k), Secret::new(up)));
            }
        }
    }
    let mut model_mappings = Vec::new();
    for (i, m) in a.model_mappings.iter().enumerate() {
        let (from, to) = (m.from.trim(), m.to.trim());
        if from.is_empty() || to.is_empty() {
            v.warn(
                format!("ampcode.model-mappings[{i}]"),
                "needs both from and to; ignored",
            );
            continue;
        }
        let regex = if m.regex {
            match regex::RegexBuilder::new(from)
                .case_insensitive(true)
                .build()
            {
                Ok(r) => Some(r),
                Err(e) => {
                    v.warn(
                        format!("ampcode.model-mappings[{i}].from"),
                        format!("invalid regular expression ({e}); ignored"),
                    );
                    continue;
                }
            }
        } else {
            None
        };
        model_mappings.push(AmpMapping {
            from: from.to_ascii_lowercase(),
            to: to.to_string(),
            regex,
        });
    }
    AmpCode {
        upstream_url: url,
        upstream_api_key: Secret::new(a.upstream_api_key.expose().trim()),
        client_keys,
        restrict_management_to_localhost: a.restrict_management_to_localhost,
        model_mappings,
        force_model_mappings: a.force_model_mappings,
    }
}

/// Expands `~`, joins relative paths to `base_dir`.
fn resolve_path(
    value: &str,
    default: &str,
    base_dir: &Path,
    key: &str,
) -> Result<PathBuf, ConfigError> {
    let t = value.trim();
    let t = if t.is_empty() { default } else { t };
    let expanded: PathBuf = if t == "~" || t.starts_with("~/") || t.starts_with("~\\") {
        let home = std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .ok_or_else(|| ConfigError::new(key, "starts with ~ but $HOME is not set"))?;
        let rest = t[1..].trim_start_matches(['/', '\\']);
        if rest.is_empty() {
            PathBuf::from(home)
        } else {
            PathBuf::from(home).join(rest)
        }
    } else {
        PathBuf::from(t)
    };
    Ok(if expanded.is_absolute() {
        expanded
    } else {
        base_dir.join(expanded)
    })
}

fn duration_or(text: &str, default: Duration, key: &str) -> Result<Duration, ConfigError> {
    if text.trim().is_empty() {
        return Ok(default);
    }
    duration::parse_positive(text).map_err(|m| ConfigError::new(key, m))
}

fn positive_secs(n: i64) -> Option<Duration> {
    (n > 0).then(|| Duration::from_secs(n.unsigned_abs()))
}

fn validate_live_media_relay(raw: &RawConfig) -> Result<(), ConfigError> {
    const P: &str = "codex.live-media-relay";
    let r = &raw.codex.live_media_relay;
    if r.allow_private_remote_ips.is_some() && r.disable_private_remote_ips.is_some() {
        return Err(ConfigError::new(
            format!("{P}.allow-private-remote-ips"),
            "cannot be set together with disable-private-remote-ips",
        ));
    }
    if !r.enabled {
        return Ok(());
    }
    if r.max_sessions < 0 {
        return Err(ConfigError::new(
            format!("{P}.max-sessions"),
            "must not be negative",
        ));
    }
    let ip = r.public_ip.trim();
    if !ip.is_empty() && ip.parse::<std::net::IpAddr>().is_err() {
        return Err(ConfigError::new(
            format!("{P}.public-ip"),
            format!("{ip:?} is not an IP address"),
        ));
    }
    if (r.udp_port_min == 0) != (r.udp_port_max == 0) {
        return Err(ConfigError::new(
            format!("{P}.udp-port-min"),
            "udp-port-min and udp-port-max must be set together",
        ));
    }
    if r.udp_port_min > r.udp_port_max {
        return Err(ConfigError::new(
            format!("{P}.udp-port-min"),
            "must not exceed udp-port-max",
        ));
    }
    if r.udp_port_min != 0 {
        let sessions = if r.max_sessions > 0 {
            r.max_sessions
        } else {
            32
        };
        let available = i64::from(r.udp_port_max) - i64::from(r.udp_port_min) + 1;
        if available < sessions.saturating_mul(2) {
            return Err(ConfigError::new(
                format!("{P}.udp-port-max"),
                format!(
                    "the UDP range needs at least {} ports for {sessions} sessions",
                    sessions.saturating_mul(2)
                ),
            ));
        }
    }
    for (i, server) in r.ice_servers.iter().enumerate() {
        let sp = format!("{P}.ice-servers[{i}]");
        if server.urls.is_empty() {
            return Err(ConfigError::new(
                format!("{sp}.urls"),
                "at least one URL is required",
            ));
        }
        for (j, url) in server.urls.iter().enumerate() {
            let scheme = url
                .trim()
                .split(':')
                .next()
                .unwrap_or("")
                .to_ascii_lowercase();
            if !matches!(scheme.as_str(), "stun" | "stuns" | "turn" | "turns") || !url.contains(':')
            {
                return Err(ConfigError::new(
                    format!("{sp}.urls[{j}]"),
                    "expected a stun:, stuns:, turn: or turns: URL",
                ));
            }
        }
    }
    Ok(())
}

/// `*-raw` payload values that are strings must be JSON text.
fn validate_payload(raw: &RawConfig) -> Result<(), ConfigError> {
    for (section, rules) in [
        ("payload.default-raw", &raw.payload.default_raw),
        ("payload.override-raw", &raw.payload.override_raw),
    ] {
        for (i, rule) in rules.iter().enumerate() {
            let params_path = format!("{section}[{i}].params");
            for (key, value) in rule.params.iter() {
                if let serde_json::Value::String(text) = value {
                    let t = text.trim();
                    if t.is_empty() || serde_json::from_str::<serde_json::Value>(t).is_err() {
                        return Err(ConfigError::new(
                            join_key(&params_path, key),
                            "not valid JSON (values of *-raw rules are raw JSON text)",
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

fn scoped_errors(
    list: &[RawScopedErrorRule],
    path: &str,
    v: &mut V,
) -> Result<Vec<ScopedErrorRule>, ConfigError> {
    let mut out = Vec::with_capacity(list.len());
    for (i, r) in list.iter().enumerate() {
        let rp = join_index(path, i);
        let action_text = r.action.trim().to_ascii_lowercase();
        let action = match action_text.as_str() {
            "stop" => Some(ScopedErrorAction::Stop),
            "stop-and-cooldown" => Some(ScopedErrorAction::StopAndCooldown),
            "continue" => Some(ScopedErrorAction::Continue),
            "continue-and-cooldown" => Some(ScopedErrorAction::ContinueAndCooldown),
            "" => None,
            other => {
                return Err(ConfigError::new(
                    join_key(&rp, "action"),
                    format!("unknown action {other:?} (allowed: stop, stop-and-cooldown, continue, continue-and-cooldown)"),
                ))
            }
        };
        if r.status != 0 && !(100..=599).contains(&r.status) {
            return Err(ConfigError::new(
                join_key(&rp, "status"),
                format!("{} is not an HTTP status", r.status),
            ));
        }
        let matches: Vec<String> = r
            .match_
            .iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        let match_regexr: Vec<String> = r
            .match_regexr
            .iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        let (Some(action), Ok(status)) = (action, u16::try_from(r.status)) else {
            v.warn(&rp, "rule needs status and action; ignored");
            continue;
        };
        if status == 0 || (matches.is_empty() && match_regexr.is_empty()) {
            v.warn(
                &rp,
                "rule needs status and at least one match or match-regexr; ignored",
            );
            continue;
        }
        out.push(ScopedErrorRule {
            status,
            matches,
            match_regexr,
            action,
        });
    }
    Ok(out)
}

fn oauth_excluded(map: &OrderedMap<Vec<String>>) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for (channel, patterns) in map.iter() {
        let ch = channel.trim().to_lowercase();
        let list = normalize_excluded(patterns);
        if ch.is_empty() || list.is_empty() {
            continue;
        }
        match out.iter_mut().find(|(c, _)| *c == ch) {
            Some((_, existing)) => {
                for p in list {
                    if !existing.contains(&p) {
                        existing.push(p);
                    }
                }
            }
            None => out.push((ch, list)),
        }
    }
    out
}

fn oauth_aliases(raw: &RawConfig, v: &mut V) -> Vec<(String, Vec<OAuthAlias>)> {
    let mut out: Vec<(String, Vec<OAuthAlias>)> = Vec::new();
    for (channel, aliases) in raw.oauth_model_alias.iter() {
        let ch = channel.trim().to_lowercase();
        let base = join_key("oauth-model-alias", channel);
        if ch.is_empty() {
            continue;
        }
        let mut clean: Vec<OAuthAlias> = Vec::with_capacity(aliases.len());
        for (i, a) in aliases.iter().enumerate() {
            let (name, alias) = (a.name.trim(), a.alias.trim());
            let ap = join_index(&base, i);
            if name.is_empty() || alias.is_empty() {
                v.warn(ap, "needs both name and alias; ignored");
                continue;
            }
            if name.eq_ignore_ascii_case(alias) {
                v.warn(ap, "alias equals name; ignored");
                continue;
            }
            if clean.iter().any(|c| c.alias.eq_ignore_ascii_case(alias)) {
                v.warn(ap, "alias already used in this channel; ignored");
                continue;
            }
            clean.push(OAuthAlias {
                name: name.to_string(),
                alias: alias.to_string(),
                fork: a.fork,
                display_name: a.display_name.trim().to_string(),
                force_mapping: a.force_mapping,
            });
        }
        if !clean.is_empty() {
            out.push((ch, clean));
        }
    }
    out
}

fn oauth_scoped_errors(
    map: &OrderedMap<Vec<RawScopedErrorRule>>,
    v: &mut V,
) -> Result<Vec<(String, Vec<ScopedErrorRule>)>, ConfigError> {
    let mut out = Vec::new();
    for (channel, rules) in map.iter() {
        let ch = channel.trim().to_lowercase();
        let list = scoped_errors(rules, &join_key("oauth-request-scoped-errors", channel), v)?;
        if !ch.is_empty() && !list.is_empty() {
            out.push((ch, list));
        }
    }
    Ok(out)
}
