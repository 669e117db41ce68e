//! What the DaemonSet test reads back: the selection and its DataSync, the
//! Lease, the plan's PostgreSQL and containers, and the engine's own record
//! of when containers started and died.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;
use turnout_e2e::*;

use crate::daemonset::{DB, PLAN};
use crate::kubelet::{KubeletContainer, LogFollower, kubelet_containers, tail};
use crate::node::{NODE, Node};

/// SQL against the plan's PostgreSQL over its local socket (trusted, so no
/// password anywhere).
pub fn psql(db: &str, sql: &str) -> String {
    docker(&[
        "exec",
        DB,
        "psql",
        "-U",
        "postgres",
        "-X",
        "-A",
        "-t",
        "-v",
        "ON_ERROR_STOP=1",
        "-d",
        db,
        "-c",
        sql,
    ])
}

pub fn selection(node: &Node, name: &str) -> Value {
    node.json(&["vsel", name, "-n", "default"])
}

pub fn ready_on(node: &Node, version: &str) -> bool {
    let s = selection(node, PLAN);
    s["status"]["activeVersion"] == version
        && s["status"]["observedGeneration"] == s["metadata"]["generation"]
        && s["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

pub fn wait_ready_on(node: &Node, version: &str, log: &LogFollower) {
    assert!(
        wait_until(Duration::from_secs(240), || ready_on(node, version)),
        "Ready on {version}: {}\nturnout's log:\n{}",
        selection(node, PLAN),
        tail(&log.text(), 40)
    );
    assert_eq!(running(PLAN), expected_running(PLAN, version));
}

pub fn switch_to(node: &Node, version: &str) {
    let patch = format!(r#"{{"spec":{{"activeVersion":"{version}"}}}}"#);
    node.ok(&[
        "patch", "vsel", PLAN, "-n", "default", "--type", "merge", "-p", &patch,
    ]);
}

/// The phase of the DataSync that a switch to `to` made ("" until it exists).
pub fn data_sync_phase(node: &Node, to: &str) -> String {
    let list = node.json(&["datasyncs", "-n", "default"]);
    list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|d| d["spec"]["to"] == to)
        .and_then(|d| d["status"]["phase"].as_str())
        .unwrap_or_default()
        .to_string()
}

/// The holder of the Lease that turnout derives from its selector.
pub fn lease_holder(node: &Node) -> String {
    let name = turnout::commands::run::lease_name(None, Some(&format!("turnout.dev/host={NODE}")));
    let lease = node.json(&["lease", &name, "-n", "turnout-system"]);
    lease["spec"]["holderIdentity"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The kubelet's containers must be exactly `before`: same ids, none
/// restarted.
pub fn kubelet_containers_unchanged(before: &BTreeMap<String, KubeletContainer>, during: &str) {
    assert_eq!(
        &kubelet_containers(),
        before,
        "the kubelet's containers changed during {during}"
    );
}

/// The plan's running containers and when each started.
pub fn plan_started() -> Vec<(String, String)> {
    running(PLAN)
        .into_iter()
        .map(|c| {
            let at = started_at(&c);
            (c, at)
        })
        .collect()
}

/// When the engine reported `event` of `container` (a name or id) in the
/// last hour, in nanoseconds since the epoch, oldest first. The engine keeps
/// these after the container is gone.
pub fn engine_events(container: &str, event: &str) -> Vec<u128> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let (since, until) = ((now - 3600).to_string(), (now + 1).to_string());
    let filter = format!("container={container}");
    let event = format!("event={event}");
    docker(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        &filter,
        "--filter",
        &event,
        "--format",
        "{{.TimeNano}}",
    ])
    .lines()
    .map(|l| l.trim().parse().expect("TimeNano is a number"))
    .collect()
}

/// 24 random bytes, hex.
pub fn random_hex() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 24];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("read /dev/urandom");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
