//! Proxy URLs (`proxy-url`, global and per credential).
//!
//! Accepted: `socks5://`, `socks5h://`, `http://`, `https://` (scheme
//! case-insensitive), optional `user[:password]@` (percent-decoded), a host name,
//! IPv4 or bracketed IPv6 address, optional port (default 1080 for SOCKS, 80 for
//! http, 443 for https). Any path, query or fragment is ignored, as Go's transport
//! does. Per-credential values may also be `direct` or `none` (bypass every proxy).

use std::fmt;

use crate::secret::Secret;

/// Proxy protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyScheme {
    /// SOCKS5, names resolved locally.
    Socks5,
    /// SOCKS5, names resolved by the proxy.
    Socks5h,
    /// HTTP CONNECT over plain TCP.
    Http,
    /// HTTP CONNECT over TLS to the proxy.
    Https,
}

impl ProxyScheme {
    /// The scheme as written in a URL.
    pub fn as_str(self) -> &'static str {
        match self {
            ProxyScheme::Socks5 => "socks5",
            ProxyScheme::Socks5h => "socks5h",
            ProxyScheme::Http => "http",
            ProxyScheme::Https => "https",
        }
    }

    /// The port used when the URL has none.
    pub fn default_port(self) -> u16 {
        match self {
            ProxyScheme::Socks5 | ProxyScheme::Socks5h => 1080,
            ProxyScheme::Http => 80,
            ProxyScheme::Https => 443,
        }
    }
}

/// A parsed proxy URL. `Display` hides the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyUrl {
    /// Protocol.
    pub scheme: ProxyScheme,
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// Port.
    pub port: u16,
    /// User name, percent-decoded.
    pub username: Option<String>,
    /// Password, percent-decoded.
    pub password: Option<Secret>,
}

impl fmt::Display for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.scheme.as_str())?;
        if let Some(u) = &self.username {
            f.write_str(u)?;
            if self.password.is_some() {
                f.write_str(":****")?;
            }
            f.write_str("@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// A per-credential proxy setting.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ProxySetting {
    /// No value: use the global `proxy-url` (if any).
    #[default]
    Inherit,
    /// `direct` / `none`: connect directly.
    Direct,
    /// A proxy.
    Proxy(ProxyUrl),
}

impl ProxySetting {
    /// Parses `""` (inherit), `direct`/`none` (case-insensitive) or a proxy URL.
    pub fn parse(s: &str) -> Result<ProxySetting, String> {
        let t = s.trim();
        if t.is_empty() {
            Ok(ProxySetting::Inherit)
        } else if t.eq_ignore_ascii_case("direct") || t.eq_ignore_ascii_case("none") {
            Ok(ProxySetting::Direct)
        } else {
            ProxyUrl::parse(t).map(ProxySetting::Proxy)
        }
    }
}

impl ProxyUrl {
    /// Parses a proxy URL (see the module docs).
    pub fn parse(s: &str) -> Result<ProxyUrl, String> {
        let s = s.trim();
        let (scheme_text, rest) = s
            .split_once("://")
            .ok_or_else(|| format!("{s:?} is not a URL (expected scheme://host:port)"))?;
        let scheme = match scheme_text.to_ascii_lowercase().as_str() {
            "socks5" => ProxyScheme::Socks5,
            "socks5h" => ProxyScheme::Socks5h,
            "http" => ProxyScheme::Http,
            "https" => ProxyScheme::Https,
            other => {
                return Err(format!(
                    "unsupported proxy scheme {other:?} (allowed: socks5, socks5h, http, https)"
                ))
            }
        };
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        let (userinfo, hostport) = match authority.rfind('@') {
            Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
            None => (None, authority),
        };
        let (username, password) = match userinfo {
            None => (None, None),
            Some(ui) => match ui.split_once(':') {
                Some((u, p)) => (
                    Some(percent_decode(u)?),
                    Some(Secret::new(percent_decode(p)?)),
                ),
                None => (Some(percent_decode(ui)?), None),
            },
        };
        let (host, port_text) = if let Some(after) = hostport.strip_prefix('[') {
            let close = after
                .find(']')
                .ok_or_else(|| "unterminated IPv6 address (missing ']')".to_string())?;
            let host = &after[..close];
            let tail = &after[close + 1..];
            let port = match tail.strip_prefix(':') {
                Some(p) => Some(p),
                None if tail.is_empty() => None,
                None => return Err(format!("unexpected {tail:?} after IPv6 address")),
            };
            if host.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(format!("{host:?} is not an IPv6 address"));
            }
            (host, port)
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        if host.is_empty() {
            return Err("missing proxy host".to_string());
        }
        if !hostport.starts_with('[')
            && !host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
        {
            return Err(format!("invalid proxy host {host:?}"));
        }
        let port = match port_text {
            None | Some("") => scheme.default_port(),
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n != 0 && p.bytes().all(|b| b.is_ascii_digit()) => n,
                _ => return Err(format!("invalid proxy port {p:?}")),
            },
        };
        Ok(ProxyUrl {
            scheme,
            host: host.to_string(),
            port,
            username,
            password,
        })
    }
}

/// Decodes `%XX` escapes; the result must be UTF-8.
fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| "invalid percent escape in proxy credentials".to_string())?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "proxy credentials are not UTF-8".to_string())
}
