//! Gemini CLI's Google OAuth client, the userinfo call, and Cloud Code
//! Assist project setup (`loadCodeAssist`, `onboardUser`) plus the check
//! that the project has the Gemini for Google Cloud API enabled, as
//! CLIProxyAPI's `-login` does them.

use super::{token_call, OAuthError};
use crate::accounts::http::{call, form, Reply};
use crate::accounts::{Net, TokenSet};
use serde_json::{json, Map, Value};
use std::time::{Duration, Instant};

/// Authorization page (Go's `google.Endpoint`).
pub const AUTH_URL: &str = "https://accounts.google.com/o/oauth2/auth";
/// Token endpoint.
pub const TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
/// Gemini CLI's public OAuth client (an installed-app client: its secret is
/// not confidential and ships with the CLI).
pub const CLIENT_ID: &str =
    "681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com";
/// The installed-app client secret.
pub const CLIENT_SECRET: &str = "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";
/// Scopes asked for.
pub const SCOPES: [&str; 3] = [
    "https://www.googleapis.com/auth/cloud-platform",
    "https://www.googleapis.com/auth/userinfo.email",
    "https://www.googleapis.com/auth/userinfo.profile",
];
/// Local callback port (the redirect URI follows `-oauth-callback-port`).
pub const CALLBACK_PORT: u16 = 8085;
/// Local callback path.
pub const CALLBACK_PATH: &str = "/oauth2callback";
/// Userinfo (the account's email).
pub const USERINFO_URL: &str = "https://www.googleapis.com/oauth2/v1/userinfo?alt=json";
/// Cloud Code Assist.
pub const CODE_ASSIST_URL: &str = "https://cloudcode-pa.googleapis.com/v1internal";
/// Service Usage (is the Gemini for Google Cloud API enabled).
pub const SERVICE_USAGE_URL: &str = "https://serviceusage.googleapis.com";
/// The API a Code Assist project needs.
pub const REQUIRED_SERVICE: &str = "cloudaicompanion.googleapis.com";
/// Cloud Resource Manager's project list (for `-project_id ALL`).
pub const PROJECTS_URL: &str = "https://cloudresourcemanager.googleapis.com/v1/projects";
/// Gemini CLI version in the `User-Agent` of Code Assist calls.
pub const CLI_VERSION: &str = "0.31.0";

/// Wait between `onboardUser` calls while a project is being discovered.
const DISCOVER_WAIT: Duration = Duration::from_secs(2);
/// How long discovery may take before a project must be named.
const DISCOVER_DEADLINE: Duration = Duration::from_secs(30);
/// Wait between `onboardUser` calls for a known project.
const ONBOARD_WAIT: Duration = Duration::from_secs(5);
/// How long onboarding a known project may take.
const ONBOARD_DEADLINE: Duration = Duration::from_secs(300);

/// `http://localhost:{port}/oauth2callback`.
pub fn redirect_uri(port: u16) -> String {
    format!("http://localhost:{port}{CALLBACK_PATH}")
}

/// The authorization URL (offline access, consent prompt, PKCE S256).
pub fn auth_url(redirect_uri: &str, state: &str, challenge: &str) -> String {
    let scopes = SCOPES.join(" ");
    super::url_with_query(
        AUTH_URL,
        &[
            ("access_type", "offline"),
            ("client_id", CLIENT_ID),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
            ("prompt", "consent"),
            ("redirect_uri", redirect_uri),
            ("response_type", "code"),
            ("scope", &scopes),
            ("state", state),
        ],
    )
}

const FORM: &str = "application/x-www-form-urlencoded";

/// The code-exchange form.
pub fn exchange_body(code: &str, redirect_uri: &str, verifier: &str) -> Vec<u8> {
    form(&[
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
        ("code_verifier", verifier),
    ])
    .into_bytes()
}

/// The refresh form.
pub fn refresh_body(refresh_token: &str) -> Vec<u8> {
    form(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ])
    .into_bytes()
}

/// Exchanges an authorization `code` (PKCE `verifier`) for tokens.
pub fn exchange_code(
    net: &Net,
    code: &str,
    redirect_uri: &str,
    verifier: &str,
) -> Result<TokenSet, OAuthError> {
    let body = exchange_body(code, redirect_uri, verifier);
    Ok(token_call(net, "google token exchange", TOKEN_URL, FORM, &body)?.0)
}

