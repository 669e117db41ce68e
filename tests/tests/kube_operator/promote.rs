//! A DataSync from another environment under the operator: the source's
//! PortPlan (environment `local`) is in the cluster and its MariaDB runs on
//! another engine (a second dockerd on this machine), reached over TLS
//! with client certificates from a Secret; this host's plan (`test-cloud`)
//! is served by `turnout run`. `kubectl apply` of the DataSync copies the
//! source's database into this host's, verified, with its lineage in the
//! DataSync's status; the key shows nowhere.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use turnout_e2e::*;

use crate::certs;
use crate::cluster::{Cluster, Operator, object_json, ready_on, service_account_kubeconfig};
use crate::support::{SOCKET, SecondEngine, TLS_PORT, engine2, exclusive};

const SOURCE: &str = "e2e-xenv-src";
const TARGET: &str = "e2e-xenv-dst";
const PASSWORD: &str = "xenv-Pw-31";

/// MariaDB `<plan>-mariadb` on `port`, its password from the Secret
/// `xenv-db` (`cluster`) or from the file `secret` (the source host's own
/// `turnout apply`); versions future (`shop_future`) and idle.
fn plan(name: &str, port: u16, env: (&str, &str), secret: Option<&Path>) -> PlanBuilder {
    let db = format!("{name}-mariadb");
    let server = match secret {
        Some(file) => MARIADB.container(&db, port, &format!("{name}-data"), "db-root", file),
        None => container(&db, MARIADB.image)
            .engine("mariadb")
            .env(MARIADB.password_env, "/run/secrets/db-root")
            .secret_key("db-root", "/run/secrets/db-root", "xenv-db", "password")
            .port(port, 3306)
            .volume(&format!("{name}-data"), MARIADB.data_path)
            .readiness(Probe::exec(&["turnout-ready"]).timeout(120)),
    };
    PlanBuilder::new(name)
        .environment(env.0, env.1)
        .infrastructure(server.admin_secret("db-root"))
        .version("future", |v| v.database("shop", &db, "shop_future"))
        .version("idle", |v| v)
}

/// `mariadb -e` in `container` on the second engine (`remote`) or this one.
fn sql(remote: bool, container: &str, statement: &str) -> String {
    let engine = format!("unix://{SOCKET}");
    mariadb_on(remote.then_some(engine.as_str()), container, statement)
}

fn fingerprint(remote: bool, container: &str) -> String {
    sql(
        remote,
        container,
        "SELECT COUNT(*) FROM shop_future.users; CHECKSUM TABLE shop_future.users EXTENDED",
    )
}

