//! Benchmark 3: a reconcile of a host that is already converged. The Docker
//! runtime is wrapped in a counter, so the report gives the engine calls of
//! each reconcile (total and mutating) besides its time.

use std::time::Instant;

use tokio::runtime::Runtime;
use turnout::reconcile::{Outcome, Run};
use turnout_e2e::{Cleanup, demo_plan, docker, remove_plan_containers};

use crate::support::{bench_dir, calls_between, list, median, ms, percentile, show_calls, verdict};
use crate::switch::{converge, reconciler, target};

const PLAN: &str = "bench-converged";
const BASE: u16 = 22200;

pub fn run(rt: &Runtime, n: usize) {
    println!("\n== 3. converged reconcile ({n} reconciles, counting engine calls)");
    remove_plan_containers(PLAN);
    let _cleanup = Cleanup(PLAN.to_string());
    let dir = bench_dir(PLAN);
    let yaml = demo_plan(PLAN, BASE, "future");
    let t = target(&yaml);
    converge(rt, &reconciler(rt, &dir), &yaml);
    let on_host = docker(&["ps", "-aq"]).lines().count();

    // A fresh reconciler: its first reconcile probes every container once.
    let r = reconciler(rt, &dir);
    let mut samples = Vec::with_capacity(n);
    let (mut max_total, mut max_mutating) = (0, 0);
    let mut first = String::new();
    let mut steady = String::new();
    for i in 0..=n {
        let before = r.runtime.snapshot();
        let t0 = Instant::now();
        let o = rt.block_on(r.reconcile(&t, &Run::default()));
        let took = ms(t0.elapsed());
        let (total, mutating, by) = calls_between(&before, &r.runtime.snapshot());
        match &o {
            Outcome::Applied(a) if a.converged() && a.done.is_empty() => {}
            other => panic!("the host stays converged: {other:#?}"),
        }
        if i == 0 {
            first = format!("{took:.1} ms, calls: {}", show_calls(&by));
            continue;
        }
        steady = show_calls(&by);
        max_total = max_total.max(total);
        max_mutating = max_mutating.max(mutating);
        samples.push(took);
    }
    let (p50, p99) = (median(&samples), percentile(&samples, 0.99));
    println!("  containers on the host (docker ps -a): {on_host}");
    println!("  first reconcile of a new reconciler (probes every container once): {first}");
    println!(
        "  steady state: median {p50:.2} ms, p99 {p99:.2} ms, max {:.2} ms; calls per reconcile: {steady}",
        percentile(&samples, 1.0)
    );
    println!("  samples (ms): {}", list(&samples));
    println!(
        "RESULT converged: {max_total} engine call(s) per reconcile, {max_mutating} mutating; median {p50:.2} ms, p99 {p99:.2} ms vs target <= 20 ms, 0 mutating: {}",
        verdict(p99 <= 20.0 && max_mutating == 0)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