/// Refreshes with `refresh_token` (Google keeps the refresh token: the
/// answer normally has none).
pub fn refresh(net: &Net, refresh_token: &str) -> Result<TokenSet, OAuthError> {
    let body = refresh_body(refresh_token);
    Ok(token_call(net, "google token refresh", TOKEN_URL, FORM, &body)?.0)
}

/// The client fields stored next to the tokens in a new file's `token`
/// object, as CLIProxyAPI writes them (`token_uri`, `client_id`,
/// `client_secret`, `scopes`, `universe_domain`).
pub fn token_client_fields() -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("token_uri".into(), TOKEN_URL.into());
    m.insert("client_id".into(), CLIENT_ID.into());
    m.insert("client_secret".into(), CLIENT_SECRET.into());
    m.insert("scopes".into(), json!(SCOPES));
    m.insert("universe_domain".into(), "googleapis.com".into());
    m
}

fn bearer(access_token: &str) -> String {
    format!("Bearer {access_token}")
}

/// The account's email (userinfo).
pub fn user_email(net: &Net, access_token: &str) -> Result<String, OAuthError> {
    const WHAT: &str = "google userinfo";
    let auth = bearer(access_token);
    let reply = call(
        net,
        "GET",
        USERINFO_URL,
        &[("Authorization", &auth), ("Accept", "application/json")],
        b"",
    )
    .map_err(|e| OAuthError::Transient(format!("{WHAT}: {e}")))?;
    if !reply.ok() {
        return Err(super::failure(WHAT, &reply));
    }
    Ok(reply
        .json()
        .get("email")
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim()
        .to_string())
}

/// The ids of the account's GCP projects (first page of Cloud Resource
/// Manager's list, as CLIProxyAPI reads it), de-duplicated, in order.
pub fn list_projects(net: &Net, access_token: &str) -> Result<Vec<String>, OAuthError> {
    const WHAT: &str = "project list";
    let auth = bearer(access_token);
    let reply = call(
        net,
        "GET",
        PROJECTS_URL,
        &[("Authorization", &auth), ("Accept", "application/json")],
        b"",
    )
    .map_err(|e| OAuthError::Transient(format!("{WHAT}: {e}")))?;
    if !reply.ok() {
        return Err(super::failure(WHAT, &reply));
    }
    Ok(project_ids(&reply.json()))
}

/// `projects[].projectId` of a project-list answer.
pub fn project_ids(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in v
        .get("projects")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let id = p
            .get("projectId")
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim();
        if !id.is_empty() && !out.iter().any(|o| o == id) {
            out.push(id.to_string());
        }
    }
    out
}

/// Gemini CLI's `User-Agent` (`GeminiCLI/<version>/unknown (<os>; <arch>)`).
pub fn user_agent() -> String {
    let os = match std::env::consts::OS {
        "windows" => "win32",
        o => o,
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "x64",
        "x86" => "x86",
        "aarch64" => "arm64",
        a => a,
    };
    format!("GeminiCLI/{CLI_VERSION}/unknown ({os}; {arch})")
}

/// `POST {CODE_ASSIST_URL}:{method}` with a JSON body; the answer as JSON.
fn code_assist(
    net: &Net,
    access_token: &str,
    method: &str,
    body: &Value,
) -> Result<Value, OAuthError> {
    let url = format!("{CODE_ASSIST_URL}:{method}");
    let auth = bearer(access_token);
    let ua = user_agent();
    let reply: Reply = call(
        net,
        "POST",
        &url,
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
            ("User-Agent", &ua),
        ],
        body.to_string().as_bytes(),
    )
    .map_err(|e| OAuthError::Transient(format!("{method}: {e}")))?;
    if !reply.ok() {
        return Err(super::failure(method, &reply));
    }
    match reply.json() {
        Value::Null => Err(OAuthError::Transient(format!(
            "{method}: the answer is not JSON"
        ))),
        v => Ok(v),
    }
}

/// The metadata Code Assist calls carry.
fn metadata() -> Value {
    json!({
        "ideType": "IDE_UNSPECIFIED",
        "platform": "PLATFORM_UNSPECIFIED",
        "pluginType": "GEMINI",
    })
}

