//! End-to-end, standalone mode: a service of the active version that exits
//! after a few seconds is started again at once (the engine's `die` event,
//! settled until the engine agrees, not the periodic re-list); and after
//! the crash limit it is held, with CrashLoop, its exit code and log tail in
//! the status.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use turnout_e2e::*;

const PLAN: &str = "e2e-crash";
const BASE: u16 = 23400;

struct Turnout(Child);

impl Drop for Turnout {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn status_json(status: &Path) -> serde_json::Value {
    std::fs::read_to_string(status)
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or(serde_json::Value::Null)
}

fn condition(status: &Path, type_: &str) -> serde_json::Value {
    status_json(status)["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == type_).cloned())
        .unwrap_or_default()
}

/// The engine's own times of the container's last exit and start.
fn finished_and_started(name: &str) -> (jiff::Timestamp, jiff::Timestamp) {
    let out = docker(&[
        "inspect",
        "-f",
        "{{.State.FinishedAt}} {{.State.StartedAt}}",
        name,
    ]);
    let mut parts = out.split_whitespace().map(|t| {
        t.parse::<jiff::Timestamp>()
            .unwrap_or_else(|e| panic!("engine time {t}: {e}"))
    });
    let finished = parts.next().expect("FinishedAt");
    let started = parts.next().expect("StartedAt");
    (finished, started)
}

#[test]
fn a_crashed_service_is_restarted_at_once_and_a_crash_loop_is_held() {
    require_docker(&[BUSYBOX]);
    let _cleanup = Cleanup(PLAN.to_string());
    remove_plan_containers(PLAN);
    let dir = temp_dir(PLAN);
    let flaky = format!("{PLAN}-a-flaky");
    // Serves for 3 s, then exits 7 with a last word.
    let plan = PlanBuilder::new(PLAN)
        .infrastructure(httpd(&format!("{PLAN}-db")).port(BASE, 8080))
        .version("a", |v| {
            v.container(container(&flaky, BUSYBOX).command(&[
                "sh",
                "-c",
                "echo flaky: serving; sleep 3; echo flaky: lost the config; exit 7",
            ]))
        })
        .select("a");
    let file = dir.join("desired.yaml");
    std::fs::write(&file, plan.yaml()).expect("write the plan");
    let status = dir.join("status.json");
    let _turnout = Turnout(
        Command::new(turnout_bin())
            .args(["standalone", "--file"])
            .arg(&file)
            .arg("--state-dir")
            .arg(dir.join("state"))
            .arg("--status-file")
            .arg(&status)
            // The re-list is far away: only events can explain a fast restart.
            .args(["--listen", "127.0.0.1:23499", "--resync", "300"])
            .args(["--crash-restarts", "2", "--crash-window", "300"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("turnout.log")).expect("log"))
            .spawn()
            .expect("turnout starts"),
    );
    let log = || std::fs::read_to_string(dir.join("turnout.log")).unwrap_or_default();
    assert!(
        wait_until(Duration::from_secs(30), || is_running(&flaky)),
        "{flaky} runs: {}",
        log()
    );

    // Two crashes, each followed by a restart right away.
    for n in 1..=2 {
        let first = started_at(&flaky);
        let restarted = wait_until(Duration::from_secs(15), || {
            is_running(&flaky) && started_at(&flaky) != first
        });
        assert!(restarted, "crash {n}: {flaky} restarted\n{}", log());
        let (finished, started) = finished_and_started(&flaky);
        let gap = started.duration_since(finished);
        eprintln!("crash {n}: exit -> start again {gap:#}");
        assert!(
            gap < jiff::SignedDuration::from_secs(2),
            "crash {n}: restarted by the event, not the re-list: {gap:#}"
        );
    }

    // The third crash is over the limit: held, and said so.
    let held = wait_until(Duration::from_secs(20), || {
        condition(&status, "Ready")["reason"] == "CrashLoop"
    });
    assert!(held, "{}\n{}", status_json(&status), log());
    let degraded = condition(&status, "Degraded");
    assert_eq!(degraded["status"], "True", "{degraded}");
    let message = degraded["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("exit code 7") && message.contains("flaky: lost the config"),
        "{message}"
    );
    let last = started_at(&flaky);
    std::thread::sleep(Duration::from_secs(5));
    assert!(!is_running(&flaky), "held: not started again");
    assert_eq!(started_at(&flaky), last);
}
