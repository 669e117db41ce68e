//! The operator image as the pod of manifests/components/daemonset, on a
//! real one-node cluster whose kubelet runs pods on the same Docker engine
//! that turnout drives: `kubectl apply -k`, a plan with real PostgreSQL and
//! busybox services, a `kubectl patch` switch with a data copy, a `kubectl
//! delete pod` in the middle of the next copy, `kubectl rollout restart`,
//! the probes, and the kubelet's own containers left alone throughout.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;
use turnout_e2e::*;

use crate::kubelet::kubelet_containers;
use crate::node::{NODE, Node, repo};

pub const PLAN: &str = "e2e-node";
/// A plan whose selection is labelled for another host: this node's
/// turnout must leave it alone.
pub const ELSEWHERE: &str = "e2e-node-elsewhere";
pub const DB: &str = "e2e-node-db";
pub const BASE: u16 = 28600;
/// The operator's metrics and probes port (host network).
pub const LISTEN: u16 = 28790;
const IMAGE: &str = "turnout/operator:e2e-node";

/// An image this test built.
struct TestImage(&'static str);

impl Drop for TestImage {
    fn drop(&mut self) {
        let _ = docker_raw(&["image", "rm", self.0]);
    }
}

/// One version of the plan: [`demo_plan`]'s busybox services on ports from
/// `b`, and its own database on the plan's PostgreSQL.
fn version_yaml(v: &str, b: u16) -> String {
    let svc = |name: &str, port: u16, range: &str| {
        format!(
            "      - {{name: {PLAN}-{v}-{name}, image: {BUSYBOX}, command: [httpd, -f, -p, \"8080\", -h, /www], ports: [{{host: {port}, container: 8080, range: {range}}}], readiness: {{http: {{port: 8080}}, timeoutSeconds: 20}}, stopTimeoutSeconds: 3}}\n"
        )
    };
    format!(
        "  - name: {v}\n    ranges:\n      - {{name: services, from: {b}, to: {}}}\n      - {{name: shared, from: {}, to: {}}}\n    containers:\n{}{}{}    data:\n      - {{name: users, container: {DB}, database: node_{v}}}\n",
        b + 4,
        b + 5,
        b + 9,
        svc("service-1", b, "services"),
        svc("service-2", b + 1, "services"),
        svc("shared-service", b + 5, "shared"),
    )
}

/// The plan: PostgreSQL as infrastructure (named as [`expected_running`]
/// expects, its password from a Secret, one database per version, copied on
/// each switch) and busybox services, in namespace default; its selection
/// labelled for this node.
pub fn plan_yaml() -> String {
    format!(
        "apiVersion: turnout.dev/v1alpha1
kind: PortPlan
metadata: {{name: {PLAN}, namespace: default}}
spec:
  infrastructure:
    - name: {DB}
      image: turnout/postgres:demo
      engine: postgres
      env:
        - {{name: POSTGRES_PASSWORD_FILE, value: /run/secrets/db-root}}
        - {{name: POSTGRES_DB, value: node_future}}
      adminSecret: db-root
      secrets:
        - {{name: db-root, path: /run/secrets/db-root, from: {{secretKeyRef: {{name: {DB}, key: password}}}}}}
      ports: [{{host: {BASE}, container: 5432}}]
      readiness: {{exec: {{command: [turnout-ready]}}, timeoutSeconds: 120}}
      stopTimeoutSeconds: 30
  versions:
{}{}{}---
apiVersion: turnout.dev/v1alpha1
kind: VersionSelection
metadata: {{name: {PLAN}, namespace: default, labels: {{turnout.dev/host: {NODE}}}}}
spec: {{planRef: {PLAN}, activeVersion: future}}
",
        version_yaml("future", BASE + 10),
        version_yaml("dao", BASE + 20),
        version_yaml("blockchain", BASE + 30),
    )
}

/// A busybox plan whose selection belongs to another host.
pub fn elsewhere_yaml() -> String {
    demo(ELSEWHERE, BASE + 100)
        .namespace("default")
        .selection(
            Selection::new(ELSEWHERE, ELSEWHERE, "future").label("turnout.dev/host", "elsewhere"),
        )
        .yaml()
}

/// A kustomization that adds the DaemonSet component to manifests/, as the
/// component's comment tells a person to, plus what this machine needs: the
/// locally built image (never pulled), the API server on loopback (no
/// kube-proxy serves the `kubernetes` Service here), and a port and state
/// and data directories of the test's own on a shared machine (each mounted
/// at its host path, as /run/turnout and /var/lib/turnout are).
pub fn fleet_kustomization(node: &Node, state: &Path, data: &Path) -> PathBuf {
    let dir = node.run.join("fleet").canonicalize().unwrap_or_else(|_| {
        std::fs::create_dir_all(node.run.join("fleet")).expect("create fleet/");
        node.run.join("fleet").canonicalize().expect("fleet/ path")
    });
    // Kustomize refuses absolute paths to a base or component.
    let up: PathBuf = dir.components().skip(1).map(|_| "..").collect();
    let manifests = repo().join("manifests").canonicalize().expect("manifests/");
    let rel = up.join(manifests.strip_prefix("/").expect("absolute"));
    let (state, data) = (
        state.to_str().expect("a utf-8 path"),
        data.to_str().expect("a utf-8 path"),
    );
    let c = "/spec/template/spec/containers/0";
    let v = "/spec/template/spec/volumes";
    let ops = json!([
        {"op": "replace", "path": format!("{c}/image"), "value": IMAGE},
        {"op": "add", "path": format!("{c}/imagePullPolicy"), "value": "Never"},
        {"op": "test", "path": format!("{c}/args/1"), "value": "--listen"},
        {"op": "replace", "path": format!("{c}/args/2"), "value": format!("0.0.0.0:{LISTEN}")},
        {"op": "add", "path": format!("{c}/args/-"), "value": "--state-dir"},
        {"op": "add", "path": format!("{c}/args/-"), "value": state},
        {"op": "add", "path": format!("{c}/args/-"), "value": "--data-dir"},
        {"op": "add", "path": format!("{c}/args/-"), "value": data},
        {"op": "replace", "path": format!("{c}/ports/0/containerPort"), "value": LISTEN},
        {"op": "replace", "path": format!("{c}/startupProbe/httpGet/port"), "value": LISTEN},
        {"op": "replace", "path": format!("{c}/readinessProbe/httpGet/port"), "value": LISTEN},
        {"op": "replace", "path": format!("{c}/livenessProbe/httpGet/port"), "value": LISTEN},
        {"op": "add", "path": format!("{c}/env/-"), "value": {"name": "KUBERNETES_SERVICE_HOST", "value": "127.0.0.1"}},
        {"op": "add", "path": format!("{c}/env/-"), "value": {"name": "KUBERNETES_SERVICE_PORT", "value": node.env("TURNOUT_KUBE_API_PORT")}},
        {"op": "add", "path": format!("{c}/env/-"), "value": {"name": "NO_COLOR", "value": "1"}},
        {"op": "test", "path": format!("{v}/1/name"), "value": "state"},
        {"op": "replace", "path": format!("{v}/1/hostPath/path"), "value": state},
        {"op": "replace", "path": format!("{c}/volumeMounts/1/mountPath"), "value": state},
        {"op": "test", "path": format!("{v}/2/name"), "value": "data"},
        {"op": "replace", "path": format!("{v}/2/hostPath/path"), "value": data},
        {"op": "replace", "path": format!("{c}/volumeMounts/2/mountPath"), "value": data},
    ]);
    std::fs::write(dir.join("on-this-machine.json"), ops.to_string()).expect("write the patch");
    let kustomization = format!(
        "apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - {m}
components:
  - {m}/components/daemonset
patches:
  - path: on-this-machine.json
    target: {{group: apps, version: v1, kind: DaemonSet, name: turnout, namespace: turnout-system}}
",
        m = rel.display()
    );
    std::fs::write(dir.join("kustomization.yaml"), kustomization).expect("write kustomization");
    dir
}

/// Images of the engine, by id.
fn image_ids() -> Vec<String> {
    let out = docker(&["images", "-a", "-q", "--no-trunc"]);
    let mut ids: Vec<String> = out.lines().map(str::to_string).collect();
    ids.sort();
    ids.dedup();
    ids
}

#[test]
fn the_daemonset_pod_serves_its_node_through_switches_deletion_and_restart() {
    require_docker(&[BUSYBOX, "turnout/postgres:demo"]);
    let _cleanup = Cleanup(PLAN.to_string());
    let _cleanup_elsewhere = Cleanup(ELSEWHERE.to_string());
    remove_plan_containers(PLAN);
    remove_plan_containers(ELSEWHERE);
    let images_before = image_ids();
    let dir = temp_dir("e2e-node");
    for d in ["state", "data"] {
        std::fs::create_dir_all(dir.join(d)).expect("create a state directory");
    }

    let built = Command::new("bash")
        .arg(repo().join("scripts/build-operator-image.sh"))
        .arg(turnout_bin())
        .arg(IMAGE)
        .output()
        .expect("bash runs scripts/build-operator-image.sh");
    assert!(built.status.success(), "{}", output_text(&built));
    let _image = TestImage(IMAGE);

    let mut node = Node::up(dir.join("kube"));
    crate::story::run(&node, &dir);

    // Tear down as the guard would, and check what it leaves.
    let down = node.tear_down();
    assert!(down.is_ok(), "tearing the node down: {down:?}");
    assert!(
        kubelet_containers().is_empty(),
        "no container of the kubelet is left: {:?}",
        kubelet_containers()
    );
    let images_after = image_ids();
    let kubelet_log = std::fs::read_to_string(node.run.join("kubelet.log")).unwrap_or_default();
    for id in images_before.iter().filter(|id| !images_after.contains(id)) {
        let short = id.trim_start_matches("sha256:");
        assert!(
            !kubelet_log.contains(&short[..12]),
            "the kubelet removed image {id}"
        );
        eprintln!(
            "image {id} went away during the test, not by the kubelet (another user of the engine)"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
