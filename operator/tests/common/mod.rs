//! Helpers shared by the operator's integration tests: a small two-version
//! plan (from the plan builder every level of tests shares), targets, a
//! reconciler over `MemoryRuntime`, and call filters.
#![allow(dead_code)]

pub mod api_double;
pub mod receiver;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};
use turnout::core::model::{LABEL_MANAGED_BY, LABEL_PLAN, MANAGED_BY};
use turnout::core::{ObservedContainer, ObservedPort, RunState};
use turnout::host::StaticHost;
use turnout::reconcile::{Reconciler, Target};
use turnout::runtime::memory::{Call, MemoryRuntime};
use turnout::secrets::SecretFiles;
use turnout_crds::plan::PortPlanSpec;
use turnout_crds::port::Protocol;
use turnout_crds::selection::VersionSelectionSpec;
#[allow(unused_imports)] // each test binary uses some of the builder
pub use turnout_e2e::plan::{Container, PlanBuilder, Probe, Version, container};

pub const PLAN: &str = "shop";
pub const IMAGES: [&str; 4] = ["db:1", "web:1", "api:1", "worker:1"];

/// The test plan, built so that a test can change one part of it
/// ([`PlanBuilder::edit`]) before using it:
///
/// - infrastructure `db` (db:1) on 5432, volume db-data, stop timeout 30
/// - version `a`: `a-web` (web:1, `httpd -f`) on 8000, stop timeout 3;
///   `a-api` (api:1) on 8001, stop timeout 7
/// - version `b`: `b-web` (web:1) on 8000 (the same port as a-web), stop
///   timeout 5; `b-worker` (worker:1) on 8050, default stop timeout
///
/// Both versions have the range `services` (8000-8099).
pub fn shop() -> PlanBuilder {
    PlanBuilder::new(PLAN)
        .infrastructure(
            container("db", "db:1")
                .port(5432, 5432)
                .volume("db-data", "/var/lib/db")
                .stop_timeout(30),
        )
        .version("a", |v| {
            v.range("services", 8000, 8099)
                .container(
                    container("a-web", "web:1")
                        .command(&["httpd", "-f"])
                        .port_in(8000, 80, "services")
                        .stop_timeout(3),
                )
                .container(
                    container("a-api", "api:1")
                        .port_in(8001, 8080, "services")
                        .stop_timeout(7),
                )
        })
        .version("b", |v| {
            v.range("services", 8000, 8099)
                .container(
                    container("b-web", "web:1")
                        .port_in(8000, 80, "services")
                        .stop_timeout(5),
                )
                .container(container("b-worker", "worker:1").port_in(8050, 9000, "services"))
        })
}

/// The spec of [`shop`] as JSON.
pub fn plan_json() -> Value {
    shop().spec()
}

/// `plan` as the PortPlan object the API server returns (namespace
/// `default`, uid `p-1`).
pub fn plan_object(plan: &PlanBuilder) -> Value {
    let mut object = plan.clone().namespace("default").port_plan();
    object["metadata"]["uid"] = json!("p-1");
    object
}

pub fn parse_plan(v: Value) -> PortPlanSpec {
    serde_json::from_value(v).expect("test plan parses")
}

pub fn selection(active: &str) -> VersionSelectionSpec {
    serde_json::from_value(json!({"planRef": PLAN, "activeVersion": active}))
        .expect("test selection parses")
}

pub fn target_of(plan: Value, active: &str) -> Target {
    Target {
        plan_name: PLAN.to_string(),
        plan: parse_plan(plan),
        selection_name: "sel".to_string(),
        selection: selection(active),
        generation: None,
        owner: None,
        secrets: Default::default(),
        adopt: false,
    }
}

pub fn target(active: &str) -> Target {
    target_of(plan_json(), active)
}

/// A target of `plan` selecting `active`.
pub fn target_for(plan: &PlanBuilder, active: &str) -> Target {
    target_of(plan.spec(), active)
}

/// A fresh directory under the system temp dir, removed when dropped.
pub struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for TempDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn temp_dir(tag: &str) -> TempDir {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "turnout-it-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    TempDir(dir)
}

pub type TestReconciler = Reconciler<MemoryRuntime, StaticHost>;

/// A reconciler over `runtime` with the given host listeners; secrets under `secrets_dir`.
pub fn reconciler_with(
    runtime: &Arc<MemoryRuntime>,
    host: StaticHost,
    secrets_dir: &Path,
) -> TestReconciler {
    Reconciler::new(Arc::clone(runtime), host, SecretFiles::new(secrets_dir))
}

/// A memory runtime holding every image of the test plan.
pub fn runtime_with_images() -> Arc<MemoryRuntime> {
    let rt = Arc::new(MemoryRuntime::new());
    for i in IMAGES {
        rt.add_image(i);
    }
    rt
}

pub fn mutating(calls: &[Call]) -> Vec<Call> {
    calls.iter().filter(|c| c.is_mutating()).cloned().collect()
}

/// The container a call addresses, if it addresses one.
pub fn call_container(c: &Call) -> Option<&str> {
    match c {
        Call::Create(n)
        | Call::Start(n)
        | Call::Stop(n, _)
        | Call::Pause(n)
        | Call::Unpause(n)
        | Call::Remove(n)
        | Call::Rename(n, _)
        | Call::Inspect(n)
        | Call::Logs(n)
        | Call::Exec(n, _) => Some(n),
        Call::List | Call::ImageId(_) | Call::Pull(_) => None,
    }
}

pub fn sorted<T: Ord + Clone>(v: &[T]) -> Vec<T> {
    let mut v = v.to_vec();
    v.sort();
    v
}

/// Calls in a canonical order (`Call` is not `Ord`), for order-insensitive comparison.
pub fn sorted_calls(v: &[Call]) -> Vec<Call> {
    let mut v = v.to_vec();
    v.sort_by_key(|c| format!("{c:?}"));
    v
}

/// A container nobody told turnout about.
pub fn foreign(name: &str, image: &str, state: RunState, host_ports: &[u16]) -> ObservedContainer {
    ObservedContainer {
        image_id: None,
        mounts: Vec::new(),
        id: format!("foreign-{name}"),
        name: name.to_string(),
        image: image.to_string(),
        labels: BTreeMap::new(),
        state,
        ports: host_ports
            .iter()
            .map(|p| ObservedPort {
                host_ip: None,
                host_port: *p,
                container_port: *p,
                protocol: Protocol::Tcp,
            })
            .collect(),
    }
}

/// Labels of a container turnout made for another plan.
pub fn other_plan_labels() -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_MANAGED_BY.to_string(), MANAGED_BY.to_string()),
        (LABEL_PLAN.to_string(), "other-plan".to_string()),
    ])
}

/// Sync options that keep everything under `dir`.
pub fn sync_options(dir: &Path) -> turnout::sync::run::SyncOptions {
    turnout::sync::run::SyncOptions {
        backup: true,
        allow_overwrite_newer: false,
        backup_dir: dir.join("backups"),
        keep_backups: 3,
        state_dir: dir.join("data"),
        timeouts: Default::default(),
        compress: false,
    }
}
