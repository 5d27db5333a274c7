//! Upstream request shapes for OAuth accounts (headers each provider's
//! client sends, envelopes), as CLIProxyAPI's executors send them.
