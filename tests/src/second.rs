//! A second Docker engine on this machine (scripts/second-engine.sh), as
//! another host for the tests and benchmarks that need two: its own
//! socket, data root and bridge, named by the caller so two users of the
//! script do not collide.

use std::path::Path;
use std::process::{Command, Output};

use crate::output_text;

/// A running second engine; stopped when dropped, after the containers
/// turnout created there for the plans named with [`SecondEngine::cleaning`]
/// are removed (nothing else on it is touched; its data root, images and
/// volumes are kept for the next start).
pub struct SecondEngine {
    name: String,
    bridge: String,
    subnet: String,
    plans: Vec<String>,
}

impl SecondEngine {
    /// Starts engine `name` on bridge `bridge` (at most 15 characters) with
    /// address `subnet` (e.g. `172.31.246.1/24`), and loads `images` from
    /// the usual engine. Fails the caller with the script's output when it
    /// cannot start (it needs root and dockerd).
    pub fn start(name: &str, bridge: &str, subnet: &str, images: &[&str]) -> SecondEngine {
        let engine = SecondEngine {
            name: name.to_string(),
            bridge: bridge.to_string(),
            subnet: subnet.to_string(),
            plans: Vec::new(),
        };
        let mut args = vec!["start"];
        args.extend_from_slice(images);
        let out = engine.script(&args);
        assert!(
            out.status.success(),
            "scripts/second-engine.sh start (needs root and dockerd): {}",
            output_text(&out)
        );
        engine
    }

    /// Also removes turnout's containers of `plan` from this engine when dropped.
    pub fn cleaning(mut self, plan: &str) -> SecondEngine {
        self.plans.push(plan.to_string());
        self
    }

    /// The engine's address, as `--engine` and `docker -H` take it.
    pub fn address(&self) -> String {
        format!("unix:///run/{}.sock", self.name)
    }

    /// `docker -H ADDRESS ARGS`.
    pub fn docker(&self, args: &[&str]) -> Output {
        Command::new("docker")
            .args(["-H", &self.address()])
            .args(args)
            .output()
            .expect("the docker CLI is installed")
    }

    /// Removes the containers turnout created for `plan` on this engine.
    pub fn remove_plan(&self, plan: &str) {
        let filter = format!("label=dev.turnout.plan={plan}");
        let managed = "label=dev.turnout.managed-by=turnout";
        let ids = self.docker(&["ps", "-aq", "--filter", managed, "--filter", &filter]);
        for id in String::from_utf8_lossy(&ids.stdout).split_whitespace() {
            let _ = self.docker(&["rm", "-f", id]);
        }
    }

    fn script(&self, args: &[&str]) -> Output {
        Command::new("bash")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/second-engine.sh"))
            .args(args)
            .env("TURNOUT_ENGINE2_NAME", &self.name)
            .env("TURNOUT_ENGINE2_BRIDGE", &self.bridge)
            .env("TURNOUT_ENGINE2_SUBNET", &self.subnet)
            .output()
            .expect("bash runs scripts/second-engine.sh")
    }
}

impl Drop for SecondEngine {
    fn drop(&mut self) {
        for plan in &self.plans {
            self.remove_plan(plan);
        }
        let out = self.script(&["stop"]);
        if !out.status.success() {
            eprintln!("scripts/second-engine.sh stop: {}", output_text(&out));
        }
    }
}
