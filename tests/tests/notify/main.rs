//! End-to-end: notification sinks of `turnout standalone`, against the real
//! Docker engine and HTTP receivers in the test. The sinks' URLs carry a
//! token, which must reach the receiver's request line and nowhere else.
//! [`datasync`]: a failed DataSync of the file, told once.

mod datasync;
mod receiver;
mod support;

use std::time::Duration;

use receiver::{Recorder, silent};
use serde_json::{Value, json};
use support::*;
use turnout_e2e::*;

const TOKEN: &str = "SECRET-TOKEN-123";

/// The SwitchStarted and SwitchSucceeded of the switch `from` -> `to`, field by field.
fn assert_switch_told(bodies: &[Value], plan: &str, from: &str, to: &str) {
    let started: Vec<&Value> = events_of(bodies, "SwitchStarted")
        .into_iter()
        .filter(|b| b["to"] == to)
        .collect();
    assert_eq!(started.len(), 1, "one SwitchStarted to {to}: {bodies:#?}");
    let s = started[0];
    assert_eq!(
        keys(s),
        ["event", "from", "host", "plan", "selection", "time", "to"],
        "{s}"
    );
    assert_eq!(
        (&s["selection"], &s["plan"], &s["host"], &s["from"]),
        (&json!("host"), &json!(plan), &json!(NODE), &json!(from))
    );
    assert!(is_rfc3339(&s["time"]), "{s}");
    let done: Vec<&Value> = events_of(bodies, "SwitchSucceeded")
        .into_iter()
        .filter(|b| b["to"] == to)
        .collect();
    assert_eq!(done.len(), 1, "one SwitchSucceeded to {to}: {bodies:#?}");
    let d = done[0];
    assert_eq!(
        keys(d),
        [
            "event",
            "from",
            "host",
            "message",
            "phases",
            "plan",
            "reason",
            "selection",
            "time",
            "to"
        ],
        "{d}"
    );
    assert_eq!(
        (
            &d["selection"],
            &d["plan"],
            &d["host"],
            &d["from"],
            &d["reason"]
        ),
        (
            &json!("host"),
            &json!(plan),
            &json!(NODE),
            &json!(from),
            &json!("Converged")
        )
    );
    assert!(d["message"].as_str().is_some_and(|m| m.contains(to)), "{d}");
    // No data bindings in the demo: nothing is copied, so no syncMs.
    assert_eq!(keys(&d["phases"]), ["readyMs", "startMs", "stopMs"], "{d}");
    assert!(is_rfc3339(&d["time"]), "{d}");
    let pos = |v: &Value| bodies.iter().position(|b| b == v);
    assert!(pos(s) < pos(d), "SwitchStarted comes first: {bodies:#?}");
}

