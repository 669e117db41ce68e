//! The PostgreSQL recipe: `pg_dump` into `psql` through the engine's exec
//! API, verified per table by row count and an ordered hash of the rows,
//! swapped in by renaming databases.
//!
//! Identifiers are validated (`[A-Za-z_][A-Za-z0-9_]*`) and double-quoted;
//! table names read from the catalog are quoted by the server (`format('%I')`).
//! The admin password reaches the client as `PGPASSWORD`.

use super::SyncError;
use super::db::{Db, Fingerprint, OLD, STAGING};
use crate::runtime::stream::{DataExec, ExecSpec, SecretValue};

fn env(db: &Db) -> Vec<(String, SecretValue)> {
    db.password
        .iter()
        .map(|p| ("PGPASSWORD".to_string(), p.clone()))
        .collect()
}

/// Connects as postgres: over TCP to 127.0.0.1 with the admin password when
/// the plan names one (so it is really checked), else the local socket.
fn connect(db: &Db, mut spec: ExecSpec) -> ExecSpec {
    if db.password.is_some() {
        spec.argv.splice(1..1, ["--host=127.0.0.1".to_string()]);
    }
    spec
}

fn q(name: &str) -> String {
    format!("\"{name}\"")
}

/// Runs each statement on its own (`-c` per statement, so DROP/CREATE
/// DATABASE are not wrapped in one transaction) and returns the rows of the last.
pub async fn query<R: DataExec>(
    rt: &R,
    db: &Db<'_>,
    database: &str,
    statements: &[&str],
) -> Result<Vec<Vec<String>>, SyncError> {
    let mut argv: Vec<String> = [
        "psql",
        "-U",
        "postgres",
        "-X",
        "-q",
        "-A",
        "-t",
        "-F",
        "\t",
        "-v",
        "ON_ERROR_STOP=1",
        "-d",
        database,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for s in statements {
        argv.push("-c".into());
        argv.push((*s).to_string());
    }
    let spec = connect(db, ExecSpec::new(&db.at.container, argv).with_env(env(db)));
    let out = rt.capture(&spec, 16 * 1024 * 1024).await?;
    if out.exit_code != 0 {
        let first = statements
            .first()
            .map_or("", |s| s.split_whitespace().next().unwrap_or(""));
        return Err(SyncError::Command {
            what: format!("{first} ... on {}", db.at.container),
            code: out.exit_code,
            stderr: out.stderr.trim().to_string(),
        });
    }
    if out.truncated {
        return Err(SyncError::Io("a query answer was too large".into()));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect())
}

pub async fn exists<R: DataExec>(rt: &R, db: &Db<'_>, name: &str) -> Result<bool, SyncError> {
    let rows = query(
        rt,
        db,
        "postgres",
        &[&format!(
            "SELECT 1 FROM pg_database WHERE datname = '{name}'"
        )],
    )
    .await?;
    Ok(!rows.is_empty())
}

const USER_SCHEMAS: &str = "schemaname NOT IN ('pg_catalog', 'information_schema')";

/// Tables (row count and an ordered hash of their rows) and views.
pub async fn fingerprint<R: DataExec>(
    rt: &R,
    db: &Db<'_>,
    name: &str,
) -> Result<Fingerprint, SyncError> {
    let tables = query(
        rt,
        db,
        name,
        &[&format!("SELECT format('%I.%I', schemaname, tablename) FROM pg_tables WHERE {USER_SCHEMAS} ORDER BY 1")],
    )
    .await?;
    let views = query(
        rt,
        db,
        name,
        &[&format!("SELECT format('%I.%I', schemaname, viewname) FROM pg_views WHERE {USER_SCHEMAS} ORDER BY 1")],
    )
    .await?;
    let mut fp = Fingerprint {
        views: views
            .into_iter()
            .filter_map(|r| r.into_iter().next())
            .collect(),
        ..Default::default()
    };
    for t in tables.into_iter().filter_map(|r| r.into_iter().next()) {
        // Names come quoted from format('%I'); md5 per row keeps the aggregate small.
        let sql = format!(
            "SELECT count(*), coalesce(md5(string_agg(h, '' ORDER BY h)), '') FROM (SELECT md5(x::text) AS h FROM {t} x) s"
        );
        let row = query(rt, db, name, &[&sql]).await?;
        let (rows, sum) = match row.first().map(Vec::as_slice) {
            Some([n, s]) => (n.parse().unwrap_or(0), s.clone()),
            _ => (0, String::new()),
        };
        fp.tables.push((t, rows, sum));
    }
    Ok(fp)
}

pub fn dump(db: &Db, name: &str) -> ExecSpec {
    connect(
        db,
        ExecSpec::new(
            &db.at.container,
            [
                "pg_dump",
                "-U",
                "postgres",
                "--no-owner",
                "--no-privileges",
                name,
            ],
        )
        .with_env(env(db)),
    )
}

pub fn load(db: &Db, name: &str) -> ExecSpec {
    connect(
        db,
        ExecSpec::new(
            &db.at.container,
            [
                "psql",
                "-U",
                "postgres",
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                name,
            ],
        )
        .with_env(env(db)),
    )
}

pub async fn recreate<R: DataExec>(rt: &R, db: &Db<'_>, name: &str) -> Result<(), SyncError> {
    let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", q(name));
    let create = format!("CREATE DATABASE {}", q(name));
    query(rt, db, "postgres", &[&drop, &create])
        .await
        .map(|_| ())
}

pub async fn drop_db<R: DataExec>(rt: &R, db: &Db<'_>, name: &str) -> Result<(), SyncError> {
    query(
        rt,
        db,
        "postgres",
        &[&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", q(name))],
    )
    .await
    .map(|_| ())
}

/// A swap cut between its two renames leaves the target missing and its
/// previous contents under the `__turnout_old` name: put them back.
pub async fn recover<R: DataExec>(rt: &R, db: &Db<'_>, target: &str) -> Result<(), SyncError> {
    let old = format!("{target}{OLD}");
    if !exists(rt, db, target).await? && exists(rt, db, &old).await? {
        query(
            rt,
            db,
            "postgres",
            &[&format!(
                "ALTER DATABASE {} RENAME TO {}",
                q(&old),
                q(target)
            )],
        )
        .await?;
    }
    Ok(())
}

/// Renames the target aside and the staging database into its place, then
/// drops the previous contents (the caller backed them up).
pub async fn swap<R: DataExec>(rt: &R, db: &Db<'_>, target: &str) -> Result<(), SyncError> {
    let staging = format!("{target}{STAGING}");
    let old = format!("{target}{OLD}");
    let kick = format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname IN ('{target}', '{staging}') AND pid <> pg_backend_pid()"
    );
    let drop_old = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", q(&old));
    let mut statements = vec![drop_old.clone(), kick];
    if exists(rt, db, target).await? {
        statements.push(format!(
            "ALTER DATABASE {} RENAME TO {}",
            q(target),
            q(&old)
        ));
    }
    statements.push(format!(
        "ALTER DATABASE {} RENAME TO {}",
        q(&staging),
        q(target)
    ));
    statements.push(drop_old);
    let refs: Vec<&str> = statements.iter().map(String::as_str).collect();
    query(rt, db, "postgres", &refs).await.map(|_| ())
}
