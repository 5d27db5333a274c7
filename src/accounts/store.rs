//! The auth-dir store: every `*.json` under `auth-dir` read into accounts.
//!
//! Accounts are kept by auth ID across reloads (one `Arc<Account>` per file
//! for the life of the process while its identity holds), so a token the
//! refresh engine stored reaches every core and every later snapshot. The
//! cache lives on the control side; the request path never touches it.

use super::file::{self, AuthFile, Skip};
use super::{Account, AccountKind, TokenCell, TokenState};
use crate::secret::Secret;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// Directory depth searched below `auth-dir`.
const MAX_DEPTH: usize = 4;
/// Largest auth file read.
const MAX_FILE: u64 = 1 << 20;

/// One loaded file, or one project of a multi-project Gemini file (then
/// several entries share the account: one token, one refresh).
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The shared account.
    pub account: Arc<Account>,
    /// What the file says (per-file settings).
    pub file: AuthFile,
    /// The credential ID: the auth ID, or `<auth ID>::<project>` for a
    /// project of a multi-project file ([`virtual_credentials`]).
    pub cred_id: String,
    /// That project (`None`: the account's own `project_id`).
    pub project: Option<String>,
}

/// What a scan of `auth-dir` found.
#[derive(Debug, Default)]
pub struct Scan {
    /// Accounts to serve (enabled, supported kinds), sorted by auth ID.
    pub accounts: Vec<Loaded>,
    /// Files with `disabled: true`.
    pub disabled: Vec<String>,
    /// Files skipped, with the reason (corrupt, unreadable, unsupported type).
    pub skipped: Vec<(String, String)>,
}

fn cache() -> &'static Mutex<HashMap<String, Arc<Account>>> {
    static CACHE: std::sync::OnceLock<Mutex<HashMap<String, Arc<Account>>>> =
        std::sync::OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Every `*.json` path under `dir` (dot-entries skipped), sorted.
pub fn json_files(dir: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') {
                continue;
            }
            let path = e.path();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                if depth < MAX_DEPTH {
                    walk(&path, depth + 1, out);
                }
            } else if name.ends_with(".json") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, 0, &mut out);
    out.sort();
    out
}

/// A fingerprint of the directory's `*.json` files (names, sizes, mtimes,
/// inodes): the control thread's stat fallback compares it each second.
pub fn stamp(dir: &Path) -> u64 {
    use std::hash::{Hash, Hasher};
    use std::os::unix::fs::MetadataExt;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for p in json_files(dir) {
        p.hash(&mut h);
        if let Ok(m) = std::fs::metadata(&p) {
            (m.len(), m.mtime(), m.mtime_nsec(), m.ino()).hash(&mut h);
        }
    }
    h.finish()
}

