//! Executes the copies of a sync, one binding after another:
//! guard -> back up the target -> load into staging -> verify -> swap -> record.
//! A sync killed at any point leaves the target as it was (before the
//! atomic swap) or complete (after it); running it again finishes the job.

use std::path::{Path, PathBuf};
use std::time::Instant;

use tracing::info;
use turnout_crds::datasync::{DataSyncStatus, SyncPhase, SyncStep};

use super::store::{StoredSync, SyncStore};

use super::db::{Db, Fingerprint};
use super::engines::{self as engine};
use super::record::{Records, Written};
use super::{Endpoint, StepPlan, SyncError};
use crate::files::private_dir;
use crate::runtime::stream::{DataExec, SecretValue, Sink, Source};
use crate::secrets::SecretResolver;

/// How a sync behaves.
#[derive(Clone, Debug)]
pub struct SyncOptions {
    /// Back up each existing target before it is overwritten.
    pub backup: bool,
    /// Overwrite a target written to since turnout last synced it.
    pub allow_overwrite_newer: bool,
    /// Where backups go: `<dir>/<container>/<database>/<time>.sql`.
    pub backup_dir: PathBuf,
    /// Backups kept per target; older ones are pruned.
    pub keep_backups: usize,
    /// Where the records of what turnout wrote are kept.
    pub state_dir: PathBuf,
}

/// Reports progress of a sync.
pub trait SyncProgress: Send + Sync {
    fn phase(&self, binding: &str, phase: &str);
    fn bytes(&self, binding: &str, total: u64);
    /// Roughly how many bytes the copy will stream (the source's size on
    /// disk), when the engine says: enough for an ETA, not a promise.
    fn expected(&self, _binding: &str, _bytes: u64) {}
}

/// Progress that only logs phases.
pub struct LogSyncProgress;

impl SyncProgress for LogSyncProgress {
    fn phase(&self, binding: &str, phase: &str) {
        info!(binding, phase, "sync");
    }

    fn bytes(&self, _: &str, _: u64) {}
}

fn password<S: SecretResolver>(
    secrets: &S,
    e: &Endpoint,
) -> Result<Option<SecretValue>, SyncError> {
    let Some(from) = &e.admin else {
        return Ok(None);
    };
    let bytes = secrets
        .resolve(&e.container, "adminSecret", from)
        .map_err(|err| SyncError::Secret {
            container: e.container.clone(),
            message: err.to_string(),
        })?;
    let text = String::from_utf8_lossy(&bytes);
    Ok(Some(SecretValue::new(text.trim_end_matches(['\n', '\r']))))
}

/// Runs every step; returns the status of each step done (or attempted)
/// and the first error, which stops the sync.
pub async fn run_sync<R: DataExec, S: SecretResolver>(
    rt: &R,
    secrets: &S,
    steps: &[StepPlan],
    opts: &SyncOptions,
    progress: &dyn SyncProgress,
) -> (Vec<SyncStep>, Result<(), SyncError>) {
    let mut done = Vec::new();
    for step in steps {
        let t0 = Instant::now();
        let mut status = SyncStep {
            binding: step.binding.clone(),
            source: step.source.label(),
            target: step.target.label(),
            ..Default::default()
        };
        let r = if step.source.service.is_some() {
            copy_service(rt, step, opts, progress, &mut status).await
        } else {
            copy(rt, secrets, step, opts, progress, &mut status).await
        };
        status.duration_ms = u64::try_from(t0.elapsed().as_millis()).unwrap_or(u64::MAX);
        done.push(status);
        if let Err(e) = r {
            return (done, Err(e));
        }
    }
    (done, Ok(()))
}

