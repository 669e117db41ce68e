//! End-to-end: the MySQL/MariaDB data path against hostile names and
//! awkward databases, on a real MariaDB server. Names that could run SQL
//! are quoted and copied exactly; names that would split client output are
//! refused before the target is touched; a thousand tables copy; triggers
//! are refused rather than lost; views never vanish during a swap; a
//! staging database turnout did not make is never dropped.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use turnout_e2e::*;

const PLAN: &str = "e2e-hostile";
const DB: &str = "e2e-hostile-mariadb";

/// MariaDB `DB` and versions future and dao, each a web service and its
/// database; switches copy nothing.
fn plan(secret: &std::path::Path) -> PlanBuilder {
    let db = MARIADB.container(DB, 29306, &format!("{PLAN}-data"), "db-root", secret);
    database_plan(
        PLAN,
        db.admin_secret("db-root"),
        "users",
        &[
            ("future", 29001, "hostile_future"),
            ("dao", 29002, "hostile_dao"),
        ],
    )
    .selection(Selection::new("host", PLAN, "future").sync_on_switch(false))
}

/// Runs SQL in the server through stdin (names in it may hold anything).
fn sql(script: &str) -> String {
    let out = sql_raw(script, &[]);
    assert!(
        out.status.success(),
        "mariadb failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn sql_raw(script: &str, extra: &[&str]) -> Output {
    let mut child = Command::new("docker")
        .args([
            "exec",
            "-i",
            DB,
            "mariadb",
            "-uroot",
            "--batch",
            "--skip-column-names",
        ])
        .args(extra)
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
    child.wait_with_output().expect("mariadb ends")
}

/// Per-table row count and checksum, by table name (hex, so any name
/// prints), read in one client session.
fn contents(db: &str) -> Vec<String> {
    let names = sql(&format!(
        "SELECT HEX(TABLE_NAME) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{db}' AND TABLE_TYPE = 'BASE TABLE' ORDER BY 1"
    ));
    let hexes: Vec<&str> = names.lines().collect();
    if hexes.is_empty() {
        return Vec::new();
    }
    let tables: Vec<String> = hexes
        .iter()
        .map(|h| {
            let name = String::from_utf8(decode_hex(h)).expect("utf-8 name");
            format!("`{db}`.`{}`", name.replace('`', "``"))
        })
        .collect();
    let mut script = String::new();
    for t in &tables {
        script.push_str(&format!(
            "CHECKSUM TABLE {t} EXTENDED;\nSELECT COUNT(*) FROM {t};\n"
        ));
    }
    let out = sql(&script);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2 * tables.len(), "{out}");
    hexes
        .iter()
        .zip(lines.chunks(2))
        .map(|(h, pair)| {
            let sum = pair[0].rsplit('\t').next().unwrap_or("?");
            format!("{h} {} {sum}", pair[1])
        })
        .collect()
}

fn decode_hex(h: &str) -> Vec<u8> {
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).expect("hex"))
        .collect()
}

fn databases() -> Vec<String> {
    sql("SHOW DATABASES").lines().map(str::to_string).collect()
}

struct Host {
    file: PathBuf,
    data: PathBuf,
    state: PathBuf,
}

impl Host {
    fn up(tag: &str) -> Host {
        require_docker(&[BUSYBOX, "turnout/mariadb:demo"]);
        let dir = temp_dir(&format!("{PLAN}-{tag}"));
        let host = Host {
            file: dir.join("plan.yaml"),
            data: dir.join("data"),
            state: dir.join("state"),
        };
        let secret = dir.join("pw");
        std::fs::write(&secret, "hostile-Pw-7e57").expect("write the password");
        std::fs::write(&host.file, plan(&secret).yaml()).expect("write the plan");
        apply_file(&host.file, &host.data, &host.state);
        host
    }

    fn sync(&self, extra: &[&str]) -> Output {
        turnout_on(
            &[&["sync", "--from", "future", "--to", "dao"], extra].concat(),
            &self.file,
            &self.data,
            &self.state,
        )
    }
}

