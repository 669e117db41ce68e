//! End-to-end: `turnout run` against a real Kubernetes API server (1.20,
//! built from Debian's source by scripts/kube-build.sh, started on loopback
//! by scripts/kube-up.sh) and the real Docker engine, under the RBAC of
//! manifests/02-rbac.yaml.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use turnout_e2e::*;

struct Cluster {
    run: PathBuf,
}

impl Cluster {
    fn up(run: PathBuf) -> Cluster {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/kube-up.sh");
        let out = Command::new("bash")
            .arg(&script)
            .arg(&run)
            .env("TURNOUT_KUBE_API_PORT", "27443")
            .env("TURNOUT_KUBE_ETCD_PORT", "27379")
            .env("TURNOUT_KUBE_ETCD_PEER_PORT", "27380")
            .env("TURNOUT_KUBE_CM_PORT", "27257")
            .output()
            .expect("bash runs scripts/kube-up.sh");
        assert!(
            out.status.success(),
            "scripts/kube-up.sh failed (it builds kube-apiserver on first use): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Cluster { run }
    }

    fn kubectl(&self, args: &[&str]) -> std::process::Output {
        Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(self.run.join("kubeconfig"))
            .args(args)
            .output()
            .expect("kubectl is installed")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    fn apply(&self, yaml: &str) {
        let path = self.run.join(format!("apply-{}.yaml", yaml.len()));
        std::fs::write(&path, yaml).expect("write manifest");
        self.ok(&["apply", "-f", path.to_str().expect("utf-8 path")]);
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/kube-down.sh");
        let _ = Command::new("bash").arg(script).arg(&self.run).output();
    }
}

struct Operator(Child);

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn selection_json(c: &Cluster) -> serde_json::Value {
    let out = c.kubectl(&["get", "vsel", "host", "-n", "default", "-o", "json"]);
    serde_json::from_slice(&out.stdout).unwrap_or_default()
}

fn ready_on(c: &Cluster, version: &str) -> bool {
    let s = selection_json(c);
    s["status"]["activeVersion"] == version
        && s["status"]["observedGeneration"] == s["metadata"]["generation"]
        && s["status"]["conditions"].as_array().is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

#[test]
fn the_operator_converges_the_host_from_kubectl_apply() {
    require_docker(&[BUSYBOX]);
    let (plan, base) = ("e2e-kube", 21900);
    let _cleanup = Cleanup(plan.to_string());
    remove_plan_containers(plan);
    let dir = temp_dir(plan);
    let cluster = Cluster::up(dir.join("kube"));
    let manifests = Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests");
    for f in ["crds.yaml", "namespace.yaml", "rbac.yaml"] {
        cluster.ok(&["apply", "-f", manifests.join(f).to_str().unwrap()]);
    }
    cluster.ok(&[
        "wait",
        "--for",
        "condition=established",
        "--timeout=60s",
        "crd/versionselections.turnout.dev",
        "crd/portplans.turnout.dev",
    ]);
    // The operator runs as its own user, bound to the manifests' ClusterRole only.
    cluster.apply(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: turnout-operator-user}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: turnout}\nsubjects: [{kind: User, name: turnout-operator, apiGroup: rbac.authorization.k8s.io}]\n",
    );
    let operator_kubeconfig = cluster.run.join("operator.kubeconfig");
    let denied = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&operator_kubeconfig)
        .args(["get", "secrets", "-n", "default"])
        .output()
        .unwrap();
    assert!(
        !denied.status.success() && String::from_utf8_lossy(&denied.stderr).contains("Forbidden"),
        "the operator cannot list Secrets"
    );

    let yaml = demo_plan(plan, base, "future")
        .replace(
            "metadata: {name: host}",
            "metadata: {name: host, namespace: default, labels: {turnout.dev/host: e2e}}",
        )
        .replace(
            &format!("metadata: {{name: {plan}}}"),
            &format!("metadata: {{name: {plan}, namespace: default}}"),
        );
    cluster.apply(&yaml);

    let _op = Operator(
        Command::new(turnout_bin())
            .args([
                "run",
                "--namespace",
                "default",
                "--selector",
                "turnout.dev/host=e2e",
                "--listen",
                "127.0.0.1:21999",
            ])
            .arg("--state-dir")
            .arg(dir.join("state"))
            .arg("--data-dir")
            .arg(dir.join("data"))
            .env("KUBECONFIG", &operator_kubeconfig)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("operator.log")).expect("log file"))
            .spawn()
            .unwrap(),
    );
    let log = || std::fs::read_to_string(dir.join("operator.log")).unwrap_or_default();
    assert!(
        wait_until(Duration::from_secs(90), || ready_on(&cluster, "future")),
        "Ready on future: {}\noperator log:\n{}",
        selection_json(&cluster),
        log()
    );
    assert_eq!(running(plan), expected_running(plan, "future"));
    let table = cluster.ok(&["get", "vsel", "-n", "default"]);
    assert!(
        table.contains("PLAN")
            && table.contains("ACTIVE")
            && table.contains("READY")
            && table.contains("AGE"),
        "{table}"
    );
    assert!(
        table.contains(plan) && table.contains("future") && table.contains("True"),
        "{table}"
    );

    // Changing activeVersion switches the host.
    cluster.ok(&[
        "patch",
        "vsel",
        "host",
        "-n",
        "default",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"activeVersion":"dao"}}"#,
    ]);
    assert!(
        wait_until(Duration::from_secs(90), || ready_on(&cluster, "dao")),
        "Ready on dao: {}",
        selection_json(&cluster)
    );
    assert_eq!(running(plan), expected_running(plan, "dao"));
    let events = cluster.ok(&["get", "events", "-n", "default"]);
    assert!(
        events.contains("Starting") || events.contains("Stopping"),
        "actions are Events: {events}"
    );

    // An invalid plan: Ready=False, InvalidPlan, and the host untouched.
    let broken = yaml.replace(
        &format!("name: {plan}-dao-service-2"),
        &format!("name: {plan}-dao-service-1"),
    );
    cluster.apply(&broken);
    let invalid = wait_until(Duration::from_secs(60), || {
        selection_json(&cluster)["status"]["conditions"]
            .as_array()
            .is_some_and(|cs| {
                cs.iter()
                    .any(|c| c["type"] == "Ready" && c["reason"] == "InvalidPlan")
            })
    });
    assert!(
        invalid,
        "InvalidPlan reported: {}",
        selection_json(&cluster)
    );
    assert_eq!(
        running(plan),
        expected_running(plan, "dao"),
        "nothing changed on the host"
    );

    // Deleting the selection (onDelete: Keep) leaves the containers running.
    cluster.ok(&[
        "delete",
        "vsel",
        "host",
        "-n",
        "default",
        "--wait=true",
        "--timeout=60s",
    ]);
    assert_eq!(running(plan), expected_running(plan, "dao"));
}
