//! `save-cooldown-status`: cooldown state survives a restart.
//!
//! One JSON file holds every active cooldown:
//! `{"version":1,"saved_at_unix_ms":..,"records":[{"auth_id":..,"model":..,
//! "until_unix_ms":..,"status":..,"quota":..,"backoff_level":..}]}` (`model`
//! omitted for credential-wide state). Writes are atomic: a temporary file in
//! the same directory is written, synced and renamed over the target. On load,
//! expired records, unknown credentials/models and inactive credentials are
//! dropped, and quota deadlines are clamped to the configured ceiling (so old
//! multi-day records cannot latch a credential). This is not CLIProxyAPI's
//! per-auth `.cds` layout.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::scheduler::Scheduler;
use super::state::{clamp_restored, Word};
use super::topology::merge_word;

/// Format version written and accepted.
const VERSION: u32 = 1;

/// Largest state file accepted on load (a record is ~150 bytes; 64 MiB is
/// far above 5,000 credentials × 50 models and bounds memory on a corrupt file).
const MAX_FILE: u64 = 64 * 1024 * 1024;

#[derive(Serialize, Deserialize)]
struct Record {
    auth_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    model: Option<String>,
    until_unix_ms: u64,
    #[serde(default)]
    status: u16,
    #[serde(default)]
    quota: bool,
    #[serde(default)]
    backoff_level: u8,
}

#[derive(Serialize, Deserialize)]
struct File {
    version: u32,
    saved_at_unix_ms: u64,
    records: Vec<Record>,
}

impl Scheduler {
    /// Cooldowns in force now: (whole credentials, credential-model pairs).
    /// Reads the shared words; for `/metrics`.
    pub fn cooling_counts(&self) -> (usize, usize) {
        let topo = self.topology();
        let now = self.inner.now_ms();
        let (mut creds, mut models) = (0, 0);
        for cred in topo.creds.iter().flatten() {
            if Word::blocks(topo.word(cred.cred_slot), now) {
                creds += 1;
            }
            for &(_, slot) in cred.models.iter() {
                if Word::blocks(topo.word(slot), now) {
                    models += 1;
                }
            }
        }
        (creds, models)
    }

    /// Writes all active cooldowns to `path` atomically. Returns the number of
    /// records written.
    pub fn save_to(&self, path: &Path) -> io::Result<usize> {
        let topo = self.topology();
        let inner = &self.inner;
        let now = inner.now_ms();
        let mut records = Vec::new();
        let mut push = |auth_id: &str, model: Option<&str>, raw: u64| {
            if Word::blocks(raw, now) {
                let w = Word::decode(raw);
                records.push(Record {
                    auth_id: auth_id.to_string(),
                    model: model.map(str::to_string),
                    until_unix_ms: inner.unix_ms(w.until),
                    status: w.status,
                    quota: w.quota,
                    backoff_level: w.level,
                });
            }
        };
        for cred in topo.creds.iter().flatten() {
            push(&cred.id, None, topo.word(cred.cred_slot));
            for &(model, slot) in cred.models.iter() {
                push(
                    &cred.id,
                    Some(topo.model_names.name(model)),
                    topo.word(slot),
                );
            }
        }
        let n = records.len();
        let file = File {
            version: VERSION,
            saved_at_unix_ms: inner.unix_ms(now),
            records,
        };
        let bytes = serde_json::to_vec(&file).map_err(io::Error::other)?;
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
        let name = path
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".tmp{}", std::process::id()));
        let tmp = match dir {
            Some(d) => d.join(&tmp_name),
            None => Path::new(&tmp_name).to_path_buf(),
        };
        let result = (|| {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            fs::rename(&tmp, path)?;
            if let Some(d) = dir {
                // Persist the rename itself; best effort (not all filesystems allow it).
                if let Ok(df) = fs::File::open(d) {
                    let _ = df.sync_all();
                }
            }
            Ok(n)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    /// Restores cooldowns from `path`. A missing file restores nothing
    /// (`Ok(0)`). Returns the number of records applied.
    pub fn load_from(&self, path: &Path) -> io::Result<usize> {
        let meta = match fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        if meta.len() > MAX_FILE {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "cooldown file too large",
            ));
        }
        let bytes = fs::read(path)?;
        let file: File = serde_json::from_slice(&bytes)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        if file.version != VERSION {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "unknown cooldown file version",
            ));
        }
        let topo = self.topology();
        let inner = &self.inner;
        let now = inner.now_ms();
        let now_unix = inner.unix_ms(now);
        let ceiling = topo.settings.quota_cooldown_ceiling.as_millis() as u64;
        let mut applied = 0;
        for r in &file.records {
            if r.until_unix_ms <= now_unix {
                continue;
            }
            let Some(cred) = topo
                .cred_names
                .get(r.auth_id.trim())
                .and_then(|i| topo.cred(i))
            else {
                continue;
            };
            let disabled = cred
                .disable_cooling
                .unwrap_or(topo.settings.disable_cooling);
            if disabled {
                continue;
            }
            let slot = match &r.model {
                None => cred.cred_slot,
                Some(m) => match topo
                    .model_names
                    .get(m.trim())
                    .and_then(|id| cred.slot_of(id))
                {
                    Some(s) => s,
                    None => continue,
                },
            };
            let raw = Word {
                until: inner.sched_ms(r.until_unix_ms),
                status: r.status,
                quota: r.quota,
                level: r.backoff_level.min(31),
            }
            .encode();
            merge_word(&topo.words, slot, clamp_restored(raw, now, ceiling));
            applied += 1;
        }
        Ok(applied)
    }
}
