//! End-to-end: data promoted between environments on two Docker engines.
//! The machine's usual engine is the `local` (dev) host; a second dockerd
//! (scripts/second-engine.sh, its own socket, data root and bridge) is the
//! `test-cloud` (test) host. Each runs a plan with a real MariaDB and a real
//! PostgreSQL; `turnout sync --source-engine --source-plan` streams the
//! dump from one engine's exec, through turnout, into the other's.
//!
//! Checked: a copy of tens of MB with awkward values arrives with equal
//! checksums on both servers; the target's lineage names where it came
//! from; a target written since is refused with the tables that changed,
//! and overwritten (after a backup) when told to; the stage rule refuses
//! test -> dev naming both environments and `--force` lets it through;
//! SIGKILL mid-stream leaves the remote target as it was or complete; and
//! a database written after turnout read it as a copy's source is not
//! overwritten by switching back.
//!
//! Host ports 25000-25299. Names start with `e2e-promote-`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use turnout_e2e::second::SecondEngine;
use turnout_e2e::*;

const ENGINE_NAME: &str = "e2e-promote-engine";
const ENGINE_BRIDGE: &str = "e2eprom0";
const ENGINE_SUBNET: &str = "172.31.246.1/24";
const LOCAL_ENGINE: &str = "unix:///var/run/docker.sock";

const LOCAL: &str = "e2e-promote-local";
const TEST: &str = "e2e-promote-test";

fn test_engine() -> String {
    format!("unix:///run/{ENGINE_NAME}.sock")
}

fn lap(t0: Instant, what: &str) {
    eprintln!("[{:>6.1}s] {what}", t0.elapsed().as_secs_f64());
}

/// `docker` against `engine` (None: the usual one).
fn docker_on(engine: Option<&str>, args: &[&str]) -> Output {
    let mut c = Command::new("docker");
    if let Some(e) = engine {
        c.args(["-H", e]);
    }
    c.args(args).output().expect("the docker CLI is installed")
}

/// One environment: its plan file, engine, and turnout's directories on
/// its host.
struct Env {
    plan: &'static str,
    engine: Option<String>,
    file: PathBuf,
    data: PathBuf,
    state: PathBuf,
}

impl Env {
    fn new(dir: &Path, plan: &'static str, engine: Option<String>, yaml: String) -> Env {
        let home = dir.join(plan);
        std::fs::create_dir_all(&home).expect("the environment's directory");
        let file = home.join("plan.yaml");
        std::fs::write(&file, yaml).expect("write the plan");
        Env {
            plan,
            engine,
            file,
            data: home.join("data"),
            state: home.join("state"),
        }
    }

    fn mariadb(&self) -> String {
        format!("{}-mariadb", self.plan)
    }

    fn postgres(&self) -> String {
        format!("{}-postgres", self.plan)
    }

