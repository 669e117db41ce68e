//! Automatic rollback under the operator, on a real MariaDB: a selection
//! with `rollback: {enabled: true, progressDeadlineSeconds: 5}` switched to
//! a version whose container exits, then to one that never gets ready,
//! goes back to the version that worked each time, says why (Ready False
//! `RolledBack`, the switch record, a Warning Event, the metric), keeps the
//! database container and its rows, and does not try the failed spec again
//! until the selection or its plan changes.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use turnout_e2e::*;

use crate::cluster::{
    Cluster, Operator, object_json_in, ready_condition_of, service_account_kubeconfig,
};

const NS: &str = "krb-rollback";
const PLAN: &str = "krb-rollback";
const SELECTION: &str = "krb-host";
const HOST_LABEL: &str = "krb-rollback";
/// The Kubernetes Secret holding MariaDB's root password.
const SECRET: &str = "krb-db";
const DB_PORT: u16 = 28901;
const LISTEN: u16 = 28950;
/// What the `exits` version's container prints before it exits with code 3.
const EXIT_LINE: &str = "krb-exits: no configuration at /etc/krb/app.conf";

fn db_name() -> String {
    format!("{PLAN}-mariadb")
}

fn service(version: &str) -> String {
    format!("{PLAN}-{version}")
}

/// Version `name` with the one service `c` on host port `port` (its own
/// range), published as container port 8080.
fn one_service(p: PlanBuilder, name: &str, port: u16, c: Container) -> PlanBuilder {
    p.version(name, |v| {
        v.range("services", port, port + 4)
            .container(c.port_in(port, 8080, "services").stop_timeout(3))
    })
}

/// MariaDB (password from the Secret) and the versions `good` (httpd),
/// `exits` (prints [`EXIT_LINE`], exits 3) and `hangs` (runs, never
/// listens); the selection on `good`, with rollback after 5 s.
fn plan() -> PlanBuilder {
    let secret_path = "/run/secrets/db-root";
    let mariadb = container(&db_name(), MARIADB.image)
        .engine("mariadb")
        .env(MARIADB.password_env, secret_path)
        .env("MARIADB_DATABASE", "krb_marks")
        .admin_secret("db-root")
        .secret_key("db-root", secret_path, SECRET, "password")
        .port(DB_PORT, MARIADB.port)
        .readiness(Probe::exec(&["turnout-ready"]).timeout(120))
        .stop_timeout(30);
    let good = httpd(&service("good")).readiness(Probe::http(8080).timeout(20));
    let exits = container(&service("exits"), BUSYBOX)
        .command(&["sh", "-c", &format!("echo '{EXIT_LINE}'; exit 3")])
        .readiness(Probe::tcp(8080));
    let hangs = container(&service("hangs"), BUSYBOX)
        .command(&[
            "sh",
            "-c",
            "trap 'exit 0' TERM; echo krb-hangs: up, not listening; while true; do sleep 1; done",
        ])
        .readiness(Probe::tcp(8080));
    let p = PlanBuilder::new(PLAN).namespace(NS).infrastructure(mariadb);
    let p = one_service(p, "good", 28910, good);
    let p = one_service(p, "exits", 28920, exits);
    let p = one_service(p, "hangs", 28930, hangs);
    p.selection(
        Selection::new(SELECTION, PLAN, "good")
            .label("turnout.dev/host", HOST_LABEL)
            .set(
                "rollback",
                json!({"enabled": true, "progressDeadlineSeconds": 5}),
            ),
    )
}

/// A random root password, as the Secret [`SECRET`] in [`NS`] (from a
/// file, never on a command line). Returns the password.
fn create_secret(c: &Cluster, dir: &Path) -> String {
    let file = dir.join("db-password");
    let made = Command::new("sh")
        .args([
            "-c",
            "umask 077; head -c 18 /dev/urandom | base64 > \"$1\"",
            "sh",
        ])
        .arg(&file)
        .status()
        .expect("sh runs");
    assert!(made.success(), "cannot write {}", file.display());
    let from = format!("--from-file=password={}", file.display());
    c.ok(&["create", "secret", "generic", SECRET, "-n", NS, &from]);
    let password = std::fs::read_to_string(&file).expect("read the password back");
    std::fs::remove_file(&file).expect("remove the password file");
    password.trim().to_string()
}

