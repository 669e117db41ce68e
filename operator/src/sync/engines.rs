//! One entry point per recipe step, dispatched on the binding's engine.

use turnout_crds::plan::Engine;

use super::db::{Db, Fingerprint};
use super::{SyncError, mysql, postgres};
use crate::runtime::stream::{DataExec, ExecSpec};

pub use super::db::STAGING;

fn is_pg(db: &Db) -> bool {
    db.at.engine == Some(Engine::Postgres)
}

pub async fn exists<R: DataExec>(rt: &R, db: &Db<'_>, name: &str) -> Result<bool, SyncError> {
    if is_pg(db) {
        postgres::exists(rt, db, name).await
    } else {
        mysql::exists(rt, db, name).await
    }
}

pub async fn fingerprint<R: DataExec>(
    rt: &R,
    db: &Db<'_>,
    name: &str,
) -> Result<Fingerprint, SyncError> {
    if is_pg(db) {
        postgres::fingerprint(rt, db, name).await
    } else {
        mysql::fingerprint(rt, db, name).await
    }
}

pub fn dump(db: &Db, name: &str) -> ExecSpec {
    if is_pg(db) {
        postgres::dump(db, name)
    } else {
        mysql::dump(db, name)
    }
}

pub fn load(db: &Db, name: &str) -> ExecSpec {
    if is_pg(db) {
        postgres::load(db, name)
    } else {
        mysql::load(db, name)
    }
}

pub async fn recreate<R: DataExec>(rt: &R, db: &Db<'_>, name: &str) -> Result<(), SyncError> {
    if is_pg(db) {
        postgres::recreate(rt, db, name).await
    } else {
        mysql::recreate(rt, db, name).await
    }
}

pub async fn drop_db<R: DataExec>(rt: &R, db: &Db<'_>, name: &str) -> Result<(), SyncError> {
    if is_pg(db) {
        postgres::drop_db(rt, db, name).await
    } else {
        mysql::drop_db(rt, db, name).await
    }
}

/// Puts back what an interrupted swap left aside (PostgreSQL's swap is two renames).
pub async fn recover<R: DataExec>(rt: &R, db: &Db<'_>, target: &str) -> Result<(), SyncError> {
    if is_pg(db) {
        postgres::recover(rt, db, target).await
    } else {
        Ok(())
    }
}

pub async fn swap<R: DataExec>(
    rt: &R,
    db: &Db<'_>,
    views_from: (&Db<'_>, &str),
    target: &str,
    staged: &Fingerprint,
) -> Result<(), SyncError> {
    if is_pg(db) {
        postgres::swap(rt, db, target).await
    } else {
        mysql::swap(rt, db, views_from, target, staged).await
    }
}

/// Bytes the database takes on disk, as the server reports it.
pub async fn size<R: DataExec>(rt: &R, db: &Db<'_>, name: &str) -> Result<u64, SyncError> {
    let rows = if is_pg(db) {
        postgres::query(
            rt,
            db,
            "postgres",
            &[&format!("SELECT pg_database_size('{name}')")],
        )
        .await?
    } else {
        mysql::query(
            rt,
            db,
            &format!("SELECT COALESCE(SUM(DATA_LENGTH + INDEX_LENGTH), 0) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{name}'"),
        )
        .await?
    };
    Ok(rows
        .first()
        .and_then(|r| r.first())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0))
}
