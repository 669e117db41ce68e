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

    /// `kubectl apply -f manifests/` (every object, in one go), then waits
    /// until the CRDs are established.
    fn install_manifests(&self) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests");
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
    fn patch_spec(&self, selection: &str, spec: &str) {
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

/// [`demo_plan`] in namespace default, its selection named `selection`
/// and labelled `turnout.dev/host: <host>`.
fn kube_demo_plan(plan: &str, base: u16, selection: &str, host: &str) -> String {
    demo_plan(plan, base, "future")
        .replace(
            "metadata: {name: host}",
            &format!(
                "metadata: {{name: {selection}, namespace: default, labels: {{turnout.dev/host: {host}}}}}"
            ),
        )
        .replace(
            &format!("metadata: {{name: {plan}}}"),
            &format!("metadata: {{name: {plan}, namespace: default}}"),
        )
}

struct Operator(Child);

impl Operator {
    /// Sends SIGTERM and waits up to `timeout` for the exit status.
    fn terminate(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
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
    for f in ["00-namespace.yaml", "01-crds.yaml", "02-rbac.yaml"] {
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

    let yaml = kube_demo_plan(plan, base, "host", "e2e");
    cluster.apply(&yaml);
    // Another host's selection (another label): this operator leaves it alone.
    let other_plan = "e2e-kube-other";
    let _other_cleanup = Cleanup(other_plan.to_string());
    let other = kube_demo_plan(other_plan, 22200, "other-host", "elsewhere");
    cluster.apply(&other);

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
    cluster.patch_spec("host", r#"{"activeVersion":"dao"}"#);
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

    // An invalid plan: Ready=False, InvalidPlan, and the host untouched. Only
    // the PortPlan changes: the operator watches plans for the selections
    // that reference them.
    let plan_doc = yaml.split("---").next().expect("the PortPlan document");
    let broken = plan_doc.replace(
        &format!("name: {plan}-dao-service-2"),
        &format!("name: {plan}-dao-service-1"),
    );
    cluster.apply(&broken);
    let invalid = wait_until(Duration::from_secs(30), || {
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

    // Fixing the plan reconciles the selection at once.
    cluster.apply(plan_doc);
    assert!(
        wait_until(Duration::from_secs(30), || ready_on(&cluster, "dao")),
        "Ready again after the plan was fixed: {}",
        selection_json(&cluster)
    );
    assert_eq!(running(plan), expected_running(plan, "dao"));

    let other_sel = cluster.ok(&["get", "vsel", "other-host", "-n", "default", "-o", "json"]);
    let other_sel: serde_json::Value = serde_json::from_str(&other_sel).unwrap();
    assert!(
        other_sel["status"].is_null() && other_sel["metadata"]["finalizers"].is_null(),
        "a selection of another host is not touched: {other_sel}"
    );
    assert!(running(other_plan).is_empty(), "{:?}", running(other_plan));

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

/// A kubeconfig for the manifests' ServiceAccount, with the token the
/// controller manager's token controller gave it.
fn service_account_kubeconfig(c: &Cluster) -> PathBuf {
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

fn demo_json(c: &Cluster, kind: &str, name: &str) -> serde_json::Value {
    let out = c.kubectl(&[
        "get",
        kind,
        name,
        "-n",
        "default",
        "-o",
        "json",
        "--ignore-not-found",
    ]);
    serde_json::from_slice(&out.stdout).unwrap_or_default()
}

fn demo_ready_on(c: &Cluster, version: &str) -> bool {
    let s = demo_json(c, "vsel", "demo-host");
    s["status"]["activeVersion"] == version
        && s["status"]["observedGeneration"] == s["metadata"]["generation"]
        && s["status"]["conditions"].as_array().is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

/// SQL against the demo's MariaDB; the password is read inside the
/// container from its secret file, never put on a command line.
fn mariadb(db: &str, sql: &str) -> String {
    docker(&[
        "exec",
        "demo-mariadb",
        "sh",
        "-c",
        &format!("MYSQL_PWD=\"$(cat /run/secrets/db-root)\" mariadb -uroot -N -B {db} -e '{sql}'"),
    ])
}

fn lease_holder(c: &Cluster) -> String {
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

fn start_operator(dir: &Path, kubeconfig: &Path, identity: &str, port: u16) -> Operator {
    Operator(
        Command::new(turnout_bin())
            .args([
                "run",
                "--namespace",
                "default",
                "--identity",
                identity,
                "--lease-seconds",
                "6",
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .arg("--state-dir")
            .arg(dir.join(format!("state-{identity}")))
            .arg("--data-dir")
            .arg(dir.join("data"))
            .env("KUBECONFIG", kubeconfig)
            .env("POD_NAMESPACE", "turnout-system")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(dir.join(format!("operator-{identity}.log")))
                    .expect("log file"),
            )
            .spawn()
            .expect("turnout run starts"),
    )
}

/// The issue's "done when": `kubectl apply -f manifests/` and then the demo
/// example, unchanged, against the real API server; the operator, under its
/// own ServiceAccount token, converges the real engine (real MariaDB,
/// PostgreSQL and Redis), switches with a DataSync it owns, survives being
/// killed mid-switch, hands over its Lease, and honours `onDelete: Stop`.
#[test]
fn manifests_and_the_demo_example_converge_under_the_service_account() {
    require_docker(&[
        BUSYBOX,
        "turnout/mariadb:demo",
        "turnout/postgres:demo",
        "turnout/redis:demo",
    ]);
    let plan = "demo";
    let _cleanup = Cleanup(plan.to_string());
    remove_plan_containers(plan);
    // The demo's database password file, as `make demo` makes it.
    let secret_dir = Path::new("/run/turnout-demo");
    std::fs::create_dir_all(secret_dir).expect("create /run/turnout-demo");
    let password = secret_dir.join("db-password");
    if std::fs::metadata(&password).map(|m| m.len()).unwrap_or(0) == 0 {
        let out = Command::new("sh")
            .args([
                "-c",
                "umask 077; head -c 18 /dev/urandom | base64 > /run/turnout-demo/db-password",
            ])
            .status()
            .expect("sh");
        assert!(out.success());
    }
    let dir = temp_dir("e2e-kube-demo");
    let cluster = Cluster::up(dir.join("kube"));
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");

    // kubectl apply -f manifests/ : every object, in one go.
    cluster.install_manifests();
    let sa = service_account_kubeconfig(&cluster);
    let can = |verb: &str, what: &str| {
        Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&sa)
            .args(["auth", "can-i", verb, what, "-n", "default"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    };
    assert_eq!(can("get", "secrets"), "yes");
    assert_eq!(can("list", "secrets"), "no", "never list Secrets");
    assert_eq!(can("watch", "secrets"), "no", "never watch Secrets");
    assert_eq!(can("create", "datasyncs.turnout.dev"), "yes");

    // kubectl apply -f examples/standalone-demo.yaml : the same file standalone mode runs.
    let example = root.join("examples/standalone-demo.yaml");
    cluster.ok(&["apply", "-n", "default", "-f", example.to_str().unwrap()]);

    let mut op = start_operator(&dir, &sa, "op-a", 21997);
    let log = |id: &str| {
        std::fs::read_to_string(dir.join(format!("operator-{id}.log"))).unwrap_or_default()
    };
    assert!(
        wait_until(Duration::from_secs(180), || demo_ready_on(
            &cluster, "future"
        )),
        "Ready on future: {}\noperator log:\n{}",
        demo_json(&cluster, "vsel", "demo-host"),
        log("op-a")
    );
    let infra = ["demo-mariadb", "demo-postgres", "demo-redis"];
    let mut want: Vec<String> = infra.iter().map(|s| s.to_string()).collect();
    want.extend(
        [
            "future-service-1",
            "future-service-2",
            "future-service-3",
            "future-shared-service",
        ]
        .map(String::from),
    );
    want.sort();
    assert_eq!(running(plan), want);
    assert_eq!(lease_holder(&cluster), "op-a");

    // A row only the source version's database holds.
    let mark = format!("mark-{}", std::process::id());
    mariadb(
        "future_users",
        &format!(
            "CREATE TABLE IF NOT EXISTS marks (v VARCHAR(64)); INSERT INTO marks VALUES (\"{mark}\")"
        ),
    );

    // Switch to dao, and kill the operator in the middle of it.
    cluster.patch_spec("demo-host", r#"{"activeVersion":"dao"}"#);
    let stopping = wait_until(Duration::from_secs(60), || !is_running("future-service-1"));
    assert!(stopping, "the switch began: {}", log("op-a"));
    let _ = op.0.kill();
    let _ = op.0.wait();
    let dao_up = is_running("dao-service-1") && is_running("dao-shared-service");
    assert!(!dao_up, "killed before the switch finished");

    // Restarted under the same identity: it takes its Lease back at once
    // and finishes the switch, copying the data first.
    let mut op = start_operator(&dir, &sa, "op-a", 21997);
    assert!(
        wait_until(Duration::from_secs(180), || demo_ready_on(&cluster, "dao")),
        "Ready on dao after the restart: {}\noperator log:\n{}",
        demo_json(&cluster, "vsel", "demo-host"),
        log("op-a")
    );
    let mut want: Vec<String> = infra.iter().map(|s| s.to_string()).collect();
    want.extend(
        [
            "dao-service-1",
            "dao-service-2",
            "dao-service-3",
            "dao-governance-service",
            "dao-shared-service",
        ]
        .map(String::from),
    );
    want.sort();
    assert_eq!(running(plan), want);
    let copied = mariadb("dao_users", "SELECT v FROM marks");
    assert!(
        copied.lines().any(|l| l.trim() == mark),
        "future's data reached dao: {copied}"
    );

    // The operator's /metrics count its reconciles and say it leads.
    let metrics = http_get(21997, "/metrics");
    assert_eq!(metric_sum(&metrics, "turnout_leader"), 1.0, "{metrics}");
    assert!(
        metric_sum(&metrics, "turnout_reconciles_total") >= 1.0,
        "{metrics}"
    );
    assert!(
        metric_sum(&metrics, "turnout_switch_phase_duration_seconds_count") >= 1.0,
        "the switch's phases were timed: {metrics}"
    );

    // One DataSync, owned by the selection, Succeeded.
    let list = cluster.ok(&[
        "get",
        "datasyncs",
        "-n",
        "default",
        "-o",
        "json",
        "--show-managed-fields",
    ]);
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "one DataSync per switch: {list}");
    let ds = &items[0];
    let ds_name = ds["metadata"]["name"].as_str().unwrap().to_string();
    assert_eq!(ds["status"]["phase"], "Succeeded", "{ds}");
    assert_eq!(
        ds["metadata"]["ownerReferences"][0]["kind"],
        "VersionSelection"
    );
    assert_eq!(ds["metadata"]["ownerReferences"][0]["name"], "demo-host");
    assert_eq!(
        demo_json(&cluster, "vsel", "demo-host")["status"]["lastSwitch"]["dataSync"],
        ds_name.as_str()
    );
    let managers: Vec<&str> = ds["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["manager"].as_str())
        .collect();
    assert!(managers.contains(&"turnout"), "{managers:?}");

    // Creating it again is a no-op: refused as existing, and its status stays.
    let again = format!(
        "apiVersion: turnout.dev/v1alpha1\nkind: DataSync\nmetadata: {{name: {ds_name}, namespace: default}}\nspec: {{planRef: demo, from: future, to: dao}}\n"
    );
    let path = dir.join("datasync-again.yaml");
    std::fs::write(&path, again).unwrap();
    let created = cluster.kubectl(&["create", "-f", path.to_str().unwrap()]);
    assert!(
        !created.status.success() && output_text(&created).contains("AlreadyExists"),
        "{}",
        output_text(&created)
    );
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        demo_json(&cluster, "datasync", &ds_name)["status"],
        ds["status"],
        "a Succeeded DataSync never runs again"
    );

    // DataSyncs people create: one into the running version waits, Pending;
    // one into the stopped version runs once and copies.
    let mark2 = format!("back-{}", std::process::id());
    mariadb(
        "dao_users",
        &format!("INSERT INTO marks VALUES (\"{mark2}\")"),
    );
    let user_syncs = dir.join("user-datasyncs.yaml");
    std::fs::write(
        &user_syncs,
        "apiVersion: turnout.dev/v1alpha1\nkind: DataSync\nmetadata: {name: into-running, namespace: default}\nspec: {planRef: demo, from: future, to: dao}\n---\napiVersion: turnout.dev/v1alpha1\nkind: DataSync\nmetadata: {name: back-to-future, namespace: default}\nspec: {planRef: demo, from: dao, to: future}\n",
    )
    .unwrap();
    cluster.ok(&["apply", "-f", user_syncs.to_str().unwrap()]);
    assert!(
        wait_until(Duration::from_secs(60), || demo_json(
            &cluster,
            "datasync",
            "back-to-future"
        )["status"]["phase"]
            == "Succeeded"),
        "{}\n{}",
        demo_json(&cluster, "datasync", "back-to-future"),
        log("op-a")
    );
    let back = mariadb("future_users", "SELECT v FROM marks");
    assert!(
        back.lines().any(|l| l.trim() == mark2),
        "dao's data reached future: {back}"
    );
    let waiting = demo_json(&cluster, "datasync", "into-running");
    assert_eq!(waiting["status"]["phase"], "Pending", "{waiting}");
    assert!(
        waiting["status"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("dao is running")),
        "{waiting}"
    );
    assert!(
        cluster
            .ok(&["get", "events", "-n", "default"])
            .contains("Synced"),
        "the DataSync's outcome is an Event"
    );
    cluster.ok(&["delete", "datasync", "into-running", "-n", "default"]);

    // A second instance waits for the Lease; when the first stops, it leads,
    // and the converged host is left as it is.
    let dao_started = started_at("dao-service-1");
    let op_b = start_operator(&dir, &sa, "op-b", 21996);
    let waiting = wait_until(Duration::from_secs(30), || {
        log("op-b").contains("waiting for the Lease")
    });
    assert!(waiting, "op-b waits: {}", log("op-b"));
    assert_eq!(
        metric_sum(&http_get(21996, "/metrics"), "turnout_leader"),
        0.0,
        "a waiting instance does not lead"
    );
    assert_eq!(lease_holder(&cluster), "op-a");
    let exit = op.terminate(Duration::from_secs(60));
    assert!(
        exit.is_some_and(|s| s.success()),
        "SIGTERM: op-a exits 0 ({exit:?}): {}",
        log("op-a")
    );
    assert!(
        wait_until(Duration::from_secs(20), || lease_holder(&cluster) == "op-b"),
        "op-b took the released Lease: {}",
        log("op-b")
    );
    assert!(
        wait_until(Duration::from_secs(30), || log("op-b")
            .contains("watching VersionSelections")),
        "{}",
        log("op-b")
    );
    std::thread::sleep(Duration::from_secs(3));
    assert!(demo_ready_on(&cluster, "dao"));
    assert_eq!(
        started_at("dao-service-1"),
        dao_started,
        "nothing restarted"
    );

    // onDelete: Stop — deleting the selection stops (never removes) its
    // containers; its DataSync goes with it (garbage collection).
    cluster.patch_spec("demo-host", r#"{"onDelete":"Stop"}"#);
    cluster.ok(&[
        "delete",
        "vsel",
        "demo-host",
        "-n",
        "default",
        "--wait=true",
        "--timeout=120s",
    ]);
    assert!(running(plan).is_empty(), "all stopped: {:?}", running(plan));
    for c in &want {
        assert!(
            docker_raw(&["inspect", c]).status.success(),
            "{c} was stopped, not removed"
        );
    }
    assert!(
        wait_until(Duration::from_secs(60), || demo_json(
            &cluster, "datasync", &ds_name
        )
        .is_null()),
        "the DataSync was garbage-collected with its selection"
    );
    drop(op_b);
}

/// A container this test started (never one turnout manages).
struct TestContainer(String);

impl Drop for TestContainer {
    fn drop(&mut self) {
        let _ = docker_raw(&["rm", "-f", &self.0]);
    }
}

/// An image this test built.
struct TestImage(&'static str);

impl Drop for TestImage {
    fn drop(&mut self) {
        let _ = docker_raw(&["image", "rm", self.0]);
    }
}

/// What manifests/03-deployment.yaml runs, run by the engine instead of a
/// kubelet: the operator image (built locally by
/// scripts/build-operator-image.sh), host network and PIDs, read-only root,
/// all capabilities dropped but KILL, the Docker socket and the state and
/// data directories mounted at their host paths, and the ServiceAccount's
/// token where in-cluster configuration looks for it.
#[test]
fn the_operator_image_runs_as_the_deployment_does_with_in_cluster_config() {
    require_docker(&[BUSYBOX]);
    let (plan, base) = ("e2e-kube-pod", 22100);
    let _cleanup = Cleanup(plan.to_string());
    remove_plan_containers(plan);
    let dir = temp_dir(plan);
    let image = "turnout/operator:e2e";
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/build-operator-image.sh");
    let built = Command::new("bash")
        .arg(&script)
        .arg(turnout_bin())
        .arg(image)
        .output()
        .expect("bash runs scripts/build-operator-image.sh");
    assert!(built.status.success(), "{}", output_text(&built));
    let _image = TestImage(image);

    let cluster = Cluster::up(dir.join("kube"));
    cluster.install_manifests();
    // The files a kubelet projects into the pod for its ServiceAccount.
    let sa_kubeconfig = service_account_kubeconfig(&cluster);
    let token = std::fs::read_to_string(&sa_kubeconfig)
        .unwrap()
        .lines()
        .find_map(|l| l.trim().strip_prefix("token: ").map(str::to_string))
        .expect("a token");
    let sa = dir.join("serviceaccount");
    std::fs::create_dir_all(&sa).unwrap();
    std::fs::write(sa.join("token"), token).unwrap();
    std::fs::copy(cluster.run.join("pki/ca.crt"), sa.join("ca.crt")).unwrap();
    std::fs::write(sa.join("namespace"), "turnout-system").unwrap();

    let yaml = kube_demo_plan(plan, base, "host", "pod");
    cluster.apply(&yaml);

    let (state, data) = (dir.join("state"), dir.join("data"));
    std::fs::create_dir_all(&state).unwrap();
    std::fs::create_dir_all(&data).unwrap();
    let (state, data) = (state.to_str().unwrap(), data.to_str().unwrap());
    let name = "turnout-e2e-operator-pod";
    let _ = docker_raw(&["rm", "-f", name]);
    let _pod = TestContainer(name.to_string());
    let started = docker_raw(&[
        "run",
        "-d",
        "--name",
        name,
        "--network",
        "host",
        "--pid",
        "host",
        "--read-only",
        "--user",
        "0",
        "--cap-drop",
        "ALL",
        "--cap-add",
        "KILL",
        "--security-opt",
        "no-new-privileges",
        "-v",
        "/var/run/docker.sock:/var/run/docker.sock",
        "-v",
        &format!("{state}:{state}"),
        "-v",
        &format!("{data}:{data}"),
        "-v",
        &format!(
            "{}:/var/run/secrets/kubernetes.io/serviceaccount:ro",
            sa.display()
        ),
        "-e",
        "KUBERNETES_SERVICE_HOST=127.0.0.1",
        "-e",
        "KUBERNETES_SERVICE_PORT=27443",
        "-e",
        "POD_NAME=turnout-pod-1",
        "-e",
        "POD_NAMESPACE=turnout-system",
        "-e",
        "NO_COLOR=1",
        image,
        "run",
        "--listen",
        "127.0.0.1:21994",
        "--selector",
        "turnout.dev/host=pod",
        "--state-dir",
        state,
        "--data-dir",
        data,
    ]);
    assert!(started.status.success(), "{}", output_text(&started));
    let logs = || output_text(&docker_raw(&["logs", name]));
    assert!(
        wait_until(Duration::from_secs(90), || ready_on(&cluster, "future")),
        "Ready on future: {}\noperator log:\n{}",
        selection_json(&cluster),
        logs()
    );
    assert_eq!(running(plan), expected_running(plan, "future"));
    assert_eq!(http_get(21994, "/healthz").trim(), "ok");
    assert_eq!(
        metric_sum(&http_get(21994, "/metrics"), "turnout_leader"),
        1.0
    );
    assert_eq!(lease_holder(&cluster), "turnout-pod-1");

    // A switch from inside the container.
    cluster.patch_spec("host", r#"{"activeVersion":"dao"}"#);
    assert!(
        wait_until(Duration::from_secs(90), || ready_on(&cluster, "dao")),
        "Ready on dao: {}\n{}",
        selection_json(&cluster),
        logs()
    );
    assert_eq!(running(plan), expected_running(plan, "dao"));

    // `docker stop` (what a kubelet does) in the middle of a switch back to
    // future: the action under way finishes, the process exits 0 and
    // releases the Lease; started again, it finishes the switch.
    cluster.patch_spec("host", r#"{"activeVersion":"future"}"#);
    let dao_first = &version_containers(plan, "dao")[0];
    assert!(
        wait_until(Duration::from_secs(60), || !is_running(dao_first)),
        "the switch began: {}",
        logs()
    );
    docker(&["stop", "-t", "60", name]);
    let code = docker(&["inspect", "-f", "{{.State.ExitCode}}", name]);
    assert_eq!(code.trim(), "0", "{}", logs());
    assert!(logs().contains("signal received"), "{}", logs());
    assert_eq!(lease_holder(&cluster), "", "the Lease was released");
    docker(&["start", name]);
    assert!(
        wait_until(Duration::from_secs(90), || ready_on(&cluster, "future")),
        "Ready on future after the restart: {}\n{}",
        selection_json(&cluster),
        logs()
    );
    assert_eq!(running(plan), expected_running(plan, "future"));

    // A plain stop of a converged operator: a clean exit, the Lease released.
    docker(&["stop", "-t", "30", name]);
    let code = docker(&["inspect", "-f", "{{.State.ExitCode}}", name]);
    assert_eq!(code.trim(), "0", "{}", logs());
    assert_eq!(lease_holder(&cluster), "", "the Lease was released");
}
