//! Path-aware decoding of a parsed YAML tree into raw config shapes (the
//! config's `raw` layer and the `payload` section's), with the load error and
//! warning types. Below both `config` and `payload`, so neither imports the other
//! to share it.
//!
//! Why not plain `serde::Deserialize` derive: serde's derive neither reports the
//! key path of a type error nor lists the keys it ignored. Here every raw struct
//! is declared once with the [`raw_struct!`] macro, which generates the struct, its
//! `Default` (the CLIProxyAPI defaults), the list of known keys and a decoder
//! that:
//! - reports an unknown key as a [`Warning`] carrying its full key path;
//! - reports a wrong type as a [`ConfigError`] carrying the exact key path
//!   (`openai-compatibility[0].api-key-entries[2].api-key`);
//! - treats an explicit `null` like an absent key (the default stays), which is
//!   what Go's yaml.v3 does for scalar fields.
//!
//! Every raw struct also implements `serde::Deserialize` (through
//! `serde_yaml::Value`), so it can be embedded in other serde shapes.

use serde_yaml::Value;

use std::fmt;

use crate::secret::Secret;

/// A load failure: the key path (`""` for the file as a whole) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Where, e.g. `openai-compatibility[1].base-url`; `""` for the whole file.
    pub key_path: String,
    /// What is wrong.
    pub message: String,
}

impl ConfigError {
    /// A new error at `key_path`.
    pub fn new(key_path: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            key_path: key_path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "config: {}: {}", self.key_path, self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Something worth telling the operator that does not stop the load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Where.
    pub key_path: String,
    /// What.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "config: {}: {}", self.key_path, self.message)
    }
}

/// Decoding context: collects warnings.
#[derive(Debug, Default)]
pub struct Cx {
    pub(crate) warnings: Vec<Warning>,
}

impl Cx {
    /// Records an unknown key.
    pub(crate) fn unknown(&mut self, key_path: String) {
        self.warnings.push(Warning {
            key_path,
            message: "unknown key (ignored)".to_string(),
        });
    }
}

/// Appends a mapping key to a key path. Keys made of `[A-Za-z0-9_-]` are joined
/// with `.`; any other key is written as `["..."]` (JSON string escaping) so that
/// keys such as payload paths (`a.b.c`) stay unambiguous.
pub fn join_key(path: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    let mut out = String::with_capacity(path.len() + key.len() + 4);
    out.push_str(path);
    if plain {
        if !path.is_empty() {
            out.push('.');
        }
        out.push_str(key);
    } else {
        out.push('[');
        // A string always serialises; fall back to Debug quoting just in case.
        match serde_json::to_string(key) {
            Ok(quoted) => out.push_str(&quoted),
            Err(_) => out.push_str(&format!("{key:?}")),
        }
        out.push(']');
    }
    out
}

/// Appends a sequence index to a key path.
pub fn join_index(path: &str, index: usize) -> String {
    format!("{path}[{index}]")
}

/// Strips YAML tags (`!!str`, `!custom`) down to the tagged value.
pub fn untag(mut v: &Value) -> &Value {
    while let Value::Tagged(t) = v {
        v = &t.value;
    }
    v
}

