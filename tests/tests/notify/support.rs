//! The turnout process and the status and payload helpers of the
//! notification tests.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;
use turnout_e2e::*;

pub const NODE: &str = "notif-node";

pub struct Turnout(Child);

impl Drop for Turnout {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `turnout standalone` with the sinks' URLs in its environment, its state
/// and data under `dir` and its log in `dir/turnout.log`.
pub fn standalone(dir: &Path, listen: u16, env: &[(&str, String)]) -> Turnout {
    let log = std::fs::File::create(dir.join("turnout.log")).expect("log file");
    let mut cmd = Command::new(turnout_bin());
    cmd.args(["standalone", "--file"])
        .arg(dir.join("desired.yaml"))
        .arg("--state-dir")
        .arg(dir.join("state"))
        // The test's own records of DataSyncs and backups, not the host's.
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--status-file")
        .arg(dir.join("status.json"))
        .args(["--listen", &format!("127.0.0.1:{listen}"), "--resync", "5"])
        .env("NODE_NAME", NODE)
        .stdout(Stdio::null())
        .stderr(Stdio::from(log));
    for (k, v) in env {
        cmd.env(k, v);
    }
    Turnout(cmd.spawn().expect("turnout starts"))
}

pub fn write(path: &PathBuf, text: &str) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, text).expect("write desired file");
    std::fs::rename(&tmp, path).expect("replace desired file");
}

pub fn status_json(dir: &Path) -> Value {
    std::fs::read_to_string(dir.join("status.json"))
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or(Value::Null)
}

pub fn ready(dir: &Path, version: &str) -> bool {
    let s = status_json(dir);
    s["status"]["activeVersion"] == version
        && s["status"]["conditions"].as_array().is_some_and(|c| {
            c.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

/// The demo plan selecting `active`, with `sinks` as the plan's notifications.
pub fn desired(plan: &str, base: u16, active: &str, sinks: Value) -> String {
    demo(plan, base)
        .set("notifications", sinks)
        .select(active)
        .yaml()
}

pub fn events_of<'a>(bodies: &'a [Value], event: &str) -> Vec<&'a Value> {
    bodies.iter().filter(|b| b["event"] == event).collect()
}

pub fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().expect("an object").keys().cloned().collect();
    k.sort();
    k
}

pub fn is_rfc3339(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.parse::<jiff::Timestamp>().is_ok())
}
