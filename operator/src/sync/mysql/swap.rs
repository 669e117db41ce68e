//! The MySQL/MariaDB swap: the verified staging tables into the target in
//! one atomic RENAME TABLE, the source's views replacing the target's in
//! place, as one script the server finishes even if turnout dies.

use super::super::SyncError;
use super::super::db::{Db, Fingerprint, MARKER_TABLE, OLD, STAGING};
use super::{fingerprint, ident, must_be_ours, qualified, query};
use crate::runtime::stream::DataExec;

/// The source's definition of view `view`, as a statement that creates or
/// replaces it in `target`.
async fn view_definition<R: DataExec>(
    rt: &R,
    source: &Db<'_>,
    source_db: &str,
    view: &str,
    target: &str,
) -> Result<String, SyncError> {
    let rows = query(
        rt,
        source,
        "reading a view's definition",
        &format!("SHOW CREATE VIEW {};", qualified(source_db, view)),
    )
    .await?;
    let create = rows.first().and_then(|r| r.get(1)).ok_or_else(|| {
        SyncError::Io(format!(
            "no definition for a view of {}/{source_db}",
            source.at.container
        ))
    })?;
    let rewritten = create.replace(
        &format!("{}.", ident(source_db)),
        &format!("{}.", ident(target)),
    );
    Ok(match rewritten.strip_prefix("CREATE ") {
        Some(rest) => format!("CREATE OR REPLACE {rest}"),
        None => rewritten,
    })
}

/// Swaps the staging tables into `target` in one atomic RENAME TABLE (the
/// previous tables go to `<target>__turnout_old`, a database turnout marks
/// as its own), then replaces the views with the source's. The views are
/// never absent: the target's stay in place (now reading the new tables)
/// until `CREATE OR REPLACE` puts the source's over them, and only views the
/// source does not have are dropped, last. The whole swap is one script on
/// the client's stdin, so a turnout killed after sending it does not cut it
/// short: the server finishes what it was given. The caller has backed the
/// target up.
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
    must_be_ours(rt, db, &old).await?;
    must_be_ours(rt, db, &staging).await?;
    let mut views = Vec::new();
    for v in &staged.views {
        views.push(view_definition(rt, source, source_db, v, target).await?);
    }
    let (t, o, s) = (ident(target), ident(&old), ident(&staging));
    let mut script = format!(
        "CREATE DATABASE IF NOT EXISTS {t} CHARACTER SET utf8mb4;\nDROP DATABASE IF EXISTS {o};\nCREATE DATABASE {o} CHARACTER SET utf8mb4;\nCREATE TABLE {o}.{} (made_by VARCHAR(16)) ENGINE=InnoDB;\n",
        ident(MARKER_TABLE)
    );
    // A view of the target in the way of an incoming table must go first.
    for v in current
        .views
        .iter()
        .filter(|v| staged.tables.iter().any(|(t, ..)| &t == v))
    {
        script.push_str(&format!("DROP VIEW IF EXISTS {};\n", qualified(target, v)));
    }
    let mut renames: Vec<String> = current
        .tables
        .iter()
        .map(|(n, ..)| format!("{} TO {}", qualified(target, n), qualified(&old, n)))
        .collect();
    renames.extend(
        staged
            .tables
            .iter()
            .map(|(n, ..)| format!("{} TO {}", qualified(&staging, n), qualified(target, n))),
    );
    // Foreign keys would refuse the intermediate state of a multi-table rename.
    if !renames.is_empty() {
        script.push_str(&format!(
            "SET SESSION foreign_key_checks = 0;\nRENAME TABLE {};\nSET SESSION foreign_key_checks = 1;\n",
            renames.join(", ")
        ));
    }
    script.push_str(&format!("USE {t};\n"));
    for v in views {
        script.push_str(&v);
        script.push_str(";\n");
    }
    for v in current.views.iter().filter(|v| !staged.views.contains(v)) {
        script.push_str(&format!("DROP VIEW IF EXISTS {};\n", qualified(target, v)));
    }
    script.push_str(&format!("DROP DATABASE {o};\nDROP DATABASE {s};\n"));
    query(rt, db, "swapping the copy in", &script)
        .await
        .map(|_| ())
}
