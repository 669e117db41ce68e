//! DataSync objects outside Kubernetes: each one's spec and status kept as
//! JSON under turnout's data directory, so a DataSync is idempotent — one
//! that Succeeded is never run again, and creating it again is a no-op.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use turnout_crds::datasync::{DataSyncSpec, DataSyncStatus};

/// One DataSync: its name, spec and status.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredSync {
    pub name: String,
    pub spec: DataSyncSpec,
    pub status: DataSyncStatus,
}

/// The DataSyncs of a host.
#[derive(Clone, Debug)]
pub struct SyncStore {
    dir: PathBuf,
}

impl SyncStore {
    pub fn new(dir: impl Into<PathBuf>) -> SyncStore {
        SyncStore { dir: dir.into() }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    pub fn get(&self, name: &str) -> Option<StoredSync> {
        let text = std::fs::read_to_string(self.path(name)).ok()?;
        serde_json::from_str(&text).ok()
    }

    pub fn put(&self, s: &StoredSync) -> std::io::Result<()> {
        crate::files::replace_json(&self.path(&s.name), s)
    }

    /// Every stored DataSync, newest first.
    pub fn all(&self) -> Vec<StoredSync> {
        let mut v: Vec<(std::time::SystemTime, StoredSync)> = std::fs::read_dir(&self.dir)
            .map(|rd| {
                rd.flatten()
                    .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
                    .filter_map(|e| {
                        let t = e.metadata().and_then(|m| m.modified()).ok()?;
                        let s: StoredSync =
                            serde_json::from_str(&std::fs::read_to_string(e.path()).ok()?).ok()?;
                        Some((t, s))
                    })
                    .collect()
            })
            .unwrap_or_default();
        v.sort_by_key(|b| std::cmp::Reverse(b.0));
        v.into_iter().map(|(_, s)| s).collect()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}