fn operator(dir: &Path, sa: &Path) -> Operator {
    Operator(
        Command::new(turnout_bin())
            .args(["run", "--namespace", NS])
            .args(["--selector", &format!("turnout.dev/host={HOST_LABEL}")])
            .args(["--listen", &format!("127.0.0.1:{LISTEN}")])
            .arg("--state-dir")
            .arg(dir.join("state"))
            .arg("--data-dir")
            .arg(dir.join("data"))
            .env("KUBECONFIG", sa)
            .env("POD_NAMESPACE", "turnout-system")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("operator.log")).expect("log file"))
            .spawn()
            .expect("turnout run starts"),
    )
}

/// SQL in MariaDB's `krb_marks`, as root; the password is read inside the
/// container from its secret file and the statement passed as one argument.
fn sql(statement: &str) -> String {
    docker(&[
        "exec",
        &db_name(),
        "sh",
        "-c",
        "MYSQL_PWD=\"$(cat /run/secrets/db-root)\" exec mariadb -uroot -N -B krb_marks -e \"$1\"",
        "sh",
        statement,
    ])
}

fn inspect(name: &str, format: &str) -> String {
    docker(&["inspect", "-f", format, name]).trim().to_string()
}

fn selection(c: &Cluster) -> Value {
    object_json_in(c, NS, "vsel", SELECTION)
}

fn rollbacks() -> f64 {
    metric_sum(&http_get(LISTEN, "/metrics"), "turnout_rollbacks_total")
}

/// Waits until the selection's current generation reports the rollback of
/// its switch to `failed`; returns the selection.
fn rolled_back_from(c: &Cluster, failed: &str, log: &dyn Fn() -> String) -> Value {
    let done = |s: &Value| {
        s["status"]["observedGeneration"] == s["metadata"]["generation"]
            && s["status"]["lastSwitch"]["to"] == failed
            && ready_condition_of(s)["reason"] == "RolledBack"
    };
    let reported = wait_until(Duration::from_secs(120), || done(&selection(c)));
    let s = selection(c);
    assert!(
        reported,
        "the switch to {failed} was rolled back: {s}\noperator log:\n{}",
        log()
    );
    let ready = ready_condition_of(&s);
    assert_eq!(ready["status"], "False", "{ready}");
    assert_eq!(s["status"]["activeVersion"], "good", "{s}");
    let last = &s["status"]["lastSwitch"];
    assert_eq!(
        (&last["from"], &last["outcome"]),
        (&json!("good"), &json!("RolledBack")),
        "{last}"
    );
    assert!(
        last["phases"]["rollbackMs"].is_u64(),
        "the rollback is timed: {last}"
    );
    s
}

/// `good` runs again (started anew since `good_before`), nothing else of
/// the plan but MariaDB, which is the same container, its row intact.
fn back_on_good(good_before: &str, db: &Database) {
    let good = service("good");
    let mut want = vec![db_name(), good.clone()];
    want.sort();
    assert_eq!(running(PLAN), want);
    assert_ne!(
        started_at(&good),
        good_before,
        "{good} was stopped for the switch and started again"
    );
    assert_eq!(
        inspect(&db_name(), "{{.Id}}"),
        db.id,
        "MariaDB not recreated"
    );
    assert_eq!(inspect(&db_name(), "{{.State.Running}}"), "true");
    assert_eq!(sql("SELECT v FROM marks"), db.mark, "MariaDB kept its row");
}

/// A Warning Event with reason RolledBack about the selection.
fn warning_event(c: &Cluster) -> bool {
    let list: Value =
        serde_json::from_str(&c.ok(&["get", "events", "-n", NS, "-o", "json"])).unwrap_or_default();
    list["items"].as_array().is_some_and(|items| {
        items.iter().any(|e| {
            e["reason"] == "RolledBack"
                && e["type"] == "Warning"
                && e["involvedObject"]["kind"] == "VersionSelection"
                && e["involvedObject"]["name"] == SELECTION
        })
    })
}

