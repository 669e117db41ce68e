//! End-to-end with real database servers (MariaDB, PostgreSQL, Redis built
//! by scripts/build-images.sh) as infrastructure: they become ready, keep
//! running across switches, keep their data across recreation, and never
//! show their password in `docker inspect`.

use std::path::Path;
use std::sync::Arc;

use turnout::host::ProcHost;
use turnout::reconcile::{Outcome, Reconciler, Run};
use turnout::runtime::docker::DockerRuntime;
use turnout::secrets::SecretFiles;
use turnout::target::target_of;
use turnout_crds::load::Documents;
use turnout_e2e::*;

const PASSWORD: &str = "e2e-Secret-7f3a9c";

fn plan_yaml(plan: &str, secret: &Path, active: &str, mariadb_extra_env: &str) -> String {
    let secret = secret.display();
    format!(
        r#"apiVersion: turnout.dev/v1alpha1
kind: PortPlan
metadata: {{name: {plan}}}
spec:
  infrastructure:
    - name: {plan}-mariadb
      image: turnout/mariadb:demo
      engine: mariadb
      env:
        - {{name: MARIADB_ROOT_PASSWORD_FILE, value: /run/secrets/db-root}}{mariadb_extra_env}
      secrets: [{{name: db-root, path: /run/secrets/db-root, from: {{file: {secret}}}}}]
      ports: [{{host: 23306, container: 3306}}]
      volumes: [{{name: {plan}-mariadb-data, path: /var/lib/mysql}}]
      readiness: {{exec: {{command: [turnout-ready]}}, timeoutSeconds: 120}}
    - name: {plan}-postgres
      image: turnout/postgres:demo
      engine: postgres
      env: [{{name: POSTGRES_PASSWORD_FILE, value: /run/secrets/db-root}}]
      secrets: [{{name: db-root, path: /run/secrets/db-root, from: {{file: {secret}}}}}]
      ports: [{{host: 25432, container: 5432}}]
      volumes: [{{name: {plan}-postgres-data, path: /var/lib/postgresql/data}}]
      readiness: {{exec: {{command: [turnout-ready]}}, timeoutSeconds: 120}}
    - name: {plan}-redis
      image: turnout/redis:demo
      engine: redis
      env: [{{name: REDIS_PASSWORD_FILE, value: /run/secrets/db-root}}]
      secrets: [{{name: db-root, path: /run/secrets/db-root, from: {{file: {secret}}}}}]
      ports: [{{host: 26379, container: 6379}}]
      volumes: [{{name: {plan}-redis-data, path: /data}}]
      readiness: {{exec: {{command: [turnout-ready]}}}}
  versions:
    - name: future
      ranges: [{{name: services, from: 23000, to: 23009}}]
      containers:
        - {{name: {plan}-future-service, image: "{BUSYBOX}", command: [httpd, -f, -p, "8080", -h, /www], ports: [{{host: 23001, container: 8080, range: services}}], readiness: {{http: {{port: 8080}}}}}}
    - name: dao
      ranges: [{{name: services, from: 23010, to: 23019}}]
      containers:
        - {{name: {plan}-dao-service, image: "{BUSYBOX}", command: [httpd, -f, -p, "8080", -h, /www], ports: [{{host: 23011, container: 8080, range: services}}], readiness: {{http: {{port: 8080}}}}}}
---
apiVersion: turnout.dev/v1alpha1
kind: VersionSelection
metadata: {{name: host}}
spec: {{planRef: {plan}, activeVersion: {active}}}
"#
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn real_databases_stay_up_across_switches_keep_data_and_hide_their_password() {
    require_docker(&[
        BUSYBOX,
        "turnout/mariadb:demo",
        "turnout/postgres:demo",
        "turnout/redis:demo",
    ]);
    let plan = "e2e-db";
    let _cleanup = Cleanup(plan.to_string());
    remove_plan_containers(plan);
    let dir = temp_dir(plan);
    let secret = dir.join("db-password");
    std::fs::write(&secret, PASSWORD).unwrap();
    let rt = DockerRuntime::connect().await.expect("engine");
    let r = Reconciler::new(Arc::new(rt), ProcHost, SecretFiles::new(dir.join("state")));
    let apply = |yaml: String| {
        let docs = Documents::parse(Path::new("db.yaml"), &yaml).unwrap();
        let t = target_of(&docs, "db.yaml").unwrap();
        let r = &r;
        async move { r.reconcile(&t, &Run::default()).await }
    };
    let converged = |o: Outcome| match o {
        Outcome::Applied(a) if a.converged() => a,
        other => panic!("expected converged, got {other:#?}"),
    };

    converged(apply(plan_yaml(plan, &secret, "future", "")).await);
    let dbs = [
        format!("{plan}-mariadb"),
        format!("{plan}-postgres"),
        format!("{plan}-redis"),
    ];
    let started: Vec<String> = dbs.iter().map(|d| started_at(d)).collect();
    for port in [23306, 25432, 26379, 23001] {
        assert!(port_answers(port), "port {port} answers");
    }

    // Data written now must survive a switch and a recreation.
    docker(&[
        "exec",
        &dbs[0],
        "mariadb",
        "-uroot",
        "-e",
        "CREATE DATABASE IF NOT EXISTS e2e_keep",
    ]);

    let a = converged(apply(plan_yaml(plan, &secret, "dao", "")).await);
    assert_eq!(a.switch.as_ref().map(|s| s.to.as_str()), Some("dao"));
    let after: Vec<String> = dbs.iter().map(|d| started_at(d)).collect();
    assert_eq!(after, started, "databases were not restarted by the switch");
    assert!(port_answers(23011) && !port_answers(23001));

    // A changed spec recreates MariaDB; its named volume keeps the data.
    let changed = plan_yaml(plan, &secret, "dao", "\n        - {name: TZ, value: UTC}");
    converged(apply(changed).await);
    assert_ne!(started_at(&dbs[0]), started[0], "mariadb was recreated");
    assert_eq!(started_at(&dbs[1]), started[1], "postgres was left alone");
    let dbs_list = docker(&[
        "exec",
        &dbs[0],
        "mariadb",
        "-uroot",
        "-N",
        "-e",
        "SHOW DATABASES",
    ]);
    assert!(
        dbs_list.lines().any(|l| l == "e2e_keep"),
        "data survived: {dbs_list}"
    );

    // The password appears in no container's inspectable config.
    for d in &dbs {
        let inspect = docker(&["inspect", d]);
        assert!(
            !inspect.contains(PASSWORD),
            "{d}'s docker inspect shows the password"
        );
        let env = docker(&["exec", d, "env"]);
        assert!(
            !env.contains(PASSWORD),
            "{d}'s environment holds the password"
        );
    }
}
