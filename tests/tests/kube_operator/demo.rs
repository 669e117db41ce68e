//! The Kubernetes demo (examples/kubernetes/demo.yaml) on the real engine
//! with real MariaDB, PostgreSQL and Redis, after `kubectl apply -f
//! manifests/`: the operator, under its own ServiceAccount token, reads the
//! databases' password from a Secret, converges, switches with a DataSync it
//! owns, survives being killed mid-switch, hands over its Lease, and honours
//! `onDelete: Stop`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use turnout_e2e::*;

use crate::cluster::{
    Cluster, Operator, lease_holder, object_json, ready_on, repo, service_account_kubeconfig,
};

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

/// `kubectl apply -f manifests/`, a Secret, and the Kubernetes demo,
/// against the real API server and engine.
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

    // The databases' password as a Secret (from the same file as `make
    // demo`: the databases' volumes keep the password they started with),
    // then the demo whose secrets name it, as examples/kubernetes/demo.yaml says.
    cluster.ok(&[
        "create",
        "secret",
        "generic",
        "turnout-demo-db",
        "-n",
        "default",
        "--from-file=password=/run/turnout-demo/db-password",
    ]);
    let example = repo().join("examples/kubernetes/demo.yaml");
    cluster.ok(&["apply", "-n", "default", "-f", example.to_str().unwrap()]);

    let mut op = start_operator(&dir, &sa, "op-a", 28702);
    let log = |id: &str| {
        std::fs::read_to_string(dir.join(format!("operator-{id}.log"))).unwrap_or_default()
    };
    assert!(
        wait_until(Duration::from_secs(180), || ready_on(
            &cluster,
            "demo-host",
            "future"
        )),
        "Ready on future: {}\noperator log:\n{}",
        object_json(&cluster, "vsel", "demo-host"),
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
    let mut op = start_operator(&dir, &sa, "op-a", 28702);
    assert!(
        wait_until(Duration::from_secs(180), || ready_on(
            &cluster,
            "demo-host",
            "dao"
        )),
        "Ready on dao after the restart: {}\noperator log:\n{}",
        object_json(&cluster, "vsel", "demo-host"),
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
    let metrics = http_get(28702, "/metrics");
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
        object_json(&cluster, "vsel", "demo-host")["status"]["lastSwitch"]["dataSync"],
        ds_name.as_str()
    );
    let managers: Vec<&str> = ds["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["manager"].as_str())
        .collect();
    assert!(managers.contains(&"turnout"), "{managers:?}");

    // Creating it again is a no-op: refused as existing; the object is not
    // written (same resourceVersion), not even once its selection has been
    // reconciled again (a change to the selection makes op-a reconcile it).
    let before = object_json(&cluster, "datasync", &ds_name);
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
    let since = reconciles(28702);
    cluster.ok(&[
        "annotate",
        "vsel",
        "demo-host",
        "-n",
        "default",
        "--overwrite",
        "e2e.turnout.dev/poke=after-refused-create",
    ]);
    assert!(
        reconciled_since(28702, since, 1.0, Duration::from_secs(30)),
        "op-a reconciled the selection again: {}",
        log("op-a")
    );
    let after = object_json(&cluster, "datasync", &ds_name);
    assert_eq!(
        after["metadata"]["resourceVersion"], before["metadata"]["resourceVersion"],
        "the refused create and the reconcile wrote nothing: {after}"
    );
    assert_eq!(
        after["status"], ds["status"],
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
        wait_until(Duration::from_secs(60), || object_json(
            &cluster,
            "datasync",
            "back-to-future"
        )["status"]["phase"]
            == "Succeeded"),
        "{}\n{}",
        object_json(&cluster, "datasync", "back-to-future"),
        log("op-a")
    );
    let back = mariadb("future_users", "SELECT v FROM marks");
    assert!(
        back.lines().any(|l| l.trim() == mark2),
        "dao's data reached future: {back}"
    );
    let waiting = object_json(&cluster, "datasync", "into-running");
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
    let op_b = start_operator(&dir, &sa, "op-b", 28703);
    let waiting = wait_until(Duration::from_secs(30), || {
        log("op-b").contains("waiting for the Lease")
    });
    assert!(waiting, "op-b waits: {}", log("op-b"));
    assert_eq!(
        metric_sum(&http_get(28703, "/metrics"), "turnout_leader"),
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
    // op-b reconciled the selection as leader, and left the host as it was.
    assert!(
        reconciled_since(28703, 0.0, 1.0, Duration::from_secs(30)),
        "op-b reconciled: {}",
        log("op-b")
    );
    assert!(ready_on(&cluster, "demo-host", "dao"));
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
        wait_until(Duration::from_secs(60), || object_json(
            &cluster, "datasync", &ds_name
        )
        .is_null()),
        "the DataSync was garbage-collected with its selection"
    );
    drop(op_b);
}