/// MariaDB's container and the row the test wrote into it.
struct Database {
    id: String,
    mark: String,
}

#[test]
fn a_switch_that_does_not_come_up_is_rolled_back_and_held_under_the_operator() {
    require_docker(&[BUSYBOX, MARIADB.image]);
    let _cleanup = Cleanup(PLAN.to_string());
    remove_plan_containers(PLAN);
    let dir = temp_dir(PLAN);
    let cluster = Cluster::up(dir.join("kube"));
    cluster.install_manifests();
    cluster.ok(&["create", "namespace", NS]);
    cluster.serve_namespace(NS);
    let password = create_secret(&cluster, &dir);
    let sa = service_account_kubeconfig(&cluster);
    cluster.apply(&plan().yaml());
    let _op = operator(&dir, &sa);
    let log = || std::fs::read_to_string(dir.join("operator.log")).unwrap_or_default();

    assert!(
        wait_until(Duration::from_secs(180), || ready_on(&cluster, "good")),
        "Ready on good: {}\noperator log:\n{}",
        selection(&cluster),
        log()
    );
    let mark = format!("krb-mark-{}", std::process::id());
    sql(&format!(
        "CREATE TABLE marks (v VARCHAR(64)); INSERT INTO marks VALUES ('{mark}')"
    ));
    let db = Database {
        id: inspect(&db_name(), "{{.Id}}"),
        mark,
    };

    let s = a_version_that_exits_is_rolled_back(&cluster, &db, &log);
    held_without_flapping(&cluster, &s, &log);
    a_version_that_never_gets_ready_is_rolled_back(&cluster, &db, &s, &log);
    a_fixed_plan_is_tried_again(&cluster, &db, &log);

    // The password reached MariaDB, and nothing anyone reads.
    let events = cluster.ok(&["get", "events", "-n", NS, "-o", "json"]);
    assert!(!selection(&cluster).to_string().contains(&password));
    assert!(!events.contains(&password), "the password is in no Event");
    assert!(!log().contains(&password), "the password is not logged");
}

/// Whether the selection's current generation reports Ready on `version`.
fn ready_on(c: &Cluster, version: &str) -> bool {
    let s = selection(c);
    s["status"]["activeVersion"] == version
        && s["status"]["observedGeneration"] == s["metadata"]["generation"]
        && ready_condition_of(&s)["status"] == "True"
}

fn switch_to(c: &Cluster, version: &str) {
    let patch = json!({"spec": {"activeVersion": version}}).to_string();
    c.ok(&[
        "patch", "vsel", SELECTION, "-n", NS, "--type", "merge", "-p", &patch,
    ]);
}

