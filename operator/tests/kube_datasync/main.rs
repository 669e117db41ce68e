//! The Kubernetes driver's DataSyncs and status writes against the suite's
//! HTTP-level API double (`common::api_double`): a switch creates one
//! DataSync owned by its selection (creating it again is a no-op, and a
//! Succeeded one never runs again); the DataSync controller runs only what
//! is its own; a conflicting status write is retried. One module per story:
//!
//! - [`switch`]: the DataSync of a switch: created once, owned by its
//!   selection, never run again once Succeeded, and its failure reported;
//! - [`user`]: the DataSync controller runs only what is its own and has
//!   not finished, reads each afresh, and repairs a lost status write;
//! - [`status`]: status writes retried on conflict, bounded, backing off,
//!   and nothing started once turnout is stopping.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

#[path = "../common/mod.rs"]
mod common;

mod source;
mod status;
mod switch;
mod user;

use std::sync::Arc;

use common::api_double::*;
use common::*;
use serde_json::{Value, json};
use turnout::controller::datasync::{self, KubeSwitchSync};
use turnout::controller::{Context, error_policy, reconcile, reconcile_with_finalizer};
use turnout::host::StaticHost;
use turnout::reconcile::Reconciler;
use turnout::runtime::memory::MemoryRuntime;
use turnout::secrets::SecretFiles;
use turnout_crds::{DataSync, VersionSelection};

/// The plan of `common`, with a service binding in each version (exported
/// and imported by the plan's own commands).
fn plan_object() -> Value {
    let state = |v: Version, web: &str| {
        v.service_data(
            "state",
            web,
            &["cat", "/data/state"],
            &["sh", "-c", "cat > /data/state"],
        )
    };
    common::plan_object(
        &shop()
            .edit_version("a", |v| state(v, "a-web"))
            .edit_version("b", |v| state(v, "b-web")),
    )
}

fn selection(active: &str, generation: i64) -> VersionSelection {
    serde_json::from_value(json!({
        "apiVersion": "turnout.dev/v1alpha1", "kind": "VersionSelection",
        "metadata": {"name": "host", "namespace": "default", "uid": "s-1",
                     "generation": generation, "resourceVersion": "7",
                     "labels": {"turnout.dev/host": "one"}},
        "spec": {"planRef": PLAN, "activeVersion": active}
    }))
    .unwrap()
}

fn context(
    client: kube::Client,
    rt: &Arc<MemoryRuntime>,
    dir: &std::path::Path,
) -> Arc<Context<MemoryRuntime, StaticHost>> {
    let copier = KubeSwitchSync {
        client: client.clone(),
        runtime: rt.clone(),
        options: sync_options(dir),
    };
    let reconciler = Reconciler::new(
        rt.clone(),
        StaticHost::default(),
        SecretFiles::new(dir.join("secrets")),
    )
    .with_sync(Arc::new(copier), dir.join("state"));
    Arc::new(
        Context::new(client, reconciler, sync_options(dir))
            .with_selector(Some("turnout.dev/host=one".into())),
    )
}

/// One DataSync reconcile against an API double answering with `route`:
/// the requests it made, and the engine it ran against.
async fn reconcile_datasync(
    route: Route,
    dir: &std::path::Path,
    ds: DataSync,
) -> (Vec<Seen>, Arc<MemoryRuntime>) {
    let (client, server) = double(route);
    let rt = runtime_with_images();
    let ctx = context(client, &rt, dir);
    datasync::reconcile(Arc::new(ds), ctx.clone())
        .await
        .expect("reconcile");
    drop(ctx);
    (server.await.unwrap(), rt)
}

/// Converges on version a (generation 2), then switches to b (generation 3).
async fn start_on_a_then_switch_to_b(ctx: &Arc<Context<MemoryRuntime, StaticHost>>) {
    reconcile(Arc::new(selection("a", 2)), ctx.clone())
        .await
        .expect("first reconcile");
    reconcile(Arc::new(selection("b", 3)), ctx.clone())
        .await
        .expect("the switch");
}

/// What the API server keeps of a selection's status patch.
fn patched_selection(body: &Value, active: &str) -> Value {
    let mut obj = serde_json::to_value(selection(active, 3)).unwrap();
    obj["status"] = body["status"].clone();
    obj
}

fn user_datasync(owned: bool, status: Value) -> DataSync {
    let mut v = json!({
        "apiVersion": "turnout.dev/v1alpha1", "kind": "DataSync",
        "metadata": {"name": "copy-a-to-b", "namespace": "default", "uid": "d-9", "generation": 2},
        "spec": {"planRef": PLAN, "from": "a", "to": "b"},
        "status": status
    });
    if owned {
        v["metadata"]["ownerReferences"] = json!([{"apiVersion": "turnout.dev/v1alpha1",
            "kind": "VersionSelection", "name": "host", "uid": "s-1", "controller": true}]);
    }
    serde_json::from_value(v).unwrap()
}

/// Whether the host's DataSync records hold anything.
fn store_of_has_runs(dir: &std::path::Path) -> bool {
    !turnout::sync::run::store_of(&sync_options(dir))
        .all()
        .is_empty()
}
