//! What a person does to turnout's DaemonSet on a running node, step by
//! step, and what must hold after each step: install with `kubectl apply
//! -k`, converge, switch with `kubectl patch`, `kubectl delete pod` in the
//! middle of a copy, `kubectl rollout restart`, drift; the kubelet's own
//! containers never named or touched by turnout.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use turnout_e2e::*;

use crate::daemonset::{
    DB, ELSEWHERE, LISTEN, PLAN, elsewhere_yaml, fleet_kustomization, plan_yaml,
};
use crate::kubelet::{
    KubeletContainer, LogFollower, kubelet_containers, names_a_kubelet_container, ready_pod, tail,
    turnout_events, turnout_pods,
};
use crate::node::{NODE, Node, progress};
use crate::observe::*;

/// The story so far: the pods that served the node, what they logged, and
/// every container of the kubelet seen on the engine.
struct Story<'a> {
    node: &'a Node,
    pods: Vec<String>,
    logs: Vec<String>,
    seen: BTreeMap<String, KubeletContainer>,
}

pub fn run(node: &Node, dir: &Path) {
    let (pod, log) = install(node, dir);
    let mut story = Story {
        node,
        pods: vec![pod],
        logs: Vec::new(),
        seen: kubelet_containers(),
    };
    let log = story.converge(log);
    let log = story.switch_with_a_copy(log);
    let log = story.delete_the_pod_mid_copy(log);
    let log = story.rollout_restart(log);
    story.drift(&log);
    story.logs.push(log.text());
    story.nothing_names_the_kubelet();
}

/// Installs the DaemonSet, the Secret and the two plans; the first pod
/// once Ready, and its log.
fn install(node: &Node, dir: &Path) -> (String, LogFollower) {
    node.ok(&["label", "node", NODE, "turnout.dev/docker-host=true"]);
    let fleet = fleet_kustomization(node, &dir.join("state"), &dir.join("data"));
    node.ok(&["apply", "-k", fleet.to_str().expect("utf-8 path")]);
    node.ok(&[
        "wait",
        "--for",
        "condition=established",
        "--timeout=60s",
        "crd/versionselections.turnout.dev",
        "crd/portplans.turnout.dev",
        "crd/datasyncs.turnout.dev",
    ]);
    let deployments = node.json(&["deployments", "-n", "turnout-system"]);
    assert_eq!(
        deployments["items"],
        serde_json::json!([]),
        "the component replaces the Deployment"
    );
    // The database password: random, in a file, never on a command line.
    let password = dir.join("db-password");
    std::fs::write(&password, random_hex()).expect("write the password file");
    let from_file = format!("--from-file=password={}", password.display());
    node.ok(&[
        "create", "secret", "generic", DB, "-n", "default", &from_file,
    ]);
    for (name, yaml) in [("plan", plan_yaml()), ("elsewhere", elsewhere_yaml())] {
        let path = dir.join(format!("{name}.yaml"));
        std::fs::write(&path, yaml).expect("write a manifest");
        node.ok(&["apply", "-f", path.to_str().expect("utf-8 path")]);
    }
    let pod = ready_pod(node, &[], "after kubectl apply -k");
    let log = LogFollower::start(node, &pod.name);
    (pod.name, log)
}