/// `cloudaicompanionProject` of an answer: a string or `{id}`.
pub(crate) fn project_of(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.trim().to_string(),
        Some(Value::Object(o)) => o
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim()
            .to_string(),
        _ => String::new(),
    }
}

/// The default tier of a `loadCodeAssist` answer (`legacy-tier` when none
/// is marked default).
pub fn default_tier(load: &Value) -> String {
    load.get("allowedTiers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|t| t.get("isDefault").and_then(Value::as_bool) == Some(true))
        .and_then(|t| t.get("id").and_then(Value::as_str))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or("legacy-tier")
        .to_string()
}

/// The project a finished (`done: true`) `onboardUser` operation names;
/// `None` while it is still running.
pub fn onboard_result(op: &Value) -> Option<String> {
    if op.get("done").and_then(Value::as_bool) != Some(true) {
        return None;
    }
    Some(project_of(
        op.get("response")
            .and_then(|r| r.get("cloudaicompanionProject")),
    ))
}

#[allow(
    clippy::disallowed_methods,
    reason = "onboarding runs on the login CLI thread or the refresh engine's thread, never a worker"
)]
fn wait(d: Duration) {
    std::thread::sleep(d);
}

/// Discovers the account's Code Assist project when none is known
/// (CLIProxyAPI's "Google One" mode): [`setup_project`] without a request.
pub fn discover_project(net: &Net, access_token: &str) -> Result<String, OAuthError> {
    setup_project(net, access_token, None)
}

/// Sets up Code Assist for `requested` (or discovers a project): calls
/// `loadCodeAssist`, picks the default tier, takes the project it names
/// (or, when none, onboards to get one: `onboardUser` polled every 2 s for
/// up to 30 s), then onboards that project (`onboardUser` polled every 5 s
/// until the operation is done) and returns the project to use.
///
/// When a named project comes back different: a free-tier user gets the
/// backend's project (CLIProxyAPI's recommended choice), anyone else keeps
/// the one they named.
pub fn setup_project(
    net: &Net,
    access_token: &str,
    requested: Option<&str>,
) -> Result<String, OAuthError> {
    let requested = requested.map(str::trim).filter(|s| !s.is_empty());
    let mut load_body = json!({ "metadata": metadata() });
    if let Some(p) = requested {
        load_body["cloudaicompanionProject"] = json!(p);
    }
    let load = code_assist(net, access_token, "loadCodeAssist", &load_body)?;
    let tier = default_tier(&load);
    let mut project = match requested {
        Some(p) => p.to_string(),
        None => project_of(load.get("cloudaicompanionProject")),
    };
    if project.is_empty() {
        let body = json!({ "tierId": tier, "metadata": metadata() });
        let deadline = Instant::now() + DISCOVER_DEADLINE;
        loop {
            let op = code_assist(net, access_token, "onboardUser", &body)?;
            if let Some(p) = onboard_result(&op) {
                project = p;
                break;
            }
            if Instant::now() + DISCOVER_WAIT > deadline {
                break;
            }
            wait(DISCOVER_WAIT);
        }
        if project.is_empty() {
            return Err(OAuthError::Transient(
                "onboardUser named no project: this account needs a project id (-project_id)"
                    .into(),
            ));
        }
    }
    let body = json!({
        "tierId": tier,
        "metadata": metadata(),
        "cloudaicompanionProject": project,
    });
    let deadline = Instant::now() + ONBOARD_DEADLINE;
    loop {
        let op = code_assist(net, access_token, "onboardUser", &body)?;
        if let Some(returned) = onboard_result(&op) {
            if returned.is_empty() || returned.eq_ignore_ascii_case(&project) {
                return Ok(project);
            }
            let free = project.starts_with("gen-lang-client-")
                || tier.eq_ignore_ascii_case("FREE")
                || tier.eq_ignore_ascii_case("LEGACY");
            return Ok(if requested.is_none() || free {
                returned
            } else {
                project
            });
        }
        if Instant::now() + ONBOARD_WAIT > deadline {
            return Err(OAuthError::Transient(format!(
                "onboardUser for project {project} did not finish in {} s",
                ONBOARD_DEADLINE.as_secs()
            )));
        }
        wait(ONBOARD_WAIT);
    }
}

