//! `turnout restore`: a backup back into the database it was taken of.
//!
//! The same path as a copy, with the backup file as the source: a swap
//! left half-done is recovered first, what the target holds now is backed
//! up, the backup is loaded into staging and checked against the
//! fingerprint recorded when it was taken, and only then swapped in.

use std::path::Path;
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncSeekExt};
use turnout_crds::datasync::SyncStep;

use super::backup::{backup_db, read_meta};
use super::copy::db_of;
use super::engines as engine;
use super::record::Records;
use super::run::{SyncOptions, SyncProgress};
use super::{Endpoint, SyncError};
use crate::runtime::stream::{DataExec, Sink, Source};
use crate::secrets::SecretResolver;

/// The refusal of a backup that carries no record of what it holds.
pub fn unrecorded(file: &Path) -> SyncError {
    SyncError::Backup {
        target: file.display().to_string(),
        message: format!(
            "there is no record of what it holds ({} is missing), so turnout cannot check it; pass --no-verify to restore it anyway",
            super::backup::meta_path(file).display()
        ),
    }
}

/// Opens a backup for loading: a Redis backup ends with a newline of
/// redis-cli's own that is not part of the RESP stream, and is cut off here
/// while the file streams (it is never read whole).
async fn open_backup(
    db: &super::db::Db<'_>,
    file: &Path,
) -> std::io::Result<std::pin::Pin<Box<dyn tokio::io::AsyncRead + Send>>> {
    let mut f = tokio::fs::File::open(file).await?;
    let mut len = f.metadata().await?.len();
    if engine::ends_with_cli_newline(db) && len > 0 {
        f.seek(std::io::SeekFrom::Start(len - 1)).await?;
        let mut last = [0u8; 1];
        f.read_exact(&mut last).await?;
        if last == *b"\n" {
            len -= 1;
        }
        f.seek(std::io::SeekFrom::Start(0)).await?;
    }
    Ok(Box::pin(f.take(len)))
}

/// Puts a backup back into `target`. `verify`: refuse a backup whose
/// recorded fingerprint is missing or differs from what it loads as.
pub async fn restore<R: DataExec, S: SecretResolver>(
    rt: &R,
    secrets: &S,
    target: &Endpoint,
    file: &Path,
    opts: &SyncOptions,
    progress: &dyn SyncProgress,
    verify: bool,
) -> Result<SyncStep, SyncError> {
    let t0 = Instant::now();
    if target.service.is_some() {
        return super::service::restore_service(rt, target, file, opts, progress, verify).await;
    }
    let meta = read_meta(file);
    if verify && meta.is_none() {
        return Err(unrecorded(file));
    }
    super::check_ours(rt, target).await?;
    let db = db_of(secrets, target, opts.timeouts)?;
    let tdb = target.database.as_str();
    let mut records = Records::load(&opts.state_dir)?;
    let key = target.label();
    let pending = records
        .entries
        .get(&key)
        .is_some_and(|r| r.pending.is_some());
    engine::recover(rt, &db, tdb, pending).await?;
    let mut status = SyncStep {
        binding: "restore".into(),
        source: file.display().to_string(),
        target: key.clone(),
        ..Default::default()
    };
    let seen = back_up_current(rt, &db, target, opts, progress, &mut status).await?;
    progress.phase("restore", "load");
    let staging = engine::staging_name(rt, &db, tdb, pending).await?;
    engine::recreate(rt, &db, &staging).await?;
    let checked = match load(rt, &db, file, &staging, progress).await {
        Ok((bytes, staged)) => {
            status.bytes = bytes;
            check_against(meta.filter(|_| verify), file, &key, staged)
        }
        Err(e) => Err(e),
    };
    let staged = match checked {
        Ok(staged) => staged,
        Err(e) => {
            let _ = engine::drop_db(rt, &db, &staging).await;
            return Err(e);
        }
    };
    progress.phase("restore", "swap");
    records.mark_pending(&key, &seen, &status.source, staged.digest())?;
    engine::swap(rt, &db, (&db, &staging), tdb, &staging, &staged).await?;
    let after = engine::fingerprint(rt, &db, tdb).await?;
    status.rows = Some(after.rows());
    status.target_checksum = Some(after.digest());
    records.written(&key, &after.digest(), &status.source)?;
    status.duration_ms = u64::try_from(t0.elapsed().as_millis()).unwrap_or(u64::MAX);
    Ok(status)
}

/// Backs up what the target holds now (when it exists and backups are on);
/// returns its digest, or "" for no target.
async fn back_up_current<R: DataExec>(
    rt: &R,
    db: &super::db::Db<'_>,
    target: &Endpoint,
    opts: &SyncOptions,
    progress: &dyn SyncProgress,
    status: &mut SyncStep,
) -> Result<String, SyncError> {
    let tdb = target.database.as_str();
    if !engine::exists(rt, db, tdb).await? {
        return Ok(String::new());
    }
    engine::check_copyable(rt, db, tdb).await?;
    let now = engine::fingerprint(rt, db, tdb).await?;
    if opts.backup {
        progress.phase("restore", "backup");
        let f = backup_db(rt, db, target, &now, opts).await?;
        status.backup = Some(f.display().to_string());
    }
    Ok(now.digest())
}

/// The staged copy, if it holds what the backup's record says it held.
fn check_against(
    meta: Option<super::backup::BackupMeta>,
    file: &Path,
    key: &str,
    staged: super::db::Fingerprint,
) -> Result<super::db::Fingerprint, SyncError> {
    match meta {
        Some(meta) if meta.checksum != staged.digest() => Err(SyncError::Mismatch {
            source_db: file.display().to_string(),
            target: key.to_string(),
            detail: format!(
                "the backup loads as {}, but held {} when it was taken; the target was left as it was",
                staged.digest(),
                meta.checksum
            ),
        }),
        _ => Ok(staged),
    }
}

/// Streams the backup into staging; returns the bytes and what staging holds.
async fn load<R: DataExec>(
    rt: &R,
    db: &super::db::Db<'_>,
    file: &Path,
    staging: &str,
    progress: &dyn SyncProgress,
) -> Result<(u64, super::db::Fingerprint), SyncError> {
    let source = open_backup(db, file)
        .await
        .map_err(|e| SyncError::Io(format!("cannot read {}: {e}", file.display())))?;
    let load = engine::load(db, staging);
    let out = rt
        .stream(Source::Reader(source), Sink::Exec(&load), &|n| {
            progress.bytes("restore", n)
        })
        .await?;
    if !out.succeeded() {
        return Err(SyncError::Command {
            what: load.display(),
            code: out.sink_exit.unwrap_or(-1),
            stderr: out.sink_stderr.trim().to_string(),
        });
    }
    Ok((out.bytes, engine::fingerprint(rt, db, staging).await?))
}
