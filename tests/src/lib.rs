//! Support for turnout's end-to-end tests against a real Docker engine.
//!
//! Every test works on its own plan name, container names and host ports,
//! so tests run in parallel; each removes only the containers turnout
//! created for its own plan. A missing engine or image fails the test with
//! a message saying what to run, never a silent pass.
//!
//! Plans are built, not spelled: [`plan`] is the builder (the operator's
//! own tests use it too), [`stacks`] the plans these tests run. The rest
//! of this file drives the engine, the binary and its HTTP endpoint.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub mod browser;
pub mod handmade;
pub mod page;
pub mod plan;
pub mod second;
pub mod stacks;

pub use plan::{Container, PlanBuilder, Probe, Selection, Version, container, to_yaml};
pub use stacks::*;

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

/// Runs `statement` with the `mariadb` client (root, batch, no column
/// names, utf8mb4) in `container` on `engine` (None: the usual engine);
/// fails the test with the client's output unless it succeeds. Returns
/// stdout, trimmed.
pub fn mariadb_on(engine: Option<&str>, container: &str, statement: &str) -> String {
    let mut c = Command::new("docker");
    if let Some(e) = engine {
        c.args(["-H", e]);
    }
    let out = c
        .args([
            "exec",
            container,
            "mariadb",
            "-uroot",
            "--batch",
            "--skip-column-names",
        ])
        .args(["--default-character-set=utf8mb4", "-e", statement])
        .output()
        .expect("the docker CLI is installed");
    assert!(out.status.success(), "{statement}: {}", output_text(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
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
