//! The provider table: every kind of upstream entry, defined in one place.
//!
//! Each kind has its own module (`openai_compat`, `claude`, `gemini`,
//! `vertex`, `codex`) holding a [`Spec`]: its config section, the wire format
//! it speaks, its model catalog, the owner and type its models list under,
//! and its endpoint path and auth header rules. [`Kind::spec`] is one
//! exhaustive match, so a new kind that lacks a module does not compile.
//! The registry ([`crate::models`]), the snapshot ([`crate::state`]) and the
//! request builder (`pipeline::forward`) read the table instead of matching
//! on kinds themselves.

mod claude;
mod codex;
mod gemini;
mod openai_compat;
mod vertex;

use crate::translate::format::Format;

/// What kind of upstream an entry is (reference §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `gemini-api-key[i]`.
    Gemini,
    /// `claude-api-key[i]`.
    Claude,
    /// `codex-api-key[i]`.
    Codex,
    /// `openai-compatibility[i]`.
    OpenAiCompat,
    /// A Google-hosted Gemini entry with its own endpoint layout.
    Vertex,
}

/// Which built-in model list serves an entry that lists no models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Catalog {
    /// None: the entry lists its models.
    None,
    /// Claude defaults.
    Claude,
    /// Gemini defaults.
    Gemini,
    /// Codex defaults.
    Codex,
}

/// How the credential travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: Bearer <key>`.
    Bearer,
    /// `<header>: <key>`.
    Header(&'static str),
    /// `<header>: <key>` on the provider's default host, Bearer on a custom
    /// base URL (a gateway in front of the provider).
    HeaderOnDefaultHost(&'static str),
}

/// Which upstream call a request makes (it picks the path).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Call {
    /// The client wants a stream.
    pub stream: bool,
    /// A token-count request.
    pub count: bool,
}

/// Which earlier entry of the same list makes an entry a duplicate
/// (the duplicate is dropped with a warning).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dedup {
    /// Duplicates are kept.
    None,
    /// Same key, base URL, proxy, prefix and headers (CLIProxyAPI's gemini identity).
    Identity,
    /// Same key and base URL.
    KeyAndBaseUrl,
}

/// How config validation treats the entries of a keyed section (`*-api-key`):
/// what an entry must have to be kept and how its `models` list reads. Plain
/// data, so the config layer applies it without knowing the kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entries {
    /// An entry with neither `api-key` nor `base-url` is dropped (warned at the entry).
    pub needs_key_or_base_url: bool,
    /// An entry without `api-key` is dropped (warned at its `api-key`).
    pub needs_key: bool,
    /// An entry without `base-url` is dropped (warned at its `base-url`).
    pub needs_base_url: bool,
    /// A non-empty `base-url` must be an `http(s)://` URL (an error otherwise).
    pub checks_base_url: bool,
    /// Which entries count as duplicates.
    pub dedup: Dedup,
    /// Each `models[]` item needs both `name` and `alias` (else only `name`).
    pub models_need_alias: bool,
}

impl Entries {
    /// Rules of a kind whose entries are not a `*-api-key` list.
    pub const NONE: Entries = Entries {
        needs_key_or_base_url: false,
        needs_key: false,
        needs_base_url: false,
        checks_base_url: false,
        dedup: Dedup::None,
        models_need_alias: false,
    };
}

/// One provider kind's definition.
#[derive(Debug)]
pub struct Spec {
    /// Config key of the entry list (`claude-api-key`, ...).
    pub config_key: &'static str,
    /// How config validation keeps and normalises the entries.
    pub entries: Entries,
    /// CLIProxyAPI's provider identifier (`claude`, `openai-compatibility`, ...).
    pub id: &'static str,
    /// The wire format the upstream speaks.
    pub format: Format,
    /// Default base URL when an entry gives none (`""`: the entry must give one).
    pub default_base: &'static str,
    /// Built-in models for entries that list none.
    pub catalog: Catalog,
    /// `owned_by` of its models (`""`: the entry's own name).
    pub owned_by: &'static str,
    /// CLIProxyAPI model `type` in listings.
    pub model_type: &'static str,
    /// `payload` rule `protocol` name.
    pub payload_protocol: &'static str,
    /// How the key is sent.
    pub auth: Auth,
    /// The upstream answers with SSE whatever the client asked (requests
    /// are always sent as streams).
    pub always_streams: bool,
    /// The upstream has a token-count endpoint (others count locally).
    pub counts_tokens: bool,
    /// Sends `Anthropic-Version` and forwards the client's `anthropic-beta`.
    pub anthropic_headers: bool,
    /// `User-Agent` sent when the entry sets none.
    pub user_agent: Option<&'static [u8]>,
}

impl Kind {
    /// Every kind, in the order the snapshot lists keyed entries.
    pub const ALL: [Kind; 5] = [
        Kind::OpenAiCompat,
        Kind::Claude,
        Kind::Gemini,
        Kind::Vertex,
        Kind::Codex,
    ];

