//! Secrets (API keys, tokens, management keys) as a type.
//!
//! Guarantees:
//! - `Debug` and `Display` never print the value; they print `****`.
//! - Reading the value needs an explicit [`Secret::expose`].
//! - Equality ([`Secret::ct_eq`], `PartialEq`) takes time that depends only on the
//!   lengths of the two values, not on where they first differ. The length itself
//!   may leak (keys of different lengths compare unequal immediately).

use std::fmt;

/// A secret string. See the module docs for the guarantees.
#[derive(Clone)]
pub struct Secret(Box<str>);

impl Secret {
    /// Wraps a value as a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into().into_boxed_str())
    }

    /// The secret value. Call sites that use it are the ones to audit.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Compares with `other` in time independent of the position of the first
    /// differing byte (only the lengths may leak).
    pub fn ct_eq(&self, other: &[u8]) -> bool {
        let mine = self.0.as_bytes();
        if mine.len() != other.len() {
            return false;
        }
        let mut diff: u8 = 0;
        for (a, b) in mine.iter().zip(other.iter()) {
            diff |= a ^ b;
        }
        // black_box keeps the optimiser from turning the fold into an early exit.
        std::hint::black_box(diff) == 0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other.0.as_bytes())
    }
}

impl Eq for Secret {}

impl Default for Secret {
    fn default() -> Self {
        Secret::new("")
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(Secret::new(s))
    }
}

#[cfg(test)]
mod tests {
    use super::Secret;

    #[test]
    fn debug_and_display_hide_the_value() {
        let s = Secret::new("sk-very-secret");
        assert_eq!(format!("{s:?}"), "****");
        assert_eq!(format!("{s}"), "****");
        assert_eq!(format!("{:?}", Some(s.clone())), "Some(****)");
        assert_eq!(s.expose(), "sk-very-secret");
    }

    #[test]
    fn ct_eq_matches_plain_equality() {
        let cases: &[(&str, &str)] = &[
            ("", ""),
            ("a", ""),
            ("", "a"),
            ("abc", "abc"),
            ("abc", "abd"),
            ("abc", "xbc"),
            ("abc", "abcd"),
            ("sk-1", "sk-2"),
        ];
        for (a, b) in cases {
            let s = Secret::new(*a);
            assert_eq!(s.ct_eq(b.as_bytes()), a == b, "{a:?} vs {b:?}");
            assert_eq!(s == Secret::new(*b), a == b, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn deserializes_from_string() {
        let s: Secret = serde_json::from_str("\"tok\"").unwrap();
        assert_eq!(s.expose(), "tok");
        assert!(serde_json::from_str::<Secret>("5").is_err());
    }
}