async fn copy<R: DataExec, S: SecretResolver>(
    rt: &R,
    secrets: &S,
    step: &StepPlan,
    opts: &SyncOptions,
    progress: &dyn SyncProgress,
    status: &mut SyncStep,
) -> Result<(), SyncError> {
    let b = step.binding.as_str();
    let src = Db {
        at: &step.source,
        password: password(secrets, &step.source)?,
    };
    let dst = Db {
        at: &step.target,
        password: password(secrets, &step.target)?,
    };
    let (sdb, tdb) = (step.source.database.as_str(), step.target.database.as_str());
    let io = |e: std::io::Error| {
        SyncError::Io(format!("sync records in {}: {e}", opts.state_dir.display()))
    };

    progress.phase(b, "inspect");
    if !engine::exists(rt, &src, sdb).await? {
        return Err(SyncError::SourceMissing(step.source.label()));
    }
    let mut records = Records::load(&opts.state_dir).map_err(io)?;
    let key = step.target.label();
    engine::recover(rt, &dst, tdb).await?;
    let target_exists = engine::exists(rt, &dst, tdb).await?;
    // Source and target are read at once: each is a full pass over its data.
    let (source_fp, target_fp) = futures::join!(engine::fingerprint(rt, &src, sdb), async {
        if target_exists {
            engine::fingerprint(rt, &dst, tdb).await.map(Some)
        } else {
            Ok(None)
        }
    });
    let (source_fp, target_fp) = (source_fp?, target_fp?);
    status.source_checksum = Some(source_fp.digest());
    status.rows = Some(source_fp.rows());
    if let Ok(size) = engine::size(rt, &src, sdb).await
        && size > 0
    {
        progress.expected(b, size);
    }
    // What the target held when we looked; a record made now starts from it,
    // so a sync killed before its swap does not later look like a foreign write.
    let seen = target_fp
        .as_ref()
        .map(Fingerprint::digest)
        .unwrap_or_default();
    if let Some(target_fp) = target_fp {
        let now = target_fp.digest();
        if let Some(rec) = records.entries.get(&key) {
            let ours = now == rec.checksum || rec.pending.as_deref() == Some(now.as_str());
            if !ours && !opts.allow_overwrite_newer {
                return Err(SyncError::TargetChanged {
                    target: key,
                    now,
                    recorded: rec.checksum.clone(),
                    from: rec.source.clone(),
                    at: rec.at.clone(),
                });
            }
        }
        if source_fp.same_as(&target_fp) {
            // Already a copy of the source (e.g. a rerun after a kill past the swap).
            progress.phase(b, "already in sync");
            status.target_checksum = Some(now.clone());
            record(&mut records, &key, &now, &step.source.label()).map_err(io)?;
            return Ok(());
        }
        if opts.backup {
            progress.phase(b, "backup");
            status.backup = Some(
                backup(rt, &dst, &step.target, opts)
                    .await?
                    .display()
                    .to_string(),
            );
        }
    }

    progress.phase(b, &format!("copy ({} rows)", source_fp.rows()));
    let ours = records
        .entries
        .get(&key)
        .is_some_and(|r| r.pending.is_some());
    let staging = engine::staging_name(rt, &dst, tdb, ours).await?;
    engine::recreate(rt, &dst, &staging).await?;
    let streaming = Instant::now();
    match engine::transfer(rt, &src, sdb, &dst, &staging, &|n| progress.bytes(b, n)).await {
        Ok(bytes) => {
            status.bytes = bytes;
            status.stream_ms =
                Some(u64::try_from(streaming.elapsed().as_millis()).unwrap_or(u64::MAX));
        }
        Err(e) => {
            let _ = engine::drop_db(rt, &dst, &staging).await;
            return Err(e);
        }
    }

    progress.phase(b, "verify");
    let staged = engine::fingerprint(rt, &dst, &staging).await?;
    if !same_content(&source_fp, &staged) {
        let _ = engine::drop_db(rt, &dst, &staging).await;
        return Err(SyncError::Mismatch {
            source_db: step.source.label(),
            target: key,
            detail: source_fp.difference(&staged),
        });
    }

    progress.phase(b, "swap");
    records
        .mark_pending(&key, &seen, &step.source.label(), staged.digest())
        .map_err(io)?;
    // The swap moves the verified staging data as a whole (renames, SWAPDB),
    // so the target now holds exactly what was verified; a swap step that
    // fails (a view that cannot be created, say) returns an error here.
    engine::swap(rt, &dst, (&src, sdb), tdb, &staging, &staged).await?;
    if !engine::exists(rt, &dst, tdb).await? && staged.rows() > 0 {
        return Err(SyncError::Mismatch {
            source_db: step.source.label(),
            target: key,
            detail: "the target is missing after the swap".into(),
        });
    }
    status.target_checksum = Some(staged.digest());
    record(&mut records, &key, &staged.digest(), &step.source.label()).map_err(io)
}

