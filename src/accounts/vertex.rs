//! Vertex AI service accounts (`type: "vertex"`), as CLIProxyAPI v6.9 keeps
//! them: the service-account key JSON embedded in an auth file
//! (`service_account{...}, project_id, email, location, type, prefix`),
//! written by `-vertex-import <sa.json>` or `POST /v0/management/vertex/import`.
//!
//! - Tokens: an RS256-signed JWT (`iss` = the account's `client_email`,
//!   `scope` = cloud-platform, `aud` = its `token_uri`, one hour) exchanged
//!   at `token_uri` with the JWT-bearer grant (RFC 7523). The refresh engine
//!   mints them (single flight, [`super::refresh`]) and keeps them in the
//!   account's token cell until 5 minutes before expiry; nothing is written
//!   back to the file (CLIProxyAPI keeps them in memory too).
//! - Requests: `https://{location}-aiplatform.googleapis.com` (`global`:
//!   `https://aiplatform.googleapis.com`), path
//!   `/v1/projects/{p}/locations/{l}/publishers/google/models/{m}:{action}`,
//!   `Authorization: Bearer`; the body is the Gemini body of the
//!   `vertex-api-key` provider.
//!
//! The signature is ring's (already in the tree as rustls's provider).

use super::oauth::{self, OAuthError};
use super::{Net, TokenSet};
use crate::secret::Secret;
use serde_json::{json, Map, Value};

/// The scope every Vertex token is minted for.
pub const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
/// Google's token endpoint, when the key names none.
pub const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// The location of an imported key (CLIProxyAPI's default).
pub const DEFAULT_LOCATION: &str = "us-central1";
/// Lifetime asked for in the JWT (Google's maximum).
const JWT_LIFETIME: u64 = 3600;
const FORM: &str = "application/x-www-form-urlencoded";
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// A parsed service account: what minting a token and addressing Vertex need.
pub struct ServiceAccount {
    /// `client_email` (the JWT issuer).
    pub email: String,
    /// `private_key_id` (the JWT `kid`; may be empty).
    pub key_id: String,
    /// `token_uri`.
    pub token_uri: String,
    /// The file's `location` (`us-central1` when absent).
    pub location: String,
    key: ring::signature::RsaKeyPair,
}

impl std::fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key never reaches a log.
        f.debug_struct("ServiceAccount")
            .field("email", &self.email)
            .field("token_uri", &self.token_uri)
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

impl PartialEq for ServiceAccount {
    /// Same identity: same issuer, key, token endpoint and location.
    fn eq(&self, o: &ServiceAccount) -> bool {
        self.email == o.email
            && self.key_id == o.key_id
            && self.token_uri == o.token_uri
            && self.location == o.location
            && self.key.public().as_ref() == o.key.public().as_ref()
    }
}

fn str_of<'a>(obj: &'a Map<String, Value>, key: &str) -> &'a str {
    obj.get(key).and_then(Value::as_str).unwrap_or("").trim()
}

impl ServiceAccount {
    /// Reads the `service_account` object of an auth file (and the file's
    /// `location`).
    pub fn from_json(sa: &Map<String, Value>, location: &str) -> Result<ServiceAccount, String> {
        let email = str_of(sa, "client_email").to_string();
        if email.is_empty() {
            return Err("service account missing client_email".into());
        }
        let der = private_key_der(str_of(sa, "private_key"))?;
        let key = ring::signature::RsaKeyPair::from_der(&der)
            .map_err(|e| format!("private_key is not a usable RSA key: {e}"))?;
        let token_uri = match str_of(sa, "token_uri") {
            "" => DEFAULT_TOKEN_URI,
            t => t,
        };
        let location = match location.trim() {
            "" => DEFAULT_LOCATION,
            l => l,
        };
        Ok(ServiceAccount {
            email,
            key_id: str_of(sa, "private_key_id").to_string(),
            token_uri: token_uri.to_string(),
            location: location.to_string(),
            key,
        })
    }

