//! End-to-end: `turnout sync`, `backups` and `restore` against a real
//! MariaDB server (built by scripts/build-images.sh).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use turnout_e2e::*;

const PASSWORD: &str = "sync-Pw-51c0ffee";
const PLAN: &str = "e2e-sync";
const DB: &str = "e2e-sync-mariadb";

/// MariaDB `db` on `db_port` and versions future, dao and ghost, each a web
/// service (on base+1, +2, +3) and its database `<prefix>_<version>`
/// (ghost's, `<prefix>_missing`, never exists); future selected.
fn plan(plan: &str, db: &str, db_port: u16, base: u16, prefix: &str, secret: &Path) -> PlanBuilder {
    let server = MARIADB.container(db, db_port, &format!("{plan}-data"), "db-root", secret);
    database_plan(
        plan,
        server.admin_secret("db-root"),
        "users",
        &[
            ("future", base + 1, &format!("{prefix}_future")),
            ("dao", base + 2, &format!("{prefix}_dao")),
            ("ghost", base + 3, &format!("{prefix}_missing")),
        ],
    )
}

/// The plan of the tests that share the server `DB`.
fn shared_plan(secret: &Path) -> PlanBuilder {
    plan(PLAN, DB, 24306, 24000, "e2esync", secret)
}

fn sql(statement: &str) -> String {
    docker(&[
        "exec",
        DB,
        "mariadb",
        "-uroot",
        "--batch",
        "--skip-column-names",
        "-e",
        statement,
    ])
}

/// Per-table row counts and checksums of a database, as the server reports them.
fn contents(db: &str) -> String {
    let tables = sql(&format!(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA='{db}' AND TABLE_TYPE='BASE TABLE' ORDER BY TABLE_NAME"
    ));
    let mut out = String::new();
    for t in tables.lines() {
        let sum = sql(&format!("CHECKSUM TABLE `{db}`.`{t}` EXTENDED"));
        let rows = sql(&format!("SELECT COUNT(*) FROM `{db}`.`{t}`"));
        out.push_str(&format!(
            "{t} {rows} {}\n",
            sum.split('\t').nth(1).unwrap_or("?")
        ));
    }
    out
}

const SEED: &str = "
DROP DATABASE IF EXISTS e2esync_future; DROP DATABASE IF EXISTS e2esync_dao; DROP DATABASE IF EXISTS e2esync_missing;
CREATE DATABASE e2esync_future CHARACTER SET utf8mb4;
USE e2esync_future;
CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR(100) NOT NULL, email VARCHAR(200) NULL, avatar BLOB NULL) ENGINE=InnoDB;
CREATE TABLE orders (id INT PRIMARY KEY, user_id INT NOT NULL, amount DECIMAL(10,2), note TEXT NULL,
  FOREIGN KEY (user_id) REFERENCES users(id)) ENGINE=InnoDB;
SET SESSION max_recursive_iterations = 100000;
INSERT INTO users
  WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 30000)
  SELECT i, CONCAT('用户 ', i, ' Ünïcødé ✓'), IF(i % 7 = 0, NULL, CONCAT('u', i, '@example.org')),
         IF(i % 5 = 0, NULL, UNHEX(SHA2(i, 256))) FROM n;
INSERT INTO orders
  WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
  SELECT i, 1 + (i * 7) % 30000, i * 1.25, IF(i % 3 = 0, NULL, REPEAT('x', i % 50)) FROM n;
CREATE VIEW active_users AS SELECT id, name FROM users WHERE email IS NOT NULL;
";

struct Env {
    file: PathBuf,
    data: PathBuf,
    state: PathBuf,
}

impl Env {
    fn turnout(&self, args: &[&str]) -> Output {
        Command::new(turnout_bin())
            .args(args)
            .arg(&self.file)
            .arg("--data-dir")
            .arg(&self.data)
            .args(if args[0] == "backups" {
                vec![]
            } else {
                vec!["--state-dir".to_string(), self.state.display().to_string()]
            })
            .output()
            .expect("turnout runs")
    }
}