fn same_content(a: &Fingerprint, b: &Fingerprint) -> bool {
    a.same_as(b)
}

fn record(records: &mut Records, key: &str, checksum: &str, source: &str) -> std::io::Result<()> {
    records.entries.insert(
        key.to_string(),
        Written {
            checksum: checksum.to_string(),
            source: source.to_string(),
            at: jiff::Timestamp::now().to_string(),
            pending: None,
        },
    );
    records.save()
}

/// Directory of the backups of one target.
pub fn backup_dir_of(opts: &SyncOptions, target: &Endpoint) -> PathBuf {
    opts.backup_dir
        .join(&target.container)
        .join(&target.database)
}

/// Dumps the target to a new file in its backup directory (0600), then
/// prunes old backups beyond `keep_backups`.
async fn backup<R: DataExec>(
    rt: &R,
    db: &Db<'_>,
    target: &Endpoint,
    opts: &SyncOptions,
) -> Result<PathBuf, SyncError> {
    let err = |message: String| SyncError::Backup {
        target: target.label(),
        message,
    };
    let dir = backup_dir_of(opts, target);
    private_dir(&dir).map_err(|e| err(format!("cannot create {}: {e}", dir.display())))?;
    let stamp = jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%S%.3fZ")
        .to_string();
    let file = dir.join(format!("{stamp}.sql"));
    let partial = dir.join(format!("{stamp}.sql.partial"));
    let f = open_private(&partial)
        .await
        .map_err(|e| err(format!("cannot write {}: {e}", partial.display())))?;
    let spec = engine::dump(db, &target.database);
    let out = rt
        .stream(Source::Exec(&spec), Sink::Writer(Box::pin(f)), &|_| {})
        .await?;
    if !out.succeeded() {
        let _ = std::fs::remove_file(&partial);
        return Err(err(format!(
            "{} exited {:?}: {}",
            spec.display(),
            out.source_exit,
            out.source_stderr.trim()
        )));
    }
    // Only a complete dump gets the .sql name.
    std::fs::rename(&partial, &file).map_err(|e| err(e.to_string()))?;
    prune(&dir, opts.keep_backups.max(1));
    Ok(file)
}

async fn open_private(path: &Path) -> std::io::Result<tokio::fs::File> {
    let f = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .await?;
    Ok(f)
}

