//! What the status page tests share: a `turnout standalone` serving the
//! page (stopped when dropped) on a converged demo host, the desired file
//! replaced in one step, the directory their screenshots go to, and
//! strings read from the page.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

/// A host on [`crate::demo_plan`] with future active, reconciled by a
/// `turnout standalone` that serves the page. Dropped: turnout stops, then
/// the plan's containers are removed.
pub struct DemoHost {
    pub dir: PathBuf,
    /// The desired file turnout watches.
    pub file: PathBuf,
    _turnout: Turnout,
    _cleanup: crate::Cleanup,
}

impl DemoHost {
    /// Starts turnout on the demo plan `plan` (ports from `base`), serving
    /// on 127.0.0.1:`listen`, and waits up to `wait` for future to run.
    pub fn on_future(plan: &str, base: u16, listen: u16, wait: Duration) -> DemoHost {
        let cleanup = crate::Cleanup(plan.to_string());
        crate::remove_plan_containers(plan);
        let dir = crate::temp_dir(plan);
        let file = dir.join("desired.yaml");
        write(&file, &crate::demo_plan(plan, base, "future"));
        let turnout = standalone_on(&file, &dir, listen);
        assert!(
            crate::wait_until(wait, || crate::http_get(listen, "/status")
                .contains("\"activeVersion\": \"future\"")),
            "turnout converged on future: {}",
            crate::http_get(listen, "/status")
        );
        DemoHost {
            dir,
            file,
            _turnout: turnout,
            _cleanup: cleanup,
        }
    }
}

/// A `turnout standalone` this test started; killed when dropped.
pub struct Turnout(Child);

impl Drop for Turnout {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `turnout standalone` on `file`, its state and status file in `dir`,
/// serving the page on 127.0.0.1:`listen`, re-listing every 5 s.
pub fn standalone_on(file: &Path, dir: &Path, listen: u16) -> Turnout {
    let child = Command::new(crate::turnout_bin())
        .args(["standalone", "--file"])
        .arg(file)
        .arg("--state-dir")
        .arg(dir.join("state"))
        .arg("--status-file")
        .arg(dir.join("status.json"))
        .args(["--listen", &format!("127.0.0.1:{listen}"), "--resync", "5"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("turnout starts");
    Turnout(child)
}

/// $CARGO_TARGET_DIR/dashboard-artifacts/ (target/ without it), created.
pub fn artifacts() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    );
    let dir = target.join("dashboard-artifacts");
    std::fs::create_dir_all(&dir).expect("artifact dir");
    dir
}

/// Replaces the desired file in one rename, so the watcher never reads
/// half of it.
pub fn write(path: &Path, text: &str) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, text).expect("write desired file");
    std::fs::rename(&tmp, path).expect("replace desired file");
}

/// The strings of a JSON array (a list the page returned); others dropped.
pub fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}
