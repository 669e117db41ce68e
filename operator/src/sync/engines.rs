//! One entry point per recipe step, dispatched on the binding's engine.

use turnout_crds::plan::Engine;

use super::db::{Db, Fingerprint};
use super::{SyncError, mysql, postgres, redis};
use crate::runtime::stream::{DataExec, ExecSpec, Sink, Source};

pub use super::db::STAGING;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Recipe {
    Mysql,
    Postgres,
    Redis,
}

fn recipe(db: &Db) -> Recipe {
    match db.at.engine {
        Some(Engine::Postgres) => Recipe::Postgres,
        Some(Engine::Redis) => Recipe::Redis,
        _ => Recipe::Mysql,
    }
}

pub async fn exists<R: DataExec>(rt: &R, db: &Db<'_>, name: &str) -> Result<bool, SyncError> {
    match recipe(db) {
        Recipe::Mysql => mysql::exists(rt, db, name).await,
        Recipe::Postgres => postgres::exists(rt, db, name).await,
        Recipe::Redis => redis::exists(rt, db, name).await,
    }
}

pub async fn fingerprint<R: DataExec>(
    rt: &R,
    db: &Db<'_>,
    name: &str,
) -> Result<Fingerprint, SyncError> {
    match recipe(db) {
        Recipe::Mysql => mysql::fingerprint(rt, db, name).await,
        Recipe::Postgres => postgres::fingerprint(rt, db, name).await,
        Recipe::Redis => redis::fingerprint(rt, db, name).await,
    }
}

/// The command that prints the whole of `name` (a copy's source, a backup).
pub fn dump(db: &Db, name: &str) -> ExecSpec {
    match recipe(db) {
        Recipe::Mysql => mysql::dump(db, name),
        Recipe::Postgres => postgres::dump(db, name),
        Recipe::Redis => redis::dump(db, name),
    }
}

/// The command that loads what [`dump`] printed into `name`.
pub fn load(db: &Db, name: &str) -> ExecSpec {
    match recipe(db) {
        Recipe::Mysql => mysql::load(db, name),
        Recipe::Postgres => postgres::load(db, name),
        Recipe::Redis => redis::load(db, name),
    }
}

/// Where a copy into `target` is staged. `ours`: a swap of turnout's into
/// this target was under way, so leftovers in the staging place are ours.
pub async fn staging_name<R: DataExec>(
    rt: &R,
    db: &Db<'_>,
    target: &str,
    ours: bool,
) -> Result<String, SyncError> {
    match recipe(db) {
        Recipe::Redis => redis::staging(rt, db, target, ours).await,
        _ => Ok(format!("{target}{STAGING}")),
    }
}

pub async fn recreate<R: DataExec>(rt: &R, db: &Db<'_>, name: &str) -> Result<(), SyncError> {
    match recipe(db) {
        Recipe::Mysql => mysql::recreate(rt, db, name).await,
        Recipe::Postgres => postgres::recreate(rt, db, name).await,
        Recipe::Redis => redis::recreate(rt, db, name).await,
    }
}

pub async fn drop_db<R: DataExec>(rt: &R, db: &Db<'_>, name: &str) -> Result<(), SyncError> {
    match recipe(db) {
        Recipe::Mysql => mysql::drop_db(rt, db, name).await,
        Recipe::Postgres => postgres::drop_db(rt, db, name).await,
        Recipe::Redis => redis::drop_db(rt, db, name).await,
    }
}

/// Copies `from` (on `src`) into the staging place `to` (on `dst`): a dump
/// streamed into a load through the engine for SQL, a server-side copy for
/// Redis. Returns the bytes streamed.
pub async fn transfer<R: DataExec>(
    rt: &R,
    src: &Db<'_>,
    from: &str,
    dst: &Db<'_>,
    to: &str,
    compress: bool,
    on_bytes: &(dyn Fn(u64) + Sync),
) -> Result<u64, SyncError> {
    if recipe(dst) == Recipe::Redis {
        redis::transfer(rt, src, from, dst, to).await?;
        return Ok(0);
    }
    let (mut export, mut import) = (dump(src, from), load(dst, to));
    if compress {
        // Checked by `check_compressible` before the staging copy was made.
        export = super::compress::gzip_output(export);
        import = super::compress::gunzip_input(import);
    }
    let streamed = rt
        .stream(Source::Exec(&export), Sink::Exec(&import), on_bytes)
        .await?;
    if streamed.succeeded() {
        return Ok(streamed.bytes);
    }
    let (what, code, stderr) = if streamed.source_exit != Some(0) {
        (
            export.display(),
            streamed.source_exit,
            streamed.source_stderr,
        )
    } else {
        (import.display(), streamed.sink_exit, streamed.sink_stderr)
    };
    Err(SyncError::Command {
        what,
        code: code.unwrap_or(-1),
        stderr: stderr.trim().to_string(),
    })
}