/// The complete backups of a directory (database dumps and service data), oldest first.
pub fn list_backups(dir: &Path) -> Vec<PathBuf> {
    let mut files = list_files(dir, "sql");
    files.extend(list_files(dir, "data"));
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

fn prune(dir: &Path, keep: usize) {
    prune_ext(dir, keep, "sql");
}

fn prune_ext(dir: &Path, keep: usize, ext: &str) {
    let files = list_files(dir, ext);
    let excess = files.len().saturating_sub(keep);
    for old in &files[..excess] {
        if let Err(e) = std::fs::remove_file(old) {
            tracing::warn!(file = %old.display(), error = %e, "cannot prune an old backup");
        }
    }
}

/// Puts a backup back: loads it into staging, then swaps it into the target
/// (whose current contents are backed up first).
pub async fn restore<R: DataExec, S: SecretResolver>(
    rt: &R,
    secrets: &S,
    target: &Endpoint,
    file: &Path,
    opts: &SyncOptions,
    progress: &dyn SyncProgress,
) -> Result<SyncStep, SyncError> {
    let t0 = Instant::now();
    if target.service.is_some() {
        return restore_service(rt, target, file, opts, progress, t0).await;
    }
    let db = Db {
        at: target,
        password: password(secrets, target)?,
    };
    let tdb = target.database.as_str();
    let mut status = SyncStep {
        binding: "restore".into(),
        source: file.display().to_string(),
        target: target.label(),
        ..Default::default()
    };
    if opts.backup && engine::exists(rt, &db, tdb).await? {
        progress.phase("restore", "backup");
        status.backup = Some(backup(rt, &db, target, opts).await?.display().to_string());
    }
    progress.phase("restore", "load");
    let staging = engine::staging_name(rt, &db, tdb, false).await?;
    engine::recreate(rt, &db, &staging).await?;
    let unreadable =
        |e: std::io::Error| SyncError::Io(format!("cannot read {}: {e}", file.display()));
    let source: Source<'_> = if engine::load_whole(&db) {
        // redis-cli ends its output with a newline that is not part of the RESP stream.
        let mut bytes = tokio::fs::read(file).await.map_err(unreadable)?;
        if bytes.last() == Some(&b'\n') {
            bytes.pop();
        }
        Source::Reader(Box::pin(std::io::Cursor::new(bytes)))
    } else {
        Source::Reader(Box::pin(
            tokio::fs::File::open(file).await.map_err(unreadable)?,
        ))
    };
    let load = engine::load(&db, &staging);
    let out = rt
        .stream(source, Sink::Exec(&load), &|n| progress.bytes("restore", n))
        .await?;
    status.bytes = out.bytes;
    if !out.succeeded() {
        let _ = engine::drop_db(rt, &db, &staging).await;
        return Err(SyncError::Command {
            what: load.display(),
            code: out.sink_exit.unwrap_or(-1),
            stderr: out.sink_stderr.trim().to_string(),
        });
    }
    let staged = engine::fingerprint(rt, &db, &staging).await?;
    progress.phase("restore", "swap");
    engine::swap(rt, &db, (&db, &staging), tdb, &staging, &staged).await?;
    let after = engine::fingerprint(rt, &db, tdb).await?;
    status.rows = Some(after.rows());
    status.target_checksum = Some(after.digest());
    let mut records = Records::load(&opts.state_dir).map_err(|e| SyncError::Io(e.to_string()))?;
    record(
        &mut records,
        &target.label(),
        &after.digest(),
        &status.source,
    )
    .map_err(|e| SyncError::Io(e.to_string()))?;
    status.duration_ms = u64::try_from(t0.elapsed().as_millis()).unwrap_or(u64::MAX);
    Ok(status)
}

/// `syncOnSwitch` through the engine: the copier the reconciler calls
/// between stopping the old version and starting the new one.
pub struct EngineSwitchSync<R, S> {
    pub runtime: std::sync::Arc<R>,
    pub secrets: S,
    pub options: SyncOptions,
}

impl<R: DataExec + 'static, S: SecretResolver> crate::reconcile::SwitchSync
    for EngineSwitchSync<R, S>
{
    fn has_data(&self, plan: &turnout_crds::PortPlanSpec, from: &str, to: &str) -> bool {
        super::plan_steps(plan, from, to).is_ok_and(|s| !s.is_empty())
    }

    fn sync<'a>(
        &'a self,
        name: &'a str,
        plan: &'a turnout_crds::PortPlanSpec,
        from: &'a str,
        to: &'a str,
    ) -> futures::future::BoxFuture<'a, Result<Vec<SyncStep>, crate::reconcile::SyncFailure>> {
        Box::pin(async move {
            let spec = turnout_crds::datasync::DataSyncSpec {
                plan_ref: String::new(),
                from: from.to_string(),
                to: to.to_string(),
                backup: true,
                allow_overwrite_newer: self.options.allow_overwrite_newer,
                force: false,
            };
            let stored = execute_once(
                self.runtime.as_ref(),
                &self.secrets,
                &self.options,
                name,
                plan,
                spec,
            )
            .await;
            match stored.status.phase {
                Some(SyncPhase::Succeeded) => Ok(stored.status.steps),
                _ => Err(stored
                    .status
                    .message
                    .unwrap_or_else(|| "the data sync failed".into())
                    .into()),
            }
        })
    }
}

