//! What the kubelet runs, as the test sees it: its containers on the engine
//! (the `k8s_` ones, which turnout must never touch), the DaemonSet's pods,
//! their logs, and the Events turnout recorded.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use turnout_e2e::*;

use crate::node::Node;

/// A container of the kubelet: its name and when it last started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KubeletContainer {
    pub name: String,
    pub started_at: String,
}

/// Every container a kubelet made, by full id: dockershim labels each with
/// `io.kubernetes.docker.type` (sandbox or container).
pub fn kubelet_containers() -> BTreeMap<String, KubeletContainer> {
    let out = docker(&[
        "ps",
        "-a",
        "--no-trunc",
        "--filter",
        "label=io.kubernetes.docker.type",
        "--format",
        "{{.ID}} {{.Names}}",
    ]);
    out.lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(id, name)| {
            let started_at = docker_raw(&["inspect", "-f", "{{.State.StartedAt}}", id]);
            let started_at = String::from_utf8_lossy(&started_at.stdout)
                .trim()
                .to_string();
            (
                id.to_string(),
                KubeletContainer {
                    name: name.to_string(),
                    started_at,
                },
            )
        })
        .collect()
}

/// One pod of the DaemonSet `turnout`.
#[derive(Clone, Debug)]
pub struct Pod {
    pub name: String,
    pub ready: bool,
    pub deleting: bool,
    pub restarts: u64,
}

/// The DaemonSet's pods in turnout-system.
pub fn turnout_pods(node: &Node) -> Vec<Pod> {
    let list = node.json(&[
        "pods",
        "-n",
        "turnout-system",
        "-l",
        "app.kubernetes.io/name=turnout",
    ]);
    list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| Pod {
            name: p["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            ready: p["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Ready" && c["status"] == "True"),
            deleting: !p["metadata"]["deletionTimestamp"].is_null(),
            restarts: p["status"]["containerStatuses"][0]["restartCount"]
                .as_u64()
                .unwrap_or(0),
        })
        .collect()
}

/// Waits until the DaemonSet runs exactly one pod, Ready (its readiness
/// probe passed), whose name is none of `not`; that pod.
pub fn ready_pod(node: &Node, not: &[String], why: &str) -> Pod {
    let mut last = Vec::new();
    let found = wait_until(Duration::from_secs(180), || {
        last = turnout_pods(node);
        last.len() == 1 && last[0].ready && !last[0].deleting && !not.contains(&last[0].name)
    });
    assert!(
        found,
        "{why}: one Ready pod of the DaemonSet other than {not:?}; pods: {last:?}\n{}\nkubelet log tail:\n{}",
        node.ok(&["describe", "pods", "-n", "turnout-system"]),
        tail(&node.kubelet_log(), 30)
    );
    last.remove(0)
}

pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// `kubectl logs -f` of a pod's turnout container into a file, until the
/// container ends (it then returns); killed when dropped.
pub struct LogFollower {
    child: Child,
    pub path: PathBuf,
}

impl LogFollower {
    pub fn start(node: &Node, pod: &str) -> LogFollower {
        let path = node.run.join(format!("pod-{pod}.log"));
        let file = std::fs::File::create(&path).expect("create the pod's log file");
        let child = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(node.run.join("kubeconfig"))
            .args(["logs", "-f", "-n", "turnout-system", pod, "-c", "turnout"])
            .stdout(Stdio::from(file))
            .stderr(Stdio::null())
            .spawn()
            .expect("kubectl logs -f starts");
        LogFollower { child, path }
    }

    /// What the pod logged so far. Without the line the kubelet appends
    /// when the container is removed while followed (`rpc error: ... No
    /// such container: ID`): that is not turnout speaking.
    pub fn text(&self) -> String {
        std::fs::read_to_string(&self.path)
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.starts_with("rpc error: "))
            .map(|l| format!("{l}\n"))
            .collect()
    }

    /// Waits (up to `timeout`) until the container ended and the follower
    /// with it; whether it did.
    pub fn wait_ended(&mut self, timeout: Duration) -> bool {
        wait_until(timeout, || matches!(self.child.try_wait(), Ok(Some(_))))
    }
}

impl Drop for LogFollower {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Events turnout recorded, in every namespace.
pub fn turnout_events(node: &Node) -> Vec<Value> {
    let list = node.json(&["events", "--all-namespaces"]);
    list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["reportingComponent"] == "turnout" || e["source"]["component"] == "turnout")
        .cloned()
        .collect()
}

/// What in `text` names one of `containers` (name, full id, or the short
/// id Docker prints), or mentions `k8s_` at all.
pub fn names_a_kubelet_container(
    text: &str,
    containers: &BTreeMap<String, KubeletContainer>,
) -> Option<String> {
    if let Some(at) = text.find("k8s_") {
        return Some(text[at..].chars().take(80).collect());
    }
    containers.iter().find_map(|(id, c)| {
        [id.as_str(), &id[..12], c.name.as_str()]
            .into_iter()
            .find(|needle| text.contains(needle))
            .map(|needle| format!("{needle} ({})", c.name))
    })
}
