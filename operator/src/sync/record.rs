//! What turnout last wrote into each target, so a target written to since
//! is not overwritten silently. Kept as JSON in turnout's state directory,
//! replaced atomically.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One target's last sync.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Written {
    /// Fingerprint digest of the target right after turnout wrote it.
    pub checksum: String,
    /// Where the data came from, e.g. `test-mysql/future_users`.
    pub source: String,
    /// When (RFC 3339).
    pub at: String,
    /// A swap under way: the digest the target has once it completes. A
    /// sync killed after the swap but before the record leaves the target
    /// with this digest, which is ours, not someone else's write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<String>,
}

/// The records could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("the sync records in {path}: {source}")]
pub struct RecordError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// The records of every target, keyed by `container/database`.
#[derive(Debug)]
pub struct Records {
    path: PathBuf,
    pub entries: BTreeMap<String, Written>,
}

impl Records {
    pub fn load(dir: &Path) -> Result<Records, RecordError> {
        let path = dir.join("sync-records.json");
        let read = match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map_err(std::io::Error::other),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(e),
        };
        match read {
            Ok(entries) => Ok(Records { path, entries }),
            Err(source) => Err(RecordError { path, source }),
        }
    }

    /// Notes, before a swap, the digest the target will have once it is
    /// done (a new record starts from `seen`, what the target held), and saves.
    pub fn mark_pending(
        &mut self,
        key: &str,
        seen: &str,
        source: &str,
        pending: String,
    ) -> Result<(), RecordError> {
        let entry = self
            .entries
            .entry(key.to_string())
            .or_insert_with(|| Written {
                checksum: seen.to_string(),
                source: source.to_string(),
                at: jiff::Timestamp::now().to_string(),
                pending: None,
            });
        entry.pending = Some(pending);
        self.save()
    }

    /// Refuses a target whose contents (`now`) are neither what turnout
    /// last wrote nor a swap of its own under way: someone wrote to it
    /// since. `allow` (allowOverwriteNewer) lets it through.
    pub fn check_unchanged(
        &self,
        key: &str,
        now: &str,
        allow: bool,
    ) -> Result<(), super::SyncError> {
        match self.entries.get(key) {
            Some(rec) if now != rec.checksum && rec.pending.as_deref() != Some(now) && !allow => {
                Err(super::SyncError::TargetChanged {
                    target: key.to_string(),
                    now: now.to_string(),
                    recorded: rec.checksum.clone(),
                    from: rec.source.clone(),
                    at: rec.at.clone(),
                })
            }
            _ => Ok(()),
        }
    }

    /// Records that turnout wrote `checksum` (from `source`) into `key`
    /// just now, and saves.
    pub fn written(&mut self, key: &str, checksum: &str, source: &str) -> Result<(), RecordError> {
        self.entries.insert(
            key.to_string(),
            Written {
                checksum: checksum.to_string(),
                source: source.to_string(),
                at: jiff::Timestamp::now().to_string(),
                pending: None,
            },
        );
        self.save()
    }

    pub fn save(&self) -> Result<(), RecordError> {
        crate::files::replace_json(&self.path, &self.entries).map_err(|source| RecordError {
            path: self.path.clone(),
            source,
        })
    }
}