/// Checks that `project` has the Gemini for Google Cloud API
/// (`cloudaicompanion.googleapis.com`) enabled, and enables it when not.
pub fn check_cloud_api(net: &Net, access_token: &str, project: &str) -> Result<(), OAuthError> {
    let auth = bearer(access_token);
    let ua = user_agent();
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
        ("User-Agent", ua.as_str()),
    ];
    let mut pid = String::new();
    crate::accounts::http::url_encode_into(&mut pid, project);
    let base = format!("{SERVICE_USAGE_URL}/v1/projects/{pid}/services/{REQUIRED_SERVICE}");
    let t = |e: String| OAuthError::Transient(format!("service usage: {e}"));
    let got = call(net, "GET", &base, &headers, b"").map_err(t)?;
    if got.status == 200 && got.json().get("state").and_then(Value::as_str) == Some("ENABLED") {
        return Ok(());
    }
    let en = call(net, "POST", &format!("{base}:enable"), &headers, b"{}").map_err(t)?;
    if en.status == 200 || en.status == 201 {
        return Ok(());
    }
    let v = en.json();
    let msg = v
        .get("error")
        .and_then(|e| e.get("message"))
        .and_then(Value::as_str)
        .unwrap_or("");
    if en.status == 400 && msg.to_ascii_lowercase().contains("already enabled") {
        return Ok(());
    }
    // The message is Google's own text about the project (no token).
    let msg: String = msg.chars().take(300).collect();
    Err(OAuthError::Transient(format!(
        "project {project} needs the Gemini for Google Cloud API ({REQUIRED_SERVICE}) enabled: status {} {msg}",
        en.status
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tier_and_operation_answers() {
        let load =
            json!({"allowedTiers":[{"id":"legacy-tier"},{"id":"free-tier","isDefault":true}]});
        assert_eq!(default_tier(&load), "free-tier");
        assert_eq!(default_tier(&json!({})), "legacy-tier");
        assert_eq!(onboard_result(&json!({"done":false})), None);
        assert_eq!(onboard_result(&json!({"name":"operations/1"})), None);
        assert_eq!(
            onboard_result(
                &json!({"done":true,"response":{"cloudaicompanionProject":{"id":"p-1"}}})
            ),
            Some("p-1".into())
        );
        assert_eq!(
            onboard_result(&json!({"done":true,"response":{"cloudaicompanionProject":"p-2"}})),
            Some("p-2".into())
        );
        assert_eq!(onboard_result(&json!({"done":true})), Some(String::new()));
    }

    #[test]
    fn project_list_answers() {
        let v = json!({"projects":[{"projectId":"a","name":"A"},{"projectId":" "},{"projectId":"b"},{"projectId":"a"}]});
        assert_eq!(project_ids(&v), ["a", "b"]);
        assert!(project_ids(&json!({})).is_empty());
    }

    #[test]
    fn urls_and_forms() {
        let u = auth_url(&redirect_uri(8085), "st", "ch");
        assert!(u.starts_with("https://accounts.google.com/o/oauth2/auth?access_type=offline&"));
        assert!(u.contains("redirect_uri=http%3A%2F%2Flocalhost%3A8085%2Foauth2callback"));
        assert!(u.contains("prompt=consent"));
        assert!(u.contains("scope=https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fcloud-platform%20"));
        assert!(u.contains("&state=st"));
        let b = String::from_utf8(refresh_body("1//r")).expect("utf8");
        assert_eq!(
            b,
            format!("grant_type=refresh_token&refresh_token=1%2F%2Fr&client_id={CLIENT_ID}&client_secret={CLIENT_SECRET}")
        );
        let b = String::from_utf8(exchange_body(
            "4/c",
            "http://localhost:1/oauth2callback",
            "v",
        ))
        .expect("utf8");
        assert!(b.starts_with("grant_type=authorization_code&code=4%2Fc&redirect_uri=http%3A%2F%2Flocalhost%3A1%2Foauth2callback&"));
        assert!(b.ends_with("&code_verifier=v"));
        assert!(user_agent().starts_with("GeminiCLI/0.31.0/unknown ("));
        let f = token_client_fields();
        assert_eq!(f["token_uri"], TOKEN_URL);
        assert_eq!(f["scopes"].as_array().map(Vec::len), Some(3));
    }
}
