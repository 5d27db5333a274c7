//! Raw shape of the `payload` section of `config.yaml` (decoded by the config
//! loader, compiled by [`super::PayloadRules::compile`] during config
//! validation).

use crate::yaml::{raw_struct, OrderedMap};

raw_struct! {
    /// `payload`.
    pub struct RawPayload {
        /// Set when missing.
        "default" => default: Vec<RawPayloadRule>,
        /// Set raw JSON when missing.
        "default-raw" => default_raw: Vec<RawPayloadRule>,
        /// Always set.
        "override" => override_: Vec<RawPayloadRule>,
        /// Always set raw JSON.
        "override-raw" => override_raw: Vec<RawPayloadRule>,
        /// Delete paths.
        "filter" => filter: Vec<RawPayloadFilterRule>,
    }
}

raw_struct! {
    /// `payload.{default,default-raw,override,override-raw}[]`.
    pub struct RawPayloadRule {
        /// Which requests the rule applies to.
        "models" => models: Vec<RawPayloadModel>,
        /// JSON path -> value (raw JSON text for *-raw).
        "params" => params: OrderedMap<serde_json::Value>,
    }
}

raw_struct! {
    /// `payload.filter[]`.
    pub struct RawPayloadFilterRule {
        /// Which requests the rule applies to.
        "models" => models: Vec<RawPayloadModel>,
        /// JSON paths to delete.
        "params" => params: Vec<String>,
    }
}

raw_struct! {
    /// `payload.*[].models[]`.
    pub struct RawPayloadModel {
        /// Model name (wildcards).
        "name" => name: String,
        /// Target format.
        "protocol" => protocol: String,
        /// Source format.
        "from-protocol" => from_protocol: String,
        /// Request header globs.
        "headers" => headers: OrderedMap<String>,
        /// Payload paths that must equal values.
        "match" => match_: Vec<OrderedMap<serde_json::Value>>,
        /// Payload paths that must not equal values.
        "not-match" => not_match: Vec<OrderedMap<serde_json::Value>>,
        /// Paths that must exist.
        "exist" => exist: Vec<String>,
        /// Paths that must be missing or null.
        "not-exist" => not_exist: Vec<String>,
    }
}
