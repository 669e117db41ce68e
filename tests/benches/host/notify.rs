//! Benchmark 8: a switch future -> dao with notification sinks that fail,
//! against the same switch with none. One sink accepts connections and
//! never answers; the other points at a closed port. Posting must never
//! slow a switch (the reconcile only queues), so the ratio should be noise.
//!
//! Each measured run: the library reconcile of the switch (progress through
//! [`Notifying`], so SwitchStarted is queued as it begins), `status_of`, and
//! `Notifier::after_reconcile`, which queues SwitchSucceeded. The host is
//! put back on future between runs, unmeasured; the three configurations
//! alternate order from round to round, and the first round is a warm-up.

use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::runtime::Runtime;
use turnout::metrics::Metrics;
use turnout::notify::{Delivery, Notifier, Notifying};
use turnout::reconcile::{LogProgress, Outcome, Run};
use turnout_e2e::{Cleanup, demo, expected_running, remove_plan_containers, running};

use crate::support::{bench_dir, list, median, metric, ms, write_file};
use crate::switch::{Bench, converge, reconciler, target};

const PLAN: &str = "notif-bench";
const BASE: u16 = 25410;
const SILENT: u16 = 25405;
const CLOSED: u16 = 25406;

fn yaml(sinks: &Value, version: &str) -> String {
    demo(PLAN, BASE)
        .set("notifications", sinks.clone())
        .select(version)
        .yaml()
}

/// A sink posting to `port`, its URL in a file (as a secret would be).
fn sink(dir: &Path, name: &str, port: u16) -> Value {
    let file = dir.join(format!("{name}.url"));
    write_file(&file, &format!("http://127.0.0.1:{port}/hook/bench-token"));
    json!([{"name": name, "kind": "Webhook", "url": {"file": file}}])
}

/// One measured switch to dao, with its notifications queued; ms.
fn switch(rt: &Runtime, r: &Bench, notifier: &Notifier, sinks: &Value) -> f64 {
    let t = target(&yaml(sinks, "dao"));
    let progress = Notifying {
        inner: &LogProgress,
        notifier: Some(notifier),
        target: &t,
    };
    let run = Run {
        progress: &progress,
        cancel: Run::default().cancel,
    };
    let t0 = Instant::now();
    let o = rt.block_on(r.reconcile(&t, &run));
    let status = turnout::status::status_of(&t, &o, None);
    notifier.after_reconcile(&t, None, &status, &o, false);
    let took = ms(t0.elapsed());
    match &o {
        Outcome::Applied(a) if a.converged() && a.switch.is_some() => took,
        other => panic!("expected a converged switch, got {other:#?}"),
    }
}

pub fn run(rt: &Runtime, reps: usize) {
    println!("\n## 8. Switch future -> dao with failing notification sinks");
    let _cleanup = Cleanup(PLAN.to_string());
    remove_plan_containers(PLAN);
    let dir = bench_dir("notify");
    // Accepts and never answers: connections are held until the bench ends.
    let silent = TcpListener::bind(("127.0.0.1", SILENT)).expect("silent receiver binds");
    let held =
        std::thread::spawn(move || silent.incoming().flatten().take(4096).collect::<Vec<_>>());
    drop(held);
    assert!(
        TcpListener::bind(("127.0.0.1", CLOSED)).is_ok(),
        "port {CLOSED} is free, so nothing answers there"
    );
    let configs = [
        ("no sink", json!([])),
        ("sink never answers", sink(&dir, "silent", SILENT)),
        ("sink port closed", sink(&dir, "closed", CLOSED)),
    ];
    let r = reconciler(rt, &dir);
    let metrics = Arc::new(Metrics::new());
    let (notifier, worker) = {
        let _in = rt.enter();
        Notifier::start(Delivery::default(), metrics.clone(), "bench".into())
    };
    converge(rt, &r, &yaml(&configs[0].1, "future"));
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); configs.len()];
    for round in 0..=reps {
        for k in 0..configs.len() {
            let i = (k + round) % configs.len();
            converge(rt, &r, &yaml(&configs[i].1, "future"));
            std::thread::sleep(Duration::from_millis(500));
            let took = switch(rt, &r, &notifier, &configs[i].1);
            assert_eq!(running(PLAN), expected_running(PLAN, "dao"), "dao runs");
            if round > 0 {
                samples[i].push(took);
            }
        }
    }
    let base = median(&samples[0]);
    println!("| configuration ({reps} runs each) | median | ÷ no sink | runs (ms) |");
    println!("|---|---|---|---|");
    for (i, (name, _)) in configs.iter().enumerate() {
        let m = median(&samples[i]);
        println!(
            "| {name} | {m:.0} ms | {:.2} | {} |",
            m / base,
            list(&samples[i])
        );
    }
    let text = metrics.encode();
    println!(
        "  notifications: sent {}, failed {}, dropped {} (the silent sink's posts are still in flight: 3 tries of 5 s each)",
        metric(&text, "turnout_notifications_sent_total") + 0.0,
        metric(&text, "turnout_notifications_failed_total") + 0.0,
        metric(&text, "turnout_notifications_dropped_total") + 0.0,
    );
    rt.block_on(worker.finish(Duration::from_millis(100)));
}