    /// The signed JWT assertion for a token request issued at `now`.
    pub fn assertion(&self, now: u64) -> Result<String, String> {
        let mut header = json!({"alg": "RS256", "typ": "JWT"});
        if !self.key_id.is_empty() {
            header["kid"] = Value::String(self.key_id.clone());
        }
        let claims = json!({
            "iss": self.email,
            "scope": SCOPE,
            "aud": self.token_uri,
            "iat": now,
            "exp": now + JWT_LIFETIME,
        });
        let mut out = oauth::base64url(header.to_string().as_bytes());
        out.push('.');
        out.push_str(&oauth::base64url(claims.to_string().as_bytes()));
        let mut sig = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(
                &ring::signature::RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                out.as_bytes(),
                &mut sig,
            )
            .map_err(|_| "RS256 signing failed".to_string())?;
        out.push('.');
        out.push_str(&oauth::base64url(&sig));
        Ok(out)
    }

    /// Mints an access token at the account's `token_uri`.
    pub fn mint(&self, net: &Net, now: u64) -> Result<TokenSet, OAuthError> {
        let jwt = self.assertion(now).map_err(OAuthError::Transient)?;
        let body = super::http::form(&[("grant_type", JWT_BEARER), ("assertion", &jwt)]);
        let what = "vertex token";
        Ok(oauth::token_call(net, what, &self.token_uri, FORM, body.as_bytes())?.0)
    }

    /// The upstream base URL for the account's location.
    pub fn base_url(&self) -> String {
        base_url(&self.location)
    }
}

/// `https://{location}-aiplatform.googleapis.com`, or
/// `https://aiplatform.googleapis.com` for `global`.
pub fn base_url(location: &str) -> String {
    match location.trim() {
        "" => format!("https://{DEFAULT_LOCATION}-aiplatform.googleapis.com"),
        l if l.eq_ignore_ascii_case("global") => "https://aiplatform.googleapis.com".into(),
        l => format!("https://{l}-aiplatform.googleapis.com"),
    }
}

/// Whether `location` can go into a host name (letters, digits, `-`).
pub fn valid_location(location: &str) -> bool {
    !location.is_empty()
        && location.len() <= 63
        && location
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Appends `/v1/projects/{p}/locations/{l}/publishers/google/models/{m}:{action}`.
pub fn write_path(
    out: &mut Vec<u8>,
    project: &str,
    location: &str,
    model: &str,
    call: crate::providers::Call,
) {
    let mut prefix = Vec::with_capacity(64 + project.len() + location.len());
    prefix.extend_from_slice(b"/v1/projects/");
    crate::providers::push_segment(&mut prefix, project);
    prefix.extend_from_slice(b"/locations/");
    crate::providers::push_segment(&mut prefix, location);
    prefix.extend_from_slice(b"/publishers/google/models/");
    crate::providers::write_google_model_path(out, &prefix, model, call);
}

/// The DER (PKCS#1 `RSAPrivateKey`) of a PEM private key, PKCS#8
/// (`PRIVATE KEY`) or PKCS#1 (`RSA PRIVATE KEY`). Line endings are
/// normalised and literal `\n` sequences (a key pasted through a shell)
/// read as newlines.
pub fn private_key_der(pem: &str) -> Result<Vec<u8>, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::PrivateKeyDer;
    if pem.trim().is_empty() {
        return Err("service account missing private_key".into());
    }
    let text = pem
        .replace("\\n", "\n")
        .replace("\r\n", "\n")
        .replace('\r', "\n");
    let key = PrivateKeyDer::from_pem_slice(text.trim().as_bytes())
        .map_err(|_| "private_key is not valid PEM".to_string())?;
    match key {
        PrivateKeyDer::Pkcs1(k) => Ok(k.secret_pkcs1_der().to_vec()),
        PrivateKeyDer::Pkcs8(k) => pkcs8_to_pkcs1(k.secret_pkcs8_der())
            .ok_or_else(|| "private_key is not an RSA key".to_string()),
        _ => Err("private_key is not an RSA key".into()),
    }
}

/// One DER TLV at the start of `b`: (tag, contents, rest).
fn der_tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, b) = b.split_first()?;
    let (&l0, mut b) = b.split_first()?;
    let len = if l0 < 0x80 {
        usize::from(l0)
    } else {
        let n = usize::from(l0 & 0x7f);
        if n == 0 || n > 4 || b.len() < n {
            return None;
        }
        let mut len = 0usize;
        for &x in &b[..n] {
            len = (len << 8) | usize::from(x);
        }
        b = &b[n..];
        len
    };
    (b.len() >= len).then(|| (tag, &b[..len], &b[len..]))
}

