//! Builders and assertions shared by the integration tests: plans are built
//! in code, starting from a valid plan and adding one fault at a time, so a
//! test can say "this fault, and only this fault, is reported".

#![allow(dead_code)]

pub mod yaml;

use std::net::IpAddr;

use turnout_crds::plan::{
    ContainerSpec, DataBinding, EnvVar, ExecProbe, HttpProbe, PortRange, Probe, PublishedPort,
    SecretFile, SecretSource, TcpProbe, VersionSpec,
};
use turnout_crds::port::{BindAddress, Port, Protocol};
use turnout_crds::selection::{OnDelete, VersionSelectionSpec};
use turnout_crds::validate::{Violation, ViolationKind, validate_plan};
use turnout_crds::{DataSyncSpec, PortPlanSpec};

/// A port number that is known to be 1-65535.
pub fn port(n: u16) -> Port {
    Port::new(n).expect("test ports are 1-65535")
}

pub fn addr(s: &str) -> BindAddress {
    BindAddress(s.parse::<IpAddr>().expect("test bind addresses parse"))
}

/// An empty plan in exclusive mode (the default).
pub fn plan() -> PortPlanSpec {
    PortPlanSpec {
        adopt: false,
        environment: None,
        exclusive_versions: true,
        switch_strategy: Default::default(),
        rollback: None,
        infrastructure: Vec::new(),
        versions: Vec::new(),
        notifications: Vec::new(),
    }
}

/// A container with a valid image and nothing else.
pub fn container(name: &str) -> ContainerSpec {
    ContainerSpec {
        name: name.to_string(),
        image: "example/app:1.0".to_string(),
        command: Vec::new(),
        env: Vec::new(),
        secrets: Vec::new(),
        ports: Vec::new(),
        volumes: Vec::new(),
        binds: Vec::new(),
        adopt: false,
        readiness: None,
        stop_timeout_seconds: None,
        engine: None,
        admin_secret: None,
    }
}

pub fn version(name: &str) -> VersionSpec {
    VersionSpec {
        name: name.to_string(),
        ranges: Vec::new(),
        containers: Vec::new(),
        data: Vec::new(),
    }
}

/// A tcp port published on every address, with no range.
pub fn publish(host: u16, container_port: u16) -> PublishedPort {
    PublishedPort {
        host: port(host),
        container: port(container_port),
        protocol: Protocol::Tcp,
        bind_address: None,
        range: None,
    }
}

pub trait PlanExt {
    fn infra(self, c: ContainerSpec) -> Self;
    fn version(self, v: VersionSpec) -> Self;
    fn non_exclusive(self) -> Self;
}

impl PlanExt for PortPlanSpec {
    fn infra(mut self, c: ContainerSpec) -> Self {
        self.infrastructure.push(c);
        self
    }
    fn version(mut self, v: VersionSpec) -> Self {
        self.versions.push(v);
        self
    }
    fn non_exclusive(mut self) -> Self {
        self.exclusive_versions = false;
        self
    }
}

pub trait VersionExt {
    fn range(self, name: &str, from: u16, to: u16) -> Self;
    fn container(self, c: ContainerSpec) -> Self;
    fn data(self, b: DataBinding) -> Self;
}

impl VersionExt for VersionSpec {
    fn range(mut self, name: &str, from: u16, to: u16) -> Self {
        self.ranges.push(PortRange {
            name: name.to_string(),
            from: port(from),
            to: port(to),
        });
        self
    }
    fn container(mut self, c: ContainerSpec) -> Self {
        self.containers.push(c);
        self
    }
    fn data(mut self, b: DataBinding) -> Self {
        self.data.push(b);
        self
    }
}

pub trait ContainerExt {
    /// Publishes `host` (tcp, every address) as container port `container_port`.
    fn port(self, host: u16, container_port: u16) -> Self;
    /// Publishes `host` in the version range `range`.
    fn port_in(self, host: u16, container_port: u16, range: &str) -> Self;
    fn publish(self, p: PublishedPort) -> Self;
    fn env(self, name: &str, value: &str) -> Self;
    fn engine(self, e: turnout_crds::plan::Engine) -> Self;
    fn secret(self, s: SecretFile) -> Self;
    fn readiness(self, p: Probe) -> Self;
    fn image(self, image: &str) -> Self;
}