#[test]
fn switches_and_a_blocked_host_reach_the_sinks_and_the_url_stays_secret() {
    require_docker(&[BUSYBOX]);
    let (plan, base, listen) = ("notif-a", 25410, 25498);
    let _cleanup = Cleanup(plan.to_string());
    remove_plan_containers(plan);
    let dir = temp_dir(plan);
    let hook = Recorder::start(25401);
    let chat = Recorder::start(25402);
    let sinks = json!([
        {"name": "ops", "kind": "Webhook", "url": {"env": "NOTIF_OPS_URL"}},
        {"name": "chat", "kind": "Slack", "url": {"env": "NOTIF_CHAT_URL"},
         "events": ["SwitchSucceeded", "HostBlocked"]},
    ]);
    let file = dir.join("desired.yaml");
    write(&file, &desired(plan, base, "future", sinks.clone()));
    let env = [
        (
            "NOTIF_OPS_URL",
            format!("http://127.0.0.1:25401/hook/{TOKEN}"),
        ),
        (
            "NOTIF_CHAT_URL",
            format!("http://127.0.0.1:25402/chat/{TOKEN}"),
        ),
    ];
    let _t = standalone(&dir, listen, &env);
    assert!(
        wait_until(Duration::from_secs(60), || ready(&dir, "future")),
        "converged on future: {}",
        status_json(&dir)
    );
    let told = |n: &Recorder, event: &str, to: &str| {
        n.bodies()
            .iter()
            .any(|b| b["event"] == event && b["to"] == to)
    };
    assert!(
        wait_until(Duration::from_secs(10), || told(
            &hook,
            "SwitchSucceeded",
            "future"
        )),
        "the first start was told: {:#?}",
        hook.bodies()
    );

    // A switch: its start, then its success with the time of each phase.
    write(&file, &desired(plan, base, "dao", sinks.clone()));
    assert!(wait_until(Duration::from_secs(60), || ready(&dir, "dao")));
    assert!(wait_until(Duration::from_secs(10), || told(
        &hook,
        "SwitchSucceeded",
        "dao"
    )));
    assert_switch_told(&hook.bodies(), plan, "future", "dao");

    // A port of blockchain held by a listener turnout does not manage:
    // blocked, told once however many reconciles see it.
    let held = std::net::TcpListener::bind(("0.0.0.0", base + 30)).expect("hold a blockchain port");
    write(&file, &desired(plan, base, "blockchain", sinks));
    let blocked = |n: &Recorder| events_of(&n.bodies(), "HostBlocked").len();
    assert!(
        wait_until(Duration::from_secs(30), || blocked(&hook) >= 1),
        "HostBlocked was told: {:#?}",
        hook.bodies()
    );
    let since = reconciles(listen);
    assert!(
        reconciled_since(listen, since, 3.0, Duration::from_secs(60)),
        "turnout reconciled the blocked host again"
    );
    assert_eq!(blocked(&hook), 1, "{:#?}", hook.bodies());
    let chat_blocked = chat
        .bodies()
        .iter()
        .filter(|b| {
            b["text"]
                .as_str()
                .is_some_and(|t| t.contains(" is blocked: "))
        })
        .count();
    assert_eq!(chat_blocked, 1, "{:#?}", chat.bodies());
    let b = events_of(&hook.bodies(), "HostBlocked")[0].clone();
    assert_eq!(b["reason"], "PortConflict", "{b}");
    assert!(
        b["message"]
            .as_str()
            .is_some_and(|m| m.contains(&(base + 30).to_string())),
        "{b}"
    );
    assert!(
        events_of(&hook.bodies(), "SwitchStarted")
            .iter()
            .all(|s| s["to"] != "blockchain"),
        "a blocked switch never began"
    );

    // Cleared: the switch goes through.
    drop(held);
    assert!(wait_until(Duration::from_secs(60), || ready(
        &dir,
        "blockchain"
    )));
    assert!(wait_until(Duration::from_secs(10), || told(
        &hook,
        "SwitchSucceeded",
        "blockchain"
    )));
    assert_switch_told(&hook.bodies(), plan, "dao", "blockchain");

    // Slack: one line of text per event it asked for, nothing else.
    let chat_bodies = chat.bodies();
    let texts: Vec<&str> = chat_bodies
        .iter()
        .map(|b| {
            assert_eq!(keys(b), ["text"], "{b}");
            b["text"].as_str().unwrap_or_default()
        })
        .collect();
    assert_eq!(
        texts.len(),
        4,
        "future, dao, blocked, blockchain: {texts:#?}"
    );
    assert_eq!(
        texts[0].split(" (").next(),
        Some(format!("turnout: host on {NODE}: switched to future").as_str())
    );
    assert!(
        texts[1].starts_with(&format!(
            "turnout: host on {NODE}: switched from future to dao (stop "
        )),
        "{}",
        texts[1]
    );
    assert!(
        texts[2].starts_with(&format!(
            "turnout: host on {NODE} is blocked: PortConflict: host port {}",
            base + 30
        )),
        "{}",
        texts[2]
    );

    // Every post went to the URL (token and all), as JSON.
    for r in hook.requests().iter().chain(chat.requests().iter()) {
        assert_eq!(r.method, "POST");
        assert!(r.path.ends_with(TOKEN), "{}", r.path);
        assert_eq!(r.content_type, "application/json");
    }
    let metrics = http_get(listen, "/metrics");
    assert!(
        metric_sum(&metrics, "turnout_notifications_sent_total") >= 9.0,
        "{metrics}"
    );

    // The token appears in no body, log line, status or status file.
    let log = std::fs::read_to_string(dir.join("turnout.log")).unwrap_or_default();
    assert!(
        log.contains("desired state loaded"),
        "the log was captured: {log}"
    );
    let status_file = std::fs::read_to_string(dir.join("status.json")).unwrap_or_default();
    let bodies: Vec<String> = hook
        .requests()
        .into_iter()
        .chain(chat.requests())
        .map(|r| r.body)
        .collect();
    for (what, text) in [
        ("a request body", bodies.join("\n")),
        ("turnout's log", log),
        ("/status", http_get(listen, "/status")),
        ("/metrics", metrics),
        ("the status file", status_file),
    ] {
        assert!(
            !text.contains(TOKEN),
            "{what} shows the sink's token:\n{text}"
        );
    }
}