/// The DataSyncs of this host, under the data directory.
pub fn store_of(opts: &SyncOptions) -> SyncStore {
    SyncStore::new(opts.state_dir.join("datasyncs"))
}

/// Runs the DataSync `name` unless it already Succeeded (then it is
/// returned as it was: a DataSync never runs twice). Its status is kept in
/// the store: Running while it runs, then Succeeded or Failed with each step.
pub async fn execute_once<R: DataExec, S: SecretResolver>(
    rt: &R,
    secrets: &S,
    opts: &SyncOptions,
    name: &str,
    plan: &turnout_crds::PortPlanSpec,
    spec: turnout_crds::datasync::DataSyncSpec,
) -> StoredSync {
    let store = store_of(opts);
    if let Some(done) = store
        .get(name)
        .filter(|s| s.status.phase == Some(SyncPhase::Succeeded) && s.spec == spec)
    {
        return done;
    }
    let mut stored = StoredSync {
        name: name.to_string(),
        spec: spec.clone(),
        status: DataSyncStatus {
            phase: Some(SyncPhase::Running),
            ..Default::default()
        },
    };
    let persist = |s: &StoredSync| {
        if let Err(e) = store.put(s) {
            tracing::warn!(datasync = name, error = %e, "cannot record the DataSync");
        }
    };
    // Without its record a DataSync could run twice: refuse to begin.
    if let Err(e) = store.put(&stored) {
        stored.status.phase = Some(SyncPhase::Failed);
        stored.status.message = Some(format!(
            "cannot record the DataSync in {}: {e}; nothing was copied",
            store.dir().display()
        ));
        return stored;
    }
    let options = SyncOptions {
        backup: spec.backup,
        allow_overwrite_newer: spec.allow_overwrite_newer,
        ..opts.clone()
    };
    let result = match super::plan_steps(plan, &spec.from, &spec.to) {
        Err(e) => Err(e),
        Ok(steps) => {
            let (done, r) = run_sync(rt, secrets, &steps, &options, &LogSyncProgress).await;
            stored.status.steps = done;
            r
        }
    };
    match result {
        Ok(()) => {
            stored.status.phase = Some(SyncPhase::Succeeded);
            stored.status.message = Some(format!(
                "copied {} binding(s) from {} to {}",
                stored.status.steps.len(),
                spec.from,
                spec.to
            ));
        }
        Err(e) => {
            stored.status.phase = Some(SyncPhase::Failed);
            stored.status.message = Some(format!("[{}] {e}", e.reason()));
        }
    }
    persist(&stored);
    stored
}

/// A writer that only hashes and counts what it is given.
#[derive(Default)]
struct HashWriter {
    hasher: sha2::Sha256,
    bytes: u64,
}

