//! The copy of one database binding:
//! inspect -> guard -> back up the target -> load into staging -> verify ->
//! swap -> record. Everything before the swap only reads the target (and
//! refuses hostile names, objects it would lose, and targets written since
//! turnout last wrote them); the swap is atomic, so a copy killed at any
//! point leaves the target as it was or complete.

use std::time::Instant;

use turnout_crds::datasync::SyncStep;

use super::backup::backup_db;
use super::db::{Db, Fingerprint, Timeouts};
use super::engines as engine;
use super::record::{Lineage, Records};
use super::run::{SyncOptions, SyncProgress};
use super::{Endpoint, StepPlan, SyncError};
use crate::runtime::stream::{DataExec, SecretValue};
use crate::secrets::SecretResolver;

/// The client credentials and timeouts of endpoint `e`.
pub fn db_of<'a, S: SecretResolver>(
    secrets: &S,
    e: &'a Endpoint,
    timeouts: Timeouts,
) -> Result<Db<'a>, SyncError> {
    let password = match &e.admin {
        None => None,
        Some(from) => {
            let bytes = secrets
                .resolve(&e.container, "adminSecret", from)
                .map_err(|source| SyncError::Secret {
                    container: e.container.clone(),
                    source,
                })?;
            let text = String::from_utf8_lossy(&bytes);
            Some(SecretValue::new(text.trim_end_matches(['\n', '\r'])))
        }
    };
    Ok(Db {
        at: e,
        password,
        timeouts,
    })
}

