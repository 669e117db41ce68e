//! Backups of sync targets: where they live, how one is written (complete
//! and checked, or not at all), the fingerprint kept beside each, pruning,
//! and putting one back.
//!
//! A backup is written to `<time>.<ext>.partial`, flushed to disk, checked
//! (the dump tool's closing line; for Redis every RESTORE command whole),
//! renamed to its final name and the directory flushed. Any error on the
//! way removes the partial file, so a full disk fails the sync before the
//! target is touched and leaves no half backup behind.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::db::{Db, Fingerprint};
use super::engines as engine;
use super::run::SyncOptions;
use super::{Endpoint, SyncError};
use crate::files::{fsync_dir, private_dir};
use crate::runtime::stream::{DataExec, ExecSpec, Sink, Source};

/// Extension of database dumps.
pub const DUMP: &str = "sql";
/// Extension of a service's exported data.
pub const SERVICE_DATA: &str = "data";

/// What a backup holds, kept beside it as `<backup>.json`: `turnout
/// restore` checks a backup against it before swapping it in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupMeta {
    /// The target it was taken of, `container/database`.
    pub target: String,
    /// The fingerprint digest of the contents (or the export's digest).
    pub checksum: String,
    /// Rows (or keys) in it, when known.
    pub rows: Option<u64>,
    /// When it was taken (RFC 3339).
    pub taken_at: String,
}

/// The file holding a backup's [`BackupMeta`].
pub fn meta_path(backup: &Path) -> PathBuf {
    let mut name = backup.as_os_str().to_os_string();
    name.push(".json");
    PathBuf::from(name)
}

/// The meta of a backup, when it has one.
pub fn read_meta(backup: &Path) -> Option<BackupMeta> {
    let text = std::fs::read_to_string(meta_path(backup)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Directory of the backups of one target.
pub fn backup_dir_of(opts: &SyncOptions, target: &Endpoint) -> PathBuf {
    opts.backup_dir
        .join(&target.container)
        .join(&target.database)
}

/// Runs `dump` into a new backup file of `target` and checks it with
/// `check`; keeps it (with `meta`) only when both succeed, then prunes.
pub async fn write_backup<R, F, Fut>(
    rt: &R,
    opts: &SyncOptions,
    target: &Endpoint,
    ext: &str,
    dump: &ExecSpec,
    check: F,
    meta: BackupMeta,
) -> Result<PathBuf, SyncError>
where
    R: DataExec,
    F: FnOnce(PathBuf) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let err = |message: String| SyncError::Backup {
        target: target.label(),
        message,
    };
    let dir = backup_dir_of(opts, target);
    private_dir(&dir).map_err(|e| err(format!("cannot create {}: {e}", dir.display())))?;
    let stamp = jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%S%.3fZ")
        .to_string();
    let file = dir.join(format!("{stamp}.{ext}"));
    let partial = dir.join(format!("{stamp}.{ext}.partial"));
    let f = open_private(&partial)
        .await
        .map_err(|e| err(format!("cannot write {}: {e}", partial.display())))?;
    let discard = |message: String| {
        let _ = std::fs::remove_file(&partial);
        err(message)
    };
    let out = match rt
        .stream(Source::Exec(dump), Sink::Writer(Box::pin(f)), &|_| {})
        .await
    {
        Ok(out) => out,
        Err(e) => return Err(discard(format!("{} failed: {e}", dump.display()))),
    };
    if !out.succeeded() {
        return Err(discard(format!(
            "{} exited {:?}: {}",
            dump.display(),
            out.source_exit,
            out.source_stderr.trim()
        )));
    }
    if let Err(e) = std::fs::File::open(&partial).and_then(|f| f.sync_all()) {
        return Err(discard(format!("cannot flush {}: {e}", partial.display())));
    }
    if let Err(why) = check(partial.clone()).await {
        return Err(discard(format!(
            "the backup is not complete ({why}); nothing was changed"
        )));
    }
    if let Err(e) = crate::files::replace_json(&meta_path(&file), &meta) {
        return Err(discard(format!("cannot record what the backup holds: {e}")));
    }
    // Only a complete, checked dump gets its final name.
    std::fs::rename(&partial, &file).map_err(|e| discard(e.to_string()))?;
    fsync_dir(&dir).map_err(|e| err(format!("cannot flush {}: {e}", dir.display())))?;
    prune(&dir, opts.keep_backups.max(1), ext);
    Ok(file)
}

/// Backs up database `target` (whose fingerprint is `fp`) before it is
/// overwritten.
pub async fn backup_db<R: DataExec>(
    rt: &R,
    db: &Db<'_>,
    target: &Endpoint,
    fp: &Fingerprint,
    opts: &SyncOptions,
) -> Result<PathBuf, SyncError> {
    let spec = engine::dump(db, &target.database);
    let keys = fp.rows();
    let meta = BackupMeta {
        target: target.label(),
        checksum: fp.digest(),
        rows: Some(keys),
        taken_at: jiff::Timestamp::now().to_string(),
    };
    write_backup(
        rt,
        opts,
        target,
        DUMP,
        &spec,
        |path| async move { engine::check_backup(db, &path, keys).await },
        meta,
    )
    .await
}

pub async fn open_private(path: &Path) -> std::io::Result<tokio::fs::File> {
    tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .await
}

/// The complete backups of a directory (database dumps and service data), oldest first.
pub fn list_backups(dir: &Path) -> Vec<PathBuf> {
    let mut files = list_files(dir, DUMP);
    files.extend(list_files(dir, SERVICE_DATA));
    files.sort();
    files
}

fn list_files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == ext))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Keeps the newest `keep` backups of kind `ext` (and their meta).
fn prune(dir: &Path, keep: usize, ext: &str) {
    let files = list_files(dir, ext);
    let excess = files.len().saturating_sub(keep);
    for old in &files[..excess] {
        if let Err(e) = std::fs::remove_file(old) {
            tracing::warn!(file = %old.display(), error = %e, "cannot prune an old backup");
        }
        let _ = std::fs::remove_file(meta_path(old));
    }
}
