//! `gemini-api-key`: the Gemini API, `x-goog-api-key`.

use super::{Auth, Call, Catalog, Dedup, Entries, Spec};
use crate::translate::format::Format;

pub(super) const SPEC: Spec = Spec {
    config_key: "gemini-api-key",
    entries: Entries {
        needs_key_or_base_url: true,
        needs_key: false,
        needs_base_url: false,
        checks_base_url: false,
        dedup: Dedup::Identity,
        models_need_alias: false,
    },
    id: "gemini",
    format: Format::Gemini,
    default_base: "https://generativelanguage.googleapis.com",
    catalog: Catalog::Gemini,
    owned_by: "google",
    model_type: "gemini",
    payload_protocol: "gemini",
    auth: Auth::Header("x-goog-api-key"),
    always_streams: false,
    counts_tokens: true,
    anthropic_headers: false,
    user_agent: None,
};

/// `{base}/v1beta/models/{model}:{action}`.
pub(super) fn write_path(out: &mut Vec<u8>, model: &str, call: Call) {
    super::write_google_model_path(out, b"/v1beta/models/", model, call);
}
