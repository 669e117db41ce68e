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

/// MariaDB, PostgreSQL and Redis as infrastructure (all with the root
/// password from `secret`), and versions future and dao with a web service
/// each.
fn databases(plan: &str, secret: &Path) -> PlanBuilder {
    let server = |image: &DatabaseImage, port: u16| {
        let name = format!("{plan}-{}", image.engine);
        image.container(&name, port, &format!("{name}-data"), "db-root", secret)
    };
    let service = |v: Version, from: u16, port: u16| {
        let name = format!("{plan}-{}-service", v.name());
        v.range("services", from, from + 9).container(
            httpd(&name)
                .port_in(port, 8080, "services")
                .readiness(Probe::http(8080)),
        )
    };
    PlanBuilder::new(plan)
        .infrastructure(server(&MARIADB, 23306))
        .infrastructure(server(&POSTGRES, 25432))
        .infrastructure(server(&REDIS, 26379))
        .version("future", |v| service(v, 23000, 23001))
        .version("dao", |v| service(v, 23010, 23011))
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

    converged(apply(databases(plan, &secret).select("future").yaml()).await);
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

    let a = converged(apply(databases(plan, &secret).select("dao").yaml()).await);
    assert_eq!(a.switch.as_ref().map(|s| s.to.as_str()), Some("dao"));
    let after: Vec<String> = dbs.iter().map(|d| started_at(d)).collect();
    assert_eq!(after, started, "databases were not restarted by the switch");
    assert!(port_answers(23011) && !port_answers(23001));

    // A changed spec recreates MariaDB; its named volume keeps the data.
    let changed = databases(plan, &secret)
        .edit(&dbs[0], |mariadb| mariadb.env("TZ", "UTC"))
        .select("dao")
        .yaml();
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