fn ready_message(s: &Value) -> String {
    ready_condition_of(s)["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// `exits`: back on good, and why (the status, an Event, the metric).
fn a_version_that_exits_is_rolled_back(
    c: &Cluster,
    db: &Database,
    log: &dyn Fn() -> String,
) -> Value {
    let good_before = started_at(&service("good"));
    switch_to(c, "exits");
    let s = rolled_back_from(c, "exits", log);
    let message = ready_message(&s);
    let exits = service("exits");
    for needle in [
        exits.as_str(),
        "exited with code 3",
        EXIT_LINE,
        "went back to good",
    ] {
        assert!(message.contains(needle), "{needle:?} in {message:?}");
    }
    back_on_good(&good_before, db);
    assert_eq!(inspect(&exits, "{{.State.Running}}"), "false");
    assert_eq!(inspect(&exits, "{{.State.ExitCode}}"), "3");
    assert!(
        wait_until(Duration::from_secs(30), || warning_event(c)),
        "a Warning Event RolledBack: {}",
        c.ok(&["get", "events", "-n", NS])
    );
    assert!(
        wait_until(Duration::from_secs(10), || rollbacks() == 1.0),
        "turnout_rollbacks_total is 1: {}",
        http_get(LISTEN, "/metrics")
    );
    s
}

/// A new generation asking for `hangs`: back on good by the deadline.
fn a_version_that_never_gets_ready_is_rolled_back(
    c: &Cluster,
    db: &Database,
    before: &Value,
    log: &dyn Fn() -> String,
) {
    let switches = before["status"]["history"].as_array().map_or(0, Vec::len);
    let good_before = started_at(&service("good"));
    switch_to(c, "hangs");
    let s = rolled_back_from(c, "hangs", log);
    let message = ready_message(&s);
    let hangs = service("hangs");
    for needle in [
        hangs.as_str(),
        "did not become ready within 5s",
        "was still running, not ready",
        "krb-hangs: up, not listening",
    ] {
        assert!(message.contains(needle), "{needle:?} in {message:?}");
    }
    assert_eq!(
        s["status"]["history"].as_array().map(Vec::len),
        Some(switches + 1),
        "one more switch: {s}"
    );
    back_on_good(&good_before, db);
    assert!(!is_running(&hangs), "{hangs} was stopped");
    assert!(
        wait_until(Duration::from_secs(10), || rollbacks() == 2.0),
        "turnout_rollbacks_total is 2: {}",
        http_get(LISTEN, "/metrics")
    );
}

/// The PortPlan fixed (`hangs` now listens), the selection untouched: a
/// new attempt, which succeeds.
fn a_fixed_plan_is_tried_again(c: &Cluster, db: &Database, log: &dyn Fn() -> String) {
    let generation = selection(c)["metadata"]["generation"].clone();
    let fixed = plan().edit(&service("hangs"), |h| {
        h.command(&["httpd", "-f", "-p", "8080", "-h", "/www"])
    });
    c.apply(&to_yaml(&[fixed.port_plan()]));
    assert!(
        wait_until(Duration::from_secs(60), || ready_on(c, "hangs")),
        "Ready on hangs once the plan was fixed: {}\noperator log:\n{}",
        selection(c),
        log()
    );
    let s = selection(c);
    assert_eq!(s["metadata"]["generation"], generation, "same selection");
    assert_eq!(s["status"]["lastSwitch"]["outcome"], "Succeeded", "{s}");
    let mut want = vec![db_name(), service("hangs")];
    want.sort();
    assert_eq!(running(PLAN), want);
    assert_eq!(
        inspect(&db_name(), "{{.Id}}"),
        db.id,
        "MariaDB not recreated"
    );
    assert_eq!(sql("SELECT v FROM marks"), db.mark);
    assert_eq!(rollbacks(), 2.0);
}

/// The failed spec is not tried again: ~15 s and a reconcile forced by an
/// annotation (no new generation) later, the switch record, the history,
/// the failed container and `good` are as they were.
fn held_without_flapping(c: &Cluster, rolled_back: &Value, log: &dyn Fn() -> String) {
    let exits = service("exits");
    let good = service("good");
    let (exits_started, good_started) = (started_at(&exits), started_at(&good));
    let since = reconciles(LISTEN);
    std::thread::sleep(Duration::from_secs(15));
    c.ok(&[
        "annotate",
        "vsel",
        SELECTION,
        "-n",
        NS,
        "--overwrite",
        "e2e.turnout.dev/poke=after-the-rollback",
    ]);
    assert!(
        reconciled_since(LISTEN, since, 1.0, Duration::from_secs(30)),
        "the operator looked at the selection again: {}",
        log()
    );
    let now = selection(c);
    assert_eq!(
        now["status"]["lastSwitch"], rolled_back["status"]["lastSwitch"],
        "no new switch: {now}"
    );
    assert_eq!(
        now["status"]["history"], rolled_back["status"]["history"],
        "{now}"
    );
    assert_eq!(ready_condition_of(&now)["reason"], "RolledBack", "{now}");
    assert_eq!(started_at(&exits), exits_started, "{exits} not restarted");
    assert!(!is_running(&exits));
    assert_eq!(started_at(&good), good_started, "{good} left running");
    assert_eq!(rollbacks(), 1.0, "no second rollback");
}