/// The PKCS#1 key inside a PKCS#8 `PrivateKeyInfo` whose algorithm is
/// rsaEncryption.
fn pkcs8_to_pkcs1(der: &[u8]) -> Option<Vec<u8>> {
    const RSA_OID: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
    let (0x30, info, _) = der_tlv(der)? else {
        return None;
    };
    let (0x02, _version, rest) = der_tlv(info)? else {
        return None;
    };
    let (0x30, alg, rest) = der_tlv(rest)? else {
        return None;
    };
    let (0x06, oid, _) = der_tlv(alg)? else {
        return None;
    };
    if oid != RSA_OID {
        return None;
    }
    let (0x04, key, _) = der_tlv(rest)? else {
        return None;
    };
    Some(key.to_vec())
}

/// `der` as a PEM block of `label` (64-character lines).
fn pem_of(label: &str, der: &[u8]) -> String {
    let mut b64 = Vec::with_capacity(der.len() * 4 / 3 + 4);
    crate::upstream::proxy::base64_into(der, &mut b64);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// CLIProxyAPI's normalisation of an imported key: the object with its
/// `private_key` checked and rewritten as a PKCS#1 `RSA PRIVATE KEY` PEM.
pub fn normalize(sa: &Map<String, Value>) -> Result<Map<String, Value>, String> {
    let der = private_key_der(sa.get("private_key").and_then(Value::as_str).unwrap_or(""))?;
    ring::signature::RsaKeyPair::from_der(&der)
        .map_err(|e| format!("private_key is not a usable RSA key: {e}"))?;
    let mut out = sa.clone();
    out.insert(
        "private_key".into(),
        Value::String(pem_of("RSA PRIVATE KEY", &der)),
    );
    Ok(out)
}

/// An import's result: the file to write and what the answer reports.
#[derive(Debug)]
pub struct Import {
    /// `vertex-<project>.json`.
    pub file_name: String,
    /// The file's bytes (pretty JSON).
    pub bytes: Secret,
    /// `project_id`.
    pub project_id: String,
    /// `client_email`.
    pub email: String,
    /// `location`.
    pub location: String,
}

/// Why an import was refused (the management answer's `error` and `message`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportError {
    /// `invalid json`, `invalid service account`, `project_id missing`, ...
    pub error: &'static str,
    /// Detail (may be empty).
    pub message: String,
}

/// The file name part of a project id (CLIProxyAPI's sanitiser: `/`, `\`
/// and `:` become `_`, spaces `-`; empty: `vertex`).
pub fn file_part(project: &str) -> String {
    let out: String = project
        .trim()
        .chars()
        .map(|c| match c {
            '/' | '\\' | ':' => '_',
            ' ' => '-',
            c if c.is_control() => '_',
            c => c,
        })
        .collect();
    match out.as_str() {
        "" => "vertex".into(),
        // Never a dot file (the store skips those) nor a path component.
        s if s.starts_with('.') => format!("_{}", &s[1..]),
        _ => out,
    }
}

/// Builds the auth file for a service-account key (`raw`: its JSON) at
/// `location` (empty: `us-central1`).
pub fn import(raw: &[u8], location: &str) -> Result<Import, ImportError> {
    let sa: Map<String, Value> = match serde_json::from_slice(raw) {
        Ok(Value::Object(m)) => m,
        Ok(_) => {
            return Err(ImportError {
                error: "invalid json",
                message: "not a JSON object".into(),
            })
        }
        Err(e) => {
            return Err(ImportError {
                error: "invalid json",
                message: e.to_string(),
            })
        }
    };
    let sa = normalize(&sa).map_err(|message| ImportError {
        error: "invalid service account",
        message,
    })?;
    let project_id = str_of(&sa, "project_id").to_string();
    if project_id.is_empty() {
        return Err(ImportError {
            error: "project_id missing",
            message: String::new(),
        });
    }
    let email = str_of(&sa, "client_email").to_string();
    let location = match location.trim() {
        "" => DEFAULT_LOCATION.to_string(),
        l => l.to_string(),
    };
    if !valid_location(&location) {
        return Err(ImportError {
            error: "invalid location",
            message: "a location is letters, digits and '-'".into(),
        });
    }
    let file = json!({
        "service_account": Value::Object(sa),
        "project_id": project_id,
        "email": email,
        "location": location,
        "type": "vertex",
    });
    let bytes = serde_json::to_string_pretty(&file).map_err(|e| ImportError {
        error: "save_failed",
        message: e.to_string(),
    })?;
    Ok(Import {
        file_name: format!("vertex-{}.json", file_part(&project_id)),
        bytes: Secret::new(bytes),
        project_id,
        email,
        location,
    })
}