#[test]
fn receivers_that_never_answer_or_refuse_do_not_hold_up_a_switch() {
    require_docker(&[BUSYBOX]);
    let (plan, base, listen) = ("notif-b", 25450, 25499);
    let _cleanup = Cleanup(plan.to_string());
    remove_plan_containers(plan);
    let dir = temp_dir(plan);
    silent(25403);
    assert!(
        !port_answers(25404),
        "port 25404 must be closed for this test"
    );
    let sinks = json!([
        {"name": "silent", "kind": "Webhook", "url": {"env": "NOTIF_SILENT_URL"}},
        {"name": "closed", "kind": "Slack", "url": {"env": "NOTIF_CLOSED_URL"}},
    ]);
    let file = dir.join("desired.yaml");
    write(&file, &desired(plan, base, "future", sinks.clone()));
    let env = [
        (
            "NOTIF_SILENT_URL",
            format!("http://127.0.0.1:25403/hook/{TOKEN}"),
        ),
        (
            "NOTIF_CLOSED_URL",
            format!("http://127.0.0.1:25404/chat/{TOKEN}"),
        ),
    ];
    let _t = standalone(&dir, listen, &env);
    assert!(wait_until(Duration::from_secs(60), || ready(
        &dir, "future"
    )));
    write(&file, &desired(plan, base, "dao", sinks));
    assert!(
        wait_until(Duration::from_secs(60), || ready(&dir, "dao")),
        "the switch completed while the sinks hang or refuse: {}",
        status_json(&dir)
    );
    let failed = || {
        let m = http_get(listen, "/metrics");
        let by = |kind: &str| {
            m.lines()
                .filter(|l| {
                    l.starts_with("turnout_notifications_failed_total{")
                        && l.contains(&format!("kind=\"{kind}\""))
                })
                .filter_map(|l| l.split_whitespace().last()?.parse::<f64>().ok())
                .sum::<f64>()
        };
        (by("Webhook"), by("Slack"))
    };
    // Both starts and successes, given up on after their retries (the
    // silent one after three 5 s timeouts each).
    assert!(
        wait_until(Duration::from_secs(90), || {
            let (silent, closed) = failed();
            silent >= 4.0 && closed >= 4.0
        }),
        "the failures were counted: {:?}",
        failed()
    );
    let log = std::fs::read_to_string(dir.join("turnout.log")).unwrap_or_default();
    assert!(log.contains("notification not delivered"), "{log}");
    assert!(
        log.contains("silent") && log.contains("closed"),
        "the log names the sinks: {log}"
    );
    assert!(
        !log.contains(TOKEN),
        "the log shows the sink's token:\n{log}"
    );
}
