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
//! - env.rs: one environment (plan file, engine, directories) and its
//!   databases seen from outside turnout;
//! - steps.rs: the copies, refusals and kills, step by step;
//! - standalone.rs: DataSync documents from other environments.
//!
//! Host ports 25000-25299. Names start with `e2e-promote-`.

mod env;
mod standalone;
mod steps;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use serde_json::Value;
use turnout_e2e::second::SecondEngine;
use turnout_e2e::*;

use env::Env;

const ENGINE_NAME: &str = "e2e-promote-engine";
pub const ENGINE_BRIDGE: &str = "e2eprom0";
pub const ENGINE_SUBNET: &str = "172.31.246.1/24";
pub const LOCAL_ENGINE: &str = "unix:///var/run/docker.sock";

pub const LOCAL: &str = "e2e-promote-local";
pub const TEST: &str = "e2e-promote-test";

/// How turnout knows the local engine in its records: the socket's real
/// path (on Debian /var/run is a link to /run).
pub fn local_identity() -> String {
    let path = LOCAL_ENGINE.trim_start_matches("unix://");
    let real = std::fs::canonicalize(path).expect("the local engine's socket");
    format!("unix://{}", real.display())
}

pub fn test_engine() -> String {
    format!("unix:///run/{ENGINE_NAME}.sock")
}

fn lap(t0: Instant, what: &str) {
    eprintln!("[{:>6.1}s] {what}", t0.elapsed().as_secs_f64());
}

/// MariaDB and PostgreSQL, and versions future and dao (a web service,
/// `shop_<v>` on MariaDB as binding `shop`, `ledger_<v>` on PostgreSQL as
/// binding `ledger`) and idle (a web service only, so both data versions
/// can be copied into while the host runs).
pub fn env_plan(plan: &str, base: u16, environment: &str, stage: &str, secret: &Path) -> String {
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

pub fn lineage(env: &Env) -> Value {
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

    let plain = steps::promote_and_trace(&local, &test, (&maria, &pg));
    lap(t0, "promoted local -> test-cloud");
    steps::refuse_a_target_written_since(&local, &test, &maria);
    lap(t0, "divergence refused, then overwritten");
    steps::stage_rule_holds_both_ways(&local, &test, &maria);
    lap(t0, "stage rule");
    steps::killed_mid_stream(&local, &test);
    lap(t0, "killed mid-stream");
    steps::compressed_on_the_wire(&local, &test, plain);
    lap(t0, "compressed");
    steps::switching_back_keeps_writes_to_a_source(&test);
    lap(t0, "switching back refused over a source's writes");
    standalone::runs_datasyncs_from_other_environments(&dir, &local, &test, &secret);
    lap(t0, "standalone DataSyncs from other environments");
}