#[test]
fn sync_copies_verifies_guards_backs_up_and_restores() {
    require_docker(&[BUSYBOX, "turnout/mariadb:demo"]);
    let _cleanup = Cleanup(PLAN.to_string());
    remove_plan_containers(PLAN);
    let dir = temp_dir(PLAN);
    let secret = dir.join("pw");
    std::fs::write(&secret, PASSWORD).unwrap();
    let env = Env {
        file: dir.join("plan.yaml"),
        data: dir.join("data"),
        state: dir.join("state"),
    };
    std::fs::write(&env.file, shared_plan(&secret).select("future").yaml()).unwrap();

    apply_file(&env.file, &env.data, &env.state);
    sql(SEED);
    let source = contents("e2esync_future");
    assert!(
        source.contains("users 30000") && source.contains("orders 5000"),
        "{source}"
    );

    // 1. A first copy, watched by `ps` for the password while it runs.
    let watching = Arc::new(AtomicBool::new(true));
    let seen = {
        let watching = watching.clone();
        std::thread::spawn(move || {
            let mut hits = Vec::new();
            while watching.load(Ordering::SeqCst) {
                let ps = Command::new("ps").args(["-eo", "args"]).output().unwrap();
                let t = String::from_utf8_lossy(&ps.stdout).to_string();
                hits.extend(
                    t.lines()
                        .filter(|l| l.contains(PASSWORD))
                        .map(str::to_string),
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            hits
        })
    };
    let out = env.turnout(&["sync", "--from", "future", "--to", "dao"]);
    watching.store(false, Ordering::SeqCst);
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(
        seen.join().unwrap().is_empty(),
        "the password showed up in ps"
    );
    assert!(!output_text(&out).contains(PASSWORD));
    assert_eq!(
        contents("e2esync_dao"),
        source,
        "the copy equals the source"
    );
    assert_eq!(
        sql("SELECT COUNT(*) FROM e2esync_dao.active_users"),
        sql("SELECT COUNT(*) FROM e2esync_future.active_users")
    );
    assert_eq!(
        sql("SELECT name, HEX(avatar) FROM e2esync_dao.users WHERE id = 12"),
        sql("SELECT name, HEX(avatar) FROM e2esync_future.users WHERE id = 12"),
        "unicode and binary survive"
    );
    assert!(
        sql("SHOW DATABASES")
            .lines()
            .all(|d| !d.contains("__turnout")),
        "no staging left behind"
    );

    // 2. Running it again: nothing to do.
    let again = env.turnout(&["sync", "--from", "future", "--to", "dao"]);
    assert!(again.status.success(), "{}", output_text(&again));

    // 3. Someone writes to the target: the next sync is refused, the target untouched.
    sql("INSERT INTO e2esync_dao.users (id, name) VALUES (999999, 'written by hand')");
    let written = contents("e2esync_dao");
    let refused = env.turnout(&["sync", "--from", "future", "--to", "dao"]);
    assert!(!refused.status.success());
    assert!(
        output_text(&refused).contains("written to since"),
        "{}",
        output_text(&refused)
    );
    assert_eq!(contents("e2esync_dao"), written);

    // 4. Forced: the hand-written target is backed up, then overwritten.
    let forced = env.turnout(&[
        "sync",
        "--from",
        "future",
        "--to",
        "dao",
        "--allow-overwrite-newer",
    ]);
    assert!(forced.status.success(), "{}", output_text(&forced));
    assert_eq!(contents("e2esync_dao"), source);
    let listed = env.turnout(&["backups"]);
    let backup = output_text(&listed)
        .lines()
        .filter(|l| l.contains("e2esync_dao"))
        .filter_map(|l| l.split_whitespace().nth(1))
        .next_back()
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("a backup of dao is listed: {}", output_text(&listed)));
    assert!(!std::fs::read_to_string(&backup).unwrap().contains(PASSWORD));

    // 5. Restore puts back exactly what was there.
    let restored = Command::new(turnout_bin())
        .arg("restore")
        .arg(&env.file)
        .arg("--backup")
        .arg(&backup)
        .arg("--data-dir")
        .arg(&env.data)
        .arg("--state-dir")
        .arg(&env.state)
        .output()
        .unwrap();
    assert!(restored.status.success(), "{}", output_text(&restored));
    assert_eq!(
        contents("e2esync_dao"),
        written,
        "the backup restored the exact previous contents"
    );

    // 6. A source that does not exist fails clearly and leaves the target alone.
    let ghost = env.turnout(&[
        "sync",
        "--from",
        "ghost",
        "--to",
        "dao",
        "--allow-overwrite-newer",
    ]);
    assert!(!ghost.status.success());
    assert!(
        output_text(&ghost).contains("does not exist"),
        "{}",
        output_text(&ghost)
    );
    assert_eq!(contents("e2esync_dao"), written);

    // 6b. A wrong admin password fails clearly, names no password, changes nothing.
    std::fs::write(&secret, "not-the-password").unwrap();
    let denied = env.turnout(&[
        "sync",
        "--from",
        "future",
        "--to",
        "dao",
        "--allow-overwrite-newer",
    ]);
    std::fs::write(&secret, PASSWORD).unwrap();
    assert!(!denied.status.success());
    assert!(
        output_text(&denied).contains("Access denied"),
        "{}",
        output_text(&denied)
    );
    assert!(
        !output_text(&denied).contains("not-the-password")
            && !output_text(&denied).contains(PASSWORD)
    );
    assert_eq!(contents("e2esync_dao"), written);

    // 7. The password is in no inspectable config.
    assert!(!docker(&["inspect", DB]).contains(PASSWORD));

    // 8. Switching to dao with syncOnSwitch copies future's data first.
    std::fs::write(&env.file, shared_plan(&secret).select("dao").yaml()).unwrap();
    let plan = Command::new(turnout_bin())
        .arg("plan")
        .arg(&env.file)
        .output()
        .unwrap();
    assert!(plan.status.success(), "{}", output_text(&plan));
    let shown = output_text(&plan);
    assert!(
        shown.contains("copies data") && shown.contains(&format!("{DB}/e2esync_dao")),
        "{shown}"
    );
    assert!(
        shown.contains("35001"),
        "plan shows the rows it would overwrite: {shown}"
    );
    let status = dir.join("status.json");
    let switched = Command::new(turnout_bin())
        .arg("apply")
        .arg(&env.file)
        .arg("--data-dir")
        .arg(&env.data)
        .arg("--state-dir")
        .arg(&env.state)
        .arg("--status-file")
        .arg(&status)
        .output()
        .unwrap();
    assert!(switched.status.success(), "{}", output_text(&switched));
    assert_eq!(
        contents("e2esync_dao"),
        source,
        "the switch copied future's data into dao"
    );
    assert_eq!(
        running(PLAN),
        vec![format!("{PLAN}-dao-service"), DB.to_string()]
    );
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&status).unwrap()).unwrap();
    assert!(
        s["status"]["lastSwitch"]["phases"]["syncMs"]
            .as_u64()
            .is_some(),
        "{s}"
    );
    assert!(!std::fs::read_to_string(&status).unwrap().contains(PASSWORD));
}

