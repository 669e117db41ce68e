//! Host benchmarks of turnout against the real Docker engine (docs/benchmarks.md):
//!
//! 1. a switch future -> dao, turnout vs the original script's docker CLI calls;
//! 2. drift correction latency of `turnout standalone`;
//! 3. a converged reconcile: engine calls and time;
//! 5. the idle standalone process: CPU and RSS;
//! 8. a switch with notification sinks that never answer or refuse, against none.
//!
//! (4, the pure core, is `cargo bench -p turnout --bench core`.)
//!
//! Nothing here asserts a time: each benchmark prints its figures and a
//! `RESULT ... MET|MISSED` line against its target. It does assert that the
//! host ends where it should (a wrong switch is not a fast one).
//!
//! Run with `make bench`, or `cargo bench -p turnout-e2e --bench host`
//! (release build; needs `target/release/turnout`, built if missing).
//! Knobs (environment): BENCH_ONLY=switch,drift,converged,idle,notify (default all),
//! BENCH_SWITCH_RUNS (5), BENCH_DRIFT_SAMPLES (30), BENCH_RECONCILES (50),
//! BENCH_IDLE_SECONDS (60; committed figures come from 60), BENCH_NOTIFY_RUNS (5).
//!
//! `operator-drift` (not in the default set: it starts a kube-apiserver
//! with scripts/kube-up.sh) measures drift correction under `turnout run`.
//!
//! Containers live under the plans bench-switch, bench-standalone,
//! bench-converged and bench-operator on host ports 22000-22399 (and
//! notif-bench on 25405-25449), and are removed at the end.

#[path = "host/converged.rs"]
mod converged;
#[path = "host/notify.rs"]
mod notify;
#[path = "host/operator.rs"]
mod operator;
#[path = "host/standalone.rs"]
mod standalone;
#[path = "host/support.rs"]
mod support;
#[path = "host/switch.rs"]
mod switch;

use std::process::Command;

use turnout_e2e::{BUSYBOX, require_docker};

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn sh(cmd: &str) -> String {
    Command::new("sh")
        .args(["-c", cmd])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn main() {
    // Only `cargo bench` passes `--bench`; `cargo test --benches` and the
    // like only check that this builds and starts.
    if !std::env::args().any(|a| a == "--bench") {
        println!(
            "host benchmarks: run with `cargo bench -p turnout-e2e --bench host` (or `make bench`)"
        );
        return;
    }
    require_docker(&[BUSYBOX]);
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let on = |name: &str| only.is_empty() || only.split(',').any(|s| s.trim() == name);
    let bin = support::turnout_release_bin();

    println!("turnout host benchmarks");
    println!("  date: {}", sh("date -u +%Y-%m-%dT%H:%M:%SZ"));
    println!(
        "  machine: nproc {}, {}, {}",
        sh("nproc"),
        sh("lscpu | sed -n 's/^Model name: *//p'"),
        sh("uname -sr")
    );
    println!(
        "  docker: {}",
        sh("docker version --format 'server {{.Server.Version}}, client {{.Client.Version}}'")
    );
    println!(
        "  load average at start: {}",
        sh("cut -d' ' -f1-3 /proc/loadavg")
    );
    println!("  turnout binary: {}", bin.display());

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    if on("switch") {
        switch::run(&rt, &bin, env_num("BENCH_SWITCH_RUNS", 5) as usize);
    }
    if on("converged") {
        converged::run(&rt, env_num("BENCH_RECONCILES", 50) as usize);
    }
    if on("idle") || on("drift") {
        standalone::run(
            &rt,
            &bin,
            env_num("BENCH_IDLE_SECONDS", 60),
            env_num("BENCH_DRIFT_SAMPLES", 30) as usize,
            on("idle"),
            on("drift"),
        );
    }
    if on("notify") {
        notify::run(&rt, env_num("BENCH_NOTIFY_RUNS", 5) as usize);
    }
    if only.split(',').any(|s| s.trim() == "operator-drift") {
        operator::run(&rt, &bin, env_num("BENCH_DRIFT_SAMPLES", 30) as usize);
    }
    println!(
        "\n  load average at end: {}",
        sh("cut -d' ' -f1-3 /proc/loadavg")
    );
}