    /// `turnout [--engine E] ARGS FILE --data-dir --state-dir`, as run on
    /// this environment's host.
    fn turnout(&self, args: &[&str]) -> Command {
        let mut c = Command::new(turnout_bin());
        if let Some(e) = &self.engine {
            c.args(["--engine", e]);
        }
        c.args(args)
            .arg(&self.file)
            .arg("--data-dir")
            .arg(&self.data)
            .arg("--state-dir")
            .arg(&self.state)
            .env_remove("DOCKER_HOST");
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.turnout(args).output().expect("turnout runs")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "turnout {args:?} on {}: {}",
            self.plan,
            output_text(&out)
        );
        output_text(&out)
    }

    /// `turnout sync` into this environment from `source`'s version `from`
    /// on `source`'s engine.
    fn promote(&self, source: &Env, from: &str, to: &str, extra: &[&str]) -> Command {
        let source_engine = source.engine.clone().unwrap_or(LOCAL_ENGINE.into());
        let mut args = vec![
            "sync",
            "--source-engine",
            &source_engine,
            "--source-plan",
            source.file.to_str().expect("a UTF-8 path"),
            "--from",
            from,
            "--to",
            to,
        ];
        args.extend_from_slice(extra);
        self.turnout(&args)
    }

    fn sql(&self, statement: &str) -> String {
        let out = docker_on(
            self.engine.as_deref(),
            &[
                "exec",
                &self.mariadb(),
                "mariadb",
                "-uroot",
                "--default-character-set=utf8mb4",
                "--batch",
                "--skip-column-names",
                "-e",
                statement,
            ],
        );
        assert!(out.status.success(), "{statement}: {}", output_text(&out));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn psql(&self, db: &str, sql: &str) -> String {
        let out = docker_on(
            self.engine.as_deref(),
            &[
                "exec",
                &self.postgres(),
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
            ],
        );
        assert!(out.status.success(), "{sql}: {}", output_text(&out));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Per-table row counts and checksums of MariaDB database `db`, as the
    /// server reports them ("" when it does not exist).
    fn maria_contents(&self, db: &str) -> String {
        let tables = self.sql(&format!(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA='{db}' AND TABLE_TYPE='BASE TABLE' ORDER BY TABLE_NAME"
        ));
        tables
            .lines()
            .map(|t| {
                let sum = self.sql(&format!("CHECKSUM TABLE `{db}`.`{t}` EXTENDED"));
                let rows = self.sql(&format!("SELECT COUNT(*) FROM `{db}`.`{t}`"));
                format!("{t} {rows} {}", sum.split('\t').nth(1).unwrap_or("?"))
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Row counts and a hash of every row of PostgreSQL database `db`.
    fn pg_contents(&self, db: &str) -> String {
        let tables = self.psql(
            db,
            "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
        );
        tables
            .lines()
            .map(|t| self.psql(db, &format!("SELECT '{t}', count(*), md5(coalesce(string_agg(x::text, ',' ORDER BY x::text), '')) FROM {t} x")))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// MariaDB and PostgreSQL, and versions future and dao (a web service,
/// `shop_<v>` on MariaDB as binding `shop`, `ledger_<v>` on PostgreSQL as
/// binding `ledger`) and idle (a web service only, so both data versions
/// can be copied into while the host runs).
fn env_plan(plan: &str, base: u16, environment: &str, stage: &str, secret: &Path) -> String {
    let maria = format!("{plan}-mariadb");
    let pg = format!("{plan}-postgres");
    let mut p = PlanBuilder::new(plan)
        .environment(environment, stage)
        .infrastructure(
            MARIADB
                .container(&maria, base, &format!("{plan}-maria"), "db-root", secret)
                .admin_secret("db-root"),
        )
        .infrastructure(
            POSTGRES
                .container(&pg, base + 1, &format!("{plan}-pg"), "db-root", secret)
                .admin_secret("db-root"),
        );
    for (v, port) in [("future", base + 10), ("dao", base + 20)] {
        let (maria, pg) = (maria.clone(), pg.clone());
        p = p.version(v, move |ver| {
            web_service(ver, plan, port)
                .database("shop", &maria, &format!("shop_{v}"))
                .database("ledger", &pg, &format!("ledger_{v}"))
        });
    }
    p.version("idle", |ver| web_service(ver, plan, base + 30))
        .select("idle")
        .yaml()
}

/// About 40 MB of MariaDB rows with awkward values: multi-byte text, NULLs,
/// tabs, newlines, quotes, backslashes, NUL bytes and binary.
const MARIA_SEED: &str = "
DROP DATABASE IF EXISTS shop_future; DROP DATABASE IF EXISTS shop_dao;
CREATE DATABASE shop_future CHARACTER SET utf8mb4;
USE shop_future;
CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR(100) NOT NULL, email VARCHAR(200) NULL,
  avatar BLOB NULL, bio TEXT NULL) ENGINE=InnoDB;
CREATE TABLE orders (id INT PRIMARY KEY, user_id INT NOT NULL, amount DECIMAL(12,2),
  note TEXT NULL, FOREIGN KEY (user_id) REFERENCES users(id)) ENGINE=InnoDB;
SET SESSION max_recursive_iterations = 1000000;
INSERT INTO users
  WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 150000)
  SELECT i, CONCAT('用户 ', i, ' Ünïcødé ✓ 🚀'), IF(i % 7 = 0, NULL, CONCAT('u', i, '@example.org')),
         IF(i % 5 = 0, NULL, UNHEX(CONCAT(SHA2(i, 256), SHA2(i + 1, 256)))),
         CONCAT(REPEAT('bio ', 30), 'tab\there', CHAR(10), 'quote '' \" back\\\\slash ', CHAR(0), ' end ', i) FROM n;
INSERT INTO orders
  WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
  SELECT i, 1 + (i * 7) % 150000, i * 1.25, IF(i % 3 = 0, NULL, REPEAT('x', i % 80)) FROM n;
";

const PG_SEED: &str = "
CREATE TABLE accounts (id int PRIMARY KEY, owner text NOT NULL, memo text NULL, raw bytea NULL, meta jsonb NULL);
INSERT INTO accounts SELECT i, 'владелец ' || i || ' ✓', CASE WHEN i % 4 = 0 THEN NULL ELSE E'line\\none\\ttab ''q'' \\\\ ' || i END,
  CASE WHEN i % 6 = 0 THEN NULL ELSE decode(md5(i::text), 'hex') END,
  CASE WHEN i % 9 = 0 THEN NULL ELSE jsonb_build_object('n', i, 'tags', jsonb_build_array('a', 'ü')) END
  FROM generate_series(1, 60000) i;
";

fn seed(local: &Env) {
    local.sql(MARIA_SEED);
    for db in ["ledger_future", "ledger_dao"] {
        local.psql("postgres", &format!("DROP DATABASE IF EXISTS {db}"));
    }
    local.psql("postgres", "CREATE DATABASE ledger_future");
    local.psql("ledger_future", PG_SEED);
}

/// Drops what an earlier run left in the test-cloud databases (their
/// volumes live in the second engine's data root, which is kept).
fn clear(test: &Env) {
    test.sql("DROP DATABASE IF EXISTS shop_future; DROP DATABASE IF EXISTS shop_dao");
    for db in ["ledger_future", "ledger_dao"] {
        test.psql("postgres", &format!("DROP DATABASE IF EXISTS {db}"));
    }
}

fn lineage(env: &Env) -> Value {
    let out = Command::new(turnout_bin())
        .args(["lineage", "-o", "json", "--data-dir"])
        .arg(&env.data)
        .output()
        .expect("turnout runs");
    assert!(out.status.success(), "{}", output_text(&out));
    serde_json::from_slice(&out.stdout).expect("lineage JSON")
}

#[test]
fn data_moves_between_environments_on_two_engines_verified_guarded_and_traced() {
    require_docker(&[BUSYBOX, MARIADB.image, POSTGRES.image]);
    let t0 = Instant::now();
    let dir = temp_dir(LOCAL);
    let secret = dir.join("pw");
    std::fs::write(&secret, "promote-Pw-4a1b").expect("write the password");
    let _local_cleanup = Cleanup(LOCAL.to_string());
    remove_plan_containers(LOCAL);
    let cloud = SecondEngine::start(
        ENGINE_NAME,
        ENGINE_BRIDGE,
        ENGINE_SUBNET,
        &[BUSYBOX, MARIADB.image, POSTGRES.image],
    )
    .cleaning(TEST);
    assert_eq!(cloud.address(), test_engine());
    lap(t0, "test-cloud engine up");
    let local = Env::new(
        &dir,
        LOCAL,
        None,
        env_plan(LOCAL, 25000, "local", "dev", &secret),
    );
    let test = Env::new(
        &dir,
        TEST,
        Some(test_engine()),
        env_plan(TEST, 25100, "test-cloud", "test", &secret),
    );
    local.ok(&["apply"]);
    test.ok(&["apply"]);
    lap(t0, "both hosts converged");
    seed(&local);
    clear(&test);
    let (maria, pg) = (
        local.maria_contents("shop_future"),
        local.pg_contents("ledger_future"),
    );
    assert!(
        maria.contains("users 150000") && maria.contains("orders 100000"),
        "{maria}"
    );
    lap(t0, "local seeded");

    let plain = promote_and_trace(&local, &test, (&maria, &pg));
    lap(t0, "promoted local -> test-cloud");
    refuse_a_target_written_since(&local, &test, &maria);
    lap(t0, "divergence refused, then overwritten");
    stage_rule_holds_both_ways(&local, &test, &maria);
    lap(t0, "stage rule");
    killed_mid_stream(&local, &test);
    lap(t0, "killed mid-stream");
    compressed_on_the_wire(&local, &test, plain);
    lap(t0, "compressed");
    switching_back_keeps_writes_to_a_source(&test);
    lap(t0, "switching back refused over a source's writes");
    standalone_runs_datasyncs_from_other_environments(&dir, &local, &test, &secret);
    lap(t0, "standalone DataSyncs from other environments");
}

/// local future -> test-cloud future: equal on both servers, lineage kept.
fn promote_and_trace(local: &Env, test: &Env, (maria, pg): (&str, &str)) -> u64 {
    let out = test
        .promote(local, "future", "future", &[])
        .output()
        .expect("turnout runs");
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(&format!("source engine: {LOCAL_ENGINE}"))
            && text.contains(&format!("engine: {}", test_engine())),
        "{text}"
    );
    assert_eq!(test.maria_contents("shop_future"), maria, "MariaDB copy");
    assert_eq!(test.pg_contents("ledger_future"), pg, "PostgreSQL copy");
    let q = "SELECT HEX(avatar), HEX(bio), name FROM shop_future.users WHERE id IN (1, 10, 149999) ORDER BY id";
    assert_eq!(test.sql(q), local.sql(q), "binary, NUL and unicode survive");
    let bytes = streamed(&text, "shop");
    assert!(
        bytes > 30_000_000,
        "tens of MB streamed, got {bytes}: {text}"
    );

    let records = lineage(test);
    // Databases on an engine other than the local socket are recorded
    // under its address.
    let key = format!("{} {TEST}-mariadb/shop_future", test_engine());
    let l = &records[&key]["lineage"];
    assert_eq!(l["environment"], "local", "{records}");
    assert_eq!(l["version"], "future", "{records}");
    assert_eq!(l["engine"], LOCAL_ENGINE, "{records}");
    assert_eq!(l["database"], format!("{LOCAL}-mariadb/shop_future"));
    let human = Command::new(turnout_bin())
        .args(["lineage", "--data-dir"])
        .arg(&test.data)
        .output()
        .expect("turnout runs");
    let human = output_text(&human);
    eprintln!("turnout lineage on test-cloud:\n{human}");
    let row = human
        .lines()
        .find(|l| l.starts_with(&format!("{} {TEST}-postgres/ledger_future", test_engine())))
        .unwrap_or_else(|| panic!("no lineage row for the ledger: {human}"));
    assert!(
        row.contains("written")
            && row.contains(&format!("{LOCAL}-postgres/ledger_future on {LOCAL_ENGINE}"))
            && row.contains(" local ")
            && row.contains(" future "),
        "{human}"
    );
    // The source was read, and is remembered under its engine.
    let source_key = format!("{LOCAL_ENGINE} {LOCAL}-mariadb/shop_future");
    assert_eq!(records[&source_key]["read"], true, "{records}");
    bytes
}

/// The BYTES column of binding `binding` in `turnout sync`'s table.
fn streamed(text: &str, binding: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with(&format!("{binding} ")))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|b| b.parse().ok())
        .unwrap_or(0)
}

/// `--compress`: gzip inside the source's container, gunzip inside the
/// target's; the same data arrives, in fewer bytes.
fn compressed_on_the_wire(local: &Env, test: &Env, plain: u64) {
    local.sql("UPDATE shop_future.orders SET amount = amount + 1 WHERE id % 2 = 0");
    let after = local.maria_contents("shop_future");
    let pg = local.pg_contents("ledger_future");
    local.psql(
        "ledger_future",
        "UPDATE accounts SET memo = memo || ' z' WHERE id % 2 = 0",
    );
    let pg_after = local.pg_contents("ledger_future");
    assert_ne!(pg, pg_after);
    let out = test
        .promote(local, "future", "future", &["--compress"])
        .output()
        .expect("turnout runs");
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert_eq!(test.maria_contents("shop_future"), after);
    assert_eq!(test.pg_contents("ledger_future"), pg_after);
    let zipped = streamed(&text, "shop");
    assert!(
        zipped > 0 && zipped * 2 < plain,
        "compressed {zipped} bytes, plain {plain}: {text}"
    );
    eprintln!("shop: {plain} bytes plain, {zipped} compressed");
}

/// A row written by hand into test-cloud's copy: the next promotion is
/// refused naming the table and the counts; told to, turnout backs the
/// target up and overwrites it.
fn refuse_a_target_written_since(local: &Env, test: &Env, maria: &str) {
    test.sql("INSERT INTO shop_future.users (id, name) VALUES (900001, 'written on test-cloud')");
    let written = test.maria_contents("shop_future");
    let out = test
        .promote(local, "future", "future", &[])
        .output()
        .expect("turnout runs");
    let text = output_text(&out);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("users: 150000 -> 150001 rows") && text.contains("--allow-overwrite-newer"),
        "{text}"
    );
    assert_eq!(test.maria_contents("shop_future"), written, "untouched");
    let out = test
        .promote(local, "future", "future", &["--allow-overwrite-newer"])
        .output()
        .expect("turnout runs");
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert_eq!(test.maria_contents("shop_future"), maria);
    let backups = test.data.join("backups").join(format!("{TEST}-mariadb"));
    let found = walk(&backups);
    assert!(
        !found.is_empty(),
        "the overwritten target was backed up under {}: {text}",
        backups.display()
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// test-cloud -> local is a demotion: refused naming both environments,
/// nothing written; `--force` copies.
fn stage_rule_holds_both_ways(local: &Env, test: &Env, maria: &str) {
    let out = local
        .promote(test, "future", "dao", &[])
        .output()
        .expect("turnout runs");
    let text = output_text(&out);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("test-cloud") && text.contains("local") && text.contains("--force"),
        "{text}"
    );
    assert_eq!(local.maria_contents("shop_dao"), "", "nothing was copied");
    let out = local
        .promote(test, "future", "dao", &["--force"])
        .output()
        .expect("turnout runs");
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(local.maria_contents("shop_dao"), maria);
}

/// turnout SIGKILLed while the dump streams into test-cloud: the target is
/// as it was or complete, and a rerun completes it.
fn killed_mid_stream(local: &Env, test: &Env) {
    local.sql("UPDATE shop_future.users SET name = CONCAT(name, ' v2') WHERE id % 3 = 0");
    let (before, after) = (
        test.maria_contents("shop_future"),
        local.maria_contents("shop_future"),
    );
    assert_ne!(before, after);
    let mut done = false;
    for delay_ms in [1500, 3000, 4500, 6000] {
        let mut child = test
            .promote(local, "future", "future", &[])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("turnout starts");
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        let now = test.maria_contents("shop_future");
        assert!(
            now == before || now == after,
            "after a kill at {delay_ms} ms the target is neither as it was nor complete:\n{now}"
        );
        if now == after {
            done = true;
            break;
        }
    }
    let out = test
        .promote(local, "future", "future", &[])
        .output()
        .expect("turnout runs");
    assert!(
        out.status.success(),
        "a rerun completes: {}",
        output_text(&out)
    );
    assert_eq!(test.maria_contents("shop_future"), after);
    eprintln!("a kill landed after the swap: {done}");
    let staging = test.sql("SHOW DATABASES");
    assert!(
        staging.lines().all(|d| !d.contains("__turnout")),
        "no staging left: {staging}"
    );
}

/// On test-cloud: future copied into dao, then future written by hand. A
/// copy back from dao into future would drop those writes: refused, naming
/// the table and the counts.
fn switching_back_keeps_writes_to_a_source(test: &Env) {
    test.ok(&["sync", "--from", "future", "--to", "dao"]);
    test.sql("INSERT INTO shop_future.orders (id, user_id, amount) VALUES (900001, 1, 9.99)");
    let written = test.maria_contents("shop_future");
    let out = test.run(&["sync", "--from", "dao", "--to", "future"]);
    let text = output_text(&out);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("read it as a source")
            && text.contains("orders: 100000 -> 100001 rows")
            && text.contains("--allow-overwrite-newer"),
        "{text}"
    );
    assert_eq!(test.maria_contents("shop_future"), written, "untouched");
}