/// Writes an import into `dir` (created 0700; the file 0600, atomically);
/// the file's path.
pub fn save(dir: &std::path::Path, imp: &Import) -> Result<std::path::PathBuf, String> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| format!("create {}: {e}", dir.display()))?;
    let path = dir.join(&imp.file_name);
    super::codec::write_atomic(&path, imp.bytes.expose().as_bytes())
        .map_err(|e| format!("write {}: {e}", path.display()))?;
    Ok(path)
}

/// `-vertex-import <sa.json>`: reads the key, writes the auth file into
/// the config's `auth-dir`; the process exit code.
pub fn run_import(config: &std::path::Path, key_path: &str) -> i32 {
    use std::io::Write;
    let fail = |m: String| {
        let _ = writeln!(std::io::stderr(), "vertex-import: {m}");
        1
    };
    let key_path = key_path.trim();
    if key_path.is_empty() {
        return fail("missing service account key path".into());
    }
    let auth_dir = match crate::config::load_file(config) {
        Ok((cfg, _)) => cfg.auth_dir,
        Err(e) => return fail(e.to_string()),
    };
    #[allow(
        clippy::disallowed_methods,
        reason = "the CLI import runs on the main thread before anything serves"
    )]
    let raw = match std::fs::read(key_path) {
        Ok(b) => b,
        Err(e) => return fail(format!("read file failed: {e}")),
    };
    let imp = match import(&raw, DEFAULT_LOCATION) {
        Ok(i) => i,
        Err(e) if e.message.is_empty() => return fail(e.error.to_string()),
        Err(e) => return fail(format!("{}: {}", e.error, e.message)),
    };
    if imp.email.is_empty() {
        let _ = writeln!(
            std::io::stderr(),
            "vertex-import: client_email missing in service account json"
        );
    }
    match save(&auth_dir, &imp) {
        Ok(p) => {
            let _ = writeln!(
                std::io::stdout(),
                "Vertex credentials imported: {}",
                p.display()
            );
            0
        }
        Err(e) => fail(format!("save credential failed: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 2048-bit test key (PKCS#8), made for these tests only.
    pub(crate) const TEST_KEY: &str = include_str!("../../tests/fixtures/vertex-test-key.pem");

    fn sa(key: &str) -> Map<String, Value> {
        match json!({
            "type": "service_account",
            "project_id": "proj-1",
            "private_key_id": "kid-1",
            "private_key": key,
            "client_email": "svc@proj-1.iam.gserviceaccount.com",
            "token_uri": "https://oauth2.googleapis.com/token",
        }) {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn jwt_is_rs256_over_the_claims_and_verifies_with_the_public_key() {
        let acc = ServiceAccount::from_json(&sa(TEST_KEY), "").expect("sa");
        assert_eq!(acc.location, "us-central1");
        let jwt = acc.assertion(1_700_000_000).expect("jwt");
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: Value =
            serde_json::from_slice(&crate::accounts::codec::base64url_decode(parts[0]).unwrap())
                .unwrap();
        assert_eq!(header, json!({"alg":"RS256","typ":"JWT","kid":"kid-1"}));
        let claims: Value =
            serde_json::from_slice(&crate::accounts::codec::base64url_decode(parts[1]).unwrap())
                .unwrap();
        assert_eq!(claims["iss"], "svc@proj-1.iam.gserviceaccount.com");
        assert_eq!(claims["scope"], SCOPE);
        assert_eq!(claims["aud"], "https://oauth2.googleapis.com/token");
        assert_eq!(claims["iat"], 1_700_000_000u64);
        assert_eq!(claims["exp"], 1_700_003_600u64);
        let sig = crate::accounts::codec::base64url_decode(parts[2]).unwrap();
        let public = ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            acc.key.public().as_ref().to_vec(),
        );
        let signed = format!("{}.{}", parts[0], parts[1]);
        public.verify(signed.as_bytes(), &sig).expect("signature");
        assert!(public.verify(b"other", &sig).is_err());
    }

    #[test]
    fn keys_are_normalised_to_pkcs1_and_bad_keys_refused() {
        // A key pasted with literal "\n" sequences and CRLF still reads.
        let mangled = TEST_KEY.replace('\n', "\\n");
        let n = normalize(&sa(&mangled)).expect("normalised");
        let pk = n["private_key"].as_str().unwrap();
        assert!(pk.starts_with("-----BEGIN RSA PRIVATE KEY-----\n"), "{pk}");
        assert!(pk.lines().all(|l| l.len() <= 64));
        // The PKCS#1 form signs identically (same key).
        let a = ServiceAccount::from_json(&sa(TEST_KEY), "x").unwrap();
        let b = ServiceAccount::from_json(&n, "x").unwrap();
        assert!(a == b);
        assert_eq!(a.assertion(5).unwrap(), b.assertion(5).unwrap());
        for bad in [
            "",
            "not a key",
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        ] {
            assert!(normalize(&sa(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn truncated_or_altered_der_is_refused_never_a_panic() {
        use rustls::pki_types::pem::PemObject;
        let der = rustls::pki_types::PrivatePkcs8KeyDer::from_pem_slice(TEST_KEY.as_bytes())
            .expect("pem")
            .secret_pkcs8_der()
            .to_vec();
        let whole = pkcs8_to_pkcs1(&der).expect("whole key");
        assert!(ring::signature::RsaKeyPair::from_der(&whole).is_ok());
        // Every strict prefix fails to parse (the outer length no longer fits).
        for cut in 0..der.len() {
            assert!(pkcs8_to_pkcs1(&der[..cut]).is_none(), "cut {cut}");
        }
        // Any single altered byte in the header either fails or yields
        // something ring refuses; nothing panics.
        for i in 0..32.min(der.len()) {
            let mut d = der.clone();
            d[i] ^= 0xff;
            if let Some(k) = pkcs8_to_pkcs1(&d) {
                let _ = ring::signature::RsaKeyPair::from_der(&k);
            }
        }
    }

    #[test]
    fn import_builds_cliproxyapi_file() {
        let raw = serde_json::to_vec(&Value::Object(sa(TEST_KEY))).unwrap();
        let imp = import(&raw, "").expect("import");
        assert_eq!(imp.file_name, "vertex-proj-1.json");
        let v: Value = serde_json::from_str(imp.bytes.expose()).unwrap();
        assert_eq!(v["type"], "vertex");
        assert_eq!(v["project_id"], "proj-1");
        assert_eq!(v["location"], "us-central1");
        assert_eq!(v["email"], "svc@proj-1.iam.gserviceaccount.com");
        assert_eq!(v["service_account"]["private_key_id"], "kid-1");
        assert_eq!(import(b"{", "").unwrap_err().error, "invalid json");
        let mut no_project = sa(TEST_KEY);
        no_project.remove("project_id");
        let raw = serde_json::to_vec(&Value::Object(no_project)).unwrap();
        assert_eq!(import(&raw, "").unwrap_err().error, "project_id missing");
        let raw = serde_json::to_vec(&Value::Object(sa("x"))).unwrap();
        assert_eq!(
            import(&raw, "").unwrap_err().error,
            "invalid service account"
        );
        assert_eq!(file_part("a/b:c d"), "a_b_c-d");
        assert_eq!(file_part(" "), "vertex");
        assert_eq!(file_part("..x"), "_.x");
    }

    #[test]
    fn hosts_and_paths() {
        assert_eq!(
            base_url("europe-west4"),
            "https://europe-west4-aiplatform.googleapis.com"
        );
        assert_eq!(base_url("global"), "https://aiplatform.googleapis.com");
        let mut out = Vec::new();
        let call = crate::providers::Call {
            stream: true,
            count: false,
        };
        write_path(&mut out, "p-1", "global", "gemini-2.5-pro", call);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "/v1/projects/p-1/locations/global/publishers/google/models/gemini-2.5-pro:streamGenerateContent?alt=sse"
        );
        assert!(valid_location("us-central1"));
        assert!(!valid_location("evil.com/x"));
    }
}
