//! Support for turnout's end-to-end tests against a real Docker engine.
//!
//! Every test works on its own plan name, container names and host ports,
//! so tests run in parallel; each removes only the containers turnout
//! created for its own plan. A missing engine or image fails the test with
//! a message saying what to run, never a silent pass.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub mod plan;

pub use plan::{Container, PlanBuilder, Probe, Selection, Version, container, to_yaml};

/// The busybox image built by scripts/build-images.sh.
pub const BUSYBOX: &str = "turnout/busybox:demo";

/// Runs the docker CLI; panics with its stderr on failure.
pub fn docker(args: &[&str]) -> String {
    let out = docker_raw(args);
    assert!(
        out.status.success(),
        "docker {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

pub fn docker_raw(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .output()
        .expect("the docker CLI is installed (scripts/ensure-docker.sh installs it)")
}

/// Fails the test unless the engine answers and the images exist.
pub fn require_docker(images: &[&str]) {
    let info = Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output();
    match info {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "these tests need a running Docker engine, and `docker info` failed: {}\nrun scripts/ensure-docker.sh (or `make test`, which does)",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => {
            panic!("these tests need the docker CLI and engine ({e}); run scripts/ensure-docker.sh")
        }
    }
    for image in images {
        let out = docker_raw(&["image", "inspect", image]);
        assert!(
            out.status.success(),
            "image {image} is missing; build it with scripts/build-images.sh (or `make test`, which does)"
        );
    }
}

/// Removes every container turnout created for `plan` (and nothing else).
pub fn remove_plan_containers(plan: &str) {
    let ids = docker(&[
        "ps",
        "-aq",
        "--filter",
        "label=dev.turnout.managed-by=turnout",
        "--filter",
        &format!("label=dev.turnout.plan={plan}"),
    ]);
    for id in ids.split_whitespace() {
        let _ = docker_raw(&["rm", "-f", id]);
    }
}

/// Names of running containers of `plan`.
pub fn running(plan: &str) -> Vec<String> {
    let out = docker(&[
        "ps",
        "--format",
        "{{.Names}}",
        "--filter",
        &format!("label=dev.turnout.plan={plan}"),
    ]);
    let mut names: Vec<String> = out
        .lines()
        .map(str::to_string)
        .filter(|s| !s.is_empty())
        .collect();
    names.sort();
    names
}

/// `State.StartedAt` of a container (changes on every start).
pub fn started_at(name: &str) -> String {
    docker(&["inspect", "-f", "{{.State.StartedAt}}", name])
}

pub fn is_running(name: &str) -> bool {
    docker_raw(&["inspect", "-f", "{{.State.Running}}", name])
        .stdout
        .starts_with(b"true")
}

/// Whether something accepts TCP connections on 127.0.0.1:port.
pub fn port_answers(port: u16) -> bool {
    TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(500)).is_ok()
}

/// Polls `f` until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The turnout binary of this build (cargo builds it with the workspace),
/// or the one `TURNOUT_BIN` names (to run a test against another build).
pub fn turnout_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("TURNOUT_BIN") {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let bin = dir.join("turnout");
    assert!(
        bin.exists(),
        "{} is missing; build it with `cargo build -p turnout`",
        bin.display()
    );
    bin
}

/// A fresh temporary directory for one test.
pub fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("turnout-e2e-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

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

/// Removes the plan's containers when dropped, even if the test panics.
pub struct Cleanup(pub String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        remove_plan_containers(&self.0);
    }
}

/// stdout then stderr of a finished command, for assertion messages.
pub fn output_text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs `turnout ARGS FILE --data-dir DATA --state-dir STATE`.
pub fn turnout_on(args: &[&str], file: &Path, data: &Path, state: &Path) -> Output {
    Command::new(turnout_bin())
        .args(args)
        .arg(file)
        .arg("--data-dir")
        .arg(data)
        .arg("--state-dir")
        .arg(state)
        .output()
        .expect("turnout runs")
}

/// Converges the host on FILE with `turnout apply`; fails the test otherwise.
pub fn apply_file(file: &Path, data: &Path, state: &Path) {
    let out = turnout_on(&["apply"], file, data, state);
    assert!(
        out.status.success(),
        "turnout apply {}: {}",
        file.display(),
        output_text(&out)
    );
}

/// The body of `GET path` on 127.0.0.1:`port` (HTTP/1.0), or "" when
/// nothing answers.
pub fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    if s.write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes())
        .is_err()
    {
        return String::new();
    }
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    text.split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default()
}

/// The sum of a metric's samples in a Prometheus text exposition.
pub fn metric_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
        })
        .filter_map(|l| l.split_whitespace().last()?.parse::<f64>().ok())
        .sum()
}

/// `turnout_reconciles_total` of the turnout serving /metrics on
/// 127.0.0.1:`port` (0 when nothing answers): every reconcile it finished.
pub fn reconciles(port: u16) -> f64 {
    metric_sum(&http_get(port, "/metrics"), "turnout_reconciles_total")
}

/// Waits up to `timeout` until the turnout on `port` has finished at least
/// `more` reconciles after it had finished `since`: the signal that it had
/// its chance to act, where a test asserts that it did nothing.
pub fn reconciled_since(port: u16, since: f64, more: f64, timeout: Duration) -> bool {
    wait_until(timeout, || reconciles(port) >= since + more)
}

/// The backups in a target's backup directory (dumps and service data, not
/// the record of what each holds kept beside it), oldest first.
pub fn backup_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql" || x == "data"))
        .collect();
    v.sort();
    v
}
