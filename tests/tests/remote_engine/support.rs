//! What the remote-engine tests share: the second engine (started with
//! the test's extra dockerd arguments, stopped by a guard), containers on
//! it (removed by a guard, only those the test made), one lock for all of
//! it, and running turnout with a bound on its time.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use turnout_e2e::*;

pub const ENGINE_NAME: &str = "e2e-remote-engine";
pub const SOCKET: &str = "/run/e2e-remote-engine.sock";
const BRIDGE: &str = "e2eremote0";
const SUBNET: &str = "172.31.247.1/24";
/// The second engine's TLS port.
pub const TLS_PORT: u16 = 27510;
/// The test's sshd.
pub const SSH_PORT: u16 = 27520;
/// A port nothing listens on.
pub const CLOSED_PORT: u16 = 27521;
/// Longest any turnout call may take here: well past the connect bound
/// (20 s), short of a hang.
pub const CALL_LIMIT: Duration = Duration::from_secs(60);

/// Fails the test, saying what to install, unless `tool` runs.
pub fn require_tool(tool: &str, install: &str) {
    let found = Command::new("sh")
        .args(["-c", "command -v \"$1\"", "sh", tool])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(found, "this test needs {tool}; install it: {install}");
}

/// One remote-engine test at a time (they share the second engine), held
/// until dropped.
pub fn exclusive() -> std::fs::File {
    let f = std::fs::File::create("/run/e2e-remote-engine.test.lock").expect("lock file");
    f.lock().expect("take the remote-engine test lock");
    f
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the repository")
        .to_path_buf()
}

fn second_engine(args: &[&str], extra: &str) -> Output {
    Command::new("bash")
        .arg(repo().join("scripts/second-engine.sh"))
        .args(args)
        .env("TURNOUT_ENGINE2_NAME", ENGINE_NAME)
        .env("TURNOUT_ENGINE2_BRIDGE", BRIDGE)
        .env("TURNOUT_ENGINE2_SUBNET", SUBNET)
        .env("TURNOUT_ENGINE2_EXTRA_ARGS", extra)
        .output()
        .expect("bash runs scripts/second-engine.sh")
}

/// The second engine, stopped (bridge removed) when dropped.
pub struct SecondEngine;

impl SecondEngine {
    /// Starts it afresh with `extra` dockerd arguments (split on
    /// whitespace), with the busybox image loaded.
    pub fn start(extra: &str) -> SecondEngine {
        require_docker(&[BUSYBOX]);
        // A leftover engine would keep its old arguments: stop it first.
        let _ = second_engine(&["stop"], "");
        let out = second_engine(&["start", BUSYBOX], extra);
        let guard = SecondEngine;
        assert!(
            out.status.success(),
            "scripts/second-engine.sh start (needs root and dockerd): {}",
            output_text(&out)
        );
        guard
    }
}

impl SecondEngine {
    /// Loads `images` from the usual engine into the running second engine.
    pub fn load(&self, images: &[&str]) {
        let mut args = vec!["start"];
        args.extend_from_slice(images);
        let out = second_engine(&args, "");
        assert!(
            out.status.success(),
            "scripts/second-engine.sh start {images:?} (loads the images): {}",
            output_text(&out)
        );
    }
}

impl Drop for SecondEngine {
    fn drop(&mut self) {
        let out = second_engine(&["stop"], "");
        if !out.status.success() {
            eprintln!("scripts/second-engine.sh stop: {}", output_text(&out));
        }
    }
}

/// The docker CLI on the second engine's socket.
pub fn engine2(args: &[&str]) -> Output {
    Command::new("docker")
        .args(["-H", &format!("unix://{SOCKET}")])
        .args(args)
        .output()
        .expect("the docker CLI runs")
}

/// Containers this test made on the second engine, removed when dropped
/// (before the engine stops, so none stays in its data root).
pub struct Containers(pub Vec<String>);

impl Containers {
    /// Runs a busybox container named `name` that sleeps, on the second engine.
    pub fn sleeper(&mut self, name: &str) {
        self.0.push(name.to_string());
        let _ = engine2(&["rm", "-f", name]);
        let out = engine2(&["run", "-d", "--name", name, BUSYBOX, "sleep", "3600"]);
        assert!(
            out.status.success(),
            "docker run on the second engine: {}",
            output_text(&out)
        );
    }
}

impl Drop for Containers {
    fn drop(&mut self) {
        for name in &self.0 {
            let _ = engine2(&["rm", "-f", name]);
        }
    }
}

/// Runs turnout with `args` and `env` (DOCKER_* of this process removed
/// first), killed if it outlives [`CALL_LIMIT`]; returns its output and
/// how long it took.
pub fn turnout(args: &[&str], env: &[(&str, &str)]) -> (Output, Duration) {
    let mut c = Command::new(turnout_bin());
    c.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for var in [
        "DOCKER_HOST",
        "DOCKER_TLS_VERIFY",
        "DOCKER_CERT_PATH",
        "DOCKER_CONTEXT",
    ] {
        c.env_remove(var);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    let started = Instant::now();
    let mut child = c.spawn().expect("turnout runs");
    let ended = wait_until(CALL_LIMIT, || child.try_wait().ok().flatten().is_some());
    if !ended {
        let _ = child.kill();
    }
    let out = child.wait_with_output().expect("turnout ends");
    assert!(
        ended,
        "turnout {args:?} hung (killed after {CALL_LIMIT:?}): {}",
        output_text(&out)
    );
    (out, started.elapsed())
}

/// A plan of one version whose containers are not on any engine (plan
/// shows it would create them).
pub fn write_plan(dir: &Path, plan: &str, base: u16) -> PathBuf {
    let file = dir.join("desired.yaml");
    std::fs::write(&file, demo_plan(plan, base, "future")).expect("write the plan");
    file
}

/// A fresh temporary directory, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        TempDir(temp_dir(tag))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