/// Puts back what an interrupted swap left aside (PostgreSQL's swap is two
/// renames). `pending`: a swap of turnout's into this target was under way.
pub async fn recover<R: DataExec>(
    rt: &R,
    db: &Db<'_>,
    target: &str,
    pending: bool,
) -> Result<(), SyncError> {
    match recipe(db) {
        Recipe::Postgres => postgres::recover(rt, db, target, pending).await,
        _ => Ok(()),
    }
}

/// Refuses a database holding objects the recipe would not carry across
/// (MySQL triggers, routines and events). Reads only.
pub async fn check_copyable<R: DataExec>(rt: &R, db: &Db<'_>, name: &str) -> Result<(), SyncError> {
    match recipe(db) {
        Recipe::Mysql => mysql::check_copyable(rt, db, name).await,
        _ => Ok(()),
    }
}

/// Checks that a backup file is complete: the dump tools' closing line,
/// or for Redis every RESTORE command whole (and as many as `keys`).
pub async fn check_backup(db: &Db<'_>, path: &std::path::Path, keys: u64) -> Result<(), String> {
    let trailer = match recipe(db) {
        Recipe::Redis => {
            return match redis::check_backup(path).await {
                Ok(n) if n == keys => Ok(()),
                Ok(n) => Err(format!("it restores {n} keys, the database has {keys}")),
                Err(e) => Err(e.to_string()),
            };
        }
        Recipe::Mysql => "-- Dump completed",
        Recipe::Postgres => "-- PostgreSQL database dump complete",
    };
    let tail = read_tail(path, 512).await.map_err(|e| e.to_string())?;
    if String::from_utf8_lossy(&tail).contains(trailer) {
        Ok(())
    } else {
        Err(format!(
            "it does not end with the dump tool's {trailer:?} line"
        ))
    }
}

async fn read_tail(path: &std::path::Path, n: u64) -> std::io::Result<Vec<u8>> {
    use tokio::io::{AsyncReadExt, AsyncSeekExt};
    let mut f = tokio::fs::File::open(path).await?;
    let len = f.metadata().await?.len();
    f.seek(std::io::SeekFrom::Start(len.saturating_sub(n)))
        .await?;
    let mut tail = Vec::new();
    f.read_to_end(&mut tail).await?;
    Ok(tail)
}

/// Replaces `target` with the verified staging copy.
pub async fn swap<R: DataExec>(
    rt: &R,
    db: &Db<'_>,
    views_from: (&Db<'_>, &str),
    target: &str,
    staging: &str,
    staged: &Fingerprint,
) -> Result<(), SyncError> {
    match recipe(db) {
        Recipe::Mysql => mysql::swap(rt, db, views_from, target, staged).await,
        Recipe::Postgres => postgres::swap(rt, db, views_from, target).await,
        Recipe::Redis => redis::swap(rt, db, target, staging).await,
    }
}

/// Bytes the database takes on disk, as the server reports it (0 where it does not say).
pub async fn size<R: DataExec>(rt: &R, db: &Db<'_>, name: &str) -> Result<u64, SyncError> {
    match recipe(db) {
        Recipe::Redis => Ok(0),
        Recipe::Postgres => postgres::size(rt, db, name).await,
        Recipe::Mysql => mysql::size(rt, db, name).await,
    }
}

/// Whether a backup file ends with a newline of the client's own that the
/// loader must not be given (redis-cli prints one after its answer).
pub fn ends_with_cli_newline(db: &Db) -> bool {
    recipe(db) == Recipe::Redis
}

/// Compression needs bash and gzip in both containers (Redis copies
/// server-side and needs neither); refused with the container's name
/// before anything is written.
pub async fn check_compressible<R: DataExec>(
    rt: &R,
    src: &Db<'_>,
    dst: &Db<'_>,
) -> Result<(), SyncError> {
    if recipe(dst) == Recipe::Redis {
        return Ok(());
    }
    for db in [src, dst] {
        check_tools(rt, db).await?;
    }
    Ok(())
}

async fn check_tools<R: DataExec>(rt: &R, db: &Db<'_>) -> Result<(), SyncError> {
    let probe = db
        .exec(["sh", "-c", super::compress::NEEDS])
        .with_timeout(db.timeouts.query);
    let found = rt.capture(&probe, None, 4096).await?;
    if found.exit_code != 0 {
        return Err(SyncError::Unsupported {
            binding: db.at.label(),
            message: format!(
                "--compress needs bash and gzip in container {} ({}); copy without compression",
                db.at.container,
                if db.at.side == crate::runtime::stream::Side::Source {
                    "on the source's engine"
                } else {
                    "on this engine"
                }
            ),
        });
    }
    Ok(())
}