/// A Secret `name` in default with `data` (values base64-encoded by kubectl).
fn secret(c: &Cluster, name: &str, from: &[(&str, &Path)]) {
    let mut args = vec![
        "create".to_string(),
        "secret".into(),
        "generic".into(),
        name.into(),
    ];
    for (key, file) in from {
        args.push(format!("--from-file={key}={}", file.display()));
    }
    args.extend(["-n".to_string(), "default".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    c.ok(&args);
}

#[test]
fn a_datasync_from_another_environment_copies_over_tls_with_certificates_from_a_secret() {
    require_docker(&[BUSYBOX, MARIADB.image]);
    let _lock = exclusive();
    let dir = temp_dir(TARGET);
    let tls = certs::make(&dir.join("tls"));
    let engine = SecondEngine::start(&tls.dockerd_args());
    engine.load(&[MARIADB.image]);
    let _remote = RemotePlan(SOURCE);
    let _cleanup = Cleanup(TARGET.to_string());
    remove_plan_containers(TARGET);
    let pw = dir.join("pw");
    std::fs::write(&pw, PASSWORD).expect("password");

    // The source host: its own turnout converged it (on its engine).
    let src_file = dir.join("local.yaml");
    let src = plan(SOURCE, 28960, ("local", "dev"), Some(&pw)).select("idle");
    std::fs::write(&src_file, src.yaml()).expect("plan");
    let out = Command::new(turnout_bin())
        .args(["--engine", &format!("unix://{SOCKET}"), "apply"])
        .arg(&src_file)
        .arg("--state-dir")
        .arg(dir.join("src-state"))
        .arg("--data-dir")
        .arg(dir.join("src-data"))
        .output()
        .expect("turnout runs");
    assert!(out.status.success(), "{}", output_text(&out));
    let src_db = format!("{SOURCE}-mariadb");
    sql(
        true,
        &src_db,
        "DROP DATABASE IF EXISTS shop_future; CREATE DATABASE shop_future; \
         CREATE TABLE shop_future.users (id INT PRIMARY KEY, name VARCHAR(64), note TEXT); \
         USE shop_future; INSERT INTO users SELECT seq, CONCAT('u', seq, ' ü'), REPEAT('n', seq % 50) FROM seq_1_to_20000",
    );

    let cluster = Cluster::up(dir.join("kube"));
    cluster.install_manifests();
    secret(&cluster, "xenv-db", &[("password", &pw)]);
    let client = &tls.client;
    secret(
        &cluster,
        "xenv-engine",
        &[
            ("ca.pem", &client.join("ca.pem")),
            ("cert.pem", &client.join("cert.pem")),
            ("key.pem", &client.join("key.pem")),
        ],
    );
    // Both plans in the cluster; only this host's has a selection here.
    let source_plan = plan(SOURCE, 28960, ("local", "dev"), None).namespace("default");
    cluster.apply(&source_plan.yaml());
    let target = plan(TARGET, 28961, ("test-cloud", "test"), None)
        .namespace("default")
        .selection(Selection::new("xenv", TARGET, "idle").label("turnout.dev/host", "e2e"));
    cluster.apply(&target.yaml());
    let sa = service_account_kubeconfig(&cluster);
    let log_file = dir.join("operator.log");
    let _op = Operator(
        Command::new(turnout_bin())
            .args([
                "run",
                "--namespace",
                "default",
                "--selector",
                "turnout.dev/host=e2e",
            ])
            .args(["--listen", "127.0.0.1:28962", "--state-dir"])
            .arg(dir.join("state"))
            .arg("--data-dir")
            .arg(dir.join("data"))
            .env("KUBECONFIG", &sa)
            .env("POD_NAMESPACE", "turnout-system")
            .env_remove("DOCKER_HOST")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log_file).expect("log file"))
            .spawn()
            .expect("turnout run starts"),
    );
    let log = || std::fs::read_to_string(&log_file).unwrap_or_default();
    assert!(
        wait_until(Duration::from_secs(120), || ready_on(
            &cluster, "xenv", "idle"
        )),
        "Ready on idle: {}\n{}",
        object_json(&cluster, "vsel", "xenv"),
        log()
    );

    let engine_addr = format!("tcp://127.0.0.1:{TLS_PORT}");
    cluster.apply(&format!(
        "apiVersion: turnout.dev/v1alpha1\nkind: DataSync\nmetadata: {{name: from-local, namespace: default}}\n\
         spec: {{planRef: {TARGET}, from: future, to: future, source: {{planRef: {SOURCE}, engine: \"{engine_addr}\", engineSecretRef: xenv-engine}}}}\n"
    ));
    let phase = || object_json(&cluster, "dsync", "from-local")["status"]["phase"].clone();
    assert!(
        wait_until(Duration::from_secs(120), || phase() == "Succeeded"
            || phase() == "Failed"),
        "the DataSync finished: {}\n{}",
        object_json(&cluster, "dsync", "from-local"),
        log()
    );
    let ds = object_json(&cluster, "dsync", "from-local");
    assert_eq!(ds["status"]["phase"], "Succeeded", "{ds:#}\n{}", log());
    let step = &ds["status"]["steps"][0];
    assert_eq!(step["sourceEnvironment"], "local", "{ds:#}");
    assert_eq!(step["sourceEngine"], engine_addr, "{ds:#}");
    assert_eq!(
        fingerprint(false, &format!("{TARGET}-mariadb")),
        fingerprint(true, &src_db),
        "the copy equals the source"
    );
    let key = tls.key_body();
    let events = cluster.ok(&["get", "events", "-n", "default", "-o", "json"]);
    for (what, text) in [
        ("the DataSync", ds.to_string()),
        ("the Events", events),
        ("the operator's log", log()),
    ] {
        assert!(!text.contains(&key), "{what} shows the client key");
    }
}

/// Removes turnout's containers of the source plan from the second engine.
struct RemotePlan(&'static str);

impl Drop for RemotePlan {
    fn drop(&mut self) {
        let filter = format!("label=dev.turnout.plan={}", self.0);
        let managed = "label=dev.turnout.managed-by=turnout";
        let ids = engine2(&["ps", "-aq", "--filter", &filter, "--filter", managed]);
        for id in String::from_utf8_lossy(&ids.stdout).split_whitespace() {
            let _ = engine2(&["rm", "-f", id]);
        }
    }
}