/// `turnout standalone` on test-cloud with two DataSync documents whose
/// source is another environment: local's future into test-cloud's dao
/// (streamed from the usual engine, lineage in its status), and one from
/// a production plan, refused by the stage rule naming both environments.
fn standalone_runs_datasyncs_from_other_environments(
    dir: &Path,
    local: &Env,
    test: &Env,
    secret: &Path,
) {
    // Production's plan: local's containers, named as a later stage.
    let prod_file = dir.join("production.yaml");
    let prod = env_plan(LOCAL, 25000, "production", "prod", secret);
    std::fs::write(&prod_file, prod).expect("write the plan");
    let source = |file: &Path| {
        format!(
            "{{planFile: {}, engine: \"{LOCAL_ENGINE}\"}}",
            file.display()
        )
    };
    let desired = dir.join("test-cloud-desired.yaml");
    let yaml = std::fs::read_to_string(&test.file).expect("the plan");
    std::fs::write(
        &desired,
        format!(
            "{yaml}---\napiVersion: turnout.dev/v1alpha1\nkind: DataSync\nmetadata: {{name: from-local}}\nspec: {{planRef: {TEST}, from: future, to: dao, source: {}}}\n---\napiVersion: turnout.dev/v1alpha1\nkind: DataSync\nmetadata: {{name: from-production}}\nspec: {{planRef: {TEST}, from: future, to: future, source: {}}}\n",
            source(&local.file),
            source(&prod_file)
        ),
    )
    .expect("write the desired file");
    let status_file = dir.join("test-cloud-status.json");
    let mut child = Command::new(turnout_bin())
        .args(["--engine", &test_engine(), "standalone", "--file"])
        .arg(&desired)
        .arg("--status-file")
        .arg(&status_file)
        .args(["--listen", "127.0.0.1:25190", "--data-dir"])
        .arg(&test.data)
        .arg("--state-dir")
        .arg(&test.state)
        .env_remove("DOCKER_HOST")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("turnout standalone starts");
    let phase = |status: &Value, name: &str| {
        status["dataSyncs"]
            .as_array()
            .and_then(|a| a.iter().find(|d| d["name"] == name).cloned())
            .unwrap_or(Value::Null)
    };
    let mut status = Value::Null;
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        status = std::fs::read(&status_file)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null);
        let done = |n: &str| {
            let p = &phase(&status, n)["status"]["phase"];
            p == "Succeeded" || p == "Failed"
        };
        if done("from-local") && done("from-production") {
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait();
    let from_local = phase(&status, "from-local");
    assert_eq!(from_local["status"]["phase"], "Succeeded", "{status:#}");
    let step = &from_local["status"]["steps"][0];
    assert_eq!(step["sourceEnvironment"], "local", "{from_local:#}");
    assert_eq!(step["sourceEngine"], LOCAL_ENGINE, "{from_local:#}");
    assert_eq!(
        test.maria_contents("shop_dao"),
        local.maria_contents("shop_future"),
        "the DataSync copied local's future into test-cloud's dao"
    );
    assert_eq!(
        test.pg_contents("ledger_dao"),
        local.pg_contents("ledger_future")
    );
    let from_prod = phase(&status, "from-production");
    let message = from_prod["status"]["message"].as_str().unwrap_or_default();
    assert_eq!(from_prod["status"]["phase"], "Failed", "{status:#}");
    assert!(
        message.contains("PromotionRefused")
            && message.contains("production")
            && message.contains("test-cloud"),
        "{message}"
    );
}
