//! Translation between wire formats: whole-body request translators (`request`),
//! non-stream response translators (`response`), incremental stream translators
//! (`stream`), per-format error bodies and the one provider-error table (`error`), and
//! thinking/reasoning helpers (`thinking`). `request`, `response` and `stream` depend on
//! `error`, never the reverse, and `translate` never imports `pipeline`.
pub mod completions;
pub mod error;
pub mod format;
pub mod request;
pub mod response;
pub mod stream;
pub mod thinking;
pub mod tools;
