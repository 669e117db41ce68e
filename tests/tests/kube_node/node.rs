//! The test's one-node cluster: scripts/kube-up.sh then
//! scripts/kube-node-up.sh in a directory of its own, torn down
//! (kube-node-down.sh, then kube-down.sh) when dropped, even after a failed
//! assertion; kubectl against it as admin.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use turnout_e2e::*;

/// Prints how far the test got and when (nextest shows it with a failure,
/// and `--no-capture` live): where the minutes go.
pub fn progress(what: &str) {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let t = START.get_or_init(std::time::Instant::now).elapsed();
    eprintln!("[{:>6.1}s] {what}", t.as_secs_f64());
}

/// The node scripts/kube-node-up.sh registers (its kubelet's
/// --hostname-override).
pub const NODE: &str = "localhost";

pub struct Node {
    pub run: PathBuf,
    torn_down: bool,
}

/// The repository's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn script(name: &str, run: &Path) -> Output {
    Command::new("bash")
        .arg(repo().join("scripts").join(name))
        .arg(run)
        .output()
        .unwrap_or_else(|e| panic!("bash runs scripts/{name}: {e}"))
}

impl Node {
    /// The API server, then the node on top of it. Fails the test, with the
    /// scripts' output (which ends with their logs' tails), if either does
    /// not come up; what did start is torn down by the guard.
    pub fn up(run: PathBuf) -> Node {
        std::fs::create_dir_all(&run).expect("create the cluster's directory");
        let node = Node {
            run,
            torn_down: false,
        };
        progress("starting the API server");
        let out = script("kube-up.sh", &node.run);
        assert!(
            out.status.success(),
            "the test API server did not start: scripts/kube-up.sh {} failed (on first use it builds Kubernetes from Debian's source, about 10 minutes):\n{}",
            node.run.display(),
            output_text(&out)
        );
        progress("starting the node");
        let out = script("kube-node-up.sh", &node.run);
        assert!(
            out.status.success(),
            "the one-node cluster did not start: scripts/kube-node-up.sh {} failed (see docs/kube-test-server.md):\n{}",
            node.run.display(),
            output_text(&out)
        );
        progress("the node is up");
        node
    }

    /// kube-node-down.sh then kube-down.sh; the first failure's output.
    pub fn tear_down(&mut self) -> Result<(), String> {
        self.torn_down = true;
        progress("tearing the node down");
        let node = script("kube-node-down.sh", &self.run);
        let api = script("kube-down.sh", &self.run);
        for (name, out) in [("kube-node-down.sh", node), ("kube-down.sh", api)] {
            if !out.status.success() {
                return Err(format!("scripts/{name}: {}", output_text(&out)));
            }
        }
        progress("torn down");
        Ok(())
    }

    /// A KEY=VALUE the scripts wrote into RUN_DIR/env or RUN_DIR/node.env.
    pub fn env(&self, key: &str) -> String {
        ["env", "node.env"]
            .iter()
            .filter_map(|f| std::fs::read_to_string(self.run.join(f)).ok())
            .flat_map(|text| text.lines().map(str::to_string).collect::<Vec<_>>())
            .find_map(|l| l.strip_prefix(&format!("{key}=")).map(str::to_string))
            .unwrap_or_else(|| panic!("{key} in {}/env or node.env", self.run.display()))
    }

    /// kubectl as the cluster's admin.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(self.run.join("kubeconfig"))
            .arg("--request-timeout=30s")
            .args(args)
            .output()
            .expect("kubectl is installed")
    }

    /// kubectl as admin; fails the test unless it succeeds. Its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    /// `kubectl get ARGS -o json`, parsed (null when it fails).
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["get"];
        all.extend(args);
        all.extend(["-o", "json"]);
        serde_json::from_slice(&self.kubectl(&all).stdout).unwrap_or_default()
    }

    /// The kubelet's log so far.
    pub fn kubelet_log(&self) -> String {
        std::fs::read_to_string(self.run.join("kubelet.log")).unwrap_or_default()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if !self.torn_down
            && let Err(e) = self.tear_down()
        {
            eprintln!("tearing down the one-node cluster: {e}");
        }
    }
}
