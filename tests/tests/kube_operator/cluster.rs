//! The test's Kubernetes API server (scripts/kube-up.sh on loopback, stopped
//! when dropped), kubectl against it as admin, the manifests' ServiceAccount
//! and what the operator tests read back from the cluster.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;
use turnout_e2e::*;

/// The ServiceAccount manifests/02-rbac.yaml gives the operator.
pub const OPERATOR_SA: &str = "system:serviceaccount:turnout-system:turnout";

/// The API server's port (fixed: the in-cluster configuration of the image
/// test names it). The kube tests run one at a time (.config/nextest.toml).
pub const API_PORT: &str = "27443";

pub struct Cluster {
    pub run: PathBuf,
}

impl Cluster {
    pub fn up(run: PathBuf) -> Cluster {
        let script = repo().join("scripts/kube-up.sh");
        let out = Command::new("bash")
            .arg(&script)
            .arg(&run)
            .env("TURNOUT_KUBE_API_PORT", API_PORT)
            .env("TURNOUT_KUBE_ETCD_PORT", "27379")
            .env("TURNOUT_KUBE_ETCD_PEER_PORT", "27380")
            .env("TURNOUT_KUBE_CM_PORT", "27257")
            .output()
            .expect("bash runs scripts/kube-up.sh");
        assert!(
            out.status.success(),
            "scripts/kube-up.sh failed (it builds kube-apiserver on first use): {}",
            output_text(&out)
        );
        Cluster { run }
    }

    /// kubectl as the cluster's admin.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(self.run.join("kubeconfig"))
            .args(args)
            .output()
            .expect("kubectl is installed")
    }

    /// kubectl as admin; fails the test unless it succeeds. Its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    /// `kubectl apply -f manifests/` (every object, in one go), then waits
    /// until the CRDs are established.
    pub fn install_manifests(&self) {
        let dir = repo().join("manifests");
        self.ok(&["apply", "-f", dir.to_str().expect("utf-8 path")]);
        self.ok(&[
            "wait",
            "--for",
            "condition=established",
            "--timeout=60s",
            "crd/versionselections.turnout.dev",
            "crd/portplans.turnout.dev",
            "crd/datasyncs.turnout.dev",
        ]);
    }

    /// Merge-patches the spec of VersionSelection `selection` in namespace default.
    pub fn patch_spec(&self, selection: &str, spec: &str) {
        self.ok(&[
            "patch",
            "vsel",
            selection,
            "-n",
            "default",
            "--type",
            "merge",
            "-p",
            &format!("{{\"spec\":{spec}}}"),
        ]);
    }

    pub fn apply(&self, yaml: &str) {
        let path = self.run.join(format!("apply-{}.yaml", yaml.len()));
        std::fs::write(&path, yaml).expect("write manifest");
        self.ok(&["apply", "-f", path.to_str().expect("utf-8 path")]);
    }

    /// `kubectl auth can-i VERB RESOURCE` as the operator's ServiceAccount,
    /// in `namespace` (None: in every namespace): "yes" or "no".
    pub fn operator_can(&self, verb: &str, resource: &str, namespace: Option<&str>) -> String {
        let mut args = vec!["auth", "can-i", verb, resource, "--as", OPERATOR_SA];
        match namespace {
            Some(ns) => args.extend(["-n", ns]),
            None => args.push("--all-namespaces"),
        }
        let out = self.kubectl(&args);
        // "yes", or "no" and perhaps why ("no - RBAC: ...").
        let stdout = String::from_utf8_lossy(&out.stdout);
        let answer = stdout.split_whitespace().next().unwrap_or_default();
        assert!(
            answer == "yes" || answer == "no",
            "kubectl {args:?}: {}",
            output_text(&out)
        );
        answer.to_string()
    }

    /// Serves `namespace` the way manifests/components/serve-namespace/
    /// says to: a kustomization that sets the namespace and adds the
    /// component, applied with `kubectl apply -k`.
    pub fn serve_namespace(&self, namespace: &str) {
        let dir = self.run.join(format!("serve-{namespace}"));
        std::fs::create_dir_all(&dir).expect("create the overlay directory");
        // Kustomize refuses an absolute path to a component.
        let dir = dir.canonicalize().expect("overlay path");
        let component = repo()
            .join("manifests/components/serve-namespace")
            .canonicalize()
            .expect("manifests/components/serve-namespace exists");
        let mut relative = PathBuf::new();
        for _ in dir.components().skip(1) {
            relative.push("..");
        }
        relative.push(component.strip_prefix("/").expect("an absolute path"));
        let kustomization = format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: {namespace}\ncomponents:\n  - {}\n",
            relative.display()
        );
        std::fs::write(dir.join("kustomization.yaml"), kustomization).expect("write kustomization");
        self.ok(&["apply", "-k", dir.to_str().expect("utf-8 path")]);
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let script = repo().join("scripts/kube-down.sh");
        let _ = Command::new("bash").arg(script).arg(&self.run).output();
    }
}

