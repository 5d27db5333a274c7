//! The CLI login flows (`-login`, `-claude-login`, `-codex-login`,
//! `-codex-device-login`): PKCE with a local callback server, or the device
//! flow; the auth file is written to `auth-dir` in CLIProxyAPI's format.
