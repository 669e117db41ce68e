//! The PostgreSQL swap and its recovery: the staging database renamed into
//! the target's place while new connections are refused, with the target's
//! owner, privileges and comment; a swap cut short put back.

use super::super::SyncError;
use super::super::db::{Db, OLD, STAGING};
use super::{MARKER, exists, first, ident, literal, must_be_ours, query, unhex};
use crate::runtime::stream::DataExec;

/// Puts back what an interrupted swap left: a target missing with its
/// previous contents set aside is renamed back; a target left refusing
/// connections by a swap of turnout's (`pending`) accepts them again.
pub async fn recover<R: DataExec>(
    rt: &R,
    db: &Db<'_>,
    target: &str,
    pending: bool,
) -> Result<(), SyncError> {
    let old = format!("{target}{OLD}");
    let (t, o) = (ident(target), ident(&old));
    if !exists(rt, db, target).await? && exists(rt, db, &old).await? {
        let sql = format!(
            "ALTER DATABASE {o} RENAME TO {t};\nDO $turnout$ BEGIN IF shobj_description((SELECT oid FROM pg_database WHERE datname = {lt}), 'pg_database') = {m} THEN EXECUTE format('COMMENT ON DATABASE %I IS NULL', {lt}); END IF; END $turnout$;\nALTER DATABASE {t} WITH ALLOW_CONNECTIONS true;",
            lt = literal(target),
            m = literal(MARKER)
        );
        query(rt, db, "postgres", "putting the target back", &sql).await?;
    } else if pending {
        let sql = format!(
            "SELECT 1 FROM pg_database WHERE datname = {} AND NOT datallowconn;",
            literal(target)
        );
        if !query(rt, db, "postgres", "checking the target", &sql)
            .await?
            .is_empty()
        {
            let sql = format!("ALTER DATABASE {t} WITH ALLOW_CONNECTIONS true;");
            query(rt, db, "postgres", "reopening the target", &sql).await?;
        }
    }
    Ok(())
}

/// Gives the staging database the owner and database privileges of `like`
/// (the target, or the source on the same server when there is no target).
fn inherit(staging: &str, like: &str) -> String {
    format!(
        r"DO $turnout$ DECLARE o name; acl aclitem[]; r record; BEGIN
  SELECT pg_get_userbyid(datdba), datacl INTO o, acl FROM pg_database WHERE datname = {like};
  IF o IS NOT NULL THEN EXECUTE format('ALTER DATABASE %I OWNER TO %I', {staging}, o); END IF;
  IF acl IS NOT NULL THEN
    EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC', {staging});
    FOR r IN SELECT * FROM aclexplode(acl) LOOP
      EXECUTE format('GRANT %s ON DATABASE %I TO %s%s', r.privilege_type, {staging},
        CASE WHEN r.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(r.grantee)) END,
        CASE WHEN r.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
    END LOOP;
  END IF;
END $turnout$;
",
        like = literal(like),
        staging = literal(staging),
    )
}

/// Renames the target aside and the staging database into its place, then
/// drops the previous contents (the caller backed them up). New connections
/// to the target are refused from before its sessions are ended until the
/// copy is in place, so no one writes into the old contents meanwhile; the
/// new database gets the old one's owner, privileges and comment. One
/// script on psql's stdin: a turnout killed after sending it does not cut
/// it short.
pub async fn swap<R: DataExec>(
    rt: &R,
    db: &Db<'_>,
    views_from: (&Db<'_>, &str),
    target: &str,
) -> Result<(), SyncError> {
    let staging = format!("{target}{STAGING}");
    let old = format!("{target}{OLD}");
    must_be_ours(rt, db, &staging).await?;
    must_be_ours(rt, db, &old).await?;
    let target_exists = exists(rt, db, target).await?;
    let (source, source_db) = views_from;
    let comment_sql = format!(
        "SELECT encode(convert_to(shobj_description(oid, 'pg_database'), 'UTF8'), 'hex') FROM pg_database WHERE datname = {};",
        literal(target)
    );
    let rows = query(
        rt,
        db,
        "postgres",
        "reading the target's comment",
        &comment_sql,
    )
    .await?;
    let comment = first(&rows).filter(|c| !c.is_empty()).and_then(unhex);
    let (t, s, o) = (ident(target), ident(&staging), ident(&old));
    let mut sql = format!("DROP DATABASE IF EXISTS {o} WITH (FORCE);\n");
    if target_exists {
        sql.push_str(&inherit(&staging, target));
    } else if source.at.container == db.at.container && source.at.side == db.at.side {
        sql.push_str(&inherit(&staging, source_db));
    }
    if target_exists {
        // Marked, the set-aside contents are dropped by the next swap should
        // this one be cut short; a cut right after the mark loses the
        // database's comment (recover() puts the contents back without it).
        sql.push_str(&format!(
            "ALTER DATABASE {t} WITH ALLOW_CONNECTIONS false;\n\
             SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname IN ({}, {}) AND pid <> pg_backend_pid();\n\
             ALTER DATABASE {t} RENAME TO {o};\n\
             COMMENT ON DATABASE {o} IS {};\n",
            literal(target),
            literal(&staging),
            literal(MARKER)
        ));
    }
    sql.push_str(&format!(
        "ALTER DATABASE {s} RENAME TO {t};\n\
         COMMENT ON DATABASE {t} IS {};\n\
         ALTER DATABASE {t} WITH ALLOW_CONNECTIONS true;\n\
         DROP DATABASE IF EXISTS {o} WITH (FORCE);\n",
        comment.as_deref().map_or("NULL".to_string(), literal),
    ));
    query(rt, db, "postgres", "swapping the copy in", &sql)
        .await
        .map(|_| ())
}
