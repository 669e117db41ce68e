//! What turnout last knew of each database, so one written to since is not
//! overwritten silently: the fingerprint it had when turnout last wrote it
//! (as a copy's target) or read it (as a copy's source), table by table,
//! and where the data in it came from (its lineage). Kept as JSON in
//! turnout's state directory, replaced atomically. Databases on an engine
//! other than the local one are keyed by that engine's address.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::db::Fingerprint;

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
    /// The last known fingerprint, table by table: (table, rows, checksum).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<(String, u64, String)>,
    /// `checksum` was read (the database was a copy's source), not written.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read: bool,
    /// Where turnout's last write came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lineage: Option<Lineage>,
}

/// Where the data turnout wrote into a database came from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lineage {
    /// The source's environment, when its plan names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// The source's engine, when it was not the target's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    pub plan: String,
    pub version: String,
    /// `container/database` of the source.
    pub database: String,
    /// The source's fingerprint digest when it was copied.
    pub checksum: String,
    /// When (RFC 3339).
    pub at: String,
}

/// The key of database `label` (`container/database`) on engine `engine`
/// (None: the local engine).
pub fn key(engine: Option<&str>, label: &str) -> String {
    match engine {
        None => label.to_string(),
        Some(e) => format!("{e} {label}"),
    }
}