/// Auth ID of `path`: its path relative to `dir`, `/`-separated.
fn auth_id(dir: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(dir).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Reads every auth file in `dir`. Accounts whose identity (kind, account
/// id, project) is unchanged keep their shared state; a token edited in the
/// file replaces the one in memory.
pub fn scan(dir: &Path) -> Scan {
    let mut out = Scan::default();
    let mut seen: HashMap<String, Arc<Account>> = HashMap::new();
    let mut cache = match cache().lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    for path in json_files(dir) {
        let id = auth_id(dir, &path);
        let bytes = match std::fs::metadata(&path) {
            Ok(m) if m.len() > MAX_FILE => {
                out.skipped
                    .push((id, format!("larger than {MAX_FILE} bytes")));
                continue;
            }
            _ => match std::fs::read(&path) {
                Ok(b) => b,
                Err(e) => {
                    out.skipped.push((id, format!("unreadable: {e}")));
                    continue;
                }
            },
        };
        let f = match file::parse(&bytes) {
            Ok(f) => f,
            Err(Skip::Corrupt(e)) => {
                out.skipped
                    .push((id, format!("not a valid auth file: {e}")));
                continue;
            }
            Err(Skip::Unsupported(t)) => {
                out.skipped
                    .push((id, format!("type {t:?} is not supported by this build")));
                continue;
            }
        };
        if f.disabled {
            out.disabled.push(id);
            continue;
        }
        let account = match cache.get(&id) {
            Some(a) if same_identity(a, &f) => {
                update(a, &f);
                a.clone()
            }
            _ => Arc::new(new_account(id.clone(), path.clone(), &f)),
        };
        seen.insert(id, account.clone());
        for (cred_id, project) in virtual_credentials(&account, &f) {
            out.accounts.push(Loaded {
                account: account.clone(),
                file: f.clone(),
                cred_id,
                project,
            });
        }
    }
    // Files removed or disabled leave the cache; a request still holding
    // the old snapshot keeps its `Arc` until it ends.
    *cache = seen;
    out
}

fn same_identity(a: &Account, f: &AuthFile) -> bool {
    a.kind == f.kind
        && a.account_id == f.account_id
        && a.project_id == f.project_id
        && a.cloak == f.cloak
        && a.vertex == f.vertex
        && a.chat == f.chat
        && a.user_agent == f.user_agent
}

fn new_account(id: String, path: PathBuf, f: &AuthFile) -> Account {
    Account {
        id,
        path,
        kind: f.kind,
        email: f.email.clone(),
        account_id: f.account_id.clone(),
        plan: f.plan.clone(),
        project_id: f.project_id.clone(),
        vertex: f.vertex.clone(),
        chat: f.chat.clone(),
        user_agent: f.user_agent.clone(),
        refresh_token: RwLock::new(f.refresh_token.clone()),
        token: TokenCell::new(TokenState {
            access: f.access_token.clone(),
            expires_at: f.expires_at,
            version: 0,
        }),
        cloak: f.cloak.clone(),
        last_refresh: AtomicU64::new(f.last_refresh.unwrap_or(0)),
        retry_at: AtomicU64::new(0),
        refused: AtomicBool::new(false),
        discover_at: AtomicU64::new(0),
        waiters: Mutex::new(Vec::new()),
    }
}

/// Takes an edited file's tokens (an operator or another tool wrote them).
fn update(a: &Account, f: &AuthFile) {
    let cur = a.token.get();
    if cur.access.expose() != f.access_token.expose() {
        a.token.set(f.access_token.clone(), f.expires_at);
        a.refused.store(false, Ordering::Release);
        a.retry_at.store(0, Ordering::Release);
    }
    let mut rt = match a.refresh_token.write() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    if rt.expose() != f.refresh_token.expose() {
        *rt = f.refresh_token.clone();
        a.refused.store(false, Ordering::Release);
        a.retry_at.store(0, Ordering::Release);
    }
}

/// The scheduler provider an account kind rotates under (shared with the
/// API-key entries of the same provider, as in CLIProxyAPI).
pub fn sched_provider(kind: AccountKind) -> &'static str {
    match kind {
        AccountKind::Claude => "claude",
        AccountKind::Codex => "codex",
        AccountKind::Gemini => "gemini-cli",
        AccountKind::Vertex => "vertex",
        AccountKind::Kimi => "kimi",
        AccountKind::Qwen => "qwen",
        AccountKind::IFlow => "iflow",
        AccountKind::Antigravity => "antigravity",
    }
}

/// The `oauth-model-alias` / `oauth-excluded-models` channel of a kind.
pub fn channel(kind: AccountKind) -> &'static str {
    match kind {
        AccountKind::Claude => "claude",
        AccountKind::Codex => "codex",
        AccountKind::Gemini => "gemini-cli",
        AccountKind::Vertex => "vertex",
        AccountKind::Kimi => "kimi",
        AccountKind::Qwen => "qwen",
        AccountKind::IFlow => "iflow",
        AccountKind::Antigravity => "antigravity",
    }
}

/// Catalog models a Codex plan does not get (`chatgpt_plan_type` from the id
/// token). The catalog is the pro tier; the other tiers follow the exposure
/// CLIProxyAPI's catalog pins: Codex Spark only on plus and pro, `gpt-5.4`
/// not on free. An unknown plan gets the pro list, as there.
pub fn plan_exclusions(plan: &str) -> &'static [&'static str] {
    match plan {
        "free" => &["gpt-5.3-codex-spark", "gpt-5.4"],
        "team" | "business" | "go" => &["gpt-5.3-codex-spark"],
        _ => &[],
    }
}

/// The upstream base URL of an account kind (Vertex: per location, see
/// [`account_base_url`]).
pub fn base_url(kind: AccountKind) -> &'static str {
    match kind {
        AccountKind::Claude => "https://api.anthropic.com",
        AccountKind::Codex => "https://chatgpt.com/backend-api/codex",
        AccountKind::Gemini => "https://cloudcode-pa.googleapis.com",
        AccountKind::Vertex => "https://us-central1-aiplatform.googleapis.com",
        AccountKind::Kimi => super::chat_kinds::KIMI_BASE,
        AccountKind::Qwen => super::chat_kinds::QWEN_DEFAULT_BASE,
        AccountKind::IFlow => super::chat_kinds::IFLOW_BASE,
        AccountKind::Antigravity => super::wire::antigravity::BASE_URLS[0],
    }
}

/// The upstream base URL of one account: its kind's, a Vertex service
/// account's location's, or one its file names (Qwen's `resource_url`).
pub fn account_base_url(a: &Account) -> String {
    if let Some(sa) = &a.vertex {
        return sa.base_url();
    }
    super::chat_kinds::base_url(a).unwrap_or_else(|| base_url(a.kind).to_string())
}

/// The credentials one account file is served as: `(credential id, label
/// suffix, project)`. A Gemini file listing several projects becomes one
/// virtual credential per project, as CLIProxyAPI synthesises them (ID
/// `<file id>::<project with / \ and spaces as _>`, label
/// `<email> [<project>]`), all sharing the file's token and refresh; any
/// other file is one credential under its own ID.
pub fn virtual_credentials(a: &Account, f: &AuthFile) -> Vec<(String, Option<String>)> {
    if a.kind != AccountKind::Gemini || f.projects.len() <= 1 {
        return vec![(a.id.clone(), None)];
    }
    f.projects
        .iter()
        .map(|p| {
            let safe: String = p
                .chars()
                .map(|c| {
                    if matches!(c, '/' | '\\' | ' ') {
                        '_'
                    } else {
                        c
                    }
                })
                .collect();
            (format!("{}::{safe}", a.id), Some(p.clone()))
        })
        .collect()
}