/// A short name of a YAML value's kind for error messages.
pub fn kind(v: &Value) -> &'static str {
    match untag(v) {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a float",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

/// A type error at `path`.
pub fn type_error(path: &str, expected: &str, found: &Value) -> ConfigError {
    ConfigError::new(path, format!("expected {expected}, found {}", kind(found)))
}

/// A scalar key rendered as a string (YAML allows `1: x`, Go stringifies it).
pub fn key_string(k: &Value, path: &str) -> Result<String, ConfigError> {
    match untag(k) {
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Null => Ok(String::new()),
        other => Err(type_error(path, "a scalar mapping key", other)),
    }
}

/// Decoding from a YAML node at a key path.
pub trait FromYaml: Sized {
    /// Decodes `v` (never `null`: callers keep the default for `null`).
    fn from_yaml(v: &Value, path: &str, cx: &mut Cx) -> Result<Self, ConfigError>;
}

impl FromYaml for bool {
    fn from_yaml(v: &Value, path: &str, _cx: &mut Cx) -> Result<Self, ConfigError> {
        match untag(v) {
            Value::Bool(b) => Ok(*b),
            // yaml.v3 still accepts YAML 1.1 booleans when the target is a bool.
            Value::String(s) => match s.as_str() {
                "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "true" | "True"
                | "TRUE" => Ok(true),
                "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "false" | "False"
                | "FALSE" => Ok(false),
                _ => Err(type_error(path, "a boolean", v)),
            },
            other => Err(type_error(path, "a boolean", other)),
        }
    }
}

impl FromYaml for i64 {
    fn from_yaml(v: &Value, path: &str, _cx: &mut Cx) -> Result<Self, ConfigError> {
        match untag(v) {
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Ok(i)
                } else if n.as_u64().is_some() {
                    Err(ConfigError::new(path, "integer out of range"))
                } else {
                    Err(type_error(path, "an integer", v))
                }
            }
            other => Err(type_error(path, "an integer", other)),
        }
    }
}

impl FromYaml for u16 {
    fn from_yaml(v: &Value, path: &str, cx: &mut Cx) -> Result<Self, ConfigError> {
        let i = i64::from_yaml(v, path, cx)?;
        u16::try_from(i).map_err(|_| ConfigError::new(path, format!("{i} is not in 0..=65535")))
    }
}

impl FromYaml for String {
    fn from_yaml(v: &Value, path: &str, _cx: &mut Cx) -> Result<Self, ConfigError> {
        // yaml.v3 decodes any scalar into a string field.
        match untag(v) {
            Value::String(s) => Ok(s.clone()),
            Value::Bool(b) => Ok(b.to_string()),
            Value::Number(n) => Ok(n.to_string()),
            other => Err(type_error(path, "a string", other)),
        }
    }
}

impl FromYaml for Secret {
    fn from_yaml(v: &Value, path: &str, cx: &mut Cx) -> Result<Self, ConfigError> {
        String::from_yaml(v, path, cx).map(Secret::new)
    }
}

impl<T: FromYaml> FromYaml for Option<T> {
    fn from_yaml(v: &Value, path: &str, cx: &mut Cx) -> Result<Self, ConfigError> {
        T::from_yaml(v, path, cx).map(Some)
    }
}

impl<T: FromYaml + Default> FromYaml for Vec<T> {
    fn from_yaml(v: &Value, path: &str, cx: &mut Cx) -> Result<Self, ConfigError> {
        match untag(v) {
            Value::Sequence(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    if untag(item).is_null() {
                        out.push(T::default());
                    } else {
                        out.push(T::from_yaml(item, &join_index(path, i), cx)?);
                    }
                }
                Ok(out)
            }
            other => Err(type_error(path, "a list", other)),
        }
    }
}

impl FromYaml for Value {
    fn from_yaml(v: &Value, _path: &str, _cx: &mut Cx) -> Result<Self, ConfigError> {
        Ok(v.clone())
    }
}

impl FromYaml for serde_json::Value {
    fn from_yaml(v: &Value, path: &str, _cx: &mut Cx) -> Result<Self, ConfigError> {
        yaml_to_json(v, path)
    }
}

/// Converts a YAML value to JSON (mapping keys are stringified; tags dropped).
pub fn yaml_to_json(v: &Value, path: &str) -> Result<serde_json::Value, ConfigError> {
    Ok(match untag(v) {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                serde_json::Value::from(i)
            } else if let Some(u) = n.as_u64() {
                serde_json::Value::from(u)
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                match serde_json::Number::from_f64(f) {
                    Some(num) => serde_json::Value::Number(num),
                    None => {
                        return Err(ConfigError::new(
                            path,
                            "NaN and infinity cannot be represented in JSON",
                        ))
                    }
                }
            }
        }
        Value::String(s) => serde_json::Value::String(s.clone()),
        Value::Sequence(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                out.push(yaml_to_json(item, &join_index(path, i))?);
            }
            serde_json::Value::Array(out)
        }
        Value::Mapping(m) => {
            let mut out = serde_json::Map::with_capacity(m.len());
            for (k, val) in m {
                let key = key_string(k, path)?;
                let child = join_key(path, &key);
                out.insert(key, yaml_to_json(val, &child)?);
            }
            serde_json::Value::Object(out)
        }
        Value::Tagged(_) => serde_json::Value::Null, // unreachable: untag() removed tags
    })
}

