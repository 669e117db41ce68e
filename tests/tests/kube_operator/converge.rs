//! `kubectl apply` drives the host: the operator, under the manifests'
//! ServiceAccount, converges a plan, switches it, reports an invalid plan
//! without touching the host, leaves another host's selection alone, and
//! refuses a secret read from a file on the host.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use turnout_e2e::*;

use crate::cluster::{
    Cluster, Operator, in_default, kube_demo, kube_demo_plan, object_json, ready_condition,
    ready_on, service_account_kubeconfig,
};

#[test]
fn the_operator_converges_the_host_from_kubectl_apply() {
    require_docker(&[BUSYBOX]);
    let (plan, base) = ("e2e-kube", 28500);
    let _cleanup = Cleanup(plan.to_string());
    remove_plan_containers(plan);
    let dir = temp_dir(plan);
    let cluster = Cluster::up(dir.join("kube"));
    cluster.install_manifests();
    // The operator runs under the manifests' ServiceAccount and nothing else.
    let sa = service_account_kubeconfig(&cluster);
    let denied = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&sa)
        .args(["get", "secrets", "-n", "default"])
        .output()
        .unwrap();
    assert!(
        !denied.status.success() && String::from_utf8_lossy(&denied.stderr).contains("Forbidden"),
        "the operator cannot list Secrets: {}",
        output_text(&denied)
    );

    let host = kube_demo(plan, base, "host", "e2e");
    cluster.apply(&host.yaml());
    // Another host's selection (another label): this operator leaves it alone.
    let other_plan = "e2e-kube-other";
    let _other_cleanup = Cleanup(other_plan.to_string());
    let other = kube_demo_plan(other_plan, 28550, "other-host", "elsewhere");
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
                "127.0.0.1:28700",
            ])
            .arg("--state-dir")
            .arg(dir.join("state"))
            .arg("--data-dir")
            .arg(dir.join("data"))
            .env("KUBECONFIG", &sa)
            // Where the Deployment takes its Lease: its own namespace.
            .env("POD_NAMESPACE", "turnout-system")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("operator.log")).expect("log file"))
            .spawn()
            .unwrap(),
    );
    let log = || std::fs::read_to_string(dir.join("operator.log")).unwrap_or_default();
    assert!(
        wait_until(Duration::from_secs(90), || ready_on(
            &cluster, "host", "future"
        )),
        "Ready on future: {}\noperator log:\n{}",
        object_json(&cluster, "vsel", "host"),
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

    a_file_secret_is_refused_and_its_container_never_created(&cluster, &dir, &log);

    // Changing activeVersion switches the host.
    cluster.patch_spec("host", r#"{"activeVersion":"dao"}"#);
    assert!(
        wait_until(Duration::from_secs(90), || ready_on(
            &cluster, "host", "dao"
        )),
        "Ready on dao: {}",
        object_json(&cluster, "vsel", "host")
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
    let broken = host.clone().edit(&format!("{plan}-dao-service-2"), |c| {
        c.rename(&format!("{plan}-dao-service-1"))
    });
    cluster.apply(&to_yaml(&[broken.port_plan()]));
    let invalid = wait_until(Duration::from_secs(30), || {
        ready_condition(&cluster, "host")["reason"] == "InvalidPlan"
    });
    assert!(
        invalid,
        "InvalidPlan reported: {}",
        object_json(&cluster, "vsel", "host")
    );
    assert_eq!(
        running(plan),
        expected_running(plan, "dao"),
        "nothing changed on the host"
    );

    // Fixing the plan reconciles the selection at once.
    cluster.apply(&to_yaml(&[host.port_plan()]));
    assert!(
        wait_until(Duration::from_secs(30), || ready_on(
            &cluster, "host", "dao"
        )),
        "Ready again after the plan was fixed: {}",
        object_json(&cluster, "vsel", "host")
    );
    assert_eq!(running(plan), expected_running(plan, "dao"));

    let other_sel = object_json(&cluster, "vsel", "other-host");
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

/// A plan whose database password comes `from: {file: ...}` — a real,
/// readable file on the host — applied to the cluster: the operator
/// refuses the source (it would read its own files), says so in the
/// selection's Ready condition, naming the secret and secretKeyRef, and
/// never creates the container nor reads the value anywhere.
fn a_file_secret_is_refused_and_its_container_never_created(
    cluster: &Cluster,
    dir: &Path,
    log: &dyn Fn() -> String,
) {
    let (plan, base) = ("e2e-h3-file-secret", 28600);
    let _cleanup = Cleanup(plan.to_string());
    remove_plan_containers(plan);
    let value = format!("from-a-host-file-{}", std::process::id());
    let file = dir.join("db-password");
    std::fs::write(&file, &value).expect("write the password file");
    let source = file.display().to_string();
    let reads_a_file = demo(plan, base).edit(&format!("{plan}-db"), |db| {
        db.secret_file("db-password", "/run/secrets/db-password", &source)
    });
    let yaml = in_default(reads_a_file, plan, "future", "e2e").yaml();
    assert!(yaml.contains(&source), "{yaml}");
    cluster.apply(&yaml);

    let reported = wait_until(Duration::from_secs(60), || {
        ready_condition(cluster, plan)["reason"] == "SecretUnavailable"
    });
    assert!(
        reported,
        "SecretUnavailable reported: {}\noperator log:\n{}",
        object_json(cluster, "vsel", plan),
        log()
    );
    let ready = ready_condition(cluster, plan);
    assert_eq!(ready["status"], "False", "{ready}");
    let message = ready["message"].as_str().unwrap_or_default();
    let db = format!("{plan}-db");
    for needle in [
        "secret db-password",
        db.as_str(),
        "from.file",
        "secretKeyRef",
    ] {
        assert!(message.contains(needle), "{needle:?} in {message:?}");
    }
    let inspected = docker_raw(&["inspect", &db]);
    assert!(
        !inspected.status.success(),
        "{db} was not created: {}",
        output_text(&inspected)
    );
    let status = object_json(cluster, "vsel", plan).to_string();
    let events = cluster.ok(&["get", "events", "-n", "default", "-o", "json"]);
    assert!(!status.contains(&value), "the value is not in the status");
    assert!(!events.contains(&value), "the value is not in an Event");
    assert!(!log().contains(&value), "the value is not in the log");
    let copies = files_holding(&dir.join("state"), &value);
    assert!(copies.is_empty(), "the value was read into {copies:?}");
    cluster.ok(&[
        "delete",
        "vsel",
        plan,
        "-n",
        "default",
        "--wait=true",
        "--timeout=60s",
    ]);
}

/// Files under `dir` whose contents include `needle`.
fn files_holding(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for e in entries.flatten() {
        let path = e.path();
        let Ok(t) = e.file_type() else { continue };
        if t.is_dir() {
            found.extend(files_holding(&path, needle));
        } else if t.is_file()
            && std::fs::read(&path)
                .is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
        {
            found.push(path);
        }
    }
    found
}