    /// The order config validation reads the entry sections in (the first
    /// invalid value is the one reported; warnings come in this order).
    pub const CONFIG_ORDER: [Kind; 5] = [
        Kind::Gemini,
        Kind::Codex,
        Kind::Claude,
        Kind::Vertex,
        Kind::OpenAiCompat,
    ];

    /// The order the model registry lists entries in (CLIProxyAPI's).
    pub const REGISTRY_ORDER: [Kind; 5] = [
        Kind::Gemini,
        Kind::Claude,
        Kind::Codex,
        Kind::OpenAiCompat,
        Kind::Vertex,
    ];

    /// This kind's definition.
    pub fn spec(self) -> &'static Spec {
        match self {
            Kind::OpenAiCompat => &openai_compat::SPEC,
            Kind::Claude => &claude::SPEC,
            Kind::Gemini => &gemini::SPEC,
            Kind::Vertex => &vertex::SPEC,
            Kind::Codex => &codex::SPEC,
        }
    }

    /// Appends the request path after the entry's base path.
    pub fn write_path(self, out: &mut Vec<u8>, upstream_model: &str, call: Call) {
        match self {
            Kind::OpenAiCompat => openai_compat::write_path(out),
            Kind::Claude => claude::write_path(out, call),
            Kind::Gemini => gemini::write_path(out, upstream_model, call),
            Kind::Vertex => vertex::write_path(out, upstream_model, call),
            Kind::Codex => codex::write_path(out),
        }
    }

    /// The wire format this upstream speaks.
    pub fn format(self) -> Format {
        self.spec().format
    }

    /// Config key of the entry list.
    pub fn config_key(self) -> &'static str {
        self.spec().config_key
    }

    /// Default base URL when an entry gives none.
    pub fn default_base(self) -> &'static str {
        self.spec().default_base
    }

    /// CLIProxyAPI's provider identifier.
    pub fn as_str(self) -> &'static str {
        self.spec().id
    }
}

/// Appends `s` percent-encoded for a URL path segment.
pub(crate) fn push_segment(out: &mut Vec<u8>, s: &str) {
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'@') {
            out.push(b);
        } else {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        }
    }
}

/// Google's `models/{model}:{action}` tail (Gemini and its hosted variants).
pub(crate) fn write_google_model_path(out: &mut Vec<u8>, prefix: &[u8], model: &str, call: Call) {
    let action = if call.count {
        "countTokens"
    } else if call.stream {
        "streamGenerateContent?alt=sse"
    } else {
        "generateContent"
    };
    out.extend_from_slice(prefix);
    push_segment(out, model);
    out.push(b':');
    out.extend_from_slice(action.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(kind: Kind, model: &str, stream: bool, count: bool) -> String {
        let mut out = Vec::new();
        kind.write_path(&mut out, model, Call { stream, count });
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    fn every_kind_is_listed_once_in_each_order() {
        for order in [Kind::ALL, Kind::REGISTRY_ORDER, Kind::CONFIG_ORDER] {
            for k in Kind::ALL {
                assert_eq!(order.iter().filter(|&&o| o == k).count(), 1, "{k:?}");
            }
        }
        let mut keys: Vec<&str> = Kind::ALL.iter().map(|k| k.config_key()).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), Kind::ALL.len(), "config keys are distinct");
    }

    #[test]
    fn paths_follow_the_reference() {
        assert_eq!(
            path(Kind::OpenAiCompat, "m", true, false),
            "/chat/completions"
        );
        assert_eq!(
            path(Kind::Claude, "m", false, false),
            "/v1/messages?beta=true"
        );
        assert_eq!(
            path(Kind::Claude, "m", false, true),
            "/v1/messages/count_tokens?beta=true"
        );
        assert_eq!(
            path(Kind::Gemini, "gemini-2.5-pro", true, false),
            "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse"
        );
        assert_eq!(
            path(Kind::Gemini, "a b/c", false, false),
            "/v1beta/models/a%20b%2Fc:generateContent"
        );
        assert_eq!(
            path(Kind::Vertex, "g", false, true),
            "/v1/publishers/google/models/g:countTokens"
        );
        assert_eq!(path(Kind::Codex, "m", false, false), "/responses");
    }

    #[test]
    fn formats_and_auth() {
        assert_eq!(Kind::Vertex.format(), Format::Gemini);
        assert_eq!(Kind::Codex.format(), Format::Codex);
        assert!(Kind::Codex.spec().always_streams);
        assert!(!Kind::OpenAiCompat.spec().counts_tokens);
        assert_eq!(
            Kind::Claude.spec().auth,
            Auth::HeaderOnDefaultHost("x-api-key")
        );
        assert_eq!(Kind::Gemini.spec().auth, Auth::Header("x-goog-api-key"));
        assert_eq!(Kind::OpenAiCompat.as_str(), "openai-compatibility");
    }
}
