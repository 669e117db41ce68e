//! The MySQL/MariaDB recipe: inspect, dump, load, verify and swap databases
//! with the server's own client tools, run inside the database container.
//!
//! Nothing read from the server or the plan reaches SQL unquoted:
//! identifiers go through [`ident`] (backticks, inner backticks doubled) and
//! string literals through [`literal`] (a hex literal, which no `sql_mode`
//! reads differently). SQL reaches the client on stdin, never as an
//! argument (argv is capped by the kernel and shown by `ps`), and the
//! client's batch output escapes tabs, newlines and backslashes, so a name
//! cannot split a row. Names with control characters are refused before
//! the target is touched. Every script first sets `lock_wait_timeout`, so a
//! statement waiting on someone else's lock gives up instead of hanging.
//! The admin password reaches the client as `MYSQL_PWD`.

mod swap;

use turnout_crds::plan::Engine;

use super::SyncError;
use super::db::{Db, Fingerprint, MARKER_TABLE, check_name, hex};

use crate::runtime::stream::{DataExec, ExecSpec, SecretValue};
pub use swap::swap;

fn client(engine: Option<Engine>) -> &'static str {
    if engine == Some(Engine::Mariadb) {
        "mariadb"
    } else {
        "mysql"
    }
}

fn dumper(engine: Option<Engine>) -> &'static str {
    if engine == Some(Engine::Mariadb) {
        "mariadb-dump"
    } else {
        "mysqldump"
    }
}

/// A quoted identifier: `` `name` `` with every backtick doubled.
pub fn ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// A string literal that means the same under every `sql_mode`.
pub fn literal(s: &str) -> String {
    format!("_utf8mb4 X'{}'", hex(s.as_bytes()))
}

/// `db`.`table`.
pub(super) fn qualified(db: &str, table: &str) -> String {
    format!("{}.{}", ident(db), ident(table))
}

/// Connects as root: over TCP to 127.0.0.1 with the admin password when the
/// plan names one (so the password is really checked), else the local socket.
fn connect(db: &Db, mut spec: ExecSpec) -> ExecSpec {
    if db.password.is_some() {
        spec.argv.splice(
            1..1,
            ["--protocol=TCP".to_string(), "--host=127.0.0.1".to_string()],
        );
    }
    spec
}

fn env(db: &Db) -> Vec<(String, SecretValue)> {
    db.password
        .iter()
        .map(|p| ("MYSQL_PWD".to_string(), p.clone()))
        .collect()
}