impl Story<'_> {
    fn pod(&self) -> &str {
        self.pods.last().expect("a pod")
    }

    /// The first pod converges its node's selection under its node's Lease,
    /// and leaves another host's selection alone; `kubectl get vsel -A`
    /// shows each selection's host.
    fn converge(&mut self, log: LogFollower) -> LogFollower {
        let node = self.node;
        wait_ready_on(node, "future", &log);
        progress("converged on future");
        assert_eq!(lease_holder(node), self.pod());
        assert!(running(ELSEWHERE).is_empty(), "{:?}", running(ELSEWHERE));
        let elsewhere = selection(node, ELSEWHERE);
        assert!(
            elsewhere["status"]["observedGeneration"].is_null(),
            "another host's selection got a status: {elsewhere}"
        );
        let table = node.ok(&["get", "vsel", "-A"]);
        let row = |name: &str| table.lines().find(|l| l.contains(name)).unwrap_or_default();
        assert!(row("NAMESPACE").contains(" HOST "), "{table}");
        assert!(
            row(&format!("{PLAN} ")).contains(&format!(" {NODE} ")),
            "{table}"
        );
        assert!(row(ELSEWHERE).contains(" elsewhere "), "{table}");
        assert_eq!(http_get(LISTEN, "/healthz").trim(), "ok");
        assert!(
            self.seen
                .values()
                .any(|c| c.name.starts_with("k8s_turnout_"))
                && self.seen.values().any(|c| c.name.starts_with("k8s_POD_")),
            "the pod's container and sandbox run on the engine: {:?}",
            self.seen
        );
        log
    }

    /// `kubectl patch` to dao: future's database is copied into dao's, and
    /// the kubelet's containers stay exactly as they were.
    fn switch_with_a_copy(&mut self, log: LogFollower) -> LogFollower {
        progress("switching to dao");
        psql(
            "node_future",
            "CREATE TABLE users (id int PRIMARY KEY, name text); INSERT INTO users VALUES (1, 'from future')",
        );
        let k8s = kubelet_containers();
        switch_to(self.node, "dao");
        wait_ready_on(self.node, "dao", &log);
        assert_eq!(psql("node_dao", "SELECT name FROM users"), "from future");
        kubelet_containers_unchanged(&k8s, "the switch to dao");
        log
    }

    /// `kubectl delete pod` while the switch back copies dao into future:
    /// the pod finishes the copy and stops, starting nothing more; the
    /// DaemonSet's next pod finishes the switch.
    fn delete_the_pod_mid_copy(&mut self, mut log: LogFollower) -> LogFollower {
        progress("switching back to future, deleting the pod mid-copy");
        let node = self.node;
        psql(
            "node_dao",
            "INSERT INTO users SELECT i, 'from dao ' || i FROM generate_series(2, 500000) i",
        );
        switch_to(node, "future");
        let mut phase = String::new();
        let caught = wait_until(Duration::from_secs(120), || {
            phase = data_sync_phase(node, "future");
            !phase.is_empty()
        });
        assert!(
            caught && phase == "Running",
            "the copy into future was caught Running (phase {phase:?}); turnout's log:\n{}",
            tail(&log.text(), 30)
        );
        let first = self.pod().to_string();
        let turnout = self
            .seen
            .iter()
            .find(|(_, c)| c.name.starts_with(&format!("k8s_turnout_{first}_")))
            .map(|(id, _)| id.clone())
            .expect("the first pod's turnout container");
        liveness_never_failed(node, &first);
        let delete = [
            "delete",
            "pod",
            &first,
            "-n",
            "turnout-system",
            "--wait=false",
        ];
        node.ok(&delete);
        assert!(
            log.wait_ended(Duration::from_secs(660)),
            "the deleted pod's turnout ended"
        );
        let died = *engine_events(&turnout, "die")
            .last()
            .expect("the engine saw the deleted pod's turnout die");
        let text = log.text();
        assert!(text.contains("signal received"), "{}", tail(&text, 30));
        self.logs.push(text);
        self.seen.extend(kubelet_containers());

        let next = ready_pod(node, &self.pods, "after kubectl delete pod").name;
        self.pods.push(next.clone());
        let log = LogFollower::start(node, &next);
        wait_ready_on(node, "future", &log);
        progress("the next pod converged on future");
        assert_eq!(data_sync_phase(node, "future"), "Succeeded");
        assert_eq!(psql("node_future", "SELECT count(*) FROM users"), "500000");
        for c in version_containers(PLAN, "future") {
            let started = *engine_events(&c, "start").last().expect("a start");
            assert!(
                started > died,
                "{c} started ({started} ns) after the deleted pod's turnout died ({died} ns)"
            );
        }
        assert_eq!(lease_holder(node), next);
        self.seen.extend(kubelet_containers());
        log
    }

    /// `kubectl rollout restart`: a new pod takes over a converged host and
    /// changes nothing on it.
    fn rollout_restart(&mut self, mut log: LogFollower) -> LogFollower {
        progress("rollout restart");
        let node = self.node;
        let plan_before = plan_started();
        liveness_never_failed(node, self.pod());
        node.ok(&[
            "rollout",
            "restart",
            "daemonset/turnout",
            "-n",
            "turnout-system",
        ]);
        assert!(
            log.wait_ended(Duration::from_secs(660)),
            "the old pod ended"
        );
        self.logs.push(log.text());
        let status = [
            "rollout",
            "status",
            "daemonset/turnout",
            "-n",
            "turnout-system",
            "--timeout=300s",
        ];
        node.ok(&status);
        let next = ready_pod(node, &self.pods, "after rollout restart").name;
        self.pods.push(next.clone());
        let log = LogFollower::start(node, &next);
        assert!(
            wait_until(Duration::from_secs(60), || lease_holder(node) == next),
            "the new pod holds the Lease: {}",
            lease_holder(node)
        );
        wait_ready_on(node, "future", &log);
        assert_eq!(
            plan_started(),
            plan_before,
            "a converged host is left as it is"
        );
        log
    }

    /// A service stopped behind turnout's back is started again; the
    /// kubelet's containers, seen in the same reconcile, stay as they are;
    /// the pod is Ready and its liveness probe never failed.
    fn drift(&mut self, log: &LogFollower) {
        progress("drift");
        let node = self.node;
        let k8s = kubelet_containers();
        self.seen.extend(k8s.clone());
        let drifted = format!("{PLAN}-future-service-2");
        docker(&["stop", "-t", "1", &drifted]);
        // The operator does not follow the engine's events (yet): an edit of
        // the selection makes it look now, not at its next periodic re-list.
        let nudge = [
            "annotate",
            "vsel",
            PLAN,
            "-n",
            "default",
            "--overwrite",
            "e2e-node/drift=stopped",
        ];
        node.ok(&nudge);
        assert!(
            wait_until(Duration::from_secs(60), || is_running(&drifted)),
            "turnout restarted {drifted}: {}",
            tail(&log.text(), 20)
        );
        kubelet_containers_unchanged(&k8s, "a reconcile after drift");
        let pods = turnout_pods(node);
        assert!(
            pods.len() == 1 && pods[0].ready && pods[0].restarts == 0,
            "the pod is Ready and never restarted: {pods:?}"
        );
        liveness_never_failed(node, self.pod());
    }

    /// Nothing turnout said (its pods' logs, its Events, the selection's
    /// status) names a container of the kubelet.
    fn nothing_names_the_kubelet(&self) {
        progress("checking logs and Events");
        for (pod, text) in self.pods.iter().zip(&self.logs) {
            assert!(!text.is_empty(), "{pod} logged");
            if let Some(hit) = names_a_kubelet_container(text, &self.seen) {
                panic!("{pod}'s log names a container of the kubelet: {hit}");
            }
        }
        let events = turnout_events(self.node);
        assert!(!events.is_empty(), "turnout recorded Events");
        for e in &events {
            if let Some(hit) = names_a_kubelet_container(&e.to_string(), &self.seen) {
                panic!("an Event of turnout names a container of the kubelet: {hit}: {e}");
            }
        }
        let status = selection(self.node, PLAN)["status"].to_string();
        assert!(
            names_a_kubelet_container(&status, &self.seen).is_none(),
            "{status}"
        );
    }
}

/// The kubelet never reported a failed liveness probe of `pod`. Asked while
/// the pod runs: once it is deleted, a probe may race its container's exit
/// (the kubelet notices a dead container up to a second later).
fn liveness_never_failed(node: &Node, pod: &str) {
    let field = format!("involvedObject.name={pod},reason=Unhealthy");
    let list = node.json(&["events", "-n", "turnout-system", "--field-selector", &field]);
    let failed: Vec<String> = list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["message"].as_str())
        .filter(|m| m.starts_with("Liveness probe failed"))
        .map(str::to_string)
        .collect();
    assert!(
        failed.is_empty(),
        "{pod}'s liveness probe failed: {failed:?}\n{}",
        node.ok(&["get", "events", "-n", "turnout-system"])
    );
}