/// A YAML mapping with free-form keys, in file order (e.g. `headers`,
/// `oauth-model-alias`, `plugins.configs`).
#[derive(Debug, Clone, PartialEq)]
pub struct OrderedMap<T>(pub Vec<(String, T)>);

impl<T> Default for OrderedMap<T> {
    fn default() -> Self {
        OrderedMap(Vec::new())
    }
}

impl<T> OrderedMap<T> {
    /// The value of the first entry named `key`.
    pub fn get(&self, key: &str) -> Option<&T> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
    /// Entries in file order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &T)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<T: FromYaml + Default> FromYaml for OrderedMap<T> {
    fn from_yaml(v: &Value, path: &str, cx: &mut Cx) -> Result<Self, ConfigError> {
        match untag(v) {
            Value::Mapping(m) => {
                let mut out = Vec::with_capacity(m.len());
                for (k, val) in m {
                    let key = key_string(k, path)?;
                    let child = join_key(path, &key);
                    let item = if untag(val).is_null() {
                        T::default()
                    } else {
                        T::from_yaml(val, &child, cx)?
                    };
                    out.push((key, item));
                }
                Ok(OrderedMap(out))
            }
            other => Err(type_error(path, "a mapping", other)),
        }
    }
}

/// Declares a raw config struct: fields, CLIProxyAPI defaults, known keys and a
/// path-aware decoder (see the module docs).
///
/// ```ignore
/// raw_struct! {
///     /// `tls` section.
///     pub struct RawTls {
///         /// Serve HTTPS.
///         "enable" => enable: bool = false,
///     }
/// }
/// ```
#[macro_export]
#[doc(hidden)]
macro_rules! __cliproxy_raw_struct {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                $key:literal => $field:ident : $ty:ty $(= $default:expr)?,
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $name {
            $(
                $(#[$fmeta])*
                pub $field: $ty,
            )*
        }

        impl Default for $name {
            fn default() -> Self {
                Self {
                    $( $field: $crate::__cliproxy_raw_struct!(@default $($default)?), )*
                }
            }
        }

        impl $name {
            /// The YAML keys this section knows.
            pub const KEYS: &'static [&'static str] = &[$($key),*];
        }

        impl $crate::yaml::FromYaml for $name {
            fn from_yaml(
                v: &serde_yaml::Value,
                path: &str,
                cx: &mut $crate::yaml::Cx,
            ) -> Result<Self, $crate::yaml::ConfigError> {
                use $crate::yaml as de;
                let map = match de::untag(v) {
                    serde_yaml::Value::Mapping(m) => m,
                    other => return Err(de::type_error(path, "a mapping", other)),
                };
                let mut out = Self::default();
                for (k, val) in map {
                    let key = de::key_string(k, path)?;
                    match key.as_str() {
                        $(
                            $key => {
                                if !de::untag(val).is_null() {
                                    out.$field = de::FromYaml::from_yaml(
                                        val,
                                        &de::join_key(path, $key),
                                        cx,
                                    )?;
                                }
                            }
                        )*
                        _ => cx.unknown(de::join_key(path, &key)),
                    }
                }
                Ok(out)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let v = <serde_yaml::Value as serde::Deserialize>::deserialize(d)?;
                let mut cx = $crate::yaml::Cx::default();
                if v.is_null() {
                    return Ok(Self::default());
                }
                <Self as $crate::yaml::FromYaml>::from_yaml(&v, "", &mut cx)
                    .map_err(<D::Error as serde::de::Error>::custom)
            }
        }
    };
    (@default) => { Default::default() };
    (@default $e:expr) => { $e };
}

pub(crate) use crate::__cliproxy_raw_struct as raw_struct;
