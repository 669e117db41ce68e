//! The PostgreSQL recipe: `pg_dump` into `psql` through the engine's exec
//! API, verified per table by row count and an ordered hash of the rows,
//! swapped in by renaming databases.
//!
//! SQL reaches `psql` on stdin. Table and view names read from the catalog
//! are quoted by the server (`format('%I')`) and travel hex-encoded, so a
//! tab or newline in a name cannot split a row of output; names with
//! control characters are refused before the target is touched. Other
//! identifiers go through [`ident`], literals through [`literal`] (an
//! escape string, read the same whatever `standard_conforming_strings`
//! says). Owners and grants travel with the dump, and the swapped-in
//! database gets the previous one's owner, privileges and comment. The
//! admin password reaches the client as `PGPASSWORD`.

mod swap;

use super::SyncError;
use super::db::{Db, Fingerprint, check_name};

use crate::runtime::stream::{DataExec, ExecSpec, SecretValue};
pub use swap::{recover, swap};

/// The comment that marks a database as turnout's own (staging, or set aside).
pub const MARKER: &str = "turnout: a staging database turnout made; safe for turnout to drop";

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

/// A quoted identifier, inner double quotes doubled.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A string literal (an escape string: backslashes and quotes escaped).
pub fn literal(s: &str) -> String {
    format!("E'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

pub(super) fn unhex(s: &str) -> Option<String> {
    let bytes: Option<Vec<u8>> = (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()))
        .collect();
    bytes.and_then(|b| String::from_utf8(b).ok())
}

/// Runs a script (sent on stdin, one statement after another, stopping at
/// the first error) against `database`, and returns the rows of every
/// result in order. `what` names the work in errors.
pub async fn query<R: DataExec>(
    rt: &R,
    db: &Db<'_>,
    database: &str,
    what: &str,
    sql: &str,
) -> Result<Vec<Vec<String>>, SyncError> {
    let argv = [
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
    ];
    let spec = connect(
        db,
        db.exec(argv)
            .with_env(env(db))
            .with_timeout(db.timeouts.query),
    );
    let script = format!(
        "SET lock_timeout = '{}s';\n{sql}\n",
        db.timeouts.lock_wait.as_secs().max(1)
    );
    let text = super::db::answer(rt, db, &spec, &script, what).await?;
    Ok(text
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect())
}

pub(super) fn first(rows: &[Vec<String>]) -> Option<&str> {
    rows.first().and_then(|r| r.first()).map(String::as_str)
}

pub async fn exists<R: DataExec>(rt: &R, db: &Db<'_>, name: &str) -> Result<bool, SyncError> {
    let sql = format!(
        "SELECT 1 FROM pg_database WHERE datname = {};",
        literal(name)
    );
    let rows = query(rt, db, "postgres", "looking for the database", &sql).await?;
    Ok(!rows.is_empty())
}

/// Refuses to go on when `name` exists without turnout's marker comment.
pub(super) async fn must_be_ours<R: DataExec>(
    rt: &R,
    db: &Db<'_>,
    name: &str,
) -> Result<(), SyncError> {
    let sql = format!(
        "SELECT coalesce(shobj_description(oid, 'pg_database') = {}, false) FROM pg_database WHERE datname = {};",
        literal(MARKER),
        literal(name)
    );
    let rows = query(rt, db, "postgres", "looking for turnout's marker", &sql).await?;
    match first(&rows) {
        Some("f") => Err(SyncError::NotOurs {
            database: format!("{}/{name}", db.at.container),
        }),
        _ => Ok(()),
    }
}

const USER_SCHEMAS: &str = "schemaname NOT IN ('pg_catalog', 'information_schema')";

/// Names of `relation` (pg_tables or pg_views) as (server-quoted
/// `schema.name`, raw schema, raw name), hex-encoded on the way.
async fn relations<R: DataExec>(
    rt: &R,
    db: &Db<'_>,
    database: &str,
    relation: &str,
    column: &str,
) -> Result<Vec<(String, String, String)>, SyncError> {
    let hex = |e: &str| format!("encode(convert_to({e}, 'UTF8'), 'hex')");
    let quoted = format!("format('%I.%I', schemaname, {column})");
    let sql = format!(
        "SELECT {}, {}, {} FROM {relation} WHERE {USER_SCHEMAS} ORDER BY {quoted};",
        hex(&quoted),
        hex("schemaname"),
        hex(column)
    );
    let rows = query(rt, db, database, "listing tables", &sql).await?;
    rows.iter()
        .map(|r| match r.as_slice() {
            [q, s, n] => match (unhex(q), unhex(s), unhex(n)) {
                (Some(q), Some(s), Some(n)) => Ok((q, s, n)),
                _ => Err(SyncError::Io(format!(
                    "unexpected answer listing {relation} of {}/{database}",
                    db.at.container
                ))),
            },
            _ => Err(SyncError::Io(format!(
                "unexpected answer listing {relation} of {}/{database}",
                db.at.container
            ))),
        })
        .collect()
}

/// Tables (row count and an ordered hash of their rows) and views.
pub async fn fingerprint<R: DataExec>(
    rt: &R,
    db: &Db<'_>,
    name: &str,
) -> Result<Fingerprint, SyncError> {
    let tables = relations(rt, db, name, "pg_tables", "tablename").await?;
    let views = relations(rt, db, name, "pg_views", "viewname").await?;
    for (_, schema, t) in &tables {
        check_name(name, "schema", schema)?;
        check_name(name, "table", t)?;
    }
    for (_, schema, v) in &views {
        check_name(name, "schema", schema)?;
        check_name(name, "view", v)?;
    }
    let mut fp = Fingerprint {
        views: views.into_iter().map(|(q, ..)| q).collect(),
        ..Default::default()
    };
    if tables.is_empty() {
        return Ok(fp);
    }
    // One statement per table, one row each, in order. Names come quoted
    // from format('%I'); md5 per row keeps the aggregate small.
    let script: String = tables
        .iter()
        .map(|(q, ..)| {
            format!(
                "SELECT count(*), coalesce(md5(string_agg(h, '' ORDER BY h)), '') FROM (SELECT md5(x::text) AS h FROM {q} x) s;\n"
            )
        })
        .collect();
    let rows = query(rt, db, name, "checksumming tables", &script).await?;
    if rows.len() != tables.len() {
        return Err(SyncError::Io(format!(
            "unexpected answer checksumming {} tables of {}/{name}",
            tables.len(),
            db.at.container
        )));
    }
    for ((q, ..), row) in tables.into_iter().zip(rows) {
        let (count, sum) = match row.as_slice() {
            [n, s] => (n.parse().unwrap_or(0), s.clone()),
            _ => (0, String::new()),
        };
        fp.tables.push((q, count, sum));
    }
    Ok(fp)
}

/// The dump of database `name`, owners and privileges included.
pub fn dump(db: &Db, name: &str) -> ExecSpec {
    connect(
        db,
        db.exec(["pg_dump", "-U", "postgres", name])
            .with_env(env(db))
            .with_timeout(db.timeouts.stream_idle),
    )
}

pub fn load(db: &Db, name: &str) -> ExecSpec {
    connect(
        db,
        db.exec([
            "psql",
            "-U",
            "postgres",
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            name,
        ])
        .with_env(env(db))
        .with_timeout(db.timeouts.stream_idle),
    )
}

/// Creates database `name` afresh, marked as turnout's. One that exists
/// without turnout's mark is refused, never dropped.
pub async fn recreate<R: DataExec>(rt: &R, db: &Db<'_>, name: &str) -> Result<(), SyncError> {
    must_be_ours(rt, db, name).await?;
    let n = ident(name);
    let sql = format!(
        "DROP DATABASE IF EXISTS {n} WITH (FORCE);\nCREATE DATABASE {n};\nCOMMENT ON DATABASE {n} IS {};",
        literal(MARKER)
    );
    query(rt, db, "postgres", "creating the staging database", &sql)
        .await
        .map(|_| ())
}

/// Drops database `name` if it is turnout's (refuses one that is not).
pub async fn drop_db<R: DataExec>(rt: &R, db: &Db<'_>, name: &str) -> Result<(), SyncError> {
    must_be_ours(rt, db, name).await?;
    let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE);", ident(name));
    query(rt, db, "postgres", "dropping the staging database", &sql)
        .await
        .map(|_| ())
}

/// Bytes the database takes on disk.
pub async fn size<R: DataExec>(rt: &R, db: &Db<'_>, name: &str) -> Result<u64, SyncError> {
    let sql = format!("SELECT pg_database_size({});", literal(name));
    let rows = query(rt, db, "postgres", "measuring the database", &sql).await?;
    Ok(first(&rows).and_then(|n| n.parse().ok()).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_cannot_be_escaped() {
        assert_eq!(ident(r#"a"b"#), r#""a""b""#);
        assert_eq!(literal(r"it's \ here"), r"E'it\'s \\ here'");
        assert_eq!(unhex("6162").as_deref(), Some("ab"));
        assert_eq!(unhex("6"), None);
        assert_eq!(unhex("zz"), None);
    }
}
