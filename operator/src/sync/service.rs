//! A service's own data, moved with the plan's export and import argv run
//! in one-off containers of the service's image on its volumes (so the
//! service can stay stopped: a quiescent source). There is no staging name
//! for arbitrary data, so the target is backed up first, the copy is
//! verified by exporting the target again (the export must print the same
//! bytes for the same data), and a copy that does not verify is undone
//! from the backup.

use std::path::{Path, PathBuf};
use std::time::Instant;

use turnout_crds::datasync::SyncStep;

use super::backup::{BackupMeta, SERVICE_DATA, read_meta, write_backup};
use super::record::Records;
use super::run::{SyncOptions, SyncProgress};
use super::{Endpoint, StepPlan, SyncError};
use crate::runtime::stream::{DataExec, ExecSpec, Job, Sink, Source};

/// A writer that only hashes and counts what it is given.
#[derive(Default)]
struct HashWriter {
    hasher: sha2::Sha256,
    bytes: u64,
}

impl HashWriter {
    fn digest(self) -> String {
        use sha2::Digest;
        super::db::hex(&self.hasher.finalize()[..16])
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

fn service_spec(e: &Endpoint, export: bool, opts: &SyncOptions) -> Result<ExecSpec, SyncError> {
    let s = e
        .service
        .as_ref()
        .ok_or_else(|| SyncError::Io(format!("{} is not a service binding", e.label())))?;
    let (argv, what) = if export {
        (&s.export, "export")
    } else {
        (&s.import, "import")
    };
    Ok(ExecSpec::new(&e.container, argv.clone())
        .on(e.side)
        .with_timeout(opts.timeouts.stream_idle)
        .as_job(
            &job_name(&e.container, what),
            Job {
                image: s.image.clone(),
                volumes: s.volumes.clone(),
            },
        ))
}

fn failed(spec: &ExecSpec, code: Option<i64>, stderr: &str) -> SyncError {
    SyncError::Command {
        what: spec.display(),
        code: code.unwrap_or(-1),
        stderr: stderr.trim().to_string(),
    }
}

/// The digest of what `e`'s export prints.
async fn export_digest<R: DataExec>(
    rt: &R,
    e: &Endpoint,
    opts: &SyncOptions,
) -> Result<String, SyncError> {
    let spec = service_spec(e, true, opts)?;
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
    Ok(sink.digest())
}

/// The digest of a file's bytes.
async fn file_digest(path: &Path) -> std::io::Result<String> {
    let mut sink = HashWriter::default();
    let mut f = tokio::fs::File::open(path).await?;
    tokio::io::copy(&mut f, &mut sink).await?;
    Ok(sink.digest())
}

/// Backs up the target's data, whose export digest is `digest`: the file is
/// kept only if it hashes to that digest (a complete export).
async fn backup<R: DataExec>(
    rt: &R,
    target: &Endpoint,
    digest: &str,
    opts: &SyncOptions,
) -> Result<PathBuf, SyncError> {
    let spec = service_spec(target, true, opts)?;
    let meta = BackupMeta {
        target: target.label(),
        checksum: digest.to_string(),
        rows: None,
        taken_at: jiff::Timestamp::now().to_string(),
    };
    let want = digest.to_string();
    write_backup(
        rt,
        opts,
        target,
        SERVICE_DATA,
        &spec,
        |path| async move {
            match file_digest(&path).await {
                Ok(d) if d == want => Ok(()),
                Ok(d) => Err(format!("it hashes to {d}, the data to {want}")),
                Err(e) => Err(e.to_string()),
            }
        },
        meta,
    )
    .await
}

/// Imports `file` into the target service.
async fn import_file<R: DataExec>(
    rt: &R,
    target: &Endpoint,
    file: &Path,
    opts: &SyncOptions,
    on_bytes: &(dyn Fn(u64) + Sync),
) -> Result<u64, SyncError> {
    let reader = tokio::fs::File::open(file)
        .await
        .map_err(|e| SyncError::Io(format!("cannot read {}: {e}", file.display())))?;
    let import = service_spec(target, false, opts)?;
    let out = rt
        .stream(
            Source::Reader(Box::pin(reader)),
            Sink::Exec(&import),
            on_bytes,
        )
        .await?;
    if !out.succeeded() {
        return Err(failed(&import, out.sink_exit, &out.sink_stderr));
    }
    Ok(out.bytes)
}

/// Copies one service binding; `status` records what was done.
pub async fn copy_service<R: DataExec>(
    rt: &R,
    step: &StepPlan,
    opts: &SyncOptions,
    progress: &dyn SyncProgress,
    status: &mut SyncStep,
) -> Result<(), SyncError> {
    let b = step.binding.as_str();
    progress.phase(b, "inspect");
    let source_digest = export_digest(rt, &step.source, opts).await?;
    status.source_checksum = Some(source_digest.clone());
    let now = export_digest(rt, &step.target, opts).await?;
    let mut records = Records::load(&opts.state_dir)?;
    let key = step.target_key();
    records.check_unchanged(&key, &now, opts.allow_overwrite_newer)?;
    if now == source_digest {
        progress.phase(b, "already in sync");
        status.target_checksum = Some(now.clone());
        return Ok(records.written(&key, &now, &step.source.label())?);
    }
    let mut backup_file = None;
    if opts.backup {
        progress.phase(b, "backup");
        let file = backup(rt, &step.target, &now, opts).await?;
        status.backup = Some(file.display().to_string());
        backup_file = Some(file);
    }
    progress.phase(b, "copy");
    records.mark_pending(&key, &now, &step.source.label(), source_digest.clone())?;
    if let Err(e) = stream_and_verify(rt, step, &source_digest, opts, progress, status).await {
        if let Some(file) = &backup_file {
            progress.phase(b, "undo");
            import_file(rt, &step.target, file, opts, &|_| {}).await?;
        }
        return Err(e);
    }
    status.target_checksum = Some(source_digest.clone());
    Ok(records.written(&key, &source_digest, &step.source.label())?)
}

/// Streams the source's export into the target's import, then checks the
/// target exports the source's bytes.
async fn stream_and_verify<R: DataExec>(
    rt: &R,
    step: &StepPlan,
    source_digest: &str,
    opts: &SyncOptions,
    progress: &dyn SyncProgress,
    status: &mut SyncStep,
) -> Result<(), SyncError> {
    let b = step.binding.as_str();
    let (export, import) = (
        service_spec(&step.source, true, opts)?,
        service_spec(&step.target, false, opts)?,
    );
    let out = rt
        .stream(Source::Exec(&export), Sink::Exec(&import), &|n| {
            progress.bytes(b, n)
        })
        .await?;
    status.bytes = out.bytes;
    if !out.succeeded() {
        let (spec, code, err) = if out.source_exit != Some(0) {
            (&export, out.source_exit, &out.source_stderr)
        } else {
            (&import, out.sink_exit, &out.sink_stderr)
        };
        return Err(failed(spec, code, err));
    }
    progress.phase(b, "verify");
    if export_digest(rt, &step.target, opts).await? != source_digest {
        return Err(SyncError::Mismatch {
            source_db: step.source.label(),
            target: step.target.label(),
            detail: "exporting the target again does not give the source's bytes".into(),
        });
    }
    Ok(())
}

/// Puts a service-data backup back: what the target holds now is backed up
/// first, the backup is imported and checked by exporting the target again
/// against the digest recorded with the backup (`verify`); a restore that
/// does not check out is undone.
pub async fn restore_service<R: DataExec>(
    rt: &R,
    target: &Endpoint,
    file: &Path,
    opts: &SyncOptions,
    progress: &dyn SyncProgress,
    verify: bool,
) -> Result<SyncStep, SyncError> {
    let t0 = Instant::now();
    let expected = match read_meta(file) {
        Some(meta) => Some(meta.checksum),
        None if verify => return Err(super::restore::unrecorded(file)),
        None => None,
    };
    let mut step = SyncStep {
        binding: "restore".into(),
        source: file.display().to_string(),
        target: target.label(),
        ..Default::default()
    };
    let now = export_digest(rt, target, opts).await?;
    let undo = if opts.backup {
        progress.phase("restore", "backup");
        let f = backup(rt, target, &now, opts).await?;
        step.backup = Some(f.display().to_string());
        Some(f)
    } else {
        None
    };
    progress.phase("restore", "import");
    step.bytes = import_file(rt, target, file, opts, &|n| progress.bytes("restore", n)).await?;
    let digest = export_digest(rt, target, opts).await?;
    if let Some(want) = expected.filter(|w| *w != digest) {
        if let Some(f) = &undo {
            progress.phase("restore", "undo");
            import_file(rt, target, f, opts, &|_| {}).await?;
        }
        return Err(SyncError::Mismatch {
            source_db: file.display().to_string(),
            target: target.label(),
            detail: format!(
                "the restored data exports as {digest}, the backup recorded {want}; the target was put back"
            ),
        });
    }
    let mut records = Records::load(&opts.state_dir)?;
    records.written(&target.label(), &digest, &file.display().to_string())?;
    step.target_checksum = Some(digest);
    step.duration_ms = u64::try_from(t0.elapsed().as_millis()).unwrap_or(u64::MAX);
    Ok(step)
}