/// The repository's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `plan` in namespace default with its selection `selection` of `active`,
/// labelled `turnout.dev/host: <host>`.
pub fn in_default(plan: PlanBuilder, selection: &str, active: &str, host: &str) -> PlanBuilder {
    let name = plan.name().to_string();
    plan.namespace("default")
        .selection(Selection::new(selection, &name, active).label("turnout.dev/host", host))
}

/// [`demo`] on `future`, [`in_default`].
pub fn kube_demo(plan: &str, base: u16, selection: &str, host: &str) -> PlanBuilder {
    in_default(demo(plan, base), selection, "future", host)
}

/// [`kube_demo`] as YAML.
pub fn kube_demo_plan(plan: &str, base: u16, selection: &str, host: &str) -> String {
    kube_demo(plan, base, selection, host).yaml()
}

/// A `turnout run` this test started; killed when dropped.
pub struct Operator(pub Child);

impl Operator {
    /// Sends SIGTERM and waits up to `timeout` for the exit status.
    pub fn terminate(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(st)) = self.0.try_wait() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Object `kind`/`name` of namespace default as JSON (null when absent).
pub fn object_json(c: &Cluster, kind: &str, name: &str) -> Value {
    object_json_in(c, "default", kind, name)
}

/// Object `kind`/`name` of `namespace` as JSON (null when absent).
pub fn object_json_in(c: &Cluster, namespace: &str, kind: &str, name: &str) -> Value {
    let out = c.kubectl(&[
        "get",
        kind,
        name,
        "-n",
        namespace,
        "-o",
        "json",
        "--ignore-not-found",
    ]);
    serde_json::from_slice(&out.stdout).unwrap_or_default()
}

/// The `Ready` condition of VersionSelection `selection` (null when absent).
pub fn ready_condition(c: &Cluster, selection: &str) -> Value {
    ready_condition_of(&object_json(c, "vsel", selection))
}

/// The `Ready` condition of a VersionSelection's JSON (null when absent).
pub fn ready_condition_of(s: &Value) -> Value {
    s["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready").cloned())
        .unwrap_or_default()
}

/// Whether `selection` reports Ready on `version` for its current generation.
pub fn ready_on(c: &Cluster, selection: &str, version: &str) -> bool {
    let s = object_json(c, "vsel", selection);
    s["status"]["activeVersion"] == version
        && s["status"]["observedGeneration"] == s["metadata"]["generation"]
        && ready_condition(c, selection)["status"] == "True"
}

pub fn lease_holder(c: &Cluster) -> String {
    let out = c.kubectl(&[
        "get",
        "lease",
        "-n",
        "turnout-system",
        "-o",
        "jsonpath={.items[*].spec.holderIdentity}",
    ]);
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A kubeconfig for the manifests' ServiceAccount, with the token the
/// controller manager's token controller gave it.
pub fn service_account_kubeconfig(c: &Cluster) -> PathBuf {
    let mut secret = String::new();
    let found = wait_until(Duration::from_secs(60), || {
        secret = c
            .ok(&[
                "get",
                "serviceaccount",
                "turnout",
                "-n",
                "turnout-system",
                "-o",
                "jsonpath={.secrets[0].name}",
            ])
            .trim()
            .to_string();
        !secret.is_empty()
    });
    assert!(found, "the ServiceAccount turnout got a token Secret");
    let token_b64 = c.ok(&[
        "get",
        "secret",
        &secret,
        "-n",
        "turnout-system",
        "-o",
        "jsonpath={.data.token}",
    ]);
    let decoded = Command::new("base64")
        .arg("-d")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(token_b64.trim().as_bytes())?;
            child.wait_with_output()
        })
        .expect("base64 decodes");
    let token = String::from_utf8(decoded.stdout).expect("a token is text");
    let template =
        std::fs::read_to_string(c.run.join("operator.kubeconfig")).expect("operator kubeconfig");
    let text: String = template
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("token:") {
                format!("    token: {}", token.trim())
            } else {
                l.replace("turnout-operator", "turnout-sa")
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let path = c.run.join("sa.kubeconfig");
    std::fs::write(&path, text + "\n").expect("write kubeconfig");
    path
}