/// The server, with the test's databases made from scratch (engine tests
/// run one at a time: .config/nextest.toml).
fn server() -> (Host, Cleanup) {
    let cleanup = Cleanup(PLAN.to_string());
    let host = Host::up("server");
    sql(
        "DROP DATABASE IF EXISTS hostile_future; DROP DATABASE IF EXISTS hostile_dao; DROP DATABASE IF EXISTS hostile_dao__turnout_staging; DROP DATABASE IF EXISTS pwned; CREATE DATABASE hostile_future CHARACTER SET utf8mb4;",
    );
    (host, cleanup)
}

const HOSTILE: &[&str] = &[
    "x` EXTENDED;CREATE DATABASE pwned;#",
    "it's",
    "back\\slash",
    "semi;colon -- dash",
    "ünï cødé ✓",
    "a.b",
    "SELECT",
    "\"quoted\"",
];

fn q(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

#[test]
fn hostile_table_names_are_quoted_and_copied_exactly() {
    let (host, _c) = server();
    let mut seed = String::from("USE hostile_future;\n");
    for (i, name) in HOSTILE.iter().enumerate() {
        seed.push_str(&format!(
            "CREATE TABLE {} (id INT PRIMARY KEY, v VARCHAR(50));\nINSERT INTO {} VALUES ({i}, 'row of {}'), ({}, NULL);\n",
            q(name),
            q(name),
            i,
            i + 100
        ));
    }
    seed.push_str(&format!(
        "CREATE VIEW {} AS SELECT id FROM {};\n",
        q("v`iew; DROP DATABASE hostile_future;#"),
        q(HOSTILE[0])
    ));
    sql(&seed);
    let source = contents("hostile_future");
    assert_eq!(source.len(), HOSTILE.len());

    let out = host.sync(&[]);
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(
        !databases().iter().any(|d| d == "pwned"),
        "a table name ran SQL: {:?}",
        databases()
    );
    assert_eq!(
        contents("hostile_dao"),
        source,
        "every table copied exactly"
    );
    assert_eq!(
        sql("SELECT COUNT(*) FROM hostile_dao.`v``iew; DROP DATABASE hostile_future;#`"),
        "2",
        "the view came along"
    );
    assert!(
        databases().iter().all(|d| !d.contains("__turnout")),
        "no staging left behind: {:?}",
        databases()
    );
}

#[test]
fn names_that_would_split_client_output_are_refused_before_the_target_is_touched() {
    let (host, _c) = server();
    sql(
        "CREATE TABLE hostile_future.plain (id INT PRIMARY KEY); INSERT INTO hostile_future.plain VALUES (1);",
    );
    sql(
        "CREATE DATABASE hostile_dao; CREATE TABLE hostile_dao.keepme (id INT); INSERT INTO hostile_dao.keepme VALUES (7);",
    );
    let before = contents("hostile_dao");
    for name in ["tab\there", "new\nline"] {
        sql(&format!(
            "CREATE TABLE hostile_future.{} (id INT);",
            q(name)
        ));
        let out = host.sync(&[]);
        assert!(
            !out.status.success(),
            "a table named {name:?} must be refused, not dropped from the copy: {}",
            output_text(&out)
        );
        assert!(
            output_text(&out).contains("HostileName"),
            "{}",
            output_text(&out)
        );
        assert_eq!(
            contents("hostile_dao"),
            before,
            "the target was not touched"
        );
        assert!(
            !databases().iter().any(|d| d.contains("__turnout")),
            "nothing was staged"
        );
        sql(&format!("DROP TABLE hostile_future.{};", q(name)));
    }
}

#[test]
fn a_thousand_tables_copy_in_one_swap() {
    let (host, _c) = server();
    let mut seed = String::from("USE hostile_future;\n");
    for i in 0..1000 {
        seed.push_str(&format!(
            "CREATE TABLE a_table_with_a_rather_long_descriptive_name_{i:04} (id INT PRIMARY KEY);\nINSERT INTO a_table_with_a_rather_long_descriptive_name_{i:04} VALUES ({i});\n"
        ));
    }
    sql(&seed);
    let source = contents("hostile_future");
    assert_eq!(source.len(), 1000);
    let out = host.sync(&[]);
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(contents("hostile_dao"), source);
    // A second round replaces a thousand existing tables.
    sql(
        "INSERT INTO hostile_future.a_table_with_a_rather_long_descriptive_name_0500 VALUES (100000);",
    );
    let out = host.sync(&[]);
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(contents("hostile_dao"), contents("hostile_future"));
}

#[test]
fn triggers_and_routines_are_refused_rather_than_lost() {
    let (host, _c) = server();
    sql(
        "CREATE TABLE hostile_future.t (id INT PRIMARY KEY, n INT); CREATE TABLE hostile_future.audit (id INT);",
    );
    sql(
        "CREATE TRIGGER hostile_future.trg AFTER INSERT ON hostile_future.t FOR EACH ROW INSERT INTO hostile_future.audit VALUES (NEW.id);",
    );
    let out = host.sync(&[]);
    assert!(!out.status.success(), "{}", output_text(&out));
    assert!(
        output_text(&out).contains("trigger"),
        "{}",
        output_text(&out)
    );
    assert!(!databases().iter().any(|d| d == "hostile_dao"));
    sql("DROP TRIGGER hostile_future.trg; CREATE PROCEDURE hostile_future.p() SELECT 1;");
    let out = host.sync(&[]);
    assert!(!out.status.success(), "{}", output_text(&out));
    assert!(
        output_text(&out).contains("routine"),
        "{}",
        output_text(&out)
    );
    sql("DROP PROCEDURE hostile_future.p;");
    let out = host.sync(&[]);
    assert!(out.status.success(), "{}", output_text(&out));
}

#[test]
fn views_never_vanish_while_a_copy_is_swapped_in() {
    let (host, _c) = server();
    sql(
        "CREATE TABLE hostile_future.users (id INT PRIMARY KEY, email VARCHAR(50)); INSERT INTO hostile_future.users VALUES (1, 'a'), (2, NULL); CREATE VIEW hostile_future.active AS SELECT id FROM hostile_future.users WHERE email IS NOT NULL;",
    );
    let out = host.sync(&[]);
    assert!(out.status.success(), "{}", output_text(&out));
    // A reader queries the target's view as fast as it can while three
    // more copies are swapped in; a query that finds no view is counted.
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let done = done.clone();
        std::thread::spawn(move || {
            let batch = "SELECT COUNT(*) FROM hostile_dao.active;\n".repeat(2000);
            let (mut runs, mut missing) = (0, 0);
            while !done.load(Ordering::SeqCst) {
                let out = sql_raw(&batch, &["--force"]);
                let err = String::from_utf8_lossy(&out.stderr).to_string();
                missing += err.matches("doesn't exist").count();
                runs += 1;
            }
            (runs, missing)
        })
    };
    for i in 3..6 {
        sql(&format!(
            "INSERT INTO hostile_future.users VALUES ({i}, 'u{i}');"
        ));
        let out = host.sync(&[]);
        assert!(out.status.success(), "{}", output_text(&out));
    }
    done.store(true, Ordering::SeqCst);
    let (runs, missing) = reader.join().expect("the reader ends");
    assert!(runs > 1, "the reader ran during the copies");
    assert_eq!(
        missing, 0,
        "the view was absent {missing} times during swaps"
    );
    assert_eq!(sql("SELECT COUNT(*) FROM hostile_dao.active"), "4");
}

#[test]
fn a_staging_database_turnout_did_not_make_is_never_dropped() {
    let (host, _c) = server();
    sql("CREATE TABLE hostile_future.t (id INT); INSERT INTO hostile_future.t VALUES (1);");
    sql(
        "CREATE DATABASE hostile_dao__turnout_staging; CREATE TABLE hostile_dao__turnout_staging.precious (id INT); INSERT INTO hostile_dao__turnout_staging.precious VALUES (42);",
    );
    let out = host.sync(&[]);
    assert!(!out.status.success(), "{}", output_text(&out));
    assert!(
        output_text(&out).contains("NotOurs"),
        "{}",
        output_text(&out)
    );
    assert_eq!(
        sql("SELECT id FROM hostile_dao__turnout_staging.precious"),
        "42"
    );
    sql("DROP DATABASE hostile_dao__turnout_staging;");
    let out = host.sync(&[]);
    assert!(out.status.success(), "{}", output_text(&out));
}
