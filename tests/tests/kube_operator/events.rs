//! Engine events drive the operator: a container of an inactive version
//! started by hand is stopped, and a crashed container of the active
//! version is started again, within a second or two (not at the 60 s
//! requeue); a container that keeps dying is held after the crash limit,
//! with a CrashLoop condition and Event carrying its exit code and log.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use turnout_e2e::*;

use crate::cluster::{
    Cluster, Operator, in_default, object_json, ready_condition, ready_on,
    service_account_kubeconfig,
};

const PLAN: &str = "e2e-kevents";
const BASE: u16 = 28900;
const LISTEN: u16 = 28704;

fn operator(dir: &Path, sa: &Path) -> Operator {
    Operator(
        Command::new(turnout_bin())
            .args(["run", "--namespace", "default"])
            .args(["--selector", "turnout.dev/host=e2e-events"])
            .args(["--listen", &format!("127.0.0.1:{LISTEN}")])
            .args(["--crash-restarts", "3", "--crash-window", "300"])
            .arg("--state-dir")
            .arg(dir.join("state"))
            .arg("--data-dir")
            .arg(dir.join("data"))
            .env("KUBECONFIG", sa)
            .env("POD_NAMESPACE", "turnout-system")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("operator.log")).expect("log file"))
            .spawn()
            .expect("turnout run starts"),
    )
}

/// How long `f` took to become true, polled every 10 ms, at most `limit`.
fn time_until(limit: Duration, mut f: impl FnMut() -> bool) -> Option<Duration> {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if f() {
            return Some(t0.elapsed());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[test]
fn engine_events_put_drift_and_crashes_right_under_the_operator() {
    require_docker(&[BUSYBOX]);
    let _cleanup = Cleanup(PLAN.to_string());
    remove_plan_containers(PLAN);
    let dir = temp_dir(PLAN);
    let cluster = Cluster::up(dir.join("kube"));
    cluster.install_manifests();
    let sa = service_account_kubeconfig(&cluster);
    let plan = in_default(demo(PLAN, BASE), "events", "future", "e2e-events");
    cluster.apply(&plan.yaml());
    let _op = operator(&dir, &sa);
    let log = || std::fs::read_to_string(dir.join("operator.log")).unwrap_or_default();
    assert!(
        wait_until(Duration::from_secs(90), || ready_on(
            &cluster, "events", "future"
        )),
        "Ready on future: {}\n{}",
        object_json(&cluster, "vsel", "events"),
        log()
    );

    // Through dao and back, so dao's containers exist (stopped).
    for v in ["dao", "future"] {
        cluster.patch_spec("events", &format!(r#"{{"activeVersion":"{v}"}}"#));
        assert!(
            wait_until(Duration::from_secs(60), || ready_on(&cluster, "events", v)),
            "Ready on {v}: {}",
            object_json(&cluster, "vsel", "events")
        );
    }

    // An inactive version's container started by hand: stopped again within 2 s.
    let inactive = format!("{PLAN}-dao-service-1");
    let mut undone = Vec::new();
    for i in 0..5 {
        docker(&["start", &inactive]);
        let took = time_until(Duration::from_secs(30), || !is_running(&inactive));
        let took = took.unwrap_or_else(|| panic!("sample {i}: {inactive} still runs\n{}", log()));
        undone.push(took);
        std::thread::sleep(Duration::from_millis(300));
    }
    undone.sort();
    eprintln!(
        "docker start of an inactive container undone: p50 {:?}, max {:?} (5 samples; CLI start included)",
        percentile(&undone, 0.5),
        undone[undone.len() - 1]
    );
    assert!(
        undone.iter().all(|t| *t < Duration::from_secs(2)),
        "every sample within 2 s: {undone:?}"
    );

    // A crash of the active version's container (SIGKILL, as the OOM killer
    // would): started again at once, not at the next requeue.
    let active = format!("{PLAN}-future-service-1");
    let before = started_at(&active);
    docker(&["kill", "-s", "KILL", &active]);
    let back = time_until(Duration::from_secs(20), || {
        is_running(&active) && started_at(&active) != before
    });
    let back = back.unwrap_or_else(|| panic!("{active} was not restarted\n{}", log()));
    eprintln!("a crashed container was running again after {back:?}");
    assert!(back < Duration::from_secs(5), "{back:?}");

    // A container that exits at once: held after 3 restarts, CrashLoop.
    let flaky = format!("{PLAN}-flaky");
    let with_flaky = plan
        .clone()
        .infrastructure(container(&flaky, BUSYBOX).command(&[
            "sh",
            "-c",
            "echo flaky: no config file; exit 3",
        ]));
    cluster.apply(&with_flaky.yaml());
    let held = wait_until(Duration::from_secs(90), || {
        ready_condition(&cluster, "events")["reason"] == "CrashLoop"
    });
    let ready = ready_condition(&cluster, "events");
    assert!(held, "CrashLoop reported: {ready}\n{}", log());
    let message = ready["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&flaky)
            && message.contains("exit code 3")
            && message.contains("flaky: no config file"),
        "{message}"
    );
    let degraded = object_json(&cluster, "vsel", "events")["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Degraded").cloned())
        .unwrap_or_default();
    assert_eq!(degraded["status"], "True", "{degraded}");
    let events = cluster.ok(&["get", "events", "-n", "default"]);
    assert!(events.contains("CrashLoop"), "an Event says so: {events}");
    // Held: it is not started again.
    let stopped_at = started_at(&flaky);
    std::thread::sleep(Duration::from_secs(8));
    assert_eq!(started_at(&flaky), stopped_at, "no restart once held");
    assert!(!is_running(&flaky));
}