impl ContainerExt for ContainerSpec {
    fn port(mut self, host: u16, container_port: u16) -> Self {
        self.ports.push(publish(host, container_port));
        self
    }
    fn port_in(mut self, host: u16, container_port: u16, range: &str) -> Self {
        self.ports
            .push(publish(host, container_port).in_range(range));
        self
    }
    fn publish(mut self, p: PublishedPort) -> Self {
        self.ports.push(p);
        self
    }
    fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push(EnvVar {
            name: name.to_string(),
            value: value.to_string(),
        });
        self
    }
    fn engine(mut self, e: turnout_crds::plan::Engine) -> Self {
        self.engine = Some(e);
        self
    }
    fn secret(mut self, s: SecretFile) -> Self {
        self.secrets.push(s);
        self
    }
    fn readiness(mut self, p: Probe) -> Self {
        self.readiness = Some(p);
        self
    }
    fn image(mut self, image: &str) -> Self {
        self.image = image.to_string();
        self
    }
}

pub trait PortExt {
    fn in_range(self, range: &str) -> Self;
    fn udp(self) -> Self;
    fn bind(self, address: &str) -> Self;
}

impl PortExt for PublishedPort {
    fn in_range(mut self, range: &str) -> Self {
        self.range = Some(range.to_string());
        self
    }
    fn udp(mut self) -> Self {
        self.protocol = Protocol::Udp;
        self
    }
    fn bind(mut self, address: &str) -> Self {
        self.bind_address = Some(addr(address));
        self
    }
}

/// A probe with no kind set; use the helpers below.
pub fn probe() -> Probe {
    Probe {
        tcp: None,
        http: None,
        exec: None,
        period_seconds: None,
        timeout_seconds: None,
    }
}

pub fn tcp_probe(container_port: u16) -> Probe {
    Probe {
        tcp: Some(TcpProbe {
            port: port(container_port),
        }),
        ..probe()
    }
}

pub fn http_probe(container_port: u16, path: &str) -> Probe {
    Probe {
        http: Some(HttpProbe {
            port: port(container_port),
            path: path.to_string(),
        }),
        ..probe()
    }
}

pub fn exec_probe(argv: &[&str]) -> Probe {
    Probe {
        exec: Some(ExecProbe {
            command: argv.iter().map(|s| s.to_string()).collect(),
        }),
        ..probe()
    }
}

/// A secret from an environment variable of the turnout process.
pub fn secret_from_env(name: &str, path: &str, var: &str) -> SecretFile {
    SecretFile {
        name: name.to_string(),
        path: path.to_string(),
        from: SecretSource {
            env: Some(var.to_string()),
            file: None,
            secret_key_ref: None,
        },
    }
}

/// A binding to a database on a (built-in engine) container.
pub fn database(name: &str, container: &str, db: &str) -> DataBinding {
    DataBinding {
        name: name.to_string(),
        container: container.to_string(),
        database: Some(db.to_string()),
        export: None,
        import: None,
    }
}

/// A binding moved by the container's own export/import commands.
pub fn commands(name: &str, container: &str) -> DataBinding {
    DataBinding {
        name: name.to_string(),
        container: container.to_string(),
        database: None,
        export: Some(vec!["/app/bin/data".into(), "export".into()]),
        import: Some(vec!["/app/bin/data".into(), "import".into()]),
    }
}

pub fn selection(plan_ref: &str, active: &str) -> VersionSelectionSpec {
    VersionSelectionSpec {
        plan_ref: plan_ref.to_string(),
        active_version: active.to_string(),
        sync_on_switch: true,
        paused: false,
        on_delete: OnDelete::Keep,
        rollback: None,
        notifications: Vec::new(),
    }
}

pub fn sync(plan_ref: &str, from: &str, to: &str) -> DataSyncSpec {
    DataSyncSpec {
        plan_ref: plan_ref.to_string(),
        from: from.to_string(),
        to: to.to_string(),
        backup: true,
        allow_overwrite_newer: false,
        force: false,
        compress: false,
        source: None,
    }
}

