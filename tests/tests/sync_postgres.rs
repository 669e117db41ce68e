//! End-to-end: `turnout sync` and `restore` against a real PostgreSQL server.

use std::path::Path;

use turnout_e2e::*;

const PASSWORD: &str = "pg-Pw-9e1d7";
const PLAN: &str = "e2e-pgsync";
const DB: &str = "e2e-pgsync-postgres";

/// PostgreSQL `DB` and versions future and dao, each a web service and its
/// database; future selected.
fn plan(secret: &Path) -> PlanBuilder {
    let db = POSTGRES.container(DB, 24532, &format!("{PLAN}-data"), "db-root", secret);
    database_plan(
        PLAN,
        db.admin_secret("db-root"),
        "users",
        &[
            ("future", 24501, "pgsync_future"),
            ("dao", 24502, "pgsync_dao"),
        ],
    )
    .select("future")
}

fn psql(db: &str, sql: &str) -> String {
    docker(&[
        "exec",
        DB,
        "psql",
        "-U",
        "postgres",
        "-X",
        "-A",
        "-t",
        "-v",
        "ON_ERROR_STOP=1",
        "-d",
        db,
        "-c",
        sql,
    ])
}

/// Row counts and a hash of every table's rows, computed independently of turnout.
fn contents(db: &str) -> String {
    let tables = psql(
        db,
        "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
    );
    tables
        .lines()
        .map(|t| psql(db, &format!("SELECT '{t}', count(*), md5(coalesce(string_agg(x::text, ',' ORDER BY x::text), '')) FROM {t} x")))
        .collect::<Vec<_>>()
        .join("\n")
}

const SEED: &str = "
CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL, email text NULL, avatar bytea NULL);
CREATE TABLE orders (id int PRIMARY KEY, user_id int NOT NULL REFERENCES users(id), amount numeric(10,2), note text NULL);
INSERT INTO users SELECT i, '用户 ' || i || ' Ünïcødé ✓', CASE WHEN i % 7 = 0 THEN NULL ELSE 'u' || i || '@example.org' END,
  CASE WHEN i % 5 = 0 THEN NULL ELSE decode(md5(i::text), 'hex') END FROM generate_series(1, 30000) i;
INSERT INTO orders SELECT i, 1 + (i * 7) % 30000, i * 1.25, CASE WHEN i % 3 = 0 THEN NULL ELSE repeat('x', i % 50) END FROM generate_series(1, 5000) i;
CREATE VIEW active_users AS SELECT id, name FROM users WHERE email IS NOT NULL;
";

#[test]
fn postgres_sync_copies_verifies_guards_and_restores() {
    require_docker(&[BUSYBOX, "turnout/postgres:demo"]);
    let _cleanup = Cleanup(PLAN.to_string());
    remove_plan_containers(PLAN);
    let dir = temp_dir(PLAN);
    let secret = dir.join("pw");
    std::fs::write(&secret, PASSWORD).unwrap();
    let file = dir.join("plan.yaml");
    std::fs::write(&file, plan(&secret).yaml()).unwrap();
    let (data, state) = (dir.join("data"), dir.join("state"));
    apply_file(&file, &data, &state);
    psql(
        "postgres",
        "DROP DATABASE IF EXISTS pgsync_future WITH (FORCE)",
    );
    psql(
        "postgres",
        "DROP DATABASE IF EXISTS pgsync_dao WITH (FORCE)",
    );
    psql("postgres", "CREATE DATABASE pgsync_future");
    psql("pgsync_future", SEED);
    let source = contents("pgsync_future");
    assert!(
        source.contains("public.users|30000") && source.contains("public.orders|5000"),
        "{source}"
    );

    let turnout = |args: &[&str]| turnout_on(args, &file, &data, &state);

    let out = turnout(&["sync", "--from", "future", "--to", "dao"]);
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(!output_text(&out).contains(PASSWORD));
    assert_eq!(contents("pgsync_dao"), source);
    assert_eq!(
        psql("pgsync_dao", "SELECT count(*) FROM active_users"),
        psql("pgsync_future", "SELECT count(*) FROM active_users")
    );
    assert!(
        !psql("postgres", "SELECT datname FROM pg_database").contains("__turnout"),
        "no staging left"
    );

    psql(
        "pgsync_dao",
        "INSERT INTO users (id, name) VALUES (999999, 'by hand')",
    );
    let written = contents("pgsync_dao");
    let refused = turnout(&["sync", "--from", "future", "--to", "dao"]);
    assert!(
        !refused.status.success() && output_text(&refused).contains("written to since"),
        "{}",
        output_text(&refused)
    );
    assert_eq!(contents("pgsync_dao"), written);

    let forced = turnout(&[
        "sync",
        "--from",
        "future",
        "--to",
        "dao",
        "--allow-overwrite-newer",
    ]);
    assert!(forced.status.success(), "{}", output_text(&forced));
    assert_eq!(contents("pgsync_dao"), source);

    let backups = backup_files(&data.join("backups").join(DB).join("pgsync_dao"));
    let backup = backups.last().expect("a backup of dao").clone();
    let restored = turnout(&["restore", "--backup", backup.to_str().expect("utf-8 path")]);
    assert!(restored.status.success(), "{}", output_text(&restored));
    assert_eq!(
        contents("pgsync_dao"),
        written,
        "the backup restored the exact previous contents"
    );
    assert!(!docker(&["inspect", DB]).contains(PASSWORD));
}
