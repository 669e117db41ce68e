//! Benchmarks 5 and 2 on one `turnout standalone` process (release build):
//! first its idle cost on a converged host (CPU and RSS from /proc over
//! `idle_secs`), then drift correction: an inactive version's container is
//! started out of band, again and again, and the time until it dies is read
//! from the engine's own event timestamps (`docker events`).
//!
//! Drift latency is split per sample into
//! - reaction: engine `start` -> engine `kill` (turnout saw the event,
//!   reconciled, and asked for the stop), and
//! - the container's own stop: `kill` -> `die`.
//!
//! The bare `docker stop` of the same container is measured too, before
//! turnout runs, as the brief asks ("minus the container's own stop time").

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;
use turnout_e2e::{
    Cleanup, demo_plan, docker, expected_running, remove_plan_containers, running, wait_until,
};

use crate::support::{
    Events, bench_dir, clock_ticks, cpu_ticks, http_get, list, median, metric, ms, ns_to_ms,
    percentile, status_kb, verdict, write_file,
};
use crate::switch::{converge, reconciler};

const PLAN: &str = "bench-standalone";
const BASE: u16 = 22100;
const LISTEN: u16 = 22199;

/// The standalone process; stopped with SIGTERM (then killed) when dropped.
struct Standalone(Child);

