//! End-to-end: the PostgreSQL data path against hostile names, an
//! application's own roles, and clients that keep reconnecting, on a real
//! PostgreSQL server.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use turnout_e2e::*;

const PLAN: &str = "e2e-hostile-pg";
const DB: &str = "e2e-hostile-pg-postgres";

/// PostgreSQL `DB` and versions future and dao, each a web service and its
/// database; switches copy nothing.
fn plan(secret: &Path) -> PlanBuilder {
    let db = POSTGRES.container(DB, 29432, &format!("{PLAN}-data"), "db-root", secret);
    database_plan(
        PLAN,
        db.admin_secret("db-root"),
        "users",
        &[("future", 29011, "hpg_future"), ("dao", 29012, "hpg_dao")],
    )
    .selection(Selection::new("host", PLAN, "future").sync_on_switch(false))
}

/// Runs a script through psql's stdin as `user` on `db` (local socket).
fn psql_as(user: &str, db: &str, script: &str) -> Output {
    let mut child = Command::new("docker")
        .args(["exec", "-i", DB, "psql", "-U", user, "-X", "-A", "-t"])
        .args(["-v", "ON_ERROR_STOP=1", "-d", db])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("docker runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("write the script");
    child.wait_with_output().expect("psql ends")
}

fn psql(db: &str, script: &str) -> String {
    let out = psql_as("postgres", db, script);
    assert!(
        out.status.success(),
        "psql on {db} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Row count and ordered hash of every table, keyed by the quoted name
/// (hex-encoded, so any name prints on one line).
fn contents(db: &str) -> Vec<String> {
    let names = psql(
        db,
        "SELECT encode(convert_to(format('%I.%I', schemaname, tablename), 'UTF8'), 'hex') FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1;",
    );
    names
        .lines()
        .map(|h| {
            let q = String::from_utf8(
                (0..h.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&h[i..i + 2], 16).expect("hex"))
                    .collect(),
            )
            .expect("utf-8");
            let row = psql(
                db,
                &format!(
                    "SELECT count(*) || ' ' || md5(coalesce(string_agg(x::text, ',' ORDER BY x::text), '')) FROM {q} x;"
                ),
            );
            format!("{h} {row}")
        })
        .collect()
}

struct Host {
    file: PathBuf,
    data: PathBuf,
    state: PathBuf,
    _cleanup: Cleanup,
}

impl Host {
    fn sync(&self) -> Output {
        turnout_on(
            &["sync", "--from", "future", "--to", "dao"],
            &self.file,
            &self.data,
            &self.state,
        )
    }
}

/// The server, with this test's databases and roles made from scratch.
fn server(tag: &str) -> Host {
    require_docker(&[BUSYBOX, "turnout/postgres:demo"]);
    let cleanup = Cleanup(PLAN.to_string());
    let dir = temp_dir(&format!("{PLAN}-{tag}"));
    let secret = dir.join("pw");
    std::fs::write(&secret, "hpg-Pw-4b1d").expect("write the password");
    let file = dir.join("plan.yaml");
    std::fs::write(&file, plan(&secret).yaml()).expect("write the plan");
    let (data, state) = (dir.join("data"), dir.join("state"));
    apply_file(&file, &data, &state);
    for db in [
        "hpg_future",
        "hpg_dao",
        "hpg_dao__turnout_staging",
        "canary",
    ] {
        psql(
            "postgres",
            &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE);"),
        );
    }
    psql(
        "postgres",
        "DROP ROLE IF EXISTS app_owner; DROP ROLE IF EXISTS app_reader;\nCREATE DATABASE hpg_future;\nCREATE DATABASE canary;",
    );
    psql(
        "canary",
        "CREATE TABLE still_here (id int); INSERT INTO still_here VALUES (1);",
    );
    Host {
        file,
        data,
        state,
        _cleanup: cleanup,
    }
}

fn q(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[test]
fn hostile_names_are_quoted_and_copied_exactly() {
    let host = server("names");
    let hostile = [
        "x\"; DROP DATABASE canary; --",
        "it's",
        "MiXeD Case",
        "semi;colon",
        "ünï cødé ✓",
        "a.b",
        "back\\slash",
    ];
    let mut seed = format!("CREATE SCHEMA {};\n", q("odd \"schema\""));
    for (i, name) in hostile.iter().enumerate() {
        let t = format!("{}.{}", q("odd \"schema\""), q(name));
        seed.push_str(&format!(
            "CREATE TABLE {t} (id int PRIMARY KEY, v text);\nINSERT INTO {t} VALUES ({i}, 'row ' || {i}), ({}, NULL);\n",
            i + 100
        ));
    }
    seed.push_str(&format!(
        "CREATE VIEW {} AS SELECT id FROM {}.{};\n",
        q("v'iew\"; DROP DATABASE canary;--"),
        q("odd \"schema\""),
        q(hostile[0])
    ));
    psql("hpg_future", &seed);
    let source = contents("hpg_future");
    assert_eq!(source.len(), hostile.len());
    let out = host.sync();
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(contents("hpg_dao"), source, "every table copied exactly");
    assert_eq!(psql("canary", "SELECT count(*) FROM still_here;"), "1");
    assert_eq!(
        psql(
            "hpg_dao",
            "SELECT count(*) FROM \"v'iew\"\"; DROP DATABASE canary;--\";"
        ),
        "2"
    );
}

#[test]
fn names_that_would_split_client_output_are_refused() {
    let host = server("split");
    psql(
        "hpg_future",
        "CREATE TABLE plain (id int); INSERT INTO plain VALUES (1);",
    );
    psql("postgres", "CREATE DATABASE hpg_dao;");
    psql(
        "hpg_dao",
        "CREATE TABLE keepme (id int); INSERT INTO keepme VALUES (7);",
    );
    let before = contents("hpg_dao");
    for name in ["tab\there", "new\nline"] {
        psql("hpg_future", &format!("CREATE TABLE {} (id int);", q(name)));
        let out = host.sync();
        assert!(
            !out.status.success() && output_text(&out).contains("HostileName"),
            "a table named {name:?} must be refused: {}",
            output_text(&out)
        );
        assert_eq!(contents("hpg_dao"), before, "the target was not touched");
        psql("hpg_future", &format!("DROP TABLE {};", q(name)));
    }
}

/// The application's roles: an owner and a reader that may only connect
/// and read. Neither is a superuser.
const ROLES: &str = "
CREATE ROLE app_owner LOGIN NOSUPERUSER;
CREATE ROLE app_reader LOGIN NOSUPERUSER;
";

fn grant_app(db: &str) -> String {
    format!(
        "ALTER DATABASE {db} OWNER TO app_owner;\nREVOKE CONNECT ON DATABASE {db} FROM PUBLIC;\nGRANT CONNECT ON DATABASE {db} TO app_reader;\nCOMMENT ON DATABASE {db} IS 'the app''s {db}';"
    )
}

const APP_TABLES: &str = "
SET ROLE app_owner;
CREATE TABLE accounts (id int PRIMARY KEY, name text);
INSERT INTO accounts SELECT i, 'acct ' || i FROM generate_series(1, 500) i;
GRANT SELECT ON accounts TO app_reader;
";

#[test]
fn owners_grants_and_the_comment_survive_a_copy() {
    let host = server("roles");
    psql("postgres", ROLES);
    psql("postgres", &grant_app("hpg_future"));
    psql("hpg_future", APP_TABLES);
    psql("postgres", "CREATE DATABASE hpg_dao;");
    psql("postgres", &grant_app("hpg_dao"));
    psql(
        "hpg_dao",
        "SET ROLE app_owner; CREATE TABLE accounts (id int PRIMARY KEY, name text); GRANT SELECT ON accounts TO app_reader;",
    );
    let out = host.sync();
    assert!(out.status.success(), "{}", output_text(&out));
    let read = psql_as("app_reader", "hpg_dao", "SELECT count(*) FROM accounts;");
    assert!(
        read.status.success(),
        "the reader can still connect and read: {}",
        String::from_utf8_lossy(&read.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&read.stdout).trim(), "500");
    assert_eq!(
        psql(
            "postgres",
            "SELECT pg_get_userbyid(datdba) || ' ' || datallowconn || ' ' || coalesce(shobj_description(oid, 'pg_database'), '-') FROM pg_database WHERE datname = 'hpg_dao';"
        ),
        "app_owner true the app's hpg_dao"
    );
    assert_eq!(
        psql(
            "hpg_dao",
            "SELECT tableowner FROM pg_tables WHERE tablename = 'accounts';"
        ),
        "app_owner"
    );
    let public = psql_as(
        "postgres",
        "hpg_dao",
        "SET ROLE app_owner; REVOKE ALL ON accounts FROM app_reader;",
    );
    assert!(public.status.success(), "the owner still owns its table");
}

#[test]
fn a_client_that_keeps_reconnecting_does_not_break_the_swap() {
    let host = server("reconnect");
    psql("postgres", ROLES);
    psql("postgres", &grant_app("hpg_future"));
    psql("hpg_future", APP_TABLES);
    psql("postgres", "CREATE DATABASE hpg_dao;");
    psql("postgres", &grant_app("hpg_dao"));
    // A client holding a session on the target, back at once when ended.
    docker(&[
        "exec",
        "-d",
        DB,
        "sh",
        "-c",
        "echo $$ > /tmp/reconnect.pid; while :; do psql -U app_reader -d hpg_dao -c 'SELECT pg_sleep(60)' >/dev/null 2>&1; sleep 0.05; done",
    ]);
    assert!(
        wait_until(std::time::Duration::from_secs(10), || {
            psql(
                "postgres",
                "SELECT count(*) FROM pg_stat_activity WHERE datname = 'hpg_dao' AND usename = 'app_reader';",
            ) == "1"
        }),
        "the client is connected"
    );
    let out = host.sync();
    let _ = docker_raw(&["exec", DB, "sh", "-c", "kill $(cat /tmp/reconnect.pid)"]);
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(contents("hpg_dao"), contents("hpg_future"));
    assert_eq!(
        psql(
            "postgres",
            "SELECT datallowconn FROM pg_database WHERE datname = 'hpg_dao';"
        ),
        "t",
        "the target accepts connections again"
    );
}
