//! The MySQL/MariaDB recipe: inspect, dump, load, verify and swap databases
//! with the server's own client tools, run inside the database container.
//!
//! Database names are validated to `[A-Za-z_][A-Za-z0-9_]*`, so they can be
//! quoted as identifiers; SQL is passed as one argv element, never through a
//! shell. The admin password reaches the client as `MYSQL_PWD`.

use turnout_crds::plan::Engine;

use super::SyncError;
use super::db::{Db, Fingerprint, OLD, STAGING};
use crate::runtime::stream::{DataExec, ExecSpec, SecretValue};

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

/// Runs SQL and returns the rows as tab-separated fields.
pub async fn query<R: DataExec>(
    rt: &R,
    db: &Db<'_>,
    sql: &str,
) -> Result<Vec<Vec<String>>, SyncError> {
    let spec = ExecSpec::new(
        &db.at.container,
        [
            client(db.at.engine),
            "--user=root",
            "--batch",
            "--raw",
            "--skip-column-names",
            "--default-character-set=utf8mb4",
            "-e",
            sql,
        ],
    )
    .with_env(env(db));
    let spec = connect(db, spec);
    let out = rt.capture(&spec, 16 * 1024 * 1024).await?;
    if out.exit_code != 0 {
        return Err(SyncError::Command {
            what: format!("{} on {}", first_words(sql), db.at.container),
            code: out.exit_code,
            stderr: out.stderr.trim().to_string(),
        });
    }
    if out.truncated {
        return Err(SyncError::Io(format!(
            "the answer to {} was too large",
            first_words(sql)
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect())
}

fn first_words(sql: &str) -> String {
    sql.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

fn q(name: &str) -> String {
    format!("`{name}`")
}

pub async fn exists<R: DataExec>(rt: &R, db: &Db<'_>, name: &str) -> Result<bool, SyncError> {
    let rows = query(
        rt,
        db,
        &format!(
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '{name}'"
        ),
    )
    .await?;
    Ok(!rows.is_empty())
}

/// Tables (with rows and checksums) and views of database `name`.
pub async fn fingerprint<R: DataExec>(
    rt: &R,
    db: &Db<'_>,
    name: &str,
) -> Result<Fingerprint, SyncError> {
    let objects = query(
        rt,
        db,
        &format!("SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{name}' ORDER BY TABLE_NAME"),
    )
    .await?;
    let mut fp = Fingerprint::default();
    let mut tables = Vec::new();
    for row in objects {
        match row.as_slice() {
            [t, kind] if kind == "VIEW" => fp.views.push(t.clone()),
            [t, _] => tables.push(t.clone()),
            _ => {}
        }
    }
    if tables.is_empty() {
        return Ok(fp);
    }
    let list = tables
        .iter()
        .map(|t| format!("{}.{}", q(name), q(t)))
        .collect::<Vec<_>>()
        .join(", ");
    let sums = query(rt, db, &format!("CHECKSUM TABLE {list} EXTENDED")).await?;
    let counts_sql = tables
        .iter()
        .map(|t| format!("SELECT '{t}', COUNT(*) FROM {}.{}", q(name), q(t)))
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    let counts = query(rt, db, &counts_sql).await?;
    for t in tables {
        let qualified = format!("{name}.{t}");
        let sum = sums
            .iter()
            .find(|r| r.first() == Some(&qualified))
            .and_then(|r| r.get(1).cloned())
            .unwrap_or_default();
        let rows = counts
            .iter()
            .find(|r| r.first() == Some(&t))
            .and_then(|r| r.get(1))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        fp.tables.push((t, rows, sum));
    }
    Ok(fp)
}

/// The dump of database `name` (tables, data, views), written to stdout.
pub fn dump(db: &Db, name: &str) -> ExecSpec {
    connect(
        db,
        ExecSpec::new(
            &db.at.container,
            [
                dumper(db.at.engine),
                "--user=root",
                "--single-transaction",
                "--hex-blob",
                "--skip-triggers",
                "--default-character-set=utf8mb4",
                name,
            ],
        )
        .with_env(env(db)),
    )
}

/// Loads a dump from stdin into database `name`.
pub fn load(db: &Db, name: &str) -> ExecSpec {
    connect(
        db,
        ExecSpec::new(
            &db.at.container,
            [
                client(db.at.engine),
                "--user=root",
                "--default-character-set=utf8mb4",
                name,
            ],
        )
        .with_env(env(db)),
    )
}

pub async fn recreate<R: DataExec>(rt: &R, db: &Db<'_>, name: &str) -> Result<(), SyncError> {
    query(
        rt,
        db,
        &format!(
            "DROP DATABASE IF EXISTS {n}; CREATE DATABASE {n} CHARACTER SET utf8mb4",
            n = q(name)
        ),
    )
    .await
    .map(|_| ())
}

pub async fn drop_db<R: DataExec>(rt: &R, db: &Db<'_>, name: &str) -> Result<(), SyncError> {
    query(rt, db, &format!("DROP DATABASE IF EXISTS {}", q(name)))
        .await
        .map(|_| ())
}

/// Swaps the staging tables into `target` in one atomic RENAME TABLE (the
/// previous tables go to `<target>__turnout_old`), then puts the source's
/// views in place. The caller has backed the target up.
pub async fn swap<R: DataExec>(
    rt: &R,
    db: &Db<'_>,
    views_from: (&Db<'_>, &str),
    target: &str,
    staged: &Fingerprint,
) -> Result<(), SyncError> {
    let (source, source_db) = views_from;
    let staging = format!("{target}{STAGING}");
    let old = format!("{target}{OLD}");
    let current = fingerprint(rt, db, target).await?;
    query(
        rt,
        db,
        &format!(
            "CREATE DATABASE IF NOT EXISTS {t} CHARACTER SET utf8mb4; DROP DATABASE IF EXISTS {o}; CREATE DATABASE {o} CHARACTER SET utf8mb4",
            t = q(target),
            o = q(&old)
        ),
    )
    .await?;
    let mut renames: Vec<String> = current
        .tables
        .iter()
        .map(|(t, ..)| format!("{}.{} TO {}.{}", q(target), q(t), q(&old), q(t)))
        .collect();
    renames.extend(
        staged
            .tables
            .iter()
            .map(|(t, ..)| format!("{}.{} TO {}.{}", q(&staging), q(t), q(target), q(t))),
    );
    // Foreign keys would refuse the intermediate state of a multi-table rename.
    if !renames.is_empty() {
        query(
            rt,
            db,
            &format!(
                "SET foreign_key_checks = 0; RENAME TABLE {}",
                renames.join(", ")
            ),
        )
        .await?;
    }
    // Views: drop the target's, then create the source's, rewritten to the target.
    for v in &current.views {
        query(
            rt,
            db,
            &format!("DROP VIEW IF EXISTS {}.{}", q(target), q(v)),
        )
        .await?;
    }
    for v in &staged.views {
        let rows = query(
            rt,
            source,
            &format!("SHOW CREATE VIEW {}.{}", q(source_db), q(v)),
        )
        .await?;
        let create = rows
            .first()
            .and_then(|r| r.get(1))
            .ok_or_else(|| SyncError::Io(format!("no definition for view {v}")))?;
        let rewritten = create.replace(&format!("{}.", q(source_db)), &format!("{}.", q(target)));
        let sql = format!("USE {}; {}", q(target), rewritten);
        query(rt, db, &sql).await?;
    }
    drop_db(rt, db, &old).await?;
    drop_db(rt, db, &staging).await
}
