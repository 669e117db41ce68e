//! A copy from another host's engine over SSH, as a test cloud host pulls
//! local's data: `turnout sync --source-engine ssh://USER@HOST:PORT
//! --source-plan` streams the dump from the second engine's exec, through
//! ssh and turnout, into a MariaDB on this engine. Equal checksums; then
//! the ssh process killed mid-stream: the copy fails, says so, and leaves
//! the target as it was with no staging database behind.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::sshd::{self, USER};
use super::support::*;
use turnout_e2e::*;

const SOURCE: &str = "e2e-remote-sync-src";
const TARGET: &str = "e2e-remote-sync-dst";
const PASSWORD: &str = "remote-sync-Pw-7";

fn plan(name: &str, port: u16, environment: &str, stage: &str, secret: &std::path::Path) -> String {
    let db = format!("{name}-mariadb");
    PlanBuilder::new(name)
        .environment(environment, stage)
        .infrastructure(
            MARIADB
                .container(&db, port, &format!("{name}-data"), "db-root", secret)
                .admin_secret("db-root"),
        )
        .version("future", |v| v.database("shop", &db, "shop_future"))
        .version("idle", |v| v)
        .select("idle")
        .yaml()
}

/// `mariadb -e` in `container` on the second engine (`remote`) or this one.
fn sql(remote: bool, container: &str, statement: &str) -> String {
    let engine = format!("unix://{SOCKET}");
    mariadb_on(remote.then_some(engine.as_str()), container, statement)
}

/// Row counts and `CHECKSUM TABLE` of the two tables ("" when the database does not exist).
fn fingerprint(remote: bool, container: &str) -> String {
    let exists = sql(
        remote,
        container,
        "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME='shop_future'",
    );
    if exists == "0" {
        return String::new();
    }
    sql(
        remote,
        container,
        "SELECT COUNT(*) FROM shop_future.users; SELECT COUNT(*) FROM shop_future.orders; \
         CHECKSUM TABLE shop_future.users, shop_future.orders EXTENDED",
    )
}

const SEED: &str = "
DROP DATABASE IF EXISTS shop_future; CREATE DATABASE shop_future CHARACTER SET utf8mb4;
USE shop_future;
CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR(100), bio TEXT, avatar BLOB) ENGINE=InnoDB;
CREATE TABLE orders (id INT PRIMARY KEY, user_id INT, note TEXT) ENGINE=InnoDB;
INSERT INTO users SELECT seq, CONCAT('user ', seq, ' \\t ü'), REPEAT(MD5(seq), 12), UNHEX(REPEAT(MD5(seq), 4)) FROM seq_1_to_60000;
INSERT INTO orders SELECT seq, seq % 60000, IF(seq % 3 = 0, NULL, REPEAT('n', seq % 90)) FROM seq_1_to_40000;
";