fn ms_since(t0: Instant) -> u64 {
    u64::try_from(t0.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// What the inspection found: both fingerprints (names checked on the
/// way) and whether a swap of turnout's into the target was under way.
struct Look {
    source: Fingerprint,
    target: Option<Fingerprint>,
    pending: bool,
}

/// Reads source and target, changing nothing but what an interrupted swap
/// left (put back first): whether each exists, holds anything the recipe
/// would not carry across, and its fingerprint.
async fn look<R: DataExec>(
    rt: &R,
    (src, dst): (&Db<'_>, &Db<'_>),
    step: &StepPlan,
    records: &Records,
) -> Result<Look, SyncError> {
    let (sdb, tdb) = (src.at.database.as_str(), dst.at.database.as_str());
    if !engine::exists(rt, src, sdb).await? {
        return Err(SyncError::SourceMissing(step.source.label()));
    }
    let pending = records
        .entries
        .get(&step.target_key())
        .is_some_and(|r| r.pending.is_some());
    engine::recover(rt, dst, tdb, pending).await?;
    let target_exists = engine::exists(rt, dst, tdb).await?;
    engine::check_copyable(rt, src, sdb).await?;
    if target_exists {
        engine::check_copyable(rt, dst, tdb).await?;
    }
    // Each fingerprint is a full pass over its data: read both at once.
    let (source, target) = futures::join!(engine::fingerprint(rt, src, sdb), async {
        if target_exists {
            engine::fingerprint(rt, dst, tdb).await.map(Some)
        } else {
            Ok(None)
        }
    });
    Ok(Look {
        source: source?,
        target: target?,
        pending,
    })
}

/// Copies one database binding; `status` records what was done.
pub async fn copy<R: DataExec, S: SecretResolver>(
    rt: &R,
    secrets: &S,
    step: &StepPlan,
    opts: &SyncOptions,
    progress: &dyn SyncProgress,
    status: &mut SyncStep,
) -> Result<(), SyncError> {
    let b = step.binding.as_str();
    let src = db_of(secrets, &step.source, opts.timeouts)?;
    let dst = db_of(secrets, &step.target, opts.timeouts)?;
    let mut records = Records::load(&opts.state_dir)?;
    let key = step.target_key();
    progress.phase(b, "inspect");
    let look = look(rt, (&src, &dst), step, &records).await?;
    let lineage = lineage(step, &look.source);
    if opts.compress {
        engine::check_compressible(rt, &src, &dst).await?;
    }
    status.source_checksum = Some(look.source.digest());
    status.rows = Some(look.source.rows());
    if let Ok(size) = engine::size(rt, &src, &step.source.database).await
        && size > 0
    {
        progress.expected(b, size);
    }
    // What the target held when we looked; a record made now starts from it,
    // so a sync killed before its swap does not later look like a foreign write.
    let seen = look
        .target
        .as_ref()
        .map(Fingerprint::digest)
        .unwrap_or_default();
    if let Some(target_fp) = &look.target {
        records.check_fingerprint(&key, target_fp, opts.allow_overwrite_newer)?;
        if look.source.same_as(target_fp) {
            // Already a copy of the source (e.g. a rerun after a kill past the swap).
            progress.phase(b, "already in sync");
            status.target_checksum = Some(seen.clone());
            records.seen(&step.source_key(), &look.source)?;
            return Ok(records.written_from(&key, target_fp, lineage)?);
        }
        if opts.backup {
            progress.phase(b, "backup");
            let file = backup_db(rt, &dst, &step.target, target_fp, opts).await?;
            status.backup = Some(file.display().to_string());
        }
    }
    progress.phase(b, &format!("copy ({} rows)", look.source.rows()));
    let (staging, staged) = stage(
        rt,
        (&src, &dst),
        step,
        &look,
        opts.compress,
        progress,
        status,
    )
    .await?;
    progress.phase(b, "swap");
    records.mark_pending(&key, &seen, &step.source.label(), staged.digest())?;
    // The swap moves the verified staging data as a whole (renames, SWAPDB),
    // so the target now holds exactly what was verified; a swap step that
    // fails (a view that cannot be created, say) returns an error here.
    let (sdb, tdb) = (step.source.database.as_str(), step.target.database.as_str());
    engine::swap(rt, &dst, (&src, sdb), tdb, &staging, &staged).await?;
    if !engine::exists(rt, &dst, tdb).await? && staged.rows() > 0 {
        return Err(SyncError::Mismatch {
            source_db: step.source.label(),
            target: key,
            detail: "the target is missing after the swap".into(),
        });
    }
    status.target_checksum = Some(staged.digest());
    // What the source held when it was copied: writes into it after this
    // are writes a later copy into it (switching back) must not overwrite
    // unseen. Recorded only once the copy is done: a copy that failed
    // leaves the source's record as it was.
    records.seen(&step.source_key(), &look.source)?;
    Ok(records.written_from(&key, &staged, lineage)?)
}

/// Where a copy's data comes from, for the target's record.
fn lineage(step: &StepPlan, source: &Fingerprint) -> Lineage {
    Lineage {
        environment: step.origin.environment.clone(),
        engine: step.origin.engine.clone(),
        plan: step.source.plan.clone(),
        version: step.origin.version.clone(),
        database: step.source.label(),
        checksum: source.digest(),
        at: jiff::Timestamp::now().to_string(),
    }
}

/// Loads the source into a fresh staging copy and verifies it; the staging
/// copy is dropped again on any failure. Returns its name and what it holds.
async fn stage<R: DataExec>(
    rt: &R,
    (src, dst): (&Db<'_>, &Db<'_>),
    step: &StepPlan,
    look: &Look,
    compress: bool,
    progress: &dyn SyncProgress,
    status: &mut SyncStep,
) -> Result<(String, Fingerprint), SyncError> {
    let (sdb, tdb) = (step.source.database.as_str(), step.target.database.as_str());
    let staging = engine::staging_name(rt, dst, tdb, look.pending).await?;
    engine::recreate(rt, dst, &staging).await?;
    let b = step.binding.as_str();
    let load = load_and_verify(
        rt,
        (src, sdb),
        (dst, &staging),
        &look.source,
        compress,
        progress,
        b,
    );
    match load.await {
        Ok((bytes, streamed_ms, staged)) => {
            status.bytes = bytes;
            status.stream_ms = Some(streamed_ms);
            Ok((staging, staged))
        }
        Err(e) => {
            if let Err(drop) = engine::drop_db(rt, dst, &staging).await {
                tracing::warn!(staging = %staging, error = %drop, "cannot drop the staging copy");
            }
            Err(e.into_mismatch(&step.source.label(), &step.target.label()))
        }
    }
}

/// Why loading into staging did not give the source's data.
enum LoadFailure {
    Failed(SyncError),
    /// Loaded, but different: what differs.
    Differs(String),
}

impl LoadFailure {
    fn into_mismatch(self, source: &str, target: &str) -> SyncError {
        match self {
            LoadFailure::Failed(e) => e,
            LoadFailure::Differs(detail) => SyncError::Mismatch {
                source_db: source.to_string(),
                target: target.to_string(),
                detail,
            },
        }
    }
}

impl From<SyncError> for LoadFailure {
    fn from(e: SyncError) -> LoadFailure {
        LoadFailure::Failed(e)
    }
}

/// Streams the source into staging and checks the result against the
/// source's fingerprint. Returns the bytes streamed, the milliseconds the
/// stream took, and the staged fingerprint.
async fn load_and_verify<R: DataExec>(
    rt: &R,
    (src, sdb): (&Db<'_>, &str),
    (dst, staging): (&Db<'_>, &str),
    source_fp: &Fingerprint,
    compress: bool,
    progress: &dyn SyncProgress,
    b: &str,
) -> Result<(u64, u64, Fingerprint), LoadFailure> {
    let streaming = Instant::now();
    let bytes = engine::transfer(rt, src, sdb, dst, staging, compress, &|n| {
        progress.bytes(b, n)
    })
    .await?;
    let streamed_ms = ms_since(streaming);
    progress.phase(b, "verify");
    let staged = engine::fingerprint(rt, dst, staging).await?;
    if !source_fp.same_as(&staged) {
        return Err(LoadFailure::Differs(source_fp.difference(&staged)));
    }
    Ok((bytes, streamed_ms, staged))
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
    timeouts: Timeouts,
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
    super::check_ours(rt, &step.target).await?;
    let db = db_of(secrets, &step.target, timeouts)?;
    o.exists = engine::exists(rt, &db, &step.target.database).await?;
    if o.exists {
        let fp = engine::fingerprint(rt, &db, &step.target.database).await?;
        o.tables = fp.tables.len();
        o.rows = fp.rows();
        o.bytes = engine::size(rt, &db, &step.target.database).await?;
    }
    Ok(o)
}
