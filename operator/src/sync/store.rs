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

    /// The file of DataSync `name`. Names become file names, so only
    /// DNS-1123 names are accepted (no `/`, no `..`); one too long for a
    /// file name is shortened with a hash of the whole.
    fn path(&self, name: &str) -> std::io::Result<PathBuf> {
        turnout_crds::names::check_datasync_name(name).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("DataSync name {}: {e}", turnout_crds::names::shown(name)),
            )
        })?;
        let mut file = name.to_string();
        if file.len() > 200 {
            use sha2::Digest;
            let hash = crate::sync::db::hex(&sha2::Sha256::digest(name.as_bytes())[..12]);
            file.truncate(150);
            file.push('-');
            file.push_str(&hash);
        }
        Ok(self.dir.join(format!("{file}.json")))
    }

    pub fn get(&self, name: &str) -> Option<StoredSync> {
        let text = std::fs::read_to_string(self.path(name).ok()?).ok()?;
        serde_json::from_str(&text).ok()
    }

    pub fn put(&self, s: &StoredSync) -> std::io::Result<()> {
        crate::files::replace_json(&self.path(&s.name)?, s)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_are_paths_never_become_files() {
        let dir = std::env::temp_dir().join(format!("turnout-store-{}", std::process::id()));
        let store = SyncStore::new(&dir);
        let sync = |name: &str| StoredSync {
            name: name.to_string(),
            spec: serde_json::from_value(
                serde_json::json!({"planRef": "p", "from": "a", "to": "b"}),
            )
            .unwrap(),
            status: DataSyncStatus::default(),
        };
        for bad in ["../../x", "/etc/docker/daemon", "a/b", "..", "A", "x\ny"] {
            assert!(store.put(&sync(bad)).is_err(), "{bad:?} was accepted");
            assert!(store.get(bad).is_none());
        }
        assert!(!dir.join("../../x.json").exists());
        let long = "a".repeat(253);
        store.put(&sync(&long)).unwrap();
        assert_eq!(store.get(&long).unwrap().name, long);
        store.put(&sync("ok-name.1")).unwrap();
        assert_eq!(store.all().len(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
