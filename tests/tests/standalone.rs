//! End-to-end: the `turnout` binary in standalone mode and one-shot `apply`,
//! against the real Docker engine.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use turnout_e2e::*;

struct Turnout(Child);

impl Drop for Turnout {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn standalone(file: &Path, state: &Path, status: &Path, listen: u16) -> Turnout {
    let child = Command::new(turnout_bin())
        .args(["standalone", "--file"])
        .arg(file)
        .arg("--state-dir")
        .arg(state)
        .arg("--status-file")
        .arg(status)
        .args(["--listen", &format!("127.0.0.1:{listen}"), "--resync", "5"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("turnout starts");
    Turnout(child)
}

fn status_json(status: &Path) -> serde_json::Value {
    std::fs::read_to_string(status)
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or(serde_json::Value::Null)
}

fn ready(status: &Path, version: &str) -> bool {
    let s = status_json(status);
    s["status"]["activeVersion"] == version
        && s["status"]["conditions"].as_array().is_some_and(|c| {
            c.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

fn write(path: &PathBuf, text: &str) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, text).expect("write desired file");
    std::fs::rename(&tmp, path).expect("replace desired file");
}

#[test]
fn standalone_follows_edits_ignores_bad_ones_and_corrects_drift() {
    require_docker(&[BUSYBOX]);
    let (plan, base) = ("e2e-standalone", 21300);
    let _cleanup = Cleanup(plan.to_string());
    remove_plan_containers(plan);
    let dir = temp_dir(plan);
    let (file, status) = (dir.join("desired.yaml"), dir.join("status.json"));
    write(&file, &demo_plan(plan, base, "future"));
    let _t = standalone(&file, &dir.join("state"), &status, 21399);

    assert!(
        wait_until(Duration::from_secs(60), || ready(&status, "future")),
        "converged on future: {}",
        status_json(&status)
    );
    assert_eq!(running(plan), expected_running(plan, "future"));

    // Editing activeVersion switches the host.
    write(&file, &demo_plan(plan, base, "dao"));
    assert!(
        wait_until(Duration::from_secs(60), || ready(&status, "dao")),
        "switched to dao: {}",
        status_json(&status)
    );
    assert_eq!(running(plan), expected_running(plan, "dao"));

    // Drift: an inactive version's container started by hand is stopped again.
    let stray = format!("{plan}-future-service-1");
    docker(&["start", &stray]);
    assert!(
        wait_until(Duration::from_secs(10), || !is_running(&stray)),
        "drift was corrected"
    );

    // A stopped database is brought back.
    let db = format!("{plan}-db");
    docker(&["stop", "-t", "1", &db]);
    assert!(
        wait_until(Duration::from_secs(15), || is_running(&db)),
        "the database was restarted"
    );

    // A removed service container is recreated.
    let svc = format!("{plan}-dao-service-2");
    docker(&["rm", "-f", &svc]);
    assert!(
        wait_until(Duration::from_secs(15), || is_running(&svc)),
        "the service was recreated"
    );
    assert!(wait_until(Duration::from_secs(30), || ready(
        &status, "dao"
    )));

    // An edit that does not validate is reported and ignored; the host stays.
    let before = started_at(&format!("{plan}-dao-service-1"));
    write(&file, &demo_plan(plan, base, "nonexistent"));
    assert!(
        wait_until(Duration::from_secs(15), || {
            status_json(&status)["fileError"]
                .as_str()
                .is_some_and(|e| e.contains("nonexistent"))
        }),
        "the bad edit is reported: {}",
        status_json(&status)
    );
    // A reconcile after the bad edit (the resync, on the last good state).
    let since = reconciles(21399);
    assert!(
        reconciled_since(21399, since, 1.0, Duration::from_secs(15)),
        "turnout reconciles on after a bad edit: {} after {since}",
        reconciles(21399)
    );
    assert_eq!(running(plan), expected_running(plan, "dao"));
    assert_eq!(
        started_at(&format!("{plan}-dao-service-1")),
        before,
        "nothing was restarted"
    );

    // The HTTP endpoint serves status and metrics.
    let out = Command::new(turnout_bin())
        .args(["status", "--addr", "127.0.0.1:21399", "-o", "json"])
        .output()
        .unwrap();
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).expect("status JSON");
    assert_eq!(s["status"]["activeVersion"], "dao");

    // A converged host stays quiet: turnout's own reads of the file do not
    // trigger reloads, so only the resync (every 5 s here) reconciles.
    // (The sleep is the measuring window of a rate, not a wait for an event.)
    let before = reconciles(21399);
    std::thread::sleep(Duration::from_secs(6));
    let after = reconciles(21399);
    assert!(
        after - before <= 3.0,
        "{} reconciles in 6 s on a converged host",
        after - before
    );
}

#[test]
fn a_second_turnout_waits_for_the_host_lock() {
    require_docker(&[BUSYBOX]);
    let (plan, base) = ("e2e-lock", 21400);
    let _cleanup = Cleanup(plan.to_string());
    remove_plan_containers(plan);
    let dir = temp_dir(plan);
    let (file, status, state) = (
        dir.join("desired.yaml"),
        dir.join("status.json"),
        dir.join("state"),
    );
    write(&file, &demo_plan(plan, base, "future"));
    let first = standalone(&file, &state, &status, 21499);
    assert!(wait_until(Duration::from_secs(60), || ready(
        &status, "future"
    )));

    let other = dir.join("other.yaml");
    write(&other, &demo_plan(plan, base, "dao"));
    let mut second = Command::new(turnout_bin())
        .arg("apply")
        .arg(&other)
        .arg("--state-dir")
        .arg(&state)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Its stderr, as it comes: it says when it starts waiting for the lock.
    let said = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let reader = {
        let said = said.clone();
        let mut stderr = second.stderr.take().expect("piped stderr");
        std::thread::spawn(move || {
            use std::io::Read;
            let mut chunk = [0u8; 4096];
            while let Ok(n @ 1..) = stderr.read(&mut chunk) {
                let text = String::from_utf8_lossy(&chunk[..n]);
                said.lock().expect("stderr buffer").push_str(&text);
            }
        })
    };
    let stderr = || said.lock().expect("stderr buffer").clone();
    assert!(
        wait_until(Duration::from_secs(15), || stderr().contains("host lock")),
        "the second turnout reached the lock: {}",
        stderr()
    );
    assert!(
        second.try_wait().unwrap().is_none(),
        "the second turnout waits while the first holds the lock"
    );
    assert_eq!(
        running(plan),
        expected_running(plan, "future"),
        "and changes nothing meanwhile"
    );

    drop(first);
    let exit = second.wait().unwrap();
    reader.join().expect("the stderr reader");
    let stderr = stderr();
    assert!(
        stderr.contains("waiting") && stderr.contains("host lock"),
        "it said why it waited: {stderr}"
    );
    assert!(exit.success(), "then it applied: {stderr}");
    assert_eq!(running(plan), expected_running(plan, "dao"));
}

#[test]
fn turnout_killed_mid_switch_converges_when_restarted() {
    require_docker(&[BUSYBOX]);
    let (plan, base) = ("e2e-kill", 21500);
    let _cleanup = Cleanup(plan.to_string());
    remove_plan_containers(plan);
    let dir = temp_dir(plan);
    let (future, dao, state) = (
        dir.join("future.yaml"),
        dir.join("dao.yaml"),
        dir.join("state"),
    );
    write(&future, &demo_plan(plan, base, "future"));
    write(&dao, &demo_plan(plan, base, "dao"));
    let apply = |f: &PathBuf| {
        Command::new(turnout_bin())
            .arg("apply")
            .arg(f)
            .arg("--state-dir")
            .arg(&state)
            .output()
            .unwrap()
    };
    assert!(apply(&future).status.success());

    for delay_ms in [150, 400, 900] {
        let target = if running(plan).iter().any(|n| n.contains("-dao-")) {
            &future
        } else {
            &dao
        };
        let mut child = Command::new(turnout_bin())
            .arg("apply")
            .arg(target)
            .arg("--state-dir")
            .arg(&state)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let out = apply(target);
        assert!(
            out.status.success(),
            "restarted turnout converged: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let version = if target == &dao { "dao" } else { "future" };
        assert_eq!(
            running(plan),
            expected_running(plan, version),
            "after a kill at {delay_ms} ms"
        );
    }
}

#[test]
fn sigterm_stops_between_actions_and_a_restart_finishes_the_switch() {
    require_docker(&[BUSYBOX]);
    let (plan, base) = ("e2e-sigterm", 21800);
    let _cleanup = Cleanup(plan.to_string());
    remove_plan_containers(plan);
    let dir = temp_dir(plan);
    // future's first service ignores SIGTERM, so stopping it takes its full 3 s timeout.
    let stubborn = |active: &str| {
        demo(plan, base)
            .edit(&format!("{plan}-future-service-1"), ignoring_sigterm)
            .select(active)
            .yaml()
    };
    let (file, status, state) = (
        dir.join("desired.yaml"),
        dir.join("status.json"),
        dir.join("state"),
    );
    write(&file, &stubborn("future"));
    let mut first = standalone(&file, &state, &status, 21899);
    assert!(wait_until(Duration::from_secs(60), || ready(
        &status, "future"
    )));

    write(&file, &stubborn("dao"));
    let stubborn_name = format!("{plan}-future-service-1");
    // Wait until the switch is stopping future (its quick containers are already down).
    assert!(wait_until(Duration::from_secs(20), || !is_running(
        &format!("{plan}-future-service-2")
    )));
    let t0 = std::time::Instant::now();
    Command::new("kill")
        .args(["-TERM", &first.0.id().to_string()])
        .status()
        .unwrap();
    let exited = wait_until(Duration::from_secs(15), || {
        first.0.try_wait().unwrap().is_some()
    });
    assert!(exited, "turnout exited after SIGTERM");
    assert!(
        first.0.try_wait().unwrap().unwrap().success(),
        "a clean exit"
    );
    assert!(
        t0.elapsed() < Duration::from_secs(10),
        "it finished the current action and stopped"
    );
    assert!(
        !is_running(&stubborn_name),
        "the action under way (the stop) was finished"
    );
    assert!(
        !is_running(&format!("{plan}-dao-service-1")),
        "no new action began after the signal"
    );

    let _second = standalone(&file, &state, &status, 21899);
    assert!(
        wait_until(Duration::from_secs(60), || ready(&status, "dao")),
        "a restart finishes the switch"
    );
    assert_eq!(running(plan), expected_running(plan, "dao"));
}
