//! The stacks the end-to-end tests run, built with [`crate::plan`]: the
//! three-version demo of busybox web servers, the local database images,
//! and the small plans of the data sync tests.

use std::path::Path;

use crate::BUSYBOX;
use crate::plan::{Container, PlanBuilder, Probe, Version, container};

/// A busybox container serving HTTP on container port 8080 (the image's
/// /www).
pub fn httpd(name: &str) -> Container {
    container(name, BUSYBOX).command(&["httpd", "-f", "-p", "8080", "-h", "/www"])
}

/// `c` serving HTTP as [`httpd`] does, but ignoring SIGTERM: stopping it
/// takes its whole stop timeout, then a kill.
pub fn ignoring_sigterm(c: Container) -> Container {
    c.command(&[
        "sh",
        "-c",
        "trap '' TERM; httpd -p 8080 -h /www; while true; do sleep 1; done",
    ])
}

/// `v` with a web service `<plan>-<v>-service` ([`httpd`]) on host port
/// `port`, in the version's range `services`, which is that one port.
pub fn web_service(v: Version, plan: &str, port: u16) -> Version {
    let name = format!("{plan}-{}-service", v.name());
    v.range("services", port, port)
        .container(httpd(&name).port_in(port, 8080, "services"))
}

/// One of the database images scripts/build-images.sh builds.
pub struct DatabaseImage {
    pub image: &'static str,
    pub engine: &'static str,
    /// The variable naming the file the root password is read from.
    pub password_env: &'static str,
    /// Where the server keeps its data.
    pub data_path: &'static str,
    pub port: u16,
    /// How long the server may take to get ready (first start included).
    pub ready_timeout: Option<u32>,
}

pub const MARIADB: DatabaseImage = DatabaseImage {
    image: "turnout/mariadb:demo",
    engine: "mariadb",
    password_env: "MARIADB_ROOT_PASSWORD_FILE",
    data_path: "/var/lib/mysql",
    port: 3306,
    ready_timeout: Some(120),
};

pub const POSTGRES: DatabaseImage = DatabaseImage {
    image: "turnout/postgres:demo",
    engine: "postgres",
    password_env: "POSTGRES_PASSWORD_FILE",
    data_path: "/var/lib/postgresql/data",
    port: 5432,
    ready_timeout: Some(120),
};

pub const REDIS: DatabaseImage = DatabaseImage {
    image: "turnout/redis:demo",
    engine: "redis",
    password_env: "REDIS_PASSWORD_FILE",
    data_path: "/data",
    port: 6379,
    ready_timeout: None,
};

impl DatabaseImage {
    /// A server `name` published on `host_port`, its data in the named
    /// volume `volume`, its root password read from /run/secrets/`secret`,
    /// which the host file `password` fills; ready when the image's
    /// `turnout-ready` says so.
    pub fn container(
        &self,
        name: &str,
        host_port: u16,
        volume: &str,
        secret: &str,
        password: &Path,
    ) -> Container {
        let in_container = format!("/run/secrets/{secret}");
        let ready = Probe::exec(&["turnout-ready"]);
        container(name, self.image)
            .engine(self.engine)
            .env(self.password_env, &in_container)
            .secret_file(secret, &in_container, &password.display().to_string())
            .port(host_port, self.port)
            .volume(volume, self.data_path)
            .readiness(match self.ready_timeout {
                Some(seconds) => ready.timeout(seconds),
                None => ready,
            })
    }
}

/// The plan of the data sync tests: the database server `db`, and versions
/// `(name, port, database)`, each a [`web_service`] on `port` and its data
/// binding `binding`, `database` on `db`. No selection.
pub fn database_plan(
    plan: &str,
    db: Container,
    binding: &str,
    versions: &[(&str, u16, &str)],
) -> PlanBuilder {
    let server = db.name().to_string();
    let mut p = PlanBuilder::new(plan).infrastructure(db);
    for (v, port, database) in versions {
        p = p.version(v, |ver| {
            web_service(ver, plan, *port).database(binding, &server, database)
        });
    }
    p
}

/// A three-version plan of busybox containers on ports from `base`:
/// infrastructure `<p>-db` (base), and versions future/dao/blockchain with two
/// services and a shared service each, on their own ranges (services
/// base+off..+4, shared base+off+5..+9, off 10/20/30). Every container
/// serves HTTP on its port and has a readiness probe. No selection.
pub fn demo(plan: &str, base: u16) -> PlanBuilder {
    let svc = |name: String, port: u16, range: &str| {
        httpd(&format!("{plan}-{name}"))
            .port_in(port, 8080, range)
            .readiness(Probe::http(8080).timeout(20))
            .stop_timeout(3)
    };
    let mut p = PlanBuilder::new(plan).infrastructure(
        httpd(&format!("{plan}-db"))
            .port(base, 8080)
            .readiness(Probe::tcp(8080))
            .stop_timeout(3),
    );
    for (v, off) in [("future", 10), ("dao", 20), ("blockchain", 30)] {
        let b = base + off;
        p = p.version(v, |ver| {
            ver.range("services", b, b + 4)
                .range("shared", b + 5, b + 9)
                .container(svc(format!("{v}-service-1"), b, "services"))
                .container(svc(format!("{v}-service-2"), b + 1, "services"))
                .container(svc(format!("{v}-shared-service"), b + 5, "shared"))
        });
    }
    p
}

/// [`demo`] and the selection `host` of `active`, as YAML.
pub fn demo_plan(plan: &str, base: u16, active: &str) -> String {
    demo(plan, base).select(active).yaml()
}

/// Containers of one version in [`demo_plan`].
pub fn version_containers(plan: &str, v: &str) -> Vec<String> {
    let mut names = vec![
        format!("{plan}-{v}-service-1"),
        format!("{plan}-{v}-service-2"),
        format!("{plan}-{v}-shared-service"),
    ];
    names.sort();
    names
}

/// What runs when `version` of [`demo_plan`] is active: its containers and the infrastructure.
pub fn expected_running(plan: &str, version: &str) -> Vec<String> {
    let mut v = version_containers(plan, version);
    v.push(format!("{plan}-db"));
    v.sort();
    v
}

/// Host ports of one version in [`demo_plan`].
pub fn version_ports(base: u16, v: &str) -> Vec<u16> {
    let off = match v {
        "future" => 10,
        "dao" => 20,
        _ => 30,
    };
    vec![base + off, base + off + 1, base + off + 5]
}
