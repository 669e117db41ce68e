//! End-to-end: faults in the middle of the data path, on the real engine.
//! A source that cannot start or dies leaves no sink waiting for input; a
//! stalled stream gives up after its idle timeout; a statement waiting on
//! someone else's lock gives up after turnout's lock wait timeout.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use turnout::runtime::docker::DockerRuntime;
use turnout::runtime::stream::{DataExec, ExecSpec, Sink, Source};
use turnout_e2e::*;

const SINK: &str = "e2e-faults-sink";

/// A plain busybox container of the test's own (not turnout's).
struct Container(&'static str);

impl Container {
    fn start(name: &'static str) -> Container {
        let _ = docker_raw(&["rm", "-f", name]);
        docker(&["run", "-d", "--name", name, BUSYBOX, "sleep", "3600"]);
        Container(name)
    }

    /// Processes running in the container, as `docker top` lists them.
    fn processes(&self) -> String {
        docker(&["top", self.0, "-o", "pid,args"])
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = docker_raw(&["rm", "-f", self.0]);
    }
}

fn runtime() -> (tokio::runtime::Runtime, DockerRuntime) {
    let rt = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let docker = rt
        .block_on(DockerRuntime::connect())
        .expect("the Docker engine answers");
    (rt, docker)
}

#[test]
fn a_source_that_cannot_start_leaves_no_sink_waiting() {
    require_docker(&[BUSYBOX]);
    let sink = Container::start(SINK);
    let (rt, docker) = runtime();
    let source = ExecSpec::new("e2e-faults-no-such-container", ["cat", "/etc/passwd"]);
    let target = ExecSpec::new(SINK, ["sh", "-c", "cat > /tmp/received"]);
    let t0 = Instant::now();
    let result = rt.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(30),
            docker.stream(Source::Exec(&source), Sink::Exec(&target), &|_| {}),
        )
        .await
    });
    let Ok(result) = result else {
        panic!("the stream still waited after 30 s: a sink was left waiting for input");
    };
    assert!(
        result.is_err(),
        "a source that cannot start fails the stream: {result:?}"
    );
    println!("failed after {:?}", t0.elapsed());
    assert!(
        wait_until(Duration::from_secs(5), || !sink.processes().contains("cat")),
        "the sink ended: {}",
        sink.processes()
    );
}

#[test]
fn a_stream_that_stalls_gives_up_after_its_idle_timeout() {
    require_docker(&[BUSYBOX]);
    let sink = Container::start(SINK);
    let (rt, docker) = runtime();
    let source = ExecSpec::new(sink.0, ["sh", "-c", "echo started; exec sleep 600"])
        .with_timeout(Duration::from_secs(2));
    let target = ExecSpec::new(sink.0, ["sh", "-c", "cat > /tmp/received"])
        .with_timeout(Duration::from_secs(2));
    let t0 = Instant::now();
    let result = rt.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(60),
            docker.stream(Source::Exec(&source), Sink::Exec(&target), &|_| {}),
        )
        .await
    });
    let waited = t0.elapsed();
    let result = result.expect("the stream gave up on its own");
    let err = result.expect_err("a stalled source fails the stream");
    assert_eq!(err.reason(), "Timeout", "{err}");
    assert!(
        waited < Duration::from_secs(20),
        "gave up after {waited:?}, with an idle timeout of 2 s"
    );
    assert!(
        wait_until(Duration::from_secs(5), || !sink.processes().contains("cat")),
        "the sink got the end of its input and ended: {}",
        sink.processes()
    );
}

const PLAN: &str = "e2e-faults";
const DB: &str = "e2e-faults-mariadb";

