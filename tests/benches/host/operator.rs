//! Benchmark 2 under Kubernetes: drift correction by `turnout run` (release
//! build) against a real kube-apiserver (scripts/kube-up.sh), measured
//! exactly as the standalone one ([`crate::standalone::drift_samples`]):
//! an inactive version's container started by hand, the time until it
//! dies read from the engine's own event timestamps.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::runtime::Runtime;
use turnout_e2e::{Cleanup, Selection, demo, demo_plan, remove_plan_containers, wait_until};

use crate::standalone::{bare_stop, drift_samples};
use crate::support::{Events, bench_dir, http_get, write_file};
use crate::switch::{converge, reconciler};

const PLAN: &str = "bench-operator";
const BASE: u16 = 22300;
const LISTEN: u16 = 22399;

/// The repository's root.
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The API server of scripts/kube-up.sh under `run`, stopped when dropped.
struct ApiServer(PathBuf);

impl ApiServer {
    fn up(run: PathBuf) -> ApiServer {
        let out = Command::new("bash")
            .arg(repo().join("scripts/kube-up.sh"))
            .arg(&run)
            .env("TURNOUT_KUBE_API_PORT", "22343")
            .env("TURNOUT_KUBE_ETCD_PORT", "22379")
            .env("TURNOUT_KUBE_ETCD_PEER_PORT", "22380")
            .env("TURNOUT_KUBE_CM_PORT", "22357")
            .output()
            .expect("bash runs scripts/kube-up.sh");
        assert!(
            out.status.success(),
            "scripts/kube-up.sh: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        ApiServer(run)
    }

    fn kubeconfig(&self) -> PathBuf {
        self.0.join("kubeconfig")
    }

    fn kubectl(&self, args: &[&str]) -> String {
        let out = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(self.kubeconfig())
            .args(args)
            .output()
            .expect("kubectl runs");
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(repo().join("scripts/kube-down.sh"))
            .arg(&self.0)
            .output();
    }
}

/// `turnout run`, killed when dropped.
struct Operator(Child);

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn ready_on(api: &ApiServer, version: &str) -> bool {
    let json = api.kubectl(&["get", "vsel", "bench", "-n", "default", "-o", "json"]);
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&json) else {
        return false;
    };
    v["status"]["activeVersion"] == version
        && v["status"]["conditions"].as_array().is_some_and(|c| {
            c.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

pub fn run(rt: &Runtime, bin: &Path, samples: usize) {
    println!("\n== 2 (operator). turnout run (release binary), {samples} drift corrections");
    remove_plan_containers(PLAN);
    let _cleanup = Cleanup(PLAN.to_string());
    let dir = bench_dir(PLAN);
    let api = ApiServer::up(dir.join("kube"));
    let manifests = repo().join("manifests");
    api.kubectl(&["apply", "-f", manifests.to_str().expect("utf-8 path")]);
    api.kubectl(&[
        "wait",
        "--for",
        "condition=established",
        "--timeout=60s",
        "crd/versionselections.turnout.dev",
        "crd/portplans.turnout.dev",
    ]);
    // dao's containers must exist to be started by hand: switch once, then back.
    let r = reconciler(rt, &dir);
    for v in ["dao", "future"] {
        converge(rt, &r, &demo_plan(PLAN, BASE, v));
    }
    let victim = format!("{PLAN}-dao-service-1");
    let events = Events::follow(&victim);
    let (bare_wall, bare_engine) = bare_stop(&victim, &events, 10);

    let yaml = demo(PLAN, BASE)
        .namespace("default")
        .selection(Selection::new("bench", PLAN, "future"))
        .yaml();
    let file = dir.join("selection.yaml");
    write_file(&file, &yaml);
    api.kubectl(&["apply", "-f", file.to_str().expect("utf-8 path")]);
    let log = std::fs::File::create(dir.join("operator.log")).expect("log file");
    let _op = Operator(
        Command::new(bin)
            .args(["run", "--namespace", "default"])
            .args(["--listen", &format!("127.0.0.1:{LISTEN}")])
            .arg("--state-dir")
            .arg(dir.join("state"))
            .arg("--data-dir")
            .arg(dir.join("data"))
            .env("KUBECONFIG", api.kubeconfig())
            .env("POD_NAMESPACE", "default")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("turnout run starts"),
    );
    assert!(
        wait_until(Duration::from_secs(90), || ready_on(&api, "future")),
        "the operator reports Ready on future; see {}",
        dir.join("operator.log").display()
    );
    let metrics = || http_get(LISTEN, "/metrics").unwrap_or_default();
    drift_samples(
        "operator-drift",
        &victim,
        &events,
        samples,
        (&bare_wall, &bare_engine),
        &metrics,
    );
}
