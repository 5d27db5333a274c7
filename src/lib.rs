//! # cliproxy
//!
//! A high-throughput LLM API relay and drop-in replacement for CLIProxyAPI:
//! it reads CLIProxyAPI's `config.yaml`, serves the same routes and answers
//! with the same status codes and error shapes.
//!
//! ## The data path
//!
//! ```text
//! accept (per-core SO_REUSEPORT listener, TCP_NODELAY)          server::accept_loop
//!   -> TLS handshake when `tls.enable` (ALPN picks the handler)  server::tls, tls
//!   -> h1 parse (httparse, offsets into one owned buffer)        h1::request, server::serve
//!   -> authenticate client key (constant time)                   pipeline::auth
//!   -> route: model alias -> (provider, upstream model)          models::Registry, state
//!   -> schedule: lease a credential from this core's shard        credentials::Shard
//!   -> translate once, or rewrite only `model` (span edit)       translate::request, json
//!   -> payload rules (one-pass span edits)                       payload
//!   -> upstream: per-core pool, DNS off-core, rustls, proxies    upstream
//!   -> relay: whole SSE events, or translated event by event     pipeline::forward, translate::stream
//!   (paths and auth headers per provider kind: providers)
//!   -> release the lease with the outcome (cooldown, next try)   credentials::RetryPlan
//! control thread: config reload, DNS refresh, signals -> per-worker inbox   control, runtime
//! ```
//!
//! ## Module map
//!
//! - [`runtime`]: worker threads (one monoio runtime per core, io_uring or
//!   epoll), per-core context, control messages, shutdown and drain.
//! - [`server`]: accept loop, connection keep-alive loop, owned-buffer I/O;
//!   generic over its [`server::Host`] (the runtime) and [`server::Handler`]
//!   (the request path), so it imports neither.
//! - [`h1`]: HTTP/1.1 wire code with no I/O: heads, chunked bodies, encoders, limits.
//! - [`pipeline`]: the request path: routing, authentication, handlers,
//!   replies; `pipeline::forward` holds its stages (route, attempt, upstream
//!   request, relays, error reply).
//! - [`providers`]: the provider table: one module per provider kind.
//! - [`upstream`]: endpoints, connection pool, TCP/TLS connect, proxies
//!   (HTTP(S) CONNECT, SOCKS5), response bodies.
//! - [`state`]: the immutable snapshot (config + routes + endpoints) requests read.
//! - [`config`]: CLIProxyAPI's `config.yaml`, raw shapes and validation.
//! - [`control`]: the control thread: config watching, DNS refresh, signals.
//! - [`credentials`]: the scheduler: per-core shards over a shared atomic
//!   cooldown table, selection strategies, retry plan, session affinity.
//! - [`models`]: the model registry: catalog defaults, aliases, prefixes, listings.
//! - [`translate`]: request, response and stream translators between formats.
//! - [`tls`]: rustls sessions over monoio owned-buffer I/O (upstream client and HTTPS listener).
//! - [`sse`]: incremental SSE scanner and writer.
//! - [`payload`]: `payload` rules as one-pass span edits.
//! - [`json`]: span scanning of JSON bodies (edit in place, no re-serialising).
//! - [`secret`]: keys as a type that never prints.
//! - [`error`]: the request path's error model (kind, side, retry decision)
//!   and its mappings to status, client body, SSE event and scheduler outcome.

// A panic on the request path takes a worker (and every connection on its
// core) down: bad input must become an error reply instead.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "library code answers bad input with an error, never a panic"
)]
// A worker runs one event loop for all of a core's connections: a blocking
// call (clippy.toml lists them) stalls every one of them.
#![deny(
    clippy::disallowed_methods,
    reason = "no blocking calls on workers; off-worker sites allow it with their reason"
)]

pub mod accounts;
pub mod amp;
pub mod clock;
pub mod config;
pub mod control;
pub mod credentials;
pub mod error;
pub mod h1;
pub mod h2io;
pub mod json;
pub mod log;
pub mod management;
pub mod models;
pub mod obs;
pub mod payload;
pub mod pipeline;
pub mod providers;
pub mod random;
pub mod runtime;
pub mod secret;
pub mod server;
pub mod sse;
pub mod state;
pub mod tls;
pub mod tokens;
pub mod translate;
pub mod upstream;
pub mod ws;
pub mod yaml;

/// Starts the server: the runtime's workers with the request path
/// ([`pipeline::Proxy`]) as the connection handler.
pub fn start(
    snap: std::sync::Arc<state::Snapshot>,
    opts: &runtime::Options,
) -> std::io::Result<runtime::ServerHandle> {
    runtime::start::<pipeline::Proxy>(snap, opts)
}