/// The provider-table kind whose format and catalog an account kind uses.
pub fn provider_kind(kind: AccountKind) -> crate::providers::Kind {
    match kind {
        AccountKind::Claude => crate::providers::Kind::Claude,
        AccountKind::Codex => crate::providers::Kind::Codex,
        AccountKind::Gemini | AccountKind::Antigravity => crate::providers::Kind::Gemini,
        AccountKind::Vertex => crate::providers::Kind::Vertex,
        AccountKind::Kimi | AccountKind::Qwen | AccountKind::IFlow => {
            crate::providers::Kind::OpenAiCompat
        }
    }
}

/// A placeholder key for an account provider (the token is read from the
/// account at send time; the key only marks the credential as keyed).
pub fn placeholder_key() -> Secret {
    Secret::new("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codex_plans_narrow_the_catalog() {
        assert!(plan_exclusions("pro").is_empty());
        assert!(plan_exclusions("").is_empty());
        assert!(plan_exclusions("plus").is_empty());
        assert_eq!(plan_exclusions("team"), ["gpt-5.3-codex-spark"]);
        assert!(plan_exclusions("free").contains(&"gpt-5.4"));
    }

    #[test]
    fn multi_project_files_become_virtual_credentials_like_cliproxyapi() {
        let f = super::file::parse(
            br#"{"type":"gemini","email":"g@x","project_id":" p-a, p/b ,p c,p-a,,",
                "token":{"access_token":"t","refresh_token":"r"}}"#,
        )
        .expect("parse");
        assert_eq!(f.projects, ["p-a", "p/b", "p c"]);
        assert_eq!(f.project_id, "p-a");
        let a = new_account("gemini-g@x-all.json".into(), PathBuf::from("/a"), &f);
        let v = virtual_credentials(&a, &f);
        let ids: Vec<&str> = v.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "gemini-g@x-all.json::p-a",
                "gemini-g@x-all.json::p_b",
                "gemini-g@x-all.json::p_c"
            ]
        );
        let projects: Vec<Option<&str>> = v.iter().map(|(_, p)| p.as_deref()).collect();
        assert_eq!(projects, [Some("p-a"), Some("p/b"), Some("p c")]);
        // One project, an array, "ALL" (resolved later) and other kinds.
        let one = super::file::parse(br#"{"type":"gemini","project_id":["p-1"]}"#).unwrap();
        let a1 = new_account("g.json".into(), PathBuf::from("/g"), &one);
        assert_eq!(
            virtual_credentials(&a1, &one),
            [("g.json".to_string(), None)]
        );
        let all = super::file::parse(br#"{"type":"gemini","project_id":"all"}"#).unwrap();
        assert!(all.projects.is_empty() && all.project_id.is_empty());
        let c = super::file::parse(br#"{"type":"claude","project_id":"a,b"}"#).unwrap();
        let ac = new_account("c.json".into(), PathBuf::from("/c"), &c);
        assert_eq!(virtual_credentials(&ac, &c).len(), 1);
    }

    #[test]
    fn scan_keeps_accounts_across_rescans_and_names_bad_files() {
        let dir = std::env::temp_dir().join(format!("cliproxy-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("team")).expect("mkdir");
        std::fs::write(
            dir.join("claude-a.json"),
            r#"{"type":"claude","email":"a@x","access_token":"t1","refresh_token":"r"}"#,
        )
        .expect("write");
        std::fs::write(
            dir.join("team/codex-b.json"),
            r#"{"type":"codex","access_token":"c"}"#,
        )
        .expect("write");
        std::fs::write(dir.join("broken.json"), "{").expect("write");
        std::fs::write(dir.join("off.json"), r#"{"type":"claude","disabled":true}"#)
            .expect("write");
        std::fs::write(dir.join("kimi.json"), r#"{"type":"xai"}"#).expect("write");
        let s1 = scan(&dir);
        let ids: Vec<&str> = s1.accounts.iter().map(|l| l.account.id.as_str()).collect();
        assert_eq!(ids, ["claude-a.json", "team/codex-b.json"]);
        assert_eq!(s1.disabled, ["off.json"]);
        let skipped: Vec<&str> = s1.skipped.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(skipped, ["broken.json", "kimi.json"]);
        // A rescan keeps the same shared account; an edited token is taken.
        std::fs::write(
            dir.join("claude-a.json"),
            r#"{"type":"claude","email":"a@x","access_token":"t2","refresh_token":"r"}"#,
        )
        .expect("write");
        let s2 = scan(&dir);
        assert!(Arc::ptr_eq(
            &s1.accounts[0].account,
            &s2.accounts[0].account
        ));
        assert_eq!(s2.accounts[0].account.token.get().access.expose(), "t2");
        assert_eq!(s2.accounts[0].account.token.get().version, 1);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