impl HashWriter {
    fn digest(self) -> String {
        use sha2::Digest;
        self.hasher
            .finalize()
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

impl tokio::io::AsyncWrite for HashWriter {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        use sha2::Digest;
        self.hasher.update(buf);
        self.bytes += buf.len() as u64;
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// A unique name for a one-off data container.
fn job_name(container: &str, what: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{container}-turnout-{what}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

fn service_spec(e: &Endpoint, export: bool) -> Result<crate::runtime::stream::ExecSpec, SyncError> {
    use crate::runtime::stream::{ExecSpec, Job};
    let s = e
        .service
        .as_ref()
        .ok_or_else(|| SyncError::Io(format!("{} is not a service binding", e.label())))?;
    let (argv, what) = if export {
        (&s.export, "export")
    } else {
        (&s.import, "import")
    };
    Ok(ExecSpec::new(&e.container, argv.clone()).as_job(
        &job_name(&e.container, what),
        Job {
            image: s.image.clone(),
            volumes: s.volumes.clone(),
        },
    ))
}

fn failed(spec: &crate::runtime::stream::ExecSpec, code: Option<i64>, stderr: &str) -> SyncError {
    SyncError::Command {
        what: spec.display(),
        code: code.unwrap_or(-1),
        stderr: stderr.trim().to_string(),
    }
}

/// The digest of what `e`'s export prints.
async fn export_digest<R: DataExec>(rt: &R, e: &Endpoint) -> Result<(String, u64), SyncError> {
    let spec = service_spec(e, true)?;
    let mut sink = HashWriter::default();
    let out = rt
        .stream(
            Source::Exec(&spec),
            Sink::Writer(Box::pin(&mut sink)),
            &|_| {},
        )
        .await?;
    if !out.succeeded() {
        return Err(failed(&spec, out.source_exit, &out.source_stderr));
    }
    let bytes = sink.bytes;
    Ok((sink.digest(), bytes))
}

/// A service's own data: export (a one-off container of the source
/// service's image on its volumes) streamed into import (likewise for the
/// target). There is no staging name for arbitrary data, so the target is
/// backed up first, the copy is verified by exporting the target again
/// (the export must print the same bytes for the same data), and a copy that
/// does not verify is undone from the backup.
async fn copy_service<R: DataExec>(
    rt: &R,
    step: &StepPlan,
    opts: &SyncOptions,
    progress: &dyn SyncProgress,
    status: &mut SyncStep,
) -> Result<(), SyncError> {
    let b = step.binding.as_str();
    let io = |e: std::io::Error| {
        SyncError::Io(format!("sync records in {}: {e}", opts.state_dir.display()))
    };
    progress.phase(b, "inspect");
    let (source_digest, _) = export_digest(rt, &step.source).await?;
    status.source_checksum = Some(source_digest.clone());
    let (now, _) = export_digest(rt, &step.target).await?;
    let mut records = Records::load(&opts.state_dir).map_err(io)?;
    let key = step.target.label();
    if let Some(rec) = records.entries.get(&key)
        && now != rec.checksum
        && rec.pending.as_deref() != Some(now.as_str())
        && !opts.allow_overwrite_newer
    {
        return Err(SyncError::TargetChanged {
            target: key,
            now,
            recorded: rec.checksum.clone(),
            from: rec.source.clone(),
            at: rec.at.clone(),
        });
    }
    if now == source_digest {
        progress.phase(b, "already in sync");
        status.target_checksum = Some(now.clone());
        return record(&mut records, &key, &now, &step.source.label()).map_err(io);
    }
    let mut backup_file = None;
    if opts.backup {
        progress.phase(b, "backup");
        let dir = backup_dir_of(opts, &step.target);
        private_dir(&dir).map_err(|e| SyncError::Backup {
            target: key.clone(),
            message: e.to_string(),
        })?;
        let stamp = jiff::Timestamp::now()
            .strftime("%Y%m%dT%H%M%S%.3fZ")
            .to_string();
        let partial = dir.join(format!("{stamp}.data.partial"));
        let file = dir.join(format!("{stamp}.data"));
        let f = open_private(&partial)
            .await
            .map_err(|e| SyncError::Backup {
                target: key.clone(),
                message: e.to_string(),
            })?;
        let spec = service_spec(&step.target, true)?;
        let out = rt
            .stream(Source::Exec(&spec), Sink::Writer(Box::pin(f)), &|_| {})
            .await?;
        if !out.succeeded() {
            let _ = std::fs::remove_file(&partial);
            return Err(failed(&spec, out.source_exit, &out.source_stderr));
        }
        std::fs::rename(&partial, &file).map_err(|e| SyncError::Backup {
            target: key.clone(),
            message: e.to_string(),
        })?;
        prune_ext(&dir, opts.keep_backups.max(1), "data");
        status.backup = Some(file.display().to_string());
        backup_file = Some(file);
    }
    progress.phase(b, "copy");
    records
        .mark_pending(&key, &now, &step.source.label(), source_digest.clone())
        .map_err(io)?;
    let (export, import) = (
        service_spec(&step.source, true)?,
        service_spec(&step.target, false)?,
    );
    let out = rt
        .stream(Source::Exec(&export), Sink::Exec(&import), &|n| {
            progress.bytes(b, n)
        })
        .await?;
    status.bytes = out.bytes;
    let verified = if out.succeeded() {
        progress.phase(b, "verify");
        export_digest(rt, &step.target).await?.0 == source_digest
    } else {
        false
    };
    if !verified {
        if let Some(file) = &backup_file {
            progress.phase(b, "undo");
            let reader = tokio::fs::File::open(file)
                .await
                .map_err(|e| SyncError::Io(e.to_string()))?;
            let undo = service_spec(&step.target, false)?;
            rt.stream(Source::Reader(Box::pin(reader)), Sink::Exec(&undo), &|_| {})
                .await?;
        }
        if !out.succeeded() {
            let (spec, code, err) = if out.source_exit != Some(0) {
                (&export, out.source_exit, &out.source_stderr)
            } else {
                (&import, out.sink_exit, &out.sink_stderr)
            };
            return Err(failed(spec, code, err));
        }
        return Err(SyncError::Mismatch {
            source_db: step.source.label(),
            target: key,
            detail: "exporting the target again does not give the source's bytes".into(),
        });
    }
    status.target_checksum = Some(source_digest.clone());
    record(&mut records, &key, &source_digest, &step.source.label()).map_err(io)
}

/// Imports a service-data backup into the target service (through a one-off container).
async fn restore_service<R: DataExec>(
    rt: &R,
    target: &Endpoint,
    file: &Path,
    opts: &SyncOptions,
    progress: &dyn SyncProgress,
    t0: Instant,
) -> Result<SyncStep, SyncError> {
    progress.phase("restore", "import");
    let reader = tokio::fs::File::open(file)
        .await
        .map_err(|e| SyncError::Io(format!("cannot read {}: {e}", file.display())))?;
    let import = service_spec(target, false)?;
    let out = rt
        .stream(
            Source::Reader(Box::pin(reader)),
            Sink::Exec(&import),
            &|n| progress.bytes("restore", n),
        )
        .await?;
    if !out.succeeded() {
        return Err(failed(&import, out.sink_exit, &out.sink_stderr));
    }
    let (digest, _) = export_digest(rt, target).await?;
    let mut records = Records::load(&opts.state_dir).map_err(|e| SyncError::Io(e.to_string()))?;
    record(
        &mut records,
        &target.label(),
        &digest,
        &file.display().to_string(),
    )
    .map_err(|e| SyncError::Io(e.to_string()))?;
    Ok(SyncStep {
        binding: "restore".into(),
        source: file.display().to_string(),
        target: target.label(),
        bytes: out.bytes,
        target_checksum: Some(digest),
        duration_ms: u64::try_from(t0.elapsed().as_millis()).unwrap_or(u64::MAX),
        ..Default::default()
    })
}

/// What a copy would overwrite, for `turnout plan`. Reads only.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Overwrite {
    pub binding: String,
    pub source: String,
    pub target: String,
    /// Whether the target holds data now (a database exists; services always may).
    pub exists: bool,
    pub tables: usize,
    pub rows: u64,
    pub bytes: u64,
}

pub async fn preview<R: DataExec, S: SecretResolver>(
    rt: &R,
    secrets: &S,
    step: &StepPlan,
) -> Result<Overwrite, SyncError> {
    let mut o = Overwrite {
        binding: step.binding.clone(),
        source: step.source.label(),
        target: step.target.label(),
        exists: true,
        tables: 0,
        rows: 0,
        bytes: 0,
    };
    if step.target.service.is_some() {
        return Ok(o);
    }
    let db = Db {
        at: &step.target,
        password: password(secrets, &step.target)?,
    };
    o.exists = engine::exists(rt, &db, &step.target.database).await?;
    if o.exists {
        let fp = engine::fingerprint(rt, &db, &step.target.database).await?;
        o.tables = fp.tables.len();
        o.rows = fp.rows();
        o.bytes = engine::size(rt, &db, &step.target.database).await?;
    }
    Ok(o)
}