/// What changed in a database since `before` (table by table), for a person:
/// `orders: 120 -> 135 rows; users: changed (same row count); audit: new`.
pub fn changes(before: &[(String, u64, String)], now: &Fingerprint) -> String {
    let mut out = Vec::new();
    for (t, rows, sum) in &now.tables {
        match before.iter().find(|b| &b.0 == t) {
            None => out.push(format!("{t}: new ({rows} rows)")),
            Some((_, r, _)) if r != rows => out.push(format!("{t}: {r} -> {rows} rows")),
            Some((_, _, s)) if s != sum => out.push(format!("{t}: changed (same row count)")),
            Some(_) => {}
        }
    }
    for (t, r, _) in before {
        if !now.tables.iter().any(|n| &n.0 == t) {
            out.push(format!("{t}: dropped (had {r} rows)"));
        }
    }
    if out.is_empty() {
        "its contents differ".to_string()
    } else {
        out.join("; ")
    }
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
                tables: Vec::new(),
                read: false,
                lineage: None,
            });
        entry.pending = Some(pending);
        self.save()
    }

    /// Refuses a target whose contents (`now`) are neither what turnout
    /// last wrote or read nor a swap of its own under way: someone wrote to
    /// it since. `allow` (allowOverwriteNewer) lets it through. With the
    /// fingerprint at hand, the refusal says which tables changed.
    pub fn check_unchanged(
        &self,
        key: &str,
        now: &str,
        allow: bool,
    ) -> Result<(), super::SyncError> {
        self.check(key, now, None, allow)
    }

    /// [`Records::check_unchanged`] with the target's fingerprint.
    pub fn check_fingerprint(
        &self,
        key: &str,
        now: &Fingerprint,
        allow: bool,
    ) -> Result<(), super::SyncError> {
        self.check(key, &now.digest(), Some(now), allow)
    }

    fn check(
        &self,
        key: &str,
        now: &str,
        fp: Option<&Fingerprint>,
        allow: bool,
    ) -> Result<(), super::SyncError> {
        match self.entries.get(key) {
            Some(rec) if now != rec.checksum && rec.pending.as_deref() != Some(now) && !allow => {
                let how = if rec.read {
                    "read it as a source"
                } else {
                    "wrote it"
                };
                let changed = match fp {
                    Some(fp) if !rec.tables.is_empty() => changes(&rec.tables, fp),
                    _ => format!("checksum {now}, was {}", rec.checksum),
                };
                Err(super::SyncError::TargetChanged {
                    target: key.to_string(),
                    changed,
                    how: how.to_string(),
                    from: rec.source.clone(),
                    at: rec.at.clone(),
                })
            }
            _ => Ok(()),
        }
    }

    /// Records that turnout read `fp` from `key` (a copy's source) just
    /// now; what was written there before (its lineage) stays. Saves.
    pub fn seen(&mut self, key: &str, fp: &Fingerprint) -> Result<(), RecordError> {
        let now = jiff::Timestamp::now().to_string();
        let entry = self
            .entries
            .entry(key.to_string())
            .or_insert_with(|| Written {
                checksum: String::new(),
                source: String::new(),
                at: now.clone(),
                pending: None,
                tables: Vec::new(),
                read: true,
                lineage: None,
            });
        if entry.pending.is_some() {
            // A swap of turnout's into it is under way; its own record decides.
            return Ok(());
        }
        entry.checksum = fp.digest();
        entry.tables = fp.tables.clone();
        entry.at = now;
        entry.read = true;
        self.save()
    }

    /// Records that turnout wrote `fp` into `key` from `lineage`'s source
    /// just now, and saves.
    pub fn written_from(
        &mut self,
        key: &str,
        fp: &Fingerprint,
        lineage: Lineage,
    ) -> Result<(), RecordError> {
        self.entries.insert(
            key.to_string(),
            Written {
                checksum: fp.digest(),
                source: lineage.database.clone(),
                at: jiff::Timestamp::now().to_string(),
                pending: None,
                tables: fp.tables.clone(),
                read: false,
                lineage: Some(lineage),
            },
        );
        self.save()
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
                tables: Vec::new(),
                read: false,
                lineage: None,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(tables: &[(&str, u64, &str)]) -> Fingerprint {
        Fingerprint {
            tables: tables
                .iter()
                .map(|(t, r, s)| (t.to_string(), *r, s.to_string()))
                .collect(),
            views: Vec::new(),
        }
    }

    fn records(name: &str) -> Records {
        let dir =
            std::env::temp_dir().join(format!("turnout-records-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Records::load(&dir).unwrap()
    }

    #[test]
    fn changes_name_each_table_and_its_counts() {
        let before = fp(&[("orders", 120, "a"), ("users", 10, "b"), ("audit", 3, "c")]);
        let now = fp(&[("orders", 135, "x"), ("users", 10, "b2"), ("notes", 4, "d")]);
        assert_eq!(
            changes(&before.tables, &now),
            "orders: 120 -> 135 rows; users: changed (same row count); notes: new (4 rows); audit: dropped (had 3 rows)"
        );
        assert_eq!(changes(&before.tables, &before), "its contents differ");
    }

    #[test]
    fn a_source_written_after_it_was_read_is_refused_as_a_target() {
        let mut r = records("source");
        let read = fp(&[("orders", 100, "a")]);
        r.seen("db/shop_future", &read).unwrap();
        assert!(r.check_fingerprint("db/shop_future", &read, false).is_ok());
        let written = fp(&[("orders", 101, "b")]);
        let e = r
            .check_fingerprint("db/shop_future", &written, false)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("read it as a source") && e.contains("orders: 100 -> 101 rows"),
            "{e}"
        );
        assert!(
            r.check_fingerprint("db/shop_future", &written, true)
                .is_ok()
        );
        // The records survive a reload.
        let again = Records::load(r.path.parent().unwrap()).unwrap();
        assert!(
            again
                .check_fingerprint("db/shop_future", &written, false)
                .is_err()
        );
    }

    #[test]
    fn reading_keeps_the_lineage_and_a_pending_swap_decides_alone() {
        let mut r = records("lineage");
        let copied = fp(&[("users", 5, "a")]);
        let lineage = Lineage {
            environment: Some("local".into()),
            engine: Some("unix:///run/dev.sock".into()),
            plan: "shop".into(),
            version: "future".into(),
            database: "db/shop_future".into(),
            checksum: copied.digest(),
            at: "2026-11-30T00:00:00Z".into(),
        };
        r.written_from("db/shop_dao", &copied, lineage.clone())
            .unwrap();
        r.seen("db/shop_dao", &copied).unwrap();
        let w = &r.entries["db/shop_dao"];
        assert!(w.read);
        assert_eq!(w.lineage.as_ref(), Some(&lineage));
        r.mark_pending("db/shop_dao", &copied.digest(), "x", "next".into())
            .unwrap();
        r.seen("db/shop_dao", &fp(&[("users", 6, "z")])).unwrap();
        assert_eq!(r.entries["db/shop_dao"].checksum, copied.digest());
    }

    #[test]
    fn keys_of_other_engines_carry_the_address() {
        assert_eq!(key(None, "db/x"), "db/x");
        assert_eq!(key(Some("ssh://ops@dev"), "db/x"), "ssh://ops@dev db/x");
    }
}