#[test]
fn a_copy_over_ssh_is_verified_and_a_dropped_connection_leaves_the_target() {
    require_docker(&[BUSYBOX, MARIADB.image]);
    let _lock = exclusive();
    let dir = TempDir::new(SOURCE);
    let engine = SecondEngine::start("");
    engine.load(&[MARIADB.image]);
    let _cleanup = Cleanup(TARGET.to_string());
    let _remote_cleanup = RemotePlan(SOURCE);
    remove_plan_containers(TARGET);
    let secret = dir.0.join("pw");
    std::fs::write(&secret, PASSWORD).expect("password");
    let (src_file, dst_file) = (dir.0.join("local.yaml"), dir.0.join("test-cloud.yaml"));
    std::fs::write(&src_file, plan(SOURCE, 27700, "local", "dev", &secret)).expect("plan");
    std::fs::write(
        &dst_file,
        plan(TARGET, 27701, "test-cloud", "test", &secret),
    )
    .expect("plan");
    let state = |who: &str| {
        [
            "--data-dir".to_string(),
            dir.0.join(who).join("data").display().to_string(),
            "--state-dir".to_string(),
            dir.0.join(who).join("state").display().to_string(),
        ]
    };
    // The source host converges on its own engine (a local socket there).
    let (out, _) = turnout(
        &[
            &["--engine", &format!("unix://{SOCKET}"), "apply"][..],
            &[src_file.to_str().expect("path")],
            &state("local").each_ref().map(String::as_str),
        ]
        .concat(),
        &[],
    );
    assert!(out.status.success(), "{}", output_text(&out));
    let (out, _) = turnout(
        &[
            &["apply", dst_file.to_str().expect("path")][..],
            &state("cloud").each_ref().map(String::as_str),
        ]
        .concat(),
        &[],
    );
    assert!(out.status.success(), "{}", output_text(&out));
    let (src_db, dst_db) = (format!("{SOURCE}-mariadb"), format!("{TARGET}-mariadb"));
    sql(true, &src_db, SEED);
    sql(false, &dst_db, "DROP DATABASE IF EXISTS shop_future");

    let ssh_dir = dir.0.join("ssh");
    let _sshd = sshd::start(&ssh_dir);
    let path = sshd::client(&ssh_dir, "good", "client_key", true);
    let home = dir.0.display().to_string();
    let addr = format!("ssh://{USER}@127.0.0.1:{SSH_PORT}");
    let sync_args: Vec<String> = [
        "sync",
        "--source-engine",
        &addr,
        "--source-plan",
        src_file.to_str().expect("path"),
        "--from",
        "future",
        "--to",
        "future",
        dst_file.to_str().expect("path"),
    ]
    .iter()
    .map(|s| s.to_string())
    .chain(state("cloud"))
    .collect();
    let args: Vec<&str> = sync_args.iter().map(String::as_str).collect();
    let env = [("PATH", path.as_str()), ("HOME", home.as_str())];

    // 1. Over ssh: the same data on both engines.
    let (out, took) = turnout(&args, &env);
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(&format!("source engine: {addr} (Docker ")),
        "{text}"
    );
    assert_eq!(fingerprint(false, &dst_db), fingerprint(true, &src_db));
    eprintln!("copied over ssh in {took:?}");

    // 2. The ssh killed while the dump streams: a clean failure, the target as it was.
    sql(
        true,
        &src_db,
        "UPDATE shop_future.users SET name = CONCAT(name, ' v2')",
    );
    let before = fingerprint(false, &dst_db);
    let mut child = Command::new(turnout_bin())
        .args(&args)
        .envs(env)
        .env_remove("DOCKER_HOST")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("turnout runs");
    let staging = "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'shop_future%turnout_staging'";
    let streaming = wait_until(Duration::from_secs(30), || {
        sql(false, &dst_db, staging) != "0"
    });
    assert!(streaming, "the copy never reached its staging database");
    std::thread::sleep(Duration::from_millis(300));
    let killed = sshd::ssh_children_of(child.id());
    assert!(
        !killed.is_empty(),
        "turnout streams through an ssh of its own"
    );
    for pid in &killed {
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
    }
    let t0 = Instant::now();
    let ended = wait_until(CALL_LIMIT, || child.try_wait().ok().flatten().is_some());
    if !ended {
        let _ = child.kill();
    }
    let out = child.wait_with_output().expect("turnout ends");
    let text = output_text(&out);
    assert!(ended, "turnout hung after its ssh died: {text}");
    eprintln!("a killed ssh ended the copy in {:?}: {text}", t0.elapsed());
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("sync failed"), "{text}");
    assert_eq!(
        fingerprint(false, &dst_db),
        before,
        "the target is untouched"
    );
    assert_eq!(
        sql(false, &dst_db, staging),
        "0",
        "no staging database left"
    );
    assert!(
        wait_until(Duration::from_secs(5), || sshd::ssh_clients().is_empty()),
        "no ssh left running"
    );

    // 3. Run again, it completes.
    let (out, _) = turnout(&args, &env);
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(fingerprint(false, &dst_db), fingerprint(true, &src_db));
}

/// Removes turnout's containers of the source plan from the second engine.
struct RemotePlan(&'static str);

impl Drop for RemotePlan {
    fn drop(&mut self) {
        let filter = format!("label=dev.turnout.plan={}", self.0);
        let ids = engine2(&[
            "ps",
            "-aq",
            "--filter",
            &filter,
            "--filter",
            "label=dev.turnout.managed-by=turnout",
        ]);
        for id in String::from_utf8_lossy(&ids.stdout).split_whitespace() {
            let _ = engine2(&["rm", "-f", id]);
        }
    }
}