/// The design's host, already fixed: MySQL, Redis and Elasticsearch shared,
/// three versions on their own ranges (blockchain's shared range moved off
/// 9200), each with a service, a shared service and its data.
///
/// Indices: infrastructure 0 test-mysql (3306), 1 test-redis (6379),
/// 2 test-elasticsearch (9200); versions 0 future, 1 dao, 2 blockchain.
pub fn valid_plan() -> PortPlanSpec {
    use turnout_crds::plan::Engine;
    plan()
        .infra(
            container("test-mysql")
                .image("mysql:8.0")
                .engine(Engine::Mysql)
                .env("MYSQL_ROOT_PASSWORD_FILE", "/run/secrets/mysql-root")
                .secret(secret_from_env(
                    "mysql-root",
                    "/run/secrets/mysql-root",
                    "TURNOUT_MYSQL_ROOT_PASSWORD",
                ))
                .port(3306, 3306)
                .readiness(exec_probe(&["mysqladmin", "ping"])),
        )
        .infra(
            container("test-redis")
                .image("redis:7")
                .engine(Engine::Redis)
                .port(6379, 6379)
                .readiness(tcp_probe(6379)),
        )
        .infra(
            container("test-elasticsearch")
                .image("elasticsearch:8.13.4")
                .engine(Engine::Elasticsearch)
                .env("discovery.type", "single-node")
                .port(9200, 9200)
                .readiness(tcp_probe(9200)),
        )
        .version(app_version("future", 8000, 8100))
        .version(app_version("dao", 8200, 8400))
        .version(app_version("blockchain", 9000, 9400))
}

/// A version with a `services` range at `services`..+99 and a `shared`
/// range at `shared`..+99, one service and one shared service, a database
/// binding on test-mysql and a command binding on its shared service.
pub fn app_version(name: &str, services: u16, shared: u16) -> VersionSpec {
    version(name)
        .range("services", services, services + 99)
        .range("shared", shared, shared + 99)
        .container(
            container(&format!("{name}-service-1"))
                .port_in(services + 1, 8080, "services")
                .readiness(http_probe(8080, "/healthz")),
        )
        .container(
            container(&format!("{name}-shared-service"))
                .port_in(shared, 8080, "shared")
                .readiness(http_probe(8080, "/healthz")),
        )
        .data(database("users", "test-mysql", &format!("{name}_users")))
        .data(commands("shared", &format!("{name}-shared-service")))
}

/// Validates and fails with every violation printed when there is one.
pub fn assert_valid(plan: &PortPlanSpec) {
    let found = validate_plan(plan);
    assert!(
        found.is_empty(),
        "expected a valid plan, got {} violation(s):\n{}",
        found.len(),
        describe(&found)
    );
}

/// The kinds found, sorted and deduplicated.
pub fn kinds(found: &[Violation]) -> Vec<ViolationKind> {
    let mut k: Vec<ViolationKind> = found.iter().map(|v| v.kind).collect();
    k.sort();
    k.dedup();
    k
}

/// Asserts that exactly the kinds listed (each at least once) are reported.
pub fn assert_kinds(found: &[Violation], expected: &[ViolationKind]) {
    let mut want = expected.to_vec();
    want.sort();
    want.dedup();
    assert_eq!(
        kinds(found),
        want,
        "unexpected violation kinds:\n{}",
        describe(found)
    );
}

/// The single violation of that kind; fails when there are none or several.
pub fn the_one(found: &[Violation], kind: ViolationKind) -> &Violation {
    let of_kind: Vec<&Violation> = found.iter().filter(|v| v.kind == kind).collect();
    assert_eq!(
        of_kind.len(),
        1,
        "expected exactly one {kind}, got:\n{}",
        describe(found)
    );
    of_kind[0]
}

/// Validates a plan that must break exactly one rule, once, and returns that violation.
pub fn single(plan: &PortPlanSpec, kind: ViolationKind) -> Violation {
    let found = validate_plan(plan);
    assert_eq!(
        found.len(),
        1,
        "expected a single {kind}, got:\n{}",
        describe(&found)
    );
    assert_eq!(found[0].kind, kind, "{}", describe(&found));
    found[0].clone()
}

pub fn describe(found: &[Violation]) -> String {
    found
        .iter()
        .map(|v| {
            format!(
                "  {} at {} subjects={:?} port={:?}: {}",
                v.kind, v.path, v.subjects, v.port, v.message
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether some subject names `name` (subjects may be bare names or
/// descriptions such as "infrastructure container test-mysql").
pub fn names(v: &Violation, name: &str) -> bool {
    v.subjects
        .iter()
        .any(|s| s == name || s.split_whitespace().any(|w| w == name))
}