impl Drop for Standalone {
    fn drop(&mut self) {
        let pid = self.0.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let ok = wait_until(Duration::from_secs(10), || {
            matches!(self.0.try_wait(), Ok(Some(_)))
        });
        if !ok {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

fn ready_on(status: &Path, version: &str) -> bool {
    let Some(s) = std::fs::read_to_string(status)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
    else {
        return false;
    };
    s["status"]["activeVersion"] == version
        && s["status"]["conditions"].as_array().is_some_and(|c| {
            c.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

fn metrics() -> String {
    http_get(LISTEN, "/metrics").unwrap_or_default()
}

/// Bare `docker stop` of `name` shortly after a hand start, `n` times:
/// (CLI wall time, engine kill -> die), in ms.
pub fn bare_stop(name: &str, events: &Events, n: usize) -> (Vec<f64>, Vec<f64>) {
    let (mut wall, mut engine) = (Vec::new(), Vec::new());
    for _ in 0..n {
        docker(&["start", name]);
        std::thread::sleep(Duration::from_millis(100));
        events.drain();
        let t0 = Instant::now();
        docker(&["stop", name]);
        wall.push(ms(t0.elapsed()));
        let kill = events.wait_for("kill", Duration::from_secs(5));
        let die = events.wait_for("die", Duration::from_secs(5));
        if let (Some(k), Some(d)) = (kill, die) {
            engine.push(ns_to_ms(d - k));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    (wall, engine)
}

pub fn run(rt: &Runtime, bin: &Path, idle_secs: u64, samples: usize, idle: bool, drift: bool) {
    println!(
        "\n== 5/2. standalone (release binary): idle {idle_secs} s, then {samples} drift corrections"
    );
    remove_plan_containers(PLAN);
    let _cleanup = Cleanup(PLAN.to_string());
    let dir = bench_dir(PLAN);
    let (file, status) = (dir.join("desired.yaml"), dir.join("status.json"));
    let future = demo_plan(PLAN, BASE, "future");
    write_file(&file, &future);
    // dao's containers must exist to be started by hand: switch once, then back.
    let r = reconciler(rt, &dir);
    for v in ["dao", "future"] {
        converge(rt, &r, &demo_plan(PLAN, BASE, v));
    }
    let victim = format!("{PLAN}-dao-service-1");
    let events = Events::follow(&victim);
    let (bare_wall, bare_engine) = if drift {
        bare_stop(&victim, &events, 10)
    } else {
        (Vec::new(), Vec::new())
    };

    let log = std::fs::File::create(dir.join("turnout.log")).expect("log file");
    let child = Command::new(bin)
        .args(["standalone", "--file"])
        .arg(&file)
        .arg("--state-dir")
        .arg(dir.join("state"))
        .arg("--status-file")
        .arg(&status)
        .args(["--listen", &format!("127.0.0.1:{LISTEN}")])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("turnout standalone starts");
    let pid = child.id();
    let standalone = Standalone(child);
    assert!(
        wait_until(Duration::from_secs(60), || ready_on(&status, "future")),
        "standalone reports Ready on future; see {}",
        dir.join("turnout.log").display()
    );
    assert_eq!(running(PLAN), expected_running(PLAN, "future"));

    if idle {
        // Let start-up settle (first reconcile, readiness probes, allocator).
        std::thread::sleep(Duration::from_secs(5));
        let hz = clock_ticks() as f64;
        let m0 = metrics();
        let (c0, rss0, t0) = (
            cpu_ticks(pid).expect("stat"),
            status_kb(pid, "VmRSS").expect("rss"),
            Instant::now(),
        );
        std::thread::sleep(Duration::from_secs(idle_secs));
        let (c1, rss1, secs) = (
            cpu_ticks(pid).expect("stat"),
            status_kb(pid, "VmRSS").expect("rss"),
            t0.elapsed().as_secs_f64(),
        );
        let hwm = status_kb(pid, "VmHWM").unwrap_or(0);
        let m1 = metrics();
        let cpu = (c1 - c0) as f64 / hz / secs * 100.0;
        let reconciles =
            metric(&m1, "turnout_reconciles_total") - metric(&m0, "turnout_reconciles_total");
        assert_eq!(
            running(PLAN),
            expected_running(PLAN, "future"),
            "idle changed nothing"
        );
        println!(
            "  idle {secs:.1} s: CPU {} ticks of 1/{hz:.0} s = {cpu:.3} % of one core; VmRSS {:.1} MB -> {:.1} MB (peak VmHWM {:.1} MB); {reconciles:.0} reconcile(s) (resync every 30 s)",
            c1 - c0,
            rss0 as f64 / 1024.0,
            rss1 as f64 / 1024.0,
            hwm as f64 / 1024.0,
        );
        let rss_mb = rss1.max(rss0) as f64 / 1024.0;
        println!(
            "RESULT idle: {cpu:.3} % of a core, RSS {rss_mb:.1} MB over {secs:.0} s vs target <= 0.5 %, <= 30 MB: {}{}",
            verdict(cpu <= 0.5 && rss_mb <= 30.0),
            if secs < 59.0 {
                " (SHORT RUN: not a committed figure)"
            } else {
                ""
            }
        );
    }

    if drift {
        drift_samples(
            "drift",
            &victim,
            &events,
            samples,
            (&bare_wall, &bare_engine),
            &metrics,
        );
        assert_eq!(
            running(PLAN),
            expected_running(PLAN, "future"),
            "drift was put back"
        );
        if let Some(hwm) = status_kb(pid, "VmHWM") {
            println!(
                "  after drift: VmRSS {:.1} MB, VmHWM {:.1} MB",
                status_kb(pid, "VmRSS").unwrap_or(0) as f64 / 1024.0,
                hwm as f64 / 1024.0
            );
        }
    }
    drop(standalone);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `samples` hand starts of the inactive container `victim`, each put back
/// by the turnout under test; prints the figures under `label` (`drift`,
/// `operator-drift`). `bare` is (CLI wall, engine kill -> die) of a bare
/// `docker stop`, measured before turnout ran; `metrics` reads turnout's
/// /metrics.
pub fn drift_samples(
    label: &str,
    victim: &str,
    events: &Events,
    samples: usize,
    bare: (&[f64], &[f64]),
    metrics: &dyn Fn() -> String,
) {
    let m0 = metrics();
    let (mut total, mut reaction, mut own) = (Vec::new(), Vec::new(), Vec::new());
    let mut missed = 0;
    for _ in 0..samples {
        events.drain();
        docker(&["start", victim]);
        let start = events.wait_for("start", Duration::from_secs(5));
        let kill = events.wait_for("kill", Duration::from_secs(15));
        let die = events.wait_for("die", Duration::from_secs(15));
        match (start, kill, die) {
            (Some(s), Some(k), Some(d)) => {
                total.push(ns_to_ms(d - s));
                reaction.push(ns_to_ms(k - s));
                own.push(ns_to_ms(d - k));
            }
            _ => missed += 1,
        }
        // Let turnout finish the reconciles the stop's own events trigger.
        events.wait_for("stop", Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(700));
    }
    let m1 = metrics();
    let corrections = metric(&m1, "turnout_drift_corrections_total")
        - metric(&m0, "turnout_drift_corrections_total");
    let reconciles =
        metric(&m1, "turnout_reconciles_total") - metric(&m0, "turnout_reconciles_total");
    let rsum = metric(&m1, "turnout_reconcile_duration_seconds_sum")
        - metric(&m0, "turnout_reconcile_duration_seconds_sum");
    let (bare_wall, bare_engine) = bare;
    let bare = median(bare_engine);
    println!(
        "  bare docker stop of {victim} (10x, before turnout ran): CLI wall median {:.0} ms, engine kill->die median {bare:.0} ms (p99 {:.0} ms)",
        median(bare_wall),
        percentile(bare_engine, 0.99)
    );
    println!(
        "  {} samples ({missed} without events): start->die p50 {:.0} ms p99 {:.0} ms max {:.0} ms",
        total.len(),
        median(&total),
        percentile(&total, 0.99),
        percentile(&total, 1.0)
    );
    println!(
        "  reaction start->kill p50 {:.0} ms p99 {:.0} ms; container's own kill->die p50 {:.0} ms p99 {:.0} ms",
        median(&reaction),
        percentile(&reaction, 0.99),
        median(&own),
        percentile(&own, 0.99)
    );
    println!(
        "  turnout counted {corrections:.0} drift correction(s) in {reconciles:.0} reconcile(s), {:.1} ms per reconcile on average",
        if reconciles > 0.0 {
            rsum * 1000.0 / reconciles
        } else {
            0.0
        }
    );
    println!("  start->die samples (ms): {}", list(&total));
    let (p50, p99) = (median(&total) - bare, percentile(&total, 0.99) - bare);
    println!(
        "RESULT {label}: start->die minus bare stop ({bare:.0} ms): p50 {p50:.0} ms, p99 {p99:.0} ms (reaction p99 {:.0} ms) vs target p99 <= 1000 ms: {}",
        percentile(&reaction, 0.99),
        verdict(p99 <= 1000.0 && missed == 0)
    );
}