#[test]
fn a_sync_killed_at_any_point_leaves_the_target_as_it_was_or_complete() {
    require_docker(&[BUSYBOX, "turnout/mariadb:demo"]);
    // Shares the server of the test above under other database names.
    let plan = "e2e-synckill";
    let _cleanup = Cleanup(plan.to_string());
    remove_plan_containers(plan);
    let dir = temp_dir(plan);
    let secret = dir.join("pw");
    std::fs::write(&secret, PASSWORD).unwrap();
    let yaml = self::plan(
        plan,
        "e2e-synckill-mariadb",
        24406,
        24100,
        "e2ekill",
        &secret,
    )
    .select("future")
    .yaml();
    let file = dir.join("plan.yaml");
    std::fs::write(&file, &yaml).unwrap();
    apply_file(&file, &dir.join("data"), &dir.join("state"));
    let db = "e2e-synckill-mariadb";
    let q = |s: &str| {
        docker(&[
            "exec",
            db,
            "mariadb",
            "-uroot",
            "--batch",
            "--skip-column-names",
            "-e",
            s,
        ])
    };
    q(&SEED.replace("e2esync_", "e2ekill_"));
    q(
        "CREATE DATABASE e2ekill_dao; CREATE TABLE e2ekill_dao.keepme (id INT PRIMARY KEY); INSERT INTO e2ekill_dao.keepme VALUES (1),(2),(3)",
    );
    let fp = |name: &str| {
        let tables = q(&format!(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA='{name}' AND TABLE_TYPE='BASE TABLE' ORDER BY 1"
        ));
        tables
            .lines()
            .map(|t| q(&format!("CHECKSUM TABLE `{name}`.`{t}` EXTENDED")))
            .collect::<Vec<_>>()
            .join("\n")
            .replace(name, "DB")
    };
    let before = fp("e2ekill_dao");
    let source = fp("e2ekill_future");
    let sync = |extra: &[&str]| {
        let mut c = Command::new(turnout_bin());
        c.args(["sync", "--from", "future", "--to", "dao"])
            .args(extra)
            .arg(&file)
            .arg("--data-dir")
            .arg(dir.join("data"))
            .arg("--state-dir")
            .arg(dir.join("state"))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    };
    for delay_ms in [100, 300, 600, 1000, 1500] {
        let mut child = sync(&[]).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        let now = fp("e2ekill_dao");
        assert!(
            now == before || now == source,
            "after a kill at {delay_ms} ms the target is neither as it was nor complete:\n{now}"
        );
        if now == source {
            break;
        }
    }
    let done = sync(&[])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(
        done.status.success(),
        "a rerun completes the sync: {}",
        output_text(&done)
    );
    assert_eq!(fp("e2ekill_dao"), source);
}