/// Undoes the client's batch escaping of one field.
fn unescape(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('0') => out.push('\0'),
            Some('\\') => out.push('\\'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Runs a script of statements (sent on stdin) and returns the rows of
/// every result, in order. `what` names the work in errors (never SQL: it
/// may hold names from the server).
pub async fn query<R: DataExec>(
    rt: &R,
    db: &Db<'_>,
    what: &str,
    sql: &str,
) -> Result<Vec<Vec<String>>, SyncError> {
    let spec = db
        .exec([
            client(db.at.engine),
            "--user=root",
            "--batch",
            "--skip-column-names",
            "--default-character-set=utf8mb4",
        ])
        .with_env(env(db))
        .with_timeout(db.timeouts.query);
    let spec = connect(db, spec);
    let script = format!(
        "SET SESSION lock_wait_timeout = {};\n{sql}\n",
        db.timeouts.lock_wait.as_secs().max(1)
    );
    let text = super::db::answer(rt, db, &spec, &script, what).await?;
    Ok(text
        .split('\n')
        .filter(|l| !l.is_empty())
        .map(|l| l.split('\t').map(unescape).collect())
        .collect())
}

pub async fn exists<R: DataExec>(rt: &R, db: &Db<'_>, name: &str) -> Result<bool, SyncError> {
    let rows = query(
        rt,
        db,
        "looking for the database",
        &format!(
            "SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = {};",
            literal(name)
        ),
    )
    .await?;
    Ok(!rows.is_empty())
}

/// Whether database `name` carries turnout's marker table.
async fn is_ours<R: DataExec>(rt: &R, db: &Db<'_>, name: &str) -> Result<bool, SyncError> {
    let rows = query(
        rt,
        db,
        "looking for turnout's marker",
        &format!(
            "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = {} AND TABLE_NAME = {};",
            literal(name),
            literal(MARKER_TABLE)
        ),
    )
    .await?;
    Ok(!rows.is_empty())
}

/// Refuses to go on when `name` exists and is not turnout's.
pub(super) async fn must_be_ours<R: DataExec>(
    rt: &R,
    db: &Db<'_>,
    name: &str,
) -> Result<(), SyncError> {
    if exists(rt, db, name).await? && !is_ours(rt, db, name).await? {
        return Err(SyncError::NotOurs {
            database: format!("{}/{name}", db.at.container),
        });
    }
    Ok(())
}

/// Refuses a database whose triggers, routines or events a copy would lose:
/// turnout copies tables, their data and views.
pub async fn check_copyable<R: DataExec>(rt: &R, db: &Db<'_>, name: &str) -> Result<(), SyncError> {
    let l = literal(name);
    let rows = query(
        rt,
        db,
        "counting triggers, routines and events",
        &format!(
            "SELECT (SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = {l}), \
             (SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = {l}), \
             (SELECT COUNT(*) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = {l});"
        ),
    )
    .await?;
    let counts: Vec<u64> = rows
        .first()
        .map(|r| r.iter().map(|n| n.parse().unwrap_or(0)).collect())
        .unwrap_or_default();
    if counts.iter().any(|&n| n > 0) {
        let n = |i: usize| counts.get(i).copied().unwrap_or(0);
        return Err(SyncError::Unsupported {
            binding: format!("{}/{name}", db.at.container),
            message: format!(
                "the database has {} trigger(s), {} routine(s) and {} event(s); turnout copies tables, their data and views only, and refuses rather than lose them. Move them out of the database (or copy it yourself)",
                n(0),
                n(1),
                n(2)
            ),
        });
    }
    Ok(())
}

/// Tables (with rows and checksums) and views of database `name`, the
/// marker table left out. Names with control characters are refused.
pub async fn fingerprint<R: DataExec>(
    rt: &R,
    db: &Db<'_>,
    name: &str,
) -> Result<Fingerprint, SyncError> {
    let objects = query(
        rt,
        db,
        "listing tables",
        &format!(
            "SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = {} ORDER BY TABLE_NAME;",
            literal(name)
        ),
    )
    .await?;
    let mut fp = Fingerprint::default();
    let mut tables = Vec::new();
    for row in objects {
        let [t, kind] = row.as_slice() else {
            return Err(SyncError::Io(format!(
                "unexpected answer listing the tables of {}/{name}",
                db.at.container
            )));
        };
        if t == MARKER_TABLE {
            continue;
        }
        let is_view = kind == "VIEW";
        check_name(name, if is_view { "view" } else { "table" }, t)?;
        if is_view {
            fp.views.push(t.clone());
        } else {
            tables.push(t.clone());
        }
    }
    if tables.is_empty() {
        return Ok(fp);
    }
    let list: Vec<String> = tables.iter().map(|t| qualified(name, t)).collect();
    let mut script = format!("CHECKSUM TABLE {} EXTENDED;\n", list.join(", "));
    for q in &list {
        script.push_str(&format!("SELECT COUNT(*) FROM {q};\n"));
    }
    let rows = query(rt, db, "checksumming tables", &script).await?;
    let (sums, counts) = rows.split_at(rows.len().min(tables.len()));
    if sums.len() != tables.len() || counts.len() != tables.len() {
        return Err(SyncError::Io(format!(
            "unexpected answer checksumming {} tables of {}/{name}",
            tables.len(),
            db.at.container
        )));
    }
    for ((t, sum), count) in tables.into_iter().zip(sums).zip(counts) {
        // CHECKSUM TABLE names each table as `db.table`, in the order asked.
        if sum.first().map(String::as_str) != Some(format!("{name}.{t}").as_str()) {
            return Err(SyncError::Io(format!(
                "unexpected answer checksumming {}/{name}",
                db.at.container
            )));
        }
        let rows = count.first().and_then(|n| n.parse().ok()).unwrap_or(0);
        fp.tables
            .push((t, rows, sum.get(1).cloned().unwrap_or_default()));
    }
    Ok(fp)
}

/// The dump of database `name` (tables, data, views), written to stdout.
pub fn dump(db: &Db, name: &str) -> ExecSpec {
    connect(
        db,
        db.exec([
            dumper(db.at.engine),
            "--user=root",
            "--single-transaction",
            "--hex-blob",
            "--skip-triggers",
            "--default-character-set=utf8mb4",
            name,
        ])
        .with_env(env(db))
        .with_timeout(db.timeouts.stream_idle),
    )
}

/// Loads a dump from stdin into database `name`.
pub fn load(db: &Db, name: &str) -> ExecSpec {
    connect(
        db,
        db.exec([
            client(db.at.engine),
            "--user=root",
            "--default-character-set=utf8mb4",
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
    query(
        rt,
        db,
        "creating the staging database",
        &format!(
            "DROP DATABASE IF EXISTS {n};\nCREATE DATABASE {n} CHARACTER SET utf8mb4;\nCREATE TABLE {n}.{} (made_by VARCHAR(16)) ENGINE=InnoDB;",
            ident(MARKER_TABLE)
        ),
    )
    .await
    .map(|_| ())
}

/// Drops database `name` if it is turnout's (refuses one that is not).
pub async fn drop_db<R: DataExec>(rt: &R, db: &Db<'_>, name: &str) -> Result<(), SyncError> {
    must_be_ours(rt, db, name).await?;
    query(
        rt,
        db,
        "dropping the staging database",
        &format!("DROP DATABASE IF EXISTS {};", ident(name)),
    )
    .await
    .map(|_| ())
}

/// Bytes the database takes on disk, as the server reports it.
pub async fn size<R: DataExec>(rt: &R, db: &Db<'_>, name: &str) -> Result<u64, SyncError> {
    let rows = query(
        rt,
        db,
        "measuring the database",
        &format!(
            "SELECT COALESCE(SUM(DATA_LENGTH + INDEX_LENGTH), 0) FROM information_schema.TABLES WHERE TABLE_SCHEMA = {};",
            literal(name)
        ),
    )
    .await?;
    Ok(rows
        .first()
        .and_then(|r| r.first())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_and_literals_cannot_break_out() {
        assert_eq!(ident("users"), "`users`");
        assert_eq!(
            ident("x` EXTENDED;CREATE DATABASE pwned;#"),
            "`x`` EXTENDED;CREATE DATABASE pwned;#`"
        );
        assert_eq!(literal("a'b"), "_utf8mb4 X'612762'");
        assert_eq!(literal(""), "_utf8mb4 X''");
    }

    #[test]
    fn batch_escapes_are_undone() {
        assert_eq!(unescape(r"a\tb\nc\\d\0e"), "a\tb\nc\\d\0e");
        assert_eq!(unescape(r"plain"), "plain");
        assert_eq!(unescape("trailing\\"), "trailing\\");
    }
}
