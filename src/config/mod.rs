//! STUB config (replaced by the full module).
use crate::secret::Secret;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Config {
    pub host: String,
    pub port: u16,
    pub api_keys: Vec<Secret>,
    pub auth_dir: PathBuf,
    pub debug: bool,
    pub request_retry: u32,
    pub body_limit: usize,
    pub openai_compatibility: Vec<OpenAiCompat>,
}
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct OpenAiCompat {
    pub name: String,
    pub base_url: String,
    #[serde(default)]
    pub api_key_entries: Vec<ApiKeyEntry>,
    #[serde(default)]
    pub models: Vec<ModelAlias>,
    #[serde(default, skip)]
    pub headers: Vec<(String, String)>,
    #[serde(default)]
    pub prefix: Option<String>,
    #[serde(default)]
    pub excluded_models: Vec<String>,
    #[serde(default)]
    pub priority: i32,
    #[serde(default)]
    pub disabled: bool,
}
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ApiKeyEntry {
    pub api_key: Secret,
    #[serde(default)]
    pub proxy_url: Option<String>,
    #[serde(default)]
    pub weight: u32,
}
#[derive(Debug, Clone, serde::Deserialize)]
pub struct ModelAlias {
    pub name: String,
    #[serde(default)]
    pub alias: String,
}
#[derive(Debug)]
pub struct ConfigError {
    pub key_path: String,
    pub message: String,
}
impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "config: {}: {}", self.key_path, self.message)
    }
}
#[derive(Debug)]
pub struct Warning {
    pub key_path: String,
    pub message: String,
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "kebab-case", default)]
struct Raw {
    host: String,
    port: Option<u16>,
    api_keys: Vec<String>,
    auth_dir: Option<String>,
    debug: bool,
    request_retry: Option<u32>,
    openai_compatibility: Vec<OpenAiCompat>,
}

pub fn parse_str(yaml: &str, base_dir: &Path) -> Result<(Config, Vec<Warning>), ConfigError> {
    let raw: Raw = if yaml.trim().is_empty() {
        Raw::default()
    } else {
        serde_yaml::from_str(yaml).map_err(|e| ConfigError {
            key_path: String::new(),
            message: e.to_string(),
        })?
    };
    let auth_dir = raw.auth_dir.unwrap_or_else(|| "~/.cli-proxy-api".into());
    let auth_dir = if let Some(rest) = auth_dir.strip_prefix("~") {
        PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(rest.trim_start_matches('/'))
    } else {
        let p = PathBuf::from(auth_dir);
        if p.is_relative() {
            base_dir.join(p)
        } else {
            p
        }
    };
    let mut keys: Vec<Secret> = vec![];
    for k in raw.api_keys {
        let k = k.trim();
        if !k.is_empty() && !keys.iter().any(|s| s.expose() == k) {
            keys.push(Secret::new(k));
        }
    }
    Ok((
        Config {
            host: raw.host,
            port: raw.port.unwrap_or(8317),
            api_keys: keys,
            auth_dir,
            debug: raw.debug,
            request_retry: raw.request_retry.unwrap_or(3),
            body_limit: crate::h1::DEFAULT_BODY_LIMIT,
            openai_compatibility: raw
                .openai_compatibility
                .into_iter()
                .filter(|c| !c.disabled && !c.base_url.is_empty())
                .map(|mut c| {
                    c.base_url = c.base_url.trim_end_matches('/').to_string();
                    c
                })
                .collect(),
        },
        vec![],
    ))
}
pub fn load_file(path: &Path) -> Result<(Config, Vec<Warning>), ConfigError> {
    let s = std::fs::read_to_string(path).map_err(|e| ConfigError {
        key_path: String::new(),
        message: format!("cannot read {}: {e}", path.display()),
    })?;
    parse_str(&s, path.parent().unwrap_or(Path::new(".")))
}
pub fn excluded(patterns: &[String], model: &str) -> bool {
    let m = model.to_ascii_lowercase();
    patterns.iter().any(|p| {
        let p = p.to_ascii_lowercase();
        match (p.starts_with('*'), p.ends_with('*') && p.len() > 1) {
            (true, true) => m.contains(&p[1..p.len() - 1]),
            (true, false) => m.ends_with(&p[1..]),
            (false, true) => m.starts_with(&p[..p.len() - 1]),
            _ => m == p,
        }
    })
}
