//! End-to-end: the Docker engine restarts in the middle of a switch; the
//! standalone turnout reconnects and the host ends converged.
//!
//! This test stops and restarts the machine's dockerd (which stops every
//! container on it). It runs in the `docker-engine` test group, alone.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use turnout_e2e::*;

fn dockerd_pid() -> Option<u32> {
    std::fs::read_to_string("/var/run/docker.pid")
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn restart_engine() {
    let pid = dockerd_pid().expect("dockerd writes /var/run/docker.pid");
    let killed = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(killed.success(), "could not signal dockerd {pid}");
    assert!(
        wait_until(Duration::from_secs(60), || !Path::new(&format!(
            "/proc/{pid}"
        ))
        .exists()),
        "dockerd {pid} did not stop"
    );
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/ensure-docker.sh");
    let up = Command::new("bash")
        .arg(script)
        .stdout(Stdio::null())
        .status()
        .expect("run scripts/ensure-docker.sh");
    assert!(
        up.success(),
        "scripts/ensure-docker.sh brought the engine back"
    );
}

fn ready(status: &Path, version: &str) -> bool {
    let s: serde_json::Value = std::fs::read_to_string(status)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    s["status"]["activeVersion"] == version
        && s["status"]["conditions"].as_array().is_some_and(|c| {
            c.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

#[test]
fn an_engine_restart_mid_switch_ends_converged() {
    require_docker(&[BUSYBOX]);
    let (plan, base) = ("e2e-restart", 21600);
    let _cleanup = Cleanup(plan.to_string());
    remove_plan_containers(plan);
    let dir = temp_dir(plan);
    let (file, status) = (dir.join("desired.yaml"), dir.join("status.json"));
    std::fs::write(&file, demo_plan(plan, base, "future")).unwrap();
    let mut turnout = Command::new(turnout_bin())
        .args(["standalone", "--file"])
        .arg(&file)
        .arg("--state-dir")
        .arg(dir.join("state"))
        .arg("--status-file")
        .arg(&status)
        .args(["--listen", "127.0.0.1:21699", "--resync", "5"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(
        wait_until(Duration::from_secs(60), || ready(&status, "future")),
        "converged on future"
    );

    std::fs::write(&file, demo_plan(plan, base, "dao")).unwrap();
    let first_dao = format!("{plan}-dao-service-1");
    assert!(
        wait_until(Duration::from_secs(20), || {
            !is_running(&format!("{plan}-future-service-1")) || is_running(&first_dao)
        }),
        "the switch began"
    );
    restart_engine();

    let converged = wait_until(Duration::from_secs(120), || ready(&status, "dao"));
    let _ = turnout.kill();
    let _ = turnout.wait();
    assert!(converged, "converged on dao after the engine restart");
    assert_eq!(running(plan), expected_running(plan, "dao"));
    for port in version_ports(base, "dao") {
        assert!(port_answers(port), "dao port {port} answers");
    }
}
