//! Translation between wire formats: whole-body request translators, non-stream
//! response translators and error bodies (`request`, `response`), incremental
//! stream translators (`stream`), and thinking/reasoning helpers (`thinking`).
pub mod completions;
pub mod error;
pub mod format;
pub mod request;
pub mod response;
pub mod stream;
pub mod thinking;
pub mod tools;