/// MariaDB `DB` and versions future and dao, each a web service and its
/// database; switches copy nothing.
fn plan(secret: &std::path::Path) -> PlanBuilder {
    let db = MARIADB.container(DB, 29307, &format!("{PLAN}-data"), "db-root", secret);
    database_plan(
        PLAN,
        db.admin_secret("db-root"),
        "users",
        &[
            ("future", 29021, "faults_future"),
            ("dao", 29022, "faults_dao"),
        ],
    )
    .selection(Selection::new("host", PLAN, "future").sync_on_switch(false))
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

struct Db {
    file: std::path::PathBuf,
    dir: std::path::PathBuf,
    _cleanup: Cleanup,
}

impl Db {
    fn up() -> Db {
        require_docker(&[BUSYBOX, "turnout/mariadb:demo"]);
        let cleanup = Cleanup(PLAN.to_string());
        let dir = temp_dir(PLAN);
        let secret = dir.join("pw");
        std::fs::write(&secret, "faults-Pw-31").expect("write the password");
        let file = dir.join("plan.yaml");
        std::fs::write(&file, plan(&secret).yaml()).expect("write the plan");
        apply_file(&file, &dir.join("data"), &dir.join("state"));
        sql(
            "DROP DATABASE IF EXISTS faults_future; DROP DATABASE IF EXISTS faults_dao; DROP DATABASE IF EXISTS faults_dao__turnout_staging; CREATE DATABASE faults_future; CREATE DATABASE faults_dao; CREATE TABLE faults_dao.keepme (id INT); INSERT INTO faults_dao.keepme VALUES (1), (2);",
        );
        Db {
            file,
            dir,
            _cleanup: cleanup,
        }
    }

    fn sync(&self, extra: &[&str]) -> Command {
        let mut c = Command::new(turnout_bin());
        c.args(["sync", "--from", "future", "--to", "dao"])
            .args(extra)
            .arg(&self.file)
            .arg("--data-dir")
            .arg(self.dir.join("data"))
            .arg("--state-dir")
            .arg(self.dir.join("state"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }
}

#[test]
fn a_statement_waiting_on_a_foreign_lock_gives_up() {
    let db = Db::up();
    sql(
        "CREATE TABLE faults_future.t (id INT PRIMARY KEY); INSERT INTO faults_future.t VALUES (1);",
    );
    // Someone else holds a write lock on the source table for two minutes.
    docker(&[
        "exec",
        "-d",
        DB,
        "mariadb",
        "-uroot",
        "-e",
        "LOCK TABLES faults_future.t WRITE; SELECT SLEEP(120);",
    ]);
    assert!(
        wait_until(Duration::from_secs(10), || {
            sql(
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT SLEEP(120)%'",
            ) == "1"
        }),
        "the lock is held"
    );
    let t0 = Instant::now();
    let mut child = db
        .sync(&["--lock-wait-timeout", "2"])
        .spawn()
        .expect("turnout runs");
    let ended = wait_until(Duration::from_secs(60), || {
        child.try_wait().ok().flatten().is_some()
    });
    if !ended {
        let _ = child.kill();
    }
    let out = child.wait_with_output().expect("turnout ends");
    assert!(ended, "the sync still waited on the lock after 60 s");
    assert!(!out.status.success(), "{}", output_text(&out));
    assert!(
        output_text(&out).contains("Lock wait timeout"),
        "{}",
        output_text(&out)
    );
    println!("gave up after {:?}", t0.elapsed());
    assert_eq!(sql("SELECT COUNT(*) FROM faults_dao.keepme"), "2");
}

#[test]
fn a_dump_killed_mid_stream_fails_the_copy_and_leaves_the_target() {
    let db = Db::up();
    sql(
        "SET SESSION max_recursive_iterations = 1000000; CREATE TABLE faults_future.big (id INT PRIMARY KEY, pad VARCHAR(200)) ENGINE=InnoDB; INSERT INTO faults_future.big WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400000) SELECT i, REPEAT('p', 180) FROM n;",
    );
    let mut child = db.sync(&[]).spawn().expect("turnout runs");
    // Kill the dump as soon as it runs, from the host (turnout never sees it coming).
    let killed = wait_until(Duration::from_secs(60), || {
        let top = docker(&["top", DB, "-o", "pid,args"]);
        let pid = top
            .lines()
            .find(|l| l.contains("mariadb-dump"))
            .and_then(|l| l.split_whitespace().next().map(str::to_string));
        match pid {
            Some(pid) => Command::new("kill")
                .args(["-9", &pid])
                .status()
                .is_ok_and(|s| s.success()),
            None => false,
        }
    });
    let ended = wait_until(Duration::from_secs(60), || {
        child.try_wait().ok().flatten().is_some()
    });
    if !ended {
        let _ = child.kill();
    }
    let out = child.wait_with_output().expect("turnout ends");
    assert!(killed, "the dump was seen and killed");
    assert!(ended, "the sync still ran 60 s after its dump died");
    assert!(!out.status.success(), "{}", output_text(&out));
    assert_eq!(
        sql("SELECT COUNT(*) FROM faults_dao.keepme"),
        "2",
        "the target is as it was"
    );
    assert!(
        !sql("SHOW DATABASES").contains("__turnout"),
        "the staging copy was dropped"
    );
}
