//! End-to-end, on the real engine: a switch whose new version does not
//! come up goes back by itself (standalone mode, a real MariaDB in the
//! stack, the switch's data copy included), and the switch strategies
//! `Pause` (warm standby) and `Overlap`.
//!
//! Host ports 25500-25599.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use turnout_e2e::*;

struct Turnout(Child);

impl Drop for Turnout {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn standalone(file: &Path, dir: &Path, listen: u16) -> Turnout {
    let child = Command::new(turnout_bin())
        .args(["standalone", "--file"])
        .arg(file)
        .arg("--state-dir")
        .arg(dir.join("state"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--status-file")
        .arg(dir.join("status.json"))
        .args(["--listen", &format!("127.0.0.1:{listen}"), "--resync", "3"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("turnout starts");
    Turnout(child)
}

fn status(dir: &Path) -> Value {
    std::fs::read_to_string(dir.join("status.json"))
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or(Value::Null)
}

fn ready_condition(s: &Value) -> Value {
    s["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "Ready").cloned())
        .unwrap_or(Value::Null)
}

fn write(path: &PathBuf, text: &str) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, text).expect("write desired file");
    std::fs::rename(&tmp, path).expect("replace desired file");
}

fn inspect(name: &str, format: &str) -> String {
    docker(&["inspect", "-f", format, name])
}

const RB: &str = "e2e-rollback";
const RB_DB: &str = "e2e-rollback-mariadb";

/// MariaDB, and versions `good` (a web service, its data `main` in
/// database e2erb_good), `exits` (a service that prints a line and exits
/// with code 3, its data in e2erb_exits) and `hangs` (runs, never
/// listens); rollback after 6 s.
fn rollback_plan(password: &Path, active: &str) -> String {
    let server = MARIADB.container(RB_DB, 25506, "e2e-rollback-data", "db-root", password);
    // An exec probe: a tcp probe of the published port would be answered
    // by the engine's port proxy whether or not the service listens.
    let service = |v: &str, port: u16| {
        container(&format!("{RB}-{v}-service"), BUSYBOX)
            .port_in(port, 8080, "services")
            .readiness(
                Probe::exec(&["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"])
                    .timeout(60),
            )
    };
    PlanBuilder::new(RB)
        .set(
            "rollback",
            json!({"enabled": true, "progressDeadlineSeconds": 6}),
        )
        .infrastructure(server.admin_secret("db-root"))
        .version("good", |v| {
            v.range("services", 25511, 25511)
                .container(
                    service("good", 25511).command(&["httpd", "-f", "-p", "8080", "-h", "/www"]),
                )
                .database("main", RB_DB, "e2erb_good")
        })
        .version("exits", |v| {
            v.range("services", 25512, 25512)
                .container(service("exits", 25512).command(&[
                    "sh",
                    "-c",
                    "echo 'fatal: cannot reach the payment gateway'; exit 3",
                ]))
                .database("main", RB_DB, "e2erb_exits")
        })
        .version("hangs", |v| {
            v.range("services", 25513, 25513)
                .container(service("hangs", 25513).command(&["sleep", "3600"]))
        })
        .select(active)
        .yaml()
}

fn wait_rolled_back(dir: &Path, failed: &str) -> Value {
    let mut last = Value::Null;
    let ok = wait_until(Duration::from_secs(180), || {
        last = status(dir);
        ready_condition(&last)["reason"] == "RolledBack"
            && last["status"]["lastSwitch"]["to"] == failed
    });
    assert!(ok, "no rollback from {failed}; status: {last:#}");
    last
}

#[test]
fn a_switch_that_does_not_come_up_goes_back_by_itself_and_stays_back() {
    require_docker(&[BUSYBOX, MARIADB.image]);
    remove_plan_containers(RB);
    let _cleanup = Cleanup(RB.to_string());
    let dir = temp_dir("rollback");
    let password = dir.join("db-root");
    std::fs::write(&password, "rollback-Pw-7e11").expect("password file");
    let file = dir.join("desired.yaml");
    write(&file, &rollback_plan(&password, "good"));
    let _t = standalone(&file, &dir, 25599);
    let up = wait_until(Duration::from_secs(240), || {
        let s = status(&dir);
        s["status"]["activeVersion"] == "good" && ready_condition(&s)["status"] == "True"
    });
    assert!(up, "never converged on good: {:#}", status(&dir));
    mariadb_on(
        None,
        RB_DB,
        "DROP DATABASE IF EXISTS e2erb_exits; CREATE DATABASE IF NOT EXISTS e2erb_good; \
         CREATE TABLE IF NOT EXISTS e2erb_good.orders (id INT PRIMARY KEY, what VARCHAR(40)); \
         REPLACE INTO e2erb_good.orders VALUES (1, 'kept'), (2, 'also kept');",
    );
    let db_id = inspect(RB_DB, "{{.Id}}");

    // The new version's service exits at once: back to good, with the why.
    write(&file, &rollback_plan(&password, "exits"));
    let s = wait_rolled_back(&dir, "exits");
    let ready = ready_condition(&s);
    assert_eq!(ready["status"], "False");
    let message = ready["message"].as_str().unwrap_or_default();
    for needle in [
        "e2e-rollback-exits-service",
        "exited with code 3",
        "fatal: cannot reach the payment gateway",
        "went back to good",
        "only read the data of good, which is intact",
        "DataSync",
    ] {
        assert!(message.contains(needle), "{needle:?} not in {message}");
    }
    let last = &s["status"]["lastSwitch"];
    assert_eq!(last["outcome"], "RolledBack");
    assert_eq!(last["from"], "good");
    assert!(last["phases"]["rollbackMs"].as_u64().is_some(), "{last:#}");
    assert_eq!(s["status"]["activeVersion"], "good");
    assert_eq!(
        s["desiredVersion"], "exits",
        "the file still asks for exits"
    );
    assert!(is_running(&format!("{RB}-good-service")));
    assert!(port_answers(25511), "good serves again");
    // The database was never stopped and its data is as it was.
    assert_eq!(inspect(RB_DB, "{{.Id}}"), db_id);
    assert_eq!(
        mariadb_on(
            None,
            RB_DB,
            "SELECT what FROM e2erb_good.orders ORDER BY id"
        ),
        "kept\nalso kept"
    );
    let metrics = http_get(25599, "/metrics");
    assert_eq!(
        metric_sum(&metrics, "turnout_rollbacks_total"),
        1.0,
        "{metrics}"
    );

    // The same file again and again: no new attempt (no flapping).
    let history = s["status"]["history"].as_array().map(Vec::len);
    let exited_at = inspect(&format!("{RB}-exits-service"), "{{.State.StartedAt}}");
    let since = reconciles(25599);
    assert!(
        reconciled_since(25599, since, 3.0, Duration::from_secs(30)),
        "turnout kept reconciling"
    );
    let s = status(&dir);
    assert_eq!(s["status"]["history"].as_array().map(Vec::len), history);
    assert_eq!(ready_condition(&s)["reason"], "RolledBack");
    assert_eq!(
        inspect(&format!("{RB}-exits-service"), "{{.State.StartedAt}}"),
        exited_at,
        "the failed service was not started again"
    );

    // An edit is a new attempt: a version that never gets ready goes back by the deadline.
    write(&file, &rollback_plan(&password, "hangs"));
    let s = wait_rolled_back(&dir, "hangs");
    let message = ready_condition(&s)["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        message.contains("e2e-rollback-hangs-service") && message.contains("within 6s"),
        "{message}"
    );
    assert!(message.contains("No data was copied"), "{message}");
    assert!(!is_running(&format!("{RB}-hangs-service")));
    assert!(port_answers(25511));
    let metrics = http_get(25599, "/metrics");
    assert_eq!(metric_sum(&metrics, "turnout_rollbacks_total"), 2.0);

    // Asking for the running version again clears the hold: Ready.
    write(&file, &rollback_plan(&password, "good"));
    let ok = wait_until(Duration::from_secs(60), || {
        ready_condition(&status(&dir))["status"] == "True"
    });
    assert!(ok, "{:#}", status(&dir));
}

/// Versions blue and green, three web services each on their own ports
/// (base+1.., base+11..), switched with `strategy`.
fn three_services(plan: &str, base: u16, strategy: &str, active: &str) -> String {
    let mut p = PlanBuilder::new(plan).set("switchStrategy", json!(strategy));
    for (v, off) in [("blue", 1), ("green", 11)] {
        p = p.version(v, |mut ver| {
            ver = ver.range("services", base + off, base + off + 2);
            for i in 0..3 {
                let port = base + off + i;
                ver = ver.container(
                    httpd(&format!("{plan}-{v}-{i}"))
                        .port_in(port, 8080, "services")
                        .readiness(Probe::tcp(8080).timeout(20)),
                );
            }
            ver
        });
    }
    p.select(active).yaml()
}

fn states(plan: &str, version: &str) -> Vec<String> {
    (0..3)
        .map(|i| inspect(&format!("{plan}-{version}-{i}"), "{{.State.Status}}"))
        .collect()
}

#[test]
fn pause_keeps_the_other_version_frozen_and_switches_by_thawing_it() {
    require_docker(&[BUSYBOX]);
    let plan = "e2e-pause";
    remove_plan_containers(plan);
    let _cleanup = Cleanup(plan.to_string());
    let dir = temp_dir("pause");
    let (data, state) = (dir.join("data"), dir.join("state"));
    let file = dir.join("desired.yaml");
    write(&file, &three_services(plan, 25520, "Pause", "blue"));
    apply_file(&file, &data, &state);
    assert_eq!(states(plan, "blue"), ["running"; 3]);
    assert_eq!(states(plan, "green"), ["paused"; 3], "green kept warm");
    assert!((25521..=25523).all(port_answers));

    // `turnout plan` states what the warm standby costs.
    write(&file, &three_services(plan, 25520, "Pause", "green"));
    let plan_of = |format: &str| {
        Command::new(turnout_bin())
            .args(["plan", "-o", format])
            .arg(&file)
            .output()
            .expect("turnout plan runs")
    };
    let out = plan_of("table");
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("Warm standby (switchStrategy Pause): version(s) blue")
            && text.contains("MiB of memory now"),
        "{text}"
    );
    let has = |action: &str, container: &str| {
        text.lines().any(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            words.get(2) == Some(&action) && words.get(3) == Some(&container)
        })
    };
    for i in 0..3 {
        assert!(has("unpause", &format!("{plan}-green-{i}")), "{text}");
        assert!(has("pause", &format!("{plan}-blue-{i}")), "{text}");
    }
    let json_out = plan_of("json");
    let view: Value = serde_json::from_slice(&json_out.stdout).expect("plan -o json");
    assert_eq!(view["switchStrategy"], "Pause");
    assert!(
        view["standby"]["memoryBytes"]
            .as_u64()
            .is_some_and(|b| b > 0),
        "{view:#}"
    );

    let started: Vec<String> = (0..3)
        .map(|i| inspect(&format!("{plan}-green-{i}"), "{{.State.StartedAt}}"))
        .collect();
    apply_file(&file, &data, &state);
    assert_eq!(states(plan, "green"), ["running"; 3]);
    assert_eq!(states(plan, "blue"), ["paused"; 3]);
    assert!((25531..=25533).all(port_answers));
    // Thawed, not restarted: the same process as before the switch.
    let after: Vec<String> = (0..3)
        .map(|i| inspect(&format!("{plan}-green-{i}"), "{{.State.StartedAt}}"))
        .collect();
    assert_eq!(started, after);

    // A paused version thawed by hand is drift: frozen again.
    docker(&["unpause", &format!("{plan}-blue-1")]);
    apply_file(&file, &data, &state);
    assert_eq!(states(plan, "blue"), ["paused"; 3]);
}

#[test]
fn overlap_switches_with_both_versions_moving_at_once() {
    require_docker(&[BUSYBOX]);
    let plan = "e2e-overlap";
    remove_plan_containers(plan);
    let _cleanup = Cleanup(plan.to_string());
    let dir = temp_dir("overlap");
    let (data, state) = (dir.join("data"), dir.join("state"));
    let file = dir.join("desired.yaml");
    write(&file, &three_services(plan, 25540, "Overlap", "blue"));
    apply_file(&file, &data, &state);
    assert_eq!(states(plan, "blue"), ["running"; 3]);
    write(&file, &three_services(plan, 25540, "Overlap", "green"));
    apply_file(&file, &data, &state);
    assert_eq!(states(plan, "green"), ["running"; 3]);
    assert_eq!(states(plan, "blue"), ["exited"; 3]);
    assert!((25551..=25553).all(port_answers));
    assert!(!(25541..=25543).any(port_answers));

    // Versions that share a port cannot overlap: refused before anything moves.
    let shared = three_services(plan, 25540, "Overlap", "blue").replace("25551", "25541");
    write(&file, &shared);
    let out = turnout_on(&["apply"], &file, &data, &state);
    let text = output_text(&out);
    assert!(!out.status.success());
    assert!(text.contains("switchStrategy Overlap"), "{text}");
    assert_eq!(states(plan, "green"), ["running"; 3], "nothing moved");
}

#[test]
fn a_one_shot_apply_whose_switch_rolls_back_fails_and_says_so() {
    require_docker(&[BUSYBOX]);
    let plan = "e2e-rollback-apply";
    remove_plan_containers(plan);
    let _cleanup = Cleanup(plan.to_string());
    let dir = temp_dir("rollback-apply");
    let (data, state) = (dir.join("data"), dir.join("state"));
    let file = dir.join("desired.yaml");
    let yaml = |active: &str| {
        PlanBuilder::new(plan)
            .set("rollback", json!({"progressDeadlineSeconds": 10}))
            .version("ok", |v| {
                v.range("services", 25561, 25561).container(
                    httpd(&format!("{plan}-ok"))
                        .port_in(25561, 8080, "services")
                        .readiness(Probe::http(8080).timeout(20)),
                )
            })
            .version("broken", |v| {
                v.range("services", 25562, 25562).container(
                    container(&format!("{plan}-broken"), BUSYBOX)
                        .command(&["sh", "-c", "echo 'broken: missing config'; exit 2"])
                        .port_in(25562, 8080, "services")
                        .readiness(Probe::http(8080).timeout(20)),
                )
            })
            .select(active)
            .yaml()
    };
    write(&file, &yaml("ok"));
    apply_file(&file, &data, &state);
    write(&file, &yaml("broken"));
    let out = turnout_on(&["apply"], &file, &data, &state);
    let text = output_text(&out);
    assert!(
        !out.status.success(),
        "a rolled-back switch is a failure: {text}"
    );
    assert!(
        text.contains("rolled back: version broken did not come up"),
        "{text}"
    );
    assert!(
        text.contains("exited with code 2") && text.contains("broken: missing config"),
        "{text}"
    );
    assert!(is_running(&format!("{plan}-ok")) && port_answers(25561));
    // The same file again: held, nothing tried, still a failure.
    let started = inspect(&format!("{plan}-broken"), "{{.State.StartedAt}}");
    let again = turnout_on(&["apply"], &file, &data, &state);
    assert!(!again.status.success());
    assert!(
        output_text(&again).contains("(RolledBack)"),
        "{}",
        output_text(&again)
    );
    assert_eq!(
        inspect(&format!("{plan}-broken"), "{{.State.StartedAt}}"),
        started
    );
}
