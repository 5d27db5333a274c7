//! Secrets as a type (stub; replaced by the config helper's version).
#[derive(Clone)]
pub struct Secret(Box<str>);
impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into().into_boxed_str())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn ct_eq(&self, other: &[u8]) -> bool {
        let a = self.0.as_bytes();
        if a.len() != other.len() {
            return false;
        }
        let mut d = 0u8;
        for (x, y) in a.iter().zip(other) {
            d |= x ^ y;
        }
        d == 0
    }
}
impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("****")
    }
}
impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Secret::new(String::deserialize(d)?))
    }
}
