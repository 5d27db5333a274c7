//! `vertex-api-key`: Gemini models on Vertex AI with an API key,
//! `x-goog-api-key`. Same wire format and model list as Gemini.

use super::{Auth, Call, Catalog, Dedup, Entries, Spec};
use crate::translate::format::Format;

pub(super) const SPEC: Spec = Spec {
    config_key: "vertex-api-key",
    entries: Entries {
        needs_key_or_base_url: false,
        needs_key: true,
        needs_base_url: false,
        checks_base_url: true,
        dedup: Dedup::KeyAndBaseUrl,
        models_need_alias: true,
    },
    id: "vertex",
    format: Format::Gemini,
    default_base: "https://aiplatform.googleapis.com",
    catalog: Catalog::Gemini,
    owned_by: "google",
    model_type: "vertex",
    payload_protocol: "gemini",
    auth: Auth::Header("x-goog-api-key"),
    always_streams: false,
    counts_tokens: true,
    anthropic_headers: false,
    user_agent: None,
};

/// `{base}/v1/publishers/google/models/{model}:{action}`.
pub(super) fn write_path(out: &mut Vec<u8>, model: &str, call: Call) {
    super::write_google_model_path(out, b"/v1/publishers/google/models/", model, call);
}
